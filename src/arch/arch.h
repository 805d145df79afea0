/* arch: machine descriptions. A chip is a width x height mesh of tiles; tiles are of one or more
 * kinds (a Cerebras PE; SambaNova's compute PCU and memory PMU), laid out uniformly or in a
 * repeating column pattern. Links between neighbouring routers move link_bytes_per_cycle per
 * direction with hop_latency cycles; traffic is carried on a limited number of channels (colors).
 * Off-chip memory attaches at the fabric's edge; chips connect through chip-to-chip links.
 *
 * Descriptions come from presets (weft_arch_preset) or JSON files (weft_arch_load); every field
 * is validated, and errors name the file and the field. Figures that are assumptions rather than
 * published values are listed in `assumptions`, and `weft arch show` prints them. */
#ifndef WEFT_ARCH_H
#define WEFT_ARCH_H

#include "core/core.h"

#define WEFT_ARCH_MAX_KINDS 4
#define WEFT_ARCH_MAX_NOTES 32
#define WEFT_ARCH_MAX_DIM 4096  /* mesh side bound: keeps per-tile tables bounded */
#define WEFT_ARCH_MAX_OFFCHIP ((int64_t)1 << 50)  /* off-chip memory bound: 1 PiB */

typedef enum { WEFT_ARCH_FP32, WEFT_ARCH_FP16, WEFT_ARCH_BF16, WEFT_ARCH_NUM_DTYPES } weft_arch_dtype;

typedef struct {
    char name[32];
    int64_t sram_bytes;                           /* per tile */
    double sram_read_bytes_per_cycle, sram_write_bytes_per_cycle;
    double flops_per_cycle[WEFT_ARCH_NUM_DTYPES]; /* 0: this kind does not compute that dtype */
} weft_tile_kind;

/* The four links of a router, as indexed in per-link tables: (y * width + x) * 4 + dir. */
enum { WEFT_DIR_EAST, WEFT_DIR_WEST, WEFT_DIR_NORTH, WEFT_DIR_SOUTH };

static inline const char *weft_dir_name(int d) {
    static const char *const names[] = {"east", "west", "north", "south"};
    return d >= 0 && d < 4 ? names[d] : "?";
}
/* Moves (x, y) to the next tile in direction d (y grows to the south). */
static inline void weft_dir_step(int d, int *x, int *y) {
    *x += d == WEFT_DIR_EAST ? 1 : d == WEFT_DIR_WEST ? -1 : 0;
    *y += d == WEFT_DIR_SOUTH ? 1 : d == WEFT_DIR_NORTH ? -1 : 0;
}

typedef enum { WEFT_EDGE_WEST, WEFT_EDGE_EAST, WEFT_EDGE_NORTH, WEFT_EDGE_SOUTH, WEFT_EDGE_ALL } weft_edge;

/* Execution modes a machine supports (a bit each): every layer resident at once; weights held
 * off the chip and streamed in layer by layer (Cerebras MemoryX); the graph cut into sections run
 * one after another (SambaNova). */
enum { WEFT_MODE_PIPELINED = 1, WEFT_MODE_WEIGHT_STREAMING = 2, WEFT_MODE_SECTIONS = 4 };
#define WEFT_MODE_NAMES {"pipelined", "weight-streaming", "sections"}

/* How the chips of a machine connect (chips.topology): a switch tree that reduces gradients
 * and broadcasts weights at line rate on the way (Cerebras SwarmX), a ring of chip links, every
 * chip linked to every other, or not at all (one chip). Each chip has one link of
 * chip_link_bytes_per_s each way into the network (a ring: to each neighbour; all-to-all: to
 * each other chip); chip_link_latency_s per hop (a switch: per level of the tree). */
typedef enum { WEFT_NET_NONE, WEFT_NET_SWITCH, WEFT_NET_RING, WEFT_NET_ALL } weft_chip_net;
#define WEFT_NET_NAMES {"none", "switch", "ring", "all-to-all"}

/* The energy model of a chip (report/energy.c), estimates with their assumptions in the preset's
 * notes; all 0: none. The pJ of a flop include reading its operands from the tile's SRAM. */
typedef struct {
    double pj_per_flop[WEFT_ARCH_NUM_DTYPES];  /* fp32, fp16, bf16 arithmetic */
    double pj_per_hop_byte;                    /* a byte over one link of the mesh */
    double pj_per_offchip_byte;                /* a byte to or from off-chip memory */
    double static_w;                           /* the system's power doing nothing, a chip */
    double peak_w;                             /* its published power at full load, a chip: a bound
                                                * the model's full-load sum must stay within */
} weft_energy;

typedef struct weft_arch {
    char name[64];
    char description[256];
    int width, height;                   /* tiles */
    double clock_hz;
    int n_kinds;
    weft_tile_kind kinds[WEFT_ARCH_MAX_KINDS];
    int n_pattern;                       /* column pattern: kind of column x is pattern[x % n_pattern] */
    int pattern[16];
    double link_bytes_per_cycle;         /* per direction, per link */
    int hop_latency;                     /* cycles per router hop */
    int ramp_latency;                    /* cycles between a tile and its router, each way */
    int channels;                        /* routable channels (colors) */
    int64_t offchip_bytes;               /* 0: none */
    double offchip_bytes_per_s;          /* each way */
    double offchip_latency_s;            /* from a request to the first byte */
    double offchip_update_flops_per_s;   /* the off-chip memory unit's optimizer arithmetic
                                          * (MemoryX runs the update); 0: it computes nothing */
    weft_edge offchip_edge;
    unsigned modes;                      /* WEFT_MODE_* bits */
    int chips;                           /* identical chips, each the mesh above */
    weft_chip_net chip_net;              /* how they connect */
    double chip_link_bytes_per_s, chip_link_latency_s;
    weft_energy energy;
    int n_assumptions, n_sources;
    char assumptions[WEFT_ARCH_MAX_NOTES][160];
    char sources[WEFT_ARCH_MAX_NOTES][160];
} weft_arch;

/* Presets: wse2, wse3, sn30, wse2-mini, mesh-8x8, mesh-32x32 (one chip each), and clusters of
 * them: cs2x2, cs2x4, cs2x16, cs3x4, sn30-node, sn30x2-node, mesh-32x32x4. */
weft_status weft_arch_preset(const char *name, weft_arch *out, weft_err *err);
/* Each preset's name and one-line description, for `weft arch list`; NULL-terminated. */
const char *const *weft_arch_preset_names(void);
/* A preset name, or a path to a JSON file. */
weft_status weft_arch_get(const char *name_or_path, weft_arch *out, weft_err *err);
weft_status weft_arch_load(const char *path, weft_arch *out, weft_err *err);
/* Parses JSON text; `where` names the source in errors. */
weft_status weft_arch_parse(const char *json, const char *where, weft_arch *out, weft_err *err);
/* Checks every field; errors name `where` and the field. */
weft_status weft_arch_validate(const weft_arch *a, const char *where, weft_err *err);
/* JSON text of a description (caller frees). Parsing it gives back the same description. */
char *weft_arch_to_json(const weft_arch *a);
void weft_arch_print(const weft_arch *a, FILE *f);

/* Derived figures. */
int64_t weft_arch_tiles(const weft_arch *a);
const weft_tile_kind *weft_arch_kind_at(const weft_arch *a, int x, int y);
double weft_arch_peak_flops(const weft_arch *a, weft_arch_dtype dt); /* per second, all chips */
/* The energy model's power at full load, a chip: static, every tile's peak arithmetic (the
 * costliest dtype), every link busy (the off-chip memory is a system of its own: MemoryX, DDR). */
double weft_arch_full_load_w(const weft_arch *a);
int64_t weft_arch_sram_total(const weft_arch *a);                    /* bytes, all chips */
/* Seconds to all-reduce `bytes` (each of `replicas` chips holds its own; each ends with the sum)
 * over the chip network: a switch tree reduces up and broadcasts down at line rate
 * (bytes / link + 2 levels x latency); a ring reduce-scatters and all-gathers
 * (2 (R - 1) / R x bytes / link + 2 (R - 1) x latency); all-to-all sends each chip's share to
 * every other chip at once (2 bytes / (R x link) + 2 x latency). 0 for one replica. */
double weft_arch_allreduce_s(const weft_arch *a, int replicas, double bytes);
/* Its latency terms alone (the rest is the links' busy time): one sum's hops overlap the next
 * sum's bytes, so the links are occupied only for the bytes. */
double weft_arch_allreduce_latency_s(const weft_arch *a, int replicas);
/* The levels of the switch tree between `replicas` chips and the root: ceil(log2 R). */
int weft_arch_switch_levels(int replicas);

#endif
