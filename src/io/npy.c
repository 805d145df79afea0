/* io: NumPy's .npy files (format versions 1, 2 and 3), little-endian, C order: what
 * numpy.save writes and numpy.load reads. bfloat16 has no NumPy type: it is written as fp32. */
#include "io/io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NPY_MAX_HEADER (1 << 16)

static const struct { const char *descr; weft_dtype dt; } npy_types[] = {
    {"<f4", WEFT_F32}, {"<f2", WEFT_F16}, {"<f8", WEFT_F64}, {"<i8", WEFT_I64}, {"<i4", WEFT_I32}, {"|i1", WEFT_I8},
    {"|u1", WEFT_U8},  {"|b1", WEFT_BOOL}, {"<u2", WEFT_U16}, {"<i2", WEFT_I16}, {"<u4", WEFT_U32}, {"<u8", WEFT_U64},
};

/* The value of 'key' in the header dict: the text after "'key':", spaces skipped. */
static const char *field(const char *h, const char *key) {
    char k[32];
    snprintf(k, sizeof k, "'%s'", key);
    const char *p = strstr(h, k);
    if (!p) return NULL;
    p += strlen(k);
    while (*p == ' ') p++;
    if (*p++ != ':') return NULL;
    while (*p == ' ') p++;
    return p;
}

weft_status weft_npy_read(const char *path, weft_tensor *out, weft_err *err) {
    memset(out, 0, sizeof *out);
    int64_t fsize;
    FILE *f = weft_open_regular(path, NULL, &fsize, err);
    if (!f) return err->status;
    uint8_t pre[12];
    weft_status s = WEFT_OK;
    char *h = NULL;
    size_t hl = 0, pre_len = 10;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6))
        s = weft_err_set(err, WEFT_ERR_INVALID, "%s: not a .npy file (no \\x93NUMPY magic)", path);
    else if (pre[6] == 1) hl = pre[8] | (size_t)pre[9] << 8;
    else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) s = weft_err_set(err, WEFT_ERR_INVALID, "%s: truncated header", path);
        hl = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        pre_len = 12;
    } else s = weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: .npy format version %d", path, pre[6]);
    if (!s && (hl == 0 || hl > NPY_MAX_HEADER)) s = weft_err_set(err, WEFT_ERR_INVALID, "%s: header of %zu bytes", path, hl);
    if (!s) {
        h = weft_xcalloc(hl + 1, 1);
        if (fread(h, 1, hl, f) != hl) s = weft_err_set(err, WEFT_ERR_INVALID, "%s: truncated header", path);
    }
    weft_dtype dt = WEFT_F32;
    weft_shape sh = {0};
    if (!s) {
        const char *d = field(h, "descr"), *fo = field(h, "fortran_order"), *shp = field(h, "shape");
        int found = -1;
        for (size_t i = 0; d && i < sizeof npy_types / sizeof *npy_types; i++) {
            size_t l = strlen(npy_types[i].descr);
            if (d[0] == '\'' && !strncmp(d + 1, npy_types[i].descr, l) && d[1 + l] == '\'') found = (int)i;
            /* one-byte types may be written with '|' or '<' */
            else if (d[0] == '\'' && npy_types[i].descr[0] == '|' && d[1] == '<' && !strncmp(d + 2, npy_types[i].descr + 1, l - 1) &&
                     d[1 + l] == '\'') found = (int)i;
        }
        if (h[0] != '{' || !strchr(h, '}')) s = weft_err_set(err, WEFT_ERR_INVALID, "%s: the header is not a dict: %.100s", path, h);
        else if (!d || !fo || !shp) s = weft_err_set(err, WEFT_ERR_INVALID, "%s: header without descr, fortran_order and shape: %.200s", path, h);
        else if (found < 0) s = weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: dtype %.12s (weft reads <f4 <f2 <f8 <i8 <i4 i1 u1 b1 <u2 <i2 <u4 <u8)", path, d);
        else if (strncmp(fo, "False", 5) || (fo[5] != ',' && fo[5] != ' ' && fo[5] != '}')) s = weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: Fortran order (save a C-order array: np.ascontiguousarray)", path);
        else if (*shp != '(') s = weft_err_set(err, WEFT_ERR_INVALID, "%s: shape is not a tuple", path);
        else {
            dt = npy_types[found].dt;
            const char *p = shp + 1;
            for (;;) {
                while (*p == ' ' || *p == ',') p++;
                if (*p == ')') break;
                char *end;
                errno = 0;
                long long v = strtoll(p, &end, 10);
                if (end == p || errno || v < 0 || sh.ndim == WEFT_MAX_DIMS) {
                    s = weft_err_set(err, WEFT_ERR_INVALID, "%s: shape %.60s: not a tuple of at most %d sizes", path, shp, WEFT_MAX_DIMS);
                    break;
                }
                sh.d[sh.ndim++] = v;
                p = end;
            }
        }
    }
    if (!s && weft_shape_check_size(&sh, dt, err)) s = weft_err_prefix(err, "%s", path);
    if (!s) {
        size_t need = (size_t)weft_shape_numel(&sh) * weft_dtype_size(dt), have = (size_t)fsize - pre_len - hl;
        if ((size_t)fsize < pre_len + hl || have != need)
            s = weft_err_set(err, WEFT_ERR_INVALID, "%s: the header says %zu bytes of data, the file holds %zu", path, need,
                             (size_t)fsize < pre_len + hl ? 0 : have);
        else if (!(s = weft_tensor_alloc(out, dt, sh, err)) && need && fread(out->data, 1, need, f) != need) {
            weft_tensor_free(out);
            s = weft_err_set(err, WEFT_ERR_IO, "%s: read error", path);
        } else if (s) weft_err_prefix(err, "%s", path);
    }
    free(h);
    fclose(f);
    return s;
}

weft_status weft_npy_write(const char *path, const weft_tensor *t, weft_err *err) {
    weft_tensor f32 = {0};
    const weft_tensor *w = t;
    if (t->dtype == WEFT_BF16) {
        if (weft_tensor_convert(&f32, t, WEFT_F32, err)) return weft_err_prefix(err, "%s", path);
        w = &f32;
    }
    const char *descr = NULL;
    for (size_t i = 0; i < sizeof npy_types / sizeof *npy_types; i++)
        if (npy_types[i].dt == w->dtype) descr = npy_types[i].descr;
    char h[512], shape[300] = "";
    size_t n = 0;
    for (int i = 0; i < w->shape.ndim; i++)
        n += (size_t)snprintf(shape + n, sizeof shape - n, "%lld,%s", (long long)w->shape.d[i], i + 1 < w->shape.ndim ? " " : "");
    if (w->shape.ndim > 1) shape[n - 1] = 0;  /* (2, 3) but (2,) */
    int hl = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape);
    int total = 10 + hl + 1, pad = (64 - total % 64) % 64;  /* the data starts 64-aligned, the header ends in '\n' */
    memset(h + hl, ' ', (size_t)pad);
    h[hl + pad] = '\n';
    hl += pad + 1;
    weft_buf b = {0};
    uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(hl & 0xff), (uint8_t)(hl >> 8)};
    weft_buf_bytes(&b, pre, 10);
    weft_buf_bytes(&b, h, (size_t)hl);
    weft_buf_bytes(&b, w->data, weft_tensor_nbytes(w));
    weft_status s = b.failed ? weft_err_set(err, WEFT_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, weft_tensor_nbytes(w))
                             : weft_file_write_raw(path, b.data, b.len, err);
    weft_buf_free(&b);
    weft_tensor_free(&f32);
    return s;
}
