/* compile: region sizing and placement (passes.h).
 *
 * Reads: the kernels (work, SRAM need), the machine's mesh. Writes: every kernel's region
 * (x0, y0, w, h) and a GEMM's grid (pk, pn); an attached update gets its host's region. Fails
 * naming the layer and the bytes when the model does not fit. */
#include "compile/passes.h"

#include <string.h>

/* Shapes kernel k as `band` tiles thick across a strip: sets its run along the strip (and a
 * GEMM's grid). Returns false when it cannot hold its data that way within `len` tiles. */
static bool shape_in_band(weft_program *p, weft_kernel *k, int64_t tiles, int band, bool shelves, int len, int *thick_out,
                          int *run_out) {
    double cap = weft_sram_cap(p);
    int thick = band, run = (int)((tiles + band - 1) / band);  /* across x along */
    if (k->kind == WEFT_KERNEL_GEMM) {
        int64_t tmax = shelves ? k->K : k->N;  /* the dimension the band splits */
        int64_t rmax = shelves ? k->N : k->K;
        if (thick > tmax) thick = (int)tmax;
        run = (int)((tiles + thick - 1) / thick);
        if (run > rmax) run = (int)rmax;
        /* a grid squeezed by the band may need more tiles along it to hold its tiles' data */
        for (;;) {
            k->pk = shelves ? thick : run;
            k->pn = shelves ? run : thick;
            if ((double)weft_sram_need(p, k, k->pk, k->pn, (int64_t)k->pk * k->pn) <= cap || run >= rmax || run >= len) break;
            run = run + run / 4 + 1;
            if (run > rmax) run = (int)rmax;
            if (run > len) run = len;
        }
    }
    *thick_out = thick;
    *run_out = run;
    return run <= len && (double)weft_sram_need(p, k, k->pk ? k->pk : 1, k->pn ? k->pn : 1, (int64_t)thick * run) <= cap;
}

/* Strips, in graph order: vertical strips west to east (a region `thick` tiles wide, a GEMM's
 * pn = thick, stacked below the previous one), or horizontal shelves north to south (`thick`
 * tiles tall, a GEMM's pk = thick, left of the previous one). A strip is `band` tiles thick; a
 * region that does not fit in what is left of it starts the next strip. With `grow`, a region
 * that cannot hold its data at that thickness starts a strip of its own thickness (the smallest
 * multiple of `band` that holds it), and the strips after it keep that thickness. */
static weft_status place(weft_program *p, const int64_t *tiles, int band, bool shelves, bool grow) {
    const weft_arch *a = &p->arch;
    int along = 0, across = 0;  /* position along the strip, and the strip's offset */
    int len = shelves ? a->width : a->height, room = shelves ? a->height : a->width;
    int strip = band;           /* the current strip's thickness */
    for (int i = 0; i < p->n; i++) {
        weft_kernel *k = &p->k[i];
        if (k->host >= 0) continue;
        int thick, run;
        bool ok = shape_in_band(p, k, tiles[i], strip, shelves, len, &thick, &run);
        if (!ok && grow)
            for (int b = strip + band; b <= room && !ok; b += band)
                if ((ok = shape_in_band(p, k, tiles[i], b, shelves, len, &thick, &run))) {
                    across += along ? strip : 0;  /* a fresh strip of the new thickness */
                    along = 0;
                    strip = b;
                }
        if (!ok) return WEFT_ERR_NOMEM;
        if (along + run > len) { across += strip; along = 0; }
        if (across + thick > room) return WEFT_ERR_NOMEM;
        k->w = shelves ? run : thick;
        k->h = shelves ? thick : run;
        k->x0 = shelves ? along : across;
        k->y0 = shelves ? across : along;
        along += run;
    }
    for (int i = 0; i < p->n; i++)
        if (p->k[i].host >= 0) {
            const weft_kernel *h = &p->k[p->k[i].host];
            p->k[i].x0 = h->x0;
            p->k[i].y0 = h->y0;
            p->k[i].w = h->w;
            p->k[i].h = h->h;
        }
    return WEFT_OK;
}

/* Sizes every region (tiles in proportion to its time, at least what its SRAM plan needs) and
 * places them; fails naming the layer when the model does not fit. */
weft_status weft_pass_place(weft_program *p, weft_err *err) {
    const weft_graph *g = p->graph;
    const weft_arch *a = &p->arch;
    weft_status s = WEFT_OK;
    int64_t total = (int64_t)a->width * a->height;
    int64_t *need = weft_xcalloc((size_t)p->n + 1, sizeof(int64_t)), *tiles = weft_xcalloc((size_t)p->n + 1, sizeof(int64_t));
    int64_t need_sum = 0;
    double work_sum = 0;
    for (int i = 0; i < p->n; i++) {
        if (p->k[i].host >= 0) { need[i] = 0; continue; }  /* in its host's region */
        need[i] = weft_sram_min_tiles(p, &p->k[i]);
        if (need[i] < 0) {
            const weft_kernel *k = &p->k[i];
            const weft_node *n = &g->nodes[k->node];
            s = weft_err_set(err, WEFT_ERR_NOMEM,
                             "model does not fit %s: layer '%s' (%s) needs %lld bytes of weights and buffers, more than the "
                             "whole mesh holds (%lld tiles x %.0f usable bytes); try a smaller batch or "
                             "sequence",
                             a->name, n->name, n->op->name, (long long)weft_sram_need(p, k, 1, 1, 1), (long long)total, weft_sram_cap(p));
            break;
        }
        need_sum += need[i];
        work_sum += (double)(p->k[i].flops > 0 ? p->k[i].flops : 1);
    }
    if (!s && need_sum > total) {
        int worst = 0;
        for (int i = 1; i < p->n; i++)
            if (p->k[i].weight_bytes > p->k[worst].weight_bytes) worst = i;
        int64_t sram = a->kinds[a->pattern[0]].sram_bytes;
        const weft_node *n = &g->nodes[p->k[worst].node];
        s = weft_err_set(err, WEFT_ERR_NOMEM,
                         "model does not fit %s: its %d kernels need at least %lld tiles (%.3g GB of SRAM at %.0f%% use) and the "
                         "machine has %lld (%.3g GB); the largest layer is '%s' (%s) with %lld bytes of weights. Try fewer layers, "
                         "a smaller batch or sequence, or a machine with more SRAM",
                         a->name, p->n, (long long)need_sum, (double)need_sum * (double)sram * 1e-9, WEFT_SRAM_USABLE * 100,
                         (long long)total, (double)total * (double)sram * 1e-9, n->name, n->op->name,
                         (long long)p->k[worst].weight_bytes);
    }
    /* Share the tiles out in proportion to each kernel's time, at least what SRAM needs; try
     * every strip thickness and orientation, keep the placement whose slowest stage is fastest;
     * then re-weight each kernel by the time it got and share again (a few rounds). */
    double *weight = weft_xcalloc((size_t)p->n + 1, sizeof(double));
    for (int i = 0; i < p->n; i++) weight[i] = p->k[i].host >= 0 ? 0 : (double)(p->k[i].flops > 0 ? p->k[i].flops : 1) / work_sum;
    uint64_t best = UINT64_MAX;
    int best_band = 0;
    bool best_shelves = false, best_grow = false;
    int64_t *best_tiles = weft_xcalloc((size_t)p->n + 1, sizeof(int64_t));
    for (int round = 0; round < 4 && !s; round++) {
        bool placed = false;
        /* fixed strips first; strips that grow for the regions that need it only when no share of
         * the tiles places them all at a fixed thickness */
        for (int pass = 0; pass < 2 && !placed; pass++) {
            for (double share = 0.9; !placed; share *= 0.9) {
                int64_t spare = (int64_t)((double)total * share) - need_sum;
                for (int i = 0; i < p->n; i++) tiles[i] = (int64_t)(weight[i] * (double)(spare > 0 ? spare : 0)) + need[i];
                for (int mode = 2 * pass; mode < 2 * pass + 2; mode++) {
                    bool shelves = mode & 1, grow = mode >> 1;
                    int room = shelves ? a->height : a->width;
                    for (int band = 1; band <= room; band = band < 4 ? band + 1 : band * 5 / 4) {
                        if (place(p, tiles, band, shelves, grow) != WEFT_OK) continue;
                        placed = true;
                        /* keep the placement whose slowest stage is fastest (the fill hardly depends on
                         * it, and the plan does not see the mesh distances the simulation pays) */
                        uint64_t slowest = 0;
                        for (int i = 0; i < p->n; i++) {
                            weft_cost_kernel(p, &p->k[i]);
                            uint64_t t = p->k[i].block_cycles * (uint64_t)p->k[i].blocks;
                            if (t > slowest) slowest = t;
                        }
                        if (slowest < best) {
                            best = slowest;
                            best_band = band;
                            best_shelves = shelves;
                            best_grow = grow;
                            memcpy(best_tiles, tiles, (size_t)p->n * sizeof *tiles);
                        }
                    }
                }
                if (!placed && (share < 1e-3 || spare <= 0)) break;
            }
        }
        if (!placed) {
            if (round == 0)
                s = weft_err_set(err, WEFT_ERR_NOMEM,
                                 "model does not fit %s: its %d regions (at least %lld tiles) cannot be placed on the %d x %d mesh; try "
                                 "fewer layers or a smaller batch",
                                 a->name, p->n, (long long)need_sum, a->width, a->height);
            break;
        }
        /* re-weight by the time each kernel takes in the best placement so far */
        place(p, best_tiles, best_band, best_shelves, best_grow);
        double sum = 0;
        for (int i = 0; i < p->n; i++) {
            weft_cost_kernel(p, &p->k[i]);
            weight[i] = p->k[i].host >= 0 ? 0 : (double)best_tiles[i] * (double)(p->k[i].block_cycles * (uint64_t)p->k[i].blocks);
            sum += weight[i];
        }
        for (int i = 0; i < p->n; i++) weight[i] = sum > 0 ? weight[i] / sum : 1.0 / p->n;
    }
    if (!s) WEFT_ASSERT(place(p, best_tiles, best_band, best_shelves, best_grow) == WEFT_OK);
    free(weight);
    free(best_tiles);
    free(need);
    free(tiles);
    return s;
}

