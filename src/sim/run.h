/* sim: executing a compiled program on the fabric model.
 *
 * Two passes over the program. The numeric pass computes every kernel's output with the
 * mapping's arithmetic: a GEMM region's partial sums are formed tile by tile (each tile's
 * X[:, K block i] . W[K block i, N block j] with the fixed-order tile GEMM) and reduced down each
 * column in chain order; other kernels run their op's kernel. Because every output row of a
 * pipelined kernel depends only on its own input row, computing a kernel's rows together gives
 * the same bits as computing them block by block. The timing pass is event-driven: a kernel's
 * task for row block b fires when block b of each input has arrived (all blocks, for a kernel
 * that needs whole tensors), occupies the region for its planned cycles, and sends its output
 * block to every consumer over the mesh (weft_net: hops, serialization, link contention). Graph
 * inputs stream in from off-chip memory at the west edge at the machine's off-chip bandwidth;
 * outputs leave at the east edge. SRAM is checked at run time: blocks waiting in a region must
 * fit beside its planned buffers. */
#ifndef WEFT_SIM_RUN_H
#define WEFT_SIM_RUN_H

#include "compile/compile.h"
#include "sim/sim.h"

typedef struct {
    bool timing_only;  /* skip the numeric pass; outputs are not produced */
    bool per_pe;       /* numeric pass tile by tile instead of one grouped kernel per region */
} weft_sim_opts;

typedef struct {
    uint64_t cycles;           /* first input byte leaving off-chip memory to the last output byte arriving */
    double seconds;            /* cycles at the machine's clock */
    int64_t flops;             /* arithmetic performed by the kernels */
    double achieved_flops;     /* flops / seconds */
    double peak_flops;         /* the machine's peak for the program's dtype, all tiles */
    double pe_utilization;     /* arithmetic-busy tile-cycles over all tile-cycles */
    int64_t tiles_used;
    int64_t sram_bytes_max;    /* per tile, planned buffers plus blocks that waited at run time */
    double sram_bytes_mean;    /* over the tiles in use */
    double link_load_max;      /* busiest link's occupied cycles / cycles */
    double link_load_mean;     /* over all links of the mesh */
    uint64_t messages, bytes_moved, byte_hops, events;
} weft_sim_stats;

/* inputs/outputs as weft_ref_run (outputs untouched when timing_only). */
weft_status weft_sim_run(const weft_program *p, const weft_tensor *const *inputs, int n_inputs, weft_tensor *outputs,
                         int n_outputs, const weft_sim_opts *o, weft_sim_stats *st, weft_err *err);

#endif
