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

/* The fused conditional (ebm_k_sigbern_ep as the epilogue of ebm_sgemm_ep, and of ebm_mm_gemm_ep in every
 * precision) gives the bits of the product followed by ebm_k_sigmoid_bernoulli_at and a scaling pass, on
 * 1, 2 and 3 threads, for outputs split by columns, by rows, and in one block, with a column count that
 * is no multiple of 16 and rows that draw from an offset stream. */
static void test_sigbern_epilogue(void) {
    const size_t shapes[4][3] = {{100, 784, 512}, {900, 70, 300}, {5, 9, 7}, {200, 333, 61}};
    for (int t = 0; t < 4; t++) {
        size_t m = shapes[t][0], n = shapes[t][1], k = shapes[t][2], from = m / 3, split = m / 2;
        float *A = malloc(m * k * sizeof(float)), *B = malloc(k * n * sizeof(float)), *bias = malloc(n * sizeof(float));
        float *ref = malloc(m * n * sizeof(float)), *ref_s = calloc(m * n, sizeof(float));
        float *got = malloc(m * n * sizeof(float)), *got_s = calloc(m * n, sizeof(float));
        fill(A, m * k, 7 + (uint64_t)t);
        fill(B, k * n, 70 + (uint64_t)t);
        fill(bias, n, 700 + (uint64_t)t);
        for (size_t i = 0; i < k * n; i++) B[i] *= 0.2f;
        const float inv_t = 0.8f, lo = 0.25f, hi = -0.5f;
        const uint64_t key = 99, row0 = 5;
        for (int prec = 0; prec < 2; prec++) {
            ebm_mm *mm = NULL;
            if (prec && ebm_mm_new(EBM_PRECISION_BF16, 0, &mm) != EBM_OK) break; /* no oneDNN in this build */
            int saved = ebm_get_threads();
            ebm_set_threads(1);
            ebm_mm_gemm(mm, 0, 0, m, n, k, 1.0f, A, k, B, n, 0.0f, ref, n);
            ebm_k_sigmoid_bernoulli(ref, bias, from, n, inv_t, 0, NULL);
            ebm_k_sigmoid_bernoulli_at(ref + from * n, bias, m - from, n, inv_t, key, row0, ref_s);
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) ref[i * n + j] *= i < split ? lo : hi;
            for (int th = 1; th <= 3; th++) {
                ebm_set_threads(th);
                memset(got_s, 0, m * n * sizeof(float));
                ebm_sigbern e = {got, n, bias, inv_t, key, row0, from, got_s, n, split, lo, hi};
                ebm_gemm_ep ep = {ebm_k_sigbern_ep, &e};
                ebm_mm_gemm_ep(mm, 0, 0, m, n, k, 1.0f, A, k, B, n, 0.0f, got, n, &ep);
                CHECK_MSG(memcmp(ref, got, m * n * sizeof(float)) == 0 && memcmp(ref_s, got_s, m * n * sizeof(float)) == 0,
                          "%s %zu x %zu x %zu on %d threads: fused conditional differs", prec ? "bf16" : "fp32", m, n, k, th);
            }
            ebm_set_threads(saved);
            /* the draws are real: about half of them 1 */
            double ones = 0;
            for (size_t i = 0; i < (m - from) * n; i++) ones += got_s[i];
            CHECK_MSG(ones > 0.2 * (double)((m - from) * n) && ones < 0.8 * (double)((m - from) * n), "ones %g", ones);
            ebm_mm_free(mm);
        }
        free(A), free(B), free(bias), free(ref), free(ref_s), free(got), free(got_s);
    }
}

int main(void) {
    test_sigbern_epilogue();
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
