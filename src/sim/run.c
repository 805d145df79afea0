/* sim: the numeric pass and the event-driven timing pass (run.h). */
#include "sim/run.h"
#include "kernels/kernels.h"
#include "arch/cost.h"

#include <string.h>
#include <stdlib.h>
#include <stdio.h>
#include <math.h>
#include <limits.h>

/* ---- numeric pass ---- */

/* The patches of a convolution's input as GEMM rows: X (N, C, in...) -> rows (N prod(out), C prod(k)). */
static weft_status conv_rows(const weft_kernel *k, const weft_tensor *x, weft_tensor *rows, weft_err *err) {
    weft_tensor X = {0}, col = {0};
    int64_t N = x->shape.d[0], C = x->shape.d[1], P = weft_window_out_numel(&k->win), in = weft_window_in_numel(&k->win);
    weft_status s = weft_tensor_convert(&X, x, WEFT_F32, err);
    if (!s) s = weft_tensor_alloc(&col, WEFT_F32, WEFT_SHAPE(k->K, P), err);
    if (!s) s = weft_tensor_alloc(rows, WEFT_F32, WEFT_SHAPE(k->M, k->K), err);
    for (int64_t b = 0; b < N && !s; b++) {
        weft_im2col(&k->win, C, (const float *)X.data + b * C * in, col.data);
        const float *cv = col.data;
        float *r = (float *)rows->data + b * P * k->K;
        for (int64_t q = 0; q < P; q++)
            for (int64_t j = 0; j < k->K; j++) r[q * k->K + j] = cv[j * P + q];
    }
    weft_tensor_free(&X);
    weft_tensor_free(&col);
    return s;
}

static weft_status gemm_numerics(const weft_program *p, const weft_kernel *k, const weft_tensor *x, bool per_pe,
                                 weft_tensor *y, weft_err *err) {
    const weft_node *n = &p->graph->nodes[k->node];
    weft_tensor X = {0}, Y = {0};
    weft_status s = k->conv ? conv_rows(k, x, &X, err) : weft_tensor_convert(&X, x, WEFT_F32, err);
    if (!s) s = weft_tensor_alloc(&Y, WEFT_F32, k->conv ? WEFT_SHAPE(k->M, k->N) : p->graph->vals[n->out[0]].shape, err);
    if (s) { weft_tensor_free(&X); return s; }
    const float *xv = X.data, *w = k->weight.data;
    float *yv = Y.data;
    int64_t M = k->M, K = k->K, N = k->N;
    float *partial = weft_try_calloc((size_t)(M * N > 0 ? M * N : 1), sizeof(float));
    if (!partial) {
        weft_tensor_free(&X);
        weft_tensor_free(&Y);
        return weft_err_set(err, WEFT_ERR_NOMEM, "node '%s': out of memory for the partial sums", n->name);
    }
    /* Tile (i, j) computes X[:, K block i] . W[K block i, N block j]; the column's chain adds the
     * partials in order i = 0, 1, ... pk-1. */
    for (int i = 0; i < k->pk; i++) {
        int64_t k0 = K * i / k->pk, k1 = K * (i + 1) / k->pk;
        memset(partial, 0, (size_t)(M * N) * sizeof(float));
        if (per_pe)
            for (int j = 0; j < k->pn; j++) {
                int64_t n0 = N * j / k->pn, n1 = N * (j + 1) / k->pn;
                weft_tile_gemm(M, n1 - n0, k1 - k0, xv + k0, K, w + k0 * N + n0, N, partial + n0, N);
            }
        else
            weft_tile_gemm(M, N, k1 - k0, xv + k0, K, w + k0 * N, N, partial, N);
        if (i == 0) memcpy(yv, partial, (size_t)(M * N) * sizeof(float));
        else
            for (int64_t e = 0; e < M * N; e++) yv[e] += partial[e];
    }
    free(partial);
    /* Gemm's C or Conv's bias, added by the last tile of each column: beta * C broadcast to (M, N) */
    if ((!strcmp(n->op->name, "Gemm") || k->conv) && n->n_in > 2 && n->in[2] >= 0) {
        const weft_tensor *C = &p->folded[n->in[2]];
        float beta = k->conv ? 1.0f : weft_attr_f(n, "beta", 1.0f);
        weft_shape ys = WEFT_SHAPE(M, N);
        int64_t st[WEFT_MAX_DIMS];
        weft_bcast_strides(&C->shape, &ys, st);
        for (int64_t r = 0; r < M; r++)
            for (int64_t c = 0; c < N; c++)
                yv[r * N + c] += beta * (float)weft_tensor_get_f(C, r * st[0] + c * st[1]);
    }
    weft_tensor_free(&X);
    if (k->conv) {
        /* rows (n, pixel) x channels back to (N, M, out...) */
        weft_tensor out = {0};
        s = weft_tensor_alloc(&out, WEFT_F32, p->graph->vals[n->out[0]].shape, err);
        if (!s) {
            int64_t P = weft_window_out_numel(&k->win), imgs = k->M / P;
            const float *yr = Y.data;
            float *o = out.data;
            for (int64_t b = 0; b < imgs; b++)
                for (int64_t q = 0; q < P; q++)
                    for (int64_t m = 0; m < k->N; m++) o[(b * k->N + m) * P + q] = yr[(b * P + q) * k->N + m];
            weft_tensor_free(&Y);
            Y = out;
        }
    }
    if (!s) s = weft_tensor_convert(y, &Y, p->graph->vals[n->out[0]].dtype, err);
    weft_tensor_free(&Y);
    return s;
}

/* ---- the run: events, with the numbers computed as they happen ----
 *
 * Passes stream back to back: the inputs of pass n + 1 leave off-chip memory right after those
 * of pass n, and every region takes its blocks in order, pass after pass. A region's unit u is
 * block u % blocks of pass u / blocks. The first pass computes the numbers; `cycles` is its
 * latency; the steady-state period is worked out at the end (run_events). A region that holds
 * parameters starts a pass only after their updates of the previous pass. */

typedef struct {
    int consumer, slot;        /* kernel and dependency slot fed by this edge */
} edge;

typedef struct {
    int n_edges, cap_edges;
    edge *edges;               /* consumers of this kernel's output */
    bool to_output;            /* the output is a graph output */
    int *arrived;              /* (n_deps, passes * blocks): blocks arrived per slot and unit */
    int *arrived_all;          /* (n_deps, passes): blocks arrived per slot and pass, for whole inputs */
    int *prefix;               /* (n_deps, passes): blocks 0..prefix-1 of the pass have all arrived */
    int next_unit;             /* the next unit (pass * blocks + block) to start */
    int passes_done;           /* passes whose last block is done */
    int *held, *max_held;      /* (n_deps) blocks of the first pass arrived and not yet used up,
                                * and the most at once: checked against the SRAM plan */
    int *room;                 /* (n_deps) back-pressure: blocks of slot q its producer may still
                                * start before this kernel uses some up (INT_MAX: no limit) */
    uint64_t free_at;          /* when the region can take the next block */
    int n_updates, *updates;   /* update kernels attached to this region (their passes gate ours) */
    int *feed_of;              /* (n_deps) the input feed a graph input's slot is read from, -1 */
    weft_kernel_time time;
    /* per-PE execution of a GEMM region, (pk, pn) each: when each tile's incoming row link is
     * free, when the tile's arithmetic is free, when its outgoing column link is free, and when
     * its partial for the current block is ready */
    uint64_t *row_link_free, *tile_free, *col_link_free, *ready;
} kstate;

/* A block spilled to DDR, read back when phase g opens. */
typedef struct { int g, consumer, slot, unit; uint64_t bytes, ready; } spilled;

/* A graph input streaming in from off-chip memory to its readers (kernels and slots
 * reader_k/q[r0 .. r1)), as a multicast a block at a time: `next` is its next unit (pass x nb
 * + block). It waits for room at its readers as a producer region does (back-pressure). */
typedef struct { int r0, r1, nb, next; } feed;

typedef struct {
    const weft_program *p;
    bool per_pe, numerics;
    int passes;
    const struct weft_sim_detail *detail;
    weft_engine *eng;
    weft_net net;
    kstate *ks;
    uint64_t *pass_end;        /* (passes) the last output byte of each pass */
    uint64_t offchip_out_free; /* when the off-chip link can take the next output block */
    /* numbers: the value of every graph value once computed (views of inputs, constants and
     * parameters borrowed; computed values owned), and how many readers each has left */
    weft_tensor *val;          /* (n_vals) */
    int *readers;              /* (n_vals) */
    /* data parallel (p->replicas = R > 1): every replica's numbers. A value is the same on every
     * chip (`global`: parameters, constants, inputs that do not stream, a gradient once summed,
     * what the optimizer makes from those) or one a replica (its share of the batch: val for
     * replica 0, rval for the others) */
    int R;
    weft_tensor *rval;         /* ((R - 1) x n_vals) */
    bool *global;              /* (n_vals) */
    weft_status status;        /* the first failure of a kernel's numbers stops the run */
    weft_err *err;
    /* phases run in turn (p->phased: weight streaming, sections): phase j of pass n is g = n * n_ph + j; its kernels start
     * once it is open: its weights are in and phase g - 1 is done */
    int n_ph;
    int accumulate;            /* micro-batches (passes) per step: updates after the last of each */
    int *phase_of;             /* (n) a kernel's phase, -1 in the off-chip unit */
    int *phase_left;           /* (passes * n_ph) kernels of the phase yet to finish its pass */
    uint64_t *phase_end;       /* (passes * n_ph) when the phase finished, UINT64_MAX before */
    uint64_t *loaded;          /* (passes * n_ph) when its weights are in (valid below next_load) */
    bool *opened, *open_scheduled; /* (passes * n_ph) */
    int next_load;             /* the next phase whose weights stream in, in order */
    int current;               /* the first phase not yet done */
    int *unit_left;            /* (passes) off-chip kernels yet to finish the pass */
    uint64_t offchip_in_free;  /* when the link in can take the next bytes */
    uint64_t unit_free;        /* when the off-chip unit can take the next update */
    uint64_t weight_wait, layer_busy, unit_busy;
    spilled *spills;           /* (n_spills) blocks waiting in DDR for their phase */
    int n_spills, cap_spills;
    uint64_t *phase_open_at;   /* (n_ph) when each phase of the first pass opened */
    int64_t bytes_in, bytes_out;
    /* data parallel (p->replicas > 1): the replicas run in step, so one is simulated; the chip
     * network sums each gradient over them (a switch in weight streaming: on the way to the
     * off-chip unit, at line rate, `switch_delay` its levels' latency each way) */
    uint64_t net_free, net_busy, switch_delay;
    feed *feeds;               /* (n_feeds) the graph inputs' streams */
    int n_feeds, *reader_k, *reader_q;
    double in_sent;            /* when the off-chip link in has sent the inputs' last block, cycles */
    int64_t net_bytes;
    bool free_reduction;       /* the sums take no time (weft_sim_opts) */
} sim;

enum { EV_ARRIVAL, EV_DONE, EV_PHASE };  /* arg: {kernel, slot, unit}; a DONE's slot is unused; a PHASE's unit is g */

/* Whether kernel k's graph output stays on the machine instead of leaving over the off-chip
 * link: what the off-chip unit computes, and in a pipelined program an update beside its
 * parameter (k->host). */
static bool output_stays(const weft_program *p, const weft_kernel *k) { return k->offchip || (!p->phased && k->host >= 0); }

/* Replica r's value v (the one all replicas share when it is global). */
static weft_tensor *val_of(sim *s, int r, int v) {
    return r == 0 || s->global[v] ? &s->val[v] : &s->rval[(size_t)(r - 1) * (size_t)s->p->graph->n_vals + (size_t)v];
}

static void free_value(sim *s, int v) {
    weft_tensor_free(&s->val[v]);
    for (int r = 1; r < s->R && !s->global[v]; r++) weft_tensor_free(val_of(s, r, v));
}

/* One reader of v is done with it: free it when it was the last. */
static void release(sim *s, int v) {
    if (v >= 0 && --s->readers[v] == 0) free_value(s, v);
}

/* Data parallel: gradient v summed over the replicas in their order and scaled by 1 / R (the
 * mean over the global batch, each replica's loss being its share's mean), after which it is
 * global. The order is fixed, so the bits do not depend on the threads or the run. */
static weft_status sum_over_replicas(sim *s, int v) {
    if (s->global[v]) return WEFT_OK;
    weft_tensor *a = &s->val[v];
    if (a->dtype != WEFT_F32)
        return weft_err_set(s->err, WEFT_ERR_UNSUPPORTED, "data parallel: the gradient '%s' is %s, not float32", s->p->graph->vals[v].name,
                            weft_dtype_name(a->dtype));
    if (!a->owns) {  /* (a borrowed view: sum into a copy of its own) */
        weft_tensor c;
        if (weft_tensor_convert(&c, a, WEFT_F32, s->err)) return s->err->status;
        *a = c;
    }
    float *d = a->data, inv = (float)(1.0 / s->R);
    int64_t n = weft_tensor_numel(a);
    for (int r = 1; r < s->R; r++) {
        const float *x = val_of(s, r, v)->data;
        for (int64_t i = 0; i < n; i++) d[i] += x[i];
        weft_tensor_free(val_of(s, r, v));
    }
    for (int64_t i = 0; i < n; i++) d[i] *= inv;
    s->global[v] = true;
    return WEFT_OK;
}

/* Computes node i (a kernel's op, or a view) from values already present, in graph semantics;
 * GEMM kernels with the mapping's arithmetic. */
static weft_status compute_node(sim *s, int i);

/* Makes sure value v is present: a view is computed from its input when first read. */
static weft_status need_value(sim *s, int v) {
    if (v < 0 || s->val[v].data || weft_shape_numel(&s->p->graph->vals[v].shape) == 0) return WEFT_OK;
    int i = s->p->graph->vals[v].producer;
    if (i < 0 || s->p->kernel_of_node[i] != WEFT_NODE_VIEW)
        return weft_err_set(s->err, WEFT_ERR_INVALID, "internal: value '%s' read before its kernel ran", s->p->graph->vals[v].name);
    return compute_node(s, i);
}

static weft_status compute_node(sim *s, int i) {
    const weft_program *p = s->p;
    const weft_graph *g = p->graph;
    const weft_node *n = &g->nodes[i];
    int ki = p->kernel_of_node[i];
    for (int q = 0; q < n->n_in; q++) {
        weft_status st = need_value(s, n->in[q]);
        if (st) return st;
    }
    /* data parallel: the gradients an optimizer kernel reads are summed over the replicas first;
     * a node whose inputs are all global runs once, the others once a replica */
    for (int d = 0; ki >= 0 && s->R > 1 && d < p->k[ki].n_deps; d++)
        if (p->k[ki].dep_reduced[d]) {
            weft_status st = sum_over_replicas(s, p->k[ki].dep_value[d]);
            if (st) return st;
        }
    bool each = false;
    for (int q = 0; q < n->n_in && s->R > 1; q++) each |= n->in[q] >= 0 && !s->global[n->in[q]];
    for (int r = 0; r < (each ? s->R : 1); r++) {
        weft_tensor out[WEFT_MAX_IO] = {{0}};
        weft_status st;
        if (ki >= 0 && p->k[ki].kind == WEFT_KERNEL_GEMM) st = gemm_numerics(p, &p->k[ki], val_of(s, r, n->in[0]), s->per_pe, &out[0], s->err);
        else {
            const weft_tensor *in[WEFT_MAX_IO];
            for (int q = 0; q < n->n_in; q++) in[q] = n->in[q] >= 0 ? val_of(s, r, n->in[q]) : NULL;
            st = weft_node_eval(g, n, in, out, s->err);
        }
        if (st) return st;
        for (int j = 0; j < n->n_out; j++) {
            if (s->R > 1) s->global[n->out[j]] = !each;
            *val_of(s, r, n->out[j]) = out[j];
        }
    }
    for (int j = 0; j < n->n_out; j++)
        if (s->readers[n->out[j]] == 0) free_value(s, n->out[j]);
    for (int q = 0; q < n->n_in; q++) release(s, n->in[q]);
    return WEFT_OK;
}

/* Bytes of output block b of kernel k (an accumulating kernel's single block is all of it). */
static int64_t block_bytes(const weft_program *p, const weft_kernel *k, int b) {
    const weft_value *v = &p->graph->vals[p->graph->nodes[k->node].out[0]];
    int64_t total = weft_shape_numel(&v->shape) * (int64_t)weft_dtype_size(v->dtype);
    int nb = weft_kernel_out_blocks(k);
    return total * (b + 1) / nb - total * b / nb;
}

/* Sends `bytes` over the lanes [lane0, lane0 + n) of the program, split evenly; returns when the
 * last lane's data has arrived. Within a multicast (weft_net_multicast_begin), lane l of n
 * carries the same bytes for every consumer split n ways, so it shares the links they cross. */
static uint64_t send_lanes(sim *s, uint64_t t, int lane0, int n, uint64_t bytes, bool multicast) {
    uint64_t last = t;
    for (int l = 0; l < n; l++) {
        uint64_t b = bytes * (uint64_t)(l + 1) / (uint64_t)n - bytes * (uint64_t)l / (uint64_t)n;
        const weft_lane *ln = &s->p->lanes[lane0 + l];
        uint64_t at = weft_net_send_lane_tagged(&s->net, t, ln, b, multicast ? weft_lane_tag(l, n) : 0);
        if (at > last) last = at;
    }
    return last;
}

static void schedule(sim *s, int kind, uint64_t t, int kernel, int slot, int unit) {
    weft_event ev = {.time = t, .lp = kernel, .kind = (uint16_t)kind, .arg = {kernel, slot, unit}};
    weft_engine_at(s->eng, &ev);
}

/* Per-PE execution of one row block on a GEMM region, tile by tile. The X block enters row i
 * at its west tile at t0 and is multicast east (one hop per tile, each link busy for t_in); tile
 * (i, j) computes when its X has arrived and its previous block is done (t_compute); the
 * partials then flow south down each column, a tile adding its own as the stream passes (one
 * hop per tile, each link busy for t_out); the column's last tile sends the result on. The
 * region's own links carry only its own traffic. Returns when the last column is done. The
 * grouped path's closed form (stage max(t_compute, t_in, t_out), latency (pn - 1 + pk - 1) hops
 * + t_in + t_compute + t_out) must give the same cycles: tests/test_fabric.c checks it. */
static uint64_t gemm_block_per_pe(sim *s, int ki, uint64_t t0) {
    const weft_kernel *k = &s->p->k[ki];
    kstate *st = &s->ks[ki];
    uint64_t hop = (uint64_t)s->p->arch.hop_latency;
    int pk = k->pk, pn = k->pn;
    uint64_t done = 0;
    for (int chunk = 0; chunk < k->chunks; chunk++) {  /* a block's chunks, one after another */
    for (int i = 0; i < pk; i++) {
        uint64_t h = t0;  /* the multicast's head at tile (i, j) */
        for (int j = 0; j < pn; j++) {
            size_t t = (size_t)i * (size_t)pn + (size_t)j;
            if (j) h += hop;
            if (h < st->row_link_free[t]) h = st->row_link_free[t];
            st->row_link_free[t] = h + k->t_in;
            uint64_t c = h + k->t_in;
            if (c < st->tile_free[t]) c = st->tile_free[t];
            st->tile_free[t] = st->ready[t] = c + k->t_compute;
        }
    }
    for (int j = 0; j < pn; j++) {
        uint64_t head = 0;  /* the chain's head leaving tile (i, j) */
        for (int i = 0; i < pk; i++) {
            size_t t = (size_t)i * (size_t)pn + (size_t)j;
            uint64_t x = st->ready[t];
            if (i && head + hop > x) x = head + hop;
            if (x < st->col_link_free[t]) x = st->col_link_free[t];
            st->col_link_free[t] = x + k->t_out;
            head = x;
        }
        if (head + k->t_out > done) done = head + k->t_out;
    }
    }
    return done;
}

/* Bytes across the off-chip link, out (to off-chip memory) or in, one transfer at a time each
 * way: when they have arrived. */
static uint64_t offchip_send(sim *s, uint64_t t, uint64_t bytes, bool in) {
    const weft_arch *a = &s->p->arch;
    uint64_t *free_at = in ? &s->offchip_in_free : &s->offchip_out_free;
    if (t < *free_at) t = *free_at;
    *free_at = t + (uint64_t)((double)bytes / weft_cost_offchip_per_cycle(a) + 0.999999);
    if (in) s->bytes_in += (int64_t)bytes; else s->bytes_out += (int64_t)bytes;
    return *free_at + (uint64_t)(a->offchip_latency_s * a->clock_hz) + s->switch_delay;
}

/* Data parallel: a gradient of `bytes` ready on every replica at t is summed over the chip
 * network (all-reduce, arch.c's formula), the links carrying one sum's bytes at a time (its hops'
 * latency overlapping the next one's bytes); when the sum is on this chip. In
 * weight streaming the switch sums it on its way to the off-chip unit (offchip_send). */
static uint64_t reduce_over_chips(sim *s, uint64_t t, uint64_t bytes) {
    const weft_arch *a = &s->p->arch;
    s->net_bytes += (int64_t)bytes;
    if (s->p->weight_streaming || s->free_reduction) return t;
    double lat = weft_arch_allreduce_latency_s(a, s->p->replicas);
    uint64_t busy = (uint64_t)((weft_arch_allreduce_s(a, s->p->replicas, (double)bytes) - lat) * a->clock_hz + 0.999999);
    if (t < s->net_free) t = s->net_free;
    s->net_free = t + busy;
    s->net_busy += busy;
    return t + busy + (uint64_t)(lat * a->clock_hz + 0.5);
}

static bool spill_later(sim *s, int g, int consumer, int slot, int unit, uint64_t bytes, uint64_t ready) {
    if (s->n_spills == s->cap_spills) {
        int cap = s->cap_spills ? 2 * s->cap_spills : 64;
        spilled *n = weft_try_realloc(s->spills, (size_t)cap * sizeof *n);
        if (!n) return false;
        s->spills = n;
        s->cap_spills = cap;
    }
    s->spills[s->n_spills++] = (spilled){g, consumer, slot, unit, bytes, ready};
    return true;
}

/* Phase g opens when its weights are in and phase g - 1 is done. */
static void ws_open(sim *s, int g) {
    if (g >= s->passes * s->n_ph || g >= s->next_load || s->open_scheduled[g]) return;
    if (g > 0 && s->phase_end[g - 1] == UINT64_MAX) return;
    uint64_t before = g > 0 ? s->phase_end[g - 1] : 0, t = s->loaded[g] > before ? s->loaded[g] : before;
    s->weight_wait += t - before;
    uint64_t again = s->p->phases[g % s->n_ph].recompute_cycles;  /* the activations it reads that were not kept */
    t += again;
    s->layer_busy += again;
    s->open_scheduled[g] = true;
    schedule(s, EV_PHASE, t, s->p->phases[g % s->n_ph].first_kernel, 0, g);
}

/* Streams in the weights of the next phases, in order, as far ahead as SRAM holds them: phase
 * g's may come in while phase c runs when the weights of c + 1 .. g fit in the room c leaves
 * (weft_phase.prefetch_bytes), and so on for each phase up to g; a pass's first phase's only
 * once the off-chip unit has applied the last pass's updates (the iteration boundary). The
 * compiler made sure the next phase's always fit. */
#define WS_LOOKAHEAD 256  /* phases loaded ahead at most (bounds the check's cost) */
static void ws_load(sim *s, uint64_t now) {
    const weft_phase *ph = s->p->phases;
    int total = s->passes * s->n_ph;
    while (s->current < total && s->phase_end[s->current] != UINT64_MAX) s->current++;
    while (s->next_load < total) {
        int g = s->next_load, pass = g / s->n_ph;
        if (g % s->n_ph == 0 && pass > 0 && pass % s->accumulate == 0 && s->unit_left[pass - 1] > 0) return;
        if (g - s->current > WS_LOOKAHEAD) return;
        int64_t ahead = 0;
        for (int j = g - 1; j >= s->current; j--) {
            ahead += ph[(j + 1) % s->n_ph].weight_in_bytes;
            if (ahead > ph[j % s->n_ph].prefetch_bytes) return;
        }
        int64_t bytes = ph[g % s->n_ph].weight_in_bytes;
        s->loaded[g] = bytes ? offchip_send(s, now, (uint64_t)bytes, true) : now;
        s->next_load++;
        ws_open(s, g);
    }
}

static void try_start(sim *s, int ki, uint64_t now);

/* Sends the next blocks of input feed f, up to unit `upto`, while every reader has room for
 * them: the off-chip link one block at a time, each block multicast over its readers' lanes. */
static void feed_input(sim *s, int f, uint64_t now, int upto) {
    feed *fd = &s->feeds[f];
    const weft_program *p = s->p;
    double offchip = weft_cost_offchip_per_cycle(&p->arch);
    for (; fd->next < upto; fd->next++) {
        for (int r = fd->r0; r < fd->r1; r++)
            if (s->ks[s->reader_k[r]].room[s->reader_q[r]] <= 0) return;
        int pass = fd->next / fd->nb, b = fd->next % fd->nb, v = p->k[s->reader_k[fd->r0]].dep_value[s->reader_q[fd->r0]];
        int64_t total = weft_program_value_bytes(p, v);
        uint64_t bytes = (uint64_t)(total * (b + 1) / fd->nb - total * b / fd->nb);
        if (s->in_sent < (double)now) s->in_sent = (double)now;
        s->in_sent += (double)bytes / offchip;
        weft_net_multicast_begin(&s->net);
        for (int r = fd->r0; r < fd->r1; r++) {
            const weft_kernel *rk = &p->k[s->reader_k[r]];
            int q = s->reader_q[r];
            uint64_t at = send_lanes(s, (uint64_t)s->in_sent, rk->dep_lane0[q], rk->dep_lanes[q], bytes, true);
            if (s->detail && s->detail->transfer && r == fd->r0)
                s->detail->transfer(s->detail->ctx, -1, s->reader_k[r], bytes, (uint64_t)s->in_sent, at);
            int *room = &s->ks[s->reader_k[r]].room[q];
            if (*room != INT_MAX) (*room)--;
            schedule(s, EV_ARRIVAL, at, s->reader_k[r], q, pass * fd->nb + b);
        }
    }
}

static void try_start(sim *s, int ki, uint64_t now) {
    const weft_kernel *k = &s->p->k[ki];
    kstate *st = &s->ks[ki];
    int B = k->blocks, U = B * s->passes;
    while (st->next_unit < U) {
        int u = st->next_unit, b = u % B, pass = u / B;
        if (s->n_ph && s->phase_of[ki] >= 0 && !s->opened[pass * s->n_ph + s->phase_of[ki]]) return;
        for (int q = 0; q < k->n_deps; q++) {
            int upto = weft_dep_last_block(s->p, k, q, b);
            bool ok = weft_kernel_dep_rowwise(k, q) ? st->arrived[q * U + u] > 0
                      : upto >= 0 ? st->prefix[q * s->passes + pass] > upto
                                  : st->arrived_all[q * s->passes + pass] == weft_dep_blocks(s->p, k, q);
            if (!ok) return;
        }
        /* a region holding parameters takes a new pass once their updates of the last are done */
        for (int j = 0; b == 0 && j < st->n_updates; j++)
            if (s->ks[st->updates[j]].passes_done < pass) return;
        /* back-pressure: a block starts only when every consumer streaming it has room for it */
        for (int c = 0; c < st->n_edges; c++)
            if (s->ks[st->edges[c].consumer].room[st->edges[c].slot] <= 0) return;
        for (int c = 0; c < st->n_edges; c++) {
            int *r = &s->ks[st->edges[c].consumer].room[st->edges[c].slot];
            if (*r != INT_MAX) (*r)--;
        }
        uint64_t start = now > st->free_at ? now : st->free_at, done;
        if (k->offchip && s->unit_free > start) start = s->unit_free;  /* the unit applies one update at a time */
        if (st->next_unit == 0) st->time.first_start = start;
        else if (now > st->free_at) st->time.waiting += now - st->free_at;
        if (k->offchip) {
            /* the off-chip memory unit: the update's arithmetic at its own rate; within a step of
             * several micro-batches, before the last, only the sum of the gradient into its
             * accumulator (an add per element of the parameter) */
            const weft_arch *a = &s->p->arch;
            const weft_value *ov = &s->p->graph->vals[s->p->graph->nodes[k->node].out[0]];
            bool update = pass == s->passes - 1 || (pass + 1) % s->accumulate == 0;
            double flops = update ? (double)k->flops : (double)weft_shape_numel(&ov->shape);
            uint64_t c = weft_cost_offchip_update(a, flops / B);
            s->unit_free = st->free_at = done = start + c;
            st->time.busy += c;
            s->unit_busy += c;
        } else if (s->per_pe && k->kind == WEFT_KERNEL_GEMM) {
            done = gemm_block_per_pe(s, ki, now);
            st->free_at = start + k->block_cycles;  /* for the statistics; the tiles keep their own times */
            st->time.busy += k->block_cycles;
        } else {
            /* the region as one group: it takes a block every stage time, each after its latency */
            st->free_at = start + k->block_cycles;
            done = start + k->block_latency;
            st->time.busy += k->block_cycles;
        }
        if (s->n_ph && !k->offchip) s->layer_busy += k->block_cycles;
        if (done > st->time.last_end) st->time.last_end = done;
        if (s->detail && s->detail->task) s->detail->task(s->detail->ctx, ki, pass, b, start, start + k->block_cycles);
        st->next_unit++;
        /* the inputs' blocks this block used up: its own, or its sequence's after its last; their
         * room goes back to the producers, which may be waiting for it */
        int seq = s->p->blocks_per_seq;
        schedule(s, EV_DONE, done, ki, 0, u);
        for (int q = 0; q < k->n_deps; q++) {
            int used = weft_kernel_dep_rowwise(k, q) ? 1 : k->dep_kind[q] != WEFT_DEP_WHOLE && b % seq == seq - 1 ? seq : 0;
            if (!used) continue;
            if (pass == 0) st->held[q] -= used;
            if (st->room[q] == INT_MAX) continue;
            st->room[q] += used;
            if (k->dep[q] >= 0) try_start(s, k->dep[q], start);
            else if (st->feed_of[q] >= 0) feed_input(s, st->feed_of[q], start, s->feeds[st->feed_of[q]].nb * s->passes);
        }
    }
}

static void on_arrival(sim *s, uint64_t t, int ki, int slot, int unit) {
    const weft_kernel *k = &s->p->k[ki];
    kstate *st = &s->ks[ki];
    int B = k->blocks, U = B * s->passes, nb = weft_dep_blocks(s->p, k, slot), pass = unit / nb;
    if (k->dep_kind[slot] != WEFT_DEP_WHOLE) st->arrived[slot * U + unit]++;
    else st->arrived_all[slot * s->passes + pass]++;
    /* the prefix of consecutive blocks of the pass that have arrived */
    int *pre = &st->prefix[slot * s->passes + pass];
    while (*pre < B && st->arrived[slot * U + pass * B + *pre] > 0) (*pre)++;
    if (pass == 0 && ++st->held[slot] > st->max_held[slot]) st->max_held[slot] = st->held[slot];
    try_start(s, ki, t);
}

static void on_done(sim *s, uint64_t t, int ki, int unit) {
    const weft_program *p = s->p;
    const weft_kernel *k = &p->k[ki];
    kstate *st = &s->ks[ki];
    int B = k->blocks, b = unit % B, pass = unit / B;
    /* The kernel's last block of the first pass is done: every block of its inputs has
     * arrived, and its output is complete. Its numbers are computed now, in the order the fabric
     * completes kernels. (Every output row depends only on its own input rows, so rows computed
     * together are the bits that computing them block by block would give.) */
    if (s->numerics && !s->status && unit == B - 1) s->status = compute_node(s, k->node);
    if (b == B - 1) {
        st->passes_done = pass + 1;
        /* the regions this update gates may take their next pass now */
        if (k->host >= 0) try_start(s, k->host, t);
        if (s->n_ph && k->offchip && --s->unit_left[pass] == 0) ws_load(s, t);
        if (s->n_ph && !k->offchip) {
            int g = pass * s->n_ph + s->phase_of[ki];
            if (--s->phase_left[g] == 0) {
                s->phase_end[g] = t;
                ws_load(s, t);
                ws_open(s, g + 1);
            }
        }
    }
    int out_unit = unit, out_b = b;
    if (k->accumulates) {
        if (b != B - 1) return;  /* partial sums stay in the region */
        out_unit = pass;         /* the whole output, once a pass */
        out_b = 0;
    }
    /* the block goes to every consumer that streams it as one multicast; an output that does not
     * keep the stream (a sum over it: a layer norm's gradients of its gain and bias) goes once,
     * whole, after the last block */
    uint64_t bytes = (uint64_t)block_bytes(p, k, out_b);
    int n_block = 0;
    for (int c = 0; c < st->n_edges; c++) n_block += weft_dep_blocks(p, &p->k[st->edges[c].consumer], st->edges[c].slot) == B;
    bool multicast = n_block > 1;
    uint64_t written = 0, to_unit = 0;  /* a spilled block's write to DDR is done; the block reached the off-chip unit */
    /* data parallel: when each output value's sum over the replicas is here (a kernel of several
     * outputs, a layer norm's gradients of its gain and bias, sums each once) */
    uint64_t summed_at[WEFT_MAX_IO] = {0}, t0 = t;
    int summed_v[WEFT_MAX_IO], n_summed = 0;
    if (multicast) weft_net_multicast_begin(&s->net);
    for (int c = 0; c < st->n_edges; c++) {
        const weft_kernel *dk = &p->k[st->edges[c].consumer];
        int slot = st->edges[c].slot;
        bool per_block = weft_dep_blocks(p, dk, slot) == B;
        if (!per_block && b != B - 1) continue;
        uint64_t nb = per_block ? bytes : (uint64_t)weft_program_value_bytes(p, dk->dep_value[slot]);
        bool whole = dk->dep_reduced[slot] && per_block && !p->weight_streaming && !dk->dep_spilled[slot];
        if (whole && b != B - 1) continue;
        /* an all-reduce sums a gradient once it is whole (the replicas' buckets), its blocks
         * waiting in the producer's region until then, and the update gets them all; the switch
         * of weight streaming sums it block by block on its way to the off-chip unit */
        t = t0;
        if (dk->dep_reduced[slot]) {
            int j = 0, v = dk->dep_value[slot];
            while (j < n_summed && summed_v[j] != v) j++;
            if (j == n_summed && n_summed < WEFT_MAX_IO) {
                summed_v[n_summed++] = v;
                summed_at[j] = reduce_over_chips(s, t0, whole ? (uint64_t)weft_program_value_bytes(p, v) : nb);
            }
            t = j < WEFT_MAX_IO ? summed_at[j] : t0;
        }
        if (whole) {
            uint64_t all = (uint64_t)weft_program_value_bytes(p, dk->dep_value[slot]);
            uint64_t at = send_lanes(s, t, dk->dep_lane0[slot], dk->dep_lanes[slot], all, false);
            for (int u = pass * B; u < pass * B + B; u++) schedule(s, EV_ARRIVAL, at, st->edges[c].consumer, slot, u);
            continue;
        }
        if (dk->dep_spilled[slot]) {
            /* sections: written to DDR once, read back when the consumer's section opens */
            if (!written) written = offchip_send(s, t, nb, false);
            if (!spill_later(s, pass * s->n_ph + s->phase_of[st->edges[c].consumer], st->edges[c].consumer, slot,
                             per_block ? out_unit : pass, nb, written))
                s->status = weft_err_set(s->err, WEFT_ERR_NOMEM, "simulating on %s: out of memory (the spilled tensors)", p->arch.name);
            continue;
        }
        uint64_t at;
        if (k->offchip == dk->offchip) at = send_lanes(s, t, dk->dep_lane0[slot], dk->dep_lanes[slot], nb, multicast && per_block);
        else if (!k->offchip && to_unit) at = to_unit;  /* the unit has it already (an update and its sum of squares) */
        else at = offchip_send(s, t, nb, k->offchip);   /* to or from the off-chip unit */
        if (!k->offchip && dk->offchip) to_unit = at;
        if (s->detail && s->detail->transfer) s->detail->transfer(s->detail->ctx, ki, st->edges[c].consumer, nb, t, at);
        schedule(s, EV_ARRIVAL, at, st->edges[c].consumer, slot, per_block ? out_unit : pass);
    }
    t = t0;
    /* an updated parameter or optimizer state stays where it is: in the off-chip unit (weight
     * streaming), in the region holding the parameter (pipelined: the next step reads it there) */
    if (st->to_output && output_stays(p, k)) {
        if (t > s->pass_end[pass]) s->pass_end[pass] = t;
    } else if (st->to_output) {
        /* to off-chip memory at the east edge: the mesh to the edge, then the off-chip link */
        uint64_t at = send_lanes(s, t, k->out_lane0, k->out_lanes, bytes, false);
        if (at < s->offchip_out_free) at = s->offchip_out_free;  /* the off-chip link takes one block at a time */
        at += (uint64_t)((double)bytes / weft_cost_offchip_per_cycle(&p->arch) + 0.999999);
        s->offchip_out_free = at;
        if (s->detail && s->detail->transfer) s->detail->transfer(s->detail->ctx, ki, -1, bytes, t, at);
        if (at > s->pass_end[pass]) s->pass_end[pass] = at;
    }
}

static void handle(void *state, const weft_event *ev, weft_engine *e) {
    (void)e;
    sim *s = state;
    if (ev->kind == EV_ARRIVAL) on_arrival(s, ev->time, ev->arg[0], ev->arg[1], ev->arg[2]);
    else if (ev->kind == EV_DONE) on_done(s, ev->time, ev->arg[0], ev->arg[2]);
    else {  /* a phase opens: its kernels may start */
        int g = ev->arg[2];
        const weft_phase *ph = &s->p->phases[g % s->n_ph];
        s->opened[g] = true;
        if (g < s->n_ph) s->phase_open_at[g] = ev->time;
        /* the blocks it reads back from DDR, over the link in and the lanes into their regions */
        for (int j = 0; j < s->n_spills; j++) {
            spilled *sp = &s->spills[j];
            if (sp->g != g) continue;
            const weft_kernel *dk = &s->p->k[sp->consumer];
            uint64_t reads = (uint64_t)weft_dep_reads(dk, sp->slot);  /* (a second look, a chunked GEMM's passes) */
            uint64_t at = offchip_send(s, ev->time > sp->ready ? ev->time : sp->ready, reads * sp->bytes, true);
            at = send_lanes(s, at, dk->dep_lane0[sp->slot], dk->dep_lanes[sp->slot], sp->bytes, false);
            schedule(s, EV_ARRIVAL, at, sp->consumer, sp->slot, sp->unit);
            *sp = s->spills[--s->n_spills];
            j--;
        }
        for (int i = ph->first_kernel; i < ph->first_kernel + ph->n_kernels; i++) try_start(s, i, ev->time);
    }
}

/* Whether kernel i, unfinished, waits for room at one of its consumers. */
static bool waits_for_room(const sim *s, int i) {
    const kstate *st = &s->ks[i];
    if (st->next_unit == s->p->k[i].blocks * s->passes) return false;
    for (int c = 0; c < st->n_edges; c++)
        if (s->ks[st->edges[c].consumer].room[st->edges[c].slot] <= 0) return true;
    return false;
}

/* Every block of every pass ran, or the pipeline stalled: a producer waited for room that its
 * consumer would free only with blocks that wait for the producer (the SRAM plan held fewer
 * blocks than the order of arrivals needs). Names the kernel that stopped for room at a
 * consumer which itself waits for something else: where the chain of waits ends. */
static weft_status check_all_ran(sim *s) {
    const weft_program *p = s->p;
    for (int i = 0; i < p->n; i++) {
        const kstate *st = &s->ks[i];
        if (st->next_unit == p->k[i].blocks * s->passes) continue;
        for (int c = 0; c < st->n_edges; c++) {
            const weft_kernel *dk = &p->k[st->edges[c].consumer];
            int q = st->edges[c].slot;
            if (s->ks[st->edges[c].consumer].room[q] > 0 || waits_for_room(s, st->edges[c].consumer)) continue;
            const weft_graph *g = p->graph;
            return weft_err_set(s->err, WEFT_ERR_UNSUPPORTED,
                                "simulating on %s: the pipeline stalled: node '%s' (%s) waits for room in the input "
                                "buffer of node '%s' (%s), which holds %d blocks of '%s' (and 2 on their way) and frees none until later "
                                "blocks arrive; block %d of pass %d never started (try a smaller batch, or --blocks)",
                                p->arch.name, g->nodes[p->k[i].node].name, g->nodes[p->k[i].node].op->name,
                                g->nodes[dk->node].name, g->nodes[dk->node].op->name, weft_kernel_held_blocks(p, dk, q),
                                g->vals[dk->dep_value[q]].name, st->next_unit % p->k[i].blocks, st->next_unit / p->k[i].blocks);
        }
    }
    /* phases run in turn: one that never opened waited for its weights, the phase before or the
     * last step's updates (a planning error, named rather than asserted) */
    for (int g = 0; s->n_ph && g < s->passes * s->n_ph; g++)
        if (!s->opened[g]) {
            const weft_node *n = &p->graph->nodes[p->k[p->phases[g % s->n_ph].first_kernel].node];
            return weft_err_set(s->err, WEFT_ERR_UNSUPPORTED, "simulating on %s: phase %d of pass %d (from node '%s') never opened: %s",
                                p->arch.name, g % s->n_ph, g / s->n_ph, n->name,
                                g >= s->next_load ? "its weights never streamed in (no room, or the updates before it never ended)"
                                                  : "the phase before it never finished");
        }
    /* a graph input that stopped for room at a reader that never used its blocks up */
    for (int f = 0; f < s->n_feeds; f++) {
        const feed *fd = &s->feeds[f];
        if (fd->next == fd->nb * s->passes) continue;
        for (int r = fd->r0; r < fd->r1; r++) {
            const weft_kernel *dk = &p->k[s->reader_k[r]];
            int q = s->reader_q[r];
            if (s->ks[s->reader_k[r]].room[q] > 0) continue;
            const weft_graph *g = p->graph;
            return weft_err_set(s->err, WEFT_ERR_UNSUPPORTED,
                                "simulating on %s: the pipeline stalled: the graph input '%s' waits for room in the input buffer of "
                                "node '%s' (%s), which holds %d blocks of it (and 2 on their way) and frees none until later blocks "
                                "arrive (try a smaller batch, or --blocks)", p->arch.name, g->vals[dk->dep_value[q]].name,
                                g->nodes[dk->node].name, g->nodes[dk->node].op->name, weft_kernel_held_blocks(p, dk, q));
        }
    }
    for (int i = 0; i < p->n; i++)
        if (s->ks[i].next_unit != p->k[i].blocks * s->passes)
            return weft_err_set(s->err, WEFT_ERR_UNSUPPORTED, "simulating on %s: the pipeline stalled: node '%s' (%s) never ran block %d of "
                                "pass %d (nothing waits for room: an internal error of the plan)", p->arch.name,
                                p->graph->nodes[p->k[i].node].name, p->graph->nodes[p->k[i].node].op->name,
                                s->ks[i].next_unit % p->k[i].blocks, s->ks[i].next_unit / p->k[i].blocks);
    return WEFT_OK;
}

/* Whether an earlier graph-input dependency (kernel, slot) than (i, q) reads the same value:
 * then the value's blocks went to (i, q) in that one's multicast. */
static bool input_sent_with_earlier(const weft_program *p, int i, int q) {
    int v = p->k[i].dep_value[q];
    for (int i2 = 0; i2 <= i; i2++)
        for (int q2 = 0; q2 < (i2 == i ? q : p->k[i2].n_deps); q2++)
            if (p->k[i2].dep[q2] < 0 && p->k[i2].dep_value[q2] == v) return true;
    return false;
}

static weft_status run_events(const weft_program *p, const weft_tensor *const *inputs, weft_tensor *outputs,
                              const weft_sim_opts *o, weft_sim_stats *out, weft_err *err) {
    const weft_graph *g = p->graph;
    const weft_arch *ar = &p->arch;
    bool numerics = !o->timing_only;
    sim s = {.p = p, .per_pe = o->per_pe, .numerics = numerics, .err = err, .detail = o->detail};
    s.passes = o->passes > 0 ? o->passes : 3;
    if (s.passes > 64) s.passes = 64;
    s.accumulate = o->accumulate > 1 ? o->accumulate : 1;
    s.free_reduction = o->free_reduction;
    if (p->replicas > 1 && p->weight_streaming && !o->free_reduction)
        s.switch_delay = (uint64_t)(weft_arch_switch_levels(p->replicas) * p->arch.chip_link_latency_s * p->arch.clock_hz + 0.5);
    if (s.accumulate > 1) {
        if (!p->weight_streaming || numerics)
            return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "simulating on %s: gradient accumulation over %d micro-batches is timed "
                                "in weight streaming only, without numbers (weft train --accum runs it on the host)", ar->name, s.accumulate);
        /* one step's last micro-batches: up to 8, the last of them applying the update (the
         * others of a longer step are like the first ones: the period is extrapolated) */
        s.passes = s.accumulate < 8 ? s.accumulate : 8;
    }
    weft_status st = WEFT_OK;
    s.pass_end = weft_try_calloc((size_t)s.passes, sizeof(uint64_t));
    s.val = weft_try_calloc((size_t)g->n_vals + 1, sizeof *s.val);
    s.readers = weft_try_calloc((size_t)g->n_vals + 1, sizeof *s.readers);
    s.ks = weft_try_calloc((size_t)p->n + 1, sizeof *s.ks);
    s.eng = weft_engine_new(handle, &s);
    s.phase_of = weft_try_malloc(((size_t)p->n + 1) * sizeof(int));  /* (pipelined: every kernel in phase 0) */
    bool ok = weft_net_init(&s.net, ar) && s.pass_end && s.val && s.readers && s.ks && s.eng && s.phase_of;
    for (int i = 0; ok && i < p->n; i++) s.phase_of[i] = p->phased ? -1 : 0;
    for (int j = 0; ok && p->phased && j < p->n_phases; j++)
        for (int i = p->phases[j].first_kernel; i < p->phases[j].first_kernel + p->phases[j].n_kernels; i++) s.phase_of[i] = j;
    for (int i = 0; i < p->n && ok; i++) {
        const weft_kernel *k = &p->k[i];
        size_t units = (size_t)k->blocks * (size_t)s.passes;
        kstate *ks = &s.ks[i];
        ks->arrived = weft_try_calloc((size_t)k->n_deps * units + 1, sizeof(int));
        ks->arrived_all = weft_try_calloc((size_t)k->n_deps * (size_t)s.passes + 1, sizeof(int));
        ks->prefix = weft_try_calloc((size_t)k->n_deps * (size_t)s.passes + 1, sizeof(int));
        ks->held = weft_try_calloc((size_t)k->n_deps + 1, sizeof(int));
        ks->max_held = weft_try_calloc((size_t)k->n_deps + 1, sizeof(int));
        ks->room = weft_try_calloc((size_t)k->n_deps + 1, sizeof(int));
        ks->feed_of = weft_try_malloc(((size_t)k->n_deps + 1) * sizeof(int));
        ok = ks->arrived && ks->arrived_all && ks->prefix && ks->held && ks->max_held && ks->room && ks->feed_of;
        for (int q = 0; ok && q < k->n_deps; q++) ks->feed_of[q] = -1;
        /* room for the blocks the SRAM plan holds of a streamed input from a kernel, block by
         * block: the consumer's own, and the two of the producer's output (one being computed,
         * one on its way); graph inputs, inputs needed whole and outputs sent once a pass are not
         * limited */
        for (int q = 0; q < k->n_deps && ok; q++) {
            /* (an edge between phases: its blocks wait in the stash or in DDR) */
            /* (a gradient summed over the replicas arrives whole: its room is the region's own) */
            bool streamed = k->dep[q] >= 0 && s.phase_of[k->dep[q]] == s.phase_of[i] && !k->offchip && k->dep_kind[q] != WEFT_DEP_WHOLE &&
                            weft_dep_blocks(p, k, q) == p->k[k->dep[q]].blocks && !p->k[k->dep[q]].accumulates &&
                            !(k->dep_reduced[q] && !p->weight_streaming);
            /* (a graph input read block by block, in a pipelined program: as from a producer) */
            bool fed = k->dep[q] < 0 && !p->phased && weft_kernel_dep_rowwise(k, q) && weft_dep_blocks(p, k, q) == k->blocks && k->blocks > 1;
            ks->room[q] = streamed || fed ? weft_kernel_held_blocks(p, k, q) + 2 : INT_MAX;
        }
        if (ok && s.per_pe && k->kind == WEFT_KERNEL_GEMM) {
            size_t tiles = (size_t)k->pk * (size_t)k->pn;
            ks->row_link_free = weft_try_calloc(tiles, sizeof(uint64_t));
            ks->tile_free = weft_try_calloc(tiles, sizeof(uint64_t));
            ks->col_link_free = weft_try_calloc(tiles, sizeof(uint64_t));
            ks->ready = weft_try_calloc(tiles, sizeof(uint64_t));
            ok = ks->row_link_free && ks->tile_free && ks->col_link_free && ks->ready;
        }
        for (int q = 0; q < k->n_deps && ok; q++) {
            if (k->dep[q] < 0) continue;
            kstate *src = &s.ks[k->dep[q]];
            if (src->n_edges == src->cap_edges) {
                int cap = src->cap_edges ? 2 * src->cap_edges : 4;
                edge *e = weft_try_realloc(src->edges, (size_t)cap * sizeof *src->edges);
                if (!(ok = e != NULL)) break;
                src->edges = e;
                src->cap_edges = cap;
            }
            src->edges[src->n_edges++] = (edge){i, q};
        }
        if (ok && k->host >= 0) {
            kstate *h = &s.ks[k->host];
            int *u = weft_try_realloc(h->updates, (size_t)(h->n_updates + 1) * sizeof(int));
            if ((ok = u != NULL)) {
                h->updates = u;
                h->updates[h->n_updates++] = i;
            }
        }
        for (int j = 0; j < g->n_outputs; j++)
            if (p->kernel_of_value[g->outputs[j]] == i) ks->to_output = true;
    }
    if (!ok) {
        st = weft_err_set(err, WEFT_ERR_NOMEM, "simulating on %s: out of memory (the run's state)", ar->name);
        goto cleanup;
    }
    s.R = numerics && p->replicas > 1 ? p->replicas : 1;
    if (numerics) {
        s.global = weft_try_calloc((size_t)g->n_vals + 1, sizeof *s.global);
        s.rval = weft_try_calloc((size_t)(s.R - 1) * (size_t)g->n_vals + 1, sizeof *s.rval);
        if (!s.global || !s.rval) {
            st = weft_err_set(err, WEFT_ERR_NOMEM, "simulating on %s: out of memory (the replicas' values)", ar->name);
            goto cleanup;
        }
        for (int v = 0; v < g->n_vals; v++)
            if (p->folded[v].data) { s.val[v] = p->folded[v]; s.val[v].owns = 0; s.readers[v] = -1; s.global[v] = true; }
        /* (replica r's inputs are inputs[r * n_inputs ..]; one that does not stream, a scalar of
         * the optimizer, is the same for every replica) */
        for (int i = 0; i < g->n_inputs; i++) {
            int v = g->inputs[i];
            s.global[v] = s.R > 1 && p->stream_axis[v] < 0;
            for (int r = 1; r < s.R && s.global[v]; r++)  /* (a per-sample input that does not stream, a (B,) label: not shared) */
                s.global[v] = weft_tensor_nbytes(inputs[r * g->n_inputs + i]) == weft_tensor_nbytes(inputs[i]) &&
                              !memcmp(inputs[r * g->n_inputs + i]->data, inputs[i]->data, weft_tensor_nbytes(inputs[i]));
            for (int r = 0; r < (s.global[v] ? 1 : s.R); r++) {
                *val_of(&s, r, v) = *inputs[r * g->n_inputs + i];
                val_of(&s, r, v)->owns = 0;
            }
        }
        for (int i = 0; i < g->n_nodes; i++)
            if (p->kernel_of_node[i] != WEFT_NODE_FOLDED)
                for (int q = 0; q < g->nodes[i].n_in; q++)
                    if (g->nodes[i].in[q] >= 0 && s.readers[g->nodes[i].in[q]] >= 0) s.readers[g->nodes[i].in[q]]++;
        for (int j = 0; j < g->n_outputs; j++)
            if (s.readers[g->outputs[j]] >= 0) s.readers[g->outputs[j]]++;
    }
    if (ok && p->phased) {
        size_t np = (size_t)p->n_phases * (size_t)s.passes;
        s.n_ph = p->n_phases;
        s.phase_left = weft_try_calloc(np + 1, sizeof(int));
        s.phase_end = weft_try_malloc((np + 1) * sizeof(uint64_t));
        s.loaded = weft_try_calloc(np + 1, sizeof(uint64_t));
        s.opened = weft_try_calloc(np + 1, sizeof(bool));
        s.open_scheduled = weft_try_calloc(np + 1, sizeof(bool));
        s.unit_left = weft_try_calloc((size_t)s.passes + 1, sizeof(int));
        s.phase_open_at = weft_try_calloc((size_t)p->n_phases + 1, sizeof(uint64_t));
        ok = s.phase_open_at && s.phase_left && s.phase_end && s.loaded && s.opened && s.open_scheduled && s.unit_left;
        for (size_t g2 = 0; ok && g2 < np; g2++) {
            s.phase_end[g2] = UINT64_MAX;
            s.phase_left[g2] = p->phases[g2 % (size_t)p->n_phases].n_kernels;
        }
        for (int pass = 0; ok && pass < s.passes; pass++)
            for (int i = 0; i < p->n; i++) s.unit_left[pass] += p->k[i].offchip;
        if (!ok) {
            st = weft_err_set(err, WEFT_ERR_NOMEM, "simulating on %s: out of memory (the phases)", ar->name);
            goto cleanup;
        }
    } else WEFT_ASSERT(p->n_phases == 1);  /* pipelined: one phase, every kernel resident */
    if (s.detail && s.detail->link && s.detail->watch_link >= 0) {
        s.net.on_busy = s.detail->link;
        s.net.ctx = s.detail->ctx;
        s.net.watch = (size_t)s.detail->watch_link;
    }
    /* graph inputs stream from off-chip memory into the west edge, block after block, pass
     * after pass; a value read by several kernels leaves off-chip memory once, as a multicast to
     * its readers: (kernel, slot) pairs, those of one value side by side */
    int n_readers = 0, *reader_k = NULL, *reader_q = NULL;
    for (int i = 0; i < p->n; i++)
        for (int q = 0; q < p->k[i].n_deps; q++) n_readers += p->k[i].dep[q] < 0;
    reader_k = weft_try_calloc((size_t)n_readers + 1, sizeof *reader_k);
    reader_q = weft_try_calloc((size_t)n_readers + 1, sizeof *reader_q);
    if (!reader_k || !reader_q) {
        free(reader_k);
        free(reader_q);
        st = weft_err_set(err, WEFT_ERR_NOMEM, "simulating on %s: out of memory (the inputs' readers)", ar->name);
        goto cleanup;
    }
    n_readers = 0;
    for (int i = 0; i < p->n; i++)
        for (int q = 0; q < p->k[i].n_deps; q++) {
            if (p->k[i].dep[q] >= 0 || input_sent_with_earlier(p, i, q)) continue;
            for (int i2 = i; i2 < p->n; i2++)
                for (int q2 = i2 == i ? q : 0; q2 < p->k[i2].n_deps; q2++)
                    if (p->k[i2].dep[q2] < 0 && p->k[i2].dep_value[q2] == p->k[i].dep_value[q])
                        reader_k[n_readers] = i2, reader_q[n_readers++] = q2;
        }
    /* one feed a value; every pass in turn, each feed's blocks of the pass as far as its readers
     * have room (later blocks go as they make room) */
    s.reader_k = reader_k;
    s.reader_q = reader_q;
    s.feeds = weft_try_calloc((size_t)n_readers + 1, sizeof *s.feeds);
    if (!s.feeds) {
        st = weft_err_set(err, WEFT_ERR_NOMEM, "simulating on %s: out of memory (the inputs' feeds)", ar->name);
        goto cleanup;
    }
    for (int r0 = 0, r1; r0 < n_readers; r0 = r1) {
        int v = p->k[reader_k[r0]].dep_value[reader_q[r0]];
        for (r1 = r0 + 1; r1 < n_readers && p->k[reader_k[r1]].dep_value[reader_q[r1]] == v; r1++) {}
        for (int r = r0; r < r1; r++) s.ks[reader_k[r]].feed_of[reader_q[r]] = s.n_feeds;
        s.feeds[s.n_feeds++] = (feed){r0, r1, weft_value_blocks(p, v), 0};
    }
    for (int pass = 0; pass < s.passes; pass++)
        for (int f = 0; f < s.n_feeds; f++) feed_input(&s, f, 0, (pass + 1) * s.feeds[f].nb);
    for (int i = 0; i < p->n; i++)
        if (p->k[i].n_deps == 0) try_start(&s, i, 0);
    if (s.n_ph) ws_load(&s, 0);
    weft_engine_run(s.eng);
    st = s.status;
    if (!st && (weft_engine_failed(s.eng) || s.net.failed)) {
        st = weft_err_set(err, WEFT_ERR_NOMEM, "simulating on %s: out of memory (the events in flight)", ar->name);
        goto cleanup;
    }
    if (!st) st = check_all_ran(&s);  /* (first: a pipeline that stalled has outputs it never made) */
    for (int j = 0; j < g->n_outputs && numerics && !st; j++) {
        st = need_value(&s, g->outputs[j]);
        for (int r = 0; r < s.R && !st; r++)  /* (replica r's outputs at outputs[r * n_outputs ..]) */
            st = weft_tensor_convert(&outputs[r * g->n_outputs + j], val_of(&s, r, g->outputs[j]), g->vals[g->outputs[j]].dtype, err);
    }
    /* a kernel that feeds no output and no consumer still ends its pass */
    for (int pass = 0; pass < s.passes; pass++)
        for (int i = 0; i < p->n; i++)
            if (s.ks[i].time.last_end > s.pass_end[pass] && pass == s.passes - 1) s.pass_end[pass] = s.ks[i].time.last_end;
    for (int pass = 1; pass < s.passes; pass++)
        if (s.pass_end[pass] < s.pass_end[pass - 1]) s.pass_end[pass] = s.pass_end[pass - 1];
    /* statistics */
    memset(out, 0, sizeof *out);
    out->passes = s.passes;
    out->cycles = s.pass_end[0];
    uint64_t run_end = s.pass_end[s.passes - 1] > 0 ? s.pass_end[s.passes - 1] : 1;
    /* The steady state. In a pipeline that nothing gates (inference), in the long run a pass
     * takes the busy cycles of its busiest resource: a region, a link or the off-chip link (where
     * back-pressure binds, blocks wait for room and the passes end further apart: with at least
     * four passes, the mean interval of the second half's pass ends is taken when longer). (The interval between the last passes' ends swings
     * with the transients of a few passes: queues still filling, or draining at the end.) A
     * pipeline whose updates gate the next pass (training) is bound by that loop: its period is
     * the mean interval between pass ends, and at least the busiest resource's. */
    double io = 0, io_in = 0, rate = weft_cost_offchip_per_cycle(ar);
    for (int j = 0; j < g->n_outputs; j++)
        if (p->kernel_of_value[g->outputs[j]] < 0 || !output_stays(p, &p->k[p->kernel_of_value[g->outputs[j]]]))
            io += (double)weft_program_value_bytes(p, g->outputs[j]) / rate;
    for (int j = 0; j < g->n_inputs; j++) io_in += (double)weft_program_value_bytes(p, g->inputs[j]) / rate;
    if (io_in > io) io = io_in;
    size_t links = (size_t)ar->width * (size_t)ar->height * 4;
    for (size_t l = 0; l < links; l++)
        if (s.net.links[l].busy > s.net.links[(size_t)out->link_busiest].busy) out->link_busiest = (int64_t)l;
    out->bottleneck = 0;
    bool gated = false;
    for (int i = 0; i < p->n; i++) {
        if (s.ks[i].time.busy > s.ks[out->bottleneck].time.busy) out->bottleneck = i;
        gated |= s.ks[i].n_updates > 0;
    }
    double per_pass[3] = {p->n ? (double)s.ks[out->bottleneck].time.busy / s.passes : 0,
                          (double)s.net.links[(size_t)out->link_busiest].busy / s.passes, io};
    int worst = per_pass[1] > per_pass[0] ? 1 : 0;
    if (per_pass[2] > per_pass[worst]) worst = 2;
    if (worst == 1) out->bottleneck = WEFT_BOTTLENECK_LINK;
    if (worst == 2) out->bottleneck = WEFT_BOTTLENECK_OFFCHIP;
    out->bottleneck_busy = per_pass[worst] * s.passes / (double)run_end;
    double period = per_pass[worst];
    if (gated && s.passes > 1) {
        double mean = (double)(s.pass_end[s.passes - 1] - s.pass_end[0]) / (double)(s.passes - 1);
        if (mean > period) {
            period = mean;
            out->bottleneck = WEFT_BOTTLENECK_UPDATES;  /* a pass waits for the last one's updates */
            out->bottleneck_busy = 1;
        }
    }
    if (!gated && s.passes >= 4) {
        int h = s.passes / 2;
        double mean = (double)(s.pass_end[s.passes - 1] - s.pass_end[h - 1]) / (double)(s.passes - h);
        if (mean > period) {
            period = mean;
            out->bottleneck = WEFT_BOTTLENECK_BUFFERS;
        }
    }
    if (s.n_ph) {
        /* weight streaming: the passes run one after another, each its layers in turn; the
         * bottleneck is what the pass spent most of its time on: layers computing (the busiest),
         * waiting for their weights, or the off-chip unit's updates after the last layer */
        period = s.passes > 1 ? (double)(s.pass_end[s.passes - 1] - s.pass_end[0]) / (double)(s.passes - 1) : (double)s.pass_end[0];
        if (s.accumulate > 1) {  /* a step, per micro-batch: the accumulating ones at the interval between them, then the updating one */
            int k = s.passes;
            double acc = k >= 3 ? (double)(s.pass_end[k - 2] - s.pass_end[0]) / (k - 2) : (double)s.pass_end[0];
            period = ((double)s.pass_end[k - 1] + (double)(s.accumulate - k) * acc) / s.accumulate;
        }
        out->weight_bytes_in = s.bytes_in / s.passes;
        out->gradient_bytes_out = s.bytes_out / s.passes;
        out->layer_cycles = s.layer_busy / (uint64_t)s.passes;
        if (!p->weight_streaming) {  /* sections: kernels of a section run together; the sections' own time */
            out->layer_cycles = 0;
            for (int j = 0; j < s.n_ph; j++)
                if (s.phase_end[j] != UINT64_MAX && s.phase_end[j] > s.phase_open_at[j]) out->layer_cycles += s.phase_end[j] - s.phase_open_at[j];
        }
        out->weight_wait_cycles = s.weight_wait / (uint64_t)s.passes;
        out->update_cycles = s.unit_busy / (uint64_t)s.passes;
        out->bottleneck = 0;
        for (int i = 0; i < p->n; i++)
            if (!p->k[i].offchip && s.ks[i].time.busy > s.ks[out->bottleneck].time.busy) out->bottleneck = i;
        out->bottleneck_busy = (double)out->layer_cycles / period;
        if (out->weight_wait_cycles > out->layer_cycles) {
            out->bottleneck = WEFT_BOTTLENECK_WEIGHTS;
            out->bottleneck_busy = (double)out->weight_wait_cycles / period;
        }
        /* the update's tail: after the last pass's last layer (the one that updates) */
        uint64_t last_layer = 0, end = s.pass_end[s.passes - 1];
        for (int j = (s.passes - 1) * s.n_ph; j < s.passes * s.n_ph; j++)
            if (s.phase_end[j] != UINT64_MAX && s.phase_end[j] > last_layer) last_layer = s.phase_end[j];
        uint64_t wait = out->weight_wait_cycles > out->layer_cycles ? out->weight_wait_cycles : out->layer_cycles;
        double tail = end > last_layer ? (double)(end - last_layer) / s.accumulate : 0;  /* per micro-batch */
        if (tail > (double)wait) {
            out->bottleneck = WEFT_BOTTLENECK_UPDATES;
            out->bottleneck_busy = tail / period;
        }
    }
    if (s.passes == 1) period = (double)s.pass_end[0];  /* one pass: no steady state to speak of */
    out->accumulate = s.accumulate;
    out->period_cycles = (uint64_t)ceil(period);
    if (out->period_cycles < 1) out->period_cycles = 1;
    out->passes_per_s = ar->clock_hz / (double)out->period_cycles;
    out->run_cycles = run_end;
    out->seconds = (double)out->cycles / ar->clock_hz;
    double busy = 0, sram_sum = 0, tiles_sum = 0, flops_by_arith[WEFT_ARCH_NUM_DTYPES] = {0};
    int64_t tiles_total = (int64_t)ar->width * ar->height;
    for (int i = 0; i < p->n && !st; i++) {
        const weft_kernel *k = &p->k[i];
        int64_t t = (int64_t)k->w * k->h;
        out->flops += k->flops;
        if (!k->offchip) busy += (double)k->flops / weft_kernel_rate(p, k);  /* the fabric's tiles only */
        flops_by_arith[k->arith] += (double)k->flops;
        /* SRAM at run time: the plan holds so many blocks of each input (compile/sram.c); blocks
         * that waited beyond that need room beside the plan */
        if (k->offchip) continue;  /* in the off-chip unit: no tiles */
        int64_t waited = 0;  /* (weight streaming: blocks wait in the stash, planned at compile time) */
        for (int q = 0; q < k->n_deps && !p->phased; q++) {
            if (k->dep_reduced[q]) continue;  /* a summed gradient lands where the update's plan holds it (attached_bytes) */
            int extra = s.ks[i].max_held[q] - weft_kernel_held_blocks(p, k, q), v = k->dep_value[q];
            if (extra > 0) waited += (int64_t)extra * (weft_program_value_bytes(p, v) / weft_dep_blocks(p, k, q)) / (t ? t : 1);
        }
        int64_t use = k->sram_per_tile + waited;
        if (k->host >= 0) continue;  /* its SRAM and tiles are its host region's */
        int64_t cap = 0;
        for (int x = k->x0; x < k->x0 + k->w; x++) cap += weft_arch_kind_at(ar, x, 0)->sram_bytes;
        cap = cap / k->w;
        if (use > cap)
            st = weft_err_set(err, WEFT_ERR_NOMEM, "SRAM overflow at run time: node '%s' (%s) needs %lld bytes per tile, tiles hold %lld",
                              g->nodes[k->node].name, g->nodes[k->node].op->name, (long long)use, (long long)cap);
        if (use > out->sram_bytes_max) out->sram_bytes_max = use;
        sram_sum += (double)use * (double)t;
        tiles_sum += (double)t;
        if (!p->phased) out->tiles_used += t;
        else if (t > out->tiles_used) out->tiles_used = t;  /* the phases take the mesh in turn */
    }
    out->sram_bytes_mean = tiles_sum > 0 ? sram_sum / tiles_sum : 0;
    if (p->phased && p->sram_max > out->sram_bytes_max) out->sram_bytes_max = p->sram_max;  /* with the stash and the next weights */
    if (p->phased) out->tiles_used = p->tiles_used;  /* the largest phase's */
    /* in the steady state: a pass's arithmetic over the tile-cycles of one period, of the tiles in
     * use (the phases of a phased program take the whole mesh in turn); achieved / peak FLOP/s is
     * the same over the whole machine */
    double in_use = p->phased || out->tiles_used <= 0 ? (double)tiles_total : (double)out->tiles_used;
    out->pe_utilization = busy / (in_use * (double)out->period_cycles);
    if (s.detail && s.detail->kernels)
        for (int i = 0; i < p->n; i++) s.detail->kernels[i] = s.ks[i].time;
    for (int j = 0; s.detail && s.n_ph && j < s.n_ph; j++) {
        if (s.detail->phase_start) s.detail->phase_start[j] = s.phase_open_at[j];
        if (s.detail->phase_end) s.detail->phase_end[j] = s.phase_end[j] == UINT64_MAX ? 0 : s.phase_end[j];
    }
    /* the peak of the arithmetic that does most of the program's flops */
    int main_arith = WEFT_ARCH_FP32;
    for (int d = 0; d < WEFT_ARCH_NUM_DTYPES; d++)
        if (flops_by_arith[d] > flops_by_arith[main_arith]) main_arith = d;
    static const char *const arith_names[] = {"fp32", "fp16", "bf16"};
    out->peak_dtype = arith_names[main_arith];
    /* data parallel: the system's, every replica doing what the simulated one does */
    int R = p->replicas > 1 ? p->replicas : 1;
    out->replicas = R;
    out->peak_flops = weft_arch_peak_flops(ar, (weft_arch_dtype)main_arith) / ar->chips * R;
    out->achieved_flops = (double)out->flops * R * out->passes_per_s;  /* steady state */
    out->tiles_used *= R;
    out->chip_net_bytes = s.net_bytes / s.passes;
    out->chip_net_cycles = s.net_busy / (uint64_t)s.passes;
    double load_sum = 0;
    for (size_t l = 0; l < links; l++) load_sum += (double)s.net.links[l].busy / (double)run_end;
    out->link_load_max = (double)s.net.links[(size_t)out->link_busiest].busy / (double)run_end;
    out->link_load_mean = load_sum / (double)links;
    out->messages = s.net.messages / (uint64_t)s.passes;  /* per pass */
    out->bytes_moved = s.net.bytes / (uint64_t)s.passes;
    out->byte_hops = s.net.byte_hops / (uint64_t)s.passes;
    out->events = weft_engine_events(s.eng);
cleanup:
    for (int v = 0; s.val && v < g->n_vals; v++) {
        weft_tensor_free(&s.val[v]);
        for (int r = 1; s.rval && s.global && !s.global[v] && r < s.R; r++) weft_tensor_free(val_of(&s, r, v));
    }
    free(s.val);
    free(s.rval);
    free(s.global);
    free(s.readers);
    for (int i = 0; s.ks && i < p->n; i++) {
        kstate *k = &s.ks[i];
        free(k->arrived); free(k->arrived_all); free(k->prefix); free(k->held); free(k->max_held); free(k->room); free(k->updates);
        free(k->row_link_free); free(k->tile_free); free(k->col_link_free); free(k->ready); free(k->edges); free(k->feed_of);
    }
    free(s.ks);
    free(s.pass_end);
    free(s.spills); free(s.phase_open_at);
    free(s.feeds); free(s.reader_k); free(s.reader_q);
    free(s.phase_of); free(s.phase_left); free(s.phase_end); free(s.loaded); free(s.opened); free(s.open_scheduled); free(s.unit_left);
    weft_net_free(&s.net);
    weft_engine_free(s.eng);
    return st;
}

weft_status weft_sim_run(const weft_program *p, const weft_tensor *const *inputs, int n_inputs, weft_tensor *outputs,
                         int n_outputs, const weft_sim_opts *o, weft_sim_stats *st, weft_err *err) {
    const weft_graph *g = p->graph;
    /* data parallel with numbers: every replica's inputs and outputs, replica after replica */
    int R = !o->timing_only && p->replicas > 1 ? p->replicas : 1;
    if (n_outputs != g->n_outputs * R)
        return weft_err_set(err, WEFT_ERR_INVALID, "the program has %d outputs%s, %d requested", g->n_outputs * R, R > 1 ? " (all replicas')" : "",
                            n_outputs);
    if (!o->timing_only && p->timing_only)
        return weft_err_set(err, WEFT_ERR_INVALID, "the program was compiled for timing only (no weights on its tiles)");
    if (!o->timing_only) {
        if (n_inputs != g->n_inputs * R)
            return weft_err_set(err, WEFT_ERR_INVALID, "the program takes %d inputs%s, %d given", g->n_inputs * R, R > 1 ? " (all replicas')" : "",
                                n_inputs);
        for (int k = 0; k < n_inputs; k++) {
            const weft_value *v = &g->vals[g->inputs[k % g->n_inputs]];
            char a[128], b[128];
            if (inputs[k]->dtype != v->dtype || !weft_shape_eq(&inputs[k]->shape, &v->shape))
                return weft_err_set(err, WEFT_ERR_SHAPE, "input '%s': expected %s %s, given %s %s", v->name, weft_dtype_name(v->dtype),
                                    weft_shape_str(&v->shape, a, sizeof a), weft_dtype_name(inputs[k]->dtype),
                                    weft_shape_str(&inputs[k]->shape, b, sizeof b));
        }
    }
    weft_status s = run_events(p, inputs, outputs, o, st, err);
    /* data parallel: the same run with sums that take no time gives the period of one chip
     * running its share alone, so the report can say what the communication costs */
    if (s) return s;
    st->alone_period_cycles = st->period_cycles;
    if (p->replicas > 1 && !o->free_reduction && o->timing_only) {  /* (a training step with numbers does not need it) */
        weft_sim_opts a = {.timing_only = true, .per_pe = o->per_pe, .passes = o->passes, .accumulate = o->accumulate, .free_reduction = true};
        weft_sim_stats alone;
        weft_err e = {0};
        if (!run_events(p, NULL, NULL, &a, &alone, &e)) st->alone_period_cycles = alone.period_cycles;
    }
    return s;
}

weft_status weft_program_run(const weft_program *p, const weft_tensor *const *inputs, int n_inputs, weft_tensor *outputs,
                             int n_outputs, const weft_sim_opts *o, weft_sim_stats *st, weft_err *err) {
    return weft_sim_run(p, inputs, n_inputs, outputs, n_outputs, o, st, err);
}
