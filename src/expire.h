/*
 * Message expiry (message_expiry): how long a message may wait in a session's queue before it
 * is dropped instead of delivered.
 *
 * A message gets its lifetime once, when it is first published (expire_stamp): the first
 * message_expiry PATTERN rule whose filter matches its topic, else the value of the listener
 * its publisher came through, else the global value; 0 means it never expires. Like MQTT 5's
 * Message Expiry Interval (section 3.3.2.3.3), the lifetime belongs to the message: a SIGHUP
 * that changes message_expiry applies to messages published after it, and a restart keeps
 * each stored message's deadline (persistence logs its arrival time and lifetime).
 *
 * Only copies whose onward delivery has not started expire: entries of a session's queue.
 * A message in the in-flight window was sent already and completes its QoS flow (3.3.2.3.3
 * again), and retained messages sent because of a new subscription are not expired (the
 * retained store keeps them until replaced). Expired copies are dropped when they reach the
 * head of a queue (session.c, at delivery) and by a sweep every EXPIRE_SWEEP_MS that pops
 * the expired heads of every queue; each is counted, logged (rate-limited) and dead-lettered
 * with reason "expired".
 */
#ifndef TERN_EXPIRE_H
#define TERN_EXPIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct broker;
struct conf;
struct msg;

#define EXPIRE_SWEEP_MS 1000u

struct expire_rule {
    char *filter;                    /* owned (b->mem) */
    size_t len;
    uint32_t seconds;                /* 0 = never */
};

struct expire {
    uint32_t global_s;               /* message_expiry without a pattern, outside listeners */
    struct expire_rule *rules;       /* owned, file order */
    size_t n_rules;
    struct loop_timer sweep;
    bool active;                     /* a message with a lifetime may exist: sweep runs */
};

/* Prepares b->expiry (no rules, unarmed timer); called first, so teardown may always run. */
void expire_init(struct broker *b);
/* Takes message_expiry (global, per listener, patterns) from c: at start-up and on SIGHUP.
 * Returns TERN_OK, or TERN_ENOMEM with the previous settings kept. */
int expire_configure(struct broker *b, const struct conf *c);
void expire_cleanup(struct broker *b);

/* Gives m (borrowed, not yet stamped) its lifetime: listener_s is the publishing listener's
 * message_expiry, or -1 for none (wills, dead letters, $SYS, a listener without its own). */
void expire_stamp(struct broker *b, struct msg *m, long listener_s);
/* True when m has a lifetime and it is over. */
bool expire_due(const struct broker *b, const struct msg *m);
/* Recovery: m (borrowed) arrived at wall-clock arrived_ms and lives expiry_s seconds. */
void expire_restore(struct broker *b, struct msg *m, int64_t arrived_ms, uint32_t expiry_s);
/* For the log: m's arrival time in wall-clock ms since the epoch (m has a lifetime). */
int64_t expire_arrival_wall_ms(const struct broker *b, const struct msg *m);

#endif
