/* The Gaussian-Bernoulli restricted Boltzmann machine in the form of Liao, Kornblith, Ren, Fleet & Hinton
 * (2022), "Gaussian-Bernoulli RBMs without tears" (arXiv 2210.10318), eq. (1)-(4):
 *   E(v, h) = 1/2 ||(v - mu) / sigma||^2 - (v / sigma^2)' W h - b'h                          (eq. 1)
 *   p(v | h) = N(W h + mu, diag sigma^2),  p(h_j = 1 | v) = sigmoid((W'(v / sigma^2) + b)_j)     (eq. 2-3)
 *   F(v) = 1/2 ||(v - mu) / sigma||^2 - sum_j softplus((W'(v / sigma^2) + b)_j)                (eq. 4)
 * with the variances learned through log sigma^2 (the paper's parameterisation for stability; clamped so
 * sigma^2 lies in [1e-8, 1e8]).  At temperature T, F_T(v) = -T log sum_h exp(-E(v, h) / T) replaces the
 * softplus argument x by x / T and multiplies the sum by T.  Gradients (T = 1), with p = p(h = 1 | v):
 *   dF/dv = (v - mu) / sigma^2 - (W p) / sigma^2,       dF/dW = -(v / sigma^2) p',   dF/db = -p,
 *   dF/dmu = (mu - v) / sigma^2,   dF/dlog sigma^2 = -1/2 (v - mu)^2 / sigma^2 + (v / sigma^2) o (W p).
 * The model also stores the standardisation of its data (the paper trains on pixels normalised by a
 * mean and a standard deviation), so samples come back in pixel units. */
#include "models/grbm_internal.h"
#include "models/model_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROW_CHUNK 256

static void set_views(ebm_grbm *m) {
    size_t nw = m->n_vis * m->n_hid;
    m->W = m->params;
    m->b = m->params + nw;
    m->mu = m->b + m->n_hid;
    m->log_var = m->mu + m->n_vis;
}

ebm_status ebm_grbm_new(size_t n_vis, size_t n_hid, ebm_grbm **out) {
    *out = NULL;
    if (n_vis == 0 || n_hid == 0) return ebm_fail(EBM_EINVAL, "a GRBM needs at least one visible and one hidden unit");
    if (n_vis > INT_MAX || n_hid > INT_MAX)
        return ebm_fail(EBM_EINVAL, "GRBM layer sizes above %d are not supported", INT_MAX);
    size_t nw, np;
    if (!ebm_mul_ok(n_vis, n_hid, &nw) || __builtin_add_overflow(nw, 2 * n_vis + n_hid, &np))
        return ebm_fail(EBM_ENOMEM, "GRBM %zu x %zu is too large", n_vis, n_hid);
    ebm_grbm *m = calloc(1, sizeof *m);
    if (!m) return ebm_fail(EBM_ENOMEM, "out of memory");
    m->n_vis = n_vis;
    m->n_hid = n_hid;
    m->n_params = np;
    m->params = ebm_calloc(np, sizeof(float));
    m->data_mean = ebm_calloc(n_vis, sizeof(float));
    m->data_std = ebm_calloc(n_vis, sizeof(float));
    ebm_status s = m->params && m->data_mean && m->data_std ? ebm_meta_new(&m->meta) : EBM_ENOMEM;
    if (s) {
        ebm_grbm_free(m);
        return s;
    }
    set_views(m);
    for (size_t i = 0; i < n_vis; i++) m->data_std[i] = 1.0f;
    *out = m;
    return EBM_OK;
}

void ebm_grbm_free(ebm_grbm *m) {
    if (!m) return;
    ebm_free(m->params);
    ebm_free(m->data_mean);
    ebm_free(m->data_std);
    ebm_meta_free(m->meta);
    free(m);
}

ebm_status ebm_grbm_clone(const ebm_grbm *m, ebm_grbm **out) {
    ebm_status s = ebm_grbm_new(m->n_vis, m->n_hid, out);
    if (s) return s;
    memcpy((*out)->params, m->params, m->n_params * sizeof(float));
    memcpy((*out)->data_mean, m->data_mean, m->n_vis * sizeof(float));
    memcpy((*out)->data_std, m->data_std, m->n_vis * sizeof(float));
    (*out)->height = m->height;
    (*out)->width = m->width;
    s = ebm_meta_copy((*out)->meta, m->meta);
    if (s) {
        ebm_grbm_free(*out);
        *out = NULL;
    }
    return s;
}

ebm_status ebm_grbm_init(ebm_grbm *m, ebm_rng *rng, float init_var) {
    if (!(init_var > 0) || !isfinite(init_var)) return ebm_fail(EBM_EINVAL, "init_var must be positive, got %g", init_var);
    double sd = init_var / sqrt((double)(m->n_vis + m->n_hid));
    for (size_t i = 0; i < m->n_vis * m->n_hid; i++) m->W[i] = (float)(sd * ebm_rng_normal(rng));
    memset(m->b, 0, m->n_hid * sizeof(float));
    memset(m->mu, 0, m->n_vis * sizeof(float));
    for (size_t i = 0; i < m->n_vis; i++) m->log_var[i] = logf(init_var);
    grbm_clamp_logvar(m);
    return EBM_OK;
}

ebm_status ebm_grbm_fit_standardization(ebm_grbm *m, const ebm_mat *x, int global) {
    if (x->cols != m->n_vis)
        return ebm_fail(EBM_ESHAPE, "data has %zu columns but the GRBM has %zu visible units", x->cols, m->n_vis);
    if (x->rows == 0) return ebm_fail(EBM_EINVAL, "cannot standardise an empty data set");
    size_t nv = m->n_vis, n = x->rows;
    double *s1 = calloc(nv, sizeof *s1), *s2 = calloc(nv, sizeof *s2);
    if (!s1 || !s2) {
        free(s1);
        free(s2);
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < nv; i++) s1[i] += x->data[r * nv + i];
    double gm = 0;
    for (size_t i = 0; i < nv; i++) {
        s1[i] /= (double)n;
        gm += s1[i] / (double)nv;
    }
    double gv = 0;
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < nv; i++) {
            double d = x->data[r * nv + i] - s1[i], g = x->data[r * nv + i] - gm;
            s2[i] += d * d;
            gv += g * g;
        }
    double gsd = sqrt(gv / ((double)n * (double)nv));
    if (!(gsd > 0)) gsd = 1.0;
    for (size_t i = 0; i < nv; i++) {
        double sd = sqrt(s2[i] / (double)n);
        if (sd < 1e-3 * gsd) sd = 1e-3 * gsd;
        m->data_mean[i] = (float)(global ? gm : s1[i]);
        m->data_std[i] = (float)(global ? gsd : sd);
    }
    free(s1);
    free(s2);
    return ebm_meta_set(m->meta, "ebm.data.standardize", global ? "global" : "pixel");
}

void ebm_grbm_standardize(const ebm_grbm *m, const float *x, size_t n, float *out) {
    size_t nv = m->n_vis;
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < nv; i++) out[r * nv + i] = (x[r * nv + i] - m->data_mean[i]) / m->data_std[i];
}

void ebm_grbm_unstandardize(const ebm_grbm *m, const float *x, size_t n, float *out) {
    size_t nv = m->n_vis;
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < nv; i++) out[r * nv + i] = x[r * nv + i] * m->data_std[i] + m->data_mean[i];
}

double ebm_grbm_log_jacobian(const ebm_grbm *m) {
    double s = 0;
    for (size_t i = 0; i < m->n_vis; i++) s -= log((double)m->data_std[i]);
    return s;
}

/* ---- kernels ---- */

static float clamp_lv(float lv) {
    return lv < EBM_GRBM_LOGVAR_MIN ? EBM_GRBM_LOGVAR_MIN : lv > EBM_GRBM_LOGVAR_MAX ? EBM_GRBM_LOGVAR_MAX : lv;
}

void grbm_clamp_logvar(ebm_grbm *m) {
    for (size_t i = 0; i < m->n_vis; i++) m->log_var[i] = clamp_lv(m->log_var[i]);
}

void grbm_variances(const ebm_grbm *m, float *iv, float *var) {
    for (size_t i = 0; i < m->n_vis; i++) {
        float lv = clamp_lv(m->log_var[i]);
        if (iv) iv[i] = expf(-lv);
        if (var) var[i] = expf(lv);
    }
}

void grbm_pre_hidden(const ebm_grbm *m, ebm_mm *mm, const float *iv, const float *v, size_t n, float *scratch,
                     float *out) {
    size_t nv = m->n_vis;
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < nv; i++) scratch[r * nv + i] = v[r * nv + i] * iv[i];
    ebm_mm_gemm(mm, 0, 0, n, m->n_hid, nv, 1.0f, scratch, nv, m->W, m->n_hid, 0.0f, out, m->n_hid);
}

void grbm_vis_mean(const ebm_grbm *m, ebm_mm *mm, const float *h, size_t n, float *out) {
    size_t nv = m->n_vis;
    ebm_mm_gemm(mm, 0, 1, n, nv, m->n_hid, 1.0f, h, m->n_hid, m->W, m->n_hid, 0.0f, out, nv);
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < nv; i++) out[r * nv + i] += m->mu[i];
}

double grbm_fe_row(const ebm_grbm *m, const float *iv, const float *v, const float *pre, double T) {
    double q = 0;
    for (size_t i = 0; i < m->n_vis; i++) {
        double d = (double)v[i] - m->mu[i];
        q += 0.5 * d * d * iv[i];
    }
    return q - T * ebm_k_softplus_row(pre, m->b, m->n_hid, 1.0 / T);
}

void grbm_grad_v(const ebm_grbm *m, ebm_mm *mm, const float *iv, const float *v, const float *p, size_t n, float *g) {
    size_t nv = m->n_vis;
    /* g = p W' first, then the element-wise rest */
    ebm_mm_gemm(mm, 0, 1, n, nv, m->n_hid, 1.0f, p, m->n_hid, m->W, m->n_hid, 0.0f, g, nv);
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < nv; i++) g[r * nv + i] = (v[r * nv + i] - m->mu[i] - g[r * nv + i]) * iv[i];
}

/* ---- public functions ---- */

static ebm_status check_t(float T) {
    if (!(T > 0) || !isfinite(T)) return ebm_fail(EBM_EINVAL, "temperature must be a positive number, got %g", T);
    return EBM_OK;
}

static ebm_status check_rows(size_t n) {
    if (n > INT_MAX) return ebm_fail(EBM_EINVAL, "%zu rows is more than one call can take", n);
    return EBM_OK;
}

typedef struct {
    float *iv, *sc, *pre;
} scratch;

static void scratch_free(scratch *s) {
    ebm_free(s->iv);
    ebm_free(s->sc);
    ebm_free(s->pre);
}

static ebm_status scratch_make(const ebm_grbm *m, size_t chunk, scratch *s) {
    if (!chunk) chunk = 1;
    s->iv = ebm_calloc(m->n_vis, sizeof(float));
    s->sc = ebm_calloc(chunk, m->n_vis * sizeof(float));
    s->pre = ebm_calloc(chunk, m->n_hid * sizeof(float));
    if (!s->iv || !s->sc || !s->pre) {
        scratch_free(s);
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    grbm_variances(m, s->iv, NULL);
    return EBM_OK;
}

ebm_status ebm_grbm_energy(const ebm_grbm *m, const float *v, const float *h, size_t n, double *E) {
    ebm_status s = check_rows(n);
    if (s) return s;
    size_t chunk = n < ROW_CHUNK ? n : ROW_CHUNK;
    scratch w;
    if ((s = scratch_make(m, chunk, &w))) return s;
    for (size_t r0 = 0; r0 < n; r0 += chunk) {
        size_t c = n - r0 < chunk ? n - r0 : chunk;
        grbm_pre_hidden(m, NULL, w.iv, v + r0 * m->n_vis, c, w.sc, w.pre);
        for (size_t r = 0; r < c; r++) {
            const float *vr = v + (r0 + r) * m->n_vis, *hr = h + (r0 + r) * m->n_hid, *pr = w.pre + r * m->n_hid;
            double e = 0;
            for (size_t i = 0; i < m->n_vis; i++) {
                double d = (double)vr[i] - m->mu[i];
                e += 0.5 * d * d * w.iv[i];
            }
            for (size_t j = 0; j < m->n_hid; j++) e -= ((double)pr[j] + m->b[j]) * hr[j];
            E[r0 + r] = e;
        }
    }
    scratch_free(&w);
    return EBM_OK;
}

ebm_status ebm_grbm_free_energy(const ebm_grbm *m, const float *v, size_t n, float T, double *F) {
    ebm_status s = check_t(T);
    if (!s) s = check_rows(n);
    if (s) return s;
    size_t chunk = n < ROW_CHUNK ? n : ROW_CHUNK;
    scratch w;
    if ((s = scratch_make(m, chunk, &w))) return s;
    for (size_t r0 = 0; r0 < n; r0 += chunk) {
        size_t c = n - r0 < chunk ? n - r0 : chunk;
        grbm_pre_hidden(m, NULL, w.iv, v + r0 * m->n_vis, c, w.sc, w.pre);
#pragma omp parallel for schedule(static) if (c * m->n_hid >= 65536)
        for (size_t r = 0; r < c; r++)
            F[r0 + r] = grbm_fe_row(m, w.iv, v + (r0 + r) * m->n_vis, w.pre + r * m->n_hid, T);
    }
    scratch_free(&w);
    return EBM_OK;
}

ebm_status ebm_grbm_hidden_probs(const ebm_grbm *m, const float *v, size_t n, float T, float *ph) {
    ebm_status s = check_t(T);
    if (!s) s = check_rows(n);
    if (s) return s;
    size_t chunk = n < ROW_CHUNK ? n : ROW_CHUNK;
    scratch w;
    if ((s = scratch_make(m, chunk, &w))) return s;
    for (size_t r0 = 0; r0 < n; r0 += chunk) {
        size_t c = n - r0 < chunk ? n - r0 : chunk;
        float *out = ph + r0 * m->n_hid;
        grbm_pre_hidden(m, NULL, w.iv, v + r0 * m->n_vis, c, w.sc, out);
        ebm_k_sigmoid_bernoulli(out, m->b, c, m->n_hid, 1.0f / T, 0, NULL);
    }
    scratch_free(&w);
    return EBM_OK;
}

ebm_status ebm_grbm_visible_mean(const ebm_grbm *m, const float *h, size_t n, float *mean) {
    ebm_status s = check_rows(n);
    if (s) return s;
    if (n) grbm_vis_mean(m, NULL, h, n, mean);
    return EBM_OK;
}

ebm_status ebm_grbm_free_energy_grad_v(const ebm_grbm *m, const float *v, size_t n, float T, float *g) {
    ebm_status s = check_t(T);
    if (!s) s = check_rows(n);
    if (s) return s;
    size_t chunk = n < ROW_CHUNK ? n : ROW_CHUNK;
    scratch w;
    if ((s = scratch_make(m, chunk, &w))) return s;
    for (size_t r0 = 0; r0 < n; r0 += chunk) {
        size_t c = n - r0 < chunk ? n - r0 : chunk;
        const float *vc = v + r0 * m->n_vis;
        grbm_pre_hidden(m, NULL, w.iv, vc, c, w.sc, w.pre);
        ebm_k_sigmoid_bernoulli(w.pre, m->b, c, m->n_hid, 1.0f / T, 0, NULL);
        grbm_grad_v(m, NULL, w.iv, vc, w.pre, c, g + r0 * m->n_vis);
    }
    scratch_free(&w);
    return EBM_OK;
}

ebm_status grbm_gacc_new(const ebm_grbm *m, size_t cap, grbm_gacc *a) {
    memset(a, 0, sizeof *a);
    if (!cap) cap = 1;
    size_t nv = m->n_vis, nh = m->n_hid;
    a->cap = cap;
    a->iv = ebm_calloc(nv, sizeof(float));
    a->sc = ebm_calloc(cap, nv * sizeof(float));
    a->wp = ebm_calloc(cap, nh * sizeof(float));
    a->M = ebm_calloc(nv, nh * sizeof(float));
    a->amu = calloc(nv, sizeof(double));
    a->alv = calloc(nv, sizeof(double));
    a->ab = calloc(nh, sizeof(double));
    if (!a->iv || !a->sc || !a->wp || !a->M || !a->amu || !a->alv || !a->ab) {
        grbm_gacc_free(a);
        return ebm_fail(EBM_ENOMEM, "out of memory for the GRBM gradient");
    }
    return EBM_OK;
}

void grbm_gacc_free(grbm_gacc *a) {
    ebm_free(a->iv);
    ebm_free(a->sc);
    ebm_free(a->wp);
    ebm_free(a->M);
    free(a->amu);
    free(a->alv);
    free(a->ab);
    memset(a, 0, sizeof *a);
}

void grbm_gacc_add(const ebm_grbm *m, grbm_gacc *a, const float *v, const float *pre, size_t n, const float *wt) {
    size_t nv = m->n_vis, nh = m->n_hid;
    if (a->n == 0) grbm_variances(m, a->iv, NULL);
    const float *iv = a->iv;
    float *sc = a->sc + a->n * nv, *wp = a->wp + a->n * nh;
    if (pre) {
        memcpy(wp, pre, n * nh * sizeof(float));
        for (size_t r = 0; r < n; r++)
            for (size_t i = 0; i < nv; i++) sc[r * nv + i] = v[r * nv + i] * iv[i];
    } else {
        grbm_pre_hidden(m, NULL, iv, v, n, sc, wp); /* sc = v o iv */
    }
    ebm_k_sigmoid_bernoulli(wp, m->b, n, nh, 1.0f, 0, NULL);
    for (size_t r = 0; r < n; r++) {
        double w = wt ? wt[r] : 1.0;
        const float *vr = v + r * nv;
        for (size_t i = 0; i < nv; i++) {
            double d = (double)vr[i] - m->mu[i];
            a->amu[i] -= w * d * iv[i];
            a->alv[i] -= w * 0.5 * d * d * iv[i];
        }
        float *pr = wp + r * nh;
        for (size_t j = 0; j < nh; j++) {
            a->ab[j] -= w * pr[j];
            pr[j] *= (float)w;
        }
    }
    a->n += n;
}

void grbm_gacc_finish(const ebm_grbm *m, grbm_gacc *a, float *grad) {
    size_t nv = m->n_vis, nh = m->n_hid, nw = nv * nh;
    float *gW = grad, *gb = grad + nw, *gmu = gb + nh, *glv = gmu + nv;
    if (a->n == 0) return;
    /* M = (v o iv)' (w o p); gW -= M; glv_i += sum_j W_ij M_ij */
    ebm_sgemm(1, 0, nv, nh, a->n, 1.0f, a->sc, nv, a->wp, nh, 0.0f, a->M, nh);
#pragma omp parallel for schedule(static) if (nw >= 65536)
    for (size_t i = 0; i < nv; i++) {
        const float *Mi = a->M + i * nh, *Wi = m->W + i * nh;
        float *gi = gW + i * nh;
        double c = 0;
        for (size_t j = 0; j < nh; j++) {
            gi[j] -= Mi[j];
            c += (double)Wi[j] * Mi[j];
        }
        a->alv[i] += c;
    }
    for (size_t j = 0; j < nh; j++) gb[j] += (float)a->ab[j];
    for (size_t i = 0; i < nv; i++) {
        gmu[i] += (float)a->amu[i];
        glv[i] += (float)a->alv[i];
    }
    memset(a->amu, 0, nv * sizeof(double));
    memset(a->alv, 0, nv * sizeof(double));
    memset(a->ab, 0, nh * sizeof(double));
    a->n = 0;
}

ebm_status ebm_grbm_free_energy_grad(const ebm_grbm *m, const float *v, size_t n, const float *wt, float *grad) {
    ebm_status s = check_rows(n);
    if (s) return s;
    size_t chunk = n < ROW_CHUNK ? n : ROW_CHUNK;
    grbm_gacc a;
    if ((s = grbm_gacc_new(m, chunk, &a))) return s;
    for (size_t r0 = 0; r0 < n; r0 += chunk) {
        size_t c = n - r0 < chunk ? n - r0 : chunk;
        grbm_gacc_add(m, &a, v + r0 * m->n_vis, NULL, c, wt ? wt + r0 : NULL);
        grbm_gacc_finish(m, &a, grad);
    }
    grbm_gacc_free(&a);
    return EBM_OK;
}

ebm_status ebm_grbm_check_finite(const ebm_grbm *m) {
    size_t bad, nw = m->n_vis * m->n_hid;
    if (!ebm_k_all_finite(m->params, m->n_params, &bad)) {
        if (bad < nw)
            return ebm_fail(EBM_ENAN, "weight W[%zu,%zu] is %g", bad / m->n_hid, bad % m->n_hid, m->params[bad]);
        if (bad < nw + m->n_hid) return ebm_fail(EBM_ENAN, "hidden bias b_h[%zu] is %g", bad - nw, m->params[bad]);
        if (bad < nw + m->n_hid + m->n_vis)
            return ebm_fail(EBM_ENAN, "visible mean mu[%zu] is %g", bad - nw - m->n_hid, m->params[bad]);
        return ebm_fail(EBM_ENAN, "log variance log_sigma2[%zu] is %g", bad - nw - m->n_hid - m->n_vis, m->params[bad]);
    }
    for (size_t i = 0; i < m->n_vis; i++)
        if (!isfinite(m->data_mean[i]) || !(m->data_std[i] > 0) || !isfinite(m->data_std[i]))
            return ebm_fail(EBM_ENAN, "standardisation of unit %zu is invalid (mean %g, std %g)", i, m->data_mean[i],
                            m->data_std[i]);
    return EBM_OK;
}

/* ---- files ---- */

ebm_status ebm_grbm_to_tensors(const ebm_grbm *m, ebm_tensors *t) {
    size_t shW[2] = {m->n_vis, m->n_hid}, shv[1] = {m->n_vis}, shh[1] = {m->n_hid};
    ebm_status s = ebm_model_meta_out(ebm_tensors_meta(t), m->meta, "grbm", m->n_vis, m->n_hid, m->height, m->width);
    if (!s) s = ebm_tensors_put(t, "W", EBM_F32, 2, shW, m->W);
    if (!s) s = ebm_tensors_put(t, "b_h", EBM_F32, 1, shh, m->b);
    if (!s) s = ebm_tensors_put(t, "mu", EBM_F32, 1, shv, m->mu);
    if (!s) s = ebm_tensors_put(t, "log_sigma2", EBM_F32, 1, shv, m->log_var);
    if (!s) s = ebm_tensors_put(t, "data_mean", EBM_F32, 1, shv, m->data_mean);
    if (!s) s = ebm_tensors_put(t, "data_std", EBM_F32, 1, shv, m->data_std);
    return s;
}

ebm_status ebm_grbm_save(const ebm_grbm *m, const char *path) {
    ebm_status s = ebm_grbm_check_finite(m);
    if (s) return ebm_fail_prefix(s, "refusing to save %s", path);
    ebm_tensors *t = NULL;
    s = ebm_tensors_new(&t);
    if (!s) s = ebm_grbm_to_tensors(m, t);
    if (!s) s = ebm_safetensors_write(path, t);
    ebm_tensors_free(t);
    return s;
}

ebm_status ebm_grbm_from_tensors(const ebm_tensors *t, const char *name, ebm_grbm **out) {
    *out = NULL;
    const ebm_meta *meta = ebm_tensors_meta_const(t);
    const char *kind = ebm_meta_get(meta, "ebm.model");
    if (!kind || strcmp(kind, "grbm") != 0)
        return ebm_fail(EBM_EFORMAT, "%s: holds a '%s' model, not a grbm", name, kind ? kind : "unknown");
    const ebm_array *W = ebm_tensors_get(t, "W");
    if (!W) return ebm_fail(EBM_EFORMAT, "%s: tensor 'W' is missing", name);
    if (W->ndim != 2 || W->shape[0] == 0 || W->shape[1] == 0)
        return ebm_fail(EBM_EFORMAT, "%s: tensor 'W' must be a non-empty matrix", name);
    ebm_grbm *m;
    ebm_status s = ebm_grbm_new(W->shape[0], W->shape[1], &m);
    if (s) return ebm_fail_prefix(s, "%s", name);
    size_t shW[2] = {m->n_vis, m->n_hid}, shv[1] = {m->n_vis}, shh[1] = {m->n_hid};
    s = ebm_io_take_f32(t, name, "W", 2, shW, m->W);
    if (!s) s = ebm_io_take_f32(t, name, "b_h", 1, shh, m->b);
    if (!s) s = ebm_io_take_f32(t, name, "mu", 1, shv, m->mu);
    if (!s) s = ebm_io_take_f32(t, name, "log_sigma2", 1, shv, m->log_var);
    if (!s) s = ebm_io_take_f32(t, name, "data_mean", 1, shv, m->data_mean);
    if (!s) s = ebm_io_take_f32(t, name, "data_std", 1, shv, m->data_std);
    for (size_t i = 0; !s && i < m->n_vis; i++)
        if (!(m->data_std[i] > 0)) s = ebm_fail(EBM_EFORMAT, "%s: data_std[%zu] = %g is not positive", name, i, m->data_std[i]);
    if (!s) grbm_clamp_logvar(m);
    if (!s) s = ebm_model_meta_in(meta, name, m->n_vis, m->meta, &m->height, &m->width);
    if (s) {
        ebm_grbm_free(m);
        return s;
    }
    *out = m;
    return EBM_OK;
}

ebm_status ebm_grbm_load(const char *path, ebm_grbm **out) {
    *out = NULL;
    ebm_tensors *t = NULL;
    ebm_status s = ebm_safetensors_read(path, &t);
    if (s) return s;
    s = ebm_grbm_from_tensors(t, path, out);
    ebm_tensors_free(t);
    return s;
}
