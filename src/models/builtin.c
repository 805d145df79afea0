/* models: the built-in models' table and the spec parser ("name[:key=value,...]"). */
#include "models/models.h"

#include "ir/ir.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

/* One key of a model: where it goes in the config struct, and the smallest value accepted. */
typedef struct {
    const char *key;
    size_t off; /* offsetof the int64_t field */
    int64_t min;
    const char *doc;
} key_def;

typedef enum { KIND_MLP, KIND_GPT, KIND_WEATHER } model_kind;

typedef struct {
    const char *name;
    model_kind kind;
    const key_def *keys;
    const char *about;
    union {
        weft_mlp_config mlp;
        weft_gpt_config gpt;
        weft_weather_config weather;
    } dflt;
} model_def;

#define KEY(T, f, min, doc) {#f, offsetof(T, f), min, doc}
#define MAX_VALUE ((int64_t)1 << 31) /* sizes above this overflow shapes long before they fit */

static const key_def mlp_keys[] = {
    KEY(weft_mlp_config, batch, 1, "rows per batch"),
    KEY(weft_mlp_config, in, 1, "input features"),
    KEY(weft_mlp_config, hidden, 1, "hidden width"),
    KEY(weft_mlp_config, out, 1, "output features"),
    KEY(weft_mlp_config, layers, 1, "Linear layers (ReLU between)"),
    KEY(weft_mlp_config, seed, 0, "initialization seed"),
    KEY(weft_mlp_config, shapes_only, 0, "1: parameters left zero (for timing only)"),
    {0},
};
static const key_def gpt_keys[] = {
    KEY(weft_gpt_config, batch, 1, "sequences per batch"),
    KEY(weft_gpt_config, seq, 1, "tokens per sequence"),
    KEY(weft_gpt_config, layers, 1, "transformer blocks"),
    KEY(weft_gpt_config, dim, 1, "model width"),
    KEY(weft_gpt_config, heads, 1, "attention heads (must divide dim)"),
    KEY(weft_gpt_config, vocab, 1, "vocabulary size"),
    KEY(weft_gpt_config, positions, 0, "position table size (0: seq)"),
    KEY(weft_gpt_config, seed, 0, "initialization seed"),
    KEY(weft_gpt_config, shapes_only, 0, "1: parameters left zero (for timing only)"),
    {0},
};
static const key_def weather_keys[] = {
    KEY(weft_weather_config, batch, 1, "states per batch"),
    KEY(weft_weather_config, lat, 1, "latitude rows"),
    KEY(weft_weather_config, lon, 1, "longitude columns (periodic)"),
    KEY(weft_weather_config, vars, 1, "atmospheric variables (channels)"),
    KEY(weft_weather_config, hidden, 1, "hidden channels"),
    KEY(weft_weather_config, blocks, 0, "residual processor blocks"),
    KEY(weft_weather_config, seed, 0, "initialization seed"),
    KEY(weft_weather_config, shapes_only, 0, "1: parameters left zero (for timing only)"),
    {0},
};

#define GPT2(L, C, H) {.gpt = {.batch = 1, .seq = 1024, .layers = L, .dim = C, .heads = H, .vocab = 50257, .positions = 1024, .seed = 1}}

static const model_def models[] = {
    {"mlp", KIND_MLP, mlp_keys, "multi-layer perceptron",
     {.mlp = {.batch = 4, .in = 784, .hidden = 256, .out = 10, .layers = 2, .seed = 1}}},
    {"gpt", KIND_GPT, gpt_keys, "small GPT-2-style model (byte-level vocabulary by default)",
     {.gpt = {.batch = 1, .seq = 64, .layers = 2, .dim = 128, .heads = 4, .vocab = 256, .positions = 0, .seed = 1}}},
    {"gpt2", KIND_GPT, gpt_keys, "GPT-2 124M: 12 layers, dim 768, 12 heads", GPT2(12, 768, 12)},
    {"gpt2-medium", KIND_GPT, gpt_keys, "GPT-2 355M: 24 layers, dim 1024, 16 heads", GPT2(24, 1024, 16)},
    {"gpt2-large", KIND_GPT, gpt_keys, "GPT-2 774M: 36 layers, dim 1280, 20 heads", GPT2(36, 1280, 20)},
    {"gpt2-xl", KIND_GPT, gpt_keys, "GPT-2 1.5B: 48 layers, dim 1600, 25 heads", GPT2(48, 1600, 25)},
    {"weather-cnn", KIND_WEATHER, weather_keys,
     "convolutional encoder-processor-decoder over a lat-lon grid, periodic in longitude",
     {.weather = {.batch = 1, .lat = 32, .lon = 64, .vars = 4, .hidden = 32, .blocks = 2, .seed = 1}}},
};
#define N_MODELS ((int)(sizeof models / sizeof models[0]))

static void key_list(char *buf, size_t n, const key_def *keys) {
    size_t used = 0;
    buf[0] = 0;
    for (const key_def *k = keys; k->key && used < n; k++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", k == keys ? "" : ", ", k->key);
}

/* Parses "key=value,key=value" into cfg. */
static weft_status parse_keys(const model_def *m, const char *list, void *cfg, weft_err *err) {
    char keys[256];
    key_list(keys, sizeof keys, m->keys);
    bool seen[32] = {0};
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[256];
        if (len == 0)
            return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: empty setting in '%s' (write key=value,key=value)", m->name, list);
        if (len >= sizeof item) return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: setting too long", m->name);
        memcpy(item, p, len);
        item[len] = 0;
        char *eq = strchr(item, '=');
        if (!eq)
            return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: '%s' is not key=value (keys: %s)", m->name, item, keys);
        *eq = 0;
        const char *val = eq + 1;
        int ki = 0;
        while (m->keys[ki].key && strcmp(m->keys[ki].key, item)) ki++;
        const key_def *k = &m->keys[ki];
        if (!k->key)
            return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: unknown key '%s' (keys: %s)", m->name, item, keys);
        if (seen[ki]) return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: key '%s' given twice", m->name, item);
        seen[ki] = true;
        char *stop;
        errno = 0;
        long long v = strtoll(val, &stop, 10);
        if (!*val || *stop || errno || val[0] == ' ' || val[0] == '+')
            return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: key '%s': '%s' is not an integer", m->name, item, val);
        if (v < k->min || v > MAX_VALUE)
            return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: key '%s' (%s): %lld is out of range [%lld, %lld]", m->name,
                                item, k->doc, v, (long long)k->min, (long long)MAX_VALUE);
        *(int64_t *)((char *)cfg + k->off) = v;
        p = end ? end + 1 : p + len;
        if (end && !*p) return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: trailing ',' in '%s'", m->name, list);
    }
    return WEFT_OK;
}

/* The size of a built-in from its keys, before building it (in double: the keys reach 2^31 each).
 * An estimate on the large side; weft_model_load measures the built graph exactly afterwards. */
static weft_model_size mlp_size(const weft_mlp_config *c) {
    weft_model_size m = {0};
    double w = (double)c->in, widths = w;
    for (int64_t l = 0; l < c->layers && l < 4 * 1048576; l++) {
        double next = l == c->layers - 1 ? (double)c->out : (double)c->hidden;
        m.param_bytes += 4 * (w * next + next);
        widths += 3 * next; /* MatMul, Add, Relu */
        w = next;
    }
    if (c->layers >= 4 * 1048576) m.param_bytes = INFINITY;
    m.act_bytes = 4 * (double)c->batch * widths;
    m.flops = 2 * (double)c->batch * m.param_bytes / 4;
    m.nodes = 3 * (double)c->layers;
    return m;
}

static weft_model_size gpt_size(const weft_gpt_config *c) {
    double B = (double)c->batch, T = (double)c->seq, L = (double)c->layers, C = (double)c->dim, H = (double)c->heads,
           V = (double)c->vocab, P = (double)(c->positions ? c->positions : c->seq);
    weft_model_size m;
    double params = V * C + P * C + L * (12 * C * C + 13 * C) + 2 * C;
    m.param_bytes = 4 * params;
    m.act_bytes = 4 * (L * B * (4 * H * T * T + 24 * T * C) + B * T * (V + 4 * C));
    m.flops = 2 * B * T * params + L * B * 4 * T * T * C;
    m.nodes = 48 * L + 16;
    return m;
}

static weft_model_size weather_size(const weft_weather_config *c) {
    double B = (double)c->batch, S = (double)c->lat * (double)c->lon, Vr = (double)c->vars, Hd = (double)c->hidden,
           K = (double)c->blocks;
    weft_model_size m;
    double params = 9 * (Vr * Hd + 2 * K * Hd * Hd + Hd * Vr) + 2 * Hd * (1 + K) + Vr;
    m.param_bytes = 4 * params;
    m.act_bytes = 4 * B * S * (Hd * (4 + 10 * K) + 4 * Vr) * 1.2; /* the wrap-around padding */
    m.flops = 2 * B * S * (params - 2 * Hd * (1 + K) - Vr);
    m.nodes = 12 * K + 16;
    return m;
}

/* A shapes-only model (for timing) allocates its parameters (left untouched) but never an
 * activation and never runs a reference pass: those two limits do not apply to it. */
static weft_model_size shapes_only_size(weft_model_size m, int64_t shapes_only) {
    if (shapes_only) m.act_bytes = m.flops = 0;
    return m;
}

weft_status weft_model_builtin(const char *spec, weft_graph **out, weft_err *err) {
    *out = NULL;
    const char *colon = strchr(spec, ':');
    size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);
    const model_def *m = NULL;
    for (int i = 0; i < N_MODELS && !m; i++)
        if (strlen(models[i].name) == nlen && !strncmp(models[i].name, spec, nlen)) m = &models[i];
    if (!m) {
        char names[512];
        size_t used = 0;
        names[0] = 0;
        for (int i = 0; i < N_MODELS; i++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", models[i].name);
        return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%.*s: unknown built-in model (built-ins: %s)", (int)nlen, spec, names);
    }
    char what[300];
    snprintf(what, sizeof what, "builtin:%s", spec);
    switch (m->kind) {
    case KIND_MLP: {
        weft_mlp_config c = m->dflt.mlp;
        if (colon && parse_keys(m, colon + 1, &c, err)) return err->status;
        weft_model_size size = shapes_only_size(mlp_size(&c), c.shapes_only);
        if (weft_model_check_size(&size, what, err)) return err->status;
        return weft_model_mlp(m->name, &c, out, err);
    }
    case KIND_GPT: {
        weft_gpt_config c = m->dflt.gpt;
        if (colon && parse_keys(m, colon + 1, &c, err)) return err->status;
        if (c.dim % c.heads)
            return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: dim %lld is not divisible by heads %lld", m->name,
                                (long long)c.dim, (long long)c.heads);
        if (c.positions && c.seq > c.positions)
            return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: seq %lld exceeds the model's %lld positions", m->name,
                                (long long)c.seq, (long long)c.positions);
        if (!c.positions) c.positions = c.seq;
        weft_model_size size = shapes_only_size(gpt_size(&c), c.shapes_only);
        if (weft_model_check_size(&size, what, err)) return err->status;
        return weft_model_gpt(m->name, &c, out, err);
    }
    case KIND_WEATHER: {
        weft_weather_config c = m->dflt.weather;
        if (colon && parse_keys(m, colon + 1, &c, err)) return err->status;
        weft_model_size size = shapes_only_size(weather_size(&c), c.shapes_only);
        if (weft_model_check_size(&size, what, err)) return err->status;
        return weft_model_weather(m->name, &c, out, err);
    }
    }
    return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: no builder", m->name);
}

void weft_model_list(FILE *f) {
    fprintf(f, "built-in models (MODEL = builtin:NAME[:key=value,...]):\n");
    for (int i = 0; i < N_MODELS; i++) {
        const model_def *m = &models[i];
        fprintf(f, "  %-12s %s\n", m->name, m->about);
        fprintf(f, "  %-12s keys:", "");
        for (const key_def *k = m->keys; k->key; k++) {
            const int64_t *v = (const int64_t *)((const char *)&m->dflt + k->off);
            fprintf(f, " %s=%lld", k->key, (long long)*v);
        }
        fprintf(f, "\n");
    }
}
