/* models: built-in models. */
#include "models/models.h"

weft_status weft_model_builtin(const char *spec, weft_graph **out, weft_err *err) {
    *out = NULL;
    return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: unknown built-in model (see `weft models`)", spec);
}

void weft_model_list(FILE *f) { fprintf(f, "(none yet)\n"); }
