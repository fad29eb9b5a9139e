/*
 * libFuzzer target for src/codec.c: the input is a byte stream as a connection would receive
 * it. It is decoded packet after packet, once as a server (what clients send, no size limit)
 * and once as a client (what servers send, max_packet 4096), until the codec asks for more
 * bytes or refuses the stream.
 *
 * Each decoded packet is checked beyond "no crash": every view must lie inside the packet,
 * topic lists must iterate to exactly count entries, and a packet whose remaining length was
 * minimally encoded must re-encode byte for byte through the encoders and decode again. The
 * validators are cross-checked too: a valid topic name is a valid filter and valid UTF-8.
 * Any violated invariant calls __builtin_trap(), which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tern/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                              \
    do {                                                                                         \
        if (!(cond))                                                                             \
            __builtin_trap();                                                                    \
    } while (0)

/* The view must lie inside [b, b + n); reading it lets ASan see an escaped pointer. */
static unsigned touch(struct mqtt_str s, const uint8_t *b, size_t n)
{
    unsigned sum = 0;

    if (s.len == 0)
        return 0;
    CHECK(s.p >= b && s.p + s.len <= b + n);
    for (uint32_t i = 0; i < s.len; i++)
        sum += s.p[i];
    return sum;
}

/* Walks a SUBSCRIBE/UNSUBSCRIBE list; fills filters/qos (room for cap) and returns the count. */
static size_t walk_topics(const struct pkt *p, const uint8_t *b, size_t n, struct mqtt_str *f,
                          uint8_t *qos, size_t cap)
{
    bool with_qos = p->type == MQTT_SUBSCRIBE;
    struct topic_iter it;
    size_t k = 0;

    codec_topic_iter_init(&it, &p->u.topics, with_qos);
    while (k < cap && codec_topic_next(&it, &f[k], &qos[k])) {
        touch(f[k], b, n);
        CHECK(codec_topic_filter_valid(f[k].p, f[k].len));
        CHECK(!with_qos || qos[k] <= 2);
        k++;
    }
    CHECK(k == p->u.topics.count);
    return k;
}

/* Re-encodes p into out (room for n + 8 bytes) and returns the size written. */
static size_t reencode(const struct pkt *p, const uint8_t *b, size_t n, uint8_t *out)
{
    switch (p->type) {
    case MQTT_CONNECT:
        CHECK(codec_connect_size(&p->u.connect) == n);
        return codec_encode_connect(out, &p->u.connect);
    case MQTT_CONNACK:
        return codec_encode_connack(out, p->u.connack.session_present, p->u.connack.rc);
    case MQTT_PUBLISH: {
        const struct pkt_publish *m = &p->u.publish;
        size_t h = codec_publish_header_size(m->topic.len, m->qos, m->payload.len);
        CHECK(codec_encode_publish_header(out, m->topic.p, m->topic.len, m->qos, m->retain,
                                          m->dup, m->packet_id, m->payload.len) == h);
        CHECK(h + m->payload.len <= n + 8);
        memcpy(out + h, m->payload.p, m->payload.len);
        return h + m->payload.len;
    }
    case MQTT_SUBSCRIBE:
    case MQTT_UNSUBSCRIBE: {
        size_t cap = n / 3 + 1;
        struct mqtt_str *f = malloc(cap * sizeof *f);
        uint8_t *qos = malloc(cap);
        CHECK(f != NULL && qos != NULL);
        size_t k = walk_topics(p, b, n, f, qos, cap);
        const uint8_t *q = p->type == MQTT_SUBSCRIBE ? qos : NULL;
        CHECK(codec_topics_size(f, k, q != NULL) == n);
        size_t w = codec_encode_topics(out, p->u.topics.packet_id, f, q, k);
        free(qos);
        free(f);
        return w;
    }
    case MQTT_SUBACK:
        return codec_encode_suback(out, p->u.suback.packet_id, p->u.suback.codes,
                                   p->u.suback.count);
    case MQTT_PINGREQ:
    case MQTT_PINGRESP:
    case MQTT_DISCONNECT:
        return codec_encode_simple(out, p->type);
    default:
        return codec_encode_ack(out, p->type, p->u.ack.packet_id);
    }
}

static void check_packet(const struct pkt *p, const uint8_t *b, size_t n, bool is_server)
{
    uint8_t tf;
    uint32_t rem;
    size_t hl;
    volatile unsigned sink = 0;

    CHECK(codec_fixed_header(b, n, &tf, &rem, &hl) == TERN_OK);
    CHECK(hl + rem == n && rem == p->remaining && tf >> 4 == p->type);
    if (p->type == MQTT_CONNECT) {
        const struct pkt_connect *c = &p->u.connect;
        sink += touch(c->proto_name, b, n) + touch(c->client_id, b, n);
        sink += touch(c->will_topic, b, n) + touch(c->will_payload, b, n);
        sink += touch(c->username, b, n) + touch(c->password, b, n);
        CHECK(!c->will || codec_topic_name_valid(c->will_topic.p, c->will_topic.len));
    } else if (p->type == MQTT_PUBLISH) {
        sink += touch(p->u.publish.topic, b, n) + touch(p->u.publish.payload, b, n);
        CHECK(codec_topic_name_valid(p->u.publish.topic.p, p->u.publish.topic.len));
    }
    (void)sink;
    /* Only a minimal remaining-length encoding can come back byte for byte. */
    if (hl != 1 + codec_varint_size(rem))
        return;
    uint8_t *out = malloc(n + 8);
    CHECK(out != NULL);
    size_t w = reencode(p, b, n, out);
    CHECK(w == n && memcmp(out, b, n) == 0);
    struct pkt again;
    size_t used = 0;
    CHECK(codec_decode(out, w, 0, is_server, &again, &used) == TERN_OK && used == n);
    CHECK(again.type == p->type && again.remaining == p->remaining);
    free(out);
}

static void decode_stream(const uint8_t *data, size_t size, bool is_server, uint32_t max)
{
    while (size > 0) {
        struct pkt p;
        size_t used = 0;
        int rc = codec_decode(data, size, max, is_server, &p, &used);
        if (rc == TERN_EAGAIN) {
            CHECK(used == 0 || used > size);
            return;
        }
        if (rc == TERN_ETOOBIG)
            CHECK(max != 0 && used > max);
        if (rc != TERN_OK)
            return;
        CHECK(used > 0 && used <= size);
        check_packet(&p, data, used, is_server);
        data += used;
        size -= used;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_stream(data, size, true, 0);
    decode_stream(data, size, false, 4096);

    bool utf8 = codec_utf8_valid(data, size);
    bool name = codec_topic_name_valid(data, size);
    bool filter = codec_topic_filter_valid(data, size);
    CHECK(!name || (filter && utf8));
    CHECK(!filter || utf8);
    CHECK(!name || memchr(data, '+', size) == NULL);
    return 0;
}
