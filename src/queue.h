/*
 * A session's message queue: a FIFO ring of (message, QoS, retain) entries with its count and
 * byte size kept current, so the limits max_queued_messages and max_queued_bytes are O(1)
 * checks. It holds messages waiting for a session that is offline or whose in-flight window
 * is full; order is arrival order (MQTT 3.1.1 section 4.6).
 *
 * Each entry owns one reference on its message.
 */
#ifndef TERN_QUEUE_H
#define TERN_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mem;
struct msg;

struct qentry {
    struct msg *m;
    uint8_t qos;          /* QoS to deliver with: min(published, granted) */
    bool retain;          /* RETAIN flag to deliver with */
    bool shared;          /* came through a shared subscription (share.c): handed to another
                             member when the session's connection ends; not persisted */
};

struct queue {
    struct mem *mem;      /* borrowed */
    struct qentry *ring;
    size_t cap;           /* power of two, or 0 */
    size_t head;
    size_t count;
    size_t bytes;         /* sum of msg_size() of queued messages */
};

void queue_init(struct queue *q, struct mem *mem);
/* Drops every entry's reference and frees the ring. */
void queue_cleanup(struct queue *q);

/* True when one more message of msg_bytes would break either limit (0 = no limit). */
bool queue_full(const struct queue *q, long max_messages, long long max_bytes,
                size_t msg_bytes);

/* Appends (m, qos, retain) not shared, taking a reference on m. TERN_OK or TERN_ENOMEM. */
int queue_push(struct queue *q, struct msg *m, uint8_t qos, bool retain);
/* The i-th entry from the oldest (borrowed); i < q->count. */
struct qentry *queue_at(struct queue *q, size_t i);
/* The oldest entry, or NULL when empty (borrowed). */
struct qentry *queue_peek(struct queue *q);
/* Removes the oldest entry, moving its reference to *out. Returns false when empty. */
bool queue_pop(struct queue *q, struct qentry *out);

#endif
