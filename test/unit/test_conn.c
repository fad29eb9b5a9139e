/*
 * Unit tests for conn.c's output bound (out_limit): while a connection's unsent output is over
 * it, QoS 0 deliveries are dropped and counted, QoS 1/2 deliveries wait in the session queue,
 * and the connection is not read from; once the output drains under the bound, reading resumes
 * and the queue flows again. The broker context is assembled from its real modules as in
 * test_session.c; the client is a socketpair whose end the test reads or leaves unread.
 */
#include <check.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "conn.h"
#include "listener.h"
#include "loop.h"
#include "retain.h"
#include "session.h"
#include "tern/err.h"
#include "tern/msg.h"
#include "tern/platform.h"
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
    f->b.lim.max_inflight = 0;              /* no window: only out_limit holds QoS 1 back */
    f->b.lim.out_limit = 4096;
    f->b.lim.connect_timeout_ms = 10000;
    f->lst.b = &f->b;
    f->lst.tp = &net_tcp_transport;
    f->lst.max_connections = -1;
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
    close(f->peer_fd);
    ck_assert_uint_eq(f->b.mem.used, 0);
}

static struct sess *attached(struct fixture *f)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    /* A small send buffer, so a few KiB of output stay in the broker. */
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    ck_assert_int_eq(conn_accept(&f->b, &f->lst, sv[0], "10.1.2.3:4000"), TERN_OK);
    f->peer_fd = sv[1];
    struct conn *c = f->b.conns;
    c->state = CONN_ACTIVE;
    struct sess *s = sess_new(&f->b, (const uint8_t *)"slow", 4, false);
    c->sess = s;
    sess_attach(s, c);
    return s;
}

static void deliver(struct fixture *f, struct sess *s, uint8_t qos, size_t payload)
{
    static const uint8_t zeros[2048];
    struct msg *m = msg_new(&f->b.mem, (const uint8_t *)"t", 1, zeros, payload, qos, false);
    ck_assert_ptr_nonnull(m);
    sess_deliver(s, m, qos, false);
    msg_unref(&m);
}

static size_t drain_peer(int fd)
{
    uint8_t buf[65536];
    size_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            return total;
        total += (size_t)n;
    }
}

START_TEST(test_conn_output_over_limit_queues_qos1_and_stops_reading)
{
    struct fixture f;
    setup(&f);
    struct sess *s = attached(&f);
    struct conn *c = s->conn;
    /* The peer reads nothing: the socket takes some, the rest stays in the output queue. */
    for (int i = 0; i < 64; i++) {
        deliver(&f, s, 1, 2000);
        conn_flush_all(&f.b);
    }
    ck_assert_uint_gt(c->out.pending, f.b.lim.out_limit);
    ck_assert_uint_gt(s->pending.count, 0);             /* QoS 1 waits in the queue */
    ck_assert(c->read_paused);
    ck_assert_uint_eq(c->mask & PLAT_READ, 0);          /* not read from */
    ck_assert_uint_eq(c->mask & PLAT_WRITE, PLAT_WRITE);
    ck_assert_uint_eq(f.b.stats.reads_paused_output, 1);
    size_t queued = s->pending.count;
    uint64_t dropped = f.b.stats.dropped_slow_qos0;
    deliver(&f, s, 0, 100);
    ck_assert_uint_eq(f.b.stats.dropped_slow_qos0, dropped + 1);
    ck_assert_uint_eq(s->pending.count, queued);        /* QoS 0 is not queued */
    /* The peer reads everything: output drains, reading resumes and the queue flows. */
    size_t got = 0;
    for (int i = 0; i < 1000 && (s->pending.count > 0 || !outq_empty(&c->out)); i++) {
        got += drain_peer(f.peer_fd);
        ck_assert_int_ge(loop_run_once(f.b.loop, 0), 0);
        conn_flush_all(&f.b);
    }
    got += drain_peer(f.peer_fd);
    ck_assert_uint_eq(s->pending.count, 0);
    ck_assert(!c->read_paused);
    ck_assert_uint_eq(c->mask & PLAT_READ, PLAT_READ);
    ck_assert_uint_eq(s->infl_live, 64);                /* every QoS 1 message was sent */
    ck_assert_uint_ge(got, 64u * 2000u);
    teardown(&f);
}
END_TEST

START_TEST(test_conn_counts_connections_per_address)
{
    struct fixture f;
    setup(&f);
    struct sess *s = attached(&f);
    ck_assert_uint_eq(peer_count_get(&f.b.peers, "10.1.2.3:1"), 1);
    conn_close(s->conn, "test");
    ck_assert_uint_eq(peer_count_get(&f.b.peers, "10.1.2.3:1"), 0);
    conn_flush_all(&f.b);
    teardown(&f);
}
END_TEST

Suite *conn_suite(void)
{
    Suite *s = suite_create("conn");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_conn_output_over_limit_queues_qos1_and_stops_reading);
    tcase_add_test(tc, test_conn_counts_connections_per_address);
    suite_add_tcase(s, tc);
    return s;
}
