/* Data sets: resolves a spec (a named set or a file path) to a float32 matrix of examples, one row
 * each, plus labels when the source has them.  Fashion-MNIST (H. Xiao, K. Rasul, R. Vollgraf,
 * "Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning Algorithms", 2017) comes from
 * Debian's dataset-fashion-mnist package as four gzip-compressed IDX files.  Scaling and binarisation
 * follow ebm_data_opts; stochastic binarisation draws u ~ U[0,1) from the Philox stream (seed, row),
 * so the result does not depend on threads or on how many rows are kept. */
#include "io/io_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FMNIST_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"
#define FMNIST_VALID "fashion-mnist, fashion-mnist:train, fashion-mnist:test"

void ebm_data_opts_default(ebm_data_opts *o) {
    if (!o) return;
    o->limit = 0;
    o->scale = EBM_SCALE_AUTO;
    o->binarize = EBM_BINARIZE_NONE;
    o->threshold = 0.5f;
    o->seed = 1;
}

/* The names of the preprocessing choices, as the CLI's --scale and --binarize take them and the
 * ebm.data.* metadata of a model file records them (in enum order). */
static const char *const scale_names[] = {"auto", "none", "255", "minmax", "pm1"};
static const char *const binarize_names[] = {"none", "threshold", "stochastic"};
#define N_SCALES (sizeof scale_names / sizeof scale_names[0])
#define N_BINARIZE (sizeof binarize_names / sizeof binarize_names[0])

const char *ebm_scale_name(ebm_scale s) { return (unsigned)s < N_SCALES ? scale_names[s] : NULL; }

const char *ebm_binarize_name(ebm_binarize b) { return (unsigned)b < N_BINARIZE ? binarize_names[b] : NULL; }

ebm_status ebm_scale_parse(const char *name, ebm_scale *out) {
    for (size_t i = 0; name && i < N_SCALES; i++)
        if (strcmp(name, scale_names[i]) == 0) {
            if (out) *out = (ebm_scale)i;
            return EBM_OK;
        }
    return ebm_fail(EBM_EINVAL, "scale '%.60s' is not one of auto|none|255|minmax|pm1", name ? name : "(null)");
}

ebm_status ebm_binarize_parse(const char *name, ebm_binarize *out) {
    for (size_t i = 0; name && i < N_BINARIZE; i++)
        if (strcmp(name, binarize_names[i]) == 0) {
            if (out) *out = (ebm_binarize)i;
            return EBM_OK;
        }
    return ebm_fail(EBM_EINVAL, "binarisation '%.60s' is not one of none|threshold|stochastic", name ? name : "(null)");
}

void ebm_dataset_free(ebm_dataset *d) {
    if (!d) return;
    ebm_mat_free(d->x);
    free(d->labels);
    free(d);
}

/* Records where the data came from (cut to fit, which only matters for messages). */
static void set_source(ebm_dataset *d, const char *path) {
    size_t n = strlen(path);
    if (n >= sizeof d->source) n = sizeof d->source - 1;
    memcpy(d->source, path, n);
    d->source[n] = '\0';
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

/* dir/<prefix>-<kind>-idx<k>-ubyte.gz, or the same without .gz, into out. */
static ebm_status fmnist_file(const char *dir, const char *prefix, const char *kind, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s/%s-%s-ubyte.gz", dir, prefix, kind);
    if (n < 0 || (size_t)n >= cap) return ebm_fail(EBM_EINVAL, "fashion-mnist: directory name too long: %s", dir);
    if (file_exists(out)) return EBM_OK;
    out[n - 3] = '\0';
    if (file_exists(out)) return EBM_OK;
    out[n - 3] = '.';
    return ebm_fail(EBM_EIO,
                    "fashion-mnist: %s not found; install Debian's dataset-fashion-mnist (sudo apt-get install "
                    "dataset-fashion-mnist) or set EBM_FASHION_MNIST_DIR",
                    out);
}

/* Converts the labels array (1-D, integer) to n int32 values. */
static ebm_status labels_to_i32(const ebm_array *l, const char *path, size_t n, int32_t **out) {
    if (l->ndim != 1) return ebm_fail(EBM_EFORMAT, "%s: labels must be 1-D, not %d-D", path, l->ndim);
    if (l->dtype != EBM_U8 && l->dtype != EBM_I8 && l->dtype != EBM_I16 && l->dtype != EBM_I32)
        return ebm_fail(EBM_EFORMAT, "%s: labels must be integers, not %s", path, ebm_dtype_name(l->dtype));
    int32_t *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return ebm_fail(EBM_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) {
        switch (l->dtype) {
        case EBM_U8: v[i] = ((const uint8_t *)l->data)[i]; break;
        case EBM_I8: v[i] = ((const int8_t *)l->data)[i]; break;
        case EBM_I16: v[i] = ((const int16_t *)l->data)[i]; break;
        default: v[i] = ((const int32_t *)l->data)[i]; break;
        }
    }
    *out = v;
    return EBM_OK;
}

/* Fills d->x (and height/width) from an image array (n, h, w) or any array (n, ...). */
static ebm_status array_to_examples(const ebm_array *a, size_t limit, ebm_dataset *d) {
    if (a->ndim == 3) {
        d->height = a->shape[1];
        d->width = a->shape[2];
    }
    return ebm_io_array_to_mat_rows(a, limit, &d->x);
}

static ebm_status load_fashion_mnist(const char *spec, size_t limit, ebm_dataset *d, bool *was_u8) {
    const char *part = spec[13] == ':' ? spec + 14 : "train";
    const char *prefix = strcmp(part, "train") == 0 ? "train" : strcmp(part, "test") == 0 ? "t10k" : NULL;
    if (!prefix) return ebm_fail(EBM_EINVAL, "unknown data set '%s'; valid names: " FMNIST_VALID, spec);
    const char *dir = getenv("EBM_FASHION_MNIST_DIR");
    if (!dir || !*dir) dir = FMNIST_DEFAULT_DIR;
    char ipath[PATH_MAX], lpath[PATH_MAX];
    ebm_status s = fmnist_file(dir, prefix, "images-idx3", ipath, sizeof ipath);
    if (s == EBM_OK) s = fmnist_file(dir, prefix, "labels-idx1", lpath, sizeof lpath);
    if (s != EBM_OK) return s;
    ebm_array *img = NULL, *lab = NULL;
    size_t n_img = 0, n_lab = 0; /* the rows the headers claim; with a limit only that many are read */
    s = ebm_io_idx_read_rows(ipath, limit, &n_img, &img);
    if (s == EBM_OK) s = ebm_io_idx_read_rows(lpath, limit, &n_lab, &lab);
    if (s == EBM_OK && img->ndim != 3)
        s = ebm_fail(EBM_EFORMAT, "%s: expected images of shape (n, h, w), found %d dimensions", ipath, img->ndim);
    if (s == EBM_OK && lab->ndim >= 1 && n_lab != n_img)
        s = ebm_fail(EBM_ESHAPE, "%s has %zu labels but %s has %zu images", lpath, n_lab, ipath, n_img);
    if (s == EBM_OK) s = array_to_examples(img, limit, d);
    if (s == EBM_OK) s = labels_to_i32(lab, lpath, d->x->rows, &d->labels);
    if (s == EBM_OK) {
        *was_u8 = img->dtype == EBM_U8;
        set_source(d, ipath);
    }
    ebm_array_free(img);
    ebm_array_free(lab);
    return s;
}

static ebm_status load_path(const char *path, size_t limit, ebm_dataset *d, bool *was_u8) {
    set_source(d, path);
    if (ebm_io_ends_with(path, ".csv")) {
        ebm_mat *all = NULL;
        ebm_status s = ebm_csv_read(path, &all);
        if (s == EBM_OK && all->rows == 0) {
            /* a CSV of one line that is not all numbers ("1 2", "1|2", old Mac "\r" line ends): its line is the
             * header; say so rather than leave "empty" a puzzle (a line of numbers is always data) */
            size_t cols = all->cols;
            ebm_mat_free(all);
            return ebm_fail(EBM_EFORMAT,
                            "%s: no data rows: its only line was read as a header of %zu column%s (a field is not a "
                            "number; fields are separated by ',', ';' or tabs, lines by \\n or \\r\\n)",
                            path, cols, cols == 1 ? "" : "s");
        }
        if (s != EBM_OK || !limit || limit >= all->rows) {
            d->x = all;
            return s;
        }
        s = ebm_mat_new(limit, all->cols, &d->x);
        if (s == EBM_OK) memcpy(d->x->data, all->data, limit * all->cols * sizeof(float));
        ebm_mat_free(all);
        return s;
    }
    ebm_array *a = NULL;
    ebm_status s = ebm_io_ends_with(path, ".npy") ? ebm_npy_read(path, &a) : ebm_io_idx_read_rows(path, limit, NULL, &a);
    if (s == EBM_OK) {
        *was_u8 = a->dtype == EBM_U8;
        s = array_to_examples(a, limit, d);
    }
    ebm_array_free(a);
    return s;
}

/* Values must be finite: a NaN in the data would silently poison every gradient. */
static ebm_status check_finite(const ebm_dataset *d) {
    size_t n = d->x->rows * d->x->cols, bad;
    if (ebm_k_all_finite(d->x->data, n, &bad)) return EBM_OK;
    return ebm_fail(EBM_EFORMAT, "%s: value at row %zu, column %zu is not finite", d->source, bad / d->x->cols,
                    bad % d->x->cols);
}

static void scale(ebm_mat *x, ebm_scale mode, bool was_u8) {
    size_t n = x->rows * x->cols;
    float *v = x->data;
    if (mode == EBM_SCALE_255 || (mode == EBM_SCALE_AUTO && was_u8)) {
        for (size_t i = 0; i < n; i++) v[i] /= 255.0f;
    } else if (mode == EBM_SCALE_PM1 && was_u8) {
        for (size_t i = 0; i < n; i++) v[i] = v[i] / 127.5f - 1.0f;
    } else if (mode == EBM_SCALE_MINMAX || mode == EBM_SCALE_PM1) {
        float lo = v[0], hi = v[0];
        for (size_t i = 1; i < n; i++) {
            lo = v[i] < lo ? v[i] : lo;
            hi = v[i] > hi ? v[i] : hi;
        }
        double range = (double)hi - (double)lo;
        for (size_t i = 0; i < n; i++) v[i] = range > 0 ? (float)(((double)v[i] - lo) / range) : 0.0f;
        if (mode == EBM_SCALE_PM1)
            for (size_t i = 0; i < n; i++) v[i] = 2.0f * v[i] - 1.0f;
    }
}

static ebm_status binarize(ebm_mat *x, const ebm_data_opts *o) {
    if (o->binarize == EBM_BINARIZE_THRESHOLD) {
        for (size_t i = 0; i < x->rows * x->cols; i++) x->data[i] = x->data[i] >= o->threshold ? 1.0f : 0.0f;
    } else if (o->binarize == EBM_BINARIZE_STOCHASTIC) {
        float *u = malloc((x->cols ? x->cols : 1) * sizeof *u);
        if (!u) return ebm_fail(EBM_ENOMEM, "dataset: out of memory");
        for (size_t r = 0; r < x->rows; r++) {
            float *row = x->data + r * x->cols;
            ebm_rng_fill_uniform(o->seed, r, 0, u, x->cols);
            for (size_t c = 0; c < x->cols; c++) row[c] = u[c] < row[c] ? 1.0f : 0.0f;
        }
        free(u);
    }
    return EBM_OK;
}

static ebm_status check_opts(const ebm_data_opts *o) {
    if ((unsigned)o->scale > EBM_SCALE_PM1) return ebm_fail(EBM_EINVAL, "dataset: unknown scaling %d", (int)o->scale);
    if ((unsigned)o->binarize > EBM_BINARIZE_STOCHASTIC)
        return ebm_fail(EBM_EINVAL, "dataset: unknown binarisation %d", (int)o->binarize);
    if (o->binarize == EBM_BINARIZE_THRESHOLD && !isfinite(o->threshold))
        return ebm_fail(EBM_EINVAL, "dataset: binarisation threshold %g is not finite", (double)o->threshold);
    return EBM_OK;
}

static bool is_fashion_mnist(const char *spec) {
    return strncmp(spec, "fashion-mnist", 13) == 0 && (spec[13] == '\0' || spec[13] == ':');
}

static ebm_status finish(ebm_dataset *d, const ebm_data_opts *o, bool was_u8) {
    if (d->x->rows == 0 || d->x->cols == 0)
        return ebm_fail(EBM_EFORMAT, "%s: data set is empty (%zu rows, %zu columns)", d->source, d->x->rows,
                        d->x->cols);
    ebm_status s = check_finite(d);
    if (s != EBM_OK) return s;
    scale(d->x, o->scale, was_u8);
    return binarize(d->x, o);
}

/* A trailing "#LIST" on a spec keeps only the rows whose label is in LIST (e.g. "#0-8", "#1,3,5-7"):
 * held-out-class experiments without a separate file.  Returns the length of the spec before '#' and
 * fills keep (MAX_FILTER_CLASS flags), or returns strlen(spec) when there is no such suffix. */
#define MAX_FILTER_CLASS 1024
static size_t class_filter(const char *spec, bool *keep, bool *any, ebm_status *err) {
    size_t len = strlen(spec);
    *any = false;
    *err = EBM_OK;
    const char *h = strrchr(spec, '#');
    if (!h || h == spec) return len;
    const char *p = h + 1;
    if (!*p || strspn(p, "0123456789,-") != strlen(p)) return len;
    memset(keep, 0, MAX_FILTER_CLASS * sizeof *keep);
    while (*p) {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p) break;
        if (*end == '-') {
            const char *q = end + 1;
            hi = strtol(q, &end, 10);
            if (end == q) break;
        }
        if (lo < 0 || hi < lo || hi >= MAX_FILTER_CLASS) break;
        for (long c = lo; c <= hi; c++) keep[c] = true;
        p = end;
        if (*p == ',') p++;
        else if (*p) break;
        if (!*p) {
            *any = true;
            return (size_t)(h - spec);
        }
    }
    *err = ebm_fail(EBM_EINVAL, "'%s': bad class list after '#' (expected e.g. #0-8 or #1,3,5-7 with classes below %d)",
                    spec, MAX_FILTER_CLASS);
    return len;
}

/* Keeps the rows of d whose label is flagged in keep, then the first limit of them (0 = all). */
static ebm_status filter_rows(ebm_dataset *d, const bool *keep, size_t limit, const char *spec) {
    if (!d->labels) return ebm_fail(EBM_EINVAL, "'%s': a class filter needs labelled data, %s has none", spec, d->source);
    size_t n = d->x->rows, cols = d->x->cols, k = 0;
    for (size_t i = 0; i < n && (!limit || k < limit); i++) {
        int32_t y = d->labels[i];
        if (y < 0 || y >= MAX_FILTER_CLASS || !keep[y]) continue;
        if (k != i) {
            memmove(d->x->data + k * cols, d->x->data + i * cols, cols * sizeof(float));
            d->labels[k] = y;
        }
        k++;
    }
    if (k == 0) return ebm_fail(EBM_EINVAL, "'%s': no rows of %s have a label in the class list", spec, d->source);
    d->x->rows = k;
    return EBM_OK;
}

/* A trailing "@A:B" or "@A:" on a spec keeps rows A..B-1 (from 0; to the end without B) of the data, after any
 * class filter: a validation split without a separate file.  Returns the length of the spec before '@' with
 * *a, *b (0 = to the end) set, or strlen(spec) when there is no such suffix. */
static size_t row_range(const char *spec, size_t *a, size_t *b, bool *any, ebm_status *err) {
    size_t len = strlen(spec);
    *any = false;
    *err = EBM_OK;
    *a = *b = 0;
    const char *at = strrchr(spec, '@');
    if (!at || at == spec || !strchr(at, ':') || strspn(at + 1, "0123456789:") != strlen(at + 1)) return len;
    char *end;
    const char *p = at + 1;
    unsigned long long lo = strtoull(p, &end, 10), hi = 0;
    bool ok = end != p && *end == ':';
    if (ok && end[1]) {
        p = end + 1;
        hi = strtoull(p, &end, 10);
        ok = end != p && !*end && hi > lo;
    }
    if (!ok) {
        *err = ebm_fail(EBM_EINVAL, "'%s': bad row range after '@' (expected e.g. @55000: or @0:5000, the end "
                        "after the start)", spec);
        return len;
    }
    *a = (size_t)lo;
    *b = (size_t)hi;
    *any = true;
    return (size_t)(at - spec);
}

/* Keeps rows a..b-1 (b 0: to the end) of d, then the first limit of them (0 = all). */
static ebm_status slice_rows(ebm_dataset *d, size_t a, size_t b, size_t limit, const char *spec) {
    size_t n = d->x->rows, cols = d->x->cols;
    if (a >= n)
        return ebm_fail(EBM_EINVAL, "'%s': the row range starts at row %zu, but %s has %zu rows%s", spec, a,
                        d->source, n, strchr(spec, '#') ? " in the class list" : "");
    size_t e = b && b < n ? b : n;
    if (limit && e - a > limit) e = a + limit;
    memmove(d->x->data, d->x->data + a * cols, (e - a) * cols * sizeof(float));
    if (d->labels) memmove(d->labels, d->labels + a, (e - a) * sizeof *d->labels);
    d->x->rows = e - a;
    return EBM_OK;
}

ebm_status ebm_dataset_load(const char *spec, const ebm_data_opts *o, ebm_dataset **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "dataset: out is NULL");
    *out = NULL;
    if (!spec || !*spec) return ebm_fail(EBM_EINVAL, "dataset: empty data set name");
    ebm_data_opts opts;
    if (o)
        opts = *o;
    else
        ebm_data_opts_default(&opts);
    ebm_status s = check_opts(&opts);
    if (s != EBM_OK) return s;
    bool keep[MAX_FILTER_CLASS], filtered, ranged;
    size_t ra, rb;
    const char *full = spec;
    char base[PATH_MAX];
    size_t base_len = row_range(spec, &ra, &rb, &ranged, &s);
    if (s != EBM_OK) return s;
    if (base_len >= sizeof base) return ebm_fail(EBM_EINVAL, "dataset: spec too long");
    memcpy(base, spec, base_len);
    base[base_len] = '\0';
    base_len = class_filter(base, keep, &filtered, &s);
    if (s != EBM_OK) return s;
    base[base_len] = '\0';
    spec = base;
    size_t limit = opts.limit;
    if (filtered) opts.limit = 0;
    else if (ranged) opts.limit = rb ? (limit && ra + limit < rb ? ra + limit : rb) : (limit ? ra + limit : 0);
    if (ranged && strncmp(spec, "toy:", 4) == 0)
        return ebm_fail(EBM_EINVAL, "'%s': a row range needs a file or fashion-mnist; a toy is drawn afresh "
                        "(use --limit and --seed)", full);
    ebm_dataset *d = calloc(1, sizeof *d);
    if (!d) return ebm_fail(EBM_ENOMEM, "dataset: out of memory");
    bool was_u8 = false;
    if (strncmp(spec, "toy:", 4) == 0) {
        free(d);
        s = ebm_toy_generate(spec + 4, opts.limit ? opts.limit : 10000, opts.seed, &d);
        if (s != EBM_OK) return s;
        s = finish(d, &opts, false);
    } else {
        s = is_fashion_mnist(spec) ? load_fashion_mnist(spec, opts.limit, d, &was_u8)
                                   : load_path(spec, opts.limit, d, &was_u8);
        if (s == EBM_OK) s = finish(d, &opts, was_u8);
    }
    if (s == EBM_OK && filtered) s = filter_rows(d, keep, ranged ? 0 : limit, full);
    if (s == EBM_OK && ranged) s = slice_rows(d, ra, rb, limit, full);
    if (s != EBM_OK) {
        ebm_dataset_free(d);
        return s;
    }
    *out = d;
    return EBM_OK;
}

ebm_status ebm_rotations(const float *x, const int32_t *labels, size_t n, size_t side, size_t k, float *xo,
                         int32_t *yo) {
    if (side == 0) return ebm_fail(EBM_EINVAL, "rotations: the images' side is 0");
    if (n && (!x || !xo)) return ebm_fail(EBM_EINVAL, "rotations: %s is NULL", !x ? "x" : "xo");
    for (size_t i = 0; labels && yo && i < n; i++)
        if (labels[i] < 0 || (size_t)labels[i] >= k)
            return ebm_fail(EBM_EINVAL, "rotations: label %d of row %zu is not a class in 0..%zu", (int)labels[i], i,
                            k ? k - 1 : 0);
    const size_t d = side * side, m = side - 1;
    for (size_t i = 0; i < n; i++) {
        const float *a = x + i * d;
        for (size_t r = 0; r < 4; r++) {
            float *o = xo + (4 * i + r) * d;
            for (size_t u = 0; u < side; u++) /* numpy.rot90: out[u][v] = in[v][m-u], in[m-u][m-v], in[m-v][u] */
                for (size_t v = 0; v < side; v++)
                    o[u * side + v] = r == 0 ? a[u * side + v]
                                    : r == 1 ? a[v * side + (m - u)]
                                    : r == 2 ? a[(m - u) * side + (m - v)]
                                             : a[(m - v) * side + u];
            if (labels && yo) yo[4 * i + r] = labels[i] + (int32_t)(k * r);
        }
    }
    return EBM_OK;
}

ebm_status ebm_labels_load(const char *path, size_t n, int exact, size_t k, int32_t **out) {
    *out = NULL;
    ebm_data_opts o;
    ebm_data_opts_default(&o);
    o.scale = EBM_SCALE_NONE;
    ebm_dataset *l = NULL;
    ebm_status s = ebm_dataset_load(path, &o, &l);
    if (s) return s;
    int32_t *y = NULL;
    if (l->x->cols != 1 || l->x->rows < n || (exact && l->x->rows != n))
        s = ebm_fail(EBM_EINVAL, "%s: %zu x %zu values, but labels need one column and %s %zu rows", path, l->x->rows,
                     l->x->cols, exact ? "exactly" : "at least", n);
    else if (!(y = malloc((n ? n : 1) * sizeof *y)))
        s = ebm_fail(EBM_ENOMEM, "out of memory for %zu labels", n);
    for (size_t i = 0; !s && i < n; i++) {
        float v = l->x->data[i];
        if (!(v >= 0 && v < (float)k) || v != floorf(v))
            s = ebm_fail(EBM_EINVAL, "%s: label %g of row %zu is not a whole number in 0..%zu", path, (double)v, i,
                         k - 1);
        else
            y[i] = (int32_t)v;
    }
    ebm_dataset_free(l);
    if (s) free(y);
    else *out = y;
    return s;
}
