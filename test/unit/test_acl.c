/*
 * Unit tests for acl.c: the ACL-file parser (syntax, errors with file:line) and the check, as a
 * table of (user, client id, topic, access) -> allowed cases following Mosquitto 2.0's rules.
 */
#include <check.h>
#include <string.h>

#include "acl.h"
#include "mem.h"
#include "tern/err.h"

static const char ACL_TEXT[] =
    "# anonymous clients\n"
    "topic read public/#\n"
    "topic deny public/secret\n"
    "\n"
    "user alice\n"
    "topic readwrite home/#\n"
    "topic deny home/vault/#\n"
    "topic write cmd/+/set\n"
    "topic read $SYS/broker/#\n"
    "topic with space/x\n"
    "user bob\n"
    "topic read home/+/temp\n"
    "pattern write devices/%c/state\n"
    "pattern read users/%u/#\n"
    "pattern deny users/%u/private\n";

struct acase {
    const char *user;
    const char *id;
    const char *topic;
    unsigned access;
    bool allowed;
};

static const struct acase CASES[] = {
    {NULL, "anon", "public/news", ACL_READ, true},
    {NULL, "anon", "public", ACL_READ, true},              /* public/# matches its parent */
    {NULL, "anon", "public/a/b/c", ACL_READ, true},
    {NULL, "anon", "public/news", ACL_WRITE, false},       /* read-only */
    {NULL, "anon", "public/secret", ACL_READ, false},      /* deny wins over an earlier allow */
    {NULL, "anon", "home/x", ACL_READ, false},
    {NULL, "anon", "devices/anon/state", ACL_WRITE, true}, /* %c pattern */
    {NULL, "anon", "devices/other/state", ACL_WRITE, false},
    {NULL, "anon", "users/anon/x", ACL_READ, false},       /* %u skipped without username */
    {"alice", "a1", "home/kitchen/temp", ACL_READ, true},
    {"alice", "a1", "home/kitchen/temp", ACL_WRITE, true},
    {"alice", "a1", "home", ACL_WRITE, true},
    {"alice", "a1", "home/vault", ACL_READ, false},
    {"alice", "a1", "home/vault/gold", ACL_WRITE, false},
    {"alice", "a1", "cmd/lamp/set", ACL_WRITE, true},
    {"alice", "a1", "cmd/lamp/set", ACL_READ, false},
    {"alice", "a1", "cmd/lamp/x/set", ACL_WRITE, false},   /* + is one level */
    {"alice", "a1", "cmd//set", ACL_WRITE, true},          /* + matches an empty level */
    {"alice", "a1", "public/news", ACL_READ, false},       /* anonymous rules are not hers */
    {"alice", "a1", "$SYS/broker/uptime", ACL_READ, true},
    {"alice", "a1", "with space/x", ACL_WRITE, true},
    {"alice", "a1", "users/alice/inbox", ACL_READ, true},  /* %u pattern */
    {"alice", "a1", "users/alice/private", ACL_READ, false},
    {"alice", "a1", "users/bob/inbox", ACL_READ, false},
    {"alice", "a1", "devices/a1/state", ACL_WRITE, true},
    {"bob", "b1", "home/kitchen/temp", ACL_READ, true},
    {"bob", "b1", "home/kitchen/temp", ACL_WRITE, false},
    {"bob", "b1", "home/kitchen/hum", ACL_READ, false},
    {"bob", "b1", "home/kitchen", ACL_READ, false},
    {"carol", "c1", "home/kitchen/temp", ACL_READ, false}, /* no section: patterns only */
    {"carol", "c1", "users/carol/x", ACL_READ, true},
    {"carol", "c+", "users/carol/x", ACL_READ, false},     /* '+' in client id */
    {"car#", "c1", "users/car#/x", ACL_READ, false},       /* '#' in username */
    {"carol", "c1", "devices/c1/state", ACL_READ, false},  /* write-only pattern */
};

static void load(struct acl *a, struct mem *m)
{
    char err[256];
    int rc = acl_load_string(a, m, "acl", ACL_TEXT, strlen(ACL_TEXT), err, sizeof err);
    ck_assert_msg(rc == TERN_OK, "load failed: %s", err);
}

START_TEST(test_acl_table)
{
    struct mem m;
    mem_init(&m, 0);
    struct acl a;
    load(&a, &m);
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const struct acase *c = &CASES[i];
        bool got = acl_check(&a, c->user, c->id, (const uint8_t *)c->topic, strlen(c->topic),
                             c->access);
        ck_assert_msg(got == c->allowed, "case %zu: user %s id %s %s %s: expected %s", i,
                      c->user ? c->user : "(none)", c->id,
                      c->access == ACL_READ ? "read" : "write", c->topic,
                      c->allowed ? "allowed" : "denied");
    }
    acl_cleanup(&a);
    ck_assert_uint_eq(m.used, 0);
}
END_TEST

START_TEST(test_acl_dollar_topics_need_dollar_rules)
{
    struct mem m;
    mem_init(&m, 0);
    struct acl a;
    const char *text = "topic #\npattern read #\n";
    ck_assert_int_eq(acl_load_string(&a, &m, "acl", text, strlen(text), NULL, 0), TERN_OK);
    ck_assert(acl_check(&a, NULL, "x", (const uint8_t *)"a/b", 3, ACL_WRITE));
    ck_assert(!acl_check(&a, NULL, "x", (const uint8_t *)"$SYS/x", 6, ACL_READ));
    ck_assert(acl_check(&a, "u", "x", (const uint8_t *)"a", 1, ACL_READ));
    ck_assert(!acl_check(&a, "u", "x", (const uint8_t *)"a", 1, ACL_WRITE));
    acl_cleanup(&a);
    ck_assert_uint_eq(m.used, 0);
}
END_TEST

START_TEST(test_acl_empty_file_denies_everything)
{
    struct mem m;
    mem_init(&m, 0);
    struct acl a;
    ck_assert_int_eq(acl_load_string(&a, &m, "acl", "# nothing\n", 10, NULL, 0), TERN_OK);
    ck_assert(!acl_check(&a, NULL, "x", (const uint8_t *)"a", 1, ACL_READ));
    ck_assert(!acl_check(&a, "u", "x", (const uint8_t *)"a", 1, ACL_WRITE));
    acl_cleanup(&a);
}
END_TEST

START_TEST(test_acl_parse_errors_name_file_and_line)
{
    static const struct {
        const char *text;
        const char *want;
    } bad[] = {
        {"topic read a/#\nbogus line\n", "acl:2:"},
        {"user\n", "acl:1:"},
        {"topic read\n", "acl:1:"},
        {"\n\ntopic read a/#/b\n", "acl:3:"},
        {"pattern write a/b#\n", "acl:1:"},
    };
    struct mem m;
    mem_init(&m, 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct acl a;
        char err[256];
        ck_assert_int_eq(acl_load_string(&a, &m, "acl", bad[i].text, strlen(bad[i].text), err,
                                         sizeof err), TERN_ECONF);
        ck_assert_msg(strstr(err, bad[i].want) != NULL, "%s -> %s", bad[i].text, err);
    }
    ck_assert_uint_eq(m.used, 0);
}
END_TEST

START_TEST(test_acl_filter_matching)
{
    static const struct {
        const char *f;
        const char *t;
        bool m;
    } mc[] = {
        {"#", "a/b", true},       {"a/#", "a", true},      {"a/#", "ab", false},
        {"+", "a", true},         {"+", "a/b", false},     {"+/+", "/x", true},
        {"a/+/c", "a/b/c", true}, {"a/+/c", "a/c", false}, {"a/b", "a/b/c", false},
        {"a/b/c", "a/b", false},  {"a/+/#", "a/b", true},  {"a", "a", true},
        {"abc", "ab", false},     {"ab", "abc", false},    {"a/", "a/", true},
    };
    for (size_t i = 0; i < sizeof mc / sizeof mc[0]; i++)
        ck_assert_msg(acl_filter_matches(mc[i].f, strlen(mc[i].f), (const uint8_t *)mc[i].t,
                                         strlen(mc[i].t)) == mc[i].m,
                      "%s vs %s", mc[i].f, mc[i].t);
}
END_TEST

Suite *acl_suite(void)
{
    Suite *s = suite_create("acl");
    TCase *tc = tcase_create("acl");
    tcase_add_test(tc, test_acl_table);
    tcase_add_test(tc, test_acl_dollar_topics_need_dollar_rules);
    tcase_add_test(tc, test_acl_empty_file_denies_everything);
    tcase_add_test(tc, test_acl_parse_errors_name_file_and_line);
    tcase_add_test(tc, test_acl_filter_matching);
    suite_add_tcase(s, tc);
    return s;
}
