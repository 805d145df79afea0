/* models: builtin:bert, BERT (Devlin et al. 2018) with its pre-training heads, as Hugging Face's
 * BertForPreTraining, with its parameter names (linear weights (in, out) here):
 *
 *   tokens (B, T) int64 (every token of segment A: token type 0)
 *   x = LN(word_embeddings[tokens] + position_embeddings[0:T] + token_type_embeddings[0])
 *                                   word (V, C), position (P, C), token_type (2, C)  -> (B, T, C)
 *   for each layer encoder.layer.i (post-LN):
 *     x = LN(x + attention.output.dense(attention(x q, x k, x v)))   (C, C) + bias each, over the
 *                                                                     whole sequence
 *     x = LN(x + output.dense(GELU(intermediate.dense(x))))          (C, FF), (FF, C) + bias
 *   MLM head:  h = LN(GELU(predictions.transform.dense(x)))          (C, C) + bias
 *              mlm = h word_embeddings^T + predictions.bias          tied decoder   -> (B, T, V)
 *   NSP head (nsp=1): pooled = tanh(pooler.dense(x[:, 0]))           (C, C) + bias
 *              nsp = pooled seq_relationship                         (C, 2) + bias  -> (B, 2)
 *
 * GELU is the exact (erf) form, LayerNorm's epsilon 1e-12, weights N(0, 0.02), biases zero.
 * Training takes one output, the MLM logits: nsp=0 (the default) leaves the pooler and the NSP
 * classifier out; weft_bert_param_count(c, true) is the published count with them.
 */
#include "models/models.h"
#include "models/nn.h"

int64_t weft_bert_param_count(const weft_bert_config *c, bool nsp) {
    int64_t C = c->dim, FF = c->ff;
    int64_t embed = (c->vocab + c->positions + 2) * C + 2 * C;
    int64_t layer = 4 * (C * C + C)     /* query, key, value, attention.output.dense */
                    + 2 * C             /* attention.output.LayerNorm */
                    + C * FF + FF       /* intermediate.dense */
                    + FF * C + C        /* output.dense */
                    + 2 * C;            /* output.LayerNorm */
    int64_t mlm = C * C + C + 2 * C + c->vocab; /* transform dense, its LayerNorm, decoder bias */
    int64_t heads = nsp ? C * C + C + 2 * C + 2 : 0; /* pooler, seq_relationship */
    return embed + c->layers * layer + mlm + heads;
}

weft_status weft_model_bert(const char *name, const weft_bert_config *c, weft_graph **out, weft_err *err) {
    *out = NULL;
    const int64_t B = c->batch, T = c->seq, C = c->dim, H = c->heads, V = c->vocab, FF = c->ff, P = c->positions;
    if (C % H || T > P)
        return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: dim %lld, heads %lld, seq %lld, positions %lld do not fit", name,
                            (long long)C, (long long)H, (long long)T, (long long)P);
    const int64_t D = C / H;
    weft_graph *g = weft_graph_new(name);
    weft_nn b;
    weft_nn_init(&b, g, (uint64_t)c->seed, err);
    weft_nn_shapes_only(&b, c->shapes_only != 0);
    const float std = 0.02f, eps = 1e-12f;
    const weft_nn_init_kind N = WEFT_NN_INIT_NORMAL;

    int tokens = weft_graph_input(g, "tokens", WEFT_I64, WEFT_SHAPE(B, T)); /* (B, T) */
    int wte = weft_nn_param(&b, "embeddings.word_embeddings.weight", WEFT_SHAPE(V, C), N, std, 0);         /* (V, C) */
    int wpe = weft_nn_param(&b, "embeddings.position_embeddings.weight", WEFT_SHAPE(P, C), N, std, 0);     /* (P, C) */
    int wtt = weft_nn_param(&b, "embeddings.token_type_embeddings.weight", WEFT_SHAPE(2, C), N, std, 0);   /* (2, C) */
    weft_attr axis0 = {.name = "axis", .type = WEFT_ATTR_INT, .i = 0};
    int x = weft_nn_op1(&b, "Gather", "embeddings.word_lookup", (int[]){wte, tokens}, 2, &axis0, 1); /* (B, T, C) */
    int pos = T == P ? wpe : weft_nn_slice(&b, "embeddings.positions", wpe, 0, 0, T); /* (T, C) */
    x = weft_nn_op2(&b, "Add", "embeddings.plus_positions", x, pos);
    int type0 = weft_nn_slice(&b, "embeddings.token_type_0", wtt, 0, 0, 1); /* (1, C) */
    x = weft_nn_op2(&b, "Add", "embeddings.plus_token_type", x, type0);
    x = weft_nn_layer_norm_eps(&b, "embeddings.LayerNorm", x, C, eps);
    for (int64_t l = 0; l < c->layers && !b.status; l++) {
        char p[64], n[128];
#define NAME(leaf) (snprintf(n, sizeof n, "%s.%s", p, leaf), n)
        snprintf(p, sizeof p, "encoder.layer.%lld", (long long)l);
        int q = weft_nn_linear(&b, NAME("attention.self.query"), x, C, C, N, std); /* (B, T, C) */
        int k = weft_nn_linear(&b, NAME("attention.self.key"), x, C, C, N, std);
        int v = weft_nn_linear(&b, NAME("attention.self.value"), x, C, C, N, std);
        q = weft_nn_reshape(&b, NAME("attention.self.q_heads"), q, WEFT_SHAPE(B, T, H, D)); /* (B, T, H, D) */
        k = weft_nn_reshape(&b, NAME("attention.self.k_heads"), k, WEFT_SHAPE(B, T, H, D));
        v = weft_nn_reshape(&b, NAME("attention.self.v_heads"), v, WEFT_SHAPE(B, T, H, D));
        int a = weft_nn_sdpa(&b, NAME("attention.self"), q, k, v, -1); /* (B, T, C) */
        a = weft_nn_linear(&b, NAME("attention.output.dense"), a, C, C, N, std);
        a = weft_nn_op2(&b, "Add", NAME("attention.output.residual"), x, a);
        x = weft_nn_layer_norm_eps(&b, NAME("attention.output.LayerNorm"), a, C, eps);
        int m = weft_nn_linear(&b, NAME("intermediate.dense"), x, C, FF, N, std); /* (B, T, FF) */
        m = weft_nn_op1(&b, "Gelu", NAME("intermediate.gelu"), &m, 1, NULL, 0);
        m = weft_nn_linear(&b, NAME("output.dense"), m, FF, C, N, std); /* (B, T, C) */
        m = weft_nn_op2(&b, "Add", NAME("output.residual"), x, m);
        x = weft_nn_layer_norm_eps(&b, NAME("output.LayerNorm"), m, C, eps);
#undef NAME
    }
    int h = weft_nn_linear(&b, "cls.predictions.transform.dense", x, C, C, N, std);
    h = weft_nn_op1(&b, "Gelu", "cls.predictions.transform.gelu", &h, 1, NULL, 0);
    h = weft_nn_layer_norm_eps(&b, "cls.predictions.transform.LayerNorm", h, C, eps);
    h = weft_nn_reshape(&b, "cls.predictions.rows", h, WEFT_SHAPE(B * T, C)); /* (B*T, C) */
    int bias = weft_nn_param(&b, "cls.predictions.bias", WEFT_SHAPE(V), WEFT_NN_INIT_ZEROS, 0, 0); /* (V) */
    weft_attr tb = {.name = "transB", .type = WEFT_ATTR_INT, .i = 1};
    int mlm = weft_nn_op1(&b, "Gemm", "cls.predictions.decoder", (int[]){h, wte}, 2, &tb, 1); /* (B*T, V) */
    mlm = weft_nn_op2(&b, "Add", "cls.predictions.plus_bias", mlm, bias);
    mlm = weft_nn_reshape(&b, "mlm_logits", mlm, WEFT_SHAPE(B, T, V)); /* (B, T, V) */
    int nsp = -1;
    if (c->nsp) {
        int first = weft_nn_slice(&b, "pooler.first_token", x, 1, 0, 1); /* (B, 1, C) */
        first = weft_nn_reshape(&b, "pooler.rows", first, WEFT_SHAPE(B, C));
        int pooled = weft_nn_linear(&b, "pooler.dense", first, C, C, N, std); /* (B, C) */
        pooled = weft_nn_op1(&b, "Tanh", "pooler.tanh", &pooled, 1, NULL, 0);
        nsp = weft_nn_linear(&b, "cls.seq_relationship", pooled, C, 2, N, std); /* (B, 2) */
    }
    return weft_nn_finish(&b, g, name, (int[]){mlm, nsp}, 2, out);
}
