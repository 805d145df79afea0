/* Tests of the nn ops: hand-computed cases, the GEMM paths against naive loops, opset-dependent
 * semantics, errors that name the node, and cost counts. */
#include "ir/ir.h"
#include "kernels/nn.h"
#include "test.h"

#include <string.h>

/* Runs one node on fed inputs (NULL entries are omitted optionals): builds a graph of inputs,
 * the node and its outputs, runs the reference executor. Outputs are freed by the caller. */
static weft_status run_node(const char *op, int opset, const weft_tensor *const *in, int n_in, const weft_attr *attrs,
                            int n_attrs, weft_tensor *out, int n_out, weft_err *err) {
    weft_graph *g = weft_graph_new("t");
    g->opset = opset;
    int ids[WEFT_MAX_IO], outs[WEFT_MAX_IO];
    const weft_tensor *feed[WEFT_MAX_IO];
    int n_feed = 0;
    for (int i = 0; i < n_in; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "x%d", i);
        ids[i] = in[i] ? weft_graph_input(g, nm, in[i]->dtype, in[i]->shape) : -1;
        if (in[i]) feed[n_feed++] = in[i];
    }
    weft_status s = weft_graph_node(g, op, "n1", ids, n_in, attrs, n_attrs, outs, n_out, err);
    if (!s) {
        for (int j = 0; j < n_out; j++) weft_graph_output(g, outs[j]);
        s = weft_ref_run(g, feed, n_feed, out, n_out, err);
    }
    weft_graph_free(g);
    return s;
}

static weft_tensor tensor_f(weft_shape s, const float *v) {
    weft_tensor t = {0};
    weft_err e = {0};
    WEFT_ASSERT(!weft_tensor_alloc(&t, WEFT_F32, s, &e));
    if (v) memcpy(t.data, v, weft_tensor_nbytes(&t));
    return t;
}

static weft_tensor tensor_rand(weft_shape s, uint64_t seed) {
    weft_tensor t = tensor_f(s, NULL);
    weft_rng r;
    weft_rng_seed(&r, seed, 1);
    float *p = t.data;
    for (int64_t i = 0; i < weft_tensor_numel(&t); i++) p[i] = weft_rng_uniform(&r) * 2 - 1;
    return t;
}

static weft_tensor tensor_i(weft_shape s, const int64_t *v) {
    weft_tensor t = {0};
    weft_err e = {0};
    WEFT_ASSERT(!weft_tensor_alloc(&t, WEFT_I64, s, &e));
    memcpy(t.data, v, weft_tensor_nbytes(&t));
    return t;
}

#define A_INTS(nm, ...) ((weft_attr){.name = nm, .type = WEFT_ATTR_INTS, .ints = (const int64_t[]){__VA_ARGS__}, \
                                     .n = (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))})
#define A_INT(nm, v) ((weft_attr){.name = nm, .type = WEFT_ATTR_INT, .i = (v)})
#define A_FLOAT(nm, v) ((weft_attr){.name = nm, .type = WEFT_ATTR_FLOAT, .f = (v)})
#define A_STR(nm, v) ((weft_attr){.name = nm, .type = WEFT_ATTR_STRING, .s = (v)})

static double max_diff(const weft_tensor *a, const float *b) {
    double m = 0;
    for (int64_t i = 0; i < weft_tensor_numel(a); i++) {
        double d = fabs((double)((float *)a->data)[i] - (double)b[i]);
        if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
    }
    return m;
}

/* ---- Conv ---- */

TEST(nn_conv_hand_computed) {
    /* x = 1..9 in a 3x3 image; a 2x2 kernel of ones sums each 2x2 block */
    float xv[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, wv[4] = {1, 1, 1, 1}, bv[1] = {0.5f};
    weft_tensor x = tensor_f(WEFT_SHAPE(1, 1, 3, 3), xv), w = tensor_f(WEFT_SHAPE(1, 1, 2, 2), wv),
                b = tensor_f(WEFT_SHAPE(1), bv), y = {0};
    weft_err err = {0};
    CHECK_OK(run_node("Conv", 17, (const weft_tensor *[]){&x, &w, &b}, 3, NULL, 0, &y, 1, &err), &err);
    weft_shape want = WEFT_SHAPE(1, 1, 2, 2);
    CHECK(weft_shape_eq(&y.shape, &want));
    float expect[4] = {12.5f, 16.5f, 24.5f, 28.5f};
    CHECK_NEAR(max_diff(&y, expect), 0, 0);
    weft_tensor_free(&y);
    /* pads 1 and stride 2: the corners see one, two or four pixels */
    weft_attr at[] = {A_INTS("pads", 1, 1, 1, 1), A_INTS("strides", 2, 2)};
    CHECK_OK(run_node("Conv", 17, (const weft_tensor *[]){&x, &w}, 2, at, 2, &y, 1, &err), &err);
    float expect2[4] = {1, 5, 11, 28};
    CHECK_NEAR(max_diff(&y, expect2), 0, 0);
    weft_tensor_free(&y);
    weft_tensor_free(&x); weft_tensor_free(&w); weft_tensor_free(&b);
}

/* Direct convolution: the naive reference for im2col + GEMM (2-D, groups, all attributes). */
static void conv2d_naive(const float *x, const float *w, const float *b, float *y, int64_t N, int64_t C, int64_t H,
                         int64_t W, int64_t M, int64_t G, int64_t KH, int64_t KW, int64_t sh, int64_t sw, int64_t dh,
                         int64_t dw, int64_t ph, int64_t pw, int64_t OH, int64_t OW) {
    int64_t Cg = C / G, Mg = M / G;
    for (int64_t n = 0; n < N; n++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double s = b ? b[m] : 0;
                    int64_t g = m / Mg;
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t kh = 0; kh < KH; kh++)
                            for (int64_t kw = 0; kw < KW; kw++) {
                                int64_t ih = oh * sh - ph + kh * dh, iw = ow * sw - pw + kw * dw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                s += (double)x[((n * C + g * Cg + c) * H + ih) * W + iw] *
                                     w[((m * Cg + c) * KH + kh) * KW + kw];
                            }
                    y[((n * M + m) * OH + oh) * OW + ow] = (float)s;
                }
}

TEST(nn_conv_groups_strides_dilations_match_naive) {
    /* (2, 6, 9, 8) * (4, 3, 3, 2), group 2, strides (2, 1), dilations (1, 2), pads (1, 0, 2, 1) */
    int64_t N = 2, C = 6, H = 9, W = 8, M = 4, G = 2, KH = 3, KW = 2;
    weft_tensor x = tensor_rand(WEFT_SHAPE(N, C, H, W), 1), w = tensor_rand(WEFT_SHAPE(M, C / G, KH, KW), 2),
                b = tensor_rand(WEFT_SHAPE(M), 3), y = {0};
    weft_attr at[] = {A_INTS("strides", 2, 1), A_INTS("dilations", 1, 2), A_INTS("pads", 1, 0, 2, 1), A_INT("group", G)};
    weft_err err = {0};
    CHECK_OK(run_node("Conv", 17, (const weft_tensor *[]){&x, &w, &b}, 3, at, 4, &y, 1, &err), &err);
    int64_t OH = (H + 1 + 2 - 3) / 2 + 1, OW = (W + 0 + 1 - 3) / 1 + 1;
    weft_shape want = WEFT_SHAPE(N, M, OH, OW);
    CHECK(weft_shape_eq(&y.shape, &want));
    float *ref = calloc((size_t)(N * M * OH * OW), sizeof(float));
    conv2d_naive(x.data, w.data, b.data, ref, N, C, H, W, M, G, KH, KW, 2, 1, 1, 2, 1, 0, OH, OW);
    if (weft_shape_eq(&y.shape, &want)) CHECK_NEAR(max_diff(&y, ref), 0, 1e-5);
    free(ref);
    weft_tensor_free(&y); weft_tensor_free(&x); weft_tensor_free(&w); weft_tensor_free(&b);
}

/* <conv(x, w), u> == <x, conv_transpose(u, w)> for the same window (output_shape pins the
 * transpose's extent, so no output_padding): checks ConvTranspose's geometry, groups included. */
static void check_adjoint(weft_shape xs, weft_shape ws, int64_t group, const weft_attr *win, int n_win, int64_t *os,
                          int n_os) {
    weft_tensor x = tensor_rand(xs, 4), w = tensor_rand(ws, 5), y = {0}, z = {0};
    weft_attr at[8];
    memcpy(at, win, (size_t)n_win * sizeof *at);
    at[n_win] = A_INT("group", group);
    weft_err err = {0};
    CHECK_OK(run_node("Conv", 17, (const weft_tensor *[]){&x, &w}, 2, at, n_win + 1, &y, 1, &err), &err);
    weft_tensor u = tensor_rand(y.shape, 6);
    /* ConvTranspose reads the same buffer as (C_in = M, C_out / group, k) */
    at[n_win + 1] = (weft_attr){.name = "output_shape", .type = WEFT_ATTR_INTS, .ints = os, .n = n_os};
    CHECK_OK(run_node("ConvTranspose", 17, (const weft_tensor *[]){&u, &w}, 2, at, n_win + 2, &z, 1, &err), &err);
    CHECK(weft_shape_eq(&z.shape, &x.shape));
    double lhs = 0, rhs = 0;
    for (int64_t i = 0; i < weft_tensor_numel(&y); i++) lhs += (double)((float *)y.data)[i] * ((float *)u.data)[i];
    for (int64_t i = 0; i < weft_tensor_numel(&x) && weft_shape_eq(&z.shape, &x.shape); i++)
        rhs += (double)((float *)x.data)[i] * ((float *)z.data)[i];
    CHECK_NEAR(lhs, rhs, 1e-4);
    weft_tensor_free(&x); weft_tensor_free(&w); weft_tensor_free(&y); weft_tensor_free(&z); weft_tensor_free(&u);
}

TEST(nn_conv_transpose_is_the_adjoint_of_conv) {
    weft_attr a2[] = {A_INTS("strides", 2, 2), A_INTS("pads", 1, 1, 1, 1)};
    check_adjoint(WEFT_SHAPE(1, 3, 7, 6), WEFT_SHAPE(2, 3, 3, 3), 1, a2, 2, (int64_t[]){7, 6}, 2);
    /* grouped, dilated, 1-D, asymmetric pads */
    weft_attr a1[] = {A_INTS("strides", 3), A_INTS("dilations", 2), A_INTS("pads", 2, 1)};
    check_adjoint(WEFT_SHAPE(2, 4, 17), WEFT_SHAPE(6, 2, 3), 2, a1, 3, (int64_t[]){17}, 1);
    /* 3-D */
    weft_attr a3[] = {A_INTS("strides", 1, 2, 1)};
    check_adjoint(WEFT_SHAPE(1, 2, 4, 5, 3), WEFT_SHAPE(3, 2, 2, 3, 2), 1, a3, 1, (int64_t[]){4, 5, 3}, 3);
}

TEST(nn_conv_shape_error_names_the_node) {
    weft_graph *g = weft_graph_new("t");
    int x = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(1, 3, 8, 8));
    int w = weft_graph_input(g, "w", WEFT_F32, WEFT_SHAPE(4, 2, 3, 3));
    int y;
    weft_err err = {0};
    CHECK_INT(weft_graph_node(g, "Conv", "conv1", (int[]){x, w}, 2, NULL, 0, &y, 1, &err), WEFT_ERR_SHAPE);
    CHECK(strstr(err.msg, "node 'conv1' (Conv)") != NULL);
    CHECK(strstr(err.msg, "input channels") != NULL);
    /* an attribute weft does not know is refused, never ignored */
    int w2 = weft_graph_input(g, "w2", WEFT_F32, WEFT_SHAPE(4, 3, 3, 3));
    weft_attr bad = A_INT("frobnicate", 1);
    CHECK_INT(weft_graph_node(g, "Conv", "conv2", (int[]){x, w2}, 2, &bad, 1, &y, 1, &err), WEFT_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "frobnicate") != NULL);
    /* a window larger than the padded input */
    weft_attr big = A_INTS("dilations", 5, 5);
    CHECK_INT(weft_graph_node(g, "Conv", "conv3", (int[]){x, w2}, 2, &big, 1, &y, 1, &err), WEFT_ERR_SHAPE);
    CHECK(strstr(err.msg, "conv3") != NULL);
    weft_graph_free(g);
}

TEST(nn_conv_cost_counts_macs) {
    weft_graph *g = weft_graph_new("t");
    int x = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(2, 4, 10, 10));
    int w = weft_graph_input(g, "w", WEFT_F32, WEFT_SHAPE(8, 2, 3, 3));
    int y;
    weft_err err = {0};
    weft_attr at[] = {A_INT("group", 2), A_INTS("pads", 1, 1, 1, 1)};
    CHECK_OK(weft_graph_node(g, "Conv", "c", (int[]){x, w}, 2, at, 2, &y, 1, &err), &err);
    weft_graph_stats st = weft_graph_count(g);
    CHECK_INT(st.flops, 2LL * 2 * 8 * 10 * 10 * 2 * 3 * 3);
    CHECK_INT(st.bytes, 4LL * (2 * 4 * 100 + 8 * 2 * 9 + 2 * 8 * 100));
    weft_graph_free(g);
}

/* ---- MatMul, Gemm ---- */

TEST(nn_matmul_promotion_and_batch_broadcast) {
    weft_tensor a = tensor_rand(WEFT_SHAPE(2, 1, 2, 3), 7), b = tensor_rand(WEFT_SHAPE(5, 3, 4), 8), y = {0};
    weft_err err = {0};
    CHECK_OK(run_node("MatMul", 17, (const weft_tensor *[]){&a, &b}, 2, NULL, 0, &y, 1, &err), &err);
    weft_shape want = WEFT_SHAPE(2, 5, 2, 4);
    CHECK(weft_shape_eq(&y.shape, &want));
    const float *A = a.data, *B = b.data, *Y = y.data;
    double worst = 0;
    for (int i = 0; i < 2 && weft_shape_eq(&y.shape, &want); i++)
        for (int j = 0; j < 5; j++)
            for (int m = 0; m < 2; m++)
                for (int n = 0; n < 4; n++) {
                    double s = 0;
                    for (int k = 0; k < 3; k++) s += (double)A[(i * 2 + m) * 3 + k] * B[(j * 3 + k) * 4 + n];
                    worst = fmax(worst, fabs(s - Y[((i * 5 + j) * 2 + m) * 4 + n]));
                }
    CHECK_NEAR(worst, 0, 1e-5);
    weft_tensor_free(&y);
    /* 1-D on either side: (3) x (2, 3, 4) -> (2, 4); (2, 3, 4) x (4) -> (2, 3) */
    weft_tensor v = tensor_rand(WEFT_SHAPE(3), 9), m3 = tensor_rand(WEFT_SHAPE(2, 3, 4), 10), v4 = tensor_rand(WEFT_SHAPE(4), 11);
    CHECK_OK(run_node("MatMul", 17, (const weft_tensor *[]){&v, &m3}, 2, NULL, 0, &y, 1, &err), &err);
    weft_shape w1 = WEFT_SHAPE(2, 4);
    CHECK(weft_shape_eq(&y.shape, &w1));
    weft_tensor_free(&y);
    CHECK_OK(run_node("MatMul", 17, (const weft_tensor *[]){&m3, &v4}, 2, NULL, 0, &y, 1, &err), &err);
    weft_shape w2 = WEFT_SHAPE(2, 3);
    CHECK(weft_shape_eq(&y.shape, &w2));
    weft_tensor_free(&y);
    CHECK_INT(run_node("MatMul", 17, (const weft_tensor *[]){&v, &v4}, 2, NULL, 0, &y, 1, &err), WEFT_ERR_SHAPE);
    CHECK(strstr(err.msg, "node 'n1' (MatMul)") != NULL);
    weft_tensor_free(&a); weft_tensor_free(&b); weft_tensor_free(&v); weft_tensor_free(&m3); weft_tensor_free(&v4);
}

TEST(nn_matmul_int64) {
    int64_t av[] = {1, 2, 3, 4, 5, 6}, bv[] = {7, 8, 9, 10, 11, 12};
    weft_tensor a = tensor_i(WEFT_SHAPE(2, 3), av), b = tensor_i(WEFT_SHAPE(3, 2), bv), y = {0};
    weft_err err = {0};
    CHECK_OK(run_node("MatMul", 17, (const weft_tensor *[]){&a, &b}, 2, NULL, 0, &y, 1, &err), &err);
    CHECK_INT(y.dtype, WEFT_I64);
    int64_t want[] = {58, 64, 139, 154};
    for (int i = 0; i < 4 && y.data; i++) CHECK_INT(((int64_t *)y.data)[i], want[i]);
    weft_tensor_free(&a); weft_tensor_free(&b); weft_tensor_free(&y);
}

TEST(nn_gemm_transposes_and_bias_broadcast) {
    /* A^T (2x3 stored as 3x2), B^T (3x2 stored as 2x3), C a row vector */
    float av[] = {1, 4, 2, 5, 3, 6}, bv[] = {1, 3, 5, 2, 4, 6}, cv[] = {10, 20};
    weft_tensor a = tensor_f(WEFT_SHAPE(3, 2), av), b = tensor_f(WEFT_SHAPE(2, 3), bv), c = tensor_f(WEFT_SHAPE(2), cv), y = {0};
    weft_attr at[] = {A_INT("transA", 1), A_INT("transB", 1), A_FLOAT("alpha", 2), A_FLOAT("beta", 0.5f)};
    weft_err err = {0};
    CHECK_OK(run_node("Gemm", 13, (const weft_tensor *[]){&a, &b, &c}, 3, at, 4, &y, 1, &err), &err);
    /* A = [[1,2,3],[4,5,6]], B = [[1,2],[3,4],[5,6]]: AB = [[22,28],[49,64]] */
    float want[] = {2 * 22 + 5, 2 * 28 + 10, 2 * 49 + 5, 2 * 64 + 10};
    CHECK_NEAR(max_diff(&y, want), 0, 1e-5);
    weft_tensor_free(&y);
    weft_tensor bad = tensor_f(WEFT_SHAPE(3), NULL);
    CHECK_INT(run_node("Gemm", 13, (const weft_tensor *[]){&a, &b, &bad}, 3, at, 4, &y, 1, &err), WEFT_ERR_SHAPE);
    weft_tensor_free(&a); weft_tensor_free(&b); weft_tensor_free(&c); weft_tensor_free(&bad);
}

/* ---- softmax family: opset-dependent axes ---- */

TEST(nn_softmax_coerces_to_2d_before_opset_13) {
    weft_tensor x = tensor_rand(WEFT_SHAPE(2, 3, 4), 12), y = {0};
    weft_attr ax = A_INT("axis", 1);
    weft_err err = {0};
    /* opset 11: one softmax over the 12 trailing elements of each batch row */
    CHECK_OK(run_node("Softmax", 11, (const weft_tensor *[]){&x}, 1, &ax, 1, &y, 1, &err), &err);
    for (int n = 0; n < 2 && y.data; n++) {
        double s = 0;
        for (int i = 0; i < 12; i++) s += ((float *)y.data)[n * 12 + i];
        CHECK_NEAR(s, 1, 1e-5);
    }
    weft_tensor_free(&y);
    /* opset 13: over axis 1 alone, 8 softmaxes of 3 */
    CHECK_OK(run_node("Softmax", 13, (const weft_tensor *[]){&x}, 1, &ax, 1, &y, 1, &err), &err);
    for (int n = 0; n < 2 && y.data; n++)
        for (int k = 0; k < 4; k++) {
            double s = 0;
            for (int c = 0; c < 3; c++) s += ((float *)y.data)[(n * 3 + c) * 4 + k];
            CHECK_NEAR(s, 1, 1e-5);
        }
    weft_tensor_free(&y);
    /* large inputs stay finite (max-subtracted) */
    float big[3] = {1000, 1001, 1002};
    weft_tensor xb = tensor_f(WEFT_SHAPE(1, 3), big);
    CHECK_OK(run_node("LogSoftmax", 13, (const weft_tensor *[]){&xb}, 1, NULL, 0, &y, 1, &err), &err);
    if (y.data) CHECK_NEAR(((float *)y.data)[2], -0.40760596, 1e-5);
    weft_tensor_free(&y);
    weft_tensor_free(&xb);
    weft_tensor_free(&x);
}

/* ---- pooling ---- */

TEST(nn_maxpool_indices_and_storage_order) {
    float xv[6] = {1, 9, 3, 4, 5, 6}; /* (1, 1, 2, 3) */
    weft_tensor x = tensor_f(WEFT_SHAPE(1, 1, 2, 3), xv), y[2] = {{0}};
    weft_attr at[] = {A_INTS("kernel_shape", 2, 2), A_INT("storage_order", 1)};
    weft_err err = {0};
    CHECK_OK(run_node("MaxPool", 12, (const weft_tensor *[]){&x}, 1, at, 2, y, 2, &err), &err);
    float want[2] = {9, 9};
    CHECK_NEAR(max_diff(&y[0], want), 0, 0);
    /* element (0, 1) of a 2x3 image: row-major 1, column-major 0 + 1 * 2 = 2 */
    if (y[1].data) { CHECK_INT(((int64_t *)y[1].data)[0], 2); CHECK_INT(((int64_t *)y[1].data)[1], 2); }
    weft_tensor_free(&y[0]); weft_tensor_free(&y[1]);
    weft_tensor_free(&x);
}

TEST(nn_averagepool_pads_and_ceil) {
    /* 1-D: x = 1..5, kernel 2, stride 2, pads (1, 0), ceil_mode: windows [-1,0], [1,2], [3,4] */
    float xv[5] = {1, 2, 3, 4, 5};
    weft_tensor x = tensor_f(WEFT_SHAPE(1, 1, 5), xv), y = {0};
    weft_attr at[] = {A_INTS("kernel_shape", 2), A_INTS("strides", 2), A_INTS("pads", 1, 0), A_INT("ceil_mode", 1)};
    weft_err err = {0};
    CHECK_OK(run_node("AveragePool", 12, (const weft_tensor *[]){&x}, 1, at, 4, &y, 1, &err), &err);
    float want[3] = {1, 2.5f, 4.5f};
    weft_shape ws = WEFT_SHAPE(1, 1, 3);
    CHECK(weft_shape_eq(&y.shape, &ws));
    if (weft_shape_eq(&y.shape, &ws)) CHECK_NEAR(max_diff(&y, want), 0, 1e-6);
    weft_tensor_free(&y);
    weft_attr at2[] = {A_INTS("kernel_shape", 2), A_INTS("strides", 2), A_INTS("pads", 1, 0), A_INT("count_include_pad", 1)};
    CHECK_OK(run_node("AveragePool", 12, (const weft_tensor *[]){&x}, 1, at2, 4, &y, 1, &err), &err);
    float want2[3] = {0.5f, 2.5f, 4.5f};
    CHECK_NEAR(max_diff(&y, want2), 0, 1e-6);
    weft_tensor_free(&y);
    weft_tensor_free(&x);
}

TEST(nn_lppool_and_maxunpool) {
    /* LpPool p=2 over pairs: sqrt(3^2 + 4^2) = 5; GlobalLpPool over all four */
    float xv[4] = {3, 4, 0, -12};
    weft_tensor x = tensor_f(WEFT_SHAPE(1, 1, 4), xv), y = {0}, yi[2] = {{0}}, z = {0};
    weft_attr at[] = {A_INTS("kernel_shape", 2), A_INTS("strides", 2)};
    weft_err err = {0};
    CHECK_OK(run_node("LpPool", 18, (const weft_tensor *[]){&x}, 1, at, 2, &y, 1, &err), &err);
    CHECK_NEAR(max_diff(&y, (float[]){5, 12}), 0, 1e-5);
    weft_tensor_free(&y);
    CHECK_OK(run_node("GlobalLpPool", 18, (const weft_tensor *[]){&x}, 1, NULL, 0, &y, 1, &err), &err);
    CHECK_NEAR(max_diff(&y, (float[]){13}), 0, 1e-5);
    weft_tensor_free(&y);
    /* MaxPool then MaxUnpool puts each maximum back where it was */
    CHECK_OK(run_node("MaxPool", 12, (const weft_tensor *[]){&x}, 1, at, 2, yi, 2, &err), &err);
    CHECK_OK(run_node("MaxUnpool", 12, (const weft_tensor *[]){&yi[0], &yi[1]}, 2, at, 2, &z, 1, &err), &err);
    CHECK_NEAR(max_diff(&z, (float[]){0, 4, 0, 0}), 0, 0);
    weft_tensor_free(&yi[0]); weft_tensor_free(&yi[1]); weft_tensor_free(&z);
    weft_tensor_free(&x);
}

/* ---- normalization ---- */

TEST(nn_batchnorm_training_refused) {
    weft_tensor x = tensor_rand(WEFT_SHAPE(2, 3, 4), 13), s = tensor_rand(WEFT_SHAPE(3), 14), y = {0};
    weft_attr tm = A_INT("training_mode", 1);
    weft_err err = {0};
    CHECK_INT(run_node("BatchNormalization", 15, (const weft_tensor *[]){&x, &s, &s, &s, &s}, 5, &tm, 1, &y, 1, &err),
              WEFT_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "training_mode") != NULL);
    weft_tensor_free(&x); weft_tensor_free(&s);
}

TEST(nn_layernorm_statistics_outputs) {
    float xv[6] = {1, 2, 3, 4, 6, 8};
    weft_tensor x = tensor_f(WEFT_SHAPE(2, 3), xv), sc = tensor_f(WEFT_SHAPE(3), (float[]){1, 1, 1}), y[3] = {{0}};
    weft_attr ep = A_FLOAT("epsilon", 0);
    weft_err err = {0};
    CHECK_OK(run_node("LayerNormalization", 17, (const weft_tensor *[]){&x, &sc}, 2, &ep, 1, y, 3, &err), &err);
    weft_shape ms = WEFT_SHAPE(2, 1);
    CHECK(weft_shape_eq(&y[1].shape, &ms));
    float mean[2] = {2, 6}, inv[2] = {(float)(1 / sqrt(2.0 / 3)), (float)(1 / sqrt(8.0 / 3))};
    CHECK_NEAR(max_diff(&y[1], mean), 0, 1e-6);
    CHECK_NEAR(max_diff(&y[2], inv), 0, 1e-5);
    if (y[0].data) CHECK_NEAR(((float *)y[0].data)[0], -sqrt(1.5), 1e-5);
    for (int j = 0; j < 3; j++) weft_tensor_free(&y[j]);
    weft_tensor_free(&x); weft_tensor_free(&sc);
}

/* ---- Einsum ---- */

TEST(nn_einsum_forms_match_naive) {
    weft_err err = {0};
    weft_tensor a = tensor_rand(WEFT_SHAPE(2, 3, 4), 15), b = tensor_rand(WEFT_SHAPE(2, 4, 5), 16), y = {0};
    const float *A = a.data, *B = b.data;
    /* batched matmul */
    weft_attr eq = A_STR("equation", "bij,bjk->bik");
    CHECK_OK(run_node("Einsum", 12, (const weft_tensor *[]){&a, &b}, 2, &eq, 1, &y, 1, &err), &err);
    double worst = 0;
    for (int n = 0; n < 2 && y.data; n++)
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 5; k++) {
                double s = 0;
                for (int j = 0; j < 4; j++) s += (double)A[(n * 3 + i) * 4 + j] * B[(n * 4 + j) * 5 + k];
                worst = fmax(worst, fabs(s - ((float *)y.data)[(n * 3 + i) * 5 + k]));
            }
    CHECK_NEAR(worst, 0, 1e-5);
    weft_tensor_free(&y);
    /* implicit output, ellipsis and a three-operand contraction with a label summed everywhere */
    weft_attr eq2 = A_STR("equation", "...ij,...jk");
    CHECK_OK(run_node("Einsum", 12, (const weft_tensor *[]){&a, &b}, 2, &eq2, 1, &y, 1, &err), &err);
    weft_shape s2 = WEFT_SHAPE(2, 3, 5);
    CHECK(weft_shape_eq(&y.shape, &s2));
    weft_tensor_free(&y);
    weft_tensor c = tensor_rand(WEFT_SHAPE(2, 5), 17);
    const float *Cc = c.data;
    weft_attr eq3 = A_STR("equation", "bij, bjk, bk -> i");
    CHECK_OK(run_node("Einsum", 12, (const weft_tensor *[]){&a, &b, &c}, 3, &eq3, 1, &y, 1, &err), &err);
    worst = 0;
    for (int i = 0; i < 3 && y.data; i++) {
        double s = 0;
        for (int n = 0; n < 2; n++)
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 5; k++) s += (double)A[(n * 3 + i) * 4 + j] * B[(n * 4 + j) * 5 + k] * Cc[n * 5 + k];
        worst = fmax(worst, fabs(s - ((float *)y.data)[i]));
    }
    CHECK_NEAR(worst, 0, 1e-5);
    weft_tensor_free(&y);
    /* diagonal and trace */
    float sq[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    weft_tensor m = tensor_f(WEFT_SHAPE(3, 3), sq);
    weft_attr eq4 = A_STR("equation", "ii->i"), eq5 = A_STR("equation", "ii"), eq6 = A_STR("equation", "ij->ji");
    CHECK_OK(run_node("Einsum", 12, (const weft_tensor *[]){&m}, 1, &eq4, 1, &y, 1, &err), &err);
    CHECK_NEAR(max_diff(&y, (float[]){1, 5, 9}), 0, 0);
    weft_tensor_free(&y);
    CHECK_OK(run_node("Einsum", 12, (const weft_tensor *[]){&m}, 1, &eq5, 1, &y, 1, &err), &err);
    CHECK_INT(y.shape.ndim, 0);
    CHECK_NEAR(max_diff(&y, (float[]){15}), 0, 0);
    weft_tensor_free(&y);
    CHECK_OK(run_node("Einsum", 12, (const weft_tensor *[]){&m}, 1, &eq6, 1, &y, 1, &err), &err);
    CHECK_NEAR(max_diff(&y, (float[]){1, 4, 7, 2, 5, 8, 3, 6, 9}), 0, 0);
    weft_tensor_free(&y);
    /* outer product */
    weft_tensor u = tensor_f(WEFT_SHAPE(2), (float[]){1, 2}), v = tensor_f(WEFT_SHAPE(3), (float[]){3, 4, 5});
    weft_attr eq7 = A_STR("equation", "i,j->ij");
    CHECK_OK(run_node("Einsum", 12, (const weft_tensor *[]){&u, &v}, 2, &eq7, 1, &y, 1, &err), &err);
    CHECK_NEAR(max_diff(&y, (float[]){3, 4, 5, 6, 8, 10}), 0, 0);
    weft_tensor_free(&y);
    /* a mismatched extent is a shape error naming the node */
    weft_attr eq8 = A_STR("equation", "ij,ij->i");
    CHECK_INT(run_node("Einsum", 12, (const weft_tensor *[]){&a, &b}, 2, &eq8, 1, &y, 1, &err), WEFT_ERR_SHAPE);
    CHECK(strstr(err.msg, "node 'n1' (Einsum)") != NULL);
    weft_tensor_free(&a); weft_tensor_free(&b); weft_tensor_free(&c); weft_tensor_free(&m);
    weft_tensor_free(&u); weft_tensor_free(&v);
}

/* ---- losses ---- */

TEST(nn_losses_hand_computed) {
    /* logp (2, 3), targets (2, -1 ignored... ) */
    float lp[6] = {-1, -2, -3, -0.5f, -1.5f, -2.5f}, wv[3] = {1, 2, 3};
    int64_t tv[2] = {2, 1};
    weft_tensor x = tensor_f(WEFT_SHAPE(2, 3), lp), t = tensor_i(WEFT_SHAPE(2), tv), w = tensor_f(WEFT_SHAPE(3), wv), y = {0};
    weft_err err = {0};
    /* mean with weights: (3 * 3 + 1.5 * 2) / (3 + 2) */
    CHECK_OK(run_node("NegativeLogLikelihoodLoss", 13, (const weft_tensor *[]){&x, &t, &w}, 3, NULL, 0, &y, 1, &err), &err);
    CHECK_INT(y.shape.ndim, 0);
    CHECK_NEAR(max_diff(&y, (float[]){12.0f / 5}), 0, 1e-6);
    weft_tensor_free(&y);
    /* ignore_index drops the second target; reduction none keeps (N) */
    weft_attr at[] = {A_INT("ignore_index", 1), A_STR("reduction", "none")};
    CHECK_OK(run_node("NegativeLogLikelihoodLoss", 13, (const weft_tensor *[]){&x, &t}, 2, at, 2, &y, 1, &err), &err);
    CHECK_NEAR(max_diff(&y, (float[]){3, 0}), 0, 0);
    weft_tensor_free(&y);
    /* a target outside the classes is an error, not a read out of bounds */
    int64_t badv[2] = {3, 0};
    weft_tensor tb = tensor_i(WEFT_SHAPE(2), badv);
    CHECK_INT(run_node("NegativeLogLikelihoodLoss", 13, (const weft_tensor *[]){&x, &tb}, 2, NULL, 0, &y, 1, &err),
              WEFT_ERR_INVALID);
    /* softmax cross-entropy of uniform scores is log(C), and log_prob comes back */
    weft_tensor z = tensor_f(WEFT_SHAPE(2, 3), (float[]){0, 0, 0, 5, 5, 5}), o[2] = {{0}};
    weft_attr red = A_STR("reduction", "sum");
    CHECK_OK(run_node("SoftmaxCrossEntropyLoss", 13, (const weft_tensor *[]){&z, &t}, 2, &red, 1, o, 2, &err), &err);
    CHECK_NEAR(max_diff(&o[0], (float[]){(float)(2 * log(3.0))}), 0, 1e-5);
    CHECK(weft_shape_eq(&o[1].shape, &z.shape));
    if (o[1].data) CHECK_NEAR(((float *)o[1].data)[4], -log(3.0), 1e-6);
    weft_tensor_free(&o[0]); weft_tensor_free(&o[1]);
    weft_tensor_free(&x); weft_tensor_free(&t); weft_tensor_free(&w); weft_tensor_free(&tb); weft_tensor_free(&z);
}

/* ---- kernels directly ---- */

TEST(nn_kernel_im2col_col2im_adjoint) {
    /* 3-D window with every attribute: <im2col(x), c> == <x, col2im(c)> */
    weft_window w = {.nsp = 3, .in = {4, 5, 3}, .k = {2, 3, 2}, .stride = {1, 2, 1}, .dil = {2, 1, 1},
                     .pad0 = {1, 1, 0}, .pad1 = {0, 1, 1}};
    for (int j = 0; j < 3; j++) w.out[j] = (w.in[j] + w.pad0[j] + w.pad1[j] - ((w.k[j] - 1) * w.dil[j] + 1)) / w.stride[j] + 1;
    int64_t C = 2, I = weft_window_in_numel(&w), K = weft_window_k_numel(&w), O = weft_window_out_numel(&w);
    weft_tensor x = tensor_rand(WEFT_SHAPE(C * I), 20), c = tensor_rand(WEFT_SHAPE(C * K * O), 21);
    float *col = calloc((size_t)(C * K * O), sizeof(float)), *xi = calloc((size_t)(C * I), sizeof(float));
    weft_im2col(&w, C, x.data, col);
    weft_col2im(&w, C, c.data, xi);
    double lhs = 0, rhs = 0;
    for (int64_t i = 0; i < C * K * O; i++) lhs += (double)col[i] * ((float *)c.data)[i];
    for (int64_t i = 0; i < C * I; i++) rhs += (double)xi[i] * ((float *)x.data)[i];
    CHECK_NEAR(lhs, rhs, 1e-4);
    free(col); free(xi);
    weft_tensor_free(&x); weft_tensor_free(&c);
}
