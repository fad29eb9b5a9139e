/*
 * SUBSCRIBE/SUBACK and UNSUBSCRIBE/UNSUBACK (MQTT 3.1.1 sections 3.8-3.11).
 *
 * Rules enforced: 3.8.4-1 (SUBACK with the same packet id), 3.8.4-3 (an identical filter
 * replaces the subscription and its retained messages are sent again), 3.8.4-5 (one return
 * code per filter, in order; 0x80 when the subscription could not be made), 3.9.3 (granted
 * QoS = requested; Tern never downgrades), 3.10.4 (UNSUBACK even when nothing matched).
 * The codec already closed connections whose filters are malformed (3.8.3-1..4).
 * Retained messages are queued after the SUBACK, so the client sees the SUBACK first.
 * With an acl_file, a filter without wildcards that the client may not read gets 0x80 and no
 * subscription; a wildcard filter is accepted and each message is checked at delivery
 * (sess_deliver), retained ones included.
 */
#include <string.h>

#include "broker.h"
#include "conn.h"
#include "proto.h"
#include "security.h"
#include "session.h"
#include "share.h"
#include "tern/err.h"

#define SUBACK_STACK 64

static void send_suback(struct conn *c, uint16_t packet_id, const uint8_t *codes, size_t n)
{
    uint8_t small[SUBACK_STACK + 8];
    size_t need = n + 2 + 2 + MQTT_MAX_FIXED_HEADER;
    uint8_t *buf = need <= sizeof small ? small : mem_alloc(&c->b->mem, need);
    if (buf == NULL) {
        conn_close(c, "out of memory for SUBACK");
        return;
    }
    size_t len = codec_encode_suback(buf, packet_id, codes, n);
    conn_send_bytes(c, buf, len);
    if (buf != small)
        mem_free(&c->b->mem, buf);
}

static bool has_wildcard(const uint8_t *f, size_t len)
{
    return memchr(f, '+', len) != NULL || memchr(f, '#', len) != NULL;
}

/* The ACL's answer for a filter: one without wildcards needs read access to that topic. For
 * "$share/GROUP/FILTER" the question is asked of FILTER, so sharing a subscription gains no
 * access that a plain one would not have. */
static bool may_subscribe(const struct sess *s, const uint8_t *f, size_t len)
{
    const uint8_t *group;
    size_t glen;
    if (share_is_shared(f, len) && share_parse(f, len, &group, &glen, &f, &len) != TERN_OK)
        return true;                 /* sess_subscribe refuses it with 0x80 */
    return has_wildcard(f, len) || security_may_read(s, f, len);
}

int proto_subscribe(struct conn *c, const struct pkt *p)
{
    struct broker *b = c->b;
    struct sess *s = c->sess;
    const struct pkt_topics *t = &p->u.topics;
    uint8_t small[SUBACK_STACK];
    uint8_t *codes = t->count <= SUBACK_STACK ? small : mem_alloc(&b->mem, t->count);
    if (codes == NULL) {
        conn_close(c, "out of memory for SUBSCRIBE");
        return TERN_ENOMEM;
    }
    struct topic_iter it;
    struct mqtt_str f;
    uint8_t qos;
    size_t i = 0;
    codec_topic_iter_init(&it, t, true);
    while (codec_topic_next(&it, &f, &qos) && i < t->count) {
        if (b->acl != NULL && !may_subscribe(s, f.p, f.len)) {
            b->stats.acl_denied_subscribe++;
            LOG_NOTICE(&b->log, "Denied SUBSCRIBE from client %s to '%.*s': acl_file gives no "
                       "read access.", s->client_id, (int)f.len, (const char *)f.p);
            codes[i++] = MQTT_SUBACK_FAILURE;
            continue;
        }
        codes[i++] = sess_subscribe(s, f.p, f.len, qos) == TERN_OK ? qos : MQTT_SUBACK_FAILURE;
        if (log_enabled(&b->log, CONF_LOGT_SUBSCRIBE))
            log_printf(&b->log, CONF_LOGT_SUBSCRIBE, "%s %u %.*s", s->client_id, qos,
                       (int)f.len, (const char *)f.p);
    }
    send_suback(c, t->packet_id, codes, i);
    codec_topic_iter_init(&it, t, true);
    for (size_t j = 0; j < i && codec_topic_next(&it, &f, &qos); j++) {
        /* Retained messages are not sent on shared subscriptions (share.h). */
        if (codes[j] != MQTT_SUBACK_FAILURE && !share_is_shared(f.p, f.len))
            sess_send_retained(s, f.p, f.len, qos);
    }
    if (codes != small)
        mem_free(&b->mem, codes);
    return c->state == CONN_CLOSED ? TERN_ECLOSED : TERN_OK;
}

int proto_unsubscribe(struct conn *c, const struct pkt *p)
{
    struct broker *b = c->b;
    const struct pkt_topics *t = &p->u.topics;
    struct topic_iter it;
    struct mqtt_str f;
    uint8_t qos;
    codec_topic_iter_init(&it, t, false);
    while (codec_topic_next(&it, &f, &qos)) {
        sess_unsubscribe(c->sess, f.p, f.len);
        if (log_enabled(&b->log, CONF_LOGT_UNSUBSCRIBE))
            log_printf(&b->log, CONF_LOGT_UNSUBSCRIBE, "%s %.*s", c->sess->client_id,
                       (int)f.len, (const char *)f.p);
    }
    return conn_send_ack(c, MQTT_UNSUBACK, t->packet_id);
}
