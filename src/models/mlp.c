/* models: builtin:mlp, a multi-layer perceptron.
 *
 *   x (batch, in) -> fc0 -> ReLU -> fc1 -> ReLU -> ... -> fc{layers-1} -> y (batch, out)
 *
 * fc0 is (in, hidden) (or (in, out) when layers is 1), the middle ones (hidden, hidden), the last
 * (hidden, out). Weights and biases take PyTorch's nn.Linear default, U(-1/sqrt(fan_in), +).
 */
#include "models/models.h"
#include "models/nn.h"

weft_status weft_model_mlp(const char *name, const weft_mlp_config *c, weft_graph **out, weft_err *err) {
    *out = NULL;
    weft_graph *g = weft_graph_new(name);
    weft_nn b;
    weft_nn_init(&b, g, (uint64_t)c->seed, err);
    weft_nn_shapes_only(&b, c->shapes_only != 0);
    int x = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(c->batch, c->in)); /* (batch, in) */
    int64_t width = c->in;
    for (int64_t l = 0; l < c->layers && !b.status; l++) {
        bool last = l == c->layers - 1;
        int64_t next = last ? c->out : c->hidden;
        char n[64];
        snprintf(n, sizeof n, "fc%lld", (long long)l);
        x = weft_nn_linear(&b, n, x, width, next, WEFT_NN_INIT_TORCH, 0); /* (batch, next) */
        if (!last) {
            snprintf(n, sizeof n, "fc%lld.relu", (long long)l);
            x = weft_nn_op1(&b, "Relu", n, &x, 1, NULL, 0);
        }
        width = next;
    }
    return weft_nn_finish(&b, g, name, (int[]){x}, 1, out);
}
