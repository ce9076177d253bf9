/* `ebm landscape`: the density exp(-E) of a 2-D energy network on a grid, with its training data and samples
 * drawn from noise by the model's sampler on top. */
#include "cli.h"

#include <stdlib.h>

static const char *const landscape_about =
    "Picture of a 2-D model's density exp(-E(x, y)) on a grid over [--lo, --hi]^2 (default: the range the\n"
    "chains started from in training), with its training data (white) and --samples samples drawn from\n"
    "noise by the model's sampler (cyan) on top.";

int cmd_landscape(int argc, char **argv, bool quiet) {
    cli_samp_args sa = CLI_SAMP_ARGS_INIT;
    const char *cmd = "landscape", *png = NULL, *data_spec = NULL, *path;
    size_t n_samples = 500, n_data = 2000;
    const cli_opt opts[] = {
        {"png", OPT_STR, &png, "PATH", "where to write the picture", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"samples", OPT_SIZE, &n_samples, "N", "samples drawn (0 = none)", 0, 1e7, 0, 0, NULL, NULL},
        {"data", OPT_STR, &data_spec, "SPEC", "data to draw (default: the model's training data)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"data-points", OPT_SIZE, &n_data, "N", "data points drawn (0 = none)", 0, 1e7, 0, 0, NULL, NULL},
        CLI_SAMPLER_OPTIONS(sa),
        OPT_END,
    };
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm landscape MODEL --png PATH [options]", landscape_about, &path);
    if (rc < 0 && !png) rc = cli_error(cmd, "--png is required");
    if (rc < 0 && !cli_check_writable(cmd, "--png", png)) rc = 1;
    cli_net_model nm;
    if ((rc = cli_net_open(rc, cmd, path, "a landscape needs a 2-D energy network", &nm, &sa)) >= 0) return rc;
    rc = 1;
    ebm_dataset *d = NULL;
    float *x = NULL;
    if (nm.dim != 2) {
        cli_error(cmd, "the model's input has %zu dimensions; a landscape needs 2", nm.dim);
        goto done;
    }
    if (!data_spec) data_spec = ebm_meta_get(nm.meta, "ebm.data.spec");
    if (data_spec && n_data) {
        if (!(d = cli_net_load_rows(cmd, data_spec, &nm, 0, quiet))) goto done;
        if (n_data > d->x->rows) n_data = d->x->rows;
    }
    if (n_samples && !(x = cli_net_alloc(cmd, n_samples * 2 * sizeof(float)))) goto done;
    if (n_samples) cli_net_noise_start(x, n_samples, 2, &sa);
    if (n_samples && !cli_net_run_sampler(cmd, nm.e, x, n_samples, &nm.mc, quiet, "sampling")) goto done;
    ebm_status s =
        ebm_energy_density_png(nm.e, png, sa.init_lo, sa.init_hi, d ? d->x->data : NULL, d ? n_data : 0, x, n_samples);
    if (!s && !quiet) fprintf(stderr, "wrote %s\n", png);
    rc = s ? cli_lib_error(cmd, s) : 0;
done:
    free(x);
    ebm_dataset_free(d);
    cli_net_model_free(&nm);
    return rc;
}
