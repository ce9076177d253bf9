/* Deep belief nets as stacks of Bernoulli RBMs (Hinton, Osindero & Teh 2006, "A fast learning algorithm for
 * deep belief nets"; Hinton & Salakhutdinov 2006, "Reducing the dimensionality of data with neural networks").
 * The up pass computes the recognition probabilities level by level, q(h_{l+1} = 1 | h_l) = sigmoid(b_h,l +
 * h_l' W_l); the down pass the generative means p(h_l = 1 | h_{l+1}) = sigmoid(b_v,l + W_l h_{l+1}), both
 * with the probabilities of the level before (mean field) as input.  Each layer is an ebm_rbm, so every
 * conditional is the RBM's own code.  The file stores every layer's tensors under layers.<l>. and the level
 * sizes in ebm.dbn.sizes, which the reader checks every tensor against. */
#include "models/model_internal.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows per chunk in the passes, so scratch memory stays bounded whatever n is: whole blocks of
 * EBM_CHAIN_BLOCK rows, the last chunk taking a remainder of fewer than EBM_CHAIN_BLOCK rows, so that a
 * slice of chains (ebm_chain_range) passes each row in a product of the same kind (split by rows, at the
 * same place modulo EBM_CHAIN_BLOCK) as one process does (src/core/gemm.c). */
#define ROW_CHUNK (10 * EBM_CHAIN_BLOCK)
/* At most this many layers in a file (a sanity bound for the reader). */
#define MAX_LAYERS 64

static ebm_status alloc_dbn(size_t n_layers, ebm_dbn **out) {
    *out = NULL;
    ebm_dbn *d = calloc(1, sizeof *d);
    if (!d) return ebm_fail(EBM_ENOMEM, "out of memory");
    d->layers = calloc(n_layers, sizeof *d->layers);
    ebm_status s = d->layers ? ebm_meta_new(&d->meta) : ebm_fail(EBM_ENOMEM, "out of memory");
    if (s) {
        free(d->layers);
        free(d);
        return s;
    }
    d->n_layers = n_layers;
    *out = d;
    return EBM_OK;
}

ebm_status ebm_dbn_new(const size_t *sizes, size_t n_sizes, ebm_dbn **out) {
    *out = NULL;
    if (n_sizes < 2) return ebm_fail(EBM_EINVAL, "a DBN needs at least two levels (data and one hidden layer)");
    if (n_sizes - 1 > MAX_LAYERS) return ebm_fail(EBM_EINVAL, "a DBN has at most %d layers", MAX_LAYERS);
    ebm_dbn *d = NULL;
    ebm_status s = alloc_dbn(n_sizes - 1, &d);
    for (size_t l = 0; !s && l < d->n_layers; l++) {
        s = ebm_rbm_new(sizes[l], sizes[l + 1], &d->layers[l]);
        if (s) s = ebm_fail_prefix(s, "DBN layer %zu", l);
    }
    if (s) {
        ebm_dbn_free(d);
        return s;
    }
    *out = d;
    return EBM_OK;
}

void ebm_dbn_free(ebm_dbn *d) {
    if (!d) return;
    for (size_t l = 0; l < d->n_layers; l++) ebm_rbm_free(d->layers[l]);
    free(d->layers);
    ebm_meta_free(d->meta);
    free(d);
}

ebm_status ebm_dbn_from_rbms(const ebm_rbm *const *rbms, size_t n, ebm_dbn **out) {
    *out = NULL;
    if (n < 1 || n > MAX_LAYERS) return ebm_fail(EBM_EINVAL, "a DBN has 1 to %d layers, not %zu", MAX_LAYERS, n);
    for (size_t l = 0; l + 1 < n; l++)
        if (rbms[l]->n_hid != rbms[l + 1]->n_vis)
            return ebm_fail(EBM_ESHAPE, "layer %zu has %zu hidden units but layer %zu has %zu visible units", l,
                            rbms[l]->n_hid, l + 1, rbms[l + 1]->n_vis);
    ebm_dbn *d = NULL;
    ebm_status s = alloc_dbn(n, &d);
    for (size_t l = 0; !s && l < n; l++) s = ebm_rbm_clone(rbms[l], &d->layers[l]);
    if (s) {
        ebm_dbn_free(d);
        return s;
    }
    d->height = rbms[0]->height;
    d->width = rbms[0]->width;
    *out = d;
    return EBM_OK;
}

size_t ebm_dbn_units(const ebm_dbn *d, size_t level) {
    if (level == 0) return d->layers[0]->n_vis;
    return level <= d->n_layers ? d->layers[level - 1]->n_hid : 0;
}

static size_t max_units(const ebm_dbn *d) {
    size_t m = d->layers[0]->n_vis;
    for (size_t l = 0; l < d->n_layers; l++)
        if (d->layers[l]->n_hid > m) m = d->layers[l]->n_hid;
    return m;
}

/* out (n, units(to)) from x (n, units(from)) through the layers between, upwards (to > from) or downwards,
 * in chunks of rows with two ping-pong buffers. */
static ebm_status propagate(const ebm_dbn *d, const float *x, size_t n, size_t from, size_t to, float *out) {
    if (from > d->n_layers || to > d->n_layers)
        return ebm_fail(EBM_EINVAL, "level %zu is outside this DBN's levels 0..%zu", from > to ? from : to,
                        d->n_layers);
    if (n > INT_MAX) return ebm_fail(EBM_EINVAL, "%zu rows is more than one call can take", n);
    size_t nin = ebm_dbn_units(d, from), nout = ebm_dbn_units(d, to);
    if (from == to || n == 0) {
        if (n) memmove(out, x, n * nin * sizeof(float));
        return EBM_OK;
    }
    size_t cap = ROW_CHUNK + EBM_CHAIN_BLOCK - 1, chunk = n < cap ? n : cap, mu = max_units(d);
    float *buf[2] = {ebm_calloc(chunk, mu * sizeof(float)), ebm_calloc(chunk, mu * sizeof(float))};
    if (!buf[0] || !buf[1]) {
        ebm_free(buf[0]);
        ebm_free(buf[1]);
        return ebm_fail(EBM_ENOMEM, "out of memory for the DBN pass");
    }
    for (size_t r0 = 0, c; r0 < n; r0 += c) {
        c = n - r0 <= cap ? n - r0 : ROW_CHUNK;
        const float *cur = x + r0 * nin;
        int which = 0;
        for (size_t lev = from; lev != to; which ^= 1) {
            float *dst = buf[which];
            if (to > from) {
                ebm_rbm_sample_hidden(d->layers[lev], cur, c, 1.0f, 0, dst, NULL);
                lev++;
            } else {
                lev--;
                ebm_rbm_sample_visible(d->layers[lev], cur, c, 1.0f, 0, dst, NULL);
            }
            cur = dst;
        }
        memcpy(out + r0 * nout, cur, c * nout * sizeof(float));
    }
    ebm_free(buf[0]);
    ebm_free(buf[1]);
    return EBM_OK;
}

ebm_status ebm_dbn_up(const ebm_dbn *d, const float *v, size_t n, size_t level, float *out) {
    return propagate(d, v, n, 0, level, out);
}

ebm_status ebm_dbn_down(const ebm_dbn *d, const float *h, size_t n, size_t level, float *out) {
    return propagate(d, h, n, level, 0, out);
}

ebm_status ebm_dbn_free_energy(const ebm_dbn *d, const float *v, size_t n, double *F) {
    return ebm_rbm_free_energy(d->layers[0], v, n, 1.0f, F);
}

ebm_status ebm_dbn_recon_error(const ebm_dbn *d, const float *v, size_t n, double *mse) {
    return ebm_rbm_recon_error(d->layers[0], v, n, mse);
}

ebm_status ebm_dbn_evaluate(const ebm_dbn *d, const float *v, size_t n, double *score_mean, double *recon) {
    *score_mean = 0;
    *recon = NAN;
    double *F = malloc((n ? n : 1) * sizeof *F);
    ebm_status s = F ? ebm_dbn_free_energy(d, v, n, F) : ebm_fail(EBM_ENOMEM, "out of memory");
    if (!s) s = ebm_dbn_recon_error(d, v, n, recon);
    for (size_t i = 0; !s && i < n; i++) *score_mean += F[i] / (double)n;
    free(F);
    return s;
}

size_t ebm_dbn_n_params(const ebm_dbn *d) {
    size_t np = 0;
    for (size_t l = 0; l < d->n_layers; l++) np += d->layers[l]->n_params;
    return np;
}

/* ---- files ---- */

/* The three tensors of layer l of a DBN as stored: name, rank, shape and the RBM's array. */
typedef struct {
    char name[64];
    int ndim;
    size_t shape[2];
    float *data;
} layer_part;

static void layer_parts(ebm_rbm *m, size_t l, layer_part p[3]) {
    static const char *const what[3] = {"W", "b_v", "b_h"};
    float *data[3] = {m->W, m->a, m->b};
    size_t shapes[3][2] = {{m->n_vis, m->n_hid}, {m->n_vis, 0}, {m->n_hid, 0}};
    for (int k = 0; k < 3; k++) {
        snprintf(p[k].name, sizeof p[k].name, "layers.%zu.%s", l, what[k]);
        p[k].ndim = k ? 1 : 2;
        p[k].shape[0] = shapes[k][0];
        p[k].shape[1] = shapes[k][1];
        p[k].data = data[k];
    }
}

ebm_status ebm_dbn_to_tensors(const ebm_dbn *d, ebm_tensors *t) {
    size_t top = ebm_dbn_units(d, d->n_layers);
    ebm_status s = ebm_model_meta_out(ebm_tensors_meta(t), d->meta, "dbn", d->layers[0]->n_vis, top, d->height,
                                      d->width);
    char sizes[64 * (MAX_LAYERS + 1)];
    size_t used = 0;
    for (size_t l = 0; l <= d->n_layers && used < sizeof sizes; l++)
        used += (size_t)snprintf(sizes + used, sizeof sizes - used, "%s%zu", l ? "," : "", ebm_dbn_units(d, l));
    if (!s) s = ebm_meta_set(ebm_tensors_meta(t), "ebm.dbn.sizes", sizes);
    if (!s) s = ebm_meta_setf(ebm_tensors_meta(t), "ebm.dbn.layers", "%zu", d->n_layers);
    for (size_t l = 0; !s && l < d->n_layers; l++) {
        layer_part p[3];
        layer_parts(d->layers[l], l, p);
        for (int k = 0; !s && k < 3; k++) s = ebm_tensors_put(t, p[k].name, EBM_F32, p[k].ndim, p[k].shape, p[k].data);
    }
    return s;
}

ebm_status ebm_dbn_save(const ebm_dbn *d, const char *path) {
    for (size_t l = 0; l < d->n_layers; l++) {
        ebm_status s = ebm_rbm_check_finite(d->layers[l]);
        if (s) return ebm_fail_prefix(s, "refusing to save %s: layer %zu", path, l);
    }
    ebm_tensors *t = NULL;
    ebm_status s = ebm_tensors_new(&t);
    if (!s) s = ebm_dbn_to_tensors(d, t);
    if (!s) s = ebm_safetensors_write(path, t);
    ebm_tensors_free(t);
    return s;
}

ebm_status ebm_dbn_parse_sizes(const char *text, size_t *sizes, size_t cap, size_t *n) {
    *n = 0;
    for (const char *p = text;;) {
        size_t len = strcspn(p, ",");
        char tok[32];
        if (len == 0 || len >= sizeof tok || *n >= cap) break;
        memcpy(tok, p, len);
        tok[len] = '\0';
        if (!ebm_parse_size(tok, &sizes[*n]) || sizes[*n] == 0) break;
        (*n)++;
        if (p[len] == '\0') return EBM_OK;
        p += len + 1;
    }
    return ebm_fail(EBM_EINVAL, "'%s' is not a list of 1 to %zu positive sizes such as 500,500,2000", text, cap);
}

/* sizes (at most MAX_LAYERS + 1) <- ebm.dbn.sizes, data level first. */
static ebm_status parse_sizes(const char *text, const char *file, size_t *sizes, size_t *n) {
    if (ebm_dbn_parse_sizes(text, sizes, MAX_LAYERS + 1, n))
        return ebm_fail(EBM_EFORMAT, "%s: ebm.dbn.sizes '%s' is not a list of 2 to %d positive sizes such as "
                        "784,500,500", file, text, MAX_LAYERS + 1);
    if (*n < 2) return ebm_fail(EBM_EFORMAT, "%s: ebm.dbn.sizes '%s' names fewer than two levels", file, text);
    return EBM_OK;
}

ebm_status ebm_dbn_from_tensors(const ebm_tensors *t, const char *name, ebm_dbn **out) {
    *out = NULL;
    const ebm_meta *meta = ebm_tensors_meta_const(t);
    const char *kind = ebm_meta_get(meta, "ebm.model");
    if (!kind || strcmp(kind, "dbn") != 0)
        return ebm_fail(EBM_EFORMAT, "%s: holds a '%s' model, not a dbn", name, kind ? kind : "rbm");
    const char *text = ebm_meta_get(meta, "ebm.dbn.sizes");
    if (!text) return ebm_fail(EBM_EFORMAT, "%s: metadata ebm.dbn.sizes (the layer sizes) is missing", name);
    size_t sizes[MAX_LAYERS + 1], n;
    ebm_status s = parse_sizes(text, name, sizes, &n);
    if (s) return s;
    /* the tensors must match the claimed sizes before those sizes are allocated: a few bytes of metadata
     * must not make the loader zero gigabytes */
    for (size_t l = 0; l + 1 < n; l++) {
        char tn[64];
        size_t shw[2] = {sizes[l], sizes[l + 1]};
        snprintf(tn, sizeof tn, "layers.%zu.W", l);
        if ((s = ebm_io_check_shape(t, name, tn, 2, shw))) return s;
        snprintf(tn, sizeof tn, "layers.%zu.b_v", l);
        if ((s = ebm_io_check_shape(t, name, tn, 1, &sizes[l]))) return s;
        snprintf(tn, sizeof tn, "layers.%zu.b_h", l);
        if ((s = ebm_io_check_shape(t, name, tn, 1, &sizes[l + 1]))) return s;
    }
    ebm_dbn *d;
    s = ebm_dbn_new(sizes, n, &d);
    if (s) return ebm_fail_prefix(s, "%s", name);
    /* every tensor the sizes call for, with its shape (ebm_io_take_f32 names a missing or misshapen one) */
    for (size_t l = 0; !s && l < d->n_layers; l++) {
        layer_part p[3];
        layer_parts(d->layers[l], l, p);
        for (int k = 0; !s && k < 3; k++) s = ebm_io_take_f32(t, name, p[k].name, p[k].ndim, p[k].shape, p[k].data);
    }
    if (!s && ebm_tensors_count(t) != 3 * d->n_layers)
        s = ebm_fail(EBM_EFORMAT, "%s: %zu tensors, but ebm.dbn.sizes %s has %zu layers (3 tensors each)", name,
                     ebm_tensors_count(t), text, d->n_layers);
    if (!s) s = ebm_model_meta_in(meta, name, sizes[0], d->meta, &d->height, &d->width);
    if (s) {
        ebm_dbn_free(d);
        return s;
    }
    d->layers[0]->height = d->height;
    d->layers[0]->width = d->width;
    *out = d;
    return EBM_OK;
}

ebm_status ebm_dbn_load(const char *path, ebm_dbn **out) {
    *out = NULL;
    ebm_tensors *t = NULL;
    ebm_status s = ebm_safetensors_read(path, &t);
    if (s) return s;
    s = ebm_dbn_from_tensors(t, path, out);
    ebm_tensors_free(t);
    return s;
}

ebm_status ebm_dbn_load_stack(const char *path, ebm_dbn **out) {
    *out = NULL;
    ebm_tensors *t = NULL;
    ebm_status s = ebm_safetensors_read(path, &t);
    if (s) return s;
    const char *kind = ebm_meta_get(ebm_tensors_meta_const(t), "ebm.model");
    ebm_rbm *m = NULL;
    if (kind && strcmp(kind, "dbn") == 0) {
        s = ebm_dbn_from_tensors(t, path, out);
    } else if (kind && strcmp(kind, "rbm") != 0) {
        s = ebm_fail(EBM_EFORMAT, "%s holds a '%s' model; this needs an rbm or a dbn", path, kind);
    } else if (!(s = ebm_rbm_from_tensors(t, path, &m))) {
        const ebm_rbm *one[1] = {m};
        s = ebm_dbn_from_rbms(one, 1, out);
        if (!s) s = ebm_meta_copy((*out)->meta, m->meta);
        if (s) {
            ebm_dbn_free(*out);
            *out = NULL;
        }
    }
    ebm_rbm_free(m);
    ebm_tensors_free(t);
    return s;
}
