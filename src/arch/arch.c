/* arch: presets, JSON reading and writing, validation. Figures and their sources are in
 * ../shared/docs/HARDWARE.md; every figure that is not a published value is listed in the
 * preset's assumptions. */
#include "arch/arch.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

/* ---- presets ---- */

/* The Cerebras WSE-2 PE: 48 KB SRAM; 2 x 64-bit reads + 1 x 64-bit write per cycle. */
#define WSE2_PE {"pe", 48 * 1024, 16, 8, {2, 8, 8}}

static const weft_arch presets[] = {
    {
        .name = "wse2",
        .description = "Cerebras WSE-2 (CS-2): the program-usable 750 x 994 PE grid",
        .width = 750, .height = 994, .clock_hz = 850e6,
        .n_kinds = 1, .kinds = {WSE2_PE}, .n_pattern = 1, .pattern = {0},
        .link_bytes_per_cycle = 4, .hop_latency = 1, .ramp_latency = 2, .channels = 24,
        .offchip_bytes = (int64_t)12 << 40, .offchip_bytes_per_s = 150e9, .offchip_latency_s = 2e-6, .offchip_update_flops_per_s = 1e12, .offchip_edge = WEFT_EDGE_WEST,
        .modes = WEFT_MODE_PIPELINED | WEFT_MODE_WEIGHT_STREAMING,
        .chips = 1, .chip_net = WEFT_NET_SWITCH, .chip_link_bytes_per_s = 150e9, .chip_link_latency_s = 2e-6,
        .energy = {{4.0, 1.0, 1.0}, 0.25, 100, 8000, 23000},
        .n_assumptions = 8,
        .assumptions = {"energy (estimate): 1 pJ a 16-bit flop, 4 a fp32 flop, with SRAM reads; 0.25 pJ a byte-hop; 100 pJ an off-chip byte; 8 kW static",
            
            "clock 850 MHz: the SDK's timing code; 1.1 GHz is also quoted (Hot Chips 34 summary)",
            "arithmetic: 1 fp32 FMAC (2 flops) and 4 fp16/bf16 FMAC (8 flops) per cycle per PE; width quoted for WSE-1",
            "hop latency 1 cycle and ramp latency 2 cycles: not published",
            "off-chip: MemoryX capacity 12 TB (one of the quoted options)",
            "off-chip bandwidth 150 GB/s: 12 x 100 GbE system I/O (secondary source)",
            "chip-to-chip: the same 150 GB/s I/O and 2 us latency, through SwarmX",
            "MemoryX: 2 us latency; the update at 1 TFLOP/s (not published: 'small next to the forward and backward')",
        },
        .n_sources = 5,
        .sources = {"CS-2 system power: up to 23 kW (Cerebras CS-2 product brief; secondary)",
            
            "grid 750 x 994: Cerebras SDK csl-examples, single-tile-matvec README",
            "48 KB SRAM per PE, 850,000 PEs, 40 GB on the wafer: ALCF AI Testbed user guide",
            "32-bit wavelet per cycle per link, 24 routable colors: Cerebras SDK docs and tutorials",
            "SRAM ports 2 x 64-bit read + 1 x 64-bit write: Hot Chips 34 summary (secondary)",
        },
    },
    {
        .name = "wse3",
        .description = "Cerebras WSE-3 (CS-3): about 900,000 PEs of 48 KB",
        .width = 760, .height = 1184, .clock_hz = 850e6,
        .n_kinds = 1, .kinds = {{"pe", 48 * 1024, 16, 8, {4, 16, 16}}}, .n_pattern = 1, .pattern = {0},
        .link_bytes_per_cycle = 4, .hop_latency = 1, .ramp_latency = 2, .channels = 24,
        .offchip_bytes = (int64_t)12 << 40, .offchip_bytes_per_s = 150e9, .offchip_latency_s = 2e-6, .offchip_update_flops_per_s = 1e12, .offchip_edge = WEFT_EDGE_WEST,
        .modes = WEFT_MODE_PIPELINED | WEFT_MODE_WEIGHT_STREAMING,
        .chips = 1, .chip_net = WEFT_NET_SWITCH, .chip_link_bytes_per_s = 150e9, .chip_link_latency_s = 2e-6,
        .energy = {{2.8, 0.7, 0.7}, 0.2, 100, 8000, 23000},
        .n_assumptions = 8,
        .assumptions = {"energy (estimate): WSE-2's per-operation figures scaled by 0.7 for 5 nm; 8 kW static; the system's 23 kW as the bound",
            
            "grid 760 x 1184 (899,840 PEs): the published count is 900,000; the grid shape is not published",
            "clock 850 MHz: not published for WSE-3; WSE-2's SDK figure",
            "arithmetic: twice WSE-2's assumed rate (8 fp16 FMAC per cycle); 125 PFLOP/s 'AI compute' likely counts sparsity",
            "links, latencies and colors as WSE-2",
            "off-chip: MemoryX 12 TB at 150 GB/s (options 1.5 TB, 12 TB, 1.2 PB quoted)",
            "chip-to-chip: 150 GB/s and 2 us, as WSE-2",
            "MemoryX: 2 us latency, the update at 1 TFLOP/s, as WSE-2 (not published)",
        },
        .n_sources = 3,
        .sources = {"CS-3 system power: 23 kW, as the CS-2 (Cerebras CS-3 announcement, March 2024; secondary)",
            
            "900,000 PEs, 48 KB SRAM per PE, 44 GB on the wafer: ALCF AI Testbed user guide",
            "8 input queues, 8 microthreads: Cerebras SDK tutorials topic-05, topic-15",
        },
    },
    {
        .name = "sn30",
        .description = "SambaNova SN30 RDU: PCU compute and PMU memory units in alternating columns",
        .width = 64, .height = 40, .clock_hz = 1.25e9,
        .n_kinds = 2,
        .kinds = {{"pcu", 0, 0, 0, {100, 400, 400}}, {"pmu", 512 * 1024, 64, 64, {0, 0, 0}}},
        .n_pattern = 2, .pattern = {0, 1},
        .link_bytes_per_cycle = 32, .hop_latency = 2, .ramp_latency = 1, .channels = 32,
        .offchip_bytes = (int64_t)1 << 40, .offchip_bytes_per_s = 200e9, .offchip_latency_s = 1e-6, .offchip_edge = WEFT_EDGE_ALL,
        .modes = WEFT_MODE_PIPELINED | WEFT_MODE_SECTIONS,
        .chips = 1, .chip_net = WEFT_NET_RING, .chip_link_bytes_per_s = 50e9, .chip_link_latency_s = 5e-6,
        .energy = {{2.0, 0.5, 0.5}, 0.2, 60, 150, 600},
        .n_assumptions = 8,
        .assumptions = {"energy (estimate, not published): 0.5 pJ a 16-bit flop, 60 pJ a DDR byte, 150 W static, 600 W an RDU at full load",
            
            "layout: 1,280 PCU + 1,280 PMU as a 64 x 40 mesh of alternating columns; the real switch network differs",
            "clock 1.25 GHz: not published",
            "PCU rate 400 bf16 flops per cycle: 320 TFLOP/s per SN10 over 640 PCUs at the assumed clock; fp32 a quarter",
            "PCU holds no addressable SRAM (pipeline registers only); PMU 512 KB (320 MB / 640)",
            "switch links 32 bytes per cycle, 2 cycles per hop, 32 channels: not published",
            "DDR4 bandwidth 200 GB/s per RDU and 1 us latency: not published",
            "RDU-to-RDU link 50 GB/s, 5 us: not published",
        },
        .n_sources = 3,
        .sources = {
            "SN10: 640 PCU + 640 PMU, over 320 TFLOP/s bf16, 320 MB SRAM: Hot Chips 33 (secondary)",
            "SN30: two SN10-class dies, 8 tiles per RDU: ALCF user guide (sntilestat)",
            "off-chip DDR4, 1 TB per RDU: secondary",
        },
    },
    {
        .name = "wse2-mini",
        .description = "A 64 x 48 patch (3,072 PEs) of WSE-2 PEs, for tests and teaching",
        .width = 64, .height = 48, .clock_hz = 850e6,
        .n_kinds = 1, .kinds = {WSE2_PE}, .n_pattern = 1, .pattern = {0},
        .link_bytes_per_cycle = 4, .hop_latency = 1, .ramp_latency = 2, .channels = 24,
        .offchip_bytes = (int64_t)64 << 30, .offchip_bytes_per_s = 150e9, .offchip_latency_s = 2e-6, .offchip_update_flops_per_s = 1e12, .offchip_edge = WEFT_EDGE_WEST,
        .modes = WEFT_MODE_PIPELINED | WEFT_MODE_WEIGHT_STREAMING,
        .chips = 1, .chip_net = WEFT_NET_SWITCH, .chip_link_bytes_per_s = 150e9, .chip_link_latency_s = 2e-6,
        .energy = {{4.0, 1.0, 1.0}, 0.25, 100, 32.97, 94.78},
        .n_assumptions = 3,
        .assumptions = {"energy: WSE-2's per-operation figures; static and peak power WSE-2's scaled by the tile count (estimates)",
            "a patch of the WSE-2 preset: its PE, link and clock assumptions apply",
                        "off-chip: 64 GB, sized for the patch"},
    },
    {
        .name = "mesh-8x8",
        .description = "An 8 x 8 mesh of WSE-2 PEs, for tests and teaching",
        .width = 8, .height = 8, .clock_hz = 850e6,
        .n_kinds = 1, .kinds = {WSE2_PE}, .n_pattern = 1, .pattern = {0},
        .link_bytes_per_cycle = 4, .hop_latency = 1, .ramp_latency = 2, .channels = 24,
        .offchip_bytes = (int64_t)1 << 30, .offchip_bytes_per_s = 150e9, .offchip_latency_s = 2e-6, .offchip_update_flops_per_s = 1e12, .offchip_edge = WEFT_EDGE_WEST,
        .modes = WEFT_MODE_PIPELINED | WEFT_MODE_WEIGHT_STREAMING,
        .chips = 1, .chip_net = WEFT_NET_SWITCH, .chip_link_bytes_per_s = 150e9, .chip_link_latency_s = 2e-6,
        .energy = {{4.0, 1.0, 1.0}, 0.25, 100, 0.6868, 1.975},
        .n_assumptions = 2, .assumptions = {"energy: WSE-2's per-operation figures; static and peak power WSE-2's scaled by the tile count (estimates)",
            "a teaching mesh with the WSE-2 preset's PE figures"},
    },
    {
        .name = "mesh-32x32",
        .description = "A 32 x 32 mesh of WSE-2 PEs, for tests and teaching",
        .width = 32, .height = 32, .clock_hz = 850e6,
        .n_kinds = 1, .kinds = {WSE2_PE}, .n_pattern = 1, .pattern = {0},
        .link_bytes_per_cycle = 4, .hop_latency = 1, .ramp_latency = 2, .channels = 24,
        .offchip_bytes = (int64_t)8 << 30, .offchip_bytes_per_s = 150e9, .offchip_latency_s = 2e-6, .offchip_update_flops_per_s = 1e12, .offchip_edge = WEFT_EDGE_WEST,
        .modes = WEFT_MODE_PIPELINED | WEFT_MODE_WEIGHT_STREAMING,
        .chips = 1, .chip_net = WEFT_NET_SWITCH, .chip_link_bytes_per_s = 150e9, .chip_link_latency_s = 2e-6,
        .energy = {{4.0, 1.0, 1.0}, 0.25, 100, 10.99, 31.59},
        .n_assumptions = 2, .assumptions = {"energy: WSE-2's per-operation figures; static and peak power WSE-2's scaled by the tile count (estimates)",
            "a teaching mesh with the WSE-2 preset's PE figures"},
    },
};
#define N_CHIPS (int)(sizeof presets / sizeof *presets)

/* Machines of several identical chips: a chip preset, how many, and their network. */
typedef struct {
    const char *name, *chip;
    int count;
    weft_chip_net net;
    double link_bytes_per_s, link_latency_s;
    const char *description, *assumption, *source;
} cluster_def;

static const cluster_def clusters[] = {
#define CS2_SWARMX "SwarmX: each CS-2's 150 GB/s I/O into the tree, 2 us a level (not published); MemoryX as one unit at the CS-2's rate"
#define SWARMX_SRC "SwarmX broadcasts weights and reduces gradients at line rate, a tree of broadcast-reduce nodes: cerebras.net/glossary/swarmx"
    {"cs2x2", "wse2", 2, WEFT_NET_SWITCH, 150e9, 2e-6, "2 CS-2 systems behind SwarmX and MemoryX (a Wafer-Scale Cluster)", CS2_SWARMX, SWARMX_SRC},
    {"cs2x4", "wse2", 4, WEFT_NET_SWITCH, 150e9, 2e-6, "4 CS-2 systems behind SwarmX and MemoryX (a Wafer-Scale Cluster)", CS2_SWARMX, SWARMX_SRC},
    {"cs2x16", "wse2", 16, WEFT_NET_SWITCH, 150e9, 2e-6, "16 CS-2 systems behind SwarmX and MemoryX (a Wafer-Scale Cluster)", CS2_SWARMX, SWARMX_SRC},
    {"cs3x4", "wse3", 4, WEFT_NET_SWITCH, 150e9, 2e-6, "4 CS-3 systems behind SwarmX and MemoryX (ALCF's CS-3 cluster)",
     "SwarmX: each CS-3's I/O taken as the CS-2's 150 GB/s, 2 us a level (not published)",
     "ALCF CS-3 cluster: 4 CS-3, 24 MemoryX nodes, 8 SwarmX nodes: argonne-lcf/user-guides docs/ai-testbed/cerebras"},
    {"sn30-node", "sn30", 8, WEFT_NET_RING, 50e9, 5e-6, "An SN30 node: 8 RDUs, data parallel over the node's RDU network",
     "RDU to RDU: data parallel over SambaNova's CCL (PCIe DMA or RoCE) taken as a ring of 50 GB/s, 5 us links (not published)",
     "SN30 node: 8 RDUs (4 XRDU x 2), 8 tiles each: ALCF user guide (sntilestat)"},
    {"sn30x2-node", "sn30", 16, WEFT_NET_RING, 12.5e9, 10e-6, "Two SN30 nodes: 16 RDUs, data parallel over RoCE between the nodes",
     "the ring crosses between the nodes over 100 Gb/s RoCE NICs (12.5 GB/s, 10 us), which paces all of it (not published)",
     "RDMA NIC snni0, 100 Gb/s: docs.sambanova.ai runtime 1.16 release notes; 8 SN30 nodes at ALCF: ALCF user guide"},
    {"mesh-32x32x4", "mesh-32x32", 4, WEFT_NET_SWITCH, 150e9, 2e-6, "4 chips of 32 x 32 WSE-2 PEs behind a reducing switch, for tests",
     "a teaching cluster: the WSE-2 preset's PE figures, the CS-2 cluster's SwarmX assumptions", NULL},
};
#define N_PRESETS (N_CHIPS + (int)(sizeof clusters / sizeof *clusters))

const char *const *weft_arch_preset_names(void) {
    static const char *names[N_PRESETS + 1];
    for (int i = 0; i < N_CHIPS; i++) names[i] = presets[i].name;
    for (int i = N_CHIPS; i < N_PRESETS; i++) names[i] = clusters[i - N_CHIPS].name;
    names[N_PRESETS] = NULL;
    return names;
}

static void add_note(char (*notes)[160], int *n, const char *text) {
    if (text && *n < WEFT_ARCH_MAX_NOTES) snprintf(notes[(*n)++], 160, "%.159s", text);
}

weft_status weft_arch_preset(const char *name, weft_arch *out, weft_err *err) {
    for (int i = 0; i < N_CHIPS; i++)
        if (!strcmp(presets[i].name, name)) { *out = presets[i]; return WEFT_OK; }
    for (int i = 0; i < N_PRESETS - N_CHIPS; i++) {
        const cluster_def *c = &clusters[i];
        if (strcmp(c->name, name)) continue;
        weft_arch a;
        weft_status s = weft_arch_preset(c->chip, &a, err);
        if (s) return s;
        snprintf(a.name, sizeof a.name, "%s", c->name);
        snprintf(a.description, sizeof a.description, "%s: %d x %s", c->description, c->count, c->chip);
        a.chips = c->count;
        a.chip_net = c->net;
        a.chip_link_bytes_per_s = c->link_bytes_per_s;
        a.chip_link_latency_s = c->link_latency_s;
        add_note(a.assumptions, &a.n_assumptions, c->assumption);
        add_note(a.sources, &a.n_sources, c->source);
        *out = a;
        return WEFT_OK;
    }
    char list[512] = "";
    for (const char *const *p = weft_arch_preset_names(); *p; p++) {
        strncat(list, *p, sizeof list - strlen(list) - 1);
        if (p[1]) strncat(list, ", ", sizeof list - strlen(list) - 1);
    }
    return weft_err_set(err, WEFT_ERR_INVALID, "unknown machine '%s' (presets: %s; or a path to a .json file)", name, list);
}

weft_status weft_arch_get(const char *name, weft_arch *out, weft_err *err) {
    size_t n = strlen(name);
    if (n > 5 && !strcmp(name + n - 5, ".json")) return weft_arch_load(name, out, err);
    /* not a preset but something on disk (a folder, a file without .json): say what it is */
    struct stat st;
    bool preset = false;
    for (const char *const *p = weft_arch_preset_names(); *p && !preset; p++)
        preset = !strcmp(*p, name);
    if (!preset && stat(name, &st) == 0) return weft_arch_load(name, out, err);
    return weft_arch_preset(name, out, err);
}

/* ---- derived ---- */

int64_t weft_arch_tiles(const weft_arch *a) { return (int64_t)a->width * a->height * a->chips; }

const weft_tile_kind *weft_arch_kind_at(const weft_arch *a, int x, int y) {
    (void)y;
    return &a->kinds[a->pattern[x % a->n_pattern]];
}

double weft_arch_peak_flops(const weft_arch *a, weft_arch_dtype dt) {
    double per_cycle = 0;
    for (int x = 0; x < a->width; x++) per_cycle += weft_arch_kind_at(a, x, 0)->flops_per_cycle[dt];
    return per_cycle * a->height * a->clock_hz * a->chips;
}

double weft_arch_full_load_w(const weft_arch *a) {
    const weft_energy *e = &a->energy;
    double arith = 0, links = 4.0 * a->width * a->height * a->link_bytes_per_cycle * a->clock_hz;
    for (int d = 0; d < WEFT_ARCH_NUM_DTYPES; d++) {
        double w = weft_arch_peak_flops(a, (weft_arch_dtype)d) / a->chips * e->pj_per_flop[d] * 1e-12;
        if (w > arith) arith = w;
    }
    return e->static_w + arith + links * e->pj_per_hop_byte * 1e-12;
}

int64_t weft_arch_sram_total(const weft_arch *a) {
    int64_t per_row = 0;
    for (int x = 0; x < a->width; x++) per_row += weft_arch_kind_at(a, x, 0)->sram_bytes;
    return per_row * a->height * a->chips;
}

int weft_arch_switch_levels(int replicas) {
    int levels = 0;
    while ((1 << levels) < replicas && levels < 30) levels++;
    return levels;
}

double weft_arch_allreduce_s(const weft_arch *a, int replicas, double bytes) {
    double R = replicas, L = a->chip_link_bytes_per_s, lat = weft_arch_allreduce_latency_s(a, replicas);
    if (replicas <= 1 || !(L > 0)) return 0;
    switch (a->chip_net) {
    case WEFT_NET_SWITCH: return bytes / L + lat;
    case WEFT_NET_RING: return 2 * (R - 1) / R * bytes / L + lat;
    case WEFT_NET_ALL: return 2 * bytes / (R * L) + lat;
    case WEFT_NET_NONE: break;
    }
    return 0;
}

double weft_arch_allreduce_latency_s(const weft_arch *a, int replicas) {
    if (replicas <= 1 || !(a->chip_link_bytes_per_s > 0)) return 0;
    double lat = a->chip_link_latency_s;
    return a->chip_net == WEFT_NET_SWITCH ? 2 * weft_arch_switch_levels(replicas) * lat
           : a->chip_net == WEFT_NET_RING ? 2 * (replicas - 1) * lat
           : a->chip_net == WEFT_NET_ALL  ? 2 * lat : 0;
}

/* ---- validation ---- */

static const char *edge_names[] = {"west", "east", "north", "south", "all"};
static const char *dtype_keys[] = {"fp32", "fp16", "bf16"};
static const char *dtype_keys_null[] = {"fp32", "fp16", "bf16", NULL};

#define BAD(field, fmt, ...) return weft_err_set(err, WEFT_ERR_INVALID, "%s: field '%s': " fmt, w, field, ##__VA_ARGS__)

/* Rates must be physical: a positive rate of 1e-300 passes "> 0" but turns bytes into 1e300
 * cycles, which overflows the cycle counts into a fast, wrong answer. The lower bounds are far
 * below any real machine (a thousandth of a byte or flop per cycle; 1 MB/s) and keep every time
 * weft computes from a bounded size within int64 cycles. */
#define RATE_MIN 1e-3
#define RATE(field, v, lo, hi, unit, zero_ok)                                                            \
    do {                                                                                                \
        double v_ = (v);                                                                                \
        if (!((zero_ok) && v_ == 0) && !(v_ >= (lo) && v_ <= (hi)))                                      \
            BAD(field, "%g %s is outside the physical range %s%g to %g", v_, unit, (zero_ok) ? "0 or " : "", \
                (double)(lo), (double)(hi));                                                            \
    } while (0)

weft_status weft_arch_validate(const weft_arch *a, const char *w, weft_err *err) {
    if (!a->name[0]) BAD("name", "must be a non-empty string");
    if (a->width < 1 || a->width > WEFT_ARCH_MAX_DIM) BAD("mesh.width", "%d is not in 1..%d", a->width, WEFT_ARCH_MAX_DIM);
    if (a->height < 1 || a->height > WEFT_ARCH_MAX_DIM) BAD("mesh.height", "%d is not in 1..%d", a->height, WEFT_ARCH_MAX_DIM);
    if (!(a->clock_hz >= 1e6 && a->clock_hz <= 1e11)) BAD("clock_hz", "%g is not a clock between 1 MHz and 100 GHz", a->clock_hz);
    if (a->n_kinds < 1 || a->n_kinds > WEFT_ARCH_MAX_KINDS) BAD("tile_kinds", "needs 1 to %d kinds, has %d", WEFT_ARCH_MAX_KINDS, a->n_kinds);
    bool computes = false;
    for (int k = 0; k < a->n_kinds; k++) {
        const weft_tile_kind *t = &a->kinds[k];
        char f[96], g[160];
        snprintf(f, sizeof f, "tile_kinds[%d]", k);
        if (!t->name[0]) BAD(f, "needs a name");
        for (int j = 0; j < k; j++)
            if (!strcmp(a->kinds[j].name, t->name)) BAD(f, "name '%s' is used twice", t->name);
        if (t->sram_bytes < 0 || t->sram_bytes > ((int64_t)1 << 34)) BAD(f, "sram_bytes %lld is not in 0..16 GiB", (long long)t->sram_bytes);
        snprintf(g, sizeof g, "%s.sram_read_bytes_per_cycle", f);
        RATE(g, t->sram_read_bytes_per_cycle, RATE_MIN, 1e6, "bytes per cycle", true);
        snprintf(g, sizeof g, "%s.sram_write_bytes_per_cycle", f);
        RATE(g, t->sram_write_bytes_per_cycle, RATE_MIN, 1e6, "bytes per cycle", true);
        if (t->sram_bytes > 0 && (t->sram_read_bytes_per_cycle <= 0 || t->sram_write_bytes_per_cycle <= 0))
            BAD(f, "a tile with SRAM needs positive sram_read/write_bytes_per_cycle");
        for (int d = 0; d < WEFT_ARCH_NUM_DTYPES; d++) {
            snprintf(g, sizeof g, "%s.flops_per_cycle.%s", f, dtype_keys[d]);
            RATE(g, t->flops_per_cycle[d], RATE_MIN, 1e6, "flops per cycle", true);
            if (t->flops_per_cycle[d] > 0) computes = true;
        }
    }
    if (!computes) BAD("tile_kinds", "no tile kind computes anything (all flops_per_cycle are 0)");
    if (a->n_pattern < 1 || a->n_pattern > 16) BAD("column_pattern", "needs 1 to 16 entries");
    for (int i = 0; i < a->n_pattern; i++)
        if (a->pattern[i] < 0 || a->pattern[i] >= a->n_kinds) BAD("column_pattern", "entry %d names no tile kind", i);
    RATE("link.bytes_per_cycle", a->link_bytes_per_cycle, RATE_MIN, 1e6, "bytes per cycle", false);
    if (a->hop_latency < 0 || a->hop_latency > 1000000) BAD("link.hop_latency_cycles", "%d is not in 0..1e6", a->hop_latency);
    if (a->ramp_latency < 0 || a->ramp_latency > 1000000) BAD("link.ramp_latency_cycles", "%d is not in 0..1e6", a->ramp_latency);
    if (a->channels < 1 || a->channels > 4096) BAD("channels", "%d is not in 1..4096", a->channels);
    if (a->offchip_bytes < 0 || a->offchip_bytes > WEFT_ARCH_MAX_OFFCHIP)
        BAD("offchip.bytes", "%lld is not in 0..%lld", (long long)a->offchip_bytes, (long long)WEFT_ARCH_MAX_OFFCHIP);
    if (a->offchip_bytes > 0) RATE("offchip.bytes_per_s", a->offchip_bytes_per_s, 1e6, 1e15, "bytes per second", false);
    if (!(a->offchip_latency_s >= 0 && a->offchip_latency_s < 1)) BAD("offchip.latency_s", "must be in [0, 1) seconds");
    RATE("offchip.update_flops_per_s", a->offchip_update_flops_per_s, 1e6, 1e18, "flops per second", true);
    for (int d = 0; d < WEFT_ARCH_NUM_DTYPES; d++) {
        char g[48];
        snprintf(g, sizeof g, "energy.pj_per_flop.%s", dtype_keys[d]);
        RATE(g, a->energy.pj_per_flop[d], RATE_MIN, 1e4, "pJ", true);
    }
    RATE("energy.pj_per_hop_byte", a->energy.pj_per_hop_byte, RATE_MIN, 1e4, "pJ", true);
    RATE("energy.pj_per_offchip_byte", a->energy.pj_per_offchip_byte, RATE_MIN, 1e5, "pJ", true);
    RATE("energy.static_w", a->energy.static_w, RATE_MIN, 1e7, "W", true);
    RATE("energy.peak_w", a->energy.peak_w, RATE_MIN, 1e7, "W", true);
    if (a->energy.peak_w > 0 && weft_arch_full_load_w(a) > a->energy.peak_w * (1 + 1e-9))
        BAD("energy", "at full load the model draws %.4g W, beyond the chip's peak_w of %.4g W", weft_arch_full_load_w(a), a->energy.peak_w);
    if (!(a->modes & WEFT_MODE_PIPELINED) && !(a->modes & (WEFT_MODE_WEIGHT_STREAMING | WEFT_MODE_SECTIONS)))
        BAD("modes", "names no execution mode");
    if (a->modes & ~7u) BAD("modes", "has an unknown mode");
    if ((a->modes & WEFT_MODE_WEIGHT_STREAMING) && a->offchip_bytes <= 0)
        BAD("modes", "weight-streaming needs off-chip memory to hold the weights (offchip.bytes is 0)");
    if ((a->modes & WEFT_MODE_SECTIONS) && a->offchip_bytes <= 0)
        BAD("modes", "sections need off-chip memory for the tensors between sections (offchip.bytes is 0)");
    if (a->chips < 1 || a->chips > 4096) BAD("chips.count", "%d is not in 1..4096", a->chips);
    if (a->chip_net < WEFT_NET_NONE || a->chip_net > WEFT_NET_ALL) BAD("chips.topology", "is not none, switch, ring or all-to-all");
    if (a->chips > 1 && a->chip_net == WEFT_NET_NONE) BAD("chips.topology", "'none' does not connect the %d chips", a->chips);
    if (a->chips > 1) RATE("chips.link_bytes_per_s", a->chip_link_bytes_per_s, 1e6, 1e15, "bytes per second", false);
    if (!(a->chip_link_latency_s >= 0 && a->chip_link_latency_s < 1)) BAD("chips.link_latency_s", "must be in [0, 1) seconds");
    return WEFT_OK;
}

/* ---- JSON ---- */


char *weft_arch_to_json(const weft_arch *a) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "name", a->name);
    cJSON_AddStringToObject(r, "description", a->description);
    cJSON *mesh = cJSON_AddObjectToObject(r, "mesh");
    cJSON_AddNumberToObject(mesh, "width", a->width);
    cJSON_AddNumberToObject(mesh, "height", a->height);
    cJSON_AddNumberToObject(r, "clock_hz", a->clock_hz);
    cJSON *kinds = cJSON_AddArrayToObject(r, "tile_kinds");
    for (int k = 0; k < a->n_kinds; k++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "name", a->kinds[k].name);
        cJSON_AddNumberToObject(t, "sram_bytes", (double)a->kinds[k].sram_bytes);
        cJSON_AddNumberToObject(t, "sram_read_bytes_per_cycle", a->kinds[k].sram_read_bytes_per_cycle);
        cJSON_AddNumberToObject(t, "sram_write_bytes_per_cycle", a->kinds[k].sram_write_bytes_per_cycle);
        cJSON *fl = cJSON_AddObjectToObject(t, "flops_per_cycle");
        for (int d = 0; d < WEFT_ARCH_NUM_DTYPES; d++) cJSON_AddNumberToObject(fl, dtype_keys[d], a->kinds[k].flops_per_cycle[d]);
        cJSON_AddItemToArray(kinds, t);
    }
    cJSON *pat = cJSON_AddArrayToObject(r, "column_pattern");
    for (int i = 0; i < a->n_pattern; i++) cJSON_AddItemToArray(pat, cJSON_CreateString(a->kinds[a->pattern[i]].name));
    cJSON *link = cJSON_AddObjectToObject(r, "link");
    cJSON_AddNumberToObject(link, "bytes_per_cycle", a->link_bytes_per_cycle);
    cJSON_AddNumberToObject(link, "hop_latency_cycles", a->hop_latency);
    cJSON_AddNumberToObject(link, "ramp_latency_cycles", a->ramp_latency);
    cJSON_AddNumberToObject(r, "channels", a->channels);
    cJSON *off = cJSON_AddObjectToObject(r, "offchip");
    cJSON_AddNumberToObject(off, "bytes", (double)a->offchip_bytes);
    cJSON_AddNumberToObject(off, "bytes_per_s", a->offchip_bytes_per_s);
    cJSON_AddNumberToObject(off, "latency_s", a->offchip_latency_s);
    cJSON_AddNumberToObject(off, "update_flops_per_s", a->offchip_update_flops_per_s);
    cJSON_AddStringToObject(off, "edge", edge_names[a->offchip_edge]);
    static const char *const mode_names[] = WEFT_MODE_NAMES;
    cJSON *modes = cJSON_AddArrayToObject(r, "modes");
    for (int m = 0; m < 3; m++)
        if (a->modes >> m & 1) cJSON_AddItemToArray(modes, cJSON_CreateString(mode_names[m]));
    if (a->energy.peak_w > 0 || a->energy.static_w > 0) {
        cJSON *en = cJSON_AddObjectToObject(r, "energy"), *pf = cJSON_AddObjectToObject(en, "pj_per_flop");
        for (int d = 0; d < WEFT_ARCH_NUM_DTYPES; d++) cJSON_AddNumberToObject(pf, dtype_keys[d], a->energy.pj_per_flop[d]);
        cJSON_AddNumberToObject(en, "pj_per_hop_byte", a->energy.pj_per_hop_byte);
        cJSON_AddNumberToObject(en, "pj_per_offchip_byte", a->energy.pj_per_offchip_byte);
        cJSON_AddNumberToObject(en, "static_w", a->energy.static_w);
        cJSON_AddNumberToObject(en, "peak_w", a->energy.peak_w);
    }
    cJSON *ch = cJSON_AddObjectToObject(r, "chips");
    cJSON_AddNumberToObject(ch, "count", a->chips);
    static const char *const net_names[] = WEFT_NET_NAMES;
    cJSON_AddStringToObject(ch, "topology", net_names[a->chip_net]);
    cJSON_AddNumberToObject(ch, "link_bytes_per_s", a->chip_link_bytes_per_s);
    cJSON_AddNumberToObject(ch, "link_latency_s", a->chip_link_latency_s);
    cJSON *as = cJSON_AddArrayToObject(r, "assumptions");
    for (int i = 0; i < a->n_assumptions; i++) cJSON_AddItemToArray(as, cJSON_CreateString(a->assumptions[i]));
    cJSON *so = cJSON_AddArrayToObject(r, "sources");
    for (int i = 0; i < a->n_sources; i++) cJSON_AddItemToArray(so, cJSON_CreateString(a->sources[i]));
    char *s = cJSON_Print(r);
    cJSON_Delete(r);
    return s;
}

/* A strict reader: unknown keys are errors (a typo must not silently keep a default). */
typedef struct { const char *where; weft_err *err; weft_status s; } reader;

static bool check_keys(reader *r, const cJSON *obj, const char *path, const char *const *allowed) {
    if (r->s) return false;
    if (!cJSON_IsObject(obj)) {
        r->s = weft_err_set(r->err, WEFT_ERR_INVALID, "%s: field '%s': must be an object", r->where, path);
        return false;
    }
    for (const cJSON *c = obj->child; c; c = c->next) {
        /* cJSON keeps both of {"a": 1, "a": 2} and lookups find the first: a duplicate is an error */
        for (const cJSON *e = obj->child; e != c; e = e->next)
            if (!strcmp(e->string, c->string)) {
                r->s = weft_err_set(r->err, WEFT_ERR_INVALID, "%s: field '%s%s%s' is given twice", r->where, path, *path ? "." : "",
                                    c->string);
                return false;
            }
        bool ok = false;
        for (int i = 0; allowed[i] && !ok; i++) ok = !strcmp(allowed[i], c->string);
        if (!ok) {
            r->s = weft_err_set(r->err, WEFT_ERR_INVALID, "%s: unknown field '%s%s%s'", r->where, path, *path ? "." : "", c->string);
            return false;
        }
    }
    return true;
}

static double get_num(reader *r, const cJSON *obj, const char *path, const char *key, bool required, double dflt) {
    if (r->s) return dflt;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        if (required) r->s = weft_err_set(r->err, WEFT_ERR_INVALID, "%s: field '%s%s%s' is missing", r->where, path, *path ? "." : "", key);
        return dflt;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        r->s = weft_err_set(r->err, WEFT_ERR_INVALID, "%s: field '%s%s%s': must be a number", r->where, path, *path ? "." : "", key);
        return dflt;
    }
    return v->valuedouble;
}

static int get_int(reader *r, const cJSON *obj, const char *path, const char *key, bool required, int dflt) {
    double d = get_num(r, obj, path, key, required, dflt);
    if (!r->s && (d != floor(d) || d < -2e9 || d > 2e9))
        r->s = weft_err_set(r->err, WEFT_ERR_INVALID, "%s: field '%s%s%s': %g is not an integer", r->where, path, *path ? "." : "", key, d);
    return r->s ? dflt : (int)d;
}

/* An integer field of up to 2^53 (exact in a double): the cast of a larger double to int64 is
 * undefined and printed wrapped values. */
static int64_t get_i64(reader *r, const cJSON *obj, const char *path, const char *key, bool required, int64_t max) {
    double d = get_num(r, obj, path, key, required, 0);
    if (!r->s && (d != floor(d) || d < 0 || d > (double)max))
        r->s = weft_err_set(r->err, WEFT_ERR_INVALID, "%s: field '%s%s%s': %g is not an integer in 0..%lld", r->where, path,
                            *path ? "." : "", key, d, (long long)max);
    return r->s ? 0 : (int64_t)d;
}

static void get_str(reader *r, const cJSON *obj, const char *path, const char *key, bool required, char *out, size_t n) {
    if (r->s) return;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        if (required) r->s = weft_err_set(r->err, WEFT_ERR_INVALID, "%s: field '%s%s%s' is missing", r->where, path, *path ? "." : "", key);
        return;
    }
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= n) {
        r->s = weft_err_set(r->err, WEFT_ERR_INVALID, "%s: field '%s%s%s': must be a string of under %zu characters", r->where, path,
                            *path ? "." : "", key, n);
        return;
    }
    snprintf(out, n, "%s", v->valuestring);
}

static void get_notes(reader *r, const cJSON *obj, const char *key, char (*out)[160], int *n) {
    *n = 0;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (r->s || !v) return;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > WEFT_ARCH_MAX_NOTES) {
        r->s = weft_err_set(r->err, WEFT_ERR_INVALID, "%s: field '%s': must be an array of at most %d strings", r->where, key, WEFT_ARCH_MAX_NOTES);
        return;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, v) {
        if (!cJSON_IsString(c)) {
            r->s = weft_err_set(r->err, WEFT_ERR_INVALID, "%s: field '%s[%d]': must be a string", r->where, key, *n);
            return;
        }
        snprintf(out[(*n)++], 160, "%s", c->valuestring);
    }
}

/* cJSON allocates through weft's fallible allocator (counted by the fault injection) */
static void *json_malloc(size_t n) { return weft_try_malloc(n); }
static void json_hooks(void) {
    cJSON_Hooks h = {json_malloc, free};
    cJSON_InitHooks(&h);
}

static weft_status arch_parse(const char *json, const char *where, weft_arch *a, weft_err *err) {
    memset(a, 0, sizeof *a);
    /* the whole text must be one JSON value: bytes after it are an error, not ignored */
    static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;
    pthread_once(&hooks_once, json_hooks);
    const char *end = NULL;
    int64_t failures = weft_alloc_failures();
    cJSON *root = cJSON_ParseWithOpts(json, &end, false);
    if (!root && weft_alloc_failures() != failures) return weft_err_set(err, WEFT_ERR_NOMEM, "%s: out of memory parsing the JSON", where);
    const char *at = root ? end : cJSON_GetErrorPtr();
    while (root && at && (*at == ' ' || *at == '\t' || *at == '\n' || *at == '\r')) at++;
    if (!root || (at && *at)) {
        int line = 1;
        for (const char *p = json; at && p < at && *p; p++) line += *p == '\n';
        if (root) cJSON_Delete(root);
        return weft_err_set(err, WEFT_ERR_INVALID, "%s: %s (near line %d)", where,
                            root ? "bytes after the JSON value: one machine description per file" : "not valid JSON", line);
    }
    reader r = {where, err, WEFT_OK};
    static const char *top[] = {"name", "description", "mesh", "clock_hz", "tile_kinds", "column_pattern", "link", "channels",
                                "offchip", "modes", "chips", "energy", "assumptions", "sources", NULL};
    static const char *mesh_keys[] = {"width", "height", NULL};
    static const char *kind_keys[] = {"name", "sram_bytes", "sram_read_bytes_per_cycle", "sram_write_bytes_per_cycle",
                                      "flops_per_cycle", NULL};
    static const char *link_keys[] = {"bytes_per_cycle", "hop_latency_cycles", "ramp_latency_cycles", NULL};
    static const char *off_keys[] = {"bytes", "bytes_per_s", "latency_s", "update_flops_per_s", "edge", NULL};
    static const char *chip_keys[] = {"count", "topology", "link_bytes_per_s", "link_latency_s", NULL};
    static const char *energy_keys[] = {"pj_per_flop", "pj_per_hop_byte", "pj_per_offchip_byte", "static_w", "peak_w", NULL};
    /* {"name": ..., "chip": "wse2", "chips": {...}}: a machine of several chips of a preset */
    static const char *of_chip[] = {"name", "description", "chip", "chips", "assumptions", "sources", NULL};
    const cJSON *chip = cJSON_GetObjectItemCaseSensitive(root, "chip");
    if (chip && check_keys(&r, root, "", of_chip)) {
        char base[64] = "";
        get_str(&r, root, "", "chip", true, base, sizeof base);
        if (!r.s && weft_arch_preset(base, a, err)) r.s = weft_err_prefix(err, "%s: field 'chip'", where);
        if (!r.s && a->chips > 1) r.s = weft_err_set(err, WEFT_ERR_INVALID, "%s: field 'chip': '%s' is a machine of %d chips, not one chip", where, base, a->chips);
        get_str(&r, root, "", "name", true, a->name, sizeof a->name);
        get_str(&r, root, "", "description", false, a->description, sizeof a->description);
        char notes[WEFT_ARCH_MAX_NOTES][160];
        int n = 0;
        get_notes(&r, root, "assumptions", notes, &n);
        for (int i = 0; i < n; i++) add_note(a->assumptions, &a->n_assumptions, notes[i]);
        get_notes(&r, root, "sources", notes, &n);
        for (int i = 0; i < n; i++) add_note(a->sources, &a->n_sources, notes[i]);
    } else if (check_keys(&r, root, "", top)) {
        get_str(&r, root, "", "name", true, a->name, sizeof a->name);
        get_str(&r, root, "", "description", false, a->description, sizeof a->description);
        const cJSON *mesh = cJSON_GetObjectItemCaseSensitive(root, "mesh");
        if (!mesh) r.s = weft_err_set(err, WEFT_ERR_INVALID, "%s: field 'mesh' is missing", where);
        else if (check_keys(&r, mesh, "mesh", mesh_keys)) {
            a->width = get_int(&r, mesh, "mesh", "width", true, 0);
            a->height = get_int(&r, mesh, "mesh", "height", true, 0);
        }
        a->clock_hz = get_num(&r, root, "", "clock_hz", true, 0);
        const cJSON *kinds = cJSON_GetObjectItemCaseSensitive(root, "tile_kinds");
        if (!r.s && (!cJSON_IsArray(kinds) || cJSON_GetArraySize(kinds) < 1 || cJSON_GetArraySize(kinds) > WEFT_ARCH_MAX_KINDS))
            r.s = weft_err_set(err, WEFT_ERR_INVALID, "%s: field 'tile_kinds': must be an array of 1 to %d tile kinds", where, WEFT_ARCH_MAX_KINDS);
        const cJSON *k;
        if (!r.s) cJSON_ArrayForEach(k, kinds) {
            char path[64];
            snprintf(path, sizeof path, "tile_kinds[%d]", a->n_kinds);
            weft_tile_kind *t = &a->kinds[a->n_kinds++];
            if (!check_keys(&r, k, path, kind_keys)) break;
            get_str(&r, k, path, "name", true, t->name, sizeof t->name);
            t->sram_bytes = get_i64(&r, k, path, "sram_bytes", true, (int64_t)1 << 34);
            t->sram_read_bytes_per_cycle = get_num(&r, k, path, "sram_read_bytes_per_cycle", t->sram_bytes > 0, 0);
            t->sram_write_bytes_per_cycle = get_num(&r, k, path, "sram_write_bytes_per_cycle", t->sram_bytes > 0, 0);
            const cJSON *fl = cJSON_GetObjectItemCaseSensitive(k, "flops_per_cycle");
            char fpath[96];
            snprintf(fpath, sizeof fpath, "%s.flops_per_cycle", path);
            if (!fl) r.s = weft_err_set(err, WEFT_ERR_INVALID, "%s: field '%s' is missing", where, fpath);
            else if (check_keys(&r, fl, fpath, (const char *const[]){"fp32", "fp16", "bf16", NULL}))
                for (int d = 0; d < WEFT_ARCH_NUM_DTYPES; d++) t->flops_per_cycle[d] = get_num(&r, fl, fpath, dtype_keys[d], false, 0);
        }
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(root, "column_pattern");
        if (!r.s && !pat) { a->n_pattern = 1; a->pattern[0] = 0; }
        else if (!r.s && (!cJSON_IsArray(pat) || cJSON_GetArraySize(pat) < 1 || cJSON_GetArraySize(pat) > 16))
            r.s = weft_err_set(err, WEFT_ERR_INVALID, "%s: field 'column_pattern': must be an array of 1 to 16 tile kind names", where);
        else if (!r.s) {
            const cJSON *c;
            cJSON_ArrayForEach(c, pat) {
                int found = -1;
                for (int i = 0; i < a->n_kinds && cJSON_IsString(c); i++)
                    if (!strcmp(a->kinds[i].name, c->valuestring)) found = i;
                if (found < 0) {
                    r.s = weft_err_set(err, WEFT_ERR_INVALID, "%s: field 'column_pattern[%d]': names no tile kind", where, a->n_pattern);
                    break;
                }
                a->pattern[a->n_pattern++] = found;
            }
        }
        const cJSON *link = cJSON_GetObjectItemCaseSensitive(root, "link");
        if (!r.s && !link) r.s = weft_err_set(err, WEFT_ERR_INVALID, "%s: field 'link' is missing", where);
        else if (check_keys(&r, link, "link", link_keys)) {
            a->link_bytes_per_cycle = get_num(&r, link, "link", "bytes_per_cycle", true, 0);
            a->hop_latency = get_int(&r, link, "link", "hop_latency_cycles", true, 0);
            a->ramp_latency = get_int(&r, link, "link", "ramp_latency_cycles", false, 0);
        }
        a->channels = get_int(&r, root, "", "channels", true, 0);
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(root, "offchip");
        if (off && check_keys(&r, off, "offchip", off_keys)) {
            a->offchip_bytes = get_i64(&r, off, "offchip", "bytes", true, WEFT_ARCH_MAX_OFFCHIP);
            a->offchip_bytes_per_s = get_num(&r, off, "offchip", "bytes_per_s", a->offchip_bytes > 0, 0);
            a->offchip_latency_s = get_num(&r, off, "offchip", "latency_s", false, 0);
            a->offchip_update_flops_per_s = get_num(&r, off, "offchip", "update_flops_per_s", false, 0);
            char edge[16] = "west";
            get_str(&r, off, "offchip", "edge", false, edge, sizeof edge);
            int e = -1;
            for (int i = 0; i < 5; i++)
                if (!strcmp(edge, edge_names[i])) e = i;
            if (!r.s && e < 0) r.s = weft_err_set(err, WEFT_ERR_INVALID, "%s: field 'offchip.edge': '%s' is not west, east, north, south or all", where, edge);
            a->offchip_edge = e < 0 ? WEFT_EDGE_WEST : (weft_edge)e;
        }
        /* the modes: absent, pipelined only (every machine runs what fits it) */
        const cJSON *modes = cJSON_GetObjectItemCaseSensitive(root, "modes");
        a->modes = WEFT_MODE_PIPELINED;
        if (!r.s && modes) {
            static const char *const mode_names[] = WEFT_MODE_NAMES;
            a->modes = 0;
            if (!cJSON_IsArray(modes) || cJSON_GetArraySize(modes) < 1)
                r.s = weft_err_set(err, WEFT_ERR_INVALID, "%s: field 'modes': must be an array of mode names (pipelined, weight-streaming, sections)", where);
            const cJSON *m;
            int at = 0;
            if (!r.s) cJSON_ArrayForEach(m, modes) {
                int found = -1;
                for (int i = 0; i < 3 && cJSON_IsString(m); i++)
                    if (!strcmp(m->valuestring, mode_names[i])) found = i;
                if (found < 0) {
                    r.s = weft_err_set(err, WEFT_ERR_INVALID, "%s: field 'modes[%d]': not pipelined, weight-streaming or sections", where, at);
                    break;
                }
                a->modes |= 1u << found;
                at++;
            }
        }
        a->chips = 1;
        a->chip_net = WEFT_NET_NONE;
        const cJSON *en = cJSON_GetObjectItemCaseSensitive(root, "energy");
        if (!r.s && en && check_keys(&r, en, "energy", energy_keys)) {
            const cJSON *pf = cJSON_GetObjectItemCaseSensitive(en, "pj_per_flop");
            if (pf && check_keys(&r, pf, "energy.pj_per_flop", dtype_keys_null))
                for (int d = 0; d < WEFT_ARCH_NUM_DTYPES; d++)
                    a->energy.pj_per_flop[d] = get_num(&r, pf, "energy.pj_per_flop", dtype_keys[d], false, 0);
            a->energy.pj_per_hop_byte = get_num(&r, en, "energy", "pj_per_hop_byte", false, 0);
            a->energy.pj_per_offchip_byte = get_num(&r, en, "energy", "pj_per_offchip_byte", false, 0);
            a->energy.static_w = get_num(&r, en, "energy", "static_w", false, 0);
            a->energy.peak_w = get_num(&r, en, "energy", "peak_w", false, 0);
        }
        get_notes(&r, root, "assumptions", a->assumptions, &a->n_assumptions);
        get_notes(&r, root, "sources", a->sources, &a->n_sources);
    }
    const cJSON *chips = r.s ? NULL : cJSON_GetObjectItemCaseSensitive(root, "chips");
    if (chips && check_keys(&r, chips, "chips", chip_keys)) {
        a->chips = get_int(&r, chips, "chips", "count", true, 1);
        char net[32] = "";
        get_str(&r, chips, "chips", "topology", a->chips > 1, net, sizeof net);
        static const char *const net_names[] = WEFT_NET_NAMES;
        int found = -1;
        for (int i = 0; i < 4; i++)
            if (!strcmp(net, net_names[i])) found = i;
        if (!r.s && net[0] && found < 0)
            r.s = weft_err_set(err, WEFT_ERR_INVALID, "%s: field 'chips.topology': '%s' is not none, switch, ring or all-to-all", where, net);
        if (found >= 0) a->chip_net = (weft_chip_net)found;
        a->chip_link_bytes_per_s = get_num(&r, chips, "chips", "link_bytes_per_s", a->chips > 1 && !chip, a->chip_link_bytes_per_s);
        a->chip_link_latency_s = get_num(&r, chips, "chips", "link_latency_s", false, a->chip_link_latency_s);
    }
    cJSON_Delete(root);
    if (r.s) return r.s;
    return weft_arch_validate(a, where, err);
}

/* The description is read into a copy and handed out only when it is valid: a refused one leaves
 * *out as it was. */
weft_status weft_arch_parse(const char *json, const char *where, weft_arch *out, weft_err *err) {
    weft_arch *a = weft_try_malloc(sizeof *a);
    if (!a) return weft_err_set(err, WEFT_ERR_NOMEM, "%s: out of memory", where);
    weft_status s = arch_parse(json, where, a, err);
    if (!s) *out = *a;
    free(a);
    return s;
}

weft_status weft_arch_load(const char *path, weft_arch *out, weft_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return weft_err_set(err, WEFT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    bool stat_ok = fstat(fileno(f), &st) == 0;
    if (!stat_ok || !S_ISREG(st.st_mode)) {
        fclose(f);
        return weft_err_set(err, WEFT_ERR_IO, "%s: %s, not a machine description file", path,
                            !stat_ok ? "cannot stat" : S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
    }
    char *buf = weft_try_malloc(1 << 20);
    if (!buf) {
        fclose(f);
        return weft_err_set(err, WEFT_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    if (more) { free(buf); return weft_err_set(err, WEFT_ERR_INVALID, "%s: over 1 MiB; not a machine description", path); }
    buf[n] = 0;
    weft_status s = weft_arch_parse(buf, path, out, err);
    free(buf);
    return s;
}

void weft_arch_print(const weft_arch *a, FILE *f) {
    fprintf(f, "%s: %s\n", a->name, a->description);
    fprintf(f, "  mesh            %d x %d tiles (%lld), %d chip%s\n", a->width, a->height,
            (long long)a->width * a->height, a->chips, a->chips > 1 ? "s" : "");
    fprintf(f, "  clock           %.3g GHz\n", a->clock_hz * 1e-9);
    for (int k = 0; k < a->n_kinds; k++) {
        const weft_tile_kind *t = &a->kinds[k];
        fprintf(f, "  tile '%s'%*s SRAM %lld B (read %g, write %g B/cycle); flops/cycle fp32 %g, fp16 %g, bf16 %g\n", t->name,
                (int)(8 - strlen(t->name)), "", (long long)t->sram_bytes, t->sram_read_bytes_per_cycle,
                t->sram_write_bytes_per_cycle, t->flops_per_cycle[0], t->flops_per_cycle[1], t->flops_per_cycle[2]);
    }
    if (a->n_kinds > 1) {
        fprintf(f, "  columns         ");
        for (int i = 0; i < a->n_pattern; i++) fprintf(f, "%s%s", i ? ", " : "", a->kinds[a->pattern[i]].name);
        fprintf(f, " (repeating)\n");
    }
    fprintf(f, "  links           %g B/cycle per direction, %d cycle%s per hop, ramp %d cycles, %d channels\n",
            a->link_bytes_per_cycle, a->hop_latency, a->hop_latency == 1 ? "" : "s", a->ramp_latency, a->channels);
    if (a->offchip_bytes)
        fprintf(f, "  off-chip        %.4g GB at %.4g GB/s each way, %.3g us latency, %s edge%s\n", (double)a->offchip_bytes * 1e-9,
                a->offchip_bytes_per_s * 1e-9, a->offchip_latency_s * 1e6, edge_names[a->offchip_edge],
                a->offchip_update_flops_per_s > 0 ? "" : "; computes nothing");
    if (a->offchip_update_flops_per_s > 0)
        fprintf(f, "  off-chip update %.3g TFLOP/s (the optimizer runs in off-chip memory in weight streaming)\n", a->offchip_update_flops_per_s * 1e-12);
    if (a->energy.peak_w > 0 || a->energy.static_w > 0)
        fprintf(f, "  energy          %.3g / %.3g / %.3g pJ a fp32 / fp16 / bf16 flop, %.3g pJ a byte-hop, %.3g pJ an off-chip byte, "
                   "%.4g W static; full load %.4g W of its %.4g W peak (a chip; estimates)\n",
                a->energy.pj_per_flop[0], a->energy.pj_per_flop[1], a->energy.pj_per_flop[2], a->energy.pj_per_hop_byte,
                a->energy.pj_per_offchip_byte, a->energy.static_w, weft_arch_full_load_w(a), a->energy.peak_w);
    static const char *const mode_names[] = WEFT_MODE_NAMES;
    fprintf(f, "  modes          ");
    for (int m = 0; m < 3; m++)
        if (a->modes >> m & 1) fprintf(f, " %s", mode_names[m]);
    fprintf(f, "\n");
    static const char *const net_names[] = WEFT_NET_NAMES;
    if (a->chips > 1)
        fprintf(f, "  chips           %d, %s network: %.3g GB/s a link each way, %.3g us a %s\n", a->chips, net_names[a->chip_net],
                a->chip_link_bytes_per_s * 1e-9, a->chip_link_latency_s * 1e6, a->chip_net == WEFT_NET_SWITCH ? "level" : "hop");
    fprintf(f, "  totals          SRAM %.4g GB; peak %.4g TFLOP/s fp32, %.4g TFLOP/s fp16, %.4g TFLOP/s bf16\n",
            (double)weft_arch_sram_total(a) * 1e-9, weft_arch_peak_flops(a, WEFT_ARCH_FP32) * 1e-12,
            weft_arch_peak_flops(a, WEFT_ARCH_FP16) * 1e-12, weft_arch_peak_flops(a, WEFT_ARCH_BF16) * 1e-12);
    if (a->n_assumptions) {
        fprintf(f, "  assumptions (not published figures):\n");
        for (int i = 0; i < a->n_assumptions; i++) fprintf(f, "    - %s\n", a->assumptions[i]);
    }
    if (a->n_sources) {
        fprintf(f, "  sources:\n");
        for (int i = 0; i < a->n_sources; i++) fprintf(f, "    - %s\n", a->sources[i]);
    }
}

weft_status weft_arch_open(const char *name_or_path, weft_arch **out, weft_err *err) {
    weft_arch *a = weft_xmalloc(sizeof *a);
    weft_status s = weft_arch_get(name_or_path, a, err);
    if (s) { free(a); a = NULL; }
    *out = a;
    return s;
}

void weft_arch_close(weft_arch *a) { free(a); }
