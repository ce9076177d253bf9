/* The Bernoulli restricted Boltzmann machine (Smolensky 1986; Hinton 2002, "Training products of experts
 * by minimizing contrastive divergence"; notation of Hinton 2010, "A practical guide to training RBMs"):
 *   E(v, h) = -a'v - b'h - v'Wh,
 *   F_T(v)  = -a'v - T sum_j softplus((b_j + (v'W)_j) / T)          (free energy at temperature T),
 *   p(h_j = 1 | v) = sigmoid((b_j + (v'W)_j) / T),   p(v_i = 1 | h) = sigmoid((a_i + (Wh)_i) / T),
 *   dF/dW = -v p(h|v)',  dF/da = -v,  dF/db = -p(h|v)   (at T = 1).
 * Pre-activations come from one GEMM per batch; softplus sums are accumulated in double. */
#include "models/model_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows per chunk in functions that take any number of rows, so scratch memory stays bounded. */
#define ROW_CHUNK 512

static void set_views(ebm_rbm *m) {
    m->W = m->params;
    m->a = m->params + m->n_vis * m->n_hid;
    m->b = m->a + m->n_vis;
}

ebm_status ebm_rbm_new(size_t n_vis, size_t n_hid, ebm_rbm **out) {
    *out = NULL;
    if (n_vis == 0 || n_hid == 0) return ebm_fail(EBM_EINVAL, "an RBM needs at least one visible and one hidden unit");
    if (n_vis > INT_MAX || n_hid > INT_MAX)
        return ebm_fail(EBM_EINVAL, "RBM layer sizes above %d are not supported", INT_MAX);
    size_t nw, np;
    if (!ebm_mul_ok(n_vis, n_hid, &nw) || __builtin_add_overflow(nw, n_vis + n_hid, &np))
        return ebm_fail(EBM_ENOMEM, "RBM %zu x %zu is too large", n_vis, n_hid);
    ebm_rbm *m = calloc(1, sizeof *m);
    if (!m) return ebm_fail(EBM_ENOMEM, "out of memory");
    m->n_vis = n_vis;
    m->n_hid = n_hid;
    m->n_params = np;
    m->params = ebm_calloc(np, sizeof(float));
    ebm_status s = m->params ? ebm_meta_new(&m->meta) : EBM_ENOMEM;
    if (s) {
        ebm_rbm_free(m);
        return s;
    }
    set_views(m);
    *out = m;
    return EBM_OK;
}

void ebm_rbm_free(ebm_rbm *m) {
    if (!m) return;
    ebm_free(m->params);
    ebm_meta_free(m->meta);
    free(m);
}

ebm_status ebm_rbm_clone(const ebm_rbm *m, ebm_rbm **out) {
    ebm_status s = ebm_rbm_new(m->n_vis, m->n_hid, out);
    if (s) return s;
    memcpy((*out)->params, m->params, m->n_params * sizeof(float));
    (*out)->height = m->height;
    (*out)->width = m->width;
    s = ebm_meta_copy((*out)->meta, m->meta);
    if (s) {
        ebm_rbm_free(*out);
        *out = NULL;
    }
    return s;
}

ebm_status ebm_rbm_init(ebm_rbm *m, ebm_rng *rng, float weight_std, const ebm_mat *data) {
    if (!(weight_std >= 0) || !isfinite(weight_std)) return ebm_fail(EBM_EINVAL, "weight_std must be >= 0");
    if (data && data->cols != m->n_vis)
        return ebm_fail(EBM_ESHAPE, "data has %zu columns but the RBM has %zu visible units", data->cols, m->n_vis);
    for (size_t i = 0; i < m->n_vis * m->n_hid; i++) m->W[i] = (float)(weight_std * ebm_rng_normal(rng));
    memset(m->b, 0, m->n_hid * sizeof(float));
    memset(m->a, 0, m->n_vis * sizeof(float));
    if (data && data->rows > 0) {
        /* Hinton's guide, section 8: visible bias log(p / (1 - p)) makes p(v|h=0) match the data. */
        double *mean = calloc(m->n_vis, sizeof *mean);
        if (!mean) return ebm_fail(EBM_ENOMEM, "out of memory");
        for (size_t r = 0; r < data->rows; r++) {
            const float *row = data->data + r * data->cols;
            for (size_t i = 0; i < m->n_vis; i++) mean[i] += row[i];
        }
        for (size_t i = 0; i < m->n_vis; i++) {
            double p = mean[i] / (double)data->rows;
            if (p < 1e-3) p = 1e-3;
            if (p > 1 - 1e-3) p = 1 - 1e-3;
            m->a[i] = (float)log(p / (1 - p));
        }
        free(mean);
    }
    return EBM_OK;
}

/* out (n, n_hid) = v (n, n_vis) W, at mm's precision (NULL: fp32). */
static void pre_hidden_mm(const ebm_rbm *m, ebm_mm *mm, const float *v, size_t n, float *out) {
    ebm_mm_gemm(mm, 0, 0, n, m->n_hid, m->n_vis, 1.0f, v, m->n_vis, m->W, m->n_hid, 0.0f, out, m->n_hid);
}
static void pre_hidden(const ebm_rbm *m, const float *v, size_t n, float *out) { pre_hidden_mm(m, NULL, v, n, out); }

static ebm_status check_t(float T) {
    if (!(T > 0) || !isfinite(T)) return ebm_fail(EBM_EINVAL, "temperature must be a positive number, got %g", T);
    return EBM_OK;
}

static ebm_status check_rows(size_t n) {
    if (n > INT_MAX) return ebm_fail(EBM_EINVAL, "%zu rows is more than one call can take", n);
    return EBM_OK;
}

ebm_status ebm_rbm_energy(const ebm_rbm *m, const float *v, const float *h, size_t n, double *E) {
    ebm_status s = check_rows(n);
    if (s) return s;
    size_t chunk = n < ROW_CHUNK ? n : ROW_CHUNK;
    float *pre = ebm_calloc(chunk ? chunk : 1, m->n_hid * sizeof(float));
    if (!pre) return EBM_ENOMEM;
    for (size_t r0 = 0; r0 < n; r0 += chunk) {
        size_t c = n - r0 < chunk ? n - r0 : chunk;
        pre_hidden(m, v + r0 * m->n_vis, c, pre);
        for (size_t r = 0; r < c; r++) {
            const float *vr = v + (r0 + r) * m->n_vis, *hr = h + (r0 + r) * m->n_hid, *pr = pre + r * m->n_hid;
            double e = 0;
            for (size_t i = 0; i < m->n_vis; i++) e -= (double)m->a[i] * vr[i];
            for (size_t j = 0; j < m->n_hid; j++) e -= ((double)m->b[j] + pr[j]) * hr[j];
            E[r0 + r] = e;
        }
    }
    ebm_free(pre);
    return EBM_OK;
}

ebm_status ebm_rbm_free_energy(const ebm_rbm *m, const float *v, size_t n, float T, double *F) {
    return ebm_rbm_free_energy_mm(m, NULL, v, n, T, F);
}

ebm_status ebm_rbm_free_energy_mm(const ebm_rbm *m, ebm_mm *mm, const float *v, size_t n, float T, double *F) {
    ebm_status s = check_t(T);
    if (!s) s = check_rows(n);
    if (s) return s;
    size_t chunk = n < ROW_CHUNK ? n : ROW_CHUNK;
    float *pre = ebm_calloc(chunk ? chunk : 1, m->n_hid * sizeof(float));
    double *sp = calloc(chunk ? chunk : 1, sizeof *sp);
    if (!pre || !sp) {
        ebm_free(pre);
        free(sp);
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    for (size_t r0 = 0; r0 < n; r0 += chunk) {
        size_t c = n - r0 < chunk ? n - r0 : chunk;
        pre_hidden_mm(m, mm, v + r0 * m->n_vis, c, pre);
        ebm_k_softplus_rowsum(pre, m->b, c, m->n_hid, 1.0f / T, sp);
        for (size_t r = 0; r < c; r++) {
            const float *vr = v + (r0 + r) * m->n_vis;
            double av = 0;
            for (size_t i = 0; i < m->n_vis; i++) av += (double)m->a[i] * vr[i];
            F[r0 + r] = -av - (double)T * sp[r];
        }
    }
    ebm_free(pre);
    free(sp);
    return EBM_OK;
}

/* p(h|v) (hidden != 0) or p(v|h) of n rows of x at temperature T, with the arguments checked. */
static ebm_status conditional(const ebm_rbm *m, const float *x, size_t n, float T, int hidden, float *out) {
    ebm_status s = check_t(T);
    if (!s) s = check_rows(n);
    if (s) return s;
    if (hidden) ebm_rbm_sample_hidden(m, x, n, T, 0, out, NULL);
    else ebm_rbm_sample_visible(m, x, n, T, 0, out, NULL);
    return EBM_OK;
}

ebm_status ebm_rbm_hidden_probs(const ebm_rbm *m, const float *v, size_t n, float T, float *ph) {
    return conditional(m, v, n, T, 1, ph);
}

ebm_status ebm_rbm_visible_probs(const ebm_rbm *m, const float *h, size_t n, float T, float *pv) {
    return conditional(m, h, n, T, 0, pv);
}

/* The product, then the sigmoid and the draws as its epilogue on each output block (ebm_k_sigbern_ep):
 * the same bits as ebm_k_sigmoid_bernoulli after it, without another pass or parallel region. */
void ebm_rbm_sample_hidden_mm(const ebm_rbm *m, ebm_mm *mm, const float *v, size_t n, float T, uint64_t key,
                              uint64_t row0, float *prob, float *sample) {
    if (n == 0) return;
    ebm_sigbern e = {prob, m->n_hid, m->b, 1.0f / T, key, row0, 0, sample, m->n_hid, n, 1.0f, 1.0f};
    ebm_gemm_ep ep = {ebm_k_sigbern_ep, &e};
    ebm_mm_gemm_ep(mm, 0, 0, n, m->n_hid, m->n_vis, 1.0f, v, m->n_vis, m->W, m->n_hid, 0.0f, prob, m->n_hid, &ep);
}

void ebm_rbm_sample_visible_mm(const ebm_rbm *m, ebm_mm *mm, const float *h, size_t n, float T, uint64_t key,
                               uint64_t row0, float *prob, float *sample) {
    if (n == 0) return;
    ebm_sigbern e = {prob, m->n_vis, m->a, 1.0f / T, key, row0, 0, sample, m->n_vis, n, 1.0f, 1.0f};
    ebm_gemm_ep ep = {ebm_k_sigbern_ep, &e};
    ebm_mm_gemm_ep(mm, 0, 1, n, m->n_vis, m->n_hid, 1.0f, h, m->n_hid, m->W, m->n_hid, 0.0f, prob, m->n_vis, &ep);
}

void ebm_rbm_sample_hidden(const ebm_rbm *m, const float *v, size_t n, float T, uint64_t key, float *prob,
                           float *sample) {
    ebm_rbm_sample_hidden_mm(m, NULL, v, n, T, key, 0, prob, sample);
}

void ebm_rbm_sample_visible(const ebm_rbm *m, const float *h, size_t n, float T, uint64_t key, float *prob,
                            float *sample) {
    ebm_rbm_sample_visible_mm(m, NULL, h, n, T, key, 0, prob, sample);
}

/* Mean-field reconstruction: the mean of (v - p(v | p(h | v)))^2 over every unit of every row.  Here, beside
 * the conditionals it uses, so that the models above (the DBN) need nothing from eval. */
ebm_status ebm_rbm_recon_error(const ebm_rbm *m, const float *v, size_t n, double *mse) {
    if (n == 0) return ebm_fail(EBM_EINVAL, "reconstruction error of an empty data set");
    size_t nv = m->n_vis, nh = m->n_hid, chunk = n < ROW_CHUNK ? n : ROW_CHUNK;
    float *ph = ebm_calloc(chunk, nh * sizeof(float)), *pv = ebm_calloc(chunk, nv * sizeof(float));
    if (!ph || !pv) {
        ebm_free(ph);
        ebm_free(pv);
        return EBM_ENOMEM;
    }
    double acc = 0;
    for (size_t r0 = 0; r0 < n; r0 += chunk) {
        size_t c = n - r0 < chunk ? n - r0 : chunk;
        ebm_rbm_sample_hidden(m, v + r0 * nv, c, 1.0f, 0, ph, NULL);
        ebm_rbm_sample_visible(m, ph, c, 1.0f, 0, pv, NULL);
        acc += ebm_k_sqdiff(v + r0 * nv, pv, c * nv);
    }
    *mse = acc / ((double)n * (double)nv);
    ebm_free(ph);
    ebm_free(pv);
    return EBM_OK;
}

/* In double; the standard deviation is the population one. */
void ebm_param_stats_of(const float *x, size_t n, size_t skip, int half_exp, ebm_param_stats *s) {
    double sum = 0, sq = 0, ab = 0, count = 0;
    s->min = INFINITY;
    s->max = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (skip && i % (skip + 1) == 0) continue;
        double v = half_exp ? exp(0.5 * x[i]) : x[i];
        sum += v;
        sq += v * v;
        ab += fabs(v);
        s->min = v < s->min ? v : s->min;
        s->max = v > s->max ? v : s->max;
        count++;
    }
    s->mean = count ? sum / count : 0;
    s->std = count ? sqrt(fmax(0, sq / count - s->mean * s->mean)) : 0;
    s->mean_abs = count ? ab / count : 0;
    s->max_abs = fmax(fabs(s->min), fabs(s->max));
}

void ebm_rbm_param_stats(const ebm_rbm *m, ebm_param_stats out[3]) {
    ebm_param_stats_of(m->W, m->n_vis * m->n_hid, 0, 0, &out[0]);
    ebm_param_stats_of(m->a, m->n_vis, 0, 0, &out[1]);
    ebm_param_stats_of(m->b, m->n_hid, 0, 0, &out[2]);
}

ebm_status ebm_rbm_free_energy_grad(const ebm_rbm *m, const float *v, size_t n, const float *w, float *grad) {
    ebm_status s = check_rows(n);
    if (s) return s;
    size_t chunk = n < ROW_CHUNK ? n : ROW_CHUNK;
    float *ph = ebm_calloc(chunk ? chunk : 1, m->n_hid * sizeof(float));
    if (!ph) return EBM_ENOMEM;
    float *gW = grad, *ga = grad + m->n_vis * m->n_hid, *gb = ga + m->n_vis;
    for (size_t r0 = 0; r0 < n; r0 += chunk) {
        size_t c = n - r0 < chunk ? n - r0 : chunk;
        const float *vc = v + r0 * m->n_vis;
        ebm_rbm_sample_hidden(m, vc, c, 1.0f, 0, ph, NULL);
        for (size_t r = 0; r < c; r++) {
            float wr = w ? w[r0 + r] : 1.0f;
            float *phr = ph + r * m->n_hid;
            const float *vr = vc + r * m->n_vis;
            for (size_t j = 0; j < m->n_hid; j++) {
                gb[j] -= wr * phr[j];
                phr[j] *= wr;
            }
            for (size_t i = 0; i < m->n_vis; i++) ga[i] -= wr * vr[i];
        }
        /* gW -= v' (w o ph) */
        ebm_sgemm(1, 0, m->n_vis, m->n_hid, c, -1.0f, vc, m->n_vis, ph, m->n_hid, 1.0f, gW, m->n_hid);
    }
    ebm_free(ph);
    return EBM_OK;
}

ebm_status ebm_rbm_check_finite(const ebm_rbm *m) {
    size_t bad;
    if (ebm_k_all_finite(m->params, m->n_params, &bad)) return EBM_OK;
    size_t nw = m->n_vis * m->n_hid;
    if (bad < nw)
        return ebm_fail(EBM_ENAN, "weight W[%zu,%zu] is %g", bad / m->n_hid, bad % m->n_hid, m->params[bad]);
    if (bad < nw + m->n_vis)
        return ebm_fail(EBM_ENAN, "visible bias b_v[%zu] is %g", bad - nw, m->params[bad]);
    return ebm_fail(EBM_ENAN, "hidden bias b_h[%zu] is %g", bad - nw - m->n_vis, m->params[bad]);
}

/* ---- files ---- */

ebm_status ebm_model_meta_out(ebm_meta *meta, const ebm_meta *own, const char *kind, size_t n_vis, size_t n_hid,
                              size_t height, size_t width) {
    ebm_status s = ebm_meta_copy(meta, own);
    if (!s) s = ebm_meta_set(meta, "ebm.model", kind);
    if (!s) s = ebm_meta_set(meta, "ebm.version", EBM_VERSION_STRING);
    if (!s) s = ebm_meta_set(meta, "ebm.format", "1");
    if (!s) s = ebm_meta_setf(meta, "ebm.n_vis", "%zu", n_vis);
    if (!s) s = ebm_meta_setf(meta, "ebm.n_hid", "%zu", n_hid);
    if (!s && height && width) s = ebm_meta_setf(meta, "ebm.image_shape", "%zux%zu", height, width);
    return s;
}

ebm_status ebm_rbm_to_tensors(const ebm_rbm *m, ebm_tensors *t) {
    size_t shW[2] = {m->n_vis, m->n_hid}, shv[1] = {m->n_vis}, shh[1] = {m->n_hid};
    ebm_status s = ebm_model_meta_out(ebm_tensors_meta(t), m->meta, "rbm", m->n_vis, m->n_hid, m->height, m->width);
    if (!s) s = ebm_tensors_put(t, "W", EBM_F32, 2, shW, m->W);
    if (!s) s = ebm_tensors_put(t, "b_v", EBM_F32, 1, shv, m->a);
    if (!s) s = ebm_tensors_put(t, "b_h", EBM_F32, 1, shh, m->b);
    return s;
}

ebm_status ebm_rbm_save(const ebm_rbm *m, const char *path) {
    ebm_status s = ebm_rbm_check_finite(m);
    if (s) return ebm_fail_prefix(s, "refusing to save %s", path);
    ebm_tensors *t = NULL;
    s = ebm_tensors_new(&t);
    if (!s) s = ebm_rbm_to_tensors(m, t);
    if (!s) s = ebm_safetensors_write(path, t);
    ebm_tensors_free(t);
    return s;
}

static bool parse_shape(const char *s, size_t *h, size_t *w) {
    char *end;
    unsigned long long a = strtoull(s, &end, 10);
    if (end == s || *end != 'x') return false;
    const char *q = end + 1;
    unsigned long long b = strtoull(q, &end, 10);
    if (end == q || *end) return false;
    *h = (size_t)a;
    *w = (size_t)b;
    return true;
}

ebm_status ebm_model_meta_in(const ebm_meta *meta, const char *file, size_t n_vis, ebm_meta *own, size_t *height,
                             size_t *width) {
    ebm_status s = ebm_meta_copy(own, meta);
    const char *shape = ebm_meta_get(meta, "ebm.image_shape");
    if (!s && shape) {
        size_t h, w, hw;
        if (parse_shape(shape, &h, &w) && ebm_mul_ok(h, w, &hw) && hw == n_vis) {
            *height = h;
            *width = w;
        } else {
            s = ebm_fail(EBM_EFORMAT, "%s: ebm.image_shape '%s' does not match %zu visible units", file, shape, n_vis);
        }
    }
    return s;
}

ebm_status ebm_rbm_from_tensors(const ebm_tensors *t, const char *name, ebm_rbm **out) {
    *out = NULL;
    const ebm_meta *meta = ebm_tensors_meta_const(t);
    const char *kind = ebm_meta_get(meta, "ebm.model");
    if (kind && strcmp(kind, "rbm") != 0)
        return ebm_fail(EBM_EFORMAT, "%s: holds a '%s' model, not an rbm", name, kind);
    const ebm_array *W = ebm_tensors_get(t, "W");
    if (!W) return ebm_fail(EBM_EFORMAT, "%s: tensor 'W' is missing (not an RBM file?)", name);
    if (W->ndim != 2 || W->shape[0] == 0 || W->shape[1] == 0)
        return ebm_fail(EBM_EFORMAT, "%s: tensor 'W' must be a non-empty matrix", name);
    ebm_rbm *m;
    ebm_status s = ebm_rbm_new(W->shape[0], W->shape[1], &m);
    if (s) return ebm_fail_prefix(s, "%s", name);
    size_t shW[2] = {m->n_vis, m->n_hid}, shv[1] = {m->n_vis}, shh[1] = {m->n_hid};
    s = ebm_io_take_f32(t, name, "W", 2, shW, m->W);
    if (!s) s = ebm_io_take_f32(t, name, "b_v", 1, shv, m->a);
    if (!s) s = ebm_io_take_f32(t, name, "b_h", 1, shh, m->b);
    if (!s) s = ebm_model_meta_in(meta, name, m->n_vis, m->meta, &m->height, &m->width);
    if (s) {
        ebm_rbm_free(m);
        return s;
    }
    *out = m;
    return EBM_OK;
}

ebm_status ebm_rbm_load(const char *path, ebm_rbm **out) {
    *out = NULL;
    ebm_tensors *t = NULL;
    ebm_status s = ebm_safetensors_read(path, &t);
    if (s) return s;
    s = ebm_rbm_from_tensors(t, path, out);
    ebm_tensors_free(t);
    return s;
}
