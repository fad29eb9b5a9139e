/*
 * Listeners and transports. A listener is a bound socket with its own connection limit and
 * a transport; a transport is a table of functions that conn.c calls for every byte it moves,
 * so TCP, TLS and WebSockets differ only here (STYLE 2.8). net_tcp.c fills the plain TCP
 * table; TLS and WebSocket transports add their own tables and files.
 */
#ifndef TERN_LISTENER_H
#define TERN_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct broker;
struct conn;
struct conf_listener;
struct listener;

struct transport {
    const char *name;
    /* Reads up to len bytes. Returns the count, TERN_EAGAIN, TERN_ECLOSED or TERN_EIO. */
    ssize_t (*read)(struct conn *c, void *buf, size_t len);
    /* Writes from iov. Returns the count written (maybe partial), TERN_EAGAIN or TERN_EIO. */
    ssize_t (*writev)(struct conn *c, const struct iovec *iov, int iovcnt);
    /* True when bytes are buffered inside the transport that poll() cannot see. */
    bool (*has_pending)(struct conn *c);
    /* Releases per-connection transport state (the fd itself is closed by conn.c, unless the
     * transport attached it). */
    void (*close)(struct conn *c);
    /*
     * Push transports (WebSockets) set the next two; TCP and TLS leave them NULL.
     * attach: called by conn_accept instead of watching c->fd; from then on the transport owns
     * the fd (its poller registration and its close) and hands received bytes to conn_input().
     * Returns TERN_OK, or an error once the transport has closed the fd itself.
     * set_interest: conn.c calls it instead of changing the fd's poller mask: PLAT_READ off
     * pauses delivery to conn_input, PLAT_WRITE asks (once) for conn_writable(c) when the
     * transport can take bytes again after its writev returned TERN_EAGAIN.
     */
    int (*attach)(struct conn *c);
    void (*set_interest)(struct conn *c, uint32_t mask);
    /* Optional: SIGHUP. Re-reads the listener's certificate and key from the same files for
     * new connections (open ones keep theirs); on a bad file logs and keeps the old ones. */
    void (*reload)(struct listener *lst);
    /*
     * Transports with per-listener and per-connection state (TLS) set these; NULL otherwise.
     * listen: called once per listener socket before it accepts; fills lst->tp_listener from
     * the configuration, or returns TERN_ECONF with a message naming the listener and file.
     * unlisten: frees lst->tp_listener. open: called by conn_accept once c is watched; creates
     * c->tp_state (TERN_OK, else c is closed). peer_identity: the client certificate's CN once
     * the handshake is done, else NULL (borrowed, valid until close). A read that needs the
     * socket writable (a TLS handshake flight the socket did not take) calls
     * conn_transport_wants_write(c, true); conn.c then calls read again when it is.
     */
    int (*listen)(struct listener *lst, const struct conf_listener *cl, char *err,
                  size_t errlen);
    void (*unlisten)(struct listener *lst);
    int (*open)(struct conn *c);
    const char *(*peer_identity)(struct conn *c);
    /* Optional: false while the transport cannot take application bytes yet (a TLS client
     * handshake in progress): conn.c keeps its output queued without asking for write
     * readiness, and the transport calls conn_want_flush once it is ready. */
    bool (*ready)(struct conn *c);
};

extern const struct transport net_tcp_transport;
extern const struct transport net_tls_transport;

struct listener {
    struct broker *b;
    int fd;
    uint16_t port;
    char name[64];                   /* "ADDRESS:PORT" for logs */
    long max_connections;            /* -1 = no limit */
    long n_conns;
    const struct transport *tp;
    void *tp_listener;               /* the transport's per-listener state (WebSocket vhost,
                                        TLS configuration) */
    bool use_identity_as_username;   /* the client certificate's CN is the username */
    bool http;                       /* protocol http: connections go to net_http.c, not
                                        conn.c (tp is plain TCP, for its name only) */
    size_t conf_idx;                 /* its entry in the configuration's listeners */
    long message_expiry;             /* seconds for messages published here; -1 = global
                                        (expire.c; SIGHUP may change it) */
};

/*
 * Binds and starts listening for every configured listener; on failure fills err with
 * "listener ADDRESS:PORT: reason" and returns TERN_EIO. Registers accept watchers on b->loop.
 */
int listener_open_all(struct broker *b, char *err, size_t errlen);
void listener_close_all(struct broker *b);
/* SIGHUP: lets every listener's transport re-read its certificate files (tp->reload). */
void listener_reload_all(struct broker *b);

#endif
