/* ir: graph construction, verification, counting and printing. */
#include "ir/ir.h"

#include <string.h>

/* Constant folding at construction stops at this many output elements, or this many FLOPs: shape
 * arithmetic and small constants fold; big constant transforms stay in the graph. */
#define FOLD_MAX_FLOPS ((int64_t)100 * 1000 * 1000)
#define FOLD_MAX_NUMEL (1 << 16)

weft_graph *weft_graph_new(const char *name) {
    weft_graph *g = weft_xcalloc(1, sizeof *g);
    g->name = weft_xstrdup(name ? name : "graph");
    g->opset = 17;
    return g;
}

static void attrs_free(weft_attr *a, int n) {
    for (int i = 0; i < n; i++) {
        free((void *)a[i].name);
        free((void *)a[i].ints);
        free((void *)a[i].floats);
        free((void *)a[i].s);
        if (a[i].t) {
            weft_tensor_free((weft_tensor *)a[i].t);
            free((void *)a[i].t);
        }
    }
    free(a);
}

void weft_graph_free(weft_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_vals; i++) {
        free(g->vals[i].name);
        weft_tensor_free(&g->vals[i].data);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        weft_node *n = &g->nodes[i];
        free(n->name);
        free(n->in);
        free(n->out);
        attrs_free(n->attrs, n->n_attrs);
    }
    free(g->vals);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->name);
    free(g);
}

int weft_graph_add_value(weft_graph *g, const char *name, weft_val_kind kind, weft_dtype dt,
                         weft_shape shape, weft_tensor *data) {
    if (g->n_vals == g->cap_vals) {
        g->cap_vals = g->cap_vals ? 2 * g->cap_vals : 64;
        g->vals = weft_xrealloc(g->vals, (size_t)g->cap_vals * sizeof *g->vals);
    }
    weft_value *v = &g->vals[g->n_vals];
    memset(v, 0, sizeof *v);
    char buf[32];
    if (!name || !*name) { snprintf(buf, sizeof buf, "v%d", g->n_vals); name = buf; }
    v->name = weft_xstrdup(name);
    v->kind = kind;
    v->dtype = dt;
    v->shape = shape;
    v->producer = -1;
    if (data) { v->data = *data; data->owns = 0; }
    return g->n_vals++;
}

int weft_graph_input(weft_graph *g, const char *name, weft_dtype dt, weft_shape shape) {
    int id = weft_graph_add_value(g, name, WEFT_VAL_INPUT, dt, shape, NULL);
    g->inputs = weft_xrealloc(g->inputs, (size_t)(g->n_inputs + 1) * sizeof *g->inputs);
    g->inputs[g->n_inputs++] = id;
    return id;
}

/* Are n bytes all zero? (Copying zeros into a fresh zeroed tensor would only fault its pages in:
 * the parameters of a shapes-only model are zeros, and of a 7 B one that is 27 GB.) */
static bool all_zero(const void *p, size_t n) {
    const unsigned char *b = p;
    size_t i = 0;
    for (; i < n && (uintptr_t)(b + i) % sizeof(uint64_t); i++)
        if (b[i]) return false;
    for (; i + sizeof(uint64_t) <= n; i += sizeof(uint64_t)) {
        uint64_t w;
        memcpy(&w, b + i, sizeof w);
        if (w) return false;
    }
    for (; i < n; i++)
        if (b[i]) return false;
    return true;
}

int weft_graph_param(weft_graph *g, const char *name, weft_dtype dt, weft_shape shape, const void *data) {
    weft_tensor t = {0};
    weft_err err = {0};
    if (weft_tensor_alloc(&t, dt, shape, &err)) {
        fprintf(stderr, "weft: parameter '%s': %s\n", name, err.msg);
        return -1;
    }
    if (data && !all_zero(data, weft_tensor_nbytes(&t))) memcpy(t.data, data, weft_tensor_nbytes(&t));
    return weft_graph_add_value(g, name, WEFT_VAL_PARAM, dt, shape, &t);
}

int weft_graph_const(weft_graph *g, const char *name, const weft_tensor *src) {
    weft_tensor t = {0};
    weft_err err = {0};
    if (weft_tensor_convert(&t, src, src->dtype, &err)) {
        fprintf(stderr, "weft: constant '%s': %s\n", name, err.msg);
        return -1;
    }
    return weft_graph_add_value(g, name, WEFT_VAL_CONST, src->dtype, src->shape, &t);
}

void weft_graph_output(weft_graph *g, int value) {
    WEFT_ASSERT(value >= 0 && value < g->n_vals);
    g->outputs = weft_xrealloc(g->outputs, (size_t)(g->n_outputs + 1) * sizeof *g->outputs);
    g->outputs[g->n_outputs++] = value;
}

static weft_attr *attrs_copy(const weft_attr *src, int n) {
    weft_attr *a = weft_xcalloc((size_t)(n ? n : 1), sizeof *a);
    for (int i = 0; i < n; i++) {
        a[i] = src[i];
        a[i].name = weft_xstrdup(src[i].name);
        a[i].ints = NULL;
        a[i].floats = NULL;
        a[i].s = NULL;
        a[i].t = NULL;
        if (src[i].type == WEFT_ATTR_INTS && src[i].n) {
            int64_t *p = weft_xmalloc((size_t)src[i].n * sizeof *p);
            memcpy(p, src[i].ints, (size_t)src[i].n * sizeof *p);
            a[i].ints = p;
        }
        if (src[i].type == WEFT_ATTR_FLOATS && src[i].n) {
            float *p = weft_xmalloc((size_t)src[i].n * sizeof *p);
            memcpy(p, src[i].floats, (size_t)src[i].n * sizeof *p);
            a[i].floats = p;
        }
        if (src[i].type == WEFT_ATTR_STRING) a[i].s = weft_xstrdup(src[i].s);
        if (src[i].type == WEFT_ATTR_TENSOR && src[i].t) {
            weft_tensor *t = weft_xcalloc(1, sizeof *t);
            weft_err e = {0};
            if (weft_tensor_convert(t, src[i].t, src[i].t->dtype, &e)) WEFT_ASSERT(0 && "attribute tensor copy");
            a[i].t = t;
        }
    }
    return a;
}

/* A node's inputs and outputs against its op's arity: counts within bounds, every input a value
 * or -1, and -1 only where the input is optional (variadic inputs never are). */
static weft_status check_io(const weft_graph *g, const weft_op_def *op, const char *nm, const int *in, int n_in, int n_out,
                            weft_err *err) {
    const char *opname = op->name;
    if (n_in < op->min_in || (op->max_in >= 0 && n_in > op->max_in) || n_in > WEFT_MAX_IO)
        return op->max_in < 0 ? weft_err_set(err, WEFT_ERR_INVALID, "node '%s' (%s): %d inputs, expected at least %d", nm, opname, n_in, op->min_in)
                              : weft_err_set(err, WEFT_ERR_INVALID, "node '%s' (%s): %d inputs, expected %d to %d", nm, opname, n_in,
                                             op->min_in, op->max_in);
    if (n_out < op->min_out || n_out > op->max_out)
        return weft_err_set(err, WEFT_ERR_INVALID, "node '%s' (%s): %d outputs, expected %d to %d", nm, opname,
                            n_out, op->min_out, op->max_out);
    for (int i = 0; i < n_in; i++) {
        if (in[i] < -1 || in[i] >= g->n_vals)
            return weft_err_set(err, WEFT_ERR_INVALID, "node '%s' (%s): input %d refers to no value", nm, opname, i);
        if (in[i] == -1 && (i < op->min_in || op->max_in < 0))  /* variadic inputs are never optional */
            return weft_err_set(err, WEFT_ERR_INVALID, "node '%s' (%s): required input %d is missing", nm, opname, i);
    }
    return WEFT_OK;
}

weft_status weft_graph_node(weft_graph *g, const char *opname, const char *name, const int *in, int n_in,
                            const weft_attr *attrs, int n_attrs, int *out, int n_out, weft_err *err) {
    const char *nm = name && *name ? name : "";
    const weft_op_def *op = weft_op_find(opname);
    if (!op)
        return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "node '%s' (%s): unknown op '%s'", nm, opname, opname);
    weft_status s = check_io(g, op, nm, in, n_in, n_out, err);
    if (s) return s;
    for (int a = 0; a < n_attrs; a++) {
        /* every attribute must be one the op knows: an unknown one could change the meaning */
        if (!attrs[a].name || !*attrs[a].name)
            return weft_err_set(err, WEFT_ERR_INVALID, "node '%s' (%s): attribute #%d has no name", nm, opname, a);
        const char *list = op->attrs ? op->attrs : "";
        size_t len = strlen(attrs[a].name);
        const char *p = list;
        bool known = false;
        while (*p && !known) {
            const char *q = strchr(p, ',');
            size_t l = q ? (size_t)(q - p) : strlen(p);
            known = l == len && !strncmp(p, attrs[a].name, len);
            p = q ? q + 1 : p + l;
        }
        if (!known)
            return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "node '%s' (%s): attribute '%s' is not supported", nm, opname,
                                attrs[a].name);
    }
    weft_node n = {.op = op, .n_in = n_in, .n_out = n_out, .opset = g->opset, .forward = -1};
    n.name = weft_xstrdup(nm);
    n.in = weft_xmalloc((size_t)(n_in ? n_in : 1) * sizeof(int));
    memcpy(n.in, in, (size_t)n_in * sizeof(int));
    n.out = weft_xmalloc((size_t)n_out * sizeof(int));
    n.attrs = attrs_copy(attrs, n_attrs);
    n.n_attrs = n_attrs;

    weft_op_ctx c;
    s = weft_node_infer(g, &n, &c, err);
    if (s) {
        free(n.name); free(n.in); free(n.out); attrs_free(n.attrs, n.n_attrs);
        return s;
    }
    /* Fold when every present input is known and the result is small. */
    bool fold = true;
    int64_t numel = 0;
    /* Shape and Size need only their input's static shape, which is always known */
    bool shape_only = !strcmp(op->name, "Shape") || !strcmp(op->name, "Size");
    /* Parameters are never folded away: they are trained, and a node reading one must stay a
     * node for its gradient to flow (Shape and Size of a parameter still fold). */
    for (int i = 0; i < n_in; i++)
        if (in[i] >= 0 && g->vals[in[i]].kind != WEFT_VAL_CONST && !shape_only) fold = false;
    for (int j = 0; j < n_out; j++) numel += weft_shape_numel(&c.out[j].shape);
    if (numel > FOLD_MAX_NUMEL) fold = false;
    /* a small result can still be a huge computation (a 9 x 9 MaxPool of 1e18-element windows):
     * folding runs it here, at construction, so it must be cheap */
    if (fold && weft_node_cost(g, &n).flops > FOLD_MAX_FLOPS) fold = false;
    if (!strcmp(op->name, "Dropout") || !strcmp(op->name, "RandomNormal")) fold = false;
    if (fold) {
        const weft_tensor *ins[WEFT_MAX_IO];
        weft_tensor outs[WEFT_MAX_IO] = {{0}};
        weft_tensor desc[WEFT_MAX_IO];
        for (int i = 0; i < n_in; i++) {
            ins[i] = in[i] >= 0 ? &g->vals[in[i]].data : NULL;
            if (ins[i] && !ins[i]->data) {  /* shape_only: a descriptor without data */
                desc[i] = (weft_tensor){.dtype = g->vals[in[i]].dtype, .shape = g->vals[in[i]].shape};
                ins[i] = &desc[i];
            }
        }
        s = weft_node_eval(g, &n, ins, outs, err);
        if (s) { free(n.name); free(n.in); free(n.out); attrs_free(n.attrs, n.n_attrs); return s; }
        for (int j = 0; j < n_out; j++) {
            char vname[256];
            snprintf(vname, sizeof vname, "%s%s%d", nm, *nm ? ":" : "folded", j);
            out[j] = weft_graph_add_value(g, vname, WEFT_VAL_CONST, outs[j].dtype, outs[j].shape, &outs[j]);
        }
        free(n.name); free(n.in); free(n.out); attrs_free(n.attrs, n.n_attrs);
        return WEFT_OK;
    }
    if (g->n_nodes == g->cap_nodes) {
        g->cap_nodes = g->cap_nodes ? 2 * g->cap_nodes : 64;
        g->nodes = weft_xrealloc(g->nodes, (size_t)g->cap_nodes * sizeof *g->nodes);
    }
    for (int j = 0; j < n_out; j++) {
        char vname[256];
        if (n_out == 1 && *nm) snprintf(vname, sizeof vname, "%s", nm);  /* a single output takes the node's name */
        else snprintf(vname, sizeof vname, "%s:%d", *nm ? nm : opname, j);
        n.out[j] = out[j] = weft_graph_add_value(g, vname, WEFT_VAL_ACT, c.out[j].dtype, c.out[j].shape, NULL);
        g->vals[n.out[j]].producer = g->n_nodes;
    }
    g->nodes[g->n_nodes++] = n;
    return WEFT_OK;
}

weft_status weft_graph_verify(const weft_graph *g, weft_err *err) {
    /* every value's shape first: a count that overflows int64 (2^32 x 2^32 wraps to 0) must not
     * reach a shape rule or a size computation */
    for (int v = 0; v < g->n_vals; v++) {
        weft_status s = weft_shape_check_size_max(&g->vals[v].shape, g->vals[v].dtype, g->max_tensor_bytes, err);
        if (s) return weft_err_prefix(err, "value '%s'", g->vals[v].name);
    }
    /* defined_at: -2 an activation not computed yet, -3 an input value the graph does not declare
     * (nothing would feed it), -1 data or a declared input, else the node computing it */
    int *defined_at = weft_xmalloc((size_t)(g->n_vals ? g->n_vals : 1) * sizeof(int));
    for (int v = 0; v < g->n_vals; v++)
        defined_at[v] = g->vals[v].kind == WEFT_VAL_ACT ? -2 : g->vals[v].kind == WEFT_VAL_INPUT ? -3 : -1;
    weft_status s = WEFT_OK;
    for (int k = 0; k < g->n_inputs && !s; k++) {
        int v = g->inputs[k];
        if (v < 0 || v >= g->n_vals || g->vals[v].kind != WEFT_VAL_INPUT)
            s = weft_err_set(err, WEFT_ERR_INVALID, "graph input %d is not an input value", k);
        else defined_at[v] = -1;
    }
    for (int i = 0; i < g->n_nodes && !s; i++) {
        const weft_node *n = &g->nodes[i];
        s = check_io(g, n->op, n->name, n->in, n->n_in, n->n_out, err);  /* a graph file's nodes were not built here */
        for (int k = 0; k < n->n_in && !s; k++) {
            int v = n->in[k];
            if (v == -1) continue;
            if (v < 0 || v >= g->n_vals)
                s = weft_err_set(err, WEFT_ERR_INVALID, "node '%s' (%s): input %d is no value", n->name, n->op->name, k);
            else if (defined_at[v] == -2)
                s = weft_err_set(err, WEFT_ERR_INVALID, "node '%s' (%s): input '%s' is used before it is computed (a cycle or a dangling value)",
                                 n->name, n->op->name, g->vals[v].name);
            else if (defined_at[v] == -3)
                s = weft_err_set(err, WEFT_ERR_INVALID, "node '%s' (%s): input '%s' is an input value the graph does not declare",
                                 n->name, n->op->name, g->vals[v].name);
        }
        if (s) break;
        weft_op_ctx c;
        s = weft_node_infer(g, n, &c, err);
        for (int k = 0; k < n->n_out && !s; k++) {
            const weft_value *v = &g->vals[n->out[k]];
            if (v->producer != i || defined_at[n->out[k]] != -2)
                s = weft_err_set(err, WEFT_ERR_INVALID, "node '%s' (%s): output '%s' is defined twice", n->name, n->op->name, v->name);
            else if (v->dtype != c.out[k].dtype || !weft_shape_eq(&v->shape, &c.out[k].shape))
                s = weft_err_set(err, WEFT_ERR_SHAPE, "node '%s' (%s): output '%s' disagrees with the shape rule", n->name, n->op->name, v->name);
            else defined_at[n->out[k]] = i;
        }
    }
    for (int k = 0; k < g->n_outputs && !s; k++) {
        int v = g->outputs[k];
        if (v < 0 || v >= g->n_vals) s = weft_err_set(err, WEFT_ERR_INVALID, "graph output %d is no value", k);
        else if (defined_at[v] == -2)
            s = weft_err_set(err, WEFT_ERR_INVALID, "graph output '%s' is never computed", g->vals[v].name);
        else if (defined_at[v] == -3)
            s = weft_err_set(err, WEFT_ERR_INVALID, "graph output '%s' is an input value the graph does not declare", g->vals[v].name);
    }
    for (int v = 0; v < g->n_vals && !s; v++) {
        const weft_value *x = &g->vals[v];
        if ((x->kind == WEFT_VAL_PARAM || x->kind == WEFT_VAL_CONST) &&
            (!x->data.data || x->data.dtype != x->dtype || !weft_shape_eq(&x->data.shape, &x->shape)))
            s = weft_err_set(err, WEFT_ERR_INVALID, "value '%s' has no data, or data of the wrong type", x->name);
    }
    free(defined_at);
    return s;
}

weft_graph_stats weft_graph_count(const weft_graph *g) {
    weft_graph_stats st = {0};
    st.nodes = g->n_nodes;
    for (int v = 0; v < g->n_vals; v++)
        if (g->vals[v].kind == WEFT_VAL_PARAM) {
            st.params += weft_shape_numel(&g->vals[v].shape);
            st.param_bytes += weft_shape_numel(&g->vals[v].shape) * (int64_t)weft_dtype_size(g->vals[v].dtype);
        }
    for (int i = 0; i < g->n_nodes; i++) {
        weft_cost c = weft_node_cost(g, &g->nodes[i]);
        st.flops += c.flops;
        st.bytes += c.bytes;
    }
    return st;
}

int weft_graph_find(const weft_graph *g, const char *name) {
    for (int v = g->n_vals - 1; v >= 0; v--)
        if (!strcmp(g->vals[v].name, name)) return v;
    return -1;
}

static void human(char *buf, size_t n, double x) {
    const char *u[] = {"", "K", "M", "G", "T", "P"};
    int i = 0;
    while (x >= 1000 && i < 5) { x /= 1000; i++; }
    snprintf(buf, n, i ? "%.2f%s" : "%.0f%s", x, u[i]);
}

void weft_graph_print(const weft_graph *g, FILE *f) {
    weft_graph_stats st = weft_graph_count(g);
    char a[32], b[32], c[32];
    fprintf(f, "graph %s: %lld nodes, %d inputs, %d outputs\n", g->name, (long long)st.nodes, g->n_inputs, g->n_outputs);
    human(a, sizeof a, (double)st.param_bytes);
    fprintf(f, "parameters: %lld (%sB)\n", (long long)st.params, a);
    human(a, sizeof a, (double)st.flops);
    human(b, sizeof b, (double)st.bytes);
    fprintf(f, "forward pass: %s FLOPs, %sB moved\n", a, b);
    for (int k = 0; k < g->n_inputs; k++) {
        const weft_value *v = &g->vals[g->inputs[k]];
        fprintf(f, "  input  %-24s %-8s %s\n", v->name, weft_dtype_name(v->dtype), weft_shape_str(&v->shape, a, sizeof a));
    }
    for (int k = 0; k < g->n_outputs; k++) {
        const weft_value *v = &g->vals[g->outputs[k]];
        fprintf(f, "  output %-24s %-8s %s\n", v->name, weft_dtype_name(v->dtype), weft_shape_str(&v->shape, a, sizeof a));
    }
    /* op counts */
    fprintf(f, "\nop counts:\n");
    const weft_op_def **seen = weft_xcalloc((size_t)(g->n_nodes + 1), sizeof *seen);
    int n_seen = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        int k = 0;
        while (k < n_seen && seen[k] != g->nodes[i].op) k++;
        if (k == n_seen) seen[n_seen++] = g->nodes[i].op;
    }
    for (int k = 0; k < n_seen; k++) {
        int cnt = 0;
        int64_t fl = 0;
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].op == seen[k]) { cnt++; fl += weft_node_cost(g, &g->nodes[i]).flops; }
        human(a, sizeof a, (double)fl);
        fprintf(f, "  %-22s %6d   %10s FLOPs\n", seen[k]->name, cnt, a);
    }
    free(seen);
    fprintf(f, "\n%-5s %-28s %-18s %-22s %10s %10s\n", "#", "node", "op", "output shape", "FLOPs", "bytes");
    for (int i = 0; i < g->n_nodes; i++) {
        const weft_node *n = &g->nodes[i];
        weft_cost cst = weft_node_cost(g, n);
        human(b, sizeof b, (double)cst.flops);
        human(c, sizeof c, (double)cst.bytes);
        char sh[64];
        /* a long name on a line of its own, whole, and the row under it */
        bool wrap = strlen(n->name) > 28;
        char idx[16];
        snprintf(idx, sizeof idx, "%d", i);
        if (wrap) fprintf(f, "%-5s %s\n", idx, n->name);
        fprintf(f, "%-5s %-28s %-18s %-22s %10s %10s\n", wrap ? "" : idx, wrap ? "" : n->name, n->op->name,
                weft_shape_str(&g->vals[n->out[0]].shape, sh, sizeof sh), b, c);
    }
}
