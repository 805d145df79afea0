/* onnx: ONNX backend test cases. */
#ifndef WEFT_ONNX_TEST_H
#define WEFT_ONNX_TEST_H

#include "core/core.h"

typedef enum { WEFT_ONNX_PASS, WEFT_ONNX_FAIL, WEFT_ONNX_UNSUPPORTED } weft_onnx_result;

/* ONNX's backend tests compare with rtol 1e-3, atol 1e-7. */
typedef struct { double rtol, atol; } weft_onnx_tol;
#define WEFT_ONNX_TOL_DEFAULT ((weft_onnx_tol){1e-3, 1e-7})

/* Runs one case folder (model.onnx, test_data_set_*). msg receives the reason or the worst
 * difference. */
weft_onnx_result weft_onnx_test_case(const char *dir, const weft_onnx_tol *tol, char *msg, size_t msg_len);
/* The same on the fabric: compiled for arch and simulated (arch NULL: the reference executor). A
 * case the compiler cannot lower, or that does not fit the machine, is UNSUPPORTED. */
struct weft_arch;
weft_onnx_result weft_onnx_test_case_on(const char *dir, const weft_onnx_tol *tol, const struct weft_arch *arch, char *msg,
                                        size_t msg_len);

/* weft_onnx_load, also telling which bound inputs stayed graph inputs (the rest became
 * constants); stays_input has n_bound entries. Graph inputs keep the model's order. */
weft_status weft_onnx_load_bound(const char *path, const weft_tensor *const *bound, int n_bound, bool *stays_input,
                                 weft_graph **out, weft_err *err);

/* Shapes given for an ONNX model's inputs (the CLI's --input-shape, the MODEL spec's
 * "PATH#x=8x32,batch=8"): a graph input's name gives its whole shape (each symbolic dimension in
 * it takes that value everywhere it appears), another name one symbolic dimension's value
 * (shape of rank 1). */
#define WEFT_ONNX_BIND_MAX 16
typedef struct {
    int64_t batch;                      /* > 0: every graph input's leading dimension (re-batched) */
    int n;
    char name[WEFT_ONNX_BIND_MAX][128];
    weft_shape shape[WEFT_ONNX_BIND_MAX];
} weft_onnx_bind;

weft_status weft_onnx_load_bind(const char *path, const weft_onnx_bind *b, weft_graph **out, weft_err *err);

/* The ONNX model src again at dst, each float initializer that is a parameter of g (by name and
 * size) holding g's weights (inside the file: external data is brought in). *replaced: how many. */
weft_status weft_onnx_save_trained(const char *src, const weft_graph *g, const char *dst, int *replaced, weft_err *err);

#endif
