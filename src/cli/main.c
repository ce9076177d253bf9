/* `ebm`: the command-line front end.  Parses the global options, picks OpenBLAS's fastest kernels
 * (re-executing once with OPENBLAS_CORETYPE set where OpenBLAS 0.3.21 misdetects an AVX-512 CPU, since
 * OpenBLAS reads that variable only when it loads) and dispatches to a subcommand. */
#include "cli.h"
#include "reexec.h"

#include <omp.h>

#include <stdlib.h>
#include <string.h>

/* Denoising with an energy network, or with an Ising prior when --model is given (denoise --model ising). */
static int cmd_denoise(int argc, char **argv, bool quiet) {
    for (int k = 0; k < argc && strcmp(argv[k], "--") != 0; k++)
        if (strcmp(argv[k], "--model") == 0 || strncmp(argv[k], "--model=", 8) == 0)
            return cmd_denoise_ising(argc, argv, quiet);
    return cmd_denoise_net(argc, argv, quiet);
}

/* The commands in the order of `ebm --help`, each with its line there (`train` lists the kinds instead). */
static const struct {
    const char *name;
    cli_cmd_fn run;
    const char *about;
} commands[] = {
    {"train", cmd_train, NULL},
    {"classify", cmd_classify, "accuracy, calibration and out-of-distribution detection of a JEM / classifier"},
    {"calibrate", cmd_calibrate, "fit a JEM's / classifier's softmax temperature on held-out data (ECE)"},
    {"sample", cmd_sample, "draw samples from a model (PNG grid, NPY, CSV)"},
    {"inpaint", cmd_inpaint, "fill in a masked part of images with an energy network"},
    {"denoise", cmd_denoise, "remove Gaussian noise from images with an energy network, or binary noise with\n"
                             "                an Ising prior (denoise --model ising: ICM, annealing, Gibbs marginals)"},
    {"landscape", cmd_landscape, "picture of a 2-D energy network's density with data and samples"},
    {"eval", cmd_eval, "evaluate a model on data (likelihoods; --samples: FD-FMNIST of any model's samples;\n"
                       "                --probe: a linear probe on an RBM's or DBN's features)"},
    {"encode", cmd_encode, "write the features of data at a level of an RBM or DBN (NPY or CSV)"},
    {"compose", cmd_compose, "combine models' energies: AND (sum), AND NOT (negative weight), OR (log-sum-exp)"},
    {"score", cmd_score, "energy of every input (anomaly scores, CSV) and anomaly-detection AUROC"},
    {"info", cmd_info, "describe a model file (shapes, metadata, weight statistics, filter picture)"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
    fputs("usage: ebm [--threads N] [--fixed-threads] [--quiet] COMMAND [ARGS]\n\nEnergy-based models: train, sample, evaluate.\n\n"
          "commands:\n",
          f);
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (commands[i].about) fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].about);
        else cli_train_kinds(f, "train ", 13, "train ");
    fputs("  help CMD      help on a command (also: ebm CMD --help)\n"
          "\n"
          "global options:\n"
          "  --threads N   worker threads (default: all cores); results do not depend on it\n"
          "  --fixed-threads\n"
          "                training and sampling keep their thread count even while other programs\n"
          "                compete for the CPUs (by default they run on fewer threads then; also\n"
          "                EBM_FIXED_THREADS=1)\n"
          "  --quiet       no progress output\n"
          "  --version     print the version and the BLAS in use\n"
          "\n"
          "Data specs: fashion-mnist, fashion-mnist:test (Debian's dataset-fashion-mnist), or a path to an\n"
          "IDX (.gz), .npy or .csv file; SPEC#0-8 keeps classes 0-8, SPEC@A:B rows A..B-1 (docs/formats.md).\n"
          "Manual: docs/ (one page per command).\n",
          f);
}

static ebm_comm *comm; /* the processes of this run, made once before any command runs */
ebm_comm *cli_comm(void) { return comm; }

int main(int argc, char **argv) {
    /* a file grown past `ulimit -f` is a write error (EFBIG) to report like a full disk, not a silent death */
    signal(SIGXFSZ, SIG_IGN);
    cli_reexec_for_blas(argv);
    /* OMP_DYNAMIC=true in the environment let libgomp run parallel regions with fewer threads than asked, and
     * a training run then never finished (measured: an RBM epoch of 1.6 s still running after 10 minutes) */
    omp_set_dynamic(0);
    if (ebm_comm_init(&argc, &argv, &comm)) {
        fprintf(stderr, "ebm: %s\n", ebm_last_error());
        return 1;
    }
    int i = 1;
    bool quiet = ebm_comm_rank(cli_comm()) > 0; /* rank 0 alone reports progress */
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            char blas[512];
            ebm_blas_info(blas, sizeof blas);
            ebm_precision bf, autop = EBM_PRECISION_FP32;
            bool dnnl = ebm_precision_resolve(EBM_PRECISION_BF16, &bf) == EBM_OK;
            if (dnnl) ebm_precision_resolve(EBM_PRECISION_AUTO, &autop);
            printf("ebm %s\nBLAS: %s\nMPI: %s\noneDNN: %s\n", ebm_version(), blas,
                   ebm_comm_has_mpi() ? "yes (mpirun -np N ebm ...; docs/distributed.md)" : "no (built without MPI)",
                   !dnnl ? "no (built without libdnnl-dev: convolutions on im2col, no --precision bf16)"
                   : autop == EBM_PRECISION_BF16 ? "yes (convolutions, --precision bf16; this CPU multiplies bf16 natively)"
                                                 : "yes (convolutions, --precision bf16, emulated on this CPU: slower than fp32)");
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
        } else if (strcmp(a, "--fixed-threads") == 0) {
            setenv("EBM_FIXED_THREADS", "1", 1); /* read where the training loop is set up (cli_train_run) */
        } else {
            fprintf(stderr, "ebm: unknown option '%s' before the command (see 'ebm --help')\n", a);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[i];
    int rest = argc - i - 1;
    char **rargv = argv + i + 1;
    if (strcmp(cmd, "help") == 0) {
        if (rest == 0) {
            usage(stdout);
            return 0;
        }
        cmd = rargv[0];
        static char rbm[] = "rbm", help_flag[] = "--help";
        static char *help_argv[] = {rbm, help_flag, NULL};
        bool train = strcmp(cmd, "train") == 0; /* `ebm help train`: the options of `train rbm` */
        rest = train ? 2 : 1;
        rargv = train ? help_argv : help_argv + 1;
    }
    for (size_t k = 0; k < N_COMMANDS; k++)
        if (strcmp(cmd, commands[k].name) == 0) {
            if (ebm_comm_size(cli_comm()) > 1 && strcmp(cmd, "train") && strcmp(cmd, "eval") && strcmp(cmd, "score") &&
                strcmp(cmd, "sample")) {
                fprintf(stderr, "ebm: %s runs in one process; over several (mpirun) only train, eval, score and sample\n", cmd);
                ebm_comm_free(comm);
                return 2;
            }
            if (ebm_comm_rank(cli_comm()) > 0 && !freopen("/dev/null", "w", stdout)) return 1; /* rank 0 prints the results */
            int rc = commands[k].run(rest, rargv, quiet);
            if (rc && rc != 2 && commands[k].run == cmd_sample) ebm_comm_abort(comm, rc); /* others may wait in its gather */
            ebm_comm_free(comm);
            return rc;
        }
    fprintf(stderr, "ebm: unknown command '%s' (commands: train, sample, eval, score, info, encode, classify, inpaint, denoise, landscape, compose, help)\n", cmd);
    return 2;
}
