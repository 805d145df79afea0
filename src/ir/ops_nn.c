/* ir: nn ops: MatMul, Gemm, Conv, ConvTranspose, pooling, normalization, the softmax family,
 * Einsum and the two classification losses. ONNX semantics, opsets 7-18; the numeric kernels are
 * in kernels/nn.c and kernels/gemm.c, so these rows only check shapes and attributes, lay out
 * buffers and count costs. */
#include "ir/ir.h"
#include "ir/ops_nn.h"
#include "grad/grad.h"
#include "kernels/nn.h"

#include <math.h>
#include <string.h>

/* ---- helpers ---- */

#define NODE_ERR(c, s, ...) weft_node_err(c, s, __VA_ARGS__)

static bool has_in(const weft_op_ctx *c, int i) { return i < c->n_in && c->in[i]; }

static int64_t numel(const weft_tensor *t) { return weft_shape_numel(&t->shape); }

static weft_status need_float(weft_op_ctx *c, int i, const char *what) {
    if (!weft_dtype_is_float(c->in[i]->dtype))
        return NODE_ERR(c, WEFT_ERR_UNSUPPORTED, "%s is %s; this op takes floating tensors", what,
                        weft_dtype_name(c->in[i]->dtype));
    return WEFT_OK;
}

static weft_status same_dtype(weft_op_ctx *c, int i, int j) {
    if (has_in(c, i) && has_in(c, j) && c->in[i]->dtype != c->in[j]->dtype)
        return NODE_ERR(c, WEFT_ERR_SHAPE, "input %d is %s but input %d is %s", i, weft_dtype_name(c->in[i]->dtype),
                        j, weft_dtype_name(c->in[j]->dtype));
    return WEFT_OK;
}

static weft_status need_rank(weft_op_ctx *c, int i, int lo, int hi, const char *what) {
    int r = c->in[i]->shape.ndim;
    if (r < lo || r > hi) {
        char b[160];
        if (lo == hi)
            return NODE_ERR(c, WEFT_ERR_SHAPE, "%s must have rank %d, got shape %s", what, lo,
                            weft_shape_str(&c->in[i]->shape, b, sizeof b));
        return NODE_ERR(c, WEFT_ERR_SHAPE, "%s must have rank %d to %d, got shape %s", what, lo, hi,
                        weft_shape_str(&c->in[i]->shape, b, sizeof b));
    }
    return WEFT_OK;
}

/* Input i must be the vector (n). */
static weft_status need_vec(weft_op_ctx *c, int i, int64_t n, const char *what) {
    const weft_shape *s = &c->in[i]->shape;
    if (s->ndim != 1 || s->d[0] != n) {
        char b[160];
        return NODE_ERR(c, WEFT_ERR_SHAPE, "%s must have shape (%lld), got %s", what, (long long)n,
                        weft_shape_str(s, b, sizeof b));
    }
    return WEFT_OK;
}

#define TRY(x)                          \
    do {                                \
        weft_status s_ = (x);           \
        if (s_) return s_;              \
    } while (0)

static weft_reduction reduction_of(const weft_node *n, bool *ok) {
    const char *r = weft_attr_s(n, "reduction", "mean");
    *ok = true;
    if (!strcmp(r, "none")) return WEFT_REDUCE_NONE;
    if (!strcmp(r, "sum")) return WEFT_REDUCE_SUM;
    if (!strcmp(r, "mean")) return WEFT_REDUCE_MEAN;
    *ok = false;
    return WEFT_REDUCE_MEAN;
}

/* Scratch float buffer of n elements, size-checked (caller frees with weft_tensor_free). */
static weft_status scratch(weft_op_ctx *c, weft_tensor *t, int64_t n) {
    weft_status s = weft_tensor_alloc(t, WEFT_F32, weft_shape_make(1, &n), c->err);
    if (s) return weft_err_prefix(c->err, "node '%s' (%s): workspace", c->node->name, c->node->op->name);
    return WEFT_OK;
}

/* Bytes of every present input and output at storage width. */
static int64_t io_bytes(const weft_op_ctx *c) {
    int64_t b = 0;
    for (int i = 0; i < c->n_in; i++)
        if (c->in[i]) b += numel(c->in[i]) * (int64_t)weft_dtype_size(c->in[i]->dtype);
    for (int j = 0; j < c->n_out; j++) b += weft_shape_numel(&c->out[j].shape) * (int64_t)weft_dtype_size(c->out[j].dtype);
    return b;
}

/* ---- MatMul (numpy semantics) ---- */

typedef struct {
    int64_t M, N, K, batch;
    weft_shape bshape, abatch, bbatch; /* broadcast batch shape; each operand's batch dims */
} mm_geom;

static weft_status mm_shape(weft_op_ctx *c, mm_geom *g, weft_shape *out) {
    const weft_shape *a = &c->in[0]->shape, *b = &c->in[1]->shape;
    char x[160], y[160];
    if (a->ndim < 1 || b->ndim < 1)
        return NODE_ERR(c, WEFT_ERR_SHAPE, "MatMul of a scalar: shapes %s and %s", weft_shape_str(a, x, sizeof x),
                        weft_shape_str(b, y, sizeof y));
    int64_t ak = a->d[a->ndim - 1], bk = b->ndim == 1 ? b->d[0] : b->d[b->ndim - 2];
    if (ak != bk)
        return NODE_ERR(c, WEFT_ERR_SHAPE, "inner dimensions differ: %s times %s", weft_shape_str(a, x, sizeof x),
                        weft_shape_str(b, y, sizeof y));
    g->K = ak;
    g->M = a->ndim == 1 ? 1 : a->d[a->ndim - 2];
    g->N = b->ndim == 1 ? 1 : b->d[b->ndim - 1];
    g->abatch = (weft_shape){.ndim = a->ndim > 2 ? a->ndim - 2 : 0};
    g->bbatch = (weft_shape){.ndim = b->ndim > 2 ? b->ndim - 2 : 0};
    for (int i = 0; i < g->abatch.ndim; i++) g->abatch.d[i] = a->d[i];
    for (int i = 0; i < g->bbatch.ndim; i++) g->bbatch.d[i] = b->d[i];
    if (weft_shape_broadcast(&g->abatch, &g->bbatch, &g->bshape, c->err))
        return weft_err_prefix(c->err, "node '%s' (%s): batch dimensions of %s and %s", c->node->name,
                               c->node->op->name, weft_shape_str(a, x, sizeof x), weft_shape_str(b, y, sizeof y));
    g->batch = weft_shape_numel(&g->bshape);
    *out = g->bshape;
    if (a->ndim > 1) out->d[out->ndim++] = g->M;
    if (b->ndim > 1) out->d[out->ndim++] = g->N;
    if (out->ndim > WEFT_MAX_DIMS) return NODE_ERR(c, WEFT_ERR_UNSUPPORTED, "rank above %d", WEFT_MAX_DIMS);
    return WEFT_OK;
}

static weft_status infer_matmul(weft_op_ctx *c) {
    TRY(same_dtype(c, 0, 1));
    if (c->in[0]->dtype == WEFT_BOOL) return NODE_ERR(c, WEFT_ERR_UNSUPPORTED, "bool inputs");
    mm_geom g;
    TRY(mm_shape(c, &g, &c->out[0].shape));
    c->out[0].dtype = c->in[0]->dtype;
    return WEFT_OK;
}

static weft_status eval_matmul(weft_op_ctx *c) {
    mm_geom g;
    weft_shape os;
    TRY(mm_shape(c, &g, &os));
    weft_bcast3 it;
    weft_bcast3_init(&it, &g.bshape, &g.abatch, &g.bbatch, NULL);
    for (int64_t bi = 0; bi < g.batch; bi++) {
        int64_t oa, ob, oc;
        weft_bcast3_offsets(&it, bi, &oa, &ob, &oc);
        if (c->out[0].dtype == WEFT_F32) {
            const float *A = (const float *)c->in[0]->data + oa * g.M * g.K;
            const float *B = (const float *)c->in[1]->data + ob * g.K * g.N;
            float *Y = (float *)c->out[0].data + bi * g.M * g.N;
            weft_gemm(false, false, g.M, g.N, g.K, 1.0f, A, g.K, B, g.N, 0.0f, Y, g.N);
        } else {
            const int64_t *A = (const int64_t *)c->in[0]->data + oa * g.M * g.K;
            const int64_t *B = (const int64_t *)c->in[1]->data + ob * g.K * g.N;
            int64_t *Y = (int64_t *)c->out[0].data + bi * g.M * g.N;
            for (int64_t i = 0; i < g.M; i++)
                for (int64_t k = 0; k < g.K; k++) {
                    uint64_t a = (uint64_t)A[i * g.K + k];
                    for (int64_t j = 0; j < g.N; j++)
                        Y[i * g.N + j] = (int64_t)((uint64_t)Y[i * g.N + j] + a * (uint64_t)B[k * g.N + j]);
                }
        }
    }
    return WEFT_OK;
}

static weft_cost cost_matmul(const weft_op_ctx *c) {
    mm_geom g;
    weft_shape os;
    weft_err e = {0};
    weft_op_ctx cc = *c;
    cc.err = &e;
    weft_cost k = {0};
    if (mm_shape(&cc, &g, &os)) return k;
    k.flops = 2 * g.batch * g.M * g.N * g.K;
    k.bytes = io_bytes(c);
    return k;
}

/* ---- Gemm: Y = alpha op(A) op(B) + beta C ---- */

static weft_status gemm_dims(weft_op_ctx *c, int64_t *M, int64_t *N, int64_t *K) {
    TRY(need_rank(c, 0, 2, 2, "A"));
    TRY(need_rank(c, 1, 2, 2, "B"));
    bool ta = weft_attr_i(c->node, "transA", 0), tb = weft_attr_i(c->node, "transB", 0);
    const weft_shape *a = &c->in[0]->shape, *b = &c->in[1]->shape;
    *M = ta ? a->d[1] : a->d[0];
    *K = ta ? a->d[0] : a->d[1];
    int64_t kb = tb ? b->d[1] : b->d[0];
    *N = tb ? b->d[0] : b->d[1];
    if (*K != kb) {
        char x[160], y[160];
        return NODE_ERR(c, WEFT_ERR_SHAPE, "inner dimensions differ: A %s%s, B %s%s", weft_shape_str(a, x, sizeof x),
                        ta ? " transposed" : "", weft_shape_str(b, y, sizeof y), tb ? " transposed" : "");
    }
    return WEFT_OK;
}

static weft_status infer_gemm(weft_op_ctx *c) {
    TRY(same_dtype(c, 0, 1));
    TRY(same_dtype(c, 0, 2));
    if (c->in[0]->dtype == WEFT_BOOL) return NODE_ERR(c, WEFT_ERR_UNSUPPORTED, "bool inputs");
    int64_t M, N, K;
    TRY(gemm_dims(c, &M, &N, &K));
    weft_shape y = weft_shape_make(2, (int64_t[]){M, N}), u;
    if (has_in(c, 2)) {
        /* C broadcasts unidirectionally to (M, N) */
        const weft_shape *cs = &c->in[2]->shape;
        weft_err e = {0};
        if (cs->ndim > 2 || weft_shape_broadcast(cs, &y, &u, &e) || !weft_shape_eq(&u, &y)) {
            char b1[160], b2[160];
            return NODE_ERR(c, WEFT_ERR_SHAPE, "C of shape %s does not broadcast to (M, N) = %s",
                            weft_shape_str(cs, b1, sizeof b1), weft_shape_str(&y, b2, sizeof b2));
        }
    } else if (c->node->opset < 11) {
        return NODE_ERR(c, WEFT_ERR_INVALID, "input C is required before opset 11");
    }
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = y;
    return WEFT_OK;
}

static weft_status eval_gemm(weft_op_ctx *c) {
    int64_t M, N, K;
    TRY(gemm_dims(c, &M, &N, &K));
    bool ta = weft_attr_i(c->node, "transA", 0), tb = weft_attr_i(c->node, "transB", 0);
    float alpha = weft_attr_f(c->node, "alpha", 1.0f), beta = weft_attr_f(c->node, "beta", 1.0f);
    bool bias = has_in(c, 2) && beta != 0;
    int64_t cst[2] = {0, 0};
    if (has_in(c, 2)) weft_bcast_strides(&c->in[2]->shape, &c->out[0].shape, cst);
    if (c->out[0].dtype == WEFT_F32) {
        float *Y = c->out[0].data;
        const float *C = has_in(c, 2) ? c->in[2]->data : NULL;
        if (bias)
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) Y[i * N + j] = C[i * cst[0] + j * cst[1]];
        weft_gemm(ta, tb, M, N, K, alpha, c->in[0]->data, ta ? M : K, c->in[1]->data, tb ? K : N, bias ? beta : 0.0f,
                  Y, N);
        return WEFT_OK;
    }
    const int64_t *A = c->in[0]->data, *B = c->in[1]->data, *C = has_in(c, 2) ? c->in[2]->data : NULL;
    int64_t *Y = c->out[0].data;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            int64_t acc = 0;
            for (int64_t k = 0; k < K; k++)
                acc += (ta ? A[k * M + i] : A[i * K + k]) * (tb ? B[j * K + k] : B[k * N + j]);
            double v = (double)alpha * (double)acc + (bias ? (double)beta * (double)C[i * cst[0] + j * cst[1]] : 0.0);
            Y[i * N + j] = (int64_t)v;
        }
    return WEFT_OK;
}

static weft_cost cost_gemm(const weft_op_ctx *c) {
    weft_cost k = {0};
    const weft_shape *a = &c->in[0]->shape, *y = &c->out[0].shape;
    if (a->ndim != 2 || y->ndim != 2) return k;
    int64_t K = weft_attr_i(c->node, "transA", 0) ? a->d[0] : a->d[1];
    k.flops = 2 * y->d[0] * y->d[1] * K + (has_in(c, 2) ? 2 * y->d[0] * y->d[1] : 0);
    k.bytes = io_bytes(c);
    return k;
}

/* ---- windows: kernel_shape, strides, dilations, pads, auto_pad, ceil_mode ---- */

typedef enum { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID } auto_pad;

static weft_status read_auto_pad(weft_op_ctx *c, auto_pad *ap) {
    const char *s = weft_attr_s(c->node, "auto_pad", "NOTSET");
    if (!*s || !strcmp(s, "NOTSET")) *ap = PAD_NOTSET;
    else if (!strcmp(s, "SAME_UPPER")) *ap = PAD_SAME_UPPER;
    else if (!strcmp(s, "SAME_LOWER")) *ap = PAD_SAME_LOWER;
    else if (!strcmp(s, "VALID")) *ap = PAD_VALID;
    else return NODE_ERR(c, WEFT_ERR_INVALID, "auto_pad '%s' (expected NOTSET, SAME_UPPER, SAME_LOWER or VALID)", s);
    return WEFT_OK;
}

/* Reads an ints attribute of exactly n entries (default dflt for each), each >= lo. */
static weft_status read_ints(weft_op_ctx *c, const char *name, int n, int64_t dflt, int64_t lo, int64_t *out) {
    int len;
    const int64_t *v = weft_attr_ints(c->node, name, &len);
    if (!v) {
        for (int i = 0; i < n; i++) out[i] = dflt;
        return WEFT_OK;
    }
    if (len != n) return NODE_ERR(c, WEFT_ERR_INVALID, "'%s' has %d entries, expected %d", name, len, n);
    for (int i = 0; i < n; i++) {
        if (v[i] < lo) return NODE_ERR(c, WEFT_ERR_INVALID, "'%s'[%d] is %lld, must be at least %lld", name, i,
                                       (long long)v[i], (long long)lo);
        out[i] = v[i];
    }
    return WEFT_OK;
}

/* The window of a conv or pool over x (N, C, spatial...). kernel: the window's spatial extent
 * from a weight tensor (NULL: from the kernel_shape attribute). Fills w, output dims included. */
static weft_status window_of(weft_op_ctx *c, const weft_shape *x, const int64_t *kernel, bool allow_ceil,
                             weft_window *w) {
    char b[160];
    memset(w, 0, sizeof *w);
    int n = x->ndim - 2;
    if (n < 1 || n > WEFT_NN_MAX_SP)
        return NODE_ERR(c, WEFT_ERR_SHAPE, "input must be (N, C, d1, ...) with 1 to %d spatial axes, got %s",
                        WEFT_NN_MAX_SP, weft_shape_str(x, b, sizeof b));
    w->nsp = n;
    for (int j = 0; j < n; j++) w->in[j] = x->d[2 + j];
    int klen;
    const int64_t *ks = weft_attr_ints(c->node, "kernel_shape", &klen);
    if (ks && klen != n) return NODE_ERR(c, WEFT_ERR_INVALID, "kernel_shape has %d entries for %d spatial axes", klen, n);
    if (!kernel && !ks) return NODE_ERR(c, WEFT_ERR_INVALID, "missing attribute 'kernel_shape'");
    for (int j = 0; j < n; j++) {
        w->k[j] = kernel ? kernel[j] : ks[j];
        if (ks && ks[j] != w->k[j])
            return NODE_ERR(c, WEFT_ERR_SHAPE, "kernel_shape[%d] = %lld but the weight's extent is %lld", j,
                            (long long)ks[j], (long long)w->k[j]);
        if (w->k[j] < 1) return NODE_ERR(c, WEFT_ERR_INVALID, "kernel extent %lld on axis %d", (long long)w->k[j], j);
    }
    TRY(read_ints(c, "strides", n, 1, 1, w->stride));
    TRY(read_ints(c, "dilations", n, 1, 1, w->dil));
    int64_t pads[2 * WEFT_NN_MAX_SP];
    TRY(read_ints(c, "pads", 2 * n, 0, 0, pads));
    auto_pad ap;
    TRY(read_auto_pad(c, &ap));
    bool ceil_mode = allow_ceil && weft_attr_i(c->node, "ceil_mode", 0);
    for (int j = 0; j < n; j++) {
        int64_t ext = (w->k[j] - 1) * w->dil[j] + 1, in = w->in[j], s = w->stride[j];
        if (ap == PAD_NOTSET) {
            w->pad0[j] = pads[j];
            w->pad1[j] = pads[n + j];
            int64_t span = in + w->pad0[j] + w->pad1[j] - ext;
            if (span < 0) {
                w->out[j] = 0;
            } else {
                w->out[j] = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
                /* the last window must start inside the input or its begin padding */
                if (ceil_mode && (w->out[j] - 1) * s >= in + w->pad0[j]) w->out[j]--;
            }
        } else if (ap == PAD_VALID) {
            w->out[j] = in >= ext ? (in - ext) / s + 1 : 0;
            if (ceil_mode && in >= ext) w->out[j] = (in - ext + s - 1) / s + 1;
        } else {
            w->out[j] = (in + s - 1) / s;
            int64_t total = (w->out[j] - 1) * s + ext - in;
            if (total < 0) total = 0;
            w->pad0[j] = ap == PAD_SAME_UPPER ? total / 2 : total - total / 2;
            w->pad1[j] = total - w->pad0[j];
        }
        if (w->out[j] < 1)
            return NODE_ERR(c, WEFT_ERR_SHAPE, "input %s is smaller than the window on spatial axis %d (extent %lld)",
                            weft_shape_str(x, b, sizeof b), j, (long long)ext);
    }
    return WEFT_OK;
}

/* ---- Conv ---- */

static weft_status conv_geom(weft_op_ctx *c, weft_window *w, int64_t *group) {
    const weft_shape *x = &c->in[0]->shape, *wt = &c->in[1]->shape;
    char b1[160], b2[160];
    TRY(need_float(c, 0, "X"));
    TRY(same_dtype(c, 0, 1));
    TRY(same_dtype(c, 0, 2));
    if (x->ndim < 3 || wt->ndim != x->ndim)
        return NODE_ERR(c, WEFT_ERR_SHAPE, "X %s and W %s must both be (N, C, d1, ...) / (M, C/group, k1, ...)",
                        weft_shape_str(x, b1, sizeof b1), weft_shape_str(wt, b2, sizeof b2));
    *group = weft_attr_i(c->node, "group", 1);
    int64_t C = x->d[1], M = wt->d[0];
    if (*group < 1 || C % *group || M % *group)
        return NODE_ERR(c, WEFT_ERR_INVALID, "group %lld must divide C = %lld and M = %lld", (long long)*group,
                        (long long)C, (long long)M);
    if (wt->d[1] * *group != C)
        return NODE_ERR(c, WEFT_ERR_SHAPE, "W %s has %lld input channels per group; X %s with group %lld needs %lld",
                        weft_shape_str(wt, b1, sizeof b1), (long long)wt->d[1], weft_shape_str(x, b2, sizeof b2),
                        (long long)*group, (long long)(C / *group));
    if (has_in(c, 2)) TRY(need_vec(c, 2, M, "bias B"));
    return window_of(c, x, wt->d + 2, false, w);
}

weft_status weft_conv_window(const weft_graph *g, const weft_node *n, weft_window *w, int64_t *group, weft_err *err) {
    weft_op_ctx c;
    weft_status s = weft_node_infer(g, n, &c, err);
    return s ? s : conv_geom(&c, w, group);
}

static weft_status infer_conv(weft_op_ctx *c) {
    weft_window w;
    int64_t group;
    TRY(conv_geom(c, &w, &group));
    weft_shape y = {.ndim = c->in[0]->shape.ndim};
    y.d[0] = c->in[0]->shape.d[0];
    y.d[1] = c->in[1]->shape.d[0];
    for (int j = 0; j < w.nsp; j++) y.d[2 + j] = w.out[j];
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = y;
    return WEFT_OK;
}

static weft_status eval_conv(weft_op_ctx *c) {
    weft_window w;
    int64_t group;
    TRY(conv_geom(c, &w, &group));
    int64_t N = c->in[0]->shape.d[0], C = c->in[0]->shape.d[1], M = c->in[1]->shape.d[0];
    weft_tensor work = {0};
    TRY(scratch(c, &work, weft_conv_workspace(&w, C, group)));
    weft_conv_forward(&w, N, C, M, group, c->in[0]->data, c->in[1]->data, has_in(c, 2) ? c->in[2]->data : NULL,
                      c->out[0].data, work.data);
    weft_tensor_free(&work);
    return WEFT_OK;
}

static weft_cost cost_conv(const weft_op_ctx *c) {
    weft_cost k = {0};
    const weft_shape *wt = &c->in[1]->shape, *y = &c->out[0].shape;
    int64_t per = 1; /* C/group * prod(k): multiply-adds per output element */
    for (int i = 1; i < wt->ndim; i++) per *= wt->d[i];
    double f = 2.0 * (double)weft_shape_numel(y) * (double)per + (has_in(c, 2) ? (double)weft_shape_numel(y) : 0);
    k.flops = f < 9e18 ? (int64_t)f : INT64_MAX; /* saturates rather than wraps */
    k.bytes = io_bytes(c);
    return k;
}

/* ---- ConvTranspose ---- */

/* The window of a transposed convolution, read as the convolution it is the adjoint of:
 * w->in is y's spatial shape, w->out is x's. */
static weft_status convt_geom(weft_op_ctx *c, weft_window *w, int64_t *group, int64_t *M) {
    const weft_shape *x = &c->in[0]->shape, *wt = &c->in[1]->shape;
    char b1[160], b2[160];
    TRY(need_float(c, 0, "X"));
    TRY(same_dtype(c, 0, 1));
    TRY(same_dtype(c, 0, 2));
    if (x->ndim < 3 || wt->ndim != x->ndim || x->ndim - 2 > WEFT_NN_MAX_SP)
        return NODE_ERR(c, WEFT_ERR_SHAPE, "X %s and W %s must both be (N, C, d1, ...) / (C, M/group, k1, ...)",
                        weft_shape_str(x, b1, sizeof b1), weft_shape_str(wt, b2, sizeof b2));
    *group = weft_attr_i(c->node, "group", 1);
    int64_t C = x->d[1];
    if (*group < 1 || C % *group)
        return NODE_ERR(c, WEFT_ERR_INVALID, "group %lld must divide C = %lld", (long long)*group, (long long)C);
    if (wt->d[0] != C)
        return NODE_ERR(c, WEFT_ERR_SHAPE, "W %s must have C = %lld rows to match X %s", weft_shape_str(wt, b1, sizeof b1),
                        (long long)C, weft_shape_str(x, b2, sizeof b2));
    *M = wt->d[1] * *group;
    if (has_in(c, 2)) TRY(need_vec(c, 2, *M, "bias B"));
    int n = x->ndim - 2;
    memset(w, 0, sizeof *w);
    w->nsp = n;
    int klen;
    const int64_t *ks = weft_attr_ints(c->node, "kernel_shape", &klen);
    if (ks && klen != n) return NODE_ERR(c, WEFT_ERR_INVALID, "kernel_shape has %d entries for %d spatial axes", klen, n);
    for (int j = 0; j < n; j++) {
        w->out[j] = x->d[2 + j];
        w->k[j] = wt->d[2 + j];
        if (ks && ks[j] != w->k[j])
            return NODE_ERR(c, WEFT_ERR_SHAPE, "kernel_shape[%d] = %lld but the weight's extent is %lld", j,
                            (long long)ks[j], (long long)w->k[j]);
    }
    TRY(read_ints(c, "strides", n, 1, 1, w->stride));
    TRY(read_ints(c, "dilations", n, 1, 1, w->dil));
    int64_t pads[2 * WEFT_NN_MAX_SP], opad[WEFT_NN_MAX_SP];
    TRY(read_ints(c, "pads", 2 * n, 0, 0, pads));
    TRY(read_ints(c, "output_padding", n, 0, 0, opad));
    auto_pad ap;
    TRY(read_auto_pad(c, &ap));
    int olen;
    const int64_t *os = weft_attr_ints(c->node, "output_shape", &olen);
    if (os && olen == n + 2) os += 2;
    else if (os && olen != n)
        return NODE_ERR(c, WEFT_ERR_INVALID, "output_shape has %d entries for %d spatial axes", olen, n);
    for (int j = 0; j < n; j++) {
        int64_t ext = (w->k[j] - 1) * w->dil[j] + 1, s = w->stride[j];
        if (opad[j] >= s && opad[j] >= w->dil[j])
            return NODE_ERR(c, WEFT_ERR_INVALID, "output_padding[%d] = %lld must be smaller than the stride or dilation",
                            j, (long long)opad[j]);
        int64_t full = s * (w->out[j] - 1) + opad[j] + ext; /* y's extent with no padding */
        if (os || ap == PAD_SAME_UPPER || ap == PAD_SAME_LOWER) {
            int64_t target = os ? os[j] : w->out[j] * s;
            /* may be negative: an output larger than the input reaches gets rows of bias only */
            int64_t total = full - target;
            int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2); /* floor(total / 2) */
            /* ONNX: SAME_UPPER puts the extra padding at the end (pads[start] = total // 2); NOTSET
             * with output_shape and SAME_LOWER at the start */
            w->pad0[j] = ap == PAD_SAME_UPPER ? half : total - half;
            w->pad1[j] = total - w->pad0[j];
            w->in[j] = target;
        } else if (ap == PAD_VALID) {
            w->in[j] = full;
        } else {
            w->pad0[j] = pads[j];
            w->pad1[j] = pads[n + j];
            w->in[j] = full - pads[j] - pads[n + j];
        }
        if (w->in[j] < 1)
            return NODE_ERR(c, WEFT_ERR_SHAPE, "output extent %lld on spatial axis %d (padding exceeds the output)",
                            (long long)w->in[j], j);
    }
    return WEFT_OK;
}

static weft_status infer_convt(weft_op_ctx *c) {
    weft_window w;
    int64_t group, M;
    TRY(convt_geom(c, &w, &group, &M));
    weft_shape y = {.ndim = c->in[0]->shape.ndim};
    y.d[0] = c->in[0]->shape.d[0];
    y.d[1] = M;
    for (int j = 0; j < w.nsp; j++) y.d[2 + j] = w.in[j];
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = y;
    return WEFT_OK;
}

static weft_status eval_convt(weft_op_ctx *c) {
    weft_window w;
    int64_t group, M;
    TRY(convt_geom(c, &w, &group, &M));
    int64_t N = c->in[0]->shape.d[0], C = c->in[0]->shape.d[1];
    weft_tensor work = {0};
    TRY(scratch(c, &work, weft_conv_transpose_workspace(&w, M, group)));
    weft_conv_transpose_forward(&w, N, C, M, group, c->in[0]->data, c->in[1]->data,
                                has_in(c, 2) ? c->in[2]->data : NULL, c->out[0].data, work.data);
    weft_tensor_free(&work);
    return WEFT_OK;
}

static weft_cost cost_convt(const weft_op_ctx *c) {
    weft_cost k = {0};
    const weft_shape *wt = &c->in[1]->shape;
    int64_t per = 1; /* M/group * prod(k) multiply-adds per input element */
    for (int i = 1; i < wt->ndim; i++) per *= wt->d[i];
    k.flops = 2 * numel(c->in[0]) * per + (has_in(c, 2) ? weft_shape_numel(&c->out[0].shape) : 0);
    k.bytes = io_bytes(c);
    return k;
}

/* ---- pooling ---- */

static weft_pool_kind pool_kind(const weft_op_ctx *c) {
    const char *nm = c->node->op->name;
    return strstr(nm, "Max") ? WEFT_POOL_MAX : strstr(nm, "Lp") ? WEFT_POOL_LP : WEFT_POOL_AVG;
}

static weft_status pool_geom(weft_op_ctx *c, weft_window *w) {
    weft_pool_kind kind = pool_kind(c);
    if (kind != WEFT_POOL_MAX) TRY(need_float(c, 0, "X"));
    else if (c->in[0]->dtype == WEFT_BOOL) return NODE_ERR(c, WEFT_ERR_UNSUPPORTED, "bool input");
    TRY(window_of(c, &c->in[0]->shape, NULL, true, w));
    if (kind == WEFT_POOL_LP && weft_attr_i(c->node, "p", 2) < 1)
        return NODE_ERR(c, WEFT_ERR_INVALID, "p = %lld must be at least 1", (long long)weft_attr_i(c->node, "p", 2));
    int64_t so = weft_attr_i(c->node, "storage_order", 0);
    if (so != 0 && so != 1) return NODE_ERR(c, WEFT_ERR_INVALID, "storage_order %lld (expected 0 or 1)", (long long)so);
    return WEFT_OK;
}

static weft_status infer_pool(weft_op_ctx *c) {
    weft_window w;
    TRY(pool_geom(c, &w));
    weft_shape y = c->in[0]->shape;
    for (int j = 0; j < w.nsp; j++) y.d[2 + j] = w.out[j];
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = y;
    if (c->n_out > 1) {
        c->out[1].dtype = WEFT_I64;
        c->out[1].shape = y;
    }
    return WEFT_OK;
}

static weft_status eval_pool(weft_op_ctx *c) {
    weft_window w;
    TRY(pool_geom(c, &w));
    int64_t NC = c->in[0]->shape.d[0] * c->in[0]->shape.d[1];
    int64_t *idx = c->n_out > 1 ? c->out[1].data : NULL;
    int so = (int)weft_attr_i(c->node, "storage_order", 0);
    if (c->in[0]->dtype == WEFT_I64) {
        weft_maxpool_forward_i64(&w, NC, c->in[0]->data, c->out[0].data, idx, so);
        return WEFT_OK;
    }
    weft_pool_forward(&w, pool_kind(c), NC, c->in[0]->data, c->out[0].data, idx, so,
                      weft_attr_i(c->node, "count_include_pad", 0) != 0, (float)weft_attr_i(c->node, "p", 2));
    return WEFT_OK;
}

static weft_cost cost_pool(const weft_op_ctx *c) {
    weft_cost k = {0};
    int klen;
    const int64_t *ks = weft_attr_ints(c->node, "kernel_shape", &klen);
    /* in double: a window of 1e9 x 1e9 over 81 outputs overflows int64 (saturates instead) */
    double K = 1;
    for (int i = 0; i < klen; i++) K *= (double)ks[i];
    double f = (double)weft_shape_numel(&c->out[0].shape) * K;
    k.flops = f < 9e18 ? (int64_t)f : INT64_MAX;
    k.bytes = io_bytes(c);
    return k;
}

/* MaxUnpool: X (N, C, d...) scattered by I (flat indices into (N, C, inferred...), as MaxPool
 * gives them) into zeros of the inferred shape ((d - 1) * stride - pads + kernel); an
 * output_shape input larger than that pads the end of each spatial axis with zeros, as ONNX's
 * reference does. */
static weft_status unpool_geom(weft_op_ctx *c, weft_shape *inferred, weft_shape *out) {
    const weft_shape *x = &c->in[0]->shape;
    char b1[160], b2[160];
    TRY(need_float(c, 0, "X"));
    if (weft_dtype_is_float(c->in[1]->dtype) || c->in[1]->dtype == WEFT_BOOL)
        return NODE_ERR(c, WEFT_ERR_SHAPE, "I is %s; it must hold integer indices", weft_dtype_name(c->in[1]->dtype));
    if (!weft_shape_eq(&c->in[1]->shape, x))
        return NODE_ERR(c, WEFT_ERR_SHAPE, "I %s must have X's shape %s", weft_shape_str(&c->in[1]->shape, b1, sizeof b1),
                        weft_shape_str(x, b2, sizeof b2));
    int n = x->ndim - 2;
    if (n < 1 || n > WEFT_NN_MAX_SP)
        return NODE_ERR(c, WEFT_ERR_SHAPE, "X must be (N, C, d1, ...), got %s", weft_shape_str(x, b1, sizeof b1));
    int klen;
    const int64_t *ks = weft_attr_ints(c->node, "kernel_shape", &klen);
    if (!ks || klen != n) return NODE_ERR(c, WEFT_ERR_INVALID, "kernel_shape must have %d entries", n);
    int64_t st[WEFT_NN_MAX_SP], pads[2 * WEFT_NN_MAX_SP];
    TRY(read_ints(c, "strides", n, 1, 1, st));
    TRY(read_ints(c, "pads", 2 * n, 0, 0, pads));
    *inferred = *x;
    for (int j = 0; j < n; j++) {
        inferred->d[2 + j] = (x->d[2 + j] - 1) * st[j] - pads[j] - pads[n + j] + ks[j];
        if (inferred->d[2 + j] < 1) return NODE_ERR(c, WEFT_ERR_SHAPE, "output extent %lld on spatial axis %d",
                                                    (long long)inferred->d[2 + j], j);
    }
    *out = *inferred;
    if (has_in(c, 2)) {
        const weft_tensor *os = c->in[2];
        if (os->shape.ndim != 1 || os->shape.d[0] != x->ndim)
            return NODE_ERR(c, WEFT_ERR_SHAPE, "output_shape must hold %d dimensions", x->ndim);
        for (int j = 0; j < x->ndim; j++) {
            out->d[j] = weft_tensor_get_i(os, j);
            if (j < 2 ? out->d[j] != x->d[j] : out->d[j] < inferred->d[j])
                return NODE_ERR(c, WEFT_ERR_UNSUPPORTED, "output_shape %s: weft unpools into %s or a larger spatial extent",
                                weft_shape_str(out, b1, sizeof b1), weft_shape_str(inferred, b2, sizeof b2));
        }
    }
    return WEFT_OK;
}

static weft_status infer_unpool(weft_op_ctx *c) {
    weft_shape inf, out;
    TRY(unpool_geom(c, &inf, &out));
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = out;
    return WEFT_OK;
}

static weft_status eval_unpool(weft_op_ctx *c) {
    weft_shape inf, out;
    TRY(unpool_geom(c, &inf, &out));
    const float *x = c->in[0]->data;
    const int64_t *idx = c->in[1]->data;
    float *y = c->out[0].data;
    int64_t total = weft_shape_numel(&inf), n = numel(c->in[0]);
    for (int64_t i = 0; i < n; i++) {
        int64_t k = idx[i];
        if (k < 0 || k >= total)
            return NODE_ERR(c, WEFT_ERR_INVALID, "index %lld at position %lld is outside the unpooled tensor of %lld elements",
                            (long long)k, (long long)i, (long long)total);
        /* the coordinate in the inferred shape, placed at the same coordinate of the output */
        int64_t off = 0, rem = k, mul = 1;
        for (int j = inf.ndim - 1; j >= 0; j--) {
            off += (rem % inf.d[j]) * mul;
            rem /= inf.d[j];
            mul *= out.d[j];
        }
        y[off] = x[i];
    }
    return WEFT_OK;
}

/* GlobalAveragePool, GlobalMaxPool, GlobalLpPool: one window over all spatial axes. */
static weft_status infer_global_pool(weft_op_ctx *c) {
    TRY(need_float(c, 0, "X"));
    char b[160];
    if (c->in[0]->shape.ndim < 2)
        return NODE_ERR(c, WEFT_ERR_SHAPE, "input must be (N, C, ...), got %s", weft_shape_str(&c->in[0]->shape, b, sizeof b));
    if (weft_attr_i(c->node, "p", 2) < 1) return NODE_ERR(c, WEFT_ERR_INVALID, "p must be at least 1");
    weft_shape y = c->in[0]->shape;
    for (int j = 2; j < y.ndim; j++) y.d[j] = 1;
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = y;
    return WEFT_OK;
}

static weft_status eval_global_pool(weft_op_ctx *c) {
    const weft_shape *x = &c->in[0]->shape;
    int64_t NC = x->d[0] * x->d[1], S = numel(c->in[0]) / (NC ? NC : 1);
    weft_window w = {.nsp = 1, .in = {S}, .out = {1}, .k = {S}, .stride = {1}, .dil = {1}};
    if (S == 0) return NODE_ERR(c, WEFT_ERR_SHAPE, "empty spatial extent");
    weft_pool_forward(&w, pool_kind(c), NC, c->in[0]->data, c->out[0].data, NULL, 0, false,
                      (float)weft_attr_i(c->node, "p", 2));
    return WEFT_OK;
}

static weft_cost cost_read_n(const weft_op_ctx *c, int64_t per) {
    weft_cost k = {numel(c->in[0]) * per, io_bytes(c)};
    return k;
}
static weft_cost cost_1(const weft_op_ctx *c) { return cost_read_n(c, 1); }
static weft_cost cost_5(const weft_op_ctx *c) { return cost_read_n(c, 5); }

/* ---- BatchNormalization (inference), InstanceNormalization, LRN, MVN ---- */

static weft_status infer_batchnorm(weft_op_ctx *c) {
    if (weft_attr_i(c->node, "training_mode", 0))
        return NODE_ERR(c, WEFT_ERR_UNSUPPORTED, "training_mode=1 (weft's BatchNormalization is the inference form; "
                                                 "training statistics come from the grad module)");
    if (c->n_out > 1)
        return NODE_ERR(c, WEFT_ERR_UNSUPPORTED, "%d outputs: the running statistics outputs exist only in training "
                                                 "mode, which weft does not do here", c->n_out);
    if (weft_attr_i(c->node, "spatial", 1) != 1)
        return NODE_ERR(c, WEFT_ERR_UNSUPPORTED, "spatial=0 (per-activation statistics)");
    TRY(need_float(c, 0, "X"));
    char b[160];
    if (c->in[0]->shape.ndim < 2)
        return NODE_ERR(c, WEFT_ERR_SHAPE, "X must be (N, C, ...), got %s", weft_shape_str(&c->in[0]->shape, b, sizeof b));
    int64_t C = c->in[0]->shape.d[1];
    static const char *names[] = {"X", "scale", "B", "input_mean", "input_var"};
    for (int i = 1; i < 5; i++) {
        TRY(need_float(c, i, names[i]));
        TRY(need_vec(c, i, C, names[i]));
    }
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = c->in[0]->shape;
    return WEFT_OK;
}

static void nc_s(const weft_shape *x, int64_t *N, int64_t *C, int64_t *S) {
    *N = x->d[0];
    *C = x->ndim > 1 ? x->d[1] : 1;
    *S = 1;
    for (int j = 2; j < x->ndim; j++) *S *= x->d[j];
}

static weft_status eval_batchnorm(weft_op_ctx *c) {
    int64_t N, C, S;
    nc_s(&c->in[0]->shape, &N, &C, &S);
    weft_batchnorm_forward(N, C, S, c->in[0]->data, c->in[1]->data, c->in[2]->data, c->in[3]->data, c->in[4]->data,
                           weft_attr_f(c->node, "epsilon", 1e-5f), c->out[0].data);
    return WEFT_OK;
}

static weft_status infer_instancenorm(weft_op_ctx *c) {
    TRY(need_float(c, 0, "X"));
    char b[160];
    if (c->in[0]->shape.ndim < 3)
        return NODE_ERR(c, WEFT_ERR_SHAPE, "X must be (N, C, d1, ...), got %s", weft_shape_str(&c->in[0]->shape, b, sizeof b));
    int64_t C = c->in[0]->shape.d[1];
    TRY(need_vec(c, 1, C, "scale"));
    TRY(need_vec(c, 2, C, "B"));
    TRY(same_dtype(c, 0, 1));
    TRY(same_dtype(c, 0, 2));
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = c->in[0]->shape;
    return WEFT_OK;
}

static weft_status eval_instancenorm(weft_op_ctx *c) {
    int64_t N, C, S;
    nc_s(&c->in[0]->shape, &N, &C, &S);
    weft_instancenorm_forward(N, C, S, c->in[0]->data, c->in[1]->data, c->in[2]->data,
                              weft_attr_f(c->node, "epsilon", 1e-5f), c->out[0].data);
    return WEFT_OK;
}

static weft_status infer_lrn(weft_op_ctx *c) {
    TRY(need_float(c, 0, "X"));
    char b[160];
    if (c->in[0]->shape.ndim < 2)
        return NODE_ERR(c, WEFT_ERR_SHAPE, "X must be (N, C, ...), got %s", weft_shape_str(&c->in[0]->shape, b, sizeof b));
    if (!weft_node_attr(c->node, "size")) return NODE_ERR(c, WEFT_ERR_INVALID, "missing attribute 'size'");
    if (weft_attr_i(c->node, "size", 0) < 1) return NODE_ERR(c, WEFT_ERR_INVALID, "size must be positive");
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = c->in[0]->shape;
    return WEFT_OK;
}

static weft_status eval_lrn(weft_op_ctx *c) {
    int64_t N, C, S;
    nc_s(&c->in[0]->shape, &N, &C, &S);
    const weft_node *n = c->node;
    weft_lrn_forward(N, C, S, weft_attr_i(n, "size", 1), weft_attr_f(n, "alpha", 1e-4f), weft_attr_f(n, "beta", 0.75f),
                     weft_attr_f(n, "bias", 1.0f), c->in[0]->data, c->out[0].data);
    return WEFT_OK;
}

/* MeanVarianceNormalization: statistics over `axes` (default 0, 2, 3). */
static weft_status mvn_axes(weft_op_ctx *c, bool *red) {
    int r = c->in[0]->shape.ndim, len;
    const int64_t *ax = weft_attr_ints(c->node, "axes", &len);
    static const int64_t dflt[] = {0, 2, 3};
    if (!ax) { ax = dflt; len = 3; }
    for (int j = 0; j < r; j++) red[j] = false;
    for (int i = 0; i < len; i++) {
        int a;
        TRY(weft_axis(c, ax[i], r, &a));
        red[a] = true;
    }
    return WEFT_OK;
}

static weft_status infer_mvn(weft_op_ctx *c) {
    TRY(need_float(c, 0, "X"));
    bool red[WEFT_MAX_DIMS];
    TRY(mvn_axes(c, red));
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = c->in[0]->shape;
    return WEFT_OK;
}

static weft_status eval_mvn(weft_op_ctx *c) {
    bool red[WEFT_MAX_DIMS];
    TRY(mvn_axes(c, red));
    const weft_shape *x = &c->in[0]->shape;
    /* permute the reduced axes innermost, normalize rows, permute back */
    int perm[WEFT_MAX_DIMS], np = 0;
    int64_t dims[WEFT_MAX_DIMS], st[WEFT_MAX_DIMS], stride[WEFT_MAX_DIMS], S = 1, outer = 1;
    int64_t s = 1;
    for (int j = x->ndim - 1; j >= 0; j--) { stride[j] = s; s *= x->d[j]; }
    for (int pass = 0; pass < 2; pass++)
        for (int j = 0; j < x->ndim; j++)
            if (red[j] == (pass == 1)) perm[np++] = j;
    for (int j = 0; j < x->ndim; j++) {
        dims[j] = x->d[perm[j]];
        st[j] = stride[perm[j]];
        if (red[perm[j]]) S *= dims[j];
        else outer *= dims[j];
    }
    weft_tensor a = {0}, b = {0};
    TRY(scratch(c, &a, numel(c->in[0])));
    weft_status rc = scratch(c, &b, numel(c->in[0]));
    if (!rc) {
        weft_gather_strided(a.data, c->in[0]->data, x->ndim, dims, st);
        weft_mvn_forward(outer, S, a.data, b.data);
        /* back: out[perm-order index] = b; gather with inverse strides */
        int64_t pst[WEFT_MAX_DIMS], ps = 1, inv_dims[WEFT_MAX_DIMS], inv_st[WEFT_MAX_DIMS];
        for (int j = x->ndim - 1; j >= 0; j--) { pst[j] = ps; ps *= dims[j]; }
        for (int j = 0; j < x->ndim; j++) { inv_dims[perm[j]] = dims[j]; inv_st[perm[j]] = pst[j]; }
        weft_gather_strided(c->out[0].data, b.data, x->ndim, inv_dims, inv_st);
    }
    weft_tensor_free(&a);
    weft_tensor_free(&b);
    return rc;
}

/* ---- LayerNormalization ---- */

static weft_status layernorm_geom(weft_op_ctx *c, int *axis, int64_t *rows, int64_t *cols, weft_shape *norm) {
    TRY(need_float(c, 0, "X"));
    TRY(same_dtype(c, 0, 1));
    TRY(same_dtype(c, 0, 2));
    const weft_shape *x = &c->in[0]->shape;
    TRY(weft_axis(c, weft_attr_i(c->node, "axis", -1), x->ndim, axis));
    if (weft_attr_i(c->node, "stash_type", 1) != 1)
        return NODE_ERR(c, WEFT_ERR_UNSUPPORTED, "stash_type %lld (weft keeps statistics in float, stash_type 1)",
                        (long long)weft_attr_i(c->node, "stash_type", 1));
    *rows = 1;
    *cols = 1;
    norm->ndim = x->ndim - *axis;
    for (int j = 0; j < x->ndim; j++) {
        if (j < *axis) *rows *= x->d[j];
        else { *cols *= x->d[j]; norm->d[j - *axis] = x->d[j]; }
    }
    for (int i = 1; i < 3; i++) {
        if (!has_in(c, i)) continue;
        weft_shape u;
        weft_err e = {0};
        const weft_shape *s = &c->in[i]->shape;
        if (s->ndim > norm->ndim || weft_shape_broadcast(s, norm, &u, &e) || !weft_shape_eq(&u, norm)) {
            char b1[160], b2[160];
            return NODE_ERR(c, WEFT_ERR_SHAPE, "%s of shape %s does not broadcast to the normalized shape %s",
                            i == 1 ? "Scale" : "B", weft_shape_str(s, b1, sizeof b1), weft_shape_str(norm, b2, sizeof b2));
        }
    }
    return WEFT_OK;
}

static weft_status infer_layernorm(weft_op_ctx *c) {
    int axis;
    int64_t rows, cols;
    weft_shape norm;
    TRY(layernorm_geom(c, &axis, &rows, &cols, &norm));
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = c->in[0]->shape;
    for (int j = 1; j < c->n_out; j++) {
        c->out[j].dtype = WEFT_F32;
        c->out[j].shape = c->in[0]->shape;
        for (int k = axis; k < c->out[j].shape.ndim; k++) c->out[j].shape.d[k] = 1;
    }
    return WEFT_OK;
}

static weft_status eval_layernorm(weft_op_ctx *c) {
    int axis;
    int64_t rows, cols;
    weft_shape norm;
    TRY(layernorm_geom(c, &axis, &rows, &cols, &norm));
    /* scale and bias, expanded to (cols) */
    weft_tensor sb = {0};
    TRY(scratch(c, &sb, 2 * cols));
    float *scale = sb.data, *bias = scale + cols;
    for (int i = 1; i < 3; i++) {
        if (!has_in(c, i)) continue;
        int64_t st[WEFT_MAX_DIMS];
        weft_bcast_strides(&c->in[i]->shape, &norm, st);
        weft_gather_strided(i == 1 ? scale : bias, c->in[i]->data, norm.ndim, norm.d, st);
    }
    weft_layernorm_forward(rows, cols, c->in[0]->data, scale, has_in(c, 2) ? bias : NULL,
                           weft_attr_f(c->node, "epsilon", 1e-5f), c->out[0].data,
                           c->n_out > 1 ? c->out[1].data : NULL, c->n_out > 2 ? c->out[2].data : NULL);
    weft_tensor_free(&sb);
    return WEFT_OK;
}

/* ---- Softmax, LogSoftmax, Hardmax ---- */

/* Before opset 13 the input is coerced to 2-D at `axis` (default 1) and the op runs over the
 * whole second part; from 13 it runs over the single axis (default -1). */
static weft_status softmax_geom(weft_op_ctx *c, int64_t *outer, int64_t *len, int64_t *inner) {
    const weft_shape *x = &c->in[0]->shape;
    /* the backward ops (weft.*) carry the forward's rule in their attribute 'legacy' */
    bool old = strncmp(c->node->op->name, "weft.", 5) ? c->node->opset < 13 : weft_attr_i(c->node, "legacy", 0) != 0;
    int axis;
    if (x->ndim == 0) return NODE_ERR(c, WEFT_ERR_SHAPE, "input is a scalar");
    TRY(weft_axis(c, weft_attr_i(c->node, "axis", old ? 1 : -1), x->ndim, &axis));
    *outer = 1;
    *len = 1;
    *inner = 1;
    for (int j = 0; j < x->ndim; j++) {
        if (j < axis) *outer *= x->d[j];
        else if (j == axis || old) *len *= x->d[j];
        else *inner *= x->d[j];
    }
    return WEFT_OK;
}

static weft_status infer_softmax(weft_op_ctx *c) {
    TRY(need_float(c, 0, "input"));
    int64_t o, l, i;
    TRY(softmax_geom(c, &o, &l, &i));
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = c->in[0]->shape;
    return WEFT_OK;
}

static weft_status eval_softmax(weft_op_ctx *c) {
    int64_t o, l, i;
    TRY(softmax_geom(c, &o, &l, &i));
    const char *nm = c->node->op->name;
    weft_softmax_kind kind = !strcmp(nm, "Softmax") ? WEFT_SOFTMAX : !strcmp(nm, "LogSoftmax") ? WEFT_LOG_SOFTMAX
                                                                                                : WEFT_HARDMAX;
    weft_softmax_forward(kind, o, l, i, c->in[0]->data, c->out[0].data);
    return WEFT_OK;
}

/* ---- losses: NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss ---- */

/* input (N, C, d...), target (N, d...), weight (C). */
static weft_status loss_geom(weft_op_ctx *c, int64_t *N, int64_t *C, int64_t *D, weft_reduction *red) {
    const weft_shape *x = &c->in[0]->shape, *t = &c->in[1]->shape;
    char b1[160], b2[160];
    TRY(need_float(c, 0, "the input"));
    if (weft_dtype_is_float(c->in[1]->dtype) || c->in[1]->dtype == WEFT_BOOL)
        return NODE_ERR(c, WEFT_ERR_SHAPE, "the target is %s; it must be an integer tensor",
                        weft_dtype_name(c->in[1]->dtype));
    bool ok;
    *red = reduction_of(c->node, &ok);
    if (!ok)
        return NODE_ERR(c, WEFT_ERR_INVALID, "reduction '%s' (expected none, sum or mean)",
                        weft_attr_s(c->node, "reduction", ""));
    bool match = x->ndim >= 2 && t->ndim == x->ndim - 1 && t->d[0] == x->d[0];
    for (int j = 2; j < x->ndim && match; j++) match = t->d[j - 1] == x->d[j];
    if (!match)
        return NODE_ERR(c, WEFT_ERR_SHAPE, "input %s must be (N, C, d1, ...) and the target (N, d1, ...), got target %s",
                        weft_shape_str(x, b1, sizeof b1), weft_shape_str(t, b2, sizeof b2));
    *N = x->d[0];
    *C = x->d[1];
    *D = 1;
    for (int j = 2; j < x->ndim; j++) *D *= x->d[j];
    if (has_in(c, 2)) {
        TRY(same_dtype(c, 0, 2));
        TRY(need_vec(c, 2, *C, "weight"));
    }
    return WEFT_OK;
}

static weft_status infer_loss(weft_op_ctx *c) {
    int64_t N, C, D;
    weft_reduction red;
    TRY(loss_geom(c, &N, &C, &D, &red));
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = red == WEFT_REDUCE_NONE ? c->in[1]->shape : (weft_shape){0};
    if (c->n_out > 1) {
        c->out[1].dtype = c->in[0]->dtype;
        c->out[1].shape = c->in[0]->shape;
    }
    return WEFT_OK;
}

static weft_status eval_loss(weft_op_ctx *c) {
    int64_t N, C, D;
    weft_reduction red;
    TRY(loss_geom(c, &N, &C, &D, &red));
    const float *logp = c->in[0]->data;
    weft_tensor tmp = {0};
    if (!strcmp(c->node->op->name, "SoftmaxCrossEntropyLoss")) {
        float *lp = c->out[1].data;
        if (c->n_out < 2) {
            TRY(scratch(c, &tmp, numel(c->in[0])));
            lp = tmp.data;
        }
        weft_softmax_forward(WEFT_LOG_SOFTMAX, N, C, D, c->in[0]->data, lp);
        logp = lp;
    }
    const weft_attr *ii = weft_node_attr(c->node, "ignore_index");
    int64_t bad = weft_nll_forward(N, C, D, logp, c->in[1]->data, has_in(c, 2) ? c->in[2]->data : NULL, ii != NULL,
                                   ii ? ii->i : 0, red, c->out[0].data);
    weft_tensor_free(&tmp);
    if (bad >= 0)
        return NODE_ERR(c, WEFT_ERR_INVALID, "target element %lld is %lld, outside the %lld classes", (long long)bad,
                        (long long)((const int64_t *)c->in[1]->data)[bad], (long long)C);
    return WEFT_OK;
}

/* ---- Einsum ----
 * The equation is parsed into labels per operand (letters by their character, the axes an
 * ellipsis stands for as 256 + k, right-aligned across operands). Evaluation: take diagonals of
 * repeated labels, sum away labels no one else needs, then contract operands left to right, each
 * pair as one batched GEMM (batch labels, A's free labels x contracted labels x B's free labels),
 * and finally permute (and broadcast) to the output's labels. */

#define EIN_LABELS 320

typedef struct {
    int n_op;
    int nlab[WEFT_MAX_IO];
    int lab[WEFT_MAX_IO][WEFT_MAX_DIMS];
    int n_out;
    int out[WEFT_MAX_DIMS];
    int64_t size[EIN_LABELS]; /* label -> extent (the largest over operands; others 1 or equal) */
} ein_plan;

static bool is_letter(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }

/* Parses one term into labels; ell_dims: axes its ellipsis stands for (-1: count them). */
static weft_status ein_term(weft_op_ctx *c, const char *s, size_t len, int rank, int ell_total, int *lab, int *nlab,
                            int *ell_dims) {
    int letters = 0;
    bool ell = false;
    for (size_t i = 0; i < len; i++) {
        if (is_letter(s[i])) letters++;
        else if (s[i] == '.' && i + 3 <= len && !strncmp(s + i, "...", 3) && !ell) {
            ell = true;
            i += 2;
        } else
            return NODE_ERR(c, WEFT_ERR_INVALID, "equation term '%.*s': unexpected '%c'", (int)len, s, s[i]);
    }
    int e = rank < 0 ? ell_total : rank - letters;
    if (!ell) e = 0;
    if (rank >= 0 && (e < 0 || (!ell && letters != rank)))
        return NODE_ERR(c, WEFT_ERR_SHAPE, "equation term '%.*s' does not match an operand of rank %d", (int)len, s, rank);
    if (letters + e > WEFT_MAX_DIMS) return NODE_ERR(c, WEFT_ERR_UNSUPPORTED, "term '%.*s' above rank %d", (int)len, s,
                                                    WEFT_MAX_DIMS);
    *ell_dims = e;
    int n = 0;
    for (size_t i = 0; i < len; i++) {
        if (is_letter(s[i])) lab[n++] = (unsigned char)s[i];
        else {
            /* right-aligned: the last axis of every ellipsis is label 256 + ell_total - 1 (the
             * first pass, with ell_total still 0, only counts) */
            for (int k = 0; k < e; k++) lab[n++] = 256 + (ell_total > e ? ell_total - e : 0) + k;
            i += 2;
        }
    }
    *nlab = n;
    return WEFT_OK;
}

static weft_status ein_parse(weft_op_ctx *c, ein_plan *p) {
    const char *eq0 = weft_attr_s(c->node, "equation", NULL);
    if (!eq0) return NODE_ERR(c, WEFT_ERR_INVALID, "missing attribute 'equation'");
    char eq[512];
    size_t n = 0;
    for (const char *q = eq0; *q; q++) {
        if (*q == ' ') continue;
        if (n + 1 >= sizeof eq) return NODE_ERR(c, WEFT_ERR_UNSUPPORTED, "equation longer than %zu characters", sizeof eq - 1);
        eq[n++] = *q;
    }
    eq[n] = 0;
    for (int i = 0; i < c->n_in; i++)
        if (!weft_dtype_is_float(c->in[i]->dtype))
            return NODE_ERR(c, WEFT_ERR_UNSUPPORTED, "operand %d is %s; weft's Einsum takes floating tensors", i,
                            weft_dtype_name(c->in[i]->dtype));
    memset(p, 0, sizeof *p);
    char *arrow = strstr(eq, "->");
    size_t lhs_len = arrow ? (size_t)(arrow - eq) : n;
    /* ellipsis width: the most axes any operand's ellipsis stands for */
    int ell_total = 0, k = 0;
    const char *t = eq;
    int ell_dims[WEFT_MAX_IO];
    for (;;) {
        const char *end = memchr(t, ',', lhs_len - (size_t)(t - eq));
        size_t len = end ? (size_t)(end - t) : lhs_len - (size_t)(t - eq);
        if (k >= c->n_in) return NODE_ERR(c, WEFT_ERR_INVALID, "equation '%s' has more terms than the %d inputs", eq0, c->n_in);
        int tmp[WEFT_MAX_DIMS + 8], nl;
        TRY(ein_term(c, t, len, c->in[k]->shape.ndim, 0, tmp, &nl, &ell_dims[k]));
        if (ell_dims[k] > ell_total) ell_total = ell_dims[k];
        k++;
        if (!end) break;
        t = end + 1;
    }
    if (k != c->n_in) return NODE_ERR(c, WEFT_ERR_INVALID, "equation '%s' has %d terms for %d inputs", eq0, k, c->n_in);
    p->n_op = k;
    for (int i = 0; i < EIN_LABELS; i++) p->size[i] = -1;
    int count[EIN_LABELS] = {0};
    t = eq;
    for (int i = 0; i < k; i++) {
        const char *end = memchr(t, ',', lhs_len - (size_t)(t - eq));
        size_t len = end ? (size_t)(end - t) : lhs_len - (size_t)(t - eq);
        /* re-parse with the shared ellipsis width so labels right-align */
        int e;
        TRY(ein_term(c, t, len, c->in[i]->shape.ndim, ell_total, p->lab[i], &p->nlab[i], &e));
        /* ein_term numbers ellipsis axes 256 + (ell_total - e) + k: right-aligned */
        for (int a = 0; a < p->nlab[i]; a++) {
            int L = p->lab[i][a];
            int64_t d = c->in[i]->shape.d[a];
            count[L]++;
            if (p->size[L] < 0 || p->size[L] == 1) p->size[L] = d;
            else if (d != 1 && d != p->size[L])
                return NODE_ERR(c, WEFT_ERR_SHAPE, "label '%c' has extent %lld in operand %d but %lld elsewhere",
                                L < 256 ? L : '.', (long long)d, i, (long long)p->size[L]);
            /* a repeated label within one term must have one extent */
            for (int b = 0; b < a; b++)
                if (p->lab[i][b] == L && c->in[i]->shape.d[b] != d)
                    return NODE_ERR(c, WEFT_ERR_SHAPE, "repeated label '%c' with extents %lld and %lld in operand %d",
                                    L < 256 ? L : '.', (long long)c->in[i]->shape.d[b], (long long)d, i);
        }
        if (end) t = end + 1;
    }
    if (arrow) {
        const char *o = arrow + 2;
        int e;
        TRY(ein_term(c, o, strlen(o), -1, ell_total, p->out, &p->n_out, &e));
        for (int a = 0; a < p->n_out; a++) {
            int L = p->out[a];
            if (p->size[L] < 0)
                return NODE_ERR(c, WEFT_ERR_INVALID, "output label '%c' appears in no input", L < 256 ? L : '.');
            for (int b = 0; b < a; b++)
                if (p->out[b] == L) return NODE_ERR(c, WEFT_ERR_INVALID, "output label '%c' repeated", L < 256 ? L : '.');
        }
    } else {
        for (int e = 0; e < ell_total; e++) p->out[p->n_out++] = 256 + e;
        for (int L = 0; L < 256; L++)
            if (count[L] == 1) {
                if (p->n_out >= WEFT_MAX_DIMS) return NODE_ERR(c, WEFT_ERR_UNSUPPORTED, "output above rank %d", WEFT_MAX_DIMS);
                p->out[p->n_out++] = L;
            }
    }
    return WEFT_OK;
}

static weft_status infer_einsum(weft_op_ctx *c) {
    ein_plan p;
    TRY(ein_parse(c, &p));
    c->out[0].dtype = c->in[0]->dtype;
    for (int i = 1; i < c->n_in; i++) TRY(same_dtype(c, 0, i));
    c->out[0].shape.ndim = p.n_out;
    for (int a = 0; a < p.n_out; a++) c->out[0].shape.d[a] = p.size[p.out[a]];
    return WEFT_OK;
}

/* An intermediate operand: contiguous data with one label per axis. */
typedef struct {
    weft_tensor t; /* owned F32 buffer, or a view of an input (owns == 0) */
    int nd;
    int lab[WEFT_MAX_DIMS];
    int64_t dim[WEFT_MAX_DIMS];
} ein_op;

/* The extent of label L in o (1 where o lacks it). */
static int64_t ein_ext(const ein_op *o, int L) {
    for (int a = 0; a < o->nd; a++)
        if (o->lab[a] == L) return o->dim[a];
    return 1;
}

static void ein_strides(const ein_op *o, int64_t *st) {
    int64_t s = 1;
    for (int a = o->nd - 1; a >= 0; a--) { st[a] = s; s *= o->dim[a]; }
}

/* New operand laid out as labels `lab` (n) with extents `dim`, read from src by label; a label
 * absent from src or of extent 1 there is broadcast; src's labels not listed are summed away
 * (sum_lab, their extents in sum_dim). */
static weft_status ein_relayout(weft_op_ctx *c, const ein_op *src, const int *lab, const int64_t *dim, int n, ein_op *dst) {
    int64_t sst[WEFT_MAX_DIMS];
    ein_strides(src, sst);
    int64_t gd[2 * WEFT_MAX_DIMS], gs[2 * WEFT_MAX_DIMS];
    int ng = 0;
    for (int a = 0; a < n; a++) {
        gd[ng] = dim[a];
        gs[ng] = 0;
        for (int b = 0; b < src->nd; b++)
            if (src->lab[b] == lab[a] && src->dim[b] != 1) gs[ng] = sst[b];
        ng++;
    }
    int64_t outer = 1, inner = 1;
    for (int a = 0; a < n; a++) outer *= dim[a];
    for (int b = 0; b < src->nd; b++) {
        bool kept = false;
        for (int a = 0; a < n; a++) kept |= src->lab[b] == lab[a];
        if (kept) continue;
        gd[ng] = src->dim[b];
        gs[ng] = sst[b];
        inner *= src->dim[b];
        ng++;
    }
    memset(dst, 0, sizeof *dst);
    dst->nd = n;
    memcpy(dst->lab, lab, (size_t)n * sizeof *lab);
    memcpy(dst->dim, dim, (size_t)n * sizeof *dim);
    TRY(scratch(c, &dst->t, outer * inner));
    if (inner == 1) {
        weft_gather_strided(dst->t.data, src->t.data, ng, gd, gs);
        return WEFT_OK;
    }
    weft_tensor tmp = {0};
    TRY(scratch(c, &tmp, outer * inner));
    weft_gather_strided(tmp.data, src->t.data, ng, gd, gs);
    weft_sum_inner(outer, inner, tmp.data, dst->t.data);
    weft_tensor_free(&tmp);
    return WEFT_OK;
}

/* Is label L needed by the output, by the running result ops[0] (when with_first), or by the
 * operands from `from` on other than `self`? */
static bool ein_needed(const ein_plan *p, const ein_op *ops, bool with_first, int from, int self, int L) {
    for (int a = 0; a < p->n_out; a++)
        if (p->out[a] == L) return true;
    for (int a = 0; with_first && a < ops[0].nd; a++)
        if (ops[0].lab[a] == L) return true;
    for (int i = from; i < p->n_op; i++)
        if (i != self)
            for (int a = 0; a < ops[i].nd; a++)
                if (ops[i].lab[a] == L) return true;
    return false;
}

static weft_status eval_einsum(weft_op_ctx *c) {
    ein_plan p;
    TRY(ein_parse(c, &p));
    ein_op ops[WEFT_MAX_IO];
    memset(ops, 0, sizeof ops);
    weft_status s = WEFT_OK;
    /* 1. diagonals: each operand as its distinct labels; repeated labels read with summed strides */
    for (int i = 0; i < p.n_op && !s; i++) {
        const weft_tensor *in = c->in[i];
        int64_t st[WEFT_MAX_DIMS], ss = 1;
        for (int a = in->shape.ndim - 1; a >= 0; a--) { st[a] = ss; ss *= in->shape.d[a]; }
        ein_op *o = &ops[i];
        int64_t gs[WEFT_MAX_DIMS];
        for (int a = 0; a < p.nlab[i]; a++) {
            int b = 0;
            while (b < o->nd && o->lab[b] != p.lab[i][a]) b++;
            if (b == o->nd) { o->lab[b] = p.lab[i][a]; o->dim[b] = in->shape.d[a]; gs[b] = 0; o->nd++; }
            gs[b] += st[a];
        }
        int64_t total = 1;
        for (int b = 0; b < o->nd; b++) total *= o->dim[b];
        s = scratch(c, &o->t, total);
        if (!s) weft_gather_strided(o->t.data, in->data, o->nd, o->dim, gs);
    }
    /* 2. contract left to right */
    for (int i = 0; i < p.n_op && !s; i++) {
        /* sum away labels of operand i that nothing else needs */
        ein_op *o = &ops[i];
        int keep[WEFT_MAX_DIMS], nk = 0;
        int64_t kd[WEFT_MAX_DIMS];
        for (int a = 0; a < o->nd; a++)
            if (ein_needed(&p, ops, i > 0, i, i, o->lab[a])) { keep[nk] = o->lab[a]; kd[nk++] = o->dim[a]; }
        if (nk < o->nd) {
            ein_op r;
            s = ein_relayout(c, o, keep, kd, nk, &r);
            weft_tensor_free(&o->t);
            *o = r;
            if (s) break;
        }
        if (i == 0) continue;
        /* combine A = ops[0] (the running result) with B = ops[i] */
        ein_op *A = &ops[0], *B = &ops[i];
        int bl[WEFT_MAX_DIMS], ml[WEFT_MAX_DIMS], kl[WEFT_MAX_DIMS], nl[WEFT_MAX_DIMS], nb = 0, nm = 0, nkk = 0, nn = 0;
        for (int a = 0; a < A->nd; a++) {
            int L = A->lab[a];
            bool inb = false;
            for (int b = 0; b < B->nd; b++) inb |= B->lab[b] == L;
            if (!inb) ml[nm++] = L;
            else if (ein_needed(&p, ops, false, i + 1, -1, L)) bl[nb++] = L;
            else kl[nkk++] = L;
        }
        for (int b = 0; b < B->nd; b++) {
            bool ina = false;
            for (int a = 0; a < A->nd; a++) ina |= A->lab[a] == B->lab[b];
            if (!ina) nl[nn++] = B->lab[b];
        }
        if (nb + nm + nkk > WEFT_MAX_DIMS || nb + nkk + nn > WEFT_MAX_DIMS || nb + nm + nn > WEFT_MAX_DIMS) {
            s = NODE_ERR(c, WEFT_ERR_UNSUPPORTED, "an intermediate above rank %d", WEFT_MAX_DIMS);
            break;
        }
        int la[WEFT_MAX_DIMS], lb[WEFT_MAX_DIMS], lr[WEFT_MAX_DIMS];
        int64_t da[WEFT_MAX_DIMS], db[WEFT_MAX_DIMS], dr[WEFT_MAX_DIMS];
        int64_t Bt = 1, Mt = 1, Kt = 1, Nt = 1;
        int na = 0, nbb = 0, nr = 0;
        for (int q = 0; q < nb; q++) {
            int64_t e = p.size[bl[q]];
            la[na] = bl[q]; da[na++] = e; lb[nbb] = bl[q]; db[nbb++] = e; lr[nr] = bl[q]; dr[nr++] = e; Bt *= e;
        }
        for (int q = 0; q < nm; q++) {
            int64_t e = ein_ext(A, ml[q]);
            la[na] = ml[q]; da[na++] = e; lr[nr] = ml[q]; dr[nr++] = e; Mt *= e;
        }
        for (int q = 0; q < nkk; q++) {
            int64_t e = p.size[kl[q]];
            la[na] = kl[q]; da[na++] = e; lb[nbb] = kl[q]; db[nbb++] = e; Kt *= e;
        }
        for (int q = 0; q < nn; q++) {
            int64_t e = ein_ext(B, nl[q]);
            lb[nbb] = nl[q]; db[nbb++] = e; lr[nr] = nl[q]; dr[nr++] = e; Nt *= e;
        }
        ein_op a2, b2, r = {0};
        s = ein_relayout(c, A, la, da, na, &a2);
        if (s) break;
        s = ein_relayout(c, B, lb, db, nbb, &b2);
        if (s) { weft_tensor_free(&a2.t); break; }
        r.nd = nr;
        memcpy(r.lab, lr, sizeof lr);
        memcpy(r.dim, dr, sizeof dr);
        s = scratch(c, &r.t, Bt * Mt * Nt);
        if (!s)
            for (int64_t bi = 0; bi < Bt; bi++)
                weft_gemm(false, false, Mt, Nt, Kt, 1.0f, (float *)a2.t.data + bi * Mt * Kt, Kt,
                          (float *)b2.t.data + bi * Kt * Nt, Nt, 0.0f, (float *)r.t.data + bi * Mt * Nt, Nt);
        weft_tensor_free(&a2.t);
        weft_tensor_free(&b2.t);
        weft_tensor_free(&A->t);
        weft_tensor_free(&B->t);
        *A = r;
    }
    /* 3. the output: permute, broadcast, sum what is left */
    if (!s) {
        int64_t od[WEFT_MAX_DIMS];
        for (int a = 0; a < p.n_out; a++) od[a] = p.size[p.out[a]];
        ein_op r;
        s = ein_relayout(c, &ops[0], p.out, od, p.n_out, &r);
        if (!s) {
            memcpy(c->out[0].data, r.t.data, (size_t)numel(&c->out[0]) * sizeof(float));
            weft_tensor_free(&r.t);
        }
    }
    for (int i = 0; i < p.n_op; i++) weft_tensor_free(&ops[i].t);
    return s;
}

static weft_cost cost_einsum(const weft_op_ctx *c) {
    weft_cost k = {0};
    weft_err e = {0};
    weft_op_ctx cc = *c;
    cc.err = &e;
    ein_plan p;
    if (ein_parse(&cc, &p)) return k;
    /* every distinct label once: the multiply-adds of the naive loop nest */
    int64_t f = 2;
    for (int L = 0; L < EIN_LABELS; L++)
        if (p.size[L] > 0) f *= p.size[L];
    k.flops = f;
    k.bytes = io_bytes(c);
    return k;
}

/* ---- backward rules (grad/grad.h) and the kernels' rows they use ---- */

#define BWD(fn) static weft_status fn(weft_graph *g, const weft_node *n, const int *dy, int *dx, weft_err *err)
#define BEGIN weft_gb b_, *b = &b_; weft_gb_init(b, g, n, err)
#define SHAPE(v) weft_gb_shape(b, v)

/* The permutation that swaps the last two axes of a rank-r tensor. */
static int swap_last(weft_gb *b, int x) {
    int r = SHAPE(x).ndim;
    int64_t perm[WEFT_MAX_DIMS];
    for (int k = 0; k < r; k++) perm[k] = k;
    perm[r - 2] = r - 1;
    perm[r - 1] = r - 2;
    weft_attr a = WEFT_ATTR_IS("perm", perm, r);
    return weft_gb_node(b, "Transpose", &x, 1, &a, 1);
}

/* MatMul: dA = dY B^T, dB = A^T dY, batch axes summed back to each operand's; 1-D operands are
 * promoted to (1, K) and (K, 1) first, as the forward does. */
BWD(matmul_backward) {
    BEGIN;
    int A = n->in[0], B = n->in[1];
    weft_shape as = SHAPE(A), bs = SHAPE(B), ys = SHAPE(dy[0]), a2 = as, b2 = bs, y2;
    if (as.ndim == 1) a2 = WEFT_SHAPE(1, as.d[0]);
    if (bs.ndim == 1) b2 = WEFT_SHAPE(bs.d[0], 1);
    y2.ndim = ys.ndim - (as.ndim > 1) - (bs.ndim > 1);
    for (int k = 0; k < y2.ndim; k++) y2.d[k] = ys.d[k];
    y2.d[y2.ndim++] = a2.d[a2.ndim - 2];
    y2.d[y2.ndim++] = b2.d[b2.ndim - 1];
    int A2 = weft_gb_reshape(b, A, a2), B2 = weft_gb_reshape(b, B, b2), G = weft_gb_reshape(b, dy[0], y2);
    int dA = weft_gb_op2(b, "MatMul", G, swap_last(b, B2));
    int dB;
    if (b2.ndim == 2 && a2.ndim > 2) {
        /* a weight shared by every row of a batched A (a linear layer over (B, T, K)): one
         * contraction over all rows, dB (K, N) = A (rows, K)^T G (rows, N), with no per-sample
         * (B, K, N) products to sum; on the fabric it accumulates over the streamed rows */
        int64_t rows = 1;
        for (int k = 0; k < a2.ndim - 1; k++) rows *= a2.d[k];
        int Ar = weft_gb_reshape(b, A2, WEFT_SHAPE(rows, a2.d[a2.ndim - 1]));
        int Gr = weft_gb_reshape(b, G, WEFT_SHAPE(rows, y2.d[y2.ndim - 1]));
        dB = weft_gb_node(b, "Gemm", (int[]){Ar, Gr}, 2, (weft_attr[]){WEFT_ATTR_I("transA", 1)}, 1);
    } else {
        dB = weft_gb_op2(b, "MatMul", swap_last(b, A2), G);
    }
    dx[0] = weft_gb_reshape(b, weft_gb_unbroadcast(b, dA, a2), as);
    dx[1] = weft_gb_reshape(b, weft_gb_unbroadcast(b, dB, b2), bs);
    return b->s;
}

/* Gemm: Y = alpha op(A) op(B) + beta C. */
BWD(gemm_backward) {
    BEGIN;
    int64_t ta = weft_attr_i(n, "transA", 0) != 0, tb = weft_attr_i(n, "transB", 0) != 0;
    float alpha = weft_attr_f(n, "alpha", 1.0f), beta = weft_attr_f(n, "beta", 1.0f);
    int A = n->in[0], B = n->in[1], G = dy[0];
    weft_attr al = WEFT_ATTR_F("alpha", alpha);
    if (!ta) dx[0] = weft_gb_node(b, "Gemm", (int[]){G, B}, 2, (weft_attr[]){al, WEFT_ATTR_I("transB", !tb)}, 2);
    else dx[0] = weft_gb_node(b, "Gemm", (int[]){B, G}, 2,
                              (weft_attr[]){al, WEFT_ATTR_I("transA", tb), WEFT_ATTR_I("transB", 1)}, 3);
    if (!tb) dx[1] = weft_gb_node(b, "Gemm", (int[]){A, G}, 2, (weft_attr[]){al, WEFT_ATTR_I("transA", !ta)}, 2);
    else dx[1] = weft_gb_node(b, "Gemm", (int[]){G, A}, 2,
                              (weft_attr[]){al, WEFT_ATTR_I("transA", 1), WEFT_ATTR_I("transB", ta)}, 3);
    if (n->n_in > 2 && n->in[2] >= 0) {
        int gc = beta == 1.0f ? G : weft_gb_op2(b, "Mul", G, weft_gb_scalar(b, beta, G));
        dx[2] = weft_gb_unbroadcast(b, gc, SHAPE(n->in[2]));
    }
    return b->s;
}

/* Sum of dy over every axis but the channel axis 1: the gradient of a per-channel bias (C). */
static int channel_sum(weft_gb *b, int dy) {
    int r = SHAPE(dy).ndim;
    return weft_gb_reduce_sum(b, dy, ((1u << r) - 1) & ~2u, false);
}

/* Conv: dX and dW by their own kernels (dX is the transposed convolution of dY), dB = sum. */
BWD(conv_backward) {
    BEGIN;
    int X = n->in[0], W = n->in[1];
    dx[0] = weft_gb_node(b, "weft.ConvGradInput", (int[]){X, W, dy[0]}, 3, n->attrs, n->n_attrs);
    dx[1] = weft_gb_node(b, "weft.ConvGradWeight", (int[]){X, W, dy[0]}, 3, n->attrs, n->n_attrs);
    if (n->n_in > 2 && n->in[2] >= 0) dx[2] = channel_sum(b, dy[0]);
    return b->s;
}

/* ConvTranspose is the adjoint of the Conv from y back to x with the same window and W as that
 * Conv's weight: dX = Conv(dY, W); dW is that Conv's weight gradient, with dY as its input and X
 * as the gradient of its output; the bias's, dY summed over all but the channels. The Conv gets
 * the window's strides, dilations, group and explicit pads (ConvTranspose's auto_pad,
 * output_padding and output_shape resolved into them; an output_padding row is one the Conv's
 * window does not reach, as it never reached x). */
BWD(convt_backward) {
    BEGIN;
    const weft_graph *cg = g;
    weft_op_ctx c = {.node = n, .graph = cg, .n_in = n->n_in, .err = err};
    weft_tensor desc[3] = {{0}};
    for (int q = 0; q < n->n_in && q < 3; q++) {
        if (n->in[q] < 0) continue;
        desc[q].dtype = g->vals[n->in[q]].dtype;
        desc[q].shape = g->vals[n->in[q]].shape;
        c.in[q] = &desc[q];
    }
    weft_window w;
    int64_t group, M;
    if (convt_geom(&c, &w, &group, &M)) return err->status;
    int64_t strides[WEFT_NN_MAX_SP], dil[WEFT_NN_MAX_SP], pads[2 * WEFT_NN_MAX_SP], ks[WEFT_NN_MAX_SP];
    for (int j = 0; j < w.nsp; j++) {
        strides[j] = w.stride[j], dil[j] = w.dil[j], ks[j] = w.k[j];
        pads[j] = w.pad0[j], pads[w.nsp + j] = w.pad1[j];
        if (w.pad0[j] < 0 || w.pad1[j] < 0)
            return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "node '%s' (ConvTranspose): no backward rule for an output larger "
                                "than the input reaches (negative padding on axis %d)", n->name, j);
    }
    weft_attr at[] = {{.name = "strides", .type = WEFT_ATTR_INTS, .ints = strides, .n = w.nsp},
                      {.name = "dilations", .type = WEFT_ATTR_INTS, .ints = dil, .n = w.nsp},
                      {.name = "pads", .type = WEFT_ATTR_INTS, .ints = pads, .n = 2 * w.nsp},
                      {.name = "kernel_shape", .type = WEFT_ATTR_INTS, .ints = ks, .n = w.nsp},
                      {.name = "group", .type = WEFT_ATTR_INT, .i = group}};
    int X = n->in[0], W = n->in[1];
    dx[0] = weft_gb_node(b, "Conv", (int[]){dy[0], W}, 2, at, 5);
    dx[1] = weft_gb_node(b, "weft.ConvGradWeight", (int[]){dy[0], W, X}, 3, at, 5);
    if (n->n_in > 2 && n->in[2] >= 0) dx[2] = channel_sum(b, dy[0]);
    return b->s;
}

/* weft.ConvGradInput / weft.ConvGradWeight (X, W, dY): X and W give the geometry (as Conv's,
 * from the same attributes); the output is dX (X's shape) or dW (W's shape). */
static weft_status conv_grad_geom(weft_op_ctx *c, weft_window *w, int64_t *group) {
    weft_op_ctx cc = *c;
    cc.n_in = 2;
    TRY(conv_geom(&cc, w, group));
    const weft_shape *x = &c->in[0]->shape, *g = &c->in[2]->shape;
    bool ok = g->ndim == x->ndim && g->d[0] == x->d[0] && g->d[1] == c->in[1]->shape.d[0];
    for (int j = 0; j < w->nsp && ok; j++) ok = g->d[2 + j] == w->out[j];
    if (!ok) return NODE_ERR(c, WEFT_ERR_SHAPE, "dY does not have the convolution's output shape");
    return WEFT_OK;
}

static weft_status infer_conv_grad(weft_op_ctx *c) {
    weft_window w;
    int64_t group;
    TRY(conv_grad_geom(c, &w, &group));
    int which = strstr(c->node->op->name, "Weight") ? 1 : 0;
    c->out[0].dtype = c->in[which]->dtype;
    c->out[0].shape = c->in[which]->shape;
    return WEFT_OK;
}

static weft_status eval_conv_grad(weft_op_ctx *c) {
    weft_window w;
    int64_t group;
    TRY(conv_grad_geom(c, &w, &group));
    int64_t N = c->in[0]->shape.d[0], C = c->in[0]->shape.d[1], M = c->in[1]->shape.d[0];
    bool weight = strstr(c->node->op->name, "Weight") != NULL;
    weft_tensor work = {0};
    TRY(scratch(c, &work, weight ? weft_conv_workspace(&w, C, group) : weft_conv_backward_input_workspace(&w, C, group)));
    if (weight) weft_conv_backward_weight(&w, N, C, M, group, c->in[0]->data, c->in[2]->data, c->out[0].data, work.data);
    else weft_conv_backward_input(&w, N, C, M, group, c->in[2]->data, c->in[1]->data, c->out[0].data, work.data);
    weft_tensor_free(&work);
    return WEFT_OK;
}

static weft_cost cost_conv_grad(const weft_op_ctx *c) {
    weft_cost k = {0};
    const weft_shape *wt = &c->in[1]->shape;
    int64_t per = 1;
    for (int i = 1; i < wt->ndim; i++) per *= wt->d[i];
    k.flops = 2 * numel(c->in[2]) * per;
    k.bytes = io_bytes(c);
    return k;
}

/* MaxPool, AveragePool: dX by the pooling backward kernel (weft.MaxPoolGrad /
 * weft.AveragePoolGrad (X, dY), the forward's attributes). */
BWD(pool_backward) {
    BEGIN;
    const char *op = !strcmp(n->op->name, "MaxPool") ? "weft.MaxPoolGrad" : "weft.AveragePoolGrad";
    dx[0] = weft_gb_node(b, op, (int[]){n->in[0], dy[0]}, 2, n->attrs, n->n_attrs);
    return b->s;
}

static weft_status infer_pool_grad(weft_op_ctx *c) {
    weft_window w;
    TRY(pool_geom(c, &w));
    weft_shape y = c->in[0]->shape;
    for (int j = 0; j < w.nsp; j++) y.d[2 + j] = w.out[j];
    if (!weft_shape_eq(&y, &c->in[1]->shape)) return NODE_ERR(c, WEFT_ERR_SHAPE, "dY does not have the pooled shape");
    TRY(need_float(c, 1, "dY"));
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = c->in[0]->shape;
    return WEFT_OK;
}

static weft_status eval_pool_grad(weft_op_ctx *c) {
    weft_window w;
    TRY(pool_geom(c, &w));
    int64_t NC = c->in[0]->shape.d[0] * c->in[0]->shape.d[1];
    weft_pool_backward(&w, pool_kind(c), NC, c->in[0]->data, c->in[1]->data, c->out[0].data,
                       weft_attr_i(c->node, "count_include_pad", 0) != 0);
    return WEFT_OK;
}

/* GlobalAveragePool: dX = dY / S, broadcast over the spatial positions. */
BWD(global_avg_pool_backward) {
    BEGIN;
    weft_shape xs = SHAPE(n->in[0]);
    int64_t S = 1;
    for (int j = 2; j < xs.ndim; j++) S *= xs.d[j];
    dx[0] = weft_gb_expand(b, weft_gb_op2(b, "Div", dy[0], weft_gb_scalar(b, (double)S, dy[0])), xs);
    return b->s;
}

/* BatchNormalization (inference): y = (x - mean) inv scale + B with inv = 1 / sqrt(var + eps).
 * dX = dY scale inv; dscale = sum dY (x - mean) inv; dB = sum dY (sums over all but axis 1).
 * The running statistics get no gradient. */
BWD(batchnorm_backward) {
    BEGIN;
    int X = n->in[0], scale = n->in[1], mean = n->in[3], var = n->in[4];
    weft_shape xs = SHAPE(X), cs = {.ndim = xs.ndim - 1};
    cs.d[0] = xs.d[1];
    for (int j = 1; j < cs.ndim; j++) cs.d[j] = 1;
    float eps = weft_attr_f(n, "epsilon", 1e-5f);
    int inv = weft_gb_op1(b, "Reciprocal", weft_gb_op1(b, "Sqrt", weft_gb_op2(b, "Add", var, weft_gb_scalar(b, eps, var))));
    int a = weft_gb_reshape(b, weft_gb_op2(b, "Mul", scale, inv), cs);
    dx[0] = weft_gb_op2(b, "Mul", dy[0], a);
    int xhat = weft_gb_op2(b, "Mul", weft_gb_op2(b, "Sub", X, weft_gb_reshape(b, mean, cs)), weft_gb_reshape(b, inv, cs));
    dx[1] = channel_sum(b, weft_gb_op2(b, "Mul", dy[0], xhat));
    dx[2] = channel_sum(b, dy[0]);
    return b->s;
}

/* LayerNormalization: weft.LayerNormGrad (X, dY, Scale) -> dX, dScale and dB over the normalized
 * shape, summed back to Scale's and B's shapes. No gradient flows from the Mean and InvStdDev
 * outputs. */
BWD(layernorm_backward) {
    BEGIN;
    for (int j = 1; j < n->n_out; j++)
        if (dy[j] >= 0) return weft_gb_fail(b, WEFT_ERR_UNSUPPORTED, "a gradient of output %d (the statistics)", j);
    bool has_scale = n->n_in > 1 && n->in[1] >= 0, has_b = n->n_in > 2 && n->in[2] >= 0;
    int out[3];
    int in[3] = {n->in[0], dy[0], has_scale ? n->in[1] : -1};
    weft_gb_nodes(b, "weft.LayerNormGrad", in, has_scale ? 3 : 2, n->attrs, n->n_attrs, out, 3);
    dx[0] = out[0];
    if (has_scale) dx[1] = weft_gb_unbroadcast(b, out[1], SHAPE(n->in[1]));
    if (has_b) dx[2] = weft_gb_unbroadcast(b, out[2], SHAPE(n->in[2]));
    return b->s;
}

static weft_status layernorm_grad_geom(weft_op_ctx *c, int *axis, int64_t *rows, int64_t *cols, weft_shape *norm) {
    weft_op_ctx cc = *c;
    cc.in[1] = has_in(c, 2) ? c->in[2] : NULL;
    cc.in[2] = NULL;
    cc.n_in = 2;
    TRY(layernorm_geom(&cc, axis, rows, cols, norm));
    if (!weft_shape_eq(&c->in[0]->shape, &c->in[1]->shape)) return NODE_ERR(c, WEFT_ERR_SHAPE, "X and dY differ in shape");
    return WEFT_OK;
}

static weft_status infer_layernorm_grad(weft_op_ctx *c) {
    int axis;
    int64_t rows, cols;
    weft_shape norm;
    TRY(layernorm_grad_geom(c, &axis, &rows, &cols, &norm));
    for (int j = 0; j < 3; j++) c->out[j].dtype = c->in[0]->dtype;
    c->out[0].shape = c->in[0]->shape;
    c->out[1].shape = c->out[2].shape = norm;
    return WEFT_OK;
}

static weft_status eval_layernorm_grad(weft_op_ctx *c) {
    int axis;
    int64_t rows, cols;
    weft_shape norm;
    TRY(layernorm_grad_geom(c, &axis, &rows, &cols, &norm));
    weft_tensor sc = {0};
    TRY(scratch(c, &sc, cols));
    if (has_in(c, 2)) { /* Scale expanded to (cols), as the forward reads it (zeros when absent) */
        int64_t st[WEFT_MAX_DIMS];
        weft_bcast_strides(&c->in[2]->shape, &norm, st);
        weft_gather_strided(sc.data, c->in[2]->data, norm.ndim, norm.d, st);
    }
    weft_layernorm_backward(rows, cols, c->in[0]->data, sc.data, c->in[1]->data, weft_attr_f(c->node, "epsilon", 1e-5f),
                            c->out[0].data, c->out[1].data, c->out[2].data);
    weft_tensor_free(&sc);
    return WEFT_OK;
}

/* Softmax, LogSoftmax: weft.SoftmaxGrad / weft.LogSoftmaxGrad (Y, dY) from the forward's output,
 * with its axis and its opset's rule (legacy: before 13, the input coerced to 2-D). */
static int softmax_grad_node(weft_gb *b, bool log, int y, int g, int64_t axis, bool legacy) {
    weft_attr a[2] = {WEFT_ATTR_I("axis", axis), WEFT_ATTR_I("legacy", legacy)};
    return weft_gb_node(b, log ? "weft.LogSoftmaxGrad" : "weft.SoftmaxGrad", (int[]){y, g}, 2, a, 2);
}

BWD(softmax_backward) {
    BEGIN;
    bool old = n->opset < 13;
    dx[0] = softmax_grad_node(b, !strcmp(n->op->name, "LogSoftmax"), n->out[0], dy[0], weft_attr_i(n, "axis", old ? 1 : -1),
                              old);
    return b->s;
}

static weft_status infer_softmax_grad(weft_op_ctx *c) {
    if (!weft_shape_eq(&c->in[0]->shape, &c->in[1]->shape)) return NODE_ERR(c, WEFT_ERR_SHAPE, "Y and dY differ in shape");
    return infer_softmax(c);
}

static weft_status eval_softmax_grad(weft_op_ctx *c) {
    int64_t o, l, i;
    TRY(softmax_geom(c, &o, &l, &i));
    weft_softmax_backward(strstr(c->node->op->name, "Log") ? WEFT_LOG_SOFTMAX : WEFT_SOFTMAX, o, l, i, c->in[0]->data,
                          c->in[1]->data, c->out[0].data);
    return WEFT_OK;
}

/* SoftmaxCrossEntropyLoss, NegativeLogLikelihoodLoss: d(input) by weft.*LossGrad (X, target,
 * dLoss, [weight]) with the forward's ignore_index and reduction; a gradient of
 * SoftmaxCrossEntropyLoss's log_prob output adds its LogSoftmax backward. The class weights get
 * no gradient. */
BWD(loss_backward) {
    BEGIN;
    bool sce = !strcmp(n->op->name, "SoftmaxCrossEntropyLoss");
    int d = -1;
    if (dy[0] >= 0) {
        int in[4] = {n->in[0], n->in[1], dy[0], n->n_in > 2 ? n->in[2] : -1};
        d = weft_gb_node(b, sce ? "weft.SoftmaxCrossEntropyLossGrad" : "weft.NegativeLogLikelihoodLossGrad", in,
                         in[3] >= 0 ? 4 : 3, n->attrs, n->n_attrs);
    }
    if (sce && n->n_out > 1 && dy[1] >= 0) {
        int e = softmax_grad_node(b, true, n->out[1], dy[1], 1, false);
        d = d < 0 ? e : weft_gb_op2(b, "Add", d, e);
    }
    dx[0] = d;
    return b->s;
}

static weft_status loss_grad_geom(weft_op_ctx *c, int64_t *N, int64_t *C, int64_t *D, weft_reduction *red) {
    weft_op_ctx cc = *c;
    cc.in[2] = has_in(c, 3) ? c->in[3] : NULL;
    cc.n_in = 3;
    TRY(loss_geom(&cc, N, C, D, red));
    const weft_shape *gs = &c->in[2]->shape;
    bool ok = *red == WEFT_REDUCE_NONE ? weft_shape_eq(gs, &c->in[1]->shape) : weft_shape_numel(gs) == 1;
    if (!ok) return NODE_ERR(c, WEFT_ERR_SHAPE, "dLoss does not have the loss's shape");
    TRY(need_float(c, 2, "dLoss"));
    return WEFT_OK;
}

static weft_status infer_loss_grad(weft_op_ctx *c) {
    int64_t N, C, D;
    weft_reduction red;
    TRY(loss_grad_geom(c, &N, &C, &D, &red));
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = c->in[0]->shape;
    return WEFT_OK;
}

static weft_status eval_loss_grad(weft_op_ctx *c) {
    int64_t N, C, D;
    weft_reduction red;
    TRY(loss_grad_geom(c, &N, &C, &D, &red));
    const weft_attr *ii = weft_node_attr(c->node, "ignore_index");
    bool sce = strstr(c->node->op->name, "SoftmaxCrossEntropy") != NULL;
    weft_tensor dlogp = {0}, logp = {0};
    float *dl = c->out[0].data;
    if (sce) {
        TRY(scratch(c, &dlogp, numel(c->in[0])));
        weft_status s = scratch(c, &logp, numel(c->in[0]));
        if (s) { weft_tensor_free(&dlogp); return s; }
        dl = dlogp.data;
    }
    int64_t bad = weft_nll_backward(N, C, D, c->in[1]->data, has_in(c, 3) ? c->in[3]->data : NULL, ii != NULL,
                                    ii ? ii->i : 0, red, c->in[2]->data, dl);
    if (sce && bad < 0) {
        /* through the log-softmax over the class axis */
        weft_softmax_forward(WEFT_LOG_SOFTMAX, N, C, D, c->in[0]->data, logp.data);
        weft_softmax_backward(WEFT_LOG_SOFTMAX, N, C, D, logp.data, dlogp.data, c->out[0].data);
    }
    weft_tensor_free(&dlogp);
    weft_tensor_free(&logp);
    if (bad >= 0)
        return NODE_ERR(c, WEFT_ERR_INVALID, "target element %lld is %lld, outside the %lld classes", (long long)bad,
                        (long long)((const int64_t *)c->in[1]->data)[bad], (long long)C);
    return WEFT_OK;
}

#undef BWD
#undef BEGIN
#undef SHAPE

/* ---- the rows ---- */

#define POOL_ATTRS "auto_pad,kernel_shape,pads,strides,dilations,ceil_mode"

const weft_op_def weft_ops_nn[] = {
    {"MatMul", 2, 2, 1, 1, 0, "", infer_matmul, eval_matmul, cost_matmul, matmul_backward},
    {"Gemm", 2, 3, 1, 1, 0, "transA,transB,alpha,beta", infer_gemm, eval_gemm, cost_gemm, gemm_backward},
    {"Conv", 2, 3, 1, 1, 0, "auto_pad,dilations,group,kernel_shape,pads,strides", infer_conv, eval_conv, cost_conv, conv_backward},
    {"ConvTranspose", 2, 3, 1, 1, 0, "auto_pad,dilations,group,kernel_shape,output_padding,output_shape,pads,strides",
     infer_convt, eval_convt, cost_convt, convt_backward},
    {"MaxPool", 1, 1, 1, 2, 0, POOL_ATTRS ",storage_order", infer_pool, eval_pool, cost_pool, pool_backward},
    {"AveragePool", 1, 1, 1, 1, 0, POOL_ATTRS ",count_include_pad", infer_pool, eval_pool, cost_pool, pool_backward},
    {"LpPool", 1, 1, 1, 1, 0, POOL_ATTRS ",p", infer_pool, eval_pool, cost_pool, NULL},
    {"MaxUnpool", 2, 3, 1, 1, 1u << 2, "kernel_shape,pads,strides", infer_unpool, eval_unpool, cost_1, NULL},
    {"GlobalAveragePool", 1, 1, 1, 1, 0, "", infer_global_pool, eval_global_pool, cost_1, global_avg_pool_backward},
    {"GlobalMaxPool", 1, 1, 1, 1, 0, "", infer_global_pool, eval_global_pool, cost_1, NULL},
    {"GlobalLpPool", 1, 1, 1, 1, 0, "p", infer_global_pool, eval_global_pool, cost_5, NULL},
    {"BatchNormalization", 5, 5, 1, 5, 0, "epsilon,momentum,spatial,training_mode", infer_batchnorm, eval_batchnorm,
     cost_5, batchnorm_backward},
    {"InstanceNormalization", 3, 3, 1, 1, 0, "epsilon", infer_instancenorm, eval_instancenorm, cost_5, NULL},
    {"LayerNormalization", 2, 3, 1, 3, 0, "axis,epsilon,stash_type", infer_layernorm, eval_layernorm, cost_5, layernorm_backward},
    {"LRN", 1, 1, 1, 1, 0, "alpha,beta,bias,size", infer_lrn, eval_lrn, cost_5, NULL},
    {"MeanVarianceNormalization", 1, 1, 1, 1, 0, "axes", infer_mvn, eval_mvn, cost_5, NULL},
    {"Softmax", 1, 1, 1, 1, 0, "axis", infer_softmax, eval_softmax, cost_5, softmax_backward},
    {"LogSoftmax", 1, 1, 1, 1, 0, "axis", infer_softmax, eval_softmax, cost_5, softmax_backward},
    {"Hardmax", 1, 1, 1, 1, 0, "axis", infer_softmax, eval_softmax, cost_1, NULL},
    {"Einsum", 1, -1, 1, 1, 0, "equation", infer_einsum, eval_einsum, cost_einsum, NULL},
    {"NegativeLogLikelihoodLoss", 2, 3, 1, 1, 0, "ignore_index,reduction", infer_loss, eval_loss, cost_1, loss_backward},
    {"SoftmaxCrossEntropyLoss", 2, 3, 1, 2, 0, "ignore_index,reduction", infer_loss, eval_loss, cost_5, loss_backward},
    /* internal: kernels of backward rules */
    {"weft.ConvGradInput", 3, 3, 1, 1, 0, "auto_pad,dilations,group,kernel_shape,pads,strides", infer_conv_grad,
     eval_conv_grad, cost_conv_grad, NULL},
    {"weft.ConvGradWeight", 3, 3, 1, 1, 0, "auto_pad,dilations,group,kernel_shape,pads,strides", infer_conv_grad,
     eval_conv_grad, cost_conv_grad, NULL},
    {"weft.MaxPoolGrad", 2, 2, 1, 1, 0, POOL_ATTRS ",storage_order", infer_pool_grad, eval_pool_grad, cost_pool, NULL},
    {"weft.AveragePoolGrad", 2, 2, 1, 1, 0, POOL_ATTRS ",count_include_pad", infer_pool_grad, eval_pool_grad, cost_pool,
     NULL},
    {"weft.LayerNormGrad", 2, 3, 3, 3, 0, "axis,epsilon,stash_type", infer_layernorm_grad, eval_layernorm_grad, cost_5,
     NULL},
    {"weft.SoftmaxGrad", 2, 2, 1, 1, 0, "axis,legacy", infer_softmax_grad, eval_softmax_grad, cost_5, NULL},
    {"weft.LogSoftmaxGrad", 2, 2, 1, 1, 0, "axis,legacy", infer_softmax_grad, eval_softmax_grad, cost_5, NULL},
    {"weft.NegativeLogLikelihoodLossGrad", 3, 4, 1, 1, 0, "ignore_index,reduction", infer_loss_grad, eval_loss_grad,
     cost_1, NULL},
    {"weft.SoftmaxCrossEntropyLossGrad", 3, 4, 1, 1, 0, "ignore_index,reduction", infer_loss_grad, eval_loss_grad,
     cost_5, NULL},
    {0},
};
