/* Helpers shared by the readers and writers of src/io (never installed): byte order, checked shape
 * arithmetic, a growable byte buffer, a scoped "C" numeric locale, gzip compression, and the
 * in-memory PNG decoder that the fuzz target drives. */
#ifndef EBM_IO_INTERNAL_H
#define EBM_IO_INTERNAL_H

#include "core/internal.h"

#include <locale.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Readers refuse files (or decompressed streams) above this many bytes: 16 GiB, or SIZE_MAX where
 * size_t is narrower. */
#define EBM_IO_MAX_FILE \
    ((size_t)(((uint64_t)1 << 34) < (uint64_t)SIZE_MAX ? ((uint64_t)1 << 34) : (uint64_t)SIZE_MAX))

/* ---- byte order ---- */
static inline bool ebm_io_host_le(void) { return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__; }

static inline uint32_t ebm_io_get_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}
static inline void ebm_io_put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline uint16_t ebm_io_get_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t ebm_io_get_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t ebm_io_get_le64(const uint8_t *p) {
    return (uint64_t)ebm_io_get_le32(p) | (uint64_t)ebm_io_get_le32(p + 4) << 32;
}
static inline void ebm_io_put_le16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void ebm_io_put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void ebm_io_put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Reverses the bytes of each of the n elements of esize bytes in data. */
void ebm_io_swap(void *data, size_t n, size_t esize);
/* Converts n elements between host order and big- (big_endian != 0) or little-endian order, in place
 * (the conversion is its own inverse). */
static inline void ebm_io_order(void *data, size_t n, size_t esize, int big_endian) {
    if (esize > 1 && (big_endian != 0) == ebm_io_host_le()) ebm_io_swap(data, n, esize);
}

/* ---- shapes ---- */
/* numel and bytes (= numel * esize) of a shape; false when the product of the non-zero dimensions
 * times esize overflows size_t, so that every partial product of a shape that passes fits as well. */
bool ebm_io_shape_size(int ndim, const size_t *shape, size_t esize, size_t *numel, size_t *bytes);
/* "(2, 3)", "(5,)" or "()" into buf. */
void ebm_io_shape_str(int ndim, const size_t *shape, char *buf, size_t cap);
/* Copies tensor `name` of t, which must have exactly the given shape, into dst as float32 (from any numeric
 * dtype); a missing tensor, another shape or a non-finite value is EBM_EFORMAT naming file and tensor.
 * The one reader of model parameters for every model file. */
/* EBM_EFORMAT naming the tensor when t has no tensor name or its shape is not (ndim, shape): lets a loader
 * check a file against the sizes its metadata claims before allocating them. */
ebm_status ebm_io_check_shape(const ebm_tensors *t, const char *file, const char *name, int ndim, const size_t *shape);
ebm_status ebm_io_take_f32(const ebm_tensors *t, const char *file, const char *name, int ndim, const size_t *shape,
                           float *dst);
/* Like ebm_array_to_mat, but keeps only the first max_rows rows (all when max_rows is 0 or larger). */
ebm_status ebm_io_array_to_mat_rows(const ebm_array *a, size_t max_rows, ebm_mat **out);
/* True when s ends with suffix. */
bool ebm_io_ends_with(const char *s, const char *suffix);
/* True when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF). */
bool ebm_io_utf8_valid(const char *s, size_t len);

/* ---- a growable byte buffer; after the first failed allocation every call fails (message set) ---- */
typedef struct ebm_buf {
    char *data;
    size_t len, cap;
    bool failed;
} ebm_buf;

bool ebm_buf_reserve(ebm_buf *b, size_t extra);
bool ebm_buf_put(ebm_buf *b, const void *p, size_t n);
bool ebm_buf_puts(ebm_buf *b, const char *s);
bool ebm_buf_putc(ebm_buf *b, char c);
bool ebm_buf_printf(ebm_buf *b, const char *fmt, ...) EBM_PRINTF(2, 3);
void ebm_buf_free(ebm_buf *b);

/* ---- number formatting and parsing independent of the caller's setlocale(LC_NUMERIC) ---- */
typedef struct ebm_c_locale {
    locale_t c, old;
} ebm_c_locale;
/* Switches this thread to the "C" numeric locale until ebm_c_locale_leave (no-op if unavailable). */
void ebm_c_locale_enter(ebm_c_locale *l);
void ebm_c_locale_leave(ebm_c_locale *l);

/* ---- files ---- */
/* Writes all n bytes to fd, retrying short writes; returns 0 or an errno value. */
int ebm_io_write_all(int fd, const void *p, size_t n);
/* Writes n elements of esize bytes from host order to fd in big- or little-endian order, converting
 * through a small buffer when the host order differs; returns 0 or an errno value. */
int ebm_io_write_ordered(int fd, const void *data, size_t n, size_t esize, int big_endian);
/* strerror for messages, thread-safe. */
const char *ebm_io_strerror(int err, char *buf, size_t cap);
/* gzip-compresses in (n bytes) at zlib level into a malloc'd *out. */
ebm_status ebm_io_gzip(const void *in, size_t n, int level, uint8_t **out, size_t *out_len);

/* ---- IDX ---- */
/* The first max_rows rows of the IDX file at path (raw or gzip), read through a stream so that a gzip file
 * is inflated only as far as those rows (a small file can claim a million rows); all of them, through
 * ebm_idx_read, when max_rows is 0 or not below the rows in the header.  *claimed_rows (may be NULL) <-
 * the rows the header claims.  The rows past max_rows are not read, so not checked. */
ebm_status ebm_io_idx_read_rows(const char *path, size_t max_rows, size_t *claimed_rows, ebm_array **out);

/* ---- PNG ---- */
/* Decodes a PNG held in memory to u8 (h, w) or (h, w, c); refuses images whose decoded size would
 * exceed max_bytes (EBM_EFORMAT).  name is used in messages. */
ebm_status ebm_io_png_parse(const void *buf, size_t len, const char *name, size_t max_bytes,
                            ebm_array **out);

/* Reads path whole (gunzipping when asked and the content is gzip, at most max_bytes) and hands the
 * bytes to parse(buf, len, path, out): the shared body of every ebm_*_read. */
typedef ebm_status (*ebm_io_parse_fn)(const void *buf, size_t len, const char *name, void *out);
ebm_status ebm_io_read_parse(const char *path, int gunzip, size_t max_bytes, ebm_io_parse_fn parse, void *out);

#endif
