/* Data-parallel training without MPI: ebm_run over R "processes" that are R threads of this program, joined by
 * an all-reduce over shared memory (a barrier, then every rank sums the R buffers in rank order), which is what
 * the command line's MPI all-reduce gives ebm_run.  For every trainer whose draws follow the global row and
 * chain index (RBM PCD, GRBM from noise / from the data / persistent, BM CD / PCD, LCD with a replay buffer /
 * short-run / persistent chains, JEM) and R = 2 and 3:
 *  - every rank ends with the same parameters, bit for bit, and they equal one process's within 1e-5 (the
 *    rounding of the gradient summed in R parts); the LCD trainers' last negatives too (every rank holds
 *    the whole batch of them, gathered);
 *  - the checkpoint of an R-rank run (the ranks' persistent chains gathered, ops->gather) equals the
 *    one-process checkpoint at the same update: the same tensors, floats within 1e-5, the rest (random
 *    streams, the permutation) bit for bit;
 *  - resumed from its own checkpoint, an R-rank run gives the uninterrupted R-rank run bit for bit; resumed
 *    from the one-process checkpoint, the one-process model within 1e-5;
 *  - in an R-rank run of a trainer that gathers, ebm_run_checkpoint outside on_checkpoint is refused.
 * The MPI launch itself (mpirun -np 2 ebm train ...) is tests/test_mpi.sh. */
#include "check.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define MAXR 3

/* ---- the all-reduce over threads ---- */
typedef struct {
    pthread_barrier_t bar;
    size_t ranks;
    float *bufs[MAXR];
    size_t n[MAXR];
} comm;

typedef struct {
    comm *c;
    size_t rank;
    float *tmp;
    size_t cap;
} endpoint;

static ebm_status thread_allreduce(float *buf, size_t n, void *user) {
    endpoint *e = user;
    comm *c = e->c;
    c->bufs[e->rank] = buf;
    c->n[e->rank] = n;
    pthread_barrier_wait(&c->bar);
    bool same = true;
    for (size_t r = 0; r < c->ranks; r++) same &= c->n[r] == n;
    if (same && n > e->cap) {
        float *t = realloc(e->tmp, n * sizeof(float));
        if (t) e->tmp = t, e->cap = n;
        same = t != NULL;
    }
    for (size_t i = 0; same && i < n; i++) {
        float s = c->bufs[0][i];
        for (size_t r = 1; r < c->ranks; r++) s += c->bufs[r][i];
        e->tmp[i] = s;
    }
    pthread_barrier_wait(&c->bar); /* every rank has read every buffer */
    if (!same) return EBM_EINVAL; /* the ranks passed different sizes */
    memcpy(buf, e->tmp, n * sizeof(float));
    return EBM_OK;
}

/* ---- the cases: a model, its trainer and run options ---- */
typedef struct {
    void *model, *extra;
    ebm_trainer *t;
    ebm_run_opts ro;
} inst;

typedef struct tcase {
    const char *name;
    ebm_status (*make)(const struct tcase *c, inst *in);
    ebm_status (*dump)(inst *in, ebm_tensors *out); /* the model's tensors (and the LCD's negatives) */
    void (*drop)(inst *in);
    const ebm_mat *x;
    const int32_t *y;
    int variant;
    int gathers;         /* the trainer keeps slices of chains (ops->gather) */
} tcase;

static void init_rng(ebm_rng *g) { ebm_rng_seed(g, 7, 9); }

static ebm_status rbm_make(const tcase *c, inst *in) {
    ebm_rbm *m;
    ebm_status s = ebm_rbm_new(c->x->cols, 6, &m);
    if (s) return s;
    ebm_rng g;
    init_rng(&g);
    ebm_rbm_init(m, &g, 0.01f, c->x);
    ebm_cd_opts o;
    ebm_cd_opts_default(&o);
    o.epochs = 3;
    o.batch = 13; /* 60 rows: a short last batch of 8 */
    o.mode = EBM_PCD;
    o.chains = 7;
    o.k = 3; /* sweeps 3..k update the chains' products by their flips (cd.c): covered over processes too */
    in->model = m;
    ebm_cd_run_opts(&o, &in->ro);
    return ebm_rbm_trainer_new(m, &o, &in->t);
}
static ebm_status rbm_dump(inst *in, ebm_tensors *t) { return ebm_rbm_to_tensors(in->model, t); }
static void rbm_drop(inst *in) {
    ebm_trainer_free(in->t);
    ebm_rbm_free(in->model);
}

/* variant 0: CD from noise (Gibbs-Langevin with MH); 1: from the data (Gibbs); 2: persistent (Langevin) */
static ebm_status grbm_make(const tcase *c, inst *in) {
    ebm_grbm *m;
    ebm_status s = ebm_grbm_new(c->x->cols, 4, &m);
    if (s) return s;
    ebm_rng g;
    init_rng(&g);
    ebm_grbm_init(m, &g, 1.0f);
    ebm_grbm_train_opts o;
    ebm_grbm_train_opts_default(&o);
    o.epochs = 3;
    o.batch = 9; /* 40 rows: a short last batch of 4 */
    o.k = 3;
    o.lr = 0.02f;
    o.momentum = 0.5f;
    o.neg_init = c->variant == 0 ? EBM_GRBM_NEG_NOISE : c->variant == 1 ? EBM_GRBM_NEG_DATA : EBM_GRBM_NEG_PERSISTENT;
    o.sampler.sampler = c->variant == 0 ? EBM_GRBM_GIBBS_LANGEVIN : c->variant == 1 ? EBM_GRBM_GIBBS : EBM_GRBM_LANGEVIN;
    o.sampler.mh = c->variant == 0;
    o.sampler.langevin_steps = 3;
    o.chains = c->variant == 2 ? 5 : 0;
    in->model = m;
    ebm_grbm_run_opts(&o, &in->ro);
    return ebm_grbm_trainer_new(m, &o, &in->t);
}
static ebm_status grbm_dump(inst *in, ebm_tensors *t) { return ebm_grbm_to_tensors(in->model, t); }
static void grbm_drop(inst *in) {
    ebm_trainer_free(in->t);
    ebm_grbm_free(in->model);
}

/* variant 0: CD-2, random scan; 1: PCD-2 with 7 chains and Adam */
static ebm_status bm_make(const tcase *c, inst *in) {
    ebm_bm *m;
    ebm_status s = ebm_bm_new(c->x->cols, EBM_BM_01, &m);
    if (s) return s;
    ebm_rng g;
    init_rng(&g);
    ebm_bm_init(m, &g, 0.01f, c->x);
    ebm_bm_train_opts o;
    ebm_bm_train_opts_default(&o);
    o.epochs = 3;
    o.batch = 13;
    o.method = c->variant ? EBM_BM_PCD : EBM_BM_CD;
    o.scan = c->variant ? EBM_SCAN_SYSTEMATIC : EBM_SCAN_RANDOM;
    o.chains = 7;
    o.k = 2;
    if (c->variant) o.optim.kind = EBM_OPTIM_ADAM, o.optim.lr = 0.01f;
    in->model = m;
    ebm_bm_run_opts(&o, &in->ro);
    return ebm_bm_trainer_new(m, &o, &in->t);
}
static ebm_status bm_dump(inst *in, ebm_tensors *t) { return ebm_bm_to_tensors(in->model, t); }
static void bm_drop(inst *in) {
    ebm_trainer_free(in->t);
    ebm_bm_free(in->model);
}

/* LCD on a small MLP (variant 0: replay buffer, ULA, data noise; 1: short-run, MALA; 2: persistent, HMC);
 * variant 3: JEM on a classifier. */
static ebm_status net_make(const tcase *c, inst *in) {
    ebm_net *net;
    int jem = c->variant == 3;
    ebm_status s = ebm_net_new(jem ? "linear:10,silu,linear:3" : "linear:10,silu,linear:1", c->x->cols, 1, 1, &net);
    if (s) return s;
    ebm_rng g;
    init_rng(&g);
    ebm_net_init(net, &g);
    ebm_lcd_opts o;
    ebm_lcd_opts_default(&o);
    o.iters = 12;
    o.batch = 11;
    o.buffer = 30;
    o.mode = c->variant == 1 ? EBM_NEG_SHORTRUN : c->variant == 2 ? EBM_NEG_PERSISTENT : EBM_NEG_BUFFER;
    o.mcmc.kind = c->variant == 1 ? EBM_MCMC_MALA : c->variant == 2 ? EBM_MCMC_HMC : EBM_MCMC_ULA;
    o.mcmc.steps = 3;
    o.mcmc.step_size = 0.05f;
    o.mcmc.leapfrog = 3;
    o.optim.lr = 1e-3f;
    o.data_noise = c->variant == 0 ? 0.01f : 0.0f;
    in->model = net;
    ebm_lcd_run_opts(&o, &in->ro);
    if (jem) return ebm_jem_trainer_new(net, &o, &in->t);
    ebm_energy *e;
    s = ebm_net_energy(net, EBM_NET_HEAD_SCALAR, &e);
    if (s) return s;
    in->extra = e;
    return ebm_lcd_trainer_new(e, &o, &in->t);
}
static ebm_status net_dump(inst *in, ebm_tensors *t) {
    ebm_status s = ebm_net_to_tensors(in->model, t);
    size_t n;
    const float *neg = ebm_lcd_trainer_negatives(in->t, &n);
    size_t sh[1] = {n * ebm_net_input_size(in->model)};
    if (!s && neg) s = ebm_tensors_put(t, "negatives", EBM_F32, 1, sh, neg);
    return s;
}
static void net_drop(inst *in) {
    ebm_trainer_free(in->t);
    ebm_energy_free(in->extra);
    ebm_net_free(in->model);
}

/* ---- one run of a case over `ranks` threads (ranks 1: this thread, no all-reduce) ---- */
typedef struct {
    size_t at;           /* on_checkpoint after update `at` keeps a checkpoint (0: none) */
    size_t stop;         /* stop after update `stop` (0: run to the end) */
    const ebm_tensors *resume;
    int ckpt_on_step;    /* try ebm_run_checkpoint from on_step after update `at` (must be refused) */
} plan;

typedef struct {
    const tcase *c;
    const plan *p;
    size_t rank, ranks;
    endpoint ep;
    ebm_status run_status, make_status, step_ckpt_status;
    ebm_tensors *out, *ckpt;
} rank_job;

static ebm_status on_ckpt(ebm_trainer *t, const ebm_run_progress *p, void *user) {
    rank_job *j = user;
    if (p->step != j->p->at || j->rank != 0) return EBM_OK; /* every rank gathers; rank 0 alone keeps it */
    ebm_status s = ebm_tensors_new(&j->ckpt);
    return s ? s : ebm_run_checkpoint(t, j->ckpt);
}

static int on_step(const ebm_run_progress *p, void *user) {
    rank_job *j = user;
    (void)p;
    return j->p->stop && p->step >= j->p->stop;
}

static void *rank_main(void *arg) {
    rank_job *j = arg;
    ebm_set_threads(1);
    inst in = {0};
    j->make_status = j->c->make(j->c, &in);
    if (j->make_status) return NULL;
    if (j->ranks > 1) {
        in.ro.rank = j->rank;
        in.ro.ranks = j->ranks;
        in.ro.allreduce = thread_allreduce;
        in.ro.allreduce_user = &j->ep;
    }
    in.ro.resume = j->p->resume;
    in.ro.checkpoint_every = 1;
    in.ro.on_checkpoint = on_ckpt;
    in.ro.on_step = on_step;
    in.ro.user = j;
    j->run_status = ebm_run(in.t, j->c->x, j->c->y, &in.ro, NULL);
    if (!ebm_tensors_new(&j->out)) j->c->dump(&in, j->out);
    j->c->drop(&in);
    free(j->ep.tmp);
    return NULL;
}

/* Runs c over `ranks` threads under plan p; jobs[r] hold each rank's results. */
static void run_ranks(const tcase *c, size_t ranks, const plan *p, rank_job *jobs) {
    comm cm;
    memset(&cm, 0, sizeof cm);
    cm.ranks = ranks;
    pthread_barrier_init(&cm.bar, NULL, (unsigned)ranks);
    pthread_t th[MAXR];
    for (size_t r = 0; r < ranks; r++) {
        memset(&jobs[r], 0, sizeof jobs[r]);
        jobs[r] = (rank_job){.c = c, .p = p, .rank = r, .ranks = ranks, .ep = {&cm, r, NULL, 0}};
    }
    if (ranks == 1) rank_main(&jobs[0]);
    else {
        for (size_t r = 0; r < ranks; r++) pthread_create(&th[r], NULL, rank_main, &jobs[r]);
        for (size_t r = 0; r < ranks; r++) pthread_join(th[r], NULL);
    }
    pthread_barrier_destroy(&cm.bar);
}

static void free_jobs(rank_job *jobs, size_t ranks) {
    for (size_t r = 0; r < ranks; r++) {
        ebm_tensors_free(jobs[r].out);
        ebm_tensors_free(jobs[r].ckpt);
    }
}

/* Max |a - b| over the float32 tensors of two tensor sets, and |a - b| / max(1, |a|) over the float64 ones
 * (the loop's running figure sums), the other tensors compared bit for bit: -1 when the sets differ in
 * names, types, sizes or those bytes. */
static double tensors_diff(const ebm_tensors *a, const ebm_tensors *b, const char **what) {
    *what = "";
    if (ebm_tensors_count(a) != ebm_tensors_count(b)) return -1;
    double d = 0;
    for (size_t i = 0; i < ebm_tensors_count(a); i++) {
        const char *name = ebm_tensors_name(a, i);
        const ebm_array *x = ebm_tensors_get(a, name), *y = ebm_tensors_get(b, name);
        *what = name;
        if (!y || x->dtype != y->dtype || ebm_array_numel(x) != ebm_array_numel(y)) return -1;
        size_t n = ebm_array_numel(x);
        if (x->dtype == EBM_F64) {
            const double *p = x->data, *q = y->data;
            for (size_t k = 0; k < n; k++) {
                double e = fabs(p[k] - q[k]) / fmax(1.0, fabs(p[k]));
                if (!(e <= d)) d = e;
            }
            continue;
        }
        if (x->dtype != EBM_F32) {
            if (memcmp(x->data, y->data, n * ebm_dtype_size(x->dtype))) return -1;
            continue;
        }
        const float *p = x->data, *q = y->data;
        for (size_t k = 0; k < n; k++) {
            double e = fabs((double)p[k] - (double)q[k]);
            if (!(e <= d)) d = e; /* NaN propagates */
        }
    }
    *what = "";
    return d;
}

static bool all_ok(const rank_job *jobs, size_t ranks) {
    for (size_t r = 0; r < ranks; r++)
        if (jobs[r].make_status || (jobs[r].run_status && jobs[r].run_status != EBM_ECANCELED) || !jobs[r].out) return false;
    return true;
}

static void check_case(const tcase *c, size_t ranks, size_t at, size_t stop) {
    rank_job one[1], full[MAXR], cut[MAXR], res[MAXR], cross[MAXR];
    const char *what;
    /* one process and R ranks, uninterrupted, each keeping a checkpoint after update `at` */
    plan p_full = {at, 0, NULL, 0};
    run_ranks(c, 1, &p_full, one);
    run_ranks(c, ranks, &p_full, full);
    REQUIRE(all_ok(one, 1) && one[0].run_status == EBM_OK);
    CHECK_MSG(all_ok(full, ranks) && full[0].run_status == EBM_OK, "%s x%zu: %s", c->name, ranks, ebm_status_name(full[0].run_status));
    if (!all_ok(full, ranks)) return;
    for (size_t r = 1; r < ranks; r++)
        CHECK_MSG(tensors_diff(full[0].out, full[r].out, &what) == 0, "%s x%zu: rank %zu ends unlike rank 0 (%s)", c->name,
                  ranks, r, what);
    double d1 = tensors_diff(one[0].out, full[0].out, &what);
    CHECK_MSG(d1 >= 0 && d1 <= 1e-5, "%s x%zu vs one process: %g (%s)", c->name, ranks, d1, what);
    double dck = one[0].ckpt && full[0].ckpt ? tensors_diff(one[0].ckpt, full[0].ckpt, &what) : -1;
    CHECK_MSG(dck >= 0 && dck <= 1e-5, "%s x%zu: checkpoint after %zu vs one process's: %g (%s)", c->name, ranks, at, dck,
              what);
    /* R ranks stopped after `stop`, resumed from their checkpoint after `at`: the uninterrupted R-rank run */
    plan p_cut = {at, stop, NULL, 0};
    run_ranks(c, ranks, &p_cut, cut);
    CHECK(all_ok(cut, ranks) && cut[0].run_status == EBM_ECANCELED && cut[0].ckpt);
    double d22 = -1, d12 = -1;
    if (cut[0].ckpt) {
        plan p_res = {0, 0, cut[0].ckpt, 0};
        run_ranks(c, ranks, &p_res, res);
        CHECK_MSG(all_ok(res, ranks) && res[0].run_status == EBM_OK, "%s x%zu resumed: %s", c->name, ranks, ebm_last_error());
        if (all_ok(res, ranks)) d22 = tensors_diff(full[0].out, res[0].out, &what);
        CHECK_MSG(d22 == 0, "%s x%zu resumed after %zu vs uninterrupted: %g (%s)", c->name, ranks, at, d22, what);
        free_jobs(res, ranks);
    }
    /* R ranks resumed from the one-process checkpoint: the one-process model within rounding */
    if (one[0].ckpt) {
        plan p_x = {0, 0, one[0].ckpt, 0};
        run_ranks(c, ranks, &p_x, cross);
        CHECK(all_ok(cross, ranks) && cross[0].run_status == EBM_OK);
        if (all_ok(cross, ranks)) d12 = tensors_diff(one[0].out, cross[0].out, &what);
        CHECK_MSG(d12 >= 0 && d12 <= 1e-5, "%s x%zu resumed from one process's checkpoint: %g (%s)", c->name, ranks, d12, what);
        free_jobs(cross, ranks);
    }
    printf("  %-24s x%zu: vs one process %.2g, checkpoints %.2g, resumed x%zu -> x%zu %.2g, x1 -> x%zu %.2g\n", c->name,
           ranks, d1, dck, ranks, ranks, d22, ranks, d12);
    free_jobs(one, 1);
    free_jobs(full, ranks);
    free_jobs(cut, ranks);
}

/* A trainer that gathers its chains refuses a checkpoint taken from on_step in a run over several ranks. */
static int step_ckpt(const ebm_run_progress *p, void *user);
typedef struct {
    ebm_trainer *t;
    ebm_status s;
    int tried;
} step_try;

static void *refuse_main(void *arg) {
    rank_job *j = arg;
    ebm_set_threads(1);
    inst in = {0};
    j->make_status = j->c->make(j->c, &in);
    if (j->make_status) return NULL;
    in.ro.rank = j->rank;
    in.ro.ranks = j->ranks;
    in.ro.allreduce = thread_allreduce;
    in.ro.allreduce_user = &j->ep;
    step_try st = {in.t, EBM_OK, 0};
    in.ro.on_step = step_ckpt;
    in.ro.user = &st;
    j->run_status = ebm_run(in.t, j->c->x, j->c->y, &in.ro, NULL);
    j->step_ckpt_status = st.tried ? st.s : EBM_OK;
    j->c->drop(&in);
    free(j->ep.tmp);
    return NULL;
}

static int step_ckpt(const ebm_run_progress *p, void *user) {
    step_try *st = user;
    if (p->step != 2) return 0;
    ebm_tensors *ck;
    if (ebm_tensors_new(&ck)) return 1;
    st->s = ebm_run_checkpoint(st->t, ck);
    st->tried = 1;
    ebm_tensors_free(ck);
    return 0;
}

static void check_refused(const tcase *c) {
    comm cm;
    memset(&cm, 0, sizeof cm);
    cm.ranks = 2;
    pthread_barrier_init(&cm.bar, NULL, 2);
    rank_job jobs[2];
    pthread_t th[2];
    for (size_t r = 0; r < 2; r++) {
        jobs[r] = (rank_job){.c = c, .rank = r, .ranks = 2, .ep = {&cm, r, NULL, 0}};
        pthread_create(&th[r], NULL, refuse_main, &jobs[r]);
    }
    for (size_t r = 0; r < 2; r++) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&cm.bar);
    CHECK(jobs[0].run_status == EBM_OK && jobs[1].run_status == EBM_OK);
    CHECK_MSG(jobs[0].step_ckpt_status == EBM_EINVAL, "%s: a checkpoint from on_step over 2 ranks gave %s", c->name,
              ebm_status_name(jobs[0].step_ckpt_status));
    printf("  %-24s x2: a checkpoint from on_step is refused\n", c->name);
}

static ebm_mat *binary_data(size_t n, size_t d) {
    ebm_mat *x;
    if (ebm_mat_new(n, d, &x)) return NULL;
    ebm_rng g;
    ebm_rng_seed(&g, 1, 0);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) x->data[i * d + j] = ebm_rng_uniform(&g) < (j % 3 == i % 3 ? 0.8 : 0.2) ? 1.0f : 0.0f;
    return x;
}

static ebm_mat *gauss_data(size_t n, size_t d, uint64_t seed) {
    ebm_mat *x;
    if (ebm_mat_new(n, d, &x)) return NULL;
    ebm_rng g;
    ebm_rng_seed(&g, seed, 0);
    for (size_t i = 0; i < n * d; i++) x->data[i] = 0.5f * (float)ebm_rng_normal(&g) + (float)(i % d) * 0.1f;
    return x;
}

int main(void) {
    ebm_mat *xb = binary_data(60, 9), *xg = gauss_data(40, 5, 2), *xn = gauss_data(50, 3, 3);
    REQUIRE(xb && xg && xn);
    int32_t *yn = malloc(50 * sizeof *yn);
    REQUIRE(yn);
    for (size_t i = 0; i < 50; i++) {
        yn[i] = (int32_t)(i % 3);
        xn->data[i * 3 + (size_t)yn[i]] += 1.0f;
    }
    const tcase cases[] = {
        {"rbm pcd", rbm_make, rbm_dump, rbm_drop, xb, NULL, 0, 1},
        {"grbm cd from noise", grbm_make, grbm_dump, grbm_drop, xg, NULL, 0, 0},
        {"grbm cd from data", grbm_make, grbm_dump, grbm_drop, xg, NULL, 1, 0},
        {"grbm pcd", grbm_make, grbm_dump, grbm_drop, xg, NULL, 2, 1},
        {"bm cd", bm_make, bm_dump, bm_drop, xb, NULL, 0, 0},
        {"bm pcd", bm_make, bm_dump, bm_drop, xb, NULL, 1, 1},
        {"lcd buffer", net_make, net_dump, net_drop, xn, NULL, 0, 0},
        {"lcd short-run mala", net_make, net_dump, net_drop, xn, NULL, 1, 0},
        {"lcd persistent hmc", net_make, net_dump, net_drop, xn, NULL, 2, 0},
        {"jem", net_make, net_dump, net_drop, xn, yn, 3, 0},
    };
    printf("R ranks as R threads against one process (max abs differences):\n");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (size_t ranks = 2; ranks <= MAXR; ranks++) check_case(&cases[i], ranks, 5, 8);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (cases[i].gathers) check_refused(&cases[i]);
    free(yn);
    ebm_mat_free(xb);
    ebm_mat_free(xg);
    ebm_mat_free(xn);
    return check_summary("test_shard");
}
