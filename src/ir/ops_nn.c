/* ir: nn ops. */
#include "ir/ir.h"

const weft_op_def weft_ops_nn[] = {
    {0},
};
