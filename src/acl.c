/*
 * ACL file parsing and the access check; see acl.h for the syntax and the rule order.
 *
 * Compatibility with Mosquitto 2.0 (src/security_default.c, aclfile__parse and
 * mosquitto_acl_check_default): same syntax, deny rules tried first within each list, user
 * rules before patterns, the '$' rule, and refusal of '+'/'#' in usernames and client ids when
 * patterns exist. Filters are matched with MQTT 3.1.1 section 4.7 semantics ("a/#" also
 * matches "a"; "+" matches one level, an empty one included).
 */
#include "acl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "tern/codec.h"
#include "tern/err.h"

#define ACL_MAX_FILE (64u * 1024u * 1024u)
#define ACL_SUBST_STACK 512


/* ---- matching ---- */

bool acl_filter_matches(const char *filter, size_t flen, const uint8_t *topic, size_t tlen)
{
    size_t f = 0;
    size_t t = 0;
    for (;;) {
        /* At the start of a level in both. */
        if (f < flen && filter[f] == '#')
            return true;
        if (f < flen && filter[f] == '+') {
            while (t < tlen && topic[t] != '/')
                t++;
            f++;
        } else {
            while (f < flen && t < tlen && filter[f] != '/' && topic[t] != '/') {
                if ((uint8_t)filter[f] != topic[t])
                    return false;
                f++;
                t++;
            }
            if ((f < flen && filter[f] != '/') || (t < tlen && topic[t] != '/'))
                return false;
        }
        if (f == flen && t == tlen)
            return true;
        if (f == flen)
            return false;
        /* filter[f] == '/' */
        if (t == tlen) {
            /* "a/#" matches "a": the filter may end with "/#" here. */
            return flen - f == 2 && filter[f + 1] == '#';
        }
        f++;
        t++;
    }
}

/* ---- rules ---- */

static int list_add(struct mem *m, struct acl_list *l, const char *filter, size_t len,
                    uint8_t access)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct acl_rule *r = mem_realloc(m, l->rules, cap * sizeof *r);
        if (r == NULL)
            return TERN_ENOMEM;
        l->rules = r;
        l->cap = cap;
    }
    struct acl_rule r;
    r.filter = mem_strndup(m, filter, len);
    if (r.filter == NULL)
        return TERN_ENOMEM;
    r.access = access;
    r.needs_user = strstr(r.filter, "%u") != NULL;
    r.subst = r.needs_user || strstr(r.filter, "%c") != NULL;
    /* Deny rules go after the deny rules already there, before every allowing rule. */
    size_t at = l->n;
    if (access == ACL_DENY) {
        at = 0;
        while (at < l->n && l->rules[at].access == ACL_DENY)
            at++;
        memmove(&l->rules[at + 1], &l->rules[at], (l->n - at) * sizeof r);
    }
    l->rules[at] = r;
    l->n++;
    return TERN_OK;
}

static void list_free(struct mem *m, struct acl_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        mem_free(m, l->rules[i].filter);
    mem_free(m, l->rules);
    mem_free(m, l->user);
    memset(l, 0, sizeof *l);
}

void acl_cleanup(struct acl *a)
{
    for (size_t i = 0; i < a->n_users; i++)
        list_free(a->mem, &a->users[i]);
    mem_free(a->mem, a->users);
    a->users = NULL;
    a->n_users = 0;
    list_free(a->mem, &a->anon);
    list_free(a->mem, &a->patterns);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* Cuts a leading "WORD " off *s when it is word; true if it was. */
static bool take_word(char **s, const char *word)
{
    size_t n = strlen(word);
    if (strncmp(*s, word, n) == 0 && ((*s)[n] == ' ' || (*s)[n] == '\t')) {
        *s = trim(*s + n);
        return true;
    }
    return false;
}

static struct acl_list *user_list(struct acl *a, const char *user, size_t *cap)
{
    for (size_t i = 0; i < a->n_users; i++) {
        if (strcmp(a->users[i].user, user) == 0)
            return &a->users[i];
    }
    if (a->n_users == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        struct acl_list *u = mem_realloc(a->mem, a->users, ncap * sizeof *u);
        if (u == NULL)
            return NULL;
        a->users = u;
        *cap = ncap;
    }
    struct acl_list *l = &a->users[a->n_users];
    memset(l, 0, sizeof *l);
    l->user = mem_strndup(a->mem, user, strlen(user));
    if (l->user == NULL)
        return NULL;
    a->n_users++;
    return l;
}

struct parse {
    struct acl *a;
    struct acl_list *cur;           /* current user's list (anon at first) */
    size_t users_cap;
    const char *name;
    unsigned long line;
    char *err;
    size_t errlen;
};

static int rule_line(struct parse *p, char *rest, bool pattern)
{
    uint8_t access = ACL_READ | ACL_WRITE;
    if (strcmp(rest, "read") == 0 || strcmp(rest, "write") == 0 ||
        strcmp(rest, "readwrite") == 0 || strcmp(rest, "deny") == 0)
        rest += strlen(rest);
    else if (take_word(&rest, "read"))
        access = ACL_READ;
    else if (take_word(&rest, "write"))
        access = ACL_WRITE;
    else if (take_word(&rest, "readwrite"))
        access = ACL_READ | ACL_WRITE;
    else if (take_word(&rest, "deny"))
        access = ACL_DENY;
    size_t len = strlen(rest);
    if (len == 0)
        return conf_errorf(p->err, p->errlen, p->name, p->line, "%s: missing topic filter",
                     pattern ? "pattern" : "topic");
    if (len > 65535 || !codec_topic_filter_valid((const uint8_t *)rest, len))
        return conf_errorf(p->err, p->errlen, p->name, p->line, "invalid topic filter '%.128s'",
                     rest);
    struct acl_list *l = pattern ? &p->a->patterns : p->cur;
    return list_add(p->a->mem, l, rest, len, access);
}

static int parse_line(struct parse *p, char *line)
{
    char *s = trim(line);
    if (*s == '\0' || *s == '#')
        return TERN_OK;
    char *rest = s;
    if (take_word(&rest, "topic"))
        return rule_line(p, rest, false);
    if (take_word(&rest, "pattern"))
        return rule_line(p, rest, true);
    if (take_word(&rest, "user")) {
        if (*rest == '\0')
            return conf_errorf(p->err, p->errlen, p->name, p->line, "user: missing username");
        p->cur = user_list(p->a, rest, &p->users_cap);
        return p->cur == NULL ? TERN_ENOMEM : TERN_OK;
    }
    if (strcmp(s, "user") == 0 || strcmp(s, "topic") == 0 || strcmp(s, "pattern") == 0)
        return conf_errorf(p->err, p->errlen, p->name, p->line, "%s: missing value", s);
    return conf_errorf(p->err, p->errlen, p->name, p->line,
                 "invalid line (expected user, topic or pattern): '%.64s'", s);
}

static int parse_one(void *ctx, char *line, unsigned long lineno)
{
    struct parse *p = ctx;
    p->line = lineno;
    return parse_line(p, line);
}

static int cmp_lists(const void *pa, const void *pb)
{
    return strcmp(((const struct acl_list *)pa)->user, ((const struct acl_list *)pb)->user);
}

int acl_load_string(struct acl *a, struct mem *m, const char *name, const char *text,
                    size_t len, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->mem = m;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    struct parse p = {.a = a, .cur = &a->anon, .name = name, .err = err, .errlen = errlen};
    int rc = conf_foreach_line(m, name, text, len, parse_one, &p, err, errlen);
    if (rc != TERN_OK) {
        acl_cleanup(a);
        return rc;
    }
    if (a->n_users > 1)
        qsort(a->users, a->n_users, sizeof *a->users, cmp_lists);
    return TERN_OK;
}

int acl_load_file(struct acl *a, struct mem *m, const char *path, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->mem = m;
    char *text;
    size_t len;
    int rc = buf_read_file(m, path, ACL_MAX_FILE, &text, &len, err, errlen);
    if (rc == TERN_OK)
        rc = acl_load_string(a, m, path, text, len, err, errlen);
    mem_free(m, text);
    return rc;
}

/* ---- the check ---- */

static const struct acl_list *find_user(const struct acl *a, const char *user)
{
    if (user == NULL)
        return &a->anon;
    size_t lo = 0;
    size_t hi = a->n_users;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(a->users[mid].user, user);
        if (c == 0)
            return &a->users[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* 1: allowed, 0: denied, -1: no rule decided. */
static int decide(uint8_t rule_access, unsigned access)
{
    if (rule_access == ACL_DENY)
        return 0;
    return (rule_access & access) != 0 ? 1 : -1;
}

/* Expands %c and %u of filter into out (cap bytes); returns the length or -1 if too long. */
static long expand(const char *filter, const char *user, const char *id, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *f = filter; *f != '\0'; f++) {
        const char *ins = NULL;
        if (f[0] == '%' && f[1] == 'c')
            ins = id;
        else if (f[0] == '%' && f[1] == 'u')
            ins = user;
        if (ins != NULL) {
            size_t il = strlen(ins);
            if (n + il > cap)
                return -1;
            memcpy(out + n, ins, il);
            n += il;
            f++;
            continue;
        }
        if (n + 1 > cap)
            return -1;
        out[n++] = *f;
    }
    return (long)n;
}

static int check_patterns(const struct acl *a, const char *user, const char *id,
                          const uint8_t *topic, size_t len, unsigned access)
{
    const struct acl_list *l = &a->patterns;
    if ((user != NULL && strpbrk(user, "+#") != NULL) || strpbrk(id, "+#") != NULL)
        return 0;
    char stack[ACL_SUBST_STACK];
    for (size_t i = 0; i < l->n; i++) {
        const struct acl_rule *r = &l->rules[i];
        if (r->needs_user && user == NULL)
            continue;
        if (len > 0 && topic[0] == '$' && r->filter[0] != '$')
            continue;
        bool match;
        if (!r->subst) {
            match = acl_filter_matches(r->filter, strlen(r->filter), topic, len);
        } else {
            size_t cap = strlen(r->filter) + (strlen(id) + (user ? strlen(user) : 0)) *
                                                  (strlen(r->filter) / 2 + 1);
            char *buf = cap <= sizeof stack ? stack : mem_alloc(a->mem, cap);
            if (buf == NULL)
                return 0;
            long n = expand(r->filter, user, id, buf, cap);
            match = n >= 0 && acl_filter_matches(buf, (size_t)n, topic, len);
            if (buf != stack)
                mem_free(a->mem, buf);
        }
        if (match) {
            int d = decide(r->access, access);
            if (d >= 0)
                return d;
        }
    }
    return 0;
}

bool acl_check(const struct acl *a, const char *username, const char *client_id,
               const uint8_t *topic, size_t len, unsigned access)
{
    const struct acl_list *l = find_user(a, username);
    for (size_t i = 0; l != NULL && i < l->n; i++) {
        const struct acl_rule *r = &l->rules[i];
        if (len > 0 && topic[0] == '$' && r->filter[0] != '$')
            continue;
        if (acl_filter_matches(r->filter, strlen(r->filter), topic, len)) {
            int d = decide(r->access, access);
            if (d >= 0)
                return d == 1;
        }
    }
    if (a->patterns.n == 0)
        return false;
    return check_patterns(a, username, client_id, topic, len, access) == 1;
}
