/* `ebm denoise` with an energy network: the posterior p(x | y) ∝ exp(-E(x)) N(y; x, sigma^2 I) of clean
 * images x given noisy ones y, sampled from y by Langevin dynamics at a low temperature (close to the most
 * probable image).  The posterior is itself an energy: the prior's plus |x - y|^2 / (2 sigma^2). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    ebm_energy *prior;
    const float *y;   /* (n, dim) the noisy observations, row i for chain i */
    float inv_s2;     /* 1 / sigma^2 */
} posterior;

static ebm_status post_eval(ebm_energy *e, const float *x, size_t n, float *E, float *dx) {
    posterior *p = e->impl;
    size_t d = e->dim;
    ebm_status s = dx ? p->prior->grad_x(p->prior, x, n, E, dx) : p->prior->energy(p->prior, x, n, E);
    if (s) return s;
    for (size_t i = 0; i < n; i++) {
        double acc = 0;
        for (size_t j = 0; j < d; j++) {
            float r = x[i * d + j] - p->y[i * d + j];
            acc += (double)r * r;
            if (dx) dx[i * d + j] += p->inv_s2 * r;
        }
        if (E) E[i] += (float)(0.5 * p->inv_s2 * acc);
    }
    return EBM_OK;
}
static ebm_status post_energy(ebm_energy *e, const float *x, size_t n, float *E) { return post_eval(e, x, n, E, NULL); }
static ebm_status post_grad(ebm_energy *e, const float *x, size_t n, float *E, float *dx) { return post_eval(e, x, n, E, dx); }

static const char *const denoise_about =
    "Denoise images with an energy network: Gaussian noise of sd --sigma is added to --n data images and\n"
    "the posterior p(x | y) ∝ exp(-E(x)) N(y; x, sigma^2) is sampled from the noisy images at a low\n"
    "--temperature (default 0.1, close to the most probable image) by ULA with step 0.05 sigma^2 for 200\n"
    "steps unless told otherwise.  The picture has three rows: clean, noisy, denoised; the mean squared\n"
    "errors before and after are printed.";

int cmd_denoise_net(int argc, char **argv, bool quiet) {
    const char *cmd = "denoise", *data_spec = NULL, *png = NULL, *path;
    size_t n = 8, offset = 0, h = 0, w = 0;
    float sigma = 0.3f;
    cli_samp_args sa;
    cli_samp_defaults(&sa);
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "clean images (default: the model's training data)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"sigma", OPT_FLOAT, &sigma, "SD", "noise sd (in the model's scale, [-1, 1] for images)", 0, 100, 1, 0, NULL, NULL},
        {"n", OPT_SIZE, &n, "N", "number of images", 1, 10000, 0, 0, NULL, NULL},
        {"offset", OPT_SIZE, &offset, "I", "first row of the data to use", 0, 1e12, 0, 0, NULL, NULL},
        CLI_SAMPLER_OPTIONS(sa),
        {"png", OPT_STR, &png, "PATH", "picture: clean, noisy, denoised", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        OPT_END,
    };
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm denoise MODEL --png PATH [--data SPEC] [--sigma 0.3] [options]",
                             denoise_about, &path);
    if (rc < 0 && png && !cli_check_writable(cmd, "--png", png)) rc = 1;
    /* the data term's curvature is 1 / sigma^2: a Langevin step must stay well below sigma^2 to be stable,
     * so the posterior gets its own defaults rather than the model's sampling settings */
    if (!sa.sampler_seen) sa.sampler = "ula";
    if (!sa.step_seen) sa.step_size = 0.05f * sigma * sigma;
    if (!sa.steps_seen) sa.steps = 200;
    if (!sa.t_seen) sa.temperature = 0.1f;
    sa.sampler_seen = sa.step_seen = sa.steps_seen = true;
    cli_net_model nm;
    ebm_mcmc_opts o;
    if (rc < 0) rc = cli_net_open(cmd, path, NULL, &nm, &sa, &o);
    if (rc >= 0) return rc;
    rc = 1;
    ebm_dataset *d = NULL;
    float *show = NULL;
    if (png && !cli_net_image(&nm, &h, &w)) {
        cli_error(cmd, "--png: the model's input (%zux%zux%zu) is not a grey image", nm.c, nm.h, nm.w);
        goto done;
    }
    if (!(d = cli_net_load_slice(cmd, data_spec, &nm, offset, &n, quiet))) goto done;
    size_t nd = n * nm.dim;
    const float *x0 = d->x->data + offset * nm.dim;
    /* show (3 n, dim): clean, noisy (y), denoised (x) */
    if (!(show = malloc(3 * nd * sizeof(float)))) {
        cli_error(cmd, "out of memory");
        goto done;
    }
    float *y = show + nd, *x = show + 2 * nd;
    ebm_noise z;
    ebm_noise_default(&z);
    z.kind = EBM_NOISE_GAUSSIAN;
    z.sd = sigma;
    ebm_noise_fill(&z, sa.seed ^ 0x64656e6f697365ull, y, n, nm.dim);
    double before = 0, after = 0;
    for (size_t i = 0; i < nd; i++) {
        show[i] = x0[i];
        y[i] += x0[i];
        x[i] = y[i];
        before += ((double)y[i] - x0[i]) * ((double)y[i] - x0[i]);
    }
    posterior post = {nm.e, y, 1.0f / (sigma * sigma)};
    ebm_energy pe = {"posterior", nm.dim, 0, NULL, post_energy, post_grad, NULL, NULL, &post};
    if (!quiet)
        fprintf(stderr, "denoising %zu images (noise sd %g) by %zu %s steps at T = %g\n", n, (double)sigma, o.steps,
                ebm_mcmc_name(o.kind), (double)o.temperature);
    if (!cli_net_run_sampler(cmd, &pe, x, n, &o, quiet, "denoising")) goto done;
    for (size_t i = 0; i < nd; i++) after += ((double)x[i] - x0[i]) * ((double)x[i] - x0[i]);
    printf("mean squared error: noisy %.5f, denoised %.5f (%zu images)\n", before / (double)nd, after / (double)nd, n);
    if (png && !cli_write_samples(cmd, quiet, show, 3 * n, nm.dim, nm.pm1, png, NULL, NULL, h, w, n, 2)) goto done;
    rc = 0;
done:
    free(show);
    ebm_dataset_free(d);
    cli_net_model_free(&nm);
    return rc;
}
