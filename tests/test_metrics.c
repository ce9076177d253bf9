/* Metrics against hand-computed cases: accuracy and NLL of softmax logits; the expected calibration error
 * of a set whose bins are known; AUROC of separable, reversed, tied and interleaved scores; the Frechet
 * distance of a set with itself is 0, grows as the square of a mean shift, and matches the closed form
 * sum (mu1 - mu2)^2 + sum (s1 - s2)^2 for independent coordinates; bad inputs are refused. */
#include "check.h"

static void test_classify_and_ece(void) {
    /* row 0: logits (ln 3, 0) -> p = (0.75, 0.25), label 0 (right, conf 0.75)
     * row 1: (0, ln 9) -> p = (0.1, 0.9), label 0 (wrong, conf 0.9)
     * row 2: (ln 4, 0) -> (0.8, 0.2), label 0 (right, conf 0.8)
     * row 3: (0, 0) -> (0.5, 0.5), arg max 0, label 1 (wrong, conf 0.5) */
    const float z[8] = {(float)log(3.0), 0, 0, (float)log(9.0), (float)log(4.0), 0, 0, 0};
    const int32_t y[4] = {0, 0, 0, 1};
    double acc, nll;
    CHECK_OK(ebm_metric_classify(z, y, 4, 2, &acc, &nll));
    CHECK_NEAR(acc, 0.5, 1e-12);
    CHECK_NEAR(nll, (-log(0.75) - log(0.1) - log(0.8) - log(0.5)) / 4, 1e-6);
    /* 10 bins: 0.5 -> bin 5 (acc 0), 0.75 and 0.8 -> bin 7 and 8 (acc 1 each), 0.9 -> bin 9 (acc 0) */
    double ece, ba[10], bc[10];
    size_t cnt[10];
    CHECK_OK(ebm_metric_ece(z, y, 4, 2, 10, &ece, ba, bc, cnt));
    double want = 0.25 * (0.5 + 0.25 + 0.2 + 0.9);
    CHECK_NEAR(ece, want, 1e-6);
    CHECK(cnt[5] == 1 && cnt[7] == 1 && cnt[8] == 1 && cnt[9] == 1 && cnt[0] == 0);
    CHECK(isnan(ba[0]) && ba[7] == 1.0 && ba[9] == 0.0);
    CHECK_NEAR(bc[9], 0.9, 1e-6);
    /* 1 bin: |accuracy - mean confidence| */
    CHECK_OK(ebm_metric_ece(z, y, 4, 2, 1, &ece, NULL, NULL, NULL));
    CHECK_NEAR(ece, fabs(0.5 - (0.75 + 0.9 + 0.8 + 0.5) / 4), 1e-6);
    const int32_t bad[4] = {0, 2, 0, 1};
    CHECK_FAILS(ebm_metric_classify(z, bad, 4, 2, &acc, &nll), EBM_EINVAL);
    CHECK_FAILS(ebm_metric_ece(z, y, 4, 2, 0, &ece, NULL, NULL, NULL), EBM_EINVAL);
}

/* Temperature scaling: labels drawn from softmax(z / 2.5) give back T near 2.5 (and z / 2.5 near 1); the fitted
 * T is a minimum of the NLL; separable rows go to the lower bound, uninformative ones stay at 1. */
static void test_fit_temperature(void) {
    enum { N = 20000, K = 5 };
    float *z = malloc(N * K * sizeof(float));
    int32_t *y = malloc(N * sizeof(int32_t));
    REQUIRE(z && y);
    ebm_rng r;
    ebm_rng_seed(&r, 7, 0);
    for (size_t i = 0; i < N; i++) {
        double p[K], s = 0, u = ebm_rng_uniform(&r);
        for (size_t j = 0; j < K; j++) {
            z[i * K + j] = (float)(3 * ebm_rng_normal(&r));
            s += p[j] = exp(z[i * K + j] / 2.5);
        }
        y[i] = K - 1;
        for (size_t j = 0; j < K; j++) {
            u -= p[j] / s;
            if (u < 0) {
                y[i] = (int32_t)j;
                break;
            }
        }
    }
    double T, before, after;
    CHECK_OK(ebm_metric_fit_temperature(z, y, N, K, &T, &before, &after));
    CHECK_MSG(fabs(T - 2.5) < 0.1, "labels drawn at temperature 2.5 gave T = %g", T);
    CHECK(after < before - 0.1);
    double nll_lo, nll_hi, nll_at;
    float *zs = malloc(N * K * sizeof(float));
    REQUIRE(zs);
    const double f[3] = {1, 0.97, 1.03};
    double *out[3] = {&nll_at, &nll_lo, &nll_hi};
    for (int t = 0; t < 3; t++) {
        memcpy(zs, z, N * K * sizeof(float));
        CHECK_OK(ebm_logits_scale(zs, N, K, T * f[t]));
        CHECK_OK(ebm_metric_classify(zs, y, N, K, NULL, out[t]));
    }
    CHECK_NEAR(nll_at, after, 1e-6);
    CHECK(nll_lo > nll_at && nll_hi > nll_at);
    memcpy(zs, z, N * K * sizeof(float));
    CHECK_OK(ebm_logits_scale(zs, N, K, 2.5));
    CHECK_OK(ebm_metric_fit_temperature(zs, y, N, K, &T, NULL, NULL));
    CHECK_NEAR(T, 1, 0.04);
    /* every row right by a margin: the NLL falls as T does, down to the bound */
    const float sep[4] = {2, 0, 0, 1};
    const int32_t ys[2] = {0, 1};
    CHECK_OK(ebm_metric_fit_temperature(sep, ys, 2, 2, &T, NULL, &after));
    CHECK_MSG(T >= EBM_TEMPERATURE_MIN && T < 0.1 && after < 1e-9, "separable rows: T = %g, NLL %g", T, after);
    const float flat[4] = {1, 1, 0, 0};
    CHECK_OK(ebm_metric_fit_temperature(flat, ys, 2, 2, &T, &before, &after));
    CHECK(T == 1 && before == after);
    /* wrong and confident: soften towards the upper bound's uniform guess */
    const int32_t yw[2] = {1, 0};
    CHECK_OK(ebm_metric_fit_temperature(sep, yw, 2, 2, &T, NULL, NULL));
    CHECK_NEAR(T, EBM_TEMPERATURE_MAX, 1e-6);
    CHECK_FAILS(ebm_logits_scale(zs, N, K, 0), EBM_EINVAL);
    CHECK_FAILS(ebm_logits_scale(zs, N, K, NAN), EBM_EINVAL);
    CHECK_FAILS(ebm_metric_fit_temperature(z, y, N, K, NULL, NULL, NULL), EBM_EINVAL);
    y[3] = K;
    CHECK_FAILS(ebm_metric_fit_temperature(z, y, N, K, &T, NULL, NULL), EBM_EINVAL);
    memcpy(zs, sep, sizeof sep);
    CHECK_OK(ebm_logits_scale(zs, 2, 2, 1));
    CHECK(memcmp(zs, sep, sizeof sep) == 0);
    free(zs);
    free(z);
    free(y);
}

static void test_auroc(void) {
    const double p[3] = {3, 4, 5}, n[2] = {1, 2};
    double a;
    CHECK_OK(ebm_metric_auroc(p, 3, n, 2, &a));
    CHECK_NEAR(a, 1.0, 1e-12);
    CHECK_OK(ebm_metric_auroc(n, 2, p, 3, &a));
    CHECK_NEAR(a, 0.0, 1e-12);
    const double t1[2] = {1, 1}, t2[3] = {1, 1, 1};
    CHECK_OK(ebm_metric_auroc(t1, 2, t2, 3, &a));
    CHECK_NEAR(a, 0.5, 1e-12);
    /* positives {1, 3}, negatives {2, 4}: pairs (1>2 no, 1>4 no, 3>2 yes, 3>4 no) = 1/4 */
    const double ip[2] = {1, 3}, in[2] = {2, 4};
    CHECK_OK(ebm_metric_auroc(ip, 2, in, 2, &a));
    CHECK_NEAR(a, 0.25, 1e-12);
    /* a tie across the classes counts one half: positives {2}, negatives {2, 1} -> (0.5 + 1) / 2 */
    const double tp[1] = {2}, tn[2] = {2, 1};
    CHECK_OK(ebm_metric_auroc(tp, 1, tn, 2, &a));
    CHECK_NEAR(a, 0.75, 1e-12);
    CHECK_FAILS(ebm_metric_auroc(p, 0, n, 2, &a), EBM_EINVAL);
    const double nanp[1] = {NAN};
    CHECK_FAILS(ebm_metric_auroc(nanp, 1, n, 2, &a), EBM_ENAN);

    /* by class: class 2 = {1, 3} against {2, 4} as above; class 7 has no rows, class 0 all of them */
    const double sc[4] = {2, 1, 4, 3};
    const int32_t lab[4] = {0, 2, 1, 2}, same[4] = {0, 0, 0, 0};
    size_t np = 9;
    CHECK_OK(ebm_metric_auroc_class(sc, lab, 4, 2, &a, &np));
    CHECK_NEAR(a, 0.25, 1e-12);
    CHECK(np == 2);
    CHECK_OK(ebm_metric_auroc_class(sc, lab, 4, 0, &a, NULL)); /* {2} against {1, 4, 3}: 1/3 */
    CHECK_NEAR(a, 1.0 / 3.0, 1e-12);
    CHECK_FAILS(ebm_metric_auroc_class(sc, lab, 4, 7, &a, &np), EBM_EINVAL);
    CHECK(np == 0);
    CHECK_FAILS(ebm_metric_auroc_class(sc, same, 4, 0, &a, &np), EBM_EINVAL);
    CHECK(np == 4);
}

static void test_ecdf(void) {
    const double ref[6] = {-1, 0, 0, 2, 5, 5};
    const double x[7] = {-3, -1, 0, 1, 5, 6, INFINITY};
    double out[7];
    CHECK_OK(ebm_metric_ecdf(ref, 6, x, 7, out));
    const double want[7] = {0, 0.5 / 6, 2.0 / 6, 3.0 / 6, 5.0 / 6, 1, 1}; /* ties count one half */
    for (int i = 0; i < 7; i++) CHECK_NEAR(out[i], want[i], 1e-15);
    CHECK_OK(ebm_metric_ecdf(ref, 6, x, 0, out));
    const double unsorted[3] = {0, 2, 1}, nan_ref[2] = {0, NAN}, nan_x[1] = {NAN};
    CHECK_FAILS(ebm_metric_ecdf(unsorted, 3, x, 1, out), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "score 2 is out of order") != NULL);
    CHECK_FAILS(ebm_metric_ecdf(nan_ref, 2, x, 1, out), EBM_EINVAL);
    CHECK_FAILS(ebm_metric_ecdf(ref, 6, nan_x, 1, out), EBM_EINVAL);
    CHECK_FAILS(ebm_metric_ecdf(ref, 0, x, 1, out), EBM_EINVAL);
}

static void test_frechet(void) {
    const size_t n = 20000, d = 4;
    float *x = malloc(n * d * sizeof(float)), *y = malloc(n * d * sizeof(float));
    ebm_rng r;
    ebm_rng_seed(&r, 5, 0);
    /* x: independent N(0, s_j^2) with s = (1, 2, 0.5, 1); a mixing rotation is applied to both sets below */
    const double s1[4] = {1, 2, 0.5, 1}, s2[4] = {1.5, 2, 0.5, 0.25};
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            x[i * d + j] = (float)(s1[j] * ebm_rng_normal(&r));
            y[i * d + j] = (float)(s2[j] * ebm_rng_normal(&r));
        }
    double fd;
    CHECK_OK(ebm_frechet_distance(x, n, x, n, d, &fd));
    CHECK_MSG(fd < 1e-9, "FD of a set with itself %g", fd);
    double prev = 0;
    for (int k = 1; k <= 3; k++) {
        float *z = malloc(n * d * sizeof(float));
        for (size_t i = 0; i < n * d; i++) z[i] = x[i] + 0.5f * (float)k;
        CHECK_OK(ebm_frechet_distance(x, n, z, n, d, &fd));
        double want = d * 0.25 * k * k;
        CHECK_MSG(fabs(fd - want) < 1e-4 * want, "shift %d: FD %g, want %g", k, fd, want);
        CHECK(fd > prev);
        prev = fd;
        free(z);
    }
    /* independent coordinates: FD = sum (s1 - s2)^2 up to sampling error (means are 0) */
    CHECK_OK(ebm_frechet_distance(x, n, y, n, d, &fd));
    double want = 0;
    for (size_t j = 0; j < d; j++) want += (s1[j] - s2[j]) * (s1[j] - s2[j]);
    printf("  Frechet distance of two diagonal Gaussians: %.4f (closed form %.4f)\n", fd, want);
    CHECK_NEAR(fd, want, 0.03);
    /* a rotation applied to both sets leaves FD unchanged */
    const double c = cos(0.7), sn = sin(0.7);
    for (size_t i = 0; i < n; i++) {
        float *a = x + i * d, *b = y + i * d;
        float a0 = a[0], a1 = a[1], b0 = b[0], b1 = b[1];
        a[0] = (float)(c * a0 - sn * a1);
        a[1] = (float)(sn * a0 + c * a1);
        b[0] = (float)(c * b0 - sn * b1);
        b[1] = (float)(sn * b0 + c * b1);
    }
    double fd2;
    CHECK_OK(ebm_frechet_distance(x, n, y, n, d, &fd2));
    CHECK_NEAR(fd2, fd, 1e-3);
    CHECK_FAILS(ebm_frechet_distance(x, 1, y, n, d, &fd), EBM_EINVAL);
    x[3] = NAN;
    CHECK_FAILS(ebm_frechet_distance(x, n, y, n, d, &fd), EBM_ENAN);
    free(x);
    free(y);
}

/* buf <- the text of the file at path (at most cap - 1 bytes), "" when it cannot be read. */
static void read_text(const char *path, char *buf, size_t cap) {
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    if (!f) return;
    buf[fread(buf, 1, cap - 1, f)] = '\0';
    fclose(f);
}

/* ebm_metric_class_means: the mean per class, NaN for an empty class, labels past cap and negative ones
 * ignored; ebm_metric_write_scores(_as): the CSV of ebm score, its column's name checked. */
static void test_class_means_and_scores(void) {
    const double v[6] = {1, 2, 3, 10, 7, 100};
    const int32_t lab[6] = {0, 2, 0, 2, -1, 5};
    double means[6];
    CHECK(ebm_metric_class_means(v, lab, 6, 6, means) == 6);
    CHECK_NEAR(means[0], 2.0, 1e-12);
    CHECK(isnan(means[1]) && isnan(means[3]) && isnan(means[4]));
    CHECK_NEAR(means[2], 6.0, 1e-12);
    CHECK_NEAR(means[5], 100.0, 1e-12);
    CHECK(ebm_metric_class_means(v, lab, 6, 3, means) == 3); /* label 5 ignored */
    CHECK_NEAR(means[2], 6.0, 1e-12);
    CHECK(ebm_metric_class_means(v, lab + 4, 1, 6, means) == 0);
    char path[600];
    snprintf(path, sizeof path, "%s/scores.csv", check_tmpdir("metrics"));
    CHECK_OK(ebm_metric_write_scores(path, v, lab, 2));
    char buf[128];
    read_text(path, buf, sizeof buf);
    CHECK_MSG(strcmp(buf, "row,energy,label\n0,1,0\n1,2,2\n") == 0, "scores csv: %s", buf);
    CHECK_OK(ebm_metric_write_scores(path, v + 5, NULL, 1));
    read_text(path, buf, sizeof buf);
    CHECK_MSG(strcmp(buf, "row,energy\n0,100\n") == 0, "scores csv without labels: %s", buf);
    CHECK_FAILS(ebm_metric_write_scores("/nonexistent-dir/x.csv", v, NULL, 1), EBM_EIO);
    /* a named score column; names that would break the CSV are refused before anything is written */
    CHECK_OK(ebm_metric_write_scores_as(path, "energy+mahalanobis", v, lab, 1));
    read_text(path, buf, sizeof buf);
    CHECK_MSG(strcmp(buf, "row,energy+mahalanobis,label\n0,1,0\n") == 0, "named scores csv: %s", buf);
    CHECK_FAILS(ebm_metric_write_scores_as(path, "a,b", v, NULL, 1), EBM_EINVAL);
    CHECK_FAILS(ebm_metric_write_scores_as(path, "", v, NULL, 1), EBM_EINVAL);
    CHECK_FAILS(ebm_metric_write_scores_as(path, "x\ny", v, NULL, 1), EBM_EINVAL);
    CHECK_FAILS(ebm_metric_write_scores_as(path, NULL, v, NULL, 1), EBM_EINVAL);
    read_text(path, buf, sizeof buf);
    CHECK_MSG(strcmp(buf, "row,energy+mahalanobis,label\n0,1,0\n") == 0, "refused name left the file: %s", buf);
}

int main(void) {
    test_class_means_and_scores();
    test_classify_and_ece();
    test_fit_temperature();
    test_auroc();
    test_ecdf();
    test_frechet();
    return check_summary("test_metrics");
}
