/*
 * The retained-message store (MQTT 3.1.1 section 3.3.1.3): at most one message per topic name,
 * replaced by a newer retained publish and cleared by a retained publish with an empty payload.
 *
 * Stored by topic level in a tree with hashed children, so looking up the retained messages
 * that match a filter walks only the branches the filter can match: a filter with a literal
 * prefix never scans retained topics outside that prefix. The '$' rule of 4.7.2 applies:
 * a filter starting with '+' or '#' does not match topics whose first level starts with '$'.
 */
#ifndef TERN_RETAIN_H
#define TERN_RETAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mem;
struct msg;
struct retain;

/* Returns a new empty store allocating through mem (borrowed). */
struct retain *retain_new(struct mem *mem);
/* Drops every stored reference and frees the store. */
void retain_free(struct retain *r);

/*
 * Stores m under m->topic, taking a reference and dropping the one it replaces; when
 * m->payload_len is 0 the topic's message is removed instead (and m is not referenced).
 * Returns TERN_OK or TERN_ENOMEM (store unchanged).
 */
int retain_set(struct retain *r, struct msg *m);

/* Called for each retained message that matches; borrows m (take a reference to keep it). */
typedef void (*retain_fn)(void *ctx, struct msg *m);

/* Calls fn for every stored message whose topic matches the (valid) filter. */
void retain_match(const struct retain *r, const uint8_t *filter, size_t len, retain_fn fn,
                  void *ctx);

/* Calls fn for every stored message, '$' topics included (persistence compaction). */
void retain_foreach(const struct retain *r, retain_fn fn, void *ctx);

/* Number of retained messages; bytes of their topics and payloads. */
size_t retain_count(const struct retain *r);
size_t retain_bytes(const struct retain *r);

#endif
