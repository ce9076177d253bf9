/* Contrastive divergence: on a tiny RBM the averaged CD-k gradient points the same way as the exact
 * log-likelihood gradient (cosine similarity, better for larger k); training CD-1 and PCD-1 on a small
 * generated data set raises the exact log-likelihood close to the data's entropy bound; runs are
 * reproducible bit for bit; divergence is caught and rolled back; callbacks can stop training; bad
 * options are refused. */
#include "rbm_fixtures.h"

static double cosine(const float *a, const float *b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / sqrt(aa * bb);
}

static double exact_ll(const ebm_rbm *m, const ebm_mat *d) {
    double lz, ll;
    REQUIRE(ebm_rbm_log_z_exact(m, 1.0f, &lz) == EBM_OK);
    REQUIRE(ebm_rbm_log_likelihood(m, d->data, d->rows, lz, &ll) == EBM_OK);
    return ll;
}

/* A 12 x 8 RBM initialised for data d from a fixed seed. */
static ebm_rbm *fresh_rbm(const ebm_mat *d) {
    ebm_rbm *m;
    REQUIRE(ebm_rbm_new(12, 8, &m) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, 5, 0);
    REQUIRE(ebm_rbm_init(m, &r, 0.01f, d) == EBM_OK);
    return m;
}

static void test_gradient_direction(void) {
    ebm_mat *d = fixture_prototype_data(64, 1);
    /* weights large enough that CD-1's bias shows, as after some training */
    ebm_rbm *m = fixture_rbm(12, 6, 1.5, 0.5, 2);
    float *exact = calloc(m->n_params, sizeof(float)), *cd = calloc(m->n_params, sizeof(float));
    float *acc = calloc(m->n_params, sizeof(float));
    CHECK_OK(ebm_rbm_exact_ll_grad(m, d->data, d->rows, exact));
    const size_t ks[3] = {1, 5, 25};
    double cos_k[3];
    ebm_rng r;
    ebm_rng_seed(&r, 3, 0);
    for (int t = 0; t < 3; t++) {
        memset(acc, 0, m->n_params * sizeof(float));
        enum { REPS = 400 };
        for (int rep = 0; rep < REPS; rep++) {
            CHECK_OK(ebm_rbm_cd_grad(m, d->data, d->rows, ks[t], &r, cd));
            for (size_t p = 0; p < m->n_params; p++) acc[p] += cd[p] / REPS;
        }
        cos_k[t] = cosine(acc, exact, m->n_params);
        printf("CD-%zu vs exact gradient: cosine %.4f\n", ks[t], cos_k[t]);
    }
    CHECK(cos_k[0] > 0.85);
    CHECK(cos_k[1] > 0.98);
    CHECK(cos_k[2] > 0.995);
    CHECK(cos_k[0] < cos_k[1]); /* CD-k's bias shrinks as k grows */
    free(exact);
    free(cd);
    free(acc);
    ebm_rbm_free(m);
    ebm_mat_free(d);
}

static void test_training_raises_ll(void) {
    ebm_mat *d = fixture_prototype_data(600, 4);
    const ebm_cd_mode modes[2] = {EBM_CD, EBM_PCD};
    for (int t = 0; t < 2; t++) {
        ebm_rbm *m = fresh_rbm(d);
        double before = exact_ll(m, d);
        ebm_cd_opts o;
        ebm_cd_opts_default(&o);
        o.mode = modes[t];
        o.epochs = 60;
        o.batch = 20;
        o.lr = 0.1f;
        o.lr_final = 0.0f; /* PCD needs a decaying rate (Tieleman 2008); without it the chains oscillate */
        o.seed = 6;
        CHECK_OK(ebm_rbm_train(m, d, &o));
        double after = exact_ll(m, d);
        printf("%s-1: exact mean log-likelihood %.3f -> %.3f nats (entropy bound -3.49)\n",
               t ? "PCD" : "CD", before, after);
        CHECK(after > before + 3.0);
        CHECK(after > -4.3);
        CHECK(after < -3.0); /* cannot beat the data's entropy by more than finite-sample luck */
        ebm_rbm_free(m);
    }
    ebm_mat_free(d);
}

static ebm_rbm *train_copy(const ebm_mat *d, ebm_cd_mode mode, uint64_t seed) {
    ebm_rbm *m = fresh_rbm(d);
    ebm_cd_opts o;
    ebm_cd_opts_default(&o);
    o.mode = mode;
    o.epochs = 3;
    o.batch = 32; /* 600 rows: the last batch is short */
    o.seed = seed;
    o.lr_final = 0.0f;
    o.grad_clip = 1.0f;
    REQUIRE(ebm_rbm_train(m, d, &o) == EBM_OK);
    return m;
}

static void test_reproducible(void) {
    ebm_mat *d = fixture_prototype_data(600, 7);
    for (int t = 0; t < 2; t++) {
        ebm_cd_mode mode = t ? EBM_PCD : EBM_CD;
        ebm_rbm *a = train_copy(d, mode, 9), *b = train_copy(d, mode, 9), *c = train_copy(d, mode, 10);
        CHECK(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0);
        CHECK(memcmp(a->params, c->params, a->n_params * sizeof(float)) != 0);
        ebm_rbm_free(a);
        ebm_rbm_free(b);
        ebm_rbm_free(c);
    }
    ebm_mat_free(d);
}

static int count_batches(const ebm_train_progress *p, void *user) {
    int *n = user;
    (*n)++;
    CHECK(p->batch >= 1 && p->batch <= p->batches);
    return *n >= 3;
}

static void test_divergence_and_cancel(void) {
    ebm_mat *d = fixture_prototype_data(200, 8);
    ebm_rbm *m = fresh_rbm(d);
    ebm_cd_opts o;
    ebm_cd_opts_default(&o);
    o.lr = 1e38f;
    o.momentum = 0.9f;
    o.epochs = 5;
    o.batch = 10;
    CHECK_FAILS(ebm_rbm_train(m, d, &o), EBM_ENAN);
    CHECK(strstr(ebm_last_error(), "diverged") != NULL);
    CHECK_OK(ebm_rbm_check_finite(m)); /* rolled back */

    ebm_cd_opts_default(&o);
    int calls = 0;
    o.on_batch = count_batches;
    o.user = &calls;
    o.batch = 10;
    CHECK_FAILS(ebm_rbm_train(m, d, &o), EBM_ECANCELED);
    CHECK(calls == 3);
    ebm_rbm_free(m);
    ebm_mat_free(d);
}

static void test_bad_options(void) {
    ebm_mat *d = fixture_prototype_data(50, 9);
    ebm_rbm *m;
    REQUIRE(ebm_rbm_new(12, 4, &m) == EBM_OK);
    ebm_cd_opts o;
    ebm_cd_opts_default(&o);
    o.lr = -0.1f;
    CHECK_FAILS(ebm_rbm_train(m, d, &o), EBM_EINVAL);
    ebm_cd_opts_default(&o);
    o.momentum = 1.0f;
    CHECK_FAILS(ebm_rbm_train(m, d, &o), EBM_EINVAL);
    ebm_cd_opts_default(&o);
    o.k = 0;
    CHECK_FAILS(ebm_rbm_train(m, d, &o), EBM_EINVAL);
    ebm_cd_opts_default(&o);
    o.lr = NAN;
    CHECK_FAILS(ebm_rbm_train(m, d, &o), EBM_EINVAL);
    ebm_cd_opts_default(&o);
    d->data[7] = 1.5f;
    CHECK_FAILS(ebm_rbm_train(m, d, &o), EBM_EINVAL);
    d->data[7] = NAN;
    CHECK_FAILS(ebm_rbm_train(m, d, &o), EBM_EINVAL);
    ebm_rbm *wrong;
    REQUIRE(ebm_rbm_new(11, 4, &wrong) == EBM_OK);
    d->data[7] = 0;
    CHECK_FAILS(ebm_rbm_train(wrong, d, &o), EBM_ESHAPE);
    ebm_rbm_free(wrong);
    ebm_rbm_free(m);
    ebm_mat_free(d);
}

int main(void) {
    test_gradient_direction();
    test_training_raises_ll();
    test_reproducible();
    test_divergence_and_cancel();
    test_bad_options();
    return check_summary("test_cd");
}
