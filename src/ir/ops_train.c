/* ir: the optimizer's ops, so that a training step's update runs on the fabric like any kernel.
 * Their arithmetic is train/optim.c's, operation for operation: given the same gradients the
 * fabric's update and the host's agree bit for bit (tests/test_train_ops.c).
 *
 *   weft.SumSq (carry, G_0, G_1, ...) -> carry + sum of g^2 (a double carried as two floats)
 *   weft.ClipCoef (carry) -> (coef, norm)                attr clip (0: off)
 *       norm = sqrt(sum); coef = clip / (norm + 1e-6) when that is below 1, else 1
 *       (torch.nn.utils.clip_grad_norm_)
 *   weft.AdamW (P, G, M, V, coef, decay, step_size, bc2_sqrt) -> (P', M', V')
 *       attrs one_minus_beta1, beta2, one_minus_beta2, epsilon; g = G coef; p *= decay;
 *       m += (1 - beta1)(g - m); v = beta2 v + (1 - beta2) g^2; p -= step_size m / (sqrt(v) / bc2_sqrt + eps)
 *   weft.SGD (P, G, B, coef, lr, first) -> (P', B')
 *       attrs momentum (0: plain SGD, B unused), weight_decay; g = G coef + wd p;
 *       b = first ? g : momentum b + g; p -= lr b (torch.optim.SGD) */
#include "ir/ir.h"

#include <math.h>
#include <string.h>

static weft_status need_f32(weft_op_ctx *c, int i) {
    if (c->in[i]->dtype != WEFT_F32) return weft_node_err(c, WEFT_ERR_SHAPE, "input %d is %s, the optimizer keeps fp32", i,
                                                          weft_dtype_name(c->in[i]->dtype));
    return WEFT_OK;
}

static weft_status need_scalar(weft_op_ctx *c, int i) {
    if (weft_tensor_numel(c->in[i]) != 1) return weft_node_err(c, WEFT_ERR_SHAPE, "input %d must be a scalar", i);
    return need_f32(c, i);
}

static weft_status need_like(weft_op_ctx *c, int i, int like) {
    char a[128], b[128];
    if (!weft_shape_eq(&c->in[i]->shape, &c->in[like]->shape))
        return weft_node_err(c, WEFT_ERR_SHAPE, "input %d is %s, input %d %s", i, weft_shape_str(&c->in[i]->shape, a, sizeof a), like,
                             weft_shape_str(&c->in[like]->shape, b, sizeof b));
    return need_f32(c, i);
}

static float scalar(const weft_op_ctx *c, int i) { return ((const float *)c->in[i]->data)[0]; }

/* ---- weft.SumSq, weft.ClipCoef ---- */

/* weft.SumSq (carry, G_0, G_1, ...) -> carry + sum of g^2. The carry is a double held as two
 * floats (hi, lo = the rest), so the sum stays as exact as the host's double from op to op. */
static weft_status infer_sum_sq(weft_op_ctx *c) {
    if (weft_tensor_numel(c->in[0]) != 2 || c->in[0]->dtype != WEFT_F32)
        return weft_node_err(c, WEFT_ERR_SHAPE, "input 0 must be the (2) fp32 carry");
    for (int i = 1; i < c->n_in; i++) {
        weft_status s = need_f32(c, i);
        if (s) return s;
    }
    c->out[0] = (weft_tensor){.dtype = WEFT_F32, .shape = {.ndim = 1, .d = {2}}};
    return WEFT_OK;
}

static double carry_of(const weft_tensor *t) { return (double)((const float *)t->data)[0] + (double)((const float *)t->data)[1]; }

static weft_status eval_sum_sq(weft_op_ctx *c) {
    double sq = carry_of(c->in[0]);
    for (int i = 1; i < c->n_in; i++) {
        const float *g = c->in[i]->data;
        for (int64_t k = 0; k < weft_tensor_numel(c->in[i]); k++) sq += (double)g[k] * g[k];
    }
    float hi = (float)sq;
    ((float *)c->out[0].data)[0] = hi;
    ((float *)c->out[0].data)[1] = (float)(sq - (double)hi);
    return WEFT_OK;
}

static weft_status infer_clip_coef(weft_op_ctx *c) {
    if (weft_tensor_numel(c->in[0]) != 2 || c->in[0]->dtype != WEFT_F32)
        return weft_node_err(c, WEFT_ERR_SHAPE, "input 0 must be the (2) fp32 carry of weft.SumSq");
    for (int j = 0; j < 2; j++) c->out[j] = (weft_tensor){.dtype = WEFT_F32, .shape = {0}};
    return WEFT_OK;
}

static weft_status eval_clip_coef(weft_op_ctx *c) {
    double norm = sqrt(carry_of(c->in[0])), clip = weft_attr_f(c->node, "clip", 0);
    double coef = clip > 0 ? clip / (norm + 1e-6) : 1.0;
    ((float *)c->out[0].data)[0] = coef < 1.0 ? (float)coef : 1.0f;
    ((float *)c->out[1].data)[0] = (float)norm;
    return WEFT_OK;
}

static weft_cost cost_sum_sq(const weft_op_ctx *c) {
    weft_cost k = {0};
    for (int i = 1; i < c->n_in; i++) {
        k.flops += 2 * weft_tensor_numel(c->in[i]);
        k.bytes += 4 * weft_tensor_numel(c->in[i]);
    }
    return k;
}

/* ---- weft.AdamW ---- */

static weft_status infer_adamw(weft_op_ctx *c) {
    weft_status s = need_f32(c, 0);
    for (int i = 1; i < 4 && !s; i++) s = need_like(c, i, 0);
    for (int i = 4; i < 8 && !s; i++) s = need_scalar(c, i);
    if (s) return s;
    for (int j = 0; j < 3; j++) c->out[j] = (weft_tensor){.dtype = WEFT_F32, .shape = c->in[0]->shape};
    return WEFT_OK;
}

static weft_status eval_adamw(weft_op_ctx *c) {
    const weft_node *n = c->node;
    const float coef = scalar(c, 4), decay = scalar(c, 5), step_size = scalar(c, 6), bc2_sqrt = scalar(c, 7);
    /* 1 - beta computed in double by the caller and rounded once, as the host does */
    const float w1 = weft_attr_f(n, "one_minus_beta1", 0.1f), b2 = weft_attr_f(n, "beta2", 0.999f);
    const float w2 = weft_attr_f(n, "one_minus_beta2", 0.001f), eps = weft_attr_f(n, "epsilon", 1e-8f);
    const float *P = c->in[0]->data, *G = c->in[1]->data, *M = c->in[2]->data, *V = c->in[3]->data;
    float *p = c->out[0].data, *m = c->out[1].data, *v = c->out[2].data;
    for (int64_t k = 0; k < weft_tensor_numel(c->in[0]); k++) {
        float g = coef < 1.0f ? G[k] * coef : G[k];
        p[k] = P[k] * decay;
        m[k] = M[k] + w1 * (g - M[k]);
        v[k] = V[k] * b2 + w2 * g * g;
        float denom = sqrtf(v[k]) / bc2_sqrt + eps;
        p[k] += -step_size * (m[k] / denom);
    }
    return WEFT_OK;
}

/* ---- weft.SGD ---- */

static weft_status infer_sgd(weft_op_ctx *c) {
    weft_status s = need_f32(c, 0);
    if (!s) s = need_like(c, 1, 0);
    if (!s) s = need_like(c, 2, 0);
    for (int i = 3; i < 6 && !s; i++) s = need_scalar(c, i);
    if (s) return s;
    for (int j = 0; j < 2; j++) c->out[j] = (weft_tensor){.dtype = WEFT_F32, .shape = c->in[0]->shape};
    return WEFT_OK;
}

static weft_status eval_sgd(weft_op_ctx *c) {
    const float mom = weft_attr_f(c->node, "momentum", 0), wd = weft_attr_f(c->node, "weight_decay", 0);
    const float coef = scalar(c, 3), lr = scalar(c, 4);
    const bool first = scalar(c, 5) != 0;
    const float *P = c->in[0]->data, *G = c->in[1]->data, *B = c->in[2]->data;
    float *p = c->out[0].data, *b = c->out[1].data;
    for (int64_t k = 0; k < weft_tensor_numel(c->in[0]); k++) {
        float d = coef < 1.0f ? G[k] * coef : G[k];
        if (wd != 0.0f) d += wd * P[k];
        if (mom != 0.0f) {
            b[k] = first ? d : mom * B[k] + d;
            d = b[k];
        } else b[k] = B[k];
        p[k] = P[k] - lr * d;
    }
    return WEFT_OK;
}

static weft_cost cost_update(const weft_op_ctx *c) {
    weft_cost k = {0};
    int64_t n = weft_tensor_numel(c->in[0]);
    k.flops = 10 * n;  /* an estimate: the update's multiply-adds, a square root and a division */
    for (int i = 0; i < c->n_in; i++) k.bytes += (int64_t)weft_tensor_nbytes(c->in[i]);
    k.bytes += (int64_t)c->n_out * 4 * n;
    return k;
}

const weft_op_def weft_ops_train[] = {
    {"weft.SumSq", 2, -1, 1, 1, 0, "", infer_sum_sq, eval_sum_sq, cost_sum_sq, NULL},
    {"weft.ClipCoef", 1, 1, 2, 2, 0, "clip", infer_clip_coef, eval_clip_coef, NULL, NULL},
    {"weft.AdamW", 8, 8, 3, 3, 0, "one_minus_beta1,beta2,one_minus_beta2,epsilon", infer_adamw, eval_adamw, cost_update, NULL},
    {"weft.SGD", 6, 6, 2, 2, 0, "momentum,weight_decay", infer_sgd, eval_sgd, cost_update, NULL},
    {0},
};
