/*
 * relay: the "relay ceiling" of Tern's benchmark: the cheapest byte forwarder that loadgen can
 * still verify, so a broker's numbers can be read as a share of what one loop on this machine
 * can move at all.
 *
 * It answers CONNECT with CONNACK, SUBSCRIBE with a SUBACK granting QoS 0 (and from then on
 * treats the connection as a subscriber), PINGREQ with PINGRESP, and closes on DISCONNECT.
 * Every run of complete PUBLISH packets read from any connection (up to 256 KiB per read) is
 * copied as raw bytes to the output of every subscriber, with no topic matching: that is
 * exactly right for loadgen's QoS 0 scenarios, where every subscriber receives every message.
 * QoS 1/2 flows are not relayed. Outputs are written once per epoll round. Memory is bounded
 * by loadgen's own outstanding-message window.
 *
 * usage: relay -p PORT   (listens on 127.0.0.1; stop it with SIGTERM)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK (256 * 1024)
#define MAX_FD 70000

struct buf {
    uint8_t *p;
    size_t off;
    size_t len;
    size_t cap;
};

struct rconn {
    bool open;
    bool sub;
    bool want_out;
    bool dirty;
    struct buf in;
    struct buf out;
};

static struct rconn *rc;
static int *subs;
static int nsubs;
static int *dirty;
static int ndirty;
static int ep;
static volatile sig_atomic_t stopping;

static void on_term(int sig) {
    (void)sig;
    stopping = 1;
}

static void reserve(struct buf *b, size_t n) {
    if (b->cap - b->len >= n) {
        return;
    }
    if (b->off) {
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
        perror("relay: realloc");
        exit(2);
    }
    b->cap = nc;
}

static void put(int fd, const void *d, size_t n) {
    struct rconn *c = &rc[fd];
    reserve(&c->out, n);
    memcpy(c->out.p + c->out.len, d, n);
    c->out.len += n;
    if (!c->dirty) {
        c->dirty = true;
        dirty[ndirty++] = fd;
    }
}

static void drop(int fd) {
    struct rconn *c = &rc[fd];
    if (!c->open) {
        return;
    }
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    if (c->sub) {
        for (int i = 0; i < nsubs; i++) {
            if (subs[i] == fd) {
                subs[i] = subs[--nsubs];
                break;
            }
        }
    }
    free(c->in.p);
    free(c->out.p);
    bool was_dirty = c->dirty;
    memset(c, 0, sizeof *c);
    c->dirty = was_dirty; /* still listed; flush_all skips closed fds */
}

static void flush_one(int fd) {
    struct rconn *c = &rc[fd];
    while (c->open && c->out.len > c->out.off) {
        ssize_t w = write(fd, c->out.p + c->out.off, c->out.len - c->out.off);
        if (w > 0) {
            c->out.off += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && errno == EAGAIN) {
            if (!c->want_out) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
                c->want_out = true;
            }
            return;
        } else {
            drop(fd);
            return;
        }
    }
    c->out.off = c->out.len = 0;
    if (c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        c->want_out = false;
    }
}

static void forward(const uint8_t *p, size_t n) {
    for (int i = 0; i < nsubs; i++) {
        put(subs[i], p, n);
    }
}

/* Parses the complete packets in c->in; returns false if the connection must close. */
static bool parse(int fd) {
    struct rconn *c = &rc[fd];
    size_t run_start = 0;
    size_t run_len = 0;
    for (;;) {
        uint8_t *p = c->in.p + c->in.off;
        size_t avail = c->in.len - c->in.off;
        size_t rl = 0;
        size_t i = 1;
        size_t mul = 1;
        bool complete = false;
        while (i < avail && i <= 4) {
            rl += (size_t)(p[i] & 127) * mul;
            mul *= 128;
            if (!(p[i++] & 128)) {
                complete = true;
                break;
            }
        }
        if (!complete) {
            if (i > 4) {
                return false;
            }
            break;
        }
        if (avail < i + rl) {
            break;
        }
        uint8_t type = p[0] >> 4;
        if (type == 3) {
            if (run_len == 0) {
                run_start = c->in.off;
            }
            run_len += i + rl;
        } else {
            if (run_len) {
                forward(c->in.p + run_start, run_len);
                run_len = 0;
            }
            if (type == 1) {
                static const uint8_t connack[4] = {0x20, 2, 0, 0};
                put(fd, connack, 4);
            } else if (type == 8) {
                uint8_t ack[64] = {0x90, 0, p[i], p[i + 1]};
                size_t n = 4;
                size_t q = i + 2;
                while (q + 2 < i + rl && n < sizeof ack) {
                    q += 2 + (size_t)(p[q] << 8 | p[q + 1]) + 1;
                    ack[n++] = 0;
                }
                ack[1] = (uint8_t)(n - 2);
                put(fd, ack, n);
                if (!c->sub) {
                    c->sub = true;
                    subs[nsubs++] = fd;
                }
            } else if (type == 12) {
                static const uint8_t pingresp[2] = {0xd0, 0};
                put(fd, pingresp, 2);
            } else if (type == 14) {
                return false;
            }
        }
        c->in.off += i + rl;
    }
    if (run_len) {
        forward(c->in.p + run_start, run_len);
    }
    if (c->in.off == c->in.len) {
        c->in.off = c->in.len = 0;
    }
    return true;
}

static void on_read(int fd) {
    struct rconn *c = &rc[fd];
    reserve(&c->in, READ_CHUNK);
    ssize_t r = read(fd, c->in.p + c->in.len, c->in.cap - c->in.len);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        drop(fd);
        return;
    }
    if (r > 0) {
        c->in.len += (size_t)r;
        if (!parse(fd)) {
            drop(fd);
        }
    }
}

static void on_accept(int lfd) {
    for (int k = 0; k < 256; k++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return;
        }
        if (fd >= MAX_FD) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        memset(&rc[fd], 0, sizeof rc[fd]);
        rc[fd].open = true;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
}

int main(int argc, char **argv) {
    int port = 0;
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "-p")) {
            port = atoi(argv[i + 1]);
        }
    }
    if (port <= 0) {
        fprintf(stderr, "usage: relay -p PORT\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGPIPE, SIG_IGN);
    rc = calloc(MAX_FD, sizeof *rc);
    subs = calloc(MAX_FD, sizeof *subs);
    dirty = calloc(MAX_FD, sizeof *dirty);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (!rc || !subs || !dirty || lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(lfd, 4096) < 0) {
        perror("relay: listen");
        return 2;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    struct epoll_event evs[512];
    while (!stopping) {
        int n = epoll_wait(ep, evs, 512, 200);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                on_accept(lfd);
                continue;
            }
            if (!rc[fd].open) {
                continue;
            }
            if (evs[i].events & EPOLLOUT) {
                flush_one(fd);
            }
            if (rc[fd].open && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
                on_read(fd);
            }
        }
        for (int i = 0; i < ndirty; i++) {
            rc[dirty[i]].dirty = false;
            flush_one(dirty[i]);
        }
        ndirty = 0;
    }
    return 0;
}
