/* `ebm`: the command-line front end.  Parses the global options, picks OpenBLAS's fastest kernels
 * (re-executing once with OPENBLAS_CORETYPE set where OpenBLAS 0.3.21 misdetects an AVX-512 CPU, since
 * OpenBLAS reads that variable only when it loads) and dispatches to a subcommand. */
#include "cli.h"
#include "reexec.h"

#include <stdlib.h>
#include <string.h>

static const char *const usage_text =
    "usage: ebm [--threads N] [--quiet] COMMAND [ARGS]\n"
    "\n"
    "Energy-based models: train, sample, evaluate.\n"
    "\n"
    "commands:\n"
    "  train rbm     train a Bernoulli RBM by CD-k or persistent CD-k\n"
    "  train grbm    train a Gaussian-Bernoulli RBM (continuous data) by CD from noise\n"
    "  train ebm     train a neural-network energy by Langevin contrastive divergence\n"
    "  train jem     train a classifier as a joint energy-based model (or the plain classifier)\n"
    "  train bm      train a fully visible Boltzmann machine / Ising model by CD, PCD or pseudo-likelihood\n"
    "  train structured  structured prediction E(x, y) with any of the ten losses of LeCun et al. 2006\n"
    "  train dbn     train a deep belief net (stacked RBMs) greedily, layer by layer\n"
    "  classify      accuracy, calibration and out-of-distribution detection of a JEM / classifier\n"
    "  sample        draw samples from a model (PNG grid, NPY, CSV)\n"
    "  inpaint       fill in a masked part of images with an energy network\n"
    "  denoise       remove Gaussian noise from images with an energy network, or binary noise with\n"
    "                an Ising prior (denoise --model ising: ICM, annealing, Gibbs marginals)\n"
    "  landscape     picture of a 2-D energy network's density with data and samples\n"
    "  eval          evaluate a model on data (likelihoods; --samples: FD-FMNIST of any model's samples;\n"
    "                --probe: a linear probe on an RBM's or DBN's features)\n"
    "  encode        write the features of data at a level of an RBM or DBN (NPY or CSV)\n"
    "  compose       combine models' energies: AND (sum), AND NOT (negative weight), OR (log-sum-exp)\n"
    "  score         energy of every input (anomaly scores, CSV) and anomaly-detection AUROC\n"
    "  info          describe a model file (shapes, metadata, weight statistics, filter picture)\n"
    "  help CMD      help on a command (also: ebm CMD --help)\n"
    "\n"
    "global options:\n"
    "  --threads N   worker threads (default: all cores); results do not depend on it\n"
    "  --quiet       no progress output\n"
    "  --version     print the version and the BLAS in use\n"
    "\n"
    "Data specs: fashion-mnist, fashion-mnist:test (Debian's dataset-fashion-mnist), or a path to an\n"
    "IDX (.gz), .npy or .csv file.  Manual: docs/ (one page per command).\n";

int main(int argc, char **argv) {
    cli_reexec_for_blas(argv);
    int i = 1;
    bool quiet = false;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            char blas[512];
            ebm_blas_info(blas, sizeof blas);
            printf("ebm %s\nBLAS: %s\n", ebm_version(), blas);
            return 0;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if (strncmp(a, "--threads", 9) == 0) {
            const char *v = a[9] == '=' ? a + 10 : (a[9] == '\0' && i + 1 < argc ? argv[++i] : NULL);
            char *end;
            long n = v ? strtol(v, &end, 10) : 0;
            if (!v || *end || n < 1 || n > 1024) {
                fprintf(stderr, "ebm: --threads needs a whole number from 1 to 1024\n");
                return 2;
            }
            ebm_set_threads((int)n);
        } else {
            fprintf(stderr, "ebm: unknown option '%s' before the command (see 'ebm --help')\n", a);
            return 2;
        }
    }
    if (i >= argc) {
        fputs(usage_text, stderr);
        return 2;
    }
    const char *cmd = argv[i];
    int rest = argc - i - 1;
    char **rargv = argv + i + 1;
    if (strcmp(cmd, "help") == 0) {
        if (rest == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        cmd = rargv[0];
        static char help_flag[] = "--help";
        static char *help_argv[] = {help_flag, NULL};
        rest = 1;
        rargv = help_argv;
        if (strcmp(cmd, "train") == 0) {
            static char rbm[] = "rbm";
            static char *train_help[] = {rbm, help_flag, NULL};
            rest = 2;
            rargv = train_help;
        }
    }
    if (strcmp(cmd, "train") == 0) return cmd_train(rest, rargv, quiet);
    if (strcmp(cmd, "sample") == 0) return cmd_sample(rest, rargv, quiet);
    if (strcmp(cmd, "eval") == 0) return cmd_eval(rest, rargv, quiet);
    if (strcmp(cmd, "info") == 0) return cmd_info(rest, rargv, quiet);
    if (strcmp(cmd, "encode") == 0) return cmd_encode(rest, rargv, quiet);
    if (strcmp(cmd, "classify") == 0) return cmd_classify(rest, rargv, quiet);
    if (strcmp(cmd, "inpaint") == 0) return cmd_inpaint(rest, rargv, quiet);
    if (strcmp(cmd, "denoise") == 0) {
        for (int k = 0; k < rest && strcmp(rargv[k], "--") != 0; k++)
            if (strcmp(rargv[k], "--model") == 0 || strncmp(rargv[k], "--model=", 8) == 0)
                return cmd_denoise_ising(rest, rargv, quiet);
        return cmd_denoise_net(rest, rargv, quiet);
    }
    if (strcmp(cmd, "landscape") == 0) return cmd_landscape(rest, rargv, quiet);
    if (strcmp(cmd, "score") == 0) return cmd_score(rest, rargv, quiet);
    if (strcmp(cmd, "compose") == 0) return cmd_compose(rest, rargv, quiet);
    fprintf(stderr, "ebm: unknown command '%s' (commands: train, sample, eval, score, info, encode, classify, inpaint, denoise, landscape, compose, help)\n", cmd);
    return 2;
}
