/* kernels/nn: convolution, pooling, normalization, softmax and loss kernels on raw row-major fp32
 * buffers (int64 where ONNX computes on integers). Nothing here knows the graph: the op rows in
 * ir/ops_nn.c check shapes and attributes, then call these; a fabric simulator can call them on
 * its own tiles. Forward kernels now; backward kernels go beside their forward.
 *
 * A worked example, a 3x3 convolution with padding 1 over a (1, 1, 5, 5) image:
 *
 *     weft_window w = {.nsp = 2, .in = {5, 5}, .out = {5, 5}, .k = {3, 3}, .stride = {1, 1},
 *                      .dil = {1, 1}, .pad0 = {1, 1}, .pad1 = {1, 1}};
 *     float *work = malloc(weft_conv_workspace(&w, 1, 1) * sizeof(float));
 *     weft_conv_forward(&w, 1, 1, 1, 1, x, wt, NULL, y, work);  // x (1,1,5,5), wt (1,1,3,3)
 */
#ifndef WEFT_KERNELS_NN_H
#define WEFT_KERNELS_NN_H

#include "kernels/kernels.h"

#define WEFT_NN_MAX_SP (WEFT_MAX_DIMS - 2) /* spatial axes of a conv or pool */

/* The geometry of a sliding window over nsp spatial axes. Output position o along axis j reads
 * input positions o * stride[j] - pad0[j] + t * dil[j], t in [0, k[j]); positions outside
 * [0, in[j]) are padding. pad1 (the end padding) only matters to average pooling's divisor. */
typedef struct {
    int nsp;
    int64_t in[WEFT_NN_MAX_SP], out[WEFT_NN_MAX_SP], k[WEFT_NN_MAX_SP];
    int64_t stride[WEFT_NN_MAX_SP], dil[WEFT_NN_MAX_SP], pad0[WEFT_NN_MAX_SP], pad1[WEFT_NN_MAX_SP];
} weft_window;

int64_t weft_window_in_numel(const weft_window *w);  /* prod(in) */
int64_t weft_window_out_numel(const weft_window *w); /* prod(out) */
int64_t weft_window_k_numel(const weft_window *w);   /* prod(k) */

/* ---- convolution: im2col + GEMM ---- */

/* col (C * prod(k), prod(out)) from x (C, in...): the patches, zero where they cross padding. */
void weft_im2col(const weft_window *w, int64_t C, const float *x, float *col);
/* The adjoint: x (C, in...) += scatter of col (C * prod(k), prod(out)). */
void weft_col2im(const weft_window *w, int64_t C, const float *col, float *x);

/* Floats of workspace weft_conv_forward needs (C input channels in `group` groups). */
int64_t weft_conv_workspace(const weft_window *w, int64_t C, int64_t group);
/* y (N, M, out...) = conv(x (N, C, in...), wt (M, C/group, k...)) + bias (M) (bias may be NULL).
 * One GEMM per image and group: y_g (M/g, prod(out)) = wt_g (M/g, C/g * prod(k)) col. */
void weft_conv_forward(const weft_window *w, int64_t N, int64_t C, int64_t M, int64_t group, const float *x,
                       const float *wt, const float *bias, float *y, float *work);

/* Transposed convolution, with the window read the other way: w->out is the spatial shape of x
 * (the small side) and w->in the spatial shape of y. Floats of workspace it needs: */
int64_t weft_conv_transpose_workspace(const weft_window *w, int64_t M, int64_t group);
/* y (N, M, in...) = conv_transpose(x (N, C, out...), wt (C, M/group, k...)) + bias (M):
 * col (M/g * prod(k), prod(out)) = wt_g^T x_g, then col2im into y. */
void weft_conv_transpose_forward(const weft_window *w, int64_t N, int64_t C, int64_t M, int64_t group,
                                 const float *x, const float *wt, const float *bias, float *y, float *work);

/* Backward of weft_conv_forward (same window, w->in is x's spatial shape). dx (N, C, in...) =
 * the adjoint of the convolution applied to dy (N, M, out...): col = wt_g^T dy_g, then col2im,
 * which is weft_conv_transpose_forward with the roles of C and M swapped. Workspace floats: */
int64_t weft_conv_backward_input_workspace(const weft_window *w, int64_t C, int64_t group);
void weft_conv_backward_input(const weft_window *w, int64_t N, int64_t C, int64_t M, int64_t group, const float *dy,
                              const float *wt, float *dx, float *work);
/* dw (M, C/group, k...) = sum over images of dy_g (M/g, prod(out)) col(x_g)^T. Workspace is
 * weft_conv_workspace(w, C, group) floats. */
void weft_conv_backward_weight(const weft_window *w, int64_t N, int64_t C, int64_t M, int64_t group, const float *x,
                               const float *dy, float *dw, float *work);

/* ---- pooling ---- */

typedef enum { WEFT_POOL_MAX, WEFT_POOL_AVG, WEFT_POOL_LP } weft_pool_kind;

/* y (NC, out...) from x (NC, in...). MAX: the largest element of each window, and (when
 * indices is non-NULL) its flat index into x, row-major over (NC, in...) or, with
 * storage_order 1, column-major over the spatial axes. AVG: the mean, dividing by the window's
 * positions inside the input, or inside the padded input when count_include_pad. LP: the
 * p-norm of the window (padding counts as zeros). */
void weft_pool_forward(const weft_window *w, weft_pool_kind kind, int64_t NC, const float *x, float *y,
                       int64_t *indices, int storage_order, bool count_include_pad, float p);
/* Backward of MAX and AVG pooling: dx (NC, in...) = the adjoint applied to dy (NC, out...). MAX
 * sends each dy to the first maximum of its window (as the forward picks it); AVG spreads it
 * over the window with the forward's divisor. dx is overwritten. */
void weft_pool_backward(const weft_window *w, weft_pool_kind kind, int64_t NC, const float *x, const float *dy,
                        float *dx, bool count_include_pad);
/* Max pooling on integers (uint8 images and the like). */
void weft_maxpool_forward_i64(const weft_window *w, int64_t NC, const int64_t *x, int64_t *y, int64_t *indices,
                              int storage_order);

/* ---- normalization ---- */

/* y = scale[c] (x - mean[c]) / sqrt(var[c] + eps) + bias[c]; x, y (N, C, S). */
void weft_batchnorm_forward(int64_t N, int64_t C, int64_t S, const float *x, const float *scale, const float *bias,
                            const float *mean, const float *var, float eps, float *y);
/* Per (n, c): normalize over the S positions, then scale[c], bias[c]; x, y (N, C, S). */
void weft_instancenorm_forward(int64_t N, int64_t C, int64_t S, const float *x, const float *scale,
                               const float *bias, float eps, float *y);
/* Per row of x (rows, cols): y = (x - mean) * invstd * scale + bias, scale and bias (cols)
 * (bias may be NULL). mean and invstd (rows) may be NULL. Statistics accumulate in double. */
void weft_layernorm_forward(int64_t rows, int64_t cols, const float *x, const float *scale, const float *bias,
                            float eps, float *y, float *mean, float *invstd);
/* Backward of weft_layernorm_forward: dx (rows, cols); dscale and dbias (cols) are the sums
 * over rows of dy * xhat and dy (either may be NULL). Statistics recomputed in double. */
void weft_layernorm_backward(int64_t rows, int64_t cols, const float *x, const float *scale, const float *dy,
                             float eps, float *dx, float *dscale, float *dbias);
/* Local response normalization across channels: x, y (N, C, S);
 * y = x / (bias + alpha / size * sum of x^2 over channels [c - (size-1)/2, c + ceil((size-1)/2)])^beta. */
void weft_lrn_forward(int64_t N, int64_t C, int64_t S, int64_t size, float alpha, float beta, float bias,
                      const float *x, float *y);
/* Per (n, c) over S positions: y = (x - mean) / (sqrt(var) + 1e-9) (MeanVarianceNormalization
 * with its statistics over axes gathered into S by the caller); x, y (outer, S). */
void weft_mvn_forward(int64_t outer, int64_t S, const float *x, float *y);

/* ---- softmax family ---- */

typedef enum { WEFT_SOFTMAX, WEFT_LOG_SOFTMAX, WEFT_HARDMAX } weft_softmax_kind;
/* Along the middle axis of x, y (outer, len, inner); max-subtracted. HARDMAX: one-hot of the
 * first maximum. */
void weft_softmax_forward(weft_softmax_kind kind, int64_t outer, int64_t len, int64_t inner, const float *x,
                          float *y);

/* Backward from the forward's output y: SOFTMAX dx = y (dy - sum(dy y)); LOG_SOFTMAX
 * dx = dy - exp(y) sum(dy); sums along the middle axis of (outer, len, inner). */
void weft_softmax_backward(weft_softmax_kind kind, int64_t outer, int64_t len, int64_t inner, const float *y,
                           const float *dy, float *dx);

/* ---- losses ---- */

typedef enum { WEFT_REDUCE_NONE, WEFT_REDUCE_SUM, WEFT_REDUCE_MEAN } weft_reduction;
/* Negative log-likelihood of logp (N, C, D) at target (N, D), weighted by weight (C) (NULL: 1).
 * Targets equal to ignore_index (when has_ignore) contribute 0 and no weight. loss is (N, D) for
 * NONE, else one element; MEAN divides by the total weight of the counted targets.
 * Returns -1, or the flat index of the first target outside [0, C). */
int64_t weft_nll_forward(int64_t N, int64_t C, int64_t D, const float *logp, const int64_t *target,
                         const float *weight, bool has_ignore, int64_t ignore_index, weft_reduction red, float *loss);

/* Backward of weft_nll_forward: dlogp (N, C, D) = -dloss * weight[t] at each counted target
 * (dloss (N, D) for NONE, else one element; MEAN divides by the total weight, 0 when none
 * counts), zero elsewhere. Returns -1, or the flat index of the first target outside [0, C). */
int64_t weft_nll_backward(int64_t N, int64_t C, int64_t D, const int64_t *target, const float *weight, bool has_ignore,
                          int64_t ignore_index, weft_reduction red, const float *dloss, float *dlogp);

/* ---- data movement helpers for einsum-like contractions ---- */

/* dst (dims..., contiguous) = src read with element strides (0 for a broadcast axis). */
void weft_gather_strided(float *dst, const float *src, int ndim, const int64_t *dims, const int64_t *strides);
/* dst (outer) = sum over the inner axis of src (outer, inner), accumulated in double. */
void weft_sum_inner(int64_t outer, int64_t inner, const float *src, float *dst);

#endif
