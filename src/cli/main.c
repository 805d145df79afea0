/* cli: the weft command. */
#include "arch/arch.h"
#include "compile/compile.h"
#include "sim/run.h"
#include "ir/ir.h"
#include "models/models.h"
#include "onnx/onnx_test.h"
#include "report/report.h"
#include "report/gpu.h"
#include "report/energy.h"
#include "io/io.h"
#include "cli/opt.h"
#include "cli/sweep.h"
#include "cli/use.h"
#include "cli/train.h"
#include "train/train.h"
#include "grad/precision.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <malloc.h>
#include <errno.h>
#include <math.h>
#include <sys/resource.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: weft COMMAND [options] [ARGS]    (weft COMMAND --help: its options)\n"
            "\n"
            "  inspect MODEL       the graph: op counts, parameters, FLOPs and bytes, a row a node\n"
            "  compile MODEL       map MODEL onto a machine (default the full wse2); -o writes the program\n"
            "  run MODEL           simulate it on the fabric, with its numbers or --timing-only; the report\n"
            "  check MODEL         the fabric against the reference executor; exit 1 on a mismatch\n"
            "  train MODEL         train it, on the reference executor or on a simulated machine (--arch)\n"
            "  sweep MODEL         machines x batches x precisions, timed, in parallel: a table and CSV\n"
            "  run-ref MODEL       run it on the reference executor\n"
            "  export CHECKPOINT   a checkpoint's trained weights, as safetensors\n"
            "  eval MODEL          loss and accuracy with a checkpoint's weights on held-out data\n"
            "  generate MODEL      continue a prompt with a trained language model\n"
            "  onnx-test DIR...    ONNX backend test cases, on the reference or a machine\n"
            "  models              the built-in models\n"
            "  arch list|show A    the machine presets, one machine's figures and sources\n"
            "  demo                the main job, end to end (files in ./out)\n"
            "  help [COMMAND], --version\n"
            "\n"
            "MODEL is an ONNX file (model.onnx, or model.onnx#x=8x32 with its inputs' shapes) or\n"
            "builtin:NAME[:key=value,...], e.g. builtin:gpt2; run and check also take a program file\n"
            "written by compile -o (prog.weft). Options take --opt value or --opt=value, in any order.\n");
}

static int die(const weft_err *err) {
    fprintf(stderr, "weft: error: %s\n", err->msg);
    return err->status == WEFT_ERR_INVALID || err->status == WEFT_ERR_SHAPE ? 2 : 1;
}

/* MODEL with --input-shape NAME=8x32 ... appended as its spec's "#NAME=8x32,..." (an ONNX file's;
 * models/load.c reads it). */
static int spec_with_shapes(const char *model, const cli_list *shapes, char *out, size_t n) {
    int w = snprintf(out, n, "%s", model);
    if (!shapes->n) return 0;
    if (!strncmp(model, "builtin:", 8)) {
        fprintf(stderr, "weft: --input-shape is for ONNX files; a builtin model takes its sizes as keys (builtin:gpt:seq=128)\n");
        return 2;
    }
    const char *hash = strrchr(model, '#');
    bool frag = hash && strchr(hash, '=');
    for (int i = 0; i < shapes->n && w > 0 && (size_t)w < n; i++) {
        const char *v = shapes->v[i];
        if (!strchr(v, '=') || strchr(v, ',') || strchr(v, '#')) {
            fprintf(stderr, "weft: --input-shape '%s' is not NAME=SHAPE (x=8x32, or a symbolic dimension: batch=8)\n", v);
            return 2;
        }
        w += snprintf(out + w, n - (size_t)w, "%s%s", i || frag ? "," : "#", v);
    }
    if (w < 0 || (size_t)w >= n) { fprintf(stderr, "weft: --input-shape: too long\n"); return 2; }
    return 0;
}

/* inspect --json: the summary and every node (name, op, output shape, FLOPs, bytes) as JSON. */
static void inspect_json(const weft_graph *g, FILE *f) {
    weft_graph_stats st = weft_graph_count(g);
    cJSON *r = cJSON_CreateObject(), *nodes;
    cJSON_AddStringToObject(r, "graph", g->name);
    cJSON_AddNumberToObject(r, "nodes", (double)st.nodes);
    cJSON_AddNumberToObject(r, "parameters", (double)st.params);
    cJSON_AddNumberToObject(r, "parameter_bytes", (double)st.param_bytes);
    cJSON_AddNumberToObject(r, "flops", (double)st.flops);
    cJSON_AddNumberToObject(r, "bytes", (double)st.bytes);
    for (int io = 0; io < 2; io++) {
        cJSON *a = cJSON_AddArrayToObject(r, io ? "outputs" : "inputs");
        for (int k = 0; k < (io ? g->n_outputs : g->n_inputs); k++) {
            const weft_value *v = &g->vals[io ? g->outputs[k] : g->inputs[k]];
            cJSON *o = cJSON_CreateObject(), *sh = cJSON_AddArrayToObject(o, "shape");
            cJSON_AddStringToObject(o, "name", v->name);
            cJSON_AddStringToObject(o, "dtype", weft_dtype_name(v->dtype));
            for (int d = 0; d < v->shape.ndim; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)v->shape.d[d]));
            cJSON_AddItemToArray(a, o);
        }
    }
    nodes = cJSON_AddArrayToObject(r, "node_list");
    for (int i = 0; i < g->n_nodes; i++) {
        const weft_node *n = &g->nodes[i];
        weft_cost c = weft_node_cost(g, n);
        const weft_shape *s = &g->vals[n->out[0]].shape;
        cJSON *o = cJSON_CreateObject(), *sh;
        cJSON_AddStringToObject(o, "name", n->name);
        cJSON_AddStringToObject(o, "op", n->op->name);
        sh = cJSON_AddArrayToObject(o, "output_shape");
        for (int d = 0; d < s->ndim; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)s->d[d]));
        cJSON_AddNumberToObject(o, "flops", (double)c.flops);
        cJSON_AddNumberToObject(o, "bytes", (double)c.bytes);
        cJSON_AddItemToArray(nodes, o);
    }
    char *text = cJSON_Print(r);
    if (text) fprintf(f, "%s\n", text);
    free(text);
    cJSON_Delete(r);
}

static int cmd_inspect(int argc, char **argv) {
    bool json = false;
    cli_list shapes = {0};
    const cli_opt opts[] = {
        {"json", 0, CLI_FLAG, &json, NULL, "the same as JSON"},
        {"input-shape", 0, CLI_LIST, &shapes, "NAME=8x32", "an ONNX input's shape, or a symbolic dimension (batch=8)"},
        {0}};
    const cli_command c = {"inspect", "MODEL", "prints the graph: op counts, parameters, FLOPs and bytes, and a row a node", opts, 1, 1};
    const char *model;
    int np, rc = cli_parse(&c, argc, argv, &model, &np);
    if (rc) return rc == CLI_HELP ? 0 : rc;
    char spec[4096];
    if ((rc = spec_with_shapes(model, &shapes, spec, sizeof spec))) return rc;
    model = spec;
    weft_err err = {0};
    weft_graph *g;
    if (weft_model_load(model, &g, &err)) return die(&err);
    if (json) inspect_json(g, stdout);
    else weft_graph_print(g, stdout);
    weft_graph_free(g);
    return 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The graph's inputs: NAME=FILE.npy from `files` (--input), the rest drawn from a seeded RNG:
 * floats N(0, 1), integers (token ids) below 64 so they index any vocabulary of at least 64. A
 * file's dtype may differ in width (float64 for a float32 input, int32 for int64), never in
 * kind, and its shape must be the input's. in_out: (n_inputs) tensors, owned by the caller. */
static weft_status make_inputs(const weft_graph *g, const cli_list *files, weft_tensor **in_out, const weft_tensor ***inp_out,
                               weft_err *err) {
    weft_tensor *in = weft_xcalloc((size_t)g->n_inputs + 1, sizeof *in);
    const weft_tensor **inp = weft_xcalloc((size_t)g->n_inputs + 1, sizeof *inp);
    *in_out = in;
    *inp_out = inp;
    for (int f = 0; files && f < files->n; f++) {
        const char *eq = strchr(files->v[f], '=');
        int k = -1;
        for (int i = 0; eq && i < g->n_inputs; i++)
            if (strlen(g->vals[g->inputs[i]].name) == (size_t)(eq - files->v[f]) && !strncmp(g->vals[g->inputs[i]].name, files->v[f], (size_t)(eq - files->v[f])))
                k = i;
        if (k < 0) {
            char names[512] = "";
            for (int i = 0, w = 0; i < g->n_inputs && w < (int)sizeof names; i++)
                w += snprintf(names + w, sizeof names - (size_t)w, "%s%s", i ? ", " : "", g->vals[g->inputs[i]].name);
            return weft_err_set(err, WEFT_ERR_INVALID, "--input '%s': %s; the model's inputs are: %s", files->v[f],
                                eq ? "no input of that name" : "not NAME=FILE.npy", names);
        }
        const weft_value *v = &g->vals[g->inputs[k]];
        if (inp[k]) return weft_err_set(err, WEFT_ERR_INVALID, "--input: '%s' is given twice", v->name);
        weft_tensor t;
        if (weft_npy_read(eq + 1, &t, err)) return weft_err_prefix(err, "--input %s", v->name);
        char a[160], b[160];
        weft_status s = WEFT_OK;
        if (!weft_shape_eq(&t.shape, &v->shape))
            s = weft_err_set(err, WEFT_ERR_SHAPE, "--input %s: %s holds %s, but the model's input '%s' is %s %s", v->name, eq + 1,
                             weft_shape_str(&t.shape, a, sizeof a), v->name, weft_dtype_name(v->dtype), weft_shape_str(&v->shape, b, sizeof b));
        else if (weft_dtype_is_float(t.dtype) != weft_dtype_is_float(v->dtype))
            s = weft_err_set(err, WEFT_ERR_SHAPE, "--input %s: %s holds %s, but the model's input '%s' is %s", v->name, eq + 1,
                             weft_dtype_name(t.dtype), v->name, weft_dtype_name(v->dtype));
        else if (t.dtype == v->dtype) in[k] = t, t.data = NULL;
        else s = weft_tensor_convert(&in[k], &t, v->dtype, err);
        if (t.data) weft_tensor_free(&t);
        if (s) return s;
        inp[k] = &in[k];
    }
    for (int i = 0; i < g->n_inputs; i++) {
        if (inp[i]) continue;
        weft_rng rng;  /* a stream an input: giving one from a file leaves the others' values as they were */
        weft_rng_seed(&rng, 1, (uint64_t)i);
        const weft_value *v = &g->vals[g->inputs[i]];
        weft_status s = weft_tensor_alloc(&in[i], v->dtype, v->shape, err);
        if (s) return weft_err_prefix(err, "input '%s'", v->name);
        int64_t n = weft_tensor_numel(&in[i]);
        size_t es = weft_dtype_size(v->dtype);
        for (int64_t k = 0; k < n; k++) {
            float x = weft_rng_normal(&rng);
            int64_t id = weft_rng_u32(&rng) % 64;
            if (weft_dtype_is_float(v->dtype)) weft_convert((char *)in[i].data + k * (int64_t)es, v->dtype, &x, WEFT_F32, 1);
            else weft_convert((char *)in[i].data + k * (int64_t)es, v->dtype, &id, WEFT_I64, 1);
        }
        inp[i] = &in[i];
    }
    return WEFT_OK;
}

static void free_inputs(const weft_graph *g, weft_tensor *in, const weft_tensor **inp) {
    for (int i = 0; in && i < g->n_inputs; i++) weft_tensor_free(&in[i]);
    free(in);
    free(inp);
}

/* --save-outputs DIR: each output as DIR/NAME.npy ('/' in a name becomes '_'). */
static weft_status save_outputs(const weft_graph *g, const weft_tensor *out, const char *dir, weft_err *err) {
    if (mkdir(dir, 0755) && errno != EEXIST) return weft_err_set(err, WEFT_ERR_IO, "%s: cannot create the folder: %s", dir, strerror(errno));
    for (int j = 0; j < g->n_outputs; j++) {
        char name[256], path[4400];
        snprintf(name, sizeof name, "%s", g->vals[g->outputs[j]].name);
        for (char *c = name; *c; c++)
            if (*c == '/' || *c == '\\') *c = '_';
        if (!name[0] || !strcmp(name, ".") || !strcmp(name, ".."))
            snprintf(name, sizeof name, "output_%d", j);
        for (int k = 0; k < j; k++) {  /* two outputs one file name: the later one numbered */
            char other[256];
            snprintf(other, sizeof other, "%s", g->vals[g->outputs[k]].name);
            for (char *c = other; *c; c++)
                if (*c == '/' || *c == '\\') *c = '_';
            if (!strcmp(other, name)) { snprintf(name, sizeof name, "output_%d", j); break; }
        }
        snprintf(path, sizeof path, "%s/%s.npy", dir, name);
        if (weft_npy_write(path, &out[j], err)) return err->status;
        printf("wrote %s\n", path);
    }
    return WEFT_OK;
}

static int cmd_run_ref(int argc, char **argv) {
    cli_list files = {0}, shapes = {0};
    const char *save = NULL;
    const cli_opt opts[] = {
        {"input", 0, CLI_LIST, &files, "NAME=FILE.npy", "the input NAME from a NumPy file (others: seeded random); repeatable"},
        {"input-shape", 0, CLI_LIST, &shapes, "NAME=8x32", "an ONNX input's shape, or a symbolic dimension (batch=8)"},
        {"save-outputs", 0, CLI_STR, &save, "DIR", "write each output to DIR/NAME.npy"},
        {0}};
    const cli_command c = {"run-ref", "MODEL", "runs MODEL on the reference executor (the host, op by op); prints each output's\n"
                           "mean, mean |x| and bits", opts, 1, 1};
    const char *model;
    int np, rc = cli_parse(&c, argc, argv, &model, &np);
    if (rc) return rc == CLI_HELP ? 0 : rc;
    char spec[4096];
    if ((rc = spec_with_shapes(model, &shapes, spec, sizeof spec))) return rc;
    weft_err err = {0};
    weft_graph *g;
    if (weft_model_load(spec, &g, &err)) return die(&err);
    weft_tensor *in;
    const weft_tensor **inp;
    if (make_inputs(g, &files, &in, &inp, &err)) {
        free_inputs(g, in, inp);
        weft_graph_free(g);
        return die(&err);
    }
    weft_tensor *out = weft_xcalloc((size_t)g->n_outputs + 1, sizeof *out);
    double t0 = now();
    weft_status s = weft_ref_run(g, inp, g->n_inputs, out, g->n_outputs, &err);
    double dt = now() - t0;
    if (s) return die(&err);
    weft_graph_stats st = weft_graph_count(g);
    printf("model %s: %lld parameters, %.3g GFLOP per forward pass\n", g->name, (long long)st.params, (double)st.flops * 1e-9);
    rc = save && save_outputs(g, out, save, &err) ? die(&err) : 0;
    for (int k = 0; k < g->n_outputs; k++) {
        char sh[128];
        double sum = 0, asum = 0;
        int64_t n = weft_tensor_numel(&out[k]);
        for (int64_t i = 0; i < n; i++) { double x = weft_tensor_get_f(&out[k], i); sum += x; asum += x < 0 ? -x : x; }
        printf("output %-20s %s %s  mean %.6g  mean|x| %.6g  bits %016llx\n", g->vals[g->outputs[k]].name,
               weft_dtype_name(out[k].dtype), weft_shape_str(&out[k].shape, sh, sizeof sh), n ? sum / (double)n : 0,
               n ? asum / (double)n : 0, (unsigned long long)weft_fnv64(out[k].data, weft_tensor_nbytes(&out[k])));
        weft_tensor_free(&out[k]);
    }
    printf("reference executor: %.3f s host time (%.2f GFLOP/s)\n", dt, (double)st.flops * 1e-9 / dt);
    for (int i = 0; i < g->n_inputs; i++) weft_tensor_free(&in[i]);
    free(in); free(inp); free(out);
    weft_graph_free(g);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool is_case(const char *dir) {
    char p[4200];
    struct stat st;
    if (strlen(dir) > 4096) return false;
    snprintf(p, sizeof p, "%s/model.onnx", dir);
    return !stat(p, &st);
}

static int cmd_onnx_test(int argc, char **argv) {
    weft_onnx_tol tol = WEFT_ONNX_TOL_DEFAULT;
    const char *expect = NULL, *arch_name = NULL;
    weft_arch arch_buf, *arch = NULL;
    const cli_opt opts[] = {
        {"arch", 0, CLI_STR, &arch_name, "A", "compile each case for machine A and simulate it (default: the reference executor)"},
        {"expect", 0, CLI_STR, &expect, "FILE", "the cases expected to pass, a name a line: exit 1 when one does not"},
        {"rtol", 0, CLI_NUM, &tol.rtol, "X", "relative tolerance (default 1e-3, as ONNX's backend tests)", 0, 1},
        {"atol", 0, CLI_NUM, &tol.atol, "X", "absolute tolerance (default 1e-7)", 0, 1},
        {0}};
    const cli_command c = {"onnx-test", "DIR...", "runs ONNX backend test cases (model.onnx + test_data_set_*): a case folder, or a\n"
                           "folder of them (/usr/share/onnx/...: Debian's libonnx-testdata)", opts, 1, 1 << 20};
    const char **dirs = weft_xcalloc((size_t)argc + 1, sizeof *dirs);
    int n_dirs, rc = cli_parse(&c, argc, argv, dirs, &n_dirs);
    if (rc) { free(dirs); return rc == CLI_HELP ? 0 : rc; }
    if (arch_name) {
        weft_err err = {0};
        if (weft_arch_get(arch_name, &arch_buf, &err)) { free(dirs); return die(&err); }
        arch = &arch_buf;
    }
    /* collect cases: a folder with model.onnx, or a folder of such folders */
    char **cases = NULL;
    int n = 0, cap = 0;
    for (int i = 0; i < n_dirs; i++) {
        if (is_case(dirs[i])) {
            if (n == cap) cases = weft_xrealloc(cases, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *cases);
            cases[n++] = weft_xstrdup(dirs[i]);
            continue;
        }
        DIR *d = opendir(dirs[i]);
        if (!d) { fprintf(stderr, "weft onnx-test: cannot open '%s'\n", dirs[i]); free(dirs); return 2; }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char p[4096];
            if (snprintf(p, sizeof p, "%s/%s", dirs[i], e->d_name) >= (int)sizeof p) continue;
            if (!is_case(p)) continue;
            if (n == cap) cases = weft_xrealloc(cases, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *cases);
            cases[n++] = weft_xstrdup(p);
        }
        closedir(d);
    }
    free(dirs);
    qsort(cases, (size_t)n, sizeof *cases, cmp_str);
    /* expected passes, by case folder name */
    char **want = NULL;
    int n_want = 0;
    if (expect) {
        FILE *f = fopen(expect, "r");
        if (!f) { fprintf(stderr, "weft onnx-test: cannot open expectation file '%s'\n", expect); return 2; }
        char line[512];
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = 0;
            if (!line[0] || line[0] == '#') continue;
            want = weft_xrealloc(want, (size_t)(n_want + 1) * sizeof *want);
            want[n_want++] = weft_xstrdup(line);
        }
        fclose(f);
    }
    int pass = 0, fail = 0, unsup = 0, regress = 0;
    for (int k = 0; k < n; k++) {
        char msg[1200];
        weft_onnx_result r = weft_onnx_test_case_on(cases[k], &tol, arch, msg, sizeof msg);
        const char *base = strrchr(cases[k], '/') ? strrchr(cases[k], '/') + 1 : cases[k];
        bool expected = false;
        for (int w = 0; w < n_want; w++)
            if (!strcmp(want[w], base)) expected = true;
        printf("%-11s %s: %s\n", r == WEFT_ONNX_PASS ? "PASS" : r == WEFT_ONNX_FAIL ? "FAIL" : "UNSUPPORTED", base, msg);
        if (r == WEFT_ONNX_PASS) pass++;
        else if (r == WEFT_ONNX_FAIL) fail++;
        else unsup++;
        if (expected && r != WEFT_ONNX_PASS) { regress++; printf("REGRESSION  %s was expected to pass\n", base); }
    }
    for (int w = 0; w < n_want; w++) {
        bool found = false;
        for (int k = 0; k < n && !found; k++) {
            const char *base = strrchr(cases[k], '/') ? strrchr(cases[k], '/') + 1 : cases[k];
            found = !strcmp(base, want[w]);
        }
        if (!found) { regress++; printf("REGRESSION  %s expected but not found\n", want[w]); }
    }
    printf("onnx-test: %d cases: %d passed, %d failed, %d unsupported%s\n", n, pass, fail, unsup,
           expect ? "" : "");
    if (expect) printf("onnx-test: %d of %d expected passes regressed\n", regress, n_want);
    for (int k = 0; k < n; k++) free(cases[k]);
    for (int w = 0; w < n_want; w++) free(want[w]);
    free(cases);
    free(want);
    return expect ? (regress ? 1 : 0) : (fail ? 1 : 0);
}

static int cmd_arch(int argc, char **argv) {
    bool json = false;
    const cli_opt opts[] = {{"json", 0, CLI_FLAG, &json, NULL, "show: the description as JSON (a file arch show reads back)"}, {0}};
    const cli_command c = {"arch", "list | show NAME|FILE.json", "list: the machine presets; show: one machine, its figures, assumptions and sources",
                           opts, 1, 2};
    const char *pos[2];
    int np, rc = cli_parse(&c, argc, argv, pos, &np);
    if (rc) return rc == CLI_HELP ? 0 : rc;
    if (!strcmp(pos[0], "list") && np == 1) {
        for (const char *const *n = weft_arch_preset_names(); *n; n++) {
            weft_arch a;
            weft_arch_preset(*n, &a, NULL);
            printf("%-12s %s\n", a.name, a.description);
        }
        return 0;
    }
    if (!strcmp(pos[0], "show") && np == 2) {
        weft_arch a;
        weft_err err = {0};
        if (weft_arch_get(pos[1], &a, &err)) return die(&err);
        if (json) {
            char *j = weft_arch_to_json(&a);
            printf("%s\n", j);
            free(j);
        } else weft_arch_print(&a, stdout);
        return 0;
    }
    fprintf(stderr, "weft arch: give 'list' or 'show NAME' (weft arch --help)\n");
    return 2;
}

/* ---- compile, run, check ---- */

typedef struct {
    const char *model, *arch, *report, *heatmap, *heatmap_sram, *output, *mode, *precision, *sections;
    bool timing_only, per_pe, arch_given, train;
    long long blocks, passes;
    long long batch, micro_batch;  /* --batch, --micro-batch (0: the model's); after load_program,
                                    * one chip's share of the batch */
    long long batch_per_chip;      /* --batch-per-chip (0: --batch over the replicas) */
    int accumulate;                /* micro-batches a step, as chosen (1: none) */
    long long replicas;            /* --replicas (0: every chip of the machine); as chosen after load_program */
    const char *trace;
    const char *vs;                /* --vs GPU[,GPU...]: the same workload estimated on GPUs */
    const char *profile;           /* --profile p.csv: a row a kernel */
    cli_list inputs;               /* --input NAME=FILE.npy */
    cli_list shapes;               /* --input-shape NAME=8x32 */
    const char *save_outputs;      /* --save-outputs DIR: each output as DIR/NAME.npy */
    char spec[4096];               /* MODEL with its --input-shape (a->model points here) */
} fabric_args;

/* The next name of a comma-separated list at *q (into one, at most len - 1 characters); *q moves
 * past it. False at the end. */
static bool next_name(const char **q, char *one, size_t len) {
    if (!*q || !**q) return false;
    size_t l = strcspn(*q, ",");
    snprintf(one, len, "%.*s", (int)(l < len - 1 ? l : len - 1), *q);
    *q += l + ((*q)[l] == ',');
    return true;
}

enum { FOR_COMPILE = 1, FOR_RUN = 2, FOR_CHECK = 4, FOR_ALL = 7 };

static const char *const fabric_about[3] = {
    "maps MODEL onto machine A in the mode that fits (pipelined, weight streaming, sections): its regions,\n"
    "routes and buffers; --train: its training step (forward, backward, AdamW update). -o writes the\n"
    "program file, which run and check take in place of MODEL",
    "simulates MODEL on the fabric of machine A (passes streamed back to back, the steady state) with its\n"
    "numbers, or --timing-only; prints the report: samples/s, latency, bottleneck, FLOP/s, PE utilization,\n"
    "SRAM, links, the busiest layers and kernels",
    "runs MODEL on the fabric of machine A and on the reference executor and compares every output\n"
    "(|diff| <= 1e-5 + 1e-4 |ref|); exits 1 on a mismatch"};

static int parse_fabric_args(int argc, char **argv, fabric_args *a, int which) {
    memset(a, 0, sizeof *a);
    a->arch = "wse2";
    a->precision = "fp32";
    const cli_opt all[] = {
        {"arch", 0, CLI_STR, &a->arch, "A", "the machine: a preset (weft arch list) or a JSON file (default wse2,\nthe full 750 x 994 WSE-2)", 0, 0, NULL, &a->arch_given},
        {"train", 0, CLI_FLAG, &a->train, NULL, "the training step instead of the forward pass (run: with --timing-only)"},
        {"timing-only", 0, CLI_FLAG, &a->timing_only, NULL, "time it without computing its numbers"},
        {"batch", 0, CLI_INT, &a->batch, "B", "the batch (builtin models, ONNX files re-batched); several chips:\nthe whole step's, split over them", 1, 1 << 20},
        {"batch-per-chip", 0, CLI_INT, &a->batch_per_chip, "B", "data parallel: each chip's batch", 1, 1 << 20},
        {"micro-batch", 0, CLI_INT, &a->micro_batch, "M", "a training step as --batch / M micro-batches, the gradients accumulated", 1, 1 << 20},
        {"replicas", 0, CLI_INT, &a->replicas, "N", "data parallel over N of the machine's chips (default all, timing only)", 1, 1 << 20},
        {"precision", 0, CLI_CHOICE, &a->precision, "P", "fp32 (default), bf16, fp16: storage of weights and activations", 0, 0, "fp32,bf16,fp16"},
        {"mode", 0, CLI_CHOICE, &a->mode, "M", "auto (default), pipelined, weight-streaming, sections", 0, 0, "auto,pipelined,weight-streaming,sections"},
        {"sections", 0, CLI_CHOICE, &a->sections, "C", "sections mode: how the graph is cut, o0 (a node a section), o1, o3 (default)", 0, 0, "auto,o0,o1,o3"},
        {"blocks", 0, CLI_INT, &a->blocks, "N", "at most N blocks a pass (the pipeline's grain)", 1, 4096},
        {"input-shape", 0, CLI_LIST, &a->shapes, "NAME=8x32", "an ONNX input's shape (binds its symbolic dimensions), or one\ndimension by its symbolic name (batch=8); repeatable"},
        {"input", 0, CLI_LIST, &a->inputs, "NAME=FILE.npy", "the input NAME from a NumPy file (others: seeded random); repeatable"},
        {"save-outputs", 0, CLI_STR, &a->save_outputs, "DIR", "write each output to DIR/NAME.npy"},
        {"per-pe", 0, CLI_FLAG, &a->per_pe, NULL, "compute tile by tile instead of one grouped kernel a region"},
        {"passes", 0, CLI_INT, &a->passes, "N", "passes streamed back to back (default 3)", 1, 64},
        {"report", 0, CLI_STR, &a->report, "FILE", "the report as JSON (docs/REPORT.md)"},
        {"profile", 0, CLI_STR, &a->profile, "FILE", "CSV, a row a kernel: region, busy, waiting, FLOP/s, bytes, bound"},
        {"trace", 0, CLI_STR, &a->trace, "FILE", "a Chrome trace (chrome://tracing, Perfetto) of the run"},
        {"vs", 0, CLI_STR, &a->vs, "GPU,...", "the same workload estimated on GPUs (a100, a100-40gb, h100, h200)\nand the speed-up over them"},
        {"output", 'o', CLI_STR, &a->output, "FILE", "write the compiled program (prog.weft)"},
        {"heatmap", 0, CLI_STR, &a->heatmap, "FILE.png", "the wafer coloured by layer"},
        {"heatmap-sram", 0, CLI_STR, &a->heatmap_sram, "FILE.png", "the wafer coloured by SRAM use"},
        {0}};
    static const unsigned char uses[] = {
        FOR_ALL, FOR_ALL, FOR_RUN, FOR_ALL, FOR_ALL, FOR_RUN, FOR_ALL, FOR_ALL, FOR_ALL, FOR_ALL, FOR_ALL, FOR_ALL,
        FOR_RUN | FOR_CHECK, FOR_RUN | FOR_CHECK, FOR_RUN | FOR_CHECK, FOR_RUN | FOR_CHECK, FOR_RUN | FOR_CHECK,
        FOR_RUN | FOR_CHECK, FOR_RUN, FOR_RUN | FOR_CHECK, FOR_COMPILE, FOR_ALL, FOR_ALL};
    _Static_assert(sizeof uses == sizeof all / sizeof *all - 1, "one use per option");
    cli_opt mine[sizeof all / sizeof *all];
    int n = 0;
    for (int i = 0; all[i].name; i++)
        if (uses[i] & which) mine[n++] = all[i];
    mine[n] = (cli_opt){0};
    int k = which == FOR_COMPILE ? 0 : which == FOR_RUN ? 1 : 2;
    cli_command c = {k == 0 ? "compile" : k == 1 ? "run" : "check", "MODEL", fabric_about[k], mine, 1, 1};
    const char *pos[1];
    int np, rc = cli_parse(&c, argc, argv, pos, &np);
    if (rc) return rc;
    if ((rc = spec_with_shapes(pos[0], &a->shapes, a->spec, sizeof a->spec))) return rc;
    a->model = a->spec;
    if (!strcmp(a->precision, "fp32")) a->precision = NULL;
    if (a->mode && !strcmp(a->mode, "auto")) a->mode = NULL;
    if (a->vs) {
        char one[64];
        for (const char *q = a->vs; next_name(&q, one, sizeof one);) {  /* every name known before anything runs */
            weft_gpu gpu;
            weft_err e = {0};
            if (weft_gpu_preset(one, &gpu, &e)) { fprintf(stderr, "weft: --vs: %s\n", e.msg); return 2; }
        }
    }
    a->accumulate = 1;
    if (a->micro_batch && !a->batch && !a->batch_per_chip) {
        fprintf(stderr, "weft: --micro-batch needs --batch (the step's samples) or --batch-per-chip\n");
        return 2;
    }
    if (a->micro_batch && (a->batch % a->micro_batch || !a->train || !a->timing_only)) {
        fprintf(stderr, "weft: --micro-batch M times a training step (--train --timing-only) of --batch B, a multiple of M\n");
        return 2;
    }
    if ((a->inputs.n || a->save_outputs) && a->timing_only) {
        fprintf(stderr, "weft: --input and --save-outputs are numbers; --timing-only computes none\n");
        return 2;
    }
    return 0;
}

/* Data parallel: how many of the machine's chips run the program (--replicas, else all), and
 * each one's share of the batch (--batch-per-chip, or --batch over them, or the model's own
 * batch each); a->batch becomes the share. */
static int split_batch(fabric_args *a, const weft_arch *arch) {
    /* (with numbers, run and check are one chip's: weft train runs data parallel with numbers) */
    int R = a->replicas ? a->replicas : a->timing_only ? arch->chips : 1;
    if (R > 1 && !a->timing_only) {
        fprintf(stderr, "weft: --replicas %d with numbers: run and check compute one chip's; time it (--timing-only --train), or "
                        "train it (weft train --arch %s)\n", R, arch->name);
        return 2;
    }
    if (R > arch->chips) {
        fprintf(stderr, "weft: --replicas %d: %s has %d chip%s\n", R, arch->name, arch->chips, arch->chips == 1 ? "" : "s");
        return 2;
    }
    if (a->batch_per_chip && a->batch && a->batch != a->batch_per_chip * R) {
        fprintf(stderr, "weft: --batch %lld is not --batch-per-chip %lld times %d replicas\n", a->batch, a->batch_per_chip, R);
        return 2;
    }
    if (a->batch && !a->batch_per_chip && a->batch % R) {
        fprintf(stderr, "weft: --batch %lld does not divide over the %d replicas of %s (its chips); give a multiple of %d, or "
                        "--replicas, or --batch-per-chip\n", a->batch, R, arch->name, R);
        return 2;
    }
    a->replicas = R;
    if (a->batch_per_chip) a->batch = a->batch_per_chip;
    else if (a->batch) a->batch /= R;
    if (a->micro_batch && a->batch % a->micro_batch) {
        fprintf(stderr, "weft: --micro-batch %lld does not divide one chip's share of the batch (%lld)\n", a->micro_batch, a->batch);
        return 2;
    }
    if (a->micro_batch) a->accumulate = (int)(a->batch / a->micro_batch);
    return 0;
}

/* Joules in a readable unit: "12.3 J", "4.56 mJ", "7.8 uJ". */
static char *joules_str(double j, char *buf, size_t n) {
    if (j >= 1) snprintf(buf, n, "%.4g J", j);
    else if (j >= 1e-3) snprintf(buf, n, "%.4g mJ", j * 1e3);
    else snprintf(buf, n, "%.4g uJ", j * 1e6);
    return buf;
}

static int64_t peak_rss_bytes(void) { return weft_report_peak_rss(); }

/* Tokens per sample: a sequence model's input is int64 (batch, seq). */
static int64_t tokens_per_pass(const weft_graph *g, int64_t *samples) {
    *samples = 1;
    for (int i = 0; i < g->n_inputs; i++) {
        const weft_value *v = &g->vals[g->inputs[i]];
        if (v->shape.ndim >= 1) *samples = v->shape.d[0];
        if (v->dtype == WEFT_I64 && v->shape.ndim == 2) return v->shape.d[0] * v->shape.d[1];
    }
    return 0;
}

static void print_stats(const weft_program *p, const weft_sim_stats *st, double host_s, FILE *f) {
    int64_t samples, tokens = tokens_per_pass(p->graph, &samples);
    int R = st->replicas > 1 ? st->replicas : 1;
    samples *= R;
    tokens *= R;
    fprintf(f, "simulated on %s in %s mode: %d passes %s (%llu events)\n", p->arch.name, p->mode, st->passes,
            p->phased ? "one after another, each its layers in turn" : "streamed back to back", (unsigned long long)st->events);
    if (R > 1) {
        static const char *const nets[] = WEFT_NET_NAMES;
        double c = (double)st->period_cycles, x = c > (double)st->alone_period_cycles ? c - (double)st->alone_period_cycles : 0;
        char how[96];
        if (p->weight_streaming) snprintf(how, sizeof how, "by the switch on their way to the off-chip unit");
        else snprintf(how, sizeof how, "all-reduced, the network busy %.1f%% of a pass", 100 * (double)st->chip_net_cycles / c);
        char gb[24];
        fprintf(f, "  data parallel   %d chips, each %lld of the %lld samples; %s network: %s of gradients summed a pass, %s; "
                   "not hidden %.1f%% of a pass; scaling efficiency %.1f%% (against one chip running its share alone)\n",
                R, (long long)(samples / R), (long long)samples, nets[p->arch.chip_net],
                weft_bytes_str((double)st->chip_net_bytes, gb, sizeof gb), how,
                100 * x / c, 100 * (double)st->alone_period_cycles / c);
    }
    fprintf(f, "  samples/s       %.6g in the steady state (a pass of %lld every %llu cycles = %.6g ms)\n",
            (double)samples * st->passes_per_s, (long long)samples, (unsigned long long)st->period_cycles,
            1e3 / st->passes_per_s);
    if (tokens) fprintf(f, "  tokens/s        %.6g in the steady state\n", (double)tokens * st->passes_per_s);
    fprintf(f, "  latency         %llu cycles = %.6g ms for one pass through the empty pipeline, at %.3g GHz\n",
            (unsigned long long)st->cycles, st->seconds * 1e3, p->arch.clock_hz * 1e-9);
    const weft_node *bn = p->n && st->bottleneck >= 0 ? &p->graph->nodes[p->k[st->bottleneck].node] : NULL;
    if (st->bottleneck == WEFT_BOTTLENECK_OFFCHIP)
        fprintf(f, "  bottleneck      the off-chip link (%.4g GB/s), busy %.1f%% of the run\n", p->arch.offchip_bytes_per_s * 1e-9,
                100 * st->bottleneck_busy);
    if (st->bottleneck == WEFT_BOTTLENECK_BUFFERS)
        fprintf(f, "  bottleneck      the buffers: blocks wait for room in their consumers' input buffers, so passes end further apart "
                   "than the busiest resource (busy %.1f%% of the run) needs\n", 100 * st->bottleneck_busy);
    if (st->bottleneck == WEFT_BOTTLENECK_UPDATES)
        fprintf(f, "  bottleneck      the updates: a pass starts when the last one's optimizer updates are done (one step's latency)\n");
    if (st->bottleneck == WEFT_BOTTLENECK_WEIGHTS)
        fprintf(f, "  bottleneck      the weights: layers wait for their weights over the off-chip link (%.4g GB/s), %.1f%% of a pass\n",
                p->arch.offchip_bytes_per_s * 1e-9, 100 * st->bottleneck_busy);
    if (st->accumulate > 1)
        fprintf(f, "  step            %d micro-batches of %lld samples (gradients accumulated): %.6g ms a step of %lld samples%s\n",
                st->accumulate, (long long)samples, 1e3 * st->accumulate / st->passes_per_s, (long long)samples * st->accumulate,
                st->passes < st->accumulate ? " (its last 8 simulated, the rest like the first 7)" : "");
    if (p->phased && !p->weight_streaming) {
        double c = (double)st->period_cycles;
        char in[24], out[24];
        fprintf(f, "  DDR             %s in (weights, spilled tensors read back), %s out a pass; waiting for them between "
                   "sections %.1f%% of a pass\n", weft_bytes_str((double)st->weight_bytes_in, in, sizeof in),
                weft_bytes_str((double)st->gradient_bytes_out, out, sizeof out),
                100 * (double)st->weight_wait_cycles / c);
    } else if (p->phased) {
        double c = (double)st->period_cycles;
        char in[24], out[24];
        fprintf(f, "  weight stream   %s in, %s of gradients out a pass; of a pass: layers %.1f%%, waiting for weights "
                   "%.1f%%, off-chip updates %.1f%% (busy)\n", weft_bytes_str((double)st->weight_bytes_in, in, sizeof in),
                weft_bytes_str((double)st->gradient_bytes_out, out, sizeof out),
                100 * (double)st->layer_cycles / c, 100 * (double)st->weight_wait_cycles / c, 100 * (double)st->update_cycles / c);
    }
    if (st->bottleneck == WEFT_BOTTLENECK_LINK) {
        int64_t tile = st->link_busiest / 4;
        int kk[3], qq[3], n = weft_program_edges_on_link(p, st->link_busiest, kk, qq, 3);
        fprintf(f, "  bottleneck      the link %s of tile (%lld, %lld), busy %.1f%% of the run, carrying %d edge%s:", weft_dir_name((int)(st->link_busiest % 4)),
                (long long)(tile % p->arch.width), (long long)(tile / p->arch.width), 100 * st->bottleneck_busy, n, n == 1 ? "" : "s");
        for (int j = 0; j < n && j < 3; j++)
            fprintf(f, "%s '%s' -> '%s'", j ? "," : "", weft_program_dep_source(p, kk[j], qq[j]), p->graph->nodes[p->k[kk[j]].node].name);
        fprintf(f, "%s\n", n > 3 ? ", ..." : "");
    }
    if (bn && p->phased && !p->weight_streaming)
        fprintf(f, "  bottleneck      the sections, one after another (below); the busiest kernel is %d '%s' (%s)\n", st->bottleneck,
                bn->name, bn->op->name);
    else if (bn && p->phased)
        fprintf(f, "  bottleneck      the layers' arithmetic and data movement, %.1f%% of a pass; the longest layer is kernel %d '%s' (%s)\n",
                100 * st->bottleneck_busy, st->bottleneck, bn->name, bn->op->name);
    else if (bn)
        fprintf(f, "  bottleneck      kernel %d '%s' (%s), busy %.1f%% of the run\n", st->bottleneck, bn->name, bn->op->name,
                100 * st->bottleneck_busy);
    fprintf(f, "  FLOP/s          %.4g achieved of %.4g peak %s (%.2f%%)%s\n", st->achieved_flops, st->peak_flops, st->peak_dtype,
            st->peak_flops > 0 ? 100 * st->achieved_flops / st->peak_flops : 0, R > 1 ? ", all chips" : "");
    fprintf(f, "  PE utilization  %.4f%% of the tiles in use (their arithmetic-busy cycles in a period; the FLOP/s above are over "
               "every tile)\n", 100 * st->pe_utilization);
    fprintf(f, "  tiles used      %lld\n", (long long)st->tiles_used);
    char b1[24], b2[24];
    fprintf(f, "  SRAM per tile   max %s, mean %s\n", weft_bytes_str((double)st->sram_bytes_max, b1, sizeof b1),
            weft_bytes_str(st->sram_bytes_mean, b2, sizeof b2));
    fprintf(f, "  links           max load %.4f, mean %.6f; %llu messages, %s, %s x hops\n", st->link_load_max, st->link_load_mean,
            (unsigned long long)st->messages, weft_bytes_str((double)st->bytes_moved, b1, sizeof b1),
            weft_bytes_str((double)st->byte_hops, b2, sizeof b2));
    weft_energy_estimate e;
    weft_energy_of_run(p, st, &e);
    if (e.modelled) {
        double t = e.joules > 0 ? e.joules : 1;
        char j1[32], j2[32], j3[32];
        fprintf(f, "  energy          %s a pass = %s a sample%s%s, %.4g %s on average (an estimate: arithmetic %.0f%%, fabric "
                   "%.0f%%, off-chip %.0f%%, static %.0f%%; the model in weft arch show %s)\n", joules_str(e.joules, j1, sizeof j1),
                joules_str(e.joules / (double)samples, j2, sizeof j2), tokens ? ", " : "",
                tokens ? strcat(joules_str(e.joules / (double)tokens, j3, sizeof j3 - 8), " a token") : "",
                e.watts >= 1e3 ? e.watts * 1e-3 : e.watts, e.watts >= 1e3 ? "kW" : "W",
                100 * e.arith_j / t, 100 * e.fabric_j / t, 100 * e.offchip_j / t, 100 * e.static_j / t, p->arch.name);
    }
    fprintf(f, "  host            %.3f s, peak RSS %s\n", host_s, weft_bytes_str((double)peak_rss_bytes(), b1, sizeof b1));
}

/* The five busiest kernels: simulated busy and waiting cycles beside the plan's stage x blocks. */
static void print_kernels(const weft_program *p, const weft_sim_stats *st, const weft_kernel_time *kt, FILE *f) {
    int top[5] = {-1, -1, -1, -1, -1};
    for (int i = 0; i < p->n; i++)
        for (int r = 0; r < 5; r++)
            if (top[r] < 0 || kt[i].busy > kt[top[r]].busy) {
                memmove(&top[r + 1], &top[r], (size_t)(4 - r) * sizeof *top);
                top[r] = i;
                break;
            }
    /* the layers (report/json.c's roll-up) whose kernels were busiest, as shares of all busy cycles */
    cJSON *r = cJSON_CreateObject();
    weft_report_add_layers(r, p, kt, st->passes);
    const cJSON *ls = cJSON_GetObjectItem(r, "layers"), *best[5] = {0}, *x;
    cJSON_ArrayForEach(x, ls)
        for (int t = 0; t < 5; t++)
            if (!best[t] || cJSON_GetObjectItem(x, "busy_share")->valuedouble > cJSON_GetObjectItem(best[t], "busy_share")->valuedouble) {
                memmove(&best[t + 1], &best[t], (size_t)(4 - t) * sizeof *best);
                best[t] = x;
                break;
            }
    fprintf(f, "  busiest layers ");
    for (int t = 0; t < 5 && best[t]; t++)
        fprintf(f, "%s%s %.1f%%", t ? ", " : "", cJSON_GetStringValue(cJSON_GetObjectItem(best[t], "layer")),
                100 * cJSON_GetObjectItem(best[t], "busy_share")->valuedouble);
    fprintf(f, " of the kernels' busy cycles (the JSON report's \"layers\")\n");
    cJSON_Delete(r);
    fprintf(f, "  busiest kernels over %d passes (cycles): planned busy = stage x blocks x passes\n", st->passes);
    fprintf(f, "    %-4s %-28s %-12s %12s %12s %12s %12s\n", "#", "node", "op", "planned", "busy", "waiting", "last end");
    for (int r = 0; r < 5 && top[r] >= 0; r++) {
        const weft_kernel *k = &p->k[top[r]];
        const weft_node *n = &p->graph->nodes[k->node];
        fprintf(f, "    %-4d %-28.28s %-12.12s %12llu %12llu %12llu %12llu\n", top[r], n->name, n->op->name,
                (unsigned long long)(k->block_cycles * (uint64_t)k->blocks * (uint64_t)st->passes),
                (unsigned long long)kt[top[r]].busy, (unsigned long long)kt[top[r]].waiting, (unsigned long long)kt[top[r]].last_end);
    }
}

/* Sections: each one's kernels, tiles, time (first pass), the bytes it loads and spills, and what
 * bounds it: DDR when its off-chip traffic takes half its time or more, else the arithmetic when
 * its busiest kernel's flops at the tiles' rate do, else the fabric (data movement, fill). */
static void print_sections(const weft_program *p, const uint64_t *start, const uint64_t *end, FILE *f) {
    const weft_arch *a = &p->arch;
    double per = a->offchip_bytes_per_s / a->clock_hz;
    fprintf(f, "  sections: %d (time of the first pass; GB loaded: weights and resident operands, spilled: written to DDR, "
               "read: read back)\n", p->n_phases);
    fprintf(f, "    %-4s %-28s %6s %6s %12s %10s %10s %10s  %s\n", "#", "first node", "ops", "tiles", "cycles", "GB loaded",
            "GB spilled", "GB read", "bound");
    for (int j = 0; j < p->n_phases; j++) {
        if (p->n_phases > 24 && j >= 12 && j < p->n_phases - 12) {
            if (j == 12) fprintf(f, "    ... (%d more)\n", p->n_phases - 24);
            continue;
        }
        const weft_phase *ph = &p->phases[j];
        int64_t tiles = 0;
        double arith = 0;
        for (int i = ph->first_kernel; i < ph->first_kernel + ph->n_kernels; i++) {
            const weft_kernel *k = &p->k[i];
            tiles += (int64_t)k->w * k->h;
            double t = (double)k->flops / (weft_kernel_rate(p, k) * (double)((int64_t)k->w * k->h > 0 ? (int64_t)k->w * k->h : 1));
            if (t > arith) arith = t;
        }
        double dur = end[j] > start[j] ? (double)(end[j] - start[j]) : 1;
        double ddr = (double)(ph->weight_in_bytes + ph->fill_bytes + ph->spill_bytes) / per;
        const char *bound = ddr >= 0.5 * dur ? "DDR" : arith >= 0.5 * dur ? "compute" : "fabric";
        fprintf(f, "    %-4d %-28.28s %6d %6lld %12.0f %10.4g %10.4g %10.4g  %s\n", j, p->graph->nodes[p->k[ph->first_kernel].node].name,
                ph->n_kernels, (long long)tiles, dur, (double)ph->weight_in_bytes * 1e-9, (double)ph->spill_bytes * 1e-9,
                (double)ph->fill_bytes * 1e-9, bound);
    }
}

/* --vs: the same graph estimated on each GPU (report/gpu.h), and the simulated machine's
 * speed-up over it: chip for GPU, and the whole machine against an 8-GPU node (its GPUs taken to
 * scale linearly, data parallel). Adds each to the JSON report r when given. */
static int compare_gpus(const weft_program *p, const weft_sim_stats *st, const char *list, cJSON *r) {
    int64_t samples;
    tokens_per_pass(p->graph, &samples);
    int R = st->replicas > 1 ? st->replicas : 1;
    double rate = (double)samples * R * st->passes_per_s;  /* the machine's samples/s */
    cJSON *arr = r ? cJSON_AddArrayToObject(r, "gpus") : NULL;
    char one[64];
    for (const char *q = list; next_name(&q, one, sizeof one);) {
        weft_gpu gpu;
        weft_gpu_estimate e;
        weft_err err = {0};
        if (weft_gpu_preset(one, &gpu, &err) || weft_gpu_time(p->graph, &gpu, &e, &err)) return die(&err);
        double per_gpu = (double)samples / (e.seconds * e.gpus);
        weft_gpu_print(&gpu, &e, stdout);
        weft_energy_estimate me;
        weft_energy_of_run(p, st, &me);
        double gj = weft_energy_of_gpu(&gpu, &e), per_j_gpu = gj > 0 ? (double)samples / gj : 0;
        double per_j = me.modelled && me.joules > 0 ? (double)samples * R / me.joules : 0;
        char g1[32], g2[32];
        printf("  GPU energy      %s %s a pass = %s a sample (%.0f W a GPU board x its time x (%.0f%% idle + the busy share): "
               "an estimate)%s", gpu.name, joules_str(gj, g1, sizeof g1), joules_str(gj / (double)samples, g2, sizeof g2), gpu.watts,
               100 * WEFT_GPU_IDLE_FRAC, per_j > 0 ? "" : "\n");
        if (per_j > 0) printf("; %s per joule: %.3gx the GPU's samples\n", p->arch.name, per_j / per_j_gpu);
        printf("  vs %-12s %.4g samples/s a GPU (%d GPU%s for a pass of %lld); %s: %.3gx per chip (one chip against one GPU), %.3gx against "
               "an 8-GPU node\n", gpu.name, per_gpu, e.gpus, e.gpus == 1 ? "" : "s", (long long)samples, p->arch.name, rate / R / per_gpu,
               rate / (8 * per_gpu));
        cJSON *o = arr ? cJSON_CreateObject() : NULL;
        if (!o) continue;
        cJSON_AddStringToObject(o, "gpu", gpu.name);
        cJSON_AddNumberToObject(o, "seconds", e.seconds);
        cJSON_AddNumberToObject(o, "gpus", e.gpus);
        cJSON_AddNumberToObject(o, "samples_per_s_per_gpu", per_gpu);
        cJSON_AddNumberToObject(o, "speedup_per_chip", rate / R / per_gpu);
        cJSON_AddNumberToObject(o, "speedup_vs_8_gpus", rate / (8 * per_gpu));
        cJSON_AddNumberToObject(o, "compute_seconds", e.compute_s);
        cJSON_AddNumberToObject(o, "memory_seconds", e.memory_s);
        cJSON_AddNumberToObject(o, "launch_seconds", e.launch_s);
        cJSON_AddNumberToObject(o, "comm_seconds", e.comm_s);
        cJSON_AddNumberToObject(o, "bytes_per_gpu", e.bytes_per_gpu);
        cJSON_AddNumberToObject(o, "joules", gj);
        cJSON_AddNumberToObject(o, "joules_per_sample", gj / (double)samples);
        if (per_j > 0) cJSON_AddNumberToObject(o, "speedup_per_joule", per_j / per_j_gpu);
        cJSON_AddItemToArray(arr, o);
    }
    return 0;
}

static int write_report(const char *path, const weft_program *p, const weft_sim_stats *st, const weft_kernel_time *kt,
                        double host_s, const char *vs) {
    int64_t samples, tokens = tokens_per_pass(p->graph, &samples);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "model", p->graph->name);
    weft_report_add_stats(r, p, st, samples, tokens, 1.0 / st->passes_per_s);
    weft_report_add_kernels(r, p, kt, st->passes);
    weft_report_add_layers(r, p, kt, st->passes);
    weft_energy_estimate e;
    weft_energy_of_run(p, st, &e);
    if (e.modelled) {
        cJSON *en = cJSON_AddObjectToObject(r, "energy");
        int R = st->replicas > 1 ? st->replicas : 1;
        cJSON_AddNumberToObject(en, "joules_per_pass", e.joules);
        cJSON_AddNumberToObject(en, "joules_per_sample", e.joules / (double)(samples * R));
        if (tokens) cJSON_AddNumberToObject(en, "joules_per_token", e.joules / (double)(tokens * R));
        cJSON_AddNumberToObject(en, "watts", e.watts);
        cJSON_AddNumberToObject(en, "arithmetic_joules", e.arith_j);
        cJSON_AddNumberToObject(en, "fabric_joules", e.fabric_j);
        cJSON_AddNumberToObject(en, "offchip_joules", e.offchip_j);
        cJSON_AddNumberToObject(en, "static_joules", e.static_j);
        cJSON_AddNumberToObject(en, "offchip_bytes", e.offchip_bytes);
    }
    if (vs && compare_gpus(p, st, vs, r)) { cJSON_Delete(r); return 1; }
    cJSON_AddNumberToObject(r, "host_seconds", host_s);
    weft_err err = {0};
    weft_status s = weft_report_write(r, path, &err);
    cJSON_Delete(r);
    return s ? die(&err) : 0;
}

static int write_pictures(const weft_program *p, const fabric_args *a) {
    weft_err err = {0};
    if (a->heatmap) {
        if (weft_report_heatmap(p, a->heatmap, "layer", &err)) return die(&err);
        printf("wrote %s (regions by layer)\n", a->heatmap);
    }
    if (a->heatmap_sram) {
        if (weft_report_heatmap(p, a->heatmap_sram, "sram", &err)) return die(&err);
        printf("wrote %s (SRAM per tile)\n", a->heatmap_sram);
    }
    return 0;
}

static bool is_program_file(const char *path) {
    size_t n = strlen(path);
    return n > 5 && !strcmp(path + n - 5, ".weft");
}

/* The model and its program: compiled now for --arch, or loaded from a .weft program file (which
 * recompiles and checks the stored placement). */
/* The compiler's progress on a terminal: one line, rewritten in place. */
static void show_progress(void *ctx, int plan, int plans, int blocks, const char *pass) {
    fprintf(stderr, "\r\033[Kcompiling for %s: plan %d of %d (%d blocks): %s", (const char *)ctx, plan, plans, blocks, pass);
    fflush(stderr);
}

/* Loads or compiles the program; with shapes_only (a compile that writes no program file, a
 * timing-only run) a built-in's parameters stay zero and the GEMM tiles get no weights. */

/* The graph of `spec` (the training step's with --train) in a->precision, compiled; errors in err. */
static weft_status build_and_compile(const fabric_args *a, const char *spec, const weft_arch *arch, bool shapes_only, weft_graph **g,
                                     weft_program **p, weft_err *err) {
    weft_dtype dt = !a->precision || !strcmp(a->precision, "fp32") ? WEFT_F32 : !strcmp(a->precision, "bf16") ? WEFT_BF16 : WEFT_F16;
    *g = NULL;
    char shapes[1024];
    if (a->train && shapes_only && !strncmp(spec, "builtin:", 8)) {  /* timed only: parameters stay zero, no size limit on activations */
        if (weft_model_spec_set(spec, "shapes_only", 1, shapes, sizeof shapes, err)) return err->status;
        spec = shapes;
    }
    if (a->train) {
        /* the training step: forward, loss, backward, clipping and the AdamW update (train/) */
        weft_train_config c = weft_train_defaults();
        c.arch = arch;
        c.precision = dt;
        weft_trainer *t;
        if (weft_train_new(spec, &c, &t, err)) return err->status;
        *g = t->gu;
        t->gu = NULL;
        weft_train_free(t);
        if (!*g) return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: fp16 training updates on the host (loss scaling): no step to time", spec);
    } else {
        if ((shapes_only ? weft_model_load_shapes : weft_model_load)(spec, g, err)) return err->status;
        if (dt != WEFT_F32) {
            weft_graph *c = NULL;
            weft_status s = weft_precision_cast(*g, dt, &c, err);
            weft_graph_free(*g);
            *g = c;
            if (s) return s;
        }
    }
    weft_compile_opts o = {.max_blocks = a->blocks, .timing_only = shapes_only, .mode = a->mode, .sections = a->sections,
                           .replicas = a->replicas};
    if (isatty(STDERR_FILENO)) o.progress = show_progress, o.progress_ctx = (void *)arch->name;
    weft_status s = weft_compile(*g, arch, &o, p, err);
    if (o.progress) fputs("\r\033[K", stderr);
    if (s) { weft_graph_free(*g); *g = NULL; }
    return s;
}

/* The micro-batch a weight-streaming fit error suggests ("fits: about M" for the kept
 * activations, "would fit a batch of at most M" for one layer's buffers), 0 if none. */
static long long micro_batch_hint(const char *msg) {
    const char *q = strstr(msg, "fits: about "), *r = strstr(msg, "would fit a batch of at most ");
    long long m = 0;
    if (q && sscanf(q + 12, "%lld", &m) == 1) return m;
    return r && strstr(msg, "weight streaming") && sscanf(r + 29, "%lld", &m) == 1 ? m : 0;
}

static int load_program(fabric_args *a, bool shapes_only, weft_graph **g, weft_program **p) {
    weft_err err = {0};
    if (is_program_file(a->model)) {
        if (weft_program_load(a->model, g, p, &err)) return die(&err);
        if (a->arch_given && strcmp(a->arch, (*p)->arch.name)) {
            fprintf(stderr, "weft: error: %s was compiled for '%s', not '%s'; compile it again for that machine\n", a->model,
                    (*p)->arch.name, a->arch);
            return 2;
        }
        return 0;
    }
    weft_arch arch;
    if (weft_arch_get(a->arch, &arch, &err)) return die(&err);
    /* timed only, every tensor beyond 64 KB mapped on its own: the zeroed parameters, optimizer
     * state and their copies are never written, so they take no memory (recycled heap memory
     * would be cleared, faulting it all in: a 1.5 B model's training step took 16 GB) */
    if (shapes_only) mallopt(M_MMAP_THRESHOLD, 64 << 10);
    int rc = split_batch(a, &arch);
    if (rc) return rc;
    char spec[4096];
    if (snprintf(spec, sizeof spec, "%s", a->model) >= (int)sizeof spec) { fprintf(stderr, "weft: MODEL too long\n"); return 2; }
    if ((a->batch || a->micro_batch) && weft_model_spec_set(a->model, "batch", a->micro_batch ? a->micro_batch : a->batch, spec, sizeof spec, &err))
        return die(&err);
    weft_status s = build_and_compile(a, spec, &arch, shapes_only, g, p, &err);
    /* a training step whose activations do not fit in weight streaming: micro-batches of the
     * largest divisor of the batch that fits, the gradients accumulated (timed only) */
    /* (also where one tensor of the step's graph exceeds weft's size limit at the whole batch) */
    long long hint = s ? micro_batch_hint(err.msg) : 0, batch = a->batch;
    if (s && !hint && strstr(err.msg, "-byte limit")) hint = batch - 1;
    if (s && hint > 0 && a->train && a->timing_only && batch > 1 && !a->micro_batch) {
        weft_err first = err, last_fit = {0};  /* the last larger micro-batch's reason */
        for (long long m = hint < batch ? hint : batch - 1; m >= 1 && s; m--) {
            if (batch % m) continue;
            if (weft_model_spec_set(a->model, "batch", m, spec, sizeof spec, &err)) return die(&err);
            memset(&err, 0, sizeof err);
            s = build_and_compile(a, spec, &arch, shapes_only, g, p, &err);
            if (!s && !(*p)->weight_streaming) {  /* accumulation is timed in weight streaming only */
                s = weft_err_set(&err, WEFT_ERR_UNSUPPORTED, "a micro-batch of %lld compiles in %s mode, which does not accumulate", m, (*p)->mode);
                weft_program_free(*p);
                weft_graph_free(*g);
                *p = NULL;
                *g = NULL;
            }
            if (!s) {
                a->micro_batch = m;
                a->accumulate = (int)(batch / m);
                printf("micro-batches: %d of %lld samples a step, the gradients accumulated, as a batch of %lld does not fit "
                       "(%s)%s%s\n", a->accumulate, m, batch, first.msg, last_fit.msg[0] ? "; nor a larger micro-batch: " : "", last_fit.msg);
            } else {
                last_fit = err;
                if (getenv("WEFT_VERBOSE")) fprintf(stderr, "weft: micro-batch %lld: %s\n", m, err.msg);
            }
            if (s && micro_batch_hint(err.msg) && micro_batch_hint(err.msg) < m) m = micro_batch_hint(err.msg) + 1;
            else if (s && !micro_batch_hint(err.msg) && !strstr(err.msg, "-byte limit") && !strstr(err.msg, "activations kept"))
                break;  /* fails for another reason */
        }
        if (s) err = first;
    }
    if (s) return die(&err);
    if ((*p)->mode_reason[0]) printf("mode: %s\n", (*p)->mode_reason);
    if ((*p)->n_recomputed)
        printf("recomputation: %d activations (%.4g GB) are made again where the backward pass reads them, as keeping them all "
               "does not fit\n", (*p)->n_recomputed, (double)(*p)->recomputed_bytes * 1e-9);
    return 0;
}

static int cmd_compile(int argc, char **argv) {
    fabric_args a;
    int rc = parse_fabric_args(argc, argv, &a, FOR_COMPILE);
    if (rc) return rc == CLI_HELP ? 0 : rc;
    weft_graph *g;
    weft_program *p;
    double t0 = now();
    if ((rc = load_program(&a, !a.output, &g, &p))) return rc;
    weft_program_print(p, stdout);
    printf("\ncompiled in %.3f s\n", now() - t0);
    if (a.output) {
        weft_err err = {0};
        if (weft_program_save(p, a.output, &err)) rc = die(&err);
        else printf("wrote %s\n", a.output);
    }
    if (!rc) rc = write_pictures(p, &a);
    weft_program_free(p);
    weft_graph_free(g);
    return rc;
}

/* run and check share this: compile, simulate, and (check) compare with the reference. */
static int fabric(int argc, char **argv, bool check) {
    fabric_args a;
    int rc = parse_fabric_args(argc, argv, &a, check ? FOR_CHECK : FOR_RUN);
    if (rc) return rc == CLI_HELP ? 0 : rc;
    if (check && a.timing_only) { fprintf(stderr, "weft check: --timing-only computes no numbers to check\n"); return 2; }
    if (a.train && !a.timing_only) {
        fprintf(stderr, "weft: --train here simulates the timing of a training step (--timing-only); weft train runs steps on data\n");
        return 2;
    }
    weft_err err = {0};
    weft_graph *g;
    weft_program *p;
    double t0 = now();
    if ((rc = load_program(&a, a.timing_only, &g, &p))) return rc;
    weft_tensor *in = NULL;
    const weft_tensor **inp = NULL;
    if (!a.timing_only && make_inputs(g, &a.inputs, &in, &inp, &err)) {
        free_inputs(g, in, inp);
        weft_program_free(p);
        weft_graph_free(g);
        return die(&err);
    }
    weft_tensor *out = weft_xcalloc((size_t)g->n_outputs + 1, sizeof *out);
    weft_sim_stats st;
    weft_sim_opts so = {.timing_only = a.timing_only, .per_pe = a.per_pe, .passes = a.passes, .accumulate = a.accumulate};
    struct weft_sim_detail detail = {0};
    weft_kernel_time *ktimes = weft_xcalloc((size_t)p->n + 1, sizeof *ktimes);
    uint64_t *ph_start = weft_xcalloc((size_t)p->n_phases + 1, sizeof *ph_start), *ph_end = weft_xcalloc((size_t)p->n_phases + 1, sizeof *ph_end);
    detail.kernels = ktimes;
    detail.phase_start = ph_start;
    detail.phase_end = ph_end;
    so.detail = &detail;
    weft_trace *trace = NULL;
    if (a.trace && !(trace = weft_trace_open(p, a.trace, &detail, &err))) return die(&err);
    if (trace) {
        /* a first run, timing only, finds the busiest link, whose occupation the trace shows */
        weft_sim_opts pre = {.timing_only = true, .passes = a.passes, .accumulate = a.accumulate};
        weft_sim_stats ps;
        if (weft_sim_run(p, NULL, 0, NULL, g->n_outputs, &pre, &ps, &err)) { weft_trace_abort(trace); return die(&err); }
        weft_trace_watch_link(trace, &detail, ps.link_busiest);
    }
    if (weft_sim_run(p, inp, g->n_inputs, out, g->n_outputs, &so, &st, &err)) { weft_trace_abort(trace); return die(&err); }
    if (trace && weft_trace_close(trace, a.trace, &err)) return die(&err);
    double host = now() - t0;
    rc = 0;
    if (check) {
        weft_tensor *ref = weft_xcalloc((size_t)g->n_outputs + 1, sizeof *ref);
        if (weft_ref_run(g, inp, g->n_inputs, ref, g->n_outputs, &err)) return die(&err);
        const double rtol = 1e-4, atol = 1e-5;
        for (int j = 0; j < g->n_outputs; j++) {
            double worst_abs = 0, worst_rel = 0;
            bool bad = false;
            int64_t n = weft_tensor_numel(&ref[j]);
            for (int64_t i = 0; i < n; i++) {
                double x = weft_tensor_get_f(&out[j], i), y = weft_tensor_get_f(&ref[j], i), d = fabs(x - y);
                if (d > worst_abs) worst_abs = d;
                if (d / (fabs(y) > 1e-30 ? fabs(y) : 1e-30) > worst_rel && d > atol) worst_rel = d / fabs(y);
                if (!(d <= atol + rtol * fabs(y))) bad = true;
            }
            char rel[64];
            if (worst_rel > 0) snprintf(rel, sizeof rel, "worst relative %.3g where |diff| > atol %g", worst_rel, atol);
            else snprintf(rel, sizeof rel, "every |diff| within atol %g", atol);
            printf("output %-24s worst |diff| %.3g, %s: %s\n", g->vals[g->outputs[j]].name, worst_abs, rel, bad ? "MISMATCH" : "ok");
            if (bad) rc = 1;
            weft_tensor_free(&ref[j]);
        }
        free(ref);
        printf("check: fabric vs reference executor, tolerance |diff| <= %g + %g |ref|: %s\n", atol, rtol, rc ? "FAILED" : "passed");
    }
    if (a.save_outputs && save_outputs(g, out, a.save_outputs, &err)) rc = die(&err);
    /* the outputs' bits, so runs can be compared exactly (threads, --per-pe, machines) */
    for (int j = 0; j < g->n_outputs && !a.timing_only; j++)
        printf("output %-24s bits %016llx\n", g->vals[g->outputs[j]].name,
               (unsigned long long)weft_fnv64(out[j].data, weft_tensor_nbytes(&out[j])));
    print_stats(p, &st, host, stdout);
    print_kernels(p, &st, ktimes, stdout);
    if (p->phased && !p->weight_streaming) print_sections(p, ph_start, ph_end, stdout);
    if (a.vs && !a.report && compare_gpus(p, &st, a.vs, NULL)) rc = 1;
    if (a.profile) {
        if (weft_report_profile_csv(p, ktimes, st.passes, a.profile, &err)) rc = die(&err);
        else printf("wrote %s (a row a kernel)\n", a.profile);
    }
    if (a.report && write_report(a.report, p, &st, ktimes, host, a.vs)) rc = 1;
    else if (a.report) printf("wrote %s\n", a.report);
    free(ktimes);
    free(ph_start);
    free(ph_end);
    if (write_pictures(p, &a)) rc = 1;
    for (int j = 0; j < g->n_outputs; j++) weft_tensor_free(&out[j]);
    for (int i = 0; in && i < g->n_inputs; i++) weft_tensor_free(&in[i]);
    free(in); free(inp); free(out);
    weft_program_free(p);
    weft_graph_free(g);
    return rc;
}

/* The main job, end to end: a small byte-level GPT trained on a simulated WSE-2 patch from the
 * license texts every Debian machine has (the loss falls well below ln 256 = 5.55), then one
 * forward pass checked against the reference executor with the report and the wafer pictures,
 * then GPT-2 124M simulated (timing only) on the full 750 x 994 WSE-2. Files go to out/. */
static int cmd_demo(int argc, char **argv) {
    const cli_opt none[] = {{0}};
    const cli_command c = {"demo", NULL, "the main job, end to end: a small byte-level GPT trained on a simulated WSE-2 patch,\n"
                           "one forward pass checked against the reference, GPT-2 124M timed on the full WSE-2;\n"
                           "files go to ./out", none, 0, 0};
    int np, rc0 = cli_parse(&c, argc, argv, NULL, &np);
    if (rc0) return rc0 == CLI_HELP ? 0 : rc0;
    const char *model = "builtin:gpt:layers=2,dim=128,heads=4,vocab=256,seq=64";
    if (mkdir("out", 0755) && errno != EEXIST) { perror("weft demo: out/"); return 1; }
    printf("== 1. training a byte-level GPT (2 layers, dim 128) on the fabric of wse2-mini (3,072 PEs),\n"
           "      forward, backward and the AdamW update simulated, from /usr/share/common-licenses;\n"
           "      a uniform guess scores ln 256 = 5.55\n\n");
    char *train[] = {"train", (char *)model, "--arch", "wse2-mini", "--batch", "2", "--steps", "1000", "--lr", "3e-3", "--warmup", "30",
                     "--eval-every", "100", "--eval-batches", "16", "--log", "out/train.csv", "--checkpoint", "out/checkpoint",
                     "--every", "500"};
    int rc = weft_cli_train((int)(sizeof train / sizeof *train), train);
    if (rc) return rc;
    printf("\n== 1b. the trained model continues a prompt (weft generate, on the reference executor)\n\n");
    char *gen[] = {"generate", (char *)model, "--checkpoint", "out/checkpoint", "--prompt", "This program is free software",
                   "--tokens", "160", "--temperature", "0.6"};
    rc = weft_cli_generate((int)(sizeof gen / sizeof *gen), gen);
    if (rc) return rc;
    printf("\n== 2. one forward pass compiled onto wse2-mini, checked against the reference executor\n\n");
    char *check[] = {"check", (char *)model, "--arch", "wse2-mini", "--report", "out/report.json", "--heatmap", "out/wafer.png",
                     "--heatmap-sram", "out/sram.png"};
    rc = fabric((int)(sizeof check / sizeof *check), check, true);
    if (rc) return rc;
    printf("\n== 3. GPT-2 124M on the full WSE-2 (750 x 994 PEs), timing only\n\n");
    char *big[] = {"run", "builtin:gpt2:seq=1024", "--arch", "wse2", "--timing-only", "--report", "out/gpt2-wse2.json", "--heatmap",
                   "out/gpt2-wse2.png"};
    rc = fabric((int)(sizeof big / sizeof *big), big, false);
    if (!rc)
        printf("\nfiles: out/train.csv (loss per step), out/checkpoint/, out/report.json, out/wafer.png, out/sram.png,\n"
               "       out/gpt2-wse2.json, out/gpt2-wse2.png\n");
    return rc;
}

/* OpenBLAS starts its worker threads in a constructor, before main, from OPENBLAS_NUM_THREADS. weft
 * calls BLAS single-threaded (src/kernels/gemm.c), so the workers only cost: under a memory limit
 * (prlimit --as) a worker spins for ever retrying its 128 MB buffer and exit() joins it, so weft
 * hangs after printing its error. The variable must be set before the library loads: when it is
 * not "1", set it and run this same program again (once: the second run sees it set). */
static void blas_single_threaded(char **argv) {
    const char *v = getenv("OPENBLAS_NUM_THREADS");
    if (v && !strcmp(v, "1")) return;
    if (setenv("OPENBLAS_NUM_THREADS", "1", 1)) return;
    execv("/proc/self/exe", argv);
    /* no /proc: go on with the workers (the hang under a memory limit stays possible) */
}

/* weft export CKPT --safetensors F: a checkpoint's trained weights, by the model's names. */
static int cmd_export(int argc, char **argv) {
    const char *st = NULL, *onnx = NULL;
    const cli_opt opts[] = {
        {"safetensors", 0, CLI_STR, &st, "FILE", "the trained parameters as safetensors (safetensors.torch.load_file reads it;\n"
                                                 "the names are the model's: a PyTorch export's state_dict keys)"},
        {"onnx", 0, CLI_STR, &onnx, "FILE", "the ONNX model trained (an ONNX file's checkpoint) with its trained initializers"},
        {0}};
    const cli_command c = {"export", "CHECKPOINT", "writes the trained weights of a checkpoint (a file, or the folder weft train\n"
                           "--checkpoint wrote) for other tools", opts, 1, 1};
    const char *ck;
    int np, rc = cli_parse(&c, argc, argv, &ck, &np);
    if (rc) return rc == CLI_HELP ? 0 : rc;
    if (!st && !onnx) { fprintf(stderr, "weft export: give what to write (--safetensors FILE, --onnx FILE)\n"); return 2; }
    char path[4200];
    weft_cli_checkpoint_path(ck, path, sizeof path);
    weft_err err = {0};
    weft_graph *g;
    int64_t steps;
    if (weft_checkpoint_weights(path, &g, &steps, &err)) return die(&err);
    char meta[256], spec[4096];
    snprintf(meta, sizeof meta, "{\"format\": \"pt\", \"producer\": \"weft %s\", \"steps\": \"%lld\"}", WEFT_VERSION, (long long)steps);
    weft_graph_stats gs = weft_graph_count(g);
    int tensors = 0, replaced = 0;
    for (int v = 0; v < g->n_vals; v++) tensors += g->vals[v].kind == WEFT_VAL_PARAM;
    weft_status s = st ? weft_safetensors_write(st, g, meta, &err) : WEFT_OK;
    if (!s && st) printf("wrote %s: %d parameters (%lld values) of %s after %lld steps\n", st, tensors, (long long)gs.params, path, (long long)steps);
    if (!s && onnx && !(s = weft_checkpoint_spec(path, spec, sizeof spec, &err))) {
        if (!strncmp(spec, "builtin:", 8)) s = weft_err_set(&err, WEFT_ERR_INVALID, "%s: trained from %s, which has no ONNX file (--safetensors)", path, spec);
        else {
            spec[strcspn(spec, "#")] = 0;  /* the file, without the shapes given */
            s = weft_onnx_save_trained(spec, g, onnx, &replaced, &err);
            if (!s) printf("wrote %s: %s with %d of its initializers trained (%d parameters)\n", onnx, spec, replaced, tensors);
        }
    }
    weft_graph_free(g);
    return s ? die(&err) : 0;
}

static int cmd_run(int argc, char **argv) { return fabric(argc, argv, false); }
static int cmd_check(int argc, char **argv) { return fabric(argc, argv, true); }
static int cmd_models(int argc, char **argv) {
    const cli_opt none[] = {{0}};
    const cli_command c = {"models", NULL, "lists the built-in models and their keys (MODEL: builtin:NAME[:key=value,...])", none, 0, 0};
    int np, rc = cli_parse(&c, argc, argv, NULL, &np);
    if (rc) return rc == CLI_HELP ? 0 : rc;
    weft_model_list(stdout);
    return 0;
}

int main(int argc, char **argv) {
    blas_single_threaded(argv);
    if (argc < 2) { usage(stderr); return 2; }
    /* Tensors come and go by the megabyte: keep freed memory in the heap for the next one
     * instead of returning it to the kernel and faulting fresh pages in again. Beyond 32 MB
     * they are mapped on their own: a zeroed tensor that is never written (the parameters of a
     * timing-only run, what it folds from them) then costs no memory at all. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    const char *cmd = argv[1];
    static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
        {"inspect", cmd_inspect}, {"run-ref", cmd_run_ref}, {"onnx-test", cmd_onnx_test}, {"models", cmd_models},
        {"demo", cmd_demo},       {"arch", cmd_arch},       {"compile", cmd_compile},     {"train", weft_cli_train},
        {"sweep", weft_cli_sweep}, {"run", cmd_run},        {"check", cmd_check},     {"export", cmd_export},
        {"eval", weft_cli_eval},  {"generate", weft_cli_generate},
    };
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) { printf("weft %s\n", WEFT_VERSION); return 0; }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        if (argc == 2) { usage(stdout); return 0; }
        cmd = argv[2];  /* weft help CMD: CMD --help */
        for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
            if (!strcmp(cmd, cmds[i].name)) return cmds[i].fn(2, (char *[]){argv[2], "--help", NULL});
    }
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
        if (!strcmp(cmd, cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "weft: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
