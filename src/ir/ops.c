/* ir: the op table (rows gathered from the families), attribute access, and the three things
 * every row is asked for: a shape rule run, a kernel run, a cost. */
#include "ir/ir.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

static const weft_op_def *const families[] = {weft_ops_elementwise, weft_ops_nn, weft_ops_shape,
                                              weft_ops_reduce, weft_ops_train};

const weft_op_def *weft_op_find(const char *name) {
    for (size_t f = 0; f < sizeof families / sizeof *families; f++)
        for (const weft_op_def *op = families[f]; op->name; op++)
            if (!strcmp(op->name, name)) return op;
    return NULL;
}

bool weft_op_in_family(const weft_op_def *op, const weft_op_def *family) {
    for (const weft_op_def *f = family; f->name; f++)
        if (f == op) return true;
    return false;
}

void weft_op_each(void (*fn)(const weft_op_def *op, void *ud), void *ud) {
    for (size_t f = 0; f < sizeof families / sizeof *families; f++)
        for (const weft_op_def *op = families[f]; op->name; op++) fn(op, ud);
}

/* ---- attributes ---- */

const weft_attr *weft_node_attr(const weft_node *n, const char *name) {
    for (int i = 0; i < n->n_attrs; i++)
        if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
    return NULL;
}
int64_t weft_attr_i(const weft_node *n, const char *name, int64_t dflt) {
    const weft_attr *a = weft_node_attr(n, name);
    return a && a->type == WEFT_ATTR_INT ? a->i : a && a->type == WEFT_ATTR_FLOAT ? (int64_t)a->f : dflt;
}
float weft_attr_f(const weft_node *n, const char *name, float dflt) {
    const weft_attr *a = weft_node_attr(n, name);
    return a && a->type == WEFT_ATTR_FLOAT ? a->f : a && a->type == WEFT_ATTR_INT ? (float)a->i : dflt;
}
const char *weft_attr_s(const weft_node *n, const char *name, const char *dflt) {
    const weft_attr *a = weft_node_attr(n, name);
    return a && a->type == WEFT_ATTR_STRING ? a->s : dflt;
}
const int64_t *weft_attr_ints(const weft_node *n, const char *name, int *len) {
    const weft_attr *a = weft_node_attr(n, name);
    if (!a || a->type != WEFT_ATTR_INTS) { *len = 0; return NULL; }
    *len = a->n;
    return a->ints ? a->ints : (const int64_t *)"";  /* non-NULL for a present, empty list */
}
const float *weft_attr_floats(const weft_node *n, const char *name, int *len) {
    const weft_attr *a = weft_node_attr(n, name);
    if (!a || a->type != WEFT_ATTR_FLOATS) { *len = 0; return NULL; }
    *len = a->n;
    return a->floats ? a->floats : (const float *)"";
}

weft_status weft_node_err(const weft_op_ctx *c, weft_status s, const char *fmt, ...) {
    char reason[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return weft_err_set(c->err, s, "node '%s' (%s): %s", c->node->name, c->node->op->name, reason);
}

weft_status weft_axis(const weft_op_ctx *c, int64_t axis, int rank, int *out) {
    if (axis < -rank || axis >= rank)
        return weft_node_err(c, WEFT_ERR_INVALID, "axis %lld out of range for rank %d", (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return WEFT_OK;
}

/* ---- shape rule, kernel, cost ---- */

weft_status weft_node_infer(const weft_graph *g, const weft_node *n, weft_op_ctx *c, weft_err *err) {
    memset(c, 0, sizeof *c);
    c->node = n;
    c->graph = g;
    c->n_in = n->n_in;
    c->n_out = n->n_out;
    c->err = err;
    /* Inputs with data (PARAM/CONST) are seen whole; the others through a descriptor with
     * dtype and shape and data == NULL. */
    WEFT_ASSERT(n->n_in <= WEFT_MAX_IO && n->n_out <= WEFT_MAX_IO);
    for (int i = 0; i < n->n_in; i++) {
        c->in[i] = NULL;
        if (n->in[i] < 0) continue;
        const weft_value *v = &g->vals[n->in[i]];
        if (v->data.data) { c->in[i] = &v->data; continue; }
        c->indesc[i] = (weft_tensor){.dtype = v->dtype, .shape = v->shape};
        c->in[i] = &c->indesc[i];
    }
    for (int i = 0; i < n->n_in; i++) {
        if (i < 32 && (n->op->const_inputs >> i & 1) && c->in[i] && !c->in[i]->data)
            return weft_node_err(c, WEFT_ERR_UNSUPPORTED,
                                 "input %d ('%s') must be known at compile time (weft compiles static shapes)", i,
                                 g->vals[n->in[i]].name);
    }
    weft_status s = n->op->infer(c);
    if (s) return s;
    for (int j = 0; j < n->n_out; j++) {
        s = weft_shape_check_size_max(&c->out[j].shape, c->out[j].dtype, g->max_tensor_bytes, err);
        if (s) return weft_err_prefix(err, "node '%s' (%s): output %d", n->name, n->op->name, j);
    }
    return WEFT_OK;
}

weft_status weft_node_eval(const weft_graph *g, const weft_node *n, const weft_tensor *const *in, weft_tensor *out,
                           weft_err *err) {
    weft_op_ctx c;
    weft_status s = weft_node_infer(g, n, &c, err);
    if (s) return s;
    /* Present the inputs in compute dtype. Inputs already in compute dtype are used in place. */
    weft_tensor conv[WEFT_MAX_IO] = {{0}};
    for (int i = 0; i < n->n_in; i++) {
        if (!in[i]) { c.in[i] = NULL; continue; }
        if (!in[i]->data) { c.in[i] = in[i]; continue; }  /* a descriptor: Shape and Size read only the shape */
        weft_dtype cd = weft_dtype_compute(in[i]->dtype);
        if (cd == in[i]->dtype) { c.in[i] = in[i]; continue; }
        if (in[i]->dtype == WEFT_U64) {
            /* uint64 computes in int64: a value beyond INT64_MAX would wrap */
            const uint64_t *v = in[i]->data;
            for (int64_t k = 0; k < weft_tensor_numel(in[i]); k++)
                if (v[k] > (uint64_t)INT64_MAX) {
                    s = weft_err_set(err, WEFT_ERR_UNSUPPORTED, "node '%s' (%s): input %d holds %llu, beyond int64, in which weft "
                                     "computes uint64 tensors", n->name, n->op->name, i, (unsigned long long)v[k]);
                    goto done;
                }
        }
        if (in[i]->dtype == WEFT_F64) {
            /* fp64 tensors compute in fp32: a finite value beyond its range would become inf */
            const double *v = in[i]->data;
            for (int64_t k = 0; k < weft_tensor_numel(in[i]); k++)
                if (isfinite(v[k]) && fabs(v[k]) > FLT_MAX) {
                    s = weft_err_set(err, WEFT_ERR_UNSUPPORTED,
                                     "node '%s' (%s): input %d holds %g, beyond fp32, in which weft computes fp64 tensors",
                                     n->name, n->op->name, i, v[k]);
                    goto done;
                }
        }
        s = weft_tensor_convert(&conv[i], in[i], cd, err);
        if (s) { weft_err_prefix(err, "node '%s' (%s): input '%s'", n->name, n->op->name, g->vals[n->in[i]].name); goto done; }
        c.in[i] = &conv[i];
    }
    for (int j = 0; j < n->n_out; j++) {
        c.store[j] = c.out[j].dtype;
        s = weft_tensor_alloc(&c.out[j], weft_dtype_compute(c.out[j].dtype), c.out[j].shape, err);
        if (s) { weft_err_prefix(err, "node '%s' (%s): output '%s'", n->name, n->op->name, g->vals[n->out[j]].name); goto done; }
    }
    s = n->op->eval(&c);
    if (s) goto done;
    for (int j = 0; j < n->n_out; j++) {
        if (c.store[j] == c.out[j].dtype) { out[j] = c.out[j]; c.out[j].owns = 0; continue; }
        s = weft_tensor_convert(&out[j], &c.out[j], c.store[j], err);
        if (s) { weft_err_prefix(err, "node '%s' (%s): output '%s'", n->name, n->op->name, g->vals[n->out[j]].name); goto done; }
    }
done:
    for (int i = 0; i < n->n_in; i++) weft_tensor_free(&conv[i]);
    for (int j = 0; j < n->n_out; j++) weft_tensor_free(&c.out[j]);
    return s;
}

weft_cost weft_node_cost(const weft_graph *g, const weft_node *n) {
    weft_op_ctx c;
    weft_err err = {0};
    weft_cost cost = {0};
    if (weft_node_infer(g, n, &c, &err)) return cost;
    if (n->op->cost) return n->op->cost(&c);
    for (int i = 0; i < n->n_in; i++)
        if (c.in[i]) cost.bytes += weft_tensor_numel(c.in[i]) * (int64_t)weft_dtype_size(c.in[i]->dtype);
    for (int j = 0; j < n->n_out; j++) {
        int64_t e = weft_shape_numel(&c.out[j].shape);
        cost.bytes += e * (int64_t)weft_dtype_size(c.out[j].dtype);
        cost.flops += e;
    }
    return cost;
}
