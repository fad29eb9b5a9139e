/*
 * The persistence writer: state hooks that append records, group commit with the pending-acks
 * list, disk-failure handling, and compaction. The format is in persist_format.h; recovery is
 * in persist_load.c.
 *
 * Group commit (STYLE 2.9; MQTT 3.1.1 section 4.3: the acknowledgement transfers ownership of
 * the message to the broker): records made during one loop turn collect in p->buf; the
 * before-sleep hook writes them with one pwrite, ends the batch with a COMMIT record, fsyncs
 * (policy permitting), and only then moves that turn's PUBACK/PUBREC/PUBCOMP into the
 * connections' output queues, before conn_flush_all writes them. PUBCOMP waits too: until
 * QOS2_DONE is durable a restarted broker would still treat that packet id as a duplicate.
 *
 * Disk failure: a failed write is cut back to the last whole record (ftruncate), the batch and
 * its acks are held, QoS 0 and deliveries go on, and a timer retries every PERSIST_RETRY_MS;
 * after a failed fsync the retry is a full compaction (the kernel may have dropped the pages).
 * Once more than PERSIST_HOLD_MAX bytes are held, QoS 1/2 publishes are refused unacknowledged
 * (the client keeps them and resends after reconnecting).
 *
 * Size: p->live estimates what a compaction would write (records of live state plus one body
 * per logged message, counted through m->prefs). When the log passes 2 x live + slack it is
 * rewritten: every live record into tern.db.new, fsync, rename over tern.db, fsync the
 * directory. Compaction runs on the loop (it blocks it for the time of writing the live state).
 */
#include "persist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "conn.h"
#include "expire.h"
#include "persist_format.h"
#include "queue.h"
#include "retain.h"
#include "session.h"
#include "tern/err.h"
#include "tern/mqtt.h"
#include "tern/msg.h"
#include "tern/platform.h"

#define WBUF_FLUSH (1u << 20)

/* ---- record buffer ---------------------------------------------------------------------- */

static size_t msg_rec_size(const struct msg *m)
{
    return PF_REC_HDR + PF_MSG_FIXED + m->topic_len + (size_t)m->payload_len +
           (m->expiry_s > 0 ? PF_REC_HDR + PF_MSG_EXPIRY_LEN : 0);
}

/* Reserves a record of body_len in p->buf; returns the body or NULL (out of memory). */
static uint8_t *rec_begin(struct persist *p, uint8_t type, size_t body_len)
{
    size_t need = p->len + PF_REC_HDR + body_len;
    if (need > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (cap < need)
            cap *= 2;
        uint8_t *nb = mem_realloc(&p->b->mem, p->buf, cap);
        if (nb == NULL) {
            p->b->stats.dropped_nomem++;
            return NULL;
        }
        p->buf = nb;
        p->cap = cap;
    }
    uint8_t *r = p->buf + p->len;
    pf_put32(r, (uint32_t)body_len);
    r[8] = type;
    p->len = need;
    p->stats.records++;
    return r + PF_REC_HDR;
}

/* Seals the record whose body rec_begin returned. */
static void rec_end(uint8_t *body)
{
    uint8_t *r = body - PF_REC_HDR;
    pf_put32(r + 4, persist_crc32c(0, r + 8, 1 + (size_t)pf_get32(r)));
}

static void put_msg(uint8_t *b, const struct msg *m)
{
    pf_put64(b, m->id);
    b[8] = m->qos;
    b[9] = m->retain;
    pf_put16(b + 10, m->topic_len);
    pf_put32(b + 12, m->payload_len);
    memcpy(b + 16, m->topic, m->topic_len);
    if (m->payload_len > 0)
        memcpy(b + 16 + m->topic_len, m->payload, m->payload_len);
}

static void put_expiry(struct persist *p, uint8_t *b, const struct msg *m)
{
    pf_put64(b, m->id);
    pf_put64(b + 8, (uint64_t)expire_arrival_wall_ms(p->b, m));
    pf_put32(b + 16, m->expiry_s);
}

/* Writes m's body (and its lifetime, when it has one) into this log file unless it is there
 * already. */
static void need_body(struct persist *p, struct msg *m)
{
    if (m->pgen == p->gen)
        return;
    uint8_t *b = rec_begin(p, PF_MSG, PF_MSG_FIXED + m->topic_len + (size_t)m->payload_len);
    if (b == NULL)
        return;
    put_msg(b, m);
    rec_end(b);
    if (m->expiry_s > 0) {
        if ((b = rec_begin(p, PF_MSG_EXPIRY, PF_MSG_EXPIRY_LEN)) == NULL)
            return;
        put_expiry(p, b, m);
        rec_end(b);
    }
    m->pgen = p->gen;
}

static void ref_body(struct persist *p, struct msg *m)
{
    if (m->prefs++ == 0)
        p->live += (int64_t)msg_rec_size(m);
}

static void unref_body(struct persist *p, struct msg *m)
{
    if (m != NULL && m->prefs > 0 && --m->prefs == 0)
        p->live -= (int64_t)msg_rec_size(m);
}

static bool off(const struct persist *p, const struct sess *s)
{
    return p == NULL || p->loading || (s != NULL && s->pkey == 0);
}

/* A record of a session key and a packet id (QINFL, INFL_REL, INFL_DONE, QOS2_*). */
static void rec_pid(struct persist *p, uint8_t type, const struct sess *s, uint16_t pid)
{
    uint8_t *b = rec_begin(p, type, PF_PID_LEN);
    if (b == NULL)
        return;
    pf_put32(b, s->pkey);
    pf_put16(b + 4, pid);
    rec_end(b);
}

/* ---- state hooks ------------------------------------------------------------------------ */

void persist_sess_new(struct persist *p, struct sess *s)
{
    if (p == NULL || p->loading || s->clean)
        return;
    s->pkey = p->next_skey++;
    uint8_t *b = rec_begin(p, PF_SESS, PF_SESS_FIXED + s->id_len);
    if (b == NULL)
        return;
    pf_put32(b, s->pkey);
    pf_put16(b + 4, (uint16_t)s->id_len);
    memcpy(b + 6, s->client_id, s->id_len);
    rec_end(b);
    p->live += PF_REC_HDR + PF_SESS_FIXED + (int64_t)s->id_len;
}

static struct infl *infl_slot(struct sess *s, size_t i)
{
    return &s->infl[(s->infl_head + i) & (s->infl_cap - 1)];
}

static struct qentry *q_slot(struct queue *q, size_t i)
{
    return &q->ring[(q->head + i) & (q->cap - 1)];
}

void persist_sess_free(struct persist *p, struct sess *s)
{
    if (off(p, s))
        return;
    p->live -= PF_REC_HDR + PF_SESS_FIXED + (int64_t)s->id_len;
    for (size_t i = 0; i < s->n_subs; i++)
        p->live -= PF_REC_HDR + PF_SUB_FIXED + (int64_t)s->subs[i].len;
    p->live -= (int64_t)s->n_in_qos2 * (PF_REC_HDR + PF_PID_LEN);
    for (size_t i = 0; i < s->infl_span; i++) {
        struct infl *e = infl_slot(s, i);
        if (e->state == INFL_FREE)
            continue;
        p->live -= PF_REC_HDR + PF_INFL_LEN;
        unref_body(p, e->m);
    }
    for (size_t i = 0; i < s->pending.count; i++) {
        p->live -= PF_REC_HDR + PF_QPUSH_LEN;
        unref_body(p, q_slot(&s->pending, i)->m);
    }
    uint8_t *b = rec_begin(p, PF_SESS_DEL, PF_SKEY_LEN);
    if (b != NULL) {
        pf_put32(b, s->pkey);
        rec_end(b);
    }
    s->pkey = 0;
}

void persist_sub(struct persist *p, struct sess *s, const uint8_t *f, size_t len, uint8_t qos,
                 bool is_new)
{
    if (off(p, s))
        return;
    uint8_t *b = rec_begin(p, PF_SUB, PF_SUB_FIXED + len);
    if (b == NULL)
        return;
    pf_put32(b, s->pkey);
    b[4] = qos;
    pf_put16(b + 5, (uint16_t)len);
    memcpy(b + 7, f, len);
    rec_end(b);
    if (is_new)
        p->live += PF_REC_HDR + PF_SUB_FIXED + (int64_t)len;
}

void persist_unsub(struct persist *p, struct sess *s, const uint8_t *f, size_t len)
{
    if (off(p, s))
        return;
    uint8_t *b = rec_begin(p, PF_UNSUB, PF_UNSUB_FIXED + len);
    if (b == NULL)
        return;
    pf_put32(b, s->pkey);
    pf_put16(b + 4, (uint16_t)len);
    memcpy(b + 6, f, len);
    rec_end(b);
    p->live -= PF_REC_HDR + PF_SUB_FIXED + (int64_t)len;
}

void persist_q_push(struct persist *p, struct sess *s, struct msg *m, uint8_t qos, bool retain)
{
    if (off(p, s))
        return;
    need_body(p, m);
    uint8_t *b = rec_begin(p, PF_QPUSH, PF_QPUSH_LEN);
    if (b == NULL)
        return;
    pf_put32(b, s->pkey);
    pf_put64(b + 4, m->id);
    b[12] = qos;
    b[13] = retain;
    rec_end(b);
    ref_body(p, m);
    p->live += PF_REC_HDR + PF_QPUSH_LEN;
}

void persist_q_pop(struct persist *p, struct sess *s, struct msg *m, bool to_infl,
                   uint16_t packet_id)
{
    if (off(p, s))
        return;
    p->live -= PF_REC_HDR + PF_QPUSH_LEN;
    if (to_infl) {
        rec_pid(p, PF_QINFL, s, packet_id);
        p->live += PF_REC_HDR + PF_INFL_LEN;
        return;
    }
    uint8_t *b = rec_begin(p, PF_QPOP, PF_SKEY_LEN);
    if (b != NULL) {
        pf_put32(b, s->pkey);
        rec_end(b);
    }
    unref_body(p, m);
}

void persist_infl(struct persist *p, struct sess *s, struct msg *m, uint16_t packet_id,
                  uint8_t qos, bool retain)
{
    if (off(p, s))
        return;
    need_body(p, m);
    uint8_t *b = rec_begin(p, PF_INFL, PF_INFL_LEN);
    if (b == NULL)
        return;
    pf_put32(b, s->pkey);
    pf_put16(b + 4, packet_id);
    b[6] = qos;
    b[7] = retain;
    b[8] = qos == 1 ? INFL_WAIT_PUBACK : INFL_WAIT_PUBREC;
    pf_put64(b + 9, m->id);
    rec_end(b);
    ref_body(p, m);
    p->live += PF_REC_HDR + PF_INFL_LEN;
}

void persist_infl_pubrec(struct persist *p, struct sess *s, struct msg *m, uint16_t packet_id)
{
    if (off(p, s))
        return;
    rec_pid(p, PF_INFL_REL, s, packet_id);
    unref_body(p, m);
}

void persist_infl_done(struct persist *p, struct sess *s, struct msg *m, uint16_t packet_id)
{
    if (off(p, s))
        return;
    rec_pid(p, PF_INFL_DONE, s, packet_id);
    unref_body(p, m);
    p->live -= PF_REC_HDR + PF_INFL_LEN;
}

void persist_qos2_in(struct persist *p, struct sess *s, uint16_t packet_id, bool add)
{
    if (off(p, s))
        return;
    rec_pid(p, add ? PF_QOS2_IN : PF_QOS2_DONE, s, packet_id);
    p->live += (add ? 1 : -1) * (int64_t)(PF_REC_HDR + PF_PID_LEN);
}

static void take_old(void *ctx, struct msg *m)
{
    *(struct msg **)ctx = m;
}

void persist_retain(struct persist *p, struct msg *m)
{
    if (off(p, NULL))
        return;
    struct msg *old = NULL;
    retain_match(p->b->retained, (const uint8_t *)m->topic, m->topic_len, take_old, &old);
    if (old == m)
        return;
    if (old != NULL) {
        unref_body(p, old);
        p->live -= PF_REC_HDR + PF_RETAIN_LEN;
    }
    need_body(p, m);
    uint8_t *b = rec_begin(p, PF_RETAIN, PF_RETAIN_LEN);
    if (b == NULL)
        return;
    pf_put64(b, m->id);
    rec_end(b);
    if (m->payload_len > 0) {
        ref_body(p, m);
        p->live += PF_REC_HDR + PF_RETAIN_LEN;
    }
}

/* ---- pending acks ----------------------------------------------------------------------- */

int persist_ack(struct persist *p, struct conn *c, uint8_t type, uint16_t packet_id)
{
    if (p == NULL)
        return conn_send_ack(c, type, packet_id);
    if (p->n_acks == p->acks_cap) {
        size_t cap = p->acks_cap ? p->acks_cap * 2 : 256;
        struct persist_ack *a = mem_realloc(&p->b->mem, p->acks, cap * sizeof *a);
        if (a == NULL)
            return TERN_ENOMEM;
        p->acks = a;
        p->acks_cap = cap;
    }
    p->acks[p->n_acks++] = (struct persist_ack){c, type, packet_id};
    return TERN_OK;
}

void persist_forget_conn(struct persist *p, struct conn *c)
{
    if (p == NULL)
        return;
    size_t j = 0;
    for (size_t i = 0; i < p->n_acks; i++) {
        if (p->acks[i].c != c)
            p->acks[j++] = p->acks[i];
    }
    p->n_acks = j;
}

static void release_acks(struct persist *p)
{
    for (size_t i = 0; i < p->n_acks; i++)
        conn_send_ack(p->acks[i].c, p->acks[i].type, p->acks[i].packet_id);
    p->stats.acks_held += p->n_acks;
    p->n_acks = 0;
}

bool persist_accepting(struct persist *p)
{
    if (p == NULL || !p->failed || p->len < PERSIST_HOLD_MAX)
        return true;
    if ((p->stats.refused++ & 1023) == 0)
        LOG_ERR(&p->b->log, "Persistence: %s is failing and %zu bytes are held: QoS 1/2 "
                "publishes are refused until it recovers (%llu so far).", p->path, p->len,
                (unsigned long long)p->stats.refused);
    return false;
}

/* ---- writing and syncing ---------------------------------------------------------------- */

/* Writes all of data at off. TERN_OK or TERN_EIO (errno kept). */
static int write_at(struct persist *p, int fd, const uint8_t *data, size_t len, uint64_t at)
{
    if (p->fail_writes) {
        errno = ENOSPC;
        return TERN_EIO;
    }
    while (len > 0) {
        ssize_t w = pwrite(fd, data, len, (off_t)at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            return TERN_EIO;
        }
        data += w;
        len -= (size_t)w;
        at += (uint64_t)w;
        p->stats.bytes_written += (uint64_t)w;
    }
    return TERN_OK;
}

static int sync_fd(struct persist *p, int fd)
{
    p->stats.fsyncs++;
    if (p->fail_writes) {
        errno = EIO;
        return TERN_EIO;
    }
    uint64_t t0 = plat_now_us();
    int rc = plat_fsync(fd);
    metrics_hist_add(&p->b->stats.persist_sync, plat_now_us() - t0);
    return rc;
}

/* Appends p->buf plus a COMMIT record at file_off. On failure the file is cut back. */
static int write_batch(struct persist *p)
{
    size_t keep = p->len;
    uint8_t *b = rec_begin(p, PF_COMMIT, PF_COMMIT_LEN);
    if (b == NULL)
        return TERN_ENOMEM;
    pf_put64(b, p->seq + 1);
    pf_put64(b + 8, p->durable_seq);
    rec_end(b);
    if (write_at(p, p->fd, p->buf, p->len, p->file_off) != TERN_OK) {
        int e = errno;
        p->len = keep;
        p->stats.records--;
        if (ftruncate(p->fd, (off_t)p->file_off) != 0)
            p->need_compact = true;
        errno = e;
        return TERN_EIO;
    }
    p->file_off += p->len;
    p->len = 0;
    p->seq++;
    return TERN_OK;
}

static int sync_log(struct persist *p)
{
    if (sync_fd(p, p->fd) != TERN_OK)
        return TERN_EIO;
    p->durable_seq = p->seq;
    p->unsynced = false;
    p->last_sync_ms = broker_now(p->b);
    return TERN_OK;
}

static void set_failed(struct persist *p, const char *what)
{
    int e = errno;
    p->stats.write_errors++;
    if (!p->failed || (p->stats.write_errors & 63) == 0)
        LOG_ERR(&p->b->log, "Persistence: %s of %s failed: %s. QoS 1/2 publishes are not "
                "acknowledged until it succeeds; retrying every %u ms.", what, p->path,
                strerror(e), PERSIST_RETRY_MS);
    p->failed = true;
    loop_timer_start(p->b->loop, &p->timer, broker_now(p->b) + PERSIST_RETRY_MS);
}

/* Writes and syncs (per policy) what is buffered. TERN_OK, or TERN_EIO with p failed. */
static int flush_records(struct persist *p, bool force_sync)
{
    if (p->len == 0)
        return TERN_OK;
    if (write_batch(p) != TERN_OK) {
        set_failed(p, "write");
        return TERN_EIO;
    }
    uint64_t now = broker_now(p->b);
    if (p->mode == PERSIST_SYNC_INTERVAL && !force_sync &&
        now - p->last_sync_ms < p->interval_ms) {
        if (!p->unsynced)
            loop_timer_start(p->b->loop, &p->timer, p->last_sync_ms + p->interval_ms);
        p->unsynced = true;
        return TERN_OK;
    }
    if (sync_log(p) != TERN_OK) {
        p->need_compact = true;
        set_failed(p, "fsync");
        return TERN_EIO;
    }
    return TERN_OK;
}

static void maybe_compact(struct persist *p)
{
    int64_t live = p->live > 0 ? p->live : 0;
    if (p->file_off <= 2 * (uint64_t)live + p->slack + PF_HEADER ||
        p->file_off < p->compact_retry_off)
        return;
    if (persist_compact(p) != TERN_OK) {
        /* Not again every turn: once the log has grown by another slack. */
        p->compact_retry_off = p->file_off + p->slack;
        LOG_ERR(&p->b->log, "Persistence: compaction of %s failed: %s; the log keeps "
                "growing; next try after %llu more bytes.", p->path, strerror(errno),
                (unsigned long long)p->slack);
    }
}

void persist_commit(struct persist *p)
{
    if (p == NULL || p->failed)
        return;
    if (flush_records(p, false) != TERN_OK)
        return;
    if (p->n_acks > 0)
        release_acks(p);
    maybe_compact(p);
}

void persist_packet_done(struct persist *p)
{
    if (p != NULL && p->mode == PERSIST_SYNC_ALWAYS && !p->failed)
        flush_records(p, true);
}

static void retry(struct persist *p)
{
    int rc;
    if (p->need_compact) {
        rc = persist_compact(p);
    } else {
        rc = write_batch(p);
        if (rc == TERN_OK && sync_log(p) != TERN_OK) {
            p->need_compact = true;
            rc = TERN_EIO;
        }
    }
    if (rc != TERN_OK) {
        p->stats.write_errors++;
        if ((p->stats.write_errors & 63) == 0)
            LOG_ERR(&p->b->log, "Persistence: %s still failing: %s.", p->path,
                    strerror(errno));
        loop_timer_start(p->b->loop, &p->timer, broker_now(p->b) + PERSIST_RETRY_MS);
        return;
    }
    p->failed = false;
    LOG_NOTICE(&p->b->log, "Persistence: %s writable again; releasing %zu held "
               "acknowledgements.", p->path, p->n_acks);
    release_acks(p);
}

void persist_on_timer(struct persist *p)
{
    if (p->failed) {
        retry(p);
    } else if (p->unsynced && sync_log(p) != TERN_OK) {
        p->need_compact = true;
        set_failed(p, "fsync");
    }
}

/* ---- compaction ------------------------------------------------------------------------- */

/* A buffered writer into the new file, or a counter (measure: computes prefs and live). */
struct sink {
    struct persist *p;
    bool measure;
    uint32_t gen;
    int fd;
    uint8_t *buf;
    size_t len;
    size_t cap;
    uint64_t off;
    uint64_t counted;
    int err;
};

static void sink_flush(struct sink *k)
{
    if (k->err == TERN_OK && k->len > 0)
        k->err = write_at(k->p, k->fd, k->buf, k->len, k->off);
    k->off += k->len;
    k->len = 0;
}

static uint8_t *sink_rec(struct sink *k, uint8_t type, size_t body_len)
{
    size_t n = PF_REC_HDR + body_len;
    k->counted += n;
    if (k->measure || k->err != TERN_OK)
        return NULL;
    if (k->len + n > k->cap) {
        sink_flush(k);
        if (n > k->cap) {
            uint8_t *nb = mem_realloc(&k->p->b->mem, k->buf, n);
            if (nb == NULL) {
                k->err = TERN_ENOMEM;
                return NULL;
            }
            k->buf = nb;
            k->cap = n;
        }
    }
    uint8_t *r = k->buf + k->len;
    pf_put32(r, (uint32_t)body_len);
    r[8] = type;
    k->len += n;
    return r + PF_REC_HDR;
}

static void sink_end(struct sink *k, uint8_t *body)
{
    if (body != NULL)
        rec_end(body);
    if (k->len >= WBUF_FLUSH)
        sink_flush(k);
}

static void sink_body(struct sink *k, struct msg *m)
{
    if (k->measure) {
        if (m->prefs++ == 0)
            k->counted += msg_rec_size(m);
        return;
    }
    if (m->pgen == k->gen)
        return;
    uint8_t *b = sink_rec(k, PF_MSG, PF_MSG_FIXED + m->topic_len + (size_t)m->payload_len);
    if (b != NULL)
        put_msg(b, m);
    sink_end(k, b);
    if (m->expiry_s > 0) {
        b = sink_rec(k, PF_MSG_EXPIRY, PF_MSG_EXPIRY_LEN);
        if (b != NULL)
            put_expiry(k->p, b, m);
        sink_end(k, b);
    }
    m->pgen = k->gen;
}

static void sink_retained(void *ctx, struct msg *m)
{
    struct sink *k = ctx;
    sink_body(k, m);
    uint8_t *b = sink_rec(k, PF_RETAIN, PF_RETAIN_LEN);
    if (b != NULL)
        pf_put64(b, m->id);
    sink_end(k, b);
}

static void sink_pid(struct sink *k, uint8_t type, uint32_t skey, uint16_t pid)
{
    uint8_t *b = sink_rec(k, type, PF_PID_LEN);
    if (b != NULL) {
        pf_put32(b, skey);
        pf_put16(b + 4, pid);
    }
    sink_end(k, b);
}

static void sink_infl(struct sink *k, struct sess *s, struct infl *e)
{
    if (e->m != NULL)
        sink_body(k, e->m);
    uint8_t *b = sink_rec(k, PF_INFL, PF_INFL_LEN);
    if (b != NULL) {
        pf_put32(b, s->pkey);
        pf_put16(b + 4, e->packet_id);
        b[6] = e->qos;
        b[7] = e->retain;
        b[8] = e->state;
        pf_put64(b + 9, e->m != NULL ? e->m->id : 0);
    }
    sink_end(k, b);
}

static void sink_session(struct sink *k, struct sess *s)
{
    uint8_t *b = sink_rec(k, PF_SESS, PF_SESS_FIXED + s->id_len);
    if (b != NULL) {
        pf_put32(b, s->pkey);
        pf_put16(b + 4, (uint16_t)s->id_len);
        memcpy(b + 6, s->client_id, s->id_len);
    }
    sink_end(k, b);
    for (size_t i = 0; i < s->n_subs; i++) {
        struct sub *sub = &s->subs[i];
        b = sink_rec(k, PF_SUB, PF_SUB_FIXED + sub->len);
        if (b != NULL) {
            pf_put32(b, s->pkey);
            b[4] = sub->qos;
            pf_put16(b + 5, sub->len);
            memcpy(b + 7, sub->filter, sub->len);
        }
        sink_end(k, b);
    }
    for (size_t i = 0; i < s->n_in_qos2; i++)
        sink_pid(k, PF_QOS2_IN, s->pkey, s->in_qos2[i]);
    for (size_t i = 0; i < s->infl_span; i++) {
        struct infl *e = infl_slot(s, i);
        if (e->state != INFL_FREE)
            sink_infl(k, s, e);
    }
    for (size_t i = 0; i < s->pending.count; i++) {
        struct qentry *q = q_slot(&s->pending, i);
        sink_body(k, q->m);
        b = sink_rec(k, PF_QPUSH, PF_QPUSH_LEN);
        if (b != NULL) {
            pf_put32(b, s->pkey);
            pf_put64(b + 4, q->m->id);
            b[12] = q->qos;
            b[13] = q->retain;
        }
        sink_end(k, b);
    }
}

/* Emits (or counts) every live record: retained messages, then each persistent session. */
static void walk(struct sink *k)
{
    struct broker *b = k->p->b;
    retain_foreach(b->retained, sink_retained, k);
    for (size_t i = 0; i < b->sessions.cap; i++) {
        for (struct sess *s = b->sessions.slots[i]; s != NULL; s = s->hnext) {
            if (s->pkey != 0)
                sink_session(k, s);
        }
    }
}

/* Recomputes m->prefs and p->live from the state (after recovery). */
void persist_measure(struct persist *p)
{
    struct sink k = {.p = p, .measure = true};
    walk(&k);
    p->live = (int64_t)k.counted;
}

void persist_header(uint8_t *out)
{
    memcpy(out, PF_MAGIC, 8);
    pf_put32(out + 8, PF_VERSION);
    pf_put32(out + 12, persist_crc32c(0, out, 12));
}

static int compact_into(struct persist *p, struct sink *k)
{
    persist_header(k->buf);
    k->len = PF_HEADER;
    k->counted = PF_HEADER;
    walk(k);
    uint8_t *b = sink_rec(k, PF_COMMIT, PF_COMMIT_LEN);
    if (b != NULL) {
        pf_put64(b, p->seq + 1);
        pf_put64(b + 8, p->seq + 1);
    }
    sink_end(k, b);
    sink_flush(k);
    if (k->err != TERN_OK)
        return k->err;
    return sync_fd(p, k->fd);
}

int persist_compact(struct persist *p)
{
    uint64_t t0 = plat_now_ms();
    struct sink k = {.p = p, .gen = p->gen + 1, .cap = WBUF_FLUSH * 2};
    if (k.gen == 0)
        k.gen = 1;
    k.buf = mem_alloc(&p->b->mem, k.cap);
    k.fd = open(p->tmp_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = TERN_EIO;
    if (k.buf == NULL || k.fd < 0)
        goto out;
    rc = compact_into(p, &k);
    if (rc == TERN_OK && rename(p->tmp_path, p->path) != 0)
        rc = TERN_EIO;
    if (rc == TERN_OK)
        plat_fsync_dir(p->dir);
out:
    if (rc != TERN_OK) {
        int e = errno;
        if (k.fd >= 0) {
            close(k.fd);
            unlink(p->tmp_path);
        }
        mem_free(&p->b->mem, k.buf);
        /* Bodies stamped with k.gen are in no file, and those stamped with p->gen may be
         * counted as written: a fresh generation makes every body be written again. */
        p->gen = k.gen + 1;
        errno = e;
        return TERN_EIO;
    }
    mem_free(&p->b->mem, k.buf);
    close(p->fd);
    p->fd = k.fd;
    p->gen = k.gen;
    p->file_off = k.off;
    p->live = (int64_t)k.off;
    p->len = 0;
    p->seq++;
    p->durable_seq = p->seq;
    p->unsynced = false;
    p->need_compact = false;
    p->compact_retry_off = 0;
    p->last_sync_ms = broker_now(p->b);
    p->stats.compactions++;
    LOG_INFO(&p->b->log, "Persistence: compacted %s to %llu bytes in %llu ms.", p->path,
             (unsigned long long)k.off, (unsigned long long)(plat_now_ms() - t0));
    return TERN_OK;
}

void persist_free(struct persist *p)
{
    if (p == NULL)
        return;
    struct mem *mem = &p->b->mem;
    if (p->fd >= 0) {
        if (!p->failed && flush_records(p, true) == TERN_OK && p->unsynced)
            sync_log(p);
        close(p->fd);
    }
    if (p->lock_fd >= 0)
        close(p->lock_fd);
    if (p->b->loop != NULL)
        loop_timer_stop(p->b->loop, &p->timer);
    mem_free(mem, p->buf);
    mem_free(mem, p->acks);
    mem_free(mem, p->dir);
    mem_free(mem, p->path);
    mem_free(mem, p->tmp_path);
    mem_free(mem, p);
}
