/* Optimisers, the replay buffer and Langevin contrastive divergence.  SGD with momentum and Adam match
 * hand-computed updates; clipping and non-finite gradients behave; the replay buffer starts as noise in
 * range, restarts the asked fraction and stores back into the drawn slots.  Training: a diagonal
 * Gaussian energy E(x) = 1/2 sum_j exp(s_j) (x_j - m_j)^2 trained by LCD with MALA negatives (alpha = 0)
 * is maximum-likelihood learning, so it must recover the data's mean and variance; this holds for
 * buffer, short-run and persistent negatives.  A diverging run stops with EBM_ENAN and finite parameters.
 * The trainer: ebm_run with ebm_lcd_trainer_new and ebm_lcd_run_opts trains bit for bit as ebm_lcd_train; a
 * network with spectral normalisation trains through the library (ebm_lcd_opts.sn_net) bit for bit as the
 * command line trained it before the power iteration moved into the step (a callback after every update). */
#include "check.h"
#include "diag_energy.h"

/* ---- the trainable test energy of diag_energy.h, its parameters in an impl ---- */
typedef struct {
    float p[8];
} diag_impl;

static void diag_destroy(ebm_energy *e) {
    free(e->impl);
    free(e);
}

static ebm_energy *diag_new(size_t d) {
    ebm_energy *e = calloc(1, sizeof *e);
    diag_impl *impl = calloc(1, sizeof *impl);
    e->kind = "diag";
    e->dim = d;
    e->n_params = 2 * d;
    e->params = impl->p;
    e->impl = impl;
    e->energy = diag_energy;
    e->grad_x = diag_grad_x;
    e->grad_params = diag_grad_params;
    e->destroy = diag_destroy;
    return e;
}

/* data: x_0 ~ N(1.5, 0.5^2), x_1 ~ N(-1, 2^2) */
static ebm_mat *gauss_data(size_t n) {
    ebm_mat *m;
    REQUIRE(ebm_mat_new(n, 2, &m) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, 2, 0);
    for (size_t i = 0; i < n; i++) {
        m->data[2 * i] = (float)(1.5 + 0.5 * ebm_rng_normal(&r));
        m->data[2 * i + 1] = (float)(-1.0 + 2.0 * ebm_rng_normal(&r));
    }
    return m;
}

static void test_lcd_recovers_gaussian(void) {
    ebm_mat *data = gauss_data(5000);
    const ebm_neg_mode modes[3] = {EBM_NEG_BUFFER, EBM_NEG_SHORTRUN, EBM_NEG_PERSISTENT};
    const char *names[3] = {"buffer", "short-run", "persistent"};
    for (int k = 0; k < 3; k++) {
        ebm_energy *e = diag_new(2);
        ebm_lcd_opts o;
        ebm_lcd_opts_default(&o);
        o.mode = modes[k];
        o.buffer = 1000;
        o.alpha = 0;
        o.noise.kind = EBM_NOISE_GAUSSIAN;
        o.noise.sd = 2.0f;
        o.mcmc.kind = EBM_MCMC_MALA;
        o.mcmc.step_size = 0.1f;
        o.mcmc.steps = modes[k] == EBM_NEG_SHORTRUN ? 100 : 10;
        o.optim.lr = 0.02f;
        o.batch = 200;
        o.iters = 1500;
        o.seed = 5;
        CHECK_OK(ebm_lcd_train(e, data, &o, NULL));
        float *p = e->params;
        double sd0 = exp(-0.5 * p[2]), sd1 = exp(-0.5 * p[3]);
        printf("  %-10s mean (%.3f, %.3f) [1.5, -1]  sd (%.3f, %.3f) [0.5, 2]\n", names[k], p[0], p[1], sd0, sd1);
        CHECK_MSG(fabs(p[0] - 1.5) < 0.1 && fabs(p[1] + 1.0) < 0.3, "%s: mean (%g, %g)", names[k], p[0], p[1]);
        CHECK_MSG(fabs(sd0 - 0.5) < 0.1 && fabs(sd1 - 2.0) < 0.3, "%s: sd (%g, %g)", names[k], sd0, sd1);
        ebm_energy_free(e);
    }
    ebm_mat_free(data);
}

static int count_iters(const ebm_lcd_progress *p, void *user) {
    size_t *n = user;
    *n = p->iter;
    return p->iter >= 7;
}

static void test_lcd_errors(void) {
    ebm_mat *data = gauss_data(100);
    ebm_energy *e = diag_new(2);
    ebm_lcd_opts o;
    ebm_lcd_opts_default(&o);
    o.batch = 50;
    o.buffer = 100;
    o.iters = 50;
    /* one data row so far out that its energy overflows float: the loss is not finite */
    data->data[2 * 37] = 1e25f;
    o.iters = 200;
    ebm_status s = ebm_lcd_train(e, data, &o, NULL);
    data->data[2 * 37] = 0.0f;
    CHECK_MSG(s == EBM_ENAN, "status %s: %s", ebm_status_name(s), ebm_last_error());
    CHECK(strstr(ebm_last_error(), "diverged at iteration") != NULL);
    int finite = 1;
    for (int j = 0; j < 4; j++) finite &= isfinite(e->params[j]);
    CHECK(finite);
    /* a callback stops training */
    o.optim.lr = 1e-3f;
    size_t seen = 0;
    o.on_iter = count_iters;
    o.user = &seen;
    CHECK_FAILS(ebm_lcd_train(e, data, &o, NULL), EBM_ECANCELED);
    CHECK(seen == 7);
    o.on_iter = NULL;
    o.buffer = 10;
    CHECK_FAILS(ebm_lcd_train(e, data, &o, NULL), EBM_EINVAL);
    o.buffer = 100;
    ebm_mat *wide;
    REQUIRE(ebm_mat_new(10, 3, &wide) == EBM_OK);
    CHECK_FAILS(ebm_lcd_train(e, wide, &o, NULL), EBM_ESHAPE);
    ebm_energy *g;
    const float mu[2] = {0, 0}, P[4] = {1, 0, 0, 1};
    REQUIRE(ebm_energy_gaussian(2, mu, P, &g) == EBM_OK);
    CHECK_FAILS(ebm_lcd_train(g, data, &o, NULL), EBM_EINVAL); /* nothing to train */
    ebm_energy_free(g);
    ebm_mat_free(wide);
    ebm_energy_free(e);
    ebm_mat_free(data);
}

static void test_optimisers(void) {
    ebm_optim_opts o;
    ebm_optim_opts_default(&o);
    o.kind = EBM_OPTIM_SGD;
    o.lr = 0.1f;
    o.momentum = 0.5f;
    o.weight_decay = 0.01f;
    ebm_optim *p;
    CHECK_OK(ebm_optim_new(2, &o, &p));
    float th[2] = {1.0f, -2.0f}, g[2] = {0.5f, 1.0f};
    CHECK_OK(ebm_optim_step(p, th, g, NULL));
    /* m = g + 0.01 th = (0.51, 0.98); th -= 0.1 m */
    CHECK_NEAR(th[0], 1.0 - 0.051, 1e-6);
    CHECK_NEAR(th[1], -2.0 - 0.098, 1e-6);
    CHECK_OK(ebm_optim_step(p, th, g, NULL));
    /* m = 0.5 (0.51, 0.98) + g + 0.01 th */
    double m0 = 0.5 * 0.51 + 0.5 + 0.01 * 0.949, m1 = 0.5 * 0.98 + 1.0 + 0.01 * -2.098;
    CHECK_NEAR(th[0], 0.949 - 0.1 * m0, 1e-5);
    CHECK_NEAR(th[1], -2.098 - 0.1 * m1, 1e-5);
    ebm_optim_free(p);

    /* Adam's first step moves every coordinate by lr (times the sign), whatever the gradient's scale */
    ebm_optim_opts_default(&o);
    o.lr = 0.01f;
    CHECK_OK(ebm_optim_new(3, &o, &p));
    float t3[3] = {0, 0, 0}, g3[3] = {1e-3f, -50.0f, 2.0f};
    double norm;
    CHECK_OK(ebm_optim_step(p, t3, g3, &norm));
    CHECK_NEAR(t3[0], -0.01, 1e-4);
    CHECK_NEAR(t3[1], 0.01, 1e-6);
    CHECK_NEAR(t3[2], -0.01, 1e-6);
    CHECK_NEAR(norm, sqrt(1e-6 + 2500 + 4), 1e-3);
    /* Adam minimises a badly scaled quadratic */
    float q[2] = {3.0f, -4.0f};
    ebm_optim_free(p);
    o.lr = 0.05f;
    CHECK_OK(ebm_optim_new(2, &o, &p));
    for (int t = 0; t < 2000; t++) {
        float gq[2] = {100.0f * q[0], 0.01f * q[1]};
        CHECK_OK(ebm_optim_step(p, q, gq, NULL));
    }
    CHECK_MSG(fabs(q[0]) < 0.05 && fabs(q[1]) < 0.05, "Adam ended at (%g, %g)", q[0], q[1]);
    float bad[2] = {NAN, 0};
    float before = q[0];
    CHECK_FAILS(ebm_optim_step(p, q, bad, NULL), EBM_ENAN);
    CHECK(q[0] == before);
    ebm_optim_free(p);
    /* clipping: SGD without momentum moves by lr * clip along the gradient */
    ebm_optim_opts_default(&o);
    o.kind = EBM_OPTIM_SGD;
    o.momentum = 0;
    o.lr = 1.0f;
    o.clip = 1.0f;
    CHECK_OK(ebm_optim_new(2, &o, &p));
    float c[2] = {0, 0}, gc[2] = {3, 4};
    CHECK_OK(ebm_optim_step(p, c, gc, &norm));
    CHECK_NEAR(norm, 5.0, 1e-6);
    CHECK_NEAR(c[0], -0.6, 1e-6);
    CHECK_NEAR(c[1], -0.8, 1e-6);
    ebm_optim_free(p);
    o.lr = -1;
    CHECK_FAILS(ebm_optim_new(2, &o, &p), EBM_EINVAL);
}

static void test_replay(void) {
    ebm_noise z;
    ebm_noise_default(&z);
    ebm_replay *b;
    CHECK_OK(ebm_replay_new(500, 3, &z, 1, &b));
    CHECK(ebm_replay_capacity(b) == 500);
    const float *x = ebm_replay_data(b);
    int inside = 1;
    double mean = 0;
    for (size_t i = 0; i < 1500; i++) {
        inside &= x[i] >= -1 && x[i] <= 1;
        mean += x[i] / 1500.0;
    }
    CHECK(inside);
    CHECK_NEAR(mean, 0.0, 0.06);
    /* mark the buffer, then draw: about 5% of rows are restarts (noise), the rest are marked copies */
    float *mark = malloc(1500 * sizeof(float));
    size_t *slots = malloc(2000 * sizeof(size_t));
    for (size_t i = 0; i < 1500; i++) mark[i] = 7.0f;
    size_t all[500];
    for (size_t i = 0; i < 500; i++) all[i] = i;
    ebm_replay_store(b, mark, all, 500);
    float *draw = malloc(2000 * 3 * sizeof(float));
    size_t restarts = 0;
    for (int rep = 0; rep < 10; rep++) {
        CHECK_OK(ebm_replay_draw(b, 200, 0.05f, 100 + (uint64_t)rep, draw + rep * 600, slots + rep * 200));
    }
    for (size_t i = 0; i < 2000; i++) {
        CHECK(slots[i] < 500);
        restarts += draw[i * 3] != 7.0f;
    }
    printf("  replay: %zu of 2000 drawn rows restarted (expected 100, sd 9.7)\n", restarts);
    CHECK(restarts >= 65 && restarts <= 135);
    /* storing writes into the drawn slots */
    float row[3] = {-5, -6, -7};
    size_t slot = 123;
    ebm_replay_store(b, row, &slot, 1);
    CHECK(ebm_replay_data(b)[369] == -5 && ebm_replay_data(b)[371] == -7);
    CHECK_FAILS(ebm_replay_draw(b, 1, 1.5f, 1, draw, slots), EBM_EINVAL);
    ebm_replay_free(b);
    z.lo = 1;
    z.hi = 1;
    CHECK_FAILS(ebm_replay_new(10, 2, &z, 1, &b), EBM_EINVAL);
    free(mark);
    free(slots);
    free(draw);
}

static void test_toy(void) {
    ebm_dataset *d;
    CHECK_OK(ebm_toy_generate("8gaussians", 8000, 3, &d));
    size_t count[8] = {0};
    for (size_t i = 0; i < 8000; i++) {
        CHECK(d->labels[i] >= 0 && d->labels[i] < 8);
        count[d->labels[i]]++;
        double r = hypot(d->x->data[2 * i], d->x->data[2 * i + 1]);
        CHECK(r > 0.5 && r < 5.5);
    }
    for (int k = 0; k < 8; k++) CHECK_MSG(count[k] > 850 && count[k] < 1150, "component %d has %zu", k, count[k]);
    ebm_dataset_free(d);
    const char *names[6] = {"8gaussians", "rings", "checkerboard", "moons", "swissroll", "pinwheel"};
    for (int k = 0; k < 6; k++) {
        CHECK_OK(ebm_toy_generate(names[k], 1000, 1, &d));
        size_t bad;
        CHECK(ebm_mat_check_range(d->x, -6, 6, names[k]) == EBM_OK);
        (void)bad;
        ebm_dataset_free(d);
    }
    ebm_data_opts o;
    ebm_data_opts_default(&o);
    o.limit = 300;
    CHECK_OK(ebm_dataset_load("toy:rings", &o, &d));
    CHECK(d->x->rows == 300 && d->x->cols == 2);
    ebm_dataset_free(d);
    CHECK_FAILS(ebm_dataset_load("toy:circles", &o, &d), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "checkerboard") != NULL);
}

/* A small network energy on 2-D data, initialised from seed 3. */
static ebm_net *sn_net(const char *spec) {
    ebm_net *net;
    REQUIRE(ebm_net_new(spec, 2, 1, 1, &net) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, 3, 0);
    REQUIRE(ebm_net_init(net, &r) == EBM_OK);
    return net;
}

static void sn_opts(ebm_lcd_opts *o) {
    ebm_lcd_opts_default(o);
    o->buffer = 200;
    o->batch = 32;
    o->iters = 40;
    o->mcmc.kind = EBM_MCMC_ULA;
    o->mcmc.step_size = 0.05f;
    o->mcmc.steps = 5;
    o->optim.lr = 1e-2f;
    o->seed = 9;
}

/* What `ebm train ebm` did before the power iteration moved into the trainer's step. */
static int sn_after_update(const ebm_run_progress *p, void *user) {
    (void)p;
    ebm_net_sn_update(user, 1);
    return 0;
}

static int same_net(ebm_net *a, ebm_net *b) {
    size_t na, nb, sa, sb;
    float *pa = ebm_net_params(a, &na), *pb = ebm_net_params(b, &nb);
    float *ua = ebm_net_state(a, &sa), *ub = ebm_net_state(b, &sb);
    return na == nb && sa == sb && memcmp(pa, pb, na * sizeof(float)) == 0 &&
           (sa == 0 || memcmp(ua, ub, sa * sizeof(float)) == 0);
}

static void test_trainer(void) {
    ebm_mat *data = gauss_data(300);
    const char *spec = "linear:16:sn,silu,linear:16:sn,silu,linear:1";
    /* the one-call function and the trainer driven by ebm_run agree bit for bit, negatives too */
    ebm_net *a = sn_net(spec), *b = sn_net(spec), *c = sn_net(spec);
    ebm_energy *ea, *eb, *ec;
    REQUIRE(ebm_net_energy(a, EBM_NET_HEAD_SCALAR, &ea) == EBM_OK);
    REQUIRE(ebm_net_energy(b, EBM_NET_HEAD_SCALAR, &eb) == EBM_OK);
    REQUIRE(ebm_net_energy(c, EBM_NET_HEAD_SCALAR, &ec) == EBM_OK);
    ebm_lcd_opts o;
    sn_opts(&o);
    o.sn_net = a;
    float neg_a[32 * 2];
    CHECK_OK(ebm_lcd_train(ea, data, &o, neg_a));
    o.sn_net = b;
    ebm_trainer *t;
    REQUIRE(ebm_lcd_trainer_new(eb, &o, &t) == EBM_OK);
    CHECK(strcmp(ebm_trainer_name(t), "lcd") == 0);
    ebm_run_opts r;
    ebm_lcd_run_opts(&o, &r);
    ebm_run_result res;
    CHECK_OK(ebm_run(t, data, NULL, &r, &res));
    CHECK(res.steps_done == 40);
    CHECK(isfinite(res.last.loss) && isfinite(res.last.e_pos) && isfinite(res.last.grad_norm));
    CHECK(same_net(a, b));
    size_t nn;
    const float *neg_b = ebm_lcd_trainer_negatives(t, &nn);
    CHECK(nn == 32 && neg_b && memcmp(neg_a, neg_b, sizeof neg_a) == 0);
    ebm_meta *m;
    REQUIRE(ebm_meta_new(&m) == EBM_OK);
    CHECK_OK(ebm_run_describe(t, &r, &res, m));
    CHECK(ebm_meta_get(m, "ebm.train.method") && strcmp(ebm_meta_get(m, "ebm.train.method"), "lcd-buffer") == 0);
    CHECK(ebm_meta_get(m, "ebm.sample.steps") && strcmp(ebm_meta_get(m, "ebm.sample.steps"), "50") == 0);
    ebm_meta_free(m);
    ebm_trainer_free(t);
    /* the CLI's former way: no sn_net, the power iteration in a callback after every update */
    o.sn_net = NULL;
    REQUIRE(ebm_lcd_trainer_new(ec, &o, &t) == EBM_OK);
    r.on_step = sn_after_update;
    r.user = c;
    CHECK_OK(ebm_run(t, data, NULL, &r, NULL));
    CHECK(same_net(a, c));
    ebm_trainer_free(t);
    /* and without any power iteration the SN state stays where it was: the option matters */
    ebm_net *d = sn_net(spec);
    ebm_energy *ed;
    REQUIRE(ebm_net_energy(d, EBM_NET_HEAD_SCALAR, &ed) == EBM_OK);
    CHECK_OK(ebm_lcd_train(ed, data, &o, NULL));
    CHECK(!same_net(a, d));
    ebm_energy_free(ea);
    ebm_energy_free(eb);
    ebm_energy_free(ec);
    ebm_energy_free(ed);
    ebm_net_free(a);
    ebm_net_free(b);
    ebm_net_free(c);
    ebm_net_free(d);
    ebm_mat_free(data);
}

/* The low-dimensional defaults change the sampler and the rate only, and only for non-image data of at most
 * EBM_LCD_LOW_DIM values. */
static void test_opts_for_data(void) {
    ebm_lcd_opts d, o;
    ebm_lcd_opts_default(&d);
    o = d;
    o.noise.lo = -3.0f; /* the data's range, as callers set it first */
    o.noise.hi = 5.0f;
    ebm_lcd_opts_for_data(&o, 2, 0);
    CHECK(o.mcmc.kind == EBM_MCMC_ULA);
    CHECK_NEAR(o.mcmc.step_size, 0.01, 1e-9);
    CHECK(o.mcmc.steps == 40);
    CHECK_NEAR(o.optim.lr, 3e-3, 1e-9);
    CHECK_NEAR(o.mcmc.clip_lo, -3.4, 1e-6); /* the box widened by 5% of its width on each side */
    CHECK_NEAR(o.mcmc.clip_hi, 5.4, 1e-6);
    CHECK(o.noise.lo == -3.0f && o.noise.hi == 5.0f);
    CHECK(o.iters == d.iters && o.batch == d.batch && o.alpha == d.alpha);
    o = d; /* Gaussian chain starts: no box to clip to */
    o.noise.kind = EBM_NOISE_GAUSSIAN;
    ebm_lcd_opts_for_data(&o, 2, 0);
    CHECK(o.mcmc.kind == EBM_MCMC_ULA && o.mcmc.clip_lo == 0 && o.mcmc.clip_hi == 0);
    o = d;
    ebm_lcd_opts_for_data(&o, EBM_LCD_LOW_DIM, 0);
    CHECK(o.mcmc.kind == EBM_MCMC_ULA);
    o = d;
    ebm_lcd_opts_for_data(&o, EBM_LCD_LOW_DIM + 1, 0);
    CHECK(memcmp(&o, &d, sizeof o) == 0);
    ebm_lcd_opts_for_data(&o, 4, 1); /* a 2 x 2 image */
    CHECK(memcmp(&o, &d, sizeof o) == 0);
    /* an energy of images alone: short-run proximal SGLD, clipped to the uniform starts' box */
    o.noise.lo = -1.0f;
    o.noise.hi = 1.0f;
    ebm_lcd_opts_for_image_energy(&o);
    CHECK(o.mode == EBM_NEG_SHORTRUN && o.mcmc.kind == EBM_MCMC_SGLD && o.mcmc.steps == 40);
    CHECK_NEAR(o.mcmc.step_size, 10, 1e-9);
    CHECK_NEAR(o.mcmc.noise, 0.005, 1e-9);
    CHECK_NEAR(o.mcmc.prox, 0.3, 1e-7);
    CHECK_NEAR(o.data_noise, 0.005, 1e-9);
    CHECK(o.mcmc.clip_lo == -1.0f && o.mcmc.clip_hi == 1.0f);
    CHECK(o.iters == d.iters && o.batch == d.batch && o.alpha == d.alpha && o.optim.lr == d.optim.lr);
    o = d;
    o.noise.kind = EBM_NOISE_GAUSSIAN;
    ebm_lcd_opts_for_image_energy(&o);
    CHECK(o.mode == EBM_NEG_SHORTRUN && o.mcmc.clip_lo == 0 && o.mcmc.clip_hi == 0);
}

int main(void) {
    test_opts_for_data();
    test_trainer();
    test_optimisers();
    test_replay();
    test_toy();
    test_lcd_errors();
    test_lcd_recovers_gaussian();
    return check_summary("test_lcd");
}
