/*
 * struct broker: the one context that owns every module's state (STYLE 2.7). Nothing in Tern
 * is a mutable global; every function that needs broker state gets this pointer.
 *
 * Init order (broker_new): memory accounting, log, loop, topic tree, retained store, session
 * table, read buffer, listeners. Teardown runs in reverse.
 */
#ifndef TERN_BROKER_H
#define TERN_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "expire.h"
#include "log.h"
#include "mem.h"
#include "loop.h"
#include "metrics.h"
#include "peer_count.h"
#include "share.h"
#include "tern/platform.h"

struct loop;
struct topic_tree;
struct retain;
struct sess;
struct conn;
struct listener;
struct msg;
struct persist;
struct auth_file;
struct auth_throttle;
struct acl;
struct http_conn;
struct bridge;

/* One recipient of a publish being fanned out. */
struct match_entry {
    struct sess *s;
    uint8_t qos;                    /* highest QoS granted by the matching filters */
};

/* Limits copied from the config; SIGHUP may replace them. */
struct limits {
    long max_queued_messages;
    long long max_queued_bytes;
    long max_inflight;              /* 0 = no limit */
    uint32_t max_packet;            /* whole packet, fixed header included */
    uint32_t message_size_limit;    /* payload bytes, 0 = protocol maximum */
    long max_connections;           /* global; -1 = no limit */
    long max_conn_per_address;      /* max_connections_per_address; -1 = no limit */
    uint32_t max_keepalive;
    long long session_expiry_ms;    /* persistent_client_expiration; 0 = never */
    bool retain_available;
    bool queue_qos0;
    bool allow_anonymous;
    bool connection_messages;
    uint32_t connect_timeout_ms;
    size_t out_limit;               /* output bytes buffered per connection before QoS 0
                                       deliveries to it are dropped */
    uint64_t retry_ms;              /* retry_interval; 0 = no resends while connected */
    uint64_t retry_max_ms;          /* retry_max_interval */
    uint32_t max_attempts;          /* max_delivery_attempts; 0 = no limit */
};

struct sess_table {
    struct sess **slots;
    size_t cap;                     /* power of two */
    size_t count;
};

struct broker {
    struct mem mem;
    struct log log;
    struct limits lim;
    struct conf *conf;              /* borrowed from main; re-read on SIGHUP */
    const char *conf_path;          /* borrowed; NULL when started without -c */
    struct loop *loop;
    struct topic_tree *subs;
    struct retain *retained;
    struct persist *persist;        /* durable store; NULL when persistence is off */
    struct sess_table sessions;
    struct share_table shares;      /* $share/GROUP/FILTER groups (share.c) */
    struct listener *listeners;     /* array */
    size_t n_listeners;
    struct conn *conns;             /* every open connection (doubly linked) */
    struct peer_count peers;        /* open connections per client address */
    struct conn *flush_list;        /* connections with output to write this turn */
    struct conn *dead_list;         /* closed connections freed in before-sleep */
    uint8_t *rbuf;                  /* the loop-owned read buffer */
    size_t rbuf_size;
    struct match_entry *match;      /* fan-out scratch: sessions matched by one publish */
    size_t match_cap;
    size_t n_match_pending;
    uint32_t match_gen;
    uint64_t next_msg_id;
    uint64_t auto_id;               /* counter for assigned client ids */
    uint64_t rng;                   /* xorshift state for retry jitter */
    uint64_t started_ms;
    bool stop;
    struct metrics stats;
    struct metrics_sys sys;         /* $SYS publication timer and load averages (metrics.c) */
    struct http_conn *http_conns;   /* open connections on http listeners (net_http.c) */
    size_t n_http_conns;
    const struct plat_board *board; /* defaults where the config is silent (static storage) */
    struct plat_notify notify;      /* service manager (systemd) readiness and watchdog */
    struct loop_timer watchdog;     /* WATCHDOG=1 every half WATCHDOG_USEC */
    struct auth_file *pw;           /* password_file; NULL when none (security.c) */
    struct acl *acl;                /* acl_file; NULL when none: everything allowed */
    struct auth_throttle *throttle; /* failed logins per address */
    struct expire expiry;           /* message_expiry rules and sweep (expire.c) */
    char *dead_letter;              /* dead_letter_topic (owned); NULL = off; SIGHUP replaces */
    struct bridge *bridges;         /* the config's connection sections (bridge.c) */
    size_t n_bridges;
};

/* Copies the config's limits into b->lim (start-up and SIGHUP). */
void broker_apply_limits(struct broker *b, const struct conf *c);

/* The monotonic time of this loop turn, in ms. */
uint64_t broker_now(const struct broker *b);

/*
 * Publishes m to every matching subscription (and to the retained store when m->retain).
 * Borrows m: recipients take their own references. Used for client PUBLISHes and wills.
 */
void broker_publish(struct broker *b, struct msg *m);

/*
 * m (borrowed) is being dropped for reason ("queue-full", "max-attempts", "expired"): with
 * dead_letter_topic PREFIX set, publishes a copy with its payload and QoS, RETAIN 0, on
 * PREFIX/REASON/TOPIC. A message already under PREFIX/ is never dead-lettered again, so dead
 * letters cannot loop.
 */
void broker_dead_letter(struct broker *b, const struct msg *m, const char *reason);

/*
 * As broker_publish, but a retained m is kept in memory only, never logged by persistence:
 * for the broker's own $SYS topics, rewritten every sys_interval (an idle broker writes
 * nothing). Borrows m.
 */
void broker_publish_volatile(struct broker *b, struct msg *m);

#endif
