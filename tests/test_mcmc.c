/* The energy interface and the samplers on it.  Energies: the Gaussian, the RBM free energy and the
 * compositions equal their formulas and their gradients equal central finite differences.  Samplers: on a
 * correlated 2-D Gaussian with known mean and covariance, MALA, HMC and random-walk Metropolis reproduce
 * both within stated bounds from 4,000 independent chains at a fixed seed, at T = 1 and T = 2; ULA's
 * stationary variance matches its known biased value 1 / (p (1 - eta p / 2)), so its bias shrinks with
 * eta; clamped coordinates stay put and the free ones follow the conditional distribution; clipping holds;
 * runs are reproducible and independent of the thread count; bad options are refused with a message. */
#include "rbm_fixtures.h"

#define NCH 4000

/* Sample mean and covariance of the 2-D rows of x (n, 2). */
static void moments2(const float *x, size_t n, double mu[2], double cov[3]) {
    mu[0] = mu[1] = cov[0] = cov[1] = cov[2] = 0;
    for (size_t i = 0; i < n; i++) {
        mu[0] += x[2 * i];
        mu[1] += x[2 * i + 1];
    }
    mu[0] /= (double)n;
    mu[1] /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double a = x[2 * i] - mu[0], b = x[2 * i + 1] - mu[1];
        cov[0] += a * a;
        cov[1] += a * b;
        cov[2] += b * b;
    }
    for (int k = 0; k < 3; k++) cov[k] /= (double)(n - 1);
}

/* Target: mean (1, -2), covariance [[1, 0.8], [0.8, 1]] -> precision [[1, -0.8], [-0.8, 1]] / 0.36. */
static const float MU[2] = {1.0f, -2.0f};
static const float PREC[4] = {1.0f / 0.36f, -0.8f / 0.36f, -0.8f / 0.36f, 1.0f / 0.36f};

static ebm_energy *gaussian2(void) {
    ebm_energy *e;
    REQUIRE(ebm_energy_gaussian(2, MU, PREC, &e) == EBM_OK);
    return e;
}

/* n chains started from N(0, 3^2 I), fixed seed. */
static float *start(size_t n, size_t d, uint64_t seed) {
    float *x = malloc(n * d * sizeof(float));
    ebm_rng r;
    ebm_rng_seed(&r, seed, 0);
    for (size_t i = 0; i < n * d; i++) x[i] = (float)(3 * ebm_rng_normal(&r));
    return x;
}

static void check_gaussian_moments(const char *what, const float *x, size_t n, double T, double tol_mu, double tol_cov) {
    double mu[2], cov[3];
    moments2(x, n, mu, cov);
    printf("  %-22s mean (%.3f, %.3f)  cov (%.3f, %.3f, %.3f)  [want (1, -2), (%g, %g, %g)]\n", what, mu[0], mu[1],
           cov[0], cov[1], cov[2], T, 0.8 * T, T);
    CHECK_MSG(fabs(mu[0] - 1) < tol_mu && fabs(mu[1] + 2) < tol_mu, "%s: mean (%g, %g)", what, mu[0], mu[1]);
    CHECK_MSG(fabs(cov[0] - T) < tol_cov * T && fabs(cov[1] - 0.8 * T) < tol_cov * T && fabs(cov[2] - T) < tol_cov * T,
              "%s: covariance (%g, %g, %g) at T = %g", what, cov[0], cov[1], cov[2], T);
}

static void test_exact_samplers(void) {
    ebm_energy *e = gaussian2();
    /* 4,000 chains: the standard error of a mean is 0.016 and of a variance 0.022; bounds are about 4 s.e. */
    const struct {
        ebm_mcmc_kind kind;
        float eta;
        size_t steps;
    } cases[3] = {{EBM_MCMC_MALA, 0.1f, 400}, {EBM_MCMC_HMC, 0.15f, 60}, {EBM_MCMC_RWM, 0.8f, 1500}};
    for (int c = 0; c < 3; c++)
        for (int ti = 0; ti < 2; ti++) {
            double T = ti ? 2.0 : 1.0;
            float *x = start(NCH, 2, 1 + (uint64_t)c);
            ebm_mcmc_opts o;
            ebm_mcmc_opts_default(&o);
            o.kind = cases[c].kind;
            o.step_size = cases[c].eta * (float)sqrt(T);
            o.steps = cases[c].steps;
            o.temperature = (float)T;
            o.seed = 10 + (uint64_t)c;
            ebm_mcmc_stats st;
            CHECK_OK(ebm_mcmc_run(e, x, NCH, &o, &st));
            char what[64];
            snprintf(what, sizeof what, "%s T=%g (acc %.2f)", ebm_mcmc_name(o.kind), T, st.accept_rate);
            check_gaussian_moments(what, x, NCH, T, 0.07 * sqrt(T), 0.1);
            CHECK_MSG(st.accept_rate > 0.3 && st.accept_rate < 1.0, "%s acceptance %g", what, st.accept_rate);
            free(x);
        }
    ebm_energy_free(e);
}

/* ULA on E = p x^2 / 2 has stationary variance 1 / (p (1 - eta p / 2)) instead of 1 / p. */
static void test_ula_bias(void) {
    const float mu = 0.0f, p = 4.0f;
    ebm_energy *e;
    REQUIRE(ebm_energy_gaussian(1, &mu, &p, &e) == EBM_OK);
    const float etas[3] = {0.2f, 0.05f, 0.0125f};
    double prev_bias = INFINITY;
    for (int k = 0; k < 3; k++) {
        size_t n = 20000;
        float *x = start(n, 1, 3);
        ebm_mcmc_opts o;
        ebm_mcmc_opts_default(&o);
        o.step_size = etas[k];
        o.steps = (size_t)(8.0 / (etas[k] * p)) + 50; /* about 8 relaxation times */
        o.seed = 4;
        CHECK_OK(ebm_mcmc_run(e, x, n, &o, NULL));
        double v = 0;
        for (size_t i = 0; i < n; i++) v += (double)x[i] * x[i] / (double)n;
        double want = 1.0 / (p * (1.0 - etas[k] * p / 2.0)), bias = v - 1.0 / p;
        printf("  ULA eta %.4f: variance %.4f, predicted %.4f, exact 0.25, bias %.4f\n", etas[k], v, want, bias);
        CHECK_MSG(fabs(v - want) < 0.04 * want, "ULA eta %g: variance %g vs predicted %g", etas[k], v, want);
        CHECK_MSG(bias < prev_bias, "ULA bias %g did not shrink (previous %g)", bias, prev_bias);
        prev_bias = bias;
        free(x);
    }
    ebm_energy_free(e);
}

/* Inpainting: with x_2 clamped at 0, x_1 follows N(1 + 0.8 (0 + 2), 1 - 0.64) = N(2.6, 0.36). */
static void test_clamp_and_clip(void) {
    ebm_energy *e = gaussian2();
    float *x = start(NCH, 2, 5);
    for (size_t i = 0; i < NCH; i++) x[2 * i + 1] = 0.0f;
    uint8_t clamp[2] = {0, 1};
    ebm_mcmc_opts o;
    ebm_mcmc_opts_default(&o);
    o.kind = EBM_MCMC_MALA;
    o.step_size = 0.1f;
    o.steps = 300;
    o.clamp = clamp;
    CHECK_OK(ebm_mcmc_run(e, x, NCH, &o, NULL));
    double m = 0, v = 0;
    int still = 1;
    for (size_t i = 0; i < NCH; i++) {
        m += x[2 * i] / (double)NCH;
        still &= x[2 * i + 1] == 0.0f;
    }
    for (size_t i = 0; i < NCH; i++) v += (x[2 * i] - m) * (x[2 * i] - m) / (double)(NCH - 1);
    printf("  clamped MALA: conditional mean %.3f (2.6), variance %.3f (0.36)\n", m, v);
    CHECK(still);
    CHECK_NEAR(m, 2.6, 0.04);
    CHECK_NEAR(v, 0.36, 0.036);

    /* ULA with clipping to [-1, 1] stays inside; MALA refuses to clip */
    float *y = start(100, 2, 6);
    o.kind = EBM_MCMC_ULA;
    o.clamp = NULL;
    o.clip_lo = -1;
    o.clip_hi = 1;
    o.steps = 20;
    CHECK_OK(ebm_mcmc_run(e, y, 100, &o, NULL));
    int inside = 1;
    for (size_t i = 0; i < 200; i++) inside &= y[i] >= -1 && y[i] <= 1;
    CHECK(inside);
    o.kind = EBM_MCMC_MALA;
    CHECK_FAILS(ebm_mcmc_run(e, y, 100, &o, NULL), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "clip") != NULL);
    free(x);
    free(y);
    ebm_energy_free(e);
}

static void test_reproducible(void) {
    ebm_energy *e = gaussian2();
    const ebm_mcmc_kind kinds[5] = {EBM_MCMC_ULA, EBM_MCMC_SGLD, EBM_MCMC_MALA, EBM_MCMC_HMC, EBM_MCMC_RWM};
    for (int k = 0; k < 5; k++) {
        size_t n = 40000; /* large enough for the parallel paths */
        float *a = start(n, 2, 7), *b = start(n, 2, 7);
        ebm_mcmc_opts o;
        ebm_mcmc_opts_default(&o);
        o.kind = kinds[k];
        o.step_size = 0.05f;
        o.steps = 5;
        int saved = ebm_get_threads();
        ebm_set_threads(1);
        CHECK_OK(ebm_mcmc_run(e, a, n, &o, NULL));
        ebm_set_threads(2);
        CHECK_OK(ebm_mcmc_run(e, b, n, &o, NULL));
        ebm_set_threads(saved);
        CHECK_MSG(memcmp(a, b, n * 2 * sizeof(float)) == 0, "%s differs between 1 and 2 threads", ebm_mcmc_name(kinds[k]));
        /* two calls of 2 and 3 steps with seed_offset equal one call of 5 */
        float *c = start(n, 2, 7);
        o.steps = 2;
        CHECK_OK(ebm_mcmc_run(e, c, n, &o, NULL));
        o.steps = 3;
        o.seed_offset = 2;
        CHECK_OK(ebm_mcmc_run(e, c, n, &o, NULL));
        if (kinds[k] == EBM_MCMC_ULA || kinds[k] == EBM_MCMC_SGLD)
            CHECK_MSG(memcmp(a, c, n * 2 * sizeof(float)) == 0, "%s: 2 + 3 steps differ from 5", ebm_mcmc_name(kinds[k]));
        free(a);
        free(b);
        free(c);
    }
    ebm_energy_free(e);
}

/* Central finite differences of E against grad_x, in float with a relative bound. */
static double grad_error(ebm_energy *e, const float *x0, size_t n, float h) {
    size_t d = e->dim;
    float *x = malloc(n * d * sizeof(float)), *g = malloc(n * d * sizeof(float));
    float *Ep = malloc(n * sizeof(float)), *Em = malloc(n * sizeof(float)), *E = malloc(n * sizeof(float));
    memcpy(x, x0, n * d * sizeof(float));
    REQUIRE(e->grad_x(e, x, n, E, g) == EBM_OK);
    double worst = 0;
    for (size_t j = 0; j < d; j++) {
        for (size_t i = 0; i < n; i++) x[i * d + j] = x0[i * d + j] + h;
        REQUIRE(e->energy(e, x, n, Ep) == EBM_OK);
        for (size_t i = 0; i < n; i++) x[i * d + j] = x0[i * d + j] - h;
        REQUIRE(e->energy(e, x, n, Em) == EBM_OK);
        for (size_t i = 0; i < n; i++) {
            x[i * d + j] = x0[i * d + j];
            double fd = ((double)Ep[i] - Em[i]) / (2.0 * h);
            double err = fabs(fd - g[i * d + j]) / (1.0 + fabs(fd));
            worst = err > worst ? err : worst;
        }
    }
    free(x);
    free(g);
    free(Ep);
    free(Em);
    free(E);
    return worst;
}

static void test_energies(void) {
    ebm_energy *g = gaussian2();
    float x[6] = {0.5f, 0.25f, -1.0f, 2.0f, 1.0f, -2.0f}, E[3];
    CHECK_OK(g->energy(g, x, 3, E));
    for (int i = 0; i < 3; i++) {
        double a = x[2 * i] - 1.0, b = x[2 * i + 1] + 2.0;
        double want = 0.5 * (a * a - 1.6 * a * b + b * b) / 0.36;
        CHECK_NEAR(E[i], want, 1e-5 * (1 + want));
    }
    CHECK(grad_error(g, x, 3, 1e-2f) < 1e-3);

    ebm_rbm *m = fixture_rbm(5, 4, 1.0, 0.5, 3);
    ebm_energy *r;
    CHECK_OK(ebm_energy_rbm(m, &r));
    float v[10] = {0.1f, 0.9f, 0.4f, 0.0f, 1.0f, 0.7f, 0.2f, 0.5f, 1.2f, -0.3f}, Er[2];
    double F[2];
    CHECK_OK(r->energy(r, v, 2, Er));
    CHECK_OK(ebm_rbm_free_energy(m, v, 2, 1.0f, F));
    CHECK_NEAR(Er[0], F[0], 1e-5);
    CHECK_NEAR(Er[1], F[1], 1e-5);
    double er = grad_error(r, v, 2, 1e-2f);
    printf("  RBM free-energy gradient: max relative error %.2e\n", er);
    CHECK(er < 1e-3);

    /* compositions of two Gaussians with different means */
    const float mu2[2] = {-1.0f, 1.0f}, p2[4] = {2.0f, 0.0f, 0.0f, 0.5f};
    ebm_energy *h;
    REQUIRE(ebm_energy_gaussian(2, mu2, p2, &h) == EBM_OK);
    ebm_energy *parts[2] = {g, h}, *sum, *neg, *lse;
    const float w[2] = {1.0f, 0.5f}, wn[2] = {1.0f, -0.25f};
    CHECK_OK(ebm_energy_sum(2, parts, w, &sum));
    CHECK_OK(ebm_energy_sum(2, parts, wn, &neg));
    CHECK_OK(ebm_energy_logsumexp(2, parts, &lse));
    float Eg[3], Eh[3], Es[3], En[3], El[3];
    CHECK_OK(g->energy(g, x, 3, Eg));
    CHECK_OK(h->energy(h, x, 3, Eh));
    CHECK_OK(sum->energy(sum, x, 3, Es));
    CHECK_OK(neg->energy(neg, x, 3, En));
    CHECK_OK(lse->energy(lse, x, 3, El));
    for (int i = 0; i < 3; i++) {
        CHECK_NEAR(Es[i], Eg[i] + 0.5 * Eh[i], 1e-5 * (1 + fabs(Es[i])));
        CHECK_NEAR(En[i], Eg[i] - 0.25 * Eh[i], 1e-5 * (1 + fabs(En[i])));
        double want = -log(exp(-(double)Eg[i]) + exp(-(double)Eh[i]));
        CHECK_NEAR(El[i], want, 1e-5 * (1 + fabs(want)));
    }
    CHECK(grad_error(sum, x, 3, 1e-2f) < 1e-3);
    CHECK(grad_error(neg, x, 3, 1e-2f) < 1e-3);
    CHECK(grad_error(lse, x, 3, 1e-2f) < 1e-3);
    /* the disjunction of far-apart experts keeps the larger energies finite (no overflow in exp) */
    float far[2] = {100.0f, -100.0f}, Ef;
    CHECK_OK(lse->energy(lse, far, 1, &Ef));
    CHECK(isfinite(Ef));
    ebm_energy *bad;
    ebm_energy *mixed[2] = {g, r};
    CHECK_FAILS(ebm_energy_sum(2, mixed, NULL, &bad), EBM_ESHAPE);
    CHECK_FAILS(ebm_energy_sum(0, parts, NULL, &bad), EBM_EINVAL);
    const float asym[4] = {1, 0.5f, 0.4f, 1};
    CHECK_FAILS(ebm_energy_gaussian(2, MU, asym, &bad), EBM_EINVAL);
    ebm_energy_free(sum);
    ebm_energy_free(neg);
    ebm_energy_free(lse);
    ebm_energy_free(h);
    ebm_energy_free(r);
    ebm_energy_free(g);
    ebm_energy_free(NULL);
    ebm_rbm_free(m);
}

/* The GRBM's free energy through the interface: equal to ebm_grbm_free_energy, gradients equal finite
 * differences, and MALA on it reproduces the exact mean and covariance of v (a mixture of 2^4 Gaussians). */
static void test_grbm_energy(void) {
    ebm_grbm *m;
    REQUIRE(ebm_grbm_new(3, 4, &m) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, 21, 0);
    REQUIRE(ebm_grbm_init(m, &r, 1.0f) == EBM_OK);
    for (size_t i = 0; i < 12; i++) m->W[i] = (float)(0.8 * ebm_rng_normal(&r));
    ebm_energy *e;
    CHECK_OK(ebm_energy_grbm(m, &e));
    CHECK(e->dim == 3 && e->n_params == m->n_params && e->grad_params != NULL);
    float v[6] = {0.3f, -1.0f, 0.5f, 1.5f, 0.2f, -0.7f}, E[2];
    double F[2];
    CHECK_OK(e->energy(e, v, 2, E));
    CHECK_OK(ebm_grbm_free_energy(m, v, 2, 1.0f, F));
    CHECK_NEAR(E[0], F[0], 1e-5 * (1 + fabs(F[0])));
    CHECK_NEAR(E[1], F[1], 1e-5 * (1 + fabs(F[1])));
    CHECK(grad_error(e, v, 2, 1e-2f) < 1e-3);
    double mean[3], cov[9];
    CHECK_OK(ebm_grbm_moments_exact(m, mean, cov));
    float *x = start(NCH, 3, 22);
    ebm_mcmc_opts o;
    ebm_mcmc_opts_default(&o);
    o.kind = EBM_MCMC_MALA;
    o.step_size = 0.1f;
    o.steps = 400;
    o.seed = 23;
    ebm_mcmc_stats st;
    CHECK_OK(ebm_mcmc_run(e, x, NCH, &o, &st));
    double mu[3] = {0, 0, 0}, worst = 0, worst_cov = 0;
    for (size_t i = 0; i < NCH; i++)
        for (int j = 0; j < 3; j++) mu[j] += x[i * 3 + j] / (double)NCH;
    for (int j = 0; j < 3; j++) {
        double sd = sqrt(cov[j * 3 + j]);
        worst = fabs(mu[j] - mean[j]) / sd > worst ? fabs(mu[j] - mean[j]) / sd : worst;
        for (int k = 0; k < 3; k++) {
            double c = 0;
            for (size_t i = 0; i < NCH; i++) c += (x[i * 3 + j] - mu[j]) * (x[i * 3 + k] - mu[k]) / (double)(NCH - 1);
            double err = fabs(c - cov[j * 3 + k]) / sqrt(cov[j * 3 + j] * cov[k * 3 + k]);
            worst_cov = err > worst_cov ? err : worst_cov;
        }
    }
    printf("  GRBM energy, MALA (acc %.2f): mean error %.3f sd, covariance error %.3f (correlation units)\n",
           st.accept_rate, worst, worst_cov);
    CHECK_MSG(worst < 0.07, "GRBM MALA mean error %g sd", worst);
    CHECK_MSG(worst_cov < 0.08, "GRBM MALA covariance error %g", worst_cov);
    free(x);
    ebm_energy_free(e);
    ebm_grbm_free(m);
}

static void test_bad_options(void) {
    ebm_energy *e = gaussian2();
    float x[4] = {0, 0, 1, 1};
    ebm_mcmc_opts o;
    ebm_mcmc_opts_default(&o);
    CHECK_FAILS(ebm_mcmc_run(e, x, 0, &o, NULL), EBM_EINVAL);
    o.step_size = 0;
    CHECK_FAILS(ebm_mcmc_run(e, x, 2, &o, NULL), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "step size") != NULL);
    ebm_mcmc_opts_default(&o);
    o.temperature = -1;
    CHECK_FAILS(ebm_mcmc_run(e, x, 2, &o, NULL), EBM_EINVAL);
    ebm_mcmc_opts_default(&o);
    o.kind = EBM_MCMC_HMC;
    o.leapfrog = 0;
    CHECK_FAILS(ebm_mcmc_run(e, x, 2, &o, NULL), EBM_EINVAL);
    ebm_mcmc_opts_default(&o);
    x[1] = NAN;
    CHECK_FAILS(ebm_mcmc_run(e, x, 2, &o, NULL), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "chain 0, coordinate 1") != NULL);
    x[1] = 0;
    /* a step size far too large for ULA diverges and says so */
    o.step_size = 10.0f;
    o.steps = 200;
    CHECK_FAILS(ebm_mcmc_run(e, x, 2, &o, NULL), EBM_ENAN);
    CHECK(strstr(ebm_last_error(), "diverged") != NULL);
    /* both chains blow up at the same step: the message names the first */
    CHECK(strstr(ebm_last_error(), "chain 0 diverged") != NULL);
    /* the same step size under MALA is merely rejected */
    float y[4] = {0, 0, 1, 1};
    o.kind = EBM_MCMC_MALA;
    ebm_mcmc_stats st;
    CHECK_OK(ebm_mcmc_run(e, y, 2, &o, &st));
    CHECK(st.accept_rate < 0.05);
    ebm_mcmc_kind k;
    CHECK_OK(ebm_mcmc_parse("hmc", &k));
    CHECK(k == EBM_MCMC_HMC);
    CHECK_FAILS(ebm_mcmc_parse("gibbs", &k), EBM_EINVAL);
    CHECK(strcmp(ebm_mcmc_name(EBM_MCMC_SGLD), "sgld") == 0);
    ebm_energy_free(e);
}

/* Proximal ULA (JEM++): with a radius far above any move it is plain ULA, bit for bit, and still targets the
 * 1-D Gaussian E = p x^2 / 2 (ULA's predicted variance); with a small radius no coordinate ever moves more than
 * it in one step, and chains started far out (large gradients) do hit the bound. */
static void test_proximal(void) {
    const float mu[2] = {0.0f, 0.0f}, p[4] = {4.0f, 0.0f, 0.0f, 4.0f};
    ebm_energy *e;
    REQUIRE(ebm_energy_gaussian(1, mu, p, &e) == EBM_OK);
    size_t n = 20000;
    float *x = start(n, 1, 3), *y = start(n, 1, 3);
    ebm_mcmc_opts o;
    ebm_mcmc_opts_default(&o);
    o.step_size = 0.0125f;
    o.steps = 250;
    o.seed = 4;
    CHECK_OK(ebm_mcmc_run(e, x, n, &o, NULL));
    o.prox = 100.0f;
    CHECK_OK(ebm_mcmc_run(e, y, n, &o, NULL));
    CHECK(memcmp(x, y, n * sizeof(float)) == 0);
    double v = 0, want = 1.0 / (4.0 * (1.0 - 0.0125 * 4.0 / 2.0));
    for (size_t i = 0; i < n; i++) v += (double)y[i] * y[i] / (double)n;
    printf("  proximal ULA radius 100: variance %.4f, predicted %.4f\n", v, want);
    CHECK_MSG(fabs(v - want) < 0.04 * want, "proximal ULA variance %g vs %g", v, want);
    ebm_energy_free(e);
    /* radius 0.05 on the 2-D Gaussian, one step at a time from N(0, 3^2): every move within the box */
    e = gaussian2();
    size_t m = 500, clipped = 0;
    float *z = start(m, 2, 7), *prev = malloc(m * 2 * sizeof(float));
    double worst = 0;
    o.prox = 0.05f;
    o.step_size = 0.05f;
    o.steps = 1;
    for (size_t t = 0; t < 40; t++) {
        memcpy(prev, z, m * 2 * sizeof(float));
        o.seed_offset = t;
        CHECK_OK(ebm_mcmc_run(e, z, m, &o, NULL));
        for (size_t i = 0; i < 2 * m; i++) {
            double dz = fabs((double)z[i] - prev[i]);
            worst = dz > worst ? dz : worst;
            clipped += dz > 0.0499;
        }
    }
    printf("  proximal ULA radius 0.05: largest move %.6f, %zu of %zu moves at the bound\n", worst, clipped, 2 * m * 40);
    CHECK(worst <= 0.05 + 1e-6);
    CHECK(clipped > 1000);
    o.kind = EBM_MCMC_MALA;
    CHECK_FAILS(ebm_mcmc_run(e, z, m, &o, NULL), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "proximal") != NULL);
    o.kind = EBM_MCMC_SGLD;
    o.prox = -1;
    CHECK_FAILS(ebm_mcmc_run(e, z, m, &o, NULL), EBM_EINVAL);
    free(x);
    free(y);
    free(z);
    free(prev);
    ebm_energy_free(e);
}

int main(void) {
    test_proximal();
    test_energies();
    test_exact_samplers();
    test_ula_bias();
    test_clamp_and_clip();
    test_reproducible();
    test_grbm_energy();
    test_bad_options();
    return check_summary("test_mcmc");
}
