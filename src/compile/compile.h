/* compile: maps a verified graph onto a machine in pipelined (spatial) mode.
 *
 * Every node becomes a kernel on its own rectangular region of tiles:
 *   GEMM    MatMul / Gemm whose right operand is a weight (a parameter, or any value computed
 *           only from parameters and constants: those are evaluated at compile time), and Conv
 *           (group 1) as the GEMM of its patches (im2col rows) with the weight. The
 *           region is a pk x pn grid; tile (i, j) holds W[K block i, N block j] for the whole
 *           run. Activations stream in as row blocks of mb rows: row i of the region receives
 *           X[rows, K block i] and multicasts it east; partial sums flow south down each column,
 *           each tile adding its own; the last tile of column j holds Y[rows, N block j].
 *   STREAM  any other kernel whose output keeps the stream axis (the tokens of a sequence, or
 *           the batch): element-wise ops, Softmax / LayerNormalization over other axes, Slice,
 *           Transpose, the attention MatMuls: block b of the output needs block b of each
 *           streamed input, and the inputs it needs whole (the keys and values of attention).
 *   VIEW    Reshape, Flatten, Squeeze, Unsqueeze, Identity of an activation take no region:
 *           the data stays where it is, only the row count its consumers see changes.
 *   WHOLE   everything else the compiler lowers (MatMul of two activations as in attention,
 *           Transpose, Gather, Conv and pooling, Concat, ...): the kernel
 *           waits for all row blocks of its inputs, then computes the whole tensor across its
 *           region.
 * Regions are sized in proportion to their work so the pipeline is balanced, no smaller than
 * their SRAM needs, placed in vertical strips west to east in graph order, and every edge is
 * routed (X then Y) and given a channel within the machine's budget. A model that does not fit
 * fails naming the layer, the bytes it needs and the bytes available. */
#ifndef WEFT_COMPILE_H
#define WEFT_COMPILE_H

#include "arch/arch.h"
#include "ir/ir.h"
#include "kernels/nn.h"

typedef enum { WEFT_KERNEL_GEMM, WEFT_KERNEL_STREAM, WEFT_KERNEL_WHOLE } weft_kernel_kind;

#define WEFT_KERNEL_MAX_DEPS 64  /* = WEFT_MAX_IO: a node's inputs */

typedef struct {
    int node;                   /* graph node index */
    weft_kernel_kind kind;
    int x0, y0, w, h;           /* region on the mesh (tiles) */
    int pk, pn;                 /* GEMM grid (pk rows of K blocks, pn columns of N blocks) */
    int64_t M, K, N;            /* GEMM: Y(M, N) = X(M, K) W(K, N); others: output (M, N) rows x cols */
    int blocks;                 /* row blocks streamed through the kernel */
    int64_t block_rows;         /* mb: rows a GEMM takes at a time (a chunk), else rows per block */
    int chunks;                 /* GEMM: chunks per block */
    int n_deps;
    int dep[WEFT_KERNEL_MAX_DEPS];        /* producing kernel index, or -1 for a graph input */
    int dep_value[WEFT_KERNEL_MAX_DEPS];  /* the value carried */
    int dep_channel[WEFT_KERNEL_MAX_DEPS];
    bool dep_whole[WEFT_KERNEL_MAX_DEPS];  /* the kernel needs all blocks of this input before its first */
    bool dep_prefix[WEFT_KERNEL_MAX_DEPS]; /* block b needs blocks 0..b of this input (causal attention) */
    int64_t flops;              /* whole tensor */
    int64_t weight_bytes;       /* resident in the region */
    int64_t sram_per_tile;      /* the plan's peak, bytes */
    uint64_t block_cycles;      /* planned cycles a row block occupies the region (its stage time) */
    uint64_t block_latency;     /* planned cycles from a block's start to its output being ready */
    uint64_t t_compute, t_in, t_out; /* GEMM, per block and tile: the tile GEMM, the X block's
                                      * serialization into a row, the partial's down a column */
    weft_tensor weight;         /* GEMM: W as (K, N) fp32, evaluated at compile time (owned) */
    bool conv;                  /* GEMM from a Conv: rows are output pixels, K = C prod(k), N = M */
    bool accumulates;           /* takes its inputs' blocks one by one into a whole output that it
                                 * sends once, after the last (a sum over the stream: a weight's
                                 * gradient X^T dY, the keys' and values' gradients, a bias's) */
    int host;                   /* -1, or the kernel whose region this kernel shares: a
                                 * parameter's optimizer update runs on the tiles holding it */
    int64_t attached_bytes;     /* a host: SRAM its attached updates add (gradient and optimizer
                                 * state, updated in place), over the whole region */
    weft_window win;            /* conv: the window */
} weft_kernel;

#define WEFT_NODE_FOLDED (-1)  /* computed at compile time */
#define WEFT_NODE_VIEW (-2)    /* a Reshape-like view: no kernel, its value stays in its input's region */

struct weft_program {
    weft_arch arch;
    const weft_graph *graph;    /* borrowed: must outlive the program */
    weft_kernel *k;
    int n;
    int *kernel_of_node;        /* (n_nodes) kernel index, WEFT_NODE_FOLDED or WEFT_NODE_VIEW */
    int *kernel_of_value;       /* (n_vals) kernel whose region holds the value, -1 for inputs and constants */
    int *stream_axis;           /* (n_vals) the axis of the value that streams in blocks, -1 if none */
    int64_t stream_len;         /* L: the stream's extent (tokens of a sequence model, else the batch) */
    int blocks;                 /* min(L, 64): blocks of every streamed value */
    weft_tensor *folded;        /* (n_vals) values computed at compile time (owned), data NULL if not */
    int channels_used;
    int64_t tiles_used;
    int64_t sram_max, sram_total;
    uint64_t predicted_cycles;  /* the plan's estimate of one pass: fill + blocks x slowest stage */
};

typedef struct {
    int max_blocks;             /* blocks the stream is cut into, at most (0: 64) */
} weft_compile_opts;

weft_status weft_compile(const weft_graph *g, const weft_arch *a, const weft_compile_opts *o, weft_program **out,
                         weft_err *err);
void weft_program_free(weft_program *p);
/* After the graph's parameters changed (a training step's update): recomputes what the compiler
 * evaluated from them (transformed weights, the GEMM regions' tiles) without planning again;
 * the placement depends only on shapes. */
weft_status weft_program_refresh(weft_program *p, weft_err *err);
void weft_program_print(const weft_program *p, FILE *f);
/* An edge between regions travels as parallel lanes: from tiles along the producer's output side
 * (a GEMM: its bottom row, where the column sums end; others: its east column) to tiles along
 * the consumer's input side (its west column), one dimension-ordered route each. A graph input
 * enters from off-chip memory at the west edge, row by row; an output leaves at the east edge. */
typedef struct { int x0, y0, x1, y1; bool yx; } weft_lane;
#define WEFT_MAX_LANES 64
/* Lanes of the edge from kernel src (-1: off-chip input) to kernel dst (-1: off-chip output). */
int weft_edge_lanes(const weft_program *p, int src, int dst, weft_lane *lanes);

/* Is dependency q needed as a prefix (blocks 0..b for block b)? Causal attention's keys and values. */
bool weft_kernel_dep_prefix(const weft_kernel *k, int q);
/* Does block b of dependency q feed block b of kernel k (else k waits for all its blocks)? */
bool weft_kernel_dep_rowwise(const weft_program *p, const weft_kernel *k, int q);
/* The arithmetic a kernel does (WEFT_ARCH_FP32, _FP16 or _BF16, by its output's storage) and
 * the fastest rate a tile kind has for it, in flops per cycle. */
int weft_kernel_arith(const weft_program *p, const weft_kernel *k);
double weft_kernel_rate(const weft_program *p, const weft_kernel *k);
/* Blocks in which value v travels: the program's blocks when it has the stream axis, else 1. */
int weft_value_blocks(const weft_program *p, int v);
/* Blocks in which kernel k's output travels (1 for a whole or accumulating kernel). */
int weft_kernel_out_blocks(const weft_kernel *k);
/* Does every dependency of k stream row block by row block? */
bool weft_kernel_streams(const weft_program *p, const weft_kernel *k);
/* Does k's SRAM plan hold its inputs whole (see sram_need in compile.c)? */
bool weft_kernel_holds_whole(const weft_program *p, const weft_kernel *k);

/* The fixed-order tile GEMM of the fabric: C(m, n) += A(m, k) B(k, n), row strides lda, ldb, ldc.
 * Each element accumulates over k in ascending order, whatever m and n are, so computing a
 * region's tiles one by one or all at once gives identical bits. */
void weft_tile_gemm(int64_t m, int64_t n, int64_t k, const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                    int64_t ldc);

#endif
