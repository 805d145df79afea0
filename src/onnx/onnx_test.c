/* onnx: running ONNX backend test cases (model.onnx beside test_data_set_N/{input,output}_K.pb)
 * on the reference executor, compared with ONNX's tolerances. */
#include "onnx/onnx_test.h"
#include "ir/ir.h"
#include "compile/compile.h"
#include "sim/run.h"

#include <dirent.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Loads prefix_0.pb, prefix_1.pb, ... from dir into ts (at most max). Returns the count or -1. */
static int load_set(const char *dir, const char *prefix, weft_tensor *ts, int max, weft_err *err) {
    int n = 0;
    for (; n < max; n++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s_%d.pb", dir, prefix, n);
        struct stat st;
        if (stat(path, &st)) break;
        if (weft_onnx_load_tensor(path, &ts[n], NULL, 0, err)) {
            for (int i = 0; i < n; i++) weft_tensor_free(&ts[i]);
            return -1;
        }
    }
    return n;
}

/* ONNX's comparison: |a - e| <= atol + rtol * |e|, NaN equal to NaN, infinities exactly. */
static bool close_enough(double a, double e, double rtol, double atol) {
    if (isnan(e)) return isnan(a);
    if (isinf(e)) return a == e;
    return fabs(a - e) <= atol + rtol * fabs(e);
}

weft_onnx_result weft_onnx_test_case(const char *dir, const weft_onnx_tol *tol, char *msg, size_t msg_len) {
    return weft_onnx_test_case_on(dir, tol, NULL, msg, msg_len);
}

/* Runs g on the fabric of arch: compile, simulate. */
static weft_status run_fabric(const weft_graph *g, const weft_arch *arch, const weft_tensor *const *feed, int n_feed,
                              weft_tensor *got, int n_got, weft_err *err) {
    weft_program *p;
    weft_compile_opts o = {.replicas = 1};  /* (one chip's numbers, whatever the machine) */
    weft_status s = weft_compile(g, arch, &o, &p, err);
    if (s == WEFT_ERR_NOMEM) s = err->status = WEFT_ERR_UNSUPPORTED;  /* does not fit this machine */
    if (s) return s;
    weft_sim_opts so = {0};
    weft_sim_stats st;
    s = weft_sim_run(p, feed, n_feed, got, n_got, &so, &st, err);
    weft_program_free(p);
    return s;
}

weft_onnx_result weft_onnx_test_case_on(const char *dir, const weft_onnx_tol *tol, const weft_arch *arch, char *msg,
                                        size_t msg_len) {
    weft_err err = {0};
    char model[4096];
    snprintf(model, sizeof model, "%s/model.onnx", dir);
    /* Data sets, sorted */
    DIR *d = opendir(dir);
    if (!d) { snprintf(msg, msg_len, "cannot open %s", dir); return WEFT_ONNX_FAIL; }
    char *sets[64];
    int n_sets = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n_sets < 64)
        if (!strncmp(e->d_name, "test_data_set_", 14)) sets[n_sets++] = weft_xstrdup(e->d_name);
    closedir(d);
    qsort(sets, (size_t)n_sets, sizeof *sets, cmp_str);
    weft_onnx_result res = WEFT_ONNX_PASS;
    double worst = 0;
    snprintf(msg, msg_len, "%d data set%s", n_sets, n_sets == 1 ? "" : "s");
    if (!n_sets) { snprintf(msg, msg_len, "no test_data_set_* in %s", dir); res = WEFT_ONNX_FAIL; }
    for (int si = 0; si < n_sets && res == WEFT_ONNX_PASS; si++) {
        char sdir[4096];
        snprintf(sdir, sizeof sdir, "%s/%s", dir, sets[si]);
        weft_tensor in[32] = {{0}}, want[32] = {{0}}, got[32] = {{0}};
        int n_in = load_set(sdir, "input", in, 32, &err), n_want = n_in < 0 ? -1 : load_set(sdir, "output", want, 32, &err);
        if (n_in < 0 || n_want < 0) {
            /* a data file that is not a tensor: the model's own types usually say why */
            weft_graph *probe = NULL;
            weft_err e2 = {0};
            if (weft_onnx_load(model, NULL, 0, &probe, &e2)) err = e2;
            weft_graph_free(probe);
            snprintf(msg, msg_len, "%s", err.msg);
            res = err.status == WEFT_ERR_UNSUPPORTED ? WEFT_ONNX_UNSUPPORTED : WEFT_ONNX_FAIL;
            for (int i = 0; i < (n_in > 0 ? n_in : 0); i++) weft_tensor_free(&in[i]);
            break;
        }
        const weft_tensor *bound[32];
        for (int i = 0; i < n_in; i++) bound[i] = &in[i];
        weft_graph *g = NULL;
        bool stays[32] = {0};
        weft_status s = weft_onnx_load_bound(model, bound, n_in, stays, &g, &err);
        if (!s && g->n_outputs != n_want)
            s = weft_err_set(&err, WEFT_ERR_INVALID, "model has %d outputs, the data set %d", g->n_outputs, n_want);
        if (!s) {
            /* feed the graph inputs that stayed inputs, in order */
            const weft_tensor *feed[32];
            int n_feed = 0;
            weft_tensor views[32];
            for (int i = 0; i < n_in; i++)
                if (stays[i]) {
                    /* bfloat16 data stored as uint16 is fed as the bfloat16 the graph declares */
                    views[n_feed] = *bound[i];
                    views[n_feed].owns = 0;
                    if (views[n_feed].dtype == WEFT_U16 && g->vals[g->inputs[n_feed]].dtype == WEFT_BF16) views[n_feed].dtype = WEFT_BF16;
                    feed[n_feed] = &views[n_feed];
                    n_feed++;
                }
            s = arch ? run_fabric(g, arch, feed, n_feed, got, n_want, &err) : weft_ref_run(g, feed, n_feed, got, n_want, &err);
        }
        if (s) {
            snprintf(msg, msg_len, "%s", err.msg);
            res = s == WEFT_ERR_UNSUPPORTED ? WEFT_ONNX_UNSUPPORTED : WEFT_ONNX_FAIL;
        }
        for (int o = 0; o < n_want && !s && res == WEFT_ONNX_PASS; o++) {
            char a[128], b[128];
            if (got[o].dtype == WEFT_BF16 && want[o].dtype == WEFT_U16) want[o].dtype = WEFT_BF16;  /* ONNX stores bf16 as uint16 */
            if (!weft_shape_eq(&got[o].shape, &want[o].shape) || (got[o].dtype != want[o].dtype)) {
                snprintf(msg, msg_len, "output %d: got %s %s, expected %s %s", o, weft_dtype_name(got[o].dtype),
                         weft_shape_str(&got[o].shape, a, sizeof a), weft_dtype_name(want[o].dtype),
                         weft_shape_str(&want[o].shape, b, sizeof b));
                res = WEFT_ONNX_FAIL;
                break;
            }
            int64_t n = weft_tensor_numel(&want[o]);
            for (int64_t i = 0; i < n; i++) {
                double x = weft_tensor_get_f(&got[o], i), y = weft_tensor_get_f(&want[o], i);
                if (!close_enough(x, y, tol->rtol, tol->atol)) {
                    snprintf(msg, msg_len, "output %d element %lld: got %.9g, expected %.9g", o, (long long)i, x, y);
                    res = WEFT_ONNX_FAIL;
                    break;
                }
                if (!isnan(y) && !isinf(y) && fabs(x - y) > worst) worst = fabs(x - y);
            }
        }
        for (int i = 0; i < n_in; i++) weft_tensor_free(&in[i]);
        for (int i = 0; i < n_want; i++) { weft_tensor_free(&want[i]); weft_tensor_free(&got[i]); }
        weft_graph_free(g);
    }
    if (res == WEFT_ONNX_PASS) snprintf(msg, msg_len, "%d data set%s, worst |diff| %.3g", n_sets, n_sets == 1 ? "" : "s", worst);
    for (int i = 0; i < n_sets; i++) free(sets[i]);
    return res;
}
