/* An anomaly score in a network's features: Gaussians fitted to the penultimate-layer features of training rows,
 * one mean per class with one shared (tied) covariance, and the score of an input the squared Mahalanobis
 * distance of its features to the nearest class mean (Lee, Lee, Lee & Shin 2018, "A simple unified framework
 * for detecting out-of-distribution samples and adversarial attacks", eq. 2; without their input
 * preprocessing and layer ensemble).  Without labels, one mean.  Up to a constant it is -2 log of the largest
 * class's density under that Gaussian model, so an energy of the features.
 *
 * The fit is in double: means, the maximum-likelihood covariance S = (1/n) sum_i (f_i - mu_y_i)(f_i -
 * mu_y_i)^T, its eigen-decomposition S = V diag(lambda) V^T (LAPACK dsyev) and the whitening map
 * W = V diag(lambda + r)^(-1/2), r = ridge x mean(lambda) keeping dead features (lambda = 0) finite.  A score
 * is then min_c |f W - mu_c W|^2. */
#include "core/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FG_BATCH 256
#define FG_MAX_WIDTH 4096

struct ebm_feature_gauss {
    size_t at, width, input;  /* the layer whose input the features are, their width, the network's input size */
    size_t k;                 /* means */
    int32_t *classes;         /* (k) the label of each mean (0 without labels) */
    double *w;                /* (width, width) whitening map, row-major */
    double *mw;               /* (k, width) the means, whitened */
};

void ebm_feature_gauss_free(ebm_feature_gauss *g) {
    if (!g) return;
    free(g->classes);
    free(g->w);
    free(g->mw);
    free(g);
}

size_t ebm_feature_gauss_means(const ebm_feature_gauss *g) { return g ? g->k : 0; }
size_t ebm_feature_gauss_width(const ebm_feature_gauss *g) { return g ? g->width : 0; }

/* f (n, width) <- the features of x (n, input) in batches, in double. */
static ebm_status feats(ebm_net *net, size_t at, size_t width, const float *x, size_t n, double *f) {
    size_t dim = ebm_net_input_size(net), k = ebm_net_output_size(net);
    float *out = malloc(FG_BATCH * k * sizeof(float)), *fb = malloc(FG_BATCH * width * sizeof(float));
    ebm_status s = out && fb ? EBM_OK : ebm_fail(EBM_ENOMEM, "feature Gaussian: out of memory");
    for (size_t r = 0; !s && r < n; r += FG_BATCH) {
        size_t b = n - r < FG_BATCH ? n - r : FG_BATCH;
        s = ebm_net_forward(net, x + r * dim, b, out);
        if (!s) s = ebm_net_features(net, NULL, b, at, fb);
        for (size_t i = 0; !s && i < b * width; i++) {
            if (!isfinite(fb[i]))
                s = ebm_fail(EBM_ENAN, "feature Gaussian: feature %zu of row %zu is not finite (the network has diverged?)",
                             i % width, r + i / width);
            f[r * width + i] = fb[i];
        }
    }
    free(out);
    free(fb);
    return s;
}

ebm_status ebm_feature_gauss_fit(ebm_net *net, const float *x, const int32_t *labels, size_t n, double ridge,
                                 ebm_feature_gauss **out) {
    *out = NULL;
    if (!net || !x) return ebm_fail(EBM_EINVAL, "feature Gaussian: no network or no data");
    if (n < 2) return ebm_fail(EBM_EINVAL, "feature Gaussian: needs at least 2 rows to fit (got %zu)", n);
    if (!(ridge >= 0 && ridge <= 1)) return ebm_fail(EBM_EINVAL, "feature Gaussian: ridge %g is not in [0, 1]", ridge);
    size_t width, at = ebm_net_penultimate(net, &width), dim = ebm_net_input_size(net);
    if (width == 0 || width > FG_MAX_WIDTH)
        return ebm_fail(EBM_EINVAL, "feature Gaussian: the penultimate layer has %zu features (1..%d supported)", width,
                        FG_MAX_WIDTH);
    size_t bad;
    if (!ebm_k_all_finite(x, n * dim, &bad))
        return ebm_fail(EBM_EINVAL, "feature Gaussian: value %zu of row %zu is not finite", bad % dim, bad / dim);
    /* the classes present, in increasing order, and each row's mean */
    int32_t lo = 0, hi = 0;
    for (size_t i = 0; labels && i < n; i++) {
        if (labels[i] < 0 || labels[i] > 1000000)
            return ebm_fail(EBM_EINVAL, "feature Gaussian: label %d of row %zu is not a class in 0..1000000",
                            (int)labels[i], i);
        lo = i == 0 || labels[i] < lo ? labels[i] : lo;
        hi = i == 0 || labels[i] > hi ? labels[i] : hi;
    }
    size_t span = (size_t)(hi - lo) + 1;
    ebm_feature_gauss *g = calloc(1, sizeof *g);
    size_t *slot = calloc(span, sizeof *slot), *count = NULL;
    double *f = malloc(n * width * sizeof *f), *mu = NULL, *S = calloc(width * width, sizeof *S),
           *lam = malloc(width * sizeof *lam);
    ebm_status s = g && slot && f && S && lam ? EBM_OK : ebm_fail(EBM_ENOMEM, "feature Gaussian: out of memory");
    if (!s) {
        g->at = at;
        g->width = width;
        g->input = dim;
        for (size_t i = 0; i < n; i++) slot[labels ? (size_t)(labels[i] - lo) : 0] = 1;
        for (size_t c = 0; c < span; c++)
            if (slot[c]) slot[c] = ++g->k; /* 1-based until the means are counted */
        g->classes = malloc(g->k * sizeof *g->classes);
        count = calloc(g->k, sizeof *count);
        mu = calloc(g->k * width, sizeof *mu);
        g->mw = malloc(g->k * width * sizeof *g->mw);
        g->w = malloc(width * width * sizeof *g->w);
        if (!g->classes || !count || !mu || !g->mw || !g->w) s = ebm_fail(EBM_ENOMEM, "feature Gaussian: out of memory");
        for (size_t c = 0; !s && c < span; c++)
            if (slot[c]) g->classes[slot[c] - 1] = labels ? lo + (int32_t)c : 0;
    }
    if (!s) s = feats(net, at, width, x, n, f);
    if (!s) {
        for (size_t i = 0; i < n; i++) {
            size_t c = slot[labels ? (size_t)(labels[i] - lo) : 0] - 1;
            count[c]++;
            for (size_t j = 0; j < width; j++) mu[c * width + j] += f[i * width + j];
        }
        for (size_t c = 0; c < g->k; c++)
            for (size_t j = 0; j < width; j++) mu[c * width + j] /= (double)count[c];
        for (size_t i = 0; i < n; i++) {
            size_t c = slot[labels ? (size_t)(labels[i] - lo) : 0] - 1;
            for (size_t j = 0; j < width; j++) f[i * width + j] -= mu[c * width + j];
        }
        ebm_dgemm(1, 0, width, width, n, 1.0 / (double)n, f, width, f, width, 0.0, S, width);
        int w = (int)width, lwork = -1, info = 0;
        double q;
        dsyev_("V", "U", &w, S, &w, lam, &q, &lwork, &info);
        lwork = (int)q;
        double *work = malloc((size_t)(lwork > 1 ? lwork : 1) * sizeof *work);
        if (!work) s = ebm_fail(EBM_ENOMEM, "feature Gaussian: out of memory");
        else dsyev_("V", "U", &w, S, &w, lam, work, &lwork, &info);
        free(work);
        if (!s && info != 0) s = ebm_fail(EBM_ENAN, "feature Gaussian: the eigen-decomposition failed (info %d)", info);
    }
    if (!s) {
        /* the eigenvectors are the rows of S (column-major output read row-major) */
        double mean = 0;
        for (size_t j = 0; j < width; j++) mean += (lam[j] > 0 ? lam[j] : 0) / (double)width;
        double r = ridge * mean; /* without a ridge, a floor that only keeps a zero eigenvalue finite; with every
                                  * feature constant, a scale under which the distances to the means alone count */
        if (!(r > 0)) r = mean > 0 ? 1e-300 : 1e-12;
        for (size_t a = 0; a < width; a++)
            for (size_t j = 0; j < width; j++)
                g->w[a * width + j] = S[j * width + a] / sqrt((lam[j] > 0 ? lam[j] : 0) + r);
        ebm_dgemm(0, 0, g->k, width, width, 1.0, mu, width, g->w, width, 0.0, g->mw, width);
    }
    free(slot);
    free(count);
    free(f);
    free(mu);
    free(S);
    free(lam);
    if (s) ebm_feature_gauss_free(g);
    else *out = g;
    return s;
}

ebm_status ebm_feature_gauss_score(const ebm_feature_gauss *g, ebm_net *net, const float *x, size_t n, double *score,
                                   int32_t *nearest) {
    if (!g || !net) return ebm_fail(EBM_EINVAL, "feature Gaussian: no model or no network");
    size_t width, at = ebm_net_penultimate(net, &width);
    if (at != g->at || width != g->width || ebm_net_input_size(net) != g->input)
        return ebm_fail(EBM_ESHAPE, "feature Gaussian: fitted to %zu features of layer %zu of a network of %zu inputs, "
                                    "not this network's %zu features of layer %zu (%zu inputs)",
                        g->width, g->at, g->input, width, at, ebm_net_input_size(net));
    if (n == 0) return EBM_OK;
    size_t bad;
    if (!ebm_k_all_finite(x, n * g->input, &bad))
        return ebm_fail(EBM_EINVAL, "feature Gaussian: value %zu of row %zu is not finite", bad % g->input, bad / g->input);
    size_t b = n < FG_BATCH ? n : FG_BATCH;
    double *f = malloc(b * width * sizeof *f), *z = malloc(b * width * sizeof *z);
    ebm_status s = f && z ? EBM_OK : ebm_fail(EBM_ENOMEM, "feature Gaussian: out of memory");
    for (size_t r = 0; !s && r < n; r += b) {
        size_t m = n - r < b ? n - r : b;
        s = feats(net, at, width, x + r * g->input, m, f);
        if (s) break;
        ebm_dgemm(0, 0, m, width, width, 1.0, f, width, g->w, width, 0.0, z, width);
        for (size_t i = 0; i < m; i++) {
            double best = INFINITY;
            size_t bc = 0;
            for (size_t c = 0; c < g->k; c++) {
                double d = 0;
                for (size_t j = 0; j < width; j++) {
                    double e = z[i * width + j] - g->mw[c * width + j];
                    d += e * e;
                }
                if (d < best) best = d, bc = c;
            }
            score[r + i] = best;
            if (nearest) nearest[r + i] = g->classes[bc];
        }
    }
    free(f);
    free(z);
    return s;
}
