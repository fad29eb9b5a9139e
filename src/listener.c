/*
 * Listeners: bind, listen and accept. Each configured listener may open several sockets (one
 * per address family when no address is given); each socket is a struct listener with the
 * configured transport. The connection limit is checked at accept: a connection over
 * max_connections is closed at once, logged and counted.
 */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "conn.h"
#include "loop.h"
#include "net_http.h"
#include "net_ws.h"
#include "tern/err.h"
#include "tern/platform.h"

#define ACCEPT_BATCH 64

/* The transport of each listener protocol; a build switch (WITH_WS) drops its entry. */
static const struct transport *const proto_transports[] = {
    [CONF_PROTO_MQTT] = &net_tcp_transport,
#ifdef TERN_WITH_WS
    [CONF_PROTO_WEBSOCKETS] = &net_ws_transport,
#endif
    [CONF_PROTO_HTTP] = &net_tcp_transport,   /* served by net_http.c, see on_accept */
};

static void format_addr(const struct sockaddr *sa, char *out, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
    }
    snprintf(out, len, "%s:%u", host, port);
}

static bool over_limit(const struct listener *lst)
{
    const struct broker *b = lst->b;
    if (lst->max_connections >= 0 && lst->n_conns >= lst->max_connections)
        return true;
    return b->lim.max_connections >= 0 &&
           (long)b->stats.connections_open >= b->lim.max_connections;
}

static void on_accept(struct loop *l, int fd, uint32_t mask, void *data)
{
    struct listener *lst = data;
    struct broker *b = lst->b;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int cfd = accept(fd, (struct sockaddr *)&ss, &sl);
        if (cfd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                LOG_ERR(&b->log, "Cannot accept on %s: %s.", lst->name, strerror(errno));
            return;
        }
        char peer[64];
        format_addr((struct sockaddr *)&ss, peer, sizeof peer);
        if (over_limit(lst)) {
            b->stats.connections_refused_limit++;
            LOG_NOTICE(&b->log, "Connection from %s refused on %s: max_connections reached.",
                       peer, lst->name);
            close(cfd);
            continue;
        }
        if (b->lim.max_conn_per_address >= 0 &&
            peer_count_get(&b->peers, peer) >= (uint32_t)b->lim.max_conn_per_address) {
            b->stats.connections_refused_per_address++;
            LOG_NOTICE(&b->log, "Connection from %s refused on %s: "
                       "max_connections_per_address (%ld) reached.", peer, lst->name,
                       b->lim.max_conn_per_address);
            close(cfd);
            continue;
        }
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (plat_set_nonblock(cfd) != TERN_OK) {
            close(cfd);
            continue;
        }
        if (lst->http)
            net_http_accept(b, lst, cfd, peer);
        else
            conn_accept(b, lst, cfd, peer);
    }
}

static int open_one(struct broker *b, const struct conf_listener *cl, const struct addrinfo *ai,
                    char *err, size_t errlen)
{
    struct listener *lst = &b->listeners[b->n_listeners];
    memset(lst, 0, sizeof *lst);
    lst->b = b;
    lst->port = cl->port;
    lst->max_connections = cl->max_connections;
    lst->tp = proto_transports[cl->protocol];
    lst->http = cl->protocol == CONF_PROTO_HTTP;
    lst->conf_idx = (size_t)(cl - b->conf->listeners);
    lst->message_expiry = cl->message_expiry;
    /* An MQTT listener with a certificate speaks TLS (Mosquitto's rule: certfile/keyfile). */
    if (cl->protocol == CONF_PROTO_MQTT && (cl->certfile != NULL || cl->keyfile != NULL))
        lst->tp = &net_tls_transport;
    format_addr(ai->ai_addr, lst->name, sizeof lst->name);
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0)
        goto fail;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0 ||
        plat_set_nonblock(fd) != TERN_OK)
        goto fail;
    lst->fd = fd;
    if (lst->tp->listen != NULL && lst->tp->listen(lst, cl, err, errlen) != TERN_OK) {
        close(fd);
        return TERN_ECONF;
    }
    if (loop_watch(b->loop, fd, PLAT_READ, on_accept, lst) != TERN_OK) {
        if (lst->tp->unlisten != NULL)
            lst->tp->unlisten(lst);
        goto fail;
    }
    b->n_listeners++;
    LOG_NOTICE(&b->log, "Opening %s listen socket on %s.",
               ai->ai_family == AF_INET6 ? "ipv6" : "ipv4", lst->name);
    return TERN_OK;
fail:
    snprintf(err, errlen, "listener %s: %s", lst->name, strerror(errno));
    if (fd >= 0)
        close(fd);
    return TERN_EIO;
}

/* The addresses a listener binds when its address is numeric (or absent: the IPv4 and IPv6
 * wildcards, in the order getaddrinfo gives them). The resolver (getaddrinfo) is left for host
 * names: it pages in a few hundred KB of the C library that an idle broker has no other use
 * for (README "Footprint"). */
struct numeric_addrs {
    int n;
    struct addrinfo ai[2];
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
};

static bool numeric_addrs(const char *address, unsigned port, struct numeric_addrs *out)
{
    memset(out, 0, sizeof *out);
    out->v4.sin_family = AF_INET;
    out->v4.sin_port = htons((uint16_t)port);
    out->v6.sin6_family = AF_INET6;
    out->v6.sin6_port = htons((uint16_t)port);
    bool want4 = address == NULL, want6 = address == NULL;
    if (address == NULL) {
        out->v4.sin_addr.s_addr = htonl(INADDR_ANY);
        out->v6.sin6_addr = in6addr_any;
    } else if (inet_pton(AF_INET, address, &out->v4.sin_addr) == 1) {
        want4 = true;
    } else if (inet_pton(AF_INET6, address, &out->v6.sin6_addr) == 1) {
        want6 = true;
    } else {
        return false;
    }
    struct sockaddr *sa[2] = {(struct sockaddr *)&out->v4, (struct sockaddr *)&out->v6};
    socklen_t salen[2] = {sizeof out->v4, sizeof out->v6};
    bool want[2] = {want4, want6};
    for (int k = 0; k < 2; k++) {
        if (!want[k])
            continue;
        struct addrinfo *ai = &out->ai[out->n++];
        ai->ai_family = sa[k]->sa_family;
        ai->ai_socktype = SOCK_STREAM;
        ai->ai_protocol = IPPROTO_TCP;
        ai->ai_addr = sa[k];
        ai->ai_addrlen = salen[k];
    }
    return true;
}

int listener_open_all(struct broker *b, char *err, size_t errlen)
{
    const struct conf *c = b->conf;
    size_t cap = c->n_listeners * 2;
    b->listeners = mem_calloc(&b->mem, cap ? cap : 1, sizeof *b->listeners);
    if (b->listeners == NULL) {
        snprintf(err, errlen, "out of memory");
        return TERN_ENOMEM;
    }
    for (size_t i = 0; i < c->n_listeners; i++) {
        const struct conf_listener *cl = &c->listeners[i];
        if (proto_transports[cl->protocol] == NULL) {
            snprintf(err, errlen, "listener %u: protocol websockets is not built in (WITH_WS=0)",
                     cl->port);
            return TERN_ECONF;
        }
        struct numeric_addrs num;
        if (numeric_addrs(cl->address, cl->port, &num)) {
            /* A numeric address or none (every IPv4 and IPv6 address): no resolver needed. */
            for (int k = 0; k < num.n; k++) {
                if (open_one(b, cl, &num.ai[k], err, errlen) != TERN_OK)
                    return TERN_EIO;
            }
            continue;
        }
        struct addrinfo hints = {0};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        char port[8];
        snprintf(port, sizeof port, "%u", cl->port);
        struct addrinfo *res = NULL;
        int gai = getaddrinfo(cl->address, port, &hints, &res);
        if (gai != 0) {
            snprintf(err, errlen, "listener %s:%u: %s", cl->address ? cl->address : "*",
                     cl->port, gai_strerror(gai));
            return TERN_EIO;
        }
        int opened = 0;
        for (struct addrinfo *ai = res; ai != NULL && opened < 2; ai = ai->ai_next) {
            if (open_one(b, cl, ai, err, errlen) != TERN_OK) {
                freeaddrinfo(res);
                return TERN_EIO;
            }
            opened++;
        }
        freeaddrinfo(res);
    }
    return TERN_OK;
}

void listener_reload_all(struct broker *b)
{
    for (size_t i = 0; i < b->n_listeners; i++) {
        if (b->listeners[i].tp->reload != NULL)
            b->listeners[i].tp->reload(&b->listeners[i]);
    }
}

void listener_close_all(struct broker *b)
{
    for (size_t i = 0; i < b->n_listeners; i++) {
        loop_unwatch(b->loop, b->listeners[i].fd);
        close(b->listeners[i].fd);
        if (b->listeners[i].tp->unlisten != NULL)
            b->listeners[i].tp->unlisten(&b->listeners[i]);
    }
    mem_free(&b->mem, b->listeners);
    b->listeners = NULL;
    b->n_listeners = 0;
}
