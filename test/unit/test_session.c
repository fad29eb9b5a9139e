/*
 * Unit tests for session.c: offline queue limits, the in-flight window, QoS 2 bookkeeping,
 * resend on reconnect. A broker context is assembled from its real modules (loop, topic tree,
 * retained store); the client side is a socketpair whose output queue is decoded with the
 * codec.
 */
#include <check.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "conn.h"
#include "listener.h"
#include "loop.h"
#include "retain.h"
#include "session.h"
#include "tern/codec.h"
#include "tern/err.h"
#include "tern/msg.h"
#include "topic_tree.h"

struct fixture {
    struct broker b;
    struct listener lst;
    int peer_fd;
};

static void setup(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    mem_init(&f->b.mem, 0);
    f->b.loop = loop_new(&f->b.mem, 16);
    f->b.subs = topic_tree_new(&f->b.mem);
    f->b.retained = retain_new(&f->b.mem);
    f->b.lim.max_queued_messages = 1000;
    f->b.lim.max_inflight = 20;
    f->b.lim.out_limit = 1 << 20;
    f->b.lim.connect_timeout_ms = 10000;
    f->lst.b = &f->b;
    f->lst.tp = &net_tcp_transport;
    f->lst.max_connections = -1;
    f->b.log.types = 0;
    ck_assert_ptr_nonnull(f->b.loop);
}

static void teardown(struct fixture *f)
{
    conn_close_all(&f->b);
    sess_free_all(&f->b);
    retain_free(f->b.retained);
    topic_tree_free(f->b.subs);
    mem_free(&f->b.mem, f->b.match);
    loop_free(f->b.loop);
    if (f->peer_fd > 0)
        close(f->peer_fd);
    ck_assert_uint_eq(f->b.mem.used, 0);
}

static struct conn *connect_client(struct fixture *f)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(conn_accept(&f->b, &f->lst, sv[0], "test"), TERN_OK);
    f->peer_fd = sv[1];
    struct conn *c = f->b.conns;
    c->state = CONN_ACTIVE;
    return c;
}

static struct msg *mk(struct fixture *f, const char *topic, uint8_t qos)
{
    return msg_new(&f->b.mem, (const uint8_t *)topic, strlen(topic), (const uint8_t *)"p", 1,
                   qos, false);
}

/* Decodes the PUBLISH packets waiting in c's output queue, in order; returns how many. */
static int pending_publishes(struct conn *c, uint16_t *ids, bool *dups, int max)
{
    uint8_t buf[65536];
    struct iovec iov[256];
    int n = outq_iov(&c->out, iov, 256);
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        memcpy(buf + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    int count = 0;
    size_t off = 0;
    while (off < len) {
        struct pkt p;
        size_t used;
        ck_assert_int_eq(codec_decode(buf + off, len - off, 0, false, &p, &used), TERN_OK);
        if (p.type == MQTT_PUBLISH && count < max) {
            ids[count] = p.u.publish.packet_id;
            dups[count] = p.u.publish.dup;
            count++;
        }
        off += used;
    }
    return count;
}

START_TEST(test_session_offline_queue_keeps_first_n_and_counts_drops)
{
    struct fixture f;
    setup(&f);
    f.b.lim.max_queued_messages = 5;
    struct sess *s = sess_new(&f.b, (const uint8_t *)"c1", 2, false);
    for (int i = 0; i < 10; i++) {
        struct msg *m = mk(&f, "t", 1);
        sess_deliver(s, m, 1, false);
        msg_unref(&m);
    }
    ck_assert_uint_eq(s->pending.count, 5);
    ck_assert_uint_eq(f.b.stats.dropped_queue_full, 5);
    teardown(&f);
}
END_TEST

START_TEST(test_session_offline_qos0_queued_only_when_enabled)
{
    struct fixture f;
    setup(&f);
    struct sess *s = sess_new(&f.b, (const uint8_t *)"c1", 2, false);
    struct msg *m = mk(&f, "t", 0);
    sess_deliver(s, m, 0, false);
    ck_assert_uint_eq(s->pending.count, 0);
    f.b.lim.queue_qos0 = true;
    sess_deliver(s, m, 0, false);
    ck_assert_uint_eq(s->pending.count, 1);
    msg_unref(&m);
    teardown(&f);
}
END_TEST

START_TEST(test_session_queue_bytes_limit)
{
    struct fixture f;
    setup(&f);
    struct sess *s = sess_new(&f.b, (const uint8_t *)"c1", 2, false);
    struct msg *m = mk(&f, "t", 1);
    f.b.lim.max_queued_bytes = (long long)msg_size(m) * 3;
    for (int i = 0; i < 5; i++)
        sess_deliver(s, m, 1, false);
    ck_assert_uint_eq(s->pending.count, 3);
    msg_unref(&m);
    teardown(&f);
}
END_TEST

START_TEST(test_session_window_holds_messages_until_acked_in_order)
{
    struct fixture f;
    setup(&f);
    f.b.lim.max_inflight = 2;
    struct conn *c = connect_client(&f);
    struct sess *s = sess_new(&f.b, (const uint8_t *)"c1", 2, false);
    c->sess = s;
    sess_attach(s, c);
    for (int i = 0; i < 5; i++) {
        struct msg *m = mk(&f, "t", 1);
        sess_deliver(s, m, 1, false);
        msg_unref(&m);
    }
    uint16_t ids[8];
    bool dups[8];
    ck_assert_int_eq(pending_publishes(c, ids, dups, 8), 2);
    ck_assert_uint_eq(ids[0], 1);
    ck_assert_uint_eq(ids[1], 2);
    ck_assert_uint_eq(s->pending.count, 3);
    ck_assert_int_eq(sess_on_puback(s, 2), TERN_OK);   /* out of order ack */
    ck_assert_int_eq(pending_publishes(c, ids, dups, 8), 3);
    ck_assert_uint_eq(ids[2], 3);
    ck_assert_int_eq(sess_on_puback(s, 2), TERN_ENOTFOUND);
    ck_assert_int_eq(sess_on_puback(s, 1), TERN_OK);
    ck_assert_int_eq(pending_publishes(c, ids, dups, 8), 4);
    ck_assert_uint_eq(ids[3], 4);
    ck_assert_uint_eq(s->infl_live, 2);
    teardown(&f);
}
END_TEST

START_TEST(test_session_qos2_outbound_flow_and_resend_on_reattach)
{
    struct fixture f;
    setup(&f);
    struct conn *c = connect_client(&f);
    struct sess *s = sess_new(&f.b, (const uint8_t *)"c1", 2, false);
    c->sess = s;
    sess_attach(s, c);
    struct msg *m = mk(&f, "t", 2);
    sess_deliver(s, m, 2, false);
    sess_deliver(s, m, 2, false);
    msg_unref(&m);
    ck_assert_int_eq(sess_on_pubrec(s, 1), TERN_OK);
    ck_assert_uint_eq(s->infl_live, 2);
    /* Reconnect: PUBLISH id 2 is resent with DUP, id 1 gets its PUBREL again. */
    c->sess = NULL;
    sess_detach(s);
    conn_close(c, NULL);
    conn_flush_all(&f.b);
    close(f.peer_fd);
    struct conn *c2 = connect_client(&f);
    c2->sess = s;
    sess_attach(s, c2);
    uint16_t ids[4];
    bool dups[4];
    ck_assert_int_eq(pending_publishes(c2, ids, dups, 4), 1);
    ck_assert_uint_eq(ids[0], 2);
    ck_assert(dups[0]);
    ck_assert_int_eq(sess_on_pubcomp(s, 1), TERN_OK);
    ck_assert_int_eq(sess_on_pubcomp(s, 2), TERN_ENOTFOUND); /* PUBREC not seen yet */
    ck_assert_int_eq(sess_on_pubrec(s, 2), TERN_OK);
    ck_assert_int_eq(sess_on_pubcomp(s, 2), TERN_OK);
    ck_assert_uint_eq(s->infl_live, 0);
    ck_assert_uint_eq(s->infl_span, 0);
    teardown(&f);
}
END_TEST

START_TEST(test_session_inbound_qos2_ids_held_until_pubrel)
{
    struct fixture f;
    setup(&f);
    struct sess *s = sess_new(&f.b, (const uint8_t *)"c1", 2, false);
    ck_assert(!sess_qos2_seen(s, 7));
    ck_assert_int_eq(sess_qos2_add(s, 7), TERN_OK);
    for (uint16_t id = 100; id < 200; id++)
        sess_qos2_add(s, id);
    ck_assert(sess_qos2_seen(s, 7));
    sess_qos2_release(s, 7);
    ck_assert(!sess_qos2_seen(s, 7));
    ck_assert(sess_qos2_seen(s, 150));
    teardown(&f);
}
END_TEST

START_TEST(test_session_packet_ids_skip_zero_on_wrap)
{
    struct fixture f;
    setup(&f);
    f.b.lim.max_inflight = 0;
    struct conn *c = connect_client(&f);
    struct sess *s = sess_new(&f.b, (const uint8_t *)"c1", 2, false);
    c->sess = s;
    sess_attach(s, c);
    s->last_pid = 65534;
    struct msg *m = mk(&f, "t", 1);
    for (int i = 0; i < 3; i++)
        sess_deliver(s, m, 1, false);
    msg_unref(&m);
    uint16_t ids[4];
    bool dups[4];
    ck_assert_int_eq(pending_publishes(c, ids, dups, 4), 3);
    ck_assert_uint_eq(ids[0], 65535);
    ck_assert_uint_eq(ids[1], 1);
    ck_assert_uint_eq(ids[2], 2);
    teardown(&f);
}
END_TEST

START_TEST(test_session_table_finds_and_frees_many)
{
    struct fixture f;
    setup(&f);
    char id[32];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(id, sizeof id, "client-%d", i);
        ck_assert_ptr_nonnull(sess_new(&f.b, (const uint8_t *)id, (size_t)n, false));
    }
    for (int i = 0; i < 5000; i += 7) {
        int n = snprintf(id, sizeof id, "client-%d", i);
        struct sess *s = sess_find(&f.b, (const uint8_t *)id, (size_t)n);
        ck_assert_ptr_nonnull(s);
        ck_assert_str_eq(s->client_id, id);
    }
    ck_assert_ptr_null(sess_find(&f.b, (const uint8_t *)"nope", 4));
    struct sess *s = sess_find(&f.b, (const uint8_t *)"client-42", 9);
    ck_assert_int_eq(sess_subscribe(s, (const uint8_t *)"a/+", 3, 1), TERN_OK);
    ck_assert_uint_eq(topic_count(f.b.subs), 1);
    sess_free(s);
    ck_assert_uint_eq(topic_count(f.b.subs), 0);
    ck_assert_uint_eq(f.b.sessions.count, 4999);
    teardown(&f);
}
END_TEST

Suite *session_suite(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_session_offline_queue_keeps_first_n_and_counts_drops);
    tcase_add_test(tc, test_session_offline_qos0_queued_only_when_enabled);
    tcase_add_test(tc, test_session_queue_bytes_limit);
    tcase_add_test(tc, test_session_window_holds_messages_until_acked_in_order);
    tcase_add_test(tc, test_session_qos2_outbound_flow_and_resend_on_reattach);
    tcase_add_test(tc, test_session_inbound_qos2_ids_held_until_pubrel);
    tcase_add_test(tc, test_session_packet_ids_skip_zero_on_wrap);
    tcase_add_test(tc, test_session_table_finds_and_frees_many);
    suite_add_tcase(s, tc);
    return s;
}
