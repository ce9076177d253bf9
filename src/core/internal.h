/* Internal helpers shared by every module of libebm (never installed): error reporting, aligned
 * allocation, overflow-checked sizes, the element-wise kernels and small numeric utilities. */
#ifndef EBM_INTERNAL_H
#define EBM_INTERNAL_H

#include "ebm.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define EBM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define EBM_UNUSED __attribute__((unused))
#else
#define EBM_PRINTF(a, b)
#define EBM_UNUSED
#endif

/* Records a one-line message for ebm_last_error() and returns s, so callers write
 * `return ebm_fail(EBM_EFORMAT, "%s: bad magic", path);`. */
ebm_status ebm_fail(ebm_status s, const char *fmt, ...) EBM_PRINTF(2, 3);
/* Prefixes the current message with "context: " and returns s (for adding a file name). */
ebm_status ebm_fail_prefix(ebm_status s, const char *fmt, ...) EBM_PRINTF(2, 3);
void ebm_clear_error(void);

/* 64-byte aligned, zeroed; NULL on failure or overflow (message set). */
void *ebm_calloc(size_t count, size_t size);
void ebm_free(void *p);

/* a * b into *out; false on size_t overflow. */
static inline bool ebm_mul_ok(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

/* Reads a whole file into memory (gunzipping when it starts with the gzip magic and gunzip != 0).
 * *buf is malloc'd; messages name the path. Refuses files above max_bytes. */
ebm_status ebm_read_file(const char *path, int gunzip, size_t max_bytes, uint8_t **buf, size_t *len);
/* Writes len bytes atomically: temp file in the same directory, fsync, rename, fsync directory. */
ebm_status ebm_write_file_atomic(const char *path, const void *data, size_t len);
/* Opens a file for atomic writing at path: an unnamed file in its directory (O_TMPFILE) or, where that
 * is not supported, a temporary ".NAME.tmp.HOST.PID.XXXXXX" beside it (stale ones of dead processes are
 * removed here).  Write to fd; commit fsyncs and names it path (replacing the old file in one rename),
 * abort discards it and leaves the old file as it was.  Messages name path. */
typedef struct ebm_atomic_file {
    char tmp[4096];           /* the named temporary file, "" when none */
    char path[4096];
    int fd;
    bool anon;                /* an O_TMPFILE file */
} ebm_atomic_file;
ebm_status ebm_atomic_open(ebm_atomic_file *f, const char *path);
/* ebm_atomic_open with named != 0: always a named temporary file (for tests of that path) */
ebm_status ebm_atomic_open_how(ebm_atomic_file *f, const char *path, int named);
ebm_status ebm_atomic_commit(ebm_atomic_file *f);
void ebm_atomic_abort(ebm_atomic_file *f);

/* Row-major C (m, n) = alpha op(A) op(B) + beta C through BLAS, split into thread-independent blocks
 * (gemm.c); op(A) is (m, k), op(B) (k, n); lda/ldb/ldc are row strides of the stored matrices. */
void ebm_sgemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *A, size_t lda,
               const float *B, size_t ldb, float beta, float *C, size_t ldc);
void ebm_dgemm(int ta, int tb, size_t m, size_t n, size_t k, double alpha, const double *A, size_t lda,
               const double *B, size_t ldb, double beta, double *C, size_t ldc);
/* LAPACK (part of OpenBLAS): the symmetric eigen-decomposition, in double (metrics.c, feature_gauss.c). */
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                   double *work, const int *lwork, int *info);
/* A GEMM epilogue: fn(ctx, r0, r1, c0, c1) runs on the output block C[r0:r1, c0:c1] right after that block's
 * product, in the thread that computed it (so it must not start its own parallel region).  The blocks
 * depend only on the shapes, so an epilogue that treats each element (or each row's columns by position)
 * alone gives the same result for any thread count. */
typedef struct {
    void (*fn)(void *ctx, size_t r0, size_t r1, size_t c0, size_t c1);
    void *ctx;
} ebm_gemm_ep;
/* ebm_sgemm, then ep (NULL: none) on every block of C. */
void ebm_sgemm_ep(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *A, size_t lda,
                  const float *B, size_t ldb, float beta, float *C, size_t ldc, const ebm_gemm_ep *ep);
/* float -> bfloat16 bits, rounded to nearest even (NaN stays NaN, denormals become zero): what the
 * AVX512-BF16 instruction vcvtneps2bf16 computes, so the vector and scalar paths give the same bits. */
static inline uint16_t ebm_bf16(float x) {
    union {
        float f;
        uint32_t u;
    } v = {x};
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40u);
    if ((v.u & 0x7f800000u) == 0) return (uint16_t)((v.u >> 16) & 0x8000u); /* denormals flush to zero */
    return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
}
static inline float ebm_bf16_to_f32(uint16_t h) {
    union {
        uint32_t u;
        float f;
    } v = {(uint32_t)h << 16};
    return v.f;
}
/* out (rows, cols), compact, = bf16 of x (rows, cols) with row stride ld. */
void ebm_k_to_bf16(const float *x, size_t rows, size_t cols, size_t ld, uint16_t *out);
/* out (n) = bf16 of x (n), serially (for use inside a parallel region or an epilogue). */
void ebm_k_to_bf16_row(const float *x, size_t n, uint16_t *out);

/* Row work that follows a gradient in x (a sampler's move): fn(r0, r1, user) when rows [r0, r1) of dx are in.
 * It may run on any thread, inside a parallel region: no OpenMP construct in it, and no two calls share a row. */
typedef void (*ebm_rows_fn)(size_t r0, size_t r1, void *user);
/* dx (n, dim) <- dE/dx at x (n, dim), E (n) too when not NULL, then fn once on every row: inside a network
 * energy's own pass when its whole stack runs by blocks of rows (each thread moves on to fn as soon as its rows
 * are in), else e->grad_x, then fn row by row in parallel (net.c). */
ebm_status ebm_energy_grad_x_then(ebm_energy *e, const float *x, size_t n, float *E, float *dx, ebm_rows_fn fn,
                                  void *user);

/* w (n) <- the weights of rows whose energies are E (n) (a trainer's, which depend on E). */
typedef void (*ebm_weights_fn)(const float *E, size_t n, float *w, void *user);
/* E (n) <- energies of x (n, dim), w <- fn(E), then grad += sum_i w_i dE(x_i)/dtheta: a network energy's one
 * forward and one backward, else e->energy and e->grad_params (net.c). */
ebm_status ebm_energy_grad_params_weighted(ebm_energy *e, const float *x, size_t n, ebm_weights_fn fn, void *user,
                                           float *w, float *grad, float *E);

/* A matmul context at one precision (gemm_dnnl.c), owned by a trainer, sampler or AIS run.  NULL means
 * fp32 through ebm_sgemm, which is what ebm_mm_new gives for EBM_PRECISION_FP32 unless dnnl_fp32 asks for
 * oneDNN's fp32 matmul (benchmarks).  In bf16, ebm_mm_gemm rounds A and B to bf16 and accumulates in fp32
 * into the fp32 C; a B equal to the matrix last given to ebm_mm_set_weights (same pointer and shape) uses
 * the bf16 copy made there, so the caller calls it again whenever that matrix changes.  The block split
 * and every sum do not depend on the thread count.  ebm_mm_gemm has ebm_sgemm's contract. */
typedef struct ebm_mm ebm_mm;
ebm_status ebm_mm_new(ebm_precision p, int dnnl_fp32, ebm_mm **out);
void ebm_mm_free(ebm_mm *mm);
int ebm_mm_is_bf16(const ebm_mm *mm);
ebm_status ebm_mm_set_weights(ebm_mm *mm, const float *W, size_t rows, size_t cols);
/* The bf16 copy of W (rows, cols), compact, for the caller to fill with ebm_k_to_bf16's rounding before the
 * next product: ebm_mm_set_weights with the conversion left to the producer of W (the update that writes W
 * writes its copy in the same pass).  NULL where mm is not bf16, or out of memory (then the products
 * convert W themselves). */
uint16_t *ebm_mm_weights_buffer(ebm_mm *mm, const float *W, size_t rows, size_t cols);
void ebm_mm_gemm(ebm_mm *mm, int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *A, size_t lda,
                 const float *B, size_t ldb, float beta, float *C, size_t ldc);
/* Products that threads run side by side, each on its own rows (a net's layers on a block of its batch rows):
 * ebm_mm_slots makes room for n threads (call it outside a parallel region), then a thread calls
 * ebm_mm_gemm_one with its own slot < n: C (m, n) = op(A) op(B) + beta C, or bias (n) + op(A) op(B) when bias
 * is not NULL (beta then 0), as one product that the calling
 * thread runs alone (ebm_sgemm, serial inside a parallel region, where mm is NULL, has no room for the slot,
 * or oneDNN refuses).  Its bits depend on the call's shape and operands only. */
ebm_status ebm_mm_slots(ebm_mm *mm, size_t n);
void ebm_mm_gemm_one(ebm_mm *mm, size_t slot, int ta, int tb, size_t m, size_t n, size_t k, const float *A,
                     size_t lda, const float *B, size_t ldb, const float *bias, float beta, float *C, size_t ldc);
/* ebm_mm_gemm with an epilogue on every block of C (ebm_sgemm_ep's contract). */
void ebm_mm_gemm_ep(ebm_mm *mm, int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *A,
                    size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc, const ebm_gemm_ep *ep);
/* A conv layer's forward product (bias included) and input gradient through oneDNN (conv_dnnl.c), fp32 or
 * with bf16 operands: x (n, C, H, W), W (O, C, K, K), b (O), y and g (n, O, Ho, Wo), all float32 and
 * row-major; stride S, padding P on the top and left (Ho = (H + 2P - K) / S + 1, and the same for Wo).
 * ebm_conv_new returns NULL where oneDNN is absent or has no fast kernel for the shape (the caller keeps
 * its own path); on a failed call the caller's outputs are undefined and its own path should redo them.
 * Every sample is one single-threaded product, so results depend neither on the thread count nor on the
 * batch.  Not thread-safe: one context per caller at a time. */
typedef struct ebm_conv ebm_conv;
ebm_conv *ebm_conv_new(int bf16, size_t C, size_t H, size_t W, size_t O, size_t K, size_t S, size_t P, size_t Ho,
                       size_t Wo);
void ebm_conv_free(ebm_conv *c);
ebm_status ebm_conv_forward(ebm_conv *c, const float *x, const float *Wt, const float *b, size_t n, float *y);
/* dx (n, C, H, W) = dL/dx for g = dL/dy (overwrites dx). */
ebm_status ebm_conv_backward_data(ebm_conv *c, const float *g, const float *Wt, size_t n, float *dx);
/* One sample at a time, for a caller that runs its own loop over samples in its own parallel region:
 * ebm_conv_prepare (outside the region) puts W into the forward (fwd != 0) or the input-gradient
 * primitive's layout and makes room for slots threads; then each thread calls the _one functions with its
 * own slot (< slots; its thread number) on one sample's x (C, H, W) or g (O, Ho, Wo).  They return 1, or 0
 * on a failure (the caller redoes the work its own way).  A sample's result is bit for bit what
 * ebm_conv_forward / ebm_conv_backward_data give it. */
ebm_status ebm_conv_prepare(ebm_conv *c, const float *Wt, int fwd, size_t slots);
int ebm_conv_forward_one(ebm_conv *c, size_t slot, const float *x, const float *b, float *y);
int ebm_conv_backward_data_one(ebm_conv *c, size_t slot, const float *g, float *dx);
/* One sample's weight and bias gradients: dW (O, C, K, K) and db (O) are overwritten with this sample's
 * dL/dW and dL/db for x and g = dL/dy; the caller sums samples in its own fixed order.  Only where
 * ebm_conv_has_weight_gradient (oneDNN has fast kernels for it). */
int ebm_conv_has_weight_gradient(const ebm_conv *c);
int ebm_conv_weight_gradient_one(ebm_conv *c, size_t slot, const float *x, const float *g, float *dW, float *db);
/* oneDNN's names of the two implementations ("none" for NULL). */
const char *ebm_conv_impl(const ebm_conv *c);
/* How net's conv layers run, for tests and benchmarks that compare the paths (src/models/net.c):
 * EBM_NET_CONV_FRONT (the default): oneDNN's convolutions where it has them, and the layers before the
 * first linear one sample by sample in one pass; _LAYERS: the same convolutions, layer by layer over the
 * batch; _IM2COL: im2col and the library's GEMM. */
enum { EBM_NET_CONV_FRONT = 0, EBM_NET_CONV_LAYERS = 1, EBM_NET_CONV_IM2COL = 2 };
void ebm_net_conv_mode(ebm_net *net, int mode);

/* C = alpha A B for the states A (n, k) of n Markov chains, called once per step (binmm.c): the product
 * keeps S = A_prev B and adds to each row of S the rows of B (k, cols) where the row of A changed (+1 and
 * -1 by adds and subtracts, other changes d by d times the row), so chains of binary units that flip few
 * of them cost a fraction of a dense product.  refresh != 0 recomputes S from the non-zeros of A (the
 * first call must refresh, and later refreshes bound the rounding the updates accumulate).  Each row is
 * updated on its own in a fixed order: its bits depend on that row's history, B and the refresh steps,
 * not on the thread count or the other rows.  Then ep (NULL: none) on every block of C, by the thread
 * that computed it.  B may change between calls only with a refresh (S would be stale otherwise). */
typedef struct ebm_binmm ebm_binmm;
ebm_status ebm_binmm_new(size_t n, size_t k, size_t cols, ebm_binmm **out);
void ebm_binmm_free(ebm_binmm *p);
/* The two products of an RBM's chains kept by the flips: vw for v'W (n, n_hid), hw for h W' (n, n_vis),
 * and wt (n_hid, n_vis), the W' that hw adds rows of (the caller fills it: ebm_transpose, whenever W
 * changes).  vw and hw share their rows out alike (ebm_binmm_rows).  On failure nothing is left held. */
typedef struct {
    ebm_binmm *vw, *hw;
    float *wt;
} ebm_flip_pair;
ebm_status ebm_flip_pair_new(size_t n, size_t nv, size_t nh, ebm_flip_pair *f);
void ebm_flip_pair_free(ebm_flip_pair *f);
/* The next calls take the first n rows (at most the n it was made with); refresh before relying on the
 * rows' sums after a change of n. */
void ebm_binmm_resize(ebm_binmm *p, size_t n);
/* T (cols, rows) = A' for A (rows, cols), in tiles. */
void ebm_transpose(const float *A, size_t rows, size_t cols, float *T);
void ebm_binmm_step(ebm_binmm *p, int refresh, float alpha, const float *A, size_t lda, const float *B, size_t ldb,
                    float *C, size_t ldc, const ebm_gemm_ep *ep);
/* The same, called by every thread of an enclosing parallel region (or outside any), on the calling
 * thread's rows only (ebm_binmm_rows), without worksharing constructs or barriers: a caller can chain
 * per-row work on the same rows (a second product on the rows the first one's epilogue drew), and threads
 * may be at different calls. */
void ebm_binmm_step_in(ebm_binmm *p, int refresh, float alpha, const float *A, size_t lda, const float *B,
                       size_t ldb, float *C, size_t ldc, const ebm_gemm_ep *ep);
/* The calling thread's rows [*r0, *r1) of p's n in ebm_binmm_step_in: groups of 4 rows shared out evenly
 * by thread number (all of them outside a parallel region), over at most as many threads as p was made
 * with scratch for (omp_get_max_threads() at ebm_binmm_new; threads beyond take no rows).  Products made
 * together with the same n share their rows out alike. */
void ebm_binmm_rows(const ebm_binmm *p, size_t *r0, size_t *r1);
/* out (cols) = sum_r w[r] A[r, :] for A (rows, cols), summed in row order. */
void ebm_colsum(const float *A, size_t rows, size_t cols, const float *w, float *out);

/* Philox4x32-10 block function: out = philox(ctr, key). */
void ebm_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);
/* out (64) = words 4 block0 .. 4 block0 + 63 of stream (seed, stream): sixteen Philox blocks at once
 * (AVX-512 where built for it), what ebm_rng_fill_u32 gives at offset 4 block0. */
void ebm_rng_block64(uint64_t seed, uint64_t stream, uint64_t block0, uint32_t out[64]);

/* ---- element-wise kernels (kernels.c); plain loops over raw arrays, OpenMP over rows ---- */

/* x is (n, m): x[i, j] = sigmoid((x[i, j] + bias[j]) * inv_t); if sample != NULL, sample (n, m) gets
 * Bernoulli draws of those probabilities, row i from stream (key, i). */
void ebm_k_sigmoid_bernoulli(float *x, const float *bias, size_t n, size_t m, float inv_t, uint64_t key,
                             float *sample);
/* The same with row i drawing from stream (key, row0 + i): a slice of a batch draws what the whole batch
 * would (data-parallel training). */
void ebm_k_sigmoid_bernoulli_at(float *x, const float *bias, size_t n, size_t m, float inv_t, uint64_t key,
                                uint64_t row0, float *sample);
/* The conditional of a layer of binary units as a GEMM epilogue (ebm_k_sigbern_ep): on a block of the
 * pre-activations x, p = sigmoid((x + bias) * inv_t) and, for rows r >= sample_from, a Bernoulli draw of p
 * into sample row r - sample_from from stream (key, row0 + r - sample_from), word j for column j (what
 * ebm_k_sigmoid_bernoulli_at draws); then x = p * scale_lo for rows r < scale_split, p * scale_hi after
 * (the draw uses p unscaled).  One pass over the block while the product has left it in cache. */
typedef struct {
    float *x;             /* (rows, cols) with row stride ldx: pre-activations in, scaled probabilities out */
    size_t ldx;
    const float *bias;    /* (cols) */
    float inv_t;
    uint64_t key, row0;
    size_t sample_from;   /* first row drawn; rows before it are not */
    float *sample;        /* (rows - sample_from, cols) with row stride lds, or NULL: no draws */
    size_t lds;
    size_t scale_split;
    float scale_lo, scale_hi;
} ebm_sigbern;
void ebm_k_sigbern_ep(void *sigbern, size_t r0, size_t r1, size_t c0, size_t c1);
/* out (n) = sum_j softplus((x[i, j] + bias[j]) * inv_t) in double, x is (n, m). */
void ebm_k_softplus_rowsum(const float *x, const float *bias, size_t n, size_t m, float inv_t, double *out);
/* sum_j softplus((x[j] + bias[j]) * scale) in double for one row of m floats. */
double ebm_k_softplus_row(const float *x, const float *bias, size_t m, double scale);
/* ebm_k_softplus_row(x, bias, m, s1) - ebm_k_softplus_row(x, bias, m, s0), in one pass over x (the same
 * value when m <= 256; beyond, the blocks' differences are summed). */
double ebm_k_softplus_row2(const float *x, const float *bias, size_t m, double s0, double s1);
/* sum_j softplus((x[j] + bias[j]) * inv_t) for one row of m doubles. */
double ebm_k_softplus_sum_d(const double *x, const double *bias, size_t m, double inv_t);
/* Numerically stable scalar forms. */
static inline double ebm_softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static inline double ebm_sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}
static inline double ebm_log_sigmoid(double x) { return -ebm_softplus(-x); }
/* Sum of x[i]^2, and of (x[i] - y[i])^2, in double over fixed blocks combined in order, so the result
 * does not depend on the number of threads. */
double ebm_k_sumsq(const float *x, size_t n);
double ebm_k_sqdiff(const float *x, const float *y, size_t n);
/* True when all n floats are finite; *bad gets the first offending index. */
bool ebm_k_all_finite(const float *x, size_t n, size_t *bad);

/* Monotonic wall-clock seconds. */
double ebm_now(void);

/* Parses a non-negative decimal size with overflow check, whole string. */
bool ebm_parse_size(const char *s, size_t *out);

#endif
