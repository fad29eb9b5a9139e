/*
 * Message expiry: see expire.h for the rules. Deadlines are kept in loop time (monotonic ms),
 * so a wall-clock step does not expire or revive messages while Tern runs; only the log holds
 * wall-clock arrival times, converted at write and at recovery.
 */
#include "expire.h"

#include <string.h>

#include "broker.h"
#include "listener.h"
#include "session.h"
#include "tern/err.h"
#include "tern/msg.h"
#include "tern/platform.h"
#include "topic_tree.h"

static void sweep_fire(struct loop *l, struct loop_timer *t, void *data);

static void arm(struct broker *b)
{
    b->expiry.active = true;
    if (!loop_timer_armed(&b->expiry.sweep))
        loop_timer_start(b->loop, &b->expiry.sweep, broker_now(b) + EXPIRE_SWEEP_MS);
}

void expire_init(struct broker *b)
{
    memset(&b->expiry, 0, sizeof b->expiry);
    loop_timer_init(&b->expiry.sweep, sweep_fire, b);
}

static void free_rules(struct broker *b, struct expire_rule *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mem_free(&b->mem, r[i].filter);
    mem_free(&b->mem, r);
}

void expire_cleanup(struct broker *b)
{
    if (b->loop != NULL)
        loop_timer_stop(b->loop, &b->expiry.sweep);
    free_rules(b, b->expiry.rules, b->expiry.n_rules);
    b->expiry.rules = NULL;
    b->expiry.n_rules = 0;
}

/* The listener entry of c that b's listener socket lst was opened from, or NULL (the file
 * no longer has it where it was: listeners are kept as they are on SIGHUP). */
static const struct conf_listener *conf_of(const struct conf *c, const struct listener *lst)
{
    if (lst->conf_idx >= c->n_listeners || c->listeners[lst->conf_idx].port != lst->port)
        return NULL;
    return &c->listeners[lst->conf_idx];
}

int expire_configure(struct broker *b, const struct conf *c)
{
    struct expire_rule *rules = NULL;
    if (c->n_expiry_rules > 0 &&
        (rules = mem_calloc(&b->mem, c->n_expiry_rules, sizeof *rules)) == NULL)
        return TERN_ENOMEM;
    bool any = c->message_expiry > 0;
    for (size_t i = 0; i < c->n_expiry_rules; i++) {
        rules[i].len = strlen(c->expiry_rules[i].filter);
        rules[i].filter = mem_strndup(&b->mem, c->expiry_rules[i].filter, rules[i].len);
        rules[i].seconds = (uint32_t)c->expiry_rules[i].seconds;
        if (rules[i].filter == NULL) {
            free_rules(b, rules, c->n_expiry_rules);
            return TERN_ENOMEM;
        }
        any = any || rules[i].seconds > 0;
    }
    free_rules(b, b->expiry.rules, b->expiry.n_rules);
    b->expiry.rules = rules;
    b->expiry.n_rules = c->n_expiry_rules;
    b->expiry.global_s = (uint32_t)c->message_expiry;
    for (size_t i = 0; i < b->n_listeners; i++) {
        const struct conf_listener *cl = conf_of(c, &b->listeners[i]);
        if (cl != NULL)
            b->listeners[i].message_expiry = cl->message_expiry;
        any = any || b->listeners[i].message_expiry > 0;
    }
    if (any)
        arm(b);
    return TERN_OK;
}

void expire_stamp(struct broker *b, struct msg *m, long listener_s)
{
    uint32_t s = listener_s >= 0 ? (uint32_t)listener_s : b->expiry.global_s;
    for (size_t i = 0; i < b->expiry.n_rules; i++) {
        const struct expire_rule *r = &b->expiry.rules[i];
        if (topic_filter_matches((const uint8_t *)r->filter, r->len, (const uint8_t *)m->topic,
                                 m->topic_len)) {
            s = r->seconds;
            break;
        }
    }
    m->expiry_s = s;
    m->expires_at = s > 0 ? broker_now(b) + (uint64_t)s * 1000u : UINT64_MAX;
    if (s > 0)
        arm(b);
}

bool expire_due(const struct broker *b, const struct msg *m)
{
    return m->expires_at != 0 && broker_now(b) >= m->expires_at;
}

void expire_restore(struct broker *b, struct msg *m, int64_t arrived_ms, uint32_t expiry_s)
{
    m->expiry_s = expiry_s;
    if (expiry_s == 0) {
        m->expires_at = UINT64_MAX;
        return;
    }
    /* Remaining lifetime by the wall clock, then as a loop-time deadline (at least 1, since
     * 0 means "not stamped"): a message whose time passed while Tern was down is due now. */
    int64_t left = arrived_ms + (int64_t)expiry_s * 1000 - plat_wall_ms();
    uint64_t now = broker_now(b);
    m->expires_at = left > 0 ? now + (uint64_t)left : (now > 0 ? now : 1);
    arm(b);
}

int64_t expire_arrival_wall_ms(const struct broker *b, const struct msg *m)
{
    uint64_t now = broker_now(b);
    int64_t left = m->expires_at >= now ? (int64_t)(m->expires_at - now)
                                        : -(int64_t)(now - m->expires_at);
    return plat_wall_ms() + left - (int64_t)m->expiry_s * 1000;
}

/* Every EXPIRE_SWEEP_MS while active: drops the expired heads of every session's queue.
 * Dead letters published on the way only append to queues; no session is freed. */
static void sweep_fire(struct loop *l, struct loop_timer *t, void *data)
{
    struct broker *b = data;
    for (size_t i = 0; i < b->sessions.cap; i++) {
        for (struct sess *s = b->sessions.slots[i]; s != NULL; s = s->hnext)
            sess_expire_queued(s);
    }
    loop_timer_start(l, t, loop_now(l) + EXPIRE_SWEEP_MS);
}
