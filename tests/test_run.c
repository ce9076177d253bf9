/* The one training loop (ebm_run): a toy trainer whose every update is known in closed form checks the
 * batching (epoch runs with a short last batch, iteration runs crossing epochs), the seeded shuffle, the
 * learning-rate schedules, the figures' epoch means, cancellation, roll-back after a non-finite update and
 * checkpoints; then the RBM trainer through ebm_run equals ebm_rbm_train, its state round-trips, and a model
 * trained from C alone carries the provenance metadata. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "check.h"
#include "rbm_fixtures.h"

#include <sched.h>
#include <time.h>

/* theta (d) moves toward the batch mean: theta += lr (mean(x) - theta).  It records every batch it saw. */
typedef struct {
    float theta[4];
    size_t dim;
    size_t seen[64][16]; /* rows of each step's batch */
    size_t n_seen[64];
    double lr_seen[64];
    size_t steps, explode_at; /* explode_at: the step (from 1) whose update becomes infinite; 0 = never */
    int began;
} toy;

static ebm_status toy_begin(void *self, const ebm_mat *data, const int32_t *labels, size_t batch, uint64_t seed) {
    toy *t = self;
    (void)labels, (void)batch, (void)seed;
    t->dim = data->cols;
    t->began++;
    return EBM_OK;
}

static ebm_status toy_step(void *self, float *x, const size_t *rows, size_t n, const ebm_step_ctx *c, ebm_figures *f) {
    toy *t = self;
    if (t->steps < 64) {
        for (size_t i = 0; i < n && i < 16; i++) t->seen[t->steps][i] = rows[i];
        t->n_seen[t->steps] = n;
        t->lr_seen[t->steps] = c->lr;
    }
    t->steps++;
    double loss = 0;
    for (size_t j = 0; j < t->dim; j++) {
        double m = 0;
        for (size_t i = 0; i < n; i++) m += x[i * t->dim + j];
        m /= (double)n;
        loss += (m - t->theta[j]) * (m - t->theta[j]);
        t->theta[j] += (float)(c->lr * (m - t->theta[j]));
    }
    if (t->steps == t->explode_at) t->theta[1] = INFINITY;
    f->loss = loss;
    f->recon = (double)n; /* a figure whose row-weighted epoch mean is easy to predict */
    return EBM_OK;
}

static float *toy_params(void *self, size_t block, size_t *n) {
    toy *t = self;
    *n = t->dim;
    return block == 0 ? t->theta : NULL;
}

static ebm_status toy_describe(void *self, ebm_meta *m) {
    (void)self;
    return ebm_meta_set(m, "ebm.train.toy", "yes");
}

static void toy_destroy(void *self) { free(self); }

static const ebm_trainer_ops toy_ops = {.name = "toy", .begin = toy_begin, .step = toy_step, .params = toy_params,
                                        .describe = toy_describe, .destroy = toy_destroy};

static ebm_mat *toy_data(size_t n, size_t d) {
    ebm_mat *m;
    if (ebm_mat_new(n, d, &m)) return NULL;
    for (size_t i = 0; i < n * d; i++) m->data[i] = (float)(i / d) + 0.25f * (float)(i % d);
    return m;
}

typedef struct {
    size_t steps, epochs, checkpoints, stop_at;
    double last_mean_recon[8];
} counts;

static int count_step(const ebm_run_progress *p, void *u) {
    counts *c = u;
    c->steps++;
    return c->stop_at && p->step == c->stop_at;
}
static int count_epoch(const ebm_run_progress *p, void *u) {
    counts *c = u;
    if (c->epochs < 8) c->last_mean_recon[c->epochs] = p->mean.recon;
    c->epochs++;
    return 0;
}
static ebm_status count_checkpoint(ebm_trainer *t, const ebm_run_progress *p, void *u) {
    (void)t, (void)p;
    ((counts *)u)->checkpoints++;
    return EBM_OK;
}

static void test_epochs(void) {
    ebm_mat *data = toy_data(10, 2);
    toy *self = calloc(1, sizeof *self);
    ebm_trainer *t;
    CHECK_OK(ebm_trainer_new(&toy_ops, self, &t));
    ebm_run_opts o;
    ebm_run_opts_default(&o);
    o.epochs = 3;
    o.batch = 4; /* 10 rows: batches of 4, 4, 2 */
    o.lr = 0.5f;
    o.schedule = EBM_LR_LINEAR;
    o.lr_final = 0.1f;
    counts c = {0};
    o.on_step = count_step;
    o.on_epoch = count_epoch;
    o.checkpoint_every = 4;
    o.on_checkpoint = count_checkpoint;
    o.user = &c;
    ebm_run_result r;
    CHECK_OK(ebm_run(t, data, NULL, &o, &r));
    CHECK(self->began == 1);
    CHECK(self->steps == 9 && c.steps == 9 && c.epochs == 3 && r.epochs_done == 3 && r.steps_done == 9);
    CHECK(c.checkpoints == 2); /* after updates 4 and 8, not after the last */
    CHECK(self->n_seen[0] == 4 && self->n_seen[1] == 4 && self->n_seen[2] == 2 && self->n_seen[5] == 2);
    /* each epoch is a permutation of all rows */
    for (size_t e = 0; e < 3; e++) {
        int hit[10] = {0};
        for (size_t s = 3 * e; s < 3 * e + 3; s++)
            for (size_t i = 0; i < self->n_seen[s]; i++) hit[self->seen[s][i]]++;
        for (size_t i = 0; i < 10; i++) CHECK(hit[i] == 1);
    }
    /* the permutation is the seeded stream's: the same as ebm_rng_permutation applied in place */
    size_t perm[10];
    for (size_t i = 0; i < 10; i++) perm[i] = i;
    ebm_rng sh;
    ebm_rng_seed(&sh, 1, 1);
    ebm_rng_permutation(&sh, perm, 10);
    ebm_rng_permutation(&sh, perm, 10);
    for (size_t i = 0; i < 4; i++) CHECK(self->seen[3][i] == perm[i]);
    /* linear schedule: step s of 9 has lr 0.5 + (0.1 - 0.5) s / 8, in float */
    for (size_t s = 0; s < 9; s++) CHECK_NEAR(self->lr_seen[s], 0.5f + (0.1f - 0.5f) * (float)s / 8.0f, 1e-7);
    /* row-weighted epoch mean of a figure equal to the batch size: (4*4 + 4*4 + 2*2) / 10 */
    CHECK_NEAR(c.last_mean_recon[0], 3.6, 1e-12);
    CHECK_NEAR(r.epoch_mean.recon, 3.6, 1e-12);
    CHECK(isnan(r.epoch_mean.e_pos));
    ebm_meta *m;
    CHECK_OK(ebm_meta_new(&m));
    CHECK_OK(ebm_run_describe(t, &o, &r, m));
    CHECK(strcmp(ebm_meta_get(m, "ebm.train.trainer"), "toy") == 0);
    CHECK(strcmp(ebm_meta_get(m, "ebm.train.epochs"), "3") == 0);
    CHECK(strcmp(ebm_meta_get(m, "ebm.train.batch"), "4") == 0);
    CHECK(strcmp(ebm_meta_get(m, "ebm.train.lr_final"), "0.1") == 0);
    CHECK(strcmp(ebm_meta_get(m, "ebm.train.toy"), "yes") == 0);
    CHECK(ebm_meta_get(m, "ebm.train.date") != NULL && ebm_meta_get(m, "ebm.train.seconds") != NULL);
    ebm_meta_free(m);
    ebm_trainer_free(t);
    ebm_mat_free(data);
}

/* The same run twice gives the same parameters bit for bit; iteration runs take whole batches across epochs;
 * the cosine schedule steps per epoch. */
static void test_iterations_and_repeat(void) {
    ebm_mat *data = toy_data(10, 2);
    float theta[2][2];
    for (int rep = 0; rep < 2; rep++) {
        toy *self = calloc(1, sizeof *self);
        ebm_trainer *t;
        CHECK_OK(ebm_trainer_new(&toy_ops, self, &t));
        ebm_run_opts o;
        ebm_run_opts_default(&o);
        o.iters = 7;
        o.batch = 3; /* 21 rows: epochs 1, 2 and the first row of the third */
        o.lr = 0.3f;
        o.seed = 5;
        ebm_run_result r;
        CHECK_OK(ebm_run(t, data, NULL, &o, &r));
        CHECK(self->steps == 7 && r.steps_done == 7 && r.epochs_done == 3);
        for (size_t s = 0; s < 7; s++) CHECK(self->n_seen[s] == 3);
        int hit[10] = {0};
        for (size_t s = 0; s < 7; s++)
            for (size_t i = 0; i < 3; i++)
                if (3 * s + i < 10) hit[self->seen[s][i]]++;
        for (size_t i = 0; i < 10; i++) CHECK(hit[i] == 1);
        memcpy(theta[rep], self->theta, sizeof theta[rep]);
        ebm_trainer_free(t);
    }
    CHECK(memcmp(theta[0], theta[1], sizeof theta[0]) == 0);

    toy *self = calloc(1, sizeof *self);
    ebm_trainer *t;
    CHECK_OK(ebm_trainer_new(&toy_ops, self, &t));
    ebm_run_opts o;
    ebm_run_opts_default(&o);
    o.epochs = 4;
    o.batch = 5;
    o.lr = 1.0f;
    o.schedule = EBM_LR_COSINE;
    CHECK_OK(ebm_run(t, data, NULL, &o, NULL));
    for (size_t s = 0; s < 8; s++)
        CHECK_NEAR(self->lr_seen[s], (float)(0.5 * (1 + cos(M_PI * (double)(s / 2) / 4.0))), 1e-7);
    ebm_trainer_free(t);
    ebm_mat_free(data);
}

/* A non-finite update rolls back (to the start of the epoch, or to the last good update) and names where;
 * a callback that asks to stop keeps the last update. */
static void test_rollback_and_cancel(void) {
    ebm_mat *data = toy_data(10, 2);
    for (int mode = 0; mode < 2; mode++) {
        toy *self = calloc(1, sizeof *self);
        ebm_trainer *t;
        CHECK_OK(ebm_trainer_new(&toy_ops, self, &t));
        ebm_run_opts o;
        ebm_run_opts_default(&o);
        o.epochs = 3;
        o.batch = 5;
        o.lr = 0.5f;
        o.rollback = mode ? EBM_ROLLBACK_STEP : EBM_ROLLBACK_EPOCH;
        self->explode_at = 4; /* epoch 2, batch 2 */
        float at_epoch1[2] = {0}, at_step3[2] = {0};
        /* the reference: the same run stopped early */
        toy *ref = calloc(1, sizeof *ref);
        ebm_trainer *tr;
        CHECK_OK(ebm_trainer_new(&toy_ops, ref, &tr));
        counts c = {0};
        c.stop_at = 2;
        ebm_run_opts ro = o;
        ro.on_step = count_step;
        ro.user = &c;
        CHECK_FAILS(ebm_run(tr, data, NULL, &ro, NULL), EBM_ECANCELED);
        CHECK(strstr(ebm_last_error(), "stopped at epoch 1, batch 2") != NULL);
        memcpy(at_epoch1, ref->theta, sizeof at_epoch1);
        ebm_trainer_free(tr);
        ref = calloc(1, sizeof *ref);
        CHECK_OK(ebm_trainer_new(&toy_ops, ref, &tr));
        c.stop_at = 3;
        c.steps = 0;
        CHECK_FAILS(ebm_run(tr, data, NULL, &ro, NULL), EBM_ECANCELED);
        memcpy(at_step3, ref->theta, sizeof at_step3);
        ebm_trainer_free(tr);

        ebm_run_result r;
        CHECK_FAILS(ebm_run(t, data, NULL, &o, &r), EBM_ENAN);
        CHECK(strstr(ebm_last_error(), "diverged at epoch 2, batch 2") != NULL);
        CHECK(strstr(ebm_last_error(), "parameter 1 of block 0") != NULL);
        const float *want = mode ? at_step3 : at_epoch1;
        CHECK(self->theta[0] == want[0] && self->theta[1] == want[1]);
        CHECK(r.steps_done == 3 && r.epochs_done == 1);
        ebm_trainer_free(t);
    }
    ebm_mat_free(data);
}

static void test_bad_options(void) {
    ebm_mat *data = toy_data(4, 2);
    toy *self = calloc(1, sizeof *self);
    ebm_trainer *t;
    CHECK_OK(ebm_trainer_new(&toy_ops, self, &t));
    ebm_run_opts o;
    ebm_run_opts_default(&o);
    o.batch = 0;
    CHECK_FAILS(ebm_run(t, data, NULL, &o, NULL), EBM_EINVAL);
    ebm_run_opts_default(&o);
    o.lr = NAN;
    CHECK_FAILS(ebm_run(t, data, NULL, &o, NULL), EBM_EINVAL);
    ebm_run_opts_default(&o);
    o.schedule = EBM_LR_LINEAR;
    o.lr_final = -1;
    CHECK_FAILS(ebm_run(t, data, NULL, &o, NULL), EBM_EINVAL);
    CHECK(self->began == 0);
    ebm_tensors *st;
    CHECK_OK(ebm_tensors_new(&st));
    CHECK_FAILS(ebm_trainer_save_state(t, st), EBM_ENOTSUP);
    ebm_tensors_free(st);
    ebm_trainer_free(t);
    static const ebm_trainer_ops no_step = {.name = "broken"};
    CHECK_FAILS(ebm_trainer_new(&no_step, NULL, &t), EBM_EINVAL);
    ebm_mat_free(data);
}

/* The RBM trainer through ebm_run is ebm_rbm_train; its state (momentum, chains, key stream) round-trips, so
 * a run continued from a saved state ends where the uninterrupted run does. */
static void test_rbm_trainer(void) {
    ebm_mat *data = fixture_prototype_data(60, 3);
    ebm_cd_opts o;
    ebm_cd_opts_default(&o);
    o.mode = EBM_PCD;
    o.k = 2;
    o.epochs = 4;
    o.batch = 16;
    o.chains = 8;
    ebm_rbm *a = fixture_rbm(12, 5, 0.1, 0.1, 9), *b;
    CHECK_OK(ebm_rbm_clone(a, &b));
    CHECK_OK(ebm_rbm_train(a, data, &o));
    ebm_trainer *t;
    CHECK_OK(ebm_rbm_trainer_new(b, &o, &t));
    ebm_run_opts ro;
    ebm_cd_run_opts(&o, &ro);
    CHECK_OK(ebm_run(t, data, NULL, &ro, NULL));
    CHECK(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0);
    ebm_tensors *st;
    CHECK_OK(ebm_tensors_new(&st));
    CHECK_OK(ebm_trainer_save_state(t, st));
    CHECK(ebm_tensors_get(st, "train.velocity") != NULL && ebm_tensors_get(st, "train.chains.v") != NULL);
    CHECK_OK(ebm_trainer_load_state(t, st));
    ebm_tensors *bad;
    CHECK_OK(ebm_tensors_new(&bad));
    CHECK_FAILS(ebm_trainer_load_state(t, bad), EBM_EFORMAT);
    CHECK(strstr(ebm_last_error(), "train.velocity") != NULL);
    ebm_tensors_free(bad);
    ebm_tensors_free(st);
    ebm_trainer_free(t);
    /* a diverging run names the parameter that went bad and keeps the start of the epoch */
    float before[300];
    memcpy(before, b->params, b->n_params * sizeof(float));
    o.mode = EBM_CD;
    o.lr = 1e38f;
    o.momentum = 0;
    CHECK_FAILS(ebm_rbm_train(b, data, &o), EBM_ENAN);
    CHECK(strstr(ebm_last_error(), "diverged at epoch 1, batch") != NULL);
    CHECK(strstr(ebm_last_error(), "weight W[") != NULL || strstr(ebm_last_error(), "bias b_") != NULL);
    CHECK(memcmp(before, b->params, b->n_params * sizeof(float)) == 0);
    ebm_rbm_free(a);
    ebm_rbm_free(b);
    ebm_mat_free(data);
}

static void test_sample_rows(void) {
    ebm_mat *data = toy_data(10, 2), *s, *s2;
    CHECK_OK(ebm_mat_sample_rows(data, 4, 3, 7, &s));
    CHECK_OK(ebm_mat_sample_rows(data, 4, 3, 7, &s2));
    CHECK(s->rows == 4 && s->cols == 2 && memcmp(s->data, s2->data, 8 * sizeof(float)) == 0);
    for (size_t i = 0; i < 4; i++) {
        CHECK(s->data[2 * i + 1] == s->data[2 * i] + 0.25f); /* whole rows of data */
        for (size_t j = 0; j < i; j++) CHECK(s->data[2 * i] != s->data[2 * j]); /* without replacement */
    }
    ebm_mat_free(s);
    ebm_mat_free(s2);
    CHECK_OK(ebm_mat_sample_rows(data, 50, 3, 7, &s));
    CHECK(s->rows == 10);
    ebm_mat_free(s);
    ebm_mat_free(data);
}

/* A /proc/loadavg stand-in whose running count is `running` (this process's thread included). */
static void write_loadavg(const char *path, int running) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "0.50 0.40 0.30 %d/321 4242\n", running);
    fclose(f);
}

typedef struct {
    const char *path;
    int threads[64], threads_max, steps, sleep, fewer_at, back_at, mismatch;
} give_way_seen;

/* Records the thread count of the next update; once it has fallen, tells the run that the other tasks have
 * gone, and stops the run when it has come back.  Sleeps a quarter of a second per update when asked (the run
 * reads the load at most once a second). */
static int give_way_step(const ebm_run_progress *p, void *u) {
    give_way_seen *g = u;
    if (g->steps < 64) g->threads[g->steps] = p->threads;
    if (ebm_get_threads() != p->threads) g->mismatch++; /* what it says is what the next update gets */
    g->threads_max = p->threads_max;
    g->steps++;
    if (p->threads < p->threads_max && !g->fewer_at) {
        g->fewer_at = g->steps;
        write_loadavg(g->path, 1);
    }
    if (g->fewer_at && p->threads == p->threads_max && !g->back_at) g->back_at = g->steps;
    if (g->sleep) nanosleep(&(struct timespec){0, 250000000}, NULL);
    return g->back_at && g->sleep == 2;
}

/* ebm_threads_fair reads the CPUs less the other running tasks; ebm_run gives way while others run (the median
 * of three readings at least a second apart), comes back when they leave and restores the thread count at the
 * end; an RBM trained while it gives way equals one trained with give_way = 0, bit for bit. */
static void test_give_way(void) {
    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    int ncpu = CPU_COUNT(&set);
    char path[] = "/tmp/ebm_test_loadavg_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    setenv("EBM_LOADAVG_FILE", path, 1);
    write_loadavg(path, 1); /* only this thread runs */
    CHECK(ebm_threads_fair(2) == (ncpu < 2 ? ncpu : 2));
    CHECK(ebm_threads_fair(1) == 1);
    write_loadavg(path, ncpu + 1); /* as many others as CPUs */
    CHECK(ebm_threads_fair(2) == 1);
    CHECK(ebm_threads_fair(ncpu + 8) == 1);
    write_loadavg(path, 2); /* one other task */
    CHECK(ebm_threads_fair(64) == (ncpu - 1 > 1 ? ncpu - 1 : 1));
    setenv("EBM_LOADAVG_FILE", "/nonexistent/loadavg", 1);
    CHECK(ebm_threads_fair(3) == 3); /* unreadable: what was asked */
    setenv("EBM_LOADAVG_FILE", path, 1);
    if (ncpu >= 2) {
        /* the state machine of ebm_give_way, with readings on every check: the median of the last three */
        ebm_set_threads(2);
        write_loadavg(path, ncpu + 1);
        ebm_give_way g;
        ebm_give_way_begin(&g);
        CHECK(g.want == 2 && g.cur == 2 && g.interval == 1.0);
        CHECK(ebm_give_way_check(&g) == 2); /* before the first second: no reading */
        CHECK(g.filled == 0);
        g.interval = 0;
        g.next = 0;
        CHECK(ebm_give_way_check(&g) == 2 && ebm_give_way_check(&g) == 2); /* two readings: no median yet */
        CHECK(ebm_give_way_check(&g) == 1 && ebm_get_threads() == 1);
        write_loadavg(path, 1);
        CHECK(ebm_give_way_check(&g) == 1); /* busy, busy, quiet */
        CHECK(ebm_give_way_check(&g) == 2 && ebm_get_threads() == 2); /* busy, quiet, quiet */
        write_loadavg(path, ncpu + 1);
        CHECK(ebm_give_way_check(&g) == 2); /* quiet, quiet, busy */
        CHECK(ebm_give_way_check(&g) == 1 && ebm_get_threads() == 1);
        ebm_give_way_end(&g);
        CHECK(ebm_get_threads() == 2 && g.cur == 2);
        ebm_set_threads(1); /* one thread wanted: nothing to give */
        ebm_give_way_begin(&g);
        g.interval = 0;
        for (int i = 0; i < 4; i++) CHECK(ebm_give_way_check(&g) == 1);
        ebm_give_way_end(&g);
        CHECK(ebm_get_threads() == 1);
    }
    if (ncpu >= 2) {
        /* the toy trainer: fewer threads after three readings, the full count again two readings after the
         * others leave */
        ebm_mat *data = toy_data(10, 2);
        ebm_set_threads(2);
        write_loadavg(path, ncpu + 1);
        toy *self = calloc(1, sizeof *self);
        ebm_trainer *t;
        CHECK_OK(ebm_trainer_new(&toy_ops, self, &t));
        ebm_run_opts o;
        ebm_run_opts_default(&o);
        CHECK(o.give_way == 1);
        o.iters = 64;
        o.batch = 3;
        give_way_seen g = {.path = path, .sleep = 2};
        o.on_step = give_way_step;
        o.user = &g;
        CHECK_FAILS(ebm_run(t, data, NULL, &o, NULL), EBM_ECANCELED); /* stopped once back */
        CHECK(g.threads[0] == 2 && g.threads_max == 2 && g.mismatch == 0);
        CHECK(g.fewer_at >= 9); /* not before the third reading, 2 s in */
        CHECK(g.back_at >= g.fewer_at + 8 && g.back_at < 64);
        for (int i = g.fewer_at - 1; i < g.back_at - 1; i++) CHECK(g.threads[i] == 1);
        CHECK(ebm_get_threads() == 2);
        ebm_trainer_free(t);
        ebm_mat_free(data);
        /* PCD on 2 threads, giving way part of the time, and without giving way */
        ebm_mat *rd = fixture_prototype_data(16, 3);
        ebm_cd_opts co;
        ebm_cd_opts_default(&co);
        co.mode = EBM_PCD;
        co.epochs = 20; /* one update per epoch */
        co.batch = 16;
        ebm_rbm *a = fixture_rbm(12, 5, 0.1, 0.1, 9), *b;
        CHECK_OK(ebm_rbm_clone(a, &b));
        for (int gw = 1; gw >= 0; gw--) {
            ebm_set_threads(2);
            write_loadavg(path, ncpu + 1);
            CHECK_OK(ebm_rbm_trainer_new(gw ? a : b, &co, &t));
            ebm_cd_run_opts(&co, &o);
            o.give_way = gw;
            give_way_seen h = {.path = path, .sleep = gw};
            o.on_step = give_way_step;
            o.user = &h;
            CHECK_OK(ebm_run(t, rd, NULL, &o, NULL));
            CHECK(h.steps == 20 && (gw ? h.fewer_at > 0 : h.fewer_at == 0) && h.mismatch == 0);
            CHECK(ebm_get_threads() == 2);
            ebm_trainer_free(t);
        }
        CHECK(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0);
        ebm_rbm_free(a);
        ebm_rbm_free(b);
        ebm_mat_free(rd);
    }
    unsetenv("EBM_LOADAVG_FILE");
    unlink(path);
}

int main(void) {
    test_epochs();
    test_iterations_and_repeat();
    test_rollback_and_cancel();
    test_bad_options();
    test_rbm_trainer();
    test_sample_rows();
    test_give_way();
    return check_summary("test_run");
}
