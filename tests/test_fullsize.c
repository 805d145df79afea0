/* Full-size acceptance runs: what users come for compiles and simulates on the real machine's
 * mesh, timing only. GPT-2 124M's training step (forward, loss, backward, global-norm clip,
 * AdamW) on wse2 in pipelined mode (under the sanitizers, two blocks of the same widths); GPT-2
 * 124M inference placed with 16, 64 and 256 blocks. */
#include "arch/arch.h"
#include "compile/compile.h"
#include "models/models.h"
#include "sim/run.h"
#include "train/train.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define GPT2_SPEC "builtin:gpt2:layers=2"
#else
#define GPT2_SPEC "builtin:gpt2"
#endif

/* Compiles g on a (blocks 0: the compiler's choice), simulates `passes` passes timing only and
 * checks the figures are sane: every tile within the mesh, no peak beaten. */
static void compile_and_time(const weft_graph *g, const weft_arch *a, int blocks, int passes, const char *what) {
    weft_err err = {0};
    weft_program *p = NULL;
    weft_compile_opts co = {.max_blocks = blocks, .timing_only = true};
    CHECK_OK(weft_compile(g, a, &co, &p, &err), &err);
    if (!p) return;
    weft_sim_opts o = {.timing_only = true, .passes = passes};
    weft_sim_stats st;
    CHECK_OK(weft_sim_run(p, NULL, 0, NULL, g->n_outputs, &o, &st, &err), &err);
    if (!err.status) {
        int64_t tokens = 1;
        for (int j = 0; j < g->n_inputs; j++)
            if (g->vals[g->inputs[j]].dtype == WEFT_I64) tokens = weft_shape_numel(&g->vals[g->inputs[j]].shape);
        printf("    %-24s %d blocks: latency %llu cycles (%.2f ms), period %llu cycles, %.4g samples/s, %.4g tokens/s, %lld tiles\n",
               what, p->blocks, (unsigned long long)st.cycles, st.seconds * 1e3, (unsigned long long)st.period_cycles,
               (double)p->samples * st.passes_per_s, (double)tokens * st.passes_per_s, (long long)st.tiles_used);
        CHECK(st.cycles > 0 && st.period_cycles > 0);
        CHECK(st.tiles_used <= (int64_t)a->width * a->height);
        CHECK(st.achieved_flops <= st.peak_flops * 1.0001);
        CHECK(st.link_load_max <= 1.0001);
        if (blocks) CHECK_INT(p->blocks, blocks);
    }
    weft_program_free(p);
}

TEST(fullsize_gpt2_training_step_on_wse2) {
    weft_err err = {0};
    weft_arch a;
    CHECK_OK(weft_arch_preset("wse2", &a, &err), &err);
    weft_train_config c = weft_train_defaults();
    c.arch = &a;
    weft_trainer *t = NULL;
    CHECK_OK(weft_train_new(GPT2_SPEC, &c, &t, &err), &err);
    if (!t) return;
    compile_and_time(t->gu, &a, 0, 2, GPT2_SPEC " train");
    weft_train_free(t);
}

/* In bf16 (mixed precision) too: the parameters' casts are folded, and their updates and
 * gradients still sit beside the layers (routing found no channel when they did not). And the
 * full-size step in weight streaming at the Model Zoo's GPT-2 small configuration's shape, one
 * micro-batch of 4 x 2048 tokens. */
TEST(fullsize_gpt2_training_step_bf16_and_weight_streaming) {
    weft_err err = {0};
    weft_arch a;
    CHECK_OK(weft_arch_preset("wse2", &a, &err), &err);
    weft_train_config c = weft_train_defaults();
    c.arch = &a;
    c.precision = WEFT_BF16;
    weft_trainer *t = NULL;
    char spec[256], s2[256];
    CHECK_OK(weft_model_spec_set(GPT2_SPEC, "shapes_only", 1, spec, sizeof spec, &err), &err);
    CHECK_OK(weft_train_new(spec, &c, &t, &err), &err);
    if (!t) return;
    compile_and_time(t->gu, &a, 0, 2, GPT2_SPEC " train bf16");
    weft_train_free(t);
    t = NULL;
    CHECK_OK(weft_model_spec_set(spec, "batch", 4, s2, sizeof s2, &err), &err);
    CHECK_OK(weft_model_spec_set(s2, "seq", 2048, spec, sizeof spec, &err), &err);
    CHECK_OK(weft_model_spec_set(spec, "positions", 2048, s2, sizeof s2, &err), &err);
    CHECK_OK(weft_train_new(s2, &c, &t, &err), &err);
    if (!t) return;
    weft_program *p = NULL;
    weft_compile_opts co = {.timing_only = true, .mode = "weight-streaming"};
    CHECK_OK(weft_compile(t->gu, &a, &co, &p, &err), &err);
    if (p) {
        weft_sim_opts o = {.timing_only = true, .passes = 1};
        weft_sim_stats st;
        CHECK_OK(weft_sim_run(p, NULL, 0, NULL, t->gu->n_outputs, &o, &st, &err), &err);
        printf("    weight streaming, 4 x 2048 bf16: %.4g samples/s, %.3g GB of weights in, %.1f%% of the bf16 peak\n",
               4 * st.passes_per_s, (double)st.weight_bytes_in * 1e-9, 100 * st.achieved_flops / st.peak_flops);
        CHECK(st.weight_bytes_in > 0 && st.achieved_flops <= st.peak_flops * 1.0001);
    }
    weft_program_free(p);
    weft_train_free(t);
}

TEST(fullsize_gpt2_places_with_16_64_256_blocks) {
    weft_err err = {0};
    weft_arch a;
    CHECK_OK(weft_arch_preset("wse2", &a, &err), &err);
    weft_graph *g = NULL;
    CHECK_OK(weft_model_load_shapes(GPT2_SPEC, &g, &err), &err);
    if (!g) return;
    for (int b = 16; b <= 256; b *= 4) compile_and_time(g, &a, b, 1, GPT2_SPEC);
    weft_graph_free(g);
}

/* ResNet-50's training step at batch 64 in bf16 on wse2, pipelined: its images stream in under
 * back-pressure (the first layer's buffer holds its plan; they used to queue there beyond SRAM
 * and fail the run). */
TEST(fullsize_resnet50_training_step_batch_64) {
    weft_err err = {0};
    weft_arch a;
    CHECK_OK(weft_arch_preset("wse2", &a, &err), &err);
    weft_train_config c = weft_train_defaults();
    c.arch = &a;
    c.precision = WEFT_BF16;
    weft_trainer *t = NULL;
#if defined(__SANITIZE_ADDRESS__)
    const char *spec = "builtin:resnet:batch=64,image=64,classes=1000,shapes_only=1";  /* (the same law, smaller, under the sanitizers) */
#else
    const char *spec = "builtin:resnet:batch=64,image=224,classes=1000,shapes_only=1";
#endif
    CHECK_OK(weft_train_new(spec, &c, &t, &err), &err);
    if (!t) return;
    weft_program *p = NULL;
    weft_compile_opts co = {.timing_only = true};
    CHECK_OK(weft_compile(t->gu, &a, &co, &p, &err), &err);
    if (p) {
        weft_sim_opts o = {.timing_only = true, .passes = 2};
        weft_sim_stats st;
        CHECK_OK(weft_sim_run(p, NULL, 0, NULL, t->gu->n_outputs, &o, &st, &err), &err);
        printf("    resnet-50 train b64 bf16 on wse2 (%s): %.4g samples/s, SRAM per tile at most %lld B\n", p->mode,
               64 * st.passes_per_s, (long long)st.sram_bytes_max);
        CHECK(st.sram_bytes_max <= a.kinds[0].sram_bytes);
    }
    weft_program_free(p);
    weft_train_free(t);
}
