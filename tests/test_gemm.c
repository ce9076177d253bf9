/* Matrix products through ebm_sgemm: the same bits on 1 and 2 threads for every kind of shape (tiny, a
 * small output with a long sum such as a conv weight gradient, a split batch product), and the right
 * values (a double-precision reference, relative error below 1e-5 of the sum of |terms|). */
#include "check.h"

#include "core/internal.h"

static void fill(float *x, size_t n, uint64_t seed) {
    ebm_rng r;
    ebm_rng_seed(&r, seed, 0);
    for (size_t i = 0; i < n; i++) x[i] = (float)ebm_rng_normal(&r);
}

int main(void) {
    const size_t shapes[5][3] = {{4000, 2, 2}, {32, 9, 18816}, {100, 512, 784}, {128, 784, 512}, {7, 300, 5000}};
    for (int t = 0; t < 5; t++) {
        size_t m = shapes[t][0], n = shapes[t][1], k = shapes[t][2];
        float *A = malloc(m * k * sizeof(float)), *B = malloc(k * n * sizeof(float));
        float *C1 = malloc(m * n * sizeof(float)), *C2 = malloc(m * n * sizeof(float));
        fill(A, m * k, 1 + (uint64_t)t);
        fill(B, k * n, 100 + (uint64_t)t);
        int saved = ebm_get_threads();
        ebm_set_threads(1);
        ebm_sgemm(0, 0, m, n, k, 1.0f, A, k, B, n, 0.0f, C1, n);
        ebm_set_threads(2);
        ebm_sgemm(0, 0, m, n, k, 1.0f, A, k, B, n, 0.0f, C2, n);
        ebm_set_threads(saved);
        CHECK_MSG(memcmp(C1, C2, m * n * sizeof(float)) == 0, "%zu x %zu x %zu differs between 1 and 2 threads", m, n, k);
        double worst = 0;
        for (size_t i = 0; i < m; i += 1 + m / 16)
            for (size_t j = 0; j < n; j += 1 + n / 16) {
                double ref = 0, mag = 0;
                for (size_t q = 0; q < k; q++) {
                    ref += (double)A[i * k + q] * B[q * n + j];
                    mag += fabs((double)A[i * k + q] * B[q * n + j]);
                }
                double e = fabs(C2[i * n + j] - ref) / mag;
                worst = e > worst ? e : worst;
            }
        CHECK_MSG(worst < 1e-5, "%zu x %zu x %zu: relative error %g", m, n, k, worst);
        free(A);
        free(B);
        free(C1);
        free(C2);
    }
    return check_summary("test_gemm");
}
