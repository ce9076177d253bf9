/* IDX: byte-exact encoding against a hand-built file, round trips of every IDX dtype in 1-D, 2-D and 3-D
 * (raw and gzip, gzip detected by content), empty dimensions, and malformed files that must fail
 * with EBM_EFORMAT and a message naming the fault. */
#include "check.h"
#include "io/io_internal.h"

#include <dirent.h>

static char dir[512];

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", dir, name); }

static int count_temps(void) {
    DIR *dp = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (dp && (e = readdir(dp)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (dp) closedir(dp);
    return n;
}

static bool same_array(const ebm_array *a, const ebm_array *b) {
    if (a->dtype != b->dtype || a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return memcmp(a->data, b->data, ebm_array_numel(a) * ebm_dtype_size(a->dtype)) == 0;
}

/* Fills a's data with a pattern that uses every byte of each element (so byte order matters). */
static void fill_pattern(ebm_array *a) {
    size_t n = ebm_array_numel(a);
    for (size_t i = 0; i < n; i++) {
        double v = ((double)i * 1234567.891 - 3e6) * (i % 2 ? -1 : 1);
        switch (a->dtype) {
        case EBM_U8: ((uint8_t *)a->data)[i] = (uint8_t)(i * 37 + 11); break;
        case EBM_I8: ((int8_t *)a->data)[i] = (int8_t)(i * 37 - 100); break;
        case EBM_I16: ((int16_t *)a->data)[i] = (int16_t)(i * 2731 - 30000); break;
        case EBM_I32: ((int32_t *)a->data)[i] = (int32_t)(i * 123456789u); break;
        case EBM_F32: ((float *)a->data)[i] = (float)v / 7.0f; break;
        case EBM_F64: ((double *)a->data)[i] = v / 7.0; break;
        default: break;
        }
    }
}

static void test_known_bytes(void) {
    /* i16 (2, 3): 1, -2, 300, -32768, 32767, 0 and f64 (1,): 1.5 */
    static const uint8_t file[] = {0, 0, 0x0B, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0x00, 0x01, 0xff, 0xfe, 0x01, 0x2c,
                                   0x80, 0x00, 0x7f, 0xff, 0x00, 0x00};
    ebm_array *a;
    CHECK_OK(ebm_idx_parse(file, sizeof file, "mem", &a));
    REQUIRE(a);
    CHECK(a->dtype == EBM_I16 && a->ndim == 2 && a->shape[0] == 2 && a->shape[1] == 3);
    const int16_t *v = a->data;
    CHECK(v[0] == 1 && v[1] == -2 && v[2] == 300 && v[3] == -32768 && v[4] == 32767 && v[5] == 0);
    char p[600];
    path_in(p, sizeof p, "known.idx");
    CHECK_OK(ebm_idx_write(p, a));
    uint8_t *buf;
    size_t len;
    CHECK_OK(ebm_read_file(p, 0, 1000, &buf, &len));
    CHECK(len == sizeof file && memcmp(buf, file, len) == 0);
    free(buf);
    ebm_array_free(a);

    static const uint8_t f64[] = {0, 0, 0x0E, 1, 0, 0, 0, 1, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0};
    CHECK_OK(ebm_idx_parse(f64, sizeof f64, "mem", &a));
    CHECK(a->dtype == EBM_F64 && ((double *)a->data)[0] == 1.5);
    ebm_array_free(a);
}

static void test_round_trips(void) {
    static const ebm_dtype types[] = {EBM_U8, EBM_I8, EBM_I16, EBM_I32, EBM_F32, EBM_F64};
    static const size_t shapes[4][3] = {{7, 0, 0}, {5, 3, 0}, {4, 3, 5}, {0, 28, 28}};
    static const int ndims[4] = {1, 2, 3, 3};
    for (size_t t = 0; t < 6; t++)
        for (int s = 0; s < 4; s++)
            for (int gz = 0; gz < 2; gz++) {
                ebm_array *a, *b = NULL;
                REQUIRE(ebm_array_new(types[t], ndims[s], shapes[s], NULL, &a) == EBM_OK);
                fill_pattern(a);
                char p[600];
                snprintf(p, sizeof p, "%s/rt-%d-%d.idx%s", dir, (int)t, s, gz ? ".gz" : "");
                CHECK_OK(ebm_idx_write(p, a));
                CHECK_OK(ebm_idx_read(p, &b));
                CHECK_MSG(b && same_array(a, b), "%s", p);
                uint8_t *raw;
                size_t len;
                CHECK_OK(ebm_read_file(p, 0, 1 << 20, &raw, &len));
                CHECK(len >= 2 && (gz ? raw[0] == 0x1f && raw[1] == 0x8b : raw[0] == 0 && raw[1] == 0));
                free(raw);
                ebm_array_free(a);
                ebm_array_free(b);
            }
    CHECK(count_temps() == 0);
}

static void test_gzip_by_content(void) {
    ebm_array *a, *b = NULL;
    size_t shape[2] = {3, 4};
    REQUIRE(ebm_array_new(EBM_U8, 2, shape, NULL, &a) == EBM_OK);
    fill_pattern(a);
    char gz[600], plain[600], renamed[600];
    path_in(gz, sizeof gz, "content.idx.gz");
    path_in(plain, sizeof plain, "content-plain.gz");
    path_in(renamed, sizeof renamed, "content-gzipped.idx");
    CHECK_OK(ebm_idx_write(gz, a));
    REQUIRE(rename(gz, renamed) == 0); /* gzip data under a name without .gz */
    CHECK_OK(ebm_idx_read(renamed, &b));
    CHECK(b && same_array(a, b));
    ebm_array_free(b);
    /* raw data under a .gz name: write raw first, then rename */
    char tmp[600];
    path_in(tmp, sizeof tmp, "content.idx");
    CHECK_OK(ebm_idx_write(tmp, a));
    REQUIRE(rename(tmp, plain) == 0);
    CHECK_OK(ebm_idx_read(plain, &b));
    CHECK(b && same_array(a, b));
    ebm_array_free(b);

    /* truncated gzip */
    uint8_t *raw;
    size_t len;
    REQUIRE(ebm_read_file(renamed, 0, 1 << 20, &raw, &len) == EBM_OK);
    check_write_bytes(renamed, raw, len - 6);
    CHECK_FAILS(ebm_idx_read(renamed, &b), EBM_EFORMAT);
    CHECK(b == NULL);
    free(raw);
    ebm_array_free(a);
}

static void test_write_errors(void) {
    ebm_array *a;
    size_t shape[2] = {2, 2};
    char p[600];
    path_in(p, sizeof p, "bad.idx");
    static const ebm_dtype unsupported[] = {EBM_I64, EBM_F16, EBM_BF16};
    for (int i = 0; i < 3; i++) {
        REQUIRE(ebm_array_new(unsupported[i], 2, shape, NULL, &a) == EBM_OK);
        CHECK_FAILS(ebm_idx_write(p, a), EBM_EINVAL);
        ebm_array_free(a);
    }
    REQUIRE(ebm_array_new(EBM_U8, 0, NULL, NULL, &a) == EBM_OK);
    CHECK_FAILS(ebm_idx_write(p, a), EBM_EINVAL);
    ebm_array_free(a);
    CHECK_FAILS(ebm_idx_write(p, NULL), EBM_EINVAL);
    REQUIRE(ebm_array_new(EBM_U8, 2, shape, NULL, &a) == EBM_OK);
    char missing[600];
    path_in(missing, sizeof missing, "nodir/x.idx.gz");
    CHECK_FAILS(ebm_idx_write(missing, a), EBM_EIO);
    ebm_array_free(a);
    CHECK(count_temps() == 0);
    ebm_array *b;
    path_in(p, sizeof p, "absent.idx");
    CHECK_FAILS(ebm_idx_read(p, &b), EBM_EIO);
}

static void fails(const uint8_t *buf, size_t len, const char *expect) {
    ebm_array *a = (ebm_array *)1;
    CHECK_FAILS(ebm_idx_parse(buf, len, "bad.idx", &a), EBM_EFORMAT);
    CHECK(a == NULL);
    CHECK_MSG(strstr(ebm_last_error(), expect) != NULL, "'%s' lacks '%s'", ebm_last_error(), expect);
    CHECK(strstr(ebm_last_error(), "bad.idx") != NULL);
}

static void test_malformed(void) {
    uint8_t b[64] = {0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6};
    ebm_array *a;
    CHECK_OK(ebm_idx_parse(b, 18, "ok", &a));
    ebm_array_free(a);
    fails(b, 0, "truncated IDX header");
    fails(b, 3, "truncated IDX header");
    fails(b, 10, "truncated IDX header");
    fails(b, 17, "truncated: expected 6 bytes of data, found 5");
    fails(b, 12, "truncated: expected 6 bytes of data, found 0");
    fails(b, 20, "2 unexpected trailing bytes");
    b[1] = 8;
    fails(b, 18, "not an IDX file");
    b[1] = 0;
    b[2] = 0x0A;
    fails(b, 18, "unknown IDX data type 0x0a");
    b[2] = 0x08;
    b[3] = 0;
    fails(b, 18, "0 dimensions");
    b[3] = 9;
    fails(b, 64, "9 dimensions");
    b[3] = 255;
    fails(b, 64, "255 dimensions");
    /* 8 dims of 0xffffffff overflow */
    uint8_t o[36] = {0, 0, 0x0D, 8};
    memset(o + 4, 0xff, 32);
    fails(o, 36, "too large");
    /* (2^32-1)^2 bytes fit a 64-bit size_t (so the file is merely truncated); as f64 they do not */
    uint8_t big[12] = {0, 0, 0x08, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    fails(big, 12, sizeof(size_t) == 8 ? "truncated" : "too large");
    big[2] = 0x0E;
    fails(big, 12, "too large");
    /* a zero dimension with enormous others is empty, not an overflow */
    uint8_t z[16] = {0, 0, 0x08, 3, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 5};
    CHECK_OK(ebm_idx_parse(z, 16, "zero", &a));
    CHECK(a && ebm_array_numel(a) == 0 && a->shape[1] == 0xffffffffu);
    ebm_array_free(a);
    CHECK_FAILS(ebm_idx_parse(NULL, 5, "null", &a), EBM_EINVAL);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s", check_tmpdir("io_idx"));
    test_known_bytes();
    test_round_trips();
    test_gzip_by_content();
    test_write_errors();
    test_malformed();
    return check_summary("test_io_idx");
}
