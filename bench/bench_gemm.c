/* bench_gemm: ebm's blocked GEMM (src/core/gemm.c, the plan every product of the library goes through) at the
 * shapes of training and sampling, beside one cblas_sgemm call of the same product with OpenBLAS's own
 * threading (the peer), and as a fraction of the sgemm peak measured here first.  Microseconds per product,
 * best of 7 rounds of about 1 GFLOP each.  The shapes: the RBM's CD products at batch 100 (784 x 512), the
 * sampler's products with more chains than units (1000, 2000 chains), narrow layers against wide batches
 * (GRBM 64 hidden at batch 100 and 256; 500 chains x 100 units), a small MLP layer (128 x 128 x 128), the
 * CNN's flattened linear layer (128 x 128 x 3136) and a toy GRBM's 3000 chains (3000 x 32 x 64).
 * docs/distributed.md ("Sampling") gives the figures against the earlier plan. */
#include "ebm.h"
#include "bench_common.h"
#include "../src/cli/reexec.h"

#include <stdio.h>
#include <string.h>

/* internal to libebm (src/core/internal.h): C (m, n) = alpha op(A) op(B) + beta C, row-major */
void ebm_sgemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *A, size_t lda, const float *B,
               size_t ldb, float beta, float *C, size_t ldc);

static double best_us(int ebm, size_t m, size_t n, size_t k, const float *A, const float *B, float *C) {
    int reps = (int)(1e9 / (2.0 * (double)m * (double)n * (double)k)) + 1;
    double best = 1e30;
    for (int r = 0; r < 7; r++) {
        double t0 = now();
        for (int i = 0; i < reps; i++) {
            if (ebm) ebm_sgemm(0, 0, m, n, k, 1.0f, A, k, B, n, 0.0f, C, n);
            else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, A, (int)k, B,
                             (int)n, 0.0f, C, (int)n);
        }
        double t = (now() - t0) / reps;
        if (t < best) best = t;
    }
    return best * 1e6;
}

int main(int argc, char **argv) {
    cli_reexec_for_blas(argv);
    if (argc > 1) {
        fprintf(stderr, "usage: bench_gemm (no options; OMP_NUM_THREADS sets the threads)\n");
        return 2;
    }
    static const size_t shapes[][3] = {{100, 512, 784},  {100, 784, 512},  {1000, 512, 784}, {2000, 784, 512},
                                       {100, 64, 784},   {256, 64, 784},   {500, 100, 784},  {128, 128, 128},
                                       {128, 128, 3136}, {3000, 32, 64}};
    bench_print_blas();
    double peak = bench_print_peak();
    printf("%-18s %10s %10s %8s %9s\n", "m x n x k", "ebm us", "one call", "ratio", "of peak");
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *A = malloc(m * k * sizeof(float)), *B = malloc(k * n * sizeof(float)), *C = malloc(m * n * sizeof(float));
        if (!A || !B || !C) {
            fprintf(stderr, "bench_gemm: out of memory\n");
            return 1;
        }
        ebm_rng_fill_uniform(2, 0, 0, A, m * k);
        ebm_rng_fill_uniform(2, 1, 0, B, k * n);
        double e = best_us(1, m, n, k, A, B, C), o = best_us(0, m, n, k, A, B, C);
        double frac = 2.0 * (double)m * (double)n * (double)k / (e * 1e-6) / 1e9 / peak;
        char name[32];
        snprintf(name, sizeof name, "%zux%zux%zu", m, n, k);
        printf("%-18s %10.1f %10.1f %7.2fx %8.0f%%\n", name, e, o, o / e, 100.0 * frac);
        printf("RESULT impl=gemm shape=%s ebm_us=%.2f openblas_us=%.2f peak_frac=%.4f\n", name, e, o, frac);
        free(A);
        free(B);
        free(C);
    }
    return 0;
}
