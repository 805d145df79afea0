/* grad: the reverse-mode driver, the losses, and the builder backward rules use. See grad.h. */
#include "grad/grad.h"

#include <stdarg.h>
#include <string.h>

/* ---- builder ---- */

void weft_gb_init(weft_gb *b, weft_graph *g, const weft_node *fwd, weft_err *err) {
    memset(b, 0, sizeof *b);
    b->g = g;
    b->fwd = fwd;
    b->err = err;
}

weft_status weft_gb_fail(weft_gb *b, weft_status s, const char *fmt, ...) {
    if (b->s) return b->s;
    char reason[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    b->s = weft_err_set(b->err, s, "node '%s' (%s): backward: %s", b->fwd->name, b->fwd->op->name, reason);
    return b->s;
}

weft_status weft_gb_nodes(weft_gb *b, const char *op, const int *in, int n_in, const weft_attr *attrs, int n_attrs,
                          int *out, int n_out) {
    for (int j = 0; j < n_out; j++) out[j] = -1;
    if (b->s) return b->s;
    char name[300];
    int at = b->fwd->n_out ? b->g->vals[b->fwd->out[0]].producer : -1;
    if (*b->fwd->name) snprintf(name, sizeof name, "grad/%s/%d", b->fwd->name, b->count++);
    else snprintf(name, sizeof name, "grad/%s#%d/%d", b->fwd->op->name, at, b->count++);
    /* backward nodes follow opset 17's rules whatever the graph's opset (rules that depend on the
     * forward's opset pass it explicitly, as the softmax grads' 'legacy') */
    int opset = b->g->opset;
    b->g->opset = 17;
    weft_status s = weft_graph_node(b->g, op, name, in, n_in, attrs, n_attrs, out, n_out, b->err);
    b->g->opset = opset;
    if (!s) b->g->nodes[b->g->n_nodes - 1].forward = at;
    if (s) {
        b->s = weft_err_prefix(b->err, "backward of node '%s' (%s)", b->fwd->name, b->fwd->op->name);
        for (int j = 0; j < n_out; j++) out[j] = -1;
    }
    return b->s;
}

int weft_gb_node(weft_gb *b, const char *op, const int *in, int n_in, const weft_attr *attrs, int n_attrs) {
    int out = -1;
    weft_gb_nodes(b, op, in, n_in, attrs, n_attrs, &out, 1);
    return out;
}

int weft_gb_op1(weft_gb *b, const char *op, int x) { return weft_gb_node(b, op, &x, 1, NULL, 0); }
int weft_gb_op2(weft_gb *b, const char *op, int x, int y) { return weft_gb_node(b, op, (int[]){x, y}, 2, NULL, 0); }
int weft_gb_op3(weft_gb *b, const char *op, int x, int y, int z) {
    return weft_gb_node(b, op, (int[]){x, y, z}, 3, NULL, 0);
}

weft_shape weft_gb_shape(const weft_gb *b, int v) {
    WEFT_ASSERT(v >= 0 && v < b->g->n_vals);
    return b->g->vals[v].shape;
}

weft_dtype weft_gb_dtype(const weft_gb *b, int v) {
    WEFT_ASSERT(v >= 0 && v < b->g->n_vals);
    return b->g->vals[v].dtype;
}

/* Takes ownership of t's data. */
static int add_const(weft_gb *b, weft_tensor *t) {
    char name[64];
    snprintf(name, sizeof name, "grad/const%d", b->g->n_vals);
    return weft_graph_add_value(b->g, name, WEFT_VAL_CONST, t->dtype, t->shape, t);
}

int weft_gb_scalar(weft_gb *b, double v, int like) {
    if (b->s) return -1;
    weft_dtype dt = like >= 0 ? weft_gb_dtype(b, like) : WEFT_F32;
    if (!weft_dtype_is_float(dt)) dt = WEFT_F32;
    float f = (float)v;
    weft_tensor src = {WEFT_F32, {0}, &f, 0}, t = {0};
    if (weft_tensor_convert(&t, &src, dt, b->err)) { b->s = b->err->status; return -1; }
    return add_const(b, &t);
}

int weft_gb_ints(weft_gb *b, const int64_t *v, int n) {
    if (b->s) return -1;
    weft_tensor t = {0};
    int64_t len = n;
    if (weft_tensor_alloc(&t, WEFT_I64, weft_shape_make(1, &len), b->err)) { b->s = b->err->status; return -1; }
    if (n) memcpy(t.data, v, (size_t)n * sizeof *v);
    return add_const(b, &t);
}

int weft_gb_zeros(weft_gb *b, weft_shape s, weft_dtype dt) {
    if (b->s) return -1;
    weft_tensor t = {0};
    if (weft_tensor_alloc(&t, dt, s, b->err)) { b->s = b->err->status; return -1; }
    return add_const(b, &t);
}

int weft_gb_reshape(weft_gb *b, int x, weft_shape s) {
    if (b->s) return -1;
    weft_shape xs = weft_gb_shape(b, x);
    if (weft_shape_eq(&xs, &s)) return x;
    int sh = weft_gb_ints(b, s.d, s.ndim);
    weft_attr az = WEFT_ATTR_I("allowzero", 1);
    return weft_gb_node(b, "Reshape", (int[]){x, sh}, 2, &az, 1);
}

int weft_gb_expand(weft_gb *b, int x, weft_shape s) {
    if (b->s) return -1;
    weft_shape xs = weft_gb_shape(b, x);
    if (weft_shape_eq(&xs, &s)) return x;
    return weft_gb_op2(b, "Expand", x, weft_gb_ints(b, s.d, s.ndim));
}

int weft_gb_reduce_sum(weft_gb *b, int x, uint32_t mask, bool keep) {
    if (b->s) return -1;
    if (!mask) return x;
    weft_shape xs = weft_gb_shape(b, x);
    int64_t ax[WEFT_MAX_DIMS];
    int n = 0;
    for (int k = 0; k < xs.ndim; k++)
        if (mask >> k & 1) ax[n++] = k;
    weft_attr kd = WEFT_ATTR_I("keepdims", keep);
    return weft_gb_node(b, "ReduceSum", (int[]){x, weft_gb_ints(b, ax, n)}, 2, &kd, 1);
}

int weft_gb_unbroadcast(weft_gb *b, int dy, weft_shape s) {
    if (b->s) return -1;
    weft_shape ys = weft_gb_shape(b, dy);
    if (weft_shape_eq(&ys, &s)) return dy;
    int lead = ys.ndim - s.ndim;
    if (lead < 0) {
        char b1[160], b2[160];
        weft_gb_fail(b, WEFT_ERR_SHAPE, "gradient %s does not broadcast from %s", weft_shape_str(&ys, b1, sizeof b1),
                     weft_shape_str(&s, b2, sizeof b2));
        return -1;
    }
    uint32_t mask = 0;
    for (int k = 0; k < ys.ndim; k++)
        if (k < lead || (s.d[k - lead] == 1 && ys.d[k] != 1)) mask |= 1u << k;
    return weft_gb_reshape(b, weft_gb_reduce_sum(b, dy, mask, true), s);
}

int weft_gb_cast(weft_gb *b, int x, weft_dtype dt) {
    if (b->s) return -1;
    if (weft_gb_dtype(b, x) == dt) return x;
    weft_attr to = WEFT_ATTR_I("to", weft_dtype_to_onnx(dt));
    return weft_gb_node(b, "Cast", &x, 1, &to, 1);
}

/* ---- the driver ---- */

weft_status weft_grad_build(weft_graph *g, int loss, const int *wrt, int n_wrt, int *grads, weft_err *err) {
    if (loss < 0 || loss >= g->n_vals) return weft_err_set(err, WEFT_ERR_INVALID, "grad: the loss refers to no value");
    {
        const weft_value *L = &g->vals[loss];
        char b1[160];
        if (!weft_dtype_is_float(L->dtype) || weft_shape_numel(&L->shape) != 1)
            return weft_err_set(err, WEFT_ERR_SHAPE, "grad: the loss '%s' must be one floating element, got %s %s",
                                L->name, weft_dtype_name(L->dtype), weft_shape_str(&L->shape, b1, sizeof b1));
    }
    for (int i = 0; i < n_wrt; i++)
        if (wrt[i] < 0 || wrt[i] >= g->n_vals)
            return weft_err_set(err, WEFT_ERR_INVALID, "grad: wrt[%d] refers to no value", i);
    int n0 = g->n_nodes, nv0 = g->n_vals;
    /* dep[v]: v is floating and depends on some wrt value (forward reachability) */
    bool *dep = weft_xcalloc((size_t)nv0, sizeof *dep);
    int *gsum = weft_xmalloc((size_t)nv0 * sizeof *gsum);
    for (int v = 0; v < nv0; v++) gsum[v] = -1;
    for (int i = 0; i < n_wrt; i++) dep[wrt[i]] = weft_dtype_is_float(g->vals[wrt[i]].dtype);
    for (int i = 0; i < n0; i++) {
        const weft_node *n = &g->nodes[i];
        bool any = false;
        for (int k = 0; k < n->n_in; k++) any |= n->in[k] >= 0 && dep[n->in[k]];
        for (int j = 0; j < n->n_out && any; j++)
            if (weft_dtype_is_float(g->vals[n->out[j]].dtype)) dep[n->out[j]] = true;
    }
    weft_status s = WEFT_OK;
    {
        /* the seed d(loss)/d(loss) = 1 */
        float one = 1.0f;
        weft_tensor src = {WEFT_F32, g->vals[loss].shape, &one, 0}, t = {0};
        s = weft_tensor_convert(&t, &src, g->vals[loss].dtype, err);
        if (!s) gsum[loss] = weft_graph_add_value(g, "grad/seed", WEFT_VAL_CONST, t.dtype, t.shape, &t);
    }
    for (int i = n0 - 1; i >= 0 && !s; i--) {
        weft_node n = g->nodes[i]; /* a copy: g->nodes moves as rules add nodes */
        int dy[WEFT_MAX_IO], dx[WEFT_MAX_IO];
        bool has_dy = false, has_dep = false;
        for (int j = 0; j < n.n_out; j++) {
            dy[j] = gsum[n.out[j]];
            has_dy |= dy[j] >= 0;
        }
        for (int k = 0; k < n.n_in; k++) has_dep |= n.in[k] >= 0 && dep[n.in[k]];
        if (!has_dy || !has_dep) continue;
        if (!n.op->backward) {
            s = weft_err_set(err, WEFT_ERR_UNSUPPORTED,
                             "node '%s' (%s): no backward rule, so no gradient flows through it to the loss", n.name,
                             n.op->name);
            break;
        }
        for (int k = 0; k < n.n_in; k++) dx[k] = -1;
        s = n.op->backward(g, &n, dy, dx, err);
        if (s) break;
        weft_gb b;
        weft_gb_init(&b, g, &n, err);
        for (int k = 0; k < n.n_in && !s; k++) {
            int v = n.in[k];
            if (v < 0 || !dep[v] || dx[k] < 0) continue;
            const weft_value *xv = &g->vals[v], *gv = &g->vals[dx[k]];
            if (!weft_shape_eq(&xv->shape, &gv->shape)) {
                char b1[160], b2[160];
                s = weft_gb_fail(&b, WEFT_ERR_SHAPE, "the gradient of input %d is %s, the input is %s", k,
                                 weft_shape_str(&gv->shape, b1, sizeof b1), weft_shape_str(&xv->shape, b2, sizeof b2));
                break;
            }
            int d = weft_gb_cast(&b, dx[k], g->vals[v].dtype);
            gsum[v] = gsum[v] < 0 ? d : weft_gb_op2(&b, "Add", gsum[v], d);
            s = b.s;
        }
    }
    for (int i = 0; i < n_wrt && !s; i++) {
        int v = wrt[i];
        if (gsum[v] >= 0) { grads[i] = gsum[v]; continue; }
        weft_tensor t = {0};
        s = weft_tensor_alloc(&t, g->vals[v].dtype, g->vals[v].shape, err);
        if (s) weft_err_prefix(err, "the gradient of '%s'", g->vals[v].name);
        if (!s) {
            char name[300];
            snprintf(name, sizeof name, "grad/%s/zero", g->vals[v].name);
            grads[i] = weft_graph_add_value(g, name, WEFT_VAL_CONST, t.dtype, t.shape, &t);
        }
    }
    free(dep);
    free(gsum);
    return s;
}

/* ---- losses ---- */

weft_status weft_grad_cross_entropy(weft_graph *g, int logits, int targets, int64_t ignore_index, int *loss,
                                    weft_err *err) {
    if (logits < 0 || logits >= g->n_vals || targets < 0 || targets >= g->n_vals)
        return weft_err_set(err, WEFT_ERR_INVALID, "cross-entropy: logits or targets refer to no value");
    weft_shape ls = g->vals[logits].shape, ts = g->vals[targets].shape;
    char b1[160], b2[160];
    bool ok = ls.ndim >= 1 && ts.ndim == ls.ndim - 1;
    for (int k = 0; k < ts.ndim && ok; k++) ok = ts.d[k] == ls.d[k];
    if (!ok)
        return weft_err_set(err, WEFT_ERR_SHAPE, "cross-entropy: logits %s must be (..., V) and targets (...), got %s",
                            weft_shape_str(&ls, b1, sizeof b1), weft_shape_str(&ts, b2, sizeof b2));
    int64_t V = ls.d[ls.ndim - 1], M = V ? weft_shape_numel(&ls) / V : 0;
    weft_node fake = {.name = "cross_entropy", .op = weft_op_find("SoftmaxCrossEntropyLoss")};
    weft_gb b;
    weft_gb_init(&b, g, &fake, err);
    int x = weft_gb_reshape(&b, logits, WEFT_SHAPE(M, V));
    int t = weft_gb_reshape(&b, targets, WEFT_SHAPE(M));
    weft_attr a[2] = {WEFT_ATTR_I("ignore_index", ignore_index), WEFT_ATTR_S("reduction", "mean")};
    if (b.s) return b.s;
    return weft_graph_node(g, "SoftmaxCrossEntropyLoss", "cross_entropy", (int[]){x, t}, 2, a, 2, loss, 1, err);
}

weft_status weft_grad_mse(weft_graph *g, int pred, int target, int *loss, weft_err *err) {
    if (pred < 0 || pred >= g->n_vals || target < 0 || target >= g->n_vals)
        return weft_err_set(err, WEFT_ERR_INVALID, "mse: pred or target refer to no value");
    if (!weft_shape_eq(&g->vals[pred].shape, &g->vals[target].shape)) {
        char b1[160], b2[160];
        return weft_err_set(err, WEFT_ERR_SHAPE, "mse: pred %s and target %s differ in shape",
                            weft_shape_str(&g->vals[pred].shape, b1, sizeof b1),
                            weft_shape_str(&g->vals[target].shape, b2, sizeof b2));
    }
    int d, sq;
    weft_status s = weft_graph_node(g, "Sub", "mse/diff", (int[]){pred, target}, 2, NULL, 0, &d, 1, err);
    if (!s) s = weft_graph_node(g, "Mul", "mse/square", (int[]){d, d}, 2, NULL, 0, &sq, 1, err);
    weft_attr kd = WEFT_ATTR_I("keepdims", 0);
    if (!s) s = weft_graph_node(g, "ReduceMean", "mse", &sq, 1, &kd, 1, loss, 1, err);
    return s;
}
