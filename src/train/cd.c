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
 * and the negative hidden probabilities also come from a single GEMM over V2.
 *
 * Precision (ebm_cd_opts.precision): in bf16 the Gibbs products (v W and h W') multiply bf16 roundings of
 * their operands with fp32 accumulation (core/gemm_dnnl.c); W's bf16 copy is refreshed at the start of
 * each update, after the previous one changed W.  The weight gradient V2' H2 stays fp32: in bf16 it made
 * the demo model (784 x 512, PCD-1, 30 epochs) 1.2-1.5 nats worse in AIS test log-likelihood on two seeds,
 * and in fp32 the gap vanished (0.01 nats), while bf16 gained only ~1.1x on that product (K = 200 rows
 * is too short a sum for the bf16 kernels; docs/benchmarks.md).  Parameters, momentum, the bias
 * gradients and the update itself stay fp32.
 *
 * Fused kernels: each product carries the element-wise work that follows it as an epilogue on its output
 * blocks (core/gemm.c): the sigmoid, the Bernoulli draws and the gradient's 1/n, -1/c scaling after v W and
 * h W' (ebm_k_sigbern_ep), and after the gradient GEMM the update of W with the bf16 copy of the new W that
 * the next update's products read (update_block).  Every result is bit-identical to the unfused passes.
 *
 * CD-k and PCD-k with k > 2 in fp32: W is fixed within an update, so from the second sweep on the chains'
 * products are kept and updated by the units that flipped (ebm_binmm_step, as AIS and the Gibbs sampler
 * do): sweep 2 recomputes them from the non-zeros, sweeps 3..k cost the flips.  CD-10 on 784 x 512 trains
 * 1.5x faster (docs/benchmarks.md).
 *
 * Data-parallel runs (ebm_run over several processes): a process holds a slice of each batch and a slice of
 * the persistent chains; every row and chain draws from the stream (key, its index in the whole batch or
 * chain set), so the processes together draw exactly what one process draws. */
#include "train/train_internal.h"
#include "models/model_internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ebm_rbm *m;
    ebm_cd_mode mode;
    size_t k;
    size_t nmax;        /* largest batch */
    size_t c;           /* PCD chains held here (CD: = nmax) */
    size_t c0, c_all;   /* PCD: the index of the first of them among all processes' c_all chains */
    float *V2;          /* (nmax + c, n_vis) */
    float *H2;          /* (nmax + c, n_hid) */
    float *h;           /* (max(nmax, c), n_hid): hidden samples; for PCD the chains' hidden state */
    float *pv;          /* (max(nmax, c), n_vis): visible probabilities */
    float *grad;        /* (n_params): the weight gradient when needed unfused, and the bias gradients */
    float *coef;        /* (nmax + c) row weights for the bias gradients */
    ebm_mm *mm;         /* borrowed: the products' precision (NULL: fp32) */
    /* k > 2 (used in fp32): sweep 2 of an update recomputes the chains' products and takes W', sweeps
     * 3..k update them by the units that flipped (ebm_binmm_step; W is fixed within an update) */
    ebm_flip_pair fl;
} cd_ws;

static void ws_free(cd_ws *w) {
    ebm_free(w->V2);
    ebm_free(w->H2);
    ebm_free(w->h);
    ebm_free(w->pv);
    ebm_free(w->grad);
    ebm_free(w->coef);
    ebm_flip_pair_free(&w->fl);
}

static ebm_status ws_alloc(cd_ws *w, ebm_rbm *m, ebm_cd_mode mode, size_t k, size_t nmax, size_t c) {
    memset(w, 0, sizeof *w);
    w->m = m;
    w->mode = mode;
    w->k = k;
    w->nmax = nmax;
    w->c = mode == EBM_PCD ? c : nmax;
    w->c0 = 0;
    w->c_all = w->c;
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
    /* from sweep 3 on the flips are cheaper than dense products (sweep 2 recomputes) */
    if (k > 2 && ebm_flip_pair_new(w->c, m->n_vis, m->n_hid, &w->fl)) {
        ws_free(w);
        return EBM_ENOMEM;
    }
    return EBM_OK;
}

/* Rows of the positive block for a batch of n. */
static float *positives(const cd_ws *w, size_t n) { return w->V2 + (w->nmax - n) * w->m->n_vis; }
static float *negatives(const cd_ws *w) { return w->V2 + w->nmax * w->m->n_vis; }

/* Conditionals of the RBM with rows drawing from the streams (key, row0 + i): ebm_rbm_sample_hidden and
 * ebm_rbm_sample_visible for a slice that starts at row row0 of the whole, products at mm's precision.
 * The sigmoid, the draws and a scaling of the probabilities by `scale` run as the product's epilogue, on
 * each output block while it is in cache (ebm_k_sigbern_ep). */
static void sample_hidden(const ebm_rbm *m, ebm_mm *mm, const float *v, size_t n, uint64_t key, size_t row0,
                          float *prob, float *sample, float scale) {
    if (n == 0) return;
    ebm_sigbern e = {prob, m->n_hid, m->b, 1.0f, key, row0, 0, sample, m->n_hid, n, scale, scale};
    ebm_gemm_ep ep = {ebm_k_sigbern_ep, &e};
    ebm_mm_gemm_ep(mm, 0, 0, n, m->n_hid, m->n_vis, 1.0f, v, m->n_vis, m->W, m->n_hid, 0.0f, prob, m->n_hid, &ep);
}

static void sample_visible(const ebm_rbm *m, ebm_mm *mm, const float *h, size_t n, uint64_t key, size_t row0,
                           float *prob, float *sample) {
    if (n == 0) return;
    ebm_sigbern e = {prob, m->n_vis, m->a, 1.0f, key, row0, 0, sample, m->n_vis, n, 1.0f, 1.0f};
    ebm_gemm_ep ep = {ebm_k_sigbern_ep, &e};
    ebm_mm_gemm_ep(mm, 0, 1, n, m->n_vis, m->n_hid, 1.0f, h, m->n_hid, m->W, m->n_hid, 0.0f, prob, m->n_vis, &ep);
}

/* Sweep t >= 2 of the n chains' conditionals in fp32 with k > 2: the products updated by the flips since
 * sweep t - 1 (sweep 2 recomputes them, and takes W' for the update).  Otherwise the dense products. */
static int flips(const cd_ws *w) { return w->fl.vw && !ebm_mm_is_bf16(w->mm); }

static void sweep_hidden(cd_ws *w, size_t t, const float *v, size_t n, uint64_t key, size_t row0, float *prob,
                         float *sample, float scale) {
    const ebm_rbm *m = w->m;
    if (!flips(w) || t < 2) {
        sample_hidden(m, w->mm, v, n, key, row0, prob, sample, scale);
        return;
    }
    ebm_sigbern e = {prob, m->n_hid, m->b, 1.0f, key, row0, 0, sample, m->n_hid, n, scale, scale};
    ebm_gemm_ep ep = {ebm_k_sigbern_ep, &e};
    ebm_binmm_resize(w->fl.vw, n);
    ebm_binmm_step(w->fl.vw, t == 2, 1.0f, v, m->n_vis, m->W, m->n_hid, prob, m->n_hid, &ep);
}

static void sweep_visible(cd_ws *w, size_t t, const float *h, size_t n, uint64_t key, size_t row0, float *prob,
                          float *sample) {
    const ebm_rbm *m = w->m;
    size_t nv = m->n_vis, nh = m->n_hid;
    if (!flips(w) || t < 2) {
        sample_visible(m, w->mm, h, n, key, row0, prob, sample);
        return;
    }
    if (t == 2) ebm_transpose(m->W, nv, nh, w->fl.wt);
    ebm_sigbern e = {prob, nv, m->a, 1.0f, key, row0, 0, sample, nv, n, 1.0f, 1.0f};
    ebm_gemm_ep ep = {ebm_k_sigbern_ep, &e};
    ebm_binmm_resize(w->fl.hw, n);
    ebm_binmm_step(w->fl.hw, t == 2, 1.0f, h, nh, w->fl.wt, nv, prob, nv, &ep);
}

/* PCD chains start from data rows, binarised by one Bernoulli draw each, with h ~ p(h|v).  Every process
 * makes the same draws for all c_all chains and keeps its own. */
static void pcd_init(cd_ws *w, const ebm_mat *data, ebm_rng *rng) {
    size_t nv = w->m->n_vis;
    float *neg = negatives(w);
    uint64_t key = ebm_rng_u64(rng);
    for (size_t r = 0; r < w->c_all; r++) {
        const float *src = data->data + ebm_rng_below(rng, data->rows) * nv;
        if (r < w->c0 || r >= w->c0 + w->c) continue;
        float *v = neg + (r - w->c0) * nv;
        ebm_rng_fill_uniform(key, r, 0, v, nv);
        for (size_t j = 0; j < nv; j++) v[j] = v[j] < src[j] ? 1.0f : 0.0f;
    }
    sample_hidden(w->m, w->mm, neg, w->c, ebm_rng_u64(rng), w->c0, w->H2 + w->nmax * w->m->n_hid, w->h, 1.0f);
}

/* Runs the chains for the batch already stored in positives(w, n), leaves V2 and the scaled H2 ready for
 * the weight gradient and writes the bias gradients (ascent direction) into the tail of w->grad.
 * Returns the number of rows in the gradient and, in *recon, the summed squared reconstruction error
 * (CD) or NaN (PCD).  In a data-parallel run the batch is rows row0.. of the global batch and holds the
 * share `share` of its rows (the driver scales the gradient by it); one process: 0 and 1. */
static size_t batch_stats(cd_ws *w, size_t n, size_t row0, float share, ebm_rng *rng, double *recon) {
    const ebm_rbm *m = w->m;
    size_t nv = m->n_vis, nh = m->n_hid;
    float *pos = positives(w, n), *neg = negatives(w);
    float *hpos = w->H2 + (w->nmax - n) * nh, *hneg = w->H2 + w->nmax * nh;
    size_t nneg;
    *recon = NAN;

    /* Positive rows are scaled by 1/n and negative rows by -1/nneg as their probabilities are written (the
     * draws use them unscaled); the bias gradients are then column sums.  The chains of a data-parallel run
     * are a share c / c_all of all chains, not `share`: -1/(c_all share) makes their sum over the processes
     * the mean over all chains. */
    float sp = 1.0f / (float)n, sn;
    if (w->mode == EBM_CD) {
        nneg = n;
        sn = -1.0f / (float)nneg;
        sample_hidden(m, w->mm, pos, n, ebm_rng_u64(rng), row0, hpos, w->h, sp);
        for (size_t t = 1; t <= w->k; t++) {
            sweep_visible(w, t, w->h, n, ebm_rng_u64(rng), row0, w->pv, neg);
            if (t == 1) *recon = ebm_k_sqdiff(pos, w->pv, n * nv);
            if (t < w->k) sweep_hidden(w, t + 1, neg, n, ebm_rng_u64(rng), row0, hneg, w->h, 1.0f);
            else sweep_hidden(w, t + 1, neg, n, ebm_rng_u64(rng), row0, hneg, NULL, sn);
        }
    } else {
        nneg = w->c;
        for (size_t t = 1; t <= w->k; t++) {
            sweep_visible(w, t, w->h, nneg, ebm_rng_u64(rng), w->c0, w->pv, neg);
            if (t < w->k) sweep_hidden(w, t + 1, neg, nneg, ebm_rng_u64(rng), w->c0, hneg, w->h, 1.0f);
        }
        /* One GEMM gives the hidden pre-activations of the batch and of the chains; its epilogue turns the
         * batch's into probabilities and the chains' into probabilities and their next hidden state. */
        sn = -1.0f / ((float)w->c_all * share);
        ebm_sigbern e = {hpos, nh, m->b, 1.0f, ebm_rng_u64(rng), w->c0, n, w->h, nh, n, sp, sn};
        ebm_gemm_ep ep = {ebm_k_sigbern_ep, &e};
        ebm_mm_gemm_ep(w->mm, 0, 0, n + nneg, nh, nv, 1.0f, pos, nv, m->W, nh, 0.0f, hpos, nh, &ep);
    }

    size_t rows = n + nneg;
    float *ga = w->grad + nv * nh, *gb = ga + nv;
    for (size_t r = 0; r < rows; r++) w->coef[r] = r < n ? sp : sn;
    ebm_colsum(pos, rows, nv, w->coef, ga);
    for (size_t r = 0; r < rows; r++) w->coef[r] = 1.0f;
    ebm_colsum(hpos, rows, nh, w->coef, gb);
    return rows;
}

/* C (n_vis, n_hid) = alpha V2' H2 + beta C over the rows of the last batch_stats call; fp32 in every
 * precision (see the top of the file). */
static void weight_grad(const cd_ws *w, size_t n, size_t rows, float alpha, float beta, float *C,
                        const ebm_gemm_ep *ep) {
    size_t nv = w->m->n_vis, nh = w->m->n_hid;
    ebm_sgemm_ep(1, 0, nv, nh, rows, alpha, positives(w, n), nv, w->H2 + (w->nmax - n) * nh, nh, beta, C, nh, ep);
}

/* The weight update as the epilogue of the gradient GEMM, on each block of W while it is in cache: the GEMM
 * has left momentum vel + lr g in vel; then vel -= lr wd W, W += vel (apply_update's arithmetic, element
 * by element), and the bf16 copy of the new W for the next update's products (w16, or NULL in fp32). */
typedef struct {
    float *W, *vel;
    uint16_t *w16;
    size_t ld;
    float d;            /* lr * weight decay */
    _Atomic int bad;    /* a block found a non-finite parameter */
} update_ep;

static void update_block(void *ctx, size_t r0, size_t r1, size_t c0, size_t c1) {
    update_ep *e = ctx;
    const float d = e->d;
    float probe = 0.0f;
    for (size_t r = r0; r < r1; r++) {
        float *restrict p = e->W + r * e->ld, *restrict vel = e->vel + r * e->ld;
#pragma omp simd reduction(+ : probe)
        for (size_t i = c0; i < c1; i++) {
            float u = vel[i] - d * p[i];
            vel[i] = u;
            p[i] += u;
            probe += p[i] * 0.0f;
        }
        if (e->w16) ebm_k_to_bf16_row(p + c0, c1 - c0, e->w16 + r * e->ld + c0);
    }
    if (probe != 0.0f) atomic_store_explicit(&e->bad, 1, memory_order_relaxed);
}

/* vel = momentum vel + lr (scale g - wd W) (weight decay on W only); params += vel.  With g == NULL the
 * weight part of vel already holds momentum vel + lr g (from the gradient GEMM): with weights set, vel -=
 * lr wd W and W += vel here; without, the weights are already updated (update_block, in the GEMM's
 * epilogue).  The biases take their gradient from bias_g.  Returns false when a parameter it updated
 * became non-finite. */
static bool apply_update(ebm_rbm *m, const float *g, const float *bias_g, float *vel, float lr, float scale,
                         float momentum, float wd, int weights) {
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
    } else if (weights) {
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

/* The trainer: the model, the settings of its update, the work space and momentum (allocated by begin, once
 * per run), and the streams keys (seed, 0) for the Gibbs sweeps and init (seed, 2) for the PCD chains. */
typedef struct {
    ebm_rbm *m;
    ebm_cd_opts o;
    cd_ws w;
    bool have_ws;
    float *vel;         /* (n_params) momentum */
    ebm_rng keys;
    ebm_mm *mm;         /* the products' precision (NULL: fp32) */
    bool w16_fresh;     /* mm's bf16 copy of W was written by the last update (fused): no conversion needed */
    size_t rank, ranks; /* data-parallel: this process among ranks (0 of 1 alone) */
    float *all_v, *all_h; /* data-parallel PCD: (c_all, n_vis), (c_all, n_hid) all chains, for checkpoints */
} rbm_trainer;

static void rbm_shard(void *self, size_t rank, size_t ranks) {
    rbm_trainer *t = self;
    t->rank = rank;
    t->ranks = ranks;
}

static ebm_status rbm_begin(void *self, const ebm_mat *data, const int32_t *labels, size_t batch, uint64_t seed) {
    rbm_trainer *t = self;
    ebm_rbm *m = t->m;
    (void)labels;
    if (data->cols != m->n_vis)
        return ebm_fail(EBM_ESHAPE, "data has %zu columns but the RBM has %zu visible units", data->cols, m->n_vis);
    ebm_status s = ebm_mat_check_range(data, 0.0f, 1.0f, "training data for a Bernoulli RBM");
    if (s) return s;
    if (t->have_ws) ws_free(&t->w);
    ebm_free(t->vel);
    ebm_free(t->all_v);
    ebm_free(t->all_h);
    t->all_v = t->all_h = NULL;
    t->have_ws = false;
    /* PCD: this process's slice of all the chains */
    size_t c_all = t->o.chains ? t->o.chains : batch, ranks = t->ranks ? t->ranks : 1, c0 = 0, c1 = c_all;
    if (t->o.mode == EBM_PCD && ranks > 1) {
        if (c_all < ranks) return ebm_fail(EBM_EINVAL, "%zu persistent chains cannot be shared by %zu processes", c_all, ranks);
        ebm_shard_range(c_all, t->rank, ranks, &c0, &c1);
    }
    s = ws_alloc(&t->w, m, t->o.mode, t->o.k, batch, c1 - c0);
    if (s) return ebm_fail(s, "out of memory for training buffers");
    if (t->o.mode == EBM_PCD) {
        t->w.c0 = c0;
        t->w.c_all = c_all;
    }
    t->have_ws = true;
    t->w16_fresh = false;
    t->w.mm = t->mm;
    t->vel = ebm_calloc(m->n_params, sizeof(float));
    if (!t->vel) return ebm_fail(EBM_ENOMEM, "out of memory for training buffers");
    if (t->o.mode == EBM_PCD && ranks > 1) {
        t->all_v = ebm_calloc(c_all, m->n_vis * sizeof(float));
        t->all_h = ebm_calloc(c_all, m->n_hid * sizeof(float));
        if (!t->all_v || !t->all_h) return ebm_fail(EBM_ENOMEM, "out of memory for training buffers");
    }
    ebm_rng init;
    ebm_rng_seed(&t->keys, seed, 0);
    ebm_rng_seed(&init, seed, 2);
    s = ebm_mm_set_weights(t->mm, m->W, m->n_vis, m->n_hid);
    if (s) return s;
    if (t->o.mode == EBM_PCD) pcd_init(&t->w, data, &init);
    return EBM_OK;
}

static ebm_status rbm_step(void *self, float *x, const size_t *rows_idx, size_t n, const ebm_step_ctx *c,
                           ebm_figures *fig) {
    rbm_trainer *t = self;
    ebm_rbm *m = t->m;
    const ebm_cd_opts *o = &t->o;
    cd_ws *w = &t->w;
    size_t nv = m->n_vis;
    (void)rows_idx;
    memcpy(positives(w, n), x, n * nv * sizeof(float));
    /* W's bf16 copy, unless the last update wrote it with W (a failed update ends the run, and a roll-back
     * or resume changes W only after one, or before the first step: load_state clears the flag) */
    if (!t->w16_fresh) {
        ebm_status ms = ebm_mm_set_weights(t->mm, m->W, nv, m->n_hid);
        if (ms) return ms;
    }
    t->w16_fresh = false;
    double recon;
    size_t rows = batch_stats(w, n, c->row0, c->share, &t->keys, &recon);
    if (o->mode == EBM_CD) fig->recon = recon / ((double)n * (double)nv);
    float lr = (float)c->lr, scale = 1.0f;
    bool finite;
    if (o->grad_clip > 0 || c->allreduce) {
        weight_grad(w, n, rows, 1.0f, 0.0f, w->grad, NULL);
        if (c->allreduce) {
            ebm_status s = c->allreduce(w->grad, m->n_params, c->allreduce_user);
            if (s) return s;
        }
        /* the norm only where one process measures it too (with clipping), so that the figures, and the
         * running means a checkpoint holds, are one process's */
        if (o->grad_clip > 0) {
            double norm = sqrt(ebm_k_sumsq(w->grad, m->n_params));
            fig->grad_norm = norm;
            if (norm > o->grad_clip) scale = (float)(o->grad_clip / norm);
        }
        finite = apply_update(m, w->grad, w->grad, t->vel, lr, scale, o->momentum, o->weight_decay, 1);
    } else {
        /* vel_W = momentum vel_W + lr V2' H2 in the GEMM itself, the update of W and its bf16 copy in the
         * GEMM's epilogue: no separate pass over W; then the biases */
        update_ep e = {m->W, t->vel, ebm_mm_weights_buffer(t->mm, m->W, nv, m->n_hid), m->n_hid, lr * o->weight_decay, 0};
        ebm_gemm_ep ep = {update_block, &e};
        /* fused only where it saves the bf16 conversion pass: in fp32 the epilogue measured ~5% slower per
         * epoch than one flat pass after the GEMM (docs/benchmarks.md) */
        weight_grad(w, n, rows, lr, o->momentum, t->vel, e.w16 ? &ep : NULL);
        finite = apply_update(m, NULL, w->grad, t->vel, lr, 1.0f, o->momentum, o->weight_decay, !e.w16) &&
                 !atomic_load_explicit(&e.bad, memory_order_relaxed);
        t->w16_fresh = finite && e.w16;
    }
    if (!finite) {
        ebm_status s = ebm_rbm_check_finite(m); /* names the parameter */
        return s ? s : ebm_fail(EBM_ENAN, "a parameter went non-finite");
    }
    return EBM_OK;
}

static float *rbm_params(void *self, size_t block, size_t *n) {
    rbm_trainer *t = self;
    if (block > 0) return NULL;
    *n = t->m->n_params;
    return t->m->params;
}

static ebm_status rbm_check(void *self) { return ebm_rbm_check_finite(((rbm_trainer *)self)->m); }

static const char *const cd_mode_names[] = {"cd", "pcd"};

static ebm_status rbm_describe(void *self, ebm_meta *mt) {
    const rbm_trainer *t = self;
    const ebm_cd_opts *o = &t->o;
    ebm_status s = ebm_meta_setf(mt, "ebm.train.method", "%s-%zu", cd_mode_names[o->mode], o->k);
    if (!s && o->mode == EBM_PCD) s = ebm_meta_setf(mt, "ebm.train.chains", "%zu", o->chains ? o->chains : o->batch);
    if (!s) s = ebm_meta_setf(mt, "ebm.train.momentum", "%g", (double)o->momentum);
    if (!s) s = ebm_meta_setf(mt, "ebm.train.weight_decay", "%g", (double)o->weight_decay);
    if (!s) s = ebm_meta_setf(mt, "ebm.train.grad_clip", "%g", (double)o->grad_clip);
    if (!s) s = ebm_meta_setf(mt, "ebm.train.precision", "%s", ebm_mm_is_bf16(t->mm) ? "bf16" : "fp32");
    return s;
}

/* Data-parallel PCD, before a checkpoint: every process's chains into all_v and all_h, in global order. */
static ebm_status rbm_gather(void *self, const ebm_step_ctx *c) {
    rbm_trainer *t = self;
    if (!t->all_v) return EBM_OK;
    size_t nv = t->m->n_vis, nh = t->m->n_hid, c0 = t->w.c0, c1 = c0 + t->w.c, ca = t->w.c_all;
    memcpy(t->all_v + c0 * nv, negatives(&t->w), t->w.c * nv * sizeof(float));
    memcpy(t->all_h + c0 * nh, t->w.h, t->w.c * nh * sizeof(float));
    ebm_status s = ebm_step_gather(c, t->all_v, c0, c1, ca, nv);
    return s ? s : ebm_step_gather(c, t->all_h, c0, c1, ca, nh);
}

/* State for resuming: the momentum, the persistent chains with their hidden state (all of them, gathered, in a
 * data-parallel run: the same tensors as one process's), and the key stream. */
static ebm_status rbm_save_state(void *self, ebm_tensors *out) {
    rbm_trainer *t = self;
    if (!t->vel) return ebm_fail(EBM_EINVAL, "the RBM trainer has not begun");
    size_t np[1] = {t->m->n_params}, cv[2] = {t->w.c_all, t->m->n_vis}, ch[2] = {t->w.c_all, t->m->n_hid};
    ebm_status s = ebm_tensors_put(out, "train.velocity", EBM_F32, 1, np, t->vel);
    if (!s) s = ebm_state_put_rng(out, "train.rng.keys", &t->keys);
    if (!s && t->o.mode == EBM_PCD)
        s = ebm_tensors_put(out, "train.chains.v", EBM_F32, 2, cv, t->all_v ? t->all_v : negatives(&t->w));
    if (!s && t->o.mode == EBM_PCD) s = ebm_tensors_put(out, "train.chains.h", EBM_F32, 2, ch, t->all_h ? t->all_h : t->w.h);
    return s;
}

/* The chains this process holds (c0 .. c0 + c - 1) of all of them in the checkpoint. */
static ebm_status rbm_load_state(void *self, const ebm_tensors *in) {
    rbm_trainer *t = self;
    if (!t->vel) return ebm_fail(EBM_EINVAL, "the RBM trainer has not begun");
    t->w16_fresh = false; /* the run loop may have restored W as well */
    size_t nv = t->m->n_vis, nh = t->m->n_hid, c0 = t->w.c0, c = t->w.c, ca = t->w.c_all;
    ebm_status s = ebm_state_get_f32(in, "train.velocity", t->vel, t->m->n_params);
    if (!s) s = ebm_state_get_rng(in, "train.rng.keys", &t->keys);
    if (!s && t->o.mode == EBM_PCD) s = ebm_state_get_f32_rows(in, "train.chains.v", ca, nv, c0, c, negatives(&t->w));
    if (!s && t->o.mode == EBM_PCD) s = ebm_state_get_f32_rows(in, "train.chains.h", ca, nh, c0, c, t->w.h);
    return s;
}

static void rbm_destroy(void *self) {
    rbm_trainer *t = self;
    if (!t) return;
    if (t->have_ws) ws_free(&t->w);
    ebm_free(t->vel);
    ebm_free(t->all_v);
    ebm_free(t->all_h);
    ebm_mm_free(t->mm);
    free(t);
}

static const ebm_trainer_ops rbm_ops = {
    .name = "rbm-cd",
    .begin = rbm_begin,
    .step = rbm_step,
    .params = rbm_params,
    .check = rbm_check,
    .checks_finite = 1,
    .describe = rbm_describe,
    .save_state = rbm_save_state,
    .load_state = rbm_load_state,
    .destroy = rbm_destroy,
    .shard = rbm_shard,
    .gather = rbm_gather,
};

ebm_status ebm_rbm_trainer_new(ebm_rbm *m, const ebm_cd_opts *o, ebm_trainer **out) {
    *out = NULL;
    ebm_status s = check_opts(o);
    if (s) return s;
    rbm_trainer *t = calloc(1, sizeof *t);
    if (!t) return ebm_fail(EBM_ENOMEM, "out of memory for a trainer");
    t->m = m;
    t->o = *o;
    s = ebm_mm_new(o->precision, 0, &t->mm);
    if (s) {
        free(t);
        return s;
    }
    return ebm_trainer_new(&rbm_ops, t, out);
}

void ebm_cd_run_opts(const ebm_cd_opts *o, ebm_run_opts *r) {
    ebm_run_opts_default(r);
    r->epochs = o->epochs;
    r->batch = o->batch;
    r->shuffle = o->shuffle;
    r->seed = o->seed;
    r->shuffle_stream = 1;
    r->lr = o->lr;
    if (o->lr_final >= 0) {
        r->schedule = EBM_LR_LINEAR;
        r->lr_final = o->lr_final;
    }
    r->rollback = EBM_ROLLBACK_EPOCH;
}

/* ebm_rbm_train's callbacks in the form of ebm_run's. */
typedef struct {
    const ebm_cd_opts *o;
} cd_cb;

static int cd_on_step(const ebm_run_progress *p, void *user) {
    const ebm_cd_opts *o = ((cd_cb *)user)->o;
    return ebm_run_call_progress(o->on_batch, o->user, p, p->mean.recon);
}

static int cd_on_epoch(const ebm_run_progress *p, void *user) {
    const ebm_cd_opts *o = ((cd_cb *)user)->o;
    return ebm_run_call_progress(o->on_epoch, o->user, p, p->mean.recon);
}

ebm_status ebm_rbm_train(ebm_rbm *m, const ebm_mat *data, const ebm_cd_opts *o) {
    ebm_trainer *t;
    ebm_status s = ebm_rbm_trainer_new(m, o, &t);
    if (s) return s;
    ebm_run_opts r;
    ebm_cd_run_opts(o, &r);
    cd_cb cb = {o};
    r.on_step = cd_on_step;
    r.on_epoch = cd_on_epoch;
    r.user = &cb;
    s = ebm_run(t, data, NULL, &r, NULL);
    ebm_trainer_free(t);
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
    size_t rows = batch_stats(&w, n, 0, 1.0f, rng, &recon);
    weight_grad(&w, n, rows, 1.0f, 0.0f, w.grad, NULL);
    memcpy(grad, w.grad, m->n_params * sizeof(float));
    ws_free(&w);
    return EBM_OK;
}
