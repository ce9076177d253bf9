/* The kind "structured" (structured-prediction energies E(x, y)): `ebm train structured` with any of the ten
 * losses of LeCun et al. 2006, on labelled data or on the Markov-chain toy with a chain energy and Viterbi
 * inference; `ebm eval` (accuracy, the mean energies of the correct and of the most offending incorrect
 * answers, their gap, and a collapsed energy flagged) and `ebm info`.  See docs/structured.md. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static bool is_markov(const char *spec) { return strcmp(spec, "markov") == 0 || strcmp(spec, "markov:test") == 0; }

/* Labelled data for a structured model: x (rows, row size), labels (rows, labels per row): the Markov toy
 * (markov, markov:test) or a labelled data set; NULL after printing an error. */
static ebm_dataset *load_labelled(const char *cmd, const char *spec, const ebm_structured_markov *mk,
                                  const cli_data_args *da, bool quiet) {
    ebm_dataset *d = NULL;
    if (is_markov(spec)) {
        ebm_status s = ebm_structured_markov_dataset(mk, strcmp(spec, "markov:test") == 0, &d);
        if (s) return cli_lib_error(cmd, s), NULL;
        if (!quiet) fprintf(stderr, "generated %s\n", d->source);
        return d;
    }
    ebm_data_opts o;
    if (cli_data_opts(cmd, da, &o)) d = cli_load_data(cmd, spec, &o, quiet);
    if (!d || d->labels) return d;
    cli_error(cmd, "%s has no labels (structured prediction needs labelled data: fashion-mnist, toy:NAME, IDX images "
              "with their labels file, or --data markov)", spec);
    ebm_dataset_free(d);
    return NULL;
}

/* ---- ebm train structured ---- */

typedef struct {
    ebm_structured *m;
    double sum; /* the epoch's batch losses so far: the bar and the epoch line show their mean */
} sp_run;

static void train_detail(cli_run *r, const ebm_run_progress *p, char *buf, size_t cap) {
    sp_run *u = r->user;
    u->sum = (p->batch == 1 ? 0 : u->sum) + p->last.loss;
    snprintf(buf, cap, "loss %.4f", u->sum / (double)p->batch);
}

static void train_epoch(cli_run *r, const ebm_run_progress *p) {
    double loss = ((sp_run *)r->user)->sum / (double)p->batch;
    cli_progress_line(&r->prog, "epoch %zu/%zu  loss %.5f  %.1f s", p->epoch, p->epochs, loss, p->total_seconds);
    if (r->log) fprintf(r->log, "%zu,%.6f,%.3f\n", p->epoch, loss, p->total_seconds);
}

static ebm_status train_save(cli_run *r, const char *path) {
    return ebm_structured_save(((sp_run *)r->user)->m, path);
}

/* The model for d (its input: d's width; K: the labels', or the toy's for chains, whose positions are K values
 * each) with the default network for K, initialised from the stream (seed, 100); NULL after printing an error. */
static ebm_structured *new_model(const char *cmd, const char *spec, const ebm_dataset *d, size_t k, size_t len,
                                 ebm_structured_out map, uint64_t seed) {
    ebm_status s = len ? EBM_OK : ebm_structured_classes(d->labels, d->x->rows, &k);
    if (s) return cli_lib_error(cmd, s), NULL;
    ebm_structured *m = NULL;
    if (ebm_structured_new_for_data(spec, d->x->cols, d->height, d->width, k, len, map, &m))
        return cli_error(cmd, "--net: %s", ebm_last_error()), NULL;
    ebm_rng init;
    ebm_rng_seed(&init, seed, 100);
    if (!(s = ebm_structured_init(m, &init))) return m;
    ebm_structured_free(m);
    return cli_lib_error(cmd, s), NULL;
}

static const char *const train_about =
    "Train a structured-prediction energy E(x, y) over discrete answers y with one of the ten losses of LeCun\n"
    "et al. (2006, 'A tutorial on energy-based learning', table 1): energy, perceptron, hinge (--margin), log,\n"
    "lvq2 (--lvq2-max), mce, sqsq (square-square, --margin), sqexp (square-exp, --gamma), nll (NLL / MMI, --beta),\n"
    "mee (minimum empirical error, --beta); Ebar, the energy of the most offending incorrect answer, is found by\n"
    "inference.  K classes: E(x, y) = s(g(x)[y]) for the network's K outputs g(x) and the --energy map s (softplus\n"
    "by default: energies >= 0, as lvq2, sqsq and sqexp assume).  --data markov trains a chain energy\n"
    "sum_t U[t, y_t] + sum_t P[y_t, y_t+1] on noisy observations of a Markov chain (Viterbi).  See docs/structured.md.";

int cli_structured_train(int argc, char **argv, bool quiet) {
    const char *cmd = "train structured", *spec = NULL;
    int loss = EBM_STRUCTURED_HINGE, map = EBM_STRUCTURED_OUT_SOFTPLUS, optim = EBM_OPTIM_ADAM;
    cli_train_args ta = {0};
    ebm_structured_train_opts o;
    ebm_structured_train_opts_default(&o);
    ebm_structured_markov mk;
    ebm_structured_markov_default(&mk);
    cli_data_args da = CLI_DATA_ARGS_INIT;
    bool len_seen = false, k_seen = false, stay_seen = false, noise_seen = false;
    const cli_opt opts[] = {
        CLI_TRAIN_OPTIONS(ta),
        {"net", OPT_STR, &spec, "SPEC", "network of one position ending in K outputs (default linear:128,silu,linear:K; markov: linear:K)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"loss", OPT_CHOICE, &loss, NULL, "the loss (LeCun et al. 2006, table 1)", 0, 0, 0, 0, "energy|perceptron|hinge|log|lvq2|mce|sqsq|sqexp|nll|mee", NULL},
        {"margin", OPT_FLOAT, &o.loss.margin, "M", "margin of hinge and sqsq", 0, 1e6, 0, 0, NULL, NULL},
        {"beta", OPT_FLOAT, &o.loss.beta, "B", "inverse temperature of nll and mee", 0, 1e6, 1, 0, NULL, NULL},
        {"gamma", OPT_FLOAT, &o.loss.gamma, "G", "weight of sqexp's exp(-Ebar)", 0, 1e6, 0, 0, NULL, NULL},
        {"lvq2-max", OPT_FLOAT, &o.loss.lvq2_max, "M", "saturation of lvq2", 0, 1e6, 1, 0, NULL, NULL},
        {"energy", OPT_CHOICE, &map, NULL, "output map s: E = s(g)", 0, 0, 0, 0, "raw|softplus|square", NULL},
        {"epochs", OPT_SIZE, &o.epochs, "N", "passes over the data", 1, 1e6, 0, 0, NULL, NULL},
        {"batch", OPT_SIZE, &o.batch, "N", "rows per update", 1, 1e6, 0, 0, NULL, NULL},
        {"optimizer", OPT_CHOICE, &optim, NULL, "optimiser", 0, 0, 0, 0, "sgd|adam", NULL},
        {"lr", OPT_FLOAT, &o.optim.lr, "RATE", "learning rate", 0, 1e6, 1, 0, NULL, NULL},
        {"momentum", OPT_FLOAT, &o.optim.momentum, "M", "SGD momentum", 0, 1, 0, 1, NULL, NULL},
        {"weight-decay", OPT_FLOAT, &o.optim.weight_decay, "L2", "L2 weight decay", 0, 1e3, 0, 0, NULL, NULL},
        {"grad-clip", OPT_FLOAT, &o.optim.clip, "NORM", "clip the gradient norm, the network's and the pairwise matrix's each (0 = off)", 0, 1e30, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &da.limit, "N", "use the first N rows (markov: generate N chains, default 2000)", 0, 1e12, 0, 0, NULL, NULL},
        {"scale", OPT_STR, &da.scale, "auto|none|255|minmax|pm1", "data scaling", -INFINITY, INFINITY, 0, 0, NULL, &da.scale_seen},
        {"length", OPT_SIZE, &mk.len, "L", "markov: chain length", 1, 1000, 0, 0, NULL, &len_seen},
        {"classes", OPT_SIZE, &mk.k, "K", "markov: labels", 2, 100, 0, 0, NULL, &k_seen},
        {"stay", OPT_FLOAT, &mk.stay, "P", "markov: probability that the label stays", 0, 1, 0, 0, NULL, &stay_seen},
        {"noise", OPT_FLOAT, &mk.noise, "SD", "markov: observation noise", 0, 1e3, 0, 0, NULL, &noise_seen},
        CLI_SEED_OPTION(o.seed, "random seed (initialisation, shuffling, toy data)"),
        OPT_END,
    };
    size_t npos;
    int rc = cli_start(cmd, argc, argv, opts, "ebm train structured --data SPEC --loss NAME --out PATH [options]",
                       train_about, NULL, 0, &npos);
    if (rc >= 0) return rc;
    if (!ta.data) return cli_error(cmd, "--data is required (e.g. --data fashion-mnist or --data markov)"), 2;
    if (!ta.out) return cli_error(cmd, "--out is required (where to save the model)"), 2;
    o.loss.loss = (ebm_structured_loss)loss;
    o.optim.kind = (ebm_optim_kind)optim;
    const char *loss_name = ebm_structured_loss_name(o.loss.loss), *energy = ebm_structured_out_name(map);
    if (ebm_structured_loss_needs_nonneg(o.loss.loss) && map == EBM_STRUCTURED_OUT_RAW)
        return cli_error(cmd, "--loss %s assumes non-negative energies: use --energy softplus or square", loss_name), 2;
    bool markov = is_markov(ta.data);
    if (!markov && (len_seen || k_seen || stay_seen || noise_seen))
        return cli_error(cmd, "--length, --classes, --stay and --noise go with --data markov"), 2;
    if ((rc = cli_train_check(cmd, &ta)) >= 0) return rc;
    mk.seed = da.seed = o.seed;
    if (da.limit) mk.n = da.limit;
    ebm_dataset *d = load_labelled(cmd, ta.data, &mk, &da, quiet);
    if (!d) return 1;
    sp_run u = {new_model(cmd, spec, d, mk.k, markov ? mk.len : 0, map, o.seed), 0};
    ebm_trainer *t = NULL;
    ebm_status s = u.m && markov ? ebm_structured_markov_to_meta(&mk, u.m->meta) : EBM_OK; /* for eval */
    if (u.m && !s) s = ebm_structured_trainer_new(u.m, &o, &t);
    rc = s ? cli_lib_error(cmd, s) : 1;
    if (t) {
        if (!quiet)
            fprintf(stderr, "training a structured energy (%s, %zu labels%s, %s output, %zu parameters) with the %s "
                    "loss: %zu epochs, batch %zu\n", ebm_net_spec(u.m->net), u.m->k, markov ? ", chains" : "", energy,
                    ebm_structured_n_params(u.m), loss_name, o.epochs, o.batch);
        cli_run r = {.cmd = cmd, .kind = "structured", .ta = &ta, .d = d, .da = &da, .quiet = quiet, .argc = argc,
                     .argv = argv, .meta = u.m->meta, .log_header = "epoch,loss,seconds",
                     .nan_hint = "try a smaller --lr or --grad-clip", .save = train_save, .detail = train_detail,
                     .on_epoch = train_epoch, .user = &u};
        ebm_run_opts ro;
        ebm_structured_run_opts(&o, &ro);
        rc = cli_train_run(&r, t, d->x, d->labels, &ro);
    }
    ebm_trainer_free(t);
    ebm_structured_free(u.m);
    ebm_dataset_free(d);
    return rc;
}

static const char *const eval_about =
    "Evaluate a structured-prediction model on labelled data: accuracy of y* = argmin_y E(x, y) (per label and, for\n"
    "chains, per sequence), the mean energies of the correct answer and of the most offending incorrect one and their\n"
    "gap, the mean spread (max - min) of the energies, and the training loss.  A collapsed model (flat energies, or\n"
    "one answer for 90% of the rows) is flagged.  --data markov:test draws fresh chains for a chain model.";

static void eval_print(const char *path, const ebm_structured *m, const ebm_dataset *d, const ebm_structured_eval *r,
                       ebm_structured_loss loss, bool json, double seconds) {
    const char *loss_name = ebm_structured_loss_name(loss), *out = ebm_structured_out_name(m->out);
    cli_report p = cli_report_begin(json, "model", path);
    cli_report_json(&p, ", \"kind\": \"structured\", \"classes\": %zu, \"length\": %zu, \"loss\": \"%s\", "
                    "\"output\": \"%s\"", m->k, m->len, loss_name, out);
    cli_report_str(&p, "data", d->source);
    cli_report_json(&p, ", \"rows\": %zu", d->x->rows);
    cli_report_text(&p, "model            %s (structured, %zu labels%s, %s output, %s loss)\n", path, m->k,
                    m->len ? ", chains" : "", out, loss_name);
    cli_report_text(&p, "data             %s: %zu rows\n", d->source, d->x->rows);
    cli_report_num(&p, "accuracy", r->accuracy, "accuracy         %.4f", r->accuracy);
    cli_report_num(&p, "sequence_accuracy", r->seq_accuracy, m->len ? " per label, %.4f per sequence (Viterbi)" : NULL,
                   r->seq_accuracy);
    cli_report_text(&p, "\nenergy           correct %.4g, most offending incorrect %.4g, gap %.4g (means)\n",
                    r->e_correct, r->e_offending, r->gap);
    const char *const keys[] = {"energy_correct", "energy_offending", "gap", "spread", "top_share", "loss_value"};
    const double v[] = {r->e_correct, r->e_offending, r->gap, r->spread, r->top_share, r->loss};
    for (size_t i = 0; json && i < 6; i++) cli_report_num(&p, keys[i], v[i], NULL);
    cli_report_text(&p, "spread           %.4g (mean max - min of the energies); most frequent answer %.1f%% of "
                    "predictions\n", r->spread, 100 * r->top_share);
    cli_report_text(&p, "loss             %.5f (%s)\n", r->loss, loss_name);
    if (r->collapsed)
        cli_report_text(&p, "COLLAPSED        the energy surface is flat or one answer wins everywhere: the loss has "
                        "no term that pushes incorrect answers up (see docs/structured.md)\n");
    cli_report_json(&p, ", \"collapsed\": %s", r->collapsed ? "true" : "false");
    cli_report_end(&p, seconds);
}

int cli_structured_eval(int argc, char **argv, bool quiet) {
    const char *cmd = "eval", *data_spec = NULL;
    bool json = false;
    cli_data_args da = CLI_DATA_ARGS_INIT;
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "labelled evaluation data (markov:test for the toy)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &da.limit, "N", "use the first N rows only (0 = all; markov: N chains, default 2000)", 0, 1e12, 0, 0, NULL, NULL},
        CLI_JSON_OPTION(json),
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm eval MODEL --data SPEC [--limit N] [--json]", eval_about,
                             &path);
    if (rc >= 0) return rc;
    ebm_structured *m = NULL;
    ebm_status s = ebm_structured_load(path, &m);
    if (s) return cli_lib_error(cmd, s);
    ebm_dataset *d = NULL;
    if (!data_spec) data_spec = ebm_meta_get(m->meta, "ebm.data.spec");
    ebm_structured_markov mk = {da.limit ? da.limit : 2000, m->len, m->k, 0.8f, 1.0f, 1};
    ebm_structured_markov_from_meta(m->meta, &mk);
    cli_data_args_from_model(&da, m->meta);
    if (!data_spec) rc = cli_error(cmd, "--data is required");
    else if (is_markov(data_spec) != (m->len > 0))
        rc = cli_error(cmd, "%s: %s", path,
                       m->len ? "a chain model is evaluated on --data markov:test"
                              : "--data markov goes with chain models (ebm train structured --data markov)");
    else if (!(d = load_labelled(cmd, data_spec, &mk, &da, quiet || json))) rc = 1;
    else if (d->x->cols != ebm_structured_row_size(m))
        rc = cli_error(cmd, "%s has %zu columns but the model takes %zu", data_spec, d->x->cols,
                       ebm_structured_row_size(m));
    if (rc < 0) {
        ebm_structured_loss_opts lo;
        ebm_structured_loss_opts_from_meta(m->meta, &lo);
        ebm_structured_eval r;
        double t0 = cli_now();
        s = ebm_structured_evaluate(m, &lo, d->x->data, d->labels, d->x->rows, &r);
        rc = s ? cli_lib_error(cmd, s) : 0;
        if (!s) eval_print(path, m, d, &r, lo.loss, json, cli_now() - t0);
    }
    ebm_dataset_free(d);
    ebm_structured_free(m);
    return rc;
}

int cli_structured_info(int argc, char **argv, bool quiet) {
    (void)quiet;
    const char *cmd = "info";
    bool json = false;
    const char *path;
    int rc = cli_info_json_start(argc, argv, "Describe a structured-prediction model file.", &json, &path);
    if (rc >= 0) return rc;
    ebm_structured *m = NULL;
    ebm_status s = ebm_structured_load(path, &m);
    if (s) return cli_lib_error(cmd, s);
    long long bytes = cli_file_bytes(path);
    const char *out = ebm_structured_out_name(m->out);
    cli_report r = cli_report_begin(json, "file", path);
    cli_report_json(&r, ", \"bytes\": %lld, \"kind\": \"structured\", \"classes\": %zu, \"length\": %zu, "
                    "\"output\": \"%s\"", bytes, m->k, m->len, out);
    cli_report_str(&r, "net", ebm_net_spec(m->net));
    cli_report_json(&r, ", \"n_params\": %zu", ebm_structured_n_params(m));
    cli_report_text(&r, "%s: structured-prediction energy, %zu labels, %s, output map %s, %zu parameters, %lld bytes\n",
                    path, m->k, m->len ? "chains (unary + pairwise, Viterbi)" : "K-class (exhaustive inference)", out,
                    ebm_structured_n_params(m), bytes);
    if (m->len) cli_report_text(&r, "chain length %zu\n", m->len);
    char desc[4096];
    ebm_net_describe(m->net, desc, sizeof desc);
    cli_report_text(&r, "network of one position (input %zu):\n%s", ebm_net_input_size(m->net), desc);
    float *P = m->pair && !json ? malloc(m->k * m->k * sizeof(float)) : NULL;
    if (P) {
        ebm_structured_pair_energies(m, P);
        printf("pairwise energies P = s(P_raw), row = label t, column = label t+1:\n");
        for (size_t a = 0; a < m->k && a < 10; a++) {
            printf(" ");
            for (size_t b = 0; b < m->k && b < 10; b++) printf(" %8.3f", (double)P[a * m->k + b]);
            printf("\n");
        }
    }
    free(P);
    cli_report_meta_end(&r, m->meta);
    ebm_structured_free(m);
    return 0;
}
