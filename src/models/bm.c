/* The fully visible Boltzmann machine (Ackley, Hinton & Sejnowski 1985), i.e. the Ising model with
 * arbitrary couplings:  E(x) = -(1/2 x'Wx + b'x),  W symmetric with zero diagonal,  x in {o,1}^n with
 * o = 0 (Bernoulli units) or o = -1 (spins).  With the local field h_i = b_i + sum_j W_ij x_j,
 *   p(x_i | x_-i) ∝ exp(x_i h_i / T),   p(x_i = 1 | x_-i) = sigmoid((1 - o) h_i / T),
 *   log p(x_i | x_-i) = (x_i - o) h_i - softplus((1 - o) h_i)     (T = 1),
 * and the pseudo-log-likelihood gradient (Besag 1975) follows from d/dh_i = x_i - E[x_i | x_-i].
 * Exact log Z enumerates the 2^n states in Gray-code order: flipping unit k by d changes the energy by
 * -d h_k and the fields by d W[:, k], so each state costs O(n); the log-sum-exp runs in double. */
#include "models/bm_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

ebm_status ebm_bm_new(size_t n, ebm_bm_spins spins, ebm_bm **out) {
    *out = NULL;
    if (n == 0) return ebm_fail(EBM_EINVAL, "a Boltzmann machine needs at least one unit");
    if (spins != EBM_BM_01 && spins != EBM_BM_PM1) return ebm_fail(EBM_EINVAL, "unknown spin convention %d", (int)spins);
    size_t nn, np;
    if (n > 65536 || !ebm_mul_ok(n, n, &nn) || __builtin_add_overflow(nn, n, &np))
        return ebm_fail(EBM_ENOMEM, "a Boltzmann machine of %zu units is too large", n);
    ebm_bm *m = calloc(1, sizeof *m);
    if (!m) return ebm_fail(EBM_ENOMEM, "out of memory");
    m->n = n;
    m->spins = spins;
    m->params = ebm_calloc(np, sizeof(float));
    ebm_status s = m->params ? ebm_meta_new(&m->meta) : EBM_ENOMEM;
    if (s) {
        ebm_bm_free(m);
        return s;
    }
    m->W = m->params;
    m->b = m->params + nn;
    *out = m;
    return EBM_OK;
}

void ebm_bm_free(ebm_bm *m) {
    if (!m) return;
    ebm_free(m->params);
    ebm_meta_free(m->meta);
    free(m);
}

ebm_status ebm_bm_clone(const ebm_bm *m, ebm_bm **out) {
    ebm_status s = ebm_bm_new(m->n, m->spins, out);
    if (s) return s;
    memcpy((*out)->params, m->params, (m->n * m->n + m->n) * sizeof(float));
    (*out)->height = m->height;
    (*out)->width = m->width;
    s = ebm_meta_copy((*out)->meta, m->meta);
    if (s) {
        ebm_bm_free(*out);
        *out = NULL;
    }
    return s;
}

size_t ebm_bm_units(const ebm_bm *m) { return m->n; }
ebm_bm_spins ebm_bm_spin_kind(const ebm_bm *m) { return m->spins; }
float ebm_bm_off_value(const ebm_bm *m) { return (float)ebm_bm_off(m); }
float *ebm_bm_params(ebm_bm *m, size_t *n_params) {
    if (n_params) *n_params = m->n * m->n + m->n;
    return m->params;
}
float *ebm_bm_weights(ebm_bm *m) { return m->W; }
float *ebm_bm_bias(ebm_bm *m) { return m->b; }
ebm_meta *ebm_bm_meta(ebm_bm *m) { return m->meta; }

void ebm_bm_set_image_shape(ebm_bm *m, size_t height, size_t width) {
    if (height * width == m->n) {
        m->height = height;
        m->width = width;
    } else {
        m->height = m->width = 0;
    }
}

void ebm_bm_image_shape(const ebm_bm *m, size_t *height, size_t *width) {
    *height = m->height;
    *width = m->width;
}

void ebm_bm_symmetrize(ebm_bm *m) {
    size_t n = m->n;
    for (size_t i = 0; i < n; i++) {
        m->W[i * n + i] = 0;
        for (size_t j = i + 1; j < n; j++) {
            float w = 0.5f * (m->W[i * n + j] + m->W[j * n + i]);
            m->W[i * n + j] = m->W[j * n + i] = w;
        }
    }
}

const char *ebm_bm_spins_name(ebm_bm_spins s) { return s == EBM_BM_PM1 ? "pm1" : "01"; }

ebm_status ebm_bm_spins_parse(const char *name, ebm_bm_spins *out) {
    if (strcmp(name, "01") == 0) *out = EBM_BM_01;
    else if (strcmp(name, "pm1") == 0) *out = EBM_BM_PM1;
    else return ebm_fail(EBM_EINVAL, "spin convention '%s' is not one of 01|pm1", name);
    return EBM_OK;
}

ebm_status ebm_bm_scan_parse(const char *name, ebm_bm_scan *out) {
    if (strcmp(name, "systematic") == 0) *out = EBM_SCAN_SYSTEMATIC;
    else if (strcmp(name, "random") == 0) *out = EBM_SCAN_RANDOM;
    else return ebm_fail(EBM_EINVAL, "scan '%s' is not one of systematic|random", name);
    return EBM_OK;
}

ebm_status ebm_bm_check_t(float T) {
    if (!(T > 0) || !isfinite(T)) return ebm_fail(EBM_EINVAL, "temperature must be a positive number, got %g", T);
    return EBM_OK;
}

ebm_status ebm_bm_init(ebm_bm *m, ebm_rng *rng, float weight_std, const ebm_mat *data) {
    if (!(weight_std >= 0) || !isfinite(weight_std)) return ebm_fail(EBM_EINVAL, "weight_std must be >= 0");
    if (data && data->cols != m->n)
        return ebm_fail(EBM_ESHAPE, "data has %zu columns but the Boltzmann machine has %zu units", data->cols, m->n);
    size_t n = m->n;
    for (size_t i = 0; i < n; i++) {
        m->W[i * n + i] = 0;
        for (size_t j = i + 1; j < n; j++) m->W[i * n + j] = m->W[j * n + i] = (float)(weight_std * ebm_rng_normal(rng));
    }
    memset(m->b, 0, n * sizeof(float));
    if (data && data->rows > 0) {
        /* independent units matching the data's means: p(on) = sigmoid((1 - o) b) */
        double o = ebm_bm_off(m);
        for (size_t i = 0; i < n; i++) {
            double mean = 0;
            for (size_t r = 0; r < data->rows; r++) mean += data->data[r * n + i];
            double p = (mean / (double)data->rows - o) / (1 - o);
            p = p < 1e-3 ? 1e-3 : p > 1 - 1e-3 ? 1 - 1e-3 : p;
            m->b[i] = (float)(log(p / (1 - p)) / (1 - o));
        }
    }
    return EBM_OK;
}

void ebm_bm_field_row(const ebm_bm *m, const float *x, double *h) {
    size_t n = m->n;
    for (size_t i = 0; i < n; i++) {
        const float *w = m->W + i * n;
        double s = m->b[i];
        for (size_t j = 0; j < n; j++) s += (double)w[j] * x[j];
        h[i] = s;
    }
}

ebm_status ebm_bm_energy(const ebm_bm *m, const float *x, size_t rows, double *E) {
    size_t n = m->n;
    double *h = malloc(n * sizeof *h);
    if (!h) return ebm_fail(EBM_ENOMEM, "out of memory");
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        ebm_bm_field_row(m, xr, h);
        /* x'(b + W x / 2) = sum_i x_i (h_i + b_i) / 2 */
        double e = 0;
        for (size_t i = 0; i < n; i++) e += (double)xr[i] * (h[i] + m->b[i]);
        E[r] = -0.5 * e;
    }
    free(h);
    return EBM_OK;
}

ebm_status ebm_bm_cond_prob(const ebm_bm *m, const float *x, size_t rows, float T, float *p) {
    ebm_status s = ebm_bm_check_t(T);
    if (s) return s;
    size_t n = m->n;
    double *h = malloc(n * sizeof *h), a = (1 - ebm_bm_off(m)) / T;
    if (!h) return ebm_fail(EBM_ENOMEM, "out of memory");
    for (size_t r = 0; r < rows; r++) {
        ebm_bm_field_row(m, x + r * n, h);
        for (size_t i = 0; i < n; i++) p[r * n + i] = (float)ebm_sigmoid(a * h[i]);
    }
    free(h);
    return EBM_OK;
}

/* ---- exact enumeration ---- */

typedef struct {
    double lse_max, lse_sum;  /* running log-sum-exp: log Z = max + log sum */
} lse_acc;

static void lse_add(lse_acc *a, double v) {
    if (v <= a->lse_max) {
        a->lse_sum += exp(v - a->lse_max);
    } else {
        a->lse_sum = a->lse_sum * exp(a->lse_max - v) + 1.0;
        a->lse_max = v;
    }
}

/* Visits all 2^n states in Gray-code order, calling visit(x, -E(x)/T, user) on each. */
static ebm_status enumerate(const ebm_bm *m, float T, void (*visit)(const double *x, double neg_e, void *user),
                            void *user) {
    ebm_status s = ebm_bm_check_t(T);
    if (s) return s;
    size_t n = m->n;
    if (n > EBM_EXACT_MAX_UNITS)
        return ebm_fail(EBM_EINVAL,
                        "exact enumeration needs at most %d units; this Boltzmann machine has %zu (use the "
                        "pseudo-log-likelihood instead)", EBM_EXACT_MAX_UNITS, n);
    double o = ebm_bm_off(m), *x = calloc(n, sizeof *x), *h = calloc(n, sizeof *h);
    if (!x || !h) {
        free(x);
        free(h);
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    double e = 0; /* -E(x) */
    for (size_t i = 0; i < n; i++) {
        x[i] = o;
        double hi = m->b[i];
        for (size_t j = 0; j < n; j++) hi += (double)m->W[i * n + j] * o;
        h[i] = hi;
    }
    for (size_t i = 0; i < n; i++) e += 0.5 * x[i] * (h[i] + m->b[i]);
    double inv_t = 1.0 / T;
    visit(x, e * inv_t, user);
    uint64_t count = (uint64_t)1 << n;
    for (uint64_t t = 1; t < count; t++) {
        int k = __builtin_ctzll(t);
        double d = x[k] == o ? 1 - o : o - 1;
        e += d * h[k];
        x[k] += d;
        const float *wk = m->W + (size_t)k * n;
        for (size_t j = 0; j < n; j++) h[j] += d * wk[j];
        visit(x, e * inv_t, user);
    }
    free(x);
    free(h);
    return EBM_OK;
}

static void visit_lse(const double *x, double v, void *user) {
    (void)x;
    lse_add(user, v);
}

ebm_status ebm_bm_log_z_exact(const ebm_bm *m, float T, double *log_z) {
    lse_acc a = {-INFINITY, 0};
    ebm_status s = enumerate(m, T, visit_lse, &a);
    if (s) return s;
    *log_z = a.lse_max + log(a.lse_sum);
    return EBM_OK;
}

typedef struct {
    size_t n;
    double log_z;
    double *mean, *pair;
} moment_acc;

static void visit_moments(const double *x, double v, void *user) {
    moment_acc *a = user;
    double p = exp(v - a->log_z);
    for (size_t i = 0; i < a->n; i++) {
        double px = p * x[i];
        a->mean[i] += px;
        if (a->pair)
            for (size_t j = 0; j < a->n; j++) a->pair[i * a->n + j] += px * x[j];
    }
}

ebm_status ebm_bm_moments_exact(const ebm_bm *m, float T, double *mean, double *pair) {
    double lz;
    ebm_status s = ebm_bm_log_z_exact(m, T, &lz);
    if (s) return s;
    memset(mean, 0, m->n * sizeof *mean);
    if (pair) memset(pair, 0, m->n * m->n * sizeof *pair);
    moment_acc a = {m->n, lz, mean, pair};
    return enumerate(m, T, visit_moments, &a);
}

ebm_status ebm_bm_log_likelihood(const ebm_bm *m, const float *x, size_t rows, double log_z, double *ll) {
    if (rows == 0) return ebm_fail(EBM_EINVAL, "log-likelihood of no rows");
    double *E = malloc(rows * sizeof *E);
    if (!E) return ebm_fail(EBM_ENOMEM, "out of memory");
    ebm_status s = ebm_bm_energy(m, x, rows, E);
    double sum = 0;
    for (size_t r = 0; !s && r < rows; r++) sum += -E[r] - log_z;
    free(E);
    if (!s) *ll = sum / (double)rows;
    return s;
}

ebm_status ebm_bm_pseudo_ll(const ebm_bm *m, const float *x, size_t rows, double *pll) {
    if (rows == 0) return ebm_fail(EBM_EINVAL, "pseudo-log-likelihood of no rows");
    size_t n = m->n;
    double o = ebm_bm_off(m), *h = malloc(n * sizeof *h), sum = 0;
    if (!h) return ebm_fail(EBM_ENOMEM, "out of memory");
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        ebm_bm_field_row(m, xr, h);
        for (size_t i = 0; i < n; i++) sum += (xr[i] - o) * h[i] - ebm_softplus((1 - o) * h[i]);
    }
    free(h);
    *pll = sum / (double)rows;
    return EBM_OK;
}

ebm_status ebm_bm_evaluate(const ebm_bm *m, const float *x, size_t rows, int exact, ebm_bm_eval *out) {
    out->energy_mean = out->pseudo_ll = out->log_z = out->log_likelihood = NAN;
    if (rows == 0) return ebm_fail(EBM_EINVAL, "evaluation of no rows");
    double *E = malloc(rows * sizeof *E);
    if (!E) return ebm_fail(EBM_ENOMEM, "out of memory");
    ebm_status s = ebm_bm_energy(m, x, rows, E);
    if (!s) out->energy_mean = 0;
    for (size_t i = 0; !s && i < rows; i++) out->energy_mean += E[i] / (double)rows;
    free(E);
    if (!s) s = ebm_bm_pseudo_ll(m, x, rows, &out->pseudo_ll);
    if (!s && exact) s = ebm_bm_log_z_exact(m, 1.0f, &out->log_z);
    if (!s && exact) s = ebm_bm_log_likelihood(m, x, rows, out->log_z, &out->log_likelihood);
    return s;
}

ebm_status ebm_bm_pseudo_ll_grad_ws(const ebm_bm *m, const float *x, size_t rows, float *grad, float *res, float *G,
                                    double *h, double *gbd) {
    if (rows == 0) return ebm_fail(EBM_EINVAL, "pseudo-log-likelihood gradient of no rows");
    size_t n = m->n;
    double o = ebm_bm_off(m);
    memset(gbd, 0, n * sizeof *gbd); /* bias sums in double */
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        ebm_bm_field_row(m, xr, h);
        for (size_t i = 0; i < n; i++) {
            double ex = o + (1 - o) * ebm_sigmoid((1 - o) * h[i]);
            res[r * n + i] = (float)(xr[i] - ex);
            gbd[i] += xr[i] - ex;
        }
    }
    for (size_t i = 0; i < n; i++) grad[n * n + i] += (float)(gbd[i] / (double)rows);
    /* G = R' X; dW_ij = (G_ij + G_ji) / rows */
    ebm_sgemm(1, 0, n, n, rows, 1.0f / (float)rows, res, n, x, n, 0.0f, G, n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (i != j) grad[i * n + j] += G[i * n + j] + G[j * n + i];
    return EBM_OK;
}

ebm_status ebm_bm_pseudo_ll_grad(const ebm_bm *m, const float *x, size_t rows, float *grad) {
    size_t n = m->n;
    float *res = ebm_calloc(rows ? rows : 1, n * sizeof(float)), *G = ebm_calloc(n, n * sizeof(float));
    double *h = malloc(n * sizeof *h), *gbd = malloc(n * sizeof *gbd);
    ebm_status s = res && G && h && gbd ? ebm_bm_pseudo_ll_grad_ws(m, x, rows, grad, res, G, h, gbd)
                                        : ebm_fail(EBM_ENOMEM, "out of memory");
    ebm_free(res);
    ebm_free(G);
    free(h);
    free(gbd);
    return s;
}

ebm_status ebm_bm_check_finite(const ebm_bm *m) {
    size_t bad, n = m->n;
    if (ebm_k_all_finite(m->params, n * n + n, &bad)) return EBM_OK;
    if (bad < n * n) return ebm_fail(EBM_ENAN, "weight W[%zu,%zu] is %g", bad / n, bad % n, m->params[bad]);
    return ebm_fail(EBM_ENAN, "bias b[%zu] is %g", bad - n * n, m->params[bad]);
}

/* ---- files ---- */

ebm_status ebm_bm_to_tensors(const ebm_bm *m, ebm_tensors *t) {
    size_t shW[2] = {m->n, m->n}, shb[1] = {m->n};
    ebm_meta *meta = ebm_tensors_meta(t);
    ebm_status s = ebm_model_meta_out(meta, m->meta, "bm", m->n, 0, m->height, m->width);
    if (!s) s = ebm_meta_set(meta, "ebm.bm.spins", ebm_bm_spins_name(m->spins));
    if (!s) s = ebm_tensors_put(t, "W", EBM_F32, 2, shW, m->W);
    if (!s) s = ebm_tensors_put(t, "b", EBM_F32, 1, shb, m->b);
    return s;
}

ebm_status ebm_bm_save(const ebm_bm *m, const char *path) {
    ebm_status s = ebm_bm_check_finite(m);
    if (s) return ebm_fail_prefix(s, "refusing to save %s", path);
    ebm_tensors *t = NULL;
    s = ebm_tensors_new(&t);
    if (!s) s = ebm_bm_to_tensors(m, t);
    if (!s) s = ebm_safetensors_write(path, t);
    ebm_tensors_free(t);
    return s;
}

ebm_status ebm_bm_from_tensors(const ebm_tensors *t, const char *name, ebm_bm **out) {
    *out = NULL;
    const ebm_meta *meta = ebm_tensors_meta_const(t);
    const char *kind = ebm_meta_get(meta, "ebm.model");
    if (!kind || strcmp(kind, "bm") != 0)
        return ebm_fail(EBM_EFORMAT, "%s: holds a '%s' model, not a bm", name, kind ? kind : "rbm");
    const char *sp = ebm_meta_get(meta, "ebm.bm.spins");
    ebm_bm_spins spins = EBM_BM_01;
    if (sp && ebm_bm_spins_parse(sp, &spins)) return ebm_fail(EBM_EFORMAT, "%s: ebm.bm.spins '%s' is not 01 or pm1", name, sp);
    const ebm_array *W = ebm_tensors_get(t, "W");
    if (!W) return ebm_fail(EBM_EFORMAT, "%s: tensor 'W' is missing", name);
    if (W->ndim != 2 || W->shape[0] == 0 || W->shape[0] != W->shape[1])
        return ebm_fail(EBM_EFORMAT, "%s: tensor 'W' must be a non-empty square matrix", name);
    ebm_bm *m;
    ebm_status s = ebm_bm_new(W->shape[0], spins, &m);
    if (s) return ebm_fail_prefix(s, "%s", name);
    size_t n = m->n, shW[2] = {n, n}, shb[1] = {n};
    s = ebm_io_take_f32(t, name, "W", 2, shW, m->W);
    if (!s) s = ebm_io_take_f32(t, name, "b", 1, shb, m->b);
    for (size_t i = 0; !s && i < n; i++) {
        if (m->W[i * n + i] != 0) s = ebm_fail(EBM_EFORMAT, "%s: W[%zu,%zu] is %g, not 0 (the diagonal must be zero)",
                                               name, i, i, m->W[i * n + i]);
        for (size_t j = i + 1; !s && j < n; j++)
            if (m->W[i * n + j] != m->W[j * n + i])
                s = ebm_fail(EBM_EFORMAT, "%s: W is not symmetric (W[%zu,%zu] = %g, W[%zu,%zu] = %g)", name, i, j,
                             m->W[i * n + j], j, i, m->W[j * n + i]);
    }
    if (!s) s = ebm_model_meta_in(meta, name, n, m->meta, &m->height, &m->width);
    if (s) {
        ebm_bm_free(m);
        return s;
    }
    *out = m;
    return EBM_OK;
}

ebm_status ebm_bm_load(const char *path, ebm_bm **out) {
    *out = NULL;
    ebm_tensors *t = NULL;
    ebm_status s = ebm_safetensors_read(path, &t);
    if (s) return s;
    s = ebm_bm_from_tensors(t, path, out);
    ebm_tensors_free(t);
    return s;
}
