/* Greedy layer-wise training of a deep belief net (Hinton, Osindero & Teh 2006, section 4; Hinton &
 * Salakhutdinov 2006): layer 0 is trained as an RBM on the data, then its weights are frozen and the hidden
 * probabilities p(h | v) of every training row become the data of layer 1, and so on up the stack.
 * Propagating probabilities rather than binary samples follows Hinton & Salakhutdinov's code: the next layer
 * sees the same expected statistics with less sampling noise.  Each layer is one run of the CD / PCD trainer
 * (ebm_rbm_trainer_new) through the one loop, ebm_run, with its own seed (cd.seed + l), so a run is
 * reproducible and layers do not share random streams. */
#include "core/internal.h"

#include <stdio.h>
#include <string.h>

void ebm_dbn_train_opts_default(ebm_dbn_train_opts *o) {
    memset(o, 0, sizeof *o);
    ebm_cd_opts_default(&o->cd);
    o->init_std = 0.01f;
}

/* The settings a DBN's file keeps beside the run's (ebm_run_describe): how layers were started and fed, each
 * layer's seed, and the sampling defaults of ebm_dbn_sample_opts_default unless the model has its own. */
static ebm_status describe(ebm_dbn *d, const ebm_dbn_train_opts *o) {
    const ebm_cd_opts *cd = &o->cd;
    ebm_status s = ebm_meta_setf(d->meta, "ebm.train.init_std", "%g", (double)o->init_std);
    if (!s) s = ebm_meta_set(d->meta, "ebm.train.layer_input", "probabilities");
    if (!s) s = ebm_meta_setf(d->meta, "ebm.train.lr_final", "%g", (double)(cd->lr_final >= 0 ? cd->lr_final : cd->lr));
    for (size_t l = 0; !s && l < d->n_layers; l++) {
        char key[64];
        snprintf(key, sizeof key, "ebm.train.layer.%zu.seed", l);
        s = ebm_meta_setf(d->meta, key, "%llu", (unsigned long long)(cd->seed + l));
    }
    static const char *const defaults[3][2] = {
        {"ebm.sample.steps", "1000"}, {"ebm.sample.temperature", "1"}, {"ebm.sample.init", "noise"}};
    for (int i = 0; !s && i < 3; i++)
        if (!ebm_meta_get(d->meta, defaults[i][0])) s = ebm_meta_set(d->meta, defaults[i][0], defaults[i][1]);
    return s;
}

/* Layer L->layer on L->input: by the caller's hook with the layer's trainer and run options, else as
 * ebm_rbm_train does it (the same trainer and options, with o->cd's callbacks). */
static ebm_status train_layer(ebm_dbn_layer_run *L, const ebm_cd_opts *cd, ebm_dbn_run_fn run, void *user,
                              const ebm_tensors *resume) {
    if (!run && !resume) return ebm_rbm_train(L->rbm, L->input, cd);
    ebm_status s = ebm_rbm_trainer_new(L->rbm, cd, &L->trainer);
    if (s) return s;
    ebm_cd_run_opts(cd, &L->run);
    L->run.resume = resume;
    s = run ? run(L, user) : ebm_run(L->trainer, L->input, NULL, &L->run, NULL);
    ebm_trainer_free(L->trainer);
    L->trainer = NULL;
    return s;
}

ebm_status ebm_dbn_train_run(ebm_dbn *d, const ebm_mat *data, const ebm_dbn_train_opts *o, ebm_dbn_run_fn run,
                             void *user) {
    if (data->cols != ebm_dbn_units(d, 0))
        return ebm_fail(EBM_ESHAPE, "data has %zu columns but the DBN has %zu visible units", data->cols,
                        ebm_dbn_units(d, 0));
    if (data->rows == 0) return ebm_fail(EBM_EINVAL, "the training data is empty");
    ebm_status s = ebm_mat_check_range(data, 0.0f, 1.0f, "training data for a DBN");
    if (!s) s = describe(d, o);
    if (s) return s;
    ebm_mat *input = NULL, *next = NULL;
    ebm_dbn_layer_run L;
    memset(&L, 0, sizeof L);
    L.n_layers = d->n_layers;
    L.input = data;
    size_t from = 0;
    if (o->resume) {
        const ebm_meta *cm = ebm_tensors_meta_const(o->resume);
        size_t layers;
        if (ebm_meta_get_size(cm, "ebm.checkpoint.dbn.layers", &layers) || layers != d->n_layers ||
            ebm_meta_get_size(cm, "ebm.checkpoint.dbn.layer", &from) || from >= d->n_layers)
            return ebm_fail(EBM_EINVAL, "the checkpoint is not one of a DBN of %zu layers (ebm.checkpoint.dbn.layer, .layers)",
                            d->n_layers);
    }
    for (size_t l = 0; l < d->n_layers; l++) {
        ebm_rbm *m = L.rbm = d->layers[l];
        L.layer = l;
        if (l < from) { /* trained before the checkpoint: its parameters and time from there */
            char name[48], key[64];
            snprintf(name, sizeof name, "ckpt.dbn.%zu", l);
            s = ebm_state_get_f32(o->resume, name, m->params, m->n_params);
            snprintf(key, sizeof key, "ebm.train.layer.%zu.seconds", l);
            const char *v = ebm_meta_get(ebm_tensors_meta_const(o->resume), key);
            if (!s && v) s = ebm_meta_set(d->meta, key, v);
            if (s) {
                s = ebm_fail_prefix(s, "checkpoint");
                break;
            }
            goto next;
        }
        ebm_rng init;
        ebm_rng_seed(&init, o->cd.seed, 100 + l);
        s = ebm_rbm_init(m, &init, o->init_std, L.input);
        if (s) break;
        if (o->on_layer && o->on_layer(l, m, L.input, o->user)) {
            s = ebm_fail(EBM_ECANCELED, "training stopped before layer %zu", l);
            break;
        }
        ebm_cd_opts cd = o->cd;
        cd.seed = o->cd.seed + l;
        double t0 = ebm_now();
        s = train_layer(&L, &cd, run, user, l == from ? o->resume : NULL);
        char key[64];
        snprintf(key, sizeof key, "ebm.train.layer.%zu.seconds", l);
        if (!s) s = ebm_meta_setf(d->meta, key, "%.2f", ebm_now() - t0);
        if (s) {
            s = ebm_fail_prefix(s, "layer %zu of %zu", l + 1, d->n_layers);
            break;
        }
    next:
        if (l + 1 == d->n_layers) break;
        /* the next layer's data: p(h | v) of this layer over its own input */
        s = ebm_mat_new(L.input->rows, m->n_hid, &next);
        if (!s) s = ebm_rbm_hidden_probs(m, L.input->data, L.input->rows, 1.0f, next->data);
        if (s) break;
        ebm_mat_free(input);
        L.input = input = next;
        next = NULL;
    }
    ebm_mat_free(next);
    ebm_mat_free(input);
    return s;
}

ebm_status ebm_dbn_train(ebm_dbn *d, const ebm_mat *data, const ebm_dbn_train_opts *o) {
    return ebm_dbn_train_run(d, data, o, NULL, NULL);
}

ebm_status ebm_dbn_checkpoint(const ebm_dbn *d, const ebm_dbn_layer_run *L, ebm_tensors *out) {
    if (!L->trainer || L->layer >= d->n_layers || d->layers[L->layer] != L->rbm)
        return ebm_fail(EBM_EINVAL, "a DBN checkpoint needs the run of one of its layers");
    ebm_status s = ebm_run_checkpoint(L->trainer, out);
    ebm_meta *m = ebm_tensors_meta(out);
    if (!s) s = ebm_meta_setf(m, "ebm.checkpoint.dbn.layer", "%zu", L->layer);
    if (!s) s = ebm_meta_setf(m, "ebm.checkpoint.dbn.layers", "%zu", d->n_layers);
    for (size_t l = 0; !s && l < L->layer; l++) {
        char name[48], key[64];
        size_t sh[1] = {d->layers[l]->n_params};
        snprintf(name, sizeof name, "ckpt.dbn.%zu", l);
        s = ebm_tensors_put(out, name, EBM_F32, 1, sh, d->layers[l]->params);
        snprintf(key, sizeof key, "ebm.train.layer.%zu.seconds", l);
        const char *v = ebm_meta_get(d->meta, key);
        if (!s && v) s = ebm_meta_set(m, key, v);
    }
    return s;
}
