/*
 * OS hooks on POSIX: signal handlers, the fd limit, non-blocking fds and fsync.
 *
 * Signals only set bits in pending_signals, the one mutable file-scope variable Tern allows
 * (STYLE 2.7); the loop collects them with plat_signals_take() once per iteration and the broker
 * acts on them outside the handler. Handlers are installed without SA_RESTART so that a signal
 * interrupts the poller's wait (EINTR, reported as 0 events) and the loop sees the bit promptly.
 * Each handler runs with all four signals blocked, so its read-modify-write of the bit set is
 * never interrupted by another of ours. SIGPIPE is ignored: a write to a closed socket returns
 * EPIPE to the connection instead of killing the process.
 */
#include <tern/platform.h>
#include <tern/err.h>

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/file.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <errno.h>
#include <unistd.h>

static volatile sig_atomic_t pending_signals;

static void on_signal(int sig)
{
    unsigned bit;
    switch (sig) {
    case SIGHUP:
        bit = PLAT_SIG_RELOAD;
        break;
    case SIGUSR1:
        bit = PLAT_SIG_REOPEN;
        break;
    default:
        bit = PLAT_SIG_STOP;
        break;
    }
    pending_signals = (sig_atomic_t)((unsigned)pending_signals | bit);
}

static void our_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
}

int plat_signals_install(void)
{
    static const int handled[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1 };
    struct sigaction sa = { .sa_handler = on_signal, .sa_flags = 0 };
    our_signals(&sa.sa_mask);
    for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++) {
        if (sigaction(handled[i], &sa, NULL) != 0)
            return TERN_EIO;
    }
    struct sigaction ign = { .sa_handler = SIG_IGN, .sa_flags = 0 };
    sigemptyset(&ign.sa_mask);
    if (sigaction(SIGPIPE, &ign, NULL) != 0)
        return TERN_EIO;
    return TERN_OK;
}

int plat_signals_pending(void)
{
    return pending_signals != 0;
}

unsigned plat_signals_take(void)
{
    /* The common case costs no system call. */
    if (pending_signals == 0)
        return 0;
    /* Block our signals so one arriving between the read and the clear is not lost. */
    sigset_t set;
    sigset_t old;
    our_signals(&set);
    bool blocked = sigprocmask(SIG_BLOCK, &set, &old) == 0;
    unsigned bits = (unsigned)pending_signals;
    pending_signals = 0;
    if (blocked)
        sigprocmask(SIG_SETMASK, &old, NULL);
    return bits;
}

static long rlim_to_long(rlim_t r)
{
    if (r == RLIM_INFINITY || r > (rlim_t)LONG_MAX)
        return LONG_MAX;
    return (long)r;
}

long plat_raise_fd_limit(long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return TERN_EIO;
    rlim_t target = want > 0 ? (rlim_t)want : rl.rlim_max;
    if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max)
        target = rl.rlim_max;
    /*
     * Some systems refuse a soft limit above a kernel ceiling lower than the hard limit (macOS
     * with OPEN_MAX): halve the request until it is accepted or no longer a raise.
     */
    while (rl.rlim_cur != RLIM_INFINITY && target > rl.rlim_cur) {
        struct rlimit next = { .rlim_cur = target, .rlim_max = rl.rlim_max };
        if (setrlimit(RLIMIT_NOFILE, &next) == 0) {
            rl.rlim_cur = target;
            break;
        }
        target /= 2;
    }
    return rlim_to_long(rl.rlim_cur);
}

int plat_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return TERN_EIO;
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) != 0)
        return TERN_EIO;
    return TERN_OK;
}

/*
 * Durability. Linux: fdatasync (the log's size change is data too, so it is flushed with it).
 * macOS: fsync does not reach the medium, F_FULLFSYNC does. Elsewhere: fsync.
 */
int plat_fsync(int fd)
{
    int rc;
#if defined(__APPLE__)
    rc = fcntl(fd, F_FULLFSYNC);
    if (rc != 0)
        rc = fsync(fd);
#elif defined(__linux__)
    do {
        rc = fdatasync(fd);
    } while (rc != 0 && errno == EINTR);
#else
    do {
        rc = fsync(fd);
    } while (rc != 0 && errno == EINTR);
#endif
    return rc == 0 ? TERN_OK : TERN_EIO;
}

int plat_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return TERN_EIO;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc == 0 ? TERN_OK : TERN_EIO;
}

/* flock rather than fcntl locks: they conflict between two opens in one process too, so a
 * test can see the refusal, and they go away with the descriptor. */
int plat_lock_file(const char *path, int *fd_out)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    *fd_out = -1;
    if (fd < 0)
        return TERN_EIO;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return e == EWOULDBLOCK ? TERN_ELIMIT : TERN_EIO;
    }
    *fd_out = fd;
    return TERN_OK;
}
