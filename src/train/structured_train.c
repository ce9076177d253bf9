/* Training and evaluation of structured-prediction energies (src/models/structured.c) with any of the ten
 * losses of LeCun et al. 2006 (src/train/structured_losses.c): one network forward over every position of the
 * batch gives the unary energies, each row's loss gives dL/dU (and dL/dP for chains) from its inference
 * (exhaustive / Viterbi / min-marginals / forward-backward), the output map's slope turns them into dL/d(raw
 * outputs), and one backward pass through the network gives dL/dtheta.  Minibatch Adam or SGD (optim.c), as a
 * trainer that the one run loop (run.c) drives. */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

/* in src/models/structured.c: out (n) = s(raw); d (n) *= s'(raw) */
void ebm_structured_map(const ebm_structured *m, const float *raw, float *out, size_t n);
void ebm_structured_map_back(const ebm_structured *m, const float *raw, float *d, size_t n);
/* *out <- the finite number stored under key, when there is one */
void ebm_structured_meta_float(const ebm_meta *mt, const char *key, float *out);

typedef struct {
    float *U, *raw, *P, *dU, *dP;
    size_t cap; /* rows */
} sp_work;

static void work_free(sp_work *w) {
    ebm_free(w->U);
    memset(w, 0, sizeof *w);
}

static ebm_status work_reserve(const ebm_structured *m, sp_work *w, size_t n) {
    if (n <= w->cap) return EBM_OK;
    work_free(w);
    size_t L = ebm_structured_labels_per_row(m), k = m->k, cells;
    if (!ebm_mul_ok(n, L * k, &cells)) return ebm_fail(EBM_ENOMEM, "structured model: batch too large");
    w->U = ebm_calloc(3 * cells + 2 * k * k, sizeof(float));
    if (!w->U) return ebm_fail(EBM_ENOMEM, "out of memory for a batch of %zu rows", n);
    w->raw = w->U + cells;
    w->dU = w->raw + cells;
    w->P = w->dU + cells;
    w->dP = w->P + k * k;
    w->cap = n;
    return EBM_OK;
}

static ebm_status check_labels(const ebm_structured *m, const int32_t *y, size_t n) {
    size_t L = ebm_structured_labels_per_row(m);
    for (size_t i = 0; i < n * L; i++)
        if (y[i] < 0 || (size_t)y[i] >= m->k)
            return ebm_fail(EBM_EINVAL, "structured model: label %d of row %zu is not in 0..%zu", (int)y[i], i / L, m->k - 1);
    return EBM_OK;
}

static ebm_status loss_grad_work(ebm_structured *m, const ebm_structured_loss_opts *o, const float *x, const int32_t *y,
                                 size_t n, double *loss, float *grad_net, float *grad_pair, sp_work *w) {
    if (n == 0) return ebm_fail(EBM_EINVAL, "structured loss: no rows");
    if (ebm_structured_loss_needs_nonneg(o->loss) && m->out == EBM_STRUCTURED_OUT_RAW)
        return ebm_fail(EBM_EINVAL, "the %s loss assumes non-negative energies: use the softplus or square output, not raw",
                        ebm_structured_loss_name(o->loss));
    ebm_status s = check_labels(m, y, n);
    if (!s) s = work_reserve(m, w, n);
    if (s) return s;
    size_t L = ebm_structured_labels_per_row(m), k = m->k, cells = n * L * k;
    const float *P = m->pair ? w->P : NULL;
    if ((s = ebm_net_forward(m->net, x, n * L, w->raw))) return s;
    ebm_structured_map(m, w->raw, w->U, cells);
    if (m->pair) ebm_structured_map(m, m->pair, w->P, k * k);
    bool grad = grad_net || grad_pair;
    if (grad) {
        memset(w->dU, 0, cells * sizeof(float));
        memset(w->dP, 0, k * k * sizeof(float));
    }
    double total = 0;
    for (size_t i = 0; !s && i < n; i++) {
        double l;
        s = ebm_structured_chain_loss(o, w->U + i * L * k, P, L, k, y + i * L, &l, grad ? w->dU + i * L * k : NULL,
                              grad ? w->dP : NULL);
        total += l;
    }
    if (s) return s;
    if (!isfinite(total)) return ebm_fail(EBM_ENAN, "structured loss is not finite");
    *loss = total / (double)n;
    if (!grad) return EBM_OK;
    ebm_structured_map_back(m, w->raw, w->dU, cells);
    float inv = 1.0f / (float)n;
    for (size_t i = 0; i < cells; i++) w->dU[i] *= inv;
    if (grad_net && (s = ebm_net_backward(m->net, w->dU, n * L, grad_net, NULL))) return s;
    if (grad_pair && m->pair) {
        ebm_structured_map_back(m, m->pair, w->dP, k * k);
        for (size_t i = 0; i < k * k; i++) grad_pair[i] += inv * w->dP[i];
    }
    return EBM_OK;
}

ebm_status ebm_structured_loss_grad(ebm_structured *m, const ebm_structured_loss_opts *o, const float *x,
                                    const int32_t *y, size_t n, double *loss, float *grad_net, float *grad_pair) {
    sp_work w = {0};
    ebm_status s = loss_grad_work(m, o, x, y, n, loss, grad_net, grad_pair, &w);
    work_free(&w);
    return s;
}

void ebm_structured_train_opts_default(ebm_structured_train_opts *o) {
    memset(o, 0, sizeof *o);
    ebm_structured_loss_opts_default(&o->loss);
    ebm_optim_opts_default(&o->optim);
    o->optim.lr = 1e-3f;
    o->epochs = 3;
    o->batch = 64;
    o->seed = 1;
}

/* The trainer: the model, one optimiser per parameter block, the batch's labels and gradients. */
typedef struct {
    ebm_structured *m;
    ebm_structured_train_opts o;
    ebm_optim *opt_net, *opt_pair;
    sp_work w;
    const int32_t *labels; /* the run's (rows, labels per row) */
    int32_t *yb;           /* (batch, labels per row) */
    float *g, *gp;         /* (n_params) the network's gradient, then (k, k) the pairwise table's */
    size_t np;
} sp_trainer;

static void trainer_release(sp_trainer *t) {
    work_free(&t->w);
    ebm_optim_free(t->opt_net);
    ebm_optim_free(t->opt_pair);
    free(t->yb);
    ebm_free(t->g);
    t->opt_net = t->opt_pair = NULL;
    t->yb = NULL;
    t->g = t->gp = NULL;
}

static ebm_status sp_begin(void *self, const ebm_mat *data, const int32_t *labels, size_t batch, uint64_t seed) {
    sp_trainer *t = self;
    ebm_structured *m = t->m;
    (void)seed; /* the shuffle is the driver's; nothing else draws */
    if (!labels) return ebm_fail(EBM_EINVAL, "structured training: labels are required");
    if (data->cols != ebm_structured_row_size(m))
        return ebm_fail(EBM_ESHAPE, "structured training: data rows have %zu values, the model takes %zu", data->cols,
                        ebm_structured_row_size(m));
    ebm_status s = check_labels(m, labels, data->rows);
    if (s) return s;
    trainer_release(t);
    size_t L = ebm_structured_labels_per_row(m), k = m->k;
    ebm_net_params(m->net, &t->np);
    t->labels = labels;
    t->g = ebm_calloc(t->np + k * k, sizeof(float));
    t->yb = malloc(batch * L * sizeof(int32_t));
    if (!t->g || !t->yb) return ebm_fail(EBM_ENOMEM, "out of memory");
    t->gp = t->g + t->np;
    s = ebm_optim_new(t->np, &t->o.optim, &t->opt_net);
    if (!s && m->pair) s = ebm_optim_new(k * k, &t->o.optim, &t->opt_pair);
    if (!s) s = work_reserve(m, &t->w, batch);
    return s;
}

static ebm_status sp_step(void *self, float *x, const size_t *rows, size_t n, const ebm_step_ctx *c, ebm_figures *fig) {
    sp_trainer *t = self;
    ebm_structured *m = t->m;
    size_t L = ebm_structured_labels_per_row(m), k = m->k, ng = t->np + (m->pair ? k * k : 0);
    for (size_t i = 0; i < n; i++) memcpy(t->yb + i * L, t->labels + rows[i] * L, L * sizeof(int32_t));
    memset(t->g, 0, (t->np + k * k) * sizeof(float));
    double l;
    ebm_status s = loss_grad_work(m, &t->o.loss, x, t->yb, n, &l, t->g, m->pair ? t->gp : NULL, &t->w);
    if (!s && c->allreduce) s = c->allreduce(t->g, ng, c->allreduce_user);
    if (s) return s;
    ebm_optim_set_lr(t->opt_net, (float)c->lr);
    s = ebm_optim_step(t->opt_net, ebm_net_params(m->net, NULL), t->g, &fig->grad_norm);
    if (!s && m->pair) {
        ebm_optim_set_lr(t->opt_pair, (float)c->lr);
        s = ebm_optim_step(t->opt_pair, m->pair, t->gp, NULL);
    }
    fig->loss = l;
    return s;
}

static float *sp_params(void *self, size_t block, size_t *n) {
    sp_trainer *t = self;
    if (block == 0) return ebm_net_params(t->m->net, n);
    if (block > 1 || !t->m->pair) return NULL;
    *n = t->m->k * t->m->k;
    return t->m->pair;
}

static ebm_status sp_check(void *self) {
    sp_trainer *t = self;
    size_t n, bad;
    const float *theta = ebm_net_params(t->m->net, &n);
    if (!ebm_k_all_finite(theta, n, &bad))
        return ebm_fail(EBM_ENAN, "structured training: network parameter %zu became non-finite", bad);
    if (t->m->pair && !ebm_k_all_finite(t->m->pair, t->m->k * t->m->k, &bad))
        return ebm_fail(EBM_ENAN, "structured training: pairwise energy %zu became non-finite", bad);
    return EBM_OK;
}

/* The loss (ebm.sp.*, which ebm eval reads back) and the optimiser. */
static ebm_status sp_describe(void *self, ebm_meta *mt) {
    const ebm_structured_train_opts *o = &((sp_trainer *)self)->o;
    ebm_status s = ebm_meta_set(mt, "ebm.sp.loss", ebm_structured_loss_name(o->loss.loss));
    if (!s) s = ebm_meta_setf(mt, "ebm.sp.margin", "%g", (double)o->loss.margin);
    if (!s) s = ebm_meta_setf(mt, "ebm.sp.beta", "%g", (double)o->loss.beta);
    if (!s) s = ebm_meta_setf(mt, "ebm.sp.gamma", "%g", (double)o->loss.gamma);
    if (!s) s = ebm_meta_setf(mt, "ebm.sp.lvq2_max", "%g", (double)o->loss.lvq2_max);
    if (!s)
        s = ebm_meta_setf(mt, "ebm.train.optimizer", "%s lr %g wd %g clip %g",
                          o->optim.kind == EBM_OPTIM_SGD ? "sgd" : "adam", (double)o->optim.lr,
                          (double)o->optim.weight_decay, (double)o->optim.clip);
    return s;
}

void ebm_structured_loss_opts_from_meta(const ebm_meta *mt, ebm_structured_loss_opts *o) {
    ebm_structured_loss_opts_default(o);
    const char *l = ebm_meta_get(mt, "ebm.sp.loss");
    if (l) ebm_structured_loss_parse(l, &o->loss);
    ebm_structured_meta_float(mt, "ebm.sp.margin", &o->margin);
    ebm_structured_meta_float(mt, "ebm.sp.beta", &o->beta);
    ebm_structured_meta_float(mt, "ebm.sp.gamma", &o->gamma);
    ebm_structured_meta_float(mt, "ebm.sp.lvq2_max", &o->lvq2_max);
    if (!(o->beta > 0)) o->beta = 1;
    if (!(o->lvq2_max > 0)) o->lvq2_max = 1;
}

/* State for resuming: both optimisers' moments, and the network's spectral-normalisation vectors if it has
 * any (nothing here draws random numbers). */
static ebm_status sp_save_state(void *self, ebm_tensors *out) {
    sp_trainer *t = self;
    if (!t->opt_net) return ebm_fail(EBM_EINVAL, "the structured trainer has not begun");
    ebm_status s = ebm_optim_save_state(t->opt_net, "train.optim.net", out);
    if (!s && t->opt_pair) s = ebm_optim_save_state(t->opt_pair, "train.optim.pair", out);
    size_t ns;
    float *st = ebm_net_state(t->m->net, &ns);
    if (!s && st) s = ebm_tensors_put(out, "train.sn_state", EBM_F32, 1, &ns, st);
    return s;
}

static ebm_status sp_load_state(void *self, const ebm_tensors *in) {
    sp_trainer *t = self;
    if (!t->opt_net) return ebm_fail(EBM_EINVAL, "the structured trainer has not begun");
    ebm_status s = ebm_optim_load_state(t->opt_net, "train.optim.net", in);
    if (!s && t->opt_pair) s = ebm_optim_load_state(t->opt_pair, "train.optim.pair", in);
    size_t ns;
    float *st = ebm_net_state(t->m->net, &ns);
    if (!s && st) s = ebm_state_get_f32(in, "train.sn_state", st, ns);
    return s;
}

static void sp_destroy(void *self) {
    if (!self) return;
    trainer_release(self);
    free(self);
}

static const ebm_trainer_ops sp_ops = {
    .name = "structured",
    .begin = sp_begin,
    .step = sp_step,
    .params = sp_params,
    .check = sp_check,
    .describe = sp_describe,
    .save_state = sp_save_state,
    .load_state = sp_load_state,
    .destroy = sp_destroy,
};

ebm_status ebm_structured_trainer_new(ebm_structured *m, const ebm_structured_train_opts *o, ebm_trainer **out) {
    *out = NULL;
    if (!m || !o) return ebm_fail(EBM_EINVAL, "structured training: a model and options are required");
    sp_trainer *t = calloc(1, sizeof *t);
    if (!t) return ebm_fail(EBM_ENOMEM, "out of memory for a trainer");
    t->m = m;
    t->o = *o;
    t->o.on_batch = NULL;
    t->o.user = NULL;
    return ebm_trainer_new(&sp_ops, t, out);
}

void ebm_structured_run_opts(const ebm_structured_train_opts *o, ebm_run_opts *r) {
    ebm_run_opts_default(r);
    r->epochs = o->epochs;
    r->batch = o->batch;
    r->seed = o->seed;
    r->shuffle_stream = 0x5f;
    r->lr = o->optim.lr;
    r->rollback = EBM_ROLLBACK_STEP;
}

/* ebm_structured_train's progress: the mean of the epoch's batch losses so far, seconds since the start. */
typedef struct {
    const ebm_structured_train_opts *o;
    double sum;
} sp_cb;

static int sp_on_step(const ebm_run_progress *p, void *user) {
    sp_cb *cb = user;
    cb->sum = (p->batch == 1 ? 0 : cb->sum) + p->last.loss;
    if (!cb->o->on_batch) return 0;
    ebm_structured_progress q = {p->epoch, p->epochs, p->batch, p->batches, cb->sum / (double)p->batch,
                                 p->total_seconds};
    return cb->o->on_batch(&q, cb->o->user);
}

ebm_status ebm_structured_train(ebm_structured *m, const ebm_mat *x, const int32_t *y,
                                const ebm_structured_train_opts *o) {
    if (!m || !x || !y || !o) return ebm_fail(EBM_EINVAL, "structured training: model, data and labels are required");
    ebm_trainer *t;
    ebm_status s = ebm_structured_trainer_new(m, o, &t);
    if (s) return s;
    ebm_run_opts r;
    ebm_structured_run_opts(o, &r);
    sp_cb cb = {o, 0};
    r.on_step = sp_on_step;
    r.user = &cb;
    s = ebm_run(t, x, y, &r, NULL);
    ebm_trainer_free(t);
    return s;
}

ebm_status ebm_structured_evaluate(ebm_structured *m, const ebm_structured_loss_opts *o, const float *x,
                                   const int32_t *y, size_t n, ebm_structured_eval *r) {
    memset(r, 0, sizeof *r);
    if (n == 0) return ebm_fail(EBM_EINVAL, "structured evaluation: no rows");
    ebm_status s = check_labels(m, y, n);
    if (s) return s;
    size_t L = ebm_structured_labels_per_row(m), k = m->k, chunk = 256, d = ebm_structured_row_size(m);
    sp_work w = {0};
    int32_t *pred = malloc(2 * L * sizeof(int32_t));
    size_t *counts = calloc(2 * k, sizeof(size_t)), *truth = counts ? counts + k : NULL;
    if (!pred || !counts) s = ebm_fail(EBM_ENOMEM, "out of memory");
    if (!s) s = work_reserve(m, &w, chunk);
    double right = 0, rows_right = 0, ec = 0, eb = 0, spread = 0, loss = 0;
    for (size_t lo = 0; !s && lo < n; lo += chunk) {
        size_t nb = lo + chunk <= n ? chunk : n - lo;
        double l;
        s = loss_grad_work(m, o, x + lo * d, y + lo * L, nb, &l, NULL, NULL, &w);
        if (s) break;
        loss += l * (double)nb;
        const float *P = m->pair ? w.P : NULL;
        for (size_t i = 0; !s && i < nb; i++) {
            const float *U = w.U + i * L * k;
            const int32_t *yi = y + (lo + i) * L;
            double Eb;
            s = ebm_chain_viterbi(U, P, L, k, pred, NULL);
            if (!s) s = ebm_chain_most_offending(U, P, L, k, yi, pred + L, &Eb);
            if (s) break;
            double E = ebm_chain_energy(U, P, L, k, yi);
            ec += E;
            eb += Eb;
            size_t hits = 0;
            for (size_t t = 0; t < L; t++) {
                hits += pred[t] == yi[t];
                counts[pred[t]]++;
                truth[yi[t]]++;
                float mx = U[t * k], mn = U[t * k];
                for (size_t j = 1; j < k; j++) mx = U[t * k + j] > mx ? U[t * k + j] : mx, mn = U[t * k + j] < mn ? U[t * k + j] : mn;
                spread += (double)mx - mn;
            }
            right += (double)hits;
            rows_right += hits == L;
        }
    }
    if (!s) {
        double labels = (double)n * (double)L;
        size_t top = 0, ttop = 0;
        for (size_t j = 0; j < k; j++) top = counts[j] > top ? counts[j] : top, ttop = truth[j] > ttop ? truth[j] : ttop;
        r->accuracy = right / labels;
        r->seq_accuracy = rows_right / (double)n;
        r->loss = loss / (double)n;
        r->e_correct = ec / (double)n;
        r->e_offending = eb / (double)n;
        r->gap = r->e_offending - r->e_correct;
        r->spread = spread / labels;
        r->top_share = (double)top / labels;
        r->collapsed = r->spread <= 1e-3 * (1 + fabs(r->e_correct)) || (r->top_share >= 0.9 && (double)ttop / labels < 0.5);
    }
    work_free(&w);
    free(pred);
    free(counts);
    return s;
}
