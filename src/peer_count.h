/*
 * Open connections per client address, for max_connections_per_address.
 *
 * A small open-addressing hash table (linear probing, backward-shift deletion) from the host
 * part of a peer string ("ADDRESS" of "ADDRESS:PORT") to the number of open connections from
 * it. conn.c adds one at accept and removes one at close; listener.c asks before accepting.
 * An address whose count falls to zero leaves the table, so its size follows the number of
 * distinct addresses connected now, not ever, and is freed when no connection is open. It is its own file so the accept path
 * (listener.c) stays about sockets; the table is a field of struct broker (STYLE 2.7).
 */
#ifndef TERN_PEER_COUNT_H
#define TERN_PEER_COUNT_H

#include <stddef.h>
#include <stdint.h>

struct mem;

#define PEER_HOST_MAX 48            /* an IPv6 text address and its NUL fit */

struct peer_slot {
    char host[PEER_HOST_MAX];       /* "" = empty slot */
    uint32_t count;
};

struct peer_count {
    struct peer_slot *slots;        /* owned; NULL until the first connection */
    size_t cap;                     /* power of two */
    size_t used;
};

/* Open connections from peer's address (peer is "ADDRESS:PORT"; borrowed). */
uint32_t peer_count_get(const struct peer_count *t, const char *peer);
/* Counts one more connection from peer's address. TERN_OK or TERN_ENOMEM (not counted). */
int peer_count_add(struct peer_count *t, struct mem *m, const char *peer);
/* Counts one connection fewer; an address never added is ignored. The table is freed when its
 * last address leaves (so a broker with no connections holds none of it). */
void peer_count_remove(struct peer_count *t, struct mem *m, const char *peer);
/* Frees the table. */
void peer_count_cleanup(struct peer_count *t, struct mem *m);

#endif
