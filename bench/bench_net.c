/* bench_net: speed of a neural-network energy under Langevin sampling and training, the workload of deep
 * EBMs (Du & Mordatch 2019; Nijkamp et al. 2019).  The energy is an MLP 784-512-512-1 with SiLU
 * (ebm_net spec "linear:512,silu,linear:512,silu,linear:1"), batch 128, float32.
 *   Langevin step   = one step of the library's ULA sampler (ebm_mcmc_run): dE/dx of the batch (one
 *                     forward and one backward in x through the energy interface's grad_x) and the update
 *                     x <- x - eta dE/dx + sqrt(2 eta) xi, xi ~ N(0, I) drawn per row from Philox streams.
 *   training iter   = 20 Langevin steps on a persistent negative batch, then grad_params on the positive
 *                     batch (weights +1/n) and the negative batch (weights -1/n), i.e. the gradient of
 *                     mean E(x+) - mean E(x-), and an SGD update of the flat parameters.
 * A third line times grad_x of the CNN of docs/net.md (conv:32:3:1,silu,pool:2,conv:64:3:1,silu,pool:2,
 * flatten,linear:128,silu,linear:1) on 1x28x28 images, batch 128, and a fourth a JEM training iteration of the
 * same CNN with 10 logits (bench_jem below; peer_torch_net.py has the same loop in PyTorch).
 * Every line runs at each precision of the network's products (ebm_net_set_precision): fp32, and bf16
 * (bfloat16 operands, fp32 sums) where the build has oneDNN; --precision fp32|bf16 runs one of them.  The
 * GFLOP/s column counts the same products in both; "of peak" is always of the fp32 sgemm peak.
 * Positive data are fixed uniform [0, 1) images (the speed does not depend on their content).  Reports the
 * best (and the median) of --reps timed repetitions (10 Langevin steps, or one training iteration, each)
 * after a warm-up: on a shared machine the best is the closest to the code's own speed, the achieved GFLOP/s counting the GEMMs' 2mnk, and
 * that rate as a fraction of the sgemm peak measured here first (best of 5 square 2048^3 products on the
 * same threads and OpenBLAS kernels, as bench_rbm).  bench/peer_torch_net.py does the same in PyTorch;
 * bench/compare_net.sh runs both.  Output: a table and "RESULT key=value ..." lines. */
#include "ebm.h"
#include "bench_common.h"
#include "../src/cli/reexec.h"

#include "../src/core/internal.h" /* ebm_net_conv_mode: the conv path, EBM_NET_CONV_* */

/* The conv paths' names in labels, by EBM_NET_CONV_* (FRONT, the default, unnamed). */
static const char *const conv_path[3] = {"", "layers", "im2col"};

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* n steps of ULA on x (n, dim) through the library's sampler; successive calls draw fresh noise. */
static int ula(ebm_energy *e, float *x, size_t n, size_t steps, uint64_t *offset) {
    ebm_mcmc_opts o;
    ebm_mcmc_opts_default(&o);
    o.kind = EBM_MCMC_ULA;
    o.steps = steps;
    o.step_size = 0.01f;
    o.seed = 7;
    o.seed_offset = *offset;
    *offset += steps;
    if (ebm_mcmc_run(e, x, n, &o, NULL)) {
        fprintf(stderr, "bench_net: %s\n", ebm_last_error());
        return -1;
    }
    return 0;
}

/* The RESULT key of a measure at precision p: fp32 keeps the plain names the peers use, bf16 adds "_bf16". */
#define SUFFIX(p) ((p) == EBM_PRECISION_BF16 ? "_bf16" : "")

/* Per-step wall times of a JEM run (ebm_run's on_step). */
typedef struct {
    double last, *t;
    size_t n;
} step_clock;

static int on_jem_step(const ebm_run_progress *p, void *user) {
    step_clock *c = user;
    double t = now();
    if (p->step > 1 && p->step - 2 < c->n) c->t[p->step - 2] = t - c->last; /* the first update is a warm-up */
    c->last = t;
    return 0;
}

/* JEM training iterations of the library's trainer (ebm_jem_trainer_new through ebm_run) with the CNN of
 * docs/net.md ending in 10 logits, batch n, the defaults of `ebm train jem`: replay buffer of 10,000, 20 SGLD
 * steps (step 1, noise 0.01), Adam; data are uniform [-1, 1) images with labels 0..9 (the speed does not depend
 * on them).  FLOPs counted: 20 grad_x of the energy, and for the parameter gradient of the data batch (with its
 * cross-entropy) and of the negatives three forwards each. */
static int bench_jem(size_t reps, size_t n, double peak, double f_gradx, double cf, ebm_precision prec, int mode) {
    const char *spec = "conv:32:3:1,silu,pool:2,conv:64:3:1,silu,pool:2,flatten,linear:128,silu,linear:10";
    ebm_net *net;
    ebm_rng rng;
    ebm_rng_seed(&rng, 1, 100);
    ebm_mat *data = NULL;
    int32_t *labels = malloc(10 * n * sizeof(int32_t));
    if (ebm_mat_new(10 * n, 784, &data) || !labels || ebm_net_new(spec, 1, 28, 28, &net) || ebm_net_init(net, &rng) ||
        ebm_net_set_precision(net, prec)) {
        fprintf(stderr, "bench_net: %s\n", ebm_last_error());
        return 1;
    }
    ebm_net_conv_mode(net, mode);
    ebm_rng_fill_uniform(4, 0, 0, data->data, data->rows * 784);
    for (size_t i = 0; i < data->rows * 784; i++) data->data[i] = 2 * data->data[i] - 1;
    for (size_t i = 0; i < data->rows; i++) labels[i] = (int32_t)(i % 10);
    ebm_lcd_opts o;
    ebm_lcd_opts_default(&o);
    o.batch = n;
    o.iters = reps + 1;
    ebm_trainer *t;
    ebm_run_opts ro;
    ebm_lcd_run_opts(&o, &ro);
    double times[101];
    step_clock clock = {now(), times, reps};
    ro.on_step = on_jem_step;
    ro.user = &clock;
    if (ebm_jem_trainer_new(net, &o, &t) || ebm_run(t, data, labels, &ro, NULL)) {
        fprintf(stderr, "bench_net: %s\n", ebm_last_error());
        return 1;
    }
    qsort(times, reps, sizeof(double), cmp_double);
    double tj = times[0], tj_med = times[reps / 2];
    const double f_jem = (double)o.mcmc.steps * f_gradx + 2 * 3 * cf;
    char label[64];
    if (mode) snprintf(label, sizeof label, "JEM iteration, %s", conv_path[mode]);
    else snprintf(label, sizeof label, "JEM iteration (CNN, 20)");
    printf("%-26s %4s %12.2f %12.2f %10.2f %9.1f %7.1f%%\n", label, ebm_precision_name(prec),
           1 / tj, 1 / tj_med, 1e3 * tj, f_jem / tj / 1e9, 100 * f_jem / tj / 1e9 / peak);
    printf("RESULT impl=ebm what=jem_iter%s%s%s prec=%s per_s=%.3f median_per_s=%.3f ms=%.3f gflops=%.2f peak_frac=%.4f\n",
           mode ? "_" : "", conv_path[mode], SUFFIX(prec), ebm_precision_name(prec), 1 / tj, 1 / tj_med, 1e3 * tj, f_jem / tj / 1e9, f_jem / tj / 1e9 / peak);
    ebm_trainer_free(t);
    ebm_net_free(net);
    ebm_mat_free(data);
    free(labels);
    return 0;
}

/* The CNN's FLOPs for a batch of n: its forward, 2 n (784*32*9 + 196*64*288 + 3136*128 + 128), or (gradx) a
 * grad_x, the forward again less conv1's dx. */
static double cnn_flops(size_t n, int gradx) {
    const double cf = 2.0 * (double)n * (784.0 * 32 * 9 + 196.0 * 64 * 288 + 3136.0 * 128 + 128);
    return gradx ? 2 * cf - 2.0 * (double)n * 784.0 * 32 * 9 : cf;
}

static void result_line(const char *label, const char *what, ebm_precision prec, double t, double t_med, double f,
                        double peak) {
    printf("%-26s %4s %12.2f %12.2f %10.3f %9.1f %7.1f%%\n", label, ebm_precision_name(prec), 1 / t, 1 / t_med, 1e3 * t,
           f / t / 1e9, 100 * f / t / 1e9 / peak);
    printf("RESULT impl=ebm what=%s%s prec=%s per_s=%.3f median_per_s=%.3f ms=%.4f gflops=%.2f peak_frac=%.4f\n", what,
           SUFFIX(prec), ebm_precision_name(prec), 1 / t, 1 / t_med, 1e3 * t, f / t / 1e9, f / t / 1e9 / peak);
}

/* Langevin steps and training iterations of the MLP at precision prec. */
static int bench_mlp(const char *spec, size_t reps, size_t n, size_t ksteps, double peak, ebm_precision prec) {
    const size_t dim = 784;
    ebm_net *net;
    ebm_energy *e;
    ebm_rng rng;
    ebm_rng_seed(&rng, 1, 0);
    if (ebm_net_new(spec, dim, 1, 1, &net) || ebm_net_init(net, &rng) || ebm_net_set_precision(net, prec) ||
        ebm_net_energy(net, EBM_NET_HEAD_SCALAR, &e)) {
        fprintf(stderr, "bench_net: %s\n", ebm_last_error());
        return 1;
    }
    size_t np;
    float *params = ebm_net_params(net, &np);
    float *pos = malloc(n * dim * sizeof(float)), *grad = malloc(np * sizeof(float)), *w = malloc(2 * n * sizeof(float));
    float *x = malloc(n * dim * sizeof(float));
    uint64_t offset = 0;
    if (!pos || !grad || !w || !x) return 1;
    ebm_rng_fill_uniform(2, 0, 0, pos, n * dim);
    ebm_rng_fill_uniform(3, 0, 0, x, n * dim);
    for (size_t i = 0; i < n; i++) w[i] = 1.0f / (float)n, w[n + i] = -1.0f / (float)n;

    /* FLOPs: forward 2 n (784*512 + 512*512 + 512); grad_x adds the same again (dx of every layer);
     * grad_params adds dW of every layer (= forward) and dx of layers 2 and 4 */
    const double fwd = 2.0 * (double)n * (784.0 * 512 + 512.0 * 512 + 512);
    const double dx_inner = 2.0 * (double)n * (512.0 * 512 + 512);
    const double f_step = 2 * fwd, f_params = 2 * fwd + dx_inner;
    const double f_iter = (double)ksteps * f_step + 2 * f_params;

    /* Langevin steps */
    const size_t per_rep = 10;
    double t_step[100], t_iter[100];
    if (ula(e, x, n, 10, &offset)) return 1;
    for (size_t r = 0; r < reps; r++) {
        double t = now();
        if (ula(e, x, n, per_rep, &offset)) return 1;
        t_step[r] = (now() - t) / (double)per_rep;
    }
    qsort(t_step, reps, sizeof(double), cmp_double);

    /* training iterations; the update goes through the pointer taken above, so the network is told */
    const float lr = 1e-4f;
    for (size_t it = 0; it < reps + 1; it++) {
        double t = now();
        if (ula(e, x, n, ksteps, &offset)) return 1;
        memset(grad, 0, np * sizeof(float));
        if (e->grad_params(e, pos, n, w, grad, NULL) || e->grad_params(e, x, n, w + n, grad, NULL)) {
            fprintf(stderr, "bench_net: %s\n", ebm_last_error());
            return 1;
        }
        /* on both threads, as PyTorch's SGD step (its add_ is threaded above 32k elements) */
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < np; i++) params[i] -= lr * grad[i];
        ebm_net_params_changed(net);
        if (it > 0) t_iter[it - 1] = now() - t; /* the first is a warm-up */
    }
    qsort(t_iter, reps, sizeof(double), cmp_double);
    result_line("Langevin step (ULA)", "langevin_step", prec, t_step[0], t_step[reps / 2], f_step, peak);
    result_line("training iteration (20)", "train_iter", prec, t_iter[0], t_iter[reps / 2], f_iter, peak);
    e->destroy(e);
    ebm_net_free(net);
    free(pos), free(grad), free(w), free(x);
    return 0;
}

/* The CNN of docs/net.md on 1x28x28 at precision prec: grad_x per second (forward + backward in x). */
static int bench_cnn(size_t reps, size_t n, double peak, ebm_precision prec, int mode) {
    const char *cnn = "conv:32:3:1,silu,pool:2,conv:64:3:1,silu,pool:2,flatten,linear:128,silu,linear:1";
    ebm_net *net;
    ebm_energy *e;
    ebm_rng rng;
    ebm_rng_seed(&rng, 1, 0);
    float *x = malloc(n * 784 * sizeof(float)), *dx = malloc(n * 784 * sizeof(float));
    if (!x || !dx || ebm_net_new(cnn, 1, 28, 28, &net) || ebm_net_init(net, &rng) || ebm_net_set_precision(net, prec) ||
        ebm_net_energy(net, EBM_NET_HEAD_SCALAR, &e)) {
        fprintf(stderr, "bench_net: %s\n", ebm_last_error());
        return 1;
    }
    ebm_net_conv_mode(net, mode);
    ebm_rng_fill_uniform(3, 0, 0, x, n * 784);
    double t_cnn[100];
    for (size_t i = 0; i < 2; i++) e->grad_x(e, x, n, NULL, dx);
    for (size_t r = 0; r < reps; r++) {
        double t = now();
        if (e->grad_x(e, x, n, NULL, dx)) {
            fprintf(stderr, "bench_net: %s\n", ebm_last_error());
            return 1;
        }
        t_cnn[r] = now() - t;
    }
    qsort(t_cnn, reps, sizeof(double), cmp_double);
    char label[64], what[64];
    if (mode) snprintf(label, sizeof label, "CNN grad_x, %s", conv_path[mode]);
    else snprintf(label, sizeof label, "CNN grad_x (1x28x28)");
    snprintf(what, sizeof what, "cnn_grad_x%s%s", mode ? "_" : "", conv_path[mode]);
    result_line(label, what, prec, t_cnn[0], t_cnn[reps / 2], cnn_flops(n, 1), peak);
    e->destroy(e);
    ebm_net_free(net);
    free(x), free(dx);
    return 0;
}

int main(int argc, char **argv) {
    cli_reexec_for_blas(argv);
    size_t reps = 10, batch = 128, ksteps = 20;
    int only_fp32 = 0, only_bf16 = 0, mode = 0;
    const char *only = NULL; /* --only mlp|cnn|jem: one group of measures (for profiles) */
    const char *spec = "linear:512,silu,linear:512,silu,linear:1";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = (size_t)atol(argv[++i]);
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) batch = (size_t)atol(argv[++i]);
        else if (strcmp(argv[i], "--precision") == 0 && i + 1 < argc) {
            i++;
            only_fp32 = strcmp(argv[i], "fp32") == 0;
            only_bf16 = strcmp(argv[i], "bf16") == 0;
            if (!only_fp32 && !only_bf16) {
                fprintf(stderr, "bench_net: --precision fp32 or bf16 (default: both)\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
            if (strcmp(only, "mlp") && strcmp(only, "cnn") && strcmp(only, "jem")) {
                fprintf(stderr, "bench_net: --only mlp, cnn or jem\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--im2col") == 0) {
            mode = EBM_NET_CONV_IM2COL; /* the CNN's conv layers on im2col + GEMM instead of oneDNN's convolutions */
        } else if (strcmp(argv[i], "--conv-layers") == 0) {
            mode = EBM_NET_CONV_LAYERS; /* oneDNN's convolutions, but every layer over the whole batch before the next */
        } else if (strcmp(argv[i], "--better-core") == 0) {
            const char *b = ebm_blas_better_coretype();
            if (b) printf("%s\n", b);
            return 0;
        } else {
            fprintf(stderr, "usage: bench_net [--reps N (default 10)] [--batch N (default 128)] [--precision fp32|bf16] "
                            "[--only mlp|cnn|jem] [--im2col | --conv-layers] [--better-core]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > 100) reps = 10;
    if (batch < 1) batch = 128;
    bench_print_blas();
    double peak = bench_print_peak();

    ebm_precision precs[2] = {EBM_PRECISION_FP32, EBM_PRECISION_BF16}, r;
    size_t np0 = only_bf16 ? 1 : 0, np1 = only_fp32 ? 1 : 2;
    if (np1 == 2 && ebm_precision_resolve(EBM_PRECISION_BF16, &r) != EBM_OK) {
        printf("bf16: %s; fp32 only\n", ebm_last_error());
        if (only_bf16) return 1;
        np1 = 1;
    }
    double load = NAN;
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf", &load) != 1) load = NAN;
        fclose(la);
    }
    printf("\nMLP 784-512-512-1 SiLU and the CNN, batch %zu, %d threads (load average %.1f)\n", batch, ebm_get_threads(),
           load);
    printf("%-26s %4s %12s %12s %10s %9s %8s\n", "measure (best of reps)", "prec", "per second", "(median)", "ms each",
           "GFLOP/s", "of peak");
#define WANT(g) (!only || strcmp(only, g) == 0)
    for (size_t p = np0; p < np1 && WANT("mlp"); p++)
        if (bench_mlp(spec, reps, batch, ksteps, peak, precs[p])) return 1;
    for (size_t p = np0; p < np1 && WANT("cnn"); p++)
        if (bench_cnn(reps, batch, peak, precs[p], mode)) return 1;
    for (size_t p = np0; p < np1 && WANT("jem"); p++)
        if (bench_jem(reps, batch, peak, cnn_flops(batch, 1), cnn_flops(batch, 0), precs[p], mode)) return 1;
    return 0;
}
