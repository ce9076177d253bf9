/* safetensors: the tensor container (put/get/names/metadata), the exact bytes of a small file, round
 * trips of every dtype and shape with Unicode metadata, hand-built headers that are valid (reordered
 * offsets, zero-size tensors, empty file) and a long list of malformed ones that must fail with
 * EBM_EFORMAT: bad lengths, bad JSON, wrong fields, unsupported dtypes, offsets out of range,
 * overlapping, leaving holes or not covering the buffer, duplicates and non-string metadata. */
#include "check.h"
#include "io/io_internal.h"

static char dir[512];

static uint8_t *make_st(const char *header, const void *data, size_t data_len, size_t *len) {
    size_t hl = strlen(header);
    *len = 8 + hl + data_len;
    uint8_t *b = malloc(*len);
    ebm_io_put_le64(b, hl);
    memcpy(b + 8, header, hl);
    if (data_len) memcpy(b + 8 + hl, data, data_len);
    return b;
}

static ebm_tensors *parse_ok(const char *header, const void *data, size_t data_len) {
    size_t len;
    uint8_t *b = make_st(header, data, data_len, &len);
    ebm_tensors *t = NULL;
    ebm_status s = ebm_safetensors_parse(b, len, "mem", &t);
    CHECK_MSG(s == EBM_OK, "%s: %s", header, ebm_last_error());
    free(b);
    return t;
}

static void parse_fails(const char *header, size_t data_len, const char *expect) {
    static const uint8_t zeros[256] = {0};
    size_t len;
    uint8_t *b = make_st(header, zeros, data_len, &len);
    ebm_tensors *t = (ebm_tensors *)1;
    CHECK_FAILS(ebm_safetensors_parse(b, len, "bad.safetensors", &t), EBM_EFORMAT);
    CHECK(t == NULL);
    CHECK_MSG(strstr(ebm_last_error(), expect) && strstr(ebm_last_error(), "bad.safetensors"),
              "%s: '%s' lacks '%s'", header, ebm_last_error(), expect);
    free(b);
}

static void test_container(void) {
    ebm_tensors *t;
    CHECK_OK(ebm_tensors_new(&t));
    CHECK(ebm_tensors_count(t) == 0 && ebm_tensors_get(t, "W") == NULL && ebm_tensors_name(t, 0) == NULL);
    float w[6] = {1, 2, 3, 4, 5, 6};
    size_t shape[2] = {2, 3};
    CHECK_OK(ebm_tensors_put(t, "W", EBM_F32, 2, shape, w));
    w[0] = 99; /* put copied */
    CHECK_OK(ebm_tensors_put(t, "b", EBM_F64, 1, shape, NULL));
    CHECK_FAILS(ebm_tensors_put(t, "W", EBM_F32, 2, shape, w), EBM_EINVAL);
    CHECK_FAILS(ebm_tensors_put(t, "__metadata__", EBM_F32, 2, shape, w), EBM_EINVAL);
    CHECK_FAILS(ebm_tensors_put(t, "bad\xfe", EBM_F32, 2, shape, w), EBM_EINVAL);
    CHECK_FAILS(ebm_tensors_put(t, NULL, EBM_F32, 2, shape, w), EBM_EINVAL);
    CHECK_FAILS(ebm_tensors_put(t, "z", EBM_F32, 9, shape, w), EBM_EINVAL);
    CHECK(ebm_tensors_count(t) == 2);
    const ebm_array *a = ebm_tensors_get(t, "W");
    CHECK(a && a->dtype == EBM_F32 && a->ndim == 2 && ((float *)a->data)[0] == 1 && ((float *)a->data)[5] == 6);
    a = ebm_tensors_get(t, "b");
    CHECK(a && a->ndim == 1 && a->shape[0] == 2 && ((double *)a->data)[1] == 0.0);
    CHECK(strcmp(ebm_tensors_name(t, 1), "b") == 0 && ebm_tensors_name(t, 2) == NULL);
    CHECK(ebm_tensors_meta(t) == ebm_tensors_meta_const(t) && ebm_meta_count(ebm_tensors_meta_const(t)) == 0);
    ebm_tensors_free(t);
    ebm_tensors_free(NULL);
}

static void test_exact_bytes(void) {
    ebm_tensors *t;
    REQUIRE(ebm_tensors_new(&t) == EBM_OK);
    float w[2] = {1.0f, -2.0f};
    size_t two = 2;
    REQUIRE(ebm_tensors_put(t, "W", EBM_F32, 1, &two, w) == EBM_OK);
    REQUIRE(ebm_meta_set(ebm_tensors_meta(t), "ebm.model", "rbm") == EBM_OK);
    char p[600];
    snprintf(p, sizeof p, "%s/exact.safetensors", dir);
    CHECK_OK(ebm_safetensors_write(p, t));
    static const char hdr[] =
        "{\"__metadata__\":{\"ebm.model\":\"rbm\"},\"W\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t hl = sizeof hdr - 1, padded = (hl + 7) / 8 * 8;
    uint8_t *buf;
    size_t len;
    REQUIRE(ebm_read_file(p, 0, 1 << 20, &buf, &len) == EBM_OK);
    CHECK(len == 8 + padded + 8 && ebm_io_get_le64(buf) == padded);
    CHECK(memcmp(buf + 8, hdr, hl) == 0);
    for (size_t i = hl; i < padded; i++) CHECK(buf[8 + i] == ' ');
    CHECK(memcmp(buf + 8 + padded, "\x00\x00\x80\x3f\x00\x00\x00\xc0", 8) == 0);
    free(buf);
    ebm_tensors_free(t);

    /* no metadata: no __metadata__ key; no tensors: "{}" padded */
    REQUIRE(ebm_tensors_new(&t) == EBM_OK);
    CHECK_OK(ebm_safetensors_write(p, t));
    REQUIRE(ebm_read_file(p, 0, 1 << 20, &buf, &len) == EBM_OK);
    CHECK(len == 16 && ebm_io_get_le64(buf) == 8 && memcmp(buf + 8, "{}      ", 8) == 0);
    free(buf);
    ebm_tensors *r = NULL;
    CHECK_OK(ebm_safetensors_read(p, &r));
    CHECK(r && ebm_tensors_count(r) == 0);
    ebm_tensors_free(r);
    ebm_tensors_free(t);
}

static void test_round_trip(void) {
    ebm_tensors *t;
    REQUIRE(ebm_tensors_new(&t) == EBM_OK);
    static const size_t shapes[5][3] = {{0}, {7}, {3, 2}, {2, 3, 4}, {0, 4}};
    static const int ndims[5] = {0, 1, 2, 3, 2};
    char name[64];
    for (int d = 0; d <= EBM_F64; d++)
        for (int s = 0; s < 5; s++) {
            ebm_array *a;
            REQUIRE(ebm_array_new((ebm_dtype)d, ndims[s], shapes[s], NULL, &a) == EBM_OK);
            size_t bytes = ebm_array_numel(a) * ebm_dtype_size(a->dtype);
            for (size_t i = 0; i < bytes; i++) ((uint8_t *)a->data)[i] = (uint8_t)(i * 29 + (size_t)d * 7 + (size_t)s);
            snprintf(name, sizeof name, "layers.%d.%s/\u00e9", s, ebm_dtype_name((ebm_dtype)d));
            CHECK_OK(ebm_tensors_put(t, name, a->dtype, a->ndim, a->shape, a->data));
            ebm_array_free(a);
        }
    ebm_meta *m = ebm_tensors_meta(t);
    CHECK_OK(ebm_meta_set(m, "ebm.model", "rbm"));
    CHECK_OK(ebm_meta_set(m, "ebm.version", "0.1.0"));
    CHECK_OK(ebm_meta_set(m, "quote\"back\\slash", "line\nbreak\ttab \x01 \xe2\x9c\x93 \xf0\x9f\x98\x80"));
    CHECK_OK(ebm_meta_set(m, "", ""));
    char p[600];
    snprintf(p, sizeof p, "%s/rt.safetensors", dir);
    CHECK_OK(ebm_safetensors_write(p, t));
    ebm_tensors *r = NULL;
    CHECK_OK(ebm_safetensors_read(p, &r));
    REQUIRE(r);
    CHECK(ebm_tensors_count(r) == ebm_tensors_count(t));
    for (size_t i = 0; i < ebm_tensors_count(t); i++) {
        const char *nm = ebm_tensors_name(t, i);
        CHECK(strcmp(nm, ebm_tensors_name(r, i)) == 0);
        const ebm_array *a = ebm_tensors_get(t, nm), *b = ebm_tensors_get(r, nm);
        REQUIRE(b);
        bool same = a->dtype == b->dtype && a->ndim == b->ndim;
        for (int k = 0; k < a->ndim && same; k++) same = a->shape[k] == b->shape[k];
        same = same && memcmp(a->data, b->data, ebm_array_numel(a) * ebm_dtype_size(a->dtype)) == 0;
        CHECK_MSG(same, "%s", nm);
    }
    const ebm_meta *rm = ebm_tensors_meta_const(r);
    CHECK(ebm_meta_count(rm) == 4);
    for (size_t i = 0; i < 4; i++) {
        const char *k1, *v1, *k2, *v2;
        ebm_meta_at(m, i, &k1, &v1);
        ebm_meta_at(rm, i, &k2, &v2);
        CHECK(strcmp(k1, k2) == 0 && strcmp(v1, v2) == 0);
    }
    ebm_tensors_free(r);

    /* writing over an existing file replaces it; a missing directory fails */
    ebm_tensors *small;
    REQUIRE(ebm_tensors_new(&small) == EBM_OK);
    CHECK_OK(ebm_safetensors_write(p, small));
    CHECK_OK(ebm_safetensors_read(p, &r));
    CHECK(r && ebm_tensors_count(r) == 0);
    ebm_tensors_free(r);
    snprintf(p, sizeof p, "%s/none/x.safetensors", dir);
    CHECK_FAILS(ebm_safetensors_write(p, small), EBM_EIO);
    CHECK_FAILS(ebm_safetensors_read(p, &r), EBM_EIO);
    ebm_tensors_free(small);
    ebm_tensors_free(t);
}

static void test_valid_variants(void) {
    float d[4] = {1, 2, 3, 4};
    /* offsets in a different order from the header; whitespace and an empty metadata object */
    ebm_tensors *t = parse_ok("{\"b\": {\"shape\": [1], \"dtype\": \"F32\", \"data_offsets\": [12, 16]},\n"
                              "  \"__metadata__\": {},  \"a\": {\"dtype\": \"F32\", \"shape\": [3], "
                              "\"data_offsets\": [0, 12]}}   ",
                              d, 16);
    CHECK(t && ebm_tensors_count(t) == 2 && strcmp(ebm_tensors_name(t, 0), "b") == 0);
    if (t) CHECK(((float *)ebm_tensors_get(t, "b")->data)[0] == 4 && ((float *)ebm_tensors_get(t, "a")->data)[2] == 3);
    ebm_tensors_free(t);
    /* zero-size tensors may share an offset, even at the end */
    t = parse_ok("{\"e\":{\"dtype\":\"I64\",\"shape\":[0,5],\"data_offsets\":[4,4]},"
                 "\"s\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]},"
                 "\"f\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,4]}}",
                 d, 4);
    CHECK(t && ebm_tensors_count(t) == 3 && ebm_tensors_get(t, "s")->ndim == 0);
    ebm_tensors_free(t);
    t = parse_ok("{}", NULL, 0);
    CHECK(t && ebm_tensors_count(t) == 0);
    ebm_tensors_free(t);
    /* Unicode escapes in names and metadata */
    t = parse_ok("{\"__metadata__\":{\"k\\u00e9\":\"\\ud83d\\ude00\"},\"\\u0057\":{\"dtype\":\"BF16\",\"shape\":[2],"
                 "\"data_offsets\":[0,4]}}",
                 d, 4);
    CHECK(t && ebm_tensors_get(t, "W") && strcmp(ebm_meta_get(ebm_tensors_meta_const(t), "k\xc3\xa9"),
                                                   "\xf0\x9f\x98\x80") == 0);
    ebm_tensors_free(t);
}

static void test_malformed(void) {
    const char *T = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    ebm_tensors_free(parse_ok(T, "01234567", 8));
    /* lengths */
    ebm_tensors *t = (ebm_tensors *)1;
    CHECK_FAILS(ebm_safetensors_parse("\x02\0\0\0\0\0\0", 7, "bad.safetensors", &t), EBM_EFORMAT);
    CHECK_FAILS(ebm_safetensors_parse(NULL, 0, "bad.safetensors", &t), EBM_EFORMAT);
    size_t len;
    uint8_t *b = make_st(T, "01234567", 8, &len);
    ebm_io_put_le64(b, len - 7);
    CHECK_FAILS(ebm_safetensors_parse(b, len, "bad.safetensors", &t), EBM_EFORMAT);
    CHECK(strstr(ebm_last_error(), "exceeds") != NULL);
    ebm_io_put_le64(b, UINT64_MAX);
    CHECK_FAILS(ebm_safetensors_parse(b, len, "bad.safetensors", &t), EBM_EFORMAT);
    ebm_io_put_le64(b, 0);
    CHECK_FAILS(ebm_safetensors_parse(b, len, "bad.safetensors", &t), EBM_EFORMAT);
    ebm_io_put_le64(b, strlen(T) - 1); /* header cut before its closing brace */
    CHECK_FAILS(ebm_safetensors_parse(b, len, "bad.safetensors", &t), EBM_EFORMAT);
    free(b);
    parse_fails(T, 7, "lie outside the 7-byte buffer");
    parse_fails(T, 9, "the last 1 bytes of the buffer belong to no tensor");

    /* JSON */
    parse_fails("[]", 0, "does not start with '{'");
    parse_fails(" {}", 0, "does not start with '{'");
    parse_fails("{", 0, "JSON at byte 1");
    parse_fails("{\"x\":1,}", 0, "JSON");
    parse_fails("{} x", 0, "unexpected data after");
    parse_fails("{\"a\":\"\xff\"}", 0, "UTF-8");

    /* tensor entries */
    parse_fails("{\"x\":[1,2]}", 0, "tensor 'x' must be an object");
    parse_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "tensor 'x': missing field 'data_offsets'");
    parse_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1}}", 8,
                "tensor 'x': unexpected field 'extra'");
    parse_fails("{\"x\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                "repeated field");
    parse_fails("{\"x\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2,
                "tensor 'x': unsupported dtype BOOL");
    parse_fails("{\"x\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, "unsupported dtype F8_E4M3");
    parse_fails("{\"x\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2, "unsupported dtype U16");
    parse_fails("{\"x\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unsupported dtype f32");
    parse_fails("{\"x\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype must be a string");
    parse_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, "shape must be an array");
    parse_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "non-negative");
    parse_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, "non-negative");
    parse_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, "non-negative");
    parse_fails("{\"x\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
                "9 dimensions");
    parse_fails("{\"x\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8,
                "too large");
    parse_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8, "two non-negative");
    parse_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "two non-negative");
    parse_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, "two non-negative");
    parse_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "reversed");
    parse_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", 8, "outside the 8-byte buffer");
    parse_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551615]}}", 8,
                "two non-negative");
    parse_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                "data_offsets span 8 bytes, but f32 of shape (3,) needs 12");

    /* layout: overlap, holes, uncovered buffer */
    parse_fails("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                12, "overlaps");
    parse_fails("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                8, "overlaps");
    parse_fails("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                12, "bytes 4..8 of the buffer belong to no tensor");
    parse_fails("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                "bytes 0..4 of the buffer belong to no tensor");
    parse_fails("{}", 8, "the last 8 bytes");

    /* names and metadata */
    parse_fails("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
                2, "duplicate tensor name 'a'");
    parse_fails("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__ appears twice");
    parse_fails("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__: value of 'k' is a number, not a string");
    parse_fails("{\"__metadata__\":{\"k\":null}}", 0, "not a string");
    parse_fails("{\"__metadata__\":{\"k\":{\"nested\":\"x\"}}}", 0, "not a string");
    parse_fails("{\"__metadata__\":[\"k\"]}", 0, "__metadata__ must be an object");
    parse_fails("{\"__metadata__\":\"x\"}", 0, "__metadata__ must be an object");
    parse_fails("{\"__metadata__\":{\"k\":\"a\\u0000b\"}}", 0, "NUL");
    parse_fails("{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "NUL");
    char deep[300] = "{\"__metadata__\":";
    size_t n = strlen(deep);
    for (int i = 0; i < 70; i++) deep[n++] = '[';
    for (int i = 0; i < 70; i++) deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    parse_fails(deep, 0, "nesting");
}

int main(void) {
    snprintf(dir, sizeof dir, "%s", check_tmpdir("io_safetensors"));
    test_container();
    test_exact_bytes();
    test_round_trip();
    test_valid_variants();
    test_malformed();
    return check_summary("test_io_safetensors");
}
