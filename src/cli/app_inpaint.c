/* `ebm inpaint`: fill in the hidden part of images by sampling an energy network's conditional
 * distribution, the visible pixels clamped to the data (the sampler's clamp mask), chains started from noise. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char *const inpaint_about =
    "Fill in part of each image: the pixels of --mask (top, bottom, left or right half, or each pixel with\n"
    "probability P for random:P) are hidden, started from noise and sampled with the rest clamped to the\n"
    "data, so they follow the model's conditional distribution.  The picture has three rows: the\n"
    "originals, the masked inputs (hidden pixels grey) and the completions; the mean squared error of the\n"
    "hidden pixels is printed.  Sampler defaults come from the model.";

int cmd_inpaint(int argc, char **argv, bool quiet) {
    const char *cmd = "inpaint", *data_spec = NULL, *png = NULL, *mask = "bottom", *npy = NULL, *path;
    size_t n = 8, offset = 0;
    cli_samp_args sa = CLI_SAMP_ARGS_INIT;
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "images to complete (default: the model's training data)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"mask", OPT_STR, &mask, "top|bottom|left|right|random:P", "the region to fill in", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"n", OPT_SIZE, &n, "N", "number of images", 1, 10000, 0, 0, NULL, NULL},
        {"offset", OPT_SIZE, &offset, "I", "first row of the data to use", 0, 1e12, 0, 0, NULL, NULL},
        CLI_SAMPLER_OPTIONS(sa),
        {"png", OPT_STR, &png, "PATH", "picture: originals, masked, completed", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"npy", OPT_STR, &npy, "PATH", "the completions as an (n, dim) float32 NPY array", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        OPT_END,
    };
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm inpaint MODEL --png PATH [--data SPEC] [--mask bottom] [options]",
                             inpaint_about, &path);
    if (rc < 0 && !png && !npy) rc = cli_error(cmd, "nothing to write: give --png and/or --npy");
    if (rc < 0 && ((png && !cli_check_writable(cmd, "--png", png)) || (npy && !cli_check_writable(cmd, "--npy", npy))))
        rc = 1;
    cli_net_model nm;
    const char *needs = "inpainting needs an energy network (ebm train ebm) or a composition of them (ebm compose)";
    if ((rc = cli_net_open(rc, cmd, path, needs, &nm, &sa)) >= 0) return rc;
    rc = 1;
    ebm_dataset *d = NULL;
    float *x = NULL; /* x (n, dim), then the picture (3 n, dim), then hide and clamp (dim bytes each) */
    size_t h = nm.ih, w = nm.iw, dim = nm.dim, hidden;
    if (!h) {
        cli_error(cmd, "the model's input (%zux%zux%zu) is not a grey image", nm.c, nm.h, nm.w);
        goto done;
    }
    if (!(d = cli_net_load_slice(cmd, data_spec, &nm, offset, &n, quiet))) goto done;
    if (!(x = cli_net_alloc(cmd, 4 * n * dim * sizeof(float) + 2 * dim))) goto done;
    float *show = x + n * dim;
    uint8_t *hide = (uint8_t *)(show + 3 * n * dim), *clamp = hide + dim;
    if (ebm_inpaint_mask(mask, h, w, sa.seed, hide, &hidden)) {
        rc = 2;
        cli_error(cmd, "--%s", ebm_last_error());
        goto done;
    }
    const float *x0 = d->x->data + offset * dim;
    cli_net_noise_start(x, n, dim, &sa);
    for (size_t j = 0; j < dim; j++) clamp[j] = !hide[j];
    for (size_t i = 0; i < n * dim; i++) {
        if (!hide[i % dim]) x[i] = x0[i];
        show[i] = x0[i];
        show[n * dim + i] = hide[i % dim] ? (nm.pm1 ? 0.0f : 0.5f) : x0[i];
    }
    nm.mc.clamp = clamp;
    if (!quiet)
        fprintf(stderr, "inpainting %zu images (%zu of %zu pixels hidden, mask %s) by %zu %s steps\n", n, hidden, dim, mask,
                nm.mc.steps, ebm_mcmc_name(nm.mc.kind));
    if (!cli_net_run_sampler(cmd, nm.e, x, n, &nm.mc, quiet, "inpainting")) goto done;
    memcpy(show + 2 * n * dim, x, n * dim * sizeof(float));
    printf("hidden-pixel mean squared error %.5f (%zu images x %zu pixels, %s scale)\n",
           ebm_mse(x, x0, n, dim, hide), n, hidden, nm.pm1 ? "[-1, 1]" : "data");
    if (png && !cli_write_samples(cmd, quiet, show, 3 * n, dim, nm.pm1, png, NULL, NULL, h, w, n, 2)) goto done;
    if (npy && !cli_write_samples(cmd, quiet, x, n, dim, nm.pm1, NULL, npy, NULL, h, w, 0, 2)) goto done;
    rc = 0;
done:
    free(x);
    ebm_dataset_free(d);
    cli_net_model_free(&nm);
    return rc;
}
