/*
 * MQTT sessions (MQTT 3.1.1 sections 3.1.2.4 and 4.1): the state that outlives a connection
 * when clean session is 0 — subscriptions, messages queued while offline, outbound QoS 1/2
 * messages in flight, inbound QoS 2 packet ids awaiting PUBREL — and the will of the
 * connection attached now.
 *
 * All session and queue state lives in this module so the persistence issue can log it to
 * disk without reshaping. Invariants:
 *  - s->conn is the attached connection or NULL (offline); a connection's c->sess is s.
 *  - Outbound: entries in the in-flight ring were sent (or will be resent on reconnect) in
 *    packet-id order; at most max_inflight are live; messages beyond wait in s->pending in
 *    arrival order, so order per topic is kept (4.6).
 *  - Packet ids of live in-flight entries are distinct: ids are allocated sequentially and the
 *    ring never spans more than 65535 slots.
 *  - Inbound QoS 2: a packet id stays in s->in_qos2 from the first PUBLISH until PUBREL, and
 *    a PUBLISH carrying an id that is there is answered with PUBREC and not delivered again
 *    (4.3.3, method B).
 */
#ifndef TERN_SESSION_H
#define TERN_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "queue.h"

struct broker;
struct bridge;
struct conn;
struct msg;

enum infl_state {
    INFL_FREE = 0,        /* acknowledged; slot waits to be popped */
    INFL_WAIT_PUBACK,     /* QoS 1 PUBLISH sent */
    INFL_WAIT_PUBREC,     /* QoS 2 PUBLISH sent */
    INFL_WAIT_PUBCOMP,    /* QoS 2 PUBREL sent */
};

struct infl {
    struct msg *m;        /* owned reference; NULL once PUBREC arrived (QoS 2) or FREE */
    uint16_t packet_id;
    uint8_t qos;
    uint8_t state;        /* enum infl_state */
    bool retain;
    uint8_t attempts;     /* sends so far (retry_interval, max_delivery_attempts) */
    uint64_t due;         /* loop time of the next resend while connected */
    bool shared;          /* delivered through a shared subscription (share.c): handed to
                             another member if the connection ends before PUBACK/PUBREC */
};

struct sub {
    char *filter;         /* owned, NUL-terminated */
    uint16_t len;
    uint8_t qos;
};

struct sess {
    struct broker *b;
    char *client_id;      /* owned, NUL-terminated */
    char *username;       /* owned; of the last CONNECT (ACL checks); NULL = none */
    bool user_known;      /* username is the last CONNECT's; false for a session restored
                             from disk until its client reconnects (ACL reads wait till then) */
    size_t id_len;
    uint64_t hash;
    struct sess *hnext;   /* session table chain */
    struct conn *conn;    /* attached connection or NULL */
    bool clean;           /* clean session: discarded when the connection ends */
    struct msg *will;     /* owned; NULL when none */
    struct sub *subs;     /* this session's subscriptions */
    size_t n_subs;
    size_t subs_cap;
    struct infl *infl;    /* in-flight ring */
    size_t infl_cap;      /* power of two */
    size_t infl_head;
    size_t infl_span;     /* slots from head to tail, FREE ones included */
    size_t infl_live;
    uint16_t last_pid;
    struct queue pending; /* waiting for the window, or for the client to come back */
    uint16_t *in_qos2;    /* inbound QoS 2 ids awaiting PUBREL */
    size_t n_in_qos2;
    size_t in_qos2_cap;
    uint32_t pkey;        /* persistence key; 0 = not logged (clean session or persistence off) */
    uint32_t match_gen;   /* fan-out de-duplication (broker.c) */
    uint32_t match_idx;
    struct bridge *bridge; /* the bridge this session carries out (bridge.c); NULL for a
                              client's. A bridge session never expires and no client may
                              take its id. */
    bool no_local;        /* not sent messages that came in through it: a bridge's own
                             session, or a remote bridge that connected with try_private */
    struct loop_timer expiry; /* persistent_client_expiration while offline */
    struct loop_timer retry;  /* earliest in-flight resend while connected (retry_interval) */
};

/* True when s is online with room in its in-flight window and nothing queued. */
bool sess_can_take(const struct sess *s);
/* Delivers m (borrowed) at qos as one member of a shared subscription: like sess_deliver
 * (RETAIN 0), and a QoS 1/2 message sent at once is marked for handover. */
void sess_deliver_shared(struct sess *s, struct msg *m, uint8_t qos);
/* Removes every marked in-flight message s has not had PUBACK/PUBREC for, then every queued
 * message that came through a shared subscription, and passes each to fn (m borrowed for the
 * call), oldest first. For share.c, when s's connection ends. */
void sess_take_shared(struct sess *s, void (*fn)(void *ctx, struct msg *m), void *ctx);

/* Looks up a session by client id; returns it (borrowed) or NULL. */
struct sess *sess_find(struct broker *b, const uint8_t *id, size_t len);
/* Creates and registers an empty session. Returns it (owned by the table) or NULL. */
struct sess *sess_new(struct broker *b, const uint8_t *id, size_t len, bool clean);
/* Unregisters and frees s: subscriptions removed, queued and in-flight references dropped. */
void sess_free(struct sess *s);
/* Frees every session (shutdown). */
void sess_free_all(struct broker *b);

/* Attaches c to s after CONNACK is queued: resends in-flight messages (DUP) and PUBRELs and
 * drains the queue into the window (4.4). */
void sess_attach(struct sess *s, struct conn *c);
/* Detaches the connection: a clean session is freed, a persistent one starts its expiry. */
void sess_detach(struct sess *s);
/* The attached connection's output fell back under out_limit: sends what waited in the queue
 * while the window allows. */
void sess_output_drained(struct sess *s);

/* Adds or updates a subscription (3.8.4: an identical filter replaces the old one).
 * Returns TERN_OK or TERN_ENOMEM. */
int sess_subscribe(struct sess *s, const uint8_t *filter, size_t len, uint8_t qos);
/* Delivers the retained messages matching filter with RETAIN=1 at min(stored, qos) (3.3.1.3).
 * Called after the SUBACK is queued. */
void sess_send_retained(struct sess *s, const uint8_t *filter, size_t len, uint8_t qos);
/* Removes a subscription; unknown filters are fine (3.10.4). */
void sess_unsubscribe(struct sess *s, const uint8_t *filter, size_t len);

/*
 * Delivers m to s at qos (already min(published, granted)) with the given RETAIN flag:
 * sends now when online and the window allows, else queues within the limits (dropping and
 * counting beyond them). Borrows m. With an acl_file, a message s may not read is skipped
 * and counted here, so live fan-out and retained messages get the same check.
 */
void sess_deliver(struct sess *s, struct msg *m, uint8_t qos, bool retain);

/* Drops the expired messages at the head of s's queue (message_expiry; expire.c's sweep):
 * each is counted and dead-lettered with reason "expired". */
void sess_expire_queued(struct sess *s);

/* Outbound acknowledgements. Each returns TERN_OK, or TERN_ENOTFOUND for an unknown id
 * (ignored by the caller, as clients may resend acks after a reconnect). */
int sess_on_puback(struct sess *s, uint16_t packet_id);
int sess_on_pubrec(struct sess *s, uint16_t packet_id);
int sess_on_pubcomp(struct sess *s, uint16_t packet_id);

/* Inbound QoS 2 bookkeeping. sess_qos2_seen: is this id awaiting PUBREL?  sess_qos2_add:
 * remember it (TERN_OK or TERN_ENOMEM). sess_qos2_release: forget it (on PUBREL). */
bool sess_qos2_seen(const struct sess *s, uint16_t packet_id);
int sess_qos2_add(struct sess *s, uint16_t packet_id);
void sess_qos2_release(struct sess *s, uint16_t packet_id);

/* Recovery (persist_load.c) only. sess_restore_infl appends an in-flight entry in the given
 * state (m, borrowed, is NULL for INFL_WAIT_PUBCOMP): TERN_OK, TERN_ENOMEM, or TERN_EINVAL
 * when the id is live already or the window is at its span limit. sess_restore_done removes
 * the live entry with this id whatever its state (TERN_ENOTFOUND when there is none). */
int sess_restore_infl(struct sess *s, uint16_t packet_id, uint8_t qos, uint8_t state,
                      struct msg *m, bool retain);
int sess_restore_done(struct sess *s, uint16_t packet_id);

#endif
