/* The command line for Gaussian-Bernoulli RBMs: `ebm train grbm`, and the GRBM branches of `ebm sample`,
 * `ebm eval` and `ebm info`, which main's commands hand over to when an argument is a GRBM model file
 * (metadata ebm.model = "grbm").  Data is loaded as grey levels (u8 / 255), standardised with statistics
 * stored in the model, and every picture and array comes back in pixel units. */
#include "cli.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define EXACT_AUTO_UNITS 20

static ebm_grbm *load_grbm(const char *cmd, const char *path) {
    ebm_grbm *m = NULL;
    ebm_status s = ebm_grbm_load(path, &m);
    if (s) cli_lib_error(cmd, s);
    return m;
}

/* Loads spec as grey levels, checks its width against n_vis (0 = any). */
static ebm_dataset *load_pixels(const char *cmd, const char *spec, const char *scale, size_t limit, size_t n_vis,
                                bool quiet) {
    cli_data_args da = {scale, "none", 0.5f, limit, 1, false, false, false};
    ebm_data_opts o;
    if (!cli_data_opts(cmd, &da, &o)) return NULL;
    ebm_dataset *d = cli_load_data(cmd, spec, &o, quiet);
    if (!d) return NULL;
    if (n_vis && d->x->cols != n_vis) {
        cli_error(cmd, "%s has %zu columns but the model has %zu visible units", spec, d->x->cols, n_vis);
        ebm_dataset_free(d);
        return NULL;
    }
    if (ebm_mat_check_range(d->x, -FLT_MAX, FLT_MAX, spec)) {
        cli_lib_error(cmd, EBM_EINVAL);
        ebm_dataset_free(d);
        return NULL;
    }
    return d;
}

/* ---- ebm train grbm ---- */

typedef struct {
    ebm_grbm *m;
    const ebm_mat *mon;      /* standardised monitor rows */
    bool exact;
    FILE *log;
    cli_progress prog;
    size_t epochs_done;
    double last_recon, last_ll;
} grbm_ctx;

static int g_on_batch(const ebm_train_progress *p, void *user) {
    grbm_ctx *c = user;
    if (cli_interrupted()) return 1;
    char label[64], detail[160], eta[32];
    snprintf(label, sizeof label, "epoch %zu/%zu", p->epoch, p->epochs);
    double per = p->seconds / (double)p->batch;
    double left = per * (double)(p->batches - p->batch) +
                  (p->epoch < p->epochs ? per * (double)p->batches * (double)(p->epochs - p->epoch) : 0);
    cli_format_duration(left, eta, sizeof eta);
    snprintf(detail, sizeof detail, "%zu/%zu batches, lr %.3g, ETA %s", p->batch, p->batches, p->lr, eta);
    cli_progress_bar(&c->prog, label, (double)p->batch / (double)p->batches, detail);
    return 0;
}

static int g_on_epoch(const ebm_train_progress *p, void *user) {
    grbm_ctx *c = user;
    c->epochs_done = p->epoch;
    double recon = NAN, ll = NAN, lz = NAN, var = 0;
    if (c->mon && ebm_grbm_recon_error(c->m, c->mon->data, c->mon->rows, &recon)) recon = NAN;
    if (c->mon && c->exact && !ebm_grbm_log_z_exact(c->m, 1.0f, &lz) &&
        !ebm_grbm_log_likelihood(c->m, c->mon->data, c->mon->rows, lz, &ll))
        ll += ebm_grbm_log_jacobian(c->m);
    else
        ll = NAN;
    for (size_t i = 0; i < c->m->n_vis; i++) var += exp(c->m->log_var[i]) / (double)c->m->n_vis;
    c->last_recon = recon;
    c->last_ll = ll;
    char line[256];
    int n = snprintf(line, sizeof line, "epoch %zu/%zu  %.2f s  lr %.4g  mean sigma^2 %.4f", p->epoch, p->epochs,
                     p->seconds, p->lr, var);
    if (!isnan(recon)) n += snprintf(line + n, sizeof line - (size_t)n, "  recon %.4f", recon);
    if (!isnan(ll)) snprintf(line + n, sizeof line - (size_t)n, "  exact LL %.3f nats", ll);
    cli_progress_line(&c->prog, "%s", line);
    if (c->log) {
        fprintf(c->log, "%zu,%.4f,%.4f,%.6g,%.6f,", p->epoch, p->seconds, p->total_seconds, p->lr, var);
        if (!isnan(recon)) fprintf(c->log, "%.6f", recon);
        fputc(',', c->log);
        if (!isnan(ll)) fprintf(c->log, "%.4f", ll);
        fputc('\n', c->log);
        fflush(c->log);
    }
    return cli_interrupted() ? 1 : 0;
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

static const char *const neg_names[] = {"noise", "data"};

int cli_grbm_train(int argc, char **argv, bool quiet) {
    const char *cmd = "train grbm";
    const char *data_spec = NULL, *valid_spec = NULL, *out = NULL, *log_path = NULL, *scale = "auto";
    const char *sampler_name = "gibbs-langevin";
    size_t hidden = 256, cd_k = 10, pcd_k = 0, monitor = 500;
    int neg = 0, stdz = 0, exact_mode = 0;
    float init_var = 1.0f;
    bool cd_seen = false, pcd_seen = false, no_shuffle = false, constant_lr = false, mh = false, no_anneal = false;
    ebm_grbm_train_opts o;
    ebm_grbm_train_opts_default(&o);
    size_t limit = 0;
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "training data: fashion-mnist[:train|:test] or a .idx[.gz]/.npy/.csv path", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"out", OPT_STR, &out, "PATH", "where to save the model (.safetensors)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"hidden", OPT_SIZE, &hidden, "N", "hidden units", 1, 1 << 20, 0, 0, NULL, NULL},
        {"cd", OPT_SIZE, &cd_k, "K", "CD with K sampler steps per update", 1, 100000, 0, 0, NULL, &cd_seen},
        {"pcd", OPT_SIZE, &pcd_k, "K", "persistent CD with K steps per update (chains start from noise once)", 1, 100000, 0, 0, NULL, &pcd_seen},
        {"neg-init", OPT_CHOICE, &neg, NULL, "where CD's negative chains start at every update", 0, 0, 0, 0, "noise|data", NULL},
        {"burn-in", OPT_SIZE, &o.burn_in, "B", "negative statistics average chain steps B..K-1", 0, 100000, 0, 0, NULL, NULL},
        {"sampler", OPT_STR, &sampler_name, "NAME", "negative-phase sampler: gibbs|langevin|gibbs-langevin", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"mh", OPT_FLAG, &mh, NULL, "Metropolis-adjust the Langevin moves", 0, 0, 0, 0, NULL, NULL},
        {"eta", OPT_FLOAT, &o.sampler.eta, "E", "Langevin step size, in units of each pixel's variance", 0, 100, 1, 0, NULL, NULL},
        {"langevin-steps", OPT_SIZE, &o.sampler.langevin_steps, "L", "Langevin steps per Gibbs-Langevin step", 1, 100000, 0, 0, NULL, NULL},
        {"no-anneal", OPT_FLAG, &no_anneal, NULL, "constant Langevin step (default: cosine schedule)", 0, 0, 0, 0, NULL, NULL},
        {"epochs", OPT_SIZE, &o.epochs, "N", "passes over the data", 1, 1e9, 0, 0, NULL, NULL},
        {"batch", OPT_SIZE, &o.batch, "N", "rows per update", 1, 1 << 24, 0, 0, NULL, NULL},
        {"chains", OPT_SIZE, &o.chains, "N", "negative chains (0 = batch size)", 0, 1 << 24, 0, 0, NULL, NULL},
        {"lr", OPT_FLOAT, &o.lr, "RATE", "learning rate (cosine-decayed over the epochs)", 0, FLT_MAX, 1, 0, NULL, NULL},
        {"constant-lr", OPT_FLAG, &constant_lr, NULL, "no cosine decay", 0, 0, 0, 0, NULL, NULL},
        {"momentum", OPT_FLOAT, &o.momentum, "M", "momentum", 0, 1, 0, 1, NULL, NULL},
        {"weight-decay", OPT_FLOAT, &o.weight_decay, "L2", "L2 weight decay on W", 0, 1e3, 0, 0, NULL, NULL},
        {"grad-clip", OPT_FLOAT, &o.grad_clip, "NORM", "clip the gradient's L2 norm (0 = off)", 0, 1e30, 0, 0, NULL, NULL},
        {"init-var", OPT_FLOAT, &init_var, "V", "initial variance; W ~ N(0, V^2 / (visible + hidden))", 0, 1e4, 1, 0, NULL, NULL},
        {"standardize", OPT_CHOICE, &stdz, NULL, "one mean/std for all pixels, or per pixel", 0, 0, 0, 0, "global|pixel", NULL},
        {"scale", OPT_STR, &scale, "auto|none|255|minmax", "scaling of the raw data before standardising", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &limit, "N", "use the first N rows only (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        {"seed", OPT_U64, &o.seed, "S", "random seed", 0, 1.8446744073709552e19, 0, 0, NULL, NULL},
        {"no-shuffle", OPT_FLAG, &no_shuffle, NULL, "keep the data order", 0, 0, 0, 0, NULL, NULL},
        {"valid", OPT_STR, &valid_spec, "SPEC", "monitor on this data instead of training rows", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"monitor", OPT_SIZE, &monitor, "N", "rows for the per-epoch monitors (0 = off)", 0, 1e9, 0, 0, NULL, NULL},
        {"exact", OPT_CHOICE, &exact_mode, NULL, "exact log-likelihood each epoch (auto: <= 20 hidden units)", 0, 0, 0, 0, "auto|on|off", NULL},
        {"log", OPT_STR, &log_path, "CSV", "write per-epoch figures to this CSV file", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        OPT_END,
    };
    size_t npos;
    int started = cli_start(cmd, argc, argv, opts, "ebm train grbm --data SPEC --out PATH [options]", train_about,
                            NULL, 0, &npos);
    if (started >= 0) return started;
    if (!data_spec) return cli_error(cmd, "--data is required (e.g. --data fashion-mnist)");
    if (!out) return cli_error(cmd, "--out is required (where to save the model)");
    if (cd_seen && pcd_seen) return cli_error(cmd, "give either --cd K or --pcd K, not both");
    if (ebm_grbm_sampler_parse(sampler_name, &o.sampler.sampler)) return cli_error(cmd, "--sampler: %s", ebm_last_error());
    o.k = pcd_seen ? pcd_k : cd_k;
    o.neg_init = pcd_seen ? EBM_GRBM_NEG_PERSISTENT : (ebm_grbm_neg_init)neg;
    if (o.burn_in >= o.k) return cli_error(cmd, "--burn-in %zu must be below K = %zu", o.burn_in, o.k);
    o.sampler.mh = mh;
    o.sampler.anneal = !no_anneal;
    o.cosine = !constant_lr;
    o.shuffle = !no_shuffle;
    if (exact_mode == 1 && hidden > EBM_EXACT_MAX_UNITS)
        return cli_error(cmd, "--exact on needs at most %d hidden units", EBM_EXACT_MAX_UNITS);
    if (!cli_check_writable(cmd, "--out", out)) return 1;
    if (log_path && !cli_check_writable(cmd, "--log", log_path)) return 1;

    ebm_dataset *d = load_pixels(cmd, data_spec, scale, limit, 0, quiet), *vd = NULL;
    if (!d) return 1;
    int rc = 1;
    ebm_grbm *m = NULL;
    ebm_mat *mon = NULL;
    FILE *log = NULL;
    if (valid_spec && !(vd = load_pixels(cmd, valid_spec, scale, 0, d->x->cols, quiet))) goto done;
    ebm_status s = ebm_grbm_new(d->x->cols, hidden, &m);
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    m->height = d->height;
    m->width = d->width;
    ebm_rng init;
    ebm_rng_seed(&init, o.seed, 100);
    if ((s = ebm_grbm_init(m, &init, init_var)) || (s = ebm_grbm_fit_standardization(m, d->x, stdz == 0))) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    ebm_grbm_standardize(m, d->x->data, d->x->rows, d->x->data);
    const ebm_mat *src = vd ? vd->x : d->x;
    if (vd) ebm_grbm_standardize(m, vd->x->data, vd->x->rows, vd->x->data);
    if (monitor > 0) {
        size_t nm = monitor < src->rows ? monitor : src->rows;
        size_t *idx = malloc(src->rows * sizeof *idx);
        if (!idx || ebm_mat_new(nm, src->cols, &mon)) {
            free(idx);
            rc = cli_error(cmd, "out of memory for the monitor rows");
            goto done;
        }
        ebm_rng r;
        ebm_rng_seed(&r, o.seed, 7);
        ebm_rng_permutation(&r, idx, src->rows);
        ebm_mat_gather(src, idx, nm, mon);
        free(idx);
    }
    if (log_path) {
        log = fopen(log_path, "w");
        if (!log) {
            rc = cli_error(cmd, "--log: cannot open '%s'", log_path);
            goto done;
        }
        fprintf(log, "epoch,seconds,total_seconds,lr,mean_var,recon,exact_ll\n");
    }
    grbm_ctx c = {m, mon, exact_mode == 1 || (exact_mode == 0 && hidden <= EXACT_AUTO_UNITS), log, {0}, 0, NAN, NAN};
    cli_progress_init(&c.prog, quiet);
    o.on_batch = g_on_batch;
    o.on_epoch = g_on_epoch;
    o.user = &c;
    const char *method = pcd_seen ? "pcd" : "cd";
    if (!quiet)
        fprintf(stderr,
                "training GRBM %zu x %zu by %s-%zu (%s start, %s%s sampler, eta %g, %zu Langevin steps): %zu epochs, "
                "batch %zu, lr %g%s, clip %g, %d threads\n",
                m->n_vis, m->n_hid, method, o.k, pcd_seen ? "persistent" : neg_names[neg],
                ebm_grbm_sampler_name(o.sampler.sampler), mh ? "+MH" : "", (double)o.sampler.eta,
                o.sampler.langevin_steps, o.epochs, o.batch, (double)o.lr, o.cosine ? " (cosine)" : "",
                (double)o.grad_clip, ebm_get_threads());
    cli_install_sigint();
    double t0 = cli_now();
    s = ebm_grbm_train(m, d->x, &o);
    double seconds = cli_now() - t0;
    ebm_meta *mt = m->meta;
    char buf[4096];
    ebm_status ms = EBM_OK;
#define SET(k, ...) \
    if (!ms) ms = ebm_meta_setf(mt, k, __VA_ARGS__)
    SET("ebm.data.spec", "%s", data_spec);
    SET("ebm.data.source", "%s", d->source);
    SET("ebm.data.rows", "%zu", d->x->rows);
    SET("ebm.data.scale", "%s", scale);
    SET("ebm.data.standardize", "%s", stdz == 0 ? "global" : "pixel");
    SET("ebm.train.method", "%s-%zu", method, o.k);
    SET("ebm.train.neg_init", "%s", pcd_seen ? "persistent" : neg_names[neg]);
    SET("ebm.train.burn_in", "%zu", o.burn_in);
    SET("ebm.train.sampler", "%s", ebm_grbm_sampler_name(o.sampler.sampler));
    SET("ebm.train.mh", "%d", (int)mh);
    SET("ebm.train.eta", "%g", (double)o.sampler.eta);
    SET("ebm.train.langevin_steps", "%zu", o.sampler.langevin_steps);
    SET("ebm.train.anneal", "%d", o.sampler.anneal);
    SET("ebm.train.epochs", "%zu", c.epochs_done);
    SET("ebm.train.batch", "%zu", o.batch);
    SET("ebm.train.lr", "%g", (double)o.lr);
    SET("ebm.train.lr_schedule", "%s", o.cosine ? "cosine" : "constant");
    SET("ebm.train.momentum", "%g", (double)o.momentum);
    SET("ebm.train.weight_decay", "%g", (double)o.weight_decay);
    SET("ebm.train.grad_clip", "%g", (double)o.grad_clip);
    SET("ebm.train.init_var", "%g", (double)init_var);
    SET("ebm.train.seed", "%llu", (unsigned long long)o.seed);
    SET("ebm.train.seconds", "%.2f", seconds);
    SET("ebm.train.threads", "%d", ebm_get_threads());
    cli_utc_now(buf, sizeof buf);
    SET("ebm.train.date", "%s", buf);
    cli_join_args(argc, argv, buf, sizeof buf);
    SET("ebm.train.command", "ebm train grbm %s", buf);
    if (!isnan(c.last_recon)) SET("ebm.train.final_recon", "%.6f", c.last_recon);
    if (!isnan(c.last_ll)) SET("ebm.train.final_exact_ll", "%.4f", c.last_ll);
    /* defaults for `ebm sample`: the sampler it was trained with, from noise, for as many steps */
    SET("ebm.sample.sampler", "%s", ebm_grbm_sampler_name(o.sampler.sampler));
    SET("ebm.sample.steps", "%zu", o.k);
    SET("ebm.sample.eta", "%g", (double)o.sampler.eta);
    SET("ebm.sample.langevin_steps", "%zu", o.sampler.langevin_steps);
    SET("ebm.sample.mh", "%d", (int)mh);
    SET("ebm.sample.temperature", "%g", 1.0);
    SET("ebm.sample.init", "%s", "noise");
#undef SET
    if (s == EBM_ECANCELED || s == EBM_ENAN) {
        char msg[1200], partial[4200];
        snprintf(msg, sizeof msg, "%s", ebm_last_error());
        cli_progress_end(&c.prog);
        fprintf(stderr, "ebm %s: %s%s%s\n", cmd, s == EBM_ECANCELED ? "interrupted (" : "", msg,
                s == EBM_ECANCELED ? ")" : "");
        snprintf(partial, sizeof partial, "%s.partial", out);
        if (!ms && (c.epochs_done > 0 || s == EBM_ECANCELED) &&
            !ebm_meta_set(mt, "ebm.train.stopped", s == EBM_ENAN ? "diverged" : "interrupted") &&
            !ebm_grbm_save(m, partial))
            fprintf(stderr, "ebm %s: the model so far (%zu full epochs) is saved in %s; %s was not touched\n", cmd,
                    c.epochs_done, partial, out);
        rc = s == EBM_ECANCELED ? 130 : 1;
        goto done;
    }
    if (s || (s = ms) || (s = ebm_grbm_save(m, out))) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    if (!quiet) {
        char dur[32];
        cli_format_duration(seconds, dur, sizeof dur);
        fprintf(stderr, "saved %s (GRBM %zu x %zu, %zu epochs in %s)\n", out, m->n_vis, m->n_hid, o.epochs, dur);
    }
    rc = 0;
done:
    if (log) fclose(log);
    ebm_mat_free(mon);
    ebm_grbm_free(m);
    ebm_dataset_free(vd);
    ebm_dataset_free(d);
    return rc;
}

/* ---- ebm sample MODEL.grbm ---- */

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
    cli_sample_out out = CLI_SAMPLE_OUT_INIT;
    size_t n = 100, steps = 100, mmd_n = 1000, mh_after = 0;
    uint64_t seed = 1;
    int init = 0, final = 0;
    float noise_scale = 1.0f;
    double bandwidth = 0;
    float bw = 0;
    const char *data_spec = NULL, *sampler_name = NULL, *mmd_spec = NULL;
    bool mh = false, no_anneal = false, steps_seen = false, t_seen = false, eta_seen = false, ls_seen = false,
         init_seen = false;
    ebm_grbm_sample_opts so;
    ebm_grbm_sample_opts_default(&so);
    const cli_opt opts[] = {
        {"n", OPT_SIZE, &n, "N", "number of chains (samples)", 1, 1e7, 0, 0, NULL, NULL},
        {"steps", OPT_SIZE, &steps, "S", "sampler steps per chain", 0, 1e9, 0, 0, NULL, &steps_seen},
        {"sampler", OPT_STR, &sampler_name, "NAME", "gibbs|langevin|gibbs-langevin (default: the model's)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"mh", OPT_FLAG, &mh, NULL, "Metropolis-adjusted Langevin moves", 0, 0, 0, 0, NULL, NULL},
        {"mh-after", OPT_SIZE, &mh_after, "N", "with --mh: the first N steps unadjusted (the paper's adjust_step)", 0, 1e9, 0, 0, NULL, NULL},
        {"eta", OPT_FLOAT, &so.eta, "E", "Langevin step size in units of each pixel's variance", 0, 100, 1, 0, NULL, &eta_seen},
        {"langevin-steps", OPT_SIZE, &so.langevin_steps, "L", "Langevin steps per Gibbs-Langevin step", 1, 100000, 0, 0, NULL, &ls_seen},
        {"no-anneal", OPT_FLAG, &no_anneal, NULL, "constant Langevin step (default: cosine schedule)", 0, 0, 0, 0, NULL, NULL},
        {"temperature", OPT_FLOAT, &so.T, "T", "sampling temperature", 0, 1e6, 1, 0, NULL, &t_seen},
        {"init", OPT_CHOICE, &init, NULL, "start chains from noise or from data rows", 0, 0, 0, 0, "noise|data", &init_seen},
        {"noise-scale", OPT_FLOAT, &noise_scale, "S", "standard deviation of the noise start", 0, 1e6, 0, 0, NULL, NULL},
        {"data", OPT_STR, &data_spec, "SPEC", "data for --init data (default: the model's training data)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"final", OPT_CHOICE, &final, NULL, "output E[v | h] of the last state, or the state v", 0, 0, 0, 0, "mean|state", NULL},
        {"seed", OPT_U64, &seed, "S", "random seed", 0, 1.8446744073709552e19, 0, 0, NULL, NULL},
        CLI_SAMPLE_OUT_OPTIONS(out),
        {"mmd-data", OPT_STR, &mmd_spec, "SPEC", "report the kernel MMD^2 between the samples and this data", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"mmd-n", OPT_SIZE, &mmd_n, "N", "rows of --mmd-data to use", 2, 1e5, 0, 0, NULL, NULL},
        {"bandwidth", OPT_FLOAT, &bw, "B", "Gaussian kernel bandwidth in pixel units (0 = median heuristic)", 0, 1e9, 0, 0, NULL, NULL},
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts,
                             "ebm sample MODEL [--sampler gibbs|langevin|gibbs-langevin] [--mh] [--png PATH] [options]",
                             sample_about, &path);
    if (rc >= 0) return rc;
    if (!out.png && !out.npy && !out.csv && !mmd_spec)
        return cli_error(cmd, "nothing to write: give --png, --npy, --csv and/or --mmd-data");
    if ((rc = cli_sample_out_check(cmd, &out, true)) >= 0) return rc;
    if (mmd_spec && n < 2) return cli_error(cmd, "--mmd-data needs at least 2 samples (--n)");
    ebm_grbm *m = load_grbm(cmd, path);
    if (!m) return 1;
    rc = 1;
    ebm_grbm_chains *ch = NULL;
    ebm_dataset *d = NULL, *md = NULL;
    ebm_mat *outm = NULL;
    size_t h = 0, w = 0;
    const char *v;
    if (!sampler_name) sampler_name = (v = ebm_meta_get(m->meta, "ebm.sample.sampler")) ? v : "gibbs-langevin";
    if (ebm_grbm_sampler_parse(sampler_name, &so.sampler)) {
        rc = cli_error(cmd, "--sampler: %s", ebm_last_error());
        goto done;
    }
    if (out.png && !cli_image_shape(cmd, m->n_vis, m->height, m->width, out.shape, &h, &w)) goto done;
    if (!steps_seen) cli_meta_size(m->meta, "ebm.sample.steps", &steps);
    if (!t_seen && (!cli_meta_float(m->meta, "ebm.sample.temperature", &so.T) || !(so.T > 0))) so.T = 1.0f;
    if (!eta_seen && (!cli_meta_float(m->meta, "ebm.sample.eta", &so.eta) || !(so.eta > 0))) so.eta = 0.5f;
    if (!ls_seen && (!cli_meta_size(m->meta, "ebm.sample.langevin_steps", &so.langevin_steps) || so.langevin_steps < 1))
        so.langevin_steps = 10;
    if (!init_seen && (v = ebm_meta_get(m->meta, "ebm.sample.init")) && strcmp(v, "data") == 0) init = 1;
    so.mh = mh;
    so.anneal = !no_anneal;
    ebm_rng rng;
    ebm_rng_seed(&rng, seed, 0);
    ebm_status s = ebm_grbm_chains_new(m, n, &ch);
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
        const char *sc = ebm_meta_get(m->meta, "ebm.data.scale");
        if (!(d = load_pixels(cmd, spec, sc ? sc : "auto", 0, m->n_vis, quiet))) goto done;
        ebm_grbm_standardize(m, d->x->data, d->x->rows, d->x->data);
        s = ebm_grbm_chains_init_data(ch, d->x, &rng);
    } else {
        s = ebm_grbm_chains_init_noise(ch, noise_scale, &rng);
    }
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    if (!quiet)
        fprintf(stderr, "sampling %zu chains from %s: %zu steps of %s%s (eta %g, %zu Langevin steps%s) at T = %g\n", n,
                init ? "data" : "noise", steps, ebm_grbm_sampler_name(so.sampler),
                mh ? (mh_after ? " + MH after the first steps" : " + MH") : "", (double)so.eta,
                so.langevin_steps, so.anneal ? ", cosine" : "", (double)so.T);
    cli_progress prog;
    cli_progress_init(&prog, quiet);
    cli_install_sigint();
    double t0 = cli_now();
    size_t done_steps = 0, chunk = steps / 100 ? steps / 100 : 1;
    /* Langevin anneals over the whole run, so run it in one call; the others in chunks for the progress bar */
    if (so.sampler == EBM_GRBM_LANGEVIN) chunk = steps ? steps : 1;
    if (mh_after && !mh) {
        rc = cli_error(cmd, "--mh-after needs --mh");
        goto done;
    }
    if (mh_after > steps) mh_after = steps;
    while (done_steps < steps) {
        size_t k = steps - done_steps < chunk ? steps - done_steps : chunk;
        /* the first --mh-after steps without the Metropolis test, as one phase */
        if (mh && done_steps < mh_after) k = mh_after - done_steps < k ? mh_after - done_steps : k;
        so.mh = mh && done_steps >= mh_after;
        if ((s = ebm_grbm_chains_run(ch, &so, k, &rng))) {
            rc = cli_lib_error(cmd, s);
            goto done;
        }
        done_steps += k;
        char detail[64];
        snprintf(detail, sizeof detail, "%zu/%zu steps", done_steps, steps);
        cli_progress_bar(&prog, "sampling", (double)done_steps / (double)steps, detail);
        if (cli_interrupted()) {
            cli_progress_end(&prog);
            cli_error(cmd, "interrupted after %zu steps; nothing written", done_steps);
            rc = 130;
            goto done;
        }
    }
    if (mh && so.sampler != EBM_GRBM_GIBBS)
        cli_progress_line(&prog, "%zu steps in %.2f s, acceptance rate %.3f over the last %zu (Metropolis-adjusted) steps",
                          steps, cli_now() - t0, ebm_grbm_chains_accept_rate(ch), steps - mh_after);
    else
        cli_progress_line(&prog, "%zu steps in %.2f s", steps, cli_now() - t0);
    if ((s = ebm_mat_new(n, m->n_vis, &outm))) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    if (final == 0) s = ebm_grbm_chains_mean(ch, so.T, &rng, outm->data);
    else memcpy(outm->data, ebm_grbm_chains_visible(ch), n * m->n_vis * sizeof(float));
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    ebm_grbm_unstandardize(m, outm->data, n, outm->data);
    if (!cli_sample_out_write(cmd, quiet, &out, outm->data, n, m->n_vis, false, h, w)) goto done;
    if (mmd_spec) {
        const char *sc = ebm_meta_get(m->meta, "ebm.data.scale");
        if (!(md = load_pixels(cmd, mmd_spec, sc ? sc : "auto", mmd_n, m->n_vis, quiet))) goto done;
        double mmd2, used;
        bandwidth = bw;
        if ((s = ebm_mmd_gaussian(outm->data, n, md->x->data, md->x->rows, m->n_vis, bandwidth, &mmd2, &used))) {
            rc = cli_lib_error(cmd, s);
            goto done;
        }
        printf("mmd2 %.6f  bandwidth %.4f (%s)  samples %zu  data %zu (%s)  sampler %s%s  steps %zu\n", mmd2, used,
               bw > 0 ? "given" : "median heuristic", n, md->x->rows, mmd_spec, ebm_grbm_sampler_name(so.sampler),
               mh ? "+mh" : "", steps);
    }
    rc = 0;
done:
    ebm_mat_free(outm);
    ebm_dataset_free(d);
    ebm_dataset_free(md);
    ebm_grbm_chains_free(ch);
    ebm_grbm_free(m);
    return rc;
}

/* ---- ebm eval MODEL.grbm ---- */

static const char *const eval_about =
    "Evaluate a Gaussian-Bernoulli RBM on data (standardised as in training): mean free energy,\n"
    "reconstruction error (standardised units), and with at most 20 hidden units (25 with --exact on)\n"
    "the exact log Z (sum over the hidden layer, a Gaussian integral for each h) and the mean test\n"
    "log-likelihood in nats per example, as a density of the data in its own (pixel) units.  --ais adds\n"
    "an AIS estimate of log Z (base: a factorised Gaussian with the data's mean and variance).";

int cli_grbm_eval(int argc, char **argv, bool quiet) {
    const char *cmd = "eval";
    const char *data_spec = NULL;
    size_t limit = 0, ais_runs = 100, ais_steps = 10000;
    int exact_mode = 0;
    bool json = false, ais = false;
    uint64_t seed = 1;
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "evaluation data (default: the model's training data spec)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &limit, "N", "use the first N rows only (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        {"exact", OPT_CHOICE, &exact_mode, NULL, "exact log Z and log-likelihood (auto: <= 20 hidden units)", 0, 0, 0, 0, "auto|on|off", NULL},
        {"ais", OPT_FLAG, &ais, NULL, "estimate log Z by AIS too", 0, 0, 0, 0, NULL, NULL},
        {"ais-runs", OPT_SIZE, &ais_runs, "M", "AIS runs", 1, 1 << 20, 0, 0, NULL, NULL},
        {"ais-steps", OPT_SIZE, &ais_steps, "K", "AIS intermediate distributions", 3, 1e8, 0, 0, NULL, NULL},
        {"seed", OPT_U64, &seed, "S", "AIS seed", 0, 1.8446744073709552e19, 0, 0, NULL, NULL},
        {"json", OPT_FLAG, &json, NULL, "print one JSON object instead of text", 0, 0, 0, 0, NULL, NULL},
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm eval MODEL --data SPEC [options]", eval_about, &path);
    if (rc >= 0) return rc;
    ebm_grbm *m = load_grbm(cmd, path);
    if (!m) return 1;
    rc = 1;
    ebm_dataset *d = NULL;
    double *F = NULL;
    if (!data_spec) data_spec = ebm_meta_get(m->meta, "ebm.data.spec");
    if (!data_spec) {
        rc = cli_error(cmd, "--data is required (the model does not record its training data)");
        goto done;
    }
    if (exact_mode == 1 && m->n_hid > EBM_EXACT_MAX_UNITS) {
        rc = cli_error(cmd, "--exact on needs at most %d hidden units; this GRBM has %zu", EBM_EXACT_MAX_UNITS, m->n_hid);
        goto done;
    }
    const char *sc = ebm_meta_get(m->meta, "ebm.data.scale");
    if (!(d = load_pixels(cmd, data_spec, sc ? sc : "auto", limit, m->n_vis, quiet || json))) goto done;
    size_t rows = d->x->rows;
    ebm_grbm_standardize(m, d->x->data, rows, d->x->data);
    bool exact = exact_mode == 1 || (exact_mode == 0 && m->n_hid <= EXACT_AUTO_UNITS);
    F = malloc(rows * sizeof *F);
    if (!F) {
        rc = cli_error(cmd, "out of memory");
        goto done;
    }
    double t0 = cli_now(), fmean = 0, recon = NAN, logz = NAN, ll = NAN, alz = NAN, alo = NAN, ahi = NAN, all = NAN;
    ebm_status s = ebm_grbm_free_energy(m, d->x->data, rows, 1.0f, F);
    if (!s) s = ebm_grbm_recon_error(m, d->x->data, rows, &recon);
    if (!s && exact) {
        s = ebm_grbm_log_z_exact(m, 1.0f, &logz);
        if (!s) s = ebm_grbm_log_likelihood(m, d->x->data, rows, logz, &ll);
        ll += ebm_grbm_log_jacobian(m);
    }
    if (!s && ais) {
        float *bm = malloc(m->n_vis * sizeof(float)), *bv = malloc(m->n_vis * sizeof(float));
        ebm_ais_opts ao;
        ebm_ais_opts_default(&ao);
        ao.runs = ais_runs;
        ao.steps = ais_steps;
        ao.seed = seed;
        ebm_ais_result res;
        s = bm && bv ? ebm_grbm_ais_base(d->x, bm, bv) : EBM_ENOMEM;
        if (!s) s = ebm_grbm_ais(m, bm, bv, &ao, &res, NULL);
        if (!s) {
            alz = res.log_z;
            alo = res.log_z_lo;
            ahi = res.log_z_hi;
            if (!ebm_grbm_log_likelihood(m, d->x->data, rows, alz, &all)) all += ebm_grbm_log_jacobian(m);
        }
        free(bm);
        free(bv);
    }
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    for (size_t i = 0; i < rows; i++) fmean += F[i] / (double)rows;
    double seconds = cli_now() - t0;
    if (json) {
        printf("{\"model\": ");
        cli_json_string(stdout, path);
        printf(", \"kind\": \"grbm\", \"n_vis\": %zu, \"n_hid\": %zu, \"data\": ", m->n_vis, m->n_hid);
        cli_json_string(stdout, data_spec);
        printf(", \"rows\": %zu, \"free_energy_mean\": ", rows);
        cli_json_number(stdout, fmean);
        printf(", \"recon_mse\": ");
        cli_json_number(stdout, recon);
        printf(", \"log_z\": ");
        cli_json_number(stdout, logz);
        printf(", \"log_likelihood\": ");
        cli_json_number(stdout, ll);
        printf(", \"ais_log_z\": ");
        cli_json_number(stdout, alz);
        printf(", \"ais_log_likelihood\": ");
        cli_json_number(stdout, all);
        printf(", \"seconds\": %.3f}\n", seconds);
    } else {
        printf("model            %s (GRBM %zu visible x %zu hidden)\n", path, m->n_vis, m->n_hid);
        printf("data             %s: %zu rows (standardised as in training)\n", d->source, rows);
        printf("free energy      %.4f (mean, standardised space)\n", fmean);
        printf("reconstruction   %.6f (mean squared error per unit, standardised)\n", recon);
        if (exact) {
            printf("log Z            %.6f (exact, 2^%zu hidden states)\n", logz, m->n_hid);
            printf("log-likelihood   %.4f nats per example (exact; a density in pixel units)\n", ll);
        } else {
            printf("log-likelihood   n/a: exact needs at most %d hidden units (this model: %zu); try --ais\n",
                   EXACT_AUTO_UNITS, m->n_hid);
        }
        if (ais) {
            printf("AIS log Z        %.6f [%.6f, %.6f] (%zu runs, %zu steps)\n", alz, alo, ahi, ais_runs, ais_steps);
            printf("AIS log-lik.     %.4f nats per example\n", all);
        }
    }
    rc = 0;
done:
    free(F);
    ebm_dataset_free(d);
    ebm_grbm_free(m);
    return rc;
}

/* ---- ebm info MODEL.grbm ---- */

static void stat_line(const char *name, const float *x, size_t n, int transform) {
    double s = 0, sq = 0, mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double v = transform ? exp(0.5 * x[i]) : x[i];
        s += v;
        sq += v * v;
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
    }
    double mean = s / (double)n;
    printf("  %-10s mean %+.4f  std %.4f  min %+.4f  max %+.4f\n", name, mean, sqrt(fmax(0, sq / (double)n - mean * mean)),
           mn, mx);
}

int cli_grbm_info(int argc, char **argv, bool quiet) {
    const char *cmd = "info";
    cli_info_args ia;
    const char *path;
    int rc = cli_info_start(argc, argv, "ebm info MODEL [--json] [--filters PNG]",
                            "Describe a Gaussian-Bernoulli RBM file: shapes, parameter statistics (sigma = exp(log_sigma2 / 2)),\n"
                            "the stored standardisation and all metadata; --filters draws columns of W.", &ia, &path);
    if (rc >= 0) return rc;
    bool json = ia.json;
    ebm_grbm *m = load_grbm(cmd, path);
    if (!m) return 1;
    rc = 1;
    if (json) {
        printf("{\"file\": ");
        cli_json_string(stdout, path);
        printf(", \"kind\": \"grbm\", \"n_vis\": %zu, \"n_hid\": %zu, \"n_params\": %zu, \"metadata\": {", m->n_vis,
               m->n_hid, m->n_params);
        cli_print_meta(m->meta, true);
        printf("}}\n");
    } else {
        printf("%s: Gaussian-Bernoulli RBM, %zu visible x %zu hidden, %zu parameters\n", path, m->n_vis, m->n_hid,
               m->n_params);
        if (m->height) printf("image shape %zu x %zu\n", m->height, m->width);
        printf("parameters:\n");
        stat_line("W", m->W, m->n_vis * m->n_hid, 0);
        stat_line("b_h", m->b, m->n_hid, 0);
        stat_line("mu", m->mu, m->n_vis, 0);
        stat_line("sigma", m->log_var, m->n_vis, 1);
        printf("standardisation (pixel = model * std + mean):\n");
        stat_line("data_mean", m->data_mean, m->n_vis, 0);
        stat_line("data_std", m->data_std, m->n_vis, 0);
        printf("metadata:\n");
        cli_print_meta(m->meta, false);
    }
    if (!cli_info_filters(&ia, quiet, m->W, m->n_vis, m->n_hid, m->height, m->width)) goto done;
    rc = 0;
done:
    ebm_grbm_free(m);
    return rc;
}
