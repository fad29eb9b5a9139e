/*
 * Per-session FIFO: see queue.h. The ring doubles when full; indices wrap with a mask.
 */
#include "queue.h"

#include <string.h>

#include "mem.h"
#include "tern/err.h"
#include "tern/msg.h"

void queue_init(struct queue *q, struct mem *mem)
{
    memset(q, 0, sizeof *q);
    q->mem = mem;
}

void queue_cleanup(struct queue *q)
{
    struct qentry e;
    while (queue_pop(q, &e))
        msg_unref(&e.m);
    mem_free(q->mem, q->ring);
    struct mem *mem = q->mem;
    queue_init(q, mem);
}

bool queue_full(const struct queue *q, long max_messages, long long max_bytes,
                size_t msg_bytes)
{
    if (max_messages > 0 && q->count >= (size_t)max_messages)
        return true;
    if (max_bytes > 0 && (long long)(q->bytes + msg_bytes) > max_bytes)
        return true;
    return false;
}

static int grow(struct queue *q)
{
    size_t cap = q->cap ? q->cap * 2 : 8;
    struct qentry *r = mem_alloc(q->mem, cap * sizeof *r);
    if (r == NULL)
        return TERN_ENOMEM;
    for (size_t i = 0; i < q->count; i++)
        r[i] = q->ring[(q->head + i) & (q->cap - 1)];
    mem_free(q->mem, q->ring);
    q->ring = r;
    q->cap = cap;
    q->head = 0;
    return TERN_OK;
}

int queue_push(struct queue *q, struct msg *m, uint8_t qos, bool retain)
{
    if (q->count == q->cap && grow(q) != TERN_OK)
        return TERN_ENOMEM;
    struct qentry *e = &q->ring[(q->head + q->count) & (q->cap - 1)];
    e->m = msg_ref(m);
    e->qos = qos;
    e->retain = retain;
    e->shared = false;
    q->count++;
    q->bytes += msg_size(m);
    return TERN_OK;
}

struct qentry *queue_at(struct queue *q, size_t i)
{
    return &q->ring[(q->head + i) & (q->cap - 1)];
}

struct qentry *queue_peek(struct queue *q)
{
    return q->count ? &q->ring[q->head] : NULL;
}

bool queue_pop(struct queue *q, struct qentry *out)
{
    if (q->count == 0)
        return false;
    *out = q->ring[q->head];
    q->head = (q->head + 1) & (q->cap - 1);
    q->count--;
    q->bytes -= msg_size(out->m);
    return true;
}
