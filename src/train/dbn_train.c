/* Greedy layer-wise training of a deep belief net (Hinton, Osindero & Teh 2006, section 4; Hinton &
 * Salakhutdinov 2006): layer 0 is trained as an RBM on the data by ebm_rbm_train, then its weights are
 * frozen and the hidden probabilities p(h | v) of every training row become the data of layer 1, and so on
 * up the stack.  Propagating probabilities rather than binary samples follows Hinton & Salakhutdinov's code:
 * the next layer sees the same expected statistics with less sampling noise.  Each layer gets its own seed
 * (cd.seed + l), so a run is reproducible and layers do not share random streams. */
#include "core/internal.h"

#include <string.h>

void ebm_dbn_train_opts_default(ebm_dbn_train_opts *o) {
    memset(o, 0, sizeof *o);
    ebm_cd_opts_default(&o->cd);
    o->init_std = 0.01f;
}

ebm_status ebm_dbn_train(ebm_dbn *d, const ebm_mat *data, const ebm_dbn_train_opts *o) {
    if (data->cols != ebm_dbn_units(d, 0))
        return ebm_fail(EBM_ESHAPE, "data has %zu columns but the DBN has %zu visible units", data->cols,
                        ebm_dbn_units(d, 0));
    if (data->rows == 0) return ebm_fail(EBM_EINVAL, "the training data is empty");
    ebm_status s = ebm_mat_check_range(data, 0.0f, 1.0f, "training data for a DBN");
    if (s) return s;
    ebm_mat *input = NULL, *next = NULL;
    const ebm_mat *cur = data;
    for (size_t l = 0; l < d->n_layers; l++) {
        ebm_rbm *m = d->layers[l];
        ebm_rng init;
        ebm_rng_seed(&init, o->cd.seed, 100 + l);
        s = ebm_rbm_init(m, &init, o->init_std, cur);
        if (s) break;
        if (o->on_layer && o->on_layer(l, m, cur, o->user)) {
            s = ebm_fail(EBM_ECANCELED, "training stopped before layer %zu", l);
            break;
        }
        ebm_cd_opts cd = o->cd;
        cd.seed = o->cd.seed + l;
        s = ebm_rbm_train(m, cur, &cd);
        if (s) {
            s = ebm_fail_prefix(s, "layer %zu of %zu", l + 1, d->n_layers);
            break;
        }
        if (l + 1 == d->n_layers) break;
        /* the next layer's data: p(h | v) of this layer over its own input */
        s = ebm_mat_new(cur->rows, m->n_hid, &next);
        if (!s) s = ebm_rbm_hidden_probs(m, cur->data, cur->rows, 1.0f, next->data);
        if (s) break;
        ebm_mat_free(input);
        input = next;
        next = NULL;
        cur = input;
    }
    ebm_mat_free(next);
    ebm_mat_free(input);
    return s;
}
