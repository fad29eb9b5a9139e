/*
 * Allocation with accounting and a cap.
 *
 * Every allocation of the broker goes through a struct mem that counts the bytes in use and
 * refuses an allocation that would pass the configured limit (0 = no limit), counting the
 * refusal. Each block carries a small header holding its size so mem_free needs no size.
 * Callers treat NULL as TERN_ENOMEM and refuse the client or message; nothing aborts.
 * A struct mem is caller-owned (a field of the broker, or a local in unit tests).
 */
#ifndef TERN_MEM_H
#define TERN_MEM_H

#include <stddef.h>
#include <stdint.h>

struct mem {
    size_t used;        /* bytes handed out, headers included */
    size_t peak;
    size_t limit;       /* 0 = no limit */
    uint64_t refused;   /* allocations refused by the limit or by malloc */
};

void mem_init(struct mem *m, size_t limit);
/* Returns a new block of n bytes or NULL. */
void *mem_alloc(struct mem *m, size_t n);
void *mem_calloc(struct mem *m, size_t count, size_t n);
/* Resizes p (which may be NULL); on failure returns NULL and p is untouched. */
void *mem_realloc(struct mem *m, void *p, size_t n);
/* Frees p (NULL is fine). */
void mem_free(struct mem *m, void *p);
/* Returns a new NUL-terminated copy of s[0..len). */
char *mem_strndup(struct mem *m, const void *s, size_t len);
/* True when n more bytes would still fit under the limit. */
int mem_would_fit(const struct mem *m, size_t n);

#endif
