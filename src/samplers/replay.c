/* The replay buffer of Du & Mordatch (2019, "Implicit generation and generalization in energy-based
 * models", section 3.1) in the form JEM's code uses: a fixed store of negatives initialised with noise;
 * each draw reads random slots, restarts a fraction of them from noise, and the moved samples are written
 * back to their slots.  Noise starts are uniform on [lo, hi] or Gaussian; every row draws from its own
 * Philox stream so draws do not depend on the thread count.  With Gaussian starts (JEM++'s informative
 * initialisation, chain_start.c) the slots and the restarts come from those Gaussians instead. */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

struct ebm_replay {
    size_t cap, dim;
    ebm_noise noise;
    const ebm_gauss_start *start; /* restarts from these Gaussians instead of noise (borrowed), or NULL */
    float *x; /* (cap, dim) */
};

void ebm_noise_default(ebm_noise *z) {
    memset(z, 0, sizeof *z);
    z->kind = EBM_NOISE_UNIFORM;
    z->lo = -1.0f;
    z->hi = 1.0f;
    z->sd = 1.0f;
}

static ebm_status check_noise(const ebm_noise *z) {
    if (z->kind == EBM_NOISE_UNIFORM && !(z->lo < z->hi && isfinite(z->lo) && isfinite(z->hi)))
        return ebm_fail(EBM_EINVAL, "noise: uniform range [%g, %g] is empty", (double)z->lo, (double)z->hi);
    if (z->kind == EBM_NOISE_GAUSSIAN && !(z->sd > 0 && isfinite(z->sd) && isfinite(z->mean)))
        return ebm_fail(EBM_EINVAL, "noise: Gaussian sd must be positive, got %g", (double)z->sd);
    if ((unsigned)z->kind > EBM_NOISE_GAUSSIAN) return ebm_fail(EBM_EINVAL, "noise: unknown kind %d", (int)z->kind);
    return EBM_OK;
}

static void noise_row(const ebm_noise *z, uint64_t key, uint64_t row, float *x, size_t dim) {
    if (z->kind == EBM_NOISE_UNIFORM) {
        ebm_rng_fill_uniform(key, row, 0, x, dim);
        for (size_t j = 0; j < dim; j++) x[j] = z->lo + (z->hi - z->lo) * x[j];
    } else {
        ebm_rng_fill_normal(key, row, 0, x, dim);
        for (size_t j = 0; j < dim; j++) x[j] = z->mean + z->sd * x[j];
    }
}

ebm_status ebm_noise_fill(const ebm_noise *z, uint64_t key, float *x, size_t n, size_t dim) {
    ebm_status s = check_noise(z);
    if (s) return s;
#pragma omp parallel for schedule(static) if (n * dim >= 65536)
    for (size_t i = 0; i < n; i++) noise_row(z, key, i, x + i * dim, dim);
    return EBM_OK;
}

ebm_status ebm_replay_new(size_t capacity, size_t dim, const ebm_noise *z, uint64_t seed, ebm_replay **out) {
    *out = NULL;
    size_t t;
    if (capacity == 0 || dim == 0 || !ebm_mul_ok(capacity, dim, &t) || t > ((size_t)1 << 34))
        return ebm_fail(EBM_EINVAL, "replay buffer: %zu x %zu is empty or too large", capacity, dim);
    ebm_status s = check_noise(z);
    if (s) return s;
    ebm_replay *b = calloc(1, sizeof *b);
    if (b) b->x = ebm_calloc(t, sizeof(float));
    if (!b || !b->x) {
        if (b) free(b);
        return ebm_fail(EBM_ENOMEM, "out of memory for a replay buffer of %zu x %zu", capacity, dim);
    }
    b->cap = capacity;
    b->dim = dim;
    b->noise = *z;
    ebm_rng r;
    ebm_rng_seed(&r, seed, 0x7265706c6179ull); /* "replay" */
    ebm_noise_fill(z, ebm_rng_u64(&r), b->x, capacity, dim);
    *out = b;
    return EBM_OK;
}

void ebm_replay_free(ebm_replay *b) {
    if (!b) return;
    ebm_free(b->x);
    free(b);
}

size_t ebm_replay_capacity(const ebm_replay *b) { return b->cap; }
const float *ebm_replay_data(const ebm_replay *b) { return b->x; }
float *ebm_replay_data_rw(ebm_replay *b) { return b->x; }

ebm_status ebm_replay_draw(ebm_replay *b, size_t n, float reinit, uint64_t key, float *x, size_t *slots) {
    if (!(reinit >= 0 && reinit <= 1)) return ebm_fail(EBM_EINVAL, "replay buffer: restart fraction %g is not in [0, 1]", (double)reinit);
    ebm_rng r;
    ebm_rng_seed(&r, key, 1);
    uint64_t knoise = ebm_rng_u64(&r);
    for (size_t i = 0; i < n; i++) {
        slots[i] = (size_t)ebm_rng_below(&r, b->cap);
        if (ebm_rng_uniform(&r) >= reinit)
            memcpy(x + i * b->dim, b->x + slots[i] * b->dim, b->dim * sizeof(float));
        else if (b->start)
            ebm_gauss_start_fill(b->start, knoise, i, x + i * b->dim, 1, NULL);
        else
            noise_row(&b->noise, knoise, i, x + i * b->dim, b->dim);
    }
    return EBM_OK;
}

ebm_status ebm_replay_set_start(ebm_replay *b, const ebm_gauss_start *g, uint64_t seed) {
    if (g && ebm_gauss_start_dim(g) != b->dim)
        return ebm_fail(EBM_ESHAPE, "replay buffer: Gaussian starts of %zu values for rows of %zu",
                        ebm_gauss_start_dim(g), b->dim);
    b->start = g;
    ebm_rng r;
    ebm_rng_seed(&r, seed, 0x7265706c6179ull); /* "replay", as ebm_replay_new */
    uint64_t key = ebm_rng_u64(&r);
    return g ? ebm_gauss_start_fill(g, key, 0, b->x, b->cap, NULL) : ebm_noise_fill(&b->noise, key, b->x, b->cap, b->dim);
}

void ebm_replay_store(ebm_replay *b, const float *x, const size_t *slots, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (slots[i] < b->cap) memcpy(b->x + slots[i] * b->dim, x + i * b->dim, b->dim * sizeof(float));
}
