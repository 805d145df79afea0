/* cli: the option parser (opt.h). */
#include "cli/opt.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPTS 64

static int count(const cli_opt *o) {
    int n = 0;
    while (o[n].name) n++;
    return n;
}

/* One line of the help per option: "  --name ARG, -x   help" with the help's own lines indented. */
void cli_help(const cli_command *c, FILE *f) {
    fprintf(f, "usage: weft %s%s%s%s\n", c->name, c->opts && c->opts[0].name ? " [options]" : "", c->args ? " " : "",
            c->args ? c->args : "");
    if (c->about) {
        fprintf(f, "\n");
        for (const char *p = c->about; *p;) {
            size_t l = strcspn(p, "\n");
            fprintf(f, "  %.*s\n", (int)l, p);
            p += l + (p[l] == '\n');
        }
    }
    if (!c->opts || !c->opts[0].name) return;
    fprintf(f, "\noptions:\n");
    for (const cli_opt *o = c->opts; o->name; o++) {
        char head[96];
        int n = snprintf(head, sizeof head, "  --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        if (o->short_name && n < (int)sizeof head) snprintf(head + n, sizeof head - (size_t)n, ", -%c", o->short_name);
        const char *h = o->help ? o->help : "";
        bool first = true;
        do {
            size_t l = strcspn(h, "\n");
            if (first && strlen(head) <= 26) fprintf(f, "%-27s %.*s\n", head, (int)l, h);
            else if (first) fprintf(f, "%s\n%-27s %.*s\n", head, "", (int)l, h);
            else fprintf(f, "%-27s %.*s\n", "", (int)l, h);
            first = false;
            h += l + (h[l] == '\n');
        } while (*h);
    }
    if (c->config) fprintf(f, "%-27s settings from a YAML file (sections model, optimizer, data, runconfig);\n%-27s a flag given here wins\n", "  --config FILE", "");
    fprintf(f, "%-27s this help\n", "  --help, -h");
}

static bool in_choices(const char *choices, const char *v) {
    size_t lv = strlen(v);
    for (const char *p = choices; *p;) {
        size_t l = strcspn(p, ",");
        if (l == lv && !strncmp(p, v, l)) return true;
        p += l + (p[l] == ',');
    }
    return false;
}

/* The range as a person writes it: 1048576 as 2^20 when it is a power of two that long. */
static void num_str(double v, char *buf, size_t n) {
    int e;
    if (v >= 1 << 16 && frexp(v, &e) == 0.5) snprintf(buf, n, "2^%d", e - 1);
    else snprintf(buf, n, "%.10g", v);
}

static int set_value(const cli_command *c, const cli_opt *o, const char *v) {
    char lo[32], hi[32];
    num_str(o->min, lo, sizeof lo);
    num_str(o->max, hi, sizeof hi);
    switch (o->kind) {
    case CLI_FLAG: *(bool *)o->dst = true; break;
    case CLI_STR:
        if (!*v) { fprintf(stderr, "weft %s: --%s needs a value, got ''\n", c->name, o->name); return 2; }
        *(const char **)o->dst = v;
        break;
    case CLI_CHOICE:
        if (!in_choices(o->choices, v)) {
            fprintf(stderr, "weft %s: --%s '%s' is not one of %s\n", c->name, o->name, v, o->choices);
            return 2;
        }
        *(const char **)o->dst = v;
        break;
    case CLI_INT: {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (end == v || *end || errno || (double)x < o->min || (double)x > o->max) {
            fprintf(stderr, "weft %s: --%s '%s': give an integer from %s to %s\n", c->name, o->name, v, lo, hi);
            return 2;
        }
        *(long long *)o->dst = x;
        break;
    }
    case CLI_NUM: {
        char *end;
        errno = 0;
        double x = strtod(v, &end);
        if (end == v || *end || errno || !isfinite(x) || x < o->min || x > o->max) {
            fprintf(stderr, "weft %s: --%s '%s': give a number from %s to %s\n", c->name, o->name, v, lo, hi);
            return 2;
        }
        *(double *)o->dst = x;
        break;
    }
    case CLI_LIST: {
        cli_list *l = o->dst;
        if (l->n == CLI_LIST_MAX) {
            fprintf(stderr, "weft %s: --%s given more than %d times\n", c->name, o->name, CLI_LIST_MAX);
            return 2;
        }
        l->v[l->n++] = v;
        break;
    }
    }
    if (o->given) *o->given = true;
    return 0;
}

static int parse(const cli_command *c, int argc, char **argv, const char **pos, int *n_pos);

int cli_parse(const cli_command *c, int argc, char **argv, const char **pos, int *n_pos) {
    if (!c->config) return parse(c, argc, argv, pos, n_pos);
    /* --config FILE (or --config=FILE): its settings go first, so the command line's win */
    const char *file = NULL;
    char **av = calloc((size_t)argc + CLI_CONFIG_MAX + 1, sizeof *av);
    if (!av) return 2;
    int n = 0;
    av[n++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (!strcmp(argv[i], "--config") && i + 1 < argc) file = argv[++i];
        else if (!strncmp(argv[i], "--config=", 9)) file = argv[i] + 9;
    }
    memset(c->config_store, 0, sizeof *c->config_store);
    if (file) {
        int rc = cli_config_load(file, c->config, c->config_store);
        if (rc) { free(av); return rc; }
        for (int i = 0; i < c->config_store->n; i++) av[n++] = c->config_store->args[i];
    }
    bool after = false;
    for (int i = 1; i < argc; i++) {
        if (!after && !strcmp(argv[i], "--")) after = true;
        if (!after && !strcmp(argv[i], "--config") && i + 1 < argc) { i++; continue; }
        if (!after && !strncmp(argv[i], "--config=", 9)) continue;
        av[n++] = argv[i];
    }
    int rc = parse(c, n, av, pos, n_pos);
    free(av);  /* (the values point into argv and the store, not into av) */
    if (!rc && *n_pos < c->max_args && *n_pos == 0 && c->config_store->model) pos[(*n_pos)++] = c->config_store->model;
    return rc;
}

static int parse(const cli_command *c, int argc, char **argv, const char **pos, int *n_pos) {
    int n = c->opts ? count(c->opts) : 0;
    if (n >= MAX_OPTS) { fprintf(stderr, "weft %s: too many options in the table\n", c->name); return 2; }
    struct option lo[MAX_OPTS + 2];
    /* '-' first: arguments come back in order as 1 (so options and arguments mix even under
     * POSIXLY_CORRECT); ':' then: a missing value returns ':' */
    char shorts[2 * MAX_OPTS + 8] = "-:h";
    size_t ns = 3;
    for (int i = 0; i < n; i++) {
        const cli_opt *o = &c->opts[i];
        lo[i] = (struct option){o->name, o->kind == CLI_FLAG ? no_argument : required_argument, NULL, 1000 + i};
        if (o->short_name) {
            shorts[ns++] = (char)o->short_name;
            if (o->kind != CLI_FLAG) shorts[ns++] = ':';
        }
    }
    lo[n] = (struct option){"help", no_argument, NULL, 'h'};
    lo[n + 1] = (struct option){0, 0, 0, 0};
    shorts[ns] = 0;
    *n_pos = 0;
    opterr = 0;
    optind = 0;  /* glibc: a full reset, so commands may be parsed one after another */
    for (;;) {
        int k = getopt_long(argc, argv, shorts, lo, NULL);
        if (k == -1) break;
        if (k == 1) {  /* a positional argument */
            if (*n_pos == c->max_args) {
                fprintf(stderr, "weft %s: unexpected argument '%s' (usage: weft %s [options] %s)\n", c->name, optarg, c->name,
                        c->args ? c->args : "");
                return 2;
            }
            pos[(*n_pos)++] = optarg;
            continue;
        }
        const char *what = optind >= 1 && optind <= argc ? argv[optind - 1] : "?";  /* (argv permuted: the option just read) */
        if (k == 'h') { cli_help(c, stdout); return CLI_HELP; }
        if (k == '?') {
            if (optopt >= 1000 && optopt < 1000 + n)
                fprintf(stderr, "weft %s: --%s takes no value ('%s')\n", c->name, c->opts[optopt - 1000].name, what);
            else if (optopt && optopt < 1000) fprintf(stderr, "weft %s: unknown option '-%c' (weft %s --help lists them)\n", c->name, optopt, c->name);
            else fprintf(stderr, "weft %s: unknown or ambiguous option '%s' (weft %s --help lists them)\n", c->name, what, c->name);
            return 2;
        }
        if (k == ':') {
            fprintf(stderr, "weft %s: option '%s' needs a value\n", c->name, what);
            return 2;
        }
        const cli_opt *o = NULL;
        if (k >= 1000 && k < 1000 + n) o = &c->opts[k - 1000];
        for (int i = 0; i < n && !o; i++)
            if (c->opts[i].short_name == k) o = &c->opts[i];
        if (!o) { fprintf(stderr, "weft %s: unknown option '%s'\n", c->name, what); return 2; }
        int rc = set_value(c, o, optarg);
        if (rc) return rc;
    }
    for (int i = optind; i < argc; i++) {
        if (*n_pos == c->max_args) {
            fprintf(stderr, "weft %s: unexpected argument '%s' (usage: weft %s [options] %s)\n", c->name, argv[i], c->name,
                    c->args ? c->args : "");
            return 2;
        }
        pos[(*n_pos)++] = argv[i];
    }
    if (*n_pos < c->min_args && !(c->config && c->config_store->model && *n_pos == c->min_args - 1)) {
        fprintf(stderr, "weft %s: missing %s (weft %s --help)\n", c->name, c->args ? c->args : "an argument", c->name);
        return 2;
    }
    return 0;
}
