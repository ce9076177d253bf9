/* Evaluation metrics for classifiers and samples.  Accuracy and negative log-likelihood of softmax(logits);
 * expected calibration error (Guo, Pleiss, Sun & Weinberger 2017, eq. 3: equal-width confidence bins,
 * ECE = sum_b (n_b / n) |acc_b - conf_b|); AUROC as the Mann-Whitney statistic (the probability that a
 * positive scores above a negative, ties counting one half, with average ranks); and the Frechet distance
 * between Gaussians fitted to two sets of features (Heusel et al. 2017, "GANs trained by a two time-scale
 * update rule", eq. 6: |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))), with the trace of the matrix square
 * root computed as sum_i sqrt(lambda_i) of the symmetric S1^(1/2) S2 S1^(1/2) (LAPACK dsyev, in double). */
#include "core/internal.h"
#include "io/io_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ebm_status check_logits(const float *logits, const int32_t *labels, size_t n, size_t k) {
    if (n == 0 || k < 2) return ebm_fail(EBM_EINVAL, "metrics: need at least one row and two classes (got %zu, %zu)", n, k);
    for (size_t i = 0; i < n; i++)
        if (labels[i] < 0 || (size_t)labels[i] >= k)
            return ebm_fail(EBM_EINVAL, "metrics: label %d of row %zu is not a class in 0..%zu", (int)labels[i], i, k - 1);
    size_t bad;
    if (!ebm_k_all_finite(logits, n * k, &bad))
        return ebm_fail(EBM_ENAN, "metrics: logit %zu of row %zu is not finite", bad % k, bad / k);
    return EBM_OK;
}

/* Softmax probability of class c and the arg max of one row of k logits, in double. */
static double row_prob(const float *z, size_t k, size_t c, size_t *argmax) {
    size_t am = 0;
    for (size_t j = 1; j < k; j++)
        if (z[j] > z[am]) am = j;
    double s = 0;
    for (size_t j = 0; j < k; j++) s += exp((double)z[j] - z[am]);
    if (argmax) *argmax = am;
    return exp((double)z[c] - z[am]) / s;
}

ebm_status ebm_metric_classify(const float *logits, const int32_t *labels, size_t n, size_t k, double *accuracy,
                               double *nll) {
    ebm_status s = check_logits(logits, labels, n, k);
    if (s) return s;
    double acc = 0, ll = 0;
    for (size_t i = 0; i < n; i++) {
        size_t am;
        double p = row_prob(logits + i * k, k, (size_t)labels[i], &am);
        acc += am == (size_t)labels[i];
        ll += -log(p > 1e-300 ? p : 1e-300);
    }
    if (accuracy) *accuracy = acc / (double)n;
    if (nll) *nll = ll / (double)n;
    return EBM_OK;
}

ebm_status ebm_metric_ece(const float *logits, const int32_t *labels, size_t n, size_t k, size_t bins, double *ece,
                          double *bin_acc, double *bin_conf, size_t *bin_count) {
    ebm_status s = check_logits(logits, labels, n, k);
    if (s) return s;
    if (bins < 1 || bins > 10000) return ebm_fail(EBM_EINVAL, "ECE: bins must be in 1..10000, got %zu", bins);
    double *acc = calloc(bins, sizeof(double)), *conf = calloc(bins, sizeof(double));
    size_t *cnt = calloc(bins, sizeof(size_t));
    if (!acc || !conf || !cnt) {
        free(acc);
        free(conf);
        free(cnt);
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        size_t am;
        row_prob(logits + i * k, k, 0, &am);
        double c = row_prob(logits + i * k, k, am, NULL);
        size_t b = (size_t)(c * (double)bins);
        if (b >= bins) b = bins - 1;
        cnt[b]++;
        conf[b] += c;
        acc[b] += am == (size_t)labels[i];
    }
    double e = 0;
    for (size_t b = 0; b < bins; b++) {
        if (cnt[b]) {
            acc[b] /= (double)cnt[b];
            conf[b] /= (double)cnt[b];
            e += (double)cnt[b] / (double)n * fabs(acc[b] - conf[b]);
        }
        if (bin_acc) bin_acc[b] = cnt[b] ? acc[b] : NAN;
        if (bin_conf) bin_conf[b] = cnt[b] ? conf[b] : NAN;
        if (bin_count) bin_count[b] = cnt[b];
    }
    *ece = e;
    free(acc);
    free(conf);
    free(cnt);
    return EBM_OK;
}

/* Mean NLL of softmax(beta z) over the rows, with its first and second derivatives in beta: d/dbeta =
 * mean(E_p[z] - z_y), d2 = mean(Var_p[z]) >= 0 (convex in beta). */
static void nll_at(const float *logits, const int32_t *labels, size_t n, size_t k, double beta, double *f,
                   double *g, double *h) {
    double F = 0, G = 0, H = 0;
    for (size_t i = 0; i < n; i++) {
        const float *z = logits + i * k;
        double m = z[0];
        for (size_t j = 1; j < k; j++) m = z[j] > m ? z[j] : m;
        double s = 0, e1 = 0, e2 = 0;
        for (size_t j = 0; j < k; j++) {
            double w = exp(beta * ((double)z[j] - m)), zj = (double)z[j] - m;
            s += w;
            e1 += w * zj;
            e2 += w * zj * zj;
        }
        e1 /= s;
        e2 /= s;
        double zy = (double)z[labels[i]] - m;
        F += log(s) - beta * zy;
        G += e1 - zy;
        H += e2 - e1 * e1;
    }
    *f = F / (double)n;
    *g = G / (double)n;
    *h = H / (double)n;
}

ebm_status ebm_metric_fit_temperature(const float *logits, const int32_t *labels, size_t n, size_t k, double *T,
                                      double *nll_before, double *nll_after) {
    if (!T) return ebm_fail(EBM_EINVAL, "temperature: T is NULL");
    ebm_status s = check_logits(logits, labels, n, k);
    if (s) return s;
    /* Newton's method on beta = 1 / T, kept in [1 / EBM_TEMPERATURE_MAX, 1 / EBM_TEMPERATURE_MIN] and halved
     * back while it does not lower the NLL: the NLL is convex in beta, so this converges to the minimum (or to
     * a bound, when the NLL keeps falling: logits that separate every row, or carry no information). */
    const double lo = 1.0 / EBM_TEMPERATURE_MAX, hi = 1.0 / EBM_TEMPERATURE_MIN;
    double beta = 1, f, g, h;
    nll_at(logits, labels, n, k, beta, &f, &g, &h);
    if (nll_before) *nll_before = f;
    for (int it = 0; it < 100 && (h > 1e-12 || fabs(g) > 1e-12); it++) { /* flat: no information, T stays 1 */
        double step = h > 1e-12 ? -g / h : (g > 0 ? -beta / 2 : beta);
        double nb = beta + step;
        nb = nb < lo ? lo : nb > hi ? hi : nb;
        double fn, gn, hn;
        nll_at(logits, labels, n, k, nb, &fn, &gn, &hn);
        for (int b = 0; b < 60 && !(fn <= f); b++) { /* backtrack towards beta */
            nb = beta + (nb - beta) / 2;
            nll_at(logits, labels, n, k, nb, &fn, &gn, &hn);
        }
        if (!(fn <= f)) break;
        double moved = fabs(nb - beta);
        beta = nb, f = fn, g = gn, h = hn;
        if (moved <= 1e-10 * beta || fabs(g) <= 1e-12) break;
    }
    *T = 1 / beta;
    if (nll_after) *nll_after = f;
    return EBM_OK;
}

ebm_status ebm_logits_scale(float *logits, size_t n, size_t k, double T) {
    if (!(T >= EBM_TEMPERATURE_MIN && T <= EBM_TEMPERATURE_MAX))
        return ebm_fail(EBM_EINVAL, "temperature %g is outside [%g, %g]", T, EBM_TEMPERATURE_MIN, EBM_TEMPERATURE_MAX);
    if (T == 1) return EBM_OK;
    float b = (float)(1 / T);
    for (size_t i = 0; i < n * k; i++) logits[i] *= b;
    return EBM_OK;
}

typedef struct {
    double v;
    int pos;
} scored;

static int cmp_scored(const void *a, const void *b) {
    double x = ((const scored *)a)->v, y = ((const scored *)b)->v;
    return x < y ? -1 : x > y;
}

/* How many of ref (m, sorted ascending) lie below x, or at most at x when or_equal (a binary search). */
static size_t count_below(const double *ref, size_t m, double x, int or_equal) {
    size_t lo = 0, hi = m;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ref[mid] < x || (or_equal && ref[mid] == x)) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

ebm_status ebm_metric_ecdf(const double *ref, size_t m, const double *x, size_t n, double *out) {
    if (m == 0) return ebm_fail(EBM_EINVAL, "ecdf: no reference scores");
    for (size_t i = 0; i < m; i++)
        if (!isfinite(ref[i]) || (i > 0 && ref[i] < ref[i - 1]))
            return ebm_fail(EBM_EINVAL, "ecdf: reference score %zu is %s", i, isfinite(ref[i]) ? "out of order" : "not finite");
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i])) return ebm_fail(EBM_EINVAL, "ecdf: score %zu is NaN", i);
        size_t below = count_below(ref, m, x[i], 0), upto = count_below(ref, m, x[i], 1);
        out[i] = ((double)below + 0.5 * (double)(upto - below)) / (double)m;
    }
    return EBM_OK;
}

ebm_status ebm_metric_auroc(const double *pos, size_t np, const double *neg, size_t nn, double *auroc) {
    if (np == 0 || nn == 0) return ebm_fail(EBM_EINVAL, "AUROC: needs positives and negatives (got %zu and %zu)", np, nn);
    scored *a = malloc((np + nn) * sizeof *a);
    if (!a) return ebm_fail(EBM_ENOMEM, "out of memory");
    for (size_t i = 0; i < np; i++) a[i] = (scored){pos[i], 1};
    for (size_t i = 0; i < nn; i++) a[np + i] = (scored){neg[i], 0};
    for (size_t i = 0; i < np + nn; i++)
        if (isnan(a[i].v)) {
            free(a);
            return ebm_fail(EBM_ENAN, "AUROC: score %zu is NaN", i);
        }
    qsort(a, np + nn, sizeof *a, cmp_scored);
    /* sum of the positives' ranks (1-based, ties get the average rank of their run) */
    double rank_sum = 0;
    for (size_t i = 0; i < np + nn;) {
        size_t j = i;
        while (j < np + nn && a[j].v == a[i].v) j++;
        double avg = 0.5 * ((double)(i + 1) + (double)j);
        for (size_t q = i; q < j; q++)
            if (a[q].pos) rank_sum += avg;
        i = j;
    }
    free(a);
    *auroc = (rank_sum - 0.5 * (double)np * (double)(np + 1)) / ((double)np * (double)nn);
    return EBM_OK;
}

ebm_status ebm_metric_auroc_class(const double *score, const int32_t *labels, size_t n, int32_t cls, double *auroc,
                                  size_t *n_pos) {
    size_t np = 0;
    for (size_t i = 0; i < n; i++) np += labels[i] == cls;
    if (n_pos) *n_pos = np;
    double *pos = malloc((np ? np : 1) * sizeof *pos), *neg = malloc((n - np ? n - np : 1) * sizeof *neg);
    ebm_status s = pos && neg ? EBM_OK : ebm_fail(EBM_ENOMEM, "out of memory");
    for (size_t i = 0, p = 0, q = 0; !s && i < n; i++)
        if (labels[i] == cls) pos[p++] = score[i];
        else neg[q++] = score[i];
    if (!s) s = ebm_metric_auroc(pos, np, neg, n - np, auroc);
    free(pos);
    free(neg);
    return s;
}

size_t ebm_metric_class_means(const double *v, const int32_t *labels, size_t n, size_t cap, double *means) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= 0 && (size_t)labels[i] < cap && (size_t)labels[i] >= k) k = (size_t)labels[i] + 1;
    for (size_t c = 0; c < k; c++) {
        double sum = 0;
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (labels[i] == (int32_t)c) sum += v[i], m++;
        means[c] = m ? sum / (double)m : NAN;
    }
    return k;
}

/* Formatted in memory with the "C" numeric locale, then written atomically: a failed write (a full disk)
 * leaves the old file as it was and says why. */
ebm_status ebm_metric_write_scores(const char *path, const double *v, const int32_t *labels, size_t n) {
    return ebm_metric_write_scores_as(path, "energy", v, labels, n);
}

ebm_status ebm_metric_write_scores_as(const char *path, const char *column, const double *v,
                                      const int32_t *labels, size_t n) {
    if (!path || !column) return ebm_fail(EBM_EINVAL, "ebm_metric_write_scores: %s is NULL", path ? "column" : "path");
    if (n && !v) return ebm_fail(EBM_EINVAL, "ebm_metric_write_scores: v is NULL");
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.";
    size_t len = strlen(column);
    if (len == 0 || len > 64 || strspn(column, ok) != len)
        return ebm_fail(EBM_EINVAL, "ebm_metric_write_scores: column name \"%.64s\" (letters, digits, _ + - . only)",
                        column);
    ebm_buf b = {0};
    ebm_c_locale loc;
    ebm_c_locale_enter(&loc);
    ebm_buf_printf(&b, labels ? "row,%s,label\n" : "row,%s\n", column);
    for (size_t i = 0; i < n && !b.failed; i++)
        if (labels) ebm_buf_printf(&b, "%zu,%.9g,%d\n", i, v[i], (int)labels[i]);
        else ebm_buf_printf(&b, "%zu,%.9g\n", i, v[i]);
    ebm_c_locale_leave(&loc);
    ebm_status s = b.failed ? ebm_fail(EBM_ENOMEM, "%s: out of memory formatting %zu scores", path, n)
                            : ebm_write_file_atomic(path, b.data, b.len);
    ebm_buf_free(&b);
    return s;
}

/* Mean (d) and covariance (d, d; divisor n - 1) of x (n, d) in double. */
static ebm_status moments(const float *x, size_t n, size_t d, double *mu, double *cov) {
    double *c = malloc(n * d * sizeof(double));
    if (!c) return ebm_fail(EBM_ENOMEM, "out of memory for %zu x %zu features", n, d);
    memset(mu, 0, d * sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) mu[j] += x[i * d + j];
    for (size_t j = 0; j < d; j++) mu[j] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) c[i * d + j] = x[i * d + j] - mu[j];
    ebm_dgemm(1, 0, d, d, n, 1.0 / (double)(n - 1), c, d, c, d, 0.0, cov, d);
    free(c);
    return EBM_OK;
}

/* Eigenvalues w (d) and, in a (overwritten, row-major = column-major for a symmetric matrix), the
 * eigenvectors as the rows of a. */
static ebm_status eig(double *a, size_t d, double *w) {
    int n = (int)d, lwork = -1, info = 0;
    double q;
    dsyev_("V", "U", &n, a, &n, w, &q, &lwork, &info);
    lwork = (int)q;
    double *work = malloc((size_t)(lwork > 1 ? lwork : 1) * sizeof(double));
    if (!work) return ebm_fail(EBM_ENOMEM, "out of memory");
    dsyev_("V", "U", &n, a, &n, w, work, &lwork, &info);
    free(work);
    return info == 0 ? EBM_OK : ebm_fail(EBM_ENAN, "Frechet distance: the eigen-decomposition failed (info %d)", info);
}

ebm_status ebm_frechet_distance(const float *x, size_t n, const float *y, size_t m, size_t d, double *fd) {
    if (n < 2 || m < 2 || d == 0 || d > 4096)
        return ebm_fail(EBM_EINVAL, "Frechet distance: needs at least 2 rows in each set and 1..4096 features (got %zu, %zu, %zu)", n, m, d);
    size_t bad;
    if (!ebm_k_all_finite(x, n * d, &bad) || !ebm_k_all_finite(y, m * d, &bad))
        return ebm_fail(EBM_ENAN, "Frechet distance: a feature is not finite");
    double *mx = malloc(d * sizeof(double)), *my = malloc(d * sizeof(double));
    double *sx = malloc(d * d * sizeof(double)), *sy = malloc(d * d * sizeof(double));
    double *t = malloc(d * d * sizeof(double)), *r = malloc(d * d * sizeof(double)), *w = malloc(d * sizeof(double));
    ebm_status s = mx && my && sx && sy && t && r && w ? EBM_OK : ebm_fail(EBM_ENOMEM, "out of memory");
    if (!s) s = moments(x, n, d, mx, sx);
    if (!s) s = moments(y, m, d, my, sy);
    double tr = 0, diff = 0;
    for (size_t j = 0; !s && j < d; j++) {
        tr += sx[j * d + j] + sy[j * d + j];
        diff += (mx[j] - my[j]) * (mx[j] - my[j]);
    }
    /* S1^(1/2) = V diag(sqrt(max(l, 0))) V' from S1 = V diag(l) V' (the rows of t hold V's columns) */
    if (!s) {
        memcpy(t, sx, d * d * sizeof(double));
        s = eig(t, d, w);
    }
    if (!s) {
        for (size_t i = 0; i < d; i++) {
            double sq = sqrt(w[i] > 0 ? w[i] : 0);
            for (size_t j = 0; j < d; j++) r[i * d + j] = sq * t[i * d + j];
        }
        ebm_dgemm(1, 0, d, d, d, 1.0, t, d, r, d, 0.0, sx, d); /* sx <- S1^(1/2) */
        ebm_dgemm(0, 0, d, d, d, 1.0, sx, d, sy, d, 0.0, r, d);
        ebm_dgemm(0, 0, d, d, d, 1.0, r, d, sx, d, 0.0, t, d); /* t <- S1^(1/2) S2 S1^(1/2) */
        for (size_t i = 0; i < d; i++)
            for (size_t j = 0; j < i; j++) t[i * d + j] = t[j * d + i] = 0.5 * (t[i * d + j] + t[j * d + i]);
        s = eig(t, d, w);
    }
    if (!s) {
        double root = 0;
        for (size_t i = 0; i < d; i++) root += sqrt(w[i] > 0 ? w[i] : 0);
        double v = diff + tr - 2 * root;
        *fd = v > 0 ? v : 0;
    }
    free(mx);
    free(my);
    free(sx);
    free(sy);
    free(t);
    free(r);
    free(w);
    return s;
}
