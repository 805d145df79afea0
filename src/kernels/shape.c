/* kernels: data movement, reductions along axes, resize. See shape.h. */
#include "kernels/shape.h"

#include <math.h>
#include <string.h>

/* ---- movement ---- */

void weft_copy_strided(void *dst, const void *src, size_t es, const weft_shape *shape, const int64_t *strides,
                       int64_t offset) {
    int64_t n = weft_shape_numel(shape);
    if (n == 0) return;
    int nd = shape->ndim;
    if (nd == 0) { memcpy(dst, (const char *)src + offset * (int64_t)es, es); return; }
    int64_t inner = shape->d[nd - 1], is = strides[nd - 1];
    int64_t idx[WEFT_MAX_DIMS] = {0};
    char *o = dst;
    const char *s = src;
    for (int64_t row = 0; row < n; row += inner) {
        int64_t off = offset;
        for (int k = 0; k < nd - 1; k++) off += idx[k] * strides[k];
        if (is == 1) memcpy(o, s + off * (int64_t)es, (size_t)inner * es);
        else if (es == 4)
            for (int64_t j = 0; j < inner; j++) ((uint32_t *)o)[j] = ((const uint32_t *)s)[off + j * is];
        else if (es == 8)
            for (int64_t j = 0; j < inner; j++) ((uint64_t *)o)[j] = ((const uint64_t *)s)[off + j * is];
        else
            for (int64_t j = 0; j < inner; j++) memcpy(o + j * (int64_t)es, s + (off + j * is) * (int64_t)es, es);
        o += inner * (int64_t)es;
        for (int k = nd - 2; k >= 0; k--) {
            if (++idx[k] < shape->d[k]) break;
            idx[k] = 0;
        }
    }
}

void weft_scatter_strided(void *dst, const void *src, size_t es, const weft_shape *shape, const int64_t *strides,
                          int64_t offset) {
    int64_t n = weft_shape_numel(shape);
    if (n == 0) return;
    int nd = shape->ndim;
    int64_t idx[WEFT_MAX_DIMS] = {0};
    for (int64_t i = 0; i < n; i++) {
        int64_t off = offset;
        for (int k = 0; k < nd; k++) off += idx[k] * strides[k];
        memcpy((char *)dst + off * (int64_t)es, (const char *)src + i * (int64_t)es, es);
        for (int k = nd - 1; k >= 0; k--) {
            if (++idx[k] < shape->d[k]) break;
            idx[k] = 0;
        }
    }
}

/* Element strides of a dense row-major shape. */
static void dense_strides(const weft_shape *s, int64_t *st) {
    int64_t m = 1;
    for (int k = s->ndim - 1; k >= 0; k--) { st[k] = m; m *= s->d[k]; }
}

void weft_tile(void *dst, const void *src, size_t es, const weft_shape *in, const weft_shape *out) {
    int64_t n = weft_shape_numel(out);
    int64_t ist[WEFT_MAX_DIMS];
    dense_strides(in, ist);
    int64_t idx[WEFT_MAX_DIMS] = {0};
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0;
        for (int k = 0; k < out->ndim; k++) off += (idx[k] % in->d[k]) * ist[k];
        memcpy((char *)dst + i * (int64_t)es, (const char *)src + off * (int64_t)es, es);
        for (int k = out->ndim - 1; k >= 0; k--) {
            if (++idx[k] < out->d[k]) break;
            idx[k] = 0;
        }
    }
}

/* The source coordinate of output coordinate o on an axis of size d shifted by b; -1: outside. */
static int64_t pad_src(int64_t o, int64_t b, int64_t d, weft_pad_mode mode) {
    int64_t i = o - b;
    if (i >= 0 && i < d) return i;
    if (mode == WEFT_PAD_CONSTANT) return -1;
    if (mode == WEFT_PAD_EDGE) return i < 0 ? 0 : d - 1;
    /* reflect, with period 2 (d - 1) */
    if (d == 1) return 0;
    int64_t p = 2 * (d - 1);
    i %= p;
    if (i < 0) i += p;
    return i < d ? i : p - i;
}

void weft_pad(void *dst, const void *src, size_t es, const weft_shape *in, const weft_shape *out, const int64_t *begin,
              weft_pad_mode mode, const void *value) {
    int64_t n = weft_shape_numel(out);
    int64_t ist[WEFT_MAX_DIMS];
    dense_strides(in, ist);
    int64_t idx[WEFT_MAX_DIMS] = {0};
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0;
        bool outside = false;
        for (int k = 0; k < out->ndim && !outside; k++) {
            int64_t s = pad_src(idx[k], begin[k], in->d[k], mode);
            if (s < 0) outside = true;
            else off += s * ist[k];
        }
        memcpy((char *)dst + i * (int64_t)es, outside ? value : (const char *)src + off * (int64_t)es, es);
        for (int k = out->ndim - 1; k >= 0; k--) {
            if (++idx[k] < out->d[k]) break;
            idx[k] = 0;
        }
    }
}

void weft_gather(void *dst, const void *src, size_t es, int64_t outer, int64_t axis_len, int64_t inner,
                 const int64_t *idx, int64_t n_idx) {
    size_t row = (size_t)inner * es;
    char *o = dst;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t j = 0; j < n_idx; j++) {
            memcpy(o, (const char *)src + ((a * axis_len + idx[j]) * inner) * (int64_t)es, row);
            o += row;
        }
}

void weft_gather_backward(float *dx, const float *dy, int64_t outer, int64_t axis_len, int64_t inner,
                          const int64_t *idx, int64_t n_idx) {
    memset(dx, 0, (size_t)(outer * axis_len * inner) * sizeof *dx);
    for (int64_t a = 0; a < outer; a++)
        for (int64_t j = 0; j < n_idx; j++) {
            float *d = dx + (a * axis_len + idx[j]) * inner;
            const float *g = dy + (a * n_idx + j) * inner;
            for (int64_t k = 0; k < inner; k++) d[k] += g[k];
        }
}

/* Calls the body with `off` = the element offset in a (dshape) of idx position i (ishape), the
 * axis coordinate replaced by idx[i]. */
#define FOR_ELEMENTS(dshape, ishape, idxv, axis, body)                                  \
    do {                                                                                \
        int64_t dst_[WEFT_MAX_DIMS], c_[WEFT_MAX_DIMS] = {0};                           \
        dense_strides(dshape, dst_);                                                    \
        int64_t n_ = weft_shape_numel(ishape);                                          \
        for (int64_t i = 0; i < n_; i++) {                                              \
            int64_t off = 0;                                                            \
            for (int k = 0; k < (ishape)->ndim; k++)                                    \
                off += (k == (axis) ? (idxv)[i] : c_[k]) * dst_[k];                     \
            body;                                                                       \
            for (int k = (ishape)->ndim - 1; k >= 0; k--) {                             \
                if (++c_[k] < (ishape)->d[k]) break;                                    \
                c_[k] = 0;                                                              \
            }                                                                           \
        }                                                                               \
    } while (0)

void weft_gather_elements(void *dst, const void *src, size_t es, const weft_shape *dshape, const weft_shape *ishape,
                          const int64_t *idx, int axis) {
    FOR_ELEMENTS(dshape, ishape, idx, axis,
                 memcpy((char *)dst + i * (int64_t)es, (const char *)src + off * (int64_t)es, es));
}

/* d op= u for one element of compute dtype dt. */
static void combine(void *d, const void *u, weft_dtype dt, weft_scatter_red red) {
    if (dt == WEFT_F32) {
        float *x = d, y = *(const float *)u;
        switch (red) {
        case WEFT_SCATTER_NONE: *x = y; break;
        case WEFT_SCATTER_ADD: *x += y; break;
        case WEFT_SCATTER_MUL: *x *= y; break;
        case WEFT_SCATTER_MAX: *x = *x > y ? *x : y; break;
        case WEFT_SCATTER_MIN: *x = *x < y ? *x : y; break;
        }
    } else if (dt == WEFT_I64) {
        int64_t *x = d, y = *(const int64_t *)u;
        switch (red) {
        case WEFT_SCATTER_NONE: *x = y; break;
        case WEFT_SCATTER_ADD: *x = (int64_t)((uint64_t)*x + (uint64_t)y); break;
        case WEFT_SCATTER_MUL: *x = (int64_t)((uint64_t)*x * (uint64_t)y); break;
        case WEFT_SCATTER_MAX: *x = *x > y ? *x : y; break;
        case WEFT_SCATTER_MIN: *x = *x < y ? *x : y; break;
        }
    } else {
        uint8_t *x = d, y = *(const uint8_t *)u;
        switch (red) {
        case WEFT_SCATTER_NONE: *x = y; break;
        case WEFT_SCATTER_ADD: case WEFT_SCATTER_MAX: *x = *x || y; break;
        case WEFT_SCATTER_MUL: case WEFT_SCATTER_MIN: *x = *x && y; break;
        }
    }
}

void weft_scatter_elements(void *data, weft_dtype dt, const weft_shape *dshape, const void *upd, const weft_shape *ishape,
                           const int64_t *idx, int axis, weft_scatter_red red) {
    int64_t es = (int64_t)weft_dtype_size(dt);
    FOR_ELEMENTS(dshape, ishape, idx, axis, combine((char *)data + off * es, (const char *)upd + i * es, dt, red));
}

void weft_gather_nd(void *dst, const void *src, size_t es, int64_t batch, int64_t src_batch_stride, int64_t n_tuples,
                    int m, const int64_t *tstrides, const int64_t *idx, int64_t slice) {
    char *o = dst;
    size_t row = (size_t)slice * es;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t t = 0; t < n_tuples; t++) {
            const int64_t *tu = idx + (b * n_tuples + t) * m;
            int64_t off = b * src_batch_stride;
            for (int k = 0; k < m; k++) off += tu[k] * tstrides[k];
            memcpy(o, (const char *)src + off * (int64_t)es, row);
            o += row;
        }
}

void weft_scatter_nd(void *data, weft_dtype dt, const void *upd, int64_t n_tuples, int m, const int64_t *tstrides,
                     const int64_t *idx, int64_t slice, weft_scatter_red red) {
    int64_t es = (int64_t)weft_dtype_size(dt);
    for (int64_t t = 0; t < n_tuples; t++) {
        int64_t off = 0;
        for (int k = 0; k < m; k++) off += idx[t * m + k] * tstrides[k];
        for (int64_t j = 0; j < slice; j++)
            combine((char *)data + (off + j) * es, (const char *)upd + (t * slice + j) * es, dt, red);
    }
}

/* ---- along an axis ---- */

void weft_cumsum(void *y, const void *x, bool is_float, int64_t outer, int64_t n, int64_t inner, bool exclusive,
                 bool reverse) {
    for (int64_t a = 0; a < outer; a++)
        for (int64_t b = 0; b < inner; b++) {
            double facc = 0;
            int64_t iacc = 0;
            for (int64_t s = 0; s < n; s++) {
                int64_t j = reverse ? n - 1 - s : s;
                int64_t p = (a * n + j) * inner + b;
                if (is_float) {
                    float v = ((const float *)x)[p];
                    if (!exclusive) facc += v;
                    ((float *)y)[p] = (float)facc;
                    if (exclusive) facc += v;
                } else {
                    int64_t v = ((const int64_t *)x)[p];
                    if (!exclusive) iacc = (int64_t)((uint64_t)iacc + (uint64_t)v);
                    ((int64_t *)y)[p] = iacc;
                    if (exclusive) iacc = (int64_t)((uint64_t)iacc + (uint64_t)v);
                }
            }
        }
}

/* Is a strictly better than b for argmax (or argmin)? NaN beats numbers. */
static bool fbetter(float a, float b, bool max) {
    if (isnan(a)) return !isnan(b);
    if (isnan(b)) return false;
    return max ? a > b : a < b;
}

void weft_argext(int64_t *y, const void *x, bool is_float, int64_t outer, int64_t n, int64_t inner, bool argmax,
                 bool last) {
    for (int64_t a = 0; a < outer; a++)
        for (int64_t b = 0; b < inner; b++) {
            int64_t best = 0;
            for (int64_t j = 1; j < n; j++) {
                int64_t p = (a * n + j) * inner + b, q = (a * n + best) * inner + b;
                bool better, equal;
                if (is_float) {
                    float u = ((const float *)x)[p], v = ((const float *)x)[q];
                    better = fbetter(u, v, argmax);
                    equal = u == v || (isnan(u) && isnan(v));
                } else {
                    int64_t u = ((const int64_t *)x)[p], v = ((const int64_t *)x)[q];
                    better = argmax ? u > v : u < v;
                    equal = u == v;
                }
                if (better || (last && equal)) best = j;
            }
            y[a * inner + b] = best;
        }
}

/* A stable merge sort of positions by key, so equal keys keep index order. */
typedef struct { const void *x; bool is_float, largest; } topk_ctx;
static bool topk_before(const topk_ctx *c, int64_t p, int64_t q) {
    if (c->is_float) {
        float u = ((const float *)c->x)[p], v = ((const float *)c->x)[q];
        return c->largest ? fbetter(u, v, true) : fbetter(v, u, true);
    }
    int64_t u = ((const int64_t *)c->x)[p], v = ((const int64_t *)c->x)[q];
    return c->largest ? u > v : u < v;
}
static void merge_sort(int64_t *a, int64_t *tmp, const int64_t *pos, int64_t n, const topk_ctx *c) {
    if (n < 2) return;
    int64_t h = n / 2;
    merge_sort(a, tmp, pos, h, c);
    merge_sort(a + h, tmp, pos, n - h, c);
    int64_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = topk_before(c, pos[a[j]], pos[a[i]]) ? a[j++] : a[i++];
    while (i < h) tmp[k++] = a[i++];
    while (j < n) tmp[k++] = a[j++];
    memcpy(a, tmp, (size_t)n * sizeof *a);
}

void weft_topk(void *vals, int64_t *idx, const void *x, bool is_float, int64_t outer, int64_t n, int64_t inner,
               int64_t k, bool largest) {
    int64_t *ord = weft_xmalloc((size_t)(n ? n : 1) * sizeof *ord), *tmp = weft_xmalloc((size_t)(n ? n : 1) * sizeof *tmp);
    int64_t *pos = weft_xmalloc((size_t)(n ? n : 1) * sizeof *pos);
    topk_ctx c = {x, is_float, largest};
    size_t es = is_float ? 4 : 8;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t b = 0; b < inner; b++) {
            for (int64_t j = 0; j < n; j++) { ord[j] = j; pos[j] = (a * n + j) * inner + b; }
            merge_sort(ord, tmp, pos, n, &c);
            for (int64_t j = 0; j < k; j++) {
                int64_t o = (a * k + j) * inner + b;
                idx[o] = ord[j];
                memcpy((char *)vals + o * (int64_t)es, (const char *)x + pos[ord[j]] * (int64_t)es, es);
            }
        }
    free(ord);
    free(tmp);
    free(pos);
}

/* ---- reductions ---- */

void weft_reduce(weft_reduce_op op, void *y, const void *x, bool is_float, const weft_shape *in, uint32_t axes) {
    /* out_stride[k]: the output stride of input axis k (0 on reduced axes) */
    int64_t ost[WEFT_MAX_DIMS], m = 1, per = 1;
    for (int k = in->ndim - 1; k >= 0; k--) {
        if (axes >> k & 1) { ost[k] = 0; per *= in->d[k]; }
        else { ost[k] = m; m *= in->d[k]; }
    }
    int64_t n_out = m, n_in = weft_shape_numel(in);
    double *acc = weft_xcalloc((size_t)(n_out ? n_out : 1), sizeof *acc);
    double *mx = NULL;
    int64_t *iacc = weft_xcalloc((size_t)(n_out ? n_out : 1), sizeof *iacc);
    for (int64_t o = 0; o < n_out; o++) {
        acc[o] = op == WEFT_REDUCE_PROD ? 1 : op == WEFT_REDUCE_MAX ? -INFINITY : op == WEFT_REDUCE_MIN ? INFINITY : 0;
        iacc[o] = op == WEFT_REDUCE_PROD ? 1 : op == WEFT_REDUCE_MAX ? INT64_MIN : op == WEFT_REDUCE_MIN ? INT64_MAX : 0;
    }
    if (op == WEFT_REDUCE_LOG_SUM_EXP) {
        /* subtract the max for stability */
        mx = weft_xmalloc((size_t)(n_out ? n_out : 1) * sizeof *mx);
        for (int64_t o = 0; o < n_out; o++) mx[o] = -INFINITY;
    }
    for (int pass = op == WEFT_REDUCE_LOG_SUM_EXP ? 0 : 1; pass < 2; pass++) {
        int64_t c[WEFT_MAX_DIMS] = {0};
        for (int64_t i = 0; i < n_in; i++) {
            int64_t o = 0;
            for (int k = 0; k < in->ndim; k++) o += c[k] * ost[k];
            if (is_float) {
                double v = ((const float *)x)[i];
                if (pass == 0) { if (v > mx[o]) mx[o] = v; }
                else switch (op) {
                    case WEFT_REDUCE_SUM: case WEFT_REDUCE_MEAN: case WEFT_REDUCE_LOG_SUM: acc[o] += v; break;
                    case WEFT_REDUCE_MAX: acc[o] = isnan(acc[o]) || !(isnan(v) || v > acc[o]) ? acc[o] : v; break;
                    case WEFT_REDUCE_MIN: acc[o] = isnan(acc[o]) || !(isnan(v) || v < acc[o]) ? acc[o] : v; break;
                    case WEFT_REDUCE_PROD: acc[o] *= v; break;
                    case WEFT_REDUCE_SUM_SQUARE: case WEFT_REDUCE_L2: acc[o] += v * v; break;
                    case WEFT_REDUCE_L1: acc[o] += fabs(v); break;
                    case WEFT_REDUCE_LOG_SUM_EXP: acc[o] += exp(v - (isinf(mx[o]) ? 0 : mx[o])); break;
                    default: WEFT_ASSERT(0);
                    }
            } else {
                int64_t v = ((const int64_t *)x)[i];
                uint64_t a = (uint64_t)iacc[o];
                switch (op) {
                case WEFT_REDUCE_MAX: if (v > iacc[o]) iacc[o] = v; break;
                case WEFT_REDUCE_MIN: if (v < iacc[o]) iacc[o] = v; break;
                case WEFT_REDUCE_PROD: iacc[o] = (int64_t)(a * (uint64_t)v); break;
                case WEFT_REDUCE_SUM_SQUARE: case WEFT_REDUCE_L2: iacc[o] = (int64_t)(a + (uint64_t)v * (uint64_t)v); break;
                case WEFT_REDUCE_L1: iacc[o] = (int64_t)(a + (uint64_t)(v < 0 ? -v : v)); break;
                case WEFT_REDUCE_LOG_SUM_EXP: acc[o] += exp((double)v); break;
                default: iacc[o] = (int64_t)(a + (uint64_t)v); break;
                }
            }
            for (int k = in->ndim - 1; k >= 0; k--) {
                if (++c[k] < in->d[k]) break;
                c[k] = 0;
            }
        }
    }
    for (int64_t o = 0; o < n_out; o++) {
        if (is_float) {
            double a = acc[o];
            switch (op) {
            case WEFT_REDUCE_MEAN: a = per ? a / (double)per : NAN; break;
            case WEFT_REDUCE_L2: a = sqrt(a); break;
            case WEFT_REDUCE_LOG_SUM: a = log(a); break;
            case WEFT_REDUCE_LOG_SUM_EXP: a = log(a) + (isinf(mx[o]) ? 0 : mx[o]); break;
            default: break;
            }
            ((float *)y)[o] = (float)a;
        } else {
            int64_t a = iacc[o];
            switch (op) {
            case WEFT_REDUCE_MEAN: a = per ? a / per : 0; break;
            case WEFT_REDUCE_L2: a = (int64_t)llround(sqrt((double)a)); break;
            case WEFT_REDUCE_LOG_SUM: a = (int64_t)llround(log((double)a)); break;
            case WEFT_REDUCE_LOG_SUM_EXP: a = (int64_t)llround(log(acc[o])); break;
            default: break;
            }
            ((int64_t *)y)[o] = a;
        }
    }
    free(acc);
    free(iacc);
    free(mx);
}

/* ---- resize ---- */

/* Up to four taps of one output coordinate along one axis. */
typedef struct { int n; int64_t idx[4]; double w[4]; bool outside; } resize_taps;

static void cubic_coeffs(double r, double A, double *c) {
    double s = r + 1, t = 1 - r, u = 2 - r;
    c[0] = ((A * s - 5 * A) * s + 8 * A) * s - 4 * A;
    c[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
    c[2] = ((A + 2) * t - (A + 3)) * t * t + 1;
    c[3] = ((A * u - 5 * A) * u + 8 * A) * u - 4 * A;
}

/* Follows ONNX's reference (onnx/reference/ops/op_resize.py): the taps are the n nearest input
 * positions of the original coordinate, edge-padded. */
static void resize_axis(resize_taps *t, int64_t x, int64_t in, int64_t out, double scale, double rs, double re,
                        const weft_resize_params *p) {
    double ow = scale * (double)in; /* the reference uses scale * in, not the rounded size */
    double xo;
    t->outside = false;
    switch (p->coord) {
    case WEFT_COORD_ALIGN_CORNERS: xo = ow == 1 ? 0 : (double)x * (double)(in - 1) / (ow - 1); break;
    case WEFT_COORD_ASYMMETRIC: xo = (double)x / scale; break;
    case WEFT_COORD_TF_CROP_AND_RESIZE:
        xo = ow == 1 ? (re - rs) * (double)(in - 1) / 2 : (double)x * (re - rs) * (double)(in - 1) / (ow - 1);
        xo += rs * (double)(in - 1);
        if (xo < 0 || xo > (double)(in - 1)) t->outside = true;
        break;
    case WEFT_COORD_TF_HALF_PIXEL_FOR_NN: xo = ((double)x + 0.5) / scale; break;
    case WEFT_COORD_PYTORCH_HALF_PIXEL: xo = ow == 1 ? -0.5 : ((double)x + 0.5) / scale - 0.5; break;
    case WEFT_COORD_HALF_PIXEL_SYMMETRIC: {
        double adj = (double)out / ow, center = (double)in / 2, off = center * (1 - adj);
        xo = off + ((double)x + 0.5) / scale - 0.5;
        break;
    }
    default: xo = ((double)x + 0.5) / scale - 0.5; break;
    }
    double fl = floor(xo);
    int64_t base = (int64_t)fl;
    double r = xo - fl;
    if (r == 0) { r = 1; base -= 1; }
    if (p->mode == WEFT_RESIZE_CUBIC) {
        t->n = 4;
        cubic_coeffs(r, p->cubic_a, t->w);
        for (int j = 0; j < 4; j++) t->idx[j] = base - 1 + j;
    } else {
        t->n = 2;
        t->idx[0] = base;
        t->idx[1] = base + 1;
        if (p->mode == WEFT_RESIZE_LINEAR) { t->w[0] = 1 - r; t->w[1] = r; }
        else {
            bool hi;
            if (r == 1) hi = true;
            else switch (p->nearest) {
                case WEFT_NEAREST_ROUND_PREFER_CEIL: hi = r >= 0.5; break;
                case WEFT_NEAREST_FLOOR: hi = false; break;
                case WEFT_NEAREST_CEIL: hi = true; break;
                case WEFT_NEAREST_SIMPLE: hi = scale < 1; break;
                default: hi = r > 0.5; break;
                }
            t->w[0] = !hi;
            t->w[1] = hi;
        }
    }
    if (p->exclude_outside) {
        double sum = 0;
        for (int j = 0; j < t->n; j++) {
            if (t->idx[j] < 0 || t->idx[j] >= in) t->w[j] = 0;
            sum += t->w[j];
        }
        if (sum != 0)
            for (int j = 0; j < t->n; j++) t->w[j] /= sum;
    }
    /* clamp (the reference pads with edge values) and drop taps of weight zero */
    int m = 0;
    for (int j = 0; j < t->n; j++) {
        if (t->w[j] == 0) continue;
        t->idx[m] = t->idx[j] < 0 ? 0 : t->idx[j] >= in ? in - 1 : t->idx[j];
        t->w[m++] = t->w[j];
    }
    if (m == 0) { t->idx[0] = 0; t->w[0] = 0; m = 1; }
    t->n = m;
}

void weft_resize(float *y, const float *x, const weft_shape *in, const weft_shape *out, const weft_resize_params *p) {
    int nd = in->ndim;
    int64_t n = weft_shape_numel(out);
    /* nothing to compute; and the tap table of an axis of 2^32 beside an axis of 0 is 343 GB */
    if (n == 0) return;
    /* taps per axis per output coordinate */
    resize_taps *taps[WEFT_MAX_DIMS];
    for (int k = 0; k < nd; k++) {
        taps[k] = weft_xmalloc((size_t)(out->d[k] ? out->d[k] : 1) * sizeof(resize_taps));
        for (int64_t j = 0; j < out->d[k]; j++)
            resize_axis(&taps[k][j], j, in->d[k], out->d[k], p->scale[k], p->roi_start[k], p->roi_end[k], p);
    }
    int64_t ist[WEFT_MAX_DIMS];
    dense_strides(in, ist);
    int64_t c[WEFT_MAX_DIMS] = {0};
    for (int64_t i = 0; i < n; i++) {
        const resize_taps *t[WEFT_MAX_DIMS];
        bool outside = false;
        int64_t combos = 1;
        for (int k = 0; k < nd; k++) {
            t[k] = &taps[k][c[k]];
            outside |= t[k]->outside;
            combos *= t[k]->n;
        }
        double v = 0;
        if (outside) v = p->extrapolation;
        else
            for (int64_t q = 0; q < combos; q++) {
                int64_t r = q, off = 0;
                double w = 1;
                for (int k = nd - 1; k >= 0; k--) {
                    int j = (int)(r % t[k]->n);
                    r /= t[k]->n;
                    w *= t[k]->w[j];
                    off += t[k]->idx[j] * ist[k];
                }
                v += w * x[off];
            }
        y[i] = (float)v;
        for (int k = nd - 1; k >= 0; k--) {
            if (++c[k] < out->d[k]) break;
            c[k] = 0;
        }
    }
    for (int k = 0; k < nd; k++) free(taps[k]);
}
