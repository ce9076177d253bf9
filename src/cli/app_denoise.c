/* `ebm denoise` with an energy network: the posterior p(x | y) ∝ exp(-E(x)) N(y; x, sigma^2 I) of clean
 * images x given noisy ones y (ebm_energy_denoise), sampled from y by Langevin dynamics at a low temperature
 * (close to the most probable image). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char *const denoise_about =
    "Denoise images with an energy network: Gaussian noise of sd --sigma is added to --n data images and\n"
    "the posterior p(x | y) ∝ exp(-E(x)) N(y; x, sigma^2) is sampled from the noisy images at a low\n"
    "--temperature (default 0.1, close to the most probable image) by ULA with step 0.05 sigma^2 for 200\n"
    "steps unless told otherwise.  The picture has three rows: clean, noisy, denoised; the mean squared\n"
    "errors before and after are printed.";

int cmd_denoise_net(int argc, char **argv, bool quiet) {
    const char *cmd = "denoise", *data_spec = NULL, *png = NULL, *path;
    size_t n = 8, offset = 0;
    float sigma = 0.3f;
    cli_samp_args sa = CLI_SAMP_ARGS_INIT;
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
    if ((rc = cli_net_open(rc, cmd, path, NULL, &nm, &sa)) >= 0) return rc;
    rc = 1;
    ebm_dataset *d = NULL;
    ebm_energy *pe = NULL;
    float *show = NULL;
    ebm_status s = EBM_OK;
    if (png && !nm.ih) {
        cli_error(cmd, "--png: the model's input (%zux%zux%zu) is not a grey image", nm.c, nm.h, nm.w);
        goto done;
    }
    if (!(d = cli_net_load_slice(cmd, data_spec, &nm, offset, &n, quiet))) goto done;
    size_t nd = n * nm.dim;
    const float *x0 = d->x->data + offset * nm.dim;
    /* show (3 n, dim): clean, noisy (y), denoised (x) */
    if (!(show = cli_net_alloc(cmd, 3 * nd * sizeof(float)))) goto done;
    float *y = show + nd, *x = show + 2 * nd;
    ebm_noise z;
    ebm_noise_default(&z);
    z.kind = EBM_NOISE_GAUSSIAN;
    z.sd = sigma;
    ebm_noise_fill(&z, sa.seed ^ 0x64656e6f697365ull, y, n, nm.dim);
    for (size_t i = 0; i < nd; i++) {
        show[i] = x0[i];
        y[i] += x0[i];
        x[i] = y[i];
    }
    if ((s = ebm_energy_denoise(nm.e, y, n, sigma, &pe))) goto done;
    if (!quiet)
        fprintf(stderr, "denoising %zu images (noise sd %g) by %zu %s steps at T = %g\n", n, (double)sigma, nm.mc.steps,
                ebm_mcmc_name(nm.mc.kind), (double)nm.mc.temperature);
    if (!cli_net_run_sampler(cmd, pe, x, n, &nm.mc, quiet, "denoising")) goto done;
    printf("mean squared error: noisy %.5f, denoised %.5f (%zu images)\n", ebm_mse(y, x0, n, nm.dim, NULL),
           ebm_mse(x, x0, n, nm.dim, NULL), n);
    if (png && !cli_write_samples(cmd, quiet, show, 3 * n, nm.dim, nm.pm1, png, NULL, NULL, nm.ih, nm.iw, n, 2)) goto done;
    rc = 0;
done:
    if (s) rc = cli_lib_error(cmd, s);
    ebm_energy_free(pe);
    free(show);
    ebm_dataset_free(d);
    cli_net_model_free(&nm);
    return rc;
}
