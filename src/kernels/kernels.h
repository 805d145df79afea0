/* kernels: numeric kernels on raw row-major buffers, forward beside backward. fp32 arithmetic;
 * int64 where ONNX computes on integers. Nothing here knows the graph.
 * Families: this header (GEMM, broadcasting element-wise math); kernels/nn.h (conv, pooling,
 * normalization, softmax); kernels/shape.h (data movement). */
#ifndef WEFT_KERNELS_H
#define WEFT_KERNELS_H

#include "core/core.h"

/* C(M,N) = alpha * op(A) op(B) + beta * C, op(X) = X or X^T; row-major, through OpenBLAS. */
void weft_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
               const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
               int64_t ldc);

/* The fabric's fixed-order tile GEMM: C(m, n) += A(m, k) B(k, n), row strides lda, ldb, ldc.
 * Each element accumulates over k in ascending order, whatever m and n are, so computing a
 * region's tiles one by one or all at once gives identical bits. */
void weft_tile_gemm(int64_t m, int64_t n, int64_t k, const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                    int64_t ldc);

/* Strides (in elements) that read a tensor of shape `in` as if broadcast to `out`: 0 on
 * broadcast axes. `in` must broadcast to `out`; strides has out->ndim entries. */
void weft_bcast_strides(const weft_shape *in, const weft_shape *out, int64_t *strides);

/* Calls body(i_out, i_a, i_b) over every element of `out`, with the element offsets of two
 * inputs broadcast to it. Used by the binary element-wise kernels. */
typedef struct {
    int ndim;
    int64_t dims[WEFT_MAX_DIMS];
    int64_t sa[WEFT_MAX_DIMS], sb[WEFT_MAX_DIMS], sc[WEFT_MAX_DIMS];
} weft_bcast3;
void weft_bcast3_init(weft_bcast3 *it, const weft_shape *out, const weft_shape *a,
                      const weft_shape *b, const weft_shape *c);
/* Offsets of a, b, c for flat output index i (slow path; callers batch the innermost axis). */
void weft_bcast3_offsets(const weft_bcast3 *it, int64_t i, int64_t *oa, int64_t *ob, int64_t *oc);

float weft_erff(float x);
float weft_gelu(float x);       /* 0.5 x (1 + erf(x / sqrt 2)) */
float weft_gelu_tanh(float x);  /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
/* Their derivatives (in kernels/nn.c). */
float weft_gelu_grad(float x);
float weft_gelu_tanh_grad(float x);

#endif
