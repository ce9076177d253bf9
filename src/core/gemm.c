/* Matrix products through OpenBLAS, split by us into a fixed number of output blocks that OpenMP threads
 * take in turn (each block one single-threaded BLAS call: OpenBLAS's OpenMP build runs serially inside
 * a parallel region).  Two reasons, both measured on the RBM's shapes (batch 100 x 784 x 512, 2 cores):
 * OpenBLAS's own threading of such small products spends much of its time in sched_yield waiting for
 * the other thread's packed panels (a 784x512 CD-1 epoch: 1.03 s of GEMM with its threads, 0.77 s with
 * ours), and the block layout depends only on the shapes, never on the thread count, so every result
 * is bit-identical whatever OMP_NUM_THREADS is.  The output is split along its longer side into a
 * multiple of 4 blocks (balanced on 1, 2 and 4 threads), widths rounded to the kernel's unroll (16
 * columns, 4 rows of the row-major output).  An optional epilogue (ebm_sgemm_ep) runs on each block right
 * after its product, in the same thread and parallel region: the Gibbs conditionals and the CD weight
 * update use it to work on the block while it is in cache, without a pass or a fork/join of their own. */
#include "internal.h"

#include <cblas.h>
#include <omp.h>

typedef struct {
    int split_cols;   /* 1: blocks of columns of C; 0: blocks of rows */
    size_t per;       /* block width */
    size_t nb;        /* number of blocks */
} split;

/* Products of fewer than 2^18 multiply-adds stay in one block: a parallel region costs more than they do.
 * 2^18 is also OpenBLAS 0.3.21's own threshold (65536 x GEMM_MULTITHREAD_THRESHOLD 4) below which it
 * never threads, so a one-block call is single-threaded and thread-count independent too. */
static split plan(size_t m, size_t n, size_t k) {
    split s;
    s.split_cols = n >= m;
    size_t len = s.split_cols ? n : m, align = s.split_cols ? 16 : 4;
    size_t nb = len < 64 || (double)m * (double)n * (double)k < 262144.0 ? 1 : 4 * ((len + 1023) / 1024);
    size_t per = (len + nb - 1) / nb;
    per = (per + align - 1) / align * align;
    s.per = per ? per : 1;
    s.nb = (len + s.per - 1) / s.per;
    return s;
}

/* Row-major C (m, n) = alpha op(A) op(B) + beta C; op(A) is (m, k), op(B) is (k, n); then, when ep is
 * given, ep->fn on each output block by the thread that computed it, while the block is in its cache.
 * One definition for float (cblas_sgemm) and double (cblas_dgemm, never with an epilogue). */
#define DEFINE_GEMM(NAME, T, CBLAS)                                                                           \
    static void NAME##_impl(int ta, int tb, size_t m, size_t n, size_t k, T alpha, const T *A, size_t lda,    \
                            const T *B, size_t ldb, T beta, T *C, size_t ldc, const ebm_gemm_ep *ep) {        \
        if (m == 0 || n == 0) return;                                                                         \
        split s = plan(m, n, k);                                                                                 \
        if (s.nb == 1 && (double)m * (double)n * (double)k >= 262144.0 && !omp_in_parallel() &&                  \
            omp_get_max_threads() > 1) {                                                                         \
            /* a small output with a long sum (a conv weight gradient, say): OpenBLAS would thread it            \
             * itself and its sums would depend on the thread count; inside an active parallel region            \
             * it runs serially, so one thread of a region issues it */                                          \
            _Pragma("omp parallel num_threads(2)")                                                               \
            _Pragma("omp single")                                                                                \
            NAME##_impl(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, ep);                               \
            return;                                                                                              \
        }                                                                                                        \
        const size_t len = s.split_cols ? n : m;                                                              \
        const enum CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;  \
        _Pragma("omp parallel for schedule(static) if (s.nb > 1)")                                           \
        for (size_t b = 0; b < s.nb; b++) {                                                                   \
            size_t x0 = b * s.per, x1 = x0 + s.per < len ? x0 + s.per : len;                                  \
            if (s.split_cols)                                                                                 \
                CBLAS(CblasRowMajor, TA, TB, (int)m, (int)(x1 - x0), (int)k, alpha, A, (int)lda,              \
                      tb ? B + x0 * ldb : B + x0, (int)ldb, beta, C + x0, (int)ldc);                          \
            else                                                                                              \
                CBLAS(CblasRowMajor, TA, TB, (int)(x1 - x0), (int)n, (int)k, alpha, ta ? A + x0 : A + x0 * lda, \
                      (int)lda, B, (int)ldb, beta, C + x0 * ldc, (int)ldc);                                   \
            if (ep) {                                                                                         \
                if (s.split_cols) ep->fn(ep->ctx, 0, m, x0, x1);                                              \
                else ep->fn(ep->ctx, x0, x1, 0, n);                                                           \
            }                                                                                                 \
        }                                                                                                     \
    }

DEFINE_GEMM(sgemm, float, cblas_sgemm)
DEFINE_GEMM(dgemm, double, cblas_dgemm)

void ebm_sgemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *A, size_t lda, const float *B,
               size_t ldb, float beta, float *C, size_t ldc) {
    sgemm_impl(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, NULL);
}

void ebm_sgemm_ep(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *A, size_t lda,
                  const float *B, size_t ldb, float beta, float *C, size_t ldc, const ebm_gemm_ep *ep) {
    sgemm_impl(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, ep);
}

void ebm_dgemm(int ta, int tb, size_t m, size_t n, size_t k, double alpha, const double *A, size_t lda,
               const double *B, size_t ldb, double beta, double *C, size_t ldc) {
    dgemm_impl(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, NULL);
}

void ebm_colsum(const float *A, size_t rows, size_t cols, const float *w, float *out) {
    /* out (cols) = sum_r w[r] A[r, :]; A is (rows, cols), w (rows). Column blocks, rows in order. */
    size_t nb = cols < 256 ? 1 : 4;
    size_t per = (cols + nb - 1) / nb;
#pragma omp parallel for schedule(static) if (nb > 1)
    for (size_t b = 0; b < nb; b++) {
        size_t c0 = b * per, c1 = c0 + per < cols ? c0 + per : cols;
        for (size_t c = c0; c < c1; c++) out[c] = 0.0f;
        for (size_t r = 0; r < rows; r++) {
            const float *row = A + r * cols;
            float wr = w[r];
#pragma omp simd
            for (size_t c = c0; c < c1; c++) out[c] += wr * row[c];
        }
    }
}
