/* models: the MODEL argument: "builtin:..." or an ONNX file. */
#include "models/models.h"
#include "ir/ir.h"

#include <stdio.h>
#include <string.h>

/* An ONNX file re-batched: "PATH#batch=N". */
static weft_status load_onnx_spec(const char *spec, weft_graph **out, weft_err *err) {
    const char *hash = strrchr(spec, '#');
    long long b = 0;
    char end = 0;
    if (!hash || strncmp(hash, "#batch=", 7)) return weft_onnx_load(spec, NULL, 0, out, err);
    if (sscanf(hash + 7, "%lld%c", &b, &end) != 1) return weft_err_set(err, WEFT_ERR_INVALID, "%s: '#batch=' needs an integer", spec);
    char path[1024];
    if ((size_t)(hash - spec) >= sizeof path) return weft_err_set(err, WEFT_ERR_INVALID, "%s: path too long", spec);
    snprintf(path, sizeof path, "%.*s", (int)(hash - spec), spec);
    return weft_onnx_load_batch(path, b, out, err);
}

weft_status weft_model_load(const char *spec, weft_graph **out, weft_err *err) {
    weft_status s = !strncmp(spec, "builtin:", 8) ? weft_model_builtin(spec + 8, out, err) : load_onnx_spec(spec, out, err);
    if (s) return s;
    /* the whole model within weft's limits before anything runs it; a shapes-only built-in
     * allocates no activation and runs no reference pass, so only its parameters and nodes count
     * (as the built-in's own check, models/builtin.c) */
    weft_model_size m = weft_graph_size(*out);
    if (!strncmp(spec, "builtin:", 8) && strstr(spec, "shapes_only=1")) m.act_bytes = m.flops = 0, m.param_bytes /= 16;  /* as builtin.c's */
    s = weft_model_check_size(&m, spec, err);
    if (s) {
        weft_graph_free(*out);
        *out = NULL;
    }
    return s;
}

weft_status weft_model_load_shapes(const char *spec, weft_graph **out, weft_err *err) {
    if (strncmp(spec, "builtin:", 8)) return weft_model_load(spec, out, err);
    char buf[1024];
    bool keys = strchr(spec + 8, ':') != NULL;
    if (strstr(spec, "shapes_only=")) return weft_model_load(spec, out, err);
    if (snprintf(buf, sizeof buf, "%s%sshapes_only=1", spec + 8, keys ? "," : ":") >= (int)sizeof buf)
        return weft_err_set(err, WEFT_ERR_INVALID, "%s: model spec too long", spec);
    return weft_model_builtin(buf, out, err);
}

weft_status weft_model_spec_set(const char *spec, const char *key, long long value, char *out, size_t n, weft_err *err) {
    if (strncmp(spec, "builtin:", 8)) {  /* an ONNX file: only its batch, as PATH#batch=N */
        if (strcmp(key, "batch")) return weft_err_set(err, WEFT_ERR_INVALID, "%s: an ONNX file's %s is in the file", spec, key);
        const char *hash = strrchr(spec, '#');
        int len = hash && !strncmp(hash, "#batch=", 7) ? (int)(hash - spec) : (int)strlen(spec);
        int w = snprintf(out, n, "%.*s#batch=%lld", len, spec, value);
        if (w < 0 || (size_t)w >= n) return weft_err_set(err, WEFT_ERR_INVALID, "%s: model spec too long", spec);
        return WEFT_OK;
    }
    char kv[96];
    snprintf(kv, sizeof kv, "%s=", key);
    size_t kl = strlen(kv);
    const char *at = NULL;  /* key= at the start of a key (after ':' or ',') */
    for (const char *q = strstr(spec + 8, kv); q && !at; q = strstr(q + 1, kv))
        if (q[-1] == ':' || q[-1] == ',') at = q;
    int w;
    if (at) {
        const char *end = at + kl + strcspn(at + kl, ",");
        w = snprintf(out, n, "%.*s%s%lld%s", (int)(at - spec), spec, kv, value, end);
    } else w = snprintf(out, n, "%s%s%s%lld", spec, strchr(spec + 8, ':') ? "," : ":", kv, value);
    if (w < 0 || (size_t)w >= n) return weft_err_set(err, WEFT_ERR_INVALID, "%s: model spec too long", spec);
    return WEFT_OK;
}
