/* core: errors, dtypes, shapes, tensors, RNG. */
#include "core/core.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

/* ---- errors ---- */

static const char *status_names[] = {"ok", "invalid input", "unsupported", "shape mismatch",
                                     "i/o error", "out of memory", "mismatch"};
_Static_assert(sizeof status_names / sizeof *status_names == WEFT_STATUS_COUNT, "status names");

const char *weft_version(void) { return WEFT_VERSION; }

const char *weft_status_name(weft_status s) {
    return (unsigned)s < WEFT_STATUS_COUNT ? status_names[s] : "?";
}

weft_status weft_err_set(weft_err *err, weft_status s, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = s;
    }
    return s;
}

weft_status weft_err_prefix(weft_err *err, const char *fmt, ...) {
    if (!err) return WEFT_ERR_INVALID;
    char prefix[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof err->msg - 3) n = sizeof err->msg - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t m = strlen(old);
    if (m > sizeof err->msg - n - 3) m = sizeof err->msg - n - 3;
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = 0;
    return err->status;
}

void *weft_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) { fprintf(stderr, "weft: out of memory allocating %zu bytes\n", n); abort(); }
    return p;
}
void *weft_xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) { fprintf(stderr, "weft: out of memory allocating %zu x %zu bytes\n", n, size); abort(); }
    return p;
}
void *weft_xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) { fprintf(stderr, "weft: out of memory allocating %zu bytes\n", n); abort(); }
    return p;
}
/* ---- fallible allocation and fault injection ---- */

static _Atomic int64_t alloc_count, alloc_fail_at;
static _Atomic bool alloc_sticky;
static _Atomic int64_t alloc_failures;
int64_t weft_alloc_failures(void) { return alloc_failures; }

void weft_alloc_fail_at(int64_t n, bool sticky) {
    alloc_count = 0;
    alloc_sticky = sticky;
    alloc_fail_at = n;
}
int64_t weft_alloc_count(void) { return alloc_count; }

/* true when this allocation is to fail */
static bool alloc_inject(void) {
    int64_t k = ++alloc_count;
    int64_t at = alloc_fail_at;
    return at > 0 && (k == at || (alloc_sticky && k > at));
}
static void *alloc_result(void *p) {
    if (!p) alloc_failures++;
    return p;
}
void *weft_try_malloc(size_t n) { return alloc_result(alloc_inject() ? NULL : malloc(n ? n : 1)); }
void *weft_try_calloc(size_t n, size_t size) { return alloc_result(alloc_inject() ? NULL : calloc(n ? n : 1, size ? size : 1)); }
void *weft_try_realloc(void *p, size_t n) { return alloc_result(alloc_inject() ? NULL : realloc(p, n ? n : 1)); }

char *weft_xstrdup(const char *s) {
    size_t n = strlen(s ? s : "") + 1;
    char *p = weft_xmalloc(n);
    memcpy(p, s ? s : "", n);
    return p;
}

/* ---- dtypes ---- */

static const struct { const char *name; size_t size; } dtypes[] = {
    [WEFT_F32] = {"float32", 4}, [WEFT_F16] = {"float16", 2}, [WEFT_BF16] = {"bfloat16", 2},
    [WEFT_F64] = {"float64", 8}, [WEFT_I64] = {"int64", 8},   [WEFT_I32] = {"int32", 4},
    [WEFT_I8] = {"int8", 1},     [WEFT_U8] = {"uint8", 1},    [WEFT_BOOL] = {"bool", 1},
    [WEFT_U16] = {"uint16", 2},  [WEFT_I16] = {"int16", 2},   [WEFT_U32] = {"uint32", 4},
    [WEFT_U64] = {"uint64", 8},
};
_Static_assert(sizeof dtypes / sizeof *dtypes == WEFT_DTYPE_COUNT, "dtype table");

size_t weft_dtype_size(weft_dtype dt) { return dtypes[dt].size; }
const char *weft_dtype_name(weft_dtype dt) {
    return (unsigned)dt < WEFT_DTYPE_COUNT ? dtypes[dt].name : "?";
}
bool weft_dtype_is_float(weft_dtype dt) {
    return dt == WEFT_F32 || dt == WEFT_F16 || dt == WEFT_BF16 || dt == WEFT_F64;
}
weft_dtype weft_dtype_compute(weft_dtype dt) {
    return weft_dtype_is_float(dt) ? WEFT_F32 : dt == WEFT_BOOL ? WEFT_BOOL : WEFT_I64;
}

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float weft_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return u2f(sign | 0x7f800000 | (man << 13));  /* inf, nan */
    if (exp == 0) {                                                 /* zero, subnormal */
        float v = ldexpf((float)man, -24);
        return sign ? -v : v;
    }
    return u2f(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t weft_f32_to_f16(float f) {
    uint32_t u = f2u(f), sign = (u >> 16) & 0x8000;
    uint32_t au = u & 0x7fffffff;
    if (au >= 0x7f800000) return (uint16_t)(sign | 0x7c00 | (au > 0x7f800000 ? 0x200 : 0));
    if (au >= 0x477ff000) return (uint16_t)(sign | 0x7c00);  /* rounds to >= 65520: inf */
    if (au < 0x38800000) {                                   /* below 2^-14: subnormal or 0 */
        /* value = au as float; f16 subnormal unit is 2^-24: round(v * 2^24) to nearest even */
        float v = u2f(au) * 16777216.0f;
        float r = nearbyintf(v);  /* default rounding mode: to nearest even */
        return (uint16_t)(sign | (uint32_t)r);
    }
    uint32_t man = au & 0x7fffff, exp = (au >> 23) - 112;
    uint32_t h = (exp << 10) | (man >> 13);
    uint32_t rest = man & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float weft_bf16_to_f32(uint16_t h) { return u2f((uint32_t)h << 16); }

uint16_t weft_f32_to_bf16(float f) {
    uint32_t u = f2u(f);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 0x40);  /* quiet nan */
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

static double load_f(const void *p, weft_dtype dt, size_t i) {
    switch (dt) {
    case WEFT_F32: return ((const float *)p)[i];
    case WEFT_F16: return weft_f16_to_f32(((const uint16_t *)p)[i]);
    case WEFT_BF16: return weft_bf16_to_f32(((const uint16_t *)p)[i]);
    case WEFT_F64: return ((const double *)p)[i];
    case WEFT_I64: return (double)((const int64_t *)p)[i];
    case WEFT_I32: return ((const int32_t *)p)[i];
    case WEFT_I8: return ((const int8_t *)p)[i];
    case WEFT_U8: return ((const uint8_t *)p)[i];
    case WEFT_BOOL: return ((const uint8_t *)p)[i] != 0;
    case WEFT_U16: return ((const uint16_t *)p)[i];
    case WEFT_I16: return ((const int16_t *)p)[i];
    case WEFT_U32: return ((const uint32_t *)p)[i];
    case WEFT_U64: return (double)((const uint64_t *)p)[i];
    default: WEFT_ASSERT(0); return 0;
    }
}

static int64_t load_i(const void *p, weft_dtype dt, size_t i) {
    switch (dt) {
    case WEFT_I64: return ((const int64_t *)p)[i];
    case WEFT_I32: return ((const int32_t *)p)[i];
    case WEFT_I8: return ((const int8_t *)p)[i];
    case WEFT_U8: return ((const uint8_t *)p)[i];
    case WEFT_BOOL: return ((const uint8_t *)p)[i] != 0;
    case WEFT_U16: return ((const uint16_t *)p)[i];
    case WEFT_I16: return ((const int16_t *)p)[i];
    case WEFT_U32: return ((const uint32_t *)p)[i];
    case WEFT_U64: return (int64_t)((const uint64_t *)p)[i];  /* wraps beyond INT64_MAX: callers check */
    default: {
        double v = load_f(p, dt, i);
        if (isnan(v)) return 0;
        if (v >= 9.2e18) return INT64_MAX;
        if (v <= -9.2e18) return INT64_MIN;
        return (int64_t)v;
    }
    }
}

void weft_convert(void *dst, weft_dtype dd, const void *src, weft_dtype sd, size_t n) {
    if (n == 0) return;
    if (dd == sd) { memcpy(dst, src, n * weft_dtype_size(dd)); return; }
    for (size_t i = 0; i < n; i++) {
        switch (dd) {
        case WEFT_F32:
            ((float *)dst)[i] = sd == WEFT_F64 ? (float)((const double *)src)[i] : (float)load_f(src, sd, i);
            break;
        case WEFT_F16: ((uint16_t *)dst)[i] = weft_f32_to_f16((float)load_f(src, sd, i)); break;
        case WEFT_BF16: ((uint16_t *)dst)[i] = weft_f32_to_bf16((float)load_f(src, sd, i)); break;
        case WEFT_F64: ((double *)dst)[i] = load_f(src, sd, i); break;
        case WEFT_I64: ((int64_t *)dst)[i] = load_i(src, sd, i); break;
        case WEFT_I32: ((int32_t *)dst)[i] = (int32_t)load_i(src, sd, i); break;
        case WEFT_I8: ((int8_t *)dst)[i] = (int8_t)load_i(src, sd, i); break;
        case WEFT_U8: ((uint8_t *)dst)[i] = (uint8_t)load_i(src, sd, i); break;
        case WEFT_U16: ((uint16_t *)dst)[i] = (uint16_t)load_i(src, sd, i); break;
        case WEFT_I16: ((int16_t *)dst)[i] = (int16_t)load_i(src, sd, i); break;
        case WEFT_U32: ((uint32_t *)dst)[i] = (uint32_t)load_i(src, sd, i); break;
        case WEFT_U64: ((uint64_t *)dst)[i] = (uint64_t)load_i(src, sd, i); break;
        case WEFT_BOOL: ((uint8_t *)dst)[i] = load_f(src, sd, i) != 0; break;
        default: WEFT_ASSERT(0);
        }
    }
}

/* ---- shapes ---- */

weft_shape weft_shape_make(int ndim, const int64_t *d) {
    weft_shape s = {0};
    WEFT_ASSERT(ndim >= 0 && ndim <= WEFT_MAX_DIMS);
    s.ndim = ndim;
    for (int i = 0; i < ndim; i++) s.d[i] = d[i];
    return s;
}

int64_t weft_shape_numel(const weft_shape *s) {
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->d[i];
    return n;
}

bool weft_shape_eq(const weft_shape *a, const weft_shape *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->d[i] != b->d[i]) return false;
    return true;
}

char *weft_bytes_str(double bytes, char *buf, size_t len) {
    static const char *unit[] = {"B", "KB", "MB", "GB", "TB", "PB"};
    int u = 0;
    while (u < 5 && (bytes >= 999.5 || bytes <= -999.5)) { bytes /= 1000; u++; }
    snprintf(buf, len, u ? "%.3g %s" : "%.0f %s", bytes, unit[u]);
    return buf;
}

char *weft_shape_str(const weft_shape *s, char *buf, size_t len) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o, "(");
    for (int i = 0; i < s->ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, i ? ", %lld" : "%lld", (long long)s->d[i]);
    if (o < len) snprintf(buf + o, len - o, ")");
    return buf;
}

weft_status weft_shape_broadcast(const weft_shape *a, const weft_shape *b, weft_shape *out,
                                 weft_err *err) {
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    weft_shape r = {.ndim = n};
    for (int i = 0; i < n; i++) {
        int ia = i - (n - a->ndim), ib = i - (n - b->ndim);
        int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[128], sb[128];
            return weft_err_set(err, WEFT_ERR_SHAPE, "shapes %s and %s do not broadcast (axis %d: %lld vs %lld)",
                                weft_shape_str(a, sa, sizeof sa), weft_shape_str(b, sb, sizeof sb), i,
                                (long long)da, (long long)db);
        }
        r.d[i] = da == 1 ? db : da;
    }
    *out = r;
    return WEFT_OK;
}

weft_status weft_shape_check_size(const weft_shape *s, weft_dtype dt, weft_err *err) {
    return weft_shape_check_size_max(s, dt, WEFT_MAX_TENSOR_BYTES, err);
}

weft_status weft_shape_check_size_max(const weft_shape *s, weft_dtype dt, int64_t max, weft_err *err) {
    if (max <= 0) max = WEFT_MAX_TENSOR_BYTES;
    if (s->ndim < 0 || s->ndim > WEFT_MAX_DIMS)
        return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "rank %d exceeds weft's limit of %d", s->ndim, WEFT_MAX_DIMS);
    int64_t bytes = (int64_t)weft_dtype_size(dt);
    for (int i = 0; i < s->ndim; i++) {
        char b[160];
        if (s->d[i] < 0)
            return weft_err_set(err, WEFT_ERR_SHAPE, "negative dimension in shape %s", weft_shape_str(s, b, sizeof b));
        if (s->d[i] && bytes > max / s->d[i])
            return weft_err_set(err, WEFT_ERR_NOMEM, "tensor of shape %s and dtype %s exceeds the %lld-byte limit",
                                weft_shape_str(s, b, sizeof b), weft_dtype_name(dt), (long long)max);
        bytes *= s->d[i];
    }
    return WEFT_OK;
}

/* ---- tensors ---- */

int64_t weft_tensor_numel(const weft_tensor *t) { return weft_shape_numel(&t->shape); }
size_t weft_tensor_nbytes(const weft_tensor *t) {
    return (size_t)weft_tensor_numel(t) * weft_dtype_size(t->dtype);
}

weft_status weft_tensor_alloc(weft_tensor *t, weft_dtype dt, weft_shape shape, weft_err *err) {
    weft_status s = weft_shape_check_size(&shape, dt, err);
    if (s) return s;
    t->dtype = dt;
    t->shape = shape;
    size_t n = weft_tensor_nbytes(t);
    t->data = weft_try_calloc(n ? n : 1, 1);
    if (!t->data) {
        char b[160];
        return weft_err_set(err, WEFT_ERR_NOMEM, "cannot allocate %zu bytes (a %s tensor of shape %s)", n, weft_dtype_name(dt),
                            weft_shape_str(&shape, b, sizeof b));
    }
    t->owns = 1;
    return WEFT_OK;
}

void weft_tensor_free(weft_tensor *t) {
    if (t && t->owns) free(t->data);
    if (t) { t->data = NULL; t->owns = 0; }
}

weft_status weft_tensor_convert(weft_tensor *dst, const weft_tensor *src, weft_dtype dt, weft_err *err) {
    weft_status s = weft_tensor_alloc(dst, dt, src->shape, err);
    if (s) return s;
    weft_convert(dst->data, dt, src->data, src->dtype, (size_t)weft_tensor_numel(src));
    return WEFT_OK;
}

double weft_tensor_get_f(const weft_tensor *t, int64_t i) { return load_f(t->data, t->dtype, (size_t)i); }
int64_t weft_tensor_get_i(const weft_tensor *t, int64_t i) { return load_i(t->data, t->dtype, (size_t)i); }

/* ---- RNG: PCG32 (O'Neill), with Box-Muller normals ---- */

void weft_rng_seed(weft_rng *r, uint64_t seed, uint64_t stream) {
    r->state = 0;
    r->inc = (stream << 1) | 1;
    weft_rng_u32(r);
    r->state += seed;
    weft_rng_u32(r);
}

uint32_t weft_rng_u32(weft_rng *r) {
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ULL + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
    uint32_t rot = (uint32_t)(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

float weft_rng_uniform(weft_rng *r) { return (float)(weft_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

float weft_rng_normal(weft_rng *r) {
    float u1 = weft_rng_uniform(r), u2 = weft_rng_uniform(r);
    if (u1 < 1e-12f) u1 = 1e-12f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530717958647692f * u2);
}

/* PCG's jump-ahead (O'Neill, pcg-c's pcg_advance_lcg_64): compose the LCG step with itself by
 * squaring, taking the bits of n. */
void weft_rng_advance(weft_rng *r, uint64_t n) {
    uint64_t mult = 6364136223846793005ULL, plus = r->inc, acc_mult = 1, acc_plus = 0;
    while (n) {
        if (n & 1) {
            acc_mult *= mult;
            acc_plus = acc_plus * mult + plus;
        }
        plus = (mult + 1) * plus;
        mult *= mult;
        n >>= 1;
    }
    r->state = acc_mult * r->state + acc_plus;
}

/* ONNX TensorProto.DataType: FLOAT=1 UINT8=2 INT8=3 UINT16=4 INT16=5 INT32=6 INT64=7 BOOL=9 FLOAT16=10
 * DOUBLE=11 UINT32=12 UINT64=13 BFLOAT16=16 */
int weft_dtype_from_onnx(int t) {
    switch (t) {
    case 1: return WEFT_F32;
    case 2: return WEFT_U8;
    case 3: return WEFT_I8;
    case 4: return WEFT_U16;
    case 5: return WEFT_I16;
    case 6: return WEFT_I32;
    case 7: return WEFT_I64;
    case 9: return WEFT_BOOL;
    case 10: return WEFT_F16;
    case 11: return WEFT_F64;
    case 12: return WEFT_U32;
    case 13: return WEFT_U64;
    case 16: return WEFT_BF16;
    default: return -1;
    }
}

int weft_dtype_to_onnx(weft_dtype dt) {
    static const int codes[] = {[WEFT_F32] = 1, [WEFT_F16] = 10, [WEFT_BF16] = 16, [WEFT_F64] = 11, [WEFT_I64] = 7,
                                [WEFT_I32] = 6, [WEFT_I8] = 3, [WEFT_U8] = 2, [WEFT_BOOL] = 9, [WEFT_U16] = 4,
                                [WEFT_I16] = 5, [WEFT_U32] = 12, [WEFT_U64] = 13};
    _Static_assert(sizeof codes / sizeof *codes == WEFT_DTYPE_COUNT, "ONNX codes for every dtype");
    return codes[dt];
}

/* ---- threads ---- */

static int n_threads = 1;
static pthread_once_t threads_once = PTHREAD_ONCE_INIT;

static void threads_init(void) {
    const char *e = getenv("WEFT_THREADS");
    long n = e ? strtol(e, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
    n_threads = (int)(n < 1 ? 1 : n > 64 ? 64 : n);
}

int weft_threads(void) {
    pthread_once(&threads_once, threads_init);
    return n_threads;
}

typedef struct {
    void (*fn)(void *, int64_t, int64_t);
    void *ctx;
    int64_t n, chunk, n_chunks;
    int thread, threads;
} parallel_job;

static void *parallel_worker(void *arg) {
    const parallel_job *j = arg;
    for (int64_t t = j->thread; t < j->n_chunks; t += j->threads) {
        int64_t lo = t * j->chunk;
        j->fn(j->ctx, lo, j->n - lo < j->chunk ? j->n : lo + j->chunk);
    }
    return NULL;
}

void weft_parallel_for(int64_t n, int64_t chunk, int max_threads, void (*fn)(void *ctx, int64_t lo, int64_t hi),
                       void *ctx) {
    if (n <= 0) return;
    if (chunk < 1) chunk = 1;
    int64_t n_chunks = (n - 1) / chunk + 1;
    int threads = weft_threads();
    if (max_threads > 0 && threads > max_threads) threads = max_threads;
    if (threads > n_chunks) threads = (int)n_chunks;
    parallel_job jobs[64];
    pthread_t tid[64];
    int started = 0;
    for (int t = 1; t < threads; t++) {
        jobs[t] = (parallel_job){fn, ctx, n, chunk, n_chunks, t, threads};
        if (pthread_create(&tid[t], NULL, parallel_worker, &jobs[t])) break;
        started = t;
    }
    /* this thread takes chunk 0 and every threads-th after it; the chunks of threads that could
     * not start are done here too */
    for (int t = 0; t < threads; t++) {
        if (t >= 1 && t <= started) continue;
        jobs[t] = (parallel_job){fn, ctx, n, chunk, n_chunks, t, threads};
        parallel_worker(&jobs[t]);
    }
    for (int t = 1; t <= started; t++) pthread_join(tid[t], NULL);
}
