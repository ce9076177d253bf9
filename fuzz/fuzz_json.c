/* libFuzzer target for the JSON parser on its own (src/io/json.c, the parser under every safetensors header
 * and model-kind sniff): any input must parse into a value tree that can be walked and freed, or fail with
 * EBM_EFORMAT and a message; never crash, leak, recurse past the depth limit or read out of bounds. */
#include "io/json.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touches every node (strings through their stated length) and returns the depth reached. */
static int walk(const ebm_json *v, int depth, size_t *bytes) {
    int deepest = depth;
    if (v->type == EBM_JSON_STRING) {
        for (size_t i = 0; i < v->len; i++) *bytes += (unsigned char)v->str[i] != 0;
        if (v->str[v->len] != 0) abort();
    } else if (v->type == EBM_JSON_ARRAY || v->type == EBM_JSON_OBJECT) {
        for (size_t i = 0; i < v->n; i++) {
            const ebm_json *c = v->type == EBM_JSON_ARRAY ? &v->items[i] : &v->members[i].value;
            if (v->type == EBM_JSON_OBJECT && v->members[i].key[v->members[i].key_len] != 0) abort();
            int d = walk(c, depth + 1, bytes);
            deepest = d > deepest ? d : deepest;
        }
    }
    return deepest;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ebm_json *v = NULL;
    ebm_status s = ebm_json_parse((const char *)data, size, EBM_JSON_MAX_DEPTH, &v);
    if (s != EBM_OK) {
        if (v || !ebm_last_error()[0]) abort();
        return 0;
    }
    if (!v) abort();
    size_t bytes = 0;
    if (walk(v, 0, &bytes) > EBM_JSON_MAX_DEPTH) abort();
    ebm_json_free(v);
    return 0;
}
