/*
 * Unit tests for expire.c: which lifetime a message gets (pattern rule, then listener, then
 * global), when it is due, and the wall-clock conversion persistence uses to carry a deadline
 * across a restart.
 */
#include "expire.h"

#include <check.h>
#include <string.h>

#include "broker.h"
#include "conf.h"
#include "loop.h"
#include "tern/err.h"
#include "tern/msg.h"
#include "tern/platform.h"

static struct broker b;
static struct conf c;

static void setup(void)
{
    memset(&b, 0, sizeof b);
    mem_init(&b.mem, 0);
    b.loop = loop_new(&b.mem, 16);
    ck_assert_ptr_nonnull(b.loop);
    loop_update_time(b.loop);
    expire_init(&b);
    conf_init(&c);
}

static void teardown(void)
{
    expire_cleanup(&b);
    loop_free(b.loop);
    conf_cleanup(&c);
    ck_assert_uint_eq(b.mem.used, 0);
}

static void configure(const char *text)
{
    char err[256];
    ck_assert_int_eq(conf_load_string(&c, "t.conf", text, strlen(text), err, sizeof err, NULL,
                                      NULL), TERN_OK);
    ck_assert_int_eq(expire_configure(&b, &c), TERN_OK);
}

/* The lifetime in seconds a message on topic published through a listener with listener_s
 * gets. */
static uint32_t lifetime(const char *topic, long listener_s)
{
    struct msg *m = msg_new(&b.mem, (const uint8_t *)topic, strlen(topic),
                            (const uint8_t *)"p", 1, 1, false);
    ck_assert_ptr_nonnull(m);
    expire_stamp(&b, m, listener_s);
    uint32_t s = m->expiry_s;
    if (s == 0)
        ck_assert(m->expires_at == UINT64_MAX);
    else
        ck_assert_uint_eq(m->expires_at, loop_now(b.loop) + (uint64_t)s * 1000u);
    msg_unref(&m);
    return s;
}

START_TEST(test_expire_pattern_beats_listener_beats_global)
{
    configure("message_expiry 30\nmessage_expiry 0 keep/#\nmessage_expiry 5 fast/+\n"
              "message_expiry 9 fast/#\n");
    ck_assert_uint_eq(lifetime("other", -1), 30);         /* global */
    ck_assert_uint_eq(lifetime("other", 7), 7);           /* the listener's own value */
    ck_assert_uint_eq(lifetime("other", 0), 0);           /* a listener may say "never" */
    ck_assert_uint_eq(lifetime("keep/a", 7), 0);          /* a pattern beats both */
    ck_assert_uint_eq(lifetime("fast/a", -1), 5);         /* first matching pattern */
    ck_assert_uint_eq(lifetime("fast/a/b", -1), 9);
    ck_assert(b.expiry.active);
}
END_TEST

START_TEST(test_expire_nothing_configured_means_never)
{
    configure("");
    ck_assert_uint_eq(lifetime("a", -1), 0);
    ck_assert(!b.expiry.active);
}
END_TEST

START_TEST(test_expire_due_and_restore_across_a_restart)
{
    struct msg *m = msg_new(&b.mem, (const uint8_t *)"t", 1, (const uint8_t *)"p", 1, 1, false);
    ck_assert(!expire_due(&b, m));                        /* not stamped: never */
    /* Arrived 10 s ago by the wall clock with a 60 s lifetime: about 50 s left. */
    int64_t now = plat_wall_ms();
    expire_restore(&b, m, now - 10000, 60);
    ck_assert(!expire_due(&b, m));
    uint64_t left = m->expires_at - loop_now(b.loop);
    ck_assert_uint_ge(left, 49000);
    ck_assert_uint_le(left, 50100);
    /* Written back, the arrival time is what it was (within clock reads). */
    int64_t back = expire_arrival_wall_ms(&b, m);
    ck_assert_int_ge(back, now - 10100);
    ck_assert_int_le(back, now - 9900);
    /* Its lifetime passed while the broker was down: due at once. */
    expire_restore(&b, m, now - 120000, 60);
    ck_assert(expire_due(&b, m));
    ck_assert_uint_ne(m->expires_at, 0);
    /* 0 = never, whatever the arrival. */
    expire_restore(&b, m, 0, 0);
    ck_assert(!expire_due(&b, m));
    msg_unref(&m);
}
END_TEST

Suite *expire_suite(void)
{
    Suite *s = suite_create("expire");
    TCase *tc = tcase_create("expire");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_expire_pattern_beats_listener_beats_global);
    tcase_add_test(tc, test_expire_nothing_configured_means_never);
    tcase_add_test(tc, test_expire_due_and_restore_across_a_restart);
    suite_add_tcase(s, tc);
    return s;
}
