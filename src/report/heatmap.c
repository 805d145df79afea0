/* report/heatmap.c: the wafer heatmap (see report.h). A plan (rows of the legend, the layout) is
 * built first, then drawn into one RGB canvas and written with libpng.
 *
 * Picture, top to bottom: two header lines (title; what the colours mean), then the mesh panel
 * on the left and the legend on its right. Text uses the 5x8 font of font.c at twice its size. */
#include "report/report.h"
#include "report/report_int.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <string.h>

#define FS 2                  /* font scale */
#define CW (6 * FS)           /* glyph advance, pixels */
#define CH (8 * FS)           /* glyph height, pixels */
#define LINE (CH + 6)         /* pitch of header and legend rows */
#define MARGIN 12
#define SW_W 28               /* legend swatch */
#define SW_H CH
#define INDENT 20             /* members of an expanded group */
#define MAX_COLS 2            /* legend columns */
#define MIN_LEGEND_H 480      /* the legend may grow below a short mesh panel up to this */
#define PANEL_PX 800          /* target for the mesh panel's long side */
#define MAX_TILE_PX 16
#define NAME_MAX_CHARS 36
#define OP_MAX_CHARS 20
#define BAR_W 28              /* sram colour bar */

typedef struct { uint8_t r, g, b; } rgb;

static const rgb BG = {255, 255, 255}, INK = {24, 24, 24}, INK2 = {112, 112, 112}, UNUSED = {58, 58, 58},
                 BORDER = {12, 12, 12};

typedef enum { MODE_LAYER, MODE_SRAM } heat_mode;
typedef enum { ROW_UNUSED, ROW_KERNEL, ROW_GROUP, ROW_MORE } row_kind;

/* One legend row: a swatch (kernels k0..k1, or unused grey) and up to three pieces of text. */
typedef struct {
    row_kind kind;
    int k0, k1;
    int indent;
    char idx[24], name[NAME_MAX_CHARS + 24], op[OP_MAX_CHARS + 4];
} legend_row;

typedef struct {
    const weft_program *p;
    heat_mode mode;
    weft_report_layout lay;
    int W, H;                 /* mesh, tiles */
    int panel_w, panel_h;     /* pixels, closing grid line included */
    bool lines;               /* grid lines and region borders */
    char title[2][160];
    legend_row *rows;
    int n_rows, rows_per_col, n_cols, col_w;
    int legend_x, legend_y, legend_w, legend_h;
    double sram_fmax;         /* sram: peak fraction of a tile's SRAM (the ramp's top) */
    bool sram_same_cap;       /* sram: every tile kind has the same SRAM (labels in bytes) */
    int64_t sram_cap;
} heat_plan;

/* ---- colours ---- */

static rgb hsv(double h, double s, double v) {
    double i = floor(h * 6), f = h * 6 - i, p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s);
    double r, g, b;
    switch ((int)i % 6) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
    }
    return (rgb){(uint8_t)lround(r * 255), (uint8_t)lround(g * 255), (uint8_t)lround(b * 255)};
}

/* Kernel k's colour: hues step by the golden ratio (consecutive kernels ~138 degrees apart);
 * saturation and value cycle so that kernels whose hues come close again still differ. */
static rgb kernel_colour(int k) {
    double h = fmod(0.58 + k * 0.6180339887498949, 1.0);
    return hsv(h, 0.42 + 0.17 * (k % 3), 0.97 - 0.12 * (k % 2));
}

/* Viridis, sampled at nine stops (matplotlib's values); t in [0, 1]. */
static rgb viridis(double t) {
    static const rgb stop[9] = {{68, 1, 84},    {72, 40, 120},  {62, 73, 137},  {49, 104, 142}, {38, 130, 142},
                                {31, 158, 137}, {53, 183, 121}, {110, 206, 88}, {253, 231, 37}};
    if (!(t > 0)) t = 0;
    if (t > 1) t = 1;
    double x = t * 8;
    int i = (int)x;
    if (i >= 8) return stop[8];
    double f = x - i;
    rgb a = stop[i], b = stop[i + 1];
    return (rgb){(uint8_t)lround(a.r + f * (b.r - a.r)), (uint8_t)lround(a.g + f * (b.g - a.g)),
                 (uint8_t)lround(a.b + f * (b.b - a.b))};
}

static rgb darken(rgb c, double f) {
    return (rgb){(uint8_t)(c.r * f), (uint8_t)(c.g * f), (uint8_t)(c.b * f)};
}

/* ---- canvas and text ---- */

typedef struct { uint8_t *px; int w, h; } canvas; /* px: (h, w, 3) */

static void put(canvas *c, int x, int y, rgb v) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    uint8_t *q = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    q[0] = v.r, q[1] = v.g, q[2] = v.b;
}

static void fill(canvas *c, int x, int y, int w, int h, rgb v) {
    for (int j = y; j < y + h; j++)
        for (int i = x; i < x + w; i++) put(c, i, j, v);
}

static int text_w(const char *s) {
    size_t n = strlen(s);
    return n ? (int)n * CW - FS : 0;
}

/* Draws s with its top-left at (x, y); returns the x after it (one space included). */
static int text(canvas *c, int x, int y, const char *s, rgb v) {
    for (; *s; s++, x += CW) {
        const uint8_t *g = weft_report_glyph((unsigned char)*s);
        for (int col = 0; col < 5; col++)
            for (int row = 0; row < 8; row++)
                if (g[col] >> row & 1) fill(c, x + col * FS, y + row * FS, FS, FS, v);
    }
    return x + CW;
}

/* Copies s into out (cap bytes) with non-printable characters as '?', and at most max chars:
 * a longer s keeps its head and tail around "..". */
static void clip_str(char *out, size_t cap, const char *s, int max) {
    size_t n = s ? strlen(s) : 0;
    if (!s) s = "?";
    if ((int)n > max && max >= 8) {
        int head = (max - 2) * 2 / 5, tail = max - 2 - head;
        snprintf(out, cap, "%.*s..%s", head, s, s + n - (size_t)tail);
    } else {
        snprintf(out, cap, "%.*s", max, s);
    }
    for (char *q = out; *q; q++)
        if ((unsigned char)*q < 32 || (unsigned char)*q > 126) *q = '?';
}

/* ---- legend ---- */

/* The block a node belongs to: its name up to and including the first all-digit component
 * (components split at '.', '/', ':', '_') and the separator after it: "h.3.attn.q" -> "h.3.",
 * "/transformer/h.11/mlp/Gemm" -> "/transformer/h.11/". 0 when there is none. */
static size_t block_prefix(const char *name) {
    if (!name) return 0;
    size_t i = 0, n = strlen(name);
    while (i < n) {
        size_t j = i;
        while (j < n && !strchr("./:_", name[j])) j++;
        bool digits = j > i;
        for (size_t q = i; q < j; q++)
            if (name[q] < '0' || name[q] > '9') digits = false;
        if (digits && i > 0) return j < n ? j + 1 : j;
        i = j + 1;
    }
    return 0;
}

static const char *kernel_name(const weft_program *p, int k) {
    const weft_graph *g = p->graph;
    int node = p->k[k].node;
    if (!g || node < 0 || node >= g->n_nodes) return "?";
    return g->nodes[node].name ? g->nodes[node].name : "?";
}

static const char *kernel_op(const weft_program *p, int k) {
    const weft_graph *g = p->graph;
    int node = p->k[k].node;
    if (!g || node < 0 || node >= g->n_nodes || !g->nodes[node].op) return "?";
    return g->nodes[node].op->name;
}

static legend_row kernel_row(const weft_program *p, int k, int indent) {
    legend_row r = {.kind = ROW_KERNEL, .k0 = k, .k1 = k, .indent = indent};
    int digits = snprintf(NULL, 0, "%d", p->n > 0 ? p->n - 1 : 0);
    snprintf(r.idx, sizeof r.idx, "%*d", digits, k);
    clip_str(r.name, sizeof r.name, kernel_name(p, k), NAME_MAX_CHARS);
    clip_str(r.op, sizeof r.op, kernel_op(p, k), OP_MAX_CHARS);
    return r;
}

/* Row i of the legend's width in pixels. */
static int row_w(const legend_row *r) {
    int w = r->indent + SW_W + CW;
    if (r->kind == ROW_MORE) w = r->indent;
    const char *t[3] = {r->idx, r->name, r->op};
    int pieces = 0;
    for (int i = 0; i < 3; i++)
        if (t[i][0]) w += text_w(t[i]) + (pieces++ ? CW : 0);
    return w;
}

/* Fills plan->rows for the "layer" legend within `budget` rows: every kernel when they fit;
 * else one row per block (consecutive kernels with the same block prefix), the first block of
 * several kernels listed member by member when that still fits; the rest as "... and N more". */
static void legend_layer(heat_plan *pl, int budget) {
    const weft_program *p = pl->p;
    int n = p->n;
    legend_row *rows = pl->rows;
    int nr = 0;
    rows[nr++] = (legend_row){.kind = ROW_UNUSED, .k0 = -1, .k1 = -1, .name = "unused tile"};
    if (1 + n <= budget) {
        for (int k = 0; k < n; k++) rows[nr++] = kernel_row(p, k, 0);
        pl->n_rows = nr;
        return;
    }
    /* segments: [k0, k1] with a common block prefix, or single kernels */
    int n_seg = 0, first_group = -1, first_group_size = 0;
    for (int k = 0; k < n;) {
        const char *nm = kernel_name(p, k);
        size_t pre = block_prefix(nm);
        int e = k + 1;
        while (pre && e < n && block_prefix(kernel_name(p, e)) == pre && !strncmp(kernel_name(p, e), nm, pre)) e++;
        if (e - k > 1 && first_group < 0) first_group = n_seg, first_group_size = e - k;
        n_seg++;
        k = e;
    }
    bool expand = first_group >= 0 && 1 + n_seg + first_group_size <= budget;
    int seg = 0;
    for (int k = 0; k < n; seg++) {
        const char *nm = kernel_name(p, k);
        size_t pre = block_prefix(nm);
        int e = k + 1;
        while (pre && e < n && block_prefix(kernel_name(p, e)) == pre && !strncmp(kernel_name(p, e), nm, pre)) e++;
        if (nr + 1 >= budget && e < n) {     /* no room for this and the rest: sum up */
            legend_row r = {.kind = ROW_MORE, .k0 = k, .k1 = n - 1};
            snprintf(r.name, sizeof r.name, "... and %d more kernel%s (%d-%d)", n - k, n - k > 1 ? "s" : "", k, n - 1);
            rows[nr++] = r;
            break;
        }
        if (e - k == 1) {
            rows[nr++] = kernel_row(p, k, 0);
        } else {
            legend_row r = {.kind = ROW_GROUP, .k0 = k, .k1 = e - 1};
            char pfx[NAME_MAX_CHARS + 4], buf[NAME_MAX_CHARS + 8];
            snprintf(buf, sizeof buf, "%.*s*", (int)(pre < NAME_MAX_CHARS ? pre : NAME_MAX_CHARS), nm);
            clip_str(pfx, sizeof pfx, buf, NAME_MAX_CHARS);
            snprintf(r.idx, sizeof r.idx, "%d-%d", k, e - 1);
            snprintf(r.name, sizeof r.name, "%s", pfx);
            snprintf(r.op, sizeof r.op, "(%d kernels)", e - k);
            rows[nr++] = r;
            if (expand && seg == first_group)
                for (int q = k; q < e && nr < budget; q++) rows[nr++] = kernel_row(p, q, INDENT);
        }
        k = e;
    }
    WEFT_ASSERT(nr <= budget);
    pl->n_rows = nr;
}

/* ---- the plan ---- */

static weft_status parse_mode(const char *mode, heat_mode *out, weft_err *err) {
    if (!mode || !strcmp(mode, "layer")) *out = MODE_LAYER;
    else if (!strcmp(mode, "sram")) *out = MODE_SRAM;
    else return weft_err_set(err, WEFT_ERR_INVALID, "heatmap: unknown mode '%s' (modes: layer, sram)", mode);
    return WEFT_OK;
}

/* Kernel k's region clipped to the mesh; false when nothing of it is on the mesh. */
static bool region(const heat_plan *pl, int k, int *x0, int *y0, int *x1, int *y1) {
    const weft_kernel *kk = &pl->p->k[k];
    if (kk->host >= 0) return false;  /* drawn as its host's region */
    *x0 = kk->x0 < 0 ? 0 : kk->x0;
    *y0 = kk->y0 < 0 ? 0 : kk->y0;
    *x1 = kk->x0 + kk->w > pl->W ? pl->W : kk->x0 + kk->w;
    *y1 = kk->y0 + kk->h > pl->H ? pl->H : kk->y0 + kk->h;
    return *x0 < *x1 && *y0 < *y1;
}

static double sram_frac(const heat_plan *pl, int k, int x) {
    const weft_arch *a = &pl->p->arch;
    int64_t cap = (a->n_pattern > 0 ? weft_arch_kind_at(a, x, 0) : &a->kinds[0])->sram_bytes;
    int64_t use = pl->p->k[k].sram_per_tile;
    if (cap <= 0) return use > 0 ? 1 : 0;
    return (double)use / (double)cap;
}

static void fmt_bytes(char *out, size_t cap, double b) {
    if (b >= 10 * 1073741824.0) snprintf(out, cap, "%.1f GiB", b / 1073741824.0);
    else if (b >= 10 * 1048576.0) snprintf(out, cap, "%.1f MiB", b / 1048576.0);
    else if (b >= 10 * 1024.0) snprintf(out, cap, "%.1f KiB", b / 1024.0);
    else snprintf(out, cap, "%.0f B", b);
}

static void plan_free(heat_plan *pl) { free(pl->rows); }

static weft_status plan_build(const weft_program *p, const char *mode, heat_plan *pl, weft_err *err) {
    memset(pl, 0, sizeof *pl);
    pl->p = p;
    weft_status s = parse_mode(mode, &pl->mode, err);
    if (s) return s;
    const weft_arch *a = &p->arch;
    pl->W = a->width < 1 ? 1 : a->width;
    pl->H = a->height < 1 ? 1 : a->height;
    int side = pl->W > pl->H ? pl->W : pl->H;
    int t = PANEL_PX / side;
    t = t < 1 ? 1 : t > MAX_TILE_PX ? MAX_TILE_PX : t;
    pl->lines = t >= 4;
    pl->panel_w = pl->W * t + (pl->lines ? 1 : 0);
    pl->panel_h = pl->H * t + (pl->lines ? 1 : 0);
    pl->lay.tile_px = t;

    /* header */
    int64_t tiles = weft_arch_tiles(a);
    char model[48], arch[48];
    clip_str(model, sizeof model, p->graph && p->graph->name ? p->graph->name : "?", 40);
    clip_str(arch, sizeof arch, a->name, 40);
    snprintf(pl->title[0], sizeof pl->title[0], "%s on %s: %d x %d tiles, %lld used (%.1f%%)", model, arch, a->width,
             a->height, (long long)p->tiles_used, tiles > 0 ? 100.0 * (double)p->tiles_used / (double)tiles : 0.0);

    pl->legend_x = MARGIN + pl->panel_w + 2 * MARGIN;
    pl->legend_y = MARGIN + 2 * LINE + MARGIN;
    int avail = pl->panel_h > MIN_LEGEND_H ? pl->panel_h : MIN_LEGEND_H;
    if (pl->mode == MODE_LAYER) {
        snprintf(pl->title[1], sizeof pl->title[1], "regions by kernel: %d kernel%s, %d channel%s", p->n,
                 p->n == 1 ? "" : "s", p->channels_used, p->channels_used == 1 ? "" : "s");
        pl->rows_per_col = avail / LINE;
        if (pl->rows_per_col < 4) pl->rows_per_col = 4;
        int budget = pl->rows_per_col * MAX_COLS;
        pl->rows = calloc((size_t)budget, sizeof *pl->rows);
        if (!pl->rows) return weft_err_set(err, WEFT_ERR_NOMEM, "heatmap: out of memory for the legend");
        legend_layer(pl, budget);
        pl->n_cols = (pl->n_rows + pl->rows_per_col - 1) / pl->rows_per_col;
        if (pl->n_cols > 1) pl->rows_per_col = (pl->n_rows + pl->n_cols - 1) / pl->n_cols; /* balance */
        for (int i = 0; i < pl->n_rows; i++) {
            int w = row_w(&pl->rows[i]);
            if (w > pl->col_w) pl->col_w = w;
        }
        pl->legend_w = pl->n_cols * pl->col_w + (pl->n_cols - 1) * 2 * MARGIN;
        pl->legend_h = (pl->n_rows < pl->rows_per_col ? pl->n_rows : pl->rows_per_col) * LINE;
    } else {
        int64_t cap0 = a->n_kinds > 0 ? a->kinds[0].sram_bytes : 0;
        pl->sram_same_cap = true;
        for (int i = 1; i < a->n_kinds; i++)
            if (a->kinds[i].sram_bytes != cap0) pl->sram_same_cap = false;
        pl->sram_cap = cap0;
        for (int k = 0; k < p->n; k++) {
            int x0, y0, x1, y1;
            if (!region(pl, k, &x0, &y0, &x1, &y1)) continue;
            for (int x = x0; x < x1; x++) {
                double f = sram_frac(pl, k, x);
                if (f > pl->sram_fmax) pl->sram_fmax = f;
            }
        }
        char peak[32], capb[32], total[32];
        fmt_bytes(capb, sizeof capb, (double)cap0);
        fmt_bytes(total, sizeof total, (double)p->sram_total);
        if (pl->sram_same_cap) {
            fmt_bytes(peak, sizeof peak, pl->sram_fmax * (double)cap0);
            snprintf(pl->title[1], sizeof pl->title[1], "SRAM per tile: peak %s of %s (%.1f%%), %s in all", peak, capb,
                     100 * pl->sram_fmax, total);
        } else {
            snprintf(pl->title[1], sizeof pl->title[1], "SRAM per tile: peak %.1f%% of a tile's SRAM, %s in all",
                     100 * pl->sram_fmax, total);
        }
        /* unused swatch row, then the bar with labels at its top, middle and bottom */
        pl->rows = calloc(1, sizeof *pl->rows);
        if (!pl->rows) return weft_err_set(err, WEFT_ERR_NOMEM, "heatmap: out of memory for the legend");
        pl->rows[0] = (legend_row){.kind = ROW_UNUSED, .k0 = -1, .k1 = -1, .name = "unused tile"};
        pl->n_rows = 1;
        int bar_h = pl->panel_h - 2 * LINE;
        bar_h = bar_h < 200 ? 200 : bar_h > 480 ? 480 : bar_h;
        pl->legend_w = BAR_W + CW + text_w("100.0% of 99.9 MiB");
        if (row_w(&pl->rows[0]) > pl->legend_w) pl->legend_w = row_w(&pl->rows[0]);
        pl->legend_h = 2 * LINE + bar_h + CH / 2;
        pl->col_w = bar_h; /* the bar's height, kept here for drawing */
    }
    int title_w = text_w(pl->title[0]) > text_w(pl->title[1]) ? text_w(pl->title[0]) : text_w(pl->title[1]);
    int w = pl->legend_x + pl->legend_w + MARGIN;
    if (MARGIN + title_w + MARGIN > w) w = MARGIN + title_w + MARGIN;
    int body = pl->panel_h > pl->legend_h ? pl->panel_h : pl->legend_h;
    pl->lay.width = w;
    pl->lay.height = pl->legend_y + body + MARGIN;
    pl->lay.mesh_x = MARGIN;
    pl->lay.mesh_y = pl->legend_y;
    return WEFT_OK;
}

weft_status weft_report_heatmap_layout(const weft_program *p, const char *mode, weft_report_layout *out,
                                       weft_err *err) {
    heat_plan pl;
    weft_status s = plan_build(p, mode, &pl, err);
    if (!s) *out = pl.lay;
    plan_free(&pl);
    return s;
}

/* ---- drawing ---- */

static rgb tile_colour(const heat_plan *pl, const int *own, int x, int y) {
    int k = own[(size_t)y * (size_t)pl->W + (size_t)x];
    if (k < 0) return UNUSED;
    if (pl->mode == MODE_LAYER) return kernel_colour(k);
    return viridis(pl->sram_fmax > 0 ? sram_frac(pl, k, x) / pl->sram_fmax : 0);
}

static void draw_panel(const heat_plan *pl, const int *own, canvas *c) {
    int t = pl->lay.tile_px, ox = pl->lay.mesh_x, oy = pl->lay.mesh_y, W = pl->W, H = pl->H;
    for (int py = 0; py < pl->panel_h; py++) {
        int ty = py / t, fy = py % t;
        for (int px = 0; px < pl->panel_w; px++) {
            int tx = px / t, fx = px % t;
            rgb v;
            if (tx >= W || ty >= H) {
                v = BORDER; /* the closing line */
            } else if (pl->lines && (fx == 0 || fy == 0)) {
                int me = own[(size_t)ty * W + tx];
                bool edge = (fx == 0 && (tx == 0 || own[(size_t)ty * W + tx - 1] != me)) ||
                            (fy == 0 && (ty == 0 || own[(size_t)(ty - 1) * W + tx] != me));
                v = edge ? BORDER : darken(tile_colour(pl, own, tx, ty), 0.78);
            } else {
                v = tile_colour(pl, own, tx, ty);
            }
            put(c, ox + px, oy + py, v);
        }
    }
}

static void draw_swatch(const heat_plan *pl, const legend_row *r, canvas *c, int x, int y) {
    fill(c, x, y, SW_W, SW_H, BORDER);
    int iw = SW_W - 2, ih = SW_H - 2;
    if (r->kind == ROW_UNUSED) {
        fill(c, x + 1, y + 1, iw, ih, UNUSED);
    } else {
        int n = r->k1 - r->k0 + 1;
        for (int i = 0; i < iw; i++) /* one bar per kernel of a group, sampled when they outnumber pixels */
            fill(c, x + 1 + i, y + 1, 1, ih, pl->mode == MODE_LAYER ? kernel_colour(r->k0 + (int)((int64_t)i * n / iw)) : UNUSED);
    }
}

static void draw_legend(const heat_plan *pl, canvas *c) {
    if (pl->mode == MODE_LAYER) {
        for (int i = 0; i < pl->n_rows; i++) {
            const legend_row *r = &pl->rows[i];
            int x = pl->legend_x + (i / pl->rows_per_col) * (pl->col_w + 2 * MARGIN) + r->indent;
            int y = pl->legend_y + (i % pl->rows_per_col) * LINE;
            if (r->kind == ROW_MORE) {
                text(c, x, y + (SW_H - CH) / 2, r->name, INK2);
                continue;
            }
            draw_swatch(pl, r, c, x, y);
            x += SW_W + CW;
            if (r->idx[0]) x = text(c, x, y, r->idx, INK2);
            if (r->name[0]) x = text(c, x, y, r->name, INK);
            if (r->op[0]) text(c, x, y, r->op, INK2);
        }
        return;
    }
    /* sram: unused swatch, then the bar (top: peak, bottom: 0) */
    int x = pl->legend_x, y = pl->legend_y;
    draw_swatch(pl, &pl->rows[0], c, x, y);
    text(c, x + SW_W + CW, y, pl->rows[0].name, INK);
    int bar_h = pl->col_w, by = y + 2 * LINE;
    fill(c, x, by - 1, BAR_W, bar_h + 2, BORDER);
    for (int j = 0; j < bar_h; j++) fill(c, x + 1, by + j, BAR_W - 2, 1, viridis(1.0 - (double)j / (bar_h - 1)));
    for (int q = 0; q <= 2; q++) {
        double f = pl->sram_fmax * (2 - q) / 2.0; /* q = 0 top */
        char lab[48];
        if (q == 2) snprintf(lab, sizeof lab, "0");
        else if (pl->sram_same_cap) fmt_bytes(lab, sizeof lab, f * (double)pl->sram_cap);
        else snprintf(lab, sizeof lab, "%.1f%%", 100 * f);
        int ly = by + (bar_h - 1) * q / 2;
        fill(c, x + BAR_W, ly, 4, 1, BORDER);
        text(c, x + BAR_W + CW, ly - CH / 2, lab, INK);
        if (q == 0 && pl->sram_same_cap) {
            char sub[48];
            snprintf(sub, sizeof sub, "%.1f%% of tile", 100 * f);
            text(c, x + BAR_W + CW, ly - CH / 2 + LINE, sub, INK2);
        }
    }
}

/* ---- PNG ---- */

typedef struct { char msg[200]; } png_ctx;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_ctx *ctx = png_get_error_ptr(png);
    if (ctx) snprintf(ctx->msg, sizeof ctx->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static weft_status png_write_rgb(const char *path, const canvas *c, weft_err *err) {
    weft_atomic a;
    if (weft_atomic_open(&a, path, err)) return err->status;
    FILE *f = a.f;
    png_ctx ctx = {"out of memory"};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        weft_atomic_abort(&a);
        return weft_err_set(err, WEFT_ERR_IO, "%s: libpng: cannot start a write", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        weft_atomic_abort(&a);
        return weft_err_set(err, WEFT_ERR_IO, "%s: libpng: %s", path, ctx.msg);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_text txt = {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "Software", .text = "weft"};
    png_set_text(png, info, &txt, 1);
    png_write_info(png, info);
    for (int y = 0; y < c->h; y++) png_write_row(png, c->px + (size_t)y * (size_t)c->w * 3);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return weft_atomic_commit(&a, err);
}

weft_status weft_report_heatmap(const weft_program *p, const char *path, const char *mode, weft_err *err) {
    heat_plan pl;
    weft_status s = plan_build(p, mode, &pl, err);
    if (s) { plan_free(&pl); return s; }
    canvas c = {NULL, pl.lay.width, pl.lay.height};
    size_t cells = (size_t)pl.W * (size_t)pl.H;
    int *own = malloc(cells * sizeof *own);
    c.px = malloc((size_t)c.w * (size_t)c.h * 3);
    if (!own || !c.px) {
        free(own), free(c.px), plan_free(&pl);
        return weft_err_set(err, WEFT_ERR_NOMEM, "%s: heatmap: out of memory for a %d x %d image", path, c.w, c.h);
    }
    for (size_t i = 0; i < cells; i++) own[i] = -1;
    for (int k = 0; k < p->n; k++) {
        int x0, y0, x1, y1;
        if (!region(&pl, k, &x0, &y0, &x1, &y1)) continue;
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++) own[(size_t)y * pl.W + x] = k;
    }
    fill(&c, 0, 0, c.w, c.h, BG);
    text(&c, MARGIN, MARGIN, pl.title[0], INK);
    text(&c, MARGIN, MARGIN + LINE, pl.title[1], INK2);
    draw_panel(&pl, own, &c);
    draw_legend(&pl, &c);
    s = png_write_rgb(path, &c, err);
    free(own), free(c.px), plan_free(&pl);
    return s;
}
