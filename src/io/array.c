/* Typed n-dimensional arrays, the common currency of the IDX, NPY, safetensors and PNG readers, and
 * their conversion to float32 matrices.  Half precision follows IEEE 754-2008 binary16 (1 sign, 5
 * exponent, 10 fraction bits, subnormals included); bfloat16 is the upper half of a binary32, so
 * widening it is exact.  Also ebm_mat_check_range, the value check used before training. */
#include "io/io_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t ebm_dtype_size(ebm_dtype t) {
    switch (t) {
    case EBM_U8:
    case EBM_I8: return 1;
    case EBM_I16:
    case EBM_F16:
    case EBM_BF16: return 2;
    case EBM_I32:
    case EBM_F32: return 4;
    case EBM_I64:
    case EBM_F64: return 8;
    }
    return 0;
}

const char *ebm_dtype_name(ebm_dtype t) {
    switch (t) {
    case EBM_U8: return "u8";
    case EBM_I8: return "i8";
    case EBM_I16: return "i16";
    case EBM_I32: return "i32";
    case EBM_I64: return "i64";
    case EBM_F16: return "f16";
    case EBM_BF16: return "bf16";
    case EBM_F32: return "f32";
    case EBM_F64: return "f64";
    }
    return "?";
}

bool ebm_io_shape_size(int ndim, const size_t *shape, size_t esize, size_t *numel, size_t *bytes) {
    size_t nonzero = 1;
    bool empty = false;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == 0)
            empty = true;
        else if (!ebm_mul_ok(nonzero, shape[i], &nonzero))
            return false;
    }
    size_t b;
    if (!ebm_mul_ok(nonzero, esize, &b)) return false;
    *numel = empty ? 0 : nonzero;
    *bytes = empty ? 0 : b;
    return true;
}

void ebm_io_shape_str(int ndim, const size_t *shape, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    n += (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%zu", i ? ", " : "", shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, ndim == 1 ? ",)" : ")");
}

ebm_status ebm_array_new(ebm_dtype t, int ndim, const size_t *shape, const void *data, ebm_array **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "array: out is NULL");
    *out = NULL;
    size_t esize = ebm_dtype_size(t);
    if (esize == 0) return ebm_fail(EBM_EINVAL, "array: unknown dtype %d", (int)t);
    if (ndim < 0 || ndim > EBM_MAX_DIMS)
        return ebm_fail(EBM_EINVAL, "array: %d dimensions (0 to %d are supported)", ndim, EBM_MAX_DIMS);
    if (ndim > 0 && !shape) return ebm_fail(EBM_EINVAL, "array: shape is NULL");
    size_t numel, bytes;
    if (!ebm_io_shape_size(ndim, shape, esize, &numel, &bytes)) {
        char s[256];
        ebm_io_shape_str(ndim, shape, s, sizeof s);
        return ebm_fail(EBM_ENOMEM, "array: %s array of shape %s is too large", ebm_dtype_name(t), s);
    }
    ebm_array *a = calloc(1, sizeof *a);
    if (!a) return ebm_fail(EBM_ENOMEM, "array: out of memory");
    a->data = ebm_calloc(numel, esize);
    if (!a->data) {
        free(a);
        return EBM_ENOMEM;
    }
    a->dtype = t;
    a->ndim = ndim;
    for (int i = 0; i < ndim; i++) a->shape[i] = shape[i];
    if (data && bytes) memcpy(a->data, data, bytes);
    *out = a;
    return EBM_OK;
}

void ebm_array_free(ebm_array *a) {
    if (!a) return;
    ebm_free(a->data);
    free(a);
}

size_t ebm_array_numel(const ebm_array *a) {
    if (!a) return 0;
    size_t n = 1;
    for (int i = 0; i < a->ndim; i++) n *= a->shape[i]; /* fits: checked when the array was made */
    return n;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | man << 13;
    } else if (exp == 0) {
        float f = (float)man * 5.9604644775390625e-8f; /* man * 2^-24, exact */
        return sign ? -f : f;
    } else {
        bits = sign | (exp + 112) << 23 | man << 13; /* rebias 15 -> 127 */
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static float bf16_to_float(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* dst (n) = src (n elements of dtype t) widened or narrowed to float. */
static void convert_to_float(ebm_dtype t, const void *src, size_t n, float *dst) {
    switch (t) {
    case EBM_U8: for (size_t i = 0; i < n; i++) dst[i] = ((const uint8_t *)src)[i]; break;
    case EBM_I8: for (size_t i = 0; i < n; i++) dst[i] = ((const int8_t *)src)[i]; break;
    case EBM_I16: for (size_t i = 0; i < n; i++) dst[i] = ((const int16_t *)src)[i]; break;
    case EBM_I32: for (size_t i = 0; i < n; i++) dst[i] = (float)((const int32_t *)src)[i]; break;
    case EBM_I64: for (size_t i = 0; i < n; i++) dst[i] = (float)((const int64_t *)src)[i]; break;
    case EBM_F16: for (size_t i = 0; i < n; i++) dst[i] = half_to_float(((const uint16_t *)src)[i]); break;
    case EBM_BF16: for (size_t i = 0; i < n; i++) dst[i] = bf16_to_float(((const uint16_t *)src)[i]); break;
    case EBM_F32: memcpy(dst, src, n * sizeof(float)); break;
    case EBM_F64: for (size_t i = 0; i < n; i++) dst[i] = (float)((const double *)src)[i]; break;
    }
}

ebm_status ebm_io_array_to_mat_rows(const ebm_array *a, size_t max_rows, ebm_mat **out) {
    *out = NULL;
    if (!a || (!a->data && ebm_array_numel(a) > 0)) return ebm_fail(EBM_EINVAL, "array is NULL");
    size_t esize = ebm_dtype_size(a->dtype);
    if (esize == 0) return ebm_fail(EBM_EINVAL, "array has unknown dtype %d", (int)a->dtype);
    if (a->ndim < 0 || a->ndim > EBM_MAX_DIMS) return ebm_fail(EBM_EINVAL, "array has %d dimensions", a->ndim);
    size_t rows = a->ndim ? a->shape[0] : 1, cols = 1;
    for (int i = 1; i < a->ndim; i++)
        if (!ebm_mul_ok(cols, a->shape[i], &cols)) return ebm_fail(EBM_ENOMEM, "array is too large");
    if (max_rows && max_rows < rows) rows = max_rows;
    ebm_status s = ebm_mat_new(rows, cols, out);
    if (s != EBM_OK) return s;
    convert_to_float(a->dtype, a->data, rows * cols, (*out)->data);
    return EBM_OK;
}

ebm_status ebm_array_to_mat(const ebm_array *a, ebm_mat **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "array_to_mat: out is NULL");
    return ebm_io_array_to_mat_rows(a, 0, out);
}

ebm_status ebm_mat_check_range(const ebm_mat *m, float lo, float hi, const char *what) {
    if (!what) what = "matrix";
    if (!m || (!m->data && m->rows && m->cols)) return ebm_fail(EBM_EINVAL, "%s: matrix is NULL", what);
    for (size_t r = 0; r < m->rows; r++) {
        const float *row = m->data + r * m->cols;
        for (size_t c = 0; c < m->cols; c++) {
            float v = row[c];
            if (!isfinite(v))
                return ebm_fail(EBM_EINVAL, "%s: value %g at row %zu, column %zu is not finite", what, (double)v,
                                r, c);
            if (v < lo || v > hi)
                return ebm_fail(EBM_EINVAL, "%s: value %g at row %zu, column %zu is outside [%g, %g]", what,
                                (double)v, r, c, (double)lo, (double)hi);
        }
    }
    return EBM_OK;
}

ebm_status ebm_io_check_shape(const ebm_tensors *t, const char *file, const char *name, int ndim, const size_t *shape) {
    const ebm_array *a = ebm_tensors_get(t, name);
    if (!a) return ebm_fail(EBM_EFORMAT, "%s: tensor '%s' is missing", file, name);
    int same = a->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = a->shape[d] == shape[d];
    if (!same) {
        char got[128], want[128];
        ebm_io_shape_str(a->ndim, a->shape, got, sizeof got);
        ebm_io_shape_str(ndim, shape, want, sizeof want);
        return ebm_fail(EBM_EFORMAT, "%s: tensor '%s' has shape %s, expected %s", file, name, got, want);
    }
    return EBM_OK;
}

ebm_status ebm_io_take_f32(const ebm_tensors *t, const char *file, const char *name, int ndim, const size_t *shape,
                           float *dst) {
    ebm_status s = ebm_io_check_shape(t, file, name, ndim, shape);
    if (s) return s;
    const ebm_array *a = ebm_tensors_get(t, name);
    ebm_mat *m = NULL;
    s = ebm_array_to_mat(a, &m);
    if (s) return ebm_fail_prefix(s, "%s: tensor '%s'", file, name);
    size_t count = m->rows * m->cols, bad;
    memcpy(dst, m->data, count * sizeof(float));
    ebm_mat_free(m);
    if (!ebm_k_all_finite(dst, count, &bad))
        return ebm_fail(EBM_EFORMAT, "%s: tensor '%s' holds a non-finite value at element %zu", file, name, bad);
    return EBM_OK;
}
