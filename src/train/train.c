/* train: the trainer. Builds the training graph (model + loss + backward), runs it on the reference
 * executor or on the simulated fabric, and applies the optimizer: on the fabric in the same graph
 * where it can (build_update_graph, fabric_step), else on the host. See train.h. */
#include "train/train.h"

#include <math.h>

#include "grad/grad.h"
#include "grad/precision.h"
#include "io/io.h"
#include "models/models.h"

#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

weft_train_config weft_train_defaults(void) {
    return (weft_train_config){
        .optim = {.kind = WEFT_OPT_ADAMW, .lr = 1e-3, .momentum = 0.9, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                  .weight_decay = 0.01, .clip = 1.0, .warmup = 0, .decay_steps = 0, .min_lr_frac = 0.1},
        .arch = NULL,
        .accum = 1,
        .precision = WEFT_F32,
        .seed = 1,
    };
}

/* The model, in the configured precision, its frozen parameters made constants (c->frozen: a
 * name not among the parameters is an error). */
static weft_status load_model(const char *spec, const weft_train_config *c, weft_graph **out, weft_err *err) {
    weft_dtype precision = c->precision;
    weft_graph *g = NULL;
    if (weft_model_load(spec, &g, err)) return err->status;
    for (int f = 0; f < c->n_frozen; f++) {
        bool found = false;
        for (int v = 0; v < g->n_vals; v++)
            if (g->vals[v].kind == WEFT_VAL_PARAM && !strcmp(g->vals[v].name, c->frozen[f])) {
                g->vals[v].kind = WEFT_VAL_CONST;
                found = true;
            }
        if (!found) {
            weft_graph_free(g);
            return weft_err_set(err, WEFT_ERR_INVALID, "%s: no parameter '%s' to freeze", spec, c->frozen[f]);
        }
    }
    if (precision == WEFT_F32) { *out = g; return WEFT_OK; }
    weft_status s = weft_precision_cast(g, precision, out, err);
    weft_graph_free(g);
    return s ? weft_err_prefix(err, "%s", spec) : WEFT_OK;
}

/* Adds the loss of the model's single output to g: cross-entropy for logits (B, T, V) and (B, C)
 * against int64 targets, MSE against a float target of the output's shape otherwise. */
static weft_status add_loss(weft_graph *g, const char *spec, weft_loss_kind want, weft_loss_kind *kind, int *target,
                            int64_t *classes, int *loss, weft_err *err) {
    if (want == WEFT_LOSS_NONE) {  /* the model's output is its loss */
        char sh[64];
        if (g->n_inputs != 2 || g->n_outputs != 1)
            return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: --loss none wants a model of two inputs (input, target) and one output "
                                "(its loss); it has %d and %d", spec, g->n_inputs, g->n_outputs);
        const weft_value *o = &g->vals[g->outputs[0]];
        if (!weft_dtype_is_float(o->dtype) || weft_shape_numel(&o->shape) != 1)
            return weft_err_set(err, WEFT_ERR_SHAPE, "%s: --loss none: the output '%s' is %s %s, not a scalar loss", spec, o->name,
                                weft_dtype_name(o->dtype), weft_shape_str(&o->shape, sh, sizeof sh));
        *kind = WEFT_LOSS_NONE;
        *classes = 0;
        *target = g->inputs[1];
        int l = g->outputs[0];
        if (o->dtype != WEFT_F32) {
            weft_attr to = {.name = "to", .type = WEFT_ATTR_INT, .i = weft_dtype_to_onnx(WEFT_F32)};
            int x = l;
            if (weft_graph_node(g, "Cast", "loss/fp32", &x, 1, &to, 1, &l, 1, err)) return weft_err_prefix(err, "%s", spec);
        }
        if (g->vals[l].shape.ndim) {  /* (1) or (1, 1): the scalar the backward pass starts from */
            weft_tensor shp = {0};
            if (weft_tensor_alloc(&shp, WEFT_I64, WEFT_SHAPE(0), err)) return err->status;
            int c = weft_graph_const(g, "loss/shape", &shp), x = l;
            weft_tensor_free(&shp);
            if (weft_graph_node(g, "Reshape", "loss/scalar", (int[]){x, c}, 2, NULL, 0, &l, 1, err)) return weft_err_prefix(err, "%s", spec);
        }
        *loss = l;
        return WEFT_OK;
    }
    if (g->n_inputs != 1 || g->n_outputs != 1)
        return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: training wants a model with one input and one output (it has %d and %d); "
                            "a model that computes its own loss from (input, target) trains with --loss none",
                            spec, g->n_inputs, g->n_outputs);
    int out = g->outputs[0];
    weft_shape s = g->vals[out].shape;
    if (!weft_dtype_is_float(g->vals[out].dtype))
        return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: the output '%s' is not floating: no loss to train", spec, g->vals[out].name);
    if (g->vals[out].dtype != WEFT_F32) {
        /* mixed precision: the loss is computed in fp32 */
        weft_attr to = {.name = "to", .type = WEFT_ATTR_INT, .i = weft_dtype_to_onnx(WEFT_F32)};
        int o = out;
        if (weft_graph_node(g, "Cast", "loss/fp32", &o, 1, &to, 1, &out, 1, err)) return weft_err_prefix(err, "%s", spec);
    }
    if (want == WEFT_LOSS_CROSS_ENTROPY && s.ndim < 2) {
        char sh[64];
        return weft_err_set(err, WEFT_ERR_SHAPE, "%s: cross-entropy wants logits (batch, ..., classes); the output '%s' is %s", spec,
                            g->vals[g->outputs[0]].name, weft_shape_str(&s, sh, sizeof sh));
    }
    if (want == WEFT_LOSS_CROSS_ENTROPY || (want == WEFT_LOSS_AUTO && (s.ndim == 2 || s.ndim == 3))) {
        *kind = WEFT_LOSS_CROSS_ENTROPY;
        *classes = s.d[s.ndim - 1];
        weft_shape ts = s;
        ts.ndim--;
        *target = weft_graph_input(g, "targets", WEFT_I64, ts);
        if (weft_grad_cross_entropy(g, out, *target, -100, loss, err)) return weft_err_prefix(err, "%s: the loss", spec);
    } else {
        *kind = WEFT_LOSS_MSE;
        *classes = 0;
        *target = weft_graph_input(g, "target", g->vals[out].dtype, s);
        if (weft_grad_mse(g, out, *target, loss, err)) return weft_err_prefix(err, "%s: the loss", spec);
    }
    return WEFT_OK;
}

static uint64_t model_hash(const weft_graph *g) {
    weft_buf b = {0};
    for (int v = 0; v < g->n_vals; v++) {
        const weft_value *x = &g->vals[v];
        if (x->kind != WEFT_VAL_PARAM) continue;
        weft_buf_str(&b, x->name);
        weft_buf_u64(&b, (uint64_t)x->dtype);
        weft_buf_u64(&b, (uint64_t)x->shape.ndim);
        for (int k = 0; k < x->shape.ndim; k++) weft_buf_u64(&b, (uint64_t)x->shape.d[k]);
    }
    uint64_t h = weft_fnv64(b.data, b.len);
    weft_buf_free(&b);
    return h;
}

/* The fabric step with its update: the training graph again, then the global-norm clip and one
 * update op per parameter, its optimizer state held as parameters of the graph. */
static weft_status build_update_graph(weft_trainer *t, weft_err *err) {
    weft_graph *g = NULL;
    if (load_model(t->spec, &t->c, &g, err)) return err->status;
    weft_loss_kind kind;
    int target, loss;
    int64_t classes;
    weft_status s = add_loss(g, t->spec, t->loss, &kind, &target, &classes, &loss, err);
    int n = t->n_params, *param = weft_xcalloc((size_t)n + 1, sizeof(int)), *grads = weft_xcalloc((size_t)n + 1, sizeof(int));
    int k = 0;
    for (int v = 0; v < g->n_vals && !s; v++)
        if (g->vals[v].kind == WEFT_VAL_PARAM && k < n) param[k++] = v;
    if (!s && k != n) s = weft_err_set(err, WEFT_ERR_INVALID, "%s: the model's parameters changed", t->spec);
    if (!s) s = weft_grad_build(g, loss, param, n, grads, err);
    const weft_optim_config *oc = &t->opt->c;
    bool adam = oc->kind == WEFT_OPT_ADAMW;
    int coef_norm[2] = {-1, -1};
    /* the global norm: a chain of sums of squares, one per gradient in the parameters' order (the
     * host's order), each beside its parameter's update (compile/lower.c), then the clip
     * coefficient */
    if (!s) {
        float zero[2] = {0, 0};
        weft_tensor z = {WEFT_F32, {.ndim = 1, .d = {2}}, zero, 0};
        int carry = weft_graph_const(g, "update/sum_sq0", &z);
        for (int i = 0; i < n && !s; i++) {
            char nm[512];
            snprintf(nm, sizeof nm, "update/sum_sq/%s", g->vals[param[i]].name);
            s = weft_graph_node(g, "weft.SumSq", nm, (int[]){carry, grads[i]}, 2, NULL, 0, &carry, 1, err);
        }
        weft_attr clip = {.name = "clip", .type = WEFT_ATTR_FLOAT, .f = (float)oc->clip};
        if (!s) s = weft_graph_node(g, "weft.ClipCoef", "update/clip", &carry, 1, &clip, 1, coef_norm, 2, err);
    }
    static const char *const adam_scalars[] = {"update/decay", "update/step_size", "update/bc2_sqrt"};
    static const char *const sgd_scalars[] = {"update/lr", "update/first", "update/unused"};
    for (int j = 0; j < (adam ? 3 : 2) && !s; j++)
        t->gu_scalar[j] = weft_graph_input(g, adam ? adam_scalars[j] : sgd_scalars[j], WEFT_F32, WEFT_SHAPE());
    t->gu_param = param;
    t->gu_s1 = weft_xcalloc((size_t)n + 1, sizeof(int));
    t->gu_s2 = weft_xcalloc((size_t)n + 1, sizeof(int));
    int *outs = weft_xcalloc((size_t)(3 * n) + 1, sizeof(int));
    for (int i = 0; i < n && !s; i++) {
        char nm[512];
        const weft_value *pv = &g->vals[param[i]];
        weft_shape ps = pv->shape;
        snprintf(nm, sizeof nm, "%s.state1", pv->name);
        t->gu_s1[i] = weft_graph_param(g, nm, WEFT_F32, ps, NULL);
        snprintf(nm, sizeof nm, "%s.state2", g->vals[param[i]].name);
        t->gu_s2[i] = adam ? weft_graph_param(g, nm, WEFT_F32, ps, NULL) : -1;
        snprintf(nm, sizeof nm, "update/%s", g->vals[param[i]].name);
        if (adam) {
            weft_attr at[] = {{.name = "one_minus_beta1", .type = WEFT_ATTR_FLOAT, .f = (float)(1.0 - oc->beta1)},
                              {.name = "beta2", .type = WEFT_ATTR_FLOAT, .f = (float)oc->beta2},
                              {.name = "one_minus_beta2", .type = WEFT_ATTR_FLOAT, .f = (float)(1.0 - oc->beta2)},
                              {.name = "epsilon", .type = WEFT_ATTR_FLOAT, .f = (float)oc->eps}};
            int in[] = {param[i], grads[i], t->gu_s1[i], t->gu_s2[i], coef_norm[0], t->gu_scalar[0], t->gu_scalar[1], t->gu_scalar[2]};
            int o3[3];
            s = weft_graph_node(g, "weft.AdamW", nm, in, 8, at, 4, o3, 3, err);
            for (int j = 0; j < 3 && !s; j++) outs[j * n + i] = o3[j];
        } else {
            weft_attr at[] = {{.name = "momentum", .type = WEFT_ATTR_FLOAT, .f = oc->kind == WEFT_OPT_MOMENTUM ? (float)oc->momentum : 0},
                              {.name = "weight_decay", .type = WEFT_ATTR_FLOAT, .f = (float)oc->weight_decay}};
            int in[] = {param[i], grads[i], t->gu_s1[i], coef_norm[0], t->gu_scalar[0], t->gu_scalar[1]};
            int o2[2];
            s = weft_graph_node(g, "weft.SGD", nm, in, 6, at, 2, o2, 2, err);
            for (int j = 0; j < 2 && !s; j++) outs[j * n + i] = o2[j];
        }
    }
    if (!s) {
        g->n_outputs = 0;
        weft_graph_output(g, loss);
        weft_graph_output(g, coef_norm[1]);
        for (int j = 0; j < (adam ? 3 : 2); j++)
            for (int i = 0; i < n; i++) weft_graph_output(g, outs[j * n + i]);
    }
    free(outs);
    free(grads);
    if (s) {
        weft_graph_free(g);
        return weft_err_prefix(err, "%s: the update on the fabric", t->spec);
    }
    t->gu = g;
    return WEFT_OK;
}

/* One step on the fabric with its update (t->gu): the parameters and optimizer state go into the
 * graph, the step's scalars are computed as train/optim.c computes them, the program is compiled
 * and simulated, and the updated parameters and state come back. */
static weft_status fabric_step(weft_trainer *t, weft_data *d, weft_step_result *r, weft_err *err) {
    weft_graph *g = t->gu;
    weft_optim *o = t->opt;
    const weft_optim_config *oc = &o->c;
    bool adam = oc->kind == WEFT_OPT_ADAMW;
    for (int i = 0; i < t->n_params; i++) {
        size_t bytes = (size_t)t->numel[i] * sizeof(float);
        memcpy(g->vals[t->gu_param[i]].data.data, t->g->vals[t->param[i]].data.data, bytes);
        if (o->m) memcpy(g->vals[t->gu_s1[i]].data.data, o->m[i], bytes);
        if (o->v) memcpy(g->vals[t->gu_s2[i]].data.data, o->v[i], bytes);
    }
    double lr = weft_optim_lr(oc, o->step);
    float sc[3] = {0};
    if (adam) {
        double step = (double)(o->step + 1), bc1 = 1.0 - pow(oc->beta1, step), bc2 = 1.0 - pow(oc->beta2, step);
        sc[0] = (float)(1.0 - lr * oc->weight_decay);
        sc[1] = (float)(lr / bc1);
        sc[2] = (float)sqrt(bc2);
    } else {
        sc[0] = (float)lr;
        sc[1] = o->step == 0 ? 1.0f : 0.0f;
    }
    /* compiled once; afterwards the program's weights are refreshed from the updated parameters
     * (the placement depends only on shapes) */
    double t0 = now();
    weft_status s;
    if (!t->progu) {
        weft_compile_opts co = {.mode = t->c.mode, .replicas = t->c.replicas};
        s = weft_compile(g, &t->arch, &co, &t->progu, err);
    } else s = weft_program_refresh(t->progu, err);
    t->compile_seconds += now() - t0;
    if (s) return weft_err_prefix(err, "%s: training step", t->spec);
    /* data parallel: each replica its own batch, drawn one after another (the samples of one
     * batch R times as large), its inputs and outputs replica after replica */
    int R = t->progu->replicas > 1 ? t->progu->replicas : 1, n_in = g->n_inputs, n_out = g->n_outputs;
    weft_tensor *in = weft_xcalloc((size_t)(2 * R), sizeof *in), scal[3];
    const weft_tensor **inp = weft_xcalloc((size_t)(n_in * R), sizeof *inp);
    for (int r = 0; r < R && !s; r++) {
        s = weft_train_batch(t, d, -1, &in[2 * r], err);
        int ni = 0;
        for (int i = 0; i < n_in && !s; i++) {
            int v = g->inputs[i];
            if (!strcmp(g->vals[v].name, t->g->vals[t->input].name)) inp[r * n_in + ni++] = &in[2 * r];
            else if (!strcmp(g->vals[v].name, t->g->vals[t->target].name)) inp[r * n_in + ni++] = &in[2 * r + 1];
            else
                for (int j = 0; j < 3; j++)
                    if (t->gu_scalar[j] == v) {
                        scal[j] = (weft_tensor){WEFT_F32, {0}, &sc[j], 0};
                        inp[r * n_in + ni++] = &scal[j];
                    }
        }
        WEFT_ASSERT(s || ni == n_in);
    }
    weft_tensor *out = weft_xcalloc((size_t)(n_out * R), sizeof *out);
    weft_sim_opts so = {.passes = 1};  /* a step: one pass, its numbers (the steady state is `weft run`'s) */
    if (!s) s = weft_sim_run(t->progu, inp, n_in * R, out, n_out * R, &so, &t->last, err);
    for (int j = 0; j < 2 * R; j++) weft_tensor_free(&in[j]);
    free(in);
    free(inp);
    if (!s) {
        int n = t->n_params;
        r->loss = 0;  /* the replicas' mean (each its share's mean) */
        for (int k = 0; k < R; k++) r->loss += weft_tensor_get_f(&out[k * n_out], 0);
        r->loss /= R;
        r->grad_norm = weft_tensor_get_f(&out[1], 0);
        r->lr = lr;
        r->sim_seconds = t->last.seconds;
        r->sim_cycles = t->last.cycles;
        for (int i = 0; i < n; i++) {
            size_t bytes = (size_t)t->numel[i] * sizeof(float);
            memcpy(t->g->vals[t->param[i]].data.data, out[2 + i].data, bytes);
            if (o->m) memcpy(o->m[i], out[2 + n + i].data, bytes);
            if (o->v) memcpy(o->v[i], out[2 + 2 * n + i].data, bytes);
        }
        o->step++;
        t->step++;
        t->update_simulated = true;
    }
    for (int j = 0; j < n_out * R; j++) weft_tensor_free(&out[j]);
    free(out);
    return s ? weft_err_prefix(err, "%s: training step", t->spec) : WEFT_OK;
}

weft_status weft_train_new(const char *spec, const weft_train_config *c, weft_trainer **out, weft_err *err) {
    *out = NULL;
    if (c->accum < 1) return weft_err_set(err, WEFT_ERR_INVALID, "accumulation %d: must be at least 1", c->accum);
    if (c->precision != WEFT_F32 && c->precision != WEFT_BF16 && c->precision != WEFT_F16)
        return weft_err_set(err, WEFT_ERR_INVALID, "precision %s: weft trains in fp32, bf16 or fp16", weft_dtype_name(c->precision));
    weft_graph *g = NULL;
    if (load_model(spec, c, &g, err)) return err->status;
    weft_trainer *t = weft_xcalloc(1, sizeof *t);
    t->scale_input = -1;
    t->loss_scale = c->precision == WEFT_F16 ? 65536.0 : 1.0;
    t->spec = weft_xstrdup(spec);
    t->g = g;
    t->c = *c;
    t->owned = weft_xcalloc((size_t)c->n_frozen + 1, sizeof *t->owned);
    if (c->mode) t->c.mode = t->owned[c->n_frozen] = weft_xstrdup(c->mode);
    for (int f = 0; f < c->n_frozen; f++) t->owned[f] = weft_xstrdup(c->frozen[f]);
    t->c.frozen = (const char *const *)t->owned;
    if (c->arch) {
        t->arch = *c->arch;
        t->c.arch = &t->arch;
    }
    t->input = g->n_inputs == 1 || (c->loss == WEFT_LOSS_NONE && g->n_inputs == 2) ? g->inputs[0] : -1;
    int loss = -1;
    weft_status s = add_loss(g, spec, c->loss, &t->loss, &t->target, &t->classes, &loss, err);
    t->param = weft_xcalloc((size_t)g->n_vals, sizeof *t->param);
    for (int v = 0; v < g->n_vals && !s; v++) {
        if (g->vals[v].kind != WEFT_VAL_PARAM) continue;
        if (g->vals[v].dtype != WEFT_F32)
            s = weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: parameter '%s' is %s; training keeps fp32 master weights only", spec,
                             g->vals[v].name, weft_dtype_name(g->vals[v].dtype));
        t->param[t->n_params++] = v;
    }
    if (!s && t->n_params == 0) s = weft_err_set(err, WEFT_ERR_INVALID, "%s: the model has no parameters to train", spec);
    int *grads = weft_xcalloc((size_t)t->n_params + 1, sizeof *grads);
    int scaled = loss;
    if (!s && c->precision == WEFT_F16) {
        /* fp16: the gradients are of loss x scale, so small ones survive fp16; unscaled on the host */
        t->scale_input = weft_graph_input(g, "loss_scale", WEFT_F32, WEFT_SHAPE());
        s = weft_graph_node(g, "Mul", "loss/scaled", (int[]){loss, t->scale_input}, 2, NULL, 0, &scaled, 1, err);
    }
    if (!s && weft_grad_build(g, scaled, t->param, t->n_params, grads, err)) s = weft_err_prefix(err, "%s: gradients", spec);
    if (!s) {
        t->model_hash = model_hash(g);
        g->n_outputs = 0; /* the model's output gives way to [loss, grads...] */
        weft_graph_output(g, loss);
        for (int i = 0; i < t->n_params; i++) weft_graph_output(g, grads[i]);
        t->numel = weft_xcalloc((size_t)t->n_params, sizeof *t->numel);
        for (int i = 0; i < t->n_params; i++) t->numel[i] = weft_shape_numel(&g->vals[t->param[i]].shape);
        t->opt = weft_optim_new(&c->optim, t->n_params, t->numel);
        /* the update runs on the fabric, except with accumulation or fp16's overflow checks */
        if (c->arch && c->accum == 1 && c->precision != WEFT_F16) s = build_update_graph(t, err);
    }
    free(grads);
    if (s) {
        weft_train_free(t);
        return s;
    }
    *out = t;
    return WEFT_OK;
}

void weft_train_free(weft_trainer *t) {
    if (!t) return;
    weft_program_free(t->prog);
    weft_program_free(t->progu);
    weft_graph_free(t->g);
    weft_graph_free(t->gu);
    free(t->gu_param);
    free(t->gu_s1);
    free(t->gu_s2);
    weft_graph_free(t->eval);
    weft_optim_free(t->opt);
    free(t->param);
    free(t->eval_param);
    free(t->numel);
    free(t->spec);
    for (int f = 0; t->owned && f <= t->c.n_frozen; f++) free(t->owned[f]);
    free(t->owned);
    weft_data_free(t->feed);
    free(t);
}

weft_status weft_train_batch(const weft_trainer *t, weft_data *d, int64_t val, weft_tensor in[2], weft_err *err) {
    const weft_value *x = &t->g->vals[t->input], *y = &t->g->vals[t->target];
    memset(in, 0, 2 * sizeof *in);
    if (weft_tensor_alloc(&in[0], x->dtype, x->shape, err) || weft_tensor_alloc(&in[1], y->dtype, y->shape, err)) {
        weft_tensor_free(&in[0]);
        return weft_err_prefix(err, "the batch ('%s', '%s')", x->name, y->name);
    }
    weft_status s = weft_data_batch(d, val, &in[0], &in[1], t->classes, err);
    if (s) {
        weft_tensor_free(&in[0]);
        weft_tensor_free(&in[1]);
    }
    return s;
}

weft_status weft_train_forward_backward(weft_trainer *t, const weft_tensor in[2], double *loss, weft_tensor *grads,
                                        double *sim_seconds, uint64_t *sim_cycles, weft_err *err) {
    weft_graph *g = t->g;
    int n_out = g->n_outputs;
    weft_tensor *out = weft_xcalloc((size_t)n_out, sizeof *out);
    /* inputs in graph-input order */
    const weft_tensor *inp[3];
    float scale = (float)t->loss_scale;
    weft_tensor scale_t = {WEFT_F32, {0}, &scale, 0};
    for (int i = 0; i < g->n_inputs; i++)
        inp[i] = g->inputs[i] == t->input ? &in[0] : g->inputs[i] == t->scale_input ? &scale_t : &in[1];
    weft_status s;
    *sim_seconds = 0;
    *sim_cycles = 0;
    if (!t->c.arch) {
        s = weft_ref_run(g, inp, g->n_inputs, out, n_out, err);
    } else {
        /* weft_compile evaluates parameter-derived nodes and loads the GEMM regions' weights; after an
         * optimizer update the program is refreshed from the new parameters, not planned again */
        s = WEFT_OK;
        double t0 = now();
        if (!t->prog) {
            weft_compile_opts o = {.mode = t->c.mode, .replicas = 1};  /* (the update on the host: one chip) */
            s = weft_compile(g, &t->arch, &o, &t->prog, err);
        } else if (t->prog_stale) s = weft_program_refresh(t->prog, err);
        t->prog_stale = false;
        t->compile_seconds += now() - t0;
        weft_sim_opts so = {.passes = 1};  /* a step: one pass, its numbers (the steady state is `weft run`'s) */
        if (!s) s = weft_sim_run(t->prog, inp, g->n_inputs, out, n_out, &so, &t->last, err);
        if (!s) {
            *sim_seconds = t->last.seconds;
            *sim_cycles = t->last.cycles;
        }
    }
    if (s) {
        free(out);
        return weft_err_prefix(err, "%s: training step", t->spec);
    }
    *loss = weft_tensor_get_f(&out[0], 0);
    weft_tensor_free(&out[0]);
    for (int i = 0; i < t->n_params; i++) {
        /* a gradient that is a constant of the graph comes back as a view: own a copy */
        if (!out[1 + i].owns || out[1 + i].dtype != WEFT_F32) {
            weft_tensor c = {0};
            weft_status cs = weft_tensor_convert(&c, &out[1 + i], WEFT_F32, err);
            weft_tensor_free(&out[1 + i]);
            WEFT_ASSERT(!cs);
            out[1 + i] = c;
        }
        grads[i] = out[1 + i];
    }
    free(out);
    return WEFT_OK;
}

weft_status weft_train_step(weft_trainer *t, weft_data *d, weft_step_result *r, weft_err *err) {
    double t0 = now();
    memset(r, 0, sizeof *r);
    if (t->gu) {
        weft_status s = fabric_step(t, d, r, err);
        r->host_seconds = now() - t0;
        return s;
    }
    weft_tensor *sum = weft_xcalloc((size_t)t->n_params, sizeof *sum), *grads = weft_xcalloc((size_t)t->n_params, sizeof *grads);
    weft_status s = WEFT_OK;
    for (int a = 0; a < t->c.accum && !s; a++) {
        weft_tensor in[2];
        double loss, sec;
        uint64_t cyc;
        s = weft_train_batch(t, d, -1, in, err);
        if (s) break;
        s = weft_train_forward_backward(t, in, &loss, a == 0 ? sum : grads, &sec, &cyc, err);
        weft_tensor_free(&in[0]);
        weft_tensor_free(&in[1]);
        if (s) break;
        r->loss += loss;
        r->sim_seconds += sec;
        r->sim_cycles += cyc;
        if (a > 0)
            for (int i = 0; i < t->n_params; i++) {
                float *dst = sum[i].data, *src = grads[i].data;
                for (int64_t k = 0; k < t->numel[i]; k++) dst[k] += src[k];
                weft_tensor_free(&grads[i]);
            }
    }
    if (!s) {
        double tu = now();
        r->loss /= t->c.accum;
        float **p = weft_xcalloc((size_t)t->n_params, sizeof *p), **gr = weft_xcalloc((size_t)t->n_params, sizeof *gr);
        bool finite = true;
        for (int i = 0; i < t->n_params; i++) {
            p[i] = t->g->vals[t->param[i]].data.data;
            gr[i] = sum[i].data;
            if (t->c.accum > 1 || t->scale_input >= 0) {
                const float inv = (float)(1.0 / ((double)t->c.accum * t->loss_scale));
                for (int64_t k = 0; k < t->numel[i]; k++) {
                    gr[i][k] *= inv;
                    if (!isfinite(gr[i][k])) finite = false;
                }
            }
        }
        if (finite) r->grad_norm = weft_optim_step(t->opt, p, gr, &r->lr);
        if (t->scale_input >= 0) {
            /* dynamic loss scaling: skip the step on overflow and halve the scale; double it after
             * 2000 steps without one */
            if (!finite) {
                r->skipped = true;
                t->skipped_steps++;
                t->loss_scale *= 0.5;
                t->good_steps = 0;
                r->lr = weft_optim_lr(&t->opt->c, t->opt->step);
            } else if (++t->good_steps == 2000) {
                t->loss_scale *= 2.0;
                t->good_steps = 0;
            }
        }
        free(p);
        free(gr);
        t->step++;
        /* the parameters changed: the compiled program holds the old weights until refreshed */
        t->prog_stale = true;
        r->update_seconds = now() - tu;
    }
    for (int i = 0; i < t->n_params; i++) {
        weft_tensor_free(&sum[i]);
        weft_tensor_free(&grads[i]);
    }
    free(sum);
    free(grads);
    r->host_seconds = now() - t0;
    return s;
}

/* The validation graph: the model and its loss, with the training graph's parameters copied in. */
static weft_status eval_graph(weft_trainer *t, weft_err *err) {
    if (!t->eval) {
        weft_graph *e = NULL;
        if (load_model(t->spec, &t->c, &e, err)) return err->status;
        weft_loss_kind kind;
        int target, loss;
        int64_t classes;
        if (add_loss(e, t->spec, t->loss, &kind, &target, &classes, &loss, err)) {
            weft_graph_free(e);
            return err->status;
        }
        e->n_outputs = 0;
        weft_graph_output(e, loss);
        t->eval_param = weft_xcalloc((size_t)t->n_params, sizeof *t->eval_param);
        int k = 0;
        for (int v = 0; v < e->n_vals; v++)
            if (e->vals[v].kind == WEFT_VAL_PARAM) {
                WEFT_ASSERT(k < t->n_params && !strcmp(e->vals[v].name, t->g->vals[t->param[k]].name));
                t->eval_param[k++] = v;
            }
        WEFT_ASSERT(k == t->n_params);
        t->eval = e;
    }
    for (int i = 0; i < t->n_params; i++)
        memcpy(t->eval->vals[t->eval_param[i]].data.data, t->g->vals[t->param[i]].data.data, (size_t)t->numel[i] * sizeof(float));
    return WEFT_OK;
}

weft_status weft_train_validate(weft_trainer *t, weft_data *d, int n_windows, double *loss, weft_err *err) {
    *loss = 0;
    if (eval_graph(t, err)) return err->status;
    double sum = 0;
    for (int w = 0; w < n_windows; w++) {
        weft_tensor in[2], out = {0};
        if (weft_train_batch(t, d, w, in, err)) return err->status;
        const weft_tensor *inp[2];
        for (int i = 0; i < t->eval->n_inputs; i++) inp[i] = i == 0 ? &in[0] : &in[1];
        weft_status s = weft_ref_run(t->eval, inp, t->eval->n_inputs, &out, 1, err);
        weft_tensor_free(&in[0]);
        weft_tensor_free(&in[1]);
        if (s) return weft_err_prefix(err, "%s: validation", t->spec);
        sum += weft_tensor_get_f(&out, 0);
        weft_tensor_free(&out);
    }
    *loss = n_windows > 0 ? sum / n_windows : 0;
    return WEFT_OK;
}

weft_status weft_train_persistence(weft_trainer *t, weft_data *d, int n_windows, double *mse, weft_err *err) {
    *mse = NAN;
    if (t->loss != WEFT_LOSS_MSE || !weft_shape_eq(&t->g->vals[t->input].shape, &t->g->vals[t->target].shape)) return WEFT_OK;
    double sum = 0;
    for (int w = 0; w < n_windows; w++) {
        weft_tensor in[2];
        if (weft_train_batch(t, d, w, in, err)) return err->status;
        int64_t n = weft_tensor_numel(&in[0]);
        double acc = 0;
        for (int64_t i = 0; i < n; i++) {
            double e = weft_tensor_get_f(&in[0], i) - weft_tensor_get_f(&in[1], i);
            acc += e * e;
        }
        sum += n ? acc / (double)n : 0;
        weft_tensor_free(&in[0]);
        weft_tensor_free(&in[1]);
    }
    *mse = n_windows > 0 ? sum / n_windows : NAN;
    return WEFT_OK;
}

int64_t weft_train_tokens(const weft_trainer *t, int64_t *samples) {
    const weft_value *x = &t->g->vals[t->input];
    *samples = x->shape.ndim ? x->shape.d[0] : 1;
    if (x->dtype == WEFT_I64 && x->shape.ndim == 2) return x->shape.d[0] * x->shape.d[1];
    return 0;
}

int weft_train_replicas(const weft_trainer *t) {
    if (t->progu) return t->progu->replicas > 1 ? t->progu->replicas : 1;
    if (!t->gu) return 1;  /* (the host, or the fabric without its update: one chip) */
    return t->c.replicas ? t->c.replicas : t->arch.chips;
}
