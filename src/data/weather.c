/* data/weather: the shallow-water generator of training data for builtin:weather-cnn. The
 * equations, grid, scheme, time step and normalization are described in weather.h. */
#include "data/weather.h"

#include <math.h>
#include <string.h>

struct weft_weather {
    int ny, nx, vars, nf;  /* lat, lon, observed variables, physical fields (max(vars, 3)) */
    int64_t n;             /* ny * nx cells */
    weft_rng rng;
    /* Workspace, one allocation: */
    double *s1, *s2;       /* (nf, ny, nx) RK stages */
    double *k;             /* (nf, ny, nx) tendency */
    double *div;           /* (ny, nx) divergence at cell centres */
    double *state;         /* (nf, ny, nx) the sample being integrated by weft_weather_batch */
};

weft_status weft_weather_new(int lat, int lon, int vars, uint64_t seed, weft_weather **out, weft_err *err) {
    if (out) *out = NULL;
    if (!out) return weft_err_set(err, WEFT_ERR_INVALID, "weather: out is NULL");
    if (lat < 3)
        return weft_err_set(err, WEFT_ERR_INVALID, "weather: lat = %d, need at least 3 latitude rows", lat);
    if (lon < 3)
        return weft_err_set(err, WEFT_ERR_INVALID, "weather: lon = %d, need at least 3 longitude columns", lon);
    if ((int64_t)lat * lon > WEFT_WEATHER_MAX_CELLS)
        return weft_err_set(err, WEFT_ERR_INVALID, "weather: lat * lon = %d * %d is over the limit of %d cells",
                            lat, lon, WEFT_WEATHER_MAX_CELLS);
    if (vars < 1 || vars > WEFT_WEATHER_MAX_VARS)
        return weft_err_set(err, WEFT_ERR_INVALID, "weather: vars = %d, need 1 to %d variables", vars,
                            WEFT_WEATHER_MAX_VARS);
    weft_weather *w = calloc(1, sizeof *w);
    if (!w) return weft_err_set(err, WEFT_ERR_NOMEM, "weather: out of memory");
    w->ny = lat;
    w->nx = lon;
    w->vars = vars;
    w->nf = vars < 3 ? 3 : vars;
    w->n = (int64_t)lat * lon;
    int64_t fsz = w->nf * w->n;
    double *ws = malloc((size_t)(4 * fsz + w->n) * sizeof *ws);
    if (!ws) {
        int nf = w->nf;
        free(w);
        return weft_err_set(err, WEFT_ERR_NOMEM, "weather: out of memory for a %d x %d x %d workspace", nf,
                            lat, lon);
    }
    w->s1 = ws;
    w->s2 = ws + fsz;
    w->k = ws + 2 * fsz;
    w->state = ws + 3 * fsz;
    w->div = ws + 4 * fsz;
    weft_rng_seed(&w->rng, seed, 0x77656174686572ull /* "weather" */);
    *out = w;
    return WEFT_OK;
}

void weft_weather_free(weft_weather *w) {
    if (!w) return;
    free(w->s1);
    free(w);
}

weft_rng *weft_weather_rng(weft_weather *w) { return &w->rng; }
int weft_weather_fields(const weft_weather *w) { return w->nf; }

double weft_weather_mse(const float *a, const float *b, int64_t n) {
    if (n <= 0) return 0;
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        s += d * d;
    }
    return s / (double)n;
}

double weft_weather_mass(const weft_weather *w, const double *s) {
    double m = 0;
    for (int64_t c = 0; c < w->n; c++) m += s[c];
    return m;
}

/* ---- initial states ---- */

/* Periodic distance in x on a ring of nx cells. */
static double ring_dx(double a, double b, int nx) {
    double d = fmod(fabs(a - b), (double)nx);
    return d > 0.5 * nx ? nx - d : d;
}

typedef struct { double x, y, r, a; } blob;

/* Sum of Gaussian blobs at (x, y). */
static double blobs_at(const blob *b, int nb, double x, double y, int nx) {
    double v = 0;
    for (int k = 0; k < nb; k++) {
        double dx = ring_dx(x, b[k].x, nx), dy = y - b[k].y;
        v += b[k].a * exp(-(dx * dx + dy * dy) / (2 * b[k].r * b[k].r));
    }
    return v;
}

/* The streamfunction: blobs, softly clipped to |psi| < PSI_MAX so that h stays well above 0. */
#define PSI_MAX 2.0
#define PSI_AMP 1.4 /* vortex amplitude: winds of about 0.1 rms (Rossby number ~0.15) */
static double psi_at(const blob *b, int nb, double x, double y, int nx) {
    return PSI_MAX * tanh(blobs_at(b, nb, x, y, nx) / PSI_MAX);
}

enum { MAX_BLOBS = 256 };

/* Draws nb blobs over the grid: radius r0 to r1 cells, amplitude amp * uniform(-1, 1). */
static int draw_blobs(weft_weather *w, blob *b, double amp, double r0, double r1) {
    int64_t nb = 1 + w->n / 64;
    if (nb > MAX_BLOBS) nb = MAX_BLOBS;
    for (int k = 0; k < nb; k++) {
        b[k].x = w->nx * (double)weft_rng_uniform(&w->rng);
        b[k].y = w->ny * (double)weft_rng_uniform(&w->rng) - 0.5;
        b[k].r = r0 + (r1 - r0) * (double)weft_rng_uniform(&w->rng);
        b[k].a = amp * (2.0 * (double)weft_rng_uniform(&w->rng) - 1.0);
    }
    return (int)nb;
}

/* A streamfunction psi of random vortices (radius 2 to 5 cells, one per 64 cells); u = -dpsi/dy and v = dpsi/dx are taken from psi at
 * the cell corners, so the initial wind has exactly zero discrete divergence, and
 * h = H + (F0 / g) psi balances it geostrophically. Tracers: independent random blobs of
 * radius 1.5 to 3.5 cells, amplitude uniform(-1, 1). */
void weft_weather_init_state(weft_weather *w, double *s) {
    const int ny = w->ny, nx = w->nx;
    double *h = s, *u = s + w->n, *v = s + 2 * w->n;
    blob b[MAX_BLOBS];
    int nb = draw_blobs(w, b, PSI_AMP, 2.0, 5.0);
    for (int j = 0; j < ny; j++) {
        for (int i = 0; i < nx; i++) {
            double pne = psi_at(b, nb, i + 0.5, j + 0.5, nx), pse = psi_at(b, nb, i + 0.5, j - 0.5, nx);
            double pnw = psi_at(b, nb, i - 0.5, j + 0.5, nx);
            double pc = psi_at(b, nb, i, j, nx);
            h[(int64_t)j * nx + i] = WEFT_WEATHER_H + WEFT_WEATHER_F0 / WEFT_WEATHER_G * pc;
            u[(int64_t)j * nx + i] = -(pne - pse);
            v[(int64_t)j * nx + i] = j == ny - 1 ? 0.0 : pne - pnw;
        }
    }
    for (int f = 3; f < w->nf; f++) {
        double *t = s + f * w->n;
        nb = draw_blobs(w, b, 1.0, 1.5, 3.5);
        for (int j = 0; j < ny; j++)
            for (int i = 0; i < nx; i++) t[(int64_t)j * nx + i] = blobs_at(b, nb, i, j, nx);
    }
}

/* ---- dynamics ---- */

/* k = d s / dt. Index helpers: im, ip wrap in x; rows beyond the walls follow the boundary
 * conditions (free slip for u, v = 0 at the walls, no flux for h and tracers). */
static void tendency(weft_weather *w, const double *s, double *k) {
    const int ny = w->ny, nx = w->nx;
    const int64_t n = w->n;
    const double *h = s, *u = s + n, *v = s + 2 * n;
    double *kh = k, *ku = k + n, *kv = k + 2 * n, *D = w->div;
    const double g = WEFT_WEATHER_G, ymid = 0.5 * (ny - 1);

    /* divergence at cell centres */
    for (int j = 0; j < ny; j++) {
        for (int i = 0; i < nx; i++) {
            int im = i == 0 ? nx - 1 : i - 1;
            int64_t c = (int64_t)j * nx;
            double vs = j > 0 ? v[c - nx + i] : 0.0;
            D[c + i] = u[c + i] - u[c + im] + v[c + i] - vs;
        }
    }

    for (int j = 0; j < ny; j++) {
        int64_t c = (int64_t)j * nx, cn = j < ny - 1 ? c + nx : c, cs = j > 0 ? c - nx : c;
        for (int i = 0; i < nx; i++) {
            int im = i == 0 ? nx - 1 : i - 1, ip = i == nx - 1 ? 0 : i + 1;
            /* h: flux form, fluxes through the four faces */
            double hc = h[c + i];
            double fe = u[c + i] * 0.5 * (hc + h[c + ip]);
            double fw = u[c + im] * 0.5 * (h[c + im] + hc);
            double gn = j < ny - 1 ? v[c + i] * 0.5 * (hc + h[cn + i]) : 0.0;
            double gs = j > 0 ? v[cs + i] * 0.5 * (h[cs + i] + hc) : 0.0;
            double lh = (h[c + ip] - hc) - (hc - h[c + im]) + (j < ny - 1 ? h[cn + i] - hc : 0.0) -
                        (j > 0 ? hc - h[cs + i] : 0.0);
            kh[c + i] = -((fe - fw) + (gn - gs)) + WEFT_WEATHER_KH * lh;

            /* u at (i + 1/2, j) */
            double uc = u[c + i], un = u[cn + i], us = u[cs + i]; /* free slip: ghost = self */
            double vbar = 0.25 * (v[c + i] + v[c + ip] + (j > 0 ? v[cs + i] + v[cs + ip] : 0.0));
            double fu = WEFT_WEATHER_F0 + WEFT_WEATHER_BETA * (j - ymid);
            double lu = u[c + ip] + u[c + im] + un + us - 4 * uc;
            ku[c + i] = -uc * 0.5 * (u[c + ip] - u[c + im]) - vbar * 0.5 * (un - us) + fu * vbar -
                        g * (h[c + ip] - hc) + WEFT_WEATHER_NU * lu + WEFT_WEATHER_ND * (D[c + ip] - D[c + i]);

            /* v at (i, j + 1/2); the north wall row stays 0 */
            if (j == ny - 1) {
                kv[c + i] = 0.0;
            } else {
                int64_t c2 = c + nx; /* the row north of the face */
                double vc = v[c + i];
                double vn = j + 1 < ny - 1 ? v[c2 + i] : 0.0, vs = j > 0 ? v[cs + i] : 0.0;
                double ubar = 0.25 * (u[c + i] + u[c + im] + u[c2 + i] + u[c2 + im]);
                double fv = WEFT_WEATHER_F0 + WEFT_WEATHER_BETA * (j + 0.5 - ymid);
                double lv = v[c + ip] + v[c + im] + vn + vs - 4 * vc;
                kv[c + i] = -ubar * 0.5 * (v[c + ip] - v[c + im]) - vc * 0.5 * (vn - vs) - fv * ubar -
                            g * (h[c2 + i] - hc) + WEFT_WEATHER_NU * lv + WEFT_WEATHER_ND * (D[c2 + i] - D[c + i]);
            }
        }
    }

    /* tracers: advective form -u.grad T written with face velocities, no flux at the walls */
    for (int f = 3; f < w->nf; f++) {
        const double *t = s + f * n;
        double *kt = k + f * n;
        for (int j = 0; j < ny; j++) {
            int64_t c = (int64_t)j * nx, cn = c + nx, cs = c - nx;
            for (int i = 0; i < nx; i++) {
                int im = i == 0 ? nx - 1 : i - 1, ip = i == nx - 1 ? 0 : i + 1;
                double tc = t[c + i];
                double de = t[c + ip] - tc, dw = tc - t[c + im];
                double dn = j < ny - 1 ? t[cn + i] - tc : 0.0, ds = j > 0 ? tc - t[cs + i] : 0.0;
                double vs = j > 0 ? v[cs + i] : 0.0;
                double adv = 0.5 * (u[c + i] * de + u[c + im] * dw + v[c + i] * dn + vs * ds);
                kt[c + i] = -adv + WEFT_WEATHER_KT * ((de - dw) + (dn - ds));
            }
        }
    }
}

/* SSP-RK3 (Shu and Osher):
 *   s1 = s + dt k(s);  s2 = 3/4 s + 1/4 (s1 + dt k(s1));  s = 1/3 s + 2/3 (s2 + dt k(s2)) */
void weft_weather_step(weft_weather *w, double *s, int steps) {
    const int64_t m = w->nf * w->n;
    const double dt = WEFT_WEATHER_DT;
    double *s1 = w->s1, *s2 = w->s2, *k = w->k;
    for (int it = 0; it < steps; it++) {
        tendency(w, s, k);
        for (int64_t q = 0; q < m; q++) s1[q] = s[q] + dt * k[q];
        tendency(w, s1, k);
        for (int64_t q = 0; q < m; q++) s2[q] = 0.75 * s[q] + 0.25 * (s1[q] + dt * k[q]);
        tendency(w, s2, k);
        for (int64_t q = 0; q < m; q++) s[q] = (1.0 / 3.0) * s[q] + (2.0 / 3.0) * (s2[q] + dt * k[q]);
    }
}

void weft_weather_observe(const weft_weather *w, const double *s, float *out) {
    for (int f = 0; f < w->vars; f++) {
        const double *src = s + f * w->n;
        float *dst = out + f * w->n;
        double off = f == 0 ? WEFT_WEATHER_H : 0.0;
        double scale = f == 0 ? WEFT_WEATHER_SCALE_H : f < 3 ? WEFT_WEATHER_SCALE_U : WEFT_WEATHER_SCALE_T;
        for (int64_t c = 0; c < w->n; c++) dst[c] = (float)((src[c] - off) / scale);
    }
}

static bool all_finite(const float *p, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(p[i])) return false;
    return true;
}

weft_status weft_weather_batch(weft_weather *w, int batch, int lead, float *x, float *y, weft_err *err) {
    if (!w) return weft_err_set(err, WEFT_ERR_INVALID, "weather: generator is NULL");
    if (batch < 1) return weft_err_set(err, WEFT_ERR_INVALID, "weather: batch = %d, need at least 1", batch);
    if (lead < 1 || lead > WEFT_WEATHER_MAX_LEAD)
        return weft_err_set(err, WEFT_ERR_INVALID, "weather: lead = %d steps, need 1 to %d (default %d)", lead,
                            WEFT_WEATHER_MAX_LEAD, WEFT_WEATHER_LEAD);
    if (!x || !y) return weft_err_set(err, WEFT_ERR_INVALID, "weather: %s buffer is NULL", !x ? "x" : "y");
    const int64_t per = (int64_t)w->vars * w->n;
    for (int b = 0; b < batch; b++) {
        weft_weather_init_state(w, w->state);
        int spin = WEFT_WEATHER_SPINUP + (int)(weft_rng_u32(&w->rng) % (WEFT_WEATHER_SPINUP + 1));
        weft_weather_step(w, w->state, spin);
        weft_weather_observe(w, w->state, x + b * per);
        weft_weather_step(w, w->state, lead);
        weft_weather_observe(w, w->state, y + b * per);
        if (!all_finite(x + b * per, per) || !all_finite(y + b * per, per))
            return weft_err_set(err, WEFT_ERR_MISMATCH,
                                "weather: sample %d of the batch is not finite after %d + %d steps (unstable "
                                "integration)", b, spin, lead);
    }
    return WEFT_OK;
}
