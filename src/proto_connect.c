/*
 * CONNECT and CONNACK (MQTT 3.1.1 section 3.1 and 3.2).
 *
 * Rules enforced: 3.1.0-2 (a second CONNECT closes the connection), 3.1.2-2 (unsupported
 * protocol level: CONNACK 0x01, then close), 3.1.3-7/3.1.3-8 (an empty client id needs clean
 * session 1, else CONNACK 0x02; one is assigned), 3.1.4-2 (a client id already connected: the
 * old connection is closed, its will published; a local bridge session's id is refused with
 * 0x02), 3.2.2-1..3 (session present), 3.2.2-4
 * (non-zero return code: session present 0, then close). The codec already rejected the
 * malformed flag combinations (3.1.2-3, 3.1.2-11..15, 3.1.2-22). Username and password
 * (3.1.3.4, 3.1.3.5) are judged by security.c: a refused login gets CONNACK 0x05 (3.2.2.3);
 * the accepted username is kept in the session for ACL checks.
 */
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "conn.h"
#include "loop.h"
#include "proto.h"
#include "security.h"
#include "session.h"
#include "tern/err.h"
#include "tern/msg.h"

static int refuse(struct conn *c, uint8_t rc, const char *why)
{
    uint8_t pkt[4];
    codec_encode_connack(pkt, false, rc);
    conn_send_bytes(c, pkt, sizeof pkt);
    c->b->stats.connects_refused++;
    conn_close(c, why);
    return TERN_EPROTO;
}

/* The protocol level with the top bit set (0x84, 0x83) is a bridge that connects with
 * try_private (Mosquitto's convention): accepted like the plain level. */
static bool level_ok(const struct pkt_connect *k)
{
    uint8_t level = k->proto_level & 0x7f;
    if (k->proto_name.len == 4 && memcmp(k->proto_name.p, "MQTT", 4) == 0)
        return level == MQTT_PROTO_V311;
    return level == MQTT_PROTO_V31;
}

/* Closes the connection that holds this client id now, if any (3.1.4-2). */
static void take_over(struct broker *b, const uint8_t *id, size_t len)
{
    struct sess *old = sess_find(b, id, len);
    if (old == NULL || old->conn == NULL)
        return;
    b->stats.takeovers++;
    conn_close(old->conn, "session taken over by a new connection");
}

static struct sess *open_session(struct broker *b, const uint8_t *id, size_t len, bool clean,
                                 bool *present)
{
    struct sess *s = sess_find(b, id, len);
    *present = false;
    if (s != NULL && clean) {
        sess_free(s);
        s = NULL;
    }
    if (s != NULL) {
        *present = true;
        return s;
    }
    return sess_new(b, id, len, clean);
}

static void start_keepalive(struct conn *c, uint16_t keepalive)
{
    struct broker *b = c->b;
    c->keepalive_ms = (uint32_t)keepalive * 1500u;
    if (c->keepalive_ms == 0)
        loop_timer_stop(b->loop, &c->timer);
    else
        loop_timer_start(b->loop, &c->timer, broker_now(b) + c->keepalive_ms);
}

int proto_connect(struct conn *c, const struct pkt *p)
{
    struct broker *b = c->b;
    const struct pkt_connect *k = &p->u.connect;
    if (c->state != CONN_NEW) {
        conn_close(c, "second CONNECT on one connection");
        return TERN_EPROTO;
    }
    if (!level_ok(k))
        return refuse(c, MQTT_CONNACK_BAD_PROTOCOL, "unsupported protocol level");
    if (k->client_id.len == 0 && !k->clean_session)
        return refuse(c, MQTT_CONNACK_ID_REJECTED, "empty client id without clean session");
    if (k->keepalive > b->lim.max_keepalive)
        return refuse(c, MQTT_CONNACK_ID_REJECTED, "keepalive above max_keepalive");
    const char *user;
    size_t user_len;
    uint8_t auth = security_authenticate(c, k, &user, &user_len);
    if (auth != MQTT_CONNACK_ACCEPTED)
        return refuse(c, auth, "not authorized");
    if (k->will && k->will_retain && !b->lim.retain_available)
        return refuse(c, MQTT_CONNACK_UNAVAILABLE, "retained will but retain_available false");

    char auto_id[32];
    const uint8_t *id = k->client_id.p;
    size_t id_len = k->client_id.len;
    if (id_len == 0) {
        id_len = (size_t)snprintf(auto_id, sizeof auto_id, "auto-%08llX-%llu",
                                  (unsigned long long)(b->started_ms & 0xffffffffu),
                                  (unsigned long long)++b->auto_id);
        id = (const uint8_t *)auto_id;
    }
    struct sess *owner = sess_find(b, id, id_len);
    if (owner != NULL && owner->bridge != NULL)
        return refuse(c, MQTT_CONNACK_ID_REJECTED, "client id is a local bridge session's");
    struct msg *will = NULL;
    if (k->will) {
        will = msg_new(&b->mem, k->will_topic.p, k->will_topic.len, k->will_payload.p,
                       k->will_payload.len, k->will_qos, k->will_retain);
        if (will == NULL)
            return refuse(c, MQTT_CONNACK_UNAVAILABLE, "out of memory for the will");
    }
    char *uname = user != NULL ? mem_strndup(&b->mem, user, user_len) : NULL;
    if (user != NULL && uname == NULL) {
        msg_unref(&will);
        return refuse(c, MQTT_CONNACK_UNAVAILABLE, "out of memory for the username");
    }
    take_over(b, id, id_len);
    bool present;
    struct sess *s = open_session(b, id, id_len, k->clean_session, &present);
    if (s == NULL) {
        msg_unref(&will);
        mem_free(&b->mem, uname);
        return refuse(c, MQTT_CONNACK_UNAVAILABLE, "out of memory for the session");
    }
    mem_free(&b->mem, s->username);
    s->username = uname;
    s->user_known = true;
    s->clean = k->clean_session;
    /* A remote bridge with try_private is not sent back what it published (no echo). */
    s->no_local = (k->proto_level & 0x80) != 0;
    s->will = will;
    c->sess = s;
    c->state = CONN_ACTIVE;
    b->stats.clients_connected++;
    b->stats.clients_total++;
    start_keepalive(c, k->keepalive);

    uint8_t ack[4];
    codec_encode_connack(ack, present, MQTT_CONNACK_ACCEPTED);
    conn_send_bytes(c, ack, sizeof ack);
    if (b->lim.connection_messages)
        LOG_INFO(&b->log, "New client connected from %s as %s (p%u, c%d, k%u).", c->peer,
                 s->client_id, (k->proto_level & 0x7f) == MQTT_PROTO_V311 ? 2u : 1u,
                 k->clean_session ? 1 : 0, k->keepalive);
    sess_attach(s, c);
    return TERN_OK;
}
