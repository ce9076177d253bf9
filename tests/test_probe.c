/* The linear probe: its gradient against central finite differences of its loss, hand-computed loss values,
 * and a fit on linearly separable generated data that must classify held-out points perfectly. */
#include "check.h"

static void test_loss_by_hand(void) {
    /* 2 features, 2 classes, W = [[1, 0], [0, 2]], b = [0.5, 0]; x = (1, 1), y = 1:
     * logits (1.5, 2), loss = log(e^1.5 + e^2) - 2 */
    ebm_probe *p;
    REQUIRE(ebm_probe_new(2, 2, &p) == EBM_OK);
    p->W[0] = 1;
    p->W[3] = 2;
    p->b[0] = 0.5f;
    float x[2] = {1, 1}, logits[2];
    int32_t y[1] = {1};
    double loss;
    CHECK_OK(ebm_probe_loss(p, x, y, 1, 0.0f, &loss, NULL));
    CHECK_NEAR(loss, log(exp(1.5) + exp(2.0)) - 2.0, 1e-6);
    CHECK_OK(ebm_probe_loss(p, x, y, 1, 0.5f, &loss, NULL)); /* + 0.25 * (1 + 4) */
    CHECK_NEAR(loss, log(exp(1.5) + exp(2.0)) - 2.0 + 1.25, 1e-6);
    CHECK_OK(ebm_probe_predict(p, x, 1, logits));
    CHECK_NEAR(logits[0], 1.5, 1e-6);
    CHECK_NEAR(logits[1], 2.0, 1e-6);
    int32_t bad[1] = {2};
    CHECK_FAILS(ebm_probe_loss(p, x, bad, 1, 0.0f, &loss, NULL), EBM_EINVAL);
    ebm_probe_free(p);
}

static void test_gradient_fd(void) {
    size_t n = 7, d = 4, k = 3, np = d * k + k;
    ebm_rng r;
    ebm_rng_seed(&r, 5, 0);
    float x[7 * 4];
    int32_t y[7];
    for (size_t i = 0; i < n * d; i++) x[i] = (float)ebm_rng_normal(&r);
    for (size_t i = 0; i < n; i++) y[i] = (int32_t)ebm_rng_below(&r, k);
    ebm_probe *p;
    REQUIRE(ebm_probe_new(d, k, &p) == EBM_OK);
    for (size_t i = 0; i < np; i++) p->W[i] = (float)(0.5 * ebm_rng_normal(&r)); /* W and b are contiguous */
    float grad[15];
    double loss;
    float l2 = 0.3f;
    CHECK_OK(ebm_probe_loss(p, x, y, n, l2, &loss, grad));
    double worst = 0;
    for (size_t i = 0; i < np; i++) {
        float keep = p->W[i];
        double fp, fm, h = 1e-2;
        p->W[i] = keep + (float)h;
        ebm_probe_loss(p, x, y, n, l2, &fp, NULL);
        p->W[i] = keep - (float)h;
        ebm_probe_loss(p, x, y, n, l2, &fm, NULL);
        p->W[i] = keep;
        double fd = (fp - fm) / (2 * h), err = fabs(fd - grad[i]);
        worst = err > worst ? err : worst;
    }
    CHECK_MSG(worst < 2e-4, "largest |finite difference - gradient| = %g", worst);
    ebm_probe_free(p);
}

/* 3 well-separated Gaussian blobs in 5-D: centres at 4 e_c, sd 0.5. */
static void blobs(size_t n, uint64_t seed, float *x, int32_t *y) {
    ebm_rng r;
    ebm_rng_seed(&r, seed, 0);
    for (size_t i = 0; i < n; i++) {
        y[i] = (int32_t)(i % 3);
        for (size_t j = 0; j < 5; j++) x[i * 5 + j] = (float)(0.5 * ebm_rng_normal(&r) + (j == (size_t)y[i] ? 4 : 0));
    }
}

static void test_fit_separable(void) {
    enum { N = 300, M = 150 };
    static float x[N * 5], xt[M * 5], logits[M * 3];
    static int32_t y[N], yt[M];
    blobs(N, 1, x, y);
    blobs(M, 2, xt, yt);
    ebm_probe_opts o;
    ebm_probe_opts_default(&o);
    ebm_probe *p;
    ebm_probe_result res;
    CHECK_OK(ebm_probe_fit(x, y, N, 5, &o, &p, &res));
    REQUIRE(p != NULL);
    CHECK(p->n_classes == 3 && p->n_features == 5);
    CHECK_MSG(res.loss < 0.01, "training loss %g", res.loss);
    CHECK(res.iters > 0 && res.iters <= o.max_iter);
    double acc, nll;
    CHECK_OK(ebm_probe_predict(p, xt, M, logits));
    CHECK_OK(ebm_metric_classify(logits, yt, M, 3, &acc, &nll));
    CHECK_NEAR(acc, 1.0, 1e-12);
    /* at the optimum the gradient vanishes */
    float grad[5 * 3 + 3];
    double loss;
    CHECK_OK(ebm_probe_loss(p, x, y, N, o.l2, &loss, grad));
    double gmax = 0;
    for (size_t i = 0; i < 18; i++) gmax = fabs(grad[i]) > gmax ? fabs(grad[i]) : gmax;
    CHECK_MSG(gmax < 1e-3, "max |gradient| at the fit %g (converged %d, %zu iterations)", gmax, res.converged,
              res.iters);
    /* deterministic: a second fit gives the same parameters */
    ebm_probe *q;
    CHECK_OK(ebm_probe_fit(x, y, N, 5, &o, &q, NULL));
    CHECK(q && memcmp(p->W, q->W, 18 * sizeof(float)) == 0);
    ebm_probe_free(q);
    /* ebm_probe_fit_score: the same fit, scored on both sets as by hand */
    ebm_probe_score sc;
    CHECK_OK(ebm_probe_fit_score(x, y, N, xt, yt, M, 5, &o, &sc));
    CHECK(sc.test_acc == acc && sc.test_nll == nll && sc.fit.iters == res.iters && sc.fit.loss == res.loss);
    static float tl[N * 3];
    double train_acc;
    CHECK_OK(ebm_probe_predict(p, x, N, tl));
    CHECK_OK(ebm_metric_classify(tl, y, N, 3, &train_acc, NULL));
    CHECK(sc.train_acc == train_acc);
    yt[7] = 3;
    CHECK_FAILS(ebm_probe_fit_score(x, y, N, xt, yt, M, 5, &o, &sc), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "row 7") != NULL);
    ebm_probe_free(p);
    /* errors */
    int32_t one[3] = {0, 0, 0}, neg[3] = {0, -1, 1};
    CHECK_FAILS(ebm_probe_fit(x, one, 3, 5, &o, &q, NULL), EBM_EINVAL);
    CHECK_FAILS(ebm_probe_fit(x, neg, 3, 5, &o, &q, NULL), EBM_EINVAL);
    CHECK_FAILS(ebm_probe_fit(x, y, 0, 5, &o, &q, NULL), EBM_EINVAL);
    o.l2 = -1;
    CHECK_FAILS(ebm_probe_fit(x, y, N, 5, &o, &q, NULL), EBM_EINVAL);
}

/* Strong L2 shrinks W towards 0: with l2 large the fitted weights are small. */
static void test_l2_shrinks(void) {
    enum { N = 90 };
    static float x[N * 5];
    static int32_t y[N];
    blobs(N, 3, x, y);
    ebm_probe_opts o;
    ebm_probe_opts_default(&o);
    ebm_probe *a, *b;
    CHECK_OK(ebm_probe_fit(x, y, N, 5, &o, &a, NULL));
    o.l2 = 10.0f;
    CHECK_OK(ebm_probe_fit(x, y, N, 5, &o, &b, NULL));
    double na = 0, nb = 0;
    for (size_t i = 0; i < 15; i++) {
        na += (double)a->W[i] * a->W[i];
        nb += (double)b->W[i] * b->W[i];
    }
    CHECK_MSG(nb < 0.01 * na, "|W|^2 with l2 10: %g, with 1e-4: %g", nb, na);
    ebm_probe_free(a);
    ebm_probe_free(b);
}

int main(void) {
    test_loss_by_hand();
    test_gradient_fd();
    test_fit_separable();
    test_l2_shrinks();
    return check_summary("test_probe");
}
