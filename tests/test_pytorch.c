/* PyTorch as the second oracle: tests/pytorch/export.sh (run by scripts/run-tests.sh before this
 * runner) exports an MLP, a CNN with batch norm and pooling, and a two-block GPT with
 * torch.onnx.export into $WEFT_BUILDDIR/pytorch-cases, with PyTorch's outputs beside them; here
 * weft's reference executor runs each and must agree within rtol 1e-4, atol 1e-5
 * (|weft - torch| <= atol + rtol * |torch|, element by element). */
#include "onnx/onnx_test.h"
#include "test.h"

#include <string.h>
#include <sys/stat.h>

static const weft_onnx_tol pytorch_tol = {1e-4, 1e-5};

static void run_case(const char *name) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/pytorch-cases/%s", weft_test_builddir(), name);
    struct stat st;
    if (stat(dir, &st)) {
        weft_test_fail(__FILE__, __LINE__, "%s is missing: run tests/pytorch/export.sh %s/pytorch-cases (needs Debian's python3-torch, python3-onnx)",
                       dir, weft_test_builddir());
        return;
    }
    char msg[1200];
    weft_onnx_result r = weft_onnx_test_case(dir, &pytorch_tol, msg, sizeof msg);
    printf("    %s: %s: %s\n", name, r == WEFT_ONNX_PASS ? "PASS" : r == WEFT_ONNX_FAIL ? "FAIL" : "UNSUPPORTED", msg);
    if (r != WEFT_ONNX_PASS) weft_test_fail(__FILE__, __LINE__, "%s does not match PyTorch: %s", name, msg);
}

TEST(pytorch_mlp) { run_case("pytorch_mlp"); }
TEST(pytorch_cnn_batchnorm_pooling) { run_case("pytorch_cnn"); }
TEST(pytorch_gpt_two_blocks) { run_case("pytorch_gpt"); }
