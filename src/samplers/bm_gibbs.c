/* Sequential (single-site) Gibbs sampling of a fully visible Boltzmann machine (Geman & Geman 1984):
 * each visit draws x_i ~ p(x_i | x_-i) = sigmoid((1 - o) h_i / T) with the local field h_i = b_i + (W x)_i,
 * kept up to date in double (a change of x_k by d adds d W[:, k]), so a sweep costs O(n) per unit plus O(n)
 * per change.  Systematic scan visits 1..n in order; random scan draws n sites uniformly with replacement.
 * Row r of a call draws from Philox stream (key, r), so the chains do not depend on the thread count; a call
 * on a slice of a larger set of chains (ebm_bm_gibbs_slice) draws from the streams of their index in the set. */
#include "models/bm_internal.h"
#include "samplers/samplers_internal.h"

#include <stdlib.h>
#include <string.h>

ebm_status ebm_bm_gibbs_ws(const ebm_bm *m, float *x, size_t rows, size_t sweeps, float T, ebm_bm_scan scan,
                           ebm_rng *rng, double *hall) {
    return ebm_bm_gibbs_ws_at(m, x, rows, 0, sweeps, T, scan, rng, hall);
}

ebm_status ebm_bm_gibbs_ws_at(const ebm_bm *m, float *x, size_t rows, size_t row0, size_t sweeps, float T,
                              ebm_bm_scan scan, ebm_rng *rng, double *hall) {
    ebm_status s = ebm_bm_check_t(T);
    if (s) return s;
    if (scan != EBM_SCAN_SYSTEMATIC && scan != EBM_SCAN_RANDOM) return ebm_fail(EBM_EINVAL, "unknown scan %d", (int)scan);
    size_t n = m->n;
    double o = ebm_bm_off(m), a = (1 - o) / T;
    for (size_t r = 0; r < rows * n; r++)
        if (x[r] != 1.0f && x[r] != (float)o)
            return ebm_fail(EBM_EINVAL, "chain %zu, unit %zu holds %g, not a %s value", row0 + r / n, r % n, x[r],
                            ebm_bm_spins_name(m->spins));
    if (rows == 0 || sweeps == 0) return EBM_OK;
    uint64_t key = ebm_rng_u64(rng);
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t r = 0; r < rows; r++) {
        float *xr = x + r * n;
        double *h = hall + r * n;
        ebm_rng g;
        ebm_rng_seed(&g, key, row0 + r);
        ebm_bm_field_row(m, xr, h);
        for (size_t sw = 0; sw < sweeps; sw++)
            for (size_t t = 0; t < n; t++) {
                size_t i = scan == EBM_SCAN_RANDOM ? (size_t)ebm_rng_below(&g, n) : t;
                float v = ebm_rng_uniform(&g) < ebm_sigmoid(a * h[i]) ? 1.0f : (float)o;
                if (v != xr[i]) {
                    double d = (double)v - xr[i];
                    xr[i] = v;
                    const float *wi = m->W + i * n;
                    for (size_t j = 0; j < n; j++) h[j] += d * wi[j];
                }
            }
    }
    return EBM_OK;
}

static ebm_status bm_gibbs_alloc(const ebm_bm *m, float *x, size_t first, size_t rows, size_t sweeps, float T,
                                 ebm_bm_scan scan, ebm_rng *rng) {
    double *hall = malloc((rows ? rows : 1) * m->n * sizeof *hall);
    if (!hall) return ebm_fail(EBM_ENOMEM, "out of memory for %zu chains", rows);
    ebm_status s = ebm_bm_gibbs_ws_at(m, x, rows, first, sweeps, T, scan, rng, hall);
    free(hall);
    return s;
}

ebm_status ebm_bm_gibbs(const ebm_bm *m, float *x, size_t rows, size_t sweeps, float T, ebm_bm_scan scan,
                        ebm_rng *rng) {
    return bm_gibbs_alloc(m, x, 0, rows, sweeps, T, scan, rng);
}

ebm_status ebm_bm_gibbs_slice(const ebm_bm *m, float *x, size_t first, size_t rows, size_t sweeps, float T,
                              ebm_bm_scan scan, ebm_rng *rng) {
    return bm_gibbs_alloc(m, x, first, rows, sweeps, T, scan, rng);
}

/* Every chain's start of the set of total is drawn in order (the same draws whatever the slice); the slice's
 * are kept. */
ebm_status ebm_bm_chains_start_slice(const ebm_bm *m, const ebm_mat *data, float *x, size_t first, size_t rows,
                                     size_t total, ebm_rng *rng) {
    ebm_status s = ebm_slice_check(first, rows, total);
    if (s) return s;
    size_t n = ebm_bm_units(m);
    float off = ebm_bm_off_value(m);
    for (size_t r = 0; r < total; r++) {
        bool mine = r >= first && r - first < rows;
        float *xr = mine ? x + (r - first) * n : NULL;
        if (data) {
            size_t i = (size_t)ebm_rng_below(rng, data->rows);
            if (mine) memcpy(xr, data->data + i * n, n * sizeof(float));
        } else {
            for (size_t j = 0; j < n; j++) {
                float v = ebm_rng_uniform(rng) < 0.5 ? 1.0f : off;
                if (mine) xr[j] = v;
            }
        }
    }
    return EBM_OK;
}

void ebm_bm_chains_start(const ebm_bm *m, const ebm_mat *data, float *x, size_t rows, ebm_rng *rng) {
    ebm_bm_chains_start_slice(m, data, x, 0, rows, rows, rng);
}
