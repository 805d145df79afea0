/* A two-layer perceptron built with weft's C graph API, run on the reference executor, compiled
 * onto a simulated 8 x 8 mesh of WSE-2 PEs, run there, and compared.
 *
 *     make examples && build/examples/tiny_mlp
 */
#include "weft.h"

#include <math.h>
#include <stdio.h>

#define B 4    /* batch */
#define D 16   /* inputs */
#define H 32   /* hidden */
#define C 3    /* classes */

static int fail(const weft_err *err) {
    fprintf(stderr, "tiny_mlp: %s\n", err->msg);
    return 1;
}

int main(void) {
    weft_err err = {0};
    static float w1[D * H], b1[H], w2[H * C], b2[C], x[B * D];
    for (int i = 0; i < D * H; i++) w1[i] = sinf((float)i) * 0.3f;
    for (int i = 0; i < H * C; i++) w2[i] = cosf((float)i) * 0.3f;
    for (int i = 0; i < B * D; i++) x[i] = (float)(i % 7) - 3.0f;

    weft_graph *g = weft_graph_new("tiny_mlp");
    int in = weft_graph_input(g, "x", WEFT_F32, WEFT_SHAPE(B, D));                 /* (B, D) */
    int W1 = weft_graph_param(g, "fc1.weight", WEFT_F32, WEFT_SHAPE(D, H), w1);    /* (D, H) */
    int B1 = weft_graph_param(g, "fc1.bias", WEFT_F32, WEFT_SHAPE(H), b1);         /* (H) */
    int W2 = weft_graph_param(g, "fc2.weight", WEFT_F32, WEFT_SHAPE(H, C), w2);    /* (H, C) */
    int B2 = weft_graph_param(g, "fc2.bias", WEFT_F32, WEFT_SHAPE(C), b2);         /* (C) */
    int h, a, y;
    if (weft_graph_node(g, "Gemm", "fc1", (int[]){in, W1, B1}, 3, NULL, 0, &h, 1, &err) ||
        weft_graph_node(g, "Relu", "act", &h, 1, NULL, 0, &a, 1, &err) ||
        weft_graph_node(g, "Gemm", "fc2", (int[]){a, W2, B2}, 3, NULL, 0, &y, 1, &err))
        return fail(&err);
    weft_graph_output(g, y);

    weft_tensor input = {WEFT_F32, WEFT_SHAPE(B, D), x, 0}, ref = {0}, fab = {0};
    const weft_tensor *inputs[] = {&input};
    if (weft_ref_run(g, inputs, 1, &ref, 1, &err)) return fail(&err);

    weft_arch *mesh;
    weft_program *p;
    weft_sim_opts o = {0};
    weft_sim_stats st;
    if (weft_arch_open("mesh-8x8", &mesh, &err) || weft_program_compile(g, mesh, &p, &err) ||
        weft_program_run(p, inputs, 1, &fab, 1, &o, &st, &err))
        return fail(&err);

    double worst = 0;
    for (int i = 0; i < B * C; i++) worst = fmax(worst, fabs(((float *)ref.data)[i] - ((float *)fab.data)[i]));
    printf("logits[0] = %.5f %.5f %.5f\n", ((float *)fab.data)[0], ((float *)fab.data)[1], ((float *)fab.data)[2]);
    printf("fabric vs reference: worst |diff| %.3g\n", worst);
    printf("simulated: %llu cycles, %.3g us, %lld tiles, PE utilization %.2f%%\n", (unsigned long long)st.cycles,
           st.seconds * 1e6, (long long)st.tiles_used, 100 * st.pe_utilization);
    weft_tensor_free(&ref);
    weft_tensor_free(&fab);
    weft_program_free(p);
    weft_arch_close(mesh);
    weft_graph_free(g);
    return worst <= 1e-4 ? 0 : 1;
}
