/* io: buffers, checked reads, atomic checksummed files, graph and program serialization. */
#include "io/io.h"
#include "arch/arch.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_VALUES (1 << 24)
#define MAX_NODES (1 << 24)
#define MAX_NAME 4096

/* ---- buffers ---- */

void weft_buf_bytes(weft_buf *b, const void *p, size_t n) {
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2 + 4096;
        uint8_t *d = weft_try_realloc(b->data, cap);
        if (!d) { b->failed = true; return; }
        b->data = d;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
}
void weft_buf_u64(weft_buf *b, uint64_t v) {
    uint8_t x[8];
    for (int i = 0; i < 8; i++) x[i] = (uint8_t)(v >> (8 * i));  /* little-endian on every host */
    weft_buf_bytes(b, x, 8);
}
void weft_buf_str(weft_buf *b, const char *s) {
    size_t n = strlen(s ? s : "");
    weft_buf_u64(b, n);
    weft_buf_bytes(b, s ? s : "", n);
}
void weft_buf_free(weft_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

bool weft_read_bytes(weft_reader *r, void *p, size_t n) {
    if (r->bad || n > r->len - r->pos) { r->bad = true; return false; }
    if (n) memcpy(p, r->data + r->pos, n);
    r->pos += n;
    return true;
}
uint64_t weft_read_u64(weft_reader *r) {
    uint8_t x[8] = {0};
    if (!weft_read_bytes(r, x, 8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)x[i] << (8 * i);
    return v;
}
char *weft_read_str(weft_reader *r, size_t max) {
    uint64_t n = weft_read_u64(r);
    if (r->bad || n > max || n > r->len - r->pos) { r->bad = true; return NULL; }
    char *s = weft_try_malloc((size_t)n + 1);
    if (!s) { r->bad = r->nomem = true; return NULL; }
    weft_read_bytes(r, s, (size_t)n);
    s[n] = 0;
    return s;
}

uint64_t weft_fnv64(const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

/* ---- files ---- */

weft_status weft_file_write(const char *path, const char magic[8], uint32_t version, const weft_buf *body, weft_err *err) {
    if (body->failed) return weft_err_set(err, WEFT_ERR_NOMEM, "%s: out of memory while serializing", path);
    weft_buf f = {0};
    weft_buf_bytes(&f, magic, 8);
    weft_buf_u64(&f, version);
    weft_buf_bytes(&f, body->data, body->len);
    if (!f.failed) weft_buf_u64(&f, weft_fnv64(f.data, f.len));
    if (f.failed) {
        weft_buf_free(&f);
        return weft_err_set(err, WEFT_ERR_NOMEM, "%s: out of memory while writing", path);
    }
    weft_status s = weft_file_write_raw(path, f.data, f.len, err);
    weft_buf_free(&f);
    return s;
}

weft_status weft_file_write_raw(const char *path, const void *data, size_t n, weft_err *err) {
    /* a unique temporary beside the target (two writers never collide), renamed into place, the
     * folder fsync'd after (core.h: weft_atomic_open) */
    weft_atomic a;
    weft_status s = weft_atomic_open(&a, path, err);
    if (!s) {
        if (n && fwrite(data, 1, n, a.f) != n) {
            s = weft_err_set(err, WEFT_ERR_IO, "%s: write failed: %s", path, strerror(errno));
            weft_atomic_abort(&a);
        } else s = weft_atomic_commit(&a, err);
    }
    return s;
}

weft_status weft_file_read(const char *path, const char magic[8], uint32_t version, uint8_t **file, weft_reader *body,
                           weft_err *err) {
    *file = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return weft_err_set(err, WEFT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) { fclose(f); return weft_err_set(err, WEFT_ERR_IO, "%s: not a regular file", path); }
    size_t n = (size_t)st.st_size;
    if (n < 24) { fclose(f); return weft_err_set(err, WEFT_ERR_INVALID, "%s: too short to be a weft file (%zu bytes)", path, n); }
    uint8_t *d = weft_try_malloc(n);
    if (!d) { fclose(f); return weft_err_set(err, WEFT_ERR_NOMEM, "%s: cannot allocate %zu bytes to read it", path, n); }
    bool ok = fread(d, 1, n, f) == n;
    fclose(f);
    if (!ok) { free(d); return weft_err_set(err, WEFT_ERR_IO, "%s: read error", path); }
    weft_reader r = {d, n, 0, false, false};
    char m[8];
    weft_read_bytes(&r, m, 8);
    if (memcmp(m, magic, 8)) { free(d); return weft_err_set(err, WEFT_ERR_INVALID, "%s: not a weft %.8s file (wrong magic)", path, magic); }
    uint64_t v = weft_read_u64(&r);
    if (v != version) {
        free(d);
        return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: version %llu, this weft reads version %u", path, (unsigned long long)v, version);
    }
    weft_reader tail = {d + n - 8, 8, 0, false, false};
    if (weft_read_u64(&tail) != weft_fnv64(d, n - 8)) {
        free(d);
        return weft_err_set(err, WEFT_ERR_INVALID, "%s: checksum mismatch: the file is corrupt or truncated", path);
    }
    *body = (weft_reader){d + 16, n - 24, 0, false, false};
    *file = d;
    return WEFT_OK;
}

/* ---- graphs ---- */

static void put_shape(weft_buf *b, const weft_shape *s) {
    weft_buf_u64(b, (uint64_t)s->ndim);
    for (int i = 0; i < s->ndim; i++) weft_buf_u64(b, (uint64_t)s->d[i]);
}
static void put_tensor(weft_buf *b, const weft_tensor *t) {
    weft_buf_u64(b, (uint64_t)t->dtype);
    put_shape(b, &t->shape);
    weft_buf_bytes(b, t->data, weft_tensor_nbytes(t));
}

void weft_graph_serialize(const weft_graph *g, weft_buf *b) {
    weft_buf_str(b, g->name);
    weft_buf_u64(b, (uint64_t)g->opset);
    weft_buf_u64(b, (uint64_t)g->n_vals);
    for (int v = 0; v < g->n_vals; v++) {
        const weft_value *x = &g->vals[v];
        weft_buf_str(b, x->name);
        weft_buf_u64(b, (uint64_t)x->kind);
        weft_buf_u64(b, (uint64_t)x->dtype);
        put_shape(b, &x->shape);
        weft_buf_u64(b, x->data.data != NULL);
        if (x->data.data) weft_buf_bytes(b, x->data.data, weft_tensor_nbytes(&x->data));
    }
    weft_buf_u64(b, (uint64_t)g->n_nodes);
    for (int i = 0; i < g->n_nodes; i++) {
        const weft_node *n = &g->nodes[i];
        weft_buf_str(b, n->op->name);
        weft_buf_str(b, n->name);
        weft_buf_u64(b, (uint64_t)n->opset);
        weft_buf_u64(b, (uint64_t)n->n_in);
        for (int k = 0; k < n->n_in; k++) weft_buf_u64(b, (uint64_t)(int64_t)n->in[k]);
        weft_buf_u64(b, (uint64_t)n->n_out);
        for (int k = 0; k < n->n_out; k++) weft_buf_u64(b, (uint64_t)n->out[k]);
        weft_buf_u64(b, (uint64_t)n->n_attrs);
        for (int k = 0; k < n->n_attrs; k++) {
            const weft_attr *a = &n->attrs[k];
            weft_buf_str(b, a->name);
            weft_buf_u64(b, (uint64_t)a->type);
            switch (a->type) {
            case WEFT_ATTR_INT: weft_buf_u64(b, (uint64_t)a->i); break;
            case WEFT_ATTR_FLOAT: weft_buf_bytes(b, &a->f, 4); break;
            case WEFT_ATTR_INTS: weft_buf_u64(b, (uint64_t)a->n); weft_buf_bytes(b, a->ints, (size_t)a->n * 8); break;
            case WEFT_ATTR_FLOATS: weft_buf_u64(b, (uint64_t)a->n); weft_buf_bytes(b, a->floats, (size_t)a->n * 4); break;
            case WEFT_ATTR_STRING: weft_buf_str(b, a->s); break;
            case WEFT_ATTR_TENSOR: put_tensor(b, a->t); break;
            }
        }
    }
    weft_buf_u64(b, (uint64_t)g->n_inputs);
    for (int k = 0; k < g->n_inputs; k++) weft_buf_u64(b, (uint64_t)g->inputs[k]);
    weft_buf_u64(b, (uint64_t)g->n_outputs);
    for (int k = 0; k < g->n_outputs; k++) weft_buf_u64(b, (uint64_t)g->outputs[k]);
}

static bool get_shape(weft_reader *r, weft_shape *s) {
    uint64_t nd = weft_read_u64(r);
    if (nd > WEFT_MAX_DIMS) return r->bad = true, false;
    s->ndim = (int)nd;
    for (int i = 0; i < s->ndim; i++) s->d[i] = (int64_t)weft_read_u64(r);
    return !r->bad;
}

/* Reads numel elements of dt into a new tensor, refusing sizes the remaining bytes cannot hold. */
static bool get_data(weft_reader *r, weft_dtype dt, const weft_shape *s, weft_tensor *t) {
    weft_err e = {0};
    if ((unsigned)dt >= WEFT_DTYPE_COUNT || weft_shape_check_size(s, dt, &e)) return r->bad = true, false;
    if ((size_t)weft_shape_numel(s) * weft_dtype_size(dt) > r->len - r->pos) return r->bad = true, false;
    if (weft_tensor_alloc(t, dt, *s, &e)) return r->bad = true, false;
    return weft_read_bytes(r, t->data, weft_tensor_nbytes(t));
}

static bool bad_id(weft_reader *r, uint64_t id, int n) {
    if (id >= (uint64_t)n) r->bad = true;
    return r->bad;
}

weft_status weft_graph_deserialize(weft_reader *r, const char *where, weft_graph **out, weft_err *err) {
    *out = NULL;
    char *name = weft_read_str(r, MAX_NAME);
    weft_graph *g = weft_graph_new(name ? name : "graph");
    free(name);
    g->opset = (int)weft_read_u64(r);
    uint64_t nv = weft_read_u64(r);
    if (nv > MAX_VALUES) r->bad = true;
    for (uint64_t v = 0; v < nv && !r->bad; v++) {
        char *vn = weft_read_str(r, MAX_NAME);
        uint64_t kind = weft_read_u64(r), dt = weft_read_u64(r);
        weft_shape s = {0};
        get_shape(r, &s);
        bool has = weft_read_u64(r) != 0;
        weft_tensor t = {0};
        if (kind > WEFT_VAL_ACT || dt >= WEFT_DTYPE_COUNT) r->bad = true;
        if (!r->bad && has) get_data(r, (weft_dtype)dt, &s, &t);
        if (!r->bad) {
            int id = weft_graph_add_value(g, vn, (weft_val_kind)kind, (weft_dtype)dt, s, has ? &t : NULL);
            if (kind == WEFT_VAL_ACT) g->vals[id].producer = -2;  /* set by its node below */
        }
        weft_tensor_free(&t);
        free(vn);
    }
    uint64_t nn = weft_read_u64(r);
    if (nn > MAX_NODES) r->bad = true;
    for (uint64_t i = 0; i < nn && !r->bad; i++) {
        char *op = weft_read_str(r, MAX_NAME), *nm = weft_read_str(r, MAX_NAME);
        weft_node n = {.forward = -1};  /* not stored: a loaded graph places in graph order */
        n.op = op ? weft_op_find(op) : NULL;
        if (!r->bad && !n.op) {
            weft_status s = weft_err_set(err, WEFT_ERR_INVALID, "%s: node %llu uses unknown op '%s'", where, (unsigned long long)i, op);
            free(op); free(nm); weft_graph_free(g);
            return s;
        }
        free(op);
        n.name = nm ? nm : weft_xstrdup("");
        n.opset = (int)weft_read_u64(r);
        uint64_t ni = weft_read_u64(r);
        if (ni > WEFT_MAX_IO) r->bad = true;
        n.n_in = r->bad ? 0 : (int)ni;
        n.in = weft_xcalloc((size_t)n.n_in + 1, sizeof(int));
        for (int k = 0; k < n.n_in && !r->bad; k++) {
            int64_t id = (int64_t)weft_read_u64(r);
            if (id < -1 || id >= g->n_vals) r->bad = true;
            n.in[k] = (int)id;
        }
        uint64_t no = r->bad ? 0 : weft_read_u64(r);
        if (no > WEFT_MAX_IO) r->bad = true;
        n.n_out = r->bad ? 0 : (int)no;
        n.out = weft_xcalloc((size_t)n.n_out + 1, sizeof(int));
        for (int k = 0; k < n.n_out && !r->bad; k++) {
            uint64_t id = weft_read_u64(r);
            if (!bad_id(r, id, g->n_vals) && g->vals[id].producer != -2) r->bad = true;  /* an output must be a fresh ACT */
            if (!r->bad) { n.out[k] = (int)id; g->vals[id].producer = g->n_nodes; }
        }
        uint64_t na = r->bad ? 0 : weft_read_u64(r);
        if (na > 256) { r->bad = true; na = 0; }  /* before the calloc below sizes by it */
        n.attrs = weft_xcalloc((size_t)na + 1, sizeof(weft_attr));
        for (uint64_t k = 0; k < na && !r->bad; k++) {
            weft_attr *a = &n.attrs[n.n_attrs];
            a->name = weft_read_str(r, MAX_NAME);
            uint64_t ty = weft_read_u64(r);
            if (ty > WEFT_ATTR_TENSOR || !a->name) { r->bad = true; free((void *)a->name); break; }
            a->type = (weft_attr_type)ty;
            n.n_attrs++;
            if (ty == WEFT_ATTR_INT) a->i = (int64_t)weft_read_u64(r);
            else if (ty == WEFT_ATTR_FLOAT) weft_read_bytes(r, &a->f, 4);
            else if (ty == WEFT_ATTR_INTS || ty == WEFT_ATTR_FLOATS) {
                uint64_t cnt = weft_read_u64(r);
                size_t es = ty == WEFT_ATTR_INTS ? 8 : 4;
                if (cnt > (r->len - r->pos) / es) { r->bad = true; break; }
                void *p = weft_xmalloc((size_t)cnt * es + 1);
                weft_read_bytes(r, p, (size_t)cnt * es);
                a->n = (int)cnt;
                if (ty == WEFT_ATTR_INTS) a->ints = p;
                else a->floats = p;
            } else if (ty == WEFT_ATTR_STRING) a->s = weft_read_str(r, 1 << 20);
            else {
                weft_tensor *t = weft_xcalloc(1, sizeof *t);
                uint64_t dt = weft_read_u64(r);
                weft_shape s = {0};
                get_shape(r, &s);
                if (!r->bad) get_data(r, (weft_dtype)dt, &s, t);
                a->t = t;
            }
        }
        /* append the node as built (owned by the graph from here) */
        if (g->n_nodes == g->cap_nodes) {
            g->cap_nodes = g->cap_nodes ? 2 * g->cap_nodes : 64;
            g->nodes = weft_xrealloc(g->nodes, (size_t)g->cap_nodes * sizeof *g->nodes);
        }
        g->nodes[g->n_nodes++] = n;
    }
    uint64_t ni = weft_read_u64(r);
    if (ni > (uint64_t)g->n_vals) r->bad = true;
    for (uint64_t k = 0; k < ni && !r->bad; k++) {
        uint64_t id = weft_read_u64(r);
        if (bad_id(r, id, g->n_vals) || g->vals[id].kind != WEFT_VAL_INPUT) { r->bad = true; break; }
        g->inputs = weft_xrealloc(g->inputs, (size_t)(g->n_inputs + 1) * sizeof(int));
        g->inputs[g->n_inputs++] = (int)id;
    }
    uint64_t no = weft_read_u64(r);
    if (no > (uint64_t)g->n_vals) r->bad = true;
    for (uint64_t k = 0; k < no && !r->bad; k++) {
        uint64_t id = weft_read_u64(r);
        if (!bad_id(r, id, g->n_vals)) weft_graph_output(g, (int)id);
    }
    for (int v = 0; v < g->n_vals && !r->bad; v++)
        if (g->vals[v].producer == -2) r->bad = true;  /* an activation no node computes */
    if (r->bad) {
        weft_graph_free(g);
        if (r->nomem) return weft_err_set(err, WEFT_ERR_NOMEM, "%s: out of memory reading the graph (at byte %zu)", where, r->pos);
        return weft_err_set(err, WEFT_ERR_INVALID, "%s: malformed graph (at byte %zu)", where, r->pos);
    }
    weft_status s = weft_graph_verify(g, err);
    if (s) { weft_graph_free(g); return weft_err_prefix(err, "%s", where); }
    *out = g;
    return WEFT_OK;
}

static const char GRAPH_MAGIC[8] = {'W', 'E', 'F', 'T', 'G', 'R', 'P', 'H'};
static const char PROG_MAGIC[8] = {'W', 'E', 'F', 'T', 'P', 'R', 'O', 'G'};

weft_status weft_graph_save(const weft_graph *g, const char *path, weft_err *err) {
    weft_buf b = {0};
    weft_graph_serialize(g, &b);
    weft_status s = weft_file_write(path, GRAPH_MAGIC, WEFT_GRAPH_FILE_VERSION, &b, err);
    weft_buf_free(&b);
    return s;
}

weft_status weft_graph_load(const char *path, weft_graph **out, weft_err *err) {
    *out = NULL; /* also when the file cannot be read */
    uint8_t *file;
    weft_reader r;
    weft_status s = weft_file_read(path, GRAPH_MAGIC, WEFT_GRAPH_FILE_VERSION, &file, &r, err);
    if (s) return s;
    s = weft_graph_deserialize(&r, path, out, err);
    if (!s && r.pos != r.len) {
        weft_graph_free(*out);
        *out = NULL;
        s = weft_err_set(err, WEFT_ERR_INVALID, "%s: %zu bytes after the graph's end", path, r.len - r.pos);
    }
    free(file);
    return s;
}

/* ---- programs ---- */

/* The program's data beside its graph: every kernel's node, kind, region, grid, blocks and
 * lanes; the lanes with their channels; the phases. Loading lowers the graph again (no
 * placement, no routing) and checks this against it (weft_program_adopt). */
static void put_program(const weft_program *p, weft_buf *b) {
    weft_buf_u64(b, (uint64_t)p->n);
    for (int i = 0; i < p->n; i++) {
        const weft_kernel *k = &p->k[i];
        const int64_t f[] = {k->node, k->kind, k->chip, k->x0, k->y0, k->w, k->h, k->pk, k->pn, k->blocks, k->n_deps,
                             k->out_lane0, k->out_lanes};
        for (size_t j = 0; j < sizeof f / sizeof *f; j++) weft_buf_u64(b, (uint64_t)f[j]);
        for (int d = 0; d < k->n_deps; d++) {
            weft_buf_u64(b, (uint64_t)(int64_t)k->dep_channel[d]);
            weft_buf_u64(b, (uint64_t)k->dep_lane0[d]);
            weft_buf_u64(b, (uint64_t)k->dep_lanes[d]);
        }
    }
    weft_buf_u64(b, (uint64_t)p->n_lanes);
    for (int l = 0; l < p->n_lanes; l++) {
        const weft_lane *ln = &p->lanes[l];
        const int64_t f[] = {ln->chip, ln->x0, ln->y0, ln->x1, ln->y1, ln->xm, ln->channel, ln->yx, ln->via};
        for (size_t j = 0; j < sizeof f / sizeof *f; j++) weft_buf_u64(b, (uint64_t)f[j]);
    }
    weft_buf_u64(b, (uint64_t)p->n_phases);
    for (int i = 0; i < p->n_phases; i++) {
        const weft_phase *ph = &p->phases[i];
        const int64_t f[] = {ph->first_kernel, ph->n_kernels, ph->weight_in_bytes, ph->spill_bytes, ph->fill_bytes};
        for (size_t j = 0; j < sizeof f / sizeof *f; j++) weft_buf_u64(b, (uint64_t)f[j]);
    }
    weft_buf_u64(b, (uint64_t)p->channels_used);
}

/* An int read as a signed 64-bit value, checked against [lo, hi]. */
static int get_int(weft_reader *r, int64_t lo, int64_t hi) {
    int64_t v = (int64_t)weft_read_u64(r);
    if (v < lo || v > hi) { r->bad = true; return 0; }
    return (int)v;
}

/* Reads put_program's data into st (kernels, lanes, phases: owned, freed by free_stored). */
static void get_program(weft_reader *r, const weft_graph *g, weft_program *st) {
    const int big = 1 << 30;
    st->n = get_int(r, 0, g->n_nodes);
    st->k = weft_xcalloc((size_t)st->n + 1, sizeof *st->k);
    for (int i = 0; i < st->n && !r->bad; i++) {
        weft_kernel *k = &st->k[i];
        k->node = get_int(r, 0, g->n_nodes - 1);
        k->kind = (weft_kernel_kind)get_int(r, 0, WEFT_KERNEL_WHOLE);
        k->chip = get_int(r, 0, 0);
        k->x0 = get_int(r, 0, WEFT_ARCH_MAX_DIM), k->y0 = get_int(r, 0, WEFT_ARCH_MAX_DIM);
        k->w = get_int(r, 0, WEFT_ARCH_MAX_DIM), k->h = get_int(r, 0, WEFT_ARCH_MAX_DIM);
        k->pk = get_int(r, 0, WEFT_ARCH_MAX_DIM), k->pn = get_int(r, 0, WEFT_ARCH_MAX_DIM);
        k->blocks = get_int(r, 1, 4096);
        k->n_deps = get_int(r, 0, WEFT_KERNEL_MAX_DEPS);
        k->out_lane0 = get_int(r, 0, big), k->out_lanes = get_int(r, 0, WEFT_MAX_LANES);
        for (int d = 0; d < k->n_deps && !r->bad; d++) {
            k->dep_channel[d] = get_int(r, -1, 64);
            k->dep_lane0[d] = get_int(r, 0, big);
            k->dep_lanes[d] = get_int(r, 0, WEFT_MAX_LANES);
        }
    }
    int nl = get_int(r, 0, big);
    if (!r->bad && (size_t)nl * 9 * 8 > r->len - r->pos) r->bad = true;  /* bounded by the bytes that remain */
    st->n_lanes = r->bad ? 0 : nl;
    st->lanes = weft_xcalloc((size_t)st->n_lanes + 1, sizeof *st->lanes);
    for (int l = 0; l < st->n_lanes && !r->bad; l++) {
        weft_lane *ln = &st->lanes[l];
        ln->chip = get_int(r, 0, 0);
        ln->x0 = get_int(r, 0, WEFT_ARCH_MAX_DIM), ln->y0 = get_int(r, 0, WEFT_ARCH_MAX_DIM);
        ln->x1 = get_int(r, 0, WEFT_ARCH_MAX_DIM), ln->y1 = get_int(r, 0, WEFT_ARCH_MAX_DIM);
        ln->xm = get_int(r, 0, WEFT_ARCH_MAX_DIM), ln->channel = get_int(r, -1, 64);
        ln->yx = get_int(r, 0, 1), ln->via = get_int(r, 0, 1);
    }
    st->n_phases = get_int(r, 0, 1 << 16);
    if (!r->bad && (size_t)st->n_phases * 5 * 8 > r->len - r->pos) r->bad = true;
    if (r->bad) st->n_phases = 0;
    st->phases = weft_xcalloc((size_t)st->n_phases + 1, sizeof *st->phases);
    for (int i = 0; i < st->n_phases && !r->bad; i++) {
        weft_phase *ph = &st->phases[i];
        ph->first_kernel = get_int(r, 0, big), ph->n_kernels = get_int(r, 0, big);
        ph->weight_in_bytes = (int64_t)weft_read_u64(r), ph->spill_bytes = (int64_t)weft_read_u64(r);
        ph->fill_bytes = (int64_t)weft_read_u64(r);
    }
    st->channels_used = get_int(r, 0, 64);
}

static void free_stored(weft_program *st) {
    free(st->k);
    free(st->lanes);
    free(st->phases);
}

weft_status weft_program_save(const weft_program *p, const char *path, weft_err *err) {
    if (p->phased)  /* (the file holds one phase's placement; phases, the stash and spills are not stored) */
        return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: a %s program cannot be saved yet (only pipelined ones); compile it "
                            "where it runs", path, p->mode);
    if (p->timing_only)
        return weft_err_set(err, WEFT_ERR_INVALID, "%s: a program compiled for timing only (no weights) is not saved", path);
    if (p->replicas > 1)
        return weft_err_set(err, WEFT_ERR_UNSUPPORTED, "%s: a program of %d replicas (data parallel) cannot be saved yet; compile it "
                            "where it runs", path, p->replicas);
    weft_buf b = {0};
    char *arch = weft_arch_to_json(&p->arch);
    weft_buf_str(&b, arch);
    free(arch);
    weft_buf_u64(&b, (uint64_t)p->blocks);
    weft_graph_serialize(p->graph, &b);
    put_program(p, &b);
    weft_status s = weft_file_write(path, PROG_MAGIC, WEFT_PROGRAM_FILE_VERSION, &b, err);
    weft_buf_free(&b);
    return s;
}

weft_status weft_program_load(const char *path, weft_graph **g_out, weft_program **out, weft_err *err) {
    *g_out = NULL;
    *out = NULL;
    uint8_t *file;
    weft_reader r;
    weft_status s = weft_file_read(path, PROG_MAGIC, WEFT_PROGRAM_FILE_VERSION, &file, &r, err);
    if (s) return s;
    char *json = weft_read_str(&r, 1 << 20);
    int64_t blocks = (int64_t)weft_read_u64(&r);
    weft_arch arch;
    char where[4200];
    snprintf(where, sizeof where, "%s (machine)", path);
    if (!json || r.bad || blocks < 1 || blocks > 4096) s = weft_err_set(err, WEFT_ERR_INVALID, "%s: malformed program header", path);
    else s = weft_arch_parse(json, where, &arch, err);
    free(json);
    weft_graph *g = NULL;
    if (!s) s = weft_graph_deserialize(&r, path, &g, err);
    weft_program stored = {0}, *p = NULL;
    if (!s) {
        get_program(&r, g, &stored);
        if (r.bad || r.pos != r.len) s = weft_err_set(err, WEFT_ERR_INVALID, "%s: malformed program data (kernels, lanes or phases)", path);
    }
    if (!s) s = weft_program_adopt(g, &arch, (int)blocks, &stored, path, &p, err);
    free_stored(&stored);
    free(file);
    if (s) { weft_program_free(p); weft_graph_free(g); return s; }
    *g_out = g;
    *out = p;
    return WEFT_OK;
}
