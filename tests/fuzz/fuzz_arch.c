/* libFuzzer target for the machine-description reader (weft_arch_parse). Built by `make fuzz`;
 * run by scripts/fuzz.sh. Seeds: tests/corpus/arch.
 *
 * Beyond the sanitizers: a refused description leaves the output untouched and says why naming
 * the source; an accepted one validates, and round-trips: its JSON parses back to a description
 * whose JSON is the same text. */
#include "arch/arch.h"
#include "fuzz_common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1 << 20)) return 0;
    char *json = malloc(size + 1);
    memcpy(json, data, size);
    json[size] = 0;
    weft_arch a, before;
    memset(&a, 0xA5, sizeof a);
    before = a;
    weft_err err = {0};
    weft_status s = weft_arch_parse(json, "fuzz.json", &a, &err);
    if (s) {
        WEFT_FUZZ_REQUIRE(err.msg[0] && strstr(err.msg, "fuzz.json"), "a refusal that does not name the source: '%s'", err.msg);
        WEFT_FUZZ_REQUIRE(!memcmp(&a, &before, sizeof a), "a refused description changed the output");
    } else {
        WEFT_FUZZ_REQUIRE(!weft_arch_validate(&a, "fuzz.json", &err), "accepted, but does not validate: %s", err.msg);
        char *j1 = weft_arch_to_json(&a);
        weft_arch b;
        WEFT_FUZZ_REQUIRE(j1 && !weft_arch_parse(j1, "round trip", &b, &err), "its own JSON is refused: %s", err.msg);
        char *j2 = weft_arch_to_json(&b);
        WEFT_FUZZ_REQUIRE(j2 && !strcmp(j1, j2), "the JSON does not round-trip:\n%s\n---\n%s", j1, j2);
        free(j1);
        free(j2);
    }
    free(json);
    return 0;
}
