/* Maximum-likelihood training of a Bernoulli RBM by contrastive divergence.  The gradient of the mean
 * log-likelihood is <v h'>_data - <v h'>_model (Hinton 2002, eq. 5; Hinton 2010, section 3).  CD-k
 * estimates the model term from k block-Gibbs sweeps started at each data vector; persistent CD-k
 * (Tieleman 2008) keeps a set of chains alive across updates and advances them k sweeps per update.
 * As the practical guide recommends (sections 3.2-3.4), hidden statistics use the probabilities
 * p(h|v), chains propagate sampled binary states, and the update is SGD with momentum and L2 weight
 * decay on W.
 *
 * Layout, chosen so each update is few, large GEMMs: V2 holds the positive rows (the batch) directly
 * followed by the negative rows (chain states), and H2 their hidden probabilities scaled by +1/n and
 * -1/c, so that the whole weight gradient is one GEMM, V2' H2.  Positives always end at row nmax,
 * where the persistent chains start, so a short last batch needs no copying.  For PCD the positive
 * and the negative hidden probabilities also come from a single GEMM over V2. */
#include "core/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ebm_rbm *m;
    ebm_cd_mode mode;
    size_t k;
    size_t nmax;        /* largest batch */
    size_t c;           /* PCD chains (CD: = nmax) */
    float *V2;          /* (nmax + c, n_vis) */
    float *H2;          /* (nmax + c, n_hid) */
    float *h;           /* (max(nmax, c), n_hid): hidden samples; for PCD the chains' hidden state */
    float *pv;          /* (max(nmax, c), n_vis): visible probabilities */
    float *grad;        /* (n_params): the weight gradient when needed unfused, and the bias gradients */
    float *coef;        /* (nmax + c) row weights for the bias gradients */
} cd_ws;

static void ws_free(cd_ws *w) {
    ebm_free(w->V2);
    ebm_free(w->H2);
    ebm_free(w->h);
    ebm_free(w->pv);
    ebm_free(w->grad);
    ebm_free(w->coef);
}

static ebm_status ws_alloc(cd_ws *w, ebm_rbm *m, ebm_cd_mode mode, size_t k, size_t nmax, size_t c) {
    memset(w, 0, sizeof *w);
    w->m = m;
    w->mode = mode;
    w->k = k;
    w->nmax = nmax;
    w->c = mode == EBM_PCD ? c : nmax;
    size_t rows = w->nmax + w->c, big = nmax > w->c ? nmax : w->c;
    w->V2 = ebm_calloc(rows, m->n_vis * sizeof(float));
    w->H2 = ebm_calloc(rows, m->n_hid * sizeof(float));
    w->h = ebm_calloc(big, m->n_hid * sizeof(float));
    w->pv = ebm_calloc(big, m->n_vis * sizeof(float));
    w->grad = ebm_calloc(m->n_params, sizeof(float));
    w->coef = ebm_calloc(rows, sizeof(float));
    if (!w->V2 || !w->H2 || !w->h || !w->pv || !w->grad || !w->coef) {
        ws_free(w);
        return EBM_ENOMEM;
    }
    return EBM_OK;
}

/* Rows of the positive block for a batch of n. */
static float *positives(const cd_ws *w, size_t n) { return w->V2 + (w->nmax - n) * w->m->n_vis; }
static float *negatives(const cd_ws *w) { return w->V2 + w->nmax * w->m->n_vis; }

/* PCD chains start from data rows, binarised by one Bernoulli draw each, with h ~ p(h|v). */
static void pcd_init(cd_ws *w, const ebm_mat *data, ebm_rng *rng) {
    size_t nv = w->m->n_vis;
    float *neg = negatives(w);
    uint64_t key = ebm_rng_u64(rng);
    for (size_t r = 0; r < w->c; r++) {
        const float *src = data->data + ebm_rng_below(rng, data->rows) * nv;
        float *v = neg + r * nv;
        ebm_rng_fill_uniform(key, r, 0, v, nv);
        for (size_t j = 0; j < nv; j++) v[j] = v[j] < src[j] ? 1.0f : 0.0f;
    }
    ebm_rbm_sample_hidden(w->m, neg, w->c, 1.0f, ebm_rng_u64(rng), w->H2 + w->nmax * w->m->n_hid, w->h);
}

/* Runs the chains for the batch already stored in positives(w, n), leaves V2 and the scaled H2 ready for
 * the weight gradient and writes the bias gradients (ascent direction) into the tail of w->grad.
 * Returns the number of rows in the gradient and, in *recon, the summed squared reconstruction error
 * (CD) or NaN (PCD). */
static size_t batch_stats(cd_ws *w, size_t n, ebm_rng *rng, double *recon) {
    const ebm_rbm *m = w->m;
    size_t nv = m->n_vis, nh = m->n_hid;
    float *pos = positives(w, n), *neg = negatives(w);
    float *hpos = w->H2 + (w->nmax - n) * nh, *hneg = w->H2 + w->nmax * nh;
    size_t nneg;
    *recon = NAN;

    if (w->mode == EBM_CD) {
        nneg = n;
        ebm_rbm_sample_hidden(m, pos, n, 1.0f, ebm_rng_u64(rng), hpos, w->h);
        for (size_t t = 1; t <= w->k; t++) {
            ebm_rbm_sample_visible(m, w->h, n, 1.0f, ebm_rng_u64(rng), w->pv, neg);
            if (t == 1) *recon = ebm_k_sqdiff(pos, w->pv, n * nv);
            ebm_rbm_sample_hidden(m, neg, n, 1.0f, ebm_rng_u64(rng), hneg, t < w->k ? w->h : NULL);
        }
    } else {
        nneg = w->c;
        for (size_t t = 1; t <= w->k; t++) {
            ebm_rbm_sample_visible(m, w->h, nneg, 1.0f, ebm_rng_u64(rng), w->pv, neg);
            if (t < w->k) ebm_rbm_sample_hidden(m, neg, nneg, 1.0f, ebm_rng_u64(rng), hneg, w->h);
        }
        /* One GEMM gives the hidden pre-activations of the batch and of the chains. */
        ebm_sgemm(0, 0, n + nneg, nh, nv, 1.0f, pos, nv, m->W, nh, 0.0f, hpos, nh);
        ebm_k_sigmoid_bernoulli(hpos, m->b, n, nh, 1.0f, 0, NULL);
        ebm_k_sigmoid_bernoulli(hneg, m->b, nneg, nh, 1.0f, ebm_rng_u64(rng), w->h);
    }

    /* Scale positive rows by 1/n and negative rows by -1/nneg; the bias gradients are then column sums. */
    float sp = 1.0f / (float)n, sn = -1.0f / (float)nneg;
    size_t rows = n + nneg;
#pragma omp parallel for schedule(static) if (rows * nh >= 65536)
    for (size_t r = 0; r < rows; r++) {
        float s = r < n ? sp : sn;
        float *row = hpos + r * nh;
        for (size_t j = 0; j < nh; j++) row[j] *= s;
    }
    float *ga = w->grad + nv * nh, *gb = ga + nv;
    for (size_t r = 0; r < rows; r++) w->coef[r] = r < n ? sp : sn;
    ebm_colsum(pos, rows, nv, w->coef, ga);
    for (size_t r = 0; r < rows; r++) w->coef[r] = 1.0f;
    ebm_colsum(hpos, rows, nh, w->coef, gb);
    return rows;
}

/* C (n_vis, n_hid) = alpha V2' H2 + beta C over the rows of the last batch_stats call. */
static void weight_grad(const cd_ws *w, size_t n, size_t rows, float alpha, float beta, float *C) {
    size_t nv = w->m->n_vis, nh = w->m->n_hid;
    ebm_sgemm(1, 0, nv, nh, rows, alpha, positives(w, n), nv, w->H2 + (w->nmax - n) * nh, nh, beta, C, nh);
}

/* vel = momentum vel + lr (scale g - wd W) (weight decay on W only); params += vel.  With g == NULL the
 * weight part of vel already holds momentum vel + lr g (fused into the gradient GEMM) and only the
 * biases take their gradient from bias_g.  Returns false when a parameter became non-finite. */
static bool apply_update(ebm_rbm *m, const float *g, const float *bias_g, float *vel, float lr, float scale,
                         float momentum, float wd) {
    size_t nw = m->n_vis * m->n_hid, np = m->n_params;
    float *p = m->params;
    float a = lr * scale, d = lr * wd;
    float probe = 0.0f;
    if (g) {
#pragma omp parallel for simd reduction(+ : probe) schedule(static) if (nw >= 65536)
        for (size_t i = 0; i < nw; i++) {
            float u = momentum * vel[i] + a * g[i] - d * p[i];
            vel[i] = u;
            p[i] += u;
            probe += p[i] * 0.0f;
        }
    } else {
#pragma omp parallel for simd reduction(+ : probe) schedule(static) if (nw >= 65536)
        for (size_t i = 0; i < nw; i++) {
            float u = vel[i] - d * p[i];
            vel[i] = u;
            p[i] += u;
            probe += p[i] * 0.0f;
        }
    }
    for (size_t i = nw; i < np; i++) {
        vel[i] = momentum * vel[i] + a * bias_g[i];
        p[i] += vel[i];
        probe += p[i] * 0.0f;
    }
    return probe == 0.0f;
}

void ebm_cd_opts_default(ebm_cd_opts *o) {
    memset(o, 0, sizeof *o);
    o->mode = EBM_CD;
    o->k = 1;
    o->epochs = 10;
    o->batch = 100;
    o->chains = 0;
    o->lr = 0.05f;
    o->lr_final = -1.0f;
    o->momentum = 0.5f;
    o->weight_decay = 1e-4f;
    o->grad_clip = 0.0f;
    o->shuffle = 1;
    o->seed = 1;
}

static ebm_status check_opts(const ebm_cd_opts *o) {
    if (o->mode != EBM_CD && o->mode != EBM_PCD) return ebm_fail(EBM_EINVAL, "unknown CD mode %d", (int)o->mode);
    if (o->k < 1 || o->k > 100000) return ebm_fail(EBM_EINVAL, "k (Gibbs sweeps per update) must be in 1..100000");
    if (o->epochs < 1) return ebm_fail(EBM_EINVAL, "epochs must be at least 1");
    if (o->batch < 1 || o->batch > (1u << 24)) return ebm_fail(EBM_EINVAL, "batch size must be in 1..16777216");
    if (o->chains > (1u << 24)) return ebm_fail(EBM_EINVAL, "at most 16777216 persistent chains");
    if (!(o->lr > 0) || !isfinite(o->lr)) return ebm_fail(EBM_EINVAL, "learning rate must be positive, got %g", o->lr);
    if (!(o->lr_final < 0) && !isfinite(o->lr_final))
        return ebm_fail(EBM_EINVAL, "final learning rate must be finite");
    if (!(o->momentum >= 0 && o->momentum < 1))
        return ebm_fail(EBM_EINVAL, "momentum must lie in [0, 1), got %g", o->momentum);
    if (!(o->weight_decay >= 0) || !isfinite(o->weight_decay))
        return ebm_fail(EBM_EINVAL, "weight decay must be >= 0, got %g", o->weight_decay);
    if (!(o->grad_clip >= 0) || !isfinite(o->grad_clip))
        return ebm_fail(EBM_EINVAL, "gradient clip must be >= 0, got %g", o->grad_clip);
    return EBM_OK;
}

ebm_status ebm_rbm_train(ebm_rbm *m, const ebm_mat *data, const ebm_cd_opts *o) {
    ebm_status s = check_opts(o);
    if (s) return s;
    if (data->cols != m->n_vis)
        return ebm_fail(EBM_ESHAPE, "data has %zu columns but the RBM has %zu visible units", data->cols, m->n_vis);
    if (data->rows == 0) return ebm_fail(EBM_EINVAL, "the training data is empty");
    s = ebm_mat_check_range(data, 0.0f, 1.0f, "training data for a Bernoulli RBM");
    if (s) return s;

    size_t N = data->rows, nv = m->n_vis;
    size_t nmax = o->batch < N ? o->batch : N;
    size_t chains = o->chains ? o->chains : nmax;
    size_t batches = (N + nmax - 1) / nmax;
    cd_ws w;
    s = ws_alloc(&w, m, o->mode, o->k, nmax, chains);
    if (s) return s;
    float *vel = ebm_calloc(m->n_params, sizeof(float));
    float *backup = ebm_calloc(m->n_params, sizeof(float));
    size_t *perm = calloc(N, sizeof *perm);
    if (!vel || !backup || !perm) {
        s = ebm_fail(EBM_ENOMEM, "out of memory for training buffers");
        goto done;
    }

    ebm_rng keys, shuffle, init;
    ebm_rng_seed(&keys, o->seed, 0);
    ebm_rng_seed(&shuffle, o->seed, 1);
    ebm_rng_seed(&init, o->seed, 2);
    if (o->mode == EBM_PCD) pcd_init(&w, data, &init);
    for (size_t i = 0; i < N; i++) perm[i] = i;

    ebm_train_progress pr = {0};
    pr.epochs = o->epochs;
    pr.batches = batches;
    double t_start = ebm_now();
    size_t total = o->epochs * batches, step = 0;
    size_t last_good_epoch = 0;
    for (size_t ep = 1; ep <= o->epochs; ep++) {
        double t_epoch = ebm_now(), recon_sum = 0;
        memcpy(backup, m->params, m->n_params * sizeof(float));
        if (o->shuffle) ebm_rng_permutation(&shuffle, perm, N);
        pr.epoch = ep;
        for (size_t b = 0; b < batches; b++, step++) {
            size_t r0 = b * nmax, n = N - r0 < nmax ? N - r0 : nmax;
            float *pos = positives(&w, n);
            for (size_t r = 0; r < n; r++) memcpy(pos + r * nv, data->data + perm[r0 + r] * nv, nv * sizeof(float));
            double recon;
            size_t rows = batch_stats(&w, n, &keys, &recon);
            recon_sum += recon;

            float lr = o->lr;
            if (o->lr_final >= 0 && total > 1) lr = o->lr + (o->lr_final - o->lr) * (float)step / (float)(total - 1);
            float scale = 1.0f;
            bool finite;
            if (o->grad_clip > 0) {
                weight_grad(&w, n, rows, 1.0f, 0.0f, w.grad);
                double norm = sqrt(ebm_k_sumsq(w.grad, m->n_params));
                if (norm > o->grad_clip) scale = (float)(o->grad_clip / norm);
                finite = apply_update(m, w.grad, w.grad, vel, lr, scale, o->momentum, o->weight_decay);
            } else {
                /* vel_W = momentum vel_W + lr V2' H2 in the GEMM itself: no separate gradient pass */
                weight_grad(&w, n, rows, lr, o->momentum, vel);
                finite = apply_update(m, NULL, w.grad, vel, lr, 1.0f, o->momentum, o->weight_decay);
            }
            if (!finite) {
                char what[256];
                ebm_rbm_check_finite(m);
                snprintf(what, sizeof what, "%s", ebm_last_error());
                memcpy(m->params, backup, m->n_params * sizeof(float));
                s = ebm_fail(EBM_ENAN,
                             "training diverged at epoch %zu, batch %zu: %s; parameters restored to the end of "
                             "epoch %zu; try a smaller learning rate (now %g) or --grad-clip",
                             ep, b + 1, what, last_good_epoch, (double)lr);
                goto done;
            }
            pr.batch = b + 1;
            pr.lr = lr;
            pr.seconds = ebm_now() - t_epoch;
            pr.total_seconds = ebm_now() - t_start;
            pr.recon = o->mode == EBM_CD ? recon_sum / ((double)(r0 + n) * (double)nv) : NAN;
            if (o->on_batch && o->on_batch(&pr, o->user)) {
                s = ebm_fail(EBM_ECANCELED, "training stopped at epoch %zu, batch %zu", ep, b + 1);
                goto done;
            }
        }
        last_good_epoch = ep;
        if (o->on_epoch && o->on_epoch(&pr, o->user)) {
            s = ebm_fail(EBM_ECANCELED, "training stopped after epoch %zu", ep);
            goto done;
        }
    }
done:
    ws_free(&w);
    ebm_free(vel);
    ebm_free(backup);
    free(perm);
    return s;
}

ebm_status ebm_rbm_cd_grad(const ebm_rbm *m, const float *v, size_t n, size_t k, ebm_rng *rng, float *grad) {
    if (n == 0 || k == 0) return ebm_fail(EBM_EINVAL, "CD gradient needs at least one row and one sweep");
    if (n > (1u << 24)) return ebm_fail(EBM_EINVAL, "batch too large");
    cd_ws w;
    ebm_status s = ws_alloc(&w, (ebm_rbm *)m, EBM_CD, k, n, n);
    if (s) return s;
    memcpy(positives(&w, n), v, n * m->n_vis * sizeof(float));
    double recon;
    size_t rows = batch_stats(&w, n, rng, &recon);
    weight_grad(&w, n, rows, 1.0f, 0.0f, w.grad);
    memcpy(grad, w.grad, m->n_params * sizeof(float));
    ws_free(&w);
    return EBM_OK;
}
