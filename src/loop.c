/*
 * The event loop core: fd watchers, a timer heap and a before-sleep hook. See loop.h.
 *
 * Watchers: watchers[fd] holds the callback, its data and the interest mask of each watched fd;
 * the array grows by doubling to cover the highest fd seen. A watcher with mask 0 is kept out of
 * the poller altogether, because both epoll and poll(2) report hang-ups even for an fd with no
 * interest, and a level-triggered hang-up nobody asked for would spin the loop.
 *
 * Dispatch safety: a callback may unwatch any fd, close it and watch a new fd that reuses the
 * number, all within one batch of events. Each watch stamps the watcher with the current batch
 * number (epoch); dispatch skips an event whose fd is no longer watched or was (re)watched during
 * this batch, since that event was about the fd as it was before. Level triggering reports a
 * skipped fd again on the next wait if it is still ready, which also makes the epoch's wrap after
 * 2^32 iterations harmless: at worst one event is reported one iteration late.
 *
 * Timers: heap[0..heap_len) is a binary min-heap on deadline and each armed timer's heap_index is
 * its position there, so start, re-arm and stop are O(log n). The timer phase first moves every
 * timer due at its start into due[], marking each with heap_index = DUE_BASE + slot, then runs
 * them in deadline order. A callback that stops or re-arms a timer still waiting in due[] clears
 * its slot, and a timer (re)armed during the phase goes into the heap, not due[], so it cannot
 * run twice in one iteration and the phase always ends. due[] is kept at least as large as the
 * heap's capacity, so the timer phase never allocates.
 *
 * The loop is not reentrant: a callback must not call loop_run_once.
 */
#include "loop.h"

#include "mem.h"

#include <tern/err.h>
#include <tern/platform.h>

#include <limits.h>
#include <string.h>

#define MAX_EVENTS 1024
#define MIN_WATCHERS 64
#define MIN_TIMERS 16
#define NOT_ARMED SIZE_MAX
/* heap_index values from DUE_BASE up (SIZE_MAX excepted) mean "in due[] at slot - DUE_BASE". */
#define DUE_BASE ((SIZE_MAX >> 1) + 1)
#define IO_MASK (PLAT_READ | PLAT_WRITE)

struct watcher {
    loop_io_fn fn;
    void *data;
    uint32_t mask;          /* interest: PLAT_READ | PLAT_WRITE, may be 0 */
    uint32_t epoch;         /* batch number when last watched */
    bool watched;
};

struct loop {
    struct mem *mem;                /* borrowed */
    struct plat_poller *poller;
    struct watcher *watchers;       /* indexed by fd */
    size_t watchers_cap;
    struct loop_timer **heap;       /* borrowed timers */
    size_t heap_len;
    size_t heap_cap;
    struct loop_timer **due;        /* timers of the running timer phase; NULL = cancelled */
    size_t due_len;
    struct plat_event *events;      /* MAX_EVENTS */
    uint32_t epoch;
    uint64_t now;
    loop_hook_fn before_sleep;
    void *before_sleep_data;
    bool wake;                      /* next wait returns at once */
};

struct loop *loop_new(struct mem *mem, int size_hint)
{
    struct loop *l = mem_calloc(mem, 1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->mem = mem;
    l->events = mem_alloc(mem, sizeof *l->events * MAX_EVENTS);
    if (l->events == NULL)
        goto fail;
    l->poller = plat_poller_new(size_hint);
    if (l->poller == NULL)
        goto fail;
    l->now = plat_now_ms();
    return l;

fail:
    mem_free(mem, l->events);
    mem_free(mem, l);
    return NULL;
}

void loop_free(struct loop *l)
{
    if (l == NULL)
        return;
    /* Armed timers are still alive (the loop borrows them): leave them disarmed. */
    for (size_t i = 0; i < l->heap_len; i++)
        l->heap[i]->heap_index = NOT_ARMED;
    for (size_t i = 0; i < l->due_len; i++) {
        if (l->due[i] != NULL)
            l->due[i]->heap_index = NOT_ARMED;
    }
    plat_poller_free(l->poller);
    mem_free(l->mem, l->due);
    mem_free(l->mem, l->heap);
    mem_free(l->mem, l->watchers);
    mem_free(l->mem, l->events);
    mem_free(l->mem, l);
}

const char *loop_backend(const struct loop *l)
{
    return plat_poller_name();
}

uint64_t loop_now(const struct loop *l)
{
    return l->now;
}

void loop_update_time(struct loop *l)
{
    l->now = plat_now_ms();
}

void loop_set_before_sleep(struct loop *l, loop_hook_fn fn, void *data)
{
    l->before_sleep = fn;
    l->before_sleep_data = data;
}

/* ---- fd watchers ---- */

static int reserve_watchers(struct loop *l, int fd)
{
    size_t want = (size_t)fd + 1;
    if (want <= l->watchers_cap)
        return TERN_OK;
    size_t cap = l->watchers_cap < MIN_WATCHERS ? MIN_WATCHERS : l->watchers_cap;
    while (cap < want)
        cap *= 2;
    struct watcher *w = mem_realloc(l->mem, l->watchers, sizeof *w * cap);
    if (w == NULL)
        return TERN_ENOMEM;
    memset(w + l->watchers_cap, 0, sizeof *w * (cap - l->watchers_cap));
    l->watchers = w;
    l->watchers_cap = cap;
    return TERN_OK;
}

static struct watcher *find_watcher(struct loop *l, int fd)
{
    if (fd < 0 || (size_t)fd >= l->watchers_cap || !l->watchers[fd].watched)
        return NULL;
    return &l->watchers[fd];
}

/* Moves fd's registration in the poller from interest old to interest new (0 = not in it). */
static int change_interest(struct loop *l, int fd, uint32_t old, uint32_t new)
{
    if (old == new)
        return TERN_OK;
    if (old == 0)
        return plat_poller_add(l->poller, fd, new);
    if (new == 0)
        return plat_poller_del(l->poller, fd);
    return plat_poller_mod(l->poller, fd, new);
}

int loop_watch(struct loop *l, int fd, uint32_t mask, loop_io_fn fn, void *data)
{
    if (fd < 0 || fn == NULL || (mask & ~IO_MASK) != 0)
        return TERN_EINVAL;
    int rc = reserve_watchers(l, fd);
    if (rc != TERN_OK)
        return rc;
    struct watcher *w = &l->watchers[fd];
    /* Watching an fd already watched replaces its callback and mask. */
    rc = change_interest(l, fd, w->watched ? w->mask : 0, mask);
    if (rc != TERN_OK)
        return rc;
    *w = (struct watcher){
        .fn = fn, .data = data, .mask = mask, .epoch = l->epoch, .watched = true,
    };
    return TERN_OK;
}

int loop_modify(struct loop *l, int fd, uint32_t mask)
{
    if ((mask & ~IO_MASK) != 0)
        return TERN_EINVAL;
    struct watcher *w = find_watcher(l, fd);
    if (w == NULL)
        return TERN_ENOTFOUND;
    int rc = change_interest(l, fd, w->mask, mask);
    if (rc == TERN_OK)
        w->mask = mask;
    return rc;
}

void loop_unwatch(struct loop *l, int fd)
{
    struct watcher *w = find_watcher(l, fd);
    if (w == NULL)
        return;
    /* A failure here means the fd was closed first; the kernel has already forgotten it. */
    (void)change_interest(l, fd, w->mask, 0);
    memset(w, 0, sizeof *w);
}

/* ---- timer heap ---- */

static void heap_set(struct loop *l, size_t i, struct loop_timer *t)
{
    l->heap[i] = t;
    t->heap_index = i;
}

static void sift_up(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (l->heap[parent]->deadline <= t->deadline)
            break;
        heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    heap_set(l, i, t);
}

static void sift_down(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= l->heap_len)
            break;
        if (child + 1 < l->heap_len && l->heap[child + 1]->deadline < l->heap[child]->deadline)
            child++;
        if (t->deadline <= l->heap[child]->deadline)
            break;
        heap_set(l, i, l->heap[child]);
        i = child;
    }
    heap_set(l, i, t);
}

/* Restores heap order at i after its deadline changed either way. */
static void heap_fix(struct loop *l, size_t i)
{
    if (i > 0 && l->heap[(i - 1) / 2]->deadline > l->heap[i]->deadline)
        sift_up(l, i);
    else
        sift_down(l, i);
}

/* Removes and returns heap[i]; its heap_index is left for the caller to set. */
static struct loop_timer *heap_remove(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];
    struct loop_timer *last = l->heap[--l->heap_len];
    if (i < l->heap_len) {
        heap_set(l, i, last);
        heap_fix(l, i);
    }
    return t;
}

/* Makes room for one more heap entry, growing due[] alongside so the timer phase never fails. */
static int reserve_timer(struct loop *l)
{
    if (l->heap_len < l->heap_cap)
        return TERN_OK;
    size_t cap = l->heap_cap < MIN_TIMERS ? MIN_TIMERS : l->heap_cap * 2;
    struct loop_timer **due = mem_realloc(l->mem, l->due, sizeof *due * cap);
    if (due == NULL)
        return TERN_ENOMEM;
    l->due = due;
    struct loop_timer **heap = mem_realloc(l->mem, l->heap, sizeof *heap * cap);
    if (heap == NULL)
        return TERN_ENOMEM;
    l->heap = heap;
    l->heap_cap = cap;
    return TERN_OK;
}

void loop_timer_init(struct loop_timer *t, loop_timer_fn fn, void *data)
{
    t->deadline = 0;
    t->heap_index = NOT_ARMED;
    t->fn = fn;
    t->data = data;
}

bool loop_timer_armed(const struct loop_timer *t)
{
    return t->heap_index != NOT_ARMED;
}

static bool in_heap(const struct loop_timer *t)
{
    return t->heap_index < DUE_BASE;
}

int loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t deadline)
{
    if (in_heap(t)) {
        t->deadline = deadline;
        heap_fix(l, t->heap_index);
        return TERN_OK;
    }
    int rc = reserve_timer(l);
    if (rc != TERN_OK)
        return rc;
    /* A timer waiting in the running timer phase is re-armed: it must not run this phase. */
    if (t->heap_index != NOT_ARMED)
        l->due[t->heap_index - DUE_BASE] = NULL;
    t->deadline = deadline;
    heap_set(l, l->heap_len++, t);
    sift_up(l, t->heap_index);
    return TERN_OK;
}

void loop_timer_stop(struct loop *l, struct loop_timer *t)
{
    if (t->heap_index == NOT_ARMED)
        return;
    if (in_heap(t))
        heap_remove(l, t->heap_index);
    else
        l->due[t->heap_index - DUE_BASE] = NULL;
    t->heap_index = NOT_ARMED;
}

/* Runs every timer due at l->now when the phase starts, in deadline order. */
static void run_timers(struct loop *l)
{
    size_t n = 0;
    while (l->heap_len > 0 && l->heap[0]->deadline <= l->now) {
        struct loop_timer *t = heap_remove(l, 0);
        t->heap_index = DUE_BASE + n;
        l->due[n++] = t;
    }
    l->due_len = n;
    for (size_t i = 0; i < n; i++) {
        struct loop_timer *t = l->due[i];
        if (t == NULL)
            continue;
        l->due[i] = NULL;
        t->heap_index = NOT_ARMED;
        t->fn(l, t, t->data);
    }
    l->due_len = 0;
}

/* ---- one iteration ---- */

/* The poller timeout: until the nearest deadline, capped by max_wait_ms (< 0 = no cap). */
static int wait_timeout(const struct loop *l, int max_wait_ms)
{
    if (l->heap_len == 0)
        return max_wait_ms < 0 ? -1 : max_wait_ms;
    /*
     * A fresh reading, not l->now: the hook and the last batch took time, and a timeout counted
     * from the previous wake-up would make every timer late by that much.
     */
    uint64_t now = plat_now_ms();
    uint64_t deadline = l->heap[0]->deadline;
    uint64_t wait = deadline > now ? deadline - now : 0;
    if (max_wait_ms >= 0 && wait > (uint64_t)max_wait_ms)
        wait = (uint64_t)max_wait_ms;
    return wait > INT_MAX ? INT_MAX : (int)wait;
}

static int dispatch(struct loop *l, int n)
{
    int dispatched = 0;
    for (int i = 0; i < n; i++) {
        int fd = l->events[i].fd;
        uint32_t mask = l->events[i].mask;
        struct watcher *w = find_watcher(l, fd);
        /* Unwatched, or watched anew, since the poller reported this event. */
        if (w == NULL || w->epoch == l->epoch || w->mask == 0)
            continue;
        /* Interest may have narrowed earlier in this batch; errors always go through. */
        if ((mask & PLAT_ERR) == 0)
            mask &= w->mask;
        if (mask == 0)
            continue;
        w->fn(l, fd, mask, w->data);
        dispatched++;
    }
    return dispatched;
}

void loop_wake(struct loop *l)
{
    l->wake = true;
}

int loop_run_once(struct loop *l, int max_wait_ms)
{
    if (l->before_sleep != NULL)
        l->before_sleep(l, l->before_sleep_data);
    int n = plat_poller_wait(l->poller, l->events, MAX_EVENTS,
                             l->wake ? 0 : wait_timeout(l, max_wait_ms));
    l->wake = false;
    l->now = plat_now_ms();
    if (n < 0)
        return TERN_EIO;
    /* A new batch: watchers stamped from here on were watched after the poller spoke. */
    l->epoch++;
    int dispatched = dispatch(l, n);
    run_timers(l);
    return dispatched;
}
