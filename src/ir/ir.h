/* ir: the graph of ops over typed, shaped values, and THE op table.
 *
 * A graph is a list of values and a list of nodes in topological order (a node may only use
 * values defined before it, so the order is a proof of acyclicity). Every value has a dtype and
 * a static shape; a constant or parameter value also has data.
 *
 * The op table holds one row per op (weft_op_def): its ONNX name, its arity, which inputs must be
 * known at compile time, its shape rule, its reference kernel and its cost rule. Rows live beside
 * the kernels of their family (ops_elementwise.c, ops_nn.c, ops_shape.c, ops_reduce.c, and
 * ops_train.c for the optimizer's update) and are
 * gathered into one table by ops.c; weft_op_find looks a row up by name.
 */
#ifndef WEFT_IR_H
#define WEFT_IR_H

#include "core/core.h"

typedef enum {
    WEFT_VAL_INPUT,  /* fed at run time */
    WEFT_VAL_PARAM,  /* a trained weight: data held by the graph */
    WEFT_VAL_CONST,  /* fixed data: ONNX Constant, folded shape arithmetic */
    WEFT_VAL_ACT,    /* computed by a node */
} weft_val_kind;

typedef struct {
    char *name;
    weft_val_kind kind;
    weft_dtype dtype;
    weft_shape shape;
    weft_tensor data;  /* PARAM/CONST: data in `dtype` (owned by the graph); else data == NULL */
    int producer;      /* node index for ACT, else -1 */
} weft_value;

/* A node's attributes: an owned copy of the weft_attr array given at creation. */
typedef struct weft_op_def weft_op_def;

typedef struct {
    const weft_op_def *op;
    char *name;
    int n_in, n_out;
    int *in;   /* (n_in) value ids, -1 for an omitted optional input */
    int *out;  /* (n_out) value ids */
    weft_attr *attrs;
    int n_attrs;
    int opset; /* the ONNX opset the node's semantics follow */
    int forward; /* a node of a backward pass: the forward node whose rule made it (the placer
                  * puts it beside that node); -1 otherwise */
} weft_node;

struct weft_graph {
    char *name;
    weft_value *vals;
    int n_vals, cap_vals;
    weft_node *nodes;
    int n_nodes, cap_nodes;
    int *inputs, n_inputs;    /* value ids of graph inputs, in order */
    int *outputs, n_outputs;  /* value ids of graph outputs, in order */
    int opset;                /* default opset for new nodes */
    int64_t max_tensor_bytes; /* a value's size limit (0: WEFT_MAX_TENSOR_BYTES); a graph that is
                               * only timed has WEFT_MAX_TIMED_TENSOR_BYTES */
};

/* ---- op rows ---- */

#define WEFT_MAX_IO 64

/* What a shape rule and a reference kernel see of one node.
 * Shape rule (infer): in[i] has dtype and shape, and data when the value is known at compile
 *   time (else data == NULL); in[i] is NULL for an omitted optional input. It fills out[j]'s
 *   dtype and shape (out[j].data is NULL).
 * Reference kernel (eval): in[i] holds data in its compute dtype (weft_dtype_compute: F32 for any
 *   floating storage, I64 for integers, BOOL); out[j] is allocated, zeroed, in its compute dtype.
 *   `store[j]` is out[j]'s storage dtype (Cast needs it). */
typedef struct {
    const weft_node *node;
    const weft_graph *graph;
    int n_in, n_out;
    const weft_tensor *in[WEFT_MAX_IO];
    weft_tensor out[WEFT_MAX_IO];
    weft_dtype store[WEFT_MAX_IO];
    weft_err *err;
    weft_tensor indesc[WEFT_MAX_IO]; /* descriptors of inputs that have no data (internal) */
} weft_op_ctx;

typedef struct {
    int64_t flops;  /* floating-point operations, a multiply-add counts 2 */
    int64_t bytes;  /* bytes read and written, at storage width */
} weft_cost;

struct weft_op_def {
    const char *name;          /* ONNX op_type */
    int min_in, max_in;        /* arity of inputs (max_in -1: variadic) */
    int min_out, max_out;
    uint32_t const_inputs;     /* bit i: input i must be known at compile time (shape inputs) */
    const char *attrs;         /* accepted attribute names, comma-separated ("" for none); any
                                * other attribute is refused, never silently ignored */
    weft_status (*infer)(weft_op_ctx *c);
    weft_status (*eval)(weft_op_ctx *c);
    /* optional: default is bytes of inputs and outputs and one flop per output element */
    weft_cost (*cost)(const weft_op_ctx *c);
    /* optional: appends to g the nodes computing the gradients of n's inputs (grad/grad.h). dy[j]
     * is the value holding d(loss)/d(output j), or -1 when output j gets none; writes dx[i]
     * (d loss / d input i), -1 when input i is not differentiable (integers, indices, shapes).
     * n is a copy that stays valid while g grows; the rule must not keep pointers into g. */
    weft_status (*backward)(weft_graph *g, const weft_node *n, const int *dy, int *dx, weft_err *err);
};

/* The families, each a {0}-terminated array of rows. */
extern const weft_op_def weft_ops_elementwise[];
extern const weft_op_def weft_ops_nn[];
extern const weft_op_def weft_ops_shape[];
extern const weft_op_def weft_ops_reduce[];
extern const weft_op_def weft_ops_train[];

const weft_op_def *weft_op_find(const char *name);
bool weft_op_in_family(const weft_op_def *op, const weft_op_def *family);
/* Calls fn for every row (in family order). */
void weft_op_each(void (*fn)(const weft_op_def *op, void *ud), void *ud);

/* ---- attribute access (for shape rules and kernels) ---- */

const weft_attr *weft_node_attr(const weft_node *n, const char *name);
int64_t weft_attr_i(const weft_node *n, const char *name, int64_t dflt);
float weft_attr_f(const weft_node *n, const char *name, float dflt);
const char *weft_attr_s(const weft_node *n, const char *name, const char *dflt);
/* Returns the array and writes its length to *len; NULL (and *len = 0) when absent. */
const int64_t *weft_attr_ints(const weft_node *n, const char *name, int *len);
const float *weft_attr_floats(const weft_node *n, const char *name, int *len);

/* Formats an error about node n: "node 'name' (Op): <reason>". */
weft_status weft_node_err(const weft_op_ctx *c, weft_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Normalizes a possibly negative axis against rank; fails naming the node when out of range. */
weft_status weft_axis(const weft_op_ctx *c, int64_t axis, int rank, int *out);

/* ---- graph internals ---- */

/* Runs one node's shape rule: fills c with inputs from g and calls infer. */
weft_status weft_node_infer(const weft_graph *g, const weft_node *n, weft_op_ctx *c, weft_err *err);
/* The cost of one node under its inferred shapes. */
weft_cost weft_node_cost(const weft_graph *g, const weft_node *n);
/* Adds a value; returns its id. Takes ownership of data->data when data is non-NULL. */
int weft_graph_add_value(weft_graph *g, const char *name, weft_val_kind kind, weft_dtype dt,
                         weft_shape shape, weft_tensor *data);
/* Finds a value by name (-1 when absent). Linear; for importers, not hot paths. */
int weft_graph_find(const weft_graph *g, const char *name);
/* Human-readable per-op listing (weft inspect). */
void weft_graph_print(const weft_graph *g, FILE *f);

/* Evaluates a node's kernel on given storage-typed inputs (NULL for omitted ones) and writes
 * storage-typed outputs (allocated here). Shared by the reference executor and constant
 * folding, so both compute exactly alike. */
weft_status weft_node_eval(const weft_graph *g, const weft_node *n, const weft_tensor *const *in,
                           weft_tensor *out, weft_err *err);

/* ---- limits on a whole model (limits.c) ---- */

/* A model's size: measured from a graph, or estimated from a built-in's keys before building it. */
typedef struct {
    double param_bytes; /* parameters and constants */
    double act_bytes;   /* every activation and input, together */
    double flops;       /* one reference (forward) pass */
    double nodes;
} weft_model_size;
/* Refuses (WEFT_ERR_NOMEM) a model beyond weft's limits, the message naming `what`, the limit and
 * the environment variable that raises it (WEFT_MAX_PARAM_BYTES, WEFT_MAX_ACT_BYTES,
 * WEFT_MAX_FLOPS, WEFT_MAX_NODES). */
weft_status weft_model_check_size(const weft_model_size *m, const char *what, weft_err *err);
weft_model_size weft_graph_size(const weft_graph *g);

#endif
