/* The Gaussian-Bernoulli RBM kind of the command line: `ebm train grbm`, and the GRBM rows of `ebm sample`,
 * `ebm eval` and `ebm info`, which the dispatchers hand over to when a model file's ebm.model is
 * "grbm".  Data is loaded as grey levels (u8 / 255), standardised with statistics stored in the model, and
 * every picture and array comes back in pixel units. */
#include "cli.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EXACT_AUTO_UNITS 20

/* spec as grey levels of finite value, scaled by `scale`, or with a model m as m's training data was, with m's
 * width, and in m's standardised space when `standardise`; NULL after printing an error.  For a model file
 * in its standardised space: cli_model_rows. */
static ebm_dataset *load_pixels(const char *cmd, const char *spec, const char *scale, size_t limit, const ebm_grbm *m,
                                bool standardise, bool quiet) {
    cli_data_args da = CLI_DATA_ARGS(scale, "none", limit);
    ebm_data_opts o;
    ebm_dataset *d = NULL;
    if (m) d = cli_load_like_model(cmd, spec, &da, m->meta, m->n_vis, false, quiet);
    else if (cli_data_opts(cmd, &da, &o)) d = cli_load_data(cmd, spec, &o, quiet);
    if (d && ebm_mat_check_range(d->x, -FLT_MAX, FLT_MAX, spec)) {
        cli_lib_error(cmd, EBM_EINVAL);
        ebm_dataset_free(d);
        return NULL;
    }
    if (d && standardise) ebm_grbm_standardize(m, d->x->data, d->x->rows, d->x->data);
    return d;
}

/* ---- ebm train grbm ---- */

/* The options of `ebm train grbm`, and the run's model and monitors (the runner's user data). */
typedef struct {
    cli_train_args ta;
    const char *valid, *scale, *sampler;
    size_t hidden, cd_k, pcd_k, monitor, limit;
    int neg, stdz, exact; /* --neg-init noise|data, --standardize global|pixel, --exact auto|on|off */
    int precision;        /* --precision: an ebm_precision */
    float init_var;
    bool cd_seen, pcd_seen, no_shuffle, constant_lr, mh, no_anneal;
    ebm_grbm_train_opts o;
    ebm_grbm *m;
    ebm_dataset *d, *vd;
    ebm_mat *mon;     /* standardised monitor rows, or NULL */
    double recon, ll; /* the last epoch's monitors */
} grbm_train;

static void train_detail(cli_run *r, const ebm_run_progress *p, char *buf, size_t cap) {
    (void)r;
    snprintf(buf, cap, "lr %.3g", p->lr);
}

/* After every epoch, on the monitor rows: reconstruction error and (few hidden units) the exact log-likelihood in
 * pixel units; with the mean variance, one line and one log row. */
static void train_epoch(cli_run *r, const ebm_run_progress *p) {
    grbm_train *g = r->user;
    const ebm_grbm *m = g->m;
    ebm_grbm_eval e = {.recon_mse = NAN, .log_likelihood = NAN};
    if (g->mon) /* a figure that fails stays NaN */
        (void)ebm_grbm_evaluate(m, g->mon, g->exact == 1 || (g->exact == 0 && m->n_hid <= EXACT_AUTO_UNITS), NULL, &e);
    double recon = g->recon = e.recon_mse, ll = g->ll = e.log_likelihood, var = 0;
    for (size_t i = 0; i < m->n_vis; i++) var += exp(m->log_var[i]) / (double)m->n_vis;
    const cli_fig f[] = {{"  lr %.4g", "%.6g", p->lr}, {"  mean sigma^2 %.4f", "%.6f", var},
                         {"  recon %.4f", "%.6f", recon}, {"  exact LL %.3f nats", "%.4f", ll}};
    cli_epoch_report(r, p, f, 4);
}

static ebm_status train_save(cli_run *r, const char *path) {
    grbm_train *g = r->user;
    ebm_status s = isnan(g->recon) ? EBM_OK : ebm_meta_setf(g->m->meta, "ebm.train.final_recon", "%.6f", g->recon);
    if (!s && !isnan(g->ll)) s = ebm_meta_setf(g->m->meta, "ebm.train.final_exact_ll", "%.4f", g->ll);
    return s ? s : ebm_grbm_save(g->m, path);
}

static void train_describe(cli_run *r, char *buf, size_t cap) {
    const ebm_grbm *m = ((grbm_train *)r->user)->m;
    snprintf(buf, cap, "GRBM %zu x %zu", m->n_vis, m->n_hid);
}

/* What neither the model (ebm.data.standardize) nor the trainer (ebm.train.*, the sampler's ebm.sample.*)
 * records: the initial variance, and the start and temperature of `ebm sample`. */
static ebm_status train_meta(ebm_meta *mt, const grbm_train *g) {
    ebm_status s = ebm_meta_setf(mt, "ebm.train.init_var", "%g", (double)g->init_var);
    return s ? s : ebm_meta_set_sample_defaults(mt, g->o.k, 1.0f, "noise"); /* steps, temperature 1, init */
}

static const char *const neg_names[] = {"noise", "data", "persistent"};

/* The model on the data (standardised in place), the monitor rows (at most --monitor of --valid or the data,
 * drawn by the stream (seed, 7)), the trainer, and the shared runner. */
static int train_model(const char *cmd, grbm_train *g, int argc, char **argv, bool quiet) {
    const ebm_grbm_train_opts *o = &g->o;
    const ebm_mat *x = g->d->x;
    ebm_rng init;
    ebm_rng_seed(&init, o->seed, 100);
    ebm_status s = ebm_grbm_new(x->cols, g->hidden, &g->m);
    if (!s) s = ebm_grbm_init(g->m, &init, g->init_var);
    if (!s) s = ebm_grbm_fit_standardization(g->m, x, g->stdz == 0);
    if (!s) s = train_meta(g->m->meta, g);
    if (s) return cli_lib_error(cmd, s);
    ebm_grbm *m = g->m;
    m->height = g->d->height;
    m->width = g->d->width;
    ebm_grbm_standardize(m, x->data, x->rows, x->data);
    if (g->valid && !(g->vd = load_pixels(cmd, g->valid, g->scale, 0, m, true, quiet))) return 1;
    if (g->monitor > 0 && (s = ebm_mat_sample_rows(g->vd ? g->vd->x : x, g->monitor, o->seed, 7, &g->mon)))
        return cli_lib_error(cmd, s);
    if (!quiet)
        fprintf(stderr,
                "training GRBM %zu x %zu by %s-%zu (%s start, %s%s sampler, eta %g, %zu Langevin steps): %zu epochs, "
                "batch %zu, lr %g%s, clip %g, %d threads%s\n",
                m->n_vis, m->n_hid, g->pcd_seen ? "pcd" : "cd", o->k, neg_names[o->neg_init],
                ebm_grbm_sampler_name(o->sampler.sampler), g->mh ? "+MH" : "", (double)o->sampler.eta,
                o->sampler.langevin_steps, o->epochs, o->batch, (double)o->lr, o->cosine ? " (cosine)" : "",
                (double)o->grad_clip, ebm_get_threads(), cli_precision_note(g->precision).s);
    ebm_trainer *t;
    if ((s = ebm_grbm_trainer_new(m, o, &t))) return cli_lib_error(cmd, s);
    ebm_run_opts ro;
    ebm_grbm_run_opts(o, &ro);
    cli_data_args da = CLI_DATA_ARGS(g->scale, NULL, g->limit);
    cli_run r = {.cmd = cmd, .kind = "grbm", .ta = &g->ta, .d = g->d, .da = &da, .quiet = quiet, .argc = argc,
                 .argv = argv, .meta = m->meta, .log_header = "epoch,seconds,total_seconds,lr,mean_var,recon,exact_ll",
                 .nan_hint = "try a smaller learning rate (--lr) or step size (--eta)", .save = train_save,
                 .detail = train_detail, .on_epoch = train_epoch, .describe = train_describe, .user = g};
    int rc = cli_train_run(&r, t, x, NULL, &ro);
    ebm_trainer_free(t);
    return rc;
}

static const char *const train_about =
    "Train a Gaussian-Bernoulli RBM (Liao et al. 2022, \"GRBMs without tears\") on grey-level data:\n"
    "learned per-pixel variances, CD-K whose negative chains start from N(0, I) noise at every update\n"
    "(--neg-init noise, the paper's) or from the batch, or PCD-K (--pcd K); the negative phase uses\n"
    "--sampler gibbs|langevin|gibbs-langevin (default gibbs-langevin) and averages all K chain states;\n"
    "SGD with a cosine learning-rate schedule and gradient-norm clipping.  The data is standardised\n"
    "(--standardize global: one mean and std, the paper's; or pixel) and the statistics are stored in\n"
    "the model so samples come back in pixel units.  With at most 20 hidden units each epoch reports\n"
    "the exact log-likelihood (nats per example, pixel units) on the monitor rows.";

int cli_grbm_train(int argc, char **argv, bool quiet) {
    const char *cmd = "train grbm";
    grbm_train a = {.scale = "auto", .sampler = "gibbs-langevin", .hidden = 256, .cd_k = 10, .monitor = 500,
                    .init_var = 1.0f, .recon = NAN, .ll = NAN};
    ebm_grbm_train_opts_default(&a.o);
    ebm_grbm_train_opts *o = &a.o;
    const cli_opt opts[] = {
        CLI_TRAIN_OPTIONS(a.ta),
        {"hidden", OPT_SIZE, &a.hidden, "N", "hidden units", 1, 1 << 20, 0, 0, NULL, NULL},
        {"cd", OPT_SIZE, &a.cd_k, "K", "CD with K sampler steps per update", 1, 100000, 0, 0, NULL, &a.cd_seen},
        {"pcd", OPT_SIZE, &a.pcd_k, "K", "persistent CD with K steps per update (chains start from noise once)", 1, 100000, 0, 0, NULL, &a.pcd_seen},
        {"neg-init", OPT_CHOICE, &a.neg, NULL, "where CD's negative chains start at every update", 0, 0, 0, 0, "noise|data", NULL},
        {"burn-in", OPT_SIZE, &a.o.burn_in, "B", "negative statistics average chain steps B..K-1 (default: half of K)", 0, 100000, 0, 0, NULL, NULL},
        {"sampler", OPT_STR, &a.sampler, "NAME", "negative-phase sampler: gibbs|langevin|gibbs-langevin", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"mh", OPT_FLAG, &a.mh, NULL, "Metropolis-adjust the Langevin moves", 0, 0, 0, 0, NULL, NULL},
        {"eta", OPT_FLOAT, &a.o.sampler.eta, "E", "Langevin step size, in units of each pixel's variance", 0, 100, 1, 0, NULL, NULL},
        {"langevin-steps", OPT_SIZE, &a.o.sampler.langevin_steps, "L", "Langevin steps per Gibbs-Langevin step", 1, 100000, 0, 0, NULL, NULL},
        {"no-anneal", OPT_FLAG, &a.no_anneal, NULL, "constant Langevin step (default: cosine schedule)", 0, 0, 0, 0, NULL, NULL},
        {"epochs", OPT_SIZE, &a.o.epochs, "N", "passes over the data", 1, 1e9, 0, 0, NULL, NULL},
        {"batch", OPT_SIZE, &a.o.batch, "N", "rows per update", 1, 1 << 24, 0, 0, NULL, NULL},
        {"chains", OPT_SIZE, &a.o.chains, "N", "negative chains (0 = batch size)", 0, 1 << 24, 0, 0, NULL, NULL},
        {"lr", OPT_FLOAT, &a.o.lr, "RATE", "learning rate (cosine-decayed over the epochs)", 0, FLT_MAX, 1, 0, NULL, NULL},
        {"constant-lr", OPT_FLAG, &a.constant_lr, NULL, "no cosine decay", 0, 0, 0, 0, NULL, NULL},
        {"momentum", OPT_FLOAT, &a.o.momentum, "M", "momentum", 0, 1, 0, 1, NULL, NULL},
        {"weight-decay", OPT_FLOAT, &a.o.weight_decay, "L2", "L2 weight decay on W", 0, 1e3, 0, 0, NULL, NULL},
        {"grad-clip", OPT_FLOAT, &a.o.grad_clip, "NORM", "clip the gradient's L2 norm (0 = off)", 0, 1e30, 0, 0, NULL, NULL},
        {"init-var", OPT_FLOAT, &a.init_var, "V", "initial variance; W ~ N(0, V^2 / (visible + hidden))", 0, 1e4, 1, 0, NULL, NULL},
        {"standardize", OPT_CHOICE, &a.stdz, NULL, "one mean/std for all pixels, or per pixel", 0, 0, 0, 0, "global|pixel", NULL},
        {"scale", OPT_STR, &a.scale, "auto|none|255|minmax", "scaling of the raw data before standardising", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &a.limit, "N", "use the first N rows only (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        CLI_SEED_OPTION(a.o.seed, "random seed"),
        {"no-shuffle", OPT_FLAG, &a.no_shuffle, NULL, "keep the data order", 0, 0, 0, 0, NULL, NULL},
        {"valid", OPT_STR, &a.valid, "SPEC", "monitor on this data instead of training rows", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"monitor", OPT_SIZE, &a.monitor, "N", "rows for the per-epoch monitors (0 = off)", 0, 1e9, 0, 0, NULL, NULL},
        {"exact", OPT_CHOICE, &a.exact, NULL, "exact log-likelihood each epoch (auto: <= 20 hidden units)", 0, 0, 0, 0, "auto|on|off", NULL},
        CLI_PRECISION_OPTION(a.precision),
        OPT_END,
    };
    size_t npos;
    int rc = cli_start(cmd, argc, argv, opts, "ebm train grbm --data SPEC --out PATH [options]", train_about, NULL, 0,
                       &npos);
    if (rc >= 0 || (rc = cli_train_check(cmd, &a.ta)) >= 0) return rc;
    if (a.cd_seen && a.pcd_seen) return cli_error(cmd, "give either --cd K or --pcd K, not both");
    if (ebm_grbm_sampler_parse(a.sampler, &o->sampler.sampler))
        return cli_error(cmd, "--sampler: %s", ebm_last_error());
    o->k = a.pcd_seen ? a.pcd_k : a.cd_k;
    o->neg_init = a.pcd_seen ? EBM_GRBM_NEG_PERSISTENT : (ebm_grbm_neg_init)a.neg;
    /* unless given, burn_in stays the library's EBM_BURN_IN_HALF (the later half of each chain, K / 2) */
    if (o->burn_in != EBM_BURN_IN_HALF && o->burn_in >= o->k)
        return cli_error(cmd, "--burn-in %zu must be below K = %zu", o->burn_in, o->k);
    if (a.exact == 1 && a.hidden > EBM_EXACT_MAX_UNITS)
        return cli_error(cmd, "--exact on needs at most %d hidden units", EBM_EXACT_MAX_UNITS);
    if (!cli_precision_check(cmd, a.precision)) return 2;
    o->sampler.precision = (ebm_precision)a.precision;
    o->sampler.mh = a.mh;
    o->sampler.anneal = !a.no_anneal;
    o->cosine = !a.constant_lr;
    o->shuffle = !a.no_shuffle;
    if (!(a.d = load_pixels(cmd, a.ta.data, a.scale, a.limit, NULL, false, quiet))) return 1;
    rc = train_model(cmd, &a, argc, argv, quiet);
    ebm_mat_free(a.mon);
    ebm_grbm_free(a.m);
    ebm_dataset_free(a.vd);
    ebm_dataset_free(a.d);
    return rc;
}

/* ---- ebm sample MODEL.grbm ---- */

typedef struct {
    cli_sample_out out;
    size_t n, steps, mmd_n, done;
    uint64_t seed;
    int init, final; /* --init noise|data, --final mean|state */
    int precision;   /* --precision: an ebm_precision */
    float noise_scale, bw;
    const char *data, *sampler, *mmd;
    bool mh, no_anneal, steps_seen, t_seen, eta_seen, ls_seen, init_seen;
    ebm_grbm_sample_opts so;
    ebm_rng rng;
    /* the run's resources, freed by cli_grbm_sample */
    ebm_model *model;
    ebm_grbm *m;
    ebm_grbm_chains *ch;
    ebm_dataset *d, *md; /* --init data rows, --mmd-data rows */
    ebm_mat *x;
    float *all; /* rank 0 of several processes: every process's samples */
} sample_args;

/* What the command line left open, from the model's ebm.sample.* metadata. */
static int sample_defaults(const char *cmd, sample_args *a, const ebm_meta *mt) {
    const char *v;
    if (!a->sampler) a->sampler = (v = ebm_meta_get(mt, "ebm.sample.sampler")) ? v : "gibbs-langevin";
    if (ebm_grbm_sampler_parse(a->sampler, &a->so.sampler)) return cli_error(cmd, "--sampler: %s", ebm_last_error());
    cli_sample_meta(mt, &a->steps, a->steps_seen, &a->so.T, a->t_seen, &a->init, a->init_seen);
    if (!a->eta_seen && (!cli_meta_float(mt, "ebm.sample.eta", &a->so.eta) || !(a->so.eta > 0))) a->so.eta = 0.5f;
    size_t *ls = &a->so.langevin_steps;
    if (!a->ls_seen && (!cli_meta_size(mt, "ebm.sample.langevin_steps", ls) || *ls < 1)) *ls = 10;
    a->so.anneal = !a->no_anneal;
    a->so.mh = a->mh;
    if (!cli_precision_check(cmd, a->precision)) return 2;
    a->so.precision = (ebm_precision)a->precision;
    if (a->so.mh_after && !a->mh) return cli_error(cmd, "--mh-after needs --mh");
    if (a->so.mh_after > a->steps) a->so.mh_after = a->steps;
    return -1;
}

/* n more steps for cli_run_sweeps (the sampler runs the first --mh-after without the Metropolis test, as one
 * phase); Langevin anneals its step size over one call, so it runs all its steps in the first. */
static ebm_status sample_steps(void *ctx, size_t n) {
    sample_args *a = ctx;
    if (a->so.sampler == EBM_GRBM_LANGEVIN) n = a->done ? 0 : a->steps;
    a->done += n;
    return ebm_grbm_chains_run(a->ch, &a->so, n, &a->rng);
}

static int sample_model(const char *cmd, sample_args *a, bool quiet) {
    const ebm_grbm *m = a->m;
    size_t h = 0, w = 0, n = a->n, first, count = cli_chains(n, &first);
    int rc = sample_defaults(cmd, a, m->meta);
    if (rc >= 0) return rc;
    if (a->out.png && !cli_image_shape(cmd, m->n_vis, m->height, m->width, a->out.shape, &h, &w)) return 1;
    ebm_status s = ebm_grbm_chains_new(m, count, &a->ch);
    if (!s) s = ebm_grbm_chains_set_slice(a->ch, first, n);
    if (s) return cli_lib_error(cmd, s);
    const char *spec = a->data;
    if (a->init == 1 && !cli_model_data(cmd, &spec, m->meta, "--init data needs --data")) return 1;
    if (a->init == 1 && !(a->d = cli_model_rows(cmd, a->model, spec, NULL, quiet))) return 1;
    s = a->d ? ebm_grbm_chains_init_data(a->ch, a->d->x, &a->rng)
             : ebm_grbm_chains_init_noise(a->ch, a->noise_scale, &a->rng);
    if (s) return cli_lib_error(cmd, s);
    if (!quiet)
        fprintf(stderr, "sampling %zu chains from %s: %zu steps of %s%s (eta %g, %zu Langevin steps%s) at T = %g%s\n", n,
                a->init ? "data" : "noise", a->steps, ebm_grbm_sampler_name(a->so.sampler),
                a->mh ? (a->so.mh_after ? " + MH after the first steps" : " + MH") : "", (double)a->so.eta,
                a->so.langevin_steps, a->so.anneal ? ", cosine" : "", (double)a->so.T, cli_precision_note(a->precision).s);
    cli_progress prog;
    cli_progress_init(&prog, quiet);
    cli_install_sigint();
    if ((rc = cli_run_sweeps(cmd, &prog, a->steps, sample_steps, a)) >= 0) return rc;
    if (a->mh && a->so.sampler != EBM_GRBM_GIBBS)
        cli_progress_line(&prog, "acceptance rate %.3f over the last %zu (Metropolis-adjusted) steps",
                          ebm_grbm_chains_accept_rate(a->ch), a->steps - a->so.mh_after);
    if ((s = ebm_mat_new(count, m->n_vis, &a->x))) return cli_lib_error(cmd, s);
    float *x = a->x->data;
    if (a->final == 0) s = ebm_grbm_chains_mean(a->ch, a->so.T, &a->rng, x);
    else memcpy(x, ebm_grbm_chains_visible(a->ch), count * m->n_vis * sizeof(float));
    if (s) return cli_lib_error(cmd, s);
    ebm_grbm_unstandardize(m, x, count, x);
    const float *xs = x; /* all n chains on rank 0 after the gather */
    if ((rc = cli_chains_gather(cmd, &xs, n, m->n_vis, &a->all)) >= 0) return rc;
    if (!cli_sample_out_write(cmd, quiet, &a->out, xs, n, m->n_vis, false, h, w)) return 1;
    double mmd2, used;
    if (!a->mmd) return 0;
    if (!(a->md = load_pixels(cmd, a->mmd, "auto", a->mmd_n, m, false, quiet))) return 1;
    if ((s = ebm_mmd_gaussian(xs, n, a->md->x->data, a->md->x->rows, m->n_vis, a->bw, &mmd2, &used)))
        return cli_lib_error(cmd, s);
    printf("mmd2 %.6f  bandwidth %.4f (%s)  samples %zu  data %zu (%s)  sampler %s%s  steps %zu\n", mmd2, used,
           a->bw > 0 ? "given" : "median heuristic", n, a->md->x->rows, a->mmd, ebm_grbm_sampler_name(a->so.sampler),
           a->mh ? "+mh" : "", a->steps);
    return 0;
}

static const char *const sample_about =
    "Draw samples from a Gaussian-Bernoulli RBM: --n chains start from N(0, I) noise in the model's\n"
    "standardised space (or from rows of --data) and run --steps steps of --sampler gibbs | langevin |\n"
    "gibbs-langevin, optionally Metropolis-adjusted (--mh; the acceptance rate is printed).  The output\n"
    "is W h + mu for h ~ p(h | v) of the last state (the paper's picture; --final state gives v itself),\n"
    "in pixel units.  --mmd-data SPEC also reports the kernel MMD^2 (Gaussian kernel, median-heuristic\n"
    "bandwidth unless --bandwidth) between the samples and --mmd-n rows of SPEC.  Defaults come from\n"
    "the model's ebm.sample.* metadata.";

int cli_grbm_sample(int argc, char **argv, bool quiet) {
    const char *cmd = "sample";
    sample_args a = {.out = CLI_SAMPLE_OUT_INIT, .n = 100, .steps = 100, .mmd_n = 1000, .seed = 1, .noise_scale = 1.0f};
    ebm_grbm_sample_opts_default(&a.so);
    const cli_opt opts[] = {
        {"n", OPT_SIZE, &a.n, "N", "number of chains (samples)", 1, 1e7, 0, 0, NULL, NULL},
        {"steps", OPT_SIZE, &a.steps, "S", "sampler steps per chain", 0, 1e9, 0, 0, NULL, &a.steps_seen},
        {"sampler", OPT_STR, &a.sampler, "NAME", "gibbs|langevin|gibbs-langevin (default: the model's)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"mh", OPT_FLAG, &a.mh, NULL, "Metropolis-adjusted Langevin moves", 0, 0, 0, 0, NULL, NULL},
        {"mh-after", OPT_SIZE, &a.so.mh_after, "N", "with --mh: the first N steps unadjusted (the paper's adjust_step)", 0, 1e9, 0, 0, NULL, NULL},
        {"eta", OPT_FLOAT, &a.so.eta, "E", "Langevin step size in units of each pixel's variance", 0, 100, 1, 0, NULL, &a.eta_seen},
        {"langevin-steps", OPT_SIZE, &a.so.langevin_steps, "L", "Langevin steps per Gibbs-Langevin step", 1, 100000, 0, 0, NULL, &a.ls_seen},
        {"no-anneal", OPT_FLAG, &a.no_anneal, NULL, "constant Langevin step (default: cosine schedule)", 0, 0, 0, 0, NULL, NULL},
        {"temperature", OPT_FLOAT, &a.so.T, "T", "sampling temperature", 0, 1e6, 1, 0, NULL, &a.t_seen},
        CLI_INIT_OPTIONS(a.init, &a.init_seen, a.data),
        {"noise-scale", OPT_FLOAT, &a.noise_scale, "S", "standard deviation of the noise start", 0, 1e6, 0, 0, NULL, NULL},
        {"final", OPT_CHOICE, &a.final, NULL, "output E[v | h] of the last state, or the state v", 0, 0, 0, 0, "mean|state", NULL},
        CLI_SEED_OPTION(a.seed, "random seed"),
        CLI_SAMPLE_OUT_OPTIONS(a.out),
        {"mmd-data", OPT_STR, &a.mmd, "SPEC", "report the kernel MMD^2 between the samples and this data", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"mmd-n", OPT_SIZE, &a.mmd_n, "N", "rows of --mmd-data to use", 2, 1e5, 0, 0, NULL, NULL},
        {"bandwidth", OPT_FLOAT, &a.bw, "B", "Gaussian kernel bandwidth in pixel units (0 = median heuristic)", 0, 1e9, 0, 0, NULL, NULL},
        CLI_PRECISION_OPTION(a.precision),
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts,
                             "ebm sample MODEL [--sampler gibbs|langevin|gibbs-langevin] [--mh] [--png PATH] [options]",
                             sample_about, &path);
    if (rc >= 0) return rc;
    if (!a.out.png && !a.out.npy && !a.out.csv && !a.mmd)
        return cli_error(cmd, "nothing to write: give --png, --npy, --csv and/or --mmd-data");
    if ((rc = cli_sample_out_check(cmd, &a.out, true)) >= 0) return rc;
    if (a.mmd && a.n < 2) return cli_error(cmd, "--mmd-data needs at least 2 samples (--n)");
    ebm_rng_seed(&a.rng, a.seed, 0);
    a.model = cli_model_load(cmd, path);
    a.m = ebm_model_grbm(a.model);
    rc = a.m ? sample_model(cmd, &a, quiet) : 1;
    ebm_mat_free(a.x);
    free(a.all);
    ebm_dataset_free(a.d);
    ebm_dataset_free(a.md);
    ebm_grbm_chains_free(a.ch);
    ebm_model_free(a.model);
    return rc;
}

/* ---- ebm eval MODEL.grbm ---- */

static void print_eval(const char *path, const ebm_grbm *m, const ebm_dataset *d, const char *spec,
                       const ebm_ais_opts *ao, const ebm_grbm_eval *f, double seconds, bool json) {
    cli_report r = cli_report_begin(json, "model", path);
    cli_report_json(&r, ", \"kind\": \"grbm\", \"n_vis\": %zu, \"n_hid\": %zu", m->n_vis, m->n_hid);
    cli_report_str(&r, "data", spec);
    cli_report_json(&r, ", \"rows\": %zu", d->x->rows);
    cli_report_text(&r, "model            %s (GRBM %zu visible x %zu hidden)\n", path, m->n_vis, m->n_hid);
    cli_report_text(&r, "data             %s: %zu rows (standardised as in training)\n", d->source, d->x->rows);
    cli_report_num(&r, "free_energy_mean", f->free_energy_mean, "free energy      %.4f (mean, standardised space)\n",
                   f->free_energy_mean);
    cli_report_num(&r, "recon_mse", f->recon_mse, "reconstruction   %.6f (mean squared error per unit, standardised)\n",
                   f->recon_mse);
    bool exact = !isnan(f->log_z);
    cli_report_num(&r, "log_z", f->log_z, exact ? "log Z            %.6f (exact, 2^%zu hidden states)\n" : NULL,
                   f->log_z, m->n_hid);
    if (exact)
        cli_report_num(&r, "log_likelihood", f->log_likelihood,
                       "log-likelihood   %.4f nats per example (exact; a density in pixel units)\n", f->log_likelihood);
    else
        cli_report_num(&r, "log_likelihood", f->log_likelihood,
                       "log-likelihood   n/a: exact needs at most %d hidden units (this model: %zu); try --ais\n",
                       EXACT_AUTO_UNITS, m->n_hid);
    cli_report_num(&r, "ais_log_z", f->ais_log_z,
                   ao ? "AIS log Z        %.6f [%.6f, %.6f] (%zu runs, %zu steps)\n" : NULL, f->ais_log_z,
                   f->ais_log_z_lo, f->ais_log_z_hi, ao ? ao->runs : 0, ao ? ao->steps : 0);
    cli_report_num(&r, "ais_log_likelihood", f->ais_log_likelihood,
                   ao ? "AIS log-lik.     %.4f nats per example\n" : NULL, f->ais_log_likelihood);
    cli_text w = ao && f->ais_warnings ? cli_ais_warning(f->ais_warnings, f->ais_ess, f->ais_log_w_sd) : (cli_text){""};
    if (w.s[0]) cli_report_text(&r, "warning          %s\n", w.s);
    cli_report_json(&r, ", \"seconds\": %.3f%s", seconds, ao ? ", \"ais_warning\": " : "");
    if (ao && json && w.s[0]) cli_json_string(stdout, w.s);
    else if (ao) cli_report_json(&r, "null");
    cli_report_json(&r, "}\n");
}

static const char *const eval_about =
    "Evaluate a Gaussian-Bernoulli RBM on data (standardised as in training): mean free energy,\n"
    "reconstruction error (standardised units), and with at most 20 hidden units (25 with --exact on)\n"
    "the exact log Z (sum over the hidden layer, a Gaussian integral for each h) and the mean test\n"
    "log-likelihood in nats per example, as a density of the data in its own (pixel) units.  --ais adds\n"
    "an AIS estimate of log Z (base: a factorised Gaussian with the data's mean and variance).";

int cli_grbm_eval(int argc, char **argv, bool quiet) {
    const char *cmd = "eval", *spec = NULL, *path;
    size_t limit = 0;
    int exact = 0;
    bool json = false, ais = false;
    ebm_ais_opts ao;
    ebm_ais_opts_default(&ao);
    ao.runs = 100;
    ao.steps = 10000;
    ao.seed = 1;
    const cli_opt opts[] = {
        CLI_EVAL_DATA_OPTIONS(spec, limit),
        {"exact", OPT_CHOICE, &exact, NULL, "exact log Z and log-likelihood (auto: <= 20 hidden units)", 0, 0, 0, 0, "auto|on|off", NULL},
        {"ais", OPT_FLAG, &ais, NULL, "estimate log Z by AIS too", 0, 0, 0, 0, NULL, NULL},
        {"ais-runs", OPT_SIZE, &ao.runs, "M", "AIS runs", 1, 1 << 20, 0, 0, NULL, NULL},
        {"ais-steps", OPT_SIZE, &ao.steps, "K", "AIS intermediate distributions", 3, 1e8, 0, 0, NULL, NULL},
        CLI_SEED_OPTION(ao.seed, "AIS seed"),
        CLI_JSON_OPTION(json),
        OPT_END,
    };
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm eval MODEL --data SPEC [options]", eval_about, &path);
    if (rc >= 0) return rc;
    ebm_model *model = cli_model_load(cmd, path);
    ebm_grbm *m = ebm_model_grbm(model);
    if (!m) return 1;
    cli_data_args da = CLI_DATA_ARGS("auto", "none", limit);
    ebm_dataset *d = NULL;
    ebm_grbm_eval f;
    double t0 = cli_now();
    ebm_status s;
    if (!cli_model_data(cmd, &spec, m->meta, "--data is required"))
        rc = 1;
    else if (exact == 1 && m->n_hid > EBM_EXACT_MAX_UNITS)
        rc = cli_error(cmd, "--exact on needs at most %d hidden units; this GRBM has %zu", EBM_EXACT_MAX_UNITS,
                       m->n_hid);
    else if (!(d = cli_model_rows(cmd, model, spec, &da, quiet || json)))
        rc = 1;
    else if ((s = ebm_grbm_evaluate(m, d->x, exact == 1 || (exact == 0 && m->n_hid <= EXACT_AUTO_UNITS),
                                    ais ? &ao : NULL, &f)))
        rc = cli_lib_error(cmd, s);
    else
        print_eval(path, m, d, spec, ais ? &ao : NULL, &f, cli_now() - t0, json);
    ebm_dataset_free(d);
    ebm_model_free(model);
    return rc >= 0 ? rc : 0;
}

/* ---- ebm info MODEL.grbm ---- */

int cli_grbm_info(int argc, char **argv, bool quiet) {
    cli_info_args ia;
    const char *path;
    int rc = cli_info_start(argc, argv, "ebm info MODEL [--json] [--filters PNG]",
                            "Describe a Gaussian-Bernoulli RBM file: shapes, parameter statistics (sigma = exp(log_sigma2 / 2)),\n"
                            "the stored standardisation and all metadata; --filters draws columns of W.", &ia, &path);
    if (rc >= 0) return rc;
    ebm_model *model = cli_model_load("info", path);
    ebm_grbm *m = ebm_model_grbm(model);
    if (!m) return 1;
    cli_report r = cli_report_begin(ia.json, "file", path);
    cli_report_json(&r, ", \"kind\": \"grbm\", \"n_vis\": %zu, \"n_hid\": %zu, \"n_params\": %zu", m->n_vis, m->n_hid,
                    m->n_params);
    if (!ia.json) {
        printf("%s: Gaussian-Bernoulli RBM, %zu visible x %zu hidden, %zu parameters\n", path, m->n_vis, m->n_hid,
               m->n_params);
        if (m->height) printf("image shape %zu x %zu\n", m->height, m->width);
        printf("parameters:\n");
        cli_stat_line("W", 10, m->W, m->n_vis * m->n_hid, 0, false);
        cli_stat_line("b_h", 10, m->b, m->n_hid, 0, false);
        cli_stat_line("mu", 10, m->mu, m->n_vis, 0, false);
        cli_stat_line("sigma", 10, m->log_var, m->n_vis, 0, true);
        printf("standardisation (pixel = model * std + mean):\n");
        cli_stat_line("data_mean", 10, m->data_mean, m->n_vis, 0, false);
        cli_stat_line("data_std", 10, m->data_std, m->n_vis, 0, false);
    }
    cli_report_meta_end(&r, m->meta);
    rc = cli_info_filters(&ia, quiet, m->W, m->n_vis, m->n_hid, m->height, m->width) ? 0 : 1;
    ebm_model_free(model);
    return rc;
}
