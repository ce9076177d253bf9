/* Samplers of the Gaussian-Bernoulli RBM after Liao et al. (2022), "Gaussian-Bernoulli RBMs without
 * tears", section 3 and Algorithm 2:
 *  - block Gibbs: h ~ p(h | v) (Bernoulli), v ~ p(v | h) = N(W h + mu, T sigma^2) (exact conditionals);
 *  - Langevin on the marginal free energy: v' = v - eta_t S grad F_T(v) / T + sqrt(2 eta_t S) z, optionally
 *    Metropolis-adjusted (MALA; Roberts & Tweedie 1996) with log q(x'|x) = -||x' - x + eta S g(x)/T||^2_{S^-1} / (4 eta);
 *  - Gibbs-Langevin: h ~ p(h | v), then K Langevin steps on E(v, h)/T with h fixed, with the cosine step
 *    schedule eta_k = eta (1 + cos(pi k / K)) / 2 of the paper's code.  Because E(v, h) is quadratic in v,
 *    the K steps are one affine-Gaussian map per unit: v_K = A v_0 + (1 - A) m_h + N(0, s^2) with
 *    a_k = 1 - eta_k / T, A = prod_k a_k, s_i^2 = sigma_i^2 sum_k 2 eta_k prod_{j>k} a_j^2 (our derivation;
 *    the paper's code computes the same quantities), so the Metropolis-Hastings test of the joint move
 *    (v, h) -> (v', h' ~ p(h | v')) is exact:
 *      log alpha = -(F_T(v') - F_T(v)) / T + log q(v | v', h') - log q(v' | v, h).
 * S = diag(sigma^2) is a constant diagonal preconditioner (our choice, which leaves every target
 * invariant): step sizes are relative to each unit's variance, eta_t = eta * sigma_i^2, where the paper
 * uses one scalar eta * mean(sigma^2), which makes the Gibbs-Langevin map expand (|a| > 1) on units
 * whose variance is far below the mean.  Each step draws from Philox streams keyed per row, so chains do
 * not depend on the thread count; chains that are a slice of a larger set (grbm_chains_set_first,
 * ebm_grbm_chains_set_slice) draw from the streams of their index in the whole set. */
#include "models/grbm_internal.h"
#include "samplers/samplers_internal.h"

#include <stdlib.h>
#include <string.h>

struct ebm_grbm_chains {
    const ebm_grbm *m;
    size_t n;
    uint64_t row0;          /* chain r draws from the streams of chain row0 + r (0 unless set_first) */
    size_t total;           /* ... of a set of total chains (n unless set_slice: init_data's draws) */
    float *v, *h;           /* state (n, n_vis), (n, n_hid) */
    float *pre;             /* (n, n_hid) hidden pre-activation of v (no bias) */
    float *p;               /* (n, n_hid) */
    float *sc, *mean, *g;   /* (n, n_vis) */
    float *v2, *g2, *mean2; /* (n, n_vis) proposal */
    float *pre2, *h2;       /* (n, n_hid) */
    float *noise;           /* (n, n_vis) */
    float *iv, *var, *sd;   /* (n_vis) */
    double *F, *F2;         /* (n) */
    int h_valid;            /* h ~ p(h | v) of the current v (Gibbs-Langevin's joint state) */
    int cache_valid;        /* pre, F, g, mean are those of the current v, h and parameters */
    double accepted, proposed;
    size_t steps;           /* steps run since the chains' start (for mh_after) */
    ebm_mm *mm;             /* the products' precision (NULL: fp32, else bf16) */
};

void ebm_grbm_sample_opts_default(ebm_grbm_sample_opts *o) {
    memset(o, 0, sizeof *o);
    o->sampler = EBM_GRBM_GIBBS_LANGEVIN;
    o->mh = 0;
    o->T = 1.0f;
    o->eta = 0.5f;
    o->langevin_steps = 10;
    o->anneal = 1;
}

static const char *const names[] = {"gibbs", "langevin", "gibbs-langevin"};

ebm_status ebm_grbm_sampler_parse(const char *name, ebm_grbm_sampler *out) {
    for (int i = 0; i < 3; i++)
        if (name && strcmp(name, names[i]) == 0) {
            *out = (ebm_grbm_sampler)i;
            return EBM_OK;
        }
    return ebm_fail(EBM_EINVAL, "unknown sampler '%s' (gibbs|langevin|gibbs-langevin)", name ? name : "");
}

const char *ebm_grbm_sampler_name(ebm_grbm_sampler s) {
    return (unsigned)s < 3 ? names[s] : "unknown";
}

ebm_status ebm_grbm_chains_new(const ebm_grbm *m, size_t n, ebm_grbm_chains **out) {
    *out = NULL;
    if (n == 0) return ebm_fail(EBM_EINVAL, "the number of chains must be at least 1");
    if (n > (size_t)1 << 24) return ebm_fail(EBM_EINVAL, "%zu chains is too many", n);
    ebm_grbm_chains *c = calloc(1, sizeof *c);
    if (!c) return ebm_fail(EBM_ENOMEM, "out of memory");
    c->m = m;
    c->n = c->total = n;
    size_t nv = m->n_vis, nh = m->n_hid;
    float **vis[] = {&c->v, &c->sc, &c->mean, &c->g, &c->v2, &c->g2, &c->mean2, &c->noise};
    float **hid[] = {&c->h, &c->pre, &c->p, &c->pre2, &c->h2};
    bool ok = true;
    for (size_t i = 0; i < sizeof vis / sizeof *vis; i++) ok &= (*vis[i] = ebm_calloc(n, nv * sizeof(float))) != NULL;
    for (size_t i = 0; i < sizeof hid / sizeof *hid; i++) ok &= (*hid[i] = ebm_calloc(n, nh * sizeof(float))) != NULL;
    ok &= (c->iv = ebm_calloc(nv, sizeof(float))) != NULL;
    ok &= (c->var = ebm_calloc(nv, sizeof(float))) != NULL;
    ok &= (c->sd = ebm_calloc(nv, sizeof(float))) != NULL;
    ok &= (c->F = calloc(n, sizeof(double))) != NULL;
    ok &= (c->F2 = calloc(n, sizeof(double))) != NULL;
    if (!ok) {
        ebm_grbm_chains_free(c);
        return ebm_fail(EBM_ENOMEM, "out of memory for %zu chains", n);
    }
    *out = c;
    return EBM_OK;
}

void ebm_grbm_chains_free(ebm_grbm_chains *c) {
    if (!c) return;
    float *bufs[] = {c->v, c->sc, c->mean, c->g, c->v2, c->g2, c->mean2, c->noise, c->h, c->pre, c->p, c->pre2,
                     c->h2, c->iv, c->var, c->sd};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) ebm_free(bufs[i]);
    free(c->F);
    free(c->F2);
    ebm_mm_free(c->mm);
    free(c);
}

ebm_status grbm_chains_prepare(ebm_grbm_chains *c, const ebm_grbm_sample_opts *o) {
    ebm_precision r;
    ebm_status s = ebm_precision_resolve(o->precision, &r);
    if (s || (c->mm != NULL) == (r == EBM_PRECISION_BF16)) return s;
    ebm_mm *mm;
    if ((s = ebm_mm_new(r, 0, &mm))) return s; /* NULL for fp32 */
    ebm_mm_free(c->mm);
    c->mm = mm;
    return EBM_OK;
}

ebm_status ebm_grbm_chains_init_noise(ebm_grbm_chains *c, float scale, ebm_rng *rng) {
    if (!(scale >= 0) || !isfinite(scale)) return ebm_fail(EBM_EINVAL, "noise scale must be >= 0, got %g", scale);
    size_t nv = c->m->n_vis;
    uint64_t key = ebm_rng_u64(rng);
    for (size_t r = 0; r < c->n; r++) {
        float *v = c->v + r * nv;
        ebm_rng_fill_normal(key, c->row0 + r, 0, v, nv);
        for (size_t i = 0; i < nv; i++) v[i] *= scale;
    }
    c->h_valid = c->cache_valid = 0;
    c->steps = 0;
    return EBM_OK;
}

ebm_status ebm_grbm_chains_init_data(ebm_grbm_chains *c, const ebm_mat *data, ebm_rng *rng) {
    size_t nv = c->m->n_vis;
    if (data->cols != nv)
        return ebm_fail(EBM_ESHAPE, "data has %zu columns but the model has %zu visible units", data->cols, nv);
    if (data->rows == 0) return ebm_fail(EBM_EINVAL, "cannot start chains from an empty data set");
    for (size_t r = 0; r < c->total; r++) { /* every chain's row, in order; ours kept */
        size_t i = (size_t)ebm_rng_below(rng, data->rows);
        if (r >= c->row0 && r - c->row0 < c->n) memcpy(c->v + (r - c->row0) * nv, data->data + i * nv, nv * sizeof(float));
    }
    c->h_valid = c->cache_valid = 0;
    c->steps = 0;
    return EBM_OK;
}

size_t ebm_grbm_chains_count(const ebm_grbm_chains *c) { return c->n; }
float *ebm_grbm_chains_visible(ebm_grbm_chains *c) {
    c->h_valid = c->cache_valid = 0; /* the caller may write through the pointer */
    return c->v;
}
const float *grbm_chains_v(const ebm_grbm_chains *c) { return c->v; }
const float *grbm_chains_pre(const ebm_grbm_chains *c) { return c->cache_valid ? c->pre : NULL; }
void grbm_chains_set_first(ebm_grbm_chains *c, uint64_t first) {
    c->row0 = first;
    c->total = (size_t)first + c->n;
}
ebm_status ebm_grbm_chains_set_slice(ebm_grbm_chains *c, size_t first, size_t total) {
    ebm_status s = ebm_slice_check(first, c->n, total);
    if (!s) {
        grbm_chains_set_first(c, first);
        c->total = total;
    }
    return s;
}
const float *ebm_grbm_chains_hidden(const ebm_grbm_chains *c) { return c->h; }
int grbm_chains_h_valid(const ebm_grbm_chains *c) { return c->h_valid; }
void grbm_chains_restore(ebm_grbm_chains *c, const float *v, const float *h, int h_valid) {
    memcpy(c->v, v, c->n * c->m->n_vis * sizeof(float));
    memcpy(c->h, h, c->n * c->m->n_hid * sizeof(float));
    c->h_valid = h_valid;
    c->cache_valid = 0;
}
double ebm_grbm_chains_accept_rate(const ebm_grbm_chains *c) {
    return c->proposed > 0 ? c->accepted / c->proposed : 1.0;
}
void ebm_grbm_chains_reset_stats(ebm_grbm_chains *c) { c->accepted = c->proposed = 0; }

/* pre (n, n_hid) and F_T (n) of the rows of v. */
static void eval_fe(ebm_grbm_chains *c, const float *v, float *pre, double *F, double T) {
    const ebm_grbm *m = c->m;
    grbm_pre_hidden(m, c->mm, c->iv, v, c->n, c->sc, pre);
#pragma omp parallel for schedule(static) if (c->n * m->n_hid >= 65536)
    for (size_t r = 0; r < c->n; r++) F[r] = grbm_fe_row(m, c->iv, v + r * m->n_vis, pre + r * m->n_hid, T);
}

/* g (n, n_vis) = grad F_T at v from its pre-activation pre (p is scratch). */
static void eval_grad(ebm_grbm_chains *c, const float *v, const float *pre, float *g, float T) {
    size_t nh = c->m->n_hid;
    memcpy(c->p, pre, c->n * nh * sizeof(float));
    ebm_k_sigmoid_bernoulli(c->p, c->m->b, c->n, nh, 1.0f / T, 0, NULL);
    grbm_grad_v(c->m, c->mm, c->iv, v, c->p, c->n, g);
}

static double cosine_eta(double eta, size_t k, size_t K) {
    return eta * 0.5 * (1.0 + cos(M_PI * (double)k / (double)K));
}

static void gibbs_step(ebm_grbm_chains *c, float T, ebm_rng *rng) {
    const ebm_grbm *m = c->m;
    size_t nv = m->n_vis, nh = m->n_hid;
    uint64_t k1 = ebm_rng_u64(rng), k2 = ebm_rng_u64(rng);
    grbm_pre_hidden(m, c->mm, c->iv, c->v, c->n, c->sc, c->pre);
    memcpy(c->p, c->pre, c->n * nh * sizeof(float));
    ebm_k_sigmoid_bernoulli_at(c->p, m->b, c->n, nh, 1.0f / T, k1, c->row0, c->h);
    grbm_vis_mean(m, c->mm, c->h, c->n, c->mean);
    float st = sqrtf(T);
#pragma omp parallel for schedule(static) if (c->n * nv >= 65536)
    for (size_t r = 0; r < c->n; r++) {
        float *v = c->v + r * nv, *z = c->noise + r * nv;
        ebm_rng_fill_normal(k2, c->row0 + r, 0, z, nv);
        for (size_t i = 0; i < nv; i++) v[i] = c->mean[r * nv + i] + st * c->sd[i] * z[i];
    }
    c->h_valid = 0; /* h is the state v was drawn from, not p(h | new v) */
    c->cache_valid = 0;
}

static void langevin_step(ebm_grbm_chains *c, const ebm_grbm_sample_opts *o, double eta, ebm_rng *rng) {
    const ebm_grbm *m = c->m;
    size_t nv = m->n_vis, n = c->n;
    float T = o->T;
    uint64_t kz = ebm_rng_u64(rng), ku = ebm_rng_u64(rng);
    if (!c->cache_valid) {
        eval_fe(c, c->v, c->pre, c->F, T);
        eval_grad(c, c->v, c->pre, c->g, T);
        c->cache_valid = 1;
    }
    double s2 = sqrt(2.0 * eta);
#pragma omp parallel for schedule(static) if (n * nv >= 65536)
    for (size_t r = 0; r < n; r++) {
        float *z = c->noise + r * nv;
        ebm_rng_fill_normal(kz, c->row0 + r, 0, z, nv);
        for (size_t i = 0; i < nv; i++) {
            size_t q = r * nv + i;
            c->v2[q] = (float)(c->v[q] - eta * c->var[i] * c->g[q] / T + s2 * c->sd[i] * z[i]);
        }
    }
    eval_fe(c, c->v2, c->pre2, c->F2, T);
    eval_grad(c, c->v2, c->pre2, c->g2, T);
    size_t nh = m->n_hid;
    for (size_t r = 0; r < n; r++) {
        bool accept = true;
        if (o->mh) {
            double lq_fwd = 0, lq_rev = 0;
            for (size_t i = 0; i < nv; i++) {
                size_t q = r * nv + i;
                double f = (double)c->v2[q] - c->v[q] + eta * c->var[i] * c->g[q] / T;
                double b = (double)c->v[q] - c->v2[q] + eta * c->var[i] * c->g2[q] / T;
                lq_fwd -= f * f * c->iv[i] / (4 * eta);
                lq_rev -= b * b * c->iv[i] / (4 * eta);
            }
            double la = -(c->F2[r] - c->F[r]) / T + lq_rev - lq_fwd;
            float x;
            ebm_rng_fill_uniform(ku, c->row0 + r, 0, &x, 1);
            accept = la >= 0 || log((double)x) < la;
            c->proposed += 1;
            c->accepted += accept;
        }
        if (accept) {
            memcpy(c->v + r * nv, c->v2 + r * nv, nv * sizeof(float));
            memcpy(c->g + r * nv, c->g2 + r * nv, nv * sizeof(float));
            memcpy(c->pre + r * nh, c->pre2 + r * nh, nh * sizeof(float));
            c->F[r] = c->F2[r];
        }
    }
    c->h_valid = 0;
}

static void gibbs_langevin_step(ebm_grbm_chains *c, const ebm_grbm_sample_opts *o, ebm_rng *rng) {
    const ebm_grbm *m = c->m;
    size_t nv = m->n_vis, nh = m->n_hid, n = c->n, K = o->langevin_steps;
    float T = o->T;
    uint64_t kh0 = ebm_rng_u64(rng), kz = ebm_rng_u64(rng), kh = ebm_rng_u64(rng), ku = ebm_rng_u64(rng);
    if (!c->h_valid || !c->cache_valid) {
        /* (v, h ~ p(h | v)) is the joint state; its F and mean W h + mu are cached */
        eval_fe(c, c->v, c->pre, c->F, T);
        memcpy(c->p, c->pre, n * nh * sizeof(float));
        if (!c->h_valid) ebm_k_sigmoid_bernoulli_at(c->p, m->b, n, nh, 1.0f / T, kh0, c->row0, c->h);
        grbm_vis_mean(m, c->mm, c->h, n, c->mean);
        c->h_valid = c->cache_valid = 1;
    }
    /* the K-step map's coefficients: A = prod a_k, s2 = sum_k 2 eta_k prod_{j>k} a_j^2 (per unit of sigma^2) */
    double A = 1, s2 = 0;
    for (size_t k = 0; k < K; k++) {
        double ek = o->anneal ? cosine_eta(o->eta, k, K) : o->eta, a = 1.0 - ek / T;
        A *= a;
        s2 = s2 * a * a + 2 * ek;
    }
    /* Given h the K Langevin steps on E(v, h) are a linear Gaussian map of v (an Ornstein-Uhlenbeck walk towards
     * m_h), so their result is drawn exactly in one move: v_K = A v + (1 - A) m_h + sqrt(s2) sigma z.  Same
     * distribution as K separate steps with K draws each; one normal per unit instead of K. */
    float fa = (float)A, fs = (float)sqrt(s2);
#pragma omp parallel for schedule(static) if (n * nv >= 16384)
    for (size_t r = 0; r < n; r++) {
        float *z = c->noise + r * nv, *x = c->v2 + r * nv;
        const float *v = c->v + r * nv, *mh = c->mean + r * nv;
        ebm_rng_fill_normal(kz, c->row0 + r, 0, z, nv);
        for (size_t i = 0; i < nv; i++) x[i] = fa * v[i] + (1 - fa) * mh[i] + fs * c->sd[i] * z[i];
    }
    eval_fe(c, c->v2, c->pre2, c->F2, T);
    memcpy(c->p, c->pre2, n * nh * sizeof(float));
    ebm_k_sigmoid_bernoulli_at(c->p, m->b, n, nh, 1.0f / T, kh, c->row0, c->h2);
    grbm_vis_mean(m, c->mm, c->h2, n, c->mean2);
    for (size_t r = 0; r < n; r++) {
        bool accept = true;
        if (o->mh) {
            double lq_fwd = 0, lq_rev = 0;
            for (size_t i = 0; i < nv; i++) {
                size_t q = r * nv + i;
                double f = (double)c->v2[q] - A * c->v[q] - (1 - A) * c->mean[q];
                double b = (double)c->v[q] - A * c->v2[q] - (1 - A) * c->mean2[q];
                double var = s2 * c->var[i];
                lq_fwd -= f * f / (2 * var);
                lq_rev -= b * b / (2 * var);
            }
            double la = -(c->F2[r] - c->F[r]) / T + lq_rev - lq_fwd;
            float x;
            ebm_rng_fill_uniform(ku, c->row0 + r, 0, &x, 1);
            accept = la >= 0 || log((double)x) < la;
            c->proposed += 1;
            c->accepted += accept;
        }
        if (accept) {
            memcpy(c->v + r * nv, c->v2 + r * nv, nv * sizeof(float));
            memcpy(c->h + r * nh, c->h2 + r * nh, nh * sizeof(float));
            memcpy(c->pre + r * nh, c->pre2 + r * nh, nh * sizeof(float));
            memcpy(c->mean + r * nv, c->mean2 + r * nv, nv * sizeof(float));
            c->F[r] = c->F2[r];
        }
    }
}

ebm_status grbm_sample_opts_check(const ebm_grbm_sample_opts *o) {
    if ((unsigned)o->sampler > EBM_GRBM_GIBBS_LANGEVIN) return ebm_fail(EBM_EINVAL, "unknown GRBM sampler %d", (int)o->sampler);
    if (!(o->T > 0) || !isfinite(o->T)) return ebm_fail(EBM_EINVAL, "temperature must be a positive number, got %g", o->T);
    if (!(o->eta > 0) || !isfinite(o->eta)) return ebm_fail(EBM_EINVAL, "Langevin step size must be positive, got %g", o->eta);
    if (o->sampler == EBM_GRBM_GIBBS_LANGEVIN && (o->langevin_steps < 1 || o->langevin_steps > 100000))
        return ebm_fail(EBM_EINVAL, "Langevin steps per Gibbs-Langevin step must be in 1..100000");
    ebm_precision r;
    return ebm_precision_resolve(o->precision, &r);
}

ebm_status grbm_chains_step(ebm_grbm_chains *c, const ebm_grbm_sample_opts *o, size_t t, size_t total, ebm_rng *rng) {
    if (t == 0) {
        ebm_status s = ebm_mm_set_weights(c->mm, c->m->W, c->m->n_vis, c->m->n_hid);
        if (s) return s;
        grbm_variances(c->m, c->iv, c->var);
        for (size_t i = 0; i < c->m->n_vis; i++) c->sd[i] = sqrtf(c->var[i]);
        c->cache_valid = 0;
    }
    switch (o->sampler) {
    case EBM_GRBM_GIBBS: gibbs_step(c, o->T, rng); break;
    case EBM_GRBM_LANGEVIN:
        langevin_step(c, o, o->anneal && total > 1 ? cosine_eta(o->eta, t, total) : o->eta, rng);
        break;
    case EBM_GRBM_GIBBS_LANGEVIN: gibbs_langevin_step(c, o, rng); break;
    }
    return EBM_OK;
}

ebm_status ebm_grbm_chains_run(ebm_grbm_chains *c, const ebm_grbm_sample_opts *o, size_t steps, ebm_rng *rng) {
    ebm_status s = grbm_sample_opts_check(o);
    if (!s) s = grbm_chains_prepare(c, o);
    if (s) return s;
    if (o->mh && c->steps < o->mh_after && steps > 0) { /* the unadjusted steps first, as a run of their own */
        ebm_grbm_sample_opts first = *o;
        first.mh = 0;
        size_t k = o->mh_after - c->steps < steps ? o->mh_after - c->steps : steps;
        if ((s = ebm_grbm_chains_run(c, &first, k, rng)) || k == steps) return s;
        steps -= k;
    }
    for (size_t t = 0; t < steps; t++)
        if ((s = grbm_chains_step(c, o, t, steps, rng))) return s;
    c->steps += steps;
    size_t bad;
    if (!ebm_k_all_finite(c->v, c->n * c->m->n_vis, &bad))
        return ebm_fail(EBM_ENAN, "chain %zu diverged (a visible value is not finite); try a smaller step size",
                        bad / c->m->n_vis);
    return EBM_OK;
}

ebm_status ebm_grbm_chains_mean(ebm_grbm_chains *c, float T, ebm_rng *rng, float *mean) {
    if (!(T > 0) || !isfinite(T)) return ebm_fail(EBM_EINVAL, "temperature must be a positive number, got %g", T);
    const ebm_grbm *m = c->m;
    size_t nh = m->n_hid;
    ebm_status s = ebm_mm_set_weights(c->mm, m->W, m->n_vis, nh); /* the model may have changed since the run */
    if (s) return s;
    grbm_variances(m, c->iv, c->var);
    grbm_pre_hidden(m, c->mm, c->iv, c->v, c->n, c->sc, c->p);
    ebm_k_sigmoid_bernoulli_at(c->p, m->b, c->n, nh, 1.0f / T, ebm_rng_u64(rng), c->row0, c->h2);
    grbm_vis_mean(m, c->mm, c->h2, c->n, mean);
    return EBM_OK;
}
