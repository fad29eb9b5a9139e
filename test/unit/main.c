/*
 * One Check runner for every unit suite. The Makefile generates suites.h with one
 * SUITE(module) line per test/unit/test_<module>.c; each such file exports <module>_suite().
 * Fork mode (Check's default) keeps a crash inside one test from ending the run.
 */
#include <check.h>
#include <stdlib.h>

#define SUITE(name) Suite *name##_suite(void);
#include "suites.h"
#undef SUITE

int main(void)
{
    SRunner *sr = srunner_create(NULL);
#define SUITE(name) srunner_add_suite(sr, name##_suite());
#include "suites.h"
#undef SUITE
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
