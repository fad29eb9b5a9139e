/*
 * Load generator for the persistence benchmark (test/bench/persist.sh). Unlike loadgen.c, whose
 * subscribers are clean sessions (nothing for a broker to store), this one's subscriber is a
 * persistent session (clean session 0), so every QoS 1 message is stored before its PUBACK.
 *
 *   persistgen rate -p PORT [-t SECS] [-n PUBS] [-w WINDOW] [-s SIZE]
 *       a persistent subscriber on pg/# stays online and acknowledges; PUBS publishers keep
 *       WINDOW QoS 1 messages of SIZE bytes in flight each; prints acknowledged msgs/s.
 *   persistgen fill -p PORT -c COUNT [-s SIZE]
 *       the persistent subscriber subscribes and leaves; COUNT QoS 1 messages are published
 *       (all acknowledged) and queue for it.
 *   persistgen drain -p PORT -c COUNT
 *       the persistent subscriber comes back and must receive COUNT messages.
 * Output: one "RESULT key=value ..." line. Every wait is bounded (60 s without progress).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC 64
#define STALL_MS 60000

struct c {
    int fd;
    uint8_t in[1 << 20];
    size_t inl;
    uint8_t out[1 << 20];
    size_t outl;
    long inflight;
    uint16_t pid;
};

static struct c *cs[MAXC];
static int nc;
static int port;
static long acked, received;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void die(const char *m)
{
    fprintf(stderr, "persistgen: %s: %s\n", m, strerror(errno));
    exit(1);
}

static size_t varint(uint8_t *p, size_t n)
{
    size_t i = 0;
    do {
        uint8_t b = n % 128;
        n /= 128;
        p[i++] = (uint8_t)(b | (n ? 0x80 : 0));
    } while (n);
    return i;
}

static void put(struct c *c, const void *p, size_t n)
{
    if (c->outl + n > sizeof c->out)
        die("output buffer full");
    memcpy(c->out + c->outl, p, n);
    c->outl += n;
}

static struct c *conn(const char *id, int clean)
{
    struct c *c = calloc(1, sizeof *c);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0)
        die("connect");
    uint8_t body[128];
    size_t idl = strlen(id);
    size_t n = 0;
    memcpy(body, "\0\4MQTT\4", 7);
    n = 7;
    body[n++] = clean ? 0x02 : 0x00;
    body[n++] = 0;
    body[n++] = 120;
    body[n++] = (uint8_t)(idl >> 8);
    body[n++] = (uint8_t)idl;
    memcpy(body + n, id, idl);
    n += idl;
    uint8_t h[8] = {0x10};
    size_t hl = 1 + varint(h + 1, n);
    put(c, h, hl);
    put(c, body, n);
    cs[nc++] = c;
    return c;
}

static void subscribe(struct c *c)
{
    uint8_t p[] = {0x82, 9, 0, 1, 0, 4, 'p', 'g', '/', '#', 1};
    put(c, p, sizeof p);
}

static void publish(struct c *c, size_t size)
{
    static uint8_t payload[65536];
    uint8_t h[16];
    c->pid = (uint16_t)(c->pid % 65535 + 1);
    size_t rl = 2 + 4 + 2 + size;
    h[0] = 0x32;
    size_t hl = 1 + varint(h + 1, rl);
    uint8_t t[8] = {0, 4, 'p', 'g', '/', 'x', (uint8_t)(c->pid >> 8), (uint8_t)c->pid};
    put(c, h, hl);
    put(c, t, sizeof t);
    put(c, payload, size);
    c->inflight++;
}

/* Handles whole packets in c->in. */
static void parse(struct c *c)
{
    size_t off = 0;
    while (c->inl - off >= 2) {
        size_t n = 0, mult = 1, i = off + 1;
        for (;;) {
            if (i >= c->inl)
                goto done;
            n += (c->in[i] & 0x7fu) * mult;
            mult *= 128;
            if (!(c->in[i++] & 0x80))
                break;
        }
        if (c->inl - i < n)
            break;
        uint8_t type = c->in[off] >> 4;
        if (type == 4) {
            acked++;
            c->inflight--;
        } else if (type == 3) {
            received++;
            int qos = (c->in[off] >> 1) & 3;
            if (qos) {
                size_t tl = ((size_t)c->in[i] << 8) | c->in[i + 1];
                uint8_t ack[4] = {0x40, 2, c->in[i + 2 + tl], c->in[i + 3 + tl]};
                put(c, ack, 4);
            }
        }
        off = i + n;
    }
done:
    memmove(c->in, c->in + off, c->inl - off);
    c->inl -= off;
}

static void step(int timeout)
{
    struct pollfd p[MAXC];
    for (int i = 0; i < nc; i++)
        /* Reading stops while our own acks wait: the buffer never overflows. */
        p[i] = (struct pollfd){cs[i]->fd,
                               (short)((cs[i]->outl < sizeof cs[i]->out / 2 ? POLLIN : 0) |
                                       (cs[i]->outl ? POLLOUT : 0)), 0};
    if (poll(p, (nfds_t)nc, timeout) < 0 && errno != EINTR)
        die("poll");
    for (int i = 0; i < nc; i++) {
        struct c *c = cs[i];
        if (p[i].revents & POLLOUT) {
            ssize_t w = write(c->fd, c->out, c->outl);
            if (w > 0) {
                memmove(c->out, c->out + w, c->outl - (size_t)w);
                c->outl -= (size_t)w;
            }
        }
        if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(c->fd, c->in + c->inl, sizeof c->in - c->inl);
            if (r <= 0) {
                errno = r == 0 ? ECONNRESET : errno;
                die("broker closed a connection");
            }
            c->inl += (size_t)r;
            parse(c);
        }
    }
}

static void settle(int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (now_ms() < end)
        step(10);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *mode = argv[1];
    int secs = 3, pubs = 4, window = 32;
    long count = 0;
    size_t size = 64;
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i];
        long v = atol(argv[i + 1]);
        if (!strcmp(k, "-p")) port = (int)v;
        else if (!strcmp(k, "-t")) secs = (int)v;
        else if (!strcmp(k, "-n")) pubs = (int)v;
        else if (!strcmp(k, "-w")) window = (int)v;
        else if (!strcmp(k, "-s")) size = (size_t)v;
        else if (!strcmp(k, "-c")) count = v;
    }
    if (pubs < 1 || pubs > MAXC - 1 || size > 65536)
        return 2;
    struct c *sub = conn("pg-sub", 0);
    if (strcmp(mode, "drain") == 0) {
        uint64_t t0 = now_ms(), last = t0;
        long seen = 0;
        while (received < count && now_ms() - last < STALL_MS) {
            step(100);
            if (received != seen) {
                seen = received;
                last = now_ms();
            }
        }
        printf("RESULT mode=drain received=%ld expected=%ld ms=%llu\n", received, count,
               (unsigned long long)(now_ms() - t0));
        return received == count ? 0 : 1;
    }
    subscribe(sub);
    settle(200);
    if (strcmp(mode, "fill") == 0) {
        close(sub->fd);
        nc = 0;
        struct c *p = conn("pg-fill", 1);
        settle(100);
        uint64_t t0 = now_ms(), last = t0;
        long sent = 0, seen = 0;
        while (acked < count && now_ms() - last < STALL_MS) {
            while (sent < count && p->inflight < 512 && p->outl < sizeof p->out - 70000) {
                publish(p, size);
                sent++;
            }
            step(10);
            if (acked != seen) {
                seen = acked;
                last = now_ms();
            }
        }
        printf("RESULT mode=fill acked=%ld ms=%llu\n", acked, (unsigned long long)(now_ms() - t0));
        return acked == count ? 0 : 1;
    }
    struct c *pc[MAXC];
    for (int i = 0; i < pubs; i++) {
        char id[32];
        snprintf(id, sizeof id, "pg-pub-%d", i);
        pc[i] = conn(id, 1);
    }
    settle(200);
    long a0 = acked;
    uint64_t t0 = now_ms(), end = t0 + (uint64_t)secs * 1000;
    while (now_ms() < end) {
        for (int i = 0; i < pubs; i++) {
            while (pc[i]->inflight < window)
                publish(pc[i], size);
        }
        step(10);
    }
    double s = (double)(now_ms() - t0) / 1000.0;
    printf("RESULT mode=rate acked_per_s=%.0f received=%ld secs=%.2f\n", (double)(acked - a0) / s,
           received, s);
    return 0;
}
