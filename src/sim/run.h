/* sim: executing a compiled program on the fabric model.
 *
 * The run is event-driven: a kernel's task for row block b fires when block b of each streamed
 * input has arrived (blocks 0..b of a prefix input, all blocks of an input it needs whole),
 * occupies the region for its planned stage time, and sends its output block to every consumer
 * over the mesh (weft_net: hops, serialization, link contention). Graph inputs stream in from
 * off-chip memory at the west edge at the machine's off-chip bandwidth; outputs leave at the east
 * edge. SRAM is checked at run time: blocks waiting in a region must fit beside its plan.
 *
 * Numbers are computed as the events happen: when a kernel's last block is done, all of its
 * inputs have arrived and it computes its output, a GEMM region with the mapping's arithmetic
 * (each tile's X[:, K block i] . W[K block i, N block j] with the fixed-order tile GEMM, reduced
 * down the column in chain order; --per-pe tile by tile, the same bits), other kernels with
 * their op's kernel. Every output row of a streamed kernel depends only on its own input rows,
 * so computing the rows together gives the bits that computing them block by block would. */
#ifndef WEFT_SIM_RUN_H
#define WEFT_SIM_RUN_H

#include "program/program.h"
#include "sim/sim.h"

/* weft_sim_opts and weft_sim_stats are public: include/weft.h. */

/* What one kernel did over the run: busy (its blocks' stage cycles), waiting (cycles between
 * its first start and its last block's end when it had no block to take: its inputs had not
 * arrived), the first start and the last end. */
typedef struct {
    uint64_t busy, waiting, first_start, last_end;
} weft_kernel_time;

/* Optional detail of a run (weft_sim_opts.detail): per-kernel times, and an observer called
 * for every task (a block of a kernel: pass, block, and the cycles it occupies the region,
 * start to start + stage, so a region's tasks never overlap and sum to its busy cycles) and every transfer between
 * regions (bytes, when sent, when the last byte arrived; dst -1 for off-chip memory, src -1 for
 * a graph input). Callbacks may be NULL. */
struct weft_sim_detail {
    weft_kernel_time *kernels;  /* (p->n), filled when non-NULL */
    uint64_t *phase_start, *phase_end; /* (p->n_phases) of a phased program, the first pass: when
                                        * each phase opened and finished, filled when non-NULL */
    void *ctx;
    void (*task)(void *ctx, int kernel, int pass, int block, uint64_t start, uint64_t end);
    void (*transfer)(void *ctx, int src, int dst, uint64_t bytes, uint64_t sent, uint64_t arrived);
    /* each occupation of link `watch_link` (an index as weft_sim_stats.link_busiest), in time order */
    void (*link)(void *ctx, uint64_t start, uint64_t end);
    int64_t watch_link;
};

/* inputs/outputs as weft_ref_run (outputs untouched when timing_only). */
weft_status weft_sim_run(const weft_program *p, const weft_tensor *const *inputs, int n_inputs, weft_tensor *outputs,
                         int n_outputs, const weft_sim_opts *o, weft_sim_stats *st, weft_err *err);

#endif
