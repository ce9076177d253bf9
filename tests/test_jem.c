/* JEM: the cross-entropy gradient equals central finite differences; the log-sum-exp energy equals
 * -log sum exp(logits) computed in double; on a labelled 2-D toy (the eight Gaussians, eight classes) hybrid
 * training and the purely discriminative baseline both classify held-out points (accuracy >= 0.95), and
 * only the hybrid's energy tells data from far-away points (energy AUROC >= 0.95, and above the
 * baseline's); bad labels are refused. */
#include "check.h"
#include "run_figs.h"

static ebm_net *small_net(const char *spec, uint64_t seed) {
    ebm_net *net;
    REQUIRE(ebm_net_new(spec, 2, 1, 1, &net) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, seed, 0);
    REQUIRE(ebm_net_init(net, &r) == EBM_OK);
    return net;
}

static void test_gradients(void) {
    ebm_net *net = small_net("linear:16,silu,linear:3", 1);
    const float x[10] = {0.5f, -1.0f, 1.5f, 0.2f, -0.3f, 0.8f, 2.0f, -2.0f, 0.0f, 0.1f};
    const int32_t y[5] = {0, 2, 1, 1, 0};
    size_t np;
    float *p = ebm_net_params(net, &np);
    float *g = calloc(np, sizeof(float));
    double loss;
    CHECK_OK(ebm_jem_cross_entropy(net, x, y, 5, g, &loss));
    double worst = 0;
    for (size_t i = 0; i < np; i++) {
        float keep = p[i];
        const float h = 1e-2f;
        double lp, lm;
        p[i] = keep + h;
        CHECK_OK(ebm_jem_cross_entropy(net, x, y, 5, NULL, &lp));
        p[i] = keep - h;
        CHECK_OK(ebm_jem_cross_entropy(net, x, y, 5, NULL, &lm));
        p[i] = keep;
        double fd = (lp - lm) / (2 * h), err = fabs(fd - g[i]) / (1e-2 + fabs(fd) + fabs(g[i]));
        worst = err > worst ? err : worst;
    }
    printf("  cross-entropy gradient: worst relative error %.2e over %zu parameters\n", worst, np);
    CHECK_MSG(worst < 1e-2, "cross-entropy gradient error %g", worst);
    /* a wrong gradient would be caught: doubling one entry exceeds the bound */
    double gmax = 0;
    for (size_t i = 0; i < np; i++) gmax = fabs(g[i]) > gmax ? fabs(g[i]) : gmax;
    CHECK(gmax > 1e-2);
    /* the JEM energy is -log sum exp f(x) */
    ebm_energy *e;
    CHECK_OK(ebm_net_energy(net, EBM_NET_HEAD_LOGSUMEXP, &e));
    float E[5], f[15];
    CHECK_OK(e->energy(e, x, 5, E));
    CHECK_OK(ebm_net_forward(net, x, 5, f));
    for (int i = 0; i < 5; i++) {
        double s = 0;
        for (int j = 0; j < 3; j++) s += exp((double)f[i * 3 + j]);
        CHECK_NEAR(E[i], -log(s), 1e-5 * (1 + fabs(log(s))));
    }
    const int32_t bad[5] = {0, 3, 1, 1, 0};
    CHECK_FAILS(ebm_jem_cross_entropy(net, x, bad, 5, g, &loss), EBM_EINVAL);
    ebm_energy_free(e);
    /* the class-conditional energy E(x, y) = -f(x)[y], classes cycling over the rows, and its dE/dx
     * against central differences */
    const int32_t cyc[2] = {2, 0};
    CHECK_OK(ebm_net_energy_class(net, cyc, 2, &e));
    float dx[10], Eg[5];
    CHECK_OK(e->energy(e, x, 5, E));
    CHECK_OK(e->grad_x(e, x, 5, Eg, dx));
    double worst_x = 0;
    for (int i = 0; i < 5; i++) {
        CHECK_NEAR(E[i], -f[i * 3 + cyc[i % 2]], 1e-6);
        CHECK(E[i] == Eg[i]);
        for (int j = 0; j < 2; j++) {
            float xp[10], xm[10], Ep[5], Em[5];
            memcpy(xp, x, sizeof xp);
            memcpy(xm, x, sizeof xm);
            xp[i * 2 + j] += 1e-2f;
            xm[i * 2 + j] -= 1e-2f;
            CHECK_OK(e->energy(e, xp, 5, Ep));
            CHECK_OK(e->energy(e, xm, 5, Em));
            double fd = (Ep[i] - Em[i]) / 2e-2, err = fabs(fd - dx[i * 2 + j]) / (1e-2 + fabs(fd));
            worst_x = err > worst_x ? err : worst_x;
        }
    }
    CHECK_MSG(worst_x < 1e-2, "class energy dE/dx error %g", worst_x);
    ebm_energy_free(e);
    /* features: the penultimate layer of linear:16,silu,linear:3 is layer 2 (16 wide); the last layer's
     * features are the logits, layer 0's the input; x NULL reads the last forward without a new one */
    size_t width, pen = ebm_net_penultimate(net, &width);
    CHECK(pen == 2 && width == 16);
    CHECK(ebm_net_layers(net) == 3 && ebm_net_feature_width(net, 0) == 2 && ebm_net_feature_width(net, 1) == 16 &&
          ebm_net_feature_width(net, 2) == 16 && ebm_net_feature_width(net, 3) == 3 &&
          ebm_net_feature_width(net, 4) == 0);
    float feat[5 * 16], feat2[5 * 16], fl[15], xin[10];
    CHECK_OK(ebm_net_features(net, x, 5, 3, fl));
    for (int i = 0; i < 15; i++) CHECK(fl[i] == f[i]);
    CHECK_OK(ebm_net_features(net, x, 5, 0, xin));
    for (int i = 0; i < 10; i++) CHECK(xin[i] == x[i]);
    CHECK_OK(ebm_net_features(net, x, 5, pen, feat));
    CHECK_OK(ebm_net_forward(net, x, 5, NULL));
    CHECK_OK(ebm_net_features(net, NULL, 5, pen, feat2));
    CHECK(memcmp(feat, feat2, sizeof feat) == 0);
    for (int i = 0; i < 5 * 16; i++) CHECK(feat[i] >= -0.2785f); /* silu(z) >= -0.2785 */
    CHECK_FAILS(ebm_net_features(net, NULL, 4, pen, feat2), EBM_ESHAPE);
    CHECK_FAILS(ebm_net_features(net, x, 5, 4, feat2), EBM_EINVAL);
    const int32_t out_of_range[1] = {3};
    e = (ebm_energy *)1;
    CHECK_FAILS(ebm_net_energy_class(net, out_of_range, 1, &e), EBM_EINVAL);
    CHECK(e == NULL && strstr(ebm_last_error(), "out of range"));
    free(g);
    ebm_net_free(net);
}

/* accuracy on the held-out set and the AUROC of -E for data (positives) against far-away points */
static void evaluate(ebm_net *net, const ebm_dataset *test, double *acc, double *auroc) {
    size_t n = test->x->rows;
    float *f = malloc(n * 8 * sizeof(float)), *E = malloc(n * sizeof(float)), *Ef = malloc(n * sizeof(float));
    float *far = malloc(n * 2 * sizeof(float));
    CHECK_OK(ebm_net_forward(net, test->x->data, n, f));
    CHECK_OK(ebm_metric_classify(f, test->labels, n, 8, acc, NULL));
    ebm_energy *e;
    CHECK_OK(ebm_net_energy(net, EBM_NET_HEAD_LOGSUMEXP, &e));
    for (size_t i = 0; i < n; i++) {
        double a = 2 * 3.14159265358979 * (double)i / (double)n;
        far[2 * i] = (float)(8 * cos(a));
        far[2 * i + 1] = (float)(8 * sin(a));
    }
    CHECK_OK(e->energy(e, test->x->data, n, E));
    CHECK_OK(e->energy(e, far, n, Ef));
    double *pos = malloc(n * sizeof(double)), *neg = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        pos[i] = -E[i];
        neg[i] = -Ef[i];
    }
    CHECK_OK(ebm_metric_auroc(pos, n, neg, n, auroc));
    ebm_energy_free(e);
    free(f);
    free(E);
    free(Ef);
    free(far);
    free(pos);
    free(neg);
}

static void test_training(void) {
    ebm_dataset *train, *test;
    REQUIRE(ebm_toy_generate("8gaussians", 4000, 1, &train) == EBM_OK);
    REQUIRE(ebm_toy_generate("8gaussians", 1000, 2, &test) == EBM_OK);
    double acc[2], auroc[2];
    for (int hybrid = 0; hybrid < 2; hybrid++) {
        ebm_net *net = small_net("linear:64,silu,linear:64,silu,linear:8", 3);
        ebm_lcd_opts o;
        ebm_lcd_opts_default(&o);
        o.gen_weight = hybrid ? 1.0f : 0.0f;
        o.noise.lo = -5.0f;
        o.noise.hi = 5.0f;
        o.mcmc.kind = EBM_MCMC_ULA;
        o.mcmc.step_size = 0.05f;
        o.mcmc.steps = 20;
        o.optim.lr = 0.005f;
        o.iters = 800;
        o.seed = 6;
        CHECK_OK(ebm_jem_train(net, train->x, train->labels, &o));
        evaluate(net, test, &acc[hybrid], &auroc[hybrid]);
        printf("  %-14s accuracy %.3f, energy AUROC data vs far points %.3f\n", hybrid ? "JEM (hybrid)" : "classifier", acc[hybrid],
               auroc[hybrid]);
        CHECK_MSG(acc[hybrid] >= 0.95, "%s accuracy %g", hybrid ? "JEM" : "classifier", acc[hybrid]);
        ebm_net_free(net);
    }
    CHECK_MSG(auroc[1] >= 0.95, "JEM energy AUROC %g", auroc[1]);
    CHECK_MSG(auroc[1] > auroc[0], "JEM AUROC %g not above the classifier's %g", auroc[1], auroc[0]);
    /* labels out of range and a one-output network are refused */
    ebm_net *one = small_net("linear:8,silu,linear:1", 4);
    ebm_lcd_opts o;
    ebm_lcd_opts_default(&o);
    CHECK_FAILS(ebm_jem_train(one, train->x, train->labels, &o), EBM_EINVAL);
    ebm_net_free(one);
    ebm_net *three = small_net("linear:8,silu,linear:3", 4);
    CHECK_FAILS(ebm_jem_train(three, train->x, train->labels, &o), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "not a class") != NULL);
    ebm_net_free(three);
    ebm_dataset_free(train);
    ebm_dataset_free(test);
}

/* The JEM trainer takes each batch's energies, their weighted gradient and the cross-entropy from one forward
 * and one backward (src/train/jem.c, ce_weighted); the LCD trainer with the cross-entropy as its extra loss
 * takes them from the energy's calls (two forwards a batch) and ebm_jem_cross_entropy (a third forward and a
 * second backward).  The two are the same update: three SGD iterations from the same network and seeds give
 * the same parameters and figures up to rounding (fp32). */
typedef struct {
    ebm_net *net;
    const int32_t *labels;
} ce_user;

static ebm_status plain_ce(const float *x, const size_t *rows, size_t n, float *grad, double *loss, void *user) {
    ce_user *u = user;
    int32_t y[64];
    REQUIRE(n <= 64);
    for (size_t i = 0; i < n; i++) y[i] = u->labels[rows[i]];
    return ebm_jem_cross_entropy(u->net, x, y, n, grad, loss);
}

static void test_fused_update(void) {
    ebm_dataset *train;
    REQUIRE(ebm_toy_generate("8gaussians", 512, 7, &train) == EBM_OK);
    ebm_net *a = small_net("linear:32,silu,linear:32,silu,linear:8", 9), *b;
    REQUIRE(ebm_net_clone(a, &b) == EBM_OK);
    ebm_lcd_opts o;
    ebm_lcd_opts_default(&o);
    o.noise.lo = -5.0f;
    o.noise.hi = 5.0f;
    o.mcmc.kind = EBM_MCMC_ULA;
    o.mcmc.step_size = 0.05f;
    o.mcmc.steps = 5;
    o.optim.kind = EBM_OPTIM_SGD;
    o.optim.momentum = 0;
    o.optim.lr = 0.05f;
    o.batch = 64;
    o.iters = 3;
    o.seed = 11;
    o.alpha = 0.5f; /* the weights depend on the energies */
    ebm_trainer *ta, *tb;
    CHECK_OK(ebm_jem_trainer_new(a, &o, &ta));
    ce_user u = {b, train->labels};
    ebm_lcd_opts ob = o;
    ob.extra_grad = plain_ce;
    ob.extra_user = &u;
    ebm_energy *eb;
    CHECK_OK(ebm_net_energy(b, EBM_NET_HEAD_LOGSUMEXP, &eb));
    CHECK_OK(ebm_lcd_trainer_new(eb, &ob, &tb));
    run_figs fa = {0}, fb = {0};
    ebm_run_opts ra, rb;
    ebm_lcd_run_opts(&o, &ra);
    ebm_lcd_run_opts(&ob, &rb);
    ra.on_step = keep_run_figs, ra.user = &fa;
    rb.on_step = keep_run_figs, rb.user = &fb;
    CHECK_OK(ebm_run(ta, train->x, train->labels, &ra, NULL));
    CHECK_OK(ebm_run(tb, train->x, train->labels, &rb, NULL));
    size_t np;
    const float *pa = ebm_net_params(a, &np), *pb = ebm_net_params(b, NULL);
    double d = 0, m = 0, moved = 0;
    ebm_net *n0 = small_net("linear:32,silu,linear:32,silu,linear:8", 9);
    const float *p0 = ebm_net_params(n0, NULL);
    for (size_t i = 0; i < np; i++) {
        d += ((double)pa[i] - pb[i]) * ((double)pa[i] - pb[i]);
        m += (double)pb[i] * pb[i];
        moved += ((double)pb[i] - p0[i]) * ((double)pb[i] - p0[i]);
    }
    printf("  one pass a batch vs the energy's calls: parameters differ by %.2e (relative), moved %.2e\n", sqrt(d / m),
           sqrt(moved / m));
    CHECK(sqrt(moved / m) > 1e-3); /* they were trained */
    CHECK(sqrt(d / m) < 1e-5);
    CHECK(fa.n == 3 && fb.n == 3);
    for (size_t i = 0; i < fa.n && i < fb.n; i++) {
        CHECK_NEAR(fa.loss[i], fb.loss[i], 1e-5 * (1 + fabs(fb.loss[i])));
        CHECK_NEAR(fa.e_pos[i], fb.e_pos[i], 1e-5 * (1 + fabs(fb.e_pos[i])));
        CHECK_NEAR(fa.e_neg[i], fb.e_neg[i], 1e-5 * (1 + fabs(fb.e_neg[i])));
        CHECK_NEAR(fa.extra[i], fb.extra[i], 1e-5 * (1 + fabs(fb.extra[i])));
    }
    ebm_net_free(n0);
    ebm_trainer_free(ta);
    ebm_trainer_free(tb);
    ebm_energy_free(eb);
    ebm_net_free(a);
    ebm_net_free(b);
    ebm_dataset_free(train);
}

/* Class negatives (ebm_lcd_opts.class_negatives): with chains that cannot move (one SGLD step of 1e-30, no
 * noise) both runs draw the same negatives, so one SGD update with class negatives minus one without is
 * -lr (g_class - g_lse), where g_class = sum_i (-1/n) d(-f(x-_i)[cycle[i mod nc]]) and g_lse = sum_i (-1/n) dE(x-_i)
 * over the negatives (alpha 0): the data's terms cancel.  And the settings it cannot take are refused. */
static void class_negative_update(const ebm_dataset *train, const int32_t *cycle, size_t nc, const char *what) {
    const char *spec = "linear:32,silu,linear:32,silu,linear:8";
    ebm_net *a = small_net(spec, 12), *b = small_net(spec, 12), *n0 = small_net(spec, 12);
    ebm_lcd_opts o;
    ebm_lcd_opts_default(&o);
    o.mode = EBM_NEG_SHORTRUN;
    o.noise.lo = -5.0f, o.noise.hi = 5.0f;
    o.mcmc.kind = EBM_MCMC_SGLD, o.mcmc.step_size = 1e-30f, o.mcmc.noise = 0, o.mcmc.steps = 1;
    o.optim.kind = EBM_OPTIM_SGD, o.optim.momentum = 0, o.optim.lr = 0.05f;
    o.batch = 64, o.iters = 1, o.seed = 13, o.alpha = 0;
    ebm_lcd_opts oa = o;
    oa.class_negatives = 1;
    ebm_trainer *ta, *tb;
    CHECK_OK(ebm_jem_trainer_new(a, &oa, &ta));
    CHECK_OK(ebm_jem_trainer_new(b, &o, &tb));
    ebm_run_opts ra;
    ebm_lcd_run_opts(&o, &ra);
    CHECK_OK(ebm_run(ta, train->x, train->labels, &ra, NULL));
    CHECK_OK(ebm_run(tb, train->x, train->labels, &ra, NULL));
    size_t nn, nb, np;
    const float *xa = ebm_lcd_trainer_negatives(ta, &nn), *xb = ebm_lcd_trainer_negatives(tb, &nb);
    REQUIRE(xa && xb && nn == 64 && nb == 64);
    CHECK(memcmp(xa, xb, 64 * 2 * sizeof(float)) == 0);
    const float *pa = ebm_net_params(a, &np), *pb = ebm_net_params(b, NULL);
    float *gc = calloc(np, sizeof(float)), *gl = calloc(np, sizeof(float)), w[64];
    REQUIRE(gc && gl);
    for (size_t i = 0; i < 64; i++) w[i] = -1.0f / 64;
    ebm_energy *ec, *el;
    CHECK_OK(ebm_net_energy_class(n0, cycle, nc, &ec));
    CHECK_OK(ebm_net_energy(n0, EBM_NET_HEAD_LOGSUMEXP, &el));
    CHECK_OK(ec->grad_params(ec, xa, 64, w, gc, NULL));
    CHECK_OK(el->grad_params(el, xa, 64, w, gl, NULL));
    double d = 0, m = 0;
    for (size_t i = 0; i < np; i++) {
        double want = -(double)o.optim.lr * ((double)gc[i] - gl[i]), got = (double)pa[i] - pb[i];
        d += (got - want) * (got - want);
        m += want * want;
    }
    printf("  class negatives%s: update difference off by %.2e (relative), size %.2e\n", what, sqrt(d / m), sqrt(m));
    CHECK(sqrt(m) > 1e-4);
    CHECK(sqrt(d / m) < 1e-3);
    if (nc == 8) { /* refused: a replay buffer, and an energy without classes */
    ebm_trainer *tc;
    oa.mode = EBM_NEG_BUFFER;
    CHECK(ebm_jem_trainer_new(a, &oa, &tc) == EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "short-run or persistent") != NULL);
    oa.mode = EBM_NEG_SHORTRUN;
    CHECK(ebm_lcd_trainer_new(el, &oa, &tc) == EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "JEM") != NULL);
    }
    free(gc), free(gl);
    ebm_energy_free(ec), ebm_energy_free(el);
    ebm_trainer_free(ta), ebm_trainer_free(tb);
    ebm_net_free(a), ebm_net_free(b), ebm_net_free(n0);
}

/* ... over all eight classes, and over the seven a held-out-class set has (no class 3: row i samples class
 * present[i mod 7]) */
static void test_class_negatives(void) {
    ebm_dataset *train;
    REQUIRE(ebm_toy_generate("8gaussians", 512, 7, &train) == EBM_OK);
    const int32_t all[8] = {0, 1, 2, 3, 4, 5, 6, 7}, seven[7] = {0, 1, 2, 4, 5, 6, 7};
    class_negative_update(train, all, 8, "");
    size_t m = 0;
    for (size_t i = 0; i < train->x->rows; i++)
        if (train->labels[i] != 3) {
            memmove(train->x->data + 2 * m, train->x->data + 2 * i, 2 * sizeof(float));
            train->labels[m++] = train->labels[i];
        }
    train->x->rows = m;
    class_negative_update(train, seven, 7, " without class 3");
    ebm_dataset_free(train);
}

/* Class negatives from Gaussian starts (JEM++'s informative starts): the chain of row r samples class r mod K
 * (of the K classes the data have),
 * so it starts from that class's Gaussian; with steps that do not move, every negative lies nearest its class's
 * mean (8gaussians: eight well-apart modes).  Without class negatives the starts draw their classes at random. */
static size_t nearest_own(const float *xn, size_t n, const float mean[8][2]) {
    size_t own = 0;
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        double bd = INFINITY;
        for (size_t c = 0; c < 8; c++) {
            double dx = xn[2 * i] - mean[c][0], dy = xn[2 * i + 1] - mean[c][1], d2 = dx * dx + dy * dy;
            if (d2 < bd) bd = d2, best = c;
        }
        own += best == i % 8;
    }
    return own;
}

static void test_class_negative_starts(void) {
    ebm_dataset *train;
    REQUIRE(ebm_toy_generate("8gaussians", 800, 7, &train) == EBM_OK);
    float mean[8][2] = {{0}};
    size_t cnt[8] = {0};
    for (size_t i = 0; i < 800; i++) {
        int c = train->labels[i];
        mean[c][0] += train->x->data[2 * i], mean[c][1] += train->x->data[2 * i + 1], cnt[c]++;
    }
    for (int c = 0; c < 8; c++) {
        REQUIRE(cnt[c] > 0);
        mean[c][0] /= (float)cnt[c], mean[c][1] /= (float)cnt[c];
    }
    ebm_lcd_opts o;
    ebm_lcd_opts_default(&o);
    o.mode = EBM_NEG_SHORTRUN;
    o.init = EBM_INIT_GAUSSIAN;
    o.mcmc.kind = EBM_MCMC_SGLD, o.mcmc.step_size = 1e-30f, o.mcmc.noise = 0, o.mcmc.steps = 1;
    o.optim.kind = EBM_OPTIM_SGD, o.optim.momentum = 0, o.optim.lr = 1e-6f;
    o.batch = 64, o.iters = 2, o.seed = 21, o.alpha = 0;
    size_t own[3];
    for (int v = 0; v < 3; v++) { /* short-run class negatives, persistent ones, plain negatives */
        ebm_net *net = small_net("linear:16,silu,linear:8", 5);
        ebm_lcd_opts oo = o;
        oo.class_negatives = v < 2;
        if (v == 1) oo.mode = EBM_NEG_PERSISTENT;
        ebm_trainer *t;
        CHECK_OK(ebm_jem_trainer_new(net, &oo, &t));
        ebm_run_opts ro;
        ebm_lcd_run_opts(&oo, &ro);
        CHECK_OK(ebm_run(t, train->x, train->labels, &ro, NULL));
        size_t nn;
        const float *xn = ebm_lcd_trainer_negatives(t, &nn);
        REQUIRE(xn && nn == 64);
        own[v] = nearest_own(xn, 64, mean);
        ebm_trainer_free(t);
        ebm_net_free(net);
    }
    printf("  Gaussian starts: negatives nearest their row's class mean: %zu / 64 (short-run class negatives), "
           "%zu / 64 (persistent), %zu / 64 (plain negatives)\n", own[0], own[1], own[2]);
    CHECK(own[0] >= 60 && own[1] >= 60);
    CHECK(own[2] < 24);
    /* held-out-class data (no class 3): the negatives cycle over the seven classes the data have, row r over
     * class present[r mod 7], each from its own Gaussian (cycling over all eight, or starting row r at class r mod
     * 8's, fails) */
    ebm_dataset *part;
    REQUIRE(ebm_toy_generate("8gaussians", 800, 7, &part) == EBM_OK);
    size_t m = 0;
    for (size_t i = 0; i < 800; i++)
        if (part->labels[i] != 3) {
            memmove(part->x->data + 2 * m, part->x->data + 2 * i, 2 * sizeof(float));
            part->labels[m++] = part->labels[i];
        }
    part->x->rows = m;
    ebm_net *net = small_net("linear:16,silu,linear:8", 5);
    o.class_negatives = 1;
    ebm_trainer *t;
    CHECK_OK(ebm_jem_trainer_new(net, &o, &t));
    ebm_run_opts ro;
    ebm_lcd_run_opts(&o, &ro);
    CHECK_OK(ebm_run(t, part->x, part->labels, &ro, NULL));
    size_t nn, own7 = 0, near3 = 0;
    const float *xn = ebm_lcd_trainer_negatives(t, &nn);
    REQUIRE(xn && nn == 64);
    static const int present[7] = {0, 1, 2, 4, 5, 6, 7};
    for (size_t i = 0; i < 64; i++) {
        size_t best = 0;
        double bd = INFINITY;
        for (size_t c = 0; c < 8; c++) {
            double dx = xn[2 * i] - mean[c][0], dy = xn[2 * i + 1] - mean[c][1], d2 = dx * dx + dy * dy;
            if (d2 < bd) bd = d2, best = c;
        }
        own7 += (int)best == present[i % 7];
        near3 += best == 3;
    }
    printf("  without class 3: negatives nearest their row's class of the seven: %zu / 64, nearest class 3: %zu\n",
           own7, near3);
    CHECK(own7 >= 60 && near3 == 0);
    ebm_trainer_free(t);
    ebm_net_free(net);
    ebm_dataset_free(part);
    ebm_dataset_free(train);
}

int main(void) {
    test_gradients();
    test_fused_update();
    test_training();
    test_class_negatives();
    test_class_negative_starts();
    return check_summary("test_jem");
}
