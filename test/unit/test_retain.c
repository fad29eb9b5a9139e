/*
 * Unit tests for the retained-message store (src/retain.c): set, replace and clear
 * (MQTT 3.1.1 section 3.3.1.3), matching by wildcard filters with the '$' rule (4.7.2),
 * reference counts, the count and byte totals, and memory returning to its start.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "retain.h"
#include "tern/err.h"
#include "tern/msg.h"
#include "topic_tree.h"

#define S(x) (const uint8_t *)(x), strlen(x)

static struct msg *new_msg(struct mem *mem, const char *topic, const char *payload)
{
    struct msg *m = msg_new(mem, S(topic), (const uint8_t *)payload, strlen(payload), 0, true);
    ck_assert_ptr_nonnull(m);
    return m;
}

#define MAX_SEEN 64

struct seen {
    size_t n;
    struct msg *m[MAX_SEEN];
};

static void collect(void *ctx, struct msg *m)
{
    struct seen *s = ctx;
    if (s->n < MAX_SEEN)
        s->m[s->n] = m;
    s->n++;
}

static bool seen_topic(const struct seen *s, const char *topic)
{
    for (size_t i = 0; i < s->n && i < MAX_SEEN; i++) {
        if (strcmp(s->m[i]->topic, topic) == 0)
            return true;
    }
    return false;
}

START_TEST(test_retain_set_replace_clear)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct retain *r = retain_new(&mem);
    size_t start = mem.used;
    struct msg *a = new_msg(&mem, "a/b", "one");
    struct msg *b = new_msg(&mem, "a/b", "second");
    struct msg *clr = new_msg(&mem, "a/b", "");
    ck_assert_int_eq(retain_set(r, a), TERN_OK);
    ck_assert_uint_eq(a->refs, 2);
    ck_assert_uint_eq(retain_count(r), 1);
    ck_assert_uint_eq(retain_bytes(r), 3 + 3);
    ck_assert_int_eq(retain_set(r, b), TERN_OK);
    ck_assert_uint_eq(a->refs, 1);
    ck_assert_uint_eq(b->refs, 2);
    ck_assert_uint_eq(retain_count(r), 1);
    ck_assert_uint_eq(retain_bytes(r), 3 + 6);
    struct seen s = {0};
    retain_match(r, S("a/b"), collect, &s);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_ptr_eq(s.m[0], b);
    ck_assert_int_eq(retain_set(r, b), TERN_OK);
    ck_assert_uint_eq(b->refs, 2);
    ck_assert_int_eq(retain_set(r, clr), TERN_OK);
    ck_assert_uint_eq(b->refs, 1);
    ck_assert_uint_eq(clr->refs, 1);
    ck_assert_uint_eq(retain_count(r), 0);
    ck_assert_uint_eq(retain_bytes(r), 0);
    s.n = 0;
    retain_match(r, S("#"), collect, &s);
    ck_assert_uint_eq(s.n, 0);
    ck_assert_int_eq(retain_set(r, clr), TERN_OK);
    msg_unref(&a);
    msg_unref(&b);
    msg_unref(&clr);
    ck_assert_uint_eq(mem.used, start);
    retain_free(r);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

static const char *const topics[] = {
    "a", "a/b", "a/b/c", "a/c", "a//c", "a/", "/a", "b/b", "$SYS/x", "$SYS/x/y", "$SYS", "x/$y",
    "sport/tennis/player1", "sport/tennis/player2", "sport/golf", "sport",
};
#define NTOPICS (sizeof topics / sizeof topics[0])

static const char *const filters[] = {
    "#", "+", "a/#", "a/+", "+/b", "+/+", "a/+/c", "+/#", "$SYS/#", "$SYS/+", "+/x", "a/b",
    "nope", "nope/#", "sport/tennis/+", "sport/#", "/+", "a/", "+/+/+", "x/+", "$SYS", "a//+",
};
#define NFILTERS (sizeof filters / sizeof filters[0])

/* For each filter, retain_match reports exactly the topics topic_filter_matches accepts. */
START_TEST(test_retain_match_agrees_with_filter_rules)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct retain *r = retain_new(&mem);
    struct msg *m[NTOPICS];
    for (size_t i = 0; i < NTOPICS; i++) {
        m[i] = new_msg(&mem, topics[i], "p");
        ck_assert_int_eq(retain_set(r, m[i]), TERN_OK);
    }
    ck_assert_uint_eq(retain_count(r), NTOPICS);
    for (size_t f = 0; f < NFILTERS; f++) {
        struct seen s = {0};
        retain_match(r, S(filters[f]), collect, &s);
        size_t expect = 0;
        for (size_t i = 0; i < NTOPICS; i++) {
            bool match = topic_filter_matches(S(filters[f]), S(topics[i]));
            expect += match;
            ck_assert_msg(seen_topic(&s, topics[i]) == match, "filter '%s' topic '%s' want %d",
                          filters[f], topics[i], match);
        }
        ck_assert_uint_eq(s.n, expect);
    }
    for (size_t i = 0; i < NTOPICS; i++)
        msg_unref(&m[i]);
    retain_free(r);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

START_TEST(test_retain_dollar_rule)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct retain *r = retain_new(&mem);
    struct msg *sys = new_msg(&mem, "$SYS/broker/uptime", "9");
    struct msg *usr = new_msg(&mem, "broker/uptime", "9");
    retain_set(r, sys);
    retain_set(r, usr);
    struct seen s = {0};
    retain_match(r, S("#"), collect, &s);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_ptr_eq(s.m[0], usr);
    s.n = 0;
    retain_match(r, S("+/broker/+"), collect, &s);
    ck_assert_uint_eq(s.n, 0);
    s.n = 0;
    retain_match(r, S("+/uptime"), collect, &s);
    ck_assert_uint_eq(s.n, 1);
    s.n = 0;
    retain_match(r, S("$SYS/#"), collect, &s);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_ptr_eq(s.m[0], sys);
    s.n = 0;
    retain_match(r, S("$SYS/+/uptime"), collect, &s);
    ck_assert_uint_eq(s.n, 1);
    msg_unref(&sys);
    msg_unref(&usr);
    retain_free(r);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

START_TEST(test_retain_free_drops_every_reference)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct retain *r = retain_new(&mem);
    struct msg *m[200];
    char topic[32];
    size_t bytes = 0;
    for (size_t i = 0; i < 200; i++) {
        snprintf(topic, sizeof topic, "t/%zu/%zu", i % 7, i);
        m[i] = new_msg(&mem, topic, "payload");
        bytes += strlen(topic) + 7;
        ck_assert_int_eq(retain_set(r, m[i]), TERN_OK);
        ck_assert_uint_eq(m[i]->refs, 2);
    }
    ck_assert_uint_eq(retain_count(r), 200);
    ck_assert_uint_eq(retain_bytes(r), bytes);
    struct seen s = {0};
    retain_match(r, S("t/3/#"), collect, &s);
    ck_assert_uint_eq(s.n, 29);
    retain_free(r);
    for (size_t i = 0; i < 200; i++) {
        ck_assert_uint_eq(m[i]->refs, 1);
        msg_unref(&m[i]);
    }
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

START_TEST(test_retain_clear_returns_memory)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct retain *r = retain_new(&mem);
    size_t start = mem.used;
    char topic[32];
    for (size_t i = 0; i < 5000; i++) {
        snprintf(topic, sizeof topic, "s/%zu/%zu/v", i % 50, i);
        struct msg *m = new_msg(&mem, topic, "x");
        ck_assert_int_eq(retain_set(r, m), TERN_OK);
        msg_unref(&m);
    }
    for (size_t i = 0; i < 5000; i++) {
        snprintf(topic, sizeof topic, "s/%zu/%zu/v", i % 50, i);
        struct msg *m = new_msg(&mem, topic, "");
        ck_assert_int_eq(retain_set(r, m), TERN_OK);
        msg_unref(&m);
    }
    ck_assert_uint_eq(retain_count(r), 0);
    ck_assert_uint_eq(retain_bytes(r), 0);
    ck_assert_uint_eq(mem.used, start);
    retain_free(r);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

/* Clearing a topic keeps the messages stored at its parent and below it. */
START_TEST(test_retain_clear_keeps_neighbours)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct retain *r = retain_new(&mem);
    struct msg *p = new_msg(&mem, "a", "1");
    struct msg *c = new_msg(&mem, "a/b", "2");
    struct msg *g = new_msg(&mem, "a/b/c", "3");
    struct msg *clr = new_msg(&mem, "a/b", "");
    retain_set(r, p);
    retain_set(r, c);
    retain_set(r, g);
    retain_set(r, clr);
    struct seen s = {0};
    retain_match(r, S("a/#"), collect, &s);
    ck_assert_uint_eq(s.n, 2);
    ck_assert(seen_topic(&s, "a"));
    ck_assert(seen_topic(&s, "a/b/c"));
    ck_assert_uint_eq(c->refs, 1);
    msg_unref(&p);
    msg_unref(&c);
    msg_unref(&g);
    msg_unref(&clr);
    retain_free(r);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

START_TEST(test_retain_enomem_leaves_store_unchanged)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct retain *r = retain_new(&mem);
    struct msg *m[4] = {
        new_msg(&mem, "a/b", "1"), new_msg(&mem, "a/b/c/d", "2"), new_msg(&mem, "a/x", "3"),
        new_msg(&mem, "q/w/e", "4"),
    };
    ck_assert_int_eq(retain_set(r, m[0]), TERN_OK);
    size_t failures = 0;
    for (size_t i = 1; i < 4; i++) {
        for (size_t room = 0;; room += 8) {
            size_t before = mem.used;
            size_t count = retain_count(r);
            mem.limit = mem.used + room;
            int rc = retain_set(r, m[i]);
            mem.limit = 0;
            if (rc == TERN_OK)
                break;
            failures++;
            ck_assert_int_eq(rc, TERN_ENOMEM);
            ck_assert_uint_eq(mem.used, before);
            ck_assert_uint_eq(retain_count(r), count);
            ck_assert_uint_eq(m[i]->refs, 1);
            struct seen s = {0};
            retain_match(r, S("#"), collect, &s);
            ck_assert_uint_eq(s.n, count);
        }
    }
    ck_assert_uint_gt(failures, 3);
    ck_assert_uint_eq(retain_count(r), 4);
    retain_free(r);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_uint_eq(m[i]->refs, 1);
        msg_unref(&m[i]);
    }
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

/* A topic of thousands of levels costs no stack depth to store, match or free. */
START_TEST(test_retain_deep_topic)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct retain *r = retain_new(&mem);
    static char topic[65535];
    size_t n = 0;
    for (; n + 2 <= sizeof topic - 1; n += 2) {
        topic[n] = 'a';
        topic[n + 1] = '/';
    }
    topic[n] = 'a';
    struct msg *m = msg_new(&mem, (const uint8_t *)topic, n + 1, (const uint8_t *)"x", 1, 0, true);
    ck_assert_int_eq(retain_set(r, m), TERN_OK);
    struct seen s = {0};
    retain_match(r, S("#"), collect, &s);
    ck_assert_uint_eq(s.n, 1);
    s.n = 0;
    retain_match(r, S("a/+/a/#"), collect, &s);
    ck_assert_uint_eq(s.n, 1);
    retain_free(r);
    msg_unref(&m);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

Suite *retain_suite(void)
{
    Suite *s = suite_create("retain");
    TCase *tc = tcase_create("retain");
    tcase_add_test(tc, test_retain_set_replace_clear);
    tcase_add_test(tc, test_retain_match_agrees_with_filter_rules);
    tcase_add_test(tc, test_retain_dollar_rule);
    tcase_add_test(tc, test_retain_free_drops_every_reference);
    tcase_add_test(tc, test_retain_clear_returns_memory);
    tcase_add_test(tc, test_retain_clear_keeps_neighbours);
    tcase_add_test(tc, test_retain_enomem_leaves_store_unchanged);
    tcase_add_test(tc, test_retain_deep_topic);
    suite_add_tcase(s, tc);
    return s;
}
