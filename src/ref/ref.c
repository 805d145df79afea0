/* ref: the reference executor. Runs a verified graph node by node, in order, with the kernels of
 * the op table; the numerical truth every fabric run is checked against. Intermediate values are
 * freed after their last use. */
#include "ir/ir.h"

#include <string.h>
#include <time.h>

static bool is_view(const weft_node *n) {
    static const char *const views[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"};
    for (size_t i = 0; i < sizeof views / sizeof *views; i++)
        if (!strcmp(n->op->name, views[i])) return n->n_out == 1;
    return false;
}

weft_status weft_ref_run(const weft_graph *g, const weft_tensor *const *inputs, int n_inputs, weft_tensor *outputs,
                         int n_outputs, weft_err *err) {
    if (n_inputs != g->n_inputs)
        return weft_err_set(err, WEFT_ERR_INVALID, "graph '%s' takes %d inputs, %d given", g->name, g->n_inputs, n_inputs);
    if (n_outputs != g->n_outputs)
        return weft_err_set(err, WEFT_ERR_INVALID, "graph '%s' has %d outputs, %d requested", g->name, g->n_outputs, n_outputs);
    weft_status s = weft_graph_verify(g, err);
    if (s) return s;
    /* the whole pass within weft's limits (a small graph can ask for 1e18 FLOPs) */
    weft_model_size size = weft_graph_size(g);
    s = weft_model_check_size(&size, g->name, err);
    if (s) return s;
    for (int k = 0; k < n_inputs; k++) {
        const weft_value *v = &g->vals[g->inputs[k]];
        char a[128], b[128];
        if (inputs[k]->dtype != v->dtype || !weft_shape_eq(&inputs[k]->shape, &v->shape))
            return weft_err_set(err, WEFT_ERR_SHAPE, "input '%s': expected %s %s, given %s %s", v->name,
                                weft_dtype_name(v->dtype), weft_shape_str(&v->shape, a, sizeof a),
                                weft_dtype_name(inputs[k]->dtype), weft_shape_str(&inputs[k]->shape, b, sizeof b));
    }
    /* live[v]: the tensor holding value v (views of inputs and graph data; owned for ACT). */
    weft_tensor *live = weft_xcalloc((size_t)g->n_vals, sizeof *live);
    int *last_use = weft_xmalloc((size_t)g->n_vals * sizeof *last_use);
    for (int v = 0; v < g->n_vals; v++) {
        last_use[v] = -1;
        if (g->vals[v].data.data) { live[v] = g->vals[v].data; live[v].owns = 0; }
    }
    for (int k = 0; k < n_inputs; k++) { live[g->inputs[k]] = *inputs[k]; live[g->inputs[k]].owns = 0; }
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] >= 0) last_use[g->nodes[i].in[k]] = i;
    for (int k = 0; k < g->n_outputs; k++) last_use[g->outputs[k]] = g->n_nodes;

    /* WEFT_PROFILE=1: seconds per op type, on stderr */
    bool profile = getenv("WEFT_PROFILE") != NULL;
    double *op_time = profile ? weft_xcalloc((size_t)g->n_nodes + 1, sizeof(double)) : NULL;
    for (int i = 0; i < g->n_nodes && !s; i++) {
        const weft_node *n = &g->nodes[i];
        const weft_tensor *in[WEFT_MAX_IO];
        weft_tensor out[WEFT_MAX_IO] = {{0}};
        for (int k = 0; k < n->n_in; k++) in[k] = n->in[k] >= 0 ? &live[n->in[k]] : NULL;
        struct timespec t0, t1;
        if (profile) clock_gettime(CLOCK_MONOTONIC, &t0);
        /* A view (Reshape and kin) of a value read by nobody after it takes the value's buffer:
         * same bytes, new shape, no copy. */
        int src = n->in[0];
        if (is_view(n) && src >= 0 && live[src].owns && last_use[src] == i && live[src].dtype == g->vals[n->out[0]].dtype) {
            out[0] = live[src];
            out[0].shape = g->vals[n->out[0]].shape;
            live[src].owns = 0;
            live[src].data = NULL;
        } else s = weft_node_eval(g, n, in, out, err);
        if (profile) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            op_time[i] = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        }
        if (s) break;
        for (int j = 0; j < n->n_out; j++) live[n->out[j]] = out[j];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0 && last_use[n->in[k]] == i) weft_tensor_free(&live[n->in[k]]);
        for (int j = 0; j < n->n_out; j++)
            if (last_use[n->out[j]] < 0) weft_tensor_free(&live[n->out[j]]);
    }
    if (profile) {
        for (int i = 0; i < g->n_nodes; i++) {
            if (op_time[i] < 0) continue;
            double total = 0;
            int count = 0;
            for (int j = i; j < g->n_nodes; j++)
                if (op_time[j] >= 0 && g->nodes[j].op == g->nodes[i].op) { total += op_time[j]; count++; op_time[j] = -1; }
            fprintf(stderr, "profile %-26s %5d nodes %9.4f s\n", g->nodes[i].op->name, count, total);
        }
        free(op_time);
    }
    for (int k = 0; k < n_outputs && !s; k++) {
        int v = g->outputs[k];
        s = weft_tensor_convert(&outputs[k], &live[v], live[v].dtype, err);
        if (s) weft_err_prefix(err, "graph output '%s'", g->vals[v].name);
    }
    for (int v = 0; v < g->n_vals; v++) weft_tensor_free(&live[v]);
    free(live);
    free(last_use);
    return s;
}
