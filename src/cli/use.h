/* cli: `weft eval` and `weft generate`, a trained model put to use (use.c). */
#ifndef WEFT_CLI_USE_H
#define WEFT_CLI_USE_H

#include <stddef.h>
/* argv[0] is the command's name. Return the exit status. */
int weft_cli_eval(int argc, char **argv);
int weft_cli_generate(int argc, char **argv);
/* A checkpoint argument: a file, or the folder weft train --checkpoint wrote (its checkpoint.weft). */
void weft_cli_checkpoint_path(const char *ck, char *path, size_t n);
#endif
