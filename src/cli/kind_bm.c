/* The fully visible Boltzmann machine kind: `ebm train bm` (through the shared runner, with per-epoch
 * pseudo-LL and, for small models, exact LL of monitor rows), and `ebm sample`, `ebm eval` and `ebm info`
 * of BM files.  Data is binarised (threshold 0.5 by default) to {0,1} and mapped to the model's
 * spin convention. */
#include "cli.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EXACT_AUTO_UNITS 25

ebm_dataset *cli_bm_load_binary(const char *cmd, const char *spec, const cli_data_args *da, float off, bool quiet) {
    ebm_data_opts o;
    if (!cli_data_opts(cmd, da, &o)) return NULL;
    ebm_dataset *d = cli_load_data(cmd, spec, &o, quiet);
    if (!d) return NULL;
    if (!cli_is_binary(d->x)) {
        cli_error(cmd, "%s is not binary after --binarize %s; a Boltzmann machine needs 0/1 values (try --binarize "
                       "threshold)", spec, da->binarize);
    } else {
        for (size_t i = 0; i < d->x->rows * d->x->cols; i++)
            if (d->x->data[i] == 0.0f) d->x->data[i] = off;
        return d;
    }
    ebm_dataset_free(d);
    return NULL;
}

/* ---- ebm train bm ---- */

/* The per-epoch monitors: pseudo-LL and (small models) exact LL of the first rows of the data. */
typedef struct {
    ebm_bm *m;
    const ebm_mat *mon;
    bool exact;
    double pll, ll;
} bm_train_ctx;

static void bm_epoch(cli_run *r, const ebm_run_progress *p) {
    bm_train_ctx *c = r->user;
    ebm_bm_eval e = {.pseudo_ll = NAN, .log_likelihood = NAN};
    if (c->mon) /* a figure that fails stays NaN */
        (void)ebm_bm_evaluate(c->m, c->mon->data, c->mon->rows, c->exact, &e);
    c->pll = e.pseudo_ll;
    c->ll = e.log_likelihood;
    const cli_fig f[] = {{"  pseudo-LL %.4f", "%.6f", c->pll}, {"  exact LL %.4f nats", "%.6f", c->ll},
                         {" (log Z %.4f)", NULL, isnan(c->ll) ? NAN : e.log_z}};
    cli_epoch_report(r, p, f, 3);
}

static ebm_status bm_save(cli_run *r, const char *path) {
    bm_train_ctx *c = r->user;
    ebm_status s = isnan(c->pll) ? EBM_OK : ebm_meta_setf(r->meta, "ebm.train.final_pseudo_ll", "%.4f", c->pll);
    if (!s && !isnan(c->ll)) s = ebm_meta_setf(r->meta, "ebm.train.final_exact_ll", "%.4f", c->ll);
    return s ? s : ebm_bm_save(c->m, path);
}

static void bm_describe(cli_run *r, char *buf, size_t cap) {
    snprintf(buf, cap, "BM of %zu units", ebm_bm_units(((bm_train_ctx *)r->user)->m));
}

static const char *const train_about =
    "Train a fully visible Boltzmann machine (Ising model) E(x) = -(1/2 x'Wx + b'x) on binary data, with\n"
    "units in {0,1} (--spins 01) or {-1,+1} (--spins pm1; data 0 becomes -1), by CD-K or persistent CD-K\n"
    "with K sequential Gibbs sweeps (--method cd|pcd) or by maximum pseudo-likelihood (--method pl), with\n"
    "SGD + momentum or Adam.  Each epoch prints the pseudo-log-likelihood of the monitor rows and, with at\n"
    "most 25 units, their exact log-likelihood.  Data is binarised at 0.5 unless --binarize says otherwise.";

int cli_bm_train(int argc, char **argv, bool quiet) {
    const char *cmd = "train bm", *shape = NULL;
    cli_train_args ta = {0};
    size_t monitor = 1000;
    int spins = 0, scan = 0, method = 0, optim = 0, exact_mode = 0;
    float init_std = 0.01f;
    bool no_shuffle = false;
    ebm_bm_train_opts o;
    ebm_bm_train_opts_default(&o);
    cli_data_args da = CLI_DATA_ARGS("auto", "threshold", 0);
    const cli_opt opts[] = {
        CLI_TRAIN_OPTIONS(ta),
        {"spins", OPT_CHOICE, &spins, NULL, "unit values: {0,1} or {-1,+1}", 0, 0, 0, 0, "01|pm1", NULL},
        {"method", OPT_CHOICE, &method, NULL, "contrastive divergence, persistent CD or maximum pseudo-likelihood", 0, 0, 0, 0, "cd|pcd|pl", NULL},
        {"k", OPT_SIZE, &o.k, "K", "Gibbs sweeps per update (cd, pcd)", 1, 100000, 0, 0, NULL, NULL},
        {"scan", OPT_CHOICE, &scan, NULL, "order of the Gibbs updates", 0, 0, 0, 0, "systematic|random", NULL},
        {"epochs", OPT_SIZE, &o.epochs, "N", "passes over the data", 1, 1e9, 0, 0, NULL, NULL},
        {"batch", OPT_SIZE, &o.batch, "N", "rows per update", 1, 1 << 24, 0, 0, NULL, NULL},
        {"chains", OPT_SIZE, &o.chains, "N", "persistent chains for pcd (0 = batch size)", 0, 1 << 24, 0, 0, NULL, NULL},
        {"optim", OPT_CHOICE, &optim, NULL, "optimiser", 0, 0, 0, 0, "sgd|adam", NULL},
        {"lr", OPT_FLOAT, &o.optim.lr, "RATE", "learning rate", 0, FLT_MAX, 1, 0, NULL, NULL},
        {"momentum", OPT_FLOAT, &o.optim.momentum, "M", "SGD momentum", 0, 1, 0, 1, NULL, NULL},
        {"weight-decay", OPT_FLOAT, &o.optim.weight_decay, "L2", "L2 weight decay (all parameters)", 0, 1e3, 0, 0, NULL, NULL},
        {"grad-clip", OPT_FLOAT, &o.optim.clip, "NORM", "clip the gradient's L2 norm (0 = off)", 0, 1e30, 0, 0, NULL, NULL},
        {"init-std", OPT_FLOAT, &init_std, "S", "standard deviation of the initial couplings", 0, 10, 0, 0, NULL, NULL},
        CLI_SEED_OPTION(o.seed, "random seed (initialisation, shuffling, sampling)"),
        {"no-shuffle", OPT_FLAG, &no_shuffle, NULL, "keep the data order (default: reshuffle every epoch)", 0, 0, 0, 0, NULL, NULL},
        CLI_DATA_OPTIONS(da),
        {"monitor", OPT_SIZE, &monitor, "N", "rows for the per-epoch pseudo-LL / exact LL (0 = off)", 0, 1e9, 0, 0, NULL, NULL},
        {"exact", OPT_CHOICE, &exact_mode, NULL, "exact log-likelihood each epoch (auto: <= 25 units)", 0, 0, 0, 0, "auto|on|off", NULL},
        {"shape", OPT_STR, &shape, "HxW", "image shape of a row, stored in the model (default: the data's, if known)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        OPT_END,
    };
    size_t npos, sh = 0, sw = 0;
    int rc = cli_start(cmd, argc, argv, opts, "ebm train bm --data SPEC --out PATH [options]", train_about, NULL, 0, &npos);
    if (rc >= 0 || (rc = cli_train_check(cmd, &ta)) >= 0) return rc;
    o.method = (ebm_bm_method)method;
    o.scan = (ebm_bm_scan)scan;
    o.optim.kind = optim ? EBM_OPTIM_ADAM : EBM_OPTIM_SGD;
    o.shuffle = !no_shuffle;
    ebm_dataset *d = cli_bm_load_binary(cmd, ta.data, &da, spins ? -1.0f : 0.0f, quiet);
    if (!d) return 1;
    size_t n = d->x->cols;
    bool exact = exact_mode == 1 || (exact_mode == 0 && n <= EXACT_AUTO_UNITS);
    ebm_bm *m = NULL;
    ebm_trainer *t = NULL;
    rc = 1;
    if (exact && n > EBM_EXACT_MAX_UNITS) {
        rc = cli_error(cmd, "--exact on needs at most %d units; this data has %zu columns", EBM_EXACT_MAX_UNITS, n);
        goto done;
    }
    if (shape && !cli_image_shape(cmd, n, 0, 0, shape, &sh, &sw)) goto done;
    ebm_rng init;
    ebm_rng_seed(&init, o.seed, 100);
    ebm_status s = ebm_bm_new(n, (ebm_bm_spins)spins, &m);
    if (!s) s = ebm_bm_init(m, &init, init_std, d->x);
    if (!s) s = ebm_bm_trainer_new(m, &o, &t);
    ebm_meta *mt = m ? ebm_bm_meta(m) : NULL;
    if (!s) s = ebm_meta_setf(mt, "ebm.train.init_std", "%g", (double)init_std);
    if (!s) s = ebm_meta_set_sample_defaults(mt, 1000, 1.0f, NULL);
    if (!s) s = ebm_meta_set(mt, "ebm.sample.scan", scan ? "random" : "systematic");
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    ebm_bm_set_image_shape(m, shape ? sh : d->height, shape ? sw : d->width);
    if (!quiet) {
        char how[64] = "maximum pseudo-likelihood";
        if (o.method != EBM_BM_PL) snprintf(how, sizeof how, "%s-%zu (%s scan)", ebm_bm_method_name(o.method), o.k,
                                            scan ? "random" : "systematic");
        fprintf(stderr, "training BM of %zu units (%s) by %s: %zu epochs, batch %zu, %s lr %g\n", n,
                ebm_bm_spins_name((ebm_bm_spins)spins), how, o.epochs, o.batch, optim ? "adam" : "sgd",
                (double)o.optim.lr);
    }
    /* the monitor is the first rows of the data (a view, not a copy) */
    ebm_mat mon = {monitor < d->x->rows ? monitor : d->x->rows, n, d->x->data};
    bm_train_ctx c = {m, monitor ? &mon : NULL, exact, NAN, NAN};
    cli_run r = {.cmd = cmd, .kind = "bm", .ta = &ta, .d = d, .da = &da, .quiet = quiet, .argc = argc, .argv = argv,
                 .meta = mt, .log_header = "epoch,seconds,total_seconds,pseudo_ll,exact_ll",
                 .nan_hint = "try a smaller --lr", .save = bm_save, .on_epoch = bm_epoch, .describe = bm_describe,
                 .user = &c};
    ebm_run_opts ro;
    ebm_bm_run_opts(&o, &ro);
    rc = cli_train_run(&r, t, d->x, NULL, &ro);
done:
    ebm_trainer_free(t);
    ebm_bm_free(m);
    ebm_dataset_free(d);
    return rc;
}

/* ---- ebm sample MODEL.bm ---- */

static const char *const sample_about =
    "Draw samples from a fully visible Boltzmann machine by sequential Gibbs sampling: --n chains start\n"
    "from uniform noise or from random rows of --data and run --steps sweeps (each n unit updates, in\n"
    "order or at random with --scan random) at --temperature.  NPY/CSV hold the states in the model's\n"
    "convention ({0,1} or {-1,+1}); pictures show on = white.  Defaults come from the model file.";

typedef struct {
    const ebm_model *model;
    const ebm_bm *m;
    float *x;
    size_t n, first, count; /* x holds chains first .. first + count - 1 of n (cli_chains) */
    float T;
    ebm_bm_scan scan;
    ebm_rng rng;
} bm_sweeps;

static ebm_status bm_sweep(void *ctx, size_t sweeps) {
    bm_sweeps *b = ctx;
    return ebm_bm_gibbs_slice(b->m, b->x, b->first, b->count, sweeps, b->T, b->scan, &b->rng);
}

/* The chains' start: random rows of the data (--init data) or uniform noise; false after printing an error. */
static bool bm_start(const char *cmd, bm_sweeps *b, int init, const char *spec, bool quiet) {
    ebm_dataset *d = NULL;
    if (init == 1 && (!cli_model_data(cmd, &spec, ebm_model_meta(b->model), "--init data needs --data") ||
                      !(d = cli_model_rows(cmd, b->model, spec, NULL, quiet))))
        return false;
    ebm_status s = ebm_bm_chains_start_slice(b->m, d ? d->x : NULL, b->x, b->first, b->count, b->n, &b->rng);
    ebm_dataset_free(d);
    if (s) cli_lib_error(cmd, s);
    return !s;
}

int cli_bm_sample(int argc, char **argv, bool quiet) {
    const char *cmd = "sample", *data_spec = NULL, *scan_name = "systematic", *path;
    cli_sample_out out = CLI_SAMPLE_OUT_INIT;
    bm_sweeps b = {.n = 100, .T = 1.0f, .scan = EBM_SCAN_SYSTEMATIC};
    size_t steps = 1000, h = 0, w = 0, h0, w0;
    uint64_t seed = 1;
    int init = 0;
    bool steps_seen = false, t_seen = false, scan_seen = false;
    const cli_opt opts[] = {
        {"n", OPT_SIZE, &b.n, "N", "number of chains (samples)", 1, 1e7, 0, 0, NULL, NULL},
        {"steps", OPT_SIZE, &steps, "S", "Gibbs sweeps per chain", 0, 1e9, 0, 0, NULL, &steps_seen},
        {"temperature", OPT_FLOAT, &b.T, "T", "sampling temperature", 0, 1e6, 1, 0, NULL, &t_seen},
        {"scan", OPT_STR, &scan_name, "systematic|random", "order of the unit updates", -INFINITY, INFINITY, 0, 0, NULL, &scan_seen},
        CLI_INIT_OPTIONS(init, NULL, data_spec),
        CLI_SEED_OPTION(seed, "random seed"),
        CLI_SAMPLE_OUT_OPTIONS(out),
        OPT_END,
    };
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm sample MODEL [--png PATH] [--npy PATH] [--csv PATH] [options]",
                             sample_about, &path);
    if (rc >= 0 || (rc = cli_sample_out_check(cmd, &out, false)) >= 0) return rc;
    ebm_model *model = cli_model_load(cmd, path);
    ebm_bm *m = ebm_model_bm(model);
    if (!m) return 1;
    size_t nu = ebm_bm_units(m);
    ebm_meta *meta = ebm_bm_meta(m);
    ebm_bm_image_shape(m, &h0, &w0);
    cli_sample_meta(meta, &steps, steps_seen, &b.T, t_seen, NULL, false);
    if (!scan_seen && ebm_meta_get(meta, "ebm.sample.scan")) scan_name = ebm_meta_get(meta, "ebm.sample.scan");
    rc = 1;
    if (out.png && !cli_image_shape(cmd, nu, h0, w0, out.shape, &h, &w)) goto done;
    if (ebm_bm_scan_parse(scan_name, &b.scan)) {
        cli_error(cmd, "--scan: %s", ebm_last_error());
        rc = 2;
        goto done;
    }
    b.model = model;
    b.m = m;
    b.count = cli_chains(b.n, &b.first);
    if (!(b.x = malloc(b.count * nu * sizeof(float)))) {
        rc = cli_error(cmd, "out of memory for %zu chains", b.n);
        goto done;
    }
    ebm_rng_seed(&b.rng, seed, 0);
    if (!bm_start(cmd, &b, init, data_spec, quiet)) goto done;
    cli_progress prog;
    cli_progress_init(&prog, quiet);
    if (!quiet)
        fprintf(stderr, "sampling %zu chains x %zu %s sweeps at T = %g from %s (BM of %zu units)\n", b.n, steps,
                scan_name, (double)b.T, init ? "data" : "noise", nu);
    cli_install_sigint();
    const float *x = b.x;
    float *all = NULL;
    if ((rc = cli_run_sweeps(cmd, &prog, steps, bm_sweep, &b)) < 0 && (rc = cli_chains_gather(cmd, &x, b.n, nu, &all)) < 0)
        rc = cli_sample_out_write(cmd, quiet, &out, x, b.n, nu, ebm_bm_off_value(m) < 0, h, w) ? 0 : 1;
    free(all);
done:
    free(b.x);
    ebm_model_free(model);
    return rc;
}

/* ---- ebm eval MODEL.bm ---- */

static const char *const eval_about =
    "Evaluate a fully visible Boltzmann machine on binary data (binarised as in training): mean energy,\n"
    "pseudo-log-likelihood (sum_i log p(x_i | x_-i), mean per example) and, with at most 25 units, the\n"
    "exact log Z (Gray-code enumeration of all 2^n states) and mean log-likelihood in nats per example.";

int cli_bm_eval(int argc, char **argv, bool quiet) {
    const char *cmd = "eval", *spec = NULL, *path;
    int exact_mode = 0;
    bool json = false;
    cli_data_args da = CLI_DATA_ARGS("auto", "threshold", 0);
    const cli_opt opts[] = {
        {"data", OPT_STR, &spec, "SPEC", "evaluation data (default: the model's training data spec)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        CLI_DATA_OPTIONS(da),
        {"exact", OPT_CHOICE, &exact_mode, NULL, "exact log Z and log-likelihood (auto: <= 25 units)", 0, 0, 0, 0, "auto|on|off", NULL},
        CLI_JSON_OPTION(json),
        OPT_END,
    };
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm eval MODEL --data SPEC [options]", eval_about, &path);
    if (rc >= 0) return rc;
    ebm_model *model = cli_model_load(cmd, path);
    ebm_bm *m = ebm_model_bm(model);
    if (!m) return 1;
    ebm_dataset *d = NULL;
    size_t nu = ebm_bm_units(m);
    if (!cli_model_data(cmd, &spec, ebm_bm_meta(m), "--data is required"))
        rc = 1;
    else if (exact_mode == 1 && nu > EBM_EXACT_MAX_UNITS)
        rc = cli_error(cmd, "--exact on needs at most %d units; this model has %zu", EBM_EXACT_MAX_UNITS, nu);
    else if (!(d = cli_model_rows(cmd, model, spec, &da, quiet || json)))
        rc = 1;
    if (!d) goto done;
    bool exact = exact_mode == 1 || (exact_mode == 0 && nu <= EXACT_AUTO_UNITS);
    ebm_bm_eval e;
    double t0 = cli_now();
    ebm_status s = ebm_bm_evaluate(m, d->x->data, d->x->rows, exact, &e);
    const char *sp = ebm_bm_spins_name(ebm_bm_spin_kind(m));
    if ((rc = s ? cli_lib_error(cmd, s) : 0)) goto done;
    cli_report r = cli_report_begin(json, "model", path);
    cli_report_json(&r, ", \"kind\": \"bm\", \"units\": %zu, \"spins\": \"%s\"", nu, sp);
    cli_report_str(&r, "data", spec);
    cli_report_json(&r, ", \"rows\": %zu", d->x->rows);
    cli_report_text(&r, "model            %s (BM of %zu units, %s)\n", path, nu, sp);
    cli_report_text(&r, "data             %s: %zu rows\n", d->source, d->x->rows);
    cli_report_num(&r, "energy_mean", e.energy_mean, "energy           %.4f (mean)\n", e.energy_mean);
    cli_report_num(&r, "pseudo_ll", e.pseudo_ll, "pseudo-LL        %.4f nats per example\n", e.pseudo_ll);
    cli_report_num(&r, "log_z", e.log_z, exact ? "log Z            %.6f (exact, 2^%zu states)\n" : NULL, e.log_z, nu);
    if (exact)
        cli_report_num(&r, "log_likelihood", e.log_likelihood, "log-likelihood   %.4f nats per example (exact)\n",
                       e.log_likelihood);
    else
        cli_report_num(&r, "log_likelihood", e.log_likelihood, "log-likelihood   n/a: exact needs at most %d units "
                       "(this model: %zu)\n", EBM_EXACT_MAX_UNITS, nu);
    cli_report_end(&r, cli_now() - t0);
done:
    ebm_dataset_free(d);
    ebm_model_free(model);
    return rc;
}

/* ---- ebm info MODEL.bm ---- */

int cli_bm_info(int argc, char **argv, bool quiet) {
    const char *path;
    bool json = false;
    int rc = cli_info_json_start(argc, argv, "Describe a fully visible Boltzmann machine file: units, spin convention, "
                                 "coupling and bias\nstatistics (off-diagonal couplings) and all metadata.", &json,
                                 &path);
    ebm_model *model = rc >= 0 ? NULL : cli_model_load("info", path);
    ebm_bm *m = ebm_model_bm(model);
    if (!m) return rc >= 0 ? rc : 1;
    (void)quiet;
    size_t n = ebm_bm_units(m), np = n * (n - 1) / 2 + n, h, w;
    ebm_bm_image_shape(m, &h, &w);
    const char *sp = ebm_bm_spins_name(ebm_bm_spin_kind(m));
    cli_report r = cli_report_begin(json, "file", path);
    cli_report_json(&r, ", \"kind\": \"bm\", \"units\": %zu, \"spins\": \"%s\", \"n_params\": %zu", n, sp, np);
    cli_report_text(&r, "%s: fully visible Boltzmann machine, %zu units in %s, %zu parameters (%zu couplings, %zu "
                    "biases)\n", path, n, strcmp(sp, "pm1") == 0 ? "{-1,+1}" : "{0,1}", np, np - n, n);
    if (h) cli_report_text(&r, "image shape %zu x %zu\n", h, w);
    cli_report_text(&r, "parameters:\n");
    if (n > 1 && !json) cli_stat_line("W", 4, ebm_bm_weights(m), n * n, n, false);
    if (!json) cli_stat_line("b", 4, ebm_bm_bias(m), n, 0, false);
    cli_report_meta_end(&r, ebm_bm_meta(m));
    ebm_model_free(model);
    return 0;
}
