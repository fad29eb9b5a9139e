/*
 * The contract platform/ implements: the poller, clocks and OS hooks.
 *
 * Only files under platform/ know which OS or board Tern runs on. The Makefile compiles exactly
 * one poller (poll_epoll.c on Linux by default, poll_posix.c with POLLER=poll or on any other
 * POSIX system); both implement every function below and keep their state in the struct they
 * return, never in file statics. A poller sees file descriptors and readiness masks only: it
 * knows nothing of connections, TLS or MQTT.
 */
#ifndef TERN_PLATFORM_H
#define TERN_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

/* Readiness mask bits. PLAT_ERR is reported, never requested (errors and hang-ups). */
#define PLAT_READ  0x1u
#define PLAT_WRITE 0x2u
#define PLAT_ERR   0x4u

struct plat_event {
    int fd;
    uint32_t mask;
};

struct plat_poller;

/* Returns a new poller sized for about size_hint fds, or NULL on failure. */
struct plat_poller *plat_poller_new(int size_hint);
void plat_poller_free(struct plat_poller *p);
/* Name of the backend ("epoll", "poll"), for logs and tests. */
const char *plat_poller_name(void);
/* Starts watching fd for mask (PLAT_READ|PLAT_WRITE, may be 0). TERN_OK or TERN_E*. */
int plat_poller_add(struct plat_poller *p, int fd, uint32_t mask);
/* Changes the mask of a watched fd. */
int plat_poller_mod(struct plat_poller *p, int fd, uint32_t mask);
/* Stops watching fd (call before close). */
int plat_poller_del(struct plat_poller *p, int fd);
/*
 * Waits up to timeout_ms (-1 = forever, 0 = poll) and fills at most max events.
 * Returns the number of events (0 on timeout or when interrupted by a signal) or TERN_EIO.
 */
int plat_poller_wait(struct plat_poller *p, struct plat_event *events, int max, int timeout_ms);

/* Monotonic clock in milliseconds and microseconds, and wall-clock seconds since the epoch. */
uint64_t plat_now_ms(void);
uint64_t plat_now_us(void);
int64_t plat_wall_time(void);
/* Wall-clock milliseconds since the epoch (persisted message arrival times). */
int64_t plat_wall_ms(void);

/* Signals: SIGINT/SIGTERM request a stop, SIGHUP a reload, SIGUSR1 a log reopen. */
#define PLAT_SIG_STOP   0x1u
#define PLAT_SIG_RELOAD 0x2u
#define PLAT_SIG_REOPEN 0x4u
/* Installs the handlers and ignores SIGPIPE. */
int plat_signals_install(void);
/* Returns and clears the pending PLAT_SIG_* bits. */
unsigned plat_signals_take(void);
/* True when a signal is pending (no system call; for skipping the next wait). */
int plat_signals_pending(void);

/* Raises the soft fd limit toward want (or the hard limit); returns the limit now in force. */
long plat_raise_fd_limit(long want);

/* Makes an fd non-blocking and close-on-exec. */
int plat_set_nonblock(int fd);

/*
 * Per-board defaults (platform/board/<name>.h, chosen by make BOARD=...), used by the core only
 * where the configuration file is silent.
 */
struct plat_board {
    const char *name;           /* "linux-generic", "rpi-aarch64", "armv7" */
    size_t read_buf;            /* bytes of the loop-owned read buffer */
    size_t memory_limit;        /* memory_limit default in bytes; 0 = no cap */
    long max_connections;       /* max_connections default (all listeners); -1 = no limit */
    long fd_want;               /* soft RLIMIT_NOFILE to ask for at start-up */
};

/* The defaults of the board this binary was built for (static storage, never NULL). */
const struct plat_board *plat_board(void);

/*
 * Service manager notification: systemd's sd_notify protocol spoken directly (no libsystemd).
 * plat_notify_init reads NOTIFY_SOCKET (a path, or "@name" for the abstract namespace) and
 * WATCHDOG_USEC/WATCHDOG_PID from the environment; without NOTIFY_SOCKET every send is a no-op.
 * The struct is caller-owned (a field of the broker).
 */
struct plat_notify {
    int fd;                     /* AF_UNIX datagram socket, -1 when not under a manager */
    unsigned addr_len;          /* bytes of addr used (abstract names hold a NUL) */
    char addr[128];             /* socket path; addr[0] == '\0' for an abstract name */
    uint64_t watchdog_usec;     /* WATCHDOG_USEC for this process, 0 = no watchdog */
};

/* Fills n from the environment. TERN_OK (also when not under a manager) or TERN_EIO/EINVAL;
 * on error n is left disabled and the caller may log and go on. */
int plat_notify_init(struct plat_notify *n);
/* Sends one state message ("READY=1", "WATCHDOG=1", ...; lines separated by '\n').
 * TERN_OK, also when disabled; TERN_EIO when the datagram could not be sent. Never blocks. */
int plat_notify_send(struct plat_notify *n, const char *state);
/* Closes the socket; n is disabled afterwards. */
void plat_notify_cleanup(struct plat_notify *n);

/*
 * Durability hooks for the persistence log. plat_fsync makes fd's written data durable
 * (fdatasync where the OS has it); plat_fsync_dir makes a rename or create inside dir durable.
 * Both return TERN_OK or TERN_EIO (errno kept).
 */
int plat_fsync(int fd);
int plat_fsync_dir(const char *dir);
/* Takes an exclusive advisory lock on the file at path (created if missing), held until
 * *fd_out is closed: TERN_OK, TERN_ELIMIT when another process (or open) holds it, TERN_EIO. */
int plat_lock_file(const char *path, int *fd_out);

#endif
