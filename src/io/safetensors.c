/* io: the safetensors format (what safetensors.torch.load_file and Hugging Face read): a u64
 * little-endian header length, a JSON header {"name": {"dtype", "shape", "data_offsets": [begin,
 * end)}, "__metadata__": {...}} padded with spaces to 8 bytes, then the tensors' bytes in order.
 * Written by weft itself with cJSON. */
#include "io/io.h"

#include <cjson/cJSON.h>
#include <string.h>

static const char *st_dtype(weft_dtype dt) {
    switch (dt) {
    case WEFT_F32: return "F32";
    case WEFT_F16: return "F16";
    case WEFT_BF16: return "BF16";
    case WEFT_F64: return "F64";
    case WEFT_I64: return "I64";
    case WEFT_I32: return "I32";
    case WEFT_I16: return "I16";
    case WEFT_I8: return "I8";
    case WEFT_U8: return "U8";
    case WEFT_BOOL: return "BOOL";
    default: return NULL;
    }
}

weft_status weft_safetensors_write(const char *path, const weft_graph *g, const char *metadata_json, weft_err *err) {
    cJSON *h = cJSON_CreateObject();
    uint64_t off = 0;
    for (int v = 0; v < g->n_vals; v++) {
        const weft_value *x = &g->vals[v];
        if (x->kind != WEFT_VAL_PARAM) continue;
        const char *dt = st_dtype(x->dtype);
        if (!dt) {
            cJSON_Delete(h);
            return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: parameter '%s' is %s, which safetensors has no name for", path, x->name,
                                weft_dtype_name(x->dtype));
        }
        cJSON *o = cJSON_CreateObject(), *sh = cJSON_AddArrayToObject(o, "shape"), *of = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddStringToObject(o, "dtype", dt);
        for (int d = 0; d < x->shape.ndim; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)x->shape.d[d]));
        uint64_t nb = weft_tensor_nbytes(&x->data);
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(off + nb)));
        off += nb;
        cJSON_AddItemToObject(h, x->name, o);
    }
    cJSON *meta = metadata_json ? cJSON_Parse(metadata_json) : NULL;
    if (meta) cJSON_AddItemToObject(h, "__metadata__", meta);
    char *text = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    size_t hl = strlen(text), padded = (hl + 7) / 8 * 8;
    weft_buf b = {0};
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    weft_buf_bytes(&b, len, 8);
    weft_buf_bytes(&b, text, hl);
    for (size_t i = hl; i < padded; i++) weft_buf_bytes(&b, " ", 1);
    free(text);
    for (int v = 0; v < g->n_vals; v++)
        if (g->vals[v].kind == WEFT_VAL_PARAM) weft_buf_bytes(&b, g->vals[v].data.data, weft_tensor_nbytes(&g->vals[v].data));
    weft_status s = b.failed ? weft_err_set(err, WEFT_ERR_NOMEM, "%s: cannot allocate %llu bytes", path, (unsigned long long)off)
                             : weft_file_write_raw(path, b.data, b.len, err);
    weft_buf_free(&b);
    return s;
}
