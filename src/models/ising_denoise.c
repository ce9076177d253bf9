/* Binary image denoising with a grid Ising prior (Besag 1986; Bishop, PRML section 8.3.3):
 *   E(y; x) = -beta sum_{i~j} y_i y_j - eta sum_i x_i y_i - h sum_i y_i,  y, x in {-1,+1}^(H x W),
 * 4-neighbour grid.  The local field of pixel i is f_i = beta sum_{j~i} y_j + eta x_i + h, so
 * p(y_i = +1 | rest) = sigmoid(2 f_i / T) and setting y_i = sign(f_i) never raises the energy (ICM).
 * MAP by ICM and by simulated annealing (Kirkpatrick et al. 1983; Geman & Geman 1984) with a geometric
 * temperature schedule, posterior marginals by Gibbs with Rao-Blackwellised averages of p(y_i = +1 | rest).
 * Exact marginals for tiny grids go through the fully visible BM with W_ij = beta on grid edges. */
#include "models/bm_internal.h"

#include <stdlib.h>
#include <string.h>

static ebm_status check_grid(const ebm_ising *g, const float *y) {
    if (!g || !g->x || !y) return ebm_fail(EBM_EINVAL, "Ising denoising needs an observation and a state");
    if (g->height == 0 || g->width == 0) return ebm_fail(EBM_EINVAL, "empty image (%zu x %zu)", g->height, g->width);
    if (!isfinite(g->beta) || !isfinite(g->eta) || !isfinite(g->h))
        return ebm_fail(EBM_EINVAL, "beta, eta and h must be finite numbers");
    return EBM_OK;
}

static inline float spin(float v) { return v > 0 ? 1.0f : -1.0f; }

/* f_i = beta * (sum of the 4 neighbours) + eta x_i + h */
static inline double field(const ebm_ising *g, const float *y, size_t r, size_t c) {
    size_t W = g->width, i = r * W + c;
    double s = 0;
    if (r > 0) s += y[i - W];
    if (r + 1 < g->height) s += y[i + W];
    if (c > 0) s += y[i - 1];
    if (c + 1 < W) s += y[i + 1];
    return g->beta * s + g->eta * spin(g->x[i]) + g->h;
}

static void to_spins(float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = spin(y[i]);
}

ebm_status ebm_ising_energy(const ebm_ising *g, const float *y, double *E) {
    ebm_status s = check_grid(g, y);
    if (s) return s;
    size_t H = g->height, W = g->width;
    double pair = 0, obs = 0, sum = 0;
    for (size_t r = 0; r < H; r++)
        for (size_t c = 0; c < W; c++) {
            size_t i = r * W + c;
            double yi = spin(y[i]);
            if (c + 1 < W) pair += yi * spin(y[i + 1]);
            if (r + 1 < H) pair += yi * spin(y[i + W]);
            obs += yi * spin(g->x[i]);
            sum += yi;
        }
    *E = -g->beta * pair - g->eta * obs - g->h * sum;
    return EBM_OK;
}

ebm_status ebm_ising_icm(const ebm_ising *g, float *y, size_t max_sweeps, size_t *sweeps) {
    ebm_status s = check_grid(g, y);
    if (s) return s;
    size_t H = g->height, W = g->width, done = 0;
    to_spins(y, H * W);
    for (;;) {
        if (max_sweeps && done >= max_sweeps) break;
        size_t changed = 0;
        for (size_t r = 0; r < H; r++)
            for (size_t c = 0; c < W; c++) {
                double f = field(g, y, r, c);
                float v = f > 0 ? 1.0f : f < 0 ? -1.0f : y[r * W + c];
                if (v != y[r * W + c]) {
                    y[r * W + c] = v;
                    changed++;
                }
            }
        done++;
        if (!changed) break;
    }
    if (sweeps) *sweeps = done;
    return EBM_OK;
}

/* One raster-order Gibbs sweep at temperature T; marg (may be NULL) += p(y_i = +1 | rest). */
static void gibbs_sweep(const ebm_ising *g, float *y, double T, ebm_rng *rng, double *marg) {
    size_t H = g->height, W = g->width;
    for (size_t r = 0; r < H; r++)
        for (size_t c = 0; c < W; c++) {
            double p = ebm_sigmoid(2.0 * field(g, y, r, c) / T);
            if (marg) marg[r * W + c] += p;
            y[r * W + c] = ebm_rng_uniform(rng) < p ? 1.0f : -1.0f;
        }
}

ebm_status ebm_ising_anneal(const ebm_ising *g, float *y, size_t sweeps, float T0, float T1, ebm_rng *rng) {
    ebm_status s = check_grid(g, y);
    if (s) return s;
    if (!(T0 > 0) || !(T1 > 0) || !(T1 <= T0) || !isfinite(T0))
        return ebm_fail(EBM_EINVAL, "annealing needs temperatures T0 >= T1 > 0 (got %g and %g)", T0, T1);
    to_spins(y, g->height * g->width);
    double ratio = sweeps > 1 ? pow((double)T1 / T0, 1.0 / (double)(sweeps - 1)) : 1.0;
    double T = T0;
    for (size_t k = 0; k < sweeps; k++, T *= ratio) gibbs_sweep(g, y, T, rng, NULL);
    return ebm_ising_icm(g, y, 0, NULL);
}

ebm_status ebm_ising_gibbs(const ebm_ising *g, float *y, size_t burn_in, size_t sweeps, ebm_rng *rng, float *marg) {
    ebm_status s = check_grid(g, y);
    if (s) return s;
    if (sweeps == 0) return ebm_fail(EBM_EINVAL, "Gibbs marginals need at least one sweep after burn-in");
    size_t n = g->height * g->width;
    double *acc = calloc(n, sizeof *acc);
    if (!acc) return ebm_fail(EBM_ENOMEM, "out of memory");
    to_spins(y, n);
    for (size_t k = 0; k < burn_in; k++) gibbs_sweep(g, y, 1.0, rng, NULL);
    for (size_t k = 0; k < sweeps; k++) gibbs_sweep(g, y, 1.0, rng, acc);
    for (size_t i = 0; i < n; i++) marg[i] = (float)(acc[i] / (double)sweeps);
    free(acc);
    return EBM_OK;
}

const char *ebm_ising_method_name(ebm_ising_method m) {
    return m == EBM_ISING_ANNEAL ? "anneal" : m == EBM_ISING_GIBBS ? "gibbs" : "icm";
}

ebm_status ebm_ising_denoise(const ebm_ising *g, const ebm_ising_denoise_opts *o, ebm_rng *rng, float *y,
                             float *marg) {
    ebm_status s = check_grid(g, y);
    if (s) return s;
    size_t n = g->height * g->width;
    memcpy(y, g->x, n * sizeof(float));
    if (o->method == EBM_ISING_ICM) return ebm_ising_icm(g, y, 0, NULL);
    if (o->method == EBM_ISING_ANNEAL) return ebm_ising_anneal(g, y, o->sweeps, o->t0, o->t1, rng);
    if (o->method != EBM_ISING_GIBBS) return ebm_fail(EBM_EINVAL, "unknown denoising method %d", (int)o->method);
    if (!marg) return ebm_fail(EBM_EINVAL, "Gibbs denoising needs a buffer for the marginals");
    s = ebm_ising_gibbs(g, y, o->burn_in, o->sweeps, rng, marg);
    for (size_t i = 0; !s && i < n; i++) y[i] = marg[i] > 0.5f ? 1.0f : -1.0f;
    return s;
}

void ebm_ising_threshold_pixels(const uint8_t *px, size_t n, size_t channels, float threshold, float *x) {
    size_t cc = channels >= 3 ? 3 : 1; /* grey, or the mean of R, G, B; alpha is ignored */
    for (size_t i = 0; i < n; i++) {
        double v = 0;
        for (size_t k = 0; k < cc; k++) v += px[i * channels + k];
        x[i] = v / (255.0 * (double)cc) >= threshold ? 1.0f : -1.0f;
    }
}

ebm_status ebm_ising_denoise_image(const ebm_ising *g, const ebm_ising_denoise_opts *o, uint64_t seed,
                                   uint64_t image, const float *clean, float *y, float *marg, size_t *errors) {
    ebm_rng r;
    ebm_rng_seed(&r, seed ^ 0x6973696e67ull, image * 3 + (uint64_t)o->method);
    ebm_status s = ebm_ising_denoise(g, o, &r, y, marg);
    for (size_t p = 0; !s && p < g->height * g->width; p++) *errors += y[p] != clean[p];
    return s;
}

size_t ebm_ising_salt_pepper(const float *clean, size_t n, float p, uint64_t seed, uint64_t stream, float *noisy) {
    ebm_rng r;
    ebm_rng_seed(&r, seed, stream);
    size_t changed = 0;
    for (size_t i = 0; i < n; i++) {
        float v = clean[i];
        if (ebm_rng_uniform(&r) < p) v = ebm_rng_uniform(&r) < 0.5 ? 1.0f : -1.0f;
        noisy[i] = v;
        changed += v != clean[i];
    }
    return changed;
}

ebm_status ebm_ising_marginals_exact(const ebm_ising *g, double *marg) {
    ebm_status s = check_grid(g, g ? g->x : NULL);
    if (s) return s;
    size_t H = g->height, W = g->width, n = H * W;
    if (n > EBM_EXACT_MAX_UNITS)
        return ebm_fail(EBM_EINVAL, "exact Ising marginals need at most %d pixels, not %zu", EBM_EXACT_MAX_UNITS, n);
    ebm_bm *m;
    s = ebm_bm_new(n, EBM_BM_PM1, &m);
    if (s) return s;
    /* -E = 1/2 y'Wy + b'y with W_ij = beta on each grid edge (both directions) and b = eta x + h */
    for (size_t r = 0; r < H; r++)
        for (size_t c = 0; c < W; c++) {
            size_t i = r * W + c;
            if (c + 1 < W) m->W[i * n + i + 1] = m->W[(i + 1) * n + i] = g->beta;
            if (r + 1 < H) m->W[i * n + i + W] = m->W[(i + W) * n + i] = g->beta;
            m->b[i] = g->eta * spin(g->x[i]) + g->h;
        }
    s = ebm_bm_moments_exact(m, 1.0f, marg, NULL);
    for (size_t i = 0; !s && i < n; i++) marg[i] = 0.5 * (marg[i] + 1.0); /* E[y] -> p(y = +1) */
    ebm_bm_free(m);
    return s;
}
