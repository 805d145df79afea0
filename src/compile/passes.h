/* compile: what the passes share (internal to compile/). Each pass reads and writes the program
 * (program/program.h); the header comment of each file says what it reads and writes. */
#ifndef WEFT_COMPILE_PASSES_H
#define WEFT_COMPILE_PASSES_H

#include "compile/compile.h"

#define WEFT_DEFAULT_BLOCKS 64  /* row blocks a stream is cut into when no one chooses */
#define WEFT_MAX_BLOCKS 4096    /* blocks of one pass at most (sequences x blocks of each) */
#define WEFT_GEMM_CHUNK_ROWS 64 /* rows a GEMM region takes at a time */
#define WEFT_SRAM_USABLE 0.75   /* fraction of a tile's SRAM the plan may fill; the rest is code and stack */
#define WEFT_RESERVED_CHANNELS 2 /* colors 0 and 1: multicast and reduction inside regions */

/* ---- lowering rows (lowering.c) ----
 * How an op lowers to the fabric, beside its op row (ir/). An op without a row lowers by the
 * default: element-wise ops of the element-wise family stream, any other op is a WHOLE kernel
 * with the generic cost. */
typedef struct {
    const char *op;          /* the op table row this lowers (checked at first use) */
    bool view;               /* the data stays where it is, only its indexing changes */
    /* The stream axis of the output (-1: none) and, in same[q], whether block b of input q feeds
     * block b of the output. NULL: the default rule of the op's family. */
    int (*stream)(const weft_program *p, const weft_node *n, bool *same);
    /* A resident-operand GEMM: fills k's dimensions (M, K, N, trans_b, alpha, conv, win) and
     * returns true when n lowers so. */
    bool (*gemm)(const weft_program *p, const weft_node *n, weft_kernel *k);
    /* A sum over the stream taken block by block (sets same[] for those inputs). */
    bool (*accumulates)(const weft_program *p, const weft_node *n, bool *same);
    /* Input q, needed whole by default, is needed only as a prefix (causal attention). */
    bool (*prefix)(const weft_program *p, const weft_node *n, int q);
    int row_reductions;      /* reductions across a row per block, for the cost (softmax: 2) */
    int update_state;        /* an optimizer update: inputs 1 .. update_state-1 are the gradient
                              * and its state, held in the parameter's region; 0: not an update */
    bool beside_update;      /* reads a gradient (input 1) and runs in the region of the update
                              * that reads it: the global norm's sums of squares */
} weft_lowering;

/* The row for op (a default row when it has none); never NULL. */
const weft_lowering *weft_lowering_of(const weft_op_def *op);
/* A Reshape-like view between (..., B, 1..., T, ...) and (..., B*T, ...) of a stream of B
 * sequences of T tokens: the samples and tokens merged into one axis (sample-major), or split
 * back. The output's stream axis, its sample axis in *sample; -1 when n is neither. */
int weft_lowering_merge_samples(const weft_program *p, const weft_node *n, int *sample);
/* Checks that every row names a real op and none twice (abort on a broken table). */
void weft_lowering_check(void);

/* shared by the rules */
bool weft_compile_is_const(const weft_program *p, int v);
int weft_compile_sax(const weft_program *p, int v);  /* stream axis of v, -1 for constants */
int weft_compile_norm_axis(int64_t a, int rank);

/* A pass that cannot allocate: WEFT_ERR_NOMEM naming the machine and what it was for. */
weft_status weft_pass_oom(const weft_program *p, const char *what, weft_err *err);

/* The progress callback of weft_compile_opts, with the plan it is on. */
typedef struct {
    void (*fn)(void *ctx, int plan, int plans, int blocks, const char *pass);
    void *ctx;
    int plan, plans, blocks;
} weft_progress;

static inline void weft_progress_say(const weft_progress *pr, const char *pass) {
    if (pr && pr->fn) pr->fn(pr->ctx, pr->plan, pr->plans, pr->blocks, pass);
}

/* ---- passes ---- */
weft_status weft_pass_lower(weft_program *p, int max_blocks, bool weights, weft_err *err); /* lower.c */
weft_status weft_pass_load_weights(weft_program *p, weft_err *err);               /* lower.c */
weft_status weft_pass_place(weft_program *p, weft_err *err);                      /* place.c */
weft_status weft_pass_route(weft_program *p, weft_err *err);                      /* route.c */
weft_status weft_pass_finish(weft_program *p, weft_err *err);                     /* cost.c */

/* sram.c: bytes kernel k needs on each tile of a pk x pn (GEMM) or t-tile region; the bytes the
 * plan may fill on a tile that holds data. */
int64_t weft_sram_need(const weft_program *p, const weft_kernel *k, int pk, int pn, int64_t t);
double weft_sram_cap(const weft_program *p);
/* The fewest tiles that hold k's data (-1: not the whole mesh); the GEMM grid for t tiles. */
int64_t weft_sram_min_tiles(const weft_program *p, const weft_kernel *k);
/* What kernel k's need of `need` bytes (against `have`, what its tiles hold) is made of, and
 * what would make it fit, with numbers: 16-bit storage, a smaller batch, more SRAM. */
void weft_sram_fit_hint(const weft_program *p, const weft_kernel *k, double need, double have, char *buf, size_t len);
void weft_gemm_grid(const weft_program *p, const weft_kernel *k, int64_t t, int *pk, int *pn);

/* cost.c: a kernel's stage and latency as placed (sets block_cycles, block_latency, t_*), the
 * predicted cycles of one pass, and the steady-state period between passes. */
void weft_cost_kernel(const weft_program *p, weft_kernel *k);
uint64_t weft_cost_pass(weft_program *p);
uint64_t weft_cost_period(weft_program *p);

/* route.c: the lanes an edge from src (-1: off-chip input) to dst (-1: off-chip output) would
 * take as placed now (not yet materialized). */
int weft_route_edge_lanes(const weft_program *p, int src, int dst, weft_lane *lanes);

#endif
