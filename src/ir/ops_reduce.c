/* ir: reduce ops. */
#include "ir/ir.h"

const weft_op_def weft_ops_reduce[] = {
    {0},
};
