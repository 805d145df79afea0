/* Mixed precision: a model cast to bf16 / fp16 storage computes close to fp32, trains like it,
 * and fp16 training scales its loss, skipping steps whose gradients overflow. */
#include "grad/precision.h"
#include "models/models.h"
#include "train/train.h"
#include "test.h"

#include <string.h>

TEST(precision_cast_stores_narrow_and_stays_close) {
    weft_err err = {0};
    weft_graph *g = NULL, *h = NULL;
    CHECK_OK(weft_model_load("builtin:gpt:layers=1,dim=32,heads=2,vocab=64,seq=8", &g, &err), &err);
    CHECK_OK(weft_precision_cast(g, WEFT_BF16, &h, &err), &err);
    if (!g || !h) return;
    int narrow = 0, params32 = 0;
    for (int v = 0; v < h->n_vals; v++) {
        if (h->vals[v].kind == WEFT_VAL_ACT && weft_dtype_is_float(h->vals[v].dtype)) {
            CHECK_INT(h->vals[v].dtype, WEFT_BF16);
            narrow++;
        }
        if (h->vals[v].kind == WEFT_VAL_PARAM) { CHECK_INT(h->vals[v].dtype, WEFT_F32); params32++; }
    }
    CHECK(narrow > 20 && params32 > 5);
    int64_t ids[8];
    for (int i = 0; i < 8; i++) ids[i] = (i * 11 + 3) % 64;
    weft_tensor in = {WEFT_I64, WEFT_SHAPE(1, 8), ids, 0}, a = {0}, b = {0};
    const weft_tensor *ins[] = {&in};
    CHECK_OK(weft_ref_run(g, ins, 1, &a, 1, &err), &err);
    CHECK_OK(weft_ref_run(h, ins, 1, &b, 1, &err), &err);
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < weft_tensor_numel(&a); i++) {
        worst = fmax(worst, fabs(weft_tensor_get_f(&a, i) - weft_tensor_get_f(&b, i)));
        scale = fmax(scale, fabs(weft_tensor_get_f(&a, i)));
    }
    CHECK(worst <= 0.05 * scale);  /* bf16 keeps 8 bits: a few per cent through a transformer block */
    weft_tensor_free(&a);
    weft_tensor_free(&b);
    weft_graph_free(g);
    weft_graph_free(h);
}

static double train_loss(weft_dtype prec, const weft_arch *arch, weft_trainer **keep) {
    weft_err err = {0};
    weft_train_config c = weft_train_defaults();
    c.precision = prec;
    c.arch = arch;
    c.optim.lr = 3e-3;
    weft_trainer *t = NULL;
    CHECK_OK(weft_train_new("builtin:gpt:layers=1,dim=32,heads=2,vocab=64,seq=16", &c, &t, &err), &err);
    if (!t) return NAN;
    weft_data *d = NULL;
    CHECK_OK(weft_data_text_open(NULL, 0.1, &d, &err), &err);
    weft_step_result r = {0};
    double last = NAN;
    for (int i = 0; i < 40 && d; i++) {
        CHECK_OK(weft_train_step(t, d, &r, &err), &err);
        if (!r.skipped) last = r.loss;
    }
    weft_data_free(d);
    if (keep) *keep = t;
    else weft_train_free(t);
    return last;
}

TEST(precision_bf16_and_fp16_train_like_fp32) {
    double f32 = train_loss(WEFT_F32, NULL, NULL), bf16 = train_loss(WEFT_BF16, NULL, NULL);
    weft_trainer *t = NULL;
    double f16 = train_loss(WEFT_F16, NULL, &t);
    printf("    loss after 40 steps: fp32 %.4f, bf16 %.4f, fp16 %.4f\n", f32, bf16, f16);
    CHECK(f32 < 4.0);  /* from ln 64 = 4.16 */
    CHECK_NEAR(bf16, f32, 0.05 * f32);
    CHECK_NEAR(f16, f32, 0.05 * f32);
    if (t) {
        CHECK(t->scale_input >= 0);
        /* the first scale, 65536, overflows fp16 gradients here: those steps were skipped and the
         * scale came down */
        CHECK(t->skipped_steps >= 1 && t->loss_scale < 65536);
        weft_train_free(t);
    }
    /* on the fabric, bf16 storage runs at the bf16 rate */
    weft_arch arch;
    weft_err err = {0};
    CHECK_OK(weft_arch_preset("wse2-mini", &arch, &err), &err);
    weft_trainer *fab = NULL;
    double fb = train_loss(WEFT_BF16, &arch, &fab);
    CHECK_NEAR(fb, bf16, 0.02 * bf16);
    if (fab) {
        CHECK(!strcmp(fab->last.peak_dtype, "bf16"));
        weft_train_free(fab);
    }
}
