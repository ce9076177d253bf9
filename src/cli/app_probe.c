/* `ebm eval MODEL --probe`: how useful an RBM's or DBN's features are.  A multinomial logistic-regression
 * probe (ebm_dbn_probe: softmax, L2, full-batch L-BFGS) is fitted on one level's features of labelled
 * training data and scored on test data, next to the same probe on the raw pixels. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* A data set with its labels (from the data source, else from labels_path); NULL after printing an error. */
static ebm_dataset *load_labelled(const char *cmd, const ebm_dbn *d, const char **spec, const char *labels_path,
                                  const char *labels_opt, cli_data_args *da, bool quiet) {
    ebm_dataset *ds = cli_dbn_data(cmd, d, spec, da, quiet);
    if (ds && labels_path) {
        free(ds->labels);
        ds->labels = cli_load_labels(cmd, labels_path, ds->x->rows, false, 10000);
    } else if (ds && !ds->labels) {
        cli_error(cmd, "%s has no labels; give them with %s FILE (one whole number per row)", *spec, labels_opt);
    }
    if (ds && ds->labels) return ds;
    ebm_dataset_free(ds);
    return NULL;
}

/* One probe: its progress while it is fitted, then its figures. */
typedef struct {
    cli_progress prog;
    size_t level, units, max_iter;
    ebm_probe_score sc;
    double seconds;
} probe_row;

static int on_probe(size_t iter, double loss, void *user) {
    probe_row *r = user;
    char label[64], detail[96];
    snprintf(label, sizeof label, "probe on level %zu", r->level);
    snprintf(detail, sizeof detail, "iteration %zu, loss %.4f", iter, loss);
    cli_progress_bar(&r->prog, label, (double)iter / (double)r->max_iter, detail);
    return cli_interrupted() ? 1 : 0;
}

/* The probe on level `level` features of tr, scored on te; false after printing an error. */
static bool run_probe(const char *cmd, const ebm_dbn *d, size_t level, const ebm_dataset *tr, const ebm_dataset *te,
                      const ebm_probe_opts *po, bool quiet, probe_row *r) {
    *r = (probe_row){.level = level, .units = ebm_dbn_units(d, level), .max_iter = po->max_iter, .seconds = cli_now()};
    cli_progress_init(&r->prog, quiet);
    ebm_probe_opts o = *po;
    o.progress = on_probe;
    o.user = r;
    ebm_status s = ebm_dbn_probe(d, level, tr->x->data, tr->labels, tr->x->rows, te->x->data, te->labels, te->x->rows,
                                 &o, &r->sc);
    cli_progress_end(&r->prog);
    if (s) return cli_lib_error(cmd, s), false;
    r->seconds = cli_now() - r->seconds;
    if (!quiet)
        fprintf(stderr, "probe on level %zu (%zu units): %zu L-BFGS iterations%s, test accuracy %.4f (%.1f s)\n", level,
                r->units, r->sc.fit.iters, r->sc.fit.converged ? "" : " (not converged)", r->sc.test_acc, r->seconds);
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
    const char *cmd = "eval", *data_spec = NULL, *test_spec = NULL, *layer = "top", *labels = NULL, *test_labels = NULL;
    const char *path;
    ebm_dbn *d;
    bool probe = false, json = false, no_raw = false, all;
    size_t test_limit = 0, level, nrows = 0;
    ebm_probe_opts po;
    ebm_probe_opts_default(&po);
    cli_data_args da = CLI_DATA_ARGS_INIT;
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
        CLI_JSON_OPTION(json),
        CLI_DATA_AS_TRAINED_OPTIONS(da),
        OPT_END,
    };
    const char *usage = "ebm eval MODEL --probe --data SPEC --test SPEC [--layer L] [options]";
    int rc = cli_dbn_start(cmd, argc, argv, opts, usage, probe_about, &path, &d);
    if (rc >= 0) return rc;
    ebm_dataset *tr = NULL, *te = NULL;
    probe_row rows[66]; /* the raw pixels and every level of the deepest DBN */
    quiet = quiet || json;
    if ((rc = cli_dbn_level(cmd, layer, d, &level, &all) ? 1 : 2) == 2) goto done;
    if (!data_spec) data_spec = ebm_meta_get(d->meta, "ebm.data.spec");
    bool fmnist = data_spec && (!strcmp(data_spec, "fashion-mnist") || !strcmp(data_spec, "fashion-mnist:train"));
    if (!test_spec && fmnist) test_spec = "fashion-mnist:test";
    if (data_spec && !test_spec) {
        cli_error(cmd, "--test is required (labelled test data for the probe)");
        goto done;
    }
    if (!(tr = load_labelled(cmd, d, &data_spec, labels, "--labels", &da, quiet))) goto done;
    da.limit = test_limit;
    if (!(te = load_labelled(cmd, d, &test_spec, test_labels, "--test-labels", &da, quiet))) goto done;
    cli_install_sigint();
    if (!no_raw && level != 0 && !run_probe(cmd, d, 0, tr, te, &po, quiet, &rows[nrows++])) goto done;
    for (size_t l = all ? 1 : level; l <= level; l++)
        if (!run_probe(cmd, d, l, tr, te, &po, quiet, &rows[nrows++])) goto done;
    if ((rc = cli_interrupted() ? 130 : 0)) {
        cli_error(cmd, "interrupted");
    } else if (json) {
        cli_report r = cli_report_begin(json, "model", path);
        cli_report_json(&r, ", \"layers\": %zu", d->n_layers);
        cli_report_str(&r, "train", data_spec);
        cli_report_json(&r, ", \"train_rows\": %zu", tr->x->rows);
        cli_report_str(&r, "test", test_spec);
        printf(", \"test_rows\": %zu, \"l2\": %g, \"probes\": [", te->x->rows, (double)po.l2);
        for (size_t i = 0; i < nrows; i++) {
            const ebm_probe_score *sc = &rows[i].sc; /* accuracies are always finite, an NLL may not be */
            printf("%s{\"level\": %zu, \"units\": %zu, \"train_accuracy\": %.10g, \"test_accuracy\": %.10g, "
                   "\"test_nll\": ", i ? ", " : "", rows[i].level, rows[i].units, sc->train_acc, sc->test_acc);
            cli_json_number(stdout, sc->test_nll);
            printf(", \"iterations\": %zu, \"converged\": %s, \"seconds\": %.3f}", sc->fit.iters,
                   sc->fit.converged ? "true" : "false", rows[i].seconds);
        }
        printf("]}\n");
    }
    if (rc || json) goto done;
    printf("model            %s (%s)\n", path, cli_dbn_describe(d).s);
    printf("probe            softmax regression, L2 %g, L-BFGS; trained on %zu rows of %s, tested on %zu rows of %s\n",
           (double)po.l2, tr->x->rows, data_spec, te->x->rows, test_spec);
    printf("%-16s %6s %10s %10s %9s %6s\n", "features", "units", "train acc", "test acc", "test NLL", "iters");
    for (size_t i = 0; i < nrows; i++) {
        char name[32] = "raw pixels";
        if (rows[i].level) snprintf(name, sizeof name, "level %zu", rows[i].level);
        printf("%-16s %6zu %10.4f %10.4f %9.4f %6zu%s\n", name, rows[i].units, rows[i].sc.train_acc,
               rows[i].sc.test_acc, rows[i].sc.test_nll, rows[i].sc.fit.iters,
               rows[i].sc.fit.converged ? "" : " (not converged)");
    }
done:
    ebm_dataset_free(tr);
    ebm_dataset_free(te);
    ebm_dbn_free(d);
    return rc;
}
