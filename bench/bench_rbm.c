/* bench_rbm: one epoch of CD-1 and PCD-1 training of a Bernoulli RBM (784 visible units, 256/512/1024
 * hidden, batch 100) on binarised Fashion-MNIST (60,000 images), timed through the library's own trainer.
 * Reports seconds per epoch (median of --epochs timed epochs after one warm-up epoch), samples per second,
 * achieved GFLOP/s counting the (2k + 3) batch x 784 x hidden products of a CD-k/PCD-k update, and that
 * rate as a fraction of the sgemm peak measured here first (best of 5 large square products on the same
 * threads and the same OpenBLAS kernels).  Output: a table, plus one "RESULT key=value ..." line per
 * measurement for bench/compare_rbm.sh.
 *
 * --precision fp32,bf16 (default: both where bf16 is built in) times every setting in each precision; the
 * fraction is then of that precision's peak: fp32 of the OpenBLAS sgemm peak (the fp32 path is OpenBLAS),
 * bf16 of oneDNN's bf16 matmul peak, both measured here (bench_dnnl.h, which also times the three
 * products of a CD update through OpenBLAS, oneDNN fp32 and oneDNN bf16). */
#include "ebm.h"
#include "bench_common.h"
#include "bench_dnnl.h"
#include "../src/cli/reexec.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


typedef struct {
    double times[64];
    size_t n;
} epoch_times;

static int record(const ebm_train_progress *p, void *user) {
    epoch_times *e = user;
    if (e->n < 64) e->times[e->n++] = p->seconds;
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    cli_reexec_for_blas(argv);
    size_t epochs = 3, limit = 0;
    const char *data = "fashion-mnist";
    size_t hidden[8] = {256, 512, 1024};
    size_t nhidden = 3;
    ebm_precision precs[4];
    size_t nprec = 0;
    const char *prec_list = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--epochs") == 0 && i + 1 < argc) epochs = (size_t)atol(argv[++i]);
        else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) limit = (size_t)atol(argv[++i]);
        else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) data = argv[++i];
        else if (strcmp(argv[i], "--precision") == 0 && i + 1 < argc) prec_list = argv[++i];
        else if (strcmp(argv[i], "--better-core") == 0) {
            /* for compare_rbm.sh: the OpenBLAS core type worth forcing on this CPU, if any */
            const char *b = ebm_blas_better_coretype();
            if (b) printf("%s\n", b);
            return 0;
        }
        else if (strcmp(argv[i], "--hidden") == 0 && i + 1 < argc) {
            nhidden = 0;
            for (char *tok = strtok(argv[++i], ","); tok && nhidden < 8; tok = strtok(NULL, ","))
                hidden[nhidden++] = (size_t)atol(tok);
        } else {
            fprintf(stderr,
                    "usage: bench_rbm [--epochs N (timed, default 3)] [--hidden 256,512,1024] [--data SPEC] "
                    "[--limit ROWS] [--precision fp32,bf16] [--better-core]\n");
            return 2;
        }
    }
    if (epochs < 1 || epochs > 60) epochs = 3;
    ebm_precision bf;
    int have_bf16 = ebm_precision_resolve(EBM_PRECISION_BF16, &bf) == EBM_OK;
    if (!prec_list) prec_list = have_bf16 ? "fp32,bf16" : "fp32";
    char plist[64];
    snprintf(plist, sizeof plist, "%s", prec_list);
    for (char *tok = strtok(plist, ","); tok && nprec < 4; tok = strtok(NULL, ",")) {
        if (strcmp(tok, "fp32") == 0) precs[nprec++] = EBM_PRECISION_FP32;
        else if (strcmp(tok, "bf16") == 0 && have_bf16) precs[nprec++] = EBM_PRECISION_BF16;
        else {
            fprintf(stderr, "bench_rbm: precision %s is not available here\n", tok);
            return 2;
        }
    }
    bench_print_blas();
    ebm_data_opts o;
    ebm_data_opts_default(&o);
    o.binarize = EBM_BINARIZE_THRESHOLD;
    o.limit = limit;
    ebm_dataset *d;
    if (ebm_dataset_load(data, &o, &d)) {
        fprintf(stderr, "bench_rbm: %s\n", ebm_last_error());
        return 1;
    }
    double peak = bench_print_peak();
    double peak16 = NAN;
    if (have_bf16) {
        double pf = dnnl_peak(0);
        peak16 = dnnl_peak(1);
        printf("oneDNN matmul peaks (2048^3): fp32 %.1f GFLOP/s, bf16 %.1f GFLOP/s\n", pf, peak16);
        printf("RESULT impl=peak_dnnl_fp32 gflops=%.2f\nRESULT impl=peak_bf16 gflops=%.2f\n", pf, peak16);
        printf("\nthe products of a CD update, GFLOP/s (best of 30):\n%-22s %9s %12s %12s\n", "M x K x N", "OpenBLAS",
               "oneDNN fp32", "oneDNN bf16");
        ebm_mm *mf = NULL, *mb = NULL;
        if (ebm_mm_new(EBM_PRECISION_FP32, 1, &mf) || ebm_mm_new(EBM_PRECISION_BF16, 0, &mb)) {
            fprintf(stderr, "bench_rbm: %s\n", ebm_last_error());
            return 1;
        }
        const char *shape_names[3] = {"100x784x512 (v W)", "784x100x512 (V'H)", "100x512x784 (h W')"};
        for (int sh = 0; sh < 3; sh++) {
            double g0 = cd_product_rate(NULL, sh, 30), g1 = cd_product_rate(mf, sh, 30), g2 = cd_product_rate(mb, sh, 30);
            printf("%-22s %9.1f %12.1f %12.1f\n", shape_names[sh], g0, g1, g2);
            printf("RESULT impl=product shape=%d openblas=%.2f dnnl_fp32=%.2f dnnl_bf16=%.2f\n", sh, g0, g1, g2);
        }
        ebm_mm_free(mf);
        ebm_mm_free(mb);
    }
    printf("\n%-7s %-6s %-5s %10s %12s %9s %8s\n", "method", "hidden", "prec", "s/epoch", "samples/s", "GFLOP/s",
           "of peak");
    const char *names[2] = {"CD-1", "PCD-1"};
    for (size_t hi = 0; hi < nhidden; hi++) {
        for (size_t pi = 0; pi < nprec; pi++)
        for (int mode = 0; mode < 2; mode++) {
            int b16 = precs[pi] == EBM_PRECISION_BF16;
            double pk = b16 ? peak16 : peak;
            ebm_rbm *m;
            if (ebm_rbm_new(d->x->cols, hidden[hi], &m)) {
                fprintf(stderr, "bench_rbm: %s\n", ebm_last_error());
                return 1;
            }
            ebm_rng r;
            ebm_rng_seed(&r, 1, 0);
            ebm_rbm_init(m, &r, 0.01f, d->x);
            ebm_cd_opts co;
            ebm_cd_opts_default(&co);
            co.mode = mode ? EBM_PCD : EBM_CD;
            co.k = 1;
            co.batch = 100;
            co.epochs = epochs + 1;
            co.lr = 0.05f;
            epoch_times et = {{0}, 0};
            co.on_epoch = record;
            co.user = &et;
            co.precision = precs[pi];
            if (ebm_rbm_train(m, d->x, &co)) {
                fprintf(stderr, "bench_rbm: %s\n", ebm_last_error());
                return 1;
            }
            qsort(et.times + 1, et.n - 1, sizeof(double), cmp_double); /* epoch 1 is the warm-up */
            double t = et.times[1 + (et.n - 1) / 2];
            size_t rows = d->x->rows, batches = (rows + 99) / 100;
            double flops = (2.0 * 1 + 3) * 2.0 * 100.0 * (double)m->n_vis * (double)m->n_hid * (double)batches;
            double gf = flops / t / 1e9;
            printf("%-7s %-6zu %-5s %10.3f %12.0f %9.1f %7.1f%%\n", names[mode], hidden[hi], b16 ? "bf16" : "fp32", t,
                   (double)rows / t, gf, 100 * gf / pk);
            printf("RESULT impl=ebm mode=%s hidden=%zu precision=%s sec_per_epoch=%.4f samples_per_s=%.0f gflops=%.2f "
                   "peak_frac=%.4f\n",
                   mode ? "pcd1" : "cd1", hidden[hi], b16 ? "bf16" : "fp32", t, (double)rows / t, gf, gf / pk);
            fflush(stdout);
            ebm_rbm_free(m);
        }
    }
    ebm_dataset_free(d);
    return 0;
}
