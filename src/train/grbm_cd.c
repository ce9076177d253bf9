/* Training of a Gaussian-Bernoulli RBM by contrastive divergence as in Liao et al. (2022), "Gaussian-
 * Bernoulli RBMs without tears", Algorithm 1 and section 4: the gradient of the mean negative
 * log-likelihood is E_data[dF/dtheta] - E_model[dF/dtheta] (eq. 5, written with the free energy F of eq. 4);
 * the model term averages the states of k steps of any of the samplers (Gibbs, Langevin, Gibbs-Langevin)
 * run on negative chains that start from N(0, I) noise at every update (the paper's "CD from noise",
 * which is what lets the trained model generate from noise), from the data (classic CD) or persist
 * across updates (PCD, Tieleman 2008).  As in the paper's code, all chain states from step burn_in on
 * enter the average, the whole gradient's L2 norm is clipped (10 in the paper), and the learning rate
 * follows a cosine decay over the epochs (SGD, lr 0.01, no momentum, no weight decay by default).  We
 * use p(h | v) instead of sampled h in both phases (the Rao-Blackwellised form of the same expectation).
 * log sigma^2 is clamped to its bounds after every update.
 *
 * The gradient of an update is one sum over the batch and every recorded chain state (grbm_gacc): the rows
 * are gathered and W's part is one product over all of them (up to GACC_ROWS rows at a time), and the chain
 * states' hidden pre-activations come from the sampler when it has them, so an update makes two products per
 * chain step (the sampler's) plus one for the gradient, where it made five.
 *
 * Data-parallel runs (ebm_run over several processes): a process holds a slice of each batch and a slice of
 * the negative chains; every chain draws from the streams of its index among all chains (and chains that
 * start from the data take their row of the whole batch, gathered), so the processes together draw exactly
 * what one process draws. */
#include "models/grbm_internal.h"
#include "train/train_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GACC_ROWS 2048

void ebm_grbm_train_opts_default(ebm_grbm_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->neg_init = EBM_GRBM_NEG_NOISE;
    o->k = 10;
    o->burn_in = EBM_BURN_IN_HALF;
    o->epochs = 10;
    o->batch = 100;
    o->chains = 0;
    o->lr = 0.01f;
    o->cosine = 1;
    o->momentum = 0.0f;
    o->weight_decay = 0.0f;
    o->grad_clip = 10.0f;
    o->shuffle = 1;
    o->seed = 1;
    ebm_grbm_sample_opts_default(&o->sampler);
}

static ebm_status check_opts(const ebm_grbm_train_opts *o) {
    if ((unsigned)o->neg_init > EBM_GRBM_NEG_PERSISTENT) return ebm_fail(EBM_EINVAL, "unknown negative-chain start %d", (int)o->neg_init);
    if (o->k < 1 || o->k > 100000) return ebm_fail(EBM_EINVAL, "k (sampler steps per update) must be in 1..100000");
    if (o->burn_in != EBM_BURN_IN_HALF && o->burn_in >= o->k)
        return ebm_fail(EBM_EINVAL, "burn-in (%zu) must be below k (%zu)", o->burn_in, o->k);
    if (o->epochs < 1) return ebm_fail(EBM_EINVAL, "epochs must be at least 1");
    if (o->batch < 1 || o->batch > (1u << 24)) return ebm_fail(EBM_EINVAL, "batch size must be in 1..16777216");
    if (o->chains > (1u << 24)) return ebm_fail(EBM_EINVAL, "at most 16777216 negative chains");
    if (!(o->lr > 0) || !isfinite(o->lr)) return ebm_fail(EBM_EINVAL, "learning rate must be positive, got %g", o->lr);
    if (!(o->momentum >= 0 && o->momentum < 1)) return ebm_fail(EBM_EINVAL, "momentum must lie in [0, 1), got %g", o->momentum);
    if (!(o->weight_decay >= 0) || !isfinite(o->weight_decay)) return ebm_fail(EBM_EINVAL, "weight decay must be >= 0");
    if (!(o->grad_clip >= 0) || !isfinite(o->grad_clip)) return ebm_fail(EBM_EINVAL, "gradient clip must be >= 0");
    return grbm_sample_opts_check(&o->sampler);
}

ebm_status ebm_grbm_recon_error(const ebm_grbm *m, const float *v, size_t n, double *mse) {
    if (n == 0) return ebm_fail(EBM_EINVAL, "reconstruction error of an empty data set");
    float *ph = ebm_calloc(n, m->n_hid * sizeof(float)), *mv = ebm_calloc(n, m->n_vis * sizeof(float));
    ebm_status s = ph && mv ? EBM_OK : ebm_fail(EBM_ENOMEM, "out of memory");
    if (!s) s = ebm_grbm_hidden_probs(m, v, n, 1.0f, ph);
    if (!s) s = ebm_grbm_visible_mean(m, ph, n, mv);
    if (!s) *mse = ebm_k_sqdiff(v, mv, n * m->n_vis) / ((double)n * (double)m->n_vis);
    ebm_free(ph);
    ebm_free(mv);
    return s;
}

/* The trainer: the model, the settings of its update, the work space and momentum (allocated by begin, once
 * per run), the negative chains, and the streams keys (seed, 20) for the chains' draws and init (seed, 22)
 * for the persistent chains' start (the shuffle is the driver's, stream 21). */
typedef struct {
    ebm_grbm *m;
    ebm_grbm_train_opts o;
    float *grad, *vel;  /* (n_params) descent direction, momentum */
    float *wpos, *wneg; /* (batch) weights of the data rows, (c) of the chain states */
    size_t c;           /* negative chains held here */
    size_t c0, c_all;   /* the index of the first of them among all processes' c_all chains */
    size_t rank, ranks; /* data-parallel: this process among ranks (0 of 1 alone) */
    float *xall;        /* data-parallel chains from the data: (batch, n_vis) the whole batch, gathered */
    float *all_v, *all_h; /* data-parallel PCD: (c_all, n_vis), (c_all, n_hid) all chains, for checkpoints */
    ebm_grbm_chains *ch;
    grbm_gacc acc;      /* the update's gradient: the batch and the chain states, one W product */
    ebm_rng keys;
    double lr;          /* the last step's learning rate (for ebm_grbm_train's divergence message) */
} grbm_trainer;

static void release(grbm_trainer *t) {
    ebm_grbm_chains_free(t->ch);
    grbm_gacc_free(&t->acc);
    ebm_free(t->grad);
    ebm_free(t->vel);
    ebm_free(t->wpos);
    ebm_free(t->wneg);
    ebm_free(t->xall);
    ebm_free(t->all_v);
    ebm_free(t->all_h);
    t->ch = NULL;
    t->grad = t->vel = t->wpos = t->wneg = t->xall = t->all_v = t->all_h = NULL;
}

static void grbm_shard(void *self, size_t rank, size_t ranks) {
    grbm_trainer *t = self;
    t->rank = rank;
    t->ranks = ranks;
}

static ebm_status grbm_begin(void *self, const ebm_mat *data, const int32_t *labels, size_t batch, uint64_t seed) {
    grbm_trainer *t = self;
    ebm_grbm *m = t->m;
    const ebm_grbm_train_opts *o = &t->o;
    (void)labels;
    if (data->cols != m->n_vis)
        return ebm_fail(EBM_ESHAPE, "data has %zu columns but the GRBM has %zu visible units", data->cols, m->n_vis);
    size_t bad;
    if (!ebm_k_all_finite(data->data, data->rows * data->cols, &bad))
        return ebm_fail(EBM_EINVAL, "training data value %zu (row %zu) is not finite", bad, bad / data->cols);
    release(t);
    /* this process's slice of all the chains */
    size_t c_all = o->neg_init == EBM_GRBM_NEG_DATA || !o->chains ? batch : o->chains, c0 = 0, c1 = c_all;
    size_t ranks = t->ranks ? t->ranks : 1;
    if (ranks > 1) {
        if (c_all < ranks) return ebm_fail(EBM_EINVAL, "%zu negative chains cannot be shared by %zu processes", c_all, ranks);
        ebm_shard_range(c_all, t->rank, ranks, &c0, &c1);
    }
    t->c = c1 - c0;
    t->c0 = c0;
    t->c_all = c_all;
    size_t np = m->n_params;
    t->grad = ebm_calloc(np, sizeof(float));
    t->vel = ebm_calloc(np, sizeof(float));
    t->wpos = ebm_calloc(batch, sizeof(float));
    t->wneg = ebm_calloc(t->c, sizeof(float));
    bool pcd_dp = ranks > 1 && o->neg_init == EBM_GRBM_NEG_PERSISTENT;
    if (ranks > 1 && o->neg_init == EBM_GRBM_NEG_DATA) t->xall = ebm_calloc(batch, m->n_vis * sizeof(float));
    if (pcd_dp) {
        t->all_v = ebm_calloc(c_all, m->n_vis * sizeof(float));
        t->all_h = ebm_calloc(c_all, m->n_hid * sizeof(float));
    }
    if (!t->grad || !t->vel || !t->wpos || !t->wneg || (ranks > 1 && o->neg_init == EBM_GRBM_NEG_DATA && !t->xall) ||
        (pcd_dp && (!t->all_v || !t->all_h)))
        return ebm_fail(EBM_ENOMEM, "out of memory for training buffers");
    /* room for the batch and all recorded chain states of an update (one W product), within ~2,048 rows */
    size_t rec = o->k - o->burn_in, all = batch + rec * t->c, cap = all < GACC_ROWS ? all : GACC_ROWS;
    if (cap < batch) cap = batch;
    if (cap < t->c) cap = t->c;
    ebm_status s = grbm_gacc_new(m, cap, &t->acc);
    if (!s) s = ebm_grbm_chains_new(m, t->c, &t->ch);
    if (!s) s = grbm_chains_prepare(t->ch, &o->sampler);
    if (s) return s;
    grbm_chains_set_first(t->ch, c0);
    ebm_rng init;
    ebm_rng_seed(&t->keys, seed, 20);
    ebm_rng_seed(&init, seed, 22);
    if (o->neg_init == EBM_GRBM_NEG_PERSISTENT) ebm_grbm_chains_init_noise(t->ch, 1.0f, &init);
    for (size_t r = 0; r < t->c; r++) t->wneg[r] = -1.0f / ((float)t->c * (float)rec);
    return EBM_OK;
}

static ebm_status grbm_step(void *self, float *x, const size_t *rows, size_t n, const ebm_step_ctx *ctx,
                            ebm_figures *fig) {
    grbm_trainer *t = self;
    ebm_grbm *m = t->m;
    const ebm_grbm_train_opts *o = &t->o;
    size_t nv = m->n_vis, np = m->n_params, nw = nv * m->n_hid, c = t->c;
    float *grad = t->grad, *vel = t->vel, lr = (float)ctx->lr;
    (void)rows;
    t->lr = lr;
    for (size_t r = 0; r < n; r++) t->wpos[r] = 1.0f / (float)n;
    memset(grad, 0, np * sizeof(float));
    grbm_gacc *acc = &t->acc;
    grbm_gacc_add(m, acc, x, NULL, n, t->wpos);
    if (o->neg_init == EBM_GRBM_NEG_NOISE) {
        ebm_grbm_chains_init_noise(t->ch, 1.0f, &t->keys);
    } else if (o->neg_init == EBM_GRBM_NEG_DATA && ctx->ranks > 1) {
        /* chain c0 + r starts at row (c0 + r) mod n_global of the whole batch, which another process may hold */
        size_t N = ctx->n_global;
        memcpy(t->xall + ctx->row0 * nv, x, n * nv * sizeof(float));
        ebm_status s = ebm_step_gather(ctx, t->xall, ctx->row0, ctx->row0 + n, N, nv);
        if (s) return s;
        float *cv = ebm_grbm_chains_visible(t->ch);
        for (size_t r = 0; r < c; r++) memcpy(cv + r * nv, t->xall + ((t->c0 + r) % N) * nv, nv * sizeof(float));
    } else if (o->neg_init == EBM_GRBM_NEG_DATA) {
        float *cv = ebm_grbm_chains_visible(t->ch);
        for (size_t r = 0; r < c; r++) memcpy(cv + r * nv, x + (r % n) * nv, nv * sizeof(float));
    }
    if (ctx->ranks > 1) {
        /* the chains are a share c / c_all of all chains, not ctx->share: -1 / (c_all rec share) makes their
         * sum over the processes (which scale by share) the mean over all chains */
        float w = -1.0f / ((float)t->c_all * (float)(o->k - o->burn_in) * ctx->share);
        for (size_t r = 0; r < c; r++) t->wneg[r] = w;
    }
    for (size_t s = 0; s < o->k; s++) {
        ebm_status st = grbm_chains_step(t->ch, &o->sampler, s, o->k, &t->keys);
        if (st) return st;
        if (s < o->burn_in) continue;
        if (acc->n + c > acc->cap) grbm_gacc_finish(m, acc, grad);
        grbm_gacc_add(m, acc, grbm_chains_v(t->ch), grbm_chains_pre(t->ch), c, t->wneg);
    }
    grbm_gacc_finish(m, acc, grad);
    /* grad is now the descent direction E_data[dF] - E_model[dF] */
    if (ctx->allreduce) {
        ebm_status s = ctx->allreduce(grad, np, ctx->allreduce_user);
        if (s) return s;
    }
    float scale = 1.0f;
    if (o->grad_clip > 0) {
        double norm = sqrt(ebm_k_sumsq(grad, np));
        fig->grad_norm = norm;
        if (norm > o->grad_clip) scale = (float)(o->grad_clip / norm);
    }
    float probe = 0.0f; /* NaN or Inf when any updated parameter is */
    for (size_t i = 0; i < np; i++) {
        float g = scale * grad[i] + (i < nw ? o->weight_decay * m->params[i] : 0.0f);
        vel[i] = o->momentum * vel[i] - lr * g;
        m->params[i] += vel[i];
        probe += m->params[i] * 0.0f;
    }
    grbm_clamp_logvar(m);
    if (probe != 0.0f) {
        /* the check's message names the parameter at fault */
        return ebm_grbm_check_finite(m) ? EBM_ENAN : ebm_fail(EBM_ENAN, "an update was not finite");
    }
    double mse;
    if (ctx->last_in_epoch) fig->recon = ebm_grbm_recon_error(m, x, n, &mse) ? NAN : mse;
    return EBM_OK;
}

static float *grbm_params(void *self, size_t block, size_t *n) {
    grbm_trainer *t = self;
    if (block > 0) return NULL;
    *n = t->m->n_params;
    return t->m->params;
}

static ebm_status grbm_check(void *self) { return ebm_grbm_check_finite(((grbm_trainer *)self)->m); }

static const char *const neg_names[] = {"noise", "data", "persistent"};

static ebm_status grbm_describe(void *self, ebm_meta *mt) {
    const ebm_grbm_train_opts *o = &((grbm_trainer *)self)->o;
    const ebm_grbm_sample_opts *so = &o->sampler;
    ebm_status s = ebm_meta_setf(mt, "ebm.train.method", "%s-%zu", o->neg_init == EBM_GRBM_NEG_PERSISTENT ? "pcd" : "cd", o->k);
    if (!s) s = ebm_meta_set(mt, "ebm.train.neg_init", neg_names[o->neg_init]);
    if (!s) s = ebm_meta_setf(mt, "ebm.train.burn_in", "%zu", o->burn_in);
    if (!s) s = ebm_meta_set(mt, "ebm.train.sampler", ebm_grbm_sampler_name(so->sampler));
    if (!s) s = ebm_meta_setf(mt, "ebm.train.mh", "%d", so->mh ? 1 : 0);
    if (!s) s = ebm_meta_setf(mt, "ebm.train.eta", "%g", (double)so->eta);
    if (!s) s = ebm_meta_setf(mt, "ebm.train.langevin_steps", "%zu", so->langevin_steps);
    if (!s) s = ebm_meta_setf(mt, "ebm.train.anneal", "%d", so->anneal);
    if (!s) s = ebm_meta_set(mt, "ebm.train.lr_schedule", o->cosine ? "cosine" : "constant");
    if (!s) s = ebm_meta_setf(mt, "ebm.train.momentum", "%g", (double)o->momentum);
    if (!s) s = ebm_meta_setf(mt, "ebm.train.weight_decay", "%g", (double)o->weight_decay);
    if (!s) s = ebm_meta_setf(mt, "ebm.train.grad_clip", "%g", (double)o->grad_clip);
    ebm_precision p = EBM_PRECISION_FP32; /* what auto became (the options were checked) */
    if (!s) (void)ebm_precision_resolve(so->precision, &p);
    if (!s) s = ebm_meta_set(mt, "ebm.train.precision", ebm_precision_name(p));
    /* the defaults of `ebm sample`: the sampler the model was trained with, for as many steps */
    if (!s) s = ebm_meta_set(mt, "ebm.sample.sampler", ebm_grbm_sampler_name(so->sampler));
    if (!s) s = ebm_meta_setf(mt, "ebm.sample.steps", "%zu", o->k);
    if (!s) s = ebm_meta_setf(mt, "ebm.sample.eta", "%g", (double)so->eta);
    if (!s) s = ebm_meta_setf(mt, "ebm.sample.langevin_steps", "%zu", so->langevin_steps);
    if (!s) s = ebm_meta_setf(mt, "ebm.sample.mh", "%d", so->mh);
    return s;
}

/* Data-parallel PCD, before a checkpoint: every process's chains into all_v and all_h, in global order (the
 * flag h_valid is the same on every process: every process's chains took the same steps). */
static ebm_status grbm_gather(void *self, const ebm_step_ctx *c) {
    grbm_trainer *t = self;
    if (!t->all_v) return EBM_OK;
    size_t nv = t->m->n_vis, nh = t->m->n_hid, c0 = t->c0, c1 = c0 + t->c;
    memcpy(t->all_v + c0 * nv, grbm_chains_v(t->ch), t->c * nv * sizeof(float));
    memcpy(t->all_h + c0 * nh, ebm_grbm_chains_hidden(t->ch), t->c * nh * sizeof(float));
    ebm_status s = ebm_step_gather(c, t->all_v, c0, c1, t->c_all, nv);
    return s ? s : ebm_step_gather(c, t->all_h, c0, c1, t->c_all, nh);
}

/* State for resuming: the momentum, the key stream and the persistent chains' visible and hidden states (all of
 * them, gathered, in a data-parallel run: the same tensors as one process's), with whether the hidden states
 * are v's joint state (Gibbs-Langevin carries h from one update to the next). */
static ebm_status grbm_save_state(void *self, ebm_tensors *out) {
    grbm_trainer *t = self;
    if (!t->vel) return ebm_fail(EBM_EINVAL, "the GRBM trainer has not begun");
    size_t np[1] = {t->m->n_params}, cv[2] = {t->c_all, t->m->n_vis};
    ebm_status s = ebm_tensors_put(out, "train.velocity", EBM_F32, 1, np, t->vel);
    if (!s) s = ebm_state_put_rng(out, "train.rng.keys", &t->keys);
    if (!s && t->o.neg_init == EBM_GRBM_NEG_PERSISTENT)
        s = ebm_tensors_put(out, "train.chains.v", EBM_F32, 2, cv, t->all_v ? t->all_v : grbm_chains_v(t->ch));
    size_t ch[2] = {t->c_all, t->m->n_hid}, one[1] = {1};
    uint8_t valid = (uint8_t)grbm_chains_h_valid(t->ch);
    if (!s && t->o.neg_init == EBM_GRBM_NEG_PERSISTENT)
        s = ebm_tensors_put(out, "train.chains.h", EBM_F32, 2, ch, t->all_h ? t->all_h : ebm_grbm_chains_hidden(t->ch));
    if (!s && t->o.neg_init == EBM_GRBM_NEG_PERSISTENT) s = ebm_tensors_put(out, "train.chains.h_valid", EBM_U8, 1, one, &valid);
    return s;
}

static ebm_status grbm_load_state(void *self, const ebm_tensors *in) {
    grbm_trainer *t = self;
    if (!t->vel) return ebm_fail(EBM_EINVAL, "the GRBM trainer has not begun");
    ebm_status s = ebm_state_get_f32(in, "train.velocity", t->vel, t->m->n_params);
    if (!s) s = ebm_state_get_rng(in, "train.rng.keys", &t->keys);
    if (s || t->o.neg_init != EBM_GRBM_NEG_PERSISTENT) return s;
    size_t nv = t->c * t->m->n_vis, nh = t->c * t->m->n_hid;
    float *v = ebm_calloc(nv + nh, sizeof(float));
    if (!v) return ebm_fail(EBM_ENOMEM, "out of memory");
    /* this process's chains of all of them */
    s = ebm_state_get_f32_rows(in, "train.chains.v", t->c_all, t->m->n_vis, t->c0, t->c, v);
    if (!s) s = ebm_state_get_f32_rows(in, "train.chains.h", t->c_all, t->m->n_hid, t->c0, t->c, v + nv);
    const ebm_array *a = s ? NULL : ebm_tensors_get(in, "train.chains.h_valid");
    if (!s && (!a || a->dtype != EBM_U8 || ebm_array_numel(a) != 1))
        s = ebm_fail(EBM_EFORMAT, "training state: no u8 tensor 'train.chains.h_valid'");
    if (!s) grbm_chains_restore(t->ch, v, v + nv, *(const uint8_t *)a->data != 0);
    ebm_free(v);
    return s;
}

static void grbm_destroy(void *self) {
    if (!self) return;
    release(self);
    free(self);
}

static const ebm_trainer_ops grbm_ops = {
    .name = "grbm-cd",
    .begin = grbm_begin,
    .step = grbm_step,
    .params = grbm_params,
    .check = grbm_check,
    .checks_finite = 1,
    .describe = grbm_describe,
    .save_state = grbm_save_state,
    .load_state = grbm_load_state,
    .destroy = grbm_destroy,
    .shard = grbm_shard,
    .gather = grbm_gather,
};

ebm_status ebm_grbm_trainer_new(ebm_grbm *m, const ebm_grbm_train_opts *o, ebm_trainer **out) {
    *out = NULL;
    ebm_status s = check_opts(o);
    if (s) return s;
    grbm_trainer *t = calloc(1, sizeof *t);
    if (!t) return ebm_fail(EBM_ENOMEM, "out of memory for a trainer");
    t->m = m;
    t->o = *o;
    /* the later half of each chain by default: from noise, averaging all k states (the paper's code) gave
     * samples of FD-FMNIST 62.5 (Gibbs) and 28.7 (Gibbs-Langevin + MH) at 1,024 hidden units and 30 epochs, the
     * later half 17.9 and 20.4 (docs/results.md, scripts/grbm_recipes.sh) */
    if (t->o.burn_in == EBM_BURN_IN_HALF) t->o.burn_in = t->o.k / 2;
    return ebm_trainer_new(&grbm_ops, t, out);
}

void ebm_grbm_run_opts(const ebm_grbm_train_opts *o, ebm_run_opts *r) {
    ebm_run_opts_default(r);
    r->epochs = o->epochs;
    r->batch = o->batch;
    r->shuffle = o->shuffle;
    r->seed = o->seed;
    r->shuffle_stream = 21;
    r->lr = o->lr;
    r->schedule = o->cosine ? EBM_LR_COSINE : EBM_LR_CONSTANT;
    r->rollback = EBM_ROLLBACK_EPOCH;
}

/* ebm_grbm_train's callbacks in the form of ebm_run's; recon is the figure of the last epoch's last batch
 * (0 before the first), as the old loop reported it. */
typedef struct {
    const ebm_grbm_train_opts *o;
    double recon;
} grbm_cb;

static int forward(const ebm_run_progress *p, grbm_cb *cb, ebm_progress_fn fn) {
    if (!isnan(p->last.recon)) cb->recon = p->last.recon;
    return ebm_run_call_progress(fn, cb->o->user, p, cb->recon);
}

static int cb_step(const ebm_run_progress *p, void *user) { return forward(p, user, ((grbm_cb *)user)->o->on_batch); }
static int cb_epoch(const ebm_run_progress *p, void *user) { return forward(p, user, ((grbm_cb *)user)->o->on_epoch); }

ebm_status ebm_grbm_train(ebm_grbm *m, const ebm_mat *data, const ebm_grbm_train_opts *o) {
    ebm_trainer *t;
    ebm_status s = ebm_grbm_trainer_new(m, o, &t);
    if (s) return s;
    ebm_run_opts r;
    ebm_grbm_run_opts(o, &r);
    grbm_cb cb = {o, 0.0};
    r.on_step = cb_step;
    r.on_epoch = cb_epoch;
    r.user = &cb;
    s = ebm_run(t, data, NULL, &r, NULL);
    if (s == EBM_ENAN) {
        char what[1024];
        snprintf(what, sizeof what, "%s", ebm_last_error());
        double lr = ((grbm_trainer *)ebm_trainer_self(t))->lr;
        s = ebm_fail(EBM_ENAN, "%s; try a smaller learning rate (now %g) or step size", what, lr);
    }
    ebm_trainer_free(t);
    return s;
}
