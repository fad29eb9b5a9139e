/*
 * The per-node table of topic levels: see level_hash.h. Linear probing keeps a lookup inside
 * one cache line or two for the small tables most nodes have; the stored hash is compared
 * before the bytes so a probe past a different level rarely touches its name.
 */
#include "level_hash.h"

#include <string.h>

#include "mem.h"
#include "tern/err.h"

#define MIN_CAP 4u

uint32_t level_hash_of(const uint8_t *p, size_t len, uint32_t seed)
{
    /* FNV-1a with a seeded basis, then the murmur3 finaliser so the low bits used as the
     * slot index depend on every input byte. */
    uint32_t h = 2166136261u ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    h ^= (uint32_t)len;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

void level_hash_init(struct level_hash *h)
{
    h->slots = NULL;
    h->cap = 0;
    h->count = 0;
}

void level_hash_cleanup(struct level_hash *h, struct mem *mem)
{
    mem_free(mem, h->slots);
    level_hash_init(h);
}

struct level_key *level_hash_find(const struct level_hash *h, const uint8_t *name, size_t len,
                                  uint32_t hash)
{
    if (h->count == 0)
        return NULL;
    uint32_t mask = h->cap - 1;
    for (uint32_t i = hash & mask;; i = (i + 1) & mask) {
        struct level_key *k = h->slots[i];
        if (k == NULL)
            return NULL;
        if (k->hash == hash && k->len == len && memcmp(k->name, name, len) == 0)
            return k;
    }
}

static void place(struct level_key **slots, uint32_t cap, struct level_key *k)
{
    uint32_t mask = cap - 1;
    uint32_t i = k->hash & mask;
    while (slots[i] != NULL)
        i = (i + 1) & mask;
    slots[i] = k;
}

/* Moves every key into a new array of cap slots; on ENOMEM the table is unchanged. */
static int rehash(struct level_hash *h, struct mem *mem, uint32_t cap)
{
    struct level_key **slots = NULL;
    if (cap > 0) {
        slots = mem_calloc(mem, cap, sizeof *slots);
        if (slots == NULL)
            return TERN_ENOMEM;
        for (uint32_t i = 0; i < h->cap; i++) {
            if (h->slots[i] != NULL)
                place(slots, cap, h->slots[i]);
        }
    }
    mem_free(mem, h->slots);
    h->slots = slots;
    h->cap = cap;
    return TERN_OK;
}

int level_hash_reserve(struct level_hash *h, struct mem *mem)
{
    /* Keep the load at or under 3/4 after the coming insert. */
    if ((uint64_t)(h->count + 1) * 4 <= (uint64_t)h->cap * 3)
        return TERN_OK;
    if (h->cap > UINT32_MAX / 2)
        return TERN_ENOMEM;
    return rehash(h, mem, h->cap == 0 ? MIN_CAP : h->cap * 2);
}

void level_hash_insert(struct level_hash *h, struct level_key *k)
{
    place(h->slots, h->cap, k);
    h->count++;
}

uint32_t level_hash_slot_of(const struct level_hash *h, const struct level_key *k)
{
    uint32_t mask = h->cap - 1;
    uint32_t i = k->hash & mask;
    while (h->slots[i] != k)
        i = (i + 1) & mask;
    return i;
}

void level_hash_remove(struct level_hash *h, struct mem *mem, const struct level_key *k)
{
    uint32_t mask = h->cap - 1;
    uint32_t hole = level_hash_slot_of(h, k);
    h->slots[hole] = NULL;
    h->count--;
    /* Backward-shift deletion: pull later keys of the probe run into the hole when the hole
     * lies on their path from their home slot, so lookups never need tombstones. */
    for (uint32_t i = (hole + 1) & mask; h->slots[i] != NULL; i = (i + 1) & mask) {
        uint32_t home = h->slots[i]->hash & mask;
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            h->slots[hole] = h->slots[i];
            h->slots[i] = NULL;
            hole = i;
        }
    }
    if (h->count == 0)
        level_hash_cleanup(h, mem);
    else if (h->cap > MIN_CAP && h->count * 8 < h->cap)
        (void)rehash(h, mem, h->cap / 2);
}

struct level_key *level_hash_next(const struct level_hash *h, uint32_t *i)
{
    for (uint32_t j = *i; j < h->cap; j++) {
        if (h->slots[j] != NULL) {
            *i = j;
            return h->slots[j];
        }
    }
    return NULL;
}
