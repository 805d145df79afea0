/* ir: shape and data-movement ops: Constant, Shape, Size, Reshape, Flatten, Transpose, Squeeze,
 * Unsqueeze, Concat, Split, Slice, Gather/GatherElements/GatherND, Scatter(Elements)/ScatterND,
 * Expand, Tile, Pad, ConstantOfShape, Range, CumSum, Trilu, OneHot, DepthToSpace, SpaceToDepth,
 * EyeLike, CastLike, ArgMax/ArgMin, TopK, Resize, Compress.
 *
 * Inputs that decide an output shape (Reshape's shape, Slice's starts, ...) are const inputs:
 * the shape rule reads them (in storage dtype) and the kernel reads them again (in compute
 * dtype), both through weft_tensor_get_i, so one "plan" function serves both. */
#include "ir/ir.h"
#include "grad/grad.h"
#include "kernels/shape.h"

#include <math.h>
#include <string.h>

#define MAX_LIST 64 /* longest int list an op reads from an input or attribute (Split's parts) */

/* ---- helpers ---- */

static char *shp(const weft_shape *s, char *buf) { return weft_shape_str(s, buf, 160); }

/* Reads a 1-D (or scalar) integer list from input i, or attribute `attr` when the input is absent.
 * *given is false when neither is there. */
static weft_status read_list(const weft_op_ctx *c, int i, const char *attr, int64_t *v, int *n, bool *given) {
    *n = 0;
    *given = false;
    if (i >= 0 && i < c->n_in && c->in[i]) {
        const weft_tensor *t = c->in[i];
        if (t->shape.ndim > 1) return weft_node_err(c, WEFT_ERR_SHAPE, "input %d must be 1-D, got rank %d", i, t->shape.ndim);
        if (weft_dtype_is_float(t->dtype) || t->dtype == WEFT_BOOL)
            return weft_node_err(c, WEFT_ERR_SHAPE, "input %d must be an integer tensor, got %s", i, weft_dtype_name(t->dtype));
        int64_t len = weft_tensor_numel(t);
        if (len > MAX_LIST) return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "input %d holds %lld values (at most %d)", i, (long long)len, MAX_LIST);
        WEFT_ASSERT(t->data);
        for (int64_t k = 0; k < len; k++) v[k] = weft_tensor_get_i(t, k);
        *n = (int)len;
        *given = true;
        return WEFT_OK;
    }
    if (attr) {
        int len;
        const int64_t *a = weft_attr_ints(c->node, attr, &len);
        if (a) {
            if (len > MAX_LIST) return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "attribute '%s' holds %d values (at most %d)", attr, len, MAX_LIST);
            memcpy(v, a, (size_t)len * sizeof *v);
            *n = len;
            *given = true;
        }
    }
    return WEFT_OK;
}

/* A shape given as the values of constant input i: rank within WEFT_MAX_DIMS, no negative size. */
static weft_status read_shape(const weft_op_ctx *c, int i, weft_shape *out) {
    int64_t v[MAX_LIST];
    int n;
    bool given;
    weft_status s = read_list(c, i, NULL, v, &n, &given);
    if (s) return s;
    if (n > WEFT_MAX_DIMS) return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "target rank %d exceeds %d", n, WEFT_MAX_DIMS);
    out->ndim = n;
    for (int k = 0; k < n; k++) {
        if (v[k] < 0) return weft_node_err(c, WEFT_ERR_SHAPE, "negative dimension %lld in the target shape", (long long)v[k]);
        out->d[k] = v[k];
    }
    return WEFT_OK;
}

/* One integer from a scalar or one-element input. */
static weft_status read_scalar_i(const weft_op_ctx *c, int i, int64_t *v) {
    const weft_tensor *t = c->in[i];
    if (weft_tensor_numel(t) != 1 || t->shape.ndim > 1)
        return weft_node_err(c, WEFT_ERR_SHAPE, "input %d must hold one value, got shape %s", i, shp(&t->shape, (char[160]){0}));
    WEFT_ASSERT(t->data);
    *v = weft_dtype_is_float(t->dtype) ? (int64_t)weft_tensor_get_f(t, 0) : weft_tensor_get_i(t, 0);
    return WEFT_OK;
}

/* Normalizes a list of axes against rank; refuses duplicates. Writes a bit mask. */
static weft_status axes_mask(const weft_op_ctx *c, const int64_t *axes, int n, int rank, uint32_t *mask) {
    *mask = 0;
    for (int k = 0; k < n; k++) {
        int a;
        weft_status s = weft_axis(c, axes[k], rank, &a);
        if (s) return s;
        if (*mask >> a & 1) return weft_node_err(c, WEFT_ERR_INVALID, "axis %lld is repeated", (long long)axes[k]);
        *mask |= 1u << a;
    }
    return WEFT_OK;
}

/* Normalizes indices (any integer tensor in compute dtype I64) against dim into a new array. */
static weft_status norm_indices(const weft_op_ctx *c, const weft_tensor *t, int64_t dim, int64_t **out) {
    int64_t n = weft_tensor_numel(t);
    int64_t *v = weft_xmalloc((size_t)(n ? n : 1) * sizeof *v);
    const int64_t *src = t->data;
    for (int64_t i = 0; i < n; i++) {
        int64_t x = src[i];
        if (x < -dim || x >= dim) {
            free(v);
            return weft_node_err(c, WEFT_ERR_INVALID, "index %lld out of range for a dimension of size %lld", (long long)x,
                                 (long long)dim);
        }
        v[i] = x < 0 ? x + dim : x;
    }
    *out = v;
    return WEFT_OK;
}

static weft_status need_int_indices(const weft_op_ctx *c, int i) {
    weft_dtype dt = c->in[i]->dtype;
    if (weft_dtype_is_float(dt) || dt == WEFT_BOOL)
        return weft_node_err(c, WEFT_ERR_SHAPE, "indices (input %d) must be integers, got %s", i, weft_dtype_name(dt));
    return WEFT_OK;
}

static weft_status need_rank(const weft_op_ctx *c, int i, int min) {
    if (c->in[i]->shape.ndim < min)
        return weft_node_err(c, WEFT_ERR_SHAPE, "input %d must have rank >= %d, got %d", i, min, c->in[i]->shape.ndim);
    return WEFT_OK;
}

static void dense_strides(const weft_shape *s, int64_t *st) {
    int64_t m = 1;
    for (int k = s->ndim - 1; k >= 0; k--) { st[k] = m; m *= s->d[k]; }
}

/* (outer, n, inner) around axis a of s */
static void split_at(const weft_shape *s, int a, int64_t *outer, int64_t *n, int64_t *inner) {
    *outer = 1; *inner = 1;
    for (int k = 0; k < a; k++) *outer *= s->d[k];
    for (int k = a + 1; k < s->ndim; k++) *inner *= s->d[k];
    *n = s->d[a];
}

static size_t esize(const weft_tensor *t) { return weft_dtype_size(t->dtype); }

/* Copies x (src_shape) permuted by perm into dst. */
static void permute(void *dst, const void *src, size_t es, const weft_shape *src_shape, const int *perm) {
    int64_t st[WEFT_MAX_DIMS], ps[WEFT_MAX_DIMS];
    weft_shape o = {.ndim = src_shape->ndim};
    dense_strides(src_shape, st);
    for (int k = 0; k < o.ndim; k++) { o.d[k] = src_shape->d[perm[k]]; ps[k] = st[perm[k]]; }
    weft_copy_strided(dst, src, es, &o, ps, 0);
}

/* ---- costs ---- */

static int64_t bytes_of(const weft_tensor *t) { return t ? weft_tensor_numel(t) * (int64_t)esize(t) : 0; }
static int64_t out_bytes(const weft_op_ctx *c) {
    int64_t b = 0;
    for (int j = 0; j < c->n_out; j++) b += weft_shape_numel(&c->out[j].shape) * (int64_t)weft_dtype_size(c->out[j].dtype);
    return b;
}
/* A view (Reshape, Squeeze, ...) or a shape query: nothing moves. */
static weft_cost cost_view(const weft_op_ctx *c) { (void)c; return (weft_cost){0, 0}; }
/* Data movement: every input read once, every output written once, no arithmetic. */
static weft_cost cost_move(const weft_op_ctx *c) {
    int64_t b = out_bytes(c);
    for (int i = 0; i < c->n_in; i++) b += bytes_of(c->in[i]);
    return (weft_cost){0, b};
}
/* Gathers read what they write, plus the indices. */
static weft_cost cost_gather(const weft_op_ctx *c) { return (weft_cost){0, 2 * out_bytes(c) + bytes_of(c->in[1])}; }
/* Constant producers write only. */
static weft_cost cost_write(const weft_op_ctx *c) { return (weft_cost){0, out_bytes(c)}; }
/* One comparison or addition per input element. */
static weft_cost cost_scan(const weft_op_ctx *c) {
    return (weft_cost){weft_tensor_numel(c->in[0]), bytes_of(c->in[0]) + out_bytes(c)};
}

/* ---- Constant ---- */

static weft_status infer_constant(weft_op_ctx *c) {
    static const char *unsupported[] = {"sparse_value", "value_string", "value_strings"};
    for (int k = 0; k < 3; k++)
        if (weft_node_attr(c->node, unsupported[k]))
            return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "attribute '%s' is not supported", unsupported[k]);
    if (c->node->n_attrs != 1) return weft_node_err(c, WEFT_ERR_INVALID, "needs exactly one value attribute, has %d", c->node->n_attrs);
    const weft_attr *a = &c->node->attrs[0];
    /* the attribute's type must be the one its name says */
    static const struct { const char *name; weft_attr_type type; } kinds[] = {
        {"value", WEFT_ATTR_TENSOR}, {"value_float", WEFT_ATTR_FLOAT}, {"value_int", WEFT_ATTR_INT},
        {"value_floats", WEFT_ATTR_FLOATS}, {"value_ints", WEFT_ATTR_INTS}};
    for (int k = 0; k < 5; k++)
        if (!strcmp(a->name, kinds[k].name) && a->type != kinds[k].type)
            return weft_node_err(c, WEFT_ERR_INVALID, "attribute '%s' has the wrong type", a->name);
    if (!strcmp(a->name, "value")) {
        if (a->type != WEFT_ATTR_TENSOR || !a->t) return weft_node_err(c, WEFT_ERR_INVALID, "'value' must be a tensor");
        c->out[0].dtype = a->t->dtype;
        c->out[0].shape = a->t->shape;
    } else if (!strcmp(a->name, "value_float") || !strcmp(a->name, "value_int")) {
        c->out[0].dtype = a->name[6] == 'f' ? WEFT_F32 : WEFT_I64;
        c->out[0].shape = WEFT_SHAPE();
    } else {
        c->out[0].dtype = !strcmp(a->name, "value_floats") ? WEFT_F32 : WEFT_I64;
        c->out[0].shape = WEFT_SHAPE(a->n);
    }
    return WEFT_OK;
}

static weft_status eval_constant(weft_op_ctx *c) {
    const weft_attr *a = &c->node->attrs[0];
    weft_tensor *o = &c->out[0];
    size_t n = (size_t)weft_tensor_numel(o);
    if (a->type == WEFT_ATTR_TENSOR) weft_convert(o->data, o->dtype, a->t->data, a->t->dtype, n);
    else if (a->type == WEFT_ATTR_FLOAT) weft_convert(o->data, o->dtype, &a->f, WEFT_F32, 1);
    else if (a->type == WEFT_ATTR_INT) weft_convert(o->data, o->dtype, &a->i, WEFT_I64, 1);
    else if (a->type == WEFT_ATTR_FLOATS) weft_convert(o->data, o->dtype, a->floats, WEFT_F32, n);
    else weft_convert(o->data, o->dtype, a->ints, WEFT_I64, n);
    return WEFT_OK;
}

/* ---- Shape, Size ---- */

static void shape_range(const weft_op_ctx *c, int64_t *start, int64_t *end) {
    int64_t r = c->in[0]->shape.ndim;
    int64_t s = weft_attr_i(c->node, "start", 0), e = weft_attr_i(c->node, "end", r);
    if (s < 0) s += r;
    if (e < 0) e += r;
    s = s < 0 ? 0 : s > r ? r : s;
    e = e < 0 ? 0 : e > r ? r : e;
    *start = s;
    *end = e > s ? e : s;
}
static weft_status infer_shape(weft_op_ctx *c) {
    int64_t s, e;
    shape_range(c, &s, &e);
    c->out[0].dtype = WEFT_I64;
    c->out[0].shape = WEFT_SHAPE(e - s);
    return WEFT_OK;
}
static weft_status eval_shape(weft_op_ctx *c) {
    int64_t s, e;
    shape_range(c, &s, &e);
    for (int64_t k = s; k < e; k++) ((int64_t *)c->out[0].data)[k - s] = c->in[0]->shape.d[k];
    return WEFT_OK;
}
static weft_status infer_size(weft_op_ctx *c) {
    c->out[0].dtype = WEFT_I64;
    c->out[0].shape = WEFT_SHAPE();
    return WEFT_OK;
}
static weft_status eval_size(weft_op_ctx *c) {
    *(int64_t *)c->out[0].data = weft_tensor_numel(c->in[0]);
    return WEFT_OK;
}

/* ---- views: Reshape, Flatten, Squeeze, Unsqueeze (the data is copied as is) ---- */

static weft_status eval_copy(weft_op_ctx *c) {
    memcpy(c->out[0].data, c->in[0]->data, weft_tensor_nbytes(c->in[0]));
    return WEFT_OK;
}

static weft_status infer_reshape(weft_op_ctx *c) {
    const weft_shape *in = &c->in[0]->shape;
    int64_t v[MAX_LIST];
    int n;
    bool given;
    weft_status s = read_list(c, 1, NULL, v, &n, &given);
    if (s) return s;
    if (c->in[1]->shape.ndim != 1) return weft_node_err(c, WEFT_ERR_SHAPE, "the shape input must be 1-D");
    if (n > WEFT_MAX_DIMS) return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "target rank %d exceeds %d", n, WEFT_MAX_DIMS);
    bool allowzero = weft_attr_i(c->node, "allowzero", 0) != 0;
    weft_shape req = {.ndim = n}, o = {.ndim = n};
    for (int k = 0; k < n; k++) req.d[k] = v[k];
    int neg = -1;
    int64_t known = 1;
    char a[160], b[160];
    for (int k = 0; k < n; k++) {
        int64_t d = v[k];
        if (d == 0 && !allowzero) {
            if (k >= in->ndim)
                return weft_node_err(c, WEFT_ERR_SHAPE, "cannot reshape %s into %s: 0 at axis %d copies a dimension the input lacks",
                                     shp(in, a), shp(&req, b), k);
            d = in->d[k];
        }
        if (d == -1) {
            if (neg >= 0) return weft_node_err(c, WEFT_ERR_SHAPE, "cannot reshape %s into %s: more than one -1", shp(in, a), shp(&req, b));
            if (allowzero)
                for (int q = 0; q < n; q++)
                    if (v[q] == 0) return weft_node_err(c, WEFT_ERR_SHAPE, "allowzero with both 0 and -1 in %s", shp(&req, b));
            neg = k;
            continue;
        }
        if (d < -1) return weft_node_err(c, WEFT_ERR_SHAPE, "cannot reshape %s into %s: negative dimension", shp(in, a), shp(&req, b));
        if (d && known > INT64_MAX / d) return weft_node_err(c, WEFT_ERR_SHAPE, "target shape %s overflows", shp(&req, b));
        o.d[k] = d;
        known *= d;
    }
    int64_t total = weft_shape_numel(in);
    if (neg >= 0) {
        if (known == 0 || total % known)
            return weft_node_err(c, WEFT_ERR_SHAPE, "cannot reshape %s into %s", shp(in, a), shp(&req, b));
        o.d[neg] = total / known;
    } else if (known != total)
        return weft_node_err(c, WEFT_ERR_SHAPE, "cannot reshape %s into %s", shp(in, a), shp(&req, b));
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = o;
    return WEFT_OK;
}

static weft_status infer_flatten(weft_op_ctx *c) {
    const weft_shape *in = &c->in[0]->shape;
    int64_t ax = weft_attr_i(c->node, "axis", 1);
    if (ax < -in->ndim || ax > in->ndim)
        return weft_node_err(c, WEFT_ERR_INVALID, "axis %lld out of range for rank %d", (long long)ax, in->ndim);
    if (ax < 0) ax += in->ndim;
    int64_t a = 1, b = 1;
    for (int k = 0; k < in->ndim; k++) *(k < ax ? &a : &b) *= in->d[k];
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = WEFT_SHAPE(a, b);
    return WEFT_OK;
}

static weft_status infer_squeeze(weft_op_ctx *c) {
    const weft_shape *in = &c->in[0]->shape;
    int64_t v[MAX_LIST];
    int n;
    bool given;
    weft_status s = read_list(c, 1, "axes", v, &n, &given);
    if (s) return s;
    uint32_t mask = 0;
    if (given && n > 0) { /* an empty list, like none, squeezes every axis of size 1 */
        s = axes_mask(c, v, n, in->ndim, &mask);
        if (s) return s;
        for (int k = 0; k < in->ndim; k++)
            if ((mask >> k & 1) && in->d[k] != 1)
                return weft_node_err(c, WEFT_ERR_SHAPE, "cannot squeeze axis %d of %s: its size is %lld, not 1", k,
                                     shp(in, (char[160]){0}), (long long)in->d[k]);
    } else
        for (int k = 0; k < in->ndim; k++)
            if (in->d[k] == 1) mask |= 1u << k;
    weft_shape o = {0};
    for (int k = 0; k < in->ndim; k++)
        if (!(mask >> k & 1)) o.d[o.ndim++] = in->d[k];
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = o;
    return WEFT_OK;
}

static weft_status infer_unsqueeze(weft_op_ctx *c) {
    const weft_shape *in = &c->in[0]->shape;
    int64_t v[MAX_LIST];
    int n;
    bool given;
    weft_status s = read_list(c, 1, "axes", v, &n, &given);
    if (s) return s;
    if (!given) return weft_node_err(c, WEFT_ERR_INVALID, "axes are missing");
    int r = in->ndim + n;
    if (r > WEFT_MAX_DIMS) return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "output rank %d exceeds %d", r, WEFT_MAX_DIMS);
    uint32_t mask;
    s = axes_mask(c, v, n, r, &mask);
    if (s) return s;
    weft_shape o = {.ndim = r};
    for (int k = 0, j = 0; k < r; k++) o.d[k] = (mask >> k & 1) ? 1 : in->d[j++];
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = o;
    return WEFT_OK;
}

/* ---- Transpose ---- */

static weft_status transpose_perm(const weft_op_ctx *c, int *perm) {
    int r = c->in[0]->shape.ndim, n;
    const int64_t *p = weft_attr_ints(c->node, "perm", &n);
    if (!p) {
        for (int k = 0; k < r; k++) perm[k] = r - 1 - k;
        return WEFT_OK;
    }
    if (n != r) return weft_node_err(c, WEFT_ERR_INVALID, "perm has %d entries for an input of rank %d", n, r);
    uint32_t seen = 0;
    for (int k = 0; k < r; k++) {
        if (p[k] < 0 || p[k] >= r || (seen >> p[k] & 1))
            return weft_node_err(c, WEFT_ERR_INVALID, "perm is not a permutation of 0..%d", r - 1);
        seen |= 1u << p[k];
        perm[k] = (int)p[k];
    }
    return WEFT_OK;
}
static weft_status infer_transpose(weft_op_ctx *c) {
    int perm[WEFT_MAX_DIMS];
    weft_status s = transpose_perm(c, perm);
    if (s) return s;
    weft_shape o = {.ndim = c->in[0]->shape.ndim};
    for (int k = 0; k < o.ndim; k++) o.d[k] = c->in[0]->shape.d[perm[k]];
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = o;
    return WEFT_OK;
}
static weft_status eval_transpose(weft_op_ctx *c) {
    int perm[WEFT_MAX_DIMS];
    transpose_perm(c, perm);
    permute(c->out[0].data, c->in[0]->data, esize(c->in[0]), &c->in[0]->shape, perm);
    return WEFT_OK;
}

/* ---- Concat, Split ---- */

static weft_status infer_concat(weft_op_ctx *c) {
    const weft_attr *ax = weft_node_attr(c->node, "axis");
    if (!ax) return weft_node_err(c, WEFT_ERR_INVALID, "attribute 'axis' is required");
    const weft_shape *s0 = &c->in[0]->shape;
    int a;
    weft_status s = need_rank(c, 0, 1);
    if (!s) s = weft_axis(c, ax->i, s0->ndim, &a);
    if (s) return s;
    weft_shape o = *s0;
    char b1[160], b2[160];
    for (int i = 1; i < c->n_in; i++) {
        const weft_shape *si = &c->in[i]->shape;
        if (c->in[i]->dtype != c->in[0]->dtype)
            return weft_node_err(c, WEFT_ERR_SHAPE, "input %d is %s but input 0 is %s", i, weft_dtype_name(c->in[i]->dtype),
                                 weft_dtype_name(c->in[0]->dtype));
        bool ok = si->ndim == s0->ndim;
        for (int k = 0; k < s0->ndim && ok; k++) ok = k == a || si->d[k] == s0->d[k];
        if (!ok)
            return weft_node_err(c, WEFT_ERR_SHAPE, "cannot concatenate %s and %s on axis %d", shp(s0, b1), shp(si, b2), a);
        o.d[a] += si->d[a];
    }
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = o;
    return WEFT_OK;
}
static weft_status eval_concat(weft_op_ctx *c) {
    int a;
    weft_axis(c, weft_attr_i(c->node, "axis", 0), c->in[0]->shape.ndim, &a);
    int64_t outer, n, inner;
    split_at(&c->out[0].shape, a, &outer, &n, &inner);
    size_t es = esize(c->in[0]);
    int64_t off = 0;
    for (int i = 0; i < c->n_in; i++) {
        int64_t len = c->in[i]->shape.d[a] * inner;
        for (int64_t o = 0; o < outer; o++)
            memcpy((char *)c->out[0].data + (o * n * inner + off) * (int64_t)es,
                   (const char *)c->in[i]->data + o * len * (int64_t)es, (size_t)len * es);
        off += len;
    }
    return WEFT_OK;
}

static weft_status split_plan(const weft_op_ctx *c, int *axis, int64_t *parts) {
    const weft_shape *in = &c->in[0]->shape;
    weft_status s = need_rank(c, 0, 1);
    if (!s) s = weft_axis(c, weft_attr_i(c->node, "axis", 0), in->ndim, axis);
    if (s) return s;
    int64_t d = in->d[*axis], v[MAX_LIST];
    int n;
    bool given;
    s = read_list(c, 1, "split", v, &n, &given);
    if (s) return s;
    const weft_attr *no = weft_node_attr(c->node, "num_outputs");
    if (given) {
        if (no) return weft_node_err(c, WEFT_ERR_INVALID, "both 'split' and 'num_outputs' given");
        if (n != c->n_out) return weft_node_err(c, WEFT_ERR_INVALID, "split has %d parts for %d outputs", n, c->n_out);
        int64_t sum = 0;
        for (int k = 0; k < n; k++) {
            if (v[k] < 0) return weft_node_err(c, WEFT_ERR_INVALID, "split part %d is negative", k);
            parts[k] = v[k];
            sum += v[k];
        }
        if (sum != d)
            return weft_node_err(c, WEFT_ERR_SHAPE, "split parts sum to %lld but axis %d has size %lld", (long long)sum, *axis,
                                 (long long)d);
        return WEFT_OK;
    }
    if (no) {
        if (no->i != c->n_out) return weft_node_err(c, WEFT_ERR_INVALID, "num_outputs is %lld but the node has %d outputs", (long long)no->i, c->n_out);
        int64_t chunk = (d + c->n_out - 1) / c->n_out;
        for (int k = 0; k < c->n_out; k++) {
            int64_t left = d - chunk * k;
            parts[k] = left < 0 ? 0 : left < chunk ? left : chunk;
        }
        return WEFT_OK;
    }
    if (d % c->n_out)
        return weft_node_err(c, WEFT_ERR_SHAPE, "axis %d of size %lld does not split into %d equal parts", *axis, (long long)d, c->n_out);
    for (int k = 0; k < c->n_out; k++) parts[k] = d / c->n_out;
    return WEFT_OK;
}
static weft_status infer_split(weft_op_ctx *c) {
    int a;
    int64_t parts[WEFT_MAX_IO];
    weft_status s = split_plan(c, &a, parts);
    if (s) return s;
    for (int j = 0; j < c->n_out; j++) {
        c->out[j].dtype = c->in[0]->dtype;
        c->out[j].shape = c->in[0]->shape;
        c->out[j].shape.d[a] = parts[j];
    }
    return WEFT_OK;
}
static weft_status eval_split(weft_op_ctx *c) {
    int a;
    int64_t parts[WEFT_MAX_IO], outer, n, inner, off = 0;
    split_plan(c, &a, parts);
    split_at(&c->in[0]->shape, a, &outer, &n, &inner);
    size_t es = esize(c->in[0]);
    for (int j = 0; j < c->n_out; j++) {
        int64_t len = parts[j] * inner;
        for (int64_t o = 0; o < outer; o++)
            memcpy((char *)c->out[j].data + o * len * (int64_t)es,
                   (const char *)c->in[0]->data + (o * n * inner + off) * (int64_t)es, (size_t)len * es);
        off += len;
    }
    return WEFT_OK;
}

/* ---- Slice ---- */

typedef struct { weft_shape out; int64_t strides[WEFT_MAX_DIMS], offset; } slice_plan;

static weft_status plan_slice(const weft_op_ctx *c, slice_plan *p) {
    const weft_shape *in = &c->in[0]->shape;
    int64_t st[MAX_LIST], en[MAX_LIST], ax[MAX_LIST], sp[MAX_LIST];
    int ns, ne, na, nsp;
    bool gs, ge, ga, gsp;
    bool inputs = c->n_in > 1;
    weft_status s;
    if ((s = read_list(c, inputs ? 1 : -1, inputs ? NULL : "starts", st, &ns, &gs)) ||
        (s = read_list(c, inputs ? 2 : -1, inputs ? NULL : "ends", en, &ne, &ge)) ||
        (s = read_list(c, inputs ? 3 : -1, inputs ? NULL : "axes", ax, &na, &ga)) ||
        (s = read_list(c, inputs ? 4 : -1, NULL, sp, &nsp, &gsp)))
        return s;
    if (!gs || !ge) return weft_node_err(c, WEFT_ERR_INVALID, "starts and ends are required");
    if (ns != ne || (ga && na != ns) || (gsp && nsp != ns))
        return weft_node_err(c, WEFT_ERR_INVALID, "starts, ends, axes and steps have different lengths (%d, %d, %d, %d)", ns, ne,
                             ga ? na : ns, gsp ? nsp : ns);
    int64_t dst[WEFT_MAX_DIMS];
    dense_strides(in, dst);
    p->out = *in;
    p->offset = 0;
    for (int k = 0; k < in->ndim; k++) p->strides[k] = dst[k];
    uint32_t seen = 0;
    for (int i = 0; i < ns; i++) {
        int a;
        s = weft_axis(c, ga ? ax[i] : i, in->ndim, &a);
        if (s) return s;
        if (seen >> a & 1) return weft_node_err(c, WEFT_ERR_INVALID, "axis %d is sliced twice", a);
        seen |= 1u << a;
        int64_t d = in->d[a], step = gsp ? sp[i] : 1, b = st[i], e = en[i], len;
        if (step == 0) return weft_node_err(c, WEFT_ERR_INVALID, "step 0 on axis %d", a);
        /* negative positions count from the end; then clamp to [0, d] (step > 0) or [-1, d - 1] */
        if (b < 0) b = b + d < 0 ? -1 : b + d;
        if (e < 0) e = e + d < 0 ? -1 : e + d;
        if (step > 0) {
            b = b < 0 ? 0 : b > d ? d : b;
            e = e < 0 ? 0 : e > d ? d : e;
            len = e > b ? (e - b - 1) / step + 1 : 0;
        } else {
            int64_t as = step == INT64_MIN ? INT64_MAX : -step;
            b = b > d - 1 ? d - 1 : b;
            e = e > d - 1 ? d - 1 : e;
            len = b > e ? (b - e - 1) / as + 1 : 0;
        }
        p->out.d[a] = len;
        if (len > 0) p->offset += b * dst[a];
        p->strides[a] = len > 1 ? step * dst[a] : 0;
    }
    return WEFT_OK;
}
static weft_status infer_slice(weft_op_ctx *c) {
    slice_plan p;
    weft_status s = plan_slice(c, &p);
    if (s) return s;
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = p.out;
    return WEFT_OK;
}
static weft_status eval_slice(weft_op_ctx *c) {
    slice_plan p;
    plan_slice(c, &p);
    weft_copy_strided(c->out[0].data, c->in[0]->data, esize(c->in[0]), &p.out, p.strides, p.offset);
    return WEFT_OK;
}

/* ---- Gather family ---- */

static weft_status infer_gather(weft_op_ctx *c) {
    weft_status s = need_int_indices(c, 1);
    if (s) return s;
    const weft_shape *d = &c->in[0]->shape, *ix = &c->in[1]->shape;
    int a;
    if ((s = weft_axis(c, weft_attr_i(c->node, "axis", 0), d->ndim, &a))) return s;
    if (d->ndim == 0) return weft_node_err(c, WEFT_ERR_SHAPE, "cannot gather from a scalar");
    if (d->ndim - 1 + ix->ndim > WEFT_MAX_DIMS)
        return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "output rank %d exceeds %d", d->ndim - 1 + ix->ndim, WEFT_MAX_DIMS);
    weft_shape o = {0};
    for (int k = 0; k < a; k++) o.d[o.ndim++] = d->d[k];
    for (int k = 0; k < ix->ndim; k++) o.d[o.ndim++] = ix->d[k];
    for (int k = a + 1; k < d->ndim; k++) o.d[o.ndim++] = d->d[k];
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = o;
    return WEFT_OK;
}
static weft_status eval_gather(weft_op_ctx *c) {
    int a;
    weft_axis(c, weft_attr_i(c->node, "axis", 0), c->in[0]->shape.ndim, &a);
    int64_t outer, n, inner, *idx;
    split_at(&c->in[0]->shape, a, &outer, &n, &inner);
    weft_status s = norm_indices(c, c->in[1], n, &idx);
    if (s) return s;
    weft_gather(c->out[0].data, c->in[0]->data, esize(c->in[0]), outer, n, inner, idx, weft_tensor_numel(c->in[1]));
    free(idx);
    return WEFT_OK;
}

/* GatherElements and ScatterElements: indices (and updates) of data's rank, each dim within data's
 * except along the axis. */
static weft_status elements_check(weft_op_ctx *c, int *a) {
    weft_status s = need_int_indices(c, 1);
    if (!s) s = need_rank(c, 0, 1);
    if (s) return s;
    const weft_shape *d = &c->in[0]->shape, *ix = &c->in[1]->shape;
    if ((s = weft_axis(c, weft_attr_i(c->node, "axis", 0), d->ndim, a))) return s;
    char b1[160], b2[160];
    bool ok = ix->ndim == d->ndim;
    for (int k = 0; k < d->ndim && ok; k++) ok = k == *a || ix->d[k] <= d->d[k];
    if (!ok) return weft_node_err(c, WEFT_ERR_SHAPE, "indices %s do not fit data %s", shp(ix, b1), shp(d, b2));
    return WEFT_OK;
}
static weft_status infer_gather_elements(weft_op_ctx *c) {
    int a;
    weft_status s = elements_check(c, &a);
    if (s) return s;
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = c->in[1]->shape;
    return WEFT_OK;
}
static weft_status eval_gather_elements(weft_op_ctx *c) {
    int a;
    elements_check(c, &a);
    int64_t *idx;
    weft_status s = norm_indices(c, c->in[1], c->in[0]->shape.d[a], &idx);
    if (s) return s;
    weft_gather_elements(c->out[0].data, c->in[0]->data, esize(c->in[0]), &c->in[0]->shape, &c->in[1]->shape, idx, a);
    free(idx);
    return WEFT_OK;
}

static weft_status scatter_red(const weft_op_ctx *c, weft_scatter_red *r) {
    const char *s = weft_attr_s(c->node, "reduction", "none");
    static const char *names[] = {"none", "add", "mul", "max", "min"};
    for (int k = 0; k < 5; k++)
        if (!strcmp(s, names[k])) { *r = (weft_scatter_red)k; return WEFT_OK; }
    return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "reduction '%s' is not supported (none, add, mul, max, min)", s);
}
static weft_status infer_scatter_elements(weft_op_ctx *c) {
    int a;
    weft_scatter_red r;
    weft_status s = elements_check(c, &a);
    if (!s) s = scatter_red(c, &r);
    if (s) return s;
    char b1[160], b2[160];
    if (!weft_shape_eq(&c->in[1]->shape, &c->in[2]->shape))
        return weft_node_err(c, WEFT_ERR_SHAPE, "indices %s and updates %s differ", shp(&c->in[1]->shape, b1), shp(&c->in[2]->shape, b2));
    if (c->in[2]->dtype != c->in[0]->dtype)
        return weft_node_err(c, WEFT_ERR_SHAPE, "updates are %s but data is %s", weft_dtype_name(c->in[2]->dtype), weft_dtype_name(c->in[0]->dtype));
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = c->in[0]->shape;
    return WEFT_OK;
}
static weft_status eval_scatter_elements(weft_op_ctx *c) {
    int a;
    weft_scatter_red r;
    elements_check(c, &a);
    scatter_red(c, &r);
    int64_t *idx;
    weft_status s = norm_indices(c, c->in[1], c->in[0]->shape.d[a], &idx);
    if (s) return s;
    memcpy(c->out[0].data, c->in[0]->data, weft_tensor_nbytes(c->in[0]));
    weft_scatter_elements(c->out[0].data, c->out[0].dtype, &c->in[0]->shape, c->in[2]->data, &c->in[1]->shape, idx, a, r);
    free(idx);
    return WEFT_OK;
}

/* GatherND / ScatterND: the last index dim m addresses data dims [b, b + m). */
static weft_status infer_gather_nd(weft_op_ctx *c) {
    weft_status s = need_int_indices(c, 1);
    if (s) return s;
    const weft_shape *d = &c->in[0]->shape, *ix = &c->in[1]->shape;
    int64_t b = weft_attr_i(c->node, "batch_dims", 0);
    char b1[160], b2[160];
    if (ix->ndim < 1) return weft_node_err(c, WEFT_ERR_SHAPE, "indices must have rank >= 1");
    int64_t m = ix->d[ix->ndim - 1];
    if (b < 0 || b >= ix->ndim || b >= d->ndim || m < 1 || b + m > d->ndim)
        return weft_node_err(c, WEFT_ERR_SHAPE, "indices %s with batch_dims %lld do not fit data %s", shp(ix, b1), (long long)b, shp(d, b2));
    for (int k = 0; k < b; k++)
        if (ix->d[k] != d->d[k]) return weft_node_err(c, WEFT_ERR_SHAPE, "batch dims of indices %s and data %s differ", shp(ix, b1), shp(d, b2));
    weft_shape o = {0};
    int r = ix->ndim - 1 + d->ndim - (int)(b + m);
    if (r > WEFT_MAX_DIMS) return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "output rank %d exceeds %d", r, WEFT_MAX_DIMS);
    for (int k = 0; k < ix->ndim - 1; k++) o.d[o.ndim++] = ix->d[k];
    for (int k = (int)(b + m); k < d->ndim; k++) o.d[o.ndim++] = d->d[k];
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = o;
    return WEFT_OK;
}
/* Validates the tuples of an ND index tensor; fills the batch/tuple geometry. */
static weft_status nd_plan(const weft_op_ctx *c, int64_t bdims, int64_t *batch, int64_t *bstride, int64_t *n_tuples, int *m,
                           int64_t *tstrides, int64_t *slice, int64_t **idx) {
    const weft_shape *d = &c->in[0]->shape, *ix = &c->in[1]->shape;
    int64_t ds[WEFT_MAX_DIMS];
    dense_strides(d, ds);
    *m = (int)ix->d[ix->ndim - 1];
    *batch = 1;
    for (int k = 0; k < bdims; k++) *batch *= d->d[k];
    *bstride = bdims ? ds[bdims - 1] : 0;
    *n_tuples = 1;
    for (int k = (int)bdims; k < ix->ndim - 1; k++) *n_tuples *= ix->d[k];
    *slice = 1;
    for (int k = (int)bdims + *m; k < d->ndim; k++) *slice *= d->d[k];
    for (int k = 0; k < *m; k++) tstrides[k] = ds[bdims + k];
    int64_t n = weft_tensor_numel(c->in[1]);
    int64_t *v = weft_xmalloc((size_t)(n ? n : 1) * sizeof *v);
    const int64_t *src = c->in[1]->data;
    for (int64_t i = 0; i < n; i++) {
        int64_t dim = d->d[bdims + i % *m], x = src[i];
        if (x < -dim || x >= dim) {
            free(v);
            return weft_node_err(c, WEFT_ERR_INVALID, "index %lld out of range for a dimension of size %lld", (long long)x, (long long)dim);
        }
        v[i] = x < 0 ? x + dim : x;
    }
    *idx = v;
    return WEFT_OK;
}
static weft_status eval_gather_nd(weft_op_ctx *c) {
    int64_t batch, bstride, n_tuples, ts[WEFT_MAX_DIMS], slice, *idx;
    int m;
    weft_status s = nd_plan(c, weft_attr_i(c->node, "batch_dims", 0), &batch, &bstride, &n_tuples, &m, ts, &slice, &idx);
    if (s) return s;
    weft_gather_nd(c->out[0].data, c->in[0]->data, esize(c->in[0]), batch, bstride, n_tuples, m, ts, idx, slice);
    free(idx);
    return WEFT_OK;
}
static weft_status infer_scatter_nd(weft_op_ctx *c) {
    weft_scatter_red r;
    weft_status s = need_int_indices(c, 1);
    if (!s) s = scatter_red(c, &r);
    if (s) return s;
    const weft_shape *d = &c->in[0]->shape, *ix = &c->in[1]->shape, *u = &c->in[2]->shape;
    char b1[160], b2[160];
    if (ix->ndim < 1 || ix->d[ix->ndim - 1] < 1 || ix->d[ix->ndim - 1] > d->ndim)
        return weft_node_err(c, WEFT_ERR_SHAPE, "indices %s do not fit data %s", shp(ix, b1), shp(d, b2));
    int m = (int)ix->d[ix->ndim - 1];
    weft_shape want = {0};
    for (int k = 0; k < ix->ndim - 1; k++) want.d[want.ndim++] = ix->d[k];
    for (int k = m; k < d->ndim; k++) {
        if (want.ndim == WEFT_MAX_DIMS) return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "updates rank exceeds %d", WEFT_MAX_DIMS);
        want.d[want.ndim++] = d->d[k];
    }
    if (!weft_shape_eq(u, &want))
        return weft_node_err(c, WEFT_ERR_SHAPE, "updates are %s, expected %s", shp(u, b1), shp(&want, b2));
    if (c->in[2]->dtype != c->in[0]->dtype)
        return weft_node_err(c, WEFT_ERR_SHAPE, "updates are %s but data is %s", weft_dtype_name(c->in[2]->dtype), weft_dtype_name(c->in[0]->dtype));
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = *d;
    return WEFT_OK;
}
static weft_status eval_scatter_nd(weft_op_ctx *c) {
    int64_t batch, bstride, n_tuples, ts[WEFT_MAX_DIMS], slice, *idx;
    int m;
    weft_scatter_red r;
    scatter_red(c, &r);
    weft_status s = nd_plan(c, 0, &batch, &bstride, &n_tuples, &m, ts, &slice, &idx);
    if (s) return s;
    memcpy(c->out[0].data, c->in[0]->data, weft_tensor_nbytes(c->in[0]));
    weft_scatter_nd(c->out[0].data, c->out[0].dtype, c->in[2]->data, n_tuples, m, ts, idx, slice, r);
    free(idx);
    return WEFT_OK;
}

/* ---- Expand, Tile ---- */

static weft_status infer_expand(weft_op_ctx *c) {
    weft_shape t;
    weft_status s = read_shape(c, 1, &t);
    if (s) return s;
    if (weft_shape_broadcast(&c->in[0]->shape, &t, &c->out[0].shape, c->err))
        return weft_err_prefix(c->err, "node '%s' (%s)", c->node->name, c->node->op->name);
    c->out[0].dtype = c->in[0]->dtype;
    return WEFT_OK;
}
static weft_status eval_expand(weft_op_ctx *c) {
    int64_t st[WEFT_MAX_DIMS];
    const weft_shape *in = &c->in[0]->shape, *o = &c->out[0].shape;
    int64_t ds[WEFT_MAX_DIMS];
    dense_strides(in, ds);
    for (int k = 0; k < o->ndim; k++) {
        int j = k - (o->ndim - in->ndim);
        st[k] = j < 0 || in->d[j] == 1 ? 0 : ds[j];
    }
    weft_copy_strided(c->out[0].data, c->in[0]->data, esize(c->in[0]), o, st, 0);
    return WEFT_OK;
}

static weft_status infer_tile(weft_op_ctx *c) {
    int64_t v[MAX_LIST];
    int n;
    bool given;
    weft_status s = read_list(c, 1, NULL, v, &n, &given);
    if (s) return s;
    const weft_shape *in = &c->in[0]->shape;
    if (n != in->ndim) return weft_node_err(c, WEFT_ERR_SHAPE, "repeats has %d entries for an input of rank %d", n, in->ndim);
    weft_shape o = *in;
    for (int k = 0; k < n; k++) {
        if (v[k] < 0) return weft_node_err(c, WEFT_ERR_INVALID, "repeat %lld is negative", (long long)v[k]);
        if (v[k] && o.d[k] > INT64_MAX / v[k]) return weft_node_err(c, WEFT_ERR_NOMEM, "tiled dimension overflows");
        o.d[k] *= v[k];
    }
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = o;
    return WEFT_OK;
}
static weft_status eval_tile(weft_op_ctx *c) {
    weft_tile(c->out[0].data, c->in[0]->data, esize(c->in[0]), &c->in[0]->shape, &c->out[0].shape);
    return WEFT_OK;
}

/* ---- Pad ---- */

typedef struct { weft_shape out; int64_t begin[WEFT_MAX_DIMS]; weft_pad_mode mode; } pad_plan;

static weft_status plan_pad(const weft_op_ctx *c, pad_plan *p) {
    const weft_shape *in = &c->in[0]->shape;
    int r = in->ndim;
    const char *m = weft_attr_s(c->node, "mode", "constant");
    if (!strcmp(m, "constant")) p->mode = WEFT_PAD_CONSTANT;
    else if (!strcmp(m, "reflect")) p->mode = WEFT_PAD_REFLECT;
    else if (!strcmp(m, "edge")) p->mode = WEFT_PAD_EDGE;
    else return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "mode '%s' is not supported (constant, reflect, edge)", m);
    int64_t pads[MAX_LIST], axv[MAX_LIST];
    int np, na;
    bool gp, ga;
    bool inputs = c->n_in > 1;
    weft_status s = read_list(c, inputs ? 1 : -1, inputs ? NULL : "pads", pads, &np, &gp);
    if (!s) s = read_list(c, 3, NULL, axv, &na, &ga);
    if (s) return s;
    if (!gp) return weft_node_err(c, WEFT_ERR_INVALID, "pads are required");
    if (!ga) { na = r; for (int k = 0; k < r; k++) axv[k] = k; }
    if (np != 2 * na) return weft_node_err(c, WEFT_ERR_SHAPE, "pads has %d entries, expected %d", np, 2 * na);
    p->out = *in;
    memset(p->begin, 0, sizeof p->begin);
    for (int i = 0; i < na; i++) {
        int a;
        if ((s = weft_axis(c, axv[i], r, &a))) return s;
        int64_t b = pads[i], e = pads[i + na], d;
        if (__builtin_add_overflow(in->d[a], b, &d) || __builtin_add_overflow(d, e, &d))  /* a fuzzed file: 2^63 - 127 */
            return weft_node_err(c, WEFT_ERR_SHAPE, "pads (%lld, %lld) of axis %d overflow its size", (long long)b, (long long)e, a);
        if (d < 0) return weft_node_err(c, WEFT_ERR_SHAPE, "pads (%lld, %lld) crop axis %d of size %lld below zero", (long long)b,
                                        (long long)e, a, (long long)in->d[a]);
        if ((b > 0 || e > 0) && p->mode != WEFT_PAD_CONSTANT && in->d[a] == 0)
            return weft_node_err(c, WEFT_ERR_SHAPE, "cannot %s-pad the empty axis %d", m, a);
        p->out.d[a] = d;
        p->begin[a] = b;
    }
    return WEFT_OK;
}
static weft_status infer_pad(weft_op_ctx *c) {
    pad_plan p;
    weft_status s = plan_pad(c, &p);
    if (s) return s;
    if (c->n_in > 2 && c->in[2] && weft_tensor_numel(c->in[2]) != 1)
        return weft_node_err(c, WEFT_ERR_SHAPE, "constant_value must hold one value");
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = p.out;
    return WEFT_OK;
}
static weft_status eval_pad(weft_op_ctx *c) {
    pad_plan p;
    plan_pad(c, &p);
    uint8_t value[8] = {0};
    const weft_tensor *x = c->in[0];
    if (c->n_in > 2 && c->in[2]) weft_convert(value, x->dtype, c->in[2]->data, c->in[2]->dtype, 1);
    else {
        float v = weft_attr_f(c->node, "value", 0);
        weft_convert(value, x->dtype, &v, WEFT_F32, 1);
    }
    weft_pad(c->out[0].data, x->data, esize(x), &x->shape, &p.out, p.begin, p.mode, value);
    return WEFT_OK;
}

/* ---- ConstantOfShape, Range, EyeLike ---- */

static weft_status infer_constant_of_shape(weft_op_ctx *c) {
    weft_shape o;
    weft_status s = read_shape(c, 0, &o);
    if (s) return s;
    const weft_attr *a = weft_node_attr(c->node, "value");
    if (a && (a->type != WEFT_ATTR_TENSOR || !a->t || weft_tensor_numel(a->t) != 1))
        return weft_node_err(c, WEFT_ERR_INVALID, "'value' must be a one-element tensor");
    c->out[0].dtype = a ? a->t->dtype : WEFT_F32;
    c->out[0].shape = o;
    return WEFT_OK;
}
static weft_status eval_constant_of_shape(weft_op_ctx *c) {
    const weft_attr *a = weft_node_attr(c->node, "value");
    weft_tensor *o = &c->out[0];
    if (!a) return WEFT_OK; /* zeros */
    uint8_t v[8];
    weft_convert(v, o->dtype, a->t->data, a->t->dtype, 1);
    size_t es = esize(o);
    int64_t n = weft_tensor_numel(o);
    for (int64_t i = 0; i < n; i++) memcpy((char *)o->data + i * (int64_t)es, v, es);
    return WEFT_OK;
}

static weft_status range_count(const weft_op_ctx *c, int64_t *n) {
    for (int i = 0; i < 3; i++) {
        if (weft_tensor_numel(c->in[i]) != 1) return weft_node_err(c, WEFT_ERR_SHAPE, "input %d must be a scalar", i);
        if (c->in[i]->dtype != c->in[0]->dtype) return weft_node_err(c, WEFT_ERR_SHAPE, "inputs differ in dtype");
    }
    if (c->in[0]->dtype == WEFT_BOOL) return weft_node_err(c, WEFT_ERR_SHAPE, "Range takes numbers, not bool");
    if (weft_dtype_is_float(c->in[0]->dtype)) {
        double s = weft_tensor_get_f(c->in[0], 0), l = weft_tensor_get_f(c->in[1], 0), d = weft_tensor_get_f(c->in[2], 0);
        if (d == 0 || !isfinite(s) || !isfinite(l) || !isfinite(d)) return weft_node_err(c, WEFT_ERR_INVALID, "start, limit and delta must be finite, delta non-zero");
        double k = ceil((l - s) / d);
        if (k > 1e15) return weft_node_err(c, WEFT_ERR_NOMEM, "%g elements", k);
        *n = k > 0 ? (int64_t)k : 0;
    } else {
        int64_t s = weft_tensor_get_i(c->in[0], 0), l = weft_tensor_get_i(c->in[1], 0), d = weft_tensor_get_i(c->in[2], 0);
        if (d == 0) return weft_node_err(c, WEFT_ERR_INVALID, "delta is zero");
        double k = ceil(((double)l - (double)s) / (double)d);
        if (k > 1e15) return weft_node_err(c, WEFT_ERR_NOMEM, "%g elements", k);
        *n = k > 0 ? (int64_t)k : 0;
    }
    return WEFT_OK;
}
static weft_status infer_range(weft_op_ctx *c) {
    int64_t n = 0;
    weft_status s = range_count(c, &n);
    if (s) return s;
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = WEFT_SHAPE(n);
    return WEFT_OK;
}
static weft_status eval_range(weft_op_ctx *c) {
    int64_t n = weft_tensor_numel(&c->out[0]);
    if (c->out[0].dtype == WEFT_F32) {
        float s = *(const float *)c->in[0]->data, d = *(const float *)c->in[2]->data;
        for (int64_t i = 0; i < n; i++) ((float *)c->out[0].data)[i] = s + (float)i * d;
    } else {
        int64_t s = *(const int64_t *)c->in[0]->data, d = *(const int64_t *)c->in[2]->data;
        for (int64_t i = 0; i < n; i++) ((int64_t *)c->out[0].data)[i] = s + i * d;
    }
    return WEFT_OK;
}

static weft_status infer_eyelike(weft_op_ctx *c) {
    if (c->in[0]->shape.ndim != 2) return weft_node_err(c, WEFT_ERR_SHAPE, "input must be 2-D, got rank %d", c->in[0]->shape.ndim);
    c->out[0].dtype = c->in[0]->dtype;
    const weft_attr *a = weft_node_attr(c->node, "dtype");
    if (a) {
        int dt = weft_dtype_from_onnx((int)a->i);
        if (dt < 0) return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "dtype %lld is not supported", (long long)a->i);
        c->out[0].dtype = (weft_dtype)dt;
    }
    c->out[0].shape = c->in[0]->shape;
    return WEFT_OK;
}
static weft_status eval_eyelike(weft_op_ctx *c) {
    weft_tensor *o = &c->out[0];
    int64_t r = o->shape.d[0], cols = o->shape.d[1], k = weft_attr_i(c->node, "k", 0);
    float one_f = 1;
    uint8_t one[8];
    weft_convert(one, o->dtype, &one_f, WEFT_F32, 1);
    size_t es = esize(o);
    for (int64_t i = 0; i < r; i++) {
        int64_t j = i + k;
        if (j >= 0 && j < cols) memcpy((char *)o->data + (i * cols + j) * (int64_t)es, one, es);
    }
    return WEFT_OK;
}

/* ---- CumSum, Trilu, OneHot ---- */

static weft_status infer_cumsum(weft_op_ctx *c) {
    int64_t ax;
    int a;
    weft_status s = need_rank(c, 0, 1);
    if (!s) s = read_scalar_i(c, 1, &ax);
    if (!s) s = weft_axis(c, ax, c->in[0]->shape.ndim, &a);
    if (s) return s;
    if (c->in[0]->dtype == WEFT_BOOL) return weft_node_err(c, WEFT_ERR_SHAPE, "CumSum takes numbers, not bool");
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = c->in[0]->shape;
    return WEFT_OK;
}
static weft_status eval_cumsum(weft_op_ctx *c) {
    int64_t ax, outer, n, inner;
    int a;
    read_scalar_i(c, 1, &ax);
    weft_axis(c, ax, c->in[0]->shape.ndim, &a);
    split_at(&c->in[0]->shape, a, &outer, &n, &inner);
    weft_cumsum(c->out[0].data, c->in[0]->data, c->in[0]->dtype == WEFT_F32, outer, n, inner,
                weft_attr_i(c->node, "exclusive", 0) != 0, weft_attr_i(c->node, "reverse", 0) != 0);
    return WEFT_OK;
}

static weft_status infer_trilu(weft_op_ctx *c) {
    if (c->in[0]->shape.ndim < 2) return weft_node_err(c, WEFT_ERR_SHAPE, "input must have rank >= 2, got %d", c->in[0]->shape.ndim);
    if (c->n_in > 1 && c->in[1] && weft_tensor_numel(c->in[1]) != 1) return weft_node_err(c, WEFT_ERR_SHAPE, "k must be a scalar");
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = c->in[0]->shape;
    return WEFT_OK;
}
static weft_status eval_trilu(weft_op_ctx *c) {
    int64_t k = 0;
    if (c->n_in > 1 && c->in[1]) k = weft_tensor_get_i(c->in[1], 0);
    bool upper = weft_attr_i(c->node, "upper", 1) != 0;
    const weft_shape *s = &c->in[0]->shape;
    int64_t rows = s->d[s->ndim - 2], cols = s->d[s->ndim - 1], mats = rows * cols != 0 ? weft_shape_numel(s) / (rows * cols) : 0;
    size_t es = esize(c->in[0]);
    for (int64_t m = 0; m < mats; m++)
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) {
                bool keep = upper ? j - i >= k : j - i <= k;
                int64_t p = (m * rows + i) * cols + j;
                if (keep) memcpy((char *)c->out[0].data + p * (int64_t)es, (const char *)c->in[0]->data + p * (int64_t)es, es);
            }
    return WEFT_OK;
}

static weft_status onehot_plan(const weft_op_ctx *c, int *axis, int64_t *depth) {
    const weft_tensor *d = c->in[1];
    if (weft_tensor_numel(d) != 1) return weft_node_err(c, WEFT_ERR_SHAPE, "depth must hold one value");
    *depth = weft_dtype_is_float(d->dtype) ? (int64_t)weft_tensor_get_f(d, 0) : weft_tensor_get_i(d, 0);
    if (*depth < 1) return weft_node_err(c, WEFT_ERR_INVALID, "depth %lld is not positive", (long long)*depth);
    int r = c->in[0]->shape.ndim + 1;
    if (r > WEFT_MAX_DIMS) return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "output rank %d exceeds %d", r, WEFT_MAX_DIMS);
    return weft_axis(c, weft_attr_i(c->node, "axis", -1), r, axis);
}
static weft_status infer_onehot(weft_op_ctx *c) {
    int a;
    int64_t depth;
    weft_status s = onehot_plan(c, &a, &depth);
    if (s) return s;
    if (weft_tensor_numel(c->in[2]) != 2) return weft_node_err(c, WEFT_ERR_SHAPE, "values must hold two elements (off, on)");
    const weft_shape *in = &c->in[0]->shape;
    weft_shape o = {.ndim = in->ndim + 1};
    for (int k = 0, j = 0; k < o.ndim; k++) o.d[k] = k == a ? depth : in->d[j++];
    c->out[0].dtype = c->in[2]->dtype;
    c->out[0].shape = o;
    return WEFT_OK;
}
static weft_status eval_onehot(weft_op_ctx *c) {
    int a;
    int64_t depth;
    onehot_plan(c, &a, &depth);
    weft_tensor *o = &c->out[0];
    size_t es = esize(o);
    const char *off = c->in[2]->data, *on = off + es;
    int64_t n = weft_tensor_numel(o);
    for (int64_t i = 0; i < n; i++) memcpy((char *)o->data + i * (int64_t)es, off, es);
    int64_t outer, nn, inner;
    split_at(&o->shape, a, &outer, &nn, &inner);
    const weft_tensor *ix = c->in[0];
    for (int64_t p = 0; p < outer; p++)
        for (int64_t q = 0; q < inner; q++) {
            int64_t i = p * inner + q;
            int64_t v = ix->dtype == WEFT_F32 ? (int64_t)((const float *)ix->data)[i] : weft_tensor_get_i(ix, i);
            if (v < 0) v += depth;
            if (v >= 0 && v < depth) memcpy((char *)o->data + ((p * depth + v) * inner + q) * (int64_t)es, on, es);
        }
    return WEFT_OK;
}

/* ---- DepthToSpace, SpaceToDepth ---- */

/* The 6-D source view and permutation that do the move; out is the 4-D result. */
static weft_status d2s_plan(const weft_op_ctx *c, bool to_space, weft_shape *src6, int *perm, weft_shape *out) {
    const weft_shape *s = &c->in[0]->shape;
    int64_t b = weft_attr_i(c->node, "blocksize", 0);
    if (s->ndim != 4) return weft_node_err(c, WEFT_ERR_SHAPE, "input must be 4-D (N, C, H, W), got rank %d", s->ndim);
    if (b < 1) return weft_node_err(c, WEFT_ERR_INVALID, "blocksize must be positive");
    int64_t N = s->d[0], C = s->d[1], H = s->d[2], W = s->d[3];
    if (to_space) {
        if (C % (b * b)) return weft_node_err(c, WEFT_ERR_SHAPE, "channels %lld are not a multiple of blocksize^2 = %lld", (long long)C, (long long)(b * b));
        const char *m = weft_attr_s(c->node, "mode", "DCR");
        int64_t Co = C / (b * b);
        if (!strcmp(m, "DCR")) {
            *src6 = WEFT_SHAPE(N, b, b, Co, H, W);
            memcpy(perm, (int[]){0, 3, 4, 1, 5, 2}, 6 * sizeof *perm);
        } else if (!strcmp(m, "CRD")) {
            *src6 = WEFT_SHAPE(N, Co, b, b, H, W);
            memcpy(perm, (int[]){0, 1, 4, 2, 5, 3}, 6 * sizeof *perm);
        } else return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "mode '%s' is not supported (DCR, CRD)", m);
        *out = WEFT_SHAPE(N, Co, H * b, W * b);
    } else {
        if (H % b || W % b)
            return weft_node_err(c, WEFT_ERR_SHAPE, "height %lld and width %lld must be multiples of blocksize %lld", (long long)H, (long long)W, (long long)b);
        *src6 = WEFT_SHAPE(N, C, H / b, b, W / b, b);
        memcpy(perm, (int[]){0, 3, 5, 1, 2, 4}, 6 * sizeof *perm);
        *out = WEFT_SHAPE(N, C * b * b, H / b, W / b);
    }
    return WEFT_OK;
}
static weft_status infer_d2s(weft_op_ctx *c) {
    weft_shape s6, o;
    int perm[6];
    weft_status s = d2s_plan(c, !strcmp(c->node->op->name, "DepthToSpace"), &s6, perm, &o);
    if (s) return s;
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = o;
    return WEFT_OK;
}
static weft_status eval_d2s(weft_op_ctx *c) {
    weft_shape s6, o;
    int perm[6];
    d2s_plan(c, !strcmp(c->node->op->name, "DepthToSpace"), &s6, perm, &o);
    permute(c->out[0].data, c->in[0]->data, esize(c->in[0]), &s6, perm);
    return WEFT_OK;
}

/* ---- CastLike ---- */

static weft_status infer_castlike(weft_op_ctx *c) {
    c->out[0].dtype = c->in[1]->dtype;
    c->out[0].shape = c->in[0]->shape;
    return WEFT_OK;
}
static weft_status eval_castlike(weft_op_ctx *c) {
    weft_convert(c->out[0].data, c->out[0].dtype, c->in[0]->data, c->in[0]->dtype, (size_t)weft_tensor_numel(c->in[0]));
    return WEFT_OK;
}

/* ---- ArgMax, ArgMin, TopK ---- */

static weft_status infer_arg(weft_op_ctx *c) {
    const weft_shape *in = &c->in[0]->shape;
    int a;
    weft_status s = weft_axis(c, weft_attr_i(c->node, "axis", 0), in->ndim, &a);
    if (s) return s;
    if (c->in[0]->dtype == WEFT_BOOL) return weft_node_err(c, WEFT_ERR_SHAPE, "input must be numeric, not bool");
    if (in->ndim == 0 || in->d[a] == 0) return weft_node_err(c, WEFT_ERR_SHAPE, "cannot take %s over an empty axis", c->node->op->name);
    weft_shape o = *in;
    if (weft_attr_i(c->node, "keepdims", 1)) o.d[a] = 1;
    else {
        for (int k = a; k < o.ndim - 1; k++) o.d[k] = o.d[k + 1];
        o.ndim--;
    }
    c->out[0].dtype = WEFT_I64;
    c->out[0].shape = o;
    return WEFT_OK;
}
static weft_status eval_arg(weft_op_ctx *c) {
    int a;
    weft_axis(c, weft_attr_i(c->node, "axis", 0), c->in[0]->shape.ndim, &a);
    int64_t outer, n, inner;
    split_at(&c->in[0]->shape, a, &outer, &n, &inner);
    weft_argext(c->out[0].data, c->in[0]->data, c->in[0]->dtype == WEFT_F32, outer, n, inner,
                !strcmp(c->node->op->name, "ArgMax"), weft_attr_i(c->node, "select_last_index", 0) != 0);
    return WEFT_OK;
}

static weft_status topk_plan(const weft_op_ctx *c, int *a, int64_t *k) {
    const weft_shape *in = &c->in[0]->shape;
    weft_status s = need_rank(c, 0, 1);
    if (!s) s = weft_axis(c, weft_attr_i(c->node, "axis", -1), in->ndim, a);
    if (s) return s;
    if (c->n_in > 1 && c->in[1]) {
        if ((s = read_scalar_i(c, 1, k))) return s;
    } else {
        const weft_attr *ka = weft_node_attr(c->node, "k");
        if (!ka) return weft_node_err(c, WEFT_ERR_INVALID, "k is missing");
        *k = ka->i;
    }
    if (*k < 0 || *k > in->d[*a])
        return weft_node_err(c, WEFT_ERR_INVALID, "k = %lld is outside [0, %lld] for axis %d", (long long)*k, (long long)in->d[*a], *a);
    return WEFT_OK;
}
static weft_status infer_topk(weft_op_ctx *c) {
    int a;
    int64_t k;
    weft_status s = topk_plan(c, &a, &k);
    if (s) return s;
    if (c->in[0]->dtype == WEFT_BOOL) return weft_node_err(c, WEFT_ERR_SHAPE, "input must be numeric, not bool");
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = c->in[0]->shape;
    c->out[0].shape.d[a] = k;
    if (c->n_out > 1) {
        c->out[1].dtype = WEFT_I64;
        c->out[1].shape = c->out[0].shape;
    }
    return WEFT_OK;
}
static weft_status eval_topk(weft_op_ctx *c) {
    int a;
    int64_t k, outer, n, inner;
    topk_plan(c, &a, &k);
    split_at(&c->in[0]->shape, a, &outer, &n, &inner);
    int64_t *idx = c->n_out > 1 ? c->out[1].data : weft_xmalloc((size_t)(outer * k * inner + 1) * sizeof(int64_t));
    weft_topk(c->out[0].data, idx, c->in[0]->data, c->in[0]->dtype == WEFT_F32, outer, n, inner, k,
              weft_attr_i(c->node, "largest", 1) != 0);
    if (c->n_out < 2) free(idx);
    return WEFT_OK;
}
static weft_cost cost_topk(const weft_op_ctx *c) {
    /* a sort of every line: n log2 n comparisons */
    int64_t n = weft_tensor_numel(c->in[0]);
    int a;
    weft_cost k = cost_scan(c);
    if (weft_axis(c, weft_attr_i(c->node, "axis", -1), c->in[0]->shape.ndim, &a) == WEFT_OK && c->in[0]->shape.d[a] > 1)
        k.flops = n * (int64_t)ceil(log2((double)c->in[0]->shape.d[a]));
    return k;
}

/* ---- Resize ---- */

static weft_status plan_resize(const weft_op_ctx *c, weft_resize_params *p, weft_shape *out) {
    const weft_node *nd = c->node;
    const weft_shape *in = &c->in[0]->shape;
    int r = in->ndim;
    memset(p, 0, sizeof *p);
    if (!weft_dtype_is_float(c->in[0]->dtype)) return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "only floating inputs are supported");
    if (weft_attr_i(nd, "antialias", 0)) return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "antialias is not supported");
    if (weft_node_attr(nd, "axes")) return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "the 'axes' attribute is not supported");
    const char *kp = weft_attr_s(nd, "keep_aspect_ratio_policy", "stretch");
    if (strcmp(kp, "stretch")) return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "keep_aspect_ratio_policy '%s' is not supported", kp);
    const char *m = weft_attr_s(nd, "mode", "nearest");
    if (!strcmp(m, "nearest")) p->mode = WEFT_RESIZE_NEAREST;
    else if (!strcmp(m, "linear")) p->mode = WEFT_RESIZE_LINEAR;
    else if (!strcmp(m, "cubic")) p->mode = WEFT_RESIZE_CUBIC;
    else return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "mode '%s' is not supported", m);
    bool upsample = !strcmp(nd->op->name, "Upsample"); /* opset 7-9: Resize-10's rules */
    bool v10 = nd->opset < 11 || upsample;
    const char *ct = weft_attr_s(nd, "coordinate_transformation_mode", v10 ? "asymmetric" : "half_pixel");
    static const char *cts[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize",
                                "half_pixel_symmetric", "tf_half_pixel_for_nn"};
    int ci = -1;
    for (int k = 0; k < 7; k++)
        if (!strcmp(ct, cts[k])) ci = k;
    if (ci < 0) return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "coordinate_transformation_mode '%s' is not supported", ct);
    p->coord = (weft_coord_mode)ci;
    const char *nm = weft_attr_s(nd, "nearest_mode", "round_prefer_floor");
    static const char *nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    int ni = -1;
    for (int k = 0; k < 4; k++)
        if (!strcmp(nm, nms[k])) ni = k;
    if (ni < 0) return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "nearest_mode '%s' is not supported", nm);
    p->nearest = v10 ? WEFT_NEAREST_SIMPLE : (weft_nearest_mode)ni;
    p->cubic_a = weft_attr_f(nd, "cubic_coeff_a", -0.75f);
    p->exclude_outside = weft_attr_i(nd, "exclude_outside", 0) != 0;
    p->extrapolation = weft_attr_f(nd, "extrapolation_value", 0);
    /* inputs: opset 10 (X, scales); 11+ (X, roi, scales, sizes) */
    const weft_tensor *roi = v10 ? NULL : c->n_in > 1 ? c->in[1] : NULL;
    const weft_tensor *sc = v10 ? (c->n_in > 1 ? c->in[1] : NULL) : c->n_in > 2 ? c->in[2] : NULL;
    const weft_tensor *sz = !v10 && c->n_in > 3 ? c->in[3] : NULL;
    if (sc && weft_tensor_numel(sc) == 0) sc = NULL;
    if (sz && weft_tensor_numel(sz) == 0) sz = NULL;
    if (roi && weft_tensor_numel(roi) == 0) roi = NULL;
    int n_attr_scales = 0;
    const float *attr_scales = upsample ? weft_attr_floats(nd, "scales", &n_attr_scales) : NULL;
    if (!sc == !sz && !attr_scales) return weft_node_err(c, WEFT_ERR_INVALID, "exactly one of scales and sizes must be given");
    for (int k = 0; k < r; k++) { p->roi_start[k] = 0; p->roi_end[k] = 1; }
    if (roi && p->coord == WEFT_COORD_TF_CROP_AND_RESIZE) {
        if (weft_tensor_numel(roi) != 2 * r) return weft_node_err(c, WEFT_ERR_SHAPE, "roi must hold %d values", 2 * r);
        if (!roi->data) return weft_node_err(c, WEFT_ERR_UNSUPPORTED, "roi must be known at compile time");
        for (int k = 0; k < r; k++) {
            p->roi_start[k] = weft_tensor_get_f(roi, k);
            p->roi_end[k] = weft_tensor_get_f(roi, r + k);
        }
    }
    int64_t count = attr_scales ? n_attr_scales : weft_tensor_numel(sc ? sc : sz);
    if (count != r)
        return weft_node_err(c, WEFT_ERR_SHAPE, "%s holds %lld values for an input of rank %d", sz ? "sizes" : "scales",
                             (long long)count, r);
    out->ndim = r;
    for (int k = 0; k < r; k++) {
        if (!sz) {
            double s = attr_scales ? attr_scales[k] : weft_tensor_get_f(sc, k);
            if (!(s > 0) || s > 1e9) return weft_node_err(c, WEFT_ERR_INVALID, "scale %g on axis %d is not positive", s, k);
            p->scale[k] = s;
            double len = (double)in->d[k] * (p->coord == WEFT_COORD_TF_CROP_AND_RESIZE ? p->roi_end[k] - p->roi_start[k] : 1) * s;
            out->d[k] = (int64_t)floor(len);
        } else {
            int64_t v = weft_tensor_get_i(sz, k);
            if (v < 0) return weft_node_err(c, WEFT_ERR_INVALID, "size %lld on axis %d is negative", (long long)v, k);
            out->d[k] = v;
            p->scale[k] = in->d[k] ? (double)v / (double)in->d[k] : 1;
        }
        if (in->d[k] == 0 && out->d[k]) return weft_node_err(c, WEFT_ERR_SHAPE, "cannot resize the empty axis %d", k);
    }
    return WEFT_OK;
}
static weft_status infer_resize(weft_op_ctx *c) {
    weft_resize_params p;
    weft_shape o;
    weft_status s = plan_resize(c, &p, &o);
    if (s) return s;
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = o;
    return WEFT_OK;
}
static weft_status eval_resize(weft_op_ctx *c) {
    weft_resize_params p;
    weft_shape o;
    plan_resize(c, &p, &o);
    weft_resize(c->out[0].data, c->in[0]->data, &c->in[0]->shape, &o, &p);
    return WEFT_OK;
}
static weft_cost cost_resize(const weft_op_ctx *c) {
    /* a weighted sum of 2^r (linear), 4^r (cubic) or one (nearest) taps per output: 2 flops a tap */
    const char *m = weft_attr_s(c->node, "mode", "nearest");
    int64_t taps = 1;
    for (int k = 0; k < c->out[0].shape.ndim; k++)
        if (c->out[0].shape.d[k] != c->in[0]->shape.d[k]) taps *= !strcmp(m, "cubic") ? 4 : !strcmp(m, "linear") ? 2 : 1;
    int64_t n = weft_shape_numel(&c->out[0].shape);
    return (weft_cost){taps > 1 ? 2 * taps * n : 0, bytes_of(c->in[0]) + out_bytes(c)};
}

/* ---- ReverseSequence, NonZero ---- */

static weft_status reverse_axes(const weft_op_ctx *c, int *b, int *t) {
    weft_status s = need_rank(c, 0, 2);
    if (!s) s = weft_axis(c, weft_attr_i(c->node, "batch_axis", 1), c->in[0]->shape.ndim, b);
    if (!s) s = weft_axis(c, weft_attr_i(c->node, "time_axis", 0), c->in[0]->shape.ndim, t);
    if (s) return s;
    if (*b == *t || *b > 1 || *t > 1) return weft_node_err(c, WEFT_ERR_INVALID, "batch_axis and time_axis must be 0 and 1, distinct");
    return WEFT_OK;
}
static weft_status infer_reverse_sequence(weft_op_ctx *c) {
    int b, t;
    weft_status s = reverse_axes(c, &b, &t);
    if (!s) s = need_int_indices(c, 1);
    if (s) return s;
    if (c->in[1]->shape.ndim != 1 || c->in[1]->shape.d[0] != c->in[0]->shape.d[b])
        return weft_node_err(c, WEFT_ERR_SHAPE, "sequence_lens must be 1-D with one length per batch entry (%lld)",
                             (long long)c->in[0]->shape.d[b]);
    c->out[0].dtype = c->in[0]->dtype;
    c->out[0].shape = c->in[0]->shape;
    return WEFT_OK;
}
static weft_status eval_reverse_sequence(weft_op_ctx *c) {
    int b, t;
    reverse_axes(c, &b, &t);
    const weft_shape *sh = &c->in[0]->shape;
    const int64_t *lens = c->in[1]->data;
    int64_t T = sh->d[t], B = sh->d[b], inner = T * B != 0 ? weft_shape_numel(sh) / (T * B) : 0;
    for (int64_t i = 0; i < B; i++)
        if (lens[i] < 0 || lens[i] > T)
            return weft_node_err(c, WEFT_ERR_INVALID, "sequence length %lld outside [0, %lld]", (long long)lens[i], (long long)T);
    size_t es = esize(c->in[0]);
    int64_t st = t == 0 ? B * inner : inner, sb = b == 0 ? T * inner : inner;
    for (int64_t i = 0; i < B; i++)
        for (int64_t j = 0; j < T; j++) {
            int64_t src = j < lens[i] ? lens[i] - 1 - j : j;
            memcpy((char *)c->out[0].data + (i * sb + j * st) * (int64_t)es,
                   (const char *)c->in[0]->data + (i * sb + src * st) * (int64_t)es, (size_t)inner * es);
        }
    return WEFT_OK;
}

/* The output shape depends on the values: the input must be known at compile time. */
static int64_t count_nonzero(const weft_tensor *t) {
    int64_t n = weft_tensor_numel(t), k = 0;
    for (int64_t i = 0; i < n; i++) k += weft_tensor_get_f(t, i) != 0;
    return k;
}
static weft_status infer_nonzero(weft_op_ctx *c) {
    c->out[0].dtype = WEFT_I64;
    c->out[0].shape = WEFT_SHAPE(c->in[0]->shape.ndim, count_nonzero(c->in[0]));
    return WEFT_OK;
}
static weft_status eval_nonzero(weft_op_ctx *c) {
    const weft_tensor *x = c->in[0];
    int64_t n = weft_tensor_numel(x), nz = c->out[0].shape.d[1], k = 0, st[WEFT_MAX_DIMS];
    int r = x->shape.ndim;
    dense_strides(&x->shape, st);
    int64_t *o = c->out[0].data;
    for (int64_t i = 0; i < n; i++) {
        if (weft_tensor_get_f(x, i) == 0) continue;
        for (int a = 0; a < r; a++) o[a * nz + k] = i / st[a] % x->shape.d[a];
        k++;
    }
    return WEFT_OK;
}

/* ---- Compress ---- */

static weft_status compress_plan(const weft_op_ctx *c, int *a, int64_t *kept) {
    const weft_tensor *cond = c->in[1];
    if (cond->shape.ndim != 1) return weft_node_err(c, WEFT_ERR_SHAPE, "condition must be 1-D");
    const weft_attr *ax = weft_node_attr(c->node, "axis");
    *a = -1;
    int64_t len = weft_tensor_numel(c->in[0]);
    if (ax) {
        weft_status s = need_rank(c, 0, 1);
        if (!s) s = weft_axis(c, ax->i, c->in[0]->shape.ndim, a);
        if (s) return s;
        len = c->in[0]->shape.d[*a];
    }
    if (cond->shape.d[0] > len)
        return weft_node_err(c, WEFT_ERR_SHAPE, "condition holds %lld values for %lld slices", (long long)cond->shape.d[0], (long long)len);
    *kept = 0;
    for (int64_t i = 0; i < cond->shape.d[0]; i++) *kept += weft_tensor_get_i(cond, i) != 0;
    return WEFT_OK;
}
static weft_status infer_compress(weft_op_ctx *c) {
    int a;
    int64_t kept;
    weft_status s = compress_plan(c, &a, &kept);
    if (s) return s;
    c->out[0].dtype = c->in[0]->dtype;
    if (a < 0) c->out[0].shape = WEFT_SHAPE(kept);
    else {
        c->out[0].shape = c->in[0]->shape;
        c->out[0].shape.d[a] = kept;
    }
    return WEFT_OK;
}
static weft_status eval_compress(weft_op_ctx *c) {
    int a;
    int64_t kept, outer = 1, n, inner = 1;
    compress_plan(c, &a, &kept);
    if (a >= 0) split_at(&c->in[0]->shape, a, &outer, &n, &inner);
    else n = weft_tensor_numel(c->in[0]);
    int64_t *idx = weft_xmalloc((size_t)(kept ? kept : 1) * sizeof *idx), m = 0;
    for (int64_t i = 0; i < c->in[1]->shape.d[0]; i++)
        if (weft_tensor_get_i(c->in[1], i)) idx[m++] = i;
    weft_gather(c->out[0].data, c->in[0]->data, esize(c->in[0]), outer, n, inner, idx, kept);
    free(idx);
    return WEFT_OK;
}

/* ---- the rows ---- */

/* ---- backward rules (grad/grad.h) and the kernels' rows they use ---- */

#define BWD(fn) static weft_status fn(weft_graph *g, const weft_node *n, const int *dy, int *dx, weft_err *err)
#define BEGIN weft_gb b_, *b = &b_; weft_gb_init(b, g, n, err)
/* The node's shape-rule context (pointers into g: read what is needed before adding nodes). */
#define CTX weft_op_ctx c; do { weft_status st_ = weft_node_infer(g, n, &c, err); if (st_) return st_; } while (0)

/* Reshape, Flatten, Squeeze, Unsqueeze: the gradient takes the input's shape back. */
BWD(view_backward) { BEGIN; dx[0] = weft_gb_reshape(b, dy[0], weft_gb_shape(b, n->in[0])); return b->s; }

BWD(transpose_backward) {
    int perm[WEFT_MAX_DIMS];
    CTX;
    weft_status st = transpose_perm(&c, perm);
    if (st) return st;
    int r = c.in[0]->shape.ndim;
    int64_t inv[WEFT_MAX_DIMS];
    for (int k = 0; k < r; k++) inv[perm[k]] = k;
    BEGIN;
    weft_attr a = WEFT_ATTR_IS("perm", inv, r);
    dx[0] = weft_gb_node(b, "Transpose", dy, 1, &a, 1);
    return b->s;
}

/* Concat: each input's gradient is its slice of dY along the axis. */
BWD(concat_backward) {
    CTX;
    int a;
    weft_status st = weft_axis(&c, weft_attr_i(n, "axis", 0), c.in[0]->shape.ndim, &a);
    if (st) return st;
    BEGIN;
    int64_t off = 0, ax = a;
    for (int i = 0; i < n->n_in; i++) {
        int64_t len = weft_gb_shape(b, n->in[i]).d[a], end = off + len;
        int in[4] = {dy[0], weft_gb_ints(b, &off, 1), weft_gb_ints(b, &end, 1), weft_gb_ints(b, &ax, 1)};
        dx[i] = weft_gb_node(b, "Slice", in, 4, NULL, 0);
        off = end;
    }
    return b->s;
}

/* Split: the outputs' gradients concatenated (zeros for an output that gets none). */
BWD(split_backward) {
    CTX;
    int a;
    int64_t parts[WEFT_MAX_IO];
    weft_status st = split_plan(&c, &a, parts);
    if (st) return st;
    BEGIN;
    int in[WEFT_MAX_IO];
    for (int j = 0; j < n->n_out; j++)
        in[j] = dy[j] >= 0 ? dy[j] : weft_gb_zeros(b, weft_gb_shape(b, n->out[j]), weft_gb_dtype(b, n->out[j]));
    weft_attr ax = WEFT_ATTR_I("axis", a);
    dx[0] = weft_gb_node(b, "Concat", in, n->n_out, &ax, 1);
    return b->s;
}

/* Slice: dY scattered into zeros of the input's shape by weft.SliceGrad (X, dY, starts, ends,
 * axes, steps), which plans the slice as Slice does. */
BWD(slice_backward) {
    BEGIN;
    int in[6] = {n->in[0], dy[0]};
    for (int k = 1; k < n->n_in; k++) in[k + 1] = n->in[k];
    dx[0] = weft_gb_node(b, "weft.SliceGrad", in, n->n_in + 1, n->attrs, n->n_attrs);
    return b->s;
}

static weft_status slice_grad_plan(const weft_op_ctx *c, slice_plan *p) {
    weft_op_ctx cc = *c;
    cc.n_in = c->n_in - 1;
    for (int k = 1; k < cc.n_in; k++) cc.in[k] = c->in[k + 1];
    weft_status s = plan_slice(&cc, p);
    if (s) return s;
    if (!weft_shape_eq(&p->out, &c->in[1]->shape)) return weft_node_err(c, WEFT_ERR_SHAPE, "dY does not have the slice's shape");
    return WEFT_OK;
}
static weft_status infer_slice_grad(weft_op_ctx *c) {
    slice_plan p;
    weft_status s = slice_grad_plan(c, &p);
    if (s) return s;
    c->out[0].dtype = c->in[1]->dtype;
    c->out[0].shape = c->in[0]->shape;
    return WEFT_OK;
}
static weft_status eval_slice_grad(weft_op_ctx *c) {
    slice_plan p;
    weft_status s = slice_grad_plan(c, &p);
    if (s) return s;
    weft_scatter_strided(c->out[0].data, c->in[1]->data, esize(c->in[1]), &p.out, p.strides, p.offset);
    return WEFT_OK;
}

/* Gather: dY scatter-added into zeros of data's shape (repeated indices accumulate) by
 * weft.GatherGrad (data, indices, dY). The indices get none. */
BWD(gather_backward) {
    BEGIN;
    dx[0] = weft_gb_node(b, "weft.GatherGrad", (int[]){n->in[0], n->in[1], dy[0]}, 3, n->attrs, n->n_attrs);
    return b->s;
}
static weft_status infer_gather_grad(weft_op_ctx *c) {
    weft_op_ctx cc = *c;
    cc.n_in = 2;
    weft_status s = infer_gather(&cc);
    if (s) return s;
    if (!weft_shape_eq(&cc.out[0].shape, &c->in[2]->shape)) return weft_node_err(c, WEFT_ERR_SHAPE, "dY does not have the gathered shape");
    if (!weft_dtype_is_float(c->in[2]->dtype)) return weft_node_err(c, WEFT_ERR_SHAPE, "dY must be floating");
    c->out[0].dtype = c->in[2]->dtype;
    c->out[0].shape = c->in[0]->shape;
    return WEFT_OK;
}
static weft_status eval_gather_grad(weft_op_ctx *c) {
    int a;
    weft_status s = weft_axis(c, weft_attr_i(c->node, "axis", 0), c->in[0]->shape.ndim, &a);
    if (s) return s;
    int64_t outer, n, inner, *idx;
    split_at(&c->in[0]->shape, a, &outer, &n, &inner);
    if ((s = norm_indices(c, c->in[1], n, &idx))) return s;
    weft_gather_backward(c->out[0].data, c->in[2]->data, outer, n, inner, idx, weft_tensor_numel(c->in[1]));
    free(idx);
    return WEFT_OK;
}

BWD(expand_backward) { BEGIN; dx[0] = weft_gb_unbroadcast(b, dy[0], weft_gb_shape(b, n->in[0])); return b->s; }

/* Tile: dY (r0 d0, r1 d1, ...) viewed as (r0, d0, r1, d1, ...) and summed over the r axes. */
BWD(tile_backward) {
    BEGIN;
    weft_shape xs = weft_gb_shape(b, n->in[0]), ys = weft_gb_shape(b, dy[0]), v = {.ndim = 2 * xs.ndim};
    if (v.ndim > WEFT_MAX_DIMS) return weft_gb_fail(b, WEFT_ERR_UNSUPPORTED, "the backward of Tile needs rank <= %d", WEFT_MAX_DIMS / 2);
    uint32_t mask = 0;
    for (int k = 0; k < xs.ndim; k++) {
        v.d[2 * k] = xs.d[k] ? ys.d[k] / xs.d[k] : 0;
        v.d[2 * k + 1] = xs.d[k];
        mask |= 1u << (2 * k);
    }
    dx[0] = weft_gb_reshape(b, weft_gb_reduce_sum(b, weft_gb_reshape(b, dy[0], v), mask, false), xs);
    return b->s;
}

/* Pad (constant mode): dY padded by the negated pads, which crops what the forward added and
 * fills with zeros what it cropped. */
BWD(pad_backward) {
    pad_plan p;
    CTX;
    weft_status st = plan_pad(&c, &p);
    if (st) return st;
    weft_shape xs = c.in[0]->shape;
    BEGIN;
    if (p.mode != WEFT_PAD_CONSTANT) return weft_gb_fail(b, WEFT_ERR_UNSUPPORTED, "no backward rule for mode '%s'", weft_attr_s(n, "mode", ""));
    int64_t pads[2 * WEFT_MAX_DIMS];
    for (int k = 0; k < xs.ndim; k++) {
        pads[k] = -p.begin[k];
        pads[xs.ndim + k] = -(p.out.d[k] - xs.d[k] - p.begin[k]);
    }
    dx[0] = weft_gb_op2(b, "Pad", dy[0], weft_gb_ints(b, pads, 2 * xs.ndim));
    return b->s;
}

/* Trilu: the same triangle of dY. */
BWD(trilu_backward) {
    BEGIN;
    int in[2] = {dy[0], n->n_in > 1 ? n->in[1] : -1};
    dx[0] = weft_gb_node(b, "Trilu", in, n->n_in, n->attrs, n->n_attrs);
    return b->s;
}

#undef BWD
#undef BEGIN
#undef CTX

#define B(i) (1u << (i))

const weft_op_def weft_ops_shape[] = {
    {"Constant", 0, 0, 1, 1, 0, "value,value_float,value_floats,value_int,value_ints,sparse_value,value_string,value_strings",
     infer_constant, eval_constant, cost_write, NULL},
    {"Shape", 1, 1, 1, 1, 0, "start,end", infer_shape, eval_shape, cost_view, NULL},
    {"Size", 1, 1, 1, 1, 0, "", infer_size, eval_size, cost_view, NULL},
    {"Reshape", 2, 2, 1, 1, B(1), "allowzero", infer_reshape, eval_copy, cost_view, view_backward},
    {"Flatten", 1, 1, 1, 1, 0, "axis", infer_flatten, eval_copy, cost_view, view_backward},
    {"Squeeze", 1, 2, 1, 1, B(1), "axes", infer_squeeze, eval_copy, cost_view, view_backward},
    {"Unsqueeze", 1, 2, 1, 1, B(1), "axes", infer_unsqueeze, eval_copy, cost_view, view_backward},
    {"Transpose", 1, 1, 1, 1, 0, "perm", infer_transpose, eval_transpose, cost_move, transpose_backward},
    {"Concat", 1, -1, 1, 1, 0, "axis", infer_concat, eval_concat, cost_move, concat_backward},
    {"Split", 1, 2, 1, WEFT_MAX_IO / 2, B(1), "axis,split,num_outputs", infer_split, eval_split, cost_move, split_backward},
    {"Slice", 1, 5, 1, 1, B(1) | B(2) | B(3) | B(4), "starts,ends,axes", infer_slice, eval_slice, cost_gather, slice_backward},
    {"Gather", 2, 2, 1, 1, 0, "axis", infer_gather, eval_gather, cost_gather, gather_backward},
    {"GatherElements", 2, 2, 1, 1, 0, "axis", infer_gather_elements, eval_gather_elements, cost_gather, NULL},
    {"GatherND", 2, 2, 1, 1, 0, "batch_dims", infer_gather_nd, eval_gather_nd, cost_gather, NULL},
    {"ScatterElements", 3, 3, 1, 1, 0, "axis,reduction", infer_scatter_elements, eval_scatter_elements, cost_move, NULL},
    {"Scatter", 3, 3, 1, 1, 0, "axis", infer_scatter_elements, eval_scatter_elements, cost_move, NULL},
    {"ScatterND", 3, 3, 1, 1, 0, "reduction", infer_scatter_nd, eval_scatter_nd, cost_move, NULL},
    {"Expand", 2, 2, 1, 1, B(1), "", infer_expand, eval_expand, cost_move, expand_backward},
    {"Tile", 2, 2, 1, 1, B(1), "", infer_tile, eval_tile, cost_move, tile_backward},
    {"Pad", 1, 4, 1, 1, B(1) | B(3), "mode,pads,value", infer_pad, eval_pad, cost_move, pad_backward},
    {"ConstantOfShape", 1, 1, 1, 1, B(0), "value", infer_constant_of_shape, eval_constant_of_shape, cost_write, NULL},
    {"Range", 3, 3, 1, 1, B(0) | B(1) | B(2), "", infer_range, eval_range, NULL, NULL},
    {"CumSum", 2, 2, 1, 1, B(1), "exclusive,reverse", infer_cumsum, eval_cumsum, cost_scan, NULL},
    {"Trilu", 1, 2, 1, 1, 0, "upper", infer_trilu, eval_trilu, cost_move, trilu_backward},
    {"OneHot", 3, 3, 1, 1, B(1), "axis", infer_onehot, eval_onehot, cost_write, NULL},
    {"DepthToSpace", 1, 1, 1, 1, 0, "blocksize,mode", infer_d2s, eval_d2s, cost_move, NULL},
    {"SpaceToDepth", 1, 1, 1, 1, 0, "blocksize", infer_d2s, eval_d2s, cost_move, NULL},
    {"EyeLike", 1, 1, 1, 1, 0, "dtype,k", infer_eyelike, eval_eyelike, cost_write, NULL},
    {"CastLike", 2, 2, 1, 1, 0, "saturate", infer_castlike, eval_castlike, cost_move, NULL},
    {"ArgMax", 1, 1, 1, 1, 0, "axis,keepdims,select_last_index", infer_arg, eval_arg, cost_scan, NULL},
    {"ArgMin", 1, 1, 1, 1, 0, "axis,keepdims,select_last_index", infer_arg, eval_arg, cost_scan, NULL},
    {"TopK", 1, 2, 2, 2, B(1), "axis,k,largest,sorted", infer_topk, eval_topk, cost_topk, NULL},
    {"Resize", 1, 4, 1, 1, B(1) | B(2) | B(3),
     "mode,coordinate_transformation_mode,nearest_mode,cubic_coeff_a,exclude_outside,extrapolation_value,antialias,axes,"
     "keep_aspect_ratio_policy",
     infer_resize, eval_resize, cost_resize, NULL},
    {"Compress", 2, 2, 1, 1, B(1), "axis", infer_compress, eval_compress, cost_gather, NULL},
    {"Upsample", 1, 2, 1, 1, B(1), "mode,scales", infer_resize, eval_resize, cost_resize, NULL},
    {"ReverseSequence", 2, 2, 1, 1, 0, "batch_axis,time_axis", infer_reverse_sequence, eval_reverse_sequence, cost_move, NULL},
    {"NonZero", 1, 1, 1, 1, B(0), "", infer_nonzero, eval_nonzero, cost_scan, NULL},
    /* internal: kernels of backward rules */
    {"weft.SliceGrad", 2, 6, 1, 1, B(2) | B(3) | B(4) | B(5), "starts,ends,axes", infer_slice_grad, eval_slice_grad, cost_move, NULL},
    {"weft.GatherGrad", 3, 3, 1, 1, 0, "axis", infer_gather_grad, eval_gather_grad, cost_move, NULL},
    {0},
};
