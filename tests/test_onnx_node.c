/* ONNX's own backend tests (Debian's libonnx-testdata: the node cases, and the pytorch-converted,
 * pytorch-operator and simple models) on the reference executor. The cases listed in
 * tests/onnx_node_pass.txt (paths below the data folder) must pass; a regression fails the suite. */
#include "onnx/onnx_test.h"
#include "test.h"

#include <string.h>

#define DATA_DIR "/usr/share/libonnx-testdata/data"

TEST(onnx_node_cases_pass) {
    char list[4096];
    snprintf(list, sizeof list, "%s/tests/onnx_node_pass.txt", weft_test_srcdir());
    FILE *f = fopen(list, "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[512];
    int n = 0, ok = 0;
    weft_onnx_tol tol = WEFT_ONNX_TOL_DEFAULT;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char dir[4096], msg[1200];
        snprintf(dir, sizeof dir, "%s/%s", DATA_DIR, line);
        n++;
        weft_onnx_result r = weft_onnx_test_case(dir, &tol, msg, sizeof msg);
        if (r == WEFT_ONNX_PASS) ok++;
        else weft_test_fail(__FILE__, __LINE__, "%s: %s", line, msg);
    }
    fclose(f);
    CHECK_INT(ok, n);
    CHECK(n >= 400);  /* the bar the foundations set */
}
