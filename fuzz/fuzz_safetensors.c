/* libFuzzer target for the safetensors reader: any input must parse into tensors whose arrays and
 * metadata are all readable, or fail with a status and message; never crash, leak or read out of
 * bounds. */
#include "ebm.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ebm_tensors *t = NULL;
    if (ebm_safetensors_parse(data, size, "fuzz", &t) != EBM_OK) return 0;
    for (size_t i = 0; i < ebm_tensors_count(t); i++) {
        const ebm_array *a = ebm_tensors_get(t, ebm_tensors_name(t, i));
        ebm_mat *m = NULL;
        if (a && ebm_array_to_mat(a, &m) == EBM_OK) ebm_mat_free(m);
    }
    const ebm_meta *meta = ebm_tensors_meta_const(t);
    size_t total = 0;
    for (size_t i = 0; i < ebm_meta_count(meta); i++) {
        const char *k, *v;
        ebm_meta_at(meta, i, &k, &v);
        total += strlen(k) + strlen(v);
    }
    (void)total;
    ebm_tensors_free(t);
    return 0;
}
