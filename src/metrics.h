/*
 * The broker's counters. Every limit has a counter here (STYLE 2.10); metrics.c publishes
 * them as $SYS topics every sys_interval and renders them as Prometheus text for the http
 * listener (net_http.c). Plain fields of struct broker: single thread.
 */
#ifndef TERN_METRICS_H
#define TERN_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"

struct broker;

/* Why a message was dropped and dead-lettered: the reason label and the topic level under
 * dead_letter_topic. */
enum metrics_reason {
    METRICS_QUEUE_FULL = 0,           /* "queue-full" */
    METRICS_MAX_ATTEMPTS,             /* "max-attempts" */
    METRICS_EXPIRED,                  /* "expired" */
    METRICS_OTHER,                    /* any other reason string */
    METRICS_N_REASONS,
};

/* Bucket upper bounds of the persistence sync histogram, in microseconds (+Inf is implied). */
#define METRICS_SYNC_BUCKETS 12
extern const uint64_t metrics_sync_bounds_us[METRICS_SYNC_BUCKETS];

/* A latency histogram in the Prometheus sense: cumulative buckets are made when rendering. */
struct metrics_hist {
    uint64_t counts[METRICS_SYNC_BUCKETS + 1];  /* per bucket, the last one is +Inf */
    uint64_t count;
    uint64_t sum_us;
};

struct metrics {
    uint64_t clients_connected;       /* gauge: connections with an accepted CONNECT */
    uint64_t connections_open;        /* gauge: sockets open */
    uint64_t clients_total;           /* accepted CONNECTs since start */
    uint64_t connections_accepted;
    uint64_t connections_refused_limit; /* max_connections */
    uint64_t connections_refused_per_address; /* max_connections_per_address */
    uint64_t stall_timeouts;          /* closed: silent mid-packet for connect_timeout */
    uint64_t reads_paused_output;     /* times a client was not read: its output over out_limit */
    uint64_t dropped_memory_limit;    /* PUBLISH refused (QoS 0 dropped, QoS 1/2 unacked):
                                         memory_limit reached */
    uint64_t connects_refused;        /* CONNACK other than 0 */
    uint64_t protocol_errors;         /* connections closed for malformed or forbidden input */
    uint64_t keepalive_expired;
    uint64_t connect_timeouts;
    uint64_t takeovers;
    uint64_t msgs_received;           /* PUBLISH in */
    uint64_t msgs_sent;               /* PUBLISH out */
    uint64_t packets_received;        /* MQTT packets of every type in */
    uint64_t packets_sent;            /* MQTT packets of every type out */
    uint64_t http_requests;           /* requests answered on http listeners */
    uint64_t http_refused;            /* http connections closed at once: too many open */
    uint64_t bytes_received;
    uint64_t bytes_sent;
    uint64_t qos2_duplicates;         /* resent inbound QoS 2 PUBLISH answered without delivery */
    uint64_t dropped_queue_full;      /* max_queued_messages / max_queued_bytes */
    uint64_t dead_letters;            /* dropped messages republished under dead_letter_topic */
    uint64_t dead_letters_by[METRICS_N_REASONS]; /* the same, by reason */
    uint64_t dropped_expired;         /* queued messages dropped: message_expiry passed */
    struct metrics_hist persist_sync; /* duration of each fsync by persistence */
    uint64_t retries;                 /* QoS 1/2 resends to a connected client (retry_interval) */
    uint64_t dropped_max_attempts;    /* unacknowledged after max_delivery_attempts sends */
    uint64_t dropped_slow_qos0;       /* QoS 0 dropped: subscriber's output buffer full */
    uint64_t dropped_nomem;           /* memory cap */
    uint64_t packets_too_large;       /* message_size_limit */
    uint64_t wills_published;
    uint64_t sessions_expired;
    uint64_t auth_failures;           /* logins refused: unknown user or wrong password */
    uint64_t auth_blocked;            /* logins refused unchecked: address throttled */
    uint64_t acl_denied_publish;      /* PUBLISH (and wills) the client may not write */
    uint64_t acl_denied_read;         /* deliveries skipped: the subscriber may not read */
    uint64_t acl_denied_subscribe;    /* SUBACK 0x80 for a filter the client may not read */
    uint64_t tls_handshake_failures;
};

/* $SYS publication state: the timer and the previous sample for the load averages. */
struct metrics_sys {
    struct loop_timer timer;
    uint64_t rounds;                  /* publications so far */
    uint64_t last_ms;                 /* loop time of the previous sample; 0 = none yet */
    uint64_t last[4];                 /* packets in/out, bytes in/out at that sample */
    double load[4][3];                /* per minute, 1/5/15-minute moving averages */
};

/* The enum metrics_reason of a dead-letter reason string. */
enum metrics_reason metrics_reason(const char *reason);
/* Adds one observation of us microseconds to h. */
void metrics_hist_add(struct metrics_hist *h, uint64_t us);

/* Prepares b->sys (unarmed timer); called first thing, so teardown may always stop it. */
void metrics_sys_init(struct broker *b);
/*
 * Starts publishing $SYS/broker/... retained topics every b->conf->sys_interval seconds
 * (Mosquitto's names and meanings), the first at once; does nothing when it is 0.
 */
void metrics_sys_start(struct broker *b);
void metrics_sys_stop(struct broker *b);

/*
 * Renders every counter in the Prometheus text format (version 0.0.4) into a new buffer from
 * b->mem. Returns its length and sets *out (owned by the caller, mem_free it), or TERN_ENOMEM.
 */
ssize_t metrics_prometheus(struct broker *b, char **out);

#endif
