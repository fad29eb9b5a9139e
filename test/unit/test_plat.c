/*
 * The platform layer's board defaults and its service-manager notification (sd_notify spoken
 * directly): the board table matches the BOARD the test binary was built for and is used by
 * the broker only where the config file is silent; notifications arrive as datagrams on an
 * AF_UNIX socket the test binds itself (a path and an abstract name), the watchdog interval is
 * taken only for this pid, and without NOTIFY_SOCKET nothing is sent.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "broker.h"
#include "conf.h"
#include "tern/err.h"
#include "tern/platform.h"

#ifndef TERN_EXPECT_BOARD
#define TERN_EXPECT_BOARD "linux-generic"
#endif

START_TEST(test_plat_board_is_the_one_built)
{
    const struct plat_board *bd = plat_board();
    ck_assert_ptr_nonnull(bd);
    ck_assert_str_eq(bd->name, TERN_EXPECT_BOARD);
    ck_assert_uint_ge(bd->read_buf, 16u * 1024u);
    ck_assert_int_gt(bd->fd_want, 1024);
    ck_assert(bd->max_connections == -1 || bd->max_connections > 0);
}
END_TEST

/* Loads text into a fresh conf and applies it to a broker carrying only the board. */
static void apply(struct broker *b, struct conf *c, const char *text)
{
    char err[256];
    memset(b, 0, sizeof *b);
    b->board = plat_board();
    conf_init(c);
    ck_assert_int_eq(conf_load_string(c, "t.conf", text, strlen(text), err, sizeof err, NULL,
                                      NULL), TERN_OK);
    broker_apply_limits(b, c);
}

START_TEST(test_plat_board_defaults_apply_where_config_is_silent)
{
    struct broker b;
    struct conf c;
    apply(&b, &c, "allow_anonymous true\n");
    ck_assert_int_eq(b.lim.max_connections, plat_board()->max_connections);
    ck_assert_uint_eq(b.mem.limit, plat_board()->memory_limit);
    conf_cleanup(&c);
}
END_TEST

START_TEST(test_plat_config_overrides_board_defaults)
{
    struct broker b;
    struct conf c;
    apply(&b, &c, "max_connections 7\nmemory_limit 1048576\n");
    ck_assert_int_eq(b.lim.max_connections, 7);
    ck_assert_uint_eq(b.mem.limit, 1048576u);
    conf_cleanup(&c);
    /* An explicit "no limit" wins over a board cap too. */
    apply(&b, &c, "max_connections -1\nmemory_limit 0\n");
    ck_assert_int_eq(b.lim.max_connections, -1);
    ck_assert_uint_eq(b.mem.limit, 0u);
    conf_cleanup(&c);
    /* A listener's own max_connections is per listener; it does not replace the total. */
    apply(&b, &c, "listener 1883\nmax_connections 3\n");
    ck_assert_int_eq(c.listeners[0].max_connections, 3);
    ck_assert_int_eq(b.lim.max_connections, plat_board()->max_connections);
    conf_cleanup(&c);
}
END_TEST

/* ---- sd_notify ---------------------------------------------------------------------------- */

/* A datagram socket bound to a fresh path (or abstract name), with a receive timeout. */
struct listener_sock {
    int fd;
    char dir[64];
    char name[128];
};

static void bind_sock(struct listener_sock *ls, bool abstract)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    socklen_t alen;
    ls->dir[0] = '\0';
    if (abstract) {
        snprintf(ls->name, sizeof ls->name, "@tern-test-notify-%ld", (long)getpid());
        memcpy(sun.sun_path + 1, ls->name + 1, strlen(ls->name) - 1);
        alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(ls->name));
    } else {
        snprintf(ls->dir, sizeof ls->dir, "/tmp/tern-notify-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(ls->dir));
        snprintf(ls->name, sizeof ls->name, "%s/notify", ls->dir);
        memcpy(sun.sun_path, ls->name, strlen(ls->name) + 1);
        alen = (socklen_t)sizeof sun;
    }
    ls->fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    ck_assert_int_ge(ls->fd, 0);
    ck_assert_int_eq(bind(ls->fd, (struct sockaddr *)&sun, alen), 0);
    struct timeval tv = {.tv_sec = 2, .tv_usec = 0};
    ck_assert_int_eq(setsockopt(ls->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", ls->name, 1), 0);
}

static void unbind_sock(struct listener_sock *ls)
{
    close(ls->fd);
    if (ls->dir[0] != '\0') {
        unlink(ls->name);
        rmdir(ls->dir);
    }
}

/* Receives one datagram as a string ("" on timeout). */
static const char *recv_state(struct listener_sock *ls, char *buf, size_t size)
{
    ssize_t n = recv(ls->fd, buf, size - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

START_TEST(test_plat_notify_sends_states_to_a_path_socket)
{
    struct listener_sock ls;
    bind_sock(&ls, false);
    struct plat_notify n;
    ck_assert_int_eq(plat_notify_init(&n), TERN_OK);
    ck_assert_int_ge(n.fd, 0);
    ck_assert_int_eq(plat_notify_send(&n, "READY=1"), TERN_OK);
    ck_assert_int_eq(plat_notify_send(&n, "RELOADING=1\nMONOTONIC_USEC=5"), TERN_OK);
    ck_assert_int_eq(plat_notify_send(&n, "STOPPING=1"), TERN_OK);
    char buf[256];
    ck_assert_str_eq(recv_state(&ls, buf, sizeof buf), "READY=1");
    ck_assert_str_eq(recv_state(&ls, buf, sizeof buf), "RELOADING=1\nMONOTONIC_USEC=5");
    ck_assert_str_eq(recv_state(&ls, buf, sizeof buf), "STOPPING=1");
    plat_notify_cleanup(&n);
    ck_assert_int_eq(n.fd, -1);
    unbind_sock(&ls);
}
END_TEST

START_TEST(test_plat_notify_reaches_an_abstract_socket)
{
    struct listener_sock ls;
    bind_sock(&ls, true);
    struct plat_notify n;
    ck_assert_int_eq(plat_notify_init(&n), TERN_OK);
    ck_assert_int_eq(plat_notify_send(&n, "WATCHDOG=1"), TERN_OK);
    char buf[64];
    ck_assert_str_eq(recv_state(&ls, buf, sizeof buf), "WATCHDOG=1");
    plat_notify_cleanup(&n);
    unbind_sock(&ls);
}
END_TEST

START_TEST(test_plat_notify_without_socket_is_a_no_op)
{
    unsetenv("NOTIFY_SOCKET");
    setenv("WATCHDOG_USEC", "1000000", 1);
    struct plat_notify n;
    ck_assert_int_eq(plat_notify_init(&n), TERN_OK);
    ck_assert_int_eq(n.fd, -1);
    ck_assert_uint_eq(n.watchdog_usec, 0);
    ck_assert_int_eq(plat_notify_send(&n, "READY=1"), TERN_OK);
    plat_notify_cleanup(&n);
}
END_TEST

START_TEST(test_plat_notify_rejects_a_relative_socket_name)
{
    setenv("NOTIFY_SOCKET", "relative/notify", 1);
    struct plat_notify n;
    ck_assert_int_eq(plat_notify_init(&n), TERN_EINVAL);
    ck_assert_int_eq(n.fd, -1);
    ck_assert_int_eq(plat_notify_send(&n, "READY=1"), TERN_OK);
}
END_TEST

START_TEST(test_plat_notify_send_to_a_vanished_socket_fails_without_blocking)
{
    struct listener_sock ls;
    bind_sock(&ls, false);
    struct plat_notify n;
    ck_assert_int_eq(plat_notify_init(&n), TERN_OK);
    unbind_sock(&ls);
    ck_assert_int_eq(plat_notify_send(&n, "READY=1"), TERN_EIO);
    plat_notify_cleanup(&n);
}
END_TEST

START_TEST(test_plat_watchdog_interval_only_for_this_pid)
{
    struct listener_sock ls;
    bind_sock(&ls, false);
    struct plat_notify n;
    char pid[32];
    setenv("WATCHDOG_USEC", "30000000", 1);
    unsetenv("WATCHDOG_PID");
    ck_assert_int_eq(plat_notify_init(&n), TERN_OK);
    ck_assert_uint_eq(n.watchdog_usec, 30000000u);
    plat_notify_cleanup(&n);

    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    ck_assert_int_eq(plat_notify_init(&n), TERN_OK);
    ck_assert_uint_eq(n.watchdog_usec, 30000000u);
    plat_notify_cleanup(&n);

    snprintf(pid, sizeof pid, "%ld", (long)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1);
    ck_assert_int_eq(plat_notify_init(&n), TERN_OK);
    ck_assert_uint_eq(n.watchdog_usec, 0);
    plat_notify_cleanup(&n);

    unsetenv("WATCHDOG_PID");
    setenv("WATCHDOG_USEC", "soon", 1);
    ck_assert_int_eq(plat_notify_init(&n), TERN_OK);
    ck_assert_uint_eq(n.watchdog_usec, 0);
    plat_notify_cleanup(&n);
    unbind_sock(&ls);
}
END_TEST

Suite *plat_suite(void)
{
    Suite *s = suite_create("plat");
    TCase *tc = tcase_create("board");
    tcase_add_test(tc, test_plat_board_is_the_one_built);
    tcase_add_test(tc, test_plat_board_defaults_apply_where_config_is_silent);
    tcase_add_test(tc, test_plat_config_overrides_board_defaults);
    suite_add_tcase(s, tc);
    tc = tcase_create("notify");
    tcase_add_test(tc, test_plat_notify_sends_states_to_a_path_socket);
    tcase_add_test(tc, test_plat_notify_reaches_an_abstract_socket);
    tcase_add_test(tc, test_plat_notify_without_socket_is_a_no_op);
    tcase_add_test(tc, test_plat_notify_rejects_a_relative_socket_name);
    tcase_add_test(tc, test_plat_notify_send_to_a_vanished_socket_fails_without_blocking);
    tcase_add_test(tc, test_plat_watchdog_interval_only_for_this_pid);
    suite_add_tcase(s, tc);
    return s;
}
