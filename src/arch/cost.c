/* arch: primitive costs (cost.h). */
#include "arch/cost.h"

#include <math.h>

double weft_arch_tile_rate(const weft_arch *a, weft_arch_dtype dt) {
    double sum = 0;
    for (int i = 0; i < a->n_pattern; i++) sum += a->kinds[a->pattern[i]].flops_per_cycle[dt];
    return sum / a->n_pattern;
}

double weft_arch_tile_sram(const weft_arch *a) {
    double sum = 0;
    for (int i = 0; i < a->n_pattern; i++) sum += (double)a->kinds[a->pattern[i]].sram_bytes;
    return sum / a->n_pattern;
}

int weft_arch_column_quantum(const weft_arch *a) {
    for (int i = 1; i < a->n_pattern; i++) {
        const weft_tile_kind *k0 = &a->kinds[a->pattern[0]], *ki = &a->kinds[a->pattern[i]];
        if (k0->sram_bytes != ki->sram_bytes) return a->n_pattern;
        for (int d = 0; d < WEFT_ARCH_NUM_DTYPES; d++)
            if (k0->flops_per_cycle[d] != ki->flops_per_cycle[d]) return a->n_pattern;
    }
    return 1;
}

/* cycles as a count: ceil, saturating far below UINT64_MAX so sums of many stay exact */
static uint64_t cycles(double c) {
    if (!(c > 0)) return 0;
    if (c > 1e18) return (uint64_t)1e18;
    return (uint64_t)ceil(c);
}

uint64_t weft_cost_compute(const weft_arch *a, double flops, weft_arch_dtype dt, int64_t tiles) {
    double r = weft_arch_tile_rate(a, dt);
    if (r <= 0) r = weft_arch_tile_rate(a, WEFT_ARCH_FP32);  /* a kind without 16-bit units computes it in fp32 */
    if (r <= 0 || tiles < 1) r = 1, tiles = 1;
    return cycles(flops / (r * (double)tiles));
}

uint64_t weft_cost_serialize(const weft_arch *a, double bytes, int64_t lanes) {
    return cycles(bytes / (a->link_bytes_per_cycle * (double)(lanes > 0 ? lanes : 1)));
}

uint64_t weft_cost_hops(const weft_arch *a, int64_t hops) { return hops > 0 ? (uint64_t)hops * (uint64_t)a->hop_latency : 0; }

double weft_cost_offchip_per_cycle(const weft_arch *a) {
    return a->offchip_bytes_per_s > 0 ? a->offchip_bytes_per_s / a->clock_hz : a->link_bytes_per_cycle;
}

uint64_t weft_cost_offchip_update(const weft_arch *a, double flops) {
    double rate = a->offchip_update_flops_per_s > 0 ? a->offchip_update_flops_per_s / a->clock_hz : 1;
    return (uint64_t)(flops / rate) + 1;
}
