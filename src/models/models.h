/* models: built-in models written with the graph API, and the MODEL argument of the CLI.
 *
 *   builtin:mlp[:batch=4,in=784,hidden=256,out=10,layers=2]
 *   builtin:gpt[:layers=2,dim=128,heads=4,vocab=256,seq=64,batch=1]  (also builtin:gpt2,
 *       builtin:gpt2-medium, builtin:gpt2-large, builtin:gpt2-xl, with the same overrides)
 *   builtin:weather-cnn[:lat=32,lon=64,vars=4,hidden=32,blocks=2,batch=1]
 *
 * Parameters are initialized deterministically from `seed` (key seed=N). */
#ifndef WEFT_MODELS_H
#define WEFT_MODELS_H

#include "core/core.h"

/* Builds the model named by spec ("builtin:..." or a path to an .onnx file). */
weft_status weft_model_load(const char *spec, weft_graph **out, weft_err *err);
/* Builds a built-in model from "name[:key=value,...]" (without the "builtin:" prefix). */
weft_status weft_model_builtin(const char *spec, weft_graph **out, weft_err *err);
/* Prints the list of built-ins and their keys. */
void weft_model_list(FILE *f);

#endif
