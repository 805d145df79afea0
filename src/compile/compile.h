/* compile: maps a verified graph onto a machine, as a pipeline of passes over the program
 * (program/program.h), each in its own file:
 *
 *   lower.c     folds what is known at compile time, chooses the stream, lowers every node to a
 *               kernel or a view by the lowering rows (lowering.c), attaches optimizer updates
 *   mode.c      the execution modes behind one interface ({name, supports, plan}); pipelined is
 *               the first: every kernel resident in one phase
 *   place.c     sizes every region (tiles in proportion to its time, at least its SRAM need)
 *               and packs the regions on the mesh; the fit error names the layer and the bytes
 *   route.c     materializes every edge's lanes and gives each multicast a channel
 *   sram.c      the SRAM a kernel needs per tile, by tile kind
 *   cost.c      stage and latency of every kernel, and the program's predicted times, from the
 *               arch's primitive costs (arch/cost.h, shared with the simulator)
 *
 * A model that does not fit fails naming the layer, the bytes it needs and the bytes available. */
#ifndef WEFT_COMPILE_H
#define WEFT_COMPILE_H

#include "program/program.h"

typedef struct {
    int max_blocks;             /* blocks the stream is cut into (0: the compiler chooses 16, 32 or 64) */
    const char *mode;           /* NULL or "auto": the compiler chooses; else a mode's name */
    const char *sections;       /* sections mode's cut (SambaFlow's levels): "o0" a kernel a
                                 * section, "o1" a module (the nodes of one name prefix), "o3" or
                                 * NULL/"auto" as many kernels as fit */
    bool timing_only;           /* the program will only be timed: GEMM tiles get no weights */
    int replicas;               /* data parallel over this many of the machine's chips, the graph
                                 * being one chip's share of the batch (0: all of its chips) */
    /* Called as the compiler works (NULL: not called): the plan it is on (`plan` of `plans`, each
     * a block count it tries) and the pass it starts ("lowering", "placing", "routing"). The
     * library prints nothing itself; `weft compile` and `weft run` show it on a terminal. */
    void (*progress)(void *ctx, int plan, int plans, int blocks, const char *pass);
    void *progress_ctx;
} weft_compile_opts;

weft_status weft_compile(const weft_graph *g, const weft_arch *a, const weft_compile_opts *o, weft_program **out,
                         weft_err *err);
/* After the graph's parameters changed (a training step's update): recomputes what the compiler
 * evaluated from them (transformed weights, the GEMM regions' tiles) without planning again;
 * the placement depends only on shapes. */
weft_status weft_program_refresh(weft_program *p, weft_err *err);

/* A program read back from a file (io/): lowers g again (the kernels' structure, the constants
 * and the tiles' weights: no placement, no routing), checks that `stored` (kernels with their
 * node, kind, region, grid, blocks and lanes; the lanes; the phases; channels_used) describes
 * the same kernels and fits the machine, and takes its placement, lanes and phases. Errors name
 * `where` and the field. */
weft_status weft_program_adopt(const weft_graph *g, const weft_arch *a, int max_blocks, const weft_program *stored,
                               const char *where, weft_program **out, weft_err *err);

#endif
