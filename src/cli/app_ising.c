/* `ebm denoise --model ising`: binary image denoising with the grid Ising prior (the library's
 * ebm_ising_denoise), of one PNG, or of a batch of binarised images with added salt-and-pepper noise, reporting
 * the pixel error rate of each method. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const denoise_about =
    "Denoise binary images with the grid Ising prior (Bishop, PRML 8.3.3): hidden clean y in {-1,+1}\n"
    "on the 4-neighbour grid, observed x, E(y; x) = -beta sum_{i~j} y_i y_j - eta sum_i x_i y_i - h sum_i y_i.\n"
    "Methods: icm (iterated conditional modes until nothing changes), anneal (--sweeps Gibbs sweeps with\n"
    "the temperature falling geometrically from --t0 to --t1, then ICM), gibbs (posterior marginals: mean of\n"
    "p(y_i = +1 | rest) over --sweeps sweeps after --burn-in, thresholded at 1/2: the MPM estimate).\n"
    "\n"
    "One image: ebm denoise --model ising [options] IN.png OUT.png reads a grey PNG, thresholds it at 0.5\n"
    "(white = +1) and writes the denoised binary PNG; pictures above 16,777,216 pixels (4096 x 4096) are\n"
    "refused from their header.\n"
    "Batch: ebm denoise --model ising --data SPEC --n N --noise P [--png GRID] binarises N images at 0.5,\n"
    "adds salt-and-pepper noise (each pixel independently, with probability P, is replaced by a fair coin\n"
    "flip: 0 or 1 with probability 1/2 each, so about P/2 of the pixels change) and prints the pixel error\n"
    "rate (fraction of pixels differing from the clean binarised image) before and after each method.";

typedef struct {
    ebm_ising_denoise_opts o;
    int method; /* -1: icm for one image, all three in batch mode */
    float beta, eta, h, noise, threshold;
    size_t n, offset, show;
    uint64_t seed;
    bool json, quiet;
    const char *data, *png, *marg;
} den_args;

/* Writes y (H x W) in {-1,+1} as black and white, or (grey) values in [0, 1] as grey levels, through px (H x W);
 * false after printing an error. */
static bool write_png(const char *cmd, const char *path, const float *y, size_t H, size_t W, bool grey, uint8_t *px) {
    for (size_t i = 0; i < H * W; i++) px[i] = grey ? (uint8_t)lrintf(255.0f * y[i]) : y[i] > 0 ? 255 : 0;
    ebm_status s = ebm_png_write(path, px, H, W, 1);
    return s ? (cli_lib_error(cmd, s), false) : true;
}

/* The largest picture one denoising reads (4096 x 4096): memory grows as 13 bytes a pixel, and a PNG of a
 * few hundred KB can declare a billion pixels; refused from the header, before decoding (docs/formats.md). */
#define ISING_MAX_PIXELS ((size_t)1 << 24)

static int denoise_one(const char *cmd, den_args *a, const char *in, const char *out) {
    ebm_array *img = NULL;
    ebm_status s = ebm_png_read_max(in, ISING_MAX_PIXELS, &img);
    if (s) return cli_lib_error(cmd, s);
    size_t H = img->shape[0], W = img->shape[1], c = img->ndim == 3 ? img->shape[2] : 1, N = H * W, changed = 0;
    float *x = malloc(N * (3 * sizeof(float) + 1));
    if (!x) {
        ebm_array_free(img);
        return cli_error(cmd, "out of memory for a %zu x %zu image", H, W);
    }
    float *y = x + N, *mg = y + N;
    ebm_ising_threshold_pixels(img->data, N, c, a->threshold, x);
    ebm_ising g = {H, W, a->beta, a->eta, a->h, x};
    ebm_rng rng;
    ebm_rng_seed(&rng, a->seed, 0);
    a->o.method = a->method < 0 ? EBM_ISING_ICM : (ebm_ising_method)a->method;
    double e0, e1, t = cli_now();
    s = ebm_ising_energy(&g, x, &e0);
    if (!s) s = ebm_ising_denoise(&g, &a->o, &rng, y, mg);
    if (!s) s = ebm_ising_energy(&g, y, &e1);
    int rc = s ? cli_lib_error(cmd, s) : 1;
    uint8_t *px = (uint8_t *)(mg + N);
    if (!s && write_png(cmd, out, y, H, W, false, px) && (!a->marg || write_png(cmd, a->marg, mg, H, W, true, px))) {
        for (size_t i = 0; i < N; i++) changed += y[i] != x[i];
        if (!a->quiet)
            fprintf(stderr, "%s: %zu x %zu, beta %g, eta %g: %zu pixels changed (%.2f%%), energy %.1f -> %.1f, %.2f s; "
                    "wrote %s\n", ebm_ising_method_name(a->o.method), H, W, (double)a->beta, (double)a->eta, changed,
                    100.0 * (double)changed / (double)N, e0, e1, cli_now() - t, out);
        rc = 0;
    }
    free(x);
    ebm_array_free(img);
    return rc;
}

/* The batch's results, printed as JSON or text. */
static void batch_report(const den_args *a, const ebm_dataset *d, size_t H, size_t W, size_t err_before,
                         const size_t *err, const double *secs, int first, int last) {
    double total = (double)a->n * (double)(H * W);
    if (a->json) {
        printf("{\"data\": ");
        cli_json_string(stdout, a->data);
        printf(", \"images\": %zu, \"offset\": %zu, \"noise\": %g, \"beta\": %g, \"eta\": %g, \"h\": %g, \"sweeps\": %zu, "
               "\"error_before\": %.6f, \"methods\": {", a->n, a->offset, (double)a->noise, (double)a->beta,
               (double)a->eta, (double)a->h, a->o.sweeps, (double)err_before / total);
        for (int m = first; m <= last; m++)
            printf("%s\"%s\": {\"error\": %.6f, \"seconds\": %.3f}", m > first ? ", " : "",
                   ebm_ising_method_name((ebm_ising_method)m), (double)err[m] / total, secs[m]);
        printf("}}\n");
        return;
    }
    printf("data %s: %zu images from %zu, %zu x %zu, binarised at %g; salt-and-pepper p = %g\n", d->source, a->n,
           a->offset, H, W, (double)a->threshold, (double)a->noise);
    printf("model: beta %g, eta %g, h %g\n", (double)a->beta, (double)a->eta, (double)a->h);
    printf("pixel error before  %.4f%%\n", 100.0 * (double)err_before / total);
    for (int m = first; m <= last; m++)
        printf("pixel error %-7s %.4f%%  (%.2f s)\n", ebm_ising_method_name((ebm_ising_method)m),
               100.0 * (double)err[m] / total, secs[m]);
}

/* Images offset.. of d (H x W each, values -1/+1) with noise, denoised by each method. */
static int denoise_rows(const char *cmd, den_args *a, const ebm_dataset *d, size_t H, size_t W) {
    if (a->offset + a->n > d->x->rows) a->n = d->x->rows - a->offset;
    int first = a->method < 0 ? 0 : a->method, last = a->method < 0 ? 2 : a->method, rc = 0;
    size_t D = H * W, n = a->n, cols = (size_t)(last - first) + 3, K = a->show < n ? a->show : n, err0 = 0;
    size_t err[3] = {0, 0, 0};
    double secs[3] = {0, 0, 0};
    const float *clean = d->x->data + a->offset * D;
    float *noisy = malloc((n + 2) * D * sizeof(float)), *tiles = malloc((a->png ? K * cols : 1) * D * sizeof(float));
    if (!noisy || !tiles) rc = cli_error(cmd, "out of memory");
    float *y = noisy ? noisy + n * D : NULL, *mg = y ? y + D : NULL;
    for (size_t i = 0; !rc && i < n; i++)
        err0 += ebm_ising_salt_pepper(clean + i * D, D, a->noise, a->seed, a->offset + i, noisy + i * D);
    cli_progress prog;
    cli_progress_init(&prog, a->quiet || a->json);
    cli_install_sigint();
    for (int m = first; !rc && m <= last; m++) {
        double t = cli_now();
        a->o.method = (ebm_ising_method)m;
        for (size_t i = 0; !rc && i < n; i++) {
            ebm_ising g = {H, W, a->beta, a->eta, a->h, noisy + i * D};
            ebm_status s = ebm_ising_denoise_image(&g, &a->o, a->seed, a->offset + i, clean + i * D, y, mg, &err[m]);
            if (s) rc = cli_lib_error(cmd, s);
            if (a->png && i < K) { /* a row of the picture: clean, noisy, then each method */
                memcpy(tiles + i * cols * D, clean + i * D, D * sizeof(float));
                memcpy(tiles + (i * cols + 1) * D, noisy + i * D, D * sizeof(float));
                memcpy(tiles + (i * cols + 2 + (size_t)(m - first)) * D, y, D * sizeof(float));
            }
            char detail[64];
            snprintf(detail, sizeof detail, "%zu/%zu images", i + 1, n);
            cli_progress_bar(&prog, ebm_ising_method_name(a->o.method), (double)(i + 1) / (double)n, detail);
            if (!rc && cli_interrupted()) rc = 130;
        }
        cli_progress_end(&prog);
        secs[m] = cli_now() - t;
    }
    if (rc == 130) cli_error(cmd, "interrupted");
    if (!rc) batch_report(a, d, H, W, err0, err, secs, first, last);
    if (!rc && a->png && !cli_write_samples(cmd, true, tiles, K * cols, D, true, a->png, NULL, NULL, H, W, cols, 2))
        rc = 1;
    if (!rc && a->png && !a->quiet && !a->json)
        fprintf(stderr, "wrote %s (columns: clean, noisy, then each method)\n", a->png);
    free(noisy);
    free(tiles);
    return rc;
}

static int denoise_batch(const char *cmd, den_args *a) {
    if (a->png && !cli_check_writable(cmd, "--png", a->png)) return 1;
    cli_data_args da = {"auto", "threshold", a->threshold, a->offset + a->n, 1, false, false, false};
    ebm_dataset *d = cli_bm_load_binary(cmd, a->data, &da, -1.0f, a->quiet || a->json);
    if (!d) return 1;
    size_t D = d->x->cols, H = d->height, W = d->width;
    if (!H || H * W != D) H = W = (size_t)(sqrt((double)D) + 0.5);
    int rc;
    if (H * W != D)
        rc = cli_error(cmd, "%s: rows of %zu values are not a known image shape", a->data, D);
    else if (a->offset >= d->x->rows)
        rc = cli_error(cmd, "--offset %zu is past the %zu rows of %s", a->offset, d->x->rows, a->data);
    else
        rc = denoise_rows(cmd, a, d, H, W);
    ebm_dataset_free(d);
    return rc;
}

int cmd_denoise_ising(int argc, char **argv, bool quiet) {
    const char *cmd = "denoise", *model = NULL;
    den_args a = {{EBM_ISING_ICM, 100, 20, 4.0f, 0.05f}, -1, 1.0f, 2.0f, 0.0f, 0.1f, 0.5f, 1000, 0, 8, 1, false,
                  quiet, NULL, NULL, NULL};
    bool noise_seen = false;
    const cli_opt opts[] = {
        {"model", OPT_STR, &model, "ising", "the denoising model (ising; other values: see 'ebm denoise MODEL --help')", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"method", OPT_CHOICE, &a.method, NULL, "MAP by ICM or annealing, or MPM from Gibbs marginals (default: icm for one image, all three in batch mode)", 0, 0, 0, 0, "icm|anneal|gibbs", NULL},
        {"beta", OPT_FLOAT, &a.beta, "B", "neighbour coupling", -100, 100, 0, 0, NULL, NULL},
        {"eta", OPT_FLOAT, &a.eta, "E", "coupling to the observed pixel", -100, 100, 0, 0, NULL, NULL},
        {"h", OPT_FLOAT, &a.h, "H", "bias towards white (+1)", -100, 100, 0, 0, NULL, NULL},
        {"sweeps", OPT_SIZE, &a.o.sweeps, "N", "annealing sweeps / Gibbs sweeps averaged", 1, 1e7, 0, 0, NULL, NULL},
        {"burn-in", OPT_SIZE, &a.o.burn_in, "N", "Gibbs sweeps before averaging", 0, 1e7, 0, 0, NULL, NULL},
        {"t0", OPT_FLOAT, &a.o.t0, "T", "annealing start temperature", 0, 1e6, 1, 0, NULL, NULL},
        {"t1", OPT_FLOAT, &a.o.t1, "T", "annealing final temperature", 0, 1e6, 1, 0, NULL, NULL},
        {"threshold", OPT_FLOAT, &a.threshold, "T", "grey level (in [0, 1]) at and above which a pixel is white (+1)", 0, 1, 0, 0, NULL, NULL},
        CLI_SEED_OPTION(a.seed, "random seed (noise, annealing, Gibbs)"),
        {"marginals", OPT_STR, &a.marg, "PNG", "one image, gibbs: also write p(y_i = white) as a grey PNG", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"data", OPT_STR, &a.data, "SPEC", "batch mode: clean images (fashion-mnist:test, an IDX/NPY/CSV path)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"n", OPT_SIZE, &a.n, "N", "batch mode: number of images", 1, 1e9, 0, 0, NULL, NULL},
        {"offset", OPT_SIZE, &a.offset, "I", "batch mode: first image", 0, 1e12, 0, 0, NULL, NULL},
        {"noise", OPT_FLOAT, &a.noise, "P", "batch mode: salt-and-pepper probability", 0, 1, 0, 0, NULL, &noise_seen},
        {"png", OPT_STR, &a.png, "PATH", "batch mode: grid of clean, noisy and denoised images", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"show", OPT_SIZE, &a.show, "K", "batch mode: images in the --png grid", 1, 1000, 0, 0, NULL, NULL},
        {"json", OPT_FLAG, &a.json, NULL, "batch mode: print one JSON object", 0, 0, 0, 0, NULL, NULL},
        OPT_END,
    };
    const char *pos[2];
    size_t npos;
    const char *usage = "ebm denoise --model ising [options] IN.png OUT.png  |  ebm denoise --model ising --data SPEC --noise P [options]";
    int rc = cli_start(cmd, argc, argv, opts, usage, denoise_about, pos, 2, &npos);
    if (rc >= 0) return rc;
    if (!model || strcmp(model, "ising") != 0)
        return cli_error(cmd, "--model: '%s' is not a known denoising model (ising)", model ? model : ""), 2;
    if (a.o.t1 > a.o.t0) return cli_error(cmd, "--t1 %g must not exceed --t0 %g", (double)a.o.t1, (double)a.o.t0), 2;
    if (a.data) {
        if (npos) return cli_error(cmd, "batch mode (--data) takes no image arguments"), 2;
        if (a.marg) return cli_error(cmd, "--marginals belongs to single-image mode"), 2;
        return denoise_batch(cmd, &a);
    }
    if (npos != 2) return cli_error(cmd, "give IN.png and OUT.png (or --data SPEC for batch mode): %s", usage), 2;
    if (noise_seen || a.png) return cli_error(cmd, "--noise and --png belong to batch mode (--data)"), 2;
    if (a.marg && a.method != 2) return cli_error(cmd, "--marginals needs --method gibbs"), 2;
    if (!cli_check_writable(cmd, "output", pos[1]) || (a.marg && !cli_check_writable(cmd, "--marginals", a.marg))) return 1;
    return denoise_one(cmd, &a, pos[0], pos[1]);
}
