/* Data sets: fashion-mnist name resolution against a small stand-in directory (gzip and raw IDX files,
 * via EBM_FASHION_MNIST_DIR), the missing-package message, label checks, limits, every scaling and
 * binarisation mode (stochastic draws checked against the Philox stream (seed, row)), file specs by
 * extension, and the rejection of empty or non-finite data. */
#include "check.h"
#include "io/io_internal.h"

#include <sys/resource.h>

static char dir[512];

/* Writes images (n, h, w) u8 with value (37 i + 11 j) mod 256 and labels i mod 10 under prefix. */
static void write_split(const char *d, const char *prefix, size_t n, size_t h, size_t w, size_t n_labels,
                        const char *ext) {
    size_t shape[3] = {n, h, w};
    ebm_array *img, *lab;
    REQUIRE(ebm_array_new(EBM_U8, 3, shape, NULL, &img) == EBM_OK);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < h * w; j++) ((uint8_t *)img->data)[i * h * w + j] = (uint8_t)((37 * i + 11 * j) % 256);
    REQUIRE(ebm_array_new(EBM_U8, 1, &n_labels, NULL, &lab) == EBM_OK);
    for (size_t i = 0; i < n_labels; i++) ((uint8_t *)lab->data)[i] = (uint8_t)(i % 10);
    char p[700];
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte%s", d, prefix, ext);
    REQUIRE(ebm_idx_write(p, img) == EBM_OK);
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte%s", d, prefix, ext);
    REQUIRE(ebm_idx_write(p, lab) == EBM_OK);
    ebm_array_free(img);
    ebm_array_free(lab);
}

static void write_npy(const char *name, ebm_dtype t, int ndim, const size_t *shape, const void *data, char *path,
                      size_t cap) {
    ebm_array *a;
    REQUIRE(ebm_array_new(t, ndim, shape, data, &a) == EBM_OK);
    snprintf(path, cap, "%s/%s", dir, name);
    REQUIRE(ebm_npy_write(path, a) == EBM_OK);
    ebm_array_free(a);
}

static void test_fashion_mnist(void) {
    char fm[600];
    snprintf(fm, sizeof fm, "%s/fmnist", dir);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", fm);
    REQUIRE(system(cmd) == 0);
    write_split(fm, "train", 6, 4, 3, 6, ".gz");
    write_split(fm, "t10k", 3, 4, 3, 3, ""); /* un-gzipped names are accepted as well */
    REQUIRE(setenv("EBM_FASHION_MNIST_DIR", fm, 1) == 0);

    ebm_dataset *d = NULL;
    CHECK_OK(ebm_dataset_load("fashion-mnist", NULL, &d));
    REQUIRE(d);
    CHECK(d->x->rows == 6 && d->x->cols == 12 && d->height == 4 && d->width == 3);
    CHECK(d->labels && d->labels[5] == 5);
    CHECK_NEAR(d->x->data[2 * 12 + 7], ((37 * 2 + 11 * 7) % 256) / 255.0, 1e-7);
    CHECK(strstr(d->source, "fmnist/train-images-idx3-ubyte.gz") != NULL);
    ebm_dataset_free(d);

    ebm_data_opts o;
    ebm_data_opts_default(&o);
    CHECK(o.limit == 0 && o.scale == EBM_SCALE_AUTO && o.binarize == EBM_BINARIZE_NONE && o.threshold == 0.5f &&
          o.seed == 1);
    o.limit = 2;
    o.scale = EBM_SCALE_NONE;
    CHECK_OK(ebm_dataset_load("fashion-mnist:test", &o, &d));
    REQUIRE(d);
    CHECK(d->x->rows == 2 && d->labels[1] == 1 && d->x->data[12 + 1] == (float)((37 + 11) % 256));
    CHECK(ebm_io_ends_with(d->source, "fmnist/t10k-images-idx3-ubyte"));
    ebm_dataset_free(d);
    o.limit = 100; /* more than there are: all rows */
    CHECK_OK(ebm_dataset_load("fashion-mnist:train", &o, &d));
    CHECK(d && d->x->rows == 6);
    ebm_dataset_free(d);

    /* class filters: labels are i mod 10 over 6 rows, so "#1,3-4" keeps rows 1, 3, 4 (limit after filter) */
    CHECK_OK(ebm_dataset_load("fashion-mnist#1,3-4", NULL, &d));
    REQUIRE(d);
    CHECK(d->x->rows == 3 && d->labels[0] == 1 && d->labels[1] == 3 && d->labels[2] == 4);
    CHECK_NEAR(d->x->data[1 * 12 + 7], ((37 * 3 + 11 * 7) % 256) / 255.0, 1e-7);
    ebm_dataset_free(d);
    o.limit = 2;
    CHECK_OK(ebm_dataset_load("fashion-mnist:train#0-3", &o, &d));
    CHECK(d && d->x->rows == 2 && d->labels[1] == 1);
    ebm_dataset_free(d);
    CHECK_FAILS(ebm_dataset_load("fashion-mnist#7", NULL, &d), EBM_EINVAL); /* no row has label 7 */
    CHECK(strstr(ebm_last_error(), "no rows") != NULL);
    CHECK_FAILS(ebm_dataset_load("fashion-mnist#3-1", NULL, &d), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "bad class list") != NULL);
    CHECK_FAILS(ebm_dataset_load("fashion-mnist#1,,", NULL, &d), EBM_EINVAL);
    CHECK_FAILS(ebm_dataset_load("fashion-mnist#99999", NULL, &d), EBM_EINVAL);

    /* row ranges: "@A:B" keeps rows A..B-1, "@A:" to the end, after a class filter, before the limit */
    o.limit = 0;
    CHECK_OK(ebm_dataset_load("fashion-mnist@2:5", &o, &d));
    REQUIRE(d);
    CHECK(d->x->rows == 3 && d->labels[0] == 2 && d->labels[2] == 4);
    CHECK(d->x->data[1 * 12 + 7] == (float)((37 * 3 + 11 * 7) % 256));
    ebm_dataset_free(d);
    CHECK_OK(ebm_dataset_load("fashion-mnist@4:", NULL, &d));
    CHECK(d && d->x->rows == 2 && d->labels[0] == 4 && d->labels[1] == 5);
    ebm_dataset_free(d);
    CHECK_OK(ebm_dataset_load("fashion-mnist@1:100", NULL, &d)); /* an end past the rows: to the end */
    CHECK(d && d->x->rows == 5 && d->labels[0] == 1);
    ebm_dataset_free(d);
    o.limit = 2;
    CHECK_OK(ebm_dataset_load("fashion-mnist@1:", &o, &d)); /* the limit counts from the range's start */
    CHECK(d && d->x->rows == 2 && d->labels[0] == 1 && d->labels[1] == 2);
    ebm_dataset_free(d);
    CHECK_OK(ebm_dataset_load("fashion-mnist#1,3-5@1:3", NULL, &d)); /* rows 1, 3, 4, 5 filtered, then 3, 4 */
    CHECK(d && d->x->rows == 2 && d->labels[0] == 3 && d->labels[1] == 4);
    ebm_dataset_free(d);
    CHECK_FAILS(ebm_dataset_load("fashion-mnist@6:", NULL, &d), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "starts at row 6") && strstr(ebm_last_error(), "has 6 rows"));
    CHECK_FAILS(ebm_dataset_load("fashion-mnist@3:3", NULL, &d), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "bad row range") != NULL);
    CHECK_FAILS(ebm_dataset_load("fashion-mnist@:3", NULL, &d), EBM_EINVAL);
    CHECK_FAILS(ebm_dataset_load("fashion-mnist@1:2:3", NULL, &d), EBM_EINVAL);
    CHECK_FAILS(ebm_dataset_load("toy:moons@0:10", NULL, &d), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "toy") != NULL);

    d = (ebm_dataset *)1;
    CHECK_FAILS(ebm_dataset_load("fashion-mnist:xyz", NULL, &d), EBM_EINVAL);
    CHECK(d == NULL);
    CHECK(strcmp(ebm_last_error(), "unknown data set 'fashion-mnist:xyz'; valid names: fashion-mnist, "
                                   "fashion-mnist:train, fashion-mnist:test") == 0);
    CHECK_FAILS(ebm_dataset_load("fashion-mnist:", NULL, &d), EBM_EINVAL);
    CHECK_FAILS(ebm_dataset_load("fashion-mnistx", NULL, &d), EBM_EIO); /* a path, not the name */

    /* label count disagrees with the image count */
    write_split(fm, "train", 6, 4, 3, 5, ".gz");
    CHECK_FAILS(ebm_dataset_load("fashion-mnist", NULL, &d), EBM_ESHAPE);
    CHECK(strstr(ebm_last_error(), "5 labels") && strstr(ebm_last_error(), "6 images"));

    /* a directory without the files */
    char empty[600];
    snprintf(empty, sizeof empty, "%s/nothing-here", dir);
    REQUIRE(setenv("EBM_FASHION_MNIST_DIR", empty, 1) == 0);
    CHECK_FAILS(ebm_dataset_load("fashion-mnist:test", NULL, &d), EBM_EIO);
    char want[900];
    snprintf(want, sizeof want,
             "fashion-mnist: %s/t10k-images-idx3-ubyte.gz not found; install Debian's dataset-fashion-mnist "
             "(sudo apt-get install dataset-fashion-mnist) or set EBM_FASHION_MNIST_DIR",
             empty);
    CHECK_MSG(strcmp(ebm_last_error(), want) == 0, "%s", ebm_last_error());
    unsetenv("EBM_FASHION_MNIST_DIR");
}

static void test_paths_and_scaling(void) {
    char p[600];
    float v[6] = {-1, 0, 1, 2, 3, 5};
    size_t shape[2] = {3, 2};
    write_npy("f.npy", EBM_F32, 2, shape, v, p, sizeof p);
    ebm_data_opts o;
    ebm_data_opts_default(&o);
    ebm_dataset *d = NULL;
    CHECK_OK(ebm_dataset_load(p, &o, &d)); /* AUTO keeps float data as stored */
    REQUIRE(d);
    CHECK(d->x->rows == 3 && d->x->cols == 2 && d->x->data[5] == 5 && d->labels == NULL && d->height == 0);
    ebm_dataset_free(d);
    d = NULL;
    char filt[700];
    snprintf(filt, sizeof filt, "%s#0", p);
    CHECK_FAILS(ebm_dataset_load(filt, &o, &d), EBM_EINVAL); /* a class filter needs labels */
    CHECK(strstr(ebm_last_error(), "needs labelled data") != NULL);
    CHECK_OK(ebm_dataset_load(p, &o, &d));
    CHECK(strcmp(d->source, p) == 0);
    ebm_dataset_free(d);
    o.scale = EBM_SCALE_MINMAX;
    CHECK_OK(ebm_dataset_load(p, &o, &d));
    CHECK(d && d->x->data[0] == 0 && d->x->data[1] == 1.0f / 6 && d->x->data[5] == 1);
    ebm_dataset_free(d);
    o.scale = EBM_SCALE_255;
    CHECK_OK(ebm_dataset_load(p, &o, &d));
    CHECK(d && d->x->data[3] == 2.0f / 255);
    ebm_dataset_free(d);
    o.scale = EBM_SCALE_MINMAX;
    o.binarize = EBM_BINARIZE_THRESHOLD;
    o.threshold = 1.0f / 3;
    CHECK_OK(ebm_dataset_load(p, &o, &d)); /* scaled: 0, 1/6, 1/3, 1/2, 2/3, 1 */
    static const float thr[6] = {0, 0, 1, 1, 1, 1};
    CHECK(d && memcmp(d->x->data, thr, sizeof thr) == 0);
    ebm_dataset_free(d);

    /* constant data under minmax becomes zeros */
    float c[4] = {7, 7, 7, 7};
    size_t s22[2] = {2, 2};
    write_npy("c.npy", EBM_F32, 2, s22, c, p, sizeof p);
    o.binarize = EBM_BINARIZE_NONE;
    CHECK_OK(ebm_dataset_load(p, &o, &d));
    CHECK(d && d->x->data[0] == 0 && d->x->data[3] == 0);
    ebm_dataset_free(d);

    /* 3-D u8 npy: images with their shape, AUTO divides by 255 */
    uint8_t img[2 * 2 * 3] = {0, 255, 51, 102, 0, 0, 1, 2, 3, 4, 5, 6};
    size_t s3[3] = {2, 2, 3};
    write_npy("img.npy", EBM_U8, 3, s3, img, p, sizeof p);
    ebm_data_opts_default(&o);
    CHECK_OK(ebm_dataset_load(p, &o, &d));
    CHECK(d && d->height == 2 && d->width == 3 && d->x->cols == 6 && d->x->data[1] == 1.0f &&
          d->x->data[2] == 0.2f);
    ebm_dataset_free(d);

    /* CSV with a header; IDX without .gz; limit */
    snprintf(p, sizeof p, "%s/d.csv", dir);
    static const char csv[] = "a,b\n1,2\n3,4\n5,6\n";
    check_write_bytes(p, csv, sizeof csv - 1);
    o.limit = 2;
    CHECK_OK(ebm_dataset_load(p, &o, &d));
    CHECK(d && d->x->rows == 2 && d->x->cols == 2 && d->x->data[3] == 4);
    ebm_dataset_free(d);
    ebm_array *a;
    REQUIRE(ebm_array_new(EBM_I16, 2, s22, NULL, &a) == EBM_OK);
    ((int16_t *)a->data)[3] = -300;
    snprintf(p, sizeof p, "%s/d.idx", dir);
    REQUIRE(ebm_idx_write(p, a) == EBM_OK);
    ebm_array_free(a);
    o.limit = 0;
    CHECK_OK(ebm_dataset_load(p, &o, &d));
    CHECK(d && d->x->data[3] == -300);
    ebm_dataset_free(d);
}

static void test_stochastic(void) {
    enum { R = 100, C = 100 };
    static float v[R * C];
    for (int i = 0; i < R * C; i++) v[i] = 0.3f;
    v[0] = 0;
    v[1] = 1;
    size_t shape[2] = {R, C};
    char p[600];
    write_npy("p.npy", EBM_F32, 2, shape, v, p, sizeof p);
    ebm_data_opts o;
    ebm_data_opts_default(&o);
    o.binarize = EBM_BINARIZE_STOCHASTIC;
    o.seed = 42;
    ebm_dataset *d = NULL, *e = NULL;
    CHECK_OK(ebm_dataset_load(p, &o, &d));
    CHECK_OK(ebm_dataset_load(p, &o, &e));
    REQUIRE(d && e);
    CHECK(memcmp(d->x->data, e->x->data, sizeof v) == 0);
    CHECK(d->x->data[0] == 0 && d->x->data[1] == 1);
    double sum = 0;
    bool binary = true, matches = true;
    float u[C];
    for (int r = 0; r < R; r++) {
        ebm_rng_fill_uniform(42, (uint64_t)r, 0, u, C);
        for (int c = 0; c < C; c++) {
            float x = d->x->data[r * C + c];
            binary &= x == 0 || x == 1;
            matches &= x == (u[c] < v[r * C + c] ? 1.0f : 0.0f);
            sum += x;
        }
    }
    CHECK(binary && matches);
    CHECK_NEAR(sum / (R * C), 0.3, 6 * sqrt(0.3 * 0.7 / (R * C)));
    ebm_dataset_free(e);
    o.seed = 43;
    CHECK_OK(ebm_dataset_load(p, &o, &e));
    CHECK(e && memcmp(d->x->data, e->x->data, sizeof v) != 0);
    ebm_dataset_free(e);
    /* a limit keeps the same draws for the rows it keeps */
    o.seed = 42;
    o.limit = 10;
    CHECK_OK(ebm_dataset_load(p, &o, &e));
    CHECK(e && e->x->rows == 10 && memcmp(d->x->data, e->x->data, 10 * C * sizeof(float)) == 0);
    ebm_dataset_free(e);
    ebm_dataset_free(d);
}

static void test_rejections(void) {
    char p[600];
    ebm_dataset *d = (ebm_dataset *)1;
    size_t s0[2] = {0, 5}, s1[2] = {5, 0};
    write_npy("rows0.npy", EBM_F32, 2, s0, NULL, p, sizeof p);
    CHECK_FAILS(ebm_dataset_load(p, NULL, &d), EBM_EFORMAT);
    CHECK(d == NULL && strstr(ebm_last_error(), "empty"));
    write_npy("cols0.npy", EBM_F32, 2, s1, NULL, p, sizeof p);
    CHECK_FAILS(ebm_dataset_load(p, NULL, &d), EBM_EFORMAT);
    snprintf(p, sizeof p, "%s/header.csv", dir);
    check_write_bytes(p, "a,b\n", 4);
    CHECK_FAILS(ebm_dataset_load(p, NULL, &d), EBM_EFORMAT);
    CHECK_MSG(strstr(ebm_last_error(), "header.csv: no data rows: its only line was read as a header of 2 columns"),
              "%s", ebm_last_error());
    /* one line of numbers is one row of data, even without a line end */
    snprintf(p, sizeof p, "%s/oneline.csv", dir);
    check_write_bytes(p, "0.25,-1,3e2", 11);
    d = NULL;
    CHECK_OK(ebm_dataset_load(p, NULL, &d));
    CHECK(d && d->x->rows == 1 && d->x->cols == 3 && d->x->data[0] == 0.25f && d->x->data[2] == 300.0f);
    ebm_dataset_free(d);
    d = (ebm_dataset *)1;
    double bad[4] = {1, 2, NAN, 4};
    size_t s22[2] = {2, 2};
    write_npy("nan.npy", EBM_F64, 2, s22, bad, p, sizeof p);
    CHECK_FAILS(ebm_dataset_load(p, NULL, &d), EBM_EFORMAT);
    CHECK(strstr(ebm_last_error(), "row 1, column 0 is not finite") != NULL);
    snprintf(p, sizeof p, "%s/garbage.idx", dir);
    check_write_bytes(p, "garbage!", 8);
    CHECK_FAILS(ebm_dataset_load(p, NULL, &d), EBM_EFORMAT);
    snprintf(p, sizeof p, "%s/absent.npy", dir);
    CHECK_FAILS(ebm_dataset_load(p, NULL, &d), EBM_EIO);
    CHECK_FAILS(ebm_dataset_load("", NULL, &d), EBM_EINVAL);
    CHECK_FAILS(ebm_dataset_load(NULL, NULL, &d), EBM_EINVAL);
    ebm_data_opts o;
    ebm_data_opts_default(&o);
    o.scale = (ebm_scale)17;
    CHECK_FAILS(ebm_dataset_load(p, &o, &d), EBM_EINVAL);
    ebm_data_opts_default(&o);
    o.binarize = (ebm_binarize)5;
    CHECK_FAILS(ebm_dataset_load(p, &o, &d), EBM_EINVAL);
    o.binarize = EBM_BINARIZE_THRESHOLD;
    o.threshold = NAN;
    CHECK_FAILS(ebm_dataset_load(p, &o, &d), EBM_EINVAL);
    ebm_dataset_free(NULL);
}

/* Label files: one column of whole numbers in 0..k-1, any numeric type, at least (or exactly) n rows. */
static void test_labels(void) {
    char p[600];
    int32_t *y = (int32_t *)1;
    uint8_t u[5] = {2, 0, 1, 2, 1};
    size_t s5 = 5, s52[2] = {5, 2};
    write_npy("labels.npy", EBM_U8, 1, &s5, u, p, sizeof p);
    CHECK_OK(ebm_labels_load(p, 4, 0, 3, &y));
    CHECK(y && y[0] == 2 && y[1] == 0 && y[2] == 1 && y[3] == 2);
    free(y);
    CHECK_OK(ebm_labels_load(p, 5, 1, 3, &y));
    CHECK(y[4] == 1);
    free(y);
    CHECK_FAILS(ebm_labels_load(p, 4, 1, 3, &y), EBM_EINVAL); /* exactly 4 rows wanted */
    CHECK(y == NULL && strstr(ebm_last_error(), "5 x 1 values, but labels need one column and exactly 4 rows"));
    CHECK_FAILS(ebm_labels_load(p, 6, 0, 3, &y), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "at least 6 rows") != NULL);
    CHECK_FAILS(ebm_labels_load(p, 5, 0, 2, &y), EBM_EINVAL); /* a label 2 with two classes */
    CHECK(y == NULL && strstr(ebm_last_error(), "label 2 of row 0 is not a whole number in 0..1"));
    write_npy("labels2.npy", EBM_U8, 2, s52, NULL, p, sizeof p);
    CHECK_FAILS(ebm_labels_load(p, 5, 0, 3, &y), EBM_EINVAL);
    float half[2] = {1.0f, 0.5f};
    size_t s2 = 2;
    write_npy("half.npy", EBM_F32, 1, &s2, half, p, sizeof p);
    CHECK_FAILS(ebm_labels_load(p, 2, 0, 3, &y), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "label 0.5 of row 1") != NULL);
    snprintf(p, sizeof p, "%s/absent-labels.npy", dir);
    CHECK_FAILS(ebm_labels_load(p, 1, 0, 3, &y), EBM_EIO);
}

/* Writes a gzip IDX file whose header claims `claimed` rows of (h, w) u8 (or scalars when h is 0) but whose
 * data stops after `held` rows; row i holds (7 i + j) mod 256. */
static void write_claiming(const char *path, size_t claimed, size_t held, size_t h, size_t w) {
    size_t per = h ? h * w : 1, hdr = h ? 16 : 8, n = hdr + held * per;
    uint8_t *raw = calloc(n, 1);
    REQUIRE(raw);
    raw[2] = 0x08;
    raw[3] = h ? 3 : 1;
    ebm_io_put_be32(raw + 4, (uint32_t)claimed);
    if (h) {
        ebm_io_put_be32(raw + 8, (uint32_t)h);
        ebm_io_put_be32(raw + 12, (uint32_t)w);
    }
    for (size_t i = 0; i < held; i++)
        for (size_t j = 0; j < per; j++) raw[hdr + i * per + j] = (uint8_t)((7 * i + j) % 256);
    uint8_t *gz = NULL;
    size_t gz_len = 0;
    REQUIRE(ebm_io_gzip(raw, n, 6, &gz, &gz_len) == EBM_OK);
    FILE *f = fopen(path, "wb");
    REQUIRE(f && fwrite(gz, 1, gz_len, f) == gz_len && fclose(f) == 0);
    free(gz);
    free(raw);
}

/* --limit reads only the rows asked from a gzip stream (issue 13: a 762 KB IDX.gz claiming 1M rows inflated
 * 1.5 GB before keeping 10).  The files below claim a million rows and hold 20, so any reader that inflates
 * past the asked rows fails on the truncation: that the limited loads succeed shows they stopped. */
static void test_limit_reads_only_rows(void) {
    char fm[600], path[700];
    snprintf(fm, sizeof fm, "%s/claims", dir);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", fm);
    REQUIRE(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", fm);
    write_claiming(path, 1000000, 20, 28, 28);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", fm);
    write_claiming(path, 1000000, 20, 0, 0);
    ebm_data_opts o;
    ebm_data_opts_default(&o);
    o.limit = 10;
    o.scale = EBM_SCALE_NONE;
    ebm_dataset *d = NULL;
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", fm);
    CHECK_OK(ebm_dataset_load(path, &o, &d));
    REQUIRE(d);
    CHECK(d->x->rows == 10 && d->x->cols == 784 && d->height == 28 && d->width == 28);
    CHECK(d->x->data[9 * 784 + 5] == (float)((7 * 9 + 5) % 256));
    ebm_dataset_free(d);
    /* the same through the fashion-mnist name, with labels */
    REQUIRE(setenv("EBM_FASHION_MNIST_DIR", fm, 1) == 0);
    CHECK_OK(ebm_dataset_load("fashion-mnist", &o, &d));
    REQUIRE(d);
    CHECK(d->x->rows == 10 && d->labels && d->labels[3] == 21 && d->labels[9] == 63);
    ebm_dataset_free(d);
    /* rows beyond what the stream holds, or all of them, are a truncated file */
    o.limit = 30;
    CHECK_FAILS(ebm_dataset_load(path, &o, &d), EBM_EFORMAT);
    CHECK_MSG(strstr(ebm_last_error(), "truncated"), "message: %s", ebm_last_error());
    o.limit = 0;
    CHECK_FAILS(ebm_dataset_load("fashion-mnist", &o, &d), EBM_EFORMAT);
    CHECK_MSG(strstr(ebm_last_error(), "truncated"), "message: %s", ebm_last_error());
    unsetenv("EBM_FASHION_MNIST_DIR");
    /* found by fuzz_dataset: a header claiming rows of 2 x 1.1e9 bytes, cut after 8 bytes, with a row limit
     * of 1, allocated the 2.2 GB row before reading; now the buffer grows with what the stream holds */
    snprintf(path, sizeof path, "%s/huge-row.idx", fm);
    static const uint8_t huge_row[26] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0x42, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8};
    FILE *hf = fopen(path, "wb");
    REQUIRE(hf && fwrite(huge_row, 1, 24, hf) == 24 && fclose(hf) == 0);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    o.limit = 1;
    CHECK_FAILS(ebm_dataset_load(path, &o, &d), EBM_EFORMAT);
    CHECK_MSG(strstr(ebm_last_error(), "truncated"), "message: %s", ebm_last_error());
    getrusage(RUSAGE_SELF, &ru1);
    CHECK_MSG(ru1.ru_maxrss - ru0.ru_maxrss < 100 * 1024, "peak RSS grew by %ld KB", ru1.ru_maxrss - ru0.ru_maxrss);
    /* a limited read still validates the header */
    snprintf(path, sizeof path, "%s/bad.idx.gz", fm);
    write_claiming(path, 1000000, 20, 28, 28);
    FILE *f = fopen(path, "wb");
    REQUIRE(f && fwrite("\x00\x00\x07\x01", 1, 4, f) == 4 && fclose(f) == 0);
    o.limit = 10;
    CHECK_FAILS(ebm_dataset_load(path, &o, &d), EBM_EFORMAT);
    CHECK_MSG(strstr(ebm_last_error(), "unknown IDX data type 0x07"), "message: %s", ebm_last_error());
}

/* ebm_rotations: numpy.rot90's images (worked out by hand on a 3 x 3 image), joint labels y + k r, four turns
 * of a turn are the identity, and the refusals. */
static void test_rotations(void) {
    const float a[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}; /* numpy.rot90 of [[1,2,3],[4,5,6],[7,8,9]], 1, 2, 3 times */
    const float want[4][9] = {{1, 2, 3, 4, 5, 6, 7, 8, 9}, {3, 6, 9, 2, 5, 8, 1, 4, 7}, {9, 8, 7, 6, 5, 4, 3, 2, 1},
                              {7, 4, 1, 8, 5, 2, 9, 6, 3}};
    float x[2 * 9], xo[8 * 9], xoo[32 * 9];
    for (int i = 0; i < 9; i++) x[i] = a[i], x[9 + i] = -a[i];
    const int32_t y[2] = {2, 0};
    int32_t yo[8], yoo[32];
    CHECK_OK(ebm_rotations(x, y, 2, 3, 5, xo, yo));
    for (int r = 0; r < 4; r++) {
        CHECK_MSG(memcmp(xo + r * 9, want[r], sizeof want[r]) == 0, "row 0 turned %d times", r);
        for (int i = 0; i < 9; i++) CHECK(xo[(4 + r) * 9 + i] == -want[r][i]);
        CHECK(yo[r] == 2 + 5 * r && yo[4 + r] == 5 * r);
    }
    CHECK_OK(ebm_rotations(xo, NULL, 8, 3, 5, xoo, NULL)); /* turning row r (4 - r) more times gives it back */
    for (int i = 0; i < 8; i++) {
        int r = i % 4;
        CHECK(memcmp(xoo + (4 * i + (4 - r) % 4) * 9, x + (i / 4) * 9, 9 * sizeof(float)) == 0);
    }
    (void)yoo;
    const int32_t bad[2] = {2, 5};
    CHECK_FAILS(ebm_rotations(x, bad, 2, 3, 5, xo, yo), EBM_EINVAL);
    CHECK_FAILS(ebm_rotations(x, y, 2, 0, 5, xo, yo), EBM_EINVAL);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s", check_tmpdir("io_dataset"));
    test_fashion_mnist();
    test_paths_and_scaling();
    test_stochastic();
    test_rejections();
    test_labels();
    test_rotations();
    test_limit_reads_only_rows();
    return check_summary("test_io_dataset");
}
