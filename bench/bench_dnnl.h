/* For bench_rbm: the oneDNN matmul peaks (fp32 and bf16 with fp32 results, 2048^3, oneDNN's own threads,
 * best of five after a warm-up call; bf16 operands converted once, outside the timing) and the products of
 * the RBM's CD update (M x K x N = 100x784x512: v W, 784x100x512: V' H, 100x512x784: h W') through the
 * library's three paths: ebm_sgemm (OpenBLAS), ebm_mm in oneDNN fp32 and ebm_mm in bf16 (with W's bf16
 * copy cached as training does; the other operand is rounded in every call, as in training). */
#ifndef EBM_BENCH_DNNL_H
#define EBM_BENCH_DNNL_H

#include "bench_common.h"
#include "../src/core/internal.h"

#include <stdio.h>
#include <string.h>

#ifdef EBM_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>

/* GFLOP/s of the best of 5 oneDNN n^3 products in bf16 (bf16 != 0) or fp32; NAN when oneDNN refuses. */
static inline double dnnl_peak(int bf16) {
    const int n = 2048;
    dnnl_engine_t eng = NULL;
    dnnl_stream_t st = NULL;
    dnnl_memory_desc_t ab, c;
    dnnl_dims_t dims = {n, n};
    dnnl_data_type_t t = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t p = NULL;
    dnnl_memory_t ma = NULL, mb = NULL, mc = NULL;
    size_t esz = bf16 ? 2 : 4;
    void *A = calloc((size_t)n * n, esz), *B = calloc((size_t)n * n, esz);
    float *C = calloc((size_t)n * n, sizeof(float));
    double best = NAN;
    if (A && B && C && dnnl_engine_create(&eng, dnnl_cpu, 0) == dnnl_success &&
        dnnl_stream_create(&st, eng, dnnl_stream_default_flags) == dnnl_success &&
        dnnl_memory_desc_init_by_tag(&ab, 2, dims, t, dnnl_ab) == dnnl_success &&
        dnnl_memory_desc_init_by_tag(&c, 2, dims, dnnl_f32, dnnl_ab) == dnnl_success &&
        dnnl_matmul_desc_init(&md, &ab, &ab, NULL, &c) == dnnl_success &&
        dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL) == dnnl_success &&
        dnnl_primitive_create(&p, pd) == dnnl_success && dnnl_memory_create(&ma, &ab, eng, A) == dnnl_success &&
        dnnl_memory_create(&mb, &ab, eng, B) == dnnl_success && dnnl_memory_create(&mc, &c, eng, C) == dnnl_success) {
        float *f = malloc(sizeof(float) * n * n);
        if (f) {
            ebm_rng_fill_uniform(1, 0, 0, f, (size_t)n * n);
            if (bf16) {
                ebm_k_to_bf16(f, n, n, n, A);
                ebm_k_to_bf16(f, n, n, n, B);
            } else {
                memcpy(A, f, sizeof(float) * n * n);
                memcpy(B, f, sizeof(float) * n * n);
            }
            free(f);
        }
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
        best = 0;
        for (int rep = 0; rep < 6; rep++) {
            double t0 = now();
            dnnl_primitive_execute(p, st, 3, args);
            dnnl_stream_wait(st);
            double g = 2.0 * n * n * (double)n / (now() - t0) / 1e9;
            if (rep > 0 && g > best) best = g;
        }
    }
    if (ma) dnnl_memory_destroy(ma);
    if (mb) dnnl_memory_destroy(mb);
    if (mc) dnnl_memory_destroy(mc);
    if (p) dnnl_primitive_destroy(p);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (st) dnnl_stream_destroy(st);
    if (eng) dnnl_engine_destroy(eng);
    free(A);
    free(B);
    free(C);
    return best;
}
#else
static inline double dnnl_peak(int bf16) {
    (void)bf16;
    return NAN;
}
#endif

/* GFLOP/s (best of reps calls after a warm-up) of one product through mm (NULL: OpenBLAS). */
static inline double cd_product_rate(ebm_mm *mm, int shape, int reps) {
    const size_t nv = 784, nh = 512, b = 100;
    float *W = malloc(sizeof(float) * nv * nh), *X = malloc(sizeof(float) * nv * nh), *C = malloc(sizeof(float) * nv * nh);
    double best = NAN;
    if (W && X && C) {
        ebm_rng_fill_uniform(2, 0, 0, W, nv * nh);
        ebm_rng_fill_uniform(2, 1, 0, X, nv * nh);
        ebm_mm_set_weights(mm, W, nv, nh);
        best = 0;
        for (int rep = 0; rep <= reps; rep++) {
            double t0 = now();
            if (shape == 0) ebm_mm_gemm(mm, 0, 0, b, nh, nv, 1.0f, X, nv, W, nh, 0.0f, C, nh);      /* v W */
            else if (shape == 1) ebm_mm_gemm(mm, 1, 0, nv, nh, b, 0.05f, X, nv, X, nh, 0.5f, C, nh); /* V' H */
            else ebm_mm_gemm(mm, 0, 1, b, nv, nh, 1.0f, X, nh, W, nh, 0.0f, C, nv);                 /* h W' */
            double g = 2.0 * (double)b * nv * nh / (now() - t0) / 1e9;
            if (rep > 0 && g > best) best = g;
        }
    }
    free(W);
    free(X);
    free(C);
    return best;
}

#endif
