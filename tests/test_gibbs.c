/* Block Gibbs sampling of a tiny RBM (4 visible, 3 hidden: 128 joint states) against the exact joint
 * distribution p(v, h) = exp(-E(v, h) / T) / Z at three temperatures, the clamped conditional against
 * its exact value, and bit-for-bit reproducibility across thread counts.
 * Bound: with N = 200,000 recorded states (4,000 chains x 50 sweeps after 50 sweeps of burn-in) the
 * expected total variation of a correct sampler is about sqrt(128 / (2 pi N)) ~ 0.01 (a little more for
 * autocorrelated sweeps); we require TV < 0.03, which a sampler with a wrong temperature or a
 * conditional off by a few percent fails (checked below by sampling at the wrong temperature). */
#include "rbm_fixtures.h"

enum { NV = 4, NH = 3, CHAINS = 4000, BURN = 50, SWEEPS = 50 };

static void exact_joint(const ebm_rbm *m, double T, double *p) {
    float v[NV], h[NH];
    double z = 0;
    for (int x = 0; x < 1 << NV; x++)
        for (int y = 0; y < 1 << NH; y++) {
            fixture_bits((uint64_t)x, NV, v);
            fixture_bits((uint64_t)y, NH, h);
            p[x << NH | y] = exp(-fixture_energy(m, v, h) / T);
            z += p[x << NH | y];
        }
    for (int s = 0; s < 1 << (NV + NH); s++) p[s] /= z;
}

static int state_of(const float *v, const float *h) {
    int x = 0, y = 0;
    for (int i = 0; i < NV; i++) x |= (v[i] > 0.5f) << i;
    for (int j = 0; j < NH; j++) y |= (h[j] > 0.5f) << j;
    return x << NH | y;
}

/* Empirical joint distribution of (v_t, h_t) where h_t ~ p(h | v_t). */
static void sample_joint_at(const ebm_rbm *m, double T, uint64_t seed, ebm_precision prec, double *q) {
    ebm_gibbs *g;
    REQUIRE(ebm_gibbs_new(m, CHAINS, &g) == EBM_OK);
    CHECK_OK(ebm_gibbs_set_precision(g, prec));
    ebm_rng r;
    ebm_rng_seed(&r, seed, 0);
    CHECK_OK(ebm_gibbs_init_noise(g, 0.5f, &r));
    CHECK_OK(ebm_gibbs_run(g, BURN, (float)T, &r));
    memset(q, 0, sizeof(double) << (NV + NH));
    float *h = malloc(CHAINS * NH * sizeof(float)), *ph = malloc(CHAINS * NH * sizeof(float));
    for (int s = 0; s < SWEEPS; s++) {
        const float *v = ebm_gibbs_visible(g);
        ebm_rbm_sample_hidden(m, v, CHAINS, (float)T, ebm_rng_u64(&r), ph, h);
        for (int c = 0; c < CHAINS; c++) q[state_of(v + c * NV, h + c * NH)] += 1.0;
        CHECK_OK(ebm_gibbs_run(g, 1, (float)T, &r));
    }
    for (int s = 0; s < 1 << (NV + NH); s++) q[s] /= (double)CHAINS * SWEEPS;
    free(h);
    free(ph);
    ebm_gibbs_free(g);
}

static void sample_joint(const ebm_rbm *m, double T, uint64_t seed, double *q) {
    sample_joint_at(m, T, seed, EBM_PRECISION_FP32, q);
}

static double tv(const double *p, const double *q, int n) {
    double d = 0;
    for (int s = 0; s < n; s++) d += fabs(p[s] - q[s]);
    return d / 2;
}

static void test_joint(void) {
    ebm_rbm *m = fixture_rbm(NV, NH, 1.2, 0.7, 11);
    double p[1 << (NV + NH)], q[1 << (NV + NH)];
    const double temps[3] = {1.0, 0.6, 2.5};
    for (int t = 0; t < 3; t++) {
        exact_joint(m, temps[t], p);
        sample_joint(m, temps[t], 100 + (uint64_t)t, q);
        double d = tv(p, q, 1 << (NV + NH));
        printf("T = %.1f: total variation %.4f (bound 0.03)\n", temps[t], d);
        CHECK_MSG(d < 0.03, "TV %.4f at T = %.1f", d, temps[t]);
    }
    /* power: the T = 1 samples are far from the T = 0.6 distribution */
    exact_joint(m, 0.6, p);
    sample_joint(m, 1.0, 7, q);
    double wrong = tv(p, q, 1 << (NV + NH));
    printf("sampling at T = 1 vs the exact T = 0.6 joint: TV %.4f (must exceed 0.03)\n", wrong);
    CHECK(wrong > 0.03);
    ebm_rbm_free(m);
}

/* The same bound with bf16 sweeps (bf16 weights and states, fp32 accumulation): the chains sample the
 * model with W rounded to 8 significant bits, whose joint is within ~1e-3 of the exact one here. */
static void test_joint_bf16(void) {
    ebm_precision p;
    if (ebm_precision_resolve(EBM_PRECISION_BF16, &p) != EBM_OK) {
        printf("bf16 not built in: bf16 sampling check skipped\n");
        return;
    }
    ebm_rbm *m = fixture_rbm(NV, NH, 1.2, 0.7, 11);
    double pe[1 << (NV + NH)], q[1 << (NV + NH)];
    const double temps[2] = {1.0, 0.6};
    for (int t = 0; t < 2; t++) {
        exact_joint(m, temps[t], pe);
        sample_joint_at(m, temps[t], 200 + (uint64_t)t, EBM_PRECISION_BF16, q);
        double d = tv(pe, q, 1 << (NV + NH));
        printf("bf16 sweeps, T = %.1f: total variation %.4f (bound 0.03)\n", temps[t], d);
        CHECK_MSG(d < 0.03, "bf16 TV %.4f at T = %.1f", d, temps[t]);
    }
    exact_joint(m, 0.6, pe);
    sample_joint_at(m, 1.0, 8, EBM_PRECISION_BF16, q);
    double wrong = tv(pe, q, 1 << (NV + NH));
    printf("bf16 sweeps at T = 1 vs the exact T = 0.6 joint: TV %.4f (must exceed 0.03)\n", wrong);
    CHECK(wrong > 0.03);
    ebm_rbm_free(m);
}

static void test_clamped(void) {
    /* v0 = 1, v1 = 0 clamped: the free pair (v2, v3) follows p(v2, v3 | v0 = 1, v1 = 0). */
    ebm_rbm *m = fixture_rbm(NV, NH, 1.2, 0.7, 12);
    double p[1 << (NV + NH)], cond[4] = {0}, z = 0;
    exact_joint(m, 1.0, p);
    for (int s = 0; s < 1 << (NV + NH); s++) {
        int x = s >> NH;
        if ((x & 3) != 1) continue;
        cond[x >> 2] += p[s];
        z += p[s];
    }
    ebm_gibbs *g;
    REQUIRE(ebm_gibbs_new(m, CHAINS, &g) == EBM_OK);
    uint8_t mask[NV] = {1, 1, 0, 0};
    float *vals = calloc(CHAINS * NV, sizeof(float));
    for (int c = 0; c < CHAINS; c++) vals[c * NV] = 1;
    ebm_rng r;
    ebm_rng_seed(&r, 5, 0);
    CHECK_OK(ebm_gibbs_init_noise(g, 0.5f, &r));
    CHECK_OK(ebm_gibbs_clamp(g, mask, vals));
    CHECK_OK(ebm_gibbs_run(g, 30, 1.0f, &r));
    double cnt[4] = {0};
    int clamp_held = 1;
    for (int s = 0; s < 20; s++) {
        const float *v = ebm_gibbs_visible(g);
        for (int c = 0; c < CHAINS; c++) {
            clamp_held &= v[c * NV] == 1.0f && v[c * NV + 1] == 0.0f;
            cnt[(int)v[c * NV + 2] | (int)v[c * NV + 3] << 1] += 1;
        }
        CHECK_OK(ebm_gibbs_run(g, 1, 1.0f, &r));
    }
    CHECK(clamp_held);
    double d = 0;
    for (int k = 0; k < 4; k++) d += fabs(cnt[k] / (20.0 * CHAINS) - cond[k] / z) / 2;
    printf("clamped conditional: TV %.4f (bound 0.02)\n", d);
    CHECK(d < 0.02);
    free(vals);
    ebm_gibbs_free(g);
    ebm_rbm_free(m);
}

/* Products are split into blocks that depend on the shapes only and rows draw from their own streams,
 * so chains are bit-identical on any number of threads. */
static void run_chain(const ebm_rbm *m, int threads, float *out) {
    ebm_set_threads(threads);
    ebm_gibbs *g;
    REQUIRE(ebm_gibbs_new(m, 300, &g) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, 77, 0);
    CHECK_OK(ebm_gibbs_init_noise(g, 0.5f, &r));
    CHECK_OK(ebm_gibbs_run(g, 20, 1.0f, &r));
    memcpy(out, ebm_gibbs_visible_mean(g), 300 * m->n_vis * sizeof(float));
    ebm_gibbs_free(g);
}

static void test_thread_independence(void) {
    ebm_rbm *m = fixture_rbm(200, 150, 0.1, 0.1, 13);
    float *a = malloc(300 * 200 * sizeof(float)), *b = malloc(300 * 200 * sizeof(float));
    run_chain(m, 1, a);
    run_chain(m, 2, b);
    CHECK(memcmp(a, b, 300 * 200 * sizeof(float)) == 0);
    run_chain(m, 3, b);
    CHECK(memcmp(a, b, 300 * 200 * sizeof(float)) == 0);
    ebm_set_threads(2);
    free(a);
    free(b);
    ebm_rbm_free(m);
}

/* The products are kept per chain and updated by the flips (ebm_binmm_step): two runs draw what one run of
 * their total length draws, and after W changes between runs (training in between) the next sweep's
 * conditionals are those of the new W: its hidden draws are the dense product's, and p(v | h) matches a
 * double-precision computation from its states. */
static void test_runs_and_new_weights(void) {
    ebm_rbm *m = fixture_rbm(200, 150, 0.1, 0.1, 21);
    size_t n = 40, nv = m->n_vis, nh = m->n_hid;
    float *one = malloc(n * nv * sizeof(float)), *v0 = malloc(n * nv * sizeof(float));
    ebm_gibbs *g;
    ebm_rng r;
    REQUIRE(ebm_gibbs_new(m, n, &g) == EBM_OK);
    ebm_rng_seed(&r, 5, 0);
    CHECK_OK(ebm_gibbs_init_noise(g, 0.5f, &r));
    CHECK_OK(ebm_gibbs_run(g, 300, 1.0f, &r));
    memcpy(one, ebm_gibbs_visible(g), n * nv * sizeof(float));
    ebm_gibbs_free(g);
    REQUIRE(ebm_gibbs_new(m, n, &g) == EBM_OK);
    ebm_rng_seed(&r, 5, 0);
    CHECK_OK(ebm_gibbs_init_noise(g, 0.5f, &r));
    CHECK_OK(ebm_gibbs_run(g, 100, 1.0f, &r));
    CHECK_OK(ebm_gibbs_run(g, 1, 1.0f, &r));
    CHECK_OK(ebm_gibbs_run(g, 199, 1.0f, &r));
    CHECK(memcmp(one, ebm_gibbs_visible(g), n * nv * sizeof(float)) == 0);
    /* new weights, then one sweep */
    for (size_t i = 0; i < nv * nh; i++) m->W[i] = m->W[i] * -1.5f + 0.01f;
    memcpy(v0, ebm_gibbs_visible(g), n * nv * sizeof(float));
    const float T = 0.8f;
    ebm_rng r2 = r; /* the sweep's hidden draws, by the dense product */
    float *ph = malloc(n * nh * sizeof(float)), *hd = malloc(n * nh * sizeof(float));
    ebm_rbm_sample_hidden(m, v0, n, T, ebm_rng_u64(&r2), ph, hd);
    CHECK_OK(ebm_gibbs_run(g, 1, T, &r));
    const float *h = ebm_gibbs_hidden(g), *pv = ebm_gibbs_visible_mean(g);
    double worst_v = 0;
    size_t differ = 0;
    for (size_t c = 0; c < n; c++) {
        for (size_t j = 0; j < nh; j++) differ += h[c * nh + j] != hd[c * nh + j];
        for (size_t i = 0; i < nv; i++) {
            double z = m->a[i];
            for (size_t j = 0; j < nh; j++) z += (double)h[c * nh + j] * m->W[i * nh + j];
            double d = fabs(1.0 / (1.0 + exp(-z / T)) - pv[c * nv + i]);
            worst_v = d > worst_v ? d : worst_v;
        }
    }
    /* a draw differs only where its uniform lies within the products' rounding of p: not in 6,000 */
    CHECK_MSG(differ <= 1, "%zu of %zu hidden draws differ from the dense product's", differ, n * nh);
    CHECK_NEAR(worst_v, 0, 2e-6);
    ebm_gibbs_free(g);
    free(one);
    free(v0);
    free(ph);
    free(hd);
    ebm_rbm_free(m);
}

static void test_errors(void) {
    ebm_rbm *m = fixture_rbm(NV, NH, 1, 1, 1);
    ebm_gibbs *g = NULL;
    CHECK_FAILS(ebm_gibbs_new(m, 0, &g), EBM_EINVAL);
    REQUIRE(ebm_gibbs_new(m, 2, &g) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, 1, 0);
    CHECK_FAILS(ebm_gibbs_run(g, 1, 0.0f, &r), EBM_EINVAL);
    CHECK_FAILS(ebm_gibbs_init_noise(g, 1.5f, &r), EBM_EINVAL);
    ebm_mat *d;
    REQUIRE(ebm_mat_new(3, NV + 1, &d) == EBM_OK);
    CHECK_FAILS(ebm_gibbs_init_data(g, d, &r), EBM_ESHAPE);
    ebm_mat_free(d);
    ebm_gibbs_free(g);
    ebm_rbm_free(m);
}

int main(void) {
    test_joint();
    test_joint_bf16();
    test_clamped();
    test_thread_independence();
    test_runs_and_new_weights();
    test_errors();
    return check_summary("test_gibbs");
}
