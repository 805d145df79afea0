/* Tests of weft's binary files: graphs and programs round-trip exactly; corrupt, truncated,
 * foreign and future files are refused with a clear error. */
#include "io/io.h"
#include "models/models.h"
#include "compile/compile.h"
#include "sim/run.h"
#include "test.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void path_in_build(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", weft_test_builddir(), name); }

/* Runs g on the reference with seeded inputs; out receives its first output. */
static void run_ref(const weft_graph *g, weft_tensor *out) {
    weft_err err = {0};
    weft_tensor in[4] = {{0}};
    const weft_tensor *inp[4];
    for (int i = 0; i < g->n_inputs; i++) {
        const weft_value *v = &g->vals[g->inputs[i]];
        CHECK_OK(weft_tensor_alloc(&in[i], v->dtype, v->shape, &err), &err);
        for (int64_t k = 0; k < weft_tensor_numel(&in[i]); k++) {
            int64_t id = (k * 7 + 3) % 64;
            weft_convert((char *)in[i].data + k * (int64_t)weft_dtype_size(v->dtype), v->dtype, &id, WEFT_I64, 1);
        }
        inp[i] = &in[i];
    }
    weft_tensor outs[4] = {{0}};
    CHECK_OK(weft_ref_run(g, inp, g->n_inputs, outs, g->n_outputs, &err), &err);
    *out = outs[0];
    for (int j = 1; j < g->n_outputs; j++) weft_tensor_free(&outs[j]);
    for (int i = 0; i < g->n_inputs; i++) weft_tensor_free(&in[i]);
}

TEST(io_graph_round_trip_is_exact) {
    weft_err err = {0};
    weft_graph *g = NULL, *h = NULL;
    CHECK_OK(weft_model_load("builtin:gpt:layers=1,dim=32,heads=2,vocab=64,seq=8", &g, &err), &err);
    char path[1024];
    path_in_build(path, sizeof path, "io_test.wgraph");
    CHECK_OK(weft_graph_save(g, path, &err), &err);
    CHECK_OK(weft_graph_load(path, &h, &err), &err);
    if (!g || !h) return;
    CHECK_INT(h->n_vals, g->n_vals);
    CHECK_INT(h->n_nodes, g->n_nodes);
    CHECK(!strcmp(h->name, g->name));
    weft_tensor a = {0}, b = {0};
    run_ref(g, &a);
    run_ref(h, &b);
    CHECK(weft_shape_eq(&a.shape, &b.shape) && !memcmp(a.data, b.data, weft_tensor_nbytes(&a)));
    weft_tensor_free(&a);
    weft_tensor_free(&b);
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    struct stat st;
    CHECK(stat(tmp, &st) != 0);  /* the temporary file was renamed into place */
    weft_graph_free(g);
    weft_graph_free(h);
}

/* Writes `bytes` of src (optionally with one byte flipped) to dst. */
static void copy_damaged(const char *src, const char *dst, long keep, long flip) {
    FILE *f = fopen(src, "rb"), *o = fopen(dst, "wb");
    CHECK(f && o);
    if (!f || !o) return;
    int c;
    long i = 0;
    while ((c = fgetc(f)) != EOF && (keep < 0 || i < keep)) {
        fputc(i == flip ? c ^ 0x40 : c, o);
        i++;
    }
    fclose(f);
    fclose(o);
}

TEST(io_damaged_files_are_refused) {
    weft_err err = {0};
    weft_graph *g = NULL, *h = NULL;
    CHECK_OK(weft_model_load("builtin:mlp:in=8,hidden=4,out=2,batch=2", &g, &err), &err);
    char path[1024], bad[1024];
    path_in_build(path, sizeof path, "io_mlp.wgraph");
    path_in_build(bad, sizeof bad, "io_bad.wgraph");
    CHECK_OK(weft_graph_save(g, path, &err), &err);
    copy_damaged(path, bad, -1, 200);  /* a flipped byte in the body */
    CHECK_INT(weft_graph_load(bad, &h, &err), WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, "checksum") && strstr(err.msg, bad));
    copy_damaged(path, bad, 100, -1);  /* truncated */
    CHECK_INT(weft_graph_load(bad, &h, &err), WEFT_ERR_INVALID);
    copy_damaged(path, bad, -1, 0);    /* wrong magic */
    CHECK_INT(weft_graph_load(bad, &h, &err), WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, "magic") != NULL);
    copy_damaged(path, bad, -1, 8);    /* another version */
    CHECK_INT(weft_graph_load(bad, &h, &err), WEFT_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "version") != NULL);
    CHECK_INT(weft_graph_load("/nonexistent/x.wgraph", &h, &err), WEFT_ERR_IO);
    CHECK(h == NULL);
    /* a program file is not a graph file */
    weft_arch arch;
    CHECK_OK(weft_arch_preset("mesh-8x8", &arch, &err), &err);
    weft_program *p = NULL, *q = NULL;
    weft_compile_opts o = {0};
    CHECK_OK(weft_compile(g, &arch, &o, &p, &err), &err);
    char prog[1024];
    path_in_build(prog, sizeof prog, "io_mlp.weft");
    CHECK_OK(weft_program_save(p, prog, &err), &err);
    CHECK_INT(weft_graph_load(prog, &h, &err), WEFT_ERR_INVALID);
    weft_graph *pg = NULL;
    CHECK_OK(weft_program_load(prog, &pg, &q, &err), &err);
    if (q) {
        CHECK_INT(q->n, p->n);
        for (int i = 0; i < p->n && i < q->n; i++)
            CHECK(q->k[i].x0 == p->k[i].x0 && q->k[i].y0 == p->k[i].y0 && q->k[i].w == p->k[i].w && q->k[i].h == p->k[i].h);
        CHECK(!strcmp(q->arch.name, "mesh-8x8"));
    }
    weft_program_free(q);
    weft_graph_free(pg);
    weft_program_free(p);
    weft_graph_free(g);
}

/* The graph-file corpus (tests/corpus/graph/, make_graph.py): files whose checksum matches and
 * whose fields lie. Each bad_* is refused naming the file and the reason; good_* loads. */
static const struct { const char *file, *why; } graph_bad[] = {
    {"bad_attr_count_huge.wgraph", "malformed graph"},
    {"bad_ints_count_huge.wgraph", "malformed graph"},
    {"bad_output_undeclared_input.wgraph", "graph output 'ghost' is an input value the graph does not declare"},
    {"bad_node_reads_undeclared_input.wgraph", "input 'ghost' is an input value the graph does not declare"},
    {"bad_numel_overflow.wgraph", "value 'x': tensor of shape (4294967296, 4294967296)"},
    {"bad_numel_overflow_node.wgraph", "exceeds"},
    {"bad_negative_dim.wgraph", "value 'x': negative dimension"},
    {"bad_trailing_bytes.wgraph", "16 bytes after the graph's end"},
    {"crash_node_too_few_inputs.wgraph", "0 inputs, expected 1 to 1"},  /* fuzz_graph: a NULL input reached Relu's shape rule */
};

TEST(io_graph_corpus_fields_checked) {
    char path[1200];
    for (size_t i = 0; i < sizeof graph_bad / sizeof *graph_bad; i++) {
        snprintf(path, sizeof path, "%s/tests/corpus/graph/%s", weft_test_srcdir(), graph_bad[i].file);
        weft_err err = {0};
        weft_graph *g = NULL;
        weft_status s = weft_graph_load(path, &g, &err);
        if (s == WEFT_OK || g || !strstr(err.msg, path) || !strstr(err.msg, graph_bad[i].why))
            weft_test_fail(__FILE__, __LINE__, "%s: status %d, expected a refusal saying '%s': %s", graph_bad[i].file, s,
                           graph_bad[i].why, err.msg);
        weft_graph_free(g);
    }
    snprintf(path, sizeof path, "%s/tests/corpus/graph/good_relu.wgraph", weft_test_srcdir());
    weft_err err = {0};
    weft_graph *g = NULL;
    CHECK_OK(weft_graph_load(path, &g, &err), &err);
    weft_graph_free(g);
}

/* The program-file corpus (same folder): a program file's graph is checked as a graph file's;
 * good_mlp_mesh8.weft (weft compile builtin:mlp:batch=2,in=4,hidden=8,out=3 --arch mesh-8x8 -o)
 * loads and runs. */
static const struct { const char *file, *why; } prog_bad[] = {
    {"bad_prog_attr_count_huge.weft", "malformed graph"},
    {"bad_prog_output_undeclared_input.weft", "graph output 'ghost' is an input value the graph does not declare"},
    {"bad_prog_numel_overflow.weft", "value 'x': tensor of shape (4294967296, 4294967296)"},
    {"crash_prog_missing_required_input.weft", "required input 0 is missing"},  /* fuzz_program: MatMul's */
};

TEST(io_program_corpus_fields_checked) {
    char path[1200];
    for (size_t i = 0; i < sizeof prog_bad / sizeof *prog_bad; i++) {
        snprintf(path, sizeof path, "%s/tests/corpus/graph/%s", weft_test_srcdir(), prog_bad[i].file);
        weft_err err = {0};
        weft_graph *g = NULL;
        weft_program *p = NULL;
        weft_status s = weft_program_load(path, &g, &p, &err);
        if (s == WEFT_OK || g || p || !strstr(err.msg, path) || !strstr(err.msg, prog_bad[i].why))
            weft_test_fail(__FILE__, __LINE__, "%s: status %d, expected a refusal saying '%s': %s", prog_bad[i].file, s,
                           prog_bad[i].why, err.msg);
        weft_program_free(p);
        weft_graph_free(g);
    }
    snprintf(path, sizeof path, "%s/tests/corpus/graph/good_mlp_mesh8.weft", weft_test_srcdir());
    weft_err err = {0};
    weft_graph *g = NULL;
    weft_program *p = NULL;
    CHECK_OK(weft_program_load(path, &g, &p, &err), &err);
    weft_program_free(p);
    weft_graph_free(g);
}

/* Through the graph API: an output that is an input value never declared (nothing would feed it:
 * the executor copied from NULL) does not verify. */
TEST(io_api_undeclared_input_does_not_verify) {
    weft_graph *g = weft_graph_new("api");
    int x = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(2, 3));
    int ghost = weft_graph_add_value(g, "ghost", WEFT_VAL_INPUT, WEFT_F32, WEFT_SHAPE(2, 3), NULL);
    int y = -1;
    weft_err err = {0};
    CHECK_OK(weft_graph_node(g, "Relu", "r", &x, 1, NULL, 0, &y, 1, &err), &err);
    weft_graph_output(g, y);
    CHECK_OK(weft_graph_verify(g, &err), &err);
    weft_graph_output(g, ghost);
    CHECK_INT(weft_graph_verify(g, &err), WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, "'ghost'") && strstr(err.msg, "does not declare"));
    weft_graph_free(g);
}

/* Files are written under a unique temporary name (issue 13 item 6): a stale "PATH.tmp" left by a
 * kill (here a folder, which no write can replace) does not block the next write, nothing is left
 * beside the target, and a write that fails leaves no file at all. */
TEST(io_atomic_write_unique_temporary) {
    char dir[1024], path[1200], stale[1300];
    snprintf(dir, sizeof dir, "%s/io_atomic", weft_test_builddir());
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/checkpoint.weft", dir);
    snprintf(stale, sizeof stale, "%s.tmp", path);
    unlink(path);
    mkdir(stale, 0755);
    weft_buf b = {0};
    weft_buf_str(&b, "payload");
    weft_err err = {0};
    CHECK_OK(weft_file_write(path, "WEFTTEST", 1, &b, &err), &err);
    weft_buf_free(&b);
    uint8_t *file = NULL;
    weft_reader r;
    CHECK_OK(weft_file_read(path, "WEFTTEST", 1, &file, &r, &err), &err);
    free(file);
    /* only the target and the stale folder are there */
    char cmd[1400], out[256] = "";
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -v '^\\.*$' | tr '\\n' ' '", dir);
    FILE *p = popen(cmd, "r");
    if (p) {
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = 0;
        pclose(p);
    }
    CHECK(!strcmp(out, "checkpoint.weft checkpoint.weft.tmp "));
    rmdir(stale);
    /* into a device that is full: an error naming it */
    weft_atomic a;
    CHECK_OK(weft_atomic_open(&a, "/dev/full", &err), &err);
    if (a.f) {
        fprintf(a.f, "something\n");
        CHECK_INT(weft_atomic_commit(&a, &err), WEFT_ERR_IO);
        CHECK(strstr(err.msg, "/dev/full") && strstr(err.msg, "No space"));
    }
    /* into a folder that does not exist: an error, nothing left */
    CHECK_INT(weft_atomic_open(&a, "/nonexistent-weft/x.json", &err), WEFT_ERR_IO);
    CHECK(strstr(err.msg, "/nonexistent-weft/x.json") != NULL);
}

/* A program file holds the program's data and loads without placing or routing again: a region
 * changed before saving comes back changed (a recompile would undo it), the lanes and channels
 * come back as stored, the loaded program simulates to the same cycles, and a stored region off
 * the mesh is refused naming the kernel. */
TEST(io_program_loads_its_data_without_recompiling) {
    weft_err err = {0};
    weft_graph *g = NULL, *pg = NULL;
    CHECK_OK(weft_model_load("builtin:mlp", &g, &err), &err);
    if (!g) return;
    weft_arch arch;
    CHECK_OK(weft_arch_preset("mesh-32x32", &arch, &err), &err);
    weft_program *p = NULL, *q = NULL;
    CHECK_OK(weft_compile(g, &arch, NULL, &p, &err), &err);
    if (!p) { weft_graph_free(g); return; }
    char prog[1024];
    path_in_build(prog, sizeof prog, "io_mlp_data.weft");
    /* as compiled: the same lanes, channels and cycles */
    CHECK_OK(weft_program_save(p, prog, &err), &err);
    CHECK_OK(weft_program_load(prog, &pg, &q, &err), &err);
    if (q) {
        CHECK_INT(q->n_lanes, p->n_lanes);
        for (int l = 0; l < p->n_lanes && l < q->n_lanes; l++)
            CHECK(!memcmp(&q->lanes[l], &p->lanes[l], sizeof q->lanes[l]));
        weft_sim_opts so = {.timing_only = true};
        weft_sim_stats a, b;
        CHECK_OK(weft_sim_run(p, NULL, 0, NULL, g->n_outputs, &so, &a, &err), &err);
        CHECK_OK(weft_sim_run(q, NULL, 0, NULL, pg->n_outputs, &so, &b, &err), &err);
        CHECK_INT(a.cycles, b.cycles);
        CHECK_INT(a.period_cycles, b.period_cycles);
    }
    weft_program_free(q);
    weft_graph_free(pg);
    /* a region changed before saving comes back changed */
    weft_kernel *last = &p->k[p->n - 1];
    CHECK(last->kind != WEFT_KERNEL_GEMM && last->w > 1);
    last->w -= 1;  /* a smaller region still holds the kernel: a placement this weft would not choose */
    CHECK_OK(weft_program_save(p, prog, &err), &err);
    CHECK_OK(weft_program_load(prog, &pg, &q, &err), &err);
    if (q) CHECK_INT(q->k[q->n - 1].w, last->w);
    weft_program_free(q);
    weft_graph_free(pg);
    q = NULL, pg = NULL;
    last->x0 = arch.width;  /* off the mesh */
    CHECK_OK(weft_program_save(p, prog, &err), &err);
    CHECK_INT(weft_program_load(prog, &pg, &q, &err), WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, "io_mlp_data.weft") && strstr(err.msg, "not on the 32 x 32 mesh"));
    CHECK(q == NULL && pg == NULL);
    weft_program_free(p);
    weft_graph_free(g);
}
