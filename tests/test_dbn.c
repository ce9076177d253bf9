/* Deep belief nets: the up and down passes against hand-computed sigmoids on a tiny fixed DBN; encoding level 1
 * equals the bottom RBM's p(h | v); generation against the exact expectation of its output (enumerating the top
 * RBM's hidden layer), reproducibility, range and shape; greedy training (layer 0 identical to a plain RBM
 * trained alone, layer 1's reconstruction error and exact likelihood of its input improving); the file round
 * trip and malformed files; the layer-wise path with a hook per layer (ebm_dbn_train_run) bit-identical to it. */
#include "rbm_fixtures.h"

#include <stdbool.h>

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

/* A 5-4-3 DBN from two fixture RBMs. */
static ebm_dbn *tiny_dbn(void) {
    ebm_rbm *a = fixture_rbm(5, 4, 1.0, 0.5, 11), *b = fixture_rbm(4, 3, 1.2, 0.5, 12);
    const ebm_rbm *l[2] = {a, b};
    ebm_dbn *d;
    REQUIRE(ebm_dbn_from_rbms(l, 2, &d) == EBM_OK);
    ebm_rbm_free(a);
    ebm_rbm_free(b);
    return d;
}

/* out (nv) = sigmoid(W h + a) of layer m, in double. */
static void down_by_hand(const ebm_rbm *m, const double *h, double *out) {
    for (size_t i = 0; i < m->n_vis; i++) {
        double s = m->a[i];
        for (size_t j = 0; j < m->n_hid; j++) s += (double)m->W[i * m->n_hid + j] * h[j];
        out[i] = sigm(s);
    }
}

static void up_by_hand(const ebm_rbm *m, const double *v, double *out) {
    for (size_t j = 0; j < m->n_hid; j++) {
        double s = m->b[j];
        for (size_t i = 0; i < m->n_vis; i++) s += (double)m->W[i * m->n_hid + j] * v[i];
        out[j] = sigm(s);
    }
}

static void test_passes(void) {
    ebm_dbn *d = tiny_dbn();
    CHECK(d->n_layers == 2 && ebm_dbn_units(d, 0) == 5 && ebm_dbn_units(d, 1) == 4 && ebm_dbn_units(d, 2) == 3);
    CHECK(ebm_dbn_units(d, 3) == 0);
    /* down pass from the top: two rows of binary top units */
    float h2[2 * 3] = {1, 0, 1, 0, 1, 1}, out[2 * 5], mid[2 * 4];
    CHECK_OK(ebm_dbn_down(d, h2, 2, 2, out));
    for (int r = 0; r < 2; r++) {
        double h[3], p1[4], p0[5];
        for (int j = 0; j < 3; j++) h[j] = h2[r * 3 + j];
        down_by_hand(d->layers[1], h, p1);
        down_by_hand(d->layers[0], p1, p0);
        for (int i = 0; i < 5; i++) CHECK_NEAR(out[r * 5 + i], p0[i], 2e-6);
    }
    /* from level 1 the down pass is the bottom RBM's p(v | h) */
    float h1[4] = {0, 1, 1, 0}, pv[5];
    CHECK_OK(ebm_dbn_down(d, h1, 1, 1, out));
    CHECK_OK(ebm_rbm_visible_probs(d->layers[0], h1, 1, 1.0f, pv));
    for (int i = 0; i < 5; i++) CHECK_NEAR(out[i], pv[i], 1e-7);
    /* up pass: level 1 is the bottom RBM's p(h | v) (what `ebm encode --layer 1` writes), level 2 composes */
    float v[2 * 5] = {1, 0, 1, 1, 0, 0, 0, 1, 0, 1}, top[2 * 3], ph[2 * 4];
    CHECK_OK(ebm_dbn_up(d, v, 2, 1, mid));
    CHECK_OK(ebm_rbm_hidden_probs(d->layers[0], v, 2, 1.0f, ph));
    for (int i = 0; i < 8; i++) CHECK(mid[i] == ph[i]);
    CHECK_OK(ebm_dbn_up(d, v, 2, 2, top));
    for (int r = 0; r < 2; r++) {
        double x[5], p1[4], p2[3];
        for (int i = 0; i < 5; i++) x[i] = v[r * 5 + i];
        up_by_hand(d->layers[0], x, p1);
        up_by_hand(d->layers[1], p1, p2);
        for (int j = 0; j < 3; j++) CHECK_NEAR(top[r * 3 + j], p2[j], 2e-6);
    }
    CHECK_OK(ebm_dbn_up(d, v, 2, 0, out)); /* level 0: a copy */
    CHECK(memcmp(out, v, sizeof v) == 0);
    CHECK_FAILS(ebm_dbn_up(d, v, 2, 3, top), EBM_EINVAL);
    /* score: the bottom RBM's free energy */
    double F[2], Fr[2];
    CHECK_OK(ebm_dbn_free_energy(d, v, 2, F));
    CHECK_OK(ebm_rbm_free_energy(d->layers[0], v, 2, 1.0f, Fr));
    CHECK(F[0] == Fr[0] && F[1] == Fr[1]);
    /* evaluation: the mean of those free energies and the bottom layer's reconstruction error */
    double fmean, recon, recon_ref;
    CHECK_OK(ebm_dbn_evaluate(d, v, 2, &fmean, &recon));
    CHECK_OK(ebm_rbm_recon_error(d->layers[0], v, 2, &recon_ref));
    CHECK_NEAR(fmean, 0.5 * (F[0] + F[1]), 1e-12);
    CHECK(recon == recon_ref && recon > 0);
    CHECK(ebm_dbn_n_params(d) == d->layers[0]->n_params + d->layers[1]->n_params);
    CHECK(ebm_dbn_n_params(d) == (5 * 4 + 5 + 4) + (4 * 3 + 4 + 3));
    ebm_dbn_free(d);
    /* building */
    ebm_rbm *a = fixture_rbm(5, 4, 1, 1, 1), *b = fixture_rbm(3, 2, 1, 1, 2);
    const ebm_rbm *l[2] = {a, b};
    ebm_dbn *bad = NULL;
    CHECK_FAILS(ebm_dbn_from_rbms(l, 2, &bad), EBM_ESHAPE);
    CHECK(bad == NULL);
    size_t one[1] = {5};
    CHECK_FAILS(ebm_dbn_new(one, 1, &bad), EBM_EINVAL);
    ebm_rbm_free(a);
    ebm_rbm_free(b);
}

/* E[out] of the sampler, exactly: with the top RBM (levels 1, 2) at equilibrium, the last hidden state h2 has
 * the top RBM's marginal p(h2) and the output is down(p(h1 | h2)); sum over the 2^3 states of h2. */
static void exact_output_mean(const ebm_dbn *d, double *mean) {
    const ebm_rbm *top = d->layers[1];
    double logp[8], mx = -INFINITY, z = 0;
    for (int s = 0; s < 8; s++) {
        double lp = 0;
        for (int j = 0; j < 3; j++) lp += ((s >> j) & 1) * (double)top->b[j];
        for (size_t i = 0; i < 4; i++) {
            double x = top->a[i];
            for (int j = 0; j < 3; j++) x += ((s >> j) & 1) * (double)top->W[i * 3 + j];
            lp += x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
        }
        logp[s] = lp;
        mx = lp > mx ? lp : mx;
    }
    for (int s = 0; s < 8; s++) z += exp(logp[s] - mx);
    for (int i = 0; i < 5; i++) mean[i] = 0;
    for (int s = 0; s < 8; s++) {
        double h[3], p1[4], p0[5], w = exp(logp[s] - mx) / z;
        for (int j = 0; j < 3; j++) h[j] = (s >> j) & 1;
        down_by_hand(top, h, p1);
        down_by_hand(d->layers[0], p1, p0);
        for (int i = 0; i < 5; i++) mean[i] += w * p0[i];
    }
}

static void test_sampling(void) {
    ebm_dbn *d = tiny_dbn();
    enum { N = 4000 };
    float *out = malloc(N * 5 * sizeof(float)), *again = malloc(N * 5 * sizeof(float));
    ebm_dbn_sample_opts o;
    ebm_dbn_sample_opts_default(&o);
    o.steps = 30;
    ebm_rng r;
    ebm_rng_seed(&r, 7, 0);
    CHECK_OK(ebm_dbn_sample(d, N, NULL, &o, &r, out));
    bool in_range = true;
    double mean[5] = {0}, want[5], var[5] = {0};
    for (size_t q = 0; q < N; q++)
        for (int i = 0; i < 5; i++) {
            float x = out[q * 5 + i];
            in_range = in_range && x >= 0 && x <= 1;
            mean[i] += x / N;
        }
    CHECK(in_range);
    for (size_t q = 0; q < N; q++)
        for (int i = 0; i < 5; i++) var[i] += pow(out[q * 5 + i] - mean[i], 2) / N;
    exact_output_mean(d, want);
    for (int i = 0; i < 5; i++) {
        double se = sqrt(var[i] / N);
        CHECK_MSG(fabs(mean[i] - want[i]) < 4 * se + 1e-3, "unit %d: sample mean %.4f, exact %.4f (se %.4f)", i,
                  mean[i], want[i], se);
    }
    /* reproducible with the seed; another seed gives other samples */
    ebm_rng_seed(&r, 7, 0);
    CHECK_OK(ebm_dbn_sample(d, N, NULL, &o, &r, again));
    CHECK(memcmp(out, again, N * 5 * sizeof(float)) == 0);
    ebm_rng_seed(&r, 8, 0);
    CHECK_OK(ebm_dbn_sample(d, N, NULL, &o, &r, again));
    CHECK(memcmp(out, again, N * 5 * sizeof(float)) != 0);
    /* from data, and with 0 steps the output is the down pass of the up-passed (binarised) data */
    ebm_mat *init;
    REQUIRE(ebm_mat_new(3, 5, &init) == EBM_OK);
    for (int i = 0; i < 15; i++) init->data[i] = (float)(i % 2);
    o.steps = 0;
    ebm_rng_seed(&r, 9, 0);
    CHECK_OK(ebm_dbn_sample(d, 6, init, &o, &r, out));
    for (int q = 0; q < 6; q++) {
        /* the level-1 state is binary, so the output is one of 16 down passes: check that it is one */
        bool found = false;
        for (int s = 0; s < 16 && !found; s++) {
            float h1[4], p0[5];
            for (int j = 0; j < 4; j++) h1[j] = (float)((s >> j) & 1);
            ebm_dbn_down(d, h1, 1, 1, p0);
            bool same = true;
            for (int i = 0; i < 5; i++) same = same && fabsf(p0[i] - out[q * 5 + i]) < 1e-6f;
            found = same;
        }
        CHECK(found);
    }
    o.steps = 5;
    CHECK_OK(ebm_dbn_sample(d, 6, init, &o, &r, out));
    ebm_mat *wrong;
    REQUIRE(ebm_mat_new(2, 4, &wrong) == EBM_OK);
    CHECK_FAILS(ebm_dbn_sample(d, 2, wrong, &o, &r, out), EBM_ESHAPE);
    o.T = 0;
    CHECK_FAILS(ebm_dbn_sample(d, 2, NULL, &o, &r, out), EBM_EINVAL);
    ebm_mat_free(wrong);
    ebm_mat_free(init);
    free(out);
    free(again);
    ebm_dbn_free(d);
}

typedef struct {
    size_t calls;
    ebm_mat *input1;        /* copy of layer 1's training input */
    double recon1_before, ll1_before;
} layer_log;

static double ll_of(const ebm_rbm *m, const ebm_mat *x) {
    double lz, ll;
    REQUIRE(ebm_rbm_log_z_exact(m, 1.0f, &lz) == EBM_OK);
    REQUIRE(ebm_rbm_log_likelihood(m, x->data, x->rows, lz, &ll) == EBM_OK);
    return ll;
}

static int on_layer(size_t layer, ebm_rbm *rbm, const ebm_mat *input, void *user) {
    layer_log *L = user;
    L->calls++;
    if (layer == 1) {
        REQUIRE(ebm_mat_clone(input, &L->input1) == EBM_OK);
        REQUIRE(ebm_rbm_recon_error(rbm, input->data, input->rows, &L->recon1_before) == EBM_OK);
        L->ll1_before = ll_of(rbm, input);
    }
    return 0;
}

static void test_greedy_training(void) {
    ebm_mat *data = fixture_prototype_data(300, 1);
    size_t sizes[3] = {12, 8, 6};
    ebm_dbn *d;
    REQUIRE(ebm_dbn_new(sizes, 3, &d) == EBM_OK);
    ebm_dbn_train_opts o;
    ebm_dbn_train_opts_default(&o);
    o.cd.epochs = 30;
    o.cd.batch = 20;
    o.cd.lr = 0.1f;
    o.cd.seed = 4;
    layer_log L = {0};
    o.on_layer = on_layer;
    o.user = &L;
    CHECK_OK(ebm_dbn_train(d, data, &o));
    CHECK(L.calls == 2);
    REQUIRE(L.input1 && L.input1->rows == 300 && L.input1->cols == 8);
    /* layer 1 was trained on p(h | v) of layer 0 over the data */
    ebm_mat *ph;
    REQUIRE(ebm_mat_new(300, 8, &ph) == EBM_OK);
    CHECK_OK(ebm_dbn_up(d, data->data, 300, 1, ph->data));
    CHECK(memcmp(ph->data, L.input1->data, 300 * 8 * sizeof(float)) == 0);
    double recon1, ll1 = ll_of(d->layers[1], L.input1);
    CHECK_OK(ebm_rbm_recon_error(d->layers[1], L.input1->data, 300, &recon1));
    printf("layer 1: recon %.4f -> %.4f, exact LL of its input %.3f -> %.3f\n", L.recon1_before, recon1,
           L.ll1_before, ll1);
    CHECK_MSG(recon1 < 0.5 * L.recon1_before, "layer 1 recon %g -> %g", L.recon1_before, recon1);
    CHECK_MSG(ll1 > L.ll1_before + 1.0, "layer 1 exact LL %g -> %g", L.ll1_before, ll1);
    /* layer 0 is exactly the RBM that ebm_rbm_train makes from the same start */
    ebm_rbm *m;
    REQUIRE(ebm_rbm_new(12, 8, &m) == EBM_OK);
    ebm_rng init;
    ebm_rng_seed(&init, 4, 100);
    REQUIRE(ebm_rbm_init(m, &init, 0.01f, data) == EBM_OK);
    CHECK_OK(ebm_rbm_train(m, data, &o.cd));
    CHECK(memcmp(m->params, d->layers[0]->params, m->n_params * sizeof(float)) == 0);
    /* the bottom layer models the data: exact LL near the entropy bound (-3.49 nats) */
    double ll0 = ll_of(d->layers[0], data), mse;
    CHECK_MSG(ll0 > -4.6, "layer 0 exact LL %g", ll0);
    CHECK_OK(ebm_dbn_recon_error(d, data->data, 300, &mse));
    CHECK(mse < 0.1);
    /* errors */
    ebm_mat *wide;
    REQUIRE(ebm_mat_new(4, 13, &wide) == EBM_OK);
    CHECK_FAILS(ebm_dbn_train(d, wide, &o), EBM_ESHAPE);
    data->data[5] = 2.0f;
    CHECK_FAILS(ebm_dbn_train(d, data, &o), EBM_EINVAL);
    ebm_mat_free(wide);
    ebm_rbm_free(m);
    ebm_mat_free(ph);
    ebm_mat_free(L.input1);
    ebm_mat_free(data);
    ebm_dbn_free(d);
}

/* The hook of ebm_dbn_train_run: runs each layer's trainer through ebm_run itself, checking what it is handed;
 * at layer stop_at it cancels the run after the first update. */
typedef struct {
    size_t calls, stop_at;
    uint64_t seed;
    size_t epochs_done[4];
} hook_log;

static int stop_now(const ebm_run_progress *p, void *user) {
    (void)p;
    (void)user;
    return 1;
}

static ebm_status run_layer(ebm_dbn_layer_run *L, void *user) {
    hook_log *h = user;
    CHECK(L->layer == h->calls && L->n_layers == 2 && L->trainer && L->rbm && L->input);
    CHECK(L->run.seed == h->seed + L->layer && L->run.on_step == NULL && L->run.on_epoch == NULL);
    CHECK(L->input->cols == L->rbm->n_vis && strcmp(ebm_trainer_name(L->trainer), "rbm-cd") == 0);
    if (h->calls++ == h->stop_at) L->run.on_step = stop_now;
    ebm_run_result r;
    ebm_status s = ebm_run(L->trainer, L->input, NULL, &L->run, &r);
    h->epochs_done[L->layer] = r.epochs_done;
    return s;
}

/* The layer-wise path with a hook per layer gives exactly the parameters of ebm_dbn_train (CD and PCD), and its
 * layer 0 those of the trainer driven by hand through ebm_run; a failing run stops the training, named. */
static void test_layer_hook(void) {
    ebm_mat *data = fixture_prototype_data(200, 2);
    size_t sizes[3] = {12, 8, 6};
    for (int mode = 0; mode < 2; mode++) {
        ebm_dbn *a, *b;
        REQUIRE(ebm_dbn_new(sizes, 3, &a) == EBM_OK);
        REQUIRE(ebm_dbn_new(sizes, 3, &b) == EBM_OK);
        ebm_dbn_train_opts o;
        ebm_dbn_train_opts_default(&o);
        o.cd.mode = mode ? EBM_PCD : EBM_CD;
        o.cd.epochs = 5;
        o.cd.batch = 30;
        o.cd.lr = 0.1f;
        o.cd.lr_final = mode ? 0.01f : -1.0f;
        o.cd.seed = 9;
        CHECK_OK(ebm_dbn_train(a, data, &o));
        hook_log h = {0, 99, 9, {0}};
        CHECK_OK(ebm_dbn_train_run(b, data, &o, run_layer, &h));
        CHECK(h.calls == 2 && h.epochs_done[0] == 5 && h.epochs_done[1] == 5);
        for (size_t l = 0; l < 2; l++)
            CHECK_MSG(memcmp(a->layers[l]->params, b->layers[l]->params, a->layers[l]->n_params * sizeof(float)) == 0,
                      "mode %d layer %zu differs between ebm_dbn_train and the hook", mode, l);
        /* layer 0 by hand: the same start, the trainer and ebm_cd_run_opts of the same options */
        ebm_rbm *m;
        REQUIRE(ebm_rbm_new(12, 8, &m) == EBM_OK);
        ebm_rng init;
        ebm_rng_seed(&init, 9, 100);
        REQUIRE(ebm_rbm_init(m, &init, 0.01f, data) == EBM_OK);
        ebm_trainer *t;
        REQUIRE(ebm_rbm_trainer_new(m, &o.cd, &t) == EBM_OK);
        ebm_run_opts ro;
        ebm_cd_run_opts(&o.cd, &ro);
        CHECK_OK(ebm_run(t, data, NULL, &ro, NULL));
        CHECK(memcmp(m->params, b->layers[0]->params, m->n_params * sizeof(float)) == 0);
        /* a hook whose run fails stops the training at its layer with its status */
        hook_log stop = {0, 1, 9, {0}};
        CHECK_FAILS(ebm_dbn_train_run(b, data, &o, run_layer, &stop), EBM_ECANCELED);
        const char *msg = ebm_last_error();
        CHECK(stop.calls == 2 && strstr(msg, "layer 2 of 2") && strstr(msg, "stopped at epoch 1, batch 1"));
        ebm_trainer_free(t);
        ebm_rbm_free(m);
        ebm_dbn_free(a);
        ebm_dbn_free(b);
    }
    ebm_mat_free(data);
}

/* ebm_dbn_probe is the probe on the up pass of both sets; a level beyond the top is refused. */
static void test_probe(void) {
    ebm_dbn *d = tiny_dbn();
    enum { N = 60 };
    static float x[N * 5], f[N * 3];
    static int32_t y[N];
    ebm_rng r;
    ebm_rng_seed(&r, 3, 0);
    for (size_t i = 0; i < N; i++) {
        y[i] = (int32_t)(i % 2);
        for (size_t j = 0; j < 5; j++) x[i * 5 + j] = ebm_rng_uniform(&r) < (y[i] == (int32_t)(j % 2) ? 0.9 : 0.1);
    }
    ebm_probe_opts o;
    ebm_probe_opts_default(&o);
    ebm_probe_score a, b;
    CHECK_OK(ebm_dbn_probe(d, 2, x, y, N / 2, x + N / 2 * 5, y + N / 2, N / 2, &o, &a));
    REQUIRE(ebm_dbn_up(d, x, N, 2, f) == EBM_OK);
    CHECK_OK(ebm_probe_fit_score(f, y, N / 2, f + N / 2 * 3, y + N / 2, N / 2, 3, &o, &b));
    CHECK(a.train_acc == b.train_acc && a.test_acc == b.test_acc && a.test_nll == b.test_nll);
    CHECK(a.fit.iters == b.fit.iters && a.test_acc > 0.5);
    CHECK_FAILS(ebm_dbn_probe(d, 3, x, y, N / 2, x, y, N / 2, &o, &a), EBM_EINVAL);
    ebm_dbn_free(d);
}

/* Copies every tensor of src except `skip` (may be NULL) into a new set with src's metadata. */
static ebm_tensors *copy_except(const ebm_tensors *src, const char *skip) {
    ebm_tensors *t;
    REQUIRE(ebm_tensors_new(&t) == EBM_OK);
    REQUIRE(ebm_meta_copy(ebm_tensors_meta(t), ebm_tensors_meta_const(src)) == EBM_OK);
    for (size_t i = 0; i < ebm_tensors_count(src); i++) {
        const char *name = ebm_tensors_name(src, i);
        if (skip && strcmp(name, skip) == 0) continue;
        const ebm_array *a = ebm_tensors_get(src, name);
        REQUIRE(ebm_tensors_put(t, name, a->dtype, a->ndim, a->shape, a->data) == EBM_OK);
    }
    return t;
}

static void expect_bad(const ebm_tensors *t, const char *dir, const char *file, const char *needle) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    REQUIRE(ebm_safetensors_write(path, t) == EBM_OK);
    ebm_dbn *d = NULL;
    CHECK_FAILS(ebm_dbn_load(path, &d), EBM_EFORMAT);
    CHECK(d == NULL);
    CHECK_MSG(strstr(ebm_last_error(), needle) != NULL, "message '%s' lacks '%s'", ebm_last_error(), needle);
}

static void test_files(void) {
    const char *dir = check_tmpdir("dbn");
    char path[1024];
    snprintf(path, sizeof path, "%s/d.safetensors", dir);
    ebm_dbn *d = tiny_dbn(), *e = NULL;
    REQUIRE(ebm_meta_set(d->meta, "ebm.train.method", "cd-1") == EBM_OK);
    CHECK_OK(ebm_dbn_save(d, path));
    CHECK_OK(ebm_dbn_load(path, &e));
    REQUIRE(e != NULL);
    CHECK(e->n_layers == 2);
    for (size_t l = 0; l < 2; l++) {
        CHECK(e->layers[l]->n_vis == d->layers[l]->n_vis && e->layers[l]->n_hid == d->layers[l]->n_hid);
        CHECK(memcmp(e->layers[l]->params, d->layers[l]->params, d->layers[l]->n_params * sizeof(float)) == 0);
    }
    CHECK(strcmp(ebm_meta_get(e->meta, "ebm.model"), "dbn") == 0);
    CHECK(strcmp(ebm_meta_get(e->meta, "ebm.dbn.sizes"), "5,4,3") == 0);
    CHECK(strcmp(ebm_meta_get(e->meta, "ebm.train.method"), "cd-1") == 0);
    ebm_dbn_free(e);
    /* an RBM file is not a DBN, nor the other way round */
    char rpath[1024];
    snprintf(rpath, sizeof rpath, "%s/r.safetensors", dir);
    REQUIRE(ebm_rbm_save(d->layers[0], rpath) == EBM_OK);
    CHECK_FAILS(ebm_dbn_load(rpath, &e), EBM_EFORMAT);
    ebm_rbm *r = NULL;
    CHECK_FAILS(ebm_rbm_load(path, &r), EBM_EFORMAT);
    /* the list of sizes of ebm.dbn.sizes and --layers */
    size_t sz[3], nsz;
    CHECK_OK(ebm_dbn_parse_sizes("12,8,6", sz, 3, &nsz));
    CHECK(nsz == 3 && sz[0] == 12 && sz[1] == 8 && sz[2] == 6);
    const char *bad[] = {"", "8,,6", "8,6,", "0", "-1", "5x", "1,2,3,4"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_FAILS(ebm_dbn_parse_sizes(bad[i], sz, 3, &nsz), EBM_EINVAL);
    /* ... but ebm_dbn_load_stack reads either: the RBM as one layer with its metadata, the DBN as it is */
    d->layers[0]->height = 1;
    d->layers[0]->width = 5;
    REQUIRE(ebm_meta_set(d->layers[0]->meta, "ebm.data.spec", "toy:bits") == EBM_OK);
    REQUIRE(ebm_rbm_save(d->layers[0], rpath) == EBM_OK);
    CHECK_OK(ebm_dbn_load_stack(rpath, &e));
    REQUIRE(e != NULL);
    CHECK(e->n_layers == 1 && ebm_dbn_units(e, 1) == 4 && e->height == 1 && e->width == 5);
    CHECK(memcmp(e->layers[0]->params, d->layers[0]->params, d->layers[0]->n_params * sizeof(float)) == 0);
    CHECK(ebm_meta_get(e->meta, "ebm.data.spec") && strcmp(ebm_meta_get(e->meta, "ebm.data.spec"), "toy:bits") == 0);
    ebm_dbn_free(e);
    CHECK_OK(ebm_dbn_load_stack(path, &e));
    CHECK(e && e->n_layers == 2);
    ebm_dbn_free(e);
    ebm_grbm *g;
    REQUIRE(ebm_grbm_new(5, 3, &g) == EBM_OK);
    snprintf(rpath, sizeof rpath, "%s/g.safetensors", dir);
    REQUIRE(ebm_grbm_save(g, rpath) == EBM_OK);
    CHECK_FAILS(ebm_dbn_load_stack(rpath, &e), EBM_EFORMAT);
    CHECK(e == NULL && strstr(ebm_last_error(), "'grbm'") != NULL);
    ebm_grbm_free(g);
    /* malformed files */
    ebm_tensors *good;
    REQUIRE(ebm_tensors_new(&good) == EBM_OK);
    REQUIRE(ebm_dbn_to_tensors(d, good) == EBM_OK);
    ebm_tensors *t = copy_except(good, "layers.1.b_h");
    expect_bad(t, dir, "missing.safetensors", "layers.1.b_h");
    ebm_tensors_free(t);
    t = copy_except(good, NULL);
    REQUIRE(ebm_meta_set(ebm_tensors_meta(t), "ebm.dbn.sizes", "5,4,2") == EBM_OK);
    expect_bad(t, dir, "mismatch.safetensors", "layers.1.W");
    REQUIRE(ebm_meta_set(ebm_tensors_meta(t), "ebm.dbn.sizes", "5,4") == EBM_OK);
    expect_bad(t, dir, "extra.safetensors", "1 layers");
    /* huge claimed sizes are refused from the tensor shapes before anything that size is allocated (under
     * ASan a 2^40-float allocation would abort the test) */
    REQUIRE(ebm_meta_set(ebm_tensors_meta(t), "ebm.dbn.sizes", "1048576,1048576,1048576") == EBM_OK);
    expect_bad(t, dir, "huge.safetensors", "layers.0.W");
    REQUIRE(ebm_meta_set(ebm_tensors_meta(t), "ebm.dbn.sizes", "5,four,3") == EBM_OK);
    expect_bad(t, dir, "sizes.safetensors", "ebm.dbn.sizes");
    REQUIRE(ebm_meta_set(ebm_tensors_meta(t), "ebm.dbn.sizes", "5,4,3") == EBM_OK);
    REQUIRE(ebm_meta_set(ebm_tensors_meta(t), "ebm.image_shape", "2x2") == EBM_OK);
    expect_bad(t, dir, "shape.safetensors", "image_shape");
    ebm_tensors_free(t);
    t = copy_except(good, NULL);
    REQUIRE(ebm_meta_set(ebm_tensors_meta(t), "ebm.model", "grbm") == EBM_OK);
    expect_bad(t, dir, "kind.safetensors", "grbm");
    ebm_tensors_free(t);
    ebm_tensors_free(good);
    /* a non-finite parameter is refused at save time, and the old file stays */
    d->layers[1]->W[2] = NAN;
    CHECK_FAILS(ebm_dbn_save(d, path), EBM_ENAN);
    CHECK_OK(ebm_dbn_load(path, &e));
    ebm_dbn_free(e);
    ebm_dbn_free(d);
}

int main(void) {
    test_passes();
    test_sampling();
    test_greedy_training();
    test_layer_hook();
    test_probe();
    test_files();
    return check_summary("test_dbn");
}
