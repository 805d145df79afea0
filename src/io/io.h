/* io: weft's binary files. Every file starts with an 8-byte magic and a version, and ends with a
 * 64-bit checksum (FNV-1a) of everything before it; a file is written to a temporary name,
 * flushed to disk (fsync) and renamed into place, so a crash mid-write leaves the old file whole.
 *
 *   weft_graph_save / weft_graph_load   a graph with its parameters and constants ("WEFTGRPH")
 *   weft_program_save / weft_program_load
 *                                       a compiled program ("WEFTPROG"): the machine, the graph
 *                                       and the program's data (kernels with their regions and
 *                                       grids, lanes with their channels, phases); loading lowers
 *                                       the graph again for its constants and weights, checks the
 *                                       data against it and the machine, and does not place or
 *                                       route again.
 *
 * Also NumPy's .npy (npy.c), for inputs, outputs and training data.
 */
#ifndef WEFT_IO_H
#define WEFT_IO_H

#include "compile/compile.h"

/* A growable byte buffer with typed writers, and a bounded reader whose every read is checked. */
typedef struct { uint8_t *data; size_t len, cap; bool failed; } weft_buf; /* failed: an allocation failed (sticky) */
typedef struct { const uint8_t *data; size_t len, pos; bool bad, nomem; } weft_reader; /* nomem: a read failed to allocate */

void weft_buf_bytes(weft_buf *b, const void *p, size_t n);
void weft_buf_u64(weft_buf *b, uint64_t v);
void weft_buf_str(weft_buf *b, const char *s);
void weft_buf_free(weft_buf *b);
bool weft_read_bytes(weft_reader *r, void *p, size_t n);
uint64_t weft_read_u64(weft_reader *r);
/* A string of at most max bytes, newly allocated (NULL on error). */
char *weft_read_str(weft_reader *r, size_t max);

uint64_t weft_fnv64(const void *p, size_t n);

#define WEFT_GRAPH_FILE_VERSION 1
#define WEFT_PROGRAM_FILE_VERSION 2  /* 2: the program's data (kernels, lanes, phases), not recompiled on load */

/* Writes magic, version, body and checksum to path atomically. */
weft_status weft_file_write(const char *path, const char magic[8], uint32_t version, const weft_buf *body, weft_err *err);
/* Writes n bytes to path atomically (a temporary beside it, renamed into place). */
weft_status weft_file_write_raw(const char *path, const void *data, size_t n, weft_err *err);
/* Reads path, checks magic, version and checksum; body points into *file (caller frees *file). */
weft_status weft_file_read(const char *path, const char magic[8], uint32_t version, uint8_t **file, weft_reader *body,
                           weft_err *err);

/* NumPy .npy files (npy.c): read into a newly allocated tensor (caller frees), checked against
 * the file's size; written atomically (bfloat16 as fp32, which NumPy has). */
weft_status weft_npy_read(const char *path, weft_tensor *out, weft_err *err);
weft_status weft_npy_write(const char *path, const weft_tensor *t, weft_err *err);

/* The graph's parameters as a safetensors file (safetensors.c), by their names (an ONNX model's
 * initializer names: a PyTorch state_dict's keys); metadata_json: a JSON object of strings, or NULL. */
weft_status weft_safetensors_write(const char *path, const weft_graph *g, const char *metadata_json, weft_err *err);

void weft_graph_serialize(const weft_graph *g, weft_buf *b);
/* Rebuilds a graph through the graph API (so it is inferred and verified like any other). */
weft_status weft_graph_deserialize(weft_reader *r, const char *where, weft_graph **out, weft_err *err);
weft_status weft_graph_save(const weft_graph *g, const char *path, weft_err *err);
weft_status weft_graph_load(const char *path, weft_graph **out, weft_err *err);

weft_status weft_program_save(const weft_program *p, const char *path, weft_err *err);
/* Loads a program file: the graph (returned in *g, owned by the caller, outliving the program),
 * the machine, and the program from its stored data (weft_program_adopt). */
weft_status weft_program_load(const char *path, weft_graph **g, weft_program **out, weft_err *err);

#endif
