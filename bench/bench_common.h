/* Shared by the benchmark programs: a monotonic clock and the machine's measured sgemm peak (best of five
 * 2048^3 products after one warm-up call), against which every benchmark reports its fraction. */
#ifndef EBM_BENCH_COMMON_H
#define EBM_BENCH_COMMON_H

#include "ebm.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline double sgemm_peak(void) {
    const int n = 2048;
    float *A = malloc(sizeof(float) * n * n), *B = malloc(sizeof(float) * n * n), *C = malloc(sizeof(float) * n * n);
    double best = NAN;
    if (A && B && C) {
        ebm_rng_fill_uniform(1, 0, 0, A, (size_t)n * n);
        ebm_rng_fill_uniform(1, 1, 0, B, (size_t)n * n);
        best = 0;
        for (int rep = 0; rep < 6; rep++) {
            double t = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
            t = now() - t;
            double g = 2.0 * n * n * (double)n / t / 1e9;
            if (rep > 0 && g > best) best = g; /* the first call warms up the threads and the page tables */
        }
    }
    free(A);
    free(B);
    free(C);
    return best;
}

/* "BLAS: ..." (library, kernels, threads, wait policy), the first line of every benchmark's output. */
static inline void bench_print_blas(void) {
    char blas[512];
    ebm_blas_info(blas, sizeof blas);
    printf("BLAS: %s\n", blas);
}

/* sgemm_peak(), printed, and as the "RESULT impl=peak" line the compare scripts read. */
static inline double bench_print_peak(void) {
    double peak = sgemm_peak();
    printf("sgemm peak (2048^3, %d threads): %.1f GFLOP/s\n", ebm_get_threads(), peak);
    printf("RESULT impl=peak gflops=%.2f threads=%d\n", peak, ebm_get_threads());
    return peak;
}

#endif
