/*
 * Fuzz target for topic matching (MQTT 3.1.1 section 4.7): the input is a filter and a topic
 * name separated by the first 0 byte (without one, the whole input is both). For a valid pair
 * the pure topic_filter_matches() must agree with a real subscription tree and with the
 * retained-message store, and both must return every byte to their struct mem afterwards.
 * Validity is checked locally (wildcards as whole levels, '#' last, no wildcard in a topic,
 * 1..65535 bytes) so this target does not depend on the codec; UTF-8 does not matter here,
 * since matching compares raw bytes.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "retain.h"
#include "tern/err.h"
#include "tern/msg.h"
#include "topic_tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_STR 65535u

static bool filter_valid(const uint8_t *f, size_t len)
{
    if (len == 0 || len > MAX_STR)
        return false;
    for (size_t i = 0; i < len; i++) {
        bool starts = i == 0 || f[i - 1] == '/';
        bool ends = i + 1 == len || f[i + 1] == '/';
        if (f[i] == '+' && !(starts && ends))
            return false;
        if (f[i] == '#' && !(starts && i + 1 == len))
            return false;
    }
    return true;
}

static bool topic_valid(const uint8_t *t, size_t len)
{
    return len > 0 && len <= MAX_STR && memchr(t, '+', len) == NULL &&
           memchr(t, '#', len) == NULL;
}

static struct sess *sess_a(void)
{
    return (struct sess *)(uintptr_t)0x1000u;
}

static struct sess *sess_b(void)
{
    return (struct sess *)(uintptr_t)0x2000u;
}

struct hits {
    unsigned a;
    unsigned b;
    unsigned other;
};

static void on_sub(void *ctx, struct sess *s, uint8_t qos)
{
    struct hits *h = ctx;
    if (s == sess_a())
        h->a++;
    else if (s == sess_b())
        h->b++;
    else
        h->other++;
}

static void on_retained(void *ctx, struct msg *m)
{
    (*(unsigned *)ctx)++;
}

static void check_tree(const uint8_t *f, size_t flen, const uint8_t *t, size_t tlen, bool match)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct topic_tree *tree = topic_tree_new(&mem);
    if (tree == NULL)
        abort();
    size_t start = mem.used;
    bool is_new = false;
    /* The topic is also a valid filter that matches only itself. */
    if (topic_subscribe(tree, f, flen, sess_a(), 1, &is_new) != TERN_OK || !is_new)
        abort();
    if (topic_subscribe(tree, t, tlen, sess_b(), 2, &is_new) != TERN_OK || !is_new)
        abort();
    struct hits h = {0};
    topic_match(tree, t, tlen, on_sub, &h);
    if (h.a != (match ? 1u : 0u) || h.b != 1 || h.other != 0)
        abort();
    if (topic_unsubscribe(tree, f, flen, sess_a()) != TERN_OK)
        abort();
    if (topic_unsubscribe(tree, f, flen, sess_a()) != TERN_ENOTFOUND)
        abort();
    if (topic_unsubscribe(tree, t, tlen, sess_b()) != TERN_OK)
        abort();
    if (topic_count(tree) != 0 || mem.used != start)
        abort();
    topic_tree_free(tree);
    if (mem.used != 0)
        abort();
}

static void check_retain(const uint8_t *f, size_t flen, const uint8_t *t, size_t tlen, bool match)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct retain *r = retain_new(&mem);
    struct msg *m = msg_new(&mem, t, tlen, (const uint8_t *)"p", 1, 0, true);
    if (r == NULL || m == NULL)
        abort();
    if (retain_set(r, m) != TERN_OK || m->refs != 2 || retain_count(r) != 1)
        abort();
    unsigned n = 0;
    retain_match(r, f, flen, on_retained, &n);
    if (n != (match ? 1u : 0u))
        abort();
    n = 0;
    retain_match(r, t, tlen, on_retained, &n);
    if (n != 1)
        abort();
    retain_free(r);
    if (m->refs != 1)
        abort();
    msg_unref(&m);
    if (mem.used != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *zero = memchr(data, 0, size);
    const uint8_t *f = data;
    size_t flen = zero != NULL ? (size_t)(zero - data) : size;
    const uint8_t *t = zero != NULL ? zero + 1 : data;
    size_t tlen = zero != NULL ? size - flen - 1 : size;
    /* The pure matcher must cope with any bytes. */
    bool match = topic_filter_matches(f, flen, t, tlen);
    if (!filter_valid(f, flen) || !topic_valid(t, tlen))
        return 0;
    if (!topic_filter_matches(t, tlen, t, tlen))
        abort();
    check_tree(f, flen, t, tlen, match);
    check_retain(f, flen, t, tlen, match);
    return 0;
}
