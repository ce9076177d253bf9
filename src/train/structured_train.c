/* Training and evaluation of structured-prediction energies (src/models/structured.c) with any of the ten
 * losses of LeCun et al. 2006 (src/train/structured_losses.c): one network forward over every position of the
 * batch gives the unary energies, each row's loss gives dL/dU (and dL/dP for chains) from its inference
 * (exhaustive / Viterbi / min-marginals / forward-backward), the output map's slope turns them into dL/d(raw
 * outputs), and one backward pass through the network gives dL/dtheta.  Minibatch Adam or SGD (optim.c). */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* in src/models/structured.c: out (n) = s(raw); d (n) *= s'(raw) */
void ebm_sp_map(const ebm_sp *m, const float *raw, float *out, size_t n);
void ebm_sp_map_back(const ebm_sp *m, const float *raw, float *d, size_t n);

typedef struct {
    float *U, *raw, *P, *dU, *dP;
    size_t cap; /* rows */
} sp_work;

static void work_free(sp_work *w) {
    ebm_free(w->U);
    memset(w, 0, sizeof *w);
}

static ebm_status work_reserve(const ebm_sp *m, sp_work *w, size_t n) {
    if (n <= w->cap) return EBM_OK;
    work_free(w);
    size_t L = ebm_sp_labels_per_row(m), k = m->k, cells;
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

static ebm_status check_labels(const ebm_sp *m, const int32_t *y, size_t n) {
    size_t L = ebm_sp_labels_per_row(m);
    for (size_t i = 0; i < n * L; i++)
        if (y[i] < 0 || (size_t)y[i] >= m->k)
            return ebm_fail(EBM_EINVAL, "structured model: label %d of row %zu is not in 0..%zu", (int)y[i], i / L, m->k - 1);
    return EBM_OK;
}

static ebm_status loss_grad_work(ebm_sp *m, const ebm_sp_loss_opts *o, const float *x, const int32_t *y, size_t n,
                                 double *loss, float *grad_net, float *grad_pair, sp_work *w) {
    if (n == 0) return ebm_fail(EBM_EINVAL, "structured loss: no rows");
    if (ebm_sp_loss_needs_nonneg(o->loss) && m->out == EBM_SP_OUT_RAW)
        return ebm_fail(EBM_EINVAL, "the %s loss assumes non-negative energies: use the softplus or square output, not raw",
                        ebm_sp_loss_name(o->loss));
    ebm_status s = check_labels(m, y, n);
    if (!s) s = work_reserve(m, w, n);
    if (s) return s;
    size_t L = ebm_sp_labels_per_row(m), k = m->k, cells = n * L * k;
    const float *P = m->pair ? w->P : NULL;
    if ((s = ebm_net_forward(m->net, x, n * L, w->raw))) return s;
    ebm_sp_map(m, w->raw, w->U, cells);
    if (m->pair) ebm_sp_map(m, m->pair, w->P, k * k);
    bool grad = grad_net || grad_pair;
    if (grad) {
        memset(w->dU, 0, cells * sizeof(float));
        memset(w->dP, 0, k * k * sizeof(float));
    }
    double total = 0;
    for (size_t i = 0; !s && i < n; i++) {
        double l;
        s = ebm_sp_chain_loss(o, w->U + i * L * k, P, L, k, y + i * L, &l, grad ? w->dU + i * L * k : NULL,
                              grad ? w->dP : NULL);
        total += l;
    }
    if (s) return s;
    if (!isfinite(total)) return ebm_fail(EBM_ENAN, "structured loss is not finite");
    *loss = total / (double)n;
    if (!grad) return EBM_OK;
    ebm_sp_map_back(m, w->raw, w->dU, cells);
    float inv = 1.0f / (float)n;
    for (size_t i = 0; i < cells; i++) w->dU[i] *= inv;
    if (grad_net && (s = ebm_net_backward(m->net, w->dU, n * L, grad_net, NULL))) return s;
    if (grad_pair && m->pair) {
        ebm_sp_map_back(m, m->pair, w->dP, k * k);
        for (size_t i = 0; i < k * k; i++) grad_pair[i] += inv * w->dP[i];
    }
    return EBM_OK;
}

ebm_status ebm_sp_loss_grad(ebm_sp *m, const ebm_sp_loss_opts *o, const float *x, const int32_t *y, size_t n,
                            double *loss, float *grad_net, float *grad_pair) {
    sp_work w = {0};
    ebm_status s = loss_grad_work(m, o, x, y, n, loss, grad_net, grad_pair, &w);
    work_free(&w);
    return s;
}

void ebm_sp_train_opts_default(ebm_sp_train_opts *o) {
    memset(o, 0, sizeof *o);
    ebm_sp_loss_opts_default(&o->loss);
    ebm_optim_opts_default(&o->optim);
    o->optim.lr = 1e-3f;
    o->epochs = 3;
    o->batch = 64;
    o->seed = 1;
}

ebm_status ebm_sp_train(ebm_sp *m, const ebm_mat *x, const int32_t *y, const ebm_sp_train_opts *o) {
    if (!m || !x || !y) return ebm_fail(EBM_EINVAL, "structured training: model, data and labels are required");
    if (x->cols != ebm_sp_row_size(m))
        return ebm_fail(EBM_ESHAPE, "structured training: data rows have %zu values, the model takes %zu", x->cols,
                        ebm_sp_row_size(m));
    if (x->rows == 0 || o->batch == 0 || o->epochs == 0) return ebm_fail(EBM_EINVAL, "structured training: no data, batch or epochs");
    ebm_status s = check_labels(m, y, x->rows);
    if (s) return s;
    size_t n = x->rows, L = ebm_sp_labels_per_row(m), k = m->k, np, d = x->cols;
    size_t batch = o->batch < n ? o->batch : n, batches = (n + batch - 1) / batch;
    float *theta = ebm_net_params(m->net, &np);
    ebm_optim *opt_net = NULL, *opt_pair = NULL;
    sp_work w = {0};
    size_t *idx = malloc(n * sizeof(size_t));
    float *g = ebm_calloc(np + 2 * k * k + batch * d, sizeof(float));
    int32_t *yb = malloc(batch * L * sizeof(int32_t));
    float *gp = g ? g + np : NULL, *keep = gp ? gp + k * k : NULL, *xb = keep ? keep + k * k : NULL;
    float *saved = ebm_calloc(np, sizeof(float));
    if (!idx || !g || !yb || !saved) s = ebm_fail(EBM_ENOMEM, "out of memory");
    if (!s) s = ebm_optim_new(np, &o->optim, &opt_net);
    if (!s && m->pair) s = ebm_optim_new(k * k, &o->optim, &opt_pair);
    if (!s) s = work_reserve(m, &w, batch);
    ebm_rng rng;
    ebm_rng_seed(&rng, o->seed, 0x5f);
    double t0 = 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t0 = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    for (size_t i = 0; i < n; i++) idx[i] = i;
    for (size_t ep = 0; !s && ep < o->epochs; ep++) {
        ebm_rng_permutation(&rng, idx, n);
        double sum = 0;
        for (size_t b = 0; !s && b < batches; b++) {
            size_t lo = b * batch, nb = lo + batch <= n ? batch : n - lo;
            for (size_t i = 0; i < nb; i++) {
                memcpy(xb + i * d, x->data + idx[lo + i] * d, d * sizeof(float));
                memcpy(yb + i * L, y + idx[lo + i] * L, L * sizeof(int32_t));
            }
            memset(g, 0, (np + k * k) * sizeof(float));
            memcpy(saved, theta, np * sizeof(float));
            if (m->pair) memcpy(keep, m->pair, k * k * sizeof(float));
            double l;
            s = loss_grad_work(m, &o->loss, xb, yb, nb, &l, g, m->pair ? gp : NULL, &w);
            if (!s) s = ebm_optim_step(opt_net, theta, g, NULL);
            if (!s && m->pair) s = ebm_optim_step(opt_pair, m->pair, gp, NULL);
            size_t bad;
            if (!s && (!ebm_k_all_finite(theta, np, &bad) || (m->pair && !ebm_k_all_finite(m->pair, k * k, &bad))))
                s = ebm_fail(EBM_ENAN, "structured training: a parameter became non-finite in epoch %zu, batch %zu", ep + 1, b + 1);
            if (s == EBM_ENAN) {
                memcpy(theta, saved, np * sizeof(float));
                if (m->pair) memcpy(m->pair, keep, k * k * sizeof(float));
                break;
            }
            if (s) break;
            sum += l;
            if (o->on_batch) {
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ebm_sp_progress p = {ep + 1, o->epochs, b + 1, batches, sum / (double)(b + 1),
                                     (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec - t0};
                if (o->on_batch(&p, o->user)) s = ebm_fail(EBM_ECANCELED, "stopped by the callback in epoch %zu, batch %zu", ep + 1, b + 1);
            }
        }
    }
    work_free(&w);
    ebm_optim_free(opt_net);
    ebm_optim_free(opt_pair);
    free(idx);
    free(yb);
    ebm_free(g);
    ebm_free(saved);
    return s;
}

ebm_status ebm_sp_evaluate(ebm_sp *m, const ebm_sp_loss_opts *o, const float *x, const int32_t *y, size_t n,
                           ebm_sp_eval *r) {
    memset(r, 0, sizeof *r);
    if (n == 0) return ebm_fail(EBM_EINVAL, "structured evaluation: no rows");
    ebm_status s = check_labels(m, y, n);
    if (s) return s;
    size_t L = ebm_sp_labels_per_row(m), k = m->k, chunk = 256, d = ebm_sp_row_size(m);
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
