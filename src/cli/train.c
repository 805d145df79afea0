/* cli: `weft train MODEL [--arch A] --steps N [options]`. See docs/TRAINING.md.
 *
 * Everything that can be refused (options, the data, the model, the machine, the checkpoint to
 * resume from) is checked before anything is written: a bad run overwrites no log and no checkpoint. */
#include "cli/train.h"
#include "cli/opt.h"

#include "arch/arch.h"
#include "models/models.h"
#include "report/report.h"
#include "train/train.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int bad(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "weft train: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
    return 2;
}

static int fail(const weft_err *err) {
    fprintf(stderr, "weft train: error: %s\n", err->msg);
    return 1;
}

typedef struct {
    const char *model, *arch, *data, *ckpt_dir, *log, *precision, *optimizer, *report, *mode, *inputs, *targets, *loss;
    double val_split;
    cli_list shapes;
    long long steps, batch, accum, every, eval_every, eval_batches, stop_at, seed, warmup, replicas;
    double lr, wd, clip, min_lr_frac;
    bool resume, allow_nonfinite, steps_given;
    cli_config config;  /* --config's settings (owned: cli_config_free) */
} train_args;

static int parse_args(int argc, char **argv, train_args *a) {
    memset(a, 0, sizeof *a);
    a->accum = 1;
    a->eval_every = -1;
    a->eval_batches = 8;
    a->seed = 1;
    a->lr = 1e-3;
    a->wd = 0.01;
    a->clip = 1.0;
    a->min_lr_frac = 0.1;
    a->optimizer = "adamw";
    a->precision = "fp32";
    a->loss = "auto";
    a->val_split = 0.1;
    const double big = (double)((int64_t)1 << 40);  /* what a checkpoint's step counters hold */
    const cli_opt opts[] = {
        {"steps", 0, CLI_INT, &a->steps, "N", "train until step N (also the horizon of the cosine decay); required", 0, big, NULL, &a->steps_given},
        {"arch", 0, CLI_STR, &a->arch, "A", "train on the simulated fabric of machine A (absent: the reference executor)"},
        {"batch", 0, CLI_INT, &a->batch, "B", "the model's batch (builtin models); on a machine of several chips the whole\n"
                                                 "step's, split over them (data parallel, the gradients summed over the chips)", 1, 1 << 20},
        {"replicas", 0, CLI_INT, &a->replicas, "N", "data parallel over N of the machine's chips (default all)", 1, 1 << 20},
        {"accum", 0, CLI_INT, &a->accum, "K", "micro-batches per step, gradients averaged (default 1)", 1, 1 << 20},
        {"optimizer", 0, CLI_CHOICE, &a->optimizer, "O", "adamw (default), momentum, sgd", 0, 0, "adamw,momentum,sgd"},
        {"lr", 0, CLI_NUM, &a->lr, "X", "peak learning rate (default 1e-3)", 1e-30, 1e30},
        {"warmup", 0, CLI_INT, &a->warmup, "N", "linear warm-up steps (default 0), then cosine decay to --min-lr-frac", 0, big},
        {"min-lr-frac", 0, CLI_NUM, &a->min_lr_frac, "X", "the floor of the cosine decay, a fraction of --lr (default 0.1)", 0, 1},
        {"weight-decay", 0, CLI_NUM, &a->wd, "X", "default 0.01 (AdamW: decoupled)", 0, 1e30},
        {"clip", 0, CLI_NUM, &a->clip, "X", "global gradient-norm clip (default 1.0, 0: off)", 0, 1e30},
        {"data", 0, CLI_STR, &a->data, "FILE|DIR", "text for token models (default /usr/share/common-licenses)"},
        {"inputs", 0, CLI_STR, &a->inputs, "X.npy", "your own samples: the model's inputs, (N, ...) in a NumPy file"},
        {"targets", 0, CLI_STR, &a->targets, "Y.npy", "their targets, (N, ...): class ids (int) for cross-entropy, values for MSE"},
        {"val-split", 0, CLI_NUM, &a->val_split, "F", "the last F of --inputs' samples held out for validation (default 0.1)", 0, 0.99},
        {"loss", 0, CLI_CHOICE, &a->loss, "L", "cross_entropy, mse, or auto (default: cross-entropy for logits (B, C) and\n"
                                              "(B, T, V), MSE otherwise; the choice is printed); none: the model takes\n"
                                              "(input, target) and its output is its loss", 0, 0, "auto,cross_entropy,mse,none"},
        {"input-shape", 0, CLI_LIST, &a->shapes, "NAME=8x32", "an ONNX input's shape, or a symbolic dimension (batch=8)"},
        {"eval-every", 0, CLI_INT, &a->eval_every, "K", "validation loss every K steps and at the end (default steps/10, 0: at the end)", 0, big},
        {"eval-batches", 0, CLI_INT, &a->eval_batches, "N", "validation batches (default 8)", 1, 1 << 20},
        {"checkpoint", 0, CLI_STR, &a->ckpt_dir, "DIR", "write DIR/checkpoint.weft every --every K steps and at the end"},
        {"every", 0, CLI_INT, &a->every, "K", "checkpoint interval", 1, big},
        {"resume", 0, CLI_FLAG, &a->resume, NULL, "continue from DIR/checkpoint.weft"},
        {"stop-at", 0, CLI_INT, &a->stop_at, "N", "stop after step N (as a crash would: the schedule is still --steps')", 1, big},
        {"log", 0, CLI_STR, &a->log, "FILE", "CSV: step,loss,val_loss,lr,sim_seconds,host_seconds (renamed into place at the end)"},
        {"allow-nonfinite", 0, CLI_FLAG, &a->allow_nonfinite, NULL, "go on when the loss becomes NaN or inf (default: stop with an error)"},
        {"report", 0, CLI_STR, &a->report, "FILE", "JSON: the run's losses, and the simulated step as weft run reports it"},
        {"seed", 0, CLI_INT, &a->seed, "S", "data sampling seed (default 1)", 0, 9007199254740992.0},
        {"mode", 0, CLI_CHOICE, &a->mode, "M", "the fabric's execution mode: auto (default), pipelined, weight-streaming, sections", 0, 0,
         "auto,pipelined,weight-streaming,sections"},
        {"precision", 0, CLI_CHOICE, &a->precision, "P", "fp32 (default); bf16 or fp16: weights and activations stored narrow, fp32 master\n"
                                                         "weights and arithmetic; fp16 with dynamic loss scaling (steps skipped on overflow)",
         0, 0, "fp32,bf16,fp16"},
        {0}};
    /* --config params.yaml: section.key -> option, as the Model Zoo's params files are laid out */
    static const cli_config_key keys[] = {
        {"model", "name", NULL},  {"model", "batch", "batch"}, {"model", "precision", "precision"}, {"model", "loss", "loss"},
        {"model", "input_shape", "input-shape"},
        {"optimizer", "name", "optimizer"}, {"optimizer", "lr", "lr"}, {"optimizer", "learning_rate", "lr"},
        {"optimizer", "weight_decay", "weight-decay"}, {"optimizer", "clip", "clip"}, {"optimizer", "max_gradient_norm", "clip"},
        {"optimizer", "warmup", "warmup"}, {"optimizer", "min_lr_frac", "min-lr-frac"},
        {"data", "text", "data"}, {"data", "inputs", "inputs"}, {"data", "targets", "targets"}, {"data", "val_split", "val-split"},
        {"data", "seed", "seed"},
        {"runconfig", "arch", "arch"}, {"runconfig", "mode", "mode"}, {"runconfig", "steps", "steps"},
        {"runconfig", "max_steps", "steps"}, {"runconfig", "accum", "accum"}, {"runconfig", "replicas", "replicas"},
        {"runconfig", "eval_every", "eval-every"}, {"runconfig", "eval_batches", "eval-batches"},
        {"runconfig", "checkpoint", "checkpoint"}, {"runconfig", "every", "every"}, {"runconfig", "checkpoint_steps", "every"},
        {"runconfig", "resume", "resume", true}, {"runconfig", "stop_at", "stop-at"}, {"runconfig", "log", "log"},
        {"runconfig", "report", "report"}, {"runconfig", "allow_nonfinite", "allow-nonfinite", true},
        {NULL, NULL, NULL}};
    const cli_command c = {"train", "MODEL", "trains MODEL on the reference executor, or on the simulated fabric of machine A\n"
                           "(docs/TRAINING.md); token models on text, your samples with --inputs/--targets, the\n"
                           "others on generated data; MODEL may come from --config's model.name", opts, 1, 1, keys, &a->config};
    int np, rc = cli_parse(&c, argc, argv, &a->model, &np);
    if (rc) return rc;
    if (a->mode && !strcmp(a->mode, "auto")) a->mode = NULL;
    if (!a->steps_given) return bad("--steps N is required%s%s", "", "");
    if ((a->resume || a->every) && !a->ckpt_dir) return bad("--resume and --every need --checkpoint DIR%s%s", "", "");
    if (!a->inputs != !a->targets) return bad("--inputs and --targets go together%s%s", "", "");
    if (a->inputs && a->data) return bad("--data (text) or --inputs/--targets (arrays), not both%s%s", "", "");
    return 0;
}

/* The model spec with batch=B set (a builtin's key, an ONNX file's "#batch=B") and the
 * --input-shape bindings of an ONNX file added ("#x=8x32"). */
static int with_batch(const char *model, int64_t batch, const cli_list *shapes, char *out, size_t n) {
    weft_err err = {0};
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", model);
    if (shapes->n && !strncmp(model, "builtin:", 8)) return bad("--input-shape is for ONNX files; '%s' takes its sizes as keys%s", model, "");
    for (int i = 0; i < shapes->n; i++) {
        const char *hash = strrchr(tmp, '#');
        size_t l = strlen(tmp);
        if (!strchr(shapes->v[i], '=') || strchr(shapes->v[i], ',')) return bad("--input-shape '%s' is not NAME=SHAPE (x=8x32)%s", shapes->v[i], "");
        snprintf(tmp + l, sizeof tmp - l, "%s%s", hash && strchr(hash, '=') ? "," : "#", shapes->v[i]);
    }
    if (!batch) { snprintf(out, n, "%s", tmp); return 0; }
    if (!strncmp(model, "builtin:", 8) && strstr(model, "batch=")) return bad("give the batch once: '%s' already has batch=, and --batch is set%s", model, "");
    if (weft_model_spec_set(tmp, "batch", batch, out, n, &err)) return fail(&err);
    return 0;
}

/* Opens the log for writing, whole or not at all (weft_atomic_open: a temporary beside it, renamed
 * into place when the run ends): on resume, the rows of steps <= step of the existing log are
 * carried over. Every write is checked: a full disk is an error, never an empty log and exit 0. */
static weft_status open_log(const char *path, bool resume, int64_t step, weft_atomic *a, weft_err *err) {
    if (weft_atomic_open(a, path, err)) return err->status;
    FILE *f = resume ? fopen(path, "r") : NULL;
    if (f) {
        char line[1024];
        bool first = true;
        while (fgets(line, sizeof line, f)) {
            long long s;
            if (first || (sscanf(line, "%lld,", &s) == 1 && s <= step)) fputs(line, a->f);
            first = false;
        }
        fclose(f);
    } else {
        fprintf(a->f, "step,loss,val_loss,lr,sim_seconds,host_seconds\n");
    }
    if (fflush(a->f) || ferror(a->f)) {
        weft_status s = weft_err_set(err, WEFT_ERR_IO, "%s: cannot write the log: %s", path, strerror(errno));
        weft_atomic_abort(a);
        return s;
    }
    return WEFT_OK;
}

/* The JSON report of a training run: its losses, and (on the fabric) the last simulated step
 * with the fields of `weft run --report` (docs/REPORT.md), per step. */
static weft_status write_train_report(const train_args *a, const weft_trainer *t, double host_total, double sim_total,
                                      int64_t steps_done, double first_loss, double last_loss, double last_val,
                                      double persistence, weft_err *err) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "model", t->spec);
    cJSON_AddNumberToObject(r, "steps", (double)t->step);
    cJSON_AddStringToObject(r, "optimizer", weft_optim_name(t->opt->c.kind));
    cJSON_AddStringToObject(r, "precision", a->precision);
    cJSON_AddNumberToObject(r, "loss_first", first_loss);
    cJSON_AddNumberToObject(r, "loss_last", last_loss);
    if (!isnan(last_val)) cJSON_AddNumberToObject(r, "val_loss", last_val);
    if (!isnan(persistence)) cJSON_AddNumberToObject(r, "persistence_mse", persistence);
    cJSON_AddBoolToObject(r, "update_simulated", t->update_simulated);
    const weft_program *p = t->progu ? t->progu : t->prog;
    if (p && steps_done > 0) {
        int64_t samples, tokens = weft_train_tokens(t, &samples);
        weft_report_add_stats(r, p, &t->last, samples * t->c.accum, tokens * t->c.accum, sim_total / (double)steps_done);
    }
    cJSON_AddNumberToObject(r, "host_seconds", steps_done > 0 ? host_total / (double)steps_done : 0);
    weft_status s = weft_report_write(r, a->report, err);
    cJSON_Delete(r);
    return s;
}

static void print_final(const weft_trainer *t, const train_args *a, double host_total, double sim_total, double update_total,
                        double val_total, int64_t steps_done, double first_loss, double last_loss, double last_val) {
    int64_t samples, tokens = weft_train_tokens(t, &samples);
    samples *= t->c.accum * weft_train_replicas(t);
    tokens *= t->c.accum * weft_train_replicas(t);
    printf("\n== training report: %s, %lld steps this run (to step %lld), %s\n", t->spec, (long long)steps_done,
           (long long)t->step, weft_optim_name(t->opt->c.kind));
    if (t->c.precision != WEFT_F32)
        printf("  precision       %s storage of weights and activations, fp32 master weights and arithmetic%s\n",
               weft_dtype_name(t->c.precision), t->c.precision == WEFT_F16 ? "" : "");
    if (t->scale_input >= 0)
        printf("  loss scaling    scale %g now, %lld step%s skipped on overflow\n", t->loss_scale, (long long)t->skipped_steps,
               t->skipped_steps == 1 ? "" : "s");
    printf("  loss            %.4f -> %.4f%s", first_loss, last_loss, isnan(last_val) ? "\n" : "");
    if (!isnan(last_val)) printf(", validation %.4f\n", last_val);
    if (t->c.arch && steps_done > 0) {
        const weft_sim_stats *st = &t->last;
        double per_step = sim_total / (double)steps_done;
        const weft_program *pg = t->progu ? t->progu : t->prog;
        printf("  simulated on %s in %s mode: forward + backward%s of one step (%d micro-batch%s)\n", t->arch.name,
               pg ? pg->mode : "?", t->update_simulated ? " + update" : "", t->c.accum, t->c.accum > 1 ? "es" : "");
        printf("    cycles        %llu per micro-batch = %.6g ms at %.3g GHz\n", (unsigned long long)st->cycles, st->seconds * 1e3,
               t->arch.clock_hz * 1e-9);
        printf("    step          %.6g ms simulated\n", per_step * 1e3);
        printf("    samples/s     %.6g\n", per_step > 0 ? (double)samples / per_step : 0);
        if (tokens) printf("    tokens/s      %.6g\n", per_step > 0 ? (double)tokens / per_step : 0);
        printf("    FLOP/s        %.4g achieved of %.4g peak %s (%.2f%%)\n", st->achieved_flops, st->peak_flops, st->peak_dtype,
               st->peak_flops > 0 ? 100 * st->achieved_flops / st->peak_flops : 0);
        printf("    PE util       %.4f%% of the tiles in use\n", 100 * st->pe_utilization);
        printf("    tiles used    %lld\n", (long long)st->tiles_used);
        printf("    SRAM per tile max %lld B, mean %.0f B\n", (long long)st->sram_bytes_max, st->sram_bytes_mean);
        printf("    links         max load %.4f, mean %.6f; %llu messages, %.4g MB\n", st->link_load_max, st->link_load_mean,
               (unsigned long long)st->messages, (double)st->bytes_moved * 1e-6);
        if (t->update_simulated)
            printf("  the optimizer update (%s) ran %s, in the step above; NOT simulated: the validation loss, on the\n"
                   "  host's reference executor\n", weft_optim_name(t->opt->c.kind),
                   pg && pg->weight_streaming ? "in the off-chip memory unit (weight streaming)"
                   : pg && pg->phased ? "in sections of its own, its state loaded from off-chip memory"
                                      : "on the fabric, beside the parameters and their optimizer state");
        else
            printf("  NOT simulated: the optimizer update (%s) runs on the host, %.3g ms per step (with --accum > 1 the\n"
                   "  update follows the accumulated micro-batches); the validation loss runs on the host's reference executor\n",
                   weft_optim_name(t->opt->c.kind), steps_done ? 1e3 * update_total / (double)steps_done : 0);
    } else if (steps_done > 0) {
        printf("  executed by the reference executor on this host (no fabric: give --arch to simulate one)\n");
    }
    if (steps_done > 0)
        printf("  host            %.2f s: %.4g s per step (compiling %.3g s in all, optimizer %.3g s, validation %.3g s)\n",
               host_total, host_total / (double)steps_done, t->compile_seconds, update_total, val_total);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("  peak RSS        %.1f MB\n", (double)ru.ru_maxrss * 1024e-6);
    (void)a;
}

static int train(train_args *a);

int weft_cli_train(int argc, char **argv) {
    train_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) {
        cli_config_free(&a.config);
        return rc == CLI_HELP ? 0 : rc;
    }
    rc = train(&a);
    cli_config_free(&a.config);
    return rc;
}

/* The run itself, once its arguments are parsed. */
static int train(train_args *ap) {
    train_args a = *ap;
    int rc;
    weft_err err = {0};
    weft_arch arch;
    if (a.arch && weft_arch_get(a.arch, &arch, &err)) return fail(&err);
    /* data parallel: each chip a share of the batch (where the update runs on the fabric: no
     * accumulation, not fp16) */
    bool fused = a.arch && a.accum <= 1 && strcmp(a.precision, "fp16");
    int64_t R = a.replicas ? a.replicas : fused ? arch.chips : 1;
    if (R > 1 && !fused) return bad("--replicas: data parallel runs the update on the fabric, so not with --accum or fp16%s%s", "", "");
    char nums[64];
    snprintf(nums, sizeof nums, "%lld", (long long)R);
    if (a.arch && R > arch.chips) return bad("--replicas %s: %s has fewer chips", nums, arch.name);
    if (!a.arch && R > 1) return bad("--replicas %s needs --arch, a machine of several chips%s", nums, "");
    if (a.batch && a.batch % R) {
        char b[32];
        snprintf(b, sizeof b, "%lld", (long long)a.batch);
        return bad("--batch %s does not divide over the %s replicas (data parallel over the machine's chips)", b, nums);
    }
    char spec[4096];
    if ((rc = with_batch(a.model, a.batch / R, &a.shapes, spec, sizeof spec))) return rc;

    weft_train_config c = weft_train_defaults();
    c.arch = a.arch ? &arch : NULL;
    c.accum = (int)a.accum;
    c.seed = (uint64_t)a.seed;
    c.optim.kind = (weft_optim_kind)weft_optim_parse(a.optimizer);
    c.optim.lr = a.lr;
    c.optim.weight_decay = a.wd;
    c.optim.clip = a.clip;
    c.optim.warmup = a.warmup;
    c.optim.decay_steps = a.steps;
    c.optim.min_lr_frac = a.min_lr_frac;
    c.precision = !strcmp(a.precision, "bf16") ? WEFT_BF16 : !strcmp(a.precision, "fp16") ? WEFT_F16 : WEFT_F32;
    c.mode = a.mode;  /* (NULL: auto) */
    c.replicas = (int)R;
    c.loss = !strcmp(a.loss, "mse") ? WEFT_LOSS_MSE : !strcmp(a.loss, "cross_entropy") ? WEFT_LOSS_CROSS_ENTROPY
           : !strcmp(a.loss, "none") ? WEFT_LOSS_NONE : WEFT_LOSS_AUTO;
    weft_trainer *t = NULL;
    if (weft_train_new(spec, &c, &t, &err)) return fail(&err);

    /* the data: the user's arrays; else it follows the model: text for token models, synthetic otherwise */
    const weft_value *x = &t->g->vals[t->input];
    bool tokens = x->dtype == WEFT_I64 && x->shape.ndim == 2 && !a.inputs;
    if (t->loss == WEFT_LOSS_NONE && !a.inputs) {
        weft_train_free(t);
        fprintf(stderr, "weft train: --loss none: the model computes its loss from (input, target): give them (--inputs X.npy "
                        "--targets Y.npy)\n");
        return 2;
    }
    weft_data *d = NULL;
    if (a.inputs) {
        if (weft_data_arrays_open(a.inputs, a.targets, a.val_split, &d, &err)) { weft_train_free(t); return fail(&err); }
    } else if (tokens) {
        if (weft_data_text_open(a.data, 0.1, &d, &err)) { weft_train_free(t); return fail(&err); }
    } else if (a.data) {
        weft_train_free(t);
        fprintf(stderr, "weft train: --data %s: %s takes no text; give its samples (--inputs X.npy --targets Y.npy), or it trains "
                        "on generated data (docs/TRAINING.md)\n", a.data, spec);
        return 2;
    } else {  /* (an ONNX file's own samples: --inputs X.npy --targets Y.npy) */
        d = weft_data_synthetic(t->loss == WEFT_LOSS_MSE ? WEFT_DATA_WEATHER : WEFT_DATA_TEACHER);
    }
    if (c.loss == WEFT_LOSS_AUTO) {
        char sh[64];
        const weft_value *o = &t->g->vals[t->target];
        printf("loss: %s, chosen from the model's output (targets %s %s; --loss sets it)\n",
               t->loss == WEFT_LOSS_MSE ? "mean squared error" : "cross-entropy", weft_dtype_name(o->dtype),
               weft_shape_str(&o->shape, sh, sizeof sh));
    }
    weft_data_seed(d, (uint64_t)a.seed);
    /* a first batch checks that the data fits the model before anything is written */
    {
        weft_tensor in[2];
        weft_rng rng = d->rng;
        uint64_t pos = d->position;
        weft_status s = weft_train_batch(t, d, 0, in, &err);
        if (!s) { weft_tensor_free(&in[0]); weft_tensor_free(&in[1]); s = weft_train_batch(t, d, -1, in, &err); }
        d->rng = rng;
        d->position = pos;
        if (s) { weft_data_free(d); weft_train_free(t); return fail(&err); }
        weft_tensor_free(&in[0]);
        weft_tensor_free(&in[1]);
    }
    char ckpt[4096] = "";
    if (a.ckpt_dir) snprintf(ckpt, sizeof ckpt, "%s/checkpoint.weft", a.ckpt_dir);
    if (a.resume && weft_checkpoint_load(t, d, ckpt, &err)) {
        weft_data_free(d);
        weft_train_free(t);
        return fail(&err);
    }
    if (a.ckpt_dir && mkdir(a.ckpt_dir, 0755) && errno != EEXIST) {
        fprintf(stderr, "weft train: error: %s: cannot create the checkpoint folder: %s\n", a.ckpt_dir, strerror(errno));
        weft_data_free(d);
        weft_train_free(t);
        return 1;
    }
    weft_atomic logw = {0};
    FILE *logf = NULL;
    if (a.log && open_log(a.log, a.resume, t->step, &logw, &err)) {
        weft_data_free(d);
        weft_train_free(t);
        return fail(&err);
    }
    logf = logw.f;

    int64_t end = a.stop_at && a.stop_at < a.steps ? a.stop_at : a.steps;
    int64_t eval_every = a.eval_every >= 0 ? a.eval_every : (a.steps >= 10 ? a.steps / 10 : 1);
    bool tty = isatty(STDOUT_FILENO);
    int64_t print_every = a.steps >= 50 ? a.steps / 50 : 1;
    int64_t samples, ntok = weft_train_tokens(t, &samples) * weft_train_replicas(t);
    samples *= c.accum * weft_train_replicas(t);
    ntok *= c.accum;
    char what[128] = " (generated)";
    if (d->kind == WEFT_DATA_ARRAYS)
        snprintf(what, sizeof what, " (%lld samples: %lld train, %lld validation)", (long long)d->n_samples, (long long)d->n_train_samples,
                 (long long)(d->n_samples - d->n_train_samples));
    if (d->kind == WEFT_DATA_TEXT)
        snprintf(what, sizeof what, " (%d files, %lld bytes, 90%% train / 10%% validation)", d->n_files, (long long)d->n_bytes);
    printf("training %s on %s: %s, lr %g, %lld steps from step %lld, data %s%s\n", spec,
           a.arch ? arch.name : "the reference executor (host)", a.optimizer, a.lr, (long long)a.steps, (long long)t->step,
           d->source, what);
    if (tokens && t->classes > 0) printf("  %lld tokens per step; ln(vocab) = %.3f is the loss of a uniform guess\n", (long long)ntok, log((double)t->classes));
    fflush(stdout);
    double host_total = 0, sim_total = 0, update_total = 0, val_total = 0, first_loss = NAN, last_loss = NAN, last_val = NAN;
    int64_t done = 0;
    rc = 0;
    while (t->step < end) {
        weft_step_result r;
        if (weft_train_step(t, d, &r, &err)) { rc = fail(&err); break; }
        done++;
        host_total += r.host_seconds;
        sim_total += r.sim_seconds;
        update_total += r.update_seconds;
        if (isnan(first_loss)) first_loss = r.loss;
        last_loss = r.loss;
        double val = NAN;
        bool eval = (eval_every && t->step % eval_every == 0) || t->step == end;
        if (eval) {
            double tv = now();
            if (weft_train_validate(t, d, (int)a.eval_batches, &val, &err)) { rc = fail(&err); break; }
            val_total += now() - tv;
            last_val = val;
        }
        if (logf) {
            fprintf(logf, "%lld,%.6f,", (long long)t->step, r.loss);
            if (eval) fprintf(logf, "%.6f", val);
            fprintf(logf, ",%.6g,%.6g,%.6g\n", r.lr, r.sim_seconds, r.host_seconds);
            if (fflush(logf) || ferror(logf)) {
                weft_err_set(&err, WEFT_ERR_IO, "%s: cannot write the log at step %lld: %s", a.log, (long long)t->step, strerror(errno));
                rc = fail(&err);
                break;
            }
        }
        /* a loss of NaN or inf: the run has diverged, and every step after it is noise */
        if ((!isfinite(r.loss) || (eval && !isfinite(val))) && !a.allow_nonfinite) {
            weft_err_set(&err, WEFT_ERR_INVALID,
                         "step %lld: the %sloss is %g: the run diverged (try a smaller --lr than %g, or --clip); "
                         "--allow-nonfinite goes on regardless",
                         (long long)t->step, isfinite(r.loss) ? "validation " : "", isfinite(r.loss) ? val : r.loss, a.lr);
            rc = fail(&err);
            break;
        }
        char rate[128];
        if (a.arch)
            snprintf(rate, sizeof rate, "%.4g %s/s simulated", r.sim_seconds > 0 ? (double)(ntok ? ntok : samples) / r.sim_seconds : 0,
                     ntok ? "tokens" : "samples");
        else
            snprintf(rate, sizeof rate, "%.4g %s/s on the host", (double)(ntok ? ntok : samples) / r.host_seconds, ntok ? "tokens" : "samples");
        char valtxt[64] = "";
        if (eval) snprintf(valtxt, sizeof valtxt, " val %.4f", val);
        if (tty) {
            int width = 24, fill = (int)(width * t->step / (a.steps ? a.steps : 1));
            char bar[32];
            for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
            bar[width] = 0;
            printf("\r[%s] step %lld/%lld loss %.4f%s | %s | host %.3f s/step\033[K", bar, (long long)t->step, (long long)a.steps,
                   r.loss, valtxt, rate, r.host_seconds);
            if (eval) printf("\n");
        } else if (eval || t->step % print_every == 0 || t->step == end) {
            printf("step %lld/%lld loss %.4f%s lr %.3g | %s | host %.3f s/step\n", (long long)t->step, (long long)a.steps, r.loss,
                   valtxt, r.lr, rate, r.host_seconds);
        }
        fflush(stdout);
        bool save = a.ckpt_dir && ((a.every && t->step % a.every == 0) || t->step == end);
        if (save && weft_checkpoint_save(t, d, ckpt, &err)) { rc = fail(&err); break; }
    }
    if (tty) printf("\n");
    if (!rc) {
        print_final(t, &a, host_total, sim_total, update_total, val_total, done, first_loss, last_loss, last_val);
        double persistence;
        if (weft_train_persistence(t, d, (int)a.eval_batches, &persistence, &err)) rc = fail(&err);
        else if (!isnan(persistence))
            printf("  forecast error  %.4f on held-out data; persistence (tomorrow = today) %.4f: %s\n", last_val, persistence,
                   last_val < persistence ? "the model beats persistence" : "persistence is still better");
        if (a.report && write_train_report(&a, t, host_total, sim_total, done, first_loss, last_loss, last_val, persistence, &err))
            rc = fail(&err);
        if (a.ckpt_dir) printf("  checkpoint      %s (step %lld)\n", ckpt, (long long)t->step);
        if (a.log) printf("  log             %s\n", a.log);
    }
    /* the log is renamed into place whatever happened: the steps done are worth keeping */
    if (logf && weft_atomic_commit(&logw, &err) && !rc) rc = fail(&err);
    weft_data_free(d);
    weft_train_free(t);
    return rc;
}
