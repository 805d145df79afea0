/* Tests of training: the fabric step equals the reference step, resume is exact, bad input is
 * refused, the optimizers against hand-computed cases, the loss falls, and PyTorch trains the same
 * GPT to the same losses (tests/pytorch/train_gpt.py). */
#include "io/io.h"
#include "test.h"
#include "train/train.h"

#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* Relative-with-floor closeness: |x - y| <= rtol * (|y| + scale) + 1e-12, scale the tensor's
 * largest |y| times 1e-3 (so that elements near zero are judged against the tensor's magnitude).
 * The absolute 1e-12 is for a parameter whose gradient is zero in exact arithmetic and rounding
 * noise in floats (BERT's key bias: a softmax ignores a constant added to all of a query's
 * scores), which the two executors round differently. */
static double worst_excess(const float *x, const float *y, int64_t n, double rtol) {
    double scale = 0, worst = 0;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(y[i]));
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)x[i] - y[i]) - rtol * (fabs(y[i]) + 1e-3 * scale + 1e-12) - 1e-12;
        if (e > worst) worst = e;
    }
    return worst;
}

static weft_data *data_for(const weft_trainer *t) {
    weft_data *d = NULL;
    weft_err err = {0};
    if (t->loss == WEFT_LOSS_MSE) d = weft_data_synthetic(WEFT_DATA_ADVECTION);
    else if (t->g->vals[t->input].dtype == WEFT_I64) CHECK_OK(weft_data_text_open(NULL, 0.1, &d, &err), &err);
    else d = weft_data_synthetic(WEFT_DATA_TEACHER);
    return d;
}

/* Three steps of momentum SGD on the reference executor and on the fabric from the same start and
 * the same batches: the losses, the gradients' effect and the weights agree within 1e-4 relative.
 * (SGD, because an update linear in the gradient carries the executors' rounding differences
 * through unamplified; AdamW's g / sqrt(v) turns a gradient of 1e-9 into a full step of either
 * sign.) */
static void check_fabric_step_in(const char *spec, const char *arch_name, const char *mode) {
    weft_err err = {0};
    weft_arch arch;
    CHECK_OK(weft_arch_get(arch_name, &arch, &err), &err);
    weft_train_config c = weft_train_defaults();
    c.mode = mode;
    c.optim.kind = WEFT_OPT_MOMENTUM;
    c.optim.lr = 0.05;
    weft_trainer *ref = NULL, *fab = NULL;
    CHECK_OK(weft_train_new(spec, &c, &ref, &err), &err);
    c.arch = &arch;
    CHECK_OK(weft_train_new(spec, &c, &fab, &err), &err);
    if (!ref || !fab) { weft_train_free(ref); weft_train_free(fab); return; }
    weft_data *dr = data_for(ref), *df = data_for(fab);
    for (int s = 0; s < 3 && dr && df; s++) {
        weft_step_result rr, rf;
        CHECK_OK(weft_train_step(ref, dr, &rr, &err), &err);
        CHECK_OK(weft_train_step(fab, df, &rf, &err), &err);
        if (fabs(rr.loss - rf.loss) > 1e-4 * fabs(rr.loss) + 1e-6)
            weft_test_fail(__FILE__, __LINE__, "%s step %d: loss %.9g on the fabric, %.9g on the reference", spec, s, rf.loss, rr.loss);
        CHECK(rf.sim_seconds > 0 && rf.sim_cycles > 0 && rr.sim_seconds == 0);
        for (int i = 0; i < ref->n_params; i++) {
            double e = worst_excess(fab->g->vals[fab->param[i]].data.data, ref->g->vals[ref->param[i]].data.data, ref->numel[i], 1e-4);
            if (e > 0)
                weft_test_fail(__FILE__, __LINE__, "%s step %d: parameter '%s' beyond 1e-4 relative by %g", spec, s,
                               ref->g->vals[ref->param[i]].name, e);
        }
    }
    weft_data_free(dr);
    weft_data_free(df);
    weft_train_free(ref);
    weft_train_free(fab);
}

static void check_fabric_step(const char *spec, const char *arch_name) { check_fabric_step_in(spec, arch_name, NULL); }

TEST(train_fabric_step_mlp) { check_fabric_step("builtin:mlp", "mesh-32x32"); }
/* weight streaming: the layers in turn, the update in the off-chip unit; the same steps */
TEST(train_fabric_step_weight_streaming) {
    check_fabric_step_in("builtin:mlp", "mesh-32x32", "weight-streaming");
    check_fabric_step_in("builtin:gpt:layers=1,dim=32,heads=2,vocab=64,seq=16", "wse2-mini", "weight-streaming");
    check_fabric_step_in("builtin:weather-cnn:lat=8,lon=16", "wse2-mini", "weight-streaming");
    /* long enough that keeping every activation does not fit: some are recomputed (timing only; the
     * numbers are the same) */
    const char *spec = "builtin:gpt:layers=2,dim=64,heads=4,vocab=128,seq=512,batch=4";
    check_fabric_step_in(spec, "wse2-mini", "weight-streaming");
    weft_err err = {0};
    weft_arch arch;
    CHECK_OK(weft_arch_preset("wse2-mini", &arch, &err), &err);
    weft_train_config c = weft_train_defaults();
    c.arch = &arch;
    weft_trainer *t = NULL;
    CHECK_OK(weft_train_new(spec, &c, &t, &err), &err);
    if (!t) return;
    weft_program *p = NULL;
    weft_compile_opts o = {.mode = "weight-streaming", .timing_only = true};
    CHECK_OK(weft_compile(t->gu, &arch, &o, &p, &err), &err);
    if (p) {
        uint64_t again = 0;
        for (int j = 0; j < p->n_phases; j++) again += p->phases[j].recompute_cycles;
        printf("    %s: %d activations recomputed (%lld bytes), %llu cycles a pass\n", spec, p->n_recomputed,
               (long long)p->recomputed_bytes, (unsigned long long)again);
        CHECK(p->n_recomputed > 0 && again > 0);
    }
    weft_program_free(p);
    weft_train_free(t);
}
/* sections: the step cut into sections on an SN30, the updates in sections of their own */
TEST(train_fabric_step_sections) {
    check_fabric_step_in("builtin:mlp", "sn30", "sections");
    check_fabric_step_in("builtin:gpt:layers=1,dim=32,heads=2,vocab=64,seq=16", "sn30", "sections");
    /* memory units of 4 KB: the 256 x 4096 layer's weights, their gradient's sums and their
     * update do not fit the RDU, and stream in chunks; the step is still the reference's */
    weft_err err = {0};
    weft_arch a;
    CHECK_OK(weft_arch_preset("sn30", &a, &err), &err);
    a.kinds[1].sram_bytes = 4096;
    snprintf(a.name, sizeof a.name, "sn30-4k");
    char path[1100];
    snprintf(path, sizeof path, "%s/test_train_sn30_4k.json", weft_test_builddir());
    char *j = weft_arch_to_json(&a);
    FILE *f = fopen(path, "w");
    if (f) { fputs(j, f); fclose(f); }
    free(j);
    const char *spec = "builtin:mlp:in=256,hidden=4096,out=16,batch=4";
    weft_train_config c = weft_train_defaults();
    c.arch = &a;
    weft_trainer *t = NULL;
    CHECK_OK(weft_train_new(spec, &c, &t, &err), &err);
    if (t) {
        weft_program *p = NULL;
        weft_compile_opts o = {.mode = "sections"};
        CHECK_OK(weft_compile(t->gu, &a, &o, &p, &err), &err);
        int gemm = 0, sums = 0, updates = 0;
        for (int i = 0; p && i < p->n; i++) {
            const weft_kernel *k = &p->k[i];
            if (k->weight_chunks < 2) continue;
            if (k->kind == WEFT_KERNEL_GEMM) gemm++;
            else if (k->accumulates) sums++;
            else updates++;
        }
        printf("    4 KB memory units: chunked GEMMs %d, accumulations %d, updates %d\n", gemm, sums, updates);
        CHECK(gemm > 0 && updates > 0);
        weft_program_free(p);
        weft_train_free(t);
    }
    check_fabric_step_in(spec, path, "sections");
}
TEST(train_fabric_step_gpt) { check_fabric_step("builtin:gpt:layers=1,dim=32,heads=2,vocab=64,seq=16", "wse2-mini"); }
TEST(train_fabric_step_weather) { check_fabric_step("builtin:weather-cnn:lat=8,lon=16", "wse2-mini"); }
/* the AI-testbed transformers, tiny: RMSNorm, SwiGLU, rotary, grouped-query attention (llama);
 * post-LN, non-causal attention, the tied MLM head (bert); parallel blocks (gptj) */
TEST(train_fabric_step_llama) { check_fabric_step("builtin:llama:layers=1,dim=32,heads=4,kv_heads=2,ff=48,vocab=64,seq=16", "wse2-mini"); }
TEST(train_fabric_step_bert) { check_fabric_step("builtin:bert:layers=1,dim=32,heads=2,ff=64,vocab=64,seq=16,positions=16", "wse2-mini"); }
TEST(train_fabric_step_gptj) { check_fabric_step("builtin:gptj:layers=1,dim=32,heads=2,rotary=8,ff=64,vocab=64,seq=16", "wse2-mini"); }

/* AdamW from the same gradients as the fabric: the loss of the fabric step equals the reference's
 * for a few AdamW steps too (weights compared above under SGD). */
TEST(train_fabric_adamw_losses) {
    weft_err err = {0};
    weft_arch arch;
    CHECK_OK(weft_arch_get("wse2-mini", &arch, &err), &err);
    const char *spec = "builtin:gpt:layers=1,dim=32,heads=2,vocab=64,seq=16";
    weft_train_config c = weft_train_defaults();
    c.optim.lr = 3e-3;
    weft_trainer *ref = NULL, *fab = NULL;
    CHECK_OK(weft_train_new(spec, &c, &ref, &err), &err);
    c.arch = &arch;
    CHECK_OK(weft_train_new(spec, &c, &fab, &err), &err);
    if (!ref || !fab) { weft_train_free(ref); weft_train_free(fab); return; }
    weft_data *dr = data_for(ref), *df = data_for(fab);
    for (int s = 0; s < 5; s++) {
        weft_step_result rr, rf;
        CHECK_OK(weft_train_step(ref, dr, &rr, &err), &err);
        CHECK_OK(weft_train_step(fab, df, &rf, &err), &err);
        CHECK_NEAR(rf.loss, rr.loss, 1e-4 * rr.loss);
    }
    weft_data_free(dr);
    weft_data_free(df);
    weft_train_free(ref);
    weft_train_free(fab);
}

static void ckpt_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/test_train_%s.weft", weft_test_builddir(), name);
}

/* 10 steps, a checkpoint, a fresh trainer resuming from it, 10 more steps: bit-identical weights and
 * optimizer state to 20 steps straight. */
TEST(train_resume_is_exact) {
    weft_err err = {0};
    const char *spec = "builtin:gpt:layers=1,dim=32,heads=2,vocab=64,seq=16,batch=2";
    weft_train_config c = weft_train_defaults();
    c.optim.lr = 3e-3;
    c.optim.warmup = 3;
    c.optim.decay_steps = 20;
    weft_trainer *a = NULL, *b = NULL;
    CHECK_OK(weft_train_new(spec, &c, &a, &err), &err);
    CHECK_OK(weft_train_new(spec, &c, &b, &err), &err);
    if (!a || !b) { weft_train_free(a); weft_train_free(b); return; }
    weft_data *da = data_for(a), *db = data_for(b);
    weft_data_seed(da, 5);
    weft_data_seed(db, 99); /* overwritten by the checkpoint */
    char path[1024];
    ckpt_path(path, sizeof path, "resume");
    weft_step_result r;
    for (int s = 0; s < 20; s++) {
        CHECK_OK(weft_train_step(a, da, &r, &err), &err);
        if (s == 9) CHECK_OK(weft_checkpoint_save(a, da, path, &err), &err);
    }
    CHECK_OK(weft_checkpoint_load(b, db, path, &err), &err);
    CHECK_INT(b->step, 10);
    for (int s = 0; s < 10; s++) CHECK_OK(weft_train_step(b, db, &r, &err), &err);
    CHECK_INT(b->step, 20);
    CHECK_INT(da->position, db->position);
    for (int i = 0; i < a->n_params; i++) {
        size_t nb = (size_t)a->numel[i] * sizeof(float);
        if (memcmp(a->g->vals[a->param[i]].data.data, b->g->vals[b->param[i]].data.data, nb) ||
            memcmp(a->opt->m[i], b->opt->m[i], nb) || memcmp(a->opt->v[i], b->opt->v[i], nb))
            weft_test_fail(__FILE__, __LINE__, "parameter '%s' differs after resume", a->g->vals[a->param[i]].name);
    }
    weft_data_free(da);
    weft_data_free(db);
    weft_train_free(a);
    weft_train_free(b);
}

TEST(train_bad_checkpoints_refused) {
    weft_err err = {0};
    weft_train_config c = weft_train_defaults();
    weft_trainer *a = NULL, *other = NULL;
    CHECK_OK(weft_train_new("builtin:gpt:layers=1,dim=32,heads=2,vocab=64,seq=16", &c, &a, &err), &err);
    CHECK_OK(weft_train_new("builtin:gpt:layers=1,dim=32,heads=2,vocab=64,seq=8", &c, &other, &err), &err);
    if (!a || !other) { weft_train_free(a); weft_train_free(other); return; }
    weft_data *d = data_for(a);
    weft_step_result r;
    CHECK_OK(weft_train_step(a, d, &r, &err), &err);
    char path[1024], bad[1100];
    ckpt_path(path, sizeof path, "good");
    CHECK_OK(weft_checkpoint_save(a, d, path, &err), &err);
    /* another model (wpe is (8, 32) there): refused, naming the file, nothing changed */
    float before = ((float *)other->g->vals[other->param[0]].data.data)[0];
    CHECK(weft_checkpoint_load(other, d, path, &err) == WEFT_ERR_MISMATCH);
    CHECK(strstr(err.msg, path) && strstr(err.msg, "another model"));
    CHECK(((float *)other->g->vals[other->param[0]].data.data)[0] == before && other->step == 0);
    /* one flipped byte in the middle: the checksum refuses it */
    uint8_t *file = NULL;
    weft_reader body;
    CHECK_OK(weft_file_read(path, "WEFTCKPT", 2, &file, &body, &err), &err);
    size_t n = body.len + 24;
    snprintf(bad, sizeof bad, "%s.corrupt", path);
    if (file) {
        file[n / 2] ^= 0x40;
        FILE *f = fopen(bad, "wb");
        CHECK(f && fwrite(file, 1, n, f) == n);
        if (f) fclose(f);
        free(file);
        CHECK(weft_checkpoint_load(a, d, bad, &err) != WEFT_OK);
        CHECK(strstr(err.msg, bad) && strstr(err.msg, "checksum"));
        /* truncated */
        CHECK(truncate(bad, (off_t)(n - 100)) == 0);
        CHECK(weft_checkpoint_load(a, d, bad, &err) != WEFT_OK);
        CHECK(strstr(err.msg, bad) != NULL);
    }
    /* missing */
    CHECK(weft_checkpoint_load(a, d, "/nonexistent/ckpt.weft", &err) == WEFT_ERR_IO);
    CHECK(strstr(err.msg, "/nonexistent/ckpt.weft") != NULL);
    /* another optimizer */
    weft_train_config s = c;
    s.optim.kind = WEFT_OPT_SGD;
    weft_trainer *sgd = NULL;
    CHECK_OK(weft_train_new("builtin:gpt:layers=1,dim=32,heads=2,vocab=64,seq=16", &s, &sgd, &err), &err);
    if (sgd) {
        CHECK(weft_checkpoint_load(sgd, d, path, &err) == WEFT_ERR_MISMATCH);
        CHECK(strstr(err.msg, "optimizer") != NULL);
    }
    weft_train_free(sgd);
    weft_data_free(d);
    weft_train_free(a);
    weft_train_free(other);
}

TEST(train_bad_data_refused) {
    weft_err err = {0};
    weft_data *d = NULL;
    CHECK(weft_data_text_open("/nonexistent/corpus.txt", 0.1, &d, &err) == WEFT_ERR_IO);
    CHECK(strstr(err.msg, "/nonexistent/corpus.txt") != NULL);
    char path[1024];
    snprintf(path, sizeof path, "%s/test_train_empty.txt", weft_test_builddir());
    FILE *f = fopen(path, "w");
    if (f) fclose(f);
    CHECK(weft_data_text_open(path, 0.1, &d, &err) == WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, path) && strstr(err.msg, "empty"));
    /* shorter than one window */
    f = fopen(path, "w");
    if (f) { fputs("tiny text", f); fclose(f); }
    CHECK_OK(weft_data_text_open(path, 0.1, &d, &err), &err);
    weft_trainer *t = NULL;
    weft_train_config c = weft_train_defaults();
    CHECK_OK(weft_train_new("builtin:gpt:layers=1,dim=32,heads=2,vocab=64,seq=16", &c, &t, &err), &err);
    if (t && d) {
        weft_step_result r;
        CHECK(weft_train_step(t, d, &r, &err) == WEFT_ERR_INVALID);
        CHECK(strstr(err.msg, path) != NULL);
    }
    weft_train_free(t);
    weft_data_free(d);
}

/* The default corpus: every distinct license once (GPL is a link to GPL-3: counted once). */
TEST(train_license_corpus) {
    weft_err err = {0};
    weft_data *d = NULL;
    CHECK_OK(weft_data_text_open(NULL, 0.1, &d, &err), &err);
    if (!d) return;
    struct stat st;
    int64_t gpl3 = stat("/usr/share/common-licenses/GPL-3", &st) ? 0 : (int64_t)st.st_size;
    CHECK(d->n_bytes > 100000 && d->n_train > d->n_bytes * 8 / 10 && d->n_train < d->n_bytes);
    /* GPL-3's first line appears in the training part exactly once */
    if (gpl3) {
        const char *needle = "Version 3, 29 June 2007";
        int hits = 0;
        for (int64_t i = 0; i + 23 < d->n_train; i++) hits += !memcmp(d->bytes + i, needle, 23);
        CHECK(hits >= 1 && hits <= 2); /* GPL-3 and LGPL-3 both cite it; the GPL link adds none */
    }
    weft_data_free(d);
}

TEST(train_adamw_by_hand) {
    /* p = [1, -2], g = [0.5, -0.1] twice, lr 0.1, wd 0.1, betas (0.9, 0.999), eps 1e-8:
     * step 1: p *= 0.99; m = 0.1 g; v = 0.001 g^2; m^ = g, sqrt(v^) = |g|: p -= 0.1 sign(g)
     *         -> [0.89, -1.88]
     * step 2: p *= 0.99; m^ = g, v^ = g^2 again -> [0.7811, -1.7612] */
    weft_optim_config c = {.kind = WEFT_OPT_ADAMW, .lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.1};
    int64_t numel = 2;
    weft_optim *o = weft_optim_new(&c, 1, &numel);
    float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, -0.1f};
    float *pp = p, *gp = g;
    double lr;
    weft_optim_step(o, &pp, &gp, &lr);
    CHECK_NEAR(lr, 0.1, 1e-12);
    CHECK_NEAR(p[0], 0.89, 1e-6);
    CHECK_NEAR(p[1], -1.88, 1e-6);
    CHECK_NEAR(o->m[0][0], 0.05, 1e-7);
    CHECK_NEAR(o->v[0][1], 1e-5, 1e-10);
    weft_optim_step(o, &pp, &gp, &lr);
    CHECK_NEAR(p[0], 0.7811, 1e-6);
    CHECK_NEAR(p[1], -1.7612, 1e-6);
    weft_optim_free(o);
}

TEST(train_sgd_momentum_clip_schedule) {
    int64_t numel = 2;
    /* clipping: g = [3, 4] has norm 5; clipped to 1 -> [0.6, 0.8]; SGD lr 1 */
    weft_optim_config c = {.kind = WEFT_OPT_SGD, .lr = 1, .clip = 1};
    weft_optim *o = weft_optim_new(&c, 1, &numel);
    float p[2] = {0, 0}, g[2] = {3, 4};
    float *pp = p, *gp = g;
    CHECK_NEAR(weft_optim_step(o, &pp, &gp, NULL), 5.0, 1e-12);
    CHECK_NEAR(p[0], -0.6, 1e-6);
    CHECK_NEAR(p[1], -0.8, 1e-6);
    weft_optim_free(o);
    /* momentum 0.9, constant g = 1: buf 1 then 1.9 -> p = -1, -2.9 */
    c = (weft_optim_config){.kind = WEFT_OPT_MOMENTUM, .lr = 1, .momentum = 0.9};
    o = weft_optim_new(&c, 1, &numel);
    p[0] = p[1] = 0;
    g[0] = g[1] = 1;
    weft_optim_step(o, &pp, &gp, NULL);
    CHECK_NEAR(p[0], -1.0, 1e-6);
    weft_optim_step(o, &pp, &gp, NULL);
    CHECK_NEAR(p[0], -2.9, 1e-6);
    weft_optim_free(o);
    /* warm-up 10 then cosine to 0.1 at step 110 */
    c = (weft_optim_config){.lr = 1, .warmup = 10, .decay_steps = 110, .min_lr_frac = 0.1};
    CHECK_NEAR(weft_optim_lr(&c, 0), 0.1, 1e-12);
    CHECK_NEAR(weft_optim_lr(&c, 9), 1.0, 1e-12);
    CHECK_NEAR(weft_optim_lr(&c, 10), 1.0, 1e-12);
    CHECK_NEAR(weft_optim_lr(&c, 60), 0.55, 1e-12);
    CHECK_NEAR(weft_optim_lr(&c, 110), 0.1, 1e-12);
    CHECK_NEAR(weft_optim_lr(&c, 500), 0.1, 1e-12);
    CHECK_INT(weft_optim_parse("adamw"), WEFT_OPT_ADAMW);
    CHECK_INT(weft_optim_parse("adam"), -1);
}

/* The loss of a tiny GPT falls over 30 AdamW steps on the license text, and so does its
 * validation loss. */
TEST(train_loss_falls) {
    weft_err err = {0};
    weft_train_config c = weft_train_defaults();
    c.optim.lr = 1e-2;
    c.optim.warmup = 3;
    c.optim.decay_steps = 30;
    weft_trainer *t = NULL;
    CHECK_OK(weft_train_new("builtin:gpt:layers=1,dim=32,heads=2,vocab=64,seq=16,batch=4", &c, &t, &err), &err);
    if (!t) return;
    weft_data *d = data_for(t);
    double v0 = 0, v1 = 0, first = 0, last = 0;
    CHECK_OK(weft_train_validate(t, d, 4, &v0, &err), &err);
    for (int s = 0; s < 30; s++) {
        weft_step_result r;
        CHECK_OK(weft_train_step(t, d, &r, &err), &err);
        if (s < 5) first += r.loss / 5;
        if (s >= 25) last += r.loss / 5;
    }
    CHECK_OK(weft_train_validate(t, d, 4, &v1, &err), &err);
    CHECK(v0 > 4.0 && v0 < 4.3); /* ln 64 = 4.16 */
    if (!(last < first - 0.5 && v1 < v0 - 0.5))
        weft_test_fail(__FILE__, __LINE__, "loss %.4f -> %.4f, validation %.4f -> %.4f: not falling", first, last, v0, v1);
    weft_data_free(d);
    weft_train_free(t);
}

/* The CLI, when the weft binary of this build has `weft train`: bad input refused with a message
 * naming the option or file, nothing overwritten; a run stopped at step 10 and resumed gives the
 * checkpoint of 20 steps straight, byte for byte. */
#define sh weft_test_sh

static bool same_file(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    while (same) {
        int x = fgetc(fa), y = fgetc(fb);
        if (x != y) same = false;
        if (x == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

TEST(train_cli) {
    const char *bd = weft_test_builddir();
    char cmd[16384], out[16384], log[1024], dir_a[1024], dir_b[1024], ca[1100], cb[1100];
    snprintf(cmd, sizeof cmd, "%s/weft train --help 2>&1", bd);
    if (sh(cmd, out, sizeof out) != 0 || !strstr(out, "--steps")) {
        weft_test_fail(__FILE__, __LINE__, "%s/weft train --help does not list --steps:\n%s", bd, out);
        return;
    }
    const char *m = "builtin:gpt:layers=1,dim=32,heads=2,vocab=64,seq=16";
    snprintf(log, sizeof log, "%s/test_train_cli.csv", bd);
    FILE *f = fopen(log, "w");
    if (f) { fputs("keep me\n", f); fclose(f); }
    snprintf(cmd, sizeof cmd, "%s/weft train %s --steps 3 --lr abc --log %s 2>&1", bd, m, log);
    CHECK(sh(cmd, out, sizeof out) != 0 && strstr(out, "--lr") && strstr(out, "abc"));
    snprintf(cmd, sizeof cmd, "%s/weft train %s --steps 3 --data /nonexistent/text --log %s 2>&1", bd, m, log);
    CHECK(sh(cmd, out, sizeof out) != 0 && strstr(out, "/nonexistent/text"));
    snprintf(cmd, sizeof cmd, "%s/weft train %s --steps 3 --precision fp8 --log %s 2>&1", bd, m, log);
    CHECK(sh(cmd, out, sizeof out) != 0 && strstr(out, "fp8") && strstr(out, "bf16"));
    char buf[64] = "";
    f = fopen(log, "r");
    if (f) { if (!fgets(buf, sizeof buf, f)) buf[0] = 0; fclose(f); }
    CHECK(!strcmp(buf, "keep me\n")); /* nothing overwritten */
    /* straight vs stopped + resumed */
    snprintf(dir_a, sizeof dir_a, "%s/test_train_ckpt_a", bd);
    snprintf(dir_b, sizeof dir_b, "%s/test_train_ckpt_b", bd);
    snprintf(cmd, sizeof cmd, "rm -rf %s %s; %s/weft train %s --steps 20 --warmup 2 --checkpoint %s --log %s 2>&1", dir_a, dir_b, bd,
             m, dir_a, log);
    CHECK_INT(sh(cmd, out, sizeof out), 0);
    snprintf(cmd, sizeof cmd, "%s/weft train %s --steps 20 --warmup 2 --checkpoint %s --stop-at 10 2>&1", bd, m, dir_b);
    CHECK_INT(sh(cmd, out, sizeof out), 0);
    snprintf(cmd, sizeof cmd, "%s/weft train %s --steps 20 --warmup 2 --checkpoint %s --resume 2>&1", bd, m, dir_b);
    CHECK_INT(sh(cmd, out, sizeof out), 0);
    snprintf(ca, sizeof ca, "%s/checkpoint.weft", dir_a);
    snprintf(cb, sizeof cb, "%s/checkpoint.weft", dir_b);
    CHECK(same_file(ca, cb));
    /* the log: a header and 20 rows, validation on some */
    f = fopen(log, "r");
    int rows = 0, with_val = 0;
    char line[512];
    if (f) {
        CHECK(fgets(line, sizeof line, f) && !strcmp(line, "step,loss,val_loss,lr,sim_seconds,host_seconds\n"));
        while (fgets(line, sizeof line, f)) {
            rows++;
            char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL; /* around loss */
            with_val += c2 && c2[1] != ',';
        }
        fclose(f);
    }
    CHECK_INT(rows, 20);
    CHECK(with_val >= 2 && with_val < 20);
    /* another model's checkpoint: refused, naming the file */
    snprintf(cmd, sizeof cmd, "%s/weft train builtin:gpt:layers=1,dim=32,heads=2,vocab=64,seq=8 --steps 30 --checkpoint %s --resume 2>&1",
             bd, dir_b);
    CHECK(sh(cmd, out, sizeof out) != 0 && strstr(out, cb) && strstr(out, "another model"));
    CHECK(same_file(ca, cb)); /* untouched */
}

/* PyTorch as the outside oracle: the same GPT from weft's initial weights, the same 20 batches,
 * 20 AdamW steps (clipping on), the same losses within 1e-3 relative. */
TEST(train_pytorch_gpt_agrees) {
    if (system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
        /* make test installs it (scripts/deps.sh): its absence is a broken set-up, not a pass */
        weft_test_fail(__FILE__, __LINE__, "/usr/bin/python3 has no torch: apt-get install python3-torch");
        return;
    }
    weft_err err = {0};
    const char *spec = "builtin:gpt:layers=2,dim=32,heads=2,vocab=64,seq=16,batch=2";
    weft_train_config c = weft_train_defaults();
    c.optim.lr = 3e-3;
    c.optim.weight_decay = 0.1;
    c.optim.clip = 1.0;
    weft_trainer *t = NULL;
    CHECK_OK(weft_train_new(spec, &c, &t, &err), &err);
    if (!t) return;
    weft_data *d = data_for(t);
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/train_oracle", weft_test_builddir());
    mkdir(dir, 0755);
    /* manifest: name and shape of every parameter, in order; params.bin: their fp32 data */
    snprintf(path, sizeof path, "%s/manifest.txt", dir);
    FILE *mf = fopen(path, "w");
    snprintf(path, sizeof path, "%s/params.bin", dir);
    FILE *pf = fopen(path, "wb");
    snprintf(path, sizeof path, "%s/batches.bin", dir);
    FILE *bf = fopen(path, "wb");
    CHECK(mf && pf && bf);
    if (!mf || !pf || !bf) return;
    fprintf(mf, "config layers=2 dim=32 heads=2 vocab=64 seq=16 batch=2 lr=%.17g wd=%.17g clip=%.17g steps=20\n", c.optim.lr,
            c.optim.weight_decay, c.optim.clip);
    for (int i = 0; i < t->n_params; i++) {
        const weft_value *v = &t->g->vals[t->param[i]];
        fprintf(mf, "%s", v->name);
        for (int k = 0; k < v->shape.ndim; k++) fprintf(mf, " %lld", (long long)v->shape.d[k]);
        fprintf(mf, "\n");
        fwrite(v->data.data, sizeof(float), (size_t)t->numel[i], pf);
    }
    fclose(mf);
    fclose(pf);
    /* the 20 batches weft will draw: a copy of the sampler, so the trainer draws the same */
    weft_data copy = *d;
    for (int s = 0; s < 20; s++) {
        weft_tensor in[2];
        CHECK_OK(weft_train_batch(t, &copy, -1, in, &err), &err);
        fwrite(in[0].data, 1, weft_tensor_nbytes(&in[0]), bf);
        fwrite(in[1].data, 1, weft_tensor_nbytes(&in[1]), bf);
        weft_tensor_free(&in[0]);
        weft_tensor_free(&in[1]);
    }
    fclose(bf);
    double weft_loss[20];
    for (int s = 0; s < 20; s++) {
        weft_step_result r;
        CHECK_OK(weft_train_step(t, d, &r, &err), &err);
        weft_loss[s] = r.loss;
    }
    char cmd[4096], out[8192];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/pytorch/train_gpt.py %s 2>&1", weft_test_srcdir(), dir);
    int rc = sh(cmd, out, sizeof out);
    CHECK_INT(rc, 0);
    char *p = out;
    int n = 0;
    double worst = 0;
    while (n < 20 && (p = strstr(p, "loss "))) {
        double l = strtod(p + 5, &p);
        double rel = fabs(l - weft_loss[n]) / fabs(l);
        if (rel > worst) worst = rel;
        if (rel > 1e-3) weft_test_fail(__FILE__, __LINE__, "step %d: PyTorch loss %.6f, weft %.6f", n + 1, l, weft_loss[n]);
        n++;
    }
    CHECK_INT(n, 20);
    if (n != 20) printf("%s\n", out);
    printf("    (PyTorch vs weft over 20 AdamW steps: worst relative loss difference %.3g; loss %.4f -> %.4f)\n", worst, weft_loss[0],
           weft_loss[19]);
    weft_data_free(d);
    weft_train_free(t);
}

/* ---- checkpoint fields (issue 13 item 5): a matching checksum is not a sane checkpoint ---- */

#define CKPT_SPEC "builtin:mlp:in=8,hidden=4,out=2,batch=2"

/* Copies the checkpoint src to dst with `len` bytes at body offset `field` replaced by `bytes`,
 * and the checksum recomputed: a file only the fields make bad. */
static bool ckpt_patch(const char *src, const char *dst, size_t field, const void *bytes, size_t len) {
    FILE *f = fopen(src, "rb");
    if (!f) return false;
    uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n < 24 || 16 + field + len > n - 8) return false;
    memcpy(buf + 16 + field, bytes, len);
    uint64_t h = weft_fnv64(buf, n - 8);
    for (int i = 0; i < 8; i++) buf[n - 8 + i] = (uint8_t)(h >> (8 * i));
    f = fopen(dst, "wb");
    if (!f) return false;
    bool ok = fwrite(buf, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

TEST(train_checkpoint_fields_range_checked) {
    weft_err err = {0};
    weft_train_config c = weft_train_defaults();
    weft_trainer *a = NULL;
    CHECK_OK(weft_train_new(CKPT_SPEC, &c, &a, &err), &err);
    if (!a) return;
    weft_data *d = data_for(a);
    weft_step_result r;
    for (int s = 0; s < 3; s++) CHECK_OK(weft_train_step(a, d, &r, &err), &err);
    char good[1024];
    ckpt_path(good, sizeof good, "fields");
    CHECK_OK(weft_checkpoint_save(a, d, good, &err), &err);
    /* body offsets after the model hash and the spec string */
    size_t base = 8 + 8 + strlen(CKPT_SPEC);
    enum { STEP = 0, OPT_STEP = 16, RNG_INC = 32, POSITION = 40, SCALE = 64, GOOD = 72 };
    const int64_t minus = -1000000000, big = INT64_MAX, four = 4, two_k = 2000, even = 6;
    const uint64_t pos = (uint64_t)1 << 62;
    const double nan_ = NAN, scale2 = 2.0;
    const struct { const char *name; size_t off; const void *v; size_t len; const char *field; } bad[] = {
        {"step_negative", STEP, &minus, 8, "'step'"},
        {"step_int64_max", STEP, &big, 8, "'step'"},
        {"opt_step_past_step", OPT_STEP, &four, 8, "'optimizer step'"},
        {"opt_step_negative", OPT_STEP, &minus, 8, "'optimizer step'"},
        {"rng_inc_even", RNG_INC, &even, 8, "'rng inc'"},
        {"samples_huge", POSITION, &pos, 8, "'samples drawn'"},
        {"loss_scale_nan", SCALE, &nan_, 8, "'loss scale'"},
        {"loss_scale_not_one", SCALE, &scale2, 8, "'loss scale'"},
        {"good_steps_2000", GOOD, &two_k, 8, "'good steps'"},
    };
    const char *corpus = getenv("WEFT_WRITE_CORPUS"); /* set: also write the files into tests/corpus/checkpoint */
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/test_train_bad_%s.weft", weft_test_builddir(), bad[i].name);
        if (corpus) snprintf(path, sizeof path, "%s/tests/corpus/checkpoint/bad_%s.weft", weft_test_srcdir(), bad[i].name);
        if (!ckpt_patch(good, path, base + bad[i].off, bad[i].v, bad[i].len)) {
            weft_test_fail(__FILE__, __LINE__, "cannot write %s", path);
            continue;
        }
        weft_trainer *b = NULL;
        CHECK_OK(weft_train_new(CKPT_SPEC, &c, &b, &err), &err);
        weft_data *db = data_for(b);
        float w0 = ((float *)b->g->vals[b->param[0]].data.data)[0];
        weft_status s = weft_checkpoint_load(b, db, path, &err);
        if (s != WEFT_ERR_INVALID || !strstr(err.msg, path) || !strstr(err.msg, bad[i].field))
            weft_test_fail(__FILE__, __LINE__, "%s: status %d, expected a refusal naming %s: %s", bad[i].name, s, bad[i].field, err.msg);
        /* a refused checkpoint changes nothing */
        CHECK(b->step == 0 && b->opt->step == 0 && ((float *)b->g->vals[b->param[0]].data.data)[0] == w0);
        weft_data_free(db);
        weft_train_free(b);
    }
    if (corpus) {
        char path[1200];
        snprintf(path, sizeof path, "%s/tests/corpus/checkpoint/good_mlp_3_steps.weft", weft_test_srcdir());
        CHECK_OK(weft_checkpoint_save(a, d, path, &err), &err);
    }
    /* the good one loads */
    weft_trainer *b = NULL;
    CHECK_OK(weft_train_new(CKPT_SPEC, &c, &b, &err), &err);
    weft_data *db = data_for(b);
    CHECK_OK(weft_checkpoint_load(b, db, good, &err), &err);
    CHECK_INT(b->step, 3);
    weft_data_free(db);
    weft_train_free(b);
    weft_data_free(d);
    weft_train_free(a);
}
