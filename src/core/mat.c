/* Float32 row-major matrices, 64-byte aligned so that BLAS and vector loops see aligned rows, and a
 * shape-checked wrapper around ebm_sgemm (gemm.c). */
#include "internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

void *ebm_calloc(size_t count, size_t size) {
    size_t bytes;
    if (!ebm_mul_ok(count, size, &bytes)) {
        ebm_fail(EBM_ENOMEM, "allocation of %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    if (bytes == 0) bytes = 64;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded < bytes) {
        ebm_fail(EBM_ENOMEM, "allocation of %zu bytes overflows", bytes);
        return NULL;
    }
    void *p = aligned_alloc(64, rounded);
    if (!p) {
        ebm_fail(EBM_ENOMEM, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    memset(p, 0, rounded);
    return p;
}

void ebm_free(void *p) { free(p); }

ebm_status ebm_mat_new(size_t rows, size_t cols, ebm_mat **out) {
    *out = NULL;
    size_t n;
    if (!ebm_mul_ok(rows, cols, &n)) return ebm_fail(EBM_ENOMEM, "matrix %zu x %zu is too large", rows, cols);
    ebm_mat *m = calloc(1, sizeof *m);
    if (!m) return ebm_fail(EBM_ENOMEM, "out of memory");
    m->data = ebm_calloc(n, sizeof(float));
    if (!m->data) {
        free(m);
        return EBM_ENOMEM;
    }
    m->rows = rows;
    m->cols = cols;
    *out = m;
    return EBM_OK;
}

void ebm_mat_free(ebm_mat *m) {
    if (!m) return;
    ebm_free(m->data);
    free(m);
}

ebm_status ebm_mat_clone(const ebm_mat *m, ebm_mat **out) {
    ebm_status s = ebm_mat_new(m->rows, m->cols, out);
    if (s) return s;
    memcpy((*out)->data, m->data, m->rows * m->cols * sizeof(float));
    return EBM_OK;
}

ebm_status ebm_mat_gather(const ebm_mat *src, const size_t *idx, size_t n, ebm_mat *dst) {
    if (dst->rows != n || dst->cols != src->cols)
        return ebm_fail(EBM_ESHAPE, "gather: destination is %zu x %zu, expected %zu x %zu", dst->rows,
                        dst->cols, n, src->cols);
    for (size_t i = 0; i < n; i++) {
        if (idx[i] >= src->rows)
            return ebm_fail(EBM_EINVAL, "gather: row index %zu out of range (%zu rows)", idx[i], src->rows);
        memcpy(dst->data + i * dst->cols, src->data + idx[i] * src->cols, src->cols * sizeof(float));
    }
    return EBM_OK;
}

ebm_status ebm_mat_sample_rows(const ebm_mat *src, size_t n, uint64_t seed, uint64_t stream, ebm_mat **out) {
    *out = NULL;
    if (n > src->rows) n = src->rows;
    size_t *idx = malloc((src->rows ? src->rows : 1) * sizeof *idx);
    ebm_status s = idx ? ebm_mat_new(n, src->cols, out) : ebm_fail(EBM_ENOMEM, "out of memory for %zu row indices", src->rows);
    if (!s) {
        ebm_rng r;
        ebm_rng_seed(&r, seed, stream);
        ebm_rng_permutation(&r, idx, src->rows);
        s = ebm_mat_gather(src, idx, n, *out);
    }
    if (s) {
        ebm_mat_free(*out);
        *out = NULL;
    }
    free(idx);
    return s;
}

ebm_status ebm_mat_gemm(float alpha, const ebm_mat *A, int ta, const ebm_mat *B, int tb, float beta,
                        ebm_mat *C) {
    size_t m = ta ? A->cols : A->rows, k = ta ? A->rows : A->cols;
    size_t kb = tb ? B->cols : B->rows, n = tb ? B->rows : B->cols;
    if (k != kb || C->rows != m || C->cols != n)
        return ebm_fail(EBM_ESHAPE, "gemm: op(A) is %zu x %zu, op(B) is %zu x %zu, C is %zu x %zu", m, k, kb,
                        n, C->rows, C->cols);
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX || A->cols > INT_MAX || B->cols > INT_MAX)
        return ebm_fail(EBM_ENOTSUP, "gemm: dimension above INT_MAX");
    if (m == 0 || n == 0) return EBM_OK;
    ebm_sgemm(ta, tb, m, n, k, alpha, A->data, A->cols ? A->cols : 1, B->data, B->cols ? B->cols : 1, beta, C->data,
              C->cols ? C->cols : 1);
    return EBM_OK;
}
