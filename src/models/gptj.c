/* models: builtin:gptj, GPT-J 6B (Wang and Komatsuzaki 2021, mesh-transformer-jax), as Hugging
 * Face's GPTJForCausalLM, with its parameter names (linear weights (in, out) here):
 *
 *   tokens (B, T) int64
 *   x = wte[tokens]                                   wte (V, C)                        -> (B, T, C)
 *   for each block h.i:                               attention and MLP in parallel:
 *     h = ln_1(x)                                     one LayerNorm for both
 *     x = x + attn(h) + mlp(h)
 *       attn: q, k, v = h q_proj, h k_proj, h v_proj  (C, C) each, no bias; rotary on the
 *             first `rotary` dims of each head (GPT-J's interleaved pairs), causal; out_proj (C, C)
 *       mlp:  fc_out(gelu(fc_in(h)))                  fc_in (C, FF) + bias, GELU (tanh form),
 *                                                     fc_out (FF, C) + bias
 *   logits = ln_f(x) lm_head + lm_head.bias           lm_head (C, V), untied, with bias  -> (B, T, V)
 *
 * GPT-J 6B: 28 layers, C 4096, 16 heads of 256, rotary 64, FF 16384, V 50400 (the tokenizer's
 * 50257 padded). Initialization: weights N(0, 0.02), biases zero, LayerNorm one / zero.
 */
#include "models/models.h"
#include "models/nn.h"

int64_t weft_gptj_param_count(const weft_gptj_config *c) {
    int64_t C = c->dim, FF = c->ff;
    int64_t block = 2 * C                  /* ln_1 */
                    + 4 * C * C            /* q_proj, k_proj, v_proj, out_proj */
                    + C * FF + FF          /* fc_in */
                    + FF * C + C;          /* fc_out */
    return c->vocab * C + c->layers * block + 2 * C + C * c->vocab + c->vocab;
}

weft_status weft_model_gptj(const char *name, const weft_gptj_config *c, weft_graph **out, weft_err *err) {
    *out = NULL;
    const int64_t B = c->batch, T = c->seq, C = c->dim, H = c->heads, V = c->vocab, FF = c->ff, R = c->rotary;
    if (C % H || R % 2 || R > C / H)
        return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: dim %lld, heads %lld, rotary %lld do not fit (heads must divide dim; "
                            "rotary must be even and at most dim / heads)", name, (long long)C, (long long)H, (long long)R);
    const int64_t D = C / H;
    weft_graph *g = weft_graph_new(name);
    weft_nn b;
    weft_nn_init(&b, g, (uint64_t)c->seed, err);
    weft_nn_shapes_only(&b, c->shapes_only != 0);
    const float std = 0.02f;

    int tokens = weft_graph_input(g, "tokens", WEFT_I64, WEFT_SHAPE(B, T)); /* (B, T) */
    int wte = weft_nn_param(&b, "wte.weight", WEFT_SHAPE(V, C), WEFT_NN_INIT_NORMAL, std, 0); /* (V, C) */
    weft_attr axis0 = {.name = "axis", .type = WEFT_ATTR_INT, .i = 0};
    int x = weft_nn_op1(&b, "Gather", "wte.lookup", (int[]){wte, tokens}, 2, &axis0, 1); /* (B, T, C) */
    int mask = weft_nn_causal_mask(&b, "causal_mask", T); /* (T, T) bool */
    int rope_cos = -1, rope_sin = -1;
    if (R > 0) weft_nn_rotary_tables(&b, "rope", T, R, 10000.0, true, &rope_cos, &rope_sin); /* (T, 1, R) */
    weft_attr tanh_form = {.name = "approximate", .type = WEFT_ATTR_STRING, .s = "tanh"};
    for (int64_t l = 0; l < c->layers && !b.status; l++) {
        char p[64], n[128];
#define NAME(leaf) (snprintf(n, sizeof n, "%s.%s", p, leaf), n)
        snprintf(p, sizeof p, "h.%lld", (long long)l);
        int h = weft_nn_layer_norm(&b, NAME("ln_1"), x, C);
        int q = weft_nn_linear_no_bias(&b, NAME("attn.q_proj"), h, C, C, WEFT_NN_INIT_NORMAL, std); /* (B, T, C) */
        int k = weft_nn_linear_no_bias(&b, NAME("attn.k_proj"), h, C, C, WEFT_NN_INIT_NORMAL, std);
        int v = weft_nn_linear_no_bias(&b, NAME("attn.v_proj"), h, C, C, WEFT_NN_INIT_NORMAL, std);
        q = weft_nn_reshape(&b, NAME("attn.q_heads"), q, WEFT_SHAPE(B, T, H, D)); /* (B, T, H, D) */
        k = weft_nn_reshape(&b, NAME("attn.k_heads"), k, WEFT_SHAPE(B, T, H, D));
        v = weft_nn_reshape(&b, NAME("attn.v_heads"), v, WEFT_SHAPE(B, T, H, D));
        if (R > 0) {
            q = weft_nn_rotary(&b, NAME("attn.q_rope"), q, R, rope_cos, rope_sin, true);
            k = weft_nn_rotary(&b, NAME("attn.k_rope"), k, R, rope_cos, rope_sin, true);
        }
        int a = weft_nn_sdpa(&b, NAME("attn"), q, k, v, mask); /* (B, T, C) */
        a = weft_nn_linear_no_bias(&b, NAME("attn.out_proj"), a, C, C, WEFT_NN_INIT_NORMAL, std);
        int m = weft_nn_linear(&b, NAME("mlp.fc_in"), h, C, FF, WEFT_NN_INIT_NORMAL, std); /* (B, T, FF) */
        m = weft_nn_op1(&b, "Gelu", NAME("mlp.gelu"), &m, 1, &tanh_form, 1);
        m = weft_nn_linear(&b, NAME("mlp.fc_out"), m, FF, C, WEFT_NN_INIT_NORMAL, std); /* (B, T, C) */
        int am = weft_nn_op2(&b, "Add", NAME("attn_plus_mlp"), a, m);
        x = weft_nn_op2(&b, "Add", NAME("residual"), x, am);
#undef NAME
    }
    x = weft_nn_layer_norm(&b, "ln_f", x, C);
    int logits = weft_nn_linear(&b, "lm_head", x, C, V, WEFT_NN_INIT_NORMAL, std); /* (B, T, V) */
    return weft_nn_finish(&b, g, name, (int[]){logits}, 1, out);
}
