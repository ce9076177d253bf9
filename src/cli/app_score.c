/* `ebm score`: the energy of every input under a model, for anomaly detection (high energy = unlikely
 * under the model).  One path for every kind (ebm_model_load, ebm_model_data: the data preprocessed as the
 * model's training data were, ebm_model_score): the free energy F(v) for Bernoulli and
 * Gaussian-Bernoulli RBMs (p(v) ∝ exp(-F(v)), so F is -log p(v) up to the constant log Z), E(x) for energy
 * networks and fully visible Boltzmann machines, -log Σ_y exp f(x)[y] for JEM classifiers, the free
 * energy -log Σ_y exp(-E(x, y)) for structured models, the bottom RBM's free energy for deep belief nets,
 * the composite energy for composed models; for networks, --score mahalanobis instead (a Gaussian in the
 * penultimate features, ebm_feature_gauss).  The
 * report: a CSV of the scores, and the AUROC of the score at telling anomalies from normal rows, either a
 * labelled class of the data (--anomaly-class, e.g. a class held out in training with SPEC#0-8) or a second
 * data set (--anomaly-data).  Under mpirun the rows are split across the processes in the same chunks of
 * 512 rows one process uses, and gathered in order: the same scores, bit for bit; rank 0 writes. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* --score complexity: the range mapped to 8-bit pixels (taken from the first data set scored, so that both sets
 * are quantised alike) and the weight of the complexity. */
typedef struct {
    bool on, have_range;
    float lo, hi;
    float weight; /* --complexity-weight, an OPT_FLOAT */
} complexity;

/* E (rows) <- ebm_complexity_score of E and the PNG bits of d's rows (images as height x width, other rows as
 * one line of pixels); bits (rows) is work space. */
static ebm_status correct(complexity *cx, const ebm_dataset *d, double *E, double *bits) {
    const ebm_mat *x = d->x;
    if (!cx->have_range) {
        ebm_lcd_data_range(x, &cx->lo, &cx->hi);
        cx->have_range = true;
    }
    bool image = d->height > 0 && d->width > 0 && d->height * d->width == x->cols;
    ebm_status s = ebm_complexity_bits(x->data, x->rows, image ? d->height : 1, image ? d->width : x->cols, 1, cx->lo,
                                       cx->hi, bits);
    if (!s) ebm_complexity_score(E, bits, x->rows, (double)cx->weight, E);
    return s;
}

/* --score mahalanobis and energy+mahalanobis: the feature Gaussian and, for the sum, the fit rows' energies and
 * distances (n_ref each, sorted ascending) whose empirical distribution functions put both on [0, 1]. */
typedef struct {
    ebm_feature_gauss *fg;
    double *ref_e, *ref_m;
    size_t n_ref;
} features;

/* E (n) <- the scores of x (n <= 512 rows) under m: the energy, the feature Gaussian's distance (f->fg), or the
 * sum of both's empirical distribution functions (f->ref_e). */
static ebm_status score_rows(ebm_model *m, const features *f, const float *x, size_t n, double *E) {
    if (!f || !f->fg) return ebm_model_score(m, x, n, E);
    ebm_status s = ebm_feature_gauss_score(f->fg, ebm_model_net(m), x, n, E, NULL);
    if (s || !f->ref_e) return s;
    double e[512];
    if (!(s = ebm_model_score(m, x, n, e))) s = ebm_metric_ecdf(f->ref_e, f->n_ref, e, n, e);
    if (!s) s = ebm_metric_ecdf(f->ref_m, f->n_ref, E, n, E);
    for (size_t i = 0; !s && i < n; i++) E[i] += e[i];
    return s;
}

/* *E (rows) <- the scores of spec's rows under m (complexity-corrected with cx on; with f, score_rows's), *labels
 * <- its labels (or NULL); false after an error. */
static bool energies(ebm_model *m, const char *cmd, const char *spec, size_t limit, bool quiet, complexity *cx,
                     const features *f, double **E, int32_t **labels, size_t *n) {
    cli_data_args da = CLI_DATA_ARGS("auto", "none", limit); /* the model's preprocessing, the first limit rows */
    ebm_dataset *d = cli_model_rows(cmd, m, spec, &da, quiet);
    if (!d) return false;
    size_t rows = d->x->rows, dim = d->x->cols;
    *E = malloc((cx->on ? 2 : 1) * (rows ? rows : 1) * sizeof **E); /* with --score complexity: then the bits */
    ebm_status s = *E ? EBM_OK : EBM_ENOMEM;
    /* this process's chunks [c0, c1) of 512 rows (all of them in one process) */
    size_t chunks = (rows + 511) / 512, ranks = ebm_comm_size(cli_comm()), c0 = 0, c1 = chunks;
    if (ranks > 1) ebm_shard_range(chunks, ebm_comm_rank(cli_comm()), ranks, &c0, &c1);
    for (size_t r = c0 * 512; !s && r < rows && r < c1 * 512; r += 512) /* bounded work buffers for large models */
        s = score_rows(m, f, d->x->data + r * dim, rows - r < 512 ? rows - r : 512, *E + r);
    size_t *counts = ranks > 1 ? malloc(ranks * sizeof *counts) : NULL;
    if (!s && ranks > 1) {
        for (size_t k = 0; counts && k < ranks; k++) {
            size_t a, b;
            ebm_shard_range(chunks, k, ranks, &a, &b);
            counts[k] = (b * 512 < rows ? b * 512 : rows) - (a * 512 < rows ? a * 512 : rows);
        }
        size_t lo = c0 * 512 < rows ? c0 * 512 : rows;
        s = counts ? ebm_comm_gather_f64(cli_comm(), *E + lo, counts[ebm_comm_rank(cli_comm())], counts, *E) : EBM_ENOMEM;
    }
    free(counts);
    if (!s && cx->on) s = correct(cx, d, *E, *E + rows); /* every process holds every row's energy now */
    if (s && ranks > 1) {
        cli_lib_error(cmd, s);
        ebm_comm_abort(cli_comm(), 1); /* the others may wait in the gather */
    }
    if (s) {
        cli_lib_error(cmd, s);
        free(*E);
        *E = NULL;
        ebm_dataset_free(d);
        return false;
    }
    *n = rows;
    *labels = d->labels;
    d->labels = NULL;
    ebm_dataset_free(d);
    return true;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* f <- the feature Gaussian of --score mahalanobis, fitted to the rows of spec (the first limit) under m's
 * network: one mean per class when the network is a classifier and the rows have labels, else one mean; with
 * sum (--score energy+mahalanobis) also the energies and distances of those rows, sorted.  false after an
 * error. */
static bool fit_features(ebm_model *m, const char *cmd, const char *path, const char *spec, size_t limit,
                         double ridge, bool sum, bool quiet, size_t *rows, features *f) {
    ebm_net *net = ebm_model_net(m);
    const char *opt = sum ? "--score energy+mahalanobis" : "--score mahalanobis";
    if (!net) {
        cli_error(cmd, "%s scores a network's features; %s is a %s model", opt, path, ebm_kind_name(ebm_model_kind_of(m)));
        return false;
    }
    if (!spec) {
        cli_error(cmd, "%s: %s records no training data; give --fit-data", opt, path);
        return false;
    }
    cli_data_args da = CLI_DATA_ARGS("auto", "none", limit);
    ebm_dataset *d = cli_model_rows(cmd, m, spec, &da, quiet);
    if (!d) return false;
    size_t n = d->x->rows, dim = d->x->cols;
    bool classes = d->labels && ebm_net_output_size(net) >= 2;
    ebm_status s = ebm_feature_gauss_fit(net, d->x->data, classes ? d->labels : NULL, n, ridge, &f->fg);
    if (!s && sum) {
        f->n_ref = n;
        f->ref_e = malloc(n * sizeof *f->ref_e);
        f->ref_m = malloc(n * sizeof *f->ref_m);
        if (!f->ref_e || !f->ref_m) s = EBM_ENOMEM;
        for (size_t r = 0; !s && r < n; r += 512) {
            size_t b = n - r < 512 ? n - r : 512;
            s = ebm_model_score(m, d->x->data + r * dim, b, f->ref_e + r);
            if (!s) s = ebm_feature_gauss_score(f->fg, net, d->x->data + r * dim, b, f->ref_m + r, NULL);
        }
        for (size_t i = 0; !s && i < n; i++)
            if (!isfinite(f->ref_e[i]) || !isfinite(f->ref_m[i])) {
                cli_error(cmd, "the score of fit row %zu is not finite: the model has diverged", i);
                ebm_dataset_free(d);
                return false;
            }
        if (!s) {
            qsort(f->ref_e, n, sizeof *f->ref_e, cmp_double);
            qsort(f->ref_m, n, sizeof *f->ref_m, cmp_double);
        }
    }
    if (s) cli_lib_error(cmd, s);
    else if (!quiet)
        fprintf(stderr, "fitted %zu mean%s and a shared covariance to %zu features of %zu rows of %s\n",
                ebm_feature_gauss_means(f->fg), ebm_feature_gauss_means(f->fg) == 1 ? "" : "s",
                ebm_feature_gauss_width(f->fg), n, spec);
    *rows = n;
    ebm_dataset_free(d);
    return !s;
}

/* ---- the command ---- */

static const char *const about =
    "The energy of every input under a model (free energy F(v) for RBMs and GRBMs, the bottom RBM's for\n"
    "DBNs, E(x) for energy networks and Boltzmann machines, -log sum_y exp f(x)[y] for JEM classifiers,\n"
    "-log sum_y exp(-E(x, y)) for structured models, the composite energy of a composed model): higher = less\n"
    "likely, the anomaly score.  --out writes a CSV (row, energy, label when the data has labels).\n"
    "--anomaly-class K reports the AUROC of the energy at telling rows of class K (the anomalies) from the\n"
    "others, and the mean energy per class; --anomaly-data SPEC compares the data (normal) with SPEC\n"
    "(anomalies).  Held-out-class experiments: train on SPEC#0-8 (data without class 9), score with\n"
    "--anomaly-class 9.  --normal-class K is the one-class protocol: class K normal, every other class the\n"
    "anomaly (train on SPEC#K).  Data are preprocessed as the model's training data were.  --score complexity\n"
    "reports S(x) = E(x) / ln 2 - W L(x) instead, L the length in bits of the input as a PNG (Serra et al.\n"
    "2020): generative models find simple inputs likely whatever they show; the correction removes that.\n"
    "--score mahalanobis (energy networks and JEMs) reports the squared Mahalanobis distance of the network's\n"
    "penultimate features to the nearest class mean (Lee et al. 2018): Gaussians with one shared covariance\n"
    "fitted to the features of --fit-data (default: the model's training data, as many rows as it trained on),\n"
    "one mean per class for a classifier on labelled rows, else one.  --score energy+mahalanobis adds the two\n"
    "scores, each as its empirical distribution function over the fit rows (the fraction of them scoring lower):\n"
    "a score in [0, 2] for which the energy and the features count alike; --with M2[,M3...] adds other models'\n"
    "such scores (each over its own fit rows, the data preprocessed as each model's were): an ensemble.";

int cmd_score(int argc, char **argv, bool quiet) {
    const char *cmd = "score";
    const char *data = NULL, *out = NULL, *anomaly_data = NULL;
    const char *fit_data = NULL, *with = NULL;
    size_t limit = 0, anomaly_class = 0, normal_class = 0, fit_limit = 0, fit_rows = 0;
    float ridge = (float)EBM_FEATURE_GAUSS_RIDGE;
    bool json = false, class_seen = false, normal_seen = false;
    int score_kind = 0;
    complexity cx = {.weight = 1.0};
    const cli_opt opts[] = {
        {"data", OPT_STR, &data, "SPEC", "inputs to score (default: the model's training data)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &limit, "N", "score the first N rows only (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        {"out", OPT_STR, &out, "CSV", "write row,SCORE[,label] per input, SCORE the --score's name (energy, complexity, ...)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"anomaly-class", OPT_SIZE, &anomaly_class, "K", "AUROC of the energy for class K (anomalies) against the other classes", 0, 1e6, 0, 0, NULL, &class_seen},
        {"normal-class", OPT_SIZE, &normal_class, "K", "AUROC of the energy for the other classes (anomalies) against class K", 0, 1e6, 0, 0, NULL, &normal_seen},
        {"anomaly-data", OPT_STR, &anomaly_data, "SPEC", "AUROC of the energy for SPEC (anomalies) against --data", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"score", OPT_CHOICE, &score_kind, NULL, "the energy, the complexity-corrected E / ln 2 - W x PNG bits (Serra et al. 2020), the Mahalanobis distance in a network's features (Lee et al. 2018), or the sum of the energy's and that distance's distribution functions over the fit rows", 0, 0, 0, 0, "energy|complexity|mahalanobis|energy+mahalanobis", NULL},
        {"complexity-weight", OPT_FLOAT, &cx.weight, "W", "--score complexity: weight of the PNG bits", 0, 1e6, 0, 0, NULL, NULL},
        {"fit-data", OPT_STR, &fit_data, "SPEC", "--score mahalanobis: rows to fit the Gaussians to (default: the model's training data)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"fit-limit", OPT_SIZE, &fit_limit, "N", "--score mahalanobis: fit to the first N rows of --fit-data (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        {"ridge", OPT_FLOAT, &ridge, "R", "--score mahalanobis: R x the mean eigenvalue added to the covariance's eigenvalues", 0, 1, 0, 0, NULL, NULL},
        {"with", OPT_STR, &with, "MODELS", "--score energy+mahalanobis: also score with these models (comma-separated paths), each over its own fit rows, and add the scores (an ensemble; the score lies in [0, 2 x models])", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        CLI_JSON_OPTION(json),
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts,
                             "ebm score MODEL [--data SPEC] [--out CSV] [--anomaly-class K | --normal-class K | --anomaly-data SPEC]",
                             about, &path);
    if (rc >= 0) return rc;
    if (class_seen + normal_seen + (anomaly_data != NULL) > 1)
        return cli_error(cmd, "give one of --anomaly-class, --normal-class and --anomaly-data"), 2;
    if (normal_seen) anomaly_class = normal_class; /* the same split, the other side positive */
    if (out && !cli_check_writable(cmd, "--out", out)) return 1;
    cx.on = score_kind == 1;
    ebm_model *m = cli_model_load(cmd, path);
    ebm_status ls = m ? ebm_model_score(m, NULL, 0, NULL) : EBM_OK; /* can it score? */
    if (!m || ls) {
        ebm_model_free(m);
        return ls ? cli_lib_error(cmd, ls) : 1;
    }
    const char *kind = ebm_kind_name(ebm_model_kind_of(m));
    rc = 1;
    features feat = {0}, *fs = score_kind >= 2 ? &feat : NULL;
    double *E = NULL, *Ea = NULL;
    int32_t *y = NULL, *ya = NULL;
    size_t n = 0, na = 0, models = 0;
    if (!data) data = ebm_meta_get(ebm_model_meta(m), "ebm.data.spec");
    if (!cli_model_data(cmd, &data, NULL, "--data is required")) goto done;
    if (score_kind < 2 && (fit_data || fit_limit)) {
        cli_error(cmd, "--fit-data and --fit-limit go with --score mahalanobis or energy+mahalanobis");
        goto done;
    }
    if (with && score_kind != 3) {
        cli_error(cmd, "--with goes with --score energy+mahalanobis (scores on one scale, [0, 2], can be added)");
        rc = 2;
        goto done;
    }
    /* the model, then every --with model: each one's scores of the same rows, added to the first's */
    char withs[4096];
    if (with && strlen(with) >= sizeof withs) {
        cli_error(cmd, "--with: a list of %zu characters; at most %zu", strlen(with), sizeof withs - 1);
        rc = 2;
        goto done;
    }
    snprintf(withs, sizeof withs, "%s", with ? with : "");
    char *next = withs;
    for (const char *mp = path; mp; models++) {
        ebm_model *mm = models ? cli_model_load(cmd, mp) : m;
        if (!mm) goto done;
        features mf = {0}, *fi = score_kind < 2 ? NULL : models ? &mf : &feat; /* the scores' feature Gaussian */
        double *Ei = NULL, *Eai = NULL;
        int32_t *yi = NULL, *yai = NULL;
        size_t ni = 0, nai = 0, fr = 0;
        const char *fd = fit_data;
        size_t fl = fit_limit;
        if (score_kind >= 2 && !fd) { /* the model's training rows: its data spec, and as many rows as it trained on */
            fd = ebm_meta_get(ebm_model_meta(mm), "ebm.data.spec");
            if (!fl) cli_meta_size(ebm_model_meta(mm), "ebm.data.rows", &fl); /* left 0 without it */
        }
        bool ok = score_kind < 2 || fit_features(mm, cmd, mp, fd, fl, ridge, score_kind == 3, quiet || json, &fr, fi);
        ok = ok && energies(mm, cmd, data, limit, quiet || json, &cx, fi, &Ei, &yi, &ni);
        ok = ok && (!anomaly_data || energies(mm, cmd, anomaly_data, limit, quiet || json, &cx, fi, &Eai, &yai, &nai));
        if (ok && models && (ni != n || nai != na)) {
            cli_error(cmd, "--with %s scores %zu rows of %s, the first model %zu (preprocessed alike?)", mp, ni, data, n);
            ok = false;
        }
        if (ok && !models) {
            E = Ei, Ea = Eai, y = yi, ya = yai, n = ni, na = nai, fit_rows = fr;
            Ei = Eai = NULL, yi = yai = NULL;
        }
        for (size_t i = 0; ok && Ei && i < n; i++) E[i] += Ei[i];
        for (size_t i = 0; ok && Eai && i < na; i++) Ea[i] += Eai[i];
        free(Ei), free(Eai), free(yi), free(yai);
        if (models) {
            ebm_feature_gauss_free(mf.fg), free(mf.ref_e), free(mf.ref_m);
            ebm_model_free(mm);
        }
        if (!ok) goto done;
        mp = next && *next ? strsep(&next, ",") : NULL;
    }
    /* --score's choices: the CSV's column and the JSON's "score" (the energy's is what it is per model kind) */
    static const char *const score_name[] = {"energy", "complexity", "mahalanobis", "energy+mahalanobis"};
    const char *what = cx.on ? "E / ln 2 - PNG bits"
                       : score_kind == 2
                           ? "squared Mahalanobis distance of the penultimate features to the nearest class mean"
                       : score_kind == 3
                           ? "the energy's plus the Mahalanobis distance's distribution function over the fit rows"
                           : ebm_model_score_name(m),
               *noun = cx.on || fs ? "score" : "energy";
    for (size_t i = 0; i < n; i++)
        if (!isfinite(E[i])) {
            cli_error(cmd, "the %s of row %zu is not finite (%g): the model has diverged", noun, i, E[i]);
            goto done;
        }
    if (out && ebm_comm_rank(cli_comm()) == 0 && ebm_metric_write_scores_as(out, score_name[score_kind], E, y, n)) {
        cli_lib_error(cmd, EBM_EIO);
        goto done;
    }
    if (out && !quiet && !json) fprintf(stderr, "wrote %s\n", out);
    double mean = 0, auroc = NAN;
    for (size_t i = 0; i < n; i++) mean += E[i] / (double)n;
    if ((class_seen || normal_seen) && !y) {
        cli_error(cmd, "--%s-class needs labelled data; %s has no labels", class_seen ? "anomaly" : "normal", data);
        goto done;
    }
    /* the anomalies are the positives; the energy is the score.  With --normal-class the class is the
     * negative side: the AUROC of the others against it is 1 - its AUROC against them (ties count 1/2) */
    size_t n_pos = na;
    ebm_status s = EBM_OK;
    if (class_seen || normal_seen) s = ebm_metric_auroc_class(E, y, n, (int32_t)anomaly_class, &auroc, &n_pos);
    else if (anomaly_data) s = ebm_metric_auroc(Ea, na, E, n, &auroc);
    size_t n_neg = class_seen || normal_seen ? n - n_pos : n;
    if (normal_seen) {
        size_t t = n_pos;
        n_pos = n_neg;
        n_neg = t;
        auroc = 1.0 - auroc;
    }
    if (s) {
        if (n_pos == 0 || n_neg == 0)
            cli_error(cmd, "no %s rows to compare: %zu anomalies, %zu normal", n_pos ? "normal" : "anomalous", n_pos,
                      n_neg);
        else cli_lib_error(cmd, s);
        goto done;
    }
    if (json) {
        printf("{\"model\": \"%s\", \"score\": \"%s\", \"rows\": %zu, \"mean_%s\": %.9g", kind,
               score_kind >= 2 ? score_name[score_kind] : what,
               n, noun, mean);
        if (models > 1) printf(", \"models\": %zu", models);
        if (fs)
            printf(", \"fit_rows\": %zu, \"fit_means\": %zu, \"features\": %zu", fit_rows,
                   ebm_feature_gauss_means(feat.fg), ebm_feature_gauss_width(feat.fg));
        if (!isnan(auroc)) printf(", \"anomalies\": %zu, \"normal\": %zu, \"auroc\": %.6f", n_pos, n_neg, auroc);
        printf("}\n");
    } else {
        printf("model        %s (%s): score = %s\n", path, kind, what);
        if (models > 1) printf("with         %s: the %zu models' scores added\n", with, models);
        printf("data         %s: %zu rows, mean %s %.4f\n", data, n, noun, mean);
        if (class_seen || normal_seen) {
            printf("mean %s by class:", noun);
            double means[1000];
            size_t nc = ebm_metric_class_means(E, y, n, 1000, means);
            for (size_t c = 0; c < nc; c++)
                if (!isnan(means[c])) printf(" %zu:%.2f", c, means[c]);
            printf("\nAUROC        %.4f  (%s as the anomaly score; %s %zu: %zu anomalies, %zu normal rows)\n", auroc,
                   noun, class_seen ? "anomalous class" : "normal class", anomaly_class, n_pos, n_neg);
        } else if (anomaly_data) {
            double ma = 0;
            for (size_t i = 0; i < na; i++) ma += Ea[i] / (double)na;
            printf("anomalies    %s: %zu rows, mean %s %.4f\n", anomaly_data, na, noun, ma);
            printf("AUROC        %.4f  (%s as the anomaly score)\n", auroc, noun);
        }
    }
    rc = 0;
done:
    free(E);
    free(Ea);
    free(y);
    free(ya);
    ebm_feature_gauss_free(feat.fg);
    free(feat.ref_e);
    free(feat.ref_m);
    ebm_model_free(m);
    return rc;
}
