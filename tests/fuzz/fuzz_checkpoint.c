/* libFuzzer target for checkpoints (weft_checkpoint_load into a fixed small trainer). Built by
 * `make fuzz`; run by scripts/fuzz.sh. Seeds: tests/corpus/checkpoint (an even first byte: a body
 * given a valid header and checksum, fuzz_common.h, so mutations reach the fields).
 *
 * Beyond the sanitizers: a refused checkpoint names the file and changes nothing (weights,
 * optimizer state, steps, loss scale, the data's sampling state); an accepted one has sane
 * fields (steps within bounds, optimizer steps <= steps, loss scale 1 for an fp32 run, an odd
 * RNG increment). The trainer is put back after each input. */
#include "fuzz_common.h"
#include "train/train.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static weft_trainer *t;
static weft_data *d;
static float **w0, **m0, **v0;
static int64_t step0, opt0;
static double scale0;
static weft_rng rng0;
static uint64_t pos0;

static void snapshot(void) {
    weft_err err = {0};
    weft_train_config c = weft_train_defaults();
    if (weft_train_new("builtin:mlp:in=8,hidden=4,out=2,batch=2", &c, &t, &err)) { fprintf(stderr, "%s\n", err.msg); abort(); }
    d = weft_data_synthetic(WEFT_DATA_TEACHER);
    w0 = calloc((size_t)t->n_params, sizeof *w0);
    m0 = calloc((size_t)t->n_params, sizeof *m0);
    v0 = calloc((size_t)t->n_params, sizeof *v0);
    for (int i = 0; i < t->n_params; i++) {
        size_t nb = (size_t)t->numel[i] * 4;
        w0[i] = malloc(nb);
        memcpy(w0[i], t->g->vals[t->param[i]].data.data, nb);
        if (t->opt->m) { m0[i] = malloc(nb); memcpy(m0[i], t->opt->m[i], nb); }
        if (t->opt->v) { v0[i] = malloc(nb); memcpy(v0[i], t->opt->v[i], nb); }
    }
    step0 = t->step, opt0 = t->opt->step, scale0 = t->loss_scale, rng0 = d->rng, pos0 = d->position;
}

static bool unchanged(void) {
    for (int i = 0; i < t->n_params; i++) {
        size_t nb = (size_t)t->numel[i] * 4;
        if (memcmp(w0[i], t->g->vals[t->param[i]].data.data, nb)) return false;
        if (t->opt->m && memcmp(m0[i], t->opt->m[i], nb)) return false;
        if (t->opt->v && memcmp(v0[i], t->opt->v[i], nb)) return false;
    }
    return t->step == step0 && t->opt->step == opt0 && t->loss_scale == scale0 && d->rng.state == rng0.state &&
           d->rng.inc == rng0.inc && d->position == pos0;
}

static void restore(void) {
    for (int i = 0; i < t->n_params; i++) {
        size_t nb = (size_t)t->numel[i] * 4;
        memcpy(t->g->vals[t->param[i]].data.data, w0[i], nb);
        if (t->opt->m) memcpy(t->opt->m[i], m0[i], nb);
        if (t->opt->v) memcpy(t->opt->v[i], v0[i], nb);
    }
    t->step = step0, t->opt->step = opt0, t->loss_scale = scale0, d->rng = rng0, d->position = pos0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!t) snapshot();
    const char *path = weft_fuzz_file(data, size, "WEFTCKPT", 2);
    weft_err err = {0};
    weft_status s = weft_checkpoint_load(t, d, path, &err);
    if (s) {
        weft_fuzz_check_error(path, s, &err);
        WEFT_FUZZ_REQUIRE(unchanged(), "a refused checkpoint changed the trainer: %s", err.msg);
        return 0;
    }
    WEFT_FUZZ_REQUIRE(t->step >= 0 && t->step <= ((int64_t)1 << 40), "accepted step %lld", (long long)t->step);
    WEFT_FUZZ_REQUIRE(t->opt->step >= 0 && t->opt->step <= t->step, "accepted optimizer step %lld of %lld", (long long)t->opt->step,
                      (long long)t->step);
    WEFT_FUZZ_REQUIRE(t->loss_scale == 1.0, "accepted loss scale %g in an fp32 run", t->loss_scale);
    WEFT_FUZZ_REQUIRE(d->rng.inc & 1, "accepted an even RNG increment");
    WEFT_FUZZ_REQUIRE(t->good_steps >= 0 && t->good_steps < 2000, "accepted good steps %lld", (long long)t->good_steps);
    restore();
    return 0;
}
