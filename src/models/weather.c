/* models: builtin:weather-cnn, a convolutional encoder-processor-decoder that steps an
 * atmospheric state on a regular lat-lon grid forward in time.
 *
 *   state (B, V, LAT, LON)                   V variables (temperature, wind, ...) per grid point
 *   h = ReLU(enc(state))                     3x3 conv V -> hidden                 (B, hidden, LAT, LON)
 *   for each block i:                        residual blocks
 *     h = ReLU(h + proc.i.conv2(ReLU(proc.i.conv1(h))))
 *   next = state + dec(h)                    3x3 conv hidden -> V: the model predicts the change
 *
 * size=large (hidden 2048, 13 blocks: 0.98 B parameters, builtin.c) is a foundation-model-sized
 * case, for timing-only runs.
 *
 * Every conv pads longitude by wrapping around (the grid is periodic east-west: the column
 * west of 0 degrees is the last one) and latitude with zeros (the poles have no neighbour).
 * The wrap is Slice + Concat, as ONNX opsets before 19 have no Pad mode "wrap". Weights take
 * PyTorch's Conv2d default; the decoder's are scaled by 0.1 so that an untrained model stays
 * close to persistence (next = state).
 */
#include "models/models.h"
#include "models/nn.h"

weft_status weft_model_weather(const char *name, const weft_weather_config *c, weft_graph **out, weft_err *err) {
    *out = NULL;
    weft_graph *g = weft_graph_new(name);
    weft_nn b;
    weft_nn_init(&b, g, (uint64_t)c->seed, err);
    weft_nn_shapes_only(&b, c->shapes_only != 0);
    const int64_t V = c->vars, Hd = c->hidden, k = 3;
    int state = weft_graph_input(g, "state", WEFT_F32, WEFT_SHAPE(c->batch, V, c->lat, c->lon)); /* (B, V, LAT, LON) */
    int h = weft_nn_conv(&b, "enc", state, V, Hd, k, true, 1.0f); /* (B, hidden, LAT, LON) */
    h = weft_nn_op1(&b, "Relu", "enc.relu", &h, 1, NULL, 0);
    for (int64_t i = 0; i < c->blocks && !b.status; i++) {
        char n[64];
        snprintf(n, sizeof n, "proc.%lld.conv1", (long long)i);
        int r = weft_nn_conv(&b, n, h, Hd, Hd, k, true, 1.0f);
        snprintf(n, sizeof n, "proc.%lld.relu1", (long long)i);
        r = weft_nn_op1(&b, "Relu", n, &r, 1, NULL, 0);
        snprintf(n, sizeof n, "proc.%lld.conv2", (long long)i);
        r = weft_nn_conv(&b, n, r, Hd, Hd, k, true, 1.0f);
        snprintf(n, sizeof n, "proc.%lld.residual", (long long)i);
        h = weft_nn_op2(&b, "Add", n, h, r);
        snprintf(n, sizeof n, "proc.%lld.relu2", (long long)i);
        h = weft_nn_op1(&b, "Relu", n, &h, 1, NULL, 0);
    }
    int d = weft_nn_conv(&b, "dec", h, Hd, V, k, true, 0.1f); /* (B, V, LAT, LON) */
    int next = weft_nn_op2(&b, "Add", "next_state", state, d);
    return weft_nn_finish(&b, g, name, (int[]){next}, 1, out);
}
