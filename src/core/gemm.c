/* Matrix products through OpenBLAS, split by us into a fixed number of output blocks that OpenMP threads
 * take in turn (each block one single-threaded BLAS call: OpenBLAS's OpenMP build runs serially inside
 * a parallel region).  Two reasons, both measured on the RBM's shapes (batch 100 x 784 x 512, 2 cores):
 * OpenBLAS's own threading of such small products spends much of its time in sched_yield waiting for
 * the other thread's packed panels (a 784x512 CD-1 epoch: 1.03 s of GEMM with its threads, 0.77 s with
 * ours), and the block layout depends only on the shapes, never on the thread count, so every result
 * is bit-identical whatever OMP_NUM_THREADS is.  The output is split into blocks (plan() below says how:
 * so that a row's bits do not depend on the number of rows when the rows are data rows, and otherwise along
 * the longer side).  An optional epilogue (ebm_sgemm_ep) runs on each block right
 * after its product, in the same thread and parallel region: the Gibbs conditionals and the CD weight
 * update use it to work on the block while it is in cache, without a pass or a fork/join of their own. */
#include "internal.h"

#include <cblas.h>
#include <omp.h>

typedef struct {
    size_t m, rb;     /* rb blocks of rows of the m (row_start()) */
    size_t rper;      /* rows per block (the last takes what is left); 0: the balanced blocks of ROW_BLOCKs */
    size_t cper, cb;  /* cb blocks of columns, cper columns each; the last block is narrower */
} split;

#define SMALL 262144.0 /* 2^18 multiply-adds */
#define ROW_BLOCK ((size_t)EBM_CHAIN_BLOCK)
/* Rows per call at most, about: far below OpenBLAS's own blocking of this side (GEMM_R, thousands of rows),
 * which would otherwise restart its groups of rows at a place that depends on where the call starts. */
#define ROW_CAP (50 * ROW_BLOCK)

static size_t blocks_for(size_t len) { return 4 * ((len + 1023) / 1024); }

/* First row of row block i of s. */
static size_t row_start(const split *s, size_t i) {
    if (i >= s->rb) return s->m;
    if (s->rper) return i * s->rper;
    /* i m / rb rounded to the nearest multiple of ROW_BLOCK: rb <= m / ROW_BLOCK keeps them increasing */
    return (i * s->m + ROW_BLOCK / 2 * s->rb) / s->rb / ROW_BLOCK * ROW_BLOCK;
}

/* Products of fewer than 2^18 multiply-adds stay in one block: a parallel region costs more than they do.
 * 2^18 is also OpenBLAS 0.3.21's own threshold (65536 x GEMM_MULTITHREAD_THRESHOLD 4) below which it
 * never threads, so a one-block call is single-threaded and thread-count independent too.
 *
 * Data rows (A not transposed: row i of C is row i of A, a batch row or a sampler's chain) of 48 rows or
 * more: blocks of columns that depend on n and k alone, and rows in blocks that start at multiples of
 * ROW_BLOCK (48).  A row's bits then depend only on its place modulo 48 and on the rows after it up to the
 * next multiple of 48 (measured, OpenBLAS 0.3.21: a kernel rounds a row by its place in the groups of 12
 * rows it works on and by the size of a last, partial group; the Haswell kernels round a column by how the
 * columns are split into calls, too), never on m: a slice of chains that starts at a multiple of 48 and
 * holds at least 48 (ebm_chain_range) gives each chain's row the bits one product of all chains gives it,
 * also when the chains outnumber the units (ebm.h PART 5, "Slices").  Columns: 4 blocks per 1024 when there
 * are 256 or more (as before for the products of training, a batch of 64..128 rows against 256..1024
 * units), 2 from 128, else one.  Rows: balanced blocks of ROW_BLOCKs, 4 per 1024 rows when the columns are
 * not split, 2 when the columns are split but the rows outnumber them, else one; and at most about ROW_CAP
 * rows each.  Narrow column blocks lose when the rows outnumber the columns (500 x 100 x 784 in 4 blocks of
 * 16..32 columns: 662 us against 443 us in rows), splitting rows loses on long sums (128 x 128 x 3136: 690
 * against 650 in 2 column blocks): bench/bench_gemm measures these shapes against one OpenBLAS call.
 *
 * Otherwise (a transposed A: a weight gradient, whose rows are units) the output is split along its longer
 * side into a multiple of 4 blocks (balanced on 1, 2 and 4 threads), widths rounded to the kernel's unroll
 * (16 columns, 4 rows of the row-major output). */
static split plan(int ta, size_t m, size_t n, size_t k) {
    split s = {m, 1, m, n, 1};
    double mnk = (double)m * (double)n * (double)k;
    if (!ta && m >= ROW_BLOCK) {
        if (n >= 128 && (double)ROW_BLOCK * (double)n * (double)k >= SMALL) {
            size_t nb = n >= 256 ? blocks_for(n) : 2;
            s.cper = ((n + nb - 1) / nb + 15) / 16 * 16;
            s.cb = (n + s.cper - 1) / s.cper;
        }
        size_t rb = mnk < SMALL ? 1 : s.cb == 1 ? blocks_for(m) : m > n ? 2 : 1;
        if (rb < (m + ROW_CAP - 1) / ROW_CAP) rb = (m + ROW_CAP - 1) / ROW_CAP;
        if (rb > m / ROW_BLOCK) rb = m / ROW_BLOCK;
        s.rb = rb;
        s.rper = 0;
        return s;
    }
    int cols = n >= m;
    size_t len = cols ? n : m, align = cols ? 16 : 4;
    size_t nb = len < 64 || mnk < SMALL ? 1 : blocks_for(len);
    size_t per = (len + nb - 1) / nb;
    per = (per + align - 1) / align * align;
    per = per ? per : 1;
    nb = (len + per - 1) / per;
    if (cols) {
        s.cper = per;
        s.cb = nb;
    } else {
        s.rper = per;
        s.rb = nb;
    }
    return s;
}

/* Row-major C (m, n) = alpha op(A) op(B) + beta C; op(A) is (m, k), op(B) is (k, n); then, when ep is
 * given, ep->fn on each output block by the thread that computed it, while the block is in its cache.
 * One definition for float (cblas_sgemm) and double (cblas_dgemm, never with an epilogue). */
#define DEFINE_GEMM(NAME, T, CBLAS)                                                                           \
    static void NAME##_impl(int ta, int tb, size_t m, size_t n, size_t k, T alpha, const T *A, size_t lda,    \
                            const T *B, size_t ldb, T beta, T *C, size_t ldc, const ebm_gemm_ep *ep) {        \
        if (m == 0 || n == 0) return;                                                                         \
        split s = plan(ta, m, n, k);                                                                             \
        const size_t tiles = s.rb * s.cb;                                                                        \
        if (tiles == 1 && (double)m * (double)n * (double)k >= SMALL && !omp_in_parallel() &&                   \
            omp_get_max_threads() > 1) {                                                                         \
            /* a small output with a long sum (a conv weight gradient, say): OpenBLAS would thread it            \
             * itself and its sums would depend on the thread count; inside an active parallel region            \
             * it runs serially, so one thread of a region issues it */                                          \
            _Pragma("omp parallel num_threads(2)")                                                               \
            _Pragma("omp single")                                                                                \
            NAME##_impl(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, ep);                               \
            return;                                                                                              \
        }                                                                                                        \
        const enum CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;  \
        _Pragma("omp parallel for schedule(static) if (tiles > 1)")                                          \
        for (size_t t = 0; t < tiles; t++) {                                                                  \
            size_t rbk = t / s.cb, cbk = t % s.cb;                                                            \
            size_t r0 = row_start(&s, rbk), r1 = row_start(&s, rbk + 1);                                      \
            size_t c0 = cbk * s.cper, c1 = c0 + s.cper < n ? c0 + s.cper : n;                                 \
            CBLAS(CblasRowMajor, TA, TB, (int)(r1 - r0), (int)(c1 - c0), (int)k, alpha,                       \
                  ta ? A + r0 : A + r0 * lda, (int)lda, tb ? B + c0 * ldb : B + c0, (int)ldb, beta,           \
                  C + r0 * ldc + c0, (int)ldc);                                                               \
            if (ep) ep->fn(ep->ctx, r0, r1, c0, c1);                                                          \
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
