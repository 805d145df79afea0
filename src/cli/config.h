/* cli: configuration files like the Model Zoo's params.yaml (`weft train --config params.yaml`).
 *
 *     model:      {name: builtin:gpt:layers=2, batch: 2, precision: fp32}
 *     optimizer:  {name: adamw, lr: 3.0e-3, warmup: 30}
 *     data:       {text: /usr/share/common-licenses}
 *     runconfig:  {arch: wse2-mini, steps: 1000, checkpoint: out/checkpoint}
 *
 * Each section.key maps to one of the command's options (a table, cli_config_key); the settings
 * become "--option=value" arguments placed before the command line's, so a flag given on the
 * command line wins. An unknown section or key is an error naming it, the file and the line. */
#ifndef WEFT_CLI_CONFIG_H
#define WEFT_CLI_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

typedef struct {
    const char *section, *key;
    const char *option;  /* the long option it sets; NULL: the MODEL argument */
    bool flag;           /* true/false: the flag given or not */
} cli_config_key;

#define CLI_CONFIG_MAX 128
typedef struct {
    char *args[CLI_CONFIG_MAX];  /* "--option=value", owned */
    int n;
    char *model;                 /* model.name (NULL: none), owned */
} cli_config;

/* Reads path into c (keys: the table, ending with a NULL section). Returns 0, or 2 with the
 * error printed. */
int cli_config_load(const char *path, const cli_config_key *keys, cli_config *c);
void cli_config_free(cli_config *c);

#endif
