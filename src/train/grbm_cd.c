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
 * log sigma^2 is clamped to its bounds after every update. */
#include "models/grbm_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ebm_grbm_train_opts_default(ebm_grbm_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->neg_init = EBM_GRBM_NEG_NOISE;
    o->k = 10;
    o->burn_in = 0;
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
    if (o->burn_in >= o->k) return ebm_fail(EBM_EINVAL, "burn-in (%zu) must be below k (%zu)", o->burn_in, o->k);
    if (o->epochs < 1) return ebm_fail(EBM_EINVAL, "epochs must be at least 1");
    if (o->batch < 1 || o->batch > (1u << 24)) return ebm_fail(EBM_EINVAL, "batch size must be in 1..16777216");
    if (o->chains > (1u << 24)) return ebm_fail(EBM_EINVAL, "at most 16777216 negative chains");
    if (!(o->lr > 0) || !isfinite(o->lr)) return ebm_fail(EBM_EINVAL, "learning rate must be positive, got %g", o->lr);
    if (!(o->momentum >= 0 && o->momentum < 1)) return ebm_fail(EBM_EINVAL, "momentum must lie in [0, 1), got %g", o->momentum);
    if (!(o->weight_decay >= 0) || !isfinite(o->weight_decay)) return ebm_fail(EBM_EINVAL, "weight decay must be >= 0");
    if (!(o->grad_clip >= 0) || !isfinite(o->grad_clip)) return ebm_fail(EBM_EINVAL, "gradient clip must be >= 0");
    const ebm_grbm_sample_opts *s = &o->sampler;
    if ((unsigned)s->sampler > EBM_GRBM_GIBBS_LANGEVIN) return ebm_fail(EBM_EINVAL, "unknown GRBM sampler %d", (int)s->sampler);
    if (!(s->T > 0) || !isfinite(s->T)) return ebm_fail(EBM_EINVAL, "temperature must be positive");
    if (!(s->eta > 0) || !isfinite(s->eta)) return ebm_fail(EBM_EINVAL, "Langevin step size must be positive");
    if (s->sampler == EBM_GRBM_GIBBS_LANGEVIN && (s->langevin_steps < 1 || s->langevin_steps > 100000))
        return ebm_fail(EBM_EINVAL, "Langevin steps per Gibbs-Langevin step must be in 1..100000");
    return EBM_OK;
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

ebm_status ebm_grbm_train(ebm_grbm *m, const ebm_mat *data, const ebm_grbm_train_opts *o) {
    ebm_status s = check_opts(o);
    if (s) return s;
    if (data->cols != m->n_vis)
        return ebm_fail(EBM_ESHAPE, "data has %zu columns but the GRBM has %zu visible units", data->cols, m->n_vis);
    if (data->rows == 0) return ebm_fail(EBM_EINVAL, "the training data is empty");
    size_t bad;
    if (!ebm_k_all_finite(data->data, data->rows * data->cols, &bad))
        return ebm_fail(EBM_EINVAL, "training data value %zu (row %zu) is not finite", bad, bad / data->cols);
    size_t N = data->rows, nv = m->n_vis, np = m->n_params, nw = nv * m->n_hid;
    size_t nmax = o->batch < N ? o->batch : N, batches = (N + nmax - 1) / nmax;
    size_t c = o->chains ? o->chains : nmax;
    if (o->neg_init == EBM_GRBM_NEG_DATA) c = nmax;
    float *grad = ebm_calloc(np, sizeof(float)), *vel = ebm_calloc(np, sizeof(float));
    float *backup = ebm_calloc(np, sizeof(float)), *pos = ebm_calloc(nmax, nv * sizeof(float));
    float *wpos = ebm_calloc(nmax, sizeof(float)), *wneg = ebm_calloc(c, sizeof(float));
    size_t *perm = malloc(N * sizeof *perm);
    ebm_grbm_chains *ch = NULL;
    if (!grad || !vel || !backup || !pos || !wpos || !wneg || !perm) s = ebm_fail(EBM_ENOMEM, "out of memory");
    if (!s) s = ebm_grbm_chains_new(m, c, &ch);
    if (s) goto done;
    ebm_rng keys, shuffle, init;
    ebm_rng_seed(&keys, o->seed, 20);
    ebm_rng_seed(&shuffle, o->seed, 21);
    ebm_rng_seed(&init, o->seed, 22);
    if (o->neg_init == EBM_GRBM_NEG_PERSISTENT) ebm_grbm_chains_init_noise(ch, 1.0f, &init);
    for (size_t i = 0; i < N; i++) perm[i] = i;
    size_t rec = o->k - o->burn_in;
    for (size_t r = 0; r < c; r++) wneg[r] = -1.0f / ((float)c * (float)rec);

    ebm_train_progress pr = {0};
    pr.epochs = o->epochs;
    pr.batches = batches;
    double t_start = ebm_now();
    size_t last_good = 0;
    for (size_t ep = 1; ep <= o->epochs; ep++) {
        double t_epoch = ebm_now();
        memcpy(backup, m->params, np * sizeof(float));
        if (o->shuffle) ebm_rng_permutation(&shuffle, perm, N);
        /* PyTorch's CosineAnnealingLR stepped once per epoch, as the paper's code does */
        float lr = o->cosine ? (float)(o->lr * 0.5 * (1.0 + cos(M_PI * (double)(ep - 1) / (double)o->epochs))) : o->lr;
        pr.epoch = ep;
        for (size_t b = 0; b < batches; b++) {
            size_t r0 = b * nmax, n = N - r0 < nmax ? N - r0 : nmax;
            for (size_t r = 0; r < n; r++) memcpy(pos + r * nv, data->data + perm[r0 + r] * nv, nv * sizeof(float));
            for (size_t r = 0; r < n; r++) wpos[r] = 1.0f / (float)n;
            memset(grad, 0, np * sizeof(float));
            ebm_grbm_free_energy_grad(m, pos, n, wpos, grad);
            if (o->neg_init == EBM_GRBM_NEG_NOISE) {
                ebm_grbm_chains_init_noise(ch, 1.0f, &keys);
            } else if (o->neg_init == EBM_GRBM_NEG_DATA) {
                float *cv = ebm_grbm_chains_visible(ch);
                for (size_t r = 0; r < c; r++) memcpy(cv + r * nv, pos + (r % n) * nv, nv * sizeof(float));
            }
            for (size_t t = 0; t < o->k; t++) {
                grbm_chains_step(ch, &o->sampler, t, o->k, &keys);
                if (t >= o->burn_in) ebm_grbm_free_energy_grad(m, grbm_chains_v(ch), c, wneg, grad);
            }
            /* grad is now the descent direction E_data[dF] - E_model[dF] */
            float scale = 1.0f;
            if (o->grad_clip > 0) {
                double norm = sqrt(ebm_k_sumsq(grad, np));
                if (norm > o->grad_clip) scale = (float)(o->grad_clip / norm);
            }
            float probe = 0.0f;
            for (size_t i = 0; i < np; i++) {
                float g = scale * grad[i] + (i < nw ? o->weight_decay * m->params[i] : 0.0f);
                vel[i] = o->momentum * vel[i] - lr * g;
                m->params[i] += vel[i];
                probe += m->params[i] * 0.0f;
            }
            grbm_clamp_logvar(m);
            if (probe != 0.0f) {
                char what[256];
                ebm_grbm_check_finite(m);
                snprintf(what, sizeof what, "%s", ebm_last_error());
                memcpy(m->params, backup, np * sizeof(float));
                s = ebm_fail(EBM_ENAN,
                             "training diverged at epoch %zu, batch %zu: %s; parameters restored to the end of epoch "
                             "%zu; try a smaller learning rate (now %g) or step size",
                             ep, b + 1, what, last_good, (double)lr);
                goto done;
            }
            pr.batch = b + 1;
            pr.lr = lr;
            pr.seconds = ebm_now() - t_epoch;
            pr.total_seconds = ebm_now() - t_start;
            if (b + 1 == batches) {
                double mse;
                pr.recon = ebm_grbm_recon_error(m, pos, n, &mse) ? NAN : mse;
            }
            if (o->on_batch && o->on_batch(&pr, o->user)) {
                s = ebm_fail(EBM_ECANCELED, "training stopped at epoch %zu, batch %zu", ep, b + 1);
                goto done;
            }
        }
        last_good = ep;
        if (o->on_epoch && o->on_epoch(&pr, o->user)) {
            s = ebm_fail(EBM_ECANCELED, "training stopped after epoch %zu", ep);
            goto done;
        }
    }
done:
    ebm_grbm_chains_free(ch);
    ebm_free(grad);
    ebm_free(vel);
    ebm_free(backup);
    ebm_free(pos);
    ebm_free(wpos);
    ebm_free(wneg);
    free(perm);
    return s;
}
