/* The input-complexity correction of likelihood-based anomaly scores (Serra, Alvarez, Gomez, Slizovskaia,
 * Nunez & Luque 2020, "Input complexity and out-of-distribution detection with likelihood-based generative
 * models", ICLR, eq. 2): S(x) = -l_M(x) - L(x), with l_M(x) = log2 p_M(x) the model's log-likelihood in bits
 * and L(x) the length in bits of x under a general-purpose lossless compressor, here PNG (the paper's best
 * on image data is also PNG/FLIF).  For an energy model -log2 p(x) = E(x) / ln 2 + log2 Z; the constant does not
 * change a ranking, so S(x) = E(x) / ln 2 - L(x).  Higher S = more anomalous. */
#include "core/internal.h"

#include <stdlib.h>

ebm_status ebm_complexity_bits(const float *x, size_t n, size_t height, size_t width, int channels, float lo,
                               float hi, double *bits) {
    if (!x || !bits) return ebm_fail(EBM_EINVAL, "complexity: %s is NULL", !x ? "x" : "bits");
    if (!(lo < hi) || !isfinite(lo) || !isfinite(hi))
        return ebm_fail(EBM_EINVAL, "complexity: the value range [%g, %g] is empty", (double)lo, (double)hi);
    if (channels < 1 || channels > 4 || height == 0 || width == 0)
        return ebm_fail(EBM_EINVAL, "complexity: an image of %zu x %zu x %d is not one PNG can hold", height, width,
                        channels);
    size_t d = height * width * (size_t)channels;
    uint8_t *px = malloc(d * (n ? n : 1));
    if (!px) return ebm_fail(EBM_ENOMEM, "complexity: out of memory for %zu images of %zu values", n, d);
    float scale = 255.0f / (hi - lo);
    int bad = 0;
#pragma omp parallel for schedule(dynamic, 16) reduction(| : bad) if (n >= 64)
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = px + i * d;
        for (size_t j = 0; j < d; j++) {
            float v = (x[i * d + j] - lo) * scale + 0.5f;
            p[j] = (uint8_t)(v <= 0 || !(v == v) ? 0 : v >= 255 ? 255 : (int)v);
        }
        size_t bytes;
        if (ebm_png_encoded_size(p, height, width, channels, &bytes)) bad = 1;
        bits[i] = 8.0 * (double)bytes;
    }
    free(px);
    if (bad) return ebm_fail(EBM_EINVAL, "complexity: PNG encoding of a %zu x %zu x %d image failed", height, width, channels);
    return EBM_OK;
}

void ebm_complexity_score(const double *E, const double *bits, size_t n, double weight, double *out) {
    const double inv_ln2 = 1.0 / log(2.0);
    for (size_t i = 0; i < n; i++) out[i] = E[i] * inv_ln2 - weight * bits[i];
}
