/* The table of model kinds and the commands that dispatch on it.  A model file names its kind in its
 * metadata (ebm.model); each row of the table gives that kind's handlers of `train`, `sample`, `eval`
 * and `info` (`score` serves every kind through ebm_model_score), so `ebm sample M.safetensors ...` reads the kind once and runs the row's handler.
 * A new model kind is one row here and one file of handlers. */
#include "cli.h"

#include <string.h>

static const cli_kind kinds[] = {
    {"rbm", "rbm", "a Bernoulli RBM by CD-k or persistent CD-k", cli_rbm_train, cli_rbm_sample, cli_rbm_eval,
     cli_rbm_info},
    {"grbm", "grbm", "a Gaussian-Bernoulli RBM (continuous data) by CD from noise", cli_grbm_train, cli_grbm_sample,
     cli_grbm_eval, cli_grbm_info},
    {"net", "ebm", "a neural-network energy by Langevin contrastive divergence", cli_net_train, cli_net_sample,
     cli_net_eval, cli_net_info},
    {"jem", "jem", "a classifier as a joint energy-based model (or the plain classifier)", cli_jem_train,
     cli_net_sample, cli_jem_eval, cli_net_info},
    {"bm", "bm", "a fully visible Boltzmann machine / Ising model by CD, PCD or pseudo-likelihood", cli_bm_train,
     cli_bm_sample, cli_bm_eval, cli_bm_info},
    {"structured", "structured", "structured prediction E(x, y) with any of the ten losses of LeCun et al. 2006",
     cli_structured_train, NULL, cli_structured_eval, cli_structured_info},
    {"dbn", "dbn", "a deep belief net (stacked RBMs) greedily, layer by layer", cli_dbn_train, cli_dbn_sample,
     cli_dbn_eval, cli_dbn_info},
    {"compose", NULL, NULL, NULL, cli_net_sample, cli_net_eval, cli_compose_info},
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

static const cli_kind *cli_kind_named(const char *name) {
    for (size_t i = 0; i < N_KINDS; i++)
        if (strcmp(kinds[i].name, name) == 0) return &kinds[i];
    return NULL;
}

/* The row of the model named among the arguments (the first non-option argument that is a model file, also
 * after "--"), or the RBM's, whose handlers print the help and the errors of a missing or unreadable model;
 * the kind is known before the handler parses its options. */
static const cli_kind *kind_of_args(int argc, char **argv) {
    char kind[32] = "";
    for (int i = 0; i < argc; i++) {
        bool dashes = strcmp(argv[i], "--") == 0;
        const char *a = dashes ? (i + 1 < argc ? argv[i + 1] : NULL) : argv[i][0] != '-' ? argv[i] : NULL;
        if ((a && cli_model_kind(a, kind, sizeof kind)) || dashes) break;
    }
    const cli_kind *k = cli_kind_named(kind);
    return k ? k : &kinds[0];
}

static bool has_option(int argc, char **argv, const char *name) {
    size_t len = strlen(name);
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strncmp(argv[i], name, len) == 0 && (argv[i][len] == '\0' || argv[i][len] == '=')) return true;
    return false;
}

void cli_train_kinds(FILE *f, const char *prefix, int col, const char *verb) {
    for (size_t i = 0; i < N_KINDS; i++) {
        if (!kinds[i].train_name) continue;
        char name[64];
        int len = snprintf(name, sizeof name, "%s%s", prefix, kinds[i].train_name);
        fprintf(f, "  %-*s %s%s%s\n", col, name, len >= col ? " " : "", verb, kinds[i].train_about);
    }
}

int cmd_train(int argc, char **argv, bool quiet) {
    if (argc < 1 || strcmp(argv[0], "--help") == 0) {
        FILE *f = argc < 1 ? stderr : stdout;
        fprintf(f, "usage: ebm train KIND [options]   (ebm train KIND --help for the options)\n\nkinds:\n");
        cli_train_kinds(f, "", 11, "");
        return argc < 1 ? 2 : 0;
    }
    for (size_t i = 0; i < N_KINDS; i++)
        if (kinds[i].train_name && strcmp(argv[0], kinds[i].train_name) == 0) return kinds[i].train(argc - 1, argv + 1, quiet);
    return cli_error("train", "unknown model kind '%s' (available: rbm, grbm, ebm, jem, structured, bm, dbn)", argv[0]);
}

int cmd_sample(int argc, char **argv, bool quiet) {
    const cli_kind *k = kind_of_args(argc, argv);
    if (!k->sample) return cli_error("sample", "a '%s' model cannot be sampled (it is a predictor, not a density)", k->name);
    return k->sample(argc, argv, quiet);
}

int cmd_eval(int argc, char **argv, bool quiet) {
    if (has_option(argc, argv, "--samples")) return cmd_eval_samples(argc, argv, quiet);
    if (has_option(argc, argv, "--probe")) return cmd_eval_probe(argc, argv, quiet);
    return kind_of_args(argc, argv)->eval(argc, argv, quiet);
}

int cmd_info(int argc, char **argv, bool quiet) { return kind_of_args(argc, argv)->info(argc, argv, quiet); }

