/* core: errors, dtypes, tensors, RNG. Internal header; the public types are in weft.h. */
#ifndef WEFT_CORE_H
#define WEFT_CORE_H

#include "weft.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* Largest tensor weft will allocate. Declared sizes beyond it are refused before allocation. */
#define WEFT_MAX_TENSOR_BYTES ((int64_t)16 << 30)
/* A graph that is only timed (its values never made: the built-ins' shapes_only) takes tensors
 * up to this: the fabric streams them in blocks, the host never holds one */
#define WEFT_MAX_TIMED_TENSOR_BYTES ((int64_t)1 << 44)

/* ---- errors ---- */

/* Sets err (when non-NULL) and returns s. Use: return weft_err_set(err, WEFT_ERR_SHAPE, "..."). */
weft_status weft_err_set(weft_err *err, weft_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes the message already in err with "<prefix>: ". */
weft_status weft_err_prefix(weft_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A broken internal invariant: prints file:line and aborts. Never for bad input. */
#define WEFT_ASSERT(c)                                                                   \
    do {                                                                                 \
        if (!(c)) {                                                                      \
            fprintf(stderr, "%s:%d: internal error: assertion '%s' failed\n", __FILE__,  \
                    __LINE__, #c);                                                       \
            abort();                                                                     \
        }                                                                                \
    } while (0)

void *weft_xmalloc(size_t n);  /* aborts on failure: for small, bounded allocations */
void *weft_xcalloc(size_t n, size_t size);
void *weft_xrealloc(void *p, size_t n);
char *weft_xstrdup(const char *s);

/* Fallible allocation: NULL on failure, for sizes that come from input and for the paths that
 * must survive running out (loading files, checkpoints). weft_tensor_alloc, the machine reader's
 * cJSON and the ONNX reader's protobuf-c allocate this way too.
 *
 * Fault injection for tests (Lua's test build has the same): after weft_alloc_fail_at(N), the
 * N-th fallible allocation from then on fails, and so do all after it while `sticky`
 * (N = 0: off). weft_alloc_count() is the fallible allocations since the last call. */
void *weft_try_malloc(size_t n);
void *weft_try_calloc(size_t n, size_t size);
void *weft_try_realloc(void *p, size_t n);
void weft_alloc_fail_at(int64_t n, bool sticky);
int64_t weft_alloc_count(void);
/* Fallible allocations that have failed (injected or real) since the program started: a reader
 * whose library reports only "failed" (cJSON, protobuf-c) compares it before and after. */
int64_t weft_alloc_failures(void);

/* ---- dtypes ---- */

size_t weft_dtype_size(weft_dtype dt);
const char *weft_dtype_name(weft_dtype dt);
bool weft_dtype_is_float(weft_dtype dt); /* F32, F16, BF16, F64 */
/* The dtype kernels see: F32 for floating types, I64 for integers, BOOL for bool. */
weft_dtype weft_dtype_compute(weft_dtype dt);

float weft_f16_to_f32(uint16_t h);
uint16_t weft_f32_to_f16(float f);   /* round to nearest even */
float weft_bf16_to_f32(uint16_t h);
uint16_t weft_f32_to_bf16(float f);  /* round to nearest even */

/* Converts n elements between any two dtypes (float->int truncates toward zero, ->bool is !=0). */
void weft_convert(void *dst, weft_dtype dt_dst, const void *src, weft_dtype dt_src, size_t n);

/* Writes bytes in a unit that reads well ("812 B", "36.9 KB", "1.55 GB"; decimal units) into
 * buf (at least 16 bytes); returns buf. */
char *weft_bytes_str(double bytes, char *buf, size_t len);

/* ---- shapes ---- */

int64_t weft_shape_numel(const weft_shape *s);
bool weft_shape_eq(const weft_shape *a, const weft_shape *b);
/* Writes "(2, 3, 4)" into buf; returns buf. */
char *weft_shape_str(const weft_shape *s, char *buf, size_t len);
/* Numpy broadcasting of a and b into out. Fails with WEFT_ERR_SHAPE. */
weft_status weft_shape_broadcast(const weft_shape *a, const weft_shape *b, weft_shape *out,
                                 weft_err *err);
/* Checks that numel * elem_size is within WEFT_MAX_TENSOR_BYTES with no overflow. */
weft_status weft_shape_check_size(const weft_shape *s, weft_dtype dt, weft_err *err);
/* The same against `max` bytes (<= 0: WEFT_MAX_TENSOR_BYTES). */
weft_status weft_shape_check_size_max(const weft_shape *s, weft_dtype dt, int64_t max, weft_err *err);

/* ---- tensors ---- */

/* Allocates a zeroed tensor; size checked first. */
weft_status weft_tensor_alloc(weft_tensor *t, weft_dtype dt, weft_shape shape, weft_err *err);
int64_t weft_tensor_numel(const weft_tensor *t);
size_t weft_tensor_nbytes(const weft_tensor *t);
/* Deep copy into dst, converting to dtype dt. */
weft_status weft_tensor_convert(weft_tensor *dst, const weft_tensor *src, weft_dtype dt,
                                weft_err *err);
/* Element i as double / as int64, whatever the dtype. */
double weft_tensor_get_f(const weft_tensor *t, int64_t i);
int64_t weft_tensor_get_i(const weft_tensor *t, int64_t i);

/* ---- RNG: xorshift-free PCG32, deterministic across platforms ---- */

typedef struct { uint64_t state, inc; } weft_rng;
void weft_rng_seed(weft_rng *r, uint64_t seed, uint64_t stream);
uint32_t weft_rng_u32(weft_rng *r);
float weft_rng_uniform(weft_rng *r);  /* [0, 1) */
float weft_rng_normal(weft_rng *r);   /* N(0, 1), Box-Muller */
/* Skip n draws in O(log n): a stream can be cut into chunks filled by different threads that
 * give the same numbers as one thread drawing them in order. */
void weft_rng_advance(weft_rng *r, uint64_t n);

/* ONNX TensorProto.DataType codes <-> weft dtypes (-1: no weft dtype for that code). */
int weft_dtype_from_onnx(int onnx_type);
int weft_dtype_to_onnx(weft_dtype dt);

/* ---- files written whole or not at all (file.c) ---- */

/* A regular file is written under a unique name beside its target (mkstemp: "PATH.tmp-XXXXXX", so
 * two writers never share a temporary) and renamed into place by weft_atomic_commit after a flush
 * and an fsync; the folder is fsync'd after the rename. A reader sees the old file or the new one,
 * never a part; a failed write leaves the old one (or none), not an empty file. A target that
 * exists and is not a regular file (/dev/stdout, /dev/full) is written in place, its errors still
 * reported. Use: open, write to a->f, then commit (or abort). Either frees what open took. */
typedef struct { FILE *f; char *tmp, *path; } weft_atomic;
weft_status weft_atomic_open(weft_atomic *a, const char *path, weft_err *err);
/* Opens a regular file for reading (a FIFO or a device is refused without blocking); with
 * `within`, only when the path, links resolved, lies inside that folder. *size: its bytes. NULL
 * with err set on failure. */
FILE *weft_open_regular(const char *path, const char *within, int64_t *size, weft_err *err);
/* Flushes, syncs, closes and renames; any error on the way (ENOSPC, EIO) is returned, naming the
 * path, and the temporary is removed. */
weft_status weft_atomic_commit(weft_atomic *a, weft_err *err);
void weft_atomic_abort(weft_atomic *a);

/* ---- threads ---- */

/* weft's worker threads: WEFT_THREADS, else the online cores, 1 to 64. */
int weft_threads(void);
/* fn(ctx, lo, hi) for the chunks [0, chunk), [chunk, 2 chunk), ... of [0, n) (the last one
 * shorter), spread round-robin over at most max_threads threads (<= 0: weft_threads()). Returns
 * when all are done. The chunks depend on n and chunk only, never on the threads: that is what
 * keeps the bits the same for any thread count. */
void weft_parallel_for(int64_t n, int64_t chunk, int max_threads, void (*fn)(void *ctx, int64_t lo, int64_t hi),
                       void *ctx);

#endif
