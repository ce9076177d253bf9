/* `ebm inpaint`: fill in the hidden part of images by sampling an energy network's conditional
 * distribution, the visible pixels clamped to the data (the sampler's clamp mask), chains started from noise. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* The hidden region of an inpainting mask (1 = to be filled in) for an h x w image. */
static bool make_mask(const char *cmd, const char *mask, size_t h, size_t w, uint64_t seed, uint8_t *hide) {
    bool random = strncmp(mask, "random:", 7) == 0;
    char *end = NULL;
    double p = random ? strtod(mask + 7, &end) : 0;
    if (random && (*end || !(p > 0 && p < 1)))
        return cli_error(cmd, "--mask random:P needs 0 < P < 1, got '%s'", mask + 7), false;
    for (size_t r = 0; r < h; r++)
        for (size_t c = 0; c < w; c++) {
            float u = 0;
            if (random) ebm_rng_fill_uniform(seed, 0x6d61736bull, r * w + c, &u, 1);
            if (random) hide[r * w + c] = u < p;
            else if (strcmp(mask, "top") == 0) hide[r * w + c] = r < h / 2;
            else if (strcmp(mask, "bottom") == 0) hide[r * w + c] = r >= h / 2;
            else if (strcmp(mask, "left") == 0) hide[r * w + c] = c < w / 2;
            else if (strcmp(mask, "right") == 0) hide[r * w + c] = c >= w / 2;
            else return cli_error(cmd, "--mask: '%s' is not one of top|bottom|left|right|random:P", mask), false;
        }
    return true;
}

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
    const char *needs = "inpainting needs an energy network (ebm train ebm)";
    if ((rc = cli_net_open(rc, cmd, path, needs, &nm, &sa)) >= 0) return rc;
    ebm_mcmc_opts o = nm.mc;
    rc = 1;
    ebm_dataset *d = NULL;
    float *x = NULL, *show = NULL;
    uint8_t *hide = NULL, *clamp = NULL;
    size_t h = nm.ih, w = nm.iw;
    if (!h) {
        cli_error(cmd, "the model's input (%zux%zux%zu) is not a grey image", nm.c, nm.h, nm.w);
        goto done;
    }
    if (!(d = cli_net_load_slice(cmd, data_spec, &nm, offset, &n, quiet))) goto done;
    size_t dim = nm.dim, hidden = 0;
    x = malloc(n * dim * sizeof(float));
    show = malloc(3 * n * dim * sizeof(float));
    hide = malloc(dim);
    clamp = malloc(dim);
    if (!x || !show || !hide || !clamp) {
        cli_error(cmd, "out of memory");
        goto done;
    }
    if (!make_mask(cmd, mask, h, w, sa.seed, hide)) {
        rc = 2;
        goto done;
    }
    const float *x0 = d->x->data + offset * dim;
    cli_net_noise_start(x, n, dim, &sa);
    for (size_t j = 0; j < dim; j++) {
        hidden += hide[j];
        clamp[j] = !hide[j];
    }
    for (size_t i = 0; i < n * dim; i++) {
        if (!hide[i % dim]) x[i] = x0[i];
        show[i] = x0[i];
        show[n * dim + i] = hide[i % dim] ? (nm.pm1 ? 0.0f : 0.5f) : x0[i];
    }
    o.clamp = clamp;
    if (!quiet)
        fprintf(stderr, "inpainting %zu images (%zu of %zu pixels hidden, mask %s) by %zu %s steps\n", n, hidden, dim, mask,
                o.steps, ebm_mcmc_name(o.kind));
    if (!cli_net_run_sampler(cmd, nm.e, x, n, &o, quiet, "inpainting")) goto done;
    double se = 0;
    for (size_t i = 0; i < n * dim; i++) {
        show[2 * n * dim + i] = x[i];
        if (hide[i % dim]) se += ((double)x[i] - x0[i]) * ((double)x[i] - x0[i]);
    }
    printf("hidden-pixel mean squared error %.5f (%zu images x %zu pixels, %s scale)\n",
           se / (double)(n * (hidden ? hidden : 1)), n, hidden, nm.pm1 ? "[-1, 1]" : "data");
    if (png && !cli_write_samples(cmd, quiet, show, 3 * n, dim, nm.pm1, png, NULL, NULL, h, w, n, 2)) goto done;
    if (npy && !cli_write_samples(cmd, quiet, x, n, dim, nm.pm1, NULL, npy, NULL, h, w, 0, 2)) goto done;
    rc = 0;
done:
    free(x);
    free(show);
    free(hide);
    free(clamp);
    ebm_dataset_free(d);
    cli_net_model_free(&nm);
    return rc;
}
