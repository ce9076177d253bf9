/* JEM++'s informative chain starts, the moving average of the weights and the complexity-corrected anomaly
 * score.  Gaussian starts: fitted to 20,000 rows of a correlated 3-D Gaussian, 20,000 draws (fixed seed) have
 * the data's mean within 0.05 and covariance within 0.08 (absolute, entries of size 1-4; the standard error
 * of a covariance entry at n = 20,000 is at most 0.04); per class, the classes come with their data
 * frequencies (within 0.015) and each class's draws have that class's mean; draws are clipped to the range,
 * do not depend on how the rows are split, and a replay buffer with these starts holds them.  LCD with
 * Gaussian starts and short-run MALA negatives still recovers the data's mean and variance (maximum
 * likelihood), and its moving average of the parameters equals the average computed beside the run, is
 * kept in checkpoints and swaps in and out.  Complexity: on 28 x 28 images where the in-distribution rows are
 * noise and the anomalies flat images, a Gaussian energy ranks the anomalies as the most likely (AUROC of
 * the energy < 0.05) while the complexity-corrected score finds them (AUROC > 0.95). */
#include "check.h"
#include "diag_energy.h"

/* ---- the trainable test energy of diag_energy.h, its parameters owned here ---- */
static void diag_destroy(ebm_energy *e) {
    free(e->params);
    free(e);
}

static ebm_energy *diag_new(size_t d) {
    ebm_energy *e = calloc(1, sizeof *e);
    REQUIRE(e != NULL);
    e->kind = "diag";
    e->dim = d;
    e->n_params = 2 * d;
    e->params = calloc(2 * d, sizeof(float));
    e->energy = diag_energy;
    e->grad_x = diag_grad_x;
    e->grad_params = diag_grad_params;
    e->destroy = diag_destroy;
    return e;
}

/* mean (d) and covariance (d, d) of x (n, d) */
static void moments(const float *x, size_t n, size_t d, double *mu, double *cov) {
    for (size_t j = 0; j < d; j++) {
        mu[j] = 0;
        for (size_t i = 0; i < n; i++) mu[j] += x[i * d + j] / (double)n;
    }
    for (size_t a = 0; a < d; a++)
        for (size_t b = 0; b < d; b++) {
            double c = 0;
            for (size_t i = 0; i < n; i++) c += (x[i * d + a] - mu[a]) * (x[i * d + b] - mu[b]);
            cov[a * d + b] = c / (double)(n - 1);
        }
}

/* rows of N(mu, A A^T) with A = [[1, 0, 0], [1.2, 1, 0], [-0.5, 0.8, 1.5]]; mu = (1, -2, 0.5) + shift */
static ebm_mat *gauss3(size_t n, uint64_t seed, float shift) {
    ebm_mat *m;
    REQUIRE(ebm_mat_new(n, 3, &m) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, seed, 0);
    for (size_t i = 0; i < n; i++) {
        double z0 = ebm_rng_normal(&r), z1 = ebm_rng_normal(&r), z2 = ebm_rng_normal(&r);
        m->data[3 * i] = (float)(1 + shift + z0);
        m->data[3 * i + 1] = (float)(-2 + shift + 1.2 * z0 + z1);
        m->data[3 * i + 2] = (float)(0.5 + shift - 0.5 * z0 + 0.8 * z1 + 1.5 * z2);
    }
    return m;
}

static void test_gauss_start(void) {
    size_t n = 20000;
    ebm_mat *x = gauss3(n, 1, 0);
    ebm_gauss_start *g;
    CHECK_OK(ebm_gauss_start_fit(x, NULL, 0, 0, &g));
    CHECK(ebm_gauss_start_classes(g) == 1 && ebm_gauss_start_dim(g) == 3);
    float *y = malloc(n * 3 * sizeof(float));
    CHECK_OK(ebm_gauss_start_fill(g, 42, 0, y, n, NULL));
    double mx[3], cx[9], my[3], cy[9], worst_mu = 0, worst_cov = 0;
    moments(x->data, n, 3, mx, cx);
    moments(y, n, 3, my, cy);
    for (int j = 0; j < 3; j++) worst_mu = fmax(worst_mu, fabs(mx[j] - my[j]));
    for (int j = 0; j < 9; j++) worst_cov = fmax(worst_cov, fabs(cx[j] - cy[j]));
    printf("  one Gaussian: data cov (%.3f %.3f %.3f / %.3f %.3f / %.3f), draws (%.3f %.3f %.3f / %.3f %.3f / %.3f); "
           "worst |mean diff| %.4f, |cov diff| %.4f\n", cx[0], cx[1], cx[2], cx[4], cx[5], cx[8], cy[0], cy[1], cy[2],
           cy[4], cy[5], cy[8], worst_mu, worst_cov);
    CHECK(worst_mu < 0.05);
    CHECK(worst_cov < 0.08);
    /* rows 50..99 of a fill of 100 = a fill of 50 from row0 50 */
    float a[300], b[150];
    CHECK_OK(ebm_gauss_start_fill(g, 7, 0, a, 100, NULL));
    CHECK_OK(ebm_gauss_start_fill(g, 7, 50, b, 50, NULL));
    CHECK(memcmp(a + 150, b, sizeof b) == 0);
    ebm_gauss_start_free(g);

    /* clipped to [-1, 1] */
    CHECK_OK(ebm_gauss_start_fit(x, NULL, -1, 1, &g));
    CHECK_OK(ebm_gauss_start_fill(g, 43, 0, y, 1000, NULL));
    int inside = 1;
    for (size_t i = 0; i < 3000; i++) inside &= y[i] >= -1 && y[i] <= 1;
    CHECK(inside);
    ebm_gauss_start_free(g);

    /* two classes: class 1 shifted by +4 and three times as frequent */
    ebm_mat *x0 = gauss3(n / 4, 2, 0), *x1 = gauss3(3 * n / 4, 3, 4), *xx;
    REQUIRE(ebm_mat_new(n, 3, &xx) == EBM_OK);
    int32_t *lab = malloc(n * sizeof *lab), *cls = malloc(n * sizeof *cls);
    for (size_t i = 0; i < n; i++) {
        int c = i % 4 != 0; /* interleaved */
        const float *src = c ? x1->data + 3 * (i - i / 4 - 1) : x0->data + 3 * (i / 4);
        memcpy(xx->data + 3 * i, src, 3 * sizeof(float));
        lab[i] = c;
    }
    CHECK_OK(ebm_gauss_start_fit(xx, lab, 0, 0, &g));
    CHECK(ebm_gauss_start_classes(g) == 2);
    CHECK_OK(ebm_gauss_start_fill(g, 44, 0, y, n, cls));
    double f1 = 0, m0[3] = {0}, m1[3] = {0};
    size_t n0 = 0, n1 = 0;
    for (size_t i = 0; i < n; i++) {
        f1 += cls[i] == 1;
        for (int j = 0; j < 3; j++) (cls[i] ? m1 : m0)[j] += y[3 * i + j];
        cls[i] ? n1++ : n0++;
    }
    f1 /= (double)n;
    printf("  two classes: class 1 drawn %.4f of the time (data 0.75); class means (%.2f %.2f %.2f), (%.2f %.2f %.2f)\n",
           f1, m0[0] / n0, m0[1] / n0, m0[2] / n0, m1[0] / n1, m1[1] / n1, m1[2] / n1);
    CHECK_NEAR(f1, 0.75, 0.015);
    double want0[3] = {1, -2, 0.5};
    for (int j = 0; j < 3; j++) {
        CHECK_NEAR(m0[j] / n0, want0[j], 0.1);
        CHECK_NEAR(m1[j] / n1, want0[j] + 4, 0.1);
    }
    /* a replay buffer with these starts holds them: its mean is the mixture's, 0.25 mu0 + 0.75 mu1 */
    ebm_noise z;
    ebm_noise_default(&z);
    ebm_replay *buf;
    CHECK_OK(ebm_replay_new(4000, 3, &z, 5, &buf));
    CHECK_OK(ebm_replay_set_start(buf, g, 5));
    double bm = 0;
    for (size_t i = 0; i < 4000; i++) bm += ebm_replay_data(buf)[3 * i] / 4000.0;
    printf("  replay buffer from the Gaussians: mean of x0 %.3f (mixture 4.0)\n", bm);
    CHECK_NEAR(bm, 4.0, 0.1);
    /* every restart (reinit 1) comes from the Gaussians too: far outside the buffer's uniform noise */
    size_t slots[200];
    CHECK_OK(ebm_replay_draw(buf, 200, 1.0f, 9, y, slots));
    double rm = 0;
    for (size_t i = 0; i < 200; i++) rm += y[3 * i] / 200.0;
    CHECK(rm > 3.0);
    ebm_replay_free(buf);
    CHECK_OK(ebm_replay_new(10, 2, &z, 5, &buf));
    CHECK_FAILS(ebm_replay_set_start(buf, g, 5), EBM_ESHAPE);
    ebm_replay_free(buf);
    /* classes given: a row drawn from the class fill drew is the same row, bit for bit */
    float *y2 = malloc(n * 3 * sizeof(float));
    REQUIRE(y2);
    CHECK_OK(ebm_gauss_start_fill(g, 44, 0, y, n, cls)); /* y again (the buffer's draws went there) */
    CHECK_OK(ebm_gauss_start_fill_classes(g, 44, 0, y2, n, cls));
    CHECK(memcmp(y, y2, n * 3 * sizeof(float)) == 0);
    /* every row of class 0 (drawn a quarter of the time by fill): its mean */
    for (size_t i = 0; i < n; i++) cls[i] = 0;
    CHECK_OK(ebm_gauss_start_fill_classes(g, 45, 0, y2, n, cls));
    double c0[3] = {0};
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < 3; j++) c0[j] += y2[3 * i + j] / (double)n;
    printf("  class 0 given for every row: mean (%.2f %.2f %.2f)\n", c0[0], c0[1], c0[2]);
    for (int j = 0; j < 3; j++) CHECK_NEAR(c0[j], want0[j], 0.1);
    cls[5] = 2; /* not a class of the data */
    CHECK_FAILS(ebm_gauss_start_fill_classes(g, 45, 0, y2, n, cls), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "row 5") != NULL);
    cls[5] = -1;
    CHECK_FAILS(ebm_gauss_start_fill_classes(g, 45, 0, y2, n, cls), EBM_EINVAL);
    CHECK_FAILS(ebm_gauss_start_fill_classes(g, 45, 0, y2, n, NULL), EBM_EINVAL);
    ebm_gauss_start_free(g);
    /* labels 0 and 2 only: class 1 has no Gaussian */
    for (size_t i = 0; i < n; i++) lab[i] = lab[i] ? 2 : 0;
    CHECK_OK(ebm_gauss_start_fit(xx, lab, 0, 0, &g));
    CHECK(ebm_gauss_start_classes(g) == 3);
    for (size_t i = 0; i < n; i++) cls[i] = (int32_t)(2 * (i % 2));
    CHECK_OK(ebm_gauss_start_fill_classes(g, 46, 0, y2, n, cls));
    cls[7] = 1;
    CHECK_FAILS(ebm_gauss_start_fill_classes(g, 46, 0, y2, n, cls), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "no row") != NULL);
    free(y2);
    ebm_gauss_start_free(g);
    lab[3] = -1;
    CHECK_FAILS(ebm_gauss_start_fit(xx, lab, 0, 0, &g), EBM_EINVAL);
    CHECK(strstr(ebm_last_error(), "label") != NULL);
    free(lab);
    free(cls);
    free(y);
    ebm_mat_free(x);
    ebm_mat_free(x0);
    ebm_mat_free(x1);
    ebm_mat_free(xx);
}

/* ---- LCD with Gaussian starts and EMA ---- */
typedef struct {
    ebm_energy *e;
    double ema[4];
    float decay;
} ema_watch;

static int watch_step(const ebm_run_progress *p, void *user) {
    (void)p;
    ema_watch *w = user;
    for (int i = 0; i < 4; i++) w->ema[i] = w->decay * w->ema[i] + (1.0 - w->decay) * w->e->params[i];
    return 0;
}

static void test_lcd_gaussian_ema(void) {
    /* data: x_0 ~ N(1.5, 0.5^2), x_1 ~ N(-1, 2^2) */
    size_t n = 4000;
    ebm_mat *x;
    REQUIRE(ebm_mat_new(n, 2, &x) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, 2, 0);
    for (size_t i = 0; i < n; i++) {
        x->data[2 * i] = (float)(1.5 + 0.5 * ebm_rng_normal(&r));
        x->data[2 * i + 1] = (float)(-1.0 + 2.0 * ebm_rng_normal(&r));
    }
    ebm_energy *e = diag_new(2);
    ebm_lcd_opts o;
    ebm_lcd_opts_default(&o);
    o.mode = EBM_NEG_SHORTRUN;
    o.init = EBM_INIT_GAUSSIAN;
    o.ema = 0.95f;
    o.alpha = 0;
    o.mcmc.kind = EBM_MCMC_MALA;
    o.mcmc.steps = 10;
    o.mcmc.step_size = 0.05f;
    o.optim.lr = 0.02f;
    o.batch = 200;
    o.iters = 600;
    ema_watch w = {.e = e, .decay = o.ema};
    for (int i = 0; i < 4; i++) w.ema[i] = e->params[i];
    ebm_trainer *t;
    CHECK_OK(ebm_lcd_trainer_new(e, &o, &t));
    CHECK_FAILS(ebm_lcd_trainer_swap_ema(t), EBM_EINVAL); /* not begun */
    ebm_run_opts ro;
    ebm_lcd_run_opts(&o, &ro);
    ro.on_step = watch_step;
    ro.user = &w;
    ebm_run_result res;
    CHECK_OK(ebm_run(t, x, NULL, &ro, &res));
    const float *p = e->params;
    double v0 = exp(-p[2]), v1 = exp(-p[3]);
    printf("  LCD, Gaussian starts: mean (%.3f, %.3f) [1.5, -1], variance (%.3f, %.3f) [0.25, 4]\n", p[0], p[1], v0, v1);
    CHECK_NEAR(p[0], 1.5, 0.1);
    CHECK_NEAR(p[1], -1.0, 0.25);
    CHECK_NEAR(v0, 0.25, 0.06);
    CHECK_NEAR(v1, 4.0, 0.9);
    float raw[4];
    memcpy(raw, p, sizeof raw);
    ebm_meta *meta;
    REQUIRE(ebm_meta_new(&meta) == EBM_OK);
    CHECK_OK(ebm_run_describe(t, &ro, &res, meta));
    CHECK(ebm_meta_get(meta, "ebm.train.init") && strcmp(ebm_meta_get(meta, "ebm.train.init"), "gaussian") == 0);
    CHECK(ebm_meta_get(meta, "ebm.train.ema") && atof(ebm_meta_get(meta, "ebm.train.ema")) == 0.95);
    ebm_meta_free(meta);
    CHECK_OK(ebm_lcd_trainer_swap_ema(t));
    double worst = 0, moved = 0;
    for (int i = 0; i < 4; i++) {
        worst = fmax(worst, fabs(p[i] - w.ema[i]));
        moved = fmax(moved, fabs(p[i] - raw[i]));
    }
    printf("  EMA 0.95: largest difference from the average kept beside the run %.2e; from the raw weights %.4f\n",
           worst, moved);
    CHECK(worst < 1e-4);
    CHECK(moved > 1e-4);
    CHECK_OK(ebm_lcd_trainer_swap_ema(t));
    CHECK(memcmp(p, raw, sizeof raw) == 0);
    ebm_trainer_free(t);
    /* a plain run has no average to swap; a decay of 1 is refused */
    o.ema = 0;
    CHECK_OK(ebm_lcd_trainer_new(e, &o, &t));
    CHECK_FAILS(ebm_lcd_trainer_swap_ema(t), EBM_EINVAL);
    ebm_trainer_free(t);
    o.ema = 1;
    CHECK_FAILS(ebm_lcd_trainer_new(e, &o, &t), EBM_EINVAL);
    ebm_energy_free(e);
    ebm_mat_free(x);
}

/* ---- complexity ---- */
static void test_complexity(void) {
    size_t side = 28, d = side * side, n = 200, m = 200;
    float *in = malloc(n * d * sizeof(float)), *out = malloc(m * d * sizeof(float));
    ebm_rng r;
    ebm_rng_seed(&r, 3, 0);
    for (size_t i = 0; i < n * d; i++) {
        double v = 0.5 * ebm_rng_normal(&r);
        in[i] = (float)(v < -1 ? -1 : v > 1 ? 1 : v);
    }
    for (size_t i = 0; i < m; i++) { /* flat images, a level in [-0.2, 0.2], a bright bar in some */
        float level = (float)(0.4 * ebm_rng_uniform(&r) - 0.2);
        for (size_t j = 0; j < d; j++) out[i * d + j] = level;
        if (i % 2)
            for (size_t j = 10 * side; j < 12 * side; j++) out[i * d + j] = 0.9f;
    }
    /* the energy of N(0, 0.5^2 I): E = |x|^2 / (2 x 0.25) */
    float *mu = calloc(d, sizeof(float)), *prec = calloc(d * d, sizeof(float));
    for (size_t j = 0; j < d; j++) prec[j * d + j] = 4.0f;
    ebm_energy *e;
    REQUIRE(ebm_energy_gaussian(d, mu, prec, &e) == EBM_OK);
    float *Ef = malloc((n + m) * sizeof(float));
    double *E = malloc((n + m) * sizeof(double)), *bits = malloc((n + m) * sizeof(double)),
           *S = malloc((n + m) * sizeof(double));
    CHECK_OK(e->energy(e, in, n, Ef));
    CHECK_OK(e->energy(e, out, m, Ef + n));
    for (size_t i = 0; i < n + m; i++) E[i] = Ef[i];
    CHECK_OK(ebm_complexity_bits(in, n, side, side, 1, -1, 1, bits));
    CHECK_OK(ebm_complexity_bits(out, m, side, side, 1, -1, 1, bits + n));
    ebm_complexity_score(E, bits, n + m, 1.0, S);
    double auroc_e, auroc_s, bin = 0, bout = 0;
    CHECK_OK(ebm_metric_auroc(E + n, m, E, n, &auroc_e));
    CHECK_OK(ebm_metric_auroc(S + n, m, S, n, &auroc_s));
    for (size_t i = 0; i < n; i++) bin += bits[i] / (double)n;
    for (size_t i = 0; i < m; i++) bout += bits[n + i] / (double)m;
    printf("  complexity: mean PNG bits, noise %.0f, flat %.0f; AUROC of the energy %.3f, corrected %.3f\n", bin, bout,
           auroc_e, auroc_s);
    CHECK(auroc_e < 0.05);
    CHECK(auroc_s > 0.95);
    CHECK(bout < 0.25 * bin);
    /* a PNG of a flat image is small but not empty; of noise about a byte a pixel */
    CHECK(bits[n] > 8 * 40 && bits[n] < 8 * 250);
    CHECK(bin > 8 * 0.6 * (double)d && bin < 8 * 1.3 * (double)d);
    CHECK_FAILS(ebm_complexity_bits(in, 1, side, side, 1, 1, 1, bits), EBM_EINVAL);
    CHECK_FAILS(ebm_complexity_bits(in, 1, side, side, 5, -1, 1, bits), EBM_EINVAL);
    ebm_energy_free(e);
    free(in);
    free(out);
    free(mu);
    free(prec);
    free(Ef);
    free(E);
    free(bits);
    free(S);
}

int main(void) {
    test_gauss_start();
    test_lcd_gaussian_ema();
    test_complexity();
    return check_summary("test_jempp");
}
