/*
 * The MQTT 3.1 / 3.1.1 codec: bytes to decoded packets and packets to bytes. Pure code.
 *
 * The codec never reads or writes a socket, never allocates, never logs and never looks at a
 * clock. Decoding takes (pointer, length) of whatever bytes have arrived so far and either
 * returns TERN_EAGAIN (the packet is not complete yet; call again with more bytes), or fills a
 * struct pkt whose strings and payload are views into the caller's buffer, valid as long as that
 * buffer is, and reports how many bytes the packet used. So a packet may be split at any byte
 * boundary and many packets may sit in one buffer: the caller loops.
 *
 * What the codec rejects is syntax (MQTT 3.1.1 sections 1.5, 2, 3, 4.7): remaining length over
 * 4 bytes, reserved fixed-header flags, malformed UTF-8, wildcards in a topic name, a bad filter,
 * CONNECT flag combinations, a zero packet id where one is required, trailing bytes. What the
 * broker answers (CONNACK code, disconnect) is decided by the protocol handlers, so CONNECT
 * with an unknown protocol level or an empty client id decodes successfully (an unknown
 * protocol NAME is TERN_EPROTO: 3.1.2-1 lets the server close without CONNACK).
 */
#ifndef TERN_CODEC_H
#define TERN_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/err.h"
#include "tern/mqtt.h"

/* A borrowed view of bytes inside the caller's buffer; not NUL-terminated. */
struct mqtt_str {
    const uint8_t *p;
    uint32_t len;
};

struct pkt_connect {
    struct mqtt_str proto_name;   /* "MQTT" or "MQIsdp"; any other name is TERN_EPROTO */
    uint8_t proto_level;          /* 3 or 4 expected; others decode, handler answers 0x01 */
    bool clean_session;
    bool will;
    uint8_t will_qos;
    bool will_retain;
    bool has_username;
    bool has_password;
    uint16_t keepalive;
    struct mqtt_str client_id;    /* may be empty */
    struct mqtt_str will_topic;   /* valid topic name when will is set */
    struct mqtt_str will_payload; /* binary */
    struct mqtt_str username;
    struct mqtt_str password;     /* binary */
};

struct pkt_connack {
    bool session_present;
    uint8_t rc;
};

struct pkt_publish {
    uint8_t qos;
    bool dup;
    bool retain;
    uint16_t packet_id;           /* 0 for QoS 0 */
    struct mqtt_str topic;
    struct mqtt_str payload;
};

/* PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK: only a packet id. */
struct pkt_ack {
    uint16_t packet_id;
};

/*
 * SUBSCRIBE and UNSUBSCRIBE carry a list. The decoder validates every entry (filter syntax,
 * requested QoS at most 2 with reserved bits zero) and records where the list is; the handler
 * walks it with codec_topic_next() without any allocation.
 */
struct pkt_topics {
    uint16_t packet_id;
    uint32_t count;               /* number of entries, at least 1 */
    const uint8_t *list;          /* first entry */
    uint32_t list_len;            /* bytes from list to the end of the packet */
};

struct pkt_suback {
    uint16_t packet_id;
    uint32_t count;
    const uint8_t *codes;
};

/* One decoded packet. type selects the union member; PINGREQ/PINGRESP/DISCONNECT have none. */
struct pkt {
    uint8_t type;                 /* enum mqtt_type */
    uint8_t flags;                /* low nibble of the first byte */
    uint32_t remaining;           /* remaining length from the fixed header */
    union {
        struct pkt_connect connect;
        struct pkt_connack connack;
        struct pkt_publish publish;
        struct pkt_ack ack;
        struct pkt_topics topics; /* SUBSCRIBE (with QoS) and UNSUBSCRIBE (without) */
        struct pkt_suback suback;
    } u;
};

/* Iterator state over a struct pkt_topics list. */
struct topic_iter {
    const uint8_t *p;
    const uint8_t *end;
    bool with_qos;                /* true for SUBSCRIBE */
};

/*
 * Reads the fixed header at buf[0..len).
 * Returns TERN_OK with *type_flags (the first byte), *remaining and *hdr_len (2..5) set;
 * TERN_EAGAIN when the header itself is not complete; TERN_EMALFORMED when the remaining
 * length uses more than 4 bytes. It does not look at the packet type.
 */
int codec_fixed_header(const uint8_t *buf, size_t len, uint8_t *type_flags, uint32_t *remaining,
                       size_t *hdr_len);

/*
 * Decodes one whole packet from the start of buf[0..len).
 *   max_packet: largest acceptable total packet size (fixed header included); 0 = no limit
 *               beyond the protocol's. Checked from the header, before waiting for the bytes.
 *   is_server:  true when decoding what a client sent (a server never receives CONNACK,
 *               SUBACK, UNSUBACK, PINGRESP); false when decoding what a server sent.
 * Returns TERN_OK and sets *used to the packet's total size; TERN_EAGAIN when more bytes are
 * needed (*used is then set to the total size when the header is known, else 0);
 * TERN_ETOOBIG when the header announces more than max_packet; TERN_EMALFORMED for syntax
 * errors; TERN_EPROTO for packet types the peer may not send. Borrows buf: views in *out point
 * into it.
 */
int codec_decode(const uint8_t *buf, size_t len, uint32_t max_packet, bool is_server,
                 struct pkt *out, size_t *used);

/* Starts iterating the filters of a decoded SUBSCRIBE (with_qos) or UNSUBSCRIBE. */
void codec_topic_iter_init(struct topic_iter *it, const struct pkt_topics *t, bool with_qos);

/* Yields the next filter (and requested QoS for SUBSCRIBE). Returns false at the end. */
bool codec_topic_next(struct topic_iter *it, struct mqtt_str *filter, uint8_t *qos);

/* Validation, usable on their own (config, ACL, tests). */
bool codec_utf8_valid(const uint8_t *s, size_t len);           /* 1.5.3: no U+0000, no
                                                                   surrogates, no overlong */
bool codec_topic_name_valid(const uint8_t *s, size_t len);     /* non-empty, no + or # */
bool codec_topic_filter_valid(const uint8_t *s, size_t len);   /* + and # whole levels, # last */

/*
 * Encoders. Each writes into out (which must have room for the size it returns; the *_size
 * helpers tell it) and returns the number of bytes written. They never fail.
 */
size_t codec_varint_size(uint32_t value);
size_t codec_put_varint(uint8_t *out, uint32_t value);

size_t codec_encode_connack(uint8_t *out, bool session_present, uint8_t rc);       /* 4 bytes */
/* PUBACK/PUBREC/PUBCOMP/UNSUBACK (flags 0) and PUBREL (flags 2): 4 bytes. */
size_t codec_encode_ack(uint8_t *out, uint8_t type, uint16_t packet_id);
size_t codec_encode_suback(uint8_t *out, uint16_t packet_id, const uint8_t *codes, size_t n);
size_t codec_encode_pingresp(uint8_t *out);                                         /* 2 bytes */

/*
 * A PUBLISH header: fixed header, topic and (for QoS > 0) packet id; the payload of
 * payload_len bytes follows it on the wire and is not written here (so it can be shared).
 * codec_publish_header_size() gives the exact size this call writes.
 */
size_t codec_publish_header_size(size_t topic_len, uint8_t qos, size_t payload_len);
size_t codec_encode_publish_header(uint8_t *out, const uint8_t *topic, size_t topic_len,
                                   uint8_t qos, bool retain, bool dup, uint16_t packet_id,
                                   size_t payload_len);
/* The same with the topic given in two pieces, head then tail (a bridge's remote prefix and
 * the rest of the local topic), so a remapped topic needs no copy of its own. */
size_t codec_encode_publish_header2(uint8_t *out, const uint8_t *head, size_t head_len,
                                    const uint8_t *tail, size_t tail_len, uint8_t qos,
                                    bool retain, bool dup, uint16_t packet_id,
                                    size_t payload_len);

/*
 * Client-side encoders, used by tests, fuzz seeds and (later) bridges.
 * codec_encode_connect returns the size written; out must hold codec_connect_size(c) bytes.
 */
size_t codec_connect_size(const struct pkt_connect *c);
size_t codec_encode_connect(uint8_t *out, const struct pkt_connect *c);
/* SUBSCRIBE (qos != NULL) or UNSUBSCRIBE (qos == NULL) of n filters. */
size_t codec_topics_size(const struct mqtt_str *filters, size_t n, bool with_qos);
size_t codec_encode_topics(uint8_t *out, uint16_t packet_id, const struct mqtt_str *filters,
                           const uint8_t *qos, size_t n);
size_t codec_encode_simple(uint8_t *out, uint8_t type);  /* PINGREQ, PINGRESP, DISCONNECT */

#endif
