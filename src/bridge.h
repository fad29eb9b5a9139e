/*
 * Bridges (Mosquitto's "connection NAME" sections): Tern connects out to a remote broker as an
 * MQTT 3.1.1 client and carries the configured topics both ways.
 *
 * Design. A bridge is a broker-owned persistent session (the local session, id local_clientid,
 * default "local." + remote_clientid) subscribed locally to the out/both filters
 * (LOCAL_PREFIX + PATTERN). Its outbound connection is an ordinary struct conn with c->bridge
 * set: conn.c frames it, queues its output and runs its keepalive deadline as for any client;
 * only the packets a server sends (CONNACK, SUBACK, PUBLISH, PINGRESP...) are handled here.
 * Store-and-forward comes from the session machinery: while the link is down the session is
 * offline and queues QoS 1/2 (within max_queued_messages, logged by persistence when it is
 * on); when CONNACK arrives the session is attached to the connection like a reconnecting
 * client, so in-flight messages are resent (DUP) and the queue drains in order.
 *
 * Invariants: br->c is the open connection or NULL; while br->fd >= 0 a non-blocking TCP
 * connect is in progress (no conn yet). The local session is never expired or taken over.
 * Messages from the remote are published with m->origin = the bridge session, and fan-out
 * skips a no_local session for its own messages, so nothing goes back out the way it came.
 */
#ifndef TERN_BRIDGE_H
#define TERN_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "tern/codec.h"

struct broker;
struct conn;
struct conf_bridge;
struct conf_bridge_topic;
struct mem;
struct msg;
struct pkt;
struct sess;
struct tls_listener;

/* One topic line, with its two full filters built once. */
struct bridge_route {
    const struct conf_bridge_topic *t;   /* borrowed from the config */
    char *local;                         /* LOCAL_PREFIX + PATTERN, owned */
    char *remote;                        /* REMOTE_PREFIX + PATTERN, owned */
    size_t local_prefix_len;
    size_t remote_prefix_len;
};

enum bridge_state {
    BRIDGE_IDLE,          /* waiting for the restart timer */
    BRIDGE_CONNECTING,    /* TCP connect in progress (br->fd) */
    BRIDGE_WAIT_CONNACK,  /* CONNECT sent on br->c */
    BRIDGE_UP,            /* CONNACK accepted; the session is attached */
};

struct bridge {
    struct broker *b;
    const struct conf_bridge *cf;        /* borrowed from b->conf */
    struct bridge_route *routes;
    size_t n_routes;
    char *remote_id;                     /* owned */
    struct sess *s;                      /* the local session (owned by the session table) */
    struct tls_listener *tls;            /* client TLS configuration (net_tls.c), or NULL */
    struct conn *c;                      /* open connection, or NULL */
    int fd;                              /* connecting socket, or -1 */
    enum bridge_state state;
    struct loop_timer timer;             /* restart backoff, then the TCP connect deadline */
    struct loop_timer ping;              /* PINGREQ every keepalive_interval while up */
    unsigned failures;                   /* attempts failed since the last CONNACK */
    uint16_t last_pid;                   /* SUBSCRIBE packet ids */
    char peer[80];                       /* "HOST:PORT" */
    uint64_t connects;                   /* CONNACKs accepted */
    uint64_t connect_failures;           /* attempts that ended before CONNACK 0 */
    uint64_t msgs_in;                    /* PUBLISH received from the remote */
};

/*
 * Creates every configured bridge: builds its routes, finds (recovered from persistence) or
 * creates its local session, brings the session's subscriptions in line with the out/both
 * topics, and starts the first connect attempt at once. Call after persistence is loaded.
 * Returns TERN_OK, or TERN_ECONF/TERN_ENOMEM with "FILE:LINE: reason" in err.
 */
int bridge_start_all(struct broker *b, char *err, size_t errlen);
/* Closes every bridge's connection and frees the bridges (shutdown; sessions stay). */
void bridge_free_all(struct broker *b);

/* conn.c: a packet arrived on a bridge connection (decoded as a client decodes). Same
 * contract as the proto_* handlers. */
int bridge_dispatch(struct conn *c, const struct pkt *p);
/* conn.c: c, a bridge connection, was closed (reason borrowed): schedules the reconnect. */
void bridge_conn_closed(struct conn *c, const char *reason);
/* conn.c: the topic to send a local message under on this bridge, as head + tail pieces
 * (views into the routes and m->topic; valid while both are). */
void bridge_map_out(const struct bridge *br, const struct msg *m, struct mqtt_str *head,
                    struct mqtt_str *tail);

/*
 * Pure topic remapping (unit-tested). Finds the first route of the given direction
 * (CONF_BRIDGE_OUT: local topic to remote, CONF_BRIDGE_IN: remote to local) whose source
 * filter matches topic, and returns the mapped topic as head (the destination prefix) + tail
 * (topic minus the source prefix). Returns false when no route matches.
 */
bool bridge_map(const struct bridge_route *r, size_t n, unsigned dir, const uint8_t *topic,
                size_t len, struct mqtt_str *head, struct mqtt_str *tail);
/* Builds routes for cf's topic lines (owned, free with bridge_routes_free). TERN_OK or
 * TERN_ENOMEM. */
int bridge_routes_build(struct mem *mem, const struct conf_bridge *cf,
                        struct bridge_route **out, size_t *n);
void bridge_routes_free(struct mem *mem, struct bridge_route *r, size_t n);

#endif
