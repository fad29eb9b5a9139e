/*
 * tern_passwd: manages password files in Mosquitto's format, with mosquitto_passwd's command
 * line, so files move between Tern and Mosquitto in both directions.
 *
 *   tern_passwd [-H sha512 | -H sha512-pbkdf2] [-c | -D] FILE USERNAME   (asks for the password)
 *   tern_passwd [-H sha512 | -H sha512-pbkdf2] [-c] -b FILE USERNAME PASSWORD
 *   tern_passwd -U FILE                      (hashes every plain-text password in FILE)
 *
 * -c creates (or overwrites) FILE; -D deletes USERNAME; -b takes the password from the command
 * line. Hashes are $7$ (PBKDF2-HMAC-SHA512, 101 iterations, 12-byte random salt), or $6$ with
 * -H sha512, exactly as mosquitto_passwd 2.0 writes them (auth.c computes both). The file is
 * rewritten through FILE.tmp and rename(2), keeping the old file's mode and owner; a new file
 * is created with mode 0600. -U leaves lines that already hold a hash alone, so running it twice
 * is harmless. Exit status 0 on success, 1 on any error (with a message on stderr).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

#include "auth.h"
#include "tern/err.h"

#define MAX_PASSWORD 65535

struct lines {
    char **v;
    size_t n;
    size_t cap;
};

static void usage(void)
{
    fprintf(stderr,
            "tern_passwd manages password files for Tern (and Mosquitto).\n\n"
            "Usage: tern_passwd [-H sha512 | -H sha512-pbkdf2] [-c | -D] passwordfile username\n"
            "       tern_passwd [-H sha512 | -H sha512-pbkdf2] [-c] -b passwordfile username "
            "password\n"
            "       tern_passwd -U passwordfile\n"
            " -b : batch mode: the password is given on the command line.\n"
            " -c : create a new password file, overwriting an existing one.\n"
            " -D : delete the username rather than adding or updating its password.\n"
            " -H : the hash: sha512-pbkdf2 ($7$, the default) or sha512 ($6$, Mosquitto 1.6).\n"
            " -U : hash every plain-text password in the file.\n");
}

static int push(struct lines *l, char *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        char **v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return 0;
}

static int read_lines(const char *path, struct lines *l)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "tern_passwd: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        char *copy = strdup(line);
        if (copy == NULL || push(l, copy) != 0) {
            free(copy);
            free(line);
            fclose(f);
            fprintf(stderr, "tern_passwd: out of memory\n");
            return -1;
        }
    }
    free(line);
    fclose(f);
    return 0;
}

/* Writes the lines to path via path.tmp, keeping the mode and owner of an existing file. */
static int write_lines(const char *path, const struct lines *l)
{
    struct stat st;
    bool existed = stat(path, &st) == 0;
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        fprintf(stderr, "tern_passwd: path too long\n");
        return -1;
    }
    mode_t old = umask(077);
    FILE *f = fopen(tmp, "w");
    umask(old);
    if (f == NULL) {
        fprintf(stderr, "tern_passwd: cannot create %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < l->n; i++)
        fprintf(f, "%s\n", l->v[i]);
    if (existed) {
        if (fchmod(fileno(f), st.st_mode & 07777) != 0 ||
            (fchown(fileno(f), st.st_uid, st.st_gid) != 0 && geteuid() == 0)) {
            fprintf(stderr, "tern_passwd: cannot keep the mode/owner of %s: %s\n", path,
                    strerror(errno));
        }
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || ferror(f)) {
        fprintf(stderr, "tern_passwd: cannot write %s: %s\n", tmp, strerror(errno));
        fclose(f);
        unlink(tmp);
        return -1;
    }
    fclose(f);
    if (rename(tmp, path) != 0) {
        fprintf(stderr, "tern_passwd: cannot replace %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

struct rng {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
};

static int rng_init(struct rng *r)
{
    mbedtls_entropy_init(&r->entropy);
    mbedtls_ctr_drbg_init(&r->drbg);
    static const unsigned char pers[] = "tern_passwd";
    return mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy, pers,
                                 sizeof pers - 1);
}

static void rng_free(struct rng *r)
{
    mbedtls_ctr_drbg_free(&r->drbg);
    mbedtls_entropy_free(&r->entropy);
}

/* Builds "user:HASH" for password into a new string. */
static char *make_line(struct rng *r, enum auth_kind kind, const char *user, const char *pw)
{
    uint8_t salt[AUTH_SALT_LEN];
    char hash[256];
    if (mbedtls_ctr_drbg_random(&r->drbg, salt, sizeof salt) != 0 ||
        auth_encode_hash(kind, AUTH_PBKDF2_ITERATIONS, salt, sizeof salt,
                         (const uint8_t *)pw, strlen(pw), hash, sizeof hash) != TERN_OK) {
        fprintf(stderr, "tern_passwd: cannot compute the hash\n");
        return NULL;
    }
    size_t n = strlen(user) + 1 + strlen(hash) + 1;
    char *line = malloc(n);
    if (line != NULL)
        snprintf(line, n, "%s:%s", user, hash);
    return line;
}

/* Reads a password from the terminal without echo (or a line from stdin when not a tty). */
static int read_password(const char *prompt, char *out, size_t cap)
{
    bool tty = isatty(STDIN_FILENO);
    struct termios saved;
    if (tty) {
        struct termios t;
        fprintf(stderr, "%s", prompt);
        fflush(stderr);
        tcgetattr(STDIN_FILENO, &saved);
        t = saved;
        t.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
    }
    char *got = fgets(out, (int)cap, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        fprintf(stderr, "\n");
    }
    if (got == NULL)
        return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static bool line_is_user(const char *line, const char *user)
{
    size_t n = strlen(user);
    return strncmp(line, user, n) == 0 && line[n] == ':';
}

static int set_user(struct lines *l, struct rng *r, enum auth_kind kind, const char *user,
                    const char *pw)
{
    char *line = make_line(r, kind, user, pw);
    if (line == NULL)
        return -1;
    for (size_t i = 0; i < l->n; i++) {
        if (line_is_user(l->v[i], user)) {
            free(l->v[i]);
            l->v[i] = line;
            return 0;
        }
    }
    if (push(l, line) != 0) {
        free(line);
        return -1;
    }
    return 0;
}

static int delete_user(struct lines *l, const char *user)
{
    size_t out = 0;
    bool found = false;
    for (size_t i = 0; i < l->n; i++) {
        if (line_is_user(l->v[i], user)) {
            free(l->v[i]);
            found = true;
            continue;
        }
        l->v[out++] = l->v[i];
    }
    l->n = out;
    if (!found)
        fprintf(stderr, "tern_passwd: user %s not found\n", user);
    return found ? 0 : -1;
}

static int upgrade(struct lines *l, struct rng *r, enum auth_kind kind)
{
    for (size_t i = 0; i < l->n; i++) {
        char *colon = strchr(l->v[i], ':');
        if (l->v[i][0] == '#' || colon == NULL || auth_is_hash(colon + 1))
            continue;
        *colon = '\0';
        char *line = make_line(r, kind, l->v[i], colon + 1);
        if (line == NULL)
            return -1;
        free(l->v[i]);
        l->v[i] = line;
    }
    return 0;
}

static bool valid_username(const char *u)
{
    if (*u == '\0' || strchr(u, ':') != NULL || strlen(u) > 65535) {
        fprintf(stderr, "tern_passwd: invalid username '%s' (empty, too long, or has ':')\n", u);
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    bool create = false;
    bool batch = false;
    bool del = false;
    bool upg = false;
    enum auth_kind kind = AUTH_PBKDF2_SHA512;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-c") == 0) {
            create = true;
        } else if (strcmp(a, "-b") == 0) {
            batch = true;
        } else if (strcmp(a, "-D") == 0) {
            del = true;
        } else if (strcmp(a, "-U") == 0) {
            upg = true;
        } else if (strcmp(a, "-H") == 0 && i + 1 < argc) {
            const char *h = argv[++i];
            if (strcmp(h, "sha512") == 0) {
                kind = AUTH_SHA512;
            } else if (strcmp(h, "sha512-pbkdf2") == 0) {
                kind = AUTH_PBKDF2_SHA512;
            } else {
                fprintf(stderr, "tern_passwd: unknown hash '%s'\n", h);
                return 1;
            }
        } else {
            usage();
            return 1;
        }
    }
    int rest = argc - i;
    if ((create && del) || (upg && (create || del || batch || rest != 1)) ||
        (!upg && rest != (batch ? 3 : 2)) || (batch && del)) {
        usage();
        return 1;
    }
    const char *path = argv[i];
    const char *user = upg ? NULL : argv[i + 1];
    if (user != NULL && !valid_username(user))
        return 1;
    char pwbuf[MAX_PASSWORD + 2];
    const char *pw = NULL;
    if (batch) {
        pw = argv[i + 2];
    } else if (!upg && !del) {
        char again[MAX_PASSWORD + 2];
        if (read_password("Password: ", pwbuf, sizeof pwbuf) != 0 ||
            read_password("Reenter password: ", again, sizeof again) != 0) {
            fprintf(stderr, "tern_passwd: no password given\n");
            return 1;
        }
        if (strcmp(pwbuf, again) != 0) {
            fprintf(stderr, "tern_passwd: passwords do not match\n");
            return 1;
        }
        pw = pwbuf;
    }
    if (pw != NULL && strlen(pw) > MAX_PASSWORD) {
        fprintf(stderr, "tern_passwd: password longer than %d bytes\n", MAX_PASSWORD);
        return 1;
    }
    struct lines l = {0};
    int rc = 0;
    struct rng r;
    if (rng_init(&r) != 0) {
        fprintf(stderr, "tern_passwd: cannot seed the random generator\n");
        rc = -1;
    }
    if (rc == 0 && !create)
        rc = read_lines(path, &l);
    if (rc == 0) {
        if (upg)
            rc = upgrade(&l, &r, kind);
        else if (del)
            rc = delete_user(&l, user);
        else
            rc = set_user(&l, &r, kind, user, pw);
    }
    if (rc == 0)
        rc = write_lines(path, &l);
    for (size_t k = 0; k < l.n; k++)
        free(l.v[k]);
    free(l.v);
    rng_free(&r);
    return rc == 0 ? 0 : 1;
}
