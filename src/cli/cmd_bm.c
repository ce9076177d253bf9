/* The command line for fully visible Boltzmann machines and Ising denoising: `ebm train bm`, the BM
 * branches of `ebm sample`, `ebm eval` and `ebm info` (main's commands hand over when the model file's
 * ebm.model is "bm"), and `ebm denoise --model ising`, which denoises one binary PNG or, with --data, a
 * batch of binarised images with added salt-and-pepper noise, reporting pixel error rates per method.
 * Data is binarised (threshold 0.5 by default) to {0,1} and mapped to the model's spin convention. */
#include "cli.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EXACT_AUTO_UNITS 25

static ebm_bm *load_bm(const char *cmd, const char *path) {
    ebm_bm *m = NULL;
    ebm_status s = ebm_bm_load(path, &m);
    if (s) cli_lib_error(cmd, s);
    return m;
}

/* Loads spec binarised to {0,1} (the --binarize default is threshold) and maps 0 to off (0 or -1); n (0 =
 * any) is the expected width.  NULL after printing an error. */
static ebm_dataset *load_binary(const char *cmd, const char *spec, cli_data_args *da, size_t n, float off,
                                bool quiet) {
    ebm_data_opts o;
    if (!cli_data_opts(cmd, da, &o)) return NULL;
    ebm_dataset *d = cli_load_data(cmd, spec, &o, quiet);
    if (!d) return NULL;
    if (n && d->x->cols != n) {
        cli_error(cmd, "%s has %zu columns but the model has %zu units", spec, d->x->cols, n);
        ebm_dataset_free(d);
        return NULL;
    }
    if (!cli_is_binary(d->x)) {
        cli_error(cmd, "%s is not binary after --binarize %s; a Boltzmann machine needs 0/1 values (try --binarize "
                       "threshold)", spec, da->binarize);
        ebm_dataset_free(d);
        return NULL;
    }
    size_t N = d->x->rows * d->x->cols;
    for (size_t i = 0; i < N; i++)
        if (d->x->data[i] == 0.0f) d->x->data[i] = off;
    return d;
}

#define DATA_OPTS(da)                                                                                                     \
    {"scale", OPT_STR, &(da).scale, "auto|none|255|minmax", "scaling of the data to [0, 1] before binarising", -INFINITY, INFINITY, 0, 0, NULL, &(da).scale_seen}, \
    {"binarize", OPT_STR, &(da).binarize, "none|threshold|stochastic", "binarisation to {0,1} (0 becomes -1 for pm1 models)", -INFINITY, INFINITY, 0, 0, NULL, &(da).binarize_seen}, \
    {"threshold", OPT_FLOAT, &(da).threshold, "T", "threshold for --binarize threshold", 0, 1, 0, 0, NULL, &(da).threshold_seen}, \
    {"limit", OPT_SIZE, &(da).limit, "N", "use the first N rows only (0 = all)", 0, 1e12, 0, 0, NULL, NULL}

/* ---- ebm train bm ---- */

typedef struct {
    ebm_bm *m;
    const ebm_mat *mon;
    bool exact;
    FILE *log;
    cli_progress prog;
    size_t epochs_done;
    double last_pll, last_ll;
} bm_ctx;

static int b_on_batch(const ebm_train_progress *p, void *user) {
    bm_ctx *c = user;
    if (cli_interrupted()) return 1;
    char label[64], detail[96];
    snprintf(label, sizeof label, "epoch %zu/%zu", p->epoch, p->epochs);
    snprintf(detail, sizeof detail, "%zu/%zu batches", p->batch, p->batches);
    cli_progress_bar(&c->prog, label, (double)p->batch / (double)p->batches, detail);
    return 0;
}

static int b_on_epoch(const ebm_train_progress *p, void *user) {
    bm_ctx *c = user;
    c->epochs_done = p->epoch;
    double pll = NAN, ll = NAN, lz = NAN;
    if (c->mon && ebm_bm_pseudo_ll(c->m, c->mon->data, c->mon->rows, &pll)) pll = NAN;
    if (c->mon && c->exact &&
        (ebm_bm_log_z_exact(c->m, 1.0f, &lz) || ebm_bm_log_likelihood(c->m, c->mon->data, c->mon->rows, lz, &ll)))
        ll = NAN;
    c->last_pll = pll;
    c->last_ll = ll;
    char line[256];
    int n = snprintf(line, sizeof line, "epoch %zu/%zu  %.2f s", p->epoch, p->epochs, p->seconds);
    if (!isnan(pll)) n += snprintf(line + n, sizeof line - (size_t)n, "  pseudo-LL %.4f", pll);
    if (!isnan(ll)) snprintf(line + n, sizeof line - (size_t)n, "  exact LL %.4f nats (log Z %.4f)", ll, lz);
    cli_progress_line(&c->prog, "%s", line);
    if (c->log) {
        fprintf(c->log, "%zu,%.4f,%.4f,", p->epoch, p->seconds, p->total_seconds);
        if (!isnan(pll)) fprintf(c->log, "%.6f", pll);
        fputc(',', c->log);
        if (!isnan(ll)) fprintf(c->log, "%.6f", ll);
        fputc('\n', c->log);
        fflush(c->log);
    }
    return cli_interrupted() ? 1 : 0;
}

static const char *const train_about =
    "Train a fully visible Boltzmann machine (Ising model) E(x) = -(1/2 x'Wx + b'x) on binary data, with\n"
    "units in {0,1} (--spins 01) or {-1,+1} (--spins pm1; data 0 becomes -1), by CD-K or persistent CD-K\n"
    "with K sequential Gibbs sweeps (--method cd|pcd) or by maximum pseudo-likelihood (--method pl), with\n"
    "SGD + momentum or Adam.  Each epoch prints the pseudo-log-likelihood of the monitor rows and, with at\n"
    "most 25 units, their exact log-likelihood.  Data is binarised at 0.5 unless --binarize says otherwise.";

static const char *const method_names[] = {"cd", "pcd", "pl"};

int cli_bm_train(int argc, char **argv, bool quiet) {
    const char *cmd = "train bm";
    const char *data_spec = NULL, *out = NULL, *log_path = NULL, *spins_name = "01", *scan_name = "systematic";
    const char *shape = NULL;
    size_t monitor = 1000;
    int method = 0, optim = 0, exact_mode = 0;
    float init_std = 0.01f;
    bool no_shuffle = false;
    ebm_bm_train_opts o;
    ebm_bm_train_opts_default(&o);
    cli_data_args da = {"auto", "threshold", 0.5f, 0, 1, false, false, false};
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "training data: fashion-mnist[:train|:test] or a .idx[.gz]/.npy/.csv path", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"out", OPT_STR, &out, "PATH", "where to save the model (.safetensors)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"spins", OPT_STR, &spins_name, "01|pm1", "unit values: {0,1} or {-1,+1}", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"method", OPT_CHOICE, &method, NULL, "contrastive divergence, persistent CD or maximum pseudo-likelihood", 0, 0, 0, 0, "cd|pcd|pl", NULL},
        {"k", OPT_SIZE, &o.k, "K", "Gibbs sweeps per update (cd, pcd)", 1, 100000, 0, 0, NULL, NULL},
        {"scan", OPT_STR, &scan_name, "systematic|random", "order of the Gibbs updates", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"epochs", OPT_SIZE, &o.epochs, "N", "passes over the data", 1, 1e9, 0, 0, NULL, NULL},
        {"batch", OPT_SIZE, &o.batch, "N", "rows per update", 1, 1 << 24, 0, 0, NULL, NULL},
        {"chains", OPT_SIZE, &o.chains, "N", "persistent chains for pcd (0 = batch size)", 0, 1 << 24, 0, 0, NULL, NULL},
        {"optim", OPT_CHOICE, &optim, NULL, "optimiser", 0, 0, 0, 0, "sgd|adam", NULL},
        {"lr", OPT_FLOAT, &o.optim.lr, "RATE", "learning rate", 0, FLT_MAX, 1, 0, NULL, NULL},
        {"momentum", OPT_FLOAT, &o.optim.momentum, "M", "SGD momentum", 0, 1, 0, 1, NULL, NULL},
        {"weight-decay", OPT_FLOAT, &o.optim.weight_decay, "L2", "L2 weight decay (all parameters)", 0, 1e3, 0, 0, NULL, NULL},
        {"grad-clip", OPT_FLOAT, &o.optim.clip, "NORM", "clip the gradient's L2 norm (0 = off)", 0, 1e30, 0, 0, NULL, NULL},
        {"init-std", OPT_FLOAT, &init_std, "S", "standard deviation of the initial couplings", 0, 10, 0, 0, NULL, NULL},
        {"seed", OPT_U64, &o.seed, "S", "random seed (initialisation, shuffling, sampling)", 0, 1.8446744073709552e19, 0, 0, NULL, NULL},
        {"no-shuffle", OPT_FLAG, &no_shuffle, NULL, "keep the data order (default: reshuffle every epoch)", 0, 0, 0, 0, NULL, NULL},
        DATA_OPTS(da),
        {"monitor", OPT_SIZE, &monitor, "N", "rows for the per-epoch pseudo-LL / exact LL (0 = off)", 0, 1e9, 0, 0, NULL, NULL},
        {"exact", OPT_CHOICE, &exact_mode, NULL, "exact log-likelihood each epoch (auto: <= 25 units)", 0, 0, 0, 0, "auto|on|off", NULL},
        {"log", OPT_STR, &log_path, "CSV", "write per-epoch figures to this CSV file", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"shape", OPT_STR, &shape, "HxW", "image shape of a row, stored in the model (default: the data's, if known)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        OPT_END,
    };
    size_t npos;
    int started = cli_start(cmd, argc, argv, opts, "ebm train bm --data SPEC --out PATH [options]", train_about, NULL, 0,
                            &npos);
    if (started >= 0) return started;
    ebm_bm_spins spins;
    if (ebm_bm_spins_parse(spins_name, &spins)) return cli_error(cmd, "--spins: %s", ebm_last_error()), 2;
    if (ebm_bm_scan_parse(scan_name, &o.scan)) return cli_error(cmd, "--scan: %s", ebm_last_error()), 2;
    if (!data_spec) return cli_error(cmd, "--data is required (e.g. --data fashion-mnist --limit 2000)");
    if (!out) return cli_error(cmd, "--out is required (where to save the model)");
    if (!cli_check_writable(cmd, "--out", out)) return 1;
    if (log_path && !cli_check_writable(cmd, "--log", log_path)) return 1;
    o.method = (ebm_bm_method)method;
    o.optim.kind = optim ? EBM_OPTIM_ADAM : EBM_OPTIM_SGD;
    o.shuffle = !no_shuffle;
    float off = spins == EBM_BM_PM1 ? -1.0f : 0.0f;
    ebm_dataset *d = load_binary(cmd, data_spec, &da, 0, off, quiet);
    if (!d) return 1;
    int rc = 1;
    ebm_bm *m = NULL;
    FILE *log = NULL;
    size_t n = d->x->cols;
    bool exact = exact_mode == 1 || (exact_mode == 0 && n <= EXACT_AUTO_UNITS);
    if (exact && n > EBM_EXACT_MAX_UNITS) {
        rc = cli_error(cmd, "--exact on needs at most %d units; this data has %zu columns", EBM_EXACT_MAX_UNITS, n);
        goto done;
    }
    ebm_status s = ebm_bm_new(n, spins, &m);
    ebm_rng init;
    ebm_rng_seed(&init, o.seed, 100);
    if (!s) s = ebm_bm_init(m, &init, init_std, d->x);
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    ebm_bm_set_image_shape(m, d->height, d->width);
    if (shape) {
        size_t sh, sw;
        if (!cli_image_shape(cmd, n, 0, 0, shape, &sh, &sw)) goto done;
        ebm_bm_set_image_shape(m, sh, sw);
    }
    if (log_path) {
        if (!(log = fopen(log_path, "w"))) {
            rc = cli_error(cmd, "--log: cannot open '%s'", log_path);
            goto done;
        }
        fprintf(log, "epoch,seconds,total_seconds,pseudo_ll,exact_ll\n");
    }
    /* the monitor is the first rows of the data (a view, not a copy) */
    ebm_mat mon = {monitor < d->x->rows ? monitor : d->x->rows, n, d->x->data};
    bm_ctx c = {m, monitor ? &mon : NULL, exact, log, {0}, 0, NAN, NAN};
    cli_progress_init(&c.prog, quiet);
    o.on_batch = b_on_batch;
    o.on_epoch = b_on_epoch;
    o.user = &c;
    if (!quiet) {
        char how[64];
        if (o.method == EBM_BM_PL) snprintf(how, sizeof how, "maximum pseudo-likelihood");
        else snprintf(how, sizeof how, "%s-%zu (%s scan)", method_names[method], o.k, scan_name);
        fprintf(stderr, "training BM of %zu units (%s) by %s: %zu epochs, batch %zu, %s lr %g\n", n,
                ebm_bm_spins_name(spins), how, o.epochs, o.batch, optim ? "adam" : "sgd", (double)o.optim.lr);
    }
    cli_install_sigint();
    double t0 = cli_now();
    s = ebm_bm_train(m, d->x, &o);
    double seconds = cli_now() - t0;
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    ebm_meta *mt = ebm_bm_meta(m);
    char buf[4096];
#define SET(k, ...) \
    if (!s) s = ebm_meta_setf(mt, k, __VA_ARGS__)
    SET("ebm.data.spec", "%s", data_spec);
    SET("ebm.data.source", "%s", d->source);
    SET("ebm.data.rows", "%zu", d->x->rows);
    SET("ebm.data.scale", "%s", da.scale);
    SET("ebm.data.binarize", "%s", da.binarize);
    SET("ebm.data.threshold", "%g", (double)da.threshold);
    SET("ebm.train.method", "%s", method_names[method]);
    if (o.method != EBM_BM_PL) SET("ebm.train.k", "%zu", o.k);
    if (o.method != EBM_BM_PL) SET("ebm.train.scan", "%s", scan_name);
    SET("ebm.train.epochs", "%zu", c.epochs_done);
    SET("ebm.train.batch", "%zu", o.batch);
    SET("ebm.train.optim", "%s", optim ? "adam" : "sgd");
    SET("ebm.train.lr", "%g", (double)o.optim.lr);
    SET("ebm.train.momentum", "%g", (double)o.optim.momentum);
    SET("ebm.train.weight_decay", "%g", (double)o.optim.weight_decay);
    SET("ebm.train.init_std", "%g", (double)init_std);
    SET("ebm.train.seed", "%llu", (unsigned long long)o.seed);
    SET("ebm.train.seconds", "%.2f", seconds);
    cli_utc_now(buf, sizeof buf);
    SET("ebm.train.date", "%s", buf);
    cli_join_args(argc, argv, buf, sizeof buf);
    SET("ebm.train.command", "ebm train bm %s", buf);
    if (!isnan(c.last_pll)) SET("ebm.train.final_pseudo_ll", "%.4f", c.last_pll);
    if (!isnan(c.last_ll)) SET("ebm.train.final_exact_ll", "%.4f", c.last_ll);
    SET("ebm.sample.steps", "%d", 1000);
    SET("ebm.sample.temperature", "%g", 1.0);
    SET("ebm.sample.scan", "%s", scan_name);
#undef SET
    if (!s) s = ebm_bm_save(m, out);
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    if (!quiet) fprintf(stderr, "saved %s (BM of %zu units, %.2f s)\n", out, n, seconds);
    rc = 0;
done:
    if (log) fclose(log);
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
    const ebm_bm *m;
    float *x;
    size_t n;
    float T;
    ebm_bm_scan scan;
    ebm_rng *rng;
} bm_sweeps;

static ebm_status bm_sweep(void *ctx, size_t sweeps) {
    bm_sweeps *b = ctx;
    return ebm_bm_gibbs(b->m, b->x, b->n, sweeps, b->T, b->scan, b->rng);
}

int cli_bm_sample(int argc, char **argv, bool quiet) {
    const char *cmd = "sample";
    cli_sample_out out = CLI_SAMPLE_OUT_INIT;
    size_t n = 100, steps = 1000;
    float temperature = 1.0f;
    uint64_t seed = 1;
    int init = 0;
    const char *data_spec = NULL, *scan_name = "systematic";
    bool steps_seen = false, t_seen = false, scan_seen = false;
    cli_data_args da = {"auto", "threshold", 0.5f, 0, 1, false, false, false};
    const cli_opt opts[] = {
        {"n", OPT_SIZE, &n, "N", "number of chains (samples)", 1, 1e7, 0, 0, NULL, NULL},
        {"steps", OPT_SIZE, &steps, "S", "Gibbs sweeps per chain", 0, 1e9, 0, 0, NULL, &steps_seen},
        {"temperature", OPT_FLOAT, &temperature, "T", "sampling temperature", 0, 1e6, 1, 0, NULL, &t_seen},
        {"scan", OPT_STR, &scan_name, "systematic|random", "order of the unit updates", -INFINITY, INFINITY, 0, 0, NULL, &scan_seen},
        {"init", OPT_CHOICE, &init, NULL, "start chains from noise or from data rows", 0, 0, 0, 0, "noise|data", NULL},
        {"data", OPT_STR, &data_spec, "SPEC", "data for --init data (default: the model's training data)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"seed", OPT_U64, &seed, "S", "random seed", 0, 1.8446744073709552e19, 0, 0, NULL, NULL},
        CLI_SAMPLE_OUT_OPTIONS(out),
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm sample MODEL [--png PATH] [--npy PATH] [--csv PATH] [options]",
                             sample_about, &path);
    if (rc >= 0) return rc;
    if ((rc = cli_sample_out_check(cmd, &out, false)) >= 0) return rc;
    ebm_bm *m = load_bm(cmd, path);
    if (!m) return 1;
    rc = 1;
    ebm_dataset *d = NULL;
    float *x = NULL;
    size_t nu = ebm_bm_units(m), h0, w0, h = 0, w = 0;
    ebm_meta *meta = ebm_bm_meta(m);
    ebm_bm_image_shape(m, &h0, &w0);
    if (out.png && !cli_image_shape(cmd, nu, h0, w0, out.shape, &h, &w)) goto done;
    if (!steps_seen) cli_meta_size(meta, "ebm.sample.steps", &steps);
    if (!t_seen) cli_meta_float(meta, "ebm.sample.temperature", &temperature);
    if (!(temperature > 0)) temperature = 1.0f;
    if (!scan_seen && ebm_meta_get(meta, "ebm.sample.scan")) scan_name = ebm_meta_get(meta, "ebm.sample.scan");
    ebm_bm_scan scan;
    if (ebm_bm_scan_parse(scan_name, &scan)) {
        rc = cli_error(cmd, "--scan: %s", ebm_last_error());
        rc = 2;
        goto done;
    }
    float off = ebm_bm_off_value(m);
    if (!(x = malloc(n * nu * sizeof(float)))) {
        rc = cli_error(cmd, "out of memory for %zu chains", n);
        goto done;
    }
    ebm_rng rng;
    ebm_rng_seed(&rng, seed, 0);
    if (init == 1) {
        const char *spec = data_spec ? data_spec : ebm_meta_get(meta, "ebm.data.spec");
        if (!spec) {
            rc = cli_error(cmd, "--init data needs --data (the model does not record its training data)");
            goto done;
        }
        cli_data_args_from_model(&da, meta);
        if (!(d = load_binary(cmd, spec, &da, nu, off, quiet))) goto done;
        for (size_t c = 0; c < n; c++)
            memcpy(x + c * nu, d->x->data + ebm_rng_below(&rng, d->x->rows) * nu, nu * sizeof(float));
    } else {
        for (size_t i = 0; i < n * nu; i++) x[i] = ebm_rng_uniform(&rng) < 0.5 ? 1.0f : off;
    }
    cli_progress prog;
    cli_progress_init(&prog, quiet);
    if (!quiet)
        fprintf(stderr, "sampling %zu chains x %zu %s sweeps at T = %g from %s (BM of %zu units)\n", n, steps, scan_name,
                (double)temperature, init ? "data" : "noise", nu);
    cli_install_sigint();
    bm_sweeps bs = {m, x, n, temperature, scan, &rng};
    if ((rc = cli_run_sweeps(cmd, &prog, steps, bm_sweep, &bs)) >= 0) goto done;
    rc = 1;
    if (!cli_sample_out_write(cmd, quiet, &out, x, n, nu, off < 0, h, w)) goto done;
    rc = 0;
done:
    free(x);
    ebm_dataset_free(d);
    ebm_bm_free(m);
    return rc;
}

/* ---- ebm eval MODEL.bm ---- */

static const char *const eval_about =
    "Evaluate a fully visible Boltzmann machine on binary data (binarised as in training): mean energy,\n"
    "pseudo-log-likelihood (sum_i log p(x_i | x_-i), mean per example) and, with at most 25 units, the\n"
    "exact log Z (Gray-code enumeration of all 2^n states) and mean log-likelihood in nats per example.";

int cli_bm_eval(int argc, char **argv, bool quiet) {
    const char *cmd = "eval";
    const char *data_spec = NULL;
    int exact_mode = 0;
    bool json = false;
    cli_data_args da = {"auto", "threshold", 0.5f, 0, 1, false, false, false};
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "evaluation data (default: the model's training data spec)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        DATA_OPTS(da),
        {"exact", OPT_CHOICE, &exact_mode, NULL, "exact log Z and log-likelihood (auto: <= 25 units)", 0, 0, 0, 0, "auto|on|off", NULL},
        {"json", OPT_FLAG, &json, NULL, "print one JSON object instead of text", 0, 0, 0, 0, NULL, NULL},
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm eval MODEL --data SPEC [options]", eval_about, &path);
    if (rc >= 0) return rc;
    ebm_bm *m = load_bm(cmd, path);
    if (!m) return 1;
    rc = 1;
    ebm_dataset *d = NULL;
    double *E = NULL;
    size_t nu = ebm_bm_units(m);
    ebm_meta *meta = ebm_bm_meta(m);
    if (!data_spec) data_spec = ebm_meta_get(meta, "ebm.data.spec");
    if (!data_spec) {
        rc = cli_error(cmd, "--data is required (the model does not record its training data)");
        goto done;
    }
    if (exact_mode == 1 && nu > EBM_EXACT_MAX_UNITS) {
        rc = cli_error(cmd, "--exact on needs at most %d units; this model has %zu", EBM_EXACT_MAX_UNITS, nu);
        goto done;
    }
    cli_data_args_from_model(&da, meta);
    if (!(d = load_binary(cmd, data_spec, &da, nu, ebm_bm_off_value(m), quiet || json))) goto done;
    size_t rows = d->x->rows;
    bool exact = exact_mode == 1 || (exact_mode == 0 && nu <= EXACT_AUTO_UNITS);
    if (!(E = malloc((rows ? rows : 1) * sizeof *E))) {
        rc = cli_error(cmd, "out of memory");
        goto done;
    }
    double t0 = cli_now(), emean = 0, pll = NAN, lz = NAN, ll = NAN;
    ebm_status s = ebm_bm_energy(m, d->x->data, rows, E);
    if (!s) s = ebm_bm_pseudo_ll(m, d->x->data, rows, &pll);
    if (!s && exact) s = ebm_bm_log_z_exact(m, 1.0f, &lz);
    if (!s && exact) s = ebm_bm_log_likelihood(m, d->x->data, rows, lz, &ll);
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    for (size_t i = 0; i < rows; i++) emean += E[i] / (double)rows;
    double seconds = cli_now() - t0;
    if (json) {
        printf("{\"model\": ");
        cli_json_string(stdout, path);
        printf(", \"kind\": \"bm\", \"units\": %zu, \"spins\": \"%s\", \"data\": ", nu,
               ebm_bm_spins_name(ebm_bm_spin_kind(m)));
        cli_json_string(stdout, data_spec);
        printf(", \"rows\": %zu, \"energy_mean\": ", rows);
        cli_json_number(stdout, emean);
        printf(", \"pseudo_ll\": ");
        cli_json_number(stdout, pll);
        printf(", \"log_z\": ");
        cli_json_number(stdout, lz);
        printf(", \"log_likelihood\": ");
        cli_json_number(stdout, ll);
        printf(", \"seconds\": %.3f}\n", seconds);
    } else {
        printf("model            %s (BM of %zu units, %s)\n", path, nu, ebm_bm_spins_name(ebm_bm_spin_kind(m)));
        printf("data             %s: %zu rows\n", d->source, rows);
        printf("energy           %.4f (mean)\n", emean);
        printf("pseudo-LL        %.4f nats per example\n", pll);
        if (exact) {
            printf("log Z            %.6f (exact, 2^%zu states)\n", lz, nu);
            printf("log-likelihood   %.4f nats per example (exact)\n", ll);
        } else {
            printf("log-likelihood   n/a: exact needs at most %d units (this model: %zu)\n", EBM_EXACT_MAX_UNITS, nu);
        }
    }
    rc = 0;
done:
    free(E);
    ebm_dataset_free(d);
    ebm_bm_free(m);
    return rc;
}

/* ---- ebm info MODEL.bm ---- */

static void bm_stat_line(const char *name, const float *x, size_t n, size_t stride_skip) {
    double s = 0, sq = 0, mn = INFINITY, mx = -INFINITY;
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (stride_skip && i % (stride_skip + 1) == 0) continue; /* the diagonal of an (s, s) matrix */
        s += x[i];
        sq += (double)x[i] * x[i];
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
        count++;
    }
    double mean = count ? s / (double)count : 0;
    printf("  %-4s mean %+.4f  std %.4f  min %+.4f  max %+.4f\n", name, mean,
           count ? sqrt(fmax(0, sq / (double)count - mean * mean)) : 0.0, mn, mx);
}

int cli_bm_info(int argc, char **argv, bool quiet) {
    (void)quiet;
    const char *cmd = "info";
    bool json = false;
    const cli_opt opts[] = {
        {"json", OPT_FLAG, &json, NULL, "print one JSON object instead of text", 0, 0, 0, 0, NULL, NULL},
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm info MODEL [--json]",
                             "Describe a fully visible Boltzmann machine file: units, spin convention, coupling and bias\n"
                             "statistics (off-diagonal couplings) and all metadata.", &path);
    if (rc >= 0) return rc;
    ebm_bm *m = load_bm(cmd, path);
    if (!m) return 1;
    size_t n = ebm_bm_units(m), h, w;
    ebm_bm_image_shape(m, &h, &w);
    const char *sp = ebm_bm_spins_name(ebm_bm_spin_kind(m));
    if (json) {
        printf("{\"file\": ");
        cli_json_string(stdout, path);
        printf(", \"kind\": \"bm\", \"units\": %zu, \"spins\": \"%s\", \"n_params\": %zu, \"metadata\": {", n, sp,
               n * (n - 1) / 2 + n);
        cli_print_meta(ebm_bm_meta(m), true);
        printf("}}\n");
    } else {
        printf("%s: fully visible Boltzmann machine, %zu units in %s, %zu parameters (%zu couplings, %zu biases)\n",
               path, n, strcmp(sp, "pm1") == 0 ? "{-1,+1}" : "{0,1}", n * (n - 1) / 2 + n, n * (n - 1) / 2, n);
        if (h) printf("image shape %zu x %zu\n", h, w);
        printf("parameters:\n");
        if (n > 1) bm_stat_line("W", ebm_bm_weights(m), n * n, n);
        bm_stat_line("b", ebm_bm_bias(m), n, 0);
        printf("metadata:\n");
        cli_print_meta(ebm_bm_meta(m), false);
    }
    ebm_bm_free(m);
    return 0;
}

/* ---- ebm denoise --model ising ---- */

static const char *const denoise_about =
    "Denoise binary images with the grid Ising prior (Bishop, PRML 8.3.3): hidden clean y in {-1,+1}\n"
    "on the 4-neighbour grid, observed x, E(y; x) = -beta sum_{i~j} y_i y_j - eta sum_i x_i y_i - h sum_i y_i.\n"
    "Methods: icm (iterated conditional modes until nothing changes), anneal (--sweeps Gibbs sweeps with\n"
    "the temperature falling geometrically from --t0 to --t1, then ICM), gibbs (posterior marginals: mean of\n"
    "p(y_i = +1 | rest) over --sweeps sweeps after --burn-in, thresholded at 1/2: the MPM estimate).\n"
    "\n"
    "One image: ebm denoise --model ising [options] IN.png OUT.png reads a grey PNG, thresholds it at 0.5\n"
    "(white = +1) and writes the denoised binary PNG.\n"
    "Batch: ebm denoise --model ising --data SPEC --n N --noise P [--png GRID] binarises N images at 0.5,\n"
    "adds salt-and-pepper noise (each pixel independently, with probability P, is replaced by a fair coin\n"
    "flip: 0 or 1 with probability 1/2 each, so about P/2 of the pixels change) and prints the pixel error\n"
    "rate (fraction of pixels differing from the clean binarised image) before and after each method.";

/* y (n) in {-1,+1} from the method; x (n) the observation. */
static ebm_status run_method(int method, const ebm_ising *g, float *y, size_t sweeps, size_t burn_in, float t0,
                             float t1, ebm_rng *rng, float *marg) {
    size_t n = g->height * g->width;
    memcpy(y, g->x, n * sizeof(float));
    if (method == 0) return ebm_ising_icm(g, y, 0, NULL);
    if (method == 1) return ebm_ising_anneal(g, y, sweeps, t0, t1, rng);
    ebm_status s = ebm_ising_gibbs(g, y, burn_in, sweeps, rng, marg);
    for (size_t i = 0; !s && i < n; i++) y[i] = marg[i] > 0.5f ? 1.0f : -1.0f;
    return s;
}

static const char *const den_methods[] = {"icm", "anneal", "gibbs"};

int cmd_denoise_ising(int argc, char **argv, bool quiet) {
    const char *cmd = "denoise";
    const char *model = NULL, *data_spec = NULL, *png = NULL, *marg_path = NULL;
    int method = -1;
    float beta = 1.0f, eta = 2.0f, hb = 0.0f, noise = 0.1f, t0 = 4.0f, t1 = 0.05f, threshold = 0.5f;
    size_t sweeps = 100, burn_in = 20, n = 1000, offset = 0, show = 8;
    uint64_t seed = 1;
    bool json = false, noise_seen = false;
    const cli_opt opts[] = {
        {"model", OPT_STR, &model, "ising", "the denoising model (ising; other values: see 'ebm denoise MODEL --help')", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"method", OPT_CHOICE, &method, NULL, "MAP by ICM or annealing, or MPM from Gibbs marginals (default: icm for one image, all three in batch mode)", 0, 0, 0, 0, "icm|anneal|gibbs", NULL},
        {"beta", OPT_FLOAT, &beta, "B", "neighbour coupling", -100, 100, 0, 0, NULL, NULL},
        {"eta", OPT_FLOAT, &eta, "E", "coupling to the observed pixel", -100, 100, 0, 0, NULL, NULL},
        {"h", OPT_FLOAT, &hb, "H", "bias towards white (+1)", -100, 100, 0, 0, NULL, NULL},
        {"sweeps", OPT_SIZE, &sweeps, "N", "annealing sweeps / Gibbs sweeps averaged", 1, 1e7, 0, 0, NULL, NULL},
        {"burn-in", OPT_SIZE, &burn_in, "N", "Gibbs sweeps before averaging", 0, 1e7, 0, 0, NULL, NULL},
        {"t0", OPT_FLOAT, &t0, "T", "annealing start temperature", 0, 1e6, 1, 0, NULL, NULL},
        {"t1", OPT_FLOAT, &t1, "T", "annealing final temperature", 0, 1e6, 1, 0, NULL, NULL},
        {"threshold", OPT_FLOAT, &threshold, "T", "grey level (in [0, 1]) at and above which a pixel is white (+1)", 0, 1, 0, 0, NULL, NULL},
        {"seed", OPT_U64, &seed, "S", "random seed (noise, annealing, Gibbs)", 0, 1.8446744073709552e19, 0, 0, NULL, NULL},
        {"marginals", OPT_STR, &marg_path, "PNG", "one image, gibbs: also write p(y_i = white) as a grey PNG", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"data", OPT_STR, &data_spec, "SPEC", "batch mode: clean images (fashion-mnist:test, an IDX/NPY/CSV path)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"n", OPT_SIZE, &n, "N", "batch mode: number of images", 1, 1e9, 0, 0, NULL, NULL},
        {"offset", OPT_SIZE, &offset, "I", "batch mode: first image", 0, 1e12, 0, 0, NULL, NULL},
        {"noise", OPT_FLOAT, &noise, "P", "batch mode: salt-and-pepper probability", 0, 1, 0, 0, NULL, &noise_seen},
        {"png", OPT_STR, &png, "PATH", "batch mode: grid of clean, noisy and denoised images", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"show", OPT_SIZE, &show, "K", "batch mode: images in the --png grid", 1, 1000, 0, 0, NULL, NULL},
        {"json", OPT_FLAG, &json, NULL, "batch mode: print one JSON object", 0, 0, 0, 0, NULL, NULL},
        OPT_END,
    };
    const char *pos[2];
    size_t npos;
    const char *usage = "ebm denoise --model ising [options] IN.png OUT.png  |  ebm denoise --model ising --data SPEC --noise P [options]";
    int rc = cli_start(cmd, argc, argv, opts, usage, denoise_about, pos, 2, &npos);
    if (rc >= 0) return rc;
    if (!model || strcmp(model, "ising") != 0)
        return cli_error(cmd, "--model: '%s' is not a known denoising model (ising)", model ? model : ""), 2;
    if (t1 > t0) return cli_error(cmd, "--t1 %g must not exceed --t0 %g", (double)t1, (double)t0), 2;
    ebm_status s;
    rc = 1;
    if (!data_spec) {
        if (npos != 2) return cli_error(cmd, "give IN.png and OUT.png (or --data SPEC for batch mode): %s", usage), 2;
        if (noise_seen || png) return cli_error(cmd, "--noise and --png belong to batch mode (--data)"), 2;
        if (marg_path && method != 2) return cli_error(cmd, "--marginals needs --method gibbs"), 2;
        if (!cli_check_writable(cmd, "output", pos[1]) || (marg_path && !cli_check_writable(cmd, "--marginals", marg_path)))
            return 1;
        ebm_array *a = NULL;
        if ((s = ebm_png_read(pos[0], &a))) return cli_lib_error(cmd, s);
        size_t H = a->shape[0], W = a->shape[1], c = a->ndim == 3 ? a->shape[2] : 1, N = H * W;
        float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float)), *mg = malloc(N * sizeof(float));
        uint8_t *px = malloc(N);
        if (!x || !y || !mg || !px) {
            rc = cli_error(cmd, "out of memory for a %zu x %zu image", H, W);
            goto single_done;
        }
        const uint8_t *src = a->data;
        size_t cc = c >= 3 ? 3 : 1; /* grey, or the mean of R, G, B; alpha is ignored */
        for (size_t i = 0; i < N; i++) {
            double v = 0;
            for (size_t k = 0; k < cc; k++) v += src[i * c + k];
            x[i] = v / (255.0 * (double)cc) >= threshold ? 1.0f : -1.0f;
        }
        ebm_ising g = {H, W, beta, eta, hb, x};
        ebm_rng rng;
        ebm_rng_seed(&rng, seed, 0);
        int mth = method < 0 ? 0 : method;
        double e0, e1, t = cli_now();
        s = ebm_ising_energy(&g, x, &e0);
        if (!s) s = run_method(mth, &g, y, sweeps, burn_in, t0, t1, &rng, mg);
        if (!s) s = ebm_ising_energy(&g, y, &e1);
        if (s) {
            rc = cli_lib_error(cmd, s);
            goto single_done;
        }
        size_t changed = 0;
        for (size_t i = 0; i < N; i++) {
            changed += y[i] != x[i];
            px[i] = y[i] > 0 ? 255 : 0;
        }
        if ((s = ebm_png_write(pos[1], px, H, W, 1))) {
            rc = cli_lib_error(cmd, s);
            goto single_done;
        }
        if (marg_path) {
            for (size_t i = 0; i < N; i++) px[i] = (uint8_t)lrintf(255.0f * mg[i]);
            if ((s = ebm_png_write(marg_path, px, H, W, 1))) {
                rc = cli_lib_error(cmd, s);
                goto single_done;
            }
        }
        if (!quiet)
            fprintf(stderr, "%s: %zu x %zu, beta %g, eta %g: %zu pixels changed (%.2f%%), energy %.1f -> %.1f, %.2f s; wrote %s\n",
                    den_methods[mth], H, W, (double)beta, (double)eta, changed, 100.0 * (double)changed / (double)N, e0,
                    e1, cli_now() - t, pos[1]);
        rc = 0;
    single_done:
        free(x);
        free(y);
        free(mg);
        free(px);
        ebm_array_free(a);
        return rc;
    }

    /* batch mode */
    if (npos) return cli_error(cmd, "batch mode (--data) takes no image arguments"), 2;
    if (marg_path) return cli_error(cmd, "--marginals belongs to single-image mode"), 2;
    if (png && !cli_check_writable(cmd, "--png", png)) return 1;
    cli_data_args da = {"auto", "threshold", threshold, offset + n, 1, false, false, false};
    ebm_dataset *d = load_binary(cmd, data_spec, &da, 0, -1.0f, quiet || json);
    if (!d) return 1;
    float *y = NULL, *noisy = NULL, *mg = NULL, *tiles = NULL;
    size_t D = d->x->cols, H = d->height, W = d->width;
    if (!H || H * W != D) {
        size_t r = (size_t)(sqrt((double)D) + 0.5);
        if (r * r != D) {
            rc = cli_error(cmd, "%s: rows of %zu values are not a known image shape", data_spec, D);
            goto done;
        }
        H = W = r;
    }
    if (offset >= d->x->rows) {
        rc = cli_error(cmd, "--offset %zu is past the %zu rows of %s", offset, d->x->rows, data_spec);
        goto done;
    }
    if (offset + n > d->x->rows) n = d->x->rows - offset;
    int first = method < 0 ? 0 : method, last = method < 0 ? 2 : method;
    size_t nm = (size_t)(last - first + 1), K = show < n ? show : n;
    y = malloc(D * sizeof(float));
    mg = malloc(D * sizeof(float));
    noisy = malloc(n * D * sizeof(float));
    tiles = png ? malloc(K * (2 + nm) * D * sizeof(float)) : NULL;
    if (!y || !mg || !noisy || (png && !tiles)) {
        rc = cli_error(cmd, "out of memory");
        goto done;
    }
    const float *clean = d->x->data + offset * D;
    size_t err_before = 0, err_after[3] = {0, 0, 0};
    double secs[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        ebm_rng r;
        ebm_rng_seed(&r, seed, offset + i);
        for (size_t p = 0; p < D; p++) {
            float v = clean[i * D + p];
            if (ebm_rng_uniform(&r) < noise) v = ebm_rng_uniform(&r) < 0.5 ? 1.0f : -1.0f;
            noisy[i * D + p] = v;
            err_before += v != clean[i * D + p];
        }
    }
    cli_progress prog;
    cli_progress_init(&prog, quiet || json);
    cli_install_sigint();
    for (int mth = first; mth <= last; mth++) {
        double t = cli_now();
        for (size_t i = 0; i < n; i++) {
            ebm_ising g = {H, W, beta, eta, hb, noisy + i * D};
            ebm_rng r;
            ebm_rng_seed(&r, seed ^ 0x6973696e67ull, (uint64_t)(offset + i) * 3 + (uint64_t)mth);
            if ((s = run_method(mth, &g, y, sweeps, burn_in, t0, t1, &r, mg))) {
                rc = cli_lib_error(cmd, s);
                goto done;
            }
            for (size_t p = 0; p < D; p++) err_after[mth] += y[p] != clean[i * D + p];
            if (tiles && i < K) {
                float *row = tiles + i * (2 + nm) * D;
                for (size_t p = 0; p < D; p++) {
                    row[p] = clean[i * D + p] > 0;
                    row[D + p] = noisy[i * D + p] > 0;
                    row[(2 + (size_t)(mth - first)) * D + p] = y[p] > 0;
                }
            }
            if (cli_interrupted()) {
                cli_progress_end(&prog);
                rc = cli_error(cmd, "interrupted");
                rc = 130;
                goto done;
            }
            char detail[64];
            snprintf(detail, sizeof detail, "%zu/%zu images", i + 1, n);
            cli_progress_bar(&prog, den_methods[mth], (double)(i + 1) / (double)n, detail);
        }
        cli_progress_end(&prog);
        secs[mth] = cli_now() - t;
    }
    double total = (double)n * (double)D;
    if (json) {
        printf("{\"data\": ");
        cli_json_string(stdout, data_spec);
        printf(", \"images\": %zu, \"offset\": %zu, \"noise\": %g, \"beta\": %g, \"eta\": %g, \"h\": %g, \"sweeps\": %zu, "
               "\"error_before\": %.6f, \"methods\": {",
               n, offset, (double)noise, (double)beta, (double)eta, (double)hb, sweeps, (double)err_before / total);
        for (int mth = first; mth <= last; mth++)
            printf("%s\"%s\": {\"error\": %.6f, \"seconds\": %.3f}", mth > first ? ", " : "", den_methods[mth],
                   (double)err_after[mth] / total, secs[mth]);
        printf("}}\n");
    } else {
        printf("data %s: %zu images from %zu, %zu x %zu, binarised at %g; salt-and-pepper p = %g\n", d->source, n, offset,
               H, W, (double)threshold, (double)noise);
        printf("model: beta %g, eta %g, h %g\n", (double)beta, (double)eta, (double)hb);
        printf("pixel error before  %.4f%%\n", 100.0 * (double)err_before / total);
        for (int mth = first; mth <= last; mth++)
            printf("pixel error %-7s %.4f%%  (%.2f s)\n", den_methods[mth], 100.0 * (double)err_after[mth] / total,
                   secs[mth]);
    }
    if (tiles) {
        ebm_grid_opts go;
        ebm_grid_opts_default(&go);
        go.cols = 2 + nm;
        if ((s = ebm_png_grid(png, tiles, K * (2 + nm), H, W, &go))) {
            rc = cli_lib_error(cmd, s);
            goto done;
        }
        if (!quiet && !json) fprintf(stderr, "wrote %s (columns: clean, noisy, then each method)\n", png);
    }
    rc = 0;
done:
    free(y);
    free(mg);
    free(noisy);
    free(tiles);
    ebm_dataset_free(d);
    return rc;
}

/* ---- ebm score (BM files): E(x) = -(1/2 x'Wx + b'x) of each binarised row ---- */

static ebm_dataset *bm_score_load(void *model, const char *cmd, const char *spec, size_t limit, bool quiet) {
    ebm_bm *m = model;
    cli_data_args da = {"auto", "threshold", 0.5f, limit, 1, false, false, false};
    cli_data_args_from_model(&da, ebm_bm_meta(m));
    da.limit = limit;
    return load_binary(cmd, spec, &da, ebm_bm_units(m), ebm_bm_off_value(m), quiet);
}
static ebm_status bm_score_energy(void *model, const float *x, size_t n, double *E) { return ebm_bm_energy(model, x, n, E); }
static void bm_score_free(void *model) { ebm_bm_free(model); }

bool cli_bm_scorer(const char *cmd, const char *path, cli_scorer *sc) {
    ebm_bm *m = load_bm(cmd, path);
    if (!m) return false;
    *sc = (cli_scorer){m, "E(x) = -(x'Wx/2 + b'x)", ebm_meta_get(ebm_bm_meta(m), "ebm.data.spec"), bm_score_load,
                       bm_score_energy, bm_score_free};
    return true;
}
