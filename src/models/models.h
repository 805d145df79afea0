/* models: built-in models written with the graph API, and the MODEL argument of the CLI.
 *
 *   builtin:mlp[:batch=4,in=784,hidden=256,out=10,layers=2]
 *   builtin:gpt[:layers=2,dim=128,heads=4,vocab=256,seq=64,batch=1,positions=0]
 *   builtin:gpt2, builtin:gpt2-medium, builtin:gpt2-large, builtin:gpt2-xl: GPT-2's four sizes
 *       (12/768/12, 24/1024/16, 36/1280/20, 48/1600/25 layers/dim/heads, vocab 50257, 1024
 *       positions, seq 1024 unless seq=N), with the same keys as builtin:gpt
 *   builtin:weather-cnn[:size=large,lat=32,lon=64,vars=4,hidden=32,blocks=2,batch=1]
 *   builtin:bert[:size=base|large,seq=128,nsp=0,...]       BERT with its MLM (and NSP) heads
 *   builtin:llama[:size=llama2-7b|llama3-8b,kv_heads=...]  LLaMA (RMSNorm, SwiGLU, rotary, GQA)
 *   builtin:gptj[:seq=2048,...]                             GPT-J 6B (parallel blocks, partial rotary)
 *   builtin:resnet[:image=224,classes=1000,...]             ResNet-50
 *   builtin:unet[:image=256,features=32,...]                2-D UNet for segmentation
 *
 * `size=NAME` sets a published configuration's keys first; the other keys given then override
 * them (builtin:llama:size=llama3-8b,layers=2 is LLaMA 3 8B cut to two layers).
 *
 * Every model also takes seed=N (default 1): parameters are initialized deterministically from
 * it; and shapes_only=1: parameters are left zero (their pages never touched), for compiling and
 * timing-only runs, which need shapes only. Bad specs fail with WEFT_ERR_INVALID and a message naming the key. `weft models` prints
 * the list (weft_model_list). Builders: mlp.c, gpt.c, weather.c, bert.c, llama.c, gptj.c,
 * resnet.c, unet.c; graph helpers: nn.h. */
#ifndef WEFT_MODELS_H
#define WEFT_MODELS_H

#include "core/core.h"

/* Builds the model named by spec ("builtin:..." or a path to an .onnx file). */
weft_status weft_model_load(const char *spec, weft_graph **out, weft_err *err);
/* The same with shapes only (a built-in's parameters left zero: shapes_only=1; an ONNX file
 * loads as usual): for compiling and timing-only runs. */
weft_status weft_model_load_shapes(const char *spec, weft_graph **out, weft_err *err);
/* A built-in's spec with key=value set (replaced where it is given, else added) into out (n
 * bytes); an ONNX file's batch as "PATH#batch=N" (its inputs' leading dimension, which
 * weft_model_load reads). Fails naming the spec for another key of an ONNX file. */
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

/* builtin:bert: BERT (Devlin et al. 2018) for pre-training. tokens int64 (batch, seq) -> MLM
 * logits f32 (batch, seq, vocab); with nsp=1 a second output, the NSP logits (batch, 2) (training
 * takes one output: nsp=0, the default, leaves the pooler and NSP classifier out). */
typedef struct { int64_t batch, seq, layers, dim, heads, ff, vocab, positions, nsp, seed, shapes_only; } weft_bert_config;
weft_status weft_model_bert(const char *name, const weft_bert_config *c, weft_graph **out, weft_err *err);
/* Parameters of a BERT configuration, by formula, with the pooler and NSP head when `nsp`
 * (BertForPreTraining's count; the token-type table has 2 rows). */
int64_t weft_bert_param_count(const weft_bert_config *c, bool nsp);

/* builtin:llama: LLaMA (Touvron et al. 2023) and its grouped-query successors. tokens int64
 * (batch, seq) -> logits f32 (batch, seq, vocab). `theta` is the rotary base. */
typedef struct { int64_t batch, seq, layers, dim, heads, kv_heads, ff, vocab, theta, seed, shapes_only; } weft_llama_config;
weft_status weft_model_llama(const char *name, const weft_llama_config *c, weft_graph **out, weft_err *err);
int64_t weft_llama_param_count(const weft_llama_config *c);

/* builtin:gptj: GPT-J (Wang and Komatsuzaki 2021). tokens int64 (batch, seq) -> logits f32
 * (batch, seq, vocab). `rotary` is the rotated dims of each head. */
typedef struct { int64_t batch, seq, layers, dim, heads, rotary, ff, vocab, seed, shapes_only; } weft_gptj_config;
weft_status weft_model_gptj(const char *name, const weft_gptj_config *c, weft_graph **out, weft_err *err);
int64_t weft_gptj_param_count(const weft_gptj_config *c);

/* builtin:resnet: ResNet-50 (He et al. 2015, torchvision's v1.5). image f32 (batch, 3, image,
 * image) -> logits (batch, classes). `width` is the stem's channels (64), `blocks` the
 * bottleneck blocks per stage (0: ResNet-50's 3, 4, 6, 3). */
typedef struct { int64_t batch, image, classes, width, blocks, seed, shapes_only; } weft_resnet_config;
weft_status weft_model_resnet(const char *name, const weft_resnet_config *c, weft_graph **out, weft_err *err);
int64_t weft_resnet_param_count(const weft_resnet_config *c);

/* builtin:unet: a 2-D UNet (Ronneberger et al. 2015, as brain-segmentation-pytorch's). image f32
 * (batch, in, image, image) -> mask probabilities (batch, out, image, image). */
typedef struct { int64_t batch, image, in, out, features, seed, shapes_only; } weft_unet_config;
weft_status weft_model_unet(const char *name, const weft_unet_config *c, weft_graph **out, weft_err *err);
int64_t weft_unet_param_count(const weft_unet_config *c);

#endif
