/*
 * Monitoring: the counters of struct metrics (b->stats) and the broker's gauges, published two
 * ways.
 *
 * $SYS topics: every sys_interval seconds a loop timer publishes $SYS/broker/... as retained
 * QoS 0 messages with Mosquitto's names and meanings (its mosquitto.conf(5) and sys_tree.c):
 * messages/received|sent count MQTT packets of every type, publish/messages/... count PUBLISH
 * packets, clients/total counts sessions (connected and persistent disconnected), load/...
 * are per-minute rates averaged over 1, 5 and 15 minutes. They go through
 * broker_publish_volatile: kept in memory, never written by persistence. MQTT 3.1.1 section
 * 4.7.2 keeps them from '#' and '+' subscribers; clients subscribe to $SYS/# explicitly.
 *
 * Prometheus: metrics_prometheus renders the same numbers in the text format 0.0.4 with
 * Prometheus naming (tern_ prefix, _total on counters, bytes and seconds as base units, the
 * cause of a drop as a reason label) for net_http.c's GET /metrics.
 */
#include "metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bridge.h"
#include "broker.h"
#include "listener.h"
#include "retain.h"
#include "session.h"
#include "tern/err.h"
#include "tern/msg.h"
#include "tern/tern.h"
#include "topic_tree.h"

const uint64_t metrics_sync_bounds_us[METRICS_SYNC_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000,
};

static const char *const reason_names[METRICS_N_REASONS] = {
    "queue-full", "max-attempts", "expired", "other",
};

enum metrics_reason metrics_reason(const char *reason)
{
    for (int i = 0; i < METRICS_OTHER; i++) {
        if (strcmp(reason, reason_names[i]) == 0)
            return (enum metrics_reason)i;
    }
    return METRICS_OTHER;
}

void metrics_hist_add(struct metrics_hist *h, uint64_t us)
{
    size_t i = 0;
    while (i < METRICS_SYNC_BUCKETS && us > metrics_sync_bounds_us[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum_us += us;
}

/* Totals over every session (walks the session table: O(sessions), once per scrape). */
struct sess_totals {
    uint64_t sessions;
    uint64_t queued;
    uint64_t queued_bytes;
    uint64_t queued_max;             /* the longest single queue */
    uint64_t queued_bytes_max;       /* the largest single queue, in bytes */
    uint64_t inflight;
    uint64_t disconnected;           /* persistent sessions without a connection */
};

static void sess_totals(const struct broker *b, struct sess_totals *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < b->sessions.cap; i++) {
        for (const struct sess *s = b->sessions.slots[i]; s != NULL; s = s->hnext) {
            t->sessions++;
            t->queued += s->pending.count;
            t->queued_bytes += s->pending.bytes;
            if (s->pending.count > t->queued_max)
                t->queued_max = s->pending.count;
            if (s->pending.bytes > t->queued_bytes_max)
                t->queued_bytes_max = s->pending.bytes;
            t->inflight += s->infl_live;
            if (s->conn == NULL)
                t->disconnected++;
        }
    }
}

/* e^-x for x >= 0 without libm: halve x until small, a Taylor step, square back. */
static double exp_neg(double x)
{
    int k = 0;
    while (x > 0.01 && k < 60) {
        x /= 2;
        k++;
    }
    double r = 1.0 - x + x * x / 2 - x * x * x / 6;
    while (k-- > 0)
        r *= r;
    return r;
}

/* ---- $SYS ------------------------------------------------------------------------------- */

static void sys_pub(struct broker *b, const char *topic, const char *fmt, ...)
{
    char val[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(val, sizeof val, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof val)
        n = (int)sizeof val - 1;
    char t[96];
    int tl = snprintf(t, sizeof t, "$SYS/broker/%s", topic);
    struct msg *m = msg_new(&b->mem, (const uint8_t *)t, (size_t)tl, (const uint8_t *)val,
                            (size_t)n, 0, true);
    if (m == NULL) {
        b->stats.dropped_nomem++;
        return;
    }
    broker_publish_volatile(b, m);
    msg_unref(&m);
}

/* Mosquitto's calc_load: a per-minute rate folded into an exponential moving average. */
static void sys_loads(struct broker *b, uint64_t now)
{
    struct metrics_sys *ms = &b->sys;
    const uint64_t cur[4] = {b->stats.packets_received, b->stats.packets_sent,
                             b->stats.bytes_received, b->stats.bytes_sent};
    static const char *const names[4] = {"messages/received", "messages/sent",
                                         "bytes/received", "bytes/sent"};
    static const char *const spans[3] = {"1min", "5min", "15min"};
    static const double minutes[3] = {1, 5, 15};
    if (ms->last_ms != 0 && now > ms->last_ms) {
        double dt = (double)(now - ms->last_ms) / 1000.0;
        for (int i = 0; i < 4; i++) {
            double rate = (double)(cur[i] - ms->last[i]) * 60.0 / dt;
            for (int j = 0; j < 3; j++) {
                double e = exp_neg(dt / (60.0 * minutes[j]));
                ms->load[i][j] = rate + e * (ms->load[i][j] - rate);
                char topic[64];
                snprintf(topic, sizeof topic, "load/%s/%s", names[i], spans[j]);
                sys_pub(b, topic, "%.2f", ms->load[i][j]);
            }
        }
    }
    ms->last_ms = now;
    memcpy(ms->last, cur, sizeof cur);
}

static void note_found(void *ctx, struct msg *m)
{
    *(bool *)ctx = true;
}

static void sys_tick(struct loop *l, struct loop_timer *t, void *data)
{
    struct broker *b = data;
    const struct metrics *st = &b->stats;
    struct sess_totals tot;
    sess_totals(b, &tot);
    uint64_t now = loop_now(l);
    sys_pub(b, "version", "tern version %s", TERN_VERSION);
    sys_pub(b, "uptime", "%" PRIu64 " seconds", (now - b->started_ms) / 1000);
    sys_pub(b, "clients/connected", "%" PRIu64, st->clients_connected);
    sys_pub(b, "clients/active", "%" PRIu64, st->clients_connected);
    sys_pub(b, "clients/disconnected", "%" PRIu64, tot.disconnected);
    sys_pub(b, "clients/inactive", "%" PRIu64, tot.disconnected);
    sys_pub(b, "clients/total", "%" PRIu64, tot.sessions);
    sys_pub(b, "messages/received", "%" PRIu64, st->packets_received);
    sys_pub(b, "messages/sent", "%" PRIu64, st->packets_sent);
    sys_pub(b, "publish/messages/received", "%" PRIu64, st->msgs_received);
    sys_pub(b, "publish/messages/sent", "%" PRIu64, st->msgs_sent);
    sys_pub(b, "publish/messages/dropped", "%" PRIu64,
            st->dropped_queue_full + st->dropped_slow_qos0 + st->dropped_memory_limit +
            st->dropped_expired);
    sys_pub(b, "bytes/received", "%" PRIu64, st->bytes_received);
    sys_pub(b, "bytes/sent", "%" PRIu64, st->bytes_sent);
    sys_pub(b, "store/messages/count", "%" PRIu64, tot.queued + tot.inflight);
    sys_pub(b, "store/messages/bytes", "%" PRIu64, tot.queued_bytes);
    sys_pub(b, "heap/current", "%zu", b->mem.used);
    sys_pub(b, "subscriptions/count", "%zu", topic_count(b->subs) + share_count(b));
    sys_loads(b, now);
    /* Counted last, so it includes this round's $SYS topics, and its own topic when that
     * is not stored yet (the first round). */
    static const char count_topic[] = "$SYS/broker/retained messages/count";
    bool stored = false;
    retain_match(b->retained, (const uint8_t *)count_topic, sizeof count_topic - 1, note_found,
                 &stored);
    b->sys.rounds++;
    sys_pub(b, "retained messages/count", "%zu", retain_count(b->retained) + (stored ? 0 : 1));
    loop_timer_start(l, t, now + (uint64_t)b->conf->sys_interval * 1000u);
}

void metrics_sys_init(struct broker *b)
{
    loop_timer_init(&b->sys.timer, sys_tick, b);
}

void metrics_sys_start(struct broker *b)
{
    if (b->conf->sys_interval > 0)
        loop_timer_start(b->loop, &b->sys.timer, loop_now(b->loop));
}

void metrics_sys_stop(struct broker *b)
{
    loop_timer_stop(b->loop, &b->sys.timer);
}

/* ---- Prometheus ------------------------------------------------------------------------- */

struct out {
    struct broker *b;
    char *p;
    size_t len;
    size_t cap;
    bool failed;
};

static void outf(struct out *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0 || o->failed) {
            o->failed = true;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        char *np = mem_realloc(&o->b->mem, o->p, o->cap * 2);
        if (np == NULL) {
            o->failed = true;
            return;
        }
        o->p = np;
        o->cap *= 2;
    }
}

static void metric(struct out *o, const char *name, const char *type, const char *help,
                   uint64_t v)
{
    outf(o, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type, name, v);
}

static void dropped(struct out *o, const struct metrics *st)
{
    outf(o, "# HELP tern_dropped_messages_total Messages not delivered to a subscriber or "
            "refused, by reason.\n# TYPE tern_dropped_messages_total counter\n");
    const struct {
        const char *reason;
        uint64_t v;
    } r[] = {
        {"queue-full", st->dropped_queue_full},
        {"slow-subscriber", st->dropped_slow_qos0},
        {"max-attempts", st->dropped_max_attempts},
        {"expired", st->dropped_expired},
        {"memory-limit", st->dropped_memory_limit},
        {"no-memory", st->dropped_nomem},
        {"too-large", st->packets_too_large},
        {"acl-denied-read", st->acl_denied_read},
        {"acl-denied-publish", st->acl_denied_publish},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        outf(o, "tern_dropped_messages_total{reason=\"%s\"} %" PRIu64 "\n", r[i].reason,
             r[i].v);
}

static void dead_letters(struct out *o, const struct metrics *st)
{
    outf(o, "# HELP tern_dead_letters_total Dropped messages republished under "
            "dead_letter_topic, by reason.\n# TYPE tern_dead_letters_total counter\n");
    for (int i = 0; i < METRICS_N_REASONS; i++)
        outf(o, "tern_dead_letters_total{reason=\"%s\"} %" PRIu64 "\n", reason_names[i],
             st->dead_letters_by[i]);
}

/* The persistence sync latency histogram, in seconds; only with persistence on. */
static void sync_hist(struct out *o, const struct metrics_hist *h)
{
    outf(o, "# HELP tern_persist_sync_seconds Duration of each fsync of the persistence "
            "log.\n# TYPE tern_persist_sync_seconds histogram\n");
    uint64_t cum = 0;
    for (int i = 0; i < METRICS_SYNC_BUCKETS; i++) {
        cum += h->counts[i];
        outf(o, "tern_persist_sync_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
             (double)metrics_sync_bounds_us[i] / 1e6, cum);
    }
    outf(o, "tern_persist_sync_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
            "tern_persist_sync_seconds_sum %.6f\ntern_persist_sync_seconds_count %" PRIu64
            "\n", h->count, (double)h->sum_us / 1e6, h->count);
}

static void per_listener(struct out *o, const struct broker *b)
{
    outf(o, "# HELP tern_listener_connections Open connections per listener socket.\n"
            "# TYPE tern_listener_connections gauge\n");
    for (size_t i = 0; i < b->n_listeners; i++) {
        const struct listener *lst = &b->listeners[i];
        outf(o, "tern_listener_connections{listener=\"%s\",transport=\"%s\"} %ld\n",
             lst->name, lst->http ? "http" : lst->tp->name, lst->n_conns);
    }
}

/* Per bridge: link state, CONNACKs accepted, failed attempts, messages in and queued. */
static void per_bridge(struct out *o, const struct broker *b)
{
    static const char *const head[] = {
        "# HELP tern_bridge_connected 1 while the bridge's link is up (CONNACK accepted).\n"
        "# TYPE tern_bridge_connected gauge\n",
        "# HELP tern_bridge_connects_total Bridge connections accepted by the remote broker.\n"
        "# TYPE tern_bridge_connects_total counter\n",
        "# HELP tern_bridge_connect_failures_total Bridge connect attempts that failed or "
        "were refused.\n# TYPE tern_bridge_connect_failures_total counter\n",
        "# HELP tern_bridge_messages_received_total PUBLISH packets from the remote broker.\n"
        "# TYPE tern_bridge_messages_received_total counter\n",
        "# HELP tern_bridge_queued_messages Messages waiting to go out on the bridge (queued "
        "and in flight).\n# TYPE tern_bridge_queued_messages gauge\n",
    };
    static const char *const name[] = {
        "tern_bridge_connected", "tern_bridge_connects_total",
        "tern_bridge_connect_failures_total", "tern_bridge_messages_received_total",
        "tern_bridge_queued_messages",
    };
    if (b->n_bridges == 0)
        return;
    for (size_t k = 0; k < sizeof name / sizeof name[0]; k++) {
        outf(o, "%s", head[k]);
        for (size_t i = 0; i < b->n_bridges; i++) {
            const struct bridge *br = &b->bridges[i];
            uint64_t v[] = {br->state == BRIDGE_UP ? 1u : 0u, br->connects,
                            br->connect_failures, br->msgs_in,
                            br->s != NULL ? br->s->pending.count + br->s->infl_live : 0};
            outf(o, "%s{bridge=\"%s\"} %" PRIu64 "\n", name[k], br->cf->name, v[k]);
        }
    }
}

ssize_t metrics_prometheus(struct broker *b, char **out)
{
    struct out o = {b, mem_alloc(&b->mem, 8192), 0, 8192, false};
    if (o.p == NULL)
        return TERN_ENOMEM;
    const struct metrics *st = &b->stats;
    struct sess_totals tot;
    sess_totals(b, &tot);
    outf(&o, "# HELP tern_build_info Tern's version.\n# TYPE tern_build_info gauge\n"
             "tern_build_info{version=\"%s\"} 1\n", TERN_VERSION);
    metric(&o, "tern_uptime_seconds", "gauge", "Seconds since the broker started.",
           (broker_now(b) - b->started_ms) / 1000);
    metric(&o, "tern_clients_connected", "gauge", "Clients with an accepted CONNECT.",
           st->clients_connected);
    metric(&o, "tern_sessions", "gauge", "Sessions, connected and persistent disconnected.",
           tot.sessions);
    metric(&o, "tern_connections_open", "gauge", "MQTT sockets open.", st->connections_open);
    per_listener(&o, b);
    metric(&o, "tern_connections_accepted_total", "counter", "MQTT sockets accepted.",
           st->connections_accepted);
    metric(&o, "tern_connects_accepted_total", "counter", "CONNECTs accepted.",
           st->clients_total);
    metric(&o, "tern_connects_refused_total", "counter", "CONNECTs refused (CONNACK not 0).",
           st->connects_refused);
    outf(&o, "# HELP tern_connections_refused_total Sockets closed at accept, by limit.\n"
             "# TYPE tern_connections_refused_total counter\n"
             "tern_connections_refused_total{reason=\"max-connections\"} %" PRIu64 "\n"
             "tern_connections_refused_total{reason=\"max-connections-per-address\"} %"
             PRIu64 "\n", st->connections_refused_limit, st->connections_refused_per_address);
    metric(&o, "tern_packets_received_total", "counter", "MQTT packets received.",
           st->packets_received);
    metric(&o, "tern_packets_sent_total", "counter", "MQTT packets sent.", st->packets_sent);
    metric(&o, "tern_messages_received_total", "counter", "PUBLISH packets received.",
           st->msgs_received);
    metric(&o, "tern_messages_sent_total", "counter", "PUBLISH packets sent.", st->msgs_sent);
    metric(&o, "tern_received_bytes_total", "counter", "Bytes of MQTT packets received.",
           st->bytes_received);
    metric(&o, "tern_sent_bytes_total", "counter", "Bytes written to clients.",
           st->bytes_sent);
    dropped(&o, st);
    metric(&o, "tern_retained_messages", "gauge", "Retained messages.",
           retain_count(b->retained));
    metric(&o, "tern_subscriptions", "gauge", "Subscriptions, shared ones included.",
           topic_count(b->subs) + share_count(b));
    metric(&o, "tern_queued_messages", "gauge", "Messages queued in sessions.", tot.queued);
    metric(&o, "tern_queued_bytes", "gauge", "Bytes of messages queued in sessions.",
           tot.queued_bytes);
    metric(&o, "tern_queued_messages_max", "gauge", "The longest session queue.",
           tot.queued_max);
    metric(&o, "tern_queued_bytes_max", "gauge", "The largest session queue, in bytes.",
           tot.queued_bytes_max);
    metric(&o, "tern_inflight_messages", "gauge", "Outbound QoS 1/2 messages awaiting "
           "acknowledgement.", tot.inflight);
    metric(&o, "tern_memory_bytes", "gauge", "Bytes allocated.", b->mem.used);
    metric(&o, "tern_memory_limit_bytes", "gauge", "memory_limit (0 = none).", b->mem.limit);
    dead_letters(&o, st);
    if (b->persist != NULL)
        sync_hist(&o, &st->persist_sync);
    metric(&o, "tern_retries_total", "counter", "QoS 1/2 resends to connected clients.",
           st->retries);
    metric(&o, "tern_protocol_errors_total", "counter", "Connections closed for bad input.",
           st->protocol_errors);
    metric(&o, "tern_keepalive_expired_total", "counter", "Connections closed: keepalive.",
           st->keepalive_expired);
    metric(&o, "tern_takeovers_total", "counter", "Sessions taken over by a new connection.",
           st->takeovers);
    metric(&o, "tern_wills_published_total", "counter", "Wills published.",
           st->wills_published);
    metric(&o, "tern_sessions_expired_total", "counter", "Persistent sessions expired.",
           st->sessions_expired);
    metric(&o, "tern_auth_failures_total", "counter", "Logins refused.", st->auth_failures);
    metric(&o, "tern_tls_handshake_failures_total", "counter", "TLS handshakes failed.",
           st->tls_handshake_failures);
    metric(&o, "tern_http_requests_total", "counter", "HTTP requests answered.",
           st->http_requests);
    per_bridge(&o, b);
    if (o.failed) {
        mem_free(&b->mem, o.p);
        return TERN_ENOMEM;
    }
    *out = o.p;
    return (ssize_t)o.len;
}
