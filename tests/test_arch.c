/* Tests of machine descriptions: presets, JSON round trip, validation errors naming the field. */
#include "arch/arch.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

TEST(arch_presets_valid_and_round_trip) {
    for (const char *const *n = weft_arch_preset_names(); *n; n++) {
        weft_arch a, b;
        weft_err err = {0};
        CHECK_OK(weft_arch_preset(*n, &a, &err), &err);
        CHECK_OK(weft_arch_validate(&a, *n, &err), &err);
        char *j = weft_arch_to_json(&a);
        CHECK_OK(weft_arch_parse(j, *n, &b, &err), &err);
        char *j2 = weft_arch_to_json(&b);
        CHECK(!strcmp(j, j2));
        free(j);
        free(j2);
    }
}

TEST(arch_wse2_figures) {
    weft_arch a;
    weft_err err = {0};
    CHECK_OK(weft_arch_preset("wse2", &a, &err), &err);
    CHECK_INT(weft_arch_tiles(&a), 745500);
    CHECK_INT(a.kinds[0].sram_bytes, 49152);
    CHECK_INT(a.channels, 24);
    CHECK_NEAR((double)weft_arch_sram_total(&a), 745500.0 * 49152, 0);
    CHECK(a.n_assumptions > 0);
    weft_arch s;
    CHECK_OK(weft_arch_preset("sn30", &s, &err), &err);
    CHECK_INT(s.n_kinds, 2);
    CHECK(!strcmp(weft_arch_kind_at(&s, 0, 0)->name, "pcu") && !strcmp(weft_arch_kind_at(&s, 1, 0)->name, "pmu"));
    CHECK_INT(weft_arch_preset("wse9", &s, &err), WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, "unknown machine 'wse9'") && strstr(err.msg, "wse2"));
}

static void expect_bad(const char *json, const char *needle) {
    weft_arch a;
    weft_err err = {0};
    weft_status s = weft_arch_parse(json, "bad.json", &a, &err);
    if (s != WEFT_ERR_INVALID || !strstr(err.msg, needle) || !strstr(err.msg, "bad.json"))
        weft_test_fail(__FILE__, __LINE__, "expected an error mentioning '%s', got status %d: %s", needle, s, err.msg);
}

#define GOOD_KIND "\"tile_kinds\": [{\"name\": \"pe\", \"sram_bytes\": 49152, \"sram_read_bytes_per_cycle\": 16, " \
                  "\"sram_write_bytes_per_cycle\": 8, \"flops_per_cycle\": {\"fp32\": 2}}]"

/* Machines of several chips: the presets the issue lists, each its chip preset times the count,
 * a "chip" reference reads the same as the preset, and the all-reduce times follow their formulas. */
TEST(arch_clusters) {
    weft_err err = {0};
    static const struct { const char *name, *chip; int count; weft_chip_net net; } want[] = {
        {"cs2x2", "wse2", 2, WEFT_NET_SWITCH}, {"cs2x4", "wse2", 4, WEFT_NET_SWITCH}, {"cs2x16", "wse2", 16, WEFT_NET_SWITCH},
        {"cs3x4", "wse3", 4, WEFT_NET_SWITCH}, {"sn30-node", "sn30", 8, WEFT_NET_RING}, {"sn30x2-node", "sn30", 16, WEFT_NET_RING},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        weft_arch a, c;
        CHECK_OK(weft_arch_preset(want[i].name, &a, &err), &err);
        CHECK_OK(weft_arch_preset(want[i].chip, &c, &err), &err);
        CHECK_INT(a.chips, want[i].count);
        CHECK_INT(a.chip_net, want[i].net);
        CHECK_INT(a.width, c.width);
        CHECK_INT(weft_arch_tiles(&a), weft_arch_tiles(&c) * want[i].count);
        CHECK_NEAR(weft_arch_peak_flops(&a, WEFT_ARCH_BF16), weft_arch_peak_flops(&c, WEFT_ARCH_BF16) * want[i].count, 1);
        CHECK(a.n_assumptions > c.n_assumptions);  /* the network's figures are labelled */
    }
    weft_arch a, r;
    CHECK_OK(weft_arch_parse("{\"name\": \"mine\", \"chip\": \"wse2\", \"chips\": {\"count\": 4, \"topology\": \"switch\", "
                             "\"link_bytes_per_s\": 150e9, \"link_latency_s\": 2e-6}}", "mine.json", &a, &err), &err);
    CHECK_OK(weft_arch_preset("cs2x4", &r, &err), &err);
    CHECK_INT(a.chips, 4);
    CHECK_INT(a.width, r.width);
    CHECK_NEAR(weft_arch_allreduce_s(&a, 4, 1e9), weft_arch_allreduce_s(&r, 4, 1e9), 1e-12);
    /* a switch: bytes once over the link, 2 levels up and down; a ring: 2 (R-1)/R of the bytes
     * and 2 hops; all-to-all: 2/R of them and 2 hops; one replica: nothing */
    CHECK_NEAR(weft_arch_allreduce_s(&r, 4, 1.5e9), 1.5e9 / 150e9 + 4 * 2e-6, 1e-12);
    a.chip_net = WEFT_NET_RING;
    CHECK_NEAR(weft_arch_allreduce_s(&a, 4, 1.5e9), 1.5 * 1.5e9 / 150e9 + 6 * 2e-6, 1e-12);
    a.chip_net = WEFT_NET_ALL;
    CHECK_NEAR(weft_arch_allreduce_s(&a, 4, 1.5e9), 0.5 * 1.5e9 / 150e9 + 2 * 2e-6, 1e-12);
    CHECK_NEAR(weft_arch_allreduce_s(&a, 1, 1.5e9), 0, 0);
    CHECK_NEAR(weft_arch_allreduce_latency_s(&a, 4), 2 * 2e-6, 1e-15);
}

TEST(arch_json_errors_name_the_field) {
    weft_arch a;
    weft_err err = {0};
    const char *good = "{\"name\": \"m\", \"mesh\": {\"width\": 4, \"height\": 4}, \"clock_hz\": 1e9, " GOOD_KIND
                       ", \"link\": {\"bytes_per_cycle\": 4, \"hop_latency_cycles\": 1}, \"channels\": 8}";
    CHECK_OK(weft_arch_parse(good, "good.json", &a, &err), &err);
    CHECK_INT(weft_arch_tiles(&a), 16);
    /* an energy model: read, and bounded by its own peak power */
    const char *en = "{\"name\": \"m\", \"mesh\": {\"width\": 4, \"height\": 4}, \"clock_hz\": 1e9, " GOOD_KIND
                     ", \"link\": {\"bytes_per_cycle\": 4, \"hop_latency_cycles\": 1}, \"channels\": 8, \"energy\": {\"pj_per_flop\": "
                     "{\"fp32\": 4, \"fp16\": 1}, \"pj_per_hop_byte\": 0.25, \"static_w\": 2, \"peak_w\": 10}}";
    CHECK_OK(weft_arch_parse(en, "energy.json", &a, &err), &err);
    CHECK(a.energy.pj_per_flop[0] == 4 && a.energy.static_w == 2 && a.energy.peak_w == 10);
    char *js = weft_arch_to_json(&a);
    weft_arch back;
    CHECK_OK(weft_arch_parse(js, "round.json", &back, &err), &err);
    CHECK(back.energy.pj_per_hop_byte == 0.25 && back.energy.peak_w == 10);
    free(js);
    expect_bad("{\"name\": \"m\", \"mesh\": {\"width\": 4, \"height\": 4}, \"clock_hz\": 1e9, " GOOD_KIND
               ", \"link\": {\"bytes_per_cycle\": 4, \"hop_latency_cycles\": 1}, \"channels\": 8, \"energy\": {\"static_w\": 2, "
               "\"peak_w\": 1}}", "beyond the chip's peak_w");
    expect_bad("{\"name\": \"m\", \"mesh\": {\"width\": 4, \"height\": 4}, \"clock_hz\": 1e9, " GOOD_KIND
               ", \"link\": {\"bytes_per_cycle\": 4, \"hop_latency_cycles\": 1}, \"channels\": 8, \"energy\": {\"volts\": 2}}",
               "energy.volts");
    expect_bad("{\"name\": \"m\", \"mesh\": {\"width\": -3, \"height\": 4}, \"clock_hz\": 1e9, " GOOD_KIND
               ", \"link\": {\"bytes_per_cycle\": 4, \"hop_latency_cycles\": 1}, \"channels\": 8}", "mesh.width");
    expect_bad("{\"name\": \"m\", \"mesh\": {\"width\": 4, \"height\": 4}, \"clock_hz\": \"fast\", " GOOD_KIND
               ", \"link\": {\"bytes_per_cycle\": 4, \"hop_latency_cycles\": 1}, \"channels\": 8}", "clock_hz");
    expect_bad("{\"name\": \"m\", \"mesh\": {\"width\": 4, \"height\": 4, \"depth\": 2}, \"clock_hz\": 1e9, " GOOD_KIND
               ", \"link\": {\"bytes_per_cycle\": 4, \"hop_latency_cycles\": 1}, \"channels\": 8}", "mesh.depth");
    expect_bad("{\"name\": \"m\", \"mesh\": {\"width\": 4, \"height\": 4}, \"clock_hz\": 1e9, " GOOD_KIND
               ", \"link\": {\"bytes_per_cycle\": 0, \"hop_latency_cycles\": 1}, \"channels\": 8}", "link.bytes_per_cycle");
    expect_bad("{\"name\": \"m\", \"mesh\": {\"width\": 4, \"height\": 4}, \"clock_hz\": 1e9, " GOOD_KIND
               ", \"link\": {\"bytes_per_cycle\": 4, \"hop_latency_cycles\": 1}}", "channels");
    expect_bad("{\"name\": \"m\", \"mesh\": {\"width\": 4, \"height\": 4}, \"clock_hz\": 1e9, " GOOD_KIND
               ", \"column_pattern\": [\"pe\", \"pmu\"], \"link\": {\"bytes_per_cycle\": 4, \"hop_latency_cycles\": 1}, \"channels\": 8}",
               "column_pattern[1]");
    expect_bad("{\"name\": \"m\", \"mesh\": {\"width\": 4, \"height\": 4}, \"clock_hz\": 1e9, \"tile_kinds\": [{\"name\": \"pe\", "
               "\"sram_bytes\": 100, \"sram_read_bytes_per_cycle\": 1, \"sram_write_bytes_per_cycle\": 1, \"flops_per_cycle\": {}}], "
               "\"link\": {\"bytes_per_cycle\": 4, \"hop_latency_cycles\": 1}, \"channels\": 8}", "computes");
    expect_bad("{\"name\": \"m\", \"mesh\": {\"width\": 4, \"height\": 4}, \"clock_hz\": 1e9, " GOOD_KIND
               ", \"link\": {\"bytes_per_cycle\": 4, \"hop_latency_cycles\": 1}, \"channels\": 8, \"chips\": {\"count\": 4, \"topology\": \"ring\"}}",
               "chips.link_bytes_per_s");
    /* several chips: the network is named, connects them all, and is one weft knows */
    expect_bad("{\"name\": \"m\", \"mesh\": {\"width\": 4, \"height\": 4}, \"clock_hz\": 1e9, " GOOD_KIND
               ", \"link\": {\"bytes_per_cycle\": 4, \"hop_latency_cycles\": 1}, \"channels\": 8, \"chips\": {\"count\": 4, \"link_bytes_per_s\": 1e9}}",
               "chips.topology' is missing");
    expect_bad("{\"name\": \"m\", \"chip\": \"wse2\", \"chips\": {\"count\": 4, \"topology\": \"none\"}}", "'none' does not connect the 4 chips");
    expect_bad("{\"name\": \"m\", \"chip\": \"wse2\", \"chips\": {\"count\": 4, \"topology\": \"torus\"}}", "'torus' is not none, switch");
    expect_bad("{\"name\": \"m\", \"chip\": \"wse9\", \"chips\": {\"count\": 4, \"topology\": \"ring\"}}", "field 'chip'");
    expect_bad("{\"name\": \"m\", \"chip\": \"cs2x4\"}", "a machine of 4 chips, not one chip");
    expect_bad("{\"name\": \"m\", \"chip\": \"wse2\", \"mesh\": {\"width\": 4, \"height\": 4}}", "unknown field 'mesh'");
    expect_bad("{\"name\": \"m\", \"chip\": \"wse2\", \"chips\": {\"count\": 0, \"topology\": \"ring\"}}", "chips.count");
    expect_bad("{\"name\": \"m\", \"mesh\": {\"width\": 4, \"height\": 4}, \"clock_hz\": 1e9, " GOOD_KIND
               ", \"link\": {\"bytes_per_cycle\": 4, \"hop_latency_cycles\": 1}, \"channels\": 8, \"offchip\": {\"bytes\": 1e9, \"bytes_per_s\": 1e9, \"edge\": \"up\"}}",
               "offchip.edge");
    expect_bad("{\"name\": \"m\", \"mesh\": {\"width\": 100000, \"height\": 4}, \"clock_hz\": 1e9, " GOOD_KIND
               ", \"link\": {\"bytes_per_cycle\": 4, \"hop_latency_cycles\": 1}, \"channels\": 8}", "mesh.width");
    expect_bad("{\"name\": ", "not valid JSON");
}

/* The machine corpus (tests/corpus/arch/, written by make_arch.py): every bad_* file is refused
 * with a message naming the file, the field, the value and the allowed range; good_* loads. */
static const struct { const char *file, *field, *value, *range; } arch_bad[] = {
    {"bad_link_rate_tiny.json", "'link.bytes_per_cycle'", "1e-300", "0.001 to 1e+06"},
    {"bad_link_rate_huge.json", "'link.bytes_per_cycle'", "1e+300", "0.001 to 1e+06"},
    {"bad_flops_tiny.json", "'tile_kinds[0].flops_per_cycle.fp32'", "1e-300", "0 or 0.001 to 1e+06"},
    {"bad_offchip_rate_tiny.json", "'offchip.bytes_per_s'", "1e-300", "1e+06 to 1e+15"},
    {"bad_sram_read_tiny.json", "'tile_kinds[0].sram_read_bytes_per_cycle'", "1e-300", "0 or 0.001 to 1e+06"},
    {"bad_chip_link_tiny.json", "'chips.link_bytes_per_s'", "1e-300", "1e+06 to 1e+15"},
    /* item 6: duplicate keys, trailing bytes, integers past int64 */
    {"bad_duplicate_key.json", "'channels'", "given twice", ""},
    {"bad_trailing_bytes.json", "bytes after the JSON value", "line 46", ""},
    {"bad_sram_bytes_huge.json", "'tile_kinds[0].sram_bytes'", "1e+30", "0..17179869184"},
    {"bad_sram_bytes_fraction.json", "'tile_kinds[0].sram_bytes'", "0.5", "0..17179869184"},
    {"bad_offchip_bytes_huge.json", "'offchip.bytes'", "1e+30", "0..1125899906842624"},
};

TEST(arch_corpus_refused_with_field_value_range) {
    char path[1200];
    for (size_t i = 0; i < sizeof arch_bad / sizeof *arch_bad; i++) {
        snprintf(path, sizeof path, "%s/tests/corpus/arch/%s", weft_test_srcdir(), arch_bad[i].file);
        weft_arch a;
        weft_err err = {0};
        weft_status s = weft_arch_load(path, &a, &err);
        if (s != WEFT_ERR_INVALID || !strstr(err.msg, path) || !strstr(err.msg, arch_bad[i].field) ||
            !strstr(err.msg, arch_bad[i].value) || !strstr(err.msg, arch_bad[i].range))
            weft_test_fail(__FILE__, __LINE__, "%s: status %d, expected a refusal naming %s, %s and %s: %s", arch_bad[i].file, s,
                           arch_bad[i].field, arch_bad[i].value, arch_bad[i].range, err.msg);
    }
    snprintf(path, sizeof path, "%s/tests/corpus/arch/good_mesh_8x8.json", weft_test_srcdir());
    weft_arch a;
    weft_err err = {0};
    CHECK_OK(weft_arch_load(path, &a, &err), &err);
}

/* A folder (or a device) given as a machine: says what it is, not "not valid JSON". */
TEST(arch_directory_is_not_a_machine) {
    char path[1200];
    snprintf(path, sizeof path, "%s/tests/corpus/arch", weft_test_srcdir());
    weft_arch a;
    weft_err err = {0};
    CHECK_INT(weft_arch_get(path, &a, &err), WEFT_ERR_IO);
    CHECK(strstr(err.msg, path) && strstr(err.msg, "a directory"));
    CHECK_INT(weft_arch_load("/dev/null", &a, &err), WEFT_ERR_IO);
    CHECK(strstr(err.msg, "not a regular file") != NULL);
    CHECK_OK(weft_arch_get("mesh-8x8", &a, &err), &err);
}
