/* onnx: ONNX import. The protobuf reader is generated at build time by protoc-c from Debian's
 * onnx.proto (build/gen/onnx/onnx.pb-c.c); this file turns a ModelProto into a weft graph.
 * Initializers become parameters (floating) or constants; nodes are added through the graph API,
 * which infers shapes and folds PyTorch's shape arithmetic (Shape -> Gather -> Unsqueeze ->
 * Concat -> Reshape) into constants, so exported models import as static graphs. */
#include "io/io.h"
#include "ir/ir.h"
#include "onnx/onnx.pb-c.h"
#include "onnx/onnx_test.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define ONNX_OPSET_MIN 1   /* old forms are refused by the ops where weft does not follow them */
#define ONNX_OPSET_MAX 18
#define ONNX_MAX_FILE_BYTES ((int64_t)2 << 30) /* protobuf's own 2 GiB limit */

/* ---- a name -> value id map (open addressing) ---- */

typedef struct { char **keys; int *vals; size_t cap, n; } name_map;

static uint64_t fnv(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    while (*s) h = (h ^ (uint8_t)*s++) * 1099511628211ULL;
    return h;
}
static void map_put(name_map *m, const char *k, int v);
static void map_grow(name_map *m) {
    name_map n = {weft_xcalloc(m->cap ? 2 * m->cap : 256, sizeof(char *)),
                  weft_xcalloc(m->cap ? 2 * m->cap : 256, sizeof(int)), m->cap ? 2 * m->cap : 256, 0};
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) map_put(&n, m->keys[i], m->vals[i]);
    free(m->keys);
    free(m->vals);
    *m = n;
}
static void map_put(name_map *m, const char *k, int v) {
    if (2 * (m->n + 1) > m->cap) map_grow(m);
    size_t i = fnv(k) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], k)) i = (i + 1) & (m->cap - 1);
    if (!m->keys[i]) { m->keys[i] = (char *)k; m->n++; }  /* keys borrowed from the model proto */
    m->vals[i] = v;
}
static int map_get(const name_map *m, const char *k) {
    if (!m->cap) return -1;
    size_t i = fnv(k) & (m->cap - 1);
    while (m->keys[i]) {
        if (!strcmp(m->keys[i], k)) return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}

/* ---- files and tensors ---- */

/* protobuf-c allocates through weft's fallible allocator (counted by the fault injection) */
static void *pb_alloc(void *data, size_t n) { (void)data; return weft_try_malloc(n); }
static void pb_free(void *data, void *p) { (void)data; free(p); }
static ProtobufCAllocator pb_allocator = {pb_alloc, pb_free, NULL};

static weft_status read_file(const char *path, uint8_t **buf, size_t *len, weft_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return weft_err_set(err, WEFT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        fclose(f);
        return weft_err_set(err, WEFT_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size > ONNX_MAX_FILE_BYTES) {
        fclose(f);
        return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: %lld bytes, over protobuf's 2 GiB limit: save the model with its weights as external data (onnx.save(m, path, save_as_external_data=True); torch.onnx.export does so beyond 2 GiB)",
                            path, (long long)st.st_size);
    }
    *len = (size_t)st.st_size;
    *buf = weft_try_malloc(*len);
    if (!*buf) {
        fclose(f);
        return weft_err_set(err, WEFT_ERR_NOMEM, "%s: cannot allocate %zu bytes to read it", path, *len);
    }
    if (fread(*buf, 1, *len, f) != *len) {
        fclose(f);
        free(*buf);
        return weft_err_set(err, WEFT_ERR_IO, "%s: read error", path);
    }
    fclose(f);
    return WEFT_OK;
}

/* A tensor whose data is in a file beside the model (ONNX external data: "location", "offset",
 * "length"): the location must stay inside the model's folder, and offset + length inside the
 * file; the length, when given, must be the tensor's. */
static weft_status read_external(const Onnx__TensorProto *p, const char *dir, weft_dtype dt, weft_shape sh, weft_tensor *t,
                                 const char *what, weft_err *err) {
    const char *loc = NULL;
    long long off = 0, len = -1;
    for (size_t i = 0; i < p->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = p->external_data[i];
        const char *k = e->key ? e->key : "", *v = e->value ? e->value : "";
        char *end;
        if (!strcmp(k, "location")) loc = v;
        else if (!strcmp(k, "offset") || !strcmp(k, "length")) {
            errno = 0;
            long long x = strtoll(v, &end, 10);
            if (end == v || *end || errno || x < 0)
                return weft_err_set(err, WEFT_ERR_INVALID, "%s: external data %s '%s' is not a byte count", what, k, v);
            *(!strcmp(k, "offset") ? &off : &len) = x;
        }
    }
    if (!loc || !*loc) return weft_err_set(err, WEFT_ERR_INVALID, "%s: external data without a location", what);
    if (!dir) return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: external data outside a model file", what);
    if (loc[0] == '/' || !strncmp(loc, "../", 3) || strstr(loc, "/../") || !strcmp(loc, ".."))
        return weft_err_set(err, WEFT_ERR_INVALID, "%s: external data location '%s' leaves the model's folder", what, loc);
    size_t need = (size_t)weft_shape_numel(&sh) * weft_dtype_size(dt);
    if (len >= 0 && (size_t)len != need)
        return weft_err_set(err, WEFT_ERR_INVALID, "%s: external data length %lld, but the tensor's shape holds %zu bytes", what, len, need);
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, loc) >= (int)sizeof path)
        return weft_err_set(err, WEFT_ERR_INVALID, "%s: external data path too long", what);
    int64_t size;
    FILE *f = weft_open_regular(path, dir, &size, err);  /* (links resolved: still inside the folder) */
    if (!f) return weft_err_prefix(err, "%s: external data", what);
    weft_status s = WEFT_OK;
    if ((unsigned long long)off > (unsigned long long)size || need > (size_t)(size - off))
        s = weft_err_set(err, WEFT_ERR_INVALID, "%s: external data %s holds %lld bytes; the tensor needs %zu from offset %lld", what,
                         path, (long long)size, need, off);
    else if ((s = weft_tensor_alloc(t, dt, sh, err))) weft_err_prefix(err, "%s", what);  /* (allocated once the file holds it) */
    else if (fseeko(f, (off_t)off, SEEK_SET) || fread(t->data, 1, need, f) != need) {
        weft_tensor_free(t);
        s = weft_err_set(err, WEFT_ERR_IO, "%s: external data %s: read error", what, path);
    }
    fclose(f);
    return s;
}

/* Converts a TensorProto into a weft tensor. `what` names it in errors; dir: the model's folder
 * (for external data; NULL outside a model). */
static weft_status tensor_from_proto(const Onnx__TensorProto *p, const char *dir, weft_tensor *t, const char *what, weft_err *err) {
    int dt = weft_dtype_from_onnx(p->data_type);
    if (dt < 0) return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: ONNX data type %d is not supported", what, p->data_type);
    if (p->n_dims > WEFT_MAX_DIMS) return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: rank %zu exceeds %d", what, p->n_dims, WEFT_MAX_DIMS);
    bool external = p->has_data_location && p->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    if (p->n_external_data && !external)
        return weft_err_set(err, WEFT_ERR_INVALID, "%s: external_data entries, but data_location is not EXTERNAL", what);
    if (p->segment) return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: segmented tensors are not supported", what);
    weft_shape s = {.ndim = (int)p->n_dims};
    for (size_t i = 0; i < p->n_dims; i++) s.d[i] = p->dims[i];
    weft_status st = weft_shape_check_size(&s, (weft_dtype)dt, err);
    if (st) return weft_err_prefix(err, "%s", what);
    int64_t n = weft_shape_numel(&s);
    size_t es = weft_dtype_size((weft_dtype)dt);
    /* Check that the payload holds exactly numel elements before allocating anything. */
    size_t have;
    const char *field;
    if (external) {
        if (p->has_raw_data || p->n_float_data || p->n_int32_data || p->n_int64_data || p->n_double_data || p->n_uint64_data)
            return weft_err_set(err, WEFT_ERR_INVALID, "%s: external data and data in the file both", what);
        return read_external(p, dir, (weft_dtype)dt, s, t, what, err);
    }
    if (p->has_raw_data) { have = p->raw_data.len / es; field = "raw_data"; if (p->raw_data.len % es) have = (size_t)-1; }
    else switch (dt) {
        case WEFT_F32: have = p->n_float_data; field = "float_data"; break;
        case WEFT_F64: have = p->n_double_data; field = "double_data"; break;
        case WEFT_I64: have = p->n_int64_data; field = "int64_data"; break;
        case WEFT_U32: case WEFT_U64: have = p->n_uint64_data; field = "uint64_data"; break;
        default: have = p->n_int32_data; field = "int32_data"; break;
    }
    if (have != (size_t)n)
        return weft_err_set(err, WEFT_ERR_INVALID, "%s: shape holds %lld elements but %s holds %s%zu", what, (long long)n,
                            field, have == (size_t)-1 ? "a partial element after " : "", have == (size_t)-1 ? p->raw_data.len / es : have);
    st = weft_tensor_alloc(t, (weft_dtype)dt, s, err);
    if (st) return weft_err_prefix(err, "%s", what);
    if (n == 0) return WEFT_OK;
    if (p->has_raw_data) { memcpy(t->data, p->raw_data.data, (size_t)n * es); return WEFT_OK; }
    switch (dt) {
    case WEFT_F32: memcpy(t->data, p->float_data, (size_t)n * 4); break;
    case WEFT_F64: memcpy(t->data, p->double_data, (size_t)n * 8); break;
    case WEFT_I64: memcpy(t->data, p->int64_data, (size_t)n * 8); break;
    case WEFT_I32: memcpy(t->data, p->int32_data, (size_t)n * 4); break;
    case WEFT_F16: case WEFT_BF16: case WEFT_U16: case WEFT_I16:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)t->data)[i] = (uint16_t)p->int32_data[i];
        break;
    case WEFT_U32:
        for (int64_t i = 0; i < n; i++) ((uint32_t *)t->data)[i] = (uint32_t)p->uint64_data[i];
        break;
    case WEFT_U64: memcpy(t->data, p->uint64_data, (size_t)n * 8); break;
    default:
        for (int64_t i = 0; i < n; i++) ((uint8_t *)t->data)[i] = (uint8_t)p->int32_data[i];
    }
    return WEFT_OK;
}

weft_status weft_onnx_load_tensor(const char *path, weft_tensor *out, char *name, size_t name_len, weft_err *err) {
    uint8_t *buf;
    size_t len;
    weft_status s = read_file(path, &buf, &len, err);
    if (s) return s;
    Onnx__TensorProto *p = onnx__tensor_proto__unpack(&pb_allocator, len, buf);
    free(buf);
    if (!p) return weft_err_set(err, WEFT_ERR_INVALID, "%s: not a valid ONNX TensorProto (truncated or corrupt)", path);
    if (name && name_len) snprintf(name, name_len, "%s", p->name ? p->name : "");
    s = tensor_from_proto(p, NULL, out, path, err);
    onnx__tensor_proto__free_unpacked(p, &pb_allocator);
    return s;
}

/* ---- the model ---- */

/* The symbolic dimensions' values: given by name, or learned from an input's given shape. */
typedef struct { const char *name[64]; int64_t v[64]; bool given[64], used[64]; int n; } dim_table; /* given: by name (not learned) */

static int64_t dim_lookup(dim_table *t, const char *name) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->name[i], name)) { t->used[i] = true; return t->v[i]; }
    return -1;
}

static weft_status value_info_shape(const Onnx__ValueInfoProto *vi, const weft_onnx_bind *bind, dim_table *dims,
                                    weft_dtype *dt, weft_shape *sh, const char *path, weft_err *err) {
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: graph input '%s' is not a tensor", path, vi->name);
    int d = weft_dtype_from_onnx(tp->tensor_type->elem_type);
    if (d < 0)
        return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: graph input '%s' has unsupported ONNX data type %d", path, vi->name,
                            tp->tensor_type->elem_type);
    *dt = (weft_dtype)d;
    const Onnx__TensorShapeProto *s = tp->tensor_type->shape;
    const weft_shape *given = NULL;
    for (int i = 0; bind && i < bind->n; i++)
        if (!strcmp(bind->name[i], vi->name)) given = &bind->shape[i];
    if (!s && given) { *sh = *given; return weft_shape_check_size(sh, *dt, err) ? weft_err_prefix(err, "%s: graph input '%s'", path, vi->name) : WEFT_OK; }
    if (!s) return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: graph input '%s' has no shape: give it (--input-shape %s=2x3)", path, vi->name, vi->name);
    if (s->n_dim > WEFT_MAX_DIMS) return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: graph input '%s' has rank %zu", path, vi->name, s->n_dim);
    char a[160], b[160];
    if (given && given->ndim != (int)s->n_dim)
        return weft_err_set(err, WEFT_ERR_SHAPE, "%s: graph input '%s' has rank %zu; the shape given, %s, has rank %d", path, vi->name,
                            s->n_dim, weft_shape_str(given, a, sizeof a), given->ndim);
    sh->ndim = (int)s->n_dim;
    for (size_t i = 0; i < s->n_dim; i++) {
        bool fixed = s->dim[i]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        const char *sym = s->dim[i]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && s->dim[i]->dim_param
                              ? s->dim[i]->dim_param : "";
        if (given) {
            if (fixed && s->dim[i]->dim_value != given->d[i]) {
                weft_shape decl = {.ndim = (int)s->n_dim};
                for (size_t j = 0; j < s->n_dim; j++)
                    decl.d[j] = s->dim[j]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ? s->dim[j]->dim_value : -1;
                return weft_err_set(err, WEFT_ERR_SHAPE, "%s: graph input '%s' is declared %s (-1: symbolic); the shape given is %s", path,
                                    vi->name, weft_shape_str(&decl, a, sizeof a), weft_shape_str(given, b, sizeof b));
            }
            sh->d[i] = given->d[i];
        } else if (fixed) {
            sh->d[i] = s->dim[i]->dim_value;
        } else if (*sym && dim_lookup(dims, sym) >= 0) {
            sh->d[i] = dim_lookup(dims, sym);
        } else {
            return weft_err_set(err, WEFT_ERR_UNSUPPORTED,
                                "%s: graph input '%s' has a symbolic dimension '%s' at axis %zu; weft compiles static shapes: give it "
                                "(--input-shape %s=N, or the input's whole shape: --input-shape %s=AxB...)",
                                path, vi->name, *sym ? sym : "?", i, *sym ? sym : "NAME", vi->name);
        }
    }
    return weft_shape_check_size(sh, *dt, err) ? weft_err_prefix(err, "%s: graph input '%s'", path, vi->name) : WEFT_OK;
}

/* The dimension table of a bind: the names that are not graph inputs are symbolic dimensions
 * (rank 1 values); a graph input's given shape teaches the symbolic dimensions it declares.
 * Two values for one name are refused. */
static weft_status learn_dims(const char *path, const Onnx__GraphProto *gp, const weft_onnx_bind *bind, dim_table *t, bool *rebatch,
                              weft_err *err) {
    t->n = 0;
    *rebatch = false;
    if (!bind) return WEFT_OK;
    /* batch=N: the symbolic dimension "batch" where the model declares one, else every input's
     * leading dimension (re-batched) */
    bool declared = false;
    for (size_t i = 0; i < gp->n_input && !declared; i++) {
        const Onnx__TypeProto *tp = gp->input[i]->type;
        const Onnx__TensorShapeProto *s = tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && tp->tensor_type
                                              ? tp->tensor_type->shape : NULL;
        for (size_t k = 0; s && k < s->n_dim && !declared; k++)
            declared = s->dim[k]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && s->dim[k]->dim_param &&
                       !strcmp(s->dim[k]->dim_param, "batch");
    }
    if (bind->batch > 0 && declared) {
        t->name[t->n] = "batch";
        t->given[t->n] = true;
        t->used[t->n] = false;
        t->v[t->n++] = bind->batch;
    } else *rebatch = bind->batch > 0;
    for (int k = 0; k < bind->n; k++) {
        const Onnx__ValueInfoProto *vi = NULL;
        for (size_t i = 0; i < gp->n_input && !vi; i++)
            if (gp->input[i]->name && !strcmp(gp->input[i]->name, bind->name[k])) vi = gp->input[i];
        if (!vi) {
            if (bind->shape[k].ndim != 1)
                return weft_err_set(err, WEFT_ERR_INVALID, "%s: '%s' is not a graph input, and a symbolic dimension takes one number", path,
                                    bind->name[k]);
            if (t->n == 64) return weft_err_set(err, WEFT_ERR_INVALID, "%s: too many dimensions given", path);
            int64_t have = dim_lookup(t, bind->name[k]);
            if (have >= 0 && have != bind->shape[k].d[0])
                return weft_err_set(err, WEFT_ERR_SHAPE, "%s: the symbolic dimension '%s' is given as %lld and as %lld", path,
                                    bind->name[k], (long long)have, (long long)bind->shape[k].d[0]);
            if (have >= 0) continue;
            t->name[t->n] = bind->name[k];
            t->given[t->n] = true;
            t->used[t->n] = false;
            t->v[t->n++] = bind->shape[k].d[0];
            continue;
        }
        const Onnx__TypeProto *tp = vi->type;
        const Onnx__TensorShapeProto *s = tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && tp->tensor_type
                                              ? tp->tensor_type->shape : NULL;
        for (size_t i = 0; s && i < s->n_dim && (int)i < bind->shape[k].ndim; i++) {
            if (s->dim[i]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM || !s->dim[i]->dim_param) continue;
            const char *sym = s->dim[i]->dim_param;
            int64_t have = dim_lookup(t, sym), v = bind->shape[k].d[i];
            if (have >= 0 && have != v)
                return weft_err_set(err, WEFT_ERR_SHAPE, "%s: the symbolic dimension '%s' is given as %lld and as %lld (input '%s')", path,
                                    sym, (long long)have, (long long)v, vi->name);
            if (have < 0 && t->n == 64) return weft_err_set(err, WEFT_ERR_INVALID, "%s: too many symbolic dimensions", path);
            if (have < 0) { t->name[t->n] = sym; t->given[t->n] = t->used[t->n] = false; t->v[t->n++] = v; }
        }
    }
    return WEFT_OK;
}

/* A graph output's declared shape, when fully static, must be the one the shape rules computed: a
 * model that says (2, 3) and computes (3, 2) is not what its author meant, and replacing the
 * declaration silently hid that. Symbolic or absent dimensions declare nothing and pass. */
static weft_status check_declared_output(const char *path, const Onnx__ValueInfoProto *vi, const weft_value *v, weft_err *err) {
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type || !tp->tensor_type->shape) return WEFT_OK;
    const Onnx__TensorShapeProto *ds = tp->tensor_type->shape;
    if (ds->n_dim > WEFT_MAX_DIMS) return WEFT_OK;
    weft_shape decl = {.ndim = (int)ds->n_dim};
    for (size_t i = 0; i < ds->n_dim; i++) {
        if (ds->dim[i]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) return WEFT_OK;
        decl.d[i] = ds->dim[i]->dim_value;
    }
    if (weft_shape_eq(&decl, &v->shape)) return WEFT_OK;
    char a[160], b[160];
    return weft_err_set(err, WEFT_ERR_SHAPE, "%s: graph output '%s' is declared of shape %s, but the model computes %s", path,
                        vi->name, weft_shape_str(&decl, a, sizeof a), weft_shape_str(&v->shape, b, sizeof b));
}

static weft_status convert_attr(const Onnx__AttributeProto *a, weft_attr *o, weft_tensor *tbuf, const char *where,
                                weft_err *err) {
    memset(o, 0, sizeof *o);
    o->name = a->name;
    switch (a->type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: o->type = WEFT_ATTR_INT; o->i = a->i; return WEFT_OK;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: o->type = WEFT_ATTR_FLOAT; o->f = a->f; return WEFT_OK;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        o->type = WEFT_ATTR_INTS; o->ints = a->ints; o->n = (int)a->n_ints; return WEFT_OK;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        o->type = WEFT_ATTR_FLOATS; o->floats = a->floats; o->n = (int)a->n_floats; return WEFT_OK;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: {
        char *s = weft_xmalloc(a->s.len + 1);
        if (a->s.len) memcpy(s, a->s.data, a->s.len);
        s[a->s.len] = 0;
        o->type = WEFT_ATTR_STRING;
        o->s = s;  /* freed by the caller */
        return WEFT_OK;
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
        if (!a->t) return weft_err_set(err, WEFT_ERR_INVALID, "%s: attribute '%s' has no tensor", where, a->name);
        o->type = WEFT_ATTR_TENSOR;
        o->t = tbuf;
        return tensor_from_proto(a->t, NULL, tbuf, where, err);
    default:
        return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: attribute '%s' is of a type weft does not support (%d)", where,
                            a->name, (int)a->type);
    }
}

/* Is input i of op one that must be known at compile time? */
static bool const_position(const char *op_type, int i) {
    const weft_op_def *op = weft_op_find(op_type);
    return op && i < 32 && (op->const_inputs >> i & 1);
}

/* A float attribute among the node's converted ones, or dflt. */
static float attr_f(const weft_attr *a, int n, const char *name, float dflt) {
    for (int i = 0; i < n; i++)
        if (!strcmp(a[i].name, name) && a[i].type == WEFT_ATTR_FLOAT) return a[i].f;
    return dflt;
}
static int64_t attr_i(const weft_attr *a, int n, const char *name, int64_t dflt) {
    for (int i = 0; i < n; i++)
        if (!strcmp(a[i].name, name) && a[i].type == WEFT_ATTR_INT) return a[i].i;
    return dflt;
}

/* BatchNormalization in training mode (training_mode=1; before opset 14, asked for its running
 * statistics), written as the ops it is, so its backward comes from theirs: over the axes but
 * the channel's (N and the spatial ones),
 *     mean = ReduceMean(X), var = ReduceMean((X - mean)^2)   (the biased variance, as ONNX says)
 *     Y = (X - mean) / sqrt(var + epsilon) * scale + B
 *     running_mean = input_mean * momentum + mean * (1 - momentum), running_var likewise.
 * in: X, scale, B, input_mean, input_var; out: Y and, when asked, the two running statistics. */
static weft_status batchnorm_training(weft_graph *g, const char *nm, const int *in, const weft_attr *attrs, int n_attr, int *out,
                                      int n_out, weft_err *err) {
    const weft_value *x = &g->vals[in[0]];
    int r = x->shape.ndim;
    if (r < 2 || !weft_dtype_is_float(x->dtype))
        return weft_err_set(err, WEFT_ERR_SHAPE, "node '%s' (BatchNormalization): X must be floating (N, C, ...)", nm);
    int64_t C = x->shape.d[1], axes[WEFT_MAX_DIMS], k = 0, bshape[WEFT_MAX_DIMS];
    for (int i = 0; i < r; i++) {
        if (i != 1) axes[k++] = i;
        bshape[i] = i == 1 ? C : 1;
    }
    float eps = attr_f(attrs, n_attr, "epsilon", 1e-5f), mom = attr_f(attrs, n_attr, "momentum", 0.9f);
    char name[600];
    weft_status s = WEFT_OK;
    weft_tensor t = {0};
    int c_eps, c_mom, c_1mom, c_shape, c_cshape;
#define CONST_F(var, value, suffix)                                                            \
    do {                                                                                     \
        float v_ = (value);                                                                  \
        if ((s = weft_tensor_alloc(&t, x->dtype, WEFT_SHAPE(), err))) return s;              \
        weft_convert(t.data, x->dtype, &v_, WEFT_F32, 1); /* (in X's dtype: no mixed adds) */ \
        snprintf(name, sizeof name, "%s/%s", nm, suffix);                                    \
        var = weft_graph_const(g, name, &t);                                                 \
        weft_tensor_free(&t);                                                                \
    } while (0)
    CONST_F(c_eps, eps, "epsilon");
    CONST_F(c_mom, mom, "momentum");
    CONST_F(c_1mom, 1.0f - mom, "1-momentum");
#undef CONST_F
    if ((s = weft_tensor_alloc(&t, WEFT_I64, WEFT_SHAPE(r), err))) return s;
    memcpy(t.data, bshape, (size_t)r * sizeof(int64_t));
    snprintf(name, sizeof name, "%s/channel_shape", nm);
    c_shape = weft_graph_const(g, name, &t);
    weft_tensor_free(&t);
    if ((s = weft_tensor_alloc(&t, WEFT_I64, WEFT_SHAPE(1), err))) return s;
    ((int64_t *)t.data)[0] = C;
    snprintf(name, sizeof name, "%s/stat_shape", nm);
    c_cshape = weft_graph_const(g, name, &t);
    weft_tensor_free(&t);
    weft_attr red[] = {{.name = "axes", .type = WEFT_ATTR_INTS, .ints = axes, .n = (int)k},
                       {.name = "keepdims", .type = WEFT_ATTR_INT, .i = 1}};
    int mean, d, d2, var, ve, sd, nrm, sc, b, ys;
#define NODE(op, suffix, ins, n_in, at, n_at, o)                                                \
    do {                                                                                       \
        snprintf(name, sizeof name, "%s/%s", nm, suffix);                                      \
        if ((s = weft_graph_node(g, op, name, ins, n_in, at, n_at, &o, 1, err))) return s;     \
    } while (0)
    NODE("ReduceMean", "mean", &in[0], 1, red, 2, mean);
    NODE("Sub", "centered", ((int[]){in[0], mean}), 2, NULL, 0, d);
    NODE("Mul", "squared", ((int[]){d, d}), 2, NULL, 0, d2);
    NODE("ReduceMean", "var", &d2, 1, red, 2, var);
    NODE("Add", "var_eps", ((int[]){var, c_eps}), 2, NULL, 0, ve);
    NODE("Sqrt", "std", &ve, 1, NULL, 0, sd);
    NODE("Div", "normalized", ((int[]){d, sd}), 2, NULL, 0, nrm);
    NODE("Reshape", "scale_c", ((int[]){in[1], c_shape}), 2, NULL, 0, sc);
    NODE("Reshape", "bias_c", ((int[]){in[2], c_shape}), 2, NULL, 0, b);
    NODE("Mul", "scaled", ((int[]){nrm, sc}), 2, NULL, 0, ys);
    NODE("Add", "out", ((int[]){ys, b}), 2, NULL, 0, out[0]);
    for (int q = 1; q < n_out && q < 3; q++) {  /* the running statistics */
        int cur, a1, a2;
        NODE("Reshape", q == 1 ? "batch_mean" : "batch_var", ((int[]){q == 1 ? mean : var, c_cshape}), 2, NULL, 0, cur);
        NODE("Mul", q == 1 ? "mean_kept" : "var_kept", ((int[]){in[2 + q], c_mom}), 2, NULL, 0, a1);
        NODE("Mul", q == 1 ? "mean_new" : "var_new", ((int[]){cur, c_1mom}), 2, NULL, 0, a2);
        NODE("Add", q == 1 ? "running_mean" : "running_var", ((int[]){a1, a2}), 2, NULL, 0, out[q]);
    }
#undef NODE
    return WEFT_OK;
}

static weft_status import_graph(const char *path, const char *dir, const Onnx__GraphProto *gp, int opset,
                                const weft_tensor *const *bound, int n_bound, bool *stays_input, const weft_onnx_bind *bind,
                                weft_graph *g, weft_err *err) {
    name_map names = {0};
    dim_table dims;
    bool rebatch;
    weft_status s = learn_dims(path, gp, bind, &dims, &rebatch, err);
    /* every named thing must have a name: the graph is wired by names */
    for (size_t i = 0; i < gp->n_initializer && !s; i++)
        if (!gp->initializer[i]->name || !*gp->initializer[i]->name)
            s = weft_err_set(err, WEFT_ERR_INVALID, "%s: initializer #%zu has no name", path, i);
    for (size_t i = 0; i < gp->n_input && !s; i++)
        if (!gp->input[i]->name || !*gp->input[i]->name)
            s = weft_err_set(err, WEFT_ERR_INVALID, "%s: graph input #%zu has no name", path, i);
    for (size_t i = 0; i < gp->n_output && !s; i++)
        if (!gp->output[i]->name || !*gp->output[i]->name)
            s = weft_err_set(err, WEFT_ERR_INVALID, "%s: graph output #%zu has no name", path, i);
    for (size_t i = 0; i < gp->n_node && !s; i++)
        for (size_t q = 0; q < gp->node[i]->n_attribute && !s; q++)
            if (!gp->node[i]->attribute[q]->name || !*gp->node[i]->attribute[q]->name)
                s = weft_err_set(err, WEFT_ERR_INVALID, "%s: node '%s' (%s): attribute #%zu has no name", path,
                                 gp->node[i]->name ? gp->node[i]->name : "", gp->node[i]->op_type ? gp->node[i]->op_type : "?", q);
    /* initializers */
    for (size_t i = 0; i < gp->n_initializer && !s; i++) {
        const Onnx__TensorProto *p = gp->initializer[i];
        weft_tensor t = {0};
        char what[512];
        snprintf(what, sizeof what, "%s: initializer '%s'", path, p->name ? p->name : "");
        s = tensor_from_proto(p, dir, &t, what, err);
        if (s) break;
        if (map_get(&names, p->name) >= 0) {
            weft_tensor_free(&t);
            s = weft_err_set(err, WEFT_ERR_INVALID, "%s: initializer '%s' is defined twice", path, p->name);
            break;
        }
        int v = weft_graph_add_value(g, p->name, weft_dtype_is_float(t.dtype) ? WEFT_VAL_PARAM : WEFT_VAL_CONST, t.dtype,
                                     t.shape, &t);
        map_put(&names, p->name, v);
    }
    /* graph inputs (those that are not initializers) */
    int k = 0;
    for (size_t i = 0; i < gp->n_input && !s; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (map_get(&names, vi->name) >= 0) continue;
        int b = k++;
        if (b < n_bound && bound[b]) {
            weft_tensor view = *bound[b];
            const weft_tensor *t = &view;
            view.owns = 0;
            /* the data must be of the type the model declares; ONNX's own test data stores bfloat16
             * as uint16 (the same bits), which is read as what it is */
            const Onnx__TypeProto *tp = vi->type;
            if (tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && tp->tensor_type) {
                int declared = weft_dtype_from_onnx(tp->tensor_type->elem_type);
                if (declared == WEFT_BF16 && view.dtype == WEFT_U16) view.dtype = WEFT_BF16;
                else if (declared >= 0 && declared != (int)view.dtype) {
                    s = weft_err_set(err, WEFT_ERR_INVALID, "%s: graph input '%s' is declared %s but given %s data", path, vi->name,
                                     weft_dtype_name((weft_dtype)declared), weft_dtype_name(view.dtype));
                    break;
                }
            }
            /* A bound input whose values the graph needs at compile time becomes a constant. */
            bool as_const = t->dtype == WEFT_I64 || t->dtype == WEFT_I32;
            for (size_t j = 0; j < gp->n_node && !as_const; j++)
                for (size_t q = 0; q < gp->node[j]->n_input; q++)
                    if (!strcmp(gp->node[j]->input[q], vi->name) && const_position(gp->node[j]->op_type, (int)q)) as_const = true;
            int v = as_const ? weft_graph_const(g, vi->name, t) : weft_graph_input(g, vi->name, t->dtype, t->shape);
            if (stays_input) stays_input[b] = !as_const;
            map_put(&names, vi->name, v);
            continue;
        }
        weft_dtype dt = WEFT_F32;
        weft_shape sh = {0};
        s = value_info_shape(vi, bind, &dims, &dt, &sh, path, err);
        if (!s && rebatch && sh.ndim >= 1) sh.d[0] = bind->batch;  /* re-batched: the leading dimension */
        if (!s) map_put(&names, vi->name, weft_graph_input(g, vi->name, dt, sh));
    }
    for (int i = 0; i < dims.n && !s; i++)
        if (dims.given[i] && !dims.used[i] && strcmp(dims.name[i], "batch"))
            s = weft_err_set(err, WEFT_ERR_INVALID, "%s: '%s' is neither a graph input nor a symbolic dimension of one", path, dims.name[i]);
    /* nodes */
    for (size_t i = 0; i < gp->n_node && !s; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        const char *nm = np->name && *np->name ? np->name : (np->n_output ? np->output[0] : "");
        char where[512];
        snprintf(where, sizeof where, "%s: node '%s' (%s)", path, nm, np->op_type ? np->op_type : "?");
        if (np->domain && *np->domain && strcmp(np->domain, "ai.onnx")) {
            s = weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: operator domain '%s' is not supported", where, np->domain);
            break;
        }
        if (!np->op_type || !weft_op_find(np->op_type)) {
            s = weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: unknown or unsupported op '%s'", where, np->op_type ? np->op_type : "");
            break;
        }
        if (np->n_input > WEFT_MAX_IO || np->n_output > WEFT_MAX_IO / 2 || np->n_attribute > 64) {
            s = weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: too many inputs, outputs or attributes", where);
            break;
        }
        int in[WEFT_MAX_IO], out[WEFT_MAX_IO];
        int n_in = (int)np->n_input;
        for (int q = 0; q < n_in && !s; q++) {
            if (!*np->input[q]) { in[q] = -1; continue; }
            in[q] = map_get(&names, np->input[q]);
            if (in[q] < 0)
                s = weft_err_set(err, WEFT_ERR_INVALID, "%s: input '%s' is not defined by any initializer, graph input or earlier node",
                                 where, np->input[q]);
        }
        while (n_in > 0 && in[n_in - 1] == -1) n_in--;  /* trailing omitted optionals */
        weft_attr attrs[64];
        weft_tensor tbuf[64] = {{0}};
        int n_attr = 0;
        for (size_t q = 0; q < np->n_attribute && !s; q++) {
            s = convert_attr(np->attribute[q], &attrs[n_attr], &tbuf[n_attr], where, err);
            n_attr++;
        }
        if (!s) {
            g->opset = opset;
            bool bn_train = !strcmp(np->op_type, "BatchNormalization") && n_in == 5 &&
                            (opset >= 14 ? attr_i(attrs, n_attr, "training_mode", 0) != 0
                                         : (np->n_output > 1 && *np->output[1]) || (np->n_output > 2 && *np->output[2]));
            for (size_t q = 3; bn_train && q < np->n_output && !s; q++)
                if (*np->output[q])
                    s = weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: output %zu (the saved mean and variance of old opsets) is not produced", where, q);
            if (s) {}
            else if (bn_train) s = batchnorm_training(g, nm, in, attrs, n_attr, out, (int)np->n_output, err);
            else s = weft_graph_node(g, np->op_type, nm, in, n_in, attrs, n_attr, out, (int)np->n_output, err);
            if (s) weft_err_prefix(err, "%s", path);
        }
        for (int q = 0; q < n_attr; q++) {
            if (attrs[q].type == WEFT_ATTR_STRING) free((void *)attrs[q].s);
            weft_tensor_free(&tbuf[q]);
        }
        for (size_t q = 0; q < np->n_output && !s; q++) {
            if (!*np->output[q]) continue;
            if (map_get(&names, np->output[q]) >= 0)
                s = weft_err_set(err, WEFT_ERR_INVALID, "%s: output '%s' is already defined (ONNX values are assigned once)", where,
                                 np->output[q]);
            else {
                map_put(&names, np->output[q], out[q]);
                free(g->vals[out[q]].name);  /* values keep their ONNX names */
                g->vals[out[q]].name = weft_xstrdup(np->output[q]);
            }
        }
    }
    for (size_t i = 0; i < gp->n_output && !s; i++) {
        int v = map_get(&names, gp->output[i]->name);
        if (v < 0) s = weft_err_set(err, WEFT_ERR_INVALID, "%s: graph output '%s' is never produced", path, gp->output[i]->name);
        else if (!rebatch) s = check_declared_output(path, gp->output[i], &g->vals[v], err);  /* (re-batched: declared for the old batch) */
        if (!s) weft_graph_output(g, v);
    }
    free(names.keys);
    free(names.vals);
    return s;
}

weft_status weft_onnx_load(const char *path, const weft_tensor *const *bound, int n_bound, weft_graph **out, weft_err *err) {
    return weft_onnx_load_bound(path, bound, n_bound, NULL, out, err);
}

static weft_status load_onnx(const char *path, const weft_tensor *const *bound, int n_bound, bool *stays_input,
                             const weft_onnx_bind *bind, weft_graph **out, weft_err *err);

/* The ModelProto of the file at path (free with onnx__model_proto__free_unpacked). */
static weft_status read_model(const char *path, Onnx__ModelProto **out, weft_err *err) {
    uint8_t *buf;
    size_t len;
    weft_status s = read_file(path, &buf, &len, err);
    if (s) return s;
    int64_t failures = weft_alloc_failures();
    *out = onnx__model_proto__unpack(&pb_allocator, len, buf);
    free(buf);
    if (!*out && weft_alloc_failures() != failures)
        return weft_err_set(err, WEFT_ERR_NOMEM, "%s: out of memory reading the protobuf", path);
    if (!*out) return weft_err_set(err, WEFT_ERR_INVALID, "%s: not a valid ONNX model (truncated or corrupt protobuf)", path);
    return WEFT_OK;
}

weft_status weft_onnx_load_bound(const char *path, const weft_tensor *const *bound, int n_bound, bool *stays_input,
                                 weft_graph **out, weft_err *err) {
    return load_onnx(path, bound, n_bound, stays_input, NULL, out, err);
}

weft_status weft_onnx_load_batch(const char *path, int64_t batch, weft_graph **out, weft_err *err) {
    if (batch < 1 || batch > ((int64_t)1 << 31)) return weft_err_set(err, WEFT_ERR_INVALID, "%s: batch %lld out of range", path, (long long)batch);
    weft_onnx_bind b = {.batch = batch};
    weft_status s = load_onnx(path, NULL, 0, NULL, &b, out, err);
    return s ? weft_err_prefix(err, "re-batched to %lld (the graph may fix its batch, in a Reshape's shape for one)", (long long)batch) : s;
}

weft_status weft_onnx_load_bind(const char *path, const weft_onnx_bind *b, weft_graph **out, weft_err *err) {
    if (b && b->batch && (b->batch < 1 || b->batch > ((int64_t)1 << 31)))
        return weft_err_set(err, WEFT_ERR_INVALID, "%s: batch %lld out of range", path, (long long)b->batch);
    weft_status s = load_onnx(path, NULL, 0, NULL, b, out, err);
    return s && b && b->batch ? weft_err_prefix(err, "re-batched to %lld (the graph may fix its batch, in a Reshape's shape for one)",
                                               (long long)b->batch) : s;
}

static weft_status load_onnx(const char *path, const weft_tensor *const *bound, int n_bound, bool *stays_input,
                             const weft_onnx_bind *bind, weft_graph **out, weft_err *err) {
    *out = NULL;
    Onnx__ModelProto *m;
    weft_status s = read_model(path, &m, err);
    if (s) return s;
    int opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const char *d = m->opset_import[i]->domain;
        if (!d || !*d || !strcmp(d, "ai.onnx")) opset = (int)m->opset_import[i]->version;
    }
    if (!m->graph) s = weft_err_set(err, WEFT_ERR_INVALID, "%s: the model has no graph", path);
    else if (opset < 0 && m->n_opset_import)
        s = weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: the model uses only non-default operator domains ('%s')", path,
                         m->opset_import[0]->domain ? m->opset_import[0]->domain : "");
    else if (opset < 0) s = weft_err_set(err, WEFT_ERR_INVALID, "%s: the model imports no opset", path);
    else if (opset < ONNX_OPSET_MIN || opset > ONNX_OPSET_MAX)
        s = weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: opset %d; weft reads opsets %d to %d", path, opset, ONNX_OPSET_MIN,
                         ONNX_OPSET_MAX);
    if (!s) {
        weft_graph *g = weft_graph_new(m->graph->name && *m->graph->name ? m->graph->name : path);
        char dir[4096];
        const char *slash = strrchr(path, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
        s = import_graph(path, dir, m->graph, opset, bound, n_bound, stays_input, bind, g, err);
        if (!s) s = weft_graph_verify(g, err) ? weft_err_prefix(err, "%s", path) : WEFT_OK;
        if (s) weft_graph_free(g);
        else *out = g;
    }
    onnx__model_proto__free_unpacked(m, &pb_allocator);
    return s;
}

weft_status weft_onnx_save_trained(const char *src, const weft_graph *g, const char *dst, int *replaced, weft_err *err) {
    *replaced = 0;
    Onnx__ModelProto *m;
    weft_status s = read_model(src, &m, err);
    if (s) return s;
    if (!m->graph) {
        onnx__model_proto__free_unpacked(m, &pb_allocator);
        return weft_err_set(err, WEFT_ERR_INVALID, "%s: the model has no graph", src);
    }
    /* each float initializer the graph trained takes its weights as raw_data (the original
     * payload fields kept aside and put back before the proto is freed) */
    Onnx__GraphProto *gp = m->graph;
    typedef struct { ProtobufCBinaryData raw; protobuf_c_boolean has_raw; size_t n_float, n_ext; int loc; protobuf_c_boolean has_loc; } saved;
    saved *keep = weft_xcalloc(gp->n_initializer + 1, sizeof *keep);
    for (size_t i = 0; i < gp->n_initializer; i++) {
        Onnx__TensorProto *p = gp->initializer[i];
        keep[i] = (saved){p->raw_data, p->has_raw_data, p->n_float_data, p->n_external_data, (int)p->data_location, p->has_data_location};
        if (p->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || !p->name) continue;
        for (int v = 0; v < g->n_vals; v++) {
            const weft_value *x = &g->vals[v];
            if (x->kind != WEFT_VAL_PARAM || x->dtype != WEFT_F32 || strcmp(x->name, p->name)) continue;
            int64_t numel = 1;
            for (size_t d = 0; d < p->n_dims; d++) numel *= p->dims[d];
            if (numel != weft_shape_numel(&x->shape)) break;
            p->raw_data.data = x->data.data;
            p->raw_data.len = weft_tensor_nbytes(&x->data);
            p->has_raw_data = 1;
            p->n_float_data = 0;
            p->n_external_data = 0;  /* the weights are in the file now */
            p->has_data_location = 0;
            p->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT;
            (*replaced)++;
            break;
        }
    }
    size_t n = onnx__model_proto__get_packed_size(m);
    uint8_t *out = n <= (size_t)ONNX_MAX_FILE_BYTES ? weft_try_malloc(n ? n : 1) : NULL;
    if (n > (size_t)ONNX_MAX_FILE_BYTES)
        s = weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: %zu bytes with its weights inside, over protobuf's 2 GiB limit", dst, n);
    else if (!out) s = weft_err_set(err, WEFT_ERR_NOMEM, "%s: cannot allocate %zu bytes", dst, n);
    else {
        onnx__model_proto__pack(m, out);
        s = weft_file_write_raw(dst, out, n, err);
    }
    free(out);
    for (size_t i = 0; i < gp->n_initializer; i++) {
        Onnx__TensorProto *p = gp->initializer[i];
        p->raw_data = keep[i].raw;
        p->has_raw_data = keep[i].has_raw;
        p->n_float_data = keep[i].n_float;
        p->n_external_data = keep[i].n_ext;
        p->data_location = (Onnx__TensorProto__DataLocation)keep[i].loc;
        p->has_data_location = keep[i].has_loc;
    }
    free(keep);
    onnx__model_proto__free_unpacked(m, &pb_allocator);
    return s;
}
