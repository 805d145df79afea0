/* train: the public training API (include/weft.h, weft_trainer_*): the trainer of train.c fed
 * the caller's batches. Each step wraps x and y as the samples of an ARRAYS data set (views, not
 * copies) taken in order, so the trainer's own step runs unchanged: on the reference executor or
 * the fabric, the update where the trainer puts it. */
#include "train/train.h"

#include "arch/arch.h"
#include "grad/precision.h"

#include <string.h>

weft_trainer_opts weft_trainer_defaults(void) {
    weft_train_config c = weft_train_defaults();
    return (weft_trainer_opts){.optimizer = "adamw", .lr = c.optim.lr, .momentum = c.optim.momentum, .beta1 = c.optim.beta1,
                               .beta2 = c.optim.beta2, .eps = c.optim.eps, .weight_decay = c.optim.weight_decay,
                               .clip = c.optim.clip, .min_lr_frac = c.optim.min_lr_frac, .seed = c.seed};
}

weft_status weft_trainer_new(const char *model, const weft_trainer_opts *o, weft_trainer **out, weft_err *err) {
    *out = NULL;
    weft_trainer_opts defaults = weft_trainer_defaults();
    if (!o) o = &defaults;
    if (o->n_frozen < 0 || o->n_frozen > 1 << 20 || (o->n_frozen && !o->frozen))
        return weft_err_set(err, WEFT_ERR_INVALID, "frozen: %d names%s", o->n_frozen, o->frozen ? "" : " and no list");
    for (int f = 0; f < o->n_frozen; f++)
        if (!o->frozen[f]) return weft_err_set(err, WEFT_ERR_INVALID, "frozen: name %d is NULL", f);
    weft_train_config c = weft_train_defaults();
    int kind = weft_optim_parse(o->optimizer ? o->optimizer : "adamw");
    if (kind < 0) return weft_err_set(err, WEFT_ERR_INVALID, "optimizer '%s': not adamw, momentum or sgd", o->optimizer);
    if (!(o->lr > 0)) return weft_err_set(err, WEFT_ERR_INVALID, "learning rate %g: must be positive", o->lr);
    c.optim = (weft_optim_config){.kind = (weft_optim_kind)kind, .lr = o->lr, .momentum = o->momentum, .beta1 = o->beta1,
                                  .beta2 = o->beta2, .eps = o->eps, .weight_decay = o->weight_decay, .clip = o->clip,
                                  .warmup = o->warmup, .decay_steps = o->decay_steps, .min_lr_frac = o->min_lr_frac};
    const char *p = o->precision ? o->precision : "fp32";
    if (strcmp(p, "fp32") && strcmp(p, "bf16") && strcmp(p, "fp16"))
        return weft_err_set(err, WEFT_ERR_INVALID, "precision '%s': not fp32, bf16 or fp16", p);
    c.precision = !strcmp(p, "bf16") ? WEFT_BF16 : !strcmp(p, "fp16") ? WEFT_F16 : WEFT_F32;
    const char *l = o->loss ? o->loss : "auto";
    if (strcmp(l, "auto") && strcmp(l, "cross_entropy") && strcmp(l, "mse") && strcmp(l, "none"))
        return weft_err_set(err, WEFT_ERR_INVALID, "loss '%s': not cross_entropy, mse, none or auto", l);
    c.loss = !strcmp(l, "mse") ? WEFT_LOSS_MSE : !strcmp(l, "cross_entropy") ? WEFT_LOSS_CROSS_ENTROPY
           : !strcmp(l, "none") ? WEFT_LOSS_NONE : WEFT_LOSS_AUTO;
    c.mode = o->mode;
    c.seed = o->seed;
    c.frozen = o->frozen;
    c.n_frozen = o->n_frozen;
    weft_arch arch;
    if (o->arch) {
        if (weft_arch_get(o->arch, &arch, err)) return err->status;
        c.arch = &arch;  /* (copied by the trainer) */
        c.replicas = 1;
    }
    return weft_train_new(model, &c, out, err);
}

void weft_trainer_free(weft_trainer *t) { weft_train_free(t); }

void weft_trainer_io(const weft_trainer *t, int which, const char **name, weft_dtype *dt, weft_shape *shape) {
    const weft_value *v = &t->g->vals[which ? t->target : t->input];
    if (name) *name = v->name;
    if (dt) *dt = v->dtype;
    if (shape) *shape = v->shape;
}

/* The caller's batch as the trainer's data: views of x and y, one batch of samples in order.
 * Their shapes and dtypes must be the step's inputs' exactly. */
static weft_status feed(weft_trainer *t, const weft_tensor *x, const weft_tensor *y, weft_err *err) {
    const weft_value *want[2] = {&t->g->vals[t->input], &t->g->vals[t->target]};
    const weft_tensor *have[2] = {x, y};
    for (int i = 0; i < 2; i++)
        if (have[i]->dtype != want[i]->dtype || !weft_shape_eq(&have[i]->shape, &want[i]->shape)) {
            char a[160], b[160];
            return weft_err_set(err, WEFT_ERR_SHAPE, "%s: the %s '%s' is %s %s; given %s %s", t->spec, i ? "target" : "input",
                                want[i]->name, weft_dtype_name(want[i]->dtype), weft_shape_str(&want[i]->shape, a, sizeof a),
                                weft_dtype_name(have[i]->dtype), weft_shape_str(&have[i]->shape, b, sizeof b));
        }
    if (!t->feed) {
        t->feed = weft_data_synthetic(WEFT_DATA_TEACHER);  /* then turned into arrays */
        t->feed->kind = WEFT_DATA_ARRAYS;
        t->feed->in_order = true;
        snprintf(t->feed->source, sizeof t->feed->source, "the batch given");
    }
    weft_data *d = t->feed;
    d->ax = *x;
    d->ay = *y;
    d->ax.owns = d->ay.owns = 0;  /* views: weft_data_free leaves them */
    d->n_samples = d->n_train_samples = x->shape.ndim ? x->shape.d[0] : 1;
    d->position = 0;
    return WEFT_OK;
}

weft_status weft_trainer_step(weft_trainer *t, const weft_tensor *x, const weft_tensor *y, weft_train_result *r, weft_err *err) {
    memset(r, 0, sizeof *r);
    if (feed(t, x, y, err)) return err->status;
    if (weft_train_replicas(t) > 1 || t->c.accum > 1)
        return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: a step of several micro-batches or replicas takes a data set (weft train)", t->spec);
    weft_step_result s;
    if (weft_train_step(t, t->feed, &s, err)) return err->status;
    *r = (weft_train_result){s.loss, s.grad_norm, s.lr, s.sim_seconds, s.sim_cycles, s.skipped};
    return WEFT_OK;
}

weft_status weft_trainer_eval(weft_trainer *t, const weft_tensor *x, const weft_tensor *y, double *loss, weft_err *err) {
    if (feed(t, x, y, err)) return err->status;
    t->feed->n_train_samples = 0;  /* validation batch 0: the samples in order */
    return weft_train_validate(t, t->feed, 1, loss, err);
}

int weft_trainer_n_params(const weft_trainer *t) { return t->n_params; }
int64_t weft_trainer_steps(const weft_trainer *t) { return t->step; }

const char *weft_trainer_param_name(const weft_trainer *t, int i) {
    return i >= 0 && i < t->n_params ? t->g->vals[t->param[i]].name : NULL;
}

weft_status weft_trainer_param(weft_trainer *t, int i, weft_tensor *view, weft_err *err) {
    if (i < 0 || i >= t->n_params) return weft_err_set(err, WEFT_ERR_INVALID, "parameter %d: the model has %d", i, t->n_params);
    /* (the fabric's step with its update keeps the parameters in the trainer's graph too) */
    *view = t->g->vals[t->param[i]].data;
    view->owns = 0;
    return WEFT_OK;
}

/* Checkpoints of the public API hold no data set: an empty one stands in. */
weft_status weft_trainer_save(const weft_trainer *t, const char *path, weft_err *err) {
    weft_data *d = weft_data_synthetic(WEFT_DATA_TEACHER);
    weft_status s = weft_checkpoint_save(t, d, path, err);
    weft_data_free(d);
    return s;
}

weft_status weft_trainer_load(weft_trainer *t, const char *path, weft_err *err) {
    weft_data *d = weft_data_synthetic(WEFT_DATA_TEACHER);
    weft_status s = weft_checkpoint_load(t, d, path, err);
    weft_data_free(d);
    return s;
}
