/* The common energy interface (DESIGN.md, "The energy interface") and the energies that need no network:
 * a Gaussian E(x) = 1/2 (x - mu)' P (x - mu) with gradient P (x - mu); the Bernoulli RBM's free energy
 * F(v) = -a'v - sum_j softplus(b_j + (v'W)_j) as a function of real v, with dF/dv = -a - W sigmoid(b + W'v);
 * and the compositions of Hinton's product of experts (2002) and of Du, Li & Mordatch (2020, "Compositional
 * visual generation with energy based models"): weighted sums (conjunction, and negation with a negative
 * weight) E = sum_k w_k E_k, and the disjunction E = -log sum_k exp(-E_k), whose gradient is the softmax(-E)-
 * weighted mixture of the parts' gradients.  Sums over a row are accumulated in double. */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

void ebm_energy_free(ebm_energy *e) {
    if (e && e->destroy) e->destroy(e);
}

/* Grows *buf to hold at least need floats (keeps the old allocation when it is big enough). */
static ebm_status grow(float **buf, size_t *cap, size_t need) {
    if (need <= *cap) return EBM_OK;
    float *p = ebm_calloc(need, sizeof(float));
    if (!p) return ebm_fail(EBM_ENOMEM, "out of memory for an energy's work buffer of %zu floats", need);
    ebm_free(*buf);
    *buf = p;
    *cap = need;
    return EBM_OK;
}

static ebm_status check_rows(const ebm_energy *e, size_t n) {
    size_t t;
    if (n == 0) return ebm_fail(EBM_EINVAL, "%s energy: no rows", e->kind);
    if (!ebm_mul_ok(n, e->dim, &t) || t > ((size_t)1 << 40))
        return ebm_fail(EBM_EINVAL, "%s energy: %zu rows of %zu is too large", e->kind, n, e->dim);
    return EBM_OK;
}

/* ---- Gaussian ---- */

typedef struct {
    float *mu, *prec;  /* (d), (d, d) */
    float *diff, *pd;  /* work: x - mu, (x - mu) P */
    size_t cap, pcap;
} gauss;

static ebm_status gauss_eval(ebm_energy *e, const float *x, size_t n, float *E, float *dx) {
    gauss *g = e->impl;
    size_t d = e->dim;
    ebm_status s = check_rows(e, n);
    if (!s) s = grow(&g->diff, &g->cap, n * d);
    if (!s && !dx) s = grow(&g->pd, &g->pcap, n * d);
    if (s) return s;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) g->diff[i * d + j] = x[i * d + j] - g->mu[j];
    float *pd = dx ? dx : g->pd;
    ebm_sgemm(0, 0, n, d, d, 1.0f, g->diff, d, g->prec, d, 0.0f, pd, d);
    if (E)
        for (size_t i = 0; i < n; i++) {
            double acc = 0;
            for (size_t j = 0; j < d; j++) acc += (double)g->diff[i * d + j] * pd[i * d + j];
            E[i] = (float)(0.5 * acc);
        }
    return EBM_OK;
}

static ebm_status gauss_energy(ebm_energy *e, const float *x, size_t n, float *E) { return gauss_eval(e, x, n, E, NULL); }
static ebm_status gauss_grad_x(ebm_energy *e, const float *x, size_t n, float *E, float *dx) {
    return gauss_eval(e, x, n, E, dx);
}

static void gauss_destroy(ebm_energy *e) {
    gauss *g = e->impl;
    if (g) {
        ebm_free(g->mu);
        ebm_free(g->prec);
        ebm_free(g->diff);
        ebm_free(g->pd);
        free(g);
    }
    free(e);
}

/* A new energy shell with its kind, dim and impl; NULL on allocation failure (impl is then not owned). */
static ebm_energy *shell(const char *kind, size_t dim, void *impl) {
    ebm_energy *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->kind = kind;
    e->dim = dim;
    e->impl = impl;
    return e;
}

ebm_status ebm_energy_gaussian(size_t dim, const float *mu, const float *precision, ebm_energy **out) {
    *out = NULL;
    if (dim == 0 || dim > 65536) return ebm_fail(EBM_EINVAL, "Gaussian energy: dimension %zu out of 1..65536", dim);
    if (!mu || !precision) return ebm_fail(EBM_EINVAL, "Gaussian energy: mean and precision are required");
    for (size_t i = 0; i < dim; i++) {
        if (!isfinite(mu[i])) return ebm_fail(EBM_EINVAL, "Gaussian energy: mean[%zu] is not finite", i);
        if (!(precision[i * dim + i] > 0))
            return ebm_fail(EBM_EINVAL, "Gaussian energy: precision[%zu,%zu] = %g is not positive", i, i,
                            (double)precision[i * dim + i]);
        for (size_t j = 0; j < i; j++)
            if (precision[i * dim + j] != precision[j * dim + i])
                return ebm_fail(EBM_EINVAL, "Gaussian energy: precision is not symmetric at [%zu,%zu]", i, j);
    }
    gauss *g = calloc(1, sizeof *g);
    ebm_energy *e = g ? shell("gaussian", dim, g) : NULL;
    if (e) {
        e->destroy = gauss_destroy;
        g->mu = ebm_calloc(dim, sizeof(float));
        g->prec = ebm_calloc(dim * dim, sizeof(float));
    }
    if (!e || !g->mu || !g->prec) {
        if (e) gauss_destroy(e);
        else free(g);
        return ebm_fail(EBM_ENOMEM, "out of memory for a Gaussian energy");
    }
    memcpy(g->mu, mu, dim * sizeof(float));
    memcpy(g->prec, precision, dim * dim * sizeof(float));
    e->energy = gauss_energy;
    e->grad_x = gauss_grad_x;
    *out = e;
    return EBM_OK;
}

/* ---- the RBM's free energy ---- */

typedef struct {
    const ebm_rbm *m;
    float *z;      /* (cap) n x n_hid: sigmoid(b + v'W) */
    size_t cap;
    double *F;     /* (fcap) */
    size_t fcap;
} rbm_e;

static ebm_status rbm_e_eval(ebm_energy *e, const float *x, size_t n, float *E, float *dx) {
    rbm_e *r = e->impl;
    const ebm_rbm *m = r->m;
    ebm_status s = check_rows(e, n);
    if (s) return s;
    if (E) {
        if (n > r->fcap) {
            double *f = malloc(n * sizeof(double));
            if (!f) return ebm_fail(EBM_ENOMEM, "out of memory");
            free(r->F);
            r->F = f;
            r->fcap = n;
        }
        s = ebm_rbm_free_energy(m, x, n, 1.0f, r->F);
        if (s) return s;
        for (size_t i = 0; i < n; i++) E[i] = (float)r->F[i];
    }
    if (!dx) return EBM_OK;
    s = grow(&r->z, &r->cap, n * m->n_hid);
    if (s) return s;
    ebm_sgemm(0, 0, n, m->n_hid, m->n_vis, 1.0f, x, m->n_vis, m->W, m->n_hid, 0.0f, r->z, m->n_hid);
    ebm_k_sigmoid_bernoulli(r->z, m->b, n, m->n_hid, 1.0f, 0, NULL);
    ebm_sgemm(0, 1, n, m->n_vis, m->n_hid, -1.0f, r->z, m->n_hid, m->W, m->n_hid, 0.0f, dx, m->n_vis);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m->n_vis; j++) dx[i * m->n_vis + j] -= m->a[j];
    return EBM_OK;
}

static ebm_status rbm_e_energy(ebm_energy *e, const float *x, size_t n, float *E) { return rbm_e_eval(e, x, n, E, NULL); }
static ebm_status rbm_e_grad_x(ebm_energy *e, const float *x, size_t n, float *E, float *dx) {
    return rbm_e_eval(e, x, n, E, dx);
}

static ebm_status rbm_e_grad_params(ebm_energy *e, const float *x, size_t n, const float *w, float *grad, float *E) {
    rbm_e *r = e->impl;
    ebm_status s = ebm_rbm_free_energy_grad(r->m, x, n, w, grad);
    return !s && E ? rbm_e_energy(e, x, n, E) : s;
}

static void rbm_e_destroy(ebm_energy *e) {
    rbm_e *r = e->impl;
    if (r) {
        ebm_free(r->z);
        free(r->F);
        free(r);
    }
    free(e);
}

ebm_status ebm_energy_rbm(const ebm_rbm *m, ebm_energy **out) {
    *out = NULL;
    if (!m) return ebm_fail(EBM_EINVAL, "RBM energy: no model");
    rbm_e *r = calloc(1, sizeof *r);
    ebm_energy *e = r ? shell("rbm", m->n_vis, r) : NULL;
    if (!e) {
        free(r);
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    r->m = m;
    e->energy = rbm_e_energy;
    e->grad_x = rbm_e_grad_x;
    e->grad_params = rbm_e_grad_params;
    e->n_params = m->n_params;
    e->params = m->params;
    e->destroy = rbm_e_destroy;
    *out = e;
    return EBM_OK;
}

/* ---- the Gaussian-Bernoulli RBM's free energy (in the model's standardised space) ---- */

typedef struct {
    const ebm_grbm *m;
    double *F;
    size_t fcap;
} grbm_e;

static ebm_status grbm_e_energy(ebm_energy *e, const float *x, size_t n, float *E) {
    grbm_e *g = e->impl;
    ebm_status s = check_rows(e, n);
    if (s) return s;
    if (n > g->fcap) {
        double *f = malloc(n * sizeof(double));
        if (!f) return ebm_fail(EBM_ENOMEM, "out of memory");
        free(g->F);
        g->F = f;
        g->fcap = n;
    }
    s = ebm_grbm_free_energy(g->m, x, n, 1.0f, g->F);
    for (size_t i = 0; !s && i < n; i++) E[i] = (float)g->F[i];
    return s;
}

static ebm_status grbm_e_grad_x(ebm_energy *e, const float *x, size_t n, float *E, float *dx) {
    grbm_e *g = e->impl;
    ebm_status s = check_rows(e, n);
    if (!s) s = ebm_grbm_free_energy_grad_v(g->m, x, n, 1.0f, dx);
    return !s && E ? grbm_e_energy(e, x, n, E) : s;
}

static ebm_status grbm_e_grad_params(ebm_energy *e, const float *x, size_t n, const float *w, float *grad, float *E) {
    grbm_e *g = e->impl;
    ebm_status s = check_rows(e, n);
    if (!s) s = ebm_grbm_free_energy_grad(g->m, x, n, w, grad);
    return !s && E ? grbm_e_energy(e, x, n, E) : s;
}

static void grbm_e_destroy(ebm_energy *e) {
    grbm_e *g = e->impl;
    if (g) free(g->F);
    free(g);
    free(e);
}

ebm_status ebm_energy_grbm(const ebm_grbm *m, ebm_energy **out) {
    *out = NULL;
    if (!m) return ebm_fail(EBM_EINVAL, "GRBM energy: no model");
    grbm_e *g = calloc(1, sizeof *g);
    ebm_energy *e = g ? shell("grbm", m->n_vis, g) : NULL;
    if (!e) {
        free(g);
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    g->m = m;
    e->energy = grbm_e_energy;
    e->grad_x = grbm_e_grad_x;
    e->grad_params = grbm_e_grad_params;
    e->n_params = m->n_params;
    e->params = m->params;
    e->destroy = grbm_e_destroy;
    *out = e;
    return EBM_OK;
}

/* ---- compositions ---- */

typedef struct {
    size_t k;
    ebm_energy **parts;
    float *w;         /* (k) weights of a sum */
    int lse;          /* disjunction instead of a sum */
    float *Ek;        /* (k, ecap) the parts' energies */
    size_t ecap;
    float *gk;        /* (gcap) one part's gradient */
    size_t gcap;
} comp;

static ebm_status comp_eval(ebm_energy *e, const float *x, size_t n, float *E, float *dx) {
    comp *c = e->impl;
    size_t d = e->dim;
    ebm_status s = check_rows(e, n);
    if (s) return s;
    if (n > c->ecap) {
        float *p = ebm_calloc(c->k * n, sizeof(float));
        if (!p) return ebm_fail(EBM_ENOMEM, "out of memory");
        ebm_free(c->Ek);
        c->Ek = p;
        c->ecap = n;
    }
    if (dx && (s = grow(&c->gk, &c->gcap, n * d))) return s;
    for (size_t q = 0; q < c->k; q++) {
        s = c->parts[q]->energy(c->parts[q], x, n, c->Ek + q * n);
        if (s) return ebm_fail_prefix(s, "part %zu of the composite energy", q);
    }
    /* per row: the energy, and the weight of each part's gradient */
    for (size_t i = 0; i < n; i++) {
        double acc = 0;
        if (!c->lse) {
            for (size_t q = 0; q < c->k; q++) acc += (double)c->w[q] * c->Ek[q * n + i];
        } else {
            double mn = INFINITY;
            for (size_t q = 0; q < c->k; q++) mn = c->Ek[q * n + i] < mn ? c->Ek[q * n + i] : mn;
            double sum = 0;
            for (size_t q = 0; q < c->k; q++) sum += exp(-((double)c->Ek[q * n + i] - mn));
            acc = mn - log(sum);
            /* softmax(-E_k) weights overwrite the parts' energies once used */
            for (size_t q = 0; q < c->k; q++) c->Ek[q * n + i] = (float)(exp(-((double)c->Ek[q * n + i] - mn)) / sum);
        }
        if (E) E[i] = (float)acc;
    }
    if (!dx) return EBM_OK;
    memset(dx, 0, n * d * sizeof(float));
    for (size_t q = 0; q < c->k; q++) {
        s = c->parts[q]->grad_x(c->parts[q], x, n, NULL, c->gk);
        if (s) return ebm_fail_prefix(s, "part %zu of the composite energy", q);
        for (size_t i = 0; i < n; i++) {
            float w = c->lse ? c->Ek[q * n + i] : c->w[q];
            for (size_t j = 0; j < d; j++) dx[i * d + j] += w * c->gk[i * d + j];
        }
    }
    return EBM_OK;
}

static ebm_status comp_energy(ebm_energy *e, const float *x, size_t n, float *E) { return comp_eval(e, x, n, E, NULL); }
static ebm_status comp_grad_x(ebm_energy *e, const float *x, size_t n, float *E, float *dx) {
    return comp_eval(e, x, n, E, dx);
}

static void comp_destroy(ebm_energy *e) {
    comp *c = e->impl;
    if (c) {
        free(c->parts);
        free(c->w);
        ebm_free(c->Ek);
        ebm_free(c->gk);
        free(c);
    }
    free(e);
}

static ebm_status compose(size_t k, ebm_energy *const *parts, const float *weights, int lse, ebm_energy **out) {
    *out = NULL;
    const char *kind = lse ? "logsumexp" : "sum";
    if (k == 0 || k > 1024 || !parts) return ebm_fail(EBM_EINVAL, "%s energy: needs 1..1024 parts, got %zu", kind, k);
    for (size_t q = 0; q < k; q++) {
        if (!parts[q] || !parts[q]->energy || !parts[q]->grad_x)
            return ebm_fail(EBM_EINVAL, "%s energy: part %zu is missing or has no energy/gradient", kind, q);
        if (parts[q]->dim != parts[0]->dim)
            return ebm_fail(EBM_ESHAPE, "%s energy: part %zu has dimension %zu, part 0 has %zu", kind, q,
                            parts[q]->dim, parts[0]->dim);
        if (weights && !isfinite(weights[q])) return ebm_fail(EBM_EINVAL, "%s energy: weight %zu is not finite", kind, q);
    }
    comp *c = calloc(1, sizeof *c);
    ebm_energy *e = c ? shell(kind, parts[0]->dim, c) : NULL;
    if (e) {
        e->destroy = comp_destroy;
        c->parts = malloc(k * sizeof *c->parts);
        c->w = malloc(k * sizeof(float));
    }
    if (!e || !c->parts || !c->w) {
        if (e) comp_destroy(e);
        else free(c);
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    c->k = k;
    c->lse = lse;
    for (size_t q = 0; q < k; q++) {
        c->parts[q] = parts[q];
        c->w[q] = weights ? weights[q] : 1.0f;
    }
    e->energy = comp_energy;
    e->grad_x = comp_grad_x;
    *out = e;
    return EBM_OK;
}

ebm_status ebm_energy_sum(size_t k, ebm_energy *const *parts, const float *weights, ebm_energy **out) {
    return compose(k, parts, weights, 0, out);
}

ebm_status ebm_energy_logsumexp(size_t k, ebm_energy *const *parts, ebm_energy **out) {
    return compose(k, parts, NULL, 1, out);
}
