/* libFuzzer target for the metadata of a composed model (ebm_composed_parse: the file read into its
 * description, no part loaded): any input must give 1 to EBM_COMPOSE_MAX_PARTS parts, each with a path,
 * a finite weight and a class of -1 or more, and an energy request refused for want of loaded parts, or
 * fail with a status and message; never crash, leak or read out of bounds. */
#include "ebm.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ebm_composed *c = NULL;
    if (ebm_composed_parse(data, size, "fuzz", &c) != EBM_OK) {
        if (c || !ebm_last_error()[0]) abort();
        return 0;
    }
    size_t n = ebm_composed_count(c);
    ebm_compose_op op = ebm_composed_op(c);
    if (n < 1 || n > EBM_COMPOSE_MAX_PARTS || (op != EBM_COMPOSE_SUM && op != EBM_COMPOSE_OR) || !ebm_composed_meta(c))
        abort();
    for (size_t i = 0; i < n; i++) {
        const char *path = NULL;
        float w = NAN;
        long cls = -2;
        if (ebm_composed_part(c, i, &path, &w, &cls) != EBM_OK || !path || !path[0] || !isfinite(w) || cls < -1) abort();
    }
    ebm_energy *e = NULL;
    if (ebm_composed_energy(c, &e) != EBM_EINVAL || e) abort();
    ebm_composed_free(c);
    return 0;
}
