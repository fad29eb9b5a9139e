/*
 * A hash table of topic levels: the children of one node in the subscription tree
 * (topic_tree.c) or the retained-message tree (retain.c), keyed by the level's bytes.
 *
 * The table is intrusive: it stores pointers to a struct level_key that each node embeds as its
 * first member, so a lookup returns the node without a second allocation. Open addressing with
 * linear probing over a power-of-two array; a table starts with no array (cost 0 for leaves),
 * grows at 3/4 load and shrinks when it falls under 1/8, and deletes by backward shift, so there
 * are no tombstones and a lookup never scans more than one probe run. Level names are raw bytes
 * (MQTT 3.1.1 section 4.7.3: case-sensitive, an empty level is a level like any other).
 */
#ifndef TERN_LEVEL_HASH_H
#define TERN_LEVEL_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mem;

/* Embedded as the first member of a tree node; name points at bytes the node owns. */
struct level_key {
    const uint8_t *name;
    uint32_t len;
    uint32_t hash;      /* level_hash_of(name, len, seed of the owning tree) */
};

struct level_hash {
    struct level_key **slots;   /* cap entries, NULL = empty; NULL array when cap == 0 */
    uint32_t cap;               /* 0 or a power of two */
    uint32_t count;
};

/* Hash of one level's bytes; seed varies per tree so crafted names cannot be precomputed. */
uint32_t level_hash_of(const uint8_t *p, size_t len, uint32_t seed);

/* Caller-owned storage: init makes an empty table, cleanup frees its array (not the keys). */
void level_hash_init(struct level_hash *h);
void level_hash_cleanup(struct level_hash *h, struct mem *mem);

/* Returns the key equal to (name, len) whose hash is hash, or NULL. Borrows everything. */
struct level_key *level_hash_find(const struct level_hash *h, const uint8_t *name, size_t len,
                                  uint32_t hash);

/* Makes room for one more key so the next level_hash_insert cannot fail.
 * Returns TERN_OK or TERN_ENOMEM (the table is unchanged then). */
int level_hash_reserve(struct level_hash *h, struct mem *mem);

/* Inserts k (borrowed; not already present). Call level_hash_reserve first. */
void level_hash_insert(struct level_hash *h, struct level_key *k);

/* Removes k, which must be present. Shrinks the array when that succeeds; never fails. */
void level_hash_remove(struct level_hash *h, struct mem *mem, const struct level_key *k);

/* Returns the slot index holding k, which must be present. */
uint32_t level_hash_slot_of(const struct level_hash *h, const struct level_key *k);

/* Returns the first key in a slot at index >= *i and sets *i to that index, or NULL.
 * Iterating with i = 0, then i = slot + 1, visits every key once while the table is unchanged. */
struct level_key *level_hash_next(const struct level_hash *h, uint32_t *i);

#endif
