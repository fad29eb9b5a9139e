/*
 * The retained-message store: see retain.h (MQTT 3.1.1 sections 3.3.1.3 and 4.7).
 *
 * One node per topic level, literal children in a level_hash; a node holds at most one
 * message, the store's reference to it. A topic name holds no wildcards, so every level is
 * literal here; wildcards only appear in the filters given to retain_match, which follows a
 * literal filter level with one lookup, a '+' by iterating the children, and a '#' by walking
 * the subtree including the node itself ("a/#" matches "a", 4.7.1.2). At the first level a '+'
 * or '#' skips children whose name starts with '$' (4.7.2).
 *
 * Invariants: every node but the root holds a message or has children (emptied nodes are freed
 * by retain_set); the root never holds one, since a topic has at least one level. All walks use
 * parent pointers instead of recursion, so a topic of thousands of levels costs no stack depth.
 */
#include "retain.h"

#include <string.h>

#include "level_hash.h"
#include "mem.h"
#include "tern/err.h"
#include "tern/msg.h"

struct rnode {
    struct level_key key;       /* first member: the level_hash stores &node->key */
    struct rnode *parent;
    struct level_hash children;
    struct msg *msg;            /* the store's reference, or NULL */
    uint8_t name[];
};

struct retain {
    struct mem *mem;
    struct rnode *root;
    size_t count;
    size_t bytes;
    uint32_t seed;
};

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

static bool is_plus(const uint8_t *p, size_t len)
{
    return len == 1 && p[0] == '+';
}

static bool is_multi(const uint8_t *p, size_t len)
{
    return len == 1 && p[0] == '#';
}

static struct rnode *node_new(struct mem *mem, const uint8_t *name, size_t len, uint32_t hash)
{
    struct rnode *n = mem_alloc(mem, sizeof *n + len);
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

/*
 * Frees top and everything below it, dropping each message reference, without recursion.
 * Children are visited in slot order and left in the parent's table, which is freed whole;
 * a child's no longer needed key.hash keeps its slot index so the parent resumes after it.
 */
static void subtree_free(struct mem *mem, struct rnode *top)
{
    struct rnode *n = top;
    uint32_t cursor = 0;
    while (n != NULL) {
        struct rnode *c = (struct rnode *)level_hash_next(&n->children, &cursor);
        if (c != NULL) {
            c->key.hash = cursor;
            n = c;
            cursor = 0;
            continue;
        }
        struct rnode *p = n == top ? NULL : n->parent;
        if (p != NULL)
            cursor = n->key.hash + 1;
        msg_unref(&n->msg);
        level_hash_cleanup(&n->children, mem);
        mem_free(mem, n);
        n = p;
    }
}

struct retain *retain_new(struct mem *mem)
{
    struct retain *r = mem_alloc(mem, sizeof *r);
    if (r == NULL)
        return NULL;
    r->root = node_new(mem, NULL, 0, 0);
    if (r->root == NULL) {
        mem_free(mem, r);
        return NULL;
    }
    r->mem = mem;
    r->count = 0;
    r->bytes = 0;
    /* Differs between runs (ASLR) so colliding level names cannot be precomputed offline. */
    r->seed = (uint32_t)((uintptr_t)r >> 4) ^ (uint32_t)((uintptr_t)r->root >> 12);
    return r;
}

void retain_free(struct retain *r)
{
    if (r == NULL)
        return;
    subtree_free(r->mem, r->root);
    mem_free(r->mem, r);
}

size_t retain_count(const struct retain *r)
{
    return r->count;
}

size_t retain_bytes(const struct retain *r)
{
    return r->bytes;
}

static struct rnode *child_of(const struct retain *r, const struct rnode *n, const uint8_t *p,
                              size_t len)
{
    return (struct rnode *)level_hash_find(&n->children, p, len, level_hash_of(p, len, r->seed));
}

/*
 * Returns the node for topic[0..len), creating the missing levels; on ENOMEM returns NULL and
 * the tree is unchanged (the missing levels are built detached and linked last).
 */
static struct rnode *node_get(struct retain *r, const uint8_t *topic, size_t len)
{
    struct rnode *n = r->root;
    size_t off = 0;
    for (struct rnode *c; off <= len; n = c, off += c->key.len + 1) {
        c = child_of(r, n, topic + off, level_len(topic, len, off));
        if (c == NULL)
            break;
    }
    if (off > len)
        return n;
    struct rnode *head = NULL;
    struct rnode *leaf = NULL;
    for (; off <= len; off += leaf->key.len + 1) {
        size_t l = level_len(topic, len, off);
        struct rnode *c = node_new(r->mem, topic + off, l, level_hash_of(topic + off, l, r->seed));
        if (c == NULL || (leaf != NULL && level_hash_reserve(&leaf->children, r->mem) != TERN_OK)) {
            mem_free(r->mem, c);
            goto fail;
        }
        if (leaf != NULL)
            level_hash_insert(&leaf->children, &c->key);
        else
            head = c;
        c->parent = leaf != NULL ? leaf : n;
        leaf = c;
    }
    if (level_hash_reserve(&n->children, r->mem) != TERN_OK)
        goto fail;
    level_hash_insert(&n->children, &head->key);
    return leaf;
fail:
    if (head != NULL)
        subtree_free(r->mem, head);
    return NULL;
}

static struct rnode *node_find(const struct retain *r, const uint8_t *topic, size_t len)
{
    struct rnode *n = r->root;
    for (size_t off = 0; off <= len && n != NULL;) {
        size_t l = level_len(topic, len, off);
        n = child_of(r, n, topic + off, l);
        off += l + 1;
    }
    return n;
}

static void clear(struct retain *r, const uint8_t *topic, size_t len)
{
    struct rnode *n = node_find(r, topic, len);
    if (n == NULL || n->msg == NULL)
        return;
    r->count--;
    r->bytes -= n->msg->topic_len + (size_t)n->msg->payload_len;
    msg_unref(&n->msg);
    while (n != r->root && n->msg == NULL && n->children.count == 0) {
        struct rnode *p = n->parent;
        level_hash_remove(&p->children, r->mem, &n->key);
        level_hash_cleanup(&n->children, r->mem);
        mem_free(r->mem, n);
        n = p;
    }
}

int retain_set(struct retain *r, struct msg *m)
{
    const uint8_t *topic = (const uint8_t *)m->topic;
    if (m->payload_len == 0) {
        clear(r, topic, m->topic_len);
        return TERN_OK;
    }
    struct rnode *n = node_get(r, topic, m->topic_len);
    if (n == NULL)
        return TERN_ENOMEM;
    struct msg *old = n->msg;
    n->msg = msg_ref(m);
    if (old != NULL)
        r->bytes -= old->topic_len + (size_t)old->payload_len;
    else
        r->count++;
    r->bytes += m->topic_len + (size_t)m->payload_len;
    msg_unref(&old);
    return TERN_OK;
}

/* Next child of n at slot >= *cursor, skipping names starting with '$' when asked. */
static const struct rnode *next_child(const struct rnode *n, uint32_t *cursor, bool skip_dollar)
{
    for (struct level_key *k; (k = level_hash_next(&n->children, cursor)) != NULL; (*cursor)++) {
        if (!skip_dollar || k->len == 0 || k->name[0] != '$')
            return (const struct rnode *)k;
    }
    return NULL;
}

/* Reports top's message and every message below it, pre-order, without recursion. */
static void walk_subtree(const struct rnode *top, bool skip_dollar, retain_fn fn, void *ctx)
{
    const struct rnode *n = top;
    uint32_t cursor = 0;
    if (n->msg != NULL)
        fn(ctx, n->msg);
    for (;;) {
        const struct rnode *c = next_child(n, &cursor, skip_dollar && n == top);
        if (c != NULL) {
            n = c;
            cursor = 0;
            if (n->msg != NULL)
                fn(ctx, n->msg);
            continue;
        }
        if (n == top)
            return;
        const struct rnode *p = n->parent;
        cursor = level_hash_slot_of(&p->children, &n->key) + 1;
        n = p;
    }
}

void retain_foreach(const struct retain *r, retain_fn fn, void *ctx)
{
    walk_subtree(r->root, false, fn, ctx);
}

/*
 * Depth-first over the nodes the filter can match, driven by parent pointers: a node at depth
 * d has consumed filter levels 0..d-1 and off is where filter level d starts (len + 1 once all
 * are consumed). Climbing back to a parent whose level is '+' resumes its children after the
 * one just left; any other parent is done.
 */
void retain_match(const struct retain *r, const uint8_t *filter, size_t len, retain_fn fn,
                  void *ctx)
{
    const struct rnode *n = r->root;
    size_t d = 0;
    size_t off = 0;
    uint32_t cursor = 0;
    for (;;) {
        const struct rnode *next = NULL;
        if (off > len) {
            if (n->msg != NULL)
                fn(ctx, n->msg);
        } else {
            size_t l = level_len(filter, len, off);
            if (is_multi(filter + off, l))
                walk_subtree(n, d == 0, fn, ctx);
            else if (is_plus(filter + off, l))
                next = next_child(n, &cursor, d == 0);
            else
                next = child_of(r, n, filter + off, l);
        }
        while (next == NULL) {
            if (n == r->root)
                return;
            const struct rnode *p = n->parent;
            d--;
            off = prev_level_off(filter, off);
            if (is_plus(filter + off, level_len(filter, len, off))) {
                cursor = level_hash_slot_of(&p->children, &n->key) + 1;
                next = next_child(p, &cursor, d == 0);
            }
            n = p;
        }
        off += level_len(filter, len, off) + 1;
        d++;
        n = next;
        cursor = 0;
    }
}
