/* PNG: round trips of 1-4 channel images; hand-assembled files (16-bit grey without gamma, palette with
 * transparency, 1-bit grey) decode to the expected 8-bit values; corrupt files (bad signature,
 * truncation, CRC error, garbage IDAT) fail with EBM_EFORMAT; the sample grid lays tiles out as
 * documented with each normalisation, NaN and infinities included. */
#include "check.h"
#include "io/io_internal.h"

#include <zlib.h>

static char dir[512];

/* ---- a minimal PNG assembler for fixtures libpng's simplified writer cannot make ---- */

static void put_chunk(ebm_buf *b, const char *type, const uint8_t *data, size_t n) {
    uint8_t len[4], crc[4];
    ebm_io_put_be32(len, (uint32_t)n);
    ebm_buf_put(b, len, 4);
    size_t at = b->len;
    ebm_buf_put(b, type, 4);
    if (n) ebm_buf_put(b, data, n);
    uLong c = crc32(0, (const Bytef *)b->data + at, (uInt)(n + 4));
    ebm_io_put_be32(crc, (uint32_t)c);
    ebm_buf_put(b, crc, 4);
}

/* raw: height scanlines of row_bytes each (filter byte 0 is prepended here). */
static ebm_buf make_png(uint32_t w, uint32_t h, int depth, int ctype, const uint8_t *raw, size_t row_bytes,
                        const uint8_t *plte, size_t plte_n, const uint8_t *trns, size_t trns_n) {
    ebm_buf b = {0};
    ebm_buf_put(&b, "\x89PNG\r\n\x1a\n", 8);
    uint8_t ihdr[13];
    ebm_io_put_be32(ihdr, w);
    ebm_io_put_be32(ihdr + 4, h);
    ihdr[8] = (uint8_t)depth;
    ihdr[9] = (uint8_t)ctype;
    ihdr[10] = ihdr[11] = ihdr[12] = 0;
    put_chunk(&b, "IHDR", ihdr, 13);
    if (plte) put_chunk(&b, "PLTE", plte, plte_n);
    if (trns) put_chunk(&b, "tRNS", trns, trns_n);
    size_t n = h * (row_bytes + 1);
    uint8_t *filtered = calloc(n, 1);
    for (uint32_t y = 0; y < h; y++) memcpy(filtered + y * (row_bytes + 1) + 1, raw + y * row_bytes, row_bytes);
    uLongf zn = compressBound((uLong)n);
    uint8_t *z = malloc(zn);
    REQUIRE(compress(z, &zn, filtered, (uLong)n) == Z_OK);
    put_chunk(&b, "IDAT", z, zn);
    put_chunk(&b, "IEND", NULL, 0);
    free(z);
    free(filtered);
    return b;
}

static ebm_array *read_buf(const ebm_buf *b) {
    ebm_array *a = NULL;
    ebm_status s = ebm_io_png_parse(b->data, b->len, "mem.png", 1 << 20, &a);
    CHECK_MSG(s == EBM_OK, "%s", ebm_last_error());
    return a;
}

static void test_round_trips(void) {
    static const size_t sizes[3][2] = {{1, 1}, {3, 5}, {17, 4}};
    for (int c = 1; c <= 4; c++)
        for (int s = 0; s < 3; s++) {
            size_t h = sizes[s][0], w = sizes[s][1], n = h * w * (size_t)c;
            uint8_t *px = malloc(n);
            for (size_t i = 0; i < n; i++) px[i] = (uint8_t)(i * 97 + (size_t)c * 13);
            char p[600];
            snprintf(p, sizeof p, "%s/rt-%d-%d.png", dir, c, s);
            CHECK_OK(ebm_png_write(p, px, h, w, c));
            ebm_array *a = NULL;
            CHECK_OK(ebm_png_read(p, &a));
            REQUIRE(a);
            CHECK(a->dtype == EBM_U8 && a->ndim == (c == 1 ? 2 : 3) && a->shape[0] == h && a->shape[1] == w);
            CHECK(c == 1 || a->shape[2] == (size_t)c);
            CHECK(memcmp(a->data, px, n) == 0);
            ebm_array_free(a);
            free(px);
        }
    uint8_t px[4] = {0};
    char p[600];
    snprintf(p, sizeof p, "%s/bad.png", dir);
    CHECK_FAILS(ebm_png_write(p, px, 2, 2, 0), EBM_EINVAL);
    CHECK_FAILS(ebm_png_write(p, px, 2, 2, 5), EBM_EINVAL);
    CHECK_FAILS(ebm_png_write(p, px, 0, 2, 1), EBM_EINVAL);
    CHECK_FAILS(ebm_png_write(p, px, 2, 2000000, 1), EBM_EINVAL);
    CHECK_FAILS(ebm_png_write(p, NULL, 2, 2, 1), EBM_EINVAL);
    snprintf(p, sizeof p, "%s/missing/x.png", dir);
    CHECK_FAILS(ebm_png_write(p, px, 2, 2, 1), EBM_EIO);
    ebm_array *a;
    CHECK_FAILS(ebm_png_read(p, &a), EBM_EIO);
}

static void test_other_depths(void) {
    /* 16-bit grey without gAMA: rescaled, not gamma-converted */
    uint8_t g16[6] = {0x00, 0x00, 0x80, 0x80, 0xff, 0xff};
    ebm_buf b = make_png(3, 1, 16, 0, g16, 6, NULL, 0, NULL, 0);
    ebm_array *a = read_buf(&b);
    CHECK(a && a->ndim == 2 && a->shape[0] == 1 && a->shape[1] == 3);
    if (a) CHECK(((uint8_t *)a->data)[0] == 0 && ((uint8_t *)a->data)[1] == 128 && ((uint8_t *)a->data)[2] == 255);
    ebm_array_free(a);
    ebm_buf_free(&b);

    /* palette with transparency: RGBA output */
    static const uint8_t plte[6] = {255, 0, 0, 0, 0, 255};
    static const uint8_t trns[1] = {0};
    static const uint8_t idx[2] = {0, 1};
    b = make_png(2, 1, 8, 3, idx, 2, plte, 6, trns, 1);
    a = read_buf(&b);
    CHECK(a && a->ndim == 3 && a->shape[2] == 4);
    static const uint8_t want_rgba[8] = {255, 0, 0, 0, 0, 0, 255, 255};
    if (a) CHECK(memcmp(a->data, want_rgba, 8) == 0);
    ebm_array_free(a);
    ebm_buf_free(&b);
    /* the same palette without tRNS: RGB */
    b = make_png(2, 1, 8, 3, idx, 2, plte, 6, NULL, 0);
    a = read_buf(&b);
    CHECK(a && a->ndim == 3 && a->shape[2] == 3);
    if (a) CHECK(memcmp(a->data, "\xff\x00\x00\x00\x00\xff", 6) == 0);
    ebm_array_free(a);
    ebm_buf_free(&b);

    /* 1-bit grey, 10 pixels in 2 bytes: 1 0 1 1 0 0 0 1 | 1 0 */
    static const uint8_t bits[2] = {0xb1, 0x80};
    b = make_png(10, 1, 1, 0, bits, 2, NULL, 0, NULL, 0);
    a = read_buf(&b);
    static const uint8_t want_bits[10] = {255, 0, 255, 255, 0, 0, 0, 255, 255, 0};
    CHECK(a && a->shape[1] == 10 && memcmp(a->data, want_bits, 10) == 0);
    ebm_array_free(a);
    ebm_buf_free(&b);

    /* 16-bit RGB becomes 8-bit RGB */
    static const uint8_t rgb16[6] = {0xff, 0xff, 0x00, 0x00, 0x80, 0x80};
    b = make_png(1, 1, 16, 2, rgb16, 6, NULL, 0, NULL, 0);
    a = read_buf(&b);
    CHECK(a && a->ndim == 3 && a->shape[2] == 3 && memcmp(a->data, "\xff\x00\x80", 3) == 0);
    ebm_array_free(a);
    ebm_buf_free(&b);
}

static void parse_fails(const void *buf, size_t len, const char *what) {
    ebm_array *a = (ebm_array *)1;
    CHECK_FAILS(ebm_io_png_parse(buf, len, "bad.png", 1 << 20, &a), EBM_EFORMAT);
    CHECK_MSG(a == NULL, "%s", what);
    CHECK(strstr(ebm_last_error(), "bad.png") != NULL);
    a = (ebm_array *)1;
    CHECK_FAILS(ebm_png_parse(buf, len, "bad.png", &a), EBM_EFORMAT); /* the public entry point */
    CHECK_MSG(a == NULL, "%s", what);
}

static void test_corrupt(void) {
    uint8_t px[64];
    for (int i = 0; i < 64; i++) px[i] = (uint8_t)(i * 4);
    ebm_buf b = make_png(8, 8, 8, 0, px, 8, NULL, 0, NULL, 0);
    ebm_array *a = read_buf(&b);
    CHECK(a && memcmp(a->data, px, 64) == 0);
    ebm_array_free(a);

    parse_fails(b.data, 0, "empty");
    parse_fails("not a png at all", 16, "signature");
    for (size_t cut = 8; cut < b.len; cut += 3) parse_fails(b.data, cut, "truncated");
    char *longer = malloc(b.len + 4);
    memcpy(longer, b.data, b.len);
    memcpy(longer + b.len, "junk", 4);
    parse_fails(longer, b.len + 4, "trailing junk");
    free(longer);
    char *bad = malloc(b.len);
    memcpy(bad, b.data, b.len);
    bad[8 + 8 + 3] ^= 1; /* IHDR height byte: CRC no longer matches */
    parse_fails(bad, b.len, "crc");
    memcpy(bad, b.data, b.len);
    bad[0] = 0;
    parse_fails(bad, b.len, "signature byte");
    /* IDAT payload replaced by garbage with a correct CRC */
    ebm_buf g = {0};
    ebm_buf_put(&g, b.data, 33); /* signature + IHDR */
    uint8_t junk[40];
    for (int i = 0; i < 40; i++) junk[i] = (uint8_t)(i * 53 + 7);
    put_chunk(&g, "IDAT", junk, 40);
    put_chunk(&g, "IEND", NULL, 0);
    parse_fails(g.data, g.len, "garbage IDAT");
    ebm_buf_free(&g);
    /* a header claiming 100000 x 100000 pixels is refused before any allocation */
    memcpy(bad, b.data, b.len);
    ebm_buf h = {0};
    uint8_t ihdr[13] = {0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 0, 0, 0, 0};
    ebm_buf_put(&h, "\x89PNG\r\n\x1a\n", 8);
    put_chunk(&h, "IHDR", ihdr, 13);
    ebm_buf_put(&h, b.data + 33, b.len - 33);
    parse_fails(h.data, h.len, "huge");
    CHECK(strstr(ebm_last_error(), "limit") != NULL);
    ebm_buf_free(&h);
    free(bad);

    char p[600];
    snprintf(p, sizeof p, "%s/corrupt.png", dir);
    check_write_bytes(p, b.data, b.len / 2);
    CHECK_FAILS(ebm_png_read(p, &a), EBM_EFORMAT);
    ebm_buf_free(&b);
}

static ebm_array *grid(const float *imgs, size_t n, size_t h, size_t w, const ebm_grid_opts *o) {
    char p[600];
    snprintf(p, sizeof p, "%s/grid.png", dir);
    ebm_array *a = NULL;
    CHECK_OK(ebm_png_grid(p, imgs, n, h, w, o));
    CHECK_OK(ebm_png_read(p, &a));
    return a;
}

static uint8_t px(const ebm_array *a, size_t y, size_t x) { return ((const uint8_t *)a->data)[y * a->shape[1] + x]; }

static void test_grid(void) {
    ebm_grid_opts o;
    ebm_grid_opts_default(&o);
    CHECK(o.cols == 0 && o.pad == 1 && o.zoom == 2 && o.norm == EBM_GRID_CLAMP && o.background == 128);

    /* 5 tiles of 2 x 3: 3 columns, 2 rows, zoom 2, pad 1 -> 20 x 9 */
    float t[5][6];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 6; j++) t[i][j] = (float)j / 5.0f;
    t[0][0] = NAN;
    t[0][1] = 1.7f;
    t[0][2] = -0.3f;
    t[1][0] = INFINITY;
    t[1][1] = -INFINITY;
    ebm_array *a = grid(&t[0][0], 5, 2, 3, NULL);
    REQUIRE(a && a->ndim == 2);
    CHECK(a->shape[0] == 9 && a->shape[1] == 20);
    CHECK(px(a, 0, 0) == 0 && px(a, 1, 1) == 0);     /* NaN, zoomed to 2 x 2 */
    CHECK(px(a, 0, 2) == 255 && px(a, 0, 4) == 0);   /* clipped */
    CHECK(px(a, 2, 0) == 153 && px(a, 3, 5) == 255); /* 0.6 -> 153, 1.0 -> 255 */
    CHECK(px(a, 0, 6) == 128);                       /* padding column */
    CHECK(px(a, 0, 7) == 255 && px(a, 0, 9) == 0);   /* +inf, -inf in tile 1 */
    CHECK(px(a, 4, 0) == 128);                       /* padding row */
    CHECK(px(a, 5, 0) == 0 && px(a, 5, 2) == 51);    /* tile 3 starts at row 5: 0 -> 0, 0.2 -> 51 */
    CHECK(px(a, 5, 14) == 128 && px(a, 8, 19) == 128); /* empty sixth slot is background */
    ebm_array_free(a);

    /* minmax per tile, one column, no zoom, no pad */
    o.cols = 1;
    o.zoom = 1;
    o.pad = 0;
    o.norm = EBM_GRID_MINMAX;
    float mm[2][3] = {{-1, 0, 3}, {5, 5, NAN}};
    a = grid(&mm[0][0], 2, 1, 3, &o);
    REQUIRE(a && a->shape[0] == 2 && a->shape[1] == 3);
    CHECK(px(a, 0, 0) == 0 && px(a, 0, 1) == 64 && px(a, 0, 2) == 255);
    CHECK(px(a, 1, 0) == 0 && px(a, 1, 2) == 0); /* a constant tile is black, NaN too */
    ebm_array_free(a);

    /* symmetric: 0 is mid-grey, the largest |value| black or white */
    o.norm = EBM_GRID_SYMMETRIC;
    o.cols = 5; /* more columns than tiles: clamped to 2 */
    o.pad = 2;
    o.background = 7;
    float sy[2][4] = {{-2, 0, 1, 2}, {0, 0, 0, 0}};
    a = grid(&sy[0][0], 2, 1, 4, &o);
    REQUIRE(a && a->shape[0] == 1 && a->shape[1] == 10);
    CHECK(px(a, 0, 0) == 0 && px(a, 0, 1) == 128 && px(a, 0, 2) == 191 && px(a, 0, 3) == 255);
    CHECK(px(a, 0, 4) == 7 && px(a, 0, 5) == 7);
    CHECK(px(a, 0, 6) == 128 && px(a, 0, 9) == 128);
    ebm_array_free(a);

    /* cols = 0 picks ceil(sqrt(n)): 10 tiles -> 4 columns, 3 rows */
    float ten[10] = {0};
    ebm_grid_opts_default(&o);
    o.zoom = 1;
    o.pad = 0;
    a = grid(ten, 10, 1, 1, &o);
    CHECK(a && a->shape[0] == 3 && a->shape[1] == 4);
    ebm_array_free(a);

    char p[600];
    snprintf(p, sizeof p, "%s/g.png", dir);
    CHECK_FAILS(ebm_png_grid(p, ten, 0, 1, 1, NULL), EBM_EINVAL);
    CHECK_FAILS(ebm_png_grid(p, ten, 1, 0, 1, NULL), EBM_EINVAL);
    CHECK_FAILS(ebm_png_grid(p, NULL, 1, 1, 1, NULL), EBM_EINVAL);
    o.zoom = 0;
    CHECK_FAILS(ebm_png_grid(p, ten, 1, 1, 1, &o), EBM_EINVAL);
    o.zoom = 1;
    o.norm = (ebm_grid_norm)9;
    CHECK_FAILS(ebm_png_grid(p, ten, 1, 1, 1, &o), EBM_EINVAL);
    ebm_grid_opts_default(&o);
    o.zoom = 20000;
    CHECK_FAILS(ebm_png_grid(p, ten, 1, 1, 1, &o), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "16384") != NULL);
    o.zoom = SIZE_MAX / 2;
    CHECK_FAILS(ebm_png_grid(p, ten, 1, 1, 1, &o), EBM_EINVAL);
    o.zoom = 1;
    o.pad = SIZE_MAX;
    CHECK_FAILS(ebm_png_grid(p, ten, 2, 1, 1, &o), EBM_EINVAL);
    CHECK_FAILS(ebm_png_grid(p, ten, SIZE_MAX / 2, 4, 1, NULL), EBM_EINVAL);
}

/* A picture beyond a consumer's pixel limit is refused from its header, before any decoding: the file
 * here declares 30000 x 30000 grey pixels (900 MB decoded, under the reader's 1 GiB) in a few dozen bytes. */
static void test_pixel_limit(void) {
    ebm_buf b = {0};
    ebm_buf_put(&b, "\x89PNG\r\n\x1a\n", 8);
    uint8_t ihdr[13] = {0};
    ebm_io_put_be32(ihdr, 30000);
    ebm_io_put_be32(ihdr + 4, 30000);
    ihdr[8] = 8;
    put_chunk(&b, "IHDR", ihdr, 13);
    uint8_t row[64] = {0}, z[128];
    uLongf zn = sizeof z;
    REQUIRE(compress(z, &zn, row, sizeof row) == Z_OK); /* the start of the first scanlines: decoding would
                                                            stop short, the header check comes first */
    put_chunk(&b, "IDAT", z, zn);
    put_chunk(&b, "IEND", NULL, 0);
    char path[600];
    snprintf(path, sizeof path, "%s/huge.png", dir);
    FILE *f = fopen(path, "wb");
    REQUIRE(f && fwrite(b.data, 1, b.len, f) == b.len && fclose(f) == 0);
    ebm_buf_free(&b);
    ebm_array *a = (ebm_array *)1;
    CHECK_FAILS(ebm_png_read_max(path, (size_t)1 << 24, &a), EBM_EFORMAT);
    CHECK(a == NULL);
    CHECK_MSG(strstr(ebm_last_error(), "huge.png: PNG of 30000 x 30000 pixels is larger than the limit of 16777216 "
                                       "pixels"), "message: %s", ebm_last_error());
    /* an image within the limit reads as ebm_png_read reads it; exactly at the limit is allowed */
    uint8_t px[6] = {0, 50, 100, 150, 200, 250};
    snprintf(path, sizeof path, "%s/small.png", dir);
    CHECK_OK(ebm_png_write(path, px, 2, 3, 1));
    CHECK_OK(ebm_png_read_max(path, 6, &a));
    CHECK(a && a->ndim == 2 && a->shape[0] == 2 && a->shape[1] == 3 && memcmp(a->data, px, 6) == 0);
    ebm_array_free(a);
    CHECK_FAILS(ebm_png_read_max(path, 5, &a), EBM_EFORMAT);
    CHECK_OK(ebm_png_read_max(path, 0, &a)); /* 0: no pixel limit */
    ebm_array_free(a);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s", check_tmpdir("io_png"));
    test_round_trips();
    test_other_depths();
    test_corrupt();
    test_grid();
    test_pixel_limit();
    return check_summary("test_io_png");
}
