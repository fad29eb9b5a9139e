/*
 * The poller on poll(2), for any POSIX board; also built and unit-tested on Linux so this path
 * cannot rot unseen.
 *
 * Invariants: pfds[0..len) holds one struct pollfd per watched fd, in no particular order, and
 * index[fd] is that fd's position in pfds, or -1 when the fd is not watched. Both arrays grow by
 * doubling; add, mod and del are O(1) (del moves the last entry into the hole). wait scans pfds
 * from a rotating start so that, when more fds are ready than the caller can take, the ones left
 * over are reported first next time instead of starving. A mask of 0 keeps the fd in the set
 * with no interest; poll() still reports hang-ups and errors for it, as epoll does. POLLHUP,
 * POLLERR and POLLNVAL are reported as PLAT_ERR together with PLAT_READ, so a reader is woken and
 * sees EOF or the error from read() itself.
 *
 * The arrays are allocated with malloc, not through mem.c: platform/ sits below src/ and the
 * contract gives the poller no struct mem.
 */
#include <tern/platform.h>
#include <tern/err.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>

#define MIN_SLOTS 16

struct plat_poller {
    struct pollfd *pfds;
    size_t len;
    size_t cap;
    int *index;         /* fd -> position in pfds, -1 when not watched */
    size_t index_cap;
    size_t start;       /* where the next scan of pfds begins */
};

static int grow_index(struct plat_poller *p, size_t want)
{
    size_t cap = p->index_cap < MIN_SLOTS ? MIN_SLOTS : p->index_cap;
    while (cap < want)
        cap *= 2;
    if (cap == p->index_cap)
        return TERN_OK;
    int *index = realloc(p->index, sizeof *index * cap);
    if (index == NULL)
        return TERN_ENOMEM;
    for (size_t i = p->index_cap; i < cap; i++)
        index[i] = -1;
    p->index = index;
    p->index_cap = cap;
    return TERN_OK;
}

static int grow_pfds(struct plat_poller *p)
{
    if (p->len < p->cap)
        return TERN_OK;
    size_t cap = p->cap < MIN_SLOTS ? MIN_SLOTS : p->cap * 2;
    if (cap > (size_t)INT_MAX)
        return TERN_ENOMEM;
    struct pollfd *pfds = realloc(p->pfds, sizeof *pfds * cap);
    if (pfds == NULL)
        return TERN_ENOMEM;
    p->pfds = pfds;
    p->cap = cap;
    return TERN_OK;
}

struct plat_poller *plat_poller_new(int size_hint)
{
    struct plat_poller *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    size_t want = size_hint > MIN_SLOTS ? (size_t)size_hint : MIN_SLOTS;
    if (grow_index(p, want) != TERN_OK) {
        free(p);
        return NULL;
    }
    return p;
}

void plat_poller_free(struct plat_poller *p)
{
    if (p == NULL)
        return;
    free(p->pfds);
    free(p->index);
    free(p);
}

const char *plat_poller_name(void)
{
    return "poll";
}

static short to_poll(uint32_t mask)
{
    short ev = 0;
    if (mask & PLAT_READ)
        ev |= POLLIN;
    if (mask & PLAT_WRITE)
        ev |= POLLOUT;
    return ev;
}

static uint32_t from_poll(short ev)
{
    uint32_t mask = 0;
    if (ev & POLLIN)
        mask |= PLAT_READ;
    if (ev & POLLOUT)
        mask |= PLAT_WRITE;
    if (ev & (POLLHUP | POLLERR | POLLNVAL))
        mask |= PLAT_ERR | PLAT_READ;
    return mask;
}

/* Returns fd's position in pfds, or -1 when fd is not watched. */
static int find(const struct plat_poller *p, int fd)
{
    if (fd < 0 || (size_t)fd >= p->index_cap)
        return -1;
    return p->index[fd];
}

int plat_poller_add(struct plat_poller *p, int fd, uint32_t mask)
{
    if (fd < 0 || find(p, fd) >= 0)
        return TERN_EINVAL;
    if (grow_index(p, (size_t)fd + 1) != TERN_OK || grow_pfds(p) != TERN_OK)
        return TERN_ENOMEM;
    p->pfds[p->len] = (struct pollfd){ .fd = fd, .events = to_poll(mask), .revents = 0 };
    p->index[fd] = (int)p->len;
    p->len++;
    return TERN_OK;
}

int plat_poller_mod(struct plat_poller *p, int fd, uint32_t mask)
{
    int i = find(p, fd);
    if (i < 0)
        return TERN_ENOTFOUND;
    p->pfds[i].events = to_poll(mask);
    return TERN_OK;
}

int plat_poller_del(struct plat_poller *p, int fd)
{
    int i = find(p, fd);
    if (i < 0)
        return TERN_ENOTFOUND;
    size_t last = p->len - 1;
    if ((size_t)i != last) {
        p->pfds[i] = p->pfds[last];
        p->index[p->pfds[i].fd] = i;
    }
    p->index[fd] = -1;
    p->len = last;
    return TERN_OK;
}

int plat_poller_wait(struct plat_poller *p, struct plat_event *events, int max, int timeout_ms)
{
    if (max <= 0)
        return TERN_EINVAL;
    int ready = poll(p->pfds, (nfds_t)p->len, timeout_ms < 0 ? -1 : timeout_ms);
    if (ready < 0)
        return errno == EINTR ? 0 : TERN_EIO;
    int n = 0;
    size_t len = p->len;
    size_t i = len == 0 ? 0 : p->start % len;
    for (size_t k = 0; k < len && ready > 0; k++, i = i + 1 == len ? 0 : i + 1) {
        if (p->pfds[i].revents == 0)
            continue;
        ready--;
        if (n == max) {
            /* The caller's array is full: resume here next time. */
            p->start = i;
            return n;
        }
        events[n].fd = p->pfds[i].fd;
        events[n].mask = from_poll(p->pfds[i].revents);
        n++;
    }
    p->start = 0;
    return n;
}
