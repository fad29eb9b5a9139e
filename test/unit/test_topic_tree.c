/*
 * Unit tests for the subscription index (src/topic_tree.c): the MQTT 3.1.1 section 4.7 matching
 * rules through both the pure topic_filter_matches() and a real tree, subscription bookkeeping,
 * memory returning to its start, and ENOMEM leaving the tree unchanged.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "tern/err.h"
#include "topic_tree.h"

/* Sessions are opaque to the tree and never dereferenced, so any distinct pointer will do. */
static struct sess *fake_sess(size_t i)
{
    return (struct sess *)(uintptr_t)(0x1000u + i * 16u);
}

#define S(x) (const uint8_t *)(x), strlen(x)

struct hits {
    size_t n;
    struct sess *last;
    uint8_t last_qos;
    size_t per_sess[16];
};

static void count_hit(void *ctx, struct sess *s, uint8_t qos)
{
    struct hits *h = ctx;
    h->n++;
    h->last = s;
    h->last_qos = qos;
    size_t i = ((uintptr_t)s - 0x1000u) / 16u;
    if (i < 16)
        h->per_sess[i]++;
}

struct match_case {
    const char *filter;
    const char *topic;
    bool match;
};

static const struct match_case cases[] = {
    /* Literal levels. */
    {"a", "a", true},
    {"a", "b", false},
    {"a", "A", false},
    {"a/b", "a/b", true},
    {"a/b", "a", false},
    {"a", "a/b", false},
    {"a/b/c", "a/b/c", true},
    {"a/b/c", "a/b/d", false},
    {"abc", "ab", false},
    {"ab", "abc", false},
    {"sport/tennis", "sport/tennis/player1", false},
    /* Empty levels are real levels. */
    {"a//b", "a//b", true},
    {"a//b", "a/b", false},
    {"a/b", "a//b", false},
    {"/a", "/a", true},
    {"/a", "a", false},
    {"a", "/a", false},
    {"a/", "a/", true},
    {"a/", "a", false},
    {"a", "a/", false},
    {"/", "/", true},
    {"//", "//", true},
    {"//", "/", false},
    /* '+' at the start, middle and end; exactly one level, empty included. */
    {"+", "a", true},
    {"+", "a/b", false},
    {"+", "/a", false},
    {"+", "", true},
    {"+/b", "a/b", true},
    {"+/b", "/b", true},
    {"+/b", "a/c", false},
    {"+/b", "b", false},
    {"a/+", "a/b", true},
    {"a/+", "a/", true},
    {"a/+", "a", false},
    {"a/+", "a/b/c", false},
    {"a/+/c", "a/b/c", true},
    {"a/+/c", "a//c", true},
    {"a/+/c", "a/b/d", false},
    {"a/+/c", "a/c", false},
    {"+/+", "a/b", true},
    {"+/+", "/", true},
    {"+/+", "a", false},
    {"+/+/+", "a/b", false},
    {"/+", "/a", true},
    {"/+", "a/b", false},
    {"+/", "a/", true},
    {"+/", "a", false},
    /* '#' matches the parent and every descendant. */
    {"#", "a", true},
    {"#", "a/b/c", true},
    {"#", "/", true},
    {"#", "/a", true},
    {"a/#", "a", true},
    {"a/#", "a/b", true},
    {"a/#", "a/b/c", true},
    {"a/#", "a/", true},
    {"a/#", "b", false},
    {"a/#", "ab", false},
    {"a/#", "b/a", false},
    {"a/b/#", "a", false},
    {"a/b/#", "a/b", true},
    {"/#", "/", true},
    {"/#", "/a/b", true},
    {"/#", "a", false},
    {"+/#", "a", true},
    {"+/#", "a/b/c", true},
    {"a/+/#", "a/b", true},
    {"a/+/#", "a", false},
    {"a/+/#", "a/b/c/d", true},
    {"sport/tennis/+", "sport/tennis/player1", true},
    {"sport/#", "sport", true},
    /* '$' topics: first-level wildcards never match them (4.7.2). */
    {"#", "$SYS", false},
    {"#", "$SYS/x", false},
    {"+", "$SYS", false},
    {"+/x", "$SYS/x", false},
    {"+/#", "$SYS/x", false},
    {"+/+", "$SYS/x", false},
    {"#", "$", false},
    {"+", "$", false},
    {"$SYS/#", "$SYS/x", true},
    {"$SYS/#", "$SYS", true},
    {"$SYS/#", "$SYS/a/b", true},
    {"$SYS/+", "$SYS/x", true},
    {"$SYS/+", "$SYS", false},
    {"$SYS/x", "$SYS/x", true},
    {"$SYS/+/c", "$SYS/b/c", true},
    {"$+", "$SYS", false},
    {"$SYS", "$sys", false},
    {"a/$b", "a/$b", true},
    {"a/+", "a/$b", true},
    {"a/#", "a/$b", true},
    {"#", "a/$b", true},
    {"+/$x", "a/$x", true},
    {"#", "x$", true},
    {"+", "x$", true},
};

#define NCASES (sizeof cases / sizeof cases[0])

START_TEST(test_topic_filter_matches_table)
{
    const struct match_case *c = &cases[_i];
    ck_assert_msg(topic_filter_matches(S(c->filter), S(c->topic)) == c->match,
                  "filter '%s' topic '%s' expected %d", c->filter, c->topic, c->match);
}
END_TEST

START_TEST(test_topic_tree_match_table)
{
    const struct match_case *c = &cases[_i];
    struct mem mem;
    mem_init(&mem, 0);
    struct topic_tree *t = topic_tree_new(&mem);
    ck_assert_ptr_nonnull(t);
    bool is_new = false;
    ck_assert_int_eq(topic_subscribe(t, S(c->filter), fake_sess(1), 1, &is_new), TERN_OK);
    ck_assert(is_new);
    struct hits h = {0};
    topic_match(t, S(c->topic), count_hit, &h);
    ck_assert_msg(h.n == (c->match ? 1u : 0u), "filter '%s' topic '%s' expected %d, got %zu",
                  c->filter, c->topic, c->match, h.n);
    if (c->match) {
        ck_assert_ptr_eq(h.last, fake_sess(1));
        ck_assert_uint_eq(h.last_qos, 1);
    }
    topic_tree_free(t);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

/* Every case's filter in one tree at once, each with its own session; each topic then calls
 * back exactly the sessions whose filter matches. */
START_TEST(test_topic_tree_all_filters_together)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct topic_tree *t = topic_tree_new(&mem);
    bool is_new;
    for (size_t i = 0; i < NCASES; i++)
        ck_assert_int_eq(topic_subscribe(t, S(cases[i].filter), fake_sess(100 + i), 0, &is_new),
                         TERN_OK);
    for (size_t j = 0; j < NCASES; j++) {
        size_t expect = 0;
        for (size_t i = 0; i < NCASES; i++)
            expect += topic_filter_matches(S(cases[i].filter), S(cases[j].topic));
        struct hits h = {0};
        topic_match(t, S(cases[j].topic), count_hit, &h);
        ck_assert_msg(h.n == expect, "topic '%s': %zu hits, expected %zu", cases[j].topic, h.n,
                      expect);
    }
    for (size_t i = 0; i < NCASES; i++)
        ck_assert_int_eq(topic_unsubscribe(t, S(cases[i].filter), fake_sess(100 + i)), TERN_OK);
    ck_assert_uint_eq(topic_count(t), 0);
    topic_tree_free(t);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

START_TEST(test_topic_overlapping_filters_call_back_once_per_filter)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct topic_tree *t = topic_tree_new(&mem);
    bool is_new;
    const char *filters[] = {"a/b", "a/+", "+/b", "#", "a/#", "a/b/#", "+/+"};
    for (size_t i = 0; i < 7; i++)
        ck_assert_int_eq(topic_subscribe(t, S(filters[i]), fake_sess(3), 1, &is_new), TERN_OK);
    ck_assert_int_eq(topic_subscribe(t, S("a/c"), fake_sess(4), 1, &is_new), TERN_OK);
    ck_assert_uint_eq(topic_count(t), 8);
    struct hits h = {0};
    topic_match(t, S("a/b"), count_hit, &h);
    ck_assert_uint_eq(h.per_sess[3], 7);
    ck_assert_uint_eq(h.per_sess[4], 0);
    ck_assert_uint_eq(h.n, 7);
    topic_tree_free(t);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

START_TEST(test_topic_resubscribe_updates_qos)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct topic_tree *t = topic_tree_new(&mem);
    bool is_new = false;
    ck_assert_int_eq(topic_subscribe(t, S("a/+"), fake_sess(1), 0, &is_new), TERN_OK);
    ck_assert(is_new);
    ck_assert_int_eq(topic_subscribe(t, S("a/+"), fake_sess(2), 1, &is_new), TERN_OK);
    ck_assert(is_new);
    ck_assert_int_eq(topic_subscribe(t, S("a/+"), fake_sess(1), 2, &is_new), TERN_OK);
    ck_assert(!is_new);
    ck_assert_uint_eq(topic_count(t), 2);
    struct hits h = {0};
    topic_match(t, S("a/x"), count_hit, &h);
    ck_assert_uint_eq(h.n, 2);
    ck_assert_uint_eq(h.per_sess[1], 1);
    topic_tree_free(t);
}
END_TEST

static void record_qos(void *ctx, struct sess *s, uint8_t qos)
{
    if (s == fake_sess(1))
        *(int *)ctx = qos;
}

START_TEST(test_topic_resubscribe_qos_is_reported)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct topic_tree *t = topic_tree_new(&mem);
    bool is_new;
    topic_subscribe(t, S("x"), fake_sess(1), 0, &is_new);
    topic_subscribe(t, S("x"), fake_sess(1), 2, &is_new);
    int qos = -1;
    topic_match(t, S("x"), record_qos, &qos);
    ck_assert_int_eq(qos, 2);
    topic_tree_free(t);
}
END_TEST

START_TEST(test_topic_unsubscribe_unknown_is_not_found)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct topic_tree *t = topic_tree_new(&mem);
    bool is_new;
    ck_assert_int_eq(topic_unsubscribe(t, S("a"), fake_sess(1)), TERN_ENOTFOUND);
    topic_subscribe(t, S("a/b"), fake_sess(1), 0, &is_new);
    ck_assert_int_eq(topic_unsubscribe(t, S("a"), fake_sess(1)), TERN_ENOTFOUND);
    ck_assert_int_eq(topic_unsubscribe(t, S("a/b"), fake_sess(2)), TERN_ENOTFOUND);
    ck_assert_int_eq(topic_unsubscribe(t, S("a/+"), fake_sess(1)), TERN_ENOTFOUND);
    ck_assert_int_eq(topic_unsubscribe(t, S("a/b/#"), fake_sess(1)), TERN_ENOTFOUND);
    ck_assert_int_eq(topic_unsubscribe(t, S("a/b"), fake_sess(1)), TERN_OK);
    ck_assert_int_eq(topic_unsubscribe(t, S("a/b"), fake_sess(1)), TERN_ENOTFOUND);
    ck_assert_uint_eq(topic_count(t), 0);
    topic_tree_free(t);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

START_TEST(test_topic_unsubscribe_frees_empty_nodes)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct topic_tree *t = topic_tree_new(&mem);
    size_t start = mem.used;
    bool is_new;
    topic_subscribe(t, S("a/b/c/d"), fake_sess(1), 0, &is_new);
    topic_subscribe(t, S("a/+/#"), fake_sess(1), 0, &is_new);
    ck_assert_int_eq(topic_unsubscribe(t, S("a/b/c/d"), fake_sess(1)), TERN_OK);
    ck_assert_int_eq(topic_unsubscribe(t, S("a/+/#"), fake_sess(1)), TERN_OK);
    ck_assert_uint_eq(mem.used, start);
    topic_tree_free(t);
}
END_TEST

/* One filter shared by many sessions: re-subscribe and unsubscribe in scrambled order find
 * the right entries, as the node switches its session index on and off. */
START_TEST(test_topic_shared_filter_many_sessions)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct topic_tree *t = topic_tree_new(&mem);
    size_t start = mem.used;
    bool is_new;
    const size_t n = 1000;
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(topic_subscribe(t, S("all/+"), fake_sess(i), 0, &is_new), TERN_OK);
        ck_assert(is_new);
    }
    for (size_t i = 0; i < n; i += 7) {
        ck_assert_int_eq(topic_subscribe(t, S("all/+"), fake_sess(i), 1, &is_new), TERN_OK);
        ck_assert(!is_new);
    }
    ck_assert_uint_eq(topic_count(t), n);
    /* 1000 and 379 are coprime, so i * 379 % 1000 visits every session once. */
    for (size_t k = 0; k < n; k++) {
        size_t i = k * 379 % n;
        ck_assert_int_eq(topic_unsubscribe(t, S("all/+"), fake_sess(i)), TERN_OK);
        ck_assert_int_eq(topic_unsubscribe(t, S("all/+"), fake_sess(i)), TERN_ENOTFOUND);
        if (k % 97 == 0) {
            struct hits h = {0};
            topic_match(t, S("all/x"), count_hit, &h);
            ck_assert_uint_eq(h.n, n - k - 1);
        }
    }
    ck_assert_uint_eq(topic_count(t), 0);
    ck_assert_uint_eq(mem.used, start);
    topic_tree_free(t);
}
END_TEST

#define MANY 10000

START_TEST(test_topic_10000_sessions_leave_no_memory)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct topic_tree *t = topic_tree_new(&mem);
    size_t start = mem.used;
    bool is_new;
    char f[64];
    for (size_t i = 0; i < MANY; i++) {
        snprintf(f, sizeof f, "dev/%zu/+/temp", i % 500);
        ck_assert_int_eq(topic_subscribe(t, S(f), fake_sess(i), 1, &is_new), TERN_OK);
        ck_assert_int_eq(topic_subscribe(t, S("dev/#"), fake_sess(i), 0, &is_new), TERN_OK);
        snprintf(f, sizeof f, "own/%zu", i);
        ck_assert_int_eq(topic_subscribe(t, S(f), fake_sess(i), 2, &is_new), TERN_OK);
    }
    ck_assert_uint_eq(topic_count(t), 3 * MANY);
    struct hits h = {0};
    topic_match(t, S("dev/7/kitchen/temp"), count_hit, &h);
    ck_assert_uint_eq(h.n, MANY / 500 + MANY);
    for (size_t i = 0; i < MANY; i++) {
        snprintf(f, sizeof f, "dev/%zu/+/temp", i % 500);
        ck_assert_int_eq(topic_unsubscribe(t, S(f), fake_sess(i)), TERN_OK);
        ck_assert_int_eq(topic_unsubscribe(t, S("dev/#"), fake_sess(i)), TERN_OK);
        snprintf(f, sizeof f, "own/%zu", i);
        ck_assert_int_eq(topic_unsubscribe(t, S(f), fake_sess(i)), TERN_OK);
    }
    ck_assert_uint_eq(topic_count(t), 0);
    ck_assert_uint_eq(mem.used, start);
    topic_tree_free(t);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

#define UNRELATED 100000

START_TEST(test_topic_match_ignores_100000_unrelated)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct topic_tree *t = topic_tree_new(&mem);
    bool is_new;
    char f[64];
    for (size_t i = 0; i < UNRELATED; i++) {
        snprintf(f, sizeof f, i % 2 ? "x/%zu/+" : "%zu/y/#", i);
        ck_assert_int_eq(topic_subscribe(t, S(f), fake_sess(1000 + i), 0, &is_new), TERN_OK);
    }
    topic_subscribe(t, S("x/5/z"), fake_sess(1), 0, &is_new);
    topic_subscribe(t, S("x/+/z"), fake_sess(2), 0, &is_new);
    topic_subscribe(t, S("#"), fake_sess(3), 0, &is_new);
    struct hits h = {0};
    topic_match(t, S("x/5/z"), count_hit, &h);
    /* "x/5/+" is subscribed by the odd i == 5 and matches too. */
    ck_assert_uint_eq(h.n, 4);
    ck_assert_uint_eq(h.per_sess[1] + h.per_sess[2] + h.per_sess[3], 3);
    memset(&h, 0, sizeof h);
    topic_match(t, S("nothing/here"), count_hit, &h);
    ck_assert_uint_eq(h.n, 1);
    ck_assert_uint_eq(h.per_sess[3], 1);
    topic_tree_free(t);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

/* Under a limit, every failing subscribe leaves count, matches and memory as they were. */
START_TEST(test_topic_enomem_leaves_tree_unchanged)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct topic_tree *t = topic_tree_new(&mem);
    bool is_new;
    topic_subscribe(t, S("a/b"), fake_sess(1), 0, &is_new);
    topic_subscribe(t, S("a/+/c"), fake_sess(1), 0, &is_new);
    /* Enough sessions on "a/x" that the next one must grow its session index. */
    for (size_t i = 0; i < 32; i++)
        topic_subscribe(t, S("a/x"), fake_sess(20 + i), 0, &is_new);
    const char *filters[] = {"a/b", "a/b/c/d/e", "a/+/c", "a/#", "q/w/e/r/+/#", "+", "a/x"};
    size_t failures = 0;
    for (size_t f = 0; f < 7; f++) {
        for (size_t room = 0;; room += 8) {
            size_t before = mem.used;
            size_t count = topic_count(t);
            struct hits h0 = {0};
            topic_match(t, S(filters[f]), count_hit, &h0);
            mem.limit = mem.used + room;
            int rc = topic_subscribe(t, S(filters[f]), fake_sess(2), 1, &is_new);
            mem.limit = 0;
            if (rc == TERN_OK) {
                ck_assert_uint_eq(topic_count(t), count + 1);
                break;
            }
            failures++;
            ck_assert_int_eq(rc, TERN_ENOMEM);
            ck_assert_uint_eq(mem.used, before);
            ck_assert_uint_eq(topic_count(t), count);
            struct hits h = {0};
            topic_match(t, S(filters[f]), count_hit, &h);
            ck_assert_uint_eq(h.n, h0.n);
            ck_assert_uint_eq(h.per_sess[2], h0.per_sess[2]);
        }
    }
    ck_assert_uint_gt(failures, 7);
    ck_assert_uint_eq(topic_count(t), 41);
    topic_tree_free(t);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

/* A filter of thousands of levels must not cost stack depth in match, unsubscribe or free. */
START_TEST(test_topic_deep_filter)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct topic_tree *t = topic_tree_new(&mem);
    static uint8_t f[65535];
    static uint8_t topic[65535];
    size_t n = 0;
    for (; n + 2 <= sizeof f; n += 2) {
        f[n] = (n / 2) % 3 == 0 ? '+' : 'a';
        f[n + 1] = '/';
        topic[n] = 'a';
        topic[n + 1] = '/';
    }
    f[n] = '#';
    topic[n] = 'a';
    bool is_new;
    ck_assert_int_eq(topic_subscribe(t, f, n + 1, fake_sess(1), 0, &is_new), TERN_OK);
    ck_assert_int_eq(topic_subscribe(t, f, n - 1, fake_sess(2), 0, &is_new), TERN_OK);
    struct hits h = {0};
    topic_match(t, topic, n + 1, count_hit, &h);
    ck_assert_uint_eq(h.n, 1);
    memset(&h, 0, sizeof h);
    topic_match(t, topic, n - 1, count_hit, &h);
    ck_assert_uint_eq(h.n, 2);
    ck_assert(topic_filter_matches(f, n + 1, topic, n - 1));
    ck_assert_int_eq(topic_unsubscribe(t, f, n + 1, fake_sess(1)), TERN_OK);
    topic_tree_free(t);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

Suite *topic_tree_suite(void)
{
    Suite *s = suite_create("topic_tree");
    TCase *tc = tcase_create("match");
    tcase_add_loop_test(tc, test_topic_filter_matches_table, 0, NCASES);
    tcase_add_loop_test(tc, test_topic_tree_match_table, 0, NCASES);
    tcase_add_test(tc, test_topic_tree_all_filters_together);
    tcase_add_test(tc, test_topic_deep_filter);
    suite_add_tcase(s, tc);
    tc = tcase_create("subscriptions");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_topic_overlapping_filters_call_back_once_per_filter);
    tcase_add_test(tc, test_topic_resubscribe_updates_qos);
    tcase_add_test(tc, test_topic_resubscribe_qos_is_reported);
    tcase_add_test(tc, test_topic_unsubscribe_unknown_is_not_found);
    tcase_add_test(tc, test_topic_unsubscribe_frees_empty_nodes);
    tcase_add_test(tc, test_topic_shared_filter_many_sessions);
    tcase_add_test(tc, test_topic_10000_sessions_leave_no_memory);
    tcase_add_test(tc, test_topic_match_ignores_100000_unrelated);
    tcase_add_test(tc, test_topic_enomem_leaves_tree_unchanged);
    suite_add_tcase(s, tc);
    return s;
}
