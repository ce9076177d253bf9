/* Bit-exact resume for every trainer: N updates in one run equal k updates, a checkpoint written to a file
 * (ebm_run_checkpoint + ebm_safetensors_write), the run killed a few updates later (work after the
 * checkpoint lost), then a fresh model (initialised differently) and a fresh trainer resumed from the file
 * read back: every tensor of the model memcmp-equal.  Covers RBM CD and PCD (a linear schedule), GRBM PCD,
 * BM CD and PCD, a DBN (resumed in its first and in its second layer), LCD with a replay buffer and with
 * persistent chains (spectral normalisation too), JEM, structured K-class and chains; and that a resume with
 * other data, another batch size, another model size or other trainer settings is refused by name. */
#include "check.h"

#include <stdbool.h>
#include <stdint.h>

/* One model with its trainer and run options (made by a case's make, freed by its drop). */
typedef struct {
    void *model;
    void *extra;         /* e.g. the energy of a net */
    ebm_trainer *t;
    ebm_run_opts ro;
} inst;

typedef struct tcase {
    const char *name;
    ebm_status (*make)(const struct tcase *c, inst *in, uint64_t init_seed);
    ebm_status (*dump)(inst *in, ebm_tensors *out); /* the model's tensors */
    void (*drop)(inst *in);
    const ebm_mat *x;
    const int32_t *y;
    int variant;         /* case-specific: CD or PCD, buffer or persistent, ... */
    size_t hidden;       /* model size */
} tcase;

static char path_[512];

/* The run's callbacks: write the checkpoint after update `at`, stop (as a kill would) after update `stop`. */
typedef struct {
    size_t at, stop;
    int written;
} kill_plan;

static ebm_status write_ckpt(ebm_trainer *t, const ebm_run_progress *p, void *user) {
    kill_plan *k = user;
    if (p->step != k->at) return EBM_OK;
    ebm_tensors *ck;
    ebm_status s = ebm_tensors_new(&ck);
    if (!s) s = ebm_run_checkpoint(t, ck);
    if (!s) s = ebm_safetensors_write(path_, ck);
    ebm_tensors_free(ck);
    if (!s) k->written = 1;
    return s;
}

static int stop_at(const ebm_run_progress *p, void *user) { return p->step >= ((kill_plan *)user)->stop; }

static bool same_tensors(const char *what, ebm_tensors *a, ebm_tensors *b) {
    if (ebm_tensors_count(a) != ebm_tensors_count(b)) {
        fprintf(stderr, "%s: %zu vs %zu tensors\n", what, ebm_tensors_count(a), ebm_tensors_count(b));
        return false;
    }
    for (size_t i = 0; i < ebm_tensors_count(a); i++) {
        const char *name = ebm_tensors_name(a, i);
        const ebm_array *x = ebm_tensors_get(a, name), *y = ebm_tensors_get(b, name);
        size_t bytes = ebm_array_numel(x) * ebm_dtype_size(x->dtype);
        if (!y || x->dtype != y->dtype || ebm_array_numel(x) != ebm_array_numel(y) || memcmp(x->data, y->data, bytes)) {
            fprintf(stderr, "%s: tensor %s differs\n", what, name);
            return false;
        }
    }
    return true;
}

/* The uninterrupted run's tensors vs checkpoint at `at`, killed at `stop`, resumed. */
static void check_resume(const tcase *c, size_t at, size_t stop) {
    inst a = {0}, b = {0}, r = {0};
    ebm_tensors *ta = NULL, *tr = NULL, *ck = NULL;
    ebm_run_result res;
    REQUIRE(c->make(c, &a, 7) == EBM_OK);
    CHECK_OK(ebm_run(a.t, c->x, c->y, &a.ro, &res));
    size_t steps = res.steps_done;
    CHECK_OK(ebm_tensors_new(&ta));
    CHECK_OK(c->dump(&a, ta));

    REQUIRE(c->make(c, &b, 7) == EBM_OK);
    kill_plan k = {at, stop, 0};
    b.ro.checkpoint_every = 1;
    b.ro.on_checkpoint = write_ckpt;
    b.ro.on_step = stop_at;
    b.ro.user = &k;
    CHECK_STATUS(ebm_run(b.t, c->x, c->y, &b.ro, NULL), EBM_ECANCELED);
    CHECK(k.written);

    REQUIRE(c->make(c, &r, 12345) == EBM_OK); /* another start: the checkpoint must replace it */
    CHECK_OK(ebm_safetensors_read(path_, &ck));
    r.ro.resume = ck;
    CHECK_OK(ebm_run(r.t, c->x, c->y, &r.ro, &res));
    CHECK(res.steps_done == steps);
    CHECK_OK(ebm_tensors_new(&tr));
    CHECK_OK(c->dump(&r, tr));
    CHECK_MSG(same_tensors(c->name, ta, tr), "%s: resumed after update %zu (killed after %zu of %zu) differs", c->name,
              at, stop, steps);
    printf("  %-22s checkpoint after %2zu, killed after %2zu, %2zu updates: identical\n", c->name, at, stop, steps);
    ebm_tensors_free(ta);
    ebm_tensors_free(tr);
    ebm_tensors_free(ck);
    c->drop(&a);
    c->drop(&b);
    c->drop(&r);
}

/* ---- the cases ---- */
static ebm_mat *binary_data(size_t n, size_t d, uint64_t seed) {
    ebm_mat *x;
    if (ebm_mat_new(n, d, &x)) return NULL;
    ebm_rng g;
    ebm_rng_seed(&g, seed, 0);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) x->data[i * d + j] = ebm_rng_uniform(&g) < (j % 2 ? 0.7 : 0.3) ? 1.0f : 0.0f;
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

static ebm_status rbm_make(const tcase *c, inst *in, uint64_t seed) {
    ebm_rbm *m;
    ebm_status s = ebm_rbm_new(c->x->cols, c->hidden, &m);
    if (s) return s;
    ebm_rng g;
    ebm_rng_seed(&g, seed, 9);
    ebm_rbm_init(m, &g, 0.01f, c->x);
    ebm_cd_opts o;
    ebm_cd_opts_default(&o);
    o.epochs = 3;
    o.batch = 10;
    o.mode = c->variant == 1 || c->variant == 3 ? EBM_PCD : EBM_CD;
    o.chains = c->variant == 1 ? 7 : 0;
    /* variant 3: bf16 products, whose W copy the fused update writes and a resumed trainer must remake */
    ebm_precision bf;
    if (c->variant == 3 && ebm_precision_resolve(EBM_PRECISION_BF16, &bf) == EBM_OK) o.precision = bf;
    o.k = c->variant == 1 ? 2 : c->variant == 2 ? 3 : 1;
    if (c->variant == 1) o.lr_final = 0.001f;
    in->model = m;
    ebm_cd_run_opts(&o, &in->ro);
    return ebm_rbm_trainer_new(m, &o, &in->t);
}
static ebm_status rbm_dump(inst *in, ebm_tensors *t) { return ebm_rbm_to_tensors(in->model, t); }
static void rbm_drop(inst *in) {
    ebm_trainer_free(in->t);
    ebm_rbm_free(in->model);
}

static ebm_status grbm_make(const tcase *c, inst *in, uint64_t seed) {
    ebm_grbm *m;
    ebm_status s = ebm_grbm_new(c->x->cols, c->hidden, &m);
    if (s) return s;
    ebm_rng g;
    ebm_rng_seed(&g, seed, 9);
    ebm_grbm_init(m, &g, 1.0f);
    ebm_grbm_train_opts o;
    ebm_grbm_train_opts_default(&o);
    o.epochs = 3;
    o.batch = 8;
    o.k = 3;
    o.neg_init = EBM_GRBM_NEG_PERSISTENT;
    o.momentum = 0.5f;
    in->model = m;
    ebm_grbm_run_opts(&o, &in->ro);
    return ebm_grbm_trainer_new(m, &o, &in->t);
}
static ebm_status grbm_dump(inst *in, ebm_tensors *t) { return ebm_grbm_to_tensors(in->model, t); }
static void grbm_drop(inst *in) {
    ebm_trainer_free(in->t);
    ebm_grbm_free(in->model);
}

static ebm_status bm_make(const tcase *c, inst *in, uint64_t seed) {
    ebm_bm *m;
    ebm_status s = ebm_bm_new(c->x->cols, EBM_BM_01, &m);
    if (s) return s;
    ebm_rng g;
    ebm_rng_seed(&g, seed, 9);
    ebm_bm_init(m, &g, 0.01f, c->x);
    ebm_bm_train_opts o;
    ebm_bm_train_opts_default(&o);
    o.epochs = 3;
    o.batch = 10;
    o.method = c->variant ? EBM_BM_PCD : EBM_BM_CD;
    o.chains = 6;
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

/* LCD on a small MLP energy (variant 0: replay buffer; 1: persistent chains with a spectrally normalised
 * layer); JEM (variant 2) on a classifier; JEM with JEM++'s options (variant 3: Gaussian chain starts per
 * class, proximal steps, a moving average of the weights, which the dump holds too). */
static ebm_status net_make(const tcase *c, inst *in, uint64_t seed) {
    ebm_net *net;
    int jem = c->variant >= 2;
    const char *spec = jem ? "linear:12,silu,linear:3" : c->variant ? "linear:12:sn,silu,linear:1" : "linear:12,silu,linear:1";
    ebm_status s = ebm_net_new(spec, c->x->cols, 1, 1, &net);
    if (s) return s;
    ebm_rng g;
    ebm_rng_seed(&g, seed, 9);
    ebm_net_init(net, &g);
    ebm_lcd_opts o;
    ebm_lcd_opts_default(&o);
    o.iters = 14;
    o.batch = 8;
    o.buffer = 40;
    o.mode = c->variant == 1 ? EBM_NEG_PERSISTENT : EBM_NEG_BUFFER;
    o.mcmc.steps = 4;
    o.mcmc.step_size = 0.1f;
    o.optim.lr = 1e-3f;
    o.data_noise = 0.01f;
    in->model = net;
    if (c->variant == 3) {
        o.init = EBM_INIT_GAUSSIAN;
        o.mcmc.prox = 0.05f;
        o.ema = 0.9f;
    }
    if (jem) {
        ebm_lcd_run_opts(&o, &in->ro);
        return ebm_jem_trainer_new(net, &o, &in->t);
    }
    ebm_energy *e;
    s = ebm_net_energy(net, EBM_NET_HEAD_SCALAR, &e);
    if (s) return s;
    in->extra = e;
    if (c->variant == 1) o.sn_net = net;
    ebm_lcd_run_opts(&o, &in->ro);
    return ebm_lcd_trainer_new(e, &o, &in->t);
}
static ebm_status net_dump(inst *in, ebm_tensors *t) {
    ebm_status s = ebm_net_to_tensors(in->model, t);
    size_t n;
    const float *neg = ebm_lcd_trainer_negatives(in->t, &n);
    size_t sh[1] = {n * ebm_net_input_size(in->model)};
    if (!s && neg) s = ebm_tensors_put(t, "negatives", EBM_F32, 1, sh, neg);
    size_t np;
    if (!s && ebm_lcd_trainer_swap_ema(in->t) == EBM_OK) { /* the average, then the weights back */
        const float *avg = ebm_net_params(in->model, &np);
        s = ebm_tensors_put(t, "ema", EBM_F32, 1, &np, avg);
        ebm_lcd_trainer_swap_ema(in->t);
    }
    return s;
}
static void net_drop(inst *in) {
    ebm_trainer_free(in->t);
    ebm_energy_free(in->extra);
    ebm_net_free(in->model);
}

static ebm_status sp_make(const tcase *c, inst *in, uint64_t seed) {
    ebm_structured *m;
    size_t len = c->variant ? 6 : 0, k = 3;
    ebm_status s = ebm_structured_new("linear:5,tanh,linear:3", c->variant ? k : c->x->cols, 1, 1, k, len,
                                      EBM_STRUCTURED_OUT_SOFTPLUS, &m);
    if (s) return s;
    ebm_rng g;
    ebm_rng_seed(&g, seed, 9);
    ebm_structured_init(m, &g);
    if (m->pair)
        for (size_t i = 0; i < k * k; i++) m->pair[i] = 0.01f * (float)(seed % 7) * (float)i;
    ebm_structured_train_opts o;
    ebm_structured_train_opts_default(&o);
    o.epochs = 3;
    o.batch = 9;
    o.optim.lr = 1e-2f;
    if (c->variant) o.loss.loss = EBM_STRUCTURED_NLL;
    in->model = m;
    ebm_structured_run_opts(&o, &in->ro);
    return ebm_structured_trainer_new(m, &o, &in->t);
}
static ebm_status sp_dump(inst *in, ebm_tensors *t) {
    ebm_structured *m = in->model;
    ebm_status s = ebm_net_to_tensors(m->net, t);
    size_t sh[1] = {m->k * m->k};
    if (!s && m->pair) s = ebm_tensors_put(t, "pair", EBM_F32, 1, sh, m->pair);
    return s;
}
static void sp_drop(inst *in) {
    ebm_trainer_free(in->t);
    ebm_structured_free(in->model);
}

/* ---- the DBN: resumed inside layer 0 and inside layer 1 ---- */
typedef struct {
    ebm_dbn *d;
    size_t layer, at, stop; /* checkpoint after update `at` of `layer`, stop after `stop` there */
    int written;
} dbn_plan;

static ebm_status dbn_ckpt(ebm_trainer *t, const ebm_run_progress *p, void *user);
static int dbn_stop(const ebm_run_progress *p, void *user);

typedef struct {
    dbn_plan *plan;
    ebm_dbn_layer_run *L;
} dbn_cb;

static ebm_status dbn_ckpt(ebm_trainer *t, const ebm_run_progress *p, void *user) {
    dbn_cb *cb = user;
    (void)t;
    if (cb->L->layer != cb->plan->layer || p->step != cb->plan->at) return EBM_OK;
    ebm_tensors *ck;
    ebm_status s = ebm_tensors_new(&ck);
    if (!s) s = ebm_dbn_checkpoint(cb->plan->d, cb->L, ck);
    if (!s) s = ebm_safetensors_write(path_, ck);
    ebm_tensors_free(ck);
    if (!s) cb->plan->written = 1;
    return s;
}

static int dbn_stop(const ebm_run_progress *p, void *user) {
    dbn_cb *cb = user;
    return cb->L->layer == cb->plan->layer && p->step >= cb->plan->stop;
}

static ebm_status dbn_hook(ebm_dbn_layer_run *L, void *user) {
    dbn_cb cb = {user, L};
    if (user) {
        L->run.checkpoint_every = 1;
        L->run.on_checkpoint = dbn_ckpt;
        L->run.on_step = dbn_stop;
        L->run.user = &cb;
    }
    return ebm_run(L->trainer, L->input, NULL, &L->run, NULL);
}

static void dbn_case(const ebm_mat *x, size_t layer, size_t at, size_t stop) {
    const size_t sizes[3] = {x->cols, 8, 5};
    ebm_dbn *a, *b, *r;
    ebm_dbn_train_opts o;
    ebm_dbn_train_opts_default(&o);
    o.cd.epochs = 2;
    o.cd.batch = 10;
    o.cd.mode = EBM_PCD;
    o.cd.chains = 5;
    REQUIRE(ebm_dbn_new(sizes, 3, &a) == EBM_OK && ebm_dbn_new(sizes, 3, &b) == EBM_OK && ebm_dbn_new(sizes, 3, &r) == EBM_OK);
    CHECK_OK(ebm_dbn_train_run(a, x, &o, dbn_hook, NULL));
    dbn_plan plan = {b, layer, at, stop, 0};
    CHECK_STATUS(ebm_dbn_train_run(b, x, &o, dbn_hook, &plan), EBM_ECANCELED);
    CHECK(plan.written);
    ebm_tensors *ck, *ta, *tr;
    CHECK_OK(ebm_safetensors_read(path_, &ck));
    o.resume = ck;
    CHECK_OK(ebm_dbn_train_run(r, x, &o, NULL, NULL)); /* without a hook, too */
    CHECK_OK(ebm_tensors_new(&ta));
    CHECK_OK(ebm_tensors_new(&tr));
    CHECK_OK(ebm_dbn_to_tensors(a, ta));
    CHECK_OK(ebm_dbn_to_tensors(r, tr));
    CHECK_MSG(same_tensors("dbn", ta, tr), "dbn resumed in layer %zu after update %zu differs", layer, at);
    printf("  dbn layer %zu            checkpoint after %2zu, killed after %2zu: identical\n", layer, at, stop);
    ebm_tensors_free(ck);
    ebm_tensors_free(ta);
    ebm_tensors_free(tr);
    ebm_dbn_free(a);
    ebm_dbn_free(b);
    ebm_dbn_free(r);
}

/* A checkpoint of case c after `at` updates. */
static ebm_tensors *ckpt_of(const tcase *c, size_t at) {
    inst b = {0};
    if (c->make(c, &b, 7)) return NULL;
    kill_plan k = {at, at, 0};
    b.ro.checkpoint_every = 1;
    b.ro.on_checkpoint = write_ckpt;
    b.ro.on_step = stop_at;
    b.ro.user = &k;
    ebm_run(b.t, c->x, c->y, &b.ro, NULL);
    c->drop(&b);
    ebm_tensors *ck = NULL;
    return k.written && !ebm_safetensors_read(path_, &ck) ? ck : NULL;
}

/* Resuming c2 (another data set, size or setting) from a checkpoint of c fails with EBM_EINVAL naming what. */
static void check_refused(const tcase *c, ebm_tensors *ck, const tcase *c2, const char *what, ebm_status want) {
    inst r = {0};
    REQUIRE(c2->make(c2, &r, 7) == EBM_OK);
    r.ro.resume = ck;
    CHECK_STATUS(ebm_run(r.t, c2->x, c2->y, &r.ro, NULL), want);
    CHECK_MSG(strstr(ebm_last_error(), what) != NULL, "refusal names '%s': %s", what, ebm_last_error());
    printf("  refused (%s): %s\n", what, ebm_last_error());
    c2->drop(&r);
    (void)c;
}

int main(void) {
    snprintf(path_, sizeof path_, "%s/ebm_test_resume_%d.safetensors", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (int)getpid());
    ebm_mat *xb = binary_data(60, 12, 1), *xg = gauss_data(40, 6, 2), *xn = gauss_data(50, 4, 3);
    ebm_mat *xs, *xc;
    int32_t *ys, *yc;
    REQUIRE(xb && xg && xn);
    REQUIRE(ebm_structured_markov_toy(45, 6, 3, 0.8f, 0.5f, 4, &xc, &yc) == EBM_OK);
    REQUIRE(ebm_mat_new(45, 4, &xs) == EBM_OK);
    ys = malloc(45 * sizeof *ys);
    for (size_t i = 0; i < 45; i++) {
        ys[i] = (int32_t)(i % 3);
        for (size_t j = 0; j < 4; j++) xs->data[i * 4 + j] = (float)ys[i] * (j == (size_t)ys[i] ? 1.0f : 0.2f) + 0.1f * (float)j;
    }
    int32_t *yn = malloc(50 * sizeof *yn);
    for (size_t i = 0; i < 50; i++) yn[i] = xn->data[i * 4] > 0 ? (xn->data[i * 4 + 1] > 0.1f ? 2 : 1) : 0;

    const tcase cases[] = {
        {"rbm cd-1", rbm_make, rbm_dump, rbm_drop, xb, NULL, 0, 8},
        {"rbm pcd-2 linear lr", rbm_make, rbm_dump, rbm_drop, xb, NULL, 1, 8},
        {"grbm pcd", grbm_make, grbm_dump, grbm_drop, xg, NULL, 0, 5},
        {"bm cd", bm_make, bm_dump, bm_drop, xb, NULL, 0, 0},
        {"bm pcd adam", bm_make, bm_dump, bm_drop, xb, NULL, 1, 0},
        {"lcd replay buffer", net_make, net_dump, net_drop, xn, NULL, 0, 0},
        {"lcd persistent sn", net_make, net_dump, net_drop, xn, NULL, 1, 0},
        {"jem", net_make, net_dump, net_drop, xn, yn, 2, 0},
        {"jem++ gaussian starts, prox, ema", net_make, net_dump, net_drop, xn, yn, 3, 0},
        {"structured k-class", sp_make, sp_dump, sp_drop, xs, ys, 0, 0},
        {"structured chain", sp_make, sp_dump, sp_drop, xc, yc, 1, 0},
        {"rbm pcd-1 bf16", rbm_make, rbm_dump, rbm_drop, xb, NULL, 3, 8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_resume(&cases[i], 7, 9);  /* mid-epoch (epoch runs of 6 or 5 batches), work after it lost */
        check_resume(&cases[i], 6, 6);  /* at an epoch's end (most cases), stopped there */
    }
    dbn_case(xb, 0, 4, 7);
    dbn_case(xb, 1, 8, 10);

    /* a mismatched resume is refused, naming the difference */
    ebm_tensors *ck = ckpt_of(&cases[0], 5);
    REQUIRE(ck != NULL);
    ebm_mat *xb2 = binary_data(60, 12, 77);
    tcase other_data = cases[0], other_size = cases[0], other_k = cases[0];
    other_k.variant = 2; /* CD-3 instead of CD-1 */
    other_data.x = xb2;
    other_size.hidden = 9;
    check_refused(&cases[0], ck, &other_data, "data", EBM_EINVAL);
    check_refused(&cases[0], ck, &other_size, "params", EBM_EINVAL);
    check_refused(&cases[0], ck, &other_k, "setting.ebm.train.method", EBM_EINVAL);
    ebm_tensors_free(ck);
    /* the loop's settings: another batch size */
    ck = ckpt_of(&cases[3], 5);
    REQUIRE(ck != NULL);
    {
        inst r = {0};
        REQUIRE(cases[3].make(&cases[3], &r, 7) == EBM_OK);
        r.ro.batch = 12;
        r.ro.resume = ck;
        CHECK_STATUS(ebm_run(r.t, xb, NULL, &r.ro, NULL), EBM_EINVAL);
        CHECK_MSG(strstr(ebm_last_error(), "loop") && strstr(ebm_last_error(), "batch 10"), "%s", ebm_last_error());
        cases[3].drop(&r);
    }
    /* a checkpoint only during a run; a file that is not a checkpoint is refused */
    {
        inst r = {0};
        REQUIRE(cases[3].make(&cases[3], &r, 7) == EBM_OK);
        ebm_tensors *none;
        CHECK_OK(ebm_tensors_new(&none));
        CHECK_STATUS(ebm_run_checkpoint(r.t, none), EBM_EINVAL);
        r.ro.resume = none;
        CHECK_STATUS(ebm_run(r.t, xb, NULL, &r.ro, NULL), EBM_EFORMAT);
        CHECK(strstr(ebm_last_error(), "not a training checkpoint") != NULL);
        ebm_tensors_free(none);
        cases[3].drop(&r);
    }
    ebm_tensors_free(ck);
    unlink(path_);
    ebm_mat_free(xb);
    ebm_mat_free(xb2);
    ebm_mat_free(xg);
    ebm_mat_free(xn);
    ebm_mat_free(xs);
    ebm_mat_free(xc);
    free(ys);
    free(yc);
    free(yn);
    return check_summary("resume");
}
