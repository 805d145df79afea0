/* The optimizer's ops (ir/ops_train.c) give the bits of the host's optimizer (train/optim.c), so
 * an update on the fabric and one on the host agree exactly given the same gradients. */
#include "train/train.h"
#include "test.h"

#include <math.h>
#include <string.h>

#define N 37

static void check_against_host(weft_optim_kind kind, double clip) {
    weft_err err = {0};
    weft_optim_config oc = weft_train_defaults().optim;
    oc.kind = kind;
    oc.clip = clip;
    oc.weight_decay = 0.05;
    int64_t numel = N;
    weft_optim *o = weft_optim_new(&oc, 1, &numel);
    float p_host[N], g_host[N], p0[N], g0[N];
    for (int k = 0; k < N; k++) {
        p0[k] = sinf((float)k) * 0.7f;
        g0[k] = cosf((float)k * 1.3f) * 2.0f;
    }
    memcpy(p_host, p0, sizeof p0);
    float m[N] = {0}, v[N] = {0};
    float lr_step = 0;
    for (int step = 0; step < 3; step++) {
        /* the graph: one parameter's update with this step's scalars */
        weft_graph *g = weft_graph_new("update");
        float zero[2] = {0, 0};
        weft_tensor zt = {WEFT_F32, {.ndim = 1, .d = {2}}, zero, 0};
        int P = weft_graph_param(g, "p", WEFT_F32, WEFT_SHAPE(N), p_host);
        int G = weft_graph_input(g, "g", WEFT_F32, WEFT_SHAPE(N));
        int M = weft_graph_param(g, "m", WEFT_F32, WEFT_SHAPE(N), m);
        int V = weft_graph_param(g, "v", WEFT_F32, WEFT_SHAPE(N), v);
        int carry = weft_graph_const(g, "zero", &zt), sum, cn[2];
        CHECK_OK(weft_graph_node(g, "weft.SumSq", "sq", (int[]){carry, G}, 2, NULL, 0, &sum, 1, &err), &err);
        weft_attr ca = {.name = "clip", .type = WEFT_ATTR_FLOAT, .f = (float)clip};
        CHECK_OK(weft_graph_node(g, "weft.ClipCoef", "clip", &sum, 1, &ca, 1, cn, 2, &err), &err);
        double lr = weft_optim_lr(&oc, o->step);
        float sc[3];
        int outs[3], S[3];
        if (kind == WEFT_OPT_ADAMW) {
            double t = (double)(o->step + 1), bc1 = 1 - pow(oc.beta1, t), bc2 = 1 - pow(oc.beta2, t);
            sc[0] = (float)(1.0 - lr * oc.weight_decay);
            sc[1] = (float)(lr / bc1);
            sc[2] = (float)sqrt(bc2);
            for (int j = 0; j < 3; j++) {
                weft_tensor st = {WEFT_F32, {0}, &sc[j], 0};
                S[j] = weft_graph_const(g, j == 0 ? "decay" : j == 1 ? "step" : "bc2", &st);
            }
            weft_attr at[] = {{.name = "one_minus_beta1", .type = WEFT_ATTR_FLOAT, .f = (float)(1.0 - oc.beta1)},
                              {.name = "beta2", .type = WEFT_ATTR_FLOAT, .f = (float)oc.beta2},
                              {.name = "one_minus_beta2", .type = WEFT_ATTR_FLOAT, .f = (float)(1.0 - oc.beta2)},
                              {.name = "epsilon", .type = WEFT_ATTR_FLOAT, .f = (float)oc.eps}};
            CHECK_OK(weft_graph_node(g, "weft.AdamW", "adamw", (int[]){P, G, M, V, cn[0], S[0], S[1], S[2]}, 8, at, 4, outs, 3,
                                     &err), &err);
        } else {
            sc[0] = (float)lr;
            sc[1] = o->step == 0 ? 1.0f : 0.0f;
            for (int j = 0; j < 2; j++) {
                weft_tensor st = {WEFT_F32, {0}, &sc[j], 0};
                S[j] = weft_graph_const(g, j ? "first" : "lr", &st);
            }
            weft_attr at[] = {{.name = "momentum", .type = WEFT_ATTR_FLOAT, .f = kind == WEFT_OPT_MOMENTUM ? (float)oc.momentum : 0},
                              {.name = "weight_decay", .type = WEFT_ATTR_FLOAT, .f = (float)oc.weight_decay}};
            CHECK_OK(weft_graph_node(g, "weft.SGD", "sgd", (int[]){P, G, M, cn[0], S[0], S[1]}, 6, at, 2, outs, 2, &err), &err);
        }
        int n_out = kind == WEFT_OPT_ADAMW ? 3 : 2;
        for (int j = 0; j < n_out; j++) weft_graph_output(g, outs[j]);
        weft_tensor gin = {WEFT_F32, WEFT_SHAPE(N), g0, 0}, res[3] = {{0}};
        const weft_tensor *ins[] = {&gin};
        CHECK_OK(weft_ref_run(g, ins, 1, res, n_out, &err), &err);
        /* the host's step on copies */
        memcpy(g_host, g0, sizeof g0);
        float *pp = p_host, *gg = g_host;
        weft_optim_step(o, &pp, &gg, NULL);
        if (res[0].data) CHECK(!memcmp(res[0].data, p_host, sizeof p_host));
        if (res[1].data && o->m) CHECK(!memcmp(res[1].data, o->m[0], sizeof m));
        if (res[1].data) memcpy(m, res[1].data, sizeof m);
        if (n_out == 3 && res[2].data) {
            CHECK(!memcmp(res[2].data, o->v[0], sizeof v));
            memcpy(v, res[2].data, sizeof v);
        }
        for (int j = 0; j < n_out; j++) weft_tensor_free(&res[j]);
        weft_graph_free(g);
        lr_step = (float)lr;
    }
    CHECK(lr_step > 0);
    weft_optim_free(o);
}

TEST(train_ops_match_the_host_optimizer_bit_for_bit) {
    check_against_host(WEFT_OPT_ADAMW, 1.0);  /* the gradient norm is about 9: clipping is on */
    check_against_host(WEFT_OPT_ADAMW, 0);
    check_against_host(WEFT_OPT_MOMENTUM, 1.0);
    check_against_host(WEFT_OPT_SGD, 0);
}
