/* report: a Chrome trace-event / Perfetto JSON of a run (report.h), written by an observer of
 * the simulation (sim/run.h: struct weft_sim_detail). One track per region (thread id = kernel
 * index, named after its node), a complete ("X") slice per block it computed, and counters of
 * the bytes moved to and from off-chip memory and of the busiest link's occupation (when the
 * caller names it: weft_trace_watch_link, from an earlier run's weft_sim_stats.link_busiest). Times are microseconds at the machine's clock. */
#include "report/report.h"
#include "sim/run.h"

#include <errno.h>
#include <string.h>

struct weft_trace {
    const weft_program *p;
    weft_atomic file;                /* the trace is renamed into place when closed */
    FILE *f;                         /* file.f */
    bool first;
    double us_per_cycle;
    double offchip_in, offchip_out;  /* bytes so far */
    char link_name[96];              /* the watched link's counter, "" when none */
    uint64_t busy_start, busy_end;   /* its current run of back-to-back occupations */
    bool busy_open;
    weft_status status;
};

static void sep(weft_trace *t) {
    if (!t->first) fputs(",\n", t->f);
    t->first = false;
}

static void on_task(void *ctx, int kernel, int pass, int block, uint64_t start, uint64_t end) {
    weft_trace *t = ctx;
    sep(t);
    fprintf(t->f, "{\"name\":\"pass %d block %d\",\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"ts\":%.6f,\"dur\":%.6f}", pass, block, kernel,
            (double)start * t->us_per_cycle, (double)(end - start) * t->us_per_cycle);
}

static void on_transfer(void *ctx, int src, int dst, uint64_t bytes, uint64_t sent, uint64_t arrived) {
    weft_trace *t = ctx;
    if (src >= 0 && dst >= 0) return;
    double *total = src < 0 ? &t->offchip_in : &t->offchip_out;
    *total += (double)bytes;
    sep(t);
    fprintf(t->f, "{\"name\":\"off-chip %s bytes\",\"ph\":\"C\",\"pid\":1,\"ts\":%.6f,\"args\":{\"bytes\":%.0f}}",
            src < 0 ? "in" : "out", (double)(src < 0 ? sent : arrived) * t->us_per_cycle, *total);
}

/* The watched link's counter: 1 while occupied, 0 while idle; occupations back to back are
 * one run. */
static void flush_link(weft_trace *t) {
    if (!t->busy_open) return;
    sep(t);
    fprintf(t->f, "{\"name\":\"%s\",\"ph\":\"C\",\"pid\":1,\"ts\":%.6f,\"args\":{\"busy\":1}},\n", t->link_name,
            (double)t->busy_start * t->us_per_cycle);
    fprintf(t->f, "{\"name\":\"%s\",\"ph\":\"C\",\"pid\":1,\"ts\":%.6f,\"args\":{\"busy\":0}}", t->link_name,
            (double)t->busy_end * t->us_per_cycle);
    t->busy_open = false;
}

static void on_link(void *ctx, uint64_t start, uint64_t end) {
    weft_trace *t = ctx;
    if (t->busy_open && start <= t->busy_end) {
        if (end > t->busy_end) t->busy_end = end;
        return;
    }
    flush_link(t);
    t->busy_start = start;
    t->busy_end = end;
    t->busy_open = true;
}

void weft_trace_watch_link(weft_trace *t, struct weft_sim_detail *d, int64_t link) {
    int64_t tile = link / 4;
    snprintf(t->link_name, sizeof t->link_name, "busiest link: (%lld, %lld) %s", (long long)(tile % t->p->arch.width),
             (long long)(tile / t->p->arch.width), weft_dir_name((int)(link % 4)));
    d->link = on_link;
    d->watch_link = link;
}

weft_trace *weft_trace_open(const weft_program *p, const char *path, struct weft_sim_detail *d, weft_err *err) {
    weft_atomic file;
    if (weft_atomic_open(&file, path, err)) return NULL;
    FILE *f = file.f;
    weft_trace *t = weft_xcalloc(1, sizeof *t);
    t->p = p;
    t->file = file;
    t->f = f;
    t->first = true;
    t->us_per_cycle = 1e6 / p->arch.clock_hz;
    fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", f);
    for (int i = 0; i < p->n; i++) {
        const weft_node *n = &p->graph->nodes[p->k[i].node];
        char name[160];
        snprintf(name, sizeof name, "%d %s (%s)", i, n->name, n->op->name);
        cJSON *s = cJSON_CreateString(name);  /* escaped */
        char *js = cJSON_PrintUnformatted(s);
        sep(t);
        fprintf(f, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"args\":{\"name\":%s}}", i, js);
        free(js);
        cJSON_Delete(s);
    }
    sep(t);
    fprintf(f, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\"%s on %s\"}}", p->graph->name ? "program" : "program",
            p->arch.name);
    d->ctx = t;
    d->task = on_task;
    d->transfer = on_transfer;
    return t;
}

void weft_trace_abort(weft_trace *t) {
    if (!t) return;
    weft_atomic_abort(&t->file);
    free(t);
}

weft_status weft_trace_close(weft_trace *t, const char *path, weft_err *err) {
    if (!t) return WEFT_OK;
    flush_link(t);
    fputs("\n]}\n", t->f);
    (void)path;  /* the atomic writer names it */
    weft_status s = weft_atomic_commit(&t->file, err);  /* written whole or not at all */
    free(t);
    return s;
}
