/* The command line for deep belief nets and their features: `ebm train dbn` (greedy layer-wise CD / PCD with a
 * progress bar per layer), the DBN branches of `ebm sample`, `ebm eval` and `ebm info`, `ebm encode` (the up
 * pass of data to any level of an RBM or DBN, written as NPY or CSV), and `ebm eval --probe` (a multinomial
 * logistic-regression probe fitted on a level's features of labelled training data, scored on test data, next
 * to the same probe on the raw pixels).  An RBM file is treated as a one-layer DBN, so every command here
 * takes both; data is preprocessed the way the model saw it in training (its ebm.data.* metadata). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_LEVELS 65

/* An RBM or DBN file as a DBN (an RBM is one layer); prints the error and returns NULL on failure. */
static ebm_dbn *load_stack(const char *cmd, const char *path) {
    char kind[32];
    if (!cli_model_kind(path, kind, sizeof kind)) kind[0] = '\0';
    ebm_dbn *d = NULL;
    ebm_status s;
    if (strcmp(kind, "dbn") == 0) {
        if ((s = ebm_dbn_load(path, &d))) cli_lib_error(cmd, s);
        return d;
    }
    if (kind[0] && strcmp(kind, "rbm") != 0) {
        cli_error(cmd, "%s holds a '%s' model; this needs an rbm or a dbn", path, kind);
        return NULL;
    }
    ebm_rbm *m = cli_load_rbm(cmd, path, "this");
    if (!m) return NULL;
    const ebm_rbm *one[1] = {m};
    s = ebm_dbn_from_rbms(one, 1, &d);
    if (!s) s = ebm_meta_copy(d->meta, m->meta);
    if (s) {
        cli_lib_error(cmd, s);
        ebm_dbn_free(d);
        d = NULL;
    }
    ebm_rbm_free(m);
    return d;
}

static void describe(const ebm_dbn *d, char *buf, size_t cap) {
    size_t used = (size_t)snprintf(buf, cap, "%s ", d->n_layers == 1 ? "RBM" : "DBN");
    for (size_t l = 0; l <= d->n_layers && used < cap; l++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%zu", l ? "-" : "", ebm_dbn_units(d, l));
}

/* Loads spec preprocessed as the model's training data unless da says otherwise (limit rows, 0 = all), with
 * d's input width and values in [0, 1]; NULL after printing an error. */
static ebm_dataset *load_for(const char *cmd, const ebm_dbn *d, const char *spec, cli_data_args *da, bool quiet) {
    return cli_load_like_model(cmd, spec, da, d->meta, ebm_dbn_units(d, 0), true, quiet);
}

/* "top" (n_layers), "all" (every level 1..n_layers, *all set; only where all is not NULL) or a level number
 * 0..n_layers; false after printing an error. */
static bool parse_level(const char *cmd, const char *arg, const ebm_dbn *d, size_t *level, bool *all) {
    if (all) *all = false;
    if (strcmp(arg, "top") == 0) {
        *level = d->n_layers;
        return true;
    }
    if (all && strcmp(arg, "all") == 0) {
        *all = true;
        *level = d->n_layers;
        return true;
    }
    char *end;
    unsigned long long v = strtoull(arg, &end, 10);
    if (end == arg || *end || v > d->n_layers)
        return cli_error(cmd, "--layer: '%s' is not top%s or a level from 0 (the data) to %zu", arg,
                         all ? ", all" : "", d->n_layers),
               false;
    *level = (size_t)v;
    return true;
}

/* ---- ebm train dbn ---- */

typedef struct {
    cli_progress prog;
    size_t layer, n_layers, epochs_done;
    ebm_rbm *rbm;
    ebm_mat mon;                /* view of the first monitor rows of the layer's input */
    double layer_t0;
    double final_recon[MAX_LEVELS], seconds[MAX_LEVELS];
    size_t monitor;
} dbn_ctx;

static int dbn_on_layer(size_t layer, ebm_rbm *rbm, const ebm_mat *input, void *user) {
    dbn_ctx *c = user;
    if (layer > 0) c->seconds[layer - 1] = cli_now() - c->layer_t0;
    c->layer = layer;
    c->rbm = rbm;
    c->epochs_done = 0;
    c->mon.rows = c->monitor < input->rows ? c->monitor : input->rows;
    c->mon.cols = input->cols;
    c->mon.data = input->data;
    c->layer_t0 = cli_now();
    cli_progress_line(&c->prog, "layer %zu/%zu: RBM %zu x %zu on %zu rows%s", layer + 1, c->n_layers, rbm->n_vis,
                      rbm->n_hid, input->rows, layer ? " of the layer below's p(h | v)" : "");
    return cli_interrupted() ? 1 : 0;
}

static int dbn_on_batch(const ebm_train_progress *p, void *user) {
    dbn_ctx *c = user;
    if (cli_interrupted()) return 1;
    char label[64], detail[128];
    snprintf(label, sizeof label, "layer %zu/%zu epoch %zu/%zu", c->layer + 1, c->n_layers, p->epoch, p->epochs);
    if (isnan(p->recon)) snprintf(detail, sizeof detail, "batch %zu/%zu", p->batch, p->batches);
    else snprintf(detail, sizeof detail, "batch %zu/%zu, train recon %.4f", p->batch, p->batches, p->recon);
    cli_progress_bar(&c->prog, label, (double)p->batch / (double)p->batches, detail);
    return 0;
}

static int dbn_on_epoch(const ebm_train_progress *p, void *user) {
    dbn_ctx *c = user;
    c->epochs_done = p->epoch;
    double recon = NAN;
    if (c->mon.rows && ebm_rbm_recon_error(c->rbm, c->mon.data, c->mon.rows, &recon)) recon = NAN;
    c->final_recon[c->layer] = recon;
    if (isnan(recon))
        cli_progress_line(&c->prog, "layer %zu/%zu epoch %zu/%zu  %.2f s", c->layer + 1, c->n_layers, p->epoch,
                          p->epochs, p->seconds);
    else
        cli_progress_line(&c->prog, "layer %zu/%zu epoch %zu/%zu  %.2f s  recon %.4f", c->layer + 1, c->n_layers,
                          p->epoch, p->epochs, p->seconds, recon);
    return cli_interrupted() ? 1 : 0;
}

/* sizes[1..] <- the comma-separated hidden layer sizes of text; *n = number of levels including sizes[0]. */
static bool parse_layers(const char *cmd, const char *text, size_t *sizes, size_t *n) {
    *n = 1;
    const char *p = text;
    while (*p) {
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || (*end && *end != ',') || v < 1 || v > (1u << 20) || *n >= MAX_LEVELS)
            return cli_error(cmd, "--layers: '%s' is not a list of 1 to %d hidden layer sizes (1..1048576) such as "
                             "500,500,2000", text, MAX_LEVELS - 1),
                   false;
        sizes[(*n)++] = (size_t)v;
        p = *end ? end + 1 : end;
        if (*end && !*p) return cli_error(cmd, "--layers: '%s' ends with a comma", text), false;
    }
    if (*n < 2) return cli_error(cmd, "--layers: give at least one hidden layer size"), false;
    return true;
}

static const char *const train_about =
    "Train a deep belief net greedily, layer by layer (Hinton & Salakhutdinov 2006): layer 1 is a Bernoulli\n"
    "RBM on the data, trained by CD-K or PCD-K exactly as `ebm train rbm` trains one; each further layer is an\n"
    "RBM trained the same way on the hidden probabilities p(h | v) of the layer below over all training rows.\n"
    "Each epoch prints the layer's reconstruction error on --monitor rows of its input.  Data values must lie\n"
    "in [0, 1]; the preprocessing is stored in the model so that sample, encode and eval repeat it.";

int cli_dbn_train(int argc, char **argv, bool quiet) {
    const char *cmd = "train dbn";
    const char *data_spec = NULL, *out = NULL, *layers = "500,500";
    size_t monitor = 200;
    cli_cd_args ca;
    cli_cd_args_init(&ca);
    cli_data_args da = {"auto", "none", 0.5f, 0, 1, false, false, false};
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "training data: fashion-mnist[:train|:test] or a .idx[.gz]/.npy/.csv path", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"out", OPT_STR, &out, "PATH", "where to save the DBN (.safetensors)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"layers", OPT_STR, &layers, "N1,N2,...", "hidden units of each layer, bottom first", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        CLI_CD_OPTIONS(ca),
        CLI_DATA_OPTIONS(da),
        {"monitor", OPT_SIZE, &monitor, "N", "rows of each layer's input for the per-epoch reconstruction error (0 = off)", 0, 1e9, 0, 0, NULL, NULL},
        OPT_END,
    };
    size_t npos;
    int started = cli_start(cmd, argc, argv, opts, "ebm train dbn --data SPEC --layers N1,N2,... --out PATH [options]",
                            train_about, NULL, 0, &npos);
    if (started >= 0) return started;
    size_t sizes[MAX_LEVELS], n_sizes;
    if (!parse_layers(cmd, layers, sizes, &n_sizes)) return 2;
    if (!data_spec) return cli_error(cmd, "--data is required (e.g. --data fashion-mnist)");
    if (!out) return cli_error(cmd, "--out is required (where to save the model)");
    if (!cli_cd_finish(cmd, &ca)) return 1;
    if (!cli_check_writable(cmd, "--out", out)) return 1;
    ebm_data_opts dopts;
    if (!cli_data_opts(cmd, &da, &dopts)) return 2;
    dopts.seed = ca.o.seed;
    ebm_dataset *d = cli_load_data(cmd, data_spec, &dopts, quiet);
    if (!d) return 1;
    int rc = 1;
    ebm_dbn *net = NULL;
    if (ebm_mat_check_range(d->x, 0.0f, 1.0f, data_spec)) {
        cli_error(cmd, "%s; a DBN needs values in [0, 1] (try --scale minmax or --scale 255)", ebm_last_error());
        goto done;
    }
    sizes[0] = d->x->cols;
    ebm_status s = ebm_dbn_new(sizes, n_sizes, &net);
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    net->height = net->layers[0]->height = d->height;
    net->width = net->layers[0]->width = d->width;
    dbn_ctx c;
    memset(&c, 0, sizeof c);
    cli_progress_init(&c.prog, quiet);
    c.n_layers = net->n_layers;
    c.monitor = monitor;
    for (size_t l = 0; l < MAX_LEVELS; l++) c.final_recon[l] = NAN;
    ebm_dbn_train_opts o;
    ebm_dbn_train_opts_default(&o);
    o.cd = ca.o;
    o.cd.on_batch = dbn_on_batch;
    o.cd.on_epoch = dbn_on_epoch;
    o.cd.user = &c;
    o.init_std = ca.init_std;
    o.on_layer = dbn_on_layer;
    o.user = &c;
    char desc[512];
    describe(net, desc, sizeof desc);
    if (!quiet)
        fprintf(stderr, "training %s greedily by %s-%zu: %zu epochs per layer, batch %zu, lr %g%s, %d threads\n", desc,
                ca.o.mode == EBM_PCD ? "pcd" : "cd", ca.o.k, ca.o.epochs, ca.o.batch, (double)ca.o.lr,
                ca.o.lr_final >= 0 ? " (linear decay)" : "", ebm_get_threads());
    cli_install_sigint();
    double t0 = cli_now();
    s = ebm_dbn_train(net, d->x, &o);
    double seconds = cli_now() - t0;
    c.seconds[c.layer] = cli_now() - c.layer_t0;
    if (s) {
        cli_progress_end(&c.prog);
        if (s == EBM_ECANCELED) {
            cli_error(cmd, "interrupted (%s); %s was not written", ebm_last_error(), out);
            rc = 130;
        } else {
            rc = cli_lib_error(cmd, s);
        }
        goto done;
    }
    s = cli_cd_meta(net->meta, "dbn", &ca.o, &da, data_spec, d, ca.init_std, seconds, ca.o.epochs, argc, argv);
    if (!s) s = ebm_meta_set(net->meta, "ebm.train.layer_input", "probabilities");
    for (size_t l = 0; !s && l < net->n_layers; l++) {
        char key[64];
        snprintf(key, sizeof key, "ebm.train.layer.%zu.seconds", l);
        s = ebm_meta_setf(net->meta, key, "%.2f", c.seconds[l]);
        snprintf(key, sizeof key, "ebm.train.layer.%zu.seed", l);
        if (!s) s = ebm_meta_setf(net->meta, key, "%llu", (unsigned long long)(ca.o.seed + l));
        snprintf(key, sizeof key, "ebm.train.layer.%zu.final_recon", l);
        if (!s && !isnan(c.final_recon[l])) s = ebm_meta_setf(net->meta, key, "%.6f", c.final_recon[l]);
    }
    if (!s) s = ebm_dbn_save(net, out);
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    if (!quiet) {
        char dur[32];
        cli_format_duration(seconds, dur, sizeof dur);
        fprintf(stderr, "saved %s (%s, %zu epochs per layer in %s)\n", out, desc, ca.o.epochs, dur);
    }
    rc = 0;
done:
    ebm_dbn_free(net);
    ebm_dataset_free(d);
    return rc;
}

/* ---- ebm sample MODEL.dbn ---- */

typedef struct {
    cli_progress prog;
    size_t steps;
} sample_ctx;

static int on_sample(double fraction, void *user) {
    sample_ctx *c = user;
    char detail[64];
    snprintf(detail, sizeof detail, "%.0f/%zu sweeps of the top RBM", fraction * (double)c->steps, c->steps);
    cli_progress_bar(&c->prog, "sampling", fraction, detail);
    return cli_interrupted() ? 1 : 0;
}

static const char *const sample_about =
    "Generate from a deep belief net: --n block-Gibbs chains run --steps sweeps at --temperature in the top\n"
    "RBM, started from noise (each unit of the level below the top on with probability --noise-p) or from the\n"
    "up pass of random rows of --data (--init data); the top RBM's p(v | h) then goes down the directed\n"
    "layers as probabilities, sigmoid(W h + b) level by level, to pixels in [0, 1].  Defaults for --steps,\n"
    "--temperature and --init come from the model file (ebm.sample.*).";

int cli_dbn_sample(int argc, char **argv, bool quiet) {
    const char *cmd = "sample";
    cli_sample_out dest = CLI_SAMPLE_OUT_INIT;
    size_t n = 100, limit = 0;
    int init = 0;
    const char *data_spec = NULL;
    bool steps_seen = false, t_seen = false, init_seen = false;
    uint64_t seed = 1;
    ebm_dbn_sample_opts so;
    ebm_dbn_sample_opts_default(&so);
    const cli_opt opts[] = {
        {"n", OPT_SIZE, &n, "N", "number of samples (chains in the top RBM)", 1, 1e7, 0, 0, NULL, NULL},
        {"steps", OPT_SIZE, &so.steps, "S", "Gibbs sweeps in the top RBM", 0, 1e9, 0, 0, NULL, &steps_seen},
        {"temperature", OPT_FLOAT, &so.T, "T", "temperature of the top RBM's Gibbs sampler", 0, 1e6, 1, 0, NULL, &t_seen},
        {"init", OPT_CHOICE, &init, NULL, "start the top RBM from noise or from the up pass of data rows", 0, 0, 0, 0, "noise|data", &init_seen},
        {"noise-p", OPT_FLOAT, &so.noise_p, "P", "probability of an on unit in the noise start", 0, 1, 0, 0, NULL, NULL},
        {"data", OPT_STR, &data_spec, "SPEC", "data for --init data (default: the model's training data)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &limit, "N", "use the first N rows of --data only (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        {"seed", OPT_U64, &seed, "S", "random seed of the chains", 0, 1.8446744073709552e19, 0, 0, NULL, NULL},
        CLI_SAMPLE_OUT_OPTIONS(dest),
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm sample DBN [--png PATH] [--npy PATH] [--csv PATH] [options]",
                             sample_about, &path);
    if (rc >= 0) return rc;
    if ((rc = cli_sample_out_check(cmd, &dest, false)) >= 0) return rc;
    ebm_dbn *d = load_stack(cmd, path);
    if (!d) return 1;
    rc = 1;
    ebm_dataset *ds = NULL;
    float *out = NULL;
    size_t h = 0, w = 0, nv = ebm_dbn_units(d, 0);
    if (dest.png && !cli_image_shape(cmd, nv, d->height, d->width, dest.shape, &h, &w)) goto done;
    if (!steps_seen) cli_meta_size(d->meta, "ebm.sample.steps", &so.steps);
    if (!t_seen && (!cli_meta_float(d->meta, "ebm.sample.temperature", &so.T) || !(so.T > 0))) so.T = 1.0f;
    const char *mi = ebm_meta_get(d->meta, "ebm.sample.init");
    if (!init_seen && mi && strcmp(mi, "data") == 0) init = 1;
    if (init == 1) {
        const char *spec = data_spec ? data_spec : ebm_meta_get(d->meta, "ebm.data.spec");
        if (!spec) {
            rc = cli_error(cmd, "--init data needs --data (the model does not record its training data)");
            goto done;
        }
        cli_data_args da = {"auto", "none", 0.5f, limit, seed, false, false, false};
        if (!(ds = load_for(cmd, d, spec, &da, quiet))) goto done;
    }
    out = malloc(n * nv * sizeof *out);
    if (!out) {
        rc = cli_error(cmd, "out of memory for %zu samples", n);
        goto done;
    }
    sample_ctx c = {{0}, so.steps};
    cli_progress_init(&c.prog, quiet);
    so.progress = on_sample;
    so.user = &c;
    char desc[512];
    describe(d, desc, sizeof desc);
    if (!quiet)
        fprintf(stderr, "sampling %zu chains x %zu sweeps of the top RBM at T = %g from %s, then the down pass (%s)\n",
                n, so.steps, (double)so.T, init ? "data" : "noise", desc);
    cli_install_sigint();
    ebm_rng rng;
    ebm_rng_seed(&rng, seed, 0);
    double t0 = cli_now();
    ebm_status s = ebm_dbn_sample(d, n, ds ? ds->x : NULL, &so, &rng, out);
    if (s == EBM_ECANCELED) {
        cli_progress_end(&c.prog);
        cli_error(cmd, "interrupted; nothing written");
        rc = 130;
        goto done;
    }
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    cli_progress_line(&c.prog, "%zu sweeps in %.2f s", so.steps, cli_now() - t0);
    if (!cli_sample_out_write(cmd, quiet, &dest, out, n, nv, false, h, w)) goto done;
    rc = 0;
done:
    free(out);
    ebm_dataset_free(ds);
    ebm_dbn_free(d);
    return rc;
}

/* ---- ebm encode MODEL ---- */

static const char *const encode_about =
    "Write the features of data at one level of an RBM or DBN: the up pass of probabilities,\n"
    "level 1 = p(h | v) of the bottom RBM, level L = p(h_L | h_{L-1}) applied to level L - 1 (default: the\n"
    "top; 0 = the preprocessed data itself).  The data is preprocessed as in training.  --out PATH.npy writes\n"
    "a float32 (rows, units) array; a path ending in .csv writes CSV.";

int cmd_encode(int argc, char **argv, bool quiet) {
    const char *cmd = "encode";
    const char *data_spec = NULL, *out = NULL, *layer = "top";
    cli_data_args da = {"auto", "none", 0.5f, 0, 1, false, false, false};
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "data to encode (default: the model's training data)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"layer", OPT_STR, &layer, "L", "level to encode to: top, or 0 (the data) .. number of layers", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"out", OPT_STR, &out, "PATH", "features file: .npy (float32) or .csv", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &da.limit, "N", "encode the first N rows only (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        CLI_DATA_AS_TRAINED_OPTIONS(da),
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm encode MODEL --data SPEC [--layer L] --out PATH.npy", encode_about,
                             &path);
    if (rc >= 0) return rc;
    if (!out) return cli_error(cmd, "--out is required (the features file, .npy or .csv)");
    if (!cli_check_writable(cmd, "--out", out)) return 1;
    ebm_dbn *d = load_stack(cmd, path);
    if (!d) return 1;
    rc = 1;
    ebm_dataset *ds = NULL;
    float *f = NULL;
    size_t level;
    if (!parse_level(cmd, layer, d, &level, NULL)) {
        rc = 2;
        goto done;
    }
    if (!data_spec) data_spec = ebm_meta_get(d->meta, "ebm.data.spec");
    if (!data_spec) {
        rc = cli_error(cmd, "--data is required (the model does not record its training data)");
        goto done;
    }
    if (!(ds = load_for(cmd, d, data_spec, &da, quiet))) goto done;
    size_t n = ds->x->rows, u = ebm_dbn_units(d, level);
    f = malloc(n * u * sizeof *f);
    ebm_status s = f ? ebm_dbn_up(d, ds->x->data, n, level, f) : EBM_ENOMEM;
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    bool csv = strlen(out) >= 4 && strcmp(out + strlen(out) - 4, ".csv") == 0;
    if (!cli_write_samples(cmd, quiet, f, n, u, false, NULL, csv ? NULL : out, csv ? out : NULL, 0, 0, 0, 0)) goto done;
    if (!quiet) fprintf(stderr, "encoded %zu rows to level %zu of %zu (%zu units)\n", n, level, d->n_layers, u);
    rc = 0;
done:
    free(f);
    ebm_dataset_free(ds);
    ebm_dbn_free(d);
    return rc;
}

/* ---- ebm eval MODEL.dbn ---- */

static const char *const eval_about =
    "Evaluate a deep belief net on data preprocessed as in training: the mean anomaly score (the free\n"
    "energy of each row under the bottom RBM, -log p(v) up to its log Z) and the bottom layer's mean-field\n"
    "reconstruction error.  For features, see --probe (ebm eval MODEL --probe --help).";

int cli_dbn_eval(int argc, char **argv, bool quiet) {
    const char *cmd = "eval";
    const char *data_spec = NULL;
    bool json = false;
    cli_data_args da = {"auto", "none", 0.5f, 0, 1, false, false, false};
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "evaluation data (default: the model's training data spec)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &da.limit, "N", "use the first N rows only (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        {"json", OPT_FLAG, &json, NULL, "print one JSON object instead of text", 0, 0, 0, 0, NULL, NULL},
        CLI_DATA_AS_TRAINED_OPTIONS(da),
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm eval DBN --data SPEC [options]", eval_about, &path);
    if (rc >= 0) return rc;
    ebm_dbn *d = load_stack(cmd, path);
    if (!d) return 1;
    rc = 1;
    ebm_dataset *ds = NULL;
    double *F = NULL;
    if (!data_spec) data_spec = ebm_meta_get(d->meta, "ebm.data.spec");
    if (!data_spec) {
        rc = cli_error(cmd, "--data is required (the model does not record its training data)");
        goto done;
    }
    if (!(ds = load_for(cmd, d, data_spec, &da, quiet || json))) goto done;
    size_t n = ds->x->rows;
    F = malloc(n * sizeof *F);
    double recon = NAN, fmean = 0;
    ebm_status s = F ? ebm_dbn_free_energy(d, ds->x->data, n, F) : EBM_ENOMEM;
    if (!s) s = ebm_dbn_recon_error(d, ds->x->data, n, &recon);
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    for (size_t i = 0; i < n; i++) fmean += F[i] / (double)n;
    char desc[512];
    describe(d, desc, sizeof desc);
    if (json) {
        printf("{\"model\": ");
        cli_json_string(stdout, path);
        printf(", \"kind\": \"dbn\", \"layers\": %zu, \"data\": ", d->n_layers);
        cli_json_string(stdout, data_spec);
        printf(", \"rows\": %zu, \"score_mean\": ", n);
        cli_json_number(stdout, fmean);
        printf(", \"recon_mse\": ");
        cli_json_number(stdout, recon);
        printf("}\n");
    } else {
        printf("model            %s (%s)\n", path, desc);
        printf("data             %s: %zu rows (scale %s, binarize %s)\n", ds->source, n, da.scale, da.binarize);
        printf("score            %.4f (mean free energy under the bottom RBM)\n", fmean);
        printf("reconstruction   %.6f (mean squared error per unit, bottom layer, mean field)\n", recon);
    }
    rc = 0;
done:
    free(F);
    ebm_dataset_free(ds);
    ebm_dbn_free(d);
    return rc;
}

/* ---- ebm eval MODEL --probe ---- */

/* A data set with its labels (from the data source, else from labels_path); NULL after printing an error. */
static ebm_dataset *load_labelled(const char *cmd, const ebm_dbn *d, const char *spec, const char *labels_path,
                                  const char *labels_opt, cli_data_args *da, bool quiet) {
    ebm_dataset *ds = load_for(cmd, d, spec, da, quiet);
    if (!ds) return NULL;
    if (labels_path) {
        free(ds->labels);
        ds->labels = cli_load_labels(cmd, labels_path, ds->x->rows, false, 10000);
    } else if (!ds->labels) {
        cli_error(cmd, "%s has no labels; give them with %s FILE (one whole number per row)", spec, labels_opt);
    }
    if (!ds->labels) {
        ebm_dataset_free(ds);
        return NULL;
    }
    return ds;
}

typedef struct {
    size_t level, units, iters;
    int converged;
    double train_acc, test_acc, test_nll, seconds;
} probe_row;

typedef struct {
    cli_progress prog;
    char label[64];
    size_t max_iter;
} probe_ctx;

static int on_probe(size_t iter, double loss, void *user) {
    probe_ctx *c = user;
    char detail[96];
    snprintf(detail, sizeof detail, "iteration %zu, loss %.4f", iter, loss);
    cli_progress_bar(&c->prog, c->label, (double)iter / (double)c->max_iter, detail);
    return cli_interrupted() ? 1 : 0;
}

/* Accuracy (and NLL when not NULL) of the probe on features x (n, units) with labels y. */
static ebm_status score_probe(const ebm_probe *p, const float *x, const int32_t *y, size_t n, double *acc,
                              double *nll) {
    float *logits = malloc(n * p->n_classes * sizeof *logits);
    if (!logits) return EBM_ENOMEM;
    ebm_status s = ebm_probe_predict(p, x, n, logits);
    if (!s) s = ebm_metric_classify(logits, y, n, p->n_classes, acc, nll);
    free(logits);
    return s;
}

/* Fits the probe on level `level` features of tr, scores it on te; false after printing an error. */
static bool run_probe(const char *cmd, const ebm_dbn *d, size_t level, const ebm_dataset *tr, const ebm_dataset *te,
                      const ebm_probe_opts *po, bool quiet, probe_row *r) {
    size_t u = ebm_dbn_units(d, level), ntr = tr->x->rows, nte = te->x->rows;
    float *ftr = malloc(ntr * u * sizeof *ftr), *fte = malloc(nte * u * sizeof *fte);
    ebm_probe *p = NULL;
    probe_ctx c;
    cli_progress_init(&c.prog, quiet);
    c.max_iter = po->max_iter;
    snprintf(c.label, sizeof c.label, "probe on level %zu", level);
    ebm_probe_opts o = *po;
    o.progress = on_probe;
    o.user = &c;
    ebm_probe_result res;
    double t0 = cli_now();
    ebm_status s = ftr && fte ? ebm_dbn_up(d, tr->x->data, ntr, level, ftr) : EBM_ENOMEM;
    if (!s) s = ebm_dbn_up(d, te->x->data, nte, level, fte);
    if (!s) s = ebm_probe_fit(ftr, tr->labels, ntr, u, &o, &p, &res);
    bool unseen = false;
    for (size_t i = 0; !s && !unseen && i < nte; i++)
        if ((size_t)te->labels[i] >= p->n_classes) {
            cli_error(cmd, "test label %d of row %zu was never seen in training (classes 0..%zu)", (int)te->labels[i],
                      i, p->n_classes - 1);
            unseen = true;
        }
    if (!s && !unseen) s = score_probe(p, ftr, tr->labels, ntr, &r->train_acc, NULL);
    if (!s && !unseen) s = score_probe(p, fte, te->labels, nte, &r->test_acc, &r->test_nll);
    cli_progress_end(&c.prog);
    free(ftr);
    free(fte);
    ebm_probe_free(p);
    if (unseen) return false;
    if (s) return cli_lib_error(cmd, s), false;
    r->level = level;
    r->units = u;
    r->iters = res.iters;
    r->converged = res.converged;
    r->seconds = cli_now() - t0;
    if (!quiet)
        fprintf(stderr, "probe on level %zu (%zu units): %zu L-BFGS iterations%s, test accuracy %.4f (%.1f s)\n", level,
                u, res.iters, res.converged ? "" : " (not converged)", r->test_acc, r->seconds);
    return true;
}

static const char *const probe_about =
    "Linear probe: fit multinomial logistic regression (softmax, L2 weight --probe-l2, full-batch L-BFGS:\n"
    "deterministic) on the features of labelled training data at a level of an RBM or DBN (--layer: top,\n"
    "all, or a level number; level L = up-pass probabilities, 0 = the preprocessed pixels), then report the\n"
    "accuracy on the test data, next to the same probe on the raw pixels (unless --no-raw).  Labels come from\n"
    "the data set (fashion-mnist) or from --labels / --test-labels files (one whole number per row).  With\n"
    "--data fashion-mnist[:train] the test set defaults to fashion-mnist:test.";

int cmd_eval_probe(int argc, char **argv, bool quiet) {
    const char *cmd = "eval";
    const char *data_spec = NULL, *test_spec = NULL, *layer = "top", *labels = NULL, *test_labels = NULL;
    bool probe = false, json = false, no_raw = false;
    size_t test_limit = 0;
    ebm_probe_opts po;
    ebm_probe_opts_default(&po);
    cli_data_args da = {"auto", "none", 0.5f, 0, 1, false, false, false};
    const cli_opt opts[] = {
        {"probe", OPT_FLAG, &probe, NULL, "fit and score a linear probe on the model's features", 0, 0, 0, 0, NULL, NULL},
        {"data", OPT_STR, &data_spec, "SPEC", "labelled training data for the probe (default: the model's)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"test", OPT_STR, &test_spec, "SPEC", "labelled test data (default for fashion-mnist: fashion-mnist:test)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"layer", OPT_STR, &layer, "L", "features: top, all (every level), or a level 0..layers", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &da.limit, "N", "first N training rows only (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        {"test-limit", OPT_SIZE, &test_limit, "N", "first N test rows only (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        {"labels", OPT_STR, &labels, "FILE", "labels of --data, one per row (.csv/.npy/.idx)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"test-labels", OPT_STR, &test_labels, "FILE", "labels of --test, one per row", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"probe-l2", OPT_FLOAT, &po.l2, "L2", "L2 weight on the probe's weights", 0, 1e6, 0, 0, NULL, NULL},
        {"probe-iters", OPT_SIZE, &po.max_iter, "N", "L-BFGS iterations at most", 1, 1e7, 0, 0, NULL, NULL},
        {"no-raw", OPT_FLAG, &no_raw, NULL, "skip the baseline probe on the raw pixels", 0, 0, 0, 0, NULL, NULL},
        {"json", OPT_FLAG, &json, NULL, "print one JSON object instead of text", 0, 0, 0, 0, NULL, NULL},
        CLI_DATA_AS_TRAINED_OPTIONS(da),
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm eval MODEL --probe --data SPEC --test SPEC [--layer L] [options]",
                             probe_about, &path);
    if (rc >= 0) return rc;
    ebm_dbn *d = load_stack(cmd, path);
    if (!d) return 1;
    rc = 1;
    ebm_dataset *tr = NULL, *te = NULL;
    size_t level;
    bool all;
    if (!parse_level(cmd, layer, d, &level, &all)) {
        rc = 2;
        goto done;
    }
    if (!data_spec) data_spec = ebm_meta_get(d->meta, "ebm.data.spec");
    if (!data_spec) {
        rc = cli_error(cmd, "--data is required (the model does not record its training data)");
        goto done;
    }
    if (!test_spec && (strcmp(data_spec, "fashion-mnist") == 0 || strcmp(data_spec, "fashion-mnist:train") == 0))
        test_spec = "fashion-mnist:test";
    if (!test_spec) {
        rc = cli_error(cmd, "--test is required (labelled test data for the probe)");
        goto done;
    }
    if (!(tr = load_labelled(cmd, d, data_spec, labels, "--labels", &da, quiet || json))) goto done;
    da.limit = test_limit;
    if (!(te = load_labelled(cmd, d, test_spec, test_labels, "--test-labels", &da, quiet || json))) goto done;
    probe_row rows[MAX_LEVELS + 1];
    size_t nrows = 0;
    cli_install_sigint();
    if (!no_raw && level != 0) {
        if (!run_probe(cmd, d, 0, tr, te, &po, quiet || json, &rows[nrows++])) goto done;
    }
    for (size_t l = all ? 1 : level; l <= level; l++)
        if (!run_probe(cmd, d, l, tr, te, &po, quiet || json, &rows[nrows++])) goto done;
    if (cli_interrupted()) {
        cli_error(cmd, "interrupted");
        rc = 130;
        goto done;
    }
    char desc[512];
    describe(d, desc, sizeof desc);
    if (json) {
        printf("{\"model\": ");
        cli_json_string(stdout, path);
        printf(", \"layers\": %zu, \"train\": ", d->n_layers);
        cli_json_string(stdout, data_spec);
        printf(", \"train_rows\": %zu, \"test\": ", tr->x->rows);
        cli_json_string(stdout, test_spec);
        printf(", \"test_rows\": %zu, \"l2\": %g, \"probes\": [", te->x->rows, (double)po.l2);
        for (size_t i = 0; i < nrows; i++) {
            printf("%s{\"level\": %zu, \"units\": %zu, \"train_accuracy\": ", i ? ", " : "", rows[i].level,
                   rows[i].units);
            cli_json_number(stdout, rows[i].train_acc);
            printf(", \"test_accuracy\": ");
            cli_json_number(stdout, rows[i].test_acc);
            printf(", \"test_nll\": ");
            cli_json_number(stdout, rows[i].test_nll);
            printf(", \"iterations\": %zu, \"converged\": %s, \"seconds\": %.3f}", rows[i].iters,
                   rows[i].converged ? "true" : "false", rows[i].seconds);
        }
        printf("]}\n");
    } else {
        printf("model            %s (%s)\n", path, desc);
        printf("probe            softmax regression, L2 %g, L-BFGS; trained on %zu rows of %s, tested on %zu rows of %s\n",
               (double)po.l2, tr->x->rows, data_spec, te->x->rows, test_spec);
        printf("%-16s %6s %10s %10s %9s %6s\n", "features", "units", "train acc", "test acc", "test NLL", "iters");
        for (size_t i = 0; i < nrows; i++) {
            char name[32];
            if (rows[i].level == 0) snprintf(name, sizeof name, "raw pixels");
            else snprintf(name, sizeof name, "level %zu", rows[i].level);
            printf("%-16s %6zu %10.4f %10.4f %9.4f %6zu%s\n", name, rows[i].units, rows[i].train_acc, rows[i].test_acc,
                   rows[i].test_nll, rows[i].iters, rows[i].converged ? "" : " (not converged)");
        }
    }
    rc = 0;
done:
    ebm_dataset_free(tr);
    ebm_dataset_free(te);
    ebm_dbn_free(d);
    return rc;
}

/* ---- ebm info MODEL.dbn ---- */

/* One line of mean, standard deviation and max |.| of x (n), in double. */
static void moments_line(const char *name, const float *x, size_t n, bool json, bool comma) {
    double s = 0, sq = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        s += x[i];
        sq += (double)x[i] * x[i];
        mx = fabs(x[i]) > mx ? fabs(x[i]) : mx;
    }
    double mean = s / (double)n, sd = sqrt(fmax(0, sq / (double)n - mean * mean));
    if (json) {
        printf("\"%s\": {\"mean\": ", name);
        cli_json_number(stdout, mean);
        printf(", \"std\": ");
        cli_json_number(stdout, sd);
        printf(", \"max_abs\": ");
        cli_json_number(stdout, mx);
        printf("}%s", comma ? ", " : "");
    } else {
        printf("    %-4s mean %+.4f  std %.4f  max|.| %.4f\n", name, mean, sd, mx);
    }
}

int cli_dbn_info(int argc, char **argv, bool quiet) {
    const char *cmd = "info";
    cli_info_args ia;
    const char *path;
    int rc = cli_info_start(argc, argv, "ebm info DBN [--json] [--filters PNG]",
                            "Describe a deep belief net file: layer sizes, per-layer parameter statistics and all\n"
                            "metadata; --filters draws the bottom layer's weights.", &ia, &path);
    if (rc >= 0) return rc;
    bool json = ia.json;
    ebm_dbn *d = load_stack(cmd, path);
    if (!d) return 1;
    size_t np = 0;
    for (size_t l = 0; l < d->n_layers; l++) np += d->layers[l]->n_params;
    char desc[512];
    describe(d, desc, sizeof desc);
    struct stat st;
    long long bytes = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    if (json) {
        printf("{\"file\": ");
        cli_json_string(stdout, path);
        printf(", \"bytes\": %lld, \"kind\": \"dbn\", \"sizes\": [", bytes);
        for (size_t l = 0; l <= d->n_layers; l++) printf("%s%zu", l ? ", " : "", ebm_dbn_units(d, l));
        printf("], \"n_params\": %zu, \"layers\": [", np);
        for (size_t l = 0; l < d->n_layers; l++) {
            const ebm_rbm *m = d->layers[l];
            printf("%s{", l ? ", " : "");
            moments_line("W", m->W, m->n_vis * m->n_hid, true, true);
            moments_line("b_v", m->a, m->n_vis, true, true);
            moments_line("b_h", m->b, m->n_hid, true, false);
            printf("}");
        }
        printf("], \"metadata\": {");
        cli_print_meta(d->meta, true);
        printf("}}\n");
    } else {
        printf("%s: deep belief net %s (%zu layers), %zu parameters, %lld bytes\n", path, desc + 4, d->n_layers, np,
               bytes);
        if (d->height) printf("image shape %zu x %zu\n", d->height, d->width);
        for (size_t l = 0; l < d->n_layers; l++) {
            const ebm_rbm *m = d->layers[l];
            printf("layer %zu: RBM %zu x %zu%s\n", l + 1, m->n_vis, m->n_hid,
                   l + 1 == d->n_layers ? " (top: undirected)" : " (directed when generating)");
            moments_line("W", m->W, m->n_vis * m->n_hid, false, false);
            moments_line("b_v", m->a, m->n_vis, false, false);
            moments_line("b_h", m->b, m->n_hid, false, false);
        }
        printf("metadata:\n");
        cli_print_meta(d->meta, false);
    }
    const ebm_rbm *m0 = d->layers[0];
    rc = cli_info_filters(&ia, quiet, m0->W, m0->n_vis, m0->n_hid, d->height, d->width) ? 0 : 1;
    ebm_dbn_free(d);
    return rc;
}

/* ---- ebm score (DBN files): ebm_dbn_free_energy, the bottom RBM's free energy (docs/dbn.md) ---- */

static ebm_dataset *dbn_score_load(void *model, const char *cmd, const char *spec, size_t limit, bool quiet) {
    cli_data_args da = {"auto", "none", 0.5f, limit, 1, false, false, false};
    return load_for(cmd, model, spec, &da, quiet);
}
static ebm_status dbn_score_energy(void *model, const float *x, size_t n, double *E) {
    return ebm_dbn_free_energy(model, x, n, E);
}
static void dbn_score_free(void *model) { ebm_dbn_free(model); }

bool cli_dbn_scorer(const char *cmd, const char *path, cli_scorer *sc) {
    ebm_dbn *d = load_stack(cmd, path);
    if (!d) return false;
    *sc = (cli_scorer){d, "free energy of the bottom RBM", ebm_meta_get(d->meta, "ebm.data.spec"), dbn_score_load,
                       dbn_score_energy, dbn_score_free};
    return true;
}
