/*
 * Bridges: see bridge.h for the design. This file holds the client role of MQTT 3.1.1: the
 * outbound TCP connect, CONNECT (3.1; protocol level 0x84 with try_private, as Mosquitto
 * sends), CONNACK (3.2), SUBSCRIBE/SUBACK for the in/both topics (3.8, 3.9), PUBLISH from the
 * remote with its acknowledgements (3.3-3.7, 4.3: QoS 2 by method B through the session's
 * inbound id set), PINGREQ every keepalive_interval (3.1.2.10; a link silent for 1.5 x that is
 * closed by conn.c's keepalive deadline), and reconnecting with backoff.
 *
 * Acknowledgements of what the bridge sent (PUBACK, PUBREC, PUBCOMP) and PUBREL from the
 * remote go to the same session handlers a client's do (proto_publish.c).
 *
 * Name resolution uses getaddrinfo at each attempt, which blocks the loop while a resolver
 * answers; numeric addresses never wait. The TCP connect itself is non-blocking. With
 * bridge_cafile/bridge_capath the connection runs over net_tls.c's client side: CONNECT waits
 * in the output queue until the handshake, which checks the remote's certificate (and its
 * host name unless bridge_insecure), is done.
 */
#include "bridge.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "conf.h"
#include "conn.h"
#include "expire.h"
#include "listener.h"
#include "net_tls.h"
#include "persist.h"
#include "proto.h"
#include "session.h"
#include "topic_tree.h"
#include "tern/err.h"
#include "tern/msg.h"
#include "tern/platform.h"

#define BRIDGE_CONNECT_TIMEOUT_MS 10000u

static void restart_fire(struct loop *l, struct loop_timer *t, void *data);
static void ping_fire(struct loop *l, struct loop_timer *t, void *data);

/* ---- routes (pure) ---------------------------------------------------------------------- */

static char *join(struct mem *mem, const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    char *s = mem_alloc(mem, la + lb + 1);
    if (s != NULL) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    return s;
}

int bridge_routes_build(struct mem *mem, const struct conf_bridge *cf,
                        struct bridge_route **out, size_t *n)
{
    struct bridge_route *r = mem_calloc(mem, cf->n_topics ? cf->n_topics : 1, sizeof *r);
    if (r == NULL)
        return TERN_ENOMEM;
    for (size_t i = 0; i < cf->n_topics; i++) {
        const struct conf_bridge_topic *t = &cf->topics[i];
        r[i].t = t;
        r[i].local = join(mem, t->local_prefix, t->pattern);
        r[i].remote = join(mem, t->remote_prefix, t->pattern);
        r[i].local_prefix_len = strlen(t->local_prefix);
        r[i].remote_prefix_len = strlen(t->remote_prefix);
        if (r[i].local == NULL || r[i].remote == NULL) {
            bridge_routes_free(mem, r, i + 1);
            return TERN_ENOMEM;
        }
    }
    *out = r;
    *n = cf->n_topics;
    return TERN_OK;
}

void bridge_routes_free(struct mem *mem, struct bridge_route *r, size_t n)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        mem_free(mem, r[i].local);
        mem_free(mem, r[i].remote);
    }
    mem_free(mem, r);
}

bool bridge_map(const struct bridge_route *r, size_t n, unsigned dir, const uint8_t *topic,
                size_t len, struct mqtt_str *head, struct mqtt_str *tail)
{
    bool out = dir == CONF_BRIDGE_OUT;
    for (size_t i = 0; i < n; i++) {
        if ((r[i].t->dir & dir) == 0)
            continue;
        const char *from = out ? r[i].local : r[i].remote;
        size_t strip = out ? r[i].local_prefix_len : r[i].remote_prefix_len;
        if (!topic_filter_matches((const uint8_t *)from, strlen(from), topic, len) ||
            len < strip)
            continue;
        head->p = (const uint8_t *)(out ? r[i].remote : r[i].local);
        head->len = (uint32_t)(out ? r[i].remote_prefix_len : r[i].local_prefix_len);
        tail->p = topic + strip;
        tail->len = (uint32_t)(len - strip);
        return true;
    }
    return false;
}

void bridge_map_out(const struct bridge *br, const struct msg *m, struct mqtt_str *head,
                    struct mqtt_str *tail)
{
    if (!bridge_map(br->routes, br->n_routes, CONF_BRIDGE_OUT, (const uint8_t *)m->topic,
                    m->topic_len, head, tail)) {
        /* Cannot happen: the session only subscribes to the routes' local filters. */
        head->p = (const uint8_t *)m->topic;
        head->len = m->topic_len;
        tail->p = NULL;
        tail->len = 0;
    }
}

/* ---- reconnect backoff ------------------------------------------------------------------ */

/* restart_timeout BASE [CAP]: BASE after the first failure, doubling per failure up to CAP,
 * with +-25% jitter so bridges of many gateways do not reconnect in step. One value (CAP ==
 * BASE) is Mosquitto's fixed delay. */
static uint64_t restart_delay(struct bridge *br)
{
    struct broker *b = br->b;
    uint64_t base = (uint64_t)br->cf->restart_base * 1000u;
    uint64_t cap = (uint64_t)br->cf->restart_cap * 1000u;
    uint64_t d = base;
    for (unsigned i = 1; i < br->failures && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    if (cap == base)
        return d;
    b->rng ^= b->rng << 13;
    b->rng ^= b->rng >> 7;
    b->rng ^= b->rng << 17;
    return d * 3 / 4 + b->rng % (d / 2 + 1);
}

static void schedule_restart(struct bridge *br)
{
    br->state = BRIDGE_IDLE;
    if (br->b->stop)
        return;
    uint64_t d = restart_delay(br);
    LOG_INFO(&br->b->log, "Bridge %s: next connect attempt in %llu ms.", br->cf->name,
             (unsigned long long)d);
    loop_timer_start(br->b->loop, &br->timer, broker_now(br->b) + d);
}

/* An attempt ended before CONNACK 0: logs why, counts it, and waits to try again. */
static void attempt_failed(struct bridge *br, const char *reason)
{
    br->failures++;
    br->connect_failures++;
    LOG_WARN(&br->b->log, "Bridge %s: connecting to %s failed: %s.", br->cf->name, br->peer,
             reason);
    schedule_restart(br);
}

/* ---- connecting ------------------------------------------------------------------------- */

static void stop_connecting(struct bridge *br)
{
    if (br->fd < 0)
        return;
    loop_unwatch(br->b->loop, br->fd);
    close(br->fd);
    br->fd = -1;
}

static int send_connect(struct bridge *br)
{
    const struct conf_bridge *cf = br->cf;
    struct pkt_connect k;
    memset(&k, 0, sizeof k);
    k.proto_level = cf->try_private ? (uint8_t)(0x80 | MQTT_PROTO_V311) : MQTT_PROTO_V311;
    k.clean_session = cf->cleansession;
    k.keepalive = (uint16_t)cf->keepalive;
    k.client_id = (struct mqtt_str){(const uint8_t *)br->remote_id,
                                    (uint32_t)strlen(br->remote_id)};
    if (cf->remote_username != NULL) {
        k.has_username = true;
        k.username = (struct mqtt_str){(const uint8_t *)cf->remote_username,
                                       (uint32_t)strlen(cf->remote_username)};
    }
    if (cf->remote_password != NULL) {
        k.has_password = true;
        k.password = (struct mqtt_str){(const uint8_t *)cf->remote_password,
                                       (uint32_t)strlen(cf->remote_password)};
    }
    size_t n = codec_connect_size(&k);
    uint8_t *buf = mem_alloc(&br->b->mem, n);
    if (buf == NULL)
        return TERN_ENOMEM;
    codec_encode_connect(buf, &k);
    int rc = conn_send_bytes(br->c, buf, n);
    mem_free(&br->b->mem, buf);
    return rc;
}

/* The TCP connection is up: hand the socket to conn.c and send CONNECT. */
static void established(struct bridge *br)
{
    struct broker *b = br->b;
    int fd = br->fd;
    loop_unwatch(b->loop, fd);
    loop_timer_stop(b->loop, &br->timer);
    br->fd = -1;
    const struct transport *tp = br->tls != NULL ? &net_tls_transport : &net_tcp_transport;
    if (conn_connect(b, fd, tp, br->peer, br, &br->c) != TERN_OK) {
        attempt_failed(br, "out of memory for the connection");
        return;
    }
    br->state = BRIDGE_WAIT_CONNACK;
    /* With TLS, CONNECT waits in the output queue until the handshake is done. */
    if (br->tls != NULL &&
        net_tls_client_open(br->c, br->tls, br->cf->host, br->cf->insecure) != TERN_OK) {
        conn_close(br->c, "out of memory for TLS");
        return;
    }
    if (send_connect(br) != TERN_OK)
        conn_close(br->c, "out of memory for CONNECT");
}

static void on_connect_io(struct loop *l, int fd, uint32_t mask, void *data)
{
    struct bridge *br = data;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err != 0) {
        stop_connecting(br);
        loop_timer_stop(l, &br->timer);
        attempt_failed(br, strerror(err));
        return;
    }
    established(br);
}

/* Opens a non-blocking socket to the first address that takes it. Returns TERN_OK with br->fd
 * set (connected or in progress), or TERN_EIO with the reason in why. */
static int open_socket(struct bridge *br, bool *done, char *why, size_t whylen)
{
    char port[8];
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof port, "%u", br->cf->port);
    int gai = getaddrinfo(br->cf->host, port, &hints, &res);
    if (gai != 0) {
        snprintf(why, whylen, "cannot resolve %s: %s", br->cf->host, gai_strerror(gai));
        return TERN_EIO;
    }
    int rc = TERN_EIO;
    snprintf(why, whylen, "no usable address");
    for (struct addrinfo *a = res; a != NULL && rc != TERN_OK; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        a->ai_protocol);
        if (fd < 0) {
            snprintf(why, whylen, "socket: %s", strerror(errno));
            continue;
        }
        int crc = connect(fd, a->ai_addr, a->ai_addrlen);
        if (crc == 0 || errno == EINPROGRESS) {
            *done = crc == 0;
            br->fd = fd;
            rc = TERN_OK;
        } else {
            snprintf(why, whylen, "%s", strerror(errno));
            close(fd);
        }
    }
    freeaddrinfo(res);
    return rc;
}

static void start_attempt(struct bridge *br)
{
    struct broker *b = br->b;
    char why[160];
    bool done = false;
    if (open_socket(br, &done, why, sizeof why) != TERN_OK) {
        attempt_failed(br, why);
        return;
    }
    br->state = BRIDGE_CONNECTING;
    if (loop_watch(b->loop, br->fd, PLAT_WRITE, on_connect_io, br) != TERN_OK) {
        close(br->fd);
        br->fd = -1;
        attempt_failed(br, "out of memory for the poller");
        return;
    }
    if (done) {
        established(br);
        return;
    }
    loop_timer_start(b->loop, &br->timer, broker_now(b) + BRIDGE_CONNECT_TIMEOUT_MS);
}

static void restart_fire(struct loop *l, struct loop_timer *t, void *data)
{
    struct bridge *br = data;
    if (br->state == BRIDGE_CONNECTING) {
        stop_connecting(br);
        attempt_failed(br, "TCP connect timed out");
        return;
    }
    if (br->state == BRIDGE_IDLE)
        start_attempt(br);
}

static void ping_fire(struct loop *l, struct loop_timer *t, void *data)
{
    struct bridge *br = data;
    if (br->c == NULL || br->state != BRIDGE_UP)
        return;
    uint8_t ping[2];
    codec_encode_simple(ping, MQTT_PINGREQ);
    conn_send_bytes(br->c, ping, sizeof ping);
    loop_timer_start(l, t, broker_now(br->b) + (uint64_t)br->cf->keepalive * 1000u);
}

/* ---- packets from the remote ------------------------------------------------------------ */

static int send_subscribe(struct bridge *br)
{
    struct broker *b = br->b;
    size_t n = 0;
    struct mqtt_str *f = mem_calloc(&b->mem, br->n_routes, sizeof *f);
    uint8_t *q = mem_calloc(&b->mem, br->n_routes, 1);
    uint8_t *buf = NULL;
    int rc = TERN_ENOMEM;
    if (f == NULL || q == NULL)
        goto out;
    for (size_t i = 0; i < br->n_routes; i++) {
        if ((br->routes[i].t->dir & CONF_BRIDGE_IN) == 0)
            continue;
        f[n] = (struct mqtt_str){(const uint8_t *)br->routes[i].remote,
                                 (uint32_t)strlen(br->routes[i].remote)};
        q[n++] = br->routes[i].t->qos;
    }
    rc = TERN_OK;
    if (n == 0)
        goto out;
    size_t size = codec_topics_size(f, n, true);
    buf = mem_alloc(&b->mem, size);
    rc = TERN_ENOMEM;
    if (buf == NULL)
        goto out;
    br->last_pid++;
    if (br->last_pid == 0)
        br->last_pid = 1;
    codec_encode_topics(buf, br->last_pid, f, q, n);
    rc = conn_send_bytes(br->c, buf, size);
out:
    mem_free(&b->mem, buf);
    mem_free(&b->mem, q);
    mem_free(&b->mem, f);
    return rc;
}

static const char *connack_text(uint8_t rc)
{
    switch (rc) {
    case MQTT_CONNACK_BAD_PROTOCOL:
        return "refused: unacceptable protocol version (try try_private false)";
    case MQTT_CONNACK_ID_REJECTED:
        return "refused: identifier rejected";
    case MQTT_CONNACK_UNAVAILABLE:
        return "refused: server unavailable";
    case MQTT_CONNACK_BAD_AUTH:
        return "refused: bad user name or password";
    case MQTT_CONNACK_NOT_AUTHORIZED:
        return "refused: not authorized";
    default:
        return "refused: unknown CONNACK code";
    }
}

static int on_connack(struct bridge *br, struct conn *c, const struct pkt_connack *k)
{
    struct broker *b = br->b;
    if (br->state != BRIDGE_WAIT_CONNACK) {
        conn_close(c, "second CONNACK from the remote broker");
        return TERN_EPROTO;
    }
    if (k->rc != MQTT_CONNACK_ACCEPTED) {
        conn_close(c, connack_text(k->rc));
        return TERN_EPROTO;
    }
    br->state = BRIDGE_UP;
    br->failures = 0;
    br->connects++;
    c->state = CONN_ACTIVE;
    c->sess = br->s;
    c->keepalive_ms = (uint32_t)br->cf->keepalive * 1500u;
    loop_timer_start(b->loop, &c->timer, broker_now(b) + c->keepalive_ms);
    loop_timer_start(b->loop, &br->ping,
                     broker_now(b) + (uint64_t)br->cf->keepalive * 1000u);
    LOG_NOTICE(&b->log, "Bridge %s connected to %s as %s (session present %d; %zu queued, "
               "%zu in flight).", br->cf->name, br->peer, br->remote_id,
               k->session_present ? 1 : 0, br->s->pending.count, br->s->infl_live);
    if (send_subscribe(br) != TERN_OK) {
        conn_close(c, "out of memory for SUBSCRIBE");
        return TERN_ENOMEM;
    }
    sess_attach(br->s, c);
    return TERN_OK;
}

static void on_suback(struct bridge *br, const struct pkt_suback *k)
{
    for (uint32_t i = 0; i < k->count; i++) {
        if (k->codes[i] == MQTT_SUBACK_FAILURE)
            LOG_WARN(&br->b->log, "Bridge %s: the remote broker refused subscription %u of "
                     "the in/both topics.", br->cf->name, i + 1);
    }
}

/* Publishes a message from the remote locally under its mapped topic. Returns TERN_OK, or
 * TERN_ENOMEM (not published; QoS 1/2 are then not acknowledged, so the remote resends). */
static int publish_local(struct bridge *br, const struct pkt_publish *pp)
{
    struct broker *b = br->b;
    struct mqtt_str head;
    struct mqtt_str tail;
    if (!bridge_map(br->routes, br->n_routes, CONF_BRIDGE_IN, pp->topic.p, pp->topic.len, &head,
                    &tail)) {
        LOG_NOTICE(&b->log, "Bridge %s: dropped a PUBLISH on '%.*s' from the remote broker: "
                   "no in/both topic matches it.", br->cf->name, (int)pp->topic.len,
                   (const char *)pp->topic.p);
        return TERN_OK;
    }
    size_t tl = (size_t)head.len + tail.len;
    if (tl == 0 || tl > MQTT_MAX_STRING) {
        LOG_NOTICE(&b->log, "Bridge %s: dropped a PUBLISH from the remote broker: the mapped "
                   "topic would be %zu bytes.", br->cf->name, tl);
        return TERN_OK;
    }
    char *topic = mem_alloc(&b->mem, tl);
    struct msg *m = NULL;
    if (topic != NULL) {
        memcpy(topic, head.p, head.len);
        memcpy(topic + head.len, tail.p, tail.len);
        m = msg_new(&b->mem, (const uint8_t *)topic, tl, pp->payload.p, pp->payload.len,
                    pp->qos, pp->retain);
        mem_free(&b->mem, topic);
    }
    if (m == NULL) {
        b->stats.dropped_nomem++;
        return TERN_ENOMEM;
    }
    m->origin = br->s;
    expire_stamp(b, m, -1);
    broker_publish(b, m);
    msg_unref(&m);
    return TERN_OK;
}

static int on_publish(struct bridge *br, struct conn *c, const struct pkt_publish *pp)
{
    struct broker *b = br->b;
    if (br->state != BRIDGE_UP) {
        conn_close(c, "PUBLISH from the remote broker before CONNACK");
        return TERN_EPROTO;
    }
    if (pp->qos > 0 && !persist_accepting(b->persist))
        return TERN_OK;
    br->msgs_in++;
    b->stats.msgs_received++;
    switch (pp->qos) {
    case 0:
        publish_local(br, pp);
        return TERN_OK;
    case 1:
        if (publish_local(br, pp) != TERN_OK)
            return TERN_OK;
        return persist_ack(b->persist, c, MQTT_PUBACK, pp->packet_id);
    default:
        if (sess_qos2_seen(br->s, pp->packet_id)) {
            b->stats.qos2_duplicates++;
            return persist_ack(b->persist, c, MQTT_PUBREC, pp->packet_id);
        }
        if (sess_qos2_add(br->s, pp->packet_id) != TERN_OK)
            return TERN_OK;
        if (publish_local(br, pp) != TERN_OK) {
            sess_qos2_release(br->s, pp->packet_id);
            return TERN_OK;
        }
        return persist_ack(b->persist, c, MQTT_PUBREC, pp->packet_id);
    }
}

int bridge_dispatch(struct conn *c, const struct pkt *p)
{
    struct bridge *br = c->bridge;
    if (p->type == MQTT_CONNACK)
        return on_connack(br, c, &p->u.connack);
    if (br->state != BRIDGE_UP) {
        conn_close(c, "packet other than CONNACK from the remote broker before CONNACK");
        return TERN_EPROTO;
    }
    switch (p->type) {
    case MQTT_PUBLISH:
        return on_publish(br, c, &p->u.publish);
    case MQTT_PUBACK:
        return proto_puback(c, p);
    case MQTT_PUBREC:
        return proto_pubrec(c, p);
    case MQTT_PUBREL:
        return proto_pubrel(c, p);
    case MQTT_PUBCOMP:
        return proto_pubcomp(c, p);
    case MQTT_SUBACK:
        on_suback(br, &p->u.suback);
        return TERN_OK;
    case MQTT_UNSUBACK:
    case MQTT_PINGRESP:
        return TERN_OK;
    default:
        conn_close(c, "packet type a server may not send");
        return TERN_EPROTO;
    }
}

void bridge_conn_closed(struct conn *c, const char *reason)
{
    struct bridge *br = c->bridge;
    if (br == NULL || br->c != c)
        return;
    br->c = NULL;
    loop_timer_stop(br->b->loop, &br->ping);
    if (br->b->stop) {
        br->state = BRIDGE_IDLE;
        return;
    }
    if (br->state == BRIDGE_UP) {
        LOG_WARN(&br->b->log, "Bridge %s: connection to %s lost: %s.", br->cf->name, br->peer,
                 reason != NULL ? reason : "closed");
        br->failures = 1;
        schedule_restart(br);
    } else {
        attempt_failed(br, reason != NULL ? reason : "closed");
    }
}

/* ---- start and stop --------------------------------------------------------------------- */

static char *default_remote_id(struct mem *mem, const char *name)
{
    char host[256];
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "tern");
    host[sizeof host - 1] = '\0';
    char *id = join(mem, host, ".");
    char *full = id != NULL ? join(mem, id, name) : NULL;
    mem_free(mem, id);
    return full;
}

/* Subscribes the local session to the out/both filters and drops any it holds from an older
 * configuration (recovered from persistence). No retained messages are sent: the bridge
 * forwards what is published from now on, as Mosquitto's does. */
static int sync_subscriptions(struct bridge *br)
{
    struct sess *s = br->s;
    for (size_t i = s->n_subs; i-- > 0;) {
        bool keep = false;
        for (size_t j = 0; j < br->n_routes && !keep; j++) {
            keep = (br->routes[j].t->dir & CONF_BRIDGE_OUT) &&
                   strcmp(br->routes[j].local, s->subs[i].filter) == 0;
        }
        if (!keep)
            sess_unsubscribe(s, (const uint8_t *)s->subs[i].filter, s->subs[i].len);
    }
    for (size_t j = 0; j < br->n_routes; j++) {
        const struct bridge_route *r = &br->routes[j];
        if ((r->t->dir & CONF_BRIDGE_OUT) &&
            sess_subscribe(s, (const uint8_t *)r->local, strlen(r->local), r->t->qos) !=
                TERN_OK)
            return TERN_ENOMEM;
    }
    return TERN_OK;
}

static int start_one(struct broker *b, struct bridge *br, const struct conf_bridge *cf,
                     char *err, size_t errlen)
{
    br->b = b;
    br->cf = cf;
    br->fd = -1;
    br->state = BRIDGE_IDLE;
    loop_timer_init(&br->timer, restart_fire, br);
    loop_timer_init(&br->ping, ping_fire, br);
    snprintf(br->peer, sizeof br->peer, "%s:%u", cf->host, cf->port);
    if (bridge_routes_build(&b->mem, cf, &br->routes, &br->n_routes) != TERN_OK)
        goto nomem;
    if (cf->cafile != NULL || cf->capath != NULL) {
        char why[400];
        if (net_tls_client_new(b, cf, &br->tls, why, sizeof why) != TERN_OK)
            return conf_errorf(err, errlen, cf->file, cf->line, "%s", why);
    }
    br->remote_id = cf->remote_clientid != NULL ? join(&b->mem, cf->remote_clientid, "")
                                                : default_remote_id(&b->mem, cf->name);
    if (br->remote_id == NULL)
        goto nomem;
    char *local_id = cf->local_clientid != NULL ? join(&b->mem, cf->local_clientid, "")
                                                : join(&b->mem, "local.", br->remote_id);
    if (local_id == NULL)
        goto nomem;
    size_t id_len = strlen(local_id);
    struct sess *s = sess_find(b, (const uint8_t *)local_id, id_len);
    if (s != NULL && s->bridge != NULL) {
        mem_free(&b->mem, local_id);
        return conf_errorf(err, errlen, cf->file, cf->line, "connection %s: local client id "
                           "'%s' is used by bridge %s too", cf->name, s->client_id,
                           s->bridge->cf->name);
    }
    if (s == NULL)
        s = sess_new(b, (const uint8_t *)local_id, id_len, false);
    mem_free(&b->mem, local_id);
    if (s == NULL)
        goto nomem;
    s->bridge = br;
    s->no_local = true;
    s->clean = false;
    br->s = s;
    if (sync_subscriptions(br) != TERN_OK)
        goto nomem;
    LOG_NOTICE(&b->log, "Bridge %s: %zu topic lines, local session %s (%zu messages queued "
               "from before), remote %s as %s.", cf->name, br->n_routes, s->client_id,
               s->pending.count + s->infl_live, br->peer, br->remote_id);
    loop_timer_start(b->loop, &br->timer, broker_now(b));
    return TERN_OK;
nomem:
    return conf_errorf(err, errlen, cf->file, cf->line, "connection %s: out of memory",
                       cf->name);
}

int bridge_start_all(struct broker *b, char *err, size_t errlen)
{
    const struct conf *c = b->conf;
    if (c == NULL || c->n_bridges == 0)
        return TERN_OK;
    b->bridges = mem_calloc(&b->mem, c->n_bridges, sizeof *b->bridges);
    if (b->bridges == NULL) {
        snprintf(err, errlen, "out of memory for bridges");
        return TERN_ENOMEM;
    }
    b->n_bridges = c->n_bridges;
    for (size_t i = 0; i < c->n_bridges; i++) {
        int rc = start_one(b, &b->bridges[i], &c->bridges[i], err, errlen);
        if (rc != TERN_OK)
            return rc;
    }
    return TERN_OK;
}

void bridge_free_all(struct broker *b)
{
    for (size_t i = 0; i < b->n_bridges; i++) {
        struct bridge *br = &b->bridges[i];
        if (br->b == NULL)
            continue;
        loop_timer_stop(b->loop, &br->timer);
        loop_timer_stop(b->loop, &br->ping);
        stop_connecting(br);
        if (br->c != NULL)
            conn_close(br->c, "broker shutting down");
        if (br->s != NULL)
            br->s->bridge = NULL;
        bridge_routes_free(&b->mem, br->routes, br->n_routes);
        mem_free(&b->mem, br->remote_id);
        if (br->tls != NULL)
            net_tls_client_free(b, br->tls);
    }
    mem_free(&b->mem, b->bridges);
    b->bridges = NULL;
    b->n_bridges = 0;
}
