/* The one training loop.  Every trainer (CD/PCD for RBMs, the GRBM's CD from noise, the Boltzmann machine's
 * CD/PCD/pseudo-likelihood, Langevin contrastive divergence for energy networks, JEM, structured prediction)
 * is an ebm_trainer_ops table whose step updates the parameters on one mini-batch; this file owns what is the
 * same for all of them: the order of the rows (a permutation per epoch from the seeded stream (seed,
 * shuffle_stream), so a run is reproducible bit for bit), the mini-batches, the learning-rate schedule
 * (constant, linear decay per update as in Hinton's practical guide, section 4; cosine per epoch as PyTorch's
 * CosineAnnealingLR), progress and cancellation, the roll-back to the last good parameters when an update goes
 * non-finite, and checkpoints from which a run resumes bit for bit: a checkpoint holds the parameters, the
 * trainer's state (ops->save_state) and the loop's own position (the permutation under way, the shuffle
 * stream, the epoch's running means, the roll-back snapshot), with a fingerprint of the data and settings
 * that a resume must match.  Work space is allocated once per run.
 *
 * Data-parallel runs (ranks > 1, the pattern of llm.c and PyTorch DDP): every process draws the same
 * permutation and takes a contiguous slice of every global batch; the trainer's gradient, a mean over its
 * local rows, is scaled by the slice's share of the batch and summed by the caller's all-reduce, so every
 * process applies the global batch's update.  The figures are summed the same way, weighted by rows, and a
 * stop asked on any process is summed too, so all processes stop after the same update. */
#include "train/train_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct run_state run_state;

struct ebm_trainer {
    const ebm_trainer_ops *ops;
    void *self;
    run_state *run; /* the run under way (ebm_run_checkpoint), NULL outside ebm_run */
};

ebm_status ebm_trainer_new(const ebm_trainer_ops *ops, void *self, ebm_trainer **out) {
    *out = NULL;
    if (!ops || !ops->step || !ops->params) {
        if (ops && ops->destroy) ops->destroy(self);
        return ebm_fail(EBM_EINVAL, "a trainer needs step and params operations");
    }
    ebm_trainer *t = calloc(1, sizeof *t);
    if (!t) {
        if (ops->destroy) ops->destroy(self);
        return ebm_fail(EBM_ENOMEM, "out of memory for a trainer");
    }
    t->ops = ops;
    t->self = self;
    *out = t;
    return EBM_OK;
}

void ebm_trainer_free(ebm_trainer *t) {
    if (!t) return;
    if (t->ops->destroy) t->ops->destroy(t->self);
    free(t);
}

const char *ebm_trainer_name(const ebm_trainer *t) { return t->ops->name ? t->ops->name : "custom"; }
void *ebm_trainer_self(ebm_trainer *t) { return t->self; }

ebm_status ebm_trainer_save_state(ebm_trainer *t, ebm_tensors *out) {
    if (!t->ops->save_state) return ebm_fail(EBM_ENOTSUP, "the %s trainer cannot save its state", ebm_trainer_name(t));
    return t->ops->save_state(t->self, out);
}

ebm_status ebm_trainer_load_state(ebm_trainer *t, const ebm_tensors *in) {
    if (!t->ops->load_state) return ebm_fail(EBM_ENOTSUP, "the %s trainer cannot load a state", ebm_trainer_name(t));
    return t->ops->load_state(t->self, in);
}

ebm_status ebm_state_put_rng(ebm_tensors *t, const char *name, const ebm_rng *r) {
    size_t shape[1] = {sizeof *r};
    return ebm_tensors_put(t, name, EBM_U8, 1, shape, r);
}

static const ebm_array *state_tensor(const ebm_tensors *t, const char *name, ebm_dtype type, size_t bytes) {
    const ebm_array *a = ebm_tensors_get(t, name);
    if (!a) {
        ebm_fail(EBM_EFORMAT, "training state: no tensor '%s'", name);
        return NULL;
    }
    if (a->dtype != type || ebm_array_numel(a) * ebm_dtype_size(type) != bytes) {
        ebm_fail(EBM_EFORMAT, "training state: tensor '%s' is %zu values of %s, expected %zu bytes of %s", name,
                 ebm_array_numel(a), ebm_dtype_name(a->dtype), bytes, ebm_dtype_name(type));
        return NULL;
    }
    return a;
}

ebm_status ebm_state_get_rng(const ebm_tensors *t, const char *name, ebm_rng *r) {
    const ebm_array *a = state_tensor(t, name, EBM_U8, sizeof *r);
    if (!a) return EBM_EFORMAT;
    memcpy(r, a->data, sizeof *r);
    return EBM_OK;
}

ebm_status ebm_state_get_f32(const ebm_tensors *t, const char *name, float *out, size_t n) {
    const ebm_array *a = state_tensor(t, name, EBM_F32, n * sizeof(float));
    if (!a) return EBM_EFORMAT;
    memcpy(out, a->data, n * sizeof(float));
    return EBM_OK;
}

ebm_status ebm_state_get_f32_rows(const ebm_tensors *t, const char *name, size_t rows_all, size_t width, size_t r0,
                                  size_t n, float *out) {
    const ebm_array *a = state_tensor(t, name, EBM_F32, rows_all * width * sizeof(float));
    if (!a) return EBM_EFORMAT;
    memcpy(out, (const float *)a->data + r0 * width, n * width * sizeof(float));
    return EBM_OK;
}

void ebm_figures_clear(ebm_figures *f) {
    f->loss = f->recon = f->e_pos = f->e_neg = f->grad_norm = f->accept = f->extra = NAN;
}

void ebm_shard_range(size_t n, size_t rank, size_t ranks, size_t *lo, size_t *hi) {
    if (ranks < 1) ranks = 1;
    size_t q = n / ranks, r = n % ranks;
    *lo = rank * q + (rank < r ? rank : r);
    *hi = *lo + q + (rank < r ? 1 : 0);
}

uint64_t ebm_shard_seed(uint64_t seed, size_t rank) {
    if (rank == 0) return seed;
    uint64_t z = seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)rank); /* splitmix64's finaliser */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void ebm_run_opts_default(ebm_run_opts *o) {
    memset(o, 0, sizeof *o);
    o->epochs = 10;
    o->batch = 100;
    o->shuffle = 1;
    o->seed = 1;
    o->shuffle_stream = 1;
    o->lr = 0.01f;
    o->lr_final = 0.0f;
    o->schedule = EBM_LR_CONSTANT;
    o->rollback = EBM_ROLLBACK_EPOCH;
    o->rank = 0;
    o->ranks = 1;
    o->give_way = 1;
}

static ebm_status check_opts(const ebm_run_opts *o, const ebm_mat *data) {
    if (!data || data->rows == 0) return ebm_fail(EBM_EINVAL, "the training data is empty");
    if (o->iters == 0 && (o->epochs < 1 || o->epochs > 1000000000))
        return ebm_fail(EBM_EINVAL, "epochs must be in 1..1e9, got %zu", o->epochs);
    if (o->iters > 1000000000000ull) return ebm_fail(EBM_EINVAL, "at most 1e12 iterations");
    if (o->batch < 1 || o->batch > (1u << 24)) return ebm_fail(EBM_EINVAL, "batch size must be in 1..16777216");
    if (!(o->lr > 0) || !isfinite(o->lr)) return ebm_fail(EBM_EINVAL, "learning rate must be positive, got %g", (double)o->lr);
    if ((unsigned)o->schedule > EBM_LR_COSINE) return ebm_fail(EBM_EINVAL, "unknown learning-rate schedule %d", (int)o->schedule);
    if (o->schedule == EBM_LR_LINEAR && (!(o->lr_final >= 0) || !isfinite(o->lr_final)))
        return ebm_fail(EBM_EINVAL, "final learning rate must be finite and >= 0, got %g", (double)o->lr_final);
    if ((unsigned)o->rollback > EBM_ROLLBACK_STEP) return ebm_fail(EBM_EINVAL, "unknown roll-back mode %d", (int)o->rollback);
    if (o->ranks > 1) {
        if (!o->allreduce) return ebm_fail(EBM_EINVAL, "a run over %zu processes needs an allreduce", o->ranks);
        if (o->rank >= o->ranks) return ebm_fail(EBM_EINVAL, "rank %zu of %zu processes", o->rank, o->ranks);
        size_t N = data->rows, nmax = o->iters > 0 || o->batch < N ? o->batch : N, last = N % nmax;
        if (nmax < o->ranks || (o->iters == 0 && last > 0 && last < o->ranks))
            return ebm_fail(EBM_EINVAL, "every batch needs at least one row per process: a batch of %zu rows%s over %zu processes",
                            nmax < o->ranks ? nmax : last, nmax < o->ranks ? "" : " (the last of an epoch)", o->ranks);
    }
    return EBM_OK;
}

/* The parameter blocks as one snapshot: copy out (save) or back in (restore). */
static size_t params_size(ebm_trainer *t) {
    size_t total = 0, n;
    for (size_t b = 0; t->ops->params(t->self, b, &n); b++) total += n;
    return total;
}

static void snapshot(ebm_trainer *t, float *buf, int restore) {
    size_t n, off = 0;
    float *p;
    for (size_t b = 0; (p = t->ops->params(t->self, b, &n)); b++, off += n) {
        if (restore) memcpy(p, buf + off, n * sizeof(float));
        else memcpy(buf + off, p, n * sizeof(float));
    }
}

/* EBM_ENAN naming the first non-finite parameter, or EBM_OK. */
static ebm_status scan_finite(ebm_trainer *t) {
    size_t n, bad;
    float *p;
    for (size_t b = 0; (p = t->ops->params(t->self, b, &n)); b++)
        if (!ebm_k_all_finite(p, n, &bad)) {
            if (t->ops->check && t->ops->check(t->self)) return EBM_ENAN;
            return ebm_fail(EBM_ENAN, "parameter %zu of block %zu is not finite", bad, b);
        }
    return EBM_OK;
}

static float schedule_lr(const ebm_run_opts *o, size_t step, size_t steps, size_t epoch, size_t epochs) {
    switch (o->schedule) {
    case EBM_LR_LINEAR:
        /* in float, as the CD trainer always computed it */
        return steps > 1 ? o->lr + (o->lr_final - o->lr) * (float)step / (float)(steps - 1) : o->lr;
    case EBM_LR_COSINE:
        return (float)(o->lr * 0.5 * (1.0 + cos(M_PI * (double)(epoch - 1) / (double)epochs)));
    default:
        return o->lr;
    }
}

/* Running means of an epoch's figures, each over the rows of the updates that measured it. */
typedef struct {
    double sum[EBM_FIGURES_COUNT], rows[EBM_FIGURES_COUNT];
} fig_acc;

/* The figures as an array and back (the struct is named fields, not an array). */
static void fig_get(const ebm_figures *f, double v[EBM_FIGURES_COUNT]) {
    const double w[EBM_FIGURES_COUNT] = {f->loss, f->recon, f->e_pos, f->e_neg, f->grad_norm, f->accept, f->extra};
    memcpy(v, w, sizeof w);
}

static void fig_set(ebm_figures *f, const double v[EBM_FIGURES_COUNT]) {
    *f = (ebm_figures){v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
}

static void acc_add(fig_acc *a, const ebm_figures *f, size_t n) {
    double v[EBM_FIGURES_COUNT];
    fig_get(f, v);
    for (int i = 0; i < EBM_FIGURES_COUNT; i++)
        if (!isnan(v[i])) {
            a->sum[i] += v[i] * (double)n;
            a->rows[i] += (double)n;
        }
}

static void acc_mean(const fig_acc *a, ebm_figures *f) {
    double v[EBM_FIGURES_COUNT];
    for (int i = 0; i < EBM_FIGURES_COUNT; i++) v[i] = a->rows[i] > 0 ? a->sum[i] / a->rows[i] : NAN;
    fig_set(f, v);
}

/* The all-reduce a trainer sees in a data-parallel run: the local mean scaled by the slice's share. */
typedef struct {
    const ebm_run_opts *o;
    float share;
} shard_reduce;

static ebm_status reduce_scaled(float *buf, size_t n, void *user) {
    const shard_reduce *r = user;
    if (r->share != 1.0f)
        for (size_t i = 0; i < n; i++) buf[i] *= r->share;
    return r->o->allreduce(buf, n, r->o->allreduce_user);
}

ebm_status ebm_step_gather(const ebm_step_ctx *c, float *buf, size_t lo, size_t hi, size_t n_all, size_t width) {
    if (!c->allsum || c->ranks < 2) return EBM_OK;
    for (size_t i = 0; i < lo * width; i++) buf[i] = -0.0f;
    for (size_t i = hi * width; i < n_all * width; i++) buf[i] = -0.0f;
    return c->allsum(buf, n_all * width, c->allsum_user);
}

/* One step's figures summed over the processes, weighted by their rows (NaN where none measured one). */
static ebm_status reduce_figures(const ebm_run_opts *o, ebm_figures *f, size_t n) {
    double v[EBM_FIGURES_COUNT];
    float buf[2 * EBM_FIGURES_COUNT];
    fig_get(f, v);
    for (int i = 0; i < EBM_FIGURES_COUNT; i++) {
        buf[2 * i] = isnan(v[i]) ? 0.0f : (float)(v[i] * (double)n);
        buf[2 * i + 1] = isnan(v[i]) ? 0.0f : (float)n;
    }
    ebm_status s = o->allreduce(buf, 2 * EBM_FIGURES_COUNT, o->allreduce_user);
    if (s) return s;
    for (int i = 0; i < EBM_FIGURES_COUNT; i++) v[i] = buf[2 * i + 1] > 0 ? (double)buf[2 * i] / buf[2 * i + 1] : NAN;
    fig_set(f, v);
    return EBM_OK;
}

/* Non-zero when any process asked to stop. */
static int reduce_stop(const ebm_run_opts *o, int stop, ebm_status *s) {
    float f = stop ? 1.0f : 0.0f;
    *s = o->allreduce(&f, 1, o->allreduce_user);
    return f > 0.0f;
}

/* The loop's state: what ebm_run keeps between updates, all of it in a checkpoint. */
struct run_state {
    const ebm_run_opts *o;
    const ebm_mat *data;
    const int32_t *labels;
    size_t N, nmax, batches, steps, epochs, np;
    bool iter_mode;
    ebm_rollback rollback;
    size_t *perm;      /* (N) the order of the rows of the epoch under way */
    ebm_rng shuffle;
    fig_acc acc;
    float *good;       /* (np) the parameters to roll back to */
    size_t pos;        /* next row of perm; N = a new epoch begins */
    size_t epoch, in_epoch, step, epochs_done;
    double t0, t_epoch;
    uint64_t data_hash; /* of the data and labels, once per run (have_hash) */
    bool have_hash;
    size_t ranks;       /* processes of the run (1 alone) */
    size_t gathered;    /* data-parallel: the update after which ops->gather last ran (SIZE_MAX: never) */
};

/* A 64-bit hash of n bytes (FNV-1a over 32-bit words, then the tail bytes): cheap enough to run over a whole
 * data set, enough to tell a changed data file from the same one. */
static uint64_t hash_bytes(const void *p, size_t n, uint64_t h) {
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t w;
        memcpy(&w, b + i, 4);
        h = (h ^ w) * 0x100000001b3ull;
    }
    for (; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* The fingerprint a resume must match, as metadata keys: the trainer and its settings (ops->describe), the
 * data's shape and content, the loop's settings and the parameter blocks' sizes. */
#define CK "ebm.checkpoint."
static ebm_status fingerprint(ebm_trainer *t, run_state *rs, ebm_meta *m) {
    const ebm_run_opts *o = rs->o;
    const ebm_mat *x = rs->data;
    if (!rs->have_hash) {
        rs->data_hash = hash_bytes(x->data, x->rows * x->cols * sizeof(float), 0xcbf29ce484222325ull);
        if (rs->labels) rs->data_hash = hash_bytes(rs->labels, x->rows * sizeof(int32_t), rs->data_hash);
        rs->have_hash = true;
    }
    uint64_t h = rs->data_hash;
    ebm_status s = ebm_meta_set(m, "ebm.checkpoint", "1");
    if (!s) s = ebm_meta_set(m, CK "trainer", ebm_trainer_name(t));
    if (!s)
        s = ebm_meta_setf(m, CK "data", "%zu x %zu%s, hash %016llx", x->rows, x->cols, rs->labels ? " with labels" : "",
                          (unsigned long long)h);
    if (!s)
        s = ebm_meta_setf(m, CK "loop", "%s %zu, batch %zu, shuffle %d, seed %llu, stream %llu, lr %.9g, lr_final %.9g, schedule %d, rollback %d",
                          rs->iter_mode ? "iters" : "epochs", rs->iter_mode ? o->iters : o->epochs, o->batch,
                          o->shuffle ? 1 : 0, (unsigned long long)o->seed, (unsigned long long)o->shuffle_stream,
                          (double)o->lr, (double)o->lr_final, (int)o->schedule, (int)rs->rollback);
    if (!s) {
        char buf[512] = "";
        size_t used = 0, n;
        for (size_t b = 0; t->ops->params(t->self, b, &n) && used + 24 < sizeof buf; b++)
            used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%zu", b ? ", " : "", n);
        s = ebm_meta_set(m, CK "params", buf);
    }
    if (!s && t->ops->describe) {
        ebm_meta *d;
        s = ebm_meta_new(&d);
        if (!s) s = t->ops->describe(t->self, d);
        for (size_t i = 0; !s && i < ebm_meta_count(d); i++) {
            const char *k, *v;
            char key[256];
            ebm_meta_at(d, i, &k, &v);
            snprintf(key, sizeof key, CK "setting.%s", k);
            s = ebm_meta_set(m, key, v);
        }
        if (d) ebm_meta_free(d);
    }
    return s;
}

/* EBM_EINVAL naming the first fingerprint key of the checkpoint that this run does not match. */
static ebm_status check_fingerprint(ebm_trainer *t, run_state *rs, const ebm_meta *ck) {
    ebm_meta *now;
    ebm_status s = ebm_meta_new(&now);
    if (!s) s = fingerprint(t, rs, now);
    if (s) {
        if (now) ebm_meta_free(now);
        return s;
    }
    const char *v = ebm_meta_get(ck, "ebm.checkpoint");
    if (!v || strcmp(v, "1") != 0) s = ebm_fail(EBM_EFORMAT, "not a training checkpoint (no ebm.checkpoint = 1)");
    /* both ways: a key of this run missing from the checkpoint, or the checkpoint's settings this run lacks */
    for (int pass = 0; !s && pass < 2; pass++) {
        const ebm_meta *a = pass ? ck : now, *b = pass ? now : ck;
        for (size_t i = 0; !s && i < ebm_meta_count(a); i++) {
            const char *k, *va, *vb;
            ebm_meta_at(a, i, &k, &va);
            if (strncmp(k, CK, strlen(CK)) != 0 || !strcmp(k, CK "log_bytes")) continue;
            if (pass && strncmp(k + strlen(CK), "setting.", 8) != 0) continue;
            vb = ebm_meta_get(b, k);
            const char *was = pass ? va : vb, *is = pass ? vb : va;
            if (!vb || strcmp(va, vb) != 0)
                s = ebm_fail(EBM_EINVAL, "the checkpoint does not match this run: %s is %s%s%s in the checkpoint but %s%s%s now "
                             "(resume with the same data and options)", k + strlen(CK), was ? "'" : "", was ? was : "absent",
                             was ? "'" : "", is ? "'" : "", is ? is : "absent", is ? "'" : "");
        }
    }
    ebm_meta_free(now);
    return s;
}

static ebm_status get_size(const ebm_meta *m, const char *key, size_t max, size_t *out) {
    if (ebm_meta_get_size(m, key, out) || *out > max)
        return ebm_fail(EBM_EFORMAT, "checkpoint: %s is missing or out of range (at most %zu)", key, max);
    return EBM_OK;
}

ebm_status ebm_run_checkpoint(ebm_trainer *t, ebm_tensors *out) {
    run_state *rs = t->run;
    if (!rs) return ebm_fail(EBM_EINVAL, "a checkpoint can be taken only during ebm_run (from its callbacks)");
    if (rs->ranks > 1 && t->ops->gather && rs->gathered != rs->step)
        return ebm_fail(EBM_EINVAL, "a data-parallel run of the %s trainer is checkpointed from on_checkpoint only "
                                    "(where its processes gather their state)", ebm_trainer_name(t));
    ebm_meta *m = ebm_tensors_meta(out);
    ebm_status s = fingerprint(t, rs, m);
    if (!s) s = ebm_meta_setf(m, CK "step", "%zu", rs->step);
    if (!s) s = ebm_meta_setf(m, CK "epoch", "%zu", rs->epoch);
    if (!s) s = ebm_meta_setf(m, CK "in_epoch", "%zu", rs->in_epoch);
    if (!s) s = ebm_meta_setf(m, CK "pos", "%zu", rs->pos);
    if (!s) s = ebm_meta_setf(m, CK "epochs_done", "%zu", rs->epochs_done);
    double now = ebm_now();
    if (!s) s = ebm_meta_setf(m, CK "seconds", "%.17g", now - rs->t0);
    if (!s) s = ebm_meta_setf(m, CK "epoch_seconds", "%.17g", now - rs->t_epoch);
    size_t n, sh[1];
    float *p;
    for (size_t b = 0; !s && (p = t->ops->params(t->self, b, &n)); b++) {
        char name[48];
        snprintf(name, sizeof name, "ckpt.param.%zu", b);
        sh[0] = n;
        s = ebm_tensors_put(out, name, EBM_F32, 1, sh, p);
    }
    if (!s) {
        int64_t *perm = malloc(rs->N * sizeof *perm);
        if (!perm) return ebm_fail(EBM_ENOMEM, "out of memory for a checkpoint");
        for (size_t i = 0; i < rs->N; i++) perm[i] = (int64_t)rs->perm[i];
        sh[0] = rs->N;
        s = ebm_tensors_put(out, "ckpt.run.perm", EBM_I64, 1, sh, perm);
        free(perm);
    }
    if (!s) s = ebm_state_put_rng(out, "ckpt.run.rng.shuffle", &rs->shuffle);
    if (!s) {
        double acc[2 * EBM_FIGURES_COUNT];
        memcpy(acc, rs->acc.sum, sizeof rs->acc.sum);
        memcpy(acc + EBM_FIGURES_COUNT, rs->acc.rows, sizeof rs->acc.rows);
        sh[0] = 2 * EBM_FIGURES_COUNT;
        s = ebm_tensors_put(out, "ckpt.run.acc", EBM_F64, 1, sh, acc);
    }
    if (!s && rs->rollback == EBM_ROLLBACK_EPOCH) {
        sh[0] = rs->np;
        s = ebm_tensors_put(out, "ckpt.run.good", EBM_F32, 1, sh, rs->good);
    }
    if (!s && t->ops->save_state) s = t->ops->save_state(t->self, out);
    else if (!s) s = ebm_fail(EBM_ENOTSUP, "the %s trainer cannot save its state", ebm_trainer_name(t));
    return s;
}

/* Continues rs from the checkpoint ck: the fingerprint checked, then the parameters, the trainer's state and
 * the loop's position restored. */
static ebm_status resume(ebm_trainer *t, run_state *rs, const ebm_tensors *ck) {
    const ebm_meta *m = ebm_tensors_meta_const(ck);
    if (!t->ops->load_state) return ebm_fail(EBM_ENOTSUP, "the %s trainer cannot resume from a checkpoint", ebm_trainer_name(t));
    ebm_status s = check_fingerprint(t, rs, m);
    size_t step, epoch, in_epoch, pos, epochs_done;
    if (!s) s = get_size(m, CK "step", rs->steps - 1, &step);
    if (!s) s = get_size(m, CK "epoch", rs->epochs, &epoch);
    if (!s) s = get_size(m, CK "in_epoch", rs->batches > rs->steps ? rs->batches : rs->steps, &in_epoch);
    if (!s) s = get_size(m, CK "pos", rs->N, &pos);
    if (!s) s = get_size(m, CK "epochs_done", rs->epochs, &epochs_done);
    if (s) return s;
    size_t n;
    float *p;
    for (size_t b = 0; !s && (p = t->ops->params(t->self, b, &n)); b++) {
        char name[48];
        snprintf(name, sizeof name, "ckpt.param.%zu", b);
        s = ebm_state_get_f32(ck, name, p, n);
    }
    if (!s) s = t->ops->load_state(t->self, ck);
    if (s) return ebm_fail_prefix(s, "checkpoint");
    const ebm_array *a = ebm_tensors_get(ck, "ckpt.run.perm");
    if (!a || a->dtype != EBM_I64 || ebm_array_numel(a) != rs->N)
        return ebm_fail(EBM_EFORMAT, "checkpoint: ckpt.run.perm is missing or not %zu int64 values", rs->N);
    for (size_t i = 0; i < rs->N; i++) {
        int64_t v;
        memcpy(&v, (const char *)a->data + i * sizeof v, sizeof v);
        if (v < 0 || (uint64_t)v >= rs->N) return ebm_fail(EBM_EFORMAT, "checkpoint: ckpt.run.perm[%zu] = %lld is not a row", i, (long long)v);
        rs->perm[i] = (size_t)v;
    }
    s = ebm_state_get_rng(ck, "ckpt.run.rng.shuffle", &rs->shuffle);
    a = s ? NULL : ebm_tensors_get(ck, "ckpt.run.acc");
    if (!s && (!a || a->dtype != EBM_F64 || ebm_array_numel(a) != 2 * EBM_FIGURES_COUNT))
        s = ebm_fail(EBM_EFORMAT, "checkpoint: ckpt.run.acc is missing or not %d float64 values", 2 * EBM_FIGURES_COUNT);
    if (!s) {
        memcpy(rs->acc.sum, a->data, sizeof rs->acc.sum);
        memcpy(rs->acc.rows, (const double *)a->data + EBM_FIGURES_COUNT, sizeof rs->acc.rows);
    }
    if (s) return s;
    snapshot(t, rs->good, 0);
    if (rs->rollback == EBM_ROLLBACK_EPOCH && (s = ebm_state_get_f32(ck, "ckpt.run.good", rs->good, rs->np)))
        return s;
    rs->step = step;
    rs->epoch = epoch;
    rs->in_epoch = in_epoch;
    rs->pos = pos;
    rs->epochs_done = epochs_done;
    double secs = 0, esecs = 0;
    const char *v = ebm_meta_get(m, CK "seconds");
    if (v) secs = strtod(v, NULL);
    if ((v = ebm_meta_get(m, CK "epoch_seconds"))) esecs = strtod(v, NULL);
    double now = ebm_now();
    rs->t0 = now - (isfinite(secs) && secs > 0 ? secs : 0);
    rs->t_epoch = now - (isfinite(esecs) && esecs > 0 ? esecs : 0);
    return EBM_OK;
}

ebm_status ebm_run(ebm_trainer *t, const ebm_mat *data, const int32_t *labels, const ebm_run_opts *o,
                   ebm_run_result *r) {
    ebm_run_result res;
    memset(&res, 0, sizeof res);
    ebm_figures_clear(&res.last);
    ebm_figures_clear(&res.epoch_mean);
    run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.t0 = ebm_now();
    ebm_give_way gw = {0}; /* off (want 0) until the loop begins */
    ebm_status s = check_opts(o, data);
    if (s) goto out_early;
    if (t->run) {
        s = ebm_fail(EBM_EINVAL, "the trainer is already running");
        goto out_early;
    }

    const bool iter_mode = o->iters > 0;
    const size_t N = data->rows, d = data->cols;
    const size_t nmax = iter_mode || o->batch < N ? o->batch : N;
    const size_t batches = (N + nmax - 1) / nmax;
    const size_t steps = iter_mode ? o->iters : o->epochs * batches;
    const size_t epochs = iter_mode ? (size_t)(((double)steps * (double)nmax + (double)N - 1) / (double)N) : o->epochs;
    const ebm_rollback rollback = iter_mode ? EBM_ROLLBACK_STEP : o->rollback;
    const size_t ranks = o->ranks > 1 ? o->ranks : 1, rank = ranks > 1 ? o->rank : 0;
    rs.o = o;
    rs.data = data;
    rs.labels = labels;
    rs.N = N;
    rs.nmax = nmax;
    rs.batches = batches;
    rs.steps = steps;
    rs.epochs = epochs;
    rs.iter_mode = iter_mode;
    rs.rollback = rollback;
    rs.ranks = ranks;
    rs.gathered = SIZE_MAX;

    /* a trainer that shards itself keeps the run's seed; any other gets independent streams per rank */
    uint64_t seed = o->seed;
    if (ranks > 1 && t->ops->shard) t->ops->shard(t->self, rank, ranks);
    else seed = ebm_shard_seed(seed, rank);
    s = t->ops->begin ? t->ops->begin(t->self, data, labels, nmax, seed) : EBM_OK;
    if (s) goto out_early;
    const size_t np = rs.np = params_size(t);
    float *x = ebm_calloc(nmax, d * sizeof(float));
    rs.good = ebm_calloc(np ? np : 1, sizeof(float));
    size_t *rows = malloc(nmax * sizeof *rows);
    rs.perm = malloc(N * sizeof *rs.perm);
    if (!x || !rs.good || !rs.perm || !rows) {
        s = ebm_fail(EBM_ENOMEM, "out of memory for the training loop");
        goto done;
    }
    for (size_t i = 0; i < N; i++) rs.perm[i] = i;
    ebm_rng_seed(&rs.shuffle, o->seed, o->shuffle_stream);
    rs.pos = N;           /* next row of the permutation; N = a new epoch begins */
    rs.t_epoch = rs.t0;
    snapshot(t, rs.good, 0);
    if (o->resume && ranks > 1 && !t->ops->shard) {
        s = ebm_fail(EBM_ENOTSUP, "the %s trainer keeps its own random streams per process, so a data-parallel "
                                  "run of it cannot resume; resume it in one process", ebm_trainer_name(t));
        goto done;
    }
    if (o->resume && (s = resume(t, &rs, o->resume))) goto done;
    t->run = &rs;

    ebm_step_ctx ctx = {0};
    ctx.batches = batches;
    ctx.steps = steps;
    ctx.seed = o->seed;
    ctx.allreduce = o->allreduce;
    ctx.allreduce_user = o->allreduce_user;
    ctx.rank = rank;
    ctx.ranks = ranks;
    shard_reduce sr = {o, 1.0f};
    if (ranks > 1) {
        ctx.allreduce = reduce_scaled;
        ctx.allreduce_user = &sr;
        ctx.allsum = o->allreduce;
        ctx.allsum_user = o->allreduce_user;
    }
    if (o->give_way) ebm_give_way_begin(&gw);
    ebm_run_progress p;
    memset(&p, 0, sizeof p);
    p.threads = p.threads_max = ebm_get_threads();
    p.epochs = epochs;
    p.batches = batches;
    p.steps = steps;
    res.steps_done = rs.step;
    res.epochs_done = rs.epochs_done;

    for (size_t step = rs.step; step < steps; step++) {
        /* the batch: epoch runs take the next nmax rows (the epoch's last one shorter); iteration runs take
         * exactly nmax rows, starting a fresh permutation whenever one is used up */
        size_t left = rs.pos >= N ? N : N - rs.pos; /* pos == N: a new epoch begins with the first row */
        size_t want = iter_mode || nmax < left ? nmax : left;
        size_t n = 0;
        for (; n < want; n++) {
            if (rs.pos >= N) {
                if (o->shuffle) ebm_rng_permutation(&rs.shuffle, rs.perm, N);
                rs.pos = 0;
                rs.epoch++;
                rs.in_epoch = 0;
                memset(&rs.acc, 0, sizeof rs.acc);
                rs.t_epoch = ebm_now();
                if (rollback == EBM_ROLLBACK_EPOCH) snapshot(t, rs.good, 0);
            }
            rows[n] = rs.perm[rs.pos++];
        }
        /* this process's slice of the batch (all of it in one process) */
        size_t lo, hi;
        ebm_shard_range(n, rank, ranks, &lo, &hi);
        for (size_t i = lo; i < hi; i++) memcpy(x + (i - lo) * d, data->data + rows[i] * d, d * sizeof(float));
        const size_t n_global = n;
        n = hi - lo;
        ctx.row0 = lo;
        ctx.n_global = n_global;
        ctx.share = sr.share = ranks > 1 ? (float)n / (float)n_global : 1.0f;
        rs.in_epoch++;
        const size_t epoch = rs.epoch, in_epoch = rs.in_epoch;
        ctx.epoch = epoch;
        ctx.batch = in_epoch;
        ctx.step = step;
        ctx.last_in_epoch = !iter_mode && rs.pos >= N;
        ctx.lr = schedule_lr(o, step, steps, epoch, epochs);
        ebm_figures fig;
        ebm_figures_clear(&fig);
        s = t->ops->step(t->self, x, rows + lo, n, &ctx, &fig);
        if (!s && !t->ops->checks_finite) s = scan_finite(t);
        if (!s && ranks > 1) s = reduce_figures(o, &fig, n);
        if (s == EBM_ENAN) {
            char what[512];
            snprintf(what, sizeof what, "%s", ebm_last_error());
            snapshot(t, rs.good, 1);
            if (iter_mode)
                s = ebm_fail(EBM_ENAN, "training diverged at iteration %zu: %s; parameters restored to those after iteration %zu",
                             step + 1, what, res.steps_done);
            else if (rollback == EBM_ROLLBACK_EPOCH)
                s = ebm_fail(EBM_ENAN, "training diverged at epoch %zu, batch %zu: %s; parameters restored to the end of epoch %zu",
                             epoch, in_epoch, what, res.epochs_done);
            else
                s = ebm_fail(EBM_ENAN, "training diverged at epoch %zu, batch %zu: %s; parameters restored to those after the last good batch",
                             epoch, in_epoch, what);
            goto done;
        }
        if (s) goto done;
        if (rollback == EBM_ROLLBACK_STEP) snapshot(t, rs.good, 0);
        rs.step = res.steps_done = step + 1;
        res.last = fig;
        acc_add(&rs.acc, &fig, n_global);
        double now = ebm_now();
        p.epoch = epoch;
        p.batch = in_epoch;
        p.step = step + 1;
        p.lr = ctx.lr;
        p.seconds = now - rs.t_epoch;
        p.total_seconds = now - rs.t0;
        p.last = fig;
        acc_mean(&rs.acc, &p.mean);
        if (gw.want) p.threads = ebm_give_way_check(&gw);
        if (iter_mode) rs.epochs_done = res.epochs_done = epoch;
        /* stop: 1 asked after an update, 2 after an epoch; in a data-parallel run any process's ask stops all.
         * A stop asked for at an epoch's last batch still ends the epoch (its callback, its count), so that a
         * checkpoint taken on the way out resumes with the next epoch */
        const bool at_epoch_end = !iter_mode && rs.pos >= N;
        int stop = o->on_step && o->on_step(&p, o->user) ? 1 : 0;
        if (at_epoch_end) {
            rs.epochs_done = res.epochs_done = epoch;
            res.epoch_mean = p.mean;
            if (o->on_epoch && o->on_epoch(&p, o->user) && !stop) stop = 2;
        }
        if (ranks > 1) {
            int any = reduce_stop(o, stop, &s);
            if (s) goto done;
            if (any && !stop) stop = at_epoch_end ? 2 : 1;
        }
        bool last = step + 1 == steps;
        if (o->checkpoint_every && o->on_checkpoint && !last && (stop || (step + 1) % o->checkpoint_every == 0)) {
            /* every process reaches this point after the same update (stop is summed): the trainer's slices
             * of its state are gathered, so that any process's checkpoint is the whole state */
            if (ranks > 1 && t->ops->gather) {
                if ((s = t->ops->gather(t->self, &ctx))) goto done;
                rs.gathered = rs.step;
            }
            ebm_status c = o->on_checkpoint(t, &p, o->user);
            if (c && !stop) {
                s = ebm_fail_prefix(c, "checkpoint after update %zu", step + 1);
                goto done;
            }
        }
        if (stop == 1) {
            s = iter_mode ? ebm_fail(EBM_ECANCELED, "training stopped after %zu of %zu iterations", step + 1, steps)
                          : ebm_fail(EBM_ECANCELED, "training stopped at epoch %zu, batch %zu", epoch, in_epoch);
            goto done;
        }
        if (stop) {
            s = ebm_fail(EBM_ECANCELED, "training stopped after epoch %zu", epoch);
            goto done;
        }
    }
    if (iter_mode) res.epoch_mean = p.mean;
done:
    ebm_give_way_end(&gw);
    t->run = NULL;
    res.seconds = ebm_now() - rs.t0;
    ebm_free(x);
    ebm_free(rs.good);
    free(rs.perm);
    free(rows);
out_early:
    if (r) *r = res;
    return s;
}

ebm_status ebm_run_describe(ebm_trainer *t, const ebm_run_opts *o, const ebm_run_result *r, ebm_meta *m) {
    ebm_status s = ebm_meta_set(m, "ebm.train.trainer", ebm_trainer_name(t));
    if (!s && o->iters > 0) {
        s = ebm_meta_setf(m, "ebm.train.iters", "%zu", o->iters);
        if (!s) s = ebm_meta_setf(m, "ebm.train.iters_done", "%zu", r->steps_done);
    } else if (!s) {
        s = ebm_meta_setf(m, "ebm.train.epochs", "%zu", r->epochs_done);
    }
    if (!s) s = ebm_meta_setf(m, "ebm.train.batch", "%zu", o->batch);
    if (!s) s = ebm_meta_setf(m, "ebm.train.lr", "%g", (double)o->lr);
    if (!s && o->schedule == EBM_LR_LINEAR) s = ebm_meta_setf(m, "ebm.train.lr_final", "%g", (double)o->lr_final);
    if (!s && o->schedule == EBM_LR_COSINE) s = ebm_meta_set(m, "ebm.train.schedule", "cosine");
    if (!s) s = ebm_meta_setf(m, "ebm.train.seed", "%llu", (unsigned long long)o->seed);
    if (!s) s = ebm_meta_setf(m, "ebm.train.seconds", "%.2f", r->seconds);
    if (!s) s = ebm_meta_setf(m, "ebm.train.threads", "%d", ebm_get_threads());
    if (!s && o->ranks > 1) s = ebm_meta_setf(m, "ebm.train.processes", "%zu", o->ranks);
    if (!s) {
        char buf[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
        s = ebm_meta_set(m, "ebm.train.date", buf);
    }
    if (!s && t->ops->describe) s = t->ops->describe(t->self, m);
    return s;
}

int ebm_run_call_progress(ebm_progress_fn fn, void *user, const ebm_run_progress *p, double recon) {
    if (!fn) return 0;
    ebm_train_progress q = {p->epoch, p->epochs, p->batch, p->batches, p->lr, p->seconds, p->total_seconds, recon};
    return fn(&q, user);
}
