/* Matrix products at a chosen precision: a "matmul context" (ebm_mm) owned by a trainer, sampler or AIS run.
 * fp32 goes through ebm_sgemm (OpenBLAS); bf16 rounds both operands to bfloat16 (round to nearest even) and
 * multiplies them with oneDNN's matmul, accumulating in fp32 and writing fp32 (on CPUs with AVX512-BF16
 * oneDNN picks its native bf16 dot-product kernels itself).  Parameters stay fp32 (the "master" copy); a
 * bf16 copy of the weight matrix is made once per update (ebm_mm_set_weights) and reused by every product
 * that reads it.
 *
 * Thread-count independence, as in gemm.c: the output is split into the same fixed blocks (they depend
 * only on the shapes), each block is one oneDNN primitive run by one OpenMP thread, and every primitive
 * is created and executed by a thread that has set its own (region-local) thread count to 1, so oneDNN
 * plans and runs each block single-threaded: the sums inside a block never depend on OMP_NUM_THREADS.
 * Primitives, memory objects and streams are cached per call shape in the context (no global state of
 * ours; oneDNN keeps its own primitive cache). */
#include "internal.h"

#include <omp.h>
#include <stdlib.h>
#if defined(__AVX512BF16__) && defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <string.h>

#ifdef EBM_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

void ebm_k_to_bf16_row(const float *x, size_t n, uint16_t *out) {
    size_t c = 0;
#if defined(__AVX512BF16__) && defined(__AVX512F__)
    for (; c + 16 <= n; c += 16)
        _mm256_storeu_si256((__m256i *)(out + c), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + c)));
#endif
    for (; c < n; c++) out[c] = ebm_bf16(x[c]);
}

void ebm_k_to_bf16(const float *x, size_t rows, size_t cols, size_t ld, uint16_t *out) {
#pragma omp parallel for schedule(static) if (rows * cols >= 65536)
    for (size_t r = 0; r < rows; r++) ebm_k_to_bf16_row(x + r * ld, cols, out + r * cols);
}

/* ebm_mm_gemm_one's fp32 product through ebm_sgemm (no oneDNN, no room, or oneDNN refused): C = op(A) op(B) +
 * beta C, or bias + op(A) op(B) when bias is not NULL. */
static void gemm_one_sgemm(int ta, int tb, size_t m, size_t n, size_t k, const float *A, size_t lda, const float *B,
                           size_t ldb, const float *bias, float beta, float *C, size_t ldc) {
    if (bias) {
        for (size_t r = 0; r < m; r++) memcpy(C + r * ldc, bias, n * sizeof(float));
        beta = 1.0f;
    }
    ebm_sgemm(ta, tb, m, n, k, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

ebm_status ebm_precision_resolve(ebm_precision p, ebm_precision *out) {
    switch (p) {
    case EBM_PRECISION_FP32:
        *out = p;
        return EBM_OK;
    case EBM_PRECISION_BF16:
#ifdef EBM_HAVE_DNNL
        *out = p;
        return EBM_OK;
#else
        return ebm_fail(EBM_ENOTSUP, "bf16 precision needs oneDNN, and this libebm was built without it "
                                    "(apt-get install libdnnl-dev, then rebuild)");
#endif
    case EBM_PRECISION_AUTO:
#ifdef EBM_HAVE_DNNL
        /* bf16 only where the CPU multiplies bf16 natively; emulated bf16 is slower than fp32 */
        *out = dnnl_get_effective_cpu_isa() >= dnnl_cpu_isa_avx512_core_bf16 ? EBM_PRECISION_BF16
                                                                              : EBM_PRECISION_FP32;
#else
        *out = EBM_PRECISION_FP32;
#endif
        return EBM_OK;
    }
    return ebm_fail(EBM_EINVAL, "unknown precision %d", (int)p);
}

const char *ebm_precision_name(ebm_precision p) {
    switch (p) {
    case EBM_PRECISION_FP32: return "fp32";
    case EBM_PRECISION_BF16: return "bf16";
    case EBM_PRECISION_AUTO: return "auto";
    }
    return "?";
}

#ifndef EBM_HAVE_DNNL

struct ebm_mm {
    int unused;
};

ebm_status ebm_mm_new(ebm_precision p, int dnnl_fp32, ebm_mm **out) {
    *out = NULL;
    ebm_precision r;
    ebm_status s = ebm_precision_resolve(p, &r);
    if (s) return s;
    if (dnnl_fp32) return ebm_fail(EBM_ENOTSUP, "oneDNN fp32 products need oneDNN, absent from this build");
    return EBM_OK; /* fp32: a NULL context means ebm_sgemm */
}
void ebm_mm_free(ebm_mm *mm) { (void)mm; }
ebm_status ebm_mm_set_weights(ebm_mm *mm, const float *W, size_t rows, size_t cols) {
    (void)mm, (void)W, (void)rows, (void)cols;
    return EBM_OK;
}
void ebm_mm_gemm_ep(ebm_mm *mm, int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *A,
                    size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc, const ebm_gemm_ep *ep) {
    (void)mm;
    ebm_sgemm_ep(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, ep);
}
int ebm_mm_is_bf16(const ebm_mm *mm) {
    (void)mm;
    return 0;
}
uint16_t *ebm_mm_weights_buffer(ebm_mm *mm, const float *W, size_t rows, size_t cols) {
    (void)mm, (void)W, (void)rows, (void)cols;
    return NULL;
}
ebm_status ebm_mm_slots(ebm_mm *mm, size_t n) {
    (void)mm, (void)n;
    return EBM_OK;
}
void ebm_mm_gemm_one(ebm_mm *mm, size_t slot, int ta, int tb, size_t m, size_t n, size_t k, const float *A,
                     size_t lda, const float *B, size_t ldb, const float *bias, float beta, float *C, size_t ldc) {
    (void)mm, (void)slot;
    gemm_one_sgemm(ta, tb, m, n, k, A, lda, B, ldb, bias, beta, C, ldc);
}

#else

#define MAX_BLOCKS 64     /* blocks per product: 4 per 1024 rows or columns, so up to 16k long sides */
#define MAX_SHAPES 24     /* distinct call shapes cached; a trainer uses 3-6 */

typedef struct {
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c, scale, bias;
    dnnl_stream_t stream;
    int ok;
} mm_block;

typedef struct {
    int used, ta, tb, has_alpha;
    size_t m, n, k, lda, ldb, ldc;  /* lda/ldb: of the operands as oneDNN reads them (bf16 copies compact) */
    float beta;
    int split_cols;
    size_t per, nb;
    float alpha;                    /* the value of this call, read through the scale memory */
    mm_block blk[MAX_BLOCKS];
    unsigned long long last_use;
} mm_shape;

/* One thread's products (ebm_mm_gemm_one): whole products, each one primitive, cached by shape, with the
 * thread's own memory objects, stream and operand scratch. */
#define SLOT_SHAPES 8
typedef struct {
    int used, ta, tb, has_bias;
    size_t m, n, k, lda, ldb, ldc;
    float beta;
    mm_block blk;
    unsigned long long last_use;
} slot_shape;

typedef struct {
    slot_shape sh[SLOT_SHAPES];
    unsigned long long clock;
    uint16_t *a16, *b16;
    size_t a_cap, b_cap;
} mm_slot;

struct ebm_mm {
    int bf16;
    mm_slot *slots;                 /* (n_slots) ebm_mm_slots */
    size_t n_slots;
    dnnl_engine_t engine;
    mm_shape shapes[MAX_SHAPES];
    unsigned long long clock;
    uint16_t *a16, *b16;            /* operand scratch */
    size_t a_cap, b_cap;
    const float *w_src;             /* the matrix whose bf16 copy is w16 (rows, cols) */
    uint16_t *w16;
    size_t w_rows, w_cols, w_cap;
};

int ebm_mm_is_bf16(const ebm_mm *mm) { return mm && mm->bf16; }

ebm_status ebm_mm_new(ebm_precision p, int dnnl_fp32, ebm_mm **out) {
    *out = NULL;
    ebm_precision r;
    ebm_status s = ebm_precision_resolve(p, &r);
    if (s) return s;
    if (r == EBM_PRECISION_FP32 && !dnnl_fp32) return EBM_OK;
    ebm_mm *mm = calloc(1, sizeof *mm);
    if (!mm) return ebm_fail(EBM_ENOMEM, "out of memory");
    mm->bf16 = r == EBM_PRECISION_BF16;
    if (dnnl_engine_create(&mm->engine, dnnl_cpu, 0) != dnnl_success) {
        free(mm);
        return ebm_fail(EBM_EINVAL, "oneDNN: cannot create a CPU engine");
    }
    *out = mm;
    return EBM_OK;
}

static void block_clear(mm_block *k) {
    if (k->prim) dnnl_primitive_destroy(k->prim);
    if (k->a) dnnl_memory_destroy(k->a);
    if (k->b) dnnl_memory_destroy(k->b);
    if (k->c) dnnl_memory_destroy(k->c);
    if (k->scale) dnnl_memory_destroy(k->scale);
    if (k->bias) dnnl_memory_destroy(k->bias);
    if (k->stream) dnnl_stream_destroy(k->stream);
    memset(k, 0, sizeof *k);
}

static void shape_clear(mm_shape *sh) {
    for (size_t b = 0; b < MAX_BLOCKS; b++) block_clear(&sh->blk[b]);
    memset(sh, 0, sizeof *sh);
}

static void slots_free(ebm_mm *mm) {
    for (size_t i = 0; i < mm->n_slots; i++) {
        for (size_t j = 0; j < SLOT_SHAPES; j++) block_clear(&mm->slots[i].sh[j].blk);
        ebm_free(mm->slots[i].a16);
        ebm_free(mm->slots[i].b16);
    }
    free(mm->slots);
    mm->slots = NULL;
    mm->n_slots = 0;
}

void ebm_mm_free(ebm_mm *mm) {
    if (!mm) return;
    for (size_t i = 0; i < MAX_SHAPES; i++) shape_clear(&mm->shapes[i]);
    slots_free(mm);
    if (mm->engine) dnnl_engine_destroy(mm->engine);
    ebm_free(mm->a16);
    ebm_free(mm->b16);
    ebm_free(mm->w16);
    free(mm);
}

static int grow(uint16_t **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 1;
    ebm_free(*buf);
    *buf = ebm_calloc(need, sizeof(uint16_t));
    *cap = *buf ? need : 0;
    return *buf != NULL;
}

ebm_status ebm_mm_set_weights(ebm_mm *mm, const float *W, size_t rows, size_t cols) {
    if (!mm || !mm->bf16) return EBM_OK;
    if (!grow(&mm->w16, &mm->w_cap, rows * cols)) return ebm_fail(EBM_ENOMEM, "out of memory for bf16 weights");
    ebm_k_to_bf16(W, rows, cols, cols, mm->w16);
    mm->w_src = W;
    mm->w_rows = rows;
    mm->w_cols = cols;
    return EBM_OK;
}

uint16_t *ebm_mm_weights_buffer(ebm_mm *mm, const float *W, size_t rows, size_t cols) {
    if (!mm || !mm->bf16) return NULL;
    if (!grow(&mm->w16, &mm->w_cap, rows * cols)) {
        mm->w_src = NULL; /* no copy at all: the products convert W themselves */
        return NULL;
    }
    mm->w_src = W;
    mm->w_rows = rows;
    mm->w_cols = cols;
    return mm->w16;
}

/* Whether B, stored (br, bc) with row stride ldb, is the matrix whose bf16 copy mm->w16 holds. */
static int is_weights(const ebm_mm *mm, const float *B, size_t br, size_t bc, size_t ldb) {
    return B == mm->w_src && br == mm->w_rows && bc == mm->w_cols && ldb == bc;
}

/* Same split as gemm.c's plan(), so both paths cut the output alike. */
static void plan(mm_shape *sh) {
    size_t m = sh->m, n = sh->n, k = sh->k;
    sh->split_cols = n >= m;
    size_t len = sh->split_cols ? n : m, align = sh->split_cols ? 16 : 4;
    size_t nb = len < 64 || (double)m * (double)n * (double)k < 262144.0 ? 1 : 4 * ((len + 1023) / 1024);
    size_t per = (len + nb - 1) / nb;
    per = (per + align - 1) / align * align;
    sh->per = per ? per : 1;
    sh->nb = (len + sh->per - 1) / sh->per;
}

/* Memory descriptor of a (rows, cols) view with row stride ld, or its transpose (stored (cols, rows)). */
static dnnl_status_t view(dnnl_memory_desc_t *d, size_t rows, size_t cols, size_t ld, int trans, dnnl_data_type_t t) {
    dnnl_dims_t dims = {(dnnl_dim_t)rows, (dnnl_dim_t)cols};
    dnnl_dims_t strides = {trans ? 1 : (dnnl_dim_t)ld, trans ? (dnnl_dim_t)ld : 1};
    return dnnl_memory_desc_init_by_strides(d, 2, dims, t, strides);
}

/* A primitive for C (bm, bn) = alpha op(A) op(B) + beta C, op(A) (bm, k), with its memory objects and stream
 * (called by the thread that will run it, whose thread count is 1), both operands bf16 where mm is.
 * has_alpha: alpha is read at run time from *alpha through the scale memory; has_bias: a bias (bn) is added. */
static int prim_create(const ebm_mm *mm, int ta, int tb, size_t bm, size_t bn, size_t k, size_t lda, size_t ldb,
                       size_t ldc, int has_alpha, const float *alpha, float beta, int has_bias, mm_block *blk) {
    dnnl_data_type_t t = mm->bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t da, db, dc, ds, dbias;
    dnnl_matmul_desc_t md;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    int ok = view(&da, bm, k, lda, ta, t) == dnnl_success &&
             view(&db, k, bn, ldb, tb, t) == dnnl_success &&
             view(&dc, bm, bn, ldc, 0, dnnl_f32) == dnnl_success &&
             (!has_bias || view(&dbias, 1, bn, bn, 0, dnnl_f32) == dnnl_success) &&
             dnnl_matmul_desc_init(&md, &da, &db, has_bias ? &dbias : NULL, &dc) == dnnl_success &&
             dnnl_primitive_attr_create(&attr) == dnnl_success;
    if (ok && has_alpha) {
        const float rt = DNNL_RUNTIME_F32_VAL;
        ok = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &rt) == dnnl_success;
    }
    if (ok && beta != 0.0f) {
        ok = dnnl_post_ops_create(&po) == dnnl_success && dnnl_post_ops_append_sum(po, beta) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    }
    ok = ok && dnnl_primitive_desc_create(&pd, &md, attr, mm->engine, NULL) == dnnl_success &&
         dnnl_primitive_create(&blk->prim, pd) == dnnl_success &&
         dnnl_memory_create(&blk->a, &da, mm->engine, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&blk->b, &db, mm->engine, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&blk->c, &dc, mm->engine, DNNL_MEMORY_NONE) == dnnl_success &&
         (!has_bias || dnnl_memory_create(&blk->bias, &dbias, mm->engine, DNNL_MEMORY_NONE) == dnnl_success) &&
         dnnl_stream_create(&blk->stream, mm->engine, dnnl_stream_default_flags) == dnnl_success;
    if (ok && has_alpha) {
        dnnl_dims_t one = {1};
        ok = dnnl_memory_desc_init_by_tag(&ds, 1, one, dnnl_f32, dnnl_a) == dnnl_success &&
             dnnl_memory_create(&blk->scale, &ds, mm->engine, (void *)alpha) == dnnl_success;
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return ok;
}

/* Creates block b's primitive and memory objects (called by the thread that will run it). */
static int block_create(const ebm_mm *mm, const mm_shape *sh, size_t b, mm_block *k) {
    size_t len = sh->split_cols ? sh->n : sh->m, x0 = b * sh->per, x1 = x0 + sh->per < len ? x0 + sh->per : len;
    size_t bm = sh->split_cols ? sh->m : x1 - x0, bn = sh->split_cols ? x1 - x0 : sh->n;
    return prim_create(mm, sh->ta, sh->tb, bm, bn, sh->k, sh->lda, sh->ldb, sh->ldc, sh->has_alpha, &sh->alpha,
                       sh->beta, 0, k);
}

static mm_shape *find_shape(ebm_mm *mm, int ta, int tb, size_t m, size_t n, size_t k, size_t lda, size_t ldb,
                            size_t ldc, int has_alpha, float beta) {
    mm_shape *lru = &mm->shapes[0];
    mm->clock++;
    for (size_t i = 0; i < MAX_SHAPES; i++) {
        mm_shape *sh = &mm->shapes[i];
        if (sh->used && sh->ta == ta && sh->tb == tb && sh->m == m && sh->n == n && sh->k == k && sh->lda == lda &&
            sh->ldb == ldb && sh->ldc == ldc && sh->has_alpha == has_alpha && sh->beta == beta) {
            sh->last_use = mm->clock;
            return sh;
        }
        if (!sh->used || (lru->used && sh->last_use < lru->last_use)) lru = sh;
    }
    shape_clear(lru);
    lru->used = 1;
    lru->ta = ta, lru->tb = tb, lru->m = m, lru->n = n, lru->k = k, lru->lda = lda, lru->ldb = ldb, lru->ldc = ldc;
    lru->has_alpha = has_alpha;
    lru->beta = beta;
    lru->last_use = mm->clock;
    plan(lru);
    if (lru->nb > MAX_BLOCKS) {
        lru->used = 0;
        return NULL;
    }
    return lru;
}

void ebm_mm_gemm_ep(ebm_mm *mm, int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *A,
                    size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc, const ebm_gemm_ep *ep) {
    if (!mm) {
        ebm_sgemm_ep(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, ep);
        return;
    }
    if (m == 0 || n == 0) return;
    const size_t lda0 = lda, ldb0 = ldb;
    const void *a = A, *bp = B;
    size_t esz = mm->bf16 ? 2 : 4;
    /* bf16: the operands' conversions run in the product's own parallel region, before its barrier */
    size_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    int conv_b = 0;
    if (mm->bf16) {
        /* op(A) is (m, k): A is stored (m, k) or, transposed, (k, m); its bf16 copy is compact */
        if (is_weights(mm, B, br, bc, ldb)) {
            bp = mm->w16;
        } else {
            if (!grow(&mm->b16, &mm->b_cap, br * bc)) goto fallback;
            conv_b = 1;
            bp = mm->b16;
        }
        ldb = bc;
        if (!grow(&mm->a16, &mm->a_cap, ar * ac)) goto fallback;
        a = mm->a16;
        lda = ac;
    }
    mm_shape *sh = find_shape(mm, ta, tb, m, n, k, lda, ldb, ldc, alpha != 1.0f, beta);
    if (!sh) goto fallback;
    sh->alpha = alpha;
    int nt = omp_get_max_threads(), all_ok = 1;
    if ((size_t)nt > sh->nb) nt = (int)sh->nb;
#pragma omp parallel num_threads(nt)
    {
        omp_set_num_threads(1); /* this thread's own setting, for this region only: oneDNN plans 1 thread */
        if (mm->bf16) {
#pragma omp for schedule(static) nowait
            for (size_t r = 0; r < ar; r++) ebm_k_to_bf16_row(A + r * lda0, ac, mm->a16 + r * ac);
            if (conv_b) {
#pragma omp for schedule(static) nowait
                for (size_t r = 0; r < br; r++) ebm_k_to_bf16_row(B + r * ldb0, bc, mm->b16 + r * bc);
            }
        }
#pragma omp for schedule(static)
        for (size_t b = 0; b < sh->nb; b++)
            if (!sh->blk[b].prim) sh->blk[b].ok = block_create(mm, sh, b, &sh->blk[b]);
        /* the loop's barrier: the operands are converted and every block exists (or failed) before any
         * block is multiplied */
        int ready = 1;
        for (size_t b = 0; b < sh->nb; b++) ready &= sh->blk[b].ok;
#pragma omp single
        all_ok = ready;
#pragma omp for schedule(static)
        for (size_t b = 0; b < sh->nb; b++) {
            if (!ready) continue;
            mm_block *blk = &sh->blk[b];
            size_t x0 = b * sh->per;
            const char *pa = a, *pb = bp;
            float *pc;
            if (sh->split_cols) {
                pb += (tb ? x0 * ldb : x0) * esz;
                pc = C + x0;
            } else {
                pa += (ta ? x0 : x0 * lda) * esz;
                pc = C + x0 * ldc;
            }
            dnnl_memory_set_data_handle(blk->a, (void *)pa);
            dnnl_memory_set_data_handle(blk->b, (void *)pb);
            dnnl_memory_set_data_handle(blk->c, pc);
            dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, blk->a}, {DNNL_ARG_WEIGHTS, blk->b}, {DNNL_ARG_DST, blk->c},
                                       {DNNL_ARG_ATTR_OUTPUT_SCALES, blk->scale}};
            dnnl_primitive_execute(blk->prim, blk->stream, sh->has_alpha ? 4 : 3, args);
            dnnl_stream_wait(blk->stream);
            if (ep) {
                size_t len = sh->split_cols ? n : m, x1 = x0 + sh->per < len ? x0 + sh->per : len;
                if (sh->split_cols) ep->fn(ep->ctx, 0, m, x0, x1);
                else ep->fn(ep->ctx, x0, x1, 0, n);
            }
        }
    }
    if (all_ok) return;
    shape_clear(sh); /* never reuse a shape that failed; C is untouched */
fallback:
    /* oneDNN refused (no memory, an unsupported ISA): the fp32 product is always available */
    ebm_sgemm_ep(ta, tb, m, n, k, alpha, A, lda0, B, ldb0, beta, C, ldc, ep);
}

ebm_status ebm_mm_slots(ebm_mm *mm, size_t n) {
    if (!mm || n <= mm->n_slots) return EBM_OK;
    mm_slot *sl = calloc(n, sizeof *sl);
    if (!sl) return ebm_fail(EBM_ENOMEM, "out of memory");
    if (mm->n_slots) memcpy(sl, mm->slots, mm->n_slots * sizeof *sl);
    free(mm->slots);
    mm->slots = sl;
    mm->n_slots = n;
    return EBM_OK;
}

void ebm_mm_gemm_one(ebm_mm *mm, size_t slot, int ta, int tb, size_t m, size_t n, size_t k, const float *A,
                     size_t lda, const float *B, size_t ldb, const float *bias, float beta, float *C, size_t ldc) {
    const int hb = bias != NULL;
    if (!mm || slot >= mm->n_slots) goto fallback;
    if (m == 0 || n == 0) return;
    mm_slot *s = &mm->slots[slot];
    const void *a = A, *bp = B;
    size_t la = lda, lb = ldb;
    size_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    if (mm->bf16) {
        if (is_weights(mm, B, br, bc, ldb)) {
            bp = mm->w16;
        } else {
            if (!grow(&s->b16, &s->b_cap, br * bc)) goto fallback;
            for (size_t r = 0; r < br; r++) ebm_k_to_bf16_row(B + r * ldb, bc, s->b16 + r * bc);
            bp = s->b16;
        }
        lb = bc;
        if (!grow(&s->a16, &s->a_cap, ar * ac)) goto fallback;
        for (size_t r = 0; r < ar; r++) ebm_k_to_bf16_row(A + r * lda, ac, s->a16 + r * ac);
        a = s->a16;
        la = ac;
    }
    slot_shape *sh = NULL, *lru = &s->sh[0];
    s->clock++;
    for (size_t i = 0; i < SLOT_SHAPES && !sh; i++) {
        slot_shape *c = &s->sh[i];
        if (c->used && c->ta == ta && c->tb == tb && c->m == m && c->n == n && c->k == k && c->lda == la &&
            c->ldb == lb && c->ldc == ldc && c->beta == beta && c->has_bias == hb)
            sh = c;
        else if (!c->used || (lru->used && c->last_use < lru->last_use))
            lru = c;
    }
    if (!sh) {
        sh = lru;
        block_clear(&sh->blk);
        *sh = (slot_shape){1, ta, tb, hb, m, n, k, la, lb, ldc, beta, {0}, 0};
        if (!prim_create(mm, ta, tb, m, n, k, la, lb, ldc, 0, NULL, beta, hb, &sh->blk)) {
            block_clear(&sh->blk);
            sh->used = 0;
            goto fallback;
        }
    }
    sh->last_use = s->clock;
    dnnl_memory_set_data_handle(sh->blk.a, (void *)a);
    dnnl_memory_set_data_handle(sh->blk.b, (void *)bp);
    dnnl_memory_set_data_handle(sh->blk.c, C);
    if (hb) dnnl_memory_set_data_handle(sh->blk.bias, (void *)bias);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, sh->blk.a}, {DNNL_ARG_WEIGHTS, sh->blk.b}, {DNNL_ARG_DST, sh->blk.c},
                               {DNNL_ARG_BIAS, sh->blk.bias}};
    if (dnnl_primitive_execute(sh->blk.prim, sh->blk.stream, 3 + hb, args) == dnnl_success &&
        dnnl_stream_wait(sh->blk.stream) == dnnl_success)
        return;
fallback:
    gemm_one_sgemm(ta, tb, m, n, k, A, lda, B, ldb, bias, beta, C, ldc);
}

#endif

void ebm_mm_gemm(ebm_mm *mm, int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *A, size_t lda,
                 const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    ebm_mm_gemm_ep(mm, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, NULL);
}
