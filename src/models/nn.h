/* models: graph-building helpers shared by the built-in models (weft_nn_*).
 *
 * A weft_nn is a builder around one graph with a sticky error: the first failing call records
 * its message in `err`, returns -1, and every later call returns -1 at once. A model is written
 * as straight-line code and checks b->status once at the end, like this:
 *
 *     weft_nn b;
 *     weft_nn_init(&b, g, seed, err);
 *     int x = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(B, 16));  // (B, 16)
 *     int h = weft_nn_linear(&b, "fc1", x, 16, 32, WEFT_NN_INIT_TORCH, 0); // (B, 32)
 *     h = weft_nn_op1(&b, "Relu", "fc1.relu", &h, 1, NULL, 0);
 *     if (b.status) ...
 *
 * Parameters are named after the module path ("h.0.attn.c_attn.weight", as in Hugging Face's
 * GPT-2) and initialized from weft_rng with stream = the parameter's ordinal, so a parameter's
 * values depend only on the seed and its position in the model.
 *
 * Layouts: linear weights are (in, out) (y = x W + b, GPT-2's Conv1D layout); conv weights are
 * ONNX's (out, in, kh, kw).
 */
#ifndef WEFT_MODELS_NN_H
#define WEFT_MODELS_NN_H

#include "ir/ir.h"

typedef struct {
    weft_graph *g;
    weft_err *err;
    weft_status status; /* first error, sticky */
    uint64_t seed;
    uint64_t n_params;  /* parameters made so far: the next one's RNG stream */
    bool shapes_only;   /* parameters left zero (never filled: their pages stay untouched) */
} weft_nn;

typedef enum {
    WEFT_NN_INIT_ZEROS,
    WEFT_NN_INIT_ONES,
    WEFT_NN_INIT_NORMAL,  /* N(0, scale^2) */
    WEFT_NN_INIT_UNIFORM, /* U(-scale, scale) */
    WEFT_NN_INIT_TORCH,   /* PyTorch's default for Linear/Conv: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
} weft_nn_init_kind;

void weft_nn_init(weft_nn *b, weft_graph *g, uint64_t seed, weft_err *err);
/* A model built for timing only: its parameters are left zero, and its graph takes values up to
 * WEFT_MAX_TIMED_TENSOR_BYTES (never made on the host). */
void weft_nn_shapes_only(weft_nn *b, bool on);
/* Records the first error (printf-style) and returns -1. */
int weft_nn_fail(weft_nn *b, weft_status s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Ends a built-in's construction: the graph b built (g) gets `outputs` (n of them; a negative one
 * is skipped) and goes to *out; on an earlier failure g is freed and the error names
 * "builtin:name". */
weft_status weft_nn_finish(weft_nn *b, weft_graph *g, const char *name, const int *outputs, int n, weft_graph **out);

/* The shape of value v (v must be valid). */
const weft_shape *weft_nn_shape(const weft_nn *b, int v);

/* An F32 parameter named `name`, filled by `init` (scale as above; fan_in for TORCH). */
int weft_nn_param(weft_nn *b, const char *name, weft_shape shape, weft_nn_init_kind init, float scale,
                  int64_t fan_in);
/* Constants. */
int weft_nn_const_f32(weft_nn *b, const char *name, float x);                    /* scalar */
int weft_nn_const_i64(weft_nn *b, const char *name, const int64_t *v, int n);    /* (n) */

/* One node with one output; returns the output's id. */
int weft_nn_op1(weft_nn *b, const char *op, const char *name, const int *in, int n_in, const weft_attr *attrs,
                int n_attrs);
/* Two-input shorthand (Add, Mul, MatMul, ...). */
int weft_nn_op2(weft_nn *b, const char *op, const char *name, int x, int y);

/* Shape ops, with their index inputs made constant here. */
int weft_nn_reshape(weft_nn *b, const char *name, int x, weft_shape to);
int weft_nn_transpose(weft_nn *b, const char *name, int x, const int64_t *perm, int n);
/* x[..., start:end, ...] along axis. */
int weft_nn_slice(weft_nn *b, const char *name, int x, int64_t axis, int64_t start, int64_t end);

/* y = x W + b over the last axis: x (..., in) -> (..., out). Parameters name.weight (in, out)
 * and name.bias (out) (zeros unless init is TORCH). */
int weft_nn_linear(weft_nn *b, const char *name, int x, int64_t in, int64_t out, weft_nn_init_kind init,
                   float scale);
/* LayerNormalization over the last axis (dim), epsilon 1e-5; name.weight ones, name.bias zeros. */
int weft_nn_layer_norm(weft_nn *b, const char *name, int x, int64_t dim);
/* Causal multi-head self-attention, GPT-2's: x (B, T, C) -> (B, T, C), with name.c_attn (C, 3C)
 * and name.c_proj (C, C); `mask` is a (T, T) bool constant, true where attention is allowed.
 * Weights N(0, std), the output projection N(0, proj_std). */
int weft_nn_attention(weft_nn *b, const char *name, int x, int heads, int mask, float std, float proj_std);
/* The lower-triangular (T, T) bool mask for weft_nn_attention. */
int weft_nn_causal_mask(weft_nn *b, const char *name, int64_t T);
/* GPT-2's MLP: x (..., C) -> c_fc (C, 4C) -> GELU (tanh form) -> c_proj (4C, C). */
int weft_nn_mlp_gelu(weft_nn *b, const char *name, int x, float std, float proj_std);
/* A k x k convolution (stride 1, 'same' size) over x (B, cin, H, W) -> (B, cout, H, W), with zero
 * padding in H and, when periodic_w, wrap-around padding in W (longitude) built from Slice and
 * Concat. Parameters name.weight (cout, cin, k, k), name.bias (cout), PyTorch's default init
 * times `gain`. k must be odd. */
int weft_nn_conv(weft_nn *b, const char *name, int x, int64_t cin, int64_t cout, int64_t k, bool periodic_w,
                 float gain);

/* ---- helpers of the transformer and CNN built-ins (bert.c, llama.c, gptj.c, resnet.c, unet.c) ---- */

/* An F32 constant of any shape from data (numel(shape) floats). */
int weft_nn_const_table(weft_nn *b, const char *name, weft_shape shape, const float *data);
/* Expand: x broadcast to `to`. */
int weft_nn_expand(weft_nn *b, const char *name, int x, weft_shape to);
/* y = x W over the last axis, no bias: x (..., in) -> (..., out), name.weight (in, out). */
int weft_nn_linear_no_bias(weft_nn *b, const char *name, int x, int64_t in, int64_t out, weft_nn_init_kind init,
                           float scale);
/* weft_nn_layer_norm with epsilon eps (BERT's is 1e-12). */
int weft_nn_layer_norm_eps(weft_nn *b, const char *name, int x, int64_t dim, float eps);
/* RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * name.weight (dim, ones), from
 * Mul, ReduceMean, Add, Sqrt, Div. */
int weft_nn_rms_norm(weft_nn *b, const char *name, int x, int64_t dim, float eps);

/* Rotary position embedding (Su et al. 2021) over x (B, T, H, D), on the first `rot` dims of
 * each head (rot even, <= D; the rest pass through). Angle t * theta^(-2i/rot) for pair i at
 * position t. The pairs are (i, i + rot/2) (LLaMA's rotate_half) or, when interleaved,
 * (2i, 2i + 1) (GPT-J's rotate_every_two). cos and sin are (T, 1, rot) constants from
 * weft_nn_rotary_tables, made once per model. */
void weft_nn_rotary_tables(weft_nn *b, const char *name, int64_t T, int64_t rot, double theta, bool interleaved,
                           int *cos, int *sin);
int weft_nn_rotary(weft_nn *b, const char *name, int x, int64_t rot, int cos, int sin, bool interleaved);
/* Scaled dot-product attention over heads: q, k, v (B, T, H, D) -> (B, T, H*D); softmax over the
 * keys of each query, causal where `mask` (a (T, T) bool constant, weft_nn_causal_mask) is given,
 * over the whole sequence when mask < 0. */
int weft_nn_sdpa(weft_nn *b, const char *name, int q, int k, int v, int mask);

/* A 2-D convolution: x (B, cin, H, W) -> (B, cout, H', W'), k x k kernel, stride, zero padding
 * `pad` on every side; name.weight (cout, cin, k, k) N(0, std) (std 0: PyTorch's default, U(+-1 /
 * sqrt(fan_in))), and name.bias (cout) when `bias` (PyTorch's default). */
int weft_nn_conv2d(weft_nn *b, const char *name, int x, int64_t cin, int64_t cout, int64_t k, int64_t stride,
                   int64_t pad, bool bias, float std);
/* BatchNormalization in its inference form over x (B, C, ...): name.weight (C) ones and
 * name.bias (C) zeros are parameters; name.running_mean (zeros) and name.running_var (ones)
 * are constants (buffers in PyTorch, not trained), epsilon 1e-5. */
int weft_nn_batch_norm(weft_nn *b, const char *name, int x, int64_t C);
/* MaxPool k x k, stride s, padding p: x (B, C, H, W) -> (B, C, H', W'). */
int weft_nn_max_pool(weft_nn *b, const char *name, int x, int64_t k, int64_t s, int64_t p);

#endif
