/* Products of a chain's states that change little from one step to the next: C = alpha A B for A (n, k)
 * whose rows are the states of n Markov chains (binary units: 0s and 1s), B (k, cols) dense, called once
 * per step.  The product keeps S = A_prev B and, for each row, adds the rows of B where the state went
 * from 0 to 1 and subtracts those where it went from 1 to 0: a chain that flips 5% of its units costs 5%
 * of a dense product's multiply-adds.  A change by any other amount d adds d times the row, so any A is
 * handled, and a refresh recomputes S from zero (the non-zeros of A) to bound the rounding that the
 * updates accumulate.
 *
 * Every row is updated on its own, in a fixed order within each column chunk (additions in increasing
 * index order, then subtractions, then other changes), so a row's bits depend only on that row's history,
 * B and the refresh steps: not on the thread count, nor on which other rows share the product (a slice of
 * the chains computes what the whole batch computes for them).  The chunks (at most 256 columns, starting
 * at multiples of 16) depend only on cols.  With AVX-512 a chunk's sums stay in sixteen registers while
 * the changed rows stream through; the portable loop computes the same sums in the same order.  Measured
 * against OpenBLAS in docs/benchmarks.md ("AIS"). */
#include "internal.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* Vectors of 16 floats per chunk, at most: a chunk of B (k x 128) stays in L2 while all the rows of the
 * thread's share walk it, one chunk after the other. */
#define CHUNK_VECS 8
/* Rows of B fetched ahead of the one being added. */
#ifndef PREFETCH
#define PREFETCH 4
#endif
/* Rows per epilogue call. */
#define GROUP 4
/* Rows whose change lists a thread holds at once (its scratch): they walk each column chunk together. */
#define BLOCK 64

struct ebm_binmm {
    size_t n, cap, k, cols;
    size_t threads; /* threads with scratch: more in a region take no rows */
    float *prev;    /* (n, k) A at the last call */
    float *sum;     /* (n, cols) prev B */
    int *idx;       /* (threads, BLOCK, 3k): per row the +1 changes, the -1 changes, the others */
    float *od;      /* (threads, BLOCK, k) the other changes' amounts */
    size_t *len;    /* (threads, BLOCK, 3) the three lists' lengths */
};

ebm_status ebm_binmm_new(size_t n, size_t k, size_t cols, ebm_binmm **out) {
    *out = NULL;
    ebm_binmm *p = calloc(1, sizeof *p);
    if (!p) return ebm_fail(EBM_ENOMEM, "out of memory for a product of %zu chains", n);
    p->n = p->cap = n;
    p->k = k;
    p->cols = cols;
    size_t kk = k ? k : 1, slots;
    p->threads = (size_t)omp_get_max_threads();
    slots = p->threads * BLOCK;
    p->prev = ebm_calloc(n ? n : 1, kk * sizeof(float));
    p->sum = ebm_calloc(n ? n : 1, (cols ? cols : 1) * sizeof(float));
    p->idx = malloc(slots * 3 * kk * sizeof(int));
    p->od = malloc(slots * kk * sizeof(float));
    p->len = malloc(slots * 3 * sizeof(size_t));
    if (!p->prev || !p->sum || !p->idx || !p->od || !p->len) {
        ebm_binmm_free(p);
        return ebm_fail(EBM_ENOMEM, "out of memory for a product of %zu chains", n);
    }
    *out = p;
    return EBM_OK;
}

ebm_status ebm_flip_pair_new(size_t n, size_t nv, size_t nh, ebm_flip_pair *f) {
    memset(f, 0, sizeof *f);
    if (ebm_binmm_new(n, nv, nh, &f->vw) || ebm_binmm_new(n, nh, nv, &f->hw) ||
        !(f->wt = ebm_calloc(nh, nv * sizeof(float)))) {
        ebm_flip_pair_free(f);
        return ebm_fail(EBM_ENOMEM, "out of memory for the products of %zu chains", n);
    }
    return EBM_OK;
}

void ebm_flip_pair_free(ebm_flip_pair *f) {
    ebm_binmm_free(f->vw);
    ebm_binmm_free(f->hw);
    ebm_free(f->wt);
    memset(f, 0, sizeof *f);
}

void ebm_binmm_resize(ebm_binmm *p, size_t n) { p->n = n < p->cap ? n : p->cap; }

void ebm_transpose(const float *A, size_t rows, size_t cols, float *T) {
    /* 32 x 32 tiles, so both the reads and the writes stay within a few cache lines per tile row */
    for (size_t i0 = 0; i0 < rows; i0 += 32)
        for (size_t j0 = 0; j0 < cols; j0 += 32) {
            size_t i1 = i0 + 32 < rows ? i0 + 32 : rows, j1 = j0 + 32 < cols ? j0 + 32 : cols;
            for (size_t i = i0; i < i1; i++)
                for (size_t j = j0; j < j1; j++) T[j * rows + i] = A[i * cols + j];
        }
}

void ebm_binmm_free(ebm_binmm *p) {
    if (!p) return;
    ebm_free(p->prev);
    ebm_free(p->sum);
    free(p->idx);
    free(p->od);
    free(p->len);
    free(p);
}

/* The changes of one row from old to a, in increasing index order: plus[0..*np) went up by 1,
 * minus[0..*nm) down by 1, oi[0..*no) by other amounts od[]; old becomes a. */
typedef struct {
    int *plus, *minus, *oi;
    float *od;
    size_t np, nm, no;
} changes;

static void row_changes(const float *a, float *old, size_t k, changes *c) {
    size_t p = 0, q = 0, o = 0;
    size_t j0 = 0;
#if defined(__AVX512F__)
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; j0 + 16 <= k; j0 += 16) {
        __m512 x = _mm512_loadu_ps(a + j0), y = _mm512_loadu_ps(old + j0);
        __mmask16 ne = _mm512_cmp_ps_mask(x, y, _CMP_NEQ_UQ);
        if (!ne) continue;
        __mmask16 x1 = _mm512_cmp_ps_mask(x, one, _CMP_EQ_OQ), x0 = _mm512_cmp_ps_mask(x, zero, _CMP_EQ_OQ);
        __mmask16 y1 = _mm512_cmp_ps_mask(y, one, _CMP_EQ_OQ), y0 = _mm512_cmp_ps_mask(y, zero, _CMP_EQ_OQ);
        __mmask16 up = ne & x1 & y0, down = ne & x0 & y1, other = ne & (__mmask16)~(up | down);
        __m512i ids = _mm512_add_epi32(lane, _mm512_set1_epi32((int)j0));
        _mm512_mask_compressstoreu_epi32(c->plus + p, up, ids);
        _mm512_mask_compressstoreu_epi32(c->minus + q, down, ids);
        p += (size_t)__builtin_popcount(up);
        q += (size_t)__builtin_popcount(down);
        for (unsigned m = other; m; m &= m - 1) {
            size_t j = j0 + (size_t)__builtin_ctz(m);
            c->oi[o] = (int)j;
            c->od[o++] = a[j] - old[j];
        }
        _mm512_mask_storeu_ps(old + j0, ne, x);
    }
#endif
    for (size_t j = j0; j < k; j++) {
        if (!(a[j] != old[j])) continue;
        if (a[j] == 1.0f && old[j] == 0.0f) c->plus[p++] = (int)j;
        else if (a[j] == 0.0f && old[j] == 1.0f) c->minus[q++] = (int)j;
        else {
            c->oi[o] = (int)j;
            c->od[o++] = a[j] - old[j];
        }
        old[j] = a[j];
    }
    c->np = p;
    c->nm = q;
    c->no = o;
}

#if defined(__AVX512F__)
/* s[0..16 nv) (the last vector's lanes under tail) += the rows plus, -= the rows minus of B at column c0.
 * nv is a constant in every call below, and the sums are named variables, so they live in registers. */
#define BM_V(q, op) (nv > q ? (void)(op(q)) : (void)0)
#define BM_ALL(op) (BM_V(0, op), BM_V(1, op), BM_V(2, op), BM_V(3, op), BM_V(4, op), BM_V(5, op), BM_V(6, op), BM_V(7, op))
#define BM_MASK(q) (q == nv - 1 ? tail : (__mmask16)0xFFFF)
static inline __attribute__((always_inline)) void chunk_sum(const float *B, size_t ldb, size_t c0, const changes *c,
                                                            float *s, __mmask16 tail, const int nv) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    const float *b;
#define LOAD(q) (a##q = _mm512_maskz_loadu_ps(BM_MASK(q), s + 16 * q))
#define ADD(q) (a##q = _mm512_add_ps(a##q, _mm512_maskz_loadu_ps(BM_MASK(q), b + 16 * q)))
#define SUB(q) (a##q = _mm512_sub_ps(a##q, _mm512_maskz_loadu_ps(BM_MASK(q), b + 16 * q)))
#define STORE(q) _mm512_mask_storeu_ps(s + 16 * q, BM_MASK(q), a##q)
#define FETCH(q) _mm_prefetch((const char *)(b + 16 * q), _MM_HINT_T0)
/* the rows are scattered through B, so the hardware cannot guess the next one: fetch PREFETCH ahead */
#define WALK(list, len, OP)                                                                                      \
    for (size_t t = 0; t < (len); t++) {                                                                         \
        if (t + PREFETCH < (len)) {                                                                              \
            b = B + (size_t)(list)[t + PREFETCH] * ldb + c0;                                                     \
            BM_ALL(FETCH);                                                                                       \
        }                                                                                                        \
        b = B + (size_t)(list)[t] * ldb + c0;                                                                    \
        BM_ALL(OP);                                                                                              \
    }
    BM_ALL(LOAD);
    WALK(c->plus, c->np, ADD);
    WALK(c->minus, c->nm, SUB);
    BM_ALL(STORE);
#undef LOAD
#undef ADD
#undef SUB
#undef STORE
#undef FETCH
#undef WALK
}
#endif

/* Row r's chunk of columns c0..c0 + w: S += the changes' rows, then C = alpha S. */
static void chunk_update(const float *B, size_t ldb, size_t c0, size_t w, const changes *c, float *s, float alpha,
                         float *cr) {
#if defined(__AVX512F__)
    int nv = (int)((w + 15) / 16);
    __mmask16 tail = (__mmask16)(w % 16 ? (1u << (w % 16)) - 1 : 0xFFFF);
    switch (nv) {
#define NV(x)                                                                                                    \
    case x: chunk_sum(B, ldb, c0, c, s, tail, x); break;
        NV(1) NV(2) NV(3) NV(4) NV(5) NV(6) NV(7) NV(8)
#undef NV
    default: break;
    }
#else
    for (size_t t = 0; t < c->np; t++) {
        const float *b = B + (size_t)c->plus[t] * ldb + c0;
#pragma omp simd
        for (size_t j = 0; j < w; j++) s[j] += b[j];
    }
    for (size_t t = 0; t < c->nm; t++) {
        const float *b = B + (size_t)c->minus[t] * ldb + c0;
#pragma omp simd
        for (size_t j = 0; j < w; j++) s[j] -= b[j];
    }
#endif
    for (size_t t = 0; t < c->no; t++) {
        const float *b = B + (size_t)c->oi[t] * ldb + c0;
        float d = c->od[t];
        for (size_t j = 0; j < w; j++) s[j] += d * b[j];
    }
#pragma omp simd
    for (size_t j = 0; j < w; j++) cr[j] = alpha * s[j];
}

void ebm_binmm_rows(const ebm_binmm *p, size_t *r0, size_t *r1) {
    size_t n = p->n, groups = (n + GROUP - 1) / GROUP, t = (size_t)omp_get_thread_num();
    size_t T = (size_t)omp_get_num_threads();
    if (T > p->threads) T = p->threads;
    if (t >= T) {
        *r0 = *r1 = n;
        return;
    }
    size_t g0 = groups * t / T, g1 = groups * (t + 1) / T;
    *r0 = g0 * GROUP < n ? g0 * GROUP : n;
    *r1 = g1 * GROUP < n ? g1 * GROUP : n;
}

void ebm_binmm_step(ebm_binmm *p, int refresh, float alpha, const float *A, size_t lda, const float *B, size_t ldb,
                    float *C, size_t ldc, const ebm_gemm_ep *ep) {
    int par = p->n * p->cols >= 4096 && p->n > GROUP && !omp_in_parallel();
#pragma omp parallel if (par)
    ebm_binmm_step_in(p, refresh, alpha, A, lda, B, ldb, C, ldc, ep);
}

void ebm_binmm_step_in(ebm_binmm *p, int refresh, float alpha, const float *A, size_t lda, const float *B,
                       size_t ldb, float *C, size_t ldc, const ebm_gemm_ep *ep) {
    size_t n = p->n, k = p->k, cols = p->cols, kk = k ? k : 1, rb, re;
    if (n == 0 || cols == 0) return;
    ebm_binmm_rows(p, &rb, &re);
    if (rb == re) return;
    size_t tid = (size_t)omp_get_thread_num();
    int *idx = p->idx + tid * BLOCK * 3 * kk;
    float *od = p->od + tid * BLOCK * kk;
    size_t *len = p->len + tid * BLOCK * 3;
    /* blocks of BLOCK rows: their change lists, then each column chunk for all of them (the chunks: the
     * 16-float vectors of a row shared out as evenly as whole vectors allow), the epilogue on each group
     * of GROUP rows */
    size_t vecs = (cols + 15) / 16, chunks = (vecs + CHUNK_VECS - 1) / CHUNK_VECS;
    for (size_t b0 = rb; b0 < re; b0 += BLOCK) {
        size_t b1 = b0 + BLOCK < re ? b0 + BLOCK : re;
        for (size_t r = b0; r < b1; r++) {
            size_t i = r - b0;
            if (refresh) {
                memset(p->prev + r * k, 0, k * sizeof(float));
                memset(p->sum + r * cols, 0, cols * sizeof(float));
            }
            changes c = {idx + i * 3 * kk, idx + i * 3 * kk + kk, idx + i * 3 * kk + 2 * kk, od + i * kk, 0, 0, 0};
            row_changes(A + r * lda, p->prev + r * k, k, &c);
            len[3 * i] = c.np;
            len[3 * i + 1] = c.nm;
            len[3 * i + 2] = c.no;
        }
        size_t v0 = 0;
        for (size_t q = 0; q < chunks; q++) {
            size_t nvq = vecs / chunks + (q < vecs % chunks), c0 = 16 * v0;
            size_t c1 = 16 * (v0 + nvq) < cols ? 16 * (v0 + nvq) : cols;
            for (size_t r0 = b0; r0 < b1; r0 += GROUP) {
                size_t r1 = r0 + GROUP < b1 ? r0 + GROUP : b1;
                for (size_t r = r0; r < r1; r++) {
                    size_t i = r - b0;
                    changes c = {idx + i * 3 * kk, idx + i * 3 * kk + kk, idx + i * 3 * kk + 2 * kk, od + i * kk,
                                 len[3 * i], len[3 * i + 1], len[3 * i + 2]};
                    chunk_update(B, ldb, c0, c1 - c0, &c, p->sum + r * cols + c0, alpha, C + r * ldc + c0);
                }
                if (ep) ep->fn(ep->ctx, r0, r1, c0, c1);
            }
            v0 += nvq;
        }
    }
}
