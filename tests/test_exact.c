/* Exact log Z by enumerating the smaller layer against brute force over both layers; enumerating the
 * visible layer against enumerating the hidden layer of the transposed model; the exact log-likelihood
 * gradient against finite differences of the exact log-likelihood; the exact pseudo-log-likelihood and
 * the reconstruction error against their definitions. */
#include "rbm_fixtures.h"

/* The same model with the layers swapped: W' (n_hid, n_vis), a <-> b. Its log Z is the same. */
static ebm_rbm *transposed(const ebm_rbm *m) {
    ebm_rbm *t;
    REQUIRE(ebm_rbm_new(m->n_hid, m->n_vis, &t) == EBM_OK);
    for (size_t i = 0; i < m->n_vis; i++)
        for (size_t j = 0; j < m->n_hid; j++) t->W[j * m->n_vis + i] = m->W[i * m->n_hid + j];
    memcpy(t->a, m->b, m->n_hid * sizeof(float));
    memcpy(t->b, m->a, m->n_vis * sizeof(float));
    return t;
}

static void test_log_z_brute(void) {
    const size_t shapes[4][2] = {{6, 5}, {5, 6}, {1, 9}, {10, 1}};
    for (int k = 0; k < 4; k++) {
        ebm_rbm *m = fixture_rbm(shapes[k][0], shapes[k][1], 1.0, 0.5, 20 + (uint64_t)k);
        const double temps[3] = {1.0, 0.7, 3.0};
        for (int t = 0; t < 3; t++) {
            double lz, brute = fixture_log_z_brute(m, (double)(float)temps[t]);
            CHECK_OK(ebm_rbm_log_z_exact(m, (float)temps[t], &lz));
            CHECK_NEAR(lz, brute, 1e-9 * (1 + fabs(brute)));
        }
        ebm_rbm_free(m);
    }
}

static void test_visible_vs_hidden_enumeration(void) {
    /* 12 visible x 18 hidden enumerates the visible layer; its transpose enumerates the hidden layer. */
    ebm_rbm *m = fixture_rbm(12, 18, 0.4, 0.3, 31);
    ebm_rbm *t = transposed(m);
    double a, b;
    CHECK_OK(ebm_rbm_log_z_exact(m, 1.0f, &a));
    CHECK_OK(ebm_rbm_log_z_exact(t, 1.0f, &b));
    CHECK_NEAR(a, b, 1e-9 * fabs(a));
    /* and a wide model: 20 hidden units against 300 visible units */
    ebm_rbm *w = fixture_rbm(300, 20, 0.05, 0.2, 32);
    ebm_rbm *wt = transposed(w);
    ebm_rbm_free(t);
    CHECK_OK(ebm_rbm_log_z_exact(w, 1.0f, &a));
    /* the transpose has 20 visible units: enumerating them must agree */
    CHECK_OK(ebm_rbm_log_z_exact(wt, 1.0f, &b));
    CHECK_NEAR(a, b, 1e-9 * fabs(a));
    printf("log Z of a 300 x 20 RBM: %.6f by hidden and %.6f by visible enumeration\n", a, b);
    ebm_rbm_free(w);
    ebm_rbm_free(wt);
    ebm_rbm_free(m);
}

static double exact_ll(const ebm_rbm *m, const float *v, size_t n) {
    double lz, ll;
    REQUIRE(ebm_rbm_log_z_exact(m, 1.0f, &lz) == EBM_OK);
    REQUIRE(ebm_rbm_log_likelihood(m, v, n, lz, &ll) == EBM_OK);
    return ll;
}

static void test_ll_and_grad(void) {
    const size_t shapes[2][2] = {{5, 7}, {8, 4}}; /* enumerates visible, then hidden */
    for (int k = 0; k < 2; k++) {
        size_t nv = shapes[k][0], nh = shapes[k][1];
        ebm_rbm *m = fixture_rbm(nv, nh, 0.7, 0.4, 40 + (uint64_t)k);
        enum { N = 6 };
        float v[N * 8];
        ebm_rng r;
        ebm_rng_seed(&r, 41, 0);
        for (size_t i = 0; i < N * nv; i++) v[i] = (float)(ebm_rng_u32(&r) & 1);
        /* log-likelihood of one vector by brute force */
        double lz = fixture_log_z_brute(m, 1.0), lp = 0;
        for (size_t q = 0; q < N; q++) {
            double mx = -INFINITY, s = 0;
            float h[8];
            for (uint64_t y = 0; y < ((uint64_t)1 << nh); y++) {
                fixture_bits(y, nh, h);
                double t = -fixture_energy(m, v + q * nv, h);
                if (t > mx) {
                    s = s * exp(mx - t) + 1;
                    mx = t;
                } else {
                    s += exp(t - mx);
                }
            }
            lp += mx + log(s) - lz;
        }
        CHECK_NEAR(exact_ll(m, v, N), lp / N, 1e-5);

        float *g = calloc(m->n_params, sizeof(float));
        CHECK_OK(ebm_rbm_exact_ll_grad(m, v, N, g));
        double worst = 0;
        for (size_t p = 0; p < m->n_params; p++) {
            float keep = m->params[p], h = 1e-2f;
            m->params[p] = keep + h;
            double fp = exact_ll(m, v, N);
            m->params[p] = keep - h;
            double fm = exact_ll(m, v, N);
            m->params[p] = keep;
            double fd = (fp - fm) / (2.0 * h);
            double err = fabs(fd - g[p]) / (1e-2 + fabs(fd));
            worst = err > worst ? err : worst;
            CHECK_MSG(err < 3e-3, "%zu x %zu param %zu: exact gradient %g vs finite difference %g", nv, nh, p, g[p], fd);
        }
        printf("%zu x %zu: exact log-likelihood gradient worst relative error %.2e\n", nv, nh, worst);
        free(g);
        ebm_rbm_free(m);
    }
}

static void test_pll_and_recon(void) {
    ebm_rbm *m = fixture_rbm(9, 6, 0.6, 0.4, 50);
    enum { N = 5 };
    float v[N * 9];
    ebm_rng r;
    ebm_rng_seed(&r, 51, 0);
    for (int i = 0; i < N * 9; i++) v[i] = (float)(ebm_rng_u32(&r) & 1);
    double pll, expect = 0;
    CHECK_OK(ebm_rbm_pseudo_ll(m, v, N, &pll));
    for (int q = 0; q < N; q++)
        for (int i = 0; i < 9; i++) {
            float flip[9];
            memcpy(flip, v + q * 9, sizeof flip);
            flip[i] = 1 - flip[i];
            double F0, F1;
            REQUIRE(ebm_rbm_free_energy(m, v + q * 9, 1, 1.0f, &F0) == EBM_OK);
            REQUIRE(ebm_rbm_free_energy(m, flip, 1, 1.0f, &F1) == EBM_OK);
            expect += log(exp(-F0) / (exp(-F0) + exp(-F1)));
        }
    CHECK_NEAR(pll, expect / N, 1e-4);
    v[3] = 0.5f;
    CHECK_FAILS(ebm_rbm_pseudo_ll(m, v, N, &pll), EBM_EINVAL);

    double mse, manual = 0;
    CHECK_OK(ebm_rbm_recon_error(m, v, N, &mse));
    float ph[N * 6], pv[N * 9];
    REQUIRE(ebm_rbm_hidden_probs(m, v, N, 1.0f, ph) == EBM_OK);
    REQUIRE(ebm_rbm_visible_probs(m, ph, N, 1.0f, pv) == EBM_OK);
    for (int i = 0; i < N * 9; i++) manual += (v[i] - pv[i]) * (v[i] - pv[i]);
    CHECK_NEAR(mse, manual / (N * 9), 1e-7);
    ebm_rbm_free(m);
}

static void test_saturation(void) {
    /* hidden biases -30 (never on), +30 (always on) and 0 (half on) with tiny weights: exact fractions */
    ebm_rbm *m = fixture_rbm(6, 10, 0.01, 0.0, 70);
    for (int j = 0; j < 10; j++) m->b[j] = j < 3 ? -30.0f : (j < 5 ? 30.0f : 0.0f);
    float v[4 * 6] = {1, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 1};
    double dead, on;
    CHECK_OK(ebm_rbm_saturation(m, v, 4, &dead, &on));
    CHECK_NEAR(dead, 0.3, 1e-12);
    CHECK_NEAR(on, 0.2, 1e-12);
    CHECK_FAILS(ebm_rbm_saturation(m, v, 0, &dead, &on), EBM_EINVAL);
    ebm_rbm_free(m);
}

/* ebm_rbm_evaluate gathers the figures of the functions above on the same rows; figures not asked are NaN. */
static void test_evaluate(void) {
    ebm_rbm *m = fixture_rbm(9, 6, 0.6, 0.4, 80);
    enum { N = 7 };
    float v[N * 9];
    ebm_rng r;
    ebm_rng_seed(&r, 81, 0);
    for (int i = 0; i < N * 9; i++) v[i] = (float)(ebm_rng_u32(&r) & 1);
    double F[N], fmean = 0, recon, pll, lz, ll;
    REQUIRE(ebm_rbm_free_energy(m, v, N, 1.0f, F) == EBM_OK);
    for (int i = 0; i < N; i++) fmean += F[i] / N;
    REQUIRE(ebm_rbm_recon_error(m, v, N, &recon) == EBM_OK);
    REQUIRE(ebm_rbm_pseudo_ll(m, v, 4, &pll) == EBM_OK);
    REQUIRE(ebm_rbm_log_z_exact(m, 1.0f, &lz) == EBM_OK);
    REQUIRE(ebm_rbm_log_likelihood(m, v, N, lz, &ll) == EBM_OK);
    ebm_rbm_eval e;
    CHECK_OK(ebm_rbm_evaluate(m, v, N, 4, 1, &e));
    CHECK_NEAR(e.free_energy_mean, fmean, 1e-12 * (1 + fabs(fmean)));
    CHECK_NEAR(e.recon, recon, 0);
    CHECK_NEAR(e.pseudo_ll, pll, 0);
    CHECK_NEAR(e.log_z, lz, 0);
    CHECK_NEAR(e.log_likelihood, ll, 0);
    CHECK_NEAR(e.log_likelihood, -fmean - lz, 1e-9 * (1 + fabs(ll)));
    /* pll_rows beyond the rows means all of them; 0 and exact off leave NaN */
    REQUIRE(ebm_rbm_pseudo_ll(m, v, N, &pll) == EBM_OK);
    CHECK_OK(ebm_rbm_evaluate(m, v, N, 100, 0, &e));
    CHECK_NEAR(e.pseudo_ll, pll, 0);
    CHECK(isnan(e.log_z) && isnan(e.log_likelihood));
    CHECK_OK(ebm_rbm_evaluate(m, v, N, 0, 0, &e));
    CHECK(isnan(e.pseudo_ll) && !isnan(e.recon));
    CHECK_FAILS(ebm_rbm_evaluate(m, v, 0, 0, 0, &e), EBM_EINVAL);
    CHECK(isnan(e.free_energy_mean));
    ebm_rbm_free(m);
}

/* ebm_rbm_monitor: the figures of the functions above, NaN where not asked or where they fail. */
static void test_monitor(void) {
    ebm_rbm *m = fixture_rbm(9, 6, 0.6, 0.4, 82);
    enum { N = 6, L = 10 };
    float v[L * 9];
    ebm_rng r;
    ebm_rng_seed(&r, 83, 0);
    for (int i = 0; i < L * 9; i++) v[i] = (float)(ebm_rng_u32(&r) & 1);
    double recon, dead, on, pll, lz, ll;
    REQUIRE(ebm_rbm_recon_error(m, v, N, &recon) == EBM_OK);
    REQUIRE(ebm_rbm_saturation(m, v, N, &dead, &on) == EBM_OK);
    REQUIRE(ebm_rbm_pseudo_ll(m, v, N, &pll) == EBM_OK);
    REQUIRE(ebm_rbm_log_z_exact(m, 1.0f, &lz) == EBM_OK);
    REQUIRE(ebm_rbm_log_likelihood(m, v, L, lz, &ll) == EBM_OK);
    ebm_rbm_monitors f;
    ebm_rbm_monitor(m, v, N, 1, v, L, &f);
    CHECK_NEAR(f.recon, recon, 0);
    CHECK_NEAR(f.dead, dead, 0);
    CHECK_NEAR(f.stuck_on, on, 0);
    CHECK_NEAR(f.pseudo_ll, pll, 0);
    CHECK_NEAR(f.log_z, lz, 0);
    CHECK_NEAR(f.log_likelihood, ll, 0);
    /* no pseudo-LL, no exact figures; no monitor rows but the exact figures */
    ebm_rbm_monitor(m, v, N, 0, NULL, 0, &f);
    CHECK(isnan(f.pseudo_ll) && isnan(f.log_z) && isnan(f.log_likelihood));
    CHECK_NEAR(f.recon, recon, 0);
    ebm_rbm_monitor(m, NULL, 0, 1, v, L, &f);
    CHECK(isnan(f.recon) && isnan(f.dead) && isnan(f.stuck_on) && isnan(f.pseudo_ll));
    CHECK_NEAR(f.log_likelihood, ll, 0);
    ebm_rbm_free(m);
    /* a model too large to enumerate: log Z and the log-likelihood fail, and stay NaN */
    m = fixture_rbm(30, 26, 0.1, 0.1, 84);
    float w[2 * 30] = {0};
    ebm_rbm_monitor(m, w, 2, 1, w, 2, &f);
    CHECK(isnan(f.log_z) && isnan(f.log_likelihood) && !isnan(f.recon) && !isnan(f.pseudo_ll));
    ebm_rbm_free(m);
}

static void test_limits(void) {
    ebm_rbm *m = fixture_rbm(30, 26, 0.1, 0.1, 60);
    double lz;
    CHECK_FAILS(ebm_rbm_log_z_exact(m, 1.0f, &lz), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "26 hidden") != NULL);
    CHECK_FAILS(ebm_rbm_log_z_exact(m, 0.0f, &lz), EBM_EINVAL);
    ebm_rbm_free(m);
}

int main(void) {
    test_log_z_brute();
    test_visible_vs_hidden_enumeration();
    test_ll_and_grad();
    test_pll_and_recon();
    test_saturation();
    test_evaluate();
    test_monitor();
    test_limits();
    return check_summary("test_exact");
}
