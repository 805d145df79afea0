/* cli: `weft eval` and `weft generate`, a trained model put to use (use.c). */
#ifndef WEFT_CLI_USE_H
#define WEFT_CLI_USE_H
/* argv[0] is the command's name. Return the exit status. */
int weft_cli_eval(int argc, char **argv);
int weft_cli_generate(int argc, char **argv);
#endif
