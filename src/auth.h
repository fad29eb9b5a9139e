/*
 * Password authentication: Mosquitto's password file, its hashes, and the failed-login
 * throttle.
 *
 * A password file holds one "USERNAME:HASH" per line, as mosquitto_passwd writes it:
 *   $7$ITERATIONS$SALT$HASH  PBKDF2-HMAC-SHA512 (mosquitto_passwd's default since 2.0)
 *   $6$SALT$HASH             SHA512(password || salt) (Mosquitto 1.6 and earlier)
 * SALT and HASH are standard base64; HASH is 64 bytes. Lines starting with '#' and lines
 * without ':' are skipped, as Mosquitto does; blanks around the username and the hash are
 * trimmed. A line with a plain-text password or an undecodable hash is an error
 * "FILE:LINE: reason", so a file is either used whole or not at all. A username given twice
 * keeps its last line. Hashes are computed with mbedTLS; comparisons take constant time.
 *
 * The throttle (MQTT 3.1.1 section 5.4.2 leaves brute-force protection to the server):
 * failed logins are counted per client address; from AUTH_FAILS_FREE consecutive failures on,
 * the address is refused without a password check for a period that doubles with every
 * further failure (1 s, 2 s, 4 s ... capped at AUTH_BLOCK_MAX_MS). A successful login or ten
 * quiet minutes forget the address. The table is bounded (AUTH_THROTTLE_SLOTS addresses; the
 * least recently failed one is replaced).
 */
#ifndef TERN_AUTH_H
#define TERN_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem.h"

#define AUTH_HASH_LEN 64            /* SHA-512 output */
#define AUTH_SALT_MAX 64
#define AUTH_PBKDF2_ITERATIONS 101  /* mosquitto_passwd 2.0's default */
#define AUTH_SALT_LEN 12            /* mosquitto_passwd's salt size */

enum auth_kind {
    AUTH_SHA512 = 6,
    AUTH_PBKDF2_SHA512 = 7,
};

struct auth_user {
    char *name;                     /* owned, NUL-terminated */
    uint32_t line;                  /* line it came from (later lines win) */
    uint8_t kind;                   /* enum auth_kind */
    uint32_t iterations;            /* PBKDF2 only */
    uint8_t salt[AUTH_SALT_MAX];
    size_t salt_len;
    uint8_t hash[AUTH_HASH_LEN];
};

/* A loaded password file: users sorted by name. Caller-owned storage; auth_cleanup frees. */
struct auth_file {
    struct mem *mem;                /* borrowed */
    struct auth_user *users;
    size_t n_users;
};

/*
 * Parses text (a password file's contents) into a (fresh or cleaned-up) a. Returns TERN_OK,
 * TERN_ECONF with "NAME:LINE: reason" in err, or TERN_ENOMEM. On failure a is left empty.
 */
int auth_load_string(struct auth_file *a, struct mem *m, const char *name, const char *text,
                     size_t len, char *err, size_t errlen);
/* The same for a file; "PATH: cannot open: reason" when it cannot be read. */
int auth_load_file(struct auth_file *a, struct mem *m, const char *path, char *err,
                   size_t errlen);
void auth_cleanup(struct auth_file *a);

/*
 * Checks a username and password. Returns TERN_OK when the user exists and the password
 * matches, TERN_ENOTFOUND for an unknown user, TERN_EPROTO for a wrong password.
 */
int auth_check(const struct auth_file *a, const uint8_t *user, size_t user_len,
               const uint8_t *password, size_t password_len);

/*
 * Encodes a password line's hash part for the given salt: "$7$ITER$SALT$HASH" for
 * AUTH_PBKDF2_SHA512, "$6$SALT$HASH" for AUTH_SHA512, NUL-terminated into out. Returns TERN_OK
 * or TERN_EINVAL (out too small: 256 bytes are always enough).
 */
int auth_encode_hash(enum auth_kind kind, uint32_t iterations, const uint8_t *salt,
                     size_t salt_len, const uint8_t *password, size_t password_len, char *out,
                     size_t outlen);

/* True when s (one password-file hash field) is a hash Tern can read. */
bool auth_is_hash(const char *s);

/* ---- failed-login throttle ---- */

#define AUTH_THROTTLE_SLOTS 256
#define AUTH_FAILS_FREE 5
#define AUTH_BLOCK_BASE_MS 1000u
#define AUTH_BLOCK_MAX_MS 60000u
#define AUTH_FORGET_MS (10u * 60u * 1000u)

struct auth_throttle_slot {
    char addr[48];                  /* client address without port; "" = free */
    uint32_t fails;
    uint64_t last_ms;
    uint64_t blocked_until;
};

struct auth_throttle {
    struct auth_throttle_slot slot[AUTH_THROTTLE_SLOTS];
};

void auth_throttle_init(struct auth_throttle *t);
/* Returns the ms addr stays blocked for at now, 0 when it may try a password. */
uint64_t auth_throttle_blocked(const struct auth_throttle *t, const char *addr, uint64_t now);
/* Counts a failed login of addr. Returns the consecutive failures counted so far and sets
 * *block_ms to the block that starts now (0 when none). */
uint32_t auth_throttle_fail(struct auth_throttle *t, const char *addr, uint64_t now,
                            uint64_t *block_ms);
/* Forgets addr after a successful login. */
void auth_throttle_ok(struct auth_throttle *t, const char *addr);

#endif
