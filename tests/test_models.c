/* Tests of the built-in models: each builds, verifies and runs on the reference executor; GPT-2's
 * parameter count is the published one, and so are those of the AI-testbed workloads (BERT,
 * LLaMA 2 / 3, GPT-J, ResNet-50, UNet, the 1 B weather CNN); a tiny GPT, an MLP and the weather
 * CNN agree with plain C forward passes written here from the papers (not from weft's kernels),
 * tiny LLaMA / BERT / GPT-J / ResNet / UNet agree between the fabric and the reference; bad specs
 * fail naming the key. */
#include "compile/compile.h"
#include "ir/ir.h"
#include "models/models.h"
#include "sim/run.h"
#include "models/nn.h"
#include "test.h"

#include <math.h>
#include <string.h>

static weft_graph *build(const char *spec) {
    weft_err err = {0};
    weft_graph *g = NULL;
    weft_status s = weft_model_load(spec, &g, &err);
    if (s) {
        weft_test_fail(__FILE__, __LINE__, "%s: %s", spec, err.msg);
        return NULL;
    }
    if (weft_graph_verify(g, &err)) {
        weft_test_fail(__FILE__, __LINE__, "%s does not verify: %s", spec, err.msg);
        weft_graph_free(g);
        return NULL;
    }
    return g;
}

/* Fills the graph's inputs: floats N(0, 1), integers uniform in [0, int_bound). */
static void make_inputs(const weft_graph *g, weft_tensor *in, int64_t int_bound, uint64_t seed) {
    weft_rng r;
    weft_rng_seed(&r, seed, 99);
    for (int i = 0; i < g->n_inputs; i++) {
        const weft_value *v = &g->vals[g->inputs[i]];
        weft_err err = {0};
        WEFT_ASSERT(!weft_tensor_alloc(&in[i], v->dtype, v->shape, &err));
        int64_t n = weft_tensor_numel(&in[i]);
        for (int64_t k = 0; k < n; k++) {
            if (v->dtype == WEFT_F32) ((float *)in[i].data)[k] = weft_rng_normal(&r);
            else if (v->dtype == WEFT_I64) ((int64_t *)in[i].data)[k] = (int64_t)(weft_rng_u32(&r) % (uint32_t)int_bound);
            else WEFT_ASSERT(0 && "unexpected input dtype");
        }
    }
}

/* Runs g on in; returns the status and fills out[0]. */
static weft_status run(const weft_graph *g, weft_tensor *in, weft_tensor *out) {
    const weft_tensor *inp[8];
    for (int i = 0; i < g->n_inputs; i++) inp[i] = &in[i];
    weft_err err = {0};
    weft_status s = weft_ref_run(g, inp, g->n_inputs, out, 1, &err);
    if (s) weft_test_fail(__FILE__, __LINE__, "weft_ref_run(%s): %s", g->name, err.msg);
    return s;
}

static const float *param(const weft_graph *g, const char *name) {
    int id = weft_graph_find(g, name);
    if (id < 0 || g->vals[id].kind != WEFT_VAL_PARAM) {
        weft_test_fail(__FILE__, __LINE__, "no parameter '%s'", name);
        static float zeros[4096];
        return zeros;
    }
    return g->vals[id].data.data;
}

static int64_t count_params(const weft_graph *g) { return weft_graph_count(g).params; }

/* ---- GPT-2's size ---- */

TEST(models_gpt2_has_124439808_parameters) {
    weft_graph *g = build("builtin:gpt2");
    if (!g) return;
    CHECK_INT(count_params(g), 124439808);
    /* what `weft inspect builtin:gpt2` prints */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    weft_graph_print(g, f);
    fclose(f);
    if (!strstr(buf, "\nparameters: 124439808 ")) weft_test_fail(__FILE__, __LINE__, "inspect prints: %.200s", buf);
    free(buf);
    CHECK_INT(g->n_inputs, 1);
    CHECK_INT(g->n_outputs, 1);
    weft_shape logits = WEFT_SHAPE(1, 1024, 50257);
    CHECK(weft_shape_eq(&g->vals[g->outputs[0]].shape, &logits));
    /* the head is tied: wte is the only (V, C) parameter */
    int n_vocab_sized = 0;
    for (int v = 0; v < g->n_vals; v++)
        if ((g->vals[v].kind == WEFT_VAL_PARAM || g->vals[v].kind == WEFT_VAL_CONST) && weft_shape_numel(&g->vals[v].shape) == 50257 * 768)
            n_vocab_sized++;
    CHECK_INT(n_vocab_sized, 1);
    /* GPT-2's initialization: std 0.02, residual projections 0.02 / sqrt(24) */
    const float *w = param(g, "h.0.attn.c_attn.weight"), *p = param(g, "h.11.mlp.c_proj.weight");
    double s1 = 0, s2 = 0;
    for (int i = 0; i < 768 * 768; i++) { s1 += (double)w[i] * w[i]; s2 += (double)p[i] * p[i]; }
    CHECK_NEAR(sqrt(s1 / (768 * 768)), 0.02, 0.0005);
    CHECK_NEAR(sqrt(s2 / (768 * 768)), 0.02 / sqrt(24.0), 0.0002);
    weft_graph_free(g);
}

TEST(models_gpt2_family_sizes_by_formula) {
    /* the published sizes of the four GPT-2 checkpoints (Hugging Face's num_parameters()) */
    weft_gpt_config c = {.batch = 1, .seq = 1024, .vocab = 50257, .positions = 1024};
    c.layers = 12, c.dim = 768;
    CHECK_INT(weft_gpt_param_count(&c), 124439808);
    c.layers = 24, c.dim = 1024;
    CHECK_INT(weft_gpt_param_count(&c), 354823168);
    c.layers = 36, c.dim = 1280;
    CHECK_INT(weft_gpt_param_count(&c), 774030080);
    c.layers = 48, c.dim = 1600;
    CHECK_INT(weft_gpt_param_count(&c), 1557611200);
    /* and the formula is what a built graph holds */
    weft_graph *g = build("builtin:gpt:layers=3,dim=48,heads=3,vocab=100,seq=12,positions=20");
    if (!g) return;
    weft_gpt_config s = {.batch = 1, .seq = 12, .layers = 3, .dim = 48, .heads = 3, .vocab = 100, .positions = 20};
    CHECK_INT(count_params(g), weft_gpt_param_count(&s));
    weft_graph_free(g);
}

/* ---- every built-in builds, verifies, runs ---- */

TEST(models_builtins_run_on_reference) {
    static const struct { const char *spec; int64_t int_bound; } cases[] = {
        {"builtin:mlp", 0},
        {"builtin:mlp:batch=3,in=5,hidden=7,out=2,layers=1", 0},
        {"builtin:mlp:batch=2,in=16,hidden=32,out=5,layers=4", 0},
        {"builtin:gpt", 256},
        {"builtin:gpt:layers=1,dim=32,heads=2,vocab=64,seq=8,batch=2", 64},
        {"builtin:gpt:layers=1,dim=24,heads=3,vocab=50,seq=6,positions=9", 50},
        {"builtin:weather-cnn", 0},
        {"builtin:weather-cnn:batch=2,lat=6,lon=10,vars=3,hidden=8,blocks=1", 0},
        {"builtin:weather-cnn:lat=4,lon=1,vars=2,hidden=4,blocks=0", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weft_graph *g = build(cases[i].spec);
        if (!g) continue;
        weft_tensor in[4] = {{0}}, out = {0};
        make_inputs(g, in, cases[i].int_bound, 7);
        if (!run(g, in, &out)) {
            CHECK(weft_shape_eq(&out.shape, &g->vals[g->outputs[0]].shape));
            int64_t n = weft_tensor_numel(&out), bad = 0;
            double asum = 0;
            for (int64_t k = 0; k < n; k++) {
                double x = weft_tensor_get_f(&out, k);
                if (!isfinite(x)) bad++;
                asum += fabs(x);
            }
            if (bad) weft_test_fail(__FILE__, __LINE__, "%s: %lld of %lld outputs not finite", cases[i].spec, (long long)bad, (long long)n);
            CHECK(asum > 0);
        }
        weft_tensor_free(&out);
        for (int k = 0; k < g->n_inputs; k++) weft_tensor_free(&in[k]);
        weft_graph_free(g);
    }
}

TEST(models_seed_determines_parameters) {
    weft_graph *a = build("builtin:gpt:layers=1,dim=16,heads=2,vocab=32,seq=4");
    weft_graph *b = build("builtin:gpt:layers=1,dim=16,heads=2,vocab=32,seq=4");
    weft_graph *c = build("builtin:gpt:layers=1,dim=16,heads=2,vocab=32,seq=4,seed=2");
    if (a && b && c) {
        const float *pa = param(a, "h.0.mlp.c_fc.weight"), *pb = param(b, "h.0.mlp.c_fc.weight"), *pc = param(c, "h.0.mlp.c_fc.weight");
        CHECK(!memcmp(pa, pb, 16 * 64 * sizeof(float)));
        CHECK(memcmp(pa, pc, 16 * 64 * sizeof(float)) != 0);
    }
    weft_graph_free(a);
    weft_graph_free(b);
    weft_graph_free(c);
}

/* ---- GPT against a plain C forward pass (llm.c's, in double) ---- */

static void ref_layernorm(double *out, const double *x, const float *w, const float *b, int C) {
    double m = 0, v = 0;
    for (int i = 0; i < C; i++) m += x[i];
    m /= C;
    for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
    v /= C;
    double r = 1.0 / sqrt(v + 1e-5);
    for (int i = 0; i < C; i++) out[i] = (x[i] - m) * r * w[i] + b[i];
}

/* out (rows, n) = in (rows, k) W (k, n) + b (n) */
static void ref_linear(double *out, const double *in, const float *W, const float *b, int rows, int k, int n) {
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < n; j++) {
            double s = b ? b[j] : 0;
            for (int i = 0; i < k; i++) s += in[r * k + i] * W[i * n + j];
            out[r * n + j] = s;
        }
}

TEST(models_gpt_matches_plain_c_forward) {
    enum { B = 2, T = 5, C = 12, H = 3, V = 17, L = 2, P = 7, D = C / H };
    weft_graph *g = build("builtin:gpt:batch=2,seq=5,dim=12,heads=3,vocab=17,layers=2,positions=7,seed=5");
    if (!g) return;
    weft_tensor in[1] = {{0}}, out = {0};
    make_inputs(g, in, V, 3);
    if (run(g, in, &out)) { weft_tensor_free(&in[0]); weft_graph_free(g); return; }
    const int64_t *tok = in[0].data;
    static double x[B * T * C], a[B * T * C], qkv[B * T * 3 * C], y[B * T * C], h[B * T * 4 * C], att[T];
    const float *wte = param(g, "wte.weight"), *wpe = param(g, "wpe.weight");
    for (int bt = 0; bt < B * T; bt++)
        for (int c = 0; c < C; c++) x[bt * C + c] = (double)wte[tok[bt] * C + c] + wpe[(bt % T) * C + c];
    for (int l = 0; l < L; l++) {
        char n[6][64];
        const char *leaf[6] = {"ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"};
        const float *w[6], *bias[6];
        for (int k = 0; k < 6; k++) {
            snprintf(n[k], sizeof n[k], "h.%d.%s.weight", l, leaf[k]);
            w[k] = param(g, n[k]);
            snprintf(n[k], sizeof n[k], "h.%d.%s.bias", l, leaf[k]);
            bias[k] = param(g, n[k]);
        }
        for (int bt = 0; bt < B * T; bt++) ref_layernorm(&a[bt * C], &x[bt * C], w[0], bias[0], C);
        ref_linear(qkv, a, w[1], bias[1], B * T, C, 3 * C);
        for (int b = 0; b < B; b++)
            for (int hh = 0; hh < H; hh++)
                for (int t = 0; t < T; t++) {
                    const double *q = &qkv[(b * T + t) * 3 * C + hh * D];
                    double mx = -1e300, sum = 0;
                    for (int u = 0; u <= t; u++) {
                        const double *k = &qkv[(b * T + u) * 3 * C + C + hh * D];
                        double s = 0;
                        for (int d = 0; d < D; d++) s += q[d] * k[d];
                        att[u] = s / sqrt((double)D);
                        if (att[u] > mx) mx = att[u];
                    }
                    for (int u = 0; u <= t; u++) { att[u] = exp(att[u] - mx); sum += att[u]; }
                    for (int d = 0; d < D; d++) {
                        double s = 0;
                        for (int u = 0; u <= t; u++) s += att[u] / sum * qkv[(b * T + u) * 3 * C + 2 * C + hh * D + d];
                        y[(b * T + t) * C + hh * D + d] = s;
                    }
                }
        ref_linear(a, y, w[2], bias[2], B * T, C, C);
        for (int i = 0; i < B * T * C; i++) x[i] += a[i];
        for (int bt = 0; bt < B * T; bt++) ref_layernorm(&a[bt * C], &x[bt * C], w[3], bias[3], C);
        ref_linear(h, a, w[4], bias[4], B * T, C, 4 * C);
        for (int i = 0; i < B * T * 4 * C; i++) /* GELU, tanh form */
            h[i] = 0.5 * h[i] * (1 + tanh(sqrt(2 / M_PI) * (h[i] + 0.044715 * h[i] * h[i] * h[i])));
        ref_linear(a, h, w[5], bias[5], B * T, 4 * C, C);
        for (int i = 0; i < B * T * C; i++) x[i] += a[i];
    }
    for (int bt = 0; bt < B * T; bt++) ref_layernorm(&a[bt * C], &x[bt * C], param(g, "ln_f.weight"), param(g, "ln_f.bias"), C);
    double worst = 0, scale = 0;
    for (int bt = 0; bt < B * T; bt++)
        for (int v = 0; v < V; v++) {
            double s = 0;
            for (int c = 0; c < C; c++) s += a[bt * C + c] * wte[v * C + c]; /* tied head: x wte^T */
            double got = weft_tensor_get_f(&out, bt * V + v);
            if (fabs(got - s) > worst) worst = fabs(got - s);
            if (fabs(s) > scale) scale = fabs(s);
        }
    CHECK(scale > 1e-3);
    CHECK_NEAR(worst, 0, 1e-5 + 1e-4 * scale);
    weft_tensor_free(&out);
    weft_tensor_free(&in[0]);
    weft_graph_free(g);
}

TEST(models_gpt_is_causal) {
    /* changing the last token changes only the last position's logits */
    enum { T = 6, V = 40 };
    weft_graph *g = build("builtin:gpt:layers=2,dim=16,heads=4,vocab=40,seq=6");
    if (!g) return;
    weft_tensor in[1] = {{0}}, o1 = {0}, o2 = {0};
    make_inputs(g, in, V, 1);
    if (!run(g, in, &o1)) {
        int64_t *tok = in[0].data;
        tok[T - 1] = (tok[T - 1] + 1) % V;
        if (!run(g, in, &o2)) {
            double before = 0, last = 0;
            for (int i = 0; i < T * V; i++) {
                double d = fabs(weft_tensor_get_f(&o1, i) - weft_tensor_get_f(&o2, i));
                if (i < (T - 1) * V) before = fmax(before, d);
                else last = fmax(last, d);
            }
            CHECK_NEAR(before, 0, 0);
            CHECK(last > 0);
        }
    }
    weft_tensor_free(&o1);
    weft_tensor_free(&o2);
    weft_tensor_free(&in[0]);
    weft_graph_free(g);
}

/* ---- MLP against plain C ---- */

TEST(models_mlp_matches_plain_c_forward) {
    enum { N = 3, I = 5, Hd = 7, O = 4 };
    weft_graph *g = build("builtin:mlp:batch=3,in=5,hidden=7,out=4,layers=3");
    if (!g) return;
    weft_tensor in[1] = {{0}}, out = {0};
    make_inputs(g, in, 0, 2);
    if (!run(g, in, &out)) {
        double x[N * Hd], h[N * Hd], y[N * O];
        for (int i = 0; i < N * I; i++) x[i] = ((float *)in[0].data)[i];
        ref_linear(h, x, param(g, "fc0.weight"), param(g, "fc0.bias"), N, I, Hd);
        for (int i = 0; i < N * Hd; i++) h[i] = h[i] > 0 ? h[i] : 0;
        ref_linear(x, h, param(g, "fc1.weight"), param(g, "fc1.bias"), N, Hd, Hd);
        for (int i = 0; i < N * Hd; i++) x[i] = x[i] > 0 ? x[i] : 0;
        ref_linear(y, x, param(g, "fc2.weight"), param(g, "fc2.bias"), N, Hd, O);
        for (int i = 0; i < N * O; i++) CHECK_NEAR(weft_tensor_get_f(&out, i), y[i], 1e-5);
    }
    weft_tensor_free(&out);
    weft_tensor_free(&in[0]);
    weft_graph_free(g);
}

/* ---- weather CNN ---- */

/* One 3x3 conv with zero padding in latitude and wrap-around in longitude, in double. */
static void ref_conv(double *out, const double *x, const float *w, const float *b, int cin, int cout, int LA, int LO) {
    for (int o = 0; o < cout; o++)
        for (int i = 0; i < LA; i++)
            for (int j = 0; j < LO; j++) {
                double s = b[o];
                for (int c = 0; c < cin; c++)
                    for (int di = -1; di <= 1; di++)
                        for (int dj = -1; dj <= 1; dj++) {
                            int ii = i + di, jj = ((j + dj) % LO + LO) % LO;
                            if (ii < 0 || ii >= LA) continue;
                            s += w[((o * cin + c) * 3 + di + 1) * 3 + dj + 1] * x[(c * LA + ii) * LO + jj];
                        }
                out[(o * LA + i) * LO + j] = s;
            }
}

TEST(models_weather_matches_plain_c_forward) {
    enum { VA = 2, LA = 5, LO = 7, HD = 4 };
    weft_graph *g = build("builtin:weather-cnn:batch=1,lat=5,lon=7,vars=2,hidden=4,blocks=1");
    if (!g) return;
    weft_tensor in[1] = {{0}}, out = {0};
    make_inputs(g, in, 0, 4);
    if (!run(g, in, &out)) {
        static double x[VA * LA * LO], h[HD * LA * LO], r[HD * LA * LO], r2[HD * LA * LO], d[VA * LA * LO];
        for (int i = 0; i < VA * LA * LO; i++) x[i] = ((float *)in[0].data)[i];
        ref_conv(h, x, param(g, "enc.weight"), param(g, "enc.bias"), VA, HD, LA, LO);
        for (int i = 0; i < HD * LA * LO; i++) h[i] = fmax(h[i], 0);
        ref_conv(r, h, param(g, "proc.0.conv1.weight"), param(g, "proc.0.conv1.bias"), HD, HD, LA, LO);
        for (int i = 0; i < HD * LA * LO; i++) r[i] = fmax(r[i], 0);
        ref_conv(r2, r, param(g, "proc.0.conv2.weight"), param(g, "proc.0.conv2.bias"), HD, HD, LA, LO);
        for (int i = 0; i < HD * LA * LO; i++) h[i] = fmax(h[i] + r2[i], 0);
        ref_conv(d, h, param(g, "dec.weight"), param(g, "dec.bias"), HD, VA, LA, LO);
        double worst = 0;
        for (int i = 0; i < VA * LA * LO; i++) worst = fmax(worst, fabs(weft_tensor_get_f(&out, i) - (x[i] + d[i])));
        CHECK_NEAR(worst, 0, 1e-5);
    }
    weft_tensor_free(&out);
    weft_tensor_free(&in[0]);
    weft_graph_free(g);
}

TEST(models_weather_is_periodic_in_longitude) {
    /* shifting the state east by s columns shifts the next state by s: no seam at 0 degrees */
    enum { B = 1, VA = 3, LA = 6, LO = 12, S = 5 };
    weft_graph *g = build("builtin:weather-cnn:batch=1,lat=6,lon=12,vars=3,hidden=8,blocks=2");
    if (!g) return;
    weft_tensor in[1] = {{0}}, sh[1] = {{0}}, o1 = {0}, o2 = {0};
    make_inputs(g, in, 0, 5);
    make_inputs(g, sh, 0, 5);
    const float *a = in[0].data;
    float *b = sh[0].data;
    for (int r = 0; r < B * VA * LA; r++)
        for (int j = 0; j < LO; j++) b[r * LO + (j + S) % LO] = a[r * LO + j];
    if (!run(g, in, &o1) && !run(g, sh, &o2)) {
        double worst = 0;
        for (int r = 0; r < B * VA * LA; r++)
            for (int j = 0; j < LO; j++)
                worst = fmax(worst, fabs(weft_tensor_get_f(&o1, r * LO + j) - weft_tensor_get_f(&o2, r * LO + (j + S) % LO)));
        CHECK_NEAR(worst, 0, 1e-5);
    }
    weft_tensor_free(&o1);
    weft_tensor_free(&o2);
    weft_tensor_free(&in[0]);
    weft_tensor_free(&sh[0]);
    weft_graph_free(g);
}

/* ---- specs ---- */

TEST(models_bad_specs_name_the_key) {
    static const struct { const char *spec, *want; } cases[] = {
        {"builtin:nosuch", "unknown built-in model"},
        {"builtin:gpt:depth=3", "unknown key 'depth'"},
        {"builtin:gpt:dim=abc", "key 'dim': 'abc' is not an integer"},
        {"builtin:gpt:dim=12x", "key 'dim'"},
        {"builtin:gpt:dim=", "key 'dim'"},
        {"builtin:gpt:dim=0", "key 'dim'"},
        {"builtin:gpt:heads=-2", "key 'heads'"},
        {"builtin:gpt:dim=100,heads=3", "dim 100 is not divisible by heads 3"},
        {"builtin:gpt:dim=64,dim=32", "key 'dim' given twice"},
        {"builtin:gpt:dim", "'dim' is not key=value"},
        {"builtin:gpt:dim=32,,heads=2", "empty setting"},
        {"builtin:gpt2:seq=2048", "seq 2048 exceeds the model's 1024 positions"},
        {"builtin:gpt:seq=99999999999", "key 'seq'"},
        {"builtin:mlp:layers=0", "key 'layers'"},
        {"builtin:mlp:heads=2", "unknown key 'heads'"},
        {"builtin:weather-cnn:lon=-1", "key 'lon'"},
        {"builtin:weather-cnn:vars=1.5", "key 'vars'"},
        {"builtin:weather-cnn:size=huge", "unknown size 'huge' (sizes: large)"},
        {"builtin:bert:size=", "key 'size'"},
        {"builtin:bert:size=base,size=large", "key 'size' given twice"},
        {"builtin:bert:seq=513", "seq 513 exceeds the model's 512 positions"},
        {"builtin:llama:heads=32,kv_heads=5", "kv_heads must divide heads"},
        {"builtin:gptj:rotary=300", "rotary must be even"},
        {"builtin:gptj:size=large", "unknown key 'size'"},
        {"builtin:unet:image=100", "image 100 is not a multiple of 16"},
        {"builtin:resnet:image=16", "key 'image'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weft_err err = {0};
        weft_graph *g = (weft_graph *)1;
        weft_status s = weft_model_load(cases[i].spec, &g, &err);
        if (s != WEFT_ERR_INVALID || g != NULL || !strstr(err.msg, cases[i].want))
            weft_test_fail(__FILE__, __LINE__, "%s: status %s, message '%s', wanted '%s'", cases[i].spec, weft_status_name(s),
                           err.msg, cases[i].want);
        if (s == WEFT_OK) weft_graph_free(g);
    }
}

TEST(models_list_names_every_builtin) {
    char buf[8192] = {0};
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    weft_model_list(f);
    fclose(f);
    const char *names[] = {"mlp", "gpt ", "gpt2 ", "gpt2-medium", "gpt2-large", "gpt2-xl", "weather-cnn", "heads=",
                           "bert ", "llama ", "gptj ", "resnet ", "unet ", "size=base|large", "size=llama2-7b|llama3-8b", "kv_heads="};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strstr(buf, names[i])) weft_test_fail(__FILE__, __LINE__, "weft_model_list lacks '%s'", names[i]);
}

TEST(models_every_parameter_feeds_a_node) {
    /* A parameter must stay a parameter: folding a node whose inputs are parameters into a
     * constant (graph.c folds any node whose inputs all have data, PARAMs included) would freeze
     * that weight, and training would never update it. builtin:gpt with positions > seq slices
     * wpe's first rows: that Slice must remain a node. */
    static const char *specs[] = {
        "builtin:gpt:layers=1,dim=12,heads=3,vocab=17,seq=5,positions=7",
        "builtin:gpt:layers=1,dim=12,heads=3,vocab=17,seq=5",
        "builtin:mlp:batch=2,in=3,hidden=4,out=2,layers=3",
        "builtin:weather-cnn:lat=4,lon=6,vars=2,hidden=4,blocks=1",
        "builtin:bert:layers=1,dim=16,heads=2,ff=32,vocab=40,seq=6,positions=10,nsp=1",
        "builtin:llama:layers=1,dim=16,heads=4,kv_heads=2,ff=24,vocab=40,seq=6",
        "builtin:gptj:layers=1,dim=16,heads=2,rotary=4,ff=32,vocab=40,seq=6",
        "builtin:resnet:image=32,classes=5,width=4,blocks=1",
        "builtin:unet:image=16,features=2,in=2",
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        weft_graph *g = build(specs[i]);
        if (!g) continue;
        for (int v = 0; v < g->n_vals; v++) {
            if (g->vals[v].kind != WEFT_VAL_PARAM) continue;
            bool used = false;
            for (int n = 0; n < g->n_nodes && !used; n++)
                for (int k = 0; k < g->nodes[n].n_in; k++) used |= g->nodes[n].in[k] == v;
            if (!used)
                weft_test_fail(__FILE__, __LINE__, "%s: parameter '%s' feeds no node (folded into a constant by "
                               "weft_graph_node's constant folding, src/ir/graph.c)", specs[i], g->vals[v].name);
        }
        weft_graph_free(g);
    }
}

/* Parameters bigger than one fill chunk (and of odd size) hold exactly the values of one thread
 * drawing the parameter's stream in order: parameter p of seed s is stream p of s, normals by
 * Box-Muller pairs (cos, sin), uniforms one draw each. */
TEST(models_param_init_is_one_stream) {
    const int64_t n = 3 * 65536 + 3;
    weft_graph *g = weft_graph_new("init");
    weft_err err = {0};
    weft_nn b;
    weft_nn_init(&b, g, 1234, &err);
    int pn = weft_nn_param(&b, "normal", WEFT_SHAPE(n), WEFT_NN_INIT_NORMAL, 0.5f, 0);
    int pu = weft_nn_param(&b, "uniform", WEFT_SHAPE(n), WEFT_NN_INIT_UNIFORM, 2.0f, 0);
    CHECK(b.status == WEFT_OK);
    if (b.status) { weft_graph_free(g); return; }
    const float *wn = g->vals[pn].data.data, *wu = g->vals[pu].data.data;
    weft_rng r;
    weft_rng_seed(&r, 1234, 0);
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i += 2) {
        float u1 = weft_rng_uniform(&r), u2 = weft_rng_uniform(&r);
        float rad = sqrtf(-2.0f * logf(u1 < 1e-12f ? 1e-12f : u1)), th = 6.28318530717958647692f * u2;
        bad += wn[i] != 0.5f * rad * cosf(th);
        if (i + 1 < n) bad += wn[i + 1] != 0.5f * rad * sinf(th);
    }
    weft_rng_seed(&r, 1234, 1);
    for (int64_t i = 0; i < n; i++) bad += wu[i] != 2.0f * (2.0f * weft_rng_uniform(&r) - 1.0f);
    CHECK_INT(bad, 0);
    weft_graph_free(g);
}

/* ---- the AI-testbed workloads: published sizes ---- */

/* Builds spec (shapes only) with the parameter-bytes limit raised for the 6-8 B models (their
 * zero parameters are never touched: a few MB of host memory) and returns its parameter count. */
static int64_t shapes_only_params(const char *spec) {
    const char *old = getenv("WEFT_MAX_PARAM_BYTES");
    char saved[64] = {0};
    if (old) snprintf(saved, sizeof saved, "%s", old);
    setenv("WEFT_MAX_PARAM_BYTES", "4e10", 1);
    weft_graph *g = build(spec);
    if (old) setenv("WEFT_MAX_PARAM_BYTES", saved, 1);
    else unsetenv("WEFT_MAX_PARAM_BYTES");
    if (!g) return -1;
    int64_t n = count_params(g);
    weft_graph_free(g);
    return n;
}

TEST(models_testbed_workloads_have_published_sizes) {
    /* published counts: Hugging Face's num_parameters() of bert-base/large-uncased
     * (BertForPreTraining), Llama-2-7b-hf, Meta-Llama-3-8B, EleutherAI/gpt-j-6b (its model card:
     * 6,053,381,344), torchvision's resnet50, brain-segmentation-pytorch's UNet(3, 1, 32) */
    static const struct { const char *spec; double published; } cases[] = {
        {"builtin:bert:nsp=1,shapes_only=1", 110106428},
        {"builtin:bert:size=large,nsp=1,shapes_only=1", 336226108},
        {"builtin:llama:size=llama2-7b,seq=8,shapes_only=1", 6738415616},
        {"builtin:llama:size=llama3-8b,seq=8,shapes_only=1", 8030261248},
        {"builtin:gptj:seq=8,shapes_only=1", 6053381344},
        {"builtin:resnet:shapes_only=1", 25557032},
        {"builtin:unet:shapes_only=1", 7763041},
        {"builtin:weather-cnn:size=large,shapes_only=1", 1e9},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t n = shapes_only_params(cases[i].spec);
        printf("    %-50s %14lld parameters (published %.0f)\n", cases[i].spec, (long long)n, cases[i].published);
        if (fabs((double)n - cases[i].published) > 0.02 * cases[i].published ||
            (i < 7 && fabs((double)n - cases[i].published) > 0.01 * cases[i].published))
            weft_test_fail(__FILE__, __LINE__, "%s: %lld parameters, published %.0f", cases[i].spec, (long long)n, cases[i].published);
    }
    /* the formulas are what the full-size graphs hold */
    weft_bert_config bert = {.batch = 1, .seq = 128, .layers = 24, .dim = 1024, .heads = 16, .ff = 4096, .vocab = 30522, .positions = 512};
    CHECK_INT(weft_bert_param_count(&bert, true), 336226108);
    weft_llama_config llama = {.batch = 1, .seq = 8, .layers = 32, .dim = 4096, .heads = 32, .kv_heads = 8, .ff = 14336, .vocab = 128256};
    CHECK_INT(weft_llama_param_count(&llama), 8030261248);
    weft_gptj_config gptj = {.batch = 1, .seq = 8, .layers = 28, .dim = 4096, .heads = 16, .rotary = 64, .ff = 16384, .vocab = 50400};
    CHECK_INT(weft_gptj_param_count(&gptj), shapes_only_params("builtin:gptj:seq=8,shapes_only=1"));
    weft_resnet_config resnet = {.batch = 1, .image = 224, .classes = 1000, .width = 64};
    CHECK_INT(weft_resnet_param_count(&resnet), 25557032);
    weft_unet_config unet = {.batch = 1, .image = 256, .in = 3, .out = 1, .features = 32};
    CHECK_INT(weft_unet_param_count(&unet), 7763041);
}

/* Small configurations: the graph holds what the formula says, the outputs have their shapes, and
 * the reference runs them to finite numbers. */
TEST(models_testbed_small_configs_match_their_formulas) {
    weft_bert_config bert = {.batch = 2, .seq = 6, .layers = 2, .dim = 16, .heads = 2, .ff = 32, .vocab = 40, .positions = 10};
    weft_llama_config llama = {.batch = 2, .seq = 6, .layers = 2, .dim = 16, .heads = 4, .kv_heads = 2, .ff = 24, .vocab = 40};
    weft_gptj_config gptj = {.batch = 2, .seq = 6, .layers = 2, .dim = 16, .heads = 2, .rotary = 4, .ff = 32, .vocab = 40};
    weft_resnet_config resnet = {.batch = 2, .image = 32, .classes = 5, .width = 4, .blocks = 1};
    weft_unet_config unet = {.batch = 1, .image = 16, .in = 2, .out = 3, .features = 2};
    static const struct { const char *spec; int64_t int_bound; } cases[] = {
        {"builtin:bert:batch=2,seq=6,layers=2,dim=16,heads=2,ff=32,vocab=40,positions=10", 40},
        {"builtin:bert:batch=2,seq=6,layers=2,dim=16,heads=2,ff=32,vocab=40,positions=10,nsp=1", 40},
        {"builtin:llama:batch=2,seq=6,layers=2,dim=16,heads=4,kv_heads=2,ff=24,vocab=40", 40},
        {"builtin:gptj:batch=2,seq=6,layers=2,dim=16,heads=2,rotary=4,ff=32,vocab=40", 40},
        {"builtin:resnet:batch=2,image=32,classes=5,width=4,blocks=1", 0},
        {"builtin:unet:image=16,in=2,out=3,features=2", 0},
    };
    const int64_t want[] = {weft_bert_param_count(&bert, false), weft_bert_param_count(&bert, true), weft_llama_param_count(&llama),
                            weft_gptj_param_count(&gptj), weft_resnet_param_count(&resnet), weft_unet_param_count(&unet)};
    const weft_shape shapes[] = {WEFT_SHAPE(2, 6, 40), WEFT_SHAPE(2, 6, 40), WEFT_SHAPE(2, 6, 40), WEFT_SHAPE(2, 6, 40), WEFT_SHAPE(2, 5),
                                 WEFT_SHAPE(1, 3, 16, 16)};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weft_graph *g = build(cases[i].spec);
        if (!g) continue;
        CHECK_INT(count_params(g), want[i]);
        CHECK_INT(g->n_outputs, i == 1 ? 2 : 1);
        weft_tensor in[1] = {{0}}, out[2] = {{0}};
        make_inputs(g, in, cases[i].int_bound, 5);
        const weft_tensor *inp[1] = {&in[0]};
        weft_err err = {0};
        CHECK_OK(weft_ref_run(g, inp, 1, out, g->n_outputs, &err), &err);
        if (!err.status) {
            if (!weft_shape_eq(&out[0].shape, &shapes[i])) weft_test_fail(__FILE__, __LINE__, "%s: output shape", cases[i].spec);
            weft_shape nsp_shape = WEFT_SHAPE(2, 2);
            if (i == 1) CHECK(weft_shape_eq(&out[1].shape, &nsp_shape));
            int64_t bad = 0;
            for (int j = 0; j < g->n_outputs; j++)
                for (int64_t k = 0; k < weft_tensor_numel(&out[j]); k++) bad += !isfinite(weft_tensor_get_f(&out[j], k));
            CHECK_INT(bad, 0);
        }
        for (int j = 0; j < 2; j++) weft_tensor_free(&out[j]);
        weft_tensor_free(&in[0]);
        weft_graph_free(g);
    }
}

/* ---- tiny configurations on the fabric ---- */

/* Compiles spec for arch (pipelined), runs it on the fabric and compares every output with the
 * reference executor: relative 1e-4, absolute 1e-5, as tests/test_fabric.c's check_model. */
static void check_on_fabric(const char *spec, const char *arch_name, int64_t int_bound) {
    weft_err err = {0};
    weft_graph *g = build(spec);
    weft_arch arch;
    CHECK_OK(weft_arch_preset(arch_name, &arch, &err), &err);
    if (!g || err.status) { weft_graph_free(g); return; }
    weft_program *p = NULL;
    weft_compile_opts o = {0};
    CHECK_OK(weft_compile(g, &arch, &o, &p, &err), &err);
    if (!p) { weft_graph_free(g); return; }
    weft_tensor in[1] = {{0}}, ref[2] = {{0}}, fab[2] = {{0}};
    make_inputs(g, in, int_bound, 9);
    const weft_tensor *inp[1] = {&in[0]};
    weft_sim_stats st;
    weft_sim_opts so = {0};
    CHECK_OK(weft_ref_run(g, inp, 1, ref, g->n_outputs, &err), &err);
    CHECK_OK(weft_sim_run(p, inp, 1, fab, g->n_outputs, &so, &st, &err), &err);
    for (int j = 0; j < g->n_outputs && !err.status; j++) {
        double worst = 0;
        for (int64_t i = 0; i < weft_tensor_numel(&ref[j]); i++) {
            double x = weft_tensor_get_f(&fab[j], i), y = weft_tensor_get_f(&ref[j], i);
            double excess = fabs(x - y) - (1e-5 + 1e-4 * fabs(y));
            if (!(excess <= worst)) worst = isnan(excess) ? INFINITY : excess;
        }
        if (worst > 0) weft_test_fail(__FILE__, __LINE__, "%s on %s: output %d beyond tolerance by %g", spec, arch_name, j, worst);
    }
    if (!err.status) CHECK(st.cycles > 0);
    for (int j = 0; j < 2; j++) { weft_tensor_free(&ref[j]); weft_tensor_free(&fab[j]); }
    weft_tensor_free(&in[0]);
    weft_program_free(p);
    weft_graph_free(g);
}

TEST(models_testbed_tiny_on_fabric) {
    check_on_fabric("builtin:bert:layers=2,dim=32,heads=2,ff=64,vocab=64,seq=16,positions=32,nsp=1", "mesh-32x32", 64);
    check_on_fabric("builtin:llama:layers=2,dim=32,heads=4,kv_heads=2,ff=48,vocab=64,seq=16", "mesh-32x32", 64);
    check_on_fabric("builtin:gptj:layers=2,dim=32,heads=2,rotary=8,ff=64,vocab=64,seq=16", "mesh-32x32", 64);
    check_on_fabric("builtin:resnet:image=32,classes=10,width=4,blocks=1", "mesh-32x32", 0);
    check_on_fabric("builtin:unet:image=16,features=2", "mesh-32x32", 0);
    check_on_fabric("builtin:llama:layers=1,dim=32,heads=4,kv_heads=1,ff=48,vocab=64,seq=32,batch=2", "wse2-mini", 64);
    check_on_fabric("builtin:bert:layers=1,dim=32,heads=2,ff=64,vocab=64,seq=32,positions=64,batch=2", "wse2-mini", 64);
    check_on_fabric("builtin:resnet:image=32,classes=10,width=4,blocks=1", "wse2-mini", 0);
}

/* ---- LLaMA against a plain C forward pass (Hugging Face's modeling_llama, in double) ---- */

static void ref_rms_norm(double *out, const double *x, const float *w, int C) {
    double ms = 0;
    for (int i = 0; i < C; i++) ms += x[i] * x[i];
    double r = 1.0 / sqrt(ms / C + 1e-5);
    for (int i = 0; i < C; i++) out[i] = x[i] * r * w[i];
}

/* rotate_half rotary on one head's D values at position t */
static void ref_rope(double *x, int t, int D) {
    for (int i = 0; i < D / 2; i++) {
        double a = t * pow(10000.0, -2.0 * i / D), x1 = x[i], x2 = x[i + D / 2];
        x[i] = x1 * cos(a) - x2 * sin(a);
        x[i + D / 2] = x2 * cos(a) + x1 * sin(a);
    }
}

TEST(models_llama_matches_plain_c_forward) {
    enum { T = 5, C = 16, H = 4, KV = 2, D = C / H, FF = 12, V = 11, L = 2 };
    weft_graph *g = build("builtin:llama:seq=5,dim=16,heads=4,kv_heads=2,ff=12,vocab=11,layers=2,seed=3");
    if (!g) return;
    /* N(0, 0.02) projections leave the scores near zero and the attention near uniform, which
     * would hide the rotary embedding and the K/V heads' grouping: q and k weights x 25 */
    for (int l = 0; l < L; l++)
        for (int w = 0; w < 2; w++) {
            char n[96];
            snprintf(n, sizeof n, "layers.%d.self_attn.%s_proj.weight", l, w ? "k" : "q");
            float *p = (float *)param(g, n);
            for (int i = 0; i < C * (w ? KV * D : C); i++) p[i] *= 25;
        }
    weft_tensor in[1] = {{0}}, out = {0};
    make_inputs(g, in, V, 4);
    if (run(g, in, &out)) { weft_tensor_free(&in[0]); weft_graph_free(g); return; }
    const int64_t *tok = in[0].data;
    static double x[T][C], h[T][C], q[T][C], k[T][KV * D], v[T][KV * D], y[T][C], o[T][C], gt[T][FF], up[T][FF], logits[T][V];
    const float *wte = param(g, "embed_tokens.weight");
    for (int t = 0; t < T; t++)
        for (int c = 0; c < C; c++) x[t][c] = wte[tok[t] * C + c];
    for (int l = 0; l < L; l++) {
        char n[96];
#define P(leaf) (snprintf(n, sizeof n, "layers.%d.%s", l, leaf), param(g, n))
        for (int t = 0; t < T; t++) ref_rms_norm(h[t], x[t], P("input_layernorm.weight"), C);
        ref_linear(&q[0][0], &h[0][0], P("self_attn.q_proj.weight"), NULL, T, C, C);
        ref_linear(&k[0][0], &h[0][0], P("self_attn.k_proj.weight"), NULL, T, C, KV * D);
        ref_linear(&v[0][0], &h[0][0], P("self_attn.v_proj.weight"), NULL, T, C, KV * D);
        for (int t = 0; t < T; t++) {
            for (int hd = 0; hd < H; hd++) ref_rope(&q[t][hd * D], t, D);
            for (int hd = 0; hd < KV; hd++) ref_rope(&k[t][hd * D], t, D);
        }
        for (int hd = 0; hd < H; hd++) {
            int kvh = hd / (H / KV); /* query head hd reads K/V head hd / (H / KV) */
            for (int t = 0; t < T; t++) {
                double s[T], mx = -1e300, sum = 0;
                for (int u = 0; u <= t; u++) {
                    s[u] = 0;
                    for (int d = 0; d < D; d++) s[u] += q[t][hd * D + d] * k[u][kvh * D + d];
                    s[u] /= sqrt((double)D);
                    mx = fmax(mx, s[u]);
                }
                for (int u = 0; u <= t; u++) sum += (s[u] = exp(s[u] - mx));
                for (int d = 0; d < D; d++) {
                    double acc = 0;
                    for (int u = 0; u <= t; u++) acc += s[u] / sum * v[u][kvh * D + d];
                    y[t][hd * D + d] = acc;
                }
            }
        }
        ref_linear(&o[0][0], &y[0][0], P("self_attn.o_proj.weight"), NULL, T, C, C);
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++) x[t][c] += o[t][c];
        for (int t = 0; t < T; t++) ref_rms_norm(h[t], x[t], P("post_attention_layernorm.weight"), C);
        ref_linear(&gt[0][0], &h[0][0], P("mlp.gate_proj.weight"), NULL, T, C, FF);
        ref_linear(&up[0][0], &h[0][0], P("mlp.up_proj.weight"), NULL, T, C, FF);
        for (int t = 0; t < T; t++)
            for (int f = 0; f < FF; f++) gt[t][f] = gt[t][f] / (1 + exp(-gt[t][f])) * up[t][f];
        ref_linear(&o[0][0], &gt[0][0], P("mlp.down_proj.weight"), NULL, T, FF, C);
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++) x[t][c] += o[t][c];
#undef P
    }
    for (int t = 0; t < T; t++) ref_rms_norm(h[t], x[t], param(g, "norm.weight"), C);
    ref_linear(&logits[0][0], &h[0][0], param(g, "lm_head.weight"), NULL, T, C, V);
    double worst = 0, scale = 0;
    for (int t = 0; t < T; t++)
        for (int j = 0; j < V; j++) {
            worst = fmax(worst, fabs(((const float *)out.data)[t * V + j] - logits[t][j]));
            scale = fmax(scale, fabs(logits[t][j]));
        }
    CHECK(scale > 0.05);
    CHECK_NEAR(worst, 0, 1e-5 * scale);
    weft_tensor_free(&out);
    weft_tensor_free(&in[0]);
    weft_graph_free(g);
}

/* weft_nn_rotary against GPT-J's rotate_every_two and LLaMA's rotate_half, on part of each head. */
TEST(models_rotary_pairings_match_plain_c) {
    enum { T = 3, H = 2, D = 6, R = 4 };
    for (int inter = 0; inter < 2; inter++) {
        weft_graph *g = weft_graph_new("rotary");
        weft_err err = {0};
        weft_nn b;
        weft_nn_init(&b, g, 1, &err);
        int x = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(1, T, H, D));
        int c, s;
        weft_nn_rotary_tables(&b, "rope", T, R, 10000.0, inter, &c, &s);
        int y = weft_nn_rotary(&b, "rot", x, R, c, s, inter);
        CHECK(b.status == WEFT_OK);
        if (b.status) { weft_graph_free(g); continue; }
        weft_graph_output(g, y);
        weft_tensor in[1] = {{0}}, out = {0};
        make_inputs(g, in, 0, 2);
        if (!run(g, in, &out)) {
            const float *xi = in[0].data, *yo = out.data;
            double worst = 0;
            for (int t = 0; t < T; t++)
                for (int h = 0; h < H; h++) {
                    const float *xv = xi + (t * H + h) * D;
                    double want[D];
                    for (int d = 0; d < D; d++) want[d] = xv[d]; /* dims R.. pass through */
                    for (int i = 0; i < R / 2; i++) {
                        double a = t * pow(10000.0, -2.0 * i / R);
                        int p0 = inter ? 2 * i : i, p1 = inter ? 2 * i + 1 : i + R / 2;
                        want[p0] = xv[p0] * cos(a) - xv[p1] * sin(a);
                        want[p1] = xv[p1] * cos(a) + xv[p0] * sin(a);
                    }
                    for (int d = 0; d < D; d++) worst = fmax(worst, fabs(yo[(t * H + h) * D + d] - want[d]));
                }
            CHECK_NEAR(worst, 0, 1e-6);
        }
        weft_tensor_free(&out);
        weft_tensor_free(&in[0]);
        weft_graph_free(g);
    }
}
