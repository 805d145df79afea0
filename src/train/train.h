/* train: training a model, on the reference executor or on the simulated fabric.
 *
 * What runs where:
 *   forward + loss + backward   one graph (the model, its loss, weft_grad_build's backward), run
 *                               by the reference executor (weft_ref_run) or compiled once per
 *                               step and simulated (weft_compile + weft_sim_run): the simulated
 *                               cycles of a step are those of this graph.
 *   optimizer update            on the fabric with --arch and one micro-batch per step (not
 *                               fp16): update ops in the same graph (ir/ops_train.c); otherwise on
 *                               the host, in fp32, in place, NOT simulated and never reported so.
 *   validation loss             the model + loss only, on the host's reference executor.
 *
 * A worked example, 100 AdamW steps of the small GPT on the license texts, on the fabric:
 *
 *     weft_train_config c = weft_train_defaults();
 *     c.arch = &arch;                                   // NULL: the reference executor
 *     weft_trainer *t;
 *     weft_train_new("builtin:gpt:layers=1,dim=32,heads=2,vocab=256,seq=32", &c, &t, &err);
 *     weft_data *d;
 *     weft_data_text_open(NULL, 0.1, &d, &err);         // NULL: /usr/share/common-licenses
 *     for (int i = 0; i < 100; i++) weft_train_step(t, d, &res, &err);
 *
 * The public API (include/weft.h: weft_trainer_*, api.c) wraps this trainer: the caller's
 * batches instead of a data set.
 *
 * Files: train.c (the trainer), api.c (the public API), optim.c (SGD, momentum, AdamW, clipping, schedule), data.c (data
 * sets and batch sampling), checkpoint.c (checkpoints). docs/TRAINING.md tells the whole story.
 */
#ifndef WEFT_TRAIN_H
#define WEFT_TRAIN_H

#include "compile/compile.h"
#include "sim/run.h"

/* ---- optimizers (optim.c) ---------------------------------------------------------------- */

typedef enum { WEFT_OPT_SGD = 0, WEFT_OPT_MOMENTUM, WEFT_OPT_ADAMW, WEFT_OPT_COUNT } weft_optim_kind;

const char *weft_optim_name(weft_optim_kind k);
/* "sgd", "momentum", "adamw" -> kind; -1 when unknown. */
int weft_optim_parse(const char *s);

typedef struct {
    weft_optim_kind kind;
    double lr;            /* peak learning rate */
    double momentum;      /* MOMENTUM: torch.optim.SGD's momentum (dampening 0, no Nesterov) */
    double beta1, beta2, eps;
    double weight_decay;  /* AdamW: decoupled (p -= lr*wd*p before the update); SGD/momentum:
                           * added to the gradient (g += wd*p), as torch.optim.SGD does */
    double clip;          /* global gradient-norm clip (torch clip_grad_norm_), 0 = off */
    int64_t warmup;       /* linear warm-up steps: lr * (t + 1) / warmup for t < warmup */
    int64_t decay_steps;  /* cosine decay from lr to min_lr over steps warmup..decay_steps; 0: constant */
    double min_lr_frac;   /* min_lr = lr * min_lr_frac */
} weft_optim_config;

/* State of one optimizer over n parameters; m and v are (numel[i]) each (v only for AdamW). */
typedef struct {
    weft_optim_config c;
    int n;
    int64_t *numel;       /* (n) */
    float **m, **v;       /* (n) x (numel[i]); NULL arrays when the kind keeps none */
    int64_t step;         /* updates applied so far */
} weft_optim;

weft_optim *weft_optim_new(const weft_optim_config *c, int n, const int64_t *numel);
void weft_optim_free(weft_optim *o);
/* The learning rate of update number t (0-based): warm-up, then cosine decay. */
double weft_optim_lr(const weft_optim_config *c, int64_t t);
/* Clips the gradients to the global norm c.clip (in place, when on), then updates the parameters in
 * place, fp32. params[i] and grads[i] are (numel[i]). Returns the global gradient norm before
 * clipping; *lr_out (optional) receives the learning rate used. */
double weft_optim_step(weft_optim *o, float *const *params, float *const *grads, double *lr_out);

/* ---- data (data.c) ----------------------------------------------------------------------- */

typedef enum { WEFT_DATA_TEXT, WEFT_DATA_TEACHER, WEFT_DATA_ADVECTION, WEFT_DATA_WEATHER, WEFT_DATA_ARRAYS } weft_data_kind;

/* A data set and its sampling state. TEXT: bytes of text files, split into a training part and a
 * validation part; a training window is drawn at a random offset from `rng`, validation windows
 * are fixed (a prime stride through the validation part). TEACHER (builtin:mlp): x ~ N(0, 1), label = argmax of a fixed random
 * linear teacher. ADVECTION (builtin:weather-cnn): smooth random fields; the target is the field
 * moved one cell east (periodic in longitude). WEATHER (builtin:weather-cnn in `weft train`): the
 * shallow-water generator of data/weather.h, x a state and y the state WEFT_WEATHER_LEAD steps
 * later. ARRAYS: the user's samples, x (N, ...) and y (N, ...) from NumPy files, the last
 * val_frac of them for validation; a training sample is drawn uniformly (with replacement) from
 * `rng`, validation batches go through the validation samples in order. `rng` and `position`
 * are what a checkpoint keeps. */
typedef struct {
    weft_data_kind kind;
    uint8_t *bytes;       /* TEXT: (n_bytes), train part first */
    int64_t n_bytes, n_train;
    char source[512];     /* what was read, for messages */
    int n_files;
    weft_rng rng;         /* the sampling state */
    uint64_t position;    /* samples drawn so far */
    float *teacher;       /* TEACHER: (in, out) */
    int64_t teacher_in, teacher_out;
    struct weft_weather *weather; /* WEATHER: the generator (its RNG is synced with rng) */
    weft_tensor ax, ay;   /* ARRAYS: (N, ...) each (owned unless they are views: owns 0) */
    int64_t n_samples, n_train_samples;
    bool in_order;        /* ARRAYS: training samples taken in order from `position`, not drawn */
} weft_data;

/* Reads a text file, or every regular file of a folder once (files with the same content, such as
 * the links of /usr/share/common-licenses, counted once), sorted by name, concatenated. NULL path:
 * /usr/share/common-licenses. The last val_frac of the bytes is the validation part. Fails naming
 * the path when it is missing, empty or too short. */
weft_status weft_data_text_open(const char *path, double val_frac, weft_data **out, weft_err *err);
/* The user's samples: x and y from .npy files of one leading size N, the last val_frac of the
 * samples (at least one when val_frac > 0) held out for validation. Fails naming the file. */
weft_status weft_data_arrays_open(const char *x_path, const char *y_path, double val_frac, weft_data **out, weft_err *err);
/* A synthetic data set: TEACHER, ADVECTION or WEATHER. */
weft_data *weft_data_synthetic(weft_data_kind kind);
void weft_data_free(weft_data *d);
void weft_data_seed(weft_data *d, uint64_t seed);
/* Fills x and y (allocated by the caller in the trainer's dtypes and shapes) with the next training
 * batch (val < 0, drawn from d->rng) or with the fixed validation batch number val (draws nothing).
 * vocab: the classes of a cross-entropy target. Fails naming the data when it does not fit. */
weft_status weft_data_batch(weft_data *d, int64_t val, weft_tensor *x, weft_tensor *y, int64_t vocab, weft_err *err);

/* ---- the trainer (train.c) --------------------------------------------------------------- */

/* AUTO: chosen from the model's output (weft_train_new). NONE: the model computes its own loss:
 * it takes (input, target) and its one output is the loss, a scalar. */
typedef enum { WEFT_LOSS_AUTO = 0, WEFT_LOSS_CROSS_ENTROPY, WEFT_LOSS_MSE, WEFT_LOSS_NONE } weft_loss_kind;

typedef struct {
    weft_optim_config optim;
    const weft_arch *arch;   /* NULL: the reference executor; else the fabric (copied) */
    const char *mode;        /* the fabric's execution mode (weft_compile_opts.mode; NULL: auto);
                              * the trainer keeps a copy, as of `frozen` */
    int replicas;            /* data parallel over this many of the machine's chips, the model's
                              * batch being each one's share (0: all of them) */
    int accum;               /* micro-batches per step (gradients averaged), >= 1 */
    weft_dtype precision;    /* storage of weights and activations: F32, or BF16 / F16 mixed
                              * precision (fp32 master weights and optimizer, fp32 arithmetic;
                              * F16 with dynamic loss scaling) */
    uint64_t seed;           /* data sampling */
    weft_loss_kind loss;     /* AUTO (0): cross-entropy for logits (B, T, V) and (B, C), else MSE */
    const char *const *frozen; /* (n_frozen) parameters held constant (batch norm's running
                                * statistics, torch's buffers), by name; borrowed */
    int n_frozen;
} weft_train_config;

weft_train_config weft_train_defaults(void);

typedef struct weft_trainer weft_trainer;
struct weft_trainer {
    char *spec;              /* the MODEL argument */
    weft_graph *g;           /* owned: model + loss + backward; outputs [loss, grad of param[i]...] */
    weft_graph *eval;        /* owned, built on first use: model + loss (validation) */
    int n_params;
    int *param;              /* (n_params) value ids of the parameters in g */
    int *eval_param;         /* (n_params) the same parameters in eval */
    int64_t *numel;          /* (n_params) */
    weft_loss_kind loss;
    int input, target;       /* graph inputs of g: the model's input and the loss's target */
    int64_t classes;         /* cross-entropy: the logits' last dimension; 0 for MSE */
    uint64_t model_hash;     /* FNV-64 of parameter names, dtypes and shapes */
    weft_train_config c;
    weft_arch arch;          /* when c.arch */
    weft_program *prog;      /* the compiled training graph (fabric), NULL until compiled */
    bool prog_stale;         /* the parameters changed since prog's weights were loaded */
    weft_program *progu;     /* the compiled step graph with its update (gu) */
    /* The fabric step with its update (fabric, one micro-batch per step): model + loss + backward
     * + clipping + the optimizer's update ops (ir/ops_train.c), so the update runs on the fabric in
     * the regions that hold the parameters and their optimizer state. NULL otherwise. */
    weft_graph *gu;          /* owned; outputs [loss, grad norm, P'..., state 1'..., state 2'...] */
    int *gu_param, *gu_s1, *gu_s2; /* (n_params) parameters and optimizer state (PARAM values) in gu */
    int gu_scalar[3];        /* per-step scalar inputs: AdamW decay, step_size, bc2_sqrt; SGD lr, first */
    bool update_simulated;   /* the optimizer update ran on the fabric (gu) */
    /* fp16: dynamic loss scaling (torch.cuda.amp.GradScaler's defaults) */
    int scale_input;         /* the graph input holding the loss scale, -1 when unscaled */
    double loss_scale;       /* 65536 at first; halved on overflow, doubled after 2000 good steps */
    int64_t good_steps, skipped_steps;
    weft_optim *opt;
    int64_t step;            /* steps done */
    weft_sim_stats last;     /* fabric: the last simulated micro-batch */
    double compile_seconds;  /* host time spent compiling, all steps */
    char **owned;            /* (n_frozen + 1) copies of c.mode and c.frozen's names, which point here */
    weft_data *feed;         /* owned, made on first use: the batch given to the public API's
                              * weft_trainer_step (api.c), as views */
};

/* What one step did. */
typedef struct {
    double loss;             /* mean over the micro-batches */
    double grad_norm;        /* before clipping */
    double lr;
    double sim_seconds;      /* fabric: simulated seconds of forward + backward, all micro-batches; 0 on the host */
    uint64_t sim_cycles;
    double host_seconds;     /* wall time of the whole step on this host */
    double update_seconds;   /* of which the host-side optimizer update */
    bool skipped;            /* fp16: a gradient overflowed; the update was skipped and the scale halved */
} weft_step_result;

/* Builds the training graph of the model `spec` (weft_model_load). The loss is c->loss, or with
 * AUTO follows the model's output: cross-entropy against int64 targets for logits (B, T, V) and
 * (B, C), MSE against a float target of the output's shape otherwise. Cross-entropy's targets
 * are the logits' shape without the last dimension (class ids), MSE's the output's. */
weft_status weft_train_new(const char *spec, const weft_train_config *c, weft_trainer **out, weft_err *err);
void weft_train_free(weft_trainer *t);

/* Fills the trainer's two inputs (the model's input, the target) with the next batch of d.
 * in[0], in[1] are allocated here (caller frees). Validation windows when val >= 0 (window index). */
weft_status weft_train_batch(const weft_trainer *t, weft_data *d, int64_t val, weft_tensor in[2], weft_err *err);
/* Computes loss and gradients of one batch (ref or fabric); grads[i] newly allocated. */
weft_status weft_train_forward_backward(weft_trainer *t, const weft_tensor in[2], double *loss, weft_tensor *grads,
                                        double *sim_seconds, uint64_t *sim_cycles, weft_err *err);
/* One training step: c.accum batches from d, forward + backward, optimizer update. */
weft_status weft_train_step(weft_trainer *t, weft_data *d, weft_step_result *r, weft_err *err);
/* Mean loss over n_windows fixed validation batches (TEXT: the validation part), on the host. */
weft_status weft_train_validate(weft_trainer *t, weft_data *d, int n_windows, double *loss, weft_err *err);

/* The persistence baseline on the same validation batches: the mean squared error of predicting
 * that the target equals the input ("tomorrow = today"), for MSE models whose input and target
 * have one shape; NAN for other models. */
weft_status weft_train_persistence(weft_trainer *t, weft_data *d, int n_windows, double *mse, weft_err *err);

/* Tokens and samples of one batch (tokens 0 for models without a sequence). */
int64_t weft_train_tokens(const weft_trainer *t, int64_t *samples);
/* Chips a step runs on, data parallel, each with the model's batch (1: one). */
int weft_train_replicas(const weft_trainer *t);

/* ---- checkpoints (checkpoint.c) ---------------------------------------------------------- */

/* "WEFTCKPT", version 2: the model's identity (hash and spec), step, optimizer kind and state, the
 * fp16 loss scale,
 * parameters, the data's RNG state and position. Written atomically (weft_file_write). */
weft_status weft_checkpoint_save(const weft_trainer *t, const weft_data *d, const char *path, weft_err *err);
/* Loads into t and d. Refuses, naming the file, a checkpoint of another model or another optimizer,
 * and a damaged one (checksum); nothing in t or d changes on failure. */
weft_status weft_checkpoint_load(weft_trainer *t, weft_data *d, const char *path, weft_err *err);
/* The model a checkpoint was trained from (its spec, loaded again) with the checkpoint's weights
 * in its parameters; *steps (optional) the steps it was trained. For export and evaluation. */
weft_status weft_checkpoint_weights(const char *path, weft_graph **out, int64_t *steps, weft_err *err);
/* The MODEL spec a checkpoint was trained from, into spec (n bytes). */
weft_status weft_checkpoint_spec(const char *path, char *spec, size_t n, weft_err *err);
/* The checkpoint's weights into g's parameters by name (the model may differ in its batch or
 * sequence: each of the checkpoint's parameters must be one of g's, of its size). */
weft_status weft_checkpoint_apply(const char *path, weft_graph *g, int64_t *steps, weft_err *err);

#endif
