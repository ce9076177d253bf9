/* Model files as such: every model is one safetensors file (docs/formats.md) whose metadata key ebm.model
 * names its kind, "rbm" when the key is absent (files written before it existed).  Here the kind is read
 * from the JSON header alone (ebm_safetensors_read_meta: a command line can name a data file of gigabytes
 * at no cost), any file is loaded into one handle by its kind's loader, the handle gives the model's own
 * energy (the seam every sampler runs on), and the provenance a trainer records about its data is written
 * in one place.  No maths of its own: each kind's file format and energy live in its own file. */
#include "models/model_internal.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[EBM_N_KINDS] = {"rbm", "grbm", "bm", "dbn", "net", "jem", "structured", "compose"};

const char *ebm_kind_name(ebm_kind k) { return (unsigned)k < EBM_N_KINDS ? kind_names[k] : NULL; }

ebm_status ebm_kind_parse(const char *name, ebm_kind *out) {
    for (size_t i = 0; name && i < EBM_N_KINDS; i++)
        if (strcmp(name, kind_names[i]) == 0) {
            if (out) *out = (ebm_kind)i;
            return EBM_OK;
        }
    return ebm_fail(EBM_EINVAL, "unknown model kind '%.60s' (known: rbm, grbm, bm, dbn, net, jem, structured, compose)",
                    name ? name : "(null)");
}

/* The kind a file's metadata names; name is the file, for messages. */
static ebm_status kind_of_meta(const ebm_meta *meta, const char *name, ebm_kind *out) {
    const char *v = ebm_meta_get(meta, "ebm.model");
    if (!v) {
        *out = EBM_KIND_RBM;
        return EBM_OK;
    }
    for (size_t i = 0; i < EBM_N_KINDS; i++)
        if (strcmp(v, kind_names[i]) == 0) {
            *out = (ebm_kind)i;
            return EBM_OK;
        }
    return ebm_fail(EBM_EFORMAT, "%s: unknown model kind '%.60s'", name, v);
}

ebm_status ebm_model_kind(const char *path, ebm_kind *out) {
    if (!out) return ebm_fail(EBM_EINVAL, "model_kind: out is NULL");
    ebm_meta *meta = NULL;
    ebm_status s = ebm_safetensors_read_meta(path, &meta);
    if (!s) s = kind_of_meta(meta, path, out);
    ebm_meta_free(meta);
    return s;
}

ebm_status ebm_model_kind_parse(const void *buf, size_t len, const char *name, ebm_kind *out) {
    if (!out) return ebm_fail(EBM_EINVAL, "model_kind: out is NULL");
    if (!name) name = "model data";
    ebm_meta *meta = NULL;
    ebm_status s = ebm_safetensors_parse_meta(buf, len, name, &meta);
    if (!s) s = kind_of_meta(meta, name, out);
    ebm_meta_free(meta);
    return s;
}

/* ------------------------------------------------------------------------------------------------
 * The generic loader
 * --------------------------------------------------------------------------------------------- */

struct ebm_model {
    ebm_kind kind;
    char *name;      /* the file, for messages */
    ebm_meta *meta;  /* all the file's metadata */
    /* exactly one of these, by kind (net for NET and JEM) */
    ebm_rbm *rbm;
    ebm_grbm *grbm;
    ebm_bm *bm;
    ebm_dbn *dbn;
    ebm_net *net;
    ebm_structured *sp;
    ebm_composed *comp;
    ebm_energy *energy; /* the model's own energy, made by the first ebm_model_score that needs it */
};

void ebm_model_free(ebm_model *m) {
    if (!m) return;
    ebm_energy_free(m->energy);
    ebm_rbm_free(m->rbm);
    ebm_grbm_free(m->grbm);
    ebm_bm_free(m->bm);
    ebm_dbn_free(m->dbn);
    ebm_net_free(m->net);
    ebm_structured_free(m->sp);
    ebm_composed_free(m->comp);
    ebm_meta_free(m->meta);
    free(m->name);
    free(m);
}

static ebm_status from_tensors(const ebm_tensors *t, const char *name, ebm_model **out) {
    const ebm_meta *meta = ebm_tensors_meta_const(t);
    ebm_kind kind = EBM_KIND_RBM;
    ebm_status s = kind_of_meta(meta, name, &kind);
    if (s) return s;
    ebm_model *m = calloc(1, sizeof *m);
    size_t nlen = strlen(name) + 1;
    if (m) m->name = malloc(nlen);
    if (!m || !m->name) {
        free(m);
        return ebm_fail(EBM_ENOMEM, "%s: out of memory", name);
    }
    memcpy(m->name, name, nlen);
    m->kind = kind;
    s = ebm_meta_new(&m->meta);
    if (!s) s = ebm_meta_copy(m->meta, meta);
    if (!s) switch (kind) {
        case EBM_KIND_RBM: s = ebm_rbm_from_tensors(t, name, &m->rbm); break;
        case EBM_KIND_GRBM: s = ebm_grbm_from_tensors(t, name, &m->grbm); break;
        case EBM_KIND_BM: s = ebm_bm_from_tensors(t, name, &m->bm); break;
        case EBM_KIND_DBN: s = ebm_dbn_from_tensors(t, name, &m->dbn); break;
        case EBM_KIND_NET:
        case EBM_KIND_JEM: s = ebm_net_from_tensors(t, name, &m->net); break;
        case EBM_KIND_STRUCTURED: s = ebm_structured_from_tensors(t, name, &m->sp); break;
        case EBM_KIND_COMPOSE: s = ebm_composed_from_meta(meta, name, &m->comp); break;
        }
    if (s) {
        ebm_model_free(m);
        return s;
    }
    *out = m;
    return EBM_OK;
}

ebm_status ebm_model_load(const char *path, ebm_model **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "model_load: out is NULL");
    *out = NULL;
    ebm_tensors *t = NULL;
    ebm_status s = ebm_safetensors_read(path, &t);
    if (!s) s = from_tensors(t, path, out);
    ebm_tensors_free(t);
    return s;
}

ebm_status ebm_model_parse(const void *buf, size_t len, const char *name, ebm_model **out) {
    if (!out) return ebm_fail(EBM_EINVAL, "model_parse: out is NULL");
    *out = NULL;
    if (!name) name = "model data";
    ebm_tensors *t = NULL;
    ebm_status s = ebm_safetensors_parse(buf, len, name, &t);
    if (!s) s = from_tensors(t, name, out);
    ebm_tensors_free(t);
    return s;
}

ebm_kind ebm_model_kind_of(const ebm_model *m) { return m ? m->kind : EBM_KIND_RBM; }
const ebm_meta *ebm_model_meta(const ebm_model *m) { return m ? m->meta : NULL; }
ebm_rbm *ebm_model_rbm(ebm_model *m) { return m ? m->rbm : NULL; }
ebm_grbm *ebm_model_grbm(ebm_model *m) { return m ? m->grbm : NULL; }
ebm_bm *ebm_model_bm(ebm_model *m) { return m ? m->bm : NULL; }
ebm_dbn *ebm_model_dbn(ebm_model *m) { return m ? m->dbn : NULL; }
ebm_net *ebm_model_net(ebm_model *m) { return m ? m->net : NULL; }
ebm_structured *ebm_model_structured(ebm_model *m) { return m ? m->sp : NULL; }
ebm_composed *ebm_model_composed(ebm_model *m) { return m ? m->comp : NULL; }

size_t ebm_model_classes(const ebm_model *m) {
    const char *head = m && m->net ? ebm_meta_get(m->meta, "ebm.net.head") : NULL;
    return head && strcmp(head, "logsumexp") == 0 ? ebm_net_output_size(m->net) : 0;
}

ebm_status ebm_model_energy(ebm_model *m, ebm_energy **out) {
    if (!m || !out) return ebm_fail(EBM_EINVAL, "model_energy: %s is NULL", !m ? "model" : "out");
    *out = NULL;
    switch (m->kind) {
    case EBM_KIND_RBM: return ebm_energy_rbm(m->rbm, out);
    case EBM_KIND_GRBM: return ebm_energy_grbm(m->grbm, out);
    case EBM_KIND_NET:
    case EBM_KIND_JEM: {
        size_t k = ebm_model_classes(m);
        if (!k && ebm_net_output_size(m->net) != 1)
            return ebm_fail(EBM_EFORMAT, "%s: the network has %zu outputs and no energy head; an energy needs 1", m->name,
                            ebm_net_output_size(m->net));
        return ebm_net_energy(m->net, k ? EBM_NET_HEAD_LOGSUMEXP : EBM_NET_HEAD_SCALAR, out);
    }
    case EBM_KIND_COMPOSE: return ebm_composed_energy(m->comp, out);
    case EBM_KIND_BM:
        return ebm_fail(EBM_EINVAL, "%s: a Boltzmann machine's energy is over binary states, not a continuous energy "
                        "(use ebm_bm_energy)", m->name);
    case EBM_KIND_DBN:
        return ebm_fail(EBM_EINVAL, "%s: a DBN has no energy of its own over its inputs (its score is the bottom RBM's "
                        "free energy: ebm_dbn_free_energy)", m->name);
    case EBM_KIND_STRUCTURED:
        return ebm_fail(EBM_EINVAL, "%s: a structured model's energy E(x, y) depends on the labels too, so it has no "
                        "energy over x alone (use ebm_structured_energies)", m->name);
    }
    return ebm_fail(EBM_EINVAL, "%s: model kind %d has no energy", m->name, (int)m->kind);
}

/* ------------------------------------------------------------------------------------------------
 * Data in a model's input space, and the model's score of it
 * --------------------------------------------------------------------------------------------- */

size_t ebm_model_input_size(const ebm_model *m) {
    if (!m) return 0;
    switch (m->kind) {
    case EBM_KIND_RBM: return m->rbm->n_vis;
    case EBM_KIND_GRBM: return m->grbm->n_vis;
    case EBM_KIND_BM: return ebm_bm_units(m->bm);
    case EBM_KIND_DBN: return ebm_dbn_units(m->dbn, 0);
    case EBM_KIND_NET:
    case EBM_KIND_JEM: return ebm_net_input_size(m->net);
    case EBM_KIND_STRUCTURED: return ebm_structured_row_size(m->sp);
    case EBM_KIND_COMPOSE: return ebm_composed_input_size(m->comp);
    }
    return 0;
}

void ebm_model_data_opts(const ebm_model *m, ebm_data_opts *o) {
    ebm_data_opts_default(o);
    if (m && m->kind == EBM_KIND_BM) o->binarize = EBM_BINARIZE_THRESHOLD; /* its training default */
    const ebm_meta *meta = m ? m->meta : NULL;
    const char *v;
    float t;
    if ((v = ebm_meta_get(meta, "ebm.data.scale"))) (void)ebm_scale_parse(v, &o->scale); /* unknown: left as is */
    if ((v = ebm_meta_get(meta, "ebm.data.binarize"))) (void)ebm_binarize_parse(v, &o->binarize);
    if (ebm_meta_get_float(meta, "ebm.data.threshold", &t) == EBM_OK && t >= 0 && t <= 1) o->threshold = t;
}

/* d's rows put into m's input space in place, with the checks of its kind; spec names the data in messages. */
static ebm_status to_input_space(const ebm_model *m, ebm_dataset *d, const char *spec, const ebm_data_opts *o) {
    ebm_mat *x = d->x;
    size_t want = ebm_model_input_size(m), n = x->rows * x->cols;
    if (x->cols != want)
        return ebm_fail(EBM_ESHAPE, "%s has %zu columns but the model's inputs have %zu values", spec, x->cols, want);
    char msg[600];
    switch (m->kind) {
    case EBM_KIND_RBM:
    case EBM_KIND_DBN:
        if (!ebm_mat_check_range(x, 0.0f, 1.0f, spec)) return EBM_OK;
        snprintf(msg, sizeof msg, "%s", ebm_last_error());
        return ebm_fail(EBM_EINVAL, "%s; the model needs values in [0, 1], and data are scaled as the model's training "
                        "data were (scale %s): give data on that scale", msg, ebm_scale_name(o->scale));
    case EBM_KIND_GRBM:
        if (ebm_mat_check_range(x, -FLT_MAX, FLT_MAX, spec)) return EBM_EINVAL;
        ebm_grbm_standardize(m->grbm, x->data, x->rows, x->data);
        return EBM_OK;
    case EBM_KIND_BM:
        for (size_t i = 0; i < n; i++)
            if (x->data[i] != 0.0f && x->data[i] != 1.0f)
                return ebm_fail(EBM_EINVAL, "%s is not binary after binarisation '%s'; a Boltzmann machine needs 0/1 "
                                "values (binarize threshold)", spec, ebm_binarize_name(o->binarize));
        for (size_t i = 0; i < n; i++)
            if (x->data[i] == 0.0f) x->data[i] = ebm_bm_off_value(m->bm);
        return EBM_OK;
    default: return EBM_OK;
    }
}

ebm_status ebm_model_data(const ebm_model *m, const char *spec, const ebm_data_opts *o, ebm_dataset **out) {
    if (!m || !spec || !out) return ebm_fail(EBM_EINVAL, "model_data: %s is NULL", !m ? "model" : !spec ? "spec" : "out");
    *out = NULL;
    ebm_data_opts own;
    if (!o) {
        ebm_model_data_opts(m, &own);
        o = &own;
    }
    ebm_dataset *d = NULL;
    ebm_status s = ebm_dataset_load(spec, o, &d);
    if (!s) s = to_input_space(m, d, spec, o);
    if (s) ebm_dataset_free(d);
    else *out = d;
    return s;
}

const char *ebm_model_score_name(const ebm_model *m) {
    switch (m ? m->kind : EBM_KIND_RBM) {
    case EBM_KIND_RBM: return "free energy F(v)";
    case EBM_KIND_GRBM: return "free energy F(x) (standardised space)";
    case EBM_KIND_BM: return "E(x) = -(x'Wx/2 + b'x)";
    case EBM_KIND_DBN: return "free energy of the bottom RBM";
    case EBM_KIND_NET:
    case EBM_KIND_COMPOSE: return "E(x)";
    case EBM_KIND_JEM: return ebm_model_classes(m) ? "E(x) = -log sum_y exp f(x)[y]" : "E(x)";
    case EBM_KIND_STRUCTURED: return "free energy F(x) = -log sum_y exp(-E(x, y))";
    }
    return "energy";
}

ebm_status ebm_model_score(ebm_model *m, const float *x, size_t n, double *E) {
    if (!m || (n && (!x || !E))) return ebm_fail(EBM_EINVAL, "model_score: %s is NULL", !m ? "model" : !x ? "x" : "E");
    switch (m->kind) {
    case EBM_KIND_RBM: return n ? ebm_rbm_free_energy(m->rbm, x, n, 1.0f, E) : EBM_OK;
    case EBM_KIND_GRBM: return n ? ebm_grbm_free_energy(m->grbm, x, n, 1.0f, E) : EBM_OK;
    case EBM_KIND_BM: return n ? ebm_bm_energy(m->bm, x, n, E) : EBM_OK;
    case EBM_KIND_DBN: return n ? ebm_dbn_free_energy(m->dbn, x, n, E) : EBM_OK;
    case EBM_KIND_STRUCTURED:
        if (m->sp->len > 0)
            return ebm_fail(EBM_ENOTSUP, "%s: scoring chain models is not supported (their inputs are sequences)",
                            m->name);
        return n ? ebm_structured_free_energy(m->sp, x, n, E) : EBM_OK;
    default: break;
    }
    ebm_status s = m->energy ? EBM_OK : ebm_model_energy(m, &m->energy);
    float *Ef = s || !n ? NULL : malloc(n * sizeof *Ef);
    if (!s && n && !Ef) s = ebm_fail(EBM_ENOMEM, "out of memory");
    if (!s && n) s = m->energy->energy(m->energy, x, n, Ef);
    for (size_t i = 0; !s && i < n; i++) E[i] = Ef[i];
    free(Ef);
    return s;
}

/* ------------------------------------------------------------------------------------------------
 * Provenance
 * --------------------------------------------------------------------------------------------- */

ebm_status ebm_meta_set_data(ebm_meta *m, const char *spec, const ebm_dataset *d, const ebm_data_opts *o) {
    if (!m || !spec || !d || !d->x)
        return ebm_fail(EBM_EINVAL, "meta_set_data: %s is NULL", !m ? "meta" : !spec ? "spec" : "data set");
    ebm_data_opts def;
    if (!o) {
        ebm_data_opts_default(&def);
        o = &def;
    }
    const char *scale = ebm_scale_name(o->scale), *bin = ebm_binarize_name(o->binarize);
    if (!scale || !bin)
        return ebm_fail(EBM_EINVAL, "meta_set_data: %s %d is not a known value", !scale ? "scale" : "binarize",
                        !scale ? (int)o->scale : (int)o->binarize);
    ebm_status s = ebm_meta_set(m, "ebm.data.spec", spec);
    if (!s) s = ebm_meta_set(m, "ebm.data.source", d->source);
    if (!s) s = ebm_meta_setf(m, "ebm.data.rows", "%zu", d->x->rows);
    if (!s) s = ebm_meta_set(m, "ebm.data.scale", scale);
    if (!s) s = ebm_meta_set(m, "ebm.data.binarize", bin);
    if (!s) s = ebm_meta_setf(m, "ebm.data.threshold", "%g", (double)o->threshold);
    return s;
}

ebm_status ebm_meta_set_sample_defaults(ebm_meta *m, size_t steps, float temperature, const char *init) {
    if (!m) return ebm_fail(EBM_EINVAL, "meta_set_sample_defaults: meta is NULL");
    if (!(temperature > 0) || temperature > 1e30f)
        return ebm_fail(EBM_EINVAL, "meta_set_sample_defaults: temperature %g must be positive and finite",
                        (double)temperature);
    ebm_status s = EBM_OK;
    if (!ebm_meta_get(m, "ebm.sample.steps")) s = ebm_meta_setf(m, "ebm.sample.steps", "%zu", steps);
    if (!s && !ebm_meta_get(m, "ebm.sample.temperature"))
        s = ebm_meta_setf(m, "ebm.sample.temperature", "%g", (double)temperature);
    if (!s && init && !ebm_meta_get(m, "ebm.sample.init")) s = ebm_meta_set(m, "ebm.sample.init", init);
    return s;
}
