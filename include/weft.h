/* weft — a dataflow AI accelerator, in software.
 *
 * Public API. Things with lifetimes are opaque handles (weft_graph); plain data is transparent
 * (weft_shape, weft_tensor, weft_err). No global state: every call takes what it works on.
 *
 * A worked example, y = relu(x W + b):
 *
 *     weft_err err = {0};
 *     weft_graph *g = weft_graph_new("tiny");
 *     int x = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(4, 8));         // (B=4, 8)
 *     int W = weft_graph_param(g, "W", WEFT_F32, WEFT_SHAPE(8, 16), NULL);  // (8, 16)
 *     int b = weft_graph_param(g, "b", WEFT_F32, WEFT_SHAPE(16), NULL);     // (16)
 *     int h, y;
 *     weft_graph_node(g, "MatMul", NULL, (int[]){x, W}, 2, NULL, 0, &h, 1, &err);
 *     weft_graph_node(g, "Add", NULL, (int[]){h, b}, 2, NULL, 0, &h, 1, &err);
 *     weft_graph_node(g, "Relu", NULL, &h, 1, NULL, 0, &y, 1, &err);
 *     weft_graph_output(g, y);
 *
 * Every weft_graph_node call infers the outputs' dtypes and shapes on the spot and fails with a
 * message naming the node and the reason; the graph is always verified.
 */
#ifndef WEFT_H
#define WEFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version: the library's soname carries the major number (libweft.so.0). */
#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 5
#define WEFT_VERSION "0.5.0"
/* The version of the library linked (WEFT_VERSION when built together). */
const char *weft_version(void);

/* ---- status and errors ------------------------------------------------------------------- */

typedef enum {
    WEFT_OK = 0,
    WEFT_ERR_INVALID,     /* malformed input: a file, a field, an attribute */
    WEFT_ERR_UNSUPPORTED, /* valid, but weft does not do it (yet): an op, a dtype, an attribute */
    WEFT_ERR_SHAPE,       /* shapes or dtypes that do not agree */
    WEFT_ERR_IO,          /* a file that cannot be read or written */
    WEFT_ERR_NOMEM,       /* allocation refused, or bounded before it was attempted */
    WEFT_ERR_MISMATCH,    /* a result outside tolerance */
    WEFT_STATUS_COUNT
} weft_status;

/* The message names the file, the node (name and op type) and the reason. */
typedef struct {
    weft_status status;
    char msg[1024];
} weft_err;

const char *weft_status_name(weft_status s);

/* ---- dtypes, shapes, tensors ------------------------------------------------------------- */

/* Storage dtypes. Floating tensors compute in fp32 whatever their storage; integers in int64. */
typedef enum {
    WEFT_F32 = 0,
    WEFT_F16,
    WEFT_BF16,
    WEFT_F64,
    WEFT_I64,
    WEFT_I32,
    WEFT_I8,
    WEFT_U8,
    WEFT_BOOL,
    WEFT_U16,
    WEFT_I16,
    WEFT_U32,
    WEFT_U64,  /* computed in int64: values beyond INT64_MAX are refused */
    WEFT_DTYPE_COUNT
} weft_dtype;

#define WEFT_MAX_DIMS 8

typedef struct {
    int ndim;
    int64_t d[WEFT_MAX_DIMS];
} weft_shape;

/* A dense row-major tensor. `data` holds numel elements of `dtype` (owned when `owns`). */
typedef struct {
    weft_dtype dtype;
    weft_shape shape;
    void *data;
    int owns;
} weft_tensor;

/* WEFT_SHAPE(3, 4) is the shape (3, 4); WEFT_SHAPE() is a scalar. */
weft_shape weft_shape_make(int ndim, const int64_t *d);
#define WEFT_SHAPE(...)                                                                       \
    weft_shape_make((int)(sizeof((int64_t[]){0, ##__VA_ARGS__}) / sizeof(int64_t)) - 1,       \
                    (const int64_t[]){0, ##__VA_ARGS__} + 1)

/* ---- the graph ---------------------------------------------------------------------------- */

typedef struct weft_graph weft_graph;

/* An attribute of a node, as in ONNX. Exactly one of the value members is used, by `type`. */
typedef enum { WEFT_ATTR_INT, WEFT_ATTR_FLOAT, WEFT_ATTR_INTS, WEFT_ATTR_FLOATS, WEFT_ATTR_STRING,
               WEFT_ATTR_TENSOR } weft_attr_type;
typedef struct {
    const char *name;
    weft_attr_type type;
    int64_t i;
    float f;
    const int64_t *ints; /* (n) */
    const float *floats; /* (n) */
    int n;
    const char *s;
    const weft_tensor *t;
} weft_attr;

weft_graph *weft_graph_new(const char *name);
void weft_graph_free(weft_graph *g);

/* Values are small integer ids. A graph input is fed at run time; a parameter is a trained
 * weight (data copied; NULL data means zeros until set); a constant is fixed data. */
int weft_graph_input(weft_graph *g, const char *name, weft_dtype dt, weft_shape shape);
int weft_graph_param(weft_graph *g, const char *name, weft_dtype dt, weft_shape shape,
                     const void *data);
int weft_graph_const(weft_graph *g, const char *name, const weft_tensor *t);

/* Adds a node of op `op` (an ONNX op type, e.g. "MatMul"). `in` may hold -1 for an omitted
 * optional input. Writes the ids of its n_out outputs into `out`. Infers shapes, and folds the
 * node into a constant when every input is constant and the result is small. */
weft_status weft_graph_node(weft_graph *g, const char *op, const char *name, const int *in,
                            int n_in, const weft_attr *attrs, int n_attrs, int *out, int n_out,
                            weft_err *err);
void weft_graph_output(weft_graph *g, int value);

weft_status weft_graph_verify(const weft_graph *g, weft_err *err);

/* Whole-graph counts for a forward pass. */
typedef struct {
    int64_t nodes, params, param_bytes, flops, bytes;
} weft_graph_stats;
weft_graph_stats weft_graph_count(const weft_graph *g);

/* Mixed precision: a copy of g whose floating activations and constants are stored in dt (WEFT_BF16
 * or WEFT_F16), its parameters fp32 master weights read through a Cast, its inputs as fed, its
 * outputs dt. The caller frees it; g may be freed first. */
weft_status weft_graph_precision(const weft_graph *g, weft_dtype dt, weft_graph **out, weft_err *err);

/* ---- ONNX import -------------------------------------------------------------------------- */

/* Reads an ONNX model. `bound` (optional, n_bound long) gives values for graph inputs by
 * position: a bound input that feeds a shape position (Reshape's shape, Slice's starts, ...)
 * becomes a constant, so that models with shape inputs import as static graphs. */
weft_status weft_onnx_load(const char *path, const weft_tensor *const *bound, int n_bound,
                           weft_graph **out, weft_err *err);
/* Reads an ONNX model with the leading dimension of every graph input set to `batch` (where the
 * graph allows: a shape fixed inside it fails naming the node). */
weft_status weft_onnx_load_batch(const char *path, int64_t batch, weft_graph **out, weft_err *err);
/* Reads one TensorProto file (.pb) as in ONNX's test_data_set_* folders. */
weft_status weft_onnx_load_tensor(const char *path, weft_tensor *out, char *name, size_t name_len,
                                  weft_err *err);

/* ---- reference executor ------------------------------------------------------------------- */

/* Runs the graph op by op. inputs[i] feeds the i-th graph input (its dtype and shape must agree);
 * outputs[j] receives a newly allocated tensor for the j-th graph output (caller frees with
 * weft_tensor_free). */
weft_status weft_ref_run(const weft_graph *g, const weft_tensor *const *inputs, int n_inputs,
                         weft_tensor *outputs, int n_outputs, weft_err *err);

void weft_tensor_free(weft_tensor *t);

/* ---- machines, compiling, simulating ------------------------------------------------------ */

/* A machine: a preset name ("wse2", "wse3", "sn30", "wse2-mini", "mesh-8x8", "mesh-32x32") or a
 * path to a JSON description. A program: a graph compiled onto a machine (the graph must outlive
 * it).
 *
 *     weft_arch *a;
 *     weft_program *p;
 *     weft_sim_opts o = {0};
 *     weft_sim_stats st;
 *     if (weft_arch_open("wse2-mini", &a, &err) || weft_program_compile(g, a, &p, &err) ||
 *         weft_program_run(p, inputs, 1, outputs, 1, &o, &st, &err)) fprintf(stderr, "%s\n", err.msg);
 *     printf("%llu cycles\n", (unsigned long long)st.cycles);
 */
typedef struct weft_arch weft_arch;
typedef struct weft_program weft_program;

weft_status weft_arch_open(const char *name_or_path, weft_arch **out, weft_err *err);
void weft_arch_close(weft_arch *a);
weft_status weft_program_compile(const weft_graph *g, const weft_arch *a, weft_program **out, weft_err *err);
/* The same in an execution mode: "pipelined", "weight-streaming", "sections" or NULL / "auto"
 * (pipelined when the model fits, else the machine's streaming mode), on one chip of the machine. */
weft_status weft_program_compile_mode(const weft_graph *g, const weft_arch *a, const char *mode, weft_program **out, weft_err *err);
void weft_program_free(weft_program *p);

typedef struct {
    bool timing_only;  /* skip the numeric pass; outputs are not produced */
    bool per_pe;       /* numeric pass tile by tile instead of one grouped kernel per region */
    int passes;        /* passes streamed back to back, for the steady state (0: 3); the numbers
                        * and `cycles` are the first pass's */
    struct weft_sim_detail *detail; /* NULL, or per-kernel times and an observer (sim/run.h) */
    int accumulate;    /* weight streaming, timing only: micro-batches (passes) per step; the
                        * off-chip unit sums each one's gradients and applies the update after
                        * the last (gradient accumulation); up to 8 are simulated, the period of a
                        * longer step extrapolated from them. 0 or 1: every pass is a step */
    bool free_reduction; /* data parallel: the gradients' sums over the chips take no time (to
                          * measure how much of that communication the step hides) */
} weft_sim_opts;

enum {
    WEFT_BOTTLENECK_OFFCHIP = -1, WEFT_BOTTLENECK_LINK = -2, WEFT_BOTTLENECK_UPDATES = -3, WEFT_BOTTLENECK_BUFFERS = -4,
    WEFT_BOTTLENECK_WEIGHTS = -5
};

typedef struct {
    uint64_t cycles;           /* first input byte leaving off-chip memory to the last output byte arriving */
    uint64_t run_cycles;       /* the whole run: to the end of the last pass */
    double seconds;            /* cycles at the machine's clock */
    int64_t flops;             /* arithmetic performed by the kernels */
    double achieved_flops;     /* flops / seconds */
    double peak_flops;         /* the machine's peak for the program's arithmetic, all tiles */
    const char *peak_dtype;    /* that arithmetic: "fp32", "fp16" or "bf16" (the one doing most flops) */
    double pe_utilization;     /* arithmetic-busy tile-cycles over the cycles of the tiles in use */
    int64_t tiles_used;
    int64_t sram_bytes_max;    /* per tile, planned buffers plus blocks that waited at run time */
    double sram_bytes_mean;    /* over the tiles in use */
    double link_load_max;      /* busiest link's occupied cycles / cycles */
    int64_t link_busiest;      /* that link: (y * width + x) * 4 + direction (0 east, 1 west, 2 north, 3 south) */
    double link_load_mean;     /* over all links of the mesh */
    uint64_t messages, bytes_moved, byte_hops, events;
    /* the steady state: passes stream back to back, as the machines are fed */
    int passes;                /* passes simulated */
    uint64_t period_cycles;    /* between the ends of the last two passes (= cycles for one pass) */
    double passes_per_s;       /* clock / period: multiply by a pass's samples or tokens */
    int bottleneck;            /* what sets the steady state's period: the busiest kernel (an index
                                * into the program), WEFT_BOTTLENECK_LINK (link_busiest),
                                * WEFT_BOTTLENECK_OFFCHIP (the off-chip link) or
                                * WEFT_BOTTLENECK_UPDATES (a pass waits for the last one's
                                * optimizer updates: the step's latency) or
                                * WEFT_BOTTLENECK_BUFFERS (back-pressure: passes end further apart
                                * than the busiest resource needs) or WEFT_BOTTLENECK_WEIGHTS
                                * (weight streaming: layers wait for their weights) */
    double bottleneck_busy;    /* its busy cycles over all cycles of the run */
    /* weight streaming, per pass (0 otherwise): bytes streamed in (weights, resident constants)
     * and out (gradients to the off-chip unit); cycles the layers computed, waited for their
     * weights after the layer before was done, and the off-chip unit spent on updates */
    int64_t weight_bytes_in, gradient_bytes_out;
    int accumulate;            /* micro-batches a step (passes are micro-batches; 1: a pass is a step) */
    uint64_t layer_cycles, weight_wait_cycles, update_cycles;
    /* data parallel: chips running the program (flops, peak and tiles above are all of theirs;
     * samples a pass are the replicas' times the program's); each gradient's bytes summed over
     * the chip network in a pass, and the cycles the network was busy summing (0 in weight
     * streaming: the switch sums at line rate on the way to the off-chip unit) */
    int replicas;
    int64_t chip_net_bytes;
    uint64_t chip_net_cycles;
    uint64_t alone_period_cycles; /* the period of the same run whose sums take no time (one chip
                                   * running its share alone); = period_cycles for one replica */
} weft_sim_stats;

/* Runs the program on the simulated fabric: outputs as weft_ref_run (untouched with
 * timing_only), statistics of the run in *st (docs/REPORT.md). */
weft_status weft_program_run(const weft_program *p, const weft_tensor *const *inputs, int n_inputs, weft_tensor *outputs,
                             int n_outputs, const weft_sim_opts *o, weft_sim_stats *st, weft_err *err);

/* ---- models and training ----------------------------------------------------------------- */

/* A model by its spec: an ONNX file ("model.onnx", "model.onnx#x=8x32,batch=8": the inputs'
 * shapes, binding symbolic dimensions) or a built-in ("builtin:gpt:layers=2,seq=64"). */
weft_status weft_model_load(const char *spec, weft_graph **out, weft_err *err);

/* Training a model: its forward pass, a loss, the backward pass and the optimizer update, on the
 * reference executor (arch NULL) or on the simulated fabric of a machine.
 *
 *     weft_trainer_opts o = weft_trainer_defaults();
 *     o.lr = 3e-4;
 *     weft_trainer *t;
 *     if (weft_trainer_new("model.onnx", &o, &t, &err)) ...
 *     for (...) { weft_trainer_step(t, &x, &y, &r, &err); printf("%g\n", r.loss); }
 *     weft_trainer_param(t, 0, &w);     // the trained fp32 weights, by name
 *     weft_trainer_free(t);
 */
typedef struct weft_trainer weft_trainer;

typedef struct {
    const char *optimizer;  /* "adamw" (torch.optim.AdamW), "momentum", "sgd" (torch.optim.SGD) */
    double lr, momentum, beta1, beta2, eps, weight_decay;
    double clip;            /* global gradient-norm clip, 0: off */
    int64_t warmup;         /* linear warm-up steps, then a cosine decay to lr * min_lr_frac ... */
    int64_t decay_steps;    /* ... at this step (0: a constant lr after the warm-up) */
    double min_lr_frac;
    const char *arch;       /* NULL: the reference executor; else a machine whose fabric runs the step */
    const char *mode;       /* the fabric's execution mode (NULL: auto) */
    const char *precision;  /* "fp32" (NULL), "bf16", "fp16" */
    const char *loss;       /* "cross_entropy", "mse", or NULL / "auto": from the output's shape;
                             * "none": the model takes (input, target) and returns its loss */
    uint64_t seed;
    const char *const *frozen; /* (n_frozen) parameters not trained, by name (torch's buffers: batch
                                * norm's running statistics); borrowed for the call */
    int n_frozen;
} weft_trainer_opts;

/* lr 1e-3, AdamW (0.9, 0.999, 1e-8, weight decay 0.01), clip 1, no warm-up or decay, fp32, the
 * reference executor. */
weft_trainer_opts weft_trainer_defaults(void);
weft_status weft_trainer_new(const char *model, const weft_trainer_opts *o, weft_trainer **out, weft_err *err);
void weft_trainer_free(weft_trainer *t);

/* The step's two inputs: 0 the model's input, 1 the loss's target (name, dtype, shape). */
void weft_trainer_io(const weft_trainer *t, int which, const char **name, weft_dtype *dt, weft_shape *shape);

typedef struct {
    double loss, grad_norm, lr;
    double sim_seconds;     /* on a machine: the step's simulated seconds; 0 on the reference */
    uint64_t sim_cycles;
    int skipped;            /* fp16: an overflow skipped the update */
} weft_train_result;

/* One step on the batch x (the model's input) and y (the target), whose dtypes and shapes must be
 * weft_trainer_io's. */
weft_status weft_trainer_step(weft_trainer *t, const weft_tensor *x, const weft_tensor *y, weft_train_result *r, weft_err *err);
/* The loss of a batch without training, on the host's reference executor. */
weft_status weft_trainer_eval(weft_trainer *t, const weft_tensor *x, const weft_tensor *y, double *loss, weft_err *err);

/* The parameters: their names (the model's: an ONNX file's initializer names) and the fp32
 * master weights, as a view into the trainer (owns 0; valid until the next step). */
int weft_trainer_n_params(const weft_trainer *t);
const char *weft_trainer_param_name(const weft_trainer *t, int i);
weft_status weft_trainer_param(weft_trainer *t, int i, weft_tensor *view, weft_err *err);
int64_t weft_trainer_steps(const weft_trainer *t);

/* A checkpoint (parameters, optimizer state, step): written atomically; loading refuses another
 * model's or a damaged one. */
weft_status weft_trainer_save(const weft_trainer *t, const char *path, weft_err *err);
weft_status weft_trainer_load(weft_trainer *t, const char *path, weft_err *err);

#ifdef __cplusplus
}
#endif
#endif
