/*
 * Sessions: see session.h for the state and its invariants.
 *
 * Spec rules enforced here: 3.1.2.4 (clean session and session state), 4.3 (QoS 1 and 2
 * delivery, with method B for inbound QoS 2), 4.4 (resending unacknowledged PUBLISH with DUP
 * and PUBREL on reconnect), 4.6 (order per topic: one in-order window plus an in-order queue),
 * 3.3.1.3 (RETAIN=1 only for retained messages sent because of a new subscription).
 */
#include "session.h"

#include <string.h>

#include "broker.h"
#include "conn.h"
#include "expire.h"
#include "persist.h"
#include "retain.h"
#include "security.h"
#include "share.h"
#include "topic_tree.h"
#include "tern/err.h"
#include "tern/mqtt.h"
#include "tern/msg.h"

#define PID_SPAN_MAX 65535u

/* ---- session table ---------------------------------------------------------------------- */

static uint64_t hash_id(const uint8_t *id, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= id[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int table_grow(struct broker *b)
{
    struct sess_table *t = &b->sessions;
    size_t cap = t->cap ? t->cap * 2 : 64;
    struct sess **slots = mem_calloc(&b->mem, cap, sizeof *slots);
    if (slots == NULL)
        return TERN_ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        struct sess *s = t->slots[i];
        while (s != NULL) {
            struct sess *next = s->hnext;
            s->hnext = slots[s->hash & (cap - 1)];
            slots[s->hash & (cap - 1)] = s;
            s = next;
        }
    }
    mem_free(&b->mem, t->slots);
    t->slots = slots;
    t->cap = cap;
    return TERN_OK;
}

struct sess *sess_find(struct broker *b, const uint8_t *id, size_t len)
{
    struct sess_table *t = &b->sessions;
    if (t->cap == 0)
        return NULL;
    uint64_t h = hash_id(id, len);
    for (struct sess *s = t->slots[h & (t->cap - 1)]; s != NULL; s = s->hnext) {
        if (s->hash == h && s->id_len == len && memcmp(s->client_id, id, len) == 0)
            return s;
    }
    return NULL;
}

static void table_remove(struct broker *b, struct sess *s)
{
    struct sess **pp = &b->sessions.slots[s->hash & (b->sessions.cap - 1)];
    while (*pp != NULL && *pp != s)
        pp = &(*pp)->hnext;
    if (*pp == s) {
        *pp = s->hnext;
        b->sessions.count--;
    }
}

static void expiry_fire(struct loop *l, struct loop_timer *t, void *data)
{
    struct sess *s = data;
    if (s->conn != NULL)
        return;
    LOG_NOTICE(&s->b->log, "Expiring persistent session of client %s after %lld s offline.",
               s->client_id, s->b->lim.session_expiry_ms / 1000);
    s->b->stats.sessions_expired++;
    sess_free(s);
}

static void retry_fire(struct loop *l, struct loop_timer *t, void *data);

struct sess *sess_new(struct broker *b, const uint8_t *id, size_t len, bool clean)
{
    struct sess_table *t = &b->sessions;
    if ((t->cap == 0 || (t->count + 1) * 4 > t->cap * 3) && table_grow(b) != TERN_OK)
        return NULL;
    struct sess *s = mem_calloc(&b->mem, 1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->client_id = mem_strndup(&b->mem, id, len);
    if (s->client_id == NULL) {
        mem_free(&b->mem, s);
        return NULL;
    }
    s->b = b;
    s->id_len = len;
    s->clean = clean;
    s->hash = hash_id(id, len);
    queue_init(&s->pending, &b->mem);
    loop_timer_init(&s->expiry, expiry_fire, s);
    loop_timer_init(&s->retry, retry_fire, s);
    s->hnext = t->slots[s->hash & (t->cap - 1)];
    t->slots[s->hash & (t->cap - 1)] = s;
    t->count++;
    persist_sess_new(b->persist, s);
    return s;
}

void sess_free(struct sess *s)
{
    struct broker *b = s->b;
    persist_sess_free(b->persist, s);
    table_remove(b, s);
    loop_timer_stop(b->loop, &s->expiry);
    loop_timer_stop(b->loop, &s->retry);
    for (size_t i = 0; i < s->n_subs; i++) {
        const uint8_t *f = (const uint8_t *)s->subs[i].filter;
        if (share_is_shared(f, s->subs[i].len))
            share_unsubscribe(b, f, s->subs[i].len, s);
        else
            topic_unsubscribe(b->subs, f, s->subs[i].len, s);
        mem_free(&b->mem, s->subs[i].filter);
    }
    mem_free(&b->mem, s->subs);
    for (size_t i = 0; i < s->infl_span; i++)
        msg_unref(&s->infl[(s->infl_head + i) & (s->infl_cap - 1)].m);
    mem_free(&b->mem, s->infl);
    queue_cleanup(&s->pending);
    msg_unref(&s->will);
    mem_free(&b->mem, s->in_qos2);
    mem_free(&b->mem, s->client_id);
    mem_free(&b->mem, s->username);
    mem_free(&b->mem, s);
}

void sess_free_all(struct broker *b)
{
    for (size_t i = 0; i < b->sessions.cap; i++) {
        while (b->sessions.slots[i] != NULL)
            sess_free(b->sessions.slots[i]);
    }
    mem_free(&b->mem, b->sessions.slots);
    memset(&b->sessions, 0, sizeof b->sessions);
}

/* ---- outbound window -------------------------------------------------------------------- */

static struct infl *infl_at(struct sess *s, size_t i)
{
    return &s->infl[(s->infl_head + i) & (s->infl_cap - 1)];
}

/* Open while fewer than max_inflight are live and the connection's unsent output is within
 * out_limit: a subscriber that stops reading keeps its QoS 1/2 messages in its queue, bounded
 * by max_queued_messages/bytes, not in an ever-growing output buffer. */
static bool window_open(const struct sess *s)
{
    long max = s->b->lim.max_inflight;
    if (max > 0 && s->infl_live >= (size_t)max)
        return false;
    if (s->conn != NULL && s->conn->out.pending > s->b->lim.out_limit)
        return false;
    return s->infl_span < PID_SPAN_MAX;
}

static int infl_grow(struct sess *s)
{
    size_t cap = s->infl_cap ? s->infl_cap * 2 : 8;
    struct infl *r = mem_alloc(&s->b->mem, cap * sizeof *r);
    if (r == NULL)
        return TERN_ENOMEM;
    for (size_t i = 0; i < s->infl_span; i++)
        r[i] = *infl_at(s, i);
    mem_free(&s->b->mem, s->infl);
    s->infl = r;
    s->infl_cap = cap;
    s->infl_head = 0;
    return TERN_OK;
}

/* ---- retries while connected (retry_interval, retry_max_interval, max_delivery_attempts) -- */

/* The pause after the n-th send: retry_interval doubled per send, capped at
 * retry_max_interval, with +-25% jitter so many clients do not resend in step. */
static uint64_t backoff(struct broker *b, unsigned sends)
{
    uint64_t d = b->lim.retry_ms;
    for (unsigned i = 1; i < sends && d < b->lim.retry_max_ms; i++)
        d *= 2;
    if (d > b->lim.retry_max_ms)
        d = b->lim.retry_max_ms;
    b->rng ^= b->rng << 13;
    b->rng ^= b->rng >> 7;
    b->rng ^= b->rng << 17;
    return d * 3 / 4 + b->rng % (d / 2 + 1);
}

/* Gives e its next resend time and makes sure the session's timer fires by then. */
static void retry_schedule(struct sess *s, struct infl *e)
{
    if (s->b->lim.retry_ms == 0 || s->conn == NULL)
        return;
    e->due = broker_now(s->b) + backoff(s->b, e->attempts);
    if (!loop_timer_armed(&s->retry) || s->retry.deadline > e->due)
        loop_timer_start(s->b->loop, &s->retry, e->due);
}

static void infl_release(struct sess *s, struct infl *e);

/* Resends (DUP) every due PUBLISH still waiting for PUBACK/PUBREC, or drops it once it was
 * sent max_delivery_attempts times; resends a due PUBREL still waiting for PUBCOMP (the
 * message is delivered by then, so a PUBREL is never dropped: it backs off up to
 * retry_max_interval); re-arms for the earliest next one. */
static void retry_fire(struct loop *l, struct loop_timer *t, void *data)
{
    struct sess *s = data;
    struct broker *b = s->b;
    uint64_t now = broker_now(b);
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; s->conn != NULL && i < s->infl_span; i++) {
        struct infl *e = infl_at(s, i);
        if (e->state == INFL_WAIT_PUBCOMP) {
            if (e->due <= now) {
                conn_send_ack(s->conn, MQTT_PUBREL, e->packet_id);
                b->stats.retries++;
                if (e->attempts < UINT8_MAX)
                    e->attempts++;
                e->due = now + backoff(b, e->attempts);
            }
            next = e->due < next ? e->due : next;
            continue;
        }
        if ((e->state != INFL_WAIT_PUBACK && e->state != INFL_WAIT_PUBREC) || e->m == NULL)
            continue;
        if (e->due > now) {
            next = e->due < next ? e->due : next;
            continue;
        }
        if (b->lim.max_attempts > 0 && e->attempts >= b->lim.max_attempts) {
            b->stats.dropped_max_attempts++;
            LOG_NOTICE(&b->log, "Dropping a QoS %u message on '%s' for client %s: not "
                       "acknowledged after %u sends (max_delivery_attempts).", e->qos,
                       e->m->topic, s->client_id, e->attempts);
            /* Releasing moves the ring and may send queued messages: scan again. The dead
             * letter goes out after, since publishing it may grow this session's ring. */
            struct msg *dm = msg_ref(e->m);
            infl_release(s, e);
            broker_dead_letter(b, dm, "max-attempts");
            msg_unref(&dm);
            i = (size_t)-1;
            next = UINT64_MAX;
            continue;
        }
        conn_send_publish(s->conn, e->m, e->qos, e->retain, true, e->packet_id);
        b->stats.retries++;
        if (e->attempts < UINT8_MAX)
            e->attempts++;
        e->due = now + backoff(b, e->attempts);
        next = e->due < next ? e->due : next;
    }
    if (next != UINT64_MAX && s->conn != NULL)
        loop_timer_start(l, t, next);
}

/* Sends m as a new in-flight QoS 1/2 message (from_queue: it was the queue's head, just
 * popped). Borrows m. */
static int send_new(struct sess *s, struct msg *m, uint8_t qos, bool retain, bool from_queue)
{
    if (s->infl_span == s->infl_cap && infl_grow(s) != TERN_OK)
        return TERN_ENOMEM;
    s->last_pid = (uint16_t)(s->last_pid + 1);
    if (s->last_pid == 0)
        s->last_pid = 1;
    struct infl *e = infl_at(s, s->infl_span);
    e->m = msg_ref(m);
    e->packet_id = s->last_pid;
    e->qos = qos;
    e->retain = retain;
    e->shared = false;
    e->attempts = 1;
    e->state = qos == 1 ? INFL_WAIT_PUBACK : INFL_WAIT_PUBREC;
    retry_schedule(s, e);
    s->infl_span++;
    s->infl_live++;
    if (from_queue)
        persist_q_pop(s->b->persist, s, m, true, e->packet_id);
    else
        persist_infl(s->b->persist, s, m, e->packet_id, qos, retain);
    return conn_send_publish(s->conn, m, qos, retain, false, e->packet_id);
}

static void send_qos0(struct sess *s, struct msg *m, bool retain)
{
    struct conn *c = s->conn;
    if (c->out.pending > s->b->lim.out_limit) {
        uint64_t n = ++s->b->stats.dropped_slow_qos0;
        if ((n & (n - 1)) == 0)
            LOG_NOTICE(&s->b->log, "QoS 0 messages are being dropped for client %s: %zu output "
                       "bytes unread (%llu dropped in all).", s->client_id, c->out.pending,
                       (unsigned long long)n);
        return;
    }
    conn_send_publish(c, m, 0, retain, false, 0);
}

static void enqueue(struct sess *s, struct msg *m, uint8_t qos, bool retain, bool shared)
{
    struct broker *b = s->b;
    if (queue_full(&s->pending, b->lim.max_queued_messages, b->lim.max_queued_bytes,
                   msg_size(m))) {
        uint64_t n = ++b->stats.dropped_queue_full;
        if ((n & (n - 1)) == 0)
            LOG_NOTICE(&b->log,
                       "Outgoing messages are being dropped for client %s: queue full "
                       "(%zu messages, %zu bytes; %llu dropped in all).",
                       s->client_id, s->pending.count, s->pending.bytes,
                       (unsigned long long)n);
        broker_dead_letter(b, m, "queue-full");
        return;
    }
    if (queue_push(&s->pending, m, qos, retain) != TERN_OK) {
        b->stats.dropped_nomem++;
        return;
    }
    queue_at(&s->pending, s->pending.count - 1)->shared = shared;
    persist_q_push(b->persist, s, m, qos, retain);
}

/* m (borrowed), just removed from s's queue, outlived its message_expiry. */
static void drop_expired(struct sess *s, struct msg *m)
{
    struct broker *b = s->b;
    uint64_t n = ++b->stats.dropped_expired;
    if ((n & (n - 1)) == 0)
        LOG_NOTICE(&b->log, "Dropping expired messages for client %s: '%s' waited over its "
                   "message_expiry of %u s (%llu expired in all).", s->client_id, m->topic,
                   m->expiry_s, (unsigned long long)n);
    broker_dead_letter(b, m, "expired");
}

/* Queue entries that would be delivered now but outlived their message_expiry; retained
 * messages sent for a new subscription do not expire (expire.h). */
static bool entry_expired(const struct sess *s, const struct qentry *e)
{
    return !e->retain && expire_due(s->b, e->m);
}

void sess_expire_queued(struct sess *s)
{
    struct qentry *head;
    struct qentry e;
    while ((head = queue_peek(&s->pending)) != NULL && entry_expired(s, head)) {
        queue_pop(&s->pending, &e);
        persist_q_pop(s->b->persist, s, e.m, false, 0);
        drop_expired(s, e.m);
        msg_unref(&e.m);
    }
}

/* Moves queued messages into the window while it is open (the client is online). */
static void drain(struct sess *s)
{
    struct qentry e;
    while (s->conn != NULL && s->pending.count > 0) {
        struct qentry *head = queue_peek(&s->pending);
        if (head->qos > 0 && !window_open(s))
            break;
        queue_pop(&s->pending, &e);
        if (entry_expired(s, &e)) {
            persist_q_pop(s->b->persist, s, e.m, false, 0);
            drop_expired(s, e.m);
            msg_unref(&e.m);
            continue;
        }
        /* Queued before the username was known (a session restored from disk): check now. */
        if (s->b->acl != NULL &&
            !security_may_read(s, (const uint8_t *)e.m->topic, e.m->topic_len)) {
            s->b->stats.acl_denied_read++;
            persist_q_pop(s->b->persist, s, e.m, false, 0);
            msg_unref(&e.m);
            continue;
        }
        if (e.qos == 0) {
            persist_q_pop(s->b->persist, s, e.m, false, 0);
            send_qos0(s, e.m, e.retain);
        } else if (send_new(s, e.m, e.qos, e.retain, true) == TERN_ENOMEM) {
            s->b->stats.dropped_nomem++;
        }
        msg_unref(&e.m);
    }
}

static void deliver(struct sess *s, struct msg *m, uint8_t qos, bool retain, bool shared)
{
    if (s->b->acl != NULL && s->user_known &&
        !security_may_read(s, (const uint8_t *)m->topic, m->topic_len)) {
        s->b->stats.acl_denied_read++;
        return;
    }
    if (s->conn == NULL) {
        if (qos > 0 || s->b->lim.queue_qos0)
            enqueue(s, m, qos, retain, shared);
        return;
    }
    if (qos == 0) {
        send_qos0(s, m, retain);
    } else if (s->pending.count == 0 && window_open(s)) {
        if (send_new(s, m, qos, retain, false) != TERN_OK)
            s->b->stats.dropped_nomem++;
    } else {
        enqueue(s, m, qos, retain, shared);
    }
}

void sess_deliver(struct sess *s, struct msg *m, uint8_t qos, bool retain)
{
    deliver(s, m, qos, retain, false);
}

bool sess_can_take(const struct sess *s)
{
    return s->conn != NULL && s->pending.count == 0 && window_open(s);
}

void sess_deliver_shared(struct sess *s, struct msg *m, uint8_t qos)
{
    if (qos == 0 || !sess_can_take(s) ||
        (s->b->acl != NULL && s->user_known &&
         !security_may_read(s, (const uint8_t *)m->topic, m->topic_len))) {
        deliver(s, m, qos, false, true);
        return;
    }
    if (send_new(s, m, qos, false, false) != TERN_OK) {
        s->b->stats.dropped_nomem++;
        return;
    }
    infl_at(s, s->infl_span - 1)->shared = true;
}

/* The queued part of sess_take_shared: one pass over the queue in order, passing on the
 * shared entries and putting the others back at the tail (with their log records, so the
 * logged queue stays the same as the one in memory; only QPOP/QPUSH are needed). */
static void take_shared_queued(struct sess *s, void (*fn)(void *ctx, struct msg *m), void *ctx)
{
    struct queue *q = &s->pending;
    bool any = false;
    for (size_t i = 0; i < q->count && !any; i++)
        any = queue_at(q, i)->shared;
    if (!any)
        return;
    struct qentry e;
    for (size_t n = q->count; n > 0 && queue_pop(q, &e); n--) {
        persist_q_pop(s->b->persist, s, e.m, false, 0);
        if (e.shared)
            fn(ctx, e.m);
        else if (queue_push(q, e.m, e.qos, e.retain) == TERN_OK)
            persist_q_push(s->b->persist, s, e.m, e.qos, e.retain);
        else
            s->b->stats.dropped_nomem++;
        msg_unref(&e.m);
    }
}

void sess_take_shared(struct sess *s, void (*fn)(void *ctx, struct msg *m), void *ctx)
{
    for (size_t i = 0; i < s->infl_span; i++) {
        struct infl *e = infl_at(s, i);
        if (!e->shared || e->m == NULL ||
            (e->state != INFL_WAIT_PUBACK && e->state != INFL_WAIT_PUBREC))
            continue;
        struct msg *m = msg_ref(e->m);
        persist_infl_done(s->b->persist, s, e->m, e->packet_id);
        msg_unref(&e->m);
        e->state = INFL_FREE;
        s->infl_live--;
        fn(ctx, m);
        msg_unref(&m);
    }
    while (s->infl_span > 0 && infl_at(s, 0)->state == INFL_FREE) {
        s->infl_head = (s->infl_head + 1) & (s->infl_cap - 1);
        s->infl_span--;
    }
    take_shared_queued(s, fn, ctx);
}

/* Finds the live in-flight entry with this packet id (the oldest is checked first: acks
 * usually arrive in order). */
static struct infl *infl_find(struct sess *s, uint16_t packet_id)
{
    for (size_t i = 0; i < s->infl_span; i++) {
        struct infl *e = infl_at(s, i);
        if (e->state != INFL_FREE && e->packet_id == packet_id)
            return e;
    }
    return NULL;
}

static void infl_release(struct sess *s, struct infl *e)
{
    persist_infl_done(s->b->persist, s, e->m, e->packet_id);
    msg_unref(&e->m);
    e->state = INFL_FREE;
    s->infl_live--;
    while (s->infl_span > 0 && infl_at(s, 0)->state == INFL_FREE) {
        s->infl_head = (s->infl_head + 1) & (s->infl_cap - 1);
        s->infl_span--;
    }
    drain(s);
}

int sess_on_puback(struct sess *s, uint16_t packet_id)
{
    struct infl *e = infl_find(s, packet_id);
    if (e == NULL || e->state != INFL_WAIT_PUBACK)
        return TERN_ENOTFOUND;
    infl_release(s, e);
    return TERN_OK;
}

int sess_on_pubrec(struct sess *s, uint16_t packet_id)
{
    struct infl *e = infl_find(s, packet_id);
    if (e == NULL || e->state == INFL_WAIT_PUBACK)
        return TERN_ENOTFOUND;
    /* A repeated PUBREC (after a reconnect) is answered with PUBREL again. */
    if (e->state == INFL_WAIT_PUBREC)
        persist_infl_pubrec(s->b->persist, s, e->m, packet_id);
    if (e->state == INFL_WAIT_PUBREC) {
        e->state = INFL_WAIT_PUBCOMP;
        e->attempts = 1;
        retry_schedule(s, e);
    }
    msg_unref(&e->m);
    return s->conn != NULL ? conn_send_ack(s->conn, MQTT_PUBREL, packet_id) : TERN_OK;
}

int sess_on_pubcomp(struct sess *s, uint16_t packet_id)
{
    struct infl *e = infl_find(s, packet_id);
    if (e == NULL || e->state != INFL_WAIT_PUBCOMP)
        return TERN_ENOTFOUND;
    infl_release(s, e);
    return TERN_OK;
}

/* ---- inbound QoS 2 ---------------------------------------------------------------------- */

bool sess_qos2_seen(const struct sess *s, uint16_t packet_id)
{
    for (size_t i = 0; i < s->n_in_qos2; i++) {
        if (s->in_qos2[i] == packet_id)
            return true;
    }
    return false;
}

int sess_qos2_add(struct sess *s, uint16_t packet_id)
{
    if (s->n_in_qos2 == s->in_qos2_cap) {
        size_t cap = s->in_qos2_cap ? s->in_qos2_cap * 2 : 8;
        uint16_t *a = mem_realloc(&s->b->mem, s->in_qos2, cap * sizeof *a);
        if (a == NULL)
            return TERN_ENOMEM;
        s->in_qos2 = a;
        s->in_qos2_cap = cap;
    }
    s->in_qos2[s->n_in_qos2++] = packet_id;
    persist_qos2_in(s->b->persist, s, packet_id, true);
    return TERN_OK;
}

void sess_qos2_release(struct sess *s, uint16_t packet_id)
{
    for (size_t i = 0; i < s->n_in_qos2; i++) {
        if (s->in_qos2[i] == packet_id) {
            s->in_qos2[i] = s->in_qos2[--s->n_in_qos2];
            persist_qos2_in(s->b->persist, s, packet_id, false);
            return;
        }
    }
}

/* ---- recovery --------------------------------------------------------------------------- */

int sess_restore_infl(struct sess *s, uint16_t packet_id, uint8_t qos, uint8_t state,
                      struct msg *m, bool retain)
{
    if (packet_id == 0 || infl_find(s, packet_id) != NULL || s->infl_span >= PID_SPAN_MAX)
        return TERN_EINVAL;
    if (s->infl_span == s->infl_cap && infl_grow(s) != TERN_OK)
        return TERN_ENOMEM;
    struct infl *e = infl_at(s, s->infl_span);
    e->m = m != NULL ? msg_ref(m) : NULL;
    e->packet_id = packet_id;
    e->qos = qos;
    e->retain = retain;
    e->shared = false;
    e->attempts = 1;
    e->due = 0;
    e->state = state;
    s->infl_span++;
    s->infl_live++;
    s->last_pid = packet_id;
    return TERN_OK;
}

int sess_restore_done(struct sess *s, uint16_t packet_id)
{
    struct infl *e = infl_find(s, packet_id);
    if (e == NULL)
        return TERN_ENOTFOUND;
    infl_release(s, e);
    return TERN_OK;
}

/* ---- attach and detach ------------------------------------------------------------------ */

void sess_attach(struct sess *s, struct conn *c)
{
    s->conn = c;
    loop_timer_stop(s->b->loop, &s->expiry);
    for (size_t i = 0; i < s->infl_span; i++) {
        struct infl *e = infl_at(s, i);
        /* A resend on reconnect (MQTT 3.1.1 4.4) does not count towards
         * max_delivery_attempts; the next timed resend keeps the backoff reached so far. */
        if (e->state == INFL_WAIT_PUBACK || e->state == INFL_WAIT_PUBREC) {
            conn_send_publish(c, e->m, e->qos, e->retain, true, e->packet_id);
            retry_schedule(s, e);
        } else if (e->state == INFL_WAIT_PUBCOMP) {
            conn_send_ack(c, MQTT_PUBREL, e->packet_id);
            retry_schedule(s, e);
        }
    }
    drain(s);
}

void sess_output_drained(struct sess *s)
{
    drain(s);
}

void sess_detach(struct sess *s)
{
    struct broker *b = s->b;
    s->conn = NULL;
    loop_timer_stop(b->loop, &s->retry);
    share_handover(b, s);
    if (s->clean) {
        sess_free(s);
        return;
    }
    if (b->lim.session_expiry_ms > 0 && s->bridge == NULL)
        loop_timer_start(b->loop, &s->expiry,
                         broker_now(b) + (uint64_t)b->lim.session_expiry_ms);
}

/* ---- subscriptions ---------------------------------------------------------------------- */

static struct sub *sub_find(struct sess *s, const uint8_t *filter, size_t len)
{
    for (size_t i = 0; i < s->n_subs; i++) {
        if (s->subs[i].len == len && memcmp(s->subs[i].filter, filter, len) == 0)
            return &s->subs[i];
    }
    return NULL;
}

int sess_subscribe(struct sess *s, const uint8_t *filter, size_t len, uint8_t qos)
{
    struct broker *b = s->b;
    struct sub *sub = sub_find(s, filter, len);
    if (sub == NULL && s->n_subs == s->subs_cap) {
        size_t cap = s->subs_cap ? s->subs_cap * 2 : 1;
        struct sub *a = mem_realloc(&b->mem, s->subs, cap * sizeof *a);
        if (a == NULL)
            return TERN_ENOMEM;
        s->subs = a;
        s->subs_cap = cap;
    }
    char *copy = NULL;
    if (sub == NULL && (copy = mem_strndup(&b->mem, filter, len)) == NULL)
        return TERN_ENOMEM;
    bool is_new;
    int rc = share_is_shared(filter, len) ? share_subscribe(b, filter, len, s, qos)
                                          : topic_subscribe(b->subs, filter, len, s, qos, &is_new);
    if (rc != TERN_OK) {
        mem_free(&b->mem, copy);
        return rc;
    }
    bool added = sub == NULL;
    if (added) {
        sub = &s->subs[s->n_subs++];
        sub->filter = copy;
        sub->len = (uint16_t)len;
    }
    sub->qos = qos;
    persist_sub(b->persist, s, filter, len, qos, added);
    return TERN_OK;
}

void sess_unsubscribe(struct sess *s, const uint8_t *filter, size_t len)
{
    struct sub *sub = sub_find(s, filter, len);
    if (sub == NULL)
        return;
    if (share_is_shared(filter, len))
        share_unsubscribe(s->b, filter, len, s);
    else
        topic_unsubscribe(s->b->subs, filter, len, s);
    persist_unsub(s->b->persist, s, filter, len);
    mem_free(&s->b->mem, sub->filter);
    *sub = s->subs[--s->n_subs];
}

struct retained_ctx {
    struct sess *s;
    uint8_t qos;
};

static void send_one_retained(void *ctx, struct msg *m)
{
    struct retained_ctx *rc = ctx;
    uint8_t qos = m->qos < rc->qos ? m->qos : rc->qos;
    sess_deliver(rc->s, m, qos, true);
}

void sess_send_retained(struct sess *s, const uint8_t *filter, size_t len, uint8_t qos)
{
    struct retained_ctx rc = {s, qos};
    retain_match(s->b->retained, filter, len, send_one_retained, &rc);
}
