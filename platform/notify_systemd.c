/*
 * The service manager's readiness protocol (systemd's sd_notify, sd_notify(3)) spoken directly:
 * one AF_UNIX datagram per state change, to the socket named by $NOTIFY_SOCKET, so Tern needs
 * no libsystemd. A name starting with '@' is in Linux's abstract namespace (a leading NUL
 * byte); anything else is a filesystem path. The socket is non-blocking: a manager that stops
 * reading costs a dropped notification, never a stalled loop (STYLE 2.9).
 *
 * The watchdog: $WATCHDOG_USEC is the interval the manager expects WATCHDOG=1 within, meant for
 * this process only when $WATCHDOG_PID is unset or equals getpid() (sd_watchdog_enabled(3)).
 * The broker sends it from a loop timer, so a loop that stops turning stops the keepalives and
 * the manager restarts the service. Without $NOTIFY_SOCKET everything here is a no-op.
 */
#include <tern/platform.h>
#include <tern/err.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void disable(struct plat_notify *n)
{
    n->fd = -1;
    n->addr_len = 0;
    n->addr[0] = '\0';
    n->watchdog_usec = 0;
}

/* Parses a decimal unsigned value; false for an empty, signed or trailing-garbage string. */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = (uint64_t)v;
    return true;
}

static uint64_t watchdog_from_env(void)
{
    uint64_t usec;
    if (!parse_u64(getenv("WATCHDOG_USEC"), &usec) || usec == 0)
        return 0;
    const char *pid_s = getenv("WATCHDOG_PID");
    uint64_t pid;
    if (pid_s != NULL && (!parse_u64(pid_s, &pid) || pid != (uint64_t)getpid()))
        return 0;
    return usec;
}

int plat_notify_init(struct plat_notify *n)
{
    disable(n);
    const char *name = getenv("NOTIFY_SOCKET");
    if (name == NULL || name[0] == '\0')
        return TERN_OK;
    size_t len = strlen(name);
    struct sockaddr_un sun;
    if ((name[0] != '/' && name[0] != '@') || len >= sizeof sun.sun_path || len > sizeof n->addr)
        return TERN_EINVAL;
    memcpy(n->addr, name, len);
    if (name[0] == '@')
        n->addr[0] = '\0';
    n->addr_len = (unsigned)len;
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0) {
        disable(n);
        return TERN_EIO;
    }
    if (plat_set_nonblock(fd) != TERN_OK) {
        close(fd);
        disable(n);
        return TERN_EIO;
    }
    n->fd = fd;
    n->watchdog_usec = watchdog_from_env();
    return TERN_OK;
}

int plat_notify_send(struct plat_notify *n, const char *state)
{
    if (n->fd < 0)
        return TERN_OK;
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, n->addr, n->addr_len);
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n->addr_len);
    /* A path needs its terminating NUL counted; an abstract name must not have one. */
    if (n->addr[0] != '\0')
        alen++;
    ssize_t w;
    do {
        w = sendto(n->fd, state, strlen(state), 0, (struct sockaddr *)&sun, alen);
    } while (w < 0 && errno == EINTR);
    return w < 0 ? TERN_EIO : TERN_OK;
}

void plat_notify_cleanup(struct plat_notify *n)
{
    if (n->fd >= 0)
        close(n->fd);
    disable(n);
}
