/* A trainable test energy shared by test_lcd.c and test_jempp.c: params = [m (d) | s (d)],
 * E(x) = 1/2 sum_j exp(s_j) (x_j - m_j)^2, a diagonal Gaussian with mean m and precisions exp(s), with its
 * gradients in x and in the parameters (the caller owns the ebm_energy and fills in these three). */
#ifndef EBM_TESTS_DIAG_ENERGY_H
#define EBM_TESTS_DIAG_ENERGY_H

#include "ebm.h"

#include <math.h>
#include <stddef.h>

static ebm_status diag_energy(ebm_energy *e, const float *x, size_t n, float *E) {
    size_t d = e->dim;
    const float *m = e->params, *s = e->params + d;
    for (size_t i = 0; i < n; i++) {
        double acc = 0;
        for (size_t j = 0; j < d; j++) acc += 0.5 * exp(s[j]) * (x[i * d + j] - m[j]) * (x[i * d + j] - m[j]);
        E[i] = (float)acc;
    }
    return EBM_OK;
}

static ebm_status diag_grad_x(ebm_energy *e, const float *x, size_t n, float *E, float *dx) {
    size_t d = e->dim;
    const float *m = e->params, *s = e->params + d;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) dx[i * d + j] = expf(s[j]) * (x[i * d + j] - m[j]);
    return E ? diag_energy(e, x, n, E) : EBM_OK;
}

static ebm_status diag_grad_params(ebm_energy *e, const float *x, size_t n, const float *w, float *g, float *E) {
    size_t d = e->dim;
    const float *m = e->params, *s = e->params + d;
    for (size_t i = 0; i < n; i++) {
        float wi = w ? w[i] : 1.0f;
        for (size_t j = 0; j < d; j++) {
            float r = x[i * d + j] - m[j];
            g[j] += wi * -expf(s[j]) * r;
            g[d + j] += wi * 0.5f * expf(s[j]) * r * r;
        }
    }
    return E ? diag_energy(e, x, n, E) : EBM_OK;
}

#endif
