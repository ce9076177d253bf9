/* libFuzzer target for model-kind detection from a header alone (ebm_model_kind_parse, the library's
 * replacement of the CLI's hand-written scan, and ebm_safetensors_parse_meta under it): any input must give
 * a known kind, or fail with a status and message; the metadata, when it parses, must agree with the kind
 * (its ebm.model names it, or is absent for an RBM); never crash, leak or read out of bounds.  The input is
 * also tried cut at every length the 8-byte header length allows, as ebm_safetensors_read_meta reads it. */
#include "ebm.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size) {
    ebm_kind k = EBM_KIND_RBM;
    ebm_status ks = ebm_model_kind_parse(data, size, "fuzz", &k);
    if (ks != EBM_OK && !ebm_last_error()[0]) abort();
    ebm_meta *m = NULL;
    ebm_status ms = ebm_safetensors_parse_meta(data, size, "fuzz", &m);
    if (ms != EBM_OK) {
        if (m || !ebm_last_error()[0]) abort();
        return;
    }
    if (ks == EBM_OK) {
        const char *name = ebm_meta_get(m, "ebm.model");
        if (!ebm_kind_name(k) || (name ? strcmp(name, ebm_kind_name(k)) != 0 : k != EBM_KIND_RBM)) abort();
    }
    ebm_meta_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check(data, size);
    if (size >= 8) { /* just the length and the header, as a header-only read sees it */
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--) n = n << 8 | data[i];
        if (n <= size - 8 && 8 + n < size) check(data, 8 + (size_t)n);
    }
    return 0;
}
