/*
 * Connections per client address: see peer_count.h. The table is kept at most half full, so
 * probe sequences stay short; deletion shifts later entries of the same run back instead of
 * leaving tombstones, so churn never degrades lookups.
 */
#include "peer_count.h"

#include <stdbool.h>
#include <string.h>

#include "mem.h"
#include "tern/err.h"

/* Length of the host part of "ADDRESS:PORT" (everything before the last ':'), capped. */
static size_t host_len(const char *peer)
{
    const char *colon = strrchr(peer, ':');
    size_t n = colon != NULL ? (size_t)(colon - peer) : strlen(peer);
    return n < PEER_HOST_MAX - 1 ? n : PEER_HOST_MAX - 1;
}

static size_t hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 1099511628211ull;
    }
    return (size_t)(h ^ (h >> 29));
}

static bool same(const struct peer_slot *s, const char *p, size_t n)
{
    return strncmp(s->host, p, n) == 0 && s->host[n] == '\0';
}

/* The slot holding host p[0..n), or the empty slot where it would go. */
static struct peer_slot *find(const struct peer_count *t, const char *p, size_t n)
{
    size_t mask = t->cap - 1;
    for (size_t i = hash(p, n) & mask;; i = (i + 1) & mask) {
        struct peer_slot *s = &t->slots[i];
        if (s->host[0] == '\0' || same(s, p, n))
            return s;
    }
}

static int grow(struct peer_count *t, struct mem *m)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    struct peer_slot *old = t->slots;
    size_t old_cap = t->cap;
    struct peer_slot *slots = mem_calloc(m, cap, sizeof *slots);
    if (slots == NULL)
        return TERN_ENOMEM;
    t->slots = slots;
    t->cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].host[0] != '\0')
            *find(t, old[i].host, strlen(old[i].host)) = old[i];
    }
    mem_free(m, old);
    return TERN_OK;
}

uint32_t peer_count_get(const struct peer_count *t, const char *peer)
{
    if (t->used == 0)
        return 0;
    size_t n = host_len(peer);
    return find(t, peer, n)->count;
}

int peer_count_add(struct peer_count *t, struct mem *m, const char *peer)
{
    size_t n = host_len(peer);
    if (n == 0)
        return TERN_OK;
    if ((t->used + 1) * 2 > t->cap && grow(t, m) != TERN_OK)
        return TERN_ENOMEM;
    struct peer_slot *s = find(t, peer, n);
    if (s->host[0] == '\0') {
        memcpy(s->host, peer, n);
        s->host[n] = '\0';
        s->count = 0;
        t->used++;
    }
    s->count++;
    return TERN_OK;
}

void peer_count_remove(struct peer_count *t, struct mem *m, const char *peer)
{
    size_t n = host_len(peer);
    if (t->used == 0 || n == 0)
        return;
    struct peer_slot *s = find(t, peer, n);
    if (s->host[0] == '\0' || --s->count > 0)
        return;
    /* Backward-shift deletion: move up every later entry of the run whose home slot is at or
     * before the hole, so no lookup ever stops early at it. */
    size_t mask = t->cap - 1;
    size_t hole = (size_t)(s - t->slots);
    for (size_t i = (hole + 1) & mask; t->slots[i].host[0] != '\0'; i = (i + 1) & mask) {
        struct peer_slot *e = &t->slots[i];
        size_t home = hash(e->host, strlen(e->host)) & mask;
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            t->slots[hole] = *e;
            hole = i;
        }
    }
    t->slots[hole].host[0] = '\0';
    t->slots[hole].count = 0;
    if (--t->used == 0)
        peer_count_cleanup(t, m);
}

void peer_count_cleanup(struct peer_count *t, struct mem *m)
{
    mem_free(m, t->slots);
    memset(t, 0, sizeof *t);
}
