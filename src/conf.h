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

/* Appends a listener (used by -p PORT). Returns TERN_OK or TERN_ENOMEM. */
int conf_add_listener(struct conf *c, uint16_t port, const char *address);

#endif
