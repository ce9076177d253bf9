/* The Bernoulli RBM on the command line: `ebm train rbm` (CD-k or PCD-k through the library's training loop,
 * with per-epoch monitors: reconstruction error, pseudo-log-likelihood, the exact log-likelihood when a layer
 * has at most 20 units), `ebm sample` (block Gibbs from noise or data, settings from the model's
 * ebm.sample.* metadata), `ebm eval` (free energy, reconstruction, pseudo-LL, exact log Z or AIS with its
 * interval, data preprocessed as in training) and `ebm info` of RBM files. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EXACT_MONITOR_UNITS 20

/* ---- train rbm ---- */

typedef struct {
    const char *spec, *valid_spec; /* --data, --valid */
    size_t hidden, monitor;
    int exact_mode;                /* --exact auto|on|off */
    ebm_rbm *m;
    ebm_mat *mon;                  /* monitor rows (recon, PLL), or NULL */
    const ebm_mat *ll_data;        /* rows for the exact log-likelihood */
    bool pll, exact;
    float init_std;
    ebm_rbm_monitors last;         /* the last epoch's monitors */
} rbm_train;

static void rbm_detail(cli_run *r, const ebm_run_progress *p, char *buf, size_t cap) {
    (void)r;
    if (!isnan(p->mean.recon)) snprintf(buf, cap, "recon %.4f", p->mean.recon);
}

static void rbm_epoch(cli_run *r, const ebm_run_progress *p) {
    rbm_train *c = r->user;
    ebm_rbm_monitors *f = &c->last;
    ebm_rbm_monitor(c->m, c->mon ? c->mon->data : NULL, c->mon ? c->mon->rows : 0, c->pll,
                    c->exact ? c->ll_data->data : NULL, c->ll_data->rows, f);
    double recon = f->recon, pll = f->pseudo_ll, ll = f->log_likelihood, dead = f->dead, on = f->stuck_on;
    const cli_fig fig[] = {{NULL, "%.6g", p->lr}, {NULL, "%.6f", p->mean.recon}, {"  recon %.4f", "%.6f", recon},
                           {"  pseudo-LL %.2f", "%.4f", pll}, {"  exact LL %.3f nats", "%.4f", ll},
                           {NULL, "%.4f", f->log_z}, {NULL, "%.4f", dead + on}};
    cli_epoch_report(r, p, fig, 7);
    if (dead + on > 0.25)
        cli_progress_line(&r->prog, "warning: %.0f%% of the hidden units are saturated (%.0f%% never on, %.0f%% always on "
                          "over the monitor rows); a smaller --lr or a larger --weight-decay may help",
                          100 * (dead + on), 100 * dead, 100 * on);
}

static ebm_status rbm_save(cli_run *r, const char *path) {
    rbm_train *c = r->user;
    ebm_meta *mt = c->m->meta;
    ebm_status s = ebm_meta_setf(mt, "ebm.train.init_std", "%g", (double)c->init_std);
    if (!s && !ebm_meta_get(mt, "ebm.train.lr_final")) s = ebm_meta_set(mt, "ebm.train.lr_final", ebm_meta_get(mt, "ebm.train.lr"));
    const ebm_rbm_monitors *f = &c->last;
    if (!s && !isnan(f->recon)) s = ebm_meta_setf(mt, "ebm.train.final_recon", "%.6f", f->recon);
    if (!s && !isnan(f->pseudo_ll)) s = ebm_meta_setf(mt, "ebm.train.final_pseudo_ll", "%.4f", f->pseudo_ll);
    if (!s && !isnan(f->log_likelihood)) s = ebm_meta_setf(mt, "ebm.train.final_exact_ll", "%.4f", f->log_likelihood);
    if (!s) s = cli_sample_defaults(mt);
    return s ? s : ebm_rbm_save(c->m, path);
}

static void rbm_describe(cli_run *r, char *buf, size_t cap) {
    rbm_train *c = r->user;
    snprintf(buf, cap, "RBM %zu x %zu", c->m->n_vis, c->m->n_hid);
}

static const char *const train_about =
    "Train a Bernoulli restricted Boltzmann machine by contrastive divergence (--cd K, the default with\n"
    "K = 1) or persistent contrastive divergence (--pcd K) with SGD, momentum and weight decay.  Data\n"
    "values must lie in [0, 1] (grey levels are used as probabilities unless --binarize is given).\n"
    "Each epoch prints reconstruction error and pseudo-log-likelihood on monitor rows, and the exact\n"
    "log-likelihood when the hidden (or visible) layer has at most 20 units.  The model is saved at the\n"
    "end, atomically; Ctrl-C stops after the current batch and saves NAME.partial.safetensors.";

/* The checks of the data, the --valid rows, the model, its monitors and the trainer; -1 to go on, else the exit
 * status. */
static int rbm_setup(const char *cmd, rbm_train *c, const ebm_dataset *d, const ebm_data_opts *dopts, bool quiet,
                     ebm_dataset **vdp, const ebm_cd_opts *o, ebm_trainer **t) {
    if (ebm_mat_check_range(d->x, 0.0f, 1.0f, c->spec))
        return cli_error(cmd, "%s; a Bernoulli RBM needs values in [0, 1] (try --scale minmax or --scale 255)",
                         ebm_last_error());
    const ebm_dataset *vd = c->valid_spec ? (*vdp = cli_load_data(cmd, c->valid_spec, dopts, quiet)) : NULL;
    if (c->valid_spec && !vd) return 1;
    if (vd && vd->x->cols != d->x->cols)
        return cli_error(cmd, "--valid has %zu columns but --data has %zu", vd->x->cols, d->x->cols);
    ebm_status s = ebm_rbm_new(d->x->cols, c->hidden, &c->m);
    if (s) return cli_lib_error(cmd, s);
    c->m->height = d->height;
    c->m->width = d->width;
    ebm_rng init;
    ebm_rng_seed(&init, o->seed, 100);
    if ((s = ebm_rbm_init(c->m, &init, c->init_std, d->x))) return cli_lib_error(cmd, s);
    const ebm_mat *mon_src = vd ? vd->x : d->x;
    if (c->monitor > 0 && (s = ebm_mat_sample_rows(mon_src, c->monitor, o->seed, 7, &c->mon)))
        return cli_lib_error(cmd, s);
    size_t small = d->x->cols < c->hidden ? d->x->cols : c->hidden;
    c->exact = c->exact_mode == 1 || (c->exact_mode == 0 && small <= EXACT_MONITOR_UNITS);
    if (c->exact && small > EBM_EXACT_MAX_UNITS)
        return cli_error(cmd, "--exact on needs a layer of at most %d units (this model: %zu visible, %zu hidden)",
                         EBM_EXACT_MAX_UNITS, d->x->cols, c->hidden);
    c->ll_data = mon_src;
    c->pll = cli_is_binary(mon_src) && c->mon != NULL;
    s = ebm_rbm_trainer_new(c->m, o, t);
    return s ? cli_lib_error(cmd, s) : -1;
}

int cli_rbm_train(int argc, char **argv, bool quiet) {
    const char *cmd = "train rbm";
    rbm_train c = {.hidden = 256, .monitor = 200, .last = {NAN, NAN, NAN, NAN, NAN, NAN}};
    cli_train_args ta = {0};
    cli_cd_args ca;
    cli_cd_args_init(&ca);
    cli_data_args da = CLI_DATA_ARGS_INIT;
    const cli_opt opts[] = {
        CLI_TRAIN_OPTIONS(ta),
        {"hidden", OPT_SIZE, &c.hidden, "N", "hidden units", 1, 1 << 20, 0, 0, NULL, NULL},
        CLI_CD_OPTIONS(ca),
        CLI_DATA_OPTIONS(da),
        {"valid", OPT_STR, &c.valid_spec, "SPEC", "monitor on this data instead of training rows", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"monitor", OPT_SIZE, &c.monitor, "N", "rows for the per-epoch monitors (0 = off)", 0, 1e9, 0, 0, NULL, NULL},
        {"exact", OPT_CHOICE, &c.exact_mode, NULL, "exact log-likelihood each epoch (auto: when a layer has <= 20 units)", 0, 0, 0, 0, "auto|on|off", NULL},
        OPT_END,
    };
    size_t npos;
    int rc = cli_start(cmd, argc, argv, opts, "ebm train rbm --data SPEC --out PATH [options]", train_about, NULL, 0, &npos);
    if (rc >= 0 || (rc = cli_train_check(cmd, &ta)) >= 0) return rc;
    if (!cli_cd_finish(cmd, &ca)) return 1;
    c.init_std = ca.init_std;
    c.spec = ta.data;
    const ebm_cd_opts *o = &ca.o;
    ebm_data_opts dopts;
    if (!cli_data_opts(cmd, &da, &dopts)) return 2;
    dopts.seed = o->seed;
    ebm_dataset *d = cli_load_data(cmd, ta.data, &dopts, quiet), *vd = NULL;
    if (!d) return 1;
    ebm_trainer *t = NULL;
    if ((rc = rbm_setup(cmd, &c, d, &dopts, quiet, &vd, o, &t)) >= 0) goto done;
    if (!quiet) {
        fprintf(stderr, "training RBM %zu x %zu by %s-%zu: %zu epochs, batch %zu, lr %g%s, %d threads%s\n", c.m->n_vis,
                c.m->n_hid, o->mode == EBM_PCD ? "pcd" : "cd", o->k, o->epochs, o->batch, (double)o->lr,
                o->lr_final >= 0 ? " (linear decay)" : "", ebm_get_threads(), cli_precision_note(o->precision).s);
        if (!c.pll && c.mon) fprintf(stderr, "data is not binary: pseudo-log-likelihood is not monitored\n");
    }
    cli_run r = {.cmd = cmd, .kind = "rbm", .ta = &ta, .d = d, .da = &da, .quiet = quiet, .argc = argc, .argv = argv,
                 .meta = c.m->meta, .nan_hint = "try a smaller --lr or --grad-clip", .save = rbm_save,
                 .detail = rbm_detail, .on_epoch = rbm_epoch, .describe = rbm_describe, .user = &c,
                 .log_header = "epoch,seconds,total_seconds,lr,train_recon,recon,pseudo_ll,exact_ll,log_z,saturated"};
    ebm_run_opts ro;
    ebm_cd_run_opts(o, &ro);
    rc = cli_train_run(&r, t, d->x, NULL, &ro);
done:
    ebm_trainer_free(t);
    ebm_mat_free(c.mon);
    ebm_rbm_free(c.m);
    ebm_dataset_free(vd);
    ebm_dataset_free(d);
    return rc;
}

/* ---- sample ---- */

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
    int precision = EBM_PRECISION_FP32;
    cli_data_args da = CLI_DATA_ARGS_INIT;
    const cli_opt opts[] = {
        {"n", OPT_SIZE, &n, "N", "number of chains (samples)", 1, 1e7, 0, 0, NULL, NULL},
        {"steps", OPT_SIZE, &steps, "S", "Gibbs sweeps per chain", 0, 1e9, 0, 0, NULL, &steps_seen},
        {"temperature", OPT_FLOAT, &temperature, "T", "sampling temperature", 0, 1e6, 1, 0, NULL, &t_seen},
        CLI_INIT_OPTIONS(init, &init_seen, data_spec),
        {"noise-p", OPT_FLOAT, &noise_p, "P", "probability of an on unit in the noise start", 0, 1, 0, 0, NULL, NULL},
        CLI_SEED_OPTION(seed, "random seed"),
        CLI_SAMPLE_OUT_OPTIONS(out),
        {"binary", OPT_FLAG, &binary, NULL, "output the binary states instead of p(v | h)", 0, 0, 0, 0, NULL, NULL},
        CLI_PRECISION_OPTION(precision),
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm sample MODEL [--png PATH] [--npy PATH] [--csv PATH] [options]",
                             sample_about, &path);
    if (rc >= 0) return rc;
    if ((rc = cli_sample_out_check(cmd, &out, false)) >= 0) return rc;
    if (!cli_precision_check(cmd, precision)) return 2;

    ebm_rbm *m = cli_load_rbm(cmd, path, "sampling");
    if (!m) return 1;
    rc = 1;
    ebm_gibbs *g = NULL;
    ebm_dataset *d = NULL;
    float *all = NULL;
    size_t h = 0, w = 0, first, count = cli_chains(n, &first);
    if (out.png && !cli_image_shape(cmd, m->n_vis, m->height, m->width, out.shape, &h, &w)) goto done;
    cli_sample_meta(m->meta, &steps, steps_seen, &temperature, t_seen, &init, init_seen);
    ebm_rng rng;
    ebm_rng_seed(&rng, seed, 0);
    if (init == 1 && !cli_model_data(cmd, &data_spec, m->meta, "--init data needs --data")) goto done;
    const char *v = ebm_meta_get(m->meta, "ebm.data.scale");
    if (v) da.scale = v;
    ebm_data_opts dopts;
    if (init == 1 && (!cli_data_opts(cmd, &da, &dopts) || !(d = cli_load_data(cmd, data_spec, &dopts, quiet))))
        goto done;
    ebm_status s = ebm_gibbs_new(m, count, &g);
    if (!s) s = ebm_gibbs_set_slice(g, first, n);
    if (!s) s = ebm_gibbs_set_precision(g, (ebm_precision)precision);
    if (!s) s = d ? ebm_gibbs_init_data(g, d->x, &rng) : ebm_gibbs_init_noise(g, noise_p, &rng);
    if (s && (rc = cli_lib_error(cmd, s))) goto done;
    cli_progress prog;
    cli_progress_init(&prog, quiet);
    if (!quiet)
        fprintf(stderr, "sampling %zu chains x %zu sweeps at T = %g from %s (RBM %zu x %zu)%s\n", n, steps,
                (double)temperature, init ? "data" : "noise", m->n_vis, m->n_hid, cli_precision_note(precision).s);
    cli_install_sigint();
    rbm_sweeps rs = {g, temperature, &rng};
    if ((rc = cli_run_sweeps(cmd, &prog, steps, rbm_sweep, &rs)) >= 0) goto done;
    rc = 1;
    const float *src = binary || steps == 0 ? ebm_gibbs_visible(g) : ebm_gibbs_visible_mean(g);
    if ((rc = cli_chains_gather(cmd, &src, n, m->n_vis, &all)) >= 0) goto done;
    rc = 1;
    if (!cli_sample_out_write(cmd, quiet, &out, src, n, m->n_vis, false, h, w)) goto done;
    rc = 0;
done:
    free(all);
    ebm_dataset_free(d);
    ebm_gibbs_free(g);
    ebm_rbm_free(m);
    return rc;
}

/* ---- eval ---- */

static const char *const eval_about =
    "Evaluate a model on data: mean free energy, reconstruction error (mean squared error per unit of\n"
    "p(v | p(h | v))), pseudo-log-likelihood (sum of all log p(v_i | v_-i), binary data only) and, when\n"
    "the smaller layer has at most 20 units (25 with --exact on), the exact log Z and the mean\n"
    "log-likelihood in nats per example.  Data is scaled and binarised as in training unless the\n"
    "--scale / --binarize / --threshold options say otherwise.\n"
    "\n"
    "--ais estimates log Z of any RBM by annealed importance sampling (Salakhutdinov & Murray 2008):\n"
    "M runs anneal from a base model with the evaluation data's pixel marginals to the RBM over the\n"
    "paper's 14,500-step schedule; the interval is log(mean(w) -+ 3 standard errors).  AIS tends to\n"
    "underestimate log Z, which overstates the likelihood: read the lower end of the log-likelihood\n"
    "interval (the 'conservative' figure) when comparing models.  --reverse also runs AIS backwards from\n"
    "exact samples (small models only), which tends to overestimate log Z: the truth lies between.\n"
    "A 'warning' line (JSON: \"warning\") says when the interval cannot be trusted: ESS below 50 or\n"
    "sd(log w) above 2 (schedule too short); give more --ais-betas and --ais-runs.\n"
    "\n"
    "--probe fits a linear probe on the model's features instead (see 'ebm eval MODEL --probe --help').";

/* What `ebm eval` measured on an RBM, for its report. */
typedef struct {
    const char *path, *data_spec, *preprocess;
    const ebm_rbm *m;
    const ebm_dataset *d;
    size_t np, small;
    bool binary, exact, ais, reverse;
    ebm_rbm_eval r;
    double seconds;
    ebm_ais_result fw, rv;
} rbm_eval;

static void ais_report(const cli_report *r, const char *key, const char *what, const ebm_ais_result *a, double fmean,
                       bool binary) {
    cli_report_json(r, ", \"%s\": ", key);
    if (r->json) cli_ais_json(a, fmean);
    else cli_ais_print(what, a, fmean, binary);
}

static void eval_print(const rbm_eval *e, bool json) {
    const ebm_rbm *m = e->m;
    cli_report r = cli_report_begin(json, "model", e->path);
    cli_report_json(&r, ", \"kind\": \"rbm\", \"n_vis\": %zu, \"n_hid\": %zu", m->n_vis, m->n_hid);
    cli_report_str(&r, "data", e->data_spec);
    cli_report_str(&r, "source", e->d->source);
    cli_report_json(&r, ", \"rows\": %zu", e->d->x->rows);
    cli_report_str(&r, "preprocess", e->preprocess);
    cli_report_json(&r, ", \"binary\": %s", e->binary ? "true" : "false");
    cli_report_text(&r, "model            %s (RBM %zu visible x %zu hidden)\n", e->path, m->n_vis, m->n_hid);
    cli_report_text(&r, "data             %s: %zu rows (%s)\n", e->d->source, e->d->x->rows, e->preprocess);
    cli_report_num(&r, "free_energy_mean", e->r.free_energy_mean, "free energy      %.4f (mean)\n",
                   e->r.free_energy_mean);
    cli_report_num(&r, "recon_mse", e->r.recon, "reconstruction   %.6f (mean squared error per unit, mean field)\n",
                   e->r.recon);
    if (e->binary)
        cli_report_num(&r, "pseudo_ll", e->r.pseudo_ll, "pseudo-LL        %.4f nats per example (all %zu conditionals, "
                       "%zu rows)\n", e->r.pseudo_ll, m->n_vis, e->np);
    else
        cli_report_num(&r, "pseudo_ll", e->r.pseudo_ll, "pseudo-LL        n/a (data is not binary)\n");
    cli_report_num(&r, "pseudo_ll_rows", e->binary ? (double)e->np : 0, NULL);
    cli_report_num(&r, "log_z", e->r.log_z, e->exact ? "log Z            %.6f (exact, 2^%zu states)\n" : NULL,
                   e->r.log_z, e->small);
    if (e->exact)
        cli_report_num(&r, "log_likelihood", e->r.log_likelihood, "log-likelihood   %.4f nats per example (exact)%s\n",
                       e->r.log_likelihood, e->binary ? "" : " -- data is not binary, so this is not a probability");
    else
        cli_report_num(&r, "log_likelihood", e->r.log_likelihood, e->ais ? NULL : "log-likelihood   n/a: exact "
                       "enumeration needs a layer of at most 20 units (this model: %zu and %zu); try --ais\n",
                       m->n_vis, m->n_hid);
    if (e->ais) ais_report(&r, "ais", "AIS", &e->fw, e->r.free_energy_mean, e->binary);
    if (e->reverse) ais_report(&r, "ais_reverse", "reverse AIS", &e->rv, e->r.free_energy_mean, e->binary);
    cli_report_end(&r, e->seconds);
}

int cli_rbm_eval(int argc, char **argv, bool quiet) {
    const char *cmd = "eval";
    rbm_eval e = {.data_spec = NULL};
    size_t pll_rows = 1000;
    int exact_mode = 0; /* auto|on|off */
    bool json = false;
    size_t ais_runs = 100, ais_steps = EBM_AIS_DEFAULT_STEPS;
    int precision = EBM_PRECISION_FP32;
    cli_data_args da = CLI_DATA_ARGS_INIT;
    const cli_opt opts[] = {
        CLI_EVAL_DATA_OPTIONS(e.data_spec, da.limit),
        {"pll-rows", OPT_SIZE, &pll_rows, "N", "rows for the pseudo-log-likelihood (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        {"exact", OPT_CHOICE, &exact_mode, NULL, "exact log Z and log-likelihood (auto: when a layer has <= 20 units)", 0, 0, 0, 0, "auto|on|off", NULL},
        {"ais", OPT_FLAG, &e.ais, NULL, "estimate log Z by annealed importance sampling", 0, 0, 0, 0, NULL, NULL},
        {"ais-runs", OPT_SIZE, &ais_runs, "M", "AIS runs (importance weights)", 1, 1048576, 0, 0, NULL, NULL},
        {"ais-betas", OPT_SIZE, &ais_steps, "N", "AIS intermediate distributions (the paper's schedule scaled to N)", 3, 1e8, 0, 0, NULL, NULL},
        {"reverse", OPT_FLAG, &e.reverse, NULL, "with --ais: also reverse AIS from exact samples (a layer <= 20 units)", 0, 0, 0, 0, NULL, NULL},
        CLI_PRECISION_OPTION(precision),
        CLI_JSON_OPTION(json),
        CLI_DATA_AS_TRAINED_OPTIONS(da),
        CLI_SEED_OPTION(da.seed, "seed for AIS and for --binarize stochastic"),
        OPT_END,
    };
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm eval MODEL --data SPEC [options]", eval_about, &e.path);
    if (rc >= 0) return rc;
    if (!cli_precision_check(cmd, precision)) return 2;
    ebm_rbm *m = cli_load_rbm(cmd, e.path, "evaluating");
    if (!m) return 1;
    e.m = m;
    rc = 1;
    ebm_dataset *d = NULL;
    if (!cli_model_data(cmd, &e.data_spec, m->meta, "--data is required")) goto done;
    cli_data_args_from_model(&da, m->meta);
    ebm_data_opts dopts;
    if (!cli_data_opts(cmd, &da, &dopts)) goto done;
    e.d = d = cli_load_data(cmd, e.data_spec, &dopts, quiet || json);
    if (!d) goto done;
    size_t rows = d->x->rows;
    e.small = m->n_vis < m->n_hid ? m->n_vis : m->n_hid;
    e.exact = exact_mode == 1 || (exact_mode == 0 && e.small <= 20);
    if (d->x->cols != m->n_vis)
        rc = cli_error(cmd, "%s has %zu columns but the model has %zu visible units", e.data_spec, d->x->cols,
                       m->n_vis);
    else if (ebm_mat_check_range(d->x, 0.0f, 1.0f, e.data_spec))
        rc = cli_error(cmd, "%s; a Bernoulli RBM needs values in [0, 1] (try --scale minmax)", ebm_last_error());
    else if (exact_mode == 1 && e.small > EBM_EXACT_MAX_UNITS)
        rc = cli_error(cmd, "--exact on needs a layer of at most %d units; this model has %zu visible and %zu hidden",
                       EBM_EXACT_MAX_UNITS, m->n_vis, m->n_hid);
    else if (e.reverse && !e.ais)
        rc = cli_error(cmd, "--reverse goes with --ais");
    else if (e.reverse && e.small > 20)
        rc = cli_error(cmd, "--reverse needs exact samples, which needs a layer of at most 20 units; this model has "
                       "%zu visible and %zu hidden", m->n_vis, m->n_hid);
    else
        rc = -1;
    if (rc >= 0) goto done;
    rc = 1;
    e.binary = cli_is_binary(d->x);
    double t0 = cli_now();
    e.np = pll_rows && pll_rows < rows ? pll_rows : rows;
    if (e.exact && !quiet && !json)
        fprintf(stderr, "enumerating 2^%zu states of the %s layer for the exact log Z...\n", e.small,
                m->n_hid <= m->n_vis ? "hidden" : "visible");
    ebm_status s = ebm_rbm_evaluate(m, d->x->data, rows, e.binary ? e.np : 0, e.exact, &e.r);
    if (s && (rc = cli_lib_error(cmd, s))) goto done;
    if (e.ais && !cli_rbm_ais(cmd, m, d->x, ais_runs, ais_steps, da.seed, e.reverse, quiet || json,
                               (ebm_precision)precision, &e.fw, &e.rv))
        goto done;
    e.seconds = cli_now() - t0;
    char preprocess[160], threshold[32] = "";
    if (strcmp(da.binarize, "threshold") == 0) snprintf(threshold, sizeof threshold, " %g", (double)da.threshold);
    snprintf(preprocess, sizeof preprocess, "scale %s, binarize %s%s", da.scale, da.binarize, threshold);
    e.preprocess = preprocess;
    eval_print(&e, json);
    rc = 0;
done:
    ebm_dataset_free(d);
    ebm_rbm_free(m);
    return rc;
}

/* ---- info ---- */

static const char *const info_about =
    "Describe a model file: kind, layer sizes, parameters, weight and bias statistics and all metadata\n"
    "(how it was trained, on what data, and its sampling defaults).  --filters writes the weights of the\n"
    "first --n-filters hidden units as a grid of images (mid-grey = 0).";

int cli_rbm_info(int argc, char **argv, bool quiet) {
    cli_info_args ia;
    const char *path, *const names[3] = {"W", "b_v", "b_h"};
    int rc = cli_info_start(argc, argv, "ebm info MODEL [--json] [--filters PNG]", info_about, &ia, &path);
    if (rc >= 0) return rc;
    ebm_rbm *m = cli_load_rbm("info", path, "describing");
    if (!m) return 1;
    long long bytes = cli_file_bytes(path);
    ebm_param_stats ps[3];
    ebm_rbm_param_stats(m, ps);
    cli_report r = cli_report_begin(ia.json, "file", path);
    cli_report_json(&r, ", \"bytes\": %lld, \"kind\": \"rbm\", \"n_vis\": %zu, \"n_hid\": %zu, \"n_params\": %zu",
                    bytes, m->n_vis, m->n_hid, m->n_params);
    cli_report_text(&r, "%s: Bernoulli RBM, %zu visible x %zu hidden, %zu parameters, %lld bytes\n", path, m->n_vis,
                    m->n_hid, m->n_params, bytes);
    if (m->height) cli_report_text(&r, "image shape %zu x %zu\n", m->height, m->width);
    cli_report_text(&r, "parameters:\n");
    for (int k = 0; k < 3; k++) {
        const char *const keys[] = {"mean", "std", "min", "max"};
        const double v[] = {ps[k].mean, ps[k].std, ps[k].min, ps[k].max};
        cli_report_json(&r, ", \"%s\": {", names[k]);
        if (ia.json) cli_json_numbers(stdout, keys, v, 4);
        cli_report_json(&r, "}");
        cli_report_text(&r, "  %-4s mean %+.4f  std %.4f  min %+.4f  max %+.4f  mean|.| %.4f\n", names[k], ps[k].mean,
                        ps[k].std, ps[k].min, ps[k].max, ps[k].mean_abs);
    }
    cli_report_meta_end(&r, m->meta);
    rc = cli_info_filters(&ia, quiet, m->W, m->n_vis, m->n_hid, m->height, m->width) ? 0 : 1;
    ebm_rbm_free(m);
    return rc;
}
