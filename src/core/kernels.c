/* Element-wise kernels on raw arrays: the logistic sigmoid with Bernoulli sampling (the conditionals
 * p(h|v), p(v|h) of an RBM), row sums of softplus (free energies), and finiteness checks.  Loops are
 * written so GCC vectorises them (libmvec expf/log1p, see vmath.h); OpenMP splits rows across threads
 * and each row draws from its own Philox stream (key, row), so samples do not depend on thread count. */
#include "internal.h"
#include "vmath.h"

#include <omp.h>

/* Below this many elements the OpenMP fork costs more than it saves. */
#define PAR_MIN 32768

void ebm_k_sigmoid_bernoulli(float *x, const float *bias, size_t n, size_t m, float inv_t, uint64_t key,
                             float *sample) {
    /* x is (n, m) pre-activations without bias, overwritten by probabilities; bias is (m);
     * sample is (n, m) or NULL. */
#pragma omp parallel for schedule(static) if (n * m >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float *row = x + i * m;
#pragma omp simd
        for (size_t j = 0; j < m; j++) row[j] = 1.0f / (1.0f + expf(-(row[j] + bias[j]) * inv_t));
        if (!sample) continue;
        float *s = sample + i * m;
        uint32_t u[512];
        for (size_t j0 = 0; j0 < m; j0 += 512) {
            size_t len = m - j0 < 512 ? m - j0 : 512;
            ebm_rng_fill_u32(key, (uint64_t)i, j0, u, len);
#pragma omp simd
            for (size_t j = 0; j < len; j++)
                s[j0 + j] = (float)(u[j] >> 8) * 0x1.0p-24f < row[j0 + j] ? 1.0f : 0.0f;
        }
    }
}

void ebm_k_softplus_rowsum(const float *x, const float *bias, size_t n, size_t m, float inv_t, double *out) {
    /* x is (n, m), bias (m), out (n); softplus(z) = max(z, 0) + log1p(exp(-|z|)) in double. */
#pragma omp parallel for schedule(static) if (n * m >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        const float *row = x + i * m;
        double acc = 0.0;
#pragma omp simd reduction(+ : acc)
        for (size_t j = 0; j < m; j++) {
            double z = ((double)row[j] + (double)bias[j]) * (double)inv_t;
            double az = z < 0 ? -z : z;
            acc += (z > 0 ? z : 0.0) + log1p(exp(-az));
        }
        out[i] = acc;
    }
}

bool ebm_k_all_finite(const float *x, size_t n, size_t *bad) {
    /* Summing x * 0 is NaN exactly when some x is NaN or infinite; only then look for the index. */
    float probe = 0.0f;
#pragma omp simd reduction(+ : probe)
    for (size_t i = 0; i < n; i++) probe += x[i] * 0.0f;
    if (probe == 0.0f) return true;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            if (bad) *bad = i;
            return false;
        }
    return true;
}
