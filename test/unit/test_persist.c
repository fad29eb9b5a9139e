/*
 * Unit tests for the persistence log (persist.c, persist_load.c): CRC32C, recovery of every
 * kind of state, acks held until the commit, disk failure (the module's write-failure switch)
 * and recovery from it, compaction bounds, and recovery from damaged files: truncated at every
 * byte and with random bytes flipped it never crashes, never returns a message that was not
 * written, and recovers a prefix of what was.
 *
 * A broker is assembled from its real modules as in test_session.c; each store lives in a
 * fresh directory under /tmp.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "conf.h"
#include "conn.h"
#include "expire.h"
#include "listener.h"
#include "loop.h"
#include "persist.h"
#include "persist_format.h"
#include "proto.h"
#include "retain.h"
#include "session.h"
#include "tern/codec.h"
#include "tern/err.h"
#include "tern/mqtt.h"
#include "tern/platform.h"
#include "tern/msg.h"
#include "topic_tree.h"

#define N_MSGS 10

struct fixture {
    struct broker b;
    struct listener lst;
    struct conf conf;
    int peer_fd;
    char err[512];
};

static void make_dir(char *out, size_t n)
{
    snprintf(out, n, "/tmp/tern-persist-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(out));
}

static void remove_dir(const char *dir)
{
    char p[512];
    snprintf(p, sizeof p, "%s/" PERSIST_FILE, dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/" PERSIST_FILE ".new", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/" PERSIST_LOCK, dir);
    unlink(p);
    rmdir(dir);
}

/* Builds a broker and opens the store in dir; returns persist_open's code. */
static int open_store(struct fixture *f, const char *dir)
{
    memset(f, 0, sizeof *f);
    mem_init(&f->b.mem, 0);
    expire_init(&f->b);
    f->b.loop = loop_new(&f->b.mem, 16);
    f->b.subs = topic_tree_new(&f->b.mem);
    f->b.retained = retain_new(&f->b.mem);
    f->b.lim.max_queued_messages = 1000;
    f->b.lim.max_inflight = 20;
    f->b.lim.out_limit = 1 << 20;
    f->b.lim.connect_timeout_ms = 10000;
    f->b.lim.retain_available = true;
    f->lst.b = &f->b;
    f->lst.tp = &net_tcp_transport;
    f->lst.max_connections = -1;
    f->b.log.types = 0;
    ck_assert_ptr_nonnull(f->b.loop);
    conf_init(&f->conf);
    f->conf.persistence = true;
    f->conf.persistence_location = strdup(dir);
    return persist_open(&f->b, &f->conf, &f->b.persist, f->err, sizeof f->err);
}

/* Frees everything like tern_broker_free: the store first, so freeing sessions logs nothing. */
static void close_store(struct fixture *f)
{
    conn_close_all(&f->b);
    persist_free(f->b.persist);
    f->b.persist = NULL;
    sess_free_all(&f->b);
    retain_free(f->b.retained);
    topic_tree_free(f->b.subs);
    mem_free(&f->b.mem, f->b.match);
    expire_cleanup(&f->b);
    loop_free(f->b.loop);
    if (f->peer_fd > 0)
        close(f->peer_fd);
    conf_cleanup(&f->conf);
    ck_assert_uint_eq(f->b.mem.used, 0);
}

static struct conn *connect_client(struct fixture *f)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(conn_accept(&f->b, &f->lst, sv[0], "test"), TERN_OK);
    f->peer_fd = sv[1];
    struct conn *c = f->b.conns;
    c->state = CONN_ACTIVE;
    return c;
}

static void publish(struct fixture *f, const char *topic, const char *payload, uint8_t qos,
                    bool retain)
{
    struct msg *m = msg_new(&f->b.mem, (const uint8_t *)topic, strlen(topic),
                            (const uint8_t *)payload, strlen(payload), qos, retain);
    broker_publish(&f->b, m);
    msg_unref(&m);
}

/* Counts packets of type in c's output queue. */
static int count_out(struct conn *c, uint8_t type)
{
    static uint8_t buf[1 << 16];
    struct iovec iov[256];
    int n = outq_iov(&c->out, iov, 256);
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        memcpy(buf + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    int count = 0;
    for (size_t off = 0; off < len;) {
        struct pkt p;
        size_t used;
        ck_assert_int_eq(codec_decode(buf + off, len - off, 0, false, &p, &used), TERN_OK);
        count += p.type == type;
        off += used;
    }
    return count;
}

static struct pkt publish_pkt(const char *topic, const char *payload, uint8_t qos,
                              uint16_t pid)
{
    struct pkt p;
    memset(&p, 0, sizeof p);
    p.type = MQTT_PUBLISH;
    p.u.publish.qos = qos;
    p.u.publish.packet_id = pid;
    p.u.publish.topic = (struct mqtt_str){(const uint8_t *)topic, (uint32_t)strlen(topic)};
    p.u.publish.payload = (struct mqtt_str){(const uint8_t *)payload, (uint32_t)strlen(payload)};
    return p;
}

static size_t file_size(const char *dir)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/" PERSIST_FILE, dir);
    ck_assert_int_eq(stat(p, &st), 0);
    return (size_t)st.st_size;
}

static uint8_t *read_log(const char *dir, size_t *len)
{
    char p[512];
    snprintf(p, sizeof p, "%s/" PERSIST_FILE, dir);
    FILE *fp = fopen(p, "rb");
    ck_assert_ptr_nonnull(fp);
    *len = file_size(dir);
    uint8_t *d = malloc(*len + 1);
    ck_assert_uint_eq(fread(d, 1, *len, fp), *len);
    fclose(fp);
    return d;
}

static void write_log(const char *dir, const uint8_t *d, size_t len)
{
    char p[512];
    snprintf(p, sizeof p, "%s/" PERSIST_FILE, dir);
    FILE *fp = fopen(p, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(d, 1, len, fp), len);
    fclose(fp);
}

/* A log holding: session "sub" with a QoS 2 subscription and inbound QoS 2 id 7, then
 * N_MSGS QoS 1 messages "t/<i>" = "m<i>" queued for it, every third one retained, each in a
 * batch of its own. */
static void build_log(const char *dir)
{
    struct fixture f;
    ck_assert_int_eq(open_store(&f, dir), TERN_OK);
    struct sess *s = sess_new(&f.b, (const uint8_t *)"sub", 3, false);
    ck_assert_int_eq(sess_subscribe(s, (const uint8_t *)"t/#", 3, 2), TERN_OK);
    ck_assert_int_eq(sess_qos2_add(s, 7), TERN_OK);
    persist_commit(f.b.persist);
    for (int i = 0; i < N_MSGS; i++) {
        char t[16];
        char pl[16];
        snprintf(t, sizeof t, "t/%d", i);
        snprintf(pl, sizeof pl, "m%d", i);
        publish(&f, t, pl, 1, i % 3 == 0);
        persist_commit(f.b.persist);
    }
    close_store(&f);
}

/* Checks what a recovered store holds against build_log; returns how many queued messages. */
static int check_recovered(struct fixture *f)
{
    struct sess *s = sess_find(&f->b, (const uint8_t *)"sub", 3);
    int n = 0;
    if (s != NULL) {
        for (size_t i = 0; i < s->pending.count; i++) {
            struct qentry *e = &s->pending.ring[(s->pending.head + i) & (s->pending.cap - 1)];
            char t[16];
            char pl[16];
            snprintf(t, sizeof t, "t/%d", n);
            snprintf(pl, sizeof pl, "m%d", n);
            ck_assert_str_eq(e->m->topic, t);
            ck_assert_uint_eq(e->m->payload_len, strlen(pl));
            ck_assert_int_eq(memcmp(e->m->payload, pl, strlen(pl)), 0);
            ck_assert_uint_eq(e->qos, 1);
            n++;
        }
        ck_assert_uint_le(s->n_subs, 1);
    }
    ck_assert_uint_le(retain_count(f->b.retained), (N_MSGS + 2) / 3);
    return n;
}

START_TEST(test_persist_crc32c_check_value)
{
    ck_assert_uint_eq(persist_crc32c(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(persist_crc32c(persist_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}
END_TEST

START_TEST(test_persist_restores_sessions_queues_retained_and_qos2_ids)
{
    char dir[64];
    make_dir(dir, sizeof dir);
    build_log(dir);
    struct fixture f;
    ck_assert_int_eq(open_store(&f, dir), TERN_OK);
    struct sess *s = sess_find(&f.b, (const uint8_t *)"sub", 3);
    ck_assert_ptr_nonnull(s);
    ck_assert(!s->clean);
    ck_assert_uint_eq(s->n_subs, 1);
    ck_assert_str_eq(s->subs[0].filter, "t/#");
    ck_assert_uint_eq(s->subs[0].qos, 2);
    ck_assert(sess_qos2_seen(s, 7));
    ck_assert_int_eq(check_recovered(&f), N_MSGS);
    ck_assert_uint_eq(retain_count(f.b.retained), 4);
    ck_assert_uint_ge(f.b.next_msg_id, N_MSGS);
    /* The subscription is live in the topic tree: a new publish is queued behind the rest. */
    publish(&f, "t/x", "new", 1, false);
    ck_assert_uint_eq(s->pending.count, N_MSGS + 1);
    close_store(&f);
    remove_dir(dir);
}
END_TEST

START_TEST(test_persist_inflight_state_and_qos2_phase_survive)
{
    char dir[64];
    make_dir(dir, sizeof dir);
    struct fixture f;
    ck_assert_int_eq(open_store(&f, dir), TERN_OK);
    struct conn *c = connect_client(&f);
    struct sess *s = sess_new(&f.b, (const uint8_t *)"c1", 2, false);
    ck_assert_int_eq(sess_subscribe(s, (const uint8_t *)"a", 1, 2), TERN_OK);
    c->sess = s;
    sess_attach(s, c);
    publish(&f, "a", "one", 2, false);      /* pid 1 */
    publish(&f, "a", "two", 2, false);      /* pid 2 */
    publish(&f, "a", "three", 1, false);    /* pid 3, QoS 1 */
    ck_assert_int_eq(sess_on_pubrec(s, 1), TERN_OK);   /* pid 1 waits for PUBCOMP */
    persist_commit(f.b.persist);
    close_store(&f);

    ck_assert_int_eq(open_store(&f, dir), TERN_OK);
    s = sess_find(&f.b, (const uint8_t *)"c1", 2);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->infl_live, 3);
    struct infl *e = &s->infl[s->infl_head & (s->infl_cap - 1)];
    ck_assert_uint_eq(e[0].packet_id, 1);
    ck_assert_uint_eq(e[0].state, INFL_WAIT_PUBCOMP);
    ck_assert_ptr_null(e[0].m);
    ck_assert_uint_eq(e[1].state, INFL_WAIT_PUBREC);
    ck_assert_uint_eq(e[1].m->payload_len, 3);
    ck_assert_int_eq(memcmp(e[1].m->payload, "two", 3), 0);
    ck_assert_uint_eq(e[2].state, INFL_WAIT_PUBACK);
    ck_assert_uint_eq(e[2].packet_id, 3);
    /* Completing them after the restart is logged too. */
    ck_assert_int_eq(sess_on_pubcomp(s, 1), TERN_OK);
    ck_assert_int_eq(sess_on_puback(s, 3), TERN_OK);
    persist_commit(f.b.persist);
    close_store(&f);

    ck_assert_int_eq(open_store(&f, dir), TERN_OK);
    s = sess_find(&f.b, (const uint8_t *)"c1", 2);
    ck_assert_uint_eq(s->infl_live, 1);
    close_store(&f);
    remove_dir(dir);
}
END_TEST

START_TEST(test_persist_closing_connection_commits_before_its_output_leaves)
{
    char dir[64];
    make_dir(dir, sizeof dir);
    struct fixture f;
    ck_assert_int_eq(open_store(&f, dir), TERN_OK);
    struct conn *c = connect_client(&f);
    struct sess *s = sess_new(&f.b, (const uint8_t *)"c1", 2, false);
    ck_assert_int_eq(sess_subscribe(s, (const uint8_t *)"a", 1, 2), TERN_OK);
    c->sess = s;
    sess_attach(s, c);
    persist_commit(f.b.persist);
    size_t before = file_size(dir);
    publish(&f, "a", "x", 2, false);               /* a QoS 2 delivery waits in c's output */
    ck_assert_uint_eq(file_size(dir), before);
    conn_close(c, "test");                          /* flushes that output now */
    ck_assert_uint_gt(file_size(dir), before);      /* ... after the records were written */
    ck_assert_uint_eq(f.b.persist->len, 0);
    close_store(&f);
    remove_dir(dir);
}
END_TEST

START_TEST(test_persist_clean_sessions_and_idle_broker_write_nothing)
{
    char dir[64];
    make_dir(dir, sizeof dir);
    struct fixture f;
    ck_assert_int_eq(open_store(&f, dir), TERN_OK);
    size_t before = file_size(dir);
    struct sess *s = sess_new(&f.b, (const uint8_t *)"c", 1, true);
    ck_assert_int_eq(sess_subscribe(s, (const uint8_t *)"a", 1, 1), TERN_OK);
    publish(&f, "a", "x", 1, false);
    for (int i = 0; i < 5; i++)
        persist_commit(f.b.persist);
    ck_assert_uint_eq(file_size(dir), before);
    ck_assert_uint_eq(f.b.persist->stats.bytes_written, 0);
    ck_assert_uint_eq(f.b.persist->stats.fsyncs, 0);
    close_store(&f);
    remove_dir(dir);
}
END_TEST

START_TEST(test_persist_puback_waits_for_the_commit)
{
    char dir[64];
    make_dir(dir, sizeof dir);
    struct fixture f;
    ck_assert_int_eq(open_store(&f, dir), TERN_OK);
    struct conn *c = connect_client(&f);
    struct sess *s = sess_new(&f.b, (const uint8_t *)"pub", 3, false);
    c->sess = s;
    sess_attach(s, c);
    struct sess *sub = sess_new(&f.b, (const uint8_t *)"sub", 3, false);
    ck_assert_int_eq(sess_subscribe(sub, (const uint8_t *)"a", 1, 1), TERN_OK);
    struct pkt p = publish_pkt("a", "x", 1, 5);
    ck_assert_int_eq(proto_publish(c, &p), TERN_OK);
    p = publish_pkt("a", "y", 2, 6);
    ck_assert_int_eq(proto_publish(c, &p), TERN_OK);
    ck_assert_int_eq(count_out(c, MQTT_PUBACK), 0);
    ck_assert_int_eq(count_out(c, MQTT_PUBREC), 0);
    uint64_t syncs = f.b.persist->stats.fsyncs;
    persist_commit(f.b.persist);
    ck_assert_uint_eq(f.b.persist->stats.fsyncs, syncs + 1);   /* one fsync for the turn */
    ck_assert_int_eq(count_out(c, MQTT_PUBACK), 1);
    ck_assert_int_eq(count_out(c, MQTT_PUBREC), 1);
    /* PUBCOMP waits for QOS2_DONE to be synced as well. */
    struct pkt rel;
    memset(&rel, 0, sizeof rel);
    rel.type = MQTT_PUBREL;
    rel.u.ack.packet_id = 6;
    ck_assert_int_eq(proto_pubrel(c, &rel), TERN_OK);
    ck_assert_int_eq(count_out(c, MQTT_PUBCOMP), 0);
    persist_commit(f.b.persist);
    ck_assert_int_eq(count_out(c, MQTT_PUBCOMP), 1);
    close_store(&f);
    remove_dir(dir);
}
END_TEST

START_TEST(test_persist_write_failure_holds_acks_then_recovers)
{
    char dir[64];
    make_dir(dir, sizeof dir);
    struct fixture f;
    ck_assert_int_eq(open_store(&f, dir), TERN_OK);
    struct conn *c = connect_client(&f);
    struct sess *s = sess_new(&f.b, (const uint8_t *)"pub", 3, false);
    c->sess = s;
    sess_attach(s, c);
    struct sess *sub = sess_new(&f.b, (const uint8_t *)"sub", 3, false);
    ck_assert_int_eq(sess_subscribe(sub, (const uint8_t *)"a", 1, 1), TERN_OK);
    persist_commit(f.b.persist);
    size_t good = file_size(dir);
    f.b.persist->fail_writes = true;
    struct pkt p = publish_pkt("a", "held", 1, 9);
    ck_assert_int_eq(proto_publish(c, &p), TERN_OK);
    persist_commit(f.b.persist);
    ck_assert(f.b.persist->failed);
    ck_assert_int_eq(count_out(c, MQTT_PUBACK), 0);
    ck_assert_uint_eq(file_size(dir), good);
    /* Deliveries go on while the disk fails. */
    ck_assert_uint_eq(sub->pending.count, 1);
    persist_on_timer(f.b.persist);                   /* retry: still failing */
    ck_assert(f.b.persist->failed);
    ck_assert_int_eq(count_out(c, MQTT_PUBACK), 0);
    f.b.persist->fail_writes = false;                /* space is back */
    persist_on_timer(f.b.persist);
    ck_assert(!f.b.persist->failed);
    ck_assert_int_eq(count_out(c, MQTT_PUBACK), 1);
    close_store(&f);

    ck_assert_int_eq(open_store(&f, dir), TERN_OK);
    sub = sess_find(&f.b, (const uint8_t *)"sub", 3);
    ck_assert_uint_eq(sub->pending.count, 1);
    close_store(&f);
    remove_dir(dir);
}
END_TEST

START_TEST(test_persist_refuses_qos1_when_too_much_is_held)
{
    char dir[64];
    make_dir(dir, sizeof dir);
    struct fixture f;
    ck_assert_int_eq(open_store(&f, dir), TERN_OK);
    struct conn *c = connect_client(&f);
    struct sess *s = sess_new(&f.b, (const uint8_t *)"pub", 3, false);
    c->sess = s;
    sess_attach(s, c);
    f.b.persist->fail_writes = true;
    f.b.persist->failed = true;
    f.b.persist->len = PERSIST_HOLD_MAX;             /* pretend that much is held */
    uint64_t before = f.b.stats.msgs_received;
    struct pkt p = publish_pkt("a", "x", 1, 3);
    ck_assert_int_eq(proto_publish(c, &p), TERN_OK);
    ck_assert_uint_eq(f.b.stats.msgs_received, before);
    ck_assert_uint_eq(f.b.persist->stats.refused, 1);
    p = publish_pkt("a", "x", 0, 0);
    ck_assert_int_eq(proto_publish(c, &p), TERN_OK);
    ck_assert_uint_eq(f.b.stats.msgs_received, before + 1);
    f.b.persist->len = 0;
    f.b.persist->failed = false;
    f.b.persist->fail_writes = false;
    close_store(&f);
    remove_dir(dir);
}
END_TEST

START_TEST(test_persist_compaction_keeps_log_within_twice_live_plus_slack)
{
    char dir[64];
    make_dir(dir, sizeof dir);
    struct fixture f;
    ck_assert_int_eq(open_store(&f, dir), TERN_OK);
    f.b.persist->slack = 8192;
    struct conn *c = connect_client(&f);
    struct sess *s = sess_new(&f.b, (const uint8_t *)"c1", 2, false);
    ck_assert_int_eq(sess_subscribe(s, (const uint8_t *)"a", 1, 1), TERN_OK);
    c->sess = s;
    sess_attach(s, c);
    publish(&f, "keep", "retained", 1, true);
    for (int i = 0; i < 5000; i++) {
        publish(&f, "a", "payload-payload-payload", 1, false);
        ck_assert_int_eq(sess_on_puback(s, s->last_pid), TERN_OK);
        persist_commit(f.b.persist);
        size_t live = (size_t)f.b.persist->live;
        ck_assert_uint_le(file_size(dir), 2 * live + 8192 + 4096);
    }
    ck_assert_uint_gt(f.b.persist->stats.compactions, 10);
    close_store(&f);
    ck_assert_int_eq(open_store(&f, dir), TERN_OK);
    s = sess_find(&f.b, (const uint8_t *)"c1", 2);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->n_subs, 1);
    ck_assert_uint_eq(s->infl_live, 0);
    ck_assert_uint_eq(retain_count(f.b.retained), 1);
    close_store(&f);
    remove_dir(dir);
}
END_TEST

START_TEST(test_persist_failed_compaction_backs_off_and_the_log_goes_on)
{
    char dir[64];
    char tmp[128];
    make_dir(dir, sizeof dir);
    snprintf(tmp, sizeof tmp, "%s/" PERSIST_FILE ".new", dir);
    ck_assert_int_eq(mkdir(tmp, 0700), 0);          /* compaction cannot create its file */
    struct fixture f;
    ck_assert_int_eq(open_store(&f, dir), TERN_OK);
    f.b.persist->slack = 4096;
    struct sess *s = sess_new(&f.b, (const uint8_t *)"c1", 2, false);
    ck_assert_int_eq(sess_subscribe(s, (const uint8_t *)"a", 1, 1), TERN_OK);
    for (int i = 0; i < 300; i++) {
        publish(&f, "a", "payload-payload-payload", 1, false);
        struct qentry e;
        ck_assert(queue_pop(&s->pending, &e));     /* consumed: the log is all garbage */
        persist_q_pop(f.b.persist, s, e.m, false, 0);
        msg_unref(&e.m);
        persist_commit(f.b.persist);
        ck_assert(!f.b.persist->failed);
    }
    ck_assert_uint_eq(f.b.persist->stats.compactions, 0);
    ck_assert_uint_gt(f.b.persist->compact_retry_off, 0);
    publish(&f, "a", "last", 1, false);
    persist_commit(f.b.persist);
    close_store(&f);
    rmdir(tmp);
    ck_assert_int_eq(open_store(&f, dir), TERN_OK);
    s = sess_find(&f.b, (const uint8_t *)"c1", 2);
    ck_assert_uint_eq(s->pending.count, 1);
    ck_assert_int_eq(persist_compact(f.b.persist), TERN_OK);
    close_store(&f);
    ck_assert_int_eq(open_store(&f, dir), TERN_OK);
    ck_assert_uint_eq(sess_find(&f.b, (const uint8_t *)"c1", 2)->pending.count, 1);
    close_store(&f);
    remove_dir(dir);
}
END_TEST

START_TEST(test_persist_truncated_at_every_byte_recovers_a_prefix)
{
    char dir[64];
    char dir2[64];
    make_dir(dir, sizeof dir);
    make_dir(dir2, sizeof dir2);
    build_log(dir);
    size_t len;
    uint8_t *log = read_log(dir, &len);
    int last = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        write_log(dir2, log, cut);
        struct fixture f;
        ck_assert_int_eq(open_store(&f, dir2), TERN_OK);
        int n = check_recovered(&f);
        ck_assert_int_ge(n, last);
        last = n;
        ck_assert_uint_le(file_size(dir2), cut < PF_HEADER ? PF_HEADER : cut);
        close_store(&f);
    }
    ck_assert_int_eq(last, N_MSGS);
    free(log);
    remove_dir(dir);
    remove_dir(dir2);
}
END_TEST

START_TEST(test_persist_flipped_bytes_never_crash_or_invent)
{
    char dir[64];
    char dir2[64];
    make_dir(dir, sizeof dir);
    make_dir(dir2, sizeof dir2);
    build_log(dir);
    size_t len;
    uint8_t *log = read_log(dir, &len);
    uint8_t *bad = malloc(len);
    uint32_t seed = 12345;
    int refused = 0;
    int loaded = 0;
    for (int iter = 0; iter < 400; iter++) {
        memcpy(bad, log, len);
        int flips = 1 + iter % 3;
        for (int k = 0; k < flips; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            bad[at] ^= (uint8_t)(1u + ((seed >> 16) % 255u));
        }
        write_log(dir2, bad, len);
        struct fixture f;
        int rc = open_store(&f, dir2);
        if (rc == TERN_OK) {
            check_recovered(&f);
            loaded++;
        } else {
            ck_assert(rc == TERN_EIO || rc == TERN_EMALFORMED);
            ck_assert_ptr_nonnull(strstr(f.err, PERSIST_FILE));
            refused++;
        }
        close_store(&f);
    }
    ck_assert_int_gt(refused, 0);
    ck_assert_int_gt(loaded, 0);
    free(bad);
    free(log);
    remove_dir(dir);
    remove_dir(dir2);
}
END_TEST

START_TEST(test_persist_corrupt_middle_names_file_and_offset)
{
    char dir[64];
    make_dir(dir, sizeof dir);
    build_log(dir);
    size_t len;
    uint8_t *log = read_log(dir, &len);
    log[PF_HEADER + PF_REC_HDR + 2] ^= 0x40;       /* inside the first record (SESS) */
    write_log(dir, log, len);
    struct fixture f;
    ck_assert_int_eq(open_store(&f, dir), TERN_EIO);
    ck_assert_ptr_nonnull(strstr(f.err, "corrupt record at offset 16"));
    ck_assert_ptr_nonnull(strstr(f.err, "truncate -s 16"));
    close_store(&f);
    /* The documented way out: cut the file at the offset; start-up then succeeds. */
    write_log(dir, log, PF_HEADER);
    ck_assert_int_eq(open_store(&f, dir), TERN_OK);
    close_store(&f);
    free(log);
    remove_dir(dir);
}
END_TEST

START_TEST(test_persist_reads_version_1_and_rewrites_it_as_version_2)
{
    char dir[64];
    make_dir(dir, sizeof dir);
    build_log(dir);
    size_t len;
    uint8_t *d = read_log(dir, &len);
    ck_assert_uint_eq(pf_get32(d + 8), PF_VERSION);
    /* The same records under a version 1 header: what a broker before message_expiry wrote. */
    pf_put32(d + 8, 1);
    pf_put32(d + 12, persist_crc32c(0, d, 12));
    write_log(dir, d, len);
    free(d);
    struct fixture f;
    ck_assert_int_eq(open_store(&f, dir), TERN_OK);
    ck_assert_int_eq(check_recovered(&f), N_MSGS);
    close_store(&f);
    d = read_log(dir, &len);
    ck_assert_uint_eq(pf_get32(d + 8), PF_VERSION);        /* rewritten at start-up */
    free(d);
    ck_assert_int_eq(open_store(&f, dir), TERN_OK);
    ck_assert_int_eq(check_recovered(&f), N_MSGS);
    close_store(&f);
    /* A version this build does not know is refused, not half read. */
    d = read_log(dir, &len);
    pf_put32(d + 8, PF_VERSION + 1);
    pf_put32(d + 12, persist_crc32c(0, d, 12));
    write_log(dir, d, len);
    free(d);
    ck_assert_int_eq(open_store(&f, dir), TERN_EMALFORMED);
    close_store(&f);
    remove_dir(dir);
}
END_TEST

struct expiry_recs {
    int n;
    uint32_t seconds;
    int64_t arrived;
};

static void count_expiry(void *ctx, uint8_t type, const uint8_t *body, size_t len)
{
    struct expiry_recs *r = ctx;
    if (type != PF_MSG_EXPIRY)
        return;
    ck_assert_uint_eq(len, PF_MSG_EXPIRY_LEN);
    r->n++;
    r->arrived = (int64_t)pf_get64(body + 8);
    r->seconds = pf_get32(body + 16);
}

static struct expiry_recs scan_expiry(const char *dir)
{
    struct expiry_recs r = {0};
    size_t len;
    size_t good;
    size_t bad;
    uint8_t *d = read_log(dir, &len);
    ck_assert_int_eq(persist_scan(d, len, count_expiry, &r, &good, &bad), TERN_OK);
    ck_assert_uint_eq(good, len);
    free(d);
    return r;
}

START_TEST(test_persist_message_lifetime_and_arrival_survive_restart_and_compaction)
{
    char dir[64];
    make_dir(dir, sizeof dir);
    struct fixture f;
    ck_assert_int_eq(open_store(&f, dir), TERN_OK);
    f.b.expiry.global_s = 60;
    struct sess *s = sess_new(&f.b, (const uint8_t *)"sub", 3, false);
    ck_assert_int_eq(sess_subscribe(s, (const uint8_t *)"t/#", 3, 1), TERN_OK);
    int64_t t0 = plat_wall_ms();
    publish(&f, "t/a", "lives 60 s", 1, false);
    persist_commit(f.b.persist);
    close_store(&f);
    struct expiry_recs r = scan_expiry(dir);
    ck_assert_int_eq(r.n, 1);
    ck_assert_uint_eq(r.seconds, 60);
    ck_assert_int_ge(r.arrived, t0 - 1000);
    ck_assert_int_le(r.arrived, plat_wall_ms());
    ck_assert_int_eq(open_store(&f, dir), TERN_OK);        /* global_s is 0 now: kept anyway */
    s = sess_find(&f.b, (const uint8_t *)"sub", 3);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->pending.count, 1);
    struct msg *m = queue_peek(&s->pending)->m;
    ck_assert_uint_eq(m->expiry_s, 60);
    ck_assert(!expire_due(&f.b, m));
    ck_assert_uint_le(m->expires_at - loop_now(f.b.loop), 60000);
    ck_assert_uint_ge(m->expires_at - loop_now(f.b.loop), 55000);
    ck_assert(f.b.expiry.active);                           /* the sweep runs for it */
    ck_assert_int_eq(persist_compact(f.b.persist), TERN_OK);
    close_store(&f);
    r = scan_expiry(dir);
    ck_assert_int_eq(r.n, 1);                               /* compaction keeps it */
    ck_assert_uint_eq(r.seconds, 60);
    ck_assert_int_ge(r.arrived, t0 - 1100);
    remove_dir(dir);
}
END_TEST

START_TEST(test_persist_foreign_file_is_refused)
{
    char dir[64];
    make_dir(dir, sizeof dir);
    write_log(dir, (const uint8_t *)"SQLite format 3\0 and more bytes", 32);
    struct fixture f;
    ck_assert_int_eq(open_store(&f, dir), TERN_EMALFORMED);
    ck_assert_ptr_nonnull(strstr(f.err, "not a Tern persistence file"));
    close_store(&f);
    remove_dir(dir);
}
END_TEST

START_TEST(test_persist_sync_option_parses_each_mode_and_rejects_others)
{
    static const struct {
        const char *text;
        int rc;
        int mode;
        long interval;
    } cases[] = {
        {"persistence_sync always\n", TERN_OK, CONF_PSYNC_ALWAYS, 0},
        {"persistence_sync turn\n", TERN_OK, CONF_PSYNC_TURN, 0},
        {"persistence_sync interval 5\n", TERN_OK, CONF_PSYNC_INTERVAL, 5},
        {"persistence_sync interval\n", TERN_ECONF, CONF_PSYNC_TURN, 0},
        {"persistence_sync interval 0\n", TERN_ECONF, CONF_PSYNC_TURN, 0},
        {"persistence_sync sometimes\n", TERN_ECONF, CONF_PSYNC_TURN, 0},
        {"persistence_sync turn 3\n", TERN_ECONF, CONF_PSYNC_TURN, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct conf c;
        char err[256];
        conf_init(&c);
        ck_assert_int_eq(c.persistence_sync, CONF_PSYNC_TURN);
        int rc = conf_load_string(&c, "t.conf", cases[i].text, strlen(cases[i].text), err,
                                  sizeof err, NULL, NULL);
        ck_assert_int_eq(rc, cases[i].rc);
        if (rc == TERN_OK) {
            ck_assert_int_eq(c.persistence_sync, cases[i].mode);
            ck_assert_int_eq(c.persistence_sync_interval, cases[i].interval);
        } else {
            ck_assert_ptr_nonnull(strstr(err, "t.conf:1:"));
        }
        conf_cleanup(&c);
    }
}
END_TEST

START_TEST(test_persist_second_broker_on_one_directory_is_refused)
{
    char dir[64];
    make_dir(dir, sizeof dir);
    struct fixture a;
    struct fixture b;
    ck_assert_int_eq(open_store(&a, dir), TERN_OK);
    ck_assert_int_eq(open_store(&b, dir), TERN_ELIMIT);
    ck_assert_ptr_nonnull(strstr(b.err, "in use by another broker"));
    close_store(&b);
    close_store(&a);
    ck_assert_int_eq(open_store(&b, dir), TERN_OK);     /* released with the first */
    close_store(&b);
    remove_dir(dir);
}
END_TEST

Suite *persist_suite(void)
{
    Suite *s = suite_create("persist");
    TCase *tc = tcase_create("persist");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_persist_crc32c_check_value);
    tcase_add_test(tc, test_persist_restores_sessions_queues_retained_and_qos2_ids);
    tcase_add_test(tc, test_persist_inflight_state_and_qos2_phase_survive);
    tcase_add_test(tc, test_persist_clean_sessions_and_idle_broker_write_nothing);
    tcase_add_test(tc, test_persist_closing_connection_commits_before_its_output_leaves);
    tcase_add_test(tc, test_persist_puback_waits_for_the_commit);
    tcase_add_test(tc, test_persist_write_failure_holds_acks_then_recovers);
    tcase_add_test(tc, test_persist_refuses_qos1_when_too_much_is_held);
    tcase_add_test(tc, test_persist_compaction_keeps_log_within_twice_live_plus_slack);
    tcase_add_test(tc, test_persist_failed_compaction_backs_off_and_the_log_goes_on);
    tcase_add_test(tc, test_persist_truncated_at_every_byte_recovers_a_prefix);
    tcase_add_test(tc, test_persist_flipped_bytes_never_crash_or_invent);
    tcase_add_test(tc, test_persist_corrupt_middle_names_file_and_offset);
    tcase_add_test(tc, test_persist_foreign_file_is_refused);
    tcase_add_test(tc, test_persist_reads_version_1_and_rewrites_it_as_version_2);
    tcase_add_test(tc, test_persist_message_lifetime_and_arrival_survive_restart_and_compaction);
    tcase_add_test(tc, test_persist_second_broker_on_one_directory_is_refused);
    tcase_add_test(tc, test_persist_sync_option_parses_each_mode_and_rejects_others);
    suite_add_tcase(s, tc);
    return s;
}
