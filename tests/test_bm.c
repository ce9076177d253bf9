/* Fully visible Boltzmann machines: energies against hand-computed values, exact log Z against brute force
 * in both spin conventions, sequential Gibbs (both scans, T = 1 and 2) against exact moments, the
 * pseudo-log-likelihood gradient against finite differences, learning by CD / PCD / PL on data drawn
 * exactly from a small BM (exact log-likelihood must rise towards the true model's), the trainer under ebm_run
 * against ebm_bm_train (bit for bit), divergence and cancellation, files. */
#include "check.h"

#include <math.h>
#include <stdbool.h>

/* A BM with W_ij ~ N(0, w_sd^2), b_i ~ N(0, b_sd^2). */
static ebm_bm *random_bm(size_t n, ebm_bm_spins sp, double w_sd, double b_sd, uint64_t seed) {
    ebm_bm *m;
    REQUIRE(ebm_bm_new(n, sp, &m) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, seed, 0);
    REQUIRE(ebm_bm_init(m, &r, (float)w_sd, NULL) == EBM_OK);
    float *b = ebm_bm_bias(m);
    for (size_t i = 0; i < n; i++) b[i] = (float)(b_sd * ebm_rng_normal(&r));
    return m;
}

/* State number s in the model's convention: bit i of s is unit i. */
static void state(const ebm_bm *m, unsigned s, size_t n, float *x) {
    for (size_t i = 0; i < n; i++) x[i] = (s >> i & 1) ? 1.0f : ebm_bm_off_value(m);
}

/* -E(x) straight from the definition, for brute force. */
static double neg_energy(ebm_bm *m, const float *x) {
    size_t n = ebm_bm_units(m);
    const float *W = ebm_bm_weights(m), *b = ebm_bm_bias(m);
    double e = 0;
    for (size_t i = 0; i < n; i++) {
        e += (double)b[i] * x[i];
        for (size_t j = 0; j < n; j++) e += 0.5 * W[i * n + j] * x[i] * x[j];
    }
    return e;
}

static void test_energy_hand(void) {
    ebm_bm *m;
    REQUIRE(ebm_bm_new(3, EBM_BM_PM1, &m) == EBM_OK);
    float *W = ebm_bm_weights(m), *b = ebm_bm_bias(m);
    W[0 * 3 + 1] = W[1 * 3 + 0] = 0.5f;
    W[1 * 3 + 2] = W[2 * 3 + 1] = -1.0f;
    b[0] = 0.25f;
    b[2] = 2.0f;
    float x[3] = {1, -1, 1};
    double E;
    CHECK_OK(ebm_bm_energy(m, x, 1, &E));
    /* -(x0 x1 0.5 + x1 x2 (-1) + 0.25 x0 + 2 x2) = -(-0.5 + 1 + 0.25 + 2) */
    CHECK_NEAR(E, -2.75, 1e-12);
    float p[3];
    CHECK_OK(ebm_bm_cond_prob(m, x, 1, 1.0f, p));
    /* h_1 = 0.5 x0 - x2 = -0.5; p(x1 = +1) = sigmoid(2 h_1) */
    CHECK_NEAR(p[1], 1.0 / (1.0 + exp(1.0)), 1e-6);
    ebm_bm_free(m);
}

static void test_log_z_brute(void) {
    for (int sp = 0; sp < 2; sp++)
        for (int t = 0; t < 2; t++) {
            float T = t ? 2.0f : 1.0f;
            ebm_bm *m = random_bm(4, (ebm_bm_spins)sp, 0.8, 0.5, 11 + (uint64_t)sp);
            double lse_max = -INFINITY, v[16];
            float x[4];
            for (unsigned s = 0; s < 16; s++) {
                state(m, s, 4, x);
                v[s] = neg_energy(m, x) / T;
                lse_max = fmax(lse_max, v[s]);
            }
            double sum = 0;
            for (unsigned s = 0; s < 16; s++) sum += exp(v[s] - lse_max);
            double lz;
            CHECK_OK(ebm_bm_log_z_exact(m, T, &lz));
            CHECK_NEAR(lz, lse_max + log(sum), 1e-9);
            /* conditionals agree with energy differences */
            float p[4];
            state(m, 5, 4, x);
            CHECK_OK(ebm_bm_cond_prob(m, x, 1, T, p));
            for (size_t i = 0; i < 4; i++) {
                float on[4], off[4];
                memcpy(on, x, sizeof on);
                memcpy(off, x, sizeof off);
                on[i] = 1;
                off[i] = ebm_bm_off_value(m);
                double eon = neg_energy(m, on) / T, eoff = neg_energy(m, off) / T;
                CHECK_NEAR(p[i], 1.0 / (1.0 + exp(eoff - eon)), 1e-6);
            }
            ebm_bm_free(m);
        }
    /* independent units (W = 0): log Z = sum_i log(sum over the two values of exp(b_i x_i)), up to the limit */
    for (int sp = 0; sp < 2; sp++) {
        size_t n = sp ? 18 : EBM_EXACT_MAX_UNITS;
        ebm_bm *m;
        REQUIRE(ebm_bm_new(n, (ebm_bm_spins)sp, &m) == EBM_OK);
        double want = 0;
        for (size_t i = 0; i < n; i++) {
            ebm_bm_bias(m)[i] = (float)(0.25 * (double)i - 2.0);
            double b = ebm_bm_bias(m)[i];
            want += sp ? log(exp(b) + exp(-b)) : log1p(exp(b));
        }
        double lz;
        CHECK_OK(ebm_bm_log_z_exact(m, 1.0f, &lz));
        CHECK_NEAR(lz, want, 1e-8);
        ebm_bm_free(m);
    }
    ebm_bm *big;
    REQUIRE(ebm_bm_new(26, EBM_BM_01, &big) == EBM_OK);
    double lz;
    CHECK_FAILS(ebm_bm_log_z_exact(big, 1.0f, &lz), EBM_EINVAL);
    CHECK_FAILS(ebm_bm_log_z_exact(big, 0.0f, &lz), EBM_EINVAL);
    ebm_bm_free(big);
}

/* Sequential Gibbs on 6 units: unit means and pairwise moments within 0.01 ({0,1}) or 0.025 ({-1,+1}, twice the range) of the exact ones after
 * 2000 chains x (30 burn-in + 30 averaged) sweeps; fixed seed. */
static void test_gibbs_moments(void) {
    const size_t n = 6, chains = 2000, burn = 30, keep = 30;
    for (int sp = 0; sp < 2; sp++)
        for (int scan = 0; scan < 2; scan++)
            for (int t = 0; t < 2; t++) {
                float T = t ? 2.0f : 1.0f;
                /* {-1,+1} couplings act four times as strongly as {0,1} ones */
                ebm_bm *m = random_bm(n, (ebm_bm_spins)sp, sp ? 0.3 : 1.0, 0.5, 21 + (uint64_t)sp);
                double mean[6], pair[36], em[6] = {0}, ep[36] = {0};
                CHECK_OK(ebm_bm_moments_exact(m, T, mean, pair));
                float *x = malloc(chains * n * sizeof(float));
                for (size_t i = 0; i < chains * n; i++) x[i] = ebm_bm_off_value(m);
                ebm_rng r;
                ebm_rng_seed(&r, 5, (uint64_t)(sp * 4 + scan * 2 + t));
                CHECK_OK(ebm_bm_gibbs(m, x, chains, burn, T, (ebm_bm_scan)scan, &r));
                for (size_t k = 0; k < keep; k++) {
                    CHECK_OK(ebm_bm_gibbs(m, x, chains, 1, T, (ebm_bm_scan)scan, &r));
                    for (size_t c = 0; c < chains; c++)
                        for (size_t i = 0; i < n; i++) {
                            em[i] += x[c * n + i];
                            for (size_t j = 0; j < n; j++) ep[i * n + j] += x[c * n + i] * x[c * n + j];
                        }
                }
                double worst = 0, N = (double)(chains * keep);
                for (size_t i = 0; i < n; i++) {
                    worst = fmax(worst, fabs(em[i] / N - mean[i]));
                    for (size_t j = 0; j < n; j++) worst = fmax(worst, fabs(ep[i * n + j] / N - pair[i * n + j]));
                }
                if (getenv("EBM_TEST_VERBOSE")) printf("spins %d scan %d T %g: %.4f\n", sp, scan, (double)T, worst);
                CHECK_MSG(worst < (sp ? 0.025 : 0.01), "spins %d scan %d T %g: moment error %.4f", sp, scan, (double)T,
                          worst);
                free(x);
                ebm_bm_free(m);
            }
}

/* The same chains with 1 and 2 threads. */
static void test_gibbs_threads(void) {
    ebm_bm *m = random_bm(10, EBM_BM_01, 0.5, 0.5, 3);
    float x1[40 * 10], x2[40 * 10];
    for (size_t i = 0; i < 400; i++) x1[i] = x2[i] = (i % 3 == 0);
    ebm_rng r;
    int before = ebm_get_threads();
    ebm_set_threads(1);
    ebm_rng_seed(&r, 9, 0);
    CHECK_OK(ebm_bm_gibbs(m, x1, 40, 5, 1.0f, EBM_SCAN_RANDOM, &r));
    ebm_set_threads(2);
    ebm_rng_seed(&r, 9, 0);
    CHECK_OK(ebm_bm_gibbs(m, x2, 40, 5, 1.0f, EBM_SCAN_RANDOM, &r));
    ebm_set_threads(before);
    CHECK(memcmp(x1, x2, sizeof x1) == 0);
    x1[3] = 0.5f;
    CHECK_FAILS(ebm_bm_gibbs(m, x1, 40, 1, 1.0f, EBM_SCAN_SYSTEMATIC, &r), EBM_EINVAL);
    ebm_bm_free(m);
}

/* Central differences of the PLL in each coupling (moved symmetrically) and bias. */
static void test_pl_grad(void) {
    for (int sp = 0; sp < 2; sp++) {
        const size_t n = 5, rows = 7, np = n * n + n;
        ebm_bm *m = random_bm(n, (ebm_bm_spins)sp, 0.7, 0.4, 31);
        float x[7 * 5];
        ebm_rng r;
        ebm_rng_seed(&r, 32, 0);
        for (size_t i = 0; i < rows * n; i++) x[i] = ebm_rng_uniform(&r) < 0.5 ? 1.0f : ebm_bm_off_value(m);
        float grad[30] = {0};
        CHECK_OK(ebm_bm_pseudo_ll_grad(m, x, rows, grad));
        float *p = ebm_bm_params(m, NULL);
        double worst = 0;
        for (size_t k = 0; k < np; k++) {
            size_t i = k / n, j = k % n;
            if (k < n * n && i == j) {
                CHECK(grad[k] == 0.0f);
                continue;
            }
            size_t k2 = k < n * n ? j * n + i : k;
            float save = p[k];
            const float eps = 1e-2f;
            double f[2];
            for (int s = 0; s < 2; s++) {
                p[k] = p[k2] = save + (s ? eps : -eps);
                CHECK_OK(ebm_bm_pseudo_ll(m, x, rows, &f[s]));
            }
            p[k] = p[k2] = save;
            double fd = (f[1] - f[0]) / (2 * eps);
            worst = fmax(worst, fabs(fd - grad[k]));
            CHECK(grad[k] == grad[k2]);
        }
        CHECK_MSG(worst < 2e-4, "spins %d: PLL gradient off by %.3g", sp, worst);
        ebm_bm_free(m);
    }
}

/* rows exact draws from m by inverting the cumulative distribution over the 2^n states. */
static float *sample_exact(ebm_bm *m, size_t rows, uint64_t seed) {
    size_t n = ebm_bm_units(m), S = (size_t)1 << n;
    double lz, *cdf = malloc(S * sizeof *cdf), acc = 0;
    REQUIRE(ebm_bm_log_z_exact(m, 1.0f, &lz) == EBM_OK);
    float x[16];
    for (size_t s = 0; s < S; s++) {
        state(m, (unsigned)s, n, x);
        acc += exp(neg_energy(m, x) - lz);
        cdf[s] = acc;
    }
    float *out = malloc(rows * n * sizeof(float));
    ebm_rng r;
    ebm_rng_seed(&r, seed, 0);
    for (size_t k = 0; k < rows; k++) {
        double u = ebm_rng_uniform(&r) * acc;
        size_t s = 0;
        while (s + 1 < S && cdf[s] < u) s++;
        state(m, (unsigned)s, n, out + k * n);
    }
    free(cdf);
    return out;
}

static double exact_ll(ebm_bm *m, const ebm_mat *d) {
    double lz, ll;
    REQUIRE(ebm_bm_log_z_exact(m, 1.0f, &lz) == EBM_OK);
    REQUIRE(ebm_bm_log_likelihood(m, d->data, d->rows, lz, &ll) == EBM_OK);
    return ll;
}

static void test_training(void) {
    const size_t n = 8, rows = 2000;
    for (int sp = 0; sp < 2; sp++) {
        ebm_bm *truth = random_bm(n, (ebm_bm_spins)sp, 0.8, 0.6, 41 + (uint64_t)sp);
        ebm_mat *d;
        REQUIRE(ebm_mat_new(rows, n, &d) == EBM_OK);
        float *x = sample_exact(truth, rows, 42);
        memcpy(d->data, x, rows * n * sizeof(float));
        free(x);
        double ll_true = exact_ll(truth, d);
        for (int method = 0; method < 3; method++) {
            ebm_bm *m;
            REQUIRE(ebm_bm_new(n, (ebm_bm_spins)sp, &m) == EBM_OK);
            ebm_rng r;
            ebm_rng_seed(&r, 1, 0);
            CHECK_OK(ebm_bm_init(m, &r, 0.01f, d));
            double ll0 = exact_ll(m, d);
            ebm_bm_train_opts o;
            ebm_bm_train_opts_default(&o);
            o.method = (ebm_bm_method)method;
            o.epochs = 30;
            o.batch = 100;
            o.optim.lr = sp ? 0.02f : 0.05f;
            o.k = 1;
            CHECK_OK(ebm_bm_train(m, d, &o));
            double ll = exact_ll(m, d);
            /* symmetric with a zero diagonal after training */
            const float *W = ebm_bm_weights(m);
            bool sym = true;
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < n; j++) sym = sym && W[i * n + j] == W[j * n + i] && W[i * n + i] == 0;
            CHECK(sym);
            CHECK_MSG(ll > ll0 + 0.1 && ll > ll_true - 0.08, "spins %d %s: exact LL %.4f from %.4f (true model %.4f)", sp,
                      ebm_bm_method_name(o.method), ll, ll0, ll_true);
            ebm_bm_free(m);
        }
        ebm_mat_free(d);
        ebm_bm_free(truth);
    }
}

static int stop_after_two(const ebm_train_progress *p, void *user) {
    (void)user;
    return p->epoch == 2;
}

/* The trainer under ebm_run gives bit for bit the parameters of ebm_bm_train with the same settings; the run
 * records the trainer's settings; divergence rolls back with EBM_ENAN and a callback stops with EBM_ECANCELED. */
static void test_trainer(void) {
    const size_t n = 6, rows = 300;
    ebm_bm *truth = random_bm(n, EBM_BM_PM1, 0.8, 0.6, 61);
    ebm_mat *d;
    REQUIRE(ebm_mat_new(rows, n, &d) == EBM_OK);
    float *x = sample_exact(truth, rows, 62);
    memcpy(d->data, x, rows * n * sizeof(float));
    free(x);
    for (int method = 0; method < 3; method++) {
        ebm_bm *a = random_bm(n, EBM_BM_PM1, 0.1, 0.1, 63), *b;
        REQUIRE(ebm_bm_clone(a, &b) == EBM_OK);
        ebm_bm_train_opts o;
        ebm_bm_train_opts_default(&o);
        o.method = (ebm_bm_method)method;
        o.epochs = 4;
        o.batch = 32;
        o.chains = method == EBM_BM_PCD ? 50 : 0;
        o.scan = EBM_SCAN_RANDOM;
        o.seed = 7;
        CHECK_OK(ebm_bm_train(a, d, &o));
        ebm_trainer *t;
        REQUIRE(ebm_bm_trainer_new(b, &o, &t) == EBM_OK);
        ebm_run_opts r;
        ebm_bm_run_opts(&o, &r);
        ebm_run_result res;
        CHECK_OK(ebm_run(t, d, NULL, &r, &res));
        CHECK(res.epochs_done == 4 && res.steps_done == 4 * 10);
        size_t np;
        const float *pa = ebm_bm_params(a, &np);
        CHECK_MSG(memcmp(pa, ebm_bm_params(b, NULL), np * sizeof(float)) == 0,
                  "%s: ebm_run with the trainer differs from ebm_bm_train", ebm_bm_method_name(o.method));
        ebm_meta *mt;
        REQUIRE(ebm_meta_new(&mt) == EBM_OK);
        CHECK_OK(ebm_run_describe(t, &r, &res, mt));
        const char *meth = ebm_meta_get(mt, "ebm.train.method"), *k = ebm_meta_get(mt, "ebm.train.k");
        CHECK(meth && strcmp(meth, ebm_bm_method_name(o.method)) == 0 && ebm_meta_get(mt, "ebm.train.optim"));
        CHECK(method == EBM_BM_PL ? k == NULL : k && strcmp(k, "1") == 0);
        ebm_meta_free(mt);
        ebm_bm_eval e;
        double pll, lz, ll;
        CHECK_OK(ebm_bm_evaluate(b, d->data, rows, 1, &e));
        CHECK_OK(ebm_bm_pseudo_ll(b, d->data, rows, &pll));
        CHECK_OK(ebm_bm_log_z_exact(b, 1.0f, &lz));
        CHECK_OK(ebm_bm_log_likelihood(b, d->data, rows, lz, &ll));
        CHECK(e.pseudo_ll == pll && e.log_z == lz && e.log_likelihood == ll && isfinite(e.energy_mean));
        CHECK_OK(ebm_bm_evaluate(b, d->data, rows, 0, &e));
        CHECK(e.pseudo_ll == pll && isnan(e.log_z) && isnan(e.log_likelihood));
        ebm_trainer_free(t);
        ebm_bm_free(a);
        ebm_bm_free(b);
    }
    ebm_bm *m = random_bm(n, EBM_BM_PM1, 0.1, 0.1, 64), *start;
    REQUIRE(ebm_bm_clone(m, &start) == EBM_OK);
    ebm_bm_train_opts o;
    ebm_bm_train_opts_default(&o);
    o.optim.lr = 3e38f;
    o.batch = 20;
    CHECK_FAILS(ebm_bm_train(m, d, &o), EBM_ENAN);
    CHECK_MSG(strstr(ebm_last_error(), "diverged at epoch 1") && strstr(ebm_last_error(), "try a smaller learning rate"),
              "%s", ebm_last_error());
    size_t np;
    const float *pm = ebm_bm_params(m, &np);
    CHECK(memcmp(pm, ebm_bm_params(start, NULL), np * sizeof(float)) == 0);
    ebm_bm_train_opts_default(&o);
    o.on_epoch = stop_after_two;
    CHECK_FAILS(ebm_bm_train(m, d, &o), EBM_ECANCELED);
    CHECK_OK(ebm_bm_check_finite(m));
    ebm_bm_free(start);
    ebm_bm_free(m);
    ebm_mat_free(d);
    ebm_bm_free(truth);
}

static void test_files(void) {
    const char *dir = check_tmpdir("bm");
    char path[600];
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    ebm_bm *m = random_bm(6, EBM_BM_PM1, 0.5, 0.5, 51), *l = NULL;
    ebm_bm_set_image_shape(m, 2, 3);
    CHECK_OK(ebm_meta_set(ebm_bm_meta(m), "ebm.train.method", "pl"));
    CHECK_OK(ebm_bm_save(m, path));
    CHECK_OK(ebm_bm_load(path, &l));
    REQUIRE(l != NULL);
    CHECK(ebm_bm_units(l) == 6 && ebm_bm_spin_kind(l) == EBM_BM_PM1);
    size_t np, h, w;
    float *a = ebm_bm_params(m, &np), *b = ebm_bm_params(l, NULL);
    CHECK(memcmp(a, b, np * sizeof(float)) == 0);
    ebm_bm_image_shape(l, &h, &w);
    CHECK(h == 2 && w == 3);
    const char *meth = ebm_meta_get(ebm_bm_meta(l), "ebm.train.method");
    CHECK(meth && strcmp(meth, "pl") == 0);
    ebm_bm_free(l);
    /* an asymmetric W and a wrong kind are refused */
    ebm_tensors *t;
    REQUIRE(ebm_tensors_new(&t) == EBM_OK);
    CHECK_OK(ebm_bm_to_tensors(m, t));
    ((float *)ebm_tensors_get(t, "W")->data)[1] += 1.0f;
    CHECK_FAILS(ebm_bm_from_tensors(t, "asym", &l), EBM_EFORMAT);
    CHECK(l == NULL);
    ebm_tensors_free(t);
    REQUIRE(ebm_tensors_new(&t) == EBM_OK);
    CHECK_OK(ebm_bm_to_tensors(m, t));
    CHECK_OK(ebm_meta_set(ebm_tensors_meta(t), "ebm.bm.spins", "pm2"));
    CHECK_FAILS(ebm_bm_from_tensors(t, "spins", &l), EBM_EFORMAT);
    CHECK_OK(ebm_meta_set(ebm_tensors_meta(t), "ebm.model", "rbm"));
    CHECK_FAILS(ebm_bm_from_tensors(t, "kind", &l), EBM_EFORMAT);
    ebm_tensors_free(t);
    ebm_bm_free(m);
    ebm_bm_spins sp;
    CHECK_FAILS(ebm_bm_spins_parse("+-1", &sp), EBM_EINVAL);
    ebm_bm_scan sc;
    CHECK_FAILS(ebm_bm_scan_parse("zigzag", &sc), EBM_EINVAL);
}

/* ebm_bm_chains_start: noise in the model's spins and data rows, both the draws of the stream in order. */
static void test_chains_start(void) {
    ebm_bm *m = NULL;
    REQUIRE(ebm_bm_new(3, EBM_BM_PM1, &m) == EBM_OK);
    float x[12], data[6] = {1, -1, 1, -1, -1, 1};
    const ebm_mat d = {2, 3, data};
    ebm_rng rng, ref;
    ebm_rng_seed(&rng, 5, 0);
    ebm_rng_seed(&ref, 5, 0);
    ebm_bm_chains_start(m, NULL, x, 4, &rng);
    for (size_t i = 0; i < 12; i++) CHECK(x[i] == (ebm_rng_uniform(&ref) < 0.5 ? 1.0f : -1.0f));
    ebm_bm_chains_start(m, &d, x, 4, &rng);
    for (size_t r = 0; r < 4; r++) CHECK(memcmp(x + 3 * r, data + 3 * ebm_rng_below(&ref, 2), 3 * sizeof(float)) == 0);
    ebm_bm_free(m);
}

int main(void) {
    test_chains_start();
    test_energy_hand();
    test_log_z_brute();
    test_gibbs_moments();
    test_gibbs_threads();
    test_pl_grad();
    test_training();
    test_trainer();
    test_files();
    return check_summary("test_bm");
}
