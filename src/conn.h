/*
 * One network connection: framing of incoming bytes through the codec, the output queue and
 * its flush, timers (CONNECT timeout, keepalive), and close.
 *
 * Reads drain the socket into the broker's one large read buffer and every complete packet in
 * it is handled in place; only a trailing partial packet is copied into a per-connection
 * buffer of exactly its size, so an idle connection holds no read buffer. A packet larger
 * than the read buffer is read straight into a private buffer sized from its header, never
 * beyond message_size_limit. Output gathered during a loop turn is written with one writev in
 * the before-sleep hook (conn_flush_all).
 *
 * A closed connection is unlinked at once but freed only in the before-sleep hook, so pointers
 * held during one turn stay valid.
 */
#ifndef TERN_CONN_H
#define TERN_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "loop.h"

struct broker;
struct bridge;
struct sess;
struct listener;
struct msg;

enum conn_state {
    CONN_NEW,        /* accepted, waiting for CONNECT */
    CONN_ACTIVE,     /* CONNECT accepted */
    CONN_CLOSED,     /* closed, waiting to be freed */
};

struct conn {
    struct broker *b;
    int fd;
    enum conn_state state;
    const struct transport *tp;
    struct listener *lst;            /* NULL for a bridge's outbound connection */
    struct bridge *bridge;           /* set on a bridge's outbound connection: packets are
                                        decoded as a client decodes and go to bridge.c */
    void *tp_state;                  /* transport's own per-connection state */
    struct sess *sess;               /* NULL until CONNECT is accepted */
    char peer[64];                   /* "ADDRESS:PORT" */
    uint8_t *partial;                /* trailing partial packet */
    size_t partial_len;
    size_t partial_cap;
    size_t partial_need;             /* total size of the partial packet once its header is
                                        known, else 0 */
    struct outq out;
    struct loop_timer timer;         /* CONNECT timeout, then keepalive and mid-packet stall */
    uint64_t last_rx;                /* loop time of the last byte received (or, while reading
                                        is paused, of the last byte the client took) */
    uint32_t keepalive_ms;           /* 1.5 x the client's keepalive; 0 = none */
    uint32_t mask;                   /* poller interest */
    bool tp_wants_write;             /* the transport asked for write readiness */
    bool got_disconnect;             /* closed by DISCONNECT: no will */
    bool read_paused;                /* output over out_limit: not reading from the client */
    bool in_flush;
    struct conn *flush_next;
    struct conn *prev;
    struct conn *next;
};

/* Takes ownership of an accepted, non-blocking fd. Returns TERN_OK or TERN_ENOMEM (the fd is
 * closed then). */
int conn_accept(struct broker *b, struct listener *lst, int fd, const char *peer);

/*
 * Takes ownership of a connected (or connecting), non-blocking outbound socket for bridge br
 * (borrowed) and watches it; tp is its transport. On TERN_OK *out is the new connection in
 * CONN_NEW state (closed after connect_timeout without CONNACK); on TERN_ENOMEM the fd is
 * closed.
 */
int conn_connect(struct broker *b, int fd, const struct transport *tp, const char *peer,
                 struct bridge *br, struct conn **out);

/*
 * Closes c: publishes the will unless DISCONNECT was received (reason is logged with the
 * client id and peer), detaches the session, unwatches and closes the fd. Idempotent.
 */
void conn_close(struct conn *c, const char *reason);

/*
 * Push entry point for transports that receive by callback (WebSockets): handles n bytes that
 * arrived for c exactly as bytes read from a socket (framing, partial packets across calls,
 * several packets per call, limits). p is borrowed for the call. c may be closed on return.
 */
void conn_input(struct conn *c, const uint8_t *p, size_t n);

/* For push transports: the transport can take bytes again; c's output goes out in this loop
 * turn's before-sleep flush. */
void conn_writable(struct conn *c);

/* Marks c for writing at the end of this loop turn. */
void conn_want_flush(struct conn *c);

/* For stream transports (TLS): the transport itself needs the socket writable (on) or no
 * longer (off), e.g. for a handshake flight the socket did not take. While on, conn.c calls
 * the transport's read when the socket becomes writable. */
void conn_transport_wants_write(struct conn *c, bool on);

/* Writes every marked connection's output (one writev each) and frees closed connections.
 * Called from the before-sleep hook. */
void conn_flush_all(struct broker *b);

/* Closes and frees every connection (shutdown). */
void conn_close_all(struct broker *b);

/* Output helpers: append a packet to c's output queue and mark it for flushing.
 * They return TERN_OK or TERN_ENOMEM (the caller closes the connection). */
int conn_send_bytes(struct conn *c, const void *p, size_t n);
/* PUBLISH of m with the given per-recipient fields; the payload is shared (borrows m; the
 * output queue takes its own reference when it does not copy). */
int conn_send_publish(struct conn *c, struct msg *m, uint8_t qos, bool retain, bool dup,
                      uint16_t packet_id);
int conn_send_ack(struct conn *c, uint8_t type, uint16_t packet_id);

/* Client id for log lines ("-" before CONNECT). */
const char *conn_client_id(const struct conn *c);

#endif
