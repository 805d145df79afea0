/* compile: the SRAM plan (passes.h).
 *
 * Reads: a kernel's dimensions, dependencies and resident bytes; the machine's tile kinds.
 * Writes: nothing (place.c sizes regions with it, cost.c records each kernel's peak). On a
 * machine whose tile kinds differ (SN30: compute PCUs beside memory PMUs), regions span whole
 * column patterns, so a region's data lives in its memory tiles and its arithmetic in its
 * compute tiles: the plan divides bytes over all of a region's tiles against the pattern's
 * average SRAM per tile. */
#include "compile/passes.h"
#include "arch/cost.h"

#include <math.h>

bool weft_kernel_streams(const weft_kernel *k) {
    if (k->blocks == 1) return false;
    for (int q = 0; q < k->n_deps; q++)
        if (k->dep_kind[q] != WEFT_DEP_BLOCK) return false;
    return true;
}

/* Two blocks of an input taken block by block (one arriving while the other is used); all of
 * one needed whole. Two sequences of one needed a sequence at a time (its prefix, or all of it),
 * and of one that joins another stream (a residual add: the skip path's blocks arrive before
 * the other path's, which lags by at most a sequence, the keys attention waits for): all of it
 * when a pass is one sequence. The simulator checks that no more waited (sim/run.c). */
int weft_kernel_held_blocks(const weft_program *p, const weft_kernel *k, int q) {
    int nb = weft_value_blocks(p, k->dep_value[q]), two_seqs = 2 * p->blocks_per_seq;
    /* sections: an input made in an earlier section (kept in the memory tiles, counted there, or
     * read back from DDR) or a graph input is read at the kernel's own pace, two blocks at a
     * time, whatever its other inputs lag; one needed whole is read twice (a first look for what
     * needs all of it, a batch norm's statistics, then the output), sim/run.c */
    if (p->phased && !p->weight_streaming && (k->dep[q] < 0 || k->dep_outside[q])) return 2 < nb ? 2 : nb;
    if (k->dep_kind[q] == WEFT_DEP_WHOLE) return nb;
    /* weight streaming: every input was made in an earlier phase and waits in the stash (counted
     * there); the kernel reads it at its own pace, two blocks at a time */
    if (p->weight_streaming) return 2 < nb ? 2 : nb;
    /* a join whose other input waited for a whole pass more often on its way (behind
     * attention's WHOLE dK / dV with several sequences a pass) holds all of this input's pass */
    for (int o = 0; o < k->n_deps && k->n_deps > 1 && k->kind != WEFT_KERNEL_GEMM; o++)
        if (o != q && weft_dep_waits(p, k, o) > weft_dep_waits(p, k, q)) return nb;
    if (k->kind != WEFT_KERNEL_GEMM && (k->dep_kind[q] != WEFT_DEP_BLOCK || k->n_deps > 1)) return two_seqs < nb ? two_seqs : nb;
    return 2 < nb ? 2 : nb;
}

/* The SRAM a kernel needs on each of its t tiles, in bytes: its inputs' blocks as
 * weft_kernel_held_blocks says, two blocks of its output (all of it, if it sends it whole), its
 * resident bytes. */
int64_t weft_sram_need(const weft_program *p, const weft_kernel *k, int pk, int pn, int64_t t) {
    const weft_graph *g = p->graph;
    int64_t es = (int64_t)weft_dtype_size(g->vals[g->nodes[k->node].out[0]].dtype);
    if (k->kind == WEFT_KERNEL_GEMM) {
        int64_t kb = (k->K + pk - 1) / pk, nb = (k->N + pn - 1) / pn, c = k->weight_chunks > 1 ? k->weight_chunks : 1;
        /* weight tile (streamed in chunks: two of them), two input row blocks, two fp32 partial
         * blocks, and its share of the gradient and optimizer state of updates attached to the
         * region */
        int64_t wt = c > 1 ? 2 * ((kb * nb + c - 1) / c) : kb * nb;
        return wt * es + 2 * k->block_rows * kb * es + 2 * k->block_rows * nb * 4 +
               (k->attached_bytes + (int64_t)pk * pn - 1) / ((int64_t)pk * pn);
    }
    int64_t data = 0;
    for (int q = 0; q < k->n_deps; q++) {
        int64_t b = weft_program_value_bytes(p, k->dep_value[q]);
        data += b * weft_kernel_held_blocks(p, k, q) / weft_value_blocks(p, k->dep_value[q]);
    }
    int64_t out = k->M * k->N * es, c = k->weight_chunks > 1 ? k->weight_chunks : 1;
    if (k->accumulates && c > 1) data += 2 * out / c;  /* its sums a column chunk at a time, the inputs read once per chunk */
    else data += k->blocks == 1 || k->accumulates ? out : 2 * out / k->blocks;
    if (k->weights_streamed && !k->accumulates && c > 1) data = 2 * data / c;  /* (element-wise over its chunks) */
    return (data + (k->weights_streamed ? 0 : k->weight_bytes) + k->attached_bytes + t - 1) / t;
}

double weft_sram_cap(const weft_program *p) { return WEFT_SRAM_USABLE * weft_arch_tile_sram(&p->arch); }

/* Chooses the GEMM grid for t tiles: pk / pn close to K / N, within the mesh. */
void weft_gemm_grid(const weft_program *p, const weft_kernel *k, int64_t t, int *pk, int *pn) {
    double r = sqrt((double)t * (double)k->K / (double)k->N);
    int64_t a = (int64_t)(r < 1 ? 1 : r);
    if (a > p->arch.height) a = p->arch.height;
    if (a > k->K) a = k->K;
    int64_t b = t / a;
    if (b < 1) b = 1;
    if (b > k->N) b = k->N;
    if (b > p->arch.width) {  /* a grid as wide as the mesh takes the rest in height */
        b = p->arch.width;
        a = t / b;
        if (a > p->arch.height) a = p->arch.height;
        if (a > k->K) a = k->K;
        if (a < 1) a = 1;
    }
    *pk = (int)a;
    *pn = (int)b;
}

int64_t weft_sram_min_tiles(const weft_program *p, const weft_kernel *k) {
    double cap = weft_sram_cap(p);
    int64_t all = (int64_t)p->arch.width * p->arch.height;
    for (int64_t t = 1;; t = t * 5 / 4 + 1) {
        if (t > all) t = all;
        int pk = 1, pn = 1;
        if (k->kind == WEFT_KERNEL_GEMM) weft_gemm_grid(p, k, t, &pk, &pn);
        int64_t used = k->kind == WEFT_KERNEL_GEMM ? (int64_t)pk * pn : t;
        if ((double)weft_sram_need(p, k, pk, pn, used) <= cap) return t;
        if (t == all) return -1;  /* not even the whole mesh holds it */
    }
}

void weft_sram_fit_hint(const weft_program *p, const weft_kernel *k, double need, double have, char *buf, size_t len) {
    const weft_graph *g = p->graph;
    double w = (double)((k->weights_streamed ? 0 : k->weight_bytes) + k->attached_bytes), b = need - w;
    if (b < 0) b = 0;
    if (w > need) w = need;
    char sw[24], sb[24], sx[24];
    if (need <= have && k->kind == WEFT_KERNEL_GEMM) {  /* it cannot spread over the mesh */
        int pk = 1, pn = 1;
        weft_gemm_grid(p, k, (int64_t)p->arch.width * p->arch.height, &pk, &pn);
        snprintf(buf, len, "a GEMM of K %lld and N %lld spreads over at most %d x %d tiles of this %d x %d mesh, and its weights and "
                 "row blocks take more than a tile holds on each; a machine with more SRAM a tile, or 16-bit storage "
                 "(--precision bf16)", (long long)k->K, (long long)k->N, pk, pn, p->arch.width, p->arch.height);
        return;
    }
    size_t o = (size_t)snprintf(buf, len, "%s of weights (and their update's state), %s of buffers; ", weft_bytes_str(w, sw, sizeof sw),
                                weft_bytes_str(b, sb, sizeof sb));
    bool whole = p->blocks == p->blocks_per_seq;  /* a batch stream: the buffers grow with the batch */
    for (int q = 0; q < k->n_deps; q++) whole |= k->dep_kind[q] == WEFT_DEP_WHOLE;
    if (o < len && weft_dtype_size(g->vals[g->nodes[k->node].out[0]].dtype) == 4)
        o += (size_t)snprintf(buf + o, len - o, "16-bit storage (--precision bf16) would make it about %s; ", weft_bytes_str(need / 2, sx, sizeof sx));
    if (o < len && b > 0 && p->samples > 1 && whole && have > w && (double)p->samples * (have - w) / b >= 1)
        o += (size_t)snprintf(buf + o, len - o, "the layer would fit a batch of at most %lld (it is %lld); ",
                              (long long)((double)p->samples * (have - w) / b), (long long)p->samples);
    else if (o < len && b > 0 && !whole)
        o += (size_t)snprintf(buf + o, len - o, "its buffers grow with the sequence: a shorter one, or more blocks (--blocks), shrinks them; ");
    if (o < len)
        snprintf(buf + o, len - o, "else a machine with %.3gx this SRAM%s", need / (have > 0 ? have : 1),
                 p->phased ? "" : ", or a streaming mode (--mode weight-streaming or sections)");
}
