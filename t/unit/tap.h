/*
 * NAME
 *   tap.h - a tiny TAP producer for the unit tests
 *
 * SYNOPSIS
 *   test_begin("frame parser, byte by byte");
 *   for (i = 0; i < N(cases); i++)
 *       test_assert_idx(parse(cases[i].in) == cases[i].want, i);
 *   test_end();
 *   ...
 *   return test_exit();
 *
 * DESCRIPTION
 *   One test is the span between test_begin() and test_end(); it prints
 *   "ok N - name", or "not ok N - name (line L, index i)" for its first
 *   failed assertion. Every failed assertion also prints a "#" line with
 *   the expression, so a table test shows all failing rows. test_exit()
 *   prints the plan "1..N" and returns 1 if any test failed (for main).
 *   Header-only: include it from exactly one file per test program.
 */
#ifndef XC_TAP_H
#define XC_TAP_H

#include <stdio.h>

static struct {
    const char *name;       /* current test, NULL between tests */
    int n;                  /* tests finished */
    int failed;             /* tests failed */
    int fail_line;          /* first failure in the current test, or 0 */
    long fail_idx;
} tap_state;

static inline void test_begin(const char *name)
{
    tap_state.name = name;
    tap_state.fail_line = 0;
    tap_state.fail_idx = -1;
}

static inline void test_assert_failed(const char *expr, int line, long idx)
{
    if (idx >= 0)
        printf("#   %s:%d: index %ld: assertion failed: %s\n",
               tap_state.name, line, idx, expr);
    else
        printf("#   %s:%d: assertion failed: %s\n", tap_state.name, line,
               expr);
    if (tap_state.fail_line == 0) {
        tap_state.fail_line = line;
        tap_state.fail_idx = idx;
    }
}

#define test_assert(cond)                                                   \
    do {                                                                    \
        if (!(cond))                                                        \
            test_assert_failed(#cond, __LINE__, -1);                        \
    } while (0)

#define test_assert_idx(cond, i)                                            \
    do {                                                                    \
        if (!(cond))                                                        \
            test_assert_failed(#cond, __LINE__, (long)(i));                 \
    } while (0)

static inline void test_end(void)
{
    tap_state.n++;
    if (tap_state.fail_line == 0) {
        printf("ok %d - %s\n", tap_state.n, tap_state.name);
    } else {
        tap_state.failed++;
        if (tap_state.fail_idx >= 0)
            printf("not ok %d - %s (line %d, index %ld)\n", tap_state.n,
                   tap_state.name, tap_state.fail_line, tap_state.fail_idx);
        else
            printf("not ok %d - %s (line %d)\n", tap_state.n, tap_state.name,
                   tap_state.fail_line);
    }
    tap_state.name = NULL;
    fflush(stdout);
}

static inline int test_exit(void)
{
    printf("1..%d\n", tap_state.n);
    if (tap_state.failed)
        printf("# %d of %d tests failed\n", tap_state.failed, tap_state.n);
    return tap_state.failed ? 1 : 0;
}

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

#endif
