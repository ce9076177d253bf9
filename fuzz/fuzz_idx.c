/* libFuzzer target for the IDX reader: any input must either parse into an array that converts to a
 * matrix, or fail with a status and message; never crash, leak or read out of bounds. */
#include "ebm.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ebm_array *a = NULL;
    if (ebm_idx_parse(data, size, "fuzz", &a) == EBM_OK) {
        ebm_mat *m = NULL;
        if (ebm_array_to_mat(a, &m) == EBM_OK) ebm_mat_free(m);
    }
    ebm_array_free(a);
    return 0;
}
