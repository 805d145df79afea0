/* cli: the weft command. */
#include "arch/arch.h"
#include "ir/ir.h"
#include "models/models.h"
#include "onnx/onnx_test.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: weft COMMAND [ARGS]\n"
            "\n"
            "  inspect MODEL              print the graph: op counts, parameters, FLOPs and bytes, per-op table\n"
            "  run-ref MODEL              run MODEL on the reference executor with seeded random inputs\n"
            "  onnx-test [--expect FILE] [--rtol X] [--atol X] DIR...\n"
            "                             run ONNX backend test cases (model.onnx + test_data_set_*)\n"
            "  models                     list the built-in models\n"
            "  arch list                  the machine presets\n"
            "  arch show NAME|FILE.json [--json]\n"
            "                             a machine description, its assumptions and sources\n"
            "  demo                       the main job, end to end\n"
            "\n"
            "MODEL is a path to an ONNX file or builtin:NAME[:key=value,...], e.g. builtin:gpt2.\n");
}

static int die(const weft_err *err) {
    fprintf(stderr, "weft: error: %s\n", err->msg);
    return err->status == WEFT_ERR_INVALID || err->status == WEFT_ERR_SHAPE ? 2 : 1;
}

static int cmd_inspect(int argc, char **argv) {
    if (argc < 1) { usage(stderr); return 2; }
    weft_err err = {0};
    weft_graph *g;
    if (weft_model_load(argv[0], &g, &err)) return die(&err);
    weft_graph_print(g, stdout);
    weft_graph_free(g);
    return 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Runs MODEL on the reference executor with inputs drawn from a seeded RNG; prints a summary. */
static int cmd_run_ref(int argc, char **argv) {
    if (argc < 1) { usage(stderr); return 2; }
    weft_err err = {0};
    weft_graph *g;
    if (weft_model_load(argv[0], &g, &err)) return die(&err);
    weft_tensor *in = weft_xcalloc((size_t)g->n_inputs + 1, sizeof *in);
    const weft_tensor **inp = weft_xcalloc((size_t)g->n_inputs + 1, sizeof *inp);
    weft_rng rng;
    weft_rng_seed(&rng, 1, 0);
    for (int i = 0; i < g->n_inputs; i++) {
        const weft_value *v = &g->vals[g->inputs[i]];
        if (weft_tensor_alloc(&in[i], v->dtype, v->shape, &err)) return die(&err);
        int64_t n = weft_tensor_numel(&in[i]);
        /* integer inputs (token ids) are drawn below 64, so they index any vocabulary >= 64 */
        for (int64_t k = 0; k < n; k++) {
            float x = weft_rng_normal(&rng);
            int64_t id = weft_rng_u32(&rng) % 64;
            if (weft_dtype_is_float(v->dtype)) weft_convert((char *)in[i].data + k * (int64_t)weft_dtype_size(v->dtype), v->dtype, &x, WEFT_F32, 1);
            else weft_convert((char *)in[i].data + k * (int64_t)weft_dtype_size(v->dtype), v->dtype, &id, WEFT_I64, 1);
        }
        inp[i] = &in[i];
    }
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
        printf("output %-20s %s %s  mean %.6g  mean|x| %.6g\n", g->vals[g->outputs[k]].name, weft_dtype_name(out[k].dtype),
               weft_shape_str(&out[k].shape, sh, sizeof sh), n ? sum / (double)n : 0, n ? asum / (double)n : 0);
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
    int i = 0;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--expect") && i + 1 < argc) expect = argv[++i];
        else if (!strcmp(argv[i], "--rtol") && i + 1 < argc) tol.rtol = atof(argv[++i]);
        else if (!strcmp(argv[i], "--atol") && i + 1 < argc) tol.atol = atof(argv[++i]);
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
        weft_onnx_result r = weft_onnx_test_case(cases[k], &tol, msg, sizeof msg);
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

static int cmd_demo(void) {
    printf("weft demo: GPT-style model on the reference executor\n\n");
    char *a[] = {"builtin:gpt:layers=2,dim=128,heads=4,vocab=256,seq=64"};
    int rc = cmd_inspect(1, a);
    if (rc) return rc;
    printf("\n");
    return cmd_run_ref(1, a);
}

int main(int argc, char **argv) {
    if (argc < 2) { usage(stderr); return 2; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "inspect")) return cmd_inspect(argc - 2, argv + 2);
    if (!strcmp(cmd, "run-ref")) return cmd_run_ref(argc - 2, argv + 2);
    if (!strcmp(cmd, "onnx-test")) return cmd_onnx_test(argc - 2, argv + 2);
    if (!strcmp(cmd, "models")) { weft_model_list(stdout); return 0; }
    if (!strcmp(cmd, "demo")) return cmd_demo();
    if (!strcmp(cmd, "arch")) return cmd_arch(argc - 2, argv + 2);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) { usage(stdout); return 0; }
    fprintf(stderr, "weft: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
