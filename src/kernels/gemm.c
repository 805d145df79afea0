/* kernels: GEMM through OpenBLAS, and broadcasting helpers. */
#include "kernels/kernels.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>

/* Determinism across threads: OpenBLAS gives different bits with different thread counts, so
 * weft calls it single-threaded on pieces of C whose boundaries depend only on the matrix sizes
 * (the longer of M and N cut into at most GEMM_MAX_PIECES pieces of at least GEMM_PIECE, rounded to
 * 16), and spreads the pieces over its own threads. The
 * bits are then the same with 1 thread or 64. */
#define GEMM_PIECE 512
#define GEMM_MAX_PIECES 16
#define GEMM_MIN_PARALLEL_FLOPS 4e6

typedef struct {
    bool ta, tb, by_rows;
    int64_t M, N, K, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C;
    atomic_int n_failed;                 /* pieces that could not get an OpenBLAS buffer */
    int64_t failed[GEMM_MAX_PIECES][2];  /* their [lo, hi) */
} gemm_job;

/* OpenBLAS takes a work buffer (128 MB on x86-64) from its pool for every call and, when none is
 * free and malloc fails, retries for ever (blas_memory_alloc): under a memory limit weft hung with
 * no message. So a call goes ahead only when its buffer is there: this thread has made a call
 * before and no more calls are in flight than have ever completed at once, or else the address
 * space for a new buffer can be had now: a probe malloc, freed at once, made the way OpenBLAS makes
 * its own (on this thread, so that a first call's new malloc arena, 128 MB of address space more,
 * is counted too: a bare mmap probe passed where OpenBLAS then spun). A piece that
 * cannot go ahead is redone afterwards on the calling thread, alone: the pieces are the same, so
 * the bits are too. */
#define BLAS_BUFFER_PROBE ((size_t)160 << 20)
static atomic_int blas_inflight, blas_pool;
static _Thread_local bool blas_called;

static bool blas_enter(void) {
    int k = atomic_fetch_add(&blas_inflight, 1) + 1;
    if (blas_called && k <= atomic_load(&blas_pool)) return true;
    void *volatile p = malloc(BLAS_BUFFER_PROBE); /* volatile: the compiler may not drop the pair */
    if (!p) {
        atomic_fetch_sub(&blas_inflight, 1);
        return false;
    }
    free(p);
    return true;
}

static void blas_leave(void) {
    int k = atomic_load(&blas_inflight), seen = atomic_load(&blas_pool);
    while (k > seen && !atomic_compare_exchange_weak(&blas_pool, &seen, k)) {}
    blas_called = true;
    atomic_fetch_sub(&blas_inflight, 1);
}

static void gemm_call(const gemm_job *j, int64_t lo, int64_t hi);

/* Rows [lo, hi) of C (by_rows) or its columns [lo, hi). */
static void gemm_piece(void *ctx, int64_t lo, int64_t hi) {
    gemm_job *j = ctx;
    if (!blas_enter()) {
        int f = atomic_fetch_add(&j->n_failed, 1);
        WEFT_ASSERT(f < GEMM_MAX_PIECES);
        j->failed[f][0] = lo;
        j->failed[f][1] = hi;
        return;
    }
    gemm_call(j, lo, hi);
    blas_leave();
}

static void gemm_call(const gemm_job *j, int64_t lo, int64_t hi) {
    if (j->by_rows) {
        const float *A = j->ta ? j->A + lo : j->A + lo * j->lda;
        cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans, (int)(hi - lo), (int)j->N,
                    (int)j->K, j->alpha, A, (int)j->lda, j->B, (int)j->ldb, j->beta, j->C + lo * j->ldc, (int)j->ldc);
    } else {
        const float *B = j->tb ? j->B + lo * j->ldb : j->B + lo;
        cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans, (int)j->M, (int)(hi - lo),
                    (int)j->K, j->alpha, j->A, (int)j->lda, B, (int)j->ldb, j->beta, j->C + lo, (int)j->ldc);
    }
}

/* OpenBLAS runs single-threaded from the first call on; the threads are weft's (weft_threads). */
static pthread_once_t gemm_once = PTHREAD_ONCE_INIT;
static void gemm_init(void) { openblas_set_num_threads(1); }

void weft_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
               const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    if (K == 0) {
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0 ? 0 : beta * C[i * ldc + j];
        return;
    }
    pthread_once(&gemm_once, gemm_init);
    gemm_job job = {ta, tb, M > N, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C, 0, {{0}}};
    int64_t longer = M > N ? M : N;
    int64_t pieces = (longer + GEMM_PIECE - 1) / GEMM_PIECE;
    if (pieces > GEMM_MAX_PIECES) pieces = GEMM_MAX_PIECES;
    int64_t piece = ((longer + pieces - 1) / pieces + 15) / 16 * 16;
    bool small = 2.0 * (double)M * (double)N * (double)K < GEMM_MIN_PARALLEL_FLOPS;
    weft_parallel_for(longer, piece, small ? 1 : 0, gemm_piece, &job);
    for (int f = 0; f < atomic_load(&job.n_failed); f++) {
        if (!blas_enter()) {
            /* not even one buffer: no status can be returned from here, and waiting is the hang */
            fprintf(stderr, "weft: error: out of memory: OpenBLAS cannot get its %zu MB work buffer for a %lld x %lld x %lld "
                            "matrix product (is an address-space limit, ulimit -v, too low?)\n",
                    (size_t)128, (long long)M, (long long)N, (long long)K);
            exit(1);
        }
        gemm_call(&job, job.failed[f][0], job.failed[f][1]);
        blas_leave();
    }
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

/* The row c (n) += a * b (n). */
static void axpy_row(int64_t n, float a, const float *restrict b, float *restrict c) {
    for (int64_t j = 0; j < n; j++) c[j] += a * b[j];
}

/* C(m, n) += A(m, k) B(k, n), every element summed over k in ascending order: 4 x 8 blocks of C
 * stay in registers across k (each element still takes c = c + a b in order), the edges go row
 * by row. */
void weft_tile_gemm(int64_t m, int64_t n, int64_t k, const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                    int64_t ldc) {
    int64_t i = 0;
    for (; i + 4 <= m; i += 4) {
        int64_t j = 0;
        for (; j + 8 <= n; j += 8) {
            float acc[4][8];
            for (int r = 0; r < 4; r++)
                for (int c = 0; c < 8; c++) acc[r][c] = C[(i + r) * ldc + j + c];
            for (int64_t p = 0; p < k; p++) {
                const float *b = B + p * ldb + j;
                for (int r = 0; r < 4; r++) {
                    float a = A[(i + r) * lda + p];
                    for (int c = 0; c < 8; c++) acc[r][c] += a * b[c];
                }
            }
            for (int r = 0; r < 4; r++)
                for (int c = 0; c < 8; c++) C[(i + r) * ldc + j + c] = acc[r][c];
        }
        if (j < n)
            for (int r = 0; r < 4; r++)
                for (int64_t p = 0; p < k; p++) axpy_row(n - j, A[(i + r) * lda + p], B + p * ldb + j, C + (i + r) * ldc + j);
    }
    for (; i < m; i++)
        for (int64_t p = 0; p < k; p++) axpy_row(n, A[i * lda + p], B + p * ldb, C + i * ldc);
}
