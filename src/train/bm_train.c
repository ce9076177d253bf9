/* Learning a fully visible Boltzmann machine.  The log-likelihood gradient with respect to a coupling
 * W_ij = W_ji is <x_i x_j>_data - <x_i x_j>_model and with respect to b_i is <x_i>_data - <x_i>_model
 * (Ackley, Hinton & Sejnowski 1985); CD-k (Hinton 2002) estimates the model term with k sequential Gibbs
 * sweeps from the batch, PCD-k (Tieleman 2008) with persistent chains.  Maximum pseudo-likelihood
 * (Besag 1975) follows the exact gradient of sum_i log p(x_i | x_-i) instead, without sampling.  Updates go
 * through the shared optimisers; the gradients are symmetric with a zero diagonal, so W stays symmetric. */
#include "models/bm_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ebm_bm_train_opts_default(ebm_bm_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->method = EBM_BM_CD;
    o->k = 1;
    o->scan = EBM_SCAN_SYSTEMATIC;
    o->epochs = 10;
    o->batch = 100;
    ebm_optim_opts_default(&o->optim);
    o->optim.kind = EBM_OPTIM_SGD;
    o->optim.lr = 0.05f;
    o->optim.momentum = 0.5f;
    o->shuffle = 1;
    o->seed = 1;
}

const char *ebm_bm_method_name(ebm_bm_method k) {
    return k == EBM_BM_PCD ? "pcd" : k == EBM_BM_PL ? "pl" : "cd";
}

/* grad (n*n + n) += sign * (X'X / rows with zero diagonal | column means of X), X (rows, n). */
static void add_stats(size_t n, const float *X, size_t rows, float sign, float *G, float *grad) {
    float s = sign / (float)rows;
    ebm_sgemm(1, 0, n, n, rows, s, X, n, X, n, 0.0f, G, n);
    for (size_t i = 0; i < n; i++) G[i * n + i] = 0;
    for (size_t i = 0; i < n * n; i++) grad[i] += G[i];
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < n; i++) grad[n * n + i] += s * X[r * n + i];
}

ebm_status ebm_bm_train(ebm_bm *m, const ebm_mat *data, const ebm_bm_train_opts *o) {
    size_t n = m->n, N = data->rows, np = n * n + n;
    if (data->cols != n)
        return ebm_fail(EBM_ESHAPE, "data has %zu columns but the Boltzmann machine has %zu units", data->cols, n);
    if (N == 0) return ebm_fail(EBM_EINVAL, "no training rows");
    if (o->method != EBM_BM_CD && o->method != EBM_BM_PCD && o->method != EBM_BM_PL)
        return ebm_fail(EBM_EINVAL, "unknown training method %d", (int)o->method);
    if (o->method != EBM_BM_PL && o->k == 0) return ebm_fail(EBM_EINVAL, "CD/PCD need k >= 1 Gibbs sweeps");
    if (o->batch == 0 || o->epochs == 0) return ebm_fail(EBM_EINVAL, "batch and epochs must be >= 1");
    double off = ebm_bm_off(m);
    for (size_t i = 0; i < N * n; i++)
        if (data->data[i] != 1.0f && data->data[i] != (float)off)
            return ebm_fail(EBM_EINVAL, "data row %zu, column %zu is %g, not a %s value", i / n, i % n, data->data[i],
                            ebm_bm_spins_name(m->spins));
    size_t nmax = o->batch < N ? o->batch : N, chains = o->chains ? o->chains : nmax;
    size_t batches = (N + nmax - 1) / nmax;
    ebm_optim *opt = NULL;
    ebm_status s = ebm_optim_new(np, &o->optim, &opt);
    if (s) return s;
    float *pos = ebm_calloc(nmax, n * sizeof(float));
    float *neg = ebm_calloc(o->method == EBM_BM_PCD ? chains : nmax, n * sizeof(float));
    float *grad = ebm_calloc(np, sizeof(float)), *G = ebm_calloc(n, n * sizeof(float));
    float *backup = ebm_calloc(np, sizeof(float));
    size_t *perm = malloc(N * sizeof *perm);
    /* work space of the Gibbs sweeps (local fields of every chain) and of the pseudo-likelihood gradient */
    size_t max_chains = o->method == EBM_BM_PCD && chains > nmax ? chains : nmax;
    float *res = o->method == EBM_BM_PL ? ebm_calloc(nmax, n * sizeof(float)) : NULL;
    double *fields = malloc(max_chains * n * sizeof *fields), *gbd = malloc(n * sizeof *gbd);
    if (!pos || !neg || !grad || !G || !backup || !perm || !fields || !gbd || (o->method == EBM_BM_PL && !res)) {
        s = ebm_fail(EBM_ENOMEM, "out of memory for training buffers");
        goto done;
    }
    ebm_rng keys, shuffle, init;
    ebm_rng_seed(&keys, o->seed, 0);
    ebm_rng_seed(&shuffle, o->seed, 1);
    ebm_rng_seed(&init, o->seed, 2);
    for (size_t i = 0; i < N; i++) perm[i] = i;
    if (o->method == EBM_BM_PCD)
        for (size_t c = 0; c < chains; c++)
            memcpy(neg + c * n, data->data + ebm_rng_below(&init, N) * n, n * sizeof(float));
    ebm_train_progress pr = {0};
    pr.epochs = o->epochs;
    pr.batches = batches;
    pr.recon = NAN;
    double t0 = ebm_now();
    size_t last_good = 0;
    for (size_t ep = 1; ep <= o->epochs; ep++) {
        double te = ebm_now();
        memcpy(backup, m->params, np * sizeof(float));
        if (o->shuffle) ebm_rng_permutation(&shuffle, perm, N);
        pr.epoch = ep;
        for (size_t b = 0; b < batches; b++) {
            size_t r0 = b * nmax, rows = N - r0 < nmax ? N - r0 : nmax;
            for (size_t r = 0; r < rows; r++) memcpy(pos + r * n, data->data + perm[r0 + r] * n, n * sizeof(float));
            memset(grad, 0, np * sizeof(float));
            if (o->method == EBM_BM_PL) {
                s = ebm_bm_pseudo_ll_grad_ws(m, pos, rows, grad, res, G, fields, gbd);
            } else {
                size_t nr = o->method == EBM_BM_PCD ? chains : rows;
                if (o->method == EBM_BM_CD) memcpy(neg, pos, rows * n * sizeof(float));
                s = ebm_bm_gibbs_ws(m, neg, nr, o->k, 1.0f, o->scan, &keys, fields);
                if (!s) {
                    add_stats(n, pos, rows, 1.0f, G, grad);
                    add_stats(n, neg, nr, -1.0f, G, grad);
                }
            }
            if (s) goto done;
            for (size_t i = 0; i < np; i++) grad[i] = -grad[i]; /* the optimiser descends */
            s = ebm_optim_step(opt, m->params, grad, NULL);
            if (!s) s = ebm_bm_check_finite(m);
            if (s) {
                char what[256];
                snprintf(what, sizeof what, "%s", ebm_last_error());
                memcpy(m->params, backup, np * sizeof(float));
                s = ebm_fail(EBM_ENAN,
                             "training diverged at epoch %zu, batch %zu: %s; parameters restored to the end of epoch "
                             "%zu; try a smaller learning rate", ep, b + 1, what, last_good);
                goto done;
            }
            pr.batch = b + 1;
            pr.lr = o->optim.lr;
            pr.seconds = ebm_now() - te;
            pr.total_seconds = ebm_now() - t0;
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
    ebm_optim_free(opt);
    ebm_free(pos);
    ebm_free(neg);
    ebm_free(grad);
    ebm_free(G);
    ebm_free(backup);
    ebm_free(res);
    free(fields);
    free(gbd);
    free(perm);
    return s;
}
