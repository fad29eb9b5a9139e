/*
 * Password file parsing, hash verification and the failed-login throttle; see auth.h.
 *
 * Compatibility with Mosquitto 2.0 (src/password_mosq.c, src/security_default.c): the same
 * line syntax, the same two hash formats with base64 as OpenSSL writes it (no line breaks),
 * and the same answer for a username that is not in the file (refused).
 */
#include "auth.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/sha512.h>

#include "buf.h"
#include "conf.h"
#include "tern/err.h"

#define AUTH_MAX_FILE (64u * 1024u * 1024u)
#define AUTH_MAX_ITERATIONS 10000000u


/* ---- hashes ---- */

static int compute(uint8_t kind, uint32_t iterations, const uint8_t *salt, size_t salt_len,
                   const uint8_t *pw, size_t pw_len, uint8_t out[AUTH_HASH_LEN])
{
    if (kind == AUTH_SHA512) {
        mbedtls_sha512_context sha;
        mbedtls_sha512_init(&sha);
        int rc = mbedtls_sha512_starts_ret(&sha, 0);
        if (rc == 0)
            rc = mbedtls_sha512_update_ret(&sha, pw, pw_len);
        if (rc == 0)
            rc = mbedtls_sha512_update_ret(&sha, salt, salt_len);
        if (rc == 0)
            rc = mbedtls_sha512_finish_ret(&sha, out);
        mbedtls_sha512_free(&sha);
        return rc == 0 ? TERN_OK : TERN_EINVAL;
    }
    mbedtls_md_context_t md;
    mbedtls_md_init(&md);
    int rc = mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA512), 1);
    if (rc == 0)
        rc = mbedtls_pkcs5_pbkdf2_hmac(&md, pw, pw_len, salt, salt_len, iterations,
                                       AUTH_HASH_LEN, out);
    mbedtls_md_free(&md);
    return rc == 0 ? TERN_OK : TERN_EINVAL;
}

static bool equal_ct(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (uint8_t)(a[i] ^ b[i]);
    return d == 0;
}

/* Decodes base64 s[0..len) into out[0..cap); returns the byte count or -1. */
static long b64_decode(const char *s, size_t len, uint8_t *out, size_t cap)
{
    size_t olen = 0;
    if (len == 0 || mbedtls_base64_decode(out, cap, &olen, (const unsigned char *)s, len) != 0)
        return -1;
    return (long)olen;
}

/* Parses "$6$SALT$HASH" or "$7$ITER$SALT$HASH" into u. Returns NULL or a reason. */
static const char *parse_hash(const char *h, struct auth_user *u)
{
    const char *salt;
    if (strncmp(h, "$6$", 3) == 0) {
        u->kind = AUTH_SHA512;
        u->iterations = 0;
        salt = h + 3;
    } else if (strncmp(h, "$7$", 3) == 0) {
        char *end;
        errno = 0;
        unsigned long it = strtoul(h + 3, &end, 10);
        if (end == h + 3 || *end != '$' || errno != 0 || it == 0 || it > AUTH_MAX_ITERATIONS)
            return "bad iteration count in $7$ hash";
        u->kind = AUTH_PBKDF2_SHA512;
        u->iterations = (uint32_t)it;
        salt = end + 1;
    } else {
        return "password is not a $6$ or $7$ hash (plain text? run tern_passwd -U on the file)";
    }
    const char *dollar = strchr(salt, '$');
    if (dollar == NULL)
        return "hash has no salt separator";
    long sl = b64_decode(salt, (size_t)(dollar - salt), u->salt, sizeof u->salt);
    if (sl <= 0)
        return "salt is not valid base64";
    u->salt_len = (size_t)sl;
    uint8_t hash[AUTH_HASH_LEN + 8];
    if (b64_decode(dollar + 1, strlen(dollar + 1), hash, sizeof hash) != AUTH_HASH_LEN)
        return "hash is not 64 bytes of base64";
    memcpy(u->hash, hash, AUTH_HASH_LEN);
    return NULL;
}

bool auth_is_hash(const char *s)
{
    struct auth_user u;
    return parse_hash(s, &u) == NULL;
}

int auth_encode_hash(enum auth_kind kind, uint32_t iterations, const uint8_t *salt,
                     size_t salt_len, const uint8_t *password, size_t password_len, char *out,
                     size_t outlen)
{
    uint8_t hash[AUTH_HASH_LEN];
    unsigned char salt64[AUTH_SALT_MAX * 2];
    unsigned char hash64[AUTH_HASH_LEN * 2];
    size_t sl = 0;
    size_t hl = 0;
    if (salt_len == 0 || salt_len > AUTH_SALT_MAX ||
        (kind == AUTH_PBKDF2_SHA512 && iterations == 0) ||
        compute((uint8_t)kind, iterations, salt, salt_len, password, password_len, hash) !=
            TERN_OK ||
        mbedtls_base64_encode(salt64, sizeof salt64, &sl, salt, salt_len) != 0 ||
        mbedtls_base64_encode(hash64, sizeof hash64, &hl, hash, sizeof hash) != 0)
        return TERN_EINVAL;
    int n;
    if (kind == AUTH_PBKDF2_SHA512)
        n = snprintf(out, outlen, "$7$%u$%s$%s", (unsigned)iterations, salt64, hash64);
    else
        n = snprintf(out, outlen, "$6$%s$%s", salt64, hash64);
    return n > 0 && (size_t)n < outlen ? TERN_OK : TERN_EINVAL;
}

/* ---- the file ---- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static int cmp_users(const void *pa, const void *pb)
{
    const struct auth_user *a = pa;
    const struct auth_user *b = pb;
    int c = strcmp(a->name, b->name);
    if (c != 0)
        return c;
    return a->line < b->line ? -1 : a->line > b->line;
}

/* Sorts by name and keeps the last line of each name. */
static void sort_dedupe(struct auth_file *a)
{
    if (a->n_users == 0)
        return;
    qsort(a->users, a->n_users, sizeof *a->users, cmp_users);
    size_t out = 0;
    for (size_t i = 0; i < a->n_users; i++) {
        if (i + 1 < a->n_users && strcmp(a->users[i].name, a->users[i + 1].name) == 0) {
            mem_free(a->mem, a->users[i].name);
            continue;
        }
        a->users[out++] = a->users[i];
    }
    a->n_users = out;
}

static int add_line(struct auth_file *a, size_t *cap, char *line, const char *name,
                    unsigned long lineno, char *err, size_t errlen)
{
    if (line[0] == '#' || strchr(line, ':') == NULL)
        return TERN_OK;
    char *colon = strchr(line, ':');
    *colon = '\0';
    char *user = trim(line);
    char *hash = trim(colon + 1);
    if (*user == '\0')
        return conf_errorf(err, errlen, name, lineno, "empty username");
    if (strlen(user) > 65535)
        return conf_errorf(err, errlen, name, lineno, "username longer than 65535 bytes");
    struct auth_user u;
    memset(&u, 0, sizeof u);
    const char *why = parse_hash(hash, &u);
    if (why != NULL)
        return conf_errorf(err, errlen, name, lineno, "user '%.64s': %s", user, why);
    if (a->n_users == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct auth_user *grown = mem_realloc(a->mem, a->users, ncap * sizeof *grown);
        if (grown == NULL)
            return TERN_ENOMEM;
        a->users = grown;
        *cap = ncap;
    }
    u.name = mem_strndup(a->mem, user, strlen(user));
    if (u.name == NULL)
        return TERN_ENOMEM;
    u.line = (uint32_t)lineno;
    a->users[a->n_users++] = u;
    return TERN_OK;
}

struct add_ctx {
    struct auth_file *a;
    size_t *cap;
    const char *name;
    char *err;
    size_t errlen;
};

static int add_one(void *ctx, char *line, unsigned long lineno)
{
    struct add_ctx *c = ctx;
    return add_line(c->a, c->cap, line, c->name, lineno, c->err, c->errlen);
}

int auth_load_string(struct auth_file *a, struct mem *m, const char *name, const char *text,
                     size_t len, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->mem = m;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    size_t cap = 0;
    struct add_ctx ac = {a, &cap, name, err, errlen};
    int rc = conf_foreach_line(m, name, text, len, add_one, &ac, err, errlen);
    if (rc != TERN_OK) {
        auth_cleanup(a);
        a->mem = m;
        return rc;
    }
    sort_dedupe(a);
    return TERN_OK;
}

int auth_load_file(struct auth_file *a, struct mem *m, const char *path, char *err,
                   size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->mem = m;
    char *text;
    size_t len;
    int rc = buf_read_file(m, path, AUTH_MAX_FILE, &text, &len, err, errlen);
    if (rc == TERN_OK)
        rc = auth_load_string(a, m, path, text, len, err, errlen);
    mem_free(m, text);
    return rc;
}

void auth_cleanup(struct auth_file *a)
{
    for (size_t i = 0; i < a->n_users; i++)
        mem_free(a->mem, a->users[i].name);
    mem_free(a->mem, a->users);
    a->users = NULL;
    a->n_users = 0;
}

static const struct auth_user *find(const struct auth_file *a, const uint8_t *user, size_t len)
{
    size_t lo = 0;
    size_t hi = a->n_users;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *name = a->users[mid].name;
        size_t nl = strlen(name);
        int c = memcmp(name, user, nl < len ? nl : len);
        if (c == 0)
            c = nl < len ? -1 : nl > len;
        if (c == 0)
            return &a->users[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int auth_check(const struct auth_file *a, const uint8_t *user, size_t user_len,
               const uint8_t *password, size_t password_len)
{
    const struct auth_user *u = find(a, user, user_len);
    if (u == NULL)
        return TERN_ENOTFOUND;
    uint8_t got[AUTH_HASH_LEN];
    if (compute(u->kind, u->iterations, u->salt, u->salt_len, password, password_len, got) !=
        TERN_OK)
        return TERN_EPROTO;
    return equal_ct(got, u->hash, AUTH_HASH_LEN) ? TERN_OK : TERN_EPROTO;
}

/* ---- throttle ---- */

void auth_throttle_init(struct auth_throttle *t)
{
    memset(t, 0, sizeof *t);
}

static struct auth_throttle_slot *slot_find(const struct auth_throttle *t, const char *addr)
{
    for (size_t i = 0; i < AUTH_THROTTLE_SLOTS; i++) {
        if (t->slot[i].addr[0] != '\0' && strcmp(t->slot[i].addr, addr) == 0)
            return (struct auth_throttle_slot *)&t->slot[i];
    }
    return NULL;
}

uint64_t auth_throttle_blocked(const struct auth_throttle *t, const char *addr, uint64_t now)
{
    const struct auth_throttle_slot *s = slot_find(t, addr);
    if (s == NULL || s->blocked_until <= now)
        return 0;
    return s->blocked_until - now;
}

uint32_t auth_throttle_fail(struct auth_throttle *t, const char *addr, uint64_t now,
                            uint64_t *block_ms)
{
    struct auth_throttle_slot *s = slot_find(t, addr);
    *block_ms = 0;
    if (s != NULL && now - s->last_ms > AUTH_FORGET_MS)
        s->fails = 0;
    if (s == NULL) {
        /* A free slot, else the one whose last failure is oldest. */
        s = &t->slot[0];
        for (size_t i = 0; i < AUTH_THROTTLE_SLOTS && s->addr[0] != '\0'; i++) {
            struct auth_throttle_slot *c = &t->slot[i];
            if (c->addr[0] == '\0' || c->last_ms < s->last_ms)
                s = c;
        }
        memset(s, 0, sizeof *s);
        snprintf(s->addr, sizeof s->addr, "%s", addr);
    }
    s->fails++;
    s->last_ms = now;
    if (s->fails >= AUTH_FAILS_FREE) {
        uint32_t shift = s->fails - AUTH_FAILS_FREE;
        uint64_t ms = shift >= 16 ? AUTH_BLOCK_MAX_MS : (uint64_t)AUTH_BLOCK_BASE_MS << shift;
        if (ms > AUTH_BLOCK_MAX_MS)
            ms = AUTH_BLOCK_MAX_MS;
        s->blocked_until = now + ms;
        *block_ms = ms;
    }
    return s->fails;
}

void auth_throttle_ok(struct auth_throttle *t, const char *addr)
{
    struct auth_throttle_slot *s = slot_find(t, addr);
    if (s != NULL)
        memset(s, 0, sizeof *s);
}
