/*
 * Unit tests for auth.c: the password-file parser, $6$/$7$ verification against hashes written
 * by Debian's mosquitto_passwd 2.0.11, hash encoding, and the failed-login throttle.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "mem.h"
#include "tern/err.h"

/* Written by mosquitto_passwd 2.0.11: alice/secret ($7$) and carol/hunter2 (-H sha512). */
static const char MOSQ_FILE[] =
    "# a comment\n"
    "alice:$7$101$q/8q83MaIeTA9Kvf$fHvP1e06cU/Fsvn4X/4v9s96upxsFtd1sZf4kXMdxoyDIiaUP7WjmTY0nUH3"
    "PMMrI5xuyfxEe7KsCnALc+zqKA==\n"
    "\n"
    "carol:$6$MoKBM3w5CgYeIl24$lXFQ6J8vVRS7Hkk4czBZqXZVtra1ikZtu2cbFMQ/VY2x9g3pUVcCy/MuhVsDyAjB"
    "0SP+MP6Nt+YD8refJD0aNw==\r\n"
    "no colon here is skipped\n";

#define U(s) (const uint8_t *)(s), strlen(s)

static int load(struct auth_file *a, struct mem *m, const char *text, char *err)
{
    return auth_load_string(a, m, "pw", text, strlen(text), err, 256);
}

START_TEST(test_auth_reads_mosquitto_passwd_pbkdf2_and_sha512)
{
    struct mem m;
    mem_init(&m, 0);
    struct auth_file a;
    char err[256];
    ck_assert_int_eq(load(&a, &m, MOSQ_FILE, err), TERN_OK);
    ck_assert_uint_eq(a.n_users, 2);
    ck_assert_int_eq(auth_check(&a, U("alice"), U("secret")), TERN_OK);
    ck_assert_int_eq(auth_check(&a, U("alice"), U("Secret")), TERN_EPROTO);
    ck_assert_int_eq(auth_check(&a, U("alice"), U("")), TERN_EPROTO);
    ck_assert_int_eq(auth_check(&a, U("carol"), U("hunter2")), TERN_OK);
    ck_assert_int_eq(auth_check(&a, U("carol"), U("hunter")), TERN_EPROTO);
    ck_assert_int_eq(auth_check(&a, U("bob"), U("secret")), TERN_ENOTFOUND);
    ck_assert_int_eq(auth_check(&a, U("alic"), U("secret")), TERN_ENOTFOUND);
    ck_assert_int_eq(auth_check(&a, U("alicee"), U("secret")), TERN_ENOTFOUND);
    auth_cleanup(&a);
    ck_assert_uint_eq(m.used, 0);
}
END_TEST

START_TEST(test_auth_rejects_plain_text_with_file_and_line)
{
    struct mem m;
    mem_init(&m, 0);
    struct auth_file a;
    char err[256];
    ck_assert_int_eq(load(&a, &m, "# x\nbob:plaintext\n", err), TERN_ECONF);
    ck_assert_ptr_nonnull(strstr(err, "pw:2:"));
    ck_assert_ptr_nonnull(strstr(err, "bob"));
    ck_assert_uint_eq(a.n_users, 0);
    ck_assert_uint_eq(m.used, 0);
}
END_TEST

START_TEST(test_auth_rejects_bad_hashes)
{
    static const char *const bad[] = {
        "u:$7$$c2FsdA==$aGFzaA==\n",          /* no iterations */
        "u:$7$0$c2FsdA==$aGFzaA==\n",         /* zero iterations */
        "u:$7$101$c2FsdA==\n",                /* no hash part */
        "u:$7$101$!!!$aGFzaA==\n",            /* bad salt base64 */
        "u:$6$c2FsdA==$aGFzaA==\n",           /* hash not 64 bytes */
        "u:$5$c2FsdA==$aGFzaA==\n",           /* unknown scheme */
        ":$6$c2FsdA==$aGFzaA==\n",            /* empty username */
    };
    struct mem m;
    mem_init(&m, 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct auth_file a;
        char err[256];
        ck_assert_msg(load(&a, &m, bad[i], err) == TERN_ECONF, "accepted %s", bad[i]);
        ck_assert_ptr_nonnull(strstr(err, "pw:1:"));
    }
    ck_assert_uint_eq(m.used, 0);
}
END_TEST

START_TEST(test_auth_encoded_hash_verifies_and_last_line_wins)
{
    struct mem m;
    mem_init(&m, 0);
    char h7[256];
    char h6[256];
    const uint8_t salt[AUTH_SALT_LEN] = "0123456789a";
    ck_assert_int_eq(auth_encode_hash(AUTH_PBKDF2_SHA512, 101, salt, sizeof salt, U("pw1"), h7,
                                      sizeof h7), TERN_OK);
    ck_assert_int_eq(auth_encode_hash(AUTH_SHA512, 0, salt, sizeof salt, U("pw2"), h6,
                                      sizeof h6), TERN_OK);
    ck_assert(strncmp(h7, "$7$101$", 7) == 0);
    ck_assert(strncmp(h6, "$6$", 3) == 0);
    ck_assert(auth_is_hash(h7) && auth_is_hash(h6) && !auth_is_hash("plain"));
    char text[1024];
    snprintf(text, sizeof text, "dave:%s\nzed:%s\ndave:%s\n", h7, h7, h6);
    struct auth_file a;
    char err[256];
    ck_assert_int_eq(load(&a, &m, text, err), TERN_OK);
    ck_assert_uint_eq(a.n_users, 2);
    ck_assert_int_eq(auth_check(&a, U("dave"), U("pw2")), TERN_OK);
    ck_assert_int_eq(auth_check(&a, U("dave"), U("pw1")), TERN_EPROTO);
    ck_assert_int_eq(auth_check(&a, U("zed"), U("pw1")), TERN_OK);
    auth_cleanup(&a);
    ck_assert_uint_eq(m.used, 0);
}
END_TEST

START_TEST(test_auth_throttle_blocks_after_free_failures_and_doubles)
{
    static struct auth_throttle t;
    auth_throttle_init(&t);
    uint64_t block = 0;
    for (uint32_t i = 1; i < AUTH_FAILS_FREE; i++) {
        ck_assert_uint_eq(auth_throttle_fail(&t, "10.0.0.1", 1000 + i, &block), i);
        ck_assert_uint_eq(block, 0);
        ck_assert_uint_eq(auth_throttle_blocked(&t, "10.0.0.1", 1000 + i), 0);
    }
    auth_throttle_fail(&t, "10.0.0.1", 2000, &block);
    ck_assert_uint_eq(block, AUTH_BLOCK_BASE_MS);
    ck_assert_uint_eq(auth_throttle_blocked(&t, "10.0.0.1", 2500), 500);
    ck_assert_uint_eq(auth_throttle_blocked(&t, "10.0.0.2", 2500), 0);
    ck_assert_uint_eq(auth_throttle_blocked(&t, "10.0.0.1", 3000), 0);
    auth_throttle_fail(&t, "10.0.0.1", 3000, &block);
    ck_assert_uint_eq(block, 2 * AUTH_BLOCK_BASE_MS);
    for (int i = 0; i < 40; i++)
        auth_throttle_fail(&t, "10.0.0.1", 4000, &block);
    ck_assert_uint_eq(block, AUTH_BLOCK_MAX_MS);
    auth_throttle_ok(&t, "10.0.0.1");
    ck_assert_uint_eq(auth_throttle_blocked(&t, "10.0.0.1", 4001), 0);
    ck_assert_uint_eq(auth_throttle_fail(&t, "10.0.0.1", 5000, &block), 1);
}
END_TEST

START_TEST(test_auth_throttle_is_bounded_and_forgets)
{
    static struct auth_throttle t;
    auth_throttle_init(&t);
    uint64_t block;
    char addr[32];
    for (int i = 0; i < AUTH_THROTTLE_SLOTS * 2; i++) {
        snprintf(addr, sizeof addr, "10.1.%d.%d", i / 256, i % 256);
        auth_throttle_fail(&t, addr, (uint64_t)i + 1, &block);
    }
    /* The oldest addresses were replaced, the newest kept. */
    ck_assert_uint_eq(auth_throttle_fail(&t, "10.1.1.255", 10000, &block), 2);
    ck_assert_uint_eq(auth_throttle_fail(&t, "10.1.0.0", 10000, &block), 1);
    /* Ten quiet minutes reset the count. */
    ck_assert_uint_eq(auth_throttle_fail(&t, "10.1.1.255", 10000 + AUTH_FORGET_MS + 1, &block),
                      1);
}
END_TEST

Suite *auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("auth");
    tcase_add_test(tc, test_auth_reads_mosquitto_passwd_pbkdf2_and_sha512);
    tcase_add_test(tc, test_auth_rejects_plain_text_with_file_and_line);
    tcase_add_test(tc, test_auth_rejects_bad_hashes);
    tcase_add_test(tc, test_auth_encoded_hash_verifies_and_last_line_wins);
    tcase_add_test(tc, test_auth_throttle_blocks_after_free_failures_and_doubles);
    tcase_add_test(tc, test_auth_throttle_is_bounded_and_forgets);
    suite_add_tcase(s, tc);
    return s;
}
