/* compile: region sizing and placement (passes.h).
 *
 * Reads: the kernels (work, SRAM need), the machine's mesh. Writes: every kernel's region
 * (x0, y0, w, h) and a GEMM's grid (pk, pn); an attached update gets its host's region. Fails
 * naming the layer and the bytes when the model does not fit.
 *
 * Sizing: every region gets at least the tiles its SRAM plan needs, and the rest of the mesh is
 * shared out in proportion to each kernel's time (re-weighted by the time it got, a few rounds),
 * so the pipeline is balanced.
 *
 * Packing: shelves. Data enters a region along its west column and leaves along its east
 * column (a GEMM: its bottom row), so regions sit west to east in graph order along a shelf of
 * height B, each B tiles tall and as wide as its tiles need: consecutive layers are neighbours
 * and an edge between them is as many lanes as the shelf is tall, one hop long. A region that
 * needs more than a shelf's length is a multiple of B tall and has its rows to itself (no
 * shorter region leaves blank rows beside it); the next shelf starts below. When the next region does not fit what is left of a shelf, the
 * last region grows to fill it (no tile is wasted). On a machine whose columns differ (SN30's
 * PCU and PMU columns) regions span whole column patterns.
 * Every shelf height (within a step of 5/4) and share of the mesh is tried; the placement kept is
 * the one whose objective, the cost model's time for a stream of passes (fill + 7 periods, edge
 * lanes and distances included), is least. */
#include "compile/passes.h"
#include "arch/cost.h"

#include <string.h>
#include <stdlib.h>

#define STREAM_PASSES 8  /* the objective: one pass's latency + 7 steady-state periods */

/* Shapes region k with `tiles` tiles for shelves of height bh: its height (bh, or a multiple of
 * it for a region that needs more than a shelf's length), its width (a multiple of the column
 * quantum), and a GEMM's grid. False when it cannot hold its data on the mesh. */
static bool shape_region(weft_program *p, weft_kernel *k, int64_t tiles, int bh, int quantum, int *w_out, int *h_out) {
    const weft_arch *a = &p->arch;
    double cap = weft_sram_cap(p);
    int W = a->width - a->width % quantum, H = a->height;
    int64_t per_shelf = (int64_t)bh * W;
    int h = bh * (int)((tiles + per_shelf - 1) / per_shelf);
    if (h > H) h = H - H % bh;
    if (h < bh) return false;
    int w = (int)((tiles + h - 1) / h);
    w = (w + quantum - 1) / quantum * quantum;
    if (w > W) w = W;
    if (k->kind == WEFT_KERNEL_GEMM) {
        /* rows are K blocks, columns N blocks; a grid whose tiles cannot hold their data grows
         * along N (more columns), then along K (a taller region) */
        for (;;) {
            int pk = (int)(k->K < h ? k->K : h), pn = (int)(k->N < w ? k->N : w);
            k->pk = pk;
            k->pn = pn;
            if ((double)weft_sram_need(p, k, pk, pn, (int64_t)pk * pn) <= cap) {
                h = pk;
                w = (pn + quantum - 1) / quantum * quantum;
                break;
            }
            if (pn < k->N && w < W) { w = w + w / 4 + quantum; w = w / quantum * quantum; if (w > W) w = W; continue; }
            if (pk >= k->K || h + bh > H) return false;
            h += bh;
        }
    } else if ((double)weft_sram_need(p, k, 1, 1, (int64_t)w * h) > cap) {
        int64_t need = weft_sram_min_tiles(p, k);
        if (need < 0) return false;
        while ((int64_t)w * h < need) {
            if (w < W) { w += quantum; continue; }
            if (h + bh > H) return false;
            h += bh;
        }
    }
    *w_out = w;
    *h_out = h;
    return true;
}

/* Widens region k by `grow` tiles to fill its shelf (a GEMM only up to its N). */
static void widen(weft_kernel *k, int grow) {
    if (k->kind == WEFT_KERNEL_GEMM) {
        int room = (int)(k->N - k->pn);
        if (room <= 0) return;
        if (grow > room) grow = room;
        k->pn += grow;
    }
    k->w += grow;
}

/* Packs the regions with `tiles` each into shelves of height bh (see the top of the file):
 * west to east along a shelf, the next shelf below the tallest region of the last. */
static bool pack(weft_program *p, const int *order, const int64_t *tiles, int bh, int quantum) {
    const weft_arch *a = &p->arch;
    int W = a->width - a->width % quantum;
    int x = 0, y = 0, shelf_h = 0, last = -1;
    for (int o = 0; o < p->n; o++) {
        int i = order[o];
        weft_kernel *k = &p->k[i];
        if (k->host >= 0) continue;
        int w, h;
        if (!shape_region(p, k, tiles[i], bh, quantum, &w, &h)) return false;
        if ((x + w > W || h > bh) && x > 0) {
            /* the shelf is full, or the next region is taller than a shelf: the last region
             * takes what is left of the shelf */
            if (last >= 0) widen(&p->k[last], (W - x) / quantum * quantum);
            y += shelf_h;
            x = 0;
            shelf_h = 0;
        }
        if (y + h > a->height) return false;
        k->chip = 0;
        k->x0 = x;
        k->y0 = y;
        k->w = w;
        k->h = h;
        x += w;
        if (h > shelf_h) shelf_h = h;
        last = i;
        if (h > bh) {  /* a region taller than a shelf has its rows to itself */
            widen(k, (W - x) / quantum * quantum);
            y += h;
            x = 0;
            shelf_h = 0;
            last = -1;
        }
    }
    if (last >= 0 && x < W) widen(&p->k[last], (W - x) / quantum * quantum);
    for (int i = 0; i < p->n; i++)
        if (p->k[i].host >= 0) {
            const weft_kernel *h = &p->k[p->k[i].host];
            p->k[i].chip = h->chip;
            p->k[i].x0 = h->x0;
            p->k[i].y0 = h->y0;
            p->k[i].w = h->w;
            p->k[i].h = h->h;
        }
    return true;
}

/* The packing order: graph order, except that a kernel of the backward pass comes right after
 * the forward node whose rule made it, so a layer's backward sits beside its forward (the
 * activations it saved and the gradients of its weights travel a region or two, not across the
 * wafer). order: (n) kernel indices. */
typedef struct { int key, kernel; } place_slot;

static int by_key(const void *a, const void *b) {
    const place_slot *x = a, *y = b;
    return x->key != y->key ? (x->key < y->key ? -1 : 1) : (x->kernel > y->kernel) - (x->kernel < y->kernel);
}

static bool place_order(const weft_program *p, int *order) {
    place_slot *s = weft_try_calloc((size_t)p->n + 1, sizeof *s);
    if (!s) return false;
    for (int i = 0; i < p->n; i++) {
        int node = p->k[i].node, f = p->graph->nodes[node].forward;
        s[i] = (place_slot){f >= 0 ? 2 * f + 1 : 2 * node, i};
        /* the backward of a node folded at compile time (a parameter's cast to bf16) has no
         * forward region to sit beside: it goes beside the kernel that feeds it (its gradient's
         * producer), not to the start of the mesh where every such gradient would converge */
        if (f >= 0 && p->kernel_of_node[f] < 0 && p->k[i].n_deps > 0 && p->k[i].dep[0] >= 0) s[i].key = s[p->k[i].dep[0]].key;
    }
    qsort(s, (size_t)p->n, sizeof *s, by_key);
    for (int i = 0; i < p->n; i++) order[i] = s[i].kernel;
    free(s);
    return true;
}

/* The planner's objective for the placement now in p. */
static double objective(weft_program *p) {
    uint64_t pass = weft_cost_pass(p), period = weft_cost_period(p);
    return (double)pass + (double)(STREAM_PASSES - 1) * (double)period;
}

typedef struct { int x0, y0, w, h, pk, pn; } saved_region;

static void save(const weft_program *p, saved_region *r) {
    for (int i = 0; i < p->n; i++) r[i] = (saved_region){p->k[i].x0, p->k[i].y0, p->k[i].w, p->k[i].h, p->k[i].pk, p->k[i].pn};
}
static void restore(weft_program *p, const saved_region *r) {
    for (int i = 0; i < p->n; i++) {
        weft_kernel *k = &p->k[i];
        k->x0 = r[i].x0, k->y0 = r[i].y0, k->w = r[i].w, k->h = r[i].h, k->pk = r[i].pk, k->pn = r[i].pn;
        k->chip = 0;
    }
}

weft_status weft_pass_place(weft_program *p, weft_err *err) {
    const weft_graph *g = p->graph;
    const weft_arch *a = &p->arch;
    weft_status s = WEFT_OK;
    int64_t total = (int64_t)a->width * a->height;
    int quantum = weft_arch_column_quantum(a);
    int64_t *need = weft_try_calloc((size_t)p->n + 1, sizeof(int64_t)), *tiles = weft_try_calloc((size_t)p->n + 1, sizeof(int64_t));
    double *weight = weft_try_calloc((size_t)p->n + 1, sizeof(double));
    saved_region *best = weft_try_calloc((size_t)p->n + 1, sizeof *best);
    int *order = weft_try_calloc((size_t)p->n + 1, sizeof(int));
    if (!need || !tiles || !weight || !best || !order || !place_order(p, order)) s = weft_pass_oom(p, "the placement", err);
    int64_t need_sum = 0;
    double work_sum = 0;
    for (int i = 0; i < p->n && !s; i++) {
        if (p->k[i].host >= 0) continue;  /* in its host's region */
        need[i] = weft_sram_min_tiles(p, &p->k[i]);
        if (need[i] < 0) {
            const weft_kernel *k = &p->k[i];
            const weft_node *n = &g->nodes[k->node];
            double want = (double)weft_sram_need(p, k, 1, 1, 1), have = weft_sram_cap(p) * (double)total;
            char hint[600], sn[24], sh[24];
            weft_sram_fit_hint(p, k, want, have, hint, sizeof hint);
            s = weft_err_set(err, WEFT_ERR_NOMEM,
                             "model does not fit %s: layer '%s' (%s) needs %s, and the whole mesh holds %s (%lld tiles x "
                             "%.0f usable bytes): %s",
                             a->name, n->name, n->op->name, weft_bytes_str(want, sn, sizeof sn), weft_bytes_str(have, sh, sizeof sh),
                             (long long)total, weft_sram_cap(p), hint);
            break;
        }
        need[i] = (need[i] + quantum - 1) / quantum * quantum;
        need_sum += need[i];
        work_sum += (double)(p->k[i].flops > 0 ? p->k[i].flops : 1);
    }
    if (!s && need_sum > total) {
        int worst = 0;
        for (int i = 1; i < p->n; i++)
            if (need[i] > need[worst]) worst = i;
        double sram = weft_arch_tile_sram(a);
        const weft_node *n = &g->nodes[p->k[worst].node];
        s = weft_err_set(err, WEFT_ERR_NOMEM,
                         "model does not fit %s: its %d kernels need at least %lld tiles (%.3g GB of SRAM at %.0f%% use) and the "
                         "machine has %lld (%.3g GB), %.3g GB short; the largest layer is '%s' (%s), %lld tiles. Try fewer layers, "
                         "a smaller batch or sequence, or a machine with more SRAM",
                         a->name, p->n, (long long)need_sum, (double)need_sum * sram * 1e-9, WEFT_SRAM_USABLE * 100,
                         (long long)total, (double)total * sram * 1e-9, (double)(need_sum - total) * sram * 1e-9, n->name,
                         n->op->name, (long long)need[worst]);
    }
    for (int i = 0; i < p->n && !s; i++) weight[i] = p->k[i].host >= 0 ? 0 : (double)(p->k[i].flops > 0 ? p->k[i].flops : 1) / work_sum;
    double best_obj = -1;
    for (int round = 0; round < 3 && !s; round++) {
        bool placed_this_round = false;
        for (double share = 1.0; share > 0.3 && !placed_this_round; share -= 0.05) {
            int64_t spare = (int64_t)((double)total * share) - need_sum;
            if (spare < 0) spare = 0;
            for (int i = 0; i < p->n; i++) tiles[i] = p->k[i].host >= 0 ? 0 : (int64_t)(weight[i] * (double)spare) + need[i];
            for (int bh = 1; bh <= a->height; bh = bh < 4 ? bh + 1 : bh * 5 / 4) {
                if (!pack(p, order, tiles, bh, quantum)) continue;
                placed_this_round = true;
                double obj = objective(p);
                if (best_obj < 0 || obj < best_obj) { best_obj = obj; save(p, best); }
            }
        }
        if (best_obj < 0) {
            s = weft_err_set(err, WEFT_ERR_NOMEM,
                             "model does not fit %s: its %d regions (at least %lld tiles of %lld) cannot be packed on the %d x %d "
                             "mesh; try fewer layers or a smaller batch",
                             a->name, p->n, (long long)need_sum, (long long)total, a->width, a->height);
            break;
        }
        /* re-weight by the time each kernel takes in the best placement so far */
        restore(p, best);
        double sum = 0;
        for (int i = 0; i < p->n; i++) {
            weft_kernel *k = &p->k[i];
            weft_cost_kernel(p, k);
            weight[i] = k->host >= 0 ? 0 : (double)k->w * k->h * (double)(k->block_cycles * (uint64_t)k->blocks);
            sum += weight[i];
        }
        for (int i = 0; i < p->n; i++) weight[i] = sum > 0 ? weight[i] / sum : 1.0 / p->n;
    }
    if (!s) {
        restore(p, best);
        for (int i = 0; i < p->n; i++)
            if (p->k[i].host >= 0) {
                const weft_kernel *h = &p->k[p->k[i].host];
                p->k[i].x0 = h->x0, p->k[i].y0 = h->y0, p->k[i].w = h->w, p->k[i].h = h->h;
            }
    }
    free(weight);
    free(order);
    free(best);
    free(need);
    free(tiles);
    return s;
}
