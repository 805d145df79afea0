/* models: the MODEL argument: "builtin:..." or an ONNX file. */
#include "models/models.h"
#include "ir/ir.h"

#include <string.h>

weft_status weft_model_load(const char *spec, weft_graph **out, weft_err *err) {
    weft_status s = !strncmp(spec, "builtin:", 8) ? weft_model_builtin(spec + 8, out, err) : weft_onnx_load(spec, NULL, 0, out, err);
    if (s) return s;
    /* the whole model within weft's limits before anything runs it; a shapes-only built-in
     * allocates no activation and runs no reference pass, so only its parameters and nodes count
     * (as the built-in's own check, models/builtin.c) */
    weft_model_size m = weft_graph_size(*out);
    if (!strncmp(spec, "builtin:", 8) && strstr(spec, "shapes_only=1")) m.act_bytes = m.flops = 0;
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
    if (strncmp(spec, "builtin:", 8))
        return weft_err_set(err, WEFT_ERR_INVALID, "%s: only a built-in model's %s can be changed (an ONNX file's is in the file)", spec, key);
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
