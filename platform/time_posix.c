/*
 * Monotonic and wall clocks on POSIX clock_gettime.
 *
 * The monotonic clock (CLOCK_MONOTONIC) never goes backwards and ignores wall-clock steps, so
 * deadlines, keepalives and timers use it. Wall time is only for what a user reads: logs, $SYS
 * uptime stamps, persisted expiry dates.
 */
#include <tern/platform.h>

#include <time.h>

static struct timespec read_clock(clockid_t id)
{
    struct timespec ts = { 0, 0 };
    /* clock_gettime cannot fail for these two clocks with a valid pointer. */
    (void)clock_gettime(id, &ts);
    return ts;
}

uint64_t plat_now_ms(void)
{
    struct timespec ts = read_clock(CLOCK_MONOTONIC);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t plat_now_us(void)
{
    struct timespec ts = read_clock(CLOCK_MONOTONIC);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t plat_wall_time(void)
{
    return (int64_t)read_clock(CLOCK_REALTIME).tv_sec;
}

int64_t plat_wall_ms(void)
{
    struct timespec ts = read_clock(CLOCK_REALTIME);
    return (int64_t)ts.tv_sec * 1000 + (int64_t)ts.tv_nsec / 1000000;
}
