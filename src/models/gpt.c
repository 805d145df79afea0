/* models: GPT-2 (builtin:gpt, builtin:gpt2, gpt2-medium, gpt2-large, gpt2-xl).
 *
 * The architecture of Radford et al. 2019 as in OpenAI's and Hugging Face's code, with their
 * parameter names and layouts:
 *
 *   tokens (B, T) int64
 *   x = wte[tokens] + wpe[0:T]                      wte (V, C), wpe (P, C)      -> (B, T, C)
 *   for each block h.i:
 *     x = x + attn(ln_1(x))                         c_attn (C, 3C), c_proj (C, C), causal
 *     x = x + mlp(ln_2(x))                          c_fc (C, 4C), GELU (tanh form), c_proj (4C, C)
 *   logits = ln_f(x) wte^T                          the head is tied to wte     -> (B, T, V)
 *
 * Initialization as GPT-2's: weights N(0, 0.02), biases zero, LayerNorm weight one and bias zero,
 * and the two residual projections of each block N(0, 0.02 / sqrt(2 * layers)) (Hugging Face's
 * GPT2PreTrainedModel._init_weights; wte and wpe are N(0, 0.02) there too).
 *
 * The head is computed as Gemm(x (B*T, C), wte (V, C), transB=1), so wte is one parameter used
 * twice and no transposed copy of it exists in the graph.
 */
#include "models/models.h"
#include "models/nn.h"

#include <math.h>
#include <string.h>

int64_t weft_gpt_param_count(const weft_gpt_config *c) {
    int64_t C = c->dim, P = c->positions ? c->positions : c->seq;
    int64_t block = 2 * C                 /* ln_1 */
                    + C * 3 * C + 3 * C   /* c_attn */
                    + C * C + C           /* attn.c_proj */
                    + 2 * C               /* ln_2 */
                    + C * 4 * C + 4 * C   /* c_fc */
                    + 4 * C * C + C;      /* mlp.c_proj */
    return c->vocab * C + P * C + c->layers * block + 2 * C;
}

weft_status weft_model_gpt(const char *name, const weft_gpt_config *c, weft_graph **out, weft_err *err) {
    *out = NULL;
    const int64_t B = c->batch, T = c->seq, L = c->layers, C = c->dim, V = c->vocab;
    const int64_t P = c->positions ? c->positions : T;
    if (C % c->heads || T > P)
        return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: dim %lld, heads %lld, seq %lld, positions %lld do not fit",
                            name, (long long)C, (long long)c->heads, (long long)T, (long long)P);
    weft_graph *g = weft_graph_new(name);
    weft_nn b;
    weft_nn_init(&b, g, (uint64_t)c->seed, err);
    weft_nn_shapes_only(&b, c->shapes_only != 0);
    const float std = 0.02f, proj_std = 0.02f / sqrtf(2.0f * (float)L);

    int tokens = weft_graph_input(g, "tokens", WEFT_I64, WEFT_SHAPE(B, T)); /* (B, T) */
    int wte = weft_nn_param(&b, "wte.weight", WEFT_SHAPE(V, C), WEFT_NN_INIT_NORMAL, std, 0);  /* (V, C) */
    int wpe = weft_nn_param(&b, "wpe.weight", WEFT_SHAPE(P, C), WEFT_NN_INIT_NORMAL, std, 0);   /* (P, C) */
    weft_attr axis0 = {.name = "axis", .type = WEFT_ATTR_INT, .i = 0};
    int x = weft_nn_op1(&b, "Gather", "wte.lookup", (int[]){wte, tokens}, 2, &axis0, 1); /* (B, T, C) */
    /* positions 0..T-1: wpe itself when T == P, else its first T rows (T, C) */
    int pos = T == P ? wpe : weft_nn_slice(&b, "wpe.first_rows", wpe, 0, 0, T);
    x = weft_nn_op2(&b, "Add", "embed", x, pos);
    int mask = weft_nn_causal_mask(&b, "causal_mask", T); /* (T, T) bool */
    for (int64_t l = 0; l < L && !b.status; l++) {
        char p[64], n[96];
        snprintf(p, sizeof p, "h.%lld", (long long)l);
        snprintf(n, sizeof n, "%s.ln_1", p);
        int a = weft_nn_layer_norm(&b, n, x, C);
        snprintf(n, sizeof n, "%s.attn", p);
        a = weft_nn_attention(&b, n, a, (int)c->heads, mask, std, proj_std);
        snprintf(n, sizeof n, "%s.attn_residual", p);
        x = weft_nn_op2(&b, "Add", n, x, a);
        snprintf(n, sizeof n, "%s.ln_2", p);
        int m = weft_nn_layer_norm(&b, n, x, C);
        snprintf(n, sizeof n, "%s.mlp", p);
        m = weft_nn_mlp_gelu(&b, n, m, std, proj_std);
        snprintf(n, sizeof n, "%s.mlp_residual", p);
        x = weft_nn_op2(&b, "Add", n, x, m);
    }
    x = weft_nn_layer_norm(&b, "ln_f", x, C);
    x = weft_nn_reshape(&b, "head.rows", x, WEFT_SHAPE(B * T, C)); /* (B*T, C) */
    weft_attr tb = {.name = "transB", .type = WEFT_ATTR_INT, .i = 1};
    int logits = weft_nn_op1(&b, "Gemm", "head", (int[]){x, wte}, 2, &tb, 1); /* (B*T, V) */
    logits = weft_nn_reshape(&b, "logits", logits, WEFT_SHAPE(B, T, V));       /* (B, T, V) */
    return weft_nn_finish(&b, g, name, (int[]){logits}, 1, out);
}
