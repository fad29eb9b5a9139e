/*
 * Output queue: see buf.h. The arena is only appended to while bytes are pending and is freed
 * when everything has been written; a partially written queue is compacted so a slow reader
 * never makes it grow without bound beyond what is pending.
 */
#include "buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"
#include "tern/err.h"
#include "tern/msg.h"

void outq_init(struct outq *q, struct mem *mem)
{
    memset(q, 0, sizeof *q);
    q->mem = mem;
}

void outq_cleanup(struct outq *q)
{
    for (size_t i = q->head; i < q->nseg; i++)
        msg_unref(&q->segs[i].m);
    mem_free(q->mem, q->arena);
    mem_free(q->mem, q->segs);
    struct mem *mem = q->mem;
    outq_init(q, mem);
}

static struct oseg *new_seg(struct outq *q)
{
    if (q->nseg == q->segcap) {
        if (q->head > 0) {
            memmove(q->segs, q->segs + q->head, (q->nseg - q->head) * sizeof *q->segs);
            q->nseg -= q->head;
            q->head = 0;
        } else {
            size_t cap = q->segcap ? q->segcap * 2 : 16;
            struct oseg *s = mem_realloc(q->mem, q->segs, cap * sizeof *s);
            if (s == NULL)
                return NULL;
            q->segs = s;
            q->segcap = cap;
        }
    }
    return &q->segs[q->nseg++];
}

static int ensure_seg(struct outq *q)
{
    if (q->nseg < q->segcap || q->head > 0)
        return TERN_OK;
    if (new_seg(q) == NULL)
        return TERN_ENOMEM;
    q->nseg--;
    return TERN_OK;
}

uint8_t *outq_reserve(struct outq *q, size_t n)
{
    if (q->alen + n > q->acap) {
        size_t cap = q->acap ? q->acap : 256;
        while (cap < q->alen + n)
            cap *= 2;
        uint8_t *a = mem_realloc(q->mem, q->arena, cap);
        if (a == NULL)
            return NULL;
        q->arena = a;
        q->acap = cap;
    }
    if (ensure_seg(q) != TERN_OK)
        return NULL;
    return q->arena + q->alen;
}

void outq_commit(struct outq *q, size_t n)
{
    struct oseg *last = q->nseg > q->head ? &q->segs[q->nseg - 1] : NULL;
    if (last != NULL && last->m == NULL && last->off + last->len == q->alen) {
        last->len += (uint32_t)n;
    } else {
        /* Cannot fail: outq_reserve made room for one more segment. */
        struct oseg *s = new_seg(q);
        s->m = NULL;
        s->off = (uint32_t)q->alen;
        s->len = (uint32_t)n;
    }
    q->alen += n;
    q->pending += n;
}

int outq_add_bytes(struct outq *q, const void *p, size_t n)
{
    uint8_t *dst = outq_reserve(q, n);
    if (dst == NULL)
        return TERN_ENOMEM;
    memcpy(dst, p, n);
    outq_commit(q, n);
    return TERN_OK;
}

int outq_add_payload(struct outq *q, struct msg *m)
{
    if (m->payload_len == 0)
        return TERN_OK;
    if (m->payload_len < OUTQ_SHARE_MIN)
        return outq_add_bytes(q, m->payload, m->payload_len);
    struct oseg *s = new_seg(q);
    if (s == NULL)
        return TERN_ENOMEM;
    s->m = msg_ref(m);
    s->off = 0;
    s->len = m->payload_len;
    q->pending += m->payload_len;
    return TERN_OK;
}

int outq_iov(const struct outq *q, struct iovec *iov, int max)
{
    int n = 0;
    for (size_t i = q->head; i < q->nseg && n < max; i++, n++) {
        const struct oseg *s = &q->segs[i];
        iov[n].iov_base = (s->m != NULL ? s->m->payload : q->arena) + s->off;
        iov[n].iov_len = s->len;
    }
    return n;
}

/* Moves the arena bytes still pending to the front and rebases the segments' offsets. */
static void compact(struct outq *q)
{
    size_t first = q->alen;
    for (size_t i = q->head; i < q->nseg; i++) {
        if (q->segs[i].m == NULL) {
            first = q->segs[i].off;
            break;
        }
    }
    if (first == 0)
        return;
    memmove(q->arena, q->arena + first, q->alen - first);
    q->alen -= first;
    for (size_t i = q->head; i < q->nseg; i++) {
        if (q->segs[i].m == NULL)
            q->segs[i].off -= (uint32_t)first;
    }
}

void outq_consume(struct outq *q, size_t n)
{
    q->pending -= n;
    while (n > 0 && q->head < q->nseg) {
        struct oseg *s = &q->segs[q->head];
        if (n < s->len) {
            s->off += (uint32_t)n;
            s->len -= (uint32_t)n;
            break;
        }
        n -= s->len;
        msg_unref(&s->m);
        q->head++;
    }
    if (q->head == q->nseg) {
        /* Drained: give the storage back, so an idle connection holds no output buffer.
         * A busy one gets it again from malloc's per-size cache at little cost. */
        outq_cleanup(q);
    } else if (q->alen > 64 * 1024) {
        compact(q);
    }
}

/* m == NULL: plain malloc (the config loader runs before the broker's accounting exists). */
static void *grow(struct mem *m, void *p, size_t n)
{
    return m != NULL ? mem_realloc(m, p, n) : realloc(p, n);
}

int buf_read_file(struct mem *m, const char *path, size_t max, char **text, size_t *len,
                  char *err, size_t errlen)
{
    *text = NULL;
    *len = 0;
    /* open/read rather than stdio: no FILE buffer, and none of stdio's code is paged in just
     * to read a few configuration files (README "Footprint"). */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return TERN_ECONF;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(EISDIR));
        return TERN_ECONF;
    }
    char *buf = NULL;
    size_t n = 0;
    size_t cap = 0;
    int rc = TERN_OK;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            char *grown = ncap > max ? NULL : grow(m, buf, ncap);
            if (grown == NULL) {
                snprintf(err, errlen, "%s: %s", path,
                         ncap > max ? "file too large" : "out of memory");
                rc = TERN_ECONF;
                break;
            }
            buf = grown;
            cap = ncap;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
            rc = TERN_ECONF;
            break;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    if (rc != TERN_OK) {
        if (m != NULL)
            mem_free(m, buf);
        else
            free(buf);
        return rc;
    }
    *text = buf;
    *len = n;
    return TERN_OK;
}
