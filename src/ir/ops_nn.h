/* ir: what the nn family of ops exports beyond its table rows. */
#ifndef WEFT_OPS_NN_H
#define WEFT_OPS_NN_H

#include "ir/ir.h"
#include "kernels/nn.h"

/* The window of Conv node n (its attributes and shapes, auto_pad resolved) and its group count,
 * for the compiler's convolution regions. */
weft_status weft_conv_window(const weft_graph *g, const weft_node *n, weft_window *w, int64_t *group, weft_err *err);

#endif
