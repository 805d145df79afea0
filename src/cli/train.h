/* cli: `weft train`. */
#ifndef WEFT_CLI_TRAIN_H
#define WEFT_CLI_TRAIN_H

/* weft train MODEL [options]: argv holds what follows "train". Returns the exit status. */
int weft_cli_train(int argc, char **argv);

#endif
