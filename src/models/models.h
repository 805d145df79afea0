/* models: built-in models written with the graph API, and the MODEL argument of the CLI.
 *
 *   builtin:mlp[:batch=4,in=784,hidden=256,out=10,layers=2]
 *   builtin:gpt[:layers=2,dim=128,heads=4,vocab=256,seq=64,batch=1,positions=0]
 *   builtin:gpt2, builtin:gpt2-medium, builtin:gpt2-large, builtin:gpt2-xl: GPT-2's four sizes
 *       (12/768/12, 24/1024/16, 36/1280/20, 48/1600/25 layers/dim/heads, vocab 50257, 1024
 *       positions, seq 1024 unless seq=N), with the same keys as builtin:gpt
 *   builtin:weather-cnn[:lat=32,lon=64,vars=4,hidden=32,blocks=2,batch=1]
 *
 * Every model also takes seed=N (default 1): parameters are initialized deterministically from
 * it; and shapes_only=1: parameters are left zero (their pages never touched), for compiling and
 * timing-only runs, which need shapes only. Bad specs fail with WEFT_ERR_INVALID and a message naming the key. `weft models` prints
 * the list (weft_model_list). Builders: mlp.c, gpt.c, weather.c; graph helpers: nn.h. */
#ifndef WEFT_MODELS_H
#define WEFT_MODELS_H

#include "core/core.h"

/* Builds the model named by spec ("builtin:..." or a path to an .onnx file). */
weft_status weft_model_load(const char *spec, weft_graph **out, weft_err *err);
/* The same with shapes only (a built-in's parameters left zero: shapes_only=1; an ONNX file
 * loads as usual): for compiling and timing-only runs. */
weft_status weft_model_load_shapes(const char *spec, weft_graph **out, weft_err *err);
/* A built-in's spec with key=value set (replaced where it is given, else added) into out (n
 * bytes). Fails naming the spec for an ONNX file or a spec too long. */
weft_status weft_model_spec_set(const char *spec, const char *key, long long value, char *out, size_t n, weft_err *err);
/* Builds a built-in model from "name[:key=value,...]" (without the "builtin:" prefix). */
weft_status weft_model_builtin(const char *spec, weft_graph **out, weft_err *err);
/* Prints the list of built-ins and their keys. */
void weft_model_list(FILE *f);

/* ---- the built-ins, one file each; the config of each is what its keys set ---- */

/* builtin:mlp: x (batch, in) -> `layers` Linear layers (ReLU between) -> (batch, out). */
typedef struct { int64_t batch, in, hidden, out, layers, seed, shapes_only; } weft_mlp_config;
weft_status weft_model_mlp(const char *name, const weft_mlp_config *c, weft_graph **out, weft_err *err);

/* builtin:gpt, builtin:gpt2*: GPT-2. tokens int64 (batch, seq) -> logits f32 (batch, seq, vocab).
 * `positions` is the size of the position table (1024 for the gpt2 presets, seq by default). */
typedef struct { int64_t batch, seq, layers, dim, heads, vocab, positions, seed, shapes_only; } weft_gpt_config;
weft_status weft_model_gpt(const char *name, const weft_gpt_config *c, weft_graph **out, weft_err *err);
/* Parameters of a GPT-2 configuration, by formula (what the built graph holds). */
int64_t weft_gpt_param_count(const weft_gpt_config *c);

/* builtin:weather-cnn: state f32 (batch, vars, lat, lon) -> next state, same shape. */
typedef struct { int64_t batch, lat, lon, vars, hidden, blocks, seed, shapes_only; } weft_weather_config;
weft_status weft_model_weather(const char *name, const weft_weather_config *c, weft_graph **out, weft_err *err);

#endif
