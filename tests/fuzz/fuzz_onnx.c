/* libFuzzer target for the ONNX reader. Built by `make fuzz` (clang, ASan + UBSan); not run in CI.
 *
 *     make fuzz && mkdir -p /tmp/weft-fuzz &&
 *     build-fuzz/fuzz_onnx -max_total_time=60 /tmp/weft-fuzz tests/corpus/onnx
 *
 * (libFuzzer adds what it finds to the FIRST folder: keep that a scratch one, not the corpus.)
 *
 * Each input is written to an in-memory file (memfd) and read back through weft_onnx_load, the
 * same path `weft inspect FILE` takes. A model that loads is verified and run on the reference
 * executor with zero inputs when it is small (tests/fuzz/fuzz_common.h). Besides the sanitizers,
 * the target aborts when a load fails with no message or one that does not name the file, and
 * when a loaded graph does not verify. libFuzzer's -malloc_limit_mb (default: the 2 GiB RSS
 * limit) reports any allocation the reader should have bounded.
 *
 * A crash found here goes into tests/corpus/onnx/ (crash_*.onnx), where the replay test in
 * tests/test_bad_input.c runs it on every `make test` / `make asan`. */
#include "fuzz_common.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

/* Undefined behaviour is a crash here: stop at the first report, with its stack. */
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("weft-fuzz.onnx", 0);
        if (fd < 0) { perror("memfd_create"); abort(); }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) { perror("memfd write"); abort(); }

    weft_err err = {0};
    weft_graph *g = NULL;
    weft_status s = weft_onnx_load(path, NULL, 0, &g, &err);
    weft_fuzz_check_error(path, s, &err);
    if (s == WEFT_OK) {
        if (!g) { fprintf(stderr, "weft-fuzz: load succeeded without a graph\n"); abort(); }
        weft_status r;
        weft_fuzz_run(g, &r, &err);
        weft_graph_free(g);
    } else if (g) {
        fprintf(stderr, "weft-fuzz: load failed but returned a graph\n");
        abort();
    }
    return 0;
}
