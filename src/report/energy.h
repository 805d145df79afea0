/* report: energy estimates (energy.c): the simulated machine's, from its run and the preset's
 * energy model, and the GPU model's, from its time and board power. */
#ifndef WEFT_REPORT_ENERGY_H
#define WEFT_REPORT_ENERGY_H

#include "report/gpu.h"
#include "sim/sim.h"

/* A GPU idles at this share of its board power (an assumption: not published per workload). */
#define WEFT_GPU_IDLE_FRAC 0.3

typedef struct {
    bool modelled;          /* the machine has an energy model (else all 0) */
    double period_s;        /* a pass of the steady state */
    double joules;          /* a pass, the whole machine: the sum of the four below */
    double arith_j, fabric_j, offchip_j, static_j;
    double offchip_bytes;   /* a pass */
    double watts;           /* average power: joules / period_s */
} weft_energy_estimate;

void weft_energy_of_run(const weft_program *p, const weft_sim_stats *st, weft_energy_estimate *e);
/* Joules of the GPU model's pass on its e->gpus GPUs. */
double weft_energy_of_gpu(const weft_gpu *gpu, const weft_gpu_estimate *e);

#endif
