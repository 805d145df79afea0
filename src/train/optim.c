/* train: optimizers with PyTorch's semantics, global gradient-norm clipping, the learning-rate
 * schedule. Everything here runs on the host in fp32 (scalars in double, as PyTorch's Python
 * floats); it is not part of the simulated fabric step. */
#include "train/train.h"

#include <math.h>
#include <string.h>

static const char *const optim_names[] = {"sgd", "momentum", "adamw"};
_Static_assert(sizeof optim_names / sizeof *optim_names == WEFT_OPT_COUNT, "one name per optimizer");

const char *weft_optim_name(weft_optim_kind k) { return k < WEFT_OPT_COUNT ? optim_names[k] : "?"; }

int weft_optim_parse(const char *s) {
    for (int k = 0; k < WEFT_OPT_COUNT; k++)
        if (!strcmp(s, optim_names[k])) return k;
    return -1;
}

weft_optim *weft_optim_new(const weft_optim_config *c, int n, const int64_t *numel) {
    weft_optim *o = weft_xcalloc(1, sizeof *o);
    o->c = *c;
    o->n = n;
    o->numel = weft_xcalloc((size_t)n, sizeof *o->numel);
    memcpy(o->numel, numel, (size_t)n * sizeof *numel);
    if (c->kind != WEFT_OPT_SGD) o->m = weft_xcalloc((size_t)n, sizeof *o->m);
    if (c->kind == WEFT_OPT_ADAMW) o->v = weft_xcalloc((size_t)n, sizeof *o->v);
    for (int i = 0; i < n; i++) {
        if (o->m) o->m[i] = weft_xcalloc((size_t)numel[i], sizeof(float));
        if (o->v) o->v[i] = weft_xcalloc((size_t)numel[i], sizeof(float));
    }
    return o;
}

void weft_optim_free(weft_optim *o) {
    if (!o) return;
    for (int i = 0; i < o->n; i++) {
        if (o->m) free(o->m[i]);
        if (o->v) free(o->v[i]);
    }
    free(o->m);
    free(o->v);
    free(o->numel);
    free(o);
}

double weft_optim_lr(const weft_optim_config *c, int64_t t) {
    if (c->warmup > 0 && t < c->warmup) return c->lr * (double)(t + 1) / (double)c->warmup;
    if (c->decay_steps <= c->warmup) return c->lr;
    double min_lr = c->lr * c->min_lr_frac;
    if (t >= c->decay_steps) return min_lr;
    double progress = (double)(t - c->warmup) / (double)(c->decay_steps - c->warmup);
    return min_lr + 0.5 * (c->lr - min_lr) * (1.0 + cos(M_PI * progress));
}

double weft_optim_step(weft_optim *o, float *const *params, float *const *grads, double *lr_out) {
    const weft_optim_config *c = &o->c;
    /* global norm over every gradient, as torch.nn.utils.clip_grad_norm_ (sum of squares in double) */
    double sq = 0;
    for (int i = 0; i < o->n; i++)
        for (int64_t k = 0; k < o->numel[i]; k++) sq += (double)grads[i][k] * grads[i][k];
    double norm = sqrt(sq);
    if (c->clip > 0) {
        double coef = c->clip / (norm + 1e-6);
        if (coef < 1.0) {
            float cf = (float)coef;
            for (int i = 0; i < o->n; i++)
                for (int64_t k = 0; k < o->numel[i]; k++) grads[i][k] *= cf;
        }
    }
    double lr = weft_optim_lr(c, o->step);
    o->step++;
    if (lr_out) *lr_out = lr;
    switch (c->kind) {
    case WEFT_OPT_SGD:
    case WEFT_OPT_MOMENTUM: {
        /* torch.optim.SGD: g += wd*p; buf = momentum*buf + g (buf = g on the first step); p -= lr*buf */
        const float wd = (float)c->weight_decay, mom = (float)c->momentum, flr = (float)lr;
        for (int i = 0; i < o->n; i++) {
            float *p = params[i], *g = grads[i];
            for (int64_t k = 0; k < o->numel[i]; k++) {
                float d = g[k];
                if (wd != 0.0f) d += wd * p[k];
                if (c->kind == WEFT_OPT_MOMENTUM) {
                    float *buf = o->m[i];
                    buf[k] = o->step == 1 ? d : mom * buf[k] + d;
                    d = buf[k];
                }
                p[k] -= flr * d;
            }
        }
        break;
    }
    case WEFT_OPT_ADAMW: {
        /* torch.optim.AdamW (single-tensor path), step t = o->step (1-based):
         *   p *= 1 - lr*wd                     (decoupled weight decay, before the update)
         *   m = lerp(m, g, 1 - beta1)          v = beta2*v + (1 - beta2)*g*g
         *   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps) */
        double bc1 = 1.0 - pow(c->beta1, (double)o->step), bc2 = 1.0 - pow(c->beta2, (double)o->step);
        const float decay = (float)(1.0 - lr * c->weight_decay), w1 = (float)(1.0 - c->beta1);
        const float b2 = (float)c->beta2, w2 = (float)(1.0 - c->beta2);
        const float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2), eps = (float)c->eps;
        for (int i = 0; i < o->n; i++) {
            float *p = params[i], *g = grads[i], *m = o->m[i], *v = o->v[i];
            for (int64_t k = 0; k < o->numel[i]; k++) {
                p[k] *= decay;
                m[k] += w1 * (g[k] - m[k]);
                v[k] = v[k] * b2 + w2 * g[k] * g[k];
                float denom = sqrtf(v[k]) / bc2_sqrt + eps;
                p[k] += -step_size * (m[k] / denom);
            }
        }
        break;
    }
    case WEFT_OPT_COUNT: WEFT_ASSERT(0);
    }
    return norm;
}
