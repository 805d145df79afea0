/* models: the MODEL argument: "builtin:..." or an ONNX file. */
#include "models/models.h"

#include <string.h>

weft_status weft_model_load(const char *spec, weft_graph **out, weft_err *err) {
    if (!strncmp(spec, "builtin:", 8)) return weft_model_builtin(spec + 8, out, err);
    return weft_onnx_load(spec, NULL, 0, out, err);
}
