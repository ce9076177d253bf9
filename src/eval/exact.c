/* Exact quantities of a Bernoulli RBM by enumerating its smaller layer.  Summing the other layer out
 * analytically, log Z_T = logsumexp over x in {0,1}^s of [ c'x / T + sum_r softplus((d_r + (M x)_r) / T) ],
 * where (x, c) is the enumerated layer with its biases and (d, M) the other layer's biases and the
 * weights seen from x (Salakhutdinov & Murray 2008, section 3; any RBM text).  2^s configurations are
 * processed in chunks: one dgemm per chunk, softplus sums in double, and a log-sum-exp per chunk combined
 * in chunk order so the result does not depend on the thread count.  The same enumeration gives the
 * model expectations <v h'>, <v>, <h> for the exact log-likelihood gradient.  Also here: the mean
 * log-likelihood and the exact pseudo-log-likelihood used as training monitors (the reconstruction
 * error lives in models/rbm.c, beside the conditionals, where the DBN can call it). */
#include "core/internal.h"
#include "core/vmath.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK 2048

typedef struct {
    size_t s, r;            /* enumerated layer size, other layer size */
    double *M;              /* (s, r): weights from the enumerated layer to the other */
    double *c;              /* (s) enumerated-layer biases */
    double *d;              /* (r) other-layer biases */
    int enum_hidden;        /* 1 when the hidden layer is the enumerated one */
} enum_view;

static void view_free(enum_view *e) {
    free(e->M);
    free(e->c);
    free(e->d);
}

static ebm_status view_make(const ebm_rbm *m, enum_view *e) {
    memset(e, 0, sizeof *e);
    size_t small = m->n_vis < m->n_hid ? m->n_vis : m->n_hid;
    if (small > EBM_EXACT_MAX_UNITS)
        return ebm_fail(EBM_EINVAL,
                        "exact enumeration needs a layer of at most %d units; this RBM has %zu visible and %zu "
                        "hidden units (use an estimate such as AIS instead)",
                        EBM_EXACT_MAX_UNITS, m->n_vis, m->n_hid);
    e->enum_hidden = m->n_hid <= m->n_vis;
    e->s = e->enum_hidden ? m->n_hid : m->n_vis;
    e->r = e->enum_hidden ? m->n_vis : m->n_hid;
    e->M = malloc(e->s * e->r * sizeof(double));
    e->c = malloc(e->s * sizeof(double));
    e->d = malloc(e->r * sizeof(double));
    if (!e->M || !e->c || !e->d) {
        view_free(e);
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->n_vis; i++)
        for (size_t j = 0; j < m->n_hid; j++) {
            double w = m->W[i * m->n_hid + j];
            if (e->enum_hidden) e->M[j * e->r + i] = w;
            else e->M[i * e->r + j] = w;
        }
    const float *cb = e->enum_hidden ? m->b : m->a, *db = e->enum_hidden ? m->a : m->b;
    for (size_t i = 0; i < e->s; i++) e->c[i] = cb[i];
    for (size_t i = 0; i < e->r; i++) e->d[i] = db[i];
    return EBM_OK;
}

/* X (cnt, s) = bits of configurations first .. first + cnt - 1. */
static void fill_configs(double *X, uint64_t first, size_t cnt, size_t s) {
    for (size_t q = 0; q < cnt; q++)
        for (size_t i = 0; i < s; i++) X[q * s + i] = (double)(((first + q) >> i) & 1u);
}

/* For configurations X (cnt, s): P (cnt, r) = d + X M, then term[q] = c'x_q / T + sum softplus(P / T);
 * when probs is set, P is replaced by sigmoid(P / T). */
static void chunk_terms(const enum_view *e, const double *X, size_t cnt, double T, double *P, double *term,
                        int probs) {
    ebm_dgemm(0, 0, cnt, e->r, e->s, 1.0, X, e->s, e->M, e->r, 0.0, P, e->r);
    double inv_t = 1.0 / T;
#pragma omp parallel for schedule(static)
    for (size_t q = 0; q < cnt; q++) {
        double *p = P + q * e->r;
        double acc = ebm_k_softplus_sum_d(p, e->d, e->r, inv_t);
        if (probs)
            for (size_t k = 0; k < e->r; k++) p[k] = ebm_sigmoid((p[k] + e->d[k]) * inv_t);
        double cx = 0;
        for (size_t i = 0; i < e->s; i++) cx += e->c[i] * X[q * e->s + i];
        term[q] = cx * inv_t + acc;
    }
}

ebm_status ebm_rbm_log_z_exact(const ebm_rbm *m, float T, double *log_z) {
    if (!(T > 0) || !isfinite(T)) return ebm_fail(EBM_EINVAL, "temperature must be a positive number, got %g", T);
    enum_view e;
    ebm_status s = view_make(m, &e);
    if (s) return s;
    uint64_t total = (uint64_t)1 << e.s;
    size_t chunk = total < CHUNK ? (size_t)total : CHUNK;
    double *X = malloc(chunk * e.s * sizeof(double) + 1), *P = malloc(chunk * e.r * sizeof(double));
    double *term = malloc(chunk * sizeof(double));
    if (!X || !P || !term) {
        s = ebm_fail(EBM_ENOMEM, "out of memory");
        goto out;
    }
    double run_max = -INFINITY, run_sum = 0;
    for (uint64_t first = 0; first < total; first += chunk) {
        size_t cnt = total - first < chunk ? (size_t)(total - first) : chunk;
        fill_configs(X, first, cnt, e.s);
        chunk_terms(&e, X, cnt, T, P, term, 0);
        double mx = -INFINITY;
        for (size_t q = 0; q < cnt; q++) mx = term[q] > mx ? term[q] : mx;
        double sum = 0;
        for (size_t q = 0; q < cnt; q++) sum += exp(term[q] - mx);
        if (mx > run_max) {
            run_sum = run_sum * exp(run_max - mx) + sum;
            run_max = mx;
        } else {
            run_sum += sum * exp(mx - run_max);
        }
    }
    *log_z = run_max + log(run_sum);
    if (!isfinite(*log_z)) s = ebm_fail(EBM_ENAN, "log Z is not finite (%g)", *log_z);
out:
    free(X);
    free(P);
    free(term);
    view_free(&e);
    return s;
}

ebm_status ebm_rbm_log_likelihood(const ebm_rbm *m, const float *v, size_t n, double log_z, double *ll) {
    if (n == 0) return ebm_fail(EBM_EINVAL, "log-likelihood of an empty data set");
    double *F = malloc(n * sizeof *F);
    if (!F) return ebm_fail(EBM_ENOMEM, "out of memory");
    ebm_status s = ebm_rbm_free_energy(m, v, n, 1.0f, F);
    if (!s) {
        double acc = 0;
        for (size_t i = 0; i < n; i++) acc += -F[i];
        *ll = acc / (double)n - log_z;
    }
    free(F);
    return s;
}

ebm_status ebm_rbm_exact_ll_grad(const ebm_rbm *m, const float *v, size_t n, float *grad) {
    if (n == 0) return ebm_fail(EBM_EINVAL, "gradient of an empty data set");
    double log_z;
    ebm_status s = ebm_rbm_log_z_exact(m, 1.0f, &log_z);
    if (s) return s;
    enum_view e;
    s = view_make(m, &e);
    if (s) return s;
    size_t nv = m->n_vis, nh = m->n_hid, nw = nv * nh;
    uint64_t total = (uint64_t)1 << e.s;
    size_t chunk = total < CHUNK ? (size_t)total : CHUNK;
    double *X = malloc(chunk * e.s * sizeof(double)), *P = malloc(chunk * e.r * sizeof(double));
    double *term = malloc(chunk * sizeof(double));
    double *Exy = calloc(e.s * e.r, sizeof(double)), *Ex = calloc(e.s, sizeof(double)), *Ey = calloc(e.r, sizeof(double));
    double *dW = calloc(nw + nv + nh, sizeof(double));
    float *ph = malloc(n * nh * sizeof(float));
    if (!X || !P || !term || !Exy || !Ex || !Ey || !dW || !ph) {
        s = ebm_fail(EBM_ENOMEM, "out of memory");
        goto out;
    }
    /* model term: sum over configurations of p(x) x y(x)' with y(x) = p(other layer = 1 | x) */
    for (uint64_t first = 0; first < total; first += chunk) {
        size_t cnt = total - first < chunk ? (size_t)(total - first) : chunk;
        fill_configs(X, first, cnt, e.s);
        chunk_terms(&e, X, cnt, 1.0, P, term, 1);
        for (size_t q = 0; q < cnt; q++) {
            double p = exp(term[q] - log_z);
            for (size_t i = 0; i < e.s; i++) X[q * e.s + i] *= p;
        }
        ebm_dgemm(1, 0, e.s, e.r, cnt, 1.0, X, e.s, P, e.r, 1.0, Exy, e.r);
        for (size_t q = 0; q < cnt; q++) {
            double p = exp(term[q] - log_z);
            for (size_t i = 0; i < e.s; i++) Ex[i] += X[q * e.s + i];
            for (size_t k = 0; k < e.r; k++) Ey[k] += p * P[q * e.r + k];
        }
    }
    /* the model expectations enter with a minus sign */
    for (size_t i = 0; i < nv; i++)
        for (size_t j = 0; j < nh; j++) dW[i * nh + j] = -(e.enum_hidden ? Exy[j * e.r + i] : Exy[i * e.r + j]);
    for (size_t i = 0; i < nv; i++) dW[nw + i] = -(e.enum_hidden ? Ey[i] : Ex[i]);
    for (size_t j = 0; j < nh; j++) dW[nw + nv + j] = -(e.enum_hidden ? Ex[j] : Ey[j]);
    /* data term: mean of v p(h|v)' */
    s = ebm_rbm_hidden_probs(m, v, n, 1.0f, ph);
    if (s) goto out;
    for (size_t q = 0; q < n; q++) {
        const float *vq = v + q * nv, *hq = ph + q * nh;
        for (size_t i = 0; i < nv; i++) {
            if (vq[i] != 0)
                for (size_t j = 0; j < nh; j++) dW[i * nh + j] += (double)vq[i] * hq[j] / (double)n;
            dW[nw + i] += (double)vq[i] / (double)n;
        }
        for (size_t j = 0; j < nh; j++) dW[nw + nv + j] += (double)hq[j] / (double)n;
    }
    for (size_t i = 0; i < nw + nv + nh; i++) grad[i] = (float)dW[i];
out:
    free(X);
    free(P);
    free(term);
    free(Exy);
    free(Ex);
    free(Ey);
    free(dW);
    free(ph);
    view_free(&e);
    return s;
}

ebm_status ebm_rbm_pseudo_ll(const ebm_rbm *m, const float *v, size_t n, double *pll) {
    if (n == 0) return ebm_fail(EBM_EINVAL, "pseudo-likelihood of an empty data set");
    size_t nv = m->n_vis, nh = m->n_hid;
    for (size_t q = 0; q < n * nv; q++)
        if (v[q] != 0.0f && v[q] != 1.0f)
            return ebm_fail(EBM_EINVAL, "pseudo-likelihood needs binary data; row %zu has value %g", q / nv, v[q]);
    float *pre = ebm_calloc(n, nh * sizeof(float));
    double *rowpll = calloc(n, sizeof(double));
    if (!pre || !rowpll) {
        ebm_free(pre);
        free(rowpll);
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    ebm_sgemm(0, 0, n, nh, nv, 1.0f, v, nv, m->W, nh, 0.0f, pre, nh);
    /* log p(v_i | v_-i) = log sigmoid(F(v with v_i flipped) - F(v)); flipping v_i moves the hidden
     * pre-activations by (1 - 2 v_i) W[i, :], so each conditional costs one pass over n_hid. */
#pragma omp parallel for schedule(dynamic)
    for (size_t q = 0; q < n; q++) {
        float *p = pre + q * nh;
        for (size_t j = 0; j < nh; j++) p[j] += m->b[j];
        float base = 0;
#pragma omp simd reduction(+ : base)
        for (size_t j = 0; j < nh; j++) base += (p[j] > 0 ? p[j] : 0.0f) + log1pf(expf(-fabsf(p[j])));
        double acc = 0;
        for (size_t i = 0; i < nv; i++) {
            float sgn = 1.0f - 2.0f * v[q * nv + i];
            const float *wi = m->W + i * nh;
            float flip = 0;
#pragma omp simd reduction(+ : flip)
            for (size_t j = 0; j < nh; j++) {
                float z = p[j] + sgn * wi[j];
                flip += (z > 0 ? z : 0.0f) + log1pf(expf(-fabsf(z)));
            }
            /* F(flipped) - F(v) = -a_i sgn - (flip - base) */
            double dF = -(double)m->a[i] * sgn - ((double)flip - (double)base);
            acc += ebm_log_sigmoid(dF);
        }
        rowpll[q] = acc;
    }
    double total = 0;
    for (size_t q = 0; q < n; q++) total += rowpll[q];
    *pll = total / (double)n;
    ebm_free(pre);
    free(rowpll);
    return EBM_OK;
}

ebm_status ebm_rbm_saturation(const ebm_rbm *m, const float *v, size_t n, double *dead, double *stuck_on) {
    if (n == 0) return ebm_fail(EBM_EINVAL, "saturation of an empty data set");
    size_t nh = m->n_hid, chunk = n < 512 ? n : 512;
    float *ph = ebm_calloc(chunk, nh * sizeof(float)), *ones = ebm_calloc(chunk, sizeof(float));
    float *colsum = ebm_calloc(nh, sizeof(float));
    double *mean = calloc(nh, sizeof(double));
    if (!ph || !ones || !colsum || !mean) {
        ebm_free(ph);
        ebm_free(ones);
        ebm_free(colsum);
        free(mean);
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    for (size_t r = 0; r < chunk; r++) ones[r] = 1.0f;
    for (size_t r0 = 0; r0 < n; r0 += chunk) {
        size_t c = n - r0 < chunk ? n - r0 : chunk;
        ebm_rbm_sample_hidden(m, v + r0 * m->n_vis, c, 1.0f, 0, ph, NULL);
        ebm_colsum(ph, c, nh, ones, colsum);
        for (size_t j = 0; j < nh; j++) mean[j] += colsum[j];
    }
    size_t nd = 0, no = 0;
    for (size_t j = 0; j < nh; j++) {
        double p = mean[j] / (double)n;
        nd += p < 0.01;
        no += p > 0.99;
    }
    *dead = (double)nd / (double)nh;
    *stuck_on = (double)no / (double)nh;
    ebm_free(ph);
    ebm_free(ones);
    ebm_free(colsum);
    free(mean);
    return EBM_OK;
}

ebm_status ebm_rbm_sample_exact(const ebm_rbm *m, size_t n, ebm_rng *rng, float *v) {
    enum_view e;
    ebm_status s = view_make(m, &e);
    if (s) return s;
    if (e.s > 20) {
        view_free(&e);
        return ebm_fail(EBM_EINVAL, "exact sampling needs a layer of at most 20 units (this RBM: %zu and %zu)",
                        m->n_vis, m->n_hid);
    }
    uint64_t total = (uint64_t)1 << e.s;
    size_t chunk = total < CHUNK ? (size_t)total : CHUNK;
    double *X = malloc(chunk * e.s * sizeof(double)), *P = malloc(chunk * e.r * sizeof(double));
    double *cdf = malloc((size_t)total * sizeof(double));
    float *hid = e.enum_hidden ? ebm_calloc(n ? n : 1, m->n_hid * sizeof(float)) : NULL;
    float *pv = e.enum_hidden ? ebm_calloc(n ? n : 1, m->n_vis * sizeof(float)) : NULL;
    if (!X || !P || !cdf || (e.enum_hidden && (!hid || !pv))) {
        s = ebm_fail(EBM_ENOMEM, "out of memory");
        goto out;
    }
    /* unnormalised log-probabilities of every configuration of the enumerated layer, then their CDF */
    for (uint64_t first = 0; first < total; first += chunk) {
        size_t cnt = total - first < chunk ? (size_t)(total - first) : chunk;
        fill_configs(X, first, cnt, e.s);
        chunk_terms(&e, X, cnt, 1.0, P, cdf + first, 0);
    }
    double mx = -INFINITY, acc = 0;
    for (uint64_t q = 0; q < total; q++) mx = cdf[q] > mx ? cdf[q] : mx;
    for (uint64_t q = 0; q < total; q++) {
        acc += exp(cdf[q] - mx);
        cdf[q] = acc;
    }
    for (size_t i = 0; i < n; i++) {
        double u = ebm_rng_uniform(rng) * acc;
        uint64_t lo = 0, hi = total - 1; /* first q with cdf[q] > u */
        while (lo < hi) {
            uint64_t mid = lo + (hi - lo) / 2;
            if (cdf[mid] > u) hi = mid;
            else lo = mid + 1;
        }
        float *dst = e.enum_hidden ? hid + i * m->n_hid : v + i * m->n_vis;
        for (size_t b = 0; b < e.s; b++) dst[b] = (float)((lo >> b) & 1u);
    }
    if (e.enum_hidden && n) ebm_rbm_sample_visible(m, hid, n, 1.0f, ebm_rng_u64(rng), pv, v);
out:
    free(X);
    free(P);
    free(cdf);
    ebm_free(hid);
    ebm_free(pv);
    view_free(&e);
    return s;
}

/* What `ebm eval` reports of an RBM, each figure by the function above that defines it. */
ebm_status ebm_rbm_evaluate(const ebm_rbm *m, const float *v, size_t rows, size_t pll_rows, int exact,
                            ebm_rbm_eval *out) {
    out->free_energy_mean = out->recon = out->pseudo_ll = out->log_z = out->log_likelihood = NAN;
    if (rows == 0) return ebm_fail(EBM_EINVAL, "evaluation of no rows");
    double *F = malloc(rows * sizeof *F);
    if (!F) return ebm_fail(EBM_ENOMEM, "out of memory");
    ebm_status s = ebm_rbm_free_energy(m, v, rows, 1.0f, F);
    if (!s) out->free_energy_mean = 0;
    for (size_t i = 0; !s && i < rows; i++) out->free_energy_mean += F[i] / (double)rows;
    free(F);
    if (!s) s = ebm_rbm_recon_error(m, v, rows, &out->recon);
    if (!s && pll_rows) s = ebm_rbm_pseudo_ll(m, v, pll_rows < rows ? pll_rows : rows, &out->pseudo_ll);
    if (!s && exact) s = ebm_rbm_log_z_exact(m, 1.0f, &out->log_z);
    if (!s && exact) s = ebm_rbm_log_likelihood(m, v, rows, out->log_z, &out->log_likelihood);
    return s;
}

void ebm_rbm_monitor(const ebm_rbm *m, const float *v, size_t n, int pll, const float *ll_v, size_t ll_n,
                     ebm_rbm_monitors *out) {
    *out = (ebm_rbm_monitors){NAN, NAN, NAN, NAN, NAN, NAN};
    if (v && n > 0) {
        if (ebm_rbm_recon_error(m, v, n, &out->recon)) out->recon = NAN;
        if (ebm_rbm_saturation(m, v, n, &out->dead, &out->stuck_on)) out->dead = out->stuck_on = NAN;
        if (pll && ebm_rbm_pseudo_ll(m, v, n, &out->pseudo_ll)) out->pseudo_ll = NAN;
    }
    if (ll_v && ebm_rbm_log_z_exact(m, 1.0f, &out->log_z)) out->log_z = NAN;
    else if (ll_v && ebm_rbm_log_likelihood(m, ll_v, ll_n, out->log_z, &out->log_likelihood)) out->log_likelihood = NAN;
}
