/* The Gaussian-Bernoulli RBM: free energy against brute force over h, finite-difference checks of
 * dF/dv (at two temperatures) and of dF/dtheta for every parameter, exact log Z and moments against
 * numerical integration on 1- and 2-visible models (and at T != 1), the model-file round trip with its
 * standardisation, malformed files, and the kernel MMD. */
#include "grbm_fixtures.h"

static double fe1(const ebm_grbm *m, const float *v, float T) {
    double F;
    REQUIRE(ebm_grbm_free_energy(m, v, 1, T, &F) == EBM_OK);
    return F;
}

static void test_free_energy_brute(void) {
    ebm_grbm *m = fixture_grbm(5, 4, 0.8, 1);
    float v[5] = {0.3f, -1.2f, 0.7f, 2.0f, -0.1f}, h[4];
    for (int T10 = 5; T10 <= 20; T10 += 15) {
        double T = T10 / 10.0, mx = -INFINITY, E[16];
        for (int x = 0; x < 16; x++) {
            for (int j = 0; j < 4; j++) h[j] = (float)((x >> j) & 1);
            CHECK_OK(ebm_grbm_energy(m, v, h, 1, &E[x]));
            mx = fmax(mx, -E[x] / T);
        }
        double s = 0;
        for (int x = 0; x < 16; x++) s += exp(-E[x] / T - mx);
        CHECK_NEAR(fe1(m, v, (float)T), -T * (mx + log(s)), 1e-5);
    }
    ebm_grbm_free(m);
}

static void test_grad_v(void) {
    enum { NV = 6, NH = 5, N = 3 };
    ebm_grbm *m = fixture_grbm(NV, NH, 0.7, 2);
    float v[N * NV], g[N * NV];
    ebm_rng r;
    ebm_rng_seed(&r, 5, 0);
    for (int i = 0; i < N * NV; i++) v[i] = (float)ebm_rng_normal(&r);
    double worst = 0;
    for (int T10 = 7; T10 <= 10; T10 += 3) {
        float T = T10 / 10.0f;
        CHECK_OK(ebm_grbm_free_energy_grad_v(m, v, N, T, g));
        for (int q = 0; q < N * NV; q++) {
            float row[NV];
            int r0 = q / NV, i = q % NV;
            memcpy(row, v + r0 * NV, sizeof row);
            float x0 = row[i], e = 1e-2f;
            row[i] = x0 + e;
            double fp = fe1(m, row, T);
            float ep = row[i] - x0;
            row[i] = x0 - e;
            double fm = fe1(m, row, T);
            float em = x0 - row[i];
            double fd = (fp - fm) / ((double)ep + em);
            double err = fabs(fd - g[q]) / (1 + fabs(fd));
            worst = fmax(worst, err);
        }
    }
    CHECK_MSG(worst < 1e-3, "dF/dv: worst relative error %.2e", worst);
    printf("dF/dv finite differences: worst relative error %.2e (bound 1e-3)\n", worst);
    ebm_grbm_free(m);
}

static double fe_sum(const ebm_grbm *m, const float *v, size_t n, const float *w) {
    double F[8], s = 0;
    REQUIRE(ebm_grbm_free_energy(m, v, n, 1.0f, F) == EBM_OK);
    for (size_t i = 0; i < n; i++) s += w[i] * F[i];
    return s;
}

static void test_grad_params(void) {
    enum { NV = 5, NH = 4, N = 4 };
    ebm_grbm *m = fixture_grbm(NV, NH, 0.7, 3);
    float v[N * NV], w[N] = {1.0f, 0.5f, -0.25f, 2.0f};
    ebm_rng r;
    ebm_rng_seed(&r, 6, 0);
    for (int i = 0; i < N * NV; i++) v[i] = (float)ebm_rng_normal(&r);
    float *g = calloc(m->n_params, sizeof(float));
    for (size_t p = 0; p < m->n_params; p++) g[p] = 0.125f; /* checks that it accumulates */
    CHECK_OK(ebm_grbm_free_energy_grad(m, v, N, w, g));
    double worst = 0;
    const char *where = "";
    for (size_t p = 0; p < m->n_params; p++) {
        float x0 = m->params[p], e = 1e-2f;
        m->params[p] = x0 + e;
        double fp = fe_sum(m, v, N, w);
        float ep = m->params[p] - x0;
        m->params[p] = x0 - e;
        double fm = fe_sum(m, v, N, w);
        float em = x0 - m->params[p];
        m->params[p] = x0;
        double fd = (fp - fm) / ((double)ep + em);
        double err = fabs(fd - (g[p] - 0.125)) / (1 + fabs(fd));
        if (err > worst) {
            worst = err;
            where = p < NV * NH ? "W" : p < NV * NH + NH ? "b" : p < NV * NH + NH + NV ? "mu" : "log_var";
        }
    }
    CHECK_MSG(worst < 2e-3, "dF/dtheta: worst relative error %.2e at %s", worst, where);
    printf("dF/dtheta finite differences (W, b, mu, log_var): worst relative error %.2e at %s (bound 2e-3)\n", worst,
           where);
    free(g);
    ebm_grbm_free(m);
}

/* log Z and moments of a 1-visible model by the trapezoid rule on [-L, L], at temperature T. */
static void test_exact_1d(void) {
    ebm_grbm *m = fixture_grbm(1, 3, 1.5, 4);
    for (int T10 = 10; T10 <= 15; T10 += 5) {
        float T = T10 / 10.0f;
        double lz;
        CHECK_OK(ebm_grbm_log_z_exact(m, T, &lz));
        enum { NPT = 16001 };
        double L = 30, dx = 2 * L / (NPT - 1), Z = 0, s1 = 0, s2 = 0;
        float *xs = malloc(NPT * sizeof(float));
        double *F = malloc(NPT * sizeof(double));
        for (int q = 0; q < NPT; q++) xs[q] = (float)(-L + q * dx);
        REQUIRE(ebm_grbm_free_energy(m, xs, NPT, T, F) == EBM_OK);
        for (int q = 0; q < NPT; q++) {
            double x = xs[q], p = exp(-F[q] / T);
            Z += p * dx;
            s1 += x * p * dx;
            s2 += x * x * p * dx;
        }
        free(xs);
        free(F);
        CHECK_NEAR(lz, log(Z), 1e-5);
        if (T10 == 10) {
            double mean, cov;
            CHECK_OK(ebm_grbm_moments_exact(m, &mean, &cov));
            CHECK_NEAR(mean, s1 / Z, 1e-5);
            CHECK_NEAR(cov, s2 / Z - (s1 / Z) * (s1 / Z), 1e-4);
            double ll;
            float v = 0.3f;
            CHECK_OK(ebm_grbm_log_likelihood(m, &v, 1, lz, &ll));
            CHECK_NEAR(ll, -fe1(m, &v, 1.0f) - log(Z), 1e-5);
        }
    }
    ebm_grbm_free(m);
}

static void test_exact_2d(void) {
    ebm_grbm *m = fixture_grbm(2, 2, 1.2, 5);
    double lz, mean[2], cov[4];
    CHECK_OK(ebm_grbm_log_z_exact(m, 1.0f, &lz));
    CHECK_OK(ebm_grbm_moments_exact(m, mean, cov));
    enum { NPT = 801 };
    double L = 10, dx = 2 * L / (NPT - 1), Z = 0, m0 = 0, c01 = 0;
    float *row = malloc(2 * NPT * sizeof(float));
    double *F = malloc(NPT * sizeof(double));
    for (int a = 0; a < NPT; a++) {
        double y = -L + a * dx;
        for (int q = 0; q < NPT; q++) {
            row[2 * q] = (float)(-L + q * dx);
            row[2 * q + 1] = (float)y;
        }
        REQUIRE(ebm_grbm_free_energy(m, row, NPT, 1.0f, F) == EBM_OK);
        for (int q = 0; q < NPT; q++) {
            double x = row[2 * q], p = exp(-F[q]) * dx * dx;
            Z += p;
            m0 += x * p;
            c01 += x * (double)row[2 * q + 1] * p;
        }
    }
    free(row);
    free(F);
    CHECK_NEAR(lz, log(Z), 1e-4);
    CHECK_NEAR(mean[0], m0 / Z, 1e-4);
    CHECK_NEAR(cov[1], c01 / Z - mean[0] * mean[1], 1e-3);
    CHECK_NEAR(cov[1], cov[2], 1e-12);
    printf("exact log Z (2 visible, 2 hidden) %.6f, numerical integration %.6f\n", lz, log(Z));
    ebm_grbm_free(m);
    ebm_grbm *big = fixture_grbm(2, EBM_EXACT_MAX_UNITS + 1, 0.1, 5);
    CHECK_FAILS(ebm_grbm_log_z_exact(big, 1.0f, &lz), EBM_EINVAL);
    ebm_grbm_free(big);
}

static void test_round_trip(void) {
    const char *dir = check_tmpdir("grbm");
    char path[600], bad[600];
    snprintf(path, sizeof path, "%s/g.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    ebm_grbm *m = fixture_grbm(6, 3, 0.5, 7);
    m->height = 2;
    m->width = 3;
    ebm_mat *x;
    REQUIRE(ebm_mat_new(20, 6, &x) == EBM_OK);
    for (size_t i = 0; i < 120; i++) x->data[i] = (float)((i * 37) % 11) / 10.0f + (float)(i % 6);
    CHECK_OK(ebm_grbm_fit_standardization(m, x, 0));
    CHECK_OK(ebm_meta_set(m->meta, "ebm.train.method", "cd-10"));
    CHECK_OK(ebm_grbm_save(m, path));
    ebm_grbm *k;
    CHECK_OK(ebm_grbm_load(path, &k));
    REQUIRE(k);
    CHECK(k->n_vis == 6 && k->n_hid == 3 && k->height == 2 && k->width == 3);
    CHECK(memcmp(k->params, m->params, m->n_params * sizeof(float)) == 0);
    CHECK(memcmp(k->data_mean, m->data_mean, 6 * sizeof(float)) == 0);
    CHECK(memcmp(k->data_std, m->data_std, 6 * sizeof(float)) == 0);
    CHECK(strcmp(ebm_meta_get(k->meta, "ebm.model"), "grbm") == 0);
    CHECK(strcmp(ebm_meta_get(k->meta, "ebm.train.method"), "cd-10") == 0);
    /* standardise and back, in pixel units; the standardised columns have mean 0 and std 1 */
    float *z = malloc(120 * sizeof(float)), *back = malloc(120 * sizeof(float));
    ebm_grbm_standardize(k, x->data, 20, z);
    ebm_grbm_unstandardize(k, z, 20, back);
    double worst = 0, colmean = 0, colvar = 0;
    for (size_t i = 0; i < 120; i++) worst = fmax(worst, fabs(back[i] - x->data[i]));
    for (size_t r = 0; r < 20; r++) colmean += z[r * 6 + 2] / 20.0;
    for (size_t r = 0; r < 20; r++) colvar += (z[r * 6 + 2] - colmean) * (z[r * 6 + 2] - colmean) / 20.0;
    CHECK(worst < 1e-5);
    CHECK_NEAR(colmean, 0, 1e-5);
    CHECK_NEAR(colvar, 1, 1e-4);
    double lj = 0;
    for (int i = 0; i < 6; i++) lj -= log(k->data_std[i]);
    CHECK_NEAR(ebm_grbm_log_jacobian(k), lj, 1e-9);
    /* global standardisation: one mean and std */
    CHECK_OK(ebm_grbm_fit_standardization(k, x, 1));
    CHECK(k->data_mean[0] == k->data_mean[5] && k->data_std[0] == k->data_std[5]);
    ebm_grbm_free(k);
    /* the RBM loader refuses a GRBM file and vice versa; a file without a tensor is malformed */
    ebm_rbm *rb;
    CHECK_FAILS(ebm_rbm_load(path, &rb), EBM_EFORMAT);
    ebm_tensors *t;
    REQUIRE(ebm_tensors_new(&t) == EBM_OK);
    CHECK_OK(ebm_grbm_to_tensors(m, t));
    ebm_tensors *t2;
    REQUIRE(ebm_tensors_new(&t2) == EBM_OK);
    for (size_t i = 0; i < ebm_tensors_count(t); i++) {
        const char *nm = ebm_tensors_name(t, i);
        if (strcmp(nm, "data_std") == 0) continue;
        const ebm_array *a = ebm_tensors_get(t, nm);
        CHECK_OK(ebm_tensors_put(t2, nm, a->dtype, a->ndim, a->shape, a->data));
    }
    CHECK_OK(ebm_meta_copy(ebm_tensors_meta(t2), ebm_tensors_meta(t)));
    CHECK_OK(ebm_safetensors_write(bad, t2));
    CHECK_FAILS(ebm_grbm_load(bad, &k), EBM_EFORMAT);
    CHECK(strstr(ebm_last_error(), "data_std") != NULL);
    ebm_rbm *r0 = NULL;
    REQUIRE(ebm_rbm_new(6, 3, &r0) == EBM_OK);
    CHECK_OK(ebm_rbm_save(r0, bad));
    CHECK_FAILS(ebm_grbm_load(bad, &k), EBM_EFORMAT);
    ebm_rbm_free(r0);
    /* a non-finite parameter is refused on save and named */
    m->log_var[1] = NAN;
    CHECK_FAILS(ebm_grbm_save(m, path), EBM_ENAN);
    CHECK(strstr(ebm_last_error(), "log_sigma2[1]") != NULL);
    ebm_tensors_free(t);
    ebm_tensors_free(t2);
    free(z);
    free(back);
    ebm_mat_free(x);
    ebm_grbm_free(m);
}

/* Kernel MMD^2 against a direct evaluation of the unbiased estimator on a tiny sample, the median
 * heuristic against a sorted list of distances, and its behaviour on equal and shifted distributions. */
static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void test_mmd(void) {
    enum { n = 5, m = 4, d = 2 };
    float x[n * d], y[m * d];
    ebm_rng r;
    ebm_rng_seed(&r, 8, 0);
    for (int i = 0; i < n * d; i++) x[i] = (float)ebm_rng_normal(&r);
    for (int i = 0; i < m * d; i++) y[i] = (float)(ebm_rng_normal(&r) + 0.5);
    double all[(n + m) * d], dist[(n + m) * (n + m - 1) / 2];
    for (int i = 0; i < n * d; i++) all[i] = x[i];
    for (int i = 0; i < m * d; i++) all[n * d + i] = y[i];
    int k = 0;
    for (int i = 0; i < n + m; i++)
        for (int j = i + 1; j < n + m; j++) {
            double s = 0;
            for (int c = 0; c < d; c++) s += (all[i * d + c] - all[j * d + c]) * (all[i * d + c] - all[j * d + c]);
            dist[k++] = sqrt(s);
        }
    qsort(dist, (size_t)k, sizeof(double), cmp_d);
    double mmd2, bw;
    CHECK_OK(ebm_mmd_gaussian(x, n, y, m, d, 0, &mmd2, &bw));
    /* k = 36 pairs: the median of squared distances is the mean of the two middle ones */
    CHECK_NEAR(bw, sqrt(0.5 * (dist[17] * dist[17] + dist[18] * dist[18])), 1e-9);
    double g = 1.0 / (2 * bw * bw), sxx = 0, syy = 0, sxy = 0;
    for (int i = 0; i < n + m; i++)
        for (int j = 0; j < n + m; j++) {
            if (i == j) continue;
            double s = 0;
            for (int c = 0; c < d; c++) s += (all[i * d + c] - all[j * d + c]) * (all[i * d + c] - all[j * d + c]);
            double kv = exp(-s * g);
            if (i < n && j < n) sxx += kv;
            else if (i >= n && j >= n) syy += kv;
            else if (i < n) sxy += kv;
        }
    CHECK_NEAR(mmd2, sxx / (n * (n - 1.0)) + syy / (m * (m - 1.0)) - 2 * sxy / ((double)n * m), 1e-9);
    CHECK_OK(ebm_mmd_gaussian(x, n, y, m, d, 0.7, &mmd2, &bw));
    CHECK(bw == 0.7);
    /* equal distributions give about 0, a shift gives clearly more */
    enum { N = 300 };
    float *a = malloc(N * 3 * sizeof(float)), *b = malloc(N * 3 * sizeof(float)), *c = malloc(N * 3 * sizeof(float));
    for (int i = 0; i < N * 3; i++) {
        a[i] = (float)ebm_rng_normal(&r);
        b[i] = (float)ebm_rng_normal(&r);
        c[i] = (float)(ebm_rng_normal(&r) + 1.0);
    }
    double same, shifted;
    CHECK_OK(ebm_mmd_gaussian(a, N, b, N, 3, 0, &same, NULL));
    CHECK_OK(ebm_mmd_gaussian(a, N, c, N, 3, 0, &shifted, NULL));
    CHECK(fabs(same) < 0.01);
    CHECK(shifted > 0.05);
    CHECK_FAILS(ebm_mmd_gaussian(a, 1, b, N, 3, 0, &same, NULL), EBM_EINVAL);
    free(a);
    free(b);
    free(c);
}

/* ebm_grbm_evaluate against the single figures it gathers (log-likelihoods in pixel units through the
 * standardisation's Jacobian), AIS close to the exact log Z, NaN for what is not asked, and a width mismatch. */
static void test_evaluate(void) {
    ebm_grbm *m = fixture_grbm(4, 3, 0.8, 7);
    for (size_t i = 0; i < 4; i++) m->data_std[i] = 0.5f + 0.25f * (float)i;
    ebm_mat *x;
    REQUIRE(ebm_mat_new(30, 4, &x) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, 3, 0);
    for (size_t i = 0; i < 30 * 4; i++) x->data[i] = (float)ebm_rng_normal(&r);
    double F[30], fmean = 0, recon, lz, ll, jac = ebm_grbm_log_jacobian(m);
    REQUIRE(ebm_grbm_free_energy(m, x->data, 30, 1.0f, F) == EBM_OK);
    for (int i = 0; i < 30; i++) fmean += F[i] / 30;
    CHECK_OK(ebm_grbm_recon_error(m, x->data, 30, &recon));
    CHECK_OK(ebm_grbm_log_z_exact(m, 1.0f, &lz));
    CHECK_OK(ebm_grbm_log_likelihood(m, x->data, 30, lz, &ll));
    CHECK(jac != 0);
    ebm_ais_opts ao;
    ebm_ais_opts_default(&ao);
    ao.runs = 200;
    ao.steps = 2000;
    ebm_grbm_eval e;
    CHECK_OK(ebm_grbm_evaluate(m, x, 1, &ao, &e));
    CHECK_NEAR(e.free_energy_mean, fmean, 1e-9);
    CHECK_NEAR(e.recon_mse, recon, 1e-12);
    CHECK_NEAR(e.log_z, lz, 1e-12);
    CHECK_NEAR(e.log_likelihood, ll + jac, 1e-9);
    CHECK_NEAR(e.ais_log_z, lz, 0.05);
    CHECK(e.ais_log_z_lo <= e.ais_log_z && e.ais_log_z <= e.ais_log_z_hi);
    CHECK_NEAR(e.ais_log_likelihood - e.log_likelihood, lz - e.ais_log_z, 1e-9);
    CHECK_OK(ebm_grbm_evaluate(m, x, 0, NULL, &e));
    CHECK_NEAR(e.free_energy_mean, fmean, 1e-9);
    CHECK(isnan(e.log_z) && isnan(e.log_likelihood) && isnan(e.ais_log_z) && isnan(e.ais_log_likelihood));
    ebm_mat narrow = {30, 3, x->data};
    CHECK_FAILS(ebm_grbm_evaluate(m, &narrow, 1, NULL, &e), EBM_EINVAL);
    CHECK(isnan(e.free_energy_mean) && isnan(e.recon_mse));
    ebm_mat_free(x);
    ebm_grbm_free(m);
}

int main(void) {
    ebm_set_threads(1); /* short on a busy machine; thread independence is tested in test_grbm_samplers */
    test_free_energy_brute();
    test_grad_v();
    test_grad_params();
    test_exact_1d();
    test_exact_2d();
    test_round_trip();
    test_mmd();
    test_evaluate();
    return check_summary("test_grbm");
}
