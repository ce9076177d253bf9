/* `ebm eval --samples S.npy`: sample quality by the Fréchet distance between Gaussians fitted to a fixed
 * classifier's penultimate features of the samples and of real test images (ebm_net_fd; "FD-FMNIST" with
 * the classifier shipped in models/fd-fmnist.safetensors, NOT comparable with published Inception FIDs),
 * plus that classifier's accuracy on class-conditional samples (--labels) and the spread of its
 * predictions.  A floor is printed beside it: the FD between the same number of real training images and
 * the test set, which is what a perfect sampler would score at this sample size.  With --gaussian-baseline,
 * a ceiling too: the FD of as many draws from a Gaussian per class fitted to the training images (JEM++'s
 * chain starts; with --labels, each draw from its sample's class), what a model that learnt only each class's
 * mean and covariance scores. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FD_MODEL_NAME "fd-fmnist.safetensors"

/* The shipped classifier: $EBM_FD_MODEL, ./models/, the source tree's models/, the installed data dir. */
static const char *find_fd_model(char *buf, size_t cap) {
    const char *env = getenv("EBM_FD_MODEL");
    if (env && *env) return env;
    const char *dirs[] = {"models",
#ifdef EBM_SOURCE_MODELS
                          EBM_SOURCE_MODELS,
#endif
#ifdef EBM_INSTALL_MODELS
                          EBM_INSTALL_MODELS,
#endif
    };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(buf, cap, "%s/%s", dirs[i], FD_MODEL_NAME);
        if (access(buf, R_OK) == 0) return buf;
    }
    return NULL;
}

/* The options, the feature classifier, the real images and the samples of one evaluation. */
typedef struct {
    const char *cmd, *clf_path, *samples, *labels, *data_spec, *ref_spec;
    int scale_mode; /* auto|01|pm1 */
    size_t limit;
    bool quiet, json, baseline;
    double fd_gauss, acc_gauss;   /* the Gaussian baseline's FD and class accuracy (NaN: not asked) */
    size_t gauss_rows;
    ebm_net *net;
    ebm_meta *meta;
    size_t k, dim, *counts;       /* counts (k): the predicted classes of the samples */
    ebm_dataset *S, *D, *R;       /* samples, reference images, floor images */
    int32_t *y;
} fd_job;

/* Images of spec (at most limit rows) preprocessed as the classifier's training data; NULL after an error. */
static ebm_dataset *load_images(fd_job *j, const char *spec, cli_data_args *da, size_t limit, const char *per) {
    ebm_data_opts o;
    da->limit = limit;
    ebm_dataset *d = cli_data_opts(j->cmd, da, &o) ? cli_load_data(j->cmd, spec, &o, j->quiet) : NULL;
    if (d && d->x->cols != j->dim) {
        cli_error(j->cmd, "%s has %zu values per %s but the classifier takes %zu", spec, d->x->cols, per, j->dim);
        ebm_dataset_free(d);
        d = NULL;
    }
    return d;
}

/* The samples, mapped to the value range of the classifier's training data: auto takes images with over 10%
 * of their values below -0.5 (a dark background in [-1, 1], never in [0, 1]) as [-1, 1]. */
static bool load_samples(fd_job *j, bool clf_pm1) {
    cli_data_args da = CLI_DATA_ARGS_INIT; /* u8 files to [0, 1], floats as stored */
    if (!(j->S = load_images(j, j->samples, &da, 0, "sample"))) return false;
    /* auto: images only (the classifier sees C x H x W pictures); other data are taken as stored */
    size_t ic, ih, iw;
    int images = ebm_net_input_shape(j->meta, j->dim, &ic, &ih, &iw) && ih > 1 && iw > 1, pm1;
    float lo, hi;
    ebm_samples_rescale(j->S->x, j->scale_mode, images, clf_pm1, &pm1, &lo, &hi);
    if (!j->quiet)
        fprintf(stderr, "samples: %zu, values in [%g, %g]%s\n", j->S->x->rows, (double)lo, (double)hi,
                !images && j->scale_mode == 0 ? "" : pm1 ? ", read as [-1, 1]" : ", read as [0, 1]");
    return true;
}

static void report(const fd_job *j, const ebm_fd_result *r) {
    size_t rows_r = j->R ? j->R->x->rows : 0;
    if (j->json) {
        /* accuracy is NaN without --labels: null, as every non-finite figure in JSON */
        static const char *const keys[] = {"fd", "fd_floor", "accuracy", "mean_confidence", "class_entropy",
                                           "max_entropy", "fd_gaussian", "accuracy_gaussian"};
        double v[] = {r->fd, r->fd_floor, r->accuracy, r->mean_confidence, r->class_entropy, log((double)j->k),
                      j->fd_gauss, j->acc_gauss};
        printf("{\"samples\": %zu, \"reference\": %zu, \"floor_rows\": %zu, \"features\": %zu, ", j->S->x->rows,
               j->D->x->rows, rows_r, r->width);
        cli_json_numbers(stdout, keys, v, sizeof v / sizeof v[0]);
        printf("}\n");
        return;
    }
    printf("samples            %s: %zu\n", j->samples, j->S->x->rows);
    printf("reference          %s: %zu images\n", j->D->source, j->D->x->rows);
    printf("classifier         %s (%zu penultimate features)\n", j->clf_path, r->width);
    printf("FD-FMNIST          %.3f   (not Inception FID)\n", r->fd);
    if (j->R) printf("perfect-sampler    %.3f   (%zu real training images against the same reference)\n", r->fd_floor, rows_r);
    if (j->baseline)
        printf("Gaussian baseline  %.3f   (as many draws from a Gaussian per class fitted to %zu training images%s)\n",
               j->fd_gauss, j->gauss_rows, j->y ? ", each of its sample's class" : "");
    if (j->baseline && j->y) printf("  its class accuracy %.4f\n", j->acc_gauss);
    if (j->y) printf("class accuracy     %.4f  (the classifier's on the intended classes)\n", r->accuracy);
    printf("mean confidence    %.4f\n", r->mean_confidence);
    printf("predicted classes  entropy %.3f of at most %.3f nats:", r->class_entropy, log((double)j->k));
    for (size_t c = 0; c < j->k && c < 1024; c++) printf(" %zu", j->counts[c]);
    printf("\n");
}

static const char *const about =
    "Sample quality of any model's samples (an NPY/CSV/IDX array of images, e.g. from ebm sample --npy):\n"
    "the Fréchet distance between Gaussians fitted to the penultimate-layer features of a fixed Fashion-MNIST\n"
    "classifier (FD-FMNIST; the classifier is models/fd-fmnist.safetensors, made by `make fd-classifier`)\n"
    "for the samples and for the test images.  This is NOT the Inception FID of the literature: the numbers\n"
    "are comparable only with each other.  Also printed: the FD a perfect sampler would get at the same\n"
    "sample size (real training images against the test set), the classifier's accuracy on class-conditional\n"
    "samples (--labels, e.g. from ebm sample --class all --labels), and the spread of its predicted classes.\n"
    "--gaussian-baseline adds the FD of as many draws from a Gaussian per class fitted to the training images\n"
    "(--floor-data): what matching each class's mean and covariance alone scores.\n"
    "Samples in [-1, 1] (models trained with --scale pm1) are recognised and mapped to [0, 1].";

/* --gaussian-baseline: n draws (seed 1) from a Gaussian per class fitted to every row of the floor data (each
 * draw of its sample's class with --labels), scored like the samples; false after printing an error. */
static bool gauss_baseline(fd_job *j, cli_data_args *da, size_t n) {
    ebm_dataset *G = load_images(j, j->ref_spec, da, 0, "row");
    if (!G) return false;
    ebm_mat *B = NULL;
    ebm_status s = EBM_OK;
    bool ok = false;
    if (j->y && !G->labels) {
        cli_error(j->cmd, "--gaussian-baseline with --labels needs labelled --floor-data (%s has none)", j->ref_spec);
        goto done;
    }
    s = ebm_mat_new(n, j->dim, &B);
    if (!s) s = cli_gauss_draws(G, j->y, 1, B->data, n, NULL); /* seed 1, as ebm sample's Gaussian starts */
    ebm_fd_result rb;
    if (!s) s = ebm_net_fd(j->net, B, j->D->x, NULL, j->y, NULL, &rb);
    if (s) {
        cli_lib_error(j->cmd, s);
        goto done;
    }
    j->fd_gauss = rb.fd;
    j->acc_gauss = rb.accuracy;
    j->gauss_rows = G->x->rows;
    ok = true;
done:
    ebm_mat_free(B);
    ebm_dataset_free(G);
    return ok;
}

/* The evaluation once the options are read; the exit status (what j holds is the caller's to free). */
static int fd_run(fd_job *j) {
    char buf[4096];
    if (!j->clf_path && !(j->clf_path = find_fd_model(buf, sizeof buf)))
        return cli_error(j->cmd, "no feature classifier: models/" FD_MODEL_NAME " not found (run `make fd-classifier`, "
                                 "set EBM_FD_MODEL or give --classifier)");
    ebm_status s = ebm_net_load(j->clf_path, &j->net, &j->meta);
    if (s) return cli_lib_error(j->cmd, s);
    const char *head = ebm_meta_get(j->meta, "ebm.net.head"); /* a classifier's: logsumexp (ebm train jem) */
    j->k = head && strcmp(head, "logsumexp") == 0 ? ebm_net_output_size(j->net) : 0;
    j->dim = ebm_net_input_size(j->net);
    if (j->k < 2)
        return cli_error(j->cmd, "%s is not a classifier (train one with ebm train jem --objective clf)", j->clf_path);
    const char *sc = ebm_meta_get(j->meta, "ebm.data.scale");
    cli_data_args da = CLI_DATA_ARGS(sc ? sc : "auto", "none", 0);
    if (!load_samples(j, sc && strcmp(sc, "pm1") == 0)) return 1;
    size_t n = j->S->x->rows;
    if (!(j->D = load_images(j, j->data_spec, &da, j->limit, "row"))) return 1;
    if (j->labels && !(j->y = cli_load_labels(j->cmd, j->labels, n, true, j->k))) return 1;
    if (strcmp(j->ref_spec, "none") != 0 && !(j->R = load_images(j, j->ref_spec, &da, n, "row"))) return 1;
    if (!(j->counts = calloc(j->k, sizeof *j->counts))) return cli_error(j->cmd, "out of memory");
    ebm_fd_result r;
    s = ebm_net_fd(j->net, j->S->x, j->D->x, j->R ? j->R->x : NULL, j->y, j->counts, &r);
    if (s) return cli_lib_error(j->cmd, s);
    if (j->baseline && !gauss_baseline(j, &da, n)) return 1;
    report(j, &r);
    return 0;
}

int cmd_eval_samples(int argc, char **argv, bool quiet) {
    size_t npos;
    fd_job j = {.cmd = "eval", .quiet = quiet, .data_spec = "fashion-mnist:test", .ref_spec = "fashion-mnist:train",
                .fd_gauss = NAN, .acc_gauss = NAN};
    const cli_opt opts[] = {
        {"samples", OPT_STR, &j.samples, "PATH", "the samples: images in rows, values in [0, 1] (or [-1, 1])", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"labels", OPT_STR, &j.labels, "PATH", "intended class of each sample (NPY): the classifier's accuracy on them", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"samples-scale", OPT_CHOICE, &j.scale_mode, NULL, "value range of the samples (auto: [-1, 1] when over 10% of values are below -0.5)", 0, 0, 0, 0, "auto|01|pm1", NULL},
        {"data", OPT_STR, &j.data_spec, "SPEC", "real images to compare with", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"floor-data", OPT_STR, &j.ref_spec, "SPEC", "other real images for the perfect-sampler floor ('none' to skip)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"classifier", OPT_STR, &j.clf_path, "PATH", "feature classifier (default: $EBM_FD_MODEL or models/" FD_MODEL_NAME ")", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &j.limit, "N", "use the first N real images (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        {"gaussian-baseline", OPT_FLAG, &j.baseline, NULL, "also score draws from a Gaussian per class fitted to every --floor-data image", 0, 0, 0, 0, NULL, NULL},
        CLI_JSON_OPTION(j.json),
        OPT_END,
    };
    int rc = cli_start(j.cmd, argc, argv, opts, "ebm eval --samples PATH [--labels PATH] [--data SPEC] [options]", about,
                       NULL, 0, &npos);
    if (rc >= 0) return rc;
    if (!j.samples) return cli_error(j.cmd, "--samples PATH is required"), 2;
    if (j.baseline && strcmp(j.ref_spec, "none") == 0)
        return cli_error(j.cmd, "--gaussian-baseline fits the --floor-data images; 'none' leaves nothing to fit"), 2;
    rc = fd_run(&j);
    free(j.y);
    free(j.counts);
    ebm_dataset_free(j.S);
    ebm_dataset_free(j.D);
    ebm_dataset_free(j.R);
    ebm_net_free(j.net);
    ebm_meta_free(j.meta);
    return rc;
}
