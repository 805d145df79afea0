/* ir: limits on a whole model. A few hundred bytes of ONNX or a builtin key can ask for 1e18-element
 * pooling windows or a million layers; every model is measured against these limits before it is
 * built (the built-ins, from their keys) and before it is run (a graph), and refused with a message
 * that names the limit and the environment variable raising it. */
#include "ir/ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const char *env, *what; double dflt; } limit_def;

/* The defaults hold GPT-2 XL (1.5 B parameters, 6 GB) at seq 1024 with room to spare. */
static const limit_def limits[] = {
    {"WEFT_MAX_PARAM_BYTES", "bytes of parameters and constants", 17179869184.0},                   /* 16 GiB */
    {"WEFT_MAX_ACT_BYTES", "bytes of activations (every value of a pass, together)", 68719476736.0}, /* 64 GiB */
    {"WEFT_MAX_FLOPS", "FLOPs in one reference pass", 1e15},
    {"WEFT_MAX_NODES", "nodes", 1048576.0},
};

static double limit_value(const limit_def *l) {
    const char *e = getenv(l->env);
    if (e && *e) {
        char *end;
        double v = strtod(e, &end);
        if (!*end && v > 0 && isfinite(v)) return v;
    }
    return l->dflt;
}

weft_status weft_model_check_size(const weft_model_size *m, const char *what, weft_err *err) {
    const double got[] = {m->param_bytes, m->act_bytes, m->flops, m->nodes};
    for (int i = 0; i < 4; i++) {
        double lim = limit_value(&limits[i]);
        if (!(got[i] <= lim))
            return weft_err_set(err, WEFT_ERR_NOMEM, "%s: %.4g %s exceed weft's limit of %.4g (set %s=N to raise it)", what, got[i],
                                limits[i].what, lim, limits[i].env);
    }
    return WEFT_OK;
}

weft_model_size weft_graph_size(const weft_graph *g) {
    weft_model_size m = {0};
    m.nodes = g->n_nodes;
    for (int v = 0; v < g->n_vals; v++) {
        const weft_value *x = &g->vals[v];
        double b = (double)weft_dtype_size(x->dtype);
        for (int k = 0; k < x->shape.ndim; k++) b *= (double)x->shape.d[k];
        if (x->kind == WEFT_VAL_PARAM || x->kind == WEFT_VAL_CONST) m.param_bytes += b;
        else m.act_bytes += b;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        weft_cost c = weft_node_cost(g, &g->nodes[i]);
        /* a cost rule's int64 may have saturated; negative is a wrapped product */
        m.flops += c.flops < 0 ? INFINITY : (double)c.flops;
    }
    return m;
}
