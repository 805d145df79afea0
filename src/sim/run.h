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

/* weft_sim_opts and weft_sim_stats are public: include/weft.h. */

/* inputs/outputs as weft_ref_run (outputs untouched when timing_only). */
weft_status weft_sim_run(const weft_program *p, const weft_tensor *const *inputs, int n_inputs, weft_tensor *outputs,
                         int n_outputs, const weft_sim_opts *o, weft_sim_stats *st, weft_err *err);

#endif
