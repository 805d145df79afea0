/* grad: mixed precision. weft_precision_cast rebuilds a model graph so that its weights and
 * activations are stored in a narrow floating type (bf16 or fp16) while the parameters stay fp32
 * master weights: each floating parameter and input is read through a Cast, floating constants
 * take the narrow type, and every op then stores its result narrow (kernels compute in fp32 and
 * round once, core/core.h). The backward of the Cast hands fp32 gradients to the master weights. */
#include "grad/precision.h"

#include <string.h>

weft_status weft_precision_cast(const weft_graph *src, weft_dtype dt, weft_graph **out, weft_err *err) {
    *out = NULL;
    if (dt != WEFT_BF16 && dt != WEFT_F16)
        return weft_err_set(err, WEFT_ERR_INVALID, "mixed precision stores bf16 or fp16, not %s", weft_dtype_name(dt));
    weft_graph *g = weft_graph_new(src->name);
    g->max_tensor_bytes = src->max_tensor_bytes;
    g->opset = src->opset;
    int *map = weft_xmalloc((size_t)(src->n_vals + 1) * sizeof(int));  /* value of src -> value of g */
    for (int v = 0; v < src->n_vals; v++) map[v] = -1;
    weft_status s = WEFT_OK;
    weft_attr to = {.name = "to", .type = WEFT_ATTR_INT, .i = weft_dtype_to_onnx(dt)};
    for (int v = 0; v < src->n_vals && !s; v++) {
        const weft_value *x = &src->vals[v];
        bool narrow = x->dtype == WEFT_F32 || x->dtype == WEFT_F64;
        switch (x->kind) {
        case WEFT_VAL_INPUT:
        case WEFT_VAL_PARAM: {
            /* inputs are fed as they were (fp32 data), parameters stay fp32 masters: both are read
             * through a Cast */
            int master = x->kind == WEFT_VAL_INPUT ? weft_graph_input(g, x->name, x->dtype, x->shape)
                                                   : weft_graph_param(g, x->name, x->dtype, x->shape, x->data.data);
            map[v] = master;
            if (narrow) {
                char nm[512];
                snprintf(nm, sizeof nm, "%s.%s", x->name, weft_dtype_name(dt));
                s = weft_graph_node(g, "Cast", nm, &master, 1, &to, 1, &map[v], 1, err);
            }
            break;
        }
        case WEFT_VAL_CONST: {
            weft_tensor t = {0};
            if (narrow) s = weft_tensor_convert(&t, &x->data, dt, err);
            map[v] = weft_graph_const(g, x->name, narrow ? &t : &x->data);
            weft_tensor_free(&t);
            break;
        }
        case WEFT_VAL_ACT: break;  /* made by its node below */
        }
    }
    for (int i = 0; i < src->n_nodes && !s; i++) {
        const weft_node *n = &src->nodes[i];
        int in[WEFT_MAX_IO], outv[WEFT_MAX_IO];
        for (int q = 0; q < n->n_in; q++) in[q] = n->in[q] >= 0 ? map[n->in[q]] : -1;
        /* a Cast to fp32 inside the model now casts to the narrow type */
        weft_attr attrs[64];
        int na = n->n_attrs < 64 ? n->n_attrs : 64;
        memcpy(attrs, n->attrs, (size_t)na * sizeof *attrs);
        for (int k = 0; k < na; k++)
            if (!strcmp(n->op->name, "Cast") && !strcmp(attrs[k].name, "to") && attrs[k].i == weft_dtype_to_onnx(WEFT_F32))
                attrs[k].i = weft_dtype_to_onnx(dt);
        int saved = g->opset;
        g->opset = n->opset;
        s = weft_graph_node(g, n->op->name, n->name, in, n->n_in, attrs, na, outv, n->n_out, err);
        g->opset = saved;
        for (int j = 0; j < n->n_out && !s; j++) map[n->out[j]] = outv[j];
    }
    for (int j = 0; j < src->n_outputs && !s; j++) weft_graph_output(g, map[src->outputs[j]]);
    free(map);
    if (s) {
        weft_graph_free(g);
        return weft_err_prefix(err, "%s in %s", src->name, weft_dtype_name(dt));
    }
    *out = g;
    return WEFT_OK;
}

weft_status weft_graph_precision(const weft_graph *g, weft_dtype dt, weft_graph **out, weft_err *err) {
    *out = NULL;
    if (dt != WEFT_BF16 && dt != WEFT_F16)
        return weft_err_set(err, WEFT_ERR_INVALID, "precision %s: a graph is cast to bf16 or fp16", weft_dtype_name(dt));
    return weft_precision_cast(g, dt, out, err);
}
