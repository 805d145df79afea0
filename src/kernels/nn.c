/* kernels/nn: convolution (im2col + GEMM), pooling, normalization, softmax, losses. See nn.h. */
#include "kernels/nn.h"

#include <math.h>
#include <string.h>

static int64_t prod(const int64_t *d, int n) {
    int64_t p = 1;
    for (int i = 0; i < n; i++) p *= d[i];
    return p;
}

int64_t weft_window_in_numel(const weft_window *w) { return prod(w->in, w->nsp); }
int64_t weft_window_out_numel(const weft_window *w) { return prod(w->out, w->nsp); }
int64_t weft_window_k_numel(const weft_window *w) { return prod(w->k, w->nsp); }

/* Splits a flat index over dims (n) into coordinates. */
static void unflatten(int64_t i, const int64_t *dims, int n, int64_t *coord) {
    for (int j = n - 1; j >= 0; j--) {
        coord[j] = dims[j] ? i % dims[j] : 0;
        i = dims[j] ? i / dims[j] : 0;
    }
}

/* ---- im2col / col2im ----
 * Row (c, t) of col holds, for every output position o, x[c, o * stride - pad0 + t * dil]. The
 * innermost spatial axis runs in a tight loop; the outer axes are decoded once per output row. */

void weft_im2col(const weft_window *w, int64_t C, const float *x, float *col) {
    int n = w->nsp;
    int64_t K = weft_window_k_numel(w), O = weft_window_out_numel(w), I = weft_window_in_numel(w);
    int64_t ow = w->out[n - 1], iw = w->in[n - 1], sw = w->stride[n - 1];
    int64_t rows = ow ? O / ow : 0;
    int64_t t[WEFT_NN_MAX_SP], o[WEFT_NN_MAX_SP];
    for (int64_t c = 0; c < C; c++)
        for (int64_t kk = 0; kk < K; kk++) {
            unflatten(kk, w->k, n, t);
            float *dst = col + (c * K + kk) * O;
            const float *src = x + c * I;
            int64_t base = t[n - 1] * w->dil[n - 1] - w->pad0[n - 1];
            for (int64_t r = 0; r < rows; r++) {
                unflatten(r, w->out, n - 1, o);
                int64_t off = 0;
                bool inside = true;
                for (int j = 0; j < n - 1 && inside; j++) {
                    int64_t ij = o[j] * w->stride[j] - w->pad0[j] + t[j] * w->dil[j];
                    inside = ij >= 0 && ij < w->in[j];
                    off = off * w->in[j] + ij;
                }
                float *d = dst + r * ow;
                if (!inside) { memset(d, 0, (size_t)ow * sizeof *d); continue; }
                const float *s = src + off * iw;
                for (int64_t ox = 0; ox < ow; ox++) {
                    int64_t ix = ox * sw + base;
                    d[ox] = ix >= 0 && ix < iw ? s[ix] : 0.0f;
                }
            }
        }
}

void weft_col2im(const weft_window *w, int64_t C, const float *col, float *x) {
    int n = w->nsp;
    int64_t K = weft_window_k_numel(w), O = weft_window_out_numel(w), I = weft_window_in_numel(w);
    int64_t ow = w->out[n - 1], iw = w->in[n - 1], sw = w->stride[n - 1];
    int64_t rows = ow ? O / ow : 0;
    int64_t t[WEFT_NN_MAX_SP], o[WEFT_NN_MAX_SP];
    for (int64_t c = 0; c < C; c++)
        for (int64_t kk = 0; kk < K; kk++) {
            unflatten(kk, w->k, n, t);
            const float *src = col + (c * K + kk) * O;
            float *dst = x + c * I;
            int64_t base = t[n - 1] * w->dil[n - 1] - w->pad0[n - 1];
            for (int64_t r = 0; r < rows; r++) {
                unflatten(r, w->out, n - 1, o);
                int64_t off = 0;
                bool inside = true;
                for (int j = 0; j < n - 1 && inside; j++) {
                    int64_t ij = o[j] * w->stride[j] - w->pad0[j] + t[j] * w->dil[j];
                    inside = ij >= 0 && ij < w->in[j];
                    off = off * w->in[j] + ij;
                }
                if (!inside) continue;
                const float *s = src + r * ow;
                float *d = dst + off * iw;
                for (int64_t ox = 0; ox < ow; ox++) {
                    int64_t ix = ox * sw + base;
                    if (ix >= 0 && ix < iw) d[ix] += s[ox];
                }
            }
        }
}

/* A 1x1 window with unit strides and no padding reads x as it is: no im2col needed. */
static bool window_is_identity(const weft_window *w) {
    for (int j = 0; j < w->nsp; j++)
        if (w->k[j] != 1 || w->stride[j] != 1 || w->pad0[j] != 0 || w->in[j] != w->out[j]) return false;
    return true;
}

int64_t weft_conv_workspace(const weft_window *w, int64_t C, int64_t group) {
    if (window_is_identity(w)) return 1;
    return (C / group) * weft_window_k_numel(w) * weft_window_out_numel(w);
}

void weft_conv_forward(const weft_window *w, int64_t N, int64_t C, int64_t M, int64_t group, const float *x,
                       const float *wt, const float *bias, float *y, float *work) {
    int64_t Cg = C / group, Mg = M / group, K = weft_window_k_numel(w), O = weft_window_out_numel(w);
    int64_t I = weft_window_in_numel(w);
    bool ident = window_is_identity(w);
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < group; g++) {
            const float *xg = x + (n * C + g * Cg) * I;
            const float *col = xg;
            if (!ident) { weft_im2col(w, Cg, xg, work); col = work; }
            float *yg = y + (n * M + g * Mg) * O;
            weft_gemm(false, false, Mg, O, Cg * K, 1.0f, wt + g * Mg * Cg * K, Cg * K, col, O, 0.0f, yg, O);
            if (bias)
                for (int64_t m = 0; m < Mg; m++)
                    for (int64_t i = 0; i < O; i++) yg[m * O + i] += bias[g * Mg + m];
        }
}

int64_t weft_conv_transpose_workspace(const weft_window *w, int64_t M, int64_t group) {
    return (M / group) * weft_window_k_numel(w) * weft_window_out_numel(w);
}

void weft_conv_transpose_forward(const weft_window *w, int64_t N, int64_t C, int64_t M, int64_t group,
                                 const float *x, const float *wt, const float *bias, float *y, float *work) {
    int64_t Cg = C / group, Mg = M / group, K = weft_window_k_numel(w);
    int64_t X = weft_window_out_numel(w), Y = weft_window_in_numel(w);
    memset(y, 0, (size_t)(N * M * Y) * sizeof *y);
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < group; g++) {
            /* col (Mg*K, X) = wt_g^T (Mg*K, Cg) x_g (Cg, X) */
            weft_gemm(true, false, Mg * K, X, Cg, 1.0f, wt + g * Cg * Mg * K, Mg * K, x + (n * C + g * Cg) * X, X,
                      0.0f, work, X);
            float *yg = y + (n * M + g * Mg) * Y;
            weft_col2im(w, Mg, work, yg);
            if (bias)
                for (int64_t m = 0; m < Mg; m++)
                    for (int64_t i = 0; i < Y; i++) yg[m * Y + i] += bias[g * Mg + m];
        }
}

int64_t weft_conv_backward_input_workspace(const weft_window *w, int64_t C, int64_t group) {
    return weft_conv_transpose_workspace(w, C, group);
}

void weft_conv_backward_input(const weft_window *w, int64_t N, int64_t C, int64_t M, int64_t group, const float *dy,
                              const float *wt, float *dx, float *work) {
    /* wt (M, C/g, k) read as a transposed convolution's weight (C_t = M, M_t / g = C / g) */
    weft_conv_transpose_forward(w, N, M, C, group, dy, wt, NULL, dx, work);
}

void weft_conv_backward_weight(const weft_window *w, int64_t N, int64_t C, int64_t M, int64_t group, const float *x,
                               const float *dy, float *dw, float *work) {
    int64_t Cg = C / group, Mg = M / group, K = weft_window_k_numel(w), O = weft_window_out_numel(w);
    int64_t I = weft_window_in_numel(w);
    bool ident = window_is_identity(w);
    memset(dw, 0, (size_t)(M * Cg * K) * sizeof *dw);
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < group; g++) {
            const float *xg = x + (n * C + g * Cg) * I;
            const float *col = xg;
            if (!ident) { weft_im2col(w, Cg, xg, work); col = work; }
            /* dw_g (Mg, Cg*K) += dy_g (Mg, O) col^T (O, Cg*K) */
            weft_gemm(false, true, Mg, Cg * K, O, 1.0f, dy + (n * M + g * Mg) * O, O, col, O, 1.0f,
                      dw + g * Mg * Cg * K, Cg * K);
        }
}

/* ---- pooling ---- */

/* Flat spatial index of coordinate ic: row-major, or column-major when storage_order is 1. */
static int64_t spatial_index(const weft_window *w, const int64_t *ic, int storage_order) {
    int64_t idx = 0;
    if (storage_order == 1)
        for (int j = w->nsp - 1; j >= 0; j--) idx = idx * w->in[j] + ic[j];
    else
        for (int j = 0; j < w->nsp; j++) idx = idx * w->in[j] + ic[j];
    return idx;
}

/* Visits the window of output position o: calls body with the input coordinate ic (inside the
 * input only) and its row-major offset. */
#define WINDOW_FOR_EACH(w, o, ic, off, body)                                                    \
    do {                                                                                        \
        int64_t t_[WEFT_NN_MAX_SP] = {0};                                                       \
        int64_t K_ = weft_window_k_numel(w);                                                    \
        for (int64_t kk_ = 0; kk_ < K_; kk_++) {                                                \
            bool in_ = true;                                                                    \
            int64_t off = 0;                                                                    \
            for (int j_ = 0; j_ < (w)->nsp; j_++) {                                             \
                ic[j_] = o[j_] * (w)->stride[j_] - (w)->pad0[j_] + t_[j_] * (w)->dil[j_];       \
                in_ = in_ && ic[j_] >= 0 && ic[j_] < (w)->in[j_];                               \
                off = off * (w)->in[j_] + ic[j_];                                               \
            }                                                                                   \
            if (in_) { body; }                                                                  \
            for (int j_ = (w)->nsp - 1; j_ >= 0; j_--) {                                        \
                if (++t_[j_] < (w)->k[j_]) break;                                               \
                t_[j_] = 0;                                                                     \
            }                                                                                   \
        }                                                                                       \
    } while (0)

/* Window positions along each axis that fall inside [lo, hi), multiplied over the axes. */
static int64_t window_count(const weft_window *w, const int64_t *o, bool include_pad) {
    int64_t cnt = 1;
    for (int j = 0; j < w->nsp; j++) {
        int64_t lo = include_pad ? -w->pad0[j] : 0, hi = include_pad ? w->in[j] + w->pad1[j] : w->in[j], c = 0;
        for (int64_t t = 0; t < w->k[j]; t++) {
            int64_t i = o[j] * w->stride[j] - w->pad0[j] + t * w->dil[j];
            c += i >= lo && i < hi;
        }
        cnt *= c;
    }
    return cnt;
}

void weft_pool_forward(const weft_window *w, weft_pool_kind kind, int64_t NC, const float *x, float *y,
                       int64_t *indices, int storage_order, bool count_include_pad, float p) {
    int64_t I = weft_window_in_numel(w), O = weft_window_out_numel(w);
    int64_t o[WEFT_NN_MAX_SP], ic[WEFT_NN_MAX_SP], best_ic[WEFT_NN_MAX_SP];
    for (int64_t nc = 0; nc < NC; nc++) {
        const float *xs = x + nc * I;
        for (int64_t oi = 0; oi < O; oi++) {
            unflatten(oi, w->out, w->nsp, o);
            if (kind == WEFT_POOL_MAX) {
                float best = -INFINITY;
                bool found = false;
                WINDOW_FOR_EACH(w, o, ic, off, {
                    float v = xs[off];
                    if (!found || v > best) {
                        best = v;
                        found = true;
                        memcpy(best_ic, ic, sizeof ic);
                    }
                });
                y[nc * O + oi] = best;
                if (indices) indices[nc * O + oi] = found ? nc * I + spatial_index(w, best_ic, storage_order) : -1;
            } else if (kind == WEFT_POOL_AVG) {
                double s = 0;
                WINDOW_FOR_EACH(w, o, ic, off, { s += xs[off]; });
                int64_t cnt = window_count(w, o, count_include_pad);
                y[nc * O + oi] = cnt ? (float)(s / (double)cnt) : 0.0f;
            } else {
                double s = 0;
                WINDOW_FOR_EACH(w, o, ic, off, { s += pow(fabs((double)xs[off]), (double)p); });
                y[nc * O + oi] = (float)pow(s, 1.0 / (double)p);
            }
        }
    }
}

void weft_pool_backward(const weft_window *w, weft_pool_kind kind, int64_t NC, const float *x, const float *dy,
                        float *dx, bool count_include_pad) {
    int64_t I = weft_window_in_numel(w), O = weft_window_out_numel(w);
    int64_t o[WEFT_NN_MAX_SP], ic[WEFT_NN_MAX_SP];
    memset(dx, 0, (size_t)(NC * I) * sizeof *dx);
    for (int64_t nc = 0; nc < NC; nc++) {
        const float *xs = x + nc * I;
        float *ds = dx + nc * I;
        for (int64_t oi = 0; oi < O; oi++) {
            unflatten(oi, w->out, w->nsp, o);
            float g = dy[nc * O + oi];
            if (kind == WEFT_POOL_MAX) {
                float best = -INFINITY;
                int64_t at = -1;
                WINDOW_FOR_EACH(w, o, ic, off, {
                    if (at < 0 || xs[off] > best) { best = xs[off]; at = off; }
                });
                if (at >= 0) ds[at] += g;
            } else {
                int64_t cnt = window_count(w, o, count_include_pad);
                if (!cnt) continue;
                float share = (float)((double)g / (double)cnt);
                WINDOW_FOR_EACH(w, o, ic, off, { ds[off] += share; });
            }
        }
    }
}

void weft_maxpool_forward_i64(const weft_window *w, int64_t NC, const int64_t *x, int64_t *y, int64_t *indices,
                              int storage_order) {
    int64_t I = weft_window_in_numel(w), O = weft_window_out_numel(w);
    int64_t o[WEFT_NN_MAX_SP], ic[WEFT_NN_MAX_SP], best_ic[WEFT_NN_MAX_SP];
    for (int64_t nc = 0; nc < NC; nc++) {
        const int64_t *xs = x + nc * I;
        for (int64_t oi = 0; oi < O; oi++) {
            unflatten(oi, w->out, w->nsp, o);
            int64_t best = INT64_MIN;
            bool found = false;
            WINDOW_FOR_EACH(w, o, ic, off, {
                if (!found || xs[off] > best) {
                    best = xs[off];
                    found = true;
                    memcpy(best_ic, ic, sizeof ic);
                }
            });
            y[nc * O + oi] = best;
            if (indices) indices[nc * O + oi] = found ? nc * I + spatial_index(w, best_ic, storage_order) : -1;
        }
    }
}

/* ---- normalization ---- */

void weft_batchnorm_forward(int64_t N, int64_t C, int64_t S, const float *x, const float *scale, const float *bias,
                            const float *mean, const float *var, float eps, float *y) {
    for (int64_t c = 0; c < C; c++) {
        float a = scale[c] / sqrtf(var[c] + eps), b = bias[c] - mean[c] * a;
        for (int64_t n = 0; n < N; n++) {
            const float *xs = x + (n * C + c) * S;
            float *ys = y + (n * C + c) * S;
            for (int64_t i = 0; i < S; i++) ys[i] = xs[i] * a + b;
        }
    }
}

/* Mean and variance (population) of x (n), in double. */
static void moments(const float *x, int64_t n, double *mean, double *var) {
    double s = 0, q = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    double m = n ? s / (double)n : 0;
    for (int64_t i = 0; i < n; i++) q += ((double)x[i] - m) * ((double)x[i] - m);
    *mean = m;
    *var = n ? q / (double)n : 0;
}

void weft_instancenorm_forward(int64_t N, int64_t C, int64_t S, const float *x, const float *scale,
                               const float *bias, float eps, float *y) {
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            const float *xs = x + (n * C + c) * S;
            float *ys = y + (n * C + c) * S;
            double m, v;
            moments(xs, S, &m, &v);
            double inv = 1.0 / sqrt(v + (double)eps);
            for (int64_t i = 0; i < S; i++) ys[i] = (float)(((double)xs[i] - m) * inv * scale[c] + bias[c]);
        }
}

void weft_layernorm_forward(int64_t rows, int64_t cols, const float *x, const float *scale, const float *bias,
                            float eps, float *y, float *mean, float *invstd) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xs = x + r * cols;
        float *ys = y + r * cols;
        double m, v;
        moments(xs, cols, &m, &v);
        double inv = 1.0 / sqrt(v + (double)eps);
        for (int64_t i = 0; i < cols; i++)
            ys[i] = (float)(((double)xs[i] - m) * inv * scale[i] + (bias ? bias[i] : 0.0f));
        if (mean) mean[r] = (float)m;
        if (invstd) invstd[r] = (float)inv;
    }
}

void weft_layernorm_backward(int64_t rows, int64_t cols, const float *x, const float *scale, const float *dy,
                             float eps, float *dx, float *dscale, float *dbias) {
    if (dscale) memset(dscale, 0, (size_t)cols * sizeof *dscale);
    if (dbias) memset(dbias, 0, (size_t)cols * sizeof *dbias);
    for (int64_t r = 0; r < rows; r++) {
        const float *xs = x + r * cols, *gs = dy + r * cols;
        float *ds = dx + r * cols;
        double m, v;
        moments(xs, cols, &m, &v);
        double inv = 1.0 / sqrt(v + (double)eps), a = 0, bsum = 0;
        /* dxhat = dy scale; dx = inv (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) */
        for (int64_t i = 0; i < cols; i++) {
            double xh = ((double)xs[i] - m) * inv, dh = (double)gs[i] * scale[i];
            a += dh;
            bsum += dh * xh;
            if (dscale) dscale[i] += (float)((double)gs[i] * xh);
            if (dbias) dbias[i] += gs[i];
        }
        a /= (double)cols;
        bsum /= (double)cols;
        for (int64_t i = 0; i < cols; i++) {
            double xh = ((double)xs[i] - m) * inv, dh = (double)gs[i] * scale[i];
            ds[i] = (float)(inv * (dh - a - xh * bsum));
        }
    }
}

void weft_lrn_forward(int64_t N, int64_t C, int64_t S, int64_t size, float alpha, float beta, float bias,
                      const float *x, float *y) {
    int64_t lo = (size - 1) / 2, hi = size - 1 - lo;  /* floor and ceil of (size-1)/2 */
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t i = 0; i < S; i++) {
                double sq = 0;
                for (int64_t k = c - lo; k <= c + hi; k++)
                    if (k >= 0 && k < C) {
                        double v = x[(n * C + k) * S + i];
                        sq += v * v;
                    }
                int64_t at = (n * C + c) * S + i;
                y[at] = (float)(x[at] / pow((double)bias + (double)alpha / (double)size * sq, (double)beta));
            }
}

void weft_mvn_forward(int64_t outer, int64_t S, const float *x, float *y) {
    for (int64_t r = 0; r < outer; r++) {
        double m, v;
        moments(x + r * S, S, &m, &v);
        double den = sqrt(v) + 1e-9;
        for (int64_t i = 0; i < S; i++) y[r * S + i] = (float)(((double)x[r * S + i] - m) / den);
    }
}

/* ---- softmax family ---- */

void weft_softmax_forward(weft_softmax_kind kind, int64_t outer, int64_t len, int64_t inner, const float *x,
                          float *y) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            const float *xs = x + o * len * inner + in;
            float *ys = y + o * len * inner + in;
            float mx = -INFINITY;
            int64_t arg = 0;
            for (int64_t k = 0; k < len; k++)
                if (xs[k * inner] > mx) { mx = xs[k * inner]; arg = k; }
            if (kind == WEFT_HARDMAX) {
                for (int64_t k = 0; k < len; k++) ys[k * inner] = k == arg ? 1.0f : 0.0f;
                continue;
            }
            double s = 0;
            if (kind == WEFT_LOG_SOFTMAX) {
                for (int64_t k = 0; k < len; k++) s += exp((double)xs[k * inner] - mx);
                double ls = log(s);
                for (int64_t k = 0; k < len; k++) ys[k * inner] = (float)((double)xs[k * inner] - mx - ls);
            } else {
                /* exponentials once, into y; the sum in double */
                for (int64_t k = 0; k < len; k++) {
                    float e = expf(xs[k * inner] - mx);
                    ys[k * inner] = e;
                    s += e;
                }
                float inv = (float)(1.0 / s);
                for (int64_t k = 0; k < len; k++) ys[k * inner] *= inv;
            }
        }
}

void weft_softmax_backward(weft_softmax_kind kind, int64_t outer, int64_t len, int64_t inner, const float *y,
                           const float *dy, float *dx) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            int64_t base = o * len * inner + in;
            double s = 0;
            for (int64_t k = 0; k < len; k++)
                s += kind == WEFT_LOG_SOFTMAX ? (double)dy[base + k * inner]
                                              : (double)dy[base + k * inner] * y[base + k * inner];
            for (int64_t k = 0; k < len; k++) {
                int64_t at = base + k * inner;
                dx[at] = kind == WEFT_LOG_SOFTMAX ? (float)((double)dy[at] - exp((double)y[at]) * s)
                                                  : (float)((double)y[at] * ((double)dy[at] - s));
            }
        }
}

/* ---- losses ---- */

int64_t weft_nll_forward(int64_t N, int64_t C, int64_t D, const float *logp, const int64_t *target,
                         const float *weight, bool has_ignore, int64_t ignore_index, weft_reduction red, float *loss) {
    double total = 0, wsum = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t d = 0; d < D; d++) {
            int64_t t = target[n * D + d];
            float l = 0;
            if (!(has_ignore && t == ignore_index)) {
                if (t < 0 || t >= C) return n * D + d;
                float wt = weight ? weight[t] : 1.0f;
                l = -logp[(n * C + t) * D + d] * wt;
                wsum += wt;
            }
            if (red == WEFT_REDUCE_NONE) loss[n * D + d] = l;
            else total += l;
        }
    if (red == WEFT_REDUCE_SUM) loss[0] = (float)total;
    if (red == WEFT_REDUCE_MEAN) loss[0] = (float)(total / wsum);
    return -1;
}

int64_t weft_nll_backward(int64_t N, int64_t C, int64_t D, const int64_t *target, const float *weight, bool has_ignore,
                          int64_t ignore_index, weft_reduction red, const float *dloss, float *dlogp) {
    memset(dlogp, 0, (size_t)(N * C * D) * sizeof *dlogp);
    double wsum = 0;
    for (int64_t i = 0; i < N * D; i++) {
        int64_t t = target[i];
        if (has_ignore && t == ignore_index) continue;
        if (t < 0 || t >= C) return i;
        wsum += weight ? weight[t] : 1.0f;
    }
    double scale = red == WEFT_REDUCE_MEAN ? (wsum != 0 ? 1.0 / wsum : 0.0) : 1.0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t d = 0; d < D; d++) {
            int64_t t = target[n * D + d];
            if (has_ignore && t == ignore_index) continue;
            double g = red == WEFT_REDUCE_NONE ? dloss[n * D + d] : dloss[0];
            dlogp[(n * C + t) * D + d] = (float)(-g * scale * (weight ? weight[t] : 1.0f));
        }
    return -1;
}

/* ---- data movement ---- */

void weft_gather_strided(float *dst, const float *src, int ndim, const int64_t *dims, const int64_t *strides) {
    int64_t total = prod(dims, ndim);
    if (total == 0) return;
    if (ndim == 0) { dst[0] = src[0]; return; }
    int64_t idx[WEFT_MAX_DIMS] = {0};
    int64_t inner = dims[ndim - 1], sin = strides[ndim - 1], off = 0;
    for (int64_t i = 0; i < total; i += inner) {
        for (int64_t k = 0; k < inner; k++) dst[i + k] = src[off + k * sin];
        for (int j = ndim - 2; j >= 0; j--) {
            off += strides[j];
            if (++idx[j] < dims[j]) break;
            off -= strides[j] * dims[j];
            idx[j] = 0;
        }
    }
}

void weft_sum_inner(int64_t outer, int64_t inner, const float *src, float *dst) {
    for (int64_t o = 0; o < outer; o++) {
        double s = 0;
        for (int64_t i = 0; i < inner; i++) s += src[o * inner + i];
        dst[o] = (float)s;
    }
}

/* ---- activations' derivatives (declared in kernels.h beside the forward) ---- */

float weft_gelu_grad(float x) {
    double v = x;
    return (float)(0.5 * (1.0 + erf(v * 0.70710678118654752)) + v * exp(-0.5 * v * v) * 0.39894228040143268);
}

float weft_gelu_tanh_grad(float x) {
    double v = x, k = 0.79788456080286536, c = 0.044715;
    double t = tanh(k * (v + c * v * v * v));
    return (float)(0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * k * (1.0 + 3.0 * c * v * v));
}
