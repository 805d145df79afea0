/* compile: the lowering pass (passes.h).
 *
 * Reads: the graph. Writes: p->folded (every value known at compile time: constants,
 * parameters and what is computed from them only), p->stream_axis, p->sample_axis, p->blocks,
 * p->blocks_per_seq, the kernels
 * (kind, dimensions, dependencies, resident weights, flops) and p->kernel_of_node / _of_value;
 * a parameter's optimizer update gets the kernel holding the parameter as its host. */
#include "compile/passes.h"

#include <string.h>

#define is_const weft_compile_is_const
#define sax weft_compile_sax

static int64_t cols_of(const weft_shape *s) { return s->ndim ? (s->d[s->ndim - 1] ? s->d[s->ndim - 1] : 1) : 1; }
static int64_t rows_of(const weft_shape *s) { return weft_shape_numel(s) / cols_of(s); }

/* A program compiled for timing only never computes what it folds from the parameters (their
 * transposes, casts, ...) beyond this size: such a value has its shape and dtype and no storage
 * (its data points at `shape_only`, never read: the lowering rows read only the shapes of
 * parameter-derived values, and a timing-only program is neither loaded with weights, simulated
 * with numbers nor refreshed), so a 7 B model's timing fits a small host. */
#define FOLD_SHAPE_ONLY_BYTES (1 << 16)
static char shape_only;

static weft_status fold_constants(weft_program *p, weft_err *err) {
    const weft_graph *g = p->graph;
    bool *from_param = weft_try_calloc((size_t)g->n_vals + 1, sizeof(bool));  /* (n_vals) */
    if (!from_param) return weft_pass_oom(p, "the folded values", err);
    for (int v = 0; v < g->n_vals; v++) {
        from_param[v] = g->vals[v].kind == WEFT_VAL_PARAM;
        if (g->vals[v].data.data) {
            p->folded[v] = g->vals[v].data;
            p->folded[v].owns = 0;
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const weft_node *n = &g->nodes[i];
        bool all = true, param = false;
        for (int k = 0; k < n->n_in; k++) {
            if (n->in[k] >= 0 && !is_const(p, n->in[k])) all = false;
            if (n->in[k] >= 0) param |= from_param[n->in[k]];
        }
        p->kernel_of_node[i] = WEFT_NODE_FOLDED;
        if (!all) continue;
        for (int j = 0; j < n->n_out; j++) from_param[n->out[j]] = param;
        if (p->timing_only && param) {
            bool big = false;  /* (or computed from a value that has no storage) */
            for (int k = 0; k < n->n_in; k++) big |= n->in[k] >= 0 && p->folded[n->in[k]].data == &shape_only;
            for (int j = 0; j < n->n_out; j++)
                big |= weft_shape_numel(&g->vals[n->out[j]].shape) * (int64_t)weft_dtype_size(g->vals[n->out[j]].dtype) > FOLD_SHAPE_ONLY_BYTES;
            for (int j = 0; j < n->n_out && big; j++)
                p->folded[n->out[j]] = (weft_tensor){.dtype = g->vals[n->out[j]].dtype, .shape = g->vals[n->out[j]].shape, .data = &shape_only};
            if (big) continue;
        }
        const weft_tensor *in[WEFT_MAX_IO];
        weft_tensor out[WEFT_MAX_IO] = {{0}};
        for (int k = 0; k < n->n_in; k++) in[k] = n->in[k] >= 0 ? &p->folded[n->in[k]] : NULL;
        weft_status s = weft_node_eval(g, n, in, out, err);
        if (s) { free(from_param); return weft_err_prefix(err, "compile-time evaluation"); }
        for (int j = 0; j < n->n_out; j++) p->folded[n->out[j]] = out[j];
    }
    free(from_param);
    return WEFT_OK;
}

/* A GEMM region's weight as the tiles hold it, W (K, N) in fp32, from the weight operand's value
 * known at compile time: transposed when the operand is (N, K) (a Conv's (M, C prod(k)), a
 * Gemm's transB), alpha applied. */
static weft_status load_weight(weft_program *p, weft_kernel *k, weft_err *err) {
    const weft_tensor *W = &p->folded[p->graph->nodes[k->node].in[1]];
    bool tb = k->trans_b;
    float alpha = k->alpha;
    if (!k->weight.data) {
        weft_status s = weft_tensor_alloc(&k->weight, WEFT_F32, WEFT_SHAPE(k->K, k->N), err);
        if (s) return s;
    }
    float *w = k->weight.data; /* (K, N) */
    if (W->dtype == WEFT_F32) { /* the common case, read directly: GPT-2 has 85M weights to copy */
        const float *src = W->data;
        for (int64_t r = 0; r < k->K; r++)
            for (int64_t c = 0; c < k->N; c++) w[r * k->N + c] = alpha * src[tb ? c * k->K + r : r * k->N + c];
        return WEFT_OK;
    }
    for (int64_t r = 0; r < k->K; r++)
        for (int64_t c = 0; c < k->N; c++) w[r * k->N + c] = alpha * (float)weft_tensor_get_f(W, tb ? c * k->K + r : r * k->N + c);
    return WEFT_OK;
}

weft_status weft_pass_load_weights(weft_program *p, weft_err *err) {
    for (int i = 0; i < p->n; i++)
        if (p->k[i].kind == WEFT_KERNEL_GEMM) {
            weft_status s = load_weight(p, &p->k[i], err);
            if (s) return s;
        }
    return WEFT_OK;
}

weft_status weft_program_refresh(weft_program *p, weft_err *err) {
    const weft_graph *g = p->graph;
    if (p->timing_only) return weft_err_set(err, WEFT_ERR_INVALID, "the program was compiled for timing only: no weights to refresh");
    for (int i = 0; i < g->n_nodes; i++) {
        const weft_node *n = &g->nodes[i];
        if (p->kernel_of_node[i] != WEFT_NODE_FOLDED) continue;
        const weft_tensor *in[WEFT_MAX_IO];
        weft_tensor out[WEFT_MAX_IO] = {{0}};
        for (int k = 0; k < n->n_in; k++) in[k] = n->in[k] >= 0 ? &p->folded[n->in[k]] : NULL;
        weft_status s = weft_node_eval(g, n, in, out, err);
        if (s) return weft_err_prefix(err, "refreshing the program's constants");
        for (int j = 0; j < n->n_out; j++) {
            weft_tensor_free(&p->folded[n->out[j]]);
            p->folded[n->out[j]] = out[j];
        }
    }
    return weft_pass_load_weights(p, err);
}

/* Chooses the stream: the tokens of an int64 (batch, seq) input, else the batch of the first
 * input; other inputs with the same extent on that axis stream too. A token stream cuts each
 * sequence into blocks and streams the batch's sequences one after another, so that a region
 * holds a block of one sequence whatever the batch; a batch stream cuts the batch. */
static weft_status choose_stream(weft_program *p, int max_blocks, weft_err *err) {
    const weft_graph *g = p->graph;
    bool tokens = false;
    for (int i = 0; i < g->n_inputs && !p->stream_len; i++) {
        const weft_value *v = &g->vals[g->inputs[i]];
        if (v->shape.ndim == 2 && v->dtype == WEFT_I64) {
            p->stream_len = v->shape.d[1];
            p->stream_axis[g->inputs[i]] = 1;
            tokens = true;
        }
    }
    for (int i = 0; i < g->n_inputs && !p->stream_len; i++) {
        const weft_value *v = &g->vals[g->inputs[i]];
        if (v->shape.ndim >= 1) { p->stream_len = v->shape.d[0]; p->stream_axis[g->inputs[i]] = 0; }
    }
    for (int i = 0; i < g->n_inputs; i++) {
        const weft_value *v = &g->vals[g->inputs[i]];
        int ax = p->stream_axis[g->inputs[0]];
        if (p->stream_axis[g->inputs[i]] < 0 && ax >= 0 && ax < v->shape.ndim && v->shape.d[ax] == p->stream_len)
            p->stream_axis[g->inputs[i]] = ax;
    }
    p->samples = g->n_inputs && g->vals[g->inputs[0]].shape.ndim ? g->vals[g->inputs[0]].shape.d[0] : 1;
    if (p->samples < 1) p->samples = 1;
    int cap = max_blocks > 0 ? max_blocks : WEFT_DEFAULT_BLOCKS;
    int64_t per = p->stream_len < cap ? (p->stream_len > 0 ? p->stream_len : 1) : cap;
    p->blocks = p->blocks_per_seq = (int)per;
    if (!tokens || p->samples == 1) return WEFT_OK;
    if (p->samples > WEFT_MAX_BLOCKS)
        return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "a batch of %lld sequences: a pass streams at most %d; compile a smaller batch",
                            (long long)p->samples, WEFT_MAX_BLOCKS);
    if (per > WEFT_MAX_BLOCKS / p->samples) per = WEFT_MAX_BLOCKS / p->samples;
    p->blocks_per_seq = (int)per;
    p->blocks = (int)(per * p->samples);
    /* the streamed inputs hold the samples on their first axis; one that does not (positions
     * shared by every sample) is read whole */
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        if (p->stream_axis[v] < 0) continue;
        if (g->vals[v].shape.ndim > 1 && g->vals[v].shape.d[0] == p->samples) p->sample_axis[v] = 0;
        else p->stream_axis[v] = -1;
    }
    return WEFT_OK;
}

/* The stream axis of node n's output by its row (-1: it does not stream), in *sample the axis
 * holding its samples (several sequences a pass), and for each input q whether block b feeds
 * block b (same[q]) and whether it holds the output's samples on an axis of their own
 * (same_s[q]). The samples move through an op as any axis does: the row's rule applied to the
 * inputs' sample axes gives the output's. A value that streams tokens but lost its samples (a
 * reduction over them) does not stream. */
static int stream_of(weft_program *p, const weft_lowering *row, const weft_node *n, bool *same, bool *same_s, int *sample) {
    int s = row->stream ? row->stream(p, n, same) : -1;
    *sample = -1;
    if (p->blocks == p->blocks_per_seq) {
        for (int q = 0; q < n->n_in; q++) same_s[q] = true;
        return s;
    }
    int *tokens = p->stream_axis;
    p->stream_axis = p->sample_axis;
    int m = row->stream ? row->stream(p, n, same_s) : -1;
    p->stream_axis = tokens;
    if (row->view && (s < 0 || m < 0)) {
        memset(same_s, 0, WEFT_MAX_IO * sizeof *same_s);
        s = weft_lowering_merge_samples(p, n, &m);
        same[0] = same_s[0] = s >= 0;
    }
    const weft_shape *os = &p->graph->vals[n->out[0]].shape;
    if (s >= 0 && (m < 0 || (m == s && os->d[s] != p->samples * p->stream_len))) s = -1;
    if (s < 0) {
        memset(same, 0, WEFT_MAX_IO * sizeof *same);
        return -1;
    }
    *sample = m;
    return s;
}

/* Sets up kernel k for node i by its lowering row: kind, dimensions, work, dependencies. */
static weft_status lower_node(weft_program *p, int i, weft_kernel *k, weft_err *err) {
    const weft_graph *g = p->graph;
    const weft_node *n = &g->nodes[i];
    const weft_lowering *row = weft_lowering_of(n->op);
    const weft_shape *os = &g->vals[n->out[0]].shape;
    memset(k, 0, sizeof *k);
    k->node = i;
    k->host = -1;
    k->alpha = 1.0f;
    weft_dtype dt = g->vals[n->out[0]].dtype;
    k->arith = dt == WEFT_F16 ? WEFT_ARCH_FP16 : dt == WEFT_BF16 ? WEFT_ARCH_BF16 : WEFT_ARCH_FP32;
    k->row_reductions = row->row_reductions;
    k->flops = weft_node_cost(g, n).flops;
    if (row->gemm && row->gemm(p, n, k)) {
        k->kind = WEFT_KERNEL_GEMM;
        k->weight_bytes = k->K * k->N * (int64_t)weft_dtype_size(g->vals[n->in[1]].dtype);
        k->flops = 2 * k->M * k->K * k->N;
    } else {
        k->kind = WEFT_KERNEL_WHOLE;  /* STREAM below when it streams */
        k->conv = k->trans_b = false;
        k->alpha = 1.0f;
        k->M = rows_of(os);
        k->N = cols_of(os);
        k->K = 0;
        /* constant inputs (biases, scales, gains) stay resident */
        for (int q = 0; q < n->n_in; q++)
            if (is_const(p, n->in[q])) k->weight_bytes += (int64_t)weft_tensor_nbytes(&p->folded[n->in[q]]);
    }
    /* streaming: along the stream axis, when the output keeps it */
    bool same[WEFT_MAX_IO] = {0}, same_s[WEFT_MAX_IO] = {0};
    int sample, s_out = stream_of(p, row, n, same, same_s, &sample);
    for (int j = 0; j < n->n_out; j++) {  /* outputs that keep the stream (a sum over it does not) */
        const weft_shape *oj = &g->vals[n->out[j]].shape;
        bool keeps = s_out >= 0 && oj->ndim == os->ndim && oj->d[s_out] == os->d[s_out];
        p->stream_axis[n->out[j]] = keeps ? s_out : -1;
        p->sample_axis[n->out[j]] = keeps ? sample : -1;
    }
    k->blocks = s_out >= 0 ? p->blocks : 1;
    if (s_out < 0) memset(same, 0, sizeof same);
    if (s_out < 0 && p->blocks > 1 && row->accumulates && row->accumulates(p, n, same)) {
        k->accumulates = true;
        k->blocks = p->blocks;
    }
    if (k->kind == WEFT_KERNEL_WHOLE && k->blocks > 1) k->kind = WEFT_KERNEL_STREAM;
    k->block_rows = (k->M + k->blocks - 1) / k->blocks;
    if (k->kind == WEFT_KERNEL_GEMM) {
        /* a GEMM region takes a block's rows in chunks: its buffers stay small whatever the
         * block (a whole image, for a convolution at batch 1) */
        int64_t chunk = WEFT_GEMM_CHUNK_ROWS;
        /* a wide GEMM (the logits' vocabulary) takes fewer rows at a time, so that its two fp32
         * partial blocks stay within a quarter of a tile's SRAM even on a grid as wide as the mesh */
        int64_t nb_min = (k->N + p->arch.width - 1) / p->arch.width;
        /* and a deep one (the logits' gradient on a mesh of 40 rows) its two input row blocks */
        int64_t kb_min = (k->K + p->arch.height - 1) / p->arch.height, es = (int64_t)weft_dtype_size(dt);
        while (chunk > 1 && (double)(2 * chunk * nb_min * 4) > weft_sram_cap(p) / 4) chunk /= 2;
        while (chunk > 1 && (double)(2 * chunk * kb_min * es) > weft_sram_cap(p) / 4) chunk /= 2;
        k->chunks = (int)((k->block_rows + chunk - 1) / chunk);
        if (k->chunks < 1) k->chunks = 1;
        k->block_rows = (k->block_rows + k->chunks - 1) / k->chunks;
    }
    /* dependencies: the kernels producing each activation input, and what block b needs of each:
     * its own block where the input streams with the output; with several sequences a pass,
     * the input's blocks of b's sequence (a prefix of them, causal attention) where the input
     * holds the output's samples on its own axis; else all of it */
    bool one_seq = p->blocks == p->blocks_per_seq;
    for (int q = 0; q < n->n_in; q++) {
        int v = n->in[q];
        if (v < 0 || is_const(p, v)) continue;
        if (k->n_deps == WEFT_KERNEL_MAX_DEPS)
            return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "node '%s' (%s): more than %d activation inputs", n->name, n->op->name,
                                WEFT_KERNEL_MAX_DEPS);
        int d = k->n_deps++;
        k->dep[d] = p->kernel_of_value[v];
        k->dep_value[d] = v;
        bool streams = k->blocks > 1 && sax(p, v) >= 0 && weft_value_blocks(p, v) == k->blocks;
        bool samples = k->accumulates || one_seq || same_s[q];
        k->dep_kind[d] = WEFT_DEP_WHOLE;
        if (k->blocks > 1 && same[q] && samples) k->dep_kind[d] = WEFT_DEP_BLOCK;
        else if (streams && samples && row->prefix && row->prefix(p, n, q)) k->dep_kind[d] = WEFT_DEP_PREFIX;
        else if (streams && !one_seq && same_s[q] && !k->accumulates) k->dep_kind[d] = WEFT_DEP_SEQUENCE;
    }
    return WEFT_OK;
}

/* A parameter's optimizer update runs in the region that holds the parameter (the GEMM whose
 * weight it is, else the kernel that keeps it, such as a bias's add): the update shares that
 * region's tiles, and the region's SRAM plan gains the gradient and the optimizer state (updated
 * in place). weft's own ops (names "weft.*": gradients, updates) never host one. */
/* Is value v the parameter, or its cast folded at compile time (mixed precision's bf16 copy)? */
static bool reads_param(const weft_program *p, int v, int param) {
    if (v == param) return true;
    int prod = v >= 0 ? p->graph->vals[v].producer : -1;
    if (prod < 0 || p->kernel_of_node[prod] != WEFT_NODE_FOLDED) return false;
    const weft_node *n = &p->graph->nodes[prod];
    return !strcmp(n->op->name, "Cast") && n->in[0] == param;
}

static void attach_updates(weft_program *p) {
    const weft_graph *g = p->graph;
    for (int i = 0; i < p->n; i++) {
        weft_kernel *k = &p->k[i];
        const weft_node *n = &g->nodes[k->node];
        int state = weft_lowering_of(n->op)->update_state;
        if (!state) continue;
        int param = n->in[0], host = -1;
        for (int pass = 0; pass < 2 && host < 0; pass++)
            for (int h = 0; h < p->n && host < 0; h++) {
                const weft_kernel *gk = &p->k[h];
                const weft_node *gn = &g->nodes[gk->node];
                if (gk->host >= 0 || h == i || !strncmp(gn->op->name, "weft.", 5)) continue;
                if (pass == 0 && gk->kind == WEFT_KERNEL_GEMM && reads_param(p, gn->in[1], param)) host = h;
                for (int q = 0; pass == 1 && q < gn->n_in; q++)
                    if (reads_param(p, gn->in[q], param)) host = h;
            }
        if (host < 0) continue;
        k->host = host;
        int64_t bytes = 0;  /* the gradient and the state stay in the host's tiles; P is already there, */
        for (int q = 1; q < state && q < n->n_in; q++) bytes += weft_program_value_bytes(p, n->in[q]);
        bool master = true;  /* unless the host holds only its 16-bit copy: then the fp32 master joins it */
        const weft_node *hn = &g->nodes[p->k[host].node];
        for (int q = 0; q < hn->n_in; q++) master &= hn->in[q] != param;
        if (master) bytes += weft_program_value_bytes(p, param);
        p->k[host].attached_bytes += bytes;
    }
    /* a reduction over a gradient joins the update of that gradient, where the gradient arrives
     * anyway: the same multicast, no edge of its own across the mesh */
    for (int i = 0; i < p->n; i++) {
        weft_kernel *k = &p->k[i];
        const weft_node *n = &g->nodes[k->node];
        if (!weft_lowering_of(n->op)->beside_update || n->n_in < 2) continue;
        for (int u = 0; u < p->n && k->host < 0; u++) {
            const weft_node *un = &g->nodes[p->k[u].node];
            if (p->k[u].host >= 0 && weft_lowering_of(un->op)->update_state && un->n_in > 1 && un->in[1] == n->in[1])
                k->host = p->k[u].host;
        }
        if (k->host >= 0) p->k[k->host].attached_bytes += weft_program_value_bytes(p, n->out[0]);
    }
}

weft_status weft_pass_lower(weft_program *p, int max_blocks, bool weights, weft_err *err) {
    const weft_graph *g = p->graph;
    weft_status s = choose_stream(p, max_blocks, err);
    if (!s) s = fold_constants(p, err);
    for (int i = 0; i < g->n_nodes && !s; i++) {
        const weft_node *n = &g->nodes[i];
        if (p->kernel_of_node[i] == WEFT_NODE_FOLDED && is_const(p, n->out[0])) continue;
        const weft_lowering *row = weft_lowering_of(n->op);
        if (row->view && n->n_out == 1 && !is_const(p, n->in[0])) {
            /* a view changes only how the rows are counted: its value lives where its input does */
            bool same[WEFT_MAX_IO] = {0}, same_s[WEFT_MAX_IO] = {0};
            int sample, ax = stream_of(p, row, n, same, same_s, &sample);
            if (ax >= 0 || sax(p, n->in[0]) < 0) {
                p->kernel_of_node[i] = WEFT_NODE_VIEW;
                p->kernel_of_value[n->out[0]] = p->kernel_of_value[n->in[0]];
                p->stream_axis[n->out[0]] = ax;
                p->sample_axis[n->out[0]] = ax >= 0 ? sample : -1;
                continue;
            }
            /* a view that folds the stream axis into others needs its input whole: a kernel */
        }
        s = lower_node(p, i, &p->k[p->n], err);
        if (s) break;
        p->kernel_of_node[i] = p->n;
        for (int j = 0; j < n->n_out; j++) p->kernel_of_value[n->out[j]] = p->n;
        p->n++;
    }
    /* how many times a kernel's inputs wait, on their way from the graph's inputs, for a whole
     * pass of something (a WHOLE dependency on a stream, an accumulation): a join holds all of an
     * input that arrives with fewer such waits than another (compile/sram.c) */
    for (int i = 0; i < p->n && !s; i++) {
        weft_kernel *k = &p->k[i];
        for (int q = 0; q < k->n_deps; q++) {
            /* (a graph input needed whole arrives at the off-chip link's pace, ahead of the work) */
            int w = weft_dep_waits(p, k, q) + (k->dep[q] >= 0 && k->dep_kind[q] == WEFT_DEP_WHOLE && weft_value_blocks(p, k->dep_value[q]) > 1);
            if (w > k->pass_waits) k->pass_waits = w;
        }
    }
    if (!s && weights) s = weft_pass_load_weights(p, err);
    if (!s) attach_updates(p);
    return s;
}
