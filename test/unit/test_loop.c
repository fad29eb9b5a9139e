/*
 * Unit tests for the loop core (src/loop.c) and the platform layer under it.
 *
 * The same file passes linked with either poller (platform/poll_epoll.c or poll_posix.c); build
 * with -DTERN_EXPECT_POLLER='"epoll"' or '"poll"' to also check which one was linked. Timers are
 * tested without a fake clock: deadlines at or before loop_now() are due on the next
 * loop_run_once(l, 0). The only timing assertion is a lower bound on a sleep.
 */
#include "loop.h"

#include "mem.h"

#include <tern/err.h>
#include <tern/platform.h>

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

struct hit {
    int calls;
    int fd;
    uint32_t mask;
};

static void on_io(struct loop *l, int fd, uint32_t mask, void *data)
{
    struct hit *h = data;
    h->calls++;
    h->fd = fd;
    h->mask = mask;
}

static struct loop *new_loop(struct mem *m)
{
    mem_init(m, 0);
    struct loop *l = loop_new(m, 64);
    ck_assert_ptr_nonnull(l);
    return l;
}

static void free_loop(struct mem *m, struct loop *l)
{
    loop_free(l);
    ck_assert_uint_eq(m->used, 0);
}

static void make_pipe(int fds[2])
{
    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(plat_set_nonblock(fds[0]), TERN_OK);
    ck_assert_int_eq(plat_set_nonblock(fds[1]), TERN_OK);
}

static void put_byte(int fd)
{
    ck_assert_int_eq(write(fd, "x", 1), 1);
}

/* ---- platform ---- */

START_TEST(test_plat_poller_name_matches_build)
{
    struct mem m;
    struct loop *l = new_loop(&m);
    const char *name = plat_poller_name();
    ck_assert(strcmp(name, "epoll") == 0 || strcmp(name, "poll") == 0);
    ck_assert_str_eq(loop_backend(l), name);
#ifdef TERN_EXPECT_POLLER
    ck_assert_str_eq(name, TERN_EXPECT_POLLER);
#endif
    free_loop(&m, l);
}
END_TEST

START_TEST(test_plat_poller_rejects_double_add_and_unknown_fd)
{
    int p[2];
    make_pipe(p);
    struct plat_poller *pp = plat_poller_new(4);
    ck_assert_ptr_nonnull(pp);
    ck_assert_int_eq(plat_poller_add(pp, p[0], PLAT_READ), TERN_OK);
    ck_assert_int_eq(plat_poller_add(pp, p[0], PLAT_READ), TERN_EINVAL);
    ck_assert_int_eq(plat_poller_mod(pp, p[1], PLAT_WRITE), TERN_ENOTFOUND);
    ck_assert_int_eq(plat_poller_del(pp, p[1]), TERN_ENOTFOUND);
    ck_assert_int_eq(plat_poller_del(pp, p[0]), TERN_OK);
    ck_assert_int_eq(plat_poller_del(pp, p[0]), TERN_ENOTFOUND);
    plat_poller_free(pp);
    close(p[0]);
    close(p[1]);
}
END_TEST

START_TEST(test_plat_poller_wait_truncated_to_max_starves_no_fd)
{
    enum { N = 8 };
    int p[N][2];
    struct plat_poller *pp = plat_poller_new(4);
    ck_assert_ptr_nonnull(pp);
    for (int i = 0; i < N; i++) {
        make_pipe(p[i]);
        put_byte(p[i][1]);
        ck_assert_int_eq(plat_poller_add(pp, p[i][0], PLAT_READ), TERN_OK);
    }
    struct plat_event ev[3];
    int seen[N] = { 0 };
    /* Nothing is drained: every fd stays ready, and none may starve behind the first three. */
    for (int round = 0; round < 3; round++) {
        ck_assert_int_eq(plat_poller_wait(pp, ev, 3, 0), 3);
        for (int k = 0; k < 3; k++) {
            for (int i = 0; i < N; i++)
                seen[i] += ev[k].fd == p[i][0];
        }
    }
    for (int i = 0; i < N; i++) {
        ck_assert_int_ge(seen[i], 1);
        close(p[i][0]);
        close(p[i][1]);
    }
    plat_poller_free(pp);
}
END_TEST

START_TEST(test_plat_clocks_are_sane)
{
    uint64_t a = plat_now_ms();
    uint64_t b = plat_now_ms();
    ck_assert_uint_ge(b, a);
    uint64_t us = plat_now_us();
    ck_assert_uint_ge(us / 1000, a);
    ck_assert_int_gt(plat_wall_time(), 1600000000);
}
END_TEST

START_TEST(test_plat_sighup_sets_reload_once)
{
    ck_assert_int_eq(plat_signals_install(), TERN_OK);
    ck_assert_uint_eq(plat_signals_take(), 0);
    ck_assert_int_eq(raise(SIGHUP), 0);
    ck_assert_uint_eq(plat_signals_take(), PLAT_SIG_RELOAD);
    ck_assert_uint_eq(plat_signals_take(), 0);
    ck_assert_int_eq(raise(SIGTERM), 0);
    ck_assert_int_eq(raise(SIGUSR1), 0);
    ck_assert_uint_eq(plat_signals_take(), PLAT_SIG_STOP | PLAT_SIG_REOPEN);
    /* SIGPIPE is ignored: raising it does not end the process. */
    ck_assert_int_eq(raise(SIGPIPE), 0);
    ck_assert_uint_eq(plat_signals_take(), 0);
}
END_TEST

START_TEST(test_plat_fd_limit_never_lowers)
{
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    long before = (long)rl.rlim_cur;
    long now = plat_raise_fd_limit(16);
    ck_assert_int_ge(now, before);
    now = plat_raise_fd_limit(plat_board()->fd_want);
    ck_assert_int_ge(now, before);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    ck_assert_int_eq((long)rl.rlim_cur, now);
}
END_TEST

START_TEST(test_plat_set_nonblock_sets_both_flags)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(plat_set_nonblock(p[0]), TERN_OK);
    ck_assert(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    ck_assert(fcntl(p[0], F_GETFD) & FD_CLOEXEC);
    close(p[0]);
    close(p[1]);
    ck_assert_int_eq(plat_set_nonblock(p[0]), TERN_EIO);
}
END_TEST

/* ---- fd watchers ---- */

START_TEST(test_loop_pipe_readable_dispatches_once_with_read)
{
    struct mem m;
    struct loop *l = new_loop(&m);
    int p[2];
    make_pipe(p);
    struct hit h = { 0 };
    ck_assert_int_eq(loop_watch(l, p[0], PLAT_READ, on_io, &h), TERN_OK);
    ck_assert_int_eq(loop_run_once(l, 0), 0);
    ck_assert_int_eq(h.calls, 0);
    put_byte(p[1]);
    ck_assert_int_eq(loop_run_once(l, 1000), 1);
    ck_assert_int_eq(h.calls, 1);
    ck_assert_int_eq(h.fd, p[0]);
    ck_assert_uint_eq(h.mask, PLAT_READ);
    loop_unwatch(l, p[0]);
    close(p[0]);
    close(p[1]);
    free_loop(&m, l);
}
END_TEST

START_TEST(test_loop_write_interest_on_socketpair_fires_write)
{
    struct mem m;
    struct loop *l = new_loop(&m);
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct hit h = { 0 };
    ck_assert_int_eq(loop_watch(l, sv[0], PLAT_WRITE, on_io, &h), TERN_OK);
    ck_assert_int_eq(loop_run_once(l, 1000), 1);
    ck_assert_int_eq(h.calls, 1);
    ck_assert_uint_eq(h.mask, PLAT_WRITE);
    loop_unwatch(l, sv[0]);
    close(sv[0]);
    close(sv[1]);
    free_loop(&m, l);
}
END_TEST

START_TEST(test_loop_peer_close_gives_read_eof_and_err)
{
    struct mem m;
    struct loop *l = new_loop(&m);
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct hit h = { 0 };
    ck_assert_int_eq(loop_watch(l, sv[0], PLAT_READ, on_io, &h), TERN_OK);
    close(sv[1]);
    ck_assert_int_eq(loop_run_once(l, 1000), 1);
    ck_assert_int_eq(h.calls, 1);
    ck_assert(h.mask & PLAT_READ);
    ck_assert(h.mask & PLAT_ERR);
    char c;
    ck_assert_int_eq(read(sv[0], &c, 1), 0);
    loop_unwatch(l, sv[0]);
    close(sv[0]);
    free_loop(&m, l);
}
END_TEST

START_TEST(test_loop_pipe_writer_close_gives_read_eof)
{
    struct mem m;
    struct loop *l = new_loop(&m);
    int p[2];
    make_pipe(p);
    struct hit h = { 0 };
    ck_assert_int_eq(loop_watch(l, p[0], PLAT_READ, on_io, &h), TERN_OK);
    close(p[1]);
    ck_assert_int_eq(loop_run_once(l, 1000), 1);
    ck_assert(h.mask & PLAT_READ);
    ck_assert(h.mask & PLAT_ERR);
    char c;
    ck_assert_int_eq(read(p[0], &c, 1), 0);
    loop_unwatch(l, p[0]);
    close(p[0]);
    free_loop(&m, l);
}
END_TEST

/* Two pipes whose callbacks each unwatch the other: only one may run per batch. */
struct pair_ctx {
    int calls;
    int other_fd[2];    /* indexed by which of the two is called */
    int fd[2];
};

static void on_io_unwatch_other(struct loop *l, int fd, uint32_t mask, void *data)
{
    struct pair_ctx *c = data;
    c->calls++;
    loop_unwatch(l, fd == c->fd[0] ? c->fd[1] : c->fd[0]);
}

START_TEST(test_loop_unwatch_in_callback_suppresses_pending_event)
{
    struct mem m;
    struct loop *l = new_loop(&m);
    int a[2];
    int b[2];
    make_pipe(a);
    make_pipe(b);
    put_byte(a[1]);
    put_byte(b[1]);
    struct pair_ctx c = { .fd = { a[0], b[0] } };
    ck_assert_int_eq(loop_watch(l, a[0], PLAT_READ, on_io_unwatch_other, &c), TERN_OK);
    ck_assert_int_eq(loop_watch(l, b[0], PLAT_READ, on_io_unwatch_other, &c), TERN_OK);
    ck_assert_int_eq(loop_run_once(l, 1000), 1);
    ck_assert_int_eq(c.calls, 1);
    loop_unwatch(l, a[0]);
    loop_unwatch(l, b[0]);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    free_loop(&m, l);
}
END_TEST

/* Whichever of two ready pipes runs first closes the other and reuses its fd number. */
struct reuse_ctx {
    struct hit fresh;
    int old_calls;
    int rd[2];
    int wr[2];
    int new_pipe[2];
};

static void on_io_reuse_other(struct loop *l, int fd, uint32_t mask, void *data)
{
    struct reuse_ctx *c = data;
    c->old_calls++;
    int victim = fd == c->rd[0] ? 1 : 0;
    int victim_fd = c->rd[victim];
    loop_unwatch(l, victim_fd);
    close(victim_fd);
    make_pipe(c->new_pipe);
    ck_assert_int_eq(c->new_pipe[0], victim_fd);
    put_byte(c->new_pipe[1]);
    ck_assert_int_eq(loop_watch(l, c->new_pipe[0], PLAT_READ, on_io, &c->fresh), TERN_OK);
    c->rd[victim] = -1;
}

START_TEST(test_loop_fd_reused_in_same_batch_gets_no_stale_event)
{
    struct mem m;
    struct loop *l = new_loop(&m);
    int a[2];
    int b[2];
    make_pipe(a);
    make_pipe(b);
    put_byte(a[1]);
    put_byte(b[1]);
    struct reuse_ctx c = { .rd = { a[0], b[0] }, .wr = { a[1], b[1] } };
    ck_assert_int_eq(loop_watch(l, a[0], PLAT_READ, on_io_reuse_other, &c), TERN_OK);
    ck_assert_int_eq(loop_watch(l, b[0], PLAT_READ, on_io_reuse_other, &c), TERN_OK);
    ck_assert_int_eq(loop_run_once(l, 1000), 1);
    ck_assert_int_eq(c.old_calls, 1);
    ck_assert_int_eq(c.fresh.calls, 0);
    int survivor = c.rd[0] >= 0 ? c.rd[0] : c.rd[1];
    char ch;
    ck_assert_int_eq(read(survivor, &ch, 1), 1);
    /* The new pipe is readable: it is reported on the next iteration. */
    ck_assert_int_eq(loop_run_once(l, 1000), 1);
    ck_assert_int_eq(c.fresh.calls, 1);
    ck_assert_int_eq(c.fresh.fd, c.new_pipe[0]);
    loop_unwatch(l, survivor);
    loop_unwatch(l, c.new_pipe[0]);
    close(survivor);
    close(c.new_pipe[0]);
    close(c.new_pipe[1]);
    close(a[1]);
    close(b[1]);
    free_loop(&m, l);
}
END_TEST

START_TEST(test_loop_modify_to_zero_stops_events)
{
    struct mem m;
    struct loop *l = new_loop(&m);
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    put_byte(sv[1]);
    struct hit h = { 0 };
    ck_assert_int_eq(loop_watch(l, sv[0], PLAT_READ, on_io, &h), TERN_OK);
    ck_assert_int_eq(loop_run_once(l, 0), 1);
    ck_assert_int_eq(loop_modify(l, sv[0], 0), TERN_OK);
    ck_assert_int_eq(loop_run_once(l, 0), 0);
    /* Not even a hang-up reaches an fd with no interest. */
    close(sv[1]);
    ck_assert_int_eq(loop_run_once(l, 0), 0);
    ck_assert_int_eq(h.calls, 1);
    ck_assert_int_eq(loop_modify(l, sv[0], PLAT_READ), TERN_OK);
    ck_assert_int_eq(loop_run_once(l, 0), 1);
    ck_assert_int_eq(h.calls, 2);
    loop_unwatch(l, sv[0]);
    close(sv[0]);
    free_loop(&m, l);
}
END_TEST

START_TEST(test_loop_watch_with_zero_mask_then_modify_enables)
{
    struct mem m;
    struct loop *l = new_loop(&m);
    int p[2];
    make_pipe(p);
    put_byte(p[1]);
    struct hit h = { 0 };
    ck_assert_int_eq(loop_watch(l, p[0], 0, on_io, &h), TERN_OK);
    ck_assert_int_eq(loop_run_once(l, 0), 0);
    ck_assert_int_eq(loop_modify(l, p[0], PLAT_READ | PLAT_WRITE), TERN_OK);
    ck_assert_int_eq(loop_run_once(l, 0), 1);
    ck_assert_uint_eq(h.mask, PLAT_READ);
    loop_unwatch(l, p[0]);
    close(p[0]);
    close(p[1]);
    free_loop(&m, l);
}
END_TEST

START_TEST(test_loop_modify_with_unchanged_mask_makes_no_system_call)
{
    struct mem m;
    struct loop *l = new_loop(&m);
    int p[2];
    make_pipe(p);
    struct hit h = { 0 };
    ck_assert_int_eq(loop_watch(l, p[0], PLAT_READ, on_io, &h), TERN_OK);
    /* With the fd closed, any epoll_ctl would now fail with EBADF. */
    int fd = p[0];
    close(fd);
    ck_assert_int_eq(loop_modify(l, fd, PLAT_READ), TERN_OK);
    loop_unwatch(l, fd);
    ck_assert_int_eq(loop_modify(l, fd, PLAT_READ), TERN_ENOTFOUND);
    close(p[1]);
    free_loop(&m, l);
}
END_TEST

START_TEST(test_loop_rejects_bad_arguments)
{
    struct mem m;
    struct loop *l = new_loop(&m);
    struct hit h = { 0 };
    ck_assert_int_eq(loop_watch(l, -1, PLAT_READ, on_io, &h), TERN_EINVAL);
    ck_assert_int_eq(loop_watch(l, 0, PLAT_READ, NULL, &h), TERN_EINVAL);
    ck_assert_int_eq(loop_watch(l, 0, PLAT_ERR, on_io, &h), TERN_EINVAL);
    ck_assert_int_eq(loop_modify(l, 12345, PLAT_READ), TERN_ENOTFOUND);
    loop_unwatch(l, 12345);
    free_loop(&m, l);
}
END_TEST

START_TEST(test_loop_many_fds_with_half_unwatched_dispatch_the_rest)
{
    enum { N = 200 };
    struct mem m;
    struct loop *l = new_loop(&m);
    int p[N][2];
    struct hit h[N];
    memset(h, 0, sizeof h);
    for (int i = 0; i < N; i++) {
        make_pipe(p[i]);
        put_byte(p[i][1]);
        ck_assert_int_eq(loop_watch(l, p[i][0], PLAT_READ, on_io, &h[i]), TERN_OK);
    }
    for (int i = 0; i < N; i += 2)
        loop_unwatch(l, p[i][0]);
    ck_assert_int_eq(loop_run_once(l, 1000), N / 2);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(h[i].calls, i % 2);
        if (i % 2)
            ck_assert_int_eq(h[i].fd, p[i][0]);
        loop_unwatch(l, p[i][0]);
        close(p[i][0]);
        close(p[i][1]);
    }
    free_loop(&m, l);
}
END_TEST

/* ---- timers ---- */

struct order {
    uint64_t *fired;
    size_t n;
};

static void on_timer_record(struct loop *l, struct loop_timer *t, void *data)
{
    struct order *o = data;
    o->fired[o->n++] = t->deadline;
}

/* Deadlines spread over [0, loop_now]: all due on the next loop_run_once(l, 0). */
static uint64_t past_deadline(const struct loop *l, unsigned *seed)
{
    uint64_t now = loop_now(l);
    return (uint64_t)rand_r(seed) % (now + 1);
}

START_TEST(test_loop_timers_fire_in_deadline_order)
{
    enum { N = 1000 };
    struct mem m;
    struct loop *l = new_loop(&m);
    struct loop_timer *t = calloc(N, sizeof *t);
    uint64_t *fired = calloc(N, sizeof *fired);
    struct order o = { .fired = fired, .n = 0 };
    unsigned seed = 42;
    for (int i = 0; i < N; i++) {
        loop_timer_init(&t[i], on_timer_record, &o);
        ck_assert_int_eq(loop_timer_start(l, &t[i], past_deadline(l, &seed)), TERN_OK);
        ck_assert(loop_timer_armed(&t[i]));
    }
    ck_assert_int_eq(loop_run_once(l, 0), 0);
    ck_assert_uint_eq(o.n, N);
    for (size_t i = 1; i < o.n; i++)
        ck_assert_uint_le(fired[i - 1], fired[i]);
    for (int i = 0; i < N; i++)
        ck_assert(!loop_timer_armed(&t[i]));
    free(fired);
    free(t);
    free_loop(&m, l);
}
END_TEST

static void on_timer_count(struct loop *l, struct loop_timer *t, void *data)
{
    (*(int *)data)++;
}

START_TEST(test_loop_stopped_timer_does_not_fire)
{
    struct mem m;
    struct loop *l = new_loop(&m);
    int calls = 0;
    struct loop_timer t;
    loop_timer_init(&t, on_timer_count, &calls);
    ck_assert(!loop_timer_armed(&t));
    loop_timer_stop(l, &t);
    ck_assert_int_eq(loop_timer_start(l, &t, loop_now(l)), TERN_OK);
    ck_assert(loop_timer_armed(&t));
    loop_timer_stop(l, &t);
    ck_assert(!loop_timer_armed(&t));
    loop_timer_stop(l, &t);
    ck_assert_int_eq(loop_run_once(l, 0), 0);
    ck_assert_int_eq(calls, 0);
    free_loop(&m, l);
}
END_TEST

struct stopper {
    struct loop_timer first;
    struct loop_timer second;
    int second_calls;
};

static void on_timer_stop_second(struct loop *l, struct loop_timer *t, void *data)
{
    struct stopper *s = data;
    loop_timer_stop(l, &s->second);
}

START_TEST(test_loop_timer_stopped_by_earlier_due_timer_does_not_fire)
{
    struct mem m;
    struct loop *l = new_loop(&m);
    struct stopper s = { .second_calls = 0 };
    loop_timer_init(&s.first, on_timer_stop_second, &s);
    loop_timer_init(&s.second, on_timer_count, &s.second_calls);
    ck_assert_int_eq(loop_timer_start(l, &s.first, loop_now(l) - 2), TERN_OK);
    ck_assert_int_eq(loop_timer_start(l, &s.second, loop_now(l) - 1), TERN_OK);
    loop_run_once(l, 0);
    ck_assert_int_eq(s.second_calls, 0);
    ck_assert(!loop_timer_armed(&s.second));
    free_loop(&m, l);
}
END_TEST

static void on_timer_rearm_self(struct loop *l, struct loop_timer *t, void *data)
{
    (*(int *)data)++;
    ck_assert(!loop_timer_armed(t));
    ck_assert_int_eq(loop_timer_start(l, t, loop_now(l)), TERN_OK);
}

START_TEST(test_loop_timer_rearmed_in_callback_fires_once_per_iteration)
{
    struct mem m;
    struct loop *l = new_loop(&m);
    int calls = 0;
    struct loop_timer t;
    loop_timer_init(&t, on_timer_rearm_self, &calls);
    ck_assert_int_eq(loop_timer_start(l, &t, loop_now(l)), TERN_OK);
    loop_run_once(l, 0);
    ck_assert_int_eq(calls, 1);
    ck_assert(loop_timer_armed(&t));
    loop_run_once(l, 0);
    ck_assert_int_eq(calls, 2);
    loop_timer_stop(l, &t);
    free_loop(&m, l);
}
END_TEST

/* The first timer re-arms the second, still due, to now: it waits for the next iteration. */
static void on_timer_rearm_second(struct loop *l, struct loop_timer *t, void *data)
{
    struct stopper *s = data;
    ck_assert_int_eq(loop_timer_start(l, &s->second, loop_now(l)), TERN_OK);
}

START_TEST(test_loop_due_timer_rearmed_by_another_runs_next_iteration)
{
    struct mem m;
    struct loop *l = new_loop(&m);
    struct stopper s = { .second_calls = 0 };
    loop_timer_init(&s.first, on_timer_rearm_second, &s);
    loop_timer_init(&s.second, on_timer_count, &s.second_calls);
    ck_assert_int_eq(loop_timer_start(l, &s.first, loop_now(l) - 2), TERN_OK);
    ck_assert_int_eq(loop_timer_start(l, &s.second, loop_now(l) - 1), TERN_OK);
    loop_run_once(l, 0);
    ck_assert_int_eq(s.second_calls, 0);
    ck_assert(loop_timer_armed(&s.second));
    loop_run_once(l, 0);
    ck_assert_int_eq(s.second_calls, 1);
    free_loop(&m, l);
}
END_TEST

struct big {
    struct loop_timer *t;
    bool *stopped;
    bool *fired;
    uint64_t last;
    size_t fired_n;
    bool in_order;
};

static void on_timer_big(struct loop *l, struct loop_timer *t, void *data)
{
    struct big *b = data;
    size_t i = (size_t)(t - b->t);
    if (b->fired[i] || b->stopped[i] || t->deadline < b->last)
        b->in_order = false;
    b->fired[i] = true;
    b->last = t->deadline;
    b->fired_n++;
}

START_TEST(test_loop_heap_of_100000_timers_with_random_stops_stays_consistent)
{
    enum { N = 100000 };
    struct mem m;
    struct loop *l = new_loop(&m);
    struct big b = {
        .t = calloc(N, sizeof *b.t),
        .stopped = calloc(N, sizeof *b.stopped),
        .fired = calloc(N, sizeof *b.fired),
        .in_order = true,
    };
    unsigned seed = 7;
    for (size_t i = 0; i < N; i++) {
        loop_timer_init(&b.t[i], on_timer_big, &b);
        ck_assert_int_eq(loop_timer_start(l, &b.t[i], past_deadline(l, &seed)), TERN_OK);
    }
    /* Stop a random third, re-arm a random third (some of them stopped: armed again). */
    size_t expect = N;
    for (size_t k = 0; k < N / 3; k++) {
        size_t i = (size_t)rand_r(&seed) % N;
        if (!b.stopped[i]) {
            loop_timer_stop(l, &b.t[i]);
            b.stopped[i] = true;
            expect--;
        }
        size_t j = (size_t)rand_r(&seed) % N;
        ck_assert_int_eq(loop_timer_start(l, &b.t[j], past_deadline(l, &seed)), TERN_OK);
        if (b.stopped[j]) {
            b.stopped[j] = false;
            expect++;
        }
    }
    loop_run_once(l, 0);
    ck_assert(b.in_order);
    ck_assert_uint_eq(b.fired_n, expect);
    for (size_t i = 0; i < N; i++) {
        ck_assert(b.fired[i] != b.stopped[i]);
        ck_assert(!loop_timer_armed(&b.t[i]));
    }
    free(b.t);
    free(b.stopped);
    free(b.fired);
    free_loop(&m, l);
}
END_TEST

START_TEST(test_loop_future_timer_does_not_fire_early)
{
    struct mem m;
    struct loop *l = new_loop(&m);
    int calls = 0;
    struct loop_timer t;
    loop_timer_init(&t, on_timer_count, &calls);
    ck_assert_int_eq(loop_timer_start(l, &t, loop_now(l) + 60000), TERN_OK);
    ck_assert_int_eq(loop_run_once(l, 0), 0);
    ck_assert_int_eq(calls, 0);
    ck_assert(loop_timer_armed(&t));
    free_loop(&m, l);
    ck_assert(!loop_timer_armed(&t));
}
END_TEST

START_TEST(test_loop_run_once_sleeps_until_timer)
{
    struct mem m;
    struct loop *l = new_loop(&m);
    int calls = 0;
    struct loop_timer t;
    loop_timer_init(&t, on_timer_count, &calls);
    loop_update_time(l);
    uint64_t start = plat_now_us();
    ck_assert_int_eq(loop_timer_start(l, &t, loop_now(l) + 20), TERN_OK);
    /* Bounded: the clock's millisecond rounding may take a second short wait. */
    for (int i = 0; i < 10 && calls == 0; i++)
        ck_assert_int_eq(loop_run_once(l, -1), 0);
    ck_assert_int_eq(calls, 1);
    ck_assert_uint_ge(plat_now_us() - start, 15000);
    ck_assert_uint_ge(loop_now(l), t.deadline);
    free_loop(&m, l);
}
END_TEST

static void wake_hook(struct loop *l, void *data)
{
    loop_wake(l);
}

START_TEST(test_loop_wake_makes_the_next_wait_return_at_once)
{
    struct mem m;
    struct loop *l = new_loop(&m);
    int calls = 0;
    struct loop_timer t;
    loop_timer_init(&t, on_timer_count, &calls);
    loop_update_time(l);
    ck_assert_int_eq(loop_timer_start(l, &t, loop_now(l) + 5000), TERN_OK);
    loop_set_before_sleep(l, wake_hook, NULL);
    uint64_t start = plat_now_us();
    ck_assert_int_eq(loop_run_once(l, -1), 0);
    /* Woken without waiting for the 5 s timer (generous bound for a loaded machine). */
    ck_assert_uint_lt(plat_now_us() - start, 2000000);
    ck_assert_int_eq(calls, 0);
    free_loop(&m, l);
}
END_TEST

static void on_hook(struct loop *l, void *data)
{
    (*(int *)data)++;
}

START_TEST(test_loop_before_sleep_hook_runs_each_iteration)
{
    struct mem m;
    struct loop *l = new_loop(&m);
    int calls = 0;
    loop_set_before_sleep(l, on_hook, &calls);
    for (int i = 0; i < 3; i++)
        loop_run_once(l, 0);
    ck_assert_int_eq(calls, 3);
    loop_set_before_sleep(l, NULL, NULL);
    loop_run_once(l, 0);
    ck_assert_int_eq(calls, 3);
    free_loop(&m, l);
}
END_TEST

START_TEST(test_loop_new_fails_cleanly_under_memory_cap)
{
    struct mem m;
    mem_init(&m, 64);
    ck_assert_ptr_null(loop_new(&m, 16));
    ck_assert_uint_eq(m.used, 0);
}
END_TEST

Suite *loop_suite(void)
{
    Suite *s = suite_create("loop");
    TCase *plat = tcase_create("platform");
    tcase_add_test(plat, test_plat_poller_name_matches_build);
    tcase_add_test(plat, test_plat_poller_rejects_double_add_and_unknown_fd);
    tcase_add_test(plat, test_plat_poller_wait_truncated_to_max_starves_no_fd);
    tcase_add_test(plat, test_plat_clocks_are_sane);
    tcase_add_test(plat, test_plat_sighup_sets_reload_once);
    tcase_add_test(plat, test_plat_fd_limit_never_lowers);
    tcase_add_test(plat, test_plat_set_nonblock_sets_both_flags);
    suite_add_tcase(s, plat);

    TCase *io = tcase_create("io");
    tcase_add_test(io, test_loop_pipe_readable_dispatches_once_with_read);
    tcase_add_test(io, test_loop_write_interest_on_socketpair_fires_write);
    tcase_add_test(io, test_loop_peer_close_gives_read_eof_and_err);
    tcase_add_test(io, test_loop_pipe_writer_close_gives_read_eof);
    tcase_add_test(io, test_loop_unwatch_in_callback_suppresses_pending_event);
    tcase_add_test(io, test_loop_fd_reused_in_same_batch_gets_no_stale_event);
    tcase_add_test(io, test_loop_modify_to_zero_stops_events);
    tcase_add_test(io, test_loop_watch_with_zero_mask_then_modify_enables);
    tcase_add_test(io, test_loop_modify_with_unchanged_mask_makes_no_system_call);
    tcase_add_test(io, test_loop_rejects_bad_arguments);
    tcase_add_test(io, test_loop_many_fds_with_half_unwatched_dispatch_the_rest);
    suite_add_tcase(s, io);

    TCase *tm = tcase_create("timers");
    tcase_set_timeout(tm, 30);
    tcase_add_test(tm, test_loop_timers_fire_in_deadline_order);
    tcase_add_test(tm, test_loop_stopped_timer_does_not_fire);
    tcase_add_test(tm, test_loop_timer_stopped_by_earlier_due_timer_does_not_fire);
    tcase_add_test(tm, test_loop_timer_rearmed_in_callback_fires_once_per_iteration);
    tcase_add_test(tm, test_loop_due_timer_rearmed_by_another_runs_next_iteration);
    tcase_add_test(tm, test_loop_heap_of_100000_timers_with_random_stops_stays_consistent);
    tcase_add_test(tm, test_loop_future_timer_does_not_fire_early);
    tcase_add_test(tm, test_loop_run_once_sleeps_until_timer);
    tcase_add_test(tm, test_loop_wake_makes_the_next_wait_return_at_once);
    tcase_add_test(tm, test_loop_before_sleep_hook_runs_each_iteration);
    tcase_add_test(tm, test_loop_new_fails_cleanly_under_memory_cap);
    suite_add_tcase(s, tm);
    return s;
}
