/*
 * loadgen: the MQTT 3.1.1 load generator of Tern's side-by-side benchmark.
 *
 * One thread, raw non-blocking sockets and level-triggered epoll, and its own minimal MQTT
 * client codec (nothing from src/), so that what it measures is the broker and not a client
 * library. Publishers encode many PUBLISH packets into one buffer and hand it to one write();
 * subscribers read up to 256 KiB at a time and answer QoS 1/2 flows in one write per read.
 *
 * Every payload carries a header: magic, publisher id, per-publisher sequence number and the
 * CLOCK_MONOTONIC send time, followed by filler bytes derived from the sequence number. Each
 * subscriber checks every message it receives: payload length, magic, filler, and that the
 * sequence number of each publisher is exactly one more than the last (a smaller one is a
 * duplicate or reordering, a larger one a loss). After the measuring window the publishers stop
 * and the run drains; whatever a subscriber still misses then is lost. Any of these is an
 * error, and the run prints ONE machine-readable line:
 *
 *   RESULT scenario=fanin broker=mosquitto msgs=... secs=... rate=... p50_us=... ... errors=0
 *
 * The broker's CPU share (utime+stime from /proc/PID/stat) and this process's own (getrusage)
 * are sampled over the same window, so a reader sees which side was the bottleneck.
 *
 * Scenarios: realistic, fanin, fanout, qos1, qos2, latency, idleconn, idlerss (see usage()).
 * --corrupt N damages every N-th published message in turn (gap, duplicate, filler, length)
 * so that the verification itself can be tested against the relay.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x314e5254u /* "TRN1" */
#define HDR_LEN 24
#define READ_CHUNK (256 * 1024)
#define WRITE_BATCH (256 * 1024)

enum role { ROLE_PUB, ROLE_SUB };
enum state { ST_TCP, ST_CONNACK, ST_SUBACK, ST_READY, ST_DEAD };

struct buf {
    uint8_t *p;
    size_t off;
    size_t len;
    size_t cap;
};

struct conn {
    int fd;
    int idx;
    enum role role;
    enum state state;
    bool want_out;
    struct buf in;
    struct buf out;
    /* publisher */
    uint64_t sent;      /* messages encoded so far (next sequence number) */
    int inflight;       /* QoS 1/2 messages not yet acknowledged */
    uint16_t next_pid;
    /* subscriber: next expected sequence number per publisher */
    uint64_t *expect;
    char topic[64];
};

struct cfg {
    const char *scenario;
    const char *label;
    const char *host;
    int port;
    int broker_pid;
    double secs;
    double warmup;
    double drain;
    int npub;
    int nsub;
    int qos;
    int payload;
    double rate_per_pub;   /* 0 = flood */
    int window;            /* flood: max messages outstanding per publisher (slowest sub) */
    int inflight;          /* QoS 1/2 window per publisher */
    int tick_us;
    int nidle;
    int corrupt;
    const char *pub_topic;  /* printf pattern with %d */
    const char *sub_topic;  /* printf pattern with %d, or fixed */
};

static struct cfg C;
static struct conn *conns;
static int nconns;
static int ep;
static uint64_t recv_total;   /* verified deliveries */
static uint64_t recv_win;     /* deliveries inside the window */
static uint64_t pub_win_start;
static uint64_t err_len, err_content, err_dup, err_order, err_proto, lost;
static bool measuring, stop_pub;
static int n_ready, n_dead;   /* connections that reached ST_READY / ST_DEAD */
static size_t round_bytes;    /* bytes read since the flood loop last looked */
static uint64_t t_start_ns;
static char proto_why[160];

/* Log-linear latency histogram in microseconds: exact below 256, then 128 steps per octave. */
#define HBUCKETS (256 + 40 * 128)
static uint64_t hist[HBUCKETS];
static uint64_t hist_n, hist_max;

/* pattern[k] = k mod 256: the filler of a message is a slice of it, checked with memcmp. */
static uint8_t pattern[1024];

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int hbucket(uint64_t v) {
    if (v < 256) {
        return (int)v;
    }
    int e = 63 - __builtin_clzll(v);
    int b = 256 + (e - 8) * 128 + (int)((v >> (e - 7)) & 127);
    return b < HBUCKETS ? b : HBUCKETS - 1;
}

static uint64_t hvalue(int b) {
    if (b < 256) {
        return (uint64_t)b;
    }
    int e = (b - 256) / 128 + 8;
    uint64_t m = (uint64_t)((b - 256) % 128) + 128;
    return m << (e - 7);
}

static uint64_t hpct(double q) {
    if (hist_n == 0) {
        return 0;
    }
    uint64_t want = (uint64_t)(q * (double)hist_n);
    if (want >= hist_n) {
        want = hist_n - 1;
    }
    uint64_t acc = 0;
    for (int i = 0; i < HBUCKETS; i++) {
        acc += hist[i];
        if (acc > want) {
            uint64_t v = hvalue(i);
            return v > hist_max ? hist_max : v;
        }
    }
    return hist_max;
}

static void die(const char *what) {
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void buf_reserve(struct buf *b, size_t n) {
    if (b->cap - b->len >= n) {
        return;
    }
    if (b->off > 0) {
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->cap - b->len >= n) {
            return;
        }
    }
    size_t nc = b->cap ? b->cap : 4096;
    while (nc - b->len < n) {
        nc *= 2;
    }
    b->p = realloc(b->p, nc);
    if (!b->p) {
        die("realloc");
    }
    b->cap = nc;
}

static void buf_put(struct buf *b, const void *d, size_t n) {
    buf_reserve(b, n);
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static size_t buf_used(const struct buf *b) {
    return b->len - b->off;
}

/* ---- MQTT encoding ---- */

static size_t put_varint(uint8_t *p, size_t v) {
    size_t n = 0;
    do {
        uint8_t d = v % 128;
        v /= 128;
        if (v) {
            d |= 0x80;
        }
        p[n++] = d;
    } while (v);
    return n;
}

static size_t put_str(uint8_t *p, const char *s, size_t n) {
    p[0] = (uint8_t)(n >> 8);
    p[1] = (uint8_t)n;
    memcpy(p + 2, s, n);
    return n + 2;
}

static void enc_connect(struct buf *b, const char *id) {
    uint8_t body[128];
    size_t n = 0;
    n += put_str(body, "MQTT", 4);
    body[n++] = 4;      /* protocol level 3.1.1 */
    body[n++] = 0x02;   /* clean session */
    body[n++] = 0;
    body[n++] = 240;    /* keepalive 240 s: longer than any run */
    n += put_str(body + n, id, strlen(id));
    uint8_t h[8];
    h[0] = 0x10;
    size_t hn = 1 + put_varint(h + 1, n);
    buf_put(b, h, hn);
    buf_put(b, body, n);
}

static void enc_subscribe(struct buf *b, const char *filter, int qos) {
    uint8_t body[128];
    size_t n = 0;
    body[n++] = 0;
    body[n++] = 1;      /* packet id 1 */
    n += put_str(body + n, filter, strlen(filter));
    body[n++] = (uint8_t)qos;
    uint8_t h[8];
    h[0] = 0x82;
    size_t hn = 1 + put_varint(h + 1, n);
    buf_put(b, h, hn);
    buf_put(b, body, n);
}

static void enc_ack(struct buf *b, uint8_t type_flags, uint16_t pid) {
    uint8_t a[4] = {type_flags, 2, (uint8_t)(pid >> 8), (uint8_t)pid};
    buf_put(b, a, 4);
}

static void fill_payload(uint8_t *p, uint32_t pub, uint64_t seq, int len, uint64_t ts) {
    uint32_t m = MAGIC;
    memcpy(p, &m, 4);
    memcpy(p + 4, &pub, 4);
    memcpy(p + 8, &seq, 8);
    memcpy(p + 16, &ts, 8);
    uint8_t f = (uint8_t)(seq * 31u + pub);
    memcpy(p + HDR_LEN, pattern + f + HDR_LEN, (size_t)(len - HDR_LEN));
}

/* Appends one PUBLISH carrying message c->sent of publisher c; applies --corrupt. */
static void enc_publish(struct conn *c, uint64_t ts) {
    uint64_t seq = c->sent;
    int plen = C.payload;
    int kind = -1;
    if (C.corrupt > 0 && seq > 0 && seq % (uint64_t)C.corrupt == 0) {
        kind = (int)((seq / (uint64_t)C.corrupt) % 4);
        if (kind == 0) {
            seq += 1;           /* a gap: one message is never sent */
            c->sent += 1;
        } else if (kind == 1) {
            seq -= 1;           /* a duplicate of the previous message */
        } else if (kind == 3) {
            plen -= 1;          /* wrong length */
        }
    }
    size_t tl = strlen(c->topic);
    size_t rl = 2 + tl + (C.qos ? 2 : 0) + (size_t)plen;
    buf_reserve(&c->out, rl + 8);
    uint8_t *p = c->out.p + c->out.len;
    size_t n = 0;
    p[n++] = (uint8_t)(0x30 | (C.qos << 1));
    n += put_varint(p + n, rl);
    n += put_str(p + n, c->topic, tl);
    if (C.qos) {
        if (++c->next_pid == 0) {
            c->next_pid = 1;
        }
        p[n++] = (uint8_t)(c->next_pid >> 8);
        p[n++] = (uint8_t)c->next_pid;
        c->inflight++;
    }
    fill_payload(p + n, (uint32_t)c->idx, seq, plen, ts);
    if (kind == 2) {
        p[n + plen - 1] ^= 0x5a;  /* a damaged byte */
    }
    n += (size_t)plen;
    c->out.len += n;
    c->sent += 1;
}

/* ---- sockets ---- */

static void set_events(struct conn *c, bool out) {
    if (c->want_out == out || c->state == ST_DEAD) {
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0),
                             .data.u32 = (uint32_t)c->idx};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
        die("epoll_ctl mod");
    }
    c->want_out = out;
}

static void conn_fail(struct conn *c, const char *why) {
    if (c->state == ST_DEAD) {
        return;
    }
    err_proto++;
    if (!proto_why[0]) {
        snprintf(proto_why, sizeof proto_why, "conn %d: %s", c->idx, why);
    }
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    n_ready -= c->state == ST_READY;
    n_dead++;
    c->state = ST_DEAD;
}

/* Writes as much of c->out as the socket takes; arms EPOLLOUT for the rest. */
static void flush(struct conn *c) {
    while (buf_used(&c->out) > 0 && c->state != ST_DEAD) {
        ssize_t w = write(c->fd, c->out.p + c->out.off, buf_used(&c->out));
        if (w > 0) {
            c->out.off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_events(c, true);
            return;
        }
        conn_fail(c, "write failed");
        return;
    }
    c->out.off = c->out.len = 0;
    if (c->state != ST_TCP) {
        set_events(c, false);
    }
}

static void enc_hello(struct conn *c) {
    char id[48];
    snprintf(id, sizeof id, "lg%d-%c%d", (int)getpid(), c->role == ROLE_PUB ? 'p' : 's', c->idx);
    enc_connect(&c->out, id);
    if (c->role == ROLE_SUB) {
        enc_subscribe(&c->out, c->topic, C.qos);
    }
}

/*
 * Starts a connection and sends CONNECT (and SUBSCRIBE) at once: on loopback the handshake
 * has usually completed inside connect(), so the first write mostly succeeds and saves a wakeup
 * and two syscalls per connection. If it does not, EPOLLOUT reports when the socket is ready.
 */
static int open_conn(struct conn *c) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        die("socket");
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)C.port)};
    inet_pton(AF_INET, C.host, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
        die("connect");
    }
    c->fd = fd;
    c->state = ST_TCP;
    enc_hello(c);
    ssize_t w = write(fd, c->out.p + c->out.off, buf_used(&c->out));
    if (w > 0) {
        c->out.off += (size_t)w;
        c->state = ST_CONNACK;
    }
    if (buf_used(&c->out) == 0) {
        c->out.off = c->out.len = 0;
    }
    c->want_out = buf_used(&c->out) > 0;
    struct epoll_event ev = {.events = EPOLLIN | (c->want_out ? EPOLLOUT : 0),
                             .data.u32 = (uint32_t)c->idx};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        die("epoll_ctl add");
    }
    return 0;
}

/* The socket of a connection whose first write could not be made became writable (or failed). */
static void on_connected(struct conn *c) {
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) {
        errno = err;
        conn_fail(c, strerror(err));
        return;
    }
    c->state = ST_CONNACK;
    flush(c);
}

/* ---- receiving ---- */

static void verify(struct conn *c, const uint8_t *pl, size_t n, uint64_t t) {
    if (n != (size_t)C.payload || n < HDR_LEN) {
        err_len++;
        return;
    }
    uint32_t m;
    uint32_t pub;
    uint64_t seq;
    uint64_t ts;
    memcpy(&m, pl, 4);
    memcpy(&pub, pl + 4, 4);
    memcpy(&seq, pl + 8, 8);
    memcpy(&ts, pl + 16, 8);
    if (m != MAGIC || pub >= (uint32_t)C.npub) {
        err_content++;
        return;
    }
    uint8_t f = (uint8_t)(seq * 31u + pub);
    if (memcmp(pl + HDR_LEN, pattern + f + HDR_LEN, n - HDR_LEN) != 0) {
        err_content++;
        return;
    }
    uint64_t *e = &c->expect[pub];
    if (seq < *e) {
        if (seq + 1 == *e) {
            err_dup++;
        } else {
            err_order++;
        }
        return;
    }
    if (seq > *e) {
        err_order++;   /* a message skipped here is either lost or comes late: both are errors */
        lost += seq - *e;
    }
    *e = seq + 1;
    recv_total++;
    if (measuring) {
        recv_win++;
        uint64_t us = t > ts ? (t - ts) / 1000 : 0;
        hist[hbucket(us)]++;
        hist_n++;
        if (us > hist_max) {
            hist_max = us;
        }
    }
}

/* Handles one complete packet p[0..n) (fixed header included, body at p+hl). */
static void on_packet(struct conn *c, const uint8_t *p, size_t hl, size_t n, uint64_t t) {
    uint8_t type = p[0] >> 4;
    const uint8_t *b = p + hl;
    size_t bl = n - hl;
    uint16_t pid = bl >= 2 ? (uint16_t)(b[0] << 8 | b[1]) : 0;
    switch (type) {
    case 2: /* CONNACK */
        if (c->state != ST_CONNACK || bl != 2 || b[1] != 0) {
            conn_fail(c, "bad CONNACK");
            return;
        }
        c->state = c->role == ROLE_SUB ? ST_SUBACK : ST_READY;
        n_ready += c->state == ST_READY;
        break;
    case 9: /* SUBACK */
        if (c->state != ST_SUBACK || bl != 3 || b[2] == 0x80) {
            conn_fail(c, "bad SUBACK");
            return;
        }
        c->state = ST_READY;
        n_ready++;
        break;
    case 3: { /* PUBLISH */
        int qos = (p[0] >> 1) & 3;
        if (bl < 2) {
            conn_fail(c, "short PUBLISH");
            return;
        }
        size_t tl = (size_t)(b[0] << 8 | b[1]);
        size_t off = 2 + tl + (qos ? 2 : 0);
        if (off > bl || c->role != ROLE_SUB || qos != C.qos) {
            conn_fail(c, "unexpected PUBLISH");
            return;
        }
        verify(c, b + off, bl - off, t);
        if (qos) {
            uint16_t mpid = (uint16_t)(b[2 + tl] << 8 | b[3 + tl]);
            enc_ack(&c->out, qos == 1 ? 0x40 : 0x50, mpid);
        }
        break;
    }
    case 4: /* PUBACK */
    case 7: /* PUBCOMP */
        if (c->role != ROLE_PUB || c->inflight <= 0) {
            conn_fail(c, "unexpected PUBACK/PUBCOMP");
            return;
        }
        c->inflight--;
        break;
    case 5: /* PUBREC */
        enc_ack(&c->out, 0x62, pid);
        break;
    case 6: /* PUBREL */
        enc_ack(&c->out, 0x70, pid);
        break;
    case 13: /* PINGRESP */
        break;
    default:
        conn_fail(c, "unexpected packet type");
        return;
    }
}

static void on_readable(struct conn *c) {
    for (int rounds = 0; rounds < 4 && c->state != ST_DEAD; rounds++) {
        size_t want = c->role == ROLE_SUB && C.npub > 0 ? READ_CHUNK : 4096;
        buf_reserve(&c->in, want);
        ssize_t r = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len);
        if (r == 0) {
            conn_fail(c, "closed by broker");
            return;
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                break;
            }
            conn_fail(c, "read failed");
            return;
        }
        c->in.len += (size_t)r;
        round_bytes += (size_t)r;
        uint64_t t = now_ns();
        for (;;) {
            const uint8_t *p = c->in.p + c->in.off;
            size_t avail = buf_used(&c->in);
            size_t rl = 0;
            size_t i = 1;
            int mul = 1;
            bool complete = false;
            while (i < avail && i <= 4) {
                rl += (size_t)(p[i] & 127) * (size_t)mul;
                mul *= 128;
                if (!(p[i++] & 128)) {
                    complete = true;
                    break;
                }
            }
            if (!complete) {
                if (i > 4) {
                    conn_fail(c, "bad remaining length");
                    return;
                }
                break;
            }
            if (avail < i + rl) {
                break;
            }
            on_packet(c, p, i, i + rl, t);
            if (c->state == ST_DEAD) {
                return;
            }
            c->in.off += i + rl;
        }
        if (c->in.off == c->in.len) {
            c->in.off = c->in.len = 0;
        }
        if ((size_t)r < want) {
            break;
        }
    }
    if (buf_used(&c->out)) {
        flush(c);
    }
}

/* ---- publishing ---- */

static uint64_t min_expect(int pub) {
    uint64_t m = UINT64_MAX;
    for (int s = C.npub; s < nconns; s++) {
        if (conns[s].expect[pub] < m) {
            m = conns[s].expect[pub];
        }
    }
    return m;
}

/* How many more messages publisher c may encode now (0 = none). */
static uint64_t allowance(struct conn *c, uint64_t t) {
    if (stop_pub || c->state != ST_READY || buf_used(&c->out) > 0) {
        return 0;
    }
    uint64_t n = UINT64_MAX;
    if (C.rate_per_pub > 0) {
        double el = (double)(t - t_start_ns) / 1e9;
        double due = el * C.rate_per_pub - (double)c->idx / C.npub;
        uint64_t d = due < 0 ? 0 : (uint64_t)due + 1;
        n = d > c->sent ? d - c->sent : 0;
    }
    if (C.qos) {
        int room = C.inflight - c->inflight;
        if ((uint64_t)(room < 0 ? 0 : room) < n) {
            n = (uint64_t)(room < 0 ? 0 : room);
        }
    } else if (n > 0) {
        uint64_t out = c->sent - min_expect(c->idx);
        uint64_t room = out >= (uint64_t)C.window ? 0 : (uint64_t)C.window - out;
        if (C.rate_per_pub == 0 && room < (uint64_t)C.window / 4) {
            room = 0;   /* flood: refill in large batches, not a few messages per write */
        }
        if (room < n) {
            n = room;
        }
    }
    uint64_t per = WRITE_BATCH / ((size_t)C.payload + 40);
    return n < per ? n : per;
}

/* Lets every publisher encode and write what it may; returns true if any wrote. */
static bool pump(uint64_t t) {
    bool any = false;
    for (int i = 0; i < C.npub; i++) {
        struct conn *c = &conns[i];
        uint64_t n = allowance(c, t);
        uint64_t ts = n ? now_ns() : 0;
        for (uint64_t k = 0; k < n; k++) {
            enc_publish(c, ts);
        }
        if (n) {
            flush(c);
            any = true;
        }
    }
    return any;
}

/* ---- /proc sampling ---- */

static double proc_cpu_secs(int pid) {
    char path[64];
    char s[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    size_t n = fread(s, 1, sizeof s - 1, f);
    fclose(f);
    s[n] = 0;
    char *p = strrchr(s, ')');
    if (!p) {
        return -1;
    }
    unsigned long ut = 0;
    unsigned long st = 0;
    /* After ")": state(3) ... utime is field 14, stime 15. */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) {
        return -1;
    }
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long proc_rss_kb(int pid) {
    char path[64];
    char line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmRSS: %ld", &kb) == 1) {
            break;
        }
    }
    fclose(f);
    return kb;
}

/* Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
static double machine_busy_secs(void) {
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f) {
        return -1;
    }
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 8) {
        return -1;
    }
    /* user nice system [idle iowait] irq softirq steal */
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_secs(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* ---- main loop ---- */

/* Waits up to timeout_ns (0: no wait) and dispatches what is ready. */
static void poll_wait_ns(uint64_t timeout_ns) {
    struct epoll_event evs[512];
    struct timespec ts = {.tv_sec = (time_t)(timeout_ns / 1000000000ull),
                          .tv_nsec = (long)(timeout_ns % 1000000000ull)};
    int n = epoll_pwait2(ep, evs, 512, &ts, NULL);
    if (n < 0 && errno != EINTR) {
        die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
        struct conn *c = &conns[evs[i].data.u32];
        if (c->state == ST_DEAD) {
            continue;
        }
        if (c->state == ST_TCP) {
            if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
                on_connected(c);
            }
            continue;
        }
        if (evs[i].events & EPOLLOUT) {
            flush(c);
        }
        if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
            on_readable(c);
        }
    }
}

static void poll_once(int timeout_ms) {
    poll_wait_ns((uint64_t)timeout_ms * 1000000ull);
}

static int count_ready(void) {
    return n_ready;
}

/* Opens all connections, at most `par` handshakes at a time; returns seconds taken or -1. */
static double connect_all(int par, double limit_s) {
    uint64_t t0 = now_ns();
    int opened = 0;
    int ready = 0;
    while (ready < nconns) {
        ready = n_ready;
        int pending = opened - n_ready - n_dead;
        while (opened < nconns && pending < par) {
            open_conn(&conns[opened++]);
            pending++;
        }
        if (err_proto) {
            return -1;
        }
        if (ready == nconns) {
            break;
        }
        if ((double)(now_ns() - t0) / 1e9 > limit_s) {
            snprintf(proto_why, sizeof proto_why, "only %d of %d connected in %.0f s", ready,
                     nconns, limit_s);
            err_proto++;
            return -1;
        }
        poll_once(10);
    }
    return (double)(now_ns() - t0) / 1e9;
}

static bool drained(void) {
    for (int i = 0; i < C.npub; i++) {
        if (conns[i].inflight > 0 || buf_used(&conns[i].out) > 0) {
            return false;
        }
        if (min_expect(i) < conns[i].sent) {
            return false;
        }
    }
    return true;
}

static double other_cpu = -1;   /* share of other processes over the window, % of one core */

static void result(double secs, double bcpu, double gcpu, uint64_t pubs, long rss, double rss_pc,
                   double conn_rate) {
    uint64_t errors = err_len + err_content + err_dup + err_order + err_proto + lost;
    double rate = secs > 0 ? (double)recv_win / secs : 0;
    /* Broker CPU per message delivered to all its subscribers (every subscriber receives
     * every message in these scenarios), so a broker that falls behind is not flattered. */
    double msgs = C.nsub > 0 ? (double)recv_win / C.nsub : 0;
    if (C.npub == 0) {
        msgs = n_ready;   /* idleconn: broker CPU per accepted connection */
    }
    double per_msg = msgs > 0 && bcpu >= 0 ? bcpu * secs / msgs * 1e6 : 0;
    printf("RESULT scenario=%s broker=%s msgs=%llu secs=%.3f rate=%.0f pub_rate=%.0f "
           "p50_us=%llu p99_us=%llu p999_us=%llu max_us=%llu broker_cpu=%.1f gen_cpu=%.1f "
           "other_cpu=%.1f cpu_us_per_msg=%.3f rss_kb=%ld rss_per_conn_b=%.0f conn_rate=%.0f "
           "lost=%llu dup=%llu order=%llu badlen=%llu badcontent=%llu proto=%llu errors=%llu\n",
           C.scenario, C.label, (unsigned long long)recv_win, secs, rate,
           secs > 0 ? (double)pubs / secs : 0, (unsigned long long)hpct(0.50),
           (unsigned long long)hpct(0.99), (unsigned long long)hpct(0.999),
           (unsigned long long)hist_max, bcpu * 100, gcpu * 100, other_cpu, per_msg, rss, rss_pc,
           conn_rate,
           (unsigned long long)lost, (unsigned long long)err_dup, (unsigned long long)err_order,
           (unsigned long long)err_len, (unsigned long long)err_content,
           (unsigned long long)err_proto, (unsigned long long)errors);
    if (proto_why[0]) {
        fprintf(stderr, "loadgen: %s: %s\n", C.scenario, proto_why);
    }
    fflush(stdout);
}

static void setup_conns(int npub, int nsub) {
    nconns = npub + nsub;
    conns = calloc((size_t)(nconns ? nconns : 1), sizeof *conns);
    if (!conns) {
        die("calloc");
    }
    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        c->idx = i;
        c->fd = -1;
        c->role = i < npub ? ROLE_PUB : ROLE_SUB;
        if (c->role == ROLE_PUB) {
            snprintf(c->topic, sizeof c->topic, C.pub_topic, i);
        } else {
            snprintf(c->topic, sizeof c->topic, C.sub_topic, i - npub);
            c->expect = calloc((size_t)(npub ? npub : 1), sizeof *c->expect);
        }
    }
}

static int run_idle(void) {
    /* idleconn: C.nidle subscribers, each to its own topic; no publishers. */
    C.npub = 0;
    long rss0 = C.broker_pid ? proc_rss_kb(C.broker_pid) : -1;
    setup_conns(0, C.nidle);
    double b0 = C.broker_pid ? proc_cpu_secs(C.broker_pid) : 0;
    double g0 = self_cpu_secs();
    double m0 = machine_busy_secs();
    /* At most 90 handshakes in flight: under Mosquitto's listen backlog of 100, so that no
     * SYN is dropped and retried a second later. */
    double t = connect_all(90, 60);
    double b1 = C.broker_pid ? proc_cpu_secs(C.broker_pid) : 0;
    double g1 = self_cpu_secs();
    if (t > 0) {
        other_cpu = (machine_busy_secs() - m0 - (g1 - g0) - (b1 - b0)) * 100 / t;
        other_cpu = other_cpu > 0 ? other_cpu : 0;
    }
    usleep(300 * 1000);  /* let the broker settle its buffers */
    poll_once(0);
    long rss1 = C.broker_pid ? proc_rss_kb(C.broker_pid) : -1;
    int ready = count_ready();
    double per = rss0 > 0 && rss1 > 0 && ready > 0 ? (double)(rss1 - rss0) * 1024.0 / ready : 0;
    C.secs = t > 0 ? t : 0;
    result(C.secs, t > 0 ? (b1 - b0) / t : 0, t > 0 ? (g1 - g0) / t : 0, 0, rss1, per,
           t > 0 ? ready / t : 0);
    return err_proto ? 1 : 0;
}

static int run_flow(void) {
    setup_conns(C.npub, C.nsub);
    /* Subscribers first, so that nothing published is missed. */
    for (int i = C.npub; i < nconns; i++) {
        open_conn(&conns[i]);
    }
    uint64_t t0 = now_ns();
    while (count_ready() < C.nsub && !err_proto && now_ns() - t0 < 30000000000ull) {
        poll_once(10);
    }
    for (int i = 0; i < C.npub; i++) {
        open_conn(&conns[i]);
    }
    while (count_ready() < nconns && !err_proto && now_ns() - t0 < 30000000000ull) {
        poll_once(10);
    }
    if (count_ready() < nconns) {
        if (!proto_why[0]) {
            snprintf(proto_why, sizeof proto_why, "connect phase timed out");
        }
        err_proto++;
        result(0, 0, 0, 0, -1, 0, 0);
        return 1;
    }
    t_start_ns = now_ns();
    uint64_t t_win0 = t_start_ns + (uint64_t)(C.warmup * 1e9);
    uint64_t t_win1 = t_win0 + (uint64_t)(C.secs * 1e9);
    double b0 = 0;
    double g0 = 0;
    double b1 = 0;
    double g1 = 0;
    uint64_t pub_sent_win = 0;
    bool paced = C.rate_per_pub > 0;
    bool win_started = false;
    uint64_t next_tick = t_start_ns;
    for (;;) {
        uint64_t t = now_ns();
        if (!win_started && t >= t_win0 && t < t_win1) {
            measuring = true;
            win_started = true;
            b0 = C.broker_pid ? proc_cpu_secs(C.broker_pid) : 0;
            g0 = self_cpu_secs();
            other_cpu = machine_busy_secs();
            for (int i = 0; i < C.npub; i++) {
                pub_win_start += conns[i].sent;
            }
        }
        if (t >= t_win1) {
            measuring = false;
            b1 = C.broker_pid ? proc_cpu_secs(C.broker_pid) : 0;
            g1 = self_cpu_secs();
            other_cpu = machine_busy_secs() - other_cpu - (g1 - g0) - (b1 - b0);
            for (int i = 0; i < C.npub; i++) {
                pub_sent_win += conns[i].sent;
            }
            pub_sent_win -= pub_win_start;
            break;
        }
        uint64_t to = 1000000;
        if (!paced) {
            to = pump(t) ? 0 : 1000000;
            /* QoS 0 flood against a broker that writes one small packet at a time: wait 50 us
             * for data to gather instead of spinning on one message per read. This keeps the
             * generator's CPU share a measure of its cost, not of the spare core it could spin
             * on; a fast broker fills reads well past this threshold and never waits. */
            if (C.qos == 0 && round_bytes < 8192) {
                struct timespec nap = {0, 50000};
                nanosleep(&nap, NULL);
            }
            round_bytes = 0;
        } else {
            if (t >= next_tick) {
                pump(t);
                next_tick += (uint64_t)C.tick_us * 1000;
                if (next_tick < t) {
                    next_tick = t;
                }
            }
            uint64_t n2 = now_ns();
            to = next_tick > n2 ? next_tick - n2 : 0;
        }
        uint64_t w1 = measuring || t < t_win0 ? (measuring ? t_win1 : t_win0) : t_win1;
        if (w1 > t && w1 - t < to) {
            to = w1 - t;
        }
        poll_wait_ns(to);
        if (err_proto) {
            break;
        }
    }
    /* Drain: stop publishing, wait for every message and every acknowledgement. */
    stop_pub = true;
    uint64_t td = now_ns();
    while (!err_proto && !drained() && now_ns() - td < (uint64_t)(C.drain * 1e9)) {
        poll_once(5);
    }
    for (int i = 0; i < C.npub; i++) {
        for (int s = C.npub; s < nconns; s++) {
            if (conns[s].expect[i] < conns[i].sent) {
                lost += conns[i].sent - conns[s].expect[i];
            }
        }
        if (conns[i].inflight > 0) {
            lost += (uint64_t)conns[i].inflight;
            if (!proto_why[0]) {
                snprintf(proto_why, sizeof proto_why, "publisher %d: %d unacknowledged", i,
                         conns[i].inflight);
            }
        }
    }
    double bc = C.broker_pid && b0 >= 0 && b1 >= 0 ? (b1 - b0) / C.secs : -1;
    other_cpu = other_cpu > 0 ? other_cpu * 100 / C.secs : 0;  /* tick rounding can go below 0 */
    result(C.secs, bc, (g1 - g0) / C.secs, pub_sent_win, -1, 0, 0);
    for (int i = 0; i < nconns; i++) {
        if (conns[i].state != ST_DEAD) {
            uint8_t d[2] = {0xe0, 0};
            if (write(conns[i].fd, d, 2) < 0) {
                /* The broker may already be gone; nothing to do. */
            }
            close(conns[i].fd);
        }
    }
    return 0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen -s SCENARIO -p PORT [-b LABEL] [--pid BROKER_PID] [-t SECS]\n"
            "               [--corrupt N] [-h HOST]\n"
            "       loadgen --free-port\n"
            "scenarios: realistic  1000 pubs x 50 msg/s (window 10 each), 10 subs on bench/t/#\n"
            "           fanin      4 pubs flooding 64-byte msgs (window 5000 each),\n"
            "                      1 sub on bench/t/#\n"
            "           fanout     1 pub, 100 subs of bench/out (window 500)\n"
            "           qos1/qos2  4 pubs, in-flight window 32 each, 1 sub on bench/t/#\n"
            "           latency    1 pub at 5000 msg/s, 1 sub\n"
            "           idleconn   10000 connections, one subscription each\n"
            "           idlerss    broker RSS with no clients\n");
    exit(2);
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    socklen_t l = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) < 0) {
        die("free port");
    }
    printf("%d\n", ntohs(a.sin_port));
    close(fd);
    return 0;
}

int main(int argc, char **argv) {
    C.host = "127.0.0.1";
    C.label = "broker";
    C.secs = 3;
    C.warmup = 0.5;
    C.drain = 5;
    C.payload = 64;
    C.window = 20000;
    C.inflight = 32;
    C.tick_us = 1000;
    C.nidle = 10000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--free-port")) {
            return free_port();
        } else if (!strcmp(a, "-s") && v) {
            C.scenario = v;
            i++;
        } else if (!strcmp(a, "-p") && v) {
            C.port = atoi(v);
            i++;
        } else if (!strcmp(a, "-h") && v) {
            C.host = v;
            i++;
        } else if (!strcmp(a, "-b") && v) {
            C.label = v;
            i++;
        } else if (!strcmp(a, "--pid") && v) {
            C.broker_pid = atoi(v);
            i++;
        } else if (!strcmp(a, "-t") && v) {
            C.secs = atof(v);
            i++;
        } else if (!strcmp(a, "--corrupt") && v) {
            C.corrupt = atoi(v);
            i++;
        } else if (!strcmp(a, "--conns") && v) {
            C.nidle = atoi(v);
            i++;
        } else {
            usage();
        }
    }
    if (!C.scenario || C.port <= 0 || C.secs <= 0 || C.secs > 60 || C.payload < HDR_LEN ||
        C.payload > 512) {
        usage();
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (size_t k = 0; k < sizeof pattern; k++) {
        pattern[k] = (uint8_t)k;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        die("epoll_create1");
    }
    const char *s = C.scenario;
    C.pub_topic = "bench/t/%d";
    C.sub_topic = "bench/t/#";
    if (!strcmp(s, "realistic")) {
        C.npub = 1000;
        C.nsub = 10;
        C.rate_per_pub = 50;
        C.window = 10;  /* 200 ms of each publisher's traffic: bounds a lagging broker's queue */
    } else if (!strcmp(s, "fanin")) {
        C.npub = 4;
        C.nsub = 1;
        C.window = 5000;
    } else if (!strcmp(s, "fanout")) {
        C.npub = 1;
        C.nsub = 100;
        C.window = 500;
        C.pub_topic = "bench/out";
        C.sub_topic = "bench/out";
    } else if (!strcmp(s, "qos1") || !strcmp(s, "qos2")) {
        C.npub = 4;
        C.nsub = 1;
        C.qos = s[3] - '0';
    } else if (!strcmp(s, "latency")) {
        C.npub = 1;
        C.nsub = 1;
        C.rate_per_pub = 5000;
        C.tick_us = 200;
    } else if (!strcmp(s, "idleconn")) {
        C.nsub = C.nidle;
        C.sub_topic = "bench/idle/%d";
        return run_idle();
    } else if (!strcmp(s, "idlerss")) {
        long kb = C.broker_pid ? proc_rss_kb(C.broker_pid) : -1;
        result(0, 0, 0, 0, kb, 0, 0);
        return kb > 0 ? 0 : 1;
    } else {
        usage();
    }
    return run_flow();
}
