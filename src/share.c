/*
 * Shared subscriptions (see share.h for the rules). A group is (name, filter) with an array
 * of members and a round-robin cursor; choosing a member is a scan from the cursor, so each
 * member is tried once per message at most.
 */
#include "share.h"

#include <string.h>

#include "broker.h"
#include "session.h"
#include "tern/err.h"
#include "tern/msg.h"
#include "topic_tree.h"

#define SHARE_PREFIX "$share/"
#define SHARE_PREFIX_LEN 7

struct share_member {
    struct sess *s;                  /* borrowed */
    uint8_t qos;
};

struct share_group {
    char *name;                      /* "$share/GROUP/FILTER" as subscribed, owned */
    size_t name_len;
    const uint8_t *filter;           /* the FILTER part, inside name */
    size_t filter_len;
    struct share_member *m;
    size_t n;
    size_t cap;
    size_t next;                     /* round-robin cursor */
};

bool share_is_shared(const uint8_t *filter, size_t len)
{
    return len >= SHARE_PREFIX_LEN && memcmp(filter, SHARE_PREFIX, SHARE_PREFIX_LEN) == 0;
}

int share_parse(const uint8_t *filter, size_t len, const uint8_t **group, size_t *glen,
                const uint8_t **real, size_t *rlen)
{
    if (!share_is_shared(filter, len))
        return TERN_EINVAL;
    const uint8_t *g = filter + SHARE_PREFIX_LEN;
    size_t rest = len - SHARE_PREFIX_LEN;
    const uint8_t *slash = memchr(g, '/', rest);
    if (slash == NULL || slash == g)
        return TERN_EINVAL;
    size_t gl = (size_t)(slash - g);
    if (memchr(g, '+', gl) != NULL || memchr(g, '#', gl) != NULL)
        return TERN_EINVAL;
    if (rest - gl - 1 == 0)
        return TERN_EINVAL;
    *group = g;
    *glen = gl;
    *real = slash + 1;
    *rlen = rest - gl - 1;
    return TERN_OK;
}

static struct share_group *group_find(const struct broker *b, const uint8_t *f, size_t len,
                                      size_t *idx)
{
    for (size_t i = 0; i < b->shares.n; i++) {
        struct share_group *g = b->shares.groups[i];
        if (g->name_len == len && memcmp(g->name, f, len) == 0) {
            if (idx != NULL)
                *idx = i;
            return g;
        }
    }
    return NULL;
}

static struct share_group *group_new(struct broker *b, const uint8_t *f, size_t len)
{
    const uint8_t *gname;
    const uint8_t *real;
    size_t glen;
    size_t rlen;
    if (share_parse(f, len, &gname, &glen, &real, &rlen) != TERN_OK)
        return NULL;
    struct share_table *t = &b->shares;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4;
        struct share_group **a = mem_realloc(&b->mem, t->groups, cap * sizeof *a);
        if (a == NULL)
            return NULL;
        t->groups = a;
        t->cap = cap;
    }
    struct share_group *g = mem_calloc(&b->mem, 1, sizeof *g);
    if (g == NULL || (g->name = mem_strndup(&b->mem, f, len)) == NULL) {
        mem_free(&b->mem, g);
        return NULL;
    }
    g->name_len = len;
    g->filter = (const uint8_t *)g->name + (real - f);
    g->filter_len = rlen;
    t->groups[t->n++] = g;
    return g;
}

static void group_free(struct broker *b, size_t idx)
{
    struct share_group *g = b->shares.groups[idx];
    mem_free(&b->mem, g->m);
    mem_free(&b->mem, g->name);
    mem_free(&b->mem, g);
    b->shares.groups[idx] = b->shares.groups[--b->shares.n];
}

int share_subscribe(struct broker *b, const uint8_t *filter, size_t len, struct sess *s,
                    uint8_t qos)
{
    const uint8_t *gname;
    const uint8_t *real;
    size_t glen;
    size_t rlen;
    if (share_parse(filter, len, &gname, &glen, &real, &rlen) != TERN_OK)
        return TERN_EINVAL;
    struct share_group *g = group_find(b, filter, len, NULL);
    if (g == NULL && (g = group_new(b, filter, len)) == NULL)
        return TERN_ENOMEM;
    for (size_t i = 0; i < g->n; i++) {
        if (g->m[i].s == s) {
            g->m[i].qos = qos;
            return TERN_OK;
        }
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 4;
        struct share_member *a = mem_realloc(&b->mem, g->m, cap * sizeof *a);
        if (a == NULL) {
            if (g->n == 0)
                share_unsubscribe(b, filter, len, s);
            return TERN_ENOMEM;
        }
        g->m = a;
        g->cap = cap;
    }
    g->m[g->n++] = (struct share_member){s, qos};
    return TERN_OK;
}

void share_unsubscribe(struct broker *b, const uint8_t *filter, size_t len, struct sess *s)
{
    size_t idx;
    struct share_group *g = group_find(b, filter, len, &idx);
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n; i++) {
        if (g->m[i].s == s) {
            memmove(&g->m[i], &g->m[i + 1], (g->n - i - 1) * sizeof g->m[0]);
            g->n--;
            if (g->next > i)
                g->next--;
            break;
        }
    }
    if (g->n == 0)
        group_free(b, idx);
}

/* The member to deliver to: the first from the cursor that can take a message now, else the
 * first online one, else the first; never `except`. Returns its index or -1. */
static long pick(const struct share_group *g, const struct sess *except)
{
    long online = -1;
    long any = -1;
    for (size_t k = 0; k < g->n; k++) {
        size_t i = (g->next + k) % g->n;
        const struct sess *s = g->m[i].s;
        if (s == except)
            continue;
        if (sess_can_take(s))
            return (long)i;
        if (online < 0 && s->conn != NULL)
            online = (long)i;
        if (any < 0)
            any = (long)i;
    }
    return online >= 0 ? online : any;
}

static void deliver(struct share_group *g, struct msg *m, const struct sess *except)
{
    long i = pick(g, except);
    if (i < 0)
        return;
    g->next = ((size_t)i + 1) % g->n;
    struct share_member *mb = &g->m[i];
    sess_deliver_shared(mb->s, m, m->qos < mb->qos ? m->qos : mb->qos);
}

void share_publish(struct broker *b, struct msg *m)
{
    for (size_t i = 0; i < b->shares.n; i++) {
        struct share_group *g = b->shares.groups[i];
        if (topic_filter_matches(g->filter, g->filter_len, (const uint8_t *)m->topic,
                                 m->topic_len))
            deliver(g, m, NULL);
    }
}

struct handover_ctx {
    struct broker *b;
    struct sess *from;
};

/* One unacknowledged shared delivery of ctx->from: to another member of the first group that
 * has from as a member, another member, and a filter matching the topic. */
static void hand_one(void *ctx, struct msg *m)
{
    struct handover_ctx *h = ctx;
    for (size_t i = 0; i < h->b->shares.n; i++) {
        struct share_group *g = h->b->shares.groups[i];
        bool member = false;
        for (size_t k = 0; k < g->n && !member; k++)
            member = g->m[k].s == h->from;
        if (!member || g->n < 2 ||
            !topic_filter_matches(g->filter, g->filter_len, (const uint8_t *)m->topic,
                                  m->topic_len))
            continue;
        deliver(g, m, h->from);
        return;
    }
}

void share_handover(struct broker *b, struct sess *s)
{
    struct handover_ctx h = {b, s};
    sess_take_shared(s, hand_one, &h);
}

size_t share_count(const struct broker *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->shares.n; i++)
        n += b->shares.groups[i]->n;
    return n;
}

void share_free_all(struct broker *b)
{
    while (b->shares.n > 0)
        group_free(b, b->shares.n - 1);
    mem_free(&b->mem, b->shares.groups);
    memset(&b->shares, 0, sizeof b->shares);
}
