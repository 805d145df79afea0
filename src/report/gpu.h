/* report/gpu: the same workload on GPUs, as a comparison for the simulated machines.
 *
 * A GPU is described by published figures (dense tensor-core FLOP/s per dtype, HBM capacity
 * and bandwidth, NVLink bandwidth, board power) and four labelled assumptions (the fractions
 * of the peaks that large GEMMs and streaming kernels reach, the launch overhead of a kernel,
 * how much of the gradients' all-reduce the backward pass hides). A graph (a forward pass, or
 * a training step: forward, backward and the optimizer's update) is timed node by node as a
 * roofline: each node is one kernel taking the longer of its arithmetic at the GEMM or
 * element-wise efficiency and its bytes at the HBM efficiency, plus the launch; views are
 * free; attention's (.., T, T) matrices stay on the chip (a fused attention kernel, as
 * FlashAttention), so their bytes are not counted. Memory is checked: parameters, gradients and
 * optimizer state, and the activations a backward pass reads; a workload that does not fit
 * one GPU is sharded over the fewest that hold it (data parallel with the parameters, gradients
 * and state sharded, as FSDP / ZeRO-3), adding the all-gathers and reduce-scatter over NVLink.
 * Every figure is an estimate by these formulas, and says so where printed. */
#ifndef WEFT_REPORT_GPU_H
#define WEFT_REPORT_GPU_H

#include "ir/ir.h"

#include <stdio.h>

typedef struct {
    const char *name, *description;
    double flops_fp32, flops_16;      /* dense tensor-core FLOP/s: TF32 (fp32 graphs), fp16/bf16 */
    double hbm_bytes, hbm_bytes_per_s;
    double nvlink_bytes_per_s;        /* per GPU, each way */
    double watts;                     /* board power (TDP) */
    const char *sources;
} weft_gpu;

/* The model's assumptions, the same for every GPU (labelled where printed). */
#define WEFT_GPU_GEMM_EFF 0.70    /* of the tensor-core peak, for a large GEMM (cuBLAS) */
#define WEFT_GPU_MEM_EFF 0.80     /* of the HBM bandwidth, for a streaming kernel */
#define WEFT_GPU_LAUNCH_S 4e-6    /* per kernel */
#define WEFT_GPU_HBM_USABLE 0.90  /* of the HBM for the workload (the rest: the framework, fragments) */

/* a100-40gb, a100-80gb, h100-sxm, h200: WEFT_ERR_INVALID naming the choices otherwise. */
weft_status weft_gpu_preset(const char *name, weft_gpu *out, weft_err *err);

typedef struct {
    double seconds;                 /* the graph's pass (a training step) on `gpus` GPUs */
    int gpus;                       /* GPUs it is sharded over (1: it fits one) */
    double compute_s, memory_s, launch_s, comm_s; /* where that time goes (compute: nodes bound by
                                     * arithmetic; memory: by HBM bytes; comm: not hidden) */
    double flops;                   /* of the pass, all GPUs */
    double bytes_per_gpu;           /* memory a GPU needs */
    double static_bytes, saved_bytes; /* parameters, gradients and state; activations kept for the backward pass */
    int kernels;
} weft_gpu_estimate;

/* Times graph g (its own batch) on GPU gpu. Errors only for a graph that cannot be shaped. */
weft_status weft_gpu_time(const weft_graph *g, const weft_gpu *gpu, weft_gpu_estimate *out, weft_err *err);
/* Prints the estimate and the assumptions, indented as weft run's report. */
void weft_gpu_print(const weft_gpu *gpu, const weft_gpu_estimate *e, FILE *f);

#endif
