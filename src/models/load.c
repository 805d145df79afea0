/* models: the MODEL argument: "builtin:..." or an ONNX file. */
#include "models/models.h"
#include "ir/ir.h"
#include "onnx/onnx_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "8x32" -> (8, 32); false unless every dimension is a positive integer. */
static bool parse_dims(const char *v, weft_shape *sh) {
    sh->ndim = 0;
    for (const char *p = v;;) {
        char *end;
        long long d = strtoll(p, &end, 10);
        if (end == p || d < 1 || d > ((long long)1 << 40) || sh->ndim == WEFT_MAX_DIMS) return false;
        sh->d[sh->ndim++] = d;
        if (!*end) return true;
        if (*end != 'x') return false;
        p = end + 1;
    }
}

/* An ONNX file with its inputs' shapes given: "PATH#batch=N,x=8x32,seq=128" (weft_onnx_bind). */
static weft_status load_onnx_spec(const char *spec, weft_graph **out, weft_err *err) {
    const char *hash = strrchr(spec, '#');
    if (!hash || !strchr(hash, '=')) return weft_onnx_load(spec, NULL, 0, out, err);
    char path[4096];
    if ((size_t)(hash - spec) >= sizeof path) return weft_err_set(err, WEFT_ERR_INVALID, "%s: path too long", spec);
    snprintf(path, sizeof path, "%.*s", (int)(hash - spec), spec);
    weft_onnx_bind b = {0};
    for (const char *q = hash + 1; *q;) {
        size_t l = strcspn(q, ","), eq = strcspn(q, "=");
        char key[128], val[128];
        if (eq >= l || eq == 0 || eq >= sizeof key || l - eq - 1 >= sizeof val)
            return weft_err_set(err, WEFT_ERR_INVALID, "%s: '%.*s' is not NAME=SHAPE (x=8x32, batch=8)", spec, (int)l, q);
        snprintf(key, sizeof key, "%.*s", (int)eq, q);
        snprintf(val, sizeof val, "%.*s", (int)(l - eq - 1), q + eq + 1);
        weft_shape sh;
        if (!parse_dims(val, &sh))
            return weft_err_set(err, WEFT_ERR_INVALID, "%s: %s=%s: a shape is positive integers joined by 'x' (8x32)", spec, key, val);
        if (!strcmp(key, "batch") && sh.ndim == 1) b.batch = sh.d[0];
        else {
            for (int i = 0; i < b.n; i++)
                if (!strcmp(b.name[i], key)) return weft_err_set(err, WEFT_ERR_INVALID, "%s: '%s' is given twice", spec, key);
            if (b.n == WEFT_ONNX_BIND_MAX)
                return weft_err_set(err, WEFT_ERR_INVALID, "%s: more than %d shapes given", spec, WEFT_ONNX_BIND_MAX);
            snprintf(b.name[b.n], sizeof b.name[b.n], "%s", key);
            b.shape[b.n++] = sh;
        }
        q += l + (q[l] == ',');
    }
    return weft_onnx_load_bind(path, &b, out, err);
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
    if (strncmp(spec, "builtin:", 8)) {  /* an ONNX file: only its batch, as PATH#batch=N (other shapes kept) */
        if (strcmp(key, "batch")) return weft_err_set(err, WEFT_ERR_INVALID, "%s: an ONNX file's %s is in the file", spec, key);
        const char *hash = strrchr(spec, '#');
        if (hash && !strchr(hash, '=')) hash = NULL;
        int len = hash ? (int)(hash - spec) : (int)strlen(spec);
        int w = snprintf(out, n, "%.*s#batch=%lld", len, spec, value);
        for (const char *q = hash ? hash + 1 : ""; *q && w > 0 && (size_t)w < n;) {  /* the other keys as they were */
            size_t l = strcspn(q, ",");
            if (strncmp(q, "batch=", 6)) w += snprintf(out + w, n - (size_t)w, ",%.*s", (int)l, q);
            q += l + (q[l] == ',');
        }
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
