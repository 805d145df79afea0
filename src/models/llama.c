/* models: builtin:llama, LLaMA (Touvron et al. 2023) and LLaMA 2 / 3 with grouped-query attention,
 * as Hugging Face's LlamaForCausalLM, with its parameter names (linear weights (in, out) here):
 *
 *   tokens (B, T) int64
 *   x = embed_tokens[tokens]                       embed_tokens (V, C)                   -> (B, T, C)
 *   for each layer layers.i:
 *     h = input_layernorm(x)                       RMSNorm, eps 1e-5
 *     q = rope(h q_proj), k = rope(h k_proj)       q_proj (C, C), k_proj (C, KV*D), D = C / heads
 *     v = h v_proj                                 v_proj (C, KV*D); K/V heads repeated heads/KV times
 *     x = x + o_proj(causal_attention(q, k, v))    o_proj (C, C)
 *     h = post_attention_layernorm(x)
 *     x = x + down_proj(silu(h gate_proj) * h up_proj)   gate/up (C, FF), down (FF, C): SwiGLU
 *   logits = norm(x) lm_head                       lm_head (C, V), untied               -> (B, T, V)
 *
 * No biases anywhere. Rotary embedding on all D dims of each head in the rotate_half pairing
 * (i, i + D/2), base `theta` (10000 for LLaMA 1 and 2, 500000 for LLaMA 3). SiLU is x *
 * Sigmoid(x). Initialization as Hugging Face's: weights N(0, 0.02), norms one.
 */
#include "models/models.h"
#include "models/nn.h"

int64_t weft_llama_param_count(const weft_llama_config *c) {
    int64_t C = c->dim, KVD = c->kv_heads * (c->dim / c->heads), FF = c->ff;
    int64_t layer = 2 * C                       /* input_layernorm, post_attention_layernorm */
                    + 2 * C * C + 2 * C * KVD   /* q_proj, o_proj; k_proj, v_proj */
                    + 3 * C * FF;               /* gate_proj, up_proj, down_proj */
    return 2 * c->vocab * C + c->layers * layer + C;
}

weft_status weft_model_llama(const char *name, const weft_llama_config *c, weft_graph **out, weft_err *err) {
    *out = NULL;
    const int64_t B = c->batch, T = c->seq, C = c->dim, H = c->heads, KV = c->kv_heads, V = c->vocab, FF = c->ff;
    if (C % H || H % KV || (C / H) % 2)
        return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: dim %lld, heads %lld, kv_heads %lld do not fit (heads must divide "
                            "dim into an even head size, kv_heads must divide heads)", name, (long long)C, (long long)H, (long long)KV);
    const int64_t D = C / H, rep = H / KV;
    weft_graph *g = weft_graph_new(name);
    weft_nn b;
    weft_nn_init(&b, g, (uint64_t)c->seed, err);
    weft_nn_shapes_only(&b, c->shapes_only != 0);
    const float std = 0.02f, eps = 1e-5f;

    int tokens = weft_graph_input(g, "tokens", WEFT_I64, WEFT_SHAPE(B, T)); /* (B, T) */
    int wte = weft_nn_param(&b, "embed_tokens.weight", WEFT_SHAPE(V, C), WEFT_NN_INIT_NORMAL, std, 0); /* (V, C) */
    weft_attr axis0 = {.name = "axis", .type = WEFT_ATTR_INT, .i = 0};
    int x = weft_nn_op1(&b, "Gather", "embed_tokens.lookup", (int[]){wte, tokens}, 2, &axis0, 1); /* (B, T, C) */
    int mask = weft_nn_causal_mask(&b, "causal_mask", T); /* (T, T) bool */
    int rope_cos, rope_sin;
    weft_nn_rotary_tables(&b, "rope", T, D, (double)c->theta, false, &rope_cos, &rope_sin); /* (T, 1, D) */
    for (int64_t l = 0; l < c->layers && !b.status; l++) {
        char p[64], n[128];
#define NAME(leaf) (snprintf(n, sizeof n, "%s.%s", p, leaf), n)
        snprintf(p, sizeof p, "layers.%lld", (long long)l);
        int h = weft_nn_rms_norm(&b, NAME("input_layernorm"), x, C, eps);
        int q = weft_nn_linear_no_bias(&b, NAME("self_attn.q_proj"), h, C, C, WEFT_NN_INIT_NORMAL, std);       /* (B, T, C) */
        int k = weft_nn_linear_no_bias(&b, NAME("self_attn.k_proj"), h, C, KV * D, WEFT_NN_INIT_NORMAL, std);  /* (B, T, KV*D) */
        int v = weft_nn_linear_no_bias(&b, NAME("self_attn.v_proj"), h, C, KV * D, WEFT_NN_INIT_NORMAL, std);
        q = weft_nn_reshape(&b, NAME("self_attn.q_heads"), q, WEFT_SHAPE(B, T, H, D)); /* (B, T, H, D) */
        k = weft_nn_reshape(&b, NAME("self_attn.k_heads"), k, WEFT_SHAPE(B, T, KV, D)); /* (B, T, KV, D) */
        v = weft_nn_reshape(&b, NAME("self_attn.v_heads"), v, WEFT_SHAPE(B, T, KV, D));
        q = weft_nn_rotary(&b, NAME("self_attn.q_rope"), q, D, rope_cos, rope_sin, false);
        k = weft_nn_rotary(&b, NAME("self_attn.k_rope"), k, D, rope_cos, rope_sin, false);
        if (rep > 1) { /* grouped-query attention: K/V head j serves query heads j*rep .. j*rep+rep-1 */
            k = weft_nn_reshape(&b, NAME("self_attn.k_groups"), k, WEFT_SHAPE(B, T, KV, 1, D));
            k = weft_nn_expand(&b, NAME("self_attn.k_repeat"), k, WEFT_SHAPE(B, T, KV, rep, D)); /* (B, T, KV, rep, D) */
            k = weft_nn_reshape(&b, NAME("self_attn.k_all_heads"), k, WEFT_SHAPE(B, T, H, D));    /* (B, T, H, D) */
            v = weft_nn_reshape(&b, NAME("self_attn.v_groups"), v, WEFT_SHAPE(B, T, KV, 1, D));
            v = weft_nn_expand(&b, NAME("self_attn.v_repeat"), v, WEFT_SHAPE(B, T, KV, rep, D));
            v = weft_nn_reshape(&b, NAME("self_attn.v_all_heads"), v, WEFT_SHAPE(B, T, H, D));
        }
        int a = weft_nn_sdpa(&b, NAME("self_attn"), q, k, v, mask); /* (B, T, C) */
        a = weft_nn_linear_no_bias(&b, NAME("self_attn.o_proj"), a, C, C, WEFT_NN_INIT_NORMAL, std);
        x = weft_nn_op2(&b, "Add", NAME("attn_residual"), x, a);
        h = weft_nn_rms_norm(&b, NAME("post_attention_layernorm"), x, C, eps);
        int gate = weft_nn_linear_no_bias(&b, NAME("mlp.gate_proj"), h, C, FF, WEFT_NN_INIT_NORMAL, std); /* (B, T, FF) */
        int up = weft_nn_linear_no_bias(&b, NAME("mlp.up_proj"), h, C, FF, WEFT_NN_INIT_NORMAL, std);
        int sg = weft_nn_op1(&b, "Sigmoid", NAME("mlp.sigmoid"), &gate, 1, NULL, 0);
        gate = weft_nn_op2(&b, "Mul", NAME("mlp.silu"), gate, sg);
        int m = weft_nn_op2(&b, "Mul", NAME("mlp.gated"), gate, up);
        m = weft_nn_linear_no_bias(&b, NAME("mlp.down_proj"), m, FF, C, WEFT_NN_INIT_NORMAL, std); /* (B, T, C) */
        x = weft_nn_op2(&b, "Add", NAME("mlp_residual"), x, m);
#undef NAME
    }
    x = weft_nn_rms_norm(&b, "norm", x, C, eps);
    int logits = weft_nn_linear_no_bias(&b, "lm_head", x, C, V, WEFT_NN_INIT_NORMAL, std); /* (B, T, V) */
    return weft_nn_finish(&b, g, name, (int[]){logits}, 1, out);
}
