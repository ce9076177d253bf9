/* Numeric CSV after RFC 4180 ("Common Format and MIME Type for Comma-Separated Values"), restricted to
 * a matrix of numbers: the delimiter is ',', ';' or TAB (the first of TAB, ';', ',' found outside
 * quotes on the first line), fields may be quoted ("" inside quotes is a quote) but may not span
 * lines, lines end in LF or CRLF, a UTF-8 byte-order mark is skipped, lines whose first non-blank
 * character is '#' are comments (numpy.savetxt writes its header that way), blank lines may only end
 * the file, and only the first row may be a header (it is one when any field is not a number).
 * Numbers follow the C grammar of decimal floating constants (no hex, no nan/inf), read by strtof in
 * the "C" locale, so every finite float32 written with "%.9g" reads back bit for bit. */
#include "io/io_internal.h"

#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct csv_field {
    const char *s;
    size_t n;
    bool escaped; /* contained "" (so it cannot be a number) */
} csv_field;

typedef struct csv_state {
    const char *name;
    char delim;
    size_t line; /* 1-based number of the line being read */
} csv_state;

enum { NUM_OK, NUM_BAD, NUM_NONFINITE, NUM_RANGE, NUM_LONG };

static bool is_blank_char(char c, char delim) { return c == ' ' || (c == '\t' && delim != '\t'); }

/* ---- lines ---- */

/* Content of the line starting at p: [p, *content_end), returns the start of the next line. */
static const char *next_line(const char *p, const char *end, const char **content_end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *e = nl ? nl : end;
    *content_end = (e > p && e[-1] == '\r') ? e - 1 : e;
    return nl ? nl + 1 : end;
}

static bool line_blank(const char *s, const char *e) {
    for (; s < e; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r') return false;
    return true;
}

static bool line_comment(const char *s, const char *e) {
    while (s < e && (*s == ' ' || *s == '\t')) s++;
    return s < e && *s == '#';
}

/* Tab, else semicolon, else comma: whichever appears first in that order outside quotes. */
static char detect_delim(const char *s, const char *e) {
    bool in_q = false, tab = false, semi = false;
    for (; s < e; s++) {
        if (*s == '"') in_q = !in_q;
        if (in_q) continue;
        tab |= *s == '\t';
        semi |= *s == ';';
    }
    return tab ? '\t' : semi ? ';' : ',';
}

/* ---- fields ---- */

/* Reads the field at *pp (line ends at le). Returns 1 when a delimiter follows, 0 for the last
 * field, -1 for an unterminated quote, -2 for text after a closing quote. */
static int next_field(const char **pp, const char *le, char delim, csv_field *f) {
    const char *p = *pp;
    while (p < le && is_blank_char(*p, delim)) p++;
    f->escaped = false;
    if (p < le && *p == '"') {
        const char *s = ++p;
        for (;; p++) {
            if (p >= le) return -1;
            if (*p != '"') continue;
            if (p + 1 < le && p[1] == '"') {
                f->escaped = true;
                p++;
                continue;
            }
            break;
        }
        f->s = s;
        f->n = (size_t)(p - s);
        /* spaces inside the quotes are as insignificant as outside: " 3 " is the number 3 */
        while (f->n && (*f->s == ' ' || *f->s == '\t')) f->s++, f->n--;
        while (f->n && (f->s[f->n - 1] == ' ' || f->s[f->n - 1] == '\t')) f->n--;
        p++;
        while (p < le && is_blank_char(*p, delim)) p++;
        if (p < le && *p != delim) return -2;
    } else {
        const char *s = p;
        while (p < le && *p != delim) p++;
        const char *e = p;
        while (e > s && is_blank_char(e[-1], delim)) e--;
        f->s = s;
        f->n = (size_t)(e - s);
    }
    *pp = p < le ? p + 1 : p;
    return p < le;
}

static size_t count_fields(const char *s, const char *le, char delim) {
    size_t n = 1;
    csv_field f;
    while (next_field(&s, le, delim, &f) == 1) n++;
    return n;
}

/* ---- numbers ---- */

static bool digit(char c) { return c >= '0' && c <= '9'; }

/* sign? (digits (. digits?)? | . digits) ([eE] sign? digits)? over all of s[0..n) */
static bool number_grammar(const char *s, size_t n) {
    size_t i = 0, d = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    while (i < n && digit(s[i])) i++, d++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && digit(s[i])) i++, d++;
    }
    if (d == 0) return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t e = 0;
        while (i < n && digit(s[i])) i++, e++;
        if (e == 0) return false;
    }
    return i == n;
}

static bool nonfinite_word(const char *s, size_t n) {
    if (n && (*s == '+' || *s == '-')) s++, n--;
    static const char *const words[] = {"nan", "inf", "infinity"};
    for (size_t w = 0; w < 3; w++)
        if (strlen(words[w]) == n && strncasecmp(s, words[w], n) == 0) return true;
    return false;
}

static int parse_number(const char *s, size_t n, float *out) {
    size_t i = n && (s[0] == '-' || s[0] == '+');
    if (n > i && n - i <= 9) { /* fast path: small integers, the bulk of image data */
        int32_t v = 0;
        size_t k = i;
        while (k < n && digit(s[k])) v = v * 10 + (s[k++] - '0');
        if (k == n) {
            *out = s[0] == '-' ? -(float)v : (float)v;
            return NUM_OK;
        }
    }
    if (!number_grammar(s, n)) return nonfinite_word(s, n) ? NUM_NONFINITE : NUM_BAD;
    char tmp[256];
    if (n >= sizeof tmp) return NUM_LONG;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    float v = strtof(tmp, NULL);
    if (isinf(v)) return NUM_RANGE;
    *out = v;
    return NUM_OK;
}

static ebm_status field_error(const csv_state *st, size_t field, const csv_field *f, int code) {
    static const char *const why[] = {"", "is not a number", "is not a finite number",
                                      "is outside the range of float32", "is too long to be a number"};
    int shown = f->n > 40 ? 40 : (int)f->n;
    return ebm_fail(EBM_EFORMAT, "%s: line %zu, field %zu: '%.*s%s' %s", st->name, st->line, field, shown, f->s,
                    f->n > 40 ? "..." : "", why[code]);
}

static ebm_status quote_error(const csv_state *st, size_t field, int r) {
    return ebm_fail(EBM_EFORMAT, "%s: line %zu, field %zu: %s", st->name, st->line, field,
                    r == -1 ? "unterminated quote" : "text after the closing quote");
}

/* Parses one data row into row (cols values). */
static ebm_status parse_row(const csv_state *st, const char *s, const char *le, float *row, size_t cols) {
    csv_field f;
    for (size_t j = 0; j < cols; j++) {
        int r = next_field(&s, le, st->delim, &f);
        if (r < 0) return quote_error(st, j + 1, r);
        if (r == 0 && j + 1 < cols)
            return ebm_fail(EBM_EFORMAT, "%s: line %zu has %zu fields, expected %zu", st->name, st->line, j + 1,
                            cols);
        if (r == 1 && j + 1 == cols)
            return ebm_fail(EBM_EFORMAT, "%s: line %zu has %zu fields, expected %zu", st->name, st->line,
                            cols + count_fields(s, le, st->delim), cols);
        int code = f.escaped ? NUM_BAD : parse_number(f.s, f.n, &row[j]);
        if (code != NUM_OK) return field_error(st, j + 1, &f, code);
    }
    return EBM_OK;
}

/* The first content line: a header when any field is not a number.  *cols gets its field count. */
static ebm_status first_row(const csv_state *st, const char *s, const char *le, bool *header, size_t *cols) {
    csv_field f;
    size_t n = 0;
    int r;
    *header = false;
    do {
        r = next_field(&s, le, st->delim, &f);
        if (r < 0) return quote_error(st, n + 1, r);
        float v;
        int code = f.escaped ? NUM_BAD : parse_number(f.s, f.n, &v);
        /* Only text makes a header: a row of numbers with a nan or an empty field is a bad data row,
         * and silently dropping it as a "header" would hide the fault. */
        if (code == NUM_BAD && f.n > 0) *header = true;
        n++;
    } while (r == 1);
    *cols = n;
    return EBM_OK;
}

typedef struct csv_scan {
    const char *first, *first_end; /* the first content line */
    size_t first_line, content_lines;
} csv_scan;

/* Counts content lines (neither blank nor comment) so that the matrix is allocated once. */
static ebm_status scan(const char *p, const char *end, const char *name, csv_scan *sc) {
    memset(sc, 0, sizeof *sc);
    for (size_t line = 1; p < end; line++) {
        const char *ce, *next = next_line(p, end, &ce);
        if (!line_blank(p, ce) && !line_comment(p, ce)) {
            if (!sc->first) {
                sc->first = p;
                sc->first_end = ce;
                sc->first_line = line;
            }
            sc->content_lines++;
        }
        p = next;
    }
    if (!sc->first) return ebm_fail(EBM_EFORMAT, "%s: no data in CSV", name);
    return EBM_OK;
}

/* Reads every content line after the first into m, starting at row r. */
static ebm_status parse_rest(csv_state *st, const char *p, const char *end, ebm_mat *m, size_t r) {
    size_t blank_at = 0;
    for (; p < end; st->line++) {
        const char *ce, *next = next_line(p, end, &ce);
        if (line_blank(p, ce)) {
            if (!blank_at) blank_at = st->line;
        } else if (!line_comment(p, ce)) {
            if (blank_at) return ebm_fail(EBM_EFORMAT, "%s: line %zu is empty", st->name, blank_at);
            if (r >= m->rows) /* only malformed rows can get here: see csv_parse_text */
                return ebm_fail(EBM_EFORMAT, "%s: line %zu: more rows than the file can hold", st->name, st->line);
            ebm_status s = parse_row(st, p, ce, m->data + r * m->cols, m->cols);
            if (s != EBM_OK) return s;
            r++;
        }
        p = next;
    }
    return EBM_OK;
}

static ebm_status csv_parse_text(const char *p, const char *end, const char *name, ebm_mat **out) {
    csv_scan sc;
    ebm_status s = scan(p, end, name, &sc);
    if (s != EBM_OK) return s;
    for (const char *q = p; q < sc.first;) { /* blank lines may only end the file */
        const char *ce, *next = next_line(q, end, &ce);
        if (line_blank(q, ce)) {
            size_t line = 1;
            for (const char *c = p; c < q; c++) line += *c == '\n';
            return ebm_fail(EBM_EFORMAT, "%s: line %zu is empty", name, line);
        }
        q = next;
    }
    csv_state st = {name, detect_delim(sc.first, sc.first_end), sc.first_line};
    bool header = false;
    size_t cols = 0;
    s = first_row(&st, sc.first, sc.first_end, &header, &cols);
    if (s != EBM_OK) return s;
    /* A valid row of k numbers takes at least 2k bytes with its delimiters and newline, so no more rows
     * than that can be valid: allocating for every line would let a long first line of commas over
     * many short lines demand memory quadratic in the file size. */
    size_t rows = sc.content_lines - header, fit = (size_t)(end - p + 1) / (2 * cols) + 1;
    s = ebm_mat_new(rows < fit ? rows : fit, cols, out);
    if (s != EBM_OK) return s;
    if (!header) s = parse_row(&st, sc.first, sc.first_end, (*out)->data, cols);
    const char *ce;
    const char *rest = next_line(sc.first, end, &ce);
    st.line++;
    if (s == EBM_OK) s = parse_rest(&st, rest, end, *out, header ? 0 : 1);
    if (s != EBM_OK) {
        ebm_mat_free(*out);
        *out = NULL;
    }
    return s;
}

ebm_status ebm_csv_parse(const void *buf, size_t len, const char *name, ebm_mat **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "csv: out is NULL");
    *out = NULL;
    if (!name) name = "CSV data";
    if (!buf && len) return ebm_fail(EBM_EINVAL, "%s: buffer is NULL", name);
    const char *p = buf ? buf : "", *end = p + len;
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) p += 3;
    ebm_c_locale loc;
    ebm_c_locale_enter(&loc);
    ebm_status s = csv_parse_text(p, end, name, out);
    ebm_c_locale_leave(&loc);
    return s;
}

static ebm_status parse_any(const void *buf, size_t len, const char *name, void *out) {
    return ebm_csv_parse(buf, len, name, out);
}

ebm_status ebm_csv_read(const char *path, ebm_mat **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "csv: out is NULL");
    *out = NULL;
    return ebm_io_read_parse(path, 0, EBM_IO_MAX_FILE, parse_any, out);
}

/* "%.9g" of v into tmp; integers below 1e9 print the same digits, so they skip snprintf (which is
 * most of the time spent writing image data). */
static int format_value(float v, char *tmp, size_t cap) {
    if (v > -1e9f && v < 1e9f && v == (float)(int32_t)v && !(v == 0 && signbit(v))) {
        char rev[12];
        int32_t x = (int32_t)v;
        uint32_t u = x < 0 ? (uint32_t)0 - (uint32_t)x : (uint32_t)x;
        int n = 0, k = 0;
        do rev[n++] = (char)('0' + u % 10);
        while ((u /= 10) != 0);
        if (x < 0) tmp[k++] = '-';
        while (n) tmp[k++] = rev[--n];
        return k;
    }
    return snprintf(tmp, cap, "%.9g", (double)v);
}

/* Formats m into b, flushing to fd whenever a megabyte has accumulated. */
static int csv_emit(int fd, const ebm_mat *m, ebm_buf *b) {
    for (size_t r = 0; r < m->rows; r++) {
        const float *row = m->data + r * m->cols;
        for (size_t c = 0; c < m->cols; c++) {
            char tmp[32];
            int n = format_value(row[c], tmp, sizeof tmp);
            tmp[n] = c + 1 < m->cols ? ',' : '\n';
            if (!ebm_buf_put(b, tmp, (size_t)n + 1)) return ENOMEM;
        }
        if (b->len >= (1 << 20)) {
            int e = ebm_io_write_all(fd, b->data, b->len);
            if (e) return e;
            b->len = 0;
        }
    }
    return ebm_io_write_all(fd, b->data, b->len);
}

ebm_status ebm_csv_write(const char *path, const ebm_mat *m) {
    if (!path || !m) return ebm_fail(EBM_EINVAL, "csv_write: %s is NULL", !path ? "path" : "matrix");
    if (m->rows == 0 || m->cols == 0)
        return ebm_fail(EBM_EINVAL, "%s: cannot write a %zu x %zu matrix as CSV", path, m->rows, m->cols);
    ebm_status s = ebm_mat_check_range(m, -FLT_MAX, FLT_MAX, path);
    if (s != EBM_OK) return s;
    ebm_atomic_file f;
    s = ebm_atomic_open(&f, path);
    if (s != EBM_OK) return s;
    ebm_buf b = {0};
    ebm_c_locale loc;
    ebm_c_locale_enter(&loc);
    int e = csv_emit(f.fd, m, &b);
    ebm_c_locale_leave(&loc);
    ebm_buf_free(&b);
    if (e) {
        char eb[128];
        ebm_atomic_abort(&f);
        return ebm_fail(e == ENOMEM ? EBM_ENOMEM : EBM_EIO, "%s: write failed: %s", path,
                        ebm_io_strerror(e, eb, sizeof eb));
    }
    return ebm_atomic_commit(&f);
}
