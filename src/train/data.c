/* train: data sets and deterministic batch sampling.
 *
 * TEXT       bytes of text files. Each distinct file is split 90/10 (by default): the first part of
 *            every file goes to the training bytes, the rest to the validation bytes, so both see
 *            every license. Token = byte mod vocab (the byte itself when vocab >= 256). A training
 *            window of T + 1 bytes starts at an offset drawn from the data's RNG; validation
 *            windows are fixed (a prime stride of 7919 bytes through the validation part) and draw nothing, so validating never moves training.
 * TEACHER    for builtin:mlp: x ~ N(0, 1) (B, in); label = argmax_j (x W)_j with W (in, out) a
 *            fixed N(0, 1) teacher. A separate engineer's data sets can replace it.
 * ADVECTION  for builtin:weather-cnn: each variable a sum of three random plane waves on the
 *            periodic (lat, lon) grid; the target is the state moved one cell east (pure advection
 *            at one cell per step): fast, for tests.
 * WEATHER    for builtin:weather-cnn in `weft train`: the shallow-water generator of data/weather.h
 *            (x a state, y the state WEFT_WEATHER_LEAD model steps later). Its RNG is the data's:
 *            copied in before a batch and out after, so checkpoints hold it.
 */
#include "train/train.h"

#include "data/weather.h"
#include "io/io.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_TEXT "/usr/share/common-licenses"
#define MAX_TEXT_BYTES ((int64_t)1 << 30)

static weft_data *data_new(weft_data_kind kind) {
    weft_data *d = weft_xcalloc(1, sizeof *d);
    d->kind = kind;
    weft_data_seed(d, 1);
    return d;
}

void weft_data_seed(weft_data *d, uint64_t seed) {
    weft_rng_seed(&d->rng, seed, 0x7eaf);
    d->position = 0;
}

void weft_data_free(weft_data *d) {
    if (!d) return;
    free(d->bytes);
    free(d->teacher);
    weft_weather_free(d->weather);
    weft_tensor_free(&d->ax);
    weft_tensor_free(&d->ay);
    free(d);
}

weft_data *weft_data_synthetic(weft_data_kind kind) {
    weft_data *d = data_new(kind);
    snprintf(d->source, sizeof d->source, "%s",
             kind == WEFT_DATA_TEACHER ? "synthetic teacher" : kind == WEFT_DATA_WEATHER ? "shallow-water weather" : "synthetic advection");
    return d;
}

weft_status weft_data_arrays_open(const char *x_path, const char *y_path, double val_frac, weft_data **out, weft_err *err) {
    *out = NULL;
    if (!(val_frac >= 0 && val_frac < 1)) return weft_err_set(err, WEFT_ERR_INVALID, "validation fraction %g: not in [0, 1)", val_frac);
    weft_data *d = data_new(WEFT_DATA_ARRAYS);
    snprintf(d->source, sizeof d->source, "%s + %s", x_path, y_path);
    weft_status s = weft_npy_read(x_path, &d->ax, err);
    if (!s) s = weft_npy_read(y_path, &d->ay, err);
    char a[160], b[160];
    if (!s && (d->ax.shape.ndim < 1 || d->ay.shape.ndim < 1))
        s = weft_err_set(err, WEFT_ERR_SHAPE, "%s: inputs and targets must have a leading sample dimension (x is %s, y %s)", d->source,
                         weft_shape_str(&d->ax.shape, a, sizeof a), weft_shape_str(&d->ay.shape, b, sizeof b));
    else if (!s && d->ax.shape.d[0] != d->ay.shape.d[0])
        s = weft_err_set(err, WEFT_ERR_SHAPE, "%s: %lld input samples but %lld targets (x is %s, y %s)", d->source,
                         (long long)d->ax.shape.d[0], (long long)d->ay.shape.d[0], weft_shape_str(&d->ax.shape, a, sizeof a),
                         weft_shape_str(&d->ay.shape, b, sizeof b));
    else if (!s && d->ax.shape.d[0] < 1) s = weft_err_set(err, WEFT_ERR_INVALID, "%s: no samples", d->source);
    if (s) { weft_data_free(d); return s; }
    d->n_samples = d->ax.shape.d[0];
    int64_t n_val = (int64_t)((double)d->n_samples * val_frac);
    if (val_frac > 0 && n_val == 0 && d->n_samples > 1) n_val = 1;
    d->n_train_samples = d->n_samples - n_val;
    d->n_bytes = (int64_t)(weft_tensor_nbytes(&d->ax) + weft_tensor_nbytes(&d->ay));  /* what a checkpoint compares */
    *out = d;
    return WEFT_OK;
}

/* Copies sample i of src (N, ...) into row b of dst (B, ...), converting the dtype (same kind:
 * checked before). */
static void copy_sample(weft_tensor *dst, int64_t b, const weft_tensor *src, int64_t i) {
    int64_t per = weft_tensor_numel(dst) / dst->shape.d[0];
    size_t es = weft_dtype_size(dst->dtype), ss = weft_dtype_size(src->dtype);
    weft_convert((char *)dst->data + (size_t)(b * per) * es, dst->dtype, (const char *)src->data + (size_t)(i * per) * ss, src->dtype,
                 (size_t)per);
}

/* A batch tensor t (B, ...) takes samples of a (N, ...): the same per-sample shape, the same kind. */
static weft_status sample_fits(const weft_data *d, const weft_tensor *t, const weft_tensor *a, const char *what, weft_err *err) {
    weft_shape ps = t->shape, pa = a->shape;
    bool ok = ps.ndim >= 1 && pa.ndim == ps.ndim && weft_dtype_is_float(t->dtype) == weft_dtype_is_float(a->dtype);
    for (int k = 1; ok && k < ps.ndim; k++) ok = ps.d[k] == pa.d[k];
    if (ok) return WEFT_OK;
    char x[160], y[160];
    ps.d[0] = pa.d[0];
    return weft_err_set(err, WEFT_ERR_SHAPE, "%s: the %s hold %s %s, but the model takes %s %s (batch %lld; any number of samples)",
                        d->source, what, weft_dtype_name(a->dtype), weft_shape_str(&pa, x, sizeof x), weft_dtype_name(t->dtype),
                        weft_shape_str(&ps, y, sizeof y), (long long)t->shape.d[0]);
}

typedef struct { char *path; uint8_t *data; int64_t len; } text_file;

static int by_path(const void *a, const void *b) { return strcmp(((const text_file *)a)->path, ((const text_file *)b)->path); }

static weft_status read_file(const char *path, text_file *f, weft_err *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return weft_err_set(err, WEFT_ERR_IO, "%s: cannot open the data file: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return weft_err_set(err, WEFT_ERR_IO, "%s: not a regular file", path);
    }
    if ((int64_t)st.st_size > MAX_TEXT_BYTES) {
        fclose(fp);
        return weft_err_set(err, WEFT_ERR_NOMEM, "%s: %lld bytes, more than the %lld weft reads as text", path,
                            (long long)st.st_size, (long long)MAX_TEXT_BYTES);
    }
    f->data = weft_xmalloc((size_t)st.st_size + 1);
    f->len = (int64_t)fread(f->data, 1, (size_t)st.st_size, fp);
    fclose(fp);
    f->path = weft_xstrdup(path);
    return WEFT_OK;
}

weft_status weft_data_text_open(const char *path, double val_frac, weft_data **out, weft_err *err) {
    *out = NULL;
    if (!path) path = DEFAULT_TEXT;
    if (!(val_frac >= 0 && val_frac < 1))
        return weft_err_set(err, WEFT_ERR_INVALID, "validation fraction %g is not in [0, 1)", val_frac);
    struct stat st;
    if (stat(path, &st)) return weft_err_set(err, WEFT_ERR_IO, "%s: cannot open the data file: %s", path, strerror(errno));
    text_file *files = NULL;
    int n = 0;
    weft_status s = WEFT_OK;
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = opendir(path);
        if (!dir) return weft_err_set(err, WEFT_ERR_IO, "%s: cannot read the folder: %s", path, strerror(errno));
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (e->d_name[0] == '.') continue;
            char full[4096];
            snprintf(full, sizeof full, "%s/%s", path, e->d_name);
            struct stat fs;
            if (stat(full, &fs) || !S_ISREG(fs.st_mode)) continue;
            text_file f = {0};
            if (read_file(full, &f, err)) { s = err->status; break; }
            /* the same text under several names (links, copies) counts once */
            bool dup = false;
            for (int i = 0; i < n && !dup; i++) dup = files[i].len == f.len && !memcmp(files[i].data, f.data, (size_t)f.len);
            if (dup || f.len == 0) { free(f.data); free(f.path); continue; }
            files = weft_xrealloc(files, (size_t)(n + 1) * sizeof *files);
            files[n++] = f;
        }
        closedir(dir);
        if (!s) qsort(files, (size_t)n, sizeof *files, by_path);
    } else {
        files = weft_xcalloc(1, sizeof *files);
        s = read_file(path, &files[0], err);
        if (!s) n = 1;
    }
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += files[i].len;
    if (!s && total == 0) s = weft_err_set(err, WEFT_ERR_INVALID, "%s: the data file is empty", path);
    weft_data *d = NULL;
    if (!s) {
        d = data_new(WEFT_DATA_TEXT);
        d->bytes = weft_xmalloc((size_t)total);
        d->n_bytes = total;
        d->n_files = n;
        int64_t at = 0;
        for (int i = 0; i < n; i++) { /* training parts */
            int64_t tr = files[i].len - (int64_t)floor((double)files[i].len * val_frac);
            memcpy(d->bytes + at, files[i].data, (size_t)tr);
            at += tr;
        }
        d->n_train = at;
        for (int i = 0; i < n; i++) { /* validation parts */
            int64_t tr = files[i].len - (int64_t)floor((double)files[i].len * val_frac);
            memcpy(d->bytes + at, files[i].data + tr, (size_t)(files[i].len - tr));
            at += files[i].len - tr;
        }
        WEFT_ASSERT(at == total);
        snprintf(d->source, sizeof d->source, "%s", path);
    }
    for (int i = 0; i < n; i++) { free(files[i].data); free(files[i].path); }
    free(files);
    *out = d;
    return s;
}

/* ---- batches ---- */

/* The fixed teacher of TEACHER data, (in, out), built on first use. */
static const float *teacher(weft_data *d, int64_t in, int64_t out) {
    if (!d->teacher || d->teacher_in != in || d->teacher_out != out) {
        free(d->teacher);
        d->teacher = weft_xmalloc((size_t)(in * out) * sizeof(float));
        weft_rng r;
        weft_rng_seed(&r, 0x7eac4e2, 0);
        for (int64_t i = 0; i < in * out; i++) d->teacher[i] = weft_rng_normal(&r);
        d->teacher_in = in;
        d->teacher_out = out;
    }
    return d->teacher;
}

weft_status weft_data_batch(weft_data *d, int64_t val, weft_tensor *x, weft_tensor *y, int64_t vocab, weft_err *err) {
    weft_rng vr, *r = &d->rng;
    if (val >= 0) {
        weft_rng_seed(&vr, 0x7a1 + (uint64_t)val, 0x7a1);
        r = &vr;
    }
    switch (d->kind) {
    case WEFT_DATA_TEXT: {
        char xs_[64], ys_[64];
        if (x->dtype != WEFT_I64 || x->shape.ndim != 2 || y->dtype != WEFT_I64 || !weft_shape_eq(&x->shape, &y->shape))
            return weft_err_set(err, WEFT_ERR_INVALID, "%s: text data feeds next-token models: an int64 (batch, seq) input and a target "
                                "of the same shape; this model takes %s %s and targets %s %s (give your own data: --inputs x.npy "
                                "--targets y.npy)", d->source, weft_dtype_name(x->dtype), weft_shape_str(&x->shape, xs_, sizeof xs_),
                                weft_dtype_name(y->dtype), weft_shape_str(&y->shape, ys_, sizeof ys_));
        int64_t B = x->shape.d[0], T = x->shape.d[1];
        int64_t n_val = d->n_bytes - d->n_train;
        int64_t span = val >= 0 ? n_val : d->n_train;
        if (span < T + 1)
            return weft_err_set(err, WEFT_ERR_INVALID, "%s: %lld %s bytes, fewer than one window of seq+1 = %lld", d->source,
                                (long long)span, val >= 0 ? "validation" : "training", (long long)(T + 1));
        int64_t *xs = x->data, *ys = y->data; /* (B, T) each */
        for (int64_t b = 0; b < B; b++) {
            int64_t off;
            if (val >= 0) {
                /* window number val * B + b at a prime stride: deterministic, no RNG */
                uint64_t w = (uint64_t)(val * B + b);
                off = d->n_train + (int64_t)((w * 7919u) % (uint64_t)(span - T));
            } else {
                uint64_t u = ((uint64_t)weft_rng_u32(r) << 32) | weft_rng_u32(r);
                off = (int64_t)(u % (uint64_t)(span - T));
                d->position++;
            }
            const uint8_t *s = d->bytes + off;
            for (int64_t t = 0; t < T; t++) {
                xs[b * T + t] = vocab > 0 ? s[t] % vocab : s[t];
                ys[b * T + t] = vocab > 0 ? s[t + 1] % vocab : s[t + 1];
            }
        }
        return WEFT_OK;
    }
    case WEFT_DATA_TEACHER: {
        if (x->dtype != WEFT_F32 || x->shape.ndim != 2 || y->dtype != WEFT_I64 || y->shape.ndim != 1)
            return weft_err_set(err, WEFT_ERR_INVALID, "%s: teacher data feeds (batch, in) classifiers", d->source);
        int64_t B = x->shape.d[0], in = x->shape.d[1];
        const float *W = teacher(d, in, vocab); /* (in, vocab) */
        float *xs = x->data;
        int64_t *ys = y->data;
        for (int64_t b = 0; b < B; b++) {
            for (int64_t i = 0; i < in; i++) xs[b * in + i] = weft_rng_normal(r);
            int64_t best = 0;
            double best_v = -INFINITY;
            for (int64_t j = 0; j < vocab; j++) {
                double acc = 0;
                for (int64_t i = 0; i < in; i++) acc += (double)xs[b * in + i] * W[i * vocab + j];
                if (acc > best_v) { best_v = acc; best = j; }
            }
            ys[b] = best;
            if (val < 0) d->position++;
        }
        return WEFT_OK;
    }
    case WEFT_DATA_ADVECTION: {
        if (x->dtype != WEFT_F32 || x->shape.ndim != 4 || y->dtype != WEFT_F32)
            return weft_err_set(err, WEFT_ERR_INVALID, "%s: advection data feeds (batch, vars, lat, lon) fields", d->source);
        int64_t B = x->shape.d[0], V = x->shape.d[1], H = x->shape.d[2], W = x->shape.d[3];
        float *xs = x->data, *ys = y->data; /* (B, V, H, W) */
        for (int64_t bv = 0; bv < B * V; bv++) {
            float kx[3], ky[3], ph[3], amp[3];
            for (int w = 0; w < 3; w++) {
                kx[w] = (float)(1 + weft_rng_u32(r) % 3);
                ky[w] = (float)(weft_rng_u32(r) % 3);
                ph[w] = 6.2831853f * weft_rng_uniform(r);
                amp[w] = 0.5f + 0.5f * weft_rng_uniform(r);
            }
            for (int64_t i = 0; i < H; i++)
                for (int64_t j = 0; j < W; j++) {
                    float f = 0;
                    for (int w = 0; w < 3; w++)
                        f += amp[w] * sinf(6.2831853f * (kx[w] * (float)j / (float)W + ky[w] * (float)i / (float)H) + ph[w]);
                    xs[(bv * H + i) * W + j] = f;
                }
            for (int64_t i = 0; i < H; i++)
                for (int64_t j = 0; j < W; j++) ys[(bv * H + i) * W + j] = xs[(bv * H + i) * W + (j + W - 1) % W];
        }
        if (val < 0) d->position += (uint64_t)B;
        return WEFT_OK;
    }
    case WEFT_DATA_ARRAYS: {
        weft_status s = sample_fits(d, x, &d->ax, "inputs", err);
        if (!s) s = sample_fits(d, y, &d->ay, "targets", err);
        if (s) return s;
        int64_t B = x->shape.d[0], n_val = d->n_samples - d->n_train_samples;
        for (int64_t b = 0; b < B; b++) {
            int64_t i;
            if (val >= 0) i = n_val ? d->n_train_samples + (val * B + b) % n_val : (val * B + b) % d->n_samples;
            else if (d->in_order) i = (int64_t)(d->position++ % (uint64_t)d->n_train_samples);
            else {
                uint64_t u = ((uint64_t)weft_rng_u32(r) << 32) | weft_rng_u32(r);
                i = (int64_t)(u % (uint64_t)d->n_train_samples);
                d->position++;
            }
            copy_sample(x, b, &d->ax, i);
            copy_sample(y, b, &d->ay, i);
        }
        /* class ids in range: a target beyond the logits would index past them */
        if (vocab > 0 && !weft_dtype_is_float(y->dtype))
            for (int64_t k = 0; k < weft_tensor_numel(y); k++) {
                int64_t c = weft_tensor_get_i(y, k);
                if ((c < 0 || c >= vocab) && c != -100)
                    return weft_err_set(err, WEFT_ERR_INVALID, "%s: target %lld is not a class of the model's %lld (0 to %lld, or -100: ignored)",
                                        d->source, (long long)c, (long long)vocab, (long long)vocab - 1);
            }
        return WEFT_OK;
    }
    case WEFT_DATA_WEATHER: {
        if (x->dtype != WEFT_F32 || x->shape.ndim != 4 || y->dtype != WEFT_F32 || x->shape.d[0] > 1 << 20)
            return weft_err_set(err, WEFT_ERR_INVALID, "%s: weather data feeds (batch, vars, lat, lon) fields", d->source);
        int64_t B = x->shape.d[0], V = x->shape.d[1], H = x->shape.d[2], W = x->shape.d[3];
        if (!d->weather && weft_weather_new((int)H, (int)W, (int)V, 1, &d->weather, err))
            return weft_err_prefix(err, "%s", d->source);
        weft_rng *wr = weft_weather_rng(d->weather);
        *wr = *r;
        weft_status s = weft_weather_batch(d->weather, (int)B, WEFT_WEATHER_LEAD, x->data, y->data, err);
        if (val < 0) {
            *r = *wr;
            d->position += (uint64_t)B;
        }
        return s;
    }
    }
    return weft_err_set(err, WEFT_ERR_INVALID, "unknown data kind");
}
