/* The test harness: TEST(name) { ... } registers a test; CHECK* print file:line and both values
 * and mark the test failed (the test goes on). The runner (tests/main.c) prints one line per test
 * and ends with "N passed, N failed". */
#ifndef WEFT_TEST_H
#define WEFT_TEST_H

#include "weft.h"

#include <math.h>
#include <stdio.h>

void weft_test_register(const char *name, void (*fn)(void), const char *file);
void weft_test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The directory of the source tree (for tests/data), and the build directory (for outputs). */
const char *weft_test_srcdir(void);
const char *weft_test_builddir(void);
/* Runs cmd in the shell; its stdout (at most n - 1 bytes) in out; its exit status (-1: none). */
int weft_test_sh(const char *cmd, char *out, size_t n);

#define TEST(name)                                                                        \
    static void name(void);                                                               \
    __attribute__((constructor)) static void register_##name(void) {                      \
        weft_test_register(#name, name, __FILE__);                                        \
    }                                                                                     \
    static void name(void)

#define CHECK(c)                                                                          \
    do {                                                                                  \
        if (!(c)) weft_test_fail(__FILE__, __LINE__, "CHECK(%s)", #c);                    \
    } while (0)
#define CHECK_INT(a, b)                                                                   \
    do {                                                                                  \
        long long a_ = (long long)(a), b_ = (long long)(b);                               \
        if (a_ != b_) weft_test_fail(__FILE__, __LINE__, "%s == %s: %lld vs %lld", #a, #b, a_, b_); \
    } while (0)
#define CHECK_NEAR(a, b, tol)                                                             \
    do {                                                                                  \
        double a_ = (double)(a), b_ = (double)(b);                                        \
        if (!(fabs(a_ - b_) <= (tol)))                                                    \
            weft_test_fail(__FILE__, __LINE__, "%s ~ %s: %.9g vs %.9g (tol %g)", #a, #b, a_, b_, (double)(tol)); \
    } while (0)
/* A call that must succeed: prints the error message otherwise. */
#define CHECK_OK(call, errp)                                                              \
    do {                                                                                  \
        weft_status s_ = (call);                                                          \
        if (s_) weft_test_fail(__FILE__, __LINE__, "%s failed: %s", #call, (errp)->msg);  \
    } while (0)

#endif
