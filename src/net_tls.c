/*
 * The TLS transport over mbedTLS; see net_tls.h for what a listener configures.
 *
 * Everything runs on the one loop, non-blocking (STYLE 2.8): mbedTLS reads and writes the
 * connection's socket through bio_recv/bio_send, which turn EAGAIN into WANT_READ/WANT_WRITE.
 * The handshake is driven from read(): conn.c calls read when the socket is readable, and when
 * the handshake could not send its flight it asks for write readiness
 * (conn_transport_wants_write), after which conn.c calls read again. A stalled or garbage
 * handshake therefore costs one connection slot until the CONNECT timeout (which starts at
 * accept and so bounds the handshake too) closes it, and never delays other clients.
 *
 * Records and MQTT packets are independent: read() decrypts as many records as fit in the
 * caller's buffer; a record only partly handed over stays inside mbedTLS and is reported by
 * has_pending, so conn.c reads again before sleeping. writev() copies the iovecs into records
 * of at most the maximum record payload (TLS cannot scatter); when mbedTLS returns WANT_WRITE
 * the record is already built, and mbedTLS requires the next call to offer the same bytes: the
 * length is remembered (pending_len) and the next writev gathers exactly that many bytes,
 * which are the same ones because conn.c consumes from its output queue only what writev
 * reported written.
 *
 * mbedTLS allocates its own record buffers (about 2 x 16 KiB per connection with Debian's
 * build) outside mem.c's accounting; the per-connection struct is accounted.
 */
#include "net_tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include "broker.h"
#include "conf.h"
#include "conn.h"
#include "listener.h"
#include "log.h"
#include "tern/err.h"

#define MAX_CIPHERS 64

/*
 * Key-exchange curves in the server's order of preference. mbedTLS's default order starts with
 * secp521r1, which most clients (OpenSSL among them) offer, making every full handshake pay a
 * P-521 exchange (measured: 69 full RSA-2048 handshakes/s instead of several hundred).
 * secp256r1 has mbedTLS's NIST and fixed-point optimisations; x25519 next.
 */
static const mbedtls_ecp_group_id ecdhe_curves[] = {
    MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP384R1,
    MBEDTLS_ECP_DP_SECP521R1, MBEDTLS_ECP_DP_NONE,
};
#define IDENTITY_MAX 256

struct tls_listener {
    mbedtls_ssl_config conf;
    mbedtls_x509_crt cert;
    mbedtls_pk_context key;
    mbedtls_x509_crt ca;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_ticket_context ticket;
    mbedtls_ssl_cache_context cache;
    int ciphers[MAX_CIPHERS + 1];
    unsigned refs;                  /* the listener's, plus one per connection made with it */
    const struct conf_listener *cl; /* borrowed from the broker's config (lives as long) */
};

struct tls_conn {
    mbedtls_ssl_context ssl;
    bool ready;                     /* handshake done */
    int failed;                     /* a fatal mbedTLS error already met, else 0 */
    size_t pending_len;             /* bytes of a record mbedTLS is still sending */
    char *identity;                 /* client certificate CN (mem), or NULL */
    struct tls_listener *tl;        /* a reference: its conf outlives a SIGHUP swap */
};

static void tls_error(int rc, char *out, size_t len)
{
    mbedtls_strerror(rc, out, len);
}

/* ---- files ------------------------------------------------------------------------------ */

/* Fails with "NAME: KEY FILE: cannot open: reason" when path cannot be read. */
static int check_readable(const char *name, const char *key, const char *path, char *err,
                          size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s %s: cannot open: %s", name, key, path, strerror(errno));
        return TERN_ECONF;
    }
    fclose(f);
    return TERN_OK;
}

static void warn_validity(const mbedtls_x509_crt *crt, const char *name, const char *path,
                          struct log *log)
{
    const mbedtls_x509_time *to = &crt->valid_to;
    const mbedtls_x509_time *from = &crt->valid_from;
    if (mbedtls_x509_time_is_past(to))
        LOG_WARN(log, "WARNING: %s: certfile %s EXPIRED on %04d-%02d-%02d %02d:%02d:%02d UTC; "
                 "clients that verify it will refuse to connect. Renew it.", name, path,
                 to->year, to->mon, to->day, to->hour, to->min, to->sec);
    if (mbedtls_x509_time_is_future(from))
        LOG_WARN(log, "WARNING: %s: certfile %s is NOT YET VALID (from %04d-%02d-%02d "
                 "%02d:%02d:%02d UTC); check the clock.", name, path, from->year, from->mon,
                 from->day, from->hour, from->min, from->sec);
}

/* Loads certfile, keyfile and the CAs into t (already initialised). */
static int load_files(struct tls_listener *t, const struct conf_listener *cl, const char *name,
                      struct log *log, char *err, size_t errlen)
{
    char why[160];
    if (cl->certfile == NULL || cl->keyfile == NULL) {
        snprintf(err, errlen, "%s: TLS needs both certfile and keyfile", name);
        return TERN_ECONF;
    }
    if (check_readable(name, "certfile", cl->certfile, err, errlen) != TERN_OK ||
        check_readable(name, "keyfile", cl->keyfile, err, errlen) != TERN_OK ||
        (cl->cafile != NULL &&
         check_readable(name, "cafile", cl->cafile, err, errlen) != TERN_OK))
        return TERN_ECONF;
    int rc = mbedtls_x509_crt_parse_file(&t->cert, cl->certfile);
    if (rc != 0) {
        tls_error(rc, why, sizeof why);
        snprintf(err, errlen, "%s: certfile %s: not a usable PEM certificate (%s)", name,
                 cl->certfile, why);
        return TERN_ECONF;
    }
    rc = mbedtls_pk_parse_keyfile(&t->key, cl->keyfile, NULL);
    if (rc != 0) {
        tls_error(rc, why, sizeof why);
        snprintf(err, errlen, "%s: keyfile %s: not a usable unencrypted PEM private key (%s)",
                 name, cl->keyfile, why);
        return TERN_ECONF;
    }
    if (mbedtls_pk_check_pair(&t->cert.pk, &t->key) != 0) {
        snprintf(err, errlen, "%s: keyfile %s does not match certfile %s", name, cl->keyfile,
                 cl->certfile);
        return TERN_ECONF;
    }
    warn_validity(&t->cert, name, cl->certfile, log);
    if (cl->cafile != NULL && (rc = mbedtls_x509_crt_parse_file(&t->ca, cl->cafile)) != 0) {
        tls_error(rc, why, sizeof why);
        snprintf(err, errlen, "%s: cafile %s: not usable PEM certificates (%s)", name,
                 cl->cafile, why);
        return TERN_ECONF;
    }
    if (cl->capath != NULL && (rc = mbedtls_x509_crt_parse_path(&t->ca, cl->capath)) < 0) {
        tls_error(rc, why, sizeof why);
        snprintf(err, errlen, "%s: capath %s: cannot read certificates (%s)", name, cl->capath,
                 why);
        return TERN_ECONF;
    }
    if (cl->require_certificate && cl->cafile == NULL && cl->capath == NULL) {
        snprintf(err, errlen, "%s: require_certificate true needs cafile or capath", name);
        return TERN_ECONF;
    }
    if (cl->use_identity_as_username && !cl->require_certificate) {
        snprintf(err, errlen, "%s: use_identity_as_username true needs require_certificate "
                 "true", name);
        return TERN_ECONF;
    }
    return TERN_OK;
}

static int parse_ciphers(struct tls_listener *t, const char *list, const char *name, char *err,
                         size_t errlen)
{
    size_t n = 0;
    const char *p = list;
    while (*p != '\0') {
        size_t len = strcspn(p, ":, ");
        char one[128];
        if (len > 0 && len < sizeof one) {
            memcpy(one, p, len);
            one[len] = '\0';
            int id = mbedtls_ssl_get_ciphersuite_id(one);
            if (id == 0 || n == MAX_CIPHERS) {
                snprintf(err, errlen, "%s: ciphers: '%s' is not a cipher suite mbedTLS knows "
                         "(names look like TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256)", name, one);
                return TERN_ECONF;
            }
            t->ciphers[n++] = id;
        } else if (len >= sizeof one) {
            snprintf(err, errlen, "%s: ciphers: name too long", name);
            return TERN_ECONF;
        }
        p += len;
        if (*p != '\0')
            p++;
    }
    t->ciphers[n] = 0;
    return TERN_OK;
}

/* Drops one reference; the last frees the configuration. */
static void listener_free(struct mem *m, struct tls_listener *t)
{
    if (t == NULL || --t->refs > 0)
        return;
    mbedtls_ssl_config_free(&t->conf);
    mbedtls_ssl_ticket_free(&t->ticket);
    mbedtls_ssl_cache_free(&t->cache);
    mbedtls_x509_crt_free(&t->cert);
    mbedtls_x509_crt_free(&t->ca);
    mbedtls_pk_free(&t->key);
    mbedtls_ctr_drbg_free(&t->drbg);
    mbedtls_entropy_free(&t->entropy);
    mem_free(m, t);
}

static struct tls_listener *listener_new(struct mem *m)
{
    struct tls_listener *t = mem_calloc(m, 1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->refs = 1;
    mbedtls_ssl_config_init(&t->conf);
    mbedtls_ssl_ticket_init(&t->ticket);
    mbedtls_ssl_cache_init(&t->cache);
    mbedtls_x509_crt_init(&t->cert);
    mbedtls_x509_crt_init(&t->ca);
    mbedtls_pk_init(&t->key);
    mbedtls_ctr_drbg_init(&t->drbg);
    mbedtls_entropy_init(&t->entropy);
    return t;
}

int net_tls_check_files(const struct conf_listener *cl, const char *name, struct log *log,
                        char *err, size_t errlen)
{
    struct mem m;
    mem_init(&m, 0);
    struct tls_listener *t = listener_new(&m);
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return TERN_ENOMEM;
    }
    int rc = load_files(t, cl, name, log, err, errlen);
    listener_free(&m, t);
    return rc;
}

/* Sets up t's configuration after load_files. */
static int configure(struct tls_listener *t, const struct conf_listener *cl, const char *name,
                     char *err, size_t errlen)
{
    static const unsigned char pers[] = "tern tls listener";
    char why[160];
    int rc = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy, pers,
                                   sizeof pers - 1);
    if (rc == 0)
        rc = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_SERVER,
                                         MBEDTLS_SSL_TRANSPORT_STREAM,
                                         MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc == 0)
        rc = mbedtls_ssl_conf_own_cert(&t->conf, &t->cert, &t->key);
    if (rc == 0)
        rc = mbedtls_ssl_ticket_setup(&t->ticket, mbedtls_ctr_drbg_random, &t->drbg,
                                      MBEDTLS_CIPHER_AES_256_GCM, NET_TLS_TICKET_LIFETIME_S);
    if (rc != 0) {
        tls_error(rc, why, sizeof why);
        snprintf(err, errlen, "%s: TLS set-up failed: %s", name, why);
        return TERN_ECONF;
    }
    mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
    mbedtls_ssl_conf_session_tickets_cb(&t->conf, mbedtls_ssl_ticket_write,
                                        mbedtls_ssl_ticket_parse, &t->ticket);
    mbedtls_ssl_cache_set_max_entries(&t->cache, NET_TLS_CACHE_ENTRIES);
    mbedtls_ssl_conf_session_cache(&t->conf, &t->cache, mbedtls_ssl_cache_get,
                                   mbedtls_ssl_cache_set);
    int minor = MBEDTLS_SSL_MINOR_VERSION_3;
    if (cl->tls_version != NULL && strcmp(cl->tls_version, "tlsv1.1") == 0)
        minor = MBEDTLS_SSL_MINOR_VERSION_2;
    mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3, minor);
    mbedtls_ssl_conf_curves(&t->conf, ecdhe_curves);
    if (cl->require_certificate) {
        mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
        mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
    } else {
        mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_NONE);
    }
    if (cl->ciphers != NULL) {
        if (parse_ciphers(t, cl->ciphers, name, err, errlen) != TERN_OK)
            return TERN_ECONF;
        mbedtls_ssl_conf_ciphersuites(&t->conf, t->ciphers);
    }
    return TERN_OK;
}

static int tls_listen(struct listener *lst, const struct conf_listener *cl, char *err,
                      size_t errlen)
{
    struct broker *b = lst->b;
    char name[96];
    snprintf(name, sizeof name, "listener %u", cl->port);
    struct tls_listener *t = listener_new(&b->mem);
    if (t == NULL) {
        snprintf(err, errlen, "%s: out of memory", name);
        return TERN_ENOMEM;
    }
    if (load_files(t, cl, name, &b->log, err, errlen) != TERN_OK ||
        configure(t, cl, name, err, errlen) != TERN_OK) {
        listener_free(&b->mem, t);
        return TERN_ECONF;
    }
    t->cl = cl;
    lst->tp_listener = t;
    lst->use_identity_as_username = cl->use_identity_as_username;
    return TERN_OK;
}

/*
 * SIGHUP: reads the listener's files again into a fresh configuration and uses it for new
 * connections; open connections keep the one they were made with (it is freed with the last
 * of them). A file that is now missing, bad or mismatched is logged and the old one stays.
 */
static void tls_reload(struct listener *lst)
{
    struct broker *b = lst->b;
    struct tls_listener *old = lst->tp_listener;
    char name[96];
    char err[512];
    if (old == NULL)
        return;
    snprintf(name, sizeof name, "listener %u", old->cl->port);
    struct tls_listener *t = listener_new(&b->mem);
    if (t == NULL || load_files(t, old->cl, name, &b->log, err, sizeof err) != TERN_OK ||
        configure(t, old->cl, name, err, sizeof err) != TERN_OK) {
        LOG_ERR(&b->log, "TLS reload failed, keeping the certificate in use: %s",
                t == NULL ? "out of memory" : err);
        listener_free(&b->mem, t);
        return;
    }
    t->cl = old->cl;
    lst->tp_listener = t;
    listener_free(&b->mem, old);
    LOG_NOTICE(&b->log, "%s: reloaded certfile %s.", name, t->cl->certfile);
}

static void tls_unlisten(struct listener *lst)
{
    listener_free(&lst->b->mem, lst->tp_listener);
    lst->tp_listener = NULL;
}

/* ---- connections ------------------------------------------------------------------------ */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct conn *c = ctx;
    for (;;) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return MBEDTLS_ERR_SSL_WANT_WRITE;
        return errno == ECONNRESET || errno == EPIPE ? MBEDTLS_ERR_NET_CONN_RESET
                                                     : MBEDTLS_ERR_NET_SEND_FAILED;
    }
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct conn *c = ctx;
    for (;;) {
        ssize_t n = read(c->fd, buf, len);
        if (n >= 0)
            return (int)n;       /* 0: end of stream, which mbedTLS reports as CONN_EOF */
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return MBEDTLS_ERR_SSL_WANT_READ;
        return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
    }
}

/* Gives c a TLS session over tl's configuration (server or client side); host: the name the
 * server's certificate must carry, or NULL not to check it. */
static int tls_attach_session(struct conn *c, struct tls_listener *tl, const char *host)
{
    struct broker *b = c->b;
    struct tls_conn *t = mem_calloc(&b->mem, 1, sizeof *t);
    if (t == NULL)
        return TERN_ENOMEM;
    mbedtls_ssl_init(&t->ssl);
    c->tp_state = t;
    t->tl = tl;
    tl->refs++;
    if (mbedtls_ssl_setup(&t->ssl, &tl->conf) != 0 ||
        (host != NULL && mbedtls_ssl_set_hostname(&t->ssl, host) != 0))
        return TERN_ENOMEM;
    mbedtls_ssl_set_bio(&t->ssl, c, bio_send, bio_recv, NULL);
    return TERN_OK;
}

static int tls_open(struct conn *c)
{
    return tls_attach_session(c, c->lst->tp_listener, NULL);
}

static void tls_close(struct conn *c)
{
    struct tls_conn *t = c->tp_state;
    if (t == NULL)
        return;
    if (t->ready && !t->failed)
        mbedtls_ssl_close_notify(&t->ssl);   /* best effort: the socket is non-blocking */
    mbedtls_ssl_free(&t->ssl);
    listener_free(&c->b->mem, t->tl);
    mem_free(&c->b->mem, t->identity);
    mem_free(&c->b->mem, t);
    c->tp_state = NULL;
}

/* Copies the client certificate's CN into t->identity. */
static void keep_identity(struct conn *c, struct tls_conn *t)
{
    const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(&t->ssl);
    for (const mbedtls_x509_name *n = crt != NULL ? &crt->subject : NULL; n != NULL;
         n = n->next) {
        if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0 && n->val.len > 0 &&
            n->val.len < IDENTITY_MAX && memchr(n->val.p, '\0', n->val.len) == NULL) {
            t->identity = mem_strndup(&c->b->mem, n->val.p, n->val.len);
            return;
        }
    }
}

static ssize_t fail(struct conn *c, struct tls_conn *t, int rc, const char *during)
{
    struct broker *b = c->b;
    t->failed = rc;
    if (rc == MBEDTLS_ERR_SSL_CONN_EOF || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
        rc == MBEDTLS_ERR_NET_CONN_RESET)
        return TERN_ECLOSED;
    char why[160];
    tls_error(rc, why, sizeof why);
    if (!t->ready)
        b->stats.tls_handshake_failures++;
    if (c->lst != NULL)
        LOG_NOTICE(&b->log, "TLS %s with %s on port %u failed: %s", during, c->peer,
                   c->lst->port, why);
    else
        LOG_NOTICE(&b->log, "TLS %s with %s (bridge) failed: %s", during, c->peer, why);
    return TERN_EIO;
}

/* Drives the handshake. Returns TERN_OK once done, TERN_EAGAIN, or an error. */
static ssize_t handshake(struct conn *c, struct tls_conn *t)
{
    int rc = mbedtls_ssl_handshake(&t->ssl);
    if (rc == MBEDTLS_ERR_SSL_WANT_READ) {
        conn_transport_wants_write(c, false);
        return TERN_EAGAIN;
    }
    if (rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
        conn_transport_wants_write(c, true);
        return TERN_EAGAIN;
    }
    if (rc != 0)
        return fail(c, t, rc, "handshake");
    t->ready = true;
    conn_transport_wants_write(c, false);
    if (c->lst == NULL)
        conn_want_flush(c);        /* a client's CONNECT waited for the handshake */
    else if (c->lst->use_identity_as_username)
        keep_identity(c, t);
    LOG_DEBUG(&c->b->log, "TLS handshake with %s done: %s, %s.", c->peer,
              mbedtls_ssl_get_version(&t->ssl), mbedtls_ssl_get_ciphersuite(&t->ssl));
    return TERN_OK;
}

static ssize_t tls_read(struct conn *c, void *buf, size_t len)
{
    struct tls_conn *t = c->tp_state;
    if (t->failed)
        return TERN_EIO;
    if (!t->ready) {
        ssize_t rc = handshake(c, t);
        if (rc != TERN_OK)
            return rc;
    }
    size_t got = 0;
    while (got < len) {
        int n = mbedtls_ssl_read(&t->ssl, (unsigned char *)buf + got, len - got);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
            break;
        if (got > 0) {
            /* Hand over what arrived; the error is reported by the next read. */
            t->failed = n == 0 ? MBEDTLS_ERR_SSL_CONN_EOF : n;
            break;
        }
        return fail(c, t, n == 0 ? MBEDTLS_ERR_SSL_CONN_EOF : n, "read");
    }
    return got > 0 ? (ssize_t)got : TERN_EAGAIN;
}

/* Gathers up to want bytes of iov starting at (*i, *off) into a contiguous run: a pointer into
 * the iovec when one iovec holds them all, else a copy in scratch. */
static const unsigned char *gather(const struct iovec *iov, int iovcnt, int *i, size_t *off,
                                   size_t want, unsigned char *scratch, size_t *got)
{
    while (*i < iovcnt && *off == iov[*i].iov_len) {
        (*i)++;
        *off = 0;
    }
    if (*i == iovcnt) {
        *got = 0;
        return NULL;
    }
    size_t here = iov[*i].iov_len - *off;
    if (here >= want) {
        const unsigned char *p = (const unsigned char *)iov[*i].iov_base + *off;
        *off += want;
        *got = want;
        return p;
    }
    size_t n = 0;
    while (n < want && *i < iovcnt) {
        size_t take = iov[*i].iov_len - *off;
        if (take > want - n)
            take = want - n;
        memcpy(scratch + n, (const unsigned char *)iov[*i].iov_base + *off, take);
        n += take;
        *off += take;
        if (*off == iov[*i].iov_len) {
            (*i)++;
            *off = 0;
        }
    }
    *got = n;
    return scratch;
}

static ssize_t tls_writev(struct conn *c, const struct iovec *iov, int iovcnt)
{
    struct tls_conn *t = c->tp_state;
    if (t->failed)
        return TERN_EIO;
    if (!t->ready)
        return TERN_EAGAIN;
    unsigned char scratch[MBEDTLS_SSL_OUT_CONTENT_LEN];
    int max = mbedtls_ssl_get_max_out_record_payload(&t->ssl);
    size_t rec = max > 0 && (size_t)max < sizeof scratch ? (size_t)max : sizeof scratch;
    size_t total = 0;
    int i = 0;
    size_t off = 0;
    for (;;) {
        size_t want = t->pending_len > 0 ? t->pending_len : rec;
        size_t n;
        const unsigned char *p = gather(iov, iovcnt, &i, &off, want, scratch, &n);
        if (n == 0 || (t->pending_len > 0 && n < t->pending_len))
            break;
        int w = mbedtls_ssl_write(&t->ssl, p, n);
        if (w == MBEDTLS_ERR_SSL_WANT_WRITE || w == MBEDTLS_ERR_SSL_WANT_READ) {
            t->pending_len = n;
            break;
        }
        if (w < 0) {
            ssize_t rc = fail(c, t, w, "write");
            return total > 0 ? (ssize_t)total : (rc == TERN_ECLOSED ? TERN_EIO : rc);
        }
        t->pending_len = 0;
        total += (size_t)w;
        if ((size_t)w < n)
            break;
    }
    return total > 0 ? (ssize_t)total : TERN_EAGAIN;
}

static bool tls_has_pending(struct conn *c)
{
    struct tls_conn *t = c->tp_state;
    return t != NULL && t->ready && !t->failed && mbedtls_ssl_check_pending(&t->ssl) != 0;
}

static const char *tls_peer_identity(struct conn *c)
{
    struct tls_conn *t = c->tp_state;
    return t != NULL ? t->identity : NULL;
}

static bool tls_ready(struct conn *c)
{
    struct tls_conn *t = c->tp_state;
    return t == NULL || t->ready || t->failed;
}

/* ---- client side (bridges) -------------------------------------------------------------- */

/* Reads the bridge's CA, certificate and key files into t. TERN_OK or TERN_ECONF with
 * "connection NAME: KEY PATH: reason". */
static int load_client_files(struct tls_listener *t, const struct conf_bridge *cf,
                             const char *name, char *err, size_t errlen)
{
    const struct {
        const char *key;
        const char *path;
    } f[] = {
        {"bridge_cafile", cf->cafile},
        {"bridge_capath", cf->capath},
        {"bridge_certfile", cf->certfile},
        {"bridge_keyfile", cf->keyfile},
    };
    char why[160];
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (f[i].path == NULL)
            continue;
        if (i != 1 && check_readable(name, f[i].key, f[i].path, err, errlen) != TERN_OK)
            return TERN_ECONF;
        int rc;
        switch (i) {
        case 0:
            rc = mbedtls_x509_crt_parse_file(&t->ca, f[i].path);
            break;
        case 1:
            rc = mbedtls_x509_crt_parse_path(&t->ca, f[i].path);  /* > 0: some were not */
            break;
        case 2:
            rc = mbedtls_x509_crt_parse_file(&t->cert, f[i].path);
            break;
        default:
            rc = mbedtls_pk_parse_keyfile(&t->key, f[i].path, NULL);
            break;
        }
        if (rc < 0) {
            tls_error(rc, why, sizeof why);
            snprintf(err, errlen, "%s: %s %s: %s", name, f[i].key, f[i].path, why);
            return TERN_ECONF;
        }
    }
    if (cf->certfile != NULL && mbedtls_pk_check_pair(&t->cert.pk, &t->key) != 0) {
        snprintf(err, errlen, "%s: bridge_keyfile %s does not match bridge_certfile %s", name,
                 cf->keyfile, cf->certfile);
        return TERN_ECONF;
    }
    return TERN_OK;
}

int net_tls_client_new(struct broker *b, const struct conf_bridge *cf, struct tls_listener **out,
                       char *err, size_t errlen)
{
    static const unsigned char pers[] = "tern tls bridge";
    char name[96];
    char why[160];
    snprintf(name, sizeof name, "connection %s", cf->name);
    struct tls_listener *t = listener_new(&b->mem);
    if (t == NULL) {
        snprintf(err, errlen, "%s: out of memory", name);
        return TERN_ENOMEM;
    }
    if (load_client_files(t, cf, name, err, errlen) != TERN_OK) {
        listener_free(&b->mem, t);
        return TERN_ECONF;
    }
    int rc = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy, pers,
                                   sizeof pers - 1);
    if (rc == 0)
        rc = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT,
                                         MBEDTLS_SSL_TRANSPORT_STREAM,
                                         MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc == 0 && cf->certfile != NULL)
        rc = mbedtls_ssl_conf_own_cert(&t->conf, &t->cert, &t->key);
    if (rc != 0) {
        tls_error(rc, why, sizeof why);
        snprintf(err, errlen, "%s: TLS set-up failed: %s", name, why);
        listener_free(&b->mem, t);
        return TERN_ECONF;
    }
    mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
    mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
    *out = t;
    return TERN_OK;
}

void net_tls_client_free(struct broker *b, struct tls_listener *t)
{
    listener_free(&b->mem, t);
}

int net_tls_client_open(struct conn *c, struct tls_listener *tl, const char *host, bool insecure)
{
    int rc = tls_attach_session(c, tl, insecure ? NULL : host);
    if (rc != TERN_OK)
        return rc;
    /* The client speaks first: conn.c calls read (which drives the handshake) once the
     * socket is writable. */
    conn_transport_wants_write(c, true);
    return TERN_OK;
}

const struct transport net_tls_transport = {
    .name = "tls",
    .read = tls_read,
    .writev = tls_writev,
    .has_pending = tls_has_pending,
    .close = tls_close,
    .listen = tls_listen,
    .unlisten = tls_unlisten,
    .reload = tls_reload,
    .open = tls_open,
    .peer_identity = tls_peer_identity,
    .ready = tls_ready,
};
