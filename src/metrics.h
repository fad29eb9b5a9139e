/*
 * The broker's counters. Every limit has a counter here (STYLE 2.10); $SYS topics and the
 * Prometheus endpoint (later issues) read them. Plain fields of struct broker: single thread.
 */
#ifndef TERN_METRICS_H
#define TERN_METRICS_H

#include <stdint.h>

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
    uint64_t bytes_received;
    uint64_t bytes_sent;
    uint64_t qos2_duplicates;         /* resent inbound QoS 2 PUBLISH answered without delivery */
    uint64_t dropped_queue_full;      /* max_queued_messages / max_queued_bytes */
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

#endif
