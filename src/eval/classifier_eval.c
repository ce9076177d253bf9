/* Evaluation through a classifier network: sample quality as the Fréchet distance between Gaussians fitted
 * to the classifier's penultimate features of samples and of real images (Heusel et al. 2017 defined it on
 * Inception-v3 features; with a Fashion-MNIST classifier it is "FD-FMNIST", not comparable with published
 * FIDs), with the classifier's predictions on the samples; and the reliability diagram of a classifier's
 * calibration (Guo et al. 2017, figure 1). */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

#define FD_BATCH 500

/* f (n, width) <- the penultimate features of x (n, dim) (one forward per batch gives logits and features);
 * pred (n) and conf (n) <- argmax and largest softmax probability of the logits, when not NULL. */
static ebm_status features(ebm_net *net, const ebm_mat *x, size_t at, size_t width, float *f, int32_t *pred,
                           double *conf) {
    size_t n = x->rows, dim = x->cols, k = ebm_net_output_size(net);
    float *logits = malloc(FD_BATCH * k * sizeof(float));
    ebm_status s = logits ? EBM_OK : ebm_fail(EBM_ENOMEM, "out of memory");
    for (size_t r = 0; r < n && !s; r += FD_BATCH) {
        size_t b = n - r < FD_BATCH ? n - r : FD_BATCH;
        s = ebm_net_forward(net, x->data + r * dim, b, logits);
        if (!s) s = ebm_net_features(net, NULL, b, at, f + r * width);
        for (size_t i = 0; !s && pred && i < b; i++) {
            const float *l = logits + i * k;
            size_t best = 0;
            for (size_t c = 1; c < k; c++) best = l[c] > l[best] ? c : best;
            double z = 0;
            for (size_t c = 0; c < k; c++) z += exp((double)l[c] - l[best]);
            pred[r + i] = (int32_t)best;
            conf[r + i] = 1.0 / z;
        }
    }
    free(logits);
    return s;
}

/* *fd <- the FD between the features of x and fy (m, width), which are those of the reference. */
static ebm_status fd_to(ebm_net *net, const ebm_mat *x, size_t at, size_t width, const float *fy, size_t m,
                        int32_t *pred, double *conf, double *fd) {
    float *fx = malloc(x->rows * width * sizeof(float));
    ebm_status s = fx ? features(net, x, at, width, fx, pred, conf) : ebm_fail(EBM_ENOMEM, "out of memory");
    if (!s) s = ebm_frechet_distance(fx, x->rows, fy, m, width, fd);
    free(fx);
    return s;
}

ebm_status ebm_net_fd(ebm_net *clf, const ebm_mat *samples, const ebm_mat *ref, const ebm_mat *floor,
                      const int32_t *labels, size_t *counts, ebm_fd_result *r) {
    size_t dim = ebm_net_input_size(clf), k = ebm_net_output_size(clf), n = samples->rows, width;
    const ebm_mat *sets[3] = {samples, ref, floor};
    for (int i = 0; i < 3; i++)
        if (sets[i] && sets[i]->cols != dim)
            return ebm_fail(EBM_ESHAPE, "FD: %zu values per row, but the classifier takes %zu", sets[i]->cols, dim);
    size_t at = ebm_net_penultimate(clf, &width);
    memset(r, 0, sizeof *r);
    r->width = width;
    r->fd_floor = r->accuracy = NAN;
    float *fr = malloc(ref->rows * width * sizeof(float));
    int32_t *pred = malloc(n * sizeof *pred);
    double *conf = malloc(n * sizeof *conf);
    ebm_status s = fr && pred && conf ? EBM_OK : ebm_fail(EBM_ENOMEM, "out of memory for features");
    if (!s) s = features(clf, ref, at, width, fr, NULL, NULL);
    if (!s) s = fd_to(clf, samples, at, width, fr, ref->rows, pred, conf, &r->fd);
    if (!s && floor) s = fd_to(clf, floor, at, width, fr, ref->rows, NULL, NULL, &r->fd_floor);
    if (counts) memset(counts, 0, k * sizeof *counts);
    size_t hit = 0;
    for (size_t i = 0; !s && i < n; i++) {
        if (counts) counts[pred[i]]++;
        r->mean_confidence += conf[i] / (double)n;
        hit += labels && pred[i] == labels[i];
    }
    if (!s && labels) r->accuracy = (double)hit / (double)n;
    for (size_t c = 0; !s && counts && c < k; c++)
        if (counts[c]) r->class_entropy -= (double)counts[c] / (double)n * log((double)counts[c] / (double)n);
    free(fr);
    free(pred);
    free(conf);
    return s;
}

ebm_status ebm_png_reliability(const char *path, const double *acc, const size_t *count, size_t bins) {
    const size_t bw = 20, H = 240, W = bins * bw;
    uint8_t *img = malloc(W * H * 3);
    if (!img) return ebm_fail(EBM_ENOMEM, "out of memory for a reliability diagram");
    memset(img, 255, W * H * 3);
    for (size_t b = 0; b < bins; b++) {
        size_t top = count[b] ? (size_t)((1.0 - acc[b]) * (double)(H - 1)) : H;
        for (size_t y = top; y < H; y++)
            for (size_t x = b * bw + 1; x + 1 < (b + 1) * bw; x++) {
                uint8_t *p = img + (y * W + x) * 3;
                p[0] = 60, p[1] = 110, p[2] = 200;
            }
    }
    for (size_t x = 0; x < W; x++) { /* the diagonal: accuracy = confidence */
        size_t y = (size_t)((1.0 - ((double)x + 0.5) / (double)W) * (double)(H - 1));
        for (size_t t = 0; t < 2 && y + t < H; t++) {
            uint8_t *p = img + ((y + t) * W + x) * 3;
            p[0] = 220, p[1] = 40, p[2] = 40;
        }
    }
    ebm_status s = ebm_png_write(path, img, H, W, 3);
    free(img);
    return s;
}

ebm_status ebm_net_logits(ebm_net *net, const float *x, size_t n, float **out) {
    size_t k = ebm_net_output_size(net), dim = ebm_net_input_size(net);
    float *f = malloc((n ? n : 1) * k * sizeof(float));
    ebm_status s = f ? EBM_OK : ebm_fail(EBM_ENOMEM, "out of memory for %zu x %zu logits", n, k);
    for (size_t i = 0; !s && i < n; i += 256)
        s = ebm_net_forward(net, x + i * dim, n - i < 256 ? n - i : 256, f + i * k);
    if (s) {
        free(f);
        f = NULL;
    }
    *out = f;
    return s;
}

ebm_status ebm_net_classify_eval(ebm_net *net, const float *x, const int32_t *labels, size_t n, size_t bins,
                                 double temperature, double *accuracy, double *nll, double *ece, double *bin_acc,
                                 double *bin_conf, size_t *bin_count) {
    size_t k = ebm_net_output_size(net);
    float *f = NULL;
    ebm_status s = ebm_net_logits(net, x, n, &f);
    if (!s) s = ebm_logits_scale(f, n, k, temperature);
    if (!s) s = ebm_metric_classify(f, labels, n, k, accuracy, nll);
    if (!s) s = ebm_metric_ece(f, labels, n, k, bins, ece, bin_acc, bin_conf, bin_count);
    free(f);
    return s;
}

void ebm_samples_rescale(ebm_mat *x, int mode, int images, int pm1, int *read_pm1, float *lo, float *hi) {
    size_t nv = x->rows * x->cols, dark = 0;
    float *v = x->data;
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < nv; i++) {
        *lo = v[i] < *lo ? v[i] : *lo;
        *hi = v[i] > *hi ? v[i] : *hi;
        dark += v[i] < -0.5f;
    }
    int as_pm1 = mode == 2 || (mode == 0 && images && (double)dark > 0.1 * (double)nv);
    if (mode == 0 && !images) as_pm1 = pm1;
    for (size_t i = 0; as_pm1 != pm1 && i < nv; i++) v[i] = as_pm1 ? 0.5f * (v[i] + 1) : 2 * v[i] - 1;
    *read_pm1 = as_pm1;
}
