/* cli: `weft sweep`. */
#ifndef WEFT_CLI_SWEEP_H
#define WEFT_CLI_SWEEP_H

/* weft sweep MODEL --arch A,B [--batch N,M] [options]: argv holds what follows "sweep". Returns
 * the exit status. */
int weft_cli_sweep(int argc, char **argv);

#endif
