/* cli: using a trained model. `weft eval MODEL --checkpoint CKPT` (loss and accuracy on held-out
 * data) and `weft generate MODEL --checkpoint CKPT --prompt TEXT --tokens N` (sampling from a
 * byte-level language model), both on the host's reference executor with the checkpoint's
 * weights put into the model's parameters by name. */
#include "cli/use.h"

#include "cli/opt.h"
#include "models/models.h"
#include "train/train.h"

#include <math.h>
#include <string.h>
#include <sys/stat.h>

static int fail(const char *cmd, const weft_err *err) {
    fprintf(stderr, "weft %s: error: %s\n", cmd, err->msg);
    return err->status == WEFT_ERR_INVALID || err->status == WEFT_ERR_SHAPE ? 2 : 1;
}

void weft_cli_checkpoint_path(const char *ck, char *path, size_t n) {
    struct stat sb;
    snprintf(path, n, !stat(ck, &sb) && S_ISDIR(sb.st_mode) ? "%s/checkpoint.weft" : "%s", ck);
}

/* A byte-level language model: one int64 (batch, seq) input, (batch, seq, vocab) logits. */
static bool is_lm(const weft_graph *g) {
    if (g->n_inputs != 1 || g->n_outputs != 1) return false;
    const weft_value *x = &g->vals[g->inputs[0]], *o = &g->vals[g->outputs[0]];
    return x->dtype == WEFT_I64 && x->shape.ndim == 2 && o->shape.ndim == 3 && o->shape.d[0] == x->shape.d[0] &&
           o->shape.d[1] == x->shape.d[1] && o->shape.d[2] > 0;
}

/* MODEL (with --batch) and the checkpoint (a file, or the folder weft train --checkpoint wrote)
 * applied to it; with lm, MODEL must be a language model (checked first). */
static int load(const char *cmd, const char *model, long long batch, const char *ck, bool lm, weft_graph **g, int64_t *steps) {
    weft_err err = {0};
    char spec[4096], path[4200];
    snprintf(spec, sizeof spec, "%s", model);
    if (batch && weft_model_spec_set(model, "batch", batch, spec, sizeof spec, &err)) return fail(cmd, &err);
    weft_cli_checkpoint_path(ck, path, sizeof path);
    if (weft_model_load(spec, g, &err)) return fail(cmd, &err);
    if (lm && !is_lm(*g)) {
        fprintf(stderr, "weft %s: %s is not a language model (one int64 (batch, seq) input, (batch, seq, vocab) logits)\n", cmd, model);
        weft_graph_free(*g);
        *g = NULL;
        return 2;
    }
    if (weft_checkpoint_apply(path, *g, steps, &err)) {
        weft_graph_free(*g);
        *g = NULL;
        return fail(cmd, &err);
    }
    return 0;
}

int weft_cli_eval(int argc, char **argv) {
    const char *ck = NULL, *data = NULL, *inputs = NULL, *targets = NULL, *loss = "auto";
    long long batches = 8, batch = 0;
    const cli_opt opts[] = {
        {"checkpoint", 0, CLI_STR, &ck, "CKPT", "the trained weights (a checkpoint file, or its folder); required"},
        {"inputs", 0, CLI_STR, &inputs, "X.npy", "held-out samples, (N, ...): every one is evaluated"},
        {"targets", 0, CLI_STR, &targets, "Y.npy", "their targets"},
        {"data", 0, CLI_STR, &data, "FILE|DIR", "text for token models: its last 10% (default /usr/share/common-licenses)"},
        {"batches", 0, CLI_INT, &batches, "N", "text: validation windows of a batch each (default 8)", 1, 1 << 20},
        {"batch", 0, CLI_INT, &batch, "B", "the model's batch", 1, 1 << 20},
        {"loss", 0, CLI_CHOICE, &loss, "L", "cross_entropy, mse, or auto (default: from the output's shape)", 0, 0, "auto,cross_entropy,mse"},
        {0}};
    const cli_command c = {"eval", "MODEL", "the loss (and accuracy, for classifiers) of MODEL with a checkpoint's weights on held-out\n"
                           "data, on the reference executor", opts, 1, 1};
    const char *model;
    int np, rc = cli_parse(&c, argc, argv, &model, &np);
    if (rc) return rc == CLI_HELP ? 0 : rc;
    if (!ck) { fprintf(stderr, "weft eval: --checkpoint CKPT is required\n"); return 2; }
    if (!inputs != !targets) { fprintf(stderr, "weft eval: --inputs and --targets go together\n"); return 2; }
    weft_graph *g;
    int64_t steps;
    if ((rc = load("eval", model, batch, ck, false, &g, &steps))) return rc;
    weft_err err = {0};
    if (g->n_inputs != 1 || g->n_outputs != 1) {
        fprintf(stderr, "weft eval: %s has %d inputs and %d outputs; eval takes one of each\n", model, g->n_inputs, g->n_outputs);
        weft_graph_free(g);
        return 2;
    }
    const weft_value *xv = &g->vals[g->inputs[0]], *ov = &g->vals[g->outputs[0]];
    bool ce = !strcmp(loss, "cross_entropy") || (!strcmp(loss, "auto") && (ov->shape.ndim == 2 || ov->shape.ndim == 3));
    if (ce && ov->shape.ndim < 2) {
        fprintf(stderr, "weft eval: cross-entropy wants logits (batch, ..., classes); %s's output has rank %d\n", model, ov->shape.ndim);
        weft_graph_free(g);
        return 2;
    }
    int64_t classes = ce ? ov->shape.d[ov->shape.ndim - 1] : 0;
    weft_shape ts = ov->shape;
    if (ce) ts.ndim--;
    weft_data *d = NULL;
    weft_status s;
    if (inputs) s = weft_data_arrays_open(inputs, targets, 0, &d, &err);
    else if (xv->dtype == WEFT_I64 && xv->shape.ndim == 2) s = weft_data_text_open(data, 0.1, &d, &err);
    else s = weft_err_set(&err, WEFT_ERR_INVALID, "%s: give its held-out samples (--inputs X.npy --targets Y.npy)", model);
    int64_t B = xv->shape.ndim ? xv->shape.d[0] : 1, windows = batches;
    if (!s && inputs) windows = (d->n_samples + B - 1) / B;  /* every sample once (the last batch wraps to the first) */
    double sum = 0, right = 0, count = 0;
    for (int64_t w = 0; w < windows && !s; w++) {
        weft_tensor x = {0}, y = {0}, out = {0};
        const weft_tensor *inp[1] = {&x};
        s = weft_tensor_alloc(&x, xv->dtype, xv->shape, &err);
        if (!s) s = weft_tensor_alloc(&y, ce ? WEFT_I64 : WEFT_F32, ce ? ts : ov->shape, &err);
        if (!s) s = weft_data_batch(d, w, &x, &y, classes, &err);
        if (!s) s = weft_ref_run(g, inp, 1, &out, 1, &err);
        if (!s) {
            int64_t rows = ce ? weft_tensor_numel(&y) : 1, n = weft_tensor_numel(&out);
            if (inputs && (w + 1) * B > d->n_samples) {  /* the last batch wraps: count its new samples only */
                int64_t fresh = d->n_samples - w * B;
                rows = ce ? rows / B * fresh : 1;
                n = n / B * fresh;
            }
            for (int64_t r = 0; r < rows && ce; r++) {  /* cross-entropy and argmax a row of logits */
                int64_t tgt = weft_tensor_get_i(&y, r), best = 0;
                if (tgt == -100) continue;
                double mx = -INFINITY, z = 0;
                for (int64_t k = 0; k < classes; k++) {
                    double v = weft_tensor_get_f(&out, r * classes + k);
                    if (v > mx) { mx = v; best = k; }
                }
                for (int64_t k = 0; k < classes; k++) z += exp(weft_tensor_get_f(&out, r * classes + k) - mx);
                sum += mx + log(z) - weft_tensor_get_f(&out, r * classes + tgt);
                right += best == tgt;
                count++;
            }
            for (int64_t k = 0; k < n && !ce; k++) {
                double e = weft_tensor_get_f(&out, k) - weft_tensor_get_f(&y, k);
                sum += e * e;
                count++;
            }
        }
        weft_tensor_free(&x);
        weft_tensor_free(&y);
        weft_tensor_free(&out);
    }
    if (s) rc = fail("eval", &err);
    else {
        printf("eval %s with %s (%lld steps trained) on %s: %lld %s\n", model, ck, (long long)steps, d->source, (long long)count,
               ce ? "predictions" : "values");
        printf("  loss            %.6f (%s)\n", count ? sum / count : 0, ce ? "cross-entropy" : "mean squared error");
        if (ce) printf("  accuracy        %.4f (%.0f of %.0f)\n", count ? right / count : 0, right, count);
    }
    weft_data_free(d);
    weft_graph_free(g);
    return rc;
}

int weft_cli_generate(int argc, char **argv) {
    const char *ck = NULL, *prompt = "";
    long long tokens = 200, seed = 1;
    double temperature = 0.8;
    const cli_opt opts[] = {
        {"checkpoint", 0, CLI_STR, &ck, "CKPT", "the trained weights (a checkpoint file, or its folder); required"},
        {"prompt", 0, CLI_STR, &prompt, "TEXT", "the text to continue (its bytes are the first tokens)"},
        {"tokens", 0, CLI_INT, &tokens, "N", "tokens to sample (default 200)", 1, 1 << 20},
        {"temperature", 0, CLI_NUM, &temperature, "T", "softmax temperature (default 0.8; 0: the most likely token)", 0, 100},
        {"seed", 0, CLI_INT, &seed, "S", "the sampling seed (default 1)", 0, 9007199254740992.0},
        {0}};
    const cli_command c = {"generate", "MODEL", "continues a prompt with a byte-level language model (int64 (batch, seq) tokens in,\n"
                           "(batch, seq, vocab) logits out) and a checkpoint's weights, a token a reference pass", opts, 1, 1};
    const char *model;
    int np, rc = cli_parse(&c, argc, argv, &model, &np);
    if (rc) return rc == CLI_HELP ? 0 : rc;
    if (!ck) { fprintf(stderr, "weft generate: --checkpoint CKPT is required\n"); return 2; }
    weft_graph *g;
    int64_t steps;
    if ((rc = load("generate", model, 0, ck, true, &g, &steps))) return rc;
    const weft_value *xv = &g->vals[g->inputs[0]], *ov = &g->vals[g->outputs[0]];
    int64_t T = xv->shape.d[1], V = ov->shape.d[2], n = 0, len = (int64_t)strlen(prompt);
    int64_t *ctx = weft_xcalloc((size_t)(len + tokens + 1), sizeof *ctx);  /* the prompt's tokens, then the sampled */
    for (int64_t i = 0; i < len; i++) ctx[n++] = (unsigned char)prompt[i] % V;
    weft_rng rng;
    weft_rng_seed(&rng, (uint64_t)seed, 0x6e7);
    weft_err err = {0};
    weft_tensor x = {0};
    weft_status s = weft_tensor_alloc(&x, WEFT_I64, xv->shape, &err);
    double *p = weft_xcalloc((size_t)V, sizeof *p);
    fputs(prompt, stdout);
    for (int64_t t = 0; t < tokens && !s; t++) {
        /* the last T tokens; a shorter context is padded after its end, which causal attention never reads */
        int64_t start = n > T ? n - T : 0, used = n - start, at = used ? used - 1 : 0;
        memset(x.data, 0, weft_tensor_nbytes(&x));
        for (int64_t i = 0; i < used; i++) ((int64_t *)x.data)[i] = ctx[start + i];
        weft_tensor out = {0};
        const weft_tensor *inp[1] = {&x};
        if ((s = weft_ref_run(g, inp, 1, &out, 1, &err))) break;
        double mx = -INFINITY, z = 0;
        int64_t best = 0;
        for (int64_t k = 0; k < V; k++) {
            p[k] = weft_tensor_get_f(&out, at * V + k);
            if (p[k] > mx) { mx = p[k]; best = k; }
        }
        weft_tensor_free(&out);
        int64_t next = best;
        if (temperature > 0) {
            for (int64_t k = 0; k < V; k++) z += p[k] = exp((p[k] - mx) / temperature);
            double u = weft_rng_uniform(&rng) * z, acc = 0;
            for (next = 0; next < V - 1 && (acc += p[next]) <= u; next++) {}
        }
        ctx[n++] = next;
        putchar(next >= 32 && next < 127 ? (int)next : next == '\n' || next == '\t' ? (int)next : '?');
        fflush(stdout);
    }
    putchar('\n');
    if (s) rc = fail("generate", &err);
    free(p);
    free(ctx);
    weft_tensor_free(&x);
    weft_graph_free(g);
    return rc;
}
