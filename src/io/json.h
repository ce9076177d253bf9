/* A small strict JSON (RFC 8259) reader producing a tree, and a string escaper for writers.
 * Internal to libebm. */
#ifndef EBM_JSON_H
#define EBM_JSON_H

#include "io/io_internal.h"

#define EBM_JSON_MAX_DEPTH 64

typedef enum ebm_json_type {
    EBM_JSON_NULL = 0,
    EBM_JSON_BOOL,
    EBM_JSON_NUMBER,
    EBM_JSON_STRING,
    EBM_JSON_ARRAY,
    EBM_JSON_OBJECT
} ebm_json_type;

typedef struct ebm_json ebm_json;
typedef struct ebm_json_member ebm_json_member;

/* 24 bytes a node, so that a header of small values cannot make the tree much larger than the text
 * (at most about 12 bytes of tree per byte of "[0,0,0,...]").  Read only the fields of the type. */
struct ebm_json {
    ebm_json_type type;
    bool boolean;           /* EBM_JSON_BOOL */
    bool is_int;            /* EBM_JSON_NUMBER written without fraction or exponent, fits in int64 */
    union {
        struct {            /* EBM_JSON_NUMBER */
            int64_t integer;    /* the value when is_int */
            double number;      /* every number, as strtod reads it (+-inf for huge literals) */
        };
        struct {            /* EBM_JSON_STRING: NUL-terminated UTF-8 of len bytes (NULs from \u0000) */
            char *str;
            size_t len;
        };
        struct {            /* EBM_JSON_ARRAY, EBM_JSON_OBJECT */
            size_t n;
            union {
                ebm_json *items;            /* array items (n) */
                ebm_json_member *members;   /* object members (n), document order, duplicates kept */
            };
        };
    };
};

struct ebm_json_member {
    char *key;              /* NUL-terminated UTF-8 of key_len bytes */
    size_t key_len;
    ebm_json value;
};

/* Parses exactly one JSON value from text[0..len) (surrounding whitespace allowed, anything else after
 * it is an error), nesting at most max_depth arrays/objects.  EBM_EFORMAT with a message
 * "JSON at byte N: ..." for malformed input. */
ebm_status ebm_json_parse(const char *text, size_t len, int max_depth, ebm_json **out);
void ebm_json_free(ebm_json *v);
/* The first member of object obj named key, or NULL (also when obj is not an object). */
const ebm_json *ebm_json_get(const ebm_json *obj, const char *key);
/* Index of the first member whose key occurs earlier in obj as well, -1 if there is none, or -2 when
 * memory for the check ran out (message set). O(n log n). */
ptrdiff_t ebm_json_find_duplicate(const ebm_json *obj);
const char *ebm_json_type_name(ebm_json_type t);

/* Appends s[0..len) as a quoted JSON string; s must be valid UTF-8. */
bool ebm_json_put_string(ebm_buf *b, const char *s, size_t len);

#endif
