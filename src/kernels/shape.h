/* kernels: data movement (transpose, slice, tile, pad, gather/scatter, depth<->space), and the
 * reductions along axes (ReduceX, ArgMax/ArgMin, CumSum, TopK) and Resize.
 *
 * Movement kernels work on raw row-major buffers and know nothing of dtypes: `es` is the element
 * size in bytes (1, 4 or 8 for the compute dtypes BOOL, F32, I64). Index arrays are int64 and
 * already normalized (0 <= i < dim) by the caller: these kernels never check bounds on data.
 * Arithmetic kernels take compute dtypes: F32 or I64 (`is_float` chooses). */
#ifndef WEFT_KERNELS_SHAPE_H
#define WEFT_KERNELS_SHAPE_H

#include "core/core.h"

/* dst (shape, dense) = src read at element offset `offset` + sum_k idx[k] * strides[k].
 * Strides may be zero (broadcast) or negative (reversed slice). Transpose, Slice, Expand and
 * DepthToSpace are all this kernel with different strides. */
void weft_copy_strided(void *dst, const void *src, size_t es, const weft_shape *shape, const int64_t *strides,
                       int64_t offset);

/* The adjoint of weft_copy_strided: dst at offset + sum_k idx[k] * strides[k] = src (shape, dense).
 * The positions must be distinct (no zero stride on an axis longer than 1); others keep their
 * value. Slice's backward. */
void weft_scatter_strided(void *dst, const void *src, size_t es, const weft_shape *shape, const int64_t *strides,
                          int64_t offset);

/* dst (out) = src (in) repeated: out.d[k] is a multiple of in.d[k]. */
void weft_tile(void *dst, const void *src, size_t es, const weft_shape *in, const weft_shape *out);

/* Pad modes, as ONNX names them. */
typedef enum { WEFT_PAD_CONSTANT, WEFT_PAD_REFLECT, WEFT_PAD_EDGE } weft_pad_mode;
/* dst (out) = src (in) shifted by begin[k] along each axis (negative: cropped); positions outside
 * src take *value (constant), the mirror image without the edge (reflect), or the edge (edge).
 * Reflect needs in.d[k] >= 2 and edge in.d[k] >= 1 on every axis that pads. */
void weft_pad(void *dst, const void *src, size_t es, const weft_shape *in, const weft_shape *out, const int64_t *begin,
              weft_pad_mode mode, const void *value);

/* dst (outer, n_idx, inner) = src (outer, axis_len, inner)[:, idx, :]. */
void weft_gather(void *dst, const void *src, size_t es, int64_t outer, int64_t axis_len, int64_t inner,
                 const int64_t *idx, int64_t n_idx);

/* The adjoint of weft_gather on floats: dx (outer, axis_len, inner) = zeros, then
 * dx[:, idx[j], :] += dy (outer, n_idx, inner)[:, j, :] (repeated indices accumulate). */
void weft_gather_backward(float *dx, const float *dy, int64_t outer, int64_t axis_len, int64_t inner,
                          const int64_t *idx, int64_t n_idx);

/* dst (ishape) = src (dshape) with coordinate `axis` replaced by idx (ishape); same rank. */
void weft_gather_elements(void *dst, const void *src, size_t es, const weft_shape *dshape, const weft_shape *ishape,
                          const int64_t *idx, int axis);

/* Scatter reductions, as ONNX names them. */
typedef enum { WEFT_SCATTER_NONE, WEFT_SCATTER_ADD, WEFT_SCATTER_MUL, WEFT_SCATTER_MAX, WEFT_SCATTER_MIN } weft_scatter_red;
/* data (dshape) [coordinate axis := idx] op= upd, for every element of upd/idx (ishape). `dt` is
 * the compute dtype (F32, I64 or BOOL; BOOL only with NONE). */
void weft_scatter_elements(void *data, weft_dtype dt, const weft_shape *dshape, const void *upd, const weft_shape *ishape,
                           const int64_t *idx, int axis, weft_scatter_red red);

/* GatherND: dst (batch, n_tuples, slice) = src (batch, src_batch_stride) at the m-tuples in idx
 * (batch, n_tuples, m), each tuple addressing dims dims[0..m) of a batch (strides in elements in
 * tstrides[0..m)), copying `slice` elements. */
void weft_gather_nd(void *dst, const void *src, size_t es, int64_t batch, int64_t src_batch_stride, int64_t n_tuples,
                    int m, const int64_t *tstrides, const int64_t *idx, int64_t slice);
/* ScatterND: data [tuple t] op= upd (n_tuples, slice); tuples (n_tuples, m) with element strides
 * tstrides[0..m). */
void weft_scatter_nd(void *data, weft_dtype dt, const void *upd, int64_t n_tuples, int m, const int64_t *tstrides,
                     const int64_t *idx, int64_t slice, weft_scatter_red red);

/* ---- along-axis arithmetic: x viewed as (outer, n, inner), the axis in the middle ---- */

/* y = cumulative sum along the axis; exclusive: shifted by one; reverse: from the end. */
void weft_cumsum(void *y, const void *x, bool is_float, int64_t outer, int64_t n, int64_t inner, bool exclusive,
                 bool reverse);

/* y (outer, inner) = index of the largest (argmax) or smallest value along the axis; ties go to
 * the first index, or the last with `last`. NaN wins over every number (numpy's rule). */
void weft_argext(int64_t *y, const void *x, bool is_float, int64_t outer, int64_t n, int64_t inner, bool argmax,
                 bool last);

/* The k largest (or smallest) along the axis, sorted; equal values in index order.
 * vals (outer, k, inner) in x's dtype, idx (outer, k, inner). */
void weft_topk(void *vals, int64_t *idx, const void *x, bool is_float, int64_t outer, int64_t n, int64_t inner,
               int64_t k, bool largest);

typedef enum {
    WEFT_REDUCE_SUM, WEFT_REDUCE_MEAN, WEFT_REDUCE_MAX, WEFT_REDUCE_MIN, WEFT_REDUCE_PROD, WEFT_REDUCE_SUM_SQUARE,
    WEFT_REDUCE_L1, WEFT_REDUCE_L2, WEFT_REDUCE_LOG_SUM, WEFT_REDUCE_LOG_SUM_EXP, WEFT_REDUCE_COUNT
} weft_reduce_op;
/* y = reduction of x (in) over the axes whose bit is set in `axes`; y holds the product of the
 * kept dims, in order (keepdims or not, the layout is the same). Floats accumulate in double;
 * integers in int64 (Mean divides, truncating; L2/LogSum/LogSumExp round the float result).
 * An empty reduction gives the identity: 0, 1, -inf / +inf for max / min. */
void weft_reduce(weft_reduce_op op, void *y, const void *x, bool is_float, const weft_shape *in, uint32_t axes);

/* ---- Resize ---- */

typedef enum { WEFT_RESIZE_NEAREST, WEFT_RESIZE_LINEAR, WEFT_RESIZE_CUBIC } weft_resize_mode;
typedef enum {
    WEFT_COORD_HALF_PIXEL, WEFT_COORD_PYTORCH_HALF_PIXEL, WEFT_COORD_ALIGN_CORNERS, WEFT_COORD_ASYMMETRIC,
    WEFT_COORD_TF_CROP_AND_RESIZE, WEFT_COORD_HALF_PIXEL_SYMMETRIC,
    WEFT_COORD_TF_HALF_PIXEL_FOR_NN
} weft_coord_mode;
/* SIMPLE: opset 10's rule, floor when upsampling and ceil when downsampling. */
typedef enum { WEFT_NEAREST_ROUND_PREFER_FLOOR, WEFT_NEAREST_ROUND_PREFER_CEIL, WEFT_NEAREST_FLOOR, WEFT_NEAREST_CEIL,
               WEFT_NEAREST_SIMPLE } weft_nearest_mode;
typedef struct {
    weft_resize_mode mode;
    weft_coord_mode coord;
    weft_nearest_mode nearest;
    float cubic_a;          /* cubic coefficient, -0.75 by default */
    bool exclude_outside;   /* cubic: drop weights of taps outside the input, renormalize */
    float extrapolation;    /* tf_crop_and_resize: value outside the input */
    double scale[WEFT_MAX_DIMS];               /* per axis, out / in */
    double roi_start[WEFT_MAX_DIMS], roi_end[WEFT_MAX_DIMS]; /* tf_crop_and_resize, normalized */
} weft_resize_params;
/* y (out) = x (in) resampled along every axis (axes whose size and scale are unchanged copy). */
void weft_resize(float *y, const float *x, const weft_shape *in, const weft_shape *out, const weft_resize_params *p);

#endif
