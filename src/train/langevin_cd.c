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
 * moved by any sampler on the energy interface.  The parameters of the last good iteration are kept so that
 * a diverging run stops with EBM_ENAN and usable parameters. */
#include "core/internal.h"

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

static ebm_status check(const ebm_energy *e, const ebm_mat *data, const ebm_lcd_opts *o) {
    if (!e || !e->grad_params || e->n_params == 0 || !e->params)
        return ebm_fail(EBM_EINVAL, "training: the %s energy has no trainable parameters", e ? e->kind : "(null)");
    if (!data || data->rows == 0) return ebm_fail(EBM_EINVAL, "training: no data");
    if (data->cols != e->dim)
        return ebm_fail(EBM_ESHAPE, "training: data has %zu columns but the energy's input has %zu", data->cols, e->dim);
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
    if (o->gen_weight == 0 && !o->extra_grad)
        return ebm_fail(EBM_EINVAL, "training: a generative weight of 0 leaves nothing to train without an extra loss");
    return EBM_OK;
}

/* mean, and w (n) = (sign + 2 alpha E_i) / n */
static double weights(const float *E, size_t n, float sign, float alpha, float *w, double *sq) {
    double mean = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        mean += E[i];
        s2 += (double)E[i] * E[i];
        w[i] = (sign + 2.0f * alpha * E[i]) / (float)n;
    }
    *sq = s2 / (double)n;
    return mean / (double)n;
}

ebm_status ebm_lcd_train(ebm_energy *e, const ebm_mat *data, const ebm_lcd_opts *o, float *neg_out) {
    ebm_status s = check(e, data, o);
    if (s) return s;
    size_t B = o->batch, d = e->dim, P = e->n_params, N = data->rows;
    double t0 = ebm_now();
    ebm_optim *opt = NULL;
    ebm_replay *buf = NULL;
    s = ebm_optim_new(P, &o->optim, &opt);
    if (!s && o->mode != EBM_NEG_SHORTRUN) {
        /* persistent chains are a buffer of exactly one batch, read in order, never restarted */
        s = ebm_replay_new(o->mode == EBM_NEG_BUFFER ? o->buffer : B, d, &o->noise, o->seed, &buf);
    }
    float *xp = ebm_calloc(B * d, sizeof(float)), *xn = ebm_calloc(B * d, sizeof(float));
    float *Ep = ebm_calloc(B, sizeof(float)), *En = ebm_calloc(B, sizeof(float));
    float *wp = ebm_calloc(B, sizeof(float)), *wn = ebm_calloc(B, sizeof(float));
    float *grad = ebm_calloc(P, sizeof(float)), *good = ebm_calloc(P, sizeof(float));
    size_t *slots = malloc(B * sizeof(size_t)), *perm = malloc(N * sizeof(size_t)), *rows = malloc(B * sizeof(size_t));
    if (!s && (!xp || !xn || !Ep || !En || !wp || !wn || !grad || !good || !slots || !perm || !rows))
        s = ebm_fail(EBM_ENOMEM, "out of memory for training");
    ebm_rng rng;
    ebm_rng_seed(&rng, o->seed, 0x6c6364ull); /* "lcd" */
    size_t pos = N; /* next row of the current permutation; N = reshuffle */
    if (!s) memcpy(good, e->params, P * sizeof(float));
    ebm_mcmc_opts mc = o->mcmc;
    mc.progress = NULL;
    for (size_t it = 0; !s && it < o->iters; it++) {
        /* positives: the next batch of a fresh permutation per epoch */
        for (size_t i = 0; i < B; i++) {
            if (pos >= N) {
                for (size_t r = 0; r < N; r++) perm[r] = r;
                ebm_rng_permutation(&rng, perm, N);
                pos = 0;
            }
            rows[i] = perm[pos++];
            memcpy(xp + i * d, data->data + rows[i] * d, d * sizeof(float));
        }
        uint64_t kdata = ebm_rng_u64(&rng), kneg = ebm_rng_u64(&rng);
        if (o->data_noise > 0)
            for (size_t i = 0; i < B; i++) {
                float z[256];
                for (size_t j0 = 0; j0 < d; j0 += 256) {
                    size_t len = d - j0 < 256 ? d - j0 : 256;
                    ebm_rng_fill_normal(kdata, i, j0, z, len);
                    for (size_t j = 0; j < len; j++) xp[i * d + j0 + j] += o->data_noise * z[j];
                }
            }
        double loss = 0, ep = 0, en = 0, extra = 0;
        ebm_mcmc_stats st = {0};
        memset(grad, 0, P * sizeof(float));
        if (o->extra_grad) {
            s = o->extra_grad(xp, rows, B, grad, &extra, o->extra_user);
            if (s) break;
            loss += extra;
        }
        if (o->gen_weight > 0) {
            /* negatives */
            if (o->mode == EBM_NEG_BUFFER) {
                s = ebm_replay_draw(buf, B, o->reinit, kneg, xn, slots);
            } else if (o->mode == EBM_NEG_PERSISTENT) {
                for (size_t i = 0; i < B; i++) slots[i] = i;
                memcpy(xn, ebm_replay_data(buf), B * d * sizeof(float));
            } else {
                s = ebm_noise_fill(&o->noise, kneg, xn, B, d);
            }
            mc.seed = o->seed ^ 0x9e3779b97f4a7c15ull;
            mc.seed_offset = it * o->mcmc.steps;
            if (!s) s = ebm_mcmc_run(e, xn, B, &mc, &st);
            if (s) {
                s = ebm_fail_prefix(s, "negative sampling at iteration %zu", it + 1);
                break;
            }
            if (buf) ebm_replay_store(buf, xn, slots, B);
            /* the contrastive loss and its gradient */
            s = e->energy(e, xp, B, Ep);
            if (!s) s = e->energy(e, xn, B, En);
            if (s) break;
            double sqp, sqn;
            ep = weights(Ep, B, 1.0f, o->alpha, wp, &sqp);
            en = weights(En, B, -1.0f, o->alpha, wn, &sqn);
            loss += o->gen_weight * (ep - en + o->alpha * (sqp + sqn));
            for (size_t i = 0; i < B; i++) {
                wp[i] *= o->gen_weight;
                wn[i] *= o->gen_weight;
            }
            s = e->grad_params(e, xp, B, wp, grad, NULL);
            if (!s) s = e->grad_params(e, xn, B, wn, grad, NULL);
            if (s) break;
        }
        if (!isfinite(loss)) {
            s = ebm_fail(EBM_ENAN, "training diverged at iteration %zu: mean energy of the data %g, of the negatives %g%s",
                         it + 1, ep, en, isfinite(extra) ? "" : ", extra loss not finite");
            break;
        }
        double gn = 0;
        s = ebm_optim_step(opt, e->params, grad, &gn);
        size_t bad;
        if (!s && !ebm_k_all_finite(e->params, P, &bad))
            s = ebm_fail(EBM_ENAN, "parameter %zu is not finite", bad);
        if (s) {
            if (s == EBM_ENAN) s = ebm_fail_prefix(s, "training diverged at iteration %zu", it + 1);
            break;
        }
        memcpy(good, e->params, P * sizeof(float));
        if (o->on_iter) {
            ebm_lcd_progress p = {it + 1, o->iters, loss, ep, en, gn, st.accept_rate, ebm_now() - t0, extra};
            if (o->on_iter(&p, o->user)) s = ebm_fail(EBM_ECANCELED, "training stopped after %zu of %zu iterations", it + 1, o->iters);
        }
    }
    if (s == EBM_ENAN && good) memcpy(e->params, good, P * sizeof(float));
    if (!s && neg_out && o->gen_weight > 0) memcpy(neg_out, xn, B * d * sizeof(float));
    ebm_optim_free(opt);
    ebm_replay_free(buf);
    ebm_free(xp);
    ebm_free(xn);
    ebm_free(Ep);
    ebm_free(En);
    ebm_free(wp);
    ebm_free(wn);
    ebm_free(grad);
    ebm_free(good);
    free(slots);
    free(perm);
    free(rows);
    return s;
}
