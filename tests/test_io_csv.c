/* CSV: delimiter detection, header rows, quoting, CRLF, BOM, comments and trailing blank lines; exact
 * error messages for ragged rows and non-numeric, non-finite or out-of-range fields; and a bit-exact
 * round trip of float32 values (subnormals, extremes, -0) through "%.9g". */
#include "check.h"
#include "io/io_internal.h"

#include <float.h>

static char dir[512];

static ebm_mat *parse_ok(const char *text, size_t rows, size_t cols) {
    ebm_mat *m = NULL;
    ebm_status s = ebm_csv_parse(text, strlen(text), "t.csv", &m);
    CHECK_MSG(s == EBM_OK, "%s: %s", text, ebm_last_error());
    if (m) CHECK_MSG(m->rows == rows && m->cols == cols, "%s: got %zu x %zu", text, m->rows, m->cols);
    return m;
}

static bool values(const ebm_mat *m, const float *want, size_t n) {
    if (!m || m->rows * m->cols != n) return false;
    for (size_t i = 0; i < n; i++)
        if (m->data[i] != want[i]) return false;
    return true;
}

static void parse_fails(const char *text, const char *expect) {
    ebm_mat *m = (ebm_mat *)1;
    CHECK_FAILS(ebm_csv_parse(text, strlen(text), "t.csv", &m), EBM_EFORMAT);
    CHECK(m == NULL);
    CHECK_MSG(strcmp(ebm_last_error(), expect) == 0, "got '%s', want '%s'", ebm_last_error(), expect);
}

static void test_dialects(void) {
    static const float six[6] = {1, 2, 3, 4, 5, 6};
    ebm_mat *m = parse_ok("1,2,3\n4,5,6\n", 2, 3);
    CHECK(values(m, six, 6));
    ebm_mat_free(m);
    m = parse_ok("1,2,3\n4,5,6", 2, 3); /* no final newline */
    CHECK(values(m, six, 6));
    ebm_mat_free(m);
    m = parse_ok("x,y,z\n1,2,3\r\n4,5,6\r\n\r\n\n  \n", 2, 3);
    CHECK(values(m, six, 6));
    ebm_mat_free(m);
    m = parse_ok("1;2;3\n4;5;6\n", 2, 3);
    CHECK(values(m, six, 6));
    ebm_mat_free(m);
    m = parse_ok("a\tb\tc\n1\t2\t3\n4\t 5 \t6\n", 2, 3);
    CHECK(values(m, six, 6));
    ebm_mat_free(m);
    m = parse_ok("\xef\xbb\xbf\"one\",\"two, with comma\",\"say \"\"hi\"\"\"\n\"1\", 2 ,\" 3 \"\n4,5,6\n", 2, 3);
    CHECK(values(m, six, 6));
    ebm_mat_free(m);
    m = parse_ok("# written by numpy.savetxt\n# a,b,c\n1,2,3\n  # a comment\n4,5,6\n", 2, 3);
    CHECK(values(m, six, 6));
    ebm_mat_free(m);
    /* number syntax */
    static const float nums[8] = {-1.5f, 0.5f, 1.0f, 3.0f, 2.5e-3f, -7e10f, 0.0f, 123456789.0f};
    m = parse_ok("-1.5,.5,1.,+3,2.5E-3,-7e+10,-0,123456789\n", 1, 8);
    CHECK(values(m, nums, 8) && signbit(m->data[6]));
    ebm_mat_free(m);
    /* a single column; a header with no data rows */
    m = parse_ok("7\n8\n9\n", 3, 1);
    CHECK(m && m->data[2] == 9.0f);
    ebm_mat_free(m);
    m = parse_ok("a,b\n", 0, 2);
    ebm_mat_free(m);
    m = parse_ok("1.5.5\n", 0, 1); /* not a number, so a header */
    ebm_mat_free(m);
    /* tab wins over comma and semicolon when the first line has tabs */
    m = parse_ok("name\tcomment; with, punctuation\n1\t2\n", 1, 2);
    ebm_mat_free(m);
    /* underflow to a subnormal or zero is not an error */
    m = parse_ok("1e-40,1e-50\n", 1, 2);
    CHECK(m && m->data[0] > 0 && m->data[0] < FLT_MIN && m->data[1] == 0.0f);
    ebm_mat_free(m);
}

static void test_errors(void) {
    parse_fails("a,b,c,d\n1,2,3,4\n1,2,3,4\n1,2,3,4\n1,2,3,4\n1,2,3,4\n1,2,3,4,5\n",
                "t.csv: line 7 has 5 fields, expected 4");
    parse_fails("1,2,3,4\n1,2,3\n", "t.csv: line 2 has 3 fields, expected 4");
    parse_fails("1,2,3\n1,2,3,\n", "t.csv: line 2 has 4 fields, expected 3");
    parse_fails("a,b,c\n1,2,3\n1,2,3\n1,2,3\n1,2,3\n1,2,3\n1,2,3\n1,2,3\n1,2,abc\n",
                "t.csv: line 9, field 3: 'abc' is not a number");
    parse_fails("x,y\n1,2\nx,y\n", "t.csv: line 3, field 1: 'x' is not a number");
    parse_fails("1,nan\n", "t.csv: line 1, field 2: 'nan' is not a finite number");
    parse_fails("a,b\n1,-Infinity\n", "t.csv: line 2, field 2: '-Infinity' is not a finite number");
    parse_fails("a,b\ninf,1\n", "t.csv: line 2, field 1: 'inf' is not a finite number");
    parse_fails("1,1e39\n", "t.csv: line 1, field 2: '1e39' is outside the range of float32");
    parse_fails("1,,3\n", "t.csv: line 1, field 2: '' is not a number");
    parse_fails("a,b\n1,0x10\n", "t.csv: line 2, field 2: '0x10' is not a number");
    parse_fails("1,2\n\n3,4\n", "t.csv: line 2 is empty");
    parse_fails("\n1,2\n", "t.csv: line 1 is empty");
    parse_fails("", "t.csv: no data in CSV");
    parse_fails("\n\n  \r\n", "t.csv: no data in CSV");
    parse_fails("# only a comment\n", "t.csv: no data in CSV");
    parse_fails("1,\"2\n", "t.csv: line 1, field 2: unterminated quote");
    parse_fails("1,\"2\"x\n", "t.csv: line 1, field 2: text after the closing quote");
    parse_fails("a,b\n1,\"2\"\"\"\n", "t.csv: line 2, field 2: '2\"\"' is not a number");
}

static void test_long_field(void) {
    char text[400];
    memset(text, '1', 300);
    memcpy(text + 300, ".5\n", 4);
    ebm_mat *m = (ebm_mat *)1;
    CHECK_FAILS(ebm_csv_parse(text, strlen(text), "t.csv", &m), EBM_EFORMAT);
    CHECK(strstr(ebm_last_error(), "too long") != NULL);
    char name[300];
    memset(name, 'n', 200);
    memcpy(name + 200, "\n1\n", 4);
    m = NULL;
    CHECK_OK(ebm_csv_parse(name, strlen(name), "t.csv", &m));
    CHECK(m && m->rows == 1 && m->cols == 1);
    ebm_mat_free(m);
}

static void test_round_trip(void) {
    ebm_mat *m, *r = NULL;
    REQUIRE(ebm_mat_new(50, 7, &m) == EBM_OK);
    uint32_t x = 12345;
    for (size_t i = 0; i < 350; i++) {
        x = x * 1664525u + 1013904223u;
        uint32_t bits = x & 0xff7fffffu; /* clear an exponent bit: never inf or NaN */
        memcpy(&m->data[i], &bits, 4);
    }
    static const float special[] = {0.0f, -0.0f, FLT_MAX, -FLT_MAX, FLT_MIN, 1e-45f, -1e-45f, 0.1f, 1.0f / 3};
    memcpy(m->data, special, sizeof special);
    char p[600];
    snprintf(p, sizeof p, "%s/rt.csv", dir);
    CHECK_OK(ebm_csv_write(p, m));
    CHECK_OK(ebm_csv_read(p, &r));
    REQUIRE(r && r->rows == 50 && r->cols == 7);
    CHECK(memcmp(r->data, m->data, 350 * sizeof(float)) == 0);
    ebm_mat_free(r);

    uint8_t *buf;
    size_t len;
    REQUIRE(ebm_read_file(p, 0, 1 << 20, &buf, &len) == EBM_OK);
    static const char first[] = "0,-0,3.40282347e+38,-3.40282347e+38,1.17549435e-38,1.40129846e-45,-1.40129846e-45\n"
                                "0.100000001,0.333333343,";
    CHECK(len > sizeof first && memcmp(buf, first, sizeof first - 1) == 0);
    free(buf);

    m->data[5 * 7 + 3] = NAN;
    CHECK_FAILS(ebm_csv_write(p, m), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "row 5, column 3 is not finite") != NULL);
    ebm_mat_free(m);
    REQUIRE(ebm_mat_new(0, 3, &m) == EBM_OK);
    CHECK_FAILS(ebm_csv_write(p, m), EBM_EINVAL);
    ebm_mat_free(m);
    snprintf(p, sizeof p, "%s/none/x.csv", dir);
    REQUIRE(ebm_mat_new(1, 1, &m) == EBM_OK);
    CHECK_FAILS(ebm_csv_write(p, m), EBM_EIO);
    CHECK_FAILS(ebm_csv_read(p, &r), EBM_EIO);
    ebm_mat_free(m);
}

/* The writer's fast path for integers prints exactly what "%.9g" prints. */
static void test_integer_text(void) {
    static const float v[] = {0, -0.0f, 1, -1, 255, 16777216.0f, 16777218.0f, -123456792.0f, 999999936.0f,
                              -999999936.0f, 1e9f, 2147483520.0f, 0.5f, -2.5f};
    enum { N = sizeof v / sizeof v[0] };
    ebm_mat *m;
    REQUIRE(ebm_mat_new(N, 1, &m) == EBM_OK);
    memcpy(m->data, v, sizeof v);
    char p[600], want[1000] = "";
    snprintf(p, sizeof p, "%s/ints.csv", dir);
    CHECK_OK(ebm_csv_write(p, m));
    for (int i = 0; i < N; i++) snprintf(want + strlen(want), sizeof want - strlen(want), "%.9g\n", (double)v[i]);
    uint8_t *buf;
    size_t len;
    REQUIRE(ebm_read_file(p, 0, 1 << 20, &buf, &len) == EBM_OK);
    CHECK_MSG(len == strlen(want) && memcmp(buf, want, len) == 0, "%.*s", (int)len, (char *)buf);
    free(buf);
    ebm_mat_free(m);
}

/* A wide header over many one-field lines must fail on line 2 without first allocating rows x cols
 * (here 200000 x 20001 floats, 16 GB). */
static void test_wide_header(void) {
    size_t cols = 20001, lines = 200000, n = 2 * cols + 2 * lines;
    char *text = malloc(n + 1), *p = text;
    *p++ = 'a';
    for (size_t i = 1; i < cols; i++) *p++ = ',', *p++ = 'a';
    *p++ = '\n';
    for (size_t i = 0; i < lines; i++) *p++ = '1', *p++ = '\n';
    ebm_mat *m = (ebm_mat *)1;
    CHECK_FAILS(ebm_csv_parse(text, (size_t)(p - text), "t.csv", &m), EBM_EFORMAT);
    CHECK(strcmp(ebm_last_error(), "t.csv: line 2 has 1 fields, expected 20001") == 0);
    free(text);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s", check_tmpdir("io_csv"));
    test_dialects();
    test_errors();
    test_long_field();
    test_round_trip();
    test_integer_text();
    test_wide_header();
    return check_summary("test_io_csv");
}
