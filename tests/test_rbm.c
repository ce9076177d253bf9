/* The Bernoulli RBM's energy, free energy and conditionals against their definitions (brute force over
 * the hidden layer), the free-energy gradient against central finite differences, and argument checks. */
#include "rbm_fixtures.h"
#include "core/internal.h"

static void test_free_energy_definition(void) {
    ebm_rbm *m = fixture_rbm(6, 5, 0.8, 0.5, 1);
    float v[3 * 6] = {1, 0, 1, 1, 0, 0, /**/ 0, 0, 0, 0, 0, 0, /**/ 0.2f, 0.9f, 0.5f, 1, 0.1f, 0.7f};
    const double temps[3] = {1.0, 2.0, 0.5};
    for (int ti = 0; ti < 3; ti++) {
        double T = temps[ti], F[3];
        CHECK_OK(ebm_rbm_free_energy(m, v, 3, (float)T, F));
        for (int r = 0; r < 3; r++) {
            double mx = -INFINITY, s = 0;
            float h[5];
            for (uint64_t y = 0; y < 32; y++) {
                fixture_bits(y, 5, h);
                double t = -fixture_energy(m, v + 6 * r, h) / T;
                if (t > mx) {
                    s = s * exp(mx - t) + 1;
                    mx = t;
                } else {
                    s += exp(t - mx);
                }
            }
            CHECK_NEAR(F[r], -T * (mx + log(s)), 1e-5);
        }
    }
    /* joint energy */
    float h[2 * 5] = {1, 0, 0, 1, 1, 0, 1, 1, 1, 0};
    double E[2];
    CHECK_OK(ebm_rbm_energy(m, v, h, 2, E));
    CHECK_NEAR(E[0], fixture_energy(m, v, h), 1e-5);
    CHECK_NEAR(E[1], fixture_energy(m, v + 6, h + 5), 1e-5);
    ebm_rbm_free(m);
}

static void test_conditionals(void) {
    ebm_rbm *m = fixture_rbm(4, 3, 1.0, 0.5, 2);
    float v[4] = {1, 0, 1, 1}, h[3] = {0, 1, 1};
    const float temps[2] = {1.0f, 3.0f};
    for (int ti = 0; ti < 2; ti++) {
        float T = temps[ti], ph[3], pv[4];
        CHECK_OK(ebm_rbm_hidden_probs(m, v, 1, T, ph));
        CHECK_OK(ebm_rbm_visible_probs(m, h, 1, T, pv));
        for (int j = 0; j < 3; j++) {
            /* p(h_j = 1 | v) = 1 / (1 + exp((E(h_j=1) - E(h_j=0)) / T)) */
            float h1[3] = {0}, h0[3] = {0};
            h1[j] = 1;
            double d = fixture_energy(m, v, h1) - fixture_energy(m, v, h0);
            CHECK_NEAR(ph[j], 1 / (1 + exp(d / T)), 1e-6);
        }
        for (int i = 0; i < 4; i++) {
            float v1[4] = {0}, v0[4] = {0};
            v1[i] = 1;
            double d = fixture_energy(m, v1, h) - fixture_energy(m, v0, h);
            CHECK_NEAR(pv[i], 1 / (1 + exp(d / T)), 1e-6);
        }
    }
    /* extreme pre-activations stay in [0, 1] without NaN */
    for (size_t i = 0; i < 12; i++) m->W[i] = (i % 2 ? 1e30f : -1e30f);
    float ph[3];
    CHECK_OK(ebm_rbm_hidden_probs(m, v, 1, 1.0f, ph));
    for (int j = 0; j < 3; j++) CHECK(ph[j] >= 0 && ph[j] <= 1);
    double F;
    CHECK_OK(ebm_rbm_free_energy(m, v, 1, 1.0f, &F));
    CHECK(isfinite(F));
    ebm_rbm_free(m);
}

/* sum_r w_r F(v_r) as a function of the parameters */
static double weighted_f(const ebm_rbm *m, const float *v, size_t n, const float *w) {
    double F[8], s = 0;
    REQUIRE(ebm_rbm_free_energy(m, v, n, 1.0f, F) == EBM_OK);
    for (size_t r = 0; r < n; r++) s += w[r] * F[r];
    return s;
}

static void test_free_energy_grad_fd(void) {
    ebm_rbm *m = fixture_rbm(7, 5, 0.5, 0.3, 3);
    enum { N = 4 };
    float v[N * 7], w[N] = {1.0f, 0.5f, 2.0f, 0.25f};
    ebm_rng r;
    ebm_rng_seed(&r, 3, 0);
    for (int i = 0; i < N * 7; i++) v[i] = i < 14 ? (float)(ebm_rng_u32(&r) & 1) : (float)ebm_rng_uniform(&r);
    float *g = calloc(m->n_params, sizeof(float));
    CHECK_OK(ebm_rbm_free_energy_grad(m, v, N, w, g));
    double worst = 0;
    for (size_t p = 0; p < m->n_params; p++) {
        float keep = m->params[p], h = 1e-2f;
        m->params[p] = keep + h;
        double fp = weighted_f(m, v, N, w);
        m->params[p] = keep - h;
        double fm = weighted_f(m, v, N, w);
        m->params[p] = keep;
        double fd = (fp - fm) / (2.0 * h);
        double err = fabs(fd - g[p]) / (1e-2 + fabs(fd));
        if (err > worst) worst = err;
        CHECK_MSG(err < 2e-3, "param %zu: analytic %g vs finite difference %g", p, g[p], fd);
    }
    printf("free-energy gradient: worst relative error %.2e over %zu parameters\n", worst, m->n_params);
    /* accumulation: a second call adds the same amount again */
    float *g2 = calloc(m->n_params, sizeof(float));
    CHECK_OK(ebm_rbm_free_energy_grad(m, v, N, w, g2));
    CHECK_OK(ebm_rbm_free_energy_grad(m, v, N, w, g2));
    int ok = 1;
    for (size_t p = 0; p < m->n_params; p++) ok &= fabsf(g2[p] - 2 * g[p]) <= 1e-5f * (1 + fabsf(g[p]));
    CHECK(ok);
    free(g);
    free(g2);
    ebm_rbm_free(m);
}

static void test_args_and_finite(void) {
    ebm_rbm *m = NULL;
    CHECK_FAILS(ebm_rbm_new(0, 3, &m), EBM_EINVAL);
    CHECK(m == NULL);
    m = fixture_rbm(3, 2, 0.1, 0.1, 4);
    float v[3] = {1, 0, 1}, ph[2];
    double F;
    CHECK_FAILS(ebm_rbm_free_energy(m, v, 1, 0.0f, &F), EBM_EINVAL);
    CHECK_FAILS(ebm_rbm_hidden_probs(m, v, 1, -1.0f, ph), EBM_EINVAL);
    CHECK_FAILS(ebm_rbm_free_energy(m, v, 1, NAN, &F), EBM_EINVAL);
    CHECK_OK(ebm_rbm_check_finite(m));
    m->b[1] = NAN;
    CHECK_FAILS(ebm_rbm_check_finite(m), EBM_ENAN);
    CHECK(strstr(ebm_last_error(), "b_h[1]") != NULL);
    m->b[1] = 0;
    m->W[1 * 2 + 1] = INFINITY;
    CHECK_FAILS(ebm_rbm_check_finite(m), EBM_ENAN);
    CHECK(strstr(ebm_last_error(), "W[1,1]") != NULL);
    ebm_rbm_free(m);
}

static void test_init(void) {
    ebm_rbm *m;
    REQUIRE(ebm_rbm_new(3, 200, &m) == EBM_OK);
    ebm_mat *d;
    REQUIRE(ebm_mat_new(4, 3, &d) == EBM_OK);
    float rows[12] = {1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 1, 0};
    memcpy(d->data, rows, sizeof rows);
    ebm_rng r;
    ebm_rng_seed(&r, 5, 0);
    CHECK_OK(ebm_rbm_init(m, &r, 0.01f, d));
    CHECK_NEAR(m->a[0], log(0.75 / 0.25), 1e-5);
    CHECK_NEAR(m->a[2], log(0.001 / 0.999), 1e-4); /* mean 0 is clipped to 1e-3 */
    double s2 = 0;
    for (size_t i = 0; i < 600; i++) s2 += (double)m->W[i] * m->W[i];
    CHECK_NEAR(sqrt(s2 / 600), 0.01, 0.002);
    for (size_t j = 0; j < 200; j++) CHECK(m->b[j] == 0);
    ebm_mat_free(d);
    ebm_rbm_free(m);
}

static void test_file_round_trip(void) {
    const char *dir = check_tmpdir("rbm");
    char path[600], bad[600];
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    ebm_rbm *m = fixture_rbm(6, 4, 0.7, 0.3, 9), *back = NULL;
    m->height = 2;
    m->width = 3;
    CHECK_OK(ebm_meta_set(m->meta, "ebm.train.seed", "42"));
    CHECK_OK(ebm_rbm_save(m, path));
    CHECK_OK(ebm_rbm_load(path, &back));
    REQUIRE(back != NULL);
    CHECK(back->n_vis == 6 && back->n_hid == 4 && back->height == 2 && back->width == 3);
    CHECK(memcmp(back->params, m->params, m->n_params * sizeof(float)) == 0);
    CHECK(back->meta && strcmp(ebm_meta_get(back->meta, "ebm.train.seed"), "42") == 0);
    CHECK(strcmp(ebm_meta_get(back->meta, "ebm.model"), "rbm") == 0);
    ebm_rbm_free(back);

    /* the file is plain safetensors: W is (n_vis, n_hid) float32 */
    ebm_tensors *t = NULL;
    CHECK_OK(ebm_safetensors_read(path, &t));
    const ebm_array *W = t ? ebm_tensors_get(t, "W") : NULL;
    CHECK(W && W->dtype == EBM_F32 && W->ndim == 2 && W->shape[0] == 6 && W->shape[1] == 4);
    CHECK(W && memcmp(W->data, m->W, 24 * sizeof(float)) == 0);
    ebm_tensors_free(t);

    /* malformed models: each refused with EBM_EFORMAT and a message naming the file */
    size_t s6[1] = {6}, s4[1] = {4}, s64[2] = {6, 4}, s5[1] = {5};
    float nanw[24];
    memcpy(nanw, m->W, sizeof nanw);
    nanw[5] = NAN;
    for (int k = 0; k < 5; k++) {
        REQUIRE(ebm_tensors_new(&t) == EBM_OK);
        CHECK_OK(ebm_tensors_put(t, "W", EBM_F32, 2, s64, k == 3 ? nanw : m->W));
        if (k != 0) CHECK_OK(ebm_tensors_put(t, "b_v", EBM_F32, 1, k == 1 ? s5 : s6, m->a)); /* 0: b_v missing */
        CHECK_OK(ebm_tensors_put(t, "b_h", EBM_F32, 1, s4, m->b));
        if (k == 2) CHECK_OK(ebm_meta_set(ebm_tensors_meta(t), "ebm.model", "grbm"));
        if (k == 4) CHECK_OK(ebm_meta_set(ebm_tensors_meta(t), "ebm.image_shape", "5x5"));
        CHECK_OK(ebm_safetensors_write(bad, t));
        ebm_tensors_free(t);
        back = (ebm_rbm *)1;
        CHECK_FAILS(ebm_rbm_load(bad, &back), EBM_EFORMAT);
        CHECK(back == NULL);
        CHECK_MSG(strstr(ebm_last_error(), "bad.safetensors") != NULL, "message: %s", ebm_last_error());
    }
    /* a model with a non-finite parameter is never written */
    m->W[0] = INFINITY;
    CHECK_FAILS(ebm_rbm_save(m, path), EBM_ENAN);
    CHECK_OK(ebm_rbm_load(path, &back)); /* the earlier good file is still there */
    ebm_rbm_free(back);
    ebm_rbm_free(m);
}

/* ebm_rbm_param_stats against the definitions on a model whose parameters are known. */
static void test_param_stats(void) {
    ebm_rbm *m;
    REQUIRE(ebm_rbm_new(2, 2, &m) == EBM_OK);
    const float W[4] = {1, -3, 2, 4}, a[2] = {0.5f, 0.5f}, b[2] = {-1, 0};
    memcpy(m->W, W, sizeof W);
    memcpy(m->a, a, sizeof a);
    memcpy(m->b, b, sizeof b);
    ebm_param_stats s[3];
    ebm_rbm_param_stats(m, s);
    CHECK_NEAR(s[0].mean, 1.0, 1e-12);
    CHECK_NEAR(s[0].std, sqrt(7.5 - 1.0), 1e-12); /* E[w^2] = 30 / 4 */
    CHECK_NEAR(s[0].min, -3.0, 0);
    CHECK_NEAR(s[0].max, 4.0, 0);
    CHECK_NEAR(s[0].mean_abs, 2.5, 1e-12);
    CHECK_NEAR(s[0].max_abs, 4.0, 0);
    CHECK_NEAR(s[1].mean, 0.5, 1e-12);
    CHECK_NEAR(s[1].std, 0.0, 1e-12);
    CHECK_NEAR(s[2].mean, -0.5, 1e-12);
    CHECK_NEAR(s[2].std, 0.5, 1e-12);
    CHECK_NEAR(s[2].max_abs, 1.0, 0); /* the most negative value */
    CHECK_NEAR(s[2].mean_abs, 0.5, 1e-12);
    ebm_rbm_free(m);
    /* any array: the diagonal of a 2 x 2 matrix left out ({-3, 2}), sigma = exp(x / 2) of log sigma^2, nothing left */
    ebm_param_stats_of(W, 4, 2, 0, &s[0]);
    CHECK_NEAR(s[0].mean, -0.5, 1e-12);
    CHECK_NEAR(s[0].std, 2.5, 1e-12);
    CHECK_NEAR(s[0].min, -3.0, 0);
    CHECK_NEAR(s[0].max, 2.0, 0);
    CHECK_NEAR(s[0].max_abs, 3.0, 0);
    const float lv[2] = {0.0f, 2 * 0.6931471805599453f};
    ebm_param_stats_of(lv, 2, 0, 1, &s[1]);
    CHECK_NEAR(s[1].mean, 1.5, 1e-6);
    CHECK_NEAR(s[1].std, 0.5, 1e-6);
    CHECK_NEAR(s[1].min, 1.0, 0);
    CHECK_NEAR(s[1].max, 2.0, 1e-6);
    ebm_param_stats_of(W, 1, 1, 0, &s[2]);
    CHECK_NEAR(s[2].mean, 0.0, 0);
    CHECK_NEAR(s[2].std, 0.0, 0);
}

int main(void) {
    test_free_energy_definition();
    test_conditionals();
    test_free_energy_grad_fd();
    test_args_and_finite();
    test_init();
    test_file_round_trip();
    test_param_stats();
    return check_summary("test_rbm");
}
