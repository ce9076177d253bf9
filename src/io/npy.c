/* NPY, NumPy's array file (NumPy Enhancement Proposal 1, "A simple file format for NumPy arrays", and
 * numpy/lib/format.py): the magic "\x93NUMPY", a major and minor version (1.0, 2.0 or 3.0), the header
 * length as a little-endian u16 (1.0) or u32 (2.0, 3.0), a header that is a Python dict literal with
 * exactly the keys 'descr', 'fortran_order' and 'shape', padded with spaces and ended by '\n', then
 * the raw data.  We parse the literal ourselves (no eval): strings in either quote, True/False and a
 * tuple of non-negative integers (a Python 2 'L' suffix is accepted).  Fortran-ordered arrays are
 * transposed to C order on reading.  Writing produces version 1.0 (2.0 when the header would not fit a
 * u16) with the header padded so that the data starts at a multiple of 64 bytes, as numpy does. */
#include "io/io_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

typedef struct npy_header {
    ebm_dtype dtype;
    int big_endian;
    bool fortran;
    int ndim;
    size_t shape[EBM_MAX_DIMS];
} npy_header;

/* A cursor over the header text; errors name the file. */
typedef struct hcur {
    const char *p, *end, *name;
} hcur;

static ebm_status herr(const hcur *h, const char *what) {
    return ebm_fail(EBM_EFORMAT, "%s: bad NPY header: %s", h->name, what);
}

static void hws(hcur *h) {
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r')) h->p++;
}

static bool hchar(hcur *h, char c) {
    hws(h);
    if (h->p < h->end && *h->p == c) {
        h->p++;
        return true;
    }
    return false;
}

/* A quoted string without escapes (none of the values numpy writes has one), into out (cap bytes). */
static ebm_status hstring(hcur *h, char *out, size_t cap) {
    hws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return herr(h, "expected a quoted string");
    char q = *h->p++;
    const char *s = h->p;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\' || (unsigned char)*h->p < 0x20) return herr(h, "unsupported character in string");
        h->p++;
    }
    if (h->p >= h->end) return herr(h, "unterminated string");
    size_t n = (size_t)(h->p - s);
    h->p++;
    if (n >= cap) return herr(h, "string too long");
    memcpy(out, s, n);
    out[n] = '\0';
    return EBM_OK;
}

static const struct {
    const char *code;
    ebm_dtype dtype;
} npy_types[] = {{"u1", EBM_U8}, {"b1", EBM_U8},  {"i1", EBM_I8},  {"i2", EBM_I16}, {"i4", EBM_I32},
                 {"i8", EBM_I64}, {"f2", EBM_F16}, {"f4", EBM_F32}, {"f8", EBM_F64}};

static ebm_status parse_descr(hcur *h, npy_header *hd) {
    char d[32];
    ebm_status s = hstring(h, d, sizeof d);
    if (s != EBM_OK) return s;
    char order = d[0];
    if (order != '<' && order != '>' && order != '|' && order != '=')
        return ebm_fail(EBM_EFORMAT, "%s: unsupported NPY dtype '%s'", h->name, d);
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++) {
        if (strcmp(d + 1, npy_types[i].code) != 0) continue;
        hd->dtype = npy_types[i].dtype;
        if (order == '|' && ebm_dtype_size(hd->dtype) > 1)
            return ebm_fail(EBM_EFORMAT, "%s: NPY dtype '%s' lacks a byte order", h->name, d);
        hd->big_endian = order == '>' || (order == '=' && !ebm_io_host_le());
        return EBM_OK;
    }
    return ebm_fail(EBM_EFORMAT, "%s: unsupported NPY dtype '%s' (u1 i1 i2 i4 i8 f2 f4 f8 b1 are supported)",
                    h->name, d);
}

static ebm_status parse_bool(hcur *h, bool *out) {
    hws(h);
    size_t left = (size_t)(h->end - h->p);
    if (left >= 4 && memcmp(h->p, "True", 4) == 0) {
        h->p += 4;
        *out = true;
    } else if (left >= 5 && memcmp(h->p, "False", 5) == 0) {
        h->p += 5;
        *out = false;
    } else {
        return herr(h, "fortran_order must be True or False");
    }
    return EBM_OK;
}

static ebm_status parse_dim(hcur *h, size_t *out) {
    hws(h);
    if (h->p >= h->end || *h->p < '0' || *h->p > '9') return herr(h, "shape must hold non-negative integers");
    size_t v = 0;
    while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (size_t)(*h->p - '0'), &v))
            return herr(h, "dimension too large");
        h->p++;
    }
    if (h->p < h->end && (*h->p == 'L' || *h->p == 'l')) h->p++; /* Python 2 long literal */
    *out = v;
    return EBM_OK;
}

/* A Python tuple: (), (n,), (a, b) or (a, b,). "(n)" is an int in Python, not a tuple. */
static ebm_status parse_shape(hcur *h, npy_header *hd) {
    if (!hchar(h, '(')) return herr(h, "shape must be a tuple");
    int n = 0;
    bool comma = false;
    for (;;) {
        if (hchar(h, ')')) break;
        if (n > 0 && !comma) return herr(h, "expected ',' or ')' in shape");
        if (n == EBM_MAX_DIMS)
            return ebm_fail(EBM_EFORMAT, "%s: NPY array has more than %d dimensions", h->name, EBM_MAX_DIMS);
        ebm_status s = parse_dim(h, &hd->shape[n]);
        if (s != EBM_OK) return s;
        n++;
        comma = hchar(h, ',');
    }
    if (n == 1 && !comma) return herr(h, "shape must be a tuple");
    hd->ndim = n;
    return EBM_OK;
}

static ebm_status parse_header(const char *text, size_t len, const char *name, npy_header *hd) {
    hcur h = {text, text + len, name};
    bool seen[3] = {false, false, false};
    static const char *const keys[3] = {"descr", "fortran_order", "shape"};
    if (!hchar(&h, '{')) return herr(&h, "expected '{'");
    for (;;) {
        if (hchar(&h, '}')) break;
        char key[32];
        ebm_status s = hstring(&h, key, sizeof key);
        if (s != EBM_OK) return s;
        int k = 0;
        while (k < 3 && strcmp(key, keys[k]) != 0) k++;
        if (k == 3) return ebm_fail(EBM_EFORMAT, "%s: bad NPY header: unexpected key '%s'", name, key);
        if (seen[k]) return ebm_fail(EBM_EFORMAT, "%s: bad NPY header: key '%s' repeated", name, key);
        seen[k] = true;
        if (!hchar(&h, ':')) return herr(&h, "expected ':'");
        s = k == 0 ? parse_descr(&h, hd) : k == 1 ? parse_bool(&h, &hd->fortran) : parse_shape(&h, hd);
        if (s != EBM_OK) return s;
        if (hchar(&h, ',')) continue;
        if (hchar(&h, '}')) break;
        return herr(&h, "expected ',' or '}'");
    }
    hws(&h);
    if (h.p != h.end) return herr(&h, "unexpected text after the dictionary");
    for (int k = 0; k < 3; k++)
        if (!seen[k]) return ebm_fail(EBM_EFORMAT, "%s: bad NPY header: missing key '%s'", name, keys[k]);
    return EBM_OK;
}

/* Reads the magic, version and header length; *off is where the header text starts. */
static ebm_status parse_preamble(const uint8_t *p, size_t len, const char *name, size_t *off, size_t *hlen) {
    if (len < 6 || memcmp(p, npy_magic, 6) != 0)
        return ebm_fail(EBM_EFORMAT, "%s: not an NPY file (bad magic)", name);
    if (len < 10) return ebm_fail(EBM_EFORMAT, "%s: truncated NPY header (%zu bytes)", name, len);
    if (p[6] == 1 && p[7] == 0) {
        *hlen = ebm_io_get_le16(p + 8);
        *off = 10;
    } else if ((p[6] == 2 || p[6] == 3) && p[7] == 0) {
        if (len < 12) return ebm_fail(EBM_EFORMAT, "%s: truncated NPY header (%zu bytes)", name, len);
        *hlen = ebm_io_get_le32(p + 8);
        *off = 12;
    } else {
        return ebm_fail(EBM_EFORMAT, "%s: unsupported NPY version %d.%d", name, p[6], p[7]);
    }
    if (*hlen > len - *off)
        return ebm_fail(EBM_EFORMAT, "%s: truncated NPY header: %zu bytes declared, %zu present", name, *hlen,
                        len - *off);
    return EBM_OK;
}

/* src holds a Fortran-ordered array (first index fastest); dst receives it in C order. */
static void fortran_to_c(const uint8_t *src, uint8_t *dst, int ndim, const size_t *shape, size_t numel,
                         size_t esize) {
    size_t idx[EBM_MAX_DIMS] = {0}, cstride[EBM_MAX_DIMS], off = 0;
    cstride[ndim - 1] = 1;
    for (int d = ndim - 2; d >= 0; d--) cstride[d] = cstride[d + 1] * shape[d + 1];
    for (size_t i = 0; i < numel; i++) {
        memcpy(dst + off * esize, src + i * esize, esize);
        for (int d = 0; d < ndim; d++) {
            off += cstride[d];
            if (++idx[d] < shape[d]) break;
            off -= shape[d] * cstride[d];
            idx[d] = 0;
        }
    }
}

ebm_status ebm_npy_parse(const void *buf, size_t len, const char *name, ebm_array **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "npy: out is NULL");
    *out = NULL;
    if (!name) name = "NPY data";
    if (!buf && len) return ebm_fail(EBM_EINVAL, "%s: buffer is NULL", name);
    const uint8_t *p = buf;
    size_t off = 0, hlen = 0, numel = 0, bytes = 0;
    ebm_status s = parse_preamble(p, len, name, &off, &hlen);
    if (s != EBM_OK) return s;
    npy_header hd = {0};
    s = parse_header((const char *)p + off, hlen, name, &hd);
    if (s != EBM_OK) return s;
    size_t esize = ebm_dtype_size(hd.dtype);
    if (!ebm_io_shape_size(hd.ndim, hd.shape, esize, &numel, &bytes)) {
        char sh[256];
        ebm_io_shape_str(hd.ndim, hd.shape, sh, sizeof sh);
        return ebm_fail(EBM_EFORMAT, "%s: NPY shape %s is too large", name, sh);
    }
    const uint8_t *data = p + off + hlen;
    size_t have = len - off - hlen;
    if (have < bytes)
        return ebm_fail(EBM_EFORMAT, "%s: truncated: expected %zu bytes of data, found %zu", name, bytes, have);
    if (have > bytes) return ebm_fail(EBM_EFORMAT, "%s: %zu unexpected trailing bytes", name, have - bytes);
    bool transpose = hd.fortran && hd.ndim >= 2 && numel > 0;
    s = ebm_array_new(hd.dtype, hd.ndim, hd.shape, transpose ? NULL : data, out);
    if (s != EBM_OK) return s;
    if (transpose) fortran_to_c(data, (*out)->data, hd.ndim, hd.shape, numel, esize);
    ebm_io_order((*out)->data, numel, esize, hd.big_endian);
    return EBM_OK;
}

static ebm_status parse_any(const void *buf, size_t len, const char *name, void *out) {
    return ebm_npy_parse(buf, len, name, out);
}

ebm_status ebm_npy_read(const char *path, ebm_array **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "npy: out is NULL");
    *out = NULL;
    return ebm_io_read_parse(path, 0, EBM_IO_MAX_FILE, parse_any, out);
}

static const char *npy_descr(ebm_dtype t) {
    switch (t) {
    case EBM_U8: return "|u1";
    case EBM_I8: return "|i1";
    case EBM_I16: return "<i2";
    case EBM_I32: return "<i4";
    case EBM_I64: return "<i8";
    case EBM_F16: return "<f2";
    case EBM_F32: return "<f4";
    case EBM_F64: return "<f8";
    case EBM_BF16: break;
    }
    return NULL;
}

/* Magic, version, length and the padded dict, ready to write. */
static ebm_status npy_header_bytes(const ebm_array *a, const char *descr, ebm_buf *b) {
    char shape[256], dict[512];
    ebm_io_shape_str(a->ndim, a->shape, shape, sizeof shape);
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    size_t dlen = (size_t)n, pre = 10, total = (pre + dlen + 1 + 63) / 64 * 64;
    if (total - pre > 65535) { /* a u16 cannot hold the length: version 2.0 */
        pre = 12;
        total = (pre + dlen + 1 + 63) / 64 * 64;
    }
    size_t hlen = total - pre;
    uint8_t head[12];
    memcpy(head, npy_magic, 6);
    head[6] = pre == 10 ? 1 : 2;
    head[7] = 0;
    if (pre == 10)
        ebm_io_put_le16(head + 8, (uint16_t)hlen);
    else
        ebm_io_put_le32(head + 8, (uint32_t)hlen);
    ebm_buf_put(b, head, pre);
    ebm_buf_put(b, dict, dlen);
    for (size_t i = dlen + 1; i < hlen; i++) ebm_buf_putc(b, ' ');
    ebm_buf_putc(b, '\n');
    return b->failed ? EBM_ENOMEM : EBM_OK;
}

ebm_status ebm_npy_write(const char *path, const ebm_array *a) {
    if (!path || !a) return ebm_fail(EBM_EINVAL, "npy_write: %s is NULL", !path ? "path" : "array");
    const char *descr = npy_descr(a->dtype);
    if (!descr) return ebm_fail(EBM_EINVAL, "%s: NPY cannot store dtype %s", path, ebm_dtype_name(a->dtype));
    if (a->ndim < 0 || a->ndim > EBM_MAX_DIMS)
        return ebm_fail(EBM_EINVAL, "%s: array has %d dimensions", path, a->ndim);
    size_t esize = ebm_dtype_size(a->dtype), numel, bytes;
    if (!ebm_io_shape_size(a->ndim, a->shape, esize, &numel, &bytes))
        return ebm_fail(EBM_EINVAL, "%s: array is too large", path);
    if (bytes && !a->data) return ebm_fail(EBM_EINVAL, "%s: array data is NULL", path);
    ebm_buf head = {0};
    ebm_status s = npy_header_bytes(a, descr, &head);
    if (s != EBM_OK) {
        ebm_buf_free(&head);
        return s;
    }
    ebm_atomic_file f;
    s = ebm_atomic_open(&f, path);
    if (s == EBM_OK) {
        int e = ebm_io_write_all(f.fd, head.data, head.len);
        if (!e) e = ebm_io_write_ordered(f.fd, a->data, numel, esize, 0);
        if (e) {
            char eb[128];
            ebm_atomic_abort(&f);
            s = ebm_fail(EBM_EIO, "%s: write failed: %s", path, ebm_io_strerror(e, eb, sizeof eb));
        } else {
            s = ebm_atomic_commit(&f);
        }
    }
    ebm_buf_free(&head);
    return s;
}
