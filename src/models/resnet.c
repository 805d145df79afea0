/* models: builtin:resnet, ResNet-50 (He et al. 2015) as torchvision's resnet50 (v1.5: the stride
 * of a downsampling block on its 3x3 conv), with its parameter names:
 *
 *   image (B, 3, S, S)
 *   x = maxpool3x3/2(relu(bn1(conv1 7x7/2 (x))))            64 channels            (B, 64, S/4, S/4)
 *   layer1..layer4: 3, 4, 6, 3 bottleneck blocks of planes 64, 128, 256, 512 (stride 1, 2, 2, 2):
 *     y = relu(bn1(conv1 1x1 (x)))                          -> planes
 *     y = relu(bn2(conv2 3x3/stride (y)))
 *     y = bn3(conv3 1x1 (y))                                -> 4 planes
 *     x = relu(y + x), x through downsample (1x1/stride conv + bn) in a stage's first block
 *   logits = fc(global_average_pool(x))                     fc (2048, classes) + bias  (B, classes)
 *
 * Convolutions have no bias (each is followed by a BatchNormalization, here the inference form
 * with running mean 0 and variance 1 as constants: weft_nn_batch_norm). Initialization as
 * torchvision's: conv weights N(0, 2 / (cout k k)) (Kaiming, fan-out), BN one / zero, fc
 * PyTorch's default. `width` scales every stage (64: ResNet-50) and `blocks` sets the blocks of
 * every stage (0: 3, 4, 6, 3), for small test models.
 */
#include "models/models.h"
#include "models/nn.h"

#include <math.h>

static const int64_t resnet50_blocks[4] = {3, 4, 6, 3};

static int64_t stage_blocks(const weft_resnet_config *c, int stage) { return c->blocks ? c->blocks : resnet50_blocks[stage]; }

int64_t weft_resnet_param_count(const weft_resnet_config *c) {
    int64_t W = c->width, n = 3 * W * 49 + 2 * W, in = W;
    for (int s = 0; s < 4; s++) {
        int64_t planes = W << s;
        for (int64_t i = 0; i < stage_blocks(c, s); i++) {
            n += in * planes + planes * planes * 9 + planes * 4 * planes + 2 * (planes + planes + 4 * planes);
            if (i == 0) n += in * 4 * planes + 2 * 4 * planes; /* downsample */
            in = 4 * planes;
        }
    }
    return n + in * c->classes + c->classes;
}

/* prefix.conv (no bias) + prefix.bn (BatchNormalization) [+ ReLU]; prefix "" names them alone. */
static int conv_bn(weft_nn *b, const char *prefix, const char *conv, const char *bn, int x, int64_t cin, int64_t cout, int64_t k,
                   int64_t stride, bool relu) {
    char nc[128], nb[128];
    snprintf(nc, sizeof nc, "%s%s%s", prefix, *prefix ? "." : "", conv);
    snprintf(nb, sizeof nb, "%s%s%s", prefix, *prefix ? "." : "", bn);
    float std = sqrtf(2.0f / (float)(cout * k * k));
    int y = weft_nn_conv2d(b, nc, x, cin, cout, k, stride, k / 2, false, std);
    y = weft_nn_batch_norm(b, nb, y, cout);
    if (!relu) return y;
    char n[160];
    snprintf(n, sizeof n, "%s.relu", nb);
    return weft_nn_op1(b, "Relu", n, &y, 1, NULL, 0);
}

weft_status weft_model_resnet(const char *name, const weft_resnet_config *c, weft_graph **out, weft_err *err) {
    *out = NULL;
    weft_graph *g = weft_graph_new(name);
    weft_nn b;
    weft_nn_init(&b, g, (uint64_t)c->seed, err);
    weft_nn_shapes_only(&b, c->shapes_only != 0);
    const int64_t W = c->width;
    int image = weft_graph_input(g, "image", WEFT_F32, WEFT_SHAPE(c->batch, 3, c->image, c->image)); /* (B, 3, S, S) */
    int x = conv_bn(&b, "", "conv1", "bn1", image, 3, W, 7, 2, true); /* (B, W, S/2, S/2) */
    x = weft_nn_max_pool(&b, "maxpool", x, 3, 2, 1);               /* (B, W, S/4, S/4) */
    int64_t in = W;
    for (int s = 0; s < 4 && !b.status; s++) {
        int64_t planes = W << s;
        for (int64_t i = 0; i < stage_blocks(c, s) && !b.status; i++) {
            char p[64], n1[96];
            snprintf(p, sizeof p, "layer%d.%lld", s + 1, (long long)i);
            int64_t stride = i == 0 && s > 0 ? 2 : 1;
            int y = conv_bn(&b, p, "conv1", "bn1", x, in, planes, 1, 1, true);       /* (B, planes, h, w) */
            y = conv_bn(&b, p, "conv2", "bn2", y, planes, planes, 3, stride, true);  /* (B, planes, h', w') */
            y = conv_bn(&b, p, "conv3", "bn3", y, planes, 4 * planes, 1, 1, false);  /* (B, 4 planes, h', w') */
            int skip = i == 0 ? conv_bn(&b, p, "downsample.0", "downsample.1", x, in, 4 * planes, 1, stride, false) : x;
            snprintf(n1, sizeof n1, "%s.residual", p);
            y = weft_nn_op2(&b, "Add", n1, y, skip);
            snprintf(n1, sizeof n1, "%s.relu", p);
            x = weft_nn_op1(&b, "Relu", n1, &y, 1, NULL, 0);
            in = 4 * planes;
        }
    }
    x = weft_nn_op1(&b, "GlobalAveragePool", "avgpool", &x, 1, NULL, 0); /* (B, 32 W, 1, 1) */
    x = weft_nn_reshape(&b, "flatten", x, WEFT_SHAPE(c->batch, in));    /* (B, 32 W) */
    int logits = weft_nn_linear(&b, "fc", x, in, c->classes, WEFT_NN_INIT_TORCH, 0); /* (B, classes) */
    return weft_nn_finish(&b, g, name, (int[]){logits}, 1, out);
}
