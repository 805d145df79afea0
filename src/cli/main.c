/* cli: the weft command. */
#include "arch/arch.h"
#include "compile/compile.h"
#include "sim/run.h"
#include "ir/ir.h"
#include "models/models.h"
#include "onnx/onnx_test.h"
#include "report/report.h"
#include "report/gpu.h"
#include "io/io.h"
#include "cli/sweep.h"
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
            "usage: weft COMMAND [ARGS]\n"
            "\n"
            "  inspect MODEL [--json]              print the graph: op counts, parameters, FLOPs and bytes, per-op table\n"
            "  run-ref MODEL              run MODEL on the reference executor with seeded random inputs\n"
            "  onnx-test [--arch A] [--expect FILE] [--rtol X] [--atol X] DIR...\n"
            "                             run ONNX backend test cases (model.onnx + test_data_set_*) on the\n"
            "                             reference executor, or compiled for machine A and simulated\n"
            "  compile MODEL [--arch A] [--train] [--blocks N] [-o prog.weft] [--heatmap h.png] [--heatmap-sram s.png]\n"
            "                             map MODEL onto machine A (default wse2-mini) in pipelined mode; --train:\n"
            "                             its training step (forward, backward, AdamW update)\n"
            "  run MODEL [--arch A] [--timing-only [--train]] [--per-pe] [--passes N] [--trace t.json] [--report r.json] [--heatmap h.png]\n"
            "            [--vs a100|a100-40gb|h100|h200,...]  the same workload estimated on GPUs, and the speed-up over them\n"
            "                             simulate one forward pass on the fabric; print the report\n"
            "  check MODEL [--arch A] [--per-pe]\n"
            "                             fabric vs reference executor; non-zero exit on mismatch\n"
            "  sweep MODEL --arch A,B --batch N,M [--precision P,Q] [--train] [--vs GPU] [-o sweep.csv]\n"
            "                             the grid timed, a point a process, as many at once as the host has cores\n"
            "  train MODEL [--arch A] --steps N [--batch B] [--lr X] [--optimizer adamw|sgd|momentum]\n"
            "        [--data FILE] [--checkpoint DIR] [--every K] [--resume] [--log loss.csv]\n"
            "                             train on the reference executor, or on the fabric of machine A\n"
            "  models                     list the built-in models\n"
            "  arch list                  the machine presets\n"
            "  arch show NAME|FILE.json [--json]\n"
            "                             a machine description, its assumptions and sources\n"
            "  demo                       the main job, end to end\n"
            "\n"
            "MODEL is a path to an ONNX file or builtin:NAME[:key=value,...], e.g. builtin:gpt2; run and\n"
            "check also take a program file written by compile -o (prog.weft).\n");
}

static int die(const weft_err *err) {
    fprintf(stderr, "weft: error: %s\n", err->msg);
    return err->status == WEFT_ERR_INVALID || err->status == WEFT_ERR_SHAPE ? 2 : 1;
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
    const char *model = NULL;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = true;
        else if (argv[i][0] == '-') { fprintf(stderr, "weft inspect: unknown option '%s' (--json)\n", argv[i]); return 2; }
        else if (!model) model = argv[i];
        else { fprintf(stderr, "weft inspect: unexpected argument '%s'\n", argv[i]); return 2; }
    }
    if (!model) { usage(stderr); return 2; }
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

/* Runs MODEL on the reference executor with inputs drawn from a seeded RNG; prints a summary. */
/* Inputs drawn from a seeded RNG: floats N(0, 1), integers (token ids) below 64 so they index
 * any vocabulary of at least 64. */
static weft_status make_inputs(const weft_graph *g, weft_tensor **in_out, const weft_tensor ***inp_out, weft_err *err) {
    weft_tensor *in = weft_xcalloc((size_t)g->n_inputs + 1, sizeof *in);
    const weft_tensor **inp = weft_xcalloc((size_t)g->n_inputs + 1, sizeof *inp);
    weft_rng rng;
    weft_rng_seed(&rng, 1, 0);
    for (int i = 0; i < g->n_inputs; i++) {
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
    *in_out = in;
    *inp_out = inp;
    return WEFT_OK;
}

static int cmd_run_ref(int argc, char **argv) {
    if (argc < 1) { usage(stderr); return 2; }
    weft_err err = {0};
    weft_graph *g;
    if (weft_model_load(argv[0], &g, &err)) return die(&err);
    weft_tensor *in;
    const weft_tensor **inp;
    if (make_inputs(g, &in, &inp, &err)) return die(&err);
    weft_tensor *out = weft_xcalloc((size_t)g->n_outputs + 1, sizeof *out);
    double t0 = now();
    weft_status s = weft_ref_run(g, inp, g->n_inputs, out, g->n_outputs, &err);
    double dt = now() - t0;
    if (s) return die(&err);
    weft_graph_stats st = weft_graph_count(g);
    printf("model %s: %lld parameters, %.3g GFLOP per forward pass\n", g->name, (long long)st.params, (double)st.flops * 1e-9);
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
    return 0;
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
    const char *expect = NULL;
    weft_arch arch_buf, *arch = NULL;
    int i = 0;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--expect") && i + 1 < argc) expect = argv[++i];
        else if (!strcmp(argv[i], "--rtol") && i + 1 < argc) tol.rtol = atof(argv[++i]);
        else if (!strcmp(argv[i], "--atol") && i + 1 < argc) tol.atol = atof(argv[++i]);
        else if (!strcmp(argv[i], "--arch") && i + 1 < argc) {
            weft_err err = {0};
            if (weft_arch_get(argv[++i], &arch_buf, &err)) return die(&err);
            arch = &arch_buf;
        }
        else { fprintf(stderr, "weft onnx-test: unknown option '%s'\n", argv[i]); return 2; }
    }
    if (i == argc) { usage(stderr); return 2; }
    /* collect cases: a folder with model.onnx, or a folder of such folders */
    char **cases = NULL;
    int n = 0, cap = 0;
    for (; i < argc; i++) {
        if (is_case(argv[i])) {
            if (n == cap) cases = weft_xrealloc(cases, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *cases);
            cases[n++] = weft_xstrdup(argv[i]);
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d) { fprintf(stderr, "weft onnx-test: cannot open '%s'\n", argv[i]); return 2; }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char p[4096];
            if (snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name) >= (int)sizeof p) continue;
            if (!is_case(p)) continue;
            if (n == cap) cases = weft_xrealloc(cases, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *cases);
            cases[n++] = weft_xstrdup(p);
        }
        closedir(d);
    }
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
    if (argc >= 1 && !strcmp(argv[0], "list")) {
        for (const char *const *n = weft_arch_preset_names(); *n; n++) {
            weft_arch a;
            weft_arch_preset(*n, &a, NULL);
            printf("%-12s %s\n", a.name, a.description);
        }
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[0], "show")) {
        weft_arch a;
        weft_err err = {0};
        if (weft_arch_get(argv[1], &a, &err)) return die(&err);
        if (argc >= 3 && !strcmp(argv[2], "--json")) {
            char *j = weft_arch_to_json(&a);
            printf("%s\n", j);
            free(j);
        } else weft_arch_print(&a, stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}

/* ---- compile, run, check ---- */

typedef struct {
    const char *model, *arch, *report, *heatmap, *heatmap_sram, *output, *mode, *precision, *sections;
    bool timing_only, per_pe, arch_given, train;
    int blocks, passes;
    long long batch, micro_batch;  /* --batch, --micro-batch (0: the model's); after load_program,
                                    * one chip's share of the batch */
    long long batch_per_chip;      /* --batch-per-chip (0: --batch over the replicas) */
    int accumulate;                /* micro-batches a step, as chosen (1: none) */
    int replicas;                  /* --replicas (0: every chip of the machine); as chosen after load_program */
    const char *trace;
    const char *vs;                /* --vs GPU[,GPU...]: the same workload estimated on GPUs */
    const char *profile;           /* --profile p.csv: a row a kernel */
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

static int parse_fabric_args(int argc, char **argv, fabric_args *a) {
    memset(a, 0, sizeof *a);
    a->arch = "wse2-mini";
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--arch") && i + 1 < argc) { a->arch = argv[++i]; a->arch_given = true; }
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) a->output = argv[++i];
        else if (!strcmp(argv[i], "--blocks") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 4096) { fprintf(stderr, "weft: --blocks needs an integer from 1 to 4096, got '%s'\n", argv[i]); return 2; }
            a->blocks = (int)v;
        }
        else if (!strcmp(argv[i], "--report") && i + 1 < argc) a->report = argv[++i];
        else if (!strcmp(argv[i], "--heatmap") && i + 1 < argc) a->heatmap = argv[++i];
        else if (!strcmp(argv[i], "--heatmap-sram") && i + 1 < argc) a->heatmap_sram = argv[++i];
        else if (!strcmp(argv[i], "--timing-only")) a->timing_only = true;
        else if (!strcmp(argv[i], "--per-pe")) a->per_pe = true;
        else if (!strcmp(argv[i], "--passes") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 64) { fprintf(stderr, "weft: --passes needs an integer from 1 to 64, got '%s'\n", argv[i]); return 2; }
            a->passes = (int)v;
        } else if (!strcmp(argv[i], "--trace") && i + 1 < argc) a->trace = argv[++i];
        else if (!strcmp(argv[i], "--profile") && i + 1 < argc) a->profile = argv[++i];
        else if (!strcmp(argv[i], "--vs") && i + 1 < argc) {
            a->vs = argv[++i];
            char one[64];
            for (const char *q = a->vs; next_name(&q, one, sizeof one);) {  /* every name known before anything runs */
                weft_gpu gpu;
                weft_err e = {0};
                if (weft_gpu_preset(one, &gpu, &e)) { fprintf(stderr, "weft: --vs: %s\n", e.msg); return 2; }
            }
        }
        else if (!strcmp(argv[i], "--train")) a->train = true;
        else if (!strcmp(argv[i], "--mode") && i + 1 < argc) a->mode = argv[++i];
        else if (!strcmp(argv[i], "--sections") && i + 1 < argc) a->sections = argv[++i];
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc) {
            a->precision = argv[++i];
            if (strcmp(a->precision, "fp32") && strcmp(a->precision, "bf16") && strcmp(a->precision, "fp16")) {
                fprintf(stderr, "weft: --precision '%s' is not fp32, bf16 or fp16\n", a->precision);
                return 2;
            }
        } else if ((!strcmp(argv[i], "--batch") || !strcmp(argv[i], "--micro-batch") || !strcmp(argv[i], "--batch-per-chip") ||
                    !strcmp(argv[i], "--replicas")) && i + 1 < argc) {
            char *end;
            long long v = strtoll(argv[i + 1], &end, 10);
            if (*end || v < 1 || v > 1 << 20) { fprintf(stderr, "weft: %s needs an integer from 1 to 1048576, got '%s'\n", argv[i], argv[i + 1]); return 2; }
            if (!strcmp(argv[i], "--replicas")) a->replicas = (int)v;
            else *(!strcmp(argv[i], "--batch") ? &a->batch : !strcmp(argv[i], "--micro-batch") ? &a->micro_batch : &a->batch_per_chip) = v;
            i++;
        }
        else if (argv[i][0] == '-') { fprintf(stderr, "weft: unknown option '%s'\n", argv[i]); return 2; }
        else if (!a->model) a->model = argv[i];
        else { fprintf(stderr, "weft: unexpected argument '%s'\n", argv[i]); return 2; }
    }
    if (!a->model) { usage(stderr); return 2; }
    a->accumulate = 1;
    if (a->micro_batch && !a->batch && !a->batch_per_chip) {
        fprintf(stderr, "weft: --micro-batch needs --batch (the step's samples) or --batch-per-chip\n");
        return 2;
    }
    if (a->micro_batch && (a->batch % a->micro_batch || !a->train || !a->timing_only)) {
        fprintf(stderr, "weft: --micro-batch M times a training step (--train --timing-only) of --batch B, a multiple of M\n");
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
    char spec[1024];
    snprintf(spec, sizeof spec, "%s", a->model);
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
    int rc = parse_fabric_args(argc, argv, &a);
    if (rc) return rc;
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
    int rc = parse_fabric_args(argc, argv, &a);
    if (rc) return rc;
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
    if (!a.timing_only && make_inputs(g, &in, &inp, &err)) return die(&err);
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
static int cmd_demo(void) {
    const char *model = "builtin:gpt:layers=2,dim=128,heads=4,vocab=256,seq=64";
    if (mkdir("out", 0755) && errno != EEXIST) { perror("weft demo: out/"); return 1; }
    printf("== 1. training a byte-level GPT (2 layers, dim 128) on the fabric of wse2-mini (3,072 PEs),\n"
           "      forward, backward and the AdamW update simulated, from /usr/share/common-licenses;\n"
           "      a uniform guess scores ln 256 = 5.55\n\n");
    char *train[] = {(char *)model, "--arch", "wse2-mini", "--batch", "2", "--steps", "1000", "--lr", "3e-3", "--warmup", "30",
                     "--eval-every", "100", "--eval-batches", "16", "--log", "out/train.csv", "--checkpoint", "out/checkpoint",
                     "--every", "500"};
    int rc = weft_cli_train((int)(sizeof train / sizeof *train), train);
    if (rc) return rc;
    printf("\n== 2. one forward pass compiled onto wse2-mini, checked against the reference executor\n\n");
    char *check[] = {(char *)model, "--arch", "wse2-mini", "--report", "out/report.json", "--heatmap", "out/wafer.png",
                     "--heatmap-sram", "out/sram.png"};
    rc = fabric((int)(sizeof check / sizeof *check), check, true);
    if (rc) return rc;
    printf("\n== 3. GPT-2 124M on the full WSE-2 (750 x 994 PEs), timing only\n\n");
    char *big[] = {"builtin:gpt2:seq=1024", "--arch", "wse2", "--timing-only", "--report", "out/gpt2-wse2.json", "--heatmap",
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
    if (!strcmp(cmd, "inspect")) return cmd_inspect(argc - 2, argv + 2);
    if (!strcmp(cmd, "run-ref")) return cmd_run_ref(argc - 2, argv + 2);
    if (!strcmp(cmd, "onnx-test")) return cmd_onnx_test(argc - 2, argv + 2);
    if (!strcmp(cmd, "models")) { weft_model_list(stdout); return 0; }
    if (!strcmp(cmd, "demo")) return cmd_demo();
    if (!strcmp(cmd, "arch")) return cmd_arch(argc - 2, argv + 2);
    if (!strcmp(cmd, "compile")) return cmd_compile(argc - 2, argv + 2);
    if (!strcmp(cmd, "train")) return weft_cli_train(argc - 2, argv + 2);
    if (!strcmp(cmd, "sweep")) return weft_cli_sweep(argc - 2, argv + 2);
    if (!strcmp(cmd, "run")) return fabric(argc - 2, argv + 2, false);
    if (!strcmp(cmd, "check")) return fabric(argc - 2, argv + 2, true);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) { usage(stdout); return 0; }
    fprintf(stderr, "weft: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
