/*
 * The output queue of one connection: bytes waiting to be written, as a chain of segments
 * flushed with one writev per loop turn.
 *
 * Small data (packet headers, acks, small payloads) is copied into one growable arena;
 * payloads of at least OUTQ_SHARE_MIN bytes are not copied: the segment takes a reference on
 * the shared struct msg and points at its payload, so fan-out to many subscribers writes one
 * payload from one place (STYLE 2.5). Consecutive arena bytes merge into one segment.
 *
 * Ownership: outq_add_payload takes a reference on the msg; it is dropped when the segment is
 * fully written or the queue is cleaned up.
 */
#ifndef TERN_BUF_H
#define TERN_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct mem;
struct msg;

#define OUTQ_SHARE_MIN 512u

struct oseg {
    struct msg *m;        /* NULL: arena bytes at off; else m->payload + off */
    uint32_t off;
    uint32_t len;
};

struct outq {
    struct mem *mem;      /* borrowed */
    uint8_t *arena;
    size_t alen;
    size_t acap;
    struct oseg *segs;
    size_t head;          /* first unsent segment */
    size_t nseg;          /* one past the last segment */
    size_t segcap;
    size_t pending;       /* bytes not yet written */
};

void outq_init(struct outq *q, struct mem *mem);
/* Drops every pending segment (and its message reference) and frees the storage. */
void outq_cleanup(struct outq *q);

/* Reserves n bytes at the end of the arena and returns where to write them (then the caller
 * must call outq_commit(q, n)), or NULL on TERN_ENOMEM. */
uint8_t *outq_reserve(struct outq *q, size_t n);
void outq_commit(struct outq *q, size_t n);
/* Copies n bytes. TERN_OK or TERN_ENOMEM. */
int outq_add_bytes(struct outq *q, const void *p, size_t n);
/* Appends m's payload: copied when small, else shared (takes a reference). */
int outq_add_payload(struct outq *q, struct msg *m);

/* Fills at most max iovecs with the pending bytes; returns how many were filled. */
int outq_iov(const struct outq *q, struct iovec *iov, int max);
/* Marks n bytes as written, releasing finished segments. */
void outq_consume(struct outq *q, size_t n);

/*
 * Reads the whole file at path into a new block from m (returned in *text, the caller frees it
 * with mem_free; not NUL-terminated) of *len bytes; m == NULL takes the block from malloc
 * (freed with free). A file larger than max bytes, an unreadable
 * one or a refused allocation returns TERN_ECONF with "PATH: reason" in err.
 */
int buf_read_file(struct mem *m, const char *path, size_t max, char **text, size_t *len,
                  char *err, size_t errlen);

static inline bool outq_empty(const struct outq *q)
{
    return q->pending == 0;
}

#endif
