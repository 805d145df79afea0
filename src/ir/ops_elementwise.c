/* ir: element-wise ops: unary math and activations, broadcasting binary arithmetic, comparison
 * and logic, variadic Sum/Mean/Max/Min, Where, Cast, Identity, Dropout (inference). */
#include "ir/ir.h"
#include "grad/grad.h"
#include "kernels/kernels.h"

#include <math.h>
#include <string.h>

/* ---- shape rules ---- */

static weft_status infer_same(weft_op_ctx *c) {
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = c->in[0]->shape;
    return WEFT_OK;
}

static weft_status infer_float_same(weft_op_ctx *c) {
    if (!weft_dtype_is_float(c->in[0]->dtype))
        return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "input is %s, this op takes floating tensors",
                             weft_dtype_name(c->in[0]->dtype));
    return infer_same(c);
}

/* All present inputs broadcast together; every input must share input 0's dtype unless `mixed`. */
static weft_status infer_bcast_n(weft_op_ctx *c, int first, weft_dtype out_dt) {
    weft_shape s = c->in[first]->shape;
    for (int i = first + 1; i < c->n_in; i++) {
        if (!c->in[i]) continue;
        weft_status st = weft_shape_broadcast(&s, &c->in[i]->shape, &s, c->err);
        if (st) return weft_err_prefix(c->err, "node '%s' (%s)", c->node->name, c->node->op->name);
    }
    c->out[0].dtype = out_dt;
    c->out[0].shape = s;
    return WEFT_OK;
}

static weft_status check_same_dtype(weft_op_ctx *c, int first) {
    for (int i = first + 1; i < c->n_in; i++)
        if (c->in[i] && c->in[i]->dtype != c->in[first]->dtype)
            return weft_node_err(c, WEFT_ERR_SHAPE, "input %d is %s but input %d is %s", i,
                                 weft_dtype_name(c->in[i]->dtype), first, weft_dtype_name(c->in[first]->dtype));
    return WEFT_OK;
}

/* Before opset 7 a binary op broadcast only with broadcast=1, aligning B at `axis` of A; weft
 * broadcasts as numpy does (trailing axes), so it takes the old form only where the two agree. */
static weft_status check_legacy_broadcast(weft_op_ctx *c) {
    const weft_attr *axis = weft_node_attr(c->node, "axis");
    if (!weft_attr_i(c->node, "broadcast", 0) || !axis || c->n_in != 2) return WEFT_OK;
    int ra = c->in[0]->shape.ndim, rb = c->in[1]->shape.ndim;
    int64_t ax = axis->i < 0 ? axis->i + ra : axis->i;
    if (ax != ra - rb)
        return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "legacy broadcast of B at axis %lld (weft aligns trailing axes, at %d)",
                             (long long)axis->i, ra - rb);
    return WEFT_OK;
}

static weft_status infer_arith(weft_op_ctx *c) {
    weft_status ls = check_legacy_broadcast(c);
    if (ls) return ls;
    for (int i = 0; i < c->n_in; i++)
        if (c->in[i] && c->in[i]->dtype == WEFT_BOOL)
            return weft_node_err(c, WEFT_ERR_SHAPE, "input %d is bool; arithmetic takes numbers", i);
    weft_status s = check_same_dtype(c, 0);
    return s ? s : infer_bcast_n(c, 0, c->in[0]->dtype);
}
/* PRelu before opset 7: a slope of C values applies along axis 1 of X (N, C, ...). Gives the slope
 * viewed as (C, 1, ..., 1), which numpy broadcasting then applies the old way. */
static bool legacy_prelu(const weft_op_ctx *c, weft_tensor *view) {
    const weft_shape *x = &c->in[0]->shape, *sl = &c->in[1]->shape;
    if (c->node->opset >= 7 || sl->ndim != 1 || x->ndim < 3 || sl->d[0] != x->d[1] || sl->d[0] == 1) return false;
    *view = *c->in[1];
    view->owns = 0;
    view->shape.ndim = x->ndim - 1;
    view->shape.d[0] = sl->d[0];
    for (int i = 1; i < x->ndim - 1; i++) view->shape.d[i] = 1;
    return true;
}

static weft_status infer_prelu(weft_op_ctx *c) {
    weft_tensor view;
    if (!legacy_prelu(c, &view)) return infer_arith(c);
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = c->in[0]->shape;
    return c->in[1]->dtype == c->in[0]->dtype ? WEFT_OK
                                              : weft_node_err(c, WEFT_ERR_SHAPE, "slope is %s, X is %s", weft_dtype_name(c->in[1]->dtype),
                                                              weft_dtype_name(c->in[0]->dtype));
}

static weft_status infer_compare(weft_op_ctx *c) {
    weft_status ls = check_legacy_broadcast(c);
    if (ls) return ls;
    weft_status s = check_same_dtype(c, 0);
    return s ? s : infer_bcast_n(c, 0, WEFT_BOOL);
}
static weft_status infer_logic(weft_op_ctx *c) {
    weft_status ls = check_legacy_broadcast(c);
    if (ls) return ls;
    for (int i = 0; i < c->n_in; i++)
        if (c->in[i]->dtype != WEFT_BOOL)
            return weft_node_err(c, WEFT_ERR_SHAPE, "input %d is %s, logic ops take bool", i,
                                 weft_dtype_name(c->in[i]->dtype));
    return infer_bcast_n(c, 0, WEFT_BOOL);
}
static weft_status infer_pow(weft_op_ctx *c) {
    weft_status ls = check_legacy_broadcast(c);
    if (ls) return ls;
    for (int i = 0; i < 2; i++)
        if (c->in[i]->dtype == WEFT_BOOL) return weft_node_err(c, WEFT_ERR_SHAPE, "input %d is bool; Pow takes numbers", i);
    return infer_bcast_n(c, 0, c->in[0]->dtype);
}

static weft_status infer_where(weft_op_ctx *c) {
    if (c->in[0]->dtype != WEFT_BOOL) return weft_node_err(c, WEFT_ERR_SHAPE, "condition must be bool");
    if (c->in[1]->dtype != c->in[2]->dtype)
        return weft_node_err(c, WEFT_ERR_SHAPE, "X is %s but Y is %s", weft_dtype_name(c->in[1]->dtype),
                             weft_dtype_name(c->in[2]->dtype));
    return infer_bcast_n(c, 0, c->in[1]->dtype);
}

/* ---- binary kernels ---- */

enum { B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MIN, B_MAX, B_MOD, B_FMOD, B_PRELU, B_EQ, B_LT, B_GT, B_LE, B_GE,
       B_AND, B_OR, B_XOR };

static float fbin(int op, float a, float b) {
    switch (op) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV: return a / b;
    case B_POW: return powf(a, b);
    case B_MIN: return isnan(a) || isnan(b) ? NAN : fminf(a, b);
    case B_MAX: return isnan(a) || isnan(b) ? NAN : fmaxf(a, b);
    case B_MOD: { float r = fmodf(a, b); return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r; }
    case B_FMOD: return fmodf(a, b);
    case B_PRELU: return a < 0 ? a * b : a;
    default: WEFT_ASSERT(0); return 0;
    }
}

static int64_t ibin(int op, int64_t a, int64_t b) {
    switch (op) {
    case B_ADD: return (int64_t)((uint64_t)a + (uint64_t)b);
    case B_SUB: return (int64_t)((uint64_t)a - (uint64_t)b);
    case B_MUL: return (int64_t)((uint64_t)a * (uint64_t)b);
    case B_DIV: return b == 0 ? 0 : (a == INT64_MIN && b == -1) ? a : a / b;
    case B_POW: { /* by squaring, wrapping modulo 2^64; a negative exponent gives 0 (as integer division would) */
        if (b < 0) return a == 1 ? 1 : a == -1 ? ((b & 1) ? -1 : 1) : 0;
        uint64_t r = 1, base = (uint64_t)a;
        for (uint64_t e = (uint64_t)b; e; e >>= 1, base *= base)
            if (e & 1) r *= base;
        return (int64_t)r;
    }
    case B_MIN: return a < b ? a : b;
    case B_MAX: return a > b ? a : b;
    case B_MOD: { if (b == 0) return 0; int64_t r = a % b; return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r; }
    case B_FMOD: return b == 0 ? 0 : a % b;
    case B_PRELU: return a < 0 ? (int64_t)((uint64_t)a * (uint64_t)b) : a;
    default: WEFT_ASSERT(0); return 0;
    }
}

static bool cmp(int op, double a, double b) {
    switch (op) {
    case B_EQ: return a == b;
    case B_LT: return a < b;
    case B_GT: return a > b;
    case B_LE: return a <= b;
    case B_GE: return a >= b;
    case B_AND: return a != 0 && b != 0;
    case B_OR: return a != 0 || b != 0;
    case B_XOR: return (a != 0) != (b != 0);
    default: WEFT_ASSERT(0); return 0;
    }
}

/* out = a op b with broadcasting; a, b, out in compute dtypes. Used pairwise for variadic ops. */
static void binary(int op, const weft_tensor *a, const weft_tensor *b, weft_tensor *out) {
    weft_bcast3 it;
    weft_bcast3_init(&it, &out->shape, &a->shape, &b->shape, NULL);
    int64_t n = weft_tensor_numel(out);
    int64_t inner = out->shape.ndim ? out->shape.d[out->shape.ndim - 1] : 1;
    if (inner == 0) return;
    int64_t sa = out->shape.ndim ? it.sa[it.ndim - 1] : 0, sb = out->shape.ndim ? it.sb[it.ndim - 1] : 0;
    for (int64_t row = 0; row < n; row += inner) {
        int64_t oa, ob, oc;
        weft_bcast3_offsets(&it, row, &oa, &ob, &oc);
        if (op >= B_EQ) {
            uint8_t *o = (uint8_t *)out->data + row;
            if (a->dtype == WEFT_F32)
                for (int64_t k = 0; k < inner; k++)
                    o[k] = cmp(op, ((float *)a->data)[oa + k * sa], ((float *)b->data)[ob + k * sb]);
            else if (a->dtype == WEFT_I64)
                for (int64_t k = 0; k < inner; k++) {
                    int64_t x = ((int64_t *)a->data)[oa + k * sa], y = ((int64_t *)b->data)[ob + k * sb];
                    o[k] = op == B_EQ ? x == y : op == B_LT ? x < y : op == B_GT ? x > y : op == B_LE ? x <= y : x >= y;
                }
            else
                for (int64_t k = 0; k < inner; k++)
                    o[k] = cmp(op, ((uint8_t *)a->data)[oa + k * sa], ((uint8_t *)b->data)[ob + k * sb]);
        } else if (out->dtype == WEFT_F32) {
            float *o = (float *)out->data + row;
            const float *x = (const float *)a->data + oa;
            if (b->dtype == WEFT_F32) {
                const float *y = (const float *)b->data + ob;
                if (op == B_ADD && sa == 1 && sb == 1) for (int64_t k = 0; k < inner; k++) o[k] = x[k] + y[k];
                else if (op == B_MUL && sa == 1 && sb == 1) for (int64_t k = 0; k < inner; k++) o[k] = x[k] * y[k];
                else for (int64_t k = 0; k < inner; k++) o[k] = fbin(op, x[k * sa], y[k * sb]);
            } else { /* Pow with an integer exponent */
                const int64_t *y = (const int64_t *)b->data + ob;
                for (int64_t k = 0; k < inner; k++) o[k] = fbin(op, x[k * sa], (float)y[k * sb]);
            }
        } else {
            int64_t *o = (int64_t *)out->data + row;
            const int64_t *x = (const int64_t *)a->data + oa;
            if (b->dtype == WEFT_I64) {
                const int64_t *y = (const int64_t *)b->data + ob;
                for (int64_t k = 0; k < inner; k++) o[k] = ibin(op, x[k * sa], y[k * sb]);
            } else { /* integer base, float exponent */
                const float *y = (const float *)b->data + ob;
                for (int64_t k = 0; k < inner; k++) o[k] = (int64_t)powf((float)x[k * sa], y[k * sb]);
            }
        }
    }
}

static int binop_of(const char *name) {
    static const char *names[] = {"Add", "Sub", "Mul", "Div", "Pow", "Min", "Max", "Mod", "Mod", "PRelu",
                                  "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"};
    for (int i = 0; i < (int)(sizeof names / sizeof *names); i++)
        if (!strcmp(names[i], name)) return i;
    WEFT_ASSERT(0);
    return -1;
}

static weft_status eval_binary(weft_op_ctx *c) {
    int op = binop_of(c->node->op->name);
    if (op == B_MOD && weft_attr_i(c->node, "fmod", 0)) op = B_FMOD;
    if ((op == B_DIV || op == B_MOD || op == B_FMOD) && c->out[0].dtype == WEFT_I64) {
        /* integer division by zero is undefined in ONNX; weft refuses it */
        const int64_t *y = c->in[1]->data;
        for (int64_t i = 0; i < weft_tensor_numel(c->in[1]); i++)
            if (!y[i]) return weft_node_err(c, WEFT_ERR_INVALID, "integer division by zero");
    }
    weft_tensor slope;
    if (op == B_PRELU && legacy_prelu(c, &slope)) binary(op, c->in[0], &slope, &c->out[0]);
    else binary(op, c->in[0], c->in[1], &c->out[0]);
    return WEFT_OK;
}

/* Sum, Mean, Max, Min: fold the inputs pairwise into the output. */
static weft_status eval_variadic(weft_op_ctx *c) {
    const char *nm = c->node->op->name;
    int op = !strcmp(nm, "Max") ? B_MAX : !strcmp(nm, "Min") ? B_MIN : B_ADD;
    weft_tensor *o = &c->out[0];
    size_t es = weft_dtype_size(o->dtype);
    /* acc = broadcast(in[0]) */
    weft_bcast3 it;
    weft_bcast3_init(&it, &o->shape, &c->in[0]->shape, NULL, NULL);
    int64_t n = weft_tensor_numel(o);
    for (int64_t i = 0; i < n; i++) {
        int64_t oa, ob, oc;
        weft_bcast3_offsets(&it, i, &oa, &ob, &oc);
        memcpy((char *)o->data + i * es, (const char *)c->in[0]->data + oa * es, es);
    }
    for (int k = 1; k < c->n_in; k++) {
        weft_tensor acc = *o;
        binary(op, &acc, c->in[k], o);  /* element i reads acc[i] before writing o[i]: safe in place */
    }
    if (!strcmp(nm, "Mean")) {
        float *p = o->data;
        for (int64_t i = 0; i < n; i++) p[i] /= (float)c->n_in;
    }
    return WEFT_OK;
}

static weft_status eval_where(weft_op_ctx *c) {
    weft_tensor *o = &c->out[0];
    size_t es = weft_dtype_size(o->dtype);
    weft_bcast3 it;
    weft_bcast3_init(&it, &o->shape, &c->in[0]->shape, &c->in[1]->shape, &c->in[2]->shape);
    const uint8_t *cond = c->in[0]->data;
    const char *x = c->in[1]->data, *y = c->in[2]->data;
    char *out = o->data;
    int64_t n = weft_tensor_numel(o);
    /* offsets computed once per innermost row, then stepped (a causal mask is 12 x 1024 x 1024) */
    int last = it.ndim - 1;
    int64_t row = last >= 0 ? it.dims[last] : 1, sc = last >= 0 ? it.sa[last] : 0;
    int64_t sx = last >= 0 ? it.sb[last] : 0, sy = last >= 0 ? it.sc[last] : 0;
    for (int64_t i = 0; i < n; i += row) {
        int64_t oc, ox, oy;
        weft_bcast3_offsets(&it, i, &oc, &ox, &oy);
        for (int64_t j = 0; j < row; j++, oc += sc, ox += sx, oy += sy)
            memcpy(out + (i + j) * es, cond[oc] ? x + ox * es : y + oy * es, es);
    }
    return WEFT_OK;
}

/* ---- unary kernels ---- */

static float softplus(float x) { return x > 20 ? x : log1pf(expf(x)); }

/* Gelu and its gradient are the costly element-wise ops of a GPT (tanhf or erff per element):
 * they run over weft's threads in chunks of GELU_CHUNK elements, each element computed alone, so
 * the bits do not depend on the threads. dy NULL: forward y = gelu(x); else y = dy gelu'(x). */
#define GELU_CHUNK ((int64_t)1 << 14)

typedef struct {
    const float *x, *dy; /* (len), dy may be NULL */
    float *y;            /* (len) */
    bool tanh_form;
} gelu_job;

static void gelu_chunk(void *ctx, int64_t lo, int64_t hi) {
    const gelu_job *j = ctx;
    const float *x = j->x, *dy = j->dy;
    float *y = j->y;
    if (!dy && j->tanh_form) for (int64_t i = lo; i < hi; i++) y[i] = weft_gelu_tanh(x[i]);
    if (!dy && !j->tanh_form) for (int64_t i = lo; i < hi; i++) y[i] = weft_gelu(x[i]);
    if (dy && j->tanh_form) for (int64_t i = lo; i < hi; i++) y[i] = dy[i] * weft_gelu_tanh_grad(x[i]);
    if (dy && !j->tanh_form) for (int64_t i = lo; i < hi; i++) y[i] = dy[i] * weft_gelu_grad(x[i]);
}

static weft_status eval_unary(weft_op_ctx *c) {
    const char *nm = c->node->op->name;
    const weft_node *n = c->node;
    int64_t len = weft_tensor_numel(&c->out[0]);
    if (c->out[0].dtype == WEFT_I64) {
        const int64_t *x = c->in[0]->data;
        int64_t *y = c->out[0].data;
        int which = !strcmp(nm, "Neg") ? 1 : !strcmp(nm, "Abs") ? 2 : !strcmp(nm, "Sign") ? 3 : !strcmp(nm, "Relu") ? 4
                  : !strcmp(nm, "Identity") ? 0 : -1;
        if (which < 0) return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "integer input");
        for (int64_t i = 0; i < len; i++) {
            int64_t v = x[i];
            y[i] = which == 1 ? -v : which == 2 ? (v < 0 ? -v : v) : which == 3 ? (v > 0) - (v < 0) : which == 4 ? (v > 0 ? v : 0) : v;
        }
        return WEFT_OK;
    }
    if (!strcmp(nm, "IsNaN")) {
        const float *x = c->in[0]->data;
        uint8_t *b = c->out[0].data;
        for (int64_t i = 0; i < len; i++) b[i] = isnan(x[i]) != 0;
        return WEFT_OK;
    }
    if (!strcmp(nm, "IsInf")) {
        const float *x = c->in[0]->data;
        uint8_t *b = c->out[0].data;
        bool pos = weft_attr_i(c->node, "detect_positive", 1), neg = weft_attr_i(c->node, "detect_negative", 1);
        for (int64_t i = 0; i < len; i++) b[i] = isinf(x[i]) && (x[i] > 0 ? pos : neg);
        return WEFT_OK;
    }
    if (c->out[0].dtype == WEFT_BOOL) {
        const uint8_t *x = c->in[0]->data;
        uint8_t *y = c->out[0].data;
        bool negate = !strcmp(nm, "Not");
        for (int64_t i = 0; i < len; i++) y[i] = negate ? !x[i] : x[i];
        return WEFT_OK;
    }
    const float *x = c->in[0]->data;
    float *y = c->out[0].data;
#define MAP(expr) do { for (int64_t i = 0; i < len; i++) { float v = x[i]; y[i] = (expr); } return WEFT_OK; } while (0)
    if (!strcmp(nm, "Identity")) MAP(v);
    if (!strcmp(nm, "Neg")) MAP(-v);
    if (!strcmp(nm, "Abs")) MAP(fabsf(v));
    if (!strcmp(nm, "Sqrt")) MAP(sqrtf(v));
    if (!strcmp(nm, "Reciprocal")) MAP(1.0f / v);
    if (!strcmp(nm, "Exp")) MAP(expf(v));
    if (!strcmp(nm, "Log")) MAP(logf(v));
    if (!strcmp(nm, "Tanh")) MAP(tanhf(v));
    if (!strcmp(nm, "Sigmoid")) MAP(v >= 0 ? 1.0f / (1.0f + expf(-v)) : expf(v) / (1.0f + expf(v)));
    if (!strcmp(nm, "Relu")) MAP(v > 0 ? v : 0);
    if (!strcmp(nm, "Erf")) MAP(weft_erff(v));
    if (!strcmp(nm, "Softplus")) MAP(softplus(v));
    if (!strcmp(nm, "Softsign")) MAP(v / (1 + fabsf(v)));
    if (!strcmp(nm, "Floor")) MAP(floorf(v));
    if (!strcmp(nm, "Ceil")) MAP(ceilf(v));
    if (!strcmp(nm, "Round")) MAP(nearbyintf(v));
    if (!strcmp(nm, "Sign")) MAP((float)((v > 0) - (v < 0)));
    if (!strcmp(nm, "Sin")) MAP(sinf(v));
    if (!strcmp(nm, "Cos")) MAP(cosf(v));
    if (!strcmp(nm, "Tan")) MAP(tanf(v));
    if (!strcmp(nm, "Asin")) MAP(asinf(v));
    if (!strcmp(nm, "Acos")) MAP(acosf(v));
    if (!strcmp(nm, "Atan")) MAP(atanf(v));
    if (!strcmp(nm, "Sinh")) MAP(sinhf(v));
    if (!strcmp(nm, "Cosh")) MAP(coshf(v));
    if (!strcmp(nm, "Asinh")) MAP(asinhf(v));
    if (!strcmp(nm, "Acosh")) MAP(acoshf(v));
    if (!strcmp(nm, "Atanh")) MAP(atanhf(v));
    if (!strcmp(nm, "Mish")) MAP(v * tanhf(softplus(v)));
    if (!strcmp(nm, "HardSwish")) MAP(v * fmaxf(0, fminf(1, v / 6 + 0.5f)));
    if (!strcmp(nm, "Gelu")) {
        gelu_job j = {x, NULL, y, !strcmp(weft_attr_s(n, "approximate", "none"), "tanh")};
        weft_parallel_for(len, GELU_CHUNK, 0, gelu_chunk, &j);
        return WEFT_OK;
    }
    float alpha = weft_attr_f(n, "alpha", 0);
    if (!strcmp(nm, "LeakyRelu")) { if (!weft_node_attr(n, "alpha")) alpha = 0.01f; MAP(v >= 0 ? v : alpha * v); }
    if (!strcmp(nm, "Elu")) { if (!weft_node_attr(n, "alpha")) alpha = 1; MAP(v >= 0 ? v : alpha * (expf(v) - 1)); }
    if (!strcmp(nm, "Celu")) { if (!weft_node_attr(n, "alpha")) alpha = 1; MAP(fmaxf(0, v) + fminf(0, alpha * (expf(v / alpha) - 1))); }
    if (!strcmp(nm, "ThresholdedRelu")) { if (!weft_node_attr(n, "alpha")) alpha = 1; MAP(v > alpha ? v : 0); }
    if (!strcmp(nm, "Selu")) {
        float a = weft_attr_f(n, "alpha", 1.67326319217681884765625f), g = weft_attr_f(n, "gamma", 1.05070102214813232421875f);
        MAP(v > 0 ? g * v : g * (a * expf(v) - a));
    }
    if (!strcmp(nm, "Shrink")) {
        float lambd = weft_attr_f(n, "lambd", 0.5f), bias = weft_attr_f(n, "bias", 0);
        MAP(v < -lambd ? v + bias : v > lambd ? v - bias : 0);
    }
    if (!strcmp(nm, "HardSigmoid")) {
        float a = weft_attr_f(n, "alpha", 0.2f), b = weft_attr_f(n, "beta", 0.5f);
        MAP(fmaxf(0, fminf(1, a * v + b)));
    }
#undef MAP
    return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "no kernel");
}

/* Clip: min/max from inputs 1, 2 (opset >= 11) or attributes (older). */
static weft_status eval_clip(weft_op_ctx *c) {
    int64_t len = weft_tensor_numel(&c->out[0]);
    if (c->out[0].dtype == WEFT_I64) {
        int64_t lo = c->n_in > 1 && c->in[1] ? ((int64_t *)c->in[1]->data)[0] : INT64_MIN;
        int64_t hi = c->n_in > 2 && c->in[2] ? ((int64_t *)c->in[2]->data)[0] : INT64_MAX;
        const int64_t *x = c->in[0]->data;
        int64_t *y = c->out[0].data;
        for (int64_t i = 0; i < len; i++) y[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
        return WEFT_OK;
    }
    float lo = weft_attr_f(c->node, "min", -INFINITY), hi = weft_attr_f(c->node, "max", INFINITY);
    if (c->n_in > 1 && c->in[1]) lo = ((float *)c->in[1]->data)[0];
    if (c->n_in > 2 && c->in[2]) hi = ((float *)c->in[2]->data)[0];
    const float *x = c->in[0]->data;
    float *y = c->out[0].data;
    for (int64_t i = 0; i < len; i++) y[i] = isnan(x[i]) ? x[i] : x[i] < lo ? lo : x[i] > hi ? hi : x[i];
    return WEFT_OK;
}

static weft_status infer_clip(weft_op_ctx *c) {
    if (c->in[0]->dtype == WEFT_BOOL) return weft_node_err(c, WEFT_ERR_SHAPE, "input is bool; Clip takes numbers");
    for (int i = 1; i < c->n_in; i++)
        if (c->in[i] && c->in[i]->dtype != c->in[0]->dtype)
            return weft_node_err(c, WEFT_ERR_SHAPE, "input %d is %s but input 0 is %s", i, weft_dtype_name(c->in[i]->dtype),
                                 weft_dtype_name(c->in[0]->dtype));
    for (int i = 1; i < c->n_in; i++)
        if (c->in[i] && weft_tensor_numel(c->in[i]) != 1)
            return weft_node_err(c, WEFT_ERR_SHAPE, "input %d must be a scalar", i);
    return infer_same(c);
}

static weft_status infer_isnan(weft_op_ctx *c) {
    c->out[0].dtype = WEFT_BOOL;
    c->out[0].shape = c->in[0]->shape;
    return WEFT_OK;
}

static weft_status infer_not(weft_op_ctx *c) {
    if (c->in[0]->dtype != WEFT_BOOL) return weft_node_err(c, WEFT_ERR_SHAPE, "input must be bool");
    return infer_same(c);
}

/* ---- Cast ---- */

static weft_status infer_cast(weft_op_ctx *c) {
    const weft_attr *to = weft_node_attr(c->node, "to");
    if (!to) return weft_node_err(c, WEFT_ERR_INVALID, "missing attribute 'to'");
    int dt = weft_dtype_from_onnx((int)to->i);
    if (dt < 0) return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "cast to ONNX data type %lld", (long long)to->i);
    c->out[0].dtype = (weft_dtype)dt;
    c->out[0].shape = c->in[0]->shape;
    return WEFT_OK;
}

static weft_status eval_cast(weft_op_ctx *c) {
    /* Convert from the input's compute dtype to the output's compute dtype; the executor then
     * rounds to the output's storage dtype (fp16/bf16 round to nearest even; int narrowing wraps). */
    weft_convert(c->out[0].data, c->out[0].dtype, c->in[0]->data, c->in[0]->dtype,
                 (size_t)weft_tensor_numel(&c->out[0]));
    if (c->out[0].dtype == WEFT_I64 && c->in[0]->dtype == WEFT_F32) {
        /* float -> int truncates toward zero, done by weft_convert */
    }
    return WEFT_OK;
}

/* ---- Dropout (inference: identity; the optional mask is all true) ---- */

static weft_status infer_dropout(weft_op_ctx *c) {
    if (c->n_in > 2 && c->in[2] && c->in[2]->data && ((uint8_t *)c->in[2]->data)[0])
        return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "training_mode=true (weft's Dropout is the inference form)");
    infer_same(c);
    if (c->n_out > 1) { c->out[1].dtype = WEFT_BOOL; c->out[1].shape = c->in[0]->shape; }
    return WEFT_OK;
}

static weft_status eval_dropout(weft_op_ctx *c) {
    memcpy(c->out[0].data, c->in[0]->data, weft_tensor_nbytes(&c->out[0]));
    if (c->n_out > 1) memset(c->out[1].data, 1, weft_tensor_nbytes(&c->out[1]));
    return WEFT_OK;
}

/* ---- backward rules (grad/grad.h): dx from dy, built as graph nodes ---- */

#define BWD(fn) static weft_status fn(weft_graph *g, const weft_node *n, const int *dy, int *dx, weft_err *err)
#define BEGIN weft_gb b_, *b = &b_; weft_gb_init(b, g, n, err)
#define OP1(o, x) weft_gb_op1(b, o, x)
#define OP2(o, x, y) weft_gb_op2(b, o, x, y)
#define OP3(o, x, y, z) weft_gb_op3(b, o, x, y, z)
#define K(v, like) weft_gb_scalar(b, v, like)
#define X0 (n->in[0])
#define Y0 (n->out[0])

BWD(identity_backward) {
    (void)g; (void)n; (void)err;
    dx[0] = dy[0];
    return WEFT_OK;
}
BWD(neg_backward) { BEGIN; dx[0] = OP1("Neg", dy[0]); return b->s; }
BWD(abs_backward) { BEGIN; dx[0] = OP2("Mul", dy[0], OP1("Sign", X0)); return b->s; }
/* d sqrt(x) = 1 / (2 y) */
BWD(sqrt_backward) { BEGIN; dx[0] = OP2("Div", OP2("Mul", dy[0], K(0.5, dy[0])), Y0); return b->s; }
/* d (1/x) = -y^2 */
BWD(reciprocal_backward) { BEGIN; dx[0] = OP1("Neg", OP2("Mul", dy[0], OP2("Mul", Y0, Y0))); return b->s; }
BWD(exp_backward) { BEGIN; dx[0] = OP2("Mul", dy[0], Y0); return b->s; }
BWD(log_backward) { BEGIN; dx[0] = OP2("Div", dy[0], X0); return b->s; }
BWD(tanh_backward) { BEGIN; dx[0] = OP2("Mul", dy[0], OP2("Sub", K(1, Y0), OP2("Mul", Y0, Y0))); return b->s; }
BWD(sigmoid_backward) {
    BEGIN;
    dx[0] = OP2("Mul", dy[0], OP2("Mul", Y0, OP2("Sub", K(1, Y0), Y0)));
    return b->s;
}
BWD(softplus_backward) { BEGIN; dx[0] = OP2("Mul", dy[0], OP1("Sigmoid", X0)); return b->s; }
BWD(sin_backward) { BEGIN; dx[0] = OP2("Mul", dy[0], OP1("Cos", X0)); return b->s; }
BWD(cos_backward) { BEGIN; dx[0] = OP1("Neg", OP2("Mul", dy[0], OP1("Sin", X0))); return b->s; }
BWD(relu_backward) {
    BEGIN;
    int zero = K(0, X0);
    dx[0] = OP3("Where", OP2("Greater", X0, zero), dy[0], zero);
    return b->s;
}
BWD(leaky_relu_backward) {
    BEGIN;
    float alpha = weft_node_attr(n, "alpha") ? weft_attr_f(n, "alpha", 0) : 0.01f;
    dx[0] = OP3("Where", OP2("GreaterOrEqual", X0, K(0, X0)), dy[0], OP2("Mul", dy[0], K(alpha, X0)));
    return b->s;
}
/* d erf(x) = 2 / sqrt(pi) exp(-x^2) */
BWD(erf_backward) {
    BEGIN;
    int e = OP1("Exp", OP1("Neg", OP2("Mul", X0, X0)));
    dx[0] = OP2("Mul", dy[0], OP2("Mul", e, K(1.12837916709551257, X0)));
    return b->s;
}
BWD(gelu_backward) {
    BEGIN;
    dx[0] = weft_gb_node(b, "weft.GeluGrad", (int[]){X0, dy[0]}, 2, n->attrs, n->n_attrs);
    return b->s;
}

BWD(add_backward) {
    BEGIN;
    for (int i = 0; i < 2; i++) dx[i] = weft_gb_unbroadcast(b, dy[0], weft_gb_shape(b, n->in[i]));
    return b->s;
}
BWD(sub_backward) {
    BEGIN;
    dx[0] = weft_gb_unbroadcast(b, dy[0], weft_gb_shape(b, n->in[0]));
    dx[1] = weft_gb_unbroadcast(b, OP1("Neg", dy[0]), weft_gb_shape(b, n->in[1]));
    return b->s;
}
BWD(mul_backward) {
    BEGIN;
    for (int i = 0; i < 2; i++)
        dx[i] = weft_gb_unbroadcast(b, OP2("Mul", dy[0], n->in[1 - i]), weft_gb_shape(b, n->in[i]));
    return b->s;
}
/* y = a / b: da = dy / b, db = -dy y / b */
BWD(div_backward) {
    BEGIN;
    dx[0] = weft_gb_unbroadcast(b, OP2("Div", dy[0], n->in[1]), weft_gb_shape(b, n->in[0]));
    dx[1] = weft_gb_unbroadcast(b, OP1("Neg", OP2("Div", OP2("Mul", dy[0], Y0), n->in[1])), weft_gb_shape(b, n->in[1]));
    return b->s;
}
/* y = x^e: dx = dy e x^(e-1); de = dy y log(x) (a floating exponent that is not a constant) */
BWD(pow_backward) {
    BEGIN;
    int e = n->in[1];
    weft_dtype edt = weft_gb_dtype(b, e);
    bool efloat = weft_dtype_is_float(edt);
    int em1 = efloat ? OP2("Sub", e, K(1, e)) : -1;
    if (!efloat) em1 = OP2("Sub", e, weft_gb_cast(b, K(1, -1), edt));
    int ef = weft_gb_cast(b, e, weft_gb_dtype(b, X0));
    dx[0] = weft_gb_unbroadcast(b, OP2("Mul", dy[0], OP2("Mul", ef, OP2("Pow", X0, em1))), weft_gb_shape(b, X0));
    if (efloat && g->vals[e].kind != WEFT_VAL_CONST)
        dx[1] = weft_gb_unbroadcast(b, OP2("Mul", dy[0], OP2("Mul", Y0, OP1("Log", X0))), weft_gb_shape(b, e));
    return b->s;
}
/* y = x < 0 ? x slope : x */
BWD(prelu_backward) {
    if (n->opset < 7)
        return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "node '%s' (PRelu): no backward rule for the pre-opset-7 channel slope", n->name);
    BEGIN;
    int zero = K(0, X0), neg = OP2("Less", X0, zero);
    dx[0] = weft_gb_unbroadcast(b, OP3("Where", neg, OP2("Mul", dy[0], n->in[1]), dy[0]), weft_gb_shape(b, X0));
    dx[1] = weft_gb_unbroadcast(b, OP3("Where", neg, OP2("Mul", dy[0], X0), zero), weft_gb_shape(b, n->in[1]));
    return b->s;
}

BWD(sum_backward) {
    BEGIN;
    int d = dy[0];
    if (!strcmp(n->op->name, "Mean")) d = OP2("Div", d, K(n->n_in, d));
    for (int i = 0; i < n->n_in; i++) dx[i] = weft_gb_unbroadcast(b, d, weft_gb_shape(b, n->in[i]));
    return b->s;
}
/* Max, Min: the gradient goes to the first input that holds the result (ties: the first wins) */
BWD(pick_backward) {
    BEGIN;
    int zero = K(0, dy[0]), taken = -1;
    for (int i = 0; i < n->n_in; i++) {
        int m = OP2("Equal", n->in[i], Y0);
        if (taken >= 0) m = OP2("And", m, OP1("Not", taken));
        taken = taken < 0 ? m : OP2("Or", taken, m);
        dx[i] = weft_gb_unbroadcast(b, OP3("Where", m, dy[0], zero), weft_gb_shape(b, n->in[i]));
    }
    return b->s;
}
BWD(where_backward) {
    BEGIN;
    int zero = K(0, dy[0]);
    dx[1] = weft_gb_unbroadcast(b, OP3("Where", n->in[0], dy[0], zero), weft_gb_shape(b, n->in[1]));
    dx[2] = weft_gb_unbroadcast(b, OP3("Where", n->in[0], zero, dy[0]), weft_gb_shape(b, n->in[2]));
    return b->s;
}
/* Clip: the gradient passes where x is inside [min, max] (the bounds get none) */
BWD(clip_backward) {
    BEGIN;
    int lo = -1, hi = -1;
    if (n->n_in > 1 && n->in[1] >= 0) lo = n->in[1];
    else if (weft_node_attr(n, "min")) lo = K(weft_attr_f(n, "min", 0), X0);
    if (n->n_in > 2 && n->in[2] >= 0) hi = n->in[2];
    else if (weft_node_attr(n, "max")) hi = K(weft_attr_f(n, "max", 0), X0);
    int m = -1;
    if (lo >= 0) m = OP2("GreaterOrEqual", X0, lo);
    if (hi >= 0) {
        int mh = OP2("LessOrEqual", X0, hi);
        m = m < 0 ? mh : OP2("And", m, mh);
    }
    dx[0] = m < 0 ? dy[0] : OP3("Where", m, dy[0], K(0, dy[0]));
    return b->s;
}
/* Cast between floating types: the gradient casts back; to or from integers none flows */
BWD(cast_backward) {
    BEGIN;
    weft_dtype from = weft_gb_dtype(b, X0);
    if (weft_dtype_is_float(from) && weft_dtype_is_float(weft_gb_dtype(b, Y0))) dx[0] = weft_gb_cast(b, dy[0], from);
    return b->s;
}

#undef BWD
#undef BEGIN
#undef OP1
#undef OP2
#undef OP3
#undef K
#undef X0
#undef Y0

/* weft.GeluGrad (X, dY) -> dX = dY gelu'(X), attribute approximate as Gelu's. */
static weft_status infer_gelu_grad(weft_op_ctx *c) {
    if (!weft_shape_eq(&c->in[0]->shape, &c->in[1]->shape))
        return weft_node_err(c, WEFT_ERR_SHAPE, "X and dY differ in shape");
    return infer_float_same(c);
}
static weft_status eval_gelu_grad(weft_op_ctx *c) {
    gelu_job j = {c->in[0]->data, c->in[1]->data, c->out[0].data, !strcmp(weft_attr_s(c->node, "approximate", "none"), "tanh")};
    weft_parallel_for(weft_tensor_numel(&c->out[0]), GELU_CHUNK, 0, gelu_chunk, &j);
    return WEFT_OK;
}

/* ---- costs ---- */

/* Transcendental activations count as several flops; this is a coarse, documented estimate. */
static weft_cost cost_eltwise(const weft_op_ctx *c) {
    weft_cost k = {0};
    for (int i = 0; i < c->n_in; i++)
        if (c->in[i]) k.bytes += weft_tensor_numel(c->in[i]) * (int64_t)weft_dtype_size(c->in[i]->dtype);
    int64_t e = weft_shape_numel(&c->out[0].shape);
    k.bytes += e * (int64_t)weft_dtype_size(c->out[0].dtype);
    k.flops = e * (c->n_in > 1 ? c->n_in - 1 : 1);
    if (!strcmp(c->node->op->name, "Identity")) k.flops = 0;  /* a copy: no arithmetic */
    return k;
}

#define UNARY(nm) {nm, 1, 1, 1, 1, 0, "", infer_same, eval_unary, cost_eltwise, NULL}
#define UNARY_F(nm) {nm, 1, 1, 1, 1, 0, "alpha,beta,gamma,approximate", infer_float_same, eval_unary, cost_eltwise, NULL}
#define BINARY(nm, inf) {nm, 2, 2, 1, 1, 0, "fmod,broadcast,axis", inf, eval_binary, cost_eltwise, NULL}
/* the same rows with a backward rule */
#define UNARY_G(nm, bw) {nm, 1, 1, 1, 1, 0, "", infer_same, eval_unary, cost_eltwise, bw}
#define UNARY_FG(nm, bw) {nm, 1, 1, 1, 1, 0, "alpha,beta,gamma,approximate", infer_float_same, eval_unary, cost_eltwise, bw}
#define BINARY_G(nm, inf, bw) {nm, 2, 2, 1, 1, 0, "fmod,broadcast,axis", inf, eval_binary, cost_eltwise, bw}

const weft_op_def weft_ops_elementwise[] = {
    UNARY_G("Identity", identity_backward), UNARY_G("Neg", neg_backward), UNARY_G("Abs", abs_backward),
    UNARY_G("Relu", relu_backward), UNARY("Sign"),
    UNARY_FG("Sqrt", sqrt_backward), UNARY_FG("Reciprocal", reciprocal_backward), UNARY_FG("Exp", exp_backward),
    UNARY_FG("Log", log_backward), UNARY_FG("Tanh", tanh_backward),
    UNARY_FG("Sigmoid", sigmoid_backward), UNARY_FG("Erf", erf_backward), UNARY_FG("Softplus", softplus_backward),
    UNARY_F("Softsign"), UNARY_F("Floor"),
    UNARY_F("Ceil"), UNARY_F("Round"), UNARY_FG("Sin", sin_backward), UNARY_FG("Cos", cos_backward), UNARY_F("Tan"),
    UNARY_F("Asin"),
    UNARY_F("Acos"), UNARY_F("Atan"), UNARY_F("Sinh"), UNARY_F("Cosh"), UNARY_F("Asinh"), UNARY_F("Acosh"),
    UNARY_F("Atanh"), UNARY_F("Mish"), UNARY_F("HardSwish"), UNARY_FG("Gelu", gelu_backward),
    UNARY_FG("LeakyRelu", leaky_relu_backward),
    UNARY_F("Elu"), UNARY_F("Celu"), UNARY_F("ThresholdedRelu"), UNARY_F("Selu"), UNARY_F("HardSigmoid"),
    {"IsNaN", 1, 1, 1, 1, 0, "", infer_isnan, eval_unary, cost_eltwise, NULL},
    {"IsInf", 1, 1, 1, 1, 0, "detect_positive,detect_negative", infer_isnan, eval_unary, cost_eltwise, NULL},
    {"Shrink", 1, 1, 1, 1, 0, "lambd,bias", infer_float_same, eval_unary, cost_eltwise, NULL},
    {"Not", 1, 1, 1, 1, 0, "", infer_not, eval_unary, cost_eltwise, NULL},
    BINARY_G("Add", infer_arith, add_backward), BINARY_G("Sub", infer_arith, sub_backward),
    BINARY_G("Mul", infer_arith, mul_backward),
    BINARY_G("Div", infer_arith, div_backward), BINARY_G("Pow", infer_pow, pow_backward), BINARY("Mod", infer_arith),
    BINARY_G("PRelu", infer_prelu, prelu_backward),
    BINARY("Equal", infer_compare), BINARY("Less", infer_compare), BINARY("Greater", infer_compare),
    BINARY("LessOrEqual", infer_compare), BINARY("GreaterOrEqual", infer_compare),
    BINARY("And", infer_logic), BINARY("Or", infer_logic), BINARY("Xor", infer_logic),
    {"Sum", 1, -1, 1, 1, 0, "", infer_arith, eval_variadic, cost_eltwise, sum_backward},
    {"Mean", 1, -1, 1, 1, 0, "", infer_arith, eval_variadic, cost_eltwise, sum_backward},
    {"Max", 1, -1, 1, 1, 0, "", infer_arith, eval_variadic, cost_eltwise, pick_backward},
    {"Min", 1, -1, 1, 1, 0, "", infer_arith, eval_variadic, cost_eltwise, pick_backward},
    {"Where", 3, 3, 1, 1, 0, "", infer_where, eval_where, cost_eltwise, where_backward},
    {"Clip", 1, 3, 1, 1, 0, "min,max", infer_clip, eval_clip, cost_eltwise, clip_backward},
    {"Cast", 1, 1, 1, 1, 0, "to,saturate", infer_cast, eval_cast, cost_eltwise, cast_backward},
    {"Dropout", 1, 3, 1, 2, 1u << 2, "seed,ratio,is_test", infer_dropout, eval_dropout, cost_eltwise, identity_backward},
    /* internal: kernels of backward rules */
    {"weft.GeluGrad", 2, 2, 1, 1, 0, "approximate", infer_gelu_grad, eval_gelu_grad, cost_eltwise, NULL},
    {0},
};
