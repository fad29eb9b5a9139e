/* Unit tests for buf.c: the output queue flushed with writev. */
#include <check.h>
#include <string.h>

#include "buf.h"
#include "mem.h"
#include "tern/err.h"
#include "tern/msg.h"

/* Concatenates what outq_iov reports, up to max bytes. */
static size_t gather(const struct outq *q, uint8_t *out, size_t max)
{
    struct iovec iov[64];
    int n = outq_iov(q, iov, 64);
    size_t len = 0;
    for (int i = 0; i < n && len < max; i++) {
        size_t k = iov[i].iov_len < max - len ? iov[i].iov_len : max - len;
        memcpy(out + len, iov[i].iov_base, k);
        len += k;
    }
    return len;
}

START_TEST(test_buf_adjacent_bytes_merge_into_one_segment)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct outq q;
    outq_init(&q, &mem);
    ck_assert_int_eq(outq_add_bytes(&q, "abc", 3), TERN_OK);
    ck_assert_int_eq(outq_add_bytes(&q, "def", 3), TERN_OK);
    struct iovec iov[4];
    ck_assert_int_eq(outq_iov(&q, iov, 4), 1);
    ck_assert_uint_eq(iov[0].iov_len, 6);
    ck_assert_mem_eq(iov[0].iov_base, "abcdef", 6);
    outq_cleanup(&q);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

START_TEST(test_buf_large_payload_is_shared_not_copied)
{
    struct mem mem;
    mem_init(&mem, 0);
    uint8_t payload[2000];
    memset(payload, 'p', sizeof payload);
    struct msg *m = msg_new(&mem, (const uint8_t *)"t", 1, payload, sizeof payload, 0, false);
    struct outq q;
    outq_init(&q, &mem);
    outq_add_bytes(&q, "hdr", 3);
    ck_assert_int_eq(outq_add_payload(&q, m), TERN_OK);
    ck_assert_uint_eq(m->refs, 2);
    struct iovec iov[4];
    ck_assert_int_eq(outq_iov(&q, iov, 4), 2);
    ck_assert_ptr_eq(iov[1].iov_base, m->payload);
    ck_assert_uint_eq(q.pending, 3 + sizeof payload);
    outq_consume(&q, 3 + sizeof payload);
    ck_assert(outq_empty(&q));
    ck_assert_uint_eq(m->refs, 1);
    msg_unref(&m);
    outq_cleanup(&q);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

START_TEST(test_buf_small_payload_is_copied)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct msg *m = msg_new(&mem, (const uint8_t *)"t", 1, (const uint8_t *)"xy", 2, 0, false);
    struct outq q;
    outq_init(&q, &mem);
    outq_add_bytes(&q, "h", 1);
    outq_add_payload(&q, m);
    ck_assert_uint_eq(m->refs, 1);
    uint8_t out[8];
    ck_assert_uint_eq(gather(&q, out, sizeof out), 3);
    ck_assert_mem_eq(out, "hxy", 3);
    msg_unref(&m);
    outq_cleanup(&q);
}
END_TEST

START_TEST(test_buf_partial_consume_keeps_order_and_bytes)
{
    struct mem mem;
    mem_init(&mem, 0);
    uint8_t big[1000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)i;
    struct msg *m = msg_new(&mem, (const uint8_t *)"t", 1, big, sizeof big, 0, false);
    struct outq q;
    outq_init(&q, &mem);
    uint8_t expect[4096];
    size_t elen = 0;
    for (int i = 0; i < 3; i++) {
        outq_add_bytes(&q, "HEAD", 4);
        outq_add_payload(&q, m);
        memcpy(expect + elen, "HEAD", 4);
        memcpy(expect + elen + 4, big, sizeof big);
        elen += 4 + sizeof big;
    }
    size_t done = 0;
    size_t steps[] = {1, 3, 500, 503, 7, 1000, 998};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        outq_consume(&q, steps[i]);
        done += steps[i];
        uint8_t out[4096];
        size_t got = gather(&q, out, sizeof out);
        ck_assert_uint_eq(got, elen - done);
        ck_assert_mem_eq(out, expect + done, got);
    }
    outq_cleanup(&q);
    ck_assert_uint_eq(m->refs, 1);
    msg_unref(&m);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

START_TEST(test_buf_many_segments_grow_and_drain)
{
    struct mem mem;
    mem_init(&mem, 0);
    uint8_t big[600];
    memset(big, 'b', sizeof big);
    struct msg *m = msg_new(&mem, (const uint8_t *)"t", 1, big, sizeof big, 0, false);
    struct outq q;
    outq_init(&q, &mem);
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(outq_add_bytes(&q, "h", 1), TERN_OK);
        ck_assert_int_eq(outq_add_payload(&q, m), TERN_OK);
    }
    ck_assert_uint_eq(q.pending, 1000 * 601);
    ck_assert_uint_eq(m->refs, 1001);
    while (!outq_empty(&q))
        outq_consume(&q, 601 * 7 < q.pending ? 601 * 7 : q.pending);
    ck_assert_uint_eq(m->refs, 1);
    msg_unref(&m);
    outq_cleanup(&q);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

START_TEST(test_buf_enomem_when_capped)
{
    struct mem mem;
    mem_init(&mem, 200);
    struct outq q;
    outq_init(&q, &mem);
    uint8_t big[1000] = {0};
    ck_assert_int_eq(outq_add_bytes(&q, big, sizeof big), TERN_ENOMEM);
    ck_assert(outq_empty(&q));
    outq_cleanup(&q);
}
END_TEST

Suite *buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("outq");
    tcase_add_test(tc, test_buf_adjacent_bytes_merge_into_one_segment);
    tcase_add_test(tc, test_buf_large_payload_is_shared_not_copied);
    tcase_add_test(tc, test_buf_small_payload_is_copied);
    tcase_add_test(tc, test_buf_partial_consume_keeps_order_and_bytes);
    tcase_add_test(tc, test_buf_many_segments_grow_and_drain);
    tcase_add_test(tc, test_buf_enomem_when_capped);
    suite_add_tcase(s, tc);
    return s;
}
