/* Informative starts of Langevin chains (JEM++, Yang & Ji 2021, "JEM++: Improved techniques for training
 * JEM", section 3.1): instead of uniform noise, a chain starts at a draw from a Gaussian fitted to the
 * training data, one per class when there are labels (the class drawn with its frequency in the data), one
 * over all rows otherwise.  Each Gaussian has the class's sample mean mu and full sample covariance S plus a
 * ridge r I, r = 1e-4 x the mean variance (constant pixels, e.g. image borders, have variance 0), and draws
 * x = mu + L z with L L^T = S + r I (Cholesky) and z ~ N(0, I); draws are clipped to the data's range, as
 * JEM++ clips to the image range.  The covariance is accumulated with BLAS over chunks of rows in float on
 * centred data, the factorisation in double.  Row i of a fill draws its class and z from its own Philox
 * stream (key, row0 + i), so fills do not depend on the thread count or on how rows are split. */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

struct ebm_gauss_start {
    size_t dim, k;
    double *cum;  /* (k) cumulative class frequencies */
    float *mean;  /* (k, dim) */
    float *L;     /* (k, dim, dim) lower-triangular Cholesky factors, row-major */
    float lo, hi; /* clip range (none when lo >= hi) */
};

void ebm_gauss_start_free(ebm_gauss_start *g) {
    if (!g) return;
    free(g->cum);
    ebm_free(g->mean);
    ebm_free(g->L);
    free(g);
}

size_t ebm_gauss_start_classes(const ebm_gauss_start *g) { return g->k; }
size_t ebm_gauss_start_dim(const ebm_gauss_start *g) { return g->dim; }

/* In place: A (d, d) symmetric positive definite -> its lower Cholesky factor; 0 when A is not PD. */
static int cholesky(double *A, size_t d) {
    for (size_t j = 0; j < d; j++) {
        double s = A[j * d + j];
        for (size_t k = 0; k < j; k++) s -= A[j * d + k] * A[j * d + k];
        if (!(s > 0)) return 0;
        double ljj = sqrt(s);
        A[j * d + j] = ljj;
        for (size_t i = j + 1; i < d; i++) {
            double t = A[i * d + j];
            const double *ai = A + i * d, *aj = A + j * d;
            for (size_t k = 0; k < j; k++) t -= ai[k] * aj[k];
            A[i * d + j] = t / ljj;
        }
        for (size_t k = j + 1; k < d; k++) A[j * d + k] = 0;
    }
    return 1;
}

/* Class c's mean and Cholesky factor from its rows of data (rows listed in idx (m)). */
static ebm_status fit_class(ebm_gauss_start *g, const ebm_mat *data, const size_t *idx, size_t m, size_t c,
                            float *chunk, double *C) {
    size_t d = g->dim, CH = 1024;
    float *mu = g->mean + c * d, *L = g->L + c * d * d;
    double *acc = C; /* the mean in double first, in C's first row */
    memset(acc, 0, d * sizeof(double));
    for (size_t r = 0; r < m; r++)
        for (size_t j = 0; j < d; j++) acc[j] += data->data[idx[r] * d + j];
    for (size_t j = 0; j < d; j++) mu[j] = (float)(acc[j] / (double)m);
    /* S (float, in L's storage) = sum over chunks of the centred rows' X^T X */
    memset(L, 0, d * d * sizeof(float));
    for (size_t r0 = 0; r0 < m; r0 += CH) {
        size_t len = m - r0 < CH ? m - r0 : CH;
        for (size_t r = 0; r < len; r++)
            for (size_t j = 0; j < d; j++) chunk[r * d + j] = data->data[idx[r0 + r] * d + j] - mu[j];
        ebm_sgemm(1, 0, d, d, len, 1.0f, chunk, d, chunk, d, 1.0f, L, d);
    }
    double denom = m > 1 ? (double)(m - 1) : 1.0, tr = 0;
    for (size_t j = 0; j < d; j++) tr += L[j * d + j] / denom;
    double ridge = 1e-4 * (tr > 0 ? tr / (double)d : 1.0);
    for (int tries = 0; tries < 8; tries++, ridge *= 10) {
        for (size_t i = 0; i < d; i++)
            for (size_t j = 0; j < d; j++)
                C[i * d + j] = 0.5 * ((double)L[i * d + j] + L[j * d + i]) / denom + (i == j ? ridge : 0.0);
        if (cholesky(C, d)) {
            for (size_t i = 0; i < d * d; i++) L[i] = (float)C[i];
            return EBM_OK;
        }
    }
    return ebm_fail(EBM_ENAN, "Gaussian chain starts: the covariance of class %zu is not positive definite", c);
}

ebm_status ebm_gauss_start_fit(const ebm_mat *data, const int32_t *labels, float lo, float hi,
                               ebm_gauss_start **out) {
    *out = NULL;
    if (!data || data->rows == 0 || data->cols == 0)
        return ebm_fail(EBM_EINVAL, "Gaussian chain starts: no data to fit");
    size_t n = data->rows, d = data->cols, k = 1;
    if (d > 8192) return ebm_fail(EBM_EINVAL, "Gaussian chain starts: %zu values per row is too many for a full covariance", d);
    for (size_t i = 0; labels && i < n; i++) {
        if (labels[i] < 0 || labels[i] > 100000)
            return ebm_fail(EBM_EINVAL, "Gaussian chain starts: label %d of row %zu is out of range", (int)labels[i], i);
        if ((size_t)labels[i] + 1 > k) k = (size_t)labels[i] + 1;
    }
    size_t bad;
    if (!ebm_k_all_finite(data->data, n * d, &bad))
        return ebm_fail(EBM_EINVAL, "Gaussian chain starts: data row %zu, column %zu, is not finite", bad / d, bad % d);
    ebm_gauss_start *g = calloc(1, sizeof *g);
    size_t *idx = malloc(n * sizeof *idx), *cnt = calloc(k, sizeof *cnt);
    float *chunk = ebm_calloc(1024 * d, sizeof(float));
    double *C = ebm_calloc(d * d, sizeof(double));
    if (g) {
        g->cum = calloc(k, sizeof *g->cum);
        g->mean = ebm_calloc(k * d, sizeof(float));
        g->L = ebm_calloc(k * d * d, sizeof(float));
    }
    ebm_status s = EBM_OK;
    if (!g || !idx || !cnt || !chunk || !C || !g->cum || !g->mean || !g->L)
        s = ebm_fail(EBM_ENOMEM, "out of memory for Gaussian chain starts of %zu classes x %zu values", k, d);
    if (!s) {
        g->dim = d;
        g->k = k;
        g->lo = lo;
        g->hi = hi;
        for (size_t i = 0; i < n; i++) cnt[labels ? (size_t)labels[i] : 0]++;
        double run = 0;
        for (size_t c = 0; c < k; c++) g->cum[c] = (run += (double)cnt[c] / (double)n);
        g->cum[k - 1] = 1.0;
    }
    for (size_t c = 0; !s && c < k; c++) {
        if (cnt[c] == 0) continue; /* never drawn: its frequency is 0 */
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (!labels || (size_t)labels[i] == c) idx[m++] = i;
        s = fit_class(g, data, idx, m, c, chunk, C);
    }
    free(idx);
    free(cnt);
    ebm_free(chunk);
    ebm_free(C);
    if (s) {
        ebm_gauss_start_free(g);
        return s;
    }
    *out = g;
    return EBM_OK;
}

/* Row `row` of stream key into x (dim) from class c's Gaussian (the class drawn from the stream when c < 0); its
 * class into *cls. */
static void draw_row(const ebm_gauss_start *g, uint64_t key, uint64_t row, float *x, int32_t cl, int32_t *cls) {
    size_t d = g->dim, c = cl >= 0 ? (size_t)cl : 0;
    if (cl < 0 && g->k > 1) {
        float u;
        ebm_rng_fill_uniform(key ^ 0x636c617373ull /* "class" */, row, 0, &u, 1);
        while (c + 1 < g->k && !((double)u < g->cum[c])) c++;
    }
    ebm_rng_fill_normal(key, row, 0, x, d);
    /* x = mu + L z in place: entry j needs z[0..j], so go from the last entry down */
    const float *L = g->L + c * d * d, *mu = g->mean + c * d;
    int clip = g->lo < g->hi;
    for (size_t jj = d; jj-- > 0;) {
        const float *lj = L + jj * d;
        float t = 0;
        for (size_t k = 0; k <= jj; k++) t += lj[k] * x[k];
        t += mu[jj];
        x[jj] = clip ? (t < g->lo ? g->lo : t > g->hi ? g->hi : t) : t;
    }
    if (cls) *cls = (int32_t)c;
}

ebm_status ebm_gauss_start_fill(const ebm_gauss_start *g, uint64_t key, size_t row0, float *x, size_t n,
                                int32_t *cls) {
    if (!g) return ebm_fail(EBM_EINVAL, "Gaussian chain starts: none fitted");
    size_t d = g->dim;
#pragma omp parallel for schedule(static) if (n * d * d >= 4000000)
    for (size_t i = 0; i < n; i++) draw_row(g, key, row0 + i, x + i * d, -1, cls ? cls + i : NULL);
    return EBM_OK;
}

/* Whether class c was fitted (it had rows): its frequency is above 0. */
static int fitted(const ebm_gauss_start *g, size_t c) { return g->cum[c] > (c ? g->cum[c - 1] : 0.0); }

ebm_status ebm_gauss_start_fill_classes(const ebm_gauss_start *g, uint64_t key, size_t row0, float *x, size_t n,
                                        const int32_t *cls) {
    if (!g) return ebm_fail(EBM_EINVAL, "Gaussian chain starts: none fitted");
    if (!cls && n) return ebm_fail(EBM_EINVAL, "Gaussian chain starts: no classes given");
    for (size_t i = 0; i < n; i++)
        if (cls[i] < 0 || (size_t)cls[i] >= g->k || !fitted(g, (size_t)cls[i]))
            return ebm_fail(EBM_EINVAL, "Gaussian chain starts: class %d of row %zu has no Gaussian (%s)", (int)cls[i],
                            i, cls[i] >= 0 && (size_t)cls[i] < g->k ? "the data had no row of it" : "not a class of the data");
    size_t d = g->dim;
#pragma omp parallel for schedule(static) if (n * d * d >= 4000000)
    for (size_t i = 0; i < n; i++) draw_row(g, key, row0 + i, x + i * d, cls[i], NULL);
    return EBM_OK;
}
