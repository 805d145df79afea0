/* Determinism whatever the number of threads: the reference executor and the fabric give the
 * same bits with WEFT_THREADS=1 and WEFT_THREADS=3; the weather model's convolutions (GEMMs of
 * 4096 rows) are split over the threads. (The `bits` lines are an FNV-64 of each output's bytes.) */
#include "test.h"

#include <stdio.h>
#include <string.h>

/* Runs cmd and returns its lines containing "bits" (concatenated) in out. */
static void bits_of(const char *cmd, char *out, size_t n) {
    out[0] = 0;
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (strstr(line, "bits") && strlen(out) + strlen(line) < n) strcat(out, line);
    CHECK(pclose(f) == 0);
}

TEST(threads_do_not_change_bits) {
    const char *runs[] = {"run-ref builtin:gpt:layers=2,dim=128,heads=4,vocab=256,seq=64",
                          "run builtin:gpt:layers=2,dim=128,heads=4,vocab=256,seq=64 --arch wse2-mini",
                          "run-ref builtin:weather-cnn:lat=32,lon=64,batch=2"};
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        char cmd[1024], one[4096], three[4096];
        snprintf(cmd, sizeof cmd, "WEFT_THREADS=1 OPENBLAS_NUM_THREADS=1 %s/weft %s", weft_test_builddir(), runs[i]);
        bits_of(cmd, one, sizeof one);
        snprintf(cmd, sizeof cmd, "WEFT_THREADS=3 OPENBLAS_NUM_THREADS=3 %s/weft %s", weft_test_builddir(), runs[i]);
        bits_of(cmd, three, sizeof three);
        CHECK(one[0] != 0);
        if (strcmp(one, three)) weft_test_fail(__FILE__, __LINE__, "%s: 1 thread\n%s3 threads\n%s", runs[i], one, three);
    }
}
