/* A strict JSON reader after RFC 8259: exactly the grammar of section 2-7 (no comments, no trailing
 * commas, no NaN, no BOM), UTF-8 validated (section 8.1), \uXXXX escapes with surrogate pairs decoded
 * to UTF-8 and lone surrogates rejected, nesting depth limited so that hostile input cannot exhaust
 * the stack.  Numbers keep an exact int64 when written as integers, which is what safetensors offsets
 * and shapes need.  Duplicate object keys are kept (RFC 8259 leaves them undefined); callers decide.
 * Non-integer numbers are read with strtod under the "C" locale. */
#include "io/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct jparser {
    const uint8_t *start, *p, *end;
    int depth, max_depth;
    ebm_c_locale loc;
    bool loc_on;
} jparser;

static ebm_status jerr(const jparser *j, const char *fmt, ...) EBM_PRINTF(2, 3);
static ebm_status jerr(const jparser *j, const char *fmt, ...) {
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return ebm_fail(EBM_EFORMAT, "JSON at byte %zu: %s", (size_t)(j->p - j->start), what);
}

static ebm_status jnomem(void) { return ebm_fail(EBM_ENOMEM, "JSON: out of memory"); }

static void json_clear(ebm_json *v) {
    switch (v->type) {
    case EBM_JSON_STRING: free(v->str); break;
    case EBM_JSON_ARRAY:
        for (size_t i = 0; i < v->n; i++) json_clear(&v->items[i]);
        free(v->items);
        break;
    case EBM_JSON_OBJECT:
        for (size_t i = 0; i < v->n; i++) {
            free(v->members[i].key);
            json_clear(&v->members[i].value);
        }
        free(v->members);
        break;
    default: break;
    }
    memset(v, 0, sizeof *v);
}

void ebm_json_free(ebm_json *v) {
    if (!v) return;
    json_clear(v);
    free(v);
}

static void skip_ws(jparser *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static ebm_status parse_value(jparser *j, ebm_json *v);

/* ---- strings ---- */

static int hexval(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads "\uXXXX" at q (q[0] == '\\', q[1] == 'u') before lim; -1 if malformed. */
static int32_t read_u_escape(const uint8_t *q, const uint8_t *lim) {
    if (lim - q < 6 || q[0] != '\\' || q[1] != 'u') return -1;
    int32_t cp = 0;
    for (int i = 2; i < 6; i++) {
        int h = hexval(q[i]);
        if (h < 0) return -1;
        cp = cp * 16 + h;
    }
    return cp;
}

static size_t put_utf8(uint8_t *o, uint32_t cp) {
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (uint8_t)(0xf0 | cp >> 18);
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes one escape at j->p (a backslash) before lim into o; returns bytes written or 0 on error. */
static size_t decode_escape(jparser *j, const uint8_t *lim, uint8_t *o, ebm_status *err) {
    const uint8_t *q = j->p;
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *k = q + 1 < lim && q[1] ? strchr(from, q[1]) : NULL;
    if (k) {
        o[0] = (uint8_t)to[k - from];
        j->p += 2;
        return 1;
    }
    int32_t cp = read_u_escape(q, lim);
    if (cp < 0) {
        *err = jerr(j, "invalid escape sequence");
        return 0;
    }
    j->p += 6;
    if (cp >= 0xdc00 && cp <= 0xdfff) {
        *err = jerr(j, "unpaired low surrogate \\u%04X", (unsigned)cp);
        return 0;
    }
    if (cp >= 0xd800 && cp <= 0xdbff) {
        int32_t lo = read_u_escape(j->p, lim);
        if (lo < 0xdc00 || lo > 0xdfff) {
            *err = jerr(j, "high surrogate \\u%04X not followed by a low surrogate", (unsigned)cp);
            return 0;
        }
        j->p += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    return put_utf8(o, (uint32_t)cp);
}

/* Length of the UTF-8 sequence at q (before lim) if well-formed, else 0. */
static size_t utf8_seq(const uint8_t *q, const uint8_t *lim) {
    size_t n = *q >= 0xc2 && *q <= 0xdf ? 2 : *q >= 0xe0 && *q <= 0xef ? 3 : *q >= 0xf0 && *q <= 0xf4 ? 4 : 0;
    if (n == 0 || (size_t)(lim - q) < n || !ebm_io_utf8_valid((const char *)q, n)) return 0;
    return n;
}

/* j->p is at the opening quote.  The decoded string is never longer than its source, so one
 * allocation of the source span suffices. */
static ebm_status parse_string(jparser *j, char **out, size_t *out_len) {
    const uint8_t *q = j->p + 1, *lim = q;
    while (lim < j->end && *lim != '"') lim += (*lim == '\\' && j->end - lim >= 2) ? 2 : 1;
    if (lim >= j->end) return jerr(j, "unterminated string");
    uint8_t *o = malloc((size_t)(lim - q) + 1);
    if (!o) return jnomem();
    size_t n = 0;
    ebm_status err = EBM_OK;
    j->p = q;
    while (j->p < lim) {
        uint8_t c = *j->p;
        size_t k;
        if (c == '\\') {
            k = decode_escape(j, lim, o + n, &err);
            if (!k) break;
            n += k;
            continue;
        }
        if (c < 0x20) {
            err = jerr(j, "control character 0x%02x in string", c);
            break;
        }
        k = c < 0x80 ? 1 : utf8_seq(j->p, lim);
        if (!k) {
            err = jerr(j, "invalid UTF-8 in string");
            break;
        }
        memcpy(o + n, j->p, k);
        n += k;
        j->p += k;
    }
    if (err != EBM_OK) {
        free(o);
        return err;
    }
    o[n] = '\0';
    j->p = lim + 1;
    *out = (char *)o;
    *out_len = n;
    return EBM_OK;
}

/* ---- numbers ---- */

static bool is_digit(const jparser *j) { return j->p < j->end && *j->p >= '0' && *j->p <= '9'; }

/* Exact int64 from a token of optional '-' and digits; false on overflow. */
static bool token_int64(const uint8_t *s, size_t n, int64_t *out) {
    bool neg = s[0] == '-';
    int64_t v = 0;
    for (size_t i = neg; i < n; i++) {
        int d = s[i] - '0';
        if (__builtin_mul_overflow(v, 10, &v)) return false;
        if (neg ? __builtin_sub_overflow(v, d, &v) : __builtin_add_overflow(v, d, &v)) return false;
    }
    *out = v;
    return true;
}

static ebm_status parse_number(jparser *j, ebm_json *v) {
    const uint8_t *s = j->p;
    bool integral = true;
    if (*j->p == '-') j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (is_digit(j))
        while (is_digit(j)) j->p++;
    else
        return jerr(j, "invalid number");
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!is_digit(j)) return jerr(j, "digit expected after '.'");
        while (is_digit(j)) j->p++;
        integral = false;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
        if (!is_digit(j)) return jerr(j, "digit expected in exponent");
        while (is_digit(j)) j->p++;
        integral = false;
    }
    size_t n = (size_t)(j->p - s);
    v->type = EBM_JSON_NUMBER;
    if (integral && token_int64(s, n, &v->integer)) {
        v->is_int = true;
        v->number = (double)v->integer;
        return EBM_OK;
    }
    char small[64], *tmp = n < sizeof small ? small : malloc(n + 1);
    if (!tmp) return jnomem();
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (!j->loc_on) {
        ebm_c_locale_enter(&j->loc);
        j->loc_on = true;
    }
    v->number = strtod(tmp, NULL);
    if (tmp != small) free(tmp);
    return EBM_OK;
}

/* ---- containers ---- */

static ebm_status enter(jparser *j) {
    if (++j->depth > j->max_depth) return jerr(j, "nesting deeper than %d levels", j->max_depth);
    j->p++;
    skip_ws(j);
    return EBM_OK;
}

/* items grown to room for one more than n (capacity *cap, elements of size bytes), or NULL (items
 * untouched) when memory ran out. */
static void *grow(void *items, size_t *cap, size_t n, size_t size) {
    if (n < *cap) return items;
    size_t ncap = *cap ? *cap * 2 : 4;
    if (ncap > SIZE_MAX / size) return NULL;
    void *p = realloc(items, ncap * size);
    if (p) *cap = ncap;
    return p;
}

/* Gives back the slack of the doubling growth once a container is complete. */
static void *shrink(void *items, size_t n, size_t size) {
    void *p = n ? realloc(items, n * size) : NULL;
    return p ? p : items;
}

/* After an item: ',' (more follow) or the closer; returns 1 for more, 0 for done, -1 for error. */
static int next_or_close(jparser *j, char close) {
    skip_ws(j);
    if (j->p < j->end && *j->p == ',') {
        j->p++;
        return 1;
    }
    if (j->p < j->end && *j->p == (uint8_t)close) {
        j->p++;
        j->depth--;
        return 0;
    }
    return -1;
}

static ebm_status parse_array(jparser *j, ebm_json *v) {
    v->type = EBM_JSON_ARRAY;
    ebm_status s = enter(j);
    if (s != EBM_OK) return s;
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        j->depth--;
        return EBM_OK;
    }
    size_t cap = 0;
    for (;;) {
        ebm_json *items = grow(v->items, &cap, v->n, sizeof *v->items);
        if (!items) {
            s = jnomem();
            break;
        }
        v->items = items;
        memset(&v->items[v->n], 0, sizeof *v->items);
        s = parse_value(j, &v->items[v->n]);
        if (s != EBM_OK) break;
        v->n++;
        int r = next_or_close(j, ']');
        if (r == 0) {
            v->items = shrink(v->items, v->n, sizeof *v->items);
            return EBM_OK;
        }
        if (r < 0) {
            s = jerr(j, "expected ',' or ']' in array");
            break;
        }
    }
    json_clear(v);
    return s;
}

static ebm_status parse_member(jparser *j, ebm_json_member *m) {
    skip_ws(j);
    if (j->p >= j->end || *j->p != '"') return jerr(j, "expected a string key");
    ebm_status s = parse_string(j, &m->key, &m->key_len);
    if (s != EBM_OK) return s;
    skip_ws(j);
    if (j->p >= j->end || *j->p != ':') {
        s = jerr(j, "expected ':' after key");
    } else {
        j->p++;
        s = parse_value(j, &m->value);
    }
    if (s != EBM_OK) {
        free(m->key);
        m->key = NULL;
    }
    return s;
}

static ebm_status parse_object(jparser *j, ebm_json *v) {
    v->type = EBM_JSON_OBJECT;
    ebm_status s = enter(j);
    if (s != EBM_OK) return s;
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        j->depth--;
        return EBM_OK;
    }
    size_t cap = 0;
    for (;;) {
        ebm_json_member *members = grow(v->members, &cap, v->n, sizeof *v->members);
        if (!members) {
            s = jnomem();
            break;
        }
        v->members = members;
        memset(&v->members[v->n], 0, sizeof *v->members);
        s = parse_member(j, &v->members[v->n]);
        if (s != EBM_OK) break;
        v->n++;
        int r = next_or_close(j, '}');
        if (r == 0) {
            v->members = shrink(v->members, v->n, sizeof *v->members);
            return EBM_OK;
        }
        if (r < 0) {
            s = jerr(j, "expected ',' or '}' in object");
            break;
        }
    }
    json_clear(v);
    return s;
}

static ebm_status parse_literal(jparser *j, const char *word, ebm_json *v, ebm_json_type t, bool b) {
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0) return jerr(j, "invalid literal");
    j->p += n;
    v->type = t;
    v->boolean = b;
    return EBM_OK;
}

static ebm_status parse_value(jparser *j, ebm_json *v) {
    skip_ws(j);
    if (j->p >= j->end) return jerr(j, "unexpected end of input");
    uint8_t c = *j->p;
    switch (c) {
    case '{': return parse_object(j, v);
    case '[': return parse_array(j, v);
    case '"': v->type = EBM_JSON_STRING; {
            ebm_status s = parse_string(j, &v->str, &v->len);
            if (s != EBM_OK) v->type = EBM_JSON_NULL;
            return s;
        }
    case 't': return parse_literal(j, "true", v, EBM_JSON_BOOL, true);
    case 'f': return parse_literal(j, "false", v, EBM_JSON_BOOL, false);
    case 'n': return parse_literal(j, "null", v, EBM_JSON_NULL, false);
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number(j, v);
        if (c >= 0x20 && c < 0x7f) return jerr(j, "unexpected character '%c'", c);
        return jerr(j, "unexpected byte 0x%02x", c);
    }
}

ebm_status ebm_json_parse(const char *text, size_t len, int max_depth, ebm_json **out) {
    *out = NULL;
    if (!text && len) return ebm_fail(EBM_EINVAL, "JSON: text is NULL");
    const uint8_t *t = (const uint8_t *)(text ? text : "");
    jparser j = {.start = t, .p = t, .end = t + len, .max_depth = max_depth};
    ebm_json *v = calloc(1, sizeof *v);
    if (!v) return jnomem();
    ebm_status s = parse_value(&j, v);
    if (s == EBM_OK) {
        skip_ws(&j);
        if (j.p != j.end) s = jerr(&j, "unexpected data after the JSON value");
    }
    if (j.loc_on) ebm_c_locale_leave(&j.loc);
    if (s != EBM_OK) {
        ebm_json_free(v);
        return s;
    }
    *out = v;
    return EBM_OK;
}

const ebm_json *ebm_json_get(const ebm_json *obj, const char *key) {
    if (!obj || obj->type != EBM_JSON_OBJECT) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->n; i++)
        if (obj->members[i].key_len == n && memcmp(obj->members[i].key, key, n) == 0) return &obj->members[i].value;
    return NULL;
}

static int cmp_member(const void *a, const void *b) {
    const ebm_json_member *x = *(const ebm_json_member *const *)a, *y = *(const ebm_json_member *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = n ? memcmp(x->key, y->key, n) : 0;
    if (c) return c;
    if (x->key_len != y->key_len) return x->key_len < y->key_len ? -1 : 1;
    return x < y ? -1 : x > y; /* document order among equal keys */
}

ptrdiff_t ebm_json_find_duplicate(const ebm_json *obj) {
    if (!obj || obj->type != EBM_JSON_OBJECT || obj->n < 2) return -1;
    const ebm_json_member **v = malloc(obj->n * sizeof *v);
    if (!v) {
        jnomem();
        return -2;
    }
    for (size_t i = 0; i < obj->n; i++) v[i] = &obj->members[i];
    qsort(v, obj->n, sizeof *v, cmp_member);
    ptrdiff_t best = -1;
    for (size_t i = 1; i < obj->n; i++) {
        if (v[i]->key_len != v[i - 1]->key_len || memcmp(v[i]->key, v[i - 1]->key, v[i]->key_len) != 0) continue;
        ptrdiff_t at = v[i] - obj->members;
        if (best < 0 || at < best) best = at;
    }
    free(v);
    return best;
}

const char *ebm_json_type_name(ebm_json_type t) {
    switch (t) {
    case EBM_JSON_NULL: return "null";
    case EBM_JSON_BOOL: return "a boolean";
    case EBM_JSON_NUMBER: return "a number";
    case EBM_JSON_STRING: return "a string";
    case EBM_JSON_ARRAY: return "an array";
    case EBM_JSON_OBJECT: return "an object";
    }
    return "?";
}

bool ebm_json_put_string(ebm_buf *b, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    ebm_buf_putc(b, '"');
    size_t run = 0; /* bytes copied verbatim, flushed in one go */
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        ebm_buf_put(b, s + run, i - run);
        run = i + 1;
        char e[7] = {'\\', 0};
        switch (c) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        default:
            memcpy(e + 1, "u00", 3);
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
        }
        ebm_buf_puts(b, e);
    }
    ebm_buf_put(b, s + run, len - run);
    return ebm_buf_putc(b, '"');
}
