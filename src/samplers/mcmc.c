/* Gradient-based and Metropolis samplers on the energy interface, for p(x) ∝ exp(-E(x) / T):
 *   ULA  (unadjusted Langevin; Roberts & Tweedie 1996):  x' = x - eta grad U(x) + sqrt(2 eta) xi,  U = E / T;
 *   SGLD (the practitioners' form of Welling & Teh 2011 used by Du & Mordatch 2019 and JEM, Grathwohl et
 *        al. 2020): x' = x - eta grad U(x) + sigma xi, with a noise scale sigma chosen apart from eta;
 *   MALA (Metropolis-adjusted Langevin): the ULA proposal y, accepted with probability
 *        min(1, exp(U(x) - U(y) + log q(x | y) - log q(y | x))), q(y | x) = N(y; x - eta grad U(x), 2 eta I);
 *   HMC  (Neal 2011, "MCMC using Hamiltonian dynamics", eq. 5.18-5.20): momentum p ~ N(0, I), L leapfrog
 *        steps of size eta (jittered by +-20% per chain and transition) on H = U(x) + |p|^2 / 2, accepted
 *        with probability min(1, exp(H - H'));
 *   RWM  (random-walk Metropolis): y = x + eta xi, accepted with probability min(1, exp(U(x) - U(y))).
 * Proximal ULA/SGLD (JEM++, Yang & Ji 2021, "JEM++: Improved techniques for training JEM"): the same move
 * with every coordinate's change clipped to [-prox, prox], i.e. x' projected onto the box of radius prox
 * around x; it bounds how far one step can go when the energy's gradient is large early in training.
 * All n chains move together (one batched energy or gradient call per evaluation), and every chain draws
 * its noise from its own Philox stream keyed by (seed, step), so runs are reproducible and do not depend on
 * the thread count.  Clamped coordinates never move (their drift and noise are zero), which makes the MH
 * corrections exact for the conditional distribution of the free coordinates.  A proposal with a
 * non-finite energy is rejected; an unadjusted chain that leaves the finite numbers stops the run. */
#include "samplers/samplers_internal.h"

#include <stdlib.h>
#include <string.h>

void ebm_mcmc_opts_default(ebm_mcmc_opts *o) {
    memset(o, 0, sizeof *o);
    o->kind = EBM_MCMC_ULA;
    o->steps = 100;
    o->step_size = 0.01f;
    o->noise = 0.005f;
    o->leapfrog = 10;
    o->temperature = 1.0f;
    o->seed = 1;
}

static const char *const names[] = {"ula", "sgld", "mala", "hmc", "rwm"};

const char *ebm_mcmc_name(ebm_mcmc_kind k) {
    return (unsigned)k < sizeof names / sizeof *names ? names[k] : "unknown";
}

ebm_status ebm_mcmc_parse(const char *name, ebm_mcmc_kind *k) {
    for (size_t i = 0; name && i < sizeof names / sizeof *names; i++)
        if (strcmp(name, names[i]) == 0) {
            *k = (ebm_mcmc_kind)i;
            return EBM_OK;
        }
    return ebm_fail(EBM_EINVAL, "unknown sampler '%s' (expected ula, sgld, mala, hmc or rwm)", name ? name : "");
}

typedef struct {
    ebm_energy *e;
    const ebm_mcmc_opts *o;
    size_t n, d;
    uint64_t row0;              /* the stream of chain i is that of chain row0 + i (ebm_mcmc_run_at) */
    double inv_t;
    float *g, *y, *gy, *xi, *p; /* (n, d) */
    float *E, *Ey;              /* (n) */
    float *eps;                 /* (n) HMC's jittered step sizes */
    size_t accepted;
} run;

/* zr (d) <- chain i's N(0, 1) draws from stream (key, row), zero at clamped coordinates. */
static void noise_row(const run *r, uint64_t key, size_t i, float *zr) {
    ebm_rng_fill_normal(key, r->row0 + i, 0, zr, r->d);
    if (r->o->clamp)
        for (size_t j = 0; j < r->d; j++)
            if (r->o->clamp[j]) zr[j] = 0.0f;
}

/* xi (n, d) <- every chain's noise_row. */
static void draw_noise(const run *r, uint64_t key, float *xi) {
#pragma omp parallel for schedule(static) if (r->n * r->d >= 65536)
    for (size_t i = 0; i < r->n; i++) noise_row(r, key, i, xi + i * r->d);
}

/* Zeroes the clamped coordinates of g (n, d). */
static void unclamp_grad(const run *r, float *g) {
    if (!r->o->clamp) return;
    for (size_t i = 0; i < r->n; i++)
        for (size_t j = 0; j < r->d; j++)
            if (r->o->clamp[j]) g[i * r->d + j] = 0.0f;
}

static ebm_status eval_grad(run *r, const float *x, float *E, float *g) {
    ebm_status s = r->e->grad_x(r->e, x, r->n, E, g);
    if (!s) unclamp_grad(r, g);
    return s;
}

static double sumsq_row(const float *a, size_t d) {
    double acc = 0;
    for (size_t j = 0; j < d; j++) acc += (double)a[j] * a[j];
    return acc;
}

/* Accepts row i of the proposal (y, gy, Ey) into (x, g, E) when log u < log_alpha. */
static void mh_accept(run *r, float *x, const double *log_alpha, uint64_t key) {
    size_t d = r->d, acc = 0;
#pragma omp parallel for schedule(static) reduction(+ : acc) if (r->n * d >= 65536)
    for (size_t i = 0; i < r->n; i++) {
        float u;
        ebm_rng_fill_uniform(key, r->row0 + i, 0, &u, 1);
        if (!(log((double)u) < log_alpha[i])) continue; /* NaN log_alpha rejects */
        memcpy(x + i * d, r->y + i * d, d * sizeof(float));
        if (r->g) memcpy(r->g + i * d, r->gy + i * d, d * sizeof(float));
        r->E[i] = r->Ey[i];
        acc++;
    }
    r->accepted += acc;
}

/* One ULA/SGLD move of rows [r0, r1) once their gradient is in r->g (ebm_rows_fn): each row's noise
 * (noise_row, as draw_noise), its move and its finiteness check in one pass, while the row is in cache. */
typedef struct {
    run *r;
    float *x;
    uint64_t key;
    float drift, sd;
    size_t bad; /* the first row that is not finite, n when none */
} lmove;

static void langevin_rows(size_t r0, size_t r1, void *user) {
    lmove *m = user;
    const run *r = m->r;
    const ebm_mcmc_opts *o = r->o;
    const size_t d = r->d;
    const float drift = m->drift, sd = m->sd, px = o->prox;
    const int clip = o->clip_lo < o->clip_hi;
    for (size_t i = r0; i < r1; i++) {
        float *xr = m->x + i * d, *zr = r->xi + i * d;
        float *gr = r->g + i * d;
        if (o->clamp) /* clamped coordinates do not move (unclamp_grad) */
            for (size_t j = 0; j < d; j++)
                if (o->clamp[j]) gr[j] = 0.0f;
        noise_row(r, m->key, i, zr);
        if (px > 0) { /* the proximal step: x' in the box of radius prox around x, i.e. the move clipped */
            for (size_t j = 0; j < d; j++) {
                float mv = -drift * gr[j] + sd * zr[j];
                xr[j] += mv < -px ? -px : mv > px ? px : mv;
            }
        } else {
#pragma omp simd
            for (size_t j = 0; j < d; j++) xr[j] += -drift * gr[j] + sd * zr[j];
        }
        if (clip)
            for (size_t j = 0; j < d; j++) xr[j] = xr[j] < o->clip_lo ? o->clip_lo : xr[j] > o->clip_hi ? o->clip_hi : xr[j];
        if (!ebm_k_all_finite(xr, d, NULL)) {
#pragma omp critical(ebm_langevin_bad)
            if (i < m->bad) m->bad = i;
        }
    }
}

/* The gradient and the move in one pass where the energy can (ebm_energy_grad_x_then). */
static ebm_status step_langevin(run *r, float *x, size_t t, uint64_t k1) {
    const ebm_mcmc_opts *o = r->o;
    lmove m = {r, x, k1, (float)(o->step_size * r->inv_t),
               o->kind == EBM_MCMC_SGLD ? o->noise : sqrtf(2.0f * o->step_size), r->n};
    ebm_status s = ebm_energy_grad_x_then(r->e, x, r->n, NULL, r->g, langevin_rows, &m);
    if (s) return s;
    if (m.bad < r->n)
        return ebm_fail(EBM_ENAN, "%s chain %zu diverged at step %zu (a smaller step size may help)",
                        ebm_mcmc_name(o->kind), m.bad, t + 1);
    return EBM_OK;
}

static ebm_status step_mala(run *r, float *x, double *la, uint64_t k1, uint64_t k2) {
    size_t n = r->n, d = r->d;
    float eta = r->o->step_size, drift = (float)(eta * r->inv_t), sd = sqrtf(2.0f * eta);
    draw_noise(r, k1, r->xi);
    for (size_t i = 0; i < n * d; i++) r->y[i] = x[i] - drift * r->g[i] + sd * r->xi[i];
    ebm_status s = eval_grad(r, r->y, r->Ey, r->gy);
    if (s) return s;
    for (size_t i = 0; i < n; i++) {
        /* log q(y | x) = -|xi|^2 / 2 and log q(x | y) = -|x - y + drift g(y)|^2 / (4 eta), up to one constant */
        double back = 0;
        for (size_t j = 0; j < d; j++) {
            double b = (double)x[i * d + j] - r->y[i * d + j] + (double)drift * r->gy[i * d + j];
            back += b * b;
        }
        la[i] = ((double)r->E[i] - r->Ey[i]) * r->inv_t - back / (4.0 * eta) + 0.5 * sumsq_row(r->xi + i * d, d);
    }
    mh_accept(r, x, la, k2);
    return EBM_OK;
}

static ebm_status step_hmc(run *r, float *x, double *la, uint64_t k1, uint64_t k2) {
    size_t n = r->n, d = r->d, L = r->o->leapfrog;
    float it = (float)r->inv_t;
    draw_noise(r, k1, r->p);
    /* each chain's step size is jittered uniformly within +-20% (Neal 2011, section 5.4.2.2), so that no
     * direction of the target is integrated for a near-multiple of its half period on every transition */
    for (size_t i = 0; i < n; i++) {
        float u;
        ebm_rng_fill_uniform(k2, r->row0 + i, 1, &u, 1);
        r->eps[i] = r->o->step_size * (0.8f + 0.4f * u);
        la[i] = (double)r->E[i] * r->inv_t + 0.5 * sumsq_row(r->p + i * d, d);
    }
    memcpy(r->y, x, n * d * sizeof(float));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) r->p[i * d + j] -= 0.5f * r->eps[i] * it * r->g[i * d + j];
    for (size_t l = 1; l <= L; l++) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++) r->y[i * d + j] += r->eps[i] * r->p[i * d + j];
        ebm_status s = eval_grad(r, r->y, r->Ey, r->gy);
        if (s) return s;
        for (size_t i = 0; i < n; i++) {
            float f = (l < L ? 1.0f : 0.5f) * r->eps[i] * it;
            for (size_t j = 0; j < d; j++) r->p[i * d + j] -= f * r->gy[i * d + j];
        }
    }
    for (size_t i = 0; i < n; i++) la[i] -= (double)r->Ey[i] * r->inv_t + 0.5 * sumsq_row(r->p + i * d, d);
    mh_accept(r, x, la, k2);
    return EBM_OK;
}

static ebm_status step_rwm(run *r, float *x, double *la, uint64_t k1, uint64_t k2) {
    size_t n = r->n, d = r->d;
    float eta = r->o->step_size;
    draw_noise(r, k1, r->xi);
    for (size_t i = 0; i < n * d; i++) r->y[i] = x[i] + eta * r->xi[i];
    ebm_status s = r->e->energy(r->e, r->y, n, r->Ey);
    if (s) return s;
    for (size_t i = 0; i < n; i++) la[i] = ((double)r->E[i] - r->Ey[i]) * r->inv_t;
    mh_accept(r, x, la, k2);
    return EBM_OK;
}

static ebm_status check_opts(const ebm_energy *e, const float *x, size_t n, const ebm_mcmc_opts *o) {
    const char *k = ebm_mcmc_name(o->kind);
    if (!e || !e->energy) return ebm_fail(EBM_EINVAL, "sampler: no energy");
    if ((unsigned)o->kind > EBM_MCMC_RWM) return ebm_fail(EBM_EINVAL, "sampler: unknown kind %d", (int)o->kind);
    if (o->kind != EBM_MCMC_RWM && !e->grad_x) return ebm_fail(EBM_EINVAL, "%s needs the energy's gradient", k);
    if (n == 0) return ebm_fail(EBM_EINVAL, "%s: no chains", k);
    size_t t;
    if (!ebm_mul_ok(n, e->dim, &t) || t > ((size_t)1 << 36)) return ebm_fail(EBM_EINVAL, "%s: too many chains", k);
    if (!(o->step_size > 0) || !isfinite(o->step_size))
        return ebm_fail(EBM_EINVAL, "%s: step size must be positive, got %g", k, (double)o->step_size);
    if (!(o->temperature > 0) || !isfinite(o->temperature))
        return ebm_fail(EBM_EINVAL, "%s: temperature must be positive, got %g", k, (double)o->temperature);
    if (o->kind == EBM_MCMC_SGLD && (!(o->noise >= 0) || !isfinite(o->noise)))
        return ebm_fail(EBM_EINVAL, "sgld: noise scale must be >= 0, got %g", (double)o->noise);
    if (o->kind == EBM_MCMC_HMC && (o->leapfrog < 1 || o->leapfrog > 10000))
        return ebm_fail(EBM_EINVAL, "hmc: leapfrog steps must be in 1..10000, got %zu", o->leapfrog);
    if (!(o->prox >= 0) || !isfinite(o->prox))
        return ebm_fail(EBM_EINVAL, "%s: the proximal radius must be >= 0, got %g", k, (double)o->prox);
    if (o->prox > 0 && o->kind != EBM_MCMC_ULA && o->kind != EBM_MCMC_SGLD)
        return ebm_fail(EBM_EINVAL, "%s: the proximal step goes with ula or sgld (it would break the Metropolis correction)", k);
    int clip = o->clip_lo < o->clip_hi;
    if (o->clip_lo > o->clip_hi || !isfinite(o->clip_lo) || !isfinite(o->clip_hi))
        return ebm_fail(EBM_EINVAL, "%s: clip range [%g, %g] is empty", k, (double)o->clip_lo, (double)o->clip_hi);
    if (clip && o->kind != EBM_MCMC_ULA && o->kind != EBM_MCMC_SGLD)
        return ebm_fail(EBM_EINVAL, "%s: clipping would break the Metropolis correction; clip with ula or sgld", k);
    size_t bad;
    if (!ebm_k_all_finite(x, n * e->dim, &bad))
        return ebm_fail(EBM_EINVAL, "%s: starting state of chain %zu, coordinate %zu, is not finite", k, bad / e->dim,
                        bad % e->dim);
    return EBM_OK;
}

ebm_status ebm_mcmc_run(ebm_energy *e, float *x, size_t n, const ebm_mcmc_opts *o, ebm_mcmc_stats *stats) {
    return ebm_mcmc_run_at(e, x, n, 0, o, stats);
}

ebm_status ebm_mcmc_run_slice(ebm_energy *e, float *x, size_t first, size_t n, const ebm_mcmc_opts *o,
                              ebm_mcmc_stats *stats) {
    return ebm_mcmc_run_at(e, x, n, first, o, stats);
}

ebm_status ebm_mcmc_run_at(ebm_energy *e, float *x, size_t n, uint64_t first, const ebm_mcmc_opts *o,
                           ebm_mcmc_stats *stats) {
    ebm_status s = check_opts(e, x, n, o);
    if (s) return s;
    double t0 = ebm_now();
    run r;
    memset(&r, 0, sizeof r);
    r.e = e;
    r.o = o;
    r.n = n;
    r.row0 = first;
    r.d = e->dim;
    r.inv_t = 1.0 / o->temperature;
    size_t nd = n * r.d;
    int mh = o->kind == EBM_MCMC_MALA || o->kind == EBM_MCMC_HMC || o->kind == EBM_MCMC_RWM;
    int grad = o->kind != EBM_MCMC_RWM;
    double *la = mh ? malloc(n * sizeof(double)) : NULL;
    r.xi = ebm_calloc(nd, sizeof(float));
    if (grad) r.g = ebm_calloc(nd, sizeof(float));
    if (mh) {
        r.y = ebm_calloc(nd, sizeof(float));
        r.E = ebm_calloc(n, sizeof(float));
        r.Ey = ebm_calloc(n, sizeof(float));
        if (grad) r.gy = ebm_calloc(nd, sizeof(float));
        if (o->kind == EBM_MCMC_HMC) {
            r.p = ebm_calloc(nd, sizeof(float));
            r.eps = ebm_calloc(n, sizeof(float));
        }
    }
    if (!r.xi || (grad && !r.g) || (mh && (!la || !r.y || !r.E || !r.Ey || (grad && !r.gy))) ||
        (o->kind == EBM_MCMC_HMC && (!r.p || !r.eps)))
        s = ebm_fail(EBM_ENOMEM, "out of memory for %zu chains of %zu", n, r.d);
    if (!s && mh) {
        s = grad ? eval_grad(&r, x, r.E, r.g) : e->energy(e, x, n, r.E);
        for (size_t i = 0; !s && i < n; i++)
            if (!isfinite(r.E[i]))
                s = ebm_fail(EBM_ENAN, "%s: the energy of chain %zu's starting state is not finite", ebm_mcmc_name(o->kind), i);
    }
    size_t every = o->steps / 100 ? o->steps / 100 : 1;
    for (size_t t = 0; !s && t < o->steps; t++) {
        ebm_rng kr;
        ebm_rng_seed(&kr, o->seed, o->seed_offset + t);
        uint64_t k1 = ebm_rng_u64(&kr), k2 = ebm_rng_u64(&kr);
        switch (o->kind) {
        case EBM_MCMC_ULA:
        case EBM_MCMC_SGLD: s = step_langevin(&r, x, t, k1); break;
        case EBM_MCMC_MALA: s = step_mala(&r, x, la, k1, k2); break;
        case EBM_MCMC_HMC: s = step_hmc(&r, x, la, k1, k2); break;
        case EBM_MCMC_RWM: s = step_rwm(&r, x, la, k1, k2); break;
        }
        if (!s && o->progress && (t + 1) % every == 0 && o->progress((double)(t + 1) / (double)o->steps, o->user))
            s = ebm_fail(EBM_ECANCELED, "sampling stopped after %zu of %zu steps", t + 1, o->steps);
    }
    if (stats) {
        stats->steps = o->steps;
        stats->accept_rate = !mh ? 1.0 : o->steps ? (double)r.accepted / ((double)n * (double)o->steps) : 0.0;
        stats->seconds = ebm_now() - t0;
    }
    free(la);
    ebm_free(r.xi);
    ebm_free(r.g);
    ebm_free(r.y);
    ebm_free(r.gy);
    ebm_free(r.p);
    ebm_free(r.eps);
    ebm_free(r.E);
    ebm_free(r.Ey);
    return s;
}
