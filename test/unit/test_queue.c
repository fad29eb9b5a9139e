/* Unit tests for queue.c (the per-session FIFO) and msg.c (refcounted messages). */
#include <check.h>
#include <string.h>

#include "mem.h"
#include "queue.h"
#include "tern/err.h"
#include "tern/msg.h"

static struct msg *mk(struct mem *m, const char *topic, size_t payload_len)
{
    static const uint8_t zeros[4096];
    return msg_new(m, (const uint8_t *)topic, strlen(topic), zeros, payload_len, 1, false);
}

START_TEST(test_msg_new_copies_topic_and_payload)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct msg *m = msg_new(&mem, (const uint8_t *)"a/b", 3, (const uint8_t *)"xyz", 3, 2, true);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m->topic, "a/b");
    ck_assert_mem_eq(m->payload, "xyz", 3);
    ck_assert_uint_eq(m->qos, 2);
    ck_assert(m->retain);
    ck_assert_uint_eq(m->refs, 1);
    msg_unref(&m);
    ck_assert_ptr_null(m);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

START_TEST(test_msg_shared_until_last_unref)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct msg *m = mk(&mem, "t", 10);
    struct msg *r = msg_ref(m);
    ck_assert_ptr_eq(r, m);
    msg_unref(&m);
    ck_assert_uint_gt(mem.used, 0);
    ck_assert_uint_eq(r->refs, 1);
    msg_unref(&r);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

START_TEST(test_msg_new_refused_over_memory_limit)
{
    struct mem mem;
    mem_init(&mem, 100);
    struct msg *m = mk(&mem, "t", 1000);
    ck_assert_ptr_null(m);
    ck_assert_uint_eq(mem.refused, 1);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

START_TEST(test_queue_is_fifo_across_growth)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct queue q;
    queue_init(&q, &mem);
    struct msg *ms[100];
    for (int i = 0; i < 100; i++) {
        ms[i] = mk(&mem, "t", (size_t)i);
        ck_assert_int_eq(queue_push(&q, ms[i], (uint8_t)(i % 3), i % 2), TERN_OK);
        ck_assert_uint_eq(ms[i]->refs, 2);
    }
    ck_assert_uint_eq(q.count, 100);
    for (int i = 0; i < 100; i++) {
        struct qentry e;
        ck_assert(queue_pop(&q, &e));
        ck_assert_ptr_eq(e.m, ms[i]);
        ck_assert_uint_eq(e.qos, i % 3);
        ck_assert_int_eq(e.retain, i % 2);
        msg_unref(&e.m);
        msg_unref(&ms[i]);
    }
    struct qentry e;
    ck_assert(!queue_pop(&q, &e));
    ck_assert_uint_eq(q.bytes, 0);
    queue_cleanup(&q);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

START_TEST(test_queue_wraps_around_the_ring)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct queue q;
    queue_init(&q, &mem);
    struct msg *m = mk(&mem, "t", 1);
    int next_in = 0;
    int next_out = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 5; i++, next_in++)
            queue_push(&q, m, (uint8_t)(next_in % 3), false);
        for (int i = 0; i < 3; i++, next_out++) {
            struct qentry e;
            ck_assert(queue_pop(&q, &e));
            ck_assert_uint_eq(e.qos, next_out % 3);
            msg_unref(&e.m);
        }
    }
    ck_assert_uint_eq(q.count, (size_t)(next_in - next_out));
    queue_cleanup(&q);
    ck_assert_uint_eq(m->refs, 1);
    msg_unref(&m);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

START_TEST(test_queue_full_by_count_and_by_bytes)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct queue q;
    queue_init(&q, &mem);
    struct msg *m = mk(&mem, "t", 100);
    size_t sz = msg_size(m);
    ck_assert(!queue_full(&q, 2, 0, sz));
    queue_push(&q, m, 1, false);
    queue_push(&q, m, 1, false);
    ck_assert(queue_full(&q, 2, 0, sz));
    ck_assert(!queue_full(&q, 0, 0, sz));          /* 0 = no limit */
    ck_assert(!queue_full(&q, 3, (long long)(3 * sz), sz));
    ck_assert(queue_full(&q, 3, (long long)(3 * sz) - 1, sz));
    ck_assert_uint_eq(q.bytes, 2 * sz);
    queue_cleanup(&q);
    msg_unref(&m);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

START_TEST(test_queue_cleanup_drops_references)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct queue q;
    queue_init(&q, &mem);
    struct msg *m = mk(&mem, "t", 1);
    for (int i = 0; i < 10; i++)
        queue_push(&q, m, 1, false);
    ck_assert_uint_eq(m->refs, 11);
    queue_cleanup(&q);
    ck_assert_uint_eq(m->refs, 1);
    ck_assert_uint_eq(q.count, 0);
    msg_unref(&m);
}
END_TEST

Suite *queue_suite(void)
{
    Suite *s = suite_create("queue");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_msg_new_copies_topic_and_payload);
    tcase_add_test(tc, test_msg_shared_until_last_unref);
    tcase_add_test(tc, test_msg_new_refused_over_memory_limit);
    tcase_add_test(tc, test_queue_is_fifo_across_growth);
    tcase_add_test(tc, test_queue_wraps_around_the_ring);
    tcase_add_test(tc, test_queue_full_by_count_and_by_bytes);
    tcase_add_test(tc, test_queue_cleanup_drops_references);
    suite_add_tcase(s, tc);
    return s;
}
