/* Tests of bad input: broken ONNX files (tests/corpus/onnx/, written by tests/bad/make_bad.py),
 * the `weft inspect` command on them, and bad calls of the graph API.
 *
 * The rule under test: bad input gets a clear error naming the file, the node (name and op type)
 * or field, and the reason, and a non-zero exit; never a crash, a hang, an unbounded allocation
 * or a silent wrong answer.
 *
 * Every load first runs in a forked child with an alarm (and, outside ASan, a cap on address
 * space), so that a crash, a hang or a huge allocation fails one test instead of the whole run;
 * when the child comes back clean the load is repeated in-process for the assertions (and for
 * LeakSanitizer under `make asan`). */
#include "fuzz/fuzz_common.h"
#include "ir/ir.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define CHILD_SECONDS 20                     /* a load (and a small run) that takes longer hangs */
#define CHILD_EXTRA_AS ((rlim_t)1 << 30)     /* address space a child may add: no big allocation */

static void corpus_path(char *buf, size_t len, const char *file) {
    snprintf(buf, len, "%s/tests/corpus/onnx/%s", weft_test_srcdir(), file);
}

/* Virtual memory in use now, in bytes (0 when unknown). */
static rlim_t vm_size(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (!f) return 0;
    if (fscanf(f, "%lu", &pages) != 1) pages = 0;
    fclose(f);
    return (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE);
}

/* Loads `path` in a child (and, when `run`, runs it as the fuzzer does). Returns 0 when the child
 * came back, with its status in *s and message in msg; else describes the crash in msg. */
static int load_isolated(const char *path, bool run, weft_status *s, char *msg, size_t len) {
    int fds[2];
    if (pipe(fds)) { snprintf(msg, len, "pipe: %s", strerror(errno)); return -1; }
    FILE *errf = tmpfile(); /* the child's stderr: sanitizer reports that do not stop it */
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(msg, len, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        if (errf) fclose(errf);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        if (errf) dup2(fileno(errf), 2);
        alarm(CHILD_SECONDS);
        rlim_t vm = vm_size();
        if (!UNDER_ASAN && vm) {
            struct rlimit rl = {vm + CHILD_EXTRA_AS, vm + CHILD_EXTRA_AS};
            setrlimit(RLIMIT_AS, &rl);
        }
        weft_err err = {0};
        weft_graph *g = NULL;
        weft_status st = weft_onnx_load(path, NULL, 0, &g, &err);
        if (!st && run) {
            weft_status r;
            weft_fuzz_run(g, &r, &err);
        }
        weft_graph_free(g);
        ssize_t w = write(fds[1], &st, sizeof st);
        w += write(fds[1], err.msg, sizeof err.msg);
        close(fds[1]);
        _exit(w == (ssize_t)(sizeof st + sizeof err.msg) ? 0 : 3);
    }
    close(fds[1]);
    weft_status st = WEFT_OK;
    weft_err err = {0};
    size_t got = 0;
    char *dst = (char *)&st;
    while (got < sizeof st) {
        ssize_t r = read(fds[0], dst + got, sizeof st - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    size_t got_msg = 0;
    while (got == sizeof st && got_msg < sizeof err.msg) {
        ssize_t r = read(fds[0], err.msg + got_msg, sizeof err.msg - got_msg);
        if (r <= 0) break;
        got_msg += (size_t)r;
    }
    close(fds[0]);
    err.msg[sizeof err.msg - 1] = 0;
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
    char report[600] = "";
    if (errf) {
        /* pass the child's stderr on, and keep the start of it for the message */
        rewind(errf);
        char buf[4096];
        size_t n, kept = 0;
        while ((n = fread(buf, 1, sizeof buf, errf)) > 0) {
            fwrite(buf, 1, n, stderr);
            if (kept < sizeof report - 1) {
                size_t k = n < sizeof report - 1 - kept ? n : sizeof report - 1 - kept;
                memcpy(report + kept, buf, k);
                kept += k;
                report[kept] = 0;
            }
        }
        fclose(errf);
    }
    if (WIFSIGNALED(ws)) {
        int sig = WTERMSIG(ws);
        snprintf(msg, len, "%s: %s (signal %d)", path,
                 sig == SIGALRM ? "hang: no answer within the time limit" : sig == SIGSEGV ? "crash: segmentation fault"
                 : sig == SIGABRT ? "crash: abort (an assertion or an allocation that failed)" : "crash", sig);
        return -1;
    }
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) || got != sizeof st) {
        snprintf(msg, len, "%s: the loading process failed (exit status %d; a sanitizer report is above)", path,
                 WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
        return -1;
    }
    if (strstr(report, "runtime error:") || strstr(report, "Sanitizer")) {
        snprintf(msg, len, "%s: a sanitizer report: %s", path, report);
        return -1;
    }
    *s = st;
    snprintf(msg, len, "%s", err.msg);
    return 0;
}

/* ---- one test per broken file ---- */

#define ANY_ERROR (-1)

typedef struct {
    const char *file;
    int status;        /* the weft_status expected, or ANY_ERROR */
    const char *node;  /* the node's name, when the error is about a node */
    const char *op;    /* its op type */
    const char *why[2]; /* words the reason must contain */
} bad_case;

static void check_bad(const bad_case *c) {
    char path[1024], msg[1200];
    corpus_path(path, sizeof path, c->file);
    weft_status s = WEFT_OK;
    if (load_isolated(path, false, &s, msg, sizeof msg)) {
        weft_test_fail(__FILE__, __LINE__, "%s", msg);
        return;
    }
    weft_err err = {0};
    weft_graph *g = NULL;
    s = weft_onnx_load(path, NULL, 0, &g, &err);
    if (s == WEFT_OK) {
        weft_test_fail(__FILE__, __LINE__, "%s: loaded, but it must be refused", c->file);
        weft_graph_free(g);
        return;
    }
    CHECK(g == NULL);
    if (c->status != ANY_ERROR && (int)s != c->status)
        weft_test_fail(__FILE__, __LINE__, "%s: status %s, expected %s: %s", c->file, weft_status_name(s),
                       weft_status_name((weft_status)c->status), err.msg);
    if (!strstr(err.msg, path)) weft_test_fail(__FILE__, __LINE__, "the message does not name the file: %s", err.msg);
    if (c->node) {
        char want[256];
        snprintf(want, sizeof want, "node '%s'", c->node);
        if (!strstr(err.msg, want)) weft_test_fail(__FILE__, __LINE__, "the message does not name %s: %s", want, err.msg);
    }
    if (c->op) {
        char want[256];
        snprintf(want, sizeof want, "(%s)", c->op);
        if (!strstr(err.msg, want))
            weft_test_fail(__FILE__, __LINE__, "the message does not name the op type %s: %s", want, err.msg);
    }
    for (int k = 0; k < 2; k++)
        if (c->why[k] && !strstr(err.msg, c->why[k]))
            weft_test_fail(__FILE__, __LINE__, "the message lacks the reason '%s': %s", c->why[k], err.msg);
}

/* X(test name, file, status, node, op, reason word, reason word) */
#define BAD_CASES(X)                                                                                            \
    /* files that are not ONNX models */                                                                         \
    X(bad_onnx_truncated, "bad_truncated.onnx", WEFT_ERR_INVALID, NULL, NULL, "truncated", NULL)                  \
    X(bad_onnx_garbage, "bad_garbage.onnx", WEFT_ERR_INVALID, NULL, NULL, "corrupt", NULL)                        \
    X(bad_onnx_empty_file, "bad_empty.onnx", WEFT_ERR_INVALID, NULL, NULL, "no graph", NULL)                      \
    X(bad_onnx_no_graph, "bad_no_graph.onnx", WEFT_ERR_INVALID, NULL, NULL, "no graph", NULL)                     \
    /* the model header */                                                                                       \
    X(bad_onnx_opset_too_new, "bad_opset_too_new.onnx", WEFT_ERR_UNSUPPORTED, NULL, NULL, "opset 99", NULL)       \
    X(bad_onnx_opset_too_old, "bad_opset_too_old.onnx", WEFT_ERR_UNSUPPORTED, NULL, NULL, "opset 0", NULL)        \
    X(bad_onnx_no_opset, "bad_no_opset.onnx", WEFT_ERR_INVALID, NULL, NULL, "opset", NULL)                        \
    X(bad_onnx_only_custom_domain, "bad_only_custom_domain.onnx", WEFT_ERR_UNSUPPORTED, NULL, NULL, "domain",     \
      "com.example")                                                                                             \
    /* nodes */                                                                                                  \
    X(bad_onnx_unknown_op, "bad_unknown_op.onnx", WEFT_ERR_UNSUPPORTED, "mystery", "FooBar", "unknown", NULL)     \
    X(bad_onnx_custom_domain, "bad_custom_domain.onnx", WEFT_ERR_UNSUPPORTED, "custom0", "Relu", "domain",        \
      "com.example")                                                                                             \
    X(bad_onnx_unsupported_attr, "bad_unsupported_attr.onnx", WEFT_ERR_UNSUPPORTED, "relu0", "Relu",              \
      "'alpha_bogus'", "not supported")                                                                          \
    X(bad_onnx_attr_graph_type, "bad_attr_graph_type.onnx", WEFT_ERR_UNSUPPORTED, "relu0", "Relu", "'body'",      \
      "type")                                                                                                    \
    X(bad_onnx_attr_no_name, "bad_attr_no_name.onnx", WEFT_ERR_INVALID, "relu0", "Relu", "attribute", "name")     \
    X(bad_onnx_node_no_op_type, "bad_node_no_op_type.onnx", ANY_ERROR, "relu0", NULL, "op", NULL)                 \
    X(bad_onnx_arity, "bad_arity.onnx", WEFT_ERR_INVALID, "relu2", "Relu", "2 inputs", NULL)                      \
    X(bad_onnx_add_shape_mismatch, "bad_add_shape_mismatch.onnx", WEFT_ERR_SHAPE, "add0", "Add", "broadcast",     \
      "(4, 5)")                                                                                                  \
    X(bad_onnx_add_dtype_mismatch, "bad_add_dtype_mismatch.onnx", WEFT_ERR_SHAPE, "add0", "Add", "int64",         \
      "float32")                                                                                                 \
    X(bad_onnx_matmul_shape_mismatch, "bad_matmul_shape_mismatch.onnx", WEFT_ERR_SHAPE, "mm0", "MatMul", NULL,    \
      NULL)                                                                                                      \
    X(bad_onnx_missing_initializer, "bad_missing_initializer.onnx", WEFT_ERR_INVALID, "add0", "Add", "'W'",       \
      "not defined")                                                                                             \
    X(bad_onnx_use_before_def, "bad_use_before_def.onnx", WEFT_ERR_INVALID, "first", "Relu", "'a'",               \
      "not defined")                                                                                             \
    X(bad_onnx_cycle, "bad_cycle.onnx", WEFT_ERR_INVALID, "loop_p", "Add", "'q'", "not defined")                  \
    X(bad_onnx_defined_twice, "bad_defined_twice.onnx", WEFT_ERR_INVALID, "second", "Neg", "'y'", NULL)           \
    /* graph inputs and outputs */                                                                               \
    X(bad_onnx_symbolic_dim, "bad_symbolic_dim.onnx", WEFT_ERR_UNSUPPORTED, NULL, NULL, "symbolic", "'batch'")    \
    X(bad_onnx_input_string_dtype, "bad_input_string_dtype.onnx", WEFT_ERR_UNSUPPORTED, NULL, NULL, "'x'",        \
      "data type")                                                                                               \
    X(bad_onnx_input_no_shape, "bad_input_no_shape.onnx", WEFT_ERR_UNSUPPORTED, NULL, NULL, "'x'", "no shape")    \
    X(bad_onnx_input_negative_dim, "bad_input_negative_dim.onnx", WEFT_ERR_SHAPE, NULL, NULL, "'x'", "negative")  \
    X(bad_onnx_input_absurd_dims, "bad_input_absurd_dims.onnx", WEFT_ERR_NOMEM, NULL, NULL, "'x'", "exceeds")     \
    X(bad_onnx_input_no_name, "bad_input_no_name.onnx", WEFT_ERR_INVALID, NULL, NULL, "graph input", "name")      \
    X(bad_onnx_output_never_produced, "bad_output_never_produced.onnx", WEFT_ERR_INVALID, NULL, NULL, "'ghost'",  \
      "never produced")                                                                                          \
    X(bad_onnx_output_shape_mismatch, "bad_output_shape_mismatch.onnx", WEFT_ERR_SHAPE, NULL, NULL,               \
      "declared of shape (3, 2)", "computes (2, 3)")                                                             \
    X(bad_onnx_output_empty_name, "bad_output_empty_name.onnx", WEFT_ERR_INVALID, NULL, NULL, "graph output",     \
      NULL)                                                                                                      \
    X(bad_onnx_output_no_name, "bad_output_no_name.onnx", WEFT_ERR_INVALID, NULL, NULL, "graph output", "name")   \
    /* initializers */                                                                                           \
    X(bad_onnx_init_absurd_dims, "bad_init_absurd_dims.onnx", WEFT_ERR_NOMEM, NULL, NULL, "'huge'", "exceeds")    \
    X(bad_onnx_init_big_short_data, "bad_init_big_short_data.onnx", WEFT_ERR_INVALID, NULL, NULL, "'big'",        \
      "raw_data")                                                                                                \
    X(bad_onnx_init_raw_mismatch, "bad_init_raw_mismatch.onnx", WEFT_ERR_INVALID, NULL, NULL, "'w'", "raw_data")  \
    X(bad_onnx_init_raw_partial, "bad_init_raw_partial.onnx", WEFT_ERR_INVALID, NULL, NULL, "'w'", "partial")     \
    X(bad_onnx_init_float_data_mismatch, "bad_init_float_data_mismatch.onnx", WEFT_ERR_INVALID, NULL, NULL,       \
      "'w'", "float_data")                                                                                       \
    X(bad_onnx_init_negative_dim, "bad_init_negative_dim.onnx", WEFT_ERR_SHAPE, NULL, NULL, "'w'", "negative")    \
    X(bad_onnx_init_rank_too_high, "bad_init_rank_too_high.onnx", WEFT_ERR_UNSUPPORTED, NULL, NULL, "'w'",        \
      "rank")                                                                                                    \
    X(bad_onnx_init_string_dtype, "bad_init_string_dtype.onnx", WEFT_ERR_UNSUPPORTED, NULL, NULL, "'names'",      \
      "data type")                                                                                               \
    X(bad_onnx_init_external, "bad_init_external.onnx", WEFT_ERR_IO, NULL, NULL, "weights.bin", "external")      \
    X(bad_onnx_init_no_name, "bad_init_no_name.onnx", WEFT_ERR_INVALID, NULL, NULL, "initializer", "name")

#define DEFINE_BAD_TEST(name, file, status, node, op, why0, why1)                                               \
    TEST(name) {                                                                                                 \
        static const bad_case c = {file, status, node, op, {why0, why1}};                                        \
        check_bad(&c);                                                                                           \
    }
BAD_CASES(DEFINE_BAD_TEST)

#define LIST_BAD_CASE(name, file, status, node, op, why0, why1) {file, status, node, op, {why0, why1}},
static const bad_case all_bad[] = {BAD_CASES(LIST_BAD_CASE)};

/* ---- files that cannot be read at all ---- */

TEST(bad_onnx_missing_file) {
    char path[1024];
    corpus_path(path, sizeof path, "no_such_file.onnx");
    weft_err err = {0};
    weft_graph *g = NULL;
    CHECK_INT(weft_onnx_load(path, NULL, 0, &g, &err), WEFT_ERR_IO);
    CHECK(g == NULL);
    CHECK(strstr(err.msg, path) != NULL);
    CHECK(strstr(err.msg, "cannot open") != NULL);
}

TEST(bad_onnx_directory) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/corpus/onnx", weft_test_srcdir());
    weft_err err = {0};
    weft_graph *g = NULL;
    CHECK_INT(weft_onnx_load(path, NULL, 0, &g, &err), WEFT_ERR_IO);
    CHECK(g == NULL);
    CHECK(strstr(err.msg, path) != NULL);
}

/* The valid seeds load (Relu and Add exist whatever else lands). */
TEST(bad_onnx_good_seeds_load) {
    const char *good[] = {"good_relu.onnx", "good_add.onnx", "good_add_relu.onnx"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        char path[1024], msg[1200];
        corpus_path(path, sizeof path, good[i]);
        weft_status s;
        if (load_isolated(path, true, &s, msg, sizeof msg)) { weft_test_fail(__FILE__, __LINE__, "%s", msg); continue; }
        weft_err err = {0};
        weft_graph *g = NULL;
        CHECK_OK(weft_onnx_load(path, NULL, 0, &g, &err), &err);
        if (!g) continue;
        weft_status r = WEFT_OK;
        CHECK_INT(weft_fuzz_run(g, &r, &err), 1);
        CHECK_OK(r, &err);
        weft_graph_free(g);
    }
}

/* ---- the command line ---- */

/* Runs `weft inspect FILE`; returns its exit status (-1: killed by a signal) and its stderr. */
static int run_inspect(const char *path, char *errout, size_t len) {
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "exec '%s/weft' inspect '%s' 2>&1 >/dev/null", weft_test_builddir(), path);
    fflush(NULL);
    FILE *p = popen(cmd, "r");
    if (!p) { snprintf(errout, len, "popen failed"); return -2; }
    size_t n = fread(errout, 1, len - 1, p);
    errout[n] = 0;
    int ws = pclose(p);
    if (ws == -1) return -2;
    if (WIFSIGNALED(ws)) return -1;
    return WEXITSTATUS(ws);
}

TEST(bad_onnx_cli_inspect_fails_cleanly) {
    char weft[1024];
    snprintf(weft, sizeof weft, "%s/weft", weft_test_builddir());
    if (access(weft, X_OK)) { weft_test_fail(__FILE__, __LINE__, "%s is not built", weft); return; }
    for (size_t i = 0; i < sizeof all_bad / sizeof *all_bad; i++) {
        char path[1024], out[4096];
        corpus_path(path, sizeof path, all_bad[i].file);
        int rc = run_inspect(path, out, sizeof out);
        /* 1 or 2: weft's own error exits; anything else (a signal, 134 from the shell) is a crash */
        if (rc != 1 && rc != 2) {
            weft_test_fail(__FILE__, __LINE__, "weft inspect %s: exit status %d, expected 1 or 2: %s", all_bad[i].file, rc, out);
            continue;
        }
        if (strstr(out, "Sanitizer") || strstr(out, "runtime error:")) {
            /* under `make asan` a crash exits with status 1 too: the report tells */
            weft_test_fail(__FILE__, __LINE__, "weft inspect %s: crashed (a sanitizer report): %.300s", all_bad[i].file, out);
            continue;
        }
        if (!strstr(out, "weft: error: ") || !strstr(out, path))
            weft_test_fail(__FILE__, __LINE__, "weft inspect %s: no error line naming the file on stderr: '%s'",
                           all_bad[i].file, out);
    }
    /* and a good one succeeds with nothing on stderr */
    char path[1024], out[4096];
    corpus_path(path, sizeof path, "good_add_relu.onnx");
    CHECK_INT(run_inspect(path, out, sizeof out), 0);
    CHECK_INT(strlen(out), 0);
}

/* ---- the replay: every corpus file loads or fails cleanly ---- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

TEST(bad_onnx_corpus_replay) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/corpus/onnx", weft_test_srcdir());
    DIR *d = opendir(dir);
    if (!d) { weft_test_fail(__FILE__, __LINE__, "cannot open %s", dir); return; }
    char **files = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        files = weft_xrealloc(files, (size_t)(n + 1) * sizeof *files);
        files[n++] = weft_xstrdup(e->d_name);
    }
    closedir(d);
    qsort(files, (size_t)n, sizeof *files, cmp_str);
    CHECK(n >= (int)(sizeof all_bad / sizeof *all_bad));
    for (int i = 0; i < n; i++) {
        char path[1400], msg[1200];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        weft_status s;
        if (load_isolated(path, true, &s, msg, sizeof msg)) {
            weft_test_fail(__FILE__, __LINE__, "%s", msg);
            continue;
        }
        /* clean in the child: again in-process, so that LeakSanitizer sees the error paths */
        weft_err err = {0};
        weft_graph *g = NULL;
        s = weft_onnx_load(path, NULL, 0, &g, &err);
        if (s) {
            CHECK(g == NULL);
            if (!err.msg[0] || !strstr(err.msg, path))
                weft_test_fail(__FILE__, __LINE__, "%s: failed with a message that does not name the file: '%s'", files[i],
                               err.msg);
        } else {
            if (!strncmp(files[i], "bad_", 4))
                weft_test_fail(__FILE__, __LINE__, "%s loaded, but every bad_* file must be refused", files[i]);
            weft_status r;
            weft_fuzz_run(g, &r, &err);
            weft_graph_free(g);
        }
    }
    for (int i = 0; i < n; i++) free(files[i]);
    free(files);
}

/* ---- the graph API ---- */

static weft_graph *api_graph(int *x, int *y) {
    weft_graph *g = weft_graph_new("api");
    *x = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(2, 3));
    *y = weft_graph_input(g, "y", WEFT_F32, WEFT_SHAPE(4, 5));
    return g;
}

/* The error names the node and its op, and gives the reason; the graph is left as it was. */
static void check_api_err(weft_graph *g, weft_status got, weft_status want, const weft_err *err, const char *node,
                          const char *op, const char *why, int line) {
    char a[256], b[256];
    snprintf(a, sizeof a, "node '%s'", node);
    snprintf(b, sizeof b, "(%s)", op);
    if (got != want)
        weft_test_fail(__FILE__, line, "status %s, expected %s: %s", weft_status_name(got), weft_status_name(want), err->msg);
    if (!strstr(err->msg, a) || !strstr(err->msg, b) || (why && !strstr(err->msg, why)))
        weft_test_fail(__FILE__, line, "the message should name %s %s and say '%s': %s", a, b, why ? why : "", err->msg);
    if (g->n_nodes) weft_test_fail(__FILE__, line, "a refused node was added to the graph");
    weft_err verr = {0};
    if (weft_graph_verify(g, &verr)) weft_test_fail(__FILE__, line, "the graph no longer verifies: %s", verr.msg);
}

TEST(bad_api_unknown_op) {
    int x, y, out = -1;
    weft_graph *g = api_graph(&x, &y);
    weft_err err = {0};
    weft_status s = weft_graph_node(g, "FooBar", "mystery", &x, 1, NULL, 0, &out, 1, &err);
    check_api_err(g, s, WEFT_ERR_UNSUPPORTED, &err, "mystery", "FooBar", "unknown", __LINE__);
    weft_graph_free(g);
}

TEST(bad_api_wrong_arity) {
    int x, y, out[2] = {-1, -1};
    weft_graph *g = api_graph(&x, &y);
    weft_err err = {0};
    weft_status s = weft_graph_node(g, "Relu", "r", (int[]){x, x}, 2, NULL, 0, out, 1, &err);
    check_api_err(g, s, WEFT_ERR_INVALID, &err, "r", "Relu", "inputs", __LINE__);
    s = weft_graph_node(g, "Add", "a", &x, 1, NULL, 0, out, 1, &err);
    check_api_err(g, s, WEFT_ERR_INVALID, &err, "a", "Add", "inputs", __LINE__);
    s = weft_graph_node(g, "Relu", "r2", &x, 1, NULL, 0, out, 2, &err);
    check_api_err(g, s, WEFT_ERR_INVALID, &err, "r2", "Relu", "outputs", __LINE__);
    s = weft_graph_node(g, "Relu", "r3", &x, 1, NULL, 0, out, 0, &err);
    check_api_err(g, s, WEFT_ERR_INVALID, &err, "r3", "Relu", "outputs", __LINE__);
    weft_graph_free(g);
}

TEST(bad_api_bad_value_id) {
    int x, y, out = -1;
    weft_graph *g = api_graph(&x, &y);
    weft_err err = {0};
    int bad[] = {42, -7, 1 << 30};
    for (int k = 0; k < 3; k++) {
        weft_status s = weft_graph_node(g, "Relu", "r", &bad[k], 1, NULL, 0, &out, 1, &err);
        check_api_err(g, s, WEFT_ERR_INVALID, &err, "r", "Relu", "no value", __LINE__);
    }
    /* -1 (omitted) where the op requires the input */
    int omitted = -1;
    weft_status s = weft_graph_node(g, "Relu", "r", &omitted, 1, NULL, 0, &out, 1, &err);
    check_api_err(g, s, WEFT_ERR_INVALID, &err, "r", "Relu", "missing", __LINE__);
    weft_graph_free(g);
}

TEST(bad_api_shape_mismatch) {
    int x, y, out = -1;
    weft_graph *g = api_graph(&x, &y);
    weft_err err = {0};
    weft_status s = weft_graph_node(g, "Add", "add0", (int[]){x, y}, 2, NULL, 0, &out, 1, &err);
    check_api_err(g, s, WEFT_ERR_SHAPE, &err, "add0", "Add", "broadcast", __LINE__);
    CHECK_INT(out, -1);
    int i = weft_graph_input(g, "i", WEFT_I64, WEFT_SHAPE(2, 3));
    s = weft_graph_node(g, "Add", "add1", (int[]){x, i}, 2, NULL, 0, &out, 1, &err);
    check_api_err(g, s, WEFT_ERR_SHAPE, &err, "add1", "Add", "int64", __LINE__);
    weft_graph_free(g);
}

TEST(bad_api_unsupported_attribute) {
    int x, y, out = -1;
    weft_graph *g = api_graph(&x, &y);
    weft_err err = {0};
    weft_attr a = {.name = "alpha_bogus", .type = WEFT_ATTR_FLOAT, .f = 1};
    weft_status s = weft_graph_node(g, "Relu", "relu0", &x, 1, &a, 1, &out, 1, &err);
    check_api_err(g, s, WEFT_ERR_UNSUPPORTED, &err, "relu0", "Relu", "'alpha_bogus'", __LINE__);
    weft_graph_free(g);
}

/* A node without a name is still identified by its op. */
TEST(bad_api_unnamed_node) {
    int x, y, out = -1;
    weft_graph *g = api_graph(&x, &y);
    weft_err err = {0};
    weft_status s = weft_graph_node(g, "Add", NULL, (int[]){x, y}, 2, NULL, 0, &out, 1, &err);
    CHECK_INT(s, WEFT_ERR_SHAPE);
    CHECK(strstr(err.msg, "(Add)") != NULL);
    weft_graph_free(g);
}
