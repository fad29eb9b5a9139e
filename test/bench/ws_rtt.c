/*
 * WebSocket vs TCP round trips through one broker (make bench-ws runs it against Tern).
 *
 * Usage: ws_rtt tcp|ws PORT [ROUND_TRIPS] [WINDOW]
 * One client subscribes to its own topic and publishes 16-byte QoS 0 messages to it:
 *   - latency: ROUND_TRIPS (default 100000) one at a time, each timed from the PUBLISH sent to
 *     the PUBLISH received; prints p50, p99, p99.9, max and the count over 10 ms;
 *   - throughput: the same number again with WINDOW (default 64) messages in flight; prints
 *     messages per second.
 * Over ws the bytes go in masked binary frames after an RFC 6455 handshake offering "mqtt",
 * one MQTT packet per frame (as MQTT.js sends them). Loopback only; every read is bounded by a
 * 5 s poll timeout.
 */
#define _GNU_SOURCE
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

struct cl {
    int fd;
    int ws;
    uint8_t in[1 << 20];
    size_t in_len;                   /* raw bytes not parsed yet */
    uint8_t mq[1 << 20];
    size_t mq_len;                   /* MQTT bytes (frames unwrapped) */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "ws_rtt: %s: %s\n", what, errno ? strerror(errno) : "protocol error");
    exit(1);
}

static void send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("send");
        p += w;
        n -= (size_t)w;
    }
}

static void fill(struct cl *c)
{
    struct pollfd pfd = {c->fd, POLLIN, 0};
    if (poll(&pfd, 1, 5000) <= 0)
        die("no answer within 5 s");
    ssize_t r = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
    if (r <= 0)
        die("recv");
    c->in_len += (size_t)r;
}

/* Moves complete WebSocket frames (or, over TCP, all bytes) from in to mq. */
static void unwrap(struct cl *c)
{
    if (!c->ws) {
        memcpy(c->mq + c->mq_len, c->in, c->in_len);
        c->mq_len += c->in_len;
        c->in_len = 0;
        return;
    }
    for (;;) {
        if (c->in_len < 2)
            return;
        size_t n = c->in[1] & 0x7f;
        size_t off = 2;
        if (n == 126) {
            if (c->in_len < 4)
                return;
            n = ((size_t)c->in[2] << 8) | c->in[3];
            off = 4;
        } else if (n == 127) {
            if (c->in_len < 10)
                return;
            n = 0;
            for (int i = 0; i < 8; i++)
                n = (n << 8) | c->in[2 + i];
            off = 10;
        }
        if (c->in_len < off + n)
            return;
        uint8_t op = c->in[0] & 0x0f;
        if (op == 0 || op == 2) {
            memcpy(c->mq + c->mq_len, c->in + off, n);
            c->mq_len += n;
        }
        memmove(c->in, c->in + off + n, c->in_len - off - n);
        c->in_len -= off + n;
    }
}

/* Returns the type of the next complete MQTT packet and drops it. */
static int next_packet(struct cl *c)
{
    for (;;) {
        unwrap(c);
        if (c->mq_len >= 2) {
            size_t len = 0;
            size_t i = 1;
            int shift = 0;
            while (i < c->mq_len && i < 5) {
                len |= (size_t)(c->mq[i] & 0x7f) << shift;
                shift += 7;
                if (!(c->mq[i++] & 0x80))
                    break;
            }
            if (i <= c->mq_len && !(c->mq[i - 1] & 0x80) && c->mq_len >= i + len) {
                int type = c->mq[0] >> 4;
                memmove(c->mq, c->mq + i + len, c->mq_len - i - len);
                c->mq_len -= i + len;
                return type;
            }
        }
        fill(c);
    }
}

static void send_mqtt(struct cl *c, const uint8_t *p, size_t n)
{
    if (!c->ws) {
        send_all(c->fd, p, n);
        return;
    }
    uint8_t f[16 + 256];
    size_t off = 0;
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    f[off++] = 0x82;
    f[off++] = (uint8_t)(0x80 | n);  /* our packets are all under 126 bytes */
    memcpy(f + off, key, 4);
    off += 4;
    for (size_t i = 0; i < n; i++)
        f[off + i] = p[i] ^ key[i % 4];
    send_all(c->fd, f, off + n);
}

static void handshake(struct cl *c, int port)
{
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n", port);
    send_all(c->fd, (const uint8_t *)req, (size_t)n);
    for (;;) {
        fill(c);
        uint8_t *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (end == NULL)
            continue;
        if (memcmp(c->in, "HTTP/1.1 101", 12) != 0)
            die("handshake refused");
        size_t used = (size_t)(end + 4 - c->in);
        memmove(c->in, end + 4, c->in_len - used);
        c->in_len -= used;
        return;
    }
}

static void mqtt_start(struct cl *c)
{
    static const uint8_t connect[] = {0x10, 0x12, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60,
                                      0, 6, 'w', 's', '-', 'r', 't', 't'};
    static const uint8_t subscribe[] = {0x82, 0x09, 0, 1, 0, 4, 'r', 't', '/', 'x', 0};
    send_mqtt(c, connect, sizeof connect);
    if (next_packet(c) != 2)
        die("no CONNACK");
    send_mqtt(c, subscribe, sizeof subscribe);
    if (next_packet(c) != 9)
        die("no SUBACK");
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: ws_rtt tcp|ws PORT [ROUND_TRIPS] [WINDOW]\n");
        return 2;
    }
    static struct cl c;
    c.ws = strcmp(argv[1], "ws") == 0;
    int port = atoi(argv[2]);
    long rounds = argc > 3 ? atol(argv[3]) : 100000;
    long window = argc > 4 ? atol(argv[4]) : 64;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c.fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c.fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("connect");
    if (c.ws)
        handshake(&c, port);
    mqtt_start(&c);
    static const uint8_t pub[] = {0x30, 0x16, 0, 4, 'r', 't', '/', 'x', '0', '1', '2', '3', '4',
                                  '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
    uint64_t *rtt = calloc((size_t)rounds, sizeof *rtt);
    if (rtt == NULL)
        die("calloc");
    for (long i = 0; i < 1000; i++) {               /* warm-up */
        send_mqtt(&c, pub, sizeof pub);
        if (next_packet(&c) != 3)
            die("expected PUBLISH");
    }
    long over10 = 0;
    for (long i = 0; i < rounds; i++) {
        uint64_t t0 = now_ns();
        send_mqtt(&c, pub, sizeof pub);
        if (next_packet(&c) != 3)
            die("expected PUBLISH");
        rtt[i] = now_ns() - t0;
        if (rtt[i] > 10000000u)
            over10++;
    }
    qsort(rtt, (size_t)rounds, sizeof *rtt, cmp_u64);
    printf("%-3s latency: %ld round trips  p50 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us"
           "  over 10 ms: %ld\n", argv[1], rounds, rtt[rounds / 2] / 1e3,
           rtt[rounds * 99 / 100] / 1e3, rtt[rounds * 999 / 1000] / 1e3, rtt[rounds - 1] / 1e3,
           over10);
    uint64_t t0 = now_ns();
    long sent = 0;
    long got = 0;
    while (sent < window && sent < rounds) {
        send_mqtt(&c, pub, sizeof pub);
        sent++;
    }
    while (got < rounds) {
        if (next_packet(&c) != 3)
            die("expected PUBLISH");
        got++;
        if (sent < rounds) {
            send_mqtt(&c, pub, sizeof pub);
            sent++;
        }
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    printf("%-3s throughput: %ld messages, window %ld: %.0f msg/s\n", argv[1], rounds, window,
           rounds / secs);
    static const uint8_t disconnect[] = {0xe0, 0};
    send_mqtt(&c, disconnect, sizeof disconnect);
    close(c.fd);
    free(rtt);
    return 0;
}
