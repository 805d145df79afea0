/* Fault injection (issue 13): with weft_alloc_fail_at(n), the n-th fallible allocation fails
 * (core.h). Each scenario below is run once to count its fallible allocations, K, then K times
 * with the 1st, 2nd, ..., K-th failing: every run must fail cleanly, with a message naming the
 * file, must change nothing it was given (a checkpoint load leaves the trainer as it was, a failed
 * save leaves the previous checkpoint whole), and must not leak (LeakSanitizer, under make asan). */
#include "arch/arch.h"
#include "compile/compile.h"
#include "sim/run.h"
#include "io/io.h"
#include "models/models.h"
#include "test.h"
#include "train/train.h"

#include <string.h>

#define MAX_RUNS 3000 /* a scenario with more fallible allocations is tested at MAX_RUNS spread points */

typedef weft_status (*scenario_fn)(void *ctx, weft_err *err);

/* Runs fn under every injected failure; `path` must appear in each failure's message. */
static void every_failure(const char *name, scenario_fn fn, void *ctx, const char *path, void (*check)(void *ctx, int line)) {
    weft_err err = {0};
    weft_alloc_fail_at(0, false);
    weft_status s = fn(ctx, &err);
    int64_t k = weft_alloc_count();
    if (s) { weft_test_fail(__FILE__, __LINE__, "%s: fails with no injected failure: %s", name, err.msg); return; }
    if (k < 1) { weft_test_fail(__FILE__, __LINE__, "%s: makes no fallible allocation", name); return; }
    int64_t step = k > MAX_RUNS ? k / MAX_RUNS + 1 : 1;
    for (int64_t n = 1; n <= k; n += step) {
        memset(&err, 0, sizeof err);
        weft_alloc_fail_at(n, false);
        s = fn(ctx, &err);
        weft_alloc_fail_at(0, false);
        if (s == WEFT_OK) {
            weft_test_fail(__FILE__, __LINE__, "%s: allocation %lld of %lld failed, yet it succeeded", name, (long long)n, (long long)k);
            continue;
        }
        if (!err.msg[0] || !strstr(err.msg, path))
            weft_test_fail(__FILE__, __LINE__, "%s: allocation %lld of %lld failed: a message that does not name %s: '%s'", name,
                           (long long)n, (long long)k, path, err.msg);
        if (check) check(ctx, __LINE__);
    }
}

/* ---- the machine reader ---- */

typedef struct { char path[1024]; } arch_ctx;
static weft_status arch_load(void *ctx, weft_err *err) {
    weft_arch a;
    return weft_arch_load(((arch_ctx *)ctx)->path, &a, err);
}
TEST(faults_arch_load) {
    arch_ctx c;
    snprintf(c.path, sizeof c.path, "%s/tests/corpus/arch/good_mesh_8x8.json", weft_test_srcdir());
    every_failure("weft_arch_load", arch_load, &c, c.path, NULL);
}

/* ---- graph files and ONNX ---- */

typedef struct { char path[1024]; bool onnx; } graph_ctx;
static weft_status graph_load(void *ctx, weft_err *err) {
    graph_ctx *c = ctx;
    weft_graph *g = NULL;
    weft_status s = c->onnx ? weft_onnx_load(c->path, NULL, 0, &g, err) : weft_graph_load(c->path, &g, err);
    if (s && g) return weft_err_set(err, WEFT_ERR_INVALID, "%s: failed but returned a graph", c->path);
    weft_graph_free(g);
    return s;
}
TEST(faults_graph_load) {
    weft_err err = {0};
    weft_graph *g = NULL;
    graph_ctx c = {.onnx = false};
    snprintf(c.path, sizeof c.path, "%s/faults_mlp.wgraph", weft_test_builddir());
    CHECK_OK(weft_model_load("builtin:mlp:in=8,hidden=4,out=2,batch=2,layers=3", &g, &err), &err);
    if (!g) return;
    CHECK_OK(weft_graph_save(g, c.path, &err), &err);
    weft_graph_free(g);
    every_failure("weft_graph_load", graph_load, &c, c.path, NULL);
}
TEST(faults_onnx_load) {
    graph_ctx c = {.onnx = true};
    snprintf(c.path, sizeof c.path, "%s/tests/corpus/onnx/good_add_relu.onnx", weft_test_srcdir());
    every_failure("weft_onnx_load", graph_load, &c, c.path, NULL);
}

/* ---- checkpoints ---- */

typedef struct {
    char path[1024];
    weft_trainer *t;
    weft_data *d;
    float *snapshot; /* the trainer's first parameter as it was */
    int64_t numel, step;
} ckpt_ctx;

static weft_status ckpt_load(void *ctx, weft_err *err) {
    ckpt_ctx *c = ctx;
    weft_status s = weft_checkpoint_load(c->t, c->d, c->path, err);
    /* a load that succeeded moved the trainer: put it back for the next run */
    if (!s) { c->t->step = c->step; memcpy(c->t->g->vals[c->t->param[0]].data.data, c->snapshot, (size_t)c->numel * 4); }
    return s;
}
static void ckpt_unchanged(void *ctx, int line) {
    ckpt_ctx *c = ctx;
    if (c->t->step != c->step || memcmp(c->t->g->vals[c->t->param[0]].data.data, c->snapshot, (size_t)c->numel * 4))
        weft_test_fail(__FILE__, line, "a failed checkpoint load changed the trainer");
}
static weft_status ckpt_save(void *ctx, weft_err *err) {
    ckpt_ctx *c = ctx;
    return weft_checkpoint_save(c->t, c->d, c->path, err);
}
static void ckpt_still_whole(void *ctx, int line) {
    ckpt_ctx *c = ctx;
    uint8_t *file = NULL;
    weft_reader r;
    weft_err err = {0};
    if (weft_file_read(c->path, "WEFTCKPT", 2, &file, &r, &err))
        weft_test_fail(__FILE__, line, "a failed save damaged the previous checkpoint: %s", err.msg);
    free(file);
}

TEST(faults_checkpoint_load_and_save) {
    weft_err err = {0};
    weft_train_config cfg = weft_train_defaults();
    ckpt_ctx c = {0};
    CHECK_OK(weft_train_new("builtin:mlp:in=8,hidden=4,out=2,batch=2", &cfg, &c.t, &err), &err);
    if (!c.t) return;
    c.d = weft_data_synthetic(WEFT_DATA_TEACHER);
    weft_step_result r;
    CHECK_OK(weft_train_step(c.t, c.d, &r, &err), &err);
    snprintf(c.path, sizeof c.path, "%s/faults_checkpoint.weft", weft_test_builddir());
    CHECK_OK(weft_checkpoint_save(c.t, c.d, c.path, &err), &err);
    CHECK_OK(weft_train_step(c.t, c.d, &r, &err), &err); /* the trainer moves on from what was saved */
    c.step = c.t->step;
    c.numel = c.t->numel[0];
    c.snapshot = malloc((size_t)c.numel * 4);
    memcpy(c.snapshot, c.t->g->vals[c.t->param[0]].data.data, (size_t)c.numel * 4);
    every_failure("weft_checkpoint_load", ckpt_load, &c, c.path, ckpt_unchanged);
    every_failure("weft_checkpoint_save", ckpt_save, &c, c.path, ckpt_still_whole);
    free(c.snapshot);
    weft_data_free(c.d);
    weft_train_free(c.t);
}

/* ---- compiling and simulating ---- */

typedef struct { weft_graph *g; weft_arch a; bool per_pe, timing; const char *mode; } run_ctx;

/* Compiles the graph (the compiler choosing its blocks), simulates it (the MLP with numbers, a
 * GPT for timing: multicasts, attention's prefixes), and frees. */
static weft_status compile_and_run(void *ctx, weft_err *err) {
    run_ctx *c = ctx;
    weft_program *p = NULL;
    weft_compile_opts co = {.timing_only = c->timing, .mode = c->mode};
    weft_status s = weft_compile(c->g, &c->a, &co, &p, err);
    if (s) return p ? weft_err_set(err, WEFT_ERR_INVALID, "a failed compile returned a program") : s;
    if (c->timing) {
        weft_sim_opts o = {.timing_only = true};
        weft_sim_stats st;
        s = weft_sim_run(p, NULL, 0, NULL, c->g->n_outputs, &o, &st, err);
        weft_program_free(p);
        return s;
    }
    float x[2 * 4] = {0.5f, -1, 2, 0.25f, 1, 1, -0.5f, 0};
    weft_tensor in = {WEFT_F32, WEFT_SHAPE(2, 4), x, 0}, out = {0};
    const weft_tensor *ins[] = {&in};
    weft_sim_opts o = {.per_pe = c->per_pe};
    weft_sim_stats st;
    s = weft_sim_run(p, ins, 1, &out, 1, &o, &st, err);
    weft_tensor_free(&out);
    weft_program_free(p);
    return s;
}

/* Every fallible allocation of compiling and simulating fails in turn: each run fails saying it
 * ran out of memory (naming the machine, or the tensor it could not allocate) and leaks nothing. */
TEST(faults_compile_and_simulate) {
    weft_err err = {0};
    run_ctx c = {0};
    CHECK_OK(weft_model_load("builtin:mlp:batch=2,in=4,hidden=8,out=3", &c.g, &err), &err);
    CHECK_OK(weft_arch_preset("mesh-8x8", &c.a, &err), &err);
    for (int run = 0; run < 5 && c.g; run++) {
        int per_pe = run == 1 || run == 4;
        c.per_pe = per_pe;
        c.mode = run >= 3 ? "weight-streaming" : NULL;
        if (run == 3) {  /* the MLP again, its weights streamed */
            weft_graph_free(c.g);
            c.g = NULL;
            c.timing = false;
            CHECK_OK(weft_model_load("builtin:mlp:batch=2,in=4,hidden=8,out=3", &c.g, &err), &err);
            CHECK_OK(weft_arch_preset("mesh-8x8", &c.a, &err), &err);
            if (!c.g) break;
        }
        if (run == 2) {  /* a GPT, timing only */
            weft_graph_free(c.g);
            c.g = NULL;
            c.timing = true;
            CHECK_OK(weft_model_load_shapes("builtin:gpt:layers=1,dim=32,heads=2,vocab=32,seq=16", &c.g, &err), &err);
            CHECK_OK(weft_arch_preset("wse2-mini", &c.a, &err), &err);
            if (!c.g) break;
        }
        weft_alloc_fail_at(0, false);
        CHECK_OK(compile_and_run(&c, &err), &err);
        int64_t k = weft_alloc_count();
        CHECK(k > 10);
        printf("    %s%s: %lld fallible allocations, each failed in turn\n", run == 2 ? "gpt, timing" : per_pe ? "mlp, per-PE" : "mlp",
               c.mode ? ", weight streaming" : "", (long long)k);
        for (int64_t n = 1; n <= k; n++) {
            memset(&err, 0, sizeof err);
            weft_alloc_fail_at(n, false);
            weft_status s = compile_and_run(&c, &err);
            weft_alloc_fail_at(0, false);
            if (s == WEFT_OK) weft_test_fail(__FILE__, __LINE__, "allocation %lld of %lld failed, yet it succeeded", (long long)n, (long long)k);
            else if (!strstr(err.msg, "out of memory") && !strstr(err.msg, "cannot allocate"))
                weft_test_fail(__FILE__, __LINE__, "allocation %lld of %lld failed: '%s'", (long long)n, (long long)k, err.msg);
        }
    }
    weft_graph_free(c.g);
}
