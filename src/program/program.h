/* program: a compiled program as plain data. The compiler (compile/) writes it; the simulator
 * (sim/), the reports and the program files only read it, so none of them needs the compiler.
 *
 * A program is a list of kernels, each on a rectangular region of tiles of one chip, its inputs'
 * edges materialized as lanes (dimension-ordered routes) with their channel, and a list of
 * phases: the kernels resident on the fabric together. A pipelined program has one phase (every
 * layer resident, samples streaming through); later modes (weight streaming, sections) have
 * many. Kinds of kernel:
 *   GEMM    Y(M, N) = X(M, K) W(K, N) with W resident: tile (i, j) of the pk x pn grid holds
 *           W[K block i, N block j]; row i receives X[rows, K block i] and multicasts it east;
 *           partial sums flow south down each column; the last tile of column j holds
 *           Y[rows, N block j]. Conv (group 1) is the GEMM of its patches.
 *   STREAM  block b of the output needs block b of each streamed input (a prefix 0..b of a
 *           causal input, all of an input needed whole).
 *   WHOLE   waits for all blocks of its inputs, then computes the whole tensor on its region.
 * Data streams in blocks (units): the blocks of each sequence in turn, sequence after sequence
 * (a token stream: sample s, token block j is unit s * blocks_per_seq + j; a value holds the
 * samples on one axis and the tokens on another, or both merged on one axis, sample-major), or
 * the batch cut into blocks when there are no tokens. A kernel takes block after block at its
 * stage time (block_cycles) and sends each output block after its latency (block_latency). */
#ifndef WEFT_PROGRAM_H
#define WEFT_PROGRAM_H

#include "arch/arch.h"
#include "ir/ir.h"
#include "kernels/nn.h"

typedef enum { WEFT_KERNEL_GEMM, WEFT_KERNEL_STREAM, WEFT_KERNEL_WHOLE } weft_kernel_kind;

/* What block b of a kernel needs of an input: its block b; the blocks of b's sequence up to b
 * (causal attention's keys and values); every block of b's sequence (attention's keys without a
 * mask); or every block of the pass (an input that does not stream, a batch statistic). */
typedef enum { WEFT_DEP_BLOCK, WEFT_DEP_PREFIX, WEFT_DEP_SEQUENCE, WEFT_DEP_WHOLE } weft_dep_kind;

#define WEFT_KERNEL_MAX_DEPS 64  /* = WEFT_MAX_IO: a node's inputs */
#define WEFT_MAX_LANES 64        /* lanes of one edge */

/* One lane of an edge: a dimension-ordered route on chip `chip` from (x0, y0) to (x1, y1): X
 * then Y; Y then X when yx; with `via`, X to column xm, Y to row y1, X to x1 (lanes between
 * regions in different rows each turn in a column of their own, so they do not all funnel
 * through one column's links). */
typedef struct { int chip; int x0, y0, x1, y1, xm; int channel; bool yx, via; } weft_lane;
/* The direction (WEFT_DIR_*) of the next hop along lane l from (x, y); -1 at its end. */
int weft_lane_step(const weft_lane *l, int x, int y);
/* Lane l of n of an edge: the same for every consumer that splits a block n ways, so lanes with
 * one tag carry the same bytes of a multicast (1 .. 8256: below WEFT_NET_TAGS). */
static inline uint32_t weft_lane_tag(int l, int n) { return 1 + (uint32_t)(l * 128 + n); }

/* The kernels resident together, and what moves on and off chip at the phase's start. A
 * pipelined program has one phase holding every kernel; a weight-streaming one a phase per
 * layer in program order (forward, then backward), each on the whole mesh, whose weights stream
 * in from off-chip memory while the phase before computes. */
typedef struct {
    int first_kernel, n_kernels;
    int64_t weight_in_bytes;            /* streamed in from off-chip memory at the start */
    int64_t spill_bytes, fill_bytes;    /* activations out to / back from off-chip memory */
    int64_t stash_bytes;                /* activations made earlier, kept on the fabric for this
                                         * phase or a later one (spread over the mesh) */
    uint64_t recompute_cycles;          /* weight streaming: recomputing, before the phase, the
                                         * activations it reads that were not kept (the chain of
                                         * kernels that made them, each on the whole mesh) */
    int64_t prefetch_bytes;             /* SRAM free for later phases' weights while this one
                                         * runs (the mesh's usable bytes less its plan and the stash) */
} weft_phase;

typedef struct {
    int node;                   /* graph node index */
    weft_kernel_kind kind;
    int chip;                   /* the chip whose tiles hold the region */
    int x0, y0, w, h;           /* region on that chip's mesh (tiles) */
    int pk, pn;                 /* GEMM grid (pk rows of K blocks, pn columns of N blocks) */
    int64_t M, K, N;            /* GEMM: Y(M, N) = X(M, K) W(K, N); others: output (M, N) rows x cols */
    int blocks;                 /* row blocks streamed through the kernel */
    int64_t block_rows;         /* mb: rows a GEMM takes at a time (a chunk), else rows per block */
    int chunks;                 /* GEMM: chunks per block */
    int n_deps;
    int dep[WEFT_KERNEL_MAX_DEPS];        /* producing kernel index, or -1 for a graph input */
    int dep_value[WEFT_KERNEL_MAX_DEPS];  /* the value carried */
    int dep_channel[WEFT_KERNEL_MAX_DEPS];
    int dep_lane0[WEFT_KERNEL_MAX_DEPS];  /* the edge's lanes: p->lanes[dep_lane0 .. + dep_lanes) */
    int dep_lanes[WEFT_KERNEL_MAX_DEPS];
    weft_dep_kind dep_kind[WEFT_KERNEL_MAX_DEPS];
    bool dep_spilled[WEFT_KERNEL_MAX_DEPS]; /* sections: made in an earlier section, written to
                                             * off-chip memory and read back in this one's */
    bool dep_outside[WEFT_KERNEL_MAX_DEPS]; /* sections: made in an earlier section (kept in the
                                             * memory tiles or spilled), read at this one's pace */
    bool dep_reduced[WEFT_KERNEL_MAX_DEPS]; /* data parallel: a parameter's gradient into the
                                             * optimizer, summed over the replicas on the way */
    int out_lane0, out_lanes;   /* a graph output's lanes to the off-chip edge (0 lanes: none) */
    int arith;                  /* WEFT_ARCH_FP32, _FP16 or _BF16: by its output's storage */
    int row_reductions;         /* reductions across a row per block (softmax: max, sum) */
    int64_t flops;              /* whole tensor */
    int64_t weight_bytes;       /* resident in the region */
    bool weights_streamed;      /* sections: too large to hold, its resident operands stream in
                                 * from DDR as it runs (an optimizer update over a large
                                 * parameter); not counted in its SRAM plan. With weight_chunks
                                 * > 1: in so many chunks, two held at a time (an element-wise
                                 * kernel's inputs and outputs with them; a GEMM's weights in
                                 * column chunks, its input read back from DDR once per chunk, the
                                 * first kernel of its section) */
    int weight_chunks;          /* 0 or 1: the weights held whole */
    int pass_waits;             /* the most times, on any path from the graph's inputs, its inputs
                                 * wait for a whole pass of something (a WHOLE input, an
                                 * accumulation): compile/lower.c */
    int64_t sram_per_tile;      /* the plan's peak, bytes */
    uint64_t block_cycles;      /* planned cycles a row block occupies the region (its stage time) */
    uint64_t block_latency;     /* planned cycles from a block's start to its output being ready */
    uint64_t t_compute, t_in, t_out; /* GEMM, per chunk and tile: the tile GEMM, the X block's
                                      * serialization into a row, the partial's down a column */
    weft_tensor weight;         /* GEMM: W as (K, N) fp32, evaluated at compile time (owned) */
    bool conv;                  /* GEMM from a Conv: rows are output pixels, K = C prod(k), N = M */
    bool trans_b;               /* GEMM from a Gemm with transB: the weight operand is (N, K) */
    float alpha;                /* GEMM: Gemm's alpha (1 otherwise), folded into the tiles' W */
    bool accumulates;           /* takes its inputs' blocks one by one into a whole output that it
                                 * sends once, after the last (a sum over the stream: a weight's
                                 * gradient X^T dY, the keys' and values' gradients, a bias's) */
    bool offchip;               /* runs in the off-chip memory unit, not on the fabric (weight
                                 * streaming: MemoryX applies the optimizer update); no region */
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
    const char *mode;           /* the execution mode that planned it ("pipelined", "weight-streaming") */
    char mode_reason[400];      /* why the compiler chose it, when it chose ("" when asked for) */
    bool timing_only;           /* compiled without weights on the tiles: it can only be timed */
    int replicas;               /* data parallel: chips running this program on their own share
                                 * of the batch, the gradients summed over the chip network before
                                 * the optimizer (1: one chip). The program is one chip's. */
    weft_kernel *k;
    int n;
    weft_phase *phases;
    int n_phases;
    bool phased;                /* the phases run one after another (weight streaming, sections);
                                 * else one phase holds every kernel */
    bool weight_streaming;      /* a phase per layer on the whole mesh, its inputs in the stash */
    int n_recomputed;           /* weight streaming: activations recomputed where read instead of
                                 * kept (chosen when the stash does not fit), and their bytes */
    int64_t recomputed_bytes;
    weft_lane *lanes;           /* (n_lanes) every edge's lanes, owned */
    int n_lanes, cap_lanes;
    int *kernel_of_node;        /* (n_nodes) kernel index, WEFT_NODE_FOLDED or WEFT_NODE_VIEW */
    int *kernel_of_value;       /* (n_vals) kernel whose region holds the value, -1 for inputs and constants */
    int *stream_axis;           /* (n_vals) the axis of the value that streams in blocks, -1 if none */
    int *sample_axis;           /* (n_vals) a token stream of several sequences: the axis holding
                                 * the samples, = stream_axis where samples and tokens are merged
                                 * (sample-major); -1 otherwise */
    int64_t stream_len;         /* L: the stream's extent (tokens of a sequence model, else the batch) */
    int64_t samples;            /* samples in one pass: the batch (the first input's leading extent) */
    int blocks;                 /* blocks (units) of every streamed value in one pass */
    int blocks_per_seq;         /* blocks of one sequence: = blocks unless a pass streams several */
    weft_tensor *folded;        /* (n_vals) values computed at compile time (owned), data NULL if not */
    int channels_used;
    int64_t tiles_used;
    int64_t sram_max, sram_total;
    uint64_t predicted_cycles;  /* the plan's estimate of one pass: fill + blocks x slowest stage */
    uint64_t predicted_period;  /* the plan's estimate of the steady-state interval between passes */
};

void weft_program_free(weft_program *p);
void weft_program_print(const weft_program *p, FILE *f);
/* Appends a lane to p->lanes; returns its index. */
int weft_program_add_lane(weft_program *p, weft_lane l);  /* its index; -1: out of memory */

/* Does block b of dependency q feed block b of kernel k? */
static inline bool weft_kernel_dep_rowwise(const weft_kernel *k, int q) { return k->dep_kind[q] == WEFT_DEP_BLOCK; }
/* The last block of dependency q that block b of kernel k needs (blocks of the pass; -1: all). */
static inline int weft_dep_last_block(const weft_program *p, const weft_kernel *k, int q, int b) {
    switch (k->dep_kind[q]) {
    case WEFT_DEP_BLOCK:
    case WEFT_DEP_PREFIX: return b;
    case WEFT_DEP_SEQUENCE: return (b / p->blocks_per_seq + 1) * p->blocks_per_seq - 1;
    default: return -1;
    }
}
/* Blocks in which value v travels: the program's blocks when it has the stream axis, else 1. */
static inline int weft_value_blocks(const weft_program *p, int v) { return p->stream_axis[v] >= 0 ? p->blocks : 1; }
/* Blocks in which kernel k's output travels (1 for a whole or accumulating kernel). */
static inline int weft_kernel_out_blocks(const weft_kernel *k) { return k->accumulates ? 1 : k->blocks; }
/* Blocks in which input q of kernel k arrives: the producer's blocks where the value keeps the
 * stream; one, after the producer's last block, where it does not (the producer sums over the
 * stream, or the value is an output that does, such as a layer norm's gradient of its gain). */
static inline int weft_dep_blocks(const weft_program *p, const weft_kernel *k, int q) {
    if (k->dep[q] >= 0 && p->k[k->dep[q]].accumulates) return 1;
    return weft_value_blocks(p, k->dep_value[q]);
}
/* Does every dependency of k stream row block by row block? */
bool weft_kernel_streams(const weft_kernel *k);
/* Blocks of input q that k's SRAM plan holds at once (compile/sram.c). */
int weft_kernel_held_blocks(const weft_program *p, const weft_kernel *k, int q);
/* The whole-pass waits behind input q of kernel k as it arrives: its producer's, and one more
 * when the producer accumulates (its output comes once a pass). */
static inline int weft_dep_waits(const weft_program *p, const weft_kernel *k, int q) {
    const weft_kernel *d = k->dep[q] >= 0 ? &p->k[k->dep[q]] : NULL;
    return d ? d->pass_waits + d->accumulates : 0;
}
/* Sections: how many times kernel k reads its input q back from DDR: twice one it needs whole
 * (a first look for what needs all of it, then the output), once per chunk for a GEMM that
 * streams its weights or an accumulation that sums a column chunk at a time, else once. */
static inline int weft_dep_reads(const weft_kernel *k, int q) {
    if (k->weight_chunks > 1 && (k->kind == WEFT_KERNEL_GEMM || k->accumulates)) return k->weight_chunks;
    return k->dep_kind[q] == WEFT_DEP_WHOLE ? 2 : 1;
}
/* The fastest rate a tile kind of the machine has for k's arithmetic, in flops per cycle. */
double weft_kernel_rate(const weft_program *p, const weft_kernel *k);
/* Bytes of a value at its storage width. */
int64_t weft_program_value_bytes(const weft_program *p, int v);
/* The edges whose lanes cross link `link` ((y * width + x) * 4 + direction): up to `max` of them
 * as (consumer kernel, dependency slot) in kernel[] and slot[]; returns how many cross it. */
int weft_program_edges_on_link(const weft_program *p, int64_t link, int *kernel, int *slot, int max);
/* Where dependency `slot` of kernel `kernel` comes from: the producing node's name, or the graph
 * input value's. */
const char *weft_program_dep_source(const weft_program *p, int kernel, int slot);

#endif
