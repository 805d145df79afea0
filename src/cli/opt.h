/* cli: the one option parser of every weft command, over getopt_long.
 *
 * A command is a table: its options (name, kind, where the value goes, its range, a line of help)
 * and how many positional arguments it takes. cli_parse gives every command the same
 * conventions: `--opt value` and `--opt=value`, options and arguments in any order, `--` ends
 * the options, `--help` (and -h) prints the command's help built from the table and does nothing
 * else, unknown options, missing values, extra arguments and numbers out of range are refused
 * naming the option and the value.
 *
 *     long long steps = -1;
 *     static const cli_opt opts[] = {
 *         {"steps", 0, CLI_INT, &steps, "N", "train until step N", 0, 1LL << 40},
 *         {0}};
 *     cli_command c = {"train", "MODEL", "train MODEL ...", opts, 1, 1};
 *     const char *pos[1];
 *     int n, rc = cli_parse(&c, argc, argv, pos, &n);   // argv[0] is "train"
 *     if (rc) return rc == CLI_HELP ? 0 : rc;
 */
#ifndef WEFT_CLI_OPT_H
#define WEFT_CLI_OPT_H

#include <stdbool.h>
#include <stdio.h>

#include "cli/config.h"

typedef enum {
    CLI_FLAG,    /* bool *: set when given */
    CLI_STR,     /* const char **: the value (points into argv) */
    CLI_INT,     /* long long *: an integer in [min, max] */
    CLI_NUM,     /* double *: a finite number in [min, max] */
    CLI_CHOICE,  /* const char **: one of the comma-separated `choices` */
    CLI_LIST,    /* cli_list *: every occurrence's value, in order (--input A=a.npy --input B=b.npy) */
} cli_kind;

#define CLI_LIST_MAX 64
typedef struct { const char *v[CLI_LIST_MAX]; int n; } cli_list;

typedef struct {
    const char *name;     /* the long name, without "--" */
    int short_name;       /* a one-letter alias ('o' for -o), or 0 */
    cli_kind kind;
    void *dst;
    const char *arg;      /* the value's name in the help ("N", "FILE"); NULL for flags */
    const char *help;     /* one or more lines (wrapped at '\n') */
    double min, max;      /* CLI_INT and CLI_NUM: the accepted range */
    const char *choices;  /* CLI_CHOICE: "fp32,bf16,fp16" */
    bool *given;          /* optional: set when the option is given */
} cli_opt;

typedef struct {
    const char *name;     /* "run" (as in `weft run`) */
    const char *args;     /* the positional arguments' names in the synopsis: "MODEL" */
    const char *about;    /* what the command does, a paragraph ('\n' breaks lines) */
    const cli_opt *opts;  /* ends with an entry whose name is NULL */
    int min_args, max_args;
    const cli_config_key *config; /* with --config FILE: its keys (NULL: no --config) */
    cli_config *config_store;     /* where the file's settings live while the values are used */
} cli_command;

#define CLI_HELP (-1)

/* Option tables give the fields an option uses and leave the rest zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* Parses argv (argv[0]: the command's name, as getopt expects) into the options' dst; the
 * positional arguments into pos[0..*n_pos) (pos holds max_args). With c->config, `--config FILE`
 * reads FILE's settings first (config.h) and model.name stands for a missing first argument; the
 * caller frees c->config_store with cli_config_free. Returns 0; CLI_HELP when --help printed the
 * help to stdout (the caller exits 0); or 2 with the error printed to stderr. */
int cli_parse(const cli_command *c, int argc, char **argv, const char **pos, int *n_pos);
void cli_help(const cli_command *c, FILE *f);

#endif
