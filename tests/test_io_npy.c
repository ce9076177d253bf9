/* NPY: the exact header numpy expects, round trips of every writable dtype and shape (scalar, 1-D, 3-D,
 * empty), hand-built files in versions 1.0/2.0/3.0 with big-endian data, Fortran order (transposed),
 * bool and Python 2 literals, and malformed files that must fail with EBM_EFORMAT. */
#include "check.h"
#include "io/io_internal.h"

static char dir[512];

/* A complete NPY image: magic, version, header (text as given, no padding added), data. */
static uint8_t *make_npy(int major, const char *header, const void *data, size_t data_len, size_t *len) {
    size_t hl = strlen(header), pre = major == 1 ? 10 : 12;
    *len = pre + hl + data_len;
    uint8_t *b = malloc(*len);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (uint8_t)major;
    b[7] = 0;
    if (major == 1)
        ebm_io_put_le16(b + 8, (uint16_t)hl);
    else
        ebm_io_put_le32(b + 8, (uint32_t)hl);
    memcpy(b + pre, header, hl);
    if (data_len) memcpy(b + pre + hl, data, data_len);
    return b;
}

static ebm_array *parse_ok(int major, const char *header, const void *data, size_t data_len) {
    size_t len;
    uint8_t *b = make_npy(major, header, data, data_len, &len);
    ebm_array *a = NULL;
    ebm_status s = ebm_npy_parse(b, len, "mem.npy", &a);
    CHECK_MSG(s == EBM_OK, "%s: %s", header, ebm_last_error());
    free(b);
    return a;
}

static void parse_fails(int major, const char *header, const void *data, size_t data_len, const char *expect) {
    size_t len;
    uint8_t *b = make_npy(major, header, data, data_len, &len);
    ebm_array *a = (ebm_array *)1;
    CHECK_FAILS(ebm_npy_parse(b, len, "bad.npy", &a), EBM_EFORMAT);
    CHECK(a == NULL);
    CHECK_MSG(strstr(ebm_last_error(), expect) && strstr(ebm_last_error(), "bad.npy"), "%s: '%s' lacks '%s'",
              header, ebm_last_error(), expect);
    free(b);
}

static bool same_array(const ebm_array *a, const ebm_array *b) {
    if (!a || !b || a->dtype != b->dtype || a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return memcmp(a->data, b->data, ebm_array_numel(a) * ebm_dtype_size(a->dtype)) == 0;
}

static void test_header_layout(void) {
    size_t shape[2] = {2, 3};
    ebm_array *a;
    REQUIRE(ebm_array_new(EBM_F32, 2, shape, NULL, &a) == EBM_OK);
    for (int i = 0; i < 6; i++) ((float *)a->data)[i] = (float)i - 2.5f;
    char p[600];
    snprintf(p, sizeof p, "%s/layout.npy", dir);
    CHECK_OK(ebm_npy_write(p, a));
    uint8_t *buf;
    size_t len;
    REQUIRE(ebm_read_file(p, 0, 1 << 20, &buf, &len) == EBM_OK);
    CHECK(memcmp(buf, "\x93NUMPY\x01\x00", 8) == 0);
    size_t hlen = ebm_io_get_le16(buf + 8);
    CHECK((10 + hlen) % 64 == 0 && buf[10 + hlen - 1] == '\n');
    static const char dict[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    CHECK(memcmp(buf + 10, dict, sizeof dict - 1) == 0);
    for (size_t i = 10 + sizeof dict - 1; i < 10 + hlen - 1; i++) CHECK(buf[i] == ' ');
    CHECK(len == 10 + hlen + 24);
    float f;
    memcpy(&f, buf + 10 + hlen + 4, 4);
    CHECK(f == -1.5f);
    free(buf);
    ebm_array_free(a);
}

static void test_round_trips(void) {
    static const ebm_dtype types[] = {EBM_U8, EBM_I8, EBM_I16, EBM_I32, EBM_I64, EBM_F16, EBM_F32, EBM_F64};
    static const size_t shapes[6][3] = {{0}, {5}, {3, 4}, {2, 3, 4}, {0, 3}, {1, 1, 1}};
    static const int ndims[6] = {0, 1, 2, 3, 2, 3};
    for (size_t t = 0; t < 8; t++)
        for (int s = 0; s < 6; s++) {
            ebm_array *a, *b = NULL;
            REQUIRE(ebm_array_new(types[t], ndims[s], shapes[s], NULL, &a) == EBM_OK);
            size_t bytes = ebm_array_numel(a) * ebm_dtype_size(types[t]);
            for (size_t i = 0; i < bytes; i++) ((uint8_t *)a->data)[i] = (uint8_t)(i * 73 + t * 5 + 1);
            char p[600];
            snprintf(p, sizeof p, "%s/rt-%d-%d.npy", dir, (int)t, s);
            CHECK_OK(ebm_npy_write(p, a));
            CHECK_OK(ebm_npy_read(p, &b));
            CHECK_MSG(same_array(a, b), "%s", p);
            ebm_array_free(a);
            ebm_array_free(b);
        }
    ebm_array *a;
    size_t two = 2;
    REQUIRE(ebm_array_new(EBM_BF16, 1, &two, NULL, &a) == EBM_OK);
    char p[600];
    snprintf(p, sizeof p, "%s/bf16.npy", dir);
    CHECK_FAILS(ebm_npy_write(p, a), EBM_EINVAL);
    ebm_array_free(a);
    snprintf(p, sizeof p, "%s/missing.npy", dir);
    CHECK_FAILS(ebm_npy_read(p, &a), EBM_EIO);
}

static void test_hand_built(void) {
    /* big-endian f4 and i2 */
    static const uint8_t be_f4[8] = {0x3f, 0xc0, 0, 0, 0xc1, 0x20, 0, 0}; /* 1.5, -10 */
    ebm_array *a = parse_ok(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", be_f4, 8);
    CHECK(a && a->dtype == EBM_F32 && ((float *)a->data)[0] == 1.5f && ((float *)a->data)[1] == -10.0f);
    ebm_array_free(a);
    static const uint8_t be_i2[4] = {0xff, 0xfe, 0x01, 0x00};
    a = parse_ok(1, "{'descr': '>i2', 'fortran_order': False, 'shape': (2,)}", be_i2, 4);
    CHECK(a && ((int16_t *)a->data)[0] == -2 && ((int16_t *)a->data)[1] == 256);
    ebm_array_free(a);
    static const uint8_t be_f8[8] = {0xc0, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18};
    a = parse_ok(2, "{'descr': '>f8', 'fortran_order': False, 'shape': ()}", be_f8, 8);
    CHECK(a && a->ndim == 0 && ((double *)a->data)[0] == -3.141592653589793);
    ebm_array_free(a);
    /* version 3.0, double quotes, reordered keys, Python 2 longs, no trailing newline */
    static const uint8_t le_i8[16] = {1, 0, 0, 0, 0, 0, 0, 0x80, 2, 0, 0, 0, 0, 0, 0, 0};
    a = parse_ok(3, "{\"shape\": (2L, 1L), \"descr\": \"<i8\", \"fortran_order\": False}", le_i8, 16);
    CHECK(a && a->ndim == 2 && a->shape[0] == 2 && a->shape[1] == 1 && ((int64_t *)a->data)[0] == INT64_MIN + 1);
    ebm_array_free(a);
    /* bool reads as u8; half */
    static const uint8_t bools[3] = {1, 0, 1};
    a = parse_ok(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", bools, 3);
    CHECK(a && a->dtype == EBM_U8 && ((uint8_t *)a->data)[2] == 1);
    ebm_array_free(a);
    static const uint8_t half[2] = {0x00, 0x3c};
    a = parse_ok(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }", half, 2);
    ebm_mat *m = NULL;
    CHECK(a && ebm_array_to_mat(a, &m) == EBM_OK && m->data[0] == 1.0f);
    ebm_mat_free(m);
    ebm_array_free(a);

    /* Fortran order: (2, 3) stored column-major becomes C order */
    static const int32_t f2[6] = {11, 21, 12, 22, 13, 23};
    a = parse_ok(1, "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }", f2, sizeof f2);
    static const int32_t c2[6] = {11, 12, 13, 21, 22, 23};
    CHECK(a && memcmp(a->data, c2, sizeof c2) == 0);
    ebm_array_free(a);
    /* (2, 3, 4) Fortran: element (i, j, k) stored at i + 2 j + 6 k, value 100 i + 10 j + k */
    uint16_t f3[24], want[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) {
                f3[i + 2 * j + 6 * k] = (uint16_t)(100 * i + 10 * j + k);
                want[i * 12 + j * 4 + k] = (uint16_t)(100 * i + 10 * j + k);
            }
    a = parse_ok(1, "{'descr': '<i2', 'fortran_order': True, 'shape': (2, 3, 4), }", f3, sizeof f3);
    CHECK(a && memcmp(a->data, want, sizeof want) == 0);
    ebm_array_free(a);
    /* Fortran order of a 1-D array is the same bytes */
    a = parse_ok(1, "{'descr': '<i4', 'fortran_order': True, 'shape': (6,), }", f2, sizeof f2);
    CHECK(a && memcmp(a->data, f2, sizeof f2) == 0);
    ebm_array_free(a);
}

static void test_malformed(void) {
    static const uint8_t d8[8] = {0};
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    ebm_array_free(parse_ok(1, ok, d8, 8));
    parse_fails(1, ok, d8, 7, "truncated: expected 8 bytes of data, found 7");
    parse_fails(1, ok, d8, 8 - 8, "truncated");
    size_t len;
    uint8_t *b = make_npy(1, ok, d8, 8, &len);
    uint8_t *longer = malloc(len + 3);
    memcpy(longer, b, len);
    memset(longer + len, 0, 3);
    ebm_array *a = (ebm_array *)1;
    CHECK_FAILS(ebm_npy_parse(longer, len + 3, "bad.npy", &a), EBM_EFORMAT);
    CHECK(strstr(ebm_last_error(), "3 unexpected trailing bytes") != NULL);
    free(longer);
    /* preamble faults */
    CHECK_FAILS(ebm_npy_parse(b, 5, "bad.npy", &a), EBM_EFORMAT);
    CHECK_FAILS(ebm_npy_parse(b, 9, "bad.npy", &a), EBM_EFORMAT);
    CHECK_FAILS(ebm_npy_parse(b, 40, "bad.npy", &a), EBM_EFORMAT);
    CHECK(strstr(ebm_last_error(), "truncated NPY header") != NULL);
    b[0] = 0x92;
    CHECK_FAILS(ebm_npy_parse(b, len, "bad.npy", &a), EBM_EFORMAT);
    CHECK(strstr(ebm_last_error(), "not an NPY file") != NULL);
    b[0] = 0x93;
    b[6] = 4;
    CHECK_FAILS(ebm_npy_parse(b, len, "bad.npy", &a), EBM_EFORMAT);
    CHECK(strstr(ebm_last_error(), "version 4.0") != NULL);
    b[6] = 1;
    b[7] = 1;
    CHECK_FAILS(ebm_npy_parse(b, len, "bad.npy", &a), EBM_EFORMAT);
    free(b);
    uint8_t v2short[11] = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0, 0, 0};
    CHECK_FAILS(ebm_npy_parse(v2short, 11, "bad.npy", &a), EBM_EFORMAT);

    /* header faults */
    parse_fails(1, "", d8, 8, "expected '{'");
    parse_fails(1, "{'descr': '<f4', 'fortran_order': False}", d8, 8, "missing key 'shape'");
    parse_fails(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", d8, 8, "unexpected key");
    parse_fails(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", d8, 8, "repeated");
    parse_fails(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (4,)}", d8, 8, "unsupported NPY dtype '<u2'");
    parse_fails(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}", d8, 8, "unsupported NPY dtype");
    parse_fails(1, "{'descr': '|f4', 'fortran_order': False, 'shape': (2,)}", d8, 8, "byte order");
    parse_fails(1, "{'descr': '|O', 'fortran_order': False, 'shape': (1,)}", d8, 8, "unsupported NPY dtype");
    parse_fails(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", d8, 8, "quoted string");
    parse_fails(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", d8, 8, "True or False");
    parse_fails(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", d8, 8, "tuple");
    parse_fails(1, "{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", d8, 8, "tuple");
    parse_fails(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", d8, 8, "non-negative");
    parse_fails(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2 2)}", d8, 8, "expected ','");
    parse_fails(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (,)}", d8, 8, "non-negative");
    parse_fails(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,2)}", d8, 8,
                "more than 8 dimensions");
    parse_fails(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}", d8, 8,
                "too large");
    parse_fails(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", d8, 8,
                "too large");
    parse_fails(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", d8, 8, "unexpected text");
    parse_fails(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", d8, 8, "expected ',' or '}'");
    parse_fails(1, "{'descr': '<f4\\n', 'fortran_order': False, 'shape': (2,)}", d8, 8, "unsupported character");
    parse_fails(1, "{'descr: '<f4', 'fortran_order': False, 'shape': (2,)}", d8, 8, "bad NPY header");
    parse_fails(1, "{descr: '<f4'}", d8, 8, "quoted string");
    CHECK_FAILS(ebm_npy_parse(NULL, 0, "empty", &a), EBM_EFORMAT);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s", check_tmpdir("io_npy"));
    test_header_layout();
    test_round_trips();
    test_hand_built();
    test_malformed();
    return check_summary("test_io_npy");
}
