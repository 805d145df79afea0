/* Tests of report: the wafer heatmap PNG (files, dimensions, pixels read back with libpng, errors). */
#include "compile/compile.h"
#include "models/models.h"
#include "arch/arch.h"
#include "report/energy.h"
#include "report/gpu.h"
#include "report/report.h"
#include "sim/run.h"
#include "test.h"
#include "train/train.h"

#include <png.h>
#include <string.h>
#include <unistd.h>

static weft_program *compile_model(const char *spec, const char *arch, weft_graph **g) {
    weft_err err = {0};
    weft_arch a;
    weft_compile_opts o = {0};
    weft_program *p = NULL;
    *g = NULL;
    CHECK_OK(weft_model_load(spec, g, &err), &err);
    CHECK_OK(weft_arch_preset(arch, &a, &err), &err);
    if (*g) CHECK_OK(weft_compile(*g, &a, &o, &p, &err), &err);
    return p;
}

/* Reads the first 24 bytes: the PNG signature, then IHDR's width and height (big-endian). */
static bool png_header(const char *path, uint32_t *w, uint32_t *h) {
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char b[24];
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    if (n != sizeof b || memcmp(b, sig, 8) || memcmp(b + 12, "IHDR", 4)) return false;
    *w = (uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 | (uint32_t)b[18] << 8 | b[19];
    *h = (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | (uint32_t)b[22] << 8 | b[23];
    return true;
}

/* The whole image as RGB (caller frees), or NULL. */
static uint8_t *png_read_rgb(const char *path, int *w, int *h) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path)) return NULL;
    im.format = PNG_FORMAT_RGB;
    uint8_t *px = malloc(PNG_IMAGE_SIZE(im));
    if (!px || !png_image_finish_read(&im, NULL, px, 0, NULL)) {
        free(px);
        png_image_free(&im);
        return NULL;
    }
    *w = (int)im.width, *h = (int)im.height;
    return px;
}

/* The pixel at the middle of tile (x, y). */
static uint32_t tile_px(const uint8_t *px, int w, const weft_report_layout *l, int x, int y) {
    int cx = l->mesh_x + x * l->tile_px + l->tile_px / 2, cy = l->mesh_y + y * l->tile_px + l->tile_px / 2;
    const uint8_t *q = px + ((size_t)cy * (size_t)w + (size_t)cx) * 3;
    return (uint32_t)q[0] << 16 | (uint32_t)q[1] << 8 | q[2];
}

static bool tile_used(const weft_program *p, int x, int y) {
    for (int k = 0; k < p->n; k++)
        if (x >= p->k[k].x0 && x < p->k[k].x0 + p->k[k].w && y >= p->k[k].y0 && y < p->k[k].y0 + p->k[k].h) return true;
    return false;
}

TEST(report_heatmap_mlp_files_dimensions_pixels) {
    weft_graph *g;
    weft_program *p = compile_model("builtin:mlp", "mesh-32x32", &g);
    if (!p) { weft_graph_free(g); return; }
    CHECK(p->n >= 2);
    /* unused tiles: the placer fills the mesh, so the picture's program gets its last region
     * shrunk to one tile (the heatmap draws whatever program it is given) */
    p->k[p->n - 1].w = p->k[p->n - 1].h = 1;
    int ux = -1, uy = -1, ux2 = -1, uy2 = -1;
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++)
            if (!tile_used(p, x, y)) {
                if (ux < 0) ux = x, uy = y;
                else ux2 = x, uy2 = y;
            }
    CHECK(ux >= 0 && ux2 >= 0);
    const char *modes[2] = {"layer", "sram"};
    for (int m = 0; m < 2; m++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/report_mlp_%s.png", weft_test_builddir(), modes[m]);
        weft_err err = {0};
        weft_report_layout l;
        CHECK_OK(weft_report_heatmap_layout(p, modes[m], &l, &err), &err);
        CHECK_INT(l.tile_px, 16); /* a small mesh is scaled up */
        CHECK(l.mesh_x >= 0 && l.mesh_y >= 0);
        CHECK(l.width >= l.mesh_x + 32 * 16 && l.height >= l.mesh_y + 32 * 16);
        CHECK_OK(weft_report_heatmap(p, path, modes[m], &err), &err);
        uint32_t w = 0, h = 0;
        CHECK(png_header(path, &w, &h));
        CHECK_INT(w, l.width);
        CHECK_INT(h, l.height);
        int rw = 0, rh = 0;
        uint8_t *px = png_read_rgb(path, &rw, &rh);
        CHECK(px != NULL);
        if (!px) continue;
        CHECK_INT(rw, l.width);
        CHECK_INT(rh, l.height);
        uint32_t unused = tile_px(px, rw, &l, ux, uy);
        CHECK_INT(tile_px(px, rw, &l, ux2, uy2), unused);
        for (int k = 0; k < p->n; k++) {
            const weft_kernel *kk = &p->k[k];
            uint32_t a = tile_px(px, rw, &l, kk->x0, kk->y0), b = tile_px(px, rw, &l, kk->x0 + kk->w - 1, kk->y0 + kk->h - 1);
            CHECK(a != unused);
            CHECK_INT(a, b); /* one colour across a region */
            if (m == 0 && k > 0) { /* layer: consecutive kernels differ */
                const weft_kernel *kp = &p->k[k - 1];
                CHECK(a != tile_px(px, rw, &l, kp->x0, kp->y0));
            }
        }
        free(px);
    }
    weft_program_free(p);
    weft_graph_free(g);
}

TEST(report_heatmap_big_mesh_one_pixel_per_tile) {
    weft_graph *g;
    weft_program *p = compile_model("builtin:mlp", "mesh-32x32", &g);
    if (!p) { weft_graph_free(g); return; }
    /* the same kernels drawn on the full wafer: 750 x 994 tiles */
    weft_program big = *p;
    weft_err err = {0};
    CHECK_OK(weft_arch_preset("wse2", &big.arch, &err), &err);
    weft_report_layout l;
    CHECK_OK(weft_report_heatmap_layout(&big, "layer", &l, &err), &err);
    CHECK_INT(l.tile_px, 1);
    CHECK(l.width >= 750 && l.width <= 2000);
    CHECK(l.height >= 994 && l.height <= 1200);
    char path[1024];
    snprintf(path, sizeof path, "%s/report_big.png", weft_test_builddir());
    CHECK_OK(weft_report_heatmap(&big, path, "sram", &err), &err);
    uint32_t w = 0, h = 0;
    CHECK(png_header(path, &w, &h));
    CHECK_OK(weft_report_heatmap_layout(&big, "sram", &l, &err), &err);
    CHECK_INT(w, l.width);
    CHECK_INT(h, l.height);
    weft_program_free(p);
    weft_graph_free(g);
}

TEST(report_heatmap_long_legend_stays_bounded) {
    weft_graph *g;
    weft_program *p = compile_model("builtin:gpt:layers=2,dim=128,heads=4,vocab=256,seq=64", "wse2-mini", &g);
    if (!p) { weft_graph_free(g); return; }
    weft_err err = {0};
    char path[1024];
    snprintf(path, sizeof path, "%s/report_gpt_layer.png", weft_test_builddir());
    CHECK_OK(weft_report_heatmap(p, path, "layer", &err), &err);
    weft_report_layout l;
    CHECK_OK(weft_report_heatmap_layout(p, "layer", &l, &err), &err);
    int panel_h = 48 * l.tile_px + 1;
    CHECK(l.height <= l.mesh_y + (panel_h > 480 ? panel_h : 480) + 16);
    /* 2000 kernels cycling through the real ones, on one-tile regions: grouped and cut short */
    weft_program many = *p;
    many.n = 2000;
    many.k = calloc((size_t)many.n, sizeof *many.k);
    for (int k = 0; k < many.n; k++) {
        many.k[k] = p->k[k % p->n];
        many.k[k].x0 = k % 64, many.k[k].y0 = k / 64 % 48, many.k[k].w = 1, many.k[k].h = 1;
    }
    weft_report_layout lm;
    CHECK_OK(weft_report_heatmap_layout(&many, "layer", &lm, &err), &err);
    CHECK(lm.height <= l.height);
    CHECK(lm.width <= l.width + 600);
    snprintf(path, sizeof path, "%s/report_many.png", weft_test_builddir());
    CHECK_OK(weft_report_heatmap(&many, path, "layer", &err), &err);
    free(many.k);
    weft_program_free(p);
    weft_graph_free(g);
}

TEST(report_heatmap_errors) {
    weft_graph *g;
    weft_program *p = compile_model("builtin:mlp", "mesh-8x8", &g);
    if (!p) { weft_graph_free(g); return; }
    weft_err err = {0};
    const char *bad = "/nonexistent-weft-dir/heat.png";
    CHECK_INT(weft_report_heatmap(p, bad, "layer", &err), WEFT_ERR_IO);
    CHECK(strstr(err.msg, bad) != NULL);
    CHECK_INT(weft_report_heatmap(p, weft_test_builddir(), "sram", &err), WEFT_ERR_IO); /* a directory */
    char path[1024];
    snprintf(path, sizeof path, "%s/report_bad_mode.png", weft_test_builddir());
    CHECK_INT(weft_report_heatmap(p, path, "utilisation", &err), WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, "utilisation") != NULL);
    if (access("/dev/full", W_OK) == 0) { /* opens, then every write fails: libpng's error path */
        CHECK_INT(weft_report_heatmap(p, "/dev/full", "layer", &err), WEFT_ERR_IO);
        CHECK(strstr(err.msg, "/dev/full") != NULL);
    }
    weft_program_free(p);
    weft_graph_free(g);
}

/* The trace (weft run --trace): valid JSON, one named track per region, slices that do not
 * overlap on a track and sum to the region's simulated busy cycles. */
TEST(report_trace_slices_sum_to_busy) {
    weft_graph *g;
    weft_program *p = compile_model("builtin:gpt:layers=1,dim=32,heads=2,vocab=32,seq=16", "wse2-mini", &g);
    if (!p) { weft_graph_free(g); return; }
    char path[1024];
    snprintf(path, sizeof path, "%s/report_trace.json", weft_test_builddir());
    weft_err err = {0};
    struct weft_sim_detail d = {0};
    weft_kernel_time *kt = weft_xcalloc((size_t)p->n, sizeof *kt);
    d.kernels = kt;
    weft_trace *t = weft_trace_open(p, path, &d, &err);
    CHECK(t != NULL);
    weft_sim_opts o = {.timing_only = true, .passes = 2, .detail = &d};
    weft_sim_stats st;
    {   /* the busiest link, from a first run */
        weft_sim_opts pre = {.timing_only = true, .passes = 2};
        CHECK_OK(weft_sim_run(p, NULL, 0, NULL, g->n_outputs, &pre, &st, &err), &err);
        if (t) weft_trace_watch_link(t, &d, st.link_busiest);
    }
    CHECK_OK(weft_sim_run(p, NULL, 0, NULL, g->n_outputs, &o, &st, &err), &err);
    CHECK_OK(weft_trace_close(t, path, &err), &err);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    char *txt = weft_xcalloc(1 << 24, 1);
    size_t n = f ? fread(txt, 1, (1 << 24) - 1, f) : 0;
    if (f) fclose(f);
    cJSON *root = cJSON_ParseWithLength(txt, n);
    CHECK(root != NULL);
    double *sum = weft_xcalloc((size_t)p->n, sizeof(double)), *last_end = weft_xcalloc((size_t)p->n, sizeof(double));
    int names = 0, slices = 0, link_events = 0;
    double us = 1e6 / p->arch.clock_hz, link_busy = 0, link_on = -1, link_last = 0;
    cJSON *ev;
    cJSON_ArrayForEach(ev, cJSON_GetObjectItem(root, "traceEvents")) {
        const char *ph = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "ph"));
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "name"));
        int tid = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "tid"));
        if (ph && !strcmp(ph, "M") && cJSON_GetObjectItem(ev, "tid")) names++;
        if (ph && !strcmp(ph, "C") && name && !strncmp(name, "busiest link", 12)) {
            /* the link's counter: 1 then 0, in time order; the busy runs sum to its busy cycles */
            double ts = cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "ts"));
            int busy = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "args"), "busy"));
            CHECK(ts + 2e-6 >= link_last);
            CHECK(busy == (link_on < 0));
            if (busy) link_on = ts;
            else { link_busy += ts - link_on; link_on = -1; }
            link_last = ts;
            link_events++;
        }
        if (!ph || strcmp(ph, "X")) continue;
        CHECK(tid >= 0 && tid < p->n);
        if (tid < 0 || tid >= p->n) continue;
        double ts = cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "ts")), dur = cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "dur"));
        CHECK(ts + 2e-6 >= last_end[tid]);  /* slices of a region never overlap (times printed to 1e-6 us) */
        last_end[tid] = ts + dur;
        sum[tid] += dur;
        slices++;
    }
    CHECK_INT(names, p->n);
    int want = 0;
    for (int i = 0; i < p->n; i++) {
        want += p->k[i].blocks * st.passes;
        CHECK_NEAR(sum[i] / us, (double)kt[i].busy, 1e-3 * (double)kt[i].busy + 1e-3);
    }
    CHECK_INT(slices, want);
    CHECK(link_events >= 2 && link_on < 0);
    double run_cycles = (double)st.run_cycles;
    CHECK_NEAR(link_busy / us, st.link_load_max * run_cycles, 1e-3 * st.link_load_max * run_cycles + 1);
    cJSON_Delete(root);
    free(txt);
    free(sum);
    free(last_end);
    free(kt);
    weft_program_free(p);
    weft_graph_free(g);
}

/* weft run --report: one "kernels" entry per kernel of the program, the plan's busy cycles beside
 * the simulated ones, and the bottleneck is the busiest of them. */
TEST(report_json_kernels_busy_and_waiting) {
    weft_graph *g;
    weft_program *p = compile_model("builtin:gpt:layers=1,dim=32,heads=2,vocab=32,seq=16", "wse2-mini", &g);
    if (!p) { weft_graph_free(g); return; }
    char path[1024], cmd[2048];
    snprintf(path, sizeof path, "%s/report_kernels.json", weft_test_builddir());
    remove(path);
    snprintf(cmd, sizeof cmd, "%s/weft run builtin:gpt:layers=1,dim=32,heads=2,vocab=32,seq=16 --arch wse2-mini --timing-only --report %s > /dev/null",
             weft_test_builddir(), path);
    CHECK(system(cmd) == 0);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    char *txt = weft_xcalloc(1 << 22, 1);
    size_t n = f ? fread(txt, 1, (1 << 22) - 1, f) : 0;
    if (f) fclose(f);
    cJSON *r = cJSON_ParseWithLength(txt, n);
    CHECK(r != NULL);
    cJSON *ks = cJSON_GetObjectItemCaseSensitive(r, "kernels"), *k;
    CHECK_INT(cJSON_GetArraySize(ks), p->n);
    int busiest = -1, i = 0;
    double max_busy = -1;
    cJSON_ArrayForEach(k, ks) {
        const char *node = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "node"));
        CHECK(node && i < p->n && !strcmp(node, g->nodes[p->k[i].node].name));
        double busy = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(k, "busy_cycles"));
        double planned = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(k, "planned_busy_cycles"));
        CHECK(busy > 0 && planned > 0);
        CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(k, "waiting_cycles")) >= 0);
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(k, "region")) == 4);
        if (busy > max_busy) { max_busy = busy; busiest = i; }
        i++;
    }
    cJSON *b = cJSON_GetObjectItemCaseSensitive(r, "bottleneck");
    if (b && cJSON_GetObjectItemCaseSensitive(b, "kernel"))
        CHECK_INT((int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(b, "kernel")), busiest);
    cJSON_Delete(r);
    free(txt);
    weft_program_free(p);
    weft_graph_free(g);
}

/* The GPU model (report/gpu.h): more of every resource is never slower (A100 40 GB -> 80 GB ->
 * H100 -> H200), nothing beats the tensor-core peak, a bigger batch never lowers samples/s, a
 * workload too big for one GPU is sharded over the fewest that hold it, and bad names are
 * refused naming the choices. */
TEST(report_gpu_model_laws) {
    weft_err err = {0};
    const char *names[] = {"a100-40gb", "a100-80gb", "h100-sxm", "h200"};
    weft_graph *g = NULL;
    CHECK_OK(weft_model_load_shapes("builtin:gpt2:layers=2,seq=256,batch=8", &g, &err), &err);
    if (!g) return;
    double last = 0;
    for (int i = 0; i < 4; i++) {
        weft_gpu gpu;
        weft_gpu_estimate e;
        CHECK_OK(weft_gpu_preset(names[i], &gpu, &err), &err);
        CHECK_OK(weft_gpu_time(g, &gpu, &e, &err), &err);
        printf("    %-10s %.4g ms, %d GPU, %.3g GB, %d kernels\n", names[i], 1e3 * e.seconds, e.gpus, e.bytes_per_gpu * 1e-9, e.kernels);
        CHECK(e.seconds > 0 && e.gpus == 1 && e.kernels > 0);
        CHECK(e.flops / e.seconds <= gpu.flops_16 * 1.0001);
        CHECK(e.compute_s + e.memory_s + e.launch_s <= e.seconds * 1.0001 + 1e-12);
        if (last > 0) CHECK(e.seconds <= last * 1.0001);
        last = e.seconds;
    }
    weft_graph_free(g);
    weft_gpu h100;
    CHECK_OK(weft_gpu_preset("h100", &h100, &err), &err);
    double rate = 0;
    for (int b = 1; b <= 16; b *= 4) {
        char spec[128];
        snprintf(spec, sizeof spec, "builtin:gpt2:layers=2,seq=256,batch=%d", b);
        g = NULL;
        CHECK_OK(weft_model_load_shapes(spec, &g, &err), &err);
        weft_gpu_estimate e;
        if (g && !weft_gpu_time(g, &h100, &e, &err)) {
            double r = b / e.seconds;
            if (r < rate * 0.9999) weft_test_fail(__FILE__, __LINE__, "batch %d: %.4g samples/s, below %.4g", b, r, rate);
            rate = r;
        }
        weft_graph_free(g);
    }
    /* GPT-2 124M's training step at batch 64 x 1024 does not fit a 40 GB A100: sharded */
    weft_train_config c = weft_train_defaults();
    weft_arch wse2;
    CHECK_OK(weft_arch_preset("wse2", &wse2, &err), &err);
    c.arch = &wse2;  /* (the step's graph: forward, backward and the update) */
    c.precision = WEFT_BF16;
    weft_trainer *t = NULL;
    CHECK_OK(weft_train_new("builtin:gpt2:batch=64,shapes_only=1", &c, &t, &err), &err);
    if (t && t->gu) {
        weft_gpu a40, h200;
        weft_gpu_estimate e40, e200;
        CHECK_OK(weft_gpu_preset("a100-40gb", &a40, &err), &err);
        CHECK_OK(weft_gpu_preset("h200", &h200, &err), &err);
        CHECK_OK(weft_gpu_time(t->gu, &a40, &e40, &err), &err);
        CHECK_OK(weft_gpu_time(t->gu, &h200, &e200, &err), &err);
        printf("    gpt2 step, batch 64: a100-40gb %d GPUs (%.3g GB each), h200 %d\n", e40.gpus, e40.bytes_per_gpu * 1e-9, e200.gpus);
        CHECK(e40.gpus > 1 && e40.bytes_per_gpu <= a40.hbm_bytes && e200.gpus < e40.gpus && e40.comm_s >= 0);
        CHECK(e40.static_bytes > 124e6 * 4 * 3);  /* fp32 master weights, gradients and Adam's two moments */
        weft_train_free(t);
    }
    weft_gpu x;
    CHECK_INT(weft_gpu_preset("v100", &x, &err), WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, "unknown GPU 'v100'") && strstr(err.msg, "h100"));
}

/* weft sweep: every point of the grid is a timing-only run of its own, run in parallel; a point
 * that does not fit is a row saying so; the CSV has a row a point. */
TEST(report_sweep_grid) {
    char cmd[2048], out[8192], csv[1100];
    snprintf(csv, sizeof csv, "%s/test_sweep.csv", weft_test_builddir());
    snprintf(cmd, sizeof cmd, "%s/weft sweep 'builtin:mlp:in=4096,hidden=4096' --arch wse2-mini,mesh-8x8 --batch 1,4 --jobs 2 -o %s 2>/dev/null",
             weft_test_builddir(), csv);
    FILE *f = popen(cmd, "r");
    if (!f) return;
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = 0;
    pclose(f);
    printf("%s", out);
    int ok = 0, failed = 0;
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
        ok += !strncmp(l, "| wse2-mini |", 13) && strstr(l, "pipelined") != NULL;
        failed += !strncmp(l, "| mesh-8x8 |", 12) && strstr(l, "failed") != NULL;
    }
    CHECK_INT(ok, 2);
    CHECK_INT(failed, 2);
    FILE *c = fopen(csv, "r");
    int rows = 0;
    char line[2048];
    while (c && fgets(line, sizeof line, c)) rows++;
    if (c) fclose(c);
    CHECK_INT(rows, 5);  /* the header and four points */
}

/* Where the time goes, by layer: the kernels rolled up by their names' numbered part, every
 * kernel in exactly one layer, the shares of busy time summing to one; the profile CSV has a row
 * a kernel. */
TEST(report_layers_roll_up_the_kernels) {
    weft_err err = {0};
    weft_graph *g = NULL;
    CHECK_OK(weft_model_load_shapes("builtin:gpt:layers=2,dim=64,heads=2,vocab=64,seq=32", &g, &err), &err);
    weft_arch a;
    CHECK_OK(weft_arch_preset("wse2-mini", &a, &err), &err);
    weft_program *p = NULL;
    weft_compile_opts co = {.timing_only = true};
    if (g) CHECK_OK(weft_compile(g, &a, &co, &p, &err), &err);
    if (!p) { weft_graph_free(g); return; }
    weft_kernel_time *kt = weft_xcalloc((size_t)p->n, sizeof *kt);
    struct weft_sim_detail d = {.kernels = kt, .watch_link = -1};
    weft_sim_opts o = {.timing_only = true, .detail = &d};
    weft_sim_stats st;
    CHECK_OK(weft_sim_run(p, NULL, 0, NULL, g->n_outputs, &o, &st, &err), &err);
    char l[256];
    CHECK(!strcmp(weft_report_layer_of(p, &p->k[p->kernel_of_node[5]], l, sizeof l), "h.0"));
    cJSON *r = cJSON_CreateObject();
    weft_report_add_layers(r, p, kt, st.passes);
    const cJSON *ls = cJSON_GetObjectItem(r, "layers"), *x;
    double share = 0, kernels = 0;
    int n = 0;
    cJSON_ArrayForEach(x, ls) {
        share += cJSON_GetObjectItem(x, "busy_share")->valuedouble;
        kernels += cJSON_GetObjectItem(x, "kernels")->valuedouble;
        n++;
    }
    printf("    %d layers over %d kernels\n", n, p->n);
    CHECK(n >= 4 && n < p->n);  /* wte, embed, h.0, h.1, ... */
    CHECK_INT((int)kernels, p->n);
    CHECK_NEAR(share, 1.0, 1e-9);
    /* each kernel's bytes in and out a pass, and what bounds it */
    weft_report_add_kernels(r, p, kt, st.passes);
    const cJSON *k0 = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "kernels"), 1);  /* embed: wte rows + positions */
    CHECK(k0 && cJSON_GetObjectItem(k0, "bytes_in")->valuedouble > 0 && cJSON_GetObjectItem(k0, "bytes_out")->valuedouble > 0);
    CHECK(k0 && cJSON_GetStringValue(cJSON_GetObjectItem(k0, "bound")) != NULL);
    cJSON_Delete(r);
    char path[1100];
    snprintf(path, sizeof path, "%s/test_profile.csv", weft_test_builddir());
    CHECK_OK(weft_report_profile_csv(p, kt, st.passes, path, &err), &err);
    FILE *f = fopen(path, "r");
    int rows = 0;
    char line[4096];
    while (f && fgets(line, sizeof line, f)) rows++;
    if (f) fclose(f);
    CHECK_INT(rows, p->n + 1);
    free(kt);
    weft_program_free(p);
    weft_graph_free(g);
}

/* The energy estimate obeys its own physics: the parts sum to the whole, the static part is the
 * static power over the period, and no run draws more than the machine's peak power (nothing
 * beats a peak); a GPU's pass costs between its idle and its full board power over its time.
 * Every preset with an energy model stays within its published power at full load. */
TEST(report_energy_laws) {
    weft_err err = {0};
    for (const char *const *n = weft_arch_preset_names(); *n; n++) {
        weft_arch a;
        CHECK_OK(weft_arch_preset(*n, &a, &err), &err);
        CHECK(a.energy.peak_w > 0 && a.energy.static_w > 0);  /* every preset has one */
        if (weft_arch_full_load_w(&a) > a.energy.peak_w)
            weft_test_fail(__FILE__, __LINE__, "%s: %g W at full load, beyond its %g W", *n, weft_arch_full_load_w(&a), a.energy.peak_w);
    }
    static const char *const runs[][2] = {{"builtin:gpt:layers=2,dim=64,heads=2,vocab=64,seq=32", "wse2-mini"},
                                          {"builtin:mlp:batch=16", "mesh-32x32x4"}, {"builtin:gpt:layers=1,dim=64,heads=2,vocab=64,seq=32", "sn30"}};
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        weft_graph *g = NULL;
        weft_arch a;
        weft_program *p = NULL;
        CHECK_OK(weft_model_load_shapes(runs[i][0], &g, &err), &err);
        CHECK_OK(weft_arch_preset(runs[i][1], &a, &err), &err);
        weft_compile_opts co = {.timing_only = true};
        if (g) CHECK_OK(weft_compile(g, &a, &co, &p, &err), &err);
        if (!p) { weft_graph_free(g); continue; }
        weft_sim_opts o = {.timing_only = true};
        weft_sim_stats st;
        CHECK_OK(weft_sim_run(p, NULL, 0, NULL, g->n_outputs, &o, &st, &err), &err);
        weft_energy_estimate e;
        weft_energy_of_run(p, &st, &e);
        CHECK(e.modelled && e.joules > 0);
        CHECK_NEAR(e.arith_j + e.fabric_j + e.offchip_j + e.static_j, e.joules, 1e-9 * e.joules);
        CHECK_NEAR(e.static_j, a.energy.static_w * a.chips / st.passes_per_s, 1e-9 * e.static_j);
        CHECK(e.arith_j > 0 && e.fabric_j >= 0 && e.offchip_j > 0);
        /* the chips' own draw (off-chip memory apart) within their peak */
        double chip_w = (e.joules - e.offchip_j) / e.period_s;
        if (!(chip_w <= a.energy.peak_w * a.chips))
            weft_test_fail(__FILE__, __LINE__, "%s on %s: %g W, beyond %d x %g W", runs[i][0], runs[i][1], chip_w, a.chips, a.energy.peak_w);
        weft_gpu gpu;
        weft_gpu_estimate ge;
        CHECK_OK(weft_gpu_preset("h100", &gpu, &err), &err);
        CHECK_OK(weft_gpu_time(g, &gpu, &ge, &err), &err);
        double gj = weft_energy_of_gpu(&gpu, &ge), lo = gpu.watts * ge.gpus * ge.seconds;
        CHECK(gj >= WEFT_GPU_IDLE_FRAC * lo * (1 - 1e-12) && gj <= lo * (1 + 1e-12));
        weft_program_free(p);
        weft_graph_free(g);
    }
}
