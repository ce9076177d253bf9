/* `ebm train rbm`: loads and preprocesses data, trains a Bernoulli RBM by CD-k or PCD-k with a progress
 * bar and per-epoch monitors (reconstruction error, pseudo-log-likelihood, exact log-likelihood when a
 * layer has at most 20 units), writes a CSV log, and saves the model with its training and data settings
 * in the metadata.  The model file is written once, atomically, at the end; an interrupted or diverged
 * run saves what it has beside it (NAME.partial.safetensors) and never touches --out. */
#include "cli.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EXACT_MONITOR_UNITS 20

typedef struct {
    ebm_rbm *m;
    const ebm_mat *mon;         /* monitor rows (recon, PLL) */
    const ebm_mat *ll_data;     /* rows for the exact log-likelihood */
    bool pll, exact;
    FILE *log;
    cli_progress prog;
    size_t epochs_done;
    double last_recon, last_pll, last_ll, last_logz;
    const char *cmd;
} train_ctx;

static int on_batch(const ebm_train_progress *p, void *user) {
    train_ctx *c = user;
    if (cli_interrupted()) return 1;
    char label[64], detail[160], eta[32];
    snprintf(label, sizeof label, "epoch %zu/%zu", p->epoch, p->epochs);
    double per_batch = p->seconds / (double)p->batch;
    double left = per_batch * (double)(p->batches - p->batch) +
                  (p->epoch < p->epochs ? per_batch * (double)p->batches * (double)(p->epochs - p->epoch) : 0);
    cli_format_duration(left, eta, sizeof eta);
    if (isnan(p->recon)) snprintf(detail, sizeof detail, "%zu/%zu batches, ETA %s", p->batch, p->batches, eta);
    else snprintf(detail, sizeof detail, "%zu/%zu batches, recon %.4f, ETA %s", p->batch, p->batches, p->recon, eta);
    cli_progress_bar(&c->prog, label, (double)p->batch / (double)p->batches, detail);
    return 0;
}

static int on_epoch(const ebm_train_progress *p, void *user) {
    train_ctx *c = user;
    c->epochs_done = p->epoch;
    double recon = NAN, pll = NAN, ll = NAN, logz = NAN, dead = NAN, on = NAN;
    if (c->mon) {
        if (ebm_rbm_recon_error(c->m, c->mon->data, c->mon->rows, &recon)) recon = NAN;
        if (ebm_rbm_saturation(c->m, c->mon->data, c->mon->rows, &dead, &on)) dead = on = NAN;
        if (c->pll && ebm_rbm_pseudo_ll(c->m, c->mon->data, c->mon->rows, &pll)) pll = NAN;
    }
    if (c->exact && !ebm_rbm_log_z_exact(c->m, 1.0f, &logz) &&
        ebm_rbm_log_likelihood(c->m, c->ll_data->data, c->ll_data->rows, logz, &ll))
        ll = NAN;
    c->last_recon = recon;
    c->last_pll = pll;
    c->last_ll = ll;
    c->last_logz = logz;
    char line[256];
    int n = snprintf(line, sizeof line, "epoch %zu/%zu  %.2f s", p->epoch, p->epochs, p->seconds);
    if (!isnan(recon)) n += snprintf(line + n, sizeof line - (size_t)n, "  recon %.4f", recon);
    if (!isnan(pll)) n += snprintf(line + n, sizeof line - (size_t)n, "  pseudo-LL %.2f", pll);
    if (!isnan(ll)) snprintf(line + n, sizeof line - (size_t)n, "  exact LL %.3f nats", ll);
    cli_progress_line(&c->prog, "%s", line);
    if (dead + on > 0.25)
        cli_progress_line(&c->prog, "warning: %.0f%% of the hidden units are saturated (%.0f%% never on, %.0f%% always on "
                          "over the monitor rows); a smaller --lr or a larger --weight-decay may help",
                          100 * (dead + on), 100 * dead, 100 * on);
    if (c->log) {
        fprintf(c->log, "%zu,%.4f,%.4f,%.6g,", p->epoch, p->seconds, p->total_seconds, p->lr);
        if (!isnan(p->recon)) fprintf(c->log, "%.6f", p->recon);
        fputc(',', c->log);
        if (!isnan(recon)) fprintf(c->log, "%.6f", recon);
        fputc(',', c->log);
        if (!isnan(pll)) fprintf(c->log, "%.4f", pll);
        fputc(',', c->log);
        if (!isnan(ll)) fprintf(c->log, "%.4f", ll);
        fputc(',', c->log);
        if (!isnan(logz)) fprintf(c->log, "%.4f", logz);
        fputc(',', c->log);
        if (!isnan(dead)) fprintf(c->log, "%.4f", dead + on);
        fputc('\n', c->log);
        fflush(c->log);
    }
    return cli_interrupted() ? 1 : 0;
}

/* Rows drawn without replacement from src (at most n), fixed by seed. */
static ebm_mat *subset(const ebm_mat *src, size_t n, uint64_t seed) {
    if (n > src->rows) n = src->rows;
    size_t *idx = malloc(src->rows * sizeof *idx);
    ebm_mat *out = NULL;
    if (idx && ebm_mat_new(n, src->cols, &out) == EBM_OK) {
        ebm_rng r;
        ebm_rng_seed(&r, seed, 7);
        ebm_rng_permutation(&r, idx, src->rows);
        if (ebm_mat_gather(src, idx, n, out)) {
            ebm_mat_free(out);
            out = NULL;
        }
    }
    free(idx);
    return out;
}

static const char *const mode_names[] = {"cd", "pcd"};

void cli_cd_args_init(cli_cd_args *a) {
    memset(a, 0, sizeof *a);
    ebm_cd_opts_default(&a->o);
    a->cd_k = 1;
    a->lr_final = -1;
    a->init_std = 0.01f;
}

bool cli_cd_finish(const char *cmd, cli_cd_args *a) {
    if (a->cd_seen && a->pcd_seen) return cli_error(cmd, "give either --cd K or --pcd K, not both"), false;
    a->o.mode = a->pcd_seen ? EBM_PCD : EBM_CD;
    a->o.k = a->pcd_seen ? a->pcd_k : a->cd_k;
    a->o.shuffle = !a->no_shuffle;
    a->o.lr_final = a->lr_final_seen ? a->lr_final : -1;
    return true;
}

ebm_status cli_cd_meta(ebm_meta *mt, const char *kind, const ebm_cd_opts *o, const cli_data_args *da,
                       const char *data_spec, const ebm_dataset *d, float init_std, double seconds, size_t epochs_done,
                       int argc, char **argv) {
    char buf[4096];
    ebm_status s = EBM_OK;
#define SET(k, ...) \
    if (!s) s = ebm_meta_setf(mt, k, __VA_ARGS__)
    SET("ebm.data.spec", "%s", data_spec);
    SET("ebm.data.source", "%s", d->source);
    SET("ebm.data.rows", "%zu", d->x->rows);
    SET("ebm.data.scale", "%s", da->scale);
    SET("ebm.data.binarize", "%s", da->binarize);
    SET("ebm.data.threshold", "%g", (double)da->threshold);
    SET("ebm.train.method", "%s-%zu", mode_names[o->mode], o->k);
    SET("ebm.train.epochs", "%zu", epochs_done);
    SET("ebm.train.batch", "%zu", o->batch);
    if (o->mode == EBM_PCD) SET("ebm.train.chains", "%zu", o->chains ? o->chains : o->batch);
    SET("ebm.train.lr", "%g", (double)o->lr);
    SET("ebm.train.lr_final", "%g", (double)(o->lr_final >= 0 ? o->lr_final : o->lr));
    SET("ebm.train.momentum", "%g", (double)o->momentum);
    SET("ebm.train.weight_decay", "%g", (double)o->weight_decay);
    SET("ebm.train.grad_clip", "%g", (double)o->grad_clip);
    SET("ebm.train.init_std", "%g", (double)init_std);
    SET("ebm.train.seed", "%llu", (unsigned long long)o->seed);
    SET("ebm.train.seconds", "%.2f", seconds);
    SET("ebm.train.threads", "%d", ebm_get_threads());
    cli_utc_now(buf, sizeof buf);
    SET("ebm.train.date", "%s", buf);
    cli_join_args(argc, argv, buf, sizeof buf);
    SET("ebm.train.command", "ebm train %s %s", kind, buf);
    /* defaults for `ebm sample` */
    if (!ebm_meta_get(mt, "ebm.sample.steps")) SET("ebm.sample.steps", "%d", 1000);
    if (!ebm_meta_get(mt, "ebm.sample.temperature")) SET("ebm.sample.temperature", "%g", 1.0);
    if (!ebm_meta_get(mt, "ebm.sample.init")) SET("ebm.sample.init", "%s", "noise");
#undef SET
    return s;
}

static ebm_status record_meta(ebm_rbm *m, const ebm_cd_opts *o, const cli_data_args *da, const char *data_spec,
                              const ebm_dataset *d, float init_std, double seconds, const train_ctx *c,
                              int argc, char **argv) {
    ebm_meta *mt = m->meta;
    ebm_status s = cli_cd_meta(mt, "rbm", o, da, data_spec, d, init_std, seconds, c->epochs_done, argc, argv);
    if (!s && !isnan(c->last_recon)) s = ebm_meta_setf(mt, "ebm.train.final_recon", "%.6f", c->last_recon);
    if (!s && !isnan(c->last_pll)) s = ebm_meta_setf(mt, "ebm.train.final_pseudo_ll", "%.4f", c->last_pll);
    if (!s && !isnan(c->last_ll)) s = ebm_meta_setf(mt, "ebm.train.final_exact_ll", "%.4f", c->last_ll);
    return s;
}

static const char *const train_about =
    "Train a Bernoulli restricted Boltzmann machine by contrastive divergence (--cd K, the default with\n"
    "K = 1) or persistent contrastive divergence (--pcd K) with SGD, momentum and weight decay.  Data\n"
    "values must lie in [0, 1] (grey levels are used as probabilities unless --binarize is given).\n"
    "Each epoch prints reconstruction error and pseudo-log-likelihood on monitor rows, and the exact\n"
    "log-likelihood when the hidden (or visible) layer has at most 20 units.  The model is saved at the\n"
    "end, atomically; Ctrl-C stops after the current batch and saves NAME.partial.safetensors.";

int cli_rbm_train(int argc, char **argv, bool quiet) {
    const char *cmd = "train rbm";

    const char *data_spec = NULL, *valid_spec = NULL, *out = NULL, *log_path = NULL;
    size_t hidden = 256, monitor = 200;
    int exact_mode = 0; /* auto|on|off */
    cli_cd_args ca;
    cli_cd_args_init(&ca);
    ebm_cd_opts o;
    cli_data_args da = {"auto", "none", 0.5f, 0, 1, false, false, false};
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "training data: fashion-mnist[:train|:test] or a .idx[.gz]/.npy/.csv path", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"out", OPT_STR, &out, "PATH", "where to save the model (.safetensors)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"hidden", OPT_SIZE, &hidden, "N", "hidden units", 1, 1 << 20, 0, 0, NULL, NULL},
        CLI_CD_OPTIONS(ca),
        CLI_DATA_OPTIONS(da),
        {"valid", OPT_STR, &valid_spec, "SPEC", "monitor on this data instead of training rows", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"monitor", OPT_SIZE, &monitor, "N", "rows for the per-epoch monitors (0 = off)", 0, 1e9, 0, 0, NULL, NULL},
        {"exact", OPT_CHOICE, &exact_mode, NULL, "exact log-likelihood each epoch (auto: when a layer has <= 20 units)", 0, 0, 0, 0, "auto|on|off", NULL},
        {"log", OPT_STR, &log_path, "CSV", "write per-epoch figures to this CSV file", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        OPT_END,
    };
    size_t npos;
    int started = cli_start(cmd, argc, argv, opts, "ebm train rbm --data SPEC --out PATH [options]", train_about,
                            NULL, 0, &npos);
    if (started >= 0) return started;
    if (!data_spec) return cli_error(cmd, "--data is required (e.g. --data fashion-mnist)");
    if (!out) return cli_error(cmd, "--out is required (where to save the model)");
    if (!cli_cd_finish(cmd, &ca)) return 1;
    o = ca.o;
    float init_std = ca.init_std;
    if (!cli_check_writable(cmd, "--out", out)) return 1;
    if (log_path && !cli_check_writable(cmd, "--log", log_path)) return 1;
    char partial[4096];
    cli_partial_path(out, partial, sizeof partial);

    ebm_data_opts dopts;
    if (!cli_data_opts(cmd, &da, &dopts)) return 2;
    dopts.seed = o.seed;
    ebm_dataset *d = cli_load_data(cmd, data_spec, &dopts, quiet);
    if (!d) return 1;
    ebm_dataset *vd = NULL;
    int rc = 1;
    ebm_rbm *m = NULL;
    ebm_mat *mon = NULL;
    FILE *log = NULL;
    if (ebm_mat_check_range(d->x, 0.0f, 1.0f, data_spec)) {
        cli_error(cmd, "%s; a Bernoulli RBM needs values in [0, 1] (try --scale minmax or --scale 255)", ebm_last_error());
        goto done;
    }
    if (valid_spec) {
        vd = cli_load_data(cmd, valid_spec, &dopts, quiet);
        if (!vd) goto done;
        if (vd->x->cols != d->x->cols) {
            cli_error(cmd, "--valid has %zu columns but --data has %zu", vd->x->cols, d->x->cols);
            goto done;
        }
    }
    ebm_status s = ebm_rbm_new(d->x->cols, hidden, &m);
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    m->height = d->height;
    m->width = d->width;
    ebm_rng init;
    ebm_rng_seed(&init, o.seed, 100);
    s = ebm_rbm_init(m, &init, init_std, d->x);
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    const ebm_mat *mon_src = vd ? vd->x : d->x;
    if (monitor > 0) {
        mon = subset(mon_src, monitor, o.seed);
        if (!mon) {
            rc = cli_error(cmd, "out of memory for the monitor rows");
            goto done;
        }
    }
    size_t small = d->x->cols < hidden ? d->x->cols : hidden;
    bool exact = exact_mode == 1 || (exact_mode == 0 && small <= EXACT_MONITOR_UNITS);
    if (exact && small > EBM_EXACT_MAX_UNITS) {
        rc = cli_error(cmd, "--exact on needs a layer of at most %d units (this model: %zu visible, %zu hidden)",
                       EBM_EXACT_MAX_UNITS, d->x->cols, hidden);
        goto done;
    }
    bool binary = cli_is_binary(mon_src);
    if (log_path) {
        log = fopen(log_path, "w");
        if (!log) {
            rc = cli_error(cmd, "--log: cannot open '%s'", log_path);
            goto done;
        }
        fprintf(log, "epoch,seconds,total_seconds,lr,train_recon,recon,pseudo_ll,exact_ll,log_z,saturated\n");
    }
    train_ctx c = {m, mon, mon_src, binary && mon != NULL, exact, log, {0}, 0, NAN, NAN, NAN, NAN, cmd};
    cli_progress_init(&c.prog, quiet);
    o.on_batch = on_batch;
    o.on_epoch = on_epoch;
    o.user = &c;
    if (!quiet) {
        fprintf(stderr, "training RBM %zu x %zu by %s-%zu: %zu epochs, batch %zu, lr %g%s, %d threads\n", m->n_vis,
                m->n_hid, mode_names[o.mode], o.k, o.epochs, o.batch, (double)o.lr,
                o.lr_final >= 0 ? " (linear decay)" : "", ebm_get_threads());
        if (!binary && c.mon) fprintf(stderr, "data is not binary: pseudo-log-likelihood is not monitored\n");
    }
    cli_install_sigint();
    double t0 = cli_now();
    s = ebm_rbm_train(m, d->x, &o);
    double seconds = cli_now() - t0;
    if (s == EBM_ECANCELED || s == EBM_ENAN) {
        char msg[1200];
        snprintf(msg, sizeof msg, "%s", ebm_last_error());
        cli_progress_end(&c.prog);
        if (s == EBM_ECANCELED) fprintf(stderr, "ebm %s: interrupted (%s)\n", cmd, msg);
        else fprintf(stderr, "ebm %s: %s\n", cmd, msg);
        if (c.epochs_done > 0 || s == EBM_ECANCELED) {
            ebm_meta_setf(m->meta, "ebm.train.stopped", "%s", s == EBM_ENAN ? "diverged" : "interrupted");
            if (!record_meta(m, &o, &da, data_spec, d, init_std, seconds, &c, argc, argv) &&
                !ebm_rbm_save(m, partial))
                fprintf(stderr, "ebm %s: the model so far (%zu full epochs) is saved in %s; %s was not touched\n", cmd,
                        c.epochs_done, partial, out);
        }
        rc = s == EBM_ECANCELED ? 130 : 1;
        goto done;
    }
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    s = record_meta(m, &o, &da, data_spec, d, init_std, seconds, &c, argc, argv);
    if (!s) s = ebm_rbm_save(m, out);
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    if (!quiet) {
        char dur[32];
        cli_format_duration(seconds, dur, sizeof dur);
        fprintf(stderr, "saved %s (RBM %zu x %zu, %zu epochs in %s, %.2f s/epoch)\n", out, m->n_vis, m->n_hid,
                o.epochs, dur, seconds / (double)o.epochs);
    }
    rc = 0;
done:
    if (log) fclose(log);
    ebm_mat_free(mon);
    ebm_rbm_free(m);
    ebm_dataset_free(vd);
    ebm_dataset_free(d);
    return rc;
}
