/*
 * The WebSocket transport: MQTT over WebSockets (MQTT 3.1.1 section 6) through libwebsockets,
 * driven entirely by Tern's own loop (STYLE 2.8): no second thread, no second loop, no busy
 * polling and no service tick.
 *
 * How it joins the loop. listener.c binds and accepts as for TCP (so max_connections and the
 * accept log apply unchanged); conn_accept hands the socket to ws_attach, which adopts it into
 * the listener's libwebsockets vhost. libwebsockets, built with LWS_WITH_EXTERNAL_POLL, then
 * tells us which fds it wants polled for what through its ADD/DEL/CHANGE_MODE_POLL_FD
 * callbacks; they map one to one onto loop_watch/loop_unwatch/loop_modify, and readiness is
 * handed back with lws_service_fd. Its own deadlines (handshake timeouts, close handshakes,
 * asynchronous kills) are one loop timer, re-armed after every call into it from
 * lws_service_adjust_timeout; when that reports bytes already buffered inside it (TLS records
 * decrypted ahead), the timer fires at once and lws_service with a negative timeout (a poll
 * that never waits) drains them.
 *
 * Bytes. Each received data frame (or fragment of one) goes to conn_input, the same framing
 * path as TCP: a packet may span frames and a frame may hold several packets (MQTT-6.0.0-2).
 * Text frames close the connection (MQTT-6.0.0-1: MQTT packets travel in binary frames only).
 * When conn.c stops reading a client (its unread output over the bound), set_interest turns
 * that into lws_rx_flow_control, so libwebsockets stops reading the socket too.
 * Output is flushed like TCP's, once per loop turn from the before-sleep hook: ws_writev
 * copies up to WS_FRAME_MAX bytes of the queue after the LWS_PRE headroom of one scratch
 * buffer owned by this module and sends them as one binary frame with lws_write. When the
 * kernel takes only part of a frame, libwebsockets keeps the rest and asks for POLLOUT
 * itself; until it has sent it, ws_writev returns TERN_EAGAIN and conn.c asks for the
 * writable callback, which marks the connection for the next flush. So at most one frame per
 * connection is buffered inside libwebsockets, and the queue's own limits apply as for TCP.
 *
 * Subprotocols: "mqtt" (3.1.1, MQTT-6.0.0-3/4) and "mqttv3.1" (3.1 clients). An upgrade
 * offering neither is refused; GET /metrics gets the Prometheus text (as on an http listener);
 * other plain HTTP requests get 404, or files from http_dir when it is set. A wss listener re-reads its certificate and key on SIGHUP (ws_reload).
 *
 * Lifetime. A struct conn exists from accept; its tp_state is the wsi and the wsi's opaque
 * user data is the conn. Whichever side closes first breaks that link: a wsi destroyed by
 * libwebsockets closes its conn; a conn closed by Tern clears the link and kills the wsi
 * asynchronously (from inside that wsi's own callback, by returning -1 instead). conn_close's
 * last flush runs first, so a refusing CONNACK still reaches the client.
 */
#include "net_ws.h"

#include <stdio.h>
#include <string.h>

#include <libwebsockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "broker.h"
#include "conf.h"
#include "conn.h"
#include "loop.h"
#include "metrics.h"
#include "tern/err.h"
#include "tern/platform.h"

#define WS_FRAME_MAX (128u * 1024u)      /* largest frame written at once */
#define WS_RX_BUFFER (16u * 1024u)       /* largest chunk libwebsockets hands us; each
                                            connection gets a buffer of this size */
#define WS_SERV_BUFFER (64u * 1024u)     /* one per listener: socket reads, HTTP headers */
#define WS_IDLE_WAIT_MS 60000            /* timer cap when libwebsockets has nothing due */

/*
 * One per WebSocket listener socket (lst->tp_listener): a libwebsockets context with one vhost.
 * A context per listener, not one shared, because libwebsockets picks a TLS vhost by SNI name
 * or listen port, and adopted sockets have neither: with two vhosts in one context a wss
 * client sending SNI could land on the plain vhost.
 */
struct net_ws {
    struct broker *b;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    bool tls;
    struct loop_timer timer;
    uint64_t timer_due;
    struct lws *in_cb;               /* the wsi whose callback is running, else NULL */
    uint8_t *tx;                     /* LWS_PRE + WS_FRAME_MAX scratch for outgoing frames */
    struct lws_http_mount mount;
    struct lws_http_mount metrics_mount; /* /metrics, answered by http_callback */
    char *http_dir;                  /* mem_alloc'd copy for the mount */
    char *certfile;                  /* mem_alloc'd copies, for SIGHUP (wss only) */
    char *keyfile;
    const char *name;                /* the listener's, for logs */
};

/* Per wsi, allocated zeroed by libwebsockets (per_session_data_size). */
struct ws_pss {
    bool established;
    bool rx_paused;                  /* conn.c paused reading (output over its bound) */
    char *body;                      /* GET /metrics: the response body being written (b->mem) */
    size_t body_len;
    size_t body_off;
};

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);
static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                         void *in, size_t len);

static const struct lws_protocols ws_protocols[] = {
    {"http-only", http_callback, sizeof(struct ws_pss), 0, 0, NULL, 0},
    {"mqtt", ws_callback, sizeof(struct ws_pss), WS_RX_BUFFER, 0, NULL, 0},
    {"mqttv3.1", ws_callback, sizeof(struct ws_pss), WS_RX_BUFFER, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- the loop side: fds and the timer ---------------------------------------------------- */

static struct net_ws *ws_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

static uint32_t to_mask(int events)
{
    return ((events & LWS_POLLIN) ? PLAT_READ : 0u) | ((events & LWS_POLLOUT) ? PLAT_WRITE : 0u);
}

/* Re-arms the timer for libwebsockets' next deadline; also runs whatever is due now. */
static void rearm(struct net_ws *ws)
{
    int ms = lws_service_adjust_timeout(ws->ctx, WS_IDLE_WAIT_MS, 0);
    uint64_t due = broker_now(ws->b) + (uint64_t)(ms > 0 ? ms : 0);
    if (loop_timer_armed(&ws->timer) && due == ws->timer_due)
        return;
    ws->timer_due = due;
    loop_timer_start(ws->b->loop, &ws->timer, due);
}

static void on_timer(struct loop *l, struct loop_timer *t, void *data)
{
    struct net_ws *ws = data;
    if (lws_service_adjust_timeout(ws->ctx, WS_IDLE_WAIT_MS, 0) == 0)
        lws_service(ws->ctx, -1);
    rearm(ws);
}

static void on_fd(struct loop *l, int fd, uint32_t mask, void *data)
{
    struct net_ws *ws = data;
    struct lws_pollfd pfd;
    pfd.fd = fd;
    pfd.events = LWS_POLLIN | LWS_POLLOUT;
    pfd.revents = (short)(((mask & PLAT_READ) ? LWS_POLLIN : 0) |
                          ((mask & PLAT_WRITE) ? LWS_POLLOUT : 0) |
                          ((mask & PLAT_ERR) ? LWS_POLLHUP : 0));
    lws_service_fd(ws->ctx, &pfd);
    rearm(ws);
}

static int poll_change(struct net_ws *ws, enum lws_callback_reasons reason,
                       const struct lws_pollargs *pa)
{
    switch (reason) {
    case LWS_CALLBACK_ADD_POLL_FD:
        return loop_watch(ws->b->loop, pa->fd, to_mask(pa->events), on_fd, ws) == TERN_OK ? 0
                                                                                          : -1;
    case LWS_CALLBACK_DEL_POLL_FD:
        loop_unwatch(ws->b->loop, pa->fd);
        return 0;
    default:
        loop_modify(ws->b->loop, pa->fd, to_mask(pa->events));
        return 0;
    }
}

/* ---- connections -------------------------------------------------------------------------- */

static struct conn *conn_of(struct lws *wsi)
{
    return lws_get_opaque_user_data(wsi);
}

static void ws_close(struct conn *c)
{
    struct lws *wsi = c->tp_state;
    if (wsi == NULL)
        return;
    struct net_ws *ws = ws_of(wsi);
    c->tp_state = NULL;
    lws_set_opaque_user_data(wsi, NULL);
    if (ws->in_cb != wsi)
        lws_set_timeout(wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
    rearm(ws);
}

static int ws_attach(struct conn *c)
{
    struct net_ws *v = c->lst->tp_listener;
    lws_adopt_desc_t info;
    memset(&info, 0, sizeof info);
    info.vh = v->vh;
    info.type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP | (v->tls ? LWS_ADOPT_ALLOW_SSL : 0);
    info.fd.sockfd = c->fd;
    info.opaque = c;
    struct lws *wsi = lws_adopt_descriptor_vhost_via_info(&info);
    if (wsi == NULL)
        return TERN_EIO;             /* libwebsockets closed the fd */
    c->tp_state = wsi;
    rearm(v);
    return TERN_OK;
}

static void ws_set_interest(struct conn *c, uint32_t mask)
{
    struct lws *wsi = c->tp_state;
    struct ws_pss *pss = wsi != NULL ? lws_wsi_user(wsi) : NULL;
    if (pss == NULL || !pss->established)
        return;
    bool pause = (mask & PLAT_READ) == 0;
    if (pause != pss->rx_paused) {
        pss->rx_paused = pause;
        lws_rx_flow_control(wsi, pause ? 0 : 1);
    }
    if (mask & PLAT_WRITE)
        lws_callback_on_writable(wsi);
    rearm(ws_of(wsi));
}

/* Sends up to WS_FRAME_MAX bytes of iov as one binary frame; TERN_EAGAIN before the upgrade
 * and while libwebsockets still holds part of the previous frame. */
static ssize_t ws_writev(struct conn *c, const struct iovec *iov, int iovcnt)
{
    struct lws *wsi = c->tp_state;
    if (wsi == NULL)
        return TERN_EIO;
    struct net_ws *ws = ws_of(wsi);
    struct ws_pss *pss = lws_wsi_user(wsi);
    if (pss == NULL || !pss->established || lws_partial_buffered(wsi))
        return TERN_EAGAIN;
    size_t len = 0;
    for (int i = 0; i < iovcnt && len < WS_FRAME_MAX; i++) {
        size_t k = iov[i].iov_len;
        if (k > WS_FRAME_MAX - len)
            k = WS_FRAME_MAX - len;
        memcpy(ws->tx + LWS_PRE + len, iov[i].iov_base, k);
        len += k;
    }
    if (lws_write(wsi, ws->tx + LWS_PRE, len, LWS_WRITE_BINARY) < (int)len)
        return TERN_EIO;
    return (ssize_t)len;
}

static ssize_t ws_read(struct conn *c, void *buf, size_t len)
{
    return TERN_EAGAIN;              /* bytes arrive through conn_input */
}

static bool ws_has_pending(struct conn *c)
{
    return false;
}

/* The wsi is going away (peer closed, handshake failed, or we killed it). */
static void wsi_gone(struct lws *wsi, struct ws_pss *pss, struct net_ws *ws)
{
    struct conn *c = conn_of(wsi);
    lws_set_opaque_user_data(wsi, NULL);
    if (c == NULL || c->tp_state != wsi)
        return;                      /* adoption failed: conn_accept frees c */
    c->tp_state = NULL;
    conn_close(c, pss != NULL && pss->established ? "connection closed by peer"
                                                  : "closed during the WebSocket handshake");
}

/* After Tern's side ran inside wsi's callback: -1 asks libwebsockets to close the wsi. */
static int verdict(struct lws *wsi)
{
    return conn_of(wsi) != NULL ? 0 : -1;
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    struct ws_pss *pss = user;
    struct net_ws *ws = ws_of(wsi);
    struct conn *c;
    switch (reason) {
    case LWS_CALLBACK_ADD_POLL_FD:
    case LWS_CALLBACK_DEL_POLL_FD:
    case LWS_CALLBACK_CHANGE_MODE_POLL_FD:
        return poll_change(ws, reason, in);
    case LWS_CALLBACK_ESTABLISHED:
        if (pss != NULL)
            pss->established = true;
        return conn_of(wsi) != NULL ? 0 : -1;
    case LWS_CALLBACK_RECEIVE:
        c = conn_of(wsi);
        if (c == NULL)
            return -1;
        ws->in_cb = wsi;
        if (!lws_frame_is_binary(wsi))
            conn_close(c, "text frame (MQTT needs binary frames)");
        else
            conn_input(c, in, len);
        ws->in_cb = NULL;
        return verdict(wsi);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        c = conn_of(wsi);
        if (c == NULL)
            return -1;
        conn_writable(c);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        wsi_gone(wsi, pss, ws);
        return 0;
    default:
        return 0;
    }
}

static void metrics_body_free(struct net_ws *ws, struct ws_pss *pss)
{
    if (pss != NULL && pss->body != NULL) {
        mem_free(&ws->b->mem, pss->body);
        pss->body = NULL;
    }
}

/* GET /metrics: renders the Prometheus text, sends the headers and asks for HTTP_WRITEABLE to
 * send the body. Other paths and methods: 404. */
static int metrics_request(struct lws *wsi, struct ws_pss *pss, const char *path, size_t len)
{
    struct net_ws *ws = ws_of(wsi);
    if (pss == NULL || path == NULL || len != 8 || memcmp(path, "/metrics", 8) != 0 ||
        lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
        if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL) != 0)
            return -1;
        return lws_http_transaction_completed(wsi) != 0 ? -1 : 0;
    }
    ws->b->stats.http_requests++;
    metrics_body_free(ws, pss);
    char *text = NULL;
    ssize_t n = metrics_prometheus(ws->b, &text);
    if (n < 0)
        return -1;
    uint8_t head[LWS_PRE + 512];
    uint8_t *p = head + LWS_PRE;
    if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK,
                                    "text/plain; version=0.0.4; charset=utf-8",
                                    (lws_filepos_t)n, &p, head + sizeof head) != 0 ||
        lws_finalize_write_http_header(wsi, head + LWS_PRE, &p, head + sizeof head) != 0) {
        mem_free(&ws->b->mem, text);
        return -1;
    }
    pss->body = text;
    pss->body_len = (size_t)n;
    pss->body_off = 0;
    lws_callback_on_writable(wsi);
    return 0;
}

/* Writes the next part of the /metrics body (through the listener's frame scratch buffer,
 * which has the LWS_PRE headroom lws_write needs). */
static int metrics_write(struct lws *wsi, struct ws_pss *pss)
{
    struct net_ws *ws = ws_of(wsi);
    if (pss == NULL || pss->body == NULL)
        return 0;
    size_t n = pss->body_len - pss->body_off;
    if (n > WS_FRAME_MAX)
        n = WS_FRAME_MAX;
    bool last = pss->body_off + n == pss->body_len;
    memcpy(ws->tx + LWS_PRE, pss->body + pss->body_off, n);
    if (lws_write(wsi, ws->tx + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
        (int)n)
        return -1;
    pss->body_off += n;
    if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    metrics_body_free(ws, pss);
    return lws_http_transaction_completed(wsi) != 0 ? -1 : 0;
}

/* protocols[0]: the HTTP side of the listener (upgrades, http_dir, /metrics, 404s) and the
 * poll callbacks, which libwebsockets always sends to the vhost's first protocol. */
static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                         void *in, size_t len)
{
    switch (reason) {
    case LWS_CALLBACK_WSI_DESTROY:
    case LWS_CALLBACK_CLOSED_HTTP:
        metrics_body_free(ws_of(wsi), user);
        if (reason == LWS_CALLBACK_CLOSED_HTTP)
            return 0;
        return ws_callback(wsi, reason, user, in, len);
    case LWS_CALLBACK_ADD_POLL_FD:
    case LWS_CALLBACK_DEL_POLL_FD:
    case LWS_CALLBACK_CHANGE_MODE_POLL_FD:
        return ws_callback(wsi, reason, user, in, len);
    case LWS_CALLBACK_HTTP:
        /* The /metrics mount and any path no mount serves arrive here, whole (without the
         * query string). */
        return metrics_request(wsi, user, in, len);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return metrics_write(wsi, user);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1;                   /* an upgrade that offered no MQTT subprotocol */
    case LWS_CALLBACK_ESTABLISHED:
        return -1;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* ---- listeners ---------------------------------------------------------------------------- */

static void ws_free(struct net_ws *ws)
{
    struct broker *b = ws->b;
    if (ws->ctx != NULL)
        lws_context_destroy(ws->ctx);    /* closes what is left; callbacks still run */
    loop_timer_stop(b->loop, &ws->timer);
    mem_free(&b->mem, ws->tx);
    mem_free(&b->mem, ws->http_dir);
    mem_free(&b->mem, ws->certfile);
    mem_free(&b->mem, ws->keyfile);
    mem_free(&b->mem, ws);
}

static char *mem_strdup(struct mem *m, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = mem_alloc(m, n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

/* True when certfile holds a certificate and keyfile a private key that parse. */
static bool files_usable(const char *certfile, const char *keyfile)
{
    mbedtls_x509_crt crt;
    mbedtls_pk_context pk;
    mbedtls_x509_crt_init(&crt);
    mbedtls_pk_init(&pk);
    bool ok = mbedtls_x509_crt_parse_file(&crt, certfile) == 0 &&
              mbedtls_pk_parse_keyfile(&pk, keyfile, NULL) == 0;
    mbedtls_pk_free(&pk);
    mbedtls_x509_crt_free(&crt);
    return ok;
}

/* SIGHUP: the wss listener re-reads its certificate and key (same paths) for new handshakes. */
static void ws_reload(struct listener *lst)
{
    struct net_ws *ws = lst->tp_listener;
    if (ws == NULL || !ws->tls)
        return;
    if (!files_usable(ws->certfile, ws->keyfile)) {
        LOG_ERR(&ws->b->log, "Listener %s: certfile %s or keyfile %s unusable; keeping the "
                "certificate in use.", ws->name, ws->certfile, ws->keyfile);
        return;
    }
    lws_tls_cert_updated(ws->ctx, ws->certfile, ws->keyfile, NULL, 0, NULL, 0);
    LOG_NOTICE(&ws->b->log, "Listener %s: reloaded certificate %s.", ws->name, ws->certfile);
}

/* /metrics always (answered by http_callback), then http_dir's files at / when it is set. */
static void set_mounts(struct net_ws *ws, struct lws_context_creation_info *info)
{
    ws->metrics_mount.mountpoint = "/metrics";
    ws->metrics_mount.mountpoint_len = 8;
    ws->metrics_mount.origin = ws_protocols[0].name;
    ws->metrics_mount.origin_protocol = LWSMPRO_CALLBACK;
    info->mounts = &ws->metrics_mount;
    if (ws->http_dir == NULL)
        return;
    ws->mount.mountpoint = "/";
    ws->mount.mountpoint_len = 1;
    ws->mount.origin = ws->http_dir;
    ws->mount.def = "index.html";
    ws->mount.origin_protocol = LWSMPRO_FILE;
    ws->metrics_mount.mount_next = &ws->mount;
}

/* Creates the listener's context and vhost (TLS when certfile/keyfile are set). */
static int ws_listen(struct listener *lst, const struct conf_listener *cl, char *err,
                     size_t errlen)
{
    struct broker *b = lst->b;
    if ((cl->certfile == NULL) != (cl->keyfile == NULL)) {
        snprintf(err, errlen, "listener %s: certfile and keyfile go together", lst->name);
        return TERN_ECONF;
    }
    struct net_ws *ws = mem_calloc(&b->mem, 1, sizeof *ws);
    if (ws == NULL || (ws->tx = mem_alloc(&b->mem, LWS_PRE + WS_FRAME_MAX)) == NULL ||
        (cl->http_dir != NULL &&
         (ws->http_dir = mem_alloc(&b->mem, strlen(cl->http_dir) + 1)) == NULL)) {
        if (ws != NULL) {
            mem_free(&b->mem, ws->tx);
            mem_free(&b->mem, ws);
        }
        snprintf(err, errlen, "out of memory");
        return TERN_ENOMEM;
    }
    ws->b = b;
    loop_timer_init(&ws->timer, on_timer, ws);
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.user = ws;
    info.pt_serv_buf_size = WS_SERV_BUFFER;
    info.count_threads = 1;
    ws->ctx = lws_create_context(&info);
    if (ws->ctx == NULL) {
        snprintf(err, errlen, "listener %s: cannot create the libwebsockets context", lst->name);
        ws_free(ws);
        return TERN_EIO;
    }
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.vhost_name = lst->name;
    info.protocols = ws_protocols;
    if (cl->http_dir != NULL)
        memcpy(ws->http_dir, cl->http_dir, strlen(cl->http_dir) + 1);
    set_mounts(ws, &info);
    ws->name = lst->name;
    if (cl->certfile != NULL) {
        ws->certfile = mem_strdup(&b->mem, cl->certfile);
        ws->keyfile = mem_strdup(&b->mem, cl->keyfile);
        if (ws->certfile == NULL || ws->keyfile == NULL) {
            snprintf(err, errlen, "out of memory");
            ws_free(ws);
            return TERN_ENOMEM;
        }
        info.ssl_cert_filepath = ws->certfile;
        info.ssl_private_key_filepath = ws->keyfile;
        info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;  /* a TLS vhost needs it too */
        ws->tls = true;
    }
    ws->vh = lws_create_vhost(ws->ctx, &info);
    if (ws->vh == NULL) {
        snprintf(err, errlen, "listener %s: cannot set up WebSockets%s", lst->name,
                 ws->tls ? " (check certfile and keyfile)" : "");
        ws_free(ws);
        return TERN_EIO;
    }
    lst->tp_listener = ws;
    LOG_NOTICE(&b->log, "Listener %s speaks MQTT over %s%s.", lst->name,
               ws->tls ? "secure WebSockets (wss)" : "WebSockets (ws)",
               ws->http_dir != NULL ? " and serves http_dir" : "");
    return TERN_OK;
}

/* Destroys the listener's context, which closes every WebSocket still open on it (their conns
 * are closed before, at shutdown). */
static void ws_unlisten(struct listener *lst)
{
    struct net_ws *ws = lst->tp_listener;
    lst->tp_listener = NULL;
    if (ws != NULL)
        ws_free(ws);
}

const struct transport net_ws_transport = {
    .name = "websockets",
    .read = ws_read,
    .writev = ws_writev,
    .has_pending = ws_has_pending,
    .close = ws_close,
    .attach = ws_attach,
    .set_interest = ws_set_interest,
    .reload = ws_reload,
    .listen = ws_listen,
    .unlisten = ws_unlisten,
};
