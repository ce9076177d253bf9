/* Annealed importance sampling and exact sampling.  On RBMs with 10 and 20 hidden units whose weights
 * were trained by CD-1 on a generated data set (so that p(v) has sharp, well-separated modes, which is what
 * makes AIS hard), forward AIS with the default schedule lands within 0.05 nats of the exact log Z and its
 * interval contains it; reverse AIS from exact samples does the same; shorter schedules give wider intervals,
 * and on a very short schedule forward and reverse bracket the truth; a target that equals the base model
 * is estimated exactly; estimates do not depend on the thread count; exact samples follow p(v) (total
 * variation); bad options are refused with a message. */
#include "rbm_fixtures.h"

#define NV 64 /* 8 x 8 pictures */
/* AIS runs for the accuracy checks: the log weights of these multimodal models spread by about 0.5, so
 * 500 runs put the standard error of log Z near 0.02, well inside the 0.05 the test demands. */
#define RUNS 500

/* n pictures from 4 prototypes (horizontal bar pair, vertical bar pair, a box, a diagonal band) with
 * 3% of pixels flipped, from a fixed seed. */
static ebm_mat *picture_data(size_t n, uint64_t seed) {
    ebm_mat *d;
    REQUIRE(ebm_mat_new(n, NV, &d) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, seed, 0);
    for (size_t q = 0; q < n; q++) {
        int kind = (int)ebm_rng_below(&r, 4);
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) {
                int on = kind == 0   ? (y == 2 || y == 5)
                         : kind == 1 ? (x == 1 || x == 6)
                         : kind == 2 ? ((x == 1 || x == 6) && y >= 1 && y <= 6) || ((y == 1 || y == 6) && x >= 1 && x <= 6)
                                     : abs(x - y) <= 1;
                if (ebm_rng_uniform(&r) < 0.03) on = !on;
                d->data[q * NV + (size_t)(y * 8 + x)] = (float)on;
            }
    }
    return d;
}

static ebm_rbm *trained_rbm(const ebm_mat *d, size_t nh) {
    ebm_rbm *m;
    REQUIRE(ebm_rbm_new(NV, nh, &m) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, 7, nh);
    REQUIRE(ebm_rbm_init(m, &r, 0.01f, d) == EBM_OK);
    ebm_cd_opts o;
    ebm_cd_opts_default(&o);
    o.epochs = 40;
    o.batch = 20;
    o.lr = 0.1f;
    o.seed = 3;
    REQUIRE(ebm_rbm_train(m, d, &o) == EBM_OK);
    return m;
}

static ebm_ais_opts opts_for(const float *base, size_t steps, uint64_t seed) {
    ebm_ais_opts o;
    ebm_ais_opts_default(&o);
    o.base_bias = base;
    o.steps = steps;
    o.seed = seed;
    return o;
}

static double max_abs_weight(const ebm_rbm *m) {
    double w = 0;
    for (size_t i = 0; i < m->n_vis * m->n_hid; i++) w = fabs(m->W[i]) > w ? fabs(m->W[i]) : w;
    return w;
}

static void test_trained_models(void) {
    ebm_mat *d = picture_data(1000, 1);
    float base[NV];
    CHECK_OK(ebm_ais_base_bias(d, base));
    const size_t hidden[2] = {10, 20};
#if defined(__SANITIZE_ADDRESS__)
    /* the sanitizer build checks the same paths on the larger model only: it runs 5-10x slower */
    for (int t = 1; t < 2; t++) {
#else
    for (int t = 0; t < 2; t++) {
#endif
        ebm_rbm *m = trained_rbm(d, hidden[t]);
        double exact;
        CHECK_OK(ebm_rbm_log_z_exact(m, 1.0f, &exact));
        /* the training made the weights large: the model is far from the base */
        CHECK_MSG(max_abs_weight(m) > 2.0, "max |W| %g: not a trained model", max_abs_weight(m));

        ebm_ais_opts o = opts_for(base, EBM_AIS_DEFAULT_STEPS, 11);
        o.runs = RUNS;
        ebm_ais_result fw;
        CHECK_OK(ebm_rbm_ais(m, &o, &fw, NULL));
        printf("  %zu hidden: exact log Z %.4f, AIS %.4f [%.4f, %.4f], ESS %.1f, sd(log w) %.3f, %.2f s\n",
               hidden[t], exact, fw.log_z, fw.log_z_lo, fw.log_z_hi, fw.ess, fw.log_w_sd, fw.seconds);
        CHECK_MSG(fabs(fw.log_z - exact) < 0.05, "%zu hidden: AIS %g vs exact %g", hidden[t], fw.log_z, exact);
        CHECK_MSG(fw.log_z_lo <= exact && exact <= fw.log_z_hi, "%zu hidden: exact %g outside [%g, %g]",
                  hidden[t], exact, fw.log_z_lo, fw.log_z_hi);
        CHECK(fw.runs == RUNS && fw.steps == EBM_AIS_DEFAULT_STEPS);
        CHECK(fw.ess > 1 && fw.ess <= RUNS);

        /* reverse AIS from exact samples of the model */
        float *v0 = malloc(RUNS * NV * sizeof(float));
        ebm_rng r;
        ebm_rng_seed(&r, 12, hidden[t]);
        CHECK_OK(ebm_rbm_sample_exact(m, RUNS, &r, v0));
        ebm_ais_result rv;
        CHECK_OK(ebm_rbm_ais_reverse(m, v0, &o, &rv, NULL));
        printf("  %zu hidden: reverse AIS %.4f [%.4f, %.4f], ESS %.1f\n", hidden[t], rv.log_z, rv.log_z_lo,
               rv.log_z_hi, rv.ess);
        CHECK_MSG(fabs(rv.log_z - exact) < 0.05, "%zu hidden: reverse AIS %g vs exact %g", hidden[t], rv.log_z, exact);
        CHECK_MSG(rv.log_z_lo <= exact && exact <= rv.log_z_hi, "%zu hidden: exact %g outside reverse [%g, %g]",
                  hidden[t], exact, rv.log_z_lo, rv.log_z_hi);

        /* the warnings (calibrated here, issue 13): long schedules whose intervals cover the exact log Z carry
         * none; every short-schedule interval that misses it carries one, and 30 steps are always flagged */
        CHECK_MSG(fw.warnings == 0 && rv.warnings == 0, "%zu hidden: default schedule warned (%u, %u; ESS %g, %g)",
                  hidden[t], fw.warnings, rv.warnings, fw.ess, rv.ess);
        {
            ebm_ais_result e;
            const size_t short_steps[3] = {30, 100, 300};
            size_t missed = 0;
            for (int s = 0; s < 3; s++)
                for (uint64_t seed = 1; seed <= 3; seed++) {
                    ebm_ais_opts os = opts_for(base, short_steps[s], seed); /* 100 runs */
                    CHECK_OK(ebm_rbm_ais(m, &os, &e, NULL));
                    int miss = !(e.log_z_lo <= exact && exact <= e.log_z_hi);
                    missed += miss;
                    CHECK_MSG(!miss || e.warnings, "%zu hidden, %zu steps, seed %llu: misses exact %g with [%g, %g] "
                              "and no warning (ESS %g, sd %g)", hidden[t], short_steps[s], (unsigned long long)seed,
                              exact, e.log_z_lo, e.log_z_hi, e.ess, e.log_w_sd);
                    CHECK_MSG(short_steps[s] > 30 || (e.warnings & EBM_AIS_WARN_SPREAD),
                              "%zu hidden, 30 steps: sd(log w) %g not flagged", hidden[t], e.log_w_sd);
                }
            CHECK_MSG(missed >= 2, "%zu hidden: only %zu short schedules missed: the check above tested nothing",
                      hidden[t], missed);
            printf("  %zu hidden: %zu of 9 short-schedule intervals missed the exact log Z, each with a warning\n",
                   hidden[t], missed);
        }

        if (hidden[t] == 20) {
            /* shorter schedules: wider intervals and larger spread of the log weights */
            const size_t steps[3] = {30, 300, 3000};
            double prev_width = INFINITY, prev_sd = INFINITY;
            for (int s = 0; s < 3; s++) {
                ebm_ais_opts os = opts_for(base, steps[s], 11);
                ebm_ais_result e;
                CHECK_OK(ebm_rbm_ais(m, &os, &e, NULL));
                double width = e.log_z_hi - e.log_z_lo;
                printf("  %5zu steps: AIS %.4f [%.4f, %.4f], sd(log w) %.3f\n", steps[s], e.log_z, e.log_z_lo,
                       e.log_z_hi, e.log_w_sd);
                CHECK_MSG(width > fw.log_z_hi - fw.log_z_lo, "%zu steps: width %g not above default's %g", steps[s],
                          width, fw.log_z_hi - fw.log_z_lo);
                CHECK_MSG(width < prev_width || isinf(prev_width), "%zu steps: width %g vs %g", steps[s], width,
                          prev_width);
                CHECK_MSG(e.log_w_sd < prev_sd && e.log_w_sd > fw.log_w_sd, "%zu steps: sd %g", steps[s], e.log_w_sd);
                prev_width = width;
                prev_sd = e.log_w_sd;
                if (s == 0) {
                    /* a very short schedule: forward low, reverse high, the truth between them */
                    ebm_ais_result er;
                    CHECK_OK(ebm_rbm_ais_reverse(m, v0, &os, &er, NULL));
                    CHECK_MSG(e.log_z < exact && exact < er.log_z, "bracket %g < %g < %g fails", e.log_z, exact,
                              er.log_z);
                }
            }
            /* the same estimate on 1 and 2 threads, bit for bit */
            ebm_ais_opts os = opts_for(base, 500, 5);
            double w1[100], w2[100];
            ebm_ais_result a, b;
            int saved = ebm_get_threads();
            ebm_set_threads(1);
            CHECK_OK(ebm_rbm_ais(m, &os, &a, w1));
            ebm_set_threads(2);
            CHECK_OK(ebm_rbm_ais(m, &os, &b, w2));
            ebm_set_threads(saved);
            CHECK(memcmp(w1, w2, sizeof w1) == 0);
            CHECK(a.log_z == b.log_z);
        }
        free(v0);
        ebm_rbm_free(m);
    }
    ebm_mat_free(d);
}

/* A target that differs from the base only in its hidden biases: every run's weight is the same, so any
 * schedule gives the exact answer. */
static void test_target_equals_base(void) {
    ebm_rbm *m = fixture_rbm(9, 5, 0.0, 1.0, 4);
    double exact;
    CHECK_OK(ebm_rbm_log_z_exact(m, 1.0f, &exact));
    ebm_ais_opts o = opts_for(m->a, 10, 1);
    o.runs = 7;
    ebm_ais_result r;
    double lw[7];
    CHECK_OK(ebm_rbm_ais(m, &o, &r, lw));
    CHECK_NEAR(r.log_z, exact, 1e-9);
    CHECK_NEAR(r.log_z_lo, exact, 1e-9);
    CHECK_NEAR(r.log_z_hi, exact, 1e-9);
    CHECK_NEAR(r.ess, 7.0, 1e-9);
    CHECK_NEAR(r.log_w_sd, 0.0, 1e-12);
    for (int i = 1; i < 7; i++) CHECK(lw[i] == lw[0]);
    /* base log Z: sum softplus(c) + n_hid log 2 */
    double lz0 = 5 * log(2.0);
    for (int i = 0; i < 9; i++) lz0 += log1p(exp((double)m->a[i]));
    CHECK_NEAR(r.log_z_base, lz0, 1e-9);
    ebm_rbm_free(m);
}

static void test_schedule_and_base(void) {
    double *b = malloc((EBM_AIS_DEFAULT_STEPS + 1) * sizeof(double));
    CHECK_OK(ebm_ais_schedule(EBM_AIS_DEFAULT_STEPS, b));
    CHECK(b[0] == 0.0 && b[EBM_AIS_DEFAULT_STEPS] == 1.0);
    int inc = 1;
    for (size_t k = 1; k <= EBM_AIS_DEFAULT_STEPS; k++) inc &= b[k] > b[k - 1];
    CHECK(inc);
    /* the paper's steps: 1e-3 up to 0.5, 1e-4 up to 0.9, 1e-5 up to 1 */
    CHECK_NEAR(b[500], 0.5, 1e-12);
    CHECK_NEAR(b[4500], 0.9, 1e-12);
    CHECK_NEAR(b[1] - b[0], 1e-3, 1e-12);
    CHECK_NEAR(b[1000] - b[999], 1e-4, 1e-12);
    CHECK_NEAR(b[14500] - b[14499], 1e-5, 1e-12);
    double s3[4];
    CHECK_OK(ebm_ais_schedule(3, s3));
    CHECK(s3[0] == 0 && s3[1] == 0.5 && s3[2] == 0.9 && s3[3] == 1.0);
    CHECK_FAILS(ebm_ais_schedule(2, s3), EBM_EINVAL);
    free(b);

    ebm_mat *d;
    REQUIRE(ebm_mat_new(3, 2, &d) == EBM_OK);
    const float x[6] = {1, 0, 1, 0, 1, 1};
    memcpy(d->data, x, sizeof x);
    float base[2];
    CHECK_OK(ebm_ais_base_bias(d, base));
    CHECK_NEAR(base[0], log(0.8 / 0.2), 1e-6); /* (3 + 1) / (3 + 2) */
    CHECK_NEAR(base[1], log(0.4 / 0.6), 1e-6); /* (1 + 1) / (3 + 2) */
    ebm_mat_free(d);
}

/* Exact samples: the empirical distribution of v matches p(v) when either layer is the smaller one. */
static void test_sample_exact(void) {
    const size_t shapes[2][2] = {{5, 3}, {3, 6}};
    for (int s = 0; s < 2; s++) {
        size_t nv = shapes[s][0], nh = shapes[s][1];
        ebm_rbm *m = fixture_rbm(nv, nh, 1.0, 0.5, 8 + (uint64_t)s);
        double lz;
        CHECK_OK(ebm_rbm_log_z_exact(m, 1.0f, &lz));
        const size_t N = 100000;
        float *v = malloc(N * nv * sizeof(float));
        ebm_rng r;
        ebm_rng_seed(&r, 3, (uint64_t)s);
        CHECK_OK(ebm_rbm_sample_exact(m, N, &r, v));
        size_t K = (size_t)1 << nv;
        double *count = calloc(K, sizeof(double));
        int binary = 1;
        for (size_t i = 0; i < N; i++) {
            size_t x = 0;
            for (size_t j = 0; j < nv; j++) {
                binary &= v[i * nv + j] == 0.0f || v[i * nv + j] == 1.0f;
                x |= (size_t)(v[i * nv + j] != 0.0f) << j;
            }
            count[x] += 1;
        }
        CHECK(binary);
        double tv = 0;
        float vv[8];
        for (size_t x = 0; x < K; x++) {
            fixture_bits(x, nv, vv);
            double ll;
            CHECK_OK(ebm_rbm_log_likelihood(m, vv, 1, lz, &ll));
            tv += fabs(count[x] / (double)N - exp(ll));
        }
        tv /= 2;
        printf("  %zu x %zu exact sampler: TV %.4f over %zu states\n", nv, nh, tv, K);
        CHECK_MSG(tv < 0.01, "TV %g", tv);
        free(count);
        free(v);
        ebm_rbm_free(m);
    }
    ebm_rbm *big = fixture_rbm(21, 22, 0.1, 0.1, 1);
    ebm_rng r;
    ebm_rng_seed(&r, 1, 0);
    float v[21];
    CHECK_FAILS(ebm_rbm_sample_exact(big, 1, &r, v), EBM_EINVAL);
    ebm_rbm_free(big);
}

static void test_bad_options(void) {
    ebm_rbm *m = fixture_rbm(6, 4, 0.5, 0.5, 2);
    ebm_ais_result r;
    ebm_ais_opts o = opts_for(NULL, 100, 1);
    o.runs = 0;
    CHECK_FAILS(ebm_rbm_ais(m, &o, &r, NULL), EBM_EINVAL);
    o = opts_for(NULL, 2, 1);
    CHECK_FAILS(ebm_rbm_ais(m, &o, &r, NULL), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "steps") != NULL);
    const double not_up[4] = {0, 0.5, 0.4, 1}, not_from0[3] = {0.1, 0.5, 1}, not_to1[3] = {0, 0.5, 0.9};
    o = opts_for(NULL, 100, 1);
    o.betas = not_up;
    o.n_betas = 4;
    CHECK_FAILS(ebm_rbm_ais(m, &o, &r, NULL), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "increase") != NULL);
    o.betas = not_from0;
    o.n_betas = 3;
    CHECK_FAILS(ebm_rbm_ais(m, &o, &r, NULL), EBM_EINVAL);
    o.betas = not_to1;
    CHECK_FAILS(ebm_rbm_ais(m, &o, &r, NULL), EBM_EINVAL);
    float base[6] = {0, 0, NAN, 0, 0, 0};
    o = opts_for(base, 100, 1);
    CHECK_FAILS(ebm_rbm_ais(m, &o, &r, NULL), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "base bias 2") != NULL);
    o = opts_for(NULL, 100, 1);
    CHECK_FAILS(ebm_rbm_ais_reverse(m, NULL, &o, &r, NULL), EBM_EINVAL);
    m->W[3] = INFINITY;
    CHECK_FAILS(ebm_rbm_ais(m, &o, &r, NULL), EBM_ENAN);
    ebm_rbm_free(m);
}

/* ebm_rbm_ais_dist in one process (NULL communicator, and one made without a launcher) is the two calls it
 * stands for, to the bit: forward AIS from ebm_ais_base_bias of the data, reverse AIS from exact samples
 * drawn from stream (seed, 13); the split over several processes: tests/test_mpi.sh. */
static void test_ais_dist(void) {
    ebm_mat *d = picture_data(120, 5);
    ebm_rbm *m = trained_rbm(d, 6);
    float base[NV];
    CHECK_OK(ebm_ais_base_bias(d, base));
    ebm_ais_opts o = opts_for(base, 3000, 9);
    double lz;
    CHECK_OK(ebm_rbm_log_z_exact(m, 1.0f, &lz));
    o.runs = 16;
    ebm_ais_result fw, rv, dfw, drv;
    CHECK_OK(ebm_rbm_ais(m, &o, &fw, NULL));
    float *v0 = malloc(16 * NV * sizeof(float));
    ebm_rng r;
    ebm_rng_seed(&r, 9, 13);
    CHECK_OK(ebm_rbm_sample_exact(m, 16, &r, v0));
    CHECK_OK(ebm_rbm_ais_reverse(m, v0, &o, &rv, NULL));
    ebm_comm *c = NULL;
    int argc = 0;
    char **argv = NULL;
    CHECK_OK(ebm_comm_init(&argc, &argv, &c));
    for (int k = 0; k < 2; k++) {
        ebm_comm *ck = k ? c : NULL;
        o.base_bias = NULL; /* taken from the data */
        CHECK_OK(ebm_rbm_ais_dist(m, d, &o, 0, ck, &dfw));
        CHECK_OK(ebm_rbm_ais_dist(m, d, &o, 1, ck, &drv));
        CHECK(dfw.log_z == fw.log_z && dfw.log_z_lo == fw.log_z_lo && dfw.ess == fw.ess && dfw.runs == 16);
        CHECK(drv.log_z == rv.log_z && drv.log_z_hi == rv.log_z_hi && drv.log_w_sd == rv.log_w_sd);
        /* the estimates bracket exact log Z within their intervals' reach (3000 steps: sd(log w) about 1) */
        CHECK_MSG(fabs(fw.log_z - lz) < 0.5 && fabs(rv.log_z - lz) < 0.5, "%g %g vs %g", fw.log_z, rv.log_z, lz);
    }
    ebm_mat *wrong;
    REQUIRE(ebm_mat_new(3, NV - 1, &wrong) == EBM_OK);
    CHECK_FAILS(ebm_rbm_ais_dist(m, wrong, &o, 0, c, &dfw), EBM_ESHAPE);
    ebm_mat_free(wrong);
    ebm_comm_free(c);
    free(v0);
    ebm_rbm_free(m);
    ebm_mat_free(d);
}

int main(void) {
    test_schedule_and_base();
    test_target_equals_base();
    test_sample_exact();
    test_bad_options();
    test_trained_models();
    test_ais_dist();
    return check_summary("test_ais");
}
