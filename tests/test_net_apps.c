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

int main(void) {
    test_classes();
    test_ood_and_figures();
    test_rescale_mask_mse();
    return check_summary("test_net_apps");
}
