/* compile: execution modes, each behind one interface (passes.h), and the driver that runs the
 * passes.
 *
 * A mode turns a lowered program into phases: pipelined keeps every kernel resident in one
 * phase (each layer its own region, samples streaming through). Weight streaming and sections
 * will be modes of their own; until they exist, asking for them is an error that says so. */
#include "compile/passes.h"

#include <string.h>

typedef struct {
    const char *name;
    bool (*supports)(const weft_program *p);
    weft_status (*plan)(weft_program *p, weft_err *err);
} weft_mode;

static bool pipelined_supports(const weft_program *p) { (void)p; return true; }

/* Pipelined: place every region, route every edge, one phase holding every kernel. */
static weft_status pipelined_plan(weft_program *p, weft_err *err) {
    weft_status s = weft_pass_place(p, err);
    if (!s) s = weft_pass_route(p, err);
    if (s) return s;
    p->phases = weft_xcalloc(1, sizeof *p->phases);
    p->n_phases = 1;
    p->phases[0] = (weft_phase){.first_kernel = 0, .n_kernels = p->n};
    return WEFT_OK;
}

static const weft_mode modes[] = {
    {"pipelined", pipelined_supports, pipelined_plan},
};

static weft_status compile_one(const weft_graph *g, const weft_arch *a, const weft_compile_opts *o, weft_program **out,
                               weft_err *err);

/* The planner's objective, as place.c's: one pass's latency and seven steady-state periods. */
static double objective(const weft_program *p) { return (double)p->predicted_cycles + 7.0 * (double)p->predicted_period; }

/* Without --blocks, the compiler chooses how finely the stream is cut: 16, 32 and 64 blocks (at
 * most the stream's extent) are planned without weights, and the one whose objective is least
 * is compiled for real. Finer blocks fill the pipeline faster and hold less SRAM; coarser ones
 * pay less per-block overhead. Finer than 64 is not tried unasked (--blocks N): each doubling
 * doubles the simulation's events. */
weft_status weft_compile(const weft_graph *g, const weft_arch *a, const weft_compile_opts *o, weft_program **out,
                         weft_err *err) {
    static const weft_compile_opts none = {0};
    if (!o) o = &none;
    *out = NULL;
    if (o->max_blocks > 0) return compile_one(g, a, o, out, err);
    weft_status s = weft_graph_verify(g, err);
    if (s) return s;
    int64_t len = 0;  /* the stream's extent, as lower.c chooses it */
    for (int i = 0; i < g->n_inputs && !len; i++)
        if (g->vals[g->inputs[i]].shape.ndim == 2 && g->vals[g->inputs[i]].dtype == WEFT_I64) len = g->vals[g->inputs[i]].shape.d[1];
    for (int i = 0; i < g->n_inputs && !len; i++)
        if (g->vals[g->inputs[i]].shape.ndim >= 1) len = g->vals[g->inputs[i]].shape.d[0];
    int best = 0;
    double best_obj = 0;
    weft_err first = {0};
    for (int b = 16; b <= 64; b *= 2) {
        if (b > 16 && b / 2 >= len) break;  /* the stream has no more blocks to give */
        weft_compile_opts t = *o;
        t.max_blocks = b;
        t.timing_only = true;
        weft_program *p = NULL;
        weft_err e = {0};
        if (compile_one(g, a, &t, &p, &e)) {
            if (!first.status) first = e;
            continue;
        }
        if (!best || objective(p) < best_obj) { best = b; best_obj = objective(p); }
        weft_program_free(p);
    }
    if (!best) {
        *err = first;
        return first.status;
    }
    weft_compile_opts t = *o;
    t.max_blocks = best;
    return compile_one(g, a, &t, out, err);
}

static weft_status compile_one(const weft_graph *g, const weft_arch *a, const weft_compile_opts *o, weft_program **out,
                               weft_err *err) {
    *out = NULL;
    weft_lowering_check();
    weft_status s = weft_graph_verify(g, err);
    if (s) return s;
    if (a->chips > 1)
        return weft_err_set(err, WEFT_ERR_UNSUPPORTED,
                            "machine '%s' has %d chips: weft compiles for one chip only so far (set \"chips\": 1)", a->name, a->chips);
    const weft_mode *mode = &modes[0];
    if (o->mode && strcmp(o->mode, "auto")) {
        mode = NULL;
        for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
            if (!strcmp(modes[i].name, o->mode)) mode = &modes[i];
        if (!mode)
            return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "execution mode '%s': weft has only 'pipelined' so far", o->mode);
    }
    weft_program *p = weft_xcalloc(1, sizeof *p);
    p->arch = *a;
    p->graph = g;
    p->mode = mode->name;
    p->kernel_of_node = weft_xcalloc((size_t)(g->n_nodes + 1), sizeof(int));
    p->folded = weft_xcalloc((size_t)g->n_vals + 1, sizeof(weft_tensor));
    p->k = weft_xcalloc((size_t)(g->n_nodes + 1), sizeof(weft_kernel));
    p->kernel_of_value = weft_xmalloc((size_t)(g->n_vals + 1) * sizeof(int));
    p->stream_axis = weft_xmalloc((size_t)(g->n_vals + 1) * sizeof(int));
    for (int v = 0; v < g->n_vals; v++) p->kernel_of_value[v] = p->stream_axis[v] = -1;
    p->timing_only = o->timing_only;
    s = weft_pass_lower(p, o->max_blocks, !o->timing_only, err);
    if (!s && !mode->supports(p))
        s = weft_err_set(err, WEFT_ERR_UNSUPPORTED, "execution mode '%s' cannot run this model on %s", mode->name, a->name);
    if (!s) s = mode->plan(p, err);
    if (s) { weft_program_free(p); return s; }
    weft_pass_finish(p);
    *out = p;
    return WEFT_OK;
}

weft_status weft_program_compile(const weft_graph *g, const weft_arch *a, weft_program **out, weft_err *err) {
    return weft_compile(g, a, NULL, out, err);
}
