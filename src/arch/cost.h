/* arch: the cost of the fabric's primitive operations, derived from a machine's figures only.
 * One module for the planner (compile/cost.c) and the simulator (sim/), so the two price work
 * alike; the simulator adds what only it can see (waiting for inputs, link contention). */
#ifndef WEFT_ARCH_COST_H
#define WEFT_ARCH_COST_H

#include "arch/arch.h"

/* Flops per cycle of one tile of the machine for arithmetic `dt`, averaged over its column
 * pattern (SN30: a PCU computes, a PMU holds data, so a PCU + PMU pair computes at the PCU's
 * rate). 0 when no kind computes it. */
double weft_arch_tile_rate(const weft_arch *a, weft_arch_dtype dt);
/* SRAM bytes of one tile, averaged over the column pattern. */
double weft_arch_tile_sram(const weft_arch *a);
/* Does every region need whole column patterns (kinds that differ in SRAM or arithmetic)? */
int weft_arch_column_quantum(const weft_arch *a);

/* Cycles to compute `flops` on `tiles` tiles at arithmetic `dt` (at least 1 for any work). */
uint64_t weft_cost_compute(const weft_arch *a, double flops, weft_arch_dtype dt, int64_t tiles);
/* Cycles to serialize `bytes` over `lanes` parallel links. */
uint64_t weft_cost_serialize(const weft_arch *a, double bytes, int64_t lanes);
/* Cycles for the head of a message to cross `hops` routers. */
uint64_t weft_cost_hops(const weft_arch *a, int64_t hops);
/* Off-chip memory's bytes per cycle (the link rate when the machine has none). */
double weft_cost_offchip_per_cycle(const weft_arch *a);
/* Cycles the off-chip memory unit takes for `flops` of optimizer arithmetic (at least 1; a flop a
 * cycle on a machine whose unit computes nothing, which weight streaming refuses anyway). */
uint64_t weft_cost_offchip_update(const weft_arch *a, double flops);

#endif
