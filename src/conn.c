/*
 * One connection: see conn.h for the read-buffer and flush design.
 *
 * Spec rules enforced here: 3.1.0-1 (the first packet must be CONNECT; closed otherwise),
 * 3.1.2.10 (keepalive: closed after one and a half keepalive periods of silence), 4.8 (any
 * malformed packet closes the connection; the codec decides what is malformed).
 *
 * Hostile-client bounds: a connection silent for connect_timeout in the middle of a packet is
 * closed even with keepalive 0; a client whose unsent output passes out_limit is not read from
 * until it drains; each readiness event reads at most one read buffer, so a flooding client
 * gets a bounded share of every loop turn (the poller is level-triggered: what is left is read
 * next turn, after the others).
 */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"
#include "broker.h"
#include "listener.h"
#include "persist.h"
#include "proto.h"
#include "security.h"
#include "session.h"
#include "tern/codec.h"
#include "tern/err.h"
#include "tern/msg.h"
#include "tern/platform.h"

#define WRITE_IOV_MAX 256

static void on_io(struct loop *l, int fd, uint32_t mask, void *data);
static void on_timer(struct loop *l, struct loop_timer *t, void *data);

const char *conn_client_id(const struct conn *c)
{
    return c->sess != NULL ? c->sess->client_id : "-";
}

/* A new connection on fd (accepted or connecting out) with its CONNECT/CONNACK timer
 * running; NULL (fd closed, counted) without memory. Not yet watched or listed. */
static struct conn *conn_new(struct broker *b, int fd, const struct transport *tp,
                             const char *peer)
{
    struct conn *c = mem_calloc(&b->mem, 1, sizeof *c);
    if (c == NULL) {
        close(fd);
        b->stats.dropped_nomem++;
        return NULL;
    }
    c->b = b;
    c->fd = fd;
    c->state = CONN_NEW;
    c->tp = tp;
    snprintf(c->peer, sizeof c->peer, "%s", peer);
    outq_init(&c->out, &b->mem);
    loop_timer_init(&c->timer, on_timer, c);
    c->last_rx = broker_now(b);
    c->mask = PLAT_READ;
    if (loop_timer_start(b->loop, &c->timer, c->last_rx + b->lim.connect_timeout_ms) != TERN_OK) {
        close(fd);
        mem_free(&b->mem, c);
        b->stats.dropped_nomem++;
        return NULL;
    }
    return c;
}

/* Puts c at the head of the broker's connection list. */
static void conn_link(struct broker *b, struct conn *c)
{
    c->next = b->conns;
    if (b->conns != NULL)
        b->conns->prev = c;
    b->conns = c;
    b->stats.connections_open++;
}

int conn_accept(struct broker *b, struct listener *lst, int fd, const char *peer)
{
    struct conn *c = conn_new(b, fd, lst->tp, peer);
    if (c == NULL)
        return TERN_ENOMEM;
    c->lst = lst;
    /* A push transport takes the fd over (and closes it itself when it fails). */
    int rc = c->tp->attach != NULL ? c->tp->attach(c)
                                   : loop_watch(b->loop, fd, PLAT_READ, on_io, c);
    if (rc != TERN_OK) {
        loop_timer_stop(b->loop, &c->timer);
        if (c->tp->attach == NULL)
            close(fd);
        mem_free(&b->mem, c);
        b->stats.dropped_nomem++;
        return rc;
    }
    conn_link(b, c);
    lst->n_conns++;
    peer_count_add(&b->peers, &b->mem, c->peer);
    b->stats.connections_accepted++;
    if (b->lim.connection_messages)
        LOG_INFO(&b->log, "New connection from %s on port %u.", c->peer, lst->port);
    if (c->tp->open != NULL && c->tp->open(c) != TERN_OK) {
        b->stats.dropped_nomem++;
        conn_close(c, "out of memory for the transport");
        return TERN_ENOMEM;
    }
    return TERN_OK;
}

int conn_connect(struct broker *b, int fd, const struct transport *tp, const char *peer,
                 struct bridge *br, struct conn **out)
{
    struct conn *c = conn_new(b, fd, tp, peer);
    if (c == NULL)
        return TERN_ENOMEM;
    c->bridge = br;
    if (loop_watch(b->loop, fd, PLAT_READ, on_io, c) != TERN_OK) {
        loop_timer_stop(b->loop, &c->timer);
        close(fd);
        mem_free(&b->mem, c);
        b->stats.dropped_nomem++;
        return TERN_ENOMEM;
    }
    conn_link(b, c);
    *out = c;
    return TERN_OK;
}

/* ---- output ----------------------------------------------------------------------------- */

void conn_want_flush(struct conn *c)
{
    if (c->in_flush || c->state == CONN_CLOSED)
        return;
    c->in_flush = true;
    c->flush_next = c->b->flush_list;
    c->b->flush_list = c;
}

static void set_mask(struct conn *c, uint32_t mask)
{
    if (c->tp->set_interest != NULL) {
        /* A push transport's write interest is one-shot: renew it while output waits. */
        if (c->mask != mask || (mask & PLAT_WRITE)) {
            c->mask = mask;
            c->tp->set_interest(c, mask);
        }
        return;
    }
    if (c->mask != mask) {
        c->mask = mask;
        loop_modify(c->b->loop, c->fd, mask);
    }
}

/*
 * Poller interest: write while output is pending, read unless the client's own output is over
 * out_limit. A client that does not read what it is sent (its PUBACKs, say) is not read from
 * either until its output drains, so a flood of requests whose answers it never takes cannot
 * grow the broker's memory without bound; QoS 1/2 deliveries to it wait in its session queue
 * meanwhile (sess_output_drained resumes them).
 */
static uint32_t wanted_mask(struct conn *c)
{
    struct broker *b = c->b;
    bool can_write = c->tp->ready == NULL || c->tp->ready(c);
    uint32_t m = (!outq_empty(&c->out) && can_write) || c->tp_wants_write ? PLAT_WRITE : 0;
    /* Hysteresis: paused above out_limit, resumed only under half of it, so a connection at
     * the bound does not flip (and log) on every partial write. */
    bool over = c->out.pending > (c->read_paused ? b->lim.out_limit / 2 : b->lim.out_limit);
    if (over != c->read_paused) {
        c->read_paused = over;
        if (over) {
            b->stats.reads_paused_output++;
            LOG_NOTICE(&b->log, "Client %s [%s]: %zu output bytes unread (over the %zu byte "
                       "bound); not reading from it until they drain.", conn_client_id(c),
                       c->peer, c->out.pending, b->lim.out_limit);
        } else if (c->sess != NULL && c->state == CONN_ACTIVE) {
            sess_output_drained(c->sess);
        }
    }
    return over ? m : m | PLAT_READ;
}

/* Writes what the transport takes. Returns TERN_OK (maybe with bytes left) or TERN_EIO. */
static int flush(struct conn *c)
{
    struct iovec iov[WRITE_IOV_MAX];
    while (!outq_empty(&c->out)) {
        int n = outq_iov(&c->out, iov, WRITE_IOV_MAX);
        size_t want = 0;
        for (int i = 0; i < n; i++)
            want += iov[i].iov_len;
        ssize_t w = c->tp->writev(c, iov, n);
        if (w == TERN_EAGAIN)
            break;
        if (w < 0)
            return TERN_EIO;
        outq_consume(&c->out, (size_t)w);
        c->b->stats.bytes_sent += (uint64_t)w;
        /* Unread, its PINGREQs are invisible: taking bytes shows it is alive. */
        if (c->read_paused && w > 0)
            c->last_rx = broker_now(c->b);
        if ((size_t)w < want)
            break;
    }
    set_mask(c, wanted_mask(c));
    return TERN_OK;
}

void conn_transport_wants_write(struct conn *c, bool on)
{
    c->tp_wants_write = on;
    set_mask(c, wanted_mask(c));
}

static void free_conn(struct broker *b, struct conn *c)
{
    outq_cleanup(&c->out);
    mem_free(&b->mem, c->partial);
    mem_free(&b->mem, c);
}

void conn_flush_all(struct broker *b)
{
    while (b->flush_list != NULL) {
        struct conn *c = b->flush_list;
        b->flush_list = c->flush_next;
        c->in_flush = false;
        if (c->state != CONN_CLOSED && flush(c) != TERN_OK)
            conn_close(c, "write error");
    }
    while (b->dead_list != NULL) {
        struct conn *c = b->dead_list;
        b->dead_list = c->next;
        if (!c->in_flush)
            free_conn(b, c);
        else
            c->next = NULL; /* cannot happen: closed connections are never re-queued */
    }
}

int conn_send_bytes(struct conn *c, const void *p, size_t n)
{
    if (c->state == CONN_CLOSED)
        return TERN_OK;
    int rc = outq_add_bytes(&c->out, p, n);
    c->b->stats.packets_sent++;     /* every caller passes one whole packet */
    conn_want_flush(c);
    return rc;
}

int conn_send_ack(struct conn *c, uint8_t type, uint16_t packet_id)
{
    uint8_t pkt[4];
    codec_encode_ack(pkt, type, packet_id);
    return conn_send_bytes(c, pkt, sizeof pkt);
}

int conn_send_publish(struct conn *c, struct msg *m, uint8_t qos, bool retain, bool dup,
                      uint16_t packet_id)
{
    if (c->state == CONN_CLOSED)
        return TERN_OK;
    struct mqtt_str head = {(const uint8_t *)m->topic, m->topic_len};
    struct mqtt_str tail = {NULL, 0};
    if (c->bridge != NULL)
        bridge_map_out(c->bridge, m, &head, &tail);
    size_t tlen = (size_t)head.len + tail.len;
    if (tlen == 0 || tlen > MQTT_MAX_STRING) {
        /* A bridge prefix made the topic empty or too long: it cannot go out. */
        LOG_NOTICE(&c->b->log, "Dropped a message on '%s' for %s: its remote topic would be "
                   "%zu bytes.", m->topic, conn_client_id(c), tlen);
        return TERN_OK;
    }
    size_t hlen = codec_publish_header_size(tlen, qos, m->payload_len);
    uint8_t *h = outq_reserve(&c->out, hlen);
    if (h == NULL)
        return TERN_ENOMEM;
    codec_encode_publish_header2(h, head.p, head.len, tail.p, tail.len, qos, retain, dup,
                                 packet_id, m->payload_len);
    outq_commit(&c->out, hlen);
    int rc = outq_add_payload(&c->out, m);
    c->b->stats.msgs_sent++;
    c->b->stats.packets_sent++;
    conn_want_flush(c);
    return rc;
}

/* ---- close ------------------------------------------------------------------------------ */

static void publish_will(struct broker *b, struct msg **will)
{
    if (*will == NULL)
        return;
    b->stats.wills_published++;
    broker_publish(b, *will);
    msg_unref(will);
}

void conn_close(struct conn *c, const char *reason)
{
    struct broker *b = c->b;
    if (c->state == CONN_CLOSED)
        return;
    bool was_active = c->state == CONN_ACTIVE;
    c->state = CONN_CLOSED;
    persist_forget_conn(b->persist, c);
    if (!outq_empty(&c->out)) {
        /* Its output leaves now rather than after before-sleep's commit: commit first. */
        persist_commit(b->persist);
        flush(c);
    }
    if (b->lim.connection_messages && reason != NULL) {
        if (c->got_disconnect)
            LOG_INFO(&b->log, "Client %s disconnected.", conn_client_id(c));
        else
            LOG_NOTICE(&b->log, "Client %s [%s] disconnected: %s.", conn_client_id(c),
                       c->peer, reason);
    }
    struct msg *will = NULL;
    if (c->sess != NULL) {
        struct sess *s = c->sess;
        will = s->will;
        s->will = NULL;
        if (c->got_disconnect || b->stop)
            msg_unref(&will);
        /* A will is a publish of this client: the acl_file must give it write access. */
        if (will != NULL && b->acl != NULL &&
            !security_may_write(s, (const uint8_t *)will->topic, will->topic_len)) {
            b->stats.acl_denied_publish++;
            LOG_NOTICE(&b->log, "Denied will of client %s to '%s': acl_file gives no write "
                       "access.", s->client_id, will->topic);
            msg_unref(&will);
        }
        c->sess = NULL;
        sess_detach(s);
    }
    if (was_active && c->bridge == NULL)
        b->stats.clients_connected--;
    loop_timer_stop(b->loop, &c->timer);
    if (c->tp->attach == NULL)
        loop_unwatch(b->loop, c->fd);
    if (c->tp->close != NULL)
        c->tp->close(c);
    if (c->tp->attach == NULL)
        close(c->fd);
    c->fd = -1;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        b->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    if (c->lst != NULL) {
        c->lst->n_conns--;
        peer_count_remove(&b->peers, &b->mem, c->peer);
    }
    b->stats.connections_open--;
    c->next = b->dead_list;
    b->dead_list = c;
    publish_will(b, &will);
    if (c->bridge != NULL)
        bridge_conn_closed(c, reason);
}

void conn_close_all(struct broker *b)
{
    while (b->conns != NULL)
        conn_close(b->conns, "broker shutting down");
    conn_flush_all(b);
}

/* ---- timers ----------------------------------------------------------------------------- */

static void on_timer(struct loop *l, struct loop_timer *t, void *data)
{
    struct conn *c = data;
    struct broker *b = c->b;
    if (c->state == CONN_NEW) {
        b->stats.connect_timeouts++;
        conn_close(c, c->bridge != NULL ? "no CONNACK from the remote broker in time"
                                        : "no CONNECT received in time");
        return;
    }
    uint64_t now = broker_now(b);
    if (c->partial_len > 0 && now >= c->last_rx + b->lim.connect_timeout_ms) {
        b->stats.stall_timeouts++;
        conn_close(c, "stalled in the middle of a packet");
        return;
    }
    uint64_t due = c->keepalive_ms != 0 ? c->last_rx + c->keepalive_ms : UINT64_MAX;
    if (now >= due) {
        b->stats.keepalive_expired++;
        conn_close(c, "keepalive expired");
        return;
    }
    if (c->partial_len > 0 && c->last_rx + b->lim.connect_timeout_ms < due)
        due = c->last_rx + b->lim.connect_timeout_ms;
    if (due != UINT64_MAX)
        loop_timer_start(l, t, due);
}

/* A partial packet is being held: make sure the timer fires by the stall deadline. A client
 * with keepalive 0 that stops mid-packet is closed after connect_timeout of silence. */
static void arm_stall(struct conn *c)
{
    uint64_t due = c->last_rx + c->b->lim.connect_timeout_ms;
    if (c->state == CONN_ACTIVE && (!loop_timer_armed(&c->timer) || c->timer.deadline > due))
        loop_timer_start(c->b->loop, &c->timer, due);
}

/* ---- input ------------------------------------------------------------------------------ */

static int dispatch(struct conn *c, const struct pkt *p)
{
    if (c->bridge != NULL)
        return bridge_dispatch(c, p);
    if (c->state == CONN_NEW && p->type != MQTT_CONNECT) {
        conn_close(c, "first packet was not CONNECT");
        return TERN_EPROTO;
    }
    switch (p->type) {
    case MQTT_CONNECT:
        return proto_connect(c, p);
    case MQTT_PUBLISH:
        return proto_publish(c, p);
    case MQTT_PUBACK:
        return proto_puback(c, p);
    case MQTT_PUBREC:
        return proto_pubrec(c, p);
    case MQTT_PUBREL:
        return proto_pubrel(c, p);
    case MQTT_PUBCOMP:
        return proto_pubcomp(c, p);
    case MQTT_SUBSCRIBE:
        return proto_subscribe(c, p);
    case MQTT_UNSUBSCRIBE:
        return proto_unsubscribe(c, p);
    case MQTT_PINGREQ:
        return proto_pingreq(c, p);
    case MQTT_DISCONNECT:
        return proto_disconnect(c, p);
    default:
        conn_close(c, "packet type a client may not send");
        return TERN_EPROTO;
    }
}

static const char *decode_error_text(int rc)
{
    switch (rc) {
    case TERN_ETOOBIG:
        return "packet larger than message_size_limit";
    case TERN_EPROTO:
        return "protocol violation";
    default:
        return "malformed packet";
    }
}

/*
 * Handles every complete packet in buf[0..len). Returns the bytes consumed; sets
 * c->partial_need to the size of a trailing incomplete packet when its header is known.
 */
static size_t parse(struct conn *c, const uint8_t *buf, size_t len)
{
    size_t off = 0;
    c->partial_need = 0;
    while (off < len && c->state != CONN_CLOSED) {
        struct pkt p;
        size_t used = 0;
        int rc = codec_decode(buf + off, len - off, c->b->lim.max_packet, c->bridge == NULL, &p,
                              &used);
        if (rc == TERN_EAGAIN) {
            c->partial_need = used;
            break;
        }
        if (rc != TERN_OK) {
            c->b->stats.protocol_errors++;
            if (rc == TERN_ETOOBIG)
                c->b->stats.packets_too_large++;
            conn_close(c, decode_error_text(rc));
            break;
        }
        off += used;
        c->b->stats.bytes_received += used;
        c->b->stats.packets_received++;
        int drc = dispatch(c, &p);
        persist_packet_done(c->b->persist);
        if (drc != TERN_OK)
            break;
    }
    return off;
}

/* Keeps buf[0..len), the start of an incomplete packet, in c->partial. */
static int keep_partial(struct conn *c, const uint8_t *buf, size_t len)
{
    /* A packet that fits the read buffer gets its exact size; a larger one starts with what
     * arrived and grows as its bytes do, so a header announcing a huge packet costs nothing
     * until the bytes exist. */
    size_t cap = len;
    if (c->partial_need > len && c->partial_need <= c->b->rbuf_size)
        cap = c->partial_need;
    if (cap < MQTT_MAX_FIXED_HEADER)
        cap = MQTT_MAX_FIXED_HEADER;
    uint8_t *p = c->partial;
    if (c->partial_cap < cap) {
        p = mem_alloc(&c->b->mem, cap);
        if (p == NULL)
            return TERN_ENOMEM;
        mem_free(&c->b->mem, c->partial);
        c->partial_cap = cap;
    }
    memmove(p, buf, len);
    c->partial = p;
    c->partial_len = len;
    arm_stall(c);
    return TERN_OK;
}

static void drop_partial(struct conn *c)
{
    mem_free(&c->b->mem, c->partial);
    c->partial = NULL;
    c->partial_len = c->partial_cap = c->partial_need = 0;
}

static void read_error(struct conn *c, ssize_t n)
{
    conn_close(c, n == TERN_ECLOSED ? "connection closed by peer" : "socket error");
}

/*
 * A packet larger than the read buffer gets its own buffer, which doubles as the bytes arrive
 * up to the packet's size (bounded by max_packet in the codec). large_room makes room and
 * returns the free bytes (0 once it has closed c for lack of memory); large_fill accounts n
 * bytes placed there and handles the packet once complete.
 */
static size_t large_room(struct conn *c)
{
    if (c->partial_len == c->partial_cap) {
        size_t cap = c->partial_cap * 2;
        if (cap > c->partial_need)
            cap = c->partial_need;
        uint8_t *p = mem_realloc(&c->b->mem, c->partial, cap);
        if (p == NULL) {
            c->b->stats.dropped_nomem++;
            conn_close(c, "out of memory for a large packet");
            return 0;
        }
        c->partial = p;
        c->partial_cap = cap;
    }
    return c->partial_cap - c->partial_len;
}

static void large_fill(struct conn *c, size_t n)
{
    c->partial_len += n;
    if (c->partial_len < c->partial_need)
        return;
    parse(c, c->partial, c->partial_len);
    if (c->state != CONN_CLOSED)
        drop_partial(c);
}

/* Handles buf[0..total) (a kept partial packet, then fresh bytes): every complete packet, then
 * keeps the trailing partial one. */
static void consume(struct conn *c, const uint8_t *buf, size_t total)
{
    size_t used = parse(c, buf, total);
    if (c->state == CONN_CLOSED)
        return;
    if (used == total) {
        drop_partial(c);
    } else if (keep_partial(c, buf + used, total - used) != TERN_OK) {
        c->b->stats.dropped_nomem++;
        conn_close(c, "out of memory for a partial packet");
    }
}

/* Pull path (TCP, TLS): reads what the transport has straight into the read buffer after the
 * kept partial packet, or into a large packet's own buffer. */
static void on_readable(struct conn *c)
{
    struct broker *b = c->b;
    bool large = c->partial_need > b->rbuf_size;
    size_t have = c->partial_len;
    uint8_t *dst;
    size_t room;
    if (large) {
        room = large_room(c);
        if (room == 0)
            return;
        dst = c->partial + have;
    } else {
        if (have > 0)
            memcpy(b->rbuf, c->partial, have);
        dst = b->rbuf + have;
        room = b->rbuf_size - have;
    }
    ssize_t n = c->tp->read(c, dst, room);
    if (n == TERN_EAGAIN)
        return;
    if (n < 0) {
        read_error(c, n);
        return;
    }
    c->last_rx = broker_now(b);
    if (large)
        large_fill(c, (size_t)n);
    else
        consume(c, b->rbuf, have + (size_t)n);
}

void conn_input(struct conn *c, const uint8_t *p, size_t n)
{
    struct broker *b = c->b;
    if (c->state == CONN_CLOSED || n == 0)
        return;
    c->last_rx = broker_now(b);
    while (n > 0 && c->state != CONN_CLOSED) {
        size_t take = n;
        if (c->partial_need > b->rbuf_size) {
            size_t room = large_room(c);
            if (room == 0)
                return;
            if (take > room)
                take = room;
            memcpy(c->partial + c->partial_len, p, take);
            large_fill(c, take);
        } else if (c->partial_len == 0) {
            consume(c, p, take);       /* in place: nothing kept from before */
        } else {
            size_t have = c->partial_len;
            if (take > b->rbuf_size - have)
                take = b->rbuf_size - have;
            memcpy(b->rbuf, c->partial, have);
            memcpy(b->rbuf + have, p, take);
            consume(c, b->rbuf, have + take);
        }
        p += take;
        n -= take;
    }
}

void conn_writable(struct conn *c)
{
    /* Written by this turn's before-sleep flush, after the persistence commit, as for TCP. */
    if (!outq_empty(&c->out))
        conn_want_flush(c);
}

static void on_io(struct loop *l, int fd, uint32_t mask, void *data)
{
    struct conn *c = data;
    bool tp_write = (mask & PLAT_WRITE) && c->tp_wants_write;
    if (c->state != CONN_CLOSED && ((mask & (PLAT_READ | PLAT_ERR)) || tp_write)) {
        on_readable(c);
        /* Bytes a transport has decrypted but not handed over are invisible to poll(). */
        for (int i = 0; i < 64 && c->state != CONN_CLOSED && c->tp->has_pending != NULL &&
                        c->tp->has_pending(c); i++)
            on_readable(c);
    }
    if (c->state != CONN_CLOSED && (mask & PLAT_WRITE)) {
        /* With persistence on, output made this turn leaves after the turn's commit. */
        if (c->b->persist != NULL)
            conn_want_flush(c);
        else if (flush(c) != TERN_OK)
            conn_close(c, "write error");
    }
}
