/* Tests of grad: every backward rule against central finite differences, accumulation, the
 * losses (cross-entropy's ignore_index, MSE), errors, and an MLP end to end.
 *
 * The check: loss = sum_j sum(output_j * W_j) with fixed random W_j, so every output element
 * matters; analytic gradients from weft_grad_build + weft_ref_run (forward and backward in one
 * run); numeric ones by central differences in fp32, step h = 1e-2 max(1, |x|), the quotient
 * taken in double. Tolerance: |analytic - numeric| <= 2e-2 max(|analytic|, |numeric|) + 1e-3.
 * Inputs of ops with kinks (Relu, Abs, Max, pooling, ...) are drawn from a shuffled grid of
 * spacing 0.05 that avoids 0, so no step crosses a kink or reorders a window. */
#include "grad/grad.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#define FD_REL 2e-2
#define FD_ABS 1e-3

static double worst_abs_all, worst_rel_all;
static int64_t n_checked;
static const char *worst_label = "";

/* ---- the finite-difference check ---- */

/* Adds loss = sum_j sum(outs[j] * W_j) (W_j random constants, seed) for the floating outs. */
static int weighted_sum(weft_graph *g, const int *outs, int n_out, uint64_t seed, weft_err *err) {
    weft_rng r;
    weft_rng_seed(&r, seed, 7);
    int total = -1;
    for (int j = 0; j < n_out; j++) {
        const weft_value *v = &g->vals[outs[j]];
        if (!weft_dtype_is_float(v->dtype)) continue;
        weft_tensor w = {0};
        if (weft_tensor_alloc(&w, WEFT_F32, v->shape, err)) return -1;
        for (int64_t i = 0; i < weft_tensor_numel(&w); i++) ((float *)w.data)[i] = 2 * weft_rng_uniform(&r) - 1;
        int wc = weft_graph_const(g, "W", &w), m, s;
        weft_tensor_free(&w);
        weft_attr kd = {.name = "keepdims", .type = WEFT_ATTR_INT, .i = 0};
        if (weft_graph_node(g, "Mul", "loss/mul", (int[]){outs[j], wc}, 2, NULL, 0, &m, 1, err)) return -1;
        if (weft_graph_node(g, "ReduceSum", "loss/sum", &m, 1, &kd, 1, &s, 1, err)) return -1;
        if (total < 0) total = s;
        else if (weft_graph_node(g, "Add", "loss/add", (int[]){total, s}, 2, NULL, 0, &total, 1, err)) return -1;
    }
    return total;
}

/* Runs g (outputs: the loss, then anything else) and returns the loss. */
static double run_loss(weft_graph *g, const weft_tensor *const *inputs, int n_inputs, weft_tensor *outs, weft_err *err) {
    if (weft_ref_run(g, inputs, n_inputs, outs, g->n_outputs, err)) return NAN;
    double l = ((float *)outs[0].data)[0];
    for (int k = 0; k < g->n_outputs; k++) weft_tensor_free(&outs[k]);
    return l;
}

/* Builds the gradients of loss w.r.t. params (float32 parameters), then compares each element
 * with central differences. Reports failures under `label`. */
static void fd_check(weft_graph *g, int loss, const int *params, int np, const weft_tensor *const *inputs, int n_inputs,
                     const char *label) {
    weft_err err = {0};
    int grads[16];
    WEFT_ASSERT(np <= 16);
    weft_status s = weft_grad_build(g, loss, params, np, grads, &err);
    if (s) { weft_test_fail(__FILE__, __LINE__, "%s: weft_grad_build: %s", label, err.msg); return; }
    g->n_outputs = 0;
    weft_graph_output(g, loss);
    for (int i = 0; i < np; i++) weft_graph_output(g, grads[i]);
    weft_tensor outs[17] = {{0}};
    if (weft_ref_run(g, inputs, n_inputs, outs, 1 + np, &err)) {
        weft_test_fail(__FILE__, __LINE__, "%s: weft_ref_run: %s", label, err.msg);
        return;
    }
    weft_tensor scratch[17];
    int bad = 0;
    for (int i = 0; i < np && bad < 3; i++) {
        float *x = g->vals[params[i]].data.data;
        const float *an = outs[1 + i].data;
        CHECK_INT(outs[1 + i].dtype, WEFT_F32);
        int64_t n = weft_shape_numel(&g->vals[params[i]].shape);
        for (int64_t e = 0; e < n && bad < 3; e++) {
            float orig = x[e], h = 1e-2f * fmaxf(1.0f, fabsf(orig));
            float up = orig + h, dn = orig - h;
            x[e] = up;
            double lp = run_loss(g, inputs, n_inputs, scratch, &err);
            x[e] = dn;
            double lm = run_loss(g, inputs, n_inputs, scratch, &err);
            x[e] = orig;
            double fd = (lp - lm) / ((double)up - (double)dn), a = an[e], d = fabs(a - fd);
            double scale = fmax(fabs(a), fabs(fd));
            if (!(d <= FD_REL * scale + FD_ABS)) {
                weft_test_fail(__FILE__, __LINE__, "%s: d/d%s[%lld]: analytic %.6g, numeric %.6g", label,
                               g->vals[params[i]].name, (long long)e, a, fd);
                bad++;
            }
            n_checked++;
            if (d > worst_abs_all) worst_abs_all = d;
            if (scale > 1e-2 && d / scale > worst_rel_all) { worst_rel_all = d / scale; worst_label = label; }
        }
    }
    for (int k = 0; k < 1 + np; k++) weft_tensor_free(&outs[k]);
}

/* ---- the table ---- */

/* An input spec: "f:2x3" a float parameter (checked) uniform in [-1, 1]; "g:2x3" the same from the
 * kink-free grid; "p:2x3" positive, in [0.5, 1.5]; "k:2x3" a float constant (not checked);
 * "q:3" a positive float constant; "i:3:0,2,1" an int64 constant of shape (3) and those values; "b:2x3" a random bool constant;
 * "@0" the value of input 0 again; "-" omitted. An empty shape ("f:") is a scalar. */
typedef struct {
    const char *label, *op;
    int n_in;
    const char *in[6];
    int n_attrs;
    weft_attr attrs[5];
    int n_out;
    uint32_t skip; /* bit j: output j is left out of the loss */
} grad_case;

#define AI(nm, v) {.name = nm, .type = WEFT_ATTR_INT, .i = v}
#define AF(nm, v) {.name = nm, .type = WEFT_ATTR_FLOAT, .f = v}
#define AS(nm, v) {.name = nm, .type = WEFT_ATTR_STRING, .s = v}
#define AIS(nm, ...) {.name = nm, .type = WEFT_ATTR_INTS, .ints = (const int64_t[]){__VA_ARGS__}, \
                      .n = (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))}

static const grad_case cases[] = {
    /* element-wise unary */
    {"Identity", "Identity", 1, {"f:2x3"}, 0, {{0}}, 1, 0},
    {"Neg", "Neg", 1, {"f:2x3"}, 0, {{0}}, 1, 0},
    {"Abs", "Abs", 1, {"g:2x3"}, 0, {{0}}, 1, 0},
    {"Relu", "Relu", 1, {"g:3x4"}, 0, {{0}}, 1, 0},
    {"LeakyRelu", "LeakyRelu", 1, {"g:3x4"}, 1, {AF("alpha", 0.2f)}, 1, 0},
    {"LeakyRelu default", "LeakyRelu", 1, {"g:3x4"}, 0, {{0}}, 1, 0},
    {"Sqrt", "Sqrt", 1, {"p:2x3"}, 0, {{0}}, 1, 0},
    {"Reciprocal", "Reciprocal", 1, {"p:2x3"}, 0, {{0}}, 1, 0},
    {"Exp", "Exp", 1, {"f:2x3"}, 0, {{0}}, 1, 0},
    {"Log", "Log", 1, {"p:2x3"}, 0, {{0}}, 1, 0},
    {"Tanh", "Tanh", 1, {"f:2x3"}, 0, {{0}}, 1, 0},
    {"Sigmoid", "Sigmoid", 1, {"f:2x3"}, 0, {{0}}, 1, 0},
    {"Softplus", "Softplus", 1, {"f:2x3"}, 0, {{0}}, 1, 0},
    {"Sin", "Sin", 1, {"f:2x3"}, 0, {{0}}, 1, 0},
    {"Cos", "Cos", 1, {"f:2x3"}, 0, {{0}}, 1, 0},
    {"Erf", "Erf", 1, {"f:2x3"}, 0, {{0}}, 1, 0},
    {"Gelu erf", "Gelu", 1, {"f:2x4"}, 0, {{0}}, 1, 0},
    {"Gelu tanh", "Gelu", 1, {"f:2x4"}, 1, {AS("approximate", "tanh")}, 1, 0},
    {"Dropout (inference)", "Dropout", 1, {"f:2x3"}, 0, {{0}}, 1, 0},
    {"Dropout with mask", "Dropout", 1, {"f:2x3"}, 0, {{0}}, 2, 0},
    {"Cast f32->f64->f32", "Cast", 1, {"f:2x3"}, 1, {AI("to", 11)}, 1, 0},
    {"Clip attrs", "Clip", 1, {"g:3x4"}, 2, {AF("min", -0.5f), AF("max", 0.5f)}, 1, 0},
    /* binary, with broadcasting */
    {"Add", "Add", 2, {"f:2x3", "f:2x3"}, 0, {{0}}, 1, 0},
    {"Add broadcast (2,3)+(3)", "Add", 2, {"f:2x3", "f:3"}, 0, {{0}}, 1, 0},
    {"Add broadcast (2,1,3)+(4,1)", "Add", 2, {"f:2x1x3", "f:4x1"}, 0, {{0}}, 1, 0},
    {"Sub broadcast scalar", "Sub", 2, {"f:2x3", "f:"}, 0, {{0}}, 1, 0},
    {"Mul broadcast", "Mul", 2, {"f:2x1x3", "f:4x1"}, 0, {{0}}, 1, 0},
    {"Mul x*x (accumulation)", "Mul", 2, {"f:2x3", "@0"}, 0, {{0}}, 1, 0},
    {"Div broadcast", "Div", 2, {"f:2x3", "p:3"}, 0, {{0}}, 1, 0},
    {"Pow float exponent const", "Pow", 2, {"p:2x3", "k:"}, 0, {{0}}, 1, 0},
    {"Pow exponent param", "Pow", 2, {"p:2x3", "f:3"}, 0, {{0}}, 1, 0},
    {"Pow int exponent", "Pow", 2, {"f:2x3", "i::3"}, 0, {{0}}, 1, 0},
    {"PRelu", "PRelu", 2, {"g:2x3", "f:3"}, 0, {{0}}, 1, 0},
    /* variadic and selection */
    {"Sum", "Sum", 3, {"f:2x3", "f:3", "f:2x1"}, 0, {{0}}, 1, 0},
    {"Mean", "Mean", 2, {"f:2x3", "f:3"}, 0, {{0}}, 1, 0},
    {"Max", "Max", 3, {"g:2x3", "g:3", "g:2x3"}, 0, {{0}}, 1, 0},
    {"Min", "Min", 2, {"g:2x3", "g:2x1"}, 0, {{0}}, 1, 0},
    {"Where broadcast", "Where", 3, {"b:2x3", "f:2x3", "f:3"}, 0, {{0}}, 1, 0},
    /* matrix products */
    {"MatMul 2-D", "MatMul", 2, {"f:2x3", "f:3x4"}, 0, {{0}}, 1, 0},
    {"MatMul batched broadcast", "MatMul", 2, {"f:2x1x2x3", "f:3x3x4"}, 0, {{0}}, 1, 0},
    {"MatMul vector-matrix", "MatMul", 2, {"f:3", "f:2x3x4"}, 0, {{0}}, 1, 0},
    {"MatMul matrix-vector", "MatMul", 2, {"f:2x3", "f:3"}, 0, {{0}}, 1, 0},
    {"Gemm", "Gemm", 3, {"f:2x3", "f:3x4", "f:4"}, 0, {{0}}, 1, 0},
    {"Gemm transA transB alpha beta", "Gemm", 3, {"f:3x2", "f:4x3", "f:2x1"}, 4,
     {AI("transA", 1), AI("transB", 1), AF("alpha", 0.5f), AF("beta", 2.0f)}, 1, 0},
    {"Gemm transB no C", "Gemm", 2, {"f:2x3", "f:4x3"}, 1, {AI("transB", 1)}, 1, 0},
    /* convolution and pooling */
    {"Conv 2-D pads strides", "Conv", 3, {"f:2x2x5x5", "f:3x2x3x3", "f:3"}, 2, {AIS("pads", 1, 0, 1, 1), AIS("strides", 2, 1)}, 1, 0},
    {"Conv 1-D dilations", "Conv", 2, {"f:1x2x7", "f:2x2x3"}, 1, {AIS("dilations", 2)}, 1, 0},
    {"Conv groups", "Conv", 3, {"f:1x4x4x4", "f:6x2x2x2", "f:6"}, 2, {AI("group", 2), AIS("pads", 1, 1, 0, 0)}, 1, 0},
    {"Conv 1x1", "Conv", 2, {"f:2x3x2x2", "f:2x3x1x1"}, 0, {{0}}, 1, 0},
    {"ConvTranspose 2-D stride 2 (UNet's)", "ConvTranspose", 3, {"f:2x3x3x3", "f:3x2x2x2", "f:2"}, 1, {AIS("strides", 2, 2)}, 1, 0},
    {"ConvTranspose pads output_padding", "ConvTranspose", 2, {"f:1x2x4x3", "f:2x3x3x3"}, 3,
     {AIS("strides", 2, 2), AIS("pads", 1, 0, 1, 1), AIS("output_padding", 1, 0)}, 1, 0},
    {"ConvTranspose groups, 1-D dilations", "ConvTranspose", 3, {"f:1x4x5", "f:4x1x3", "f:2"}, 2, {AI("group", 2), AIS("dilations", 2)}, 1, 0},
    {"MaxPool", "MaxPool", 1, {"g:1x2x4x5"}, 3, {AIS("kernel_shape", 2, 2), AIS("strides", 2, 1), AIS("pads", 0, 1, 0, 1)}, 1, 0},
    {"AveragePool", "AveragePool", 1, {"f:1x2x4x5"}, 3, {AIS("kernel_shape", 3, 2), AIS("pads", 1, 1, 1, 0), AIS("strides", 1, 2)}, 1, 0},
    {"AveragePool count_include_pad", "AveragePool", 1, {"f:1x1x4x4"}, 3,
     {AIS("kernel_shape", 3, 3), AIS("pads", 1, 1, 1, 1), AI("count_include_pad", 1)}, 1, 0},
    {"GlobalAveragePool", "GlobalAveragePool", 1, {"f:2x3x2x3"}, 0, {{0}}, 1, 0},
    /* normalization and softmax */
    {"BatchNormalization", "BatchNormalization", 5, {"f:2x3x2x2", "f:3", "f:3", "k:3", "q:3"}, 1, {AF("epsilon", 1e-3f)}, 1, 0},
    {"LayerNormalization", "LayerNormalization", 3, {"f:3x4", "f:4", "f:4"}, 0, {{0}}, 1, 0},
    {"LayerNormalization axis 1 broadcast scale", "LayerNormalization", 3, {"f:2x3x4", "f:4", "f:3x1"}, 1, {AI("axis", 1)}, 1, 0},
    {"Softmax", "Softmax", 1, {"f:2x5"}, 0, {{0}}, 1, 0},
    {"Softmax axis 0", "Softmax", 1, {"f:3x2x2"}, 1, {AI("axis", 0)}, 1, 0},
    {"LogSoftmax", "LogSoftmax", 1, {"f:2x5"}, 0, {{0}}, 1, 0},
    {"SoftmaxCrossEntropyLoss mean", "SoftmaxCrossEntropyLoss", 2, {"f:4x3", "i:4:0,2,1,2"}, 0, {{0}}, 1, 0},
    {"SoftmaxCrossEntropyLoss ignore_index", "SoftmaxCrossEntropyLoss", 2, {"f:4x3", "i:4:0,-1,1,-1"}, 1,
     {AI("ignore_index", -1)}, 1, 0},
    {"SoftmaxCrossEntropyLoss sum + log_prob", "SoftmaxCrossEntropyLoss", 2, {"f:3x4", "i:3:3,0,1"}, 1,
     {AS("reduction", "sum")}, 2, 0},
    {"SoftmaxCrossEntropyLoss none (N,C,D) weights", "SoftmaxCrossEntropyLoss", 3, {"f:2x3x2", "i:2x2:0,2,1,1", "k:3"}, 1,
     {AS("reduction", "none")}, 1, 0},
    {"NegativeLogLikelihoodLoss ignore_index", "NegativeLogLikelihoodLoss", 2, {"f:4x3", "i:4:2,1,0,1"}, 1,
     {AI("ignore_index", 1)}, 1, 0},
    {"NegativeLogLikelihoodLoss weighted mean", "NegativeLogLikelihoodLoss", 3, {"f:3x4", "i:3:3,0,3", "q:4"}, 0, {{0}}, 1, 0},
    /* reductions */
    {"ReduceSum axes", "ReduceSum", 2, {"f:2x3x4", "i:2:0,2"}, 0, {{0}}, 1, 0},
    {"ReduceSum all, no keepdims", "ReduceSum", 1, {"f:2x3"}, 1, {AI("keepdims", 0)}, 1, 0},
    {"ReduceMean", "ReduceMean", 2, {"f:2x3x4", "i:1:-1"}, 1, {AI("keepdims", 0)}, 1, 0},
    {"ReduceSumSquare", "ReduceSumSquare", 2, {"f:2x3", "i:1:1"}, 0, {{0}}, 1, 0},
    {"ReduceMax", "ReduceMax", 2, {"g:3x4", "i:1:1"}, 1, {AI("keepdims", 0)}, 1, 0},
    {"ReduceMin", "ReduceMin", 2, {"g:3x4", "i:1:0"}, 0, {{0}}, 1, 0},
    {"ReduceL1", "ReduceL1", 2, {"g:3x4", "i:1:1"}, 0, {{0}}, 1, 0},
    {"ReduceLogSum", "ReduceLogSum", 2, {"p:3x4", "i:1:0"}, 0, {{0}}, 1, 0},
    {"ReduceL2", "ReduceL2", 2, {"f:3x4", "i:1:1"}, 0, {{0}}, 1, 0},
    {"ReduceLogSumExp", "ReduceLogSumExp", 2, {"f:3x4", "i:1:1"}, 0, {{0}}, 1, 0},
    /* shape ops */
    {"Reshape", "Reshape", 2, {"f:2x3x2", "i:2:3,-1"}, 0, {{0}}, 1, 0},
    {"Flatten", "Flatten", 1, {"f:2x3x2"}, 1, {AI("axis", 2)}, 1, 0},
    {"Squeeze", "Squeeze", 2, {"f:2x1x3", "i:1:1"}, 0, {{0}}, 1, 0},
    {"Unsqueeze", "Unsqueeze", 2, {"f:2x3", "i:2:0,3"}, 0, {{0}}, 1, 0},
    {"Transpose", "Transpose", 1, {"f:2x3x4"}, 1, {AIS("perm", 1, 2, 0)}, 1, 0},
    {"Concat", "Concat", 3, {"f:2x1x3", "f:2x2x3", "f:2x3x3"}, 1, {AI("axis", 1)}, 1, 0},
    {"Split", "Split", 2, {"f:5x2", "i:2:2,3"}, 1, {AI("axis", 0)}, 2, 0},
    {"Split one output unused", "Split", 1, {"f:2x6"}, 1, {AI("axis", -1)}, 3, 2},
    {"Slice steps", "Slice", 5, {"f:4x5", "i:2:1,-1", "i:2:4,0", "i:2:0,1", "i:2:2,-2"}, 0, {{0}}, 1, 0},
    {"Slice no axes", "Slice", 3, {"f:3x4", "i:2:0,1", "i:2:2,3"}, 0, {{0}}, 1, 0},
    {"Gather (embedding, repeated ids)", "Gather", 2, {"f:5x3", "i:2x2:1,4,1,0"}, 0, {{0}}, 1, 0},
    {"Gather axis 1", "Gather", 2, {"f:2x4x2", "i:3:3,-1,0"}, 1, {AI("axis", 1)}, 1, 0},
    {"Expand", "Expand", 2, {"f:3x1", "i:3:2,3,4"}, 0, {{0}}, 1, 0},
    {"Tile", "Tile", 2, {"f:2x3", "i:2:2,2"}, 0, {{0}}, 1, 0},
    {"Pad constant", "Pad", 2, {"f:2x3", "i:4:1,0,2,1"}, 0, {{0}}, 1, 0},
    {"Pad cropping", "Pad", 2, {"f:3x4", "i:4:-1,2,0,-1"}, 0, {{0}}, 1, 0},
    {"Trilu upper k", "Trilu", 2, {"f:2x3x4", "i::1"}, 0, {{0}}, 1, 0},
    {"Trilu lower", "Trilu", 1, {"f:4x3"}, 1, {AI("upper", 0)}, 1, 0},
};

static weft_shape parse_shape(const char **p) {
    weft_shape s = {0};
    while (**p && **p != ':') {
        s.d[s.ndim++] = strtoll(*p, (char **)p, 10);
        if (**p == 'x') (*p)++;
    }
    if (**p == ':') (*p)++;
    return s;
}

/* Builds case k; writes the checked parameters into params. Returns the loss value (-1 on error). */
static int build_case(const grad_case *gc, uint64_t seed, weft_graph *g, int *params, int *np, weft_err *err) {
    weft_rng r;
    weft_rng_seed(&r, seed, 1);
    int in[6];
    *np = 0;
    /* the grid for "g:" inputs: all such elements of the case, shuffled */
    int64_t grid_n = 0;
    for (int i = 0; i < gc->n_in; i++)
        if (gc->in[i][0] == 'g') {
            const char *p = gc->in[i] + 2;
            weft_shape s = parse_shape(&p);
            grid_n += weft_shape_numel(&s);
        }
    grid_n += grid_n & 1;
    float *grid = malloc((size_t)(grid_n ? grid_n : 1) * sizeof *grid);
    for (int64_t i = 0; i < grid_n; i++) grid[i] = (float)((double)i + 0.5) * 0.05f - (float)grid_n * 0.025f;
    for (int64_t i = grid_n - 1; i > 0; i--) {
        int64_t j = weft_rng_u32(&r) % (uint32_t)(i + 1);
        float t = grid[i]; grid[i] = grid[j]; grid[j] = t;
    }
    int64_t grid_at = 0;
    for (int i = 0; i < gc->n_in; i++) {
        const char *spec = gc->in[i];
        char name[16];
        snprintf(name, sizeof name, "x%d", i);
        if (!strcmp(spec, "-")) { in[i] = -1; continue; }
        if (spec[0] == '@') { in[i] = in[atoi(spec + 1)]; continue; }
        const char *p = spec + 2;
        weft_shape s = parse_shape(&p);
        weft_tensor t = {0};
        char kind = spec[0];
        weft_dtype dt = kind == 'i' ? WEFT_I64 : kind == 'b' ? WEFT_BOOL : WEFT_F32;
        if (weft_tensor_alloc(&t, dt, s, err)) { free(grid); return -1; }
        int64_t n = weft_tensor_numel(&t);
        for (int64_t e = 0; e < n; e++) {
            if (kind == 'i') { ((int64_t *)t.data)[e] = strtoll(p, (char **)&p, 10); if (*p == ',') p++; }
            else if (kind == 'b') ((uint8_t *)t.data)[e] = weft_rng_u32(&r) & 1;
            else if (kind == 'g') ((float *)t.data)[e] = grid[grid_at++];
            else if (kind == 'p' || kind == 'q') ((float *)t.data)[e] = 0.5f + weft_rng_uniform(&r);
            else ((float *)t.data)[e] = 2 * weft_rng_uniform(&r) - 1;
        }
        if (kind == 'f' || kind == 'g' || kind == 'p') {
            in[i] = weft_graph_param(g, name, WEFT_F32, s, t.data);
            params[(*np)++] = in[i];
        } else {
            in[i] = weft_graph_const(g, name, &t);
        }
        weft_tensor_free(&t);
    }
    free(grid);
    int out[4];
    if (weft_graph_node(g, gc->op, "op", in, gc->n_in, gc->attrs, gc->n_attrs, out, gc->n_out, err)) return -1;
    /* Cast's case goes to fp64 storage and back, so the gradient returns to fp32 */
    if (!strcmp(gc->op, "Cast")) {
        weft_attr to = {.name = "to", .type = WEFT_ATTR_INT, .i = 1};
        if (weft_graph_node(g, "Cast", "back", out, 1, &to, 1, out, 1, err)) return -1;
    }
    int used[4], n_used = 0;
    for (int j = 0; j < gc->n_out; j++)
        if (!(gc->skip >> j & 1)) used[n_used++] = out[j];
    return weighted_sum(g, used, n_used, seed + 1, err);
}

TEST(grad_every_rule_matches_finite_differences) {
    int n_cases = (int)(sizeof cases / sizeof *cases);
    for (int k = 0; k < n_cases; k++) {
        weft_err err = {0};
        weft_graph *g = weft_graph_new(cases[k].label);
        int params[8], np, loss = build_case(&cases[k], 1000 + (uint64_t)k, g, params, &np, &err);
        if (loss < 0) weft_test_fail(__FILE__, __LINE__, "%s: building: %s", cases[k].label, err.msg);
        else fd_check(g, loss, params, np, NULL, 0, cases[k].label);
        weft_graph_free(g);
    }
    printf("    %d cases, %lld elements so far; worst |analytic - numeric| %.3g, worst relative %.3g (%s); "
           "tolerance %g relative + %g\n", n_cases, (long long)n_checked, worst_abs_all, worst_rel_all, worst_label, FD_REL,
           FD_ABS);
}

/* Every op with a backward rule has a case in the table (internal weft.* ops excepted). */
static void count_rule(const weft_op_def *op, void *ud) {
    if (!op->backward) return;
    bool found = false;
    for (size_t k = 0; k < sizeof cases / sizeof *cases && !found; k++) found = !strcmp(cases[k].op, op->name);
    if (!found) {
        weft_test_fail(__FILE__, __LINE__, "op %s has a backward rule but no finite-difference case", op->name);
        ++*(int *)ud;
    }
}
TEST(grad_every_rule_has_a_case) {
    int missing = 0;
    weft_op_each(count_rule, &missing);
    CHECK_INT(missing, 0);
}

/* ---- the driver ---- */

/* y = tanh(x) * x + x: x feeds three uses; its gradient is their sum. */
TEST(grad_accumulates_over_uses) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("uses");
    float xv[4] = {0.3f, -0.7f, 1.1f, 0.05f};
    int x = weft_graph_param(g, "x", WEFT_F32, WEFT_SHAPE(4), xv), t, m, y;
    CHECK_OK(weft_graph_node(g, "Tanh", "t", &x, 1, NULL, 0, &t, 1, &err), &err);
    CHECK_OK(weft_graph_node(g, "Mul", "m", (int[]){t, x}, 2, NULL, 0, &m, 1, &err), &err);
    CHECK_OK(weft_graph_node(g, "Add", "y", (int[]){m, x}, 2, NULL, 0, &y, 1, &err), &err);
    int loss = weighted_sum(g, &y, 1, 5, &err);
    fd_check(g, loss, &x, 1, NULL, 0, "tanh(x) x + x");
    weft_graph_free(g);
}

TEST(grad_of_unused_value_is_zero_and_integers_get_none) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("unused");
    float av[2] = {1, 2};
    int a = weft_graph_param(g, "a", WEFT_F32, WEFT_SHAPE(2), av);
    int u = weft_graph_param(g, "unused", WEFT_F32, WEFT_SHAPE(3), NULL);
    int s, grads[2];
    weft_attr kd = {.name = "keepdims", .type = WEFT_ATTR_INT, .i = 0};
    CHECK_OK(weft_graph_node(g, "ReduceSum", "s", &a, 1, &kd, 1, &s, 1, &err), &err);
    CHECK_OK(weft_grad_build(g, s, (int[]){a, u}, 2, grads, &err), &err);
    weft_graph_output(g, grads[0]);
    weft_graph_output(g, grads[1]);
    weft_tensor outs[2] = {{0}};
    CHECK_OK(weft_ref_run(g, NULL, 0, outs, 2, &err), &err);
    CHECK_NEAR(((float *)outs[0].data)[1], 1.0, 0);
    CHECK_INT(outs[1].shape.d[0], 3);
    CHECK_NEAR(((float *)outs[1].data)[2], 0.0, 0);
    weft_tensor_free(&outs[0]);
    weft_tensor_free(&outs[1]);
    weft_graph_free(g);
}

TEST(grad_errors_name_the_node) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("norule");
    int x = weft_graph_param(g, "x", WEFT_F32, WEFT_SHAPE(3), NULL), a, s, grad;
    weft_attr kd = {.name = "keepdims", .type = WEFT_ATTR_INT, .i = 0};
    CHECK_OK(weft_graph_node(g, "Atan", "at", &x, 1, NULL, 0, &a, 1, &err), &err);
    CHECK_OK(weft_graph_node(g, "ReduceSum", "s", &a, 1, &kd, 1, &s, 1, &err), &err);
    CHECK_INT(weft_grad_build(g, s, &x, 1, &grad, &err), WEFT_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "node 'at' (Atan)") && strstr(err.msg, "no backward rule"));
    /* the loss must be one floating element */
    CHECK_INT(weft_grad_build(g, a, &x, 1, &grad, &err), WEFT_ERR_SHAPE);
    CHECK(strstr(err.msg, "loss"));
    /* a node off the path needs no rule: Atan of another value does not matter */
    int y = weft_graph_param(g, "y", WEFT_F32, WEFT_SHAPE(3), NULL), sy;
    CHECK_OK(weft_graph_node(g, "ReduceSum", "sy", &y, 1, &kd, 1, &sy, 1, &err), &err);
    CHECK_OK(weft_grad_build(g, sy, &y, 1, &grad, &err), &err);
    weft_graph_free(g);
}

/* A graph at an old opset: Softmax coerces to 2-D at its axis (before 13), Gemm needs C (before
 * 11); the backward nodes follow their own rules and the gradients still match. */
TEST(grad_old_opset_graph) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("opset9");
    g->opset = 9;
    weft_rng r;
    weft_rng_seed(&r, 11, 0);
    float av[6], bv[12], cv[4], xv[12];
    for (int i = 0; i < 6; i++) av[i] = 2 * weft_rng_uniform(&r) - 1;
    for (int i = 0; i < 12; i++) bv[i] = 2 * weft_rng_uniform(&r) - 1;
    for (int i = 0; i < 4; i++) cv[i] = 2 * weft_rng_uniform(&r) - 1;
    for (int i = 0; i < 12; i++) xv[i] = 2 * weft_rng_uniform(&r) - 1;
    int A = weft_graph_param(g, "A", WEFT_F32, WEFT_SHAPE(2, 3), av), B = weft_graph_param(g, "B", WEFT_F32, WEFT_SHAPE(3, 4), bv);
    int C = weft_graph_param(g, "C", WEFT_F32, WEFT_SHAPE(4), cv), X = weft_graph_param(g, "X", WEFT_F32, WEFT_SHAPE(2, 3, 2), xv);
    int y, sm, outs[2];
    CHECK_OK(weft_graph_node(g, "Gemm", "gemm", (int[]){A, B, C}, 3, NULL, 0, &y, 1, &err), &err);
    CHECK_OK(weft_graph_node(g, "Softmax", "softmax", &X, 1, NULL, 0, &sm, 1, &err), &err);
    outs[0] = y;
    outs[1] = sm;
    int loss = weighted_sum(g, outs, 2, 12, &err);
    fd_check(g, loss, (int[]){A, B, C, X}, 4, NULL, 0, "opset 9 Gemm and Softmax");
    weft_graph_free(g);
}

/* ---- losses ---- */

/* Cross-entropy on (2, 3, V) logits with ignored targets: the mean is over the 4 counted ones,
 * and ignored positions get exactly zero gradient. */
TEST(grad_cross_entropy_ignore_index) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("ce");
    weft_rng r;
    weft_rng_seed(&r, 42, 0);
    float lv[2 * 3 * 5];
    for (int i = 0; i < 30; i++) lv[i] = 2 * weft_rng_uniform(&r) - 1;
    int64_t tv[6] = {1, -100, 4, 0, -100, 2};
    weft_tensor tt = {WEFT_I64, WEFT_SHAPE(2, 3), tv, 0};
    int logits = weft_graph_param(g, "logits", WEFT_F32, WEFT_SHAPE(2, 3, 5), lv);
    int targets = weft_graph_const(g, "targets", &tt), loss, grad;
    CHECK_OK(weft_grad_cross_entropy(g, logits, targets, -100, &loss, &err), &err);
    /* the loss itself: mean over counted targets of -log softmax */
    weft_graph_output(g, loss);
    weft_tensor out = {0};
    CHECK_OK(weft_ref_run(g, NULL, 0, &out, 1, &err), &err);
    double want = 0;
    for (int p = 0; p < 6; p++) {
        if (tv[p] == -100) continue;
        double mx = -1e30, s = 0;
        for (int v = 0; v < 5; v++) mx = fmax(mx, lv[p * 5 + v]);
        for (int v = 0; v < 5; v++) s += exp(lv[p * 5 + v] - mx);
        want += -(lv[p * 5 + tv[p]] - mx - log(s));
    }
    CHECK_NEAR(((float *)out.data)[0], want / 4, 1e-5);
    weft_tensor_free(&out);
    g->n_outputs = 0;
    CHECK_OK(weft_grad_build(g, loss, &logits, 1, &grad, &err), &err);
    weft_graph_output(g, grad);
    CHECK_OK(weft_ref_run(g, NULL, 0, &out, 1, &err), &err);
    for (int v = 0; v < 5; v++) {
        CHECK_NEAR(((float *)out.data)[1 * 5 + v], 0.0, 0);
        CHECK_NEAR(((float *)out.data)[4 * 5 + v], 0.0, 0);
    }
    weft_tensor_free(&out);
    g->n_outputs = 0;
    fd_check(g, loss, &logits, 1, NULL, 0, "cross-entropy ignore_index");
    weft_graph_free(g);
}

TEST(grad_mse) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("mse");
    float pv[6] = {0.1f, -0.4f, 0.9f, 0.3f, -1.0f, 0.5f}, tv[6] = {0, 0.5f, 1, -0.2f, -0.5f, 0.25f};
    weft_tensor tt = {WEFT_F32, WEFT_SHAPE(2, 3), tv, 0};
    int pred = weft_graph_param(g, "pred", WEFT_F32, WEFT_SHAPE(2, 3), pv), target = weft_graph_const(g, "t", &tt), loss;
    CHECK_OK(weft_grad_mse(g, pred, target, &loss, &err), &err);
    weft_graph_output(g, loss);
    weft_tensor out = {0};
    CHECK_OK(weft_ref_run(g, NULL, 0, &out, 1, &err), &err);
    double want = 0;
    for (int i = 0; i < 6; i++) want += (pv[i] - tv[i]) * (pv[i] - tv[i]) / 6;
    CHECK_NEAR(((float *)out.data)[0], want, 1e-6);
    weft_tensor_free(&out);
    g->n_outputs = 0;
    fd_check(g, loss, &pred, 1, NULL, 0, "mse");
    int bad;
    weft_tensor t2 = {WEFT_F32, WEFT_SHAPE(3), tv, 0};
    CHECK_INT(weft_grad_mse(g, pred, weft_graph_const(g, "t2", &t2), &bad, &err), WEFT_ERR_SHAPE);
    weft_graph_free(g);
}

/* ---- end to end ---- */

/* x (4, 5) -> Gemm(W1 (5, 6), b1) -> Relu -> MatMul(W2 (6, 3)) + b2 -> cross-entropy (one target
 * ignored); every parameter's gradient by finite differences, x fed at run time. */
TEST(grad_mlp_end_to_end) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("mlp");
    weft_rng r;
    weft_rng_seed(&r, 3, 0);
    float w1[30], b1[6], w2[18], b2[3], xv[20];
    for (int i = 0; i < 30; i++) w1[i] = (2 * weft_rng_uniform(&r) - 1) * 0.8f;
    for (int i = 0; i < 6; i++) b1[i] = (2 * weft_rng_uniform(&r) - 1) * 0.3f;
    for (int i = 0; i < 18; i++) w2[i] = (2 * weft_rng_uniform(&r) - 1) * 0.8f;
    for (int i = 0; i < 3; i++) b2[i] = (2 * weft_rng_uniform(&r) - 1) * 0.3f;
    for (int i = 0; i < 20; i++) xv[i] = 2 * weft_rng_uniform(&r) - 1;
    int64_t tv[4] = {2, 0, -1, 1};
    weft_tensor tt = {WEFT_I64, WEFT_SHAPE(4), tv, 0};
    int x = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(4, 5));
    int W1 = weft_graph_param(g, "W1", WEFT_F32, WEFT_SHAPE(5, 6), w1), B1 = weft_graph_param(g, "b1", WEFT_F32, WEFT_SHAPE(6), b1);
    int W2 = weft_graph_param(g, "W2", WEFT_F32, WEFT_SHAPE(6, 3), w2), B2 = weft_graph_param(g, "b2", WEFT_F32, WEFT_SHAPE(3), b2);
    int targets = weft_graph_const(g, "targets", &tt), h, a, o, logits, loss;
    CHECK_OK(weft_graph_node(g, "Gemm", "fc1", (int[]){x, W1, B1}, 3, NULL, 0, &h, 1, &err), &err);
    CHECK_OK(weft_graph_node(g, "Relu", "act", &h, 1, NULL, 0, &a, 1, &err), &err);
    CHECK_OK(weft_graph_node(g, "MatMul", "fc2", (int[]){a, W2}, 2, NULL, 0, &o, 1, &err), &err);
    CHECK_OK(weft_graph_node(g, "Add", "bias2", (int[]){o, B2}, 2, NULL, 0, &logits, 1, &err), &err);
    CHECK_OK(weft_grad_cross_entropy(g, logits, targets, -1, &loss, &err), &err);
    weft_tensor xt = {WEFT_F32, WEFT_SHAPE(4, 5), xv, 0};
    const weft_tensor *ins[] = {&xt};
    fd_check(g, loss, (int[]){W1, B1, W2, B2}, 4, ins, 1, "mlp");
    weft_graph_free(g);
}
