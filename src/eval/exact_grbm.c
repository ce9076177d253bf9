/* Exact partition function and moments of a Gaussian-Bernoulli RBM by summing over its hidden layer.
 * For fixed h the joint density is Gaussian in v, so (Liao et al. 2022, eq. 2-4; any GRBM text)
 *   Z_T = sum_h exp(b'h / T) int exp(-E(v, h) / T) dv
 *       = (2 pi T)^(n/2) prod_i sigma_i * sum_h exp([b'h + sum_i ((W h)_i^2 + 2 mu_i (W h)_i) / (2 sigma_i^2)] / T),
 * and p(v) at T = 1 is the mixture sum_h p(h) N(W h + mu, diag sigma^2) with p(h) proportional to the summand,
 * whose mean is sum_h p(h) m_h and covariance diag sigma^2 + sum_h p(h) m_h m_h' - mean mean' (m_h = W h + mu).
 * 2^n_hid configurations are processed in chunks: one dgemm per chunk, terms in double, a log-sum-exp per
 * chunk combined in chunk order, so the result does not depend on the thread count. */
#include "models/grbm_internal.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK 1024

typedef struct {
    size_t H, nv;
    double *Wt;     /* (H, nv) = W' */
    double *iv;     /* (nv) 1 / sigma^2 */
    double *X, *M;  /* (CHUNK, H), (CHUNK, nv) */
    double *term;   /* (CHUNK) */
} enum_ws;

static void ws_free(enum_ws *w) {
    free(w->Wt);
    free(w->iv);
    free(w->X);
    free(w->M);
    free(w->term);
}

static ebm_status ws_make(const ebm_grbm *m, enum_ws *w) {
    memset(w, 0, sizeof *w);
    if (m->n_hid > EBM_EXACT_MAX_UNITS)
        return ebm_fail(EBM_EINVAL,
                        "exact enumeration of a GRBM needs at most %d hidden units; this one has %zu (use AIS instead)",
                        EBM_EXACT_MAX_UNITS, m->n_hid);
    w->H = m->n_hid;
    w->nv = m->n_vis;
    w->Wt = malloc(w->H * w->nv * sizeof(double));
    w->iv = malloc(w->nv * sizeof(double));
    w->X = malloc(CHUNK * w->H * sizeof(double));
    w->M = malloc(CHUNK * w->nv * sizeof(double));
    w->term = malloc(CHUNK * sizeof(double));
    if (!w->Wt || !w->iv || !w->X || !w->M || !w->term) {
        ws_free(w);
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < w->nv; i++)
        for (size_t j = 0; j < w->H; j++) w->Wt[j * w->nv + i] = m->W[i * w->H + j];
    float *ivf = malloc(w->nv * sizeof(float));
    if (!ivf) {
        ws_free(w);
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    grbm_variances(m, ivf, NULL);
    for (size_t i = 0; i < w->nv; i++) w->iv[i] = ivf[i];
    free(ivf);
    return EBM_OK;
}

/* X (cnt, H) = bits of first..first+cnt-1; M (cnt, nv) = X W'; term[q] = log of the summand at T. */
static void chunk_terms(const ebm_grbm *m, enum_ws *w, uint64_t first, size_t cnt, double T) {
    size_t H = w->H, nv = w->nv;
    for (size_t q = 0; q < cnt; q++)
        for (size_t j = 0; j < H; j++) w->X[q * H + j] = (double)(((first + q) >> j) & 1u);
    ebm_dgemm(0, 0, cnt, nv, H, 1.0, w->X, H, w->Wt, nv, 0.0, w->M, nv);
#pragma omp parallel for schedule(static) if (cnt * nv >= 16384)
    for (size_t q = 0; q < cnt; q++) {
        double t = 0;
        for (size_t j = 0; j < H; j++) t += m->b[j] * w->X[q * H + j];
        const double *mq = w->M + q * nv;
        for (size_t i = 0; i < nv; i++) t += (mq[i] * mq[i] + 2.0 * m->mu[i] * mq[i]) * 0.5 * w->iv[i];
        w->term[q] = t / T;
    }
}

static double gauss_part(const enum_ws *w, double T) {
    double g = 0;
    for (size_t i = 0; i < w->nv; i++) g += 0.5 * log(2 * M_PI * T / w->iv[i]);
    return g;
}

ebm_status ebm_grbm_log_z_exact(const ebm_grbm *m, float T, double *log_z) {
    if (!(T > 0) || !isfinite(T)) return ebm_fail(EBM_EINVAL, "temperature must be a positive number, got %g", T);
    enum_ws w;
    ebm_status s = ws_make(m, &w);
    if (s) return s;
    uint64_t total = (uint64_t)1 << w.H;
    double run_max = -INFINITY, run_sum = 0;
    for (uint64_t first = 0; first < total; first += CHUNK) {
        size_t cnt = total - first < CHUNK ? (size_t)(total - first) : CHUNK;
        chunk_terms(m, &w, first, cnt, T);
        double mx = -INFINITY, sum = 0;
        for (size_t q = 0; q < cnt; q++) mx = w.term[q] > mx ? w.term[q] : mx;
        for (size_t q = 0; q < cnt; q++) sum += exp(w.term[q] - mx);
        if (mx > run_max) {
            run_sum = run_sum * exp(run_max - mx) + sum;
            run_max = mx;
        } else {
            run_sum += sum * exp(mx - run_max);
        }
    }
    *log_z = gauss_part(&w, T) + run_max + log(run_sum);
    ws_free(&w);
    if (!isfinite(*log_z)) return ebm_fail(EBM_ENAN, "log Z is not finite (%g)", *log_z);
    return EBM_OK;
}

ebm_status ebm_grbm_log_likelihood(const ebm_grbm *m, const float *v, size_t n, double log_z, double *ll) {
    if (n == 0) return ebm_fail(EBM_EINVAL, "log-likelihood of an empty data set");
    double *F = malloc(n * sizeof *F);
    if (!F) return ebm_fail(EBM_ENOMEM, "out of memory");
    ebm_status s = ebm_grbm_free_energy(m, v, n, 1.0f, F);
    if (!s) {
        double acc = 0;
        for (size_t i = 0; i < n; i++) acc -= F[i];
        *ll = acc / (double)n - log_z;
    }
    free(F);
    return s;
}

ebm_status ebm_grbm_moments_exact(const ebm_grbm *m, double *mean, double *cov) {
    double log_z;
    ebm_status s = ebm_grbm_log_z_exact(m, 1.0f, &log_z);
    if (s) return s;
    enum_ws w;
    if ((s = ws_make(m, &w))) return s;
    size_t nv = w.nv;
    double lz = log_z - gauss_part(&w, 1.0);
    double *PM = malloc(CHUNK * nv * sizeof(double)), *S = calloc(nv * nv, sizeof(double)), *mb = calloc(nv, sizeof(double));
    if (!PM || !S || !mb) {
        free(PM);
        free(S);
        free(mb);
        ws_free(&w);
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    uint64_t total = (uint64_t)1 << w.H;
    for (uint64_t first = 0; first < total; first += CHUNK) {
        size_t cnt = total - first < CHUNK ? (size_t)(total - first) : CHUNK;
        chunk_terms(m, &w, first, cnt, 1.0);
        for (size_t q = 0; q < cnt; q++) {
            double p = exp(w.term[q] - lz);
            for (size_t i = 0; i < nv; i++) {
                w.M[q * nv + i] += m->mu[i]; /* m_h */
                PM[q * nv + i] = p * w.M[q * nv + i];
                mb[i] += PM[q * nv + i];
            }
        }
        if (cov) ebm_dgemm(1, 0, nv, nv, cnt, 1.0, PM, nv, w.M, nv, 1.0, S, nv);
    }
    for (size_t i = 0; i < nv; i++) mean[i] = mb[i];
    if (cov)
        for (size_t i = 0; i < nv; i++)
            for (size_t j = 0; j < nv; j++) cov[i * nv + j] = S[i * nv + j] - mb[i] * mb[j] + (i == j ? 1.0 / w.iv[i] : 0.0);
    free(PM);
    free(S);
    free(mb);
    ws_free(&w);
    return EBM_OK;
}
