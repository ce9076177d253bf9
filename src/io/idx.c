/* IDX, the format of the MNIST and Fashion-MNIST distributions (Y. LeCun, C. Cortes, C. Burges, "THE
 * MNIST DATABASE of handwritten digits", section "FILE FORMATS FOR THE MNIST DATABASE"): two zero
 * bytes, a type byte (0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64), the number of
 * dimensions, each dimension as a big-endian u32, then the data in C order, big-endian.  Files are
 * often gzip-compressed; the reader detects that by content. */
#include "io/io_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const struct {
    uint8_t code;
    ebm_dtype dtype;
} idx_types[] = {{0x08, EBM_U8}, {0x09, EBM_I8}, {0x0B, EBM_I16}, {0x0C, EBM_I32}, {0x0D, EBM_F32}, {0x0E, EBM_F64}};

#define N_IDX_TYPES (sizeof idx_types / sizeof idx_types[0])

static bool idx_dtype(uint8_t code, ebm_dtype *t) {
    for (size_t i = 0; i < N_IDX_TYPES; i++)
        if (idx_types[i].code == code) {
            *t = idx_types[i].dtype;
            return true;
        }
    return false;
}

static bool idx_code(ebm_dtype t, uint8_t *code) {
    for (size_t i = 0; i < N_IDX_TYPES; i++)
        if (idx_types[i].dtype == t) {
            *code = idx_types[i].code;
            return true;
        }
    return false;
}

/* Validates the header and fills dtype, ndim, shape and the header length. */
static ebm_status idx_header(const uint8_t *p, size_t len, const char *name, ebm_dtype *t, int *ndim,
                             size_t *shape, size_t *hdr) {
    if (len < 4) return ebm_fail(EBM_EFORMAT, "%s: truncated IDX header (%zu bytes)", name, len);
    if (p[0] || p[1])
        return ebm_fail(EBM_EFORMAT, "%s: not an IDX file (starts with %02x %02x, expected 00 00)", name, p[0], p[1]);
    if (!idx_dtype(p[2], t)) return ebm_fail(EBM_EFORMAT, "%s: unknown IDX data type 0x%02x", name, p[2]);
    *ndim = p[3];
    if (*ndim == 0) return ebm_fail(EBM_EFORMAT, "%s: IDX header has 0 dimensions", name);
    if (*ndim > EBM_MAX_DIMS)
        return ebm_fail(EBM_EFORMAT, "%s: IDX header has %d dimensions; at most %d are supported", name, *ndim,
                        EBM_MAX_DIMS);
    *hdr = 4 + 4 * (size_t)*ndim;
    if (len < *hdr)
        return ebm_fail(EBM_EFORMAT, "%s: truncated IDX header (%zu bytes, expected %zu)", name, len, *hdr);
    for (int i = 0; i < *ndim; i++) shape[i] = ebm_io_get_be32(p + 4 + 4 * i);
    return EBM_OK;
}

ebm_status ebm_idx_parse(const void *buf, size_t len, const char *name, ebm_array **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "idx: out is NULL");
    *out = NULL;
    if (!name) name = "IDX data";
    if (!buf && len) return ebm_fail(EBM_EINVAL, "%s: buffer is NULL", name);
    const uint8_t *p = buf;
    ebm_dtype t = EBM_U8;
    int ndim = 0;
    size_t shape[EBM_MAX_DIMS] = {0}, hdr = 0, numel = 0, bytes = 0;
    ebm_status s = idx_header(p, len, name, &t, &ndim, shape, &hdr);
    if (s != EBM_OK) return s;
    if (!ebm_io_shape_size(ndim, shape, ebm_dtype_size(t), &numel, &bytes)) {
        char sh[256];
        ebm_io_shape_str(ndim, shape, sh, sizeof sh);
        return ebm_fail(EBM_EFORMAT, "%s: IDX dimensions %s are too large", name, sh);
    }
    size_t have = len - hdr;
    if (have < bytes)
        return ebm_fail(EBM_EFORMAT, "%s: truncated: expected %zu bytes of data, found %zu", name, bytes, have);
    if (have > bytes) return ebm_fail(EBM_EFORMAT, "%s: %zu unexpected trailing bytes", name, have - bytes);
    s = ebm_array_new(t, ndim, shape, p + hdr, out);
    if (s != EBM_OK) return s;
    ebm_io_order((*out)->data, numel, ebm_dtype_size(t), 1);
    return EBM_OK;
}

static ebm_status parse_any(const void *buf, size_t len, const char *name, void *out) {
    return ebm_idx_parse(buf, len, name, out);
}

ebm_status ebm_idx_read(const char *path, ebm_array **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "idx: out is NULL");
    *out = NULL;
    return ebm_io_read_parse(path, 1, EBM_IO_MAX_FILE, parse_any, out);
}

/* Reads exactly n bytes from a zlib stream (raw or gzip); *got tells how many came before the end. */
static ebm_status gz_read_all(gzFile f, const char *path, void *buf, size_t n, size_t *got) {
    uint8_t *p = buf;
    *got = 0;
    while (*got < n) {
        size_t want = n - *got > ((size_t)1 << 30) ? ((size_t)1 << 30) : n - *got;
        int r = gzread(f, p + *got, (unsigned)want);
        if (r < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            if (zerr == Z_ERRNO) {
                char eb[128];
                return ebm_fail(EBM_EIO, "%s: read failed: %s", path, ebm_io_strerror(errno, eb, sizeof eb));
            }
            return ebm_fail(EBM_EFORMAT, "%s: corrupt gzip data (%s)", path, msg ? msg : "bad stream");
        }
        if (r == 0) break;
        *got += (size_t)r;
    }
    return EBM_OK;
}

ebm_status ebm_io_idx_read_rows(const char *path, size_t max_rows, size_t *claimed_rows, ebm_array **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "idx: out is NULL");
    *out = NULL;
    if (!path || !*path) return ebm_fail(EBM_EINVAL, "read: empty path");
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        char eb[128];
        return ebm_fail(EBM_EIO, "%s: %s", path, ebm_io_strerror(errno ? errno : ENOMEM, eb, sizeof eb));
    }
    uint8_t head[4 + 4 * EBM_MAX_DIMS];
    size_t got = 0, hdr = 0, shape[EBM_MAX_DIMS] = {0}, numel, bytes;
    ebm_dtype t = EBM_U8;
    int ndim = 0;
    ebm_status s = gz_read_all(f, path, head, 4, &got);
    if (!s && got >= 4 && head[3] >= 1 && head[3] <= EBM_MAX_DIMS) {
        size_t more = 0;
        s = gz_read_all(f, path, head + 4, 4 * (size_t)head[3], &more);
        got += more;
    }
    if (!s) s = idx_header(head, got, path, &t, &ndim, shape, &hdr);
    if (!s && !ebm_io_shape_size(ndim, shape, ebm_dtype_size(t), &numel, &bytes)) {
        char sh[256];
        ebm_io_shape_str(ndim, shape, sh, sizeof sh);
        s = ebm_fail(EBM_EFORMAT, "%s: IDX dimensions %s are too large", path, sh);
    }
    if (s || max_rows == 0 || max_rows >= shape[0]) {
        gzclose(f);
        if (s) return s;
        /* all the rows: the whole-file reader, which also checks that nothing follows them */
        if (claimed_rows) *claimed_rows = shape[0];
        return ebm_idx_read(path, out);
    }
    size_t esize = ebm_dtype_size(t);
    shape[0] = max_rows;
    if (!ebm_io_shape_size(ndim, shape, esize, &numel, &bytes) || bytes > EBM_IO_MAX_FILE) {
        gzclose(f);
        return ebm_fail(EBM_EFORMAT, "%s: %zu IDX rows exceed the limit of %zu bytes", path, max_rows,
                        (size_t)EBM_IO_MAX_FILE);
    }
    if (claimed_rows) *claimed_rows = ebm_io_get_be32(head + 4);
    /* the header's sizes are a claim: the buffer grows with what the stream actually holds, so a few bytes
     * claiming a gigabyte row fail as truncated without allocating it */
    uint8_t *buf = NULL;
    size_t cap = 0;
    got = 0;
    while (!s && got < bytes) {
        size_t ncap = cap ? (cap > bytes / 2 ? bytes : cap * 2) : (bytes < ((size_t)1 << 20) ? bytes : (size_t)1 << 20);
        uint8_t *nb = realloc(buf, ncap);
        if (!nb) {
            s = ebm_fail(EBM_ENOMEM, "%s: out of memory reading %zu bytes", path, ncap);
            break;
        }
        buf = nb;
        cap = ncap;
        size_t more = 0;
        s = gz_read_all(f, path, buf + got, cap - got, &more);
        got += more;
        if (!s && got < cap) break; /* the end of the stream */
    }
    gzclose(f);
    if (!s && got < bytes)
        s = ebm_fail(EBM_EFORMAT, "%s: truncated: expected at least %zu bytes of data for %zu rows, found %zu", path,
                     bytes, max_rows, got);
    if (!s) s = ebm_array_new(t, ndim, shape, buf, out);
    free(buf);
    if (s) return s;
    ebm_io_order((*out)->data, numel, esize, 1);
    return EBM_OK;
}

/* The whole file image: header, then the data in big-endian order. */
static ebm_status idx_encode(const ebm_array *a, uint8_t code, size_t bytes, uint8_t **out, size_t *out_len) {
    size_t hdr = 4 + 4 * (size_t)a->ndim, total;
    if (__builtin_add_overflow(hdr, bytes, &total)) return ebm_fail(EBM_ENOMEM, "idx: array is too large");
    uint8_t *b = malloc(total);
    if (!b) return ebm_fail(EBM_ENOMEM, "idx: out of memory for %zu bytes", total);
    b[0] = b[1] = 0;
    b[2] = code;
    b[3] = (uint8_t)a->ndim;
    for (int i = 0; i < a->ndim; i++) ebm_io_put_be32(b + 4 + 4 * i, (uint32_t)a->shape[i]);
    if (bytes) memcpy(b + hdr, a->data, bytes);
    size_t esize = ebm_dtype_size(a->dtype);
    ebm_io_order(b + hdr, bytes / esize, esize, 1);
    *out = b;
    *out_len = total;
    return EBM_OK;
}

ebm_status ebm_idx_write(const char *path, const ebm_array *a) {
    if (!path || !a) return ebm_fail(EBM_EINVAL, "idx_write: %s is NULL", !path ? "path" : "array");
    uint8_t code;
    if (!idx_code(a->dtype, &code))
        return ebm_fail(EBM_EINVAL, "%s: IDX cannot store dtype %s (u8, i8, i16, i32, f32 and f64 only)", path,
                        ebm_dtype_name(a->dtype));
    if (a->ndim < 1 || a->ndim > EBM_MAX_DIMS)
        return ebm_fail(EBM_EINVAL, "%s: IDX needs 1 to %d dimensions, the array has %d", path, EBM_MAX_DIMS,
                        a->ndim);
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] > UINT32_MAX)
            return ebm_fail(EBM_EINVAL, "%s: dimension %d (%zu) does not fit IDX's 32 bits", path, i, a->shape[i]);
    size_t numel, bytes;
    if (!ebm_io_shape_size(a->ndim, a->shape, ebm_dtype_size(a->dtype), &numel, &bytes))
        return ebm_fail(EBM_EINVAL, "%s: array is too large", path);
    if (bytes && !a->data) return ebm_fail(EBM_EINVAL, "%s: array data is NULL", path);
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    ebm_status s = idx_encode(a, code, bytes, &raw, &raw_len);
    if (s != EBM_OK) return s;
    if (ebm_io_ends_with(path, ".gz")) {
        uint8_t *gz = NULL;
        size_t gz_len = 0;
        s = ebm_io_gzip(raw, raw_len, 6, &gz, &gz_len);
        free(raw);
        if (s != EBM_OK) return ebm_fail_prefix(s, "%s", path);
        raw = gz;
        raw_len = gz_len;
    }
    s = ebm_write_file_atomic(path, raw, raw_len);
    free(raw);
    return s;
}
