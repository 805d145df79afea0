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
    weft_status (*plan)(weft_program *p, const weft_progress *pr, weft_err *err);
} weft_mode;

static bool pipelined_supports(const weft_program *p) { (void)p; return true; }

/* Pipelined: place every region, route every edge, one phase holding every kernel. */
static weft_status pipelined_plan(weft_program *p, const weft_progress *pr, weft_err *err) {
    weft_progress_say(pr, "placing");
    weft_status s = weft_pass_place(p, err);
    weft_progress_say(pr, "routing");
    if (!s) s = weft_pass_route(p, err);
    if (s) return s;
    p->phases = weft_try_calloc(1, sizeof *p->phases);
    if (!p->phases) return weft_pass_oom(p, "the phases", err);
    p->n_phases = 1;
    p->phases[0] = (weft_phase){.first_kernel = 0, .n_kernels = p->n};
    return WEFT_OK;
}

static const weft_mode modes[] = {
    {"pipelined", pipelined_supports, pipelined_plan},
};

static weft_status compile_one(const weft_graph *g, const weft_arch *a, const weft_compile_opts *o, int plan, int plans,
                               weft_program **out, weft_err *err);
static weft_status lowered(const weft_graph *g, const weft_arch *a, int blocks, bool weights, weft_program **out, weft_err *err);

/* The planner's objective, as place.c's: one pass's latency and seven steady-state periods. */
static double objective(const weft_program *p) { return (double)p->predicted_cycles + 7.0 * (double)p->predicted_period; }

/* Without --blocks, the compiler chooses how finely the stream is cut: 16, 32 and 64 blocks (at
 * most the stream's extent) are planned without weights, and the one whose objective is least
 * is compiled for real (a timing-only compile keeps it as planned). Finer blocks fill the pipeline faster and hold less SRAM; coarser ones
 * pay less per-block overhead. Finer than 64 is not tried unasked (--blocks N): each doubling
 * doubles the simulation's events. */
weft_status weft_compile(const weft_graph *g, const weft_arch *a, const weft_compile_opts *o, weft_program **out,
                         weft_err *err) {
    static const weft_compile_opts none = {0};
    if (!o) o = &none;
    *out = NULL;
    if (o->max_blocks > 0) return compile_one(g, a, o, 1, 1, out, err);
    weft_status s = weft_graph_verify(g, err);
    if (s) return s;
    int64_t len = 0;  /* the stream's extent, as lower.c chooses it */
    for (int i = 0; i < g->n_inputs && !len; i++)
        if (g->vals[g->inputs[i]].shape.ndim == 2 && g->vals[g->inputs[i]].dtype == WEFT_I64) len = g->vals[g->inputs[i]].shape.d[1];
    for (int i = 0; i < g->n_inputs && !len; i++)
        if (g->vals[g->inputs[i]].shape.ndim >= 1) len = g->vals[g->inputs[i]].shape.d[0];
    int best = 0, plans = 1;
    double best_obj = 0;
    weft_err first = {0};
    weft_program *kept = NULL;  /* a timing-only compile keeps its best plan */
    for (int b = 32; b <= 64 && b / 2 < len; b *= 2) plans++;
    int total = o->timing_only ? plans : plans + 1;  /* with weights: the chosen plan again */
    for (int b = 16, plan = 1; b <= 64; b *= 2, plan++) {
        if (b > 16 && b / 2 >= len) break;  /* the stream has no more blocks to give */
        weft_compile_opts t = *o;
        t.max_blocks = b;
        t.timing_only = true;
        weft_program *p = NULL;
        weft_err e = {0};
        if (compile_one(g, a, &t, plan, total, &p, &e)) {
            if (!first.status) first = e;
            continue;
        }
        if (!best || objective(p) < best_obj) {
            best = b;
            best_obj = objective(p);
            if (o->timing_only) { weft_program_free(kept); kept = p; p = NULL; }
        }
        weft_program_free(p);
    }
    if (!best) {
        *err = first;
        return first.status;
    }
    if (kept) { *out = kept; return WEFT_OK; }
    weft_compile_opts t = *o;
    t.max_blocks = best;
    return compile_one(g, a, &t, total, total, out, err);
}

/* One compile with o->max_blocks blocks: plan `plan` of `plans` (for the progress callback). */
static weft_status compile_one(const weft_graph *g, const weft_arch *a, const weft_compile_opts *o, int plan, int plans,
                               weft_program **out, weft_err *err) {
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
    weft_program *p = NULL;
    weft_progress pr = {o->progress, o->progress_ctx, plan, plans, o->max_blocks};
    weft_progress_say(&pr, "lowering");
    s = lowered(g, a, o->max_blocks, !o->timing_only, &p, err);
    if (!s) p->mode = mode->name;
    if (!s && !mode->supports(p))
        s = weft_err_set(err, WEFT_ERR_UNSUPPORTED, "execution mode '%s' cannot run this model on %s", mode->name, a->name);
    if (!s) s = mode->plan(p, &pr, err);
    if (s) { weft_program_free(p); return s; }  /* NULL-safe */
    s = weft_pass_finish(p, err);
    if (s) { weft_program_free(p); return s; }
    *out = p;
    return WEFT_OK;
}

weft_status weft_pass_oom(const weft_program *p, const char *what, weft_err *err) {
    return weft_err_set(err, WEFT_ERR_NOMEM, "compiling for %s: out of memory (%s)", p->arch.name, what);
}

weft_status weft_program_compile(const weft_graph *g, const weft_arch *a, weft_program **out, weft_err *err) {
    return weft_compile(g, a, NULL, out, err);
}

/* A fresh program for g on a, lowered (lower.c) with `blocks` blocks. */
static weft_status lowered(const weft_graph *g, const weft_arch *a, int blocks, bool weights, weft_program **out, weft_err *err) {
    weft_program *p = weft_try_calloc(1, sizeof *p);
    if (!p) return weft_err_set(err, WEFT_ERR_NOMEM, "compiling for %s: out of memory (the program)", a->name);
    p->arch = *a;
    p->graph = g;
    p->mode = modes[0].name;
    p->kernel_of_node = weft_try_calloc((size_t)(g->n_nodes + 1), sizeof(int));
    p->folded = weft_try_calloc((size_t)g->n_vals + 1, sizeof(weft_tensor));
    p->k = weft_try_calloc((size_t)(g->n_nodes + 1), sizeof(weft_kernel));
    p->kernel_of_value = weft_try_malloc((size_t)(g->n_vals + 1) * sizeof(int));
    p->stream_axis = weft_try_malloc((size_t)(g->n_vals + 1) * sizeof(int));
    p->sample_axis = weft_try_malloc((size_t)(g->n_vals + 1) * sizeof(int));
    if (!p->kernel_of_node || !p->folded || !p->k || !p->kernel_of_value || !p->stream_axis || !p->sample_axis) {
        weft_status s = weft_pass_oom(p, "the kernels", err);
        weft_program_free(p);
        return s;
    }
    for (int v = 0; v < g->n_vals; v++) p->kernel_of_value[v] = p->stream_axis[v] = p->sample_axis[v] = -1;
    p->timing_only = !weights;
    weft_status s = weft_pass_lower(p, blocks, weights, err);
    if (s) { weft_program_free(p); return s; }
    *out = p;
    return WEFT_OK;
}

static bool in_mesh(const weft_arch *a, int x, int y) { return x >= 0 && y >= 0 && x < a->width && y < a->height; }

weft_status weft_program_adopt(const weft_graph *g, const weft_arch *a, int max_blocks, const weft_program *st,
                               const char *where, weft_program **out, weft_err *err) {
    *out = NULL;
    weft_status s = weft_graph_verify(g, err);
    if (s) return s;
    if (a->chips > 1) return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: a machine of %d chips", where, a->chips);
    if (max_blocks < 1 || max_blocks > 4096) return weft_err_set(err, WEFT_ERR_INVALID, "%s: blocks %d out of range [1, 4096]", where, max_blocks);
    weft_program *p = NULL;
    s = lowered(g, a, max_blocks, true, &p, err);
    if (s) return s;
#define BAD(...) do { s = weft_err_set(err, WEFT_ERR_INVALID, __VA_ARGS__); goto done; } while (0)
    if (st->n != p->n) BAD("%s: %d kernels stored, the model lowers to %d", where, st->n, p->n);
    for (int l = 0; l < st->n_lanes; l++) {
        const weft_lane *ln = &st->lanes[l];
        if (ln->chip != 0 || !in_mesh(a, ln->x0, ln->y0) || !in_mesh(a, ln->x1, ln->y1) || (ln->via && !in_mesh(a, ln->xm, ln->y0)) ||
            ln->channel < -1 || ln->channel >= a->channels)
            BAD("%s: lane %d leaves the %d x %d mesh or its channels", where, l, a->width, a->height);
    }
    for (int i = 0; i < p->n; i++) {
        weft_kernel *k = &p->k[i];
        const weft_kernel *q = &st->k[i];
        if (q->node != k->node || q->kind != k->kind || q->blocks != k->blocks || q->n_deps != k->n_deps)
            BAD("%s: kernel %d is not what node '%s' lowers to", where, i, g->nodes[k->node].name);
        if (q->chip != 0 || q->w < 1 || q->h < 1 || !in_mesh(a, q->x0, q->y0) || q->x0 + q->w > a->width || q->y0 + q->h > a->height)
            BAD("%s: kernel %d's region %dx%d at (%d, %d) is not on the %d x %d mesh", where, i, q->w, q->h, q->x0, q->y0, a->width,
                a->height);
        if (k->kind == WEFT_KERNEL_GEMM &&
            (q->pk < 1 || q->pn < 1 || q->pk > k->K || q->pn > k->N || (int64_t)q->pk * q->pn > (int64_t)q->w * q->h))
            BAD("%s: kernel %d's grid %d x %d does not fit its region or its %lld x %lld weight", where, i, q->pk, q->pn,
                (long long)k->K, (long long)k->N);
        for (int d = 0; d < k->n_deps; d++) {
            if (q->dep_lanes[d] < 1 || q->dep_lanes[d] > WEFT_MAX_LANES || q->dep_lane0[d] < 0 ||
                q->dep_lane0[d] > st->n_lanes - q->dep_lanes[d])
                BAD("%s: kernel %d's input %d names lanes beyond the %d stored", where, i, d, st->n_lanes);
            k->dep_lane0[d] = q->dep_lane0[d];
            k->dep_lanes[d] = q->dep_lanes[d];
            k->dep_channel[d] = q->dep_channel[d];
        }
        if (q->out_lanes < 0 || q->out_lanes > WEFT_MAX_LANES || q->out_lane0 < 0 || q->out_lane0 > st->n_lanes - q->out_lanes)
            BAD("%s: kernel %d's output names lanes beyond the %d stored", where, i, st->n_lanes);
        bool output = false;
        for (int j = 0; j < g->n_outputs; j++) output |= p->kernel_of_value[g->outputs[j]] == i;
        if (output != (q->out_lanes > 0)) BAD("%s: kernel %d's output lanes do not match the graph's outputs", where, i);
        k->chip = 0;
        k->x0 = q->x0, k->y0 = q->y0, k->w = q->w, k->h = q->h;
        k->pk = q->pk, k->pn = q->pn;
        k->out_lane0 = q->out_lane0, k->out_lanes = q->out_lanes;
    }
    for (int i = 0; i < p->n; i++)
        if (p->k[i].host >= 0) {
            const weft_kernel *h = &p->k[p->k[i].host];
            if (p->k[i].x0 != h->x0 || p->k[i].y0 != h->y0 || p->k[i].w != h->w || p->k[i].h != h->h)
                BAD("%s: kernel %d is not on its host's region", where, i);
        }
    if (st->n_phases != 1 || st->phases[0].first_kernel != 0 || st->phases[0].n_kernels != p->n)
        BAD("%s: a pipelined program has one phase holding every kernel", where);
    if (st->channels_used < 0 || st->channels_used > a->channels) BAD("%s: channels_used %d out of range", where, st->channels_used);
    p->lanes = weft_try_malloc(((size_t)st->n_lanes + 1) * sizeof *p->lanes);
    p->phases = weft_try_calloc(1, sizeof *p->phases);
    if (!p->lanes || !p->phases) { s = weft_err_set(err, WEFT_ERR_NOMEM, "%s: out of memory (the lanes)", where); goto done; }
    memcpy(p->lanes, st->lanes, (size_t)st->n_lanes * sizeof *p->lanes);
    p->n_lanes = p->cap_lanes = st->n_lanes;
    p->phases[0] = st->phases[0];
    p->n_phases = 1;
    p->channels_used = st->channels_used;
    s = weft_pass_finish(p, err);  /* costs and SRAM follow from the placement */
#undef BAD
done:
    if (s) { weft_program_free(p); return s; }
    *out = p;
    return WEFT_OK;
}
