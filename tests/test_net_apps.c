/* What the applications of energy networks and classifiers take from the library: class lists (numbers and
 * Fashion-MNIST names), the input shape of a network file's metadata, the out-of-distribution sets and their
 * AUROCs, a classifier's figures on labelled data, the rescaling of samples, the range LCD chains start from,
 * inpainting masks and the (masked) mean squared error. */
#include "check.h"

#include <stdbool.h>

static void test_classes(void) {
    ebm_meta *m;
    REQUIRE(ebm_meta_new(&m) == EBM_OK);
    int32_t y[16];
    size_t n;
    CHECK_OK(ebm_classes_parse("3", m, 8, y, 16, &n));
    CHECK(n == 1 && y[0] == 3);
    CHECK_OK(ebm_classes_parse("all", m, 8, y, 16, &n));
    CHECK(n == 8 && y[0] == 0 && y[7] == 7);
    CHECK_OK(ebm_classes_parse("all", m, 8, y, 2, &n));
    CHECK(n == 2 && y[1] == 1);
    CHECK_OK(ebm_classes_parse("5,1,5", m, 8, y, 16, &n));
    CHECK(n == 3 && y[0] == 5 && y[1] == 1 && y[2] == 5);
    CHECK_FAILS(ebm_classes_parse("8", m, 8, y, 16, &n), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "out of range") != NULL);
    CHECK_FAILS(ebm_classes_parse("-1", m, 8, y, 16, &n), EBM_EINVAL);
    CHECK_FAILS(ebm_classes_parse("1,,2", m, 8, y, 16, &n), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "cannot read") != NULL);
    CHECK_FAILS(ebm_classes_parse("1,", m, 8, y, 16, &n), EBM_EINVAL);
    CHECK_FAILS(ebm_classes_parse("1,2,3", m, 8, y, 2, &n), EBM_EINVAL);
    CHECK_FAILS(ebm_classes_parse("", m, 8, y, 16, &n), EBM_EINVAL);
    CHECK_FAILS(ebm_classes_parse("1", m, 0, y, 16, &n), EBM_EINVAL);
    CHECK_FAILS(ebm_classes_parse("bag", m, 10, y, 16, &n), EBM_EINVAL); /* no names without Fashion-MNIST */
    CHECK(strstr(ebm_last_error(), "not a class number from 0 to 9") != NULL);
    CHECK(ebm_class_name(m, 10, 8) == NULL);
    REQUIRE(ebm_meta_set(m, "ebm.data.spec", "fashion-mnist:train") == EBM_OK);
    CHECK(ebm_class_name(m, 10, 0) && strcmp(ebm_class_name(m, 10, 0), "t-shirt") == 0);
    CHECK(ebm_class_name(m, 10, 9) && strcmp(ebm_class_name(m, 10, 9), "ankle-boot") == 0);
    CHECK(ebm_class_name(m, 10, 10) == NULL && ebm_class_name(m, 8, 0) == NULL);
    CHECK_OK(ebm_classes_parse("bag,0,sandal", m, 10, y, 16, &n));
    CHECK(n == 3 && y[0] == 8 && y[1] == 0 && y[2] == 5);
    CHECK_FAILS(ebm_classes_parse("bags", m, 10, y, 16, &n), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "unknown class 'bags'") != NULL);
    size_t c, h, w;
    CHECK(ebm_net_input_shape(m, 784, &c, &h, &w) == 0 && c == 784 && h == 1 && w == 1);
    REQUIRE(ebm_meta_set(m, "ebm.net.input", "1x28x28") == EBM_OK);
    CHECK(ebm_net_input_shape(m, 784, &c, &h, &w) == 1 && c == 1 && h == 28 && w == 28);
    CHECK(ebm_net_input_shape(m, 100, &c, &h, &w) == 0 && c == 100 && h == 1 && w == 1);
    ebm_meta_free(m);
}

static void test_ood_and_figures(void) {
    enum { N = 400 };
    float x[N * 2], xo[N * 2];
    int32_t y[N];
    for (size_t i = 0; i < N; i++) { /* two classes: points near (0.25, 0.25) and (0.75, 0.75) */
        y[i] = (int32_t)(i % 2);
        x[2 * i] = x[2 * i + 1] = 0.25f + 0.5f * (float)y[i] + 0.01f * (float)(i % 7);
    }
    CHECK_OK(ebm_ood_fill("inverted", 0, x, 1, xo, N, 2));
    CHECK(xo[0] == 1.0f - x[0] && xo[3] == 1.0f - x[3]);
    CHECK_OK(ebm_ood_fill("inverted", 1, x, 1, xo, N, 2));
    CHECK(xo[5] == -x[5]);
    CHECK_OK(ebm_ood_fill("gaussian", 1, x, 1, xo, N, 2));
    bool in_range = true;
    double mean = 0;
    for (size_t i = 0; i < N * 2; i++) {
        in_range = in_range && xo[i] >= -1 && xo[i] <= 1;
        mean += xo[i] / (N * 2);
    }
    CHECK(in_range);
    CHECK_NEAR(mean, 0, 0.1);
    CHECK_OK(ebm_ood_fill("uniform", 0, x, 1, xo, N, 2));
    in_range = true;
    for (size_t i = 0; i < N * 2; i++) in_range = in_range && xo[i] >= 0 && xo[i] <= 1;
    CHECK(in_range);
    CHECK_FAILS(ebm_ood_fill("mnist", 0, x, 1, xo, N, 2), EBM_EINVAL);
    /* a hand-set classifier: logits (s, -s) with s = 10 (1 - x0 - x1) say class 0 below the diagonal x0 + x1 = 1 */
    ebm_net *net;
    REQUIRE(ebm_net_new("linear:2", 2, 1, 1, &net) == EBM_OK);
    size_t np;
    float *p = ebm_net_params(net, &np);
    REQUIRE(np == 6);
    const float W[6] = {-10, -10, 10, 10, 10, -10}; /* W (outputs, inputs), then the bias */
    ebm_rng r;
    ebm_rng_seed(&r, 1, 0);
    REQUIRE(ebm_net_init(net, &r) == EBM_OK);
    memcpy(p, W, sizeof W);
    double acc, nll, ece, bacc[15], bconf[15];
    size_t bcnt[15];
    CHECK_OK(ebm_net_classify_eval(net, x, y, N, 15, 1.0, &acc, &nll, &ece, bacc, bconf, bcnt));
    float logits[N * 2];
    REQUIRE(ebm_net_forward(net, x, N, logits) == EBM_OK);
    double acc2, nll2, ece2;
    CHECK_OK(ebm_metric_classify(logits, y, N, 2, &acc2, &nll2));
    CHECK_OK(ebm_metric_ece(logits, y, N, 2, 15, &ece2, bacc, bconf, bcnt));
    CHECK(acc == acc2 && nll == nll2 && ece == ece2);
    CHECK_MSG(acc == 1.0, "the hand-set classifier should be right on every point, got accuracy %g", acc);
    CHECK(nll > 0 && nll < 0.01 && ece >= 0 && ece < 0.01);
    /* the AUROCs against a set equal to the data are 1/2; against far-away points the log-px score tells them apart */
    double *sc = malloc(3 * N * sizeof(double)), a[3];
    CHECK_OK(ebm_jem_scores(net, x, N, sc, sc + N, sc + 2 * N));
    CHECK_OK(ebm_jem_ood_auroc(net, sc, N, x, N, a));
    for (int j = 0; j < 3; j++) CHECK_NEAR(a[j], 0.5, 1e-9);
    CHECK_OK(ebm_ood_fill("inverted", 0, x, 1, xo, N, 2));
    CHECK_OK(ebm_jem_ood_auroc(net, sc, N, xo, N, a));
    CHECK(a[0] >= 0 && a[0] <= 1 && a[1] >= 0 && a[1] <= 1);
    free(sc);
    ebm_net_free(net);
}

static void test_rescale_mask_mse(void) {
    ebm_mat *m;
    REQUIRE(ebm_mat_new(2, 4, &m) == EBM_OK);
    const float dark[8] = {-1, -1, -1, 1, -1, 0, -1, 1};
    memcpy(m->data, dark, sizeof dark);
    int pm1;
    float lo, hi;
    ebm_samples_rescale(m, 0, 1, 0, &pm1, &lo, &hi); /* images with a dark background: read as [-1, 1] */
    CHECK(pm1 == 1 && lo == -1 && hi == 1 && m->data[0] == 0 && m->data[3] == 1 && m->data[5] == 0.5f);
    ebm_samples_rescale(m, 0, 1, 1, &pm1, &lo, &hi); /* now [0, 1] with no dark values: read as [0, 1], to [-1, 1] */
    CHECK(pm1 == 0 && lo == 0 && hi == 1 && m->data[0] == -1 && m->data[5] == 0);
    ebm_samples_rescale(m, 0, 0, 1, &pm1, &lo, &hi); /* not images: as stored */
    CHECK(pm1 == 1 && m->data[0] == -1);
    ebm_samples_rescale(m, 1, 0, 1, &pm1, &lo, &hi); /* told [0, 1] */
    CHECK(pm1 == 0 && m->data[0] == -3);
    ebm_lcd_data_range(m, &lo, &hi);
    CHECK(lo == -3 && hi == 1);
    for (size_t i = 0; i < 8; i++) m->data[i] = 2.5f;
    ebm_lcd_data_range(m, &lo, &hi); /* constant data: a range of width 1 */
    CHECK(lo == 2.5f && hi == 3.5f);
    ebm_mat_free(m);
    uint8_t hide[12];
    size_t hidden;
    CHECK_OK(ebm_inpaint_mask("bottom", 4, 3, 1, hide, &hidden));
    CHECK(hidden == 6 && !hide[5] && hide[6] && hide[11]);
    CHECK_OK(ebm_inpaint_mask("left", 4, 3, 1, hide, &hidden));
    CHECK(hidden == 4 && hide[0] && !hide[1] && hide[3]);
    CHECK_OK(ebm_inpaint_mask("right", 4, 3, 1, hide, &hidden));
    CHECK(hidden == 8 && !hide[0] && hide[1] && hide[2]);
    CHECK_OK(ebm_inpaint_mask("top", 4, 3, 1, hide, &hidden));
    CHECK(hidden == 6 && hide[0] && hide[5] && !hide[6]);
    uint8_t big[10000];
    CHECK_OK(ebm_inpaint_mask("random:0.3", 100, 100, 7, big, &hidden));
    CHECK(hidden > 2700 && hidden < 3300);
    size_t again;
    uint8_t big2[10000];
    CHECK_OK(ebm_inpaint_mask("random:0.3", 100, 100, 7, big2, &again));
    CHECK(again == hidden && memcmp(big, big2, sizeof big) == 0);
    CHECK_FAILS(ebm_inpaint_mask("middle", 4, 3, 1, hide, &hidden), EBM_EINVAL);
    CHECK_FAILS(ebm_inpaint_mask("random:1.5", 4, 3, 1, hide, &hidden), EBM_EINVAL);
    CHECK_FAILS(ebm_inpaint_mask("random:0.5x", 4, 3, 1, hide, &hidden), EBM_EINVAL);
    const float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 3, 4, 2, 6};
    const uint8_t mask[3] = {0, 1, 0}, none[3] = {0, 0, 0};
    CHECK_NEAR(ebm_mse(a, b, 2, 3, NULL), (4.0 + 9.0) / 6, 1e-12);
    CHECK_NEAR(ebm_mse(a, b, 2, 3, mask), (4.0 + 9.0) / 2, 1e-12);
    CHECK(ebm_mse(a, b, 2, 3, none) == 0);
}

/* x^T S^-1 x for a 2-vector and a symmetric 2 x 2 S, by hand */
static double maha2(const double *d, const double *S) {
    double det = S[0] * S[3] - S[1] * S[2];
    return (d[0] * d[0] * S[3] - 2 * d[0] * d[1] * S[1] + d[1] * d[1] * S[0]) / det;
}

/* The feature Gaussian against the Mahalanobis distance computed by hand, with a network whose features are its
 * input (linear:1 on 2 inputs) and with one whose features are a hidden layer's. */
static void test_feature_gauss(void) {
    enum { N = 600 };
    float x[N * 2];
    int32_t y[N], near[N];
    double sc[N];
    ebm_rng r;
    ebm_rng_seed(&r, 7, 0);
    for (size_t i = 0; i < N; i++) { /* class 3 around (0, 0), class 7 around (40, 0); correlated noise */
        double a = ebm_rng_normal(&r), b = ebm_rng_normal(&r);
        y[i] = i % 3 ? 3 : 7;
        x[2 * i] = (float)(2 * a + (y[i] == 7 ? 40 : 0));
        x[2 * i + 1] = (float)(a + 0.5 * b - 1);
    }
    ebm_net *net;
    REQUIRE(ebm_net_new("linear:1", 2, 1, 1, &net) == EBM_OK);
    REQUIRE(ebm_net_init(net, &r) == EBM_OK);
    ebm_feature_gauss *g;
    /* one mean: the mean over the fitted rows of the squared distance is tr(S^-1 S) = 2 */
    REQUIRE(ebm_feature_gauss_fit(net, x, NULL, N, 0, &g) == EBM_OK);
    CHECK(ebm_feature_gauss_means(g) == 1 && ebm_feature_gauss_width(g) == 2);
    CHECK_OK(ebm_feature_gauss_score(g, net, x, N, sc, near));
    double mean = 0, mu[2] = {0, 0}, S[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < N; i++) mean += sc[i] / N, mu[0] += x[2 * i] / (double)N, mu[1] += x[2 * i + 1] / (double)N;
    CHECK_NEAR(mean, 2.0, 1e-9);
    CHECK(near[0] == 0);
    for (size_t i = 0; i < N; i++) {
        double d[2] = {x[2 * i] - mu[0], x[2 * i + 1] - mu[1]};
        S[0] += d[0] * d[0] / N, S[1] += d[0] * d[1] / N, S[3] += d[1] * d[1] / N;
    }
    S[2] = S[1];
    const float q[4] = {20, -1, 3, 5};
    CHECK_OK(ebm_feature_gauss_score(g, net, q, 2, sc, NULL));
    for (int i = 0; i < 2; i++) {
        double d[2] = {q[2 * i] - mu[0], q[2 * i + 1] - mu[1]}, want = maha2(d, S);
        CHECK_NEAR(sc[i] / want, 1.0, 1e-9);
    }
    ebm_feature_gauss_free(g);
    /* the default ridge (1e-6 x the mean eigenvalue, about 180 here: the classes lie 40 apart) lowers the mean by
     * about r / lambda_min, 1.4e-4 */
    REQUIRE(ebm_feature_gauss_fit(net, x, NULL, N, EBM_FEATURE_GAUSS_RIDGE, &g) == EBM_OK);
    CHECK_OK(ebm_feature_gauss_score(g, net, x, N, sc, NULL));
    mean = 0;
    for (size_t i = 0; i < N; i++) mean += sc[i] / N;
    CHECK_MSG(mean < 2.0 - 1e-5 && mean > 2.0 - 1e-3, "mean %.12f", mean);
    ebm_feature_gauss_free(g);

    /* two classes, labels 3 and 7, one shared covariance: the distance to the nearer class mean */
    REQUIRE(ebm_feature_gauss_fit(net, x, y, N, 0, &g) == EBM_OK);
    CHECK(ebm_feature_gauss_means(g) == 2);
    CHECK_OK(ebm_feature_gauss_score(g, net, x, N, sc, near));
    double m[2][2] = {{0, 0}, {0, 0}}, cnt[2] = {0, 0}, T[4] = {0, 0, 0, 0};
    size_t agree = 0;
    for (size_t i = 0; i < N; i++) {
        int c = y[i] == 7;
        cnt[c]++, m[c][0] += x[2 * i], m[c][1] += x[2 * i + 1];
        agree += near[i] == y[i];
    }
    CHECK(agree == N); /* 40 apart with a spread of 2: every row is nearest its own class */
    for (int c = 0; c < 2; c++) m[c][0] /= cnt[c], m[c][1] /= cnt[c];
    mean = 0;
    for (size_t i = 0; i < N; i++) {
        int c = y[i] == 7;
        double d[2] = {x[2 * i] - m[c][0], x[2 * i + 1] - m[c][1]};
        T[0] += d[0] * d[0] / N, T[1] += d[0] * d[1] / N, T[3] += d[1] * d[1] / N;
        mean += sc[i] / N;
    }
    T[2] = T[1];
    CHECK_NEAR(mean, 2.0, 1e-9); /* tr(T^-1 T) again, each row at its own class */
    CHECK_OK(ebm_feature_gauss_score(g, net, q, 2, sc, near));
    for (int i = 0; i < 2; i++) {
        double best = INFINITY;
        int bc = -1;
        for (int c = 0; c < 2; c++) {
            double d[2] = {q[2 * i] - m[c][0], q[2 * i + 1] - m[c][1]}, v = maha2(d, T);
            if (v < best) best = v, bc = c ? 7 : 3;
        }
        CHECK_NEAR(sc[i] / best, 1.0, 1e-9);
        CHECK(near[i] == bc);
    }
    CHECK(near[0] == 7 && near[1] == 3); /* (20, -1) lies nearer (40, -1) in this metric; (3, 5) nearer (0, -1) */

    /* refusals */
    ebm_feature_gauss *h = (ebm_feature_gauss *)1;
    CHECK_FAILS(ebm_feature_gauss_fit(net, x, NULL, 1, 0, &h), EBM_EINVAL);
    CHECK(h == NULL);
    CHECK_FAILS(ebm_feature_gauss_fit(net, x, NULL, N, -1, &h), EBM_EINVAL);
    int32_t yb[2] = {0, -2};
    CHECK_FAILS(ebm_feature_gauss_fit(net, x, yb, 2, 0, &h), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "row 1") != NULL);
    float xn[4] = {0, 1, NAN, 2};
    CHECK_FAILS(ebm_feature_gauss_fit(net, xn, NULL, 2, 0, &h), EBM_EINVAL);
    CHECK_FAILS(ebm_feature_gauss_score(g, net, xn, 2, sc, NULL), EBM_EINVAL);
    ebm_net *other;
    REQUIRE(ebm_net_new("linear:1", 3, 1, 1, &other) == EBM_OK);
    CHECK_FAILS(ebm_feature_gauss_score(g, other, x, 2, sc, NULL), EBM_ESHAPE);
    ebm_net_free(other);
    ebm_feature_gauss_free(g);

    /* features from a hidden layer: linear:3,silu,linear:2 scores the silu outputs, and the mean over the fitted
     * rows is 3 (the width) */
    REQUIRE(ebm_net_new("linear:3,silu,linear:2", 2, 1, 1, &other) == EBM_OK);
    REQUIRE(ebm_net_init(other, &r) == EBM_OK);
    size_t width;
    CHECK(ebm_net_penultimate(other, &width) == 2 && width == 3);
    REQUIRE(ebm_feature_gauss_fit(other, x, NULL, N, 0, &g) == EBM_OK);
    CHECK(ebm_feature_gauss_width(g) == 3);
    CHECK_OK(ebm_feature_gauss_score(g, other, x, N, sc, NULL));
    mean = 0;
    for (size_t i = 0; i < N; i++) mean += sc[i] / N;
    CHECK_NEAR(mean, 3.0, 1e-6);
    CHECK_FAILS(ebm_feature_gauss_score(g, net, x, 2, sc, NULL), EBM_ESHAPE);
    ebm_feature_gauss_free(g);
    ebm_net_free(other);
    ebm_net_free(net);
}

int main(void) {
    test_classes();
    test_ood_and_figures();
    test_rescale_mask_mse();
    test_feature_gauss();
    return check_summary("test_net_apps");
}
