/*
 * Unit tests for src/codec.c (and tern_strerror in src/err.c): every packet type decoded and
 * round-tripped through the encoders, each valid packet split at every byte boundary, several
 * packets in one buffer, max_packet enforced from the header alone, and tables of malformed
 * packets, UTF-8 strings (MQTT 3.1.1 section 1.5.3), topic names and filters (4.7).
 *
 * Prefixes and split packets are decoded from heap copies of exactly the given length, so
 * AddressSanitizer catches a decoder that reads one byte too far.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tern/codec.h"

#define BYTES(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})
#define STR(s) {(const uint8_t *)(s), sizeof(s) - 1}

static uint8_t *dup_bytes(const uint8_t *b, size_t n)
{
    uint8_t *c = malloc(n > 0 ? n : 1);
    ck_assert_ptr_nonnull(c);
    if (n > 0)
        memcpy(c, b, n);
    return c;
}

/* Decodes b[0..n) as exactly one packet, asserting success. */
static void decode_ok(const uint8_t *b, size_t n, bool is_server, struct pkt *p)
{
    size_t used = 12345;
    int rc = codec_decode(b, n, 0, is_server, p, &used);
    ck_assert_msg(rc == TERN_OK, "decode returned %d (%s)", rc, tern_strerror(rc));
    ck_assert_uint_eq(used, n);
}

static bool str_same(struct mqtt_str a, const uint8_t *base_a, struct mqtt_str b,
                     const uint8_t *base_b)
{
    if (a.len != b.len)
        return false;
    return a.len == 0 || a.p - base_a == b.p - base_b;
}

/* True when a (views into base_a) and b (views into base_b) decode the same packet. */
static bool pkt_same(const struct pkt *a, const uint8_t *ba, const struct pkt *b,
                     const uint8_t *bb)
{
    if (a->type != b->type || a->flags != b->flags || a->remaining != b->remaining)
        return false;
    switch (a->type) {
    case MQTT_CONNECT: {
        const struct pkt_connect *x = &a->u.connect;
        const struct pkt_connect *y = &b->u.connect;
        return str_same(x->proto_name, ba, y->proto_name, bb) &&
               x->proto_level == y->proto_level && x->clean_session == y->clean_session &&
               x->will == y->will && x->will_qos == y->will_qos &&
               x->will_retain == y->will_retain && x->has_username == y->has_username &&
               x->has_password == y->has_password && x->keepalive == y->keepalive &&
               str_same(x->client_id, ba, y->client_id, bb) &&
               str_same(x->will_topic, ba, y->will_topic, bb) &&
               str_same(x->will_payload, ba, y->will_payload, bb) &&
               str_same(x->username, ba, y->username, bb) &&
               str_same(x->password, ba, y->password, bb);
    }
    case MQTT_CONNACK:
        return a->u.connack.session_present == b->u.connack.session_present &&
               a->u.connack.rc == b->u.connack.rc;
    case MQTT_PUBLISH:
        return a->u.publish.qos == b->u.publish.qos && a->u.publish.dup == b->u.publish.dup &&
               a->u.publish.retain == b->u.publish.retain &&
               a->u.publish.packet_id == b->u.publish.packet_id &&
               str_same(a->u.publish.topic, ba, b->u.publish.topic, bb) &&
               str_same(a->u.publish.payload, ba, b->u.publish.payload, bb);
    case MQTT_SUBSCRIBE:
    case MQTT_UNSUBSCRIBE:
        return a->u.topics.packet_id == b->u.topics.packet_id &&
               a->u.topics.count == b->u.topics.count &&
               a->u.topics.list - ba == b->u.topics.list - bb &&
               a->u.topics.list_len == b->u.topics.list_len;
    case MQTT_SUBACK:
        return a->u.suback.packet_id == b->u.suback.packet_id &&
               a->u.suback.count == b->u.suback.count &&
               a->u.suback.codes - ba == b->u.suback.codes - bb;
    case MQTT_PINGREQ:
    case MQTT_PINGRESP:
    case MQTT_DISCONNECT:
        return true;
    default:
        return a->u.ack.packet_id == b->u.ack.packet_id;
    }
}

/*
 * Feeds b[0..n) cut after every byte: each proper prefix must give TERN_EAGAIN (with *used the
 * total once the fixed header is complete, else 0); the whole packet must decode exactly like
 * the reference decode of b.
 */
static void check_split(const uint8_t *b, size_t n, bool is_server)
{
    struct pkt ref;
    struct pkt p;
    uint8_t tf;
    uint32_t rem;
    size_t hdr_len = 0;

    decode_ok(b, n, is_server, &ref);
    ck_assert_int_eq(codec_fixed_header(b, n, &tf, &rem, &hdr_len), TERN_OK);
    for (size_t i = 0; i < n; i++) {
        uint8_t *c = dup_bytes(b, i);
        size_t used = 999;
        int rc = codec_decode(c, i, 0, is_server, &p, &used);
        ck_assert_msg(rc == TERN_EAGAIN, "prefix %zu of %zu gave %d", i, n, rc);
        ck_assert_uint_eq(used, i >= hdr_len ? n : 0);
        free(c);
    }
    uint8_t *c = dup_bytes(b, n);
    decode_ok(c, n, is_server, &p);
    ck_assert(pkt_same(&ref, b, &p, c));
    free(c);
}

static bool str_eq(struct mqtt_str s, const char *want)
{
    return s.len == strlen(want) && (s.len == 0 || memcmp(s.p, want, s.len) == 0);
}

/* Round trips. */

START_TEST(test_codec_connect_311_round_trips)
{
    struct pkt_connect c = {0};
    uint8_t buf[64];
    struct pkt p;

    c.proto_level = MQTT_PROTO_V311;
    c.clean_session = true;
    c.keepalive = 60;
    c.client_id = (struct mqtt_str)STR("client-1");
    size_t n = codec_encode_connect(buf, &c);
    ck_assert_uint_eq(n, codec_connect_size(&c));
    ck_assert_uint_eq(buf[0], 0x10);
    decode_ok(buf, n, true, &p);
    ck_assert_uint_eq(p.type, MQTT_CONNECT);
    ck_assert(str_eq(p.u.connect.proto_name, "MQTT"));
    ck_assert_uint_eq(p.u.connect.proto_level, 4);
    ck_assert(p.u.connect.clean_session);
    ck_assert(!p.u.connect.will && !p.u.connect.has_username && !p.u.connect.has_password);
    ck_assert_uint_eq(p.u.connect.keepalive, 60);
    ck_assert(str_eq(p.u.connect.client_id, "client-1"));
    uint8_t again[64];
    ck_assert_uint_eq(codec_encode_connect(again, &p.u.connect), n);
    ck_assert_mem_eq(again, buf, n);
    check_split(buf, n, true);
}
END_TEST

START_TEST(test_codec_connect_31_with_will_user_pass_round_trips)
{
    struct pkt_connect c = {0};
    uint8_t buf[128];
    struct pkt p;

    c.proto_level = MQTT_PROTO_V31;
    c.keepalive = 0xfffe;
    c.client_id = (struct mqtt_str)STR("c\xc3\xa9");
    c.will = true;
    c.will_qos = 1;
    c.will_retain = true;
    c.will_topic = (struct mqtt_str)STR("last/will");
    c.will_payload = (struct mqtt_str)STR("bye\0bin");
    c.has_username = true;
    c.username = (struct mqtt_str)STR("user");
    c.has_password = true;
    c.password = (struct mqtt_str)STR("p\0ss");
    size_t n = codec_encode_connect(buf, &c);
    ck_assert_uint_eq(n, codec_connect_size(&c));
    decode_ok(buf, n, true, &p);
    const struct pkt_connect *d = &p.u.connect;
    ck_assert(str_eq(d->proto_name, "MQIsdp"));
    ck_assert_uint_eq(d->proto_level, 3);
    ck_assert(!d->clean_session);
    ck_assert(d->will && d->will_qos == 1 && d->will_retain);
    ck_assert_uint_eq(d->keepalive, 0xfffe);
    ck_assert(str_eq(d->client_id, "c\xc3\xa9"));
    ck_assert(str_eq(d->will_topic, "last/will"));
    ck_assert_uint_eq(d->will_payload.len, 7);
    ck_assert_mem_eq(d->will_payload.p, "bye\0bin", 7);
    ck_assert(d->has_username && str_eq(d->username, "user"));
    ck_assert(d->has_password && d->password.len == 4);
    ck_assert_mem_eq(d->password.p, "p\0ss", 4);
    uint8_t again[128];
    ck_assert_uint_eq(codec_encode_connect(again, d), n);
    ck_assert_mem_eq(again, buf, n);
    check_split(buf, n, true);
}
END_TEST

START_TEST(test_codec_connect_accepts_empty_client_id_and_unknown_level)
{
    struct pkt p;
    const uint8_t b[] = {0x10, 0x0c, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 10, 0, 0};

    decode_ok(b, sizeof b, true, &p);
    ck_assert_uint_eq(p.u.connect.proto_level, 5);
    ck_assert_uint_eq(p.u.connect.client_id.len, 0);
    check_split(b, sizeof b, true);
}
END_TEST

START_TEST(test_codec_connack_round_trips_on_client_side)
{
    uint8_t buf[4];
    struct pkt p;

    ck_assert_uint_eq(codec_encode_connack(buf, true, MQTT_CONNACK_ACCEPTED), 4);
    ck_assert_mem_eq(buf, "\x20\x02\x01\x00", 4);
    decode_ok(buf, 4, false, &p);
    ck_assert_uint_eq(p.type, MQTT_CONNACK);
    ck_assert(p.u.connack.session_present);
    ck_assert_uint_eq(p.u.connack.rc, 0);
    codec_encode_connack(buf, false, MQTT_CONNACK_BAD_AUTH);
    decode_ok(buf, 4, false, &p);
    ck_assert(!p.u.connack.session_present);
    ck_assert_uint_eq(p.u.connack.rc, 4);
    check_split(buf, 4, false);
}
END_TEST

/* Encodes a PUBLISH (header + payload), decodes it both ways, checks fields and splits. */
static void publish_round_trip(const char *topic, uint8_t qos, bool retain, bool dup,
                               uint16_t id, size_t payload_len)
{
    size_t tl = strlen(topic);
    size_t hs = codec_publish_header_size(tl, qos, payload_len);
    uint8_t *buf = malloc(hs + payload_len);
    struct pkt p;

    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(codec_encode_publish_header(buf, (const uint8_t *)topic, tl, qos, retain,
                                                  dup, id, payload_len),
                      hs);
    for (size_t i = 0; i < payload_len; i++)
        buf[hs + i] = (uint8_t)i;
    for (int side = 0; side < 2; side++) {
        decode_ok(buf, hs + payload_len, side == 0, &p);
        ck_assert_uint_eq(p.type, MQTT_PUBLISH);
        ck_assert_uint_eq(p.u.publish.qos, qos);
        ck_assert(p.u.publish.retain == retain && p.u.publish.dup == dup);
        ck_assert_uint_eq(p.u.publish.packet_id, qos > 0 ? id : 0);
        ck_assert(str_eq(p.u.publish.topic, topic));
        ck_assert_uint_eq(p.u.publish.payload.len, payload_len);
        ck_assert_ptr_eq(p.u.publish.payload.p, buf + hs);
    }
    if (hs + payload_len < 400)
        check_split(buf, hs + payload_len, true);
    free(buf);
}

START_TEST(test_codec_publish_qos0_round_trips)
{
    publish_round_trip("a/b", 0, false, false, 0, 5);
    publish_round_trip("t", 0, true, false, 0, 0);
}
END_TEST

START_TEST(test_codec_publish_qos1_round_trips)
{
    publish_round_trip("sensors/\xe2\x82\xac/temp", 1, false, true, 1, 12);
}
END_TEST

START_TEST(test_codec_publish_qos2_round_trips)
{
    publish_round_trip("x/y/z", 2, true, false, 65535, 3);
}
END_TEST

START_TEST(test_codec_publish_with_multi_byte_remaining_length_round_trips)
{
    publish_round_trip("big", 1, false, false, 7, 200);
    publish_round_trip("bigger", 2, false, false, 8, 20000);
    publish_round_trip("biggest", 0, false, false, 0, 2100000);
}
END_TEST

START_TEST(test_codec_acks_round_trip_with_correct_flags)
{
    static const uint8_t types[] = {MQTT_PUBACK, MQTT_PUBREC, MQTT_PUBREL, MQTT_PUBCOMP};
    uint8_t buf[4];
    struct pkt p;

    for (size_t i = 0; i < sizeof types; i++) {
        ck_assert_uint_eq(codec_encode_ack(buf, types[i], 0x1234), 4);
        ck_assert_uint_eq(buf[0], (types[i] << 4) | (types[i] == MQTT_PUBREL ? 2 : 0));
        ck_assert_mem_eq(buf + 1, "\x02\x12\x34", 3);
        for (int side = 0; side < 2; side++) {
            decode_ok(buf, 4, side == 0, &p);
            ck_assert_uint_eq(p.type, types[i]);
            ck_assert_uint_eq(p.u.ack.packet_id, 0x1234);
        }
        check_split(buf, 4, true);
    }
    ck_assert_uint_eq(codec_encode_ack(buf, MQTT_PUBREL, 7), 4);
    ck_assert_mem_eq(buf, "\x62\x02\x00\x07", 4);
}
END_TEST

START_TEST(test_codec_unsuback_round_trips_on_client_side)
{
    uint8_t buf[4];
    struct pkt p;

    codec_encode_ack(buf, MQTT_UNSUBACK, 9);
    ck_assert_mem_eq(buf, "\xb0\x02\x00\x09", 4);
    decode_ok(buf, 4, false, &p);
    ck_assert_uint_eq(p.type, MQTT_UNSUBACK);
    ck_assert_uint_eq(p.u.ack.packet_id, 9);
    check_split(buf, 4, false);
}
END_TEST

START_TEST(test_codec_subscribe_multi_round_trips_and_iterates)
{
    const struct mqtt_str f[] = {STR("a/b"), STR("+/x/#"), STR("#"), STR("\xc3\xa9/+")};
    const uint8_t qos[] = {0, 1, 2, 1};
    uint8_t buf[64];
    struct pkt p;
    struct topic_iter it;
    struct mqtt_str got;
    uint8_t q = 9;

    size_t n = codec_encode_topics(buf, 42, f, qos, 4);
    ck_assert_uint_eq(n, codec_topics_size(f, 4, true));
    ck_assert_uint_eq(buf[0], 0x82);
    decode_ok(buf, n, true, &p);
    ck_assert_uint_eq(p.type, MQTT_SUBSCRIBE);
    ck_assert_uint_eq(p.u.topics.packet_id, 42);
    ck_assert_uint_eq(p.u.topics.count, 4);
    codec_topic_iter_init(&it, &p.u.topics, true);
    for (size_t i = 0; i < 4; i++) {
        ck_assert(codec_topic_next(&it, &got, &q));
        ck_assert_uint_eq(got.len, f[i].len);
        ck_assert_mem_eq(got.p, f[i].p, got.len);
        ck_assert_uint_eq(q, qos[i]);
    }
    ck_assert(!codec_topic_next(&it, &got, &q));
    check_split(buf, n, true);
}
END_TEST

START_TEST(test_codec_unsubscribe_round_trips_and_iterates)
{
    const struct mqtt_str f[] = {STR("a/b"), STR("+/+")};
    uint8_t buf[32];
    struct pkt p;
    struct topic_iter it;
    struct mqtt_str got;

    size_t n = codec_encode_topics(buf, 3, f, NULL, 2);
    ck_assert_uint_eq(n, codec_topics_size(f, 2, false));
    ck_assert_uint_eq(buf[0], 0xa2);
    decode_ok(buf, n, true, &p);
    ck_assert_uint_eq(p.type, MQTT_UNSUBSCRIBE);
    ck_assert_uint_eq(p.u.topics.packet_id, 3);
    ck_assert_uint_eq(p.u.topics.count, 2);
    codec_topic_iter_init(&it, &p.u.topics, false);
    ck_assert(codec_topic_next(&it, &got, NULL) && str_eq(got, "a/b"));
    ck_assert(codec_topic_next(&it, &got, NULL) && str_eq(got, "+/+"));
    ck_assert(!codec_topic_next(&it, &got, NULL));
    check_split(buf, n, true);
}
END_TEST

START_TEST(test_codec_suback_round_trips_on_client_side)
{
    const uint8_t codes[] = {0, 1, 2, MQTT_SUBACK_FAILURE};
    uint8_t buf[16];
    struct pkt p;

    size_t n = codec_encode_suback(buf, 77, codes, 4);
    ck_assert_uint_eq(n, 8);
    decode_ok(buf, n, false, &p);
    ck_assert_uint_eq(p.type, MQTT_SUBACK);
    ck_assert_uint_eq(p.u.suback.packet_id, 77);
    ck_assert_uint_eq(p.u.suback.count, 4);
    ck_assert_mem_eq(p.u.suback.codes, codes, 4);
    check_split(buf, n, false);
}
END_TEST

START_TEST(test_codec_ping_and_disconnect_round_trip)
{
    uint8_t buf[2];
    struct pkt p;

    ck_assert_uint_eq(codec_encode_simple(buf, MQTT_PINGREQ), 2);
    ck_assert_mem_eq(buf, "\xc0\x00", 2);
    decode_ok(buf, 2, true, &p);
    ck_assert_uint_eq(p.type, MQTT_PINGREQ);
    check_split(buf, 2, true);
    ck_assert_uint_eq(codec_encode_pingresp(buf), 2);
    ck_assert_mem_eq(buf, "\xd0\x00", 2);
    decode_ok(buf, 2, false, &p);
    ck_assert_uint_eq(p.type, MQTT_PINGRESP);
    check_split(buf, 2, false);
    ck_assert_uint_eq(codec_encode_simple(buf, MQTT_DISCONNECT), 2);
    ck_assert_mem_eq(buf, "\xe0\x00", 2);
    decode_ok(buf, 2, true, &p);
    ck_assert_uint_eq(p.type, MQTT_DISCONNECT);
    decode_ok(buf, 2, false, &p);
    check_split(buf, 2, true);
}
END_TEST

/* Streams, headers, sizes. */

START_TEST(test_codec_decodes_several_packets_in_one_buffer)
{
    const struct mqtt_str f[] = {STR("a/#")};
    const uint8_t qos[] = {1};
    struct pkt_connect c = {0};
    uint8_t buf[256];
    size_t n = 0;

    c.proto_level = 4;
    c.client_id = (struct mqtt_str)STR("id");
    n += codec_encode_connect(buf + n, &c);
    n += codec_encode_topics(buf + n, 1, f, qos, 1);
    n += codec_encode_publish_header(buf + n, (const uint8_t *)"a/b", 3, 1, false, false, 2, 4);
    memcpy(buf + n, "data", 4);
    n += 4;
    n += codec_encode_simple(buf + n, MQTT_PINGREQ);
    n += codec_encode_ack(buf + n, MQTT_PUBREL, 2);
    n += codec_encode_simple(buf + n, MQTT_DISCONNECT);

    static const uint8_t want[] = {MQTT_CONNECT, MQTT_SUBSCRIBE, MQTT_PUBLISH,
                                   MQTT_PINGREQ, MQTT_PUBREL,    MQTT_DISCONNECT};
    size_t off = 0;
    size_t k = 0;
    while (off < n) {
        struct pkt p;
        size_t used = 0;
        ck_assert_int_eq(codec_decode(buf + off, n - off, 1000, true, &p, &used), TERN_OK);
        ck_assert_uint_lt(k, sizeof want);
        ck_assert_uint_eq(p.type, want[k]);
        if (p.type == MQTT_PUBLISH)
            ck_assert(str_eq(p.u.publish.payload, "data"));
        off += used;
        k++;
    }
    ck_assert_uint_eq(off, n);
    ck_assert_uint_eq(k, sizeof want);
}
END_TEST

START_TEST(test_codec_rejects_5_byte_remaining_length)
{
    const uint8_t b[] = {0x30, 0xff, 0xff, 0xff, 0xff, 0x01};
    uint8_t tf;
    uint32_t rem;
    size_t hl;
    struct pkt p;
    size_t used;

    ck_assert_int_eq(codec_fixed_header(b, sizeof b, &tf, &rem, &hl), TERN_EMALFORMED);
    ck_assert_int_eq(codec_decode(b, sizeof b, 0, true, &p, &used), TERN_EMALFORMED);
    /* The fifth length byte need not arrive: four continuation bytes already condemn it. */
    ck_assert_int_eq(codec_decode(b, 5, 0, true, &p, &used), TERN_EMALFORMED);
}
END_TEST

START_TEST(test_codec_fixed_header_reads_4_byte_maximum)
{
    const uint8_t b[] = {0x30, 0xff, 0xff, 0xff, 0x7f};
    uint8_t tf = 0;
    uint32_t rem = 0;
    size_t hl = 0;

    ck_assert_int_eq(codec_fixed_header(b, sizeof b, &tf, &rem, &hl), TERN_OK);
    ck_assert_uint_eq(tf, 0x30);
    ck_assert_uint_eq(rem, MQTT_MAX_REMAINING);
    ck_assert_uint_eq(hl, 5);
    for (size_t i = 0; i < sizeof b; i++)
        ck_assert_int_eq(codec_fixed_header(b, i, &tf, &rem, &hl), TERN_EAGAIN);
}
END_TEST

START_TEST(test_codec_partial_header_returns_eagain_with_used_zero)
{
    const uint8_t b[] = {0x30, 0x80};
    struct pkt p;
    size_t used = 5;

    ck_assert_int_eq(codec_decode(b, 0, 0, true, &p, &used), TERN_EAGAIN);
    ck_assert_uint_eq(used, 0);
    used = 5;
    ck_assert_int_eq(codec_decode(b, 2, 0, true, &p, &used), TERN_EAGAIN);
    ck_assert_uint_eq(used, 0);
}
END_TEST

START_TEST(test_codec_max_packet_rejects_from_header_alone)
{
    /* 1 MB (1048576) remaining length, followed by a single body byte. */
    const uint8_t b[] = {0x30, 0x80, 0x80, 0x40, 0x00};
    struct pkt p;
    size_t used = 0;

    ck_assert_int_eq(codec_decode(b, sizeof b, 1000, true, &p, &used), TERN_ETOOBIG);
    ck_assert_uint_eq(used, 4 + 1048576);
    ck_assert_int_eq(codec_decode(b, 4, 1000, true, &p, &used), TERN_ETOOBIG);
    ck_assert_int_eq(codec_decode(b, 3, 1000, true, &p, &used), TERN_EAGAIN);
    ck_assert_int_eq(codec_decode(b, sizeof b, 0, true, &p, &used), TERN_EAGAIN);
    ck_assert_uint_eq(used, 4 + 1048576);
}
END_TEST

START_TEST(test_codec_max_packet_counts_the_fixed_header)
{
    const uint8_t b[] = {0x30, 0x05, 0x00, 0x01, 'a', 'h', 'i'};
    struct pkt p;
    size_t used = 0;

    ck_assert_int_eq(codec_decode(b, sizeof b, sizeof b, true, &p, &used), TERN_OK);
    ck_assert_int_eq(codec_decode(b, sizeof b, sizeof b - 1, true, &p, &used), TERN_ETOOBIG);
    ck_assert_int_eq(codec_decode(b, 2, sizeof b - 1, true, &p, &used), TERN_ETOOBIG);
}
END_TEST

START_TEST(test_codec_varint_sizes_and_bytes)
{
    static const struct {
        uint32_t v;
        size_t n;
        uint8_t b[4];
    } cases[] = {
        {0, 1, {0x00}},
        {127, 1, {0x7f}},
        {128, 2, {0x80, 0x01}},
        {16383, 2, {0xff, 0x7f}},
        {16384, 3, {0x80, 0x80, 0x01}},
        {2097151, 3, {0xff, 0xff, 0x7f}},
        {2097152, 4, {0x80, 0x80, 0x80, 0x01}},
        {268435455, 4, {0xff, 0xff, 0xff, 0x7f}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t out[4];
        ck_assert_uint_eq(codec_varint_size(cases[i].v), cases[i].n);
        ck_assert_uint_eq(codec_put_varint(out, cases[i].v), cases[i].n);
        ck_assert_mem_eq(out, cases[i].b, cases[i].n);
    }
}
END_TEST

START_TEST(test_codec_strerror_names_every_code)
{
    const char *seen[12];
    for (int e = 0; e >= -11; e--) {
        const char *s = tern_strerror(e);
        ck_assert_ptr_nonnull(s);
        ck_assert_str_ne(s, "unknown error");
        for (int k = 0; k < -e; k++)
            ck_assert_str_ne(s, seen[k]);
        seen[-e] = s;
    }
    ck_assert_str_eq(tern_strerror(-12), "unknown error");
    ck_assert_str_eq(tern_strerror(1), "unknown error");
}
END_TEST

/* Malformed and forbidden packets: one loop-test iteration (one assertion) per case. */

struct bad_case {
    const char *name;
    const uint8_t *b;
    size_t n;
    bool is_server;
    int rc;
};

#define S true
#define C false
#define MAL TERN_EMALFORMED
#define PRO TERN_EPROTO
/* CONNECT variable header for "MQTT" level 4 with the given flags and keepalive 60. */
#define VH(fl) 0, 4, 'M', 'Q', 'T', 'T', 4, (fl), 0, 60

static const struct bad_case bad_cases[] = {
    /* Fixed header: type and flags (2.2). */
    {"type 0 reserved", BYTES(0x00, 0x00), S, MAL},
    {"type 15 reserved", BYTES(0xf0, 0x00), S, MAL},
    {"type 15 reserved, client side", BYTES(0xf0, 0x00), C, MAL},
    {"5-byte remaining length", BYTES(0x30, 0xff, 0xff, 0xff, 0xff, 0x01), S, MAL},
    {"CONNECT flags 1", BYTES(0x11, 0x0e, VH(0x02), 0, 2, 'c', '1'), S, MAL},
    {"PUBACK flags 2", BYTES(0x42, 0x02, 0x00, 0x01), S, MAL},
    {"PUBREC flags 1", BYTES(0x51, 0x02, 0x00, 0x01), S, MAL},
    {"PUBREL flags 0", BYTES(0x60, 0x02, 0x00, 0x01), S, MAL},
    {"PUBREL flags 3", BYTES(0x63, 0x02, 0x00, 0x01), S, MAL},
    {"PUBCOMP flags 2", BYTES(0x72, 0x02, 0x00, 0x01), S, MAL},
    {"SUBSCRIBE flags 0", BYTES(0x80, 0x06, 0, 1, 0, 1, 'a', 0), S, MAL},
    {"UNSUBSCRIBE flags 0", BYTES(0xa0, 0x05, 0, 1, 0, 1, 'a'), S, MAL},
    {"PINGREQ flags 1", BYTES(0xc1, 0x00), S, MAL},
    {"DISCONNECT flags 8", BYTES(0xe8, 0x00), S, MAL},
    {"CONNACK flags 1", BYTES(0x21, 0x02, 0, 0), C, MAL},
    {"PUBLISH QoS 3", BYTES(0x36, 0x05, 0, 1, 'a', 0, 1), S, MAL},
    {"PUBLISH DUP with QoS 0", BYTES(0x38, 0x03, 0, 1, 'a'), S, MAL},
    /* Fixed-size packets with the wrong size, zero packet ids. */
    {"PUBACK remaining 3", BYTES(0x40, 0x03, 0, 1, 0), S, MAL},
    {"PUBACK remaining 1", BYTES(0x40, 0x01, 0), S, MAL},
    {"PUBREL remaining 3", BYTES(0x62, 0x03, 0, 1, 0), S, MAL},
    {"PUBCOMP remaining 0", BYTES(0x70, 0x00), S, MAL},
    {"PINGREQ remaining 1", BYTES(0xc0, 0x01, 0), S, MAL},
    {"DISCONNECT remaining 1", BYTES(0xe0, 0x01, 0), S, MAL},
    {"PUBACK packet id 0", BYTES(0x40, 0x02, 0, 0), S, MAL},
    {"PUBREC packet id 0", BYTES(0x50, 0x02, 0, 0), S, MAL},
    {"PUBREL packet id 0", BYTES(0x62, 0x02, 0, 0), S, MAL},
    {"PUBCOMP packet id 0", BYTES(0x70, 0x02, 0, 0), S, MAL},
    /* PUBLISH (3.3). */
    {"PUBLISH empty topic", BYTES(0x30, 0x02, 0, 0), S, MAL},
    {"PUBLISH empty topic with payload", BYTES(0x30, 0x04, 0, 0, 'x', 'y'), S, MAL},
    {"PUBLISH topic with +", BYTES(0x30, 0x05, 0, 3, 'a', '/', '+'), S, MAL},
    {"PUBLISH topic with #", BYTES(0x30, 0x05, 0, 3, 'a', '/', '#'), S, MAL},
    {"PUBLISH topic overlong NUL", BYTES(0x30, 0x04, 0, 2, 0xc0, 0x80), S, MAL},
    {"PUBLISH topic with U+0000", BYTES(0x30, 0x05, 0, 3, 'a', 0, 'b'), S, MAL},
    {"PUBLISH topic with surrogate", BYTES(0x30, 0x05, 0, 3, 0xed, 0xb0, 0x80), S, MAL},
    {"PUBLISH QoS 1 packet id 0", BYTES(0x32, 0x05, 0, 1, 'a', 0, 0), S, MAL},
    {"PUBLISH QoS 2 packet id 0", BYTES(0x34, 0x06, 0, 1, 'a', 0, 0, 'p'), S, MAL},
    {"PUBLISH QoS 1 without packet id", BYTES(0x32, 0x03, 0, 1, 'a'), S, MAL},
    {"PUBLISH topic longer than packet", BYTES(0x30, 0x03, 0, 5, 'a'), S, MAL},
    {"PUBLISH QoS 1 topic eats packet id", BYTES(0x32, 0x05, 0, 3, 'a', 'b', 'c'), S, MAL},
    /* CONNECT (3.1). */
    {"CONNECT remaining too short", BYTES(0x10, 0x0b, VH(0x02), 0), S, MAL},
    {"CONNECT reserved flag set", BYTES(0x10, 0x0e, VH(0x03), 0, 2, 'c', '1'), S, MAL},
    {"CONNECT will QoS 3",
     BYTES(0x10, 0x14, VH(0x1e), 0, 2, 'c', '1', 0, 1, 'w', 0, 1, 'x'), S, MAL},
    {"CONNECT will QoS 2 is fine but reserved bit is not",
     BYTES(0x10, 0x14, VH(0x17), 0, 2, 'c', '1', 0, 1, 'w', 0, 1, 'x'), S, MAL},
    {"CONNECT will QoS 1 without will", BYTES(0x10, 0x0e, VH(0x0a), 0, 2, 'c', '1'), S, MAL},
    {"CONNECT will retain without will", BYTES(0x10, 0x0e, VH(0x22), 0, 2, 'c', '1'), S, MAL},
    {"CONNECT password without username",
     BYTES(0x10, 0x11, VH(0x42), 0, 2, 'c', '1', 0, 1, 'p'), S, MAL},
    {"CONNECT client id bad UTF-8", BYTES(0x10, 0x0e, VH(0x02), 0, 2, 0xc0, 0x80), S, MAL},
    {"CONNECT client id with U+0000", BYTES(0x10, 0x0e, VH(0x02), 0, 2, 'c', 0), S, MAL},
    {"CONNECT client id overruns packet", BYTES(0x10, 0x0e, VH(0x02), 0, 9, 'c', '1'), S, MAL},
    {"CONNECT will topic with #",
     BYTES(0x10, 0x16, VH(0x06), 0, 2, 'c', '1', 0, 3, 'a', '/', '#', 0, 1, 'x'), S, MAL},
    {"CONNECT will topic with +",
     BYTES(0x10, 0x14, VH(0x06), 0, 2, 'c', '1', 0, 1, '+', 0, 1, 'x'), S, MAL},
    {"CONNECT will topic empty",
     BYTES(0x10, 0x13, VH(0x06), 0, 2, 'c', '1', 0, 0, 0, 1, 'x'), S, MAL},
    {"CONNECT will payload missing", BYTES(0x10, 0x11, VH(0x06), 0, 2, 'c', '1', 0, 1, 'w'), S,
     MAL},
    {"CONNECT username with surrogate",
     BYTES(0x10, 0x13, VH(0x82), 0, 2, 'c', '1', 0, 3, 0xed, 0xa0, 0x80), S, MAL},
    {"CONNECT username flag without username", BYTES(0x10, 0x0e, VH(0x82), 0, 2, 'c', '1'), S,
     MAL},
    {"CONNECT password flag without password",
     BYTES(0x10, 0x11, VH(0xc2), 0, 2, 'c', '1', 0, 1, 'u'), S, MAL},
    {"CONNECT trailing byte", BYTES(0x10, 0x0f, VH(0x02), 0, 2, 'c', '1', 0), S, MAL},
    {"CONNECT protocol name overruns packet",
     BYTES(0x10, 0x0e, 0, 32, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 2, 'c', '1'), S, MAL},
    {"CONNECT protocol name MQTX",
     BYTES(0x10, 0x0e, 0, 4, 'M', 'Q', 'T', 'X', 4, 2, 0, 60, 0, 2, 'c', '1'), S, PRO},
    {"CONNECT protocol name lowercase mqtt",
     BYTES(0x10, 0x0e, 0, 4, 'm', 'q', 't', 't', 4, 2, 0, 60, 0, 2, 'c', '1'), S, PRO},
    /* SUBSCRIBE (3.8). */
    {"SUBSCRIBE packet id 0", BYTES(0x82, 0x06, 0, 0, 0, 1, 'a', 0), S, MAL},
    {"SUBSCRIBE without filters", BYTES(0x82, 0x02, 0, 1), S, MAL},
    {"SUBSCRIBE empty filter", BYTES(0x82, 0x09, 0, 1, 0, 1, 'a', 0, 0, 0, 0), S, MAL},
    {"SUBSCRIBE filter a+", BYTES(0x82, 0x07, 0, 1, 0, 2, 'a', '+', 0), S, MAL},
    {"SUBSCRIBE filter #/a", BYTES(0x82, 0x08, 0, 1, 0, 3, '#', '/', 'a', 0), S, MAL},
    {"SUBSCRIBE filter a#", BYTES(0x82, 0x07, 0, 1, 0, 2, 'a', '#', 0), S, MAL},
    {"SUBSCRIBE filter bad UTF-8", BYTES(0x82, 0x07, 0, 1, 0, 2, 0xc3, 0x41, 0), S, MAL},
    {"SUBSCRIBE requested QoS 3", BYTES(0x82, 0x06, 0, 1, 0, 1, 'a', 3), S, MAL},
    {"SUBSCRIBE reserved QoS bits", BYTES(0x82, 0x06, 0, 1, 0, 1, 'a', 0x41), S, MAL},
    {"SUBSCRIBE last QoS byte missing", BYTES(0x82, 0x0a, 0, 1, 0, 1, 'a', 1, 0, 2, 'b', 'c'),
     S, MAL},
    {"SUBSCRIBE filter overruns packet", BYTES(0x82, 0x06, 0, 1, 0, 9, 'a', 0), S, MAL},
    /* UNSUBSCRIBE (3.10). */
    {"UNSUBSCRIBE packet id 0", BYTES(0xa2, 0x05, 0, 0, 0, 1, 'a'), S, MAL},
    {"UNSUBSCRIBE without filters", BYTES(0xa2, 0x02, 0, 1), S, MAL},
    {"UNSUBSCRIBE filter +a", BYTES(0xa2, 0x06, 0, 1, 0, 2, '+', 'a'), S, MAL},
    {"UNSUBSCRIBE trailing byte", BYTES(0xa2, 0x06, 0, 1, 0, 1, 'a', 0), S, MAL},
    /* Packets the peer may not send. */
    {"server receives CONNACK", BYTES(0x20, 0x02, 0, 0), S, PRO},
    {"server receives SUBACK", BYTES(0x90, 0x03, 0, 1, 0), S, PRO},
    {"server receives UNSUBACK", BYTES(0xb0, 0x02, 0, 1), S, PRO},
    {"server receives PINGRESP", BYTES(0xd0, 0x00), S, PRO},
    {"client receives CONNECT", BYTES(0x10, 0x0e, VH(0x02), 0, 2, 'c', '1'), C, PRO},
    {"client receives SUBSCRIBE", BYTES(0x82, 0x06, 0, 1, 0, 1, 'a', 0), C, PRO},
    {"client receives UNSUBSCRIBE", BYTES(0xa2, 0x05, 0, 1, 0, 1, 'a'), C, PRO},
    {"client receives PINGREQ", BYTES(0xc0, 0x00), C, PRO},
    /* Client-side decode of server packets. */
    {"CONNACK reserved ack flags", BYTES(0x20, 0x02, 0x02, 0), C, MAL},
    {"CONNACK remaining 3", BYTES(0x20, 0x03, 0, 0, 0), C, MAL},
    {"SUBACK return code 3", BYTES(0x90, 0x03, 0, 1, 3), C, MAL},
    {"SUBACK packet id 0", BYTES(0x90, 0x03, 0, 0, 0), C, MAL},
    {"SUBACK without codes", BYTES(0x90, 0x02, 0, 1), C, MAL},
    {"UNSUBACK packet id 0", BYTES(0xb0, 0x02, 0, 0), C, MAL},
    {"PINGRESP remaining 1", BYTES(0xd0, 0x01, 0), C, MAL},
};

#define N_BAD ((int)(sizeof bad_cases / sizeof bad_cases[0]))

START_TEST(test_codec_rejects_malformed_packet)
{
    const struct bad_case *c = &bad_cases[_i];
    uint8_t *b = dup_bytes(c->b, c->n);
    struct pkt p;
    size_t used = 0;

    int rc = codec_decode(b, c->n, 0, c->is_server, &p, &used);
    ck_assert_msg(rc == c->rc, "%s: got %d, want %d", c->name, rc, c->rc);
    free(b);
}
END_TEST

/* UTF-8, topic name and filter tables. */

struct str_case {
    const char *s;
    size_t n;
    bool valid;
};

#define SC(lit, v) {lit, sizeof(lit) - 1, v}

static const struct str_case utf8_cases[] = {
    SC("", true),
    SC("abc", true),
    SC("abcdefghijklmnopqrstuvwxyz0123456789", true),
    SC("\xc3\xa9", true),                  /* U+00E9, 2 bytes */
    SC("\xe2\x82\xac", true),              /* U+20AC, 3 bytes */
    SC("\xf0\x9f\x98\x80", true),          /* U+1F600, 4 bytes */
    SC("\xc2\x80", true),                  /* U+0080, smallest 2-byte */
    SC("\xe0\xa0\x80", true),              /* U+0800, smallest 3-byte */
    SC("\xf0\x90\x80\x80", true),          /* U+10000, smallest 4-byte */
    SC("\xed\x9f\xbf", true),              /* U+D7FF, just below surrogates */
    SC("\xee\x80\x80", true),              /* U+E000, just above surrogates */
    SC("\xef\xbf\xbf", true),              /* U+FFFF */
    SC("\xf4\x8f\xbf\xbf", true),          /* U+10FFFF, the largest */
    SC("abcdefgh\xc3\xa9ijklmnop", true),  /* non-ASCII after a fast-path word */
    SC("\x01\x7f", true),                  /* controls are allowed (only SHOULD NOT) */
    SC("\x00", false),                     /* U+0000 */
    SC("abcd\x00" "efghijkl", false),      /* U+0000 inside a fast-path word */
    SC("abcdefghijklmno\x00", false),      /* U+0000 as the last byte */
    SC("\xc0\x80", false),                 /* overlong U+0000 */
    SC("\xc1\xbf", false),                 /* overlong U+007F */
    SC("\xe0\x80\x80", false),             /* overlong 3-byte */
    SC("\xe0\x9f\xbf", false),             /* overlong U+07FF */
    SC("\xf0\x80\x80\x80", false),         /* overlong 4-byte */
    SC("\xf0\x8f\xbf\xbf", false),         /* overlong U+FFFF */
    SC("\xed\xa0\x80", false),             /* U+D800, first surrogate */
    SC("\xed\xbf\xbf", false),             /* U+DFFF, last surrogate */
    SC("\xed\xa0\xbd\xed\xb8\x80", false), /* CESU-8 surrogate pair */
    SC("\xf4\x90\x80\x80", false),         /* U+110000 */
    SC("\xf5\x80\x80\x80", false),         /* lead byte beyond U+10FFFF */
    SC("\xf8\x88\x80\x80\x80", false),     /* 5-byte form */
    SC("\xff", false),
    SC("\xfe", false),
    SC("\xc3", false),                     /* truncated 2-byte */
    SC("\xe2\x82", false),                 /* truncated 3-byte */
    SC("\xf0\x9f\x98", false),             /* truncated 4-byte */
    SC("abcdefgh\xe2\x82", false),         /* truncated after a fast-path word */
    SC("\x80", false),                     /* lone continuation byte */
    SC("a\xbf", false),
    SC("\xc3\x41", false),                 /* bad continuation */
    SC("\xe2\x28\xa1", false),
    SC("\xf0\x9f\x98\x41", false),
};

static const struct str_case name_cases[] = {
    SC("a", true),
    SC("/", true),
    SC("a/b", true),
    SC("a//b", true),
    SC(" ", true),
    SC("$SYS/broker/uptime", true),
    SC("sport/tennis/player1/ranking", true),
    SC("caf\xc3\xa9/\xf0\x9f\x98\x80", true),
    SC("", false),
    SC("+", false),
    SC("#", false),
    SC("a/+", false),
    SC("a/#", false),
    SC("sport+", false),
    SC("a long topic name + more", false),
    SC("a long topic name that ends in #", false),
    SC("abcdefgh\x00", false),
    SC("\xc0\xaf", false),
};

static const struct str_case filter_cases[] = {
    SC("a", true),
    SC("/", true),
    SC("#", true),
    SC("+", true),
    SC("+/+", true),
    SC("/+", true),
    SC("+/", true),
    SC("+/#", true),
    SC("a/#", true),
    SC("a/+/b", true),
    SC("sport/tennis/#", true),
    SC("$SYS/#", true),
    SC("\xc3\xa9/+/#", true),
    SC("", false),
    SC("a#", false),
    SC("#/", false),
    SC("a/#/b", false),
    SC("##", false),
    SC("++", false),
    SC("a+", false),
    SC("+a", false),
    SC("a/b+/c", false),
    SC("sport/tennis#", false),
    SC("a/\x00", false),
    SC("\xed\xa0\x80/#", false),
};

START_TEST(test_codec_utf8_table)
{
    const struct str_case *c = &utf8_cases[_i];
    uint8_t *b = dup_bytes((const uint8_t *)c->s, c->n);
    ck_assert_msg(codec_utf8_valid(b, c->n) == c->valid, "utf8 case %d", _i);
    free(b);
}
END_TEST

START_TEST(test_codec_topic_name_table)
{
    const struct str_case *c = &name_cases[_i];
    uint8_t *b = dup_bytes((const uint8_t *)c->s, c->n);
    ck_assert_msg(codec_topic_name_valid(b, c->n) == c->valid, "name case %d: %s", _i, c->s);
    free(b);
}
END_TEST

START_TEST(test_codec_topic_filter_table)
{
    const struct str_case *c = &filter_cases[_i];
    uint8_t *b = dup_bytes((const uint8_t *)c->s, c->n);
    ck_assert_msg(codec_topic_filter_valid(b, c->n) == c->valid, "filter case %d: %s", _i,
                  c->s);
    free(b);
}
END_TEST

START_TEST(test_codec_topic_longer_than_65535_is_invalid)
{
    size_t n = MQTT_MAX_STRING + 1;
    uint8_t *b = malloc(n);

    ck_assert_ptr_nonnull(b);
    memset(b, 'a', n);
    ck_assert(!codec_topic_name_valid(b, n));
    ck_assert(!codec_topic_filter_valid(b, n));
    ck_assert(codec_topic_name_valid(b, n - 1));
    ck_assert(codec_topic_filter_valid(b, n - 1));
    free(b);
}
END_TEST

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

START_TEST(test_codec_publish_header2_equals_joined_topic)
{
    uint8_t a[64];
    uint8_t b[64];
    size_t na = codec_encode_publish_header(a, (const uint8_t *)"site1/sensors/t", 15, 1, true,
                                            true, 77, 5);
    size_t nb = codec_encode_publish_header2(b, (const uint8_t *)"site1/", 6,
                                             (const uint8_t *)"sensors/t", 9, 1, true, true, 77,
                                             5);
    ck_assert_uint_eq(na, codec_publish_header_size(15, 1, 5));
    ck_assert_uint_eq(nb, na);
    ck_assert_mem_eq(a, b, na);
    /* Empty head or tail. */
    nb = codec_encode_publish_header2(b, NULL, 0, (const uint8_t *)"site1/sensors/t", 15, 1,
                                      true, true, 77, 5);
    ck_assert_mem_eq(a, b, na);
}
END_TEST

Suite *codec_suite(void)
{
    Suite *s = suite_create("codec");
    TCase *rt = tcase_create("round_trip");
    tcase_add_test(rt, test_codec_publish_header2_equals_joined_topic);
    TCase *hdr = tcase_create("framing");
    TCase *bad = tcase_create("malformed");
    TCase *str = tcase_create("strings");

    tcase_add_test(rt, test_codec_connect_311_round_trips);
    tcase_add_test(rt, test_codec_connect_31_with_will_user_pass_round_trips);
    tcase_add_test(rt, test_codec_connect_accepts_empty_client_id_and_unknown_level);
    tcase_add_test(rt, test_codec_connack_round_trips_on_client_side);
    tcase_add_test(rt, test_codec_publish_qos0_round_trips);
    tcase_add_test(rt, test_codec_publish_qos1_round_trips);
    tcase_add_test(rt, test_codec_publish_qos2_round_trips);
    tcase_add_test(rt, test_codec_publish_with_multi_byte_remaining_length_round_trips);
    tcase_add_test(rt, test_codec_acks_round_trip_with_correct_flags);
    tcase_add_test(rt, test_codec_unsuback_round_trips_on_client_side);
    tcase_add_test(rt, test_codec_subscribe_multi_round_trips_and_iterates);
    tcase_add_test(rt, test_codec_unsubscribe_round_trips_and_iterates);
    tcase_add_test(rt, test_codec_suback_round_trips_on_client_side);
    tcase_add_test(rt, test_codec_ping_and_disconnect_round_trip);
    suite_add_tcase(s, rt);

    tcase_add_test(hdr, test_codec_decodes_several_packets_in_one_buffer);
    tcase_add_test(hdr, test_codec_rejects_5_byte_remaining_length);
    tcase_add_test(hdr, test_codec_fixed_header_reads_4_byte_maximum);
    tcase_add_test(hdr, test_codec_partial_header_returns_eagain_with_used_zero);
    tcase_add_test(hdr, test_codec_max_packet_rejects_from_header_alone);
    tcase_add_test(hdr, test_codec_max_packet_counts_the_fixed_header);
    tcase_add_test(hdr, test_codec_varint_sizes_and_bytes);
    tcase_add_test(hdr, test_codec_strerror_names_every_code);
    suite_add_tcase(s, hdr);

    tcase_add_loop_test(bad, test_codec_rejects_malformed_packet, 0, N_BAD);
    suite_add_tcase(s, bad);

    tcase_add_loop_test(str, test_codec_utf8_table, 0, N_OF(utf8_cases));
    tcase_add_loop_test(str, test_codec_topic_name_table, 0, N_OF(name_cases));
    tcase_add_loop_test(str, test_codec_topic_filter_table, 0, N_OF(filter_cases));
    tcase_add_test(str, test_codec_topic_longer_than_65535_is_invalid);
    suite_add_tcase(s, str);
    return s;
}
