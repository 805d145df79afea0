/* Tests of data/weather: the shallow-water generator of training data for builtin:weather-cnn.
 * Determinism, symmetry in longitude, mass conservation, stability, size checks, the persistence
 * baseline's range, and a linear 3x3 predictor that beats persistence (the data is learnable). */
#include "data/weather.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

/* A small grid for the tests: 16 x 32 cells, 4 variables. */
enum { LAT = 16, LON = 32, VARS = 4 };

static float *batch_new(int batch, int vars, int lat, int lon) {
    return calloc((size_t)batch * vars * lat * lon, sizeof(float));
}

TEST(weather_deterministic_and_resumable) {
    weft_err err = {0};
    weft_weather *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(weft_weather_new(LAT, LON, VARS, 7, &a, &err), &err);
    CHECK_OK(weft_weather_new(LAT, LON, VARS, 7, &b, &err), &err);
    CHECK_OK(weft_weather_new(LAT, LON, VARS, 8, &c, &err), &err);
    if (!a || !b || !c) return;
    const int B = 3;
    const size_t bytes = (size_t)B * VARS * LAT * LON * sizeof(float);
    float *xa = batch_new(B, VARS, LAT, LON), *ya = batch_new(B, VARS, LAT, LON);
    float *xb = batch_new(B, VARS, LAT, LON), *yb = batch_new(B, VARS, LAT, LON);
    CHECK_OK(weft_weather_batch(a, B, WEFT_WEATHER_LEAD, xa, ya, &err), &err);
    CHECK_OK(weft_weather_batch(b, B, WEFT_WEATHER_LEAD, xb, yb, &err), &err);
    CHECK(memcmp(xa, xb, bytes) == 0);
    CHECK(memcmp(ya, yb, bytes) == 0);
    /* another seed, other weather */
    CHECK_OK(weft_weather_batch(c, B, WEFT_WEATHER_LEAD, xb, yb, &err), &err);
    CHECK(memcmp(xa, xb, bytes) != 0);
    /* the next call gives new samples; saving and restoring the RNG replays them */
    weft_rng saved = *weft_weather_rng(a);
    CHECK_OK(weft_weather_batch(a, B, WEFT_WEATHER_LEAD, xa, ya, &err), &err);
    CHECK(memcmp(xa, xb, bytes) != 0);
    *weft_weather_rng(b) = saved;
    CHECK_OK(weft_weather_batch(b, B, WEFT_WEATHER_LEAD, xb, yb, &err), &err);
    CHECK(memcmp(xa, xb, bytes) == 0);
    CHECK(memcmp(ya, yb, bytes) == 0);
    free(xa), free(ya), free(xb), free(yb);
    weft_weather_free(a), weft_weather_free(b), weft_weather_free(c);
}

/* Rolls every field of a physical state east by k columns. */
static void roll_lon(const double *s, double *out, int fields, int lat, int lon, int k) {
    for (int f = 0; f < fields; f++)
        for (int j = 0; j < lat; j++)
            for (int i = 0; i < lon; i++)
                out[((int64_t)f * lat + j) * lon + (i + k) % lon] = s[((int64_t)f * lat + j) * lon + i];
}

TEST(weather_shift_in_longitude_commutes_with_time) {
    weft_err err = {0};
    weft_weather *w = NULL;
    CHECK_OK(weft_weather_new(LAT, LON, 5, 3, &w, &err), &err);
    if (!w) return;
    const int nf = weft_weather_fields(w), k = 11;
    CHECK_INT(nf, 5);
    const int64_t m = (int64_t)nf * LAT * LON;
    double *s = malloc(m * sizeof *s), *r = malloc(m * sizeof *s), *rs = malloc(m * sizeof *s);
    weft_weather_init_state(w, s);
    roll_lon(s, r, nf, LAT, LON, k);
    weft_weather_step(w, s, 200);
    weft_weather_step(w, r, 200);
    roll_lon(s, rs, nf, LAT, LON, k);
    double worst = 0;
    for (int64_t q = 0; q < m; q++) worst = fmax(worst, fabs(rs[q] - r[q]));
    CHECK_NEAR(worst, 0, 0); /* bit for bit: the same operations in the same order at every column */
    free(s), free(r), free(rs);
    weft_weather_free(w);
}

TEST(weather_mass_conserved_and_long_run_stable) {
    weft_err err = {0};
    weft_weather *w = NULL;
    CHECK_OK(weft_weather_new(LAT, LON, VARS, 11, &w, &err), &err);
    if (!w) return;
    const int64_t n = (int64_t)LAT * LON, m = VARS * n;
    double *s = malloc(m * sizeof *s);
    weft_weather_init_state(w, s);
    double m0 = weft_weather_mass(w, s);
    CHECK_NEAR(m0, (double)n * WEFT_WEATHER_H, 0.2 * n);
    weft_weather_step(w, s, 10000); /* 3000 time units, about 50 vortex turnover times */
    double m1 = weft_weather_mass(w, s);
    CHECK_NEAR((m1 - m0) / m0, 0, 1e-12);
    double hmin = 1e9, umax = 0;
    int finite = 1;
    for (int64_t q = 0; q < m; q++) finite &= isfinite(s[q]) != 0;
    for (int64_t q = 0; q < n; q++) hmin = fmin(hmin, s[q]);
    for (int64_t q = n; q < 3 * n; q++) umax = fmax(umax, fabs(s[q]));
    CHECK(finite);
    CHECK(hmin > 0.5);  /* the fluid never runs dry */
    CHECK(umax < 1.0);  /* and the winds stay well below the CFL bound */
    /* the north wall's v row stays exactly 0 */
    for (int i = 0; i < LON; i++) CHECK_NEAR(s[2 * n + (LAT - 1) * LON + i], 0, 0);
    free(s);
    weft_weather_free(w);
}

TEST(weather_any_number_of_variables) {
    weft_err err = {0};
    const int vars[] = {1, 2, 3, 6};
    for (int t = 0; t < 4; t++) {
        weft_weather *w = NULL;
        CHECK_OK(weft_weather_new(8, 12, vars[t], 5, &w, &err), &err);
        if (!w) continue;
        CHECK_INT(weft_weather_fields(w), vars[t] < 3 ? 3 : vars[t]);
        const int64_t numel = 2LL * vars[t] * 8 * 12;
        float *x = batch_new(2, vars[t], 8, 12), *y = batch_new(2, vars[t], 8, 12);
        CHECK_OK(weft_weather_batch(w, 2, 5, x, y, &err), &err);
        double p = weft_weather_mse(x, y, numel);
        CHECK(p > 0 && isfinite(p));
        free(x), free(y);
        weft_weather_free(w);
    }
}

TEST(weather_bad_sizes_rejected) {
    weft_err err = {0};
    weft_weather *w = (weft_weather *)&err; /* set to NULL on failure */
    CHECK_INT(weft_weather_new(2, 32, 4, 1, &w, &err), WEFT_ERR_INVALID);
    CHECK(w == NULL);
    CHECK(strstr(err.msg, "lat = 2") != NULL);
    CHECK_INT(weft_weather_new(16, 0, 4, 1, &w, &err), WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, "lon = 0") != NULL);
    CHECK_INT(weft_weather_new(16, 32, 0, 1, &w, &err), WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, "vars = 0") != NULL);
    CHECK_INT(weft_weather_new(16, 32, 65, 1, &w, &err), WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, "vars = 65") != NULL);
    CHECK_INT(weft_weather_new(1 << 20, 1 << 20, 4, 1, &w, &err), WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, "lat * lon") != NULL);
    CHECK_OK(weft_weather_new(8, 8, 4, 1, &w, &err), &err);
    if (!w) return;
    float x[4 * 8 * 8], y[4 * 8 * 8];
    CHECK_INT(weft_weather_batch(w, 0, 10, x, y, &err), WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, "batch = 0") != NULL);
    CHECK_INT(weft_weather_batch(w, 1, 0, x, y, &err), WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, "lead = 0") != NULL);
    CHECK_INT(weft_weather_batch(w, 1, 10, x, NULL, &err), WEFT_ERR_INVALID);
    CHECK(strstr(err.msg, "y buffer") != NULL);
    weft_weather_free(w);
    weft_weather_free(NULL);
}

TEST(weather_mse) {
    float a[4] = {1, 2, 3, 4}, b[4] = {1, 0, 3, 5};
    CHECK_NEAR(weft_weather_mse(a, b, 4), (4.0 + 1.0) / 4, 1e-15);
    CHECK_NEAR(weft_weather_mse(a, a, 4), 0, 0);
    CHECK_NEAR(weft_weather_mse(a, b, 0), 0, 0);
}

/* Per-variable variance of x and the persistence MSE, normalized by the total variance. */
TEST(weather_normalized_and_persistence_in_range) {
    const int grids[2][2] = {{LAT, LON}, {32, 64}}, B[2] = {48, 12};
    for (int gi = 0; gi < 2; gi++) {
        const int lat = grids[gi][0], lon = grids[gi][1];
        weft_err err = {0};
        weft_weather *w = NULL;
        CHECK_OK(weft_weather_new(lat, lon, VARS, 21, &w, &err), &err);
        if (!w) return;
        const int64_t n = (int64_t)lat * lon, per = VARS * n;
        float *x = batch_new(B[gi], VARS, lat, lon), *y = batch_new(B[gi], VARS, lat, lon);
        CHECK_OK(weft_weather_batch(w, B[gi], WEFT_WEATHER_LEAD, x, y, &err), &err);
        double total_var = 0;
        for (int v = 0; v < VARS; v++) {
            double s = 0, s2 = 0;
            for (int b = 0; b < B[gi]; b++)
                for (int64_t c = 0; c < n; c++) {
                    double a = x[b * per + v * n + c];
                    s += a, s2 += a * a;
                }
            double cnt = (double)B[gi] * n, var = s2 / cnt - (s / cnt) * (s / cnt);
            if (!(var > 0.4 && var < 2.5)) CHECK_NEAR(var, 1, 0.6); /* roughly unit variance */
            total_var += var / VARS;
        }
        double p = weft_weather_mse(x, y, B[gi] * per);
        printf("    weather %dx%d lead %d: variance %.3f, persistence MSE %.3f\n", lat, lon, WEFT_WEATHER_LEAD,
               total_var, p);
        CHECK(p > 0.1 * total_var);
        CHECK(p < 0.5 * total_var);
        free(x), free(y);
        weft_weather_free(w);
    }
}

/* ---- a linear predictor: y[o](j, i) = bias[o] + sum over v, dj, di of W[o][v][dj][di] x[v](j+dj, i+di),
 * a single 3x3 convolution (latitude zero-padded, longitude wrapped, as in builtin:weather-cnn),
 * fitted by least squares through the normal equations. ---- */

enum { NFEAT = VARS * 9 + 1 };

/* The features of cell (j, i) of sample xs (VARS, LAT, LON). */
static void features(const float *xs, int j, int i, double *f) {
    int q = 0;
    for (int v = 0; v < VARS; v++)
        for (int dj = -1; dj <= 1; dj++)
            for (int di = -1; di <= 1; di++) {
                int jj = j + dj, ii = (i + di + LON) % LON;
                f[q++] = jj < 0 || jj >= LAT ? 0.0 : xs[(v * LAT + jj) * LON + ii];
            }
    f[q] = 1.0;
}

/* Solves the SPD system A z = r (NFEAT x NFEAT) for nr right-hand sides by Cholesky, in place:
 * r (NFEAT, nr) becomes z. */
static int cholesky_solve(double *A, double *r, int nr) {
    const int n = NFEAT;
    for (int j = 0; j < n; j++) {
        double d = A[j * n + j];
        for (int k = 0; k < j; k++) d -= A[j * n + k] * A[j * n + k];
        if (!(d > 0)) return 0;
        A[j * n + j] = sqrt(d);
        for (int i = j + 1; i < n; i++) {
            double s = A[i * n + j];
            for (int k = 0; k < j; k++) s -= A[i * n + k] * A[j * n + k];
            A[i * n + j] = s / A[j * n + j];
        }
    }
    for (int c = 0; c < nr; c++) {
        for (int i = 0; i < n; i++) { /* L t = r */
            double s = r[i * nr + c];
            for (int k = 0; k < i; k++) s -= A[i * n + k] * r[k * nr + c];
            r[i * nr + c] = s / A[i * n + i];
        }
        for (int i = n - 1; i >= 0; i--) { /* L^T z = t */
            double s = r[i * nr + c];
            for (int k = i + 1; k < n; k++) s -= A[k * n + i] * r[k * nr + c];
            r[i * nr + c] = s / A[i * n + i];
        }
    }
    return 1;
}

TEST(weather_linear_predictor_beats_persistence) {
    const int NTRAIN = 96, NTEST = 32;
    const int64_t n = (int64_t)LAT * LON, per = VARS * n;
    weft_err err = {0};
    weft_weather *w = NULL;
    CHECK_OK(weft_weather_new(LAT, LON, VARS, 2024, &w, &err), &err);
    if (!w) return;
    float *x = batch_new(NTRAIN, VARS, LAT, LON), *y = batch_new(NTRAIN, VARS, LAT, LON);
    CHECK_OK(weft_weather_batch(w, NTRAIN, WEFT_WEATHER_LEAD, x, y, &err), &err);
    /* normal equations: A = sum f f^T, r[:, o] = sum f y[o] */
    static double A[NFEAT * NFEAT], r[NFEAT * VARS];
    memset(A, 0, sizeof A), memset(r, 0, sizeof r);
    double f[NFEAT];
    for (int b = 0; b < NTRAIN; b++)
        for (int j = 0; j < LAT; j++)
            for (int i = 0; i < LON; i++) {
                features(x + b * per, j, i, f);
                for (int p = 0; p < NFEAT; p++) {
                    for (int q = 0; q <= p; q++) A[p * NFEAT + q] += f[p] * f[q];
                    for (int o = 0; o < VARS; o++) r[p * VARS + o] += f[p] * y[b * per + (o * LAT + j) * LON + i];
                }
            }
    for (int p = 0; p < NFEAT; p++) {
        for (int q = 0; q < p; q++) A[q * NFEAT + p] = A[p * NFEAT + q];
        A[p * NFEAT + p] += 1e-6 * (double)NTRAIN * n; /* a whisper of ridge */
    }
    CHECK(cholesky_solve(A, r, VARS));
    /* held-out samples: the generator's next draws */
    CHECK_OK(weft_weather_batch(w, NTEST, WEFT_WEATHER_LEAD, x, y, &err), &err);
    float *pred = batch_new(NTEST, VARS, LAT, LON);
    for (int b = 0; b < NTEST; b++)
        for (int j = 0; j < LAT; j++)
            for (int i = 0; i < LON; i++) {
                features(x + b * per, j, i, f);
                for (int o = 0; o < VARS; o++) {
                    double s = 0;
                    for (int p = 0; p < NFEAT; p++) s += r[p * VARS + o] * f[p];
                    pred[b * per + (o * LAT + j) * LON + i] = (float)s;
                }
            }
    double persistence = weft_weather_mse(x, y, NTEST * per), linear = weft_weather_mse(pred, y, NTEST * per);
    printf("    weather %dx%d lead %d, held out: persistence MSE %.4f, linear 3x3 predictor MSE %.4f (%.0f%% of "
           "persistence)\n", LAT, LON, WEFT_WEATHER_LEAD, persistence, linear, 100 * linear / persistence);
    CHECK(linear < 0.9 * persistence);
    free(x), free(y), free(pred);
    weft_weather_free(w);
}
