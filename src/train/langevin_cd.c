/* Maximum-likelihood training of an energy E_theta(x) by Langevin contrastive divergence: the gradient of
 * the negative log-likelihood is E_data[dE/dtheta] - E_model[dE/dtheta] (the model expectation estimated with
 * MCMC negatives), here as the loss of Du & Mordatch (2019, "Implicit generation and generalization in
 * energy-based models", eq. 2-4 and the L2 energy regulariser of section 3.3)
 *   L = mean E(x+) - mean E(x-) + alpha (mean E(x+)^2 + mean E(x-)^2),
 * whose gradient is sum_i w_i dE(x_i)/dtheta with w+ = (1 + 2 alpha E(x+_i)) / n and
 * w- = (-1 + 2 alpha E(x-_i)) / n, accumulated by the energy's grad_params.  Negatives come from
 *   - a replay buffer with noise restarts (Du & Mordatch 2019; JEM, Grathwohl et al. 2020),
 *   - short-run chains started from noise at every iteration (Nijkamp, Hill, Zhu & Wu 2019, "Learning
 *     non-convergent non-persistent short-run MCMC toward energy-based model"),
 *   - persistent chains (Tieleman 2008, in continuous form),
 * moved by any sampler on the energy interface.  Two stabilisers of JEM++ (Yang & Ji 2021): chains may start
 * from a Gaussian per class fitted to the data instead of noise (its informative initialisation), and the
 * sampler may take proximal steps (ebm_mcmc_opts.prox).  An exponential moving average of the parameters
 * (Polyak averaging, as in score-based and diffusion models) can be kept beside them.  This file is the step
 * of one update (an ebm_trainer); the loop, the order of the data rows and the roll-back to the last good
 * parameters are ebm_run's.
 *
 * Data-parallel runs (ebm_run over several processes): every process draws the negatives' starts of the
 * whole global batch (the same replay slots, restarts and noise as one process), moves only those of its
 * own rows, each chain from the streams of its index in the global batch, and then gathers the moved
 * negatives of all processes (ebm_step_gather) before writing them back, so that every process keeps the
 * whole replay buffer (or the persistent chains), identical to one process's.  Data noise draws from the
 * stream of the row's global index too: the processes together draw exactly what one process draws. */
#include "samplers/samplers_internal.h"
#include "train/lcd_internal.h"
#include "train/train_internal.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

void ebm_lcd_opts_default(ebm_lcd_opts *o) {
    memset(o, 0, sizeof *o);
    o->mode = EBM_NEG_BUFFER;
    o->buffer = 10000;
    o->reinit = 0.05f;
    ebm_noise_default(&o->noise);
    ebm_mcmc_opts_default(&o->mcmc);
    o->mcmc.kind = EBM_MCMC_SGLD;
    o->mcmc.steps = 20;
    o->mcmc.step_size = 1.0f;
    o->mcmc.noise = 0.01f;
    o->alpha = 0.1f;
    ebm_optim_opts_default(&o->optim);
    o->batch = 128;
    o->iters = 1000;
    o->seed = 1;
    o->gen_weight = 1.0f;
}

/* Chains clipped to the box of their uniform starts widened by `widen` of its width on each side (nothing
 * when they start elsewhere). */
static void clip_to_starts(ebm_lcd_opts *o, float widen) {
    if (o->noise.kind != EBM_NOISE_UNIFORM || !(o->noise.lo < o->noise.hi)) return;
    float margin = widen * (o->noise.hi - o->noise.lo);
    o->mcmc.clip_lo = o->noise.lo - margin;
    o->mcmc.clip_hi = o->noise.hi + margin;
}

void ebm_lcd_opts_for_data(ebm_lcd_opts *o, size_t dim, int image) {
    if (image || dim > EBM_LCD_LOW_DIM) return;
    o->mcmc.kind = EBM_MCMC_ULA;
    o->mcmc.step_size = 0.01f;
    o->mcmc.steps = 40;
    o->optim.lr = 3e-3f;
    clip_to_starts(o, 0.05f);
}

void ebm_lcd_opts_for_image_energy(ebm_lcd_opts *o) {
    o->mode = EBM_NEG_SHORTRUN;
    o->mcmc.kind = EBM_MCMC_SGLD;
    o->mcmc.steps = 40;
    o->mcmc.step_size = 10.0f;
    o->mcmc.noise = 0.005f;
    o->mcmc.prox = 0.3f;
    o->data_noise = 0.005f;
    clip_to_starts(o, 0.0f);
}

void ebm_lcd_opts_for_image_jem(ebm_lcd_opts *o) {
    ebm_lcd_opts_for_image_energy(o);
    o->class_negatives = 1;
    o->init = EBM_INIT_GAUSSIAN;
    o->gen_weight = 0.05f;
    o->optim.lr = 1e-3f;
}

static ebm_status check_opts(const ebm_energy *e, const ebm_lcd_opts *o) {
    if (!e || !e->grad_params || e->n_params == 0 || !e->params)
        return ebm_fail(EBM_EINVAL, "training: the %s energy has no trainable parameters", e ? e->kind : "(null)");
    if ((unsigned)o->mode > EBM_NEG_PERSISTENT) return ebm_fail(EBM_EINVAL, "training: unknown negative mode %d", (int)o->mode);
    if (o->batch == 0 || o->batch > 1000000) return ebm_fail(EBM_EINVAL, "training: batch must be in 1..1e6, got %zu", o->batch);
    if (o->mode == EBM_NEG_BUFFER && o->buffer < o->batch)
        return ebm_fail(EBM_EINVAL, "training: the replay buffer (%zu) must hold at least one batch (%zu)", o->buffer, o->batch);
    if (!(o->alpha >= 0) || !isfinite(o->alpha)) return ebm_fail(EBM_EINVAL, "training: alpha must be >= 0, got %g", (double)o->alpha);
    if (!(o->data_noise >= 0) || !isfinite(o->data_noise))
        return ebm_fail(EBM_EINVAL, "training: data noise must be >= 0, got %g", (double)o->data_noise);
    if (o->mcmc.steps == 0) return ebm_fail(EBM_EINVAL, "training: the negative sampler needs at least one step");
    if (!(o->gen_weight >= 0) || !isfinite(o->gen_weight))
        return ebm_fail(EBM_EINVAL, "training: the generative weight must be >= 0, got %g", (double)o->gen_weight);
    if ((unsigned)o->init > EBM_INIT_GAUSSIAN) return ebm_fail(EBM_EINVAL, "training: unknown chain start %d", (int)o->init);
    if (o->class_negatives && o->mode == EBM_NEG_BUFFER)
        return ebm_fail(EBM_EINVAL, "training: class negatives need short-run or persistent negatives (a buffer's "
                                    "slots would change class between draws)");
    if (!(o->ema >= 0 && o->ema < 1))
        return ebm_fail(EBM_EINVAL, "training: the EMA decay must be in [0, 1) (0 = off), got %g", (double)o->ema);
    if (o->gen_weight == 0 && !o->extra_grad)
        return ebm_fail(EBM_EINVAL, "training: a generative weight of 0 leaves nothing to train without an extra loss");
    return EBM_OK;
}

/* mean, the mean square *sq, and (w not NULL) w (n) = (sign + 2 alpha E_i) / n */
static double weights(const float *E, size_t n, float sign, float alpha, float *w, double *sq) {
    double mean = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        mean += E[i];
        s2 += (double)E[i] * E[i];
        if (w) w[i] = (sign + 2.0f * alpha * E[i]) / (float)n;
    }
    *sq = s2 / (double)n;
    return mean / (double)n;
}

/* ebm_weights_fn of one batch: weights() times the generative weight. */
typedef struct {
    float sign, alpha, scale;
} lcd_wctx;

static void lcd_weights(const float *E, size_t n, float *w, void *user) {
    const lcd_wctx *c = user;
    double sq;
    (void)weights(E, n, c->sign, c->alpha, w, &sq);
    for (size_t i = 0; i < n; i++) w[i] *= c->scale;
}

/* The trainer: the energy, the settings, the optimiser and the replay buffer or persistent chains, work space
 * for one batch (allocated by begin, once per run), and the stream keys (seed, "lcd") of the per-update keys
 * (data noise, negatives' starts).  The sampler's own draws come from (seed ^ golden, chain) at offset
 * update x steps, so a run does not depend on the thread count. */
typedef struct {
    ebm_energy *e;
    ebm_lcd_opts o;
    ebm_lcd_extra x;
    ebm_optim *opt;
    ebm_replay *buf;
    ebm_gauss_start *gs;                  /* Gaussian chain starts, or NULL */
    float *ema;                           /* (n_params) moving average, or NULL */
    float *xn, *Ep, *En, *wp, *wn, *grad; /* (batch, dim), 4 x (batch), (n_params) */
    size_t *slots;                        /* (batch) */
    int32_t *ncls;                        /* (batch) class negatives from Gaussian starts: row i's class */
    size_t nmax, have_neg;                /* rows of the work space; rows of the last negatives */
    ebm_rng keys;
    uint64_t seed;
} lcd_trainer;

size_t ebm_lcd_present_classes(const int32_t *labels, size_t n, size_t k, int32_t *out) {
    for (size_t j = 0; j < k; j++) out[j] = 0;
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= 0 && (size_t)labels[i] < k) out[labels[i]] = 1;
    size_t m = 0;
    for (size_t j = 0; j < k; j++)
        if (out[j]) out[m++] = (int32_t)j;
    return m;
}

/* Nothing to keep per process: every process holds the whole buffer and draws by global index. */
static void lcd_shard(void *self, size_t rank, size_t ranks) {
    (void)self;
    (void)rank;
    (void)ranks;
}

static void lcd_release(lcd_trainer *t) {
    ebm_optim_free(t->opt);
    ebm_replay_free(t->buf);
    ebm_gauss_start_free(t->gs);
    ebm_free(t->ema);
    ebm_free(t->xn);
    ebm_free(t->Ep);
    ebm_free(t->En);
    ebm_free(t->wp);
    ebm_free(t->wn);
    ebm_free(t->grad);
    free(t->slots);
    free(t->ncls);
    t->ncls = NULL;
    t->opt = NULL;
    t->buf = NULL;
    t->gs = NULL;
    t->ema = NULL;
    t->xn = t->Ep = t->En = t->wp = t->wn = t->grad = NULL;
    t->slots = NULL;
    t->have_neg = 0;
}

static ebm_status lcd_begin(void *self, const ebm_mat *data, const int32_t *labels, size_t batch, uint64_t seed) {
    lcd_trainer *t = self;
    const ebm_lcd_opts *o = &t->o;
    size_t d = t->e->dim, P = t->e->n_params;
    if (data->cols != d)
        return ebm_fail(EBM_ESHAPE, "training: data has %zu columns but the energy's input has %zu", data->cols, d);
    if (o->mode == EBM_NEG_BUFFER && o->buffer < batch)
        return ebm_fail(EBM_EINVAL, "training: the replay buffer (%zu) must hold at least one batch (%zu)", o->buffer, batch);
    ebm_status s = t->x.begin ? t->x.begin(t->x.state, data, labels) : EBM_OK;
    if (s) return s;
    lcd_release(t);
    s = ebm_optim_new(P, &o->optim, &t->opt);
    /* persistent chains are a buffer of exactly one batch, read in order, never restarted */
    if (!s && o->init == EBM_INIT_GAUSSIAN) {
        float lo, hi;
        ebm_lcd_data_range(data, &lo, &hi);
        s = ebm_gauss_start_fit(data, labels, lo, hi, &t->gs);
    }
    if (!s && o->mode != EBM_NEG_SHORTRUN)
        s = ebm_replay_new(o->mode == EBM_NEG_BUFFER ? o->buffer : batch, d, &o->noise, seed, &t->buf);
    if (!s && t->buf && t->gs) s = ebm_replay_set_start(t->buf, t->gs, seed);
    /* class negatives: the chain of (global) row i samples the data's class i mod m (of the m classes with rows),
     * so it starts from that class's Gaussian */
    if (!s && t->gs && o->class_negatives) {
        size_t k = ebm_gauss_start_classes(t->gs);
        int32_t *present = malloc(k * sizeof(int32_t));
        if (!present || !(t->ncls = malloc(batch * sizeof(int32_t)))) {
            free(present);
            return ebm_fail(EBM_ENOMEM, "out of memory for training");
        }
        size_t m = ebm_lcd_present_classes(labels, data->rows, k, present);
        for (size_t i = 0; i < batch; i++) t->ncls[i] = present[i % m];
        free(present);
        if (t->buf) /* persistent chains: exactly one batch */
            s = ebm_gauss_start_fill_classes(t->gs, seed ^ 0x636c61737365ull, 0, ebm_replay_data_rw(t->buf), batch,
                                             t->ncls);
    }
    if (!s && o->ema > 0) {
        if (!(t->ema = ebm_calloc(P, sizeof(float)))) return ebm_fail(EBM_ENOMEM, "out of memory for training");
        memcpy(t->ema, t->e->params, P * sizeof(float));
    }
    if (s) return s;
    t->xn = ebm_calloc(batch * d, sizeof(float));
    t->Ep = ebm_calloc(batch, sizeof(float));
    t->En = ebm_calloc(batch, sizeof(float));
    t->wp = ebm_calloc(batch, sizeof(float));
    t->wn = ebm_calloc(batch, sizeof(float));
    t->grad = ebm_calloc(P, sizeof(float));
    t->slots = malloc(batch * sizeof(size_t));
    if (!t->xn || !t->Ep || !t->En || !t->wp || !t->wn || !t->grad || !t->slots)
        return ebm_fail(EBM_ENOMEM, "out of memory for training");
    t->nmax = batch;
    t->seed = seed;
    ebm_rng_seed(&t->keys, seed, 0x6c6364ull); /* "lcd" */
    return EBM_OK;
}

/* The contrastive term on the batch xp (n, dim), rows row0 .. row0 + n - 1 of a global batch of N rows (one
 * process: 0 and n): the negatives' starts of all N rows, this process's moved by the sampler and then
 * gathered from all processes into xn, then grad += gen_weight (sum w+ dE(x+) + sum w- dE(x-)) over its rows. */
static ebm_status contrastive(lcd_trainer *t, const float *xp, const size_t *rows, size_t n, uint64_t kneg,
                              const ebm_step_ctx *c, ebm_figures *fig) {
    const ebm_lcd_opts *o = &t->o;
    ebm_energy *e = t->e;
    size_t d = e->dim, step = c->step, row0 = c->ranks > 1 ? c->row0 : 0, N = c->ranks > 1 ? c->n_global : n;
    ebm_status s = EBM_OK;
    if (o->mode == EBM_NEG_BUFFER) {
        s = ebm_replay_draw(t->buf, N, o->reinit, kneg, t->xn, t->slots);
    } else if (o->mode == EBM_NEG_PERSISTENT) {
        for (size_t i = 0; i < N; i++) t->slots[i] = i;
        memcpy(t->xn, ebm_replay_data(t->buf), N * d * sizeof(float));
    } else if (t->gs && t->ncls) {
        s = ebm_gauss_start_fill_classes(t->gs, kneg, 0, t->xn, N, t->ncls);
    } else if (t->gs) {
        s = ebm_gauss_start_fill(t->gs, kneg, 0, t->xn, N, NULL);
    } else {
        s = ebm_noise_fill(&o->noise, kneg, t->xn, N, d);
    }
    float *xl = t->xn + row0 * d; /* this process's negatives */
    ebm_mcmc_opts mc = o->mcmc;
    mc.progress = NULL;
    mc.seed = t->seed ^ 0x9e3779b97f4a7c15ull;
    mc.seed_offset = step * o->mcmc.steps;
    ebm_mcmc_stats st = {0};
    ebm_energy *es = e;
    if (!s && t->x.sampler) s = t->x.sampler(t->x.state, row0, &es);
    if (!s) s = ebm_mcmc_run_at(es, xl, n, row0, &mc, &st);
    if (s) return ebm_fail_prefix(s, "negative sampling at iteration %zu", step + 1);
    /* in the order of one process (data, then negatives); the gather leaves this process's rows as they are */
    if (t->x.weighted) {
        /* energies, their weighted gradients and the extra loss, one forward and one backward a batch */
        s = t->x.weighted(t->x.state, xp, rows, n, 1.0f, o->alpha, o->gen_weight, t->grad, t->Ep, &fig->extra);
        if (!s) s = t->x.weighted(t->x.state, xl, NULL, n, -1.0f, o->alpha, o->gen_weight, t->grad, t->En, NULL);
        fig->loss += fig->extra;
    } else {
        /* the same, for any energy: a network's in one forward and one backward a batch */
        lcd_wctx cp = {1.0f, o->alpha, o->gen_weight}, cn = {-1.0f, o->alpha, o->gen_weight};
        s = ebm_energy_grad_params_weighted(e, xp, n, lcd_weights, &cp, t->wp, t->grad, t->Ep);
        if (!s) s = ebm_energy_grad_params_weighted(e, xl, n, lcd_weights, &cn, t->wn, t->grad, t->En);
    }
    if (!s) s = ebm_step_gather(c, t->xn, row0, row0 + n, N, d);
    if (s) return s;
    if (t->buf) ebm_replay_store(t->buf, t->xn, t->slots, N);
    t->have_neg = N;
    fig->accept = st.accept_rate;
    double sqp, sqn;
    fig->e_pos = weights(t->Ep, n, 1.0f, o->alpha, NULL, &sqp);
    fig->e_neg = weights(t->En, n, -1.0f, o->alpha, NULL, &sqn);
    fig->loss += o->gen_weight * (fig->e_pos - fig->e_neg + o->alpha * (sqp + sqn));
    return EBM_OK;
}

static ebm_status lcd_step(void *self, float *xp, const size_t *rows, size_t n, const ebm_step_ctx *c,
                           ebm_figures *fig) {
    lcd_trainer *t = self;
    const ebm_lcd_opts *o = &t->o;
    size_t d = t->e->dim, P = t->e->n_params;
    uint64_t kdata = ebm_rng_u64(&t->keys), kneg = ebm_rng_u64(&t->keys);
    size_t row0 = c->ranks > 1 ? c->row0 : 0;
    if (o->data_noise > 0)
        for (size_t i = 0; i < n; i++) {
            float z[256];
            for (size_t j0 = 0; j0 < d; j0 += 256) {
                size_t len = d - j0 < 256 ? d - j0 : 256;
                ebm_rng_fill_normal(kdata, row0 + i, j0, z, len);
                for (size_t j = 0; j < len; j++) xp[i * d + j0 + j] += o->data_noise * z[j];
            }
        }
    memset(t->grad, 0, P * sizeof(float));
    fig->loss = 0;
    ebm_status s = EBM_OK;
    if (o->extra_grad && !(t->x.weighted && o->gen_weight > 0)) { /* else contrastive() takes it */
        s = o->extra_grad(xp, rows, n, t->grad, &fig->extra, o->extra_user);
        if (s) return s;
        fig->loss += fig->extra;
    }
    if (o->gen_weight > 0 && (s = contrastive(t, xp, rows, n, kneg, c, fig))) return s;
    if (!isfinite(fig->loss))
        return ebm_fail(EBM_ENAN, "mean energy of the data %g, of the negatives %g%s", fig->e_pos, fig->e_neg,
                        !o->extra_grad || isfinite(fig->extra) ? "" : ", extra loss not finite");
    if (c->allreduce && (s = c->allreduce(t->grad, P, c->allreduce_user))) return s;
    ebm_optim_set_lr(t->opt, (float)c->lr);
    s = ebm_optim_step(t->opt, t->e->params, t->grad, &fig->grad_norm);
    if (s) return s;
    size_t bad;
    if (!ebm_k_all_finite(t->e->params, P, &bad)) return ebm_fail(EBM_ENAN, "parameter %zu is not finite", bad);
    /* the power iteration follows the update, on good parameters only, as the command line always did */
    if (o->sn_net) ebm_net_sn_update(o->sn_net, 1);
    if (t->ema) {
        float a = o->ema, b = 1.0f - o->ema;
        const float *th = t->e->params;
        for (size_t i = 0; i < P; i++) t->ema[i] = a * t->ema[i] + b * th[i];
    }
    return EBM_OK;
}

static float *lcd_params(void *self, size_t block, size_t *n) {
    lcd_trainer *t = self;
    if (block > 0) return NULL;
    *n = t->e->n_params;
    if (t->o.sn_net) ebm_net_params_changed(t->o.sn_net); /* the loop may write them (roll-back, resume) */
    return t->e->params;
}

static const char *const neg_names[] = {"buffer", "short-run", "persistent"};

/* How the model samples best (ebm.sample.*): short-run models as trained; buffer and persistent models were
 * trained with chains that had run much longer than one call, so sampling from noise gets ten times the
 * steps.  Chains start where the training chains started (uniform noise only). */
static ebm_status sample_defaults(const ebm_lcd_opts *o, ebm_meta *m) {
    const ebm_mcmc_opts *mc = &o->mcmc;
    ebm_status s = ebm_meta_set(m, "ebm.sample.sampler", ebm_mcmc_name(mc->kind));
    if (!s) s = ebm_meta_setf(m, "ebm.sample.steps", "%zu", o->mode == EBM_NEG_SHORTRUN ? mc->steps : 10 * mc->steps);
    if (!s) s = ebm_meta_setf(m, "ebm.sample.step_size", "%g", (double)mc->step_size);
    if (!s) s = ebm_meta_setf(m, "ebm.sample.noise", "%g", (double)mc->noise);
    if (!s) s = ebm_meta_setf(m, "ebm.sample.leapfrog", "%zu", mc->leapfrog);
    if (!s && o->noise.kind == EBM_NOISE_UNIFORM) s = ebm_meta_setf(m, "ebm.sample.init_lo", "%g", (double)o->noise.lo);
    if (!s && o->noise.kind == EBM_NOISE_UNIFORM) s = ebm_meta_setf(m, "ebm.sample.init_hi", "%g", (double)o->noise.hi);
    if (!s && mc->prox > 0) s = ebm_meta_setf(m, "ebm.sample.prox", "%g", (double)mc->prox);
    if (!s && mc->clip_lo < mc->clip_hi) s = ebm_meta_setf(m, "ebm.sample.clip_lo", "%g", (double)mc->clip_lo);
    if (!s && mc->clip_lo < mc->clip_hi) s = ebm_meta_setf(m, "ebm.sample.clip_hi", "%g", (double)mc->clip_hi);
    return s;
}

static ebm_status lcd_describe(void *self, ebm_meta *m) {
    lcd_trainer *t = self;
    const ebm_lcd_opts *o = &t->o;
    ebm_status s = ebm_meta_setf(m, "ebm.train.method", "lcd-%s", neg_names[o->mode]);
    if (!s) s = ebm_meta_set(m, "ebm.train.sampler", ebm_mcmc_name(o->mcmc.kind));
    if (!s) s = ebm_meta_setf(m, "ebm.train.steps", "%zu", o->mcmc.steps);
    if (!s) s = ebm_meta_setf(m, "ebm.train.step_size", "%g", (double)o->mcmc.step_size);
    if (!s) s = ebm_meta_setf(m, "ebm.train.noise", "%g", (double)o->mcmc.noise);
    if (!s) s = ebm_meta_setf(m, "ebm.train.buffer", "%zu", o->buffer);
    if (!s) s = ebm_meta_setf(m, "ebm.train.reinit", "%g", (double)o->reinit);
    if (!s) s = ebm_meta_setf(m, "ebm.train.alpha", "%g", (double)o->alpha);
    /* written only when on, so that checkpoints of runs without them keep their fingerprint */
    if (!s && o->init == EBM_INIT_GAUSSIAN) s = ebm_meta_set(m, "ebm.train.init", "gaussian");
    if (!s && o->mcmc.prox > 0) s = ebm_meta_setf(m, "ebm.train.prox", "%g", (double)o->mcmc.prox);
    if (!s && o->ema > 0) s = ebm_meta_setf(m, "ebm.train.ema", "%g", (double)o->ema);
    if (!s && o->data_noise > 0) s = ebm_meta_setf(m, "ebm.train.data_noise", "%g", (double)o->data_noise);
    if (!s && o->sn_net && ebm_net_precision(o->sn_net) == EBM_PRECISION_BF16)
        s = ebm_meta_set(m, "ebm.train.precision", "bf16");
    if (!s)
        s = ebm_meta_setf(m, "ebm.train.optimizer", "%s lr %g wd %g clip %g",
                          o->optim.kind == EBM_OPTIM_SGD ? "sgd" : "adam", (double)o->optim.lr,
                          (double)o->optim.weight_decay, (double)o->optim.clip);
    if (!s && t->x.describe) s = t->x.describe(t->x.state, m);
    return s ? s : sample_defaults(o, m);
}

static const char lcd_name[] = "lcd", jem_name[] = "jem";

/* State for resuming: the optimiser's moments, the key stream, the replay buffer or persistent chains, the
 * last negatives (which the caller may show), and the spectral-normalisation vectors of sn_net. */
static ebm_status lcd_save_state(void *self, ebm_tensors *out) {
    lcd_trainer *t = self;
    if (!t->opt) return ebm_fail(EBM_EINVAL, "the %s trainer has not begun", t->x.jem ? jem_name : lcd_name);
    size_t d = t->e->dim;
    ebm_status s = ebm_optim_save_state(t->opt, "train.optim", out);
    if (!s) s = ebm_state_put_rng(out, "train.rng.keys", &t->keys);
    if (!s && t->buf) {
        size_t sh[2] = {ebm_replay_capacity(t->buf), d};
        s = ebm_tensors_put(out, "train.replay", EBM_F32, 2, sh, ebm_replay_data(t->buf));
    }
    if (!s && t->have_neg) {
        size_t sh[2] = {t->have_neg, d};
        s = ebm_tensors_put(out, "train.negatives", EBM_F32, 2, sh, t->xn);
    }
    size_t P = t->e->n_params;
    if (!s && t->ema) s = ebm_tensors_put(out, "train.ema", EBM_F32, 1, &P, t->ema);
    size_t ns;
    float *st = t->o.sn_net ? ebm_net_state(t->o.sn_net, &ns) : NULL;
    if (!s && st) s = ebm_tensors_put(out, "train.sn_state", EBM_F32, 1, &ns, st);
    return s;
}

static ebm_status lcd_load_state(void *self, const ebm_tensors *in) {
    lcd_trainer *t = self;
    if (!t->opt) return ebm_fail(EBM_EINVAL, "the %s trainer has not begun", t->x.jem ? jem_name : lcd_name);
    size_t d = t->e->dim;
    ebm_status s = ebm_optim_load_state(t->opt, "train.optim", in);
    if (!s) s = ebm_state_get_rng(in, "train.rng.keys", &t->keys);
    if (!s && t->buf) s = ebm_state_get_f32(in, "train.replay", ebm_replay_data_rw(t->buf), ebm_replay_capacity(t->buf) * d);
    const ebm_array *neg = s ? NULL : ebm_tensors_get(in, "train.negatives");
    if (neg) {
        size_t rows = ebm_array_numel(neg) / d;
        if (rows == 0 || rows > t->nmax) return ebm_fail(EBM_EFORMAT, "training state: train.negatives has %zu rows", rows);
        s = ebm_state_get_f32(in, "train.negatives", t->xn, rows * d);
        if (!s) t->have_neg = rows;
    }
    if (!s && t->ema) s = ebm_state_get_f32(in, "train.ema", t->ema, t->e->n_params);
    size_t ns;
    float *st = t->o.sn_net ? ebm_net_state(t->o.sn_net, &ns) : NULL;
    if (!s && st) s = ebm_state_get_f32(in, "train.sn_state", st, ns);
    return s;
}

static void lcd_destroy(void *self) {
    lcd_trainer *t = self;
    if (!t) return;
    lcd_release(t);
    ebm_energy_free(t->x.owned);
    if (t->x.destroy) t->x.destroy(t->x.state);
    free(t);
}

#define LCD_OPS(NAME)                                                                                                  \
    {.name = NAME, .begin = lcd_begin, .step = lcd_step, .params = lcd_params, .checks_finite = 1,                     \
     .describe = lcd_describe, .save_state = lcd_save_state, .load_state = lcd_load_state, .destroy = lcd_destroy,    \
     .shard = lcd_shard}
static const ebm_trainer_ops lcd_ops = LCD_OPS(lcd_name), jem_ops = LCD_OPS(jem_name);

ebm_status ebm_lcd_trainer_make(ebm_energy *e, const ebm_lcd_opts *o, const ebm_lcd_extra *x, ebm_trainer **out) {
    *out = NULL;
    ebm_lcd_extra none = {0};
    if (!x) x = &none;
    ebm_status s = check_opts(e, o);
    if (!s && o->class_negatives && !x->sampler)
        s = ebm_fail(EBM_EINVAL, "training: class negatives are JEM's (ebm_jem_trainer_new): this energy has no classes");
    lcd_trainer *t = s ? NULL : calloc(1, sizeof *t);
    if (!s && !t) s = ebm_fail(EBM_ENOMEM, "out of memory for a trainer");
    if (s) {
        ebm_energy_free(x->owned);
        if (x->destroy) x->destroy(x->state);
        return s;
    }
    t->e = e;
    t->o = *o;
    t->o.on_iter = NULL;
    t->x = *x;
    return ebm_trainer_new(x->jem ? &jem_ops : &lcd_ops, t, out);
}

ebm_status ebm_lcd_trainer_new(ebm_energy *e, const ebm_lcd_opts *o, ebm_trainer **out) {
    return ebm_lcd_trainer_make(e, o, NULL, out);
}

const float *ebm_lcd_trainer_negatives(ebm_trainer *t, size_t *n) {
    const char *name = ebm_trainer_name(t);
    lcd_trainer *lt = name == lcd_name || name == jem_name ? ebm_trainer_self(t) : NULL;
    *n = lt ? lt->have_neg : 0;
    return lt && lt->have_neg ? lt->xn : NULL;
}

ebm_status ebm_lcd_trainer_swap_ema(ebm_trainer *t) {
    const char *name = ebm_trainer_name(t);
    lcd_trainer *lt = name == lcd_name || name == jem_name ? ebm_trainer_self(t) : NULL;
    if (!lt) return ebm_fail(EBM_EINVAL, "swap_ema: not an LCD or JEM trainer");
    if (!lt->ema)
        return ebm_fail(EBM_EINVAL, "swap_ema: the %s trainer keeps no moving average (ema off or not begun)",
                        lt->x.jem ? jem_name : lcd_name);
    float *p = lt->e->params;
    for (size_t i = 0; i < lt->e->n_params; i++) {
        float v = p[i];
        p[i] = lt->ema[i];
        lt->ema[i] = v;
    }
    if (lt->o.sn_net) ebm_net_params_changed(lt->o.sn_net);
    return EBM_OK;
}

void ebm_lcd_run_opts(const ebm_lcd_opts *o, ebm_run_opts *r) {
    ebm_run_opts_default(r);
    r->iters = o->iters;
    r->batch = o->batch;
    r->seed = o->seed;
    r->shuffle_stream = 0x6c63642d70ull; /* "lcd-p": apart from the trainer's keys (seed, "lcd") */
    r->lr = o->optim.lr;
}

/* ebm_lcd_train's callback in the form of ebm_run's: figures a step did not measure read 0, as before. */
static double or0(double v) { return isnan(v) ? 0 : v; }

static int lcd_on_step(const ebm_run_progress *p, void *user) {
    const ebm_lcd_opts *o = user;
    const ebm_figures *f = &p->last;
    ebm_lcd_progress q = {p->step,          p->steps,      or0(f->loss),       or0(f->e_pos),
                          or0(f->e_neg),    or0(f->grad_norm), or0(f->accept), p->total_seconds,
                          or0(f->extra)};
    return o->on_iter(&q, o->user);
}

ebm_status ebm_lcd_run_wrapped(ebm_trainer *t, const ebm_mat *data, const int32_t *labels, const ebm_lcd_opts *o,
                               float *neg_out) {
    ebm_run_opts r;
    ebm_lcd_run_opts(o, &r);
    if (o->on_iter) {
        r.on_step = lcd_on_step;
        r.user = (void *)o;
    }
    ebm_status s = ebm_run(t, data, labels, &r, NULL);
    size_t n;
    const float *neg = ebm_lcd_trainer_negatives(t, &n);
    if (!s && neg_out && neg) memcpy(neg_out, neg, n * data->cols * sizeof(float));
    return s;
}

ebm_status ebm_lcd_train(ebm_energy *e, const ebm_mat *data, const ebm_lcd_opts *o, float *neg_out) {
    ebm_trainer *t;
    ebm_status s = ebm_lcd_trainer_new(e, o, &t);
    if (s) return s;
    s = ebm_lcd_run_wrapped(t, data, NULL, o, neg_out);
    ebm_trainer_free(t);
    return s;
}

void ebm_lcd_data_range(const ebm_mat *x, float *lo, float *hi) {
    *lo = FLT_MAX;
    *hi = -FLT_MAX;
    for (size_t i = 0; i < x->rows * x->cols; i++) {
        *lo = x->data[i] < *lo ? x->data[i] : *lo;
        *hi = x->data[i] > *hi ? x->data[i] : *hi;
    }
    if (!(*lo < *hi)) *hi = *lo + 1;
}
