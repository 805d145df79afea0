/* libFuzzer target for program files (weft_program_load: the machine, the graph, then a compile
 * checked against the stored placement). Built by `make fuzz`; run by scripts/fuzz.sh. Seeds:
 * tests/corpus/graph (*.weft; an even first byte: a body given a valid header, fuzz_common.h).
 *
 * Beyond the sanitizers: a refused file returns neither graph nor program and names the file; a
 * small accepted one simulates (timing only) or says why. */
#include "fuzz_common.h"
#include "compile/compile.h"
#include "sim/run.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = weft_fuzz_file(data, size, "WEFTPROG", WEFT_PROGRAM_FILE_VERSION);
    weft_err err = {0};
    weft_graph *g = NULL;
    weft_program *p = NULL;
    weft_status s = weft_program_load(path, &g, &p, &err);
    if (s) {
        WEFT_FUZZ_REQUIRE(!g && !p, "a refused program returned a graph or a program");
        weft_fuzz_check_error(path, s, &err);
        return 0;
    }
    WEFT_FUZZ_REQUIRE(g && p, "an accepted program without its graph or program");
    WEFT_FUZZ_REQUIRE(!weft_graph_verify(g, &err), "an accepted program's graph does not verify: %s", err.msg);
    if (p->n <= 64 && p->blocks <= 64) {
        weft_sim_opts o = {.timing_only = true, .passes = 2};
        weft_sim_stats st;
        weft_err e = {0};
        if (weft_sim_run(p, NULL, 0, NULL, g->n_outputs, &o, &st, &e)) WEFT_FUZZ_REQUIRE(e.msg[0], "a simulation failed without a message");
        else WEFT_FUZZ_REQUIRE(st.cycles > 0 || p->n == 0, "an accepted program simulated in 0 cycles");
    }
    weft_program_free(p);
    weft_graph_free(g);
    return 0;
}
