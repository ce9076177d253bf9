/* Element-wise kernels on raw arrays: the logistic sigmoid with Bernoulli sampling (the conditionals
 * p(h|v), p(v|h) of an RBM), row sums of softplus (free energies), and finiteness checks.  Loops are
 * written so GCC vectorises them (libmvec expf/log1p, see vmath.h); OpenMP splits rows across threads
 * and each row draws from its own Philox stream (key, row), so samples do not depend on thread count.
 * The conditional is also a GEMM epilogue (ebm_k_sigbern_ep): sigmoid, draw and a scaling of the result
 * in one pass over a block of the product's output while it is in cache, the Philox words generated
 * sixteen blocks at a time (ebm_rng_block64) into a buffer that stays in L1. */
#include "internal.h"
#include "vmath.h"

#include <omp.h>

/* Below this many elements the OpenMP fork costs more than it saves. */
#define PAR_MIN 32768

/* Columns c0..c1 of one row: p = sigmoid((x + bias) inv_t), a draw from words c0..c1 of the stream
 * (key, stream) into s when s != NULL, then x = p * scale.  Philox words come sixteen blocks at a time
 * (ebm_rng_block64) into a buffer that stays in L1. */
static inline void sigbern_row(float *restrict x, const float *restrict bias, size_t c0, size_t c1, float inv_t,
                               uint64_t key, uint64_t stream, float *restrict s, float scale) {
#pragma omp simd
    for (size_t j = c0; j < c1; j++) x[j] = 1.0f / (1.0f + expf(-(x[j] + bias[j]) * inv_t));
    if (s) {
        uint32_t u[64];
        for (size_t j0 = c0; j0 < c1;) {
            /* up to the end of the sixteen Philox blocks that hold word j0 (all of them, in one AVX-512
             * pass, once j0 is aligned) */
            size_t lane = j0 & 3, len = 64 - lane < c1 - j0 ? 64 - lane : c1 - j0;
            if (len == 64) ebm_rng_block64(key, stream, j0 >> 2, u);
            else ebm_rng_fill_u32(key, stream, j0, u, len);
            const uint32_t *uj = u;
            float *xj = x + j0, *sj = s + j0;
#pragma omp simd
            for (size_t j = 0; j < len; j++) sj[j] = (float)(uj[j] >> 8) * 0x1.0p-24f < xj[j] ? 1.0f : 0.0f;
            j0 += len;
        }
    }
    if (scale != 1.0f) {
#pragma omp simd
        for (size_t j = c0; j < c1; j++) x[j] *= scale;
    }
}

void ebm_k_sigbern_ep(void *ctx, size_t r0, size_t r1, size_t c0, size_t c1) {
    const ebm_sigbern *e = ctx;
    for (size_t r = r0; r < r1; r++) {
        int draw = e->sample && r >= e->sample_from;
        size_t d = r - e->sample_from;
        sigbern_row(e->x + r * e->ldx, e->bias, c0, c1, e->inv_t, e->key, e->row0 + d,
                    draw ? e->sample + d * e->lds : NULL, r < e->scale_split ? e->scale_lo : e->scale_hi);
    }
}

void ebm_k_sigmoid_bernoulli(float *x, const float *bias, size_t n, size_t m, float inv_t, uint64_t key,
                             float *sample) {
    ebm_k_sigmoid_bernoulli_at(x, bias, n, m, inv_t, key, 0, sample);
}

void ebm_k_sigmoid_bernoulli_at(float *x, const float *bias, size_t n, size_t m, float inv_t, uint64_t key,
                                uint64_t row0, float *sample) {
    /* x is (n, m) pre-activations without bias, overwritten by probabilities; bias is (m);
     * sample is (n, m) or NULL; row i draws from the stream (key, row0 + i). */
#pragma omp parallel for schedule(static) if (n * m >= PAR_MIN)
    for (size_t i = 0; i < n; i++)
        sigbern_row(x + i * m, bias, 0, m, inv_t, key, row0 + i, sample ? sample + i * m : NULL, 1.0f);
}

/* sum_j softplus(z_j) = sum_j max(z_j, 0) + log prod_j (1 + exp(-|z_j|)): every factor lies in (1, 2],
 * so a product of SP_BLOCK factors cannot overflow a double and one log per block replaces a log1p per
 * term (the logs were most of the cost of exact enumeration). */
#define SP_BLOCK 256

/* sum_j softplus(z_j) over one block of at most SP_BLOCK values. */
static inline double softplus_block(const double *z, size_t len) {
    double lin = 0, prod = 1;
#pragma omp simd reduction(+ : lin) reduction(* : prod)
    for (size_t j = 0; j < len; j++) {
        lin += z[j] > 0 ? z[j] : 0.0;
        prod *= 1.0 + exp(z[j] > 0 ? -z[j] : z[j]);
    }
    return lin + log(prod);
}

double ebm_k_softplus_row(const float *x, const float *bias, size_t m, double scale) {
    double z[SP_BLOCK], acc = 0;
    for (size_t j0 = 0; j0 < m; j0 += SP_BLOCK) {
        size_t len = m - j0 < SP_BLOCK ? m - j0 : SP_BLOCK;
        for (size_t j = 0; j < len; j++) z[j] = ((double)x[j0 + j] + (double)bias[j0 + j]) * scale;
        acc += softplus_block(z, len);
    }
    return acc;
}

double ebm_k_softplus_row2(const float *x, const float *bias, size_t m, double s0, double s1) {
    double z0[SP_BLOCK], z1[SP_BLOCK], acc = 0;
    for (size_t j0 = 0; j0 < m; j0 += SP_BLOCK) {
        size_t len = m - j0 < SP_BLOCK ? m - j0 : SP_BLOCK;
#pragma omp simd
        for (size_t j = 0; j < len; j++) {
            double z = (double)x[j0 + j] + (double)bias[j0 + j];
            z0[j] = z * s0;
            z1[j] = z * s1;
        }
        acc += softplus_block(z1, len) - softplus_block(z0, len);
    }
    return acc;
}

void ebm_k_softplus_rowsum(const float *x, const float *bias, size_t n, size_t m, float inv_t, double *out) {
    /* x is (n, m), bias (m), out (n); z = (x + bias) * inv_t in double. */
#pragma omp parallel for schedule(static) if (n * m >= PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = ebm_k_softplus_row(x + i * m, bias, m, (double)inv_t);
}

double ebm_k_softplus_sum_d(const double *x, const double *bias, size_t m, double inv_t) {
    double z[SP_BLOCK], acc = 0;
    for (size_t j0 = 0; j0 < m; j0 += SP_BLOCK) {
        size_t len = m - j0 < SP_BLOCK ? m - j0 : SP_BLOCK;
        for (size_t j = 0; j < len; j++) z[j] = (x[j0 + j] + bias[j0 + j]) * inv_t;
        acc += softplus_block(z, len);
    }
    return acc;
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

/* Blocked reductions: each block is summed by one thread, blocks are combined serially in order. */
#define RED_BLOCK 8192
#define RED_MAX_BLOCKS 1024

static double blocked_sum(const float *x, const float *y, size_t n) {
    size_t nblocks = (n + RED_BLOCK - 1) / RED_BLOCK;
    double part[RED_MAX_BLOCKS];
    double total = 0;
    for (size_t b0 = 0; b0 < nblocks; b0 += RED_MAX_BLOCKS) {
        size_t nb = nblocks - b0 < RED_MAX_BLOCKS ? nblocks - b0 : RED_MAX_BLOCKS;
#pragma omp parallel for schedule(static) if (n >= 4 * RED_BLOCK)
        for (size_t b = 0; b < nb; b++) {
            size_t lo = (b0 + b) * RED_BLOCK, hi = lo + RED_BLOCK < n ? lo + RED_BLOCK : n;
            double acc = 0;
            if (y) {
#pragma omp simd reduction(+ : acc)
                for (size_t i = lo; i < hi; i++) {
                    double d = (double)x[i] - (double)y[i];
                    acc += d * d;
                }
            } else {
#pragma omp simd reduction(+ : acc)
                for (size_t i = lo; i < hi; i++) acc += (double)x[i] * (double)x[i];
            }
            part[b] = acc;
        }
        for (size_t b = 0; b < nb; b++) total += part[b];
    }
    return total;
}

double ebm_k_sumsq(const float *x, size_t n) { return blocked_sum(x, NULL, n); }
double ebm_k_sqdiff(const float *x, const float *y, size_t n) { return blocked_sum(x, y, n); }
