/* Optimisers over one flat parameter array: SGD with (heavy-ball) momentum and L2 weight decay,
 *   m <- mu m + (g + lambda theta),  theta <- theta - lr m;
 * and Adam (Kingma & Ba 2015, Algorithm 1) with the same coupled L2 decay,
 *   m <- b1 m + (1 - b1) g',  v <- b2 v + (1 - b2) g'^2,  theta <- theta - lr mhat / (sqrt(vhat) + eps),
 * with g' = g + lambda theta and the bias corrections mhat = m / (1 - b1^t), vhat = v / (1 - b2^t).
 * Gradients are descent directions of a loss.  Global-norm clipping rescales g to at most clip. */
#include "core/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ebm_optim {
    ebm_optim_opts o;
    size_t n;
    float *m, *v;   /* (n) first and second moments (v: Adam only) */
    uint64_t t;
};

void ebm_optim_opts_default(ebm_optim_opts *o) {
    memset(o, 0, sizeof *o);
    o->kind = EBM_OPTIM_ADAM;
    o->lr = 1e-4f;
    o->momentum = 0.9f;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
}

ebm_status ebm_optim_new(size_t n, const ebm_optim_opts *o, ebm_optim **out) {
    *out = NULL;
    if ((unsigned)o->kind > EBM_OPTIM_ADAM) return ebm_fail(EBM_EINVAL, "optimiser: unknown kind %d", (int)o->kind);
    if (!(o->lr > 0) || !isfinite(o->lr)) return ebm_fail(EBM_EINVAL, "optimiser: learning rate must be positive, got %g", (double)o->lr);
    if (!(o->weight_decay >= 0) || !isfinite(o->weight_decay))
        return ebm_fail(EBM_EINVAL, "optimiser: weight decay must be >= 0, got %g", (double)o->weight_decay);
    if (!(o->clip >= 0) || !isfinite(o->clip)) return ebm_fail(EBM_EINVAL, "optimiser: clip must be >= 0, got %g", (double)o->clip);
    if (o->kind == EBM_OPTIM_SGD && !(o->momentum >= 0 && o->momentum < 1))
        return ebm_fail(EBM_EINVAL, "optimiser: momentum must be in [0, 1), got %g", (double)o->momentum);
    if (o->kind == EBM_OPTIM_ADAM && !(o->beta1 >= 0 && o->beta1 < 1 && o->beta2 >= 0 && o->beta2 < 1 && o->eps > 0))
        return ebm_fail(EBM_EINVAL, "optimiser: Adam needs beta1, beta2 in [0, 1) and eps > 0");
    ebm_optim *p = calloc(1, sizeof *p);
    if (!p) return ebm_fail(EBM_ENOMEM, "out of memory");
    p->o = *o;
    p->n = n;
    p->m = ebm_calloc(n ? n : 1, sizeof(float));
    if (o->kind == EBM_OPTIM_ADAM) p->v = ebm_calloc(n ? n : 1, sizeof(float));
    if (!p->m || (o->kind == EBM_OPTIM_ADAM && !p->v)) {
        ebm_optim_free(p);
        return ebm_fail(EBM_ENOMEM, "out of memory for an optimiser over %zu parameters", n);
    }
    *out = p;
    return EBM_OK;
}

void ebm_optim_free(ebm_optim *p) {
    if (!p) return;
    ebm_free(p->m);
    ebm_free(p->v);
    free(p);
}

void ebm_optim_set_lr(ebm_optim *p, float lr) { p->o.lr = lr; }

ebm_status ebm_optim_step(ebm_optim *p, float *theta, float *g, double *grad_norm) {
    size_t n = p->n, bad;
    if (!ebm_k_all_finite(g, n, &bad)) return ebm_fail(EBM_ENAN, "gradient of parameter %zu is not finite", bad);
    double norm = sqrt(ebm_k_sumsq(g, n));
    if (grad_norm) *grad_norm = norm;
    float scale = p->o.clip > 0 && norm > p->o.clip ? (float)(p->o.clip / norm) : 1.0f;
    float lr = p->o.lr, wd = p->o.weight_decay;
    p->t++;
    if (p->o.kind == EBM_OPTIM_SGD) {
        float mu = p->o.momentum;
#pragma omp parallel for simd schedule(static) if (n >= 65536)
        for (size_t i = 0; i < n; i++) {
            float gi = scale * g[i] + wd * theta[i];
            p->m[i] = mu * p->m[i] + gi;
            theta[i] -= lr * p->m[i];
        }
    } else {
        float b1 = p->o.beta1, b2 = p->o.beta2, eps = p->o.eps;
        float c1 = (float)(1.0 / (1.0 - pow(b1, (double)p->t))), c2 = (float)(1.0 / (1.0 - pow(b2, (double)p->t)));
#pragma omp parallel for simd schedule(static) if (n >= 65536)
        for (size_t i = 0; i < n; i++) {
            float gi = scale * g[i] + wd * theta[i];
            p->m[i] = b1 * p->m[i] + (1 - b1) * gi;
            p->v[i] = b2 * p->v[i] + (1 - b2) * gi * gi;
            theta[i] -= lr * (p->m[i] * c1) / (sqrtf(p->v[i] * c2) + eps);
        }
    }
    return EBM_OK;
}

ebm_status ebm_optim_save_state(const ebm_optim *p, const char *prefix, ebm_tensors *t) {
    char name[128];
    size_t sh[1] = {p->n};
    snprintf(name, sizeof name, "%s.m", prefix);
    ebm_status s = ebm_tensors_put(t, name, EBM_F32, 1, sh, p->m);
    if (!s && p->v) {
        snprintf(name, sizeof name, "%s.v", prefix);
        s = ebm_tensors_put(t, name, EBM_F32, 1, sh, p->v);
    }
    if (!s) {
        int64_t steps = (int64_t)p->t;
        sh[0] = 1;
        snprintf(name, sizeof name, "%s.t", prefix);
        s = ebm_tensors_put(t, name, EBM_I64, 1, sh, &steps);
    }
    return s;
}

ebm_status ebm_optim_load_state(ebm_optim *p, const char *prefix, const ebm_tensors *t) {
    char name[128];
    snprintf(name, sizeof name, "%s.m", prefix);
    ebm_status s = ebm_state_get_f32(t, name, p->m, p->n);
    if (!s && p->v) {
        snprintf(name, sizeof name, "%s.v", prefix);
        s = ebm_state_get_f32(t, name, p->v, p->n);
    }
    if (s) return s;
    snprintf(name, sizeof name, "%s.t", prefix);
    const ebm_array *a = ebm_tensors_get(t, name);
    if (!a || a->dtype != EBM_I64 || ebm_array_numel(a) != 1)
        return ebm_fail(EBM_EFORMAT, "training state: no int64 tensor '%s' (the optimiser's step count)", name);
    int64_t steps;
    memcpy(&steps, a->data, sizeof steps);
    if (steps < 0) return ebm_fail(EBM_EFORMAT, "training state: '%s' is negative", name);
    p->t = (uint64_t)steps;
    return EBM_OK;
}
