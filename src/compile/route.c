/* compile: routing and channels (passes.h).
 *
 * Reads: the placed regions. Writes: every edge's lanes into p->lanes (each dependency's
 * dep_lane0 / dep_lanes, each graph output's out_lane0 / out_lanes) and its channel
 * (dep_channel); p->channels_used. An edge between regions travels as parallel lanes: from
 * tiles along the producer's output side (a GEMM: its bottom row, where the column sums end;
 * others: its east column) to tiles along the consumer's input side (its west column), one
 * dimension-ordered route each. A graph input enters from off-chip memory at the west edge, row
 * by row; an output leaves at the east edge. A kernel's output travels to all of its consumers
 * as one multicast on one channel, which must be free on every link of every lane. */
#include "compile/passes.h"

#include <string.h>

/* A kernel's output side: tile i of n (GEMM: bottom row; others: east column). */
static void out_side(const weft_kernel *k, int i, int *x, int *y, int *n) {
    if (k->kind == WEFT_KERNEL_GEMM) { *n = k->w; *x = k->x0 + i; *y = k->y0 + k->h - 1; }
    else { *n = k->h; *x = k->x0 + k->w - 1; *y = k->y0 + i; }
}

int weft_route_edge_lanes(const weft_program *p, int src, int dst, weft_lane *lanes) {
    const weft_arch *a = &p->arch;
    int n_out, n_in, x, y;
    if (src >= 0) out_side(&p->k[src], 0, &x, &y, &n_out);
    else n_out = dst >= 0 ? p->k[dst].h : 1;
    n_in = dst >= 0 ? p->k[dst].h : n_out;
    int n = n_out < n_in ? n_out : n_in;
    if (n > WEFT_MAX_LANES) n = WEFT_MAX_LANES;
    if (n < 1) n = 1;
    for (int l = 0; l < n; l++) {
        weft_lane *ln = &lanes[l];
        ln->chip = (dst >= 0 ? p->k[dst].chip : p->k[src].chip);
        int i_in = (int)((int64_t)l * n_in / n), i_out = (int)((int64_t)l * n_out / n);
        if (dst >= 0) { ln->x1 = p->k[dst].x0; ln->y1 = p->k[dst].y0 + i_in; }
        if (src >= 0) out_side(&p->k[src], i_out, &ln->x0, &ln->y0, &x);
        else { ln->x0 = 0; ln->y0 = ln->y1; }                  /* off-chip input: the west edge */
        if (dst < 0) {  /* off-chip output: the east edge, each lane on its own row of the region */
            const weft_kernel *k = &p->k[src];
            ln->x1 = a->width - 1;
            ln->y1 = k->kind == WEFT_KERNEL_GEMM ? k->y0 + (int)((int64_t)l * k->h / n) : ln->y0;
        }
        /* lanes leaving along a row go down their own columns first, then along their own rows */
        ln->yx = src >= 0 && p->k[src].kind == WEFT_KERNEL_GEMM;
    }
    return n;
}

/* Colors: a kernel's output travels to all of its consumers as one multicast on one channel, so
 * every edge from the same producer (or of the same graph input) shares a color; that color must
 * be free on every link of every lane of the multicast. Colors 0 and 1 stay inside regions. */
typedef void (*lane_fn)(size_t link, void *ud);

static void walk_lanes(const weft_program *p, int src, int dst, lane_fn fn, void *ud) {
    const weft_arch *a = &p->arch;
    weft_lane lanes[WEFT_MAX_LANES];
    int nl = weft_route_edge_lanes(p, src, dst, lanes);
    for (int l = 0; l < nl; l++) {
        int x = lanes[l].x0, y = lanes[l].y0;
        while (x != lanes[l].x1 || y != lanes[l].y1) {
            int dir = lanes[l].yx && y != lanes[l].y1 ? (y < lanes[l].y1 ? WEFT_DIR_SOUTH : WEFT_DIR_NORTH)
                      : x < lanes[l].x1 ? WEFT_DIR_EAST : x > lanes[l].x1 ? WEFT_DIR_WEST
                      : y < lanes[l].y1 ? WEFT_DIR_SOUTH : WEFT_DIR_NORTH;
            fn(((size_t)y * (size_t)a->width + (size_t)x) * 4 + (size_t)dir, ud);
            x += dir == WEFT_DIR_EAST ? 1 : dir == WEFT_DIR_WEST ? -1 : 0;
            y += dir == WEFT_DIR_SOUTH ? 1 : dir == WEFT_DIR_NORTH ? -1 : 0;
        }
    }
}

typedef struct { uint64_t *used, mask; int color; } color_walk;
static void gather_mask(size_t l, void *ud) { color_walk *w = ud; w->mask |= w->used[l]; }
static void take_color(size_t l, void *ud) { color_walk *w = ud; w->used[l] |= 1ull << w->color; }

/* The consumers of each source, as (kernel, slot) pairs: sources 0..n-1 are kernels, n + j the
 * graph's j-th input. */
typedef struct { int *start, *kernel, *slot; } consumers;

static consumers find_consumers(const weft_program *p) {
    const weft_graph *g = p->graph;
    int ns = p->n + g->n_inputs, total = 0;
    consumers c = {weft_xcalloc((size_t)ns + 2, sizeof(int)), NULL, NULL};
    int *input_of = weft_xmalloc(((size_t)g->n_vals + 1) * sizeof(int));
    for (int v = 0; v < g->n_vals; v++) input_of[v] = -1;
    for (int j = 0; j < g->n_inputs; j++) input_of[g->inputs[j]] = j;
    for (int pass = 0; pass < 2; pass++) {
        int *fill = pass ? weft_xcalloc((size_t)ns + 1, sizeof(int)) : NULL;
        for (int i = 0; i < p->n; i++)
            for (int q = 0; q < p->k[i].n_deps; q++) {
                const weft_kernel *k = &p->k[i];
                int src = k->dep[q] >= 0 ? k->dep[q] : input_of[k->dep_value[q]] >= 0 ? p->n + input_of[k->dep_value[q]] : -1;
                if (src < 0) continue;
                if (!pass) { c.start[src + 1]++; total++; continue; }
                int at = c.start[src] + fill[src]++;
                c.kernel[at] = i;
                c.slot[at] = q;
            }
        if (!pass) {
            for (int s = 0; s < ns; s++) c.start[s + 1] += c.start[s];
            c.kernel = weft_xmalloc(((size_t)total + 1) * sizeof(int));
            c.slot = weft_xmalloc(((size_t)total + 1) * sizeof(int));
        }
        free(fill);
    }
    free(input_of);
    return c;
}

/* The link of a lane walk where every routable channel is taken, for the error. */
typedef struct { const uint64_t *used; uint64_t full; long long link; } full_walk;
static void find_full(size_t l, void *ud) {
    full_walk *w = ud;
    if (w->link < 0 && (w->used[l] & w->full) == w->full) w->link = (long long)l;
}

weft_status weft_pass_route(weft_program *p, weft_err *err) {
    const weft_arch *a = &p->arch;
    const weft_graph *g = p->graph;
    size_t links = (size_t)a->width * (size_t)a->height * 4;
    color_walk w = {weft_xcalloc(links, sizeof(uint64_t)), 0, 0};
    int limit = a->channels < 64 ? a->channels : 64;
    p->channels_used = WEFT_RESERVED_CHANNELS < a->channels ? WEFT_RESERVED_CHANNELS : a->channels;
    weft_status s = WEFT_OK;
    consumers c = find_consumers(p);
    /* sources: every kernel, then every graph input */
    for (int src_i = 0; src_i < p->n + g->n_inputs && !s; src_i++) {
        int src = src_i < p->n ? src_i : -1;
        if (c.start[src_i] == c.start[src_i + 1]) continue;
        w.mask = 0;
        for (int e = c.start[src_i]; e < c.start[src_i + 1]; e++) walk_lanes(p, src, c.kernel[e], gather_mask, &w);
        int col = WEFT_RESERVED_CHANNELS;
        while (col < limit && (w.mask >> col & 1)) col++;
        if (col >= limit) {
            const char *what = src >= 0 ? g->nodes[p->k[src].node].name : g->vals[g->inputs[src_i - p->n]].name;
            /* name the consumer whose route is full, and where */
            full_walk fw = {w.used, 0, -1};
            for (int ch = WEFT_RESERVED_CHANNELS; ch < limit; ch++) fw.full |= 1ull << ch;
            int to = -1;
            for (int e = c.start[src_i]; e < c.start[src_i + 1] && fw.link < 0; e++) {
                walk_lanes(p, src, c.kernel[e], find_full, &fw);
                to = c.kernel[e];
            }
            static const char *const dirs[] = {"east", "west", "north", "south"};
            long long l = fw.link < 0 ? 0 : fw.link;
            s = weft_err_set(err, WEFT_ERR_NOMEM,
                             "routing: the edge from '%s' to '%s' cannot be routed: the link %s of tile (%lld, %lld) already "
                             "carries all %d routable channels of %s (%d inside regions, %d for edges between them); a machine "
                             "with more channels, or a model with fewer long edges, would route",
                             what, to >= 0 ? g->nodes[p->k[to].node].name : "?", dirs[l % 4], l / 4 % a->width, l / 4 / a->width,
                             limit, a->name, WEFT_RESERVED_CHANNELS, limit - WEFT_RESERVED_CHANNELS);
            break;
        }
        w.color = col;
        if (col + 1 > p->channels_used) p->channels_used = col + 1;
        for (int e = c.start[src_i]; e < c.start[src_i + 1]; e++) {
            p->k[c.kernel[e]].dep_channel[c.slot[e]] = col;
            walk_lanes(p, src, c.kernel[e], take_color, &w);
        }
    }
    free(w.used);
    free(c.start);
    free(c.kernel);
    free(c.slot);
    if (s) return s;
    /* materialize every edge's lanes: the simulator reads them, never recomputes them */
    p->n_lanes = 0;
    weft_lane lanes[WEFT_MAX_LANES];
    const weft_graph *gr = p->graph;
    for (int i = 0; i < p->n; i++) {
        weft_kernel *k = &p->k[i];
        for (int q = 0; q < k->n_deps; q++) {
            int nl = weft_route_edge_lanes(p, k->dep[q], i, lanes);
            k->dep_lane0[q] = p->n_lanes;
            k->dep_lanes[q] = nl;
            for (int l = 0; l < nl; l++) weft_program_add_lane(p, lanes[l]);
        }
        k->out_lanes = 0;
        for (int j = 0; j < gr->n_outputs; j++)
            if (p->kernel_of_value[gr->outputs[j]] == i) {
                int nl = weft_route_edge_lanes(p, i, -1, lanes);
                k->out_lane0 = p->n_lanes;
                k->out_lanes = nl;
                for (int l = 0; l < nl; l++) weft_program_add_lane(p, lanes[l]);
                break;
            }
    }
    return WEFT_OK;
}
