/*
 * Bridge sections of the config, in Mosquitto's syntax (mosquitto.conf(5), "Configuring
 * Bridges"): "connection NAME" opens a section and the bridge keys that follow apply to it;
 * a bridge key before any connection line is an error. conf.c hands every line whose key it
 * does not know to conf_bridge_key first and turns a refusal into "FILE:LINE: reason".
 *
 * Keys: address HOST[:PORT] (one address; default port 1883), topic PATTERN [in|out|both
 * [QOS [LOCAL_PREFIX REMOTE_PREFIX]]] ("" stands for an empty pattern or prefix), remote_clientid,
 * local_clientid, remote_username, remote_password, cleansession, try_private,
 * keepalive_interval, restart_timeout BASE [CAP], and TLS: bridge_cafile or bridge_capath
 * (either turns TLS on), bridge_certfile with bridge_keyfile, bridge_insecure. The files are
 * read when the bridge starts (net_tls.c), so a bad one stops start-up naming the section.
 *
 * Plain malloc/free, as in conf.c: the config is read before the broker's accounting exists.
 */
#include "conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/codec.h"
#include "tern/err.h"

static int why_f(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int why_f(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return TERN_ECONF;
}

static struct conf_bridge *current(struct conf *c)
{
    return c->n_bridges > 0 ? &c->bridges[c->n_bridges - 1] : NULL;
}

/* Parses a plain decimal in [min, max]. */
static bool parse_long(const char *tok, long min, long max, long *out)
{
    if (tok == NULL || *tok == '\0' || strspn(tok, "0123456789") != strlen(tok))
        return false;
    errno = 0;
    long v = strtol(tok, NULL, 10);
    if (errno == ERANGE || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* "" in the file stands for the empty string. */
static char *dup_token(const char *tok)
{
    return strdup(strcmp(tok, "\"\"") == 0 ? "" : tok);
}

static int one_token(const char *key, char *rest, char **out, char *why, size_t whylen)
{
    *out = conf_next_token(&rest);
    if (*out == NULL)
        return why_f(why, whylen, "%s: missing value", key);
    char *extra = conf_next_token(&rest);
    if (extra != NULL)
        return why_f(why, whylen, "%s: unexpected extra value '%.64s'", key, extra);
    return TERN_OK;
}

static int key_connection(struct conf *c, const char *file, unsigned long line, char *rest,
                          char *why, size_t whylen)
{
    char *name;
    int rc = one_token("connection", rest, &name, why, whylen);
    if (rc != TERN_OK)
        return rc;
    for (size_t i = 0; i < c->n_bridges; i++) {
        if (strcmp(c->bridges[i].name, name) == 0)
            return why_f(why, whylen, "connection: duplicate bridge name '%.64s'", name);
    }
    struct conf_bridge *a = realloc(c->bridges, (c->n_bridges + 1) * sizeof *a);
    if (a == NULL)
        return why_f(why, whylen, "out of memory");
    c->bridges = a;
    struct conf_bridge *br = &a[c->n_bridges];
    memset(br, 0, sizeof *br);
    br->name = strdup(name);
    br->file = strdup(file);
    br->line = line;
    br->port = 1883;
    br->try_private = true;
    br->keepalive = 60;
    br->restart_base = 5;
    br->restart_cap = 30;
    c->n_bridges++;
    if (br->name == NULL || br->file == NULL)
        return why_f(why, whylen, "out of memory");
    return TERN_OK;
}

static int key_address(struct conf_bridge *br, const char *key, unsigned long line, char *rest,
                       char *why, size_t whylen)
{
    char *tok;
    int rc = one_token(key, rest, &tok, why, whylen);
    if (rc == TERN_ECONF && strstr(why, "extra value") != NULL)
        return why_f(why, whylen, "%s: only one address per bridge is supported", key);
    if (rc != TERN_OK)
        return rc;
    if (br->host != NULL)
        return why_f(why, whylen, "%s: duplicate value (already set to '%.64s')", key,
                     br->host);
    /* HOST:PORT; an IPv6 address is written [ADDR]:PORT or bare (no port). */
    char *colon = strrchr(tok, ':');
    char *host = tok;
    if (tok[0] == '[') {
        char *end = strchr(tok, ']');
        if (end == NULL)
            return why_f(why, whylen, "%s: '%.64s' lacks the closing ']'", key, tok);
        *end = '\0';
        host = tok + 1;
        colon = end[1] == ':' ? end + 1 : NULL;
        if (colon == NULL && end[1] != '\0')
            return why_f(why, whylen, "%s: unexpected '%.64s' after ']'", key, end + 1);
    } else if (colon != NULL && strchr(tok, ':') != colon) {
        colon = NULL;                       /* bare IPv6 address */
    }
    if (colon != NULL) {
        long port;
        if (!parse_long(colon + 1, 1, 65535, &port))
            return why_f(why, whylen, "%s: invalid port '%.64s' (1-65535)", key, colon + 1);
        *colon = '\0';
        br->port = (uint16_t)port;
    }
    if (*host == '\0')
        return why_f(why, whylen, "%s: missing host", key);
    br->host = strdup(host);
    br->address_line = line;
    return br->host == NULL ? why_f(why, whylen, "out of memory") : TERN_OK;
}

/* True when prefix holds no wildcard, so prefix + pattern stays a valid filter. */
static bool prefix_ok(const char *p)
{
    return strpbrk(p, "+#") == NULL;
}

static int key_topic(struct conf_bridge *br, const char *key, char *rest, char *why,
                     size_t whylen)
{
    char *pattern = conf_next_token(&rest);
    char *dir = conf_next_token(&rest);
    char *qos = conf_next_token(&rest);
    char *lp = conf_next_token(&rest);
    char *rp = conf_next_token(&rest);
    char *extra = conf_next_token(&rest);
    if (pattern == NULL)
        return why_f(why, whylen, "%s: missing pattern", key);
    if (extra != NULL)
        return why_f(why, whylen, "%s: unexpected extra value '%.64s'", key, extra);
    if (lp != NULL && rp == NULL)
        return why_f(why, whylen, "%s: a local prefix needs a remote prefix too", key);
    struct conf_bridge_topic t = {.dir = CONF_BRIDGE_OUT, .qos = 0};
    if (dir != NULL) {
        if (strcmp(dir, "out") == 0)
            t.dir = CONF_BRIDGE_OUT;
        else if (strcmp(dir, "in") == 0)
            t.dir = CONF_BRIDGE_IN;
        else if (strcmp(dir, "both") == 0)
            t.dir = CONF_BRIDGE_BOTH;
        else
            return why_f(why, whylen, "%s: direction '%.64s' is not in, out or both", key,
                         dir);
    }
    long q = 0;
    if (qos != NULL && !parse_long(qos, 0, 2, &q))
        return why_f(why, whylen, "%s: QoS '%.64s' is not 0, 1 or 2", key, qos);
    t.qos = (uint8_t)q;
    t.pattern = dup_token(pattern);
    t.local_prefix = dup_token(lp != NULL ? lp : "\"\"");
    t.remote_prefix = dup_token(rp != NULL ? rp : "\"\"");
    int rc = TERN_OK;
    if (t.pattern == NULL || t.local_prefix == NULL || t.remote_prefix == NULL) {
        rc = why_f(why, whylen, "out of memory");
    } else if (!prefix_ok(t.local_prefix) || !prefix_ok(t.remote_prefix)) {
        rc = why_f(why, whylen, "%s: a prefix may not contain + or #", key);
    } else {
        /* Both full filters must be valid MQTT filters. */
        for (int side = 0; side < 2 && rc == TERN_OK; side++) {
            const char *pre = side == 0 ? t.local_prefix : t.remote_prefix;
            size_t n = strlen(pre) + strlen(t.pattern);
            char *f = malloc(n + 1);
            if (f == NULL) {
                rc = why_f(why, whylen, "out of memory");
                break;
            }
            snprintf(f, n + 1, "%s%s", pre, t.pattern);
            if (!codec_topic_filter_valid((const uint8_t *)f, n))
                rc = why_f(why, whylen, "%s: '%.64s' is not a valid topic filter", key, f);
            free(f);
        }
    }
    struct conf_bridge_topic *a = NULL;
    if (rc == TERN_OK) {
        a = realloc(br->topics, (br->n_topics + 1) * sizeof *a);
        if (a == NULL)
            rc = why_f(why, whylen, "out of memory");
    }
    if (rc != TERN_OK) {
        free(t.pattern);
        free(t.local_prefix);
        free(t.remote_prefix);
        return rc;
    }
    br->topics = a;
    br->topics[br->n_topics++] = t;
    return TERN_OK;
}

static int string_key(const char *key, char *rest, char **out, char *why, size_t whylen)
{
    char *tok;
    int rc = one_token(key, rest, &tok, why, whylen);
    if (rc != TERN_OK)
        return rc;
    if (*out != NULL)
        return why_f(why, whylen, "%s: duplicate value (already set to '%.64s')", key, *out);
    *out = strdup(tok);
    return *out == NULL ? why_f(why, whylen, "out of memory") : TERN_OK;
}

static int bool_key(const char *key, char *rest, bool *out, char *why, size_t whylen)
{
    char *tok;
    int rc = one_token(key, rest, &tok, why, whylen);
    if (rc != TERN_OK)
        return rc;
    if (strcmp(tok, "true") == 0)
        *out = true;
    else if (strcmp(tok, "false") == 0)
        *out = false;
    else
        return why_f(why, whylen, "%s: '%.64s' is not a boolean (use true or false)", key, tok);
    return TERN_OK;
}

static int key_restart_timeout(struct conf_bridge *br, const char *key, char *rest, char *why,
                               size_t whylen)
{
    char *base = conf_next_token(&rest);
    char *cap = conf_next_token(&rest);
    char *extra = conf_next_token(&rest);
    long b;
    long c;
    if (base == NULL)
        return why_f(why, whylen, "%s: missing value", key);
    if (extra != NULL)
        return why_f(why, whylen, "%s: unexpected extra value '%.64s'", key, extra);
    if (!parse_long(base, 1, 86400, &b))
        return why_f(why, whylen, "%s: '%.64s' is not a number of seconds (1-86400)", key,
                     base);
    c = b;
    if (cap != NULL && (!parse_long(cap, 1, 86400, &c) || c < b))
        return why_f(why, whylen, "%s: cap '%.64s' must be a number of seconds at least %ld",
                     key, cap, b);
    /* One value is Mosquitto's fixed delay; two are the backoff's base and cap. */
    br->restart_base = b;
    br->restart_cap = c;
    return TERN_OK;
}

static const char *const tls_keys[] = {
    "bridge_cafile", "bridge_capath", "bridge_certfile", "bridge_keyfile",
};

static const char *const bridge_keys[] = {
    "address", "addresses", "topic", "remote_clientid", "local_clientid", "remote_username",
    "remote_password", "cleansession", "try_private", "keepalive_interval", "restart_timeout",
    "bridge_insecure",
};

static bool in_list(const char *key, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(key, list[i]) == 0)
            return true;
    }
    return false;
}

int conf_bridge_key(struct conf *c, const char *file, unsigned long line, const char *key,
                    char *rest, char *why, size_t whylen)
{
    if (strcmp(key, "connection") == 0)
        return key_connection(c, file, line, rest, why, whylen);
    bool tls = in_list(key, tls_keys, sizeof tls_keys / sizeof tls_keys[0]);
    if (!tls && !in_list(key, bridge_keys, sizeof bridge_keys / sizeof bridge_keys[0]))
        return TERN_ENOTFOUND;
    struct conf_bridge *br = current(c);
    if (br == NULL)
        return why_f(why, whylen, "%s: no bridge defined yet (put it after a 'connection "
                     "NAME' line)", key);
    if (strcmp(key, "bridge_insecure") == 0)
        return bool_key(key, rest, &br->insecure, why, whylen);
    if (tls) {
        char **field = strcmp(key, "bridge_cafile") == 0   ? &br->cafile
                       : strcmp(key, "bridge_capath") == 0 ? &br->capath
                       : strcmp(key, "bridge_certfile") == 0 ? &br->certfile
                                                             : &br->keyfile;
        const char *v = rest;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v == '\0')
            return why_f(why, whylen, "%s: missing value", key);
        if (*field != NULL)
            return why_f(why, whylen, "%s: duplicate value (already set to '%.64s')", key,
                         *field);
        *field = strdup(v);
        return *field == NULL ? why_f(why, whylen, "out of memory") : TERN_OK;
    }
    long v;
    char *tok;
    int rc;
    if (strcmp(key, "address") == 0 || strcmp(key, "addresses") == 0)
        return key_address(br, key, line, rest, why, whylen);
    if (strcmp(key, "topic") == 0)
        return key_topic(br, key, rest, why, whylen);
    if (strcmp(key, "remote_clientid") == 0)
        return string_key(key, rest, &br->remote_clientid, why, whylen);
    if (strcmp(key, "local_clientid") == 0)
        return string_key(key, rest, &br->local_clientid, why, whylen);
    if (strcmp(key, "remote_username") == 0)
        return string_key(key, rest, &br->remote_username, why, whylen);
    if (strcmp(key, "remote_password") == 0)
        return string_key(key, rest, &br->remote_password, why, whylen);
    if (strcmp(key, "cleansession") == 0)
        return bool_key(key, rest, &br->cleansession, why, whylen);
    if (strcmp(key, "try_private") == 0)
        return bool_key(key, rest, &br->try_private, why, whylen);
    if (strcmp(key, "restart_timeout") == 0)
        return key_restart_timeout(br, key, rest, why, whylen);
    /* keepalive_interval */
    rc = one_token(key, rest, &tok, why, whylen);
    if (rc != TERN_OK)
        return rc;
    if (!parse_long(tok, 1, 65535, &v))
        return why_f(why, whylen, "%s: '%.64s' is not a number of seconds (1-65535)", key, tok);
    br->keepalive = v;
    return TERN_OK;
}

int conf_bridge_finish(const struct conf *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->n_bridges; i++) {
        const struct conf_bridge *br = &c->bridges[i];
        if (br->host == NULL)
            return conf_errorf(err, errlen, br->file, br->line,
                               "connection %s: no address given", br->name);
        if (br->n_topics == 0)
            return conf_errorf(err, errlen, br->file, br->line,
                               "connection %s: no topic given", br->name);
        if (br->remote_password != NULL && br->remote_username == NULL)
            return conf_errorf(err, errlen, br->file, br->line, "connection %s: "
                               "remote_password needs remote_username (MQTT 3.1.2.9)",
                               br->name);
        if ((br->certfile == NULL) != (br->keyfile == NULL))
            return conf_errorf(err, errlen, br->file, br->line, "connection %s: "
                               "bridge_certfile and bridge_keyfile go together", br->name);
        if (br->certfile != NULL && br->cafile == NULL && br->capath == NULL)
            return conf_errorf(err, errlen, br->file, br->line, "connection %s: a client "
                               "certificate needs bridge_cafile or bridge_capath (TLS)",
                               br->name);
    }
    return TERN_OK;
}

void conf_bridge_free(struct conf_bridge *br)
{
    for (size_t i = 0; i < br->n_topics; i++) {
        free(br->topics[i].pattern);
        free(br->topics[i].local_prefix);
        free(br->topics[i].remote_prefix);
    }
    free(br->topics);
    free(br->name);
    free(br->file);
    free(br->host);
    free(br->remote_clientid);
    free(br->local_clientid);
    free(br->remote_username);
    free(br->remote_password);
    free(br->cafile);
    free(br->capath);
    free(br->certfile);
    free(br->keyfile);
}
