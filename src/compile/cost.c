/* compile: the cost model (passes.h).
 *
 * Reads: every kernel as placed (region, grid, blocks, dependencies and their lanes) and the
 * arch's primitive costs (arch/cost.h, the simulator's too). Writes: each kernel's stage
 * (block_cycles: how long a block occupies the region), latency (block_latency: from a block's
 * start to its output being ready) and GEMM tile times; the program's predicted cycles for one
 * pass and for the steady-state period between passes; the SRAM totals.
 *
 * Data movement inside a region is pipelined: wavelets stream through the routers, so a
 * multicast along n tiles or a reduction chain down n tiles costs n hops plus one serialization
 * of the data, not n serializations. A block's arrival over an edge costs its bytes serialized
 * over the edge's lanes, so a region fed through few lanes is slow whatever its arithmetic. */
#include "compile/passes.h"
#include "arch/cost.h"

static uint64_t max3(uint64_t a, uint64_t b, uint64_t c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

static int64_t block_bytes_of(const weft_program *p, int v) {
    return weft_program_value_bytes(p, v) / weft_value_blocks(p, v);
}

/* The serialization of the largest input block over its edge's lanes. */
static uint64_t edge_in(const weft_program *p, const weft_kernel *k) {
    uint64_t worst = 0;
    weft_lane lanes[WEFT_MAX_LANES];
    for (int q = 0; q < k->n_deps; q++) {
        int n = weft_route_edge_lanes(p, k->dep[q], (int)(k - p->k), lanes);
        uint64_t t = weft_cost_serialize(&p->arch, (double)block_bytes_of(p, k->dep_value[q]), n);
        if (t > worst) worst = t;
    }
    return worst;
}

void weft_cost_kernel(const weft_program *p, weft_kernel *k) {
    const weft_arch *a = &p->arch;
    int64_t tiles = (int64_t)k->w * k->h;
    int64_t es = 4;
    if (k->host >= 0) { k->block_cycles = 1; k->block_latency = 1; }
    if (k->offchip) {  /* the off-chip unit's arithmetic */
        k->block_cycles = k->block_latency = weft_cost_offchip_update(a, (double)k->flops / k->blocks);
        return;
    }
    if (k->kind == WEFT_KERNEL_GEMM) {
        int64_t kb = (k->K + k->pk - 1) / k->pk, nb = (k->N + k->pn - 1) / k->pn;
        uint64_t compute = weft_cost_compute(a, 2.0 * (double)(k->block_rows * kb * nb), (weft_arch_dtype)k->arith, 1);
        uint64_t in_ser = weft_cost_serialize(a, (double)(k->block_rows * kb * es), 1);  /* X block into each row */
        uint64_t out_ser = weft_cost_serialize(a, (double)(k->block_rows * nb * 4), 1);  /* partials down each column */
        k->t_compute = compute;
        k->t_in = in_ser;
        k->t_out = out_ser;
        /* per chunk; a block is `chunks` chunks through the same pipeline */
        uint64_t stage = max3(compute, in_ser, out_ser);
        k->block_cycles = stage * (uint64_t)k->chunks;
        k->block_latency = weft_cost_hops(a, k->pn - 1) + in_ser + compute + weft_cost_hops(a, k->pk - 1) + out_ser +
                           stage * (uint64_t)(k->chunks - 1);
        return;
    }
    double per_block_flops = (double)(k->flops > 0 ? k->flops : k->M * k->N) / k->blocks;
    uint64_t compute = weft_cost_compute(a, per_block_flops, (weft_arch_dtype)k->arith, tiles);
    /* a block enters along the region's west column (h rows in parallel) and spreads east; in
     * weight streaming it is already spread over the mesh (the stash), each tile reading its own */
    uint64_t move = weft_cost_serialize(a, (double)(k->block_rows * k->N * es), p->weight_streaming ? tiles : k->h);
    uint64_t spread = weft_cost_hops(a, k->w - 1);
    if (k->kind == WEFT_KERNEL_WHOLE) {
        /* an all-to-all exchange of the inputs across the region: bytes over the bisection */
        int64_t in = 0;
        for (int q = 0; q < k->n_deps; q++) in += weft_program_value_bytes(p, k->dep_value[q]);
        move = weft_cost_serialize(a, (double)in, k->w < k->h ? k->w : k->h);
        spread = weft_cost_hops(a, k->w + k->h);
    }
    /* row reductions (softmax: max and sum; layer norm: mean and variance): a row lies across
     * the region's w tiles, each reduction a chain of w - 1 hops there and a broadcast back */
    spread += (uint64_t)k->row_reductions * 2 * weft_cost_hops(a, k->w - 1);
    k->block_cycles = (compute > move ? compute : move) + 1;
    k->block_latency = compute + move + spread;
}

/* Hops from kernel src's output side to kernel dst's input side along the edge's first lane. */
static uint64_t edge_hops(const weft_program *p, int src, int dst) {
    weft_lane lanes[WEFT_MAX_LANES];
    int n = weft_route_edge_lanes(p, src, dst, lanes);
    if (n < 1) return 0;
    int dx = lanes[0].x1 - lanes[0].x0, dy = lanes[0].y1 - lanes[0].y0;
    return weft_cost_hops(&p->arch, (dx < 0 ? -dx : dx) + (dy < 0 ? -dy : dy));
}

/* One pass, on the critical path through the kernels (they are in graph order): when each
 * kernel's first and last output blocks are ready. A kernel starts its first block when that
 * block of every streamed input (the prefix's first block, every block of an input needed
 * whole) has arrived, takes a block every stage, and cannot finish its last block before its
 * streamed inputs' last blocks arrive. Arrivals pay the edge's hops and the block's
 * serialization over its lanes; graph inputs arrive at the off-chip rate. */
uint64_t weft_cost_pass(weft_program *p) {
    const weft_arch *a = &p->arch;
    uint64_t *first = weft_xcalloc((size_t)p->n + 1, sizeof(uint64_t)), *last = weft_xcalloc((size_t)p->n + 1, sizeof(uint64_t));  /* the passes' one aborting allocation: asked for from loops that cannot fail, (n + 1) words */
    double offchip = weft_cost_offchip_per_cycle(a);
    uint64_t end = 0;
    weft_lane lanes[WEFT_MAX_LANES];
    for (int i = 0; i < p->n; i++) weft_cost_kernel(p, &p->k[i]);
    for (int i = 0; i < p->n; i++) {
        weft_kernel *k = &p->k[i];
        uint64_t start = 0, streamed_last = 0, in_stage = 0;
        for (int q = 0; q < k->n_deps; q++) {
            int d = k->dep[q], v = k->dep_value[q];
            int nl = weft_route_edge_lanes(p, d, i, lanes);
            uint64_t ser = weft_cost_serialize(a, (double)block_bytes_of(p, v), nl);
            if (ser > in_stage) in_stage = ser;
            uint64_t a0, a1;
            if (d >= 0) {
                uint64_t hop = edge_hops(p, d, i);
                const weft_kernel *dk = &p->k[d];
                int nb = weft_dep_blocks(p, k, q);
                uint64_t out_ser = weft_cost_serialize(a, (double)weft_program_value_bytes(p, v) / nb, nl);
                a0 = (nb == 1 && dk->blocks > 1 ? last[d] : first[d]) + hop + out_ser;
                a1 = last[d] + hop + out_ser;
            } else {
                double total = (double)weft_program_value_bytes(p, v);
                a0 = (uint64_t)(total / weft_value_blocks(p, v) / offchip) + ser;
                a1 = (uint64_t)(total / offchip) + ser;
            }
            /* the first block needs the input's blocks up to `upto` (-1: all of them) */
            int upto = weft_dep_last_block(p, k, q, 0), nb = weft_dep_blocks(p, k, q);
            uint64_t need = upto < 0 ? a1 : nb > 1 ? a0 + (a1 - a0) * (uint64_t)upto / (uint64_t)(nb - 1) : a0;
            if (need > start) start = need;
            if (upto >= 0 && a1 > streamed_last) streamed_last = a1;
        }
        uint64_t stage = k->block_cycles > in_stage ? k->block_cycles : in_stage;
        uint64_t last_start = start + stage * (uint64_t)(k->blocks - 1);
        if (streamed_last > last_start) last_start = streamed_last;
        last[i] = last_start + k->block_latency;
        first[i] = k->accumulates ? last[i] : start + k->block_latency;
        if (k->out_lanes || i == p->n - 1) {
            int nl = weft_route_edge_lanes(p, i, -1, lanes);
            int64_t bytes = weft_program_value_bytes(p, p->graph->nodes[k->node].out[0]);
            uint64_t t = last[i] + weft_cost_serialize(a, (double)bytes / weft_kernel_out_blocks(k), nl) +
                         (uint64_t)((double)bytes / weft_kernel_out_blocks(k) / offchip);
            if (t > end) end = t;
        }
        if (last[i] > end) end = last[i];
    }
    free(first);
    free(last);
    return end;
}

/* Passes streaming one after another: each region takes all its blocks of one pass before the
 * next pass's, so the interval between passes is set by the busiest region (its blocks times
 * its stage, or their arrival over its lanes) and by the off-chip input. */
uint64_t weft_cost_period(weft_program *p) {
    uint64_t worst = 0;
    for (int i = 0; i < p->n; i++) {
        weft_kernel *k = &p->k[i];
        if (k->host >= 0) continue;
        uint64_t e = edge_in(p, k), stage = k->block_cycles > e ? k->block_cycles : e;
        uint64_t t = stage * (uint64_t)k->blocks;
        if (t > worst) worst = t;
    }
    double in = 0, out = 0;
    for (int j = 0; j < p->graph->n_inputs; j++) in += (double)weft_program_value_bytes(p, p->graph->inputs[j]);
    for (int j = 0; j < p->graph->n_outputs; j++) out += (double)weft_program_value_bytes(p, p->graph->outputs[j]);
    /* inputs in and outputs out over the off-chip link, each way at its rate */
    uint64_t feed = (uint64_t)((in > out ? in : out) / weft_cost_offchip_per_cycle(&p->arch));
    return worst > feed ? worst : feed;
}

/* The graph output kernel i sends to the off-chip edge (as route.c lays its lanes), -1: none. */
static int output_of(const weft_program *p, int i) {
    for (int j = 0; j < p->graph->n_outputs; j++)
        if (p->kernel_of_value[p->graph->outputs[j]] == i) return p->graph->outputs[j];
    return -1;
}

/* The busiest link's cycles per pass, as the simulator would count them without contention:
 * every edge's lanes carry their share of the value once a pass (block by block), a producer's
 * output crossing a link once for all consumers whose lane there is the same (one multicast). */
static bool link_period(const weft_program *p, uint64_t *out) {
    const weft_arch *a = &p->arch;
    size_t links = (size_t)a->width * (size_t)a->height * 4;
    uint64_t *busy = weft_try_calloc(links, sizeof *busy), *stamp = weft_try_calloc(links, sizeof *stamp), worst = 0;
    for (int src = -1; src < p->n && busy && stamp; src++)  /* -1: the graph's inputs, then each kernel */
        for (int i = 0; i < p->n; i++)
            for (int q = 0; q < p->k[i].n_deps + (src == i); q++) {
                const weft_kernel *k = &p->k[i];
                bool out = q == k->n_deps;  /* the kernel's own lanes to the off-chip edge */
                if (!out && k->dep[q] != src) continue;
                int v = out ? output_of(p, i) : k->dep_value[q];
                if (v < 0) continue;
                weft_lane lanes[WEFT_MAX_LANES];  /* as routing will lay them (placement has none yet) */
                int n = weft_route_edge_lanes(p, out ? i : k->dep[q], out ? -1 : i, lanes);
                int nb = out ? weft_value_blocks(p, v) : weft_dep_blocks(p, k, q);
                double block = (double)weft_program_value_bytes(p, v) / (nb > 0 ? nb : 1);
                for (int l = 0; l < n; l++) {
                    const weft_lane *ln = &lanes[l];
                    uint64_t cycles = (uint64_t)nb * weft_cost_serialize(a, block / n, 1);
                    uint64_t key = (uint64_t)(src + 2) << 40 | (uint64_t)(v + 1) << 14 | weft_lane_tag(l, n);
                    int x = ln->x0, y = ln->y0;
                    for (int dir; (dir = weft_lane_step(ln, x, y)) >= 0;) {
                        size_t li = ((size_t)y * (size_t)a->width + (size_t)x) * 4 + (size_t)dir;
                        if (stamp[li] != key) {
                            stamp[li] = key;
                            busy[li] += cycles;
                            if (busy[li] > worst) worst = busy[li];
                        }
                        weft_dir_step(dir, &x, &y);
                    }
                }
            }
    bool ok = busy && stamp;
    free(busy);
    free(stamp);
    *out = worst;
    return ok;
}

/* A program of phases run one after another (weight streaming, sections), as the simulator runs
 * it: a phase starts when the phase before is done and its resident bytes (and, in sections, the
 * tensors spilled to DDR that it reads back) are in over the off-chip link. In weight streaming
 * the weights stream back to back, ahead of the phases as far as SRAM allows (here: without
 * bound); a section loads its own when it starts, and writes its spilled tensors out when done.
 * Within a phase the kernels pipeline: each starts when the first block of each input from the
 * phase is out, and ends a stage per block later, no earlier than its inputs' last blocks. A
 * gradient that leaves for the off-chip unit crosses the link out after its phase; the unit
 * applies each update in program order as its gradient arrives. The passes run one after
 * another, so the period is a pass. */
static uint64_t phased_pass(weft_program *p) {
    const weft_arch *a = &p->arch;
    double per = weft_cost_offchip_per_cycle(a), lat = a->offchip_latency_s * a->clock_hz;
    size_t n = (size_t)p->n + 1;
    uint64_t *first = weft_xcalloc(n, sizeof(uint64_t)), *end = weft_xcalloc(n, sizeof(uint64_t));  /* (n) a kernel's first and last block out */
    int *phase_of = weft_xcalloc(n, sizeof(int));
    uint64_t *sent = weft_xcalloc(n, sizeof(uint64_t));  /* (n) when a kernel's output reached the off-chip unit */
    for (int i = 0; i < p->n; i++) phase_of[i] = -1;
    for (int j = 0; j < p->n_phases; j++)
        for (int i = p->phases[j].first_kernel; i < p->phases[j].first_kernel + p->phases[j].n_kernels; i++) phase_of[i] = j;
    uint64_t w_free = 0, out_free = 0, unit_free = 0, last = 0, phase_start = 0, cur_end = 0;
    int cur = -1;
    for (int i = 0; i < p->n; i++) weft_cost_kernel(p, &p->k[i]);
    for (int i = 0; i < p->n; i++) {
        weft_kernel *k = &p->k[i];
        if (!k->offchip && phase_of[i] != cur) {  /* the next phase */
            if (cur >= 0 && p->phases[cur].spill_bytes) {
                out_free = (out_free > cur_end ? out_free : cur_end) + (uint64_t)((double)p->phases[cur].spill_bytes / per);
                if (out_free > cur_end) cur_end = out_free;
            }
            cur = phase_of[i];
            const weft_phase *ph = &p->phases[cur];
            if (!p->weight_streaming && w_free < cur_end) w_free = cur_end;  /* a section loads when it starts */
            w_free += (uint64_t)((double)(ph->weight_in_bytes + ph->fill_bytes) / per);
            phase_start = (cur_end > w_free + (uint64_t)lat ? cur_end : w_free + (uint64_t)lat) + ph->recompute_cycles;
        }
        uint64_t ready = k->offchip ? 0 : phase_start, inputs_end = 0;
        for (int q = 0; q < k->n_deps; q++) {
            int d = k->dep[q];
            uint64_t at = d >= 0 ? (phase_of[d] == phase_of[i] && !k->offchip ? first[d] : end[d])
                                 : (uint64_t)((double)weft_program_value_bytes(p, k->dep_value[q]) / per);
            if (d >= 0 && p->k[d].offchip != k->offchip) {  /* across the off-chip link (once to the unit) */
                if (!sent[d] || p->k[d].offchip) {
                    uint64_t t = at > out_free ? at : out_free;
                    out_free = t + (uint64_t)((double)weft_program_value_bytes(p, k->dep_value[q]) / per);
                    sent[d] = out_free + (uint64_t)lat;
                }
                at = sent[d];
            }
            if (at > ready) ready = at;
            if (d >= 0 && end[d] > inputs_end) inputs_end = end[d];
        }
        if (k->offchip) {
            uint64_t start = ready > unit_free ? ready : unit_free;
            unit_free = end[i] = first[i] = start + weft_cost_offchip_update(a, (double)k->flops);
        } else {
            first[i] = ready + k->block_latency;
            end[i] = ready + k->block_latency + k->block_cycles * (uint64_t)(k->blocks - 1);
            if (inputs_end + k->block_latency > end[i]) end[i] = inputs_end + k->block_latency;
            if (k->accumulates) first[i] = end[i];
            if (end[i] > cur_end) cur_end = end[i];
        }
        if (end[i] > last) last = end[i];
    }
    free(first);
    free(end);
    free(phase_of);
    free(sent);
    return last;
}

static weft_status finish_phased(weft_program *p) {
    p->tiles_used = p->sram_total = p->sram_max = 0;
    for (int i = 0; i < p->n; i++) {
        weft_kernel *k = &p->k[i];
        int64_t t = (int64_t)k->w * k->h;
        k->sram_per_tile = k->offchip ? 0 : weft_sram_need(p, k, k->pk ? k->pk : 1, k->pn ? k->pn : 1, t);
    }
    /* the peak: a phase's own plans, the tensors kept for later phases and (weight streaming) the
     * next phase's weights, on the mesh; what is left is room for weights ahead */
    double tiles = (double)p->arch.width * p->arch.height;
    for (int j = 0; j < p->n_phases; j++) {
        weft_phase *ph = &p->phases[j];
        int64_t next = p->weight_streaming && j + 1 < p->n_phases ? p->phases[j + 1].weight_in_bytes : 0, own = 0, t = 0, peak = 0;
        for (int i = ph->first_kernel; i < ph->first_kernel + ph->n_kernels; i++) {
            const weft_kernel *k = &p->k[i];
            own += k->sram_per_tile * (int64_t)k->w * k->h;
            t += (int64_t)k->w * k->h;
            if (k->sram_per_tile > peak) peak = k->sram_per_tile;
        }
        if (t > p->tiles_used) p->tiles_used = t;
        int64_t use = (int64_t)((double)(own + ph->stash_bytes + next) / tiles);  /* the phase's fill, on average */
        if (peak > use) use = peak;                                                /* or its fullest plan */
        if (use > p->sram_max) p->sram_max = use;
        if (own + ph->stash_bytes + next > p->sram_total) p->sram_total = own + ph->stash_bytes + next;
        int64_t room = (int64_t)(weft_sram_cap(p) * tiles) - own - ph->stash_bytes;
        ph->prefetch_bytes = p->weight_streaming && room > 0 ? room : 0;  /* a section's weights come when it starts */
    }
    p->predicted_cycles = phased_pass(p);
    p->predicted_period = p->predicted_cycles;
    return WEFT_OK;
}

weft_status weft_pass_finish(weft_program *p, weft_err *err) {
    if (p->phased) return finish_phased(p);
    p->tiles_used = p->sram_total = p->sram_max = 0;
    for (int i = 0; i < p->n; i++) {
        weft_kernel *k = &p->k[i];
        if (k->host >= 0) { k->sram_per_tile = 0; continue; }  /* counted in its host's plan */
        int64_t t = (int64_t)k->w * k->h;
        k->sram_per_tile = weft_sram_need(p, k, k->pk ? k->pk : 1, k->pn ? k->pn : 1, t);
        p->tiles_used += t;
        p->sram_total += k->sram_per_tile * t;
        if (k->sram_per_tile > p->sram_max) p->sram_max = k->sram_per_tile;
    }
    p->predicted_cycles = weft_cost_pass(p);
    p->predicted_period = weft_cost_period(p);
    uint64_t links;  /* the simulator's period counts links too */
    if (!link_period(p, &links)) return weft_pass_oom(p, "the links' load", err);
    if (links > p->predicted_period) p->predicted_period = links;
    return WEFT_OK;
}
