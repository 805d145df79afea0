/* Tests of the compiler and the fabric simulation: numbers equal to the reference executor,
 * grouped and per-PE runs identical, determinism, and timing against answers known on paper. */
#include "models/models.h"
#include "onnx/onnx_test.h"
#include "arch/cost.h"
#include "compile/compile.h"
#include "sim/run.h"
#include "test.h"

#include <string.h>

/* Seeded inputs for every graph input (floats N(0,1), integers below 64). */
static void make_inputs(const weft_graph *g, weft_tensor *in, const weft_tensor **inp) {
    weft_rng rng;
    weft_rng_seed(&rng, 7, 0);
    weft_err err = {0};
    for (int i = 0; i < g->n_inputs; i++) {
        const weft_value *v = &g->vals[g->inputs[i]];
        CHECK_OK(weft_tensor_alloc(&in[i], v->dtype, v->shape, &err), &err);
        for (int64_t k = 0; k < weft_tensor_numel(&in[i]); k++) {
            float x = weft_rng_normal(&rng);
            int64_t id = weft_rng_u32(&rng) % 64;
            char *dst = (char *)in[i].data + k * (int64_t)weft_dtype_size(v->dtype);
            if (weft_dtype_is_float(v->dtype)) weft_convert(dst, v->dtype, &x, WEFT_F32, 1);
            else weft_convert(dst, v->dtype, &id, WEFT_I64, 1);
        }
        inp[i] = &in[i];
    }
}

/* Compiles spec for arch, runs it grouped and per-PE, and compares with the reference executor
 * (relative 1e-4, absolute 1e-5); grouped and per-PE must agree bit for bit and in cycles, and a
 * second run must repeat the first. */
static void check_graph(weft_graph *g, const char *spec, const char *arch_name);
static void check_graph_on(weft_graph *g, const char *spec, const weft_arch *arch, const char *mode, const char *expect_mode);

static void check_model(const char *spec, const char *arch_name) {
    weft_err err = {0};
    weft_graph *g = NULL;
    CHECK_OK(weft_model_load(spec, &g, &err), &err);
    if (g) check_graph(g, spec, arch_name);
}

/* check_model's checks on graph g (freed here), named spec in messages. */
static void check_graph(weft_graph *g, const char *spec, const char *arch_name) {
    weft_err err = {0};
    weft_arch arch;
    CHECK_OK(weft_arch_preset(arch_name, &arch, &err), &err);
    check_graph_on(g, spec, &arch, NULL, "pipelined");
}

/* The same on machine `arch` in execution mode `mode` (NULL: auto), which must plan it in
 * `expect_mode`. */
static void check_graph_on(weft_graph *g, const char *spec, const weft_arch *a, const char *mode, const char *expect_mode) {
    weft_err err = {0};
    weft_arch arch = *a;
    const char *arch_name = arch.name;
    weft_program *p = NULL;
    weft_compile_opts o = {.mode = mode};
    CHECK_OK(weft_compile(g, &arch, &o, &p, &err), &err);
    if (!p) { weft_graph_free(g); return; }
    if (strcmp(p->mode, expect_mode)) weft_test_fail(__FILE__, __LINE__, "%s on %s: planned %s, expected %s", spec, arch_name, p->mode, expect_mode);
    weft_tensor in[8] = {{0}}, ref[8] = {{0}}, grouped[8] = {{0}}, per_pe[8] = {{0}}, again[8] = {{0}};
    const weft_tensor *inp[8];
    make_inputs(g, in, inp);
    CHECK_OK(weft_ref_run(g, inp, g->n_inputs, ref, g->n_outputs, &err), &err);
    weft_sim_stats s1, s2, s3;
    weft_sim_opts grouped_o = {0}, per_pe_o = {.per_pe = true};
    CHECK_OK(weft_sim_run(p, inp, g->n_inputs, grouped, g->n_outputs, &grouped_o, &s1, &err), &err);
    CHECK_OK(weft_sim_run(p, inp, g->n_inputs, per_pe, g->n_outputs, &per_pe_o, &s2, &err), &err);
    CHECK_OK(weft_sim_run(p, inp, g->n_inputs, again, g->n_outputs, &grouped_o, &s3, &err), &err);
    for (int j = 0; j < g->n_outputs; j++) {
        int64_t n = weft_tensor_numel(&ref[j]);
        double worst = 0;
        for (int64_t i = 0; i < n; i++) {
            double x = weft_tensor_get_f(&grouped[j], i), y = weft_tensor_get_f(&ref[j], i);
            double excess = fabs(x - y) - (1e-5 + 1e-4 * fabs(y));
            if (excess > worst) worst = excess;
        }
        if (worst > 0) weft_test_fail(__FILE__, __LINE__, "%s on %s: output %d beyond tolerance by %g", spec, arch_name, j, worst);
        CHECK(!memcmp(grouped[j].data, per_pe[j].data, weft_tensor_nbytes(&ref[j])));
        CHECK(!memcmp(grouped[j].data, again[j].data, weft_tensor_nbytes(&ref[j])));
        weft_tensor_free(&ref[j]);
        weft_tensor_free(&grouped[j]);
        weft_tensor_free(&per_pe[j]);
        weft_tensor_free(&again[j]);
    }
    CHECK_INT(s1.cycles, s2.cycles);
    CHECK_INT(s1.cycles, s3.cycles);
    CHECK_INT(s1.events, s3.events);
    CHECK(s1.cycles > 0 && s1.flops > 0 && s1.pe_utilization > 0 && s1.pe_utilization < 1);
    CHECK(s1.sram_bytes_max > 0 && s1.sram_bytes_max <= weft_arch_tile_sram(&arch));  /* per tile, averaged over a column pattern */
    CHECK(p->phased ? s1.link_load_max >= 0 : s1.link_load_max > 0);  /* weight streaming: the stash, no edges */
    CHECK(s1.link_load_max <= 1.0);
    for (int i = 0; i < g->n_inputs; i++) weft_tensor_free(&in[i]);
    weft_program_free(p);
    weft_graph_free(g);
}

/* A DenseNet-style graph: layer i reads the concatenation of the input and every earlier
 * layer's output (x and y_1 .. y_{i-1}, 8 features each): Y_i = Relu(Concat(...) W_i), W_i of
 * (8 i, 8); the output is the concatenation of all. Every layer's output fans out to all later
 * layers. */
static weft_graph *dense_graph(int layers) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("dense");
    int outs[64], n = 0;
    outs[n++] = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(16, 8));
    weft_attr axis = {.name = "axis", .type = WEFT_ATTR_INT, .i = 1};
    for (int i = 1; i <= layers; i++) {
        char nm[64];
        int cat = outs[0], y, w;
        if (n > 1) {
            snprintf(nm, sizeof nm, "cat%d", i);
            CHECK_OK(weft_graph_node(g, "Concat", nm, outs, n, &axis, 1, &cat, 1, &err), &err);
        }
        float wv[64 * 8 * 8];
        for (int k = 0; k < 8 * n * 8; k++) wv[k] = 0.3f * sinf(0.7f * (float)(k + 13 * i));
        snprintf(nm, sizeof nm, "w%d", i);
        w = weft_graph_param(g, nm, WEFT_F32, WEFT_SHAPE(8 * n, 8), wv);
        snprintf(nm, sizeof nm, "mm%d", i);
        CHECK_OK(weft_graph_node(g, "MatMul", nm, (int[]){cat, w}, 2, NULL, 0, &y, 1, &err), &err);
        snprintf(nm, sizeof nm, "relu%d", i);
        CHECK_OK(weft_graph_node(g, "Relu", nm, &y, 1, NULL, 0, &outs[n++], 1, &err), &err);
    }
    int all;
    CHECK_OK(weft_graph_node(g, "Concat", "all", outs, n, &axis, 1, &all, 1, &err), &err);
    weft_graph_output(g, all);
    return g;
}

/* Densely connected graphs route within the channel budget and match the reference; where the
 * budget is too small, the error names the edge, the link and why. */
TEST(fabric_dense_graph_routes_or_names_the_edge) {
    check_graph(dense_graph(8), "dense:8", "mesh-32x32");
    check_graph(dense_graph(8), "dense:8", "wse2-mini");
    weft_err err = {0};
    weft_arch a;
    CHECK_OK(weft_arch_preset("mesh-32x32", &a, &err), &err);
    a.channels = 4;  /* two kept inside regions, two for edges */
    weft_graph *g = dense_graph(8);
    weft_program *p = NULL;
    weft_compile_opts o = {.mode = "pipelined"};  /* (auto would stream the weights: no edges to route) */
    weft_status s = weft_compile(g, &a, &o, &p, &err);
    CHECK(s == WEFT_ERR_NOMEM || s == WEFT_ERR_UNSUPPORTED || s == WEFT_ERR_INVALID);
    CHECK(p == NULL);
    printf("    4 channels: %s\n", err.msg);
    if (!strstr(err.msg, "routing: the edge from '") || !strstr(err.msg, "channels"))
        weft_test_fail(__FILE__, __LINE__, "expected the edge that could not be routed and why, got: %s", err.msg);
    weft_program_free(p);
    weft_graph_free(g);
}

TEST(fabric_mlp_matches_reference) {
    check_model("builtin:mlp", "mesh-32x32");
    check_model("builtin:mlp", "wse2-mini");
}

TEST(fabric_gpt_matches_reference) {
    check_model("builtin:gpt:layers=2,dim=128,heads=4,vocab=256,seq=64", "mesh-32x32");
    check_model("builtin:gpt:layers=2,dim=128,heads=4,vocab=256,seq=64", "wse2-mini");
}

TEST(fabric_weather_cnn_matches_reference) {
    check_model("builtin:weather-cnn:lat=16,lon=32", "mesh-32x32");
    check_model("builtin:weather-cnn:lat=16,lon=32", "wse2-mini");
}

TEST(fabric_pytorch_exports_match_reference) {
    const char *cases[] = {"mlp", "cnn", "gpt"};
    weft_arch arch;
    weft_err err = {0};
    CHECK_OK(weft_arch_preset("wse2-mini", &arch, &err), &err);
    weft_onnx_tol tol = {1e-4, 1e-5};
    for (int i = 0; i < 3; i++) {
        char dir[1024], msg[1200];
        snprintf(dir, sizeof dir, "%s/pytorch-cases/pytorch_%s", weft_test_builddir(), cases[i]);
        weft_onnx_result r = weft_onnx_test_case_on(dir, &tol, &arch, msg, sizeof msg);
        if (r != WEFT_ONNX_PASS) weft_test_fail(__FILE__, __LINE__, "%s on wse2-mini: %s", cases[i], msg);
    }
}

/* Weight streaming (asked for, and chosen by auto where the model does not fit pipelined): a
 * layer at a time on the whole mesh, its weights streamed in; the numbers equal the reference,
 * grouped and per-PE alike, for the built-ins and the PyTorch exports. */
static void check_model_mode(const char *spec, const weft_arch *a, const char *mode, const char *expect_mode) {
    weft_err err = {0};
    weft_graph *g = NULL;
    CHECK_OK(weft_model_load(spec, &g, &err), &err);
    if (g) check_graph_on(g, spec, a, mode, expect_mode);
}

TEST(fabric_weight_streaming_matches_reference) {
    weft_err err = {0};
    weft_arch mini, small;
    CHECK_OK(weft_arch_preset("wse2-mini", &mini, &err), &err);
    const char *specs[] = {"builtin:mlp", "builtin:gpt:layers=2,dim=128,heads=4,vocab=256,seq=64", "builtin:weather-cnn:lat=16,lon=32"};
    for (int i = 0; i < 3; i++) check_model_mode(specs[i], &mini, "weight-streaming", "weight-streaming");
    const char *cases[] = {"mlp", "cnn", "gpt"};
    for (int i = 0; i < 3; i++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/pytorch-cases/pytorch_%s/model.onnx", weft_test_builddir(), cases[i]);
        check_model_mode(path, &mini, "weight-streaming", "weight-streaming");
    }
    /* tiles of 1.5 KB: the GPT does not fit pipelined, and auto streams its weights, saying why */
    small = mini;
    small.kinds[0].sram_bytes = 1536;
    weft_graph *g = NULL;
    CHECK_OK(weft_model_load(specs[1], &g, &err), &err);
    weft_program *p = NULL;
    weft_compile_opts o = {0};
    if (g && !weft_compile(g, &small, &o, &p, &err)) {
        printf("    auto on 1.5 KB tiles: %s\n", p->mode_reason);
        CHECK(!strcmp(p->mode, "weight-streaming") && strstr(p->mode_reason, "does not fit pipelined"));
    } else weft_test_fail(__FILE__, __LINE__, "auto on 1.5 KB tiles: %s", err.msg);
    weft_program_free(p);
    if (g) check_graph_on(g, specs[1], &small, NULL, "weight-streaming");
    /* a machine without the mode refuses it by name */
    small.modes = WEFT_MODE_PIPELINED;
    CHECK_OK(weft_model_load(specs[0], &g, &err), &err);
    o.mode = "weight-streaming";
    p = NULL;
    CHECK(weft_compile(g, &small, &o, &p, &err) == WEFT_ERR_UNSUPPORTED && strstr(err.msg, "does not run it"));
    weft_graph_free(g);
}

/* Sections (SambaNova): the graph cut into sections run one after another, each loading its
 * weights, tensors between sections kept or spilled to DDR; the numbers equal the reference for
 * every cut, and auto takes sections on an SN30 too small for the model pipelined. */
TEST(fabric_sections_match_reference) {
    weft_err err = {0};
    weft_arch sn30, small;
    CHECK_OK(weft_arch_preset("sn30", &sn30, &err), &err);
    const char *specs[] = {"builtin:mlp", "builtin:gpt:layers=2,dim=128,heads=4,vocab=256,seq=64", "builtin:weather-cnn:lat=16,lon=32"};
    const char *cuts[] = {"o0", "o1", "o3"};
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 3; i++) {
            weft_graph *g = NULL;
            CHECK_OK(weft_model_load(specs[i], &g, &err), &err);
            if (!g) continue;
            weft_program *p = NULL;
            weft_compile_opts o = {.mode = "sections", .sections = cuts[c]};
            CHECK_OK(weft_compile(g, &sn30, &o, &p, &err), &err);
            if (p) printf("    %s, %s: %d sections\n", specs[i], cuts[c], p->n_phases);
            if (p && !strcmp(cuts[c], "o0")) CHECK_INT(p->n_phases, p->n);
            weft_program_free(p);
            weft_graph_free(g);
        }
    for (int i = 0; i < 3; i++) check_model_mode(specs[i], &sn30, "sections", "sections");
    const char *cases[] = {"mlp", "cnn", "gpt"};
    for (int i = 0; i < 3; i++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/pytorch-cases/pytorch_%s/model.onnx", weft_test_builddir(), cases[i]);
        check_model_mode(path, &sn30, "sections", "sections");
    }
    /* memory units of 768 B: the GPT does not fit pipelined; auto cuts it into sections, which
     * spill what they cannot keep */
    small = sn30;
    small.kinds[1].sram_bytes = 768;
    weft_graph *g = NULL;
    CHECK_OK(weft_model_load(specs[1], &g, &err), &err);
    weft_program *p = NULL;
    weft_compile_opts o = {0};
    if (g && !weft_compile(g, &small, &o, &p, &err)) {
        int64_t spilled = 0;
        for (int j = 0; j < p->n_phases; j++) spilled += p->phases[j].spill_bytes;
        printf("    auto on 768 B memory units: %d sections, %lld bytes spilled: %.120s\n", p->n_phases, (long long)spilled, p->mode_reason);
        CHECK(!strcmp(p->mode, "sections") && strstr(p->mode_reason, "does not fit pipelined") && p->n_phases > 1 && spilled > 0);
    } else weft_test_fail(__FILE__, __LINE__, "auto on 768 B memory units: %s", err.msg);
    weft_program_free(p);
    if (g) check_graph_on(g, specs[1], &small, NULL, "sections");  /* (frees g) */
    /* a GEMM whose weights the whole RDU cannot hold streams them in column chunks, reading its
     * input once per chunk; the numbers stay the reference's */
    small = sn30;
    small.kinds[1].sram_bytes = 4096;
    g = NULL;
    CHECK_OK(weft_model_load("builtin:mlp:in=256,hidden=4096,out=16,batch=4", &g, &err), &err);
    p = NULL;
    o = (weft_compile_opts){.mode = "sections"};
    if (g && !weft_compile(g, &small, &o, &p, &err)) {
        int chunked = 0;
        for (int i = 0; i < p->n; i++) chunked += p->k[i].weight_chunks > 1 && p->k[i].kind == WEFT_KERNEL_GEMM;
        printf("    4 KB memory units: %d GEMMs stream their weights in chunks\n", chunked);
        CHECK(chunked > 0);
        weft_program_free(p);
        check_graph_on(g, "mlp 256-4096-16, 4 KB memory units", &small, "sections", "sections");
    } else if (g) {
        weft_test_fail(__FILE__, __LINE__, "chunked GEMM: %s", err.msg);
        weft_graph_free(g);
    }
}

/* ONNX models re-batched ("PATH#batch=N", --batch): the inputs' leading dimension changes and
 * the numbers still equal the reference; a graph that fixes its batch inside fails naming the node. */
TEST(fabric_onnx_rebatched) {
    char path[1100];
    snprintf(path, sizeof path, "%s/pytorch-cases/pytorch_cnn/model.onnx#batch=5", weft_test_builddir());
    weft_err err = {0};
    weft_graph *g = NULL;
    CHECK_OK(weft_model_load(path, &g, &err), &err);
    if (g) {
        CHECK_INT(g->vals[g->inputs[0]].shape.d[0], 5);
        check_graph(g, path, "wse2-mini");
    }
    snprintf(path, sizeof path, "%s/pytorch-cases/pytorch_gpt/model.onnx#batch=3", weft_test_builddir());
    g = NULL;
    CHECK(weft_model_load(path, &g, &err) != WEFT_OK && g == NULL);
    printf("    %s\n", err.msg);
    CHECK(strstr(err.msg, "re-batched to 3") && strstr(err.msg, "Reshape"));
}

/* Weight streaming's timing on paper: a pass is at least its weights over the off-chip link and
 * at least its layers one after another; more off-chip bandwidth is never slower. */
TEST(fabric_weight_streaming_timing_on_paper) {
    weft_err err = {0};
    weft_arch a;
    CHECK_OK(weft_arch_preset("wse2-mini", &a, &err), &err);
    const char *spec = "builtin:gpt:layers=2,dim=128,heads=4,vocab=256,seq=64,shapes_only=1";
    double last = 0;
    a.offchip_bytes_per_s /= 16;  /* from weight-bound to compute-bound */
    for (int r = 0; r < 3; r++) {
        weft_graph *g = NULL;
        CHECK_OK(weft_model_load_shapes(spec, &g, &err), &err);
        weft_program *p = NULL;
        weft_compile_opts o = {.mode = "weight-streaming", .timing_only = true};
        CHECK_OK(weft_compile(g, &a, &o, &p, &err), &err);
        if (!p) { weft_graph_free(g); return; }
        weft_sim_opts so = {.timing_only = true, .passes = 2};
        weft_sim_stats st;
        CHECK_OK(weft_sim_run(p, NULL, 0, NULL, g->n_outputs, &so, &st, &err), &err);
        int64_t w = 0;
        uint64_t layers = 0;
        for (int j = 0; j < p->n_phases; j++) {
            w += p->phases[j].weight_in_bytes;
            const weft_kernel *k = &p->k[p->phases[j].first_kernel];
            layers += k->block_cycles * (uint64_t)k->blocks;
        }
        double link = (double)w / (a.offchip_bytes_per_s / a.clock_hz);
        printf("    off-chip %.3g GB/s: %llu cycles a pass; weights %lld B (%.0f cycles), layers %llu cycles\n", a.offchip_bytes_per_s * 1e-9,
               (unsigned long long)st.period_cycles, (long long)w, link, (unsigned long long)layers);
        CHECK_INT(st.weight_bytes_in, w);
        CHECK((double)st.period_cycles >= link && st.period_cycles >= layers);
        double rate = st.passes_per_s;
        if (r && rate < last * 0.9999) weft_test_fail(__FILE__, __LINE__, "4x the off-chip bandwidth is slower: %.6g -> %.6g passes/s", last, rate);
        last = rate;
        a.offchip_bytes_per_s *= 4;
        weft_program_free(p);
        weft_graph_free(g);
    }
}

/* A GEMM region: Y(M, N) = X(M, K) W(K, N) with every figure chosen so the tile GEMM is the
 * slowest stage: its stage time is 2 mb kb nb / rate cycles. */
TEST(fabric_gemm_tile_time_on_paper) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("gemm");
    int64_t M = 64, K = 256, N = 256;
    int x = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(M, K));
    int w = weft_graph_param(g, "w", WEFT_F32, WEFT_SHAPE(K, N), NULL);
    int y;
    CHECK_OK(weft_graph_node(g, "MatMul", "mm", (int[]){x, w}, 2, NULL, 0, &y, 1, &err), &err);
    weft_graph_output(g, y);
    weft_arch arch;
    CHECK_OK(weft_arch_preset("mesh-8x8", &arch, &err), &err);
    weft_program *p = NULL;
    weft_compile_opts o = {0};
    CHECK_OK(weft_compile(g, &arch, &o, &p, &err), &err);
    if (p) {
        const weft_kernel *k = &p->k[0];
        CHECK_INT(p->n, 1);
        CHECK_INT(k->kind, WEFT_KERNEL_GEMM);
        int64_t kb = (K + k->pk - 1) / k->pk, nb = (N + k->pn - 1) / k->pn;
        double compute = 2.0 * (double)(k->block_rows * kb * nb) / arch.kinds[0].flops_per_cycle[WEFT_ARCH_FP32];
        CHECK_NEAR((double)k->block_cycles, ceil(compute), 0);
        CHECK_INT(k->block_rows * k->chunks * k->blocks, M);
        /* and every weight sits in exactly one tile */
        CHECK(k->pk * kb >= K && k->pn * nb >= N);
        weft_program_free(p);
    }
    weft_graph_free(g);
}

/* A balanced pipeline: k equal stages process n row blocks in about fill + n * stage. */
TEST(fabric_balanced_pipeline_fill_plus_blocks) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("pipe");
    int64_t M = 64, D = 128;
    int h = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(M, D));
    int layers = 4;
    for (int l = 0; l < layers; l++) {
        char nm[32];
        snprintf(nm, sizeof nm, "w%d", l);
        int w = weft_graph_param(g, nm, WEFT_F32, WEFT_SHAPE(D, D), NULL);
        snprintf(nm, sizeof nm, "mm%d", l);
        CHECK_OK(weft_graph_node(g, "MatMul", nm, (int[]){h, w}, 2, NULL, 0, &h, 1, &err), &err);
    }
    weft_graph_output(g, h);
    weft_arch arch;
    CHECK_OK(weft_arch_preset("mesh-32x32", &arch, &err), &err);
    weft_program *p = NULL;
    weft_compile_opts o = {0};
    CHECK_OK(weft_compile(g, &arch, &o, &p, &err), &err);
    if (p) {
        weft_sim_stats st;
        weft_sim_opts so = {.timing_only = true};
        CHECK_OK(weft_sim_run(p, NULL, 0, NULL, 1, &so, &st, &err), &err);
        uint64_t stage = 0, fill = 0;
        for (int i = 0; i < p->n; i++) {
            CHECK_INT(p->k[i].block_cycles, p->k[0].block_cycles);  /* the four regions are alike */
            if (p->k[i].block_cycles > stage) stage = p->k[i].block_cycles;
            fill += p->k[i].block_latency;
        }
        double predicted = (double)fill + (double)(p->k[0].blocks - 1) * (double)stage;
        /* within the time data spends on the mesh between regions and at the edges */
        CHECK(st.cycles >= predicted);
        CHECK_NEAR((double)st.cycles / predicted, 1.0, 0.15);
        weft_program_free(p);
    }
    weft_graph_free(g);
}

TEST(fabric_too_big_names_the_layer) {
    weft_err err = {0};
    weft_graph *g = NULL;
    weft_arch arch;
    CHECK_OK(weft_arch_preset("mesh-8x8", &arch, &err), &err);
    CHECK_OK(weft_model_load("builtin:mlp:in=4096,hidden=4096", &g, &err), &err);
    weft_program *p = NULL;
    weft_compile_opts o = {0};
    CHECK_INT(weft_compile(g, &arch, &o, &p, &err), WEFT_ERR_NOMEM);
    printf("    %s\n", err.msg);
    CHECK(strstr(err.msg, "does not fit mesh-8x8") && strstr(err.msg, "fc0") && strstr(err.msg, "bytes"));
    CHECK(strstr(err.msg, "pipelined: ") && strstr(err.msg, "weight-streaming: "));  /* why each mode fails */
    /* what it is made of and what would make it fit, with numbers: 4096 x 4096 fp32 weights */
    CHECK(strstr(err.msg, "67.1 MB of weights") && strstr(err.msg, "--precision bf16) would make it about 33.6 MB"));
    weft_graph_free(g);
    /* a batch norm over the whole batch of a CNN: the hint names the batch that fits */
    CHECK_OK(weft_model_load("builtin:unet:batch=64,image=64,features=8", &g, &err), &err);
    if (g) {
        CHECK_INT(weft_compile(g, &arch, &o, &p, &err), WEFT_ERR_NOMEM);
        printf("    %s\n", err.msg);
        CHECK(strstr(err.msg, "the layer would fit a batch of at most 32") && strstr(err.msg, "(it is 64)"));
        weft_graph_free(g);
    }
}

/* An op without a lowering row (TopK) runs as a WHOLE kernel with the generic cost, and its
 * numbers on the fabric are the reference's. */
TEST(fabric_op_without_lowering_row_runs_whole) {
    weft_err err = {0};
    weft_graph *g = weft_graph_new("topk");
    int x = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(4, 8));
    int64_t kv = 2;
    weft_tensor kt = {WEFT_I64, WEFT_SHAPE(1), &kv, 0};
    int k = weft_graph_const(g, "k", &kt), out[2];
    CHECK_OK(weft_graph_node(g, "TopK", "best", (int[]){x, k}, 2, NULL, 0, out, 2, &err), &err);
    weft_graph_output(g, out[0]);
    weft_graph_output(g, out[1]);
    weft_arch arch;
    CHECK_OK(weft_arch_preset("mesh-8x8", &arch, &err), &err);
    weft_program *p = NULL;
    CHECK_OK(weft_compile(g, &arch, NULL, &p, &err), &err);
    if (p) {
        CHECK_INT(p->n, 1);
        CHECK_INT(p->k[0].kind, WEFT_KERNEL_WHOLE);
        weft_tensor in[1] = {{0}}, ref[2] = {{0}}, fab[2] = {{0}};
        const weft_tensor *inp[1];
        make_inputs(g, in, inp);
        weft_sim_opts so = {0};
        weft_sim_stats st;
        CHECK_OK(weft_ref_run(g, inp, 1, ref, 2, &err), &err);
        CHECK_OK(weft_sim_run(p, inp, 1, fab, 2, &so, &st, &err), &err);
        for (int j = 0; j < 2; j++) {
            CHECK(weft_tensor_nbytes(&fab[j]) == weft_tensor_nbytes(&ref[j]));
            if (fab[j].data && ref[j].data) CHECK(!memcmp(fab[j].data, ref[j].data, weft_tensor_nbytes(&ref[j])));
            weft_tensor_free(&fab[j]);
            weft_tensor_free(&ref[j]);
        }
        CHECK(st.cycles > 0);
        weft_tensor_free(&in[0]);
    }
    weft_program_free(p);
    weft_graph_free(g);
}

/* Causal attention streams: the scores and the weighted sum wait only for the prefix of keys and
 * values, in the built-in GPT and in PyTorch's export alike; without the mask they wait whole. */
static int count_prefix_deps(const char *spec_or_path) {
    weft_err err = {0};
    weft_graph *g = NULL;
    weft_arch arch;
    weft_arch_preset("wse2-mini", &arch, &err);
    if (weft_model_load(spec_or_path, &g, &err)) { weft_test_fail(__FILE__, __LINE__, "%s", err.msg); return -1; }
    weft_program *p = NULL;
    weft_compile_opts o = {0};
    int n = 0;
    if (weft_compile(g, &arch, &o, &p, &err)) weft_test_fail(__FILE__, __LINE__, "%s", err.msg);
    else
        for (int i = 0; i < p->n; i++)
            for (int q = 0; q < p->k[i].n_deps; q++) n += p->k[i].dep_kind[q] == WEFT_DEP_PREFIX;
    weft_program_free(p);
    weft_graph_free(g);
    return n;
}

TEST(fabric_causal_attention_streams_a_prefix) {
    CHECK_INT(count_prefix_deps("builtin:gpt:layers=2,dim=64,heads=2,vocab=64,seq=32"), 4);  /* 2 per layer */
    char path[1024];
    snprintf(path, sizeof path, "%s/pytorch-cases/pytorch_gpt/model.onnx", weft_test_builddir());
    CHECK_INT(count_prefix_deps(path), 4);
}

/* SN30: compute kernels on PCU columns with their data in the PMU columns beside them (regions
 * span whole PCU + PMU patterns); the suite's models and the PyTorch exports run and match the
 * reference, and a model too big says how much SRAM the machine has. */
TEST(fabric_sn30_runs_the_suite) {
    check_model("builtin:mlp", "sn30");
    check_model("builtin:gpt", "sn30");
    check_model("builtin:weather-cnn:lat=16,lon=32", "sn30");
    const char *exports[] = {"pytorch_mlp", "pytorch_cnn", "pytorch_gpt"};
    for (int i = 0; i < 3; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/pytorch-cases/%s/model.onnx", weft_test_builddir(), exports[i]);
        check_model(path, "sn30");
    }
    weft_err err = {0};
    weft_graph *g = NULL;
    weft_arch arch;
    CHECK_OK(weft_arch_preset("sn30", &arch, &err), &err);
    CHECK_OK(weft_model_load_shapes("builtin:gpt2", &g, &err), &err);
    weft_program *p = NULL;
    weft_compile_opts pipe = {.mode = "pipelined", .timing_only = true}, any = {.timing_only = true};
    CHECK_INT(weft_compile(g, &arch, &pipe, &p, &err), WEFT_ERR_NOMEM);
    CHECK(strstr(err.msg, "does not fit sn30") != NULL && strstr(err.msg, " 0 GB") == NULL);
    printf("    pipelined: %s\n", err.msg);
    /* auto: GPT-2 124M in sections */
    CHECK_OK(weft_compile(g, &arch, &any, &p, &err), &err);
    if (p) {
        printf("    auto: %s, %d sections\n", p->mode, p->n_phases);
        CHECK(!strcmp(p->mode, "sections") && p->n_phases > 1);
    }
    weft_program_free(p);
    weft_graph_free(g);
}

/* The compiler reports its progress: every plan it tries, each pass it starts, in order. */
typedef struct { int calls, last_plan, plans, placing, routing, bad; } progress_log;

static void log_progress(void *ctx, int plan, int plans, int blocks, const char *pass) {
    progress_log *l = ctx;
    l->calls++;
    if (plan < l->last_plan || plan < 1 || plan > plans || blocks < 1) l->bad++;
    l->last_plan = plan;
    l->plans = plans;
    l->placing += !strcmp(pass, "placing");
    l->routing += !strcmp(pass, "routing");
}

TEST(fabric_compile_reports_progress) {
    weft_err err = {0};
    weft_graph *g = NULL;
    weft_arch a;
    CHECK_OK(weft_arch_preset("wse2-mini", &a, &err), &err);
    CHECK_OK(weft_model_load("builtin:gpt:layers=1,dim=32,heads=2,vocab=32,seq=64", &g, &err), &err);
    for (int timing = 0; timing < 2 && g; timing++) {
        progress_log l = {0};
        weft_compile_opts o = {.timing_only = timing, .progress = log_progress, .progress_ctx = &l};
        weft_program *p = NULL;
        CHECK_OK(weft_compile(g, &a, &o, &p, &err), &err);
        CHECK_INT(l.bad, 0);
        CHECK_INT(l.plans, timing ? 3 : 4);  /* 16, 32, 64 blocks; with weights the chosen one again */
        CHECK_INT(l.last_plan, l.plans);
        CHECK_INT(l.placing, l.plans);
        CHECK_INT(l.routing, l.plans);
        weft_program_free(p);
    }
    weft_graph_free(g);
}

/* The largest SRAM per tile the plan of `spec` on wse2-mini asks for, and its blocks. */
static int64_t planned_sram_max(const char *spec, int *blocks, int *per_seq) {
    weft_err err = {0};
    weft_graph *g = NULL;
    weft_arch arch;
    int64_t most = -1;
    weft_arch_preset("wse2-mini", &arch, &err);
    if (weft_model_load(spec, &g, &err)) { weft_test_fail(__FILE__, __LINE__, "%s", err.msg); return -1; }
    weft_program *p = NULL;
    weft_compile_opts o = {.timing_only = true, .max_blocks = 16};
    if (weft_compile(g, &arch, &o, &p, &err)) weft_test_fail(__FILE__, __LINE__, "%s: %s", spec, err.msg);
    else {
        for (int i = 0; i < p->n; i++)
            if (p->k[i].sram_per_tile > most) most = p->k[i].sram_per_tile;
        *blocks = p->blocks;
        *per_seq = p->blocks_per_seq;
    }
    weft_program_free(p);
    weft_graph_free(g);
    return most;
}

/* A batch of sequences streams sequence after sequence, each cut in token blocks: the fabric
 * still matches the reference, the pass has batch x blocks-per-sequence blocks, and SRAM per tile
 * stays that of two sequences however big the batch (it grew with the batch when the batch was
 * one stream unit). */
TEST(fabric_batch_streams_sequence_after_sequence) {
    check_model("builtin:gpt:layers=2,dim=64,heads=2,vocab=64,seq=32,batch=3", "wse2-mini");
    int b1, s1, b8, s8, b16, s16;
    int64_t m1 = planned_sram_max("builtin:gpt:layers=2,dim=64,heads=2,vocab=64,seq=32,batch=1,shapes_only=1", &b1, &s1);
    int64_t m8 = planned_sram_max("builtin:gpt:layers=2,dim=64,heads=2,vocab=64,seq=32,batch=8,shapes_only=1", &b8, &s8);
    int64_t m16 = planned_sram_max("builtin:gpt:layers=2,dim=64,heads=2,vocab=64,seq=32,batch=16,shapes_only=1", &b16, &s16);
    printf("    SRAM per tile, most: batch 1 %lld B, 8 %lld B, 16 %lld B; blocks %d, %d, %d\n", (long long)m1, (long long)m8,
           (long long)m16, b1, b8, b16);
    CHECK_INT(b1, 16);
    CHECK_INT(b8, 8 * s8);
    CHECK_INT(s8, 16);
    CHECK_INT(b16, 16 * s16);
    CHECK(m16 <= m8);            /* beyond two sequences the batch costs no SRAM */
    CHECK(m8 <= 4 * m1);         /* joins hold two sequences where one was, and more tiles divide less */
}
