/*
 * The config parser: Mosquitto 2.0's file syntax and defaults for the options Tern implements.
 *
 * A file is read whole, then split into lines. Each line is "KEY [VALUE...]"; blank lines and
 * lines whose first non-blank byte is '#' are skipped, trailing whitespace and a CR before the
 * LF are dropped. Keys are case-sensitive. Every key falls in one of three classes:
 *   - implemented: parsed strictly (booleans are exactly true/false, numbers are plain decimal
 *     and in range, nothing may follow the value); a bad or missing value is TERN_ECONF;
 *   - known to Mosquitto 2.0 but not implemented by Tern yet: reported through the warn
 *     callback as "FILE:LINE: unsupported option 'KEY' (ignored)", and parsing goes on;
 *   - anything else: TERN_ECONF "FILE:LINE: unknown option 'KEY'".
 *
 * Listener scope follows Mosquitto: "listener PORT [ADDRESS]" opens a section and the
 * listener-scoped keys (protocol, max_connections) that follow apply to it. The deprecated
 * "port" and "bind_address" configure Mosquitto's default listener, which is appended once the
 * main file is done. max_connections before any listener is the global default that every
 * listener without its own value inherits. The current listener does not carry into or out of
 * an include_dir file, as in Mosquitto.
 *
 * Config is read before the broker's memory accounting exists, so this file uses plain
 * malloc/free. Every byte string is accepted without crashing (the parser is fuzzed): NUL bytes
 * and lines over CONF_MAX_LINE bytes are reported as errors.
 */
#include "conf.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "buf.h"
#include "mem.h"
#include "tern/codec.h"
#include "tern/err.h"
#include "tern/mqtt.h"

#define CONF_MAX_LINE (64u * 1024u)           /* longest line accepted, in bytes */
#define CONF_MAX_FILE (16u * 1024u * 1024u)   /* largest config file read */
#define CONF_MAX_KEY_SHOWN 128                /* a key longer than this is cut in messages */
#define CONF_MC_UNSET LONG_MIN                /* listener max_connections not given yet */
#define CONF_MAX_EXPIRY 315360000LL           /* message_expiry: ten years, in seconds */
#define CONF_MAX_EXPIRY_RULES 1024            /* message_expiry SECONDS PATTERN lines */

/* State shared by the main file and the files it includes. */
struct load {
    struct conf *c;
    char *err;
    size_t errlen;
    conf_warn_fn warn;
    void *warn_ctx;
    long dflt_port;                 /* "port"; 0 = not given */
    char *dflt_addr;                /* "bind_address"; malloc'd, NULL = not given */
    enum conf_proto dflt_proto;     /* "protocol" after "port" and before any listener */
    size_t first_new;               /* listeners before this index predate this load */
};

/* One file (or string) being parsed. */
struct src {
    struct load *ld;
    const char *name;
    unsigned long line;
    int level;                      /* 0: main file; 1: a file read by include_dir */
    long cur;                       /* index of the current listener; -1: none */
};

typedef int (*key_fn)(struct src *s, const char *key, char *rest);

struct key {
    const char *name;
    key_fn fn;
};

static int parse_text(struct load *ld, const char *name, const char *text, size_t len,
                      int level);

/* ---- messages ---- */

static int fail(struct src *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int conf_verrorf(char *err, size_t errlen, const char *name, unsigned long line, const char *fmt,
                 va_list ap)
{
    if (err == NULL || errlen == 0)
        return TERN_ECONF;
    int n = snprintf(err, errlen, "%s:%lu: ", name, line);
    if (n >= 0 && (size_t)n < errlen)
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    return TERN_ECONF;
}

int conf_errorf(char *err, size_t errlen, const char *name, unsigned long line, const char *fmt,
                ...)
{
    va_list ap;
    va_start(ap, fmt);
    conf_verrorf(err, errlen, name, line, fmt, ap);
    va_end(ap);
    return TERN_ECONF;
}

int conf_foreach_line(struct mem *m, const char *name, const char *text, size_t len,
                      conf_line_fn fn, void *ctx, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t bufcap = 0;
    size_t pos = 0;
    unsigned long lineno = 0;
    int rc = TERN_OK;
    while (pos < len && rc == TERN_OK) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
        lineno++;
        if (memchr(text + pos, '\0', n) != NULL) {
            rc = conf_errorf(err, errlen, name, lineno, "NUL byte in line");
            break;
        }
        if (n + 1 > bufcap) {
            char *grown = mem_realloc(m, buf, n + 1);
            if (grown == NULL) {
                rc = TERN_ENOMEM;
                break;
            }
            buf = grown;
            bufcap = n + 1;
        }
        memcpy(buf, text + pos, n);
        buf[n] = '\0';
        rc = fn(ctx, buf, lineno);
        pos += n + 1;
    }
    mem_free(m, buf);
    if (rc == TERN_ENOMEM && err != NULL && errlen > 0)
        snprintf(err, errlen, "%s: out of memory", name);
    return rc;
}

/* Writes "NAME:LINE: reason" into the caller's buffer and returns TERN_ECONF. */
static int fail(struct src *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    conf_verrorf(s->ld->err, s->ld->errlen, s->name, s->line, fmt, ap);
    va_end(ap);
    return TERN_ECONF;
}

static void warnf(struct src *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sends "NAME:LINE: message" to the warn callback, if there is one. */
static void warnf(struct src *s, const char *fmt, ...)
{
    struct load *ld = s->ld;
    char msg[512];
    if (ld->warn == NULL) {
        return;
    }
    int n = snprintf(msg, sizeof msg, "%s:%lu: ", s->name, s->line);
    if (n >= 0 && (size_t)n < sizeof msg) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
        va_end(ap);
    }
    ld->warn(ld->warn_ctx, msg);
}

static int fail_nomem(struct src *s)
{
    return fail(s, "out of memory");
}

/* ---- value helpers ---- */

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

char *conf_next_token(char **rest)
{
    char *p = *rest;
    while (is_blank(*p)) {
        p++;
    }
    if (*p == '\0') {
        *rest = p;
        return NULL;
    }
    char *tok = p;
    while (*p != '\0' && !is_blank(*p)) {
        p++;
    }
    if (*p != '\0') {
        *p++ = '\0';
    }
    *rest = p;
    return tok;
}

/* Fails when anything but blanks follows the value. */
static int expect_end(struct src *s, const char *key, char *rest)
{
    char *extra = conf_next_token(&rest);
    if (extra == NULL) {
        return TERN_OK;
    }
    if (extra[0] == '#') {
        return fail(s, "%s: unexpected '%.64s' after the value (comments must be on their own "
                    "line)", key, extra);
    }
    return fail(s, "%s: unexpected extra value '%.64s'", key, extra);
}

/* Takes exactly one token as the value. */
static int one_value(struct src *s, const char *key, char *rest, char **out)
{
    *out = conf_next_token(&rest);
    if (*out == NULL) {
        return fail(s, "%s: missing value", key);
    }
    return expect_end(s, key, rest);
}

/* Parses a plain decimal integer (optional '-', digits only) in [min, max]. */
static int parse_ll(struct src *s, const char *key, const char *tok, long long min,
                    long long max, long long *out)
{
    const char *p = tok;
    if (*p == '-') {
        p++;
    }
    if (*p == '\0') {
        return fail(s, "%s: '%.64s' is not a number", key, tok);
    }
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return fail(s, "%s: '%.64s' is not a number", key, tok);
        }
    }
    errno = 0;
    long long v = strtoll(tok, NULL, 10);
    if (errno == ERANGE || v < min || v > max) {
        return fail(s, "%s: value %.64s out of range (%lld-%lld)", key, tok, min, max);
    }
    *out = v;
    return TERN_OK;
}

/* Parses the single numeric value of key into *out. */
static int number_value(struct src *s, const char *key, char *rest, long long min,
                        long long max, long long *out)
{
    char *tok;
    int rc = one_value(s, key, rest, &tok);
    if (rc != TERN_OK) {
        return rc;
    }
    return parse_ll(s, key, tok, min, max, out);
}

static int bool_value(struct src *s, const char *key, char *rest, bool *out)
{
    char *tok;
    int rc = one_value(s, key, rest, &tok);
    if (rc != TERN_OK) {
        return rc;
    }
    if (strcmp(tok, "true") == 0) {
        *out = true;
    } else if (strcmp(tok, "false") == 0) {
        *out = false;
    } else {
        return fail(s, "%s: '%.64s' is not a boolean (use true or false)", key, tok);
    }
    return TERN_OK;
}

/* Trims rest: the value is the remainder of the line, so paths may contain spaces. */
static char *rest_of_line(char *rest)
{
    while (is_blank(*rest)) {
        rest++;
    }
    return rest;
}

/* Stores a copy of the rest of the line in *out; a second value is an error, as in Mosquitto. */
static int string_value(struct src *s, const char *key, char *rest, char **out)
{
    const char *v = rest_of_line(rest);
    if (*v == '\0') {
        return fail(s, "%s: missing value", key);
    }
    if (*out != NULL) {
        return fail(s, "%s: duplicate value (already set to '%.64s')", key, *out);
    }
    *out = strdup(v);
    return *out == NULL ? fail_nomem(s) : TERN_OK;
}

/* ---- listeners ---- */

static int append_listener(struct conf *c, uint16_t port, char *address, long max_conn)
{
    struct conf_listener *l = realloc(c->listeners, (c->n_listeners + 1) * sizeof *l);
    if (l == NULL) {
        return TERN_ENOMEM;
    }
    c->listeners = l;
    l += c->n_listeners++;
    l->port = port;
    l->address = address;
    l->protocol = CONF_PROTO_MQTT;
    l->max_connections = max_conn;
    l->certfile = NULL;
    l->keyfile = NULL;
    l->cafile = NULL;
    l->capath = NULL;
    l->tls_version = NULL;
    l->ciphers = NULL;
    l->require_certificate = false;
    l->use_identity_as_username = false;
    l->http_dir = NULL;
    l->message_expiry = -1;
    return TERN_OK;
}

static bool same_address(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return strcmp(a, b) == 0;
}

/* Opens a listener section: listener PORT [ADDRESS]. */
static int key_listener(struct src *s, const char *key, char *rest)
{
    struct conf *c = s->ld->c;
    char *tok = conf_next_token(&rest);
    long long port;
    if (tok == NULL) {
        return fail(s, "%s: missing value (expected PORT [ADDRESS])", key);
    }
    int rc = parse_ll(s, key, tok, 1, 65535, &port);
    if (rc != TERN_OK) {
        return rc;
    }
    char *addr = conf_next_token(&rest);
    rc = expect_end(s, key, rest);
    if (rc != TERN_OK) {
        return rc;
    }
    for (size_t i = 0; i < c->n_listeners; i++) {
        if (c->listeners[i].port == port && same_address(c->listeners[i].address, addr)) {
            return fail(s, "%s: duplicate listener on port %lld%s%.64s", key, port,
                        addr != NULL ? " address " : "", addr != NULL ? addr : "");
        }
    }
    char *copy = NULL;
    if (addr != NULL && (copy = strdup(addr)) == NULL) {
        return fail_nomem(s);
    }
    if (append_listener(c, (uint16_t)port, copy, CONF_MC_UNSET) != TERN_OK) {
        free(copy);
        return fail_nomem(s);
    }
    s->cur = (long)c->n_listeners - 1;
    return TERN_OK;
}

static int key_port(struct src *s, const char *key, char *rest)
{
    long long port;
    int rc = number_value(s, key, rest, 1, 65535, &port);
    if (rc != TERN_OK) {
        return rc;
    }
    if (s->ld->dflt_port != 0) {
        warnf(s, "port given more than once; only the last value (%lld) is used", port);
    }
    s->ld->dflt_port = (long)port;
    return TERN_OK;
}

static int key_bind_address(struct src *s, const char *key, char *rest)
{
    char *tok;
    int rc = one_value(s, key, rest, &tok);
    if (rc != TERN_OK) {
        return rc;
    }
    if (s->ld->dflt_addr != NULL) {
        return fail(s, "%s: duplicate value (already set to '%.64s')", key, s->ld->dflt_addr);
    }
    s->ld->dflt_addr = strdup(tok);
    return s->ld->dflt_addr == NULL ? fail_nomem(s) : TERN_OK;
}

static int key_protocol(struct src *s, const char *key, char *rest)
{
    char *tok;
    enum conf_proto proto;
    int rc = one_value(s, key, rest, &tok);
    if (rc != TERN_OK) {
        return rc;
    }
    if (strcmp(tok, "mqtt") == 0) {
        proto = CONF_PROTO_MQTT;
    } else if (strcmp(tok, "websockets") == 0) {
        proto = CONF_PROTO_WEBSOCKETS;
    } else if (strcmp(tok, "http") == 0) {
        proto = CONF_PROTO_HTTP;
    } else {
        return fail(s, "%s: invalid value '%.64s' (expected mqtt, websockets or http)", key, tok);
    }
    if (s->cur >= 0) {
        s->ld->c->listeners[s->cur].protocol = proto;
    } else if (s->ld->dflt_port != 0) {
        /* Mosquitto applies it to the default listener that "port" configured. */
        s->ld->dflt_proto = proto;
    } else {
        return fail(s, "%s: no listener defined yet (put it after a 'listener PORT' line)", key);
    }
    return TERN_OK;
}

static int key_max_connections(struct src *s, const char *key, char *rest)
{
    long long v;
    int rc = number_value(s, key, rest, -1, INT_MAX, &v);
    if (rc != TERN_OK) {
        return rc;
    }
    if (s->cur >= 0) {
        s->ld->c->listeners[s->cur].max_connections = (long)v;
    } else {
        s->ld->c->max_connections = (long)v;
        s->ld->c->max_connections_set = true;
    }
    return TERN_OK;
}

/* max_connections_per_address N: open connections from one client address (any listener);
 * -1 = no limit. Tern's own key: a connection flood from one host leaves room for others. */
static int key_max_connections_per_address(struct src *s, const char *key, char *rest)
{
    long long v;
    int rc = number_value(s, key, rest, -1, INT_MAX, &v);
    if (rc == TERN_OK)
        s->ld->c->max_connections_per_address = (long)v;
    return rc;
}

/* memory_limit BYTES: Mosquitto's cap on the broker's heap; 0 = no cap. Unset, the board's
 * default applies (platform/board/<name>.h). */
static int key_memory_limit(struct src *s, const char *key, char *rest)
{
    return number_value(s, key, rest, 0, LLONG_MAX, &s->ld->c->memory_limit);
}

/* ---- listener file keys: certfile, keyfile (TLS, wss), http_dir (websockets) ---- */

/* Stores the rest of the line (a path) in the current listener's field. */
static int listener_path(struct src *s, const char *key, char *rest, size_t field)
{
    if (s->cur < 0) {
        return fail(s, "%s: no listener defined yet (put it after a 'listener PORT' line)", key);
    }
    char **out = (char **)((char *)&s->ld->c->listeners[s->cur] + field);
    return string_value(s, key, rest, out);
}

static int key_certfile(struct src *s, const char *key, char *rest)
{
    return listener_path(s, key, rest, offsetof(struct conf_listener, certfile));
}

static int key_keyfile(struct src *s, const char *key, char *rest)
{
    return listener_path(s, key, rest, offsetof(struct conf_listener, keyfile));
}

static int key_http_dir(struct src *s, const char *key, char *rest)
{
    return listener_path(s, key, rest, offsetof(struct conf_listener, http_dir));
}

/* ---- listener TLS keys (net_tls.c checks the files and values when the listener opens) ---- */

static int key_cafile(struct src *s, const char *key, char *rest)
{
    return listener_path(s, key, rest, offsetof(struct conf_listener, cafile));
}

static int key_capath(struct src *s, const char *key, char *rest)
{
    return listener_path(s, key, rest, offsetof(struct conf_listener, capath));
}

static int key_ciphers(struct src *s, const char *key, char *rest)
{
    return listener_path(s, key, rest, offsetof(struct conf_listener, ciphers));
}

static int key_tls_version(struct src *s, const char *key, char *rest)
{
    char *tok;
    int rc = one_value(s, key, rest, &tok);
    if (rc != TERN_OK) {
        return rc;
    }
    if (strcmp(tok, "tlsv1.3") == 0) {
        return fail(s, "%s: tlsv1.3 is not available (Tern's TLS is mbedTLS 2.28: TLS 1.2 "
                    "at most)", key);
    }
    if (strcmp(tok, "tlsv1.2") != 0 && strcmp(tok, "tlsv1.1") != 0) {
        return fail(s, "%s: invalid value '%.64s' (expected tlsv1.2 or tlsv1.1)", key, tok);
    }
    return listener_path(s, key, tok, offsetof(struct conf_listener, tls_version));
}

static int listener_bool(struct src *s, const char *key, char *rest, size_t field)
{
    if (s->cur < 0) {
        return fail(s, "%s: no listener defined yet (put it after a 'listener PORT' line)", key);
    }
    bool *out = (bool *)((char *)&s->ld->c->listeners[s->cur] + field);
    return bool_value(s, key, rest, out);
}

static int key_require_certificate(struct src *s, const char *key, char *rest)
{
    return listener_bool(s, key, rest, offsetof(struct conf_listener, require_certificate));
}

static int key_use_identity_as_username(struct src *s, const char *key, char *rest)
{
    return listener_bool(s, key, rest,
                         offsetof(struct conf_listener, use_identity_as_username));
}

/* ---- global keys ---- */

static int key_allow_anonymous(struct src *s, const char *key, char *rest)
{
    int rc = bool_value(s, key, rest, &s->ld->c->allow_anonymous);
    if (rc == TERN_OK) {
        s->ld->c->allow_anonymous_set = true;
    }
    return rc;
}

static int key_max_queued_messages(struct src *s, const char *key, char *rest)
{
    long long v;
    int rc = number_value(s, key, rest, 0, INT_MAX, &v);
    if (rc == TERN_OK) {
        s->ld->c->max_queued_messages = (long)v;
    }
    return rc;
}

static int key_max_queued_bytes(struct src *s, const char *key, char *rest)
{
    return number_value(s, key, rest, 0, LLONG_MAX, &s->ld->c->max_queued_bytes);
}

static int key_max_inflight_messages(struct src *s, const char *key, char *rest)
{
    long long v;
    int rc = number_value(s, key, rest, 0, 65535, &v);
    if (rc == TERN_OK) {
        s->ld->c->max_inflight_messages = (long)v;
    }
    return rc;
}

static int key_message_size_limit(struct src *s, const char *key, char *rest)
{
    long long v;
    int rc = number_value(s, key, rest, 0, MQTT_MAX_REMAINING, &v);
    if (rc == TERN_OK) {
        s->ld->c->message_size_limit = (uint32_t)v;
    }
    return rc;
}

static int key_max_keepalive(struct src *s, const char *key, char *rest)
{
    long long v;
    int rc = number_value(s, key, rest, 0, 65535, &v);
    if (rc == TERN_OK) {
        s->ld->c->max_keepalive = (uint32_t)v;
    }
    return rc;
}

/* retry_interval N (Mosquitto 1.x's key), retry_max_interval N: seconds before the first
 * resend of an unacknowledged QoS 1/2 message to a connected client, and the cap of its
 * exponential backoff; max_delivery_attempts N: sends before the message is dropped. */
static int key_retry_interval(struct src *s, const char *key, char *rest)
{
    long long v;
    int rc = number_value(s, key, rest, 0, 86400, &v);
    if (rc == TERN_OK) {
        s->ld->c->retry_interval = (long)v;
    }
    return rc;
}

static int key_retry_max_interval(struct src *s, const char *key, char *rest)
{
    long long v;
    int rc = number_value(s, key, rest, 1, 86400, &v);
    if (rc == TERN_OK) {
        s->ld->c->retry_max_interval = (long)v;
    }
    return rc;
}

static int key_max_delivery_attempts(struct src *s, const char *key, char *rest)
{
    long long v;
    int rc = number_value(s, key, rest, 0, 255, &v);
    if (rc == TERN_OK) {
        s->ld->c->max_delivery_attempts = (long)v;
    }
    return rc;
}

/* sys_interval N: seconds between $SYS publications (Mosquitto's key and default, 10);
 * 0 turns them off. */
static int key_sys_interval(struct src *s, const char *key, char *rest)
{
    long long v;
    int rc = number_value(s, key, rest, 0, 86400, &v);
    if (rc == TERN_OK) {
        s->ld->c->sys_interval = (long)v;
    }
    return rc;
}

static int key_autosave_interval(struct src *s, const char *key, char *rest)
{
    long long v;
    int rc = number_value(s, key, rest, 0, INT_MAX, &v);
    if (rc == TERN_OK) {
        s->ld->c->autosave_interval = (long)v;
    }
    return rc;
}

/*
 * A duration: a positive number followed by h, d, w, m (30 days) or y (365 days), as in
 * Mosquitto; a bare number is taken as seconds (Mosquitto would refuse it).
 */
static int key_persistent_client_expiration(struct src *s, const char *key, char *rest)
{
    char *tok;
    long long mult = 1;
    long long n;
    int rc = one_value(s, key, rest, &tok);
    if (rc != TERN_OK) {
        return rc;
    }
    size_t len = strlen(tok);
    switch (tok[len - 1]) {
    case 'h': mult = 3600; break;
    case 'd': mult = 86400; break;
    case 'w': mult = 86400LL * 7; break;
    case 'm': mult = 86400LL * 30; break;
    case 'y': mult = 86400LL * 365; break;
    default: break;
    }
    size_t digits = mult != 1 ? len - 1 : len;
    bool numeric = digits > 0;
    for (size_t i = 0; i < digits; i++) {
        numeric = numeric && tok[i] >= '0' && tok[i] <= '9';
    }
    if (!numeric) {
        return fail(s, "%s: '%.64s' is not a duration (a number followed by h, d, w, m or y)",
                    key, tok);
    }
    tok[digits] = '\0';
    rc = parse_ll(s, key, tok, 1, LLONG_MAX / mult, &n);
    if (rc != TERN_OK) {
        return rc;
    }
    s->ld->c->persistent_client_expiration = n * mult;
    return TERN_OK;
}

static int key_retain_available(struct src *s, const char *key, char *rest)
{
    return bool_value(s, key, rest, &s->ld->c->retain_available);
}

static int key_queue_qos0_messages(struct src *s, const char *key, char *rest)
{
    return bool_value(s, key, rest, &s->ld->c->queue_qos0_messages);
}

static int key_connection_messages(struct src *s, const char *key, char *rest)
{
    return bool_value(s, key, rest, &s->ld->c->connection_messages);
}

static int key_persistence(struct src *s, const char *key, char *rest)
{
    return bool_value(s, key, rest, &s->ld->c->persistence);
}

static int key_persistence_location(struct src *s, const char *key, char *rest)
{
    return string_value(s, key, rest, &s->ld->c->persistence_location);
}

/* persistence_sync always | turn | interval SECONDS (Tern's own key; see README "Persistence"). */
static int key_persistence_sync(struct src *s, const char *key, char *rest)
{
    struct conf *c = s->ld->c;
    char *mode = strtok_r(rest, " \t", &rest);
    char *arg = strtok_r(NULL, " \t", &rest);
    char *extra = strtok_r(NULL, " \t", &rest);
    if (mode != NULL && arg == NULL && strcmp(mode, "always") == 0) {
        c->persistence_sync = CONF_PSYNC_ALWAYS;
        return TERN_OK;
    }
    if (mode != NULL && arg == NULL && strcmp(mode, "turn") == 0) {
        c->persistence_sync = CONF_PSYNC_TURN;
        return TERN_OK;
    }
    if (mode != NULL && arg != NULL && extra == NULL && strcmp(mode, "interval") == 0) {
        long long v;
        int rc = parse_ll(s, key, arg, 1, 86400, &v);
        if (rc == TERN_OK) {
            c->persistence_sync = CONF_PSYNC_INTERVAL;
            c->persistence_sync_interval = (long)v;
        }
        return rc;
    }
    return fail(s, "%s: expected always, turn or interval SECONDS", key);
}

static int key_password_file(struct src *s, const char *key, char *rest)
{
    return string_value(s, key, rest, &s->ld->c->password_file);
}

/* dead_letter_topic PREFIX: dropped messages are published under PREFIX/REASON/TOPIC. */
static int key_dead_letter_topic(struct src *s, const char *key, char *rest)
{
    int rc = string_value(s, key, rest, &s->ld->c->dead_letter_topic);
    if (rc == TERN_OK && (strpbrk(s->ld->c->dead_letter_topic, "+#") != NULL ||
                          strlen(s->ld->c->dead_letter_topic) > 1024)) {
        return fail(s, "%s: '%.64s' is not a topic prefix (no wildcards, at most 1024 bytes)",
                    key, s->ld->c->dead_letter_topic);
    }
    return rc;
}

/*
 * message_expiry SECONDS [PATTERN] (Tern's own key): how long a message may wait in a session's
 * queue before it is dropped (0 = for ever). With a PATTERN (a topic filter) it is a rule for
 * matching topics, wherever it appears. Without one it is listener-scoped after a 'listener'
 * line, as in Mosquitto, and global before any.
 */
static int key_message_expiry(struct src *s, const char *key, char *rest)
{
    struct conf *c = s->ld->c;
    char *tok = conf_next_token(&rest);
    long long v;
    if (tok == NULL) {
        return fail(s, "%s: missing value (expected SECONDS [PATTERN])", key);
    }
    int rc = parse_ll(s, key, tok, 0, CONF_MAX_EXPIRY, &v);
    if (rc != TERN_OK) {
        return rc;
    }
    char *pattern = conf_next_token(&rest);
    rc = expect_end(s, key, rest);
    if (rc != TERN_OK) {
        return rc;
    }
    if (pattern == NULL) {
        if (s->cur >= 0) {
            c->listeners[s->cur].message_expiry = (long)v;
        } else {
            c->message_expiry = (long)v;
        }
        return TERN_OK;
    }
    if (!codec_topic_filter_valid((const uint8_t *)pattern, strlen(pattern)) ||
        strlen(pattern) > MQTT_MAX_STRING) {
        return fail(s, "%s: '%.64s' is not a valid topic filter", key, pattern);
    }
    if (c->n_expiry_rules >= CONF_MAX_EXPIRY_RULES) {
        return fail(s, "%s: more than %d patterns", key, CONF_MAX_EXPIRY_RULES);
    }
    struct conf_expiry_rule *r = realloc(c->expiry_rules,
                                         (c->n_expiry_rules + 1) * sizeof *r);
    if (r == NULL) {
        return fail_nomem(s);
    }
    c->expiry_rules = r;
    r += c->n_expiry_rules;
    if ((r->filter = strdup(pattern)) == NULL) {
        return fail_nomem(s);
    }
    r->seconds = (long)v;
    c->n_expiry_rules++;
    return TERN_OK;
}

static int key_acl_file(struct src *s, const char *key, char *rest)
{
    return string_value(s, key, rest, &s->ld->c->acl_file);
}

/* ---- logging ---- */

/* log_dest stderr|stdout|file PATH|syslog|none|topic|dlt; the first line replaces the default. */
static int key_log_dest(struct src *s, const char *key, char *rest)
{
    struct conf *c = s->ld->c;
    char *tok = conf_next_token(&rest);
    unsigned bit = 0;
    if (tok == NULL) {
        return fail(s, "%s: missing value", key);
    }
    if (strcmp(tok, "file") == 0) {
        const char *path = rest_of_line(rest);
        if (*path == '\0') {
            return fail(s, "%s: missing path after 'file'", key);
        }
        if (c->log_file != NULL) {
            return fail(s, "%s: duplicate 'file' destination (already '%.64s')", key,
                        c->log_file);
        }
        if ((c->log_file = strdup(path)) == NULL) {
            return fail_nomem(s);
        }
        bit = CONF_LOG_FILE;
    } else {
        int rc = expect_end(s, key, rest);
        if (rc != TERN_OK) {
            return rc;
        }
        if (strcmp(tok, "stderr") == 0) {
            bit = CONF_LOG_STDERR;
        } else if (strcmp(tok, "stdout") == 0) {
            bit = CONF_LOG_STDOUT;
        } else if (strcmp(tok, "syslog") == 0) {
            bit = CONF_LOG_SYSLOG;
        } else if (strcmp(tok, "none") == 0) {
            bit = CONF_LOG_NONE;
        } else if (strcmp(tok, "topic") == 0 || strcmp(tok, "dlt") == 0) {
            warnf(s, "unsupported option '%s %s' (ignored)", key, tok);
            return TERN_OK;
        } else {
            return fail(s, "%s: invalid value '%.64s' (expected stderr, stdout, file, syslog, "
                        "none, topic or dlt)", key, tok);
        }
    }
    if (!c->log_dest_set) {
        c->log_dest = 0;
        c->log_dest_set = true;
    }
    if (bit == CONF_LOG_NONE) {
        c->log_dest = CONF_LOG_NONE;
    } else {
        c->log_dest = (c->log_dest & ~CONF_LOG_NONE) | bit;
    }
    return TERN_OK;
}

static const struct {
    const char *name;
    unsigned bits;
} log_types[] = {
    {"error", CONF_LOGT_ERROR},
    {"warning", CONF_LOGT_WARNING},
    {"notice", CONF_LOGT_NOTICE},
    {"information", CONF_LOGT_INFORMATION},
    {"debug", CONF_LOGT_DEBUG},
    {"subscribe", CONF_LOGT_SUBSCRIBE},
    {"unsubscribe", CONF_LOGT_UNSUBSCRIBE},
    {"websockets", CONF_LOGT_WEBSOCKETS},
    {"all", CONF_LOGT_ALL},
    {"none", 0},
};

/* log_type NAME; repeats add up, the first line replaces the default set, none clears. */
static int key_log_type(struct src *s, const char *key, char *rest)
{
    struct conf *c = s->ld->c;
    char *tok;
    int rc = one_value(s, key, rest, &tok);
    if (rc != TERN_OK) {
        return rc;
    }
    for (size_t i = 0; i < sizeof log_types / sizeof log_types[0]; i++) {
        if (strcmp(tok, log_types[i].name) == 0) {
            if (!c->log_type_set) {
                c->log_type = 0;
                c->log_type_set = true;
            }
            if (log_types[i].bits == 0) {
                c->log_type = 0;
            } else {
                c->log_type |= log_types[i].bits;
            }
            return TERN_OK;
        }
    }
    return fail(s, "%s: invalid value '%.64s' (expected error, warning, notice, information, "
                "debug, subscribe, unsubscribe, websockets, all or none)", key, tok);
}

/* ---- include_dir ---- */

/* Mosquitto's order: case-insensitive, and upper case before lower case of the same letter. */
static int cmp_conf_names(const void *a, const void *b)
{
    const char *x = *(const char *const *)a;
    const char *y = *(const char *const *)b;
    int r = strcasecmp(x, y);
    return r != 0 ? r : strcmp(x, y);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
}

/* Lists DIR/ *.conf into a malloc'd, sorted array of malloc'd names. */
static int list_conf_files(struct src *s, const char *key, const char *dir, char ***out,
                           size_t *count)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    if (d == NULL) {
        return fail(s, "%s: cannot open '%s': %s", key, dir, strerror(errno));
    }
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".conf") != 0) {
            continue;
        }
        char **grown = realloc(names, (n + 1) * sizeof *names);
        if (grown == NULL || (grown[n] = strdup(e->d_name)) == NULL) {
            free_names(grown != NULL ? grown : names, n);
            closedir(d);
            return fail_nomem(s);
        }
        names = grown;
        n++;
    }
    closedir(d);
    if (n > 1) {
        qsort(names, n, sizeof *names, cmp_conf_names);
    }
    *out = names;
    *count = n;
    return TERN_OK;
}

static int load_path(struct load *ld, const char *path, int level);

static int key_include_dir(struct src *s, const char *key, char *rest)
{
    const char *dir = rest_of_line(rest);
    char **names = NULL;
    size_t n = 0;
    if (*dir == '\0') {
        return fail(s, "%s: missing value", key);
    }
    if (s->level > 0) {
        return fail(s, "%s is only valid in the main configuration file", key);
    }
    int rc = list_conf_files(s, key, dir, &names, &n);
    if (rc != TERN_OK) {
        return rc;
    }
    size_t dlen = strlen(dir);
    const char *sep = dir[dlen - 1] == '/' ? "" : "/";
    for (size_t i = 0; i < n && rc == TERN_OK; i++) {
        size_t plen = dlen + strlen(sep) + strlen(names[i]) + 1;
        char *path = malloc(plen);
        if (path == NULL) {
            rc = fail_nomem(s);
            break;
        }
        snprintf(path, plen, "%s%s%s", dir, sep, names[i]);
        rc = load_path(s->ld, path, s->level + 1);
        free(path);
    }
    free_names(names, n);
    return rc;
}

/* ---- key tables ---- */

static const struct key keys[] = {
    {"acl_file", key_acl_file},
    {"allow_anonymous", key_allow_anonymous},
    {"autosave_interval", key_autosave_interval},
    {"bind_address", key_bind_address},
    {"cafile", key_cafile},
    {"capath", key_capath},
    {"certfile", key_certfile},
    {"ciphers", key_ciphers},
    {"connection_messages", key_connection_messages},
    {"dead_letter_topic", key_dead_letter_topic},
    {"http_dir", key_http_dir},
    {"include_dir", key_include_dir},
    {"keyfile", key_keyfile},
    {"listener", key_listener},
    {"log_dest", key_log_dest},
    {"log_type", key_log_type},
    {"max_connections", key_max_connections},
    {"max_connections_per_address", key_max_connections_per_address},
    {"max_delivery_attempts", key_max_delivery_attempts},
    {"max_inflight_messages", key_max_inflight_messages},
    {"max_keepalive", key_max_keepalive},
    {"max_queued_bytes", key_max_queued_bytes},
    {"max_queued_messages", key_max_queued_messages},
    {"memory_limit", key_memory_limit},
    {"message_expiry", key_message_expiry},
    {"message_size_limit", key_message_size_limit},
    {"password_file", key_password_file},
    {"persistence", key_persistence},
    {"persistence_location", key_persistence_location},
    {"persistence_sync", key_persistence_sync},
    {"persistent_client_expiration", key_persistent_client_expiration},
    {"port", key_port},
    {"protocol", key_protocol},
    {"queue_qos0_messages", key_queue_qos0_messages},
    {"require_certificate", key_require_certificate},
    {"retain_available", key_retain_available},
    {"retry_interval", key_retry_interval},
    {"retry_max_interval", key_retry_max_interval},
    {"sys_interval", key_sys_interval},
    {"tls_version", key_tls_version},
    {"use_identity_as_username", key_use_identity_as_username},
};

/* Every other option Mosquitto 2.0 accepts (mosquitto.conf(5) and its conf.c). */
static const char *const unsupported[] = {
    "allow_duplicate_messages", "allow_zero_length_clientid",
    "auth_plugin", "auth_plugin_deny_special_chars", "auto_id_prefix", "autosave_on_changes",
    "bind_interface", "bridge_alpn", "bridge_attempt_unsubscribe", "bridge_bind_address",
    "bridge_identity", "bridge_max_packet_size", "bridge_outgoing_retain",
    "bridge_protocol_version", "bridge_psk", "bridge_require_ocsp", "bridge_tls_version",
    "check_retain_source", "ciphers_tls1.3",
    "clientid", "clientid_prefixes", "crlfile", "dhparamfile",
    "idle_timeout", "local_cleansession",
    "local_password", "local_username", "log_facility", "log_timestamp",
    "log_timestamp_format", "max_inflight_bytes", "max_packet_size", "max_qos",
    "max_topic_alias", "mount_point", "notification_topic", "notifications",
    "notifications_local_only", "password", "per_listener_settings", "persistence_file",
    "pid_file", "plugin", "psk_file", "psk_hint", "round_robin", "set_tcp_nodelay",
    "socket_domain", "start_type", "store_clean_interval",
    "threshold", "tls_engine", "tls_engine_kpass_sha1", "tls_keyform",
    "upgrade_outgoing_qos",
    "use_subject_as_username", "use_username_as_clientid", "user", "username",
    "websockets_headers_size", "websockets_log_level",
};

/* Option families Mosquitto recognises by prefix (plugin options). */
static const char *const unsupported_prefixes[] = {"auth_opt_", "plugin_opt_"};

static bool is_unsupported(const char *key)
{
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        if (strcmp(key, unsupported[i]) == 0) {
            return true;
        }
    }
    for (size_t i = 0; i < sizeof unsupported_prefixes / sizeof unsupported_prefixes[0]; i++) {
        size_t n = strlen(unsupported_prefixes[i]);
        if (strncmp(key, unsupported_prefixes[i], n) == 0 && key[n] != '\0') {
            return true;
        }
    }
    return false;
}

/* ---- lines and files ---- */

/* Parses one line, NUL-terminated and without its LF; line may be modified. */
static int parse_line(struct src *s, char *line, size_t len)
{
    while (len > 0 && is_blank(line[len - 1])) {
        line[--len] = '\0';
    }
    char *rest = line;
    while (is_blank(*rest)) {
        rest++;
    }
    if (*rest == '\0' || *rest == '#') {
        return TERN_OK;
    }
    const char *key = conf_next_token(&rest);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(key, keys[i].name) == 0) {
            return keys[i].fn(s, key, rest);
        }
    }
    char why[384];
    int brc = conf_bridge_key(s->ld->c, s->name, s->line, key, rest, why, sizeof why);
    if (brc != TERN_ENOTFOUND) {
        return brc == TERN_OK ? TERN_OK : fail(s, "%s", why);
    }
    if (is_unsupported(key)) {
        warnf(s, "unsupported option '%s' (ignored)", key);
        return TERN_OK;
    }
    return fail(s, "unknown option '%.*s'", CONF_MAX_KEY_SHOWN, key);
}

static int parse_lines(struct src *s, const char *text, size_t len)
{
    char *buf = NULL;
    size_t cap = 0;
    size_t pos = 0;
    int rc = TERN_OK;
    while (pos < len && rc == TERN_OK) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
        s->line++;
        if (n > CONF_MAX_LINE) {
            rc = fail(s, "line too long (more than %u bytes)", CONF_MAX_LINE);
            break;
        }
        if (memchr(text + pos, '\0', n) != NULL) {
            rc = fail(s, "NUL byte in line");
            break;
        }
        if (n + 1 > cap) {
            char *grown = realloc(buf, n + 1);
            if (grown == NULL) {
                rc = fail_nomem(s);
                break;
            }
            buf = grown;
            cap = n + 1;
        }
        memcpy(buf, text + pos, n);
        buf[n] = '\0';
        rc = parse_line(s, buf, n);
        pos += n + 1;
    }
    free(buf);
    return rc;
}

static int parse_text(struct load *ld, const char *name, const char *text, size_t len,
                      int level)
{
    struct src s = {.ld = ld, .name = name, .line = 0, .level = level, .cur = -1};
    return parse_lines(&s, text, len);
}

/* Reads the whole of path into a malloc'd buffer (the loader runs before mem accounting). */
static int read_file(struct load *ld, const char *path, char **out, size_t *outlen)
{
    char dummy[1];
    bool has_err = ld->err != NULL && ld->errlen > 0;
    return buf_read_file(NULL, path, CONF_MAX_FILE + 1, out, outlen, has_err ? ld->err : dummy,
                         has_err ? ld->errlen : sizeof dummy);
}

static int load_path(struct load *ld, const char *path, int level)
{
    char *text = NULL;
    size_t len = 0;
    int rc = read_file(ld, path, &text, &len);
    if (rc != TERN_OK) {
        return rc;
    }
    rc = parse_text(ld, path, text, len, level);
    free(text);
    return rc;
}

/*
 * After the main file: appends the default listener if "port" or "bind_address" asked for one
 * (Mosquitto's default port is 1883), and gives every listener of this load that has no
 * max_connections of its own the global value. Runs on failure too, so c stays consistent.
 */
static int finish(struct load *ld, int rc)
{
    struct conf *c = ld->c;
    if (rc == TERN_OK && (ld->dflt_port != 0 || ld->dflt_addr != NULL)) {
        uint16_t port = ld->dflt_port != 0 ? (uint16_t)ld->dflt_port : 1883;
        if (append_listener(c, port, ld->dflt_addr, CONF_MC_UNSET) == TERN_OK) {
            c->listeners[c->n_listeners - 1].protocol = ld->dflt_proto;
            ld->dflt_addr = NULL;
        } else {
            rc = TERN_ENOMEM;
            if (ld->err != NULL && ld->errlen > 0) {
                snprintf(ld->err, ld->errlen, "out of memory");
            }
        }
    }
    free(ld->dflt_addr);
    ld->dflt_addr = NULL;
    for (size_t i = ld->first_new; i < c->n_listeners; i++) {
        if (c->listeners[i].max_connections == CONF_MC_UNSET) {
            c->listeners[i].max_connections = c->max_connections;
        }
    }
    return rc;
}

static void load_init(struct load *ld, struct conf *c, char *err, size_t errlen,
                      conf_warn_fn warn_fn, void *warn_ctx)
{
    memset(ld, 0, sizeof *ld);
    ld->c = c;
    ld->err = err;
    ld->errlen = errlen;
    ld->warn = warn_fn;
    ld->warn_ctx = warn_ctx;
    ld->dflt_proto = CONF_PROTO_MQTT;
    ld->first_new = c->n_listeners;
    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }
}

/* ---- public API ---- */

void conf_init(struct conf *c)
{
    memset(c, 0, sizeof *c);
    c->listeners = NULL;
    c->n_listeners = 0;
    c->allow_anonymous = false;
    c->allow_anonymous_set = false;
    c->max_queued_messages = 1000;
    c->max_queued_bytes = 0;
    c->max_inflight_messages = 20;
    c->message_size_limit = 0;
    c->max_connections = -1;
    c->max_connections_set = false;
    c->memory_limit = -1;
    c->max_connections_per_address = -1;
    c->max_keepalive = 65535;
    c->persistent_client_expiration = 0;
    c->retain_available = true;
    c->queue_qos0_messages = false;
    c->log_dest = CONF_LOG_STDERR;
    c->log_dest_set = false;
    c->log_file = NULL;
    c->log_type = CONF_LOGT_ERROR | CONF_LOGT_WARNING | CONF_LOGT_NOTICE |
                  CONF_LOGT_INFORMATION;
    c->log_type_set = false;
    c->connection_messages = true;
    c->persistence = false;
    c->persistence_location = NULL;
    c->persistence_sync = CONF_PSYNC_TURN;
    c->persistence_sync_interval = 0;
    c->password_file = NULL;
    c->acl_file = NULL;
    c->autosave_interval = 1800;
    c->sys_interval = 10;
    c->retry_max_interval = 60;
}

void conf_cleanup(struct conf *c)
{
    for (size_t i = 0; i < c->n_listeners; i++) {
        free(c->listeners[i].address);
        free(c->listeners[i].certfile);
        free(c->listeners[i].keyfile);
        free(c->listeners[i].cafile);
        free(c->listeners[i].capath);
        free(c->listeners[i].tls_version);
        free(c->listeners[i].ciphers);
        free(c->listeners[i].http_dir);
    }
    free(c->listeners);
    free(c->log_file);
    free(c->persistence_location);
    free(c->password_file);
    free(c->dead_letter_topic);
    for (size_t i = 0; i < c->n_expiry_rules; i++) {
        free(c->expiry_rules[i].filter);
    }
    free(c->expiry_rules);
    free(c->acl_file);
    for (size_t i = 0; i < c->n_bridges; i++) {
        conf_bridge_free(&c->bridges[i]);
    }
    free(c->bridges);
    conf_init(c);
}

int conf_load_file(struct conf *c, const char *path, char *err, size_t errlen,
                   conf_warn_fn warn_fn, void *warn_ctx)
{
    struct load ld;
    load_init(&ld, c, err, errlen, warn_fn, warn_ctx);
    int rc = finish(&ld, load_path(&ld, path, 0));
    return rc == TERN_OK ? conf_bridge_finish(c, err, errlen) : rc;
}

int conf_load_string(struct conf *c, const char *name, const char *text, size_t len,
                     char *err, size_t errlen, conf_warn_fn warn_fn, void *warn_ctx)
{
    struct load ld;
    load_init(&ld, c, err, errlen, warn_fn, warn_ctx);
    int rc = finish(&ld, parse_text(&ld, name != NULL ? name : "(string)", text, len, 0));
    return rc == TERN_OK ? conf_bridge_finish(c, err, errlen) : rc;
}

int conf_add_listener(struct conf *c, uint16_t port, const char *address)
{
    char *copy = NULL;
    if (address != NULL && (copy = strdup(address)) == NULL) {
        return TERN_ENOMEM;
    }
    if (append_listener(c, port, copy, c->max_connections) != TERN_OK) {
        free(copy);
        return TERN_ENOMEM;
    }
    return TERN_OK;
}
