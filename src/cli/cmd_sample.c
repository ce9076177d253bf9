/* `ebm sample`: runs n block-Gibbs chains of an RBM from noise or from data for a number of sweeps at a
 * temperature and writes the final states as a PNG grid, an NPY array and/or a CSV file.  Settings not
 * given on the command line come from the model's metadata (ebm.sample.*), so a model samples the way it
 * was meant to; the settings used are printed. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const sample_about =
    "Draw samples from a model by block Gibbs sampling: --n chains start from noise (each visible unit\n"
    "on with probability --noise-p) or from random rows of --data, then run --steps sweeps at\n"
    "--temperature.  Pictures show p(v | h) of the last sweep (mean field) unless --binary is given.\n"
    "Defaults for --steps, --temperature and --init come from the model file (ebm.sample.*).";

typedef struct {
    ebm_gibbs *g;
    float T;
    ebm_rng *rng;
} rbm_sweeps;

static ebm_status rbm_sweep(void *ctx, size_t sweeps) {
    rbm_sweeps *r = ctx;
    return ebm_gibbs_run(r->g, sweeps, r->T, r->rng);
}

int cli_rbm_sample(int argc, char **argv, bool quiet) {
    const char *cmd = "sample";
    cli_sample_out out = CLI_SAMPLE_OUT_INIT;
    size_t n = 100, steps = 1000;
    float temperature = 1.0f, noise_p = 0.5f;
    uint64_t seed = 1;
    int init = 0; /* noise|data */
    const char *data_spec = NULL;
    bool binary = false, steps_seen = false, t_seen = false, init_seen = false;
    cli_data_args da = {"auto", "none", 0.5f, 0, 1, false, false, false};
    const cli_opt opts[] = {
        {"n", OPT_SIZE, &n, "N", "number of chains (samples)", 1, 1e7, 0, 0, NULL, NULL},
        {"steps", OPT_SIZE, &steps, "S", "Gibbs sweeps per chain", 0, 1e9, 0, 0, NULL, &steps_seen},
        {"temperature", OPT_FLOAT, &temperature, "T", "sampling temperature", 0, 1e6, 1, 0, NULL, &t_seen},
        {"init", OPT_CHOICE, &init, NULL, "start chains from noise or from data rows", 0, 0, 0, 0, "noise|data", &init_seen},
        {"noise-p", OPT_FLOAT, &noise_p, "P", "probability of an on unit in the noise start", 0, 1, 0, 0, NULL, NULL},
        {"data", OPT_STR, &data_spec, "SPEC", "data for --init data (default: the model's training data)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"seed", OPT_U64, &seed, "S", "random seed", 0, 1.8446744073709552e19, 0, 0, NULL, NULL},
        CLI_SAMPLE_OUT_OPTIONS(out),
        {"binary", OPT_FLAG, &binary, NULL, "output the binary states instead of p(v | h)", 0, 0, 0, 0, NULL, NULL},
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm sample MODEL [--png PATH] [--npy PATH] [--csv PATH] [options]",
                             sample_about, &path);
    if (rc >= 0) return rc;
    if ((rc = cli_sample_out_check(cmd, &out, false)) >= 0) return rc;

    ebm_rbm *m = cli_load_rbm(cmd, path, "sampling");
    if (!m) return 1;
    ebm_status s;
    rc = 1;
    ebm_gibbs *g = NULL;
    ebm_dataset *d = NULL;
    ebm_mat *outm = NULL;
    size_t h = 0, w = 0;
    if (out.png && !cli_image_shape(cmd, m->n_vis, m->height, m->width, out.shape, &h, &w)) goto done;
    if (!steps_seen) cli_meta_size(m->meta, "ebm.sample.steps", &steps);
    if (!t_seen) cli_meta_float(m->meta, "ebm.sample.temperature", &temperature);
    if (!(temperature > 0)) temperature = 1.0f;
    if (!init_seen) {
        const char *mi = ebm_meta_get(m->meta, "ebm.sample.init");
        if (mi && strcmp(mi, "data") == 0) init = 1;
    }
    ebm_rng rng;
    ebm_rng_seed(&rng, seed, 0);
    s = ebm_gibbs_new(m, n, &g);
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    if (init == 1) {
        const char *spec = data_spec ? data_spec : ebm_meta_get(m->meta, "ebm.data.spec");
        if (!spec) {
            rc = cli_error(cmd, "--init data needs --data (the model does not record its training data)");
            goto done;
        }
        const char *v;
        if ((v = ebm_meta_get(m->meta, "ebm.data.scale"))) da.scale = v;
        ebm_data_opts dopts;
        if (!cli_data_opts(cmd, &da, &dopts)) goto done;
        d = cli_load_data(cmd, spec, &dopts, quiet);
        if (!d) goto done;
        s = ebm_gibbs_init_data(g, d->x, &rng);
    } else {
        s = ebm_gibbs_init_noise(g, noise_p, &rng);
    }
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    cli_progress prog;
    cli_progress_init(&prog, quiet);
    if (!quiet)
        fprintf(stderr, "sampling %zu chains x %zu sweeps at T = %g from %s (RBM %zu x %zu)\n", n, steps,
                (double)temperature, init ? "data" : "noise", m->n_vis, m->n_hid);
    cli_install_sigint();
    rbm_sweeps rs = {g, temperature, &rng};
    if ((rc = cli_run_sweeps(cmd, &prog, steps, rbm_sweep, &rs)) >= 0) goto done;
    rc = 1;
    const float *src = binary || steps == 0 ? ebm_gibbs_visible(g) : ebm_gibbs_visible_mean(g);
    s = ebm_mat_new(n, m->n_vis, &outm);
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    memcpy(outm->data, src, n * m->n_vis * sizeof(float));
    if (!cli_sample_out_write(cmd, quiet, &out, outm->data, n, m->n_vis, false, h, w)) goto done;
    rc = 0;
done:
    ebm_mat_free(outm);
    ebm_dataset_free(d);
    ebm_gibbs_free(g);
    ebm_rbm_free(m);
    return rc;
}
