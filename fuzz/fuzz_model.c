/* libFuzzer target for model-kind sniffing and the generic loader: any input must give a kind from its header
 * (ebm_model_kind_parse) or fail with a status and message; the whole input must load (ebm_model_parse) into
 * a model of that same kind, whose metadata, typed model and own energy (evaluated at one point when the
 * model has one) are usable, or fail; never crash, leak or read out of bounds.  A composed model loads its
 * parts from files named inside it, so composed inputs stop at the kind: fuzz_compose covers their metadata. */
#include "ebm.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ebm_kind k = EBM_KIND_RBM;
    ebm_status ks = ebm_model_kind_parse(data, size, "fuzz", &k);
    if ((ks != EBM_OK && !ebm_last_error()[0]) || (ks == EBM_OK && !ebm_kind_name(k))) abort();
    if (ks == EBM_OK && k == EBM_KIND_COMPOSE) return 0;
    ebm_model *m = NULL;
    ebm_status s = ebm_model_parse(data, size, "fuzz", &m);
    if (s != EBM_OK) {
        if (m || !ebm_last_error()[0]) abort();
        return 0;
    }
    /* what loads whole has a header that holds up alone, naming the same kind */
    if (ks != EBM_OK || ebm_model_kind_of(m) != k || !ebm_model_meta(m)) abort();
    ebm_energy *e = NULL;
    if (ebm_model_energy(m, &e) == EBM_OK && e->dim > 0 && e->dim <= 4096) {
        float *x = calloc(e->dim, sizeof *x), E = 0;
        if (x) {
            for (size_t i = 0; i < e->dim; i++) x[i] = (float)(i % 3) * 0.5f;
            (void)e->energy(e, x, 1, &E);
        }
        free(x);
    }
    ebm_energy_free(e);
    ebm_model_free(m);
    return 0;
}
