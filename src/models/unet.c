/* models: builtin:unet, a 2-D UNet (Ronneberger et al. 2015) as brain-segmentation-pytorch's
 * (Buda et al.; the UNet2D of the SambaNova / ALCF examples), with its parameter names:
 *
 *   image (B, in, S, S)                          F = features (32)
 *   enc1 = block(image, F)                       block: (conv 3x3, no bias, BN, ReLU) x 2   (B, F, S, S)
 *   enc2 = block(maxpool2(enc1), 2F)                                                        (B, 2F, S/2, S/2)
 *   enc3 = block(maxpool2(enc2), 4F); enc4 = block(maxpool2(enc3), 8F)
 *   bottleneck = block(maxpool2(enc4), 16F)                                                 (B, 16F, S/16, S/16)
 *   dec4 = block(concat(upconv4(bottleneck), enc4), 8F)   upconv: ConvTranspose 2x2/2 + bias, halves the channels
 *   dec3 = block(concat(upconv3(dec4), enc3), 4F); dec2 ...(2F); dec1 ...(F)                (B, F, S, S)
 *   mask = sigmoid(conv 1x1 (dec1) + bias)                                                  (B, out, S, S)
 *
 * S must be a multiple of 16. BatchNormalization is the inference form (weft_nn_batch_norm).
 * Initialization: PyTorch's defaults. F = 32, in 3, out 1: 7,763,041 parameters.
 */
#include "models/models.h"
#include "models/nn.h"

int64_t weft_unet_param_count(const weft_unet_config *c) {
    const int64_t F = c->features;
    int64_t n = 0, in = c->in;
#define BLOCK(ci, co) (9 * (ci) * (co) + 2 * (co) + 9 * (co) * (co) + 2 * (co))
    for (int l = 0; l < 5; l++) { /* the encoders and the bottleneck */
        n += BLOCK(in, F << l);
        in = F << l;
    }
    for (int l = 3; l >= 0; l--) { /* upconv, decoder */
        n += 4 * (F << (l + 1)) * (F << l) + (F << l);
        n += BLOCK(2 * (F << l), F << l);
    }
#undef BLOCK
    return n + F * c->out + c->out;
}

/* name{1,2}: conv 3x3 (no bias), BN, ReLU, twice: x (B, cin, h, w) -> (B, cout, h, w). Parameter names
 * as brain-segmentation-pytorch's: encoder1.enc1conv1, encoder1.enc1norm1, ... */
static int block(weft_nn *b, const char *module, const char *tag, int x, int64_t cin, int64_t cout) {
    char n[128];
    for (int i = 1; i <= 2; i++) {
        snprintf(n, sizeof n, "%s.%sconv%d", module, tag, i);
        x = weft_nn_conv2d(b, n, x, i == 1 ? cin : cout, cout, 3, 1, 1, false, 0);
        snprintf(n, sizeof n, "%s.%snorm%d", module, tag, i);
        x = weft_nn_batch_norm(b, n, x, cout);
        snprintf(n, sizeof n, "%s.%srelu%d", module, tag, i);
        x = weft_nn_op1(b, "Relu", n, &x, 1, NULL, 0);
    }
    return x;
}

/* ConvTranspose 2x2, stride 2: x (B, cin, h, w) -> (B, cout, 2h, 2w); name.weight (cin, cout, 2, 2),
 * name.bias (cout), PyTorch's default init (fan-in cout * 4, as PyTorch computes it). */
static int upconv(weft_nn *b, const char *name, int x, int64_t cin, int64_t cout) {
    char n[128];
    snprintf(n, sizeof n, "%s.weight", name);
    int w = weft_nn_param(b, n, WEFT_SHAPE(cin, cout, 2, 2), WEFT_NN_INIT_TORCH, 0, cout * 4);
    snprintf(n, sizeof n, "%s.bias", name);
    int bias = weft_nn_param(b, n, WEFT_SHAPE(cout), WEFT_NN_INIT_TORCH, 0, cout * 4);
    static const int64_t two[] = {2, 2};
    weft_attr a[] = {{.name = "kernel_shape", .type = WEFT_ATTR_INTS, .ints = two, .n = 2},
                     {.name = "strides", .type = WEFT_ATTR_INTS, .ints = two, .n = 2}};
    return weft_nn_op1(b, "ConvTranspose", name, (int[]){x, w, bias}, 3, a, 2);
}

weft_status weft_model_unet(const char *name, const weft_unet_config *c, weft_graph **out, weft_err *err) {
    *out = NULL;
    if (c->image % 16)
        return weft_err_set(err, WEFT_ERR_INVALID, "builtin:%s: image %lld is not a multiple of 16 (four 2x2 poolings)", name,
                            (long long)c->image);
    const int64_t F = c->features;
    weft_graph *g = weft_graph_new(name);
    weft_nn b;
    weft_nn_init(&b, g, (uint64_t)c->seed, err);
    weft_nn_shapes_only(&b, c->shapes_only != 0);
    int x = weft_graph_input(g, "image", WEFT_F32, WEFT_SHAPE(c->batch, c->in, c->image, c->image)); /* (B, in, S, S) */
    int enc[4];
    int64_t in = c->in;
    char m[32], t[16], n[64];
    for (int l = 0; l < 4; l++) {
        snprintf(m, sizeof m, "encoder%d", l + 1);
        snprintf(t, sizeof t, "enc%d", l + 1);
        enc[l] = block(&b, m, t, x, in, F << l); /* (B, F 2^l, S / 2^l, S / 2^l) */
        snprintf(n, sizeof n, "pool%d", l + 1);
        x = weft_nn_max_pool(&b, n, enc[l], 2, 2, 0);
        in = F << l;
    }
    x = block(&b, "bottleneck", "bottleneck", x, 8 * F, 16 * F); /* (B, 16F, S/16, S/16) */
    for (int l = 3; l >= 0; l--) {
        snprintf(n, sizeof n, "upconv%d", l + 1);
        x = upconv(&b, n, x, F << (l + 1), F << l); /* (B, F 2^l, S / 2^l, S / 2^l) */
        weft_attr ax = {.name = "axis", .type = WEFT_ATTR_INT, .i = 1};
        snprintf(n, sizeof n, "skip%d", l + 1);
        x = weft_nn_op1(&b, "Concat", n, (int[]){x, enc[l]}, 2, &ax, 1); /* (B, 2 F 2^l, ...) */
        snprintf(m, sizeof m, "decoder%d", l + 1);
        snprintf(t, sizeof t, "dec%d", l + 1);
        x = block(&b, m, t, x, 2 * (F << l), F << l);
    }
    x = weft_nn_conv2d(&b, "conv", x, F, c->out, 1, 1, 0, true, 0); /* (B, out, S, S) */
    x = weft_nn_op1(&b, "Sigmoid", "mask", &x, 1, NULL, 0);
    return weft_nn_finish(&b, g, name, (int[]){x}, 1, out);
}
