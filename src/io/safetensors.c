/* safetensors (Hugging Face, https://github.com/huggingface/safetensors, README section "Format"): an
 * 8-byte little-endian u64 N, N bytes of UTF-8 JSON header, then the byte buffer.  The header is an
 * object mapping each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets into
 * the byte buffer) plus an optional "__metadata__" object of string values.  We enforce the rules of
 * the reference implementation (safetensors/src/tensor.rs, Metadata::validate) and of the spec: the
 * header starts with '{' and is at most 100 MB, offsets fit the buffer, tensors neither overlap nor
 * leave holes and together cover the whole buffer, end - begin = numel * dtype size, no duplicate
 * names; in addition every tensor has exactly those three fields.  Writers put "__metadata__" first,
 * tensors in insertion order with contiguous offsets, and pad the header with spaces so that the
 * buffer starts at a multiple of 8 bytes. */
#include "io/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER 100000000u /* the reference implementation's MAX_HEADER_SIZE */

struct ebm_tensors {
    size_t n, cap;
    char **names;
    ebm_array **arrays;
    ebm_meta *meta;
};

static const struct {
    const char *name;
    ebm_dtype dtype;
} st_types[] = {{"U8", EBM_U8},   {"I8", EBM_I8},     {"I16", EBM_I16}, {"I32", EBM_I32}, {"I64", EBM_I64},
                {"F16", EBM_F16}, {"BF16", EBM_BF16}, {"F32", EBM_F32}, {"F64", EBM_F64}};

#define N_ST_TYPES (sizeof st_types / sizeof st_types[0])

/* ------------------------------------------------------------------------------------------------
 * The container
 * --------------------------------------------------------------------------------------------- */

ebm_status ebm_tensors_new(ebm_tensors **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "tensors: out is NULL");
    *out = NULL;
    ebm_tensors *t = calloc(1, sizeof *t);
    if (!t) return ebm_fail(EBM_ENOMEM, "tensors: out of memory");
    ebm_status s = ebm_meta_new(&t->meta);
    if (s != EBM_OK) {
        free(t);
        return s;
    }
    *out = t;
    return EBM_OK;
}

void ebm_tensors_free(ebm_tensors *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->names[i]);
        ebm_array_free(t->arrays[i]);
    }
    free(t->names);
    free(t->arrays);
    ebm_meta_free(t->meta);
    free(t);
}

static ptrdiff_t find_tensor(const ebm_tensors *t, const char *name) {
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->names[i], name) == 0) return (ptrdiff_t)i;
    return -1;
}

/* Appends (name, a), taking ownership of a (freed on failure); no duplicate check. */
static ebm_status append(ebm_tensors *t, const char *name, ebm_array *a) {
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 8;
        char **nn = realloc(t->names, ncap * sizeof *nn);
        if (nn) t->names = nn;
        ebm_array **na = nn ? realloc(t->arrays, ncap * sizeof *na) : NULL;
        if (na) t->arrays = na;
        if (!nn || !na) {
            ebm_array_free(a);
            return ebm_fail(EBM_ENOMEM, "tensors: out of memory");
        }
        t->cap = ncap;
    }
    size_t len = strlen(name) + 1;
    char *copy = malloc(len);
    if (!copy) {
        ebm_array_free(a);
        return ebm_fail(EBM_ENOMEM, "tensors: out of memory");
    }
    memcpy(copy, name, len);
    t->names[t->n] = copy;
    t->arrays[t->n] = a;
    t->n++;
    return EBM_OK;
}

ebm_status ebm_tensors_put(ebm_tensors *t, const char *name, ebm_dtype dtype, int ndim, const size_t *shape,
                           const void *data) {
    if (!t || !name) return ebm_fail(EBM_EINVAL, "tensors_put: %s is NULL", !t ? "tensors" : "name");
    if (strcmp(name, "__metadata__") == 0)
        return ebm_fail(EBM_EINVAL, "tensors_put: '__metadata__' is reserved and cannot name a tensor");
    if (!ebm_io_utf8_valid(name, strlen(name)))
        return ebm_fail(EBM_EINVAL, "tensors_put: tensor name is not valid UTF-8");
    if (find_tensor(t, name) >= 0) return ebm_fail(EBM_EINVAL, "tensors_put: tensor '%s' already exists", name);
    ebm_array *a;
    ebm_status s = ebm_array_new(dtype, ndim, shape, data, &a);
    if (s != EBM_OK) return ebm_fail_prefix(s, "tensor '%s'", name);
    return append(t, name, a);
}

const ebm_array *ebm_tensors_get(const ebm_tensors *t, const char *name) {
    if (!t || !name) return NULL;
    ptrdiff_t i = find_tensor(t, name);
    return i >= 0 ? t->arrays[i] : NULL;
}

size_t ebm_tensors_count(const ebm_tensors *t) { return t ? t->n : 0; }

const char *ebm_tensors_name(const ebm_tensors *t, size_t i) { return t && i < t->n ? t->names[i] : NULL; }

ebm_meta *ebm_tensors_meta(ebm_tensors *t) { return t ? t->meta : NULL; }

const ebm_meta *ebm_tensors_meta_const(const ebm_tensors *t) { return t ? t->meta : NULL; }

/* ------------------------------------------------------------------------------------------------
 * Reading
 * --------------------------------------------------------------------------------------------- */

/* A tensor's entry in the header, validated but not yet copied. */
typedef struct st_entry {
    const char *name;
    ebm_dtype dtype;
    int ndim;
    size_t shape[EBM_MAX_DIMS];
    uint64_t begin, end;
} st_entry;

/* A JSON integer that is a valid non-negative size. */
static bool json_u64(const ebm_json *v, uint64_t *out) {
    if (!v || v->type != EBM_JSON_NUMBER || !v->is_int || v->integer < 0) return false;
    *out = (uint64_t)v->integer;
    return true;
}

static ebm_status entry_dtype(const char *file, const char *tname, const ebm_json *v, st_entry *e) {
    if (!v || v->type != EBM_JSON_STRING)
        return ebm_fail(EBM_EFORMAT, "%s: tensor '%s': dtype must be a string", file, tname);
    for (size_t i = 0; i < N_ST_TYPES; i++)
        if (strcmp(v->str, st_types[i].name) == 0 && strlen(v->str) == v->len) {
            e->dtype = st_types[i].dtype;
            return EBM_OK;
        }
    return ebm_fail(EBM_EFORMAT, "%s: tensor '%s': unsupported dtype %.40s", file, tname, v->str);
}

static ebm_status entry_shape(const char *file, const char *tname, const ebm_json *v, st_entry *e) {
    if (!v || v->type != EBM_JSON_ARRAY)
        return ebm_fail(EBM_EFORMAT, "%s: tensor '%s': shape must be an array", file, tname);
    if (v->n > EBM_MAX_DIMS)
        return ebm_fail(EBM_EFORMAT, "%s: tensor '%s' has %zu dimensions; at most %d are supported", file, tname,
                        v->n, EBM_MAX_DIMS);
    e->ndim = (int)v->n;
    for (size_t i = 0; i < v->n; i++) {
        uint64_t d;
        if (!json_u64(&v->items[i], &d) || d > SIZE_MAX)
            return ebm_fail(EBM_EFORMAT, "%s: tensor '%s': shape must hold non-negative integers", file, tname);
        e->shape[i] = (size_t)d;
    }
    return EBM_OK;
}

static ebm_status entry_offsets(const char *file, const char *tname, const ebm_json *v, st_entry *e,
                                uint64_t buf_len) {
    if (!v || v->type != EBM_JSON_ARRAY || v->n != 2 || !json_u64(&v->items[0], &e->begin) ||
        !json_u64(&v->items[1], &e->end))
        return ebm_fail(EBM_EFORMAT, "%s: tensor '%s': data_offsets must be two non-negative integers", file,
                        tname);
    if (e->end < e->begin)
        return ebm_fail(EBM_EFORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] are reversed", file, tname,
                        (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end > buf_len)
        return ebm_fail(EBM_EFORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] lie outside the %llu-byte buffer",
                        file, tname, (unsigned long long)e->begin, (unsigned long long)e->end,
                        (unsigned long long)buf_len);
    size_t numel, bytes;
    if (!ebm_io_shape_size(e->ndim, e->shape, ebm_dtype_size(e->dtype), &numel, &bytes))
        return ebm_fail(EBM_EFORMAT, "%s: tensor '%s': shape is too large", file, tname);
    if (e->end - e->begin != (uint64_t)bytes) {
        char sh[256];
        ebm_io_shape_str(e->ndim, e->shape, sh, sizeof sh);
        return ebm_fail(EBM_EFORMAT, "%s: tensor '%s': data_offsets span %llu bytes, but %s of shape %s needs %zu",
                        file, tname, (unsigned long long)(e->end - e->begin), ebm_dtype_name(e->dtype), sh, bytes);
    }
    return EBM_OK;
}

static ebm_status parse_entry(const char *file, const ebm_json_member *m, uint64_t buf_len, st_entry *e) {
    const char *tname = m->key;
    if (m->value.type != EBM_JSON_OBJECT)
        return ebm_fail(EBM_EFORMAT, "%s: tensor '%s' must be an object, not %s", file, tname,
                        ebm_json_type_name(m->value.type));
    static const char *const fields[3] = {"dtype", "shape", "data_offsets"};
    for (size_t i = 0; i < m->value.n; i++) {
        const ebm_json_member *f = &m->value.members[i];
        int k = 0;
        while (k < 3 && !(strcmp(f->key, fields[k]) == 0 && strlen(f->key) == f->key_len)) k++;
        if (k == 3) return ebm_fail(EBM_EFORMAT, "%s: tensor '%s': unexpected field '%.40s'", file, tname, f->key);
    }
    ptrdiff_t dup = ebm_json_find_duplicate(&m->value);
    if (dup == -2) return EBM_ENOMEM;
    if (dup >= 0) return ebm_fail(EBM_EFORMAT, "%s: tensor '%s': repeated field", file, tname);
    for (int k = 0; k < 3; k++)
        if (!ebm_json_get(&m->value, fields[k]))
            return ebm_fail(EBM_EFORMAT, "%s: tensor '%s': missing field '%s'", file, tname, fields[k]);
    e->name = tname;
    ebm_status s = entry_dtype(file, tname, ebm_json_get(&m->value, "dtype"), e);
    if (s == EBM_OK) s = entry_shape(file, tname, ebm_json_get(&m->value, "shape"), e);
    if (s == EBM_OK) s = entry_offsets(file, tname, ebm_json_get(&m->value, "data_offsets"), e, buf_len);
    return s;
}

static ebm_status parse_metadata(const char *file, const ebm_json *v, ebm_meta *meta) {
    if (v->type != EBM_JSON_OBJECT)
        return ebm_fail(EBM_EFORMAT, "%s: __metadata__ must be an object, not %s", file, ebm_json_type_name(v->type));
    for (size_t i = 0; i < v->n; i++) {
        const ebm_json_member *m = &v->members[i];
        if (m->value.type != EBM_JSON_STRING)
            return ebm_fail(EBM_EFORMAT, "%s: __metadata__: value of '%.60s' is %s, not a string", file, m->key,
                            ebm_json_type_name(m->value.type));
        if (strlen(m->key) != m->key_len || strlen(m->value.str) != m->value.len)
            return ebm_fail(EBM_EFORMAT, "%s: __metadata__: '%.60s' contains a NUL character", file, m->key);
        ebm_status s = ebm_meta_set(meta, m->key, m->value.str);
        if (s != EBM_OK) return s;
    }
    return EBM_OK;
}

static int cmp_entry(const void *a, const void *b) {
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* The spec's layout rule: sorted by offset, each tensor starts where the previous one ended and the
 * last ends at the end of the buffer (so no overlap, no hole, nothing unused).  Without whole (only
 * the header was read, the buffer's length is unknown) the last rule is not checked. */
static ebm_status check_layout(const char *file, st_entry *e, size_t n, uint64_t buf_len, bool whole) {
    const st_entry **order = malloc((n ? n : 1) * sizeof *order);
    if (!order) return ebm_fail(EBM_ENOMEM, "%s: out of memory", file);
    for (size_t i = 0; i < n; i++) order[i] = &e[i];
    qsort(order, n, sizeof *order, cmp_entry);
    uint64_t at = 0;
    ebm_status s = EBM_OK;
    for (size_t i = 0; i < n && s == EBM_OK; i++) {
        if (order[i]->begin > at)
            s = ebm_fail(EBM_EFORMAT, "%s: bytes %llu..%llu of the buffer belong to no tensor (before '%s')", file,
                         (unsigned long long)at, (unsigned long long)order[i]->begin, order[i]->name);
        else if (order[i]->begin < at)
            s = ebm_fail(EBM_EFORMAT, "%s: tensor '%s' overlaps the tensor before it", file, order[i]->name);
        at = order[i]->end;
    }
    if (s == EBM_OK && whole && at != buf_len)
        s = ebm_fail(EBM_EFORMAT, "%s: the last %llu bytes of the buffer belong to no tensor", file,
                     (unsigned long long)(buf_len - at));
    free(order);
    return s;
}

/* Validates every entry of the header object into e (one per tensor) and the metadata into meta; whole as
 * in check_layout (without it, buf_len is UINT64_MAX so that no offset lies past it). */
static ebm_status parse_entries(const char *file, const ebm_json *h, uint64_t buf_len, bool whole, st_entry *e,
                                size_t *n, ebm_meta *meta) {
    ptrdiff_t dup = ebm_json_find_duplicate(h);
    if (dup == -2) return EBM_ENOMEM;
    if (dup >= 0) {
        const char *k = h->members[dup].key;
        return strcmp(k, "__metadata__") == 0 ? ebm_fail(EBM_EFORMAT, "%s: __metadata__ appears twice", file)
                                              : ebm_fail(EBM_EFORMAT, "%s: duplicate tensor name '%.60s'", file, k);
    }
    *n = 0;
    for (size_t i = 0; i < h->n; i++) {
        const ebm_json_member *m = &h->members[i];
        if (strlen(m->key) != m->key_len)
            return ebm_fail(EBM_EFORMAT, "%s: a tensor name contains a NUL character", file);
        ebm_status s = strcmp(m->key, "__metadata__") == 0 ? parse_metadata(file, &m->value, meta)
                                                           : parse_entry(file, m, buf_len, &e[(*n)++]);
        if (s != EBM_OK) return s;
    }
    return check_layout(file, e, *n, buf_len, whole);
}

/* Copies each tensor out of the buffer, in header order. */
static ebm_status load_tensors(const uint8_t *data, const st_entry *e, size_t n, ebm_tensors *t) {
    for (size_t i = 0; i < n; i++) {
        ebm_array *a;
        ebm_status s = ebm_array_new(e[i].dtype, e[i].ndim, e[i].shape, data + e[i].begin, &a);
        if (s != EBM_OK) return s;
        size_t esize = ebm_dtype_size(e[i].dtype);
        ebm_io_order(a->data, (size_t)(e[i].end - e[i].begin) / esize, esize, 0);
        s = append(t, e[i].name, a);
        if (s != EBM_OK) return s;
    }
    return EBM_OK;
}

/* The length N and the JSON of the header of p (len bytes, at least 8 + N of them), N within the
 * reference implementation's limit.  total is the length of the whole file, which len may fall short
 * of when only the header was read. */
static ebm_status parse_header(const uint8_t *p, size_t len, uint64_t total, const char *name, uint64_t *hlen,
                               ebm_json **h) {
    if (len < 8) return ebm_fail(EBM_EFORMAT, "%s: truncated safetensors file (%zu bytes)", name, len);
    *hlen = ebm_io_get_le64(p);
    if (*hlen > total - 8)
        return ebm_fail(EBM_EFORMAT, "%s: header length %llu exceeds the %llu bytes that follow", name,
                        (unsigned long long)*hlen, (unsigned long long)(total - 8));
    if (*hlen > ST_MAX_HEADER)
        return ebm_fail(EBM_EFORMAT, "%s: header length %llu exceeds the limit of %u bytes", name,
                        (unsigned long long)*hlen, ST_MAX_HEADER);
    if (*hlen > len - 8)
        return ebm_fail(EBM_EFORMAT, "%s: header length %llu exceeds the %zu bytes that follow", name,
                        (unsigned long long)*hlen, len - 8);
    if (*hlen == 0 || p[8] != '{') return ebm_fail(EBM_EFORMAT, "%s: header does not start with '{'", name);
    ebm_status s = ebm_json_parse((const char *)p + 8, (size_t)*hlen, EBM_JSON_MAX_DEPTH, h);
    if (s != EBM_OK) return ebm_fail_prefix(s, "%s: header", name);
    return EBM_OK;
}

ebm_status ebm_safetensors_parse(const void *buf, size_t len, const char *name, ebm_tensors **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "safetensors: out is NULL");
    *out = NULL;
    if (!name) name = "safetensors data";
    if (!buf && len) return ebm_fail(EBM_EINVAL, "%s: buffer is NULL", name);
    const uint8_t *p = buf;
    uint64_t hlen = 0;
    ebm_json *h = NULL;
    ebm_status s = parse_header(p, len, len, name, &hlen, &h);
    if (s != EBM_OK) return s;
    uint64_t buf_len = (uint64_t)len - 8 - hlen;
    ebm_tensors *t = NULL;
    st_entry *e = NULL;
    size_t n = 0;
    if (h->type != EBM_JSON_OBJECT) s = ebm_fail(EBM_EFORMAT, "%s: header is not a JSON object", name);
    if (s == EBM_OK) s = ebm_tensors_new(&t);
    if (s == EBM_OK && !(e = calloc(h->n ? h->n : 1, sizeof *e))) s = ebm_fail(EBM_ENOMEM, "%s: out of memory", name);
    if (s == EBM_OK) s = parse_entries(name, h, buf_len, true, e, &n, t->meta);
    if (s == EBM_OK) s = load_tensors(p + 8 + hlen, e, n, t);
    free(e);
    ebm_json_free(h);
    if (s != EBM_OK) {
        ebm_tensors_free(t);
        return s;
    }
    *out = t;
    return EBM_OK;
}

static ebm_status parse_any(const void *buf, size_t len, const char *name, void *out) {
    return ebm_safetensors_parse(buf, len, name, out);
}

ebm_status ebm_safetensors_read(const char *path, ebm_tensors **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "safetensors: out is NULL");
    *out = NULL;
    return ebm_io_read_parse(path, 0, EBM_IO_MAX_FILE, parse_any, out);
}

/* ------------------------------------------------------------------------------------------------
 * The header alone: what a model file is, without reading its tensors
 * --------------------------------------------------------------------------------------------- */

/* The metadata of p (len bytes: the length, the header and perhaps more), the header validated as
 * ebm_safetensors_parse validates it.  total: the whole file's length when known (then the tensors must
 * tile the buffer exactly), else UINT64_MAX (only their offsets' agreement with one another is checked). */
static ebm_status meta_of_header(const uint8_t *p, size_t len, uint64_t total, const char *name, ebm_meta **out) {
    uint64_t hlen = 0;
    ebm_json *h = NULL;
    ebm_status s = parse_header(p, len, total, name, &hlen, &h);
    if (s != EBM_OK) return s;
    bool whole = total != UINT64_MAX;
    uint64_t buf_len = whole ? total - 8 - hlen : UINT64_MAX;
    st_entry *e = NULL;
    ebm_meta *meta = NULL;
    size_t n = 0;
    if (h->type != EBM_JSON_OBJECT) s = ebm_fail(EBM_EFORMAT, "%s: header is not a JSON object", name);
    if (s == EBM_OK) s = ebm_meta_new(&meta);
    if (s == EBM_OK && !(e = calloc(h->n ? h->n : 1, sizeof *e))) s = ebm_fail(EBM_ENOMEM, "%s: out of memory", name);
    if (s == EBM_OK) s = parse_entries(name, h, buf_len, whole, e, &n, meta);
    free(e);
    ebm_json_free(h);
    if (s != EBM_OK) {
        ebm_meta_free(meta);
        return s;
    }
    *out = meta;
    return EBM_OK;
}

ebm_status ebm_safetensors_parse_meta(const void *buf, size_t len, const char *name, ebm_meta **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "safetensors: out is NULL");
    *out = NULL;
    if (!name) name = "safetensors data";
    if (!buf && len) return ebm_fail(EBM_EINVAL, "%s: buffer is NULL", name);
    return meta_of_header(buf, len, UINT64_MAX, name, out);
}

/* Reads up to n bytes into p, retrying short reads; *got <- bytes read (fewer at the end of the file). */
static int read_upto(int fd, uint8_t *p, size_t n, size_t *got) {
    *got = 0;
    while (*got < n) {
        size_t want = n - *got > ((size_t)1 << 30) ? ((size_t)1 << 30) : n - *got;
        ssize_t r = read(fd, p + *got, want);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return errno;
        if (r == 0) break;
        *got += (size_t)r;
    }
    return 0;
}

ebm_status ebm_safetensors_read_meta(const char *path, ebm_meta **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "safetensors: out is NULL");
    *out = NULL;
    if (!path || !*path) return ebm_fail(EBM_EINVAL, "read: empty path");
    char eb[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ebm_fail(EBM_EIO, "%s: %s", path, ebm_io_strerror(errno, eb, sizeof eb));
    struct stat st;
    ebm_status s = EBM_OK;
    uint64_t total = UINT64_MAX; /* unknown for a pipe: the header must then hold up on its own */
    if (fstat(fd, &st) != 0) s = ebm_fail(EBM_EIO, "%s: %s", path, ebm_io_strerror(errno, eb, sizeof eb));
    else if (S_ISDIR(st.st_mode)) s = ebm_fail(EBM_EIO, "%s: is a directory", path);
    else if (S_ISREG(st.st_mode)) total = (uint64_t)st.st_size;
    if (s == EBM_OK && total > EBM_IO_MAX_FILE && total != UINT64_MAX)
        s = ebm_fail(EBM_EFORMAT, "%s: file of %llu bytes exceeds the limit of %zu bytes", path,
                     (unsigned long long)total, EBM_IO_MAX_FILE);
    uint8_t len8[8], *buf = NULL;
    size_t got = 0;
    int e = s == EBM_OK ? read_upto(fd, len8, 8, &got) : 0;
    if (e) s = ebm_fail(EBM_EIO, "%s: read failed: %s", path, ebm_io_strerror(e, eb, sizeof eb));
    if (s == EBM_OK && got < 8) s = ebm_fail(EBM_EFORMAT, "%s: truncated safetensors file (%zu bytes)", path, got);
    if (s == EBM_OK) {
        /* the header's length is checked (against the file and the limit) before anything is allocated */
        uint64_t hlen = ebm_io_get_le64(len8);
        size_t want = hlen <= ST_MAX_HEADER && (total == UINT64_MAX || hlen <= total - 8) ? (size_t)hlen : 0;
        if (!(buf = malloc(8 + want))) s = ebm_fail(EBM_ENOMEM, "%s: out of memory reading %zu bytes", path, 8 + want);
        if (s == EBM_OK) {
            memcpy(buf, len8, 8);
            e = read_upto(fd, buf + 8, want, &got);
            if (e) s = ebm_fail(EBM_EIO, "%s: read failed: %s", path, ebm_io_strerror(e, eb, sizeof eb));
        }
        /* a file that shrank under us reads short: parse_header reports what it finds */
        if (s == EBM_OK) s = meta_of_header(buf, 8 + got, total, path, out);
    }
    free(buf);
    close(fd);
    return s;
}

/* ------------------------------------------------------------------------------------------------
 * Writing
 * --------------------------------------------------------------------------------------------- */

static const char *st_dtype_name(ebm_dtype t) {
    for (size_t i = 0; i < N_ST_TYPES; i++)
        if (st_types[i].dtype == t) return st_types[i].name;
    return NULL;
}

static void put_metadata(ebm_buf *b, const ebm_meta *meta) {
    ebm_buf_puts(b, "\"__metadata__\":{");
    for (size_t i = 0; i < ebm_meta_count(meta); i++) {
        const char *k, *v;
        ebm_meta_at(meta, i, &k, &v);
        if (i) ebm_buf_putc(b, ',');
        ebm_json_put_string(b, k, strlen(k));
        ebm_buf_putc(b, ':');
        ebm_json_put_string(b, v, strlen(v));
    }
    ebm_buf_putc(b, '}');
}

/* The JSON header, padded with spaces to make 8 + length a multiple of 8. */
static ebm_status build_header(const ebm_tensors *t, ebm_buf *b) {
    ebm_buf_putc(b, '{');
    bool first = ebm_meta_count(t->meta) == 0;
    if (!first) put_metadata(b, t->meta);
    uint64_t at = 0;
    for (size_t i = 0; i < t->n; i++) {
        const ebm_array *a = t->arrays[i];
        const char *dt = st_dtype_name(a->dtype);
        size_t numel, bytes;
        if (!dt || !ebm_io_shape_size(a->ndim, a->shape, ebm_dtype_size(a->dtype), &numel, &bytes))
            return ebm_fail(EBM_EINVAL, "tensor '%s' has an invalid dtype or shape", t->names[i]);
        if (!first) ebm_buf_putc(b, ',');
        first = false;
        ebm_json_put_string(b, t->names[i], strlen(t->names[i]));
        ebm_buf_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", dt);
        for (int d = 0; d < a->ndim; d++) ebm_buf_printf(b, "%s%zu", d ? "," : "", a->shape[d]);
        ebm_buf_printf(b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at,
                       (unsigned long long)(at + bytes));
        at += bytes;
    }
    ebm_buf_putc(b, '}');
    while ((8 + b->len) % 8) ebm_buf_putc(b, ' ');
    return b->failed ? EBM_ENOMEM : EBM_OK;
}

static int write_body(int fd, const ebm_buf *header, const ebm_tensors *t) {
    uint8_t n8[8];
    ebm_io_put_le64(n8, header->len);
    int e = ebm_io_write_all(fd, n8, 8);
    if (!e) e = ebm_io_write_all(fd, header->data, header->len);
    for (size_t i = 0; i < t->n && !e; i++) {
        const ebm_array *a = t->arrays[i];
        e = ebm_io_write_ordered(fd, a->data, ebm_array_numel(a), ebm_dtype_size(a->dtype), 0);
    }
    return e;
}

ebm_status ebm_safetensors_write(const char *path, const ebm_tensors *t) {
    if (!path || !t) return ebm_fail(EBM_EINVAL, "safetensors_write: %s is NULL", !path ? "path" : "tensors");
    ebm_buf header = {0};
    ebm_status s = build_header(t, &header);
    if (s != EBM_OK) {
        ebm_buf_free(&header);
        return ebm_fail_prefix(s, "%s", path);
    }
    ebm_atomic_file f;
    s = ebm_atomic_open(&f, path);
    if (s == EBM_OK) {
        int e = write_body(f.fd, &header, t);
        if (e) {
            char eb[128];
            ebm_atomic_abort(&f);
            s = ebm_fail(EBM_EIO, "%s: write failed: %s", path, ebm_io_strerror(e, eb, sizeof eb));
        } else {
            s = ebm_atomic_commit(&f);
        }
    }
    ebm_buf_free(&header);
    return s;
}
