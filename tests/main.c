/* The test runner: runs every registered test (or those whose name contains argv[1]). */
#include "test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

typedef struct { const char *name, *file; void (*fn)(void); } test_case;
static test_case tests[1024];
static int n_tests, current_failed;

void weft_test_register(const char *name, void (*fn)(void), const char *file) {
    if (n_tests < 1024) tests[n_tests++] = (test_case){name, file, fn};
}

void weft_test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stdout, "    %s:%d: ", file, line);
    vfprintf(stdout, fmt, ap);
    fprintf(stdout, "\n");
    va_end(ap);
    current_failed = 1;
}

const char *weft_test_srcdir(void) { const char *s = getenv("WEFT_SRCDIR"); return s ? s : "."; }
const char *weft_test_builddir(void) { const char *s = getenv("WEFT_BUILDDIR"); return s ? s : "build"; }

int weft_test_sh(const char *cmd, char *out, size_t n) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t len = fread(out, 1, n - 1, p);
    out[len] = 0;
    char rest[4096];
    while (fread(rest, 1, sizeof rest, p) > 0) {}  /* the rest read and dropped: the child never dies of SIGPIPE */
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int by_file_then_name(const void *a, const void *b) {
    const test_case *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : strcmp(x->name, y->name);
}

int main(int argc, char **argv) {
    qsort(tests, (size_t)n_tests, sizeof *tests, by_file_then_name);
    int passed = 0, failed = 0;
    for (int i = 0; i < n_tests; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;
        current_failed = 0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        tests[i].fn();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double dt = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        printf("%s %s (%.2fs)\n", current_failed ? "FAIL" : "ok  ", tests[i].name, dt);
        fflush(stdout);
        if (current_failed) failed++;
        else passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
