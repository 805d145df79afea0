/* Tests of the shape and reduce op rows: folding of PyTorch's shape arithmetic into a static
 * Reshape, edge cases of Slice/Gather/TopK/Reduce checked on folded constants, errors that name
 * the node, size guards, attribute refusal and costs. */
#include "ir/ir.h"
#include "test.h"

#include <string.h>

static int c_i64(weft_graph *g, const char *name, weft_shape s, const int64_t *v) {
    weft_tensor t = {.dtype = WEFT_I64, .shape = s, .data = (void *)v};
    return weft_graph_const(g, name, &t);
}
static int c_f32(weft_graph *g, const char *name, weft_shape s, const float *v) {
    weft_tensor t = {.dtype = WEFT_F32, .shape = s, .data = (void *)v};
    return weft_graph_const(g, name, &t);
}
static const weft_value *val(const weft_graph *g, int id) { return &g->vals[id]; }
static bool shape_is(const weft_value *v, weft_shape s) { return weft_shape_eq(&v->shape, &s); }

/* x.view(w.size(0), -1) as PyTorch exports it: Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
 * The shape arithmetic folds away; one static Reshape node is left. */
TEST(shape_pytorch_view_chain_folds_to_static_reshape) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("view");
    int x = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(2, 3, 4));
    int w = weft_graph_param(g, "w", WEFT_F32, WEFT_SHAPE(2, 5), NULL);
    int zero = c_i64(g, "zero", WEFT_SHAPE(), (int64_t[]){0});
    int ax0 = c_i64(g, "axes0", WEFT_SHAPE(1), (int64_t[]){0});
    int minus1 = c_i64(g, "minus1", WEFT_SHAPE(1), (int64_t[]){-1});
    int s, d, u, cat, y;
    CHECK_OK(weft_graph_node(g, "Shape", "shape", &w, 1, NULL, 0, &s, 1, &err), &err);
    CHECK_OK(weft_graph_node(g, "Gather", "gather", (int[]){s, zero}, 2, &(weft_attr){.name = "axis", .type = WEFT_ATTR_INT},
                             1, &d, 1, &err), &err);
    CHECK_OK(weft_graph_node(g, "Unsqueeze", "unsq", (int[]){d, ax0}, 2, NULL, 0, &u, 1, &err), &err);
    CHECK_OK(weft_graph_node(g, "Concat", "cat", (int[]){u, minus1}, 2, &(weft_attr){.name = "axis", .type = WEFT_ATTR_INT},
                             1, &cat, 1, &err), &err);
    CHECK(val(g, cat)->kind == WEFT_VAL_CONST);
    CHECK_INT(weft_tensor_get_i(&val(g, cat)->data, 0), 2);
    CHECK_INT(weft_tensor_get_i(&val(g, cat)->data, 1), -1);
    CHECK_OK(weft_graph_node(g, "Reshape", "view", (int[]){x, cat}, 2, NULL, 0, &y, 1, &err), &err);
    weft_graph_output(g, y);
    CHECK_INT(g->n_nodes, 1);
    CHECK(!strcmp(g->nodes[0].op->name, "Reshape"));
    CHECK(shape_is(val(g, y), WEFT_SHAPE(2, 12)));
    CHECK_OK(weft_graph_verify(g, &err), &err);
    /* and it runs */
    float xs[24];
    for (int i = 0; i < 24; i++) xs[i] = (float)i;
    weft_tensor xt = {.dtype = WEFT_F32, .shape = WEFT_SHAPE(2, 3, 4), .data = xs}, out = {0};
    const weft_tensor *ins[] = {&xt};
    CHECK_OK(weft_ref_run(g, ins, 1, &out, 1, &err), &err);
    CHECK(weft_shape_eq(&out.shape, &val(g, y)->shape));
    CHECK_NEAR(((float *)out.data)[23], 23, 0);
    weft_tensor_free(&out);
    weft_graph_free(g);
}

TEST(shape_reshape_error_names_node) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("bad");
    int x = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(2, 3));
    int sh = c_i64(g, "sh", WEFT_SHAPE(2), (int64_t[]){4, 2});
    int y;
    CHECK_INT(weft_graph_node(g, "Reshape", "bad_view", (int[]){x, sh}, 2, NULL, 0, &y, 1, &err), WEFT_ERR_SHAPE);
    CHECK(strstr(err.msg, "node 'bad_view' (Reshape)") != NULL);
    CHECK(strstr(err.msg, "cannot reshape (2, 3) into (4, 2)") != NULL);
    /* two -1 */
    int sh2 = c_i64(g, "sh2", WEFT_SHAPE(2), (int64_t[]){-1, -1});
    CHECK_INT(weft_graph_node(g, "Reshape", "v2", (int[]){x, sh2}, 2, NULL, 0, &y, 1, &err), WEFT_ERR_SHAPE);
    CHECK(strstr(err.msg, "more than one -1") != NULL);
    /* a shape that is not known at compile time */
    int dyn = weft_graph_input(g, "dyn", WEFT_I64, WEFT_SHAPE(2));
    CHECK_INT(weft_graph_node(g, "Reshape", "v3", (int[]){x, dyn}, 2, NULL, 0, &y, 1, &err), WEFT_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "compile time") != NULL);
    weft_graph_free(g);
}

/* Slice with negative steps, out-of-range and INT64 extreme starts/ends: checked on folded data. */
TEST(shape_slice_edge_cases) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("slice");
    float xs[10];
    for (int i = 0; i < 10; i++) xs[i] = (float)i;
    int x = c_f32(g, "x", WEFT_SHAPE(10), xs);
    struct { int64_t start, end, step; int n; float first, last; } cases[] = {
        {-1, INT64_MIN, -1, 10, 9, 0},  /* reverse everything */
        {20, -20, -3, 4, 9, 0},         /* clamped, step -3: 9 6 3 0 */
        {-100, 100, 4, 3, 0, 8},        /* clamped: 0 4 8 */
        {5, 5, 1, 0, 0, 0},             /* empty */
        {INT64_MAX, 0, -INT64_MAX, 1, 9, 9},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        int st = c_i64(g, "st", WEFT_SHAPE(1), &cases[k].start), en = c_i64(g, "en", WEFT_SHAPE(1), &cases[k].end);
        int ax = c_i64(g, "ax", WEFT_SHAPE(1), (int64_t[]){0}), sp = c_i64(g, "sp", WEFT_SHAPE(1), &cases[k].step);
        int y;
        CHECK_OK(weft_graph_node(g, "Slice", "s", (int[]){x, st, en, ax, sp}, 5, NULL, 0, &y, 1, &err), &err);
        const weft_value *v = val(g, y);
        CHECK_INT(v->shape.d[0], cases[k].n);
        if (cases[k].n) {
            CHECK_NEAR(((float *)v->data.data)[0], cases[k].first, 0);
            CHECK_NEAR(((float *)v->data.data)[cases[k].n - 1], cases[k].last, 0);
        }
    }
    int st = c_i64(g, "st", WEFT_SHAPE(1), (int64_t[]){0}), sp0 = c_i64(g, "sp0", WEFT_SHAPE(1), (int64_t[]){0});
    int y;
    CHECK_INT(weft_graph_node(g, "Slice", "zero_step", (int[]){x, st, st, -1, sp0}, 5, NULL, 0, &y, 1, &err), WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, "zero_step") && strstr(err.msg, "step 0"));
    weft_graph_free(g);
}

TEST(shape_gather_index_out_of_range_is_an_error) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("gather");
    int x = c_f32(g, "x", WEFT_SHAPE(3, 2), (float[]){0, 1, 2, 3, 4, 5});
    int ok = c_i64(g, "ok", WEFT_SHAPE(2), (int64_t[]){-1, 0});
    int bad = c_i64(g, "bad", WEFT_SHAPE(2), (int64_t[]){0, 3});
    int y;
    CHECK_OK(weft_graph_node(g, "Gather", "g_ok", (int[]){x, ok}, 2, NULL, 0, &y, 1, &err), &err);
    CHECK(shape_is(val(g, y), WEFT_SHAPE(2, 2)));
    CHECK_NEAR(((float *)val(g, y)->data.data)[0], 4, 0);
    CHECK_NEAR(((float *)val(g, y)->data.data)[3], 1, 0);
    CHECK_INT(weft_graph_node(g, "Gather", "g_bad", (int[]){x, bad}, 2, NULL, 0, &y, 1, &err), WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, "g_bad") && strstr(err.msg, "index 3 out of range"));
    /* at run time too: indices fed as a graph input */
    int xi = weft_graph_input(g, "xi", WEFT_F32, WEFT_SHAPE(3, 2));
    int ii = weft_graph_input(g, "ii", WEFT_I64, WEFT_SHAPE(1));
    CHECK_OK(weft_graph_node(g, "Gather", "g_run", (int[]){xi, ii}, 2, NULL, 0, &y, 1, &err), &err);
    weft_graph_output(g, y);
    float xs[6] = {0};
    int64_t idx[1] = {-4};
    weft_tensor xt = {.dtype = WEFT_F32, .shape = WEFT_SHAPE(3, 2), .data = xs};
    weft_tensor it = {.dtype = WEFT_I64, .shape = WEFT_SHAPE(1), .data = idx}, out = {0};
    const weft_tensor *ins[] = {&xt, &it};
    CHECK_INT(weft_ref_run(g, ins, 2, &out, 1, &err), WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, "g_run") != NULL);
    weft_graph_free(g);
}

TEST(shape_absurd_sizes_refused_before_allocation) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("big");
    int x = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(1 << 20));
    int big = c_i64(g, "big", WEFT_SHAPE(2), (int64_t[]){1 << 30, 1 << 20});
    int reps = c_i64(g, "reps", WEFT_SHAPE(1), (int64_t[]){INT64_MAX / 2});
    int y;
    CHECK_INT(weft_graph_node(g, "ConstantOfShape", "cos", &big, 1, NULL, 0, &y, 1, &err), WEFT_ERR_NOMEM);
    CHECK(strstr(err.msg, "cos") != NULL);
    CHECK_INT(weft_graph_node(g, "Expand", "exp", (int[]){x, big}, 2, NULL, 0, &y, 1, &err), WEFT_ERR_NOMEM);
    CHECK_INT(weft_graph_node(g, "Tile", "tile", (int[]){x, reps}, 2, NULL, 0, &y, 1, &err), WEFT_ERR_NOMEM);
    int r0 = c_f32(g, "r0", WEFT_SHAPE(), (float[]){0}), r1 = c_f32(g, "r1", WEFT_SHAPE(), (float[]){1e30f});
    int r2 = c_f32(g, "r2", WEFT_SHAPE(), (float[]){1e-30f});
    CHECK_INT(weft_graph_node(g, "Range", "range", (int[]){r0, r1, r2}, 3, NULL, 0, &y, 1, &err), WEFT_ERR_NOMEM);
    weft_graph_free(g);
}

TEST(shape_topk_ties_in_index_order) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("topk");
    int x = c_f32(g, "x", WEFT_SHAPE(2, 4), (float[]){1, 3, 3, 2, 5, 5, 5, 5});
    int k = c_i64(g, "k", WEFT_SHAPE(1), (int64_t[]){3});
    int out[2];
    CHECK_OK(weft_graph_node(g, "TopK", "t", (int[]){x, k}, 2, NULL, 0, out, 2, &err), &err);
    const int64_t *ix = val(g, out[1])->data.data;
    const float *v = val(g, out[0])->data.data;
    int64_t want[] = {1, 2, 3, 0, 1, 2};
    for (int i = 0; i < 6; i++) CHECK_INT(ix[i], want[i]);
    CHECK_NEAR(v[2], 2, 0);
    weft_attr small = {.name = "largest", .type = WEFT_ATTR_INT, .i = 0};
    CHECK_OK(weft_graph_node(g, "TopK", "t2", (int[]){x, k}, 2, &small, 1, out, 2, &err), &err);
    ix = val(g, out[1])->data.data;
    int64_t want2[] = {0, 3, 1, 0, 1, 2};
    for (int i = 0; i < 6; i++) CHECK_INT(ix[i], want2[i]);
    int k9 = c_i64(g, "k9", WEFT_SHAPE(1), (int64_t[]){9});
    CHECK_INT(weft_graph_node(g, "TopK", "t3", (int[]){x, k9}, 2, NULL, 0, out, 2, &err), WEFT_ERR_INVALID);
    weft_graph_free(g);
}

TEST(shape_reduce_axes_forms) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("reduce");
    int x = c_f32(g, "x", WEFT_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    int ax = c_i64(g, "ax", WEFT_SHAPE(1), (int64_t[]){-1});
    int none = c_i64(g, "none", WEFT_SHAPE(0), (int64_t[]){0});
    weft_attr nokeep = {.name = "keepdims", .type = WEFT_ATTR_INT, .i = 0};
    int y;
    /* axes as an input (opset 13+ ReduceSum, 18+ others) */
    CHECK_OK(weft_graph_node(g, "ReduceSum", "rs", (int[]){x, ax}, 2, &nokeep, 1, &y, 1, &err), &err);
    CHECK(shape_is(val(g, y), WEFT_SHAPE(2)));
    CHECK_NEAR(((float *)val(g, y)->data.data)[1], 15, 0);
    /* axes as an attribute, keepdims */
    weft_attr axes = {.name = "axes", .type = WEFT_ATTR_INTS, .ints = (int64_t[]){0}, .n = 1};
    CHECK_OK(weft_graph_node(g, "ReduceMax", "rm", &x, 1, &axes, 1, &y, 1, &err), &err);
    CHECK(shape_is(val(g, y), WEFT_SHAPE(1, 3)));
    CHECK_NEAR(((float *)val(g, y)->data.data)[2], 6, 0);
    /* no axes: everything; empty axes with noop: nothing */
    CHECK_OK(weft_graph_node(g, "ReduceLogSumExp", "lse", &x, 1, NULL, 0, &y, 1, &err), &err);
    CHECK(shape_is(val(g, y), WEFT_SHAPE(1, 1)));
    CHECK_NEAR(((float *)val(g, y)->data.data)[0], 6.456193, 1e-5);
    weft_attr noop = {.name = "noop_with_empty_axes", .type = WEFT_ATTR_INT, .i = 1};
    CHECK_OK(weft_graph_node(g, "ReduceSumSquare", "ss", (int[]){x, none}, 2, &noop, 1, &y, 1, &err), &err);
    CHECK(shape_is(val(g, y), WEFT_SHAPE(2, 3)));
    CHECK_NEAR(((float *)val(g, y)->data.data)[5], 36, 0);
    /* repeated axis */
    weft_attr twice = {.name = "axes", .type = WEFT_ATTR_INTS, .ints = (int64_t[]){1, -1}, .n = 2};
    CHECK_INT(weft_graph_node(g, "ReduceMean", "rep", &x, 1, &twice, 1, &y, 1, &err), WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, "'rep' (ReduceMean)") && strstr(err.msg, "repeated"));
    weft_graph_free(g);
}

TEST(shape_unsupported_attributes_refused) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("attrs");
    int x = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(2, 3));
    int pads = c_i64(g, "pads", WEFT_SHAPE(4), (int64_t[]){0, 1, 0, 1});
    int y;
    weft_attr wrap = {.name = "mode", .type = WEFT_ATTR_STRING, .s = "wrap"};
    CHECK_INT(weft_graph_node(g, "Pad", "p", (int[]){x, pads}, 2, &wrap, 1, &y, 1, &err), WEFT_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "'wrap'") != NULL);
    weft_attr bogus = {.name = "bogus", .type = WEFT_ATTR_INT, .i = 1};
    CHECK_INT(weft_graph_node(g, "Transpose", "t", &x, 1, &bogus, 1, &y, 1, &err), WEFT_ERR_UNSUPPORTED);
    weft_attr red = {.name = "reduction", .type = WEFT_ATTR_STRING, .s = "mean"};
    int idx = c_i64(g, "idx", WEFT_SHAPE(1, 1), (int64_t[]){0});
    int upd = c_f32(g, "upd", WEFT_SHAPE(1, 1), (float[]){1});
    CHECK_INT(weft_graph_node(g, "ScatterElements", "se", (int[]){x, idx, upd}, 3, &red, 1, &y, 1, &err), WEFT_ERR_UNSUPPORTED);
    weft_graph_free(g);
}

TEST(shape_pad_modes_and_costs) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("pad");
    int x = c_f32(g, "x", WEFT_SHAPE(3), (float[]){1, 2, 3});
    int pads = c_i64(g, "pads", WEFT_SHAPE(2), (int64_t[]){2, 3});
    const char *modes[] = {"constant", "reflect", "edge"};
    float want[3][8] = {{0, 0, 1, 2, 3, 0, 0, 0}, {3, 2, 1, 2, 3, 2, 1, 2}, {1, 1, 1, 2, 3, 3, 3, 3}};
    for (int m = 0; m < 3; m++) {
        weft_attr a = {.name = "mode", .type = WEFT_ATTR_STRING, .s = modes[m]};
        int y;
        CHECK_OK(weft_graph_node(g, "Pad", "p", (int[]){x, pads}, 2, &a, 1, &y, 1, &err), &err);
        for (int i = 0; i < 8; i++) CHECK_NEAR(((float *)val(g, y)->data.data)[i], want[m][i], 0);
    }
    /* data movement costs no flops; views cost nothing */
    int xi = weft_graph_input(g, "xi", WEFT_F32, WEFT_SHAPE(4, 8));
    int t, r;
    CHECK_OK(weft_graph_node(g, "Transpose", "tr", &xi, 1, NULL, 0, &t, 1, &err), &err);
    int sh = c_i64(g, "sh", WEFT_SHAPE(1), (int64_t[]){-1});
    CHECK_OK(weft_graph_node(g, "Reshape", "rs", (int[]){t, sh}, 2, NULL, 0, &r, 1, &err), &err);
    weft_cost ct = weft_node_cost(g, &g->nodes[0]), cr = weft_node_cost(g, &g->nodes[1]);
    CHECK_INT(ct.flops, 0);
    CHECK_INT(ct.bytes, 2 * 32 * 4);
    CHECK_INT(cr.flops, 0);
    CHECK_INT(cr.bytes, 0);
    weft_graph_free(g);
}

/* Upsample-7 takes its scales as an attribute; nearest upsampling repeats (floor rule). */
TEST(shape_upsample_scales_attribute) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("up");
    g->opset = 7;
    int x = c_f32(g, "x", WEFT_SHAPE(1, 1, 2, 2), (float[]){1, 2, 3, 4});
    weft_attr a = {.name = "scales", .type = WEFT_ATTR_FLOATS, .floats = (float[]){1, 1, 2, 3}, .n = 4};
    int y;
    CHECK_OK(weft_graph_node(g, "Upsample", "up", &x, 1, &a, 1, &y, 1, &err), &err);
    CHECK(shape_is(val(g, y), WEFT_SHAPE(1, 1, 4, 6)));
    const float *v = val(g, y)->data.data;
    float want[6] = {1, 1, 1, 2, 2, 2};
    for (int i = 0; i < 6; i++) CHECK_NEAR(v[i], want[i], 0);
    CHECK_NEAR(v[23], 4, 0);
    weft_graph_free(g);
}
