/*
 * Unit tests for conn.c's push path (conn_input, conn_writable, set_interest), the one the
 * WebSocket transport uses: bytes handed over in arbitrary pieces are framed exactly as bytes
 * read from a socket (a packet split over many calls, several packets in one call, a packet
 * larger than the read buffer), and output waits for the transport when it cannot take it.
 * The transport here is a fake push transport recording what conn.c asks of it; the broker is
 * assembled from its real modules as in test_conn.c.
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
#include "tern/codec.h"
#include "tern/err.h"
#include "tern/platform.h"
#include "topic_tree.h"

struct fixture {
    struct broker b;
    struct listener lst;
    int fds[2];
    uint8_t out[8192];               /* what the fake transport was given */
    size_t out_len;
    bool eagain;                     /* the fake transport takes nothing */
    uint32_t interest;               /* the last set_interest mask */
    int interest_calls;
};

static struct fixture *fx(struct conn *c)
{
    return c->tp_state;
}

static int fake_attach(struct conn *c)
{
    c->tp_state = c->lst->tp_listener;
    return TERN_OK;
}

static void fake_set_interest(struct conn *c, uint32_t mask)
{
    fx(c)->interest = mask;
    fx(c)->interest_calls++;
}

static ssize_t fake_writev(struct conn *c, const struct iovec *iov, int iovcnt)
{
    struct fixture *f = fx(c);
    if (f->eagain)
        return TERN_EAGAIN;
    size_t n = 0;
    for (int i = 0; i < iovcnt; i++) {
        ck_assert_uint_le(f->out_len + iov[i].iov_len, sizeof f->out);
        memcpy(f->out + f->out_len, iov[i].iov_base, iov[i].iov_len);
        f->out_len += iov[i].iov_len;
        n += iov[i].iov_len;
    }
    return (ssize_t)n;
}

static ssize_t fake_read(struct conn *c, void *buf, size_t len)
{
    return TERN_EAGAIN;
}

static const struct transport fake_push = {
    .name = "fake-push",
    .read = fake_read,
    .writev = fake_writev,
    .attach = fake_attach,
    .set_interest = fake_set_interest,
};

static struct conn *setup(struct fixture *f, size_t rbuf)
{
    memset(f, 0, sizeof *f);
    struct broker *b = &f->b;
    mem_init(&b->mem, 0);
    b->loop = loop_new(&b->mem, 16);
    b->subs = topic_tree_new(&b->mem);
    b->retained = retain_new(&b->mem);
    ck_assert_ptr_nonnull(b->loop);
    b->lim.max_queued_messages = 1000;
    b->lim.max_packet = 1u << 20;
    b->lim.max_connections = -1;
    b->lim.max_keepalive = 65535;
    b->lim.retain_available = true;
    b->lim.allow_anonymous = true;
    b->lim.connect_timeout_ms = 10000;
    b->lim.out_limit = 1u << 20;
    b->rbuf_size = rbuf;              /* small: drives the large-packet path */
    b->rbuf = mem_alloc(&b->mem, rbuf);
    loop_update_time(b->loop);
    f->lst.b = b;
    f->lst.tp = &fake_push;
    f->lst.tp_listener = f;
    f->lst.max_connections = -1;
    /* conn_accept wants an fd; a push transport owns it, so the test closes it. */
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, f->fds), 0);
    ck_assert_int_eq(conn_accept(b, &f->lst, f->fds[0], "10.0.0.1:1"), TERN_OK);
    return b->conns;
}

static void teardown(struct fixture *f)
{
    conn_close_all(&f->b);
    sess_free_all(&f->b);
    retain_free(f->b.retained);
    topic_tree_free(f->b.subs);
    mem_free(&f->b.mem, f->b.match);
    mem_free(&f->b.mem, f->b.rbuf);
    loop_free(f->b.loop);
    close(f->fds[0]);
    close(f->fds[1]);
    ck_assert_uint_eq(f->b.mem.used, 0);
}

static size_t enc_len(uint8_t *p, size_t n)
{
    size_t i = 0;
    do {
        p[i] = (uint8_t)(n % 128);
        n /= 128;
        if (n > 0)
            p[i] |= 0x80;
        i++;
    } while (n > 0);
    return i;
}

static const uint8_t CONNECT[] = {0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60,
                                  0, 4, 'p', 'u', 's', 'h'};

/* Feeds p[0..n) in pieces of step bytes. */
static void feed(struct conn *c, const uint8_t *p, size_t n, size_t step)
{
    for (size_t off = 0; off < n; off += step)
        conn_input(c, p + off, n - off < step ? n - off : step);
}

/* Decodes f->out into packet types (up to max); returns the count. */
static int decode_out(struct fixture *f, int *types, size_t *payload_len, int max)
{
    size_t off = 0;
    int n = 0;
    while (off < f->out_len && n < max) {
        struct pkt p;
        size_t used = 0;
        ck_assert_int_eq(codec_decode(f->out + off, f->out_len - off, 0, false, &p, &used),
                         TERN_OK);
        types[n] = p.type;
        payload_len[n] = p.type == MQTT_PUBLISH ? p.u.publish.payload.len : 0;
        n++;
        off += used;
    }
    return n;
}

START_TEST(test_conn_input_connect_one_byte_at_a_time)
{
    struct fixture f;
    struct conn *c = setup(&f, 64);
    feed(c, CONNECT, sizeof CONNECT, 1);
    ck_assert_int_eq(c->state, CONN_ACTIVE);
    ck_assert_str_eq(conn_client_id(c), "push");
    conn_flush_all(&f.b);
    static const uint8_t connack[] = {0x20, 2, 0, 0};
    ck_assert_uint_eq(f.out_len, sizeof connack);
    ck_assert_mem_eq(f.out, connack, sizeof connack);
    teardown(&f);
}
END_TEST

START_TEST(test_conn_input_several_packets_per_call_and_a_large_split_packet)
{
    struct fixture f;
    struct conn *c = setup(&f, 64);
    /* CONNECT, SUBSCRIBE a/# (QoS 0) and PINGREQ in one call. */
    uint8_t buf[2048];
    size_t n = 0;
    memcpy(buf, CONNECT, sizeof CONNECT);
    n += sizeof CONNECT;
    static const uint8_t sub[] = {0x82, 8, 0, 1, 0, 3, 'a', '/', '#', 0};
    memcpy(buf + n, sub, sizeof sub);
    n += sizeof sub;
    buf[n++] = 0xc0;
    buf[n++] = 0;
    conn_input(c, buf, n);
    conn_flush_all(&f.b);
    int types[8];
    size_t plen[8];
    ck_assert_int_eq(decode_out(&f, types, plen, 8), 3);
    ck_assert_int_eq(types[0], MQTT_CONNACK);
    ck_assert_int_eq(types[1], MQTT_SUBACK);
    ck_assert_int_eq(types[2], MQTT_PINGRESP);
    f.out_len = 0;
    /* A PUBLISH of 1000 payload bytes (over the 64-byte read buffer) in 7-byte pieces, with
     * a PINGREQ glued to its end. */
    n = 0;
    buf[n++] = 0x30;
    n += enc_len(buf + n, 2 + 3 + 1000);
    buf[n++] = 0;
    buf[n++] = 3;
    memcpy(buf + n, "a/b", 3);
    n += 3;
    memset(buf + n, 'x', 1000);
    n += 1000;
    buf[n++] = 0xc0;
    buf[n++] = 0;
    feed(c, buf, n, 7);
    ck_assert_int_eq(c->state, CONN_ACTIVE);
    conn_flush_all(&f.b);
    ck_assert_int_eq(decode_out(&f, types, plen, 8), 2);
    ck_assert_int_eq(types[0], MQTT_PUBLISH);
    ck_assert_uint_eq(plen[0], 1000);
    ck_assert_int_eq(types[1], MQTT_PINGRESP);
    ck_assert_uint_eq(c->partial_len, 0);
    teardown(&f);
}
END_TEST

START_TEST(test_conn_input_output_waits_for_the_transport)
{
    struct fixture f;
    struct conn *c = setup(&f, 256);
    f.eagain = true;
    conn_input(c, CONNECT, sizeof CONNECT);
    conn_flush_all(&f.b);
    ck_assert_uint_eq(f.out_len, 0);
    ck_assert_uint_eq(f.interest & PLAT_WRITE, PLAT_WRITE);   /* asked to be called back */
    f.eagain = false;
    conn_writable(c);                  /* the transport can take bytes again */
    ck_assert_uint_eq(f.out_len, 0);   /* ... written by this turn's flush, not before */
    conn_flush_all(&f.b);
    ck_assert_uint_eq(f.out_len, 4);
    ck_assert_uint_eq(f.interest & PLAT_WRITE, 0);
    teardown(&f);
}
END_TEST

START_TEST(test_conn_input_malformed_closes)
{
    struct fixture f;
    struct conn *c = setup(&f, 64);
    conn_input(c, CONNECT, sizeof CONNECT);
    static const uint8_t bad[] = {0x30, 0xff, 0xff, 0xff, 0xff, 0x7f};   /* 5-byte length */
    feed(c, bad, sizeof bad, 2);
    ck_assert_int_eq(c->state, CONN_CLOSED);
    ck_assert_uint_eq(f.b.stats.protocol_errors, 1);
    teardown(&f);
}
END_TEST

Suite *conn_input_suite(void)
{
    Suite *s = suite_create("conn_input");
    TCase *tc = tcase_create("push");
    tcase_add_test(tc, test_conn_input_connect_one_byte_at_a_time);
    tcase_add_test(tc, test_conn_input_several_packets_per_call_and_a_large_split_packet);
    tcase_add_test(tc, test_conn_input_output_waits_for_the_transport);
    tcase_add_test(tc, test_conn_input_malformed_closes);
    suite_add_tcase(s, tc);
    return s;
}
