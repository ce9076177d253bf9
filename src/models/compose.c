/* Composed models (Hinton 2002, "Training products of experts by minimizing contrastive divergence"; Du, Li &
 * Mordatch 2020, "Compositional visual generation with energy based models"):
 *   sum (conjunction, AND):    E(x) = sum_k w_k E_k(x)             -- p ∝ prod_k p_k^w_k
 *   a negative weight (AND NOT): E_1 - lambda E_2                   -- p ∝ p_1 / p_2^lambda
 *   or (disjunction, OR):      E(x) = -log sum_k exp(-w_k E_k(x))  -- p ∝ sum_k p_k^w_k (up to each Z_k)
 * A part is an energy network, a JEM classifier's E(x) = -log sum_y exp f(x)[y] or its class energy
 * E(x, y) = -f(x)[y], or a Bernoulli RBM's free energy.  The file holds no tensors: its metadata names the
 * parts by absolute path with their weights and classes, and the composite is built from the parts'
 * energies through ebm_energy_sum / ebm_energy_logsumexp, so every sampler runs on it. */
#include "models/model_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARTS EBM_COMPOSE_MAX_PARTS

struct ebm_composed {
    ebm_compose_op op;
    size_t n;
    char *paths[MAX_PARTS];       /* as recorded: absolute */
    float w[MAX_PARTS];
    long cls[MAX_PARTS];          /* -1: the part's own energy */
    ebm_model *parts[MAX_PARTS];  /* NULL when only the description was read (ebm_composed_parse) */
    ebm_energy *own[MAX_PARTS];   /* each part's energy */
    ebm_energy *wrap[MAX_PARTS];  /* w_k E_k, for the disjunction */
    ebm_meta *meta;
};

void ebm_composed_free(ebm_composed *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) {
        ebm_energy_free(c->wrap[i]);
        ebm_energy_free(c->own[i]);
        ebm_model_free(c->parts[i]);
        free(c->paths[i]);
    }
    ebm_meta_free(c->meta);
    free(c);
}

ebm_status ebm_composed_new(ebm_compose_op op, ebm_composed **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "composed_new: out is NULL");
    *out = NULL;
    if (op != EBM_COMPOSE_SUM && op != EBM_COMPOSE_OR)
        return ebm_fail(EBM_EINVAL, "composed_new: op %d is neither sum nor or", (int)op);
    ebm_composed *c = calloc(1, sizeof *c);
    if (!c) return ebm_fail(EBM_ENOMEM, "out of memory");
    c->op = op;
    ebm_status s = ebm_meta_new(&c->meta);
    if (s) {
        free(c);
        return s;
    }
    *out = c;
    return EBM_OK;
}

ebm_compose_op ebm_composed_op(const ebm_composed *c) { return c ? c->op : EBM_COMPOSE_SUM; }
size_t ebm_composed_count(const ebm_composed *c) { return c ? c->n : 0; }
const ebm_meta *ebm_composed_meta(const ebm_composed *c) { return c ? c->meta : NULL; }

ebm_status ebm_composed_part(const ebm_composed *c, size_t i, const char **path, float *weight, long *cls) {
    if (!c || i >= c->n) return ebm_fail(EBM_EINVAL, "composed_part: no part %zu", i);
    if (path) *path = c->paths[i];
    if (weight) *weight = c->w[i];
    if (cls) *cls = c->cls[i];
    return EBM_OK;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* ------------------------------------------------------------------------------------------------
 * Parts
 * --------------------------------------------------------------------------------------------- */

static bool part_kind_ok(ebm_kind k) { return k == EBM_KIND_RBM || k == EBM_KIND_NET || k == EBM_KIND_JEM; }

/* The refusals that need only the kind: a class for an RBM, or a kind that cannot be a part. */
static ebm_status check_kind(size_t i, const char *path, ebm_kind k, long cls) {
    if (k == EBM_KIND_RBM && cls >= 0)
        return ebm_fail(EBM_EINVAL, "part %zu: %s is an RBM; #CLASS goes with classifier (JEM) models", i + 1, path);
    if (!part_kind_ok(k))
        return ebm_fail(EBM_EINVAL, "part %zu: %s is a '%s' model; parts must be energy networks, JEM classifiers or RBMs",
                        i + 1, path, ebm_kind_name(k));
    return EBM_OK;
}

/* Makes part (loaded from path, taken over) part c->n with its energy; on failure c is as it was. */
static ebm_status take_part(ebm_composed *c, ebm_model *part, const char *path, float w, long cls) {
    size_t i = c->n;
    ebm_energy *own = NULL, *wrap = NULL;
    char *copy = NULL;
    ebm_status s = check_kind(i, path, ebm_model_kind_of(part), cls);
    if (!s && cls >= 0) {
        if (ebm_model_classes(part) == 0) {
            s = ebm_fail(EBM_EINVAL, "part %zu: %s is not a classifier; #CLASS goes with classifier (JEM) models", i + 1,
                         path);
        } else {
            int32_t y = (int32_t)cls;
            s = ebm_net_energy_class(ebm_model_net(part), &y, 1, &own);
            if (s) s = ebm_fail_prefix(s, "part %zu: %s", i + 1, path);
        }
    } else if (!s) {
        s = ebm_model_energy(part, &own);
    }
    if (!s && c->op == EBM_COMPOSE_OR) s = ebm_energy_sum(1, &own, &w, &wrap);
    if (!s && !(copy = dup_str(path))) s = ebm_fail(EBM_ENOMEM, "out of memory");
    if (s) {
        ebm_energy_free(wrap);
        ebm_energy_free(own);
        ebm_model_free(part);
        free(copy);
        return s;
    }
    c->parts[i] = part;
    c->own[i] = own;
    c->wrap[i] = wrap;
    c->paths[i] = copy;
    c->w[i] = w;
    c->cls[i] = cls;
    c->n = i + 1;
    return EBM_OK;
}

/* Loads the part at path (kind first, from the header, so that a wrong file costs nothing) into c. */
static ebm_status load_part(ebm_composed *c, const char *path, float w, long cls) {
    size_t i = c->n;
    ebm_kind k;
    if (ebm_model_kind(path, &k)) return ebm_fail(EBM_EFORMAT, "part %zu: %s is not a readable model file", i + 1, path);
    ebm_status s = check_kind(i, path, k, cls);
    ebm_model *part = NULL;
    if (!s) s = ebm_model_load(path, &part);
    if (!s) s = take_part(c, part, path, w, cls);
    return s;
}

/* The checks of a new part's arguments that a file's parts do not get (they were made when it was written). */
static ebm_status check_new(const ebm_composed *c, const char *path, float w, long cls) {
    if (!c || !path) return ebm_fail(EBM_EINVAL, "composed_add: %s is NULL", !c ? "composed model" : "path");
    if (c->n == MAX_PARTS) return ebm_fail(EBM_EINVAL, "a composed model holds at most %d parts", MAX_PARTS);
    if (!isfinite(w) || w == 0)
        return ebm_fail(EBM_EINVAL, "part %zu: %s: the weight must be a non-zero number, not %g", c->n + 1, path, (double)w);
    if (c->op == EBM_COMPOSE_OR && w < 0)
        return ebm_fail(EBM_EINVAL, "part %zu: %s: or needs positive weights (negation goes with sum)", c->n + 1, path);
    if (cls < -1 || cls > INT32_MAX) return ebm_fail(EBM_EINVAL, "part %zu: %s: class %ld is not valid", c->n + 1, path, cls);
    return EBM_OK;
}

/* *abs <- the absolute form of path (malloc'd). */
static ebm_status absolute(size_t i, const char *path, char **abs) {
    *abs = realpath(path, NULL);
    if (*abs) return EBM_OK;
    char eb[128];
    return ebm_fail(EBM_EIO, "part %zu: cannot open %s: %s", i + 1, path, ebm_io_strerror(errno, eb, sizeof eb));
}

static ebm_status describe(ebm_composed *c);

ebm_status ebm_compose_term_parse(const char *term, char *buf, size_t cap, const char **cls, float *weight) {
    snprintf(buf, cap, "%s", term);
    *weight = 1;
    *cls = NULL;
    char *at = strrchr(buf, '@');
    if (at) {
        char *end;
        *weight = strtof(at + 1, &end);
        if (end == at + 1 || *end || !isfinite(*weight) || *weight == 0)
            return ebm_fail(EBM_EINVAL, "'%s': the weight after @ must be a non-zero number", term);
        *at = '\0';
    }
    char *hash = strrchr(buf, '#');
    if (hash) {
        *hash = '\0';
        *cls = hash + 1;
    }
    return EBM_OK;
}

ebm_status ebm_composed_add(ebm_composed *c, const char *path, float weight, long cls) {
    char *abs = NULL;
    ebm_status s = check_new(c, path, weight, cls);
    if (!s) s = absolute(c->n, path, &abs);
    if (s) return s;
    s = load_part(c, abs, weight, cls);
    free(abs);
    return s ? s : describe(c);
}

ebm_status ebm_composed_add_model(ebm_composed *c, ebm_model *part, const char *path, float weight, long cls) {
    char *abs = NULL;
    ebm_status s = check_new(c, path, weight, cls);
    if (!s && !part) s = ebm_fail(EBM_EINVAL, "composed_add_model: part is NULL");
    if (!s) s = absolute(c->n, path, &abs);
    if (s) {
        ebm_model_free(part);
        return s;
    }
    s = take_part(c, part, abs, weight, cls);
    free(abs);
    return s ? s : describe(c);
}

/* ------------------------------------------------------------------------------------------------
 * The composite
 * --------------------------------------------------------------------------------------------- */

static bool is_pm1(const ebm_meta *m) {
    const char *sc = ebm_meta_get(m, "ebm.data.scale");
    return sc && strcmp(sc, "pm1") == 0;
}

/* Every part loaded, one input space, one data scale. */
static ebm_status check_parts(const ebm_composed *c) {
    if (c->n == 0) return ebm_fail(EBM_EINVAL, "a composed model needs at least one part");
    for (size_t i = 0; i < c->n; i++)
        if (!c->parts[i] || !c->own[i])
            return ebm_fail(EBM_EINVAL, "part %zu (%s) is not loaded (ebm_composed_parse reads the description only)",
                            i + 1, c->paths[i]);
    for (size_t i = 1; i < c->n; i++) {
        if (c->own[i]->dim != c->own[0]->dim)
            return ebm_fail(EBM_ESHAPE, "%s takes %zu inputs but %s takes %zu: parts must share one input space",
                            c->paths[i], c->own[i]->dim, c->paths[0], c->own[0]->dim);
        bool a = is_pm1(ebm_model_meta(c->parts[i])), b = is_pm1(ebm_model_meta(c->parts[0]));
        if (a != b)
            return ebm_fail(EBM_EINVAL, "%s sees data in %s but %s in %s: parts must be trained on the same scale",
                            c->paths[i], a ? "[-1, 1]" : "[0, 1]", c->paths[0], b ? "[-1, 1]" : "[0, 1]");
    }
    return EBM_OK;
}

size_t ebm_composed_input_size(const ebm_composed *c) { return c && c->n && c->own[0] ? c->own[0]->dim : 0; }

ebm_status ebm_composed_energy(ebm_composed *c, ebm_energy **out) {
    if (!c || !out) return ebm_fail(EBM_EINVAL, "composed_energy: %s is NULL", !c ? "composed model" : "out");
    *out = NULL;
    ebm_status s = check_parts(c);
    if (s) return s;
    return c->op == EBM_COMPOSE_OR ? ebm_energy_logsumexp(c->n, c->wrap, out) : ebm_energy_sum(c->n, c->own, c->w, out);
}

/* ------------------------------------------------------------------------------------------------
 * The file
 * --------------------------------------------------------------------------------------------- */

/* c->meta <- what the file says about c, afresh (so that the keys keep the order in which ebm compose has
 * always written them): kind, version, op, the parts, a readable formula, and, from the first part that
 * has each, what commands need to treat the composite like a network (input shape, data scale and spec,
 * sampler defaults, the proximal radius included). */
static ebm_status describe(ebm_composed *c) {
    static const char *const keys[] = {"ebm.net.input", "ebm.data.scale", "ebm.data.spec", "ebm.sample.sampler",
                                       "ebm.sample.steps", "ebm.sample.step_size", "ebm.sample.noise",
                                       "ebm.sample.clip_lo", "ebm.sample.clip_hi", "ebm.sample.init_lo",
                                       "ebm.sample.init_hi", "ebm.sample.prox"};
    bool lse = c->op == EBM_COMPOSE_OR;
    ebm_meta *m = NULL;
    ebm_status s = ebm_meta_new(&m);
    if (s) return s;
    ebm_meta_free(c->meta);
    c->meta = m;
    s = ebm_meta_set(m, "ebm.model", "compose");
    if (!s) s = ebm_meta_set(m, "ebm.version", ebm_version());
    if (!s) s = ebm_meta_set(m, "ebm.compose.op", lse ? "or" : "sum");
    if (!s) s = ebm_meta_setf(m, "ebm.compose.parts", "%zu", c->n);
    for (size_t k = 0; !s && k < sizeof keys / sizeof keys[0]; k++)
        for (size_t i = 0; i < c->n; i++) {
            const char *v = c->parts[i] ? ebm_meta_get(ebm_model_meta(c->parts[i]), keys[k]) : NULL;
            if (v) {
                s = ebm_meta_set(m, keys[k], v);
                break;
            }
        }
    char formula[2048];
    size_t len = (size_t)snprintf(formula, sizeof formula, "E = %s", lse ? "-log(" : "");
    for (size_t i = 0; !s && i < c->n; i++) {
        char key[64];
        snprintf(key, sizeof key, "ebm.compose.%zu.path", i);
        s = ebm_meta_set(m, key, c->paths[i]);
        snprintf(key, sizeof key, "ebm.compose.%zu.weight", i);
        if (!s) s = ebm_meta_setf(m, key, "%.9g", (double)c->w[i]);
        if (!s && c->cls[i] >= 0) {
            snprintf(key, sizeof key, "ebm.compose.%zu.class", i);
            s = ebm_meta_setf(m, key, "%ld", c->cls[i]);
        }
        const char *base = strrchr(c->paths[i], '/');
        base = base ? base + 1 : c->paths[i];
        char cls_txt[32] = "";
        if (c->cls[i] >= 0) snprintf(cls_txt, sizeof cls_txt, "#%ld", c->cls[i]);
        if (len < sizeof formula)
            len += (size_t)snprintf(formula + len, sizeof formula - len, lse ? "%sexp(-%g E[%s%s])" : "%s%g E[%s%s]",
                                    i == 0 ? "" : lse ? " + " : (c->w[i] < 0 ? " " : " + "), (double)c->w[i], base,
                                    cls_txt);
    }
    if (lse && len < sizeof formula) snprintf(formula + len, sizeof formula - len, ")");
    if (!s) s = ebm_meta_set(m, "ebm.compose.formula", formula);
    return s;
}

ebm_status ebm_composed_save(const ebm_composed *c, const char *path) {
    if (!c || !path) return ebm_fail(EBM_EINVAL, "composed_save: %s is NULL", !c ? "composed model" : "path");
    ebm_status s = check_parts(c);
    ebm_tensors *t = NULL;
    if (!s) s = ebm_tensors_new(&t);
    if (!s) s = ebm_meta_copy(ebm_tensors_meta(t), c->meta);
    if (!s) s = ebm_safetensors_write(path, t);
    ebm_tensors_free(t);
    return s;
}

/* A finite number under key. */
static bool meta_float(const ebm_meta *m, const char *key, float *out) {
    const char *v = ebm_meta_get(m, key);
    if (!v || !*v) return false;
    char *end;
    double d = strtod(v, &end);
    if (*end || !isfinite(d) || fabs(d) > 3.4e38) return false;
    *out = (float)d;
    return true;
}

/* The description in a composed file's metadata (op, parts' paths, weights and classes) into a new c, no
 * part loaded; c->meta is a copy of meta. */
static ebm_status parse_description(const ebm_meta *meta, const char *name, ebm_composed **out) {
    *out = NULL;
    const char *kind = ebm_meta_get(meta, "ebm.model");
    if (!kind || strcmp(kind, "compose") != 0)
        return ebm_fail(EBM_EFORMAT, "%s: holds a '%.60s' model, not a composed one", name, kind ? kind : "rbm");
    const char *op = ebm_meta_get(meta, "ebm.compose.op"), *np = ebm_meta_get(meta, "ebm.compose.parts");
    char *end = NULL;
    unsigned long long n = np && *np >= '0' && *np <= '9' ? strtoull(np, &end, 10) : 0;
    if (!op || (strcmp(op, "sum") != 0 && strcmp(op, "or") != 0) || !end || *end || n < 1 || n > MAX_PARTS)
        return ebm_fail(EBM_EFORMAT,
                        "%s: not a valid composed model (ebm.compose.op must be sum or or, ebm.compose.parts 1 to %d)",
                        name, MAX_PARTS);
    ebm_composed *c;
    ebm_status s = ebm_composed_new(strcmp(op, "or") == 0 ? EBM_COMPOSE_OR : EBM_COMPOSE_SUM, &c);
    if (!s) s = ebm_meta_copy(c->meta, meta);
    for (size_t i = 0; !s && i < (size_t)n; i++) {
        char key[64];
        snprintf(key, sizeof key, "ebm.compose.%zu.path", i);
        const char *path = ebm_meta_get(meta, key);
        snprintf(key, sizeof key, "ebm.compose.%zu.weight", i);
        float w = 0;
        bool wok = meta_float(meta, key, &w);
        snprintf(key, sizeof key, "ebm.compose.%zu.class", i);
        const char *cv = ebm_meta_get(meta, key);
        long cls = -1;
        bool cok = true;
        if (cv) {
            errno = 0;
            cls = cv[0] >= '0' && cv[0] <= '9' ? strtol(cv, &end, 10) : -1;
            cok = cls >= 0 && !*end && errno == 0 && cls <= INT32_MAX;
        }
        if (!path || !*path || !wok || !cok) {
            s = ebm_fail(EBM_EFORMAT, "%s: part %zu is incomplete or malformed (needs ebm.compose.%zu.path and .weight)",
                         name, i + 1, i);
            break;
        }
        c->paths[i] = dup_str(path);
        c->w[i] = w;
        c->cls[i] = cls;
        c->n = i + 1;
        if (!c->paths[i]) s = ebm_fail(EBM_ENOMEM, "out of memory");
    }
    if (s) {
        ebm_composed_free(c);
        return s;
    }
    *out = c;
    return EBM_OK;
}

ebm_status ebm_composed_from_meta(const ebm_meta *meta, const char *name, ebm_composed **out) {
    ebm_composed *d = NULL, *c = NULL;
    ebm_status s = parse_description(meta, name, &d);
    /* the parts go into a second object, each loaded from its recorded path */
    if (!s) s = ebm_composed_new(d->op, &c);
    if (!s) s = ebm_meta_copy(c->meta, d->meta);
    for (size_t i = 0; !s && i < d->n; i++) s = load_part(c, d->paths[i], d->w[i], d->cls[i]);
    if (!s) s = check_parts(c);
    ebm_composed_free(d);
    if (s) {
        ebm_composed_free(c);
        return s;
    }
    *out = c;
    return EBM_OK;
}

ebm_status ebm_composed_parse(const void *buf, size_t len, const char *name, ebm_composed **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "composed_parse: out is NULL");
    *out = NULL;
    if (!name) name = "composed model";
    ebm_tensors *t = NULL;
    ebm_status s = ebm_safetensors_parse(buf, len, name, &t);
    if (!s) s = parse_description(ebm_tensors_meta_const(t), name, out);
    ebm_tensors_free(t);
    return s;
}

ebm_status ebm_composed_load(const char *path, ebm_composed **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "composed_load: out is NULL");
    *out = NULL;
    ebm_tensors *t = NULL;
    ebm_status s = ebm_safetensors_read(path, &t);
    if (!s) s = ebm_composed_from_meta(ebm_tensors_meta_const(t), path, out);
    ebm_tensors_free(t);
    return s;
}
