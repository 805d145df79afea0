/* report/gpu: the same workload timed on a GPU by a roofline per kernel (gpu.h). */
#include "report/gpu.h"

#include "compile/passes.h"

#include <math.h>
#include <string.h>

static const weft_gpu gpus[] = {
    {"a100-40gb", "NVIDIA A100 SXM 40 GB", 156e12, 312e12, 40e9, 1555e9, 300e9, 400,
     "NVIDIA A100 Tensor Core GPU datasheet (dense TF32 156, BF16 312 TFLOP/s; HBM2 1,555 GB/s; NVLink 600 GB/s both ways; 400 W)"},
    {"a100-80gb", "NVIDIA A100 SXM 80 GB", 156e12, 312e12, 80e9, 2039e9, 300e9, 400,
     "NVIDIA A100 Tensor Core GPU datasheet (dense TF32 156, BF16 312 TFLOP/s; HBM2e 2,039 GB/s; NVLink 600 GB/s both ways; 400 W)"},
    {"h100-sxm", "NVIDIA H100 SXM 80 GB", 494.7e12, 989.4e12, 80e9, 3.35e12, 450e9, 700,
     "NVIDIA H100 Tensor Core GPU datasheet (dense TF32 495, BF16 989 TFLOP/s; HBM3 3.35 TB/s; NVLink 900 GB/s both ways; 700 W)"},
    {"h200", "NVIDIA H200 SXM 141 GB", 494.7e12, 989.4e12, 141e9, 4.8e12, 450e9, 700,
     "NVIDIA H200 Tensor Core GPU datasheet (H100's tensor cores; HBM3e 141 GB at 4.8 TB/s; NVLink 900 GB/s; 700 W)"},
};
#define N_GPUS (int)(sizeof gpus / sizeof *gpus)

weft_status weft_gpu_preset(const char *name, weft_gpu *out, weft_err *err) {
    if (!strcmp(name, "h100")) name = "h100-sxm";
    if (!strcmp(name, "a100")) name = "a100-80gb";
    for (int i = 0; i < N_GPUS; i++)
        if (!strcmp(gpus[i].name, name)) { *out = gpus[i]; return WEFT_OK; }
    return weft_err_set(err, WEFT_ERR_INVALID, "unknown GPU '%s' (a100-40gb, a100-80gb or a100, h100-sxm or h100, h200)", name);
}

/* The sequence length of a token model (its int64 (batch, seq) input), else 0. */
static int64_t seq_len(const weft_graph *g) {
    for (int i = 0; i < g->n_inputs; i++) {
        const weft_value *v = &g->vals[g->inputs[i]];
        if (v->dtype == WEFT_I64 && v->shape.ndim == 2) return v->shape.d[1];
    }
    return 0;
}

/* An attention matrix (.., heads, T, T) of a token model: a fused attention kernel keeps it on
 * the chip, so it costs no HBM bytes and no memory. */
static bool fused(const weft_value *v, int64_t T) {
    const weft_shape *s = &v->shape;
    return T >= 64 && v->kind == WEFT_VAL_ACT && s->ndim >= 3 && s->d[s->ndim - 1] == T && s->d[s->ndim - 2] == T;
}

static double value_bytes(const weft_value *v) { return (double)weft_shape_numel(&v->shape) * (double)weft_dtype_size(v->dtype); }

/* One node on n GPUs (each with 1/n of the samples): its time, split into compute or memory (the
 * bound) and the launch. Parameters are read whole by every GPU. */
static double node_time(const weft_graph *g, const weft_node *n, const weft_gpu *gpu, int64_t T, double shards, double *compute,
                        double *memory) {
    weft_cost c = weft_node_cost(g, n);
    bool update = weft_lowering_of(n->op)->update_state;  /* (sharded: each GPU updates its shard of the parameters and state) */
    double act = 0, weights = 0;
    for (int q = 0; q < n->n_in; q++) {
        if (n->in[q] < 0) continue;
        const weft_value *v = &g->vals[n->in[q]];
        if (fused(v, T)) continue;
        if (v->kind == WEFT_VAL_PARAM || v->kind == WEFT_VAL_CONST) weights += value_bytes(v);
        else act += value_bytes(v);
    }
    for (int j = 0; j < n->n_out; j++)
        if (!fused(&g->vals[n->out[j]], T)) act += value_bytes(&g->vals[n->out[j]]);
    weft_dtype dt = g->vals[n->out[0]].dtype;
    double peak = dt == WEFT_BF16 || dt == WEFT_F16 ? gpu->flops_16 : gpu->flops_fp32;
    double tc = (double)c.flops / shards / (peak * WEFT_GPU_GEMM_EFF);
    double tm = (act / shards + (update ? weights / shards : weights)) / (gpu->hbm_bytes_per_s * WEFT_GPU_MEM_EFF);
    if (tc >= tm) *compute += tc; else *memory += tm;
    return (tc > tm ? tc : tm) + WEFT_GPU_LAUNCH_S;
}

weft_status weft_gpu_time(const weft_graph *g, const weft_gpu *gpu, weft_gpu_estimate *out, weft_err *err) {
    memset(out, 0, sizeof *out);
    weft_status s = weft_graph_verify(g, err);
    if (s) return s;
    int64_t T = seq_len(g), samples = g->n_inputs && g->vals[g->inputs[0]].shape.ndim ? g->vals[g->inputs[0]].shape.d[0] : 1;
    /* memory: parameters (with the optimizer's state, which the training graph holds as
     * parameters) and the gradients the updates read; the forward activations a backward node
     * reads; the largest node's outputs, in flight */
    bool *saved = weft_xcalloc((size_t)g->n_vals + 1, sizeof *saved);
    double grads = 0, work = 0, param = 0, trained = 0;  /* all parameters (with the optimizer's state); those updated */
    for (int v = 0; v < g->n_vals; v++)
        if (g->vals[v].kind == WEFT_VAL_PARAM) param += value_bytes(&g->vals[v]);
    for (int i = 0; i < g->n_nodes; i++) {
        const weft_node *n = &g->nodes[i];
        const weft_lowering *row = weft_lowering_of(n->op);
        if (row->update_state && n->n_in > 1 && n->in[1] >= 0) grads += value_bytes(&g->vals[n->in[1]]);
        if (row->update_state && n->in[0] >= 0) trained += value_bytes(&g->vals[n->in[0]]);
        double o = 0;
        for (int j = 0; j < n->n_out; j++)
            if (!fused(&g->vals[n->out[j]], T)) o += value_bytes(&g->vals[n->out[j]]);
        if (o > work) work = o;
        if (n->forward < 0) continue;
        for (int q = 0; q < n->n_in; q++) {
            int v = n->in[q];
            if (v < 0 || g->vals[v].kind == WEFT_VAL_PARAM || g->vals[v].kind == WEFT_VAL_CONST || fused(&g->vals[v], T)) continue;
            int pi = g->vals[v].producer;
            if (pi < 0 || g->nodes[pi].forward < 0) saved[v] = true;  /* made by the forward pass (or a graph input) */
        }
    }
    for (int v = 0; v < g->n_vals; v++)
        if (saved[v]) out->saved_bytes += value_bytes(&g->vals[v]);
    free(saved);
    out->static_bytes = param + grads;
    /* the fewest GPUs that hold it, sharding everything over them (FSDP / ZeRO-3) */
    double room = gpu->hbm_bytes * WEFT_GPU_HBM_USABLE, need = out->static_bytes + out->saved_bytes + work;
    int n = 1;
    while (n < 4096 && need / n > room) n *= 2;
    out->gpus = n;
    out->bytes_per_gpu = need / n;
    for (int i = 0; i < g->n_nodes; i++) {
        const weft_node *nd = &g->nodes[i];
        if (weft_lowering_of(nd->op)->view) continue;  /* indexing only */
        out->seconds += node_time(g, nd, gpu, T, (double)n, &out->compute_s, &out->memory_s);
        out->launch_s += WEFT_GPU_LAUNCH_S;
        out->flops += (double)weft_node_cost(g, nd).flops;
        out->kernels++;
    }
    if (n > 1) {
        /* sharded: the parameters gathered for the forward and again for the backward, the
         * gradients reduce-scattered, over NVLink rings; hidden behind the arithmetic where it
         * is long enough (prefetching), the rest exposed */
        double ring = (double)(n - 1) / n / gpu->nvlink_bytes_per_s;
        double comm = (grads > 0 ? 2 * trained + grads : param) * ring;
        out->comm_s = comm > out->compute_s ? comm - out->compute_s : 0;
        out->seconds += out->comm_s;
    }
    (void)samples;
    return WEFT_OK;
}

void weft_gpu_print(const weft_gpu *gpu, const weft_gpu_estimate *e, FILE *f) {
    double t = e->seconds > 0 ? e->seconds : 1;
    fprintf(f, "  GPU model       %s (an estimate, below): %.4g ms a pass on %d GPU%s; of it arithmetic-bound kernels %.0f%%, HBM-bound "
               "%.0f%%, launches %.0f%%, communication not hidden %.0f%%; %.3g GB a GPU of its %.3g GB (parameters, gradients and "
               "state %.3g GB, activations kept for the backward pass %.3g GB)%s\n",
            gpu->name, 1e3 * e->seconds, e->gpus, e->gpus == 1 ? "" : "s, sharded (FSDP)", 100 * e->compute_s / t, 100 * e->memory_s / t,
            100 * e->launch_s / t, 100 * e->comm_s / t, e->bytes_per_gpu * 1e-9, gpu->hbm_bytes * 1e-9, e->static_bytes * 1e-9,
            e->saved_bytes * 1e-9, "");
    fprintf(f, "  GPU assumptions a kernel a node, the longer of its arithmetic at %.0f%% of the tensor-core peak (%.4g TFLOP/s 16-bit, "
               "%.4g TF32) and its bytes at %.0f%% of %.4g TB/s, plus %.0f us; views free; attention's T x T matrices fused (not in HBM); "
               "figures: %s\n",
            100 * WEFT_GPU_GEMM_EFF, gpu->flops_16 * 1e-12, gpu->flops_fp32 * 1e-12, 100 * WEFT_GPU_MEM_EFF, gpu->hbm_bytes_per_s * 1e-12,
            WEFT_GPU_LAUNCH_S * 1e6, gpu->sources);
}
