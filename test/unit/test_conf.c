/*
 * Unit tests for conf.c: Mosquitto 2.0 defaults, every implemented key, listener scope, the
 * exact "NAME:LINE: reason" error texts, unsupported-option warnings, include_dir order and
 * error locations, and the line syntax (comments, CRLF, long lines). Runs from the repo root.
 */
#include "conf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tern/err.h"

#define MAX_WARNINGS 16

struct warnings {
    int n;
    char msg[MAX_WARNINGS][512];
};

static void collect_warning(void *ctx, const char *message)
{
    struct warnings *w = ctx;
    if (w->n < MAX_WARNINGS) {
        snprintf(w->msg[w->n], sizeof w->msg[0], "%s", message);
    }
    w->n++;
}

static struct conf c;
static char err[512];
static struct warnings warns;

static void setup(void)
{
    conf_init(&c);
    memset(err, 0, sizeof err);
    memset(&warns, 0, sizeof warns);
}

static void teardown(void)
{
    conf_cleanup(&c);
}

/* Loads text as "t.conf" into the fixture's struct conf. */
static int load(const char *text)
{
    return conf_load_string(&c, "t.conf", text, strlen(text), err, sizeof err,
                            collect_warning, &warns);
}

/* Loads text and expects TERN_ECONF with exactly the message want. */
static void expect_error(const char *text, const char *want)
{
    ck_assert_int_eq(load(text), TERN_ECONF);
    ck_assert_str_eq(err, want);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* Makes a fresh temp dir; caller removes it with remove_tree. */
static void make_temp_dir(char *tmpl)
{
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
}

static void remove_tree(const char *dir, const char *const *names, size_t n)
{
    char path[512];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* ---- defaults ---- */

START_TEST(test_conf_defaults_match_mosquitto)
{
    ck_assert_ptr_null(c.listeners);
    ck_assert_uint_eq(c.n_listeners, 0);
    ck_assert(!c.allow_anonymous);
    ck_assert(!c.allow_anonymous_set);
    ck_assert_int_eq(c.max_queued_messages, 1000);
    ck_assert_int_eq(c.max_queued_bytes, 0);
    ck_assert_int_eq(c.max_inflight_messages, 20);
    ck_assert_uint_eq(c.message_size_limit, 0);
    ck_assert_int_eq(c.max_connections, -1);
    ck_assert_uint_eq(c.max_keepalive, 65535);
    ck_assert_int_eq(c.sys_interval, 10);
    ck_assert_int_eq(c.persistent_client_expiration, 0);
    ck_assert(c.retain_available);
    ck_assert(!c.queue_qos0_messages);
    ck_assert_uint_eq(c.log_dest, CONF_LOG_STDERR);
    ck_assert(!c.log_dest_set);
    ck_assert_ptr_null(c.log_file);
    ck_assert_uint_eq(c.log_type, CONF_LOGT_ERROR | CONF_LOGT_WARNING | CONF_LOGT_NOTICE |
                                      CONF_LOGT_INFORMATION);
    ck_assert(!c.log_type_set);
    ck_assert(c.connection_messages);
    ck_assert(!c.persistence);
    ck_assert_ptr_null(c.persistence_location);
    ck_assert_ptr_null(c.password_file);
    ck_assert_ptr_null(c.acl_file);
    ck_assert_int_eq(c.autosave_interval, 1800);
}
END_TEST

START_TEST(test_conf_empty_input_keeps_defaults)
{
    ck_assert_int_eq(load(""), TERN_OK);
    ck_assert_uint_eq(c.n_listeners, 0);
    ck_assert_int_eq(c.max_queued_messages, 1000);
    ck_assert_int_eq(warns.n, 0);
}
END_TEST

/* ---- listeners ---- */

START_TEST(test_conf_listener_port_and_address)
{
    ck_assert_int_eq(load("listener 1883 127.0.0.1\nlistener 8883\n"), TERN_OK);
    ck_assert_uint_eq(c.n_listeners, 2);
    ck_assert_uint_eq(c.listeners[0].port, 1883);
    ck_assert_str_eq(c.listeners[0].address, "127.0.0.1");
    ck_assert_int_eq(c.listeners[0].protocol, CONF_PROTO_MQTT);
    ck_assert_int_eq(c.listeners[0].max_connections, -1);
    ck_assert_uint_eq(c.listeners[1].port, 8883);
    ck_assert_ptr_null(c.listeners[1].address);
}
END_TEST

START_TEST(test_conf_listener_port_out_of_range)
{
    expect_error("listener 0\n", "t.conf:1: listener: value 0 out of range (1-65535)");
    expect_error("\nlistener 65536\n", "t.conf:2: listener: value 65536 out of range (1-65535)");
}
END_TEST

START_TEST(test_conf_listener_missing_port)
{
    expect_error("listener\n", "t.conf:1: listener: missing value (expected PORT [ADDRESS])");
}
END_TEST

START_TEST(test_conf_listener_duplicate_rejected)
{
    expect_error("listener 1883\nlistener 1883\n",
                 "t.conf:2: listener: duplicate listener on port 1883");
}
END_TEST

START_TEST(test_conf_protocol_applies_to_current_listener)
{
    ck_assert_int_eq(load("listener 1883\nlistener 8080\nprotocol websockets\n"
                          "listener 8081\nprotocol http\n"), TERN_OK);
    ck_assert_int_eq(c.listeners[0].protocol, CONF_PROTO_MQTT);
    ck_assert_int_eq(c.listeners[1].protocol, CONF_PROTO_WEBSOCKETS);
    ck_assert_int_eq(c.listeners[2].protocol, CONF_PROTO_HTTP);
}
END_TEST

START_TEST(test_conf_protocol_before_listener_is_error)
{
    expect_error("# x\nprotocol websockets\nlistener 1883\n",
                 "t.conf:2: protocol: no listener defined yet (put it after a 'listener PORT' "
                 "line)");
}
END_TEST

START_TEST(test_conf_protocol_bad_value)
{
    expect_error("listener 1883\nprotocol mqttsn\n",
                 "t.conf:2: protocol: invalid value 'mqttsn' (expected mqtt, websockets or "
                 "http)");
}
END_TEST

START_TEST(test_conf_max_connections_global_and_per_listener)
{
    ck_assert_int_eq(load("max_connections 50\nlistener 1883\nlistener 1884\n"
                          "max_connections 7\n"), TERN_OK);
    ck_assert_int_eq(c.max_connections, 50);
    ck_assert_int_eq(c.listeners[0].max_connections, 50);
    ck_assert_int_eq(c.listeners[1].max_connections, 7);
}
END_TEST

START_TEST(test_conf_max_connections_range)
{
    ck_assert_int_eq(load("listener 1883\nmax_connections -1\n"), TERN_OK);
    ck_assert_int_eq(c.listeners[0].max_connections, -1);
    conf_cleanup(&c);
    expect_error("max_connections -2\n",
                 "t.conf:1: max_connections: value -2 out of range (-1-2147483647)");
}
END_TEST

START_TEST(test_conf_port_and_bind_address_make_default_listener)
{
    ck_assert_int_eq(load("listener 8883\nport 1884\nbind_address 10.0.0.1\n"), TERN_OK);
    ck_assert_uint_eq(c.n_listeners, 2);
    ck_assert_uint_eq(c.listeners[1].port, 1884);
    ck_assert_str_eq(c.listeners[1].address, "10.0.0.1");
    conf_cleanup(&c);
    ck_assert_int_eq(load("bind_address 127.0.0.1\n"), TERN_OK);
    ck_assert_uint_eq(c.n_listeners, 1);
    ck_assert_uint_eq(c.listeners[0].port, 1883);
}
END_TEST

START_TEST(test_conf_protocol_after_port_applies_to_default_listener)
{
    ck_assert_int_eq(load("port 9001\nprotocol websockets\n"), TERN_OK);
    ck_assert_uint_eq(c.n_listeners, 1);
    ck_assert_uint_eq(c.listeners[0].port, 9001);
    ck_assert_int_eq(c.listeners[0].protocol, CONF_PROTO_WEBSOCKETS);
}
END_TEST

START_TEST(test_conf_add_listener_uses_global_max_connections)
{
    ck_assert_int_eq(load("max_connections 9\n"), TERN_OK);
    ck_assert_int_eq(conf_add_listener(&c, 1999, NULL), TERN_OK);
    ck_assert_int_eq(conf_add_listener(&c, 2000, "::1"), TERN_OK);
    ck_assert_uint_eq(c.n_listeners, 2);
    ck_assert_int_eq(c.listeners[0].max_connections, 9);
    ck_assert_ptr_null(c.listeners[0].address);
    ck_assert_str_eq(c.listeners[1].address, "::1");
}
END_TEST

/* ---- global keys ---- */

START_TEST(test_conf_every_global_key_parsed)
{
    const char *text =
        "allow_anonymous true\n"
        "max_queued_messages 0\n"
        "max_queued_bytes 1048576\n"
        "max_inflight_messages 0\n"
        "message_size_limit 268435455\n"
        "max_keepalive 60\n"
        "persistent_client_expiration 2d\n"
        "retain_available false\n"
        "queue_qos0_messages true\n"
        "connection_messages false\n"
        "persistence true\n"
        "persistence_location /var/lib/tern/\n"
        "autosave_interval 0\n"
        "password_file /etc/tern/pass words\n"
        "acl_file /etc/tern/acl\n";
    ck_assert_int_eq(load(text), TERN_OK);
    ck_assert(c.allow_anonymous);
    ck_assert(c.allow_anonymous_set);
    ck_assert_int_eq(c.max_queued_messages, 0);
    ck_assert_int_eq(c.max_queued_bytes, 1048576);
    ck_assert_int_eq(c.max_inflight_messages, 0);
    ck_assert_uint_eq(c.message_size_limit, 268435455u);
    ck_assert_uint_eq(c.max_keepalive, 60);
    ck_assert_int_eq(c.persistent_client_expiration, 2 * 86400);
    ck_assert(!c.retain_available);
    ck_assert(c.queue_qos0_messages);
    ck_assert(!c.connection_messages);
    ck_assert(c.persistence);
    ck_assert_str_eq(c.persistence_location, "/var/lib/tern/");
    ck_assert_int_eq(c.autosave_interval, 0);
    ck_assert_str_eq(c.password_file, "/etc/tern/pass words");
    ck_assert_str_eq(c.acl_file, "/etc/tern/acl");
    ck_assert_int_eq(warns.n, 0);
}
END_TEST

START_TEST(test_conf_allow_anonymous_false_is_marked_set)
{
    ck_assert_int_eq(load("allow_anonymous false\n"), TERN_OK);
    ck_assert(!c.allow_anonymous);
    ck_assert(c.allow_anonymous_set);
}
END_TEST

START_TEST(test_conf_persistent_client_expiration_units)
{
    static const struct {
        const char *text;
        long long secs;
    } cases[] = {
        {"persistent_client_expiration 3h\n", 3 * 3600LL},
        {"persistent_client_expiration 1w\n", 7 * 86400LL},
        {"persistent_client_expiration 2m\n", 60 * 86400LL},
        {"persistent_client_expiration 1y\n", 365 * 86400LL},
        {"persistent_client_expiration 3600\n", 3600},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(load(cases[i].text), TERN_OK);
        ck_assert_int_eq(c.persistent_client_expiration, cases[i].secs);
    }
}
END_TEST

START_TEST(test_conf_persistent_client_expiration_bad)
{
    expect_error("persistent_client_expiration 2x\n",
                 "t.conf:1: persistent_client_expiration: '2x' is not a duration (a number "
                 "followed by h, d, w, m or y)");
    expect_error("persistent_client_expiration d\n",
                 "t.conf:1: persistent_client_expiration: 'd' is not a duration (a number "
                 "followed by h, d, w, m or y)");
    ck_assert_int_eq(load("persistent_client_expiration 0d\n"), TERN_ECONF);
    ck_assert_int_eq(load("persistent_client_expiration 99999999999999999y\n"), TERN_ECONF);
}
END_TEST

/* ---- error texts ---- */

START_TEST(test_conf_unknown_key_is_error)
{
    expect_error("listener 1883\n\nno_such_option 1\n",
                 "t.conf:3: unknown option 'no_such_option'");
}
END_TEST

START_TEST(test_conf_bad_number_is_error)
{
    expect_error("max_queued_messages 12abc\n",
                 "t.conf:1: max_queued_messages: '12abc' is not a number");
    expect_error("max_inflight_messages 0x10\n",
                 "t.conf:1: max_inflight_messages: '0x10' is not a number");
    expect_error("max_queued_bytes -\n", "t.conf:1: max_queued_bytes: '-' is not a number");
}
END_TEST

START_TEST(test_conf_bad_bool_is_error)
{
    expect_error("retain_available yes\n",
                 "t.conf:1: retain_available: 'yes' is not a boolean (use true or false)");
    expect_error("allow_anonymous 1\n",
                 "t.conf:1: allow_anonymous: '1' is not a boolean (use true or false)");
    expect_error("persistence True\n",
                 "t.conf:1: persistence: 'True' is not a boolean (use true or false)");
}
END_TEST

START_TEST(test_conf_value_out_of_range_is_error)
{
    expect_error("message_size_limit 268435456\n",
                 "t.conf:1: message_size_limit: value 268435456 out of range (0-268435455)");
    expect_error("max_keepalive 65536\n",
                 "t.conf:1: max_keepalive: value 65536 out of range (0-65535)");
    expect_error("max_inflight_messages -1\n",
                 "t.conf:1: max_inflight_messages: value -1 out of range (0-65535)");
    expect_error("max_queued_bytes 99999999999999999999999\n",
                 "t.conf:1: max_queued_bytes: value 99999999999999999999999 out of range "
                 "(0-9223372036854775807)");
}
END_TEST

START_TEST(test_conf_missing_value_is_error)
{
    expect_error("max_keepalive\n", "t.conf:1: max_keepalive: missing value");
    expect_error("allow_anonymous   \n", "t.conf:1: allow_anonymous: missing value");
    expect_error("password_file\n", "t.conf:1: password_file: missing value");
    expect_error("log_dest file\n", "t.conf:1: log_dest: missing path after 'file'");
}
END_TEST

START_TEST(test_conf_extra_value_is_error)
{
    expect_error("allow_anonymous true false\n",
                 "t.conf:1: allow_anonymous: unexpected extra value 'false'");
    expect_error("max_keepalive 60 # one minute\n",
                 "t.conf:1: max_keepalive: unexpected '#' after the value (comments must be on "
                 "their own line)");
}
END_TEST

START_TEST(test_conf_duplicate_string_is_error)
{
    expect_error("acl_file /a\nacl_file /b\n",
                 "t.conf:2: acl_file: duplicate value (already set to '/a')");
}
END_TEST

START_TEST(test_conf_missing_file_is_error)
{
    struct conf fc;
    conf_init(&fc);
    ck_assert_int_eq(conf_load_file(&fc, "/nonexistent/tern.conf", err, sizeof err, NULL, NULL),
                     TERN_ECONF);
    ck_assert_str_eq(err, "/nonexistent/tern.conf: cannot open: No such file or directory");
    conf_cleanup(&fc);
}
END_TEST

START_TEST(test_conf_error_buffer_truncates_safely)
{
    char small[12];
    ck_assert_int_eq(conf_load_string(&c, "t.conf", "bogus\n", 6, small, sizeof small, NULL,
                                      NULL), TERN_ECONF);
    ck_assert_str_eq(small, "t.conf:1: u");
    ck_assert_int_eq(conf_load_string(&c, "t.conf", "bogus\n", 6, NULL, 0, NULL, NULL),
                     TERN_ECONF);
}
END_TEST

/* ---- unsupported keys ---- */

START_TEST(test_conf_unsupported_keys_warn_and_continue)
{
    const char *text =
        "listener 8883\n"
        "crlfile /etc/crl.pem\n"
        "connection bridge1\n"
        "address 10.0.0.1:1883\n"
        "notifications false\n"
        "topic # both 0\n"
        "bridge_attempt_unsubscribe true\n"
        "sys_interval 0\n"
        "plugin_opt_foo bar\n"
        "max_keepalive 30\n";
    ck_assert_int_eq(load(text), TERN_OK);
    ck_assert_int_eq(warns.n, 4);
    ck_assert_str_eq(warns.msg[0], "t.conf:2: unsupported option 'crlfile' (ignored)");
    ck_assert_str_eq(warns.msg[1], "t.conf:5: unsupported option 'notifications' (ignored)");
    ck_assert_str_eq(warns.msg[2],
                     "t.conf:7: unsupported option 'bridge_attempt_unsubscribe' (ignored)");
    ck_assert_str_eq(warns.msg[3], "t.conf:9: unsupported option 'plugin_opt_foo' (ignored)");
    ck_assert_uint_eq(c.n_bridges, 1);
    ck_assert_uint_eq(c.max_keepalive, 30);
    ck_assert_int_eq(c.sys_interval, 0);
}
END_TEST

START_TEST(test_conf_retry_keys)
{
    ck_assert_int_eq(c.retry_interval, 0);
    ck_assert_int_eq(c.retry_max_interval, 60);
    ck_assert_int_eq(c.max_delivery_attempts, 0);
    ck_assert_int_eq(load("retry_interval 5\nretry_max_interval 120\nmax_delivery_attempts 7\n"),
                     TERN_OK);
    ck_assert_int_eq(warns.n, 0);
    ck_assert_int_eq(c.retry_interval, 5);
    ck_assert_int_eq(c.retry_max_interval, 120);
    ck_assert_int_eq(c.max_delivery_attempts, 7);
    expect_error("max_delivery_attempts 256\n",
                 "t.conf:1: max_delivery_attempts: value 256 out of range (0-255)");
}
END_TEST

START_TEST(test_conf_dead_letter_topic)
{
    ck_assert_ptr_null(c.dead_letter_topic);
    ck_assert_int_eq(load("dead_letter_topic dlq/tern\n"), TERN_OK);
    ck_assert_str_eq(c.dead_letter_topic, "dlq/tern");
    conf_cleanup(&c);
    conf_init(&c);
    expect_error("dead_letter_topic dlq/#\n", "t.conf:1: dead_letter_topic: 'dlq/#' is not a "
                 "topic prefix (no wildcards, at most 1024 bytes)");
}
END_TEST

START_TEST(test_conf_message_expiry_global_listener_and_patterns)
{
    ck_assert_int_eq(c.message_expiry, 0);
    ck_assert_int_eq(load("message_expiry 30\n"
                          "message_expiry 0 keep/#\n"
                          "listener 1883\n"
                          "message_expiry 5\n"
                          "message_expiry 600 slow/+/x\n"
                          "listener 1884\n"), TERN_OK);
    ck_assert_int_eq(c.message_expiry, 30);
    ck_assert_uint_eq(c.n_listeners, 2);
    ck_assert_int_eq(c.listeners[0].message_expiry, 5);     /* listener-scoped */
    ck_assert_int_eq(c.listeners[1].message_expiry, -1);    /* the global value applies */
    ck_assert_uint_eq(c.n_expiry_rules, 2);                 /* patterns are global, in order */
    ck_assert_str_eq(c.expiry_rules[0].filter, "keep/#");
    ck_assert_int_eq(c.expiry_rules[0].seconds, 0);
    ck_assert_str_eq(c.expiry_rules[1].filter, "slow/+/x");
    ck_assert_int_eq(c.expiry_rules[1].seconds, 600);
    ck_assert_int_eq(warns.n, 0);
}
END_TEST

START_TEST(test_conf_message_expiry_errors)
{
    expect_error("message_expiry\n",
                 "t.conf:1: message_expiry: missing value (expected SECONDS [PATTERN])");
    conf_cleanup(&c);
    conf_init(&c);
    expect_error("message_expiry -1\n",
                 "t.conf:1: message_expiry: value -1 out of range (0-315360000)");
    conf_cleanup(&c);
    conf_init(&c);
    expect_error("message_expiry 5 a/#/b\n",
                 "t.conf:1: message_expiry: 'a/#/b' is not a valid topic filter");
    conf_cleanup(&c);
    conf_init(&c);
    expect_error("message_expiry 5 a b\n",
                 "t.conf:1: message_expiry: unexpected extra value 'b'");
}
END_TEST

START_TEST(test_conf_sys_interval_range)
{
    ck_assert_int_eq(load("sys_interval 3\n"), TERN_OK);
    ck_assert_int_eq(c.sys_interval, 3);
    ck_assert_int_eq(warns.n, 0);
    expect_error("sys_interval -1\n", "t.conf:1: sys_interval: value -1 out of range (0-86400)");
}
END_TEST

START_TEST(test_conf_unsupported_without_warn_callback)
{
    ck_assert_int_eq(conf_load_string(&c, "t.conf", "user mosquitto\n", 15, err, sizeof err,
                                      NULL, NULL), TERN_OK);
}
END_TEST

/* ---- logging ---- */

START_TEST(test_conf_log_dest_repeats_and_replaces_default)
{
    ck_assert_int_eq(load("log_dest stdout\nlog_dest syslog\nlog_dest file /var/log/t e.log\n"),
                     TERN_OK);
    ck_assert_uint_eq(c.log_dest, CONF_LOG_STDOUT | CONF_LOG_SYSLOG | CONF_LOG_FILE);
    ck_assert(c.log_dest_set);
    ck_assert_str_eq(c.log_file, "/var/log/t e.log");
}
END_TEST

START_TEST(test_conf_log_dest_none_and_unsupported)
{
    ck_assert_int_eq(load("log_dest topic\nlog_dest dlt\nlog_dest none\n"), TERN_OK);
    ck_assert_uint_eq(c.log_dest, CONF_LOG_NONE);
    ck_assert_int_eq(warns.n, 2);
    ck_assert_str_eq(warns.msg[0], "t.conf:1: unsupported option 'log_dest topic' (ignored)");
    ck_assert_str_eq(warns.msg[1], "t.conf:2: unsupported option 'log_dest dlt' (ignored)");
    expect_error("log_dest stderr\nlog_dest paper\n",
                 "t.conf:2: log_dest: invalid value 'paper' (expected stderr, stdout, file, "
                 "syslog, none, topic or dlt)");
}
END_TEST

START_TEST(test_conf_log_type_repeats_and_replaces_default)
{
    ck_assert_int_eq(load("log_type error\nlog_type subscribe\nlog_type unsubscribe\n"),
                     TERN_OK);
    ck_assert_uint_eq(c.log_type, CONF_LOGT_ERROR | CONF_LOGT_SUBSCRIBE | CONF_LOGT_UNSUBSCRIBE);
    ck_assert(c.log_type_set);
    conf_cleanup(&c);
    ck_assert_int_eq(load("log_type all\n"), TERN_OK);
    ck_assert_uint_eq(c.log_type, CONF_LOGT_ALL);
    conf_cleanup(&c);
    ck_assert_int_eq(load("log_type debug\nlog_type none\nlog_type websockets\n"), TERN_OK);
    ck_assert_uint_eq(c.log_type, CONF_LOGT_WEBSOCKETS);
    expect_error("log_type verbose\n",
                 "t.conf:1: log_type: invalid value 'verbose' (expected error, warning, notice, "
                 "information, debug, subscribe, unsubscribe, websockets, all or none)");
}
END_TEST

/* ---- line syntax ---- */

START_TEST(test_conf_comments_and_blank_lines)
{
    ck_assert_int_eq(load("# a comment\n   # indented comment\n\n\t\n"
                          "max_keepalive 10   \t\n#max_keepalive 20\n"), TERN_OK);
    ck_assert_uint_eq(c.max_keepalive, 10);
}
END_TEST

START_TEST(test_conf_crlf_tolerated)
{
    ck_assert_int_eq(load("# dos file\r\nlistener 1883 127.0.0.1\r\nallow_anonymous true\r\n"
                          "\r\nmax_keepalive 42\r\n"), TERN_OK);
    ck_assert_str_eq(c.listeners[0].address, "127.0.0.1");
    ck_assert(c.allow_anonymous);
    ck_assert_uint_eq(c.max_keepalive, 42);
    conf_cleanup(&c);
    expect_error("\r\nbogus\r\n", "t.conf:2: unknown option 'bogus'");
}
END_TEST

START_TEST(test_conf_last_line_without_newline)
{
    ck_assert_int_eq(load("max_keepalive 11"), TERN_OK);
    ck_assert_uint_eq(c.max_keepalive, 11);
}
END_TEST

START_TEST(test_conf_tabs_separate_key_and_value)
{
    ck_assert_int_eq(load("max_keepalive\t12\n"), TERN_OK);
    ck_assert_uint_eq(c.max_keepalive, 12);
}
END_TEST

START_TEST(test_conf_long_line_is_error)
{
    size_t n = 70 * 1024;
    char *text = malloc(n + 32);
    ck_assert_ptr_nonnull(text);
    strcpy(text, "# ok\npassword_file ");
    size_t off = strlen(text);
    memset(text + off, 'x', n);
    strcpy(text + off + n, "\n");
    ck_assert_int_eq(conf_load_string(&c, "t.conf", text, strlen(text), err, sizeof err, NULL,
                                      NULL), TERN_ECONF);
    ck_assert_str_eq(err, "t.conf:2: line too long (more than 65536 bytes)");
    free(text);
}
END_TEST

START_TEST(test_conf_nul_byte_is_error)
{
    static const char text[] = "max_keepalive 1\nmax_\0keepalive 2\n";
    ck_assert_int_eq(conf_load_string(&c, "t.conf", text, sizeof text - 1, err, sizeof err, NULL,
                                      NULL), TERN_ECONF);
    ck_assert_str_eq(err, "t.conf:2: NUL byte in line");
}
END_TEST

START_TEST(test_conf_keys_are_case_sensitive)
{
    expect_error("Max_Keepalive 10\n", "t.conf:1: unknown option 'Max_Keepalive'");
}
END_TEST

/* ---- include_dir ---- */

START_TEST(test_conf_include_dir_sorted_order)
{
    char dir[] = "/tmp/tern_conf_test_XXXXXX";
    static const char *const names[] = {"b.conf", "A.conf", "a.conf", "00.conf", "skip.txt"};
    char text[256];
    make_temp_dir(dir);
    /* Each file opens a listener; the order of c.listeners is the load order. */
    char path[512];
    static const char *const bodies[] = {"listener 4\n", "listener 2\n", "listener 3\n",
                                         "listener 1\n", "bogus line\n"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        write_file(path, bodies[i]);
    }
    snprintf(text, sizeof text, "listener 9\ninclude_dir %s\n", dir);
    ck_assert_int_eq(load(text), TERN_OK);
    ck_assert_uint_eq(c.n_listeners, 5);
    ck_assert_uint_eq(c.listeners[0].port, 9);
    ck_assert_uint_eq(c.listeners[1].port, 1);
    ck_assert_uint_eq(c.listeners[2].port, 2);
    ck_assert_uint_eq(c.listeners[3].port, 3);
    ck_assert_uint_eq(c.listeners[4].port, 4);
    remove_tree(dir, names, 5);
}
END_TEST

START_TEST(test_conf_include_dir_error_names_included_file)
{
    char dir[] = "/tmp/tern_conf_test_XXXXXX";
    static const char *const names[] = {"10-ok.conf", "20-bad.conf"};
    char path[512];
    char text[256];
    char want[600];
    make_temp_dir(dir);
    snprintf(path, sizeof path, "%s/%s", dir, names[0]);
    write_file(path, "crlfile /x\n");
    snprintf(path, sizeof path, "%s/%s", dir, names[1]);
    write_file(path, "# bad\n\nmax_keepalive many\n");
    snprintf(text, sizeof text, "\ninclude_dir %s/\n", dir);
    ck_assert_int_eq(load(text), TERN_ECONF);
    snprintf(want, sizeof want, "%s/20-bad.conf:3: max_keepalive: 'many' is not a number", dir);
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(warns.n, 1);
    snprintf(want, sizeof want, "%s/10-ok.conf:1: unsupported option 'crlfile' (ignored)", dir);
    ck_assert_str_eq(warns.msg[0], want);
    remove_tree(dir, names, 2);
}
END_TEST

START_TEST(test_conf_include_dir_nested_is_error)
{
    char dir[] = "/tmp/tern_conf_test_XXXXXX";
    static const char *const names[] = {"a.conf"};
    char path[512];
    char text[256];
    char want[600];
    make_temp_dir(dir);
    snprintf(path, sizeof path, "%s/a.conf", dir);
    write_file(path, "include_dir /tmp\n");
    snprintf(text, sizeof text, "include_dir %s\n", dir);
    ck_assert_int_eq(load(text), TERN_ECONF);
    snprintf(want, sizeof want,
             "%s/a.conf:1: include_dir is only valid in the main configuration file", dir);
    ck_assert_str_eq(err, want);
    remove_tree(dir, names, 1);
}
END_TEST

START_TEST(test_conf_include_dir_listener_scope_does_not_leak)
{
    char dir[] = "/tmp/tern_conf_test_XXXXXX";
    static const char *const names[] = {"a.conf"};
    char path[512];
    char text[256];
    make_temp_dir(dir);
    snprintf(path, sizeof path, "%s/a.conf", dir);
    write_file(path, "protocol websockets\n");
    snprintf(text, sizeof text, "listener 1883\ninclude_dir %s\n", dir);
    ck_assert_int_eq(load(text), TERN_ECONF);
    ck_assert_ptr_nonnull(strstr(err, "/a.conf:1: protocol: no listener defined yet"));
    remove_tree(dir, names, 1);
}
END_TEST

START_TEST(test_conf_include_dir_missing_dir_is_error)
{
    expect_error("include_dir /nonexistent/tern.d\n",
                 "t.conf:1: include_dir: cannot open '/nonexistent/tern.d': No such file or "
                 "directory");
}
END_TEST

/* ---- the shipped default config ---- */

START_TEST(test_conf_shipped_tern_conf_parses_cleanly)
{
    ck_assert_int_eq(conf_load_file(&c, "conf/tern.conf", err, sizeof err, collect_warning,
                                    &warns), TERN_OK);
    ck_assert_int_eq(warns.n, 0);
    ck_assert_uint_eq(c.n_listeners, 1);
    ck_assert_uint_eq(c.listeners[0].port, 1883);
    ck_assert_str_eq(c.listeners[0].address, "127.0.0.1");
    ck_assert(c.allow_anonymous);
    ck_assert(c.allow_anonymous_set);
    ck_assert_int_eq(c.max_queued_messages, 1000);
}
END_TEST

START_TEST(test_conf_shipped_tern_conf_defaults_are_the_real_defaults)
{
    /* Uncommenting every "#key value" line of conf/tern.conf must not change anything. */
    FILE *f = fopen("conf/tern.conf", "r");
    ck_assert_ptr_nonnull(f);
    char line[1024];
    size_t cap = 16384;
    size_t len = 0;
    char *text = calloc(1, cap);
    ck_assert_ptr_nonnull(text);
    while (fgets(line, sizeof line, f) != NULL) {
        /* "#key value" (no blank after '#') is a commented-out option; "#key" alone has none. */
        /* Listener-scoped examples (a TLS listener's keys) need their listener line. */
        static const char *const scoped[] = {"certfile", "keyfile", "cafile", "capath",
                                             "require_certificate", "use_identity_as_username",
                                             "tls_version", "ciphers", "http_dir"};
        bool skip = false;
        for (size_t i = 0; i < sizeof scoped / sizeof scoped[0]; i++)
            skip = skip || (strncmp(line + 1, scoped[i], strlen(scoped[i])) == 0 &&
                            line[1 + strlen(scoped[i])] == ' ');
        if (line[0] == '#' && line[1] >= 'a' && line[1] <= 'z' && strchr(line, ' ') != NULL &&
            !skip && strncmp(line + 1, "listener", 8) != 0 && strncmp(line + 1, "port", 4) != 0 &&
            strncmp(line + 1, "protocol", 8) != 0) {
            size_t n = strlen(line + 1);
            ck_assert(len + n + 1 < cap);
            memcpy(text + len, line + 1, n);
            len += n;
        }
    }
    fclose(f);
    struct conf d;
    conf_init(&d);
    ck_assert_int_eq(load(text), TERN_OK);
    ck_assert_int_eq(c.max_queued_messages, d.max_queued_messages);
    ck_assert_int_eq(c.max_queued_bytes, d.max_queued_bytes);
    ck_assert_int_eq(c.max_inflight_messages, d.max_inflight_messages);
    ck_assert_uint_eq(c.message_size_limit, d.message_size_limit);
    ck_assert_uint_eq(c.max_keepalive, d.max_keepalive);
    ck_assert_int_eq(c.max_connections, d.max_connections);
    ck_assert(c.retain_available == d.retain_available);
    ck_assert(c.queue_qos0_messages == d.queue_qos0_messages);
    ck_assert(c.connection_messages == d.connection_messages);
    ck_assert(c.persistence == d.persistence);
    ck_assert(c.allow_anonymous == d.allow_anonymous);
    ck_assert_int_eq(c.autosave_interval, d.autosave_interval);
    ck_assert_int_eq(c.message_expiry, d.message_expiry);
    ck_assert_uint_eq(c.n_expiry_rules, 0);
    ck_assert_uint_eq(c.log_dest, d.log_dest);
    ck_assert_uint_eq(c.log_type, d.log_type);
    free(text);
    conf_cleanup(&d);
}
END_TEST

/* ---- bridge sections ---- */

START_TEST(test_conf_bridge_section_parsed)
{
    const char *text =
        "connection up\n"
        "address 10.0.0.1:1884\n"
        "remote_clientid gw1\n"
        "remote_username u\n"
        "remote_password p\n"
        "cleansession true\n"
        "try_private false\n"
        "keepalive_interval 30\n"
        "restart_timeout 2 20\n"
        "topic sensors/# out 1 gw/ site1/\n"
        "topic cmd/# in 2\n"
        "topic \"\" both 0 a/b c/d\n"
        "bridge_cafile /etc/ssl/my ca.pem\n"
        "bridge_insecure true\n"
        "connection second\n"
        "address example.org\n"
        "topic x\n";
    ck_assert_int_eq(load(text), TERN_OK);
    ck_assert_int_eq(warns.n, 0);
    ck_assert_uint_eq(c.n_bridges, 2);
    const struct conf_bridge *b = &c.bridges[0];
    ck_assert_str_eq(b->name, "up");
    ck_assert_str_eq(b->file, "t.conf");
    ck_assert_uint_eq(b->line, 1);
    ck_assert_str_eq(b->host, "10.0.0.1");
    ck_assert_uint_eq(b->port, 1884);
    ck_assert_str_eq(b->remote_clientid, "gw1");
    ck_assert_str_eq(b->remote_username, "u");
    ck_assert_str_eq(b->remote_password, "p");
    ck_assert(b->cleansession);
    ck_assert(!b->try_private);
    ck_assert_int_eq(b->keepalive, 30);
    ck_assert_int_eq(b->restart_base, 2);
    ck_assert_int_eq(b->restart_cap, 20);
    ck_assert_uint_eq(b->n_topics, 3);
    ck_assert_str_eq(b->topics[0].pattern, "sensors/#");
    ck_assert_uint_eq(b->topics[0].dir, CONF_BRIDGE_OUT);
    ck_assert_uint_eq(b->topics[0].qos, 1);
    ck_assert_str_eq(b->topics[0].local_prefix, "gw/");
    ck_assert_str_eq(b->topics[0].remote_prefix, "site1/");
    ck_assert_uint_eq(b->topics[1].dir, CONF_BRIDGE_IN);
    ck_assert_uint_eq(b->topics[1].qos, 2);
    ck_assert_str_eq(b->topics[1].local_prefix, "");
    ck_assert_str_eq(b->topics[2].pattern, "");
    ck_assert_uint_eq(b->topics[2].dir, CONF_BRIDGE_BOTH);
    ck_assert_str_eq(b->topics[2].local_prefix, "a/b");
    ck_assert_str_eq(b->cafile, "/etc/ssl/my ca.pem");
    ck_assert(b->insecure);
    ck_assert_ptr_null(b->certfile);
    /* Mosquitto's defaults. */
    b = &c.bridges[1];
    ck_assert_str_eq(b->host, "example.org");
    ck_assert_uint_eq(b->port, 1883);
    ck_assert_ptr_null(b->remote_clientid);
    ck_assert(!b->cleansession);
    ck_assert(b->try_private);
    ck_assert_int_eq(b->keepalive, 60);
    ck_assert_int_eq(b->restart_base, 5);
    ck_assert_int_eq(b->restart_cap, 30);
    ck_assert_uint_eq(b->topics[0].dir, CONF_BRIDGE_OUT);
    ck_assert_uint_eq(b->topics[0].qos, 0);
}
END_TEST

START_TEST(test_conf_bridge_errors)
{
    expect_error("address 10.0.0.1\n", "t.conf:1: address: no bridge defined yet (put it after "
                 "a 'connection NAME' line)");
    conf_cleanup(&c);
    expect_error("topic a out\n", "t.conf:1: topic: no bridge defined yet (put it after a "
                 "'connection NAME' line)");
    conf_cleanup(&c);
    expect_error("connection up\ntopic a/# out 1\n", "t.conf:1: connection up: no address given");
    conf_cleanup(&c);
    expect_error("connection up\naddress h\n", "t.conf:1: connection up: no topic given");
    conf_cleanup(&c);
    expect_error("connection up\naddress h\ntopic a/# sideways 1\n",
                 "t.conf:3: topic: direction 'sideways' is not in, out or both");
    conf_cleanup(&c);
    expect_error("connection up\naddress h\ntopic a/# in 3\n",
                 "t.conf:3: topic: QoS '3' is not 0, 1 or 2");
    conf_cleanup(&c);
    expect_error("connection up\naddress h\ntopic a/# in 1 x/\n",
                 "t.conf:3: topic: a local prefix needs a remote prefix too");
    conf_cleanup(&c);
    expect_error("connection up\naddress h\ntopic a/# in 1 x/# y/\n",
                 "t.conf:3: topic: a prefix may not contain + or #");
    conf_cleanup(&c);
    expect_error("connection up\naddress h\ntopic a/#/b in 1\n",
                 "t.conf:3: topic: 'a/#/b' is not a valid topic filter");
    conf_cleanup(&c);
    expect_error("connection up\naddress h:99999\n",
                 "t.conf:2: address: invalid port '99999' (1-65535)");
    conf_cleanup(&c);
    expect_error("connection up\naddress h:1 k:2\n",
                 "t.conf:2: address: only one address per bridge is supported");
    conf_cleanup(&c);
    expect_error("connection up\naddress h\naddress k\n",
                 "t.conf:3: address: duplicate value (already set to 'h')");
    conf_cleanup(&c);
    expect_error("connection up\naddress h\ntopic a\nconnection up\n",
                 "t.conf:4: connection: duplicate bridge name 'up'");
    conf_cleanup(&c);
    expect_error("connection up\naddress h\ntopic a\nbridge_certfile /c.pem\n",
                 "t.conf:1: connection up: bridge_certfile and bridge_keyfile go together");
    conf_cleanup(&c);
    expect_error("connection up\naddress h\ntopic a\nbridge_certfile /c.pem\n"
                 "bridge_keyfile /k.pem\n",
                 "t.conf:1: connection up: a client certificate needs bridge_cafile or "
                 "bridge_capath (TLS)");
    conf_cleanup(&c);
    expect_error("connection up\naddress h\ntopic a\nremote_password p\n",
                 "t.conf:1: connection up: remote_password needs remote_username "
                 "(MQTT 3.1.2.9)");
    conf_cleanup(&c);
    expect_error("bridge_cafile /etc/ca.pem\n", "t.conf:1: bridge_cafile: no bridge defined "
                 "yet (put it after a 'connection NAME' line)");
    conf_cleanup(&c);
    expect_error("connection up\nkeepalive_interval 0\n",
                 "t.conf:2: keepalive_interval: '0' is not a number of seconds (1-65535)");
    conf_cleanup(&c);
    expect_error("connection up\nrestart_timeout 10 5\n",
                 "t.conf:2: restart_timeout: cap '5' must be a number of seconds at least 10");
    conf_cleanup(&c);
    expect_error("connection up\ntry_private yes\n",
                 "t.conf:2: try_private: 'yes' is not a boolean (use true or false)");
}
END_TEST

Suite *conf_suite(void)
{
    Suite *s = suite_create("conf");
    TCase *tc = tcase_create("conf");
    tcase_add_checked_fixture(tc, setup, teardown);

    tcase_add_test(tc, test_conf_defaults_match_mosquitto);
    tcase_add_test(tc, test_conf_empty_input_keeps_defaults);

    tcase_add_test(tc, test_conf_listener_port_and_address);
    tcase_add_test(tc, test_conf_listener_port_out_of_range);
    tcase_add_test(tc, test_conf_listener_missing_port);
    tcase_add_test(tc, test_conf_listener_duplicate_rejected);
    tcase_add_test(tc, test_conf_protocol_applies_to_current_listener);
    tcase_add_test(tc, test_conf_protocol_before_listener_is_error);
    tcase_add_test(tc, test_conf_protocol_bad_value);
    tcase_add_test(tc, test_conf_max_connections_global_and_per_listener);
    tcase_add_test(tc, test_conf_max_connections_range);
    tcase_add_test(tc, test_conf_port_and_bind_address_make_default_listener);
    tcase_add_test(tc, test_conf_protocol_after_port_applies_to_default_listener);
    tcase_add_test(tc, test_conf_add_listener_uses_global_max_connections);

    tcase_add_test(tc, test_conf_every_global_key_parsed);
    tcase_add_test(tc, test_conf_allow_anonymous_false_is_marked_set);
    tcase_add_test(tc, test_conf_persistent_client_expiration_units);
    tcase_add_test(tc, test_conf_persistent_client_expiration_bad);

    tcase_add_test(tc, test_conf_unknown_key_is_error);
    tcase_add_test(tc, test_conf_bad_number_is_error);
    tcase_add_test(tc, test_conf_bad_bool_is_error);
    tcase_add_test(tc, test_conf_value_out_of_range_is_error);
    tcase_add_test(tc, test_conf_missing_value_is_error);
    tcase_add_test(tc, test_conf_extra_value_is_error);
    tcase_add_test(tc, test_conf_duplicate_string_is_error);
    tcase_add_test(tc, test_conf_missing_file_is_error);
    tcase_add_test(tc, test_conf_error_buffer_truncates_safely);

    tcase_add_test(tc, test_conf_unsupported_keys_warn_and_continue);
    tcase_add_test(tc, test_conf_sys_interval_range);
    tcase_add_test(tc, test_conf_retry_keys);
    tcase_add_test(tc, test_conf_dead_letter_topic);
    tcase_add_test(tc, test_conf_bridge_section_parsed);
    tcase_add_test(tc, test_conf_bridge_errors);
    tcase_add_test(tc, test_conf_unsupported_without_warn_callback);

    tcase_add_test(tc, test_conf_log_dest_repeats_and_replaces_default);
    tcase_add_test(tc, test_conf_log_dest_none_and_unsupported);
    tcase_add_test(tc, test_conf_log_type_repeats_and_replaces_default);

    tcase_add_test(tc, test_conf_message_expiry_global_listener_and_patterns);
    tcase_add_test(tc, test_conf_message_expiry_errors);

    tcase_add_test(tc, test_conf_comments_and_blank_lines);
    tcase_add_test(tc, test_conf_crlf_tolerated);
    tcase_add_test(tc, test_conf_last_line_without_newline);
    tcase_add_test(tc, test_conf_tabs_separate_key_and_value);
    tcase_add_test(tc, test_conf_long_line_is_error);
    tcase_add_test(tc, test_conf_nul_byte_is_error);
    tcase_add_test(tc, test_conf_keys_are_case_sensitive);

    tcase_add_test(tc, test_conf_include_dir_sorted_order);
    tcase_add_test(tc, test_conf_include_dir_error_names_included_file);
    tcase_add_test(tc, test_conf_include_dir_nested_is_error);
    tcase_add_test(tc, test_conf_include_dir_listener_scope_does_not_leak);
    tcase_add_test(tc, test_conf_include_dir_missing_dir_is_error);

    tcase_add_test(tc, test_conf_shipped_tern_conf_parses_cleanly);
    tcase_add_test(tc, test_conf_shipped_tern_conf_defaults_are_the_real_defaults);

    suite_add_tcase(s, tc);
    return s;
}
