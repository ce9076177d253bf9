/* Block Gibbs sampling of a Bernoulli RBM (Geman & Geman 1984; Hinton 2002): because the layers are
 * conditionally independent, one sweep draws all hidden units from p(h|v) and then all visible units
 * from p(v|h), each with one sgemm for n chains at once.  At temperature T the conditionals are
 * sigmoid(pre-activation / T), which leaves exp(-E(v,h)/T) invariant.  Each half-step takes a fresh
 * 64-bit key from the caller's generator and row r draws from Philox stream (key, r), so a run is
 * reproducible whatever the thread count.  Clamped visible units are reset after every visible draw,
 * which samples the conditional distribution of the free units given the clamped ones.  A sampler may hold
 * a slice of a larger set of chains (ebm_gibbs_set_slice): its chain r is then chain first + r of the set,
 * with that chain's streams and start, so processes that each run a slice draw what one process draws.
 *
 * In fp32 the products are kept per chain and updated by the units that flipped (ebm_binmm_step, as AIS
 * does): a chain of a trained RBM flips a fraction of its units per sweep, so a sweep costs that fraction
 * of two dense products.  The sums are recomputed every GIBBS_REFRESH sweeps counted over the sampler's
 * life, and at the next sweep whenever W differs from the copy taken at the last one (the model may be
 * trained between runs), so run(a) then run(b) draws what run(a + b) draws.  The chains are independent:
 * a run is one parallel region in which each thread takes its chains through every sweep.  In bf16 the
 * sweeps are dense products at that precision (ebm_gibbs_set_precision; core/gemm_dnnl.c). */
#include "core/internal.h"
#include "models/model_internal.h"
#include "samplers/samplers_internal.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Sweeps between recomputations of the flip-updated products. */
#define GIBBS_REFRESH 256
/* Sweeps whose keys are drawn ahead, per parallel region. */
#define GIBBS_BLOCK 1024

struct ebm_gibbs {
    const ebm_rbm *m;
    size_t n;
    size_t first, total;/* these are chains first .. first + n - 1 of total (0, n unless set_slice) */
    float *v, *pv;      /* (n, n_vis) */
    float *h, *ph;      /* (n, n_hid) */
    uint8_t *mask;      /* (n_vis) or NULL */
    float *clamp;       /* (n, n_vis) values for masked units */
    ebm_mm *mm;         /* the products' precision (NULL: fp32) */
    /* fp32: the flip-updated products v'W and h W' (with W'), the W they were computed for, and the
     * sweeps run so far */
    ebm_flip_pair fl;
    float *wseen;
    size_t sweeps;
    int stale;          /* the sums must be recomputed at the next sweep */
};

ebm_status ebm_gibbs_new(const ebm_rbm *m, size_t n_chains, ebm_gibbs **out) {
    *out = NULL;
    if (n_chains == 0) return ebm_fail(EBM_EINVAL, "the number of chains must be at least 1");
    if (n_chains > (size_t)1 << 30) return ebm_fail(EBM_EINVAL, "%zu chains is too many", n_chains);
    ebm_gibbs *g = calloc(1, sizeof *g);
    if (!g) return ebm_fail(EBM_ENOMEM, "out of memory");
    g->m = m;
    g->n = g->total = n_chains;
    g->v = ebm_calloc(n_chains, m->n_vis * sizeof(float));
    g->pv = ebm_calloc(n_chains, m->n_vis * sizeof(float));
    g->h = ebm_calloc(n_chains, m->n_hid * sizeof(float));
    g->ph = ebm_calloc(n_chains, m->n_hid * sizeof(float));
    if (!g->v || !g->pv || !g->h || !g->ph) {
        ebm_gibbs_free(g);
        return EBM_ENOMEM;
    }
    *out = g;
    return EBM_OK;
}

void ebm_gibbs_free(ebm_gibbs *g) {
    if (!g) return;
    ebm_free(g->v);
    ebm_free(g->pv);
    ebm_free(g->h);
    ebm_free(g->ph);
    free(g->mask);
    ebm_free(g->clamp);
    ebm_mm_free(g->mm);
    ebm_flip_pair_free(&g->fl);
    ebm_free(g->wseen);
    free(g);
}

static void clamp_rows(ebm_gibbs *g, size_t r0, size_t r1) {
    if (!g->mask) return;
    size_t nv = g->m->n_vis;
    for (size_t r = r0; r < r1; r++)
        for (size_t j = 0; j < nv; j++)
            if (g->mask[j]) g->v[r * nv + j] = g->pv[r * nv + j] = g->clamp[r * nv + j];
}

static void apply_clamp(ebm_gibbs *g) { clamp_rows(g, 0, g->n); }

ebm_status ebm_gibbs_init_noise(ebm_gibbs *g, float p, ebm_rng *rng) {
    if (!(p >= 0 && p <= 1)) return ebm_fail(EBM_EINVAL, "noise probability must lie in [0, 1], got %g", p);
    size_t nv = g->m->n_vis;
    uint64_t key = ebm_rng_u64(rng);
    for (size_t r = 0; r < g->n; r++) {
        float *v = g->v + r * nv;
        ebm_rng_fill_uniform(key, g->first + r, 0, v, nv);
        for (size_t j = 0; j < nv; j++) v[j] = v[j] < p ? 1.0f : 0.0f;
        for (size_t j = 0; j < nv; j++) g->pv[r * nv + j] = p;
    }
    memset(g->h, 0, g->n * g->m->n_hid * sizeof(float));
    apply_clamp(g);
    return EBM_OK;
}

ebm_status ebm_gibbs_init_data(ebm_gibbs *g, const ebm_mat *data, ebm_rng *rng) {
    size_t nv = g->m->n_vis;
    if (data->cols != nv)
        return ebm_fail(EBM_ESHAPE, "data has %zu columns but the model has %zu visible units", data->cols, nv);
    if (data->rows == 0) return ebm_fail(EBM_EINVAL, "cannot start chains from an empty data set");
    uint64_t key = ebm_rng_u64(rng);
    for (size_t c = 0; c < g->first; c++) ebm_rng_below(rng, data->rows); /* the rows of the chains before ours */
    for (size_t r = 0; r < g->n; r++) {
        const float *src = data->data + ebm_rng_below(rng, data->rows) * nv;
        float *v = g->v + r * nv;
        /* A chain state must be binary: grey values become one Bernoulli draw. */
        ebm_rng_fill_uniform(key, g->first + r, 0, v, nv);
        for (size_t j = 0; j < nv; j++) v[j] = v[j] < src[j] ? 1.0f : 0.0f;
        memcpy(g->pv + r * nv, src, nv * sizeof(float));
    }
    for (size_t c = g->first + g->n; c < g->total; c++) ebm_rng_below(rng, data->rows); /* and after ours */
    memset(g->h, 0, g->n * g->m->n_hid * sizeof(float));
    apply_clamp(g);
    return EBM_OK;
}

ebm_status ebm_slice_check(size_t first, size_t count, size_t total) {
    if (first <= total && total - first >= count) return EBM_OK;
    return ebm_fail(EBM_EINVAL, "chains %zu .. %zu are not within a set of %zu", first, first + count - 1, total);
}

ebm_status ebm_gibbs_set_slice(ebm_gibbs *g, size_t first, size_t total) {
    ebm_status s = ebm_slice_check(first, g->n, total);
    if (s) return s;
    g->first = first;
    g->total = total;
    return EBM_OK;
}

void ebm_chain_range(size_t n, size_t rank, size_t ranks, size_t *lo, size_t *hi) {
    /* whole blocks of EBM_CHAIN_BLOCK, the last one taking the n % EBM_CHAIN_BLOCK left over, so that no
     * slice holds fewer than EBM_CHAIN_BLOCK chains (unless n does): ebm_sgemm blocks a product of that
     * many data rows or more at multiples of EBM_CHAIN_BLOCK rows, and a slice's rows then round as one
     * process's (src/core/gemm.c, plan()) */
    size_t blocks = n / EBM_CHAIN_BLOCK ? n / EBM_CHAIN_BLOCK : 1, q, r;
    if (ranks < 1) ranks = 1;
    q = blocks / ranks;
    r = blocks % ranks;
    size_t b0 = rank * q + (rank < r ? rank : r), b1 = b0 + q + (rank < r ? 1 : 0);
    *lo = b0 < blocks ? b0 * EBM_CHAIN_BLOCK : n;
    *hi = b1 < blocks ? b1 * EBM_CHAIN_BLOCK : n;
}

ebm_status ebm_gibbs_clamp(ebm_gibbs *g, const uint8_t *mask, const float *values) {
    size_t nv = g->m->n_vis;
    free(g->mask);
    ebm_free(g->clamp);
    g->mask = NULL;
    g->clamp = NULL;
    if (!mask) return EBM_OK;
    if (!values) return ebm_fail(EBM_EINVAL, "clamping needs values for the clamped units");
    g->mask = malloc(nv);
    g->clamp = ebm_calloc(g->n, nv * sizeof(float));
    if (!g->mask || !g->clamp) {
        free(g->mask);
        ebm_free(g->clamp);
        g->mask = NULL;
        g->clamp = NULL;
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    memcpy(g->mask, mask, nv);
    memcpy(g->clamp, values, g->n * nv * sizeof(float));
    apply_clamp(g);
    return EBM_OK;
}

ebm_status ebm_gibbs_set_precision(ebm_gibbs *g, ebm_precision p) {
    ebm_mm *mm;
    ebm_status s = ebm_mm_new(p, 0, &mm);
    if (s) return s;
    ebm_mm_free(g->mm);
    g->mm = mm;
    return EBM_OK;
}

/* The fp32 run: the flip-updated products, one parallel region per GIBBS_BLOCK sweeps. */
static ebm_status run_flips(ebm_gibbs *g, size_t steps, float T, ebm_rng *rng) {
    const ebm_rbm *m = g->m;
    size_t nv = m->n_vis, nh = m->n_hid, n = g->n;
    if (!g->wseen) {
        if (!(g->wseen = ebm_calloc(nv, nh * sizeof(float))))
            return ebm_fail(EBM_ENOMEM, "out of memory for the sampler's products");
        ebm_status s = ebm_flip_pair_new(n, nv, nh, &g->fl);
        if (s) {
            ebm_free(g->wseen);
            g->wseen = NULL;
            return s;
        }
        g->stale = 1;
    }
    if (g->stale || memcmp(g->wseen, m->W, nv * nh * sizeof(float))) {
        memcpy(g->wseen, m->W, nv * nh * sizeof(float));
        ebm_transpose(m->W, nv, nh, g->fl.wt);
        g->stale = 1;
    }
    uint64_t keys[2 * GIBBS_BLOCK];
    int par = n >= 8 && n * (nv + nh) >= 4096;
    for (size_t done = 0; done < steps;) {
        size_t len = steps - done < GIBBS_BLOCK ? steps - done : GIBBS_BLOCK;
        for (size_t k = 0; k < 2 * len; k++) keys[k] = ebm_rng_u64(rng);
        size_t base = g->sweeps;
        int stale = g->stale;
#pragma omp parallel if (par)
        {
            size_t r0, r1;
            ebm_binmm_rows(g->fl.vw, &r0, &r1);
            for (size_t k = 0; k < len && r0 < r1; k++) {
                int refresh = (k == 0 && stale) || (base + k) % GIBBS_REFRESH == 0;
                ebm_sigbern eh = {g->ph, nh, m->b, 1.0f / T, keys[2 * k], g->first, 0, g->h, nh, n, 1.0f, 1.0f};
                ebm_gemm_ep eph = {ebm_k_sigbern_ep, &eh};
                ebm_binmm_step_in(g->fl.vw, refresh, 1.0f, g->v, nv, m->W, nh, g->ph, nh, &eph);
                ebm_sigbern ev = {g->pv, nv, m->a, 1.0f / T, keys[2 * k + 1], g->first, 0, g->v, nv, n, 1.0f, 1.0f};
                ebm_gemm_ep epv = {ebm_k_sigbern_ep, &ev};
                ebm_binmm_step_in(g->fl.hw, refresh, 1.0f, g->h, nh, g->fl.wt, nv, g->pv, nv, &epv);
                clamp_rows(g, r0, r1);
            }
        }
        g->sweeps += len;
        g->stale = 0;
        done += len;
    }
    return EBM_OK;
}

ebm_status ebm_gibbs_run(ebm_gibbs *g, size_t steps, float T, ebm_rng *rng) {
    if (!(T > 0) || !isfinite(T)) return ebm_fail(EBM_EINVAL, "temperature must be a positive number, got %g", T);
    if (!ebm_mm_is_bf16(g->mm)) return run_flips(g, steps, T, rng);
    ebm_status st = ebm_mm_set_weights(g->mm, g->m->W, g->m->n_vis, g->m->n_hid);
    if (st) return st;
    for (size_t s = 0; s < steps; s++) {
        uint64_t kh = ebm_rng_u64(rng), kv = ebm_rng_u64(rng);
        ebm_rbm_sample_hidden_mm(g->m, g->mm, g->v, g->n, T, kh, g->first, g->ph, g->h);
        ebm_rbm_sample_visible_mm(g->m, g->mm, g->h, g->n, T, kv, g->first, g->pv, g->v);
        apply_clamp(g);
    }
    return EBM_OK;
}

size_t ebm_gibbs_chains(const ebm_gibbs *g) { return g->n; }
const float *ebm_gibbs_visible(const ebm_gibbs *g) { return g->v; }
const float *ebm_gibbs_hidden(const ebm_gibbs *g) { return g->h; }
const float *ebm_gibbs_visible_mean(const ebm_gibbs *g) { return g->pv; }
