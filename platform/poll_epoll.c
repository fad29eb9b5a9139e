/*
 * The poller on Linux epoll, level-triggered.
 *
 * Invariants: the poller's whole state is the epoll descriptor and a scratch array for
 * epoll_wait, both in struct plat_poller; nothing lives in file statics. Each registered fd
 * carries its own number in epoll_event.data.fd. A mask of 0 keeps the fd registered with no
 * interest; the kernel still reports hang-ups and errors for it, as poll(2) does, so both pollers
 * behave alike. EPOLLRDHUP is requested with read interest; it, EPOLLERR and EPOLLHUP are
 * reported as PLAT_ERR together with PLAT_READ, so a reader is woken and sees EOF or the error
 * from read() itself.
 *
 * The scratch array is allocated with malloc, not through mem.c: platform/ sits below src/ and
 * the contract gives the poller no struct mem. It is a few kilobytes, sized by the caller's max.
 */
#include <tern/platform.h>
#include <tern/err.h>

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define INITIAL_EVENTS 64

struct plat_poller {
    int epfd;
    struct epoll_event *events;     /* scratch for epoll_wait */
    int events_cap;
};

struct plat_poller *plat_poller_new(int size_hint)
{
    struct plat_poller *p = malloc(sizeof *p);
    if (p == NULL)
        return NULL;
    p->events_cap = INITIAL_EVENTS;
    p->events = malloc(sizeof *p->events * (size_t)p->events_cap);
    if (p->events == NULL)
        goto fail_events;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0)
        goto fail_epoll;
    return p;

fail_epoll:
    free(p->events);
fail_events:
    free(p);
    return NULL;
}

void plat_poller_free(struct plat_poller *p)
{
    if (p == NULL)
        return;
    close(p->epfd);
    free(p->events);
    free(p);
}

const char *plat_poller_name(void)
{
    return "epoll";
}

static uint32_t to_epoll(uint32_t mask)
{
    uint32_t ev = 0;
    if (mask & PLAT_READ)
        ev |= EPOLLIN | EPOLLRDHUP;
    if (mask & PLAT_WRITE)
        ev |= EPOLLOUT;
    return ev;
}

static uint32_t from_epoll(uint32_t ev)
{
    uint32_t mask = 0;
    if (ev & EPOLLIN)
        mask |= PLAT_READ;
    if (ev & EPOLLOUT)
        mask |= PLAT_WRITE;
    if (ev & (EPOLLRDHUP | EPOLLERR | EPOLLHUP))
        mask |= PLAT_ERR | PLAT_READ;
    return mask;
}

/* Maps a failed epoll_ctl to the codes poll_posix.c returns for the same misuse. */
static int ctl_error(int err)
{
    switch (err) {
    case ENOENT:
        return TERN_ENOTFOUND;
    case EEXIST:
    case EINVAL:
        return TERN_EINVAL;
    case ENOMEM:
    case ENOSPC:
        return TERN_ENOMEM;
    default:
        return TERN_EIO;
    }
}

static int ctl(struct plat_poller *p, int op, int fd, uint32_t mask)
{
    struct epoll_event ev = { .events = to_epoll(mask), .data.fd = fd };
    if (fd < 0)
        return TERN_EINVAL;
    if (epoll_ctl(p->epfd, op, fd, &ev) != 0)
        return ctl_error(errno);
    return TERN_OK;
}

int plat_poller_add(struct plat_poller *p, int fd, uint32_t mask)
{
    return ctl(p, EPOLL_CTL_ADD, fd, mask);
}

int plat_poller_mod(struct plat_poller *p, int fd, uint32_t mask)
{
    return ctl(p, EPOLL_CTL_MOD, fd, mask);
}

int plat_poller_del(struct plat_poller *p, int fd)
{
    return ctl(p, EPOLL_CTL_DEL, fd, 0);
}

/* Grows the scratch array toward want; on failure the old, smaller one is kept. */
static void reserve_events(struct plat_poller *p, int want)
{
    if (want <= p->events_cap)
        return;
    struct epoll_event *ev = realloc(p->events, sizeof *ev * (size_t)want);
    if (ev == NULL)
        return;
    p->events = ev;
    p->events_cap = want;
}

int plat_poller_wait(struct plat_poller *p, struct plat_event *events, int max, int timeout_ms)
{
    if (max <= 0)
        return TERN_EINVAL;
    reserve_events(p, max);
    if (max > p->events_cap)
        max = p->events_cap;
    int n = epoll_wait(p->epfd, p->events, max, timeout_ms < 0 ? -1 : timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : TERN_EIO;
    for (int i = 0; i < n; i++) {
        events[i].fd = p->events[i].data.fd;
        events[i].mask = from_epoll(p->events[i].events);
    }
    return n;
}
