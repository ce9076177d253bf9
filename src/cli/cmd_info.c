/* `ebm info`: what a model file holds: kind, shapes, parameter count, statistics of the weights and
 * biases, every metadata entry (training provenance, data preprocessing, sampling defaults), and
 * optionally a picture of the hidden units' receptive fields (columns of W shown as images). */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const info_about =
    "Describe a model file: kind, layer sizes, parameters, weight and bias statistics and all metadata\n"
    "(how it was trained, on what data, and its sampling defaults).  --filters writes the weights of the\n"
    "first --n-filters hidden units as a grid of images (mid-grey = 0).";

typedef struct {
    double mean, std, min, max, mean_abs;
} stats;

static stats stats_of(const float *x, size_t n) {
    stats s = {0, 0, INFINITY, -INFINITY, 0};
    double sum = 0, sq = 0, ab = 0;
    for (size_t i = 0; i < n; i++) {
        sum += x[i];
        sq += (double)x[i] * x[i];
        ab += fabs(x[i]);
        if (x[i] < s.min) s.min = x[i];
        if (x[i] > s.max) s.max = x[i];
    }
    s.mean = sum / (double)n;
    s.std = sqrt(fmax(0, sq / (double)n - s.mean * s.mean));
    s.mean_abs = ab / (double)n;
    return s;
}

static void print_stats(const char *name, stats s) {
    printf("  %-4s mean %+.4f  std %.4f  min %+.4f  max %+.4f  mean|.| %.4f\n", name, s.mean, s.std, s.min, s.max,
           s.mean_abs);
}

static void json_stats(const char *name, stats s, bool comma) {
    printf("\"%s\": {\"mean\": ", name);
    cli_json_number(stdout, s.mean);
    printf(", \"std\": ");
    cli_json_number(stdout, s.std);
    printf(", \"min\": ");
    cli_json_number(stdout, s.min);
    printf(", \"max\": ");
    cli_json_number(stdout, s.max);
    printf("}%s", comma ? ", " : "");
}

int cli_rbm_info(int argc, char **argv, bool quiet) {
    const char *cmd = "info";
    cli_info_args ia;
    const char *path;
    int rc = cli_info_start(argc, argv, "ebm info MODEL [--json] [--filters PNG]", info_about, &ia, &path);
    if (rc >= 0) return rc;
    bool json = ia.json;
    ebm_rbm *m = cli_load_rbm(cmd, path, "describing");
    if (!m) return 1;
    rc = 1;
    struct stat st;
    long long bytes = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    stats sw = stats_of(m->W, m->n_vis * m->n_hid), sa = stats_of(m->a, m->n_vis), sb = stats_of(m->b, m->n_hid);
    if (json) {
        printf("{\"file\": ");
        cli_json_string(stdout, path);
        printf(", \"bytes\": %lld, \"kind\": \"rbm\", \"n_vis\": %zu, \"n_hid\": %zu, \"n_params\": %zu, ", bytes,
               m->n_vis, m->n_hid, m->n_params);
        json_stats("W", sw, true);
        json_stats("b_v", sa, true);
        json_stats("b_h", sb, true);
        printf("\"metadata\": {");
        cli_print_meta(m->meta, true);
        printf("}}\n");
    } else {
        printf("%s: Bernoulli RBM, %zu visible x %zu hidden, %zu parameters, %lld bytes\n", path, m->n_vis, m->n_hid,
               m->n_params, bytes);
        if (m->height) printf("image shape %zu x %zu\n", m->height, m->width);
        printf("parameters:\n");
        print_stats("W", sw);
        print_stats("b_v", sa);
        print_stats("b_h", sb);
        printf("metadata:\n");
        cli_print_meta(m->meta, false);
    }
    if (!cli_info_filters(&ia, quiet, m->W, m->n_vis, m->n_hid, m->height, m->width)) goto done;
    rc = 0;
done:
    ebm_rbm_free(m);
    return rc;
}
