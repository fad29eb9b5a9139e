/* Unit tests for peer_count.c: connections per client address (max_connections_per_address). */
#include <check.h>
#include <stdio.h>

#include "mem.h"
#include "peer_count.h"
#include "tern/err.h"

START_TEST(test_peer_count_counts_per_host_not_per_port)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct peer_count t = {0};
    ck_assert_int_eq(peer_count_add(&t, &mem, "10.0.0.1:5000"), TERN_OK);
    ck_assert_int_eq(peer_count_add(&t, &mem, "10.0.0.1:5001"), TERN_OK);
    ck_assert_int_eq(peer_count_add(&t, &mem, "::1:6000"), TERN_OK);
    ck_assert_uint_eq(peer_count_get(&t, "10.0.0.1:9"), 2);
    ck_assert_uint_eq(peer_count_get(&t, "::1:1"), 1);
    ck_assert_uint_eq(peer_count_get(&t, "10.0.0.10:5000"), 0);
    ck_assert_uint_eq(peer_count_get(&t, "10.0.0.:5000"), 0);
    peer_count_remove(&t, &mem, "10.0.0.1:5000");
    ck_assert_uint_eq(peer_count_get(&t, "10.0.0.1:5001"), 1);
    peer_count_remove(&t, &mem, "10.0.0.1:5001");
    peer_count_remove(&t, &mem, "::1:6000");
    ck_assert_uint_eq(peer_count_get(&t, "10.0.0.1:5001"), 0);
    /* The last address leaving frees the table. */
    ck_assert_ptr_null(t.slots);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

START_TEST(test_peer_count_survives_churn_of_many_addresses)
{
    struct mem mem;
    mem_init(&mem, 0);
    struct peer_count t = {0};
    char peer[64];
    /* 3000 addresses, address i with (i % 3) + 1 connections, so the table grows several
     * times and deletions shift entries inside long probe runs. */
    for (int i = 0; i < 3000; i++) {
        for (int k = 0; k <= i % 3; k++) {
            snprintf(peer, sizeof peer, "192.168.%d.%d:%d", i / 256, i % 256, 1000 + k);
            ck_assert_int_eq(peer_count_add(&t, &mem, peer), TERN_OK);
        }
    }
    ck_assert_uint_eq(t.used, 3000);
    /* Remove every odd address entirely, then check every count. */
    for (int i = 1; i < 3000; i += 2) {
        for (int k = 0; k <= i % 3; k++) {
            snprintf(peer, sizeof peer, "192.168.%d.%d:%d", i / 256, i % 256, 1000 + k);
            peer_count_remove(&t, &mem, peer);
        }
    }
    for (int i = 0; i < 3000; i++) {
        snprintf(peer, sizeof peer, "192.168.%d.%d:1", i / 256, i % 256);
        ck_assert_uint_eq(peer_count_get(&t, peer), i % 2 ? 0 : (unsigned)(i % 3) + 1);
    }
    /* Removing an address that is not there changes nothing. */
    peer_count_remove(&t, &mem, "172.16.0.1:1");
    ck_assert_uint_eq(t.used, 1500);
    for (int i = 0; i < 3000; i += 2) {
        for (int k = 0; k <= i % 3; k++) {
            snprintf(peer, sizeof peer, "192.168.%d.%d:%d", i / 256, i % 256, 1000 + k);
            peer_count_remove(&t, &mem, peer);
        }
    }
    ck_assert_uint_eq(t.used, 0);
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

START_TEST(test_peer_count_refuses_without_memory)
{
    struct mem mem;
    mem_init(&mem, 64);
    struct peer_count t = {0};
    ck_assert_int_eq(peer_count_add(&t, &mem, "10.0.0.1:1"), TERN_ENOMEM);
    ck_assert_uint_eq(peer_count_get(&t, "10.0.0.1:1"), 0);
    peer_count_remove(&t, &mem, "10.0.0.1:1");
    ck_assert_uint_eq(mem.used, 0);
}
END_TEST

Suite *peer_count_suite(void)
{
    Suite *s = suite_create("peer_count");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_peer_count_counts_per_host_not_per_port);
    tcase_add_test(tc, test_peer_count_survives_churn_of_many_addresses);
    tcase_add_test(tc, test_peer_count_refuses_without_memory);
    suite_add_tcase(s, tc);
    return s;
}
