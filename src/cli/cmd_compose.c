/* `ebm compose`: a model file that combines other models' energies (Hinton 2002, products of experts; Du,
 * Li & Mordatch 2020, "Compositional visual generation with energy based models"):
 *   sum (conjunction, AND):   E(x) = sum_k w_k E_k(x)            -- p ∝ prod_k p_k^w_k
 *   a negative weight (AND NOT): E_1 - lambda E_2                  -- p ∝ p_1 / p_2^lambda
 *   or (disjunction, OR):     E(x) = -log sum_k exp(-w_k E_k(x))  -- p ∝ sum_k p_k^w_k (up to each Z_k)
 * A part is an energy network, a JEM classifier's E(x) = -log sum_y exp f(x)[y] or its class energy
 * E(x, y) = -f(x)[y] (PATH#CLASS), or a Bernoulli RBM's free energy.  The file holds no tensors: its
 * metadata names the parts by absolute path, with their weights and classes, and every command that
 * takes an energy network (sample, inpaint, denoise, score, info) builds the composite energy from them
 * through the library's ebm_energy_sum / ebm_energy_logsumexp, so every sampler runs on it. */
#include "cli.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARTS 16

struct cli_composed {
    size_t n;
    bool lse;
    ebm_net *nets[MAX_PARTS];
    ebm_rbm *rbms[MAX_PARTS];
    ebm_meta *metas[MAX_PARTS];   /* the nets' metadata (RBMs keep theirs) */
    ebm_energy *parts[MAX_PARTS]; /* each part's own energy */
    ebm_energy *wrap[MAX_PARTS];  /* w_k E_k for the disjunction */
    float w[MAX_PARTS];
};

void cli_composed_free(cli_composed *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) {
        ebm_energy_free(c->wrap[i]);
        ebm_energy_free(c->parts[i]);
        ebm_net_free(c->nets[i]);
        ebm_meta_free(c->metas[i]);
        ebm_rbm_free(c->rbms[i]);
    }
    free(c);
}

/* Loads part i of c from path with its energy: the class energy of class cls (NULL = none: the model's own
 * energy; a number, or a Fashion-MNIST name for models trained on it), which goes to *cls_out (-1 = none).
 * *meta: the part's metadata (borrowed).  -1 to go on, else the exit status after printing an error. */
static int load_part(const char *cmd, cli_composed *c, size_t i, const char *path, const char *cls, const ebm_meta **meta,
                     long *cls_out) {
    char kind[32];
    *cls_out = -1;
    if (!cli_model_kind(path, kind, sizeof kind)) return cli_error(cmd, "part %zu: %s is not a readable model file", i + 1, path);
    ebm_status s;
    if (strcmp(kind, "rbm") == 0) {
        if (cls) return cli_error(cmd, "part %zu: %s is an RBM; #CLASS goes with classifier (JEM) models", i + 1, path);
        c->rbms[i] = cli_load_rbm(cmd, path, "composing");
        if (!c->rbms[i]) return 1;
        *meta = c->rbms[i]->meta;
        s = ebm_energy_rbm(c->rbms[i], &c->parts[i]);
    } else if (strcmp(kind, "net") == 0 || strcmp(kind, "jem") == 0) {
        s = ebm_net_load(path, &c->nets[i], &c->metas[i]);
        if (s) return cli_lib_error(cmd, s);
        *meta = c->metas[i];
        size_t k = cli_net_classes(c->nets[i], c->metas[i]);
        if (cls) {
            int32_t y[2]; /* room for two, so that a list or "all" is caught */
            int got = cli_parse_classes(cmd, cls, c->metas[i], k, y, 2);
            if (got < 0) return 2;
            if (got != 1) return cli_error(cmd, "part %zu: give one class after #, not '%s'", i + 1, cls), 2;
            *cls_out = y[0];
            s = ebm_net_energy_class(c->nets[i], y, 1, &c->parts[i]);
        } else {
            return cli_net_energy(cmd, path, c->nets[i], c->metas[i], &c->parts[i]);
        }
    } else {
        return cli_error(cmd, "part %zu: %s is a '%s' model; parts must be energy networks, JEM classifiers or RBMs", i + 1,
                         path, kind);
    }
    if (s) return cli_lib_error(cmd, s);
    return -1;
}

static bool is_pm1(const ebm_meta *m) {
    const char *sc = ebm_meta_get(m, "ebm.data.scale");
    return sc && strcmp(sc, "pm1") == 0;
}

/* The composite energy of the n loaded parts with weights w; checks that their inputs agree. */
static bool build(const char *cmd, cli_composed *c, const ebm_meta *const *metas, const char *const *paths,
                  ebm_energy **out) {
    for (size_t i = 1; i < c->n; i++) {
        if (c->parts[i]->dim != c->parts[0]->dim)
            return cli_error(cmd, "%s takes %zu inputs but %s takes %zu: parts must share one input space", paths[i],
                             c->parts[i]->dim, paths[0], c->parts[0]->dim),
                   false;
        if (is_pm1(metas[i]) != is_pm1(metas[0]))
            return cli_error(cmd, "%s sees data in %s but %s in %s: parts must be trained on the same scale", paths[i],
                             is_pm1(metas[i]) ? "[-1, 1]" : "[0, 1]", paths[0], is_pm1(metas[0]) ? "[-1, 1]" : "[0, 1]"),
                   false;
    }
    ebm_status s = EBM_OK;
    if (!c->lse) {
        s = ebm_energy_sum(c->n, c->parts, c->w, out);
    } else {
        for (size_t i = 0; !s && i < c->n; i++) s = ebm_energy_sum(1, &c->parts[i], &c->w[i], &c->wrap[i]);
        if (!s) s = ebm_energy_logsumexp(c->n, c->wrap, out);
    }
    if (s) return cli_lib_error(cmd, s), false;
    return true;
}

/* Copies what commands need to treat the composite like a network (input shape, data scale, data
 * spec, sampler defaults) from the first part's metadata that has it. */
static ebm_status inherit_meta(ebm_meta *dst, const ebm_meta *const *metas, size_t n) {
    static const char *const keys[] = {"ebm.net.input", "ebm.data.scale", "ebm.data.spec", "ebm.sample.sampler",
                                       "ebm.sample.steps", "ebm.sample.step_size", "ebm.sample.noise", "ebm.sample.clip_lo",
                                       "ebm.sample.clip_hi", "ebm.sample.init_lo", "ebm.sample.init_hi"};
    ebm_status s = EBM_OK;
    for (size_t k = 0; !s && k < sizeof keys / sizeof keys[0]; k++)
        for (size_t i = 0; i < n; i++) {
            const char *v = ebm_meta_get(metas[i], keys[k]);
            if (v) {
                s = ebm_meta_set(dst, keys[k], v);
                break;
            }
        }
    return s;
}

bool cli_composed_load(const char *cmd, const char *path, cli_composed **out, ebm_meta **meta_out, ebm_energy **e) {
    *out = NULL;
    *meta_out = NULL;
    *e = NULL;
    ebm_tensors *t = NULL;
    ebm_status s = ebm_safetensors_read(path, &t);
    if (s) return cli_lib_error(cmd, s), false;
    cli_composed *c = calloc(1, sizeof *c);
    ebm_meta *meta = NULL;
    bool ok = false;
    if (!c || ebm_meta_new(&meta) || ebm_meta_copy(meta, ebm_tensors_meta_const(t))) {
        cli_error(cmd, "out of memory");
        goto done;
    }
    const char *op = ebm_meta_get(meta, "ebm.compose.op");
    size_t n = 0;
    if (!op || (strcmp(op, "sum") != 0 && strcmp(op, "or") != 0) || !cli_meta_size(meta, "ebm.compose.parts", &n) || n < 1 ||
        n > MAX_PARTS) {
        cli_error(cmd, "%s: not a valid composed model (ebm.compose.op must be sum or or, ebm.compose.parts 1 to %d)", path,
                  MAX_PARTS);
        goto done;
    }
    c->lse = strcmp(op, "or") == 0;
    const ebm_meta *metas[MAX_PARTS];
    const char *paths[MAX_PARTS];
    for (size_t i = 0; i < n; i++) {
        char key[64];
        snprintf(key, sizeof key, "ebm.compose.%zu.path", i);
        paths[i] = ebm_meta_get(meta, key);
        snprintf(key, sizeof key, "ebm.compose.%zu.weight", i);
        float w;
        bool wok = cli_meta_float(meta, key, &w);
        snprintf(key, sizeof key, "ebm.compose.%zu.class", i);
        const char *cv = ebm_meta_get(meta, key);
        char *end = NULL;
        long cls = cv ? strtol(cv, &end, 10) : -1;
        if (!paths[i] || !wok || (cv && (*end || cls < 0))) {
            cli_error(cmd, "%s: part %zu is incomplete or malformed (needs ebm.compose.%zu.path and .weight)", path, i + 1, i);
            goto done;
        }
        c->w[i] = w;
        c->n = i + 1;
        if (load_part(cmd, c, i, paths[i], cv, &metas[i], &cls) >= 0) goto done;
    }
    if (!build(cmd, c, metas, paths, e)) goto done;
    ok = true;
done:
    ebm_tensors_free(t);
    if (!ok) {
        cli_composed_free(c);
        ebm_meta_free(meta);
        return false;
    }
    *out = c;
    *meta_out = meta;
    return true;
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
    cli_composed *c = calloc(1, sizeof *c);
    if (!c) return cli_error(cmd, "out of memory");
    c->lse = op == 1;
    ebm_tensors *t = NULL;
    ebm_energy *e = NULL;
    const ebm_meta *metas[MAX_PARTS];
    char *abs_paths[MAX_PARTS] = {0};
    const char *paths[MAX_PARTS];
    long classes[MAX_PARTS];
    rc = 1;
    for (size_t i = 0; i < n; i++) {
        char buf[PATH_MAX];
        snprintf(buf, sizeof buf, "%s", terms[i]);
        float w = 1;
        char *at = strrchr(buf, '@');
        if (at) {
            char *end;
            w = strtof(at + 1, &end);
            if (end == at + 1 || *end || !isfinite(w) || w == 0) {
                cli_error(cmd, "'%s': the weight after @ must be a non-zero number", terms[i]);
                rc = 2;
                goto done;
            }
            if (c->lse && w < 0) {
                cli_error(cmd, "'%s': --op or needs positive weights (negation goes with --op sum)", terms[i]);
                rc = 2;
                goto done;
            }
            *at = '\0';
        }
        char *hash = strrchr(buf, '#');
        const char *cls_arg = NULL;
        if (hash) {
            *hash = '\0';
            cls_arg = hash + 1;
        }
        abs_paths[i] = realpath(buf, NULL);
        if (!abs_paths[i]) {
            rc = cli_error(cmd, "'%s': cannot open %s", terms[i], buf);
            goto done;
        }
        paths[i] = abs_paths[i];
        c->w[i] = w;
        c->n = i + 1;
        if ((rc = load_part(cmd, c, i, abs_paths[i], cls_arg, &metas[i], &classes[i])) >= 0) goto done;
        rc = 1;
    }
    if (!build(cmd, c, metas, paths, &e)) goto done;
    ebm_status s = ebm_tensors_new(&t);
    ebm_meta *m = s ? NULL : ebm_tensors_meta(t);
    if (!s) s = ebm_meta_set(m, "ebm.model", "compose");
    if (!s) s = ebm_meta_set(m, "ebm.version", ebm_version());
    if (!s) s = ebm_meta_set(m, "ebm.compose.op", c->lse ? "or" : "sum");
    if (!s) s = ebm_meta_setf(m, "ebm.compose.parts", "%zu", n);
    if (!s) s = inherit_meta(m, metas, n);
    char formula[2048];
    size_t len = (size_t)snprintf(formula, sizeof formula, "E = %s", c->lse ? "-log(" : "");
    for (size_t i = 0; !s && i < n; i++) {
        char key[64];
        snprintf(key, sizeof key, "ebm.compose.%zu.path", i);
        s = ebm_meta_set(m, key, paths[i]);
        snprintf(key, sizeof key, "ebm.compose.%zu.weight", i);
        if (!s) s = ebm_meta_setf(m, key, "%.9g", (double)c->w[i]);
        if (!s && classes[i] >= 0) {
            snprintf(key, sizeof key, "ebm.compose.%zu.class", i);
            s = ebm_meta_setf(m, key, "%ld", classes[i]);
        }
        const char *base = strrchr(paths[i], '/');
        base = base ? base + 1 : paths[i];
        char cls_txt[32] = "";
        if (classes[i] >= 0) snprintf(cls_txt, sizeof cls_txt, "#%ld", classes[i]);
        if (len < sizeof formula)
            len += (size_t)snprintf(formula + len, sizeof formula - len, c->lse ? "%sexp(-%g E[%s%s])" : "%s%g E[%s%s]",
                                    i == 0 ? "" : c->lse ? " + " : (c->w[i] < 0 ? " " : " + "), (double)c->w[i], base,
                                    cls_txt);
    }
    if (c->lse && len < sizeof formula) snprintf(formula + len, sizeof formula - len, ")");
    if (!s) s = ebm_meta_set(m, "ebm.compose.formula", formula);
    if (!s) s = ebm_safetensors_write(out, t);
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    if (!quiet) fprintf(stderr, "wrote %s: %s\n", out, formula);
    rc = 0;
done:
    ebm_energy_free(e);
    ebm_tensors_free(t);
    cli_composed_free(c);
    for (size_t i = 0; i < n; i++) free(abs_paths[i]);
    return rc;
}

int cli_compose_info(int argc, char **argv, bool quiet) {
    (void)quiet;
    const char *cmd = "info";
    bool json = false;
    const cli_opt opts[] = {
        {"json", OPT_FLAG, &json, NULL, "print the metadata as one JSON object", 0, 0, 0, 0, NULL, NULL},
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm info COMPOSED_MODEL [--json]",
                             "Describe a composed model (ebm compose): its formula, parts and metadata; loads every part.",
                             &path);
    if (rc >= 0) return rc;
    cli_composed *c;
    ebm_meta *meta;
    ebm_energy *e;
    if (!cli_composed_load(cmd, path, &c, &meta, &e)) return 1;
    if (!json) {
        printf("composed model  %s\n", path);
        printf("formula         %s\n", ebm_meta_get(meta, "ebm.compose.formula") ? ebm_meta_get(meta, "ebm.compose.formula") : "?");
        printf("parts           %zu, input size %zu (all loaded)\n", c->n, e->dim);
        printf("metadata:\n");
    }
    cli_print_meta(meta, json);
    ebm_energy_free(e);
    cli_composed_free(c);
    ebm_meta_free(meta);
    return 0;
}
