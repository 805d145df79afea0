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
        ln->channel = -1;  /* until colored (an output's lanes to the off-chip edge keep none) */
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
        ln->via = false;
        ln->xm = ln->x1;
        if (!ln->yx && ln->y0 != ln->y1 && n > 1) {
            /* between rows: each lane turns in a column of its own, spread between the sides */
            int lo = ln->x0 < ln->x1 ? ln->x0 : ln->x1, hi = ln->x0 < ln->x1 ? ln->x1 : ln->x0;
            ln->via = true;
            ln->xm = ln->x0 > ln->x1 ? hi - (int)((int64_t)(hi - lo) * l / n) : lo + (int)((int64_t)(hi - lo) * l / n);
        }
    }
    return n;
}

/* Colors: a kernel's output travels to all of its consumers as one multicast on one channel, so
 * every edge from the same producer (or of the same graph input) shares a color; that color must
 * be free on every link of every lane of the multicast. Colors 0 and 1 stay inside regions. */
typedef void (*lane_fn)(size_t link, void *ud);

static void walk_lane(const weft_program *p, const weft_lane *ln, lane_fn fn, void *ud) {
    int x = ln->x0, y = ln->y0;
    for (int dir; (dir = weft_lane_step(ln, x, y)) >= 0;) {
        fn(((size_t)y * (size_t)p->arch.width + (size_t)x) * 4 + (size_t)dir, ud);
        weft_dir_step(dir, &x, &y);
    }
}

typedef struct { uint64_t *used, mask; int color; } color_walk;
static void gather_mask(size_t l, void *ud) { color_walk *w = ud; w->mask |= w->used[l]; }
static void take_color(size_t l, void *ud) { color_walk *w = ud; w->used[l] |= 1ull << w->color; }

/* The consumers of each source, as (kernel, slot) pairs: sources 0..n-1 are kernels, n + j the
 * graph's j-th input. */
typedef struct { int *start, *kernel, *slot; } consumers;

static void free_consumers(consumers *c) {
    free(c->start);
    free(c->kernel);
    free(c->slot);
}

/* False when out of memory (c holds nothing then). */
static bool find_consumers(const weft_program *p, consumers *out) {
    const weft_graph *g = p->graph;
    int ns = p->n + g->n_inputs, total = 0;
    consumers c = {weft_try_calloc((size_t)ns + 2, sizeof(int)), NULL, NULL};
    int *input_of = weft_try_malloc(((size_t)g->n_vals + 1) * sizeof(int));
    bool ok = c.start && input_of;
    for (int v = 0; v < g->n_vals && ok; v++) input_of[v] = -1;
    for (int j = 0; j < g->n_inputs && ok; j++) input_of[g->inputs[j]] = j;
    for (int pass = 0; pass < 2 && ok; pass++) {
        int *fill = pass ? weft_try_calloc((size_t)ns + 1, sizeof(int)) : NULL;
        if (pass && !fill) { ok = false; break; }
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
            c.kernel = weft_try_malloc(((size_t)total + 1) * sizeof(int));
            c.slot = weft_try_malloc(((size_t)total + 1) * sizeof(int));
            ok = c.kernel && c.slot;
        }
        free(fill);
    }
    free(input_of);
    if (!ok) free_consumers(&c), c = (consumers){0};
    *out = c;
    return ok;
}

/* Per link, for a lane that changes color at routers: is some link full, and taking the lowest
 * free color on each. */
typedef struct { uint64_t *used; int limit; long long full_link; } hop_walk;
static uint64_t edge_colors(int limit) {
    uint64_t m = 0;
    for (int c = WEFT_RESERVED_CHANNELS; c < limit; c++) m |= 1ull << c;
    return m;
}
static void find_full_link(size_t l, void *ud) {
    hop_walk *w = ud;
    uint64_t all = edge_colors(w->limit);
    if (w->full_link < 0 && (w->used[l] & all) == all) w->full_link = (long long)l;
}
static void take_any(size_t l, void *ud) {
    hop_walk *w = ud;
    uint64_t free_ = edge_colors(w->limit) & ~w->used[l];
    w->used[l] |= free_ & (~free_ + 1);  /* the lowest free color */
}

/* The lowest color free on every lane in [lanes of the given edges], or -1. */
static int free_color(const weft_program *p, color_walk *w, const int *lane0, const int *nlanes, int n_edges, int limit) {
    w->mask = 0;
    for (int e = 0; e < n_edges; e++)
        for (int l = lane0[e]; l < lane0[e] + nlanes[e]; l++) walk_lane(p, &p->lanes[l], gather_mask, w);
    for (int c = WEFT_RESERVED_CHANNELS; c < limit; c++)
        if (!(w->mask >> c & 1)) return c;
    return -1;
}

static void take(weft_program *p, color_walk *w, int color, int lane0, int nlanes) {
    w->color = color;
    if (color + 1 > p->channels_used) p->channels_used = color + 1;
    for (int l = lane0; l < lane0 + nlanes; l++) {
        p->lanes[l].channel = color;
        walk_lane(p, &p->lanes[l], take_color, w);
    }
}

/* Materializes every edge's lanes (the simulator reads them, never recomputes them). */
static bool materialize(weft_program *p) {
    p->n_lanes = 0;
    weft_lane lanes[WEFT_MAX_LANES];
    const weft_graph *g = p->graph;
    for (int i = 0; i < p->n; i++) {
        weft_kernel *k = &p->k[i];
        for (int q = 0; q < k->n_deps; q++) {
            int nl = weft_route_edge_lanes(p, k->dep[q], i, lanes);
            k->dep_lane0[q] = p->n_lanes;
            k->dep_lanes[q] = nl;
            for (int l = 0; l < nl; l++)
                if (weft_program_add_lane(p, lanes[l]) < 0) return false;
        }
        k->out_lanes = 0;
        for (int j = 0; j < g->n_outputs; j++)
            if (p->kernel_of_value[g->outputs[j]] == i) {
                int nl = weft_route_edge_lanes(p, i, -1, lanes);
                k->out_lane0 = p->n_lanes;
                k->out_lanes = nl;
                for (int l = 0; l < nl; l++)
                    if (weft_program_add_lane(p, lanes[l]) < 0) return false;
                break;
            }
    }
    return true;
}

/* Colors: a kernel's output travels to all its consumers as one multicast on one color when one
 * is free on every link of every lane; else each edge on a color of its own, else each lane
 * (the simulator sends every edge and lane separately, so the timing is the same); else the
 * lane changes color at routers, taking a free color on each link (an assumption: the budget
 * is then the channels of each link). Colors 0 and 1 stay inside regions. Fails naming the
 * edge and the link when a link has no free color. */
weft_status weft_pass_route(weft_program *p, weft_err *err) {
    const weft_arch *a = &p->arch;
    const weft_graph *g = p->graph;
    size_t links = (size_t)a->width * (size_t)a->height * 4;
    color_walk w = {weft_try_calloc(links, sizeof(uint64_t)), 0, 0};
    int limit = a->channels < 64 ? a->channels : 64;
    p->channels_used = WEFT_RESERVED_CHANNELS < a->channels ? WEFT_RESERVED_CHANNELS : a->channels;
    weft_status s = WEFT_OK;
    consumers c = {0};
    int cap = 0, *l0 = NULL, *nl = NULL;
    if (!w.used || !materialize(p) || !find_consumers(p, &c)) s = weft_pass_oom(p, "the routes", err);
    for (int src_i = 0; src_i < p->n + g->n_inputs && !s; src_i++) {
        int ne = c.start[src_i + 1] - c.start[src_i];
        if (!ne) continue;
        if (ne > cap) {
            int *a0 = weft_try_realloc(l0, (size_t)ne * sizeof(int)), *a1 = a0 ? weft_try_realloc(nl, (size_t)ne * sizeof(int)) : NULL;
            if (a0) l0 = a0;
            if (a1) nl = a1;
            if (!a0 || !a1) { s = weft_pass_oom(p, "the routes", err); break; }
            cap = ne;
        }
        for (int e = 0; e < ne; e++) {
            const weft_kernel *k = &p->k[c.kernel[c.start[src_i] + e]];
            int slot = c.slot[c.start[src_i] + e];
            l0[e] = k->dep_lane0[slot];
            nl[e] = k->dep_lanes[slot];
        }
        int col = free_color(p, &w, l0, nl, ne, limit);
        for (int e = 0; e < ne && col >= 0; e++) take(p, &w, col, l0[e], nl[e]);
        for (int e = 0; e < ne && col < 0 && !s; e++) {
            int ce = free_color(p, &w, &l0[e], &nl[e], 1, limit);
            if (ce >= 0) { take(p, &w, ce, l0[e], nl[e]); continue; }
            for (int l = l0[e]; l < l0[e] + nl[e] && !s; l++) {
                int one = 1, cl = free_color(p, &w, &l, &one, 1, limit);
                if (cl >= 0) { take(p, &w, cl, l, 1); continue; }
                /* last: the lane changes color at a router, taking a free one on each link */
                hop_walk hw = {w.used, limit, -1};
                walk_lane(p, &p->lanes[l], find_full_link, &hw);
                if (hw.full_link < 0) {
                    walk_lane(p, &p->lanes[l], take_any, &hw);
                    p->lanes[l].channel = -1;
                    continue;
                }
                int src = src_i < p->n ? src_i : -1;
                const char *what = src >= 0 ? g->nodes[p->k[src].node].name : g->vals[g->inputs[src_i - p->n]].name;
                const weft_lane *ln = &p->lanes[l];
                s = weft_err_set(err, WEFT_ERR_NOMEM,
                                 "routing: the edge from '%s' to '%s' cannot be routed on %s: its lane from tile (%d, %d) to (%d, %d) "
                                 "crosses the link %s of tile (%lld, %lld), which already carries all %d channels for edges (%d "
                                 "channels in all, %d kept inside regions); a machine with more channels would route it",
                                 what, g->nodes[p->k[c.kernel[c.start[src_i] + e]].node].name, a->name, ln->x0, ln->y0, ln->x1,
                                 ln->y1, weft_dir_name((int)(hw.full_link % 4)),
                                 hw.full_link / 4 % a->width, hw.full_link / 4 / a->width, limit - WEFT_RESERVED_CHANNELS, limit,
                                 WEFT_RESERVED_CHANNELS);
            }
        }
        for (int e = 0; e < ne; e++) {
            const weft_kernel *k = &p->k[c.kernel[c.start[src_i] + e]];
            p->k[c.kernel[c.start[src_i] + e]].dep_channel[c.slot[c.start[src_i] + e]] = p->lanes[k->dep_lane0[c.slot[c.start[src_i] + e]]].channel;
        }
    }
    free(l0);
    free(nl);
    free(w.used);
    free(c.start);
    free(c.kernel);
    free(c.slot);
    return s;
}
