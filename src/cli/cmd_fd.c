/* `ebm eval --samples S.npy`: sample quality by the Fréchet distance between Gaussians fitted to a fixed
 * classifier's penultimate features of the samples and of real test images ("FD-FMNIST" with the
 * classifier shipped in models/fd-fmnist.safetensors; Heusel et al. 2017 defined the same quantity on
 * Inception-v3 features, so the numbers are NOT comparable with published FIDs), plus that classifier's
 * accuracy on class-conditional samples (--labels) and the spread of its predictions.  A floor is
 * printed beside it: the FD between the same number of real training images and the test set, which is
 * what a perfect sampler would score at this sample size. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FD_MODEL_NAME "fd-fmnist.safetensors"
#define FD_BATCH 500

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

/* feats (n, width) <- the net's penultimate features of x (n, dim), and argmax / max-prob of its logits. */
static ebm_status features(ebm_net *net, const float *x, size_t n, size_t at, size_t width, float *feats,
                           int32_t *pred, double *conf) {
    size_t dim = ebm_net_input_size(net), k = ebm_net_output_size(net);
    float *logits = malloc(FD_BATCH * k * sizeof(float));
    if (!logits) return EBM_ENOMEM;
    ebm_status s = EBM_OK;
    for (size_t r = 0; r < n && !s; r += FD_BATCH) {
        size_t b = n - r < FD_BATCH ? n - r : FD_BATCH;
        s = ebm_net_forward(net, x + r * dim, b, logits);
        if (!s) s = ebm_net_features(net, NULL, b, at, feats + r * width); /* of the same forward */
        for (size_t i = 0; !s && i < b; i++) {
            const float *f = logits + i * k;
            size_t best = 0;
            for (size_t j = 1; j < k; j++) best = f[j] > f[best] ? j : best;
            double z = 0;
            for (size_t j = 0; j < k; j++) z += exp((double)f[j] - f[best]);
            if (pred) pred[r + i] = (int32_t)best;
            if (conf) conf[r + i] = 1.0 / z;
        }
    }
    free(logits);
    return s;
}

static const char *const about =
    "Sample quality of any model's samples (an NPY/CSV/IDX array of images, e.g. from ebm sample --npy):\n"
    "the Fréchet distance between Gaussians fitted to the penultimate-layer features of a fixed Fashion-MNIST\n"
    "classifier (FD-FMNIST; the classifier is models/fd-fmnist.safetensors, made by `make fd-classifier`)\n"
    "for the samples and for the test images.  This is NOT the Inception FID of the literature: the numbers\n"
    "are comparable only with each other.  Also printed: the FD a perfect sampler would get at the same\n"
    "sample size (real training images against the test set), the classifier's accuracy on class-conditional\n"
    "samples (--labels, e.g. from ebm sample --class all --labels), and the spread of its predicted classes.\n"
    "Samples in [-1, 1] (models trained with --scale pm1) are recognised and mapped to [0, 1].";

int cmd_eval_samples(int argc, char **argv, bool quiet) {
    const char *cmd = "eval";
    const char *samples = NULL, *labels = NULL, *data_spec = "fashion-mnist:test", *ref_spec = "fashion-mnist:train";
    const char *clf_path = NULL;
    int scale_mode = 0; /* auto|01|pm1 */
    size_t limit = 0;
    bool json = false;
    const cli_opt opts[] = {
        {"samples", OPT_STR, &samples, "PATH", "the samples: images in rows, values in [0, 1] (or [-1, 1])", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"labels", OPT_STR, &labels, "PATH", "intended class of each sample (NPY): the classifier's accuracy on them", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"samples-scale", OPT_CHOICE, &scale_mode, NULL, "value range of the samples (auto: [-1, 1] when over 10% of values are below -0.5)", 0, 0, 0, 0, "auto|01|pm1", NULL},
        {"data", OPT_STR, &data_spec, "SPEC", "real images to compare with", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"floor-data", OPT_STR, &ref_spec, "SPEC", "other real images for the perfect-sampler floor ('none' to skip)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"classifier", OPT_STR, &clf_path, "PATH", "feature classifier (default: $EBM_FD_MODEL or models/" FD_MODEL_NAME ")", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &limit, "N", "use the first N real images (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        {"json", OPT_FLAG, &json, NULL, "print one JSON object instead of text", 0, 0, 0, 0, NULL, NULL},
        OPT_END,
    };
    size_t npos;
    int rc = cli_start(cmd, argc, argv, opts, "ebm eval --samples PATH [--labels PATH] [--data SPEC] [options]", about, NULL, 0,
                       &npos);
    if (rc >= 0) return rc;
    if (!samples) return cli_error(cmd, "--samples PATH is required"), 2;
    char buf[4096];
    if (!clf_path) clf_path = find_fd_model(buf, sizeof buf);
    if (!clf_path)
        return cli_error(cmd, "no feature classifier: models/" FD_MODEL_NAME " not found (run `make fd-classifier`, set "
                              "EBM_FD_MODEL or give --classifier)");
    ebm_net *net = NULL;
    ebm_meta *meta = NULL;
    ebm_dataset *S = NULL, *D = NULL, *R = NULL;
    float *fs = NULL, *fd = NULL, *fr = NULL;
    int32_t *y = NULL, *pred = NULL;
    double *conf = NULL;
    rc = 1;
    ebm_status s = ebm_net_load(clf_path, &net, &meta);
    if (s) {
        cli_lib_error(cmd, s);
        goto done;
    }
    size_t k = cli_net_classes(net, meta), dim = ebm_net_input_size(net);
    if (k < 2) {
        cli_error(cmd, "%s is not a classifier (train one with ebm train jem --objective clf)", clf_path);
        goto done;
    }
    const char *sc = ebm_meta_get(meta, "ebm.data.scale");
    bool clf_pm1 = sc && strcmp(sc, "pm1") == 0;
    cli_data_args da = {"auto", "none", 0.5f, 0, 1, false, false, false}; /* u8 files to [0, 1], floats as stored */
    ebm_data_opts o;
    if (!cli_data_opts(cmd, &da, &o)) goto done;
    if (!(S = cli_load_data(cmd, samples, &o, quiet))) goto done;
    size_t n = S->x->rows;
    if (S->x->cols != dim) {
        cli_error(cmd, "%s has %zu values per sample but the classifier takes %zu", samples, S->x->cols, dim);
        goto done;
    }
    float lo = INFINITY, hi = -INFINITY;
    size_t dark = 0; /* values below -0.5: the background of images in [-1, 1], never of [0, 1] ones */
    for (size_t i = 0; i < n * dim; i++) {
        lo = S->x->data[i] < lo ? S->x->data[i] : lo;
        hi = S->x->data[i] > hi ? S->x->data[i] : hi;
        dark += S->x->data[i] < -0.5f;
    }
    /* auto: images only (the classifier sees C x H x W pictures); other data are taken as stored */
    const char *in = ebm_meta_get(meta, "ebm.net.input");
    size_t ic, ih = 1, iw = 1;
    bool images = in && sscanf(in, "%zux%zux%zu", &ic, &ih, &iw) == 3 && ih > 1 && iw > 1;
    /* a GRBM's samples overshoot [0, 1] a little; a [-1, 1] model's have a dark background */
    bool pm1 = scale_mode == 2 || (scale_mode == 0 && images && (double)dark > 0.1 * (double)(n * dim));
    if (scale_mode == 0 && !images) pm1 = clf_pm1;
    if (!quiet)
        fprintf(stderr, "samples: %zu, values in [%g, %g]%s\n", n, (double)lo, (double)hi,
                !images && scale_mode == 0 ? "" : pm1 ? ", read as [-1, 1]" : ", read as [0, 1]");
    if (pm1 != clf_pm1)
        for (size_t i = 0; i < n * dim; i++) S->x->data[i] = pm1 ? 0.5f * (S->x->data[i] + 1) : 2 * S->x->data[i] - 1;
    da.scale = sc ? sc : "auto";
    da.limit = limit;
    if (!cli_data_opts(cmd, &da, &o)) goto done;
    if (!(D = cli_load_data(cmd, data_spec, &o, quiet))) goto done;
    if (D->x->cols != dim) {
        cli_error(cmd, "%s has %zu values per row but the classifier takes %zu", data_spec, D->x->cols, dim);
        goto done;
    }
    if (labels && !(y = cli_load_labels(cmd, labels, n, true, k))) goto done;
    size_t at, width;
    at = ebm_net_penultimate(net, &width);
    fs = malloc(n * width * sizeof(float));
    fd = malloc(D->x->rows * width * sizeof(float));
    pred = malloc(n * sizeof *pred);
    conf = malloc(n * sizeof *conf);
    if (!fs || !fd || !pred || !conf) {
        cli_error(cmd, "out of memory");
        goto done;
    }
    if ((s = features(net, S->x->data, n, at, width, fs, pred, conf)) ||
        (s = features(net, D->x->data, D->x->rows, at, width, fd, NULL, NULL))) {
        cli_lib_error(cmd, s);
        goto done;
    }
    double fdist, floor_fd = NAN;
    if ((s = ebm_frechet_distance(fs, n, fd, D->x->rows, width, &fdist))) {
        cli_lib_error(cmd, s);
        goto done;
    }
    if (strcmp(ref_spec, "none") != 0) {
        da.limit = n;
        if (!cli_data_opts(cmd, &da, &o)) goto done;
        if (!(R = cli_load_data(cmd, ref_spec, &o, quiet))) goto done;
        if (R->x->cols != dim) {
            cli_error(cmd, "%s has %zu values per row but the classifier takes %zu", ref_spec, R->x->cols, dim);
            goto done;
        }
        fr = malloc(R->x->rows * width * sizeof(float));
        if (!fr) {
            cli_error(cmd, "out of memory");
            goto done;
        }
        if ((s = features(net, R->x->data, R->x->rows, at, width, fr, NULL, NULL)) ||
            (s = ebm_frechet_distance(fr, R->x->rows, fd, D->x->rows, width, &floor_fd))) {
            cli_lib_error(cmd, s);
            goto done;
        }
    }
    size_t hist[1024] = {0};
    double mean_conf = 0, acc = NAN, ent = 0;
    for (size_t i = 0; i < n; i++) {
        if ((size_t)pred[i] < 1024) hist[pred[i]]++;
        mean_conf += conf[i] / (double)n;
    }
    for (size_t j = 0; j < k && j < 1024; j++)
        if (hist[j]) ent -= (double)hist[j] / (double)n * log((double)hist[j] / (double)n);
    if (y) {
        size_t hit = 0;
        for (size_t i = 0; i < n; i++) hit += pred[i] == y[i];
        acc = (double)hit / (double)n;
    }
    if (json) {
        printf("{\"samples\": %zu, \"reference\": %zu, \"fd\": %.6g, \"fd_floor\": %.6g, \"floor_rows\": %zu, "
               "\"accuracy\": %.6g, \"mean_confidence\": %.6g, \"class_entropy\": %.6g, \"max_entropy\": %.6g, "
               "\"features\": %zu}\n",
               n, D->x->rows, fdist, floor_fd, R ? R->x->rows : 0, acc, mean_conf, ent, log((double)k), width);
    } else {
        printf("samples            %s: %zu\n", samples, n);
        printf("reference          %s: %zu images\n", D->source, D->x->rows);
        printf("classifier         %s (%zu penultimate features)\n", clf_path, width);
        printf("FD-FMNIST          %.3f   (not Inception FID)\n", fdist);
        if (R) printf("perfect-sampler    %.3f   (%zu real training images against the same reference)\n", floor_fd, R->x->rows);
        if (y) printf("class accuracy     %.4f  (the classifier's on the intended classes)\n", acc);
        printf("mean confidence    %.4f\n", mean_conf);
        printf("predicted classes  entropy %.3f of at most %.3f nats:", ent, log((double)k));
        for (size_t j = 0; j < k && j < 1024; j++) printf(" %zu", hist[j]);
        printf("\n");
    }
    rc = 0;
done:
    free(fs);
    free(fd);
    free(fr);
    free(y);
    free(pred);
    free(conf);
    ebm_dataset_free(S);
    ebm_dataset_free(D);
    ebm_dataset_free(R);
    ebm_net_free(net);
    ebm_meta_free(meta);
    return rc;
}
