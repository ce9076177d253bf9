/* The deep-belief-net kind: `ebm train dbn` (greedy layer-wise CD / PCD, each layer one run of the shared
 * training runner), and the DBN handlers of `ebm sample`, `ebm eval` and `ebm info`.  An RBM
 * file is read as a one-layer DBN where a command takes both (encode, eval --probe); data is preprocessed
 * the way the model saw it in training (its ebm.data.* metadata). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#define MAX_LEVELS 65

static ebm_dbn *load(const char *cmd, const char *path) {
    ebm_dbn *d = NULL;
    ebm_status s = ebm_dbn_load_stack(path, &d);
    return s ? (cli_lib_error(cmd, s), NULL) : d;
}

int cli_dbn_start(const char *cmd, int argc, char **argv, const cli_opt *opts, const char *usage, const char *about,
                  const char **path, ebm_dbn **d) {
    int rc = cli_start_model(cmd, argc, argv, opts, usage, about, path);
    return rc >= 0 ? rc : (*d = load(cmd, *path)) ? -1 : 1;
}

cli_text cli_dbn_describe(const ebm_dbn *d) {
    cli_text t;
    size_t used = (size_t)snprintf(t.s, sizeof t.s, "%s ", d->n_layers == 1 ? "RBM" : "DBN");
    for (size_t l = 0; l <= d->n_layers && used < sizeof t.s; l++)
        used += (size_t)snprintf(t.s + used, sizeof t.s - used, "%s%zu", l ? "-" : "", ebm_dbn_units(d, l));
    return t;
}

bool cli_dbn_level(const char *cmd, const char *arg, const ebm_dbn *d, size_t *level, bool *all) {
    bool every = all && strcmp(arg, "all") == 0;
    if (all) *all = every;
    char *end = NULL;
    unsigned long long v = every || strcmp(arg, "top") == 0 ? d->n_layers : strtoull(arg, &end, 10);
    if (end && (end == arg || *end || v > d->n_layers))
        return cli_error(cmd, "--layer: '%s' is not top%s or a level from 0 (the data) to %zu", arg,
                         all ? ", all" : "", d->n_layers),
               false;
    *level = (size_t)v;
    return true;
}

ebm_dataset *cli_dbn_data(const char *cmd, const ebm_dbn *d, const char **spec, cli_data_args *da, bool quiet) {
    if (!cli_model_data(cmd, spec, d->meta, "--data is required")) return NULL;
    return cli_load_like_model(cmd, *spec, da, d->meta, ebm_dbn_units(d, 0), true, quiet);
}

/* ebm train dbn: each layer one run of cli_train_run; the file is saved after the top one. */
typedef struct {
    cli_run r;
    ebm_dbn *net;
    const ebm_dbn_layer_run *L; /* the layer under way */
    cli_cd_args ca;
    size_t monitor;
    double t0;
    char hint[64];
    int rc;
} dbn_train;

static void train_detail(cli_run *r, const ebm_run_progress *p, char *buf, size_t cap) {
    const dbn_train *c = r->user;
    int n = snprintf(buf, cap, "layer %zu/%zu", c->L->layer + 1, c->L->n_layers);
    if (!isnan(p->mean.recon)) snprintf(buf + n, cap - (size_t)n, ", train recon %.4f", p->mean.recon);
}

/* The reconstruction error on the first --monitor rows of the layer's input, kept as its final_recon. */
static void train_epoch(cli_run *r, const ebm_run_progress *p) {
    const dbn_train *c = r->user;
    const ebm_mat *x = c->L->input;
    double recon;
    char more[32] = "", key[64];
    snprintf(key, sizeof key, "ebm.train.layer.%zu.final_recon", c->L->layer);
    if (c->monitor && !ebm_rbm_recon_error(c->L->rbm, x->data, c->monitor < x->rows ? c->monitor : x->rows, &recon)) {
        snprintf(more, sizeof more, "  recon %.4f", recon);
        (void)ebm_meta_setf(r->meta, key, "%.6f", recon); /* only ENOMEM, which the save then reports */
    }
    cli_progress_line(&r->prog, "layer %zu/%zu epoch %zu/%zu  %.2f s%s", c->L->layer + 1, c->L->n_layers, p->epoch,
                      p->epochs, p->seconds, more);
}

static void train_describe(cli_run *r, char *buf, size_t cap) {
    const dbn_train *c = r->user;
    snprintf(buf, cap, "%s%s", cli_dbn_describe(c->net).s, c->net->n_layers > 1 ? ", top layer" : "");
}

/* Over what the runner recorded of the layer under way: the whole run's seed and time, the layer's time. */
static ebm_status train_save(cli_run *r, const char *path) {
    const dbn_train *c = r->user;
    char key[64];
    snprintf(key, sizeof key, "ebm.train.layer.%zu.seconds", c->L->layer);
    ebm_status s = ebm_meta_setf(r->meta, key, "%.2f", r->res.seconds);
    if (!s) s = ebm_meta_setf(r->meta, "ebm.train.seed", "%llu", (unsigned long long)c->ca.o.seed);
    if (!s) s = ebm_meta_setf(r->meta, "ebm.train.seconds", "%.2f", cli_now() - c->t0);
    return s ? s : ebm_dbn_save(c->net, path);
}

/* A checkpoint names the layer under way and holds the layers below it. */
static ebm_status train_checkpoint(cli_run *r, ebm_trainer *t, ebm_tensors *out) {
    const dbn_train *c = r->user;
    (void)t;
    return ebm_dbn_checkpoint(c->net, c->L, out);
}

static ebm_status train_layer(ebm_dbn_layer_run *L, void *user) {
    dbn_train *c = user;
    c->L = L;
    cli_progress_line(&c->r.prog, "layer %zu/%zu: RBM %zu x %zu on %zu rows%s", L->layer + 1, L->n_layers,
                      L->rbm->n_vis, L->rbm->n_hid, L->input->rows, L->layer ? " of the layer below's p(h | v)" : "");
    snprintf(c->hint, sizeof c->hint, "in layer %zu of %zu (a smaller --lr may help)", L->layer + 1, L->n_layers);
    c->r.stage = L->layer + 1 < L->n_layers;
    c->rc = cli_train_run(&c->r, L->trainer, L->input, NULL, &L->run);
    return c->rc ? EBM_ECANCELED : EBM_OK;
}

static const char *const train_about =
    "Train a deep belief net greedily, layer by layer (Hinton & Salakhutdinov 2006): layer 1 is a Bernoulli\n"
    "RBM on the data, trained by CD-K or PCD-K exactly as `ebm train rbm` trains one; each further layer is an\n"
    "RBM trained the same way on the hidden probabilities p(h | v) of the layer below over all training rows.\n"
    "Each epoch prints the layer's reconstruction error on --monitor rows of its input.  Data values must lie\n"
    "in [0, 1]; the preprocessing is stored in the model so that sample, encode and eval repeat it.  Ctrl-C\n"
    "stops after the current batch and saves the layers so far in NAME.partial.safetensors; --checkpoint-every N\n"
    "writes NAME.ckpt.safetensors (the layer under way and the layers below it), which --resume continues.";

int cli_dbn_train(int argc, char **argv, bool quiet) {
    const char *cmd = "train dbn", *layers = "500,500";
    cli_train_args ta = {0};
    dbn_train c = {.monitor = 200};
    cli_cd_args_init(&c.ca);
    cli_data_args da = CLI_DATA_ARGS_INIT;
    const cli_opt opts[] = {
        {"data", OPT_STR, &ta.data, "SPEC", "training data: fashion-mnist[:train|:test] or a .idx[.gz]/.npy/.csv path", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"out", OPT_STR, &ta.out, "PATH", "where to save the DBN (.safetensors)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"layers", OPT_STR, &layers, "N1,N2,...", "hidden units of each layer, bottom first", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        CLI_CD_OPTIONS(c.ca),
        CLI_DATA_OPTIONS(da),
        {"monitor", OPT_SIZE, &c.monitor, "N", "rows of each layer's input for the per-epoch reconstruction error (0 = off)", 0, 1e9, 0, 0, NULL, NULL},
        CLI_RESUME_OPTIONS(ta),
        OPT_END,
    };
    size_t npos, sizes[MAX_LEVELS], n_sizes, big = 0;
    int rc = cli_start(cmd, argc, argv, opts, "ebm train dbn --data SPEC --layers N1,N2,... --out PATH [options]",
                       train_about, NULL, 0, &npos);
    if (rc >= 0) return rc;
    bool listed = ebm_dbn_parse_sizes(layers, sizes + 1, MAX_LEVELS - 1, &n_sizes) == EBM_OK;
    for (size_t l = 1; listed && l <= n_sizes; l++) big += sizes[l] > (1u << 20);
    if (!listed || big) {
        cli_error(cmd, "--layers: '%s' is not a list of 1 to %d hidden layer sizes (1..1048576) such as 500,500,2000",
                  layers, MAX_LEVELS - 1);
        return 2;
    }
    if ((rc = cli_train_check(cmd, &ta)) >= 0) return rc;
    if (!cli_cd_finish(cmd, &c.ca)) return 1;
    ebm_data_opts dopts;
    if (!cli_data_opts(cmd, &da, &dopts)) return 2;
    dopts.seed = c.ca.o.seed;
    ebm_dataset *d = cli_load_data(cmd, ta.data, &dopts, quiet);
    if (!d) return 1;
    sizes[0] = d->x->cols;
    rc = 1;
    ebm_status s = ebm_mat_check_range(d->x, 0.0f, 1.0f, ta.data);
    if (s) cli_error(cmd, "%s; a DBN needs values in [0, 1] (try --scale minmax or --scale 255)", ebm_last_error());
    else if ((s = ebm_dbn_new(sizes, n_sizes + 1, &c.net))) cli_lib_error(cmd, s);
    if (s) goto done;
    c.net->height = c.net->layers[0]->height = d->height;
    c.net->width = c.net->layers[0]->width = d->width;
    c.r = (cli_run){.cmd = cmd, .kind = "dbn", .ta = &ta, .d = d, .da = &da, .quiet = quiet, .argc = argc,
                    .argv = argv, .meta = c.net->meta, .nan_hint = c.hint, .save = train_save,
                    .detail = train_detail, .on_epoch = train_epoch, .describe = train_describe,
                    .checkpoint = train_checkpoint, .user = &c};
    cli_progress_init(&c.r.prog, quiet);
    if ((rc = cli_train_resume(&c.r)) >= 0) goto done;
    rc = 1;
    ebm_dbn_train_opts o = {.cd = c.ca.o, .init_std = c.ca.init_std}; /* all of ebm_dbn_train_opts_default's */
    o.resume = c.r.resume;
    if (!quiet)
        fprintf(stderr, "training %s greedily by %s-%zu: %zu epochs per layer, batch %zu, lr %g%s, %d threads\n",
                cli_dbn_describe(c.net).s, o.cd.mode == EBM_PCD ? "pcd" : "cd", o.cd.k, o.cd.epochs, o.cd.batch,
                (double)o.cd.lr, o.cd.lr_final >= 0 ? " (linear decay)" : "", ebm_get_threads());
    c.t0 = cli_now();
    s = ebm_dbn_train_run(c.net, d->x, &o, train_layer, &c);
    rc = c.rc ? c.rc : s ? cli_lib_error(cmd, s) : 0;
done:
    cli_train_end(&c.r);
    ebm_dbn_free(c.net);
    ebm_dataset_free(d);
    return rc;
}

static int on_sample(double fraction, void *prog) {
    cli_progress_bar(prog, "sampling", fraction, "of the sweeps in the top RBM");
    return cli_interrupted() ? 1 : 0;
}

static const char *const sample_about =
    "Generate from a deep belief net: --n block-Gibbs chains run --steps sweeps at --temperature in the top\n"
    "RBM, started from noise (each unit of the level below the top on with probability --noise-p) or from the\n"
    "up pass of random rows of --data (--init data); the top RBM's p(v | h) then goes down the directed\n"
    "layers as probabilities, sigmoid(W h + b) level by level, to pixels in [0, 1].  Defaults for --steps,\n"
    "--temperature and --init come from the model file (ebm.sample.*).";

int cli_dbn_sample(int argc, char **argv, bool quiet) {
    const char *cmd = "sample", *data_spec = NULL, *path;
    ebm_dbn *d;
    cli_sample_out dest = CLI_SAMPLE_OUT_INIT;
    size_t n = 100, limit = 0;
    int init = 0;
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
        CLI_INIT_DATA_OPTION(data_spec),
        {"limit", OPT_SIZE, &limit, "N", "use the first N rows of --data only (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        CLI_SEED_OPTION(seed, "random seed of the chains"),
        CLI_SAMPLE_OUT_OPTIONS(dest),
        OPT_END,
    };
    int rc = cli_dbn_start(cmd, argc, argv, opts, "ebm sample DBN [--png PATH] [--npy PATH] [--csv PATH] [options]",
                           sample_about, &path, &d);
    if (rc >= 0) return rc;
    ebm_dataset *ds = NULL;
    float *out = NULL, *all = NULL;
    size_t first, count = cli_chains(n, &first);
    if ((rc = cli_sample_out_check(cmd, &dest, false)) >= 0) goto done;
    rc = 1;
    size_t h = 0, w = 0, nv = ebm_dbn_units(d, 0);
    cli_sample_meta(d->meta, &so.steps, steps_seen, &so.T, t_seen, &init, init_seen);
    cli_data_args da = {"auto", "none", 0.5f, limit, seed, false, false, false};
    if (dest.png && !cli_image_shape(cmd, nv, d->height, d->width, dest.shape, &h, &w)) goto done;
    if (init == 1 && !(ds = cli_dbn_data(cmd, d, &data_spec, &da, quiet))) goto done;
    if (!(out = malloc(count * nv * sizeof *out))) {
        rc = cli_error(cmd, "out of memory for %zu samples", n);
        goto done;
    }
    cli_progress prog;
    cli_progress_init(&prog, quiet);
    so.progress = on_sample;
    so.user = &prog;
    if (!quiet)
        fprintf(stderr, "sampling %zu chains x %zu sweeps of the top RBM at T = %g from %s, then the down pass (%s)\n",
                n, so.steps, (double)so.T, init ? "data" : "noise", cli_dbn_describe(d).s);
    cli_install_sigint();
    ebm_rng rng;
    ebm_rng_seed(&rng, seed, 0);
    double t0 = cli_now();
    ebm_status s = ebm_dbn_sample_slice(d, first, count, n, ds ? ds->x : NULL, &so, &rng, out);
    cli_progress_end(&prog);
    if (s == EBM_ECANCELED) {
        cli_error(cmd, "interrupted; nothing written");
        rc = 130;
    } else if (s) {
        cli_lib_error(cmd, s);
    } else {
        cli_progress_line(&prog, "%zu sweeps in %.2f s", so.steps, cli_now() - t0);
        const float *x = out;
        if ((rc = cli_chains_gather(cmd, &x, n, nv, &all)) < 0)
            rc = cli_sample_out_write(cmd, quiet, &dest, x, n, nv, false, h, w) ? 0 : 1;
    }
done:
    free(all);
    free(out);
    ebm_dataset_free(ds);
    ebm_dbn_free(d);
    return rc;
}

int cli_dbn_eval(int argc, char **argv, bool quiet) {
    const char *cmd = "eval", *data_spec = NULL, *path;
    ebm_dbn *d;
    bool json = false;
    cli_data_args da = CLI_DATA_ARGS_INIT;
    const cli_opt opts[] = {
        CLI_EVAL_DATA_OPTIONS(data_spec, da.limit),
        CLI_JSON_OPTION(json),
        CLI_DATA_AS_TRAINED_OPTIONS(da),
        OPT_END,
    };
    int rc = cli_dbn_start(
        cmd, argc, argv, opts, "ebm eval DBN --data SPEC [options]",
        "Evaluate a deep belief net on data preprocessed as in training: the mean anomaly score (the free\n"
        "energy of each row under the bottom RBM, -log p(v) up to its log Z) and the bottom layer's mean-field\n"
        "reconstruction error.  For features, see --probe (ebm eval MODEL --probe --help).", &path, &d);
    if (rc >= 0) return rc;
    double recon, fmean;
    ebm_dataset *ds = cli_dbn_data(cmd, d, &data_spec, &da, quiet || json);
    ebm_status s = ds ? ebm_dbn_evaluate(d, ds->x->data, ds->x->rows, &fmean, &recon) : EBM_OK;
    if ((rc = !ds ? 1 : s ? cli_lib_error(cmd, s) : 0)) goto done;
    size_t n = ds->x->rows;
    cli_report r = cli_report_begin(json, "model", path);
    cli_report_json(&r, ", \"kind\": \"dbn\", \"layers\": %zu", d->n_layers);
    cli_report_str(&r, "data", data_spec);
    cli_report_json(&r, ", \"rows\": %zu", n);
    cli_report_text(&r, "model            %s (%s)\n", path, cli_dbn_describe(d).s);
    cli_report_text(&r, "data             %s: %zu rows (scale %s, binarize %s)\n", ds->source, n, da.scale,
                    da.binarize);
    cli_report_num(&r, "score_mean", fmean, "score            %.4f (mean free energy under the bottom RBM)\n", fmean);
    cli_report_num(&r, "recon_mse", recon, "reconstruction   %.6f (mean squared error per unit, bottom layer, mean "
                   "field)\n", recon);
    cli_report_json(&r, "}\n");
done:
    ebm_dataset_free(ds);
    ebm_dbn_free(d);
    return rc;
}

int cli_dbn_info(int argc, char **argv, bool quiet) {
    cli_info_args ia;
    const char *path, *const names[3] = {"W", "b_v", "b_h"};
    int rc = cli_info_start(argc, argv, "ebm info DBN [--json] [--filters PNG]",
                            "Describe a deep belief net file: layer sizes, per-layer parameter statistics and all\n"
                            "metadata; --filters draws the bottom layer's weights.", &ia, &path);
    if (rc >= 0) return rc;
    bool json = ia.json;
    ebm_dbn *d = load("info", path);
    if (!d) return 1;
    size_t np = ebm_dbn_n_params(d);
    long long bytes = cli_file_bytes(path);
    cli_report r = cli_report_begin(json, "file", path);
    cli_report_json(&r, ", \"bytes\": %lld, \"kind\": \"dbn\", \"sizes\": [", bytes);
    for (size_t l = 0; json && l <= d->n_layers; l++) printf("%s%zu", l ? ", " : "", ebm_dbn_units(d, l));
    cli_report_json(&r, "], \"n_params\": %zu, \"layers\": [", np);
    cli_report_text(&r, "%s: deep belief net %s (%zu layers), %zu parameters, %lld bytes\n", path,
                    cli_dbn_describe(d).s + 4, d->n_layers, np, bytes);
    if (d->height) cli_report_text(&r, "image shape %zu x %zu\n", d->height, d->width);
    for (size_t l = 0; l < d->n_layers; l++) {
        const ebm_rbm *m = d->layers[l];
        cli_report_json(&r, "%s{", l ? ", " : "");
        cli_report_text(&r, "layer %zu: RBM %zu x %zu%s\n", l + 1, m->n_vis, m->n_hid,
                        l + 1 == d->n_layers ? " (top: undirected)" : " (directed when generating)");
        ebm_param_stats ps[3];
        ebm_rbm_param_stats(m, ps);
        for (int k = 0; k < 3; k++) { /* finite numbers: the loader refuses others */
            cli_report_json(&r, "\"%s\": {\"mean\": %.10g, \"std\": %.10g, \"max_abs\": %.10g}%s", names[k], ps[k].mean,
                            ps[k].std, ps[k].max_abs, k < 2 ? ", " : "}");
            cli_report_text(&r, "    %-4s mean %+.4f  std %.4f  max|.| %.4f\n", names[k], ps[k].mean, ps[k].std,
                            ps[k].max_abs);
        }
    }
    cli_report_json(&r, "]");
    cli_report_meta_end(&r, d->meta);
    const ebm_rbm *m0 = d->layers[0];
    rc = cli_info_filters(&ia, quiet, m0->W, m0->n_vis, m0->n_hid, d->height, d->width) ? 0 : 1;
    ebm_dbn_free(d);
    return rc;
}
