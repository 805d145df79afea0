/* models: the built-in models' table and the spec parser ("name[:key=value,...]"). */
#include "models/models.h"

#include "ir/ir.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

/* One key of a model: where it goes in the config struct, and the smallest value accepted. The
 * key `size` (off SIZE_KEY) names one of the model's published sizes instead of a number. */
typedef struct {
    const char *key;
    size_t off; /* offsetof the int64_t field */
    int64_t min;
    const char *doc;
} key_def;

#define SIZE_KEY ((size_t)-1)

/* A published size: the keys it sets, applied before the spec's own. */
typedef struct {
    const char *name;
    const char *keys;
} size_def;

typedef enum { KIND_MLP, KIND_GPT, KIND_WEATHER, KIND_BERT, KIND_LLAMA, KIND_GPTJ, KIND_RESNET, KIND_UNET } model_kind;

typedef struct {
    const char *name;
    model_kind kind;
    const key_def *keys;
    const char *about;
    union {
        weft_mlp_config mlp;
        weft_gpt_config gpt;
        weft_weather_config weather;
        weft_bert_config bert;
        weft_llama_config llama;
        weft_gptj_config gptj;
        weft_resnet_config resnet;
        weft_unet_config unet;
    } dflt;
    const size_def *sizes; /* {0}-terminated; NULL: no size key */
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
    {"size", SIZE_KEY, 0, "a published size"},
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
static const key_def bert_keys[] = {
    {"size", SIZE_KEY, 0, "a published size"},
    KEY(weft_bert_config, batch, 1, "sequences per batch"),
    KEY(weft_bert_config, seq, 1, "tokens per sequence"),
    KEY(weft_bert_config, layers, 1, "encoder layers"),
    KEY(weft_bert_config, dim, 1, "model width"),
    KEY(weft_bert_config, heads, 1, "attention heads (must divide dim)"),
    KEY(weft_bert_config, ff, 1, "feed-forward width"),
    KEY(weft_bert_config, vocab, 1, "vocabulary size"),
    KEY(weft_bert_config, positions, 1, "position table size"),
    KEY(weft_bert_config, nsp, 0, "1: the pooler and NSP head, a second output (batch, 2) (training takes one output)"),
    KEY(weft_bert_config, seed, 0, "initialization seed"),
    KEY(weft_bert_config, shapes_only, 0, "1: parameters left zero (for timing only)"),
    {0},
};
static const key_def llama_keys[] = {
    {"size", SIZE_KEY, 0, "a published size"},
    KEY(weft_llama_config, batch, 1, "sequences per batch"),
    KEY(weft_llama_config, seq, 1, "tokens per sequence"),
    KEY(weft_llama_config, layers, 1, "decoder layers"),
    KEY(weft_llama_config, dim, 1, "model width"),
    KEY(weft_llama_config, heads, 1, "query heads (must divide dim into an even head size)"),
    KEY(weft_llama_config, kv_heads, 1, "key/value heads (must divide heads; fewer: grouped-query attention)"),
    KEY(weft_llama_config, ff, 1, "SwiGLU hidden width"),
    KEY(weft_llama_config, vocab, 1, "vocabulary size"),
    KEY(weft_llama_config, theta, 1, "rotary base"),
    KEY(weft_llama_config, seed, 0, "initialization seed"),
    KEY(weft_llama_config, shapes_only, 0, "1: parameters left zero (for timing only)"),
    {0},
};
static const key_def gptj_keys[] = {
    KEY(weft_gptj_config, batch, 1, "sequences per batch"),
    KEY(weft_gptj_config, seq, 1, "tokens per sequence"),
    KEY(weft_gptj_config, layers, 1, "blocks"),
    KEY(weft_gptj_config, dim, 1, "model width"),
    KEY(weft_gptj_config, heads, 1, "attention heads (must divide dim)"),
    KEY(weft_gptj_config, rotary, 0, "rotary dims of each head (even, at most dim / heads)"),
    KEY(weft_gptj_config, ff, 1, "MLP width"),
    KEY(weft_gptj_config, vocab, 1, "vocabulary size"),
    KEY(weft_gptj_config, seed, 0, "initialization seed"),
    KEY(weft_gptj_config, shapes_only, 0, "1: parameters left zero (for timing only)"),
    {0},
};
static const key_def resnet_keys[] = {
    KEY(weft_resnet_config, batch, 1, "images per batch"),
    KEY(weft_resnet_config, image, 32, "image height and width"),
    KEY(weft_resnet_config, classes, 1, "classes"),
    KEY(weft_resnet_config, width, 1, "stem channels (64; the stages have 1, 2, 4, 8 times as many planes)"),
    KEY(weft_resnet_config, blocks, 0, "bottleneck blocks per stage (0: ResNet-50's 3, 4, 6, 3)"),
    KEY(weft_resnet_config, seed, 0, "initialization seed"),
    KEY(weft_resnet_config, shapes_only, 0, "1: parameters left zero (for timing only)"),
    {0},
};
static const key_def unet_keys[] = {
    KEY(weft_unet_config, batch, 1, "images per batch"),
    KEY(weft_unet_config, image, 16, "image height and width (a multiple of 16)"),
    KEY(weft_unet_config, in, 1, "input channels"),
    KEY(weft_unet_config, out, 1, "output channels (mask probabilities)"),
    KEY(weft_unet_config, features, 1, "channels of the first level (doubling at each of the four below)"),
    KEY(weft_unet_config, seed, 0, "initialization seed"),
    KEY(weft_unet_config, shapes_only, 0, "1: parameters left zero (for timing only)"),
    {0},
};

static const size_def weather_sizes[] = {
    {"large", "hidden=2048,blocks=13"}, /* ~0.98 B parameters: a foundation-model-sized case */
    {0},
};
static const size_def bert_sizes[] = {
    {"base", "layers=12,dim=768,heads=12,ff=3072"},  /* 110 M (BertForPreTraining with nsp) */
    {"large", "layers=24,dim=1024,heads=16,ff=4096"}, /* 336 M */
    {0},
};
static const size_def llama_sizes[] = {
    {"llama2-7b", "layers=32,dim=4096,heads=32,kv_heads=32,ff=11008,vocab=32000,theta=10000,seq=4096"},   /* 6.74 B */
    {"llama3-8b", "layers=32,dim=4096,heads=32,kv_heads=8,ff=14336,vocab=128256,theta=500000,seq=8192"}, /* 8.03 B */
    {0},
};

#define GPT2(L, C, H) {.gpt = {.batch = 1, .seq = 1024, .layers = L, .dim = C, .heads = H, .vocab = 50257, .positions = 1024, .seed = 1}}, NULL

static const model_def models[] = {
    {"mlp", KIND_MLP, mlp_keys, "multi-layer perceptron",
     {.mlp = {.batch = 4, .in = 784, .hidden = 256, .out = 10, .layers = 2, .seed = 1}}, NULL},
    {"gpt", KIND_GPT, gpt_keys, "small GPT-2-style model (byte-level vocabulary by default)",
     {.gpt = {.batch = 1, .seq = 64, .layers = 2, .dim = 128, .heads = 4, .vocab = 256, .positions = 0, .seed = 1}}, NULL},
    {"gpt2", KIND_GPT, gpt_keys, "GPT-2 124M: 12 layers, dim 768, 12 heads", GPT2(12, 768, 12)},
    {"gpt2-medium", KIND_GPT, gpt_keys, "GPT-2 355M: 24 layers, dim 1024, 16 heads", GPT2(24, 1024, 16)},
    {"gpt2-large", KIND_GPT, gpt_keys, "GPT-2 774M: 36 layers, dim 1280, 20 heads", GPT2(36, 1280, 20)},
    {"gpt2-xl", KIND_GPT, gpt_keys, "GPT-2 1.5B: 48 layers, dim 1600, 25 heads", GPT2(48, 1600, 25)},
    {"weather-cnn", KIND_WEATHER, weather_keys,
     "convolutional encoder-processor-decoder over a lat-lon grid, periodic in longitude",
     {.weather = {.batch = 1, .lat = 32, .lon = 64, .vars = 4, .hidden = 32, .blocks = 2, .seed = 1}}, weather_sizes},
    {"bert", KIND_BERT, bert_keys, "BERT for pre-training (MLM head tied to the word embeddings; NSP head with nsp=1); base: 110M",
     {.bert = {.batch = 1, .seq = 128, .layers = 12, .dim = 768, .heads = 12, .ff = 3072, .vocab = 30522, .positions = 512, .seed = 1}},
     bert_sizes},
    {"llama", KIND_LLAMA, llama_keys, "LLaMA: RMSNorm, SwiGLU, rotary, grouped-query attention; default LLaMA 2 7B",
     {.llama = {.batch = 1, .seq = 4096, .layers = 32, .dim = 4096, .heads = 32, .kv_heads = 32, .ff = 11008, .vocab = 32000,
                .theta = 10000, .seed = 1}},
     llama_sizes},
    {"gptj", KIND_GPTJ, gptj_keys, "GPT-J 6B: parallel attention and MLP, rotary on 64 dims of each head",
     {.gptj = {.batch = 1, .seq = 2048, .layers = 28, .dim = 4096, .heads = 16, .rotary = 64, .ff = 16384, .vocab = 50400, .seed = 1}}, NULL},
    {"resnet", KIND_RESNET, resnet_keys, "ResNet-50 (bottleneck blocks 3, 4, 6, 3; inference-form BatchNormalization): 25.6M",
     {.resnet = {.batch = 1, .image = 224, .classes = 1000, .width = 64, .blocks = 0, .seed = 1}}, NULL},
    {"unet", KIND_UNET, unet_keys, "2-D UNet for segmentation (4 levels, ConvTranspose up): 7.8M at features=32",
     {.unet = {.batch = 1, .image = 256, .in = 3, .out = 1, .features = 32, .seed = 1}}, NULL},
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
        if (k->off == SIZE_KEY) { /* applied first, by apply_size */
            if (!*val) return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: key 'size' names no size", m->name);
            p = end ? end + 1 : p + len;
            if (end && !*p) return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: trailing ',' in '%s'", m->name, list);
            continue;
        }
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

/* The keys of the size named by "size=NAME" in list (if any) into cfg, before the list's own. */
static weft_status apply_size(const model_def *m, const char *list, void *cfg, weft_err *err) {
    if (!m->sizes) return WEFT_OK;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len > 5 && !strncmp(p, "size=", 5)) {
            const char *name = p + 5;
            size_t nlen = len - 5;
            for (const size_def *z = m->sizes; z->name; z++)
                if (strlen(z->name) == nlen && !strncmp(z->name, name, nlen)) return parse_keys(m, z->keys, cfg, err);
            char names[256];
            size_t used = 0;
            names[0] = 0;
            for (const size_def *z = m->sizes; z->name && used < sizeof names; z++)
                used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", z == m->sizes ? "" : ", ", z->name);
            return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: key 'size': unknown size '%.*s' (sizes: %s)", m->name, (int)nlen,
                                name, names);
        }
        p += len + (p[len] == ',');
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

/* A transformer of L layers of width C, H heads, MLP width FF, vocabulary V over B x T tokens, with
 * `params` parameters: activations as a post- or pre-LN block keeps them, attention included. */
static weft_model_size transformer_size(double B, double T, double L, double C, double H, double FF, double V, double params) {
    weft_model_size m;
    m.param_bytes = 4 * params + T * T + 8 * T * C; /* the causal mask, rotary tables */
    m.act_bytes = 4 * (L * B * (4 * H * T * T + 24 * T * C + 6 * T * FF) + B * T * (2 * V + 4 * C));
    m.flops = 2 * B * T * params + L * B * 4 * T * T * C;
    m.nodes = 80 * L + 40;
    return m;
}

static weft_model_size bert_size(const weft_bert_config *c) {
    double C = (double)c->dim, FF = (double)c->ff, V = (double)c->vocab, L = (double)c->layers;
    double params = (V + (double)c->positions + 2) * C + L * (4 * C * C + 2 * C * FF + 10 * C + FF) + 2 * C * C + 8 * C + V;
    return transformer_size((double)c->batch, (double)c->seq, L, C, (double)c->heads, FF, V, params);
}

static weft_model_size llama_size(const weft_llama_config *c) {
    double C = (double)c->dim, FF = (double)c->ff, V = (double)c->vocab, L = (double)c->layers;
    double kv = C * (double)c->kv_heads / (double)c->heads;
    double params = 2 * V * C + L * (2 * C * C + 2 * C * kv + 3 * C * FF + 2 * C) + C;
    return transformer_size((double)c->batch, (double)c->seq, L, C, (double)c->heads, 3 * FF, V, params);
}

static weft_model_size gptj_size(const weft_gptj_config *c) {
    double C = (double)c->dim, FF = (double)c->ff, V = (double)c->vocab, L = (double)c->layers;
    double params = 2 * V * C + V + L * (4 * C * C + 2 * C * FF + FF + 3 * C) + 2 * C;
    return transformer_size((double)c->batch, (double)c->seq, L, C, (double)c->heads, FF, V, params);
}

static weft_model_size resnet_size(const weft_resnet_config *c) {
    double W = (double)c->width, S = (double)c->image, B = (double)c->batch, blocks = 0, params = 3 * W * 49 + 2 * W;
    for (int s = 0; s < 4; s++) {
        double n = c->blocks ? (double)c->blocks : (double[]){3, 4, 6, 3}[s], p = W * (double)(1 << s);
        params += n * (17 * p * p + 12 * p) + 4 * p * p; /* blocks of input 4p; the downsample */
        blocks += n;
    }
    params += 32 * W * (double)c->classes + (double)c->classes;
    weft_model_size m;
    m.param_bytes = 4 * params;
    m.act_bytes = 4 * B * S * S * W * 4 * blocks;
    m.flops = 8 * B * (S / 32) * (S / 32) * params;
    m.nodes = 12 * blocks + 20;
    return m;
}

static weft_model_size unet_size(const weft_unet_config *c) {
    double F = (double)c->features, S = (double)c->image, B = (double)c->batch;
    weft_model_size m;
    m.param_bytes = 4 * (7600 * F * F + 9 * F * ((double)c->in + (double)c->out + 600));
    m.act_bytes = 4 * B * S * S * (F * 40 + (double)c->in + (double)c->out);
    m.flops = 2 * B * S * S * (120 * F * F + 9 * F * (double)c->in + F * (double)c->out);
    m.nodes = 120;
    return m;
}

/* A shapes-only model (for timing) allocates its parameters (left untouched) but never an
 * activation and never runs a reference pass: those two limits do not apply to it, and its
 * parameters, zero pages never written, count a sixteenth against theirs (address space: 256 GiB
 * by default, a 70 B model in fp32). */
static weft_model_size shapes_only_size(weft_model_size m, int64_t shapes_only) {
    if (shapes_only) m.act_bytes = m.flops = 0, m.param_bytes /= 16;
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
        if (colon && (apply_size(m, colon + 1, &c, err) || parse_keys(m, colon + 1, &c, err))) return err->status;
        weft_model_size size = shapes_only_size(weather_size(&c), c.shapes_only);
        if (weft_model_check_size(&size, what, err)) return err->status;
        return weft_model_weather(m->name, &c, out, err);
    }
    case KIND_BERT: {
        weft_bert_config c = m->dflt.bert;
        if (colon && (apply_size(m, colon + 1, &c, err) || parse_keys(m, colon + 1, &c, err))) return err->status;
        if (c.dim % c.heads)
            return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: dim %lld is not divisible by heads %lld", m->name,
                                (long long)c.dim, (long long)c.heads);
        if (c.seq > c.positions)
            return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: seq %lld exceeds the model's %lld positions", m->name,
                                (long long)c.seq, (long long)c.positions);
        weft_model_size size = shapes_only_size(bert_size(&c), c.shapes_only);
        if (weft_model_check_size(&size, what, err)) return err->status;
        return weft_model_bert(m->name, &c, out, err);
    }
    case KIND_LLAMA: {
        weft_llama_config c = m->dflt.llama;
        if (colon && (apply_size(m, colon + 1, &c, err) || parse_keys(m, colon + 1, &c, err))) return err->status;
        if (c.dim % c.heads || (c.dim / c.heads) % 2 || c.heads % c.kv_heads)
            return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: dim %lld, heads %lld, kv_heads %lld do not fit (heads must divide "
                                "dim into an even head size, kv_heads must divide heads)", m->name, (long long)c.dim,
                                (long long)c.heads, (long long)c.kv_heads);
        weft_model_size size = shapes_only_size(llama_size(&c), c.shapes_only);
        if (weft_model_check_size(&size, what, err)) return err->status;
        return weft_model_llama(m->name, &c, out, err);
    }
    case KIND_GPTJ: {
        weft_gptj_config c = m->dflt.gptj;
        if (colon && parse_keys(m, colon + 1, &c, err)) return err->status;
        if (c.dim % c.heads || c.rotary % 2 || c.rotary > c.dim / c.heads)
            return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: dim %lld, heads %lld, rotary %lld do not fit (heads must divide "
                                "dim; rotary must be even and at most dim / heads)", m->name, (long long)c.dim, (long long)c.heads,
                                (long long)c.rotary);
        weft_model_size size = shapes_only_size(gptj_size(&c), c.shapes_only);
        if (weft_model_check_size(&size, what, err)) return err->status;
        return weft_model_gptj(m->name, &c, out, err);
    }
    case KIND_RESNET: {
        weft_resnet_config c = m->dflt.resnet;
        if (colon && parse_keys(m, colon + 1, &c, err)) return err->status;
        weft_model_size size = shapes_only_size(resnet_size(&c), c.shapes_only);
        if (weft_model_check_size(&size, what, err)) return err->status;
        return weft_model_resnet(m->name, &c, out, err);
    }
    case KIND_UNET: {
        weft_unet_config c = m->dflt.unet;
        if (colon && parse_keys(m, colon + 1, &c, err)) return err->status;
        if (c.image % 16)
            return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: image %lld is not a multiple of 16 (four 2x2 poolings)", m->name,
                                (long long)c.image);
        weft_model_size size = shapes_only_size(unet_size(&c), c.shapes_only);
        if (weft_model_check_size(&size, what, err)) return err->status;
        return weft_model_unet(m->name, &c, out, err);
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
            if (k->off == SIZE_KEY) {
                fprintf(f, " size=");
                for (const size_def *z = m->sizes; z->name; z++) fprintf(f, "%s%s", z == m->sizes ? "" : "|", z->name);
                continue;
            }
            const int64_t *v = (const int64_t *)((const char *)&m->dflt + k->off);
            fprintf(f, " %s=%lld", k->key, (long long)*v);
        }
        fprintf(f, "\n");
    }
}
