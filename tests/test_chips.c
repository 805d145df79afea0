/* Machines of several chips: data parallel training timed on the chip network. The program is
 * one chip's share of the batch; every parameter's gradient is summed over the replicas on its
 * way to the optimizer (a switch in weight streaming, an all-reduce otherwise); the report adds
 * what the communication costs. Checked: the bytes summed are the gradients' bytes, once each;
 * weak scaling never loses samples/s; nothing beats linear scaling; refusals name the reason. */
#include "arch/arch.h"
#include "compile/compile.h"
#include "sim/run.h"
#include "test.h"
#include "train/train.h"

#include <math.h>
#include <string.h>
#include <sys/wait.h>

#define GPT "builtin:gpt:layers=2,dim=64,heads=2,vocab=64,seq=32,batch=2,shapes_only=1"

typedef struct {
    double rate;      /* the system's samples/s */
    double alone;     /* one chip running its share alone, samples/s */
    int64_t net_bytes, grad_bytes;
    bool ok;
} dp_run;

/* A training step of spec (its batch is one chip's share) on `replicas` chips of a, timed. */
static dp_run dp_time(const char *spec, const weft_arch *a, int replicas, const char *mode) {
    dp_run r = {0};
    weft_err err = {0};
    weft_train_config c = weft_train_defaults();
    c.arch = a;
    weft_trainer *t = NULL;
    CHECK_OK(weft_train_new(spec, &c, &t, &err), &err);
    if (!t) return r;
    weft_program *p = NULL;
    weft_compile_opts co = {.timing_only = true, .mode = mode, .replicas = replicas};
    CHECK_OK(weft_compile(t->gu, a, &co, &p, &err), &err);
    if (p) {
        weft_sim_opts o = {.timing_only = true, .passes = 3};
        weft_sim_stats st;
        CHECK_OK(weft_sim_run(p, NULL, 0, NULL, t->gu->n_outputs, &o, &st, &err), &err);
        CHECK_INT(p->replicas, replicas);
        CHECK_INT(st.replicas, replicas);
        r.rate = (double)(p->samples * replicas) * st.passes_per_s;
        r.alone = (double)p->samples * a->clock_hz / (double)st.alone_period_cycles;
        r.net_bytes = st.chip_net_bytes;
        for (int i = 0; i < t->n_params; i++) r.grad_bytes += t->numel[i] * 4;  /* fp32 gradients */
        r.ok = true;
        if (st.achieved_flops > st.peak_flops * 1.0001)
            weft_test_fail(__FILE__, __LINE__, "%s on %d chips: %.4g FLOP/s beats the peak %.4g", a->name, replicas, st.achieved_flops,
                           st.peak_flops);
        printf("    %-12s %-16s %d chip%s: %10.6g samples/s (alone %10.6g a chip), %lld B of gradients summed, efficiency %.3f\n",
               a->name, mode ? mode : "auto", replicas, replicas == 1 ? " " : "s", r.rate, r.alone, (long long)r.net_bytes,
               (double)st.alone_period_cycles / (double)st.period_cycles);
    }
    weft_program_free(p);
    weft_train_free(t);
    return r;
}

/* Weak scaling: 1, 2 and 4 chips, each with the same share. The gradients are summed once each
 * (none on one chip); more chips never lose samples/s; none beats linear scaling. */
static void weak_scaling(const weft_arch *a, const char *mode) {
    dp_run last = {0};
    for (int R = 1; R <= 4; R *= 2) {
        dp_run r = dp_time(GPT, a, R, mode);
        if (!r.ok) return;
        CHECK_INT(r.net_bytes, R > 1 ? r.grad_bytes : 0);
        if (r.rate > R * r.alone * 1.0001)
            weft_test_fail(__FILE__, __LINE__, "%s, %d chips: %.6g samples/s beats %d x one chip alone (%.6g)", a->name, R, r.rate, R, r.alone);
        if (last.ok && r.rate < 0.95 * last.rate)
            weft_test_fail(__FILE__, __LINE__, "%s: %d chips are slower than %d: %.6g -> %.6g samples/s", a->name, R, R / 2, last.rate, r.rate);
        last = r;
    }
}

TEST(chips_data_parallel_weak_scaling) {
    weft_err err = {0};
    weft_arch sw, ring;
    CHECK_OK(weft_arch_preset("mesh-32x32x4", &sw, &err), &err);
    weak_scaling(&sw, "pipelined");
    weak_scaling(&sw, "weight-streaming");
    ring = sw;  /* a slow ring, where the sums cost time */
    ring.chip_net = WEFT_NET_RING;
    ring.chip_link_bytes_per_s = 1e9;
    weak_scaling(&ring, "pipelined");
    weft_arch sn;
    CHECK_OK(weft_arch_preset("sn30-node", &sn, &err), &err);
    weak_scaling(&sn, "sections");
}

/* More of the chip network is never slower; a network so slow that the sums dominate shows in
 * the exposed time (the sums are the step's bottleneck, not hidden). */
TEST(chips_laws_of_the_network) {
    weft_err err = {0};
    weft_arch a;
    CHECK_OK(weft_arch_preset("mesh-32x32x4", &a, &err), &err);
    a.chip_net = WEFT_NET_RING;
    a.chip_link_bytes_per_s = 1e9;
    for (int m = 0; m < 2; m++) {
        const char *mode = m ? "weight-streaming" : "pipelined";
        if (m) a.chip_net = WEFT_NET_SWITCH;
        weft_arch b = a;
        dp_run base = dp_time(GPT, &a, 4, mode);
        b.chip_link_bytes_per_s *= 4;
        dp_run wide = dp_time(GPT, &b, 4, mode);
        b = a;
        b.chip_link_latency_s /= 4;
        dp_run quick = dp_time(GPT, &b, 4, mode);
        if (base.ok && wide.ok && wide.rate < 0.95 * base.rate)
            weft_test_fail(__FILE__, __LINE__, "%s: chip links x4 are slower: %.6g -> %.6g", mode, base.rate, wide.rate);
        if (base.ok && quick.ok && quick.rate < 0.95 * base.rate)
            weft_test_fail(__FILE__, __LINE__, "%s: chip latency / 4 is slower: %.6g -> %.6g", mode, base.rate, quick.rate);
    }
    /* a ring at 1 GB/s: the gradients' sums are not hidden */
    a.chip_net = WEFT_NET_RING;
    dp_run slow = dp_time(GPT, &a, 4, "pipelined");
    if (slow.ok) CHECK(slow.rate < 0.9 * 4 * slow.alone);
}

/* What cannot run says why: more replicas than chips, weight streaming without a reducing switch,
 * one replica's outputs asked of several; the CLI's batch that does not divide over the chips. */
TEST(chips_refusals) {
    weft_err err = {0};
    weft_arch a;
    CHECK_OK(weft_arch_preset("mesh-32x32x4", &a, &err), &err);
    weft_train_config c = weft_train_defaults();
    c.arch = &a;
    weft_trainer *t = NULL;
    CHECK_OK(weft_train_new("builtin:gpt:layers=1,dim=32,heads=2,vocab=64,seq=16,batch=2", &c, &t, &err), &err);
    if (!t) return;
    weft_program *p = NULL;
    weft_compile_opts co = {.replicas = 8};
    CHECK_INT(weft_compile(t->gu, &a, &co, &p, &err), WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, "8 replicas on mesh-32x32x4: it has 4 chips"));
    weft_arch ring = a;
    ring.chip_net = WEFT_NET_RING;
    co = (weft_compile_opts){.mode = "weight-streaming", .replicas = 2};
    CHECK_INT(weft_compile(t->gu, &ring, &co, &p, &err), WEFT_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "not a switch"));
    co = (weft_compile_opts){.replicas = 2};
    CHECK_OK(weft_compile(t->gu, &a, &co, &p, &err), &err);
    if (p) {
        weft_sim_opts o = {0};
        weft_sim_stats st;
        weft_tensor *out = weft_xcalloc((size_t)t->gu->n_outputs, sizeof *out);
        /* with numbers, every replica's outputs and inputs */
        CHECK_INT(weft_sim_run(p, NULL, 0, out, t->gu->n_outputs, &o, &st, &err), WEFT_ERR_INVALID);
        CHECK(strstr(err.msg, "outputs (all replicas')"));
        free(out);
    }
    weft_program_free(p);
    weft_train_free(t);
    char cmd[2048], out[4096];
    snprintf(cmd, sizeof cmd, "%s/weft run 'builtin:gpt:layers=1,dim=32,heads=2,vocab=64,seq=16' --arch mesh-32x32x4 --train "
             "--timing-only --batch 6 2>&1", weft_test_builddir());
    FILE *f = popen(cmd, "r");
    if (!f) return;
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = 0;
    int st = pclose(f);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    CHECK(strstr(out, "--batch 6 does not divide over the 4 replicas of mesh-32x32x4"));
}

/* Data parallel with numbers: a training step on R replicas (each its share of the batch, the
 * gradients summed over them in a fixed order before the optimizer) equals the reference
 * executor's step on the whole batch within the fabric's tolerance, loss and weights, for the
 * small GPT and the MLP on 2 and 4 chips; the same run twice gives the same bits. */
static weft_trainer *dp_trainer(const char *spec_fmt, int batch, const weft_arch *a, int replicas) {
    char spec[256];
    snprintf(spec, sizeof spec, spec_fmt, batch);
    weft_err err = {0};
    weft_train_config c = weft_train_defaults();
    c.arch = a;
    c.replicas = replicas;
    c.optim.kind = WEFT_OPT_MOMENTUM;
    c.optim.lr = 0.05;
    weft_trainer *t = NULL;
    CHECK_OK(weft_train_new(spec, &c, &t, &err), &err);
    return t;
}

static weft_data *dp_data(const weft_trainer *t) {
    weft_data *d = NULL;
    weft_err err = {0};
    if (t->g->vals[t->input].dtype == WEFT_I64) CHECK_OK(weft_data_text_open(NULL, 0.1, &d, &err), &err);
    else d = weft_data_synthetic(WEFT_DATA_TEACHER);
    return d;
}

static void dp_matches_reference(const char *spec_fmt, int global) {
    weft_err err = {0};
    weft_arch a;
    CHECK_OK(weft_arch_preset("mesh-32x32x4", &a, &err), &err);
    for (int R = 2; R <= 4; R *= 2) {
        weft_trainer *ref = dp_trainer(spec_fmt, global, NULL, 0), *dp = dp_trainer(spec_fmt, global / R, &a, R),
                     *again = dp_trainer(spec_fmt, global / R, &a, R);
        weft_data *dr = ref ? dp_data(ref) : NULL, *dd = dp ? dp_data(dp) : NULL, *da = again ? dp_data(again) : NULL;
        for (int step = 0; step < 3 && dr && dd && da; step++) {
            weft_step_result rr, rd, ra;
            CHECK_OK(weft_train_step(ref, dr, &rr, &err), &err);
            CHECK_OK(weft_train_step(dp, dd, &rd, &err), &err);
            CHECK_OK(weft_train_step(again, da, &ra, &err), &err);
            if (step == 0) printf("    %s, %d chips of %d: loss %.7f, reference (batch %d) %.7f\n", spec_fmt, R, global / R, rd.loss, global, rr.loss);
            if (fabs(rd.loss - rr.loss) > 1e-4 * fabs(rr.loss) + 1e-6)
                weft_test_fail(__FILE__, __LINE__, "%d chips, step %d: loss %.9g, reference %.9g", R, step, rd.loss, rr.loss);
            CHECK(rd.loss == ra.loss);
            for (int i = 0; i < ref->n_params; i++) {
                const float *x = dp->g->vals[dp->param[i]].data.data, *y = ref->g->vals[ref->param[i]].data.data,
                            *z = again->g->vals[again->param[i]].data.data;
                double scale = 0, worst = 0;
                for (int64_t k = 0; k < ref->numel[i]; k++) scale = fmax(scale, fabs(y[k]));
                for (int64_t k = 0; k < ref->numel[i]; k++) {
                    double e = fabs((double)x[k] - y[k]) - 1e-4 * (fabs(y[k]) + 1e-3 * scale) - 1e-12;
                    if (e > worst) worst = e;
                }
                if (worst > 0)
                    weft_test_fail(__FILE__, __LINE__, "%d chips, step %d: parameter '%s' beyond 1e-4 relative by %g", R, step,
                                   ref->g->vals[ref->param[i]].name, worst);
                if (memcmp(x, z, (size_t)ref->numel[i] * sizeof *x))
                    weft_test_fail(__FILE__, __LINE__, "%d chips: two runs differ in '%s'", R, ref->g->vals[ref->param[i]].name);
            }
        }
        weft_data_free(dr);
        weft_data_free(dd);
        weft_data_free(da);
        weft_train_free(ref);
        weft_train_free(dp);
        weft_train_free(again);
    }
}

TEST(chips_data_parallel_numbers_match_reference) {
    dp_matches_reference("builtin:gpt:layers=1,dim=32,heads=2,vocab=64,seq=16,batch=%d", 8);
    dp_matches_reference("builtin:mlp:batch=%d", 8);
}
