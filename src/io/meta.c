/* Metadata: an ordered list of UTF-8 string key/value pairs, stored as the "__metadata__" object of a
 * safetensors file (https://github.com/huggingface/safetensors, "Format").  Insertion order is kept
 * so that files are written deterministically; lookups are linear because a model carries tens of
 * keys, not thousands. */
#include "io/io_internal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ebm_meta {
    size_t n, cap;
    char **keys;
    char **values;
};

ebm_status ebm_meta_new(ebm_meta **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "meta: out is NULL");
    *out = calloc(1, sizeof **out);
    return *out ? EBM_OK : ebm_fail(EBM_ENOMEM, "meta: out of memory");
}

void ebm_meta_free(ebm_meta *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->keys[i]);
        free(m->values[i]);
    }
    free(m->keys);
    free(m->values);
    free(m);
}

static ptrdiff_t find(const ebm_meta *m, const char *key) {
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], key) == 0) return (ptrdiff_t)i;
    return -1;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static bool grow(ebm_meta *m) {
    if (m->n < m->cap) return true;
    size_t ncap = m->cap ? m->cap * 2 : 8;
    char **k = realloc(m->keys, ncap * sizeof *k);
    if (!k) return false;
    m->keys = k;
    char **v = realloc(m->values, ncap * sizeof *v);
    if (!v) return false;
    m->values = v;
    m->cap = ncap;
    return true;
}

ebm_status ebm_meta_set(ebm_meta *m, const char *key, const char *value) {
    if (!m || !key || !value) return ebm_fail(EBM_EINVAL, "meta_set: %s is NULL", !m ? "meta" : !key ? "key" : "value");
    if (!ebm_io_utf8_valid(key, strlen(key))) return ebm_fail(EBM_EINVAL, "meta_set: key is not valid UTF-8");
    if (!ebm_io_utf8_valid(value, strlen(value)))
        return ebm_fail(EBM_EINVAL, "meta_set: value of '%s' is not valid UTF-8", key);
    char *v = dup_str(value);
    if (!v) return ebm_fail(EBM_ENOMEM, "meta_set: out of memory");
    ptrdiff_t i = find(m, key);
    if (i >= 0) {
        free(m->values[i]);
        m->values[i] = v;
        return EBM_OK;
    }
    char *k = dup_str(key);
    if (!k || !grow(m)) {
        free(k);
        free(v);
        return ebm_fail(EBM_ENOMEM, "meta_set: out of memory");
    }
    m->keys[m->n] = k;
    m->values[m->n] = v;
    m->n++;
    return EBM_OK;
}

ebm_status ebm_meta_setf(ebm_meta *m, const char *key, const char *fmt, ...) {
    if (!fmt) return ebm_fail(EBM_EINVAL, "meta_setf: format is NULL");
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return ebm_fail(EBM_EINVAL, "meta_setf: bad format for '%s'", key ? key : "(null)");
    char small[256];
    char *s = (size_t)n < sizeof small ? small : malloc((size_t)n + 1);
    if (!s) return ebm_fail(EBM_ENOMEM, "meta_setf: out of memory");
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    ebm_status st = ebm_meta_set(m, key, s);
    if (s != small) free(s);
    return st;
}

const char *ebm_meta_get(const ebm_meta *m, const char *key) {
    if (!m || !key) return NULL;
    ptrdiff_t i = find(m, key);
    return i >= 0 ? m->values[i] : NULL;
}

size_t ebm_meta_count(const ebm_meta *m) { return m ? m->n : 0; }

void ebm_meta_at(const ebm_meta *m, size_t i, const char **key, const char **value) {
    bool ok = m && i < m->n;
    if (key) *key = ok ? m->keys[i] : NULL;
    if (value) *value = ok ? m->values[i] : NULL;
}

ebm_status ebm_meta_copy(ebm_meta *dst, const ebm_meta *src) {
    if (!dst || !src) return ebm_fail(EBM_EINVAL, "meta_copy: %s is NULL", !dst ? "dst" : "src");
    if (dst == src) return EBM_OK;
    for (size_t i = 0; i < src->n; i++) {
        ebm_status s = ebm_meta_set(dst, src->keys[i], src->values[i]);
        if (s != EBM_OK) return s;
    }
    return EBM_OK;
}

ebm_status ebm_meta_get_float(const ebm_meta *m, const char *key, float *out) {
    const char *v = ebm_meta_get(m, key);
    if (!v) return ebm_fail(EBM_EINVAL, "no '%.200s' in the metadata", key ? key : "(null)");
    char *end;
    double d = strtod(v, &end);
    if (!*v || *end || !isfinite(d) || fabs(d) > FLT_MAX)
        return ebm_fail(EBM_EFORMAT, "metadata %.200s '%.60s' is not a finite number", key, v);
    *out = (float)d;
    return EBM_OK;
}

ebm_status ebm_meta_get_size(const ebm_meta *m, const char *key, size_t *out) {
    const char *v = ebm_meta_get(m, key);
    if (!v) return ebm_fail(EBM_EINVAL, "no '%.200s' in the metadata", key ? key : "(null)");
    char *end;
    errno = 0;
    unsigned long long d = *v >= '0' && *v <= '9' ? strtoull(v, &end, 10) : 0;
    if (!(*v >= '0' && *v <= '9') || *end || errno == ERANGE || d > SIZE_MAX)
        return ebm_fail(EBM_EFORMAT, "metadata %.200s '%.60s' is not a whole number", key, v);
    *out = (size_t)d;
    return EBM_OK;
}
