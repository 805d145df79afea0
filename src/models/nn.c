/* models: graph-building helpers (see nn.h). */
#include "models/nn.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void weft_nn_init(weft_nn *b, weft_graph *g, uint64_t seed, weft_err *err) {
    memset(b, 0, sizeof *b);
    b->g = g;
    b->err = err;
    b->seed = seed;
}

void weft_nn_shapes_only(weft_nn *b, bool on) {
    b->shapes_only = on;
    if (on) b->g->max_tensor_bytes = WEFT_MAX_TIMED_TENSOR_BYTES;
}

int weft_nn_fail(weft_nn *b, weft_status s, const char *fmt, ...) {
    if (b->status) return -1;
    b->status = s;
    if (b->err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->err->msg, sizeof b->err->msg, fmt, ap);
        va_end(ap);
        b->err->status = s;
    }
    return -1;
}

const weft_shape *weft_nn_shape(const weft_nn *b, int v) {
    WEFT_ASSERT(v >= 0 && v < b->g->n_vals);
    return &b->g->vals[v].shape;
}

/* "prefix.leaf" into buf (cut to fit). */
static const char *join(char *buf, size_t n, const char *prefix, const char *leaf) {
    size_t a = strlen(prefix), l = strlen(leaf);
    if (a > n - 2) a = n - 2;
    memcpy(buf, prefix, a);
    buf[a] = '.';
    if (l > n - a - 2) l = n - a - 2;
    memcpy(buf + a + 1, leaf, l);
    buf[a + 1 + l] = 0;
    return buf;
}

/* Filling a parameter: chunks of INIT_CHUNK values, each from its own jump-ahead copy of the
 * parameter's RNG stream, so the values are those of one thread drawing in order, whatever the
 * number of threads (GPT-2 124M draws 124M normals). */
#define INIT_CHUNK ((int64_t)1 << 16)

typedef struct {
    float *w; /* (n) */
    weft_rng rng;
    weft_nn_init_kind init;
    float scale;
} init_job;

static void init_chunk(void *ctx, int64_t lo, int64_t hi) {
    const init_job *j = ctx;
    float *w = j->w, scale = j->scale;
    weft_rng r = j->rng;
    weft_rng_advance(&r, (uint64_t)lo); /* one draw per value; a chunk starts at an even index */
    switch (j->init) {
    case WEFT_NN_INIT_ZEROS: break;
    case WEFT_NN_INIT_ONES:
        for (int64_t i = lo; i < hi; i++) w[i] = 1.0f;
        break;
    case WEFT_NN_INIT_NORMAL:
        /* Box-Muller, both values of each pair; an odd count still draws the last pair whole */
        for (int64_t i = lo; i < hi; i += 2) {
            float u1 = weft_rng_uniform(&r), u2 = weft_rng_uniform(&r);
            float rad = sqrtf(-2.0f * logf(u1 < 1e-12f ? 1e-12f : u1)), th = 6.28318530717958647692f * u2;
            w[i] = scale * rad * cosf(th);
            if (i + 1 < hi) w[i + 1] = scale * rad * sinf(th);
        }
        break;
    case WEFT_NN_INIT_TORCH:
    case WEFT_NN_INIT_UNIFORM:
        for (int64_t i = lo; i < hi; i++) w[i] = scale * (2.0f * weft_rng_uniform(&r) - 1.0f);
        break;
    }
}

int weft_nn_param(weft_nn *b, const char *name, weft_shape shape, weft_nn_init_kind init, float scale,
                  int64_t fan_in) {
    if (b->status) return -1;
    weft_err e = {0};
    if (weft_shape_check_size(&shape, WEFT_F32, &e))
        return weft_nn_fail(b, e.status, "parameter '%s': %s", name, e.msg);
    /* allocated zeroed by the graph and filled in place: no second copy of big weights */
    int id = weft_graph_param(b->g, name, WEFT_F32, shape, NULL);
    if (id < 0) return weft_nn_fail(b, WEFT_ERR_NOMEM, "parameter '%s': cannot allocate", name);
    init_job job = {.w = b->g->vals[id].data.data, .init = init, .scale = scale};
    weft_rng_seed(&job.rng, b->seed, b->n_params++);
    if (init == WEFT_NN_INIT_TORCH) job.scale = fan_in > 0 ? 1.0f / sqrtf((float)fan_in) : 0.0f;
    if (init != WEFT_NN_INIT_ZEROS && !b->shapes_only) weft_parallel_for(weft_shape_numel(&shape), INIT_CHUNK, 0, init_chunk, &job);
    return id;
}

int weft_nn_const_f32(weft_nn *b, const char *name, float x) {
    if (b->status) return -1;
    weft_tensor t = {.dtype = WEFT_F32, .shape = WEFT_SHAPE(), .data = &x};
    int id = weft_graph_const(b->g, name, &t);
    return id < 0 ? weft_nn_fail(b, WEFT_ERR_INVALID, "constant '%s' refused", name) : id;
}

int weft_nn_const_i64(weft_nn *b, const char *name, const int64_t *v, int n) {
    if (b->status) return -1;
    weft_tensor t = {.dtype = WEFT_I64, .shape = WEFT_SHAPE(n), .data = (void *)v};
    int id = weft_graph_const(b->g, name, &t);
    return id < 0 ? weft_nn_fail(b, WEFT_ERR_INVALID, "constant '%s' refused", name) : id;
}

int weft_nn_op1(weft_nn *b, const char *op, const char *name, const int *in, int n_in, const weft_attr *attrs,
                int n_attrs) {
    if (b->status) return -1;
    for (int i = 0; i < n_in; i++)
        if (in[i] < 0) return weft_nn_fail(b, WEFT_ERR_INVALID, "node '%s' (%s): input %d missing", name, op, i);
    int out = -1;
    weft_err e = {0};
    if (weft_graph_node(b->g, op, name, in, n_in, attrs, n_attrs, &out, 1, &e)) {
        b->status = e.status;
        if (b->err) *b->err = e;
        return -1;
    }
    return out;
}

int weft_nn_op2(weft_nn *b, const char *op, const char *name, int x, int y) {
    return weft_nn_op1(b, op, name, (int[]){x, y}, 2, NULL, 0);
}

int weft_nn_reshape(weft_nn *b, const char *name, int x, weft_shape to) {
    char buf[256];
    int s = weft_nn_const_i64(b, join(buf, sizeof buf, name, "shape"), to.d, to.ndim);
    return weft_nn_op1(b, "Reshape", name, (int[]){x, s}, 2, NULL, 0);
}

int weft_nn_transpose(weft_nn *b, const char *name, int x, const int64_t *perm, int n) {
    weft_attr a = {.name = "perm", .type = WEFT_ATTR_INTS, .ints = perm, .n = n};
    return weft_nn_op1(b, "Transpose", name, &x, 1, &a, 1);
}

int weft_nn_slice(weft_nn *b, const char *name, int x, int64_t axis, int64_t start, int64_t end) {
    char buf[256];
    int st = weft_nn_const_i64(b, join(buf, sizeof buf, name, "starts"), &start, 1);
    int en = weft_nn_const_i64(b, join(buf, sizeof buf, name, "ends"), &end, 1);
    int ax = weft_nn_const_i64(b, join(buf, sizeof buf, name, "axes"), &axis, 1);
    return weft_nn_op1(b, "Slice", name, (int[]){x, st, en, ax}, 4, NULL, 0);
}

int weft_nn_linear(weft_nn *b, const char *name, int x, int64_t in, int64_t out, weft_nn_init_kind init,
                   float scale) {
    char buf[256], nb[256];
    int w = weft_nn_param(b, join(buf, sizeof buf, name, "weight"), WEFT_SHAPE(in, out), init, scale, in);
    int bias = weft_nn_param(b, join(buf, sizeof buf, name, "bias"), WEFT_SHAPE(out),
                             init == WEFT_NN_INIT_TORCH ? WEFT_NN_INIT_TORCH : WEFT_NN_INIT_ZEROS, 0, in);
    int h = weft_nn_op2(b, "MatMul", join(nb, sizeof nb, name, "matmul"), x, w); /* (..., out) */
    return weft_nn_op2(b, "Add", join(nb, sizeof nb, name, "add"), h, bias);
}

int weft_nn_layer_norm(weft_nn *b, const char *name, int x, int64_t dim) {
    char buf[256];
    int w = weft_nn_param(b, join(buf, sizeof buf, name, "weight"), WEFT_SHAPE(dim), WEFT_NN_INIT_ONES, 0, 0);
    int bias = weft_nn_param(b, join(buf, sizeof buf, name, "bias"), WEFT_SHAPE(dim), WEFT_NN_INIT_ZEROS, 0, 0);
    weft_attr a[] = {{.name = "axis", .type = WEFT_ATTR_INT, .i = -1},
                     {.name = "epsilon", .type = WEFT_ATTR_FLOAT, .f = 1e-5f}};
    return weft_nn_op1(b, "LayerNormalization", name, (int[]){x, w, bias}, 3, a, 2);
}

int weft_nn_causal_mask(weft_nn *b, const char *name, int64_t T) {
    if (b->status) return -1;
    weft_tensor t = {0};
    weft_err e = {0};
    if (weft_tensor_alloc(&t, WEFT_BOOL, WEFT_SHAPE(T, T), &e)) return weft_nn_fail(b, e.status, "%s: %s", name, e.msg);
    uint8_t *m = t.data; /* (T, T): m[i, j] = j <= i */
    for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j <= i; j++) m[i * T + j] = 1;
    int id = weft_graph_const(b->g, name, &t);
    weft_tensor_free(&t);
    return id < 0 ? weft_nn_fail(b, WEFT_ERR_INVALID, "constant '%s' refused", name) : id;
}

int weft_nn_attention(weft_nn *b, const char *name, int x, int heads, int mask, float std, float proj_std) {
    if (b->status) return -1;
    const weft_shape *xs = weft_nn_shape(b, x);
    if (xs->ndim != 3) return weft_nn_fail(b, WEFT_ERR_SHAPE, "%s: attention wants (B, T, C)", name);
    int64_t B = xs->d[0], T = xs->d[1], C = xs->d[2], H = heads, D = C / H;
    if (H <= 0 || C % H) return weft_nn_fail(b, WEFT_ERR_INVALID, "%s: dim %lld is not divisible by heads %d", name, (long long)C, heads);
    char nb[256], sub[256];
    int qkv = weft_nn_linear(b, join(sub, sizeof sub, name, "c_attn"), x, C, 3 * C, WEFT_NN_INIT_NORMAL, std); /* (B, T, 3C) */
    static const int64_t to_bhtd[] = {0, 2, 1, 3}, to_bhdt[] = {0, 2, 3, 1};
    int q = weft_nn_slice(b, join(nb, sizeof nb, name, "q"), qkv, 2, 0, C);         /* (B, T, C) */
    int k = weft_nn_slice(b, join(nb, sizeof nb, name, "k"), qkv, 2, C, 2 * C);
    int v = weft_nn_slice(b, join(nb, sizeof nb, name, "v"), qkv, 2, 2 * C, 3 * C);
    q = weft_nn_reshape(b, join(nb, sizeof nb, name, "q_heads"), q, WEFT_SHAPE(B, T, H, D));
    q = weft_nn_transpose(b, join(nb, sizeof nb, name, "q_bhtd"), q, to_bhtd, 4); /* (B, H, T, D) */
    k = weft_nn_reshape(b, join(nb, sizeof nb, name, "k_heads"), k, WEFT_SHAPE(B, T, H, D));
    k = weft_nn_transpose(b, join(nb, sizeof nb, name, "k_bhdt"), k, to_bhdt, 4); /* (B, H, D, T) */
    v = weft_nn_reshape(b, join(nb, sizeof nb, name, "v_heads"), v, WEFT_SHAPE(B, T, H, D));
    v = weft_nn_transpose(b, join(nb, sizeof nb, name, "v_bhtd"), v, to_bhtd, 4); /* (B, H, T, D) */
    int s = weft_nn_op2(b, "MatMul", join(nb, sizeof nb, name, "scores"), q, k);  /* (B, H, T, T) */
    int scale = weft_nn_const_f32(b, join(nb, sizeof nb, name, "scale"), 1.0f / sqrtf((float)D));
    s = weft_nn_op2(b, "Mul", join(nb, sizeof nb, name, "scaled"), s, scale);
    int neg = weft_nn_const_f32(b, join(nb, sizeof nb, name, "masked_value"), -INFINITY);
    s = weft_nn_op1(b, "Where", join(nb, sizeof nb, name, "causal"), (int[]){mask, s, neg}, 3, NULL, 0);
    weft_attr ax = {.name = "axis", .type = WEFT_ATTR_INT, .i = -1};
    int p = weft_nn_op1(b, "Softmax", join(nb, sizeof nb, name, "softmax"), &s, 1, &ax, 1); /* (B, H, T, T) */
    int y = weft_nn_op2(b, "MatMul", join(nb, sizeof nb, name, "context"), p, v);         /* (B, H, T, D) */
    y = weft_nn_transpose(b, join(nb, sizeof nb, name, "y_bthd"), y, to_bhtd, 4);         /* (B, T, H, D) */
    y = weft_nn_reshape(b, join(nb, sizeof nb, name, "y_btc"), y, WEFT_SHAPE(B, T, C));
    return weft_nn_linear(b, join(sub, sizeof sub, name, "c_proj"), y, C, C, WEFT_NN_INIT_NORMAL, proj_std);
}

int weft_nn_mlp_gelu(weft_nn *b, const char *name, int x, float std, float proj_std) {
    if (b->status) return -1;
    const weft_shape *xs = weft_nn_shape(b, x);
    int64_t C = xs->d[xs->ndim - 1];
    char nb[256];
    int h = weft_nn_linear(b, join(nb, sizeof nb, name, "c_fc"), x, C, 4 * C, WEFT_NN_INIT_NORMAL, std);
    weft_attr a = {.name = "approximate", .type = WEFT_ATTR_STRING, .s = "tanh"};
    h = weft_nn_op1(b, "Gelu", join(nb, sizeof nb, name, "gelu"), &h, 1, &a, 1);
    return weft_nn_linear(b, join(nb, sizeof nb, name, "c_proj"), h, 4 * C, C, WEFT_NN_INIT_NORMAL, proj_std);
}

int weft_nn_conv(weft_nn *b, const char *name, int x, int64_t cin, int64_t cout, int64_t k, bool periodic_w,
                 float gain) {
    if (b->status) return -1;
    if (k <= 0 || k % 2 == 0) return weft_nn_fail(b, WEFT_ERR_INVALID, "%s: kernel size %lld must be odd", name, (long long)k);
    const weft_shape *xs = weft_nn_shape(b, x);
    if (xs->ndim != 4 || xs->d[1] != cin) return weft_nn_fail(b, WEFT_ERR_SHAPE, "%s: conv wants (B, %lld, H, W)", name, (long long)cin);
    int64_t W = xs->d[3], p = k / 2;
    char nb[256];
    int xp = x;
    if (periodic_w && p > 0) {
        if (p > W) return weft_nn_fail(b, WEFT_ERR_INVALID, "%s: wrap padding %lld exceeds width %lld", name, (long long)p, (long long)W);
        /* (B, C, H, W) -> (B, C, H, p + W + p): the last p columns, x, the first p columns */
        int left = weft_nn_slice(b, join(nb, sizeof nb, name, "wrap_west"), x, 3, W - p, W);
        int right = weft_nn_slice(b, join(nb, sizeof nb, name, "wrap_east"), x, 3, 0, p);
        weft_attr ax = {.name = "axis", .type = WEFT_ATTR_INT, .i = 3};
        xp = weft_nn_op1(b, "Concat", join(nb, sizeof nb, name, "wrap"), (int[]){left, x, right}, 3, &ax, 1);
    }
    int64_t fan_in = cin * k * k;
    float bound = gain / sqrtf((float)fan_in);
    int w = weft_nn_param(b, join(nb, sizeof nb, name, "weight"), WEFT_SHAPE(cout, cin, k, k), WEFT_NN_INIT_UNIFORM,
                          bound, fan_in);
    int bias = weft_nn_param(b, join(nb, sizeof nb, name, "bias"), WEFT_SHAPE(cout), WEFT_NN_INIT_UNIFORM, bound, fan_in);
    int64_t pw = periodic_w ? 0 : p;
    const int64_t ks[] = {k, k}, pads[] = {p, pw, p, pw};
    weft_attr a[] = {{.name = "kernel_shape", .type = WEFT_ATTR_INTS, .ints = ks, .n = 2},
                     {.name = "pads", .type = WEFT_ATTR_INTS, .ints = pads, .n = 4}};
    return weft_nn_op1(b, "Conv", name, (int[]){xp, w, bias}, 3, a, 2);
}

/* ---- helpers of the transformer and CNN built-ins ---- */

int weft_nn_const_table(weft_nn *b, const char *name, weft_shape shape, const float *data) {
    if (b->status) return -1;
    weft_tensor t = {.dtype = WEFT_F32, .shape = shape, .data = (void *)data};
    int id = weft_graph_const(b->g, name, &t);
    return id < 0 ? weft_nn_fail(b, WEFT_ERR_INVALID, "constant '%s' refused", name) : id;
}

int weft_nn_expand(weft_nn *b, const char *name, int x, weft_shape to) {
    char buf[256];
    int s = weft_nn_const_i64(b, join(buf, sizeof buf, name, "shape"), to.d, to.ndim);
    return weft_nn_op2(b, "Expand", name, x, s);
}

int weft_nn_linear_no_bias(weft_nn *b, const char *name, int x, int64_t in, int64_t out, weft_nn_init_kind init,
                           float scale) {
    char buf[256], nb[256];
    int w = weft_nn_param(b, join(buf, sizeof buf, name, "weight"), WEFT_SHAPE(in, out), init, scale, in);
    return weft_nn_op2(b, "MatMul", join(nb, sizeof nb, name, "matmul"), x, w); /* (..., out) */
}

int weft_nn_layer_norm_eps(weft_nn *b, const char *name, int x, int64_t dim, float eps) {
    char buf[256];
    int w = weft_nn_param(b, join(buf, sizeof buf, name, "weight"), WEFT_SHAPE(dim), WEFT_NN_INIT_ONES, 0, 0);
    int bias = weft_nn_param(b, join(buf, sizeof buf, name, "bias"), WEFT_SHAPE(dim), WEFT_NN_INIT_ZEROS, 0, 0);
    weft_attr a[] = {{.name = "axis", .type = WEFT_ATTR_INT, .i = -1},
                     {.name = "epsilon", .type = WEFT_ATTR_FLOAT, .f = eps}};
    return weft_nn_op1(b, "LayerNormalization", name, (int[]){x, w, bias}, 3, a, 2);
}

int weft_nn_rms_norm(weft_nn *b, const char *name, int x, int64_t dim, float eps) {
    char buf[256], nb[256];
    int w = weft_nn_param(b, join(buf, sizeof buf, name, "weight"), WEFT_SHAPE(dim), WEFT_NN_INIT_ONES, 0, 0);
    int sq = weft_nn_op2(b, "Mul", join(nb, sizeof nb, name, "square"), x, x); /* (..., dim) */
    static const int64_t last[] = {-1};
    weft_attr a[] = {{.name = "axes", .type = WEFT_ATTR_INTS, .ints = last, .n = 1},
                     {.name = "keepdims", .type = WEFT_ATTR_INT, .i = 1}};
    int ms = weft_nn_op1(b, "ReduceMean", join(nb, sizeof nb, name, "mean_square"), &sq, 1, a, 2); /* (..., 1) */
    int e = weft_nn_const_f32(b, join(nb, sizeof nb, name, "epsilon"), eps);
    ms = weft_nn_op2(b, "Add", join(nb, sizeof nb, name, "plus_epsilon"), ms, e);
    int rms = weft_nn_op1(b, "Sqrt", join(nb, sizeof nb, name, "rms"), &ms, 1, NULL, 0);
    int y = weft_nn_op2(b, "Div", join(nb, sizeof nb, name, "normalized"), x, rms);
    return weft_nn_op2(b, "Mul", join(nb, sizeof nb, name, "scaled"), y, w);
}

void weft_nn_rotary_tables(weft_nn *b, const char *name, int64_t T, int64_t rot, double theta, bool interleaved,
                           int *cos_id, int *sin_id) {
    *cos_id = *sin_id = -1;
    if (b->status) return;
    if (rot <= 0 || rot % 2) {
        weft_nn_fail(b, WEFT_ERR_INVALID, "%s: rotary dims %lld must be even and positive", name, (long long)rot);
        return;
    }
    float *c = weft_xmalloc((size_t)(T * rot) * sizeof *c), *s = weft_xmalloc((size_t)(T * rot) * sizeof *s); /* (T, rot) */
    for (int64_t t = 0; t < T; t++)
        for (int64_t j = 0; j < rot; j++) {
            int64_t pair = interleaved ? j / 2 : j % (rot / 2);
            double angle = (double)t * pow(theta, -2.0 * (double)pair / (double)rot);
            c[t * rot + j] = (float)cos(angle);
            s[t * rot + j] = (float)sin(angle);
        }
    char buf[256];
    *cos_id = weft_nn_const_table(b, join(buf, sizeof buf, name, "cos"), WEFT_SHAPE(T, 1, rot), c);
    *sin_id = weft_nn_const_table(b, join(buf, sizeof buf, name, "sin"), WEFT_SHAPE(T, 1, rot), s);
    free(c);
    free(s);
}

int weft_nn_rotary(weft_nn *b, const char *name, int x, int64_t rot, int cos_id, int sin_id, bool interleaved) {
    if (b->status) return -1;
    const weft_shape *xs = weft_nn_shape(b, x);
    if (xs->ndim != 4 || rot > xs->d[3] || rot % 2)
        return weft_nn_fail(b, WEFT_ERR_SHAPE, "%s: rotary wants (B, T, H, D) with %lld even dims <= D", name, (long long)rot);
    const int64_t B = xs->d[0], T = xs->d[1], H = xs->d[2], D = xs->d[3];
    char nb[256];
    int xr = rot < D ? weft_nn_slice(b, join(nb, sizeof nb, name, "rotated_dims"), x, 3, 0, rot) : x; /* (B, T, H, rot) */
    int turned; /* each pair (a, b) -> (-b, a): (B, T, H, rot) */
    if (interleaved) {
        int pairs = weft_nn_reshape(b, join(nb, sizeof nb, name, "pairs"), xr, WEFT_SHAPE(B, T, H, rot / 2, 2));
        int even = weft_nn_slice(b, join(nb, sizeof nb, name, "even"), pairs, 4, 0, 1); /* (B, T, H, rot/2, 1) */
        int odd = weft_nn_slice(b, join(nb, sizeof nb, name, "odd"), pairs, 4, 1, 2);
        odd = weft_nn_op1(b, "Neg", join(nb, sizeof nb, name, "minus_odd"), &odd, 1, NULL, 0);
        weft_attr ax = {.name = "axis", .type = WEFT_ATTR_INT, .i = 4};
        turned = weft_nn_op1(b, "Concat", join(nb, sizeof nb, name, "turned_pairs"), (int[]){odd, even}, 2, &ax, 1);
        turned = weft_nn_reshape(b, join(nb, sizeof nb, name, "turned"), turned, WEFT_SHAPE(B, T, H, rot));
    } else {
        int lo = weft_nn_slice(b, join(nb, sizeof nb, name, "first_half"), xr, 3, 0, rot / 2); /* (B, T, H, rot/2) */
        int hi = weft_nn_slice(b, join(nb, sizeof nb, name, "second_half"), xr, 3, rot / 2, rot);
        hi = weft_nn_op1(b, "Neg", join(nb, sizeof nb, name, "minus_second_half"), &hi, 1, NULL, 0);
        weft_attr ax = {.name = "axis", .type = WEFT_ATTR_INT, .i = 3};
        turned = weft_nn_op1(b, "Concat", join(nb, sizeof nb, name, "turned"), (int[]){hi, lo}, 2, &ax, 1);
    }
    int yc = weft_nn_op2(b, "Mul", join(nb, sizeof nb, name, "times_cos"), xr, cos_id);
    int ys = weft_nn_op2(b, "Mul", join(nb, sizeof nb, name, "times_sin"), turned, sin_id);
    int y = weft_nn_op2(b, "Add", join(nb, sizeof nb, name, "rotated"), yc, ys); /* (B, T, H, rot) */
    if (rot == D) return y;
    int pass = weft_nn_slice(b, join(nb, sizeof nb, name, "passed_dims"), x, 3, rot, D); /* (B, T, H, D - rot) */
    weft_attr ax = {.name = "axis", .type = WEFT_ATTR_INT, .i = 3};
    return weft_nn_op1(b, "Concat", name, (int[]){y, pass}, 2, &ax, 1); /* (B, T, H, D) */
}

int weft_nn_sdpa(weft_nn *b, const char *name, int q, int k, int v, int mask) {
    if (b->status) return -1;
    const weft_shape *qs = weft_nn_shape(b, q);
    if (qs->ndim != 4) return weft_nn_fail(b, WEFT_ERR_SHAPE, "%s: attention wants (B, T, H, D)", name);
    const int64_t B = qs->d[0], T = qs->d[1], H = qs->d[2], D = qs->d[3];
    static const int64_t to_bhtd[] = {0, 2, 1, 3}, to_bhdt[] = {0, 2, 3, 1};
    char nb[256];
    q = weft_nn_transpose(b, join(nb, sizeof nb, name, "q_bhtd"), q, to_bhtd, 4); /* (B, H, T, D) */
    k = weft_nn_transpose(b, join(nb, sizeof nb, name, "k_bhdt"), k, to_bhdt, 4); /* (B, H, D, T) */
    v = weft_nn_transpose(b, join(nb, sizeof nb, name, "v_bhtd"), v, to_bhtd, 4); /* (B, H, T, D) */
    int s = weft_nn_op2(b, "MatMul", join(nb, sizeof nb, name, "scores"), q, k);  /* (B, H, T, T) */
    int scale = weft_nn_const_f32(b, join(nb, sizeof nb, name, "scale"), 1.0f / sqrtf((float)D));
    s = weft_nn_op2(b, "Mul", join(nb, sizeof nb, name, "scaled"), s, scale);
    if (mask >= 0) {
        int neg = weft_nn_const_f32(b, join(nb, sizeof nb, name, "masked_value"), -INFINITY);
        s = weft_nn_op1(b, "Where", join(nb, sizeof nb, name, "causal"), (int[]){mask, s, neg}, 3, NULL, 0);
    }
    weft_attr ax = {.name = "axis", .type = WEFT_ATTR_INT, .i = -1};
    int p = weft_nn_op1(b, "Softmax", join(nb, sizeof nb, name, "softmax"), &s, 1, &ax, 1); /* (B, H, T, T) */
    int y = weft_nn_op2(b, "MatMul", join(nb, sizeof nb, name, "context"), p, v);         /* (B, H, T, D) */
    y = weft_nn_transpose(b, join(nb, sizeof nb, name, "y_bthd"), y, to_bhtd, 4);         /* (B, T, H, D) */
    return weft_nn_reshape(b, join(nb, sizeof nb, name, "y_btc"), y, WEFT_SHAPE(B, T, H * D));
}

int weft_nn_conv2d(weft_nn *b, const char *name, int x, int64_t cin, int64_t cout, int64_t k, int64_t stride,
                   int64_t pad, bool bias, float std) {
    if (b->status) return -1;
    const weft_shape *xs = weft_nn_shape(b, x);
    if (xs->ndim != 4 || xs->d[1] != cin) return weft_nn_fail(b, WEFT_ERR_SHAPE, "%s: conv wants (B, %lld, H, W)", name, (long long)cin);
    char nb[256];
    int64_t fan_in = cin * k * k;
    int w = std > 0 ? weft_nn_param(b, join(nb, sizeof nb, name, "weight"), WEFT_SHAPE(cout, cin, k, k), WEFT_NN_INIT_NORMAL, std, 0)
                    : weft_nn_param(b, join(nb, sizeof nb, name, "weight"), WEFT_SHAPE(cout, cin, k, k), WEFT_NN_INIT_TORCH, 0, fan_in);
    int in[3] = {x, w, -1};
    if (bias) in[2] = weft_nn_param(b, join(nb, sizeof nb, name, "bias"), WEFT_SHAPE(cout), WEFT_NN_INIT_TORCH, 0, fan_in);
    const int64_t ks[] = {k, k}, st[] = {stride, stride}, pads[] = {pad, pad, pad, pad};
    weft_attr a[] = {{.name = "kernel_shape", .type = WEFT_ATTR_INTS, .ints = ks, .n = 2},
                     {.name = "strides", .type = WEFT_ATTR_INTS, .ints = st, .n = 2},
                     {.name = "pads", .type = WEFT_ATTR_INTS, .ints = pads, .n = 4}};
    return weft_nn_op1(b, "Conv", name, in, bias ? 3 : 2, a, 3);
}

int weft_nn_batch_norm(weft_nn *b, const char *name, int x, int64_t C) {
    if (b->status) return -1;
    char nb[256];
    int w = weft_nn_param(b, join(nb, sizeof nb, name, "weight"), WEFT_SHAPE(C), WEFT_NN_INIT_ONES, 0, 0);
    int bias = weft_nn_param(b, join(nb, sizeof nb, name, "bias"), WEFT_SHAPE(C), WEFT_NN_INIT_ZEROS, 0, 0);
    float *stat = weft_xcalloc((size_t)C, sizeof *stat); /* (C) */
    int mean = weft_nn_const_table(b, join(nb, sizeof nb, name, "running_mean"), WEFT_SHAPE(C), stat);
    for (int64_t i = 0; i < C; i++) stat[i] = 1.0f;
    int var = weft_nn_const_table(b, join(nb, sizeof nb, name, "running_var"), WEFT_SHAPE(C), stat);
    free(stat);
    weft_attr eps = {.name = "epsilon", .type = WEFT_ATTR_FLOAT, .f = 1e-5f};
    return weft_nn_op1(b, "BatchNormalization", name, (int[]){x, w, bias, mean, var}, 5, &eps, 1);
}

int weft_nn_max_pool(weft_nn *b, const char *name, int x, int64_t k, int64_t s, int64_t p) {
    const int64_t ks[] = {k, k}, st[] = {s, s}, pads[] = {p, p, p, p};
    weft_attr a[] = {{.name = "kernel_shape", .type = WEFT_ATTR_INTS, .ints = ks, .n = 2},
                     {.name = "strides", .type = WEFT_ATTR_INTS, .ints = st, .n = 2},
                     {.name = "pads", .type = WEFT_ATTR_INTS, .ints = pads, .n = 4}};
    return weft_nn_op1(b, "MaxPool", name, &x, 1, a, 3);
}

weft_status weft_nn_finish(weft_nn *b, weft_graph *g, const char *name, const int *outputs, int n, weft_graph **out) {
    if (b->status) {
        weft_err_prefix(b->err, "builtin:%s", name);
        weft_graph_free(g);
        return b->status;
    }
    for (int i = 0; i < n; i++)
        if (outputs[i] >= 0) weft_graph_output(g, outputs[i]);
    *out = g;
    return WEFT_OK;
}
