/* report: energy, an estimate from the simulated run and the machine's energy model (arch.h
 * weft_energy), and the same for the GPU model. A pass of the steady state costs
 *     arithmetic   flops x pJ a flop (of the program's main arithmetic; operands' SRAM reads in it)
 *   + fabric       byte-hops x pJ a byte-hop
 *   + off-chip     (weights and tensors read from off-chip memory, gradients and spills written,
 *                   graph inputs in and outputs out) x pJ an off-chip byte
 *   + static       static W x chips x the period
 * and a GPU's pass  board W x its seconds x (IDLE + (1 - IDLE) x busy), busy = the share of the
 * pass its kernels are bound by arithmetic or HBM (launch gaps and communication idle). */
#include "report/energy.h"

#include <string.h>

/* Graph inputs in and outputs out, a pass; outputs that stay where they are made (updated
 * parameters and optimizer state: in their regions, or in the off-chip unit) move nothing, as in
 * the simulator (sim/run.c output_stays). */
static double io_bytes(const weft_program *p) {
    const weft_graph *g = p->graph;
    double b = 0;
    for (int i = 0; i < g->n_inputs; i++) {
        const weft_value *v = &g->vals[g->inputs[i]];
        b += (double)weft_shape_numel(&v->shape) * (double)weft_dtype_size(v->dtype);
    }
    for (int i = 0; i < g->n_outputs; i++) {
        const weft_value *v = &g->vals[g->outputs[i]];
        int k = p->kernel_of_value ? p->kernel_of_value[g->outputs[i]] : -1;
        if (k >= 0 && (p->k[k].offchip || (!p->phased && p->k[k].host >= 0))) continue;
        b += (double)weft_shape_numel(&v->shape) * (double)weft_dtype_size(v->dtype);
    }
    return b;
}

void weft_energy_of_run(const weft_program *p, const weft_sim_stats *st, weft_energy_estimate *e) {
    memset(e, 0, sizeof *e);
    const weft_energy *m = &p->arch.energy;
    e->modelled = m->static_w > 0 || m->peak_w > 0;
    if (!e->modelled || !(st->passes_per_s > 0)) return;
    int R = st->replicas > 1 ? st->replicas : 1, d = 0;
    static const char *const names[] = {"fp32", "fp16", "bf16"};
    for (int k = 0; k < WEFT_ARCH_NUM_DTYPES; k++)
        if (st->peak_dtype && !strcmp(st->peak_dtype, names[k])) d = k;
    e->period_s = 1.0 / st->passes_per_s;
    e->arith_j = (double)st->flops * R * m->pj_per_flop[d] * 1e-12;
    e->fabric_j = (double)st->byte_hops * R * m->pj_per_hop_byte * 1e-12;
    /* weight streaming: the switch broadcasts the weights and sums the gradients on the way, so the
     * off-chip unit moves them once; each replica's own inputs and outputs are its own */
    double shared = (double)st->weight_bytes_in + (double)st->gradient_bytes_out;
    e->offchip_bytes = shared * (p->weight_streaming ? 1 : R) + io_bytes(p) * R;
    e->offchip_j = e->offchip_bytes * m->pj_per_offchip_byte * 1e-12;
    e->static_j = m->static_w * p->arch.chips * e->period_s;  /* (every chip of the machine idles or works) */
    e->joules = e->arith_j + e->fabric_j + e->offchip_j + e->static_j;
    e->watts = e->joules / e->period_s;
}

double weft_energy_of_gpu(const weft_gpu *gpu, const weft_gpu_estimate *g) {
    if (!(g->seconds > 0)) return 0;
    double busy = (g->compute_s + g->memory_s) / g->seconds;
    if (busy > 1) busy = 1;
    return gpu->watts * g->gpus * g->seconds * (WEFT_GPU_IDLE_FRAC + (1 - WEFT_GPU_IDLE_FRAC) * busy);
}
