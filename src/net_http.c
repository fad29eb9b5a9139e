/*
 * The http listener's responder (see net_http.h). One request per connection, HTTP/1.0
 * semantics: the response carries Content-Length and "Connection: close" and the socket is
 * closed once it is written. Only the request line is interpreted; headers are read (up to
 * the bound) and ignored. The response is rendered when the request's blank line arrives and
 * written as the socket takes it, never blocking the loop.
 */
#include "net_http.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "listener.h"
#include "loop.h"
#include "tern/err.h"
#include "tern/platform.h"

struct http_conn {
    struct broker *b;
    struct listener *lst;
    int fd;
    struct loop_timer timer;         /* NET_HTTP_TIMEOUT_MS from accept */
    char peer[64];
    char req[NET_HTTP_MAX_REQUEST];
    size_t req_len;
    char *resp;                      /* owned (b->mem); NULL until the request is complete */
    size_t resp_len;
    size_t resp_off;
    struct http_conn *prev;
    struct http_conn *next;
};

static void http_close(struct http_conn *h)
{
    struct broker *b = h->b;
    loop_timer_stop(b->loop, &h->timer);
    loop_unwatch(b->loop, h->fd);
    close(h->fd);
    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        b->http_conns = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
    b->n_http_conns--;
    h->lst->n_conns--;
    mem_free(&b->mem, h->resp);
    mem_free(&b->mem, h);
}

/* Writes what the socket takes; closes when all is written or on an error. */
static void http_write(struct http_conn *h)
{
    while (h->resp_off < h->resp_len) {
        ssize_t n = write(h->fd, h->resp + h->resp_off, h->resp_len - h->resp_off);
        if (n > 0) {
            h->resp_off += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            loop_modify(h->b->loop, h->fd, PLAT_WRITE);
            return;
        }
        if (n < 0 && errno == EINTR)
            continue;
        break;
    }
    http_close(h);
}

/* Builds the response (status line, headers, body) into h->resp. */
static int respond(struct http_conn *h, int status, const char *reason, const char *ctype,
                   const char *body, size_t body_len)
{
    char head[256];
    int hl = snprintf(head, sizeof head, "HTTP/1.0 %d %s\r\nContent-Type: %s\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, reason,
                      ctype, body_len);
    h->resp = mem_alloc(&h->b->mem, (size_t)hl + body_len);
    if (h->resp == NULL)
        return TERN_ENOMEM;
    memcpy(h->resp, head, (size_t)hl);
    memcpy(h->resp + hl, body, body_len);
    h->resp_len = (size_t)hl + body_len;
    return TERN_OK;
}

static int handle_request(struct http_conn *h)
{
    struct broker *b = h->b;
    char method[8] = "";
    char path[128] = "";
    b->stats.http_requests++;
    if (sscanf(h->req, "%7s %127s HTTP/1.%*c", method, path) != 2)
        return respond(h, 400, "Bad Request", "text/plain", "bad request\n", 12);
    if (strcmp(method, "GET") != 0)
        return respond(h, 405, "Method Not Allowed", "text/plain", "only GET\n", 9);
    /* A query string (Prometheus never sends one, but curl users might) is ignored. */
    size_t plen = strcspn(path, "?");
    if (plen != 8 || memcmp(path, "/metrics", 8) != 0)
        return respond(h, 404, "Not Found", "text/plain", "try /metrics\n", 13);
    char *text = NULL;
    ssize_t n = metrics_prometheus(b, &text);
    if (n < 0)
        return (int)n;
    int rc = respond(h, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", text, (size_t)n);
    mem_free(&b->mem, text);
    return rc;
}

static void on_io(struct loop *l, int fd, uint32_t mask, void *data)
{
    struct http_conn *h = data;
    if (h->resp != NULL) {
        http_write(h);
        return;
    }
    for (;;) {
        size_t room = sizeof h->req - 1 - h->req_len;
        if (room == 0) {
            LOG_NOTICE(&h->b->log, "HTTP request from %s over %d bytes; closed.", h->peer,
                       NET_HTTP_MAX_REQUEST - 1);
            http_close(h);
            return;
        }
        ssize_t n = read(fd, h->req + h->req_len, room);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            http_close(h);
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        h->req_len += (size_t)n;
        h->req[h->req_len] = '\0';
        if (strstr(h->req, "\r\n\r\n") != NULL || strstr(h->req, "\n\n") != NULL)
            break;
    }
    if (handle_request(h) != TERN_OK) {
        h->b->stats.dropped_nomem++;
        http_close(h);
        return;
    }
    http_write(h);
}

static void on_timeout(struct loop *l, struct loop_timer *t, void *data)
{
    http_close(data);
}

void net_http_accept(struct broker *b, struct listener *lst, int fd, const char *peer)
{
    if (b->n_http_conns >= NET_HTTP_MAX_CONNS) {
        b->stats.http_refused++;
        LOG_NOTICE(&b->log, "HTTP connection from %s refused on %s: %d already open.", peer,
                   lst->name, NET_HTTP_MAX_CONNS);
        close(fd);
        return;
    }
    struct http_conn *h = mem_calloc(&b->mem, 1, sizeof *h);
    if (h == NULL) {
        b->stats.dropped_nomem++;
        close(fd);
        return;
    }
    h->b = b;
    h->lst = lst;
    h->fd = fd;
    snprintf(h->peer, sizeof h->peer, "%s", peer);
    if (loop_watch(b->loop, fd, PLAT_READ, on_io, h) != TERN_OK) {
        mem_free(&b->mem, h);
        close(fd);
        return;
    }
    loop_timer_init(&h->timer, on_timeout, h);
    loop_timer_start(b->loop, &h->timer, loop_now(b->loop) + NET_HTTP_TIMEOUT_MS);
    h->next = b->http_conns;
    if (h->next != NULL)
        h->next->prev = h;
    b->http_conns = h;
    b->n_http_conns++;
    lst->n_conns++;
}

void net_http_close_all(struct broker *b)
{
    while (b->http_conns != NULL)
        http_close(b->http_conns);
}
