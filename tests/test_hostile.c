/* The hostile-input catalogue: the `weft` command on inputs built to break it (files in tests/corpus, and
 * arguments), each case asserting the exit status, words of the message and a time bound. And
 * weft under memory limits (prlimit --as): it always exits, with a clear error or a success.
 *
 * Commands run through /bin/sh with $W the weft binary, $C the corpus folder tests/corpus, and $T a
 * scratch folder in the build directory; each under `timeout` so that a hang fails one case, not
 * the suite. OPENBLAS_NUM_THREADS is removed from their environment: weft must not depend on the
 * caller having set it (issue 13, item 1). */
#include "test.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define HOSTILE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HOSTILE_ASAN 1
#endif
#endif
#ifndef HOSTILE_ASAN
#define HOSTILE_ASAN 0
#endif

/* ASan and UBSan make weft several times slower: bounds stretch by this much under them. */
#define SLACK (HOSTILE_ASAN ? 5.0 : 1.0)

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void hostile_env(void) {
    char buf[1200];
    snprintf(buf, sizeof buf, "%s/weft", weft_test_builddir());
    setenv("W", buf, 1);
    snprintf(buf, sizeof buf, "%s/tests/corpus", weft_test_srcdir());
    setenv("C", buf, 1);
    snprintf(buf, sizeof buf, "%s/hostile", weft_test_builddir());
    mkdir(buf, 0777);
    setenv("T", buf, 1);
}

/* Runs `cmd` (sh) under a wall-clock limit of `limit` seconds; its stdout and stderr (together,
 * truncated) go to out. Returns its exit status, 124/137 when it ran past the limit, -1 when it
 * died of a signal; *secs receives the time it took. */
static int hostile_run(const char *cmd, double limit, char *out, size_t len, double *secs) {
    hostile_env();
    char full[4096];
    snprintf(full, sizeof full, "exec env -u OPENBLAS_NUM_THREADS timeout -k 2 %.1f sh -c '%s' 2>&1", limit, cmd);
    fflush(NULL);
    double t0 = mono();
    FILE *p = popen(full, "r");
    if (!p) { snprintf(out, len, "popen failed"); return -2; }
    size_t n = 0;
    char buf[4096];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, p)) > 0) {
        size_t k = r < len - 1 - n ? r : len - 1 - n;
        memcpy(out + n, buf, k);
        n += k;
    }
    out[n] = 0;
    int ws = pclose(p);
    *secs = mono() - t0;
    if (ws == -1) return -2;
    if (WIFSIGNALED(ws)) return -1;
    return WEXITSTATUS(ws);
}

/* ---- the catalogue ---- */

typedef struct {
    const char *name;
    const char *cmd;     /* sh command line over $W, $C, $T */
    int rc;              /* the exit status expected */
    const char *say[3];  /* words the output must contain (NULL: none) */
    double secs;         /* time bound */
} hostile_case;

static const hostile_case catalogue[] = {
    /* issue 13 item 1: OpenBLAS's worker threads spun under a memory limit and exit() joined them */
    {"gpt2 under 300 MB of address space: the error, then exit",
     "prlimit --as=300000000 $W run builtin:gpt2 --arch wse2 --timing-only", 1, {"weft: error:", "cannot allocate"}, 10},
    {"mlp under 150 MB of address space: runs", "prlimit --as=150000000 $W run builtin:mlp --arch mesh-32x32", 0,
     {"cycles"}, 10},
    /* item 3: Resize to a zero-element output sized a 343 GB tap table and aborted */
    {"Resize to a zero-element output", "$W run-ref $C/onnx/crash_resize_zero_output.onnx", 0, {"(0, 1, 1, 4294967296)"}, 5},
    {"Pad whose pads overflow the axis (fuzzer)", "$W run-ref $C/onnx/crash_pad_huge_pads.onnx", 2, {"pads (", "overflow its size"}, 5},
};

static void check_case(const hostile_case *c, int line) {
    char out[8192];
    double secs = 0;
    int rc = hostile_run(c->cmd, c->secs * SLACK + 5, out, sizeof out, &secs);
    if (rc == 124 || rc == 137) {
        weft_test_fail(__FILE__, line, "%s: no exit within %.0f s: %s", c->name, c->secs * SLACK + 5, c->cmd);
        return;
    }
    if (rc != c->rc)
        weft_test_fail(__FILE__, line, "%s: exit status %d, expected %d: %s\n%.600s", c->name, rc, c->rc, c->cmd, out);
    if (secs > c->secs * SLACK)
        weft_test_fail(__FILE__, line, "%s: took %.1f s, bound %.1f s", c->name, secs, c->secs * SLACK);
    for (int k = 0; k < 3; k++)
        if (c->say[k] && !strstr(out, c->say[k]))
            weft_test_fail(__FILE__, line, "%s: the output lacks '%s': %.600s", c->name, c->say[k], out);
    if (strstr(out, "Sanitizer") || strstr(out, "runtime error:") || strstr(out, "internal error"))
        weft_test_fail(__FILE__, line, "%s: crashed: %.600s", c->name, out);
}

TEST(hostile_catalogue) {
    char weft[1024];
    snprintf(weft, sizeof weft, "%s/weft", weft_test_builddir());
    if (access(weft, X_OK)) { weft_test_fail(__FILE__, __LINE__, "%s is not built", weft); return; }
    for (size_t i = 0; i < sizeof catalogue / sizeof *catalogue; i++) {
        /* ASan reserves terabytes of shadow memory: an address-space limit cannot apply to it */
        if (HOSTILE_ASAN && strstr(catalogue[i].cmd, "prlimit --as")) continue;
        check_case(&catalogue[i], __LINE__);
    }
}

/* ---- memory limits ---- */

/* weft under an address-space limit (prlimit --as) at several sizes: it always exits within the
 * bound, with a success or a clear error; never a hang (OpenBLAS's retry loops, issue 13 item 1),
 * never a crash. */
TEST(hostile_memory_limits) {
    if (HOSTILE_ASAN) {
        printf("    (skipped under ASan: its shadow memory needs terabytes of address space)\n");
        return;
    }
    static const char *const cmds[] = {
        "$W run builtin:mlp --arch mesh-32x32",
        "$W run builtin:gpt:layers=1,dim=64,heads=2,vocab=64,seq=32 --arch wse2-mini",
        "$W run-ref builtin:mlp:in=2048,hidden=2048,out=16,batch=1024",
        "$W run-ref builtin:mlp:in=4096,hidden=4096,out=16,batch=4096", /* hung in OpenBLAS's buffer retry at 300 MB */
        "$W train builtin:mlp:in=8,hidden=4,out=2,batch=2 --steps 2",
        "$W run builtin:gpt2 --arch wse2 --timing-only",
    };
    static const long limits_mb[] = {60, 100, 200, 300};
    for (size_t l = 0; l < sizeof limits_mb / sizeof *limits_mb; l++)
        for (size_t c = 0; c < sizeof cmds / sizeof *cmds; c++) {
            char cmd[512], out[8192];
            snprintf(cmd, sizeof cmd, "prlimit --as=%ld %s", limits_mb[l] * 1000000, cmds[c]);
            double secs = 0;
            int rc = hostile_run(cmd, 20, out, sizeof out, &secs);
            bool clean = rc == 0 || ((rc == 1 || rc == 2) && strstr(out, "error"));
            if (!clean || secs > 15)
                weft_test_fail(__FILE__, __LINE__, "%s: exit status %d after %.1f s (expected 0, or 1/2 with an error, within 15 s): %.400s",
                               cmd, rc, secs, out);
        }
}

/* ---- every corpus file through the command ---- */

/* Every file of tests/corpus (ONNX models, machines, graph and program files) given to the
 * command that reads it: exit 0, or 1/2 with "weft: error:" naming the file, within 5 s; the
 * bad_* ones must be refused. */
TEST(hostile_corpus_through_the_command) {
    static const struct { const char *dir, *suffix, *cmd; } kinds[] = {
        {"onnx", ".onnx", "$W inspect %s"},
        {"arch", ".json", "$W arch show %s"},
        {"graph", ".weft", "$W run %s"},
    };
    int n = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        char dir[1100];
        snprintf(dir, sizeof dir, "%s/tests/corpus/%s", weft_test_srcdir(), kinds[k].dir);
        DIR *d = opendir(dir);
        if (!d) { weft_test_fail(__FILE__, __LINE__, "cannot open %s", dir); continue; }
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t len = strlen(e->d_name), sl = strlen(kinds[k].suffix);
            if (len <= sl || strcmp(e->d_name + len - sl, kinds[k].suffix)) continue;
            char file[1400], cmd[3000], out[8192];
            snprintf(file, sizeof file, "$C/%s/%s", kinds[k].dir, e->d_name);
            snprintf(cmd, sizeof cmd, kinds[k].cmd, file);
            double secs = 0;
            int rc = hostile_run(cmd, 5 * SLACK + 5, out, sizeof out, &secs);
            bool bad = !strncmp(e->d_name, "bad_", 4);
            bool refused = (rc == 1 || rc == 2) && strstr(out, "weft: error:") && strstr(out, e->d_name);
            if (!(rc == 0 && !bad) && !refused)
                weft_test_fail(__FILE__, __LINE__, "%s: exit status %d%s: %.400s", cmd, rc, bad ? " (a bad_* file must be refused, naming it)" : "",
                               out);
            if (secs > 5 * SLACK) weft_test_fail(__FILE__, __LINE__, "%s: took %.1f s", cmd, secs);
            if (strstr(out, "Sanitizer") || strstr(out, "runtime error:"))
                weft_test_fail(__FILE__, __LINE__, "%s: crashed: %.400s", cmd, out);
            n++;
        }
        closedir(d);
    }
    CHECK(n >= 90);
}
