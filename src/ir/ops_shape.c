/* ir: shape ops. */
#include "ir/ir.h"

const weft_op_def weft_ops_shape[] = {
    {0},
};
