/* The command line for structured-prediction energies (ebm.model = "structured"): `ebm train structured`
 * (any of the ten losses of LeCun et al. 2006 on labelled data, or on the Markov-chain toy task with a chain
 * energy and Viterbi inference), and `ebm eval` / `ebm info` of such models.  The evaluation reports
 * accuracy, the mean energies of the correct and the most offending incorrect answers and their gap, and
 * flags a collapsed energy (flat surface or one answer for everything).  See docs/structured.md. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The toy sequence task's test split draws from another seed stream than training. */
#define MARKOV_TEST_SEED_OFFSET 1000003ULL

typedef struct {
    size_t len, k, rows;
    float stay, noise;
    uint64_t seed;
} markov_args;

/* Labelled data for a structured model: x (rows, row size), y (rows, labels per row). */
typedef struct {
    ebm_dataset *d;         /* a real data set, or NULL for the toy */
    ebm_mat *x;             /* the toy's inputs (owned) or d->x (borrowed) */
    int32_t *y;             /* the toy's labels (owned) or d->labels (borrowed) */
    size_t c, h, w;         /* per-position input shape */
    bool toy;
    char source[4096];
} sp_data;

static void sp_data_free(sp_data *s) {
    if (s->toy) {
        ebm_mat_free(s->x);
        free(s->y);
    }
    ebm_dataset_free(s->d);
    memset(s, 0, sizeof *s);
}

static bool is_markov(const char *spec) { return strcmp(spec, "markov") == 0 || strcmp(spec, "markov:test") == 0; }

static bool load_sp_data(const char *cmd, const char *spec, const markov_args *ma, const cli_data_args *da, bool quiet,
                         bool spatial, sp_data *out) {
    memset(out, 0, sizeof *out);
    if (is_markov(spec)) {
        uint64_t seed = ma->seed + (strcmp(spec, "markov:test") == 0 ? MARKOV_TEST_SEED_OFFSET : 0);
        ebm_status s = ebm_structured_markov_toy(ma->rows, ma->len, ma->k, ma->stay, ma->noise, seed, &out->x, &out->y);
        if (s) return cli_lib_error(cmd, s), false;
        out->toy = true;
        out->c = ma->k, out->h = out->w = 1;
        snprintf(out->source, sizeof out->source, "Markov toy (%zu chains of length %zu, %zu labels, stay %g, noise %g, seed %llu)",
                 ma->rows, ma->len, ma->k, (double)ma->stay, (double)ma->noise, (unsigned long long)seed);
        if (!quiet) fprintf(stderr, "generated %s\n", out->source);
        return true;
    }
    ebm_data_opts o;
    if (!cli_data_opts(cmd, da, &o)) return false;
    out->d = cli_load_data(cmd, spec, &o, quiet);
    if (!out->d) return false;
    if (!out->d->labels) {
        cli_error(cmd, "%s has no labels (structured prediction needs labelled data: fashion-mnist, toy:NAME, IDX images "
                  "with their labels file, or --data markov)", spec);
        sp_data_free(out);
        return false;
    }
    out->x = out->d->x;
    out->y = out->d->labels;
    size_t dim = out->x->cols;
    out->c = dim, out->h = out->w = 1;
    if (spatial && out->d->height > 1 && out->d->width > 1 && out->d->height * out->d->width == dim)
        out->c = 1, out->h = out->d->height, out->w = out->d->width;
    snprintf(out->source, sizeof out->source, "%s", out->d->source);
    return true;
}

/* ---- ebm train structured ---- */

typedef struct {
    cli_progress prog;
    size_t last_epoch;
} sp_ctx;

static int on_batch(const ebm_structured_progress *p, void *user) {
    sp_ctx *c = user;
    char label[64], detail[160], eta[32];
    snprintf(label, sizeof label, "epoch %zu/%zu", p->epoch, p->epochs);
    double done = (double)(p->epoch - 1) + (double)p->batch / (double)p->batches;
    cli_format_duration(p->seconds / done * ((double)p->epochs - done), eta, sizeof eta);
    snprintf(detail, sizeof detail, "loss %.4f, ETA %s", p->loss, eta);
    cli_progress_bar(&c->prog, label, (double)p->batch / (double)p->batches, detail);
    if (p->batch == p->batches)
        cli_progress_line(&c->prog, "epoch %zu/%zu  loss %.5f  %.1f s", p->epoch, p->epochs, p->loss, p->seconds);
    return cli_interrupted() ? 1 : 0;
}

static const char *const train_about =
    "Train a structured-prediction energy E(x, y) over discrete answers y with one of the ten losses of\n"
    "LeCun et al. (2006, 'A tutorial on energy-based learning', table 1): energy, perceptron, hinge (margin\n"
    "m), log, lvq2 (saturation M), mce, sqsq (square-square, margin m), sqexp (square-exp, gamma), nll (NLL /\n"
    "MMI, beta), mee (minimum empirical error, beta).  Ebar is the energy of the most offending incorrect\n"
    "answer, found by inference.  K classes: the network's K outputs g(x) give E(x, y) = s(g(x)[y]) with s the\n"
    "--energy map (softplus by default, so that energies are >= 0 as lvq2, sqsq and sqexp assume).\n"
    "--data markov trains a chain energy sum_t U[t, y_t] + sum_t P[y_t, y_t+1] on noisy observations of a\n"
    "Markov chain (Viterbi inference).  See docs/structured.md.";

int cli_structured_train(int argc, char **argv, bool quiet) {
    const char *cmd = "train structured";
    const char *data_spec = NULL, *out = NULL, *spec = NULL, *loss_name = "hinge", *energy = "softplus", *optimizer = "adam";
    ebm_structured_train_opts o;
    ebm_structured_train_opts_default(&o);
    markov_args ma = {10, 4, 2000, 0.8f, 1.0f, 1};
    cli_data_args da = {"auto", "none", 0.5f, 0, 1, false, false, false};
    bool len_seen = false, k_seen = false, stay_seen = false, noise_seen = false;
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "labelled training data: fashion-mnist, toy:NAME, a file, or markov", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"out", OPT_STR, &out, "PATH", "where to save the model (.safetensors)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"net", OPT_STR, &spec, "SPEC", "network of one position ending in K outputs (default linear:128,silu,linear:K; markov: linear:K)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"loss", OPT_STR, &loss_name, "NAME", "energy|perceptron|hinge|log|lvq2|mce|sqsq|sqexp|nll|mee", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"margin", OPT_FLOAT, &o.loss.margin, "M", "margin of hinge and sqsq", 0, 1e6, 0, 0, NULL, NULL},
        {"beta", OPT_FLOAT, &o.loss.beta, "B", "inverse temperature of nll and mee", 0, 1e6, 1, 0, NULL, NULL},
        {"gamma", OPT_FLOAT, &o.loss.gamma, "G", "weight of sqexp's exp(-Ebar)", 0, 1e6, 0, 0, NULL, NULL},
        {"lvq2-max", OPT_FLOAT, &o.loss.lvq2_max, "M", "saturation of lvq2", 0, 1e6, 1, 0, NULL, NULL},
        {"energy", OPT_STR, &energy, "raw|softplus|square", "output map s: E = s(g)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"epochs", OPT_SIZE, &o.epochs, "N", "passes over the data", 1, 1e6, 0, 0, NULL, NULL},
        {"batch", OPT_SIZE, &o.batch, "N", "rows per update", 1, 1e6, 0, 0, NULL, NULL},
        {"optimizer", OPT_STR, &optimizer, "adam|sgd", "optimiser", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"lr", OPT_FLOAT, &o.optim.lr, "RATE", "learning rate", 0, 1e6, 1, 0, NULL, NULL},
        {"momentum", OPT_FLOAT, &o.optim.momentum, "M", "SGD momentum", 0, 1, 0, 1, NULL, NULL},
        {"weight-decay", OPT_FLOAT, &o.optim.weight_decay, "L2", "L2 weight decay", 0, 1e3, 0, 0, NULL, NULL},
        {"grad-clip", OPT_FLOAT, &o.optim.clip, "NORM", "clip the gradient norm, the network's and the pairwise matrix's each (0 = off)", 0, 1e30, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &da.limit, "N", "use the first N rows (markov: generate N chains, default 2000)", 0, 1e12, 0, 0, NULL, NULL},
        {"scale", OPT_STR, &da.scale, "auto|none|255|minmax|pm1", "data scaling", -INFINITY, INFINITY, 0, 0, NULL, &da.scale_seen},
        {"length", OPT_SIZE, &ma.len, "L", "markov: chain length", 1, 1000, 0, 0, NULL, &len_seen},
        {"classes", OPT_SIZE, &ma.k, "K", "markov: labels", 2, 100, 0, 0, NULL, &k_seen},
        {"stay", OPT_FLOAT, &ma.stay, "P", "markov: probability that the label stays", 0, 1, 0, 0, NULL, &stay_seen},
        {"noise", OPT_FLOAT, &ma.noise, "SD", "markov: observation noise", 0, 1e3, 0, 0, NULL, &noise_seen},
        {"seed", OPT_U64, &o.seed, "S", "random seed (initialisation, shuffling, toy data)", 0, 1.8446744073709552e19, 0, 0, NULL, NULL},
        OPT_END,
    };
    size_t npos;
    int started = cli_start(cmd, argc, argv, opts, "ebm train structured --data SPEC --loss NAME --out PATH [options]",
                            train_about, NULL, 0, &npos);
    if (started >= 0) return started;
    if (!data_spec) return cli_error(cmd, "--data is required (e.g. --data fashion-mnist or --data markov)"), 2;
    if (!out) return cli_error(cmd, "--out is required (where to save the model)"), 2;
    if (ebm_structured_loss_parse(loss_name, &o.loss.loss)) return cli_error(cmd, "--loss: %s", ebm_last_error()), 2;
    ebm_structured_out map;
    if (ebm_structured_out_parse(energy, &map)) return cli_error(cmd, "--energy: %s", ebm_last_error()), 2;
    if (ebm_structured_loss_needs_nonneg(o.loss.loss) && map == EBM_STRUCTURED_OUT_RAW)
        return cli_error(cmd, "--loss %s assumes non-negative energies: use --energy softplus or square", loss_name), 2;
    if (strcmp(optimizer, "adam") == 0) o.optim.kind = EBM_OPTIM_ADAM;
    else if (strcmp(optimizer, "sgd") == 0) o.optim.kind = EBM_OPTIM_SGD;
    else return cli_error(cmd, "--optimizer: '%s' is not one of adam|sgd", optimizer), 2;
    bool markov = is_markov(data_spec);
    if (!markov && (len_seen || k_seen || stay_seen || noise_seen))
        return cli_error(cmd, "--length, --classes, --stay and --noise go with --data markov"), 2;
    if (!cli_check_writable(cmd, "--out", out)) return 1;
    ma.seed = o.seed;
    if (da.limit) ma.rows = da.limit;
    da.seed = o.seed;
    bool spatial = spec && (strstr(spec, "conv") || strstr(spec, "pool"));
    sp_data sd;
    if (!load_sp_data(cmd, data_spec, &ma, &da, quiet, spatial, &sd)) return 1;
    int rc = 1;
    ebm_structured *m = NULL;
    size_t k = ma.k, len = markov ? ma.len : 0;
    if (!markov) {
        k = 0;
        for (size_t i = 0; i < sd.x->rows; i++) {
            if (sd.y[i] < 0 || sd.y[i] > 9999) {
                rc = cli_error(cmd, "label %d of row %zu is out of 0..9999", (int)sd.y[i], i);
                goto done;
            }
            if ((size_t)sd.y[i] + 1 > k) k = (size_t)sd.y[i] + 1;
        }
        if (k < 2) k = 2;
    }
    char default_spec[64];
    if (!spec) {
        snprintf(default_spec, sizeof default_spec, markov ? "linear:%zu" : "linear:128,silu,linear:%zu", k);
        spec = default_spec;
    }
    ebm_status s = ebm_structured_new(spec, sd.c, sd.h, sd.w, k, len, map, &m);
    if (s) {
        rc = cli_error(cmd, "--net: %s", ebm_last_error());
        goto done;
    }
    if (sd.x->cols != ebm_structured_row_size(m)) {
        rc = cli_error(cmd, "%s rows have %zu values but the network takes %zu", data_spec, sd.x->cols, ebm_structured_row_size(m));
        goto done;
    }
    ebm_rng init;
    ebm_rng_seed(&init, o.seed, 100);
    if ((s = ebm_structured_init(m, &init))) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    ebm_meta *meta = m->meta;
    char buf[4096];
    ebm_meta_set(meta, "ebm.sp.loss", ebm_structured_loss_name(o.loss.loss));
    ebm_meta_setf(meta, "ebm.sp.margin", "%g", (double)o.loss.margin);
    ebm_meta_setf(meta, "ebm.sp.beta", "%g", (double)o.loss.beta);
    ebm_meta_setf(meta, "ebm.sp.gamma", "%g", (double)o.loss.gamma);
    ebm_meta_setf(meta, "ebm.sp.lvq2_max", "%g", (double)o.loss.lvq2_max);
    ebm_meta_set(meta, "ebm.data.spec", data_spec);
    ebm_meta_set(meta, "ebm.data.source", sd.source);
    ebm_meta_setf(meta, "ebm.data.rows", "%zu", sd.x->rows);
    if (markov) {
        ebm_meta_setf(meta, "ebm.sp.markov.stay", "%g", (double)ma.stay);
        ebm_meta_setf(meta, "ebm.sp.markov.noise", "%g", (double)ma.noise);
        ebm_meta_setf(meta, "ebm.sp.markov.seed", "%llu", (unsigned long long)ma.seed);
    } else {
        ebm_meta_set(meta, "ebm.data.scale", da.scale);
    }
    ebm_meta_setf(meta, "ebm.train.optimizer", "%s lr %g wd %g clip %g", optimizer, (double)o.optim.lr,
                  (double)o.optim.weight_decay, (double)o.optim.clip);
    ebm_meta_setf(meta, "ebm.train.epochs", "%zu", o.epochs);
    ebm_meta_setf(meta, "ebm.train.batch", "%zu", o.batch);
    ebm_meta_setf(meta, "ebm.train.seed", "%llu", (unsigned long long)o.seed);
    cli_join_args(argc, argv, buf, sizeof buf);
    ebm_meta_setf(meta, "ebm.train.command", "ebm train structured %s", buf);
    cli_utc_now(buf, sizeof buf);
    ebm_meta_set(meta, "ebm.train.date", buf);
    sp_ctx ctx = {{0}, 0};
    cli_progress_init(&ctx.prog, quiet);
    o.on_batch = on_batch;
    o.user = &ctx;
    size_t np;
    ebm_net_params(m->net, &np);
    if (!quiet)
        fprintf(stderr, "training a structured energy (%s, %zu labels%s, %s output, %zu parameters) with the %s loss: %zu epochs, batch %zu\n",
                ebm_net_spec(m->net), k, markov ? ", chains" : "", energy, np + (m->pair ? k * k : 0), loss_name, o.epochs, o.batch);
    cli_install_sigint();
    double t0 = cli_now();
    s = ebm_structured_train(m, sd.x, sd.y, &o);
    double seconds = cli_now() - t0;
    if (s == EBM_ECANCELED || s == EBM_ENAN) {
        /* the parameters of the last good batch go beside --out, which is not touched */
        char msg[1200], partial[4096];
        snprintf(msg, sizeof msg, "%s", ebm_last_error());
        cli_progress_end(&ctx.prog);
        fprintf(stderr, "ebm %s: %s%s\n", cmd, s == EBM_ECANCELED ? "interrupted: " : "", msg);
        ebm_meta_set(meta, "ebm.train.stopped", s == EBM_ENAN ? "diverged" : "interrupted");
        cli_partial_path(out, partial, sizeof partial);
        if (!ebm_structured_save(m, partial))
            fprintf(stderr, "ebm %s: the parameters of the last good batch are saved in %s; %s was not touched%s\n", cmd,
                    partial, out, s == EBM_ENAN ? " (try a smaller --lr or --grad-clip)" : "");
        rc = s == EBM_ECANCELED ? 130 : 1;
        goto done;
    }
    if (s) {
        cli_progress_end(&ctx.prog);
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    ebm_meta_setf(meta, "ebm.train.seconds", "%.1f", seconds);
    if ((s = ebm_structured_save(m, out))) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    if (!quiet) fprintf(stderr, "saved %s (%.1f s)\n", out, seconds);
    rc = 0;
done:
    ebm_structured_free(m);
    sp_data_free(&sd);
    return rc;
}

/* ---- loading a model ---- */

static ebm_structured *load_model(const char *cmd, const char *path) {
    ebm_structured *m = NULL;
    ebm_status s = ebm_structured_load(path, &m);
    if (s) cli_lib_error(cmd, s);
    return m;
}

static void loss_from_meta(const ebm_meta *meta, ebm_structured_loss_opts *o) {
    ebm_structured_loss_opts_default(o);
    const char *l = ebm_meta_get(meta, "ebm.sp.loss");
    if (l) ebm_structured_loss_parse(l, &o->loss);
    cli_meta_float(meta, "ebm.sp.margin", &o->margin);
    cli_meta_float(meta, "ebm.sp.beta", &o->beta);
    cli_meta_float(meta, "ebm.sp.gamma", &o->gamma);
    cli_meta_float(meta, "ebm.sp.lvq2_max", &o->lvq2_max);
    if (!(o->beta > 0)) o->beta = 1;
    if (!(o->lvq2_max > 0)) o->lvq2_max = 1;
}

/* ---- ebm eval (structured models) ---- */

static const char *const eval_about =
    "Evaluate a structured-prediction model on labelled data: accuracy of y* = argmin_y E(x, y) (per label and,\n"
    "for chains, per sequence), the mean energies of the correct answer and of the most offending incorrect\n"
    "one and their gap, the mean spread (max - min) of the energies, and the training loss.  A collapsed\n"
    "model (flat energies, or one answer for 90% of the rows) is flagged.  --data markov:test draws fresh\n"
    "chains for a model trained on --data markov.";

int cli_structured_eval(int argc, char **argv, bool quiet) {
    const char *cmd = "eval";
    const char *data_spec = NULL;
    bool json = false;
    cli_data_args da = {"auto", "none", 0.5f, 0, 1, false, false, false};
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "labelled evaluation data (markov:test for the toy)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &da.limit, "N", "use the first N rows only (0 = all; markov: N chains, default 2000)", 0, 1e12, 0, 0, NULL, NULL},
        {"json", OPT_FLAG, &json, NULL, "print one JSON object instead of text", 0, 0, 0, 0, NULL, NULL},
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm eval MODEL --data SPEC [--limit N] [--json]", eval_about, &path);
    if (rc >= 0) return rc;
    ebm_structured *m = load_model(cmd, path);
    if (!m) return 1;
    rc = 1;
    sp_data sd = {0};
    if (!data_spec) data_spec = ebm_meta_get(m->meta, "ebm.data.spec");
    if (!data_spec) {
        rc = cli_error(cmd, "--data is required");
        goto done;
    }
    if (is_markov(data_spec) != (m->len > 0)) {
        rc = cli_error(cmd, "%s: %s", path, m->len ? "a chain model is evaluated on --data markov:test" : "--data markov goes with chain models (ebm train structured --data markov)");
        goto done;
    }
    markov_args ma = {m->len, m->k, da.limit ? da.limit : 2000, 0.8f, 1.0f, 1};
    cli_meta_float(m->meta, "ebm.sp.markov.stay", &ma.stay);
    cli_meta_float(m->meta, "ebm.sp.markov.noise", &ma.noise);
    size_t seed;
    if (cli_meta_size(m->meta, "ebm.sp.markov.seed", &seed)) ma.seed = seed;
    const char *scale = ebm_meta_get(m->meta, "ebm.data.scale");
    if (scale) da.scale = scale;
    if (!load_sp_data(cmd, data_spec, &ma, &da, quiet || json, false, &sd)) goto done;
    if (sd.x->cols != ebm_structured_row_size(m)) {
        rc = cli_error(cmd, "%s has %zu columns but the model takes %zu", data_spec, sd.x->cols, ebm_structured_row_size(m));
        goto done;
    }
    for (size_t i = 0; i < sd.x->rows * ebm_structured_labels_per_row(m); i++)
        if (sd.y[i] < 0 || (size_t)sd.y[i] >= m->k) {
            rc = cli_error(cmd, "%s: label %d of row %zu is not one of the model's %zu classes", data_spec, (int)sd.y[i],
                           i / ebm_structured_labels_per_row(m), m->k);
            goto done;
        }
    ebm_structured_loss_opts lo;
    loss_from_meta(m->meta, &lo);
    ebm_structured_eval r;
    double t0 = cli_now();
    ebm_status s = ebm_structured_evaluate(m, &lo, sd.x->data, sd.y, sd.x->rows, &r);
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    double seconds = cli_now() - t0;
    if (json) {
        printf("{\"model\": ");
        cli_json_string(stdout, path);
        printf(", \"kind\": \"structured\", \"classes\": %zu, \"length\": %zu, \"loss\": \"%s\", \"output\": \"%s\", \"data\": ",
               m->k, m->len, ebm_structured_loss_name(lo.loss), ebm_structured_out_name(m->out));
        cli_json_string(stdout, sd.source);
        printf(", \"rows\": %zu, \"accuracy\": ", sd.x->rows);
        cli_json_number(stdout, r.accuracy);
        printf(", \"sequence_accuracy\": ");
        cli_json_number(stdout, r.seq_accuracy);
        printf(", \"energy_correct\": ");
        cli_json_number(stdout, r.e_correct);
        printf(", \"energy_offending\": ");
        cli_json_number(stdout, r.e_offending);
        printf(", \"gap\": ");
        cli_json_number(stdout, r.gap);
        printf(", \"spread\": ");
        cli_json_number(stdout, r.spread);
        printf(", \"top_share\": ");
        cli_json_number(stdout, r.top_share);
        printf(", \"loss_value\": ");
        cli_json_number(stdout, r.loss);
        printf(", \"collapsed\": %s, \"seconds\": %.3f}\n", r.collapsed ? "true" : "false", seconds);
    } else {
        printf("model            %s (structured, %zu labels%s, %s output, %s loss)\n", path, m->k,
               m->len ? ", chains" : "", ebm_structured_out_name(m->out), ebm_structured_loss_name(lo.loss));
        printf("data             %s: %zu rows\n", sd.source, sd.x->rows);
        printf("accuracy         %.4f", r.accuracy);
        if (m->len) printf(" per label, %.4f per sequence (Viterbi)", r.seq_accuracy);
        printf("\n");
        printf("energy           correct %.4g, most offending incorrect %.4g, gap %.4g (means)\n", r.e_correct,
               r.e_offending, r.gap);
        printf("spread           %.4g (mean max - min of the energies); most frequent answer %.1f%% of predictions\n",
               r.spread, 100 * r.top_share);
        printf("loss             %.5f (%s)\n", r.loss, ebm_structured_loss_name(lo.loss));
        if (r.collapsed)
            printf("COLLAPSED        the energy surface is flat or one answer wins everywhere: the loss has no term that "
                   "pushes incorrect answers up (see docs/structured.md)\n");
    }
    rc = 0;
done:
    sp_data_free(&sd);
    ebm_structured_free(m);
    return rc;
}

/* ---- ebm info (structured models) ---- */

int cli_structured_info(int argc, char **argv, bool quiet) {
    (void)quiet;
    const char *cmd = "info";
    bool json = false;
    const cli_opt opts[] = {
        {"json", OPT_FLAG, &json, NULL, "print one JSON object instead of text", 0, 0, 0, 0, NULL, NULL},
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm info MODEL [--json]", "Describe a structured-prediction model file.", &path);
    if (rc >= 0) return rc;
    ebm_structured *m = load_model(cmd, path);
    if (!m) return 1;
    struct stat st;
    long long bytes = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    size_t np;
    ebm_net_params(m->net, &np);
    np += m->pair ? m->k * m->k : 0;
    if (json) {
        printf("{\"file\": ");
        cli_json_string(stdout, path);
        printf(", \"bytes\": %lld, \"kind\": \"structured\", \"classes\": %zu, \"length\": %zu, \"output\": \"%s\", \"net\": ",
               bytes, m->k, m->len, ebm_structured_out_name(m->out));
        cli_json_string(stdout, ebm_net_spec(m->net));
        printf(", \"n_params\": %zu, \"metadata\": {", np);
        cli_print_meta(m->meta, true);
        printf("}}\n");
    } else {
        char desc[4096];
        ebm_net_describe(m->net, desc, sizeof desc);
        printf("%s: structured-prediction energy, %zu labels, %s, output map %s, %zu parameters, %lld bytes\n", path, m->k,
               m->len ? "chains (unary + pairwise, Viterbi)" : "K-class (exhaustive inference)", ebm_structured_out_name(m->out), np,
               bytes);
        if (m->len) printf("chain length %zu\n", m->len);
        printf("network of one position (input %zu):\n%s", ebm_net_input_size(m->net), desc);
        float *P = m->pair ? malloc(m->k * m->k * sizeof(float)) : NULL;
        if (P) {
            ebm_structured_pair_energies(m, P);
            printf("pairwise energies P = s(P_raw), row = label t, column = label t+1:\n");
            for (size_t a = 0; a < m->k && a < 10; a++) {
                printf(" ");
                for (size_t b = 0; b < m->k && b < 10; b++) {
                    printf(" %8.3f", (double)P[a * m->k + b]);
                }
                printf("\n");
            }
        }
        free(P);
        printf("metadata:\n");
        cli_print_meta(m->meta, false);
    }
    ebm_structured_free(m);
    return 0;
}

/* ---- ebm score (K-class structured models): the free energy F(x) = -log sum_y exp(-E(x, y)) ---- */

static ebm_dataset *sp_score_load(void *model, const char *cmd, const char *spec, size_t limit, bool quiet) {
    ebm_structured *m = model;
    cli_data_args da = {"auto", "none", 0.5f, limit, 1, false, false, false};
    const char *scale = ebm_meta_get(m->meta, "ebm.data.scale");
    if (scale) da.scale = scale;
    ebm_data_opts o;
    if (!cli_data_opts(cmd, &da, &o)) return NULL;
    ebm_dataset *d = cli_load_data(cmd, spec, &o, quiet); /* labels are optional here */
    if (d && d->x->cols != ebm_structured_row_size(m)) {
        cli_error(cmd, "%s has %zu columns but the model takes %zu", spec, d->x->cols, ebm_structured_row_size(m));
        ebm_dataset_free(d);
        return NULL;
    }
    return d;
}

static ebm_status sp_score_energy(void *model, const float *x, size_t n, double *E) {
    ebm_structured *m = model;
    float *U = malloc(n * m->k * sizeof *U);
    ebm_status s = U ? ebm_structured_energies(m, x, n, U, NULL) : EBM_ENOMEM;
    for (size_t i = 0; !s && i < n; i++) {
        const float *u = U + i * m->k;
        double mn = u[0], z = 0;
        for (size_t j = 1; j < m->k; j++) mn = u[j] < mn ? u[j] : mn;
        for (size_t j = 0; j < m->k; j++) z += exp(mn - u[j]);
        E[i] = mn - log(z);
    }
    free(U);
    return s;
}

static void sp_score_free(void *model) { ebm_structured_free(model); }

bool cli_structured_scorer(const char *cmd, const char *path, cli_scorer *sc) {
    ebm_structured *m = load_model(cmd, path);
    if (!m) return false;
    if (m->len > 0) {
        ebm_structured_free(m);
        return cli_error(cmd, "ebm score on chain models is not supported (their inputs are sequences)"), false;
    }
    *sc = (cli_scorer){m, "free energy F(x) = -log sum_y exp(-E(x, y))", ebm_meta_get(m->meta, "ebm.data.spec"),
                       sp_score_load, sp_score_energy, sp_score_free};
    return true;
}
