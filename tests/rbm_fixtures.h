/* Shared helpers for RBM tests: random small models, brute-force energies over both layers. */
#ifndef EBM_RBM_FIXTURES_H
#define EBM_RBM_FIXTURES_H

#include "check.h"

/* A random RBM: W ~ N(0, wstd^2), biases ~ N(0, bstd^2), from a fixed seed. */
static inline ebm_rbm *fixture_rbm(size_t nv, size_t nh, double wstd, double bstd, uint64_t seed) {
    ebm_rbm *m;
    REQUIRE(ebm_rbm_new(nv, nh, &m) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, seed, 99);
    for (size_t i = 0; i < nv * nh; i++) m->W[i] = (float)(wstd * ebm_rng_normal(&r));
    for (size_t i = 0; i < nv; i++) m->a[i] = (float)(bstd * ebm_rng_normal(&r));
    for (size_t j = 0; j < nh; j++) m->b[j] = (float)(bstd * ebm_rng_normal(&r));
    return m;
}

/* Energy of one state in double, straight from the definition. */
static inline double fixture_energy(const ebm_rbm *m, const float *v, const float *h) {
    double e = 0;
    for (size_t i = 0; i < m->n_vis; i++) e -= (double)m->a[i] * v[i];
    for (size_t j = 0; j < m->n_hid; j++) e -= (double)m->b[j] * h[j];
    for (size_t i = 0; i < m->n_vis; i++)
        for (size_t j = 0; j < m->n_hid; j++) e -= (double)v[i] * m->W[i * m->n_hid + j] * h[j];
    return e;
}

static inline void fixture_bits(uint64_t x, size_t n, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = (float)((x >> i) & 1u);
}

/* log Z at temperature T by summing over both layers (n_vis + n_hid <= 24). */
static inline double fixture_log_z_brute(const ebm_rbm *m, double T) {
    size_t nv = m->n_vis, nh = m->n_hid;
    float v[32], h[32];
    double mx = -INFINITY, sum = 0;
    for (uint64_t x = 0; x < ((uint64_t)1 << nv); x++) {
        fixture_bits(x, nv, v);
        for (uint64_t y = 0; y < ((uint64_t)1 << nh); y++) {
            fixture_bits(y, nh, h);
            double t = -fixture_energy(m, v, h) / T;
            if (t > mx) {
                sum = sum * exp(mx - t) + 1;
                mx = t;
            } else {
                sum += exp(t - mx);
            }
        }
    }
    return mx + log(sum);
}

/* n noisy copies of 3 prototype patterns of 12 bits (5% of bits flipped), from a fixed seed.
 * Entropy per example: log 3 + 12 H(0.05) = 3.49 nats (prototypes are far apart), so no model can
 * reach a mean log-likelihood above about -3.49. */
static inline ebm_mat *fixture_prototype_data(size_t n, uint64_t seed) {
    static const char *protos[3] = {"111111000000", "000000111111", "101010101010"};
    ebm_mat *d;
    REQUIRE(ebm_mat_new(n, 12, &d) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, seed, 0);
    for (size_t q = 0; q < n; q++) {
        const char *p = protos[ebm_rng_below(&r, 3)];
        for (int i = 0; i < 12; i++) {
            int bit = p[i] == '1';
            if (ebm_rng_uniform(&r) < 0.05) bit = !bit;
            d->data[q * 12 + i] = (float)bit;
        }
    }
    return d;
}

#endif
