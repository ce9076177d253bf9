/* Learning a fully visible Boltzmann machine.  The log-likelihood gradient with respect to a coupling
 * W_ij = W_ji is <x_i x_j>_data - <x_i x_j>_model and with respect to b_i is <x_i>_data - <x_i>_model
 * (Ackley, Hinton & Sejnowski 1985); CD-k (Hinton 2002) estimates the model term with k sequential Gibbs
 * sweeps from the batch, PCD-k (Tieleman 2008) with persistent chains.  Maximum pseudo-likelihood
 * (Besag 1975) follows the exact gradient of sum_i log p(x_i | x_-i) instead, without sampling.  Updates go
 * through the shared optimisers; the gradients are symmetric with a zero diagonal, so W stays symmetric.
 * The trainer is one step of the run loop (src/train/run.c); ebm_bm_train is ebm_run over it.
 *
 * Data-parallel runs (ebm_run over several processes): a process holds a slice of each batch and (PCD) a slice
 * of the persistent chains; every row and chain draws from the stream (key, its index in the whole batch or
 * chain set), so the processes together draw exactly what one process draws. */
#include "models/bm_internal.h"
#include "train/train_internal.h"

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

/* grad (n*n + n) += s * (X'X with zero diagonal | column sums of X), X (rows, n); s = +-1 / rows gives the
 * means. */
static void add_stats(size_t n, const float *X, size_t rows, float s, float *G, float *grad) {
    ebm_sgemm(1, 0, n, n, rows, s, X, n, X, n, 0.0f, G, n);
    for (size_t i = 0; i < n; i++) G[i * n + i] = 0;
    for (size_t i = 0; i < n * n; i++) grad[i] += G[i];
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < n; i++) grad[n * n + i] += s * X[r * n + i];
}

/* The trainer: the model, its settings, the optimiser and the work space (allocated by begin, once per
 * run), and the stream keys (seed, 0) of the Gibbs sweeps; the PCD chains start at rows drawn from
 * (seed, 2). */
typedef struct {
    ebm_bm *m;
    ebm_bm_train_opts o;
    ebm_optim *opt;
    float *neg;         /* (nmax, n) CD negatives; PCD: (chains, n) persistent chains */
    float *grad;        /* (n*n + n) */
    float *G;           /* (n, n) */
    float *res;         /* PL: (nmax, n) */
    double *fields;     /* (max(nmax, chains), n) local fields of the sweeps and of the PL gradient */
    double *gbd;        /* (n) */
    size_t chains;      /* PCD chains held here */
    size_t c0, c_all;   /* PCD: the index of the first of them among all processes' c_all chains */
    size_t rank, ranks; /* data-parallel: this process among ranks (0 of 1 alone) */
    float *all;         /* data-parallel PCD: (c_all, n) all chains, gathered for checkpoints */
    ebm_rng keys;
} bm_trainer;

static void bm_shard(void *self, size_t rank, size_t ranks) {
    bm_trainer *t = self;
    t->rank = rank;
    t->ranks = ranks;
}

static void bm_free_ws(bm_trainer *t) {
    ebm_optim_free(t->opt);
    ebm_free(t->neg);
    ebm_free(t->grad);
    ebm_free(t->G);
    ebm_free(t->res);
    ebm_free(t->all);
    free(t->fields);
    free(t->gbd);
    t->opt = NULL;
    t->neg = t->grad = t->G = t->res = t->all = NULL;
    t->fields = t->gbd = NULL;
}

static ebm_status bm_begin(void *self, const ebm_mat *data, const int32_t *labels, size_t nmax, uint64_t seed) {
    bm_trainer *t = self;
    const ebm_bm_train_opts *o = &t->o;
    size_t n = t->m->n, N = data->rows, np = n * n + n;
    (void)labels;
    if (data->cols != n)
        return ebm_fail(EBM_ESHAPE, "data has %zu columns but the Boltzmann machine has %zu units", data->cols, n);
    float off = (float)ebm_bm_off(t->m);
    for (size_t i = 0; i < N * n; i++)
        if (data->data[i] != 1.0f && data->data[i] != off)
            return ebm_fail(EBM_EINVAL, "data row %zu, column %zu is %g, not a %s value", i / n, i % n, data->data[i],
                            ebm_bm_spins_name(t->m->spins));
    bm_free_ws(t);
    ebm_status s = ebm_optim_new(np, &o->optim, &t->opt);
    if (s) return s;
    /* PCD: this process's slice of all the chains */
    size_t c_all = o->chains ? o->chains : nmax, ranks = t->ranks ? t->ranks : 1, c0 = 0, c1 = c_all;
    if (o->method == EBM_BM_PCD && ranks > 1) {
        if (c_all < ranks) return ebm_fail(EBM_EINVAL, "%zu persistent chains cannot be shared by %zu processes", c_all, ranks);
        ebm_shard_range(c_all, t->rank, ranks, &c0, &c1);
    }
    t->chains = c1 - c0;
    t->c0 = c0;
    t->c_all = c_all;
    size_t nneg = o->method == EBM_BM_PCD ? t->chains : nmax, nf = nneg > nmax ? nneg : nmax;
    t->neg = ebm_calloc(nneg, n * sizeof(float));
    t->grad = ebm_calloc(np, sizeof(float));
    t->G = ebm_calloc(n, n * sizeof(float));
    t->res = o->method == EBM_BM_PL ? ebm_calloc(nmax, n * sizeof(float)) : NULL;
    t->fields = malloc(nf * n * sizeof *t->fields);
    t->gbd = malloc(n * sizeof *t->gbd);
    if (o->method == EBM_BM_PCD && ranks > 1) t->all = ebm_calloc(c_all, n * sizeof(float));
    if (!t->neg || !t->grad || !t->G || !t->fields || !t->gbd || (o->method == EBM_BM_PL && !t->res) ||
        (o->method == EBM_BM_PCD && ranks > 1 && !t->all))
        return ebm_fail(EBM_ENOMEM, "out of memory for training buffers");
    ebm_rng init;
    ebm_rng_seed(&t->keys, seed, 0);
    ebm_rng_seed(&init, seed, 2);
    if (o->method == EBM_BM_PCD) /* every process makes the draws of all c_all chains and keeps its own */
        for (size_t c = 0; c < c_all; c++) {
            size_t r = (size_t)ebm_rng_below(&init, N);
            if (c >= c0 && c < c1) memcpy(t->neg + (c - c0) * n, data->data + r * n, n * sizeof(float));
        }
    return EBM_OK;
}

static ebm_status bm_step(void *self, float *x, const size_t *rows_idx, size_t rows, const ebm_step_ctx *c,
                          ebm_figures *fig) {
    bm_trainer *t = self;
    const ebm_bm_train_opts *o = &t->o;
    ebm_bm *m = t->m;
    size_t n = m->n, np = n * n + n;
    (void)rows_idx;
    memset(t->grad, 0, np * sizeof(float));
    ebm_status s;
    if (o->method == EBM_BM_PL) {
        s = ebm_bm_pseudo_ll_grad_ws(m, x, rows, t->grad, t->res, t->G, t->fields, t->gbd);
    } else {
        bool pcd = o->method == EBM_BM_PCD;
        size_t nr = pcd ? t->chains : rows, r0 = pcd ? t->c0 : c->ranks > 1 ? c->row0 : 0;
        if (!pcd) memcpy(t->neg, x, rows * n * sizeof(float));
        s = ebm_bm_gibbs_ws_at(m, t->neg, nr, r0, o->k, 1.0f, o->scan, &t->keys, t->fields);
        /* the chains of a data-parallel run are a share chains / c_all of all chains, not c->share: -1 /
         * (c_all share) makes their sum over the processes (which scale by share) the mean over all chains */
        float sn = pcd && c->ranks > 1 ? -1.0f / ((float)t->c_all * c->share) : -1.0f / (float)nr;
        if (!s) {
            add_stats(n, x, rows, 1.0f / (float)rows, t->G, t->grad);
            add_stats(n, t->neg, nr, sn, t->G, t->grad);
        }
    }
    if (!s && c->allreduce) s = c->allreduce(t->grad, np, c->allreduce_user);
    if (s) return s;
    for (size_t i = 0; i < np; i++) t->grad[i] = -t->grad[i]; /* the optimiser descends */
    ebm_optim_set_lr(t->opt, (float)c->lr);
    s = ebm_optim_step(t->opt, m->params, t->grad, &fig->grad_norm);
    return s ? s : ebm_bm_check_finite(m); /* both fail with EBM_ENAN naming the value at fault */
}

static float *bm_params(void *self, size_t block, size_t *n) {
    bm_trainer *t = self;
    if (block > 0) return NULL;
    *n = t->m->n * t->m->n + t->m->n;
    return t->m->params;
}

static ebm_status bm_check(void *self) { return ebm_bm_check_finite(((bm_trainer *)self)->m); }

static ebm_status bm_describe(void *self, ebm_meta *mt) {
    const ebm_bm_train_opts *o = &((bm_trainer *)self)->o;
    ebm_status s = ebm_meta_set(mt, "ebm.train.method", ebm_bm_method_name(o->method));
    if (!s && o->method != EBM_BM_PL) s = ebm_meta_setf(mt, "ebm.train.k", "%zu", o->k);
    if (!s && o->method != EBM_BM_PL)
        s = ebm_meta_set(mt, "ebm.train.scan", o->scan == EBM_SCAN_RANDOM ? "random" : "systematic");
    if (!s) s = ebm_meta_set(mt, "ebm.train.optim", o->optim.kind == EBM_OPTIM_ADAM ? "adam" : "sgd");
    if (!s) s = ebm_meta_setf(mt, "ebm.train.momentum", "%g", (double)o->optim.momentum);
    if (!s) s = ebm_meta_setf(mt, "ebm.train.weight_decay", "%g", (double)o->optim.weight_decay);
    return s;
}

/* Data-parallel PCD, before a checkpoint: every process's chains into all, in global order. */
static ebm_status bm_gather(void *self, const ebm_step_ctx *c) {
    bm_trainer *t = self;
    if (!t->all) return EBM_OK;
    size_t n = t->m->n;
    memcpy(t->all + t->c0 * n, t->neg, t->chains * n * sizeof(float));
    return ebm_step_gather(c, t->all, t->c0, t->c0 + t->chains, t->c_all, n);
}

/* State for resuming: the optimiser's moments, the key stream and the PCD chains (all of them, gathered, in a
 * data-parallel run: the same tensor as one process's). */
static ebm_status bm_save_state(void *self, ebm_tensors *out) {
    bm_trainer *t = self;
    if (!t->opt) return ebm_fail(EBM_EINVAL, "the Boltzmann machine trainer has not begun");
    ebm_status s = ebm_optim_save_state(t->opt, "train.optim", out);
    if (!s) s = ebm_state_put_rng(out, "train.rng.keys", &t->keys);
    if (!s && t->o.method == EBM_BM_PCD) {
        size_t sh[2] = {t->c_all, t->m->n};
        s = ebm_tensors_put(out, "train.chains", EBM_F32, 2, sh, t->all ? t->all : t->neg);
    }
    return s;
}

static ebm_status bm_load_state(void *self, const ebm_tensors *in) {
    bm_trainer *t = self;
    if (!t->opt) return ebm_fail(EBM_EINVAL, "the Boltzmann machine trainer has not begun");
    ebm_status s = ebm_optim_load_state(t->opt, "train.optim", in);
    if (!s) s = ebm_state_get_rng(in, "train.rng.keys", &t->keys);
    if (!s && t->o.method == EBM_BM_PCD) /* this process's chains of all of them */
        s = ebm_state_get_f32_rows(in, "train.chains", t->c_all, t->m->n, t->c0, t->chains, t->neg);
    return s;
}

static void bm_destroy(void *self) {
    if (!self) return;
    bm_free_ws(self);
    free(self);
}

static const ebm_trainer_ops bm_ops = {
    .name = "bm",
    .begin = bm_begin,
    .step = bm_step,
    .params = bm_params,
    .check = bm_check,
    .checks_finite = 1,
    .describe = bm_describe,
    .save_state = bm_save_state,
    .load_state = bm_load_state,
    .destroy = bm_destroy,
    .shard = bm_shard,
    .gather = bm_gather,
};

ebm_status ebm_bm_trainer_new(ebm_bm *m, const ebm_bm_train_opts *o, ebm_trainer **out) {
    *out = NULL;
    if (o->method != EBM_BM_CD && o->method != EBM_BM_PCD && o->method != EBM_BM_PL)
        return ebm_fail(EBM_EINVAL, "unknown training method %d", (int)o->method);
    if (o->method != EBM_BM_PL && o->k == 0) return ebm_fail(EBM_EINVAL, "CD/PCD need k >= 1 Gibbs sweeps");
    if (o->batch == 0 || o->epochs == 0) return ebm_fail(EBM_EINVAL, "batch and epochs must be >= 1");
    bm_trainer *t = calloc(1, sizeof *t);
    if (!t) return ebm_fail(EBM_ENOMEM, "out of memory for a trainer");
    t->m = m;
    t->o = *o;
    return ebm_trainer_new(&bm_ops, t, out);
}

void ebm_bm_run_opts(const ebm_bm_train_opts *o, ebm_run_opts *r) {
    ebm_run_opts_default(r);
    r->epochs = o->epochs;
    r->batch = o->batch;
    r->shuffle = o->shuffle;
    r->seed = o->seed;
    r->shuffle_stream = 1;
    r->lr = o->optim.lr;
    r->rollback = EBM_ROLLBACK_EPOCH;
}

/* ebm_bm_train's callbacks in the form of ebm_run's. */
static int on_step(const ebm_run_progress *p, void *user) {
    const ebm_bm_train_opts *o = user;
    return ebm_run_call_progress(o->on_batch, o->user, p, NAN);
}
static int on_epoch(const ebm_run_progress *p, void *user) {
    const ebm_bm_train_opts *o = user;
    return ebm_run_call_progress(o->on_epoch, o->user, p, NAN);
}

ebm_status ebm_bm_train(ebm_bm *m, const ebm_mat *data, const ebm_bm_train_opts *o) {
    if (data->cols != m->n)
        return ebm_fail(EBM_ESHAPE, "data has %zu columns but the Boltzmann machine has %zu units", data->cols, m->n);
    if (data->rows == 0) return ebm_fail(EBM_EINVAL, "no training rows");
    ebm_trainer *t;
    ebm_status s = ebm_bm_trainer_new(m, o, &t);
    if (s) return s;
    ebm_run_opts r;
    ebm_bm_run_opts(o, &r);
    r.on_step = on_step;
    r.on_epoch = on_epoch;
    r.user = (void *)o;
    s = ebm_run(t, data, NULL, &r, NULL);
    ebm_trainer_free(t);
    if (s == EBM_ENAN) {
        char what[512];
        snprintf(what, sizeof what, "%s", ebm_last_error());
        s = ebm_fail(EBM_ENAN, "%s; try a smaller learning rate", what);
    }
    return s;
}
