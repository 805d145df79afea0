/* What the ONNX fuzzer and the corpus replay test (tests/test_bad_input.c) do with a model that
 * loaded: verify it, then run it on the reference executor with zero inputs, bounded so that a
 * legitimately large model is skipped rather than run. Header-only, so the fuzzer needs nothing
 * from shared code beyond the public API and the graph's fields. */
#ifndef WEFT_FUZZ_COMMON_H
#define WEFT_FUZZ_COMMON_H

#include "ir/ir.h"

#include <string.h>

/* Limits for running a loaded graph: every value together, and the FLOPs of one forward pass. */
#define WEFT_FUZZ_MAX_BYTES ((int64_t)4 << 20)
#define WEFT_FUZZ_MAX_FLOPS ((int64_t)50 * 1000 * 1000)

/* Returns 1 when the graph was run (status in *s), 0 when skipped as too large. A graph that
 * weft_onnx_load returned must verify: a failure there is a bug and aborts. */
static inline int weft_fuzz_run(const weft_graph *g, weft_status *s, weft_err *err) {
    *s = weft_graph_verify(g, err);
    if (*s) {
        fprintf(stderr, "weft-fuzz: a loaded graph does not verify: %s\n", err->msg);
        abort();
    }
    int64_t total = 0;
    for (int v = 0; v < g->n_vals; v++) {
        int64_t b = weft_shape_numel(&g->vals[v].shape) * (int64_t)weft_dtype_size(g->vals[v].dtype);
        if (b < 0 || b > WEFT_FUZZ_MAX_BYTES) return 0;
        total += b;
        if (total > WEFT_FUZZ_MAX_BYTES) return 0;
    }
    weft_graph_stats st = weft_graph_count(g);
    if (st.flops < 0 || st.flops > WEFT_FUZZ_MAX_FLOPS) return 0;

    weft_tensor *in = weft_xcalloc((size_t)g->n_inputs + 1, sizeof *in);
    const weft_tensor **inp = weft_xcalloc((size_t)g->n_inputs + 1, sizeof *inp);
    weft_tensor *out = weft_xcalloc((size_t)g->n_outputs + 1, sizeof *out);
    *s = WEFT_OK;
    for (int i = 0; i < g->n_inputs && !*s; i++) {
        const weft_value *v = &g->vals[g->inputs[i]];
        *s = weft_tensor_alloc(&in[i], v->dtype, v->shape, err);
        inp[i] = &in[i];
    }
    if (!*s) {
        *s = weft_ref_run(g, inp, g->n_inputs, out, g->n_outputs, err);
        if (!*s)
            for (int k = 0; k < g->n_outputs; k++) {
                const weft_value *v = &g->vals[g->outputs[k]];
                /* the executor must deliver what the graph declares */
                if (!weft_shape_eq(&out[k].shape, &v->shape)) {
                    char a[160], b[160];
                    fprintf(stderr, "weft-fuzz: output '%s' declared %s, computed %s\n", v->name,
                            weft_shape_str(&v->shape, a, sizeof a), weft_shape_str(&out[k].shape, b, sizeof b));
                    abort();
                }
            }
    }
    for (int k = 0; k < g->n_outputs; k++) weft_tensor_free(&out[k]);
    for (int i = 0; i < g->n_inputs; i++) weft_tensor_free(&in[i]);
    free(in);
    free(inp);
    free(out);
    return 1;
}

/* A failed load must say why, and name the file. */
static inline void weft_fuzz_check_error(const char *path, weft_status s, const weft_err *err) {
    if (s == WEFT_OK) return;
    if (s < 0 || s >= WEFT_STATUS_COUNT || !err->msg[0] || !strstr(err->msg, path)) {
        fprintf(stderr, "weft-fuzz: load failed with status %d and a message that does not name the file: '%s'\n",
                (int)s, err->msg);
        abort();
    }
}

/* The input as a file the loaders can open: an in-memory file (memfd), rewritten on every call;
 * returns its path. When `magic` is given and the first byte is even, the rest of the input is
 * taken as a file's body and given weft's header (magic, version) and a correct checksum, so that
 * mutations reach the fields behind the checksum; an odd first byte (every weft file starts with
 * 'W', 0x57) writes the input as it is. */
#include "io/io.h"
#include <sys/mman.h>
#include <unistd.h>
static inline const char *weft_fuzz_file(const uint8_t *data, size_t size, const char *magic, uint32_t version) {
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("weft-fuzz", 0);
        if (fd < 0) { perror("memfd_create"); abort(); }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0)) { perror("ftruncate"); abort(); }
    if (magic && size && !(data[0] & 1)) {
        weft_buf b = {0};
        weft_buf_bytes(&b, magic, 8);
        weft_buf_u64(&b, version);
        weft_buf_bytes(&b, data + 1, size - 1);
        weft_buf_u64(&b, weft_fnv64(b.data, b.len));
        if (pwrite(fd, b.data, b.len, 0) != (ssize_t)b.len) { perror("memfd write"); abort(); }
        weft_buf_free(&b);
    } else if (size && pwrite(fd, data, size, 0) != (ssize_t)size) {
        perror("memfd write");
        abort();
    }
    return path;
}

/* A finding: prints why and aborts (libFuzzer saves the input). */
#define WEFT_FUZZ_REQUIRE(c, ...)                                                            \
    do {                                                                                     \
        if (!(c)) {                                                                          \
            fprintf(stderr, "weft-fuzz: " __VA_ARGS__);                                      \
            fprintf(stderr, "\n");                                                           \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

#endif
