/* What the applications need of an energy: the posterior of denoising under Gaussian noise,
 *   p(x | y) ∝ exp(-E(x)) N(y; x, sigma^2 I),  i.e.  E_post(x) = E(x) + |x - y|^2 / (2 sigma^2),
 * itself an energy so that every sampler runs on it (one observation y_i per chain i), and a density picture
 * of a 2-D energy on a grid. */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    ebm_energy *prior;
    const float *y;   /* (n, dim) the noisy observations, row i for chain i */
    size_t n;
    float inv_s2;     /* 1 / sigma^2 */
} posterior;

static ebm_status post_eval(ebm_energy *e, const float *x, size_t n, float *E, float *dx) {
    posterior *p = e->impl;
    size_t d = e->dim;
    if (n > p->n) return ebm_fail(EBM_ESHAPE, "the posterior has %zu observations, not %zu", p->n, n);
    ebm_status s = dx ? p->prior->grad_x(p->prior, x, n, E, dx) : p->prior->energy(p->prior, x, n, E);
    if (s) return s;
    for (size_t i = 0; i < n; i++) {
        double acc = 0;
        for (size_t j = 0; j < d; j++) {
            float r = x[i * d + j] - p->y[i * d + j];
            acc += (double)r * r;
            if (dx) dx[i * d + j] += p->inv_s2 * r;
        }
        if (E) E[i] += (float)(0.5 * p->inv_s2 * acc);
    }
    return EBM_OK;
}
static ebm_status post_energy(ebm_energy *e, const float *x, size_t n, float *E) { return post_eval(e, x, n, E, NULL); }
static ebm_status post_grad(ebm_energy *e, const float *x, size_t n, float *E, float *dx) { return post_eval(e, x, n, E, dx); }

static void post_destroy(ebm_energy *e) {
    free(e->impl);
    free(e);
}

ebm_status ebm_energy_denoise(ebm_energy *prior, const float *y, size_t n, float sigma, ebm_energy **out) {
    *out = NULL;
    if (!prior || !y || n == 0 || !(sigma > 0) || !isfinite(sigma))
        return ebm_fail(EBM_EINVAL, "denoising posterior: a prior, observations and sigma > 0 are required");
    ebm_energy *e = calloc(1, sizeof *e);
    posterior *p = calloc(1, sizeof *p);
    if (!e || !p) {
        free(e);
        free(p);
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    *p = (posterior){prior, y, n, 1.0f / (sigma * sigma)};
    *e = (ebm_energy){"posterior", prior->dim, 0, NULL, post_energy, post_grad, NULL, post_destroy, p};
    *out = e;
    return EBM_OK;
}

ebm_status ebm_energy_density_png(ebm_energy *e, const char *path, float lo, float hi, const float *data, size_t nd,
                                  const float *samples, size_t ns) {
    const size_t res = 200;
    if (e->dim != 2) return ebm_fail(EBM_ESHAPE, "a density picture needs a 2-D energy, this one has %zu", e->dim);
    float *E = malloc(res * res * sizeof(float)), *grid = malloc(res * res * 2 * sizeof(float));
    ebm_status s = E && grid ? EBM_OK : ebm_fail(EBM_ENOMEM, "out of memory");
    for (size_t r = 0; !s && r < res; r++)
        for (size_t q = 0; q < res; q++) {
            grid[2 * (r * res + q)] = lo + ((float)q + 0.5f) * (hi - lo) / (float)res;
            grid[2 * (r * res + q) + 1] = hi - ((float)r + 0.5f) * (hi - lo) / (float)res;
        }
    if (!s) s = e->energy(e, grid, res * res, E);
    if (!s) s = ebm_png_density(path, E, res, lo, hi, lo, hi, data, nd, samples, ns);
    free(E);
    free(grid);
    return s;
}

ebm_status ebm_inpaint_mask(const char *spec, size_t h, size_t w, uint64_t seed, uint8_t *hide, size_t *hidden) {
    static const char *const halves[4] = {"top", "bottom", "left", "right"};
    int half = -1;
    for (int i = 0; i < 4; i++) half = strcmp(spec, halves[i]) == 0 ? i : half;
    int random = strncmp(spec, "random:", 7) == 0;
    char *end = NULL;
    double p = random ? strtod(spec + 7, &end) : 0;
    if (random && (*end || !(p > 0 && p < 1)))
        return ebm_fail(EBM_EINVAL, "mask random:P needs 0 < P < 1, got '%s'", spec + 7);
    if (!random && half < 0)
        return ebm_fail(EBM_EINVAL, "mask: '%s' is not one of top|bottom|left|right|random:P", spec);
    *hidden = 0;
    for (size_t r = 0; r < h; r++)
        for (size_t c = 0; c < w; c++) {
            float u = 0;
            if (random) ebm_rng_fill_uniform(seed, 0x6d61736bull, r * w + c, &u, 1);
            bool in_half[4] = {r < h / 2, r >= h / 2, c < w / 2, c >= w / 2};
            hide[r * w + c] = random ? u < p : in_half[half];
            *hidden += hide[r * w + c];
        }
    return EBM_OK;
}

double ebm_mse(const float *a, const float *b, size_t n, size_t dim, const uint8_t *mask) {
    double se = 0;
    size_t used = 0;
    for (size_t j = 0; j < dim; j++) used += !mask || mask[j];
    for (size_t i = 0; i < n * dim; i++)
        if (!mask || mask[i % dim]) se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return used ? se / (double)(n * used) : 0;
}
