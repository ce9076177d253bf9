/* GRBM samplers against exact moments.  On a 3-visible, 8-hidden GRBM the marginal of v is a mixture of
 * 2^8 Gaussians whose mean and covariance ebm_grbm_moments_exact computes exactly.  Each sampler runs
 * CHAINS chains from N(0, I) noise for BURN steps, then records every state of REC more steps.
 * Bounds (fixed seeds): |mean_i error| <= 0.05 sd_i and |cov_ij error| <= 0.08 sd_i sd_j.  With 60,000
 * autocorrelated draws the standard error of a mean is about 0.01 sd (the worst error of the correct
 * samplers is printed), so the bounds leave room while a wrong sampler fails them: unadjusted
 * Gibbs-Langevin with a large constant step (no MH) is checked to miss them.  Also: MH acceptance
 * rates lie in (0, 1], and results are bit-identical on 1 and 2 threads.  The trainer's pieces: the chains'
 * cached pre-activations equal recomputed ones, and the gradient accumulator over many rows in one product
 * matches ebm_grbm_free_energy_grad (itself checked by finite differences in test_grbm). */
#include "grbm_fixtures.h"
#include "models/grbm_internal.h"

enum { NV = 3, NH = 8, CHAINS = 2000, BURN = 300, REC = 30 };

typedef struct {
    double mean_err, cov_err, accept;
} result;

static result run(const ebm_grbm *m, const ebm_grbm_sample_opts *o, const double *mean, const double *cov, uint64_t seed) {
    ebm_grbm_chains *c;
    REQUIRE(ebm_grbm_chains_new(m, CHAINS, &c) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, seed, 0);
    CHECK_OK(ebm_grbm_chains_init_noise(c, 1.0f, &r));
    CHECK_OK(ebm_grbm_chains_run(c, o, BURN, &r));
    ebm_grbm_chains_reset_stats(c);
    double s1[NV] = {0}, s2[NV * NV] = {0}, N = 0;
    for (int t = 0; t < REC; t++) {
        CHECK_OK(ebm_grbm_chains_run(c, o, 1, &r));
        const float *v = ebm_grbm_chains_visible(c);
        for (size_t q = 0; q < CHAINS; q++) {
            for (int i = 0; i < NV; i++) {
                s1[i] += v[q * NV + i];
                for (int j = 0; j < NV; j++) s2[i * NV + j] += (double)v[q * NV + i] * v[q * NV + j];
            }
            N += 1;
        }
    }
    result res = {0, 0, ebm_grbm_chains_accept_rate(c)};
    for (int i = 0; i < NV; i++) res.mean_err = fmax(res.mean_err, fabs(s1[i] / N - mean[i]) / sqrt(cov[i * NV + i]));
    for (int i = 0; i < NV; i++)
        for (int j = 0; j < NV; j++) {
            double e = s2[i * NV + j] / N - (s1[i] / N) * (s1[j] / N) - cov[i * NV + j];
            res.cov_err = fmax(res.cov_err, fabs(e) / sqrt(cov[i * NV + i] * cov[j * NV + j]));
        }
    ebm_grbm_chains_free(c);
    return res;
}

static void check_sampler(const ebm_grbm *m, const char *name, const ebm_grbm_sample_opts *o, const double *mean,
                          const double *cov) {
    result r = run(m, o, mean, cov, 11);
    printf("%-34s mean error %.4f sd (bound 0.05), cov error %.4f (bound 0.08), acceptance %.3f\n", name, r.mean_err,
           r.cov_err, r.accept);
    CHECK_MSG(r.mean_err <= 0.05, "%s: mean error %.4f", name, r.mean_err);
    CHECK_MSG(r.cov_err <= 0.08, "%s: covariance error %.4f", name, r.cov_err);
    CHECK_MSG(r.accept > 0 && r.accept <= 1, "%s: acceptance %.3f", name, r.accept);
}

/* grbm_chains_pre after each sampler's steps: the pre-activations of the current v, bit for bit (NULL after
 * Gibbs, which draws v after them); and grbm_gacc: 600 rows (more than one chunk of the public function)
 * with weights, given pre or computing it, against ebm_grbm_free_energy_grad. */
static void test_trainer_pieces(void) {
    enum { V = 20, H = 12, N = 600 };
    ebm_grbm *m = fixture_grbm(V, H, 0.4, 31);
    float iv[V], sc[N * V], *pre = malloc(N * H * sizeof(float));
    grbm_variances(m, iv, NULL);
    for (int smp = EBM_GRBM_GIBBS; smp <= EBM_GRBM_GIBBS_LANGEVIN; smp++) {
        ebm_grbm_chains *c;
        REQUIRE(ebm_grbm_chains_new(m, N, &c) == EBM_OK);
        ebm_rng r;
        ebm_rng_seed(&r, 8, 0);
        ebm_grbm_sample_opts o;
        ebm_grbm_sample_opts_default(&o);
        o.sampler = (ebm_grbm_sampler)smp;
        o.mh = smp != EBM_GRBM_GIBBS;
        CHECK_OK(ebm_grbm_chains_init_noise(c, 1.0f, &r));
        CHECK_OK(ebm_grbm_chains_run(c, &o, 3, &r));
        const float *cp = grbm_chains_pre(c);
        if (smp == EBM_GRBM_GIBBS) {
            CHECK(cp == NULL);
        } else {
            REQUIRE(cp != NULL);
            grbm_pre_hidden(m, NULL, iv, grbm_chains_v(c), N, sc, pre);
            CHECK_MSG(memcmp(cp, pre, N * H * sizeof(float)) == 0, "sampler %d: cached pre-activations differ", smp);
        }
        ebm_grbm_chains_free(c);
    }
    float *v = malloc(N * V * sizeof(float)), w[N];
    ebm_rng r;
    ebm_rng_seed(&r, 9, 0);
    for (int i = 0; i < N * V; i++) v[i] = (float)ebm_rng_normal(&r);
    for (int i = 0; i < N; i++) w[i] = (float)(ebm_rng_uniform(&r) - 0.3);
    size_t np = m->n_params;
    float *g0 = calloc(np, sizeof(float)), *g1 = calloc(np, sizeof(float)), *g2 = calloc(np, sizeof(float));
    CHECK_OK(ebm_grbm_free_energy_grad(m, v, N, w, g0));
    grbm_gacc a;
    REQUIRE(grbm_gacc_new(m, N, &a) == EBM_OK);
    grbm_gacc_add(m, &a, v, NULL, 250, w); /* the trainer's shape: rows in pieces, one finish */
    grbm_gacc_add(m, &a, v + 250 * V, NULL, N - 250, w + 250);
    grbm_gacc_finish(m, &a, g1);
    CHECK(a.n == 0);
    grbm_pre_hidden(m, NULL, iv, v, N, sc, pre);
    grbm_gacc_add(m, &a, v, pre, N, w);
    grbm_gacc_finish(m, &a, g2);
    float *g3 = calloc(np, sizeof(float));
    grbm_gacc_add(m, &a, v, NULL, N, w); /* the same product's shape as pre's */
    grbm_gacc_finish(m, &a, g3);
    CHECK_MSG(memcmp(g3, g2, np * sizeof(float)) == 0, "given and computed pre-activations give different gradients");
    free(g3);
    double worst = 0, scale = 0;
    for (size_t p = 0; p < np; p++) scale = fmax(scale, fabs(g0[p]));
    for (size_t p = 0; p < np; p++) worst = fmax(worst, fabs(g1[p] - g0[p]) / scale);
    printf("gradient accumulator vs ebm_grbm_free_energy_grad, 600 weighted rows: max difference %.2e of the largest (bound 1e-5)\n", worst);
    CHECK_MSG(worst <= 1e-5, "accumulator differs by %.2e", worst);
    grbm_gacc_free(&a);
    free(g0);
    free(g1);
    free(g2);
    free(v);
    free(pre);
    ebm_grbm_free(m);
}

int main(void) {
    ebm_set_threads(1); /* the statistics do not depend on it (checked below); keeps the run short on a busy machine */
    ebm_grbm *m = fixture_grbm(NV, NH, 0.7, 21);
    double mean[NV], cov[NV * NV];
    REQUIRE(ebm_grbm_moments_exact(m, mean, cov) == EBM_OK);
    printf("exact mean %.3f %.3f %.3f, variances %.3f %.3f %.3f\n", mean[0], mean[1], mean[2], cov[0], cov[4], cov[8]);
    ebm_grbm_sample_opts o;
    ebm_grbm_sample_opts_default(&o);
    o.sampler = EBM_GRBM_GIBBS;
    check_sampler(m, "gibbs", &o, mean, cov);
    o.sampler = EBM_GRBM_GIBBS_LANGEVIN;
    o.mh = 1;
    check_sampler(m, "gibbs-langevin + MH (eta 0.5)", &o, mean, cov);
    ebm_precision p16; /* bf16 products (ebm_precision): a slightly perturbed target, within the same bounds */
    if (ebm_precision_resolve(EBM_PRECISION_BF16, &p16) == EBM_OK) {
        o.precision = EBM_PRECISION_BF16;
        check_sampler(m, "gibbs-langevin + MH, bf16 products", &o, mean, cov);
        o.sampler = EBM_GRBM_GIBBS;
        check_sampler(m, "gibbs, bf16 products", &o, mean, cov);
        o.sampler = EBM_GRBM_GIBBS_LANGEVIN;
        o.precision = EBM_PRECISION_FP32;
    } else {
        printf("bf16 precision not built in: bf16 sampler checks skipped\n");
    }
    o.anneal = 0;
    o.eta = 1.6f;
    o.langevin_steps = 3;
    check_sampler(m, "gibbs-langevin + MH (eta 1.6, flat)", &o, mean, cov);
    /* the same move without its MH test is visibly wrong: the test has power */
    o.mh = 0;
    result bad = run(m, &o, mean, cov, 11);
    printf("%-34s mean error %.4f sd, cov error %.4f (must exceed the bounds)\n", "gibbs-langevin, no MH (eta 1.6)",
           bad.mean_err, bad.cov_err);
    CHECK(bad.mean_err > 0.05 || bad.cov_err > 0.08);
    ebm_grbm_sample_opts_default(&o);
    o.sampler = EBM_GRBM_LANGEVIN;
    o.mh = 1;
    o.anneal = 0;
    o.eta = 0.3f;
    check_sampler(m, "langevin + MH (MALA, eta 0.3)", &o, mean, cov);

    /* thread-count independence, in fp32 and (where built in) with bf16 products */
    ebm_grbm_sample_opts_default(&o);
    o.mh = 1;
    float *v1 = malloc(CHAINS * NV * sizeof(float));
    for (int run = 0; run < 4; run++) {
        int th = 1 + run % 2;
        o.precision = run < 2 ? EBM_PRECISION_FP32 : EBM_PRECISION_BF16;
        if (run >= 2 && ebm_precision_resolve(EBM_PRECISION_BF16, &p16) != EBM_OK) break;
        ebm_set_threads(th);
        ebm_grbm_chains *c;
        REQUIRE(ebm_grbm_chains_new(m, CHAINS, &c) == EBM_OK);
        ebm_rng r;
        ebm_rng_seed(&r, 3, 0);
        CHECK_OK(ebm_grbm_chains_init_noise(c, 1.0f, &r));
        CHECK_OK(ebm_grbm_chains_run(c, &o, 5, &r));
        if (run == 2) /* bf16 did run: not fp32's chains */
            CHECK(memcmp(v1, ebm_grbm_chains_visible(c), CHAINS * NV * sizeof(float)) != 0);
        if (th == 1) memcpy(v1, ebm_grbm_chains_visible(c), CHAINS * NV * sizeof(float));
        else CHECK(memcmp(v1, ebm_grbm_chains_visible(c), CHAINS * NV * sizeof(float)) == 0);
        ebm_grbm_chains_free(c);
    }
    free(v1);
    /* mh_after: the first steps since the start unadjusted, as runs of their own, over several runs */
    for (int sampler = EBM_GRBM_LANGEVIN; sampler <= EBM_GRBM_GIBBS_LANGEVIN; sampler++) {
        ebm_grbm_chains *ca, *cb;
        REQUIRE(ebm_grbm_chains_new(m, CHAINS, &ca) == EBM_OK);
        REQUIRE(ebm_grbm_chains_new(m, CHAINS, &cb) == EBM_OK);
        ebm_rng ra, rb;
        ebm_rng_seed(&ra, 5, 0);
        ebm_rng_seed(&rb, 5, 0);
        CHECK_OK(ebm_grbm_chains_init_noise(ca, 1.0f, &ra));
        CHECK_OK(ebm_grbm_chains_init_noise(cb, 1.0f, &rb));
        ebm_grbm_sample_opts_default(&o);
        o.sampler = (ebm_grbm_sampler)sampler;
        o.mh = 1;
        o.mh_after = 3;
        CHECK_OK(ebm_grbm_chains_run(ca, &o, 2, &ra)); /* 2 unadjusted */
        CHECK_OK(ebm_grbm_chains_run(ca, &o, 4, &ra)); /* 1 unadjusted, 3 adjusted */
        ebm_grbm_sample_opts plain = o;
        plain.mh = 0;
        plain.mh_after = 0;
        o.mh_after = 0;
        CHECK_OK(ebm_grbm_chains_run(cb, &plain, 2, &rb));
        CHECK_OK(ebm_grbm_chains_run(cb, &plain, 1, &rb));
        CHECK_OK(ebm_grbm_chains_run(cb, &o, 3, &rb));
        CHECK(memcmp(ebm_grbm_chains_visible(ca), ebm_grbm_chains_visible(cb), CHAINS * NV * sizeof(float)) == 0);
        CHECK(ebm_grbm_chains_accept_rate(ca) == ebm_grbm_chains_accept_rate(cb));
        CHECK(ebm_grbm_chains_accept_rate(ca) > 0 && ebm_grbm_chains_accept_rate(ca) <= 1);
        /* a restart counts again from 0: all of a run of mh_after steps is unadjusted, as with mh off */
        o.mh_after = 4;
        plain.mh_after = 4;
        CHECK_OK(ebm_grbm_chains_init_noise(ca, 1.0f, &ra));
        CHECK_OK(ebm_grbm_chains_init_noise(cb, 1.0f, &rb));
        CHECK_OK(ebm_grbm_chains_run(ca, &o, 4, &ra));
        CHECK_OK(ebm_grbm_chains_run(cb, &plain, 4, &rb));
        CHECK(memcmp(ebm_grbm_chains_visible(ca), ebm_grbm_chains_visible(cb), CHAINS * NV * sizeof(float)) == 0);
        ebm_grbm_chains_free(ca);
        ebm_grbm_chains_free(cb);
    }
    /* bad options */
    ebm_grbm_chains *c;
    REQUIRE(ebm_grbm_chains_new(m, 4, &c) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, 3, 0);
    o.eta = 0;
    CHECK_FAILS(ebm_grbm_chains_run(c, &o, 1, &r), EBM_EINVAL);
    ebm_grbm_sample_opts_default(&o);
    o.T = -1;
    CHECK_FAILS(ebm_grbm_chains_run(c, &o, 1, &r), EBM_EINVAL);
    ebm_grbm_sampler k;
    CHECK_FAILS(ebm_grbm_sampler_parse("gibs", &k), EBM_EINVAL);
    CHECK_OK(ebm_grbm_sampler_parse("gibbs-langevin", &k));
    CHECK(k == EBM_GRBM_GIBBS_LANGEVIN);
    ebm_grbm_chains_free(c);
    ebm_grbm_chains *none;
    CHECK_FAILS(ebm_grbm_chains_new(m, 0, &none), EBM_EINVAL);
    CHECK(none == NULL);
    ebm_grbm_free(m);
    test_trainer_pieces();
    return check_summary("test_grbm_samplers");
}
