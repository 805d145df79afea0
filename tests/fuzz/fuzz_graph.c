/* libFuzzer target for graph files (weft_graph_load). Built by `make fuzz`; run by
 * scripts/fuzz.sh. Seeds: tests/corpus/graph (an input whose first byte is even is taken as a
 * body and given a valid header and checksum: fuzz_common.h).
 *
 * Beyond the sanitizers: a refused file returns no graph and names the file; an accepted graph
 * verifies, saves and loads back with the same values and nodes, and runs on the reference
 * executor when small. */
#include "fuzz_common.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = weft_fuzz_file(data, size, "WEFTGRPH", WEFT_GRAPH_FILE_VERSION);
    weft_err err = {0};
    weft_graph *g = (weft_graph *)1;
    weft_status s = weft_graph_load(path, &g, &err);
    if (s) {
        WEFT_FUZZ_REQUIRE(!g, "a refused file returned a graph");
        weft_fuzz_check_error(path, s, &err);
        return 0;
    }
    weft_status r;
    weft_fuzz_run(g, &r, &err);
    static char again[64];
    snprintf(again, sizeof again, "/tmp/weft-fuzz-graph-%d.wgraph", (int)getpid());
    WEFT_FUZZ_REQUIRE(!weft_graph_save(g, again, &err), "an accepted graph does not save: %s", err.msg);
    weft_graph *h = NULL;
    WEFT_FUZZ_REQUIRE(!weft_graph_load(again, &h, &err), "a saved graph does not load: %s", err.msg);
    WEFT_FUZZ_REQUIRE(h->n_vals == g->n_vals && h->n_nodes == g->n_nodes && h->n_inputs == g->n_inputs &&
                          h->n_outputs == g->n_outputs,
                      "the graph does not round-trip");
    unlink(again);
    weft_graph_free(h);
    weft_graph_free(g);
    return 0;
}
