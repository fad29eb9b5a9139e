/*
 * PUBLISH, PUBACK, PUBREC, PUBREL and PUBCOMP from a client (MQTT 3.1.1 sections 3.3-3.7, 4.3).
 *
 * Inbound QoS 1: the message is published, then PUBACK. Inbound QoS 2 uses method B of 4.3.3:
 * the message is published once, on the first PUBLISH with a given packet id, and the id is
 * kept until PUBREL; a PUBLISH repeating that id (with DUP) is answered with PUBREC again and
 * not published again. PUBREL always gets PUBCOMP (3.6.4). Acknowledgements of outbound
 * messages go to the session's window.
 *
 * With persistence on, PUBACK, PUBREC and PUBCOMP go through persist_ack: they leave only once
 * the records this packet made are in the log and synced (see persist.h); while the disk is
 * failing and too much is held, QoS 1/2 publishes are refused without an acknowledgement.
 *
 * A payload over message_size_limit, or a topic the acl_file gives the client no write access
 * to, is dropped, logged and counted; the client still gets its acknowledgement (as Mosquitto
 * does for 3.1.1, whose only answer to a PUBLISH is the ack) so it does not resend it forever.
 */
#include <string.h>

#include "broker.h"
#include "conn.h"
#include "expire.h"
#include "listener.h"
#include "persist.h"
#include "proto.h"
#include "security.h"
#include "session.h"
#include "tern/err.h"
#include "tern/msg.h"

/* Creates and publishes the message with c's listener's message_expiry, marked as coming
 * from c's session (for no-local fan-out). Returns TERN_OK or TERN_ENOMEM (nothing
 * published). */
static int publish(struct conn *c, const struct pkt_publish *pp)
{
    struct broker *b = c->b;
    /* Under memory_limit a message is taken only with headroom left (1/16 of the limit) for
     * its fan-out: per-recipient headers, queue entries and acks. Otherwise it is refused
     * whole, before anything is acknowledged: QoS 0 is dropped, QoS 1/2 get no PUBACK/PUBREC,
     * so the client resends once memory frees. */
    struct msg *m = NULL;
    if (mem_would_fit(&b->mem, pp->topic.len + pp->payload.len + b->mem.limit / 16))
        m = msg_new(&b->mem, pp->topic.p, pp->topic.len, pp->payload.p, pp->payload.len,
                    pp->qos, pp->retain);
    if (m == NULL) {
        b->stats.dropped_nomem++;
        uint64_t n = ++b->stats.dropped_memory_limit;
        if ((n & (n - 1)) == 0)
            LOG_WARN(&b->log, "PUBLISH refused: memory_limit reached (%zu of %zu bytes in "
                     "use; QoS 0 dropped, QoS 1/2 not acknowledged; %llu refused in all).",
                     b->mem.used, b->mem.limit, (unsigned long long)n);
        return TERN_ENOMEM;
    }
    expire_stamp(b, m, c->lst != NULL ? c->lst->message_expiry : -1);
    m->origin = c->sess;
    broker_publish(b, m);
    msg_unref(&m);
    return TERN_OK;
}

/* True when the message must be acknowledged but not delivered. */
static bool drop_it(struct conn *c, const struct pkt_publish *pp)
{
    struct broker *b = c->b;
    if (b->lim.message_size_limit > 0 && pp->payload.len > b->lim.message_size_limit) {
        b->stats.packets_too_large++;
        LOG_NOTICE(&b->log, "Dropped PUBLISH from client %s [%s]: payload of %u bytes is over "
                   "message_size_limit %u.", conn_client_id(c), c->peer, pp->payload.len,
                   b->lim.message_size_limit);
        return true;
    }
    if (b->acl != NULL && !security_may_write(c->sess, pp->topic.p, pp->topic.len)) {
        uint64_t n = ++b->stats.acl_denied_publish;
        if ((n & (n - 1)) == 0)
            LOG_NOTICE(&b->log, "Denied PUBLISH from client %s [%s] to '%.*s': acl_file gives "
                       "no write access (%llu denied in all).", conn_client_id(c), c->peer,
                       (int)pp->topic.len, (const char *)pp->topic.p, (unsigned long long)n);
        return true;
    }
    if (pp->topic.len >= 5 && memcmp(pp->topic.p, "$SYS/", 5) == 0) {
        LOG_DEBUG(&b->log, "Dropped PUBLISH from client %s to a $SYS topic.",
                  conn_client_id(c));
        return true;
    }
    return false;
}

int proto_publish(struct conn *c, const struct pkt *p)
{
    struct broker *b = c->b;
    const struct pkt_publish *pp = &p->u.publish;
    if (pp->retain && !b->lim.retain_available) {
        conn_close(c, "retained PUBLISH while retain_available is false");
        return TERN_EPROTO;
    }
    if (pp->qos > 0 && !persist_accepting(b->persist))
        return TERN_OK;
    b->stats.msgs_received++;
    bool drop = drop_it(c, pp);
    switch (pp->qos) {
    case 0:
        if (!drop)
            publish(c, pp);
        return TERN_OK;
    case 1:
        /* Without memory the message is not acknowledged, so the client resends it. */
        if (!drop && publish(c, pp) != TERN_OK)
            return TERN_OK;
        return persist_ack(b->persist, c, MQTT_PUBACK, pp->packet_id);
    default:
        if (sess_qos2_seen(c->sess, pp->packet_id)) {
            b->stats.qos2_duplicates++;
            return persist_ack(b->persist, c, MQTT_PUBREC, pp->packet_id);
        }
        if (sess_qos2_add(c->sess, pp->packet_id) != TERN_OK)
            return TERN_OK;
        if (!drop && publish(c, pp) != TERN_OK) {
            sess_qos2_release(c->sess, pp->packet_id);
            return TERN_OK;
        }
        return persist_ack(b->persist, c, MQTT_PUBREC, pp->packet_id);
    }
}

int proto_pubrel(struct conn *c, const struct pkt *p)
{
    sess_qos2_release(c->sess, p->u.ack.packet_id);
    return persist_ack(c->b->persist, c, MQTT_PUBCOMP, p->u.ack.packet_id);
}

int proto_puback(struct conn *c, const struct pkt *p)
{
    sess_on_puback(c->sess, p->u.ack.packet_id);
    return TERN_OK;
}

int proto_pubrec(struct conn *c, const struct pkt *p)
{
    sess_on_pubrec(c->sess, p->u.ack.packet_id);
    return TERN_OK;
}

int proto_pubcomp(struct conn *c, const struct pkt *p)
{
    sess_on_pubcomp(c->sess, p->u.ack.packet_id);
    return TERN_OK;
}
