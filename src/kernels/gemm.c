/* kernels: GEMM through OpenBLAS, and broadcasting helpers. */
#include "kernels/kernels.h"

#include <cblas.h>
#include <math.h>

void weft_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
               const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    if (K == 0) {
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0 ? 0 : beta * C[i * ldc + j];
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N,
                (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

void weft_bcast_strides(const weft_shape *in, const weft_shape *out, int64_t *strides) {
    int off = out->ndim - in->ndim;
    int64_t st = 1;
    for (int i = out->ndim - 1; i >= 0; i--) {
        int k = i - off;
        if (k < 0 || in->d[k] == 1) strides[i] = 0;
        else { strides[i] = st; }
        if (k >= 0) st *= in->d[k];
    }
}

void weft_bcast3_init(weft_bcast3 *it, const weft_shape *out, const weft_shape *a, const weft_shape *b,
                      const weft_shape *c) {
    it->ndim = out->ndim;
    for (int i = 0; i < out->ndim; i++) it->dims[i] = out->d[i];
    weft_bcast_strides(a, out, it->sa);
    weft_bcast_strides(b ? b : a, out, it->sb);
    weft_bcast_strides(c ? c : a, out, it->sc);
}

void weft_bcast3_offsets(const weft_bcast3 *it, int64_t i, int64_t *oa, int64_t *ob, int64_t *oc) {
    int64_t a = 0, b = 0, c = 0;
    for (int k = it->ndim - 1; k >= 0; k--) {
        int64_t idx = i % it->dims[k];
        i /= it->dims[k];
        a += idx * it->sa[k];
        b += idx * it->sb[k];
        c += idx * it->sc[k];
    }
    *oa = a; *ob = b; *oc = c;
}

float weft_erff(float x) { return erff(x); }
float weft_gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }
float weft_gelu_tanh(float x) {
    return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
}
