/* models: the MODEL argument: "builtin:..." or an ONNX file. */
#include "models/models.h"
#include "ir/ir.h"

#include <string.h>

weft_status weft_model_load(const char *spec, weft_graph **out, weft_err *err) {
    weft_status s = !strncmp(spec, "builtin:", 8) ? weft_model_builtin(spec + 8, out, err) : weft_onnx_load(spec, NULL, 0, out, err);
    if (s) return s;
    /* the whole model within weft's limits before anything runs it */
    weft_model_size m = weft_graph_size(*out);
    s = weft_model_check_size(&m, spec, err);
    if (s) {
        weft_graph_free(*out);
        *out = NULL;
    }
    return s;
}
