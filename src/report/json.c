/* report: the JSON run report (docs/REPORT.md), shared by `weft run` and `weft train`. */
#include "report/report.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

int64_t weft_report_peak_rss(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)ru.ru_maxrss * 1024;
}

void weft_report_add_stats(cJSON *r, const weft_program *p, const weft_sim_stats *st, int64_t samples, int64_t tokens,
                           double seconds) {
    cJSON_AddNumberToObject(r, "schema_version", WEFT_REPORT_SCHEMA);
    cJSON_AddStringToObject(r, "arch", p->arch.name);
    cJSON_AddStringToObject(r, "mode", p->mode);
    int R = st->replicas > 1 ? st->replicas : 1;  /* data parallel: every replica's samples */
    if (R > 1) {
        static const char *const nets[] = WEFT_NET_NAMES;
        cJSON *d = cJSON_AddObjectToObject(r, "data_parallel");
        double c = (double)st->period_cycles, alone = (double)st->alone_period_cycles;
        cJSON_AddNumberToObject(d, "replicas", R);
        cJSON_AddNumberToObject(d, "samples_per_chip", (double)samples);
        cJSON_AddStringToObject(d, "network", nets[p->arch.chip_net]);
        cJSON_AddNumberToObject(d, "gradient_bytes", (double)st->chip_net_bytes);
        cJSON_AddNumberToObject(d, "network_busy_cycles", (double)st->chip_net_cycles);
        cJSON_AddNumberToObject(d, "alone_period_cycles", alone);
        cJSON_AddNumberToObject(d, "exposed_cycles", c > alone ? c - alone : 0);
        cJSON_AddNumberToObject(d, "scaling_efficiency", c > 0 ? alone / c : 0);
    }
    samples *= R;
    tokens *= R;
    if (p->mode_reason[0]) cJSON_AddStringToObject(r, "mode_reason", p->mode_reason);
    cJSON_AddNumberToObject(r, "samples_per_pass", (double)samples);
    if (st->accumulate > 1) cJSON_AddNumberToObject(r, "micro_batches", st->accumulate);
    if (p->phased) {
        cJSON *w = cJSON_AddObjectToObject(r, p->weight_streaming ? "weight_streaming" : "sections");
        cJSON_AddNumberToObject(w, "phases", p->n_phases);
        cJSON *list = p->weight_streaming ? NULL : cJSON_AddArrayToObject(w, "list");
        for (int j = 0; list && j < p->n_phases; j++) {  /* each section as planned */
            const weft_phase *ph = &p->phases[j];
            cJSON *o = cJSON_CreateObject();
            if (!o) break;
            int64_t tiles = 0;
            for (int i = ph->first_kernel; i < ph->first_kernel + ph->n_kernels; i++) tiles += (int64_t)p->k[i].w * p->k[i].h;
            cJSON_AddStringToObject(o, "first_node", p->graph->nodes[p->k[ph->first_kernel].node].name);
            cJSON_AddNumberToObject(o, "kernels", ph->n_kernels);
            cJSON_AddNumberToObject(o, "tiles", (double)tiles);
            cJSON_AddNumberToObject(o, "weight_bytes", (double)ph->weight_in_bytes);
            cJSON_AddNumberToObject(o, "kept_bytes", (double)ph->stash_bytes);
            cJSON_AddNumberToObject(o, "spilled_bytes", (double)ph->spill_bytes);
            cJSON_AddNumberToObject(o, "read_back_bytes", (double)ph->fill_bytes);
            cJSON_AddItemToArray(list, o);
        }
        cJSON_AddNumberToObject(w, "weight_bytes_in", (double)st->weight_bytes_in);
        cJSON_AddNumberToObject(w, "gradient_bytes_out", (double)st->gradient_bytes_out);
        cJSON_AddNumberToObject(w, "layer_cycles", (double)st->layer_cycles);
        cJSON_AddNumberToObject(w, "weight_wait_cycles", (double)st->weight_wait_cycles);
        cJSON_AddNumberToObject(w, "update_cycles", (double)st->update_cycles);
    }
    cJSON_AddNumberToObject(r, "cycles", (double)st->cycles);
    cJSON_AddNumberToObject(r, "latency_seconds", st->seconds);
    cJSON_AddNumberToObject(r, "passes", st->passes);
    cJSON_AddNumberToObject(r, "period_cycles", (double)st->period_cycles);
    cJSON_AddNumberToObject(r, "seconds", seconds);
    cJSON_AddNumberToObject(r, "samples_per_s", seconds > 0 ? (double)samples / seconds : 0);
    if (tokens) cJSON_AddNumberToObject(r, "tokens_per_s", seconds > 0 ? (double)tokens / seconds : 0);
    cJSON_AddNumberToObject(r, "flops", (double)st->flops);
    cJSON_AddNumberToObject(r, "flops_per_s", st->achieved_flops);
    cJSON_AddNumberToObject(r, "peak_flops_per_s", st->peak_flops);
    cJSON_AddStringToObject(r, "peak_dtype", st->peak_dtype);
    cJSON_AddNumberToObject(r, "pe_utilization", st->pe_utilization);
    cJSON_AddNumberToObject(r, "tiles_used", (double)st->tiles_used);
    cJSON_AddNumberToObject(r, "sram_bytes_max", (double)st->sram_bytes_max);
    cJSON_AddNumberToObject(r, "sram_bytes_mean", st->sram_bytes_mean);
    cJSON_AddNumberToObject(r, "link_load_max", st->link_load_max);
    cJSON_AddNumberToObject(r, "link_load_mean", st->link_load_mean);
    cJSON_AddNumberToObject(r, "messages", (double)st->messages);
    cJSON_AddNumberToObject(r, "bytes_moved", (double)st->bytes_moved);
    cJSON_AddNumberToObject(r, "events", (double)st->events);
    cJSON_AddNumberToObject(r, "channels_used", p->channels_used);
    cJSON_AddNumberToObject(r, "predicted_cycles", (double)p->predicted_cycles);
    cJSON_AddNumberToObject(r, "predicted_period_cycles", (double)p->predicted_period);
    if (st->bottleneck == WEFT_BOTTLENECK_OFFCHIP) {
        cJSON *b = cJSON_AddObjectToObject(r, "bottleneck");
        cJSON_AddStringToObject(b, "node", "off-chip link");
        cJSON_AddNumberToObject(b, "busy_fraction", st->bottleneck_busy);
    } else if (st->bottleneck == WEFT_BOTTLENECK_BUFFERS) {
        cJSON *b = cJSON_AddObjectToObject(r, "bottleneck");
        cJSON_AddStringToObject(b, "node", "buffers");
        cJSON_AddNumberToObject(b, "busy_fraction", st->bottleneck_busy);
    } else if (st->bottleneck == WEFT_BOTTLENECK_UPDATES) {
        cJSON *b = cJSON_AddObjectToObject(r, "bottleneck");
        cJSON_AddStringToObject(b, "node", "updates");
        cJSON_AddNumberToObject(b, "busy_fraction", st->bottleneck_busy);
    } else if (st->bottleneck == WEFT_BOTTLENECK_WEIGHTS) {
        cJSON *b = cJSON_AddObjectToObject(r, "bottleneck");
        cJSON_AddStringToObject(b, "node", "weights");
        cJSON_AddNumberToObject(b, "busy_fraction", st->bottleneck_busy);
    } else if (st->bottleneck == WEFT_BOTTLENECK_LINK) {
        cJSON *b = cJSON_AddObjectToObject(r, "bottleneck");
        int64_t tile = st->link_busiest / 4;
        cJSON_AddStringToObject(b, "node", "link");
        cJSON_AddNumberToObject(b, "x", (double)(tile % p->arch.width));
        cJSON_AddNumberToObject(b, "y", (double)(tile / p->arch.width));
        cJSON_AddStringToObject(b, "direction", weft_dir_name((int)(st->link_busiest % 4)));
        cJSON_AddNumberToObject(b, "busy_fraction", st->bottleneck_busy);
        int kk[16], qq[16], n = weft_program_edges_on_link(p, st->link_busiest, kk, qq, 16);
        cJSON *e = cJSON_AddArrayToObject(b, "edges");
        for (int j = 0; j < n && j < 16 && e; j++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "from", weft_program_dep_source(p, kk[j], qq[j]));
            cJSON_AddStringToObject(o, "to", p->graph->nodes[p->k[kk[j]].node].name);
            cJSON_AddItemToArray(e, o);
        }
    } else if (p->n) {
        const weft_node *n = &p->graph->nodes[p->k[st->bottleneck].node];
        cJSON *b = cJSON_AddObjectToObject(r, "bottleneck");
        cJSON_AddNumberToObject(b, "kernel", st->bottleneck);
        cJSON_AddStringToObject(b, "node", n->name);
        cJSON_AddStringToObject(b, "op", n->op->name);
        cJSON_AddNumberToObject(b, "busy_fraction", st->bottleneck_busy);
    }
}

void weft_report_add_kernels(cJSON *r, const weft_program *p, const weft_kernel_time *times, int passes) {
    static const char *const kinds[] = {"gemm", "stream", "whole"};
    cJSON *ks = cJSON_AddArrayToObject(r, "kernels");
    for (int i = 0; i < p->n && ks; i++) {
        const weft_kernel *k = &p->k[i];
        const weft_node *n = &p->graph->nodes[k->node];
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddStringToObject(o, "node", n->name);
        cJSON_AddStringToObject(o, "op", n->op->name);
        cJSON_AddStringToObject(o, "kind", kinds[k->kind]);
        if (k->host >= 0) cJSON_AddNumberToObject(o, "host", k->host);
        cJSON_AddItemToObject(o, "region", cJSON_CreateIntArray((const int[]){k->x0, k->y0, k->w, k->h}, 4));
        cJSON_AddNumberToObject(o, "blocks", k->blocks);
        cJSON_AddNumberToObject(o, "planned_busy_cycles", (double)k->block_cycles * k->blocks * passes);
        cJSON_AddNumberToObject(o, "busy_cycles", (double)times[i].busy);
        cJSON_AddNumberToObject(o, "waiting_cycles", (double)times[i].waiting);
        cJSON_AddNumberToObject(o, "last_end_cycle", (double)times[i].last_end);
        /* while busy, its arithmetic's rate; what bounds it: its inputs (it waited longer than it
         * worked), its arithmetic (half its stage or more), else the fabric (moving its blocks) */
        int64_t t = (int64_t)k->w * k->h;
        double busy_s = (double)times[i].busy / p->arch.clock_hz, per_pass = passes > 0 ? busy_s / passes : 0;
        double arith = k->offchip || t <= 0 ? 0 : (double)k->flops / (weft_kernel_rate(p, k) * (double)t) / (k->blocks > 0 ? k->blocks : 1);
        const char *bound = k->offchip ? "off-chip unit" : times[i].waiting > times[i].busy ? "inputs"
                            : arith >= 0.5 * (double)k->block_cycles ? "compute" : "fabric";
        cJSON_AddNumberToObject(o, "flops_per_s_busy", per_pass > 0 ? (double)k->flops / per_pass : 0);
        double in = 0, out = 0;  /* a pass's bytes into the region (its inputs) and out (its outputs) */
        for (int q = 0; q < k->n_deps; q++) in += (double)weft_program_value_bytes(p, k->dep_value[q]);
        for (int j = 0; j < n->n_out; j++) out += (double)weft_program_value_bytes(p, n->out[j]);
        cJSON_AddNumberToObject(o, "bytes_in", in);
        cJSON_AddNumberToObject(o, "bytes_out", out);
        cJSON_AddStringToObject(o, "bound", bound);
        cJSON_AddItemToArray(ks, o);
    }
}

const char *weft_report_layer_of(const weft_program *p, const weft_kernel *k, char *buf, size_t len) {
    const char *name = p->graph->nodes[k->node].name, *body = name, *slash = strrchr(name, '/');
    if (slash) body = slash + 1;  /* ("grad/", "update/", "update/sum_sq/" kept in front) */
    const char *end = NULL;
    for (const char *q = body; *q && !end; q++)  /* the first part made only of digits */
        if ((q == body || q[-1] == '.') && *q >= '0' && *q <= '9') {
            const char *e = q;
            while (*e >= '0' && *e <= '9') e++;
            if (*e == '.' || !*e) end = e;
        }
    if (!end) end = body + strcspn(body, ".");
    snprintf(buf, len, "%.*s", (int)(end - name), name);
    return buf;
}

void weft_report_add_layers(cJSON *r, const weft_program *p, const weft_kernel_time *times, int passes) {
    cJSON *ls = cJSON_AddArrayToObject(r, "layers");
    double all = 0;
    for (int i = 0; i < p->n; i++) all += (double)times[i].busy;
    bool *done = weft_try_calloc((size_t)p->n + 1, sizeof *done);
    char (*names)[128] = weft_try_malloc(((size_t)p->n + 1) * sizeof *names);  /* (p->n) each kernel's layer, named once */
    for (int i = 0; i < p->n && names; i++) weft_report_layer_of(p, &p->k[i], names[i], sizeof *names);
    for (int i = 0; i < p->n && ls && done && names; i++) {
        if (done[i]) continue;
        const char *name = names[i];
        double tiles = 0, flops = 0, planned = 0, busy = 0, waiting = 0, sram = 0;
        int kernels = 0;
        for (int j = i; j < p->n; j++) {
            if (done[j] || strcmp(names[j], name)) continue;
            const weft_kernel *k = &p->k[j];
            done[j] = true;
            kernels++;
            if (k->host < 0) tiles += (double)k->w * k->h;
            flops += (double)k->flops;
            planned += (double)k->block_cycles * k->blocks * passes;
            busy += (double)times[j].busy;
            waiting += (double)times[j].waiting;
            if ((double)k->sram_per_tile > sram) sram = (double)k->sram_per_tile;
        }
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddStringToObject(o, "layer", name);
        cJSON_AddNumberToObject(o, "kernels", kernels);
        cJSON_AddNumberToObject(o, "tiles", tiles);
        cJSON_AddNumberToObject(o, "flops", flops);
        cJSON_AddNumberToObject(o, "planned_busy_cycles", planned);
        cJSON_AddNumberToObject(o, "busy_cycles", busy);
        cJSON_AddNumberToObject(o, "waiting_cycles", waiting);
        cJSON_AddNumberToObject(o, "sram_bytes_per_tile_max", sram);
        cJSON_AddNumberToObject(o, "busy_share", all > 0 ? busy / all : 0);
        cJSON_AddItemToArray(ls, o);
    }
    free(done);
    free(names);
}

weft_status weft_report_profile_csv(const weft_program *p, const weft_kernel_time *times, int passes, const char *path, weft_err *err) {
    static const char *const kinds[] = {"gemm", "stream", "whole"};
    weft_atomic a;
    weft_status s = weft_atomic_open(&a, path, err);
    if (s) return s;
    fprintf(a.f, "kernel,node,op,layer,kind,tiles,blocks,flops,sram_bytes_per_tile,planned_busy_cycles,busy_cycles,waiting_cycles\n");
    for (int i = 0; i < p->n; i++) {
        const weft_kernel *k = &p->k[i];
        const weft_node *n = &p->graph->nodes[k->node];
        char layer[256];
        fprintf(a.f, "%d,\"%s\",%s,\"%s\",%s,%lld,%d,%lld,%lld,%.0f,%llu,%llu\n", i, n->name, n->op->name,
                weft_report_layer_of(p, k, layer, sizeof layer), kinds[k->kind], k->host >= 0 ? 0LL : (long long)k->w * k->h, k->blocks,
                (long long)k->flops, (long long)k->sram_per_tile, (double)k->block_cycles * k->blocks * passes,
                (unsigned long long)times[i].busy, (unsigned long long)times[i].waiting);
    }
    if (ferror(a.f)) {
        weft_atomic_abort(&a);
        return weft_err_set(err, WEFT_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    }
    return weft_atomic_commit(&a, err);
}

weft_status weft_report_write(cJSON *r, const char *path, weft_err *err) {
    cJSON_AddNumberToObject(r, "host_peak_rss_bytes", (double)weft_report_peak_rss());
    char *txt = cJSON_Print(r);
    if (!txt) return weft_err_set(err, WEFT_ERR_NOMEM, "%s: out of memory printing the report", path);
    weft_atomic a;
    weft_status s = weft_atomic_open(&a, path, err);
    if (!s) {
        if (fprintf(a.f, "%s\n", txt) < 0) {
            s = weft_err_set(err, WEFT_ERR_IO, "%s: write failed: %s", path, strerror(errno));
            weft_atomic_abort(&a);
        } else s = weft_atomic_commit(&a, err);
    }
    free(txt);
    return s;
}
