/* cli: `weft sweep MODEL --arch A,B --batch 1,8,64 [options]`: the grid of machines x batches
 * (x precisions), each point a timing-only `weft run` of its own (this binary, run again), as
 * many at once as the host has cores; a table on stdout and, with -o, a CSV. */
#include "cli/sweep.h"
#include "cli/opt.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_POINTS 256
#define MAX_LIST 32

typedef struct {
    const char *arch, *precision;
    long long batch;
    char report[640];
    pid_t pid;
    int status;  /* the child's exit status (-1: not run) */
} point;

/* Splits a comma-separated list in place; returns how many, -1 beyond MAX_LIST. */
static int split(char *s, char **out) {
    int n = 0;
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
        if (n == MAX_LIST) return -1;
        out[n++] = tok;
    }
    return n;
}

static int start(const point *pt, const char *model, bool train, const char *mode, const char *vs, pid_t *pid) {
    char batch[32];
    snprintf(batch, sizeof batch, "%lld", pt->batch);
    const char *argv[24];
    int n = 0;
    argv[n++] = "weft";
    argv[n++] = "run";
    argv[n++] = model;
    argv[n++] = "--arch";
    argv[n++] = pt->arch;
    argv[n++] = "--timing-only";
    if (pt->batch > 0) { argv[n++] = "--batch"; argv[n++] = batch; }
    if (pt->precision) { argv[n++] = "--precision"; argv[n++] = pt->precision; }
    if (train) argv[n++] = "--train";
    if (mode) { argv[n++] = "--mode"; argv[n++] = mode; }
    if (vs) { argv[n++] = "--vs"; argv[n++] = vs; }
    argv[n++] = "--report";
    argv[n++] = pt->report;
    argv[n] = NULL;
    fflush(stdout);
    *pid = fork();
    if (*pid < 0) return -1;
    if (*pid == 0) {
        /* the child: its own output is not the sweep's (its report file is) */
        if (!freopen("/dev/null", "w", stdout)) _exit(127);
        execv("/proc/self/exe", (char *const *)argv);
        _exit(127);
    }
    return 0;
}

int weft_cli_sweep(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *mode = NULL, *vs = NULL, *arch_v = NULL, *batch_v = NULL, *prec_v = NULL;
    bool train = false;
    long long jobs = sysconf(_SC_NPROCESSORS_ONLN);
    const cli_opt opts[] = {
        {"arch", 0, CLI_STR, &arch_v, "A,B,...", "the machines (presets or JSON files); required"},
        {"batch", 0, CLI_STR, &batch_v, "N,M,...", "the batches (default: the model's)"},
        {"precision", 0, CLI_STR, &prec_v, "P,Q,...", "fp32, bf16, fp16 (default fp32)"},
        {"train", 0, CLI_FLAG, &train, NULL, "time the training step instead of the forward pass"},
        {"mode", 0, CLI_CHOICE, &mode, "M", "the execution mode of every point (default auto)", 0, 0, "auto,pipelined,weight-streaming,sections"},
        {"vs", 0, CLI_STR, &vs, "GPU,...", "the GPUs every point is compared with (a100, h100, ...)"},
        {"jobs", 'j', CLI_INT, &jobs, "J", "points run at once (default: the host's cores)", 1, 256},
        {"output", 'o', CLI_STR, &out, "FILE.csv", "the table as CSV"},
        {0}};
    const cli_command c = {"sweep", "MODEL", "every machine x batch x precision, timed (timing only) as weft run would, J at once;\n"
                           "prints samples/s, tokens/s, the mode and what bounds each", opts, 1, 1};
    int n_pos, prc = cli_parse(&c, argc, argv, &model, &n_pos);
    if (prc) return prc == CLI_HELP ? 0 : prc;
    if (!arch_v) { fprintf(stderr, "weft sweep: --arch A[,B...] is required\n"); return 2; }
    char *arch_s = strdup(arch_v), *batch_s = batch_v ? strdup(batch_v) : NULL, *prec_s = prec_v ? strdup(prec_v) : NULL;
    if (jobs < 1) jobs = 1;
    char *archs[MAX_LIST], *batches[MAX_LIST], *precs[MAX_LIST];
    int na = split(arch_s, archs), nb = batch_s ? split(batch_s, batches) : 0, np = prec_s ? split(prec_s, precs) : 0;
    int rc = 0;
    if (na < 1 || nb < 0 || np < 0) { fprintf(stderr, "weft sweep: a list is empty or longer than %d\n", MAX_LIST); rc = 2; }
    point *pts = calloc(MAX_POINTS, sizeof *pts);
    int n = 0;
    char dir[512];  /* the points' reports, removed at the end */
    snprintf(dir, sizeof dir, "%s/weft-sweep-XXXXXX", getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!rc && (!pts || !mkdtemp(dir))) { fprintf(stderr, "weft sweep: %s\n", strerror(errno)); rc = 1; }
    for (int a = 0; a < na && !rc; a++)
        for (int b = 0; b < (nb ? nb : 1) && !rc; b++)
            for (int q = 0; q < (np ? np : 1) && !rc; q++) {
                if (n == MAX_POINTS) { fprintf(stderr, "weft sweep: more than %d points\n", MAX_POINTS); rc = 2; break; }
                point *pt = &pts[n];
                pt->arch = archs[a];
                pt->precision = np ? precs[q] : NULL;
                char *end = NULL;
                pt->batch = nb ? strtoll(batches[b], &end, 10) : 0;
                if (nb && (*end || pt->batch < 1)) { fprintf(stderr, "weft sweep: --batch '%s' is not a positive integer\n", batches[b]); rc = 2; }
                snprintf(pt->report, sizeof pt->report, "%s/%d.json", dir, n);
                pt->status = -1;
                n++;
            }
    /* J points at a time; each child's exit status kept */
    int next = 0, running = 0;
    while (!rc && (next < n || running > 0)) {
        while (next < n && running < jobs) {
            if (start(&pts[next], model, train, mode, vs, &pts[next].pid)) { fprintf(stderr, "weft sweep: fork: %s\n", strerror(errno)); rc = 1; break; }
            next++, running++;
        }
        if (running == 0) break;
        int st;
        pid_t done = wait(&st);
        if (done < 0) break;
        running--;
        for (int i = 0; i < n; i++)
            if (pts[i].pid == done) pts[i].status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    }
    FILE *csv = !rc && out ? fopen(out, "w") : NULL;
    if (!rc && out && !csv) { fprintf(stderr, "weft sweep: %s: %s\n", out, strerror(errno)); rc = 1; }
    if (csv) fprintf(csv, "model,arch,batch,precision,mode,samples_per_s,tokens_per_s,flops_per_s,peak_flops_per_s,bottleneck,gpu,speedup_per_chip\n");
    if (!rc) {
        printf("%s, timing only%s\n\n", model, train ? ", a training step" : "");
        printf("| machine | batch | precision | mode | samples/s | tokens/s | %% of peak | bound by |%s\n", vs ? " vs GPU (per chip) |" : "");
        printf("|---|---|---|---|---|---|---|---|%s\n", vs ? "---|" : "");
    }
    for (int i = 0; i < n && !rc; i++) {
        const point *pt = &pts[i];
        FILE *f = pt->status == 0 ? fopen(pt->report, "rb") : NULL;
        char *text = NULL;
        long len = 0;
        if (f && !fseek(f, 0, SEEK_END) && (len = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET) && (text = malloc((size_t)len + 1)))
            text[fread(text, 1, (size_t)len, f)] = 0;
        if (f) fclose(f);
        cJSON *r = text ? cJSON_Parse(text) : NULL;
        free(text);
        char b[24];
        snprintf(b, sizeof b, pt->batch ? "%lld" : "(model's)", pt->batch);
        if (!r) {
            printf("| %s | %s | %s | failed (exit %d; `weft run` says why) | | | | |%s\n", pt->arch, b, pt->precision ? pt->precision : "fp32",
                   pt->status, vs ? " |" : "");
            if (csv) fprintf(csv, "\"%s\",%s,%s,%s,failed,,,,,,,\n", model, pt->arch, b, pt->precision ? pt->precision : "fp32");
            remove(pt->report);
            continue;
        }
        const cJSON *m = cJSON_GetObjectItem(r, "mode"), *bn = cJSON_GetObjectItem(r, "bottleneck");
        const cJSON *bnode = bn ? cJSON_GetObjectItem(bn, "node") : NULL, *gpus = cJSON_GetObjectItem(r, "gpus");
        double sps = cJSON_GetNumberValue(cJSON_GetObjectItem(r, "samples_per_s")), tps = 0;
        if (cJSON_GetObjectItem(r, "tokens_per_s")) tps = cJSON_GetNumberValue(cJSON_GetObjectItem(r, "tokens_per_s"));
        double fl = cJSON_GetNumberValue(cJSON_GetObjectItem(r, "flops_per_s")), pk = cJSON_GetNumberValue(cJSON_GetObjectItem(r, "peak_flops_per_s"));
        const cJSON *g0 = gpus ? cJSON_GetArrayItem(gpus, 0) : NULL;
        double up = g0 ? cJSON_GetNumberValue(cJSON_GetObjectItem(g0, "speedup_per_chip")) : 0;
        const char *ms = cJSON_GetStringValue(m), *bs = cJSON_GetStringValue(bnode);
        char tok[32] = "-";
        if (tps > 0) snprintf(tok, sizeof tok, "%.5g", tps);
        printf("| %s | %s | %s | %s | %.5g | %s | %.2f %% | %s |", pt->arch, b, pt->precision ? pt->precision : "fp32", ms ? ms : "?", sps, tok,
               pk > 0 ? 100 * fl / pk : 0, bs ? bs : "?");
        if (vs) printf(" %.3gx %s |", up, g0 ? cJSON_GetStringValue(cJSON_GetObjectItem(g0, "gpu")) : "?");
        printf("\n");
        if (csv)
            fprintf(csv, "\"%s\",%s,%s,%s,%s,%.9g,%.9g,%.9g,%.9g,%s,%s,%.6g\n", model, pt->arch, b, pt->precision ? pt->precision : "fp32",
                    ms ? ms : "", sps, tps, fl, pk, bs ? bs : "", g0 ? cJSON_GetStringValue(cJSON_GetObjectItem(g0, "gpu")) : "", up);
        cJSON_Delete(r);
        remove(pt->report);
    }
    if (csv) {
        fclose(csv);
        printf("\nwrote %s\n", out);
    }
    if (pts && dir[strlen(dir) - 1] != 'X') rmdir(dir);
    free(pts);
    free(arch_s);
    free(batch_s);
    free(prec_s);
    return rc;
}
