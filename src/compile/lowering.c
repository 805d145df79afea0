/* compile: the lowering rows, one per op that lowers other than by the default (passes.h).
 *
 * Reads: the node, its values' shapes and stream axes, the constants known at compile time.
 * Writes: nothing; the rules answer questions for lower.c. A new op needs no row here unless it
 * streams in a way its family's default does not tell, or lowers to a GEMM. */
#include "compile/passes.h"
#include "ir/ops_nn.h"

#include <string.h>

bool weft_compile_is_const(const weft_program *p, int v) { return v >= 0 && p->folded[v].data != NULL; }
int weft_compile_sax(const weft_program *p, int v) { return v >= 0 && !weft_compile_is_const(p, v) ? p->stream_axis[v] : -1; }
int weft_compile_norm_axis(int64_t a, int rank) { return (int)(a < 0 ? a + rank : a); }

#define is_const weft_compile_is_const
#define sax weft_compile_sax
#define norm_axis weft_compile_norm_axis

static const weft_shape *shape_of(const weft_program *p, int v) { return &p->graph->vals[v].shape; }
static int64_t cols_of(const weft_shape *s) { return s->ndim ? (s->d[s->ndim - 1] ? s->d[s->ndim - 1] : 1) : 1; }
static int64_t rows_of(const weft_shape *s) { return weft_shape_numel(s) / cols_of(s); }

/* ---- stream rules ----
 * Block b of a value covers stream indices [L b / blocks, L (b + 1) / blocks) of its stream axis.
 * A rule returns the output's stream axis and which inputs feed it block by block. */

/* Element-wise: inputs whose stream axis lines up with the output's (numpy broadcasting aligns
 * trailing axes) stream; `reduced` excludes outputs whose stream axis the op reduces over: an
 * axis >= 0, or -2 - a for "every axis from a on". */
static int stream_aligned(const weft_program *p, const weft_node *n, bool *same, int reduced) {
    const weft_shape *os = shape_of(p, n->out[0]);
    int ro = os->ndim, s = -1;
    for (int q = 0; q < n->n_in; q++) {
        int v = n->in[q], sq = sax(p, v);
        if (sq < 0) continue;
        const weft_shape *is = shape_of(p, v);
        int aligned = sq + (ro - is->ndim);
        if (aligned < 0 || is->d[sq] != os->d[aligned] || (s >= 0 && s != aligned)) continue;
        s = aligned;
        same[q] = true;
    }
    if (s >= 0 && ((reduced >= 0 && s == reduced) || (reduced <= -2 && s >= -2 - reduced))) s = -1;
    if (s < 0)
        for (int q = 0; q < n->n_in; q++) same[q] = false;
    return s;
}

static int stream_elementwise(const weft_program *p, const weft_node *n, bool *same) { return stream_aligned(p, n, same, -1); }

static int rank_out(const weft_program *p, const weft_node *n) { return shape_of(p, n->out[0])->ndim; }

static int stream_softmax(const weft_program *p, const weft_node *n, bool *same) {
    int ax = norm_axis(weft_attr_i(n, "axis", n->opset >= 13 ? -1 : 1), rank_out(p, n));
    return stream_aligned(p, n, same, n->opset >= 13 ? ax : -2 - ax);  /* before opset 13: axes >= ax */
}
static int stream_softmax_grad(const weft_program *p, const weft_node *n, bool *same) {
    int ax = norm_axis(weft_attr_i(n, "axis", -1), rank_out(p, n));
    return stream_aligned(p, n, same, weft_attr_i(n, "legacy", 0) ? -2 - ax : ax);  /* legacy: the pre-13 axes >= ax */
}
static int stream_class_axis(const weft_program *p, const weft_node *n, bool *same) {
    return stream_aligned(p, n, same, 1);  /* the class axis of (N, C, ...) */
}
static int stream_layernorm(const weft_program *p, const weft_node *n, bool *same) {
    return stream_aligned(p, n, same, -2 - norm_axis(weft_attr_i(n, "axis", -1), rank_out(p, n)));
}

/* The gradient of a Slice that kept the stream axis: dY scattered into zeros of X's shape. */
static int stream_slice_grad(const weft_program *p, const weft_node *n, bool *same) {
    int sd = sax(p, n->in[1]);
    const weft_shape *xs = shape_of(p, n->in[0]);
    if (sd < 0 || xs->ndim != rank_out(p, n) || shape_of(p, n->in[1])->d[sd] != xs->d[sd]) return -1;
    same[1] = true;
    same[0] = sax(p, n->in[0]) == sd;
    return sd;
}

static int stream_transpose(const weft_program *p, const weft_node *n, bool *same) {
    int s0 = sax(p, n->in[0]), ro = rank_out(p, n), len;
    if (s0 < 0) return -1;
    const int64_t *perm = weft_attr_ints(n, "perm", &len);
    for (int j = 0; j < ro; j++)
        if ((perm ? perm[j] : ro - 1 - j) == s0) { same[0] = true; return j; }
    return -1;
}

/* Reshape and its kin: the axis survives where the dims before it multiply to the same count
 * and it keeps its size. */
static int stream_reshape(const weft_program *p, const weft_node *n, bool *same) {
    int s0 = sax(p, n->in[0]);
    if (s0 < 0) return -1;
    const weft_shape *is = shape_of(p, n->in[0]), *os = shape_of(p, n->out[0]);
    int64_t before = 1, acc = 1;
    for (int d = 0; d < s0; d++) before *= is->d[d];
    for (int j = 0; j < os->ndim; j++) {
        if (acc == before && os->d[j] == is->d[s0]) { same[0] = true; return j; }
        acc *= os->d[j];
    }
    return -1;
}

int weft_lowering_merge_samples(const weft_program *p, const weft_node *n, int *sample) {
    int v = n->in[0], s0 = sax(p, v), m0 = s0 >= 0 ? p->sample_axis[v] : -1;
    *sample = -1;
    if (s0 < 0 || m0 < 0) return -1;
    const weft_shape *is = shape_of(p, v), *os = shape_of(p, n->out[0]);
    int64_t B = p->samples, T = p->stream_len, before = 1, acc = 1;
    for (int d = 0; d < (m0 < s0 ? m0 : s0); d++) before *= is->d[d];
    if (m0 < s0) {  /* merge */
        if (is->d[m0] != B || is->d[s0] != T) return -1;
        for (int d = m0 + 1; d < s0; d++)
            if (is->d[d] != 1) return -1;
        for (int j = 0; j < os->ndim; acc *= os->d[j], j++)
            if (acc == before && os->d[j] == B * T) return *sample = j;
        return -1;
    }
    if (m0 > s0 || is->d[s0] != B * T) return -1;
    for (int j = 0; j < os->ndim; acc *= os->d[j], j++) {  /* split */
        if (acc != before || os->d[j] != B) continue;
        int t = j + 1;
        while (t < os->ndim && os->d[t] == 1 && T != 1) t++;
        if (t < os->ndim && os->d[t] == T) { *sample = j; return t; }
    }
    return -1;
}

/* Slicing other axes only: the starts, ends, axes and steps are constants. */
static int stream_slice(const weft_program *p, const weft_node *n, bool *same) {
    int s0 = sax(p, n->in[0]);
    if (s0 < 0) return -1;
    const weft_shape *is = shape_of(p, n->in[0]), *os = shape_of(p, n->out[0]);
    int ri = is->ndim;
    bool have_axes = n->n_in > 3 && n->in[3] >= 0 && is_const(p, n->in[3]);
    if (n->n_in > 3 && n->in[3] >= 0 && !have_axes) return -1;
    int na = have_axes ? (int)weft_tensor_numel(&p->folded[n->in[3]]) : ri;
    for (int q = 0; q < na; q++) {
        int ax = have_axes ? norm_axis(weft_tensor_get_i(&p->folded[n->in[3]], q), ri) : q;
        if (ax == s0 && os->d[s0] != is->d[s0]) return -1;
    }
    same[0] = true;
    return s0;
}

static int stream_gather(const weft_program *p, const weft_node *n, bool *same) {
    int s0 = sax(p, n->in[0]), ri = shape_of(p, n->in[0])->ndim;
    int ax = norm_axis(weft_attr_i(n, "axis", 0), ri);
    if (s0 < 0) {
        /* from a weight table (an embedding): the indices carry the axis */
        if (sax(p, n->in[1]) < 0) return -1;
        same[1] = true;
        return ax + sax(p, n->in[1]);
    }
    if (ax == s0 || sax(p, n->in[1]) >= 0) return -1;
    same[0] = true;
    return s0 < ax ? s0 : s0 + shape_of(p, n->in[1])->ndim - 1;
}

/* Concat and Split along another axis. */
static int stream_concat(const weft_program *p, const weft_node *n, bool *same) {
    int s0 = sax(p, n->in[0]);
    if (s0 < 0 || norm_axis(weft_attr_i(n, "axis", 0), shape_of(p, n->in[0])->ndim) == s0) return -1;
    for (int q = 0; q < n->n_in; q++) same[q] = sax(p, n->in[q]) == s0;
    return s0;
}

/* A (..., M, K) streams on a batch or row axis; B is needed whole unless it streams on the same
 * batch axis. */
static int stream_matmul(const weft_program *p, const weft_node *n, bool *same) {
    int s0 = sax(p, n->in[0]), ri = shape_of(p, n->in[0])->ndim, ro = rank_out(p, n);
    if (s0 < 0 || ri < 2 || s0 == ri - 1) return -1;
    int s = s0 + (ro - ri);
    same[0] = true;
    const weft_shape *bs = shape_of(p, n->in[1]);
    int sb = sax(p, n->in[1]);
    if (sb >= 0 && sb < bs->ndim - 2 && sb + (ro - bs->ndim) == s) same[1] = true;
    return s;
}

/* Batch-wise ops (convolutions, pooling, normalizations over a sample): the stream is the batch. */
static int stream_batch(const weft_program *p, const weft_node *n, bool *same) {
    if (sax(p, n->in[0]) != 0) return -1;
    same[0] = true;
    return 0;
}

/* A pooling's gradient (X, dY): sample b's dX needs sample b of both. */
static int stream_batch_grad(const weft_program *p, const weft_node *n, bool *same) {
    if (sax(p, n->in[0]) != 0) return -1;
    for (int q = 0; q < n->n_in; q++) same[q] = n->in[q] >= 0 && sax(p, n->in[q]) == 0;
    return 0;
}

/* A convolution's input gradient (X, W, dY): sample b's dX needs sample b's dY (and X, for its
 * geometry, where it streams). */
static int stream_conv_grad_input(const weft_program *p, const weft_node *n, bool *same) {
    if (n->n_in < 3 || sax(p, n->in[2]) != 0) return -1;
    same[2] = true;
    same[0] = sax(p, n->in[0]) == 0;
    return 0;
}

/* ---- GEMM with a resident operand ---- */

static bool gemm_matmul(const weft_program *p, const weft_node *n, weft_kernel *k) {
    if (!is_const(p, n->in[1]) || is_const(p, n->in[0]) || shape_of(p, n->in[1])->ndim != 2 || shape_of(p, n->in[0])->ndim < 2)
        return false;
    const weft_tensor *W = &p->folded[n->in[1]];
    k->K = W->shape.d[0];
    k->N = W->shape.d[1];
    k->M = rows_of(shape_of(p, n->in[0]));
    return true;
}

static bool gemm_gemm(const weft_program *p, const weft_node *n, weft_kernel *k) {
    if (!is_const(p, n->in[1]) || is_const(p, n->in[0]) || weft_attr_i(n, "transA", 0) ||
        (n->n_in > 2 && n->in[2] >= 0 && !is_const(p, n->in[2])))
        return false;
    const weft_tensor *W = &p->folded[n->in[1]];
    k->trans_b = weft_attr_i(n, "transB", 0) != 0;
    k->alpha = weft_attr_f(n, "alpha", 1.0f);
    k->K = k->trans_b ? W->shape.d[1] : W->shape.d[0];
    k->N = k->trans_b ? W->shape.d[0] : W->shape.d[1];
    k->M = rows_of(shape_of(p, n->in[0]));
    return true;
}

/* Y rows (N prod(out), M) = patches (N prod(out), C prod(k)) . W^T (C prod(k), M) */
static bool gemm_conv(const weft_program *p, const weft_node *n, weft_kernel *k) {
    weft_err err;
    int64_t group = 0;
    if (!is_const(p, n->in[1]) || is_const(p, n->in[0]) || (n->n_in > 2 && n->in[2] >= 0 && !is_const(p, n->in[2])) ||
        weft_conv_window(p->graph, n, &k->win, &group, &err) || group != 1)
        return false;
    const weft_tensor *W = &p->folded[n->in[1]];
    k->conv = true;
    k->trans_b = true;
    k->N = W->shape.d[0];
    k->K = weft_tensor_numel(W) / k->N;
    k->M = shape_of(p, n->in[0])->d[0] * weft_window_out_numel(&k->win);
    return true;
}

/* ---- sums over the stream, taken block by block ---- */

/* A weight's gradient X^T dY: both operands carry the stream on the contracted axis. */
static bool accumulates_matmul(const weft_program *p, const weft_node *n, bool *same) {
    if (n->n_in != 2) return false;
    int sa = sax(p, n->in[0]), sb = sax(p, n->in[1]);
    int ra = shape_of(p, n->in[0])->ndim, rb = shape_of(p, n->in[1])->ndim;
    if (ra < 2 || rb < 2 || sa != ra - 1 || sb != rb - 2) return false;
    same[0] = same[1] = true;
    return true;
}

/* A loss reduced to its mean or sum over rows that stream: summed block by block. */
static bool accumulates_loss(const weft_program *p, const weft_node *n, bool *same) {
    if (n->n_out != 1 || !strcmp(weft_attr_s(n, "reduction", "mean"), "none") || sax(p, n->in[0]) != 0) return false;
    for (int q = 0; q < n->n_in; q++) same[q] = sax(p, n->in[q]) == 0;
    return true;
}

/* Gemm(A, B, transA): a weight's gradient dY^T X, both operands streaming on the contracted rows. */
static bool accumulates_gemm(const weft_program *p, const weft_node *n, bool *same) {
    if (!weft_attr_i(n, "transA", 0) || sax(p, n->in[0]) != 0 || sax(p, n->in[1]) != (weft_attr_i(n, "transB", 0) ? 1 : 0) ||
        (n->n_in > 2 && n->in[2] >= 0 && !is_const(p, n->in[2])))
        return false;
    same[0] = same[1] = true;
    return true;
}

/* A convolution's weight gradient (X, W, dY): a sum over the batch of each sample's X and dY. */
static bool accumulates_conv_grad_weight(const weft_program *p, const weft_node *n, bool *same) {
    if (n->n_in < 3 || sax(p, n->in[0]) != 0 || sax(p, n->in[2]) != 0) return false;
    same[0] = same[2] = true;
    return true;
}

static bool accumulates_reduce_sum(const weft_program *p, const weft_node *n, bool *same) {
    int s0 = sax(p, n->in[0]), r = shape_of(p, n->in[0])->ndim;
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
    return false;
}

/* ---- causal attention ----
 * The keys and values of attention are needed whole, unless the scores are masked causally:
 * then query block b only ever uses keys and values of blocks 0..b, and the kernels computing
 * the scores and the weighted sum wait only for that prefix. The rule recognises the mask the
 * way a model writes it: scores -> [scale by a constant] -> Where(constant mask, scores,
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

static bool op_is(const weft_node *n, const char *name) { return !strcmp(n->op->name, name); }

/* Is node i a causal mask applied to value v: Where(mask, v, -inf), Where(~mask, -inf, v) or
 * Add(v, mask)? */
static bool is_causal_masking(const weft_program *p, int i, int v) {
    const weft_node *n = &p->graph->nodes[i];
    if (op_is(n, "Where")) {
        if (n->in[1] == v && very_negative(p, n->in[2])) return causal_mask(p, n->in[0], MASK_KEEP_TRUE);
        if (n->in[2] == v && very_negative(p, n->in[1])) return causal_mask(p, n->in[0], MASK_KEEP_FALSE);
        return false;
    }
    if (op_is(n, "Add") && (n->in[0] == v || n->in[1] == v))
        return causal_mask(p, n->in[0] == v ? n->in[1] : n->in[0], MASK_ADDITIVE);
    return false;
}

static bool softmax_over_last(const weft_program *p, const weft_node *n) {
    if (!op_is(n, "Softmax")) return false;
    int rank = shape_of(p, n->out[0])->ndim;
    return norm_axis(weft_attr_i(n, "axis", n->opset >= 13 ? -1 : 1), rank) == rank - 1;
}

/* The scores MatMul of causal attention: its output reaches a causal mask (through an optional
 * scaling by a constant), then a softmax over the keys. */
static bool causal_scores(const weft_program *p, const weft_node *n) {
    const weft_graph *g = p->graph;
    int v = n->out[0];
    int u = sole_user(p, v);
    if (u < 0) return false;
    const weft_node *un = &g->nodes[u];
    if ((op_is(un, "Mul") || op_is(un, "Div")) && is_const(p, un->in[1])) {
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

static bool prefix_attention(const weft_program *p, const weft_node *n, int q) {
    return q == 1 && (causal_scores(p, n) || causal_context(p, n));
}

/* ---- the rows ---- */

static const weft_lowering rows[] = {
    /* views: no region, the data stays in its input's */
    {.op = "Reshape", .view = true, .stream = stream_reshape},
    {.op = "Flatten", .view = true, .stream = stream_reshape},
    {.op = "Squeeze", .view = true, .stream = stream_reshape},
    {.op = "Unsqueeze", .view = true, .stream = stream_reshape},
    {.op = "Identity", .view = true, .stream = stream_reshape},
    /* row-wise: normalizations over other axes, and their gradients */
    {.op = "Softmax", .stream = stream_softmax, .row_reductions = 2},
    {.op = "LogSoftmax", .stream = stream_softmax, .row_reductions = 2},
    {.op = "LayerNormalization", .stream = stream_layernorm, .row_reductions = 2},
    {.op = "weft.LayerNormGrad", .stream = stream_layernorm, .row_reductions = 2},
    {.op = "weft.SoftmaxGrad", .stream = stream_softmax_grad, .row_reductions = 1},
    {.op = "weft.LogSoftmaxGrad", .stream = stream_softmax_grad, .row_reductions = 1},
    {.op = "SoftmaxCrossEntropyLoss", .accumulates = accumulates_loss, .row_reductions = 2},
    {.op = "NegativeLogLikelihoodLoss", .accumulates = accumulates_loss},
    {.op = "weft.SoftmaxCrossEntropyLossGrad", .stream = stream_class_axis, .row_reductions = 2},
    {.op = "weft.NegativeLogLikelihoodLossGrad", .stream = stream_class_axis},
    {.op = "weft.SliceGrad", .stream = stream_slice_grad},
    /* data movement */
    {.op = "Transpose", .stream = stream_transpose},
    {.op = "Slice", .stream = stream_slice},
    {.op = "Gather", .stream = stream_gather},
    {.op = "Concat", .stream = stream_concat},
    {.op = "Split", .stream = stream_concat},
    /* GEMMs and the other matmuls */
    {.op = "MatMul", .stream = stream_matmul, .gemm = gemm_matmul, .accumulates = accumulates_matmul, .prefix = prefix_attention},
    {.op = "Gemm", .stream = stream_batch, .gemm = gemm_gemm, .accumulates = accumulates_gemm},
    {.op = "Conv", .stream = stream_batch, .gemm = gemm_conv},
    {.op = "ReduceSum", .accumulates = accumulates_reduce_sum},
    /* batch-wise */
    {.op = "ConvTranspose", .stream = stream_batch},
    {.op = "weft.ConvGradInput", .stream = stream_conv_grad_input},
    {.op = "weft.MaxPoolGrad", .stream = stream_batch_grad},
    {.op = "weft.AveragePoolGrad", .stream = stream_batch_grad},
    {.op = "weft.ConvGradWeight", .accumulates = accumulates_conv_grad_weight},
    {.op = "MaxPool", .stream = stream_batch},
    {.op = "AveragePool", .stream = stream_batch},
    {.op = "GlobalAveragePool", .stream = stream_batch},
    {.op = "GlobalMaxPool", .stream = stream_batch},
    {.op = "BatchNormalization", .stream = stream_batch},
    {.op = "InstanceNormalization", .stream = stream_batch},
    /* the optimizer's update, in its parameter's region */
    {.op = "weft.AdamW", .update_state = 4},
    {.op = "weft.SGD", .update_state = 3},
    {.op = "weft.SumSq", .beside_update = true},
};

#define N_ROWS ((int)(sizeof rows / sizeof *rows))

static const weft_lowering default_elementwise = {.op = "(element-wise)", .stream = stream_elementwise};
static const weft_lowering default_whole = {.op = "(whole)"};

void weft_lowering_check(void) {
    for (int i = 0; i < N_ROWS; i++) {
        WEFT_ASSERT(weft_op_find(rows[i].op) != NULL);
        for (int j = 0; j < i; j++) WEFT_ASSERT(strcmp(rows[i].op, rows[j].op) != 0);
    }
}

const weft_lowering *weft_lowering_of(const weft_op_def *op) {
    for (int i = 0; i < N_ROWS; i++)
        if (!strcmp(rows[i].op, op->name)) return &rows[i];
    return weft_op_in_family(op, weft_ops_elementwise) ? &default_elementwise : &default_whole;
}
