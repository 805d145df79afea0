/* compile: lowering, region sizing and placement, routing and channels, SRAM plan (compile.h). */
#include "compile/compile.h"
#include "sim/sim.h"
#include "ir/ops_nn.h"

#include <math.h>
#include <string.h>

#define MAX_BLOCKS 64          /* row blocks streamed through a kernel */
#define GEMM_CHUNK_ROWS 64     /* rows a GEMM region takes at a time */
#define SRAM_USABLE 0.75       /* fraction of a tile's SRAM the plan may fill; the rest is code and stack */
#define RESERVED_CHANNELS 2    /* colors 0 and 1: multicast and reduction inside regions */

/* The row c (n) += a * b (n). */
static void axpy_row(int64_t n, float a, const float *restrict b, float *restrict c) {
    for (int64_t j = 0; j < n; j++) c[j] += a * b[j];
}

/* C(m, n) += A(m, k) B(k, n), every element summed over k in ascending order: 4 x 8 blocks of C
 * stay in registers across k (each element still takes c = c + a b in order), the edges go row
 * by row. */
void weft_tile_gemm(int64_t m, int64_t n, int64_t k, const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                    int64_t ldc) {
    int64_t i = 0;
    for (; i + 4 <= m; i += 4) {
        int64_t j = 0;
        for (; j + 8 <= n; j += 8) {
            float acc[4][8];
            for (int r = 0; r < 4; r++)
                for (int c = 0; c < 8; c++) acc[r][c] = C[(i + r) * ldc + j + c];
            for (int64_t p = 0; p < k; p++) {
                const float *b = B + p * ldb + j;
                for (int r = 0; r < 4; r++) {
                    float a = A[(i + r) * lda + p];
                    for (int c = 0; c < 8; c++) acc[r][c] += a * b[c];
                }
            }
            for (int r = 0; r < 4; r++)
                for (int c = 0; c < 8; c++) C[(i + r) * ldc + j + c] = acc[r][c];
        }
        if (j < n)
            for (int r = 0; r < 4; r++)
                for (int64_t p = 0; p < k; p++) axpy_row(n - j, A[(i + r) * lda + p], B + p * ldb + j, C + (i + r) * ldc + j);
    }
    for (; i < m; i++)
        for (int64_t p = 0; p < k; p++) axpy_row(n, A[i * lda + p], B + p * ldb, C + i * ldc);
}

void weft_program_free(weft_program *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) weft_tensor_free(&p->k[i].weight);
    if (p->folded)
        for (int v = 0; v < p->graph->n_vals; v++) weft_tensor_free(&p->folded[v]);
    free(p->folded);
    free(p->k);
    free(p->kernel_of_node);
    free(p->kernel_of_value);
    free(p->stream_axis);
    free(p);
}

/* The ops a WHOLE kernel may compute, with their data-movement cost model; others are refused. */
static const char *const whole_ops[] = {
    "MatMul", "Gemm", "Transpose", "Concat", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Split", "Slice", "Gather",
    "Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "BatchNormalization",
    "InstanceNormalization", "Pad", "Expand", "Tile", "Where", "Softmax", "LogSoftmax", "LayerNormalization",
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceSumSquare", "ReduceL2", "Cast", "Trilu", "CumSum",
    "Einsum",
    /* training: losses and the backward kernels of grad/ */
    "SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss", "weft.AveragePoolGrad", "weft.ConvGradInput",
    "weft.ConvGradWeight", "weft.GatherGrad", "weft.GeluGrad", "weft.LayerNormGrad", "weft.LogSoftmaxGrad",
    "weft.MaxPoolGrad", "weft.NegativeLogLikelihoodLossGrad", "weft.SliceGrad", "weft.SoftmaxCrossEntropyLossGrad",
    "weft.SoftmaxGrad",
    /* the optimizer's update (ops_train.c) */
    "weft.SumSq", "weft.ClipCoef", "weft.AdamW", "weft.SGD", NULL};

static bool in_list(const char *const *list, const char *name) {
    for (; *list; list++)
        if (!strcmp(*list, name)) return true;
    return false;
}

static bool is_const(const weft_program *p, int v) { return v >= 0 && p->folded[v].data != NULL; }

static int64_t cols_of(const weft_shape *s) { return s->ndim ? (s->d[s->ndim - 1] ? s->d[s->ndim - 1] : 1) : 1; }
static int64_t rows_of(const weft_shape *s) { return weft_shape_numel(s) / cols_of(s); }

/* Reshape and its kin on an activation: the data stays where it is, only its indexing changes. */
static bool is_view(const weft_program *p, const weft_node *n) {
    static const char *const views[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", NULL};
    return in_list(views, n->op->name) && n->n_out == 1 && !is_const(p, n->in[0]);
}

/* ---- the stream axis ----
 *
 * Data streams through the pipeline in blocks along one axis of the model's input: the tokens of
 * a sequence model (an int64 (batch, seq) input), else the batch. Every value carries the
 * position of that axis in its own shape (p->stream_axis[v], -1 when the value has none: weights,
 * or a value that mixes the axis away, such as a sum over it). Block b of any value covers stream
 * indices [L b / blocks, L (b + 1) / blocks). A kernel streams when its output keeps the axis
 * and it can compute output block b from block b of its inputs; an input it needs whole (the keys
 * of attention scores, a value without the axis) is waited for in full. */

static int sax(const weft_program *p, int v) { return v >= 0 && !is_const(p, v) ? p->stream_axis[v] : -1; }

static int norm_axis(int64_t a, int rank) { return (int)(a < 0 ? a + rank : a); }

/* The stream axis of n's output, and for each input whether block b of it feeds block b of the
 * output (same[q]) or it is needed whole. */
static int out_axis(const weft_program *p, const weft_node *n, bool *same) {
    const weft_graph *g = p->graph;
    const char *op = n->op->name;
    const weft_shape *os = &g->vals[n->out[0]].shape;
    int ro = os->ndim, s0 = sax(p, n->in[0]);
    for (int q = 0; q < n->n_in; q++) same[q] = false;
    /* row-wise ops: element-wise, the normalizations over other axes, and their gradients */
    static const char *const rowwise[] = {"Softmax", "LogSoftmax", "LayerNormalization", "weft.SoftmaxGrad", "weft.LogSoftmaxGrad",
                                          "weft.SoftmaxCrossEntropyLossGrad", "weft.NegativeLogLikelihoodLossGrad", NULL};
    bool eltwise = weft_op_in_family(n->op, weft_ops_elementwise) || in_list(rowwise, op);
    if (eltwise) {
        int s = -1;
        for (int q = 0; q < n->n_in; q++) {
            int v = n->in[q], sq = sax(p, v);
            if (sq < 0) continue;
            const weft_shape *is = &g->vals[v].shape;
            int aligned = sq + (ro - is->ndim);
            if (aligned < 0 || is->d[sq] != os->d[aligned] || (s >= 0 && s != aligned)) continue;
            s = aligned;
            same[q] = true;
        }
        /* the normalized axes of Softmax and LayerNormalization must not include the stream axis */
        int reduced = -1;
        if (!strcmp(op, "Softmax") || !strcmp(op, "LogSoftmax")) {
            int ax = norm_axis(weft_attr_i(n, "axis", n->opset >= 13 ? -1 : 1), ro);
            reduced = n->opset >= 13 ? ax : -2 - ax;  /* before opset 13: axes >= ax */
        } else if (!strcmp(op, "weft.SoftmaxGrad") || !strcmp(op, "weft.LogSoftmaxGrad")) {
            int ax = norm_axis(weft_attr_i(n, "axis", -1), ro);
            reduced = weft_attr_i(n, "legacy", 0) ? -2 - ax : ax;  /* legacy: the pre-13 axes >= ax */
        } else if (!strcmp(op, "weft.SoftmaxCrossEntropyLossGrad") || !strcmp(op, "weft.NegativeLogLikelihoodLossGrad")) {
            reduced = 1;  /* the class axis of (N, C, ...) */
        } else if (!strcmp(op, "LayerNormalization")) reduced = -2 - norm_axis(weft_attr_i(n, "axis", -1), ro);
        if (s >= 0 && ((reduced >= 0 && s == reduced) || (reduced <= -2 && s >= -2 - reduced))) s = -1;
        if (s < 0)
            for (int q = 0; q < n->n_in; q++) same[q] = false;
        return s;
    }
    if (!strcmp(op, "weft.SliceGrad")) {
        /* the gradient of a Slice that kept the stream axis: dY scattered into zeros of X's shape */
        int sd = sax(p, n->in[1]);
        const weft_shape *xs = &g->vals[n->in[0]].shape;
        if (sd < 0 || xs->ndim != ro || g->vals[n->in[1]].shape.d[sd] != xs->d[sd]) return -1;
        same[1] = true;
        same[0] = sax(p, n->in[0]) == sd;
        return sd;
    }
    if (s0 < 0) {
        /* Gather from a weight table (an embedding): the indices carry the axis */
        if (!strcmp(op, "Gather") && sax(p, n->in[1]) >= 0) {
            same[1] = true;
            return norm_axis(weft_attr_i(n, "axis", 0), g->vals[n->in[0]].shape.ndim) + sax(p, n->in[1]);
        }
        return -1;
    }
    const weft_shape *is = &g->vals[n->in[0]].shape;
    int ri = is->ndim;
    if (!strcmp(op, "Transpose")) {
        int len;
        const int64_t *perm = weft_attr_ints(n, "perm", &len);
        for (int j = 0; j < ro; j++)
            if ((perm ? perm[j] : ro - 1 - j) == s0) { same[0] = true; return j; }
        return -1;
    }
    if (!strcmp(op, "Reshape") || !strcmp(op, "Flatten") || !strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze") ||
        !strcmp(op, "Identity")) {
        /* the axis survives where the dims before it multiply to the same count and it keeps its size */
        int64_t before = 1, acc = 1;
        for (int d = 0; d < s0; d++) before *= is->d[d];
        for (int j = 0; j < ro; j++) {
            if (acc == before && os->d[j] == is->d[s0]) { same[0] = true; return j; }
            acc *= os->d[j];
        }
        return -1;
    }
    if (!strcmp(op, "Slice")) {
        /* slicing other axes only: the starts, ends, axes and steps are constants */
        int na = n->n_in > 3 && n->in[3] >= 0 ? (int)weft_tensor_numel(&p->folded[n->in[3]]) : ri;
        for (int q = 0; q < na; q++) {
            int ax = n->n_in > 3 && n->in[3] >= 0 ? norm_axis(weft_tensor_get_i(&p->folded[n->in[3]], q), ri) : q;
            if (ax == s0 && os->d[s0] != is->d[s0]) return -1;
        }
        same[0] = true;
        return s0;
    }
    if (!strcmp(op, "Gather")) {
        int ax = norm_axis(weft_attr_i(n, "axis", 0), ri);
        if (ax == s0 || sax(p, n->in[1]) >= 0) return -1;
        same[0] = true;
        return s0 < ax ? s0 : s0 + g->vals[n->in[1]].shape.ndim - 1;
    }
    if (!strcmp(op, "Concat") || !strcmp(op, "Split")) {
        if (norm_axis(weft_attr_i(n, "axis", 0), ri) == s0) return -1;
        for (int q = 0; q < n->n_in; q++) same[q] = sax(p, n->in[q]) == s0;
        return s0;
    }
    if (!strcmp(op, "MatMul")) {
        /* A (..., M, K) streams on a batch or row axis; B is needed whole unless it streams on the
         * same batch axis */
        if (ri < 2 || s0 == ri - 1) return -1;
        int s = s0 + (ro - ri);
        same[0] = true;
        const weft_shape *bs = &g->vals[n->in[1]].shape;
        int sb = sax(p, n->in[1]);
        if (sb >= 0 && sb < bs->ndim - 2 && sb + (ro - bs->ndim) == s) same[1] = true;
        return s;
    }
    /* batch-wise ops: the stream axis is the batch */
    static const char *const batchwise[] = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool",
                                            "GlobalMaxPool", "BatchNormalization", "InstanceNormalization", "Gemm", NULL};
    if (s0 == 0 && in_list(batchwise, op)) { same[0] = true; return 0; }
    return -1;
}

static weft_status fold_constants(weft_program *p, weft_err *err) {
    const weft_graph *g = p->graph;
    for (int v = 0; v < g->n_vals; v++)
        if (g->vals[v].data.data) {
            p->folded[v] = g->vals[v].data;
            p->folded[v].owns = 0;
        }
    for (int i = 0; i < g->n_nodes; i++) {
        const weft_node *n = &g->nodes[i];
        bool all = true;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0 && !is_const(p, n->in[k])) all = false;
        p->kernel_of_node[i] = WEFT_NODE_FOLDED;
        if (!all) continue;
        const weft_tensor *in[WEFT_MAX_IO];
        weft_tensor out[WEFT_MAX_IO] = {{0}};
        for (int k = 0; k < n->n_in; k++) in[k] = n->in[k] >= 0 ? &p->folded[n->in[k]] : NULL;
        weft_status s = weft_node_eval(g, n, in, out, err);
        if (s) return weft_err_prefix(err, "compile-time evaluation");
        for (int j = 0; j < n->n_out; j++) p->folded[n->out[j]] = out[j];
    }
    return WEFT_OK;
}

static weft_status load_weight(weft_program *p, weft_kernel *k, weft_err *err);

weft_status weft_program_refresh(weft_program *p, weft_err *err) {
    const weft_graph *g = p->graph;
    for (int i = 0; i < g->n_nodes; i++) {
        const weft_node *n = &g->nodes[i];
        if (p->kernel_of_node[i] != WEFT_NODE_FOLDED) continue;
        const weft_tensor *in[WEFT_MAX_IO];
        weft_tensor out[WEFT_MAX_IO] = {{0}};
        for (int k = 0; k < n->n_in; k++) in[k] = n->in[k] >= 0 ? &p->folded[n->in[k]] : NULL;
        weft_status s = weft_node_eval(g, n, in, out, err);
        if (s) return weft_err_prefix(err, "refreshing the program's constants");
        for (int j = 0; j < n->n_out; j++) {
            weft_tensor_free(&p->folded[n->out[j]]);
            p->folded[n->out[j]] = out[j];
        }
    }
    for (int i = 0; i < p->n; i++)
        if (p->k[i].kind == WEFT_KERNEL_GEMM) {
            weft_status s = load_weight(p, &p->k[i], err);
            if (s) return s;
        }
    return WEFT_OK;
}

/* ---- causal attention ----
 * The keys and values of attention are needed whole, unless the scores are masked causally:
 * then query block b only ever uses keys and values of blocks 0..b, and the kernels computing
 * the scores and the weighted sum wait only for that prefix. The compiler recognises the mask
 * the way a model writes it: scores -> [scale by a constant] -> Where(constant mask, scores,
 * constant) or Add(scores, constant mask) -> Softmax over the keys. */

/* The only node reading v, or -1. */
static int sole_user(const weft_program *p, int v) {
    const weft_graph *g = p->graph;
    int user = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int q = 0; q < g->nodes[i].n_in; q++)
            if (g->nodes[i].in[q] == v) {
                if (user >= 0 && user != i) return -1;
                user = i;
            }
    for (int j = 0; j < g->n_outputs; j++)
        if (g->outputs[j] == v) return -1;
    return user;
}

/* Is constant m, broadcast to (..., T, T), a causal mask: position (i, j) kept exactly when
 * j <= i? As a Where condition, kept is true (or false, `inverted`); as an additive mask, kept
 * is 0 and masked is at most -1e4. */
enum { MASK_KEEP_TRUE, MASK_KEEP_FALSE, MASK_ADDITIVE };
static bool causal_mask(const weft_program *p, int m, int mode) {
    if (!is_const(p, m)) return false;
    const weft_tensor *t = &p->folded[m];
    int r = t->shape.ndim;
    if (r < 2 || t->shape.d[r - 1] != t->shape.d[r - 2]) return false;
    int64_t T = t->shape.d[r - 1];
    if (weft_tensor_numel(t) != T * T) return false;
    for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j < T; j++) {
            double x = weft_tensor_get_f(t, i * T + j);
            bool kept = mode == MASK_ADDITIVE ? x == 0 : mode == MASK_KEEP_TRUE ? x != 0 : x == 0;
            if (kept != (j <= i) || (mode == MASK_ADDITIVE && !kept && x > -1e4)) return false;
        }
    return true;
}

/* Does every element of constant c push a softmax weight to zero (at most -1e4)? */
static bool very_negative(const weft_program *p, int c) {
    if (!is_const(p, c)) return false;
    for (int64_t i = 0; i < weft_tensor_numel(&p->folded[c]); i++)
        if (weft_tensor_get_f(&p->folded[c], i) > -1e4) return false;
    return true;
}

/* Is node i a causal mask applied to value v: Where(mask, v, -inf), Where(~mask, -inf, v) or
 * Add(v, mask)? */
static bool is_causal_masking(const weft_program *p, int i, int v) {
    const weft_node *n = &p->graph->nodes[i];
    if (!strcmp(n->op->name, "Where")) {
        if (n->in[1] == v && very_negative(p, n->in[2])) return causal_mask(p, n->in[0], MASK_KEEP_TRUE);
        if (n->in[2] == v && very_negative(p, n->in[1])) return causal_mask(p, n->in[0], MASK_KEEP_FALSE);
        return false;
    }
    if (!strcmp(n->op->name, "Add") && (n->in[0] == v || n->in[1] == v))
        return causal_mask(p, n->in[0] == v ? n->in[1] : n->in[0], MASK_ADDITIVE);
    return false;
}

static bool softmax_over_last(const weft_program *p, const weft_node *n) {
    if (strcmp(n->op->name, "Softmax")) return false;
    int rank = p->graph->vals[n->out[0]].shape.ndim;
    int64_t axis = weft_attr_i(n, "axis", n->opset >= 13 ? -1 : 1);
    return (axis < 0 ? axis + rank : axis) == rank - 1;
}

/* The scores MatMul of causal attention: its output reaches a causal mask (through an optional
 * scaling by a constant), then a softmax over the keys. */
static bool causal_scores(const weft_program *p, const weft_node *n) {
    const weft_graph *g = p->graph;
    int v = n->out[0];
    int u = sole_user(p, v);
    if (u < 0) return false;
    const weft_node *un = &g->nodes[u];
    if ((!strcmp(un->op->name, "Mul") || !strcmp(un->op->name, "Div")) && is_const(p, un->in[1])) {
        v = un->out[0];
        u = sole_user(p, v);
        if (u < 0) return false;
    }
    if (!is_causal_masking(p, u, v)) return false;
    int s = sole_user(p, g->nodes[u].out[0]);
    return s >= 0 && softmax_over_last(p, &g->nodes[s]);
}

/* The weighted sum of causal attention: its probabilities come from a softmax of causally masked
 * scores. */
static bool causal_context(const weft_program *p, const weft_node *n) {
    const weft_graph *g = p->graph;
    int sm = g->vals[n->in[0]].producer;
    if (sm < 0 || !softmax_over_last(p, &g->nodes[sm])) return false;
    int mk = g->vals[g->nodes[sm].in[0]].producer;
    if (mk < 0) return false;
    for (int q = 0; q < g->nodes[mk].n_in; q++)  /* whichever input carries the scores */
        if (g->nodes[mk].in[q] >= 0 && !is_const(p, g->nodes[mk].in[q]) && is_causal_masking(p, mk, g->nodes[mk].in[q])) return true;
    return false;
}

/* Does n sum over the stream axis, its streamed inputs block by block: a MatMul whose operands both
 * carry the stream on the contracted axis (a weight's gradient X^T dY), or a ReduceSum over it?
 * Sets same[] for the inputs it takes block by block. */
static bool sums_over_stream(const weft_program *p, const weft_node *n, bool *same) {
    const weft_graph *g = p->graph;
    const char *op = n->op->name;
    if (!strcmp(op, "MatMul") && n->n_in == 2) {
        int sa = sax(p, n->in[0]), sb = sax(p, n->in[1]);
        int ra = g->vals[n->in[0]].shape.ndim, rb = g->vals[n->in[1]].shape.ndim;
        if (ra < 2 || rb < 2 || sa != ra - 1 || sb != rb - 2) return false;
        same[0] = same[1] = true;
        return true;
    }
    if (!strcmp(op, "ReduceSum")) {
        int s0 = sax(p, n->in[0]), r = g->vals[n->in[0]].shape.ndim;
        if (s0 < 0) return false;
        if (n->n_in > 1 && n->in[1] >= 0) {
            if (!is_const(p, n->in[1])) return false;
            for (int64_t q = 0; q < weft_tensor_numel(&p->folded[n->in[1]]); q++)
                if (norm_axis(weft_tensor_get_i(&p->folded[n->in[1]], q), r) == s0) { same[0] = true; return true; }
            return false;
        }
        int len;
        const int64_t *axes = weft_attr_ints(n, "axes", &len);
        if (!axes) { same[0] = !weft_attr_i(n, "noop_with_empty_axes", 0); return same[0]; }  /* all axes */
        for (int q = 0; q < len; q++)
            if (norm_axis(axes[q], r) == s0) { same[0] = true; return true; }
    }
    return false;
}

/* A GEMM region's weight as the tiles hold it, W (K, N) in fp32, from the weight operand's value
 * known at compile time: a Conv's (M, C prod(k)) transposed, a Gemm's alpha applied and transB
 * undone. Called when compiling and again by weft_program_refresh. */
static weft_status load_weight(weft_program *p, weft_kernel *k, weft_err *err) {
    const weft_node *n = &p->graph->nodes[k->node];
    const weft_tensor *W = &p->folded[n->in[1]];
    bool gemm = !strcmp(n->op->name, "Gemm");
    bool tb = k->conv || (gemm && weft_attr_i(n, "transB", 0));
    float alpha = gemm ? weft_attr_f(n, "alpha", 1.0f) : 1.0f;
    if (!k->weight.data) {
        weft_status s = weft_tensor_alloc(&k->weight, WEFT_F32, WEFT_SHAPE(k->K, k->N), err);
        if (s) return s;
    }
    float *w = k->weight.data; /* (K, N) */
    if (W->dtype == WEFT_F32) { /* the common case, read directly: GPT-2 has 85M weights to copy */
        const float *src = W->data;
        for (int64_t r = 0; r < k->K; r++)
            for (int64_t c = 0; c < k->N; c++) w[r * k->N + c] = alpha * src[tb ? c * k->K + r : r * k->N + c];
        return WEFT_OK;
    }
    for (int64_t r = 0; r < k->K; r++)
        for (int64_t c = 0; c < k->N; c++) w[r * k->N + c] = alpha * (float)weft_tensor_get_f(W, tb ? c * k->K + r : r * k->N + c);
    return WEFT_OK;
}

/* Sets up kernel k for node i: kind, dimensions, weights, work. */
static weft_status lower(weft_program *p, int i, weft_kernel *k, weft_err *err) {
    const weft_graph *g = p->graph;
    const weft_node *n = &g->nodes[i];
    const char *op = n->op->name;
    const weft_shape *os = &g->vals[n->out[0]].shape;
    memset(k, 0, sizeof *k);
    k->node = i;
    k->host = -1;
    weft_cost cost = weft_node_cost(g, n);
    k->flops = cost.flops;
    bool gemm = false;
    if (!strcmp(op, "MatMul") && is_const(p, n->in[1]) && !is_const(p, n->in[0]) && g->vals[n->in[1]].shape.ndim == 2 &&
        g->vals[n->in[0]].shape.ndim >= 2)
        gemm = true;
    if (!strcmp(op, "Gemm") && is_const(p, n->in[1]) && !is_const(p, n->in[0]) && !weft_attr_i(n, "transA", 0) &&
        (n->n_in < 3 || n->in[2] < 0 || is_const(p, n->in[2])))
        gemm = true;
    int64_t group = 0;
    if (!strcmp(op, "Conv") && is_const(p, n->in[1]) && !is_const(p, n->in[0]) &&
        (n->n_in < 3 || n->in[2] < 0 || is_const(p, n->in[2])) && !weft_conv_window(g, n, &k->win, &group, err) && group == 1) {
        /* Y rows (N prod(out), M) = patches (N prod(out), C prod(k)) . W^T (C prod(k), M) */
        const weft_tensor *W = &p->folded[n->in[1]];
        k->kind = WEFT_KERNEL_GEMM;
        k->conv = true;
        k->N = W->shape.d[0];
        k->K = weft_tensor_numel(W) / k->N;
        k->M = g->vals[n->in[0]].shape.d[0] * weft_window_out_numel(&k->win);
        weft_status s = load_weight(p, k, err);
        if (s) return s;
        k->weight_bytes = k->K * k->N * (int64_t)weft_dtype_size(g->vals[n->in[1]].dtype);
        k->flops = 2 * k->M * k->K * k->N;
    } else if (gemm) {
        const weft_tensor *W = &p->folded[n->in[1]];
        bool tb = !strcmp(op, "Gemm") && weft_attr_i(n, "transB", 0);
        k->kind = WEFT_KERNEL_GEMM;
        k->K = tb ? W->shape.d[1] : W->shape.d[0];
        k->N = tb ? W->shape.d[0] : W->shape.d[1];
        k->M = rows_of(&g->vals[n->in[0]].shape);
        weft_status s = load_weight(p, k, err);
        if (s) return s;
        k->weight_bytes = k->K * k->N * (int64_t)weft_dtype_size(g->vals[n->in[1]].dtype);
        k->flops = 2 * k->M * k->K * k->N;
    } else if (weft_op_in_family(n->op, weft_ops_elementwise) || in_list(whole_ops, op)) {
        k->kind = WEFT_KERNEL_WHOLE;  /* STREAM below when it streams */
        k->M = rows_of(os);
        k->N = cols_of(os);
    } else {
        return weft_err_set(err, WEFT_ERR_UNSUPPORTED,
                            "node '%s' (%s): the compiler cannot lower this op to the fabric yet (it runs on the reference executor only)",
                            n->name, op);
    }
    /* weights of non-GEMM kernels: constant inputs (biases, scales, gains) stay resident */
    if (k->kind != WEFT_KERNEL_GEMM)
        for (int q = 0; q < n->n_in; q++)
            if (is_const(p, n->in[q])) k->weight_bytes += (int64_t)weft_tensor_nbytes(&p->folded[n->in[q]]);
    /* streaming: along the stream axis, when the output keeps it */
    bool same[WEFT_MAX_IO];
    int s_out = out_axis(p, n, same);
    for (int j = 0; j < n->n_out; j++) p->stream_axis[n->out[j]] = s_out;
    k->blocks = s_out >= 0 ? p->blocks : 1;
    if (s_out < 0 && p->blocks > 1 && sums_over_stream(p, n, same)) {
        k->accumulates = true;
        k->blocks = p->blocks;
    }
    if (k->kind == WEFT_KERNEL_WHOLE && k->blocks > 1) k->kind = WEFT_KERNEL_STREAM;
    k->block_rows = (k->M + k->blocks - 1) / k->blocks;
    if (k->kind == WEFT_KERNEL_GEMM) {
        /* a GEMM region takes a block's rows in chunks of at most GEMM_CHUNK_ROWS: its buffers
         * stay small whatever the block (a whole image, for a convolution at batch 1) */
        k->chunks = (int)((k->block_rows + GEMM_CHUNK_ROWS - 1) / GEMM_CHUNK_ROWS);
        if (k->chunks < 1) k->chunks = 1;
        k->block_rows = (k->block_rows + k->chunks - 1) / k->chunks;
    }
    /* dependencies: the kernels producing each activation input */
    for (int q = 0; q < n->n_in; q++) {
        int v = n->in[q];
        if (v < 0 || is_const(p, v)) continue;
        if (k->n_deps == WEFT_KERNEL_MAX_DEPS)
            return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "node '%s' (%s): more than %d activation inputs", n->name, op,
                                WEFT_KERNEL_MAX_DEPS);
        k->dep[k->n_deps] = p->kernel_of_value[v];
        k->dep_whole[k->n_deps] = k->blocks == 1 || !same[q];
        /* causal attention: the keys (scores) and values (weighted sum) stream as a prefix */
        if (k->dep_whole[k->n_deps] && k->blocks > 1 && !strcmp(op, "MatMul") && q == 1 && sax(p, v) >= 0 &&
            weft_value_blocks(p, v) == k->blocks && (causal_scores(p, n) || causal_context(p, n))) {
            k->dep_whole[k->n_deps] = false;
            k->dep_prefix[k->n_deps] = true;
        }
        k->dep_value[k->n_deps++] = v;
    }
    return WEFT_OK;
}

static double rate_of(const weft_program *p, const weft_kernel *k);

int weft_kernel_arith(const weft_program *p, const weft_kernel *k) {
    weft_dtype dt = p->graph->vals[p->graph->nodes[k->node].out[0]].dtype;
    return dt == WEFT_F16 ? WEFT_ARCH_FP16 : dt == WEFT_BF16 ? WEFT_ARCH_BF16 : WEFT_ARCH_FP32;
}

double weft_kernel_rate(const weft_program *p, const weft_kernel *k) { return rate_of(p, k); }

static double rate_of(const weft_program *p, const weft_kernel *k) {
    int d = weft_kernel_arith(p, k);
    /* the fastest computing tile kind (SN30: the PCUs) */
    double r = 0;
    for (int i = 0; i < p->arch.n_kinds; i++)
        if (p->arch.kinds[i].flops_per_cycle[d] > r) r = p->arch.kinds[i].flops_per_cycle[d];
    return r > 0 ? r : 1;
}

static int64_t act_bytes(const weft_program *p, int v) {
    return weft_shape_numel(&p->graph->vals[v].shape) * (int64_t)weft_dtype_size(p->graph->vals[v].dtype);
}

bool weft_kernel_dep_rowwise(const weft_program *p, const weft_kernel *k, int q) {
    (void)p;
    return !k->dep_whole[q] && !k->dep_prefix[q];
}

bool weft_kernel_dep_prefix(const weft_kernel *k, int q) { return k->dep_prefix[q]; }

int weft_value_blocks(const weft_program *p, int v) { return p->stream_axis[v] >= 0 ? p->blocks : 1; }

int weft_kernel_out_blocks(const weft_kernel *k) { return k->accumulates ? 1 : k->blocks; }

bool weft_kernel_streams(const weft_program *p, const weft_kernel *k) {
    (void)p;
    if (k->blocks == 1) return false;
    for (int q = 0; q < k->n_deps; q++)
        if (k->dep_whole[q] || k->dep_prefix[q]) return false;
    return true;
}

bool weft_kernel_holds_whole(const weft_program *p, const weft_kernel *k) {
    return !weft_kernel_streams(p, k) || k->n_deps > 1;
}

/* The SRAM a kernel needs on each of its t tiles, in bytes. A kernel that streams one input
 * holds two row blocks of input and output. One that waits for a whole input, or that joins two
 * streams (a residual add: the skip path's blocks arrive long before the other path's and must
 * wait), holds its inputs whole. */
static int64_t sram_need(const weft_program *p, const weft_kernel *k, int pk, int pn, int64_t t) {
    const weft_graph *g = p->graph;
    int64_t es = (int64_t)weft_dtype_size(g->vals[g->nodes[k->node].out[0]].dtype);
    if (k->kind == WEFT_KERNEL_GEMM) {
        int64_t kb = (k->K + pk - 1) / pk, nb = (k->N + pn - 1) / pn;
        /* weight tile, two input row blocks, two fp32 partial blocks, and its share of the
         * gradient and optimizer state of updates attached to the region */
        return kb * nb * es + 2 * k->block_rows * kb * es + 2 * k->block_rows * nb * 4 +
               (k->attached_bytes + (int64_t)pk * pn - 1) / ((int64_t)pk * pn);
    }
    /* inputs needed whole are held whole; streamed ones two blocks at a time, unless the kernel
     * joins two streams (then the early one waits whole) */
    bool join = weft_kernel_holds_whole(p, k);
    int64_t data = 0;
    for (int q = 0; q < k->n_deps; q++) {
        int64_t b = act_bytes(p, k->dep_value[q]);
        data += k->dep_whole[q] || k->dep_prefix[q] || join ? b : 2 * b / k->blocks;
    }
    int64_t out = k->M * k->N * es;
    data += k->blocks == 1 || k->accumulates ? out : 2 * out / k->blocks;
    return (data + k->weight_bytes + k->attached_bytes + t - 1) / t;
}

/* Chooses the GEMM grid for t tiles: pk / pn close to K / N, pk within the mesh height. */
static void gemm_grid(const weft_program *p, const weft_kernel *k, int64_t t, int *pk, int *pn) {
    double r = sqrt((double)t * (double)k->K / (double)k->N);
    int64_t a = (int64_t)(r < 1 ? 1 : r);
    if (a > p->arch.height) a = p->arch.height;
    if (a > k->K) a = k->K;
    int64_t b = t / a;
    if (b < 1) b = 1;
    if (b > k->N) b = k->N;
    *pk = (int)a;
    *pn = (int)b;
}

/* The SRAM per tile the plan may fill (the largest tile kind's, SRAM_USABLE of it). */
static double tile_cap(const weft_program *p) {
    int64_t best = 0;
    for (int i = 0; i < p->arch.n_kinds; i++)
        if (p->arch.kinds[i].sram_bytes > best) best = p->arch.kinds[i].sram_bytes;
    return SRAM_USABLE * (double)best;
}

static int64_t min_tiles(const weft_program *p, const weft_kernel *k) {
    double cap = tile_cap(p);
    int64_t all = (int64_t)p->arch.width * p->arch.height;
    for (int64_t t = 1;; t = t * 5 / 4 + 1) {
        if (t > all) t = all;
        int pk = 1, pn = 1;
        if (k->kind == WEFT_KERNEL_GEMM) gemm_grid(p, k, t, &pk, &pn);
        int64_t used = k->kind == WEFT_KERNEL_GEMM ? (int64_t)pk * pn : t;
        if ((double)sram_need(p, k, pk, pn, used) <= cap) return t;  /* gemm_grid(t) gives this grid again */
        if (t == all) return -1;  /* not even the whole mesh holds it */
    }
}

static uint64_t ceil_div(double a, double b) { return (uint64_t)ceil(a / b); }

/* Planned cycles of one row block on the kernel's region: `stage`, how long the block occupies
 * the region (the interval between successive blocks), and `latency`, from the block's start to
 * its output being ready. Data movement inside a region is pipelined: wavelets stream through
 * the routers, so a multicast along n tiles or a reduction chain down n tiles costs
 * n hops plus one serialization of the data, not n serializations. */
static void plan_costs(const weft_program *p, weft_kernel *k) {
    const weft_arch *a = &p->arch;
    double rate = rate_of(p, k), link = a->link_bytes_per_cycle;
    uint64_t hop = (uint64_t)a->hop_latency;
    int64_t tiles = (int64_t)k->w * k->h;
    int64_t es = 4;
    if (k->kind == WEFT_KERNEL_GEMM) {
        int64_t kb = (k->K + k->pk - 1) / k->pk, nb = (k->N + k->pn - 1) / k->pn;
        uint64_t compute = ceil_div(2.0 * (double)(k->block_rows * kb * nb), rate);
        uint64_t in_ser = ceil_div((double)(k->block_rows * kb * es), link);   /* X block into each row */
        uint64_t out_ser = ceil_div((double)(k->block_rows * nb * 4), link);   /* partials down each column */
        k->t_compute = compute;
        k->t_in = in_ser;
        k->t_out = out_ser;
        /* per chunk; a block is `chunks` chunks through the same pipeline */
        uint64_t stage = compute > in_ser ? (compute > out_ser ? compute : out_ser) : (in_ser > out_ser ? in_ser : out_ser);
        k->block_cycles = stage * (uint64_t)k->chunks;
        k->block_latency = (uint64_t)(k->pn - 1) * hop + in_ser + compute + (uint64_t)(k->pk - 1) * hop + out_ser +
                           stage * (uint64_t)(k->chunks - 1);
        return;
    }
    double per_block_flops = (double)(k->flops > 0 ? k->flops : k->M * k->N) / k->blocks;
    uint64_t compute = ceil_div(per_block_flops, rate * (double)tiles);
    /* a block enters along the region's west column (h rows in parallel) and spreads east */
    uint64_t move = ceil_div((double)(k->block_rows * k->N * es), link * k->h);
    uint64_t spread = (uint64_t)(k->w - 1) * hop;
    if (k->kind == WEFT_KERNEL_WHOLE) {
        /* an all-to-all exchange of the inputs across the region: bytes over the bisection */
        int64_t in = 0;
        for (int q = 0; q < k->n_deps; q++) in += act_bytes(p, k->dep_value[q]);
        int side = k->w < k->h ? k->w : k->h;
        move = ceil_div((double)in, link * side);
        spread = (uint64_t)(k->w + k->h) * hop;
    }
    /* row reductions (softmax: max and sum; layer norm: mean and variance): a row lies across
     * the region's w tiles, each reduction a chain of w - 1 hops there and a broadcast back */
    const char *op = p->graph->nodes[k->node].op->name;
    int reductions = !strcmp(op, "Softmax") || !strcmp(op, "LogSoftmax") || !strcmp(op, "LayerNormalization") ? 2 : 0;
    spread += (uint64_t)reductions * 2 * (uint64_t)(k->w - 1) * hop;
    k->block_cycles = (compute > move ? compute : move) + 1;
    k->block_latency = compute + move + spread;
}

/* Strips of fixed thickness `band`, in graph order. Vertical strips (west to east): each region
 * is `band` tiles wide (a GEMM: pn = band) and as tall as its tile count needs, stacked below the
 * previous one. Horizontal shelves (north to south): each region is `band` tiles tall (a GEMM:
 * pk = band) and as wide as it needs, left of the previous one. A region that does not fit
 * starts the next strip. */
/* The plan's estimate of one pass: the fill (every kernel's latency; a kernel that waits for
 * whole inputs adds all its blocks) plus the stream's blocks through the slowest stage. Costs
 * every kernel (plan_costs) as placed. */
static uint64_t predict(weft_program *p) {
    uint64_t slowest = 0, fill = 0;
    int blocks = 1;
    for (int i = 0; i < p->n; i++) {
        weft_kernel *k = &p->k[i];
        plan_costs(p, k);
        if (k->block_cycles > slowest) slowest = k->block_cycles;
        if (k->blocks > blocks) blocks = k->blocks;
        fill += weft_kernel_streams(p, k) ? k->block_latency : k->block_latency + k->block_cycles * (uint64_t)(k->blocks - 1);
    }
    return fill + (uint64_t)blocks * slowest;
}

/* Shapes kernel k as `band` tiles thick across a strip: sets its run along the strip (and a
 * GEMM's grid). Returns false when it cannot hold its data that way within `len` tiles. */
static bool shape_in_band(weft_program *p, weft_kernel *k, int64_t tiles, int band, bool shelves, int len, int *thick_out,
                          int *run_out) {
    double cap = tile_cap(p);
    int thick = band, run = (int)((tiles + band - 1) / band);  /* across x along */
    if (k->kind == WEFT_KERNEL_GEMM) {
        int64_t tmax = shelves ? k->K : k->N;  /* the dimension the band splits */
        int64_t rmax = shelves ? k->N : k->K;
        if (thick > tmax) thick = (int)tmax;
        run = (int)((tiles + thick - 1) / thick);
        if (run > rmax) run = (int)rmax;
        /* a grid squeezed by the band may need more tiles along it to hold its tiles' data */
        for (;;) {
            k->pk = shelves ? thick : run;
            k->pn = shelves ? run : thick;
            if ((double)sram_need(p, k, k->pk, k->pn, (int64_t)k->pk * k->pn) <= cap || run >= rmax || run >= len) break;
            run = run + run / 4 + 1;
            if (run > rmax) run = (int)rmax;
            if (run > len) run = len;
        }
    }
    *thick_out = thick;
    *run_out = run;
    return run <= len && (double)sram_need(p, k, k->pk ? k->pk : 1, k->pn ? k->pn : 1, (int64_t)thick * run) <= cap;
}

/* Strips, in graph order: vertical strips west to east (a region `thick` tiles wide, a GEMM's
 * pn = thick, stacked below the previous one), or horizontal shelves north to south (`thick`
 * tiles tall, a GEMM's pk = thick, left of the previous one). A strip is `band` tiles thick; a
 * region that does not fit in what is left of it starts the next strip. With `grow`, a region
 * that cannot hold its data at that thickness starts a strip of its own thickness (the smallest
 * multiple of `band` that holds it), and the strips after it keep that thickness. */
static weft_status place(weft_program *p, const int64_t *tiles, int band, bool shelves, bool grow) {
    const weft_arch *a = &p->arch;
    int along = 0, across = 0;  /* position along the strip, and the strip's offset */
    int len = shelves ? a->width : a->height, room = shelves ? a->height : a->width;
    int strip = band;           /* the current strip's thickness */
    for (int i = 0; i < p->n; i++) {
        weft_kernel *k = &p->k[i];
        if (k->host >= 0) continue;
        int thick, run;
        bool ok = shape_in_band(p, k, tiles[i], strip, shelves, len, &thick, &run);
        if (!ok && grow)
            for (int b = strip + band; b <= room && !ok; b += band)
                if ((ok = shape_in_band(p, k, tiles[i], b, shelves, len, &thick, &run))) {
                    across += along ? strip : 0;  /* a fresh strip of the new thickness */
                    along = 0;
                    strip = b;
                }
        if (!ok) return WEFT_ERR_NOMEM;
        if (along + run > len) { across += strip; along = 0; }
        if (across + thick > room) return WEFT_ERR_NOMEM;
        k->w = shelves ? run : thick;
        k->h = shelves ? thick : run;
        k->x0 = shelves ? along : across;
        k->y0 = shelves ? across : along;
        along += run;
    }
    for (int i = 0; i < p->n; i++)
        if (p->k[i].host >= 0) {
            const weft_kernel *h = &p->k[p->k[i].host];
            p->k[i].x0 = h->x0;
            p->k[i].y0 = h->y0;
            p->k[i].w = h->w;
            p->k[i].h = h->h;
        }
    return WEFT_OK;
}

/* A kernel's output side: tile i of n (GEMM: bottom row; others: east column). */
static void out_side(const weft_kernel *k, int i, int *x, int *y, int *n) {
    if (k->kind == WEFT_KERNEL_GEMM) { *n = k->w; *x = k->x0 + i; *y = k->y0 + k->h - 1; }
    else { *n = k->h; *x = k->x0 + k->w - 1; *y = k->y0 + i; }
}

int weft_edge_lanes(const weft_program *p, int src, int dst, weft_lane *lanes) {
    const weft_arch *a = &p->arch;
    int n_out, n_in, x, y;
    if (src >= 0) out_side(&p->k[src], 0, &x, &y, &n_out);
    else n_out = dst >= 0 ? p->k[dst].h : 1;
    n_in = dst >= 0 ? p->k[dst].h : n_out;
    int n = n_out < n_in ? n_out : n_in;
    if (n > WEFT_MAX_LANES) n = WEFT_MAX_LANES;
    if (n < 1) n = 1;
    for (int l = 0; l < n; l++) {
        weft_lane *ln = &lanes[l];
        int i_in = (int)((int64_t)l * n_in / n), i_out = (int)((int64_t)l * n_out / n);
        if (dst >= 0) { ln->x1 = p->k[dst].x0; ln->y1 = p->k[dst].y0 + i_in; }
        if (src >= 0) out_side(&p->k[src], i_out, &ln->x0, &ln->y0, &x);
        else { ln->x0 = 0; ln->y0 = ln->y1; }                  /* off-chip input: the west edge */
        if (dst < 0) {  /* off-chip output: the east edge, each lane on its own row of the region */
            const weft_kernel *k = &p->k[src];
            ln->x1 = a->width - 1;
            ln->y1 = k->kind == WEFT_KERNEL_GEMM ? k->y0 + (int)((int64_t)l * k->h / n) : ln->y0;
        }
        /* lanes leaving along a row go down their own columns first, then along their own rows */
        ln->yx = src >= 0 && p->k[src].kind == WEFT_KERNEL_GEMM;
    }
    return n;
}

/* Colors: a kernel's output travels to all of its consumers as one multicast on one channel, so
 * every edge from the same producer (or of the same graph input) shares a color; that color must
 * be free on every link of every lane of the multicast. Colors 0 and 1 stay inside regions. */
typedef void (*lane_fn)(size_t link, void *ud);

static void walk_lanes(const weft_program *p, int src, int dst, lane_fn fn, void *ud) {
    const weft_arch *a = &p->arch;
    weft_lane lanes[WEFT_MAX_LANES];
    int nl = weft_edge_lanes(p, src, dst, lanes);
    for (int l = 0; l < nl; l++) {
        int x = lanes[l].x0, y = lanes[l].y0;
        while (x != lanes[l].x1 || y != lanes[l].y1) {
            int dir = lanes[l].yx && y != lanes[l].y1 ? (y < lanes[l].y1 ? WEFT_DIR_SOUTH : WEFT_DIR_NORTH)
                      : x < lanes[l].x1 ? WEFT_DIR_EAST : x > lanes[l].x1 ? WEFT_DIR_WEST
                      : y < lanes[l].y1 ? WEFT_DIR_SOUTH : WEFT_DIR_NORTH;
            fn(((size_t)y * (size_t)a->width + (size_t)x) * 4 + (size_t)dir, ud);
            x += dir == WEFT_DIR_EAST ? 1 : dir == WEFT_DIR_WEST ? -1 : 0;
            y += dir == WEFT_DIR_SOUTH ? 1 : dir == WEFT_DIR_NORTH ? -1 : 0;
        }
    }
}

typedef struct { uint64_t *used, mask; int color; } color_walk;
static void gather_mask(size_t l, void *ud) { color_walk *w = ud; w->mask |= w->used[l]; }
static void take_color(size_t l, void *ud) { color_walk *w = ud; w->used[l] |= 1ull << w->color; }

/* Is edge (k, q) part of the multicast of source `src` (a kernel) or `src_value` (a graph input)? */
static bool of_source(const weft_kernel *k, int q, int src, int src_value) {
    return src >= 0 ? k->dep[q] == src : k->dep[q] < 0 && k->dep_value[q] == src_value;
}

static weft_status route(weft_program *p, weft_err *err) {
    const weft_arch *a = &p->arch;
    size_t links = (size_t)a->width * (size_t)a->height * 4;
    color_walk w = {weft_xcalloc(links, sizeof(uint64_t)), 0, 0};
    int limit = a->channels < 64 ? a->channels : 64;
    p->channels_used = RESERVED_CHANNELS < a->channels ? RESERVED_CHANNELS : a->channels;
    weft_status s = WEFT_OK;
    const weft_graph *g = p->graph;
    /* sources: every kernel, then every graph input */
    for (int src_i = 0; src_i < p->n + g->n_inputs && !s; src_i++) {
        int src = src_i < p->n ? src_i : -1, src_value = src_i < p->n ? -1 : g->inputs[src_i - p->n];
        w.mask = 0;
        bool any = false;
        for (int i = 0; i < p->n; i++)
            for (int q = 0; q < p->k[i].n_deps; q++)
                if (of_source(&p->k[i], q, src, src_value)) { walk_lanes(p, src, i, gather_mask, &w); any = true; }
        if (!any) continue;
        int c = RESERVED_CHANNELS;
        while (c < limit && (w.mask >> c & 1)) c++;
        if (c >= limit) {
            const char *what = src >= 0 ? g->nodes[p->k[src].node].name : g->vals[src_value].name;
            s = weft_err_set(err, WEFT_ERR_NOMEM,
                             "routing: the output of '%s' needs a channel on its routes and all %d of the machine's are taken there",
                             what, a->channels);
            break;
        }
        w.color = c;
        if (c + 1 > p->channels_used) p->channels_used = c + 1;
        for (int i = 0; i < p->n; i++)
            for (int q = 0; q < p->k[i].n_deps; q++)
                if (of_source(&p->k[i], q, src, src_value)) {
                    p->k[i].dep_channel[q] = c;
                    walk_lanes(p, src, i, take_color, &w);
                }
    }
    free(w.used);
    return s;
}

/* Chooses the stream: the tokens of an int64 (batch, seq) input, else the batch of the first
 * input; other inputs with the same extent on that axis stream too. */
static void choose_stream(weft_program *p, int max_blocks) {
    const weft_graph *g = p->graph;
    for (int i = 0; i < g->n_inputs && !p->stream_len; i++) {
        const weft_value *v = &g->vals[g->inputs[i]];
        if (v->shape.ndim == 2 && v->dtype == WEFT_I64) { p->stream_len = v->shape.d[1]; p->stream_axis[g->inputs[i]] = 1; }
    }
    for (int i = 0; i < g->n_inputs && !p->stream_len; i++) {
        const weft_value *v = &g->vals[g->inputs[i]];
        if (v->shape.ndim >= 1) { p->stream_len = v->shape.d[0]; p->stream_axis[g->inputs[i]] = 0; }
    }
    /* other inputs with the same leading extent stream too */
    for (int i = 0; i < g->n_inputs; i++) {
        const weft_value *v = &g->vals[g->inputs[i]];
        int ax = p->stream_axis[g->inputs[0]];
        if (p->stream_axis[g->inputs[i]] < 0 && ax >= 0 && ax < v->shape.ndim && v->shape.d[ax] == p->stream_len)
            p->stream_axis[g->inputs[i]] = ax;
    }
    int cap = max_blocks > 0 ? max_blocks : MAX_BLOCKS;
    p->blocks = (int)(p->stream_len < cap ? (p->stream_len > 0 ? p->stream_len : 1) : cap);
}

/* Folds what is known at compile time, then lowers every other node to a kernel or a view. */
static weft_status lower_all(weft_program *p, weft_err *err) {
    const weft_graph *g = p->graph;
    weft_status s = fold_constants(p, err);
    for (int i = 0; i < g->n_nodes && !s; i++) {
        const weft_node *n = &g->nodes[i];
        if (p->kernel_of_node[i] == WEFT_NODE_FOLDED && is_const(p, n->out[0])) continue;
        if (is_view(p, n)) {
            /* a view changes only how the rows are counted: its value lives where its input does */
            bool same[WEFT_MAX_IO];
            int ax = out_axis(p, n, same);
            if (ax >= 0 || sax(p, n->in[0]) < 0) {
                p->kernel_of_node[i] = WEFT_NODE_VIEW;
                p->kernel_of_value[n->out[0]] = p->kernel_of_value[n->in[0]];
                p->stream_axis[n->out[0]] = ax;
                continue;
            }
            /* a view that folds the stream axis into others needs its input whole: a kernel */
        }
        s = lower(p, i, &p->k[p->n], err);
        if (s) break;
        p->kernel_of_node[i] = p->n;
        for (int j = 0; j < n->n_out; j++) p->kernel_of_value[n->out[j]] = p->n;
        p->n++;
    }
    return s;
}

/* A parameter's optimizer update (weft.AdamW, weft.SGD) runs in the region that holds the
 * parameter (the GEMM whose weight it is, else the kernel that keeps it, such as a bias's add):
 * the update shares that region's tiles, and the region's SRAM plan gains the gradient and the
 * optimizer state (updated in place). */
static void attach_updates(weft_program *p) {
    const weft_graph *g = p->graph;
    for (int i = 0; i < p->n; i++) {
        weft_kernel *k = &p->k[i];
        const weft_node *n = &g->nodes[k->node];
        if (strcmp(n->op->name, "weft.AdamW") && strcmp(n->op->name, "weft.SGD")) continue;
        int param = n->in[0];
        /* the region that reads the parameter: a GEMM holding it as its weight first, else any
         * kernel that keeps it resident (a bias, a gain) */
        int host = -1;
        for (int pass = 0; pass < 2 && host < 0; pass++)
            for (int h = 0; h < p->n && host < 0; h++) {
                const weft_kernel *gk = &p->k[h];
                const weft_node *gn = &g->nodes[gk->node];
                if (gk->host >= 0 || h == i || !strncmp(gn->op->name, "weft.", 5)) continue;
                if (pass == 0 && gk->kind == WEFT_KERNEL_GEMM && gn->in[1] == param) host = h;
                for (int q = 0; pass == 1 && q < gn->n_in; q++)
                    if (gn->in[q] == param) host = h;
            }
        for (int h = host; h >= 0; h = -1) {
            k->host = h;
            /* the gradient and the state (M, V) stay in the host's tiles; P is already there */
            int64_t bytes = act_bytes(p, n->in[1]);
            for (int q = 2; q < (strcmp(n->op->name, "weft.AdamW") ? 3 : 4); q++) bytes += act_bytes(p, n->in[q]);
            p->k[h].attached_bytes += bytes;
            break;
        }
    }
}

/* Sizes every region (tiles in proportion to its time, at least what its SRAM plan needs) and
 * places them; fails naming the layer when the model does not fit. */
static weft_status size_and_place(weft_program *p, weft_err *err) {
    const weft_graph *g = p->graph;
    const weft_arch *a = &p->arch;
    weft_status s = WEFT_OK;
    int64_t total = (int64_t)a->width * a->height;
    int64_t *need = weft_xcalloc((size_t)p->n + 1, sizeof(int64_t)), *tiles = weft_xcalloc((size_t)p->n + 1, sizeof(int64_t));
    int64_t need_sum = 0;
    double work_sum = 0;
    for (int i = 0; i < p->n; i++) {
        if (p->k[i].host >= 0) { need[i] = 0; continue; }  /* in its host's region */
        need[i] = min_tiles(p, &p->k[i]);
        if (need[i] < 0) {
            const weft_kernel *k = &p->k[i];
            const weft_node *n = &g->nodes[k->node];
            s = weft_err_set(err, WEFT_ERR_NOMEM,
                             "model does not fit %s: layer '%s' (%s) needs %lld bytes of weights and buffers, more than the "
                             "whole mesh holds (%lld tiles x %.0f usable bytes); try a smaller batch or sequence, more chips, or weight "
                             "streaming mode",
                             a->name, n->name, n->op->name, (long long)sram_need(p, k, 1, 1, 1), (long long)total, tile_cap(p));
            break;
        }
        need_sum += need[i];
        work_sum += (double)(p->k[i].flops > 0 ? p->k[i].flops : 1);
    }
    if (!s && need_sum > total) {
        int worst = 0;
        for (int i = 1; i < p->n; i++)
            if (p->k[i].weight_bytes > p->k[worst].weight_bytes) worst = i;
        int64_t sram = a->kinds[a->pattern[0]].sram_bytes;
        const weft_node *n = &g->nodes[p->k[worst].node];
        s = weft_err_set(err, WEFT_ERR_NOMEM,
                         "model does not fit %s: its %d kernels need at least %lld tiles (%.3g GB of SRAM at %.0f%% use) and the "
                         "machine has %lld (%.3g GB); the largest layer is '%s' (%s) with %lld bytes of weights. Try fewer layers, "
                         "a smaller batch or sequence, more chips, or weight streaming mode",
                         a->name, p->n, (long long)need_sum, (double)need_sum * (double)sram * 1e-9, SRAM_USABLE * 100,
                         (long long)total, (double)total * (double)sram * 1e-9, n->name, n->op->name,
                         (long long)p->k[worst].weight_bytes);
    }
    /* Share the tiles out in proportion to each kernel's time, at least what SRAM needs; try
     * every strip thickness and orientation, keep the placement whose slowest stage is fastest;
     * then re-weight each kernel by the time it got and share again (a few rounds). */
    double *weight = weft_xcalloc((size_t)p->n + 1, sizeof(double));
    for (int i = 0; i < p->n; i++) weight[i] = p->k[i].host >= 0 ? 0 : (double)(p->k[i].flops > 0 ? p->k[i].flops : 1) / work_sum;
    uint64_t best = UINT64_MAX;
    int best_band = 0;
    bool best_shelves = false, best_grow = false;
    int64_t *best_tiles = weft_xcalloc((size_t)p->n + 1, sizeof(int64_t));
    for (int round = 0; round < 4 && !s; round++) {
        bool placed = false;
        /* fixed strips first; strips that grow for the regions that need it only when no share of
         * the tiles places them all at a fixed thickness */
        for (int pass = 0; pass < 2 && !placed; pass++) {
            for (double share = 0.9; !placed; share *= 0.9) {
                int64_t spare = (int64_t)((double)total * share) - need_sum;
                for (int i = 0; i < p->n; i++) tiles[i] = (int64_t)(weight[i] * (double)(spare > 0 ? spare : 0)) + need[i];
                for (int mode = 2 * pass; mode < 2 * pass + 2; mode++) {
                    bool shelves = mode & 1, grow = mode >> 1;
                    int room = shelves ? a->height : a->width;
                    for (int band = 1; band <= room; band = band < 4 ? band + 1 : band * 5 / 4) {
                        if (place(p, tiles, band, shelves, grow) != WEFT_OK) continue;
                        placed = true;
                        /* keep the placement whose slowest stage is fastest (the fill hardly depends on
                         * it, and the plan does not see the mesh distances the simulation pays) */
                        uint64_t slowest = 0;
                        for (int i = 0; i < p->n; i++) {
                            plan_costs(p, &p->k[i]);
                            uint64_t t = p->k[i].block_cycles * (uint64_t)p->k[i].blocks;
                            if (t > slowest) slowest = t;
                        }
                        if (slowest < best) {
                            best = slowest;
                            best_band = band;
                            best_shelves = shelves;
                            best_grow = grow;
                            memcpy(best_tiles, tiles, (size_t)p->n * sizeof *tiles);
                        }
                    }
                }
                if (!placed && (share < 1e-3 || spare <= 0)) break;
            }
        }
        if (!placed) {
            if (round == 0)
                s = weft_err_set(err, WEFT_ERR_NOMEM,
                                 "model does not fit %s: its %d regions (at least %lld tiles) cannot be placed on the %d x %d mesh; try "
                                 "fewer layers, a smaller batch, more chips, or weight streaming mode",
                                 a->name, p->n, (long long)need_sum, a->width, a->height);
            break;
        }
        /* re-weight by the time each kernel takes in the best placement so far */
        place(p, best_tiles, best_band, best_shelves, best_grow);
        double sum = 0;
        for (int i = 0; i < p->n; i++) {
            plan_costs(p, &p->k[i]);
            weight[i] = p->k[i].host >= 0 ? 0 : (double)best_tiles[i] * (double)(p->k[i].block_cycles * (uint64_t)p->k[i].blocks);
            sum += weight[i];
        }
        for (int i = 0; i < p->n; i++) weight[i] = sum > 0 ? weight[i] / sum : 1.0 / p->n;
    }
    if (!s) WEFT_ASSERT(place(p, best_tiles, best_band, best_shelves, best_grow) == WEFT_OK);
    free(weight);
    free(best_tiles);
    free(need);
    free(tiles);
    return s;
}

/* The plan's per-kernel figures: SRAM per tile, stage and latency, and the program's totals. */
static void finish_plan(weft_program *p) {
    for (int i = 0; i < p->n; i++) {
        weft_kernel *k = &p->k[i];
        if (k->host >= 0) { k->sram_per_tile = 0; continue; }  /* counted in its host's plan */
        int64_t t = (int64_t)k->w * k->h;
        k->sram_per_tile = sram_need(p, k, k->pk ? k->pk : 1, k->pn ? k->pn : 1, t);
        p->tiles_used += t;
        p->sram_total += k->sram_per_tile * t;
        if (k->sram_per_tile > p->sram_max) p->sram_max = k->sram_per_tile;
    }
    p->predicted_cycles = predict(p);
}

weft_status weft_compile(const weft_graph *g, const weft_arch *a, const weft_compile_opts *o, weft_program **out,
                         weft_err *err) {
    *out = NULL;
    weft_status s = weft_graph_verify(g, err);
    if (s) return s;
    weft_program *p = weft_xcalloc(1, sizeof *p);
    p->arch = *a;
    p->graph = g;
    p->kernel_of_node = weft_xcalloc((size_t)(g->n_nodes + 1), sizeof(int));
    p->folded = weft_xcalloc((size_t)g->n_vals, sizeof(weft_tensor));
    p->k = weft_xcalloc((size_t)(g->n_nodes + 1), sizeof(weft_kernel));
    p->kernel_of_value = weft_xmalloc((size_t)(g->n_vals + 1) * sizeof(int));
    p->stream_axis = weft_xmalloc((size_t)(g->n_vals + 1) * sizeof(int));
    for (int v = 0; v < g->n_vals; v++) p->kernel_of_value[v] = p->stream_axis[v] = -1;
    choose_stream(p, o ? o->max_blocks : 0);
    s = lower_all(p, err);
    if (!s) attach_updates(p);
    if (!s) s = size_and_place(p, err);
    if (!s) s = route(p, err);
    if (s) { weft_program_free(p); return s; }
    finish_plan(p);
    *out = p;
    return WEFT_OK;
}

void weft_program_print(const weft_program *p, FILE *f) {
    const weft_arch *a = &p->arch;
    static const char *kinds[] = {"gemm", "stream", "whole"};
    fprintf(f, "program: %d kernels on %s (%d x %d tiles)\n", p->n, a->name, a->width, a->height);
    fprintf(f, "  tiles used      %lld of %lld (%.1f%%)\n", (long long)p->tiles_used, (long long)a->width * a->height,
            100.0 * (double)p->tiles_used / ((double)a->width * a->height));
    fprintf(f, "  SRAM            max %lld B per tile (of %lld), %.4g MB in all\n", (long long)p->sram_max,
            (long long)a->kinds[a->pattern[0]].sram_bytes, (double)p->sram_total * 1e-6);
    fprintf(f, "  channels        %d of %d\n", p->channels_used, a->channels);
    /* samples: the first input's leading extent (the batch) */
    int64_t samples = p->graph->n_inputs && p->graph->vals[p->graph->inputs[0]].shape.ndim
                          ? p->graph->vals[p->graph->inputs[0]].shape.d[0] : 1;
    double pass_s = (double)p->predicted_cycles / a->clock_hz;
    fprintf(f, "  predicted       %llu cycles per pass = %.4g ms at %.3g GHz, %.4g ms per sample (the plan's estimate;\n"
               "                  `weft run` simulates it)\n",
            (unsigned long long)p->predicted_cycles, pass_s * 1e3, a->clock_hz * 1e-9, pass_s * 1e3 / (double)(samples > 0 ? samples : 1));
    fprintf(f, "\n  %-4s %-26s %-14s %-6s %-17s %-10s %8s %7s %10s\n", "#", "node", "op", "kind", "region", "grid", "SRAM/t", "blocks",
            "cyc/block");
    for (int i = 0; i < p->n; i++) {
        const weft_kernel *k = &p->k[i];
        const weft_node *n = &p->graph->nodes[k->node];
        char region[32], grid[24] = "";
        snprintf(region, sizeof region, "%dx%d @(%d,%d)", k->w, k->h, k->x0, k->y0);
        if (k->kind == WEFT_KERNEL_GEMM) snprintf(grid, sizeof grid, "%dx%d", k->pk, k->pn);
        fprintf(f, "  %-4d %-26.26s %-14.14s %-6s %-17s %-10s %8lld %7d %10llu\n", i, n->name, n->op->name, kinds[k->kind], region,
                grid, (long long)k->sram_per_tile, k->blocks, (unsigned long long)k->block_cycles);
    }
}

weft_status weft_program_compile(const weft_graph *g, const weft_arch *a, weft_program **out, weft_err *err) {
    weft_compile_opts o = {0};
    return weft_compile(g, a, &o, out, err);
}
