/*
 * The subscription index: see topic_tree.h (MQTT 3.1.1 sections 4.7.1 to 4.7.3).
 *
 * One node per filter level. A node keeps its literal children in a level_hash and its '+' and
 * '#' children in two separate pointers, so matching one topic level costs one hash lookup plus
 * the two wildcard branches that exist, whatever the number of unrelated subscriptions. A '#'
 * node is always a leaf; a node's subscribers are a compact array of (session, QoS), one entry
 * per session, since a session holds a filter at most once (3.8.4). A node with many
 * subscribers (one filter shared by thousands of clients) also indexes them by session in an
 * open-addressing table, so subscribe and unsubscribe stay O(1) there too.
 *
 * Invariants: every node but the root has subscribers or children (empty nodes are freed on
 * unsubscribe); every node knows its parent. The parent pointers let matching and freeing walk
 * the tree without recursion or an explicit stack, so a filter with thousands of levels costs
 * no stack depth and topic_match never allocates. The topic's first levels are split and
 * hashed once per call into a small array on the stack; levels deeper than that (rare) are
 * hashed when visited.
 */
#include "topic_tree.h"

#include <string.h>

#include "level_hash.h"
#include "mem.h"
#include "tern/err.h"

/* Levels of a topic split and hashed once per topic_match call. */
#define CACHED_LEVELS 64

struct topic_sub {
    struct sess *s;
    uint8_t qos;
};

struct tnode {
    struct level_key key;       /* first member: the level_hash stores &node->key */
    struct tnode *parent;
    struct level_hash children; /* literal levels */
    struct tnode *plus;
    struct tnode *multi;        /* the '#' child */
    struct topic_sub *subs;
    uint32_t *sub_idx;          /* by session: position + 1, 0 = empty; NULL for few subs */
    uint32_t nsubs;
    uint32_t cap_subs;
    uint32_t cap_idx;           /* 0 or a power of two */
    uint8_t name[];
};

struct topic_tree {
    struct mem *mem;
    struct tnode *root;
    size_t count;
    uint32_t seed;
};

/* One level of a string: [off, off + len). */
struct level {
    size_t off;
    size_t len;
};

static bool is_plus(const uint8_t *p, size_t len)
{
    return len == 1 && p[0] == '+';
}

static bool is_multi(const uint8_t *p, size_t len)
{
    return len == 1 && p[0] == '#';
}

/* Length of the level starting at off in s[0..len). */
static size_t level_len(const uint8_t *s, size_t len, size_t off)
{
    const uint8_t *slash = memchr(s + off, '/', len - off);
    return slash == NULL ? len - off : (size_t)(slash - (s + off));
}

/* Start of the level before the one starting at off (off > 0; off may be len + 1). */
static size_t prev_level_off(const uint8_t *s, size_t off)
{
    size_t start = off - 1;
    while (start > 0 && s[start - 1] != '/')
        start--;
    return start;
}

static struct tnode *node_new(struct mem *mem, const uint8_t *name, size_t len, uint32_t hash)
{
    struct tnode *n = mem_alloc(mem, sizeof *n + len);
    if (n == NULL)
        return NULL;
    memset(n, 0, sizeof *n);
    if (len > 0)
        memcpy(n->name, name, len);
    n->key.name = n->name;
    n->key.len = (uint32_t)len;
    n->key.hash = hash;
    level_hash_init(&n->children);
    return n;
}

static bool node_empty(const struct tnode *n)
{
    return n->nsubs == 0 && n->children.count == 0 && n->plus == NULL && n->multi == NULL;
}

/*
 * Frees top and everything below it without recursion: go down to a child while one is left,
 * free a node once it has none, then continue at its parent. Literal children are visited in
 * slot order and left in the parent's table, which is about to be freed whole; each child's
 * no longer needed key.hash keeps its slot index so the parent resumes after it. The '+' and
 * '#' children come after the literal ones and are unhooked once freed.
 */
static void subtree_free(struct mem *mem, struct tnode *top)
{
    struct tnode *n = top;
    uint32_t cursor = 0;
    while (n != NULL) {
        struct tnode *c = (struct tnode *)level_hash_next(&n->children, &cursor);
        if (c != NULL)
            c->key.hash = cursor;
        else
            c = n->plus != NULL ? n->plus : n->multi;
        if (c != NULL) {
            n = c;
            cursor = 0;
            continue;
        }
        struct tnode *p = n == top ? NULL : n->parent;
        if (p != NULL && (n == p->plus || n == p->multi)) {
            if (n == p->plus)
                p->plus = NULL;
            else
                p->multi = NULL;
            cursor = p->children.cap;
        } else if (p != NULL) {
            cursor = n->key.hash + 1;
        }
        level_hash_cleanup(&n->children, mem);
        mem_free(mem, n->sub_idx);
        mem_free(mem, n->subs);
        mem_free(mem, n);
        n = p;
    }
}

struct topic_tree *topic_tree_new(struct mem *mem)
{
    struct topic_tree *t = mem_alloc(mem, sizeof *t);
    if (t == NULL)
        return NULL;
    t->root = node_new(mem, NULL, 0, 0);
    if (t->root == NULL) {
        mem_free(mem, t);
        return NULL;
    }
    t->mem = mem;
    t->count = 0;
    /* Not a secret, but it differs between runs (ASLR), so hash collisions cannot be
     * precomputed offline; a broker may reseed from a random source before the first use. */
    t->seed = (uint32_t)((uintptr_t)t >> 4) ^ (uint32_t)((uintptr_t)t->root >> 12);
    return t;
}

void topic_tree_free(struct topic_tree *t)
{
    if (t == NULL)
        return;
    subtree_free(t->mem, t->root);
    mem_free(t->mem, t);
}

size_t topic_count(const struct topic_tree *t)
{
    return t->count;
}

/* Returns n's child for the filter level p[0..len), or NULL. */
static struct tnode *child_of(const struct topic_tree *t, const struct tnode *n,
                              const uint8_t *p, size_t len)
{
    if (is_plus(p, len))
        return n->plus;
    if (is_multi(p, len))
        return n->multi;
    return (struct tnode *)level_hash_find(&n->children, p, len, level_hash_of(p, len, t->seed));
}

/* Links the detached node c under p; for a literal c the room must have been reserved. */
static void link_child(struct tnode *p, struct tnode *c)
{
    c->parent = p;
    if (is_plus(c->name, c->key.len))
        p->plus = c;
    else if (is_multi(c->name, c->key.len))
        p->multi = c;
    else
        level_hash_insert(&p->children, &c->key);
}

static void unlink_child(struct mem *mem, struct tnode *p, struct tnode *c)
{
    if (p->plus == c)
        p->plus = NULL;
    else if (p->multi == c)
        p->multi = NULL;
    else
        level_hash_remove(&p->children, mem, &c->key);
}

/* Makes room in p for the detached child c. Returns TERN_OK or TERN_ENOMEM. */
static int reserve_child(struct mem *mem, struct tnode *p, const struct tnode *c)
{
    if (is_plus(c->name, c->key.len) || is_multi(c->name, c->key.len))
        return TERN_OK;
    return level_hash_reserve(&p->children, mem);
}

/*
 * Builds the detached chain of nodes for the filter levels from off on, below parent: the
 * chain's head has parent set but is not linked into it, and the chain's leaf holds room for
 * one subscriber. Returns the head, or NULL on ENOMEM (nothing is left allocated then).
 */
static struct tnode *chain_new(struct topic_tree *t, const uint8_t *f, size_t flen, size_t off,
                               struct tnode *parent, struct tnode **leaf)
{
    struct tnode *head = NULL;
    struct tnode *prev = NULL;
    while (off <= flen) {
        size_t len = level_len(f, flen, off);
        struct tnode *c = node_new(t->mem, f + off, len, level_hash_of(f + off, len, t->seed));
        if (c == NULL || (prev != NULL && reserve_child(t->mem, prev, c) != TERN_OK)) {
            mem_free(t->mem, c);
            goto fail;
        }
        if (prev == NULL) {
            head = c;
            c->parent = parent;
        } else {
            link_child(prev, c);
        }
        prev = c;
        off += len + 1;
    }
    prev->subs = mem_alloc(t->mem, sizeof *prev->subs);
    if (prev->subs == NULL)
        goto fail;
    prev->cap_subs = 1;
    *leaf = prev;
    return head;
fail:
    if (head != NULL)
        subtree_free(t->mem, head);
    return NULL;
}

/* Nodes with at least this many subscribers index them by session. */
#define SUB_INDEX_MIN 16u

static uint32_t sess_hash(const struct sess *s)
{
    uint64_t x = (uint64_t)(uintptr_t)s;
    return (uint32_t)((x * 0x9e3779b97f4a7c15u) >> 32);
}

/* Slot of s in idx (cap slots), or the empty slot where it would go. */
static uint32_t idx_slot(const uint32_t *idx, uint32_t cap, const struct topic_sub *subs,
                         const struct sess *s)
{
    uint32_t mask = cap - 1;
    uint32_t i = sess_hash(s) & mask;
    while (idx[i] != 0 && subs[idx[i] - 1].s != s)
        i = (i + 1) & mask;
    return i;
}

/* Returns a new index of cap slots over n's subscribers, or NULL on ENOMEM. */
static uint32_t *idx_build(struct mem *mem, const struct tnode *n, uint32_t cap)
{
    uint32_t *idx = mem_calloc(mem, cap, sizeof *idx);
    if (idx == NULL)
        return NULL;
    for (uint32_t p = 0; p < n->nsubs; p++)
        idx[idx_slot(idx, cap, n->subs, n->subs[p].s)] = p + 1;
    return idx;
}

static void idx_install(struct mem *mem, struct tnode *n, uint32_t *idx, uint32_t cap)
{
    mem_free(mem, n->sub_idx);
    n->sub_idx = idx;
    n->cap_idx = cap;
}

static struct topic_sub *find_sub(const struct tnode *n, const struct sess *s)
{
    if (n->sub_idx != NULL) {
        uint32_t p = n->sub_idx[idx_slot(n->sub_idx, n->cap_idx, n->subs, s)];
        return p == 0 ? NULL : &n->subs[p - 1];
    }
    for (uint32_t i = 0; i < n->nsubs; i++) {
        if (n->subs[i].s == s)
            return &n->subs[i];
    }
    return NULL;
}

/* Appends (s, qos), which n does not hold. Returns TERN_OK or TERN_ENOMEM (n unchanged). */
static int add_sub(struct mem *mem, struct tnode *n, struct sess *s, uint8_t qos)
{
    uint32_t *idx = NULL;
    uint32_t cap_idx = n->cap_idx;
    if (n->nsubs + 1 >= SUB_INDEX_MIN && (uint64_t)(n->nsubs + 1) * 2 > n->cap_idx) {
        /* Keep the index at most half full; build it before touching anything else. */
        cap_idx = n->cap_idx == 0 ? SUB_INDEX_MIN * 4 : n->cap_idx * 2;
        if (cap_idx < n->cap_idx || (idx = idx_build(mem, n, cap_idx)) == NULL)
            return TERN_ENOMEM;
    }
    if (n->nsubs == n->cap_subs) {
        uint32_t cap = n->cap_subs == 0 ? 1 : n->cap_subs * 2;
        struct topic_sub *subs = cap < n->cap_subs ? NULL :
                                 mem_realloc(mem, n->subs, (size_t)cap * sizeof *subs);
        if (subs == NULL) {
            mem_free(mem, idx);
            return TERN_ENOMEM;
        }
        n->subs = subs;
        n->cap_subs = cap;
    }
    if (idx != NULL)
        idx_install(mem, n, idx, cap_idx);
    n->subs[n->nsubs].s = s;
    n->subs[n->nsubs].qos = qos;
    n->nsubs++;
    if (n->sub_idx != NULL)
        n->sub_idx[idx_slot(n->sub_idx, n->cap_idx, n->subs, s)] = n->nsubs;
    return TERN_OK;
}

/* Deletes s's slot from the index by backward shift (no tombstones). */
static void idx_delete(struct tnode *n, const struct sess *s)
{
    uint32_t mask = n->cap_idx - 1;
    uint32_t hole = idx_slot(n->sub_idx, n->cap_idx, n->subs, s);
    n->sub_idx[hole] = 0;
    for (uint32_t i = (hole + 1) & mask; n->sub_idx[i] != 0; i = (i + 1) & mask) {
        uint32_t home = sess_hash(n->subs[n->sub_idx[i] - 1].s) & mask;
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            n->sub_idx[hole] = n->sub_idx[i];
            n->sub_idx[i] = 0;
            hole = i;
        }
    }
}

/* Removes the subscriber at position p, moving the last one into its place; never fails. */
static void remove_sub(struct mem *mem, struct tnode *n, uint32_t p)
{
    uint32_t last = n->nsubs - 1;
    if (n->sub_idx != NULL) {
        idx_delete(n, n->subs[p].s);
        if (p != last)
            n->sub_idx[idx_slot(n->sub_idx, n->cap_idx, n->subs, n->subs[last].s)] = p + 1;
    }
    n->subs[p] = n->subs[last];
    n->nsubs = last;
    if (n->sub_idx != NULL && n->nsubs < SUB_INDEX_MIN / 2) {
        idx_install(mem, n, NULL, 0);
    } else if (n->sub_idx != NULL && n->nsubs * 8 < n->cap_idx) {
        uint32_t *idx = idx_build(mem, n, n->cap_idx / 2);
        if (idx != NULL)
            idx_install(mem, n, idx, n->cap_idx / 2);
    }
    if (n->nsubs == 0) {
        mem_free(mem, n->subs);
        n->subs = NULL;
        n->cap_subs = 0;
    } else if (n->nsubs * 4 < n->cap_subs) {
        struct topic_sub *subs = mem_realloc(mem, n->subs, (n->cap_subs / 2) * sizeof *subs);
        if (subs != NULL) {
            n->subs = subs;
            n->cap_subs /= 2;
        }
    }
}

int topic_subscribe(struct topic_tree *t, const uint8_t *filter, size_t len, struct sess *s,
                    uint8_t qos, bool *is_new)
{
    struct tnode *n = t->root;
    size_t off = 0;
    while (off <= len) {
        size_t l = level_len(filter, len, off);
        struct tnode *c = child_of(t, n, filter + off, l);
        if (c == NULL)
            break;
        n = c;
        off += l + 1;
    }
    if (off <= len) {
        struct tnode *leaf;
        struct tnode *head = chain_new(t, filter, len, off, n, &leaf);
        if (head == NULL)
            return TERN_ENOMEM;
        if (reserve_child(t->mem, n, head) != TERN_OK) {
            subtree_free(t->mem, head);
            return TERN_ENOMEM;
        }
        link_child(n, head);
        n = leaf;
    } else {
        struct topic_sub *old = find_sub(n, s);
        if (old != NULL) {
            old->qos = qos;
            *is_new = false;
            return TERN_OK;
        }
    }
    if (add_sub(t->mem, n, s, qos) != TERN_OK)
        return TERN_ENOMEM;
    t->count++;
    *is_new = true;
    return TERN_OK;
}

int topic_unsubscribe(struct topic_tree *t, const uint8_t *filter, size_t len, struct sess *s)
{
    struct tnode *n = t->root;
    for (size_t off = 0; off <= len && n != NULL;) {
        size_t l = level_len(filter, len, off);
        n = child_of(t, n, filter + off, l);
        off += l + 1;
    }
    struct topic_sub *sub = n == NULL ? NULL : find_sub(n, s);
    if (sub == NULL)
        return TERN_ENOTFOUND;
    remove_sub(t->mem, n, (uint32_t)(sub - n->subs));
    t->count--;
    while (n != t->root && node_empty(n)) {
        struct tnode *p = n->parent;
        unlink_child(t->mem, p, n);
        level_hash_cleanup(&n->children, t->mem);
        mem_free(t->mem, n);
        n = p;
    }
    return TERN_OK;
}

static void emit(const struct tnode *n, topic_match_fn fn, void *ctx)
{
    for (uint32_t i = 0; i < n->nsubs; i++)
        fn(ctx, n->subs[i].s, n->subs[i].qos);
}

/* Splits the topic's first CACHED_LEVELS levels and hashes them. */
static void split_levels(const struct topic_tree *t, const uint8_t *topic, size_t len,
                         struct level *lv, uint32_t *hash)
{
    size_t off = 0;
    for (size_t d = 0; d < CACHED_LEVELS && off <= len; d++) {
        lv[d].off = off;
        lv[d].len = level_len(topic, len, off);
        hash[d] = level_hash_of(topic + off, lv[d].len, t->seed);
        off += lv[d].len + 1;
    }
}

/*
 * Depth-first walk over the nodes matching the topic, driven by parent pointers: a node at
 * depth d has consumed topic levels 0..d-1 and off is where level d starts (len + 1 once all
 * levels are consumed). From a node the walk tries the literal child, then the '+' child; when
 * it climbs back from a literal child it goes on with the parent's '+' child, and when it
 * climbs back from a '+' child the parent is done. '#' children are reported, never entered.
 */
void topic_match(const struct topic_tree *t, const uint8_t *topic, size_t len,
                 topic_match_fn fn, void *ctx)
{
    struct level lv[CACHED_LEVELS];
    uint32_t hash[CACHED_LEVELS];
    split_levels(t, topic, len, lv, hash);
    /* 4.7.2: wildcards at the first level do not match topics starting with '$'. */
    bool dollar = len > 0 && topic[0] == '$';
    const struct tnode *root = t->root;
    const struct tnode *n = root;
    size_t d = 0;
    size_t off = 0;
    for (;;) {
        const struct tnode *next = NULL;
        if (off > len) {
            emit(n, fn, ctx);
            if (n->multi != NULL)
                emit(n->multi, fn, ctx);
        } else {
            bool wild = !(d == 0 && dollar);
            if (n->multi != NULL && wild)
                emit(n->multi, fn, ctx);
            if (n->children.count > 0) {
                size_t l = d < CACHED_LEVELS ? lv[d].len : level_len(topic, len, off);
                uint32_t h = d < CACHED_LEVELS ? hash[d] : level_hash_of(topic + off, l, t->seed);
                next = (const struct tnode *)level_hash_find(&n->children, topic + off, l, h);
            }
            if (next == NULL && wild)
                next = n->plus;
        }
        /* Climb until a parent still has its '+' branch to try. */
        while (next == NULL) {
            if (n == root)
                return;
            const struct tnode *p = n->parent;
            d--;
            off = d < CACHED_LEVELS ? lv[d].off : prev_level_off(topic, off);
            if (n != p->plus && !(d == 0 && dollar))
                next = p->plus;
            n = p;
        }
        size_t l = d < CACHED_LEVELS ? lv[d].len : level_len(topic, len, off);
        off += l + 1;
        d++;
        n = next;
    }
}

bool topic_filter_matches(const uint8_t *filter, size_t flen, const uint8_t *topic, size_t tlen)
{
    if (tlen > 0 && topic[0] == '$' && flen > 0 && (filter[0] == '+' || filter[0] == '#'))
        return false;
    size_t fi = 0;
    size_t ti = 0;
    for (;;) {
        if (fi > flen)
            return ti > tlen;
        size_t fl = level_len(filter, flen, fi);
        if (is_multi(filter + fi, fl))
            return true;
        if (ti > tlen)
            return false;
        size_t tl = level_len(topic, tlen, ti);
        if (!is_plus(filter + fi, fl) && (fl != tl || memcmp(filter + fi, topic + ti, tl) != 0))
            return false;
        fi += fl + 1;
        ti += tl + 1;
    }
}
