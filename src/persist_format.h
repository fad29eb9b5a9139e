/*
 * The on-disk format of the persistence log (tern.db), shared by the writer (persist.c), the
 * reader (persist_load.c) and the fuzz target. All integers are little-endian.
 *
 *   file   := header record*
 *   header := "TERNLOG1" u32 version u32 crc32c(first 12 bytes)               16 bytes
 *   record := u32 body_len  u32 crc32c(type, body)  u8 type  body[body_len]
 *
 * Record bodies (skey: the session's persistence key; id: the message id):
 *   MSG        u64 id, u8 qos, u8 retain, u16 topic_len, u32 payload_len, topic, payload
 *   MSG_EXPIRY u64 id, u64 arrival (wall-clock ms since the epoch), u32 lifetime in seconds
 *              (version 2; right after the MSG of a message that has a message_expiry)
 *   RETAIN     u64 id                     the message is now retained for its topic
 *   SESS       u32 skey, u16 len, client id
 *   SESS_DEL   u32 skey
 *   SUB        u32 skey, u8 qos, u16 len, filter     (replaces an identical filter)
 *   UNSUB      u32 skey, u16 len, filter
 *   QPUSH      u32 skey, u64 id, u8 qos, u8 retain   appended to the session's queue
 *   QPOP       u32 skey                   the queue head was sent at QoS 0 or dropped
 *   QINFL      u32 skey, u16 packet id    the queue head entered the in-flight window
 *   INFL       u32 skey, u16 packet id, u8 qos, u8 retain, u8 state, u64 id (0 when the state
 *              is WAIT_PUBCOMP)           a new in-flight entry at the window's tail
 *   INFL_REL   u32 skey, u16 packet id    PUBREC received: now waiting for PUBCOMP
 *   INFL_DONE  u32 skey, u16 packet id    PUBACK / PUBCOMP received: entry gone
 *   QOS2_IN    u32 skey, u16 packet id    inbound QoS 2 id awaiting PUBREL
 *   QOS2_DONE  u32 skey, u16 packet id    PUBREL received
 *   COMMIT     u64 seq, u64 durable_seq   ends batch seq; batches <= durable_seq were
 *                                         fsynced before this one was written
 *
 * Each record stands alone: applying any prefix of a log gives a consistent state. COMMIT
 * records let recovery tell a torn tail (unsynced batches: anything after the first bad record
 * belongs to a batch never acknowledged) from corruption inside synced data (a later COMMIT
 * says the bad batch had been synced).
 *
 * Versions: 1 had no MSG_EXPIRY. Version 2 files are written; version 1 files are read (their
 * messages have no lifetime) and rewritten as version 2 by a compaction at start-up, before
 * anything is appended, so a file never mixes versions. A broker that knows only version 1
 * refuses a version 2 file as not a Tern log instead of skipping records it cannot read.
 */
#ifndef TERN_PERSIST_FORMAT_H
#define TERN_PERSIST_FORMAT_H

#include <stdint.h>
#include <string.h>

#define PF_MAGIC "TERNLOG1"
#define PF_VERSION 2u          /* written */
#define PF_VERSION_MIN 1u      /* oldest read */
#define PF_HEADER 16u
#define PF_REC_HDR 9u
#define PF_MAX_BODY (268435455u + 1024u)   /* a whole MQTT packet and change */

enum pf_type {
    PF_MSG = 1,
    PF_RETAIN,
    PF_SESS,
    PF_SESS_DEL,
    PF_SUB,
    PF_UNSUB,
    PF_QPUSH,
    PF_QPOP,
    PF_QINFL,
    PF_INFL,
    PF_INFL_REL,
    PF_INFL_DONE,
    PF_QOS2_IN,
    PF_QOS2_DONE,
    PF_COMMIT,
    PF_MSG_EXPIRY,
};

/* Body sizes of the fixed-size records. */
#define PF_MSG_FIXED 16u
#define PF_RETAIN_LEN 8u
#define PF_SESS_FIXED 6u
#define PF_SKEY_LEN 4u
#define PF_SUB_FIXED 7u
#define PF_UNSUB_FIXED 6u
#define PF_QPUSH_LEN 14u
#define PF_PID_LEN 6u
#define PF_INFL_LEN 17u
#define PF_COMMIT_LEN 16u
#define PF_MSG_EXPIRY_LEN 20u

static inline void pf_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void pf_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void pf_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t pf_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t pf_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline uint64_t pf_get64(const uint8_t *p)
{
    return (uint64_t)pf_get32(p) | ((uint64_t)pf_get32(p + 4) << 32);
}

#endif
