/* What the tests of the bf16 precision share (test_precision.c, test_net_precision.c): the skip where bf16
 * is not built in, uniform fills, and a float rounded to bfloat16 and back. */
#ifndef EBM_BF16_CHECK_H
#define EBM_BF16_CHECK_H

#include "check.h"
#include "core/internal.h"

static int have_bf16(void) {
    ebm_precision p;
    if (ebm_precision_resolve(EBM_PRECISION_BF16, &p) == EBM_OK) return 1;
    printf("bf16 precision not built in (no oneDNN): bf16 checks skipped\n");
    return 0;
}

/* x (n) <- uniform on [lo, hi) from stream (seed, 0). */
static void fill(float *x, size_t n, uint64_t seed, float lo, float hi) {
    ebm_rng_fill_uniform(seed, 0, 0, x, n);
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * x[i];
}

static EBM_UNUSED float rb(float x) { return ebm_bf16_to_f32(ebm_bf16(x)); }

#endif
