/*
 * The refcounted message: one allocation holding a published message's topic and payload,
 * shared by every holder (each recipient's queue or in-flight entry, the retained slot, the
 * persistence writer, each pending output segment). It is immutable after msg_new.
 *
 * Ownership: msg_new returns a new reference owned by the caller; msg_ref adds one and returns
 * m; msg_unref drops the caller's reference and sets the caller's pointer to NULL. The last
 * unref frees the block through the struct mem it was allocated from.
 * Per-recipient state (packet id, granted QoS, DUP, QoS 2 phase) never lives here.
 * Besides refs and origin (set once, before it is published), only persist.c writes after
 * creation: id (once, when first published), prefs and pgen (its own bookkeeping: how many
 * logged holders, which log file has the body); and expire.c stamps expiry_s/expires_at
 * once, before the message is first published or when persistence restores it.
 */
#ifndef TERN_MSG_H
#define TERN_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mem;

struct msg {
    uint32_t refs;
    uint8_t qos;            /* QoS it was published with */
    bool retain;            /* RETAIN flag it was published with */
    uint16_t topic_len;
    uint32_t payload_len;
    uint32_t prefs;         /* persistence: logged holders (queue, in-flight, retained slot) */
    uint64_t id;            /* broker-assigned, increasing; 0 until assigned */
    uint32_t pgen;          /* persistence: log generation holding the body; 0 = none */
    uint32_t expiry_s;      /* message_expiry in force when it arrived; 0 = none */
    uint64_t expires_at;    /* loop time (ms) it expires; 0 = not stamped yet (never),
                               UINT64_MAX = never (expire.c) */
    const void *origin;     /* the session it came in through (a bridge's, or a client's);
                               an identity compared during fan-out (a no-local session is
                               not sent its own messages), never dereferenced; NULL for the
                               broker's own messages. Set by the creator before publishing. */
    struct mem *mem;
    uint8_t *payload;       /* points into this block, after the topic */
    char topic[];           /* topic_len bytes, NUL, then the payload */
};

/* Returns a new reference, or NULL when memory is refused. Copies topic and payload. */
struct msg *msg_new(struct mem *mem, const uint8_t *topic, size_t topic_len,
                    const uint8_t *payload, size_t payload_len, uint8_t qos, bool retain);
/* Takes a reference: returns m with one more reference. */
struct msg *msg_ref(struct msg *m);
/* Drops the reference held through *mp and clears *mp. NULL is fine. */
void msg_unref(struct msg **mp);
/* Bytes this message occupies in memory (for queue byte limits). */
size_t msg_size(const struct msg *m);

#endif
