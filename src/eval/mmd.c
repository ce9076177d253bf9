/* Kernel maximum mean discrepancy (Gretton, Borgwardt, Rasch, Schoelkopf & Smola 2012, "A kernel
 * two-sample test", JMLR 13, eq. 3: the unbiased estimate MMD_u^2) with the Gaussian kernel
 * k(a, b) = exp(-||a - b||^2 / (2 bw^2)); the default bandwidth is the median pairwise distance of the
 * pooled sample (the "median heuristic" of the same paper, section 8).  Squared distances come from one
 * dgemm, ||a||^2 + ||b||^2 - 2 a'b, in double. */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

ebm_status ebm_mmd_gaussian(const float *x, size_t n, const float *y, size_t m, size_t d, double bandwidth,
                            double *mmd2, double *used_bandwidth) {
    if (n < 2 || m < 2) return ebm_fail(EBM_EINVAL, "MMD needs at least 2 rows in each sample (got %zu and %zu)", n, m);
    if (d == 0) return ebm_fail(EBM_EINVAL, "MMD of zero-dimensional data");
    if (!isfinite(bandwidth)) return ebm_fail(EBM_EINVAL, "MMD bandwidth must be finite");
    size_t N = n + m, nn;
    if (!ebm_mul_ok(N, N, &nn) || N > 100000) return ebm_fail(EBM_EINVAL, "MMD of %zu rows is too large (at most 100000)", N);
    double *Z = malloc(N * d * sizeof(double)), *G = malloc(nn * sizeof(double)), *sq = malloc(N * sizeof(double));
    if (!Z || !G || !sq) {
        free(Z);
        free(G);
        free(sq);
        return ebm_fail(EBM_ENOMEM, "out of memory for MMD of %zu rows", N);
    }
    for (size_t i = 0; i < n * d; i++) Z[i] = x[i];
    for (size_t i = 0; i < m * d; i++) Z[n * d + i] = y[i];
    ebm_status s = EBM_OK;
    for (size_t i = 0; i < N * d; i++)
        if (!isfinite(Z[i])) {
            s = ebm_fail(EBM_EINVAL, "MMD input row %zu holds a non-finite value", i / d);
            goto out;
        }
    for (size_t i = 0; i < N; i++) {
        double a = 0;
        for (size_t k = 0; k < d; k++) a += Z[i * d + k] * Z[i * d + k];
        sq[i] = a;
    }
    ebm_dgemm(0, 1, N, N, d, 1.0, Z, d, Z, d, 0.0, G, N);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++) {
            double v = sq[i] + sq[j] - 2 * G[i * N + j];
            G[i * N + j] = v > 0 && i != j ? v : 0;
        }
    double bw = bandwidth;
    if (bw <= 0) {
        size_t np = N * (N - 1) / 2, k = 0;
        double *dist = malloc(np * sizeof(double));
        if (!dist) {
            s = ebm_fail(EBM_ENOMEM, "out of memory for the median heuristic");
            goto out;
        }
        for (size_t i = 0; i < N; i++)
            for (size_t j = i + 1; j < N; j++) dist[k++] = G[i * N + j];
        qsort(dist, np, sizeof(double), cmp_double);
        bw = sqrt(np % 2 ? dist[np / 2] : 0.5 * (dist[np / 2 - 1] + dist[np / 2]));
        free(dist);
        if (!(bw > 0)) bw = 1.0;
    }
    double g = -1.0 / (2 * bw * bw), sxx = 0, syy = 0, sxy = 0;
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++) {
            if (i == j) continue;
            double k = exp(G[i * N + j] * g);
            if (i < n && j < n) sxx += k;
            else if (i >= n && j >= n) syy += k;
            else if (i < n) sxy += k;
        }
    *mmd2 = sxx / ((double)n * (double)(n - 1)) + syy / ((double)m * (double)(m - 1)) - 2 * sxy / ((double)n * (double)m);
    if (used_bandwidth) *used_bandwidth = bw;
out:
    free(Z);
    free(G);
    free(sq);
    return s;
}
