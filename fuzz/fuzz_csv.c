/* libFuzzer target for the CSV reader: any input must parse into a matrix or fail with a status and
 * message; never crash, leak or read out of bounds. */
#include "ebm.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ebm_mat *m = NULL;
    if (ebm_csv_parse(data, size, "fuzz", &m) == EBM_OK && m->rows && m->cols) {
        volatile float sink = m->data[m->rows * m->cols - 1];
        (void)sink;
    }
    ebm_mat_free(m);
    return 0;
}
