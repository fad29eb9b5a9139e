/*
 * libFuzzer target for a whole client session: bytes go through the real connection, framing,
 * packet handlers, sessions, topic tree, retained store and fan-out, with only the network
 * faked. Each input builds a broker from its modules (as test/unit/test_session.c does), with
 * up to three client connections; each is a socketpair whose broker end is watched by the
 * real loop and read through the real TCP transport.
 *
 * Input layout (test/fuzz/make_session_corpus.py writes seeds in it):
 *   byte 0       limits: bit 0-1 max_inflight (0, 1, 2, 20), bit 2-3 max_queued_messages
 *                (1, 3, 10, 1000), bit 4 queue_qos0_messages, bit 5 a tiny output bound
 *                (QoS 0 to a slow reader dropped), bit 6-7 read buffer size (16, 64, 512,
 *                256 KiB: small ones drive the large-packet path), message_size_limit 2000
 *   then records [op][len][len bytes]:
 *     op & 3         slot 0-2 (3 means 0)
 *     op >> 2 & 3    0: write the bytes to the slot's client side (opening it when closed),
 *                    then run loop turns until the broker has read them;
 *                    1: the client closes its side (EOF to the broker); the next bytes
 *                    for the slot open a new connection (until then, a connection the
 *                    broker closed drops them);
 *                    2: the client stops / resumes reading its socket (slow subscriber);
 *                    with len > 0 it also caps the broker's memory at what is in use now
 *                    plus len KiB (memory_limit: every allocation-failure path);
 *                    3: as 0, but one byte per write with loop turns between (every
 *                    partial-packet boundary).
 *     A record without its len byte ends the input; a short payload sends what is there.
 *
 * Checked beyond "no crash" (any violation calls __builtin_trap(), a libFuzzer crash):
 *  - everything the broker writes to a client decodes as valid server-to-client packets;
 *  - the open-connection gauge matches the connections the broker still holds;
 *  - after teardown every byte accounted by mem.c is freed (mem.used == 0).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
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
#include "topic_tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                              \
    do {                                                                                         \
        if (!(cond))                                                                             \
            __builtin_trap();                                                                    \
    } while (0)

#define SLOTS 3
#define OUT_KEEP 65536 /* bytes of a partial server packet kept for decoding */
#define MAX_TURNS 64

struct slot {
    int fd;             /* client end, -1 when closed */
    bool dead;          /* the broker closed it: bytes for it are dropped until op 1 */
    bool paused;        /* client not reading */
    uint8_t *out;       /* undecoded output from the broker (a partial packet) */
    size_t out_len;
    bool out_skip;      /* a packet too large to keep: stop checking this connection */
};

struct fz {
    struct broker b;
    struct listener lst;
    struct slot slot[SLOTS];
};

static void before_sleep(struct loop *l, void *data)
{
    conn_flush_all(data);
}

static void setup(struct fz *f, uint8_t cfg)
{
    static const long inflight[4] = {0, 1, 2, 20};
    static const long queued[4] = {1, 3, 10, 1000};
    static const size_t rbuf[4] = {16, 64, 512, 256 * 1024};

    memset(f, 0, sizeof *f);
    struct broker *b = &f->b;
    mem_init(&b->mem, 0);
    b->log.types = CONF_LOGT_ALL; /* lines are formatted (and checked by ASan), written nowhere */
    b->log.dest = 0;
    b->loop = loop_new(&b->mem, 16);
    b->subs = topic_tree_new(&b->mem);
    b->retained = retain_new(&b->mem);
    CHECK(b->loop != NULL && b->subs != NULL && b->retained != NULL);
    /* Limits are set directly rather than through a struct conf, as the unit tests do. */
    struct limits *lim = &b->lim;
    lim->max_inflight = inflight[cfg & 3];
    lim->max_queued_messages = queued[(cfg >> 2) & 3];
    lim->queue_qos0 = (cfg >> 4) & 1;
    lim->message_size_limit = 2000;
    lim->max_packet = 2000 + MQTT_MAX_STRING + 2 + 2 + MQTT_MAX_FIXED_HEADER;
    lim->max_connections = -1;
    lim->max_keepalive = 65535;
    lim->session_expiry_ms = 60000;
    lim->retain_available = true;
    lim->allow_anonymous = true;
    lim->connection_messages = true;
    lim->connect_timeout_ms = 10000;
    lim->out_limit = 1u << 20;
    if ((cfg >> 5) & 1)
        b->lim.out_limit = 256;
    b->rbuf_size = rbuf[(cfg >> 6) & 3];
    b->rbuf = mem_alloc(&b->mem, b->rbuf_size);
    CHECK(b->rbuf != NULL);
    loop_update_time(b->loop);
    loop_set_before_sleep(b->loop, before_sleep, b);
    f->lst.b = b;
    f->lst.tp = &net_tcp_transport;
    f->lst.max_connections = -1;
    f->lst.port = 1883;
    for (int i = 0; i < SLOTS; i++)
        f->slot[i].fd = -1;
}

/* Decodes what the broker sent to slot s; every packet must be a valid server packet. */
static void check_output(struct slot *s, const uint8_t *p, size_t n)
{
    if (s->out_skip)
        return;
    if (s->out == NULL)
        s->out = malloc(OUT_KEEP);
    CHECK(s->out != NULL);
    while (n > 0) {
        size_t take = n < OUT_KEEP - s->out_len ? n : OUT_KEEP - s->out_len;
        memcpy(s->out + s->out_len, p, take);
        s->out_len += take;
        p += take;
        n -= take;
        size_t off = 0;
        for (;;) {
            struct pkt pk;
            size_t used = 0;
            int rc = codec_decode(s->out + off, s->out_len - off, 0, false, &pk, &used);
            if (rc == TERN_EAGAIN)
                break;
            CHECK(rc == TERN_OK);
            CHECK(pk.type != MQTT_CONNECT && pk.type != MQTT_SUBSCRIBE &&
                  pk.type != MQTT_PINGREQ);
            if (pk.type == MQTT_PUBLISH) {
                CHECK(codec_topic_name_valid(pk.u.publish.topic.p, pk.u.publish.topic.len));
                CHECK(pk.u.publish.payload.len <= 2000);
            }
            off += used;
        }
        memmove(s->out, s->out + off, s->out_len - off);
        s->out_len -= off;
        if (s->out_len == OUT_KEEP) {
            s->out_skip = true;
            return;
        }
    }
}

static void close_slot(struct slot *s, bool dead);

static void drain(struct fz *f)
{
    uint8_t buf[65536];
    for (int i = 0; i < SLOTS; i++) {
        struct slot *s = &f->slot[i];
        if (s->fd < 0 || s->paused)
            continue;
        for (;;) {
            ssize_t n = recv(s->fd, buf, sizeof buf, 0);
            if (n == 0)
                close_slot(s, true);
            if (n <= 0)
                break;
            check_output(s, buf, (size_t)n);
        }
    }
}

static size_t count_conns(const struct broker *b)
{
    size_t n = 0;
    for (const struct conn *c = b->conns; c != NULL; c = c->next)
        n++;
    return n;
}

/* Runs loop turns until the broker has nothing left to read or write (bounded). */
static void settle(struct fz *f)
{
    for (int i = 0; i < MAX_TURNS; i++) {
        int n = loop_run_once(f->b.loop, 0);
        CHECK(n >= 0);
        drain(f);
        if (n == 0)
            break;
    }
    conn_flush_all(&f->b);
    drain(f);
    CHECK(f->b.stats.connections_open == count_conns(&f->b));
}

static void close_slot(struct slot *s, bool dead)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->dead = dead;
    s->paused = false;
    s->out_len = 0;
    s->out_skip = false;
}

static int open_slot(struct fz *f, struct slot *s)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return -1;
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    if (conn_accept(&f->b, &f->lst, sv[0], "fuzz:1") != TERN_OK) {
        close(sv[1]); /* conn_accept closed sv[0] */
        return -1;
    }
    s->fd = sv[1];
    return 0;
}

static void send_bytes(struct fz *f, struct slot *s, const uint8_t *p, size_t n)
{
    if (s->fd < 0 && (s->dead || open_slot(f, s) != 0))
        return;
    while (n > 0) {
        ssize_t w = send(s->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EPIPE) {
            close_slot(s, true);
            return;
        }
        if (w <= 0) {
            /* The broker stopped reading (closed it, or its socket buffer is full). */
            settle(f);
            w = send(s->fd, p, n, MSG_NOSIGNAL);
            if (w <= 0)
                return;
        }
        p += w;
        n -= (size_t)w;
        settle(f);
    }
}

static void teardown(struct fz *f)
{
    struct broker *b = &f->b;
    settle(f);
    b->stop = true;
    conn_close_all(b);
    sess_free_all(b);
    retain_free(b->retained);
    topic_tree_free(b->subs);
    mem_free(&b->mem, b->match);
    mem_free(&b->mem, b->rbuf);
    loop_free(b->loop);
    for (int i = 0; i < SLOTS; i++) {
        close_slot(&f->slot[i], false);
        free(f->slot[i].out);
    }
    CHECK(b->mem.used == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct fz *f = malloc(sizeof *f);
    CHECK(f != NULL);
    setup(f, data[0]);
    size_t i = 1;
    while (i + 1 < size) {
        uint8_t op = data[i];
        size_t len = data[i + 1];
        i += 2;
        if (len > size - i)
            len = size - i;
        struct slot *s = &f->slot[(op & 3) == 3 ? 0 : (op & 3)];
        switch ((op >> 2) & 3) {
        case 0:
            send_bytes(f, s, data + i, len);
            i += len;
            break;
        case 1:
            close_slot(s, false);
            settle(f);
            break;
        case 2:
            s->paused = !s->paused;
            if (len > 0)
                f->b.mem.limit = f->b.mem.used + len * 1024;
            settle(f);
            break;
        default:
            for (size_t k = 0; k < len; k++)
                send_bytes(f, s, data + i + k, 1);
            i += len;
            break;
        }
    }
    teardown(f);
    free(f);
    return 0;
}
