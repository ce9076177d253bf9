/* Structured prediction: on random chains (length <= 5, <= 3 labels) Viterbi, the forward algorithm's log Z
 * and marginals, and the most offending incorrect sequence equal brute-force enumeration; the chain loss
 * gradient through a network and the pairwise matrix equals finite differences; relaxed inference on the
 * simplex converges to softmax(-E / T); on separable toy data the hinge loss learns (accuracy >= 0.95) while
 * the energy loss, which has no contrastive term, collapses (with the square output 1/2 g^2 and a little weight decay,
 * whose minimum 0 a network reaches for every answer at once) (all energies driven down together to a flat
 * surface, accuracy near chance, flagged by the evaluation); a chain model on the Markov toy learns the
 * transition structure and beats the same unaries without it; the model file round-trips; the trainer under
 * ebm_run equals ebm_structured_train bit for bit. */
#include "check.h"

/* all k^len sequences: E, log sum e^(-beta E), marginals, the min and the best y' != y */
static void brute(const float *U, const float *P, size_t len, size_t k, double beta, const int32_t *y, double *emin,
                  int32_t *ymin, double *logz, double *mu, double *xi, double *ebar) {
    size_t total = 1;
    for (size_t t = 0; t < len; t++) total *= k;
    int32_t s[8];
    *emin = INFINITY;
    *ebar = INFINITY;
    double mx = -INFINITY;
    double *es = malloc(total * sizeof(double));
    for (size_t c = 0; c < total; c++) {
        size_t r = c;
        for (size_t t = 0; t < len; t++) s[t] = (int32_t)(r % k), r /= k;
        es[c] = ebm_chain_energy(U, P, len, k, s);
        if (es[c] < *emin) {
            *emin = es[c];
            memcpy(ymin, s, len * sizeof(int32_t));
        }
        int same = 1;
        for (size_t t = 0; t < len; t++) same &= s[t] == y[t];
        if (!same && es[c] < *ebar) *ebar = es[c];
        mx = -beta * es[c] > mx ? -beta * es[c] : mx;
    }
    double z = 0;
    for (size_t c = 0; c < total; c++) z += exp(-beta * es[c] - mx);
    *logz = mx + log(z);
    memset(mu, 0, len * k * sizeof(double));
    memset(xi, 0, k * k * sizeof(double));
    for (size_t c = 0; c < total; c++) {
        size_t r = c;
        for (size_t t = 0; t < len; t++) s[t] = (int32_t)(r % k), r /= k;
        double p = exp(-beta * es[c] - *logz);
        for (size_t t = 0; t < len; t++) {
            mu[t * k + (size_t)s[t]] += p;
            if (t + 1 < len) xi[(size_t)s[t] * k + (size_t)s[t + 1]] += p;
        }
    }
    free(es);
}

static void test_chain_inference(void) {
    ebm_rng r;
    ebm_rng_seed(&r, 11, 0);
    int trials = 0;
    for (size_t len = 1; len <= 5; len++)
        for (size_t k = 2; k <= 3; k++)
            for (int rep = 0; rep < 10; rep++, trials++) {
                float U[5 * 3], P[9];
                int32_t y[5], yv[5], yb[5], ymin[5];
                for (size_t i = 0; i < len * k; i++) U[i] = (float)(4 * ebm_rng_uniform(&r) - 2);
                for (size_t i = 0; i < k * k; i++) P[i] = (float)(4 * ebm_rng_uniform(&r) - 2);
                for (size_t t = 0; t < len; t++) y[t] = (int32_t)ebm_rng_below(&r, k);
                double beta = rep % 2 ? 0.7 : 1.0, emin, logz, ebar, mu[15], xi[9], bmu[15], bxi[9], ev, eb, lz;
                brute(U, P, len, k, beta, y, &emin, ymin, &logz, bmu, bxi, &ebar);
                CHECK_OK(ebm_chain_viterbi(U, P, len, k, yv, &ev));
                CHECK_NEAR(ev, emin, 1e-5);
                CHECK_NEAR(ebm_chain_energy(U, P, len, k, yv), emin, 1e-5);
                CHECK_OK(ebm_chain_forward(U, P, len, k, beta, &lz, mu, xi));
                CHECK_NEAR(lz, logz, 1e-9 * (1 + fabs(logz)));
                for (size_t i = 0; i < len * k; i++) CHECK_NEAR(mu[i], bmu[i], 1e-9);
                for (size_t i = 0; i < k * k; i++) CHECK_NEAR(xi[i], bxi[i], 1e-9);
                CHECK_OK(ebm_chain_most_offending(U, P, len, k, y, yb, &eb));
                CHECK_NEAR(eb, ebar, 1e-5);
                CHECK_NEAR(ebm_chain_energy(U, P, len, k, yb), ebar, 1e-5);
                int same = 1;
                for (size_t t = 0; t < len; t++) same &= yb[t] == y[t];
                CHECK(!same);
            }
    printf("  Viterbi, log Z, marginals and the most offending sequence = brute force on %d random chains\n", trials);
    int32_t y[2];
    CHECK_FAILS(ebm_chain_viterbi(NULL, NULL, 0, 2, y, NULL), EBM_EINVAL);
    float U[2] = {0, 1};
    double lz;
    CHECK_FAILS(ebm_chain_forward(U, NULL, 1, 2, -1, &lz, NULL, NULL), EBM_EINVAL);
}

/* chain loss through the network and the pairwise matrix, every loss, softplus output */
static void test_chain_gradients(void) {
    size_t len = 3, k = 3, n = 2;
    float x[2 * 3 * 4];
    int32_t y[6] = {0, 2, 2, 1, 1, 0};
    ebm_rng r;
    ebm_rng_seed(&r, 5, 0);
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = (float)ebm_rng_normal(&r);
    for (int l = 0; l < EBM_STRUCTURED_N_LOSSES; l++) {
        ebm_structured *m;
        CHECK_OK(ebm_structured_new("linear:5,tanh,linear:3", 4, 1, 1, k, len, EBM_STRUCTURED_OUT_SOFTPLUS, &m));
        CHECK_OK(ebm_structured_init(m, &r));
        for (size_t i = 0; i < k * k; i++) m->pair[i] = (float)ebm_rng_normal(&r);
        ebm_structured_loss_opts o;
        ebm_structured_loss_opts_default(&o);
        o.loss = (ebm_structured_loss)l;
        o.margin = 4;
        o.lvq2_max = 10;
        size_t np;
        float *p = ebm_net_params(m->net, &np);
        float *g = calloc(np + k * k, sizeof(float)), *gp = g + np;
        double L, worst = 0;
        CHECK_OK(ebm_structured_loss_grad(m, &o, x, y, n, &L, g, gp));
        for (size_t i = 0; i < np + k * k; i++) {
            float *v = i < np ? &p[i] : &m->pair[i - np];
            float keep = *v, h = 2e-3f;
            double lp, lm, fd, err = 1;
            for (int tries = 0; tries < 2 && err > 2e-2; tries++, h /= 8) {
                *v = keep + h;
                CHECK_OK(ebm_structured_loss_grad(m, &o, x, y, n, &lp, NULL, NULL));
                *v = keep - h;
                CHECK_OK(ebm_structured_loss_grad(m, &o, x, y, n, &lm, NULL, NULL));
                *v = keep;
                fd = (lp - lm) / (2.0 * (double)h);
                err = fabs(fd - g[i]) / (1e-2 + fabs(fd) + fabs(g[i]));
            }
            worst = err > worst ? err : worst;
        }
        printf("  chain %-10s dL/dtheta and dL/dP vs finite differences: worst relative error %.2e\n",
               ebm_structured_loss_name(o.loss), worst);
        CHECK_MSG(worst < 2e-2, "chain %s gradient error %g", ebm_structured_loss_name(o.loss), worst);
        free(g);
        ebm_structured_free(m);
    }
}

/* a long chain (work space on the heap): with P = 0 the positions are independent, so Viterbi is the per-position
 * argmin, log Z the sum of per-position log-sum-exps, and Ebar - E the smallest gap to a position's runner-up */
static void test_long_chain(void) {
    enum { LEN = 700, K = 3 };
    float *U = malloc(LEN * K * sizeof(float)), P[K * K] = {0};
    int32_t *y = malloc(LEN * sizeof(int32_t)), *yv = malloc(LEN * sizeof(int32_t)), *yb = malloc(LEN * sizeof(int32_t));
    ebm_rng r;
    ebm_rng_seed(&r, 9, 0);
    double logz = 0, gap = INFINITY, emin = 0;
    for (size_t t = 0; t < LEN; t++) {
        double m = INFINITY, second = INFINITY, z = 0;
        for (size_t a = 0; a < K; a++) {
            U[t * K + a] = (float)(3 * ebm_rng_uniform(&r));
            if (U[t * K + a] < m) second = m, m = U[t * K + a], y[t] = (int32_t)a;
            else if (U[t * K + a] < second) second = U[t * K + a];
            z += exp(-(double)U[t * K + a]);
        }
        logz += log(z);
        emin += m;
        gap = second - m < gap ? second - m : gap;
    }
    double ev, eb, lz;
    CHECK_OK(ebm_chain_viterbi(U, P, LEN, K, yv, &ev));
    CHECK(memcmp(yv, y, LEN * sizeof(int32_t)) == 0);
    CHECK_NEAR(ev, emin, 1e-6 * emin);
    CHECK_OK(ebm_chain_forward(U, P, LEN, K, 1.0, &lz, NULL, NULL));
    CHECK_NEAR(lz, logz, 1e-9 * fabs(logz));
    CHECK_OK(ebm_chain_most_offending(U, P, LEN, K, y, yb, &eb));
    CHECK_NEAR(eb - ev, gap, 1e-4);
    free(U);
    free(y);
    free(yv);
    free(yb);
}

static void test_relaxed(void) {
    const float E[4] = {1.0f, 0.2f, 2.0f, 0.5f};
    float q[4];
    for (int ti = 0; ti < 2; ti++) {
        float T = ti ? 0.5f : 1.0f;
        CHECK_OK(ebm_structured_relaxed_infer(E, 4, T, 0.5f, 200, q));
        double z = 0;
        for (int y = 0; y < 4; y++) z += exp(-E[y] / T);
        for (int y = 0; y < 4; y++) CHECK_NEAR(q[y], exp(-E[y] / T) / z, 1e-5);
    }
    CHECK_OK(ebm_structured_relaxed_infer(E, 4, 0.02f, 0.5f, 2000, q));
    CHECK(q[1] > 0.99f); /* the exhaustive argmin */
    CHECK_FAILS(ebm_structured_relaxed_infer(E, 4, 0, 0.5f, 10, q), EBM_EINVAL);
}

/* three separable Gaussian blobs in 4-D */
static void blobs(size_t n, uint64_t seed, ebm_mat **x, int32_t **y) {
    static const float centre[3][4] = {{2, 0, 0, 1}, {-2, 1, 0, -1}, {0, -2, 2, 0}};
    REQUIRE(ebm_mat_new(n, 4, x) == EBM_OK);
    *y = malloc(n * sizeof(int32_t));
    ebm_rng r;
    ebm_rng_seed(&r, seed, 0);
    for (size_t i = 0; i < n; i++) {
        (*y)[i] = (int32_t)(i % 3);
        for (int j = 0; j < 4; j++) (*x)->data[i * 4 + j] = centre[i % 3][j] + 0.5f * (float)ebm_rng_normal(&r);
    }
}

static ebm_structured *train_blobs(ebm_structured_loss loss, ebm_structured_out out, const ebm_mat *x,
                                   const int32_t *y) {
    ebm_structured *m;
    REQUIRE(ebm_structured_new("linear:16,tanh,linear:3", 4, 1, 1, 3, 0, out, &m) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, 2, 0);
    CHECK_OK(ebm_structured_init(m, &r));
    ebm_structured_train_opts o;
    ebm_structured_train_opts_default(&o);
    o.loss.loss = loss;
    o.optim.lr = 1e-2f;
    o.epochs = 60;
    o.batch = 32;
    o.optim.weight_decay = 1e-3f;
    CHECK_OK(ebm_structured_train(m, x, y, &o));
    return m;
}

static void test_training(void) {
    ebm_mat *x, *xt;
    int32_t *y, *yt;
    blobs(600, 1, &x, &y);
    blobs(300, 2, &xt, &yt);
    ebm_structured_loss_opts lo;
    ebm_structured_loss_opts_default(&lo);
    ebm_structured_eval before, hinge, energy;
    ebm_structured *m0;
    REQUIRE(ebm_structured_new("linear:16,tanh,linear:3", 4, 1, 1, 3, 0, EBM_STRUCTURED_OUT_SQUARE, &m0) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, 2, 0);
    CHECK_OK(ebm_structured_init(m0, &r));
    CHECK_OK(ebm_structured_evaluate(m0, &lo, xt->data, yt, xt->rows, &before));
    ebm_structured *mh = train_blobs(EBM_STRUCTURED_HINGE, EBM_STRUCTURED_OUT_SQUARE, x, y);
    CHECK_OK(ebm_structured_evaluate(mh, &lo, xt->data, yt, xt->rows, &hinge));
    ebm_structured *me = train_blobs(EBM_STRUCTURED_ENERGY, EBM_STRUCTURED_OUT_SQUARE, x, y);
    CHECK_OK(ebm_structured_evaluate(me, &lo, xt->data, yt, xt->rows, &energy));
    printf("  blobs: untrained acc %.3f spread %.3g; hinge acc %.3f gap %.3f spread %.3g collapsed %d; energy acc %.3f "
           "E %.3g Ebar %.3g spread %.3g collapsed %d\n",
           before.accuracy, before.spread, hinge.accuracy, hinge.gap, hinge.spread, hinge.collapsed, energy.accuracy,
           energy.e_correct, energy.e_offending, energy.spread, energy.collapsed);
    CHECK(hinge.accuracy >= 0.95);
    CHECK(hinge.gap >= 0.5);
    CHECK(!hinge.collapsed);
    CHECK(energy.collapsed);
    CHECK(energy.accuracy <= 0.4);          /* chance is 1/3 */
    CHECK(energy.top_share >= 0.9);         /* one answer for (nearly) everything */
    CHECK(energy.e_offending < 1e-3 * before.e_offending); /* the incorrect answers went down too */
    CHECK(energy.spread < 1e-3 * before.spread);           /* a flat energy surface */
    /* round trip */
    char path[] = "/tmp/ebm-sp-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    ebm_meta_set(mh->meta, "ebm.sp.loss", "hinge");
    CHECK_OK(ebm_structured_save(mh, path));
    ebm_structured *back;
    CHECK_OK(ebm_structured_load(path, &back));
    if (back) {
        ebm_structured_eval again;
        CHECK_OK(ebm_structured_evaluate(back, &lo, xt->data, yt, xt->rows, &again));
        CHECK(again.accuracy == hinge.accuracy);
        CHECK(again.gap == hinge.gap);
        CHECK(back->out == EBM_STRUCTURED_OUT_SQUARE && back->k == 3 && back->len == 0);
        CHECK(strcmp(ebm_meta_get(back->meta, "ebm.sp.loss"), "hinge") == 0);
        ebm_structured_free(back);
    }
    CHECK_OK(ebm_net_save(mh->net, NULL, path));
    CHECK_FAILS(ebm_structured_load(path, &back), EBM_EFORMAT);
    unlink(path);
    /* refusals: LVQ2 on raw energies, data of the wrong width */
    lo.loss = EBM_STRUCTURED_LVQ2;
    ebm_structured *raw;
    REQUIRE(ebm_structured_new("linear:3", 4, 1, 1, 3, 0, EBM_STRUCTURED_OUT_RAW, &raw) == EBM_OK);
    double L;
    CHECK_FAILS(ebm_structured_loss_grad(raw, &lo, x->data, y, 4, &L, NULL, NULL), EBM_EINVAL);
    ebm_structured_train_opts to;
    ebm_structured_train_opts_default(&to);
    ebm_mat *wide;
    REQUIRE(ebm_mat_new(3, 5, &wide) == EBM_OK);
    CHECK_FAILS(ebm_structured_train(raw, wide, yt, &to), EBM_ESHAPE);
    ebm_structured *none;
    CHECK_FAILS(ebm_structured_new("linear:4", 4, 1, 1, 3, 0, EBM_STRUCTURED_OUT_RAW, &none), EBM_ESHAPE);
    CHECK(none == NULL);
    ebm_structured_free(m0);
    ebm_mat_free(wide);
    ebm_structured_free(raw);
    ebm_structured_free(mh);
    ebm_structured_free(me);
    ebm_mat_free(x);
    ebm_mat_free(xt);
    free(y);
    free(yt);
}

/* the Markov toy: a chain model with the pairwise term beats its own unaries alone */
static void test_chain_training(void) {
    size_t len = 8, k = 3;
    ebm_mat *x, *xt;
    int32_t *y, *yt;
    CHECK_OK(ebm_structured_markov_toy(400, len, k, 0.9f, 0.8f, 1, &x, &y));
    CHECK_OK(ebm_structured_markov_toy(200, len, k, 0.9f, 0.8f, 2, &xt, &yt));
    ebm_structured *m;
    REQUIRE(ebm_structured_new("linear:3", k, 1, 1, k, len, EBM_STRUCTURED_OUT_RAW, &m) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, 4, 0);
    CHECK_OK(ebm_structured_init(m, &r));
    ebm_structured_train_opts o;
    ebm_structured_train_opts_default(&o);
    o.loss.loss = EBM_STRUCTURED_NLL;
    o.optim.lr = 3e-2f;
    o.epochs = 15;
    o.batch = 20;
    CHECK_OK(ebm_structured_train(m, x, y, &o));
    ebm_structured_eval chain, unary;
    CHECK_OK(ebm_structured_evaluate(m, &o.loss, xt->data, yt, xt->rows, &chain));
    memset(m->pair, 0, k * k * sizeof(float));
    CHECK_OK(ebm_structured_evaluate(m, &o.loss, xt->data, yt, xt->rows, &unary));
    printf("  Markov toy (stay 0.9, noise 0.8): chain NLL per-label accuracy %.3f vs its unaries alone %.3f\n",
           chain.accuracy, unary.accuracy);
    CHECK(chain.accuracy >= unary.accuracy + 0.05);
    CHECK(chain.accuracy >= 0.85);
    ebm_structured_free(m);
    ebm_mat_free(x);
    ebm_mat_free(xt);
    free(y);
    free(yt);
}

/* Same parameters, bit for bit, as a vector of floats: the network's, then the pairwise table's. */
static int same_params(const ebm_structured *a, const ebm_structured *b) {
    size_t na, nb;
    const float *pa = ebm_net_params(a->net, &na), *pb = ebm_net_params(b->net, &nb);
    if (na != nb || memcmp(pa, pb, na * sizeof(float)) != 0) return 0;
    return !a->pair || memcmp(a->pair, b->pair, a->k * a->k * sizeof(float)) == 0;
}

static int count_batches(const ebm_structured_progress *p, void *user) {
    (void)p;
    ++*(size_t *)user;
    return 0;
}

/* The trainer under ebm_run equals the one-call ebm_structured_train for a fixed seed (a chain model, both
 * parameter blocks, a short last batch; and a K-class model, one block); provenance of the loss round-trips;
 * the toy as a data set and its settings in metadata; the free energy; the class count. */
static void test_trainer(void) {
    ebm_structured_markov mk;
    ebm_structured_markov_default(&mk);
    mk.n = 100, mk.len = 6, mk.k = 3;
    ebm_dataset *d, *dt;
    REQUIRE(ebm_structured_markov_dataset(&mk, 0, &d) == EBM_OK);
    REQUIRE(ebm_structured_markov_dataset(&mk, 1, &dt) == EBM_OK);
    ebm_mat *x;
    int32_t *y;
    CHECK_OK(ebm_structured_markov_toy(100, 6, 3, 0.8f, 1.0f, 1, &x, &y));
    CHECK(memcmp(x->data, d->x->data, 100 * 18 * sizeof(float)) == 0 && memcmp(y, d->labels, 600 * sizeof(int32_t)) == 0);
    CHECK(memcmp(x->data, dt->x->data, 18 * sizeof(float)) != 0); /* the held-out split draws other chains */
    CHECK(strstr(dt->source, "seed 1000004") != NULL);
    ebm_structured *a, *b;
    REQUIRE(ebm_structured_new("linear:3", 3, 1, 1, 3, 6, EBM_STRUCTURED_OUT_RAW, &a) == EBM_OK);
    REQUIRE(ebm_structured_new("linear:3", 3, 1, 1, 3, 6, EBM_STRUCTURED_OUT_RAW, &b) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, 4, 0);
    CHECK_OK(ebm_structured_init(a, &r));
    ebm_rng_seed(&r, 4, 0);
    CHECK_OK(ebm_structured_init(b, &r));
    ebm_structured_train_opts o;
    ebm_structured_train_opts_default(&o);
    o.loss.loss = EBM_STRUCTURED_NLL;
    o.optim.lr = 3e-2f;
    o.epochs = 3;
    o.batch = 30;
    o.seed = 9;
    size_t calls = 0;
    o.on_batch = count_batches;
    o.user = &calls;
    CHECK_OK(ebm_structured_train(a, d->x, d->labels, &o));
    CHECK(calls == 12);
    ebm_trainer *t;
    REQUIRE(ebm_structured_trainer_new(b, &o, &t) == EBM_OK);
    CHECK(strcmp(ebm_trainer_name(t), "structured") == 0);
    ebm_run_opts ro;
    ebm_structured_run_opts(&o, &ro);
    CHECK(ro.shuffle_stream == 0x5f && ro.rollback == EBM_ROLLBACK_STEP && ro.lr == o.optim.lr);
    CHECK_FAILS(ebm_run(t, d->x, NULL, &ro, NULL), EBM_EINVAL); /* labels are required */
    ebm_run_result res;
    CHECK_OK(ebm_run(t, d->x, d->labels, &ro, &res));
    CHECK(res.epochs_done == 3 && res.steps_done == 12);
    CHECK(same_params(a, b));
    float p0 = a->pair[0];
    a->pair[0] += 1.0f;
    CHECK(!same_params(a, b)); /* the comparison sees the pairwise table */
    a->pair[0] = p0;
    /* provenance: the loss as ebm.sp.*, read back */
    o.loss.margin = 0.25f;
    ebm_trainer_free(t);
    REQUIRE(ebm_structured_trainer_new(b, &o, &t) == EBM_OK);
    CHECK_OK(ebm_run_describe(t, &ro, &res, b->meta));
    CHECK_OK(ebm_structured_markov_to_meta(&mk, b->meta));
    ebm_structured_loss_opts lo;
    ebm_structured_loss_opts_from_meta(b->meta, &lo);
    CHECK(lo.loss == EBM_STRUCTURED_NLL && lo.margin == 0.25f && lo.beta == 1.0f);
    CHECK(strcmp(ebm_meta_get(b->meta, "ebm.train.trainer"), "structured") == 0);
    ebm_structured_markov back = {1, 1, 1, 0, 0, 0};
    ebm_structured_markov_from_meta(b->meta, &back);
    CHECK(back.stay == mk.stay && back.noise == mk.noise && back.seed == mk.seed && back.n == 1);
    double F[2];
    CHECK_FAILS(ebm_structured_free_energy(b, d->x->data, 2, F), EBM_EINVAL); /* chains */
    ebm_trainer_free(t);
    ebm_structured_free(a);
    ebm_structured_free(b);
    /* a K-class model: one parameter block */
    ebm_mat *xb;
    int32_t *yb;
    blobs(90, 3, &xb, &yb);
    size_t k;
    CHECK_OK(ebm_structured_classes(yb, 90, &k));
    CHECK(k == 3);
    REQUIRE(ebm_structured_new("linear:8,tanh,linear:3", 4, 1, 1, 3, 0, EBM_STRUCTURED_OUT_SOFTPLUS, &a) == EBM_OK);
    REQUIRE(ebm_structured_new("linear:8,tanh,linear:3", 4, 1, 1, 3, 0, EBM_STRUCTURED_OUT_SOFTPLUS, &b) == EBM_OK);
    ebm_rng_seed(&r, 5, 0);
    CHECK_OK(ebm_structured_init(a, &r));
    ebm_rng_seed(&r, 5, 0);
    CHECK_OK(ebm_structured_init(b, &r));
    ebm_structured_train_opts_default(&o);
    o.batch = 16;
    CHECK_OK(ebm_structured_train(a, xb, yb, &o));
    REQUIRE(ebm_structured_trainer_new(b, &o, &t) == EBM_OK);
    ebm_structured_run_opts(&o, &ro);
    CHECK_OK(ebm_run(t, xb, yb, &ro, &res));
    CHECK(same_params(a, b));
    CHECK_OK(ebm_structured_free_energy(a, xb->data, 2, F));
    float U[6];
    CHECK_OK(ebm_structured_energies(a, xb->data, 2, U, NULL));
    for (int i = 0; i < 2; i++)
        CHECK_NEAR(F[i], -log(exp(-U[3 * i]) + exp(-U[3 * i + 1]) + exp(-U[3 * i + 2])), 1e-6);
    yb[5] = 10000;
    CHECK_FAILS(ebm_structured_classes(yb, 90, &k), EBM_EINVAL);
    ebm_trainer_free(t);
    ebm_structured_free(a);
    ebm_structured_free(b);
    ebm_mat_free(xb);
    free(yb);
    ebm_mat_free(x);
    free(y);
    ebm_dataset_free(d);
    ebm_dataset_free(dt);
}

/* ebm_structured_new_for_data: the default networks, the spatial input of conv specs, chains of k values. */
static void test_new_for_data(void) {
    ebm_structured *m = NULL;
    CHECK_OK(ebm_structured_new_for_data(NULL, 16, 4, 4, 3, 0, EBM_STRUCTURED_OUT_SOFTPLUS, &m));
    CHECK(m && strcmp(ebm_net_spec(m->net), "linear:128,silu,linear:3") == 0);
    CHECK(m && ebm_structured_row_size(m) == 16 && m->k == 3 && m->len == 0);
    ebm_structured_free(m);
    CHECK_OK(ebm_structured_new_for_data(NULL, 20, 1, 1, 4, 5, EBM_STRUCTURED_OUT_RAW, &m));
    CHECK(m && strcmp(ebm_net_spec(m->net), "linear:4") == 0);
    CHECK(m && ebm_structured_row_size(m) == 20 && m->len == 5 && m->pair != NULL);
    ebm_structured_free(m);
    CHECK_OK(ebm_structured_new_for_data("conv:2:3:1,flatten,linear:3", 16, 4, 4, 3, 0, EBM_STRUCTURED_OUT_SQUARE,
                                         &m));
    CHECK(m && ebm_structured_row_size(m) == 16 && m->out == EBM_STRUCTURED_OUT_SQUARE);
    CHECK(m && ebm_structured_n_params(m) == (2 * 9 + 2) + (2 * 16 * 3 + 3)); /* 1 x 4 x 4 in, 2 x 4 x 4 out */
    ebm_structured_free(m);
    m = NULL;
    CHECK_FAILS(ebm_structured_new_for_data("nonsense", 16, 4, 4, 3, 0, EBM_STRUCTURED_OUT_RAW, &m), EBM_EINVAL);
    CHECK(m == NULL);
}

int main(void) {
    test_new_for_data();
    test_chain_inference();
    test_chain_gradients();
    test_long_chain();
    test_relaxed();
    test_training();
    test_chain_training();
    test_trainer();
    return check_summary("test_structured");
}
