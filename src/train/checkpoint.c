/* train: checkpoints. One file holds everything a run needs to go on exactly where it stopped:
 *
 *   "WEFTCKPT", version 2                                         (weft_file_write: magic, version)
 *   u64 model hash, str model spec                                the model's identity
 *   u64 steps done
 *   u64 optimizer kind, u64 optimizer updates
 *   u64 rng state, u64 rng inc, u64 samples drawn                 the data's sampling state
 *   u64 data kind, u64 data bytes                                 the data it was trained on
 *   u64 n params; per param: str name, u64 numel, f32 (numel) weights, f32 (numel) m, f32 (numel) v
 *                                                                 (m for momentum and AdamW, v for AdamW)
 *   u64 FNV-64 checksum                                           (weft_file_write)
 *
 * Written to a temporary file, fsync'd and renamed into place, so a crash mid-write leaves the
 * previous checkpoint whole. Floats are stored in host byte order (little-endian on every machine
 * weft runs on). */
#include "train/train.h"

#include "io/io.h"
#include "models/models.h"

#include <string.h>

static const char CKPT_MAGIC[8] = {'W', 'E', 'F', 'T', 'C', 'K', 'P', 'T'};
#define CKPT_VERSION 2u
/* Bounds on a checkpoint's counters: far beyond any run, far below int64 overflow. */
#define WEFT_CKPT_MAX_STEPS ((uint64_t)1 << 40)
#define WEFT_CKPT_MAX_SAMPLES ((uint64_t)1 << 60)

weft_status weft_checkpoint_save(const weft_trainer *t, const weft_data *d, const char *path, weft_err *err) {
    weft_buf b = {0};
    weft_buf_u64(&b, t->model_hash);
    weft_buf_str(&b, t->spec);
    weft_buf_u64(&b, (uint64_t)t->step);
    weft_buf_u64(&b, (uint64_t)t->opt->c.kind);
    weft_buf_u64(&b, (uint64_t)t->opt->step);
    weft_buf_u64(&b, d->rng.state);
    weft_buf_u64(&b, d->rng.inc);
    weft_buf_u64(&b, d->position);
    weft_buf_u64(&b, (uint64_t)d->kind);
    weft_buf_u64(&b, (uint64_t)d->n_bytes);
    double scale = t->loss_scale;
    weft_buf_bytes(&b, &scale, 8);  /* fp16 loss scaling: the scale and the good steps since a change */
    weft_buf_u64(&b, (uint64_t)t->good_steps);
    weft_buf_u64(&b, (uint64_t)t->n_params);
    for (int i = 0; i < t->n_params; i++) {
        size_t nb = (size_t)t->numel[i] * sizeof(float);
        weft_buf_str(&b, t->g->vals[t->param[i]].name);
        weft_buf_u64(&b, (uint64_t)t->numel[i]);
        weft_buf_bytes(&b, t->g->vals[t->param[i]].data.data, nb);
        if (t->opt->m) weft_buf_bytes(&b, t->opt->m[i], nb);
        if (t->opt->v) weft_buf_bytes(&b, t->opt->v[i], nb);
    }
    weft_status s = weft_file_write(path, CKPT_MAGIC, CKPT_VERSION, &b, err);
    weft_buf_free(&b);
    return s;
}

/* Reads the body; copies into t and d only when commit (a first pass checks everything). */
static weft_status parse(weft_trainer *t, weft_data *d, weft_reader r, const char *path, bool commit, weft_err *err) {
    uint64_t hash = weft_read_u64(&r);
    char *spec = weft_read_str(&r, 4096);
    if (r.bad || !spec) {
        free(spec);
        if (r.nomem) return weft_err_set(err, WEFT_ERR_NOMEM, "%s: out of memory reading the checkpoint", path);
        return weft_err_set(err, WEFT_ERR_INVALID, "%s: malformed checkpoint header", path);
    }
    if (hash != t->model_hash) {
        weft_status s = weft_err_set(err, WEFT_ERR_MISMATCH,
                                     "%s: a checkpoint of another model ('%s'; its parameters differ from those of '%s')", path,
                                     spec, t->spec);
        free(spec);
        return s;
    }
    free(spec);
    uint64_t step = weft_read_u64(&r), kind = weft_read_u64(&r), opt_step = weft_read_u64(&r);
    weft_rng rng;
    rng.state = weft_read_u64(&r);
    rng.inc = weft_read_u64(&r);
    uint64_t position = weft_read_u64(&r), dkind = weft_read_u64(&r), dbytes = weft_read_u64(&r);
    double scale = 0;
    weft_read_bytes(&r, &scale, 8);
    uint64_t good = weft_read_u64(&r);
    uint64_t n = weft_read_u64(&r);
    if (r.bad) return weft_err_set(err, WEFT_ERR_INVALID, "%s: malformed checkpoint header", path);
    if (kind != (uint64_t)t->opt->c.kind)
        return weft_err_set(err, WEFT_ERR_MISMATCH, "%s: the checkpoint's optimizer is %s, this run's is %s", path,
                            weft_optim_name((weft_optim_kind)(kind < WEFT_OPT_COUNT ? kind : WEFT_OPT_COUNT)),
                            weft_optim_name(t->opt->c.kind));
    if (dkind != (uint64_t)d->kind || dbytes != (uint64_t)d->n_bytes)
        return weft_err_set(err, WEFT_ERR_MISMATCH, "%s: the checkpoint was trained on other data (%llu bytes), not %s (%lld bytes)",
                            path, (unsigned long long)dbytes, d->source, (long long)d->n_bytes);
    /* the checksum only says the bytes are the ones written: the fields must still make sense (a
     * step of -1e9 trained a billion steps, INT64_MAX overflowed step + 1, a NaN scale skipped
     * every step) */
    if (step > WEFT_CKPT_MAX_STEPS)
        return weft_err_set(err, WEFT_ERR_INVALID, "%s: field 'step': %lld is not in 0..%lld", path, (long long)step,
                            (long long)WEFT_CKPT_MAX_STEPS);
    if (opt_step > step)
        return weft_err_set(err, WEFT_ERR_INVALID, "%s: field 'optimizer step': %lld is not in 0..%lld (the steps done)", path,
                            (long long)opt_step, (long long)step);
    bool scaled = t->scale_input >= 0;
    if (scaled ? !(scale >= 0x1p-32 && scale <= 0x1p32) : scale != 1.0)
        return weft_err_set(err, WEFT_ERR_INVALID, "%s: field 'loss scale': %g is not %s", path, scale,
                            scaled ? "in 2^-32..2^32" : "1 (this run does not scale its loss)");
    if (good >= 2000)
        return weft_err_set(err, WEFT_ERR_INVALID, "%s: field 'good steps': %lld is not in 0..1999 (the scale doubles at 2000)", path,
                            (long long)good);
    if (!(rng.inc & 1))
        return weft_err_set(err, WEFT_ERR_INVALID, "%s: field 'rng inc': %llu is even (a PCG32 increment is odd)", path,
                            (unsigned long long)rng.inc);
    if (position > WEFT_CKPT_MAX_SAMPLES)
        return weft_err_set(err, WEFT_ERR_INVALID, "%s: field 'samples drawn': %llu is not in 0..%lld", path,
                            (unsigned long long)position, (long long)WEFT_CKPT_MAX_SAMPLES);
    if (n != (uint64_t)t->n_params)
        return weft_err_set(err, WEFT_ERR_MISMATCH, "%s: %llu parameters, the model has %d", path, (unsigned long long)n, t->n_params);
    for (int i = 0; i < t->n_params; i++) {
        /* the name compared where it lies: nothing here allocates, so the committing pass cannot
         * fail half-way through the parameters */
        const char *want = t->g->vals[t->param[i]].name;
        uint64_t len = weft_read_u64(&r);
        bool name_ok = !r.bad && len == strlen(want) && len <= r.len - r.pos && !memcmp(r.data + r.pos, want, (size_t)len);
        if (name_ok) r.pos += (size_t)len;
        uint64_t numel = weft_read_u64(&r);
        bool ok = name_ok && !r.bad && numel == (uint64_t)t->numel[i];
        if (r.nomem) return weft_err_set(err, WEFT_ERR_NOMEM, "%s: out of memory reading the checkpoint", path);
        if (!ok) return weft_err_set(err, WEFT_ERR_MISMATCH, "%s: parameter %d is not '%s' of %lld elements", path, i, want, (long long)t->numel[i]);
        size_t nb = (size_t)numel * sizeof(float);
        if (r.len - r.pos < nb * (1 + (t->opt->m != NULL) + (t->opt->v != NULL)))
            return weft_err_set(err, WEFT_ERR_INVALID, "%s: truncated at parameter '%s'", path, want);
        if (commit) {
            weft_read_bytes(&r, t->g->vals[t->param[i]].data.data, nb);
            if (t->opt->m) weft_read_bytes(&r, t->opt->m[i], nb);
            if (t->opt->v) weft_read_bytes(&r, t->opt->v[i], nb);
        } else {
            r.pos += nb * (1 + (t->opt->m != NULL) + (t->opt->v != NULL));
        }
    }
    if (r.bad || r.pos != r.len) return weft_err_set(err, WEFT_ERR_INVALID, "%s: malformed checkpoint (at byte %zu)", path, r.pos);
    if (commit) {
        t->step = (int64_t)step;
        t->opt->step = (int64_t)opt_step;
        t->loss_scale = scale;
        t->good_steps = (int64_t)good;
        d->rng = rng;
        d->position = position;
        t->prog_stale = true; /* the weights changed */
    }
    return WEFT_OK;
}

weft_status weft_checkpoint_load(weft_trainer *t, weft_data *d, const char *path, weft_err *err) {
    uint8_t *file = NULL;
    weft_reader r;
    if (weft_file_read(path, CKPT_MAGIC, CKPT_VERSION, &file, &r, err)) return err->status;
    weft_status s = parse(t, d, r, path, false, err);
    if (!s) s = parse(t, d, r, path, true, err);
    free(file);
    return s;
}

/* The checkpoint's weights into g's parameters by name (each of the checkpoint's must be one of
 * g's, of its size). */
static weft_status apply(const char *path, weft_graph *g, int64_t *steps, weft_err *err) {
    uint8_t *file = NULL;
    weft_reader r;
    if (weft_file_read(path, CKPT_MAGIC, CKPT_VERSION, &file, &r, err)) return err->status;
    weft_read_u64(&r);  /* the model hash: the parameters are checked one by one */
    char *spec = weft_read_str(&r, 4096);
    uint64_t step = weft_read_u64(&r), kind = weft_read_u64(&r);
    for (int i = 0; i < 6; i++) weft_read_u64(&r);  /* optimizer updates, rng (2), samples, data kind, data bytes */
    double scale;
    weft_read_bytes(&r, &scale, 8);
    weft_read_u64(&r);  /* good steps */
    uint64_t n = weft_read_u64(&r);
    weft_status s = WEFT_OK;
    if (r.bad || !spec || kind >= WEFT_OPT_COUNT || step > WEFT_CKPT_MAX_STEPS)
        s = weft_err_set(err, WEFT_ERR_INVALID, "%s: malformed checkpoint header", path);
    int states = kind == WEFT_OPT_ADAMW ? 2 : kind == WEFT_OPT_MOMENTUM ? 1 : 0;
    for (uint64_t i = 0; i < n && !s; i++) {
        char *name = weft_read_str(&r, 4096);
        uint64_t numel = weft_read_u64(&r);
        int v = -1;
        for (int k = 0; name && k < g->n_vals && v < 0; k++)
            if (g->vals[k].kind == WEFT_VAL_PARAM && !strcmp(g->vals[k].name, name)) v = k;
        size_t nb = (size_t)numel * sizeof(float);
        if (r.bad || !name) s = weft_err_set(err, WEFT_ERR_INVALID, "%s: malformed at parameter %llu", path, (unsigned long long)i);
        else if (v < 0 || g->vals[v].dtype != WEFT_F32 || (uint64_t)weft_shape_numel(&g->vals[v].shape) != numel)
            s = weft_err_set(err, WEFT_ERR_MISMATCH, "%s: its parameter '%s' (%llu elements) is not one of the model's", path, name,
                             (unsigned long long)numel);
        else if (r.len - r.pos < nb * (size_t)(1 + states)) s = weft_err_set(err, WEFT_ERR_INVALID, "%s: truncated at '%s'", path, name);
        else {
            weft_read_bytes(&r, g->vals[v].data.data, nb);
            r.pos += nb * (size_t)states;
        }
        free(name);
    }
    if (!s && (r.bad || r.pos != r.len)) s = weft_err_set(err, WEFT_ERR_INVALID, "%s: malformed checkpoint (at byte %zu)", path, r.pos);
    if (!s && steps) *steps = (int64_t)step;
    free(spec);
    free(file);
    return s;
}

weft_status weft_checkpoint_apply(const char *path, weft_graph *g, int64_t *steps, weft_err *err) {
    return apply(path, g, steps, err);
}

weft_status weft_checkpoint_spec(const char *path, char *spec, size_t n, weft_err *err) {
    uint8_t *file = NULL;
    weft_reader r;
    if (weft_file_read(path, CKPT_MAGIC, CKPT_VERSION, &file, &r, err)) return err->status;
    weft_read_u64(&r);
    char *s = weft_read_str(&r, 4096);
    free(file);
    if (!s) return weft_err_set(err, WEFT_ERR_INVALID, "%s: malformed checkpoint header", path);
    snprintf(spec, n, "%s", s);
    free(s);
    return WEFT_OK;
}

weft_status weft_checkpoint_weights(const char *path, weft_graph **out, int64_t *steps, weft_err *err) {
    *out = NULL;
    char spec[4096];
    /* the spec first, to build the model; then the weights into it */
    if (weft_checkpoint_spec(path, spec, sizeof spec, err)) return err->status;
    weft_graph *g;
    weft_status s = weft_model_load(spec, &g, err);
    if (s) weft_err_prefix(err, "%s: its model '%s'", path, spec);
    if (!s && (s = apply(path, g, steps, err))) weft_graph_free(g);
    if (!s) *out = g;
    return s;
}
