/* Unit tests for share.c's pure part: the "$share/GROUP/FILTER" form. */
#include <check.h>
#include <string.h>

#include "share.h"
#include "tern/err.h"

static int parse(const char *f, char *group, char *real)
{
    const uint8_t *g;
    const uint8_t *r;
    size_t gl;
    size_t rl;
    int rc = share_parse((const uint8_t *)f, strlen(f), &g, &gl, &r, &rl);
    if (rc == TERN_OK) {
        memcpy(group, g, gl);
        group[gl] = '\0';
        memcpy(real, r, rl);
        real[rl] = '\0';
    }
    return rc;
}

START_TEST(test_share_parse_splits_group_and_filter)
{
    char g[64];
    char r[64];
    ck_assert_int_eq(parse("$share/workers/jobs/#", g, r), TERN_OK);
    ck_assert_str_eq(g, "workers");
    ck_assert_str_eq(r, "jobs/#");
    ck_assert_int_eq(parse("$share/g/+/x/", g, r), TERN_OK);
    ck_assert_str_eq(r, "+/x/");
    ck_assert_int_eq(parse("$share/g/$SYS/#", g, r), TERN_OK);
    ck_assert_str_eq(r, "$SYS/#");
}
END_TEST

START_TEST(test_share_parse_rejects_bad_forms)
{
    char g[64];
    char r[64];
    ck_assert_int_eq(parse("$share/", g, r), TERN_EINVAL);
    ck_assert_int_eq(parse("$share//a", g, r), TERN_EINVAL);       /* empty group */
    ck_assert_int_eq(parse("$share/g", g, r), TERN_EINVAL);        /* no filter */
    ck_assert_int_eq(parse("$share/g/", g, r), TERN_EINVAL);       /* empty filter */
    ck_assert_int_eq(parse("$share/+/a", g, r), TERN_EINVAL);      /* wildcard group */
    ck_assert_int_eq(parse("$share/g#/a", g, r), TERN_EINVAL);
    ck_assert_int_eq(parse("$sharex/g/a", g, r), TERN_EINVAL);     /* not the prefix */
    ck_assert(!share_is_shared((const uint8_t *)"$shar", 5));
    ck_assert(share_is_shared((const uint8_t *)"$share/g/a", 10));
}
END_TEST

Suite *share_suite(void)
{
    Suite *s = suite_create("share");
    TCase *tc = tcase_create("share");
    tcase_add_test(tc, test_share_parse_splits_group_and_filter);
    tcase_add_test(tc, test_share_parse_rejects_bad_forms);
    suite_add_tcase(s, tc);
    return s;
}
