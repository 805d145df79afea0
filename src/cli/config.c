/* cli: configuration files (config.h), read with libyaml's event parser. */
#include "cli/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 2

void cli_config_free(cli_config *c) {
    for (int i = 0; i < c->n; i++) free(c->args[i]);
    free(c->model);
    memset(c, 0, sizeof *c);
}

static int add(cli_config *c, const char *path, const char *opt, const char *value, bool flag) {
    if (c->n == CLI_CONFIG_MAX) {
        fprintf(stderr, "weft: %s: more than %d settings\n", path, CLI_CONFIG_MAX);
        return 2;
    }
    size_t n = strlen(opt) + strlen(value) + 4;
    c->args[c->n] = malloc(n);
    if (!c->args[c->n]) return 2;
    if (flag) snprintf(c->args[c->n], n, "--%s", opt);
    else snprintf(c->args[c->n], n, "--%s=%s", opt, value);
    c->n++;
    return 0;
}

/* A setting section.key = value (a scalar; or each item of a sequence, for repeatable options). */
static int setting(cli_config *c, const char *path, const cli_config_key *keys, const char *section, const char *key,
                   const char *value, int line) {
    const cli_config_key *k = NULL;
    for (const cli_config_key *q = keys; q->section && !k; q++)
        if (!strcmp(q->section, section) && !strcmp(q->key, key)) k = q;
    if (!k) {
        fprintf(stderr, "weft: %s:%d: unknown key '%s' in section '%s' (known there:", path, line, key, section);
        bool any = false;
        for (const cli_config_key *q = keys; q->section; q++)
            if (!strcmp(q->section, section)) { fprintf(stderr, " %s", q->key); any = true; }
        if (!any) {
            fprintf(stderr, " none: the sections are");
            for (const cli_config_key *q = keys; q->section; q++)
                if (q == keys || strcmp(q[-1].section, q->section)) fprintf(stderr, " %s", q->section);
        }
        fprintf(stderr, ")\n");
        return 2;
    }
    if (!*value || !strcmp(value, "~") || !strcmp(value, "null")) return 0;  /* a null: the setting left unset */
    if (!k->option) {  /* the MODEL argument */
        free(c->model);
        c->model = strdup(value);
        return c->model ? 0 : 2;
    }
    if (k->flag) {
        if (!strcmp(value, "true") || !strcmp(value, "yes")) return add(c, path, k->option, "", true);
        if (!strcmp(value, "false") || !strcmp(value, "no")) return 0;
        fprintf(stderr, "weft: %s:%d: %s.%s is true or false, not '%s'\n", path, line, section, key, value);
        return 2;
    }
    return add(c, path, k->option, value, false);
}

int cli_config_load(const char *path, const cli_config_key *keys, cli_config *c) {
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "weft: %s: cannot open: %s\n", path, strerror(errno)); return 2; }
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    /* the document: a mapping of sections, each a mapping of keys to scalars (or sequences of them) */
    char section[128] = "", key[128] = "";
    int depth = 0, rc = 0;
    bool in_seq = false, want_key = true;
    for (bool done = false; !done && !rc;) {
        yaml_event_t e;
        if (!yaml_parser_parse(&p, &e)) {
            fprintf(stderr, "weft: %s:%zu: %s\n", path, p.problem_mark.line + 1, p.problem ? p.problem : "not YAML");
            rc = 2;
            break;
        }
        int line = (int)e.start_mark.line + 1;
        switch (e.type) {
        case YAML_STREAM_END_EVENT: done = true; break;
        case YAML_MAPPING_START_EVENT:
            if (++depth > MAX_DEPTH || in_seq) {
                fprintf(stderr, "weft: %s:%d: too deep: the file is sections (model, optimizer, data, runconfig) of key: value\n", path, line);
                rc = 2;
            }
            want_key = true;
            break;
        case YAML_MAPPING_END_EVENT:
            depth--;
            want_key = true;
            break;
        case YAML_SEQUENCE_START_EVENT:
            if (depth != 2 || want_key || in_seq) {
                fprintf(stderr, "weft: %s:%d: a list belongs under a key of a section\n", path, line);
                rc = 2;
            }
            in_seq = true;
            break;
        case YAML_SEQUENCE_END_EVENT:
            in_seq = false;
            want_key = true;
            break;
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)e.data.scalar.value;
            if (depth == 1 && want_key) {
                snprintf(section, sizeof section, "%s", v);
                want_key = false;  /* its mapping follows */
            } else if (depth == 1 && (!*v || !strcmp(v, "~") || !strcmp(v, "null"))) {
                want_key = true;  /* an empty section */
            } else if (depth == 1) {
                fprintf(stderr, "weft: %s:%d: section '%s' holds a value; it must hold key: value lines\n", path, line, section);
                rc = 2;
            } else if (depth == 2 && want_key) {
                snprintf(key, sizeof key, "%s", v);
                want_key = false;
            } else if (depth == 2) {
                rc = setting(c, path, keys, section, key, v, line);
                if (!in_seq) want_key = true;
            } else {
                fprintf(stderr, "weft: %s:%d: '%s' outside a section\n", path, line, v);
                rc = 2;
            }
            break;
        }
        case YAML_ALIAS_EVENT:
            fprintf(stderr, "weft: %s:%d: aliases are not read\n", path, line);
            rc = 2;
            break;
        default: break;
        }
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&p);
    fclose(f);
    if (rc) cli_config_free(c);
    return rc;
}
