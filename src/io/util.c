/* Small utilities of the io module: a growable byte buffer for building headers and text files, a
 * per-thread switch to the "C" numeric locale (POSIX.1-2008 newlocale/uselocale) so that "%.9g" and
 * strtof mean the same thing whatever the application set with setlocale, the UTF-8 well-formedness
 * check of Unicode 15, table 3-7, and byte swapping. */
#include "io/io_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool ebm_buf_reserve(ebm_buf *b, size_t extra) {
    if (b->failed) return false;
    if (b->cap - b->len >= extra) return true;
    size_t need;
    if (__builtin_add_overflow(b->len, extra, &need)) {
        b->failed = true;
        ebm_fail(EBM_ENOMEM, "buffer size overflows");
        return false;
    }
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < need) ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    char *nd = realloc(b->data, ncap);
    if (!nd) {
        b->failed = true;
        ebm_fail(EBM_ENOMEM, "out of memory growing a buffer to %zu bytes", ncap);
        return false;
    }
    b->data = nd;
    b->cap = ncap;
    return true;
}

bool ebm_buf_put(ebm_buf *b, const void *p, size_t n) {
    if (!ebm_buf_reserve(b, n)) return false;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    return true;
}

bool ebm_buf_puts(ebm_buf *b, const char *s) { return ebm_buf_put(b, s, strlen(s)); }

bool ebm_buf_putc(ebm_buf *b, char c) { return ebm_buf_put(b, &c, 1); }

bool ebm_buf_printf(ebm_buf *b, const char *fmt, ...) {
    if (b->failed) return false;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !ebm_buf_reserve(b, (size_t)n + 1)) {
        if (!b->failed) ebm_fail(EBM_EINVAL, "formatting failed");
        b->failed = true;
        return false;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}

void ebm_buf_free(ebm_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

void ebm_c_locale_enter(ebm_c_locale *l) {
    l->c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    l->old = l->c ? uselocale(l->c) : (locale_t)0;
}

void ebm_c_locale_leave(ebm_c_locale *l) {
    if (!l->c) return;
    uselocale(l->old);
    freelocale(l->c);
    l->c = (locale_t)0;
}

bool ebm_io_ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

bool ebm_io_utf8_valid(const char *s, size_t len) {
    const uint8_t *p = (const uint8_t *)s, *end = p + len;
    while (p < end) {
        uint8_t c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t n;
        uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        if (c >= 0xc2 && c <= 0xdf)
            n = 2;
        else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            if (c == 0xe0) lo = 0xa0;      /* overlong */
            if (c == 0xed) hi = 0x9f;      /* UTF-16 surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            if (c == 0xf0) lo = 0x90;      /* overlong */
            if (c == 0xf4) hi = 0x8f;      /* above U+10FFFF */
        } else
            return false;
        if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi) return false;
        for (size_t i = 2; i < n; i++)
            if ((p[i] & 0xc0) != 0x80) return false;
        p += n;
    }
    return true;
}

void ebm_io_swap(void *data, size_t n, size_t esize) {
    uint8_t *p = data;
    switch (esize) {
    case 2:
        for (size_t i = 0; i < n; i++, p += 2) {
            uint16_t v;
            memcpy(&v, p, 2);
            v = __builtin_bswap16(v);
            memcpy(p, &v, 2);
        }
        break;
    case 4:
        for (size_t i = 0; i < n; i++, p += 4) {
            uint32_t v;
            memcpy(&v, p, 4);
            v = __builtin_bswap32(v);
            memcpy(p, &v, 4);
        }
        break;
    case 8:
        for (size_t i = 0; i < n; i++, p += 8) {
            uint64_t v;
            memcpy(&v, p, 8);
            v = __builtin_bswap64(v);
            memcpy(p, &v, 8);
        }
        break;
    default:
        for (size_t i = 0; i < n; i++, p += esize)
            for (size_t a = 0, b = esize - 1; a < b; a++, b--) {
                uint8_t t = p[a];
                p[a] = p[b];
                p[b] = t;
            }
    }
}
