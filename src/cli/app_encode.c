/* `ebm encode`: the up pass of data to one level of an RBM or DBN (ebm_dbn_up, probabilities level by level),
 * written as an NPY array or a CSV file: features for other tools. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char *const encode_about =
    "Write the features of data at one level of an RBM or DBN: the up pass of probabilities,\n"
    "level 1 = p(h | v) of the bottom RBM, level L = p(h_L | h_{L-1}) applied to level L - 1 (default: the\n"
    "top; 0 = the preprocessed data itself).  The data is preprocessed as in training.  --out PATH.npy writes\n"
    "a float32 (rows, units) array; a path ending in .csv writes CSV.";

int cmd_encode(int argc, char **argv, bool quiet) {
    const char *cmd = "encode", *data_spec = NULL, *out = NULL, *layer = "top", *path;
    ebm_dbn *d;
    ebm_dataset *ds = NULL;
    float *f = NULL;
    size_t level;
    cli_data_args da = CLI_DATA_ARGS_INIT;
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "data to encode (default: the model's training data)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"layer", OPT_STR, &layer, "L", "level to encode to: top, or 0 (the data) .. number of layers", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"out", OPT_STR, &out, "PATH", "features file: .npy (float32) or .csv", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &da.limit, "N", "encode the first N rows only (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        CLI_DATA_AS_TRAINED_OPTIONS(da),
        OPT_END,
    };
    int rc = cli_dbn_start(cmd, argc, argv, opts, "ebm encode MODEL --data SPEC [--layer L] --out PATH.npy",
                           encode_about, &path, &d);
    if (rc >= 0) return rc;
    if (!out) {
        rc = cli_error(cmd, "--out is required (the features file, .npy or .csv)");
    } else if (!cli_check_writable(cmd, "--out", out)) {
        rc = 1;
    } else if (!cli_dbn_level(cmd, layer, d, &level, NULL)) {
        rc = 2;
    } else if (!(ds = cli_dbn_data(cmd, d, &data_spec, &da, quiet))) {
        rc = 1;
    } else {
        size_t n = ds->x->rows, u = ebm_dbn_units(d, level);
        bool csv = strlen(out) >= 4 && strcmp(out + strlen(out) - 4, ".csv") == 0;
        f = malloc(n * u * sizeof *f);
        ebm_status s = f ? ebm_dbn_up(d, ds->x->data, n, level, f) : EBM_ENOMEM;
        if (s) rc = cli_lib_error(cmd, s);
        else if (cli_write_samples(cmd, quiet, f, n, u, false, NULL, csv ? NULL : out, csv ? out : NULL, 0, 0, 0, 0))
            rc = 0;
        if (!rc && !quiet)
            fprintf(stderr, "encoded %zu rows to level %zu of %zu (%zu units)\n", n, level, d->n_layers, u);
    }
    free(f);
    ebm_dataset_free(ds);
    ebm_dbn_free(d);
    return rc;
}
