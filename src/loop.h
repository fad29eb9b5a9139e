/*
 * The event loop core: fd watchers, a timer heap and a before-sleep hook. It knows file
 * descriptors and deadlines, never MQTT.
 *
 * One iteration (loop_run_once): run the before-sleep hook (where the broker flushes batched
 * output and, later, syncs the persistence log), wait on the platform poller until the nearest
 * timer deadline, read the monotonic clock once into loop->now, dispatch every ready fd, then
 * run every expired timer. Timers live in a binary min-heap, so arming, re-arming and stopping
 * cost O(log n) and the loop never scans all clients per turn.
 *
 * Timers are caller-owned storage (embedded in a connection, say): the loop borrows them while
 * armed. A watcher callback may unwatch its own or any other fd and start or stop any timer,
 * including during dispatch: events for an fd unwatched earlier in the same batch are skipped.
 */
#ifndef TERN_LOOP_H
#define TERN_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct mem;
struct loop_timer;

typedef void (*loop_io_fn)(struct loop *l, int fd, uint32_t mask, void *data);
typedef void (*loop_timer_fn)(struct loop *l, struct loop_timer *t, void *data);
typedef void (*loop_hook_fn)(struct loop *l, void *data);

struct loop_timer {
    uint64_t deadline;      /* monotonic ms */
    size_t heap_index;      /* position in the heap; SIZE_MAX when not armed */
    loop_timer_fn fn;
    void *data;
};

/* Returns a new loop (poller included) or NULL. mem is borrowed. */
struct loop *loop_new(struct mem *mem, int size_hint);
void loop_free(struct loop *l);

/* Watches fd for mask (PLAT_READ|PLAT_WRITE); fn(l, fd, ready_mask, data) on readiness. */
int loop_watch(struct loop *l, int fd, uint32_t mask, loop_io_fn fn, void *data);
/* Changes the interest mask of a watched fd (no system call when it is unchanged). */
int loop_modify(struct loop *l, int fd, uint32_t mask);
/* Stops watching fd; call before closing it. */
void loop_unwatch(struct loop *l, int fd);

void loop_timer_init(struct loop_timer *t, loop_timer_fn fn, void *data);
/* Arms or re-arms t to fire at the monotonic time deadline (ms). TERN_OK or TERN_ENOMEM. */
int loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t deadline);
/* Disarms t; harmless when it is not armed. */
void loop_timer_stop(struct loop *l, struct loop_timer *t);
bool loop_timer_armed(const struct loop_timer *t);

/* Sets the hook run at the start of every iteration, before waiting. */
void loop_set_before_sleep(struct loop *l, loop_hook_fn fn, void *data);

/* Makes the next wait of this loop return at once (used when work is already pending, e.g.
 * a signal that arrived while the loop was busy). */
void loop_wake(struct loop *l);

/* The monotonic time in ms read at the last wake-up (read once per iteration). */
uint64_t loop_now(const struct loop *l);
/* Re-reads the clock into loop_now (used at start-up). */
void loop_update_time(struct loop *l);

/*
 * Runs one iteration, waiting at most max_wait_ms (-1: until the next timer or event).
 * Returns the number of fd events dispatched, or TERN_EIO when the poller failed.
 */
int loop_run_once(struct loop *l, int max_wait_ms);

/* Name of the poller compiled in ("epoll" or "poll"). */
const char *loop_backend(const struct loop *l);

#endif
