/*
 * Allocation with accounting and a cap: see mem.h. The 16-byte header keeps the user pointer
 * aligned for any type and records the block size for mem_free and mem_realloc.
 */
#include "mem.h"

#include <stdlib.h>
#include <string.h>

#define HDR 16u

static void *finish(struct mem *m, unsigned char *raw, size_t n)
{
    if (raw == NULL) {
        m->refused++;
        return NULL;
    }
    memcpy(raw, &n, sizeof n);
    m->used += n + HDR;
    if (m->used > m->peak)
        m->peak = m->used;
    return raw + HDR;
}

static size_t block_size(const void *p)
{
    size_t n;
    memcpy(&n, (const unsigned char *)p - HDR, sizeof n);
    return n;
}

void mem_init(struct mem *m, size_t limit)
{
    memset(m, 0, sizeof *m);
    m->limit = limit;
}

int mem_would_fit(const struct mem *m, size_t n)
{
    return m->limit == 0 || m->used + n + HDR <= m->limit;
}

void *mem_alloc(struct mem *m, size_t n)
{
    if (!mem_would_fit(m, n) || n > SIZE_MAX - HDR) {
        m->refused++;
        return NULL;
    }
    return finish(m, malloc(n + HDR), n);
}

void *mem_calloc(struct mem *m, size_t count, size_t n)
{
    if (n != 0 && count > SIZE_MAX / n)
        return NULL;
    void *p = mem_alloc(m, count * n);
    if (p != NULL)
        memset(p, 0, count * n);
    return p;
}

void *mem_realloc(struct mem *m, void *p, size_t n)
{
    if (p == NULL)
        return mem_alloc(m, n);
    size_t old = block_size(p);
    if (n > old && !mem_would_fit(m, n - old)) {
        m->refused++;
        return NULL;
    }
    unsigned char *raw = realloc((unsigned char *)p - HDR, n + HDR);
    if (raw == NULL) {
        m->refused++;
        return NULL;
    }
    m->used -= old + HDR;
    return finish(m, raw, n);
}

void mem_free(struct mem *m, void *p)
{
    if (p == NULL)
        return;
    m->used -= block_size(p) + HDR;
    free((unsigned char *)p - HDR);
}

char *mem_strndup(struct mem *m, const void *s, size_t len)
{
    char *d = mem_alloc(m, len + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}
