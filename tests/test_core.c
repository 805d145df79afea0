/* Tests of core: dtype conversions, shapes, broadcasting, size limits, RNG. */
#include "core/core.h"
#include "test.h"

#include <string.h>

TEST(core_f16_round_trip) {
    /* every finite fp16 value converts to fp32 and back unchanged */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00) continue;
        uint16_t back = weft_f32_to_f16(weft_f16_to_f32((uint16_t)h));
        if (back != h) { CHECK_INT(back, h); return; }
    }
    CHECK_INT(weft_f32_to_f16(1.0f), 0x3c00);
    CHECK_INT(weft_f32_to_f16(65504.0f), 0x7bff);
    CHECK_INT(weft_f32_to_f16(1e6f), 0x7c00);
    /* ties go to even: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10 */
    CHECK_INT(weft_f32_to_f16(1.0f + 0.00048828125f), 0x3c00);
    CHECK_INT(weft_f32_to_f16(1.0f + 3 * 0.00048828125f), 0x3c02);
    CHECK_NEAR(weft_f16_to_f32(0x0001), 5.9604644775390625e-08, 0);
}

TEST(core_bf16_round_to_nearest_even) {
    CHECK_INT(weft_f32_to_bf16(1.0f), 0x3f80);
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0) */
    CHECK_INT(weft_f32_to_bf16(1.0f + 0.00390625f), 0x3f80);
    CHECK_INT(weft_f32_to_bf16(1.0f + 3 * 0.00390625f), 0x3f82);
    CHECK_NEAR(weft_bf16_to_f32(weft_f32_to_bf16(3.14159265f)), 3.140625, 0);
    CHECK(isnan(weft_bf16_to_f32(weft_f32_to_bf16(NAN))));
}

TEST(core_broadcast) {
    weft_shape a = WEFT_SHAPE(2, 1, 4), b = WEFT_SHAPE(3, 1), o;
    weft_err err = {0};
    CHECK_OK(weft_shape_broadcast(&a, &b, &o, &err), &err);
    weft_shape want = WEFT_SHAPE(2, 3, 4);
    CHECK(weft_shape_eq(&o, &want));
    weft_shape c = WEFT_SHAPE(5);
    CHECK_INT(weft_shape_broadcast(&a, &c, &o, &err), WEFT_ERR_SHAPE);
    CHECK(strstr(err.msg, "do not broadcast") != NULL);
}

TEST(core_absurd_size_refused_before_allocation) {
    weft_tensor t = {0};
    weft_err err = {0};
    CHECK_INT(weft_tensor_alloc(&t, WEFT_F32, WEFT_SHAPE(1 << 30, 1 << 30, 1 << 30), &err), WEFT_ERR_NOMEM);
    CHECK(t.data == NULL);
    CHECK_INT(weft_tensor_alloc(&t, WEFT_F32, WEFT_SHAPE(4, -1), &err), WEFT_ERR_SHAPE);
}

TEST(core_rng_deterministic) {
    weft_rng a, b;
    weft_rng_seed(&a, 42, 7);
    weft_rng_seed(&b, 42, 7);
    for (int i = 0; i < 100; i++) CHECK_INT(weft_rng_u32(&a), weft_rng_u32(&b));
    double sum = 0, sq = 0;
    for (int i = 0; i < 20000; i++) { double x = weft_rng_normal(&a); sum += x; sq += x * x; }
    CHECK_NEAR(sum / 20000, 0, 0.05);
    CHECK_NEAR(sq / 20000, 1, 0.05);
}

TEST(core_rng_advance_equals_draws) {
    uint64_t skips[] = {0, 1, 2, 65536, 1000003};
    for (size_t k = 0; k < sizeof skips / sizeof *skips; k++) {
        weft_rng a, b;
        weft_rng_seed(&a, 9, 3);
        weft_rng_seed(&b, 9, 3);
        for (uint64_t i = 0; i < skips[k]; i++) weft_rng_u32(&a);
        weft_rng_advance(&b, skips[k]);
        for (int i = 0; i < 4; i++) CHECK_INT(weft_rng_u32(&a), weft_rng_u32(&b));
    }
}

/* Each element is covered exactly once, by chunks that start at multiples of the chunk size. */
static void count_chunk(void *ctx, int64_t lo, int64_t hi) {
    int *hits = ctx;
    if (lo % 5) hits[lo] += 100; /* a chunk starting off the grid */
    for (int64_t i = lo; i < hi; i++) __atomic_add_fetch(&hits[i], 1, __ATOMIC_RELAXED);
}

TEST(core_parallel_for_covers_each_element_once) {
    int limits[] = {1, 2, 3, 0};
    for (size_t k = 0; k < sizeof limits / sizeof *limits; k++) {
        int hits[37] = {0};
        weft_parallel_for(37, 5, limits[k], count_chunk, hits);
        for (int i = 0; i < 37; i++) CHECK_INT(hits[i], 1);
    }
}
