/*
 * struct broker and its lifecycle: start-up in dependency order, the run loop (signals,
 * before-sleep flush), reload on SIGHUP, teardown in reverse order, and the publish fan-out
 * that every PUBLISH and every will goes through.
 *
 * Fan-out (MQTT 3.1.1 sections 3.3.5 and 4.7): the topic tree reports every matching
 * (session, granted QoS) pair; a session matched by several overlapping filters gets ONE copy
 * at the highest granted QoS, found with a per-publish generation stamp on the session, so no
 * per-publish allocation or set is needed. Each recipient gets min(published QoS, granted
 * QoS) and RETAIN=0 (3.3.1-9); the message itself is shared by reference.
 */
#include "broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "conn.h"
#include "listener.h"
#include "loop.h"
#include "net_http.h"
#include "persist.h"
#include "retain.h"
#include "security.h"
#include "session.h"
#include "tern/err.h"
#include "tern/mqtt.h"
#include "tern/msg.h"
#include "tern/platform.h"
#include "tern/tern.h"
#include "topic_tree.h"

#define CONNECT_TIMEOUT_MS 10000u
#define OUT_LIMIT_DEFAULT (8u * 1024u * 1024u)

uint64_t broker_now(const struct broker *b)
{
    return loop_now(b->loop);
}

void broker_apply_limits(struct broker *b, const struct conf *c)
{
    struct limits *l = &b->lim;
    l->max_queued_messages = c->max_queued_messages;
    l->max_queued_bytes = c->max_queued_bytes;
    l->max_inflight = c->max_inflight_messages;
    l->message_size_limit = c->message_size_limit;
    /* The packet bound: the payload limit plus the largest topic and header, so a header
     * announcing more is refused before its bytes are buffered. */
    uint64_t max = c->message_size_limit == 0
                       ? MQTT_MAX_REMAINING + MQTT_MAX_FIXED_HEADER
                       : (uint64_t)c->message_size_limit + MQTT_MAX_STRING + 2 + 2 +
                             MQTT_MAX_FIXED_HEADER;
    l->max_packet = max > UINT32_MAX ? UINT32_MAX : (uint32_t)max;
    l->max_connections = c->max_connections_set ? c->max_connections
                                                : b->board->max_connections;
    b->mem.limit = c->memory_limit >= 0 ? (size_t)c->memory_limit : b->board->memory_limit;
    l->max_conn_per_address = c->max_connections_per_address;
    l->max_keepalive = c->max_keepalive;
    l->session_expiry_ms = c->persistent_client_expiration * 1000;
    l->retain_available = c->retain_available;
    l->queue_qos0 = c->queue_qos0_messages;
    l->allow_anonymous = c->allow_anonymous;
    l->connection_messages = c->connection_messages;
    l->connect_timeout_ms = CONNECT_TIMEOUT_MS;
    l->out_limit = OUT_LIMIT_DEFAULT;
    l->retry_ms = (uint64_t)c->retry_interval * 1000u;
    l->retry_max_ms = (uint64_t)c->retry_max_interval * 1000u;
    if (l->retry_max_ms < l->retry_ms)
        l->retry_max_ms = l->retry_ms;
    l->max_attempts = (uint32_t)c->max_delivery_attempts;
}

/* ---- fan-out ---------------------------------------------------------------------------- */

static void on_match(void *ctx, struct sess *s, uint8_t qos)
{
    struct broker *b = ctx;
    if (s->match_gen == b->match_gen) {
        struct match_entry *e = &b->match[s->match_idx];
        if (qos > e->qos)
            e->qos = qos;
        return;
    }
    if (b->n_match_pending == b->match_cap) {
        size_t cap = b->match_cap ? b->match_cap * 2 : 64;
        struct match_entry *a = mem_realloc(&b->mem, b->match, cap * sizeof *a);
        if (a == NULL) {
            b->stats.dropped_nomem++;
            return;
        }
        b->match = a;
        b->match_cap = cap;
    }
    s->match_gen = b->match_gen;
    s->match_idx = (uint32_t)b->n_match_pending;
    b->match[b->n_match_pending++] = (struct match_entry){s, qos};
}

static void fan_out(struct broker *b, struct msg *m);

void broker_publish(struct broker *b, struct msg *m)
{
    if (m->expires_at == 0)
        expire_stamp(b, m, -1);
    if (m->id == 0)
        m->id = ++b->next_msg_id;
    if (m->retain)
        persist_retain(b->persist, m);
    if (m->retain && retain_set(b->retained, m) != TERN_OK)
        b->stats.dropped_nomem++;
    fan_out(b, m);
}

void broker_publish_volatile(struct broker *b, struct msg *m)
{
    if (m->expires_at == 0)
        expire_stamp(b, m, -1);
    if (m->id == 0)
        m->id = ++b->next_msg_id;
    if (m->retain && retain_set(b->retained, m) != TERN_OK)
        b->stats.dropped_nomem++;
    fan_out(b, m);
}

void broker_dead_letter(struct broker *b, const struct msg *m, const char *reason)
{
    const char *prefix = b->dead_letter;
    if (prefix == NULL)
        return;
    size_t pl = strlen(prefix);
    if (m->topic_len > pl && memcmp(m->topic, prefix, pl) == 0 && m->topic[pl] == '/')
        return;
    size_t rl = strlen(reason);
    size_t tl = pl + 1 + rl + 1 + m->topic_len;
    if (tl > MQTT_MAX_STRING)
        return;
    char *topic = mem_alloc(&b->mem, tl);
    if (topic == NULL) {
        b->stats.dropped_nomem++;
        return;
    }
    memcpy(topic, prefix, pl);
    topic[pl] = '/';
    memcpy(topic + pl + 1, reason, rl);
    topic[pl + 1 + rl] = '/';
    memcpy(topic + pl + 2 + rl, m->topic, m->topic_len);
    struct msg *d = msg_new(&b->mem, (const uint8_t *)topic, tl, m->payload, m->payload_len,
                            m->qos, false);
    mem_free(&b->mem, topic);
    if (d == NULL) {
        b->stats.dropped_nomem++;
        return;
    }
    b->stats.dead_letters++;
    b->stats.dead_letters_by[metrics_reason(reason)]++;
    broker_publish(b, d);
    msg_unref(&d);
}

static void fan_out(struct broker *b, struct msg *m)
{
    /* A publish started inside another one's fan-out (a will, if a delivery ever closes a
     * connection) appends its recipients after the outer ones under a new generation. */
    size_t base = b->n_match_pending;
    if (++b->match_gen == 0)
        b->match_gen = 1;
    topic_match(b->subs, (const uint8_t *)m->topic, m->topic_len, on_match, b);
    size_t end = b->n_match_pending;
    for (size_t i = base; i < end; i++) {
        struct match_entry e = b->match[i];
        /* Loop prevention: what came in through a bridge (or a try_private remote bridge)
         * does not go back out through it. */
        if (e.s->no_local && m->origin == e.s)
            continue;
        /* A bridge forwards the RETAIN flag, so the remote broker keeps the message too
         * (Mosquitto's bridge_outgoing_retain default). */
        bool retain = e.s->bridge != NULL && m->retain;
        sess_deliver(e.s, m, m->qos < e.qos ? m->qos : e.qos, retain);
    }
    b->n_match_pending = base;
    share_publish(b, m);
}

/* ---- lifecycle -------------------------------------------------------------------------- */

/* Takes dead_letter_topic from c (start-up and SIGHUP); on ENOMEM keeps the old one. */
static int set_dead_letter(struct broker *b, const struct conf *c)
{
    char *copy = NULL;
    const char *p = c->dead_letter_topic;
    if (p != NULL && (copy = mem_strndup(&b->mem, p, strlen(p))) == NULL)
        return TERN_ENOMEM;
    mem_free(&b->mem, b->dead_letter);
    b->dead_letter = copy;
    return TERN_OK;
}

static void before_sleep(struct loop *l, void *data)
{
    /* Durable before acknowledged: this turn's records are written and synced, and its
     * PUBACK/PUBREC/PUBCOMP released into the output queues, before anything is flushed. */
    persist_commit(((struct broker *)data)->persist);
    conn_flush_all(data);
    /* A signal that arrived while the loop was busy is acted on now, not after the wait. */
    if (plat_signals_pending())
        loop_wake(l);
}

/* ---- service manager (sd_notify) --------------------------------------------------------- */

static void watchdog_kick(struct loop *l, struct loop_timer *t, void *data)
{
    struct broker *b = data;
    plat_notify_send(&b->notify, "WATCHDOG=1");
    /* Half the interval, as sd_watchdog_enabled(3) advises; at least 1 ms. */
    uint64_t every = b->notify.watchdog_usec / 2000u;
    loop_timer_start(l, t, loop_now(l) + (every > 0 ? every : 1));
}

/* Reads NOTIFY_SOCKET/WATCHDOG_USEC and arms the watchdog timer; READY=1 is sent by run. */
static void notify_start(struct broker *b)
{
    if (plat_notify_init(&b->notify) != TERN_OK)
        LOG_WARN(&b->log, "NOTIFY_SOCKET is set but unusable; not notifying the service manager.");
    if (b->notify.watchdog_usec > 0)
        watchdog_kick(b->loop, &b->watchdog, b);
}

struct tern_broker *tern_broker_new(struct conf *conf, const char *conf_path, char *err,
                                    size_t errlen)
{
    struct broker *b = calloc(1, sizeof *b);
    if (b == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->board = plat_board();
    b->notify.fd = -1;
    loop_timer_init(&b->watchdog, watchdog_kick, b);
    metrics_sys_init(b);
    expire_init(b);
    mem_init(&b->mem, 0);
    b->conf = conf;
    b->conf_path = conf_path;
    broker_apply_limits(b, conf);
    if (log_init(&b->log, conf) != TERN_OK) {
        snprintf(err, errlen, "cannot open log file %s", conf->log_file);
        free(b);
        return NULL;
    }
    b->loop = loop_new(&b->mem, 1024);
    b->subs = topic_tree_new(&b->mem);
    b->retained = retain_new(&b->mem);
    b->rbuf_size = b->board->read_buf;
    b->rbuf = mem_alloc(&b->mem, b->rbuf_size);
    if (b->loop == NULL || b->subs == NULL || b->retained == NULL || b->rbuf == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    loop_update_time(b->loop);
    b->started_ms = loop_now(b->loop);
    b->rng = plat_now_us() | 1u;
    loop_set_before_sleep(b->loop, before_sleep, b);
    if (plat_signals_install() != TERN_OK) {
        snprintf(err, errlen, "cannot install signal handlers");
        goto fail;
    }
    long fds = plat_raise_fd_limit(b->board->fd_want);
    if (conf->persistence && persist_open(b, conf, &b->persist, err, errlen) != TERN_OK)
        goto fail;
    if (security_init(b, conf, err, errlen) != TERN_OK ||
        listener_open_all(b, err, errlen) != TERN_OK ||
        bridge_start_all(b, err, errlen) != TERN_OK)
        goto fail;
    if (set_dead_letter(b, conf) != TERN_OK || expire_configure(b, conf) != TERN_OK) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    notify_start(b);
    metrics_sys_start(b);
    LOG_NOTICE(&b->log, "tern version %s running (%s poller, %ld fds, board %s).",
               TERN_VERSION, loop_backend(b->loop), fds, b->board->name);
    return (struct tern_broker *)b;
fail:
    tern_broker_free((struct tern_broker *)b);
    return NULL;
}

static void reload(struct broker *b)
{
    if (b->conf_path == NULL) {
        LOG_NOTICE(&b->log, "Reload requested; no configuration file to re-read.");
        return;
    }
    struct conf fresh;
    char err[512];
    char state[64];
    snprintf(state, sizeof state, "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)plat_now_us());
    plat_notify_send(&b->notify, state);
    conf_init(&fresh);
    if (conf_load_file(&fresh, b->conf_path, err, sizeof err, NULL, NULL) != TERN_OK) {
        LOG_ERR(&b->log, "Reload failed, keeping the running configuration: %s", err);
        conf_cleanup(&fresh);
        plat_notify_send(&b->notify, "READY=1");
        return;
    }
    if (!fresh.allow_anonymous_set && fresh.n_listeners == 0)
        fresh.allow_anonymous = true;
    broker_apply_limits(b, &fresh);
    b->log.types = fresh.log_type;
    log_reopen(&b->log);
    security_reload(b, &fresh);
    listener_reload_all(b);
    if (set_dead_letter(b, &fresh) != TERN_OK || expire_configure(b, &fresh) != TERN_OK)
        LOG_ERR(&b->log, "Reload: out of memory for dead_letter_topic or message_expiry; "
                "keeping the old values.");
    LOG_NOTICE(&b->log, "Reloaded %s (limits, log types, password and ACL files, "
               "dead_letter_topic, message_expiry; listeners are kept).", b->conf_path);
    conf_cleanup(&fresh);
    plat_notify_send(&b->notify, "READY=1");
}

int tern_broker_run(struct tern_broker *tb)
{
    struct broker *b = (struct broker *)tb;
    /* Listeners are open and the config applied: clients can connect from now on. */
    plat_notify_send(&b->notify, "READY=1");
    while (!b->stop) {
        /* before_sleep skips the wait when a signal is pending; the 1 s cap bounds the
         * remaining window (a signal landing between that check and the wait). */
        if (loop_run_once(b->loop, 1000) < 0) {
            LOG_ERR(&b->log, "Poller failed; stopping.");
            return TERN_EIO;
        }
        unsigned sig = plat_signals_take();
        if (sig & PLAT_SIG_STOP)
            b->stop = true;
        if (sig & PLAT_SIG_RELOAD)
            reload(b);
        if (sig & PLAT_SIG_REOPEN)
            log_reopen(&b->log);
    }
    plat_notify_send(&b->notify, "STOPPING=1");
    LOG_NOTICE(&b->log, "tern version %s terminating.", TERN_VERSION);
    return TERN_OK;
}

void tern_broker_stop(struct tern_broker *tb)
{
    ((struct broker *)tb)->stop = true;
}

void tern_broker_free(struct tern_broker *tb)
{
    struct broker *b = (struct broker *)tb;
    if (b == NULL)
        return;
    b->stop = true;
    if (b->loop != NULL) {
        metrics_sys_stop(b);
        conn_close_all(b);
        bridge_free_all(b);
        net_http_close_all(b);
        listener_close_all(b);
        /* The last records are written before sessions are freed, which must not be logged. */
        persist_free(b->persist);
        b->persist = NULL;
        sess_free_all(b);
        share_free_all(b);
    }
    security_cleanup(b);
    if (b->retained != NULL)
        retain_free(b->retained);
    if (b->subs != NULL)
        topic_tree_free(b->subs);
    mem_free(&b->mem, b->match);
    mem_free(&b->mem, b->rbuf);
    expire_cleanup(b);
    mem_free(&b->mem, b->dead_letter);
    if (b->loop != NULL) {
        loop_timer_stop(b->loop, &b->watchdog);
        loop_free(b->loop);
    }
    plat_notify_cleanup(&b->notify);
    log_cleanup(&b->log);
    free(b);
}
