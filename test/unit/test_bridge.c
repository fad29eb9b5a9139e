/*
 * Unit tests for bridge.c's pure part: routes built from a bridge section and the topic
 * remapping both ways (prefix swap, first matching line wins, direction respected, no match).
 */
#include "bridge.h"

#include <check.h>
#include <string.h>

#include "conf.h"
#include "mem.h"
#include "tern/err.h"

static struct conf c;
static struct mem mem;
static struct bridge_route *routes;
static size_t n_routes;

static void setup_routes(const char *text)
{
    char err[256];
    conf_init(&c);
    mem_init(&mem, 0);
    ck_assert_int_eq(conf_load_string(&c, "t.conf", text, strlen(text), err, sizeof err, NULL,
                                      NULL), TERN_OK);
    ck_assert_int_eq(bridge_routes_build(&mem, &c.bridges[0], &routes, &n_routes), TERN_OK);
}

static void teardown_routes(void)
{
    bridge_routes_free(&mem, routes, n_routes);
    conf_cleanup(&c);
    ck_assert_uint_eq(mem.used, 0);
}

/* Maps topic in direction dir; returns the result as a NUL-terminated string in out, or
 * "(none)". */
static const char *map(unsigned dir, const char *topic, char *out, size_t outlen)
{
    struct mqtt_str head;
    struct mqtt_str tail;
    if (!bridge_map(routes, n_routes, dir, (const uint8_t *)topic, strlen(topic), &head, &tail))
        return "(none)";
    ck_assert_uint_lt(head.len + tail.len, outlen);
    memcpy(out, head.p, head.len);
    memcpy(out + head.len, tail.p, tail.len);
    out[head.len + tail.len] = '\0';
    return out;
}

static const char *const SECTION =
    "connection up\n"
    "address 127.0.0.1\n"
    "topic sensors/# out 1 gw/ site1/\n"
    "topic cmd/+ in 1 gw/ site1/\n"
    "topic both/# both 0\n"
    "topic \"\" both 2 local/exact remote/other\n";

START_TEST(test_bridge_routes_hold_full_filters)
{
    setup_routes(SECTION);
    ck_assert_uint_eq(n_routes, 4);
    ck_assert_str_eq(routes[0].local, "gw/sensors/#");
    ck_assert_str_eq(routes[0].remote, "site1/sensors/#");
    ck_assert_uint_eq(routes[0].local_prefix_len, 3);
    ck_assert_uint_eq(routes[0].remote_prefix_len, 6);
    ck_assert_str_eq(routes[2].local, "both/#");
    ck_assert_str_eq(routes[3].local, "local/exact");
    ck_assert_str_eq(routes[3].remote, "remote/other");
    teardown_routes();
}
END_TEST

START_TEST(test_bridge_map_swaps_prefixes_both_ways)
{
    char buf[128];
    setup_routes(SECTION);
    ck_assert_str_eq(map(CONF_BRIDGE_OUT, "gw/sensors/temp", buf, sizeof buf),
                     "site1/sensors/temp");
    ck_assert_str_eq(map(CONF_BRIDGE_OUT, "gw/sensors/a/b/c", buf, sizeof buf),
                     "site1/sensors/a/b/c");
    ck_assert_str_eq(map(CONF_BRIDGE_IN, "site1/cmd/reboot", buf, sizeof buf), "gw/cmd/reboot");
    ck_assert_str_eq(map(CONF_BRIDGE_OUT, "both/x", buf, sizeof buf), "both/x");
    ck_assert_str_eq(map(CONF_BRIDGE_IN, "both/x", buf, sizeof buf), "both/x");
    /* An empty pattern: the prefixes are the whole topics. */
    ck_assert_str_eq(map(CONF_BRIDGE_OUT, "local/exact", buf, sizeof buf), "remote/other");
    ck_assert_str_eq(map(CONF_BRIDGE_IN, "remote/other", buf, sizeof buf), "local/exact");
    teardown_routes();
}
END_TEST

START_TEST(test_bridge_map_respects_direction_and_filters)
{
    char buf[128];
    setup_routes(SECTION);
    /* sensors is out only, cmd in only. */
    ck_assert_str_eq(map(CONF_BRIDGE_IN, "site1/sensors/temp", buf, sizeof buf), "(none)");
    ck_assert_str_eq(map(CONF_BRIDGE_OUT, "gw/cmd/reboot", buf, sizeof buf), "(none)");
    /* + matches one level only; the prefix must match as written. */
    ck_assert_str_eq(map(CONF_BRIDGE_IN, "site1/cmd/a/b", buf, sizeof buf), "(none)");
    ck_assert_str_eq(map(CONF_BRIDGE_OUT, "sensors/temp", buf, sizeof buf), "(none)");
    ck_assert_str_eq(map(CONF_BRIDGE_OUT, "other", buf, sizeof buf), "(none)");
    teardown_routes();
}
END_TEST

START_TEST(test_bridge_map_first_matching_line_wins)
{
    char buf[128];
    setup_routes("connection up\naddress h\n"
                 "topic a/# out 0 \"\" first/\n"
                 "topic a/b out 0 \"\" second/\n");
    ck_assert_str_eq(map(CONF_BRIDGE_OUT, "a/b", buf, sizeof buf), "first/a/b");
    teardown_routes();
}
END_TEST

Suite *bridge_suite(void)
{
    Suite *s = suite_create("bridge");
    TCase *tc = tcase_create("routes");
    tcase_add_test(tc, test_bridge_routes_hold_full_filters);
    tcase_add_test(tc, test_bridge_map_swaps_prefixes_both_ways);
    tcase_add_test(tc, test_bridge_map_respects_direction_and_filters);
    tcase_add_test(tc, test_bridge_map_first_matching_line_wins);
    suite_add_tcase(s, tc);
    return s;
}
