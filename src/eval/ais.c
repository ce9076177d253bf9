/* Annealed importance sampling (Neal 2001, "Annealed importance sampling", Statistics and Computing 11)
 * for the partition function of an RBM, as in Salakhutdinov & Murray 2008, "On the quantitative analysis
 * of deep belief networks" (ICML), section 4.1.  The path of unnormalised distributions is
 *   p*_beta(v) = exp((1 - beta) c'v + beta a'v) prod_j (1 + exp(beta (b_j + (v'W)_j)))      (eq. 12-13)
 * from a base model with visible biases c and no interactions (beta = 0: log Z_0 = sum_i softplus(c_i) +
 * n_hid log 2, exact) to the RBM (beta = 1).  A run draws v exactly from the base and, for k = 1..K,
 * adds log p*_k(v) - log p*_{k-1}(v) to its log weight and then moves v by one block-Gibbs transition
 * that leaves p_k invariant (h_j ~ sigmoid(beta_k (b_j + (v'W)_j)), v_i ~ sigmoid((1 - beta_k) c_i +
 * beta_k (a_i + (Wh)_i))).  Then mean(w) estimates Z_K / Z_0 without bias.  Reverse AIS (Burda, Grosse &
 * Salakhutdinov 2015) starts from exact samples of the RBM and walks the same path backwards; its weights
 * estimate Z_0 / Z_K, so log Z comes out biased high where forward AIS is biased low.
 *
 * The annealing path is a seam: the driver sees only ais_path (exact base draws, and a step that adds a
 * log-ratio and moves the states), so another model (the Gaussian-Bernoulli RBM, whose base is a
 * factorised Gaussian with the data's mean and variance) plugs in by providing those two functions.
 * Every run is one row of a batch: two products per step for all runs, log weights in double, per-row
 * random streams, so the estimate is reproducible and independent of the thread count.
 *
 * The products: v and h are binary, and a chain flips few of its units from one step to the next (about
 * 17% of the visible and 4% of the hidden units of a Fashion-MNIST RBM near beta = 1), so v'W and h W' are
 * kept per chain and updated by adding and subtracting the rows of W (and W') of the units that flipped
 * (ebm_binmm_step), recomputed from scratch every AIS_REFRESH steps: fp32 sums, a third of the time of
 * OpenBLAS's dense products here.  ebm_ais_opts.precision is checked but changes nothing: bf16 products
 * would be slower than these and less exact.  The chains are independent, so a parallel region spans
 * AIS_BLOCK steps: a thread takes its rows from v'W through the log weights to h W', the new v and on to
 * the next step without a barrier. */
#include "eval/ais_internal.h"
#include "models/model_internal.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ---- the RBM's path ---- */

/* Steps between recomputations of the products the chains update by their flips (ebm_binmm_step). */
#define AIS_REFRESH 256
/* Steps per parallel region of a path whose runs are independent (their keys drawn ahead). */
#define AIS_BLOCK 4096

typedef struct {
    ais_path path;
    const ebm_rbm *m;
    float *base;        /* (n_vis) base visible biases c */
    float *vbias;       /* (threads, n_vis) (1 - beta) c + beta a, for each thread's current step */
    double *dvis;       /* (n_vis) a - c */
    float *z;           /* (runs, n_hid) v'W */
    float *h;           /* (runs, n_hid) */
    float *pv;          /* (runs, n_vis) */
    double *part;       /* (runs, n_hid / 16 + 1): per output block of v'W, its rows' log-ratio terms */
    double *vis;        /* (runs) (a - c)'v */
    ebm_flip_pair fl;   /* the chains' v'W and h W', updated by the units that flipped */
} rbm_path;

static void rbm_sample_base(ais_path *p, float *v, size_t n, uint64_t key) {
    rbm_path *r = (rbm_path *)p;
    size_t nv = r->m->n_vis;
#pragma omp parallel for schedule(static) if (n * nv >= 65536)
    for (size_t i = 0; i < n; i++) {
        float *row = v + i * nv;
        ebm_rng_fill_uniform(key, p->run0 + i, 0, row, nv);
        for (size_t j = 0; j < nv; j++) row[j] = row[j] < (float)ebm_sigmoid(r->base[j]) ? 1.0f : 0.0f;
    }
}

/* The epilogue of v'W, on each output block while it is in cache: the block's share of
 * sum_j softplus(b1 (b_j + (v'W)_j)) - softplus(b0 (...)) per row, into that row's slot for the block (its
 * first column / 16: the blocks depend only on the shapes, so the sums do not depend on the thread count),
 * the visible term (a - c)'v for the block that starts at column 0, and then, when the states move, the
 * hidden draws at beta b1. */
typedef struct {
    rbm_path *r;
    const float *v;
    double b0, b1;
    ebm_sigbern move;   /* x == NULL: no move */
} vw_epilogue;

static void vw_block(void *ctx, size_t r0, size_t r1, size_t c0, size_t c1) {
    const vw_epilogue *e = ctx;
    const rbm_path *r = e->r;
    const ebm_rbm *m = r->m;
    size_t nv = m->n_vis, nh = m->n_hid, slots = nh / 16 + 1;
    for (size_t i = r0; i < r1; i++) {
        const float *zr = r->z + i * nh + c0;
        r->part[i * slots + c0 / 16] = ebm_k_softplus_row2(zr, m->b + c0, c1 - c0, e->b0, e->b1);
        if (c0 == 0) {
            const float *vr = e->v + i * nv;
            double vis = 0;
#pragma omp simd reduction(+ : vis)
            for (size_t j = 0; j < nv; j++) vis += r->dvis[j] * vr[j];
            r->vis[i] = vis;
        }
    }
    if (e->move.x) ebm_k_sigbern_ep((void *)&e->move, r0, r1, c0, c1);
}

/* Called by every thread of the driver's region (path.threads), on the thread's rows (ebm_binmm_rows):
 * the chains are independent, so a thread takes its rows from v'W through the log weights to h W' and the
 * new v, and on to the next step, without waiting for the others. */
static void rbm_step(ais_path *p, size_t k, double b0, double b1, float *v, size_t n, double *logw, uint64_t k1,
                     uint64_t k2, int move) {
    rbm_path *r = (rbm_path *)p;
    const ebm_rbm *m = r->m;
    size_t nv = m->n_vis, nh = m->n_hid, slots = nh / 16 + 1, r0, r1;
    ebm_binmm_rows(r->fl.vw, &r0, &r1);
    if (r0 == r1) return;
    memset(r->part + r0 * slots, 0, (r1 - r0) * slots * sizeof(double));
    vw_epilogue e = {r, v, b0, b1, {0}};
    if (move) e.move = (ebm_sigbern){r->z, nh, m->b, (float)b1, k1, p->run0, 0, r->h, nh, n, 1.0f, 1.0f};
    ebm_gemm_ep ep = {vw_block, &e};
    int refresh = k % AIS_REFRESH == 0;
    ebm_binmm_step_in(r->fl.vw, refresh, 1.0f, v, nv, m->W, nh, r->z, nh, &ep);
    double db = b1 - b0;
    for (size_t i = r0; i < r1; i++) {
        double sp = 0;
        for (size_t q = 0; q < slots; q++) sp += r->part[i * slots + q];
        logw[i] += db * r->vis[i] + sp;
    }
    if (!move) return;
    float *vbias = r->vbias + (size_t)omp_get_thread_num() * nv;
    for (size_t j = 0; j < nv; j++) vbias[j] = (float)((1.0 - b1) * r->base[j] + b1 * m->a[j]);
    ebm_sigbern ev = {r->pv, nv, vbias, 1.0f, k2, p->run0, 0, v, nv, n, 1.0f, 1.0f};
    ebm_gemm_ep epv = {ebm_k_sigbern_ep, &ev};
    ebm_binmm_step_in(r->fl.hw, refresh, (float)b1, r->h, nh, r->fl.wt, nv, r->pv, nv, &epv);
}

static void rbm_path_free(rbm_path *r) {
    ebm_free(r->base);
    ebm_free(r->vbias);
    free(r->dvis);
    ebm_free(r->z);
    ebm_free(r->h);
    ebm_free(r->pv);
    free(r->part);
    free(r->vis);
    ebm_flip_pair_free(&r->fl);
    memset(r, 0, sizeof *r);
}

static ebm_status rbm_path_make(rbm_path *r, const ebm_rbm *m, const float *base, size_t runs) {
    memset(r, 0, sizeof *r);
    size_t nv = m->n_vis, nh = m->n_hid;
    r->m = m;
    r->base = ebm_calloc(nv, sizeof(float));
    r->path.threads = runs >= 8 && runs * nh >= 4096 ? (size_t)omp_get_max_threads() : 1;
    r->vbias = ebm_calloc(r->path.threads, nv * sizeof(float));
    r->dvis = calloc(nv, sizeof(double));
    r->z = ebm_calloc(runs, nh * sizeof(float));
    r->h = ebm_calloc(runs, nh * sizeof(float));
    r->pv = ebm_calloc(runs, nv * sizeof(float));
    r->part = calloc(runs * (nh / 16 + 1), sizeof(double));
    r->vis = calloc(runs, sizeof(double));
    if (!r->base || !r->vbias || !r->dvis || !r->z || !r->h || !r->pv || !r->part || !r->vis ||
        ebm_flip_pair_new(runs, nv, nh, &r->fl)) {
        rbm_path_free(r);
        return ebm_fail(EBM_ENOMEM, "out of memory for %zu AIS runs", runs);
    }
    if (base) memcpy(r->base, base, nv * sizeof(float));
    ebm_transpose(m->W, nv, nh, r->fl.wt);
    double lz = (double)nh * log(2.0);
    for (size_t j = 0; j < nv; j++) {
        if (!isfinite(r->base[j])) {
            rbm_path_free(r);
            return ebm_fail(EBM_EINVAL, "AIS base bias %zu is not finite", j);
        }
        lz += ebm_softplus(r->base[j]);
        r->dvis[j] = (double)m->a[j] - (double)r->base[j];
    }
    r->path.dim = nv;
    r->path.log_z_base = lz;
    r->path.sample_base = rbm_sample_base;
    r->path.step = rbm_step;
    return EBM_OK;
}

/* ---- the driver ---- */

void ebm_ais_opts_default(ebm_ais_opts *o) {
    memset(o, 0, sizeof *o);
    o->runs = 100;
    o->steps = EBM_AIS_DEFAULT_STEPS;
    o->seed = 1;
}

ebm_status ebm_ais_schedule(size_t steps, double *betas) {
    if (steps < 3) return ebm_fail(EBM_EINVAL, "an AIS schedule needs at least 3 steps, got %zu", steps);
    /* 500 : 4000 : 10000 of the transitions on [0, .5], [.5, .9], [.9, 1], at least one in each */
    size_t n1 = (size_t)((double)steps * 500.0 / 14500.0 + 0.5), n2 = (size_t)((double)steps * 4000.0 / 14500.0 + 0.5);
    if (n1 < 1) n1 = 1;
    if (n2 < 1) n2 = 1;
    if (n1 + n2 >= steps) n2 = steps - n1 - 1;
    size_t n3 = steps - n1 - n2;
    size_t k = 0;
    betas[k++] = 0.0;
    for (size_t i = 1; i <= n1; i++) betas[k++] = 0.5 * (double)i / (double)n1;
    for (size_t i = 1; i <= n2; i++) betas[k++] = 0.5 + 0.4 * (double)i / (double)n2;
    for (size_t i = 1; i <= n3; i++) betas[k++] = 0.9 + 0.1 * (double)i / (double)n3;
    betas[steps] = 1.0;
    return EBM_OK;
}

ebm_status ebm_ais_base_bias(const ebm_mat *data, float *base) {
    if (data->rows == 0) return ebm_fail(EBM_EINVAL, "AIS base rates need at least one data row");
    double *sum = calloc(data->cols, sizeof(double));
    if (!sum) return ebm_fail(EBM_ENOMEM, "out of memory");
    for (size_t r = 0; r < data->rows; r++)
        for (size_t j = 0; j < data->cols; j++) sum[j] += data->data[r * data->cols + j];
    for (size_t j = 0; j < data->cols; j++) {
        double p = (sum[j] + 1.0) / ((double)data->rows + 2.0);
        base[j] = (float)log(p / (1.0 - p));
    }
    free(sum);
    return EBM_OK;
}

static ebm_status check_betas(const double *b, size_t n) {
    if (n < 2) return ebm_fail(EBM_EINVAL, "an AIS schedule needs at least 2 betas");
    if (b[0] != 0.0 || b[n - 1] != 1.0) return ebm_fail(EBM_EINVAL, "an AIS schedule must run from beta 0 to beta 1");
    for (size_t k = 1; k < n; k++)
        if (!(b[k] > b[k - 1])) return ebm_fail(EBM_EINVAL, "AIS betas must increase (beta[%zu] = %g)", k, b[k]);
    return EBM_OK;
}

/* Mean, spread and effective sample size of exp(logw), computed relative to the largest weight. */
static void summarize(const double *logw, size_t M, double log_z_base, int reverse, ebm_ais_result *res) {
    double mx = -INFINITY, lmean = 0;
    for (size_t i = 0; i < M; i++) {
        mx = logw[i] > mx ? logw[i] : mx;
        lmean += logw[i] / (double)M;
    }
    double s1 = 0, s2 = 0, lvar = 0;
    for (size_t i = 0; i < M; i++) {
        double e = exp(logw[i] - mx);
        s1 += e;
        s2 += e * e;
        lvar += (logw[i] - lmean) * (logw[i] - lmean);
    }
    double mean = s1 / (double)M;
    double var = M > 1 ? (s2 - (double)M * mean * mean) / (double)(M - 1) : 0;
    double sem = sqrt(var > 0 ? var : 0) / sqrt((double)M);
    double lw = mx + log(mean), hi = mx + log(mean + 3 * sem), lo = mean > 3 * sem ? mx + log(mean - 3 * sem) : -INFINITY;
    res->log_z_base = log_z_base;
    res->ess = s1 * s1 / s2;
    res->log_w_sd = M > 1 ? sqrt(lvar / (double)(M - 1)) : 0;
    res->runs = M;
    /* calibrated on the trained RBMs of tests/test_ais.c (exact log Z known): intervals that missed the
     * truth had ESS <= 30 and sd(log w) >= 2.5; those of long schedules had ESS >= 55 and sd(log w) < 1 */
    res->warnings = (res->ess < EBM_AIS_MIN_ESS ? EBM_AIS_WARN_ESS : 0u) |
                    (res->log_w_sd > EBM_AIS_MAX_LOG_W_SD ? EBM_AIS_WARN_SPREAD : 0u);
    if (!reverse) {
        res->log_z = log_z_base + lw;
        res->log_z_lo = log_z_base + lo;
        res->log_z_hi = log_z_base + hi;
    } else {
        res->log_z = log_z_base - lw;
        res->log_z_lo = log_z_base - hi;
        res->log_z_hi = log_z_base - lo; /* +inf when the interval of the weights reaches 0 */
    }
}

ebm_status ebm_ais_summarize(const double *log_w, size_t runs, double log_z_base, int reverse, ebm_ais_result *r) {
    if (runs < 1) return ebm_fail(EBM_EINVAL, "AIS estimate from no runs");
    for (size_t i = 0; i < runs; i++)
        if (!isfinite(log_w[i])) return ebm_fail(EBM_ENAN, "AIS run %zu has a non-finite log weight", i);
    summarize(log_w, runs, log_z_base, reverse, r);
    return EBM_OK;
}

ebm_status ebm_ais_drive(ais_path *p, const double *betas, size_t nb, int reverse, float *v, size_t runs,
                         const ebm_ais_opts *o, double *logw, ebm_ais_result *res) {
    double t0 = ebm_now();
    p->run0 = o->first_run;
    ebm_rng rng;
    ebm_rng_seed(&rng, o->seed, reverse ? 12 : 11);
    memset(logw, 0, runs * sizeof(double));
    if (!reverse) p->sample_base(p, v, runs, ebm_rng_u64(&rng));
    size_t K = nb - 1, every = K / 200 ? K / 200 : 1;
    if (p->threads) {
        /* one region per AIS_BLOCK steps, whose keys are drawn ahead; thread 0 reports progress for its
         * rows, and a cancel stops every thread at its next step */
        uint64_t *keys = malloc(2 * AIS_BLOCK * sizeof(uint64_t));
        if (!keys) return ebm_fail(EBM_ENOMEM, "out of memory for the AIS keys");
        int stop = 0;
        size_t done = K;
        for (size_t k0 = 0; k0 < K && !stop; k0 += AIS_BLOCK) {
            size_t k1 = k0 + AIS_BLOCK < K ? k0 + AIS_BLOCK : K;
            for (size_t k = 0; k < 2 * (k1 - k0); k++) keys[k] = ebm_rng_u64(&rng);
#pragma omp parallel num_threads((int)p->threads)
            for (size_t k = k0; k < k1; k++) {
                int st;
#pragma omp atomic read
                st = stop;
                if (st) break;
                double b0 = reverse ? betas[K - k] : betas[k], b1 = reverse ? betas[K - k - 1] : betas[k + 1];
                p->step(p, k, b0, b1, v, runs, logw, keys[2 * (k - k0)], keys[2 * (k - k0) + 1], k + 1 < K);
                if (omp_get_thread_num() == 0 && o->progress && (k + 1) % every == 0 &&
                    o->progress((double)(k + 1) / (double)K, o->user)) {
                    done = k + 1;
#pragma omp atomic write
                    stop = 1;
                }
            }
        }
        free(keys);
        if (stop) return ebm_fail(EBM_ECANCELED, "AIS stopped after %zu of %zu steps", done, K);
    } else {
        for (size_t k = 0; k < K; k++) {
            double b0 = reverse ? betas[K - k] : betas[k], b1 = reverse ? betas[K - k - 1] : betas[k + 1];
            uint64_t k1 = ebm_rng_u64(&rng), k2 = ebm_rng_u64(&rng);
            p->step(p, k, b0, b1, v, runs, logw, k1, k2, k + 1 < K);
            if (o->progress && (k + 1) % every == 0 && o->progress((double)(k + 1) / (double)K, o->user))
                return ebm_fail(EBM_ECANCELED, "AIS stopped after %zu of %zu steps", k + 1, K);
        }
    }
    for (size_t i = 0; i < runs; i++)
        if (!isfinite(logw[i])) return ebm_fail(EBM_ENAN, "AIS run %zu has a non-finite log weight", i);
    summarize(logw, runs, p->log_z_base, reverse, res);
    res->steps = K;
    res->seconds = ebm_now() - t0;
    return EBM_OK;
}

ebm_status ebm_ais_check_runs(size_t runs) {
    if (runs < 1 || runs > (1u << 20)) return ebm_fail(EBM_EINVAL, "AIS runs must be in 1..1048576");
    return EBM_OK;
}

ebm_status ebm_ais_resolve_betas(const ebm_ais_opts *o, const double **betas, size_t *nb, double **own) {
    *own = NULL;
    *betas = o->betas;
    *nb = o->n_betas;
    if (!o->betas) {
        if (o->steps < 3 || o->steps > 100000000) return ebm_fail(EBM_EINVAL, "AIS steps must be in 3..1e8");
        *own = malloc((o->steps + 1) * sizeof(double));
        if (!*own) return ebm_fail(EBM_ENOMEM, "out of memory for the AIS schedule");
        ebm_ais_schedule(o->steps, *own);
        *betas = *own;
        *nb = o->steps + 1;
    }
    ebm_status s = check_betas(*betas, *nb);
    if (s) {
        free(*own);
        *own = NULL;
    }
    return s;
}

/* Common set-up of forward and reverse AIS on an RBM. */
static ebm_status rbm_ais(const ebm_rbm *m, const float *v0, const ebm_ais_opts *o, ebm_ais_result *res, double *log_w) {
    ebm_status s = ebm_ais_check_runs(o->runs);
    if (!s) s = ebm_rbm_check_finite(m);
    if (s) return s;
    const double *betas;
    size_t nb;
    double *own;
    s = ebm_ais_resolve_betas(o, &betas, &nb, &own);
    if (s) return s;
    rbm_path r;
    memset(&r, 0, sizeof r);
    if (!s) s = rbm_path_make(&r, m, o->base_bias, o->runs);
    ebm_precision prec; /* checked as everywhere; the binary products below need no lower precision */
    if (!s) s = ebm_precision_resolve(o->precision, &prec);
    float *v = s ? NULL : ebm_calloc(o->runs, m->n_vis * sizeof(float));
    double *lw = s ? NULL : malloc(o->runs * sizeof(double));
    if (!s && (!v || !lw)) s = ebm_fail(EBM_ENOMEM, "out of memory for %zu AIS runs", o->runs);
    if (!s) {
        if (v0) memcpy(v, v0, o->runs * m->n_vis * sizeof(float));
        s = ebm_ais_drive(&r.path, betas, nb, v0 != NULL, v, o->runs, o, lw, res);
    }
    if (!s && log_w) memcpy(log_w, lw, o->runs * sizeof(double));
    rbm_path_free(&r);
    ebm_free(v);
    free(lw);
    free(own);
    return s;
}

ebm_status ebm_rbm_ais(const ebm_rbm *m, const ebm_ais_opts *o, ebm_ais_result *r, double *log_w) {
    return rbm_ais(m, NULL, o, r, log_w);
}

ebm_status ebm_rbm_ais_reverse(const ebm_rbm *m, const float *v0, const ebm_ais_opts *o, ebm_ais_result *r,
                               double *log_w) {
    if (!v0) return ebm_fail(EBM_EINVAL, "reverse AIS needs starting states (exact samples of the model)");
    return rbm_ais(m, v0, o, r, log_w);
}

ebm_status ebm_rbm_ais_dist(const ebm_rbm *m, const ebm_mat *x, const ebm_ais_opts *opts, int reverse, ebm_comm *comm,
                            ebm_ais_result *r) {
    size_t runs = opts->runs, nv = m->n_vis;
    if (x && x->cols != nv) return ebm_fail(EBM_ESHAPE, "AIS: the data has %zu columns, the RBM %zu visible units", x->cols, nv);
    if (ebm_ais_check_runs(runs)) return EBM_EINVAL;
    float *base = x ? malloc(nv * sizeof(float)) : NULL;
    float *v0 = reverse && runs <= SIZE_MAX / sizeof(float) / nv ? malloc(runs * nv * sizeof(float)) : NULL;
    /* this process's runs [lo, hi) of all of them, in whole blocks of EBM_CHAIN_BLOCK (ebm_chain_range), so
     * that each run's products round as in one process; a process left without a block runs a copy of the
     * first run for the base's log Z and contributes no weight */
    size_t ranks = ebm_comm_size(comm), lo = 0, hi = runs;
    if (ranks > 1) ebm_chain_range(runs, ebm_comm_rank(comm), ranks, &lo, &hi);
    size_t *counts = ranks > 1 ? malloc(ranks * sizeof *counts) : NULL;
    double *lw = ranks > 1 ? malloc(runs * sizeof *lw) : NULL, spare = 0;
    ebm_status s = EBM_OK;
    if ((x && !base) || (reverse && !v0) || (ranks > 1 && (!counts || !lw)))
        s = ebm_fail(EBM_ENOMEM, "out of memory for %zu AIS runs", runs);
    if (!s && x) s = ebm_ais_base_bias(x, base);
    for (size_t k = 0; k < ranks && counts; k++) {
        size_t a0, a1;
        ebm_chain_range(runs, k, ranks, &a0, &a1);
        counts[k] = a1 - a0;
    }
    int idle = hi == lo; /* only with ranks > 1 and fewer than 48 x ranks runs (runs >= 1: checked above) */
    size_t first = idle ? 0 : lo;
    ebm_ais_opts o = *opts;
    o.base_bias = x ? base : opts->base_bias;
    o.runs = idle ? 1 : hi - lo;
    o.first_run = opts->first_run + first;
    ebm_rng rng;
    ebm_rng_seed(&rng, opts->seed, 13);
    if (!s && reverse) s = ebm_rbm_sample_exact(m, runs, &rng, v0);
    double *own = !lw ? NULL : idle ? &spare : lw + lo;
    if (!s) s = reverse ? ebm_rbm_ais_reverse(m, v0 + first * nv, &o, r, own) : ebm_rbm_ais(m, &o, r, own);
    if (!s && ranks > 1) s = ebm_comm_gather_f64(comm, lw + lo, hi - lo, counts, lw);
    if (!s && ranks > 1) s = ebm_ais_summarize(lw, runs, r->log_z_base, reverse, r);
    free(base);
    free(v0);
    free(counts);
    free(lw);
    return s;
}
