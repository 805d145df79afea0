/* grad: reverse-mode automatic differentiation over the ir, and the training losses.
 *
 * weft_grad_build appends to a graph the nodes that compute d(loss)/d(value) for chosen values
 * (parameters, inputs, activations), so one weft_ref_run computes forward and backward together.
 * Each differentiable op carries its backward rule in its op table row (weft_op_def.backward,
 * beside its forward in ir/ops_*.c); a rule builds ordinary graph nodes (MatMul, Mul, Where,
 * ReduceSum, ...) or, where a dedicated kernel is needed, internal "weft.*Grad" ops.
 *
 * A worked example, the gradient of a cross-entropy loss w.r.t. a weight:
 *
 *     int logits, loss, gW;
 *     weft_graph_node(g, "MatMul", "fc", (int[]){x, W}, 2, NULL, 0, &logits, 1, &err); // (B, V)
 *     weft_grad_cross_entropy(g, logits, labels, -100, &loss, &err);  // labels int64 (B)
 *     weft_grad_build(g, loss, &W, 1, &gW, &err);                     // gW: (D, V), like W
 *     weft_graph_output(g, loss);
 *     weft_graph_output(g, gW);
 *
 * Builder helpers (weft_gb_*) are what backward rules use: they chain graph nodes with a sticky
 * status, so a rule reads as straight-line math and returns b.s at the end.
 */
#ifndef WEFT_GRAD_H
#define WEFT_GRAD_H

#include "ir/ir.h"

/* Appends the backward graph of the scalar floating value `loss` to g and writes grads[i], the id
 * of the value holding d(loss)/d(wrt[i]) (same dtype and shape as wrt[i]; a zero constant when
 * the loss does not depend on it). Gradients of a value read by several ops are summed. Fails,
 * naming the node, when a node between a wrt value and the loss has no backward rule. Only
 * nodes present when called are differentiated; the graph's outputs are left to the caller. */
weft_status weft_grad_build(weft_graph *g, int loss, const int *wrt, int n_wrt, int *grads, weft_err *err);

/* Mean softmax cross-entropy of logits (..., V) against int64 targets (...), over the targets
 * that are not ignore_index (SoftmaxCrossEntropyLoss on the logits flattened to (M, V)). */
weft_status weft_grad_cross_entropy(weft_graph *g, int logits, int targets, int64_t ignore_index, int *loss,
                                    weft_err *err);
/* Mean squared error: mean((pred - target)^2) over every element; pred and target of one shape. */
weft_status weft_grad_mse(weft_graph *g, int pred, int target, int *loss, weft_err *err);

/* ---- builder for backward rules ---- */

/* The state of one backward rule: the graph grows, so the rule keeps ids and shapes, never
 * pointers into g->vals or g->nodes. The first failure sticks in s; later calls do nothing and
 * return -1. */
typedef struct {
    weft_graph *g;
    const weft_node *fwd; /* the forward node (a copy owned by the caller: stable while nodes grow) */
    weft_err *err;
    weft_status s;
    int count;            /* nodes added so far, for unique names */
} weft_gb;

void weft_gb_init(weft_gb *b, weft_graph *g, const weft_node *fwd, weft_err *err);
/* A single-output node; returns its value id (-1 after a failure). */
int weft_gb_node(weft_gb *b, const char *op, const int *in, int n_in, const weft_attr *attrs, int n_attrs);
/* A node with n_out outputs written to out; returns b->s. */
weft_status weft_gb_nodes(weft_gb *b, const char *op, const int *in, int n_in, const weft_attr *attrs, int n_attrs,
                          int *out, int n_out);
int weft_gb_op1(weft_gb *b, const char *op, int x);
int weft_gb_op2(weft_gb *b, const char *op, int x, int y);
int weft_gb_op3(weft_gb *b, const char *op, int x, int y, int z);
/* A scalar constant v in the (floating) dtype of value `like`. */
int weft_gb_scalar(weft_gb *b, double v, int like);
/* A 1-D int64 constant (n). */
int weft_gb_ints(weft_gb *b, const int64_t *v, int n);
/* Zeros of shape s and dtype dt. */
int weft_gb_zeros(weft_gb *b, weft_shape s, weft_dtype dt);
/* x reshaped to s (x itself when the shapes agree). */
int weft_gb_reshape(weft_gb *b, int x, weft_shape s);
/* x broadcast to s (Expand; x itself when the shapes agree). */
int weft_gb_expand(weft_gb *b, int x, weft_shape s);
/* Sum of x over the axes in mask (bit k: axis k), keeping them as size 1 when keep. */
int weft_gb_reduce_sum(weft_gb *b, int x, uint32_t mask, bool keep);
/* The gradient dy of a broadcast result summed back to the input's shape s. */
int weft_gb_unbroadcast(weft_gb *b, int dy, weft_shape s);
/* Cast x to dtype dt (x itself when it is already dt). */
int weft_gb_cast(weft_gb *b, int x, weft_dtype dt);
weft_shape weft_gb_shape(const weft_gb *b, int v);
weft_dtype weft_gb_dtype(const weft_gb *b, int v);
/* Fails the rule with a message naming the forward node. */
weft_status weft_gb_fail(weft_gb *b, weft_status s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Attribute literals. */
#define WEFT_ATTR_I(nm, v) ((weft_attr){.name = (nm), .type = WEFT_ATTR_INT, .i = (v)})
#define WEFT_ATTR_F(nm, v) ((weft_attr){.name = (nm), .type = WEFT_ATTR_FLOAT, .f = (v)})
#define WEFT_ATTR_IS(nm, p, cnt) ((weft_attr){.name = (nm), .type = WEFT_ATTR_INTS, .ints = (p), .n = (cnt)})
#define WEFT_ATTR_S(nm, v) ((weft_attr){.name = (nm), .type = WEFT_ATTR_STRING, .s = (v)})

#endif
