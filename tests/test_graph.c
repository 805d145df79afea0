/* Tests of the graph (ir), its verifier, constant folding, and the reference executor. */
#include "ir/ir.h"
#include "test.h"

#include <string.h>

/* y = relu(x * w + b), element-wise with broadcasting: (2, 3) * (3) + () */
TEST(graph_build_and_run_reference) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("tiny");
    int x = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(2, 3));
    float wv[3] = {1, -2, 0.5f}, bv = 0.25f;
    int w = weft_graph_param(g, "w", WEFT_F32, WEFT_SHAPE(3), wv);
    int b = weft_graph_param(g, "b", WEFT_F32, WEFT_SHAPE(), &bv);
    int h, s, y;
    CHECK_OK(weft_graph_node(g, "Mul", "scale", (int[]){x, w}, 2, NULL, 0, &h, 1, &err), &err);
    CHECK_OK(weft_graph_node(g, "Add", "shift", (int[]){h, b}, 2, NULL, 0, &s, 1, &err), &err);
    CHECK_OK(weft_graph_node(g, "Relu", "act", &s, 1, NULL, 0, &y, 1, &err), &err);
    weft_graph_output(g, y);
    CHECK_OK(weft_graph_verify(g, &err), &err);
    float xv[6] = {1, 1, 1, -1, -1, -1};
    weft_tensor in = {WEFT_F32, WEFT_SHAPE(2, 3), xv, 0}, out = {0};
    const weft_tensor *ins[] = {&in};
    CHECK_OK(weft_ref_run(g, ins, 1, &out, 1, &err), &err);
    float want[6] = {1.25f, 0, 0.75f, 0, 2.25f, 0};
    for (int i = 0; i < 6; i++) CHECK_NEAR(((float *)out.data)[i], want[i], 0);
    weft_graph_stats st = weft_graph_count(g);
    CHECK_INT(st.params, 4);
    CHECK_INT(st.nodes, 3);
    CHECK_INT(st.flops, 18);  /* three element-wise ops over 6 elements */
    weft_tensor_free(&out);
    weft_graph_free(g);
}

TEST(graph_folds_constant_arithmetic) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("fold");
    int64_t av[2] = {3, 4}, bv[2] = {10, 20};
    weft_tensor a = {WEFT_I64, WEFT_SHAPE(2), av, 0}, b = {WEFT_I64, WEFT_SHAPE(2), bv, 0};
    int ca = weft_graph_const(g, "a", &a), cb = weft_graph_const(g, "b", &b), s;
    CHECK_OK(weft_graph_node(g, "Mul", "m", (int[]){ca, cb}, 2, NULL, 0, &s, 1, &err), &err);
    CHECK_INT(g->n_nodes, 0);
    CHECK_INT(g->vals[s].kind, WEFT_VAL_CONST);
    CHECK_INT(((int64_t *)g->vals[s].data.data)[1], 80);
    weft_graph_free(g);
}

TEST(graph_errors_name_the_node) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("bad");
    int x = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(2, 3));
    int y = weft_graph_input(g, "y", WEFT_F32, WEFT_SHAPE(4, 5));
    int z = weft_graph_input(g, "z", WEFT_I64, WEFT_SHAPE(2, 3));
    int o;
    CHECK_INT(weft_graph_node(g, "Add", "sum", (int[]){x, y}, 2, NULL, 0, &o, 1, &err), WEFT_ERR_SHAPE);
    CHECK(strstr(err.msg, "node 'sum' (Add)") && strstr(err.msg, "broadcast"));
    CHECK_INT(weft_graph_node(g, "Add", "mixed", (int[]){x, z}, 2, NULL, 0, &o, 1, &err), WEFT_ERR_SHAPE);
    CHECK(strstr(err.msg, "node 'mixed' (Add)") && strstr(err.msg, "int64"));
    CHECK_INT(weft_graph_node(g, "NoSuchOp", "n", &x, 1, NULL, 0, &o, 1, &err), WEFT_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "unknown op 'NoSuchOp'"));
    weft_attr bogus = {.name = "bogus", .type = WEFT_ATTR_INT, .i = 1};
    CHECK_INT(weft_graph_node(g, "Relu", "r", &x, 1, &bogus, 1, &o, 1, &err), WEFT_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "node 'r' (Relu)") && strstr(err.msg, "attribute 'bogus'"));
    CHECK_INT(weft_graph_node(g, "Relu", "arity", (int[]){x, x}, 2, NULL, 0, &o, 1, &err), WEFT_ERR_INVALID);
    CHECK_INT(weft_graph_node(g, "Relu", "dangling", (int[]){99}, 1, NULL, 0, &o, 1, &err), WEFT_ERR_INVALID);
    CHECK(g->n_nodes == 0);
    weft_graph_free(g);
}

TEST(graph_verifier_catches_use_before_definition) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("order");
    int x = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(4));
    int a, b;
    CHECK_OK(weft_graph_node(g, "Relu", "first", &x, 1, NULL, 0, &a, 1, &err), &err);
    CHECK_OK(weft_graph_node(g, "Neg", "second", &a, 1, NULL, 0, &b, 1, &err), &err);
    weft_graph_output(g, b);
    CHECK_OK(weft_graph_verify(g, &err), &err);
    /* swap the nodes: 'second' now reads a value computed after it */
    weft_node t = g->nodes[0];
    g->nodes[0] = g->nodes[1];
    g->nodes[1] = t;
    g->vals[a].producer = 1;
    g->vals[b].producer = 0;
    CHECK_INT(weft_graph_verify(g, &err), WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, "node 'second' (Neg)") && strstr(err.msg, "before it is computed"));
    weft_graph_free(g);
}

/* fp16 and bf16 storage: arithmetic in fp32, the result rounded once to the storage type. */
TEST(ref_half_precision_storage_rounds_once) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("half");
    int x = weft_graph_input(g, "x", WEFT_BF16, WEFT_SHAPE(2));
    int y = weft_graph_input(g, "y", WEFT_BF16, WEFT_SHAPE(2));
    int s;
    CHECK_OK(weft_graph_node(g, "Add", "s", (int[]){x, y}, 2, NULL, 0, &s, 1, &err), &err);
    weft_graph_output(g, s);
    uint16_t xv[2] = {weft_f32_to_bf16(1.0f), weft_f32_to_bf16(256.0f)};
    uint16_t yv[2] = {weft_f32_to_bf16(0.00390625f), weft_f32_to_bf16(1.0f)};
    weft_tensor a = {WEFT_BF16, WEFT_SHAPE(2), xv, 0}, b = {WEFT_BF16, WEFT_SHAPE(2), yv, 0}, out = {0};
    const weft_tensor *ins[] = {&a, &b};
    CHECK_OK(weft_ref_run(g, ins, 2, &out, 1, &err), &err);
    CHECK_INT(out.dtype, WEFT_BF16);
    /* 1 + 2^-8 ties to 1; 256 + 1 = 257 is not representable in bf16 (8 bits): rounds to 256 */
    CHECK_NEAR(weft_bf16_to_f32(((uint16_t *)out.data)[0]), 1.0, 0);
    CHECK_NEAR(weft_bf16_to_f32(((uint16_t *)out.data)[1]), 256.0, 0);
    weft_tensor_free(&out);
    weft_graph_free(g);
}

TEST(ref_rejects_wrong_inputs) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("inputs");
    int x = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(3)), y;
    CHECK_OK(weft_graph_node(g, "Exp", "e", &x, 1, NULL, 0, &y, 1, &err), &err);
    weft_graph_output(g, y);
    float v[4] = {0};
    weft_tensor in = {WEFT_F32, WEFT_SHAPE(4), v, 0}, out = {0};
    const weft_tensor *ins[] = {&in};
    CHECK_INT(weft_ref_run(g, ins, 1, &out, 1, &err), WEFT_ERR_SHAPE);
    CHECK(strstr(err.msg, "input 'x'") && strstr(err.msg, "(3)") && strstr(err.msg, "(4)"));
    CHECK_INT(weft_ref_run(g, ins, 0, &out, 1, &err), WEFT_ERR_INVALID);
    weft_graph_free(g);
}

/* An Identity moves bytes and does no arithmetic: no FLOPs (inspect counted one per element). */
TEST(graph_identity_costs_no_flops) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("id");
    int x = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(4, 8)), y;
    CHECK_OK(weft_graph_node(g, "Identity", "copy", &x, 1, NULL, 0, &y, 1, &err), &err);
    weft_graph_output(g, y);
    weft_cost c = weft_node_cost(g, &g->nodes[0]);
    CHECK_INT(c.flops, 0);
    CHECK_INT(c.bytes, 2 * 4 * 8 * 4);
    weft_graph_free(g);
}
