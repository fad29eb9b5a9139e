/*
 * The configuration: Mosquitto's file syntax for the common subset, with Mosquitto 2.0's
 * meanings and defaults.
 *
 * Syntax: one "key value..." per line, '#' starts a comment line, blank lines ignored, keys
 * case-sensitive. "listener PORT [ADDRESS]" opens a listener section; listener-scoped keys
 * (protocol, max_connections, and later TLS keys) apply to the most recent listener.
 * include_dir DIR reads every DIR/ *.conf in sorted order.
 *
 * Errors are reported as "FILE:LINE: reason" in the caller's buffer and return TERN_ECONF
 * (main exits with status 2). A known Mosquitto key that Tern does not implement yet is not an
 * error: it is reported through the warn callback as "FILE:LINE: unsupported option 'KEY'".
 */
#ifndef TERN_CONF_H
#define TERN_CONF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum conf_proto {
    CONF_PROTO_MQTT = 0,
    CONF_PROTO_WEBSOCKETS = 1,
    CONF_PROTO_HTTP = 2,
};

struct conf_listener {
    uint16_t port;
    char *address;              /* NULL: all addresses; malloc'd */
    enum conf_proto protocol;
    long max_connections;       /* -1: no limit (Mosquitto's default) */
    /* TLS and WebSocket keys of this listener (malloc'd, NULL when not given). */
    char *certfile;             /* server certificate chain (PEM) */
    char *keyfile;              /* its private key (PEM) */
    char *cafile;               /* CA certificates (PEM) that sign client certificates */
    char *capath;               /* a directory of such CA certificates */
    char *tls_version;          /* minimum TLS version: tlsv1.2 (default) or tlsv1.1 */
    char *ciphers;              /* ':'-separated mbedTLS cipher suite names; NULL = defaults */
    bool require_certificate;   /* clients must present a certificate the CA signed */
    bool use_identity_as_username; /* the client certificate's CN is the username */
    char *http_dir;             /* websockets: serve static files from here */
    long message_expiry;        /* seconds for messages published on this listener; -1 (default)
                                   = the global message_expiry */
};

/* message_expiry SECONDS PATTERN: messages on topics matching filter live SECONDS (0 = never
 * expire); the first matching rule in file order wins over listener and global values. */
struct conf_expiry_rule {
    char *filter;               /* malloc'd, a valid topic filter */
    long seconds;
};

/* Bridge topic directions (Mosquitto's topic line). */
#define CONF_BRIDGE_OUT  0x1u
#define CONF_BRIDGE_IN   0x2u
#define CONF_BRIDGE_BOTH (CONF_BRIDGE_OUT | CONF_BRIDGE_IN)

/* "topic PATTERN [DIR [QOS [LOCAL_PREFIX REMOTE_PREFIX]]]": the local filter is
 * LOCAL_PREFIX + PATTERN, the remote one REMOTE_PREFIX + PATTERN. Strings are malloc'd and
 * never NULL ("" for none). */
struct conf_bridge_topic {
    char *pattern;
    char *local_prefix;
    char *remote_prefix;
    unsigned dir;               /* CONF_BRIDGE_* */
    uint8_t qos;
};

/* One "connection NAME" section (bridge.c runs it). Strings malloc'd, NULL when not given. */
struct conf_bridge {
    char *name;
    char *file;                 /* where the section starts, for start-up errors */
    unsigned long line;
    char *host;                 /* address HOST[:PORT] */
    uint16_t port;              /* default 1883 */
    unsigned long address_line; /* 0 = no address line */
    char *remote_clientid;      /* default HOSTNAME.NAME */
    char *local_clientid;       /* local session id; default local.REMOTE_CLIENTID */
    char *remote_username;
    char *remote_password;
    bool cleansession;          /* CONNECT clean session flag to the remote; default false */
    bool try_private;           /* protocol level 0x84: the remote knows it is a bridge;
                                   default true, as in Mosquitto */
    long keepalive;             /* keepalive_interval, seconds; default 60 */
    long restart_base;          /* restart_timeout BASE [CAP], seconds; default 5 and 30 */
    long restart_cap;
    char *cafile;               /* bridge_cafile / bridge_capath: TLS to the remote, which
                                   must present a certificate these CAs signed */
    char *capath;
    char *certfile;             /* bridge_certfile / bridge_keyfile: our client certificate */
    char *keyfile;
    bool insecure;              /* bridge_insecure: do not check the remote's host name */
    struct conf_bridge_topic *topics;
    size_t n_topics;
};

/* persistence_sync modes (the values of enum persist_sync) */
#define CONF_PSYNC_TURN     0
#define CONF_PSYNC_ALWAYS   1
#define CONF_PSYNC_INTERVAL 2

/* log_dest bits */
#define CONF_LOG_STDERR 0x1u
#define CONF_LOG_STDOUT 0x2u
#define CONF_LOG_FILE   0x4u
#define CONF_LOG_SYSLOG 0x8u
#define CONF_LOG_NONE   0x10u

/* log_type bits (Mosquitto's names) */
#define CONF_LOGT_ERROR       0x01u
#define CONF_LOGT_WARNING     0x02u
#define CONF_LOGT_NOTICE      0x04u
#define CONF_LOGT_INFORMATION 0x08u
#define CONF_LOGT_DEBUG       0x10u
#define CONF_LOGT_SUBSCRIBE   0x20u
#define CONF_LOGT_UNSUBSCRIBE 0x40u
#define CONF_LOGT_WEBSOCKETS  0x80u
#define CONF_LOGT_ALL         0xffu

struct conf {
    struct conf_listener *listeners;   /* malloc'd array */
    size_t n_listeners;
    bool allow_anonymous;              /* default false when a listener is configured; main
                                          applies Mosquitto's local-only default otherwise */
    bool allow_anonymous_set;          /* true when the file said it */
    long max_queued_messages;          /* default 1000; 0 = no limit */
    long long max_queued_bytes;        /* default 0 = no limit */
    long max_inflight_messages;        /* default 20; 0 = no limit */
    uint32_t message_size_limit;       /* payload bytes; default 0 = protocol maximum */
    long max_connections;              /* default -1 = no limit (global default for listeners) */
    bool max_connections_set;          /* a global max_connections line was read; else the
                                          board's default caps the total */
    long long memory_limit;            /* bytes; -1 (default) = the board's default, 0 = none */
    long max_connections_per_address;  /* default -1 = no limit (Tern's own key) */
    uint32_t max_keepalive;            /* default 65535 */
    long long persistent_client_expiration; /* seconds; default 0 = never */
    bool retain_available;             /* default true */
    bool queue_qos0_messages;          /* default false */
    unsigned log_dest;                 /* default CONF_LOG_STDERR */
    bool log_dest_set;                 /* true once a log_dest line replaced the default */
    char *log_file;                    /* for log_dest file */
    unsigned log_type;                 /* default error|warning|notice|information */
    bool log_type_set;
    bool connection_messages;          /* default true */
    bool persistence;                  /* default false */
    char *persistence_location;        /* directory of tern.db; NULL = working directory */
    int persistence_sync;              /* CONF_PSYNC_*; default CONF_PSYNC_TURN */
    long persistence_sync_interval;    /* seconds, for CONF_PSYNC_INTERVAL */
    char *password_file;               /* parsed now, used by the security issue */
    char *acl_file;
    long autosave_interval;
    long retry_interval;               /* seconds before resending an unacknowledged QoS 1/2
                                          message to a connected client; default 0 = never */
    long retry_max_interval;           /* cap of the doubling backoff; default 60 */
    long max_delivery_attempts;        /* sends before such a message is dropped; 0 = no
                                          limit (default) */
    char *dead_letter_topic;           /* prefix for dropped messages; NULL (default) = off */
    long message_expiry;               /* seconds a queued message may wait; default 0 = for
                                          ever (Tern's own key) */
    struct conf_expiry_rule *expiry_rules; /* malloc'd array, file order */
    size_t n_expiry_rules;
    long sys_interval;                 /* seconds between $SYS publications; default 10,
                                          0 = none */
    struct conf_bridge *bridges;       /* malloc'd array of "connection" sections */
    size_t n_bridges;
};

/* Fills c with Mosquitto 2.0's defaults and no listeners. */
void conf_init(struct conf *c);
/* Frees everything conf_init/conf_load_file allocated. */
void conf_cleanup(struct conf *c);

typedef void (*conf_warn_fn)(void *ctx, const char *message);

/*
 * Reads path into c (on top of what c holds). Returns TERN_OK, or TERN_ECONF with
 * "FILE:LINE: reason" (or "FILE: reason" when the file cannot be read) in err[0..errlen).
 * warn may be NULL.
 */
int conf_load_file(struct conf *c, const char *path, char *err, size_t errlen,
                   conf_warn_fn warn, void *warn_ctx);

/* Same, over a string (for tests and the fuzzer); name is used in messages. */
int conf_load_string(struct conf *c, const char *name, const char *text, size_t len,
                     char *err, size_t errlen, conf_warn_fn warn, void *warn_ctx);

/*
 * Writes "NAME:LINE: reason" into err[0..errlen) and returns TERN_ECONF: the one error format of
 * every file Tern reads (config, password file, ACL file). err may be NULL.
 */
int conf_errorf(char *err, size_t errlen, const char *name, unsigned long line, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));
int conf_verrorf(char *err, size_t errlen, const char *name, unsigned long line, const char *fmt,
                 va_list ap);

/*
 * Calls fn(ctx, line, lineno) for each line of text[0..len) (split at '\n'), the line copied into
 * a NUL-terminated scratch buffer from m that fn may modify. Stops at the first non-TERN_OK
 * return and returns it; a NUL byte in a line is TERN_ECONF "NAME:LINE: NUL byte in line", a
 * refused allocation TERN_ENOMEM with "NAME: out of memory". Used by the password and ACL
 * parsers.
 */
typedef int (*conf_line_fn)(void *ctx, char *line, unsigned long lineno);
struct mem;
int conf_foreach_line(struct mem *m, const char *name, const char *text, size_t len,
                      conf_line_fn fn, void *ctx, char *err, size_t errlen);

/* Cuts the next blank-separated token off *rest (NUL-terminating it in place); NULL when none
 * is left. Shared by conf.c and conf_bridge.c. */
char *conf_next_token(char **rest);

/*
 * Bridge sections (conf_bridge.c). conf_bridge_key handles one line whose key is a bridge key:
 * returns TERN_OK, TERN_ECONF with the reason (no file:line; the caller adds it) in why, or
 * TERN_ENOTFOUND when key is not a bridge key. conf_bridge_finish checks the last section
 * once a file is done (TERN_ECONF with "FILE:LINE: reason" naming its connection line).
 * conf_bridge_free frees one section's strings.
 */
int conf_bridge_key(struct conf *c, const char *file, unsigned long line, const char *key,
                    char *rest, char *why, size_t whylen);
int conf_bridge_finish(const struct conf *c, char *err, size_t errlen);
void conf_bridge_free(struct conf_bridge *br);

/* Appends a listener (used by -p PORT). Returns TERN_OK or TERN_ENOMEM. */
int conf_add_listener(struct conf *c, uint16_t port, const char *address);

#endif
