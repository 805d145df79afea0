/* compile: execution modes, each behind one interface (passes.h), and the driver that runs the
 * passes.
 *
 * A mode turns a lowered program into phases: pipelined keeps every kernel resident in one
 * phase (each layer its own region, samples streaming through); weight streaming runs a phase
 * per layer on the whole mesh, its weights streamed in from off-chip memory (Cerebras MemoryX)
 * and the optimizer update done there; sections (SambaNova) cut the graph into pieces that fit,
 * run in turn. `auto` (the default) takes pipelined when the model fits, else the
 * machine's streaming mode, and says why in p->mode_reason. */
#include "compile/passes.h"
#include "arch/cost.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    bool (*supports)(const weft_program *p);
    weft_status (*plan)(weft_program *p, const weft_compile_opts *o, const weft_progress *pr, weft_err *err);
} weft_mode;

static bool pipelined_supports(const weft_program *p) { return (p->arch.modes & WEFT_MODE_PIPELINED) != 0; }

/* Pipelined: place every region, route every edge, one phase holding every kernel. */
static weft_status pipelined_plan(weft_program *p, const weft_compile_opts *o, const weft_progress *pr, weft_err *err) {
    (void)o;
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

/* ---- weight streaming ----
 *
 * Every kernel on the fabric is a phase of its own, in program order (the forward layers, then
 * the backward ones in reverse), on the whole mesh: a GEMM on a grid as large as its K x N
 * allows, any other kernel on every tile. A phase's resident bytes (a GEMM's weight, a layer
 * norm's gain) stream in from off-chip memory while the phase before computes, so they must fit
 * in SRAM beside it; activations stay on the fabric, spread over it, from the phase that makes
 * them to the last that reads them (the stash). Optimizer updates, and the reductions of
 * gradients beside them (the global norm's), run in the off-chip memory unit: the gradients
 * stream out, and the next step's weights wait for the update. Edges between phases carry no
 * lanes: a phase reads its inputs where the stash holds them, which its own cost prices (a
 * GEMM's rows serialized into its grid, a block spread across the mesh). */
static bool ws_supports(const weft_program *p) { return (p->arch.modes & WEFT_MODE_WEIGHT_STREAMING) != 0; }

static void gb_str(char *b, size_t n, double bytes) { snprintf(b, n, "%.3g GB", bytes * 1e-9); }

/* Recomputation: an activation kept for a later phase may instead be made again just before each
 * phase that reads it, by the chain of kernels that made it, from values kept anyway (a layer's
 * attention probabilities from its queries and keys). The chain: v's producer and, recursively,
 * the producers of its inputs that are not kept, at most RECOMPUTE_DEPTH deep, none a GEMM with
 * resident weights nor an off-chip kernel. Its cost is each kernel's time on the whole mesh. */
#define RECOMPUTE_DEPTH 6

static bool recompute_chain(const weft_program *p, const int *phase_of, const int *last_use, const bool *recomputed, int v, int depth,
                            uint64_t *cycles) {
    int k = p->kernel_of_value[v];
    if (k < 0 || depth > RECOMPUTE_DEPTH || p->k[k].offchip || p->k[k].kind == WEFT_KERNEL_GEMM) return false;
    const weft_kernel *kk = &p->k[k];
    *cycles += kk->block_latency + kk->block_cycles * (uint64_t)(kk->blocks - 1);
    for (int q = 0; q < kk->n_deps; q++) {
        int u = kk->dep_value[q], d = kk->dep[q];
        if (d < 0) continue;  /* a graph input: kept off the fabric */
        bool kept = last_use[u] > phase_of[d] && !recomputed[u];
        if (!kept && !recompute_chain(p, phase_of, last_use, recomputed, u, depth + 1, cycles)) return false;
    }
    return true;
}

/* Extends the life of the kept inputs of v's chain to phase `until`; *from: the first phase whose
 * kept values grew. */
static void keep_chain_inputs(const weft_program *p, const int *phase_of, int *last_use, const bool *recomputed, int v, int until,
                              int *from) {
    int k = p->kernel_of_value[v];
    for (int q = 0; k >= 0 && q < p->k[k].n_deps; q++) {
        int u = p->k[k].dep_value[q], d = p->k[k].dep[q];
        if (d < 0) continue;
        if (last_use[u] > phase_of[d] && !recomputed[u]) {
            if (until > last_use[u]) {
                if (last_use[u] + 1 < *from) *from = last_use[u] + 1;
                last_use[u] = until;
            }
        } else keep_chain_inputs(p, phase_of, last_use, recomputed, u, until, from);
    }
}

/* At phase j, whose kept values do not fit: recomputes the largest of them that can be; false
 * when none can. *from: the first phase to check again. */
static bool recompute_one(weft_program *p, const int *phase_of, int *last_use, bool *recomputed, int j, int *from) {
    const weft_graph *g = p->graph;
    int best = -1;
    int64_t best_b = 0;
    uint64_t best_c = 0;
    for (int v = 0; v < g->n_vals; v++) {
        int k = p->kernel_of_value[v];
        if (k < 0 || recomputed[v] || last_use[v] < j || phase_of[k] >= j || p->k[k].offchip) continue;
        int64_t b = weft_program_value_bytes(p, v);
        uint64_t c = 0;
        if (b > best_b && recompute_chain(p, phase_of, last_use, recomputed, v, 0, &c)) { best = v; best_b = b; best_c = c; }
    }
    if (best < 0) return false;
    recomputed[best] = true;
    *from = j;
    keep_chain_inputs(p, phase_of, last_use, recomputed, best, last_use[best], from);
    /* each later phase that reads it pays the chain once */
    for (int i = 0; i < p->n; i++) {
        if (phase_of[i] < 0) continue;
        for (int q = 0; q < p->k[i].n_deps; q++)
            if (p->k[i].dep_value[q] == best && phase_of[i] > phase_of[p->kernel_of_value[best]]) {
                p->phases[phase_of[i]].recompute_cycles += best_c;
                break;
            }
    }
    p->n_recomputed++;
    p->recomputed_bytes += best_b;
    return true;
}

/* Which kernels belong to the optimizer (NULL: out of memory; the caller frees): the updates,
 * what runs beside one (the global norm's sums of squares), and what is fed only by those (the
 * clip scale). */
static bool *optimizer_kernels(const weft_program *p) {
    bool *side = weft_try_calloc((size_t)p->n + 1, sizeof *side);
    for (int i = 0; i < p->n && side; i++) {
        const weft_kernel *k = &p->k[i];
        const weft_lowering *row = weft_lowering_of(p->graph->nodes[k->node].op);
        side[i] = row->update_state || row->beside_update;
        if (!side[i] && k->n_deps > 0) {
            side[i] = true;
            for (int q = 0; q < k->n_deps; q++) side[i] &= k->dep[q] >= 0 && side[k->dep[q]];
        }
    }
    return side;
}

/* Data parallel: every edge from the model's kernels into the optimizer's carries a parameter's
 * gradient, summed over the replicas on its way (sim/run.c times it on the chip network). */
static weft_status mark_reductions(weft_program *p, weft_err *err) {
    if (p->replicas <= 1) return WEFT_OK;
    bool *side = optimizer_kernels(p);
    if (!side) return weft_pass_oom(p, "the gradients' reductions", err);
    for (int i = 0; i < p->n; i++)
        for (int q = 0; q < p->k[i].n_deps; q++) p->k[i].dep_reduced[q] = side[i] && p->k[i].dep[q] >= 0 && !side[p->k[i].dep[q]];
    free(side);
    return WEFT_OK;
}

static weft_status ws_plan(weft_program *p, const weft_compile_opts *o, const weft_progress *pr, weft_err *err) {
    (void)o;
    const weft_arch *a = &p->arch;
    const weft_graph *g = p->graph;
    weft_progress_say(pr, "placing layers");
    /* the updates and what only they read go to the off-chip memory unit */
    bool updates = false, *side = optimizer_kernels(p);
    if (!side) return weft_pass_oom(p, "the optimizer's kernels", err);
    for (int i = 0; i < p->n; i++) {
        weft_kernel *k = &p->k[i];
        k->offchip = side[i];
        k->host = -1;
        k->attached_bytes = 0;  /* gradients and optimizer state live off the chip */
        updates |= k->offchip;
    }
    free(side);
    if (updates && a->offchip_update_flops_per_s <= 0)
        return weft_err_set(err, WEFT_ERR_UNSUPPORTED,
                            "weight streaming on %s: its off-chip memory computes nothing (offchip.update_flops_per_s is 0), so it "
                            "cannot apply the optimizer update", a->name);
    int quantum = weft_arch_column_quantum(a), W = a->width - a->width % quantum, H = a->height;
    if (W < 1)
        return weft_err_set(err, WEFT_ERR_INVALID, "weight streaming on %s: the mesh (%d wide) is narrower than its column pattern (%d)",
                            a->name, a->width, quantum);
    p->phased = p->weight_streaming = true;  /* (the cost model reads it: inputs wait in the stash) */
    double cap = weft_sram_cap(p);
    int n_ph = 0;
    for (int i = 0; i < p->n; i++) n_ph += !p->k[i].offchip;
    p->phases = weft_try_calloc((size_t)n_ph + 1, sizeof *p->phases);
    int *phase_of = weft_try_calloc((size_t)p->n + 1, sizeof(int)), *last_use = weft_try_malloc(((size_t)g->n_vals + 1) * sizeof(int));
    if (!p->phases || !phase_of || !last_use) { free(phase_of); free(last_use); return weft_pass_oom(p, "the phases", err); }
    weft_status s = WEFT_OK;
    /* regions: the whole mesh (a GEMM's grid up to its K x N) */
    for (int i = 0, ph = 0; i < p->n && !s; i++) {
        weft_kernel *k = &p->k[i];
        k->chip = 0;
        if (k->offchip) { phase_of[i] = -1; k->x0 = k->y0 = k->w = k->h = 0; k->pk = k->pn = 0; continue; }
        phase_of[i] = ph;
        p->phases[ph] = (weft_phase){.first_kernel = i, .n_kernels = 1, .weight_in_bytes = k->weight_bytes};
        ph++;
        k->x0 = k->y0 = 0;
        if (k->kind == WEFT_KERNEL_GEMM) {
            /* the grid: as wide as N and the mesh allow; as tall as K allows, or shorter where
             * fewer, deeper K blocks are faster (a one-row K block sends a partial down its
             * column for every multiply-add: the chain, not the arithmetic, sets the pace) */
            int pn = (int)(k->N < W ? k->N : W), best = 0;
            uint64_t best_t = 0;
            for (int pk = (int)(k->K < H ? (k->K > 1 ? k->K : 1) : H);; pk = (pk + 1) / 2) {
                k->pk = pk;
                k->pn = pn;
                k->h = pk;
                k->w = (pn + quantum - 1) / quantum * quantum;
                if (k->w > W) k->w = W;
                weft_cost_kernel(p, k);
                uint64_t t = k->block_latency + k->block_cycles * (uint64_t)(k->blocks - 1);
                if ((double)weft_sram_need(p, k, pk, pn, (int64_t)pk * pn) <= cap && (!best || t < best_t)) { best = pk; best_t = t; }
                if (pk == 1) break;
            }
            k->pk = k->h = best ? best : (int)(k->K < H ? (k->K > 1 ? k->K : 1) : H);
        } else {
            k->w = W;
            k->h = H;
        }
        int64_t t = (int64_t)k->w * k->h;
        int64_t need = weft_sram_need(p, k, k->pk ? k->pk : 1, k->pn ? k->pn : 1, k->kind == WEFT_KERNEL_GEMM ? (int64_t)k->pk * k->pn : t);
        if ((double)need > cap) {
            const weft_node *n = &g->nodes[k->node];
            char hint[600], sn[24];
            weft_sram_fit_hint(p, k, (double)need * (double)t, cap * (double)t, hint, sizeof hint);
            s = weft_err_set(err, WEFT_ERR_NOMEM,
                             "model does not fit %s in weight streaming: layer '%s' (%s) needs %lld bytes per tile on all %lld "
                             "tiles it can use (%s), more than the %.0f usable bytes a tile has: %s",
                             a->name, n->name, n->op->name, (long long)need, (long long)t, weft_bytes_str((double)need * (double)t, sn, sizeof sn), cap, hint);
        }
    }
    p->n_phases = n_ph;
    /* the stash: a value made in one phase and read in a later one stays on the fabric until then,
     * unless it is recomputed where it is read (below) */
    for (int v = 0; v < g->n_vals; v++) last_use[v] = -1;
    for (int i = 0; i < p->n; i++)
        for (int q = 0; q < p->k[i].n_deps && !p->k[i].offchip; q++)
            if (p->k[i].dep[q] >= 0 && phase_of[i] > last_use[p->k[i].dep_value[q]]) last_use[p->k[i].dep_value[q]] = phase_of[i];
    for (int i = 0; i < p->n && !s; i++)  /* (every region is set when nothing failed) */
        if (!p->k[i].offchip) weft_cost_kernel(p, &p->k[i]);
    bool *recomputed = s ? NULL : weft_try_calloc((size_t)g->n_vals + 1, sizeof(bool));
    if (!s && !recomputed) s = weft_pass_oom(p, "the stash", err);
    int64_t tiles = (int64_t)W * H;
    for (int j = 0; j < n_ph && !s; j++) {
        int64_t live = 0;
        for (int v = 0; v < g->n_vals; v++) {
            int pk_ = p->kernel_of_value[v];
            if (pk_ < 0 || last_use[v] < 0 || p->k[pk_].offchip || recomputed[v]) continue;
            if (phase_of[pk_] < j && last_use[v] >= j) live += weft_program_value_bytes(p, v);
        }
        p->phases[j].stash_bytes = live;
        const weft_kernel *k = &p->k[p->phases[j].first_kernel];
        int64_t t = (int64_t)k->w * k->h;
        int64_t own = weft_sram_need(p, k, k->pk ? k->pk : 1, k->pn ? k->pn : 1, k->kind == WEFT_KERNEL_GEMM ? (int64_t)k->pk * k->pn : t);
        int64_t next = j + 1 < n_ph ? p->phases[j + 1].weight_in_bytes : 0;
        double per_tile = (double)own + (double)(live + next) / (double)tiles;
        int from;
        if (per_tile > cap && recompute_one(p, phase_of, last_use, recomputed, j, &from)) {
            j = from - 1;  /* the kept values changed (the recomputation's inputs may be kept longer): check again */
            continue;
        }
        if (per_tile > cap) {
            const weft_node *n = &g->nodes[k->node];
            char l[32], o[32], x[32], c[32];
            gb_str(l, sizeof l, (double)live);
            gb_str(o, sizeof o, (double)own * (double)t);
            gb_str(x, sizeof x, (double)next);
            gb_str(c, sizeof c, cap * (double)tiles);
            double fit = live > 0 ? ((cap - (double)own) * (double)tiles - (double)next) / (double)live : 0;  /* the stash scales with the samples */
            int64_t m = fit > 0 && fit < 1 ? (int64_t)((double)p->samples * fit) : 0;
            s = weft_err_set(err, WEFT_ERR_NOMEM,
                             "model does not fit %s in weight streaming: at layer '%s' (%s) the activations kept for later layers "
                             "take %s, beside %s for the layer and %s of the next layer's weights; the fabric holds %s (at %.0f%% "
                             "use). %s",
                             a->name, n->name, n->op->name, l, o, x, c, WEFT_SRAM_USABLE * 100,
                             m >= 1 && m < p->samples ? "A micro-batch of fewer samples fits" : "Try a smaller sequence");
            if (m >= 1 && m < p->samples && err) {
                size_t len = strlen(err->msg);
                snprintf(err->msg + len, sizeof err->msg - len, ": about %lld of the %lld (gradient accumulation over %lld micro-batches)",
                         (long long)m, (long long)p->samples, (long long)((p->samples + m - 1) / m));
            }
        }
    }
    free(phase_of);
    free(last_use);
    free(recomputed);
    if (s) return s;
    /* lanes: a graph input enters at the west edge, an output leaves at the east; edges between
     * phases have none (the stash) */
    weft_progress_say(pr, "routing");
    weft_lane lanes[WEFT_MAX_LANES];
    p->n_lanes = 0;
    int channel = WEFT_RESERVED_CHANNELS < a->channels ? WEFT_RESERVED_CHANNELS : a->channels - 1;
    for (int i = 0; i < p->n; i++) {
        weft_kernel *k = &p->k[i];
        for (int q = 0; q < k->n_deps; q++) {
            int nl = k->dep[q] < 0 && !k->offchip ? weft_route_edge_lanes(p, -1, i, lanes) : 0;
            k->dep_lane0[q] = p->n_lanes;
            k->dep_lanes[q] = nl;
            k->dep_channel[q] = nl ? channel : -1;
            for (int l = 0; l < nl; l++) {
                lanes[l].channel = channel;
                if (weft_program_add_lane(p, lanes[l]) < 0) return weft_pass_oom(p, "the routes", err);
            }
        }
        k->out_lane0 = p->n_lanes;
        k->out_lanes = 0;
        for (int j = 0; j < g->n_outputs && !k->offchip; j++)
            if (p->kernel_of_value[g->outputs[j]] == i) {
                int nl = weft_route_edge_lanes(p, i, -1, lanes);
                k->out_lanes = nl;
                for (int l = 0; l < nl; l++)
                    if (weft_program_add_lane(p, lanes[l]) < 0) return weft_pass_oom(p, "the routes", err);
                break;
            }
    }
    p->channels_used = channel + 1;
    return WEFT_OK;
}

/* ---- sections (SambaNova) ----
 *
 * The kernels, in program order, are cut into sections that each fit the chip spatially; a
 * section is placed and routed as a pipelined program of its own on the whole mesh (place.c,
 * route.c), and the sections run one after another, each loading its weights from off-chip
 * memory (DDR) when it starts. A tensor made in one section and read in a later one stays in
 * the memory tiles when every section it spans leaves room for it, else it is written to DDR and
 * read back by the section that reads it, at the off-chip bandwidth. The cut (o->sections):
 * "o0" a kernel a section; "o1" a module a section (the kernels whose nodes share a name up to
 * its last '.', a module that does not fit split further); "o3" or auto, as many kernels as fit.
 * Optimizer updates are kernels like any other (their parameter and state are their weights,
 * loaded and written back). */
static bool sections_supports(const weft_program *p) { return (p->arch.modes & WEFT_MODE_SECTIONS) != 0; }

/* Places and routes kernels [first, first + n) of p on the whole mesh as a program of their own:
 * an input made before `first` enters like a graph input (from off-chip memory, at the west
 * edge). On success the regions, grids and lanes are p's; on failure p is unchanged. */
static weft_status place_section(weft_program *p, int first, int n, weft_err *err) {
    const weft_graph *g = p->graph;
    weft_program sub = *p;
    sub.k = weft_try_malloc(((size_t)n + 1) * sizeof *sub.k);
    sub.kernel_of_value = weft_try_malloc(((size_t)g->n_vals + 1) * sizeof(int));
    sub.lanes = NULL;
    sub.n_lanes = sub.cap_lanes = 0;
    sub.n = n;
    if (!sub.k || !sub.kernel_of_value) { free(sub.k); free(sub.kernel_of_value); return weft_pass_oom(p, "a section", err); }
    memcpy(sub.k, p->k + first, (size_t)n * sizeof *sub.k);  /* (the weights' tensors shared, not owned) */
    for (int i = 0; i < n; i++)
        for (int q = 0; q < sub.k[i].n_deps; q++) {
            int d = sub.k[i].dep[q];
            sub.k[i].dep[q] = d >= first && d < first + n ? d - first : -1;
        }
    for (int v = 0; v < g->n_vals; v++) {
        int k = p->kernel_of_value[v];
        sub.kernel_of_value[v] = k >= first && k < first + n ? k - first : -1;
    }
    weft_status s = weft_pass_place(&sub, err);
    if (!s) s = weft_pass_route(&sub, err);
    int base = p->n_lanes;
    for (int l = 0; l < sub.n_lanes && !s; l++)
        if (weft_program_add_lane(p, sub.lanes[l]) < 0) s = weft_pass_oom(p, "the routes", err);
    if (s) p->n_lanes = base;
    for (int i = 0; i < n && !s; i++) {
        weft_kernel *k = &p->k[first + i];
        const weft_kernel *q = &sub.k[i];
        k->chip = q->chip, k->x0 = q->x0, k->y0 = q->y0, k->w = q->w, k->h = q->h, k->pk = q->pk, k->pn = q->pn;
        for (int d = 0; d < k->n_deps; d++) {
            k->dep_lane0[d] = base + q->dep_lane0[d];
            k->dep_lanes[d] = q->dep_lanes[d];
            k->dep_channel[d] = q->dep_channel[d];
        }
        k->out_lane0 = base + q->out_lane0;
        k->out_lanes = q->out_lanes;
    }
    if (!s && sub.channels_used > p->channels_used) p->channels_used = sub.channels_used;
    free(sub.k);
    free(sub.kernel_of_value);
    free(sub.lanes);
    return s;
}

/* The module of node name: up to its last '.' (the whole name without one). */
static size_t module_len(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot ? (size_t)(dot - name) : strlen(name);
}

static weft_status sections_plan(weft_program *p, const weft_compile_opts *o, const weft_progress *pr, weft_err *err) {
    const weft_graph *g = p->graph;
    const weft_arch *a = &p->arch;
    const char *cut = o->sections && strcmp(o->sections, "auto") ? o->sections : "o3";
    if (strcmp(cut, "o0") && strcmp(cut, "o1") && strcmp(cut, "o3"))
        return weft_err_set(err, WEFT_ERR_INVALID, "sections '%s': not o0, o1, o3 or auto", cut);
    p->phased = true;
    for (int i = 0; i < p->n; i++) {  /* updates are kernels of their own: parameter and state their weights */
        weft_kernel *k = &p->k[i];
        k->host = -1;
        k->attached_bytes = 0;
        /* what cannot be held even on the whole mesh streams its resident operands from DDR in
         * chunks, two held at a time: an update over a large parameter (element-wise: its
         * gradient and results stream with it), a GEMM's weights in column chunks, its input
         * read again for each (a vocabulary head), an accumulation's sums a column chunk at a
         * time, its inputs read again for each (that head's weight gradient) */
        if (weft_sram_min_tiles(p, k) < 0) {
            k->weights_streamed = true;
            const weft_lowering *row = weft_lowering_of(g->nodes[k->node].op);
            if (k->kind == WEFT_KERNEL_GEMM || k->accumulates || row->update_state || row->beside_update)
                for (int c = 2; c <= 1024 && weft_sram_min_tiles(p, k) < 0; c *= 2) k->weight_chunks = c;
            if (weft_sram_min_tiles(p, k) < 0) k->weights_streamed = false, k->weight_chunks = 0;  /* the error says why */
        }
    }
    p->phases = weft_try_calloc((size_t)p->n + 1, sizeof *p->phases);
    if (!p->phases) return weft_pass_oom(p, "the sections", err);
    int64_t tiles = (int64_t)a->width * a->height;
    weft_status s = WEFT_OK;
    for (int first = 0; first < p->n && !s;) {
        if (pr) weft_progress_say(pr, "placing sections");
        /* the largest n that fits: o0 one; o1 the module; o3 grown while the SRAM plans fit, then
         * shrunk until placement and routing succeed */
        int n = 1;
        if (!strcmp(cut, "o1")) {
            const char *name = g->nodes[p->k[first].node].name;
            size_t m = module_len(name);
            while (first + n < p->n && module_len(g->nodes[p->k[first + n].node].name) == m && p->k[first + n].weight_chunks <= 1 &&
                   !strncmp(g->nodes[p->k[first + n].node].name, name, m))
                n++;
        } else if (!strcmp(cut, "o3")) {
            int64_t need = 0;
            while (first + n < p->n && p->k[first + n].weight_chunks <= 1) {  /* (a chunked GEMM starts a section) */
                int64_t t = weft_sram_min_tiles(p, &p->k[first + n]);
                if (t < 0 || need + t > tiles * 9 / 10) break;
                need += t;
                n++;
            }
        }
        weft_err e = {0};
        for (;;) {
            memset(&e, 0, sizeof e);
            s = place_section(p, first, n, &e);
            if (!s || n == 1 || strstr(e.msg, "out of memory") || strstr(e.msg, "cannot allocate")) break;
            n = n > 8 ? n * 3 / 4 : n - 1;
        }
        if (s) {
            *err = e;
            weft_err_prefix(err, "sections on %s: the section from node '%s' (%s)", a->name, g->nodes[p->k[first].node].name,
                            g->nodes[p->k[first].node].op->name);
            break;
        }
        weft_phase *ph = &p->phases[p->n_phases++];
        *ph = (weft_phase){.first_kernel = first, .n_kernels = n};
        for (int i = first; i < first + n; i++) ph->weight_in_bytes += p->k[i].weight_bytes;
        first += n;
    }
    if (s) return s;
    /* the tensors between sections: kept in the memory tiles while every section they span has
     * room beside its plan, else spilled to DDR and read back */
    int *phase_of = weft_try_malloc(((size_t)p->n + 1) * sizeof(int)), *last_use = weft_try_malloc(((size_t)g->n_vals + 1) * sizeof(int));
    int64_t *room = weft_try_calloc((size_t)p->n_phases + 1, sizeof(int64_t));
    bool *spill = weft_try_calloc((size_t)g->n_vals + 1, sizeof(bool));
    if (!phase_of || !last_use || !room || !spill) s = weft_pass_oom(p, "the sections' tensors", err);
    for (int j = 0; j < p->n_phases && !s; j++) {
        int64_t used = 0;
        for (int i = p->phases[j].first_kernel; i < p->phases[j].first_kernel + p->phases[j].n_kernels; i++) {
            weft_kernel *k = &p->k[i];
            phase_of[i] = j;
            for (int q = 0; q < k->n_deps; q++) k->dep_outside[q] = k->dep[q] >= 0 && phase_of[k->dep[q]] != j;  /* (earlier kernels' phases are set) */
            used += weft_sram_need(p, k, k->pk ? k->pk : 1, k->pn ? k->pn : 1, (int64_t)k->w * k->h) * (int64_t)k->w * k->h;
        }
        room[j] = (int64_t)(weft_sram_cap(p) * (double)tiles) - used;
    }
    for (int v = 0; v < g->n_vals && !s; v++) last_use[v] = -1;
    for (int i = 0; i < p->n && !s; i++)
        for (int q = 0; q < p->k[i].n_deps; q++)
            if (p->k[i].dep[q] >= 0 && phase_of[i] > last_use[p->k[i].dep_value[q]]) last_use[p->k[i].dep_value[q]] = phase_of[i];
    for (int v = 0; v < g->n_vals && !s; v++) {  /* in program order: earlier tensors take the room first */
        int pk_ = p->kernel_of_value[v];
        if (pk_ < 0 || last_use[v] <= phase_of[pk_]) continue;
        int64_t b = weft_program_value_bytes(p, v);
        bool fits = true;
        for (int j = phase_of[pk_] + 1; j <= last_use[v]; j++) fits &= room[j] >= b;
        if (fits)
            for (int j = phase_of[pk_] + 1; j <= last_use[v]; j++) { room[j] -= b; p->phases[j].stash_bytes += b; }
        else {
            spill[v] = true;
            p->phases[phase_of[pk_]].spill_bytes += b;
        }
    }
    for (int i = 0; i < p->n && !s; i++)
        for (int q = 0; q < p->k[i].n_deps; q++) {
            int d = p->k[i].dep[q];
            p->k[i].dep_spilled[q] = d >= 0 && p->k[i].dep_outside[q] && spill[p->k[i].dep_value[q]];
            if (p->k[i].dep_spilled[q])
                p->phases[phase_of[i]].fill_bytes += weft_program_value_bytes(p, p->k[i].dep_value[q]) * weft_dep_reads(&p->k[i], q);
        }
    free(phase_of);
    free(last_use);
    free(room);
    free(spill);
    return s;
}

static const weft_mode modes[] = {
    {"pipelined", pipelined_supports, pipelined_plan},
    {"weight-streaming", ws_supports, ws_plan},
    {"sections", sections_supports, sections_plan},
};

static weft_status compile_one(const weft_graph *g, const weft_arch *a, const weft_compile_opts *o, int plan, int plans,
                               weft_program **out, weft_err *err);
static weft_status lowered(const weft_graph *g, const weft_arch *a, int blocks, bool weights, weft_program **out, weft_err *err);
static weft_status compile_mode(const weft_graph *g, const weft_arch *a, const weft_compile_opts *o, const weft_mode *mode,
                                const weft_progress *pr, weft_program **out, weft_err *err);

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
    int replicas = o->replicas ? o->replicas : a->chips;
    if (replicas < 1 || replicas > a->chips)
        return weft_err_set(err, WEFT_ERR_INVALID, "%d replicas on %s: it has %d chip%s", replicas, a->name, a->chips, a->chips == 1 ? "" : "s");
    const weft_mode *mode = NULL;  /* NULL: auto */
    if (o->mode && strcmp(o->mode, "auto")) {
        for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
            if (!strcmp(modes[i].name, o->mode)) mode = &modes[i];
        if (!mode)
            return weft_err_set(err, WEFT_ERR_INVALID, "execution mode '%s': not auto, pipelined, weight-streaming or sections", o->mode);
        if (!mode->supports(&(weft_program){.arch = *a}))
            return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "execution mode '%s': machine '%s' does not run it (its modes: %s%s%s)",
                                o->mode, a->name, a->modes & WEFT_MODE_PIPELINED ? "pipelined " : "",
                                a->modes & WEFT_MODE_WEIGHT_STREAMING ? "weight-streaming " : "", a->modes & WEFT_MODE_SECTIONS ? "sections" : "");
    }
    weft_progress pr = {o->progress, o->progress_ctx, plan, plans, o->max_blocks};
    if (mode) return compile_mode(g, a, o, mode, &pr, out, err);
    /* auto: pipelined when the model fits; else the machine's streaming mode */
    weft_err first = {0};
    if (!(a->modes & WEFT_MODE_PIPELINED)) {  /* a machine that only streams */
        const weft_mode *only = &modes[a->modes & WEFT_MODE_WEIGHT_STREAMING ? 1 : 2];
        s = compile_mode(g, a, o, only, &pr, out, err);
        if (!s) snprintf((*out)->mode_reason, sizeof (*out)->mode_reason, "%s, the only mode of %s", only->name, a->name);
        return s;
    }
    s = compile_mode(g, a, o, &modes[0], &pr, out, &first);
    /* (a refused allocation on the host is not the model's size: "out of memory", "cannot allocate") */
    bool host = strstr(first.msg, "out of memory") || strstr(first.msg, "cannot allocate");
    if (!s || s != WEFT_ERR_NOMEM || host || !(a->modes & (WEFT_MODE_WEIGHT_STREAMING | WEFT_MODE_SECTIONS))) {
        if (s) *err = first;
        return s;
    }
    const weft_mode *other = &modes[a->modes & WEFT_MODE_WEIGHT_STREAMING ? 1 : 2];
    weft_err second = {0};
    s = compile_mode(g, a, o, other, &pr, out, &second);
    if (s) return weft_err_set(err, s, "pipelined: %.480s; %s: %.480s", first.msg, other->name, second.msg);
    snprintf((*out)->mode_reason, sizeof (*out)->mode_reason, "%s, as the model does not fit pipelined: %.320s", other->name, first.msg);
    return WEFT_OK;
}

/* One compile in `mode`. */
static weft_status compile_mode(const weft_graph *g, const weft_arch *a, const weft_compile_opts *o, const weft_mode *mode,
                                const weft_progress *pr, weft_program **out, weft_err *err) {
    weft_program *p = NULL;
    *out = NULL;
    weft_progress_say(pr, "lowering");
    weft_status s = lowered(g, a, o->max_blocks, !o->timing_only, &p, err);
    if (!s) p->mode = mode->name;
    if (!s && !mode->supports(p))
        s = weft_err_set(err, WEFT_ERR_UNSUPPORTED, "execution mode '%s' cannot run this model on %s", mode->name, a->name);
    if (!s) p->replicas = o->replicas ? o->replicas : a->chips;
    if (!s && p->replicas > 1 && !strcmp(mode->name, "weight-streaming") && a->chip_net != WEFT_NET_SWITCH)
        s = weft_err_set(err, WEFT_ERR_UNSUPPORTED, "weight streaming over %d chips of %s: its chips connect by a %s, not a switch "
                         "that broadcasts the weights and reduces the gradients (SwarmX)", p->replicas, a->name,
                         a->chip_net == WEFT_NET_RING ? "ring" : "all-to-all network");
    if (!s) s = mode->plan(p, o, pr, err);
    if (!s) s = mark_reductions(p, err);
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

weft_status weft_program_compile_mode(const weft_graph *g, const weft_arch *a, const char *mode, weft_program **out, weft_err *err) {
    weft_compile_opts o = {.mode = mode, .replicas = 1};  /* (with numbers: one chip's, as weft_program_run computes) */
    return weft_compile(g, a, &o, out, err);
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
    if (a->chips > 1) return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: a program for a machine of %d chips is not stored", where, a->chips);
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
