/* grad: mixed precision (precision.c). */
#ifndef WEFT_PRECISION_H
#define WEFT_PRECISION_H

#include "ir/ir.h"

/* A copy of src whose floating constants and activations are stored in dt (bf16 or fp16);
 * floating parameters stay fp32 master weights and floating inputs stay as fed, both read through
 * a Cast to dt. Outputs are dt. */
weft_status weft_precision_cast(const weft_graph *src, weft_dtype dt, weft_graph **out, weft_err *err);

#endif
