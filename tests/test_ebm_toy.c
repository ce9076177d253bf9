/* End to end on a 2-D toy density: an MLP energy trained by Langevin contrastive divergence with a replay
 * buffer on toy:8gaussians for a bounded number of iterations, then sampled from uniform noise by ULA,
 * covers all eight modes: each mode gets at least 5% of 1,000 samples (the ideal is 12.5%) and at least
 * 80% of the samples lie within 1.0 of a mode centre (the modes have sd 0.35, so a ring-shaped or
 * diffuse model fails).  Same seed, same result: the whole run is repeated and compared bit for bit. */
#include "check.h"

static void train_and_sample(float *samples, size_t n, float *params_out, size_t *np_out) {
    ebm_dataset *d;
    REQUIRE(ebm_toy_generate("8gaussians", 5000, 1, &d) == EBM_OK);
    ebm_net *net;
    REQUIRE(ebm_net_new("linear:64,silu,linear:64,silu,linear:1", 2, 1, 1, &net) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, 3, 0);
    REQUIRE(ebm_net_init(net, &r) == EBM_OK);
    ebm_energy *e;
    REQUIRE(ebm_net_energy(net, EBM_NET_HEAD_SCALAR, &e) == EBM_OK);
    ebm_lcd_opts o;
    ebm_lcd_opts_default(&o);
    o.noise.lo = -4.0f;
    o.noise.hi = 4.0f;
    o.mcmc.kind = EBM_MCMC_ULA;
    o.mcmc.step_size = 0.05f;
    o.mcmc.steps = 20;
    o.optim.lr = 0.01f;
    o.iters = 1500;
    o.seed = 4;
    CHECK_OK(ebm_lcd_train(e, d->x, &o, NULL));
    ebm_noise z;
    ebm_noise_default(&z);
    z.lo = -4.0f;
    z.hi = 4.0f;
    CHECK_OK(ebm_noise_fill(&z, 77, samples, n, 2));
    ebm_mcmc_opts m;
    ebm_mcmc_opts_default(&m);
    m.kind = EBM_MCMC_ULA;
    m.step_size = 0.05f;
    m.steps = 200;
    m.seed = 5;
    CHECK_OK(ebm_mcmc_run(e, samples, n, &m, NULL));
    size_t np;
    float *p = ebm_net_params(net, &np);
    memcpy(params_out, p, np * sizeof(float));
    *np_out = np;
    ebm_energy_free(e);
    ebm_net_free(net);
    ebm_dataset_free(d);
}

int main(void) {
    const size_t n = 1000;
    float *x = malloc(n * 2 * sizeof(float)), *y = malloc(n * 2 * sizeof(float));
    float *pa = malloc(10000 * sizeof(float)), *pb = malloc(10000 * sizeof(float));
    size_t na, nb;
    train_and_sample(x, n, pa, &na);
    size_t count[8] = {0}, near = 0;
    const double c = 4.0 / sqrt(2.0), pi = 3.14159265358979323846;
    for (size_t i = 0; i < n; i++) {
        double best = INFINITY;
        int k = 0;
        for (int q = 0; q < 8; q++) {
            double dx = x[2 * i] - c * cos(2 * pi * q / 8), dy = x[2 * i + 1] - c * sin(2 * pi * q / 8);
            double dd = dx * dx + dy * dy;
            if (dd < best) {
                best = dd;
                k = q;
            }
        }
        count[k]++;
        near += sqrt(best) < 1.0;
    }
    printf("  samples per mode:");
    for (int q = 0; q < 8; q++) printf(" %.3f", (double)count[q] / (double)n);
    printf("; within 1.0 of a centre: %.3f\n", (double)near / (double)n);
    for (int q = 0; q < 8; q++) CHECK_MSG(count[q] >= n / 20, "mode %d has %zu of %zu samples", q, count[q], n);
    CHECK_MSG(near >= n * 8 / 10, "only %zu of %zu samples near a mode", near, n);
#if !defined(__SANITIZE_ADDRESS__) /* the sanitizer build, 5-10x slower, trains once */
    /* reproducible bit for bit */
    train_and_sample(y, n, pb, &nb);
    CHECK(na == nb && memcmp(pa, pb, na * sizeof(float)) == 0);
    CHECK(memcmp(x, y, n * 2 * sizeof(float)) == 0);
#else
    (void)nb;
#endif
    free(x);
    free(y);
    free(pa);
    free(pb);
    return check_summary("test_ebm_toy");
}
