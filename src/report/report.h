/* report: pictures of a compiled program.
 *
 * weft_report_heatmap writes a PNG of the wafer (the arch's width x height mesh, tile (0, 0) at
 * the top left, x to the east):
 *   "layer"  each kernel's region in its own colour (golden-ratio hues, so neighbours differ),
 *            unused tiles dark grey, and a legend of kernel index, node name and op. Long
 *            programs are grouped by block prefix ("h.3.", "/layers.12/"): the first block is
 *            listed kernel by kernel, later ones as one row each, and what still does not fit is
 *            summed up as "... and N more".
 *   "sram"   each used tile coloured by its kernel's planned SRAM per tile (as a fraction of that
 *            tile's SRAM) on a viridis ramp from 0 to the program's peak fraction, with a colour
 *            bar labelled in bytes.
 * A title line names the model, the machine, the mesh and the tiles used. Small meshes get
 * 16-pixel tiles with grid lines and region borders; big ones (wse2: 750 x 994) one pixel per
 * tile at least, so the image stays near a thousand pixels on its long mesh side.
 *
 *     weft_err err = {0};
 *     if (weft_report_heatmap(prog, "wafer.png", "layer", &err)) fprintf(stderr, "%s\n", err.msg);
 */
#ifndef WEFT_REPORT_H
#define WEFT_REPORT_H

#include "compile/compile.h"
#include "sim/run.h"

#include <cjson/cJSON.h>

/* Where things land in a heatmap image (pixels). Tile (x, y) covers the tile_px x tile_px square
 * whose top-left corner is (mesh_x + x * tile_px, mesh_y + y * tile_px); when tile_px >= 4 its
 * first row and column are grid or border lines. */
typedef struct {
    int width, height;      /* whole image */
    int mesh_x, mesh_y;     /* top-left pixel of tile (0, 0) */
    int tile_px;            /* pixels per tile side, >= 1 */
} weft_report_layout;

/* The layout weft_report_heatmap would use for p in `mode` ("layer" or "sram"; NULL: "layer").
 * Fails with WEFT_ERR_INVALID on an unknown mode. */
weft_status weft_report_heatmap_layout(const weft_program *p, const char *mode, weft_report_layout *out,
                                       weft_err *err);

/* Writes the heatmap of p in `mode` to the PNG file `path` (overwritten). Errors: WEFT_ERR_INVALID
 * for an unknown mode, WEFT_ERR_IO naming the path when the file cannot be opened or written
 * (libpng's message included), WEFT_ERR_NOMEM when the canvas cannot be allocated. */
weft_status weft_report_heatmap(const weft_program *p, const char *path, const char *mode, weft_err *err);

/* ---- the JSON report (json.c; fields in docs/REPORT.md) ---- */

#define WEFT_REPORT_SCHEMA 2  /* "schema_version": 2 adds layers, data_parallel, gpus */

/* Adds the statistics of a run of p to the object r: samples and tokens per pass, and the
 * seconds they take (a training step may be several passes). */
void weft_report_add_stats(cJSON *r, const weft_program *p, const weft_sim_stats *st, int64_t samples, int64_t tokens,
                           double seconds);
/* Adds "kernels" to r: per kernel its node, op, kind, region, blocks, the plan's busy cycles
 * (stage x blocks x passes) and the simulated busy, waiting and last-end cycles (times: (p->n),
 * from weft_sim_detail.kernels of a run of `passes` passes). */
void weft_report_add_kernels(cJSON *r, const weft_program *p, const weft_kernel_time *times, int passes);
/* The layer of kernel k's node: its name up to its first numbered part ("h.3" of
 * "h.3.mlp.c_fc.matmul", "grad/h.3" of a backward node, "encoder.layer.0"), else its first
 * part ("wte", "head"); written into buf. */
const char *weft_report_layer_of(const weft_program *p, const weft_kernel *k, char *buf, size_t len);
/* Adds "layers" to r: the kernels rolled up by weft_report_layer_of, in program order of their
 * first kernel: kernels, tiles, flops, planned and simulated busy and waiting cycles, the
 * largest SRAM per tile, and each layer's share of all kernels' busy cycles. */
void weft_report_add_layers(cJSON *r, const weft_program *p, const weft_kernel_time *times, int passes);
/* Writes one CSV row a kernel (node, op, layer, kind, tiles, blocks, flops, SRAM per tile,
 * planned busy, busy, waiting cycles) to path. */
weft_status weft_report_profile_csv(const weft_program *p, const weft_kernel_time *times, int passes, const char *path, weft_err *err);
/* Adds host_peak_rss_bytes and writes r to path (WEFT_ERR_IO naming the path). */
weft_status weft_report_write(cJSON *r, const char *path, weft_err *err);
/* The process's peak resident memory, bytes. */
int64_t weft_report_peak_rss(void);

/* ---- the timeline trace (trace.c) ----
 * A Chrome trace-event JSON (opens in ui.perfetto.dev or chrome://tracing): weft_trace_open
 * writes the header and points the run's detail (sim/run.h) at its observer; run the
 * simulation with that detail, then weft_trace_close finishes the file. */
typedef struct weft_trace weft_trace;
struct weft_sim_detail;
weft_trace *weft_trace_open(const weft_program *p, const char *path, struct weft_sim_detail *d, weft_err *err);
weft_status weft_trace_close(weft_trace *t, const char *path, weft_err *err);
/* Drops the trace of a run that failed: no file is left (NULL-safe). */
void weft_trace_abort(weft_trace *t);
/* Adds a counter of link `link`'s occupation (1 busy, 0 idle; an index as
 * weft_sim_stats.link_busiest) to the trace of the run that uses d. */
void weft_trace_watch_link(weft_trace *t, struct weft_sim_detail *d, int64_t link);

#endif
