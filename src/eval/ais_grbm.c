/* Annealed importance sampling (Neal 2001) for the partition function of a Gaussian-Bernoulli RBM, through
 * the path seam of src/eval/ais_internal.h.  The base model is a factorised Gaussian N(c, diag s^2) (the
 * data's mean and variance) times uniform hidden units, so log Z_0 = n_hid log 2 + 1/2 sum_i log(2 pi s_i^2)
 * is exact.  Intermediate distributions interpolate the energies (Salakhutdinov & Murray 2008, eq. 12):
 *   p*_beta(v, h) = exp(-(1 - beta) E_0(v) - beta E(v, h)),   E_0(v) = 1/2 ||(v - c) / s||^2,
 * whose marginal is log p*_beta(v) = -(1 - beta) E_0(v) - beta/2 ||(v - mu)/sigma||^2
 *                                     + sum_j softplus(beta (W'(v / sigma^2) + b)_j).
 * The transition at beta is block Gibbs: h_j ~ sigmoid(beta (W'(v/sigma^2) + b)_j), and v | h is Gaussian
 * with precision lambda_i = (1 - beta) / s_i^2 + beta / sigma_i^2 and mean
 * ((1 - beta) c_i / s_i^2 + beta (mu_i + (W h)_i) / sigma_i^2) / lambda_i.  The hidden units are binary, so
 * each run's W h is kept and updated by the units that flipped (ebm_binmm_step, as for the RBM; recomputed
 * every AIS_GRBM_REFRESH steps); W'(v / sigma^2) is a dense product, v being continuous. */
#include "eval/ais_internal.h"
#include "models/grbm_internal.h"

#include <stdlib.h>
#include <string.h>

/* Steps between recomputations of the flip-updated W h. */
#define AIS_GRBM_REFRESH 256

typedef struct {
    ais_path path;
    const ebm_grbm *m;
    float *c, *s2, *is2;  /* (n_vis) base mean, variance, 1 / variance */
    float *iv;            /* (n_vis) 1 / sigma^2 */
    float *pre, *h;       /* (runs, n_hid) */
    float *sc, *wh, *z;   /* (runs, n_vis) */
    float *wt;            /* (n_hid, n_vis) W' */
    ebm_binmm *pu;        /* the runs' W h, updated by the hidden units that flipped */
} grbm_path;

static void sample_base(ais_path *p, float *v, size_t n, uint64_t key) {
    grbm_path *g = (grbm_path *)p;
    size_t nv = g->m->n_vis;
    for (size_t r = 0; r < n; r++) {
        float *row = v + r * nv;
        ebm_rng_fill_normal(key, p->run0 + r, 0, row, nv);
        for (size_t i = 0; i < nv; i++) row[i] = g->c[i] + sqrtf(g->s2[i]) * row[i];
    }
}

static void step(ais_path *p, size_t k, double b0, double b1, float *v, size_t n, double *logw, uint64_t k1,
                 uint64_t k2, int move) {
    grbm_path *g = (grbm_path *)p;
    const ebm_grbm *m = g->m;
    size_t nv = m->n_vis, nh = m->n_hid;
    grbm_pre_hidden(m, NULL, g->iv, v, n, g->sc, g->pre);
#pragma omp parallel for schedule(static) if (n * nh >= 32768)
    for (size_t r = 0; r < n; r++) {
        const float *vr = v + r * nv, *pr = g->pre + r * nh;
        double q = 0, e0 = 0;
        for (size_t i = 0; i < nv; i++) {
            double d = (double)vr[i] - m->mu[i], d0 = (double)vr[i] - g->c[i];
            q += 0.5 * d * d * g->iv[i];
            e0 += 0.5 * d0 * d0 * g->is2[i];
        }
        logw[r] += -(b1 - b0) * (q - e0) + ebm_k_softplus_row2(pr, m->b, nh, b0, b1);
    }
    if (!move) return;
    ebm_k_sigmoid_bernoulli_at(g->pre, m->b, n, nh, (float)b1, k1, p->run0, g->h);
    ebm_binmm_step(g->pu, k % AIS_GRBM_REFRESH == 0, 1.0f, g->h, nh, g->wt, nv, g->wh, nv, NULL);
#pragma omp parallel for schedule(static) if (n * nv >= 32768)
    for (size_t r = 0; r < n; r++) {
        float *vr = v + r * nv, *z = g->z + r * nv;
        const float *whr = g->wh + r * nv;
        ebm_rng_fill_normal(k2, p->run0 + r, 0, z, nv);
        for (size_t i = 0; i < nv; i++) {
            double lam = (1 - b1) * g->is2[i] + b1 * g->iv[i];
            double mean = ((1 - b1) * g->c[i] * g->is2[i] + b1 * ((double)m->mu[i] + whr[i]) * g->iv[i]) / lam;
            vr[i] = (float)(mean + z[i] / sqrt(lam));
        }
    }
}

static void path_free(grbm_path *g) {
    float *bufs[] = {g->c, g->s2, g->is2, g->iv, g->pre, g->h, g->sc, g->wh, g->z, g->wt};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) ebm_free(bufs[i]);
    ebm_binmm_free(g->pu);
}

ebm_status ebm_grbm_ais_base(const ebm_mat *data, float *mean, float *var) {
    if (data->rows == 0) return ebm_fail(EBM_EINVAL, "the AIS base needs at least one data row");
    size_t nv = data->cols, n = data->rows;
    double *s1 = calloc(nv, sizeof *s1), *s2 = calloc(nv, sizeof *s2);
    if (!s1 || !s2) {
        free(s1);
        free(s2);
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < nv; i++) s1[i] += data->data[r * nv + i];
    for (size_t i = 0; i < nv; i++) s1[i] /= (double)n;
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < nv; i++) {
            double d = data->data[r * nv + i] - s1[i];
            s2[i] += d * d;
        }
    for (size_t i = 0; i < nv; i++) {
        mean[i] = (float)s1[i];
        double v = s2[i] / (double)n;
        var[i] = (float)(v > 1e-4 ? v : 1e-4);
    }
    free(s1);
    free(s2);
    return EBM_OK;
}

ebm_status ebm_grbm_ais(const ebm_grbm *m, const float *base_mean, const float *base_var, const ebm_ais_opts *o,
                        ebm_ais_result *res, double *log_w) {
    ebm_status s = ebm_ais_check_runs(o->runs);
    if (!s) s = ebm_grbm_check_finite(m);
    if (s) return s;
    size_t nv = m->n_vis, nh = m->n_hid, R = o->runs;
    for (size_t i = 0; i < nv; i++) {
        if (base_mean && !isfinite(base_mean[i])) return ebm_fail(EBM_EINVAL, "AIS base mean %zu is not finite", i);
        if (base_var && (!(base_var[i] > 0) || !isfinite(base_var[i])))
            return ebm_fail(EBM_EINVAL, "AIS base variance %zu must be positive, got %g", i, base_var[i]);
    }
    const double *betas;
    size_t nb;
    double *own;
    s = ebm_ais_resolve_betas(o, &betas, &nb, &own);
    if (s) return s;
    grbm_path g;
    memset(&g, 0, sizeof g);
    g.m = m;
    g.c = ebm_calloc(nv, sizeof(float));
    g.s2 = ebm_calloc(nv, sizeof(float));
    g.is2 = ebm_calloc(nv, sizeof(float));
    g.iv = ebm_calloc(nv, sizeof(float));
    g.pre = ebm_calloc(R, nh * sizeof(float));
    g.h = ebm_calloc(R, nh * sizeof(float));
    g.sc = ebm_calloc(R, nv * sizeof(float));
    g.wh = ebm_calloc(R, nv * sizeof(float));
    g.z = ebm_calloc(R, nv * sizeof(float));
    g.wt = ebm_calloc(nh, nv * sizeof(float));
    float *v = ebm_calloc(R, nv * sizeof(float));
    double *lw = malloc(R * sizeof(double));
    if (!g.c || !g.s2 || !g.is2 || !g.iv || !g.pre || !g.h || !g.sc || !g.wh || !g.z || !g.wt || !v || !lw ||
        ebm_binmm_new(R, nh, nv, &g.pu)) {
        s = ebm_fail(EBM_ENOMEM, "out of memory for %zu AIS runs", R);
        goto out;
    }
    grbm_variances(m, g.iv, NULL);
    ebm_transpose(m->W, nv, nh, g.wt);
    double lz0 = (double)nh * log(2.0);
    for (size_t i = 0; i < nv; i++) {
        g.c[i] = base_mean ? base_mean[i] : 0.0f;
        g.s2[i] = base_var ? base_var[i] : 1.0f;
        g.is2[i] = 1.0f / g.s2[i];
        lz0 += 0.5 * log(2 * M_PI * g.s2[i]);
    }
    g.path.dim = nv;
    g.path.log_z_base = lz0;
    g.path.sample_base = sample_base;
    g.path.step = step;
    s = ebm_ais_drive(&g.path, betas, nb, 0, v, R, o, lw, res);
    if (!s && log_w) memcpy(log_w, lw, R * sizeof(double));
out:
    path_free(&g);
    ebm_free(v);
    free(lw);
    free(own);
    return s;
}

ebm_status ebm_grbm_evaluate(const ebm_grbm *m, const ebm_mat *x, int exact, const ebm_ais_opts *ais,
                             ebm_grbm_eval *out) {
    *out = (ebm_grbm_eval){NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 0, NAN, NAN};
    if (x->cols != m->n_vis)
        return ebm_fail(EBM_EINVAL, "grbm_evaluate: rows of %zu values for a GRBM of %zu visible units", x->cols,
                        m->n_vis);
    size_t rows = x->rows;
    double *F = malloc((rows ? rows : 1) * sizeof *F), jac = ebm_grbm_log_jacobian(m);
    float *bm = malloc(m->n_vis * sizeof(float)), *bv = malloc(m->n_vis * sizeof(float));
    ebm_status s = F && bm && bv ? ebm_grbm_free_energy(m, x->data, rows, 1.0f, F)
                                 : ebm_fail(EBM_ENOMEM, "out of memory for evaluating %zu rows", rows);
    if (!s) s = ebm_grbm_recon_error(m, x->data, rows, &out->recon_mse);
    if (!s && exact && !(s = ebm_grbm_log_z_exact(m, 1.0f, &out->log_z)) &&
        !(s = ebm_grbm_log_likelihood(m, x->data, rows, out->log_z, &out->log_likelihood)))
        out->log_likelihood += jac;
    ebm_ais_result res;
    if (!s && ais && !(s = ebm_grbm_ais_base(x, bm, bv)) && !(s = ebm_grbm_ais(m, bm, bv, ais, &res, NULL))) {
        if (!ebm_grbm_log_likelihood(m, x->data, rows, res.log_z, &out->ais_log_likelihood))
            out->ais_log_likelihood += jac;
        out->ais_log_z = res.log_z;
        out->ais_log_z_lo = res.log_z_lo;
        out->ais_log_z_hi = res.log_z_hi;
        out->ais_warnings = res.warnings;
        out->ais_ess = res.ess;
        out->ais_log_w_sd = res.log_w_sd;
    }
    if (!s) out->free_energy_mean = 0;
    for (size_t i = 0; !s && i < rows; i++) out->free_energy_mean += F[i] / (double)rows;
    free(F);
    free(bm);
    free(bv);
    return s;
}
