/* ONNX's own backend tests (Debian's libonnx-testdata: the node cases, and the pytorch-converted,
 * pytorch-operator and simple models) on the reference executor. The cases listed in
 * tests/onnx_node_pass.txt (paths below the data folder) must pass; a regression fails the suite. */
#include "arch/arch.h"
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

/* The same cases on the fabric (ggml's test-backend-ops habit): every case that passes on the
 * reference passes compiled for mesh-32x32 and simulated, or is listed with its reason in
 * tests/onnx_fabric_skip.txt ("case<TAB>reason"). A listed case that passes fails the test too,
 * so the list cannot go stale. */
TEST(onnx_node_cases_pass_on_the_fabric) {
    char list[4096], skip_path[4096];
    snprintf(list, sizeof list, "%s/tests/onnx_node_pass.txt", weft_test_srcdir());
    snprintf(skip_path, sizeof skip_path, "%s/tests/onnx_fabric_skip.txt", weft_test_srcdir());
    FILE *f = fopen(list, "r"), *sf = fopen(skip_path, "r");
    CHECK(f != NULL && sf != NULL);
    if (!f || !sf) { if (f) fclose(f); if (sf) fclose(sf); return; }
    static char skips[1024][1024];
    int n_skip = 0;
    char line[1024];
    while (fgets(line, sizeof line, sf) && n_skip < 1024) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *tab = strchr(line, '\t');
        CHECK(tab != NULL && tab[1]);  /* every skip gives its reason */
        if (tab) *tab = 0;
        snprintf(skips[n_skip++], sizeof skips[0], "%s", line);
    }
    fclose(sf);
    weft_arch arch;
    weft_err err = {0};
    CHECK_OK(weft_arch_preset("mesh-32x32", &arch, &err), &err);
    weft_onnx_tol tol = WEFT_ONNX_TOL_DEFAULT;
    int n = 0, ok = 0, skipped = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        bool listed = false;
        for (int i = 0; i < n_skip && !listed; i++) listed = !strcmp(skips[i], line);
        char dir[4096], msg[1200];
        snprintf(dir, sizeof dir, "%s/%s", DATA_DIR, line);
        n++;
        weft_onnx_result r = weft_onnx_test_case_on(dir, &tol, &arch, msg, sizeof msg);
        if (r == WEFT_ONNX_PASS && !listed) ok++;
        else if (r == WEFT_ONNX_PASS) weft_test_fail(__FILE__, __LINE__, "%s passes on the fabric: remove it from onnx_fabric_skip.txt", line);
        else if (listed) skipped++;
        else weft_test_fail(__FILE__, __LINE__, "%s on mesh-32x32: %s", line, msg);
    }
    fclose(f);
    printf("    %d of %d reference cases pass on mesh-32x32, %d listed with reasons\n", ok, n, skipped);
    CHECK_INT(ok + skipped, n);
}
