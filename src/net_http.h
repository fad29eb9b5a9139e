/*
 * A tiny HTTP/1.0 responder for listeners with "protocol http": GET /metrics answers the
 * Prometheus text (metrics.c); anything else is 404, 405 or 400. Each connection reads one
 * request of at most NET_HTTP_MAX_REQUEST bytes, writes one response and closes. At most
 * NET_HTTP_MAX_CONNS are open at once (more are closed at accept and counted), and each is
 * closed after NET_HTTP_TIMEOUT_MS whatever its state, so a silent client costs nothing for long.
 */
#ifndef TERN_NET_HTTP_H
#define TERN_NET_HTTP_H

#include <stddef.h>

#define NET_HTTP_MAX_REQUEST 4096
#define NET_HTTP_MAX_CONNS 16
#define NET_HTTP_TIMEOUT_MS 5000u

struct broker;
struct listener;
struct http_conn;

/* Takes ownership of an accepted, non-blocking fd on an http listener; closes it on any
 * failure or when NET_HTTP_MAX_CONNS are open. */
void net_http_accept(struct broker *b, struct listener *lst, int fd, const char *peer);

/* Closes every open http connection (shutdown). */
void net_http_close_all(struct broker *b);

#endif
