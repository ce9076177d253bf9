/* `ebm compose`: a model file that combines other models' energies (sum: AND, a negative weight: AND NOT,
 * or: OR; see ebm_composed in ebm.h, src/models/compose.c).  The library loads the parts, checks them,
 * builds the composite energy, writes the file and splits the terms of the command line
 * (PATH[#CLASS][@WEIGHT], ebm_compose_term_parse); here a class given by name (Fashion-MNIST's) is resolved
 * against its part before the library sees it as a number. */
#include "cli.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>

#define MAX_PARTS EBM_COMPOSE_MAX_PARTS

/* Adds the part at path (absolute) with weight w and the class named cls_arg (NULL: the part's own energy)
 * to c.  A class is resolved against the part (numbers, or Fashion-MNIST names for models trained on it),
 * so a classifier is loaded here and handed over.  -1 to go on, else the exit status after an error. */
static int add_part(const char *cmd, ebm_composed *c, size_t i, const char *path, const char *cls_arg, float w) {
    ebm_status s;
    ebm_kind kind;
    if (!cls_arg) {
        s = ebm_composed_add(c, path, w, -1);
    } else if (ebm_model_kind(path, &kind) == EBM_OK && (kind == EBM_KIND_NET || kind == EBM_KIND_JEM)) {
        ebm_model *part = NULL;
        s = ebm_model_load(path, &part);
        if (s) return cli_lib_error(cmd, s);
        int32_t y[2]; /* room for two, so that a list or "all" is caught */
        int got = cli_parse_classes(cmd, cls_arg, ebm_model_meta(part), ebm_model_classes(part), y, 2);
        if (got != 1) {
            if (got >= 0) cli_error(cmd, "part %zu: give one class after #, not '%s'", i + 1, cls_arg);
            ebm_model_free(part);
            return 2;
        }
        s = ebm_composed_add_model(c, part, path, w, y[0]);
    } else {
        /* an unreadable file, an RBM or a kind that cannot be a part: the library refuses the class (or
         * the part) and says why */
        s = ebm_composed_add(c, path, w, 0);
    }
    return s ? cli_lib_error(cmd, s) : -1;
}

static const char *const about =
    "Combine models' energies into one model file (no weights copied: it names the parts by absolute path).\n"
    "Each TERM is PATH[#CLASS][@WEIGHT]: an energy network, a JEM classifier (E(x) = -log sum_y exp f(x)[y],\n"
    "or with #CLASS its class energy -f(x)[y]; Fashion-MNIST class names work) or a Bernoulli RBM (free\n"
    "energy), weight 1 by default.\n"
    "  --op sum (default): E = sum_k w_k E_k   conjunction (product of experts); a negative weight negates:\n"
    "                      'jem.safetensors#trouser' 'jem.safetensors#dress@-0.5' = trouser AND NOT dress\n"
    "  --op or:            E = -log sum_k exp(-w_k E_k)   disjunction (mixture)\n"
    "The result samples (ebm sample), inpaints, denoises and scores (ebm score) like any energy network.\n"
    "Parts must share the input size and the data scale.";

int cmd_compose(int argc, char **argv, bool quiet) {
    const char *cmd = "compose";
    const char *out = NULL;
    int op = 0; /* sum|or */
    const cli_opt opts[] = {
        {"out", OPT_STR, &out, "PATH", "the composed model file to write", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"op", OPT_CHOICE, &op, NULL, "sum: weighted sum (AND, AND NOT); or: -log sum exp(-w E) (OR)", 0, 0, 0, 0, "sum|or", NULL},
        OPT_END,
    };
    const char *terms[MAX_PARTS + 1];
    size_t n;
    int rc = cli_start(cmd, argc, argv, opts, "ebm compose --out PATH [--op sum|or] TERM [TERM ...]   (TERM = MODEL[#CLASS][@WEIGHT])",
                       about, terms, MAX_PARTS, &n);
    if (rc >= 0) return rc;
    if (!out) return cli_error(cmd, "--out PATH is required"), 2;
    if (n == 0) return cli_error(cmd, "give at least one TERM (MODEL[#CLASS][@WEIGHT])"), 2;
    if (!cli_check_writable(cmd, "--out", out)) return 1;
    ebm_composed *c = NULL;
    ebm_status s = ebm_composed_new(op == 1 ? EBM_COMPOSE_OR : EBM_COMPOSE_SUM, &c);
    if (s) return cli_lib_error(cmd, s);
    rc = 1;
    for (size_t i = 0; i < n; i++) {
        char buf[PATH_MAX];
        const char *cls_arg;
        float w;
        bool bad = ebm_compose_term_parse(terms[i], buf, sizeof buf, &cls_arg, &w) != EBM_OK;
        if (bad || (op == 1 && w < 0)) {
            if (bad) cli_error(cmd, "%s", ebm_last_error());
            else cli_error(cmd, "'%s': --op or needs positive weights (negation goes with --op sum)", terms[i]);
            rc = 2;
            goto done;
        }
        char *abs_path = realpath(buf, NULL);
        if (!abs_path) {
            rc = cli_error(cmd, "'%s': cannot open %s", terms[i], buf);
            goto done;
        }
        rc = add_part(cmd, c, i, abs_path, cls_arg, w);
        free(abs_path);
        if (rc >= 0) goto done;
        rc = 1;
    }
    s = ebm_composed_save(c, out);
    const char *formula = ebm_meta_get(ebm_composed_meta(c), "ebm.compose.formula");
    if (!s && !quiet) fprintf(stderr, "wrote %s: %s\n", out, formula ? formula : "");
    rc = s ? cli_lib_error(cmd, s) : 0;
done:
    ebm_composed_free(c);
    return rc;
}

int cli_compose_info(int argc, char **argv, bool quiet) {
    (void)quiet;
    bool json = false;
    const char *path;
    int rc = cli_info_json_start(argc, argv, "Describe a composed model (ebm compose): its formula, parts and metadata; "
                                 "loads every part.", &json, &path);
    if (rc >= 0) return rc;
    ebm_model *m = cli_model_load("info", path);
    ebm_energy *e = NULL; /* made to check that the parts combine */
    ebm_status s = m ? ebm_model_energy(m, &e) : EBM_OK;
    if (!m || s) {
        if (s) cli_lib_error("info", s);
        ebm_model_free(m);
        return 1;
    }
    const ebm_meta *meta = ebm_model_meta(m);
    if (!json) {
        printf("composed model  %s\n", path);
        printf("formula         %s\n", ebm_meta_get(meta, "ebm.compose.formula") ? ebm_meta_get(meta, "ebm.compose.formula") : "?");
        printf("parts           %zu, input size %zu (all loaded)\n", ebm_composed_count(ebm_model_composed(m)), e->dim);
        printf("metadata:\n");
    }
    if (json) printf("{");
    cli_print_meta(meta, json);
    if (json) printf("}\n");
    ebm_energy_free(e);
    ebm_model_free(m);
    return 0;
}
