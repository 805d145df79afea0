/* program: the compiled program's data: freeing, printing, lanes (program.h). */
#include "program/program.h"
#include "arch/cost.h"

void weft_program_free(weft_program *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) weft_tensor_free(&p->k[i].weight);
    if (p->folded)
        for (int v = 0; v < p->graph->n_vals; v++) weft_tensor_free(&p->folded[v]);
    free(p->folded);
    free(p->k);
    free(p->phases);
    free(p->lanes);
    free(p->kernel_of_node);
    free(p->kernel_of_value);
    free(p->stream_axis);
    free(p->sample_axis);
    free(p);
}

int weft_program_add_lane(weft_program *p, weft_lane l) {
    if (p->n_lanes == p->cap_lanes) {
        int cap = p->cap_lanes ? 2 * p->cap_lanes : 256;
        weft_lane *lanes = weft_try_realloc(p->lanes, (size_t)cap * sizeof *p->lanes);
        if (!lanes) return -1;
        p->lanes = lanes;
        p->cap_lanes = cap;
    }
    p->lanes[p->n_lanes] = l;
    return p->n_lanes++;
}

static int toward_x(int x, int to) { return x < to ? WEFT_DIR_EAST : WEFT_DIR_WEST; }
static int toward_y(int y, int to) { return y < to ? WEFT_DIR_SOUTH : WEFT_DIR_NORTH; }

int weft_lane_step(const weft_lane *l, int x, int y) {
    if (x == l->x1 && y == l->y1) return -1;
    if (l->via) {
        if (y != l->y1) return x != l->xm ? toward_x(x, l->xm) : toward_y(y, l->y1);
        return toward_x(x, l->x1);
    }
    if (l->yx) return y != l->y1 ? toward_y(y, l->y1) : toward_x(x, l->x1);
    return x != l->x1 ? toward_x(x, l->x1) : toward_y(y, l->y1);
}

double weft_kernel_rate(const weft_program *p, const weft_kernel *k) {
    double r = weft_arch_tile_rate(&p->arch, (weft_arch_dtype)k->arith);
    if (r <= 0) r = weft_arch_tile_rate(&p->arch, WEFT_ARCH_FP32);
    return r > 0 ? r : 1;
}

int64_t weft_program_value_bytes(const weft_program *p, int v) {
    return weft_shape_numel(&p->graph->vals[v].shape) * (int64_t)weft_dtype_size(p->graph->vals[v].dtype);
}

void weft_program_print(const weft_program *p, FILE *f) {
    const weft_arch *a = &p->arch;
    static const char *kinds[] = {"gemm", "stream", "whole"};
    fprintf(f, "program: %d kernels on %s (%d x %d tiles), %s mode", p->n, a->name, a->width, a->height, p->mode);
    if (p->phased) {
        int64_t w = 0, spill = 0;
        for (int j = 0; j < p->n_phases; j++) w += p->phases[j].weight_in_bytes, spill += p->phases[j].spill_bytes;
        fprintf(f, ": %d %s run in turn, %.4g GB of weights streamed in a pass%s", p->n_phases,
                p->weight_streaming ? "layers" : "sections", (double)w * 1e-9, spill ? "" : "");
        if (spill) fprintf(f, ", %.4g GB spilled to off-chip memory", (double)spill * 1e-9);
        if (p->n_recomputed)
            fprintf(f, "; %d activations (%.4g GB) recomputed where read instead of kept", p->n_recomputed, (double)p->recomputed_bytes * 1e-9);
    }
    fprintf(f, "\n");
    fprintf(f, "  tiles used      %lld of %lld (%.1f%%)\n", (long long)p->tiles_used, (long long)a->width * a->height,
            100.0 * (double)p->tiles_used / ((double)a->width * a->height));
    fprintf(f, "  SRAM            max %lld B per tile (of %lld), %.4g MB in all\n", (long long)p->sram_max,
            (long long)a->kinds[a->pattern[0]].sram_bytes, (double)p->sram_total * 1e-6);
    fprintf(f, "  channels        %d of %d\n", p->channels_used, a->channels);
    /* samples: the first input's leading extent (the batch) */
    int64_t samples = p->graph->n_inputs && p->graph->vals[p->graph->inputs[0]].shape.ndim
                          ? p->graph->vals[p->graph->inputs[0]].shape.d[0] : 1;
    double pass_s = (double)p->predicted_cycles / a->clock_hz;
    fprintf(f, "  predicted       %llu cycles per pass = %.4g ms at %.3g GHz, %.4g ms per sample (the plan's estimate;\n"
               "                  `weft run` simulates it)\n",
            (unsigned long long)p->predicted_cycles, pass_s * 1e3, a->clock_hz * 1e-9, pass_s * 1e3 / (double)(samples > 0 ? samples : 1));
    fprintf(f, "\n  %-4s %-26s %-14s %-6s %-17s %-10s %8s %7s %10s\n", "#", "node", "op", "kind", "region", "grid", "SRAM/t", "blocks",
            "cyc/block");
    for (int i = 0; i < p->n; i++) {
        const weft_kernel *k = &p->k[i];
        const weft_node *n = &p->graph->nodes[k->node];
        char region[32], grid[24] = "";
        snprintf(region, sizeof region, "%dx%d @(%d,%d)", k->w, k->h, k->x0, k->y0);
        if (k->kind == WEFT_KERNEL_GEMM) snprintf(grid, sizeof grid, "%dx%d", k->pk, k->pn);
        fprintf(f, "  %-4d %-26.26s %-14.14s %-6s %-17s %-10s %8lld %7d %10llu\n", i, n->name, n->op->name, kinds[k->kind], region,
                grid, (long long)k->sram_per_tile, k->blocks, (unsigned long long)k->block_cycles);
    }
}


static bool lane_crosses(const weft_program *p, const weft_lane *ln, int64_t link) {
    int x = ln->x0, y = ln->y0;
    for (int dir; (dir = weft_lane_step(ln, x, y)) >= 0;) {
        if (((int64_t)y * p->arch.width + x) * 4 + dir == link) return true;
        weft_dir_step(dir, &x, &y);
    }
    return false;
}

const char *weft_program_dep_source(const weft_program *p, int kernel, int slot) {
    const weft_kernel *k = &p->k[kernel];
    return k->dep[slot] >= 0 ? p->graph->nodes[p->k[k->dep[slot]].node].name : p->graph->vals[k->dep_value[slot]].name;
}

int weft_program_edges_on_link(const weft_program *p, int64_t link, int *kernel, int *slot, int max) {
    int n = 0;
    for (int i = 0; i < p->n; i++)
        for (int q = 0; q < p->k[i].n_deps; q++) {
            const weft_kernel *k = &p->k[i];
            bool on = false;
            for (int l = 0; l < k->dep_lanes[q] && !on; l++) on = lane_crosses(p, &p->lanes[k->dep_lane0[q] + l], link);
            if (!on) continue;
            if (n < max) kernel[n] = i, slot[n] = q;
            n++;
        }
    return n;
}
