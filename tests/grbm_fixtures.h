/* Shared helpers for GRBM tests: random small models from a fixed seed. */
#ifndef EBM_GRBM_FIXTURES_H
#define EBM_GRBM_FIXTURES_H

#include "check.h"

/* W ~ N(0, wstd^2), b, mu ~ N(0, 0.5^2), log sigma^2 ~ U(-1, 0.5). */
static inline ebm_grbm *fixture_grbm(size_t nv, size_t nh, double wstd, uint64_t seed) {
    ebm_grbm *m;
    REQUIRE(ebm_grbm_new(nv, nh, &m) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, seed, 98);
    for (size_t i = 0; i < nv * nh; i++) m->W[i] = (float)(wstd * ebm_rng_normal(&r));
    for (size_t j = 0; j < nh; j++) m->b[j] = (float)(0.5 * ebm_rng_normal(&r));
    for (size_t i = 0; i < nv; i++) m->mu[i] = (float)(0.5 * ebm_rng_normal(&r));
    for (size_t i = 0; i < nv; i++) m->log_var[i] = (float)(-1.0 + 1.5 * ebm_rng_uniform(&r));
    return m;
}

#endif
