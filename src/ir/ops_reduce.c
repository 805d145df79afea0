/* ir: the Reduce* ops. Axes come from the `axes` attribute (before opset 18; ReduceSum before 13)
 * or from input 1 (known at compile time); keepdims keeps the reduced axes as size 1; with no axes
 * every axis is reduced, unless noop_with_empty_axes, when none is (each element reduces alone:
 * ReduceSumSquare still squares). One kernel, weft_reduce, does them all. */
#include "ir/ir.h"
#include "grad/grad.h"
#include "kernels/shape.h"

#include <string.h>

static const char *const names[WEFT_REDUCE_COUNT] = {
    [WEFT_REDUCE_SUM] = "ReduceSum",         [WEFT_REDUCE_MEAN] = "ReduceMean",
    [WEFT_REDUCE_MAX] = "ReduceMax",         [WEFT_REDUCE_MIN] = "ReduceMin",
    [WEFT_REDUCE_PROD] = "ReduceProd",       [WEFT_REDUCE_SUM_SQUARE] = "ReduceSumSquare",
    [WEFT_REDUCE_L1] = "ReduceL1",           [WEFT_REDUCE_L2] = "ReduceL2",
    [WEFT_REDUCE_LOG_SUM] = "ReduceLogSum",  [WEFT_REDUCE_LOG_SUM_EXP] = "ReduceLogSumExp",
};

static weft_reduce_op reduce_op(const weft_node *n) {
    for (int k = 0; k < WEFT_REDUCE_COUNT; k++)
        if (!strcmp(names[k], n->op->name)) return (weft_reduce_op)k;
    WEFT_ASSERT(0);
    return WEFT_REDUCE_SUM;
}

/* The reduced axes as a bit mask (0: none). */
static weft_status reduce_axes(const weft_op_ctx *c, uint32_t *mask) {
    const weft_shape *in = &c->in[0]->shape;
    int64_t v[WEFT_MAX_DIMS];
    int n = 0;
    bool given = false;
    if (c->n_in > 1 && c->in[1]) {
        const weft_tensor *t = c->in[1];
        if (t->shape.ndim > 1 || weft_dtype_is_float(t->dtype) || t->dtype == WEFT_BOOL)
            return weft_node_err(c, WEFT_ERR_SHAPE, "axes must be a 1-D integer tensor");
        int64_t len = weft_tensor_numel(t);
        if (len > WEFT_MAX_DIMS) return weft_node_err(c, WEFT_ERR_INVALID, "%lld axes for an input of rank %d", (long long)len, in->ndim);
        for (int64_t k = 0; k < len; k++) v[k] = weft_tensor_get_i(t, k);
        n = (int)len;
        given = true;
    } else {
        const int64_t *a = weft_attr_ints(c->node, "axes", &n);
        if (a) {
            if (n > WEFT_MAX_DIMS) return weft_node_err(c, WEFT_ERR_INVALID, "%d axes for an input of rank %d", n, in->ndim);
            memcpy(v, a, (size_t)n * sizeof *v);
            given = true;
        }
    }
    *mask = 0;
    if (!given || n == 0) {
        if (!weft_attr_i(c->node, "noop_with_empty_axes", 0)) *mask = in->ndim ? (1u << in->ndim) - 1 : 0;
        return WEFT_OK;
    }
    for (int k = 0; k < n; k++) {
        int a;
        weft_status s = weft_axis(c, v[k], in->ndim, &a);
        if (s) return s;
        if (*mask >> a & 1) return weft_node_err(c, WEFT_ERR_INVALID, "axis %lld is repeated", (long long)v[k]);
        *mask |= 1u << a;
    }
    return WEFT_OK;
}

static weft_status infer_reduce(weft_op_ctx *c) {
    uint32_t mask;
    weft_status s = reduce_axes(c, &mask);
    if (s) return s;
    if (c->in[0]->dtype == WEFT_BOOL) return weft_node_err(c, WEFT_ERR_SHAPE, "input must be numeric, not bool");
    const weft_shape *in = &c->in[0]->shape;
    bool keep = weft_attr_i(c->node, "keepdims", 1) != 0;
    weft_shape o = {0};
    for (int k = 0; k < in->ndim; k++) {
        if (!(mask >> k & 1)) o.d[o.ndim++] = in->d[k];
        else if (keep) o.d[o.ndim++] = 1;
    }
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = o;
    return WEFT_OK;
}

static weft_status eval_reduce(weft_op_ctx *c) {
    uint32_t mask;
    reduce_axes(c, &mask);
    weft_reduce(reduce_op(c->node), c->out[0].data, c->in[0]->data, c->in[0]->dtype == WEFT_F32, &c->in[0]->shape, mask);
    return WEFT_OK;
}

/* One operation per input element (two for the squaring ones), plus the finishing one per output
 * (a division, root or log); bytes of input and output. */
static weft_cost cost_reduce(const weft_op_ctx *c) {
    weft_reduce_op op = reduce_op(c->node);
    int64_t n = weft_tensor_numel(c->in[0]), m = weft_shape_numel(&c->out[0].shape);
    int per = op == WEFT_REDUCE_SUM_SQUARE || op == WEFT_REDUCE_L2 || op == WEFT_REDUCE_LOG_SUM_EXP ? 2 : 1;
    bool finish = op == WEFT_REDUCE_MEAN || op == WEFT_REDUCE_L2 || op == WEFT_REDUCE_LOG_SUM || op == WEFT_REDUCE_LOG_SUM_EXP;
    return (weft_cost){per * n + (finish ? m : 0),
                       n * (int64_t)weft_dtype_size(c->in[0]->dtype) + m * (int64_t)weft_dtype_size(c->out[0].dtype)};
}

/* Backward: dY reshaped to the input's rank (reduced axes as 1) and broadcast back. Sum and Mean
 * spread it; SumSquare: 2 x dY; Max and Min: to the elements equal to the result, split evenly
 * between ties; L1: sign(x) dY; L2: x / y dY; LogSum: dY / exp(y); LogSumExp: exp(x - y) dY.
 * ReduceProd has no rule. */
static weft_status reduce_backward(weft_graph *g, const weft_node *n, const int *dy, int *dx, weft_err *err) {
    weft_op_ctx c;
    weft_status st = weft_node_infer(g, n, &c, err);
    if (st) return st;
    uint32_t mask;
    if ((st = reduce_axes(&c, &mask))) return st;
    weft_reduce_op op = reduce_op(n);
    weft_gb b_, *b = &b_;
    weft_gb_init(b, g, n, err);
    int X = n->in[0], Y = n->out[0];
    weft_shape xs = weft_gb_shape(b, X), kept = xs;
    int64_t count = 1;
    for (int k = 0; k < xs.ndim; k++)
        if (mask >> k & 1) { count *= xs.d[k]; kept.d[k] = 1; }
    int G = weft_gb_reshape(b, dy[0], kept), Yk = weft_gb_reshape(b, Y, kept);
    switch (op) {
    case WEFT_REDUCE_SUM: dx[0] = weft_gb_expand(b, G, xs); break;
    case WEFT_REDUCE_MEAN:
        dx[0] = weft_gb_expand(b, weft_gb_op2(b, "Div", G, weft_gb_scalar(b, (double)count, G)), xs);
        break;
    case WEFT_REDUCE_SUM_SQUARE:
        dx[0] = weft_gb_op2(b, "Mul", weft_gb_op2(b, "Mul", X, G), weft_gb_scalar(b, 2, X));
        break;
    case WEFT_REDUCE_MAX:
    case WEFT_REDUCE_MIN: {
        int m = weft_gb_cast(b, weft_gb_op2(b, "Equal", X, Yk), weft_gb_dtype(b, X));
        int ties = weft_gb_reduce_sum(b, m, mask, true);
        dx[0] = weft_gb_op2(b, "Mul", m, weft_gb_op2(b, "Div", G, ties));
        break;
    }
    case WEFT_REDUCE_L1: dx[0] = weft_gb_op2(b, "Mul", weft_gb_op1(b, "Sign", X), G); break;
    case WEFT_REDUCE_L2: dx[0] = weft_gb_op2(b, "Mul", X, weft_gb_op2(b, "Div", G, Yk)); break;
    case WEFT_REDUCE_LOG_SUM: dx[0] = weft_gb_expand(b, weft_gb_op2(b, "Div", G, weft_gb_op1(b, "Exp", Yk)), xs); break;
    case WEFT_REDUCE_LOG_SUM_EXP:
        dx[0] = weft_gb_op2(b, "Mul", weft_gb_op1(b, "Exp", weft_gb_op2(b, "Sub", X, Yk)), G);
        break;
    default: return weft_gb_fail(b, WEFT_ERR_UNSUPPORTED, "no backward rule for this reduction");
    }
    return b->s;
}

#define REDUCE_ROW(name) {name, 1, 2, 1, 1, 1u << 1, "axes,keepdims,noop_with_empty_axes", infer_reduce, eval_reduce, cost_reduce, reduce_backward}
#define REDUCE_ROW_NB(name) {name, 1, 2, 1, 1, 1u << 1, "axes,keepdims,noop_with_empty_axes", infer_reduce, eval_reduce, cost_reduce, NULL}

const weft_op_def weft_ops_reduce[] = {
    REDUCE_ROW("ReduceSum"),
    REDUCE_ROW("ReduceMean"),
    REDUCE_ROW("ReduceMax"),
    REDUCE_ROW("ReduceMin"),
    REDUCE_ROW_NB("ReduceProd"),
    REDUCE_ROW("ReduceSumSquare"),
    REDUCE_ROW("ReduceL1"),
    REDUCE_ROW("ReduceL2"),
    REDUCE_ROW("ReduceLogSum"),
    REDUCE_ROW("ReduceLogSumExp"),
    {0},
};
