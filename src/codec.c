/*
 * The MQTT 3.1 / 3.1.1 codec: see include/tern/codec.h. Pure code: no I/O, no allocation, no
 * logging, no clock, no state outside the caller's buffers.
 *
 * Decoding checks the first byte as soon as it arrives and the fixed header as soon as it is
 * complete, so garbage, a forbidden packet type or an oversized packet is refused before its
 * body is waited for. Only then are the body bytes walked, once, front to back, with a reader
 * that never looks past the packet's end. Rules enforced (OASIS MQTT 3.1.1):
 *   2.2.1      packet types 0 and 15 are reserved;
 *   2.2.2      fixed-header flags: 0x2 for PUBREL, SUBSCRIBE, UNSUBSCRIBE, 0x0 for the others
 *              except PUBLISH;
 *   2.2.3      remaining length uses at most 4 bytes;
 *   2.3.1      packet ids are non-zero where present;
 *   1.5.3      UTF-8 strings are well formed, with no U+0000 and no surrogates;
 *   3.1.2.1-9  CONNECT: protocol name "MQTT" or "MQIsdp", reserved flag 0, will QoS < 3, will
 *              QoS and retain 0 without a will, password only with a user name;
 *   3.1.3      CONNECT payload fields appear exactly as the flags say, with nothing after them;
 *   3.3.1      PUBLISH QoS < 3, DUP 0 for QoS 0; 3.3.2.1 topic name without wildcards;
 *   3.8.3      SUBSCRIBE has at least one filter, requested QoS <= 2 with the reserved bits 0;
 *   3.10.3     UNSUBSCRIBE has at least one filter;
 *   4.7        filters: '+' and '#' fill a whole level, '#' only last; names and filters are
 *              at least one character long;
 *   3.2, 3.9   CONNACK reserved bits 0, SUBACK codes 0, 1, 2 or 0x80 (client-side decode).
 * Fixed-size packets (acks, PINGREQ, PINGRESP, DISCONNECT, CONNACK) must have exactly their
 * size; every other packet must be consumed exactly by its fields.
 *
 * Encoders write the minimal remaining-length encoding and never fail; the caller sizes the
 * output with the matching *_size helper.
 */
#include "tern/codec.h"

#include <string.h>

/* A bounded reader over one packet's variable header and payload. */
struct rd {
    const uint8_t *p;
    const uint8_t *end;
};

/* Who may receive a packet type: a server (from a client) or a client (from a server). */
#define TO_SERVER 0x1
#define TO_CLIENT 0x2
#define ANY_FLAGS 0xff

/*
 * Per packet type: required fixed-header flags (ANY_FLAGS for PUBLISH, checked apart), the
 * smallest remaining length a valid packet can have, whether that size is exact, and who may
 * receive it. Types 0 and 15 have dir 0 and are refused as malformed before dir is consulted.
 */
struct type_rule {
    uint8_t flags;
    uint8_t min_rem;
    bool exact;
    uint8_t dir;
};

static const struct type_rule type_rules[16] = {
    [MQTT_CONNECT] = {0x0, 12, false, TO_SERVER},     /* "MQTT", level, flags, keepalive, id */
    [MQTT_CONNACK] = {0x0, 2, true, TO_CLIENT},
    [MQTT_PUBLISH] = {ANY_FLAGS, 3, false, TO_SERVER | TO_CLIENT},
    [MQTT_PUBACK] = {0x0, 2, true, TO_SERVER | TO_CLIENT},
    [MQTT_PUBREC] = {0x0, 2, true, TO_SERVER | TO_CLIENT},
    [MQTT_PUBREL] = {0x2, 2, true, TO_SERVER | TO_CLIENT},
    [MQTT_PUBCOMP] = {0x0, 2, true, TO_SERVER | TO_CLIENT},
    [MQTT_SUBSCRIBE] = {0x2, 6, false, TO_SERVER},    /* id, length, 1-byte filter, QoS */
    [MQTT_SUBACK] = {0x0, 3, false, TO_CLIENT},
    [MQTT_UNSUBSCRIBE] = {0x2, 5, false, TO_SERVER},  /* id, length, 1-byte filter */
    [MQTT_UNSUBACK] = {0x0, 2, true, TO_CLIENT},
    [MQTT_PINGREQ] = {0x0, 0, true, TO_SERVER},
    [MQTT_PINGRESP] = {0x0, 0, true, TO_CLIENT},
    [MQTT_DISCONNECT] = {0x0, 0, true, TO_SERVER | TO_CLIENT},
};

/* Word-at-a-time helpers for the ASCII fast paths (eight bytes per step). */
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)
/* Non-zero iff some byte of w is 0x00 (exact: false positives only beside a real zero). */
#define HAS_ZERO(w) (((w) - ONES) & ~(w) & HIGHS)
#define HAS_BYTE(w, c) HAS_ZERO((w) ^ (ONES * (uint8_t)(c)))

static inline uint64_t load64(const uint8_t *s)
{
    uint64_t w;
    memcpy(&w, s, sizeof w);
    return w;
}

/*
 * Validates one multi-byte UTF-8 sequence starting at s (s[0] >= 0x80) per Unicode table 3-7,
 * which excludes overlong forms, surrogates (U+D800..U+DFFF) and code points over U+10FFFF.
 * Returns its length (2..4), or 0 when it is invalid or truncated by end.
 */
static inline size_t utf8_seq(const uint8_t *s, const uint8_t *end)
{
    uint8_t c = s[0];
    size_t avail = (size_t)(end - s);
    uint8_t lo = 0x80;
    uint8_t hi = 0xbf;

    if (c < 0xc2 || c > 0xf4)
        return 0;
    if (c < 0xe0)
        return (avail >= 2 && (s[1] & 0xc0) == 0x80) ? 2 : 0;
    if (c < 0xf0) {
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
        if (avail < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
            return 0;
        return 3;
    }
    if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (avail < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
        return 0;
    return 4;
}

bool codec_utf8_valid(const uint8_t *s, size_t len)
{
    const uint8_t *end = s + len;

    while (s < end) {
        while (end - s >= 8) {
            uint64_t w = load64(s);
            if (((w & HIGHS) | HAS_ZERO(w)) != 0)
                break;
            s += 8;
        }
        if (s == end)
            break;
        if (*s < 0x80) {
            if (*s == 0)
                return false;
            s++;
            continue;
        }
        size_t n = utf8_seq(s, end);
        if (n == 0)
            return false;
        s += n;
    }
    return true;
}

bool codec_topic_name_valid(const uint8_t *s, size_t len)
{
    const uint8_t *end = s + len;

    if (len == 0 || len > MQTT_MAX_STRING)
        return false;
    while (s < end) {
        while (end - s >= 8) {
            uint64_t w = load64(s);
            if (((w & HIGHS) | HAS_ZERO(w) | HAS_BYTE(w, '+') | HAS_BYTE(w, '#')) != 0)
                break;
            s += 8;
        }
        if (s == end)
            break;
        if (*s < 0x80) {
            if (*s == 0 || *s == '+' || *s == '#')
                return false;
            s++;
            continue;
        }
        size_t n = utf8_seq(s, end);
        if (n == 0)
            return false;
        s += n;
    }
    return true;
}

bool codec_topic_filter_valid(const uint8_t *s, size_t len)
{
    if (len == 0 || len > MQTT_MAX_STRING || !codec_utf8_valid(s, len))
        return false;
    /* Wildcards are ASCII, so a byte walk cannot mistake part of a multi-byte sequence. */
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '+' && s[i] != '#')
            continue;
        if (i > 0 && s[i - 1] != '/')
            return false;
        if (s[i] == '#')
            return i + 1 == len;
        if (i + 1 < len && s[i + 1] != '/')
            return false;
    }
    return true;
}

int codec_fixed_header(const uint8_t *buf, size_t len, uint8_t *type_flags, uint32_t *remaining,
                       size_t *hdr_len)
{
    uint32_t value = 0;

    for (size_t i = 1; i < MQTT_MAX_FIXED_HEADER; i++) {
        if (i >= len)
            return TERN_EAGAIN;
        value |= (uint32_t)(buf[i] & 0x7f) << (7 * (i - 1));
        if ((buf[i] & 0x80) == 0) {
            *type_flags = buf[0];
            *remaining = value;
            *hdr_len = i + 1;
            return TERN_OK;
        }
    }
    return TERN_EMALFORMED;
}

/* Checks the first byte alone: packet type, direction and fixed-header flags (2.2). */
static int check_first_byte(uint8_t b, bool is_server)
{
    uint8_t type = b >> 4;
    uint8_t flags = b & 0x0f;
    const struct type_rule *r = &type_rules[type];

    if (type == 0 || type == 15)
        return TERN_EMALFORMED;
    if ((r->dir & (is_server ? TO_SERVER : TO_CLIENT)) == 0)
        return TERN_EPROTO;
    if (r->flags == ANY_FLAGS) {
        uint8_t qos = (flags >> 1) & 3;
        if (qos == 3 || (qos == 0 && (flags & 0x08)))
            return TERN_EMALFORMED;
        return TERN_OK;
    }
    return flags == r->flags ? TERN_OK : TERN_EMALFORMED;
}

/* Checks the remaining length against what the type allows, before the body arrives. */
static int check_remaining(uint8_t b, uint32_t remaining)
{
    const struct type_rule *r = &type_rules[b >> 4];
    uint32_t min = r->min_rem;

    if ((b >> 4) == MQTT_PUBLISH && (b & 0x06) != 0)
        min += 2;
    if (r->exact ? remaining != min : remaining < min)
        return TERN_EMALFORMED;
    return TERN_OK;
}

static inline bool rd_u16(struct rd *r, uint16_t *v)
{
    if (r->end - r->p < 2)
        return false;
    *v = (uint16_t)((r->p[0] << 8) | r->p[1]);
    r->p += 2;
    return true;
}

/* Reads a 2-byte length and that many bytes as a view (1.5.3 framing; no content check). */
static inline bool rd_bin(struct rd *r, struct mqtt_str *s)
{
    uint16_t n;

    if (!rd_u16(r, &n) || (size_t)(r->end - r->p) < n)
        return false;
    s->p = r->p;
    s->len = n;
    r->p += n;
    return true;
}

static inline bool rd_utf8(struct rd *r, struct mqtt_str *s)
{
    return rd_bin(r, s) && codec_utf8_valid(s->p, s->len);
}

static inline bool rd_packet_id(struct rd *r, uint16_t *id)
{
    return rd_u16(r, id) && *id != 0;
}

static bool proto_name_known(const struct mqtt_str *n)
{
    return (n->len == 4 && memcmp(n->p, "MQTT", 4) == 0) ||
           (n->len == 6 && memcmp(n->p, "MQIsdp", 6) == 0);
}

/* Connect flags (3.1.2.3 - 3.1.2.9). */
static int connect_flags(struct pkt_connect *c, uint8_t fl)
{
    c->clean_session = (fl & 0x02) != 0;
    c->will = (fl & 0x04) != 0;
    c->will_qos = (fl >> 3) & 3;
    c->will_retain = (fl & 0x20) != 0;
    c->has_password = (fl & 0x40) != 0;
    c->has_username = (fl & 0x80) != 0;
    if ((fl & 0x01) != 0 || c->will_qos == 3)
        return TERN_EMALFORMED;
    if (!c->will && (c->will_qos != 0 || c->will_retain))
        return TERN_EMALFORMED;
    if (c->has_password && !c->has_username)
        return TERN_EMALFORMED;
    return TERN_OK;
}

static int decode_connect(struct rd *r, struct pkt_connect *c)
{
    memset(c, 0, sizeof *c);
    if (!rd_bin(r, &c->proto_name))
        return TERN_EMALFORMED;
    if (!proto_name_known(&c->proto_name))
        return TERN_EPROTO;
    if (r->end - r->p < 4)
        return TERN_EMALFORMED;
    c->proto_level = r->p[0];
    uint8_t fl = r->p[1];
    c->keepalive = (uint16_t)((r->p[2] << 8) | r->p[3]);
    r->p += 4;
    int rc = connect_flags(c, fl);
    if (rc != TERN_OK)
        return rc;
    if (!rd_utf8(r, &c->client_id))
        return TERN_EMALFORMED;
    if (c->will) {
        if (!rd_bin(r, &c->will_topic) ||
            !codec_topic_name_valid(c->will_topic.p, c->will_topic.len))
            return TERN_EMALFORMED;
        if (!rd_bin(r, &c->will_payload))
            return TERN_EMALFORMED;
    }
    if (c->has_username && !rd_utf8(r, &c->username))
        return TERN_EMALFORMED;
    if (c->has_password && !rd_bin(r, &c->password))
        return TERN_EMALFORMED;
    return r->p == r->end ? TERN_OK : TERN_EMALFORMED;
}

static int decode_publish(struct rd *r, uint8_t flags, struct pkt_publish *p)
{
    p->qos = (flags >> 1) & 3;
    p->dup = (flags & 0x08) != 0;
    p->retain = (flags & 0x01) != 0;
    p->packet_id = 0;
    if (!rd_bin(r, &p->topic) || !codec_topic_name_valid(p->topic.p, p->topic.len))
        return TERN_EMALFORMED;
    if (p->qos > 0 && !rd_packet_id(r, &p->packet_id))
        return TERN_EMALFORMED;
    p->payload.p = r->p;
    p->payload.len = (uint32_t)(r->end - r->p);
    return TERN_OK;
}

/* SUBSCRIBE (with_qos) and UNSUBSCRIBE: validates every entry, counts them (3.8.3, 3.10.3). */
static int decode_topics(struct rd *r, struct pkt_topics *t, bool with_qos)
{
    if (!rd_packet_id(r, &t->packet_id))
        return TERN_EMALFORMED;
    t->list = r->p;
    t->list_len = (uint32_t)(r->end - r->p);
    t->count = 0;
    while (r->p < r->end) {
        struct mqtt_str f;
        if (!rd_bin(r, &f) || !codec_topic_filter_valid(f.p, f.len))
            return TERN_EMALFORMED;
        if (with_qos) {
            if (r->p == r->end || *r->p > 2)
                return TERN_EMALFORMED;
            r->p++;
        }
        t->count++;
    }
    return t->count > 0 ? TERN_OK : TERN_EMALFORMED;
}

static int decode_suback(struct rd *r, struct pkt_suback *s)
{
    if (!rd_packet_id(r, &s->packet_id))
        return TERN_EMALFORMED;
    s->codes = r->p;
    s->count = (uint32_t)(r->end - r->p);
    for (const uint8_t *c = r->p; c < r->end; c++) {
        if (*c > 2 && *c != MQTT_SUBACK_FAILURE)
            return TERN_EMALFORMED;
    }
    return s->count > 0 ? TERN_OK : TERN_EMALFORMED;
}

/* Decodes the body of a complete packet whose first byte and size already passed the checks. */
static int decode_body(struct rd *r, struct pkt *out)
{
    switch (out->type) {
    case MQTT_PUBLISH:
        return decode_publish(r, out->flags, &out->u.publish);
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
    case MQTT_UNSUBACK:
        return rd_packet_id(r, &out->u.ack.packet_id) ? TERN_OK : TERN_EMALFORMED;
    case MQTT_CONNECT:
        return decode_connect(r, &out->u.connect);
    case MQTT_SUBSCRIBE:
        return decode_topics(r, &out->u.topics, true);
    case MQTT_UNSUBSCRIBE:
        return decode_topics(r, &out->u.topics, false);
    case MQTT_CONNACK:
        if ((r->p[0] & 0xfe) != 0)
            return TERN_EMALFORMED;
        out->u.connack.session_present = r->p[0] & 0x01;
        out->u.connack.rc = r->p[1];
        return TERN_OK;
    case MQTT_SUBACK:
        return decode_suback(r, &out->u.suback);
    default:
        return TERN_OK; /* PINGREQ, PINGRESP, DISCONNECT: empty, size already checked. */
    }
}

/*
 * See codec.h. Besides TERN_EAGAIN, *used also holds the announced total size on
 * TERN_ETOOBIG (for the log line); on other errors it is 0. On error *out is unspecified.
 */
int codec_decode(const uint8_t *buf, size_t len, uint32_t max_packet, bool is_server,
                 struct pkt *out, size_t *used)
{
    uint8_t b;
    uint32_t remaining;
    size_t hdr_len;

    *used = 0;
    if (len == 0)
        return TERN_EAGAIN;
    int rc = check_first_byte(buf[0], is_server);
    if (rc != TERN_OK)
        return rc;
    rc = codec_fixed_header(buf, len, &b, &remaining, &hdr_len);
    if (rc != TERN_OK)
        return rc;
    rc = check_remaining(b, remaining);
    if (rc != TERN_OK)
        return rc;
    size_t total = hdr_len + remaining;
    if (max_packet != 0 && total > max_packet) {
        *used = total;
        return TERN_ETOOBIG;
    }
    if (len < total) {
        *used = total;
        return TERN_EAGAIN;
    }
    out->type = b >> 4;
    out->flags = b & 0x0f;
    out->remaining = remaining;
    struct rd r = {buf + hdr_len, buf + total};
    rc = decode_body(&r, out);
    if (rc != TERN_OK)
        return rc;
    *used = total;
    return TERN_OK;
}

void codec_topic_iter_init(struct topic_iter *it, const struct pkt_topics *t, bool with_qos)
{
    it->p = t->list;
    it->end = t->list + t->list_len;
    it->with_qos = with_qos;
}

bool codec_topic_next(struct topic_iter *it, struct mqtt_str *filter, uint8_t *qos)
{
    struct rd r = {it->p, it->end};

    if (!rd_bin(&r, filter))
        return false;
    uint8_t q = 0;
    if (it->with_qos) {
        if (r.p == r.end)
            return false;
        q = *r.p++;
    }
    if (qos != NULL)
        *qos = q;
    it->p = r.p;
    return true;
}

/* Encoders. */

size_t codec_varint_size(uint32_t value)
{
    if (value < 128u)
        return 1;
    if (value < 16384u)
        return 2;
    if (value < 2097152u)
        return 3;
    return 4;
}

size_t codec_put_varint(uint8_t *out, uint32_t value)
{
    size_t n = 0;

    do {
        uint8_t byte = value & 0x7f;
        value >>= 7;
        if (value != 0)
            byte |= 0x80;
        out[n++] = byte;
    } while (value != 0 && n < 4);
    return n;
}

static inline size_t put_u16(uint8_t *out, uint16_t v)
{
    out[0] = (uint8_t)(v >> 8);
    out[1] = (uint8_t)v;
    return 2;
}

static inline size_t put_str(uint8_t *out, const uint8_t *s, size_t len)
{
    put_u16(out, (uint16_t)len);
    if (len > 0)
        memcpy(out + 2, s, len);
    return 2 + len;
}

static size_t put_fixed_header(uint8_t *out, uint8_t first, size_t remaining)
{
    out[0] = first;
    return 1 + codec_put_varint(out + 1, (uint32_t)remaining);
}

size_t codec_encode_connack(uint8_t *out, bool session_present, uint8_t rc)
{
    out[0] = MQTT_CONNACK << 4;
    out[1] = 2;
    out[2] = session_present ? 1 : 0;
    out[3] = rc;
    return 4;
}

size_t codec_encode_ack(uint8_t *out, uint8_t type, uint16_t packet_id)
{
    out[0] = (uint8_t)((type << 4) | (type == MQTT_PUBREL ? 0x2 : 0x0));
    out[1] = 2;
    put_u16(out + 2, packet_id);
    return 4;
}

size_t codec_encode_suback(uint8_t *out, uint16_t packet_id, const uint8_t *codes, size_t n)
{
    size_t off = put_fixed_header(out, MQTT_SUBACK << 4, 2 + n);

    off += put_u16(out + off, packet_id);
    if (n > 0)
        memcpy(out + off, codes, n);
    return off + n;
}

size_t codec_encode_pingresp(uint8_t *out)
{
    return codec_encode_simple(out, MQTT_PINGRESP);
}

size_t codec_encode_simple(uint8_t *out, uint8_t type)
{
    out[0] = (uint8_t)(type << 4);
    out[1] = 0;
    return 2;
}

size_t codec_publish_header_size(size_t topic_len, uint8_t qos, size_t payload_len)
{
    size_t vh = 2 + topic_len + (qos > 0 ? 2 : 0);

    return 1 + codec_varint_size((uint32_t)(vh + payload_len)) + vh;
}

size_t codec_encode_publish_header(uint8_t *out, const uint8_t *topic, size_t topic_len,
                                   uint8_t qos, bool retain, bool dup, uint16_t packet_id,
                                   size_t payload_len)
{
    return codec_encode_publish_header2(out, topic, topic_len, NULL, 0, qos, retain, dup,
                                        packet_id, payload_len);
}

size_t codec_encode_publish_header2(uint8_t *out, const uint8_t *head, size_t head_len,
                                    const uint8_t *tail, size_t tail_len, uint8_t qos,
                                    bool retain, bool dup, uint16_t packet_id,
                                    size_t payload_len)
{
    uint8_t first = (uint8_t)((MQTT_PUBLISH << 4) | (dup ? 0x08 : 0) | ((qos & 3) << 1) |
                              (retain ? 0x01 : 0));
    size_t topic_len = head_len + tail_len;
    size_t vh = 2 + topic_len + (qos > 0 ? 2 : 0);
    size_t off = put_fixed_header(out, first, vh + payload_len);

    off += put_u16(out + off, (uint16_t)topic_len);
    if (head_len > 0)
        memcpy(out + off, head, head_len);
    if (tail_len > 0)
        memcpy(out + off + head_len, tail, tail_len);
    off += topic_len;
    if (qos > 0)
        off += put_u16(out + off, packet_id);
    return off;
}

/* The protocol name to write: the given one, or the level's own when none is given. */
static struct mqtt_str connect_proto_name(const struct pkt_connect *c)
{
    struct mqtt_str n = c->proto_name;

    if (n.len == 0) {
        bool v31 = c->proto_level == MQTT_PROTO_V31;
        n.p = (const uint8_t *)(v31 ? "MQIsdp" : "MQTT");
        n.len = v31 ? 6 : 4;
    }
    return n;
}

static size_t connect_remaining(const struct pkt_connect *c)
{
    size_t n = 2 + connect_proto_name(c).len + 4 + 2 + c->client_id.len;

    if (c->will)
        n += 2 + c->will_topic.len + 2 + c->will_payload.len;
    if (c->has_username)
        n += 2 + c->username.len;
    if (c->has_password)
        n += 2 + c->password.len;
    return n;
}

size_t codec_connect_size(const struct pkt_connect *c)
{
    size_t rem = connect_remaining(c);

    return 1 + codec_varint_size((uint32_t)rem) + rem;
}

size_t codec_encode_connect(uint8_t *out, const struct pkt_connect *c)
{
    struct mqtt_str name = connect_proto_name(c);
    uint8_t fl = (uint8_t)((c->has_username ? 0x80 : 0) | (c->has_password ? 0x40 : 0) |
                           (c->will_retain ? 0x20 : 0) | ((c->will_qos & 3) << 3) |
                           (c->will ? 0x04 : 0) | (c->clean_session ? 0x02 : 0));
    size_t off = put_fixed_header(out, MQTT_CONNECT << 4, connect_remaining(c));

    off += put_str(out + off, name.p, name.len);
    out[off++] = c->proto_level;
    out[off++] = fl;
    off += put_u16(out + off, c->keepalive);
    off += put_str(out + off, c->client_id.p, c->client_id.len);
    if (c->will) {
        off += put_str(out + off, c->will_topic.p, c->will_topic.len);
        off += put_str(out + off, c->will_payload.p, c->will_payload.len);
    }
    if (c->has_username)
        off += put_str(out + off, c->username.p, c->username.len);
    if (c->has_password)
        off += put_str(out + off, c->password.p, c->password.len);
    return off;
}

static size_t topics_remaining(const struct mqtt_str *filters, size_t n, bool with_qos)
{
    size_t rem = 2;

    for (size_t i = 0; i < n; i++)
        rem += 2 + filters[i].len + (with_qos ? 1 : 0);
    return rem;
}

size_t codec_topics_size(const struct mqtt_str *filters, size_t n, bool with_qos)
{
    size_t rem = topics_remaining(filters, n, with_qos);

    return 1 + codec_varint_size((uint32_t)rem) + rem;
}

size_t codec_encode_topics(uint8_t *out, uint16_t packet_id, const struct mqtt_str *filters,
                           const uint8_t *qos, size_t n)
{
    uint8_t first = qos != NULL ? (MQTT_SUBSCRIBE << 4) | 0x2 : (MQTT_UNSUBSCRIBE << 4) | 0x2;
    size_t off = put_fixed_header(out, first, topics_remaining(filters, n, qos != NULL));

    off += put_u16(out + off, packet_id);
    for (size_t i = 0; i < n; i++) {
        off += put_str(out + off, filters[i].p, filters[i].len);
        if (qos != NULL)
            out[off++] = qos[i];
    }
    return off;
}
