/*
 * The plain TCP transport: read(2) and writev(2) on the connection's non-blocking socket.
 */
#include <errno.h>
#include <unistd.h>

#include "conn.h"
#include "listener.h"
#include "tern/err.h"

static ssize_t tcp_read(struct conn *c, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = read(c->fd, buf, len);
        if (n > 0)
            return n;
        if (n == 0)
            return TERN_ECLOSED;
        if (errno == EINTR)
            continue;
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? TERN_EAGAIN : TERN_EIO;
    }
}

static ssize_t tcp_writev(struct conn *c, const struct iovec *iov, int iovcnt)
{
    for (;;) {
        ssize_t n = writev(c->fd, iov, iovcnt);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? TERN_EAGAIN : TERN_EIO;
    }
}

static bool tcp_has_pending(struct conn *c)
{
    return false;
}

const struct transport net_tcp_transport = {
    .name = "tcp",
    .read = tcp_read,
    .writev = tcp_writev,
    .has_pending = tcp_has_pending,
    .close = NULL,
};
