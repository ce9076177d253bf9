/* Generation from a deep belief net (Hinton, Osindero & Teh 2006, section 2 and figure 1): the top two levels
 * form an undirected RBM, sampled here by block Gibbs (ebm_gibbs, one Philox stream per row and half-step),
 * and the levels below are a directed sigmoid belief net, traversed once top-down.  The down pass uses
 * probabilities, p(h_l = 1 | h_{l+1}) fed forward as means, which gives the smooth pictures that papers
 * show instead of one binary draw per pixel.  Chains start from noise or from the up pass of data rows.  A
 * slice of the chains (ebm_dbn_sample_slice) runs its chains of the top RBM as a slice (ebm_gibbs_set_slice). */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

void ebm_dbn_sample_opts_default(ebm_dbn_sample_opts *o) {
    memset(o, 0, sizeof *o);
    o->steps = 1000;
    o->T = 1.0f;
    o->noise_p = 0.5f;
}

ebm_status ebm_dbn_sample(const ebm_dbn *d, size_t n, const ebm_mat *init, const ebm_dbn_sample_opts *o,
                          ebm_rng *rng, float *out) {
    return ebm_dbn_sample_slice(d, 0, n, n, init, o, rng, out);
}

ebm_status ebm_dbn_sample_slice(const ebm_dbn *d, size_t first, size_t n, size_t total, const ebm_mat *init,
                                const ebm_dbn_sample_opts *o, ebm_rng *rng, float *out) {
    if (n == 0) return ebm_fail(EBM_EINVAL, "the number of samples must be at least 1");
    if (!(o->T > 0) || !isfinite(o->T)) return ebm_fail(EBM_EINVAL, "temperature must be a positive number, got %g", (double)o->T);
    size_t below = d->n_layers - 1; /* the top RBM's visible level */
    const ebm_rbm *top = d->layers[below];
    if (init && init->cols != ebm_dbn_units(d, 0))
        return ebm_fail(EBM_ESHAPE, "data has %zu columns but the DBN has %zu visible units", init->cols,
                        ebm_dbn_units(d, 0));
    ebm_gibbs *g = NULL;
    ebm_mat *up = NULL;
    float *state = NULL;
    ebm_status s = ebm_gibbs_new(top, n, &g);
    if (!s) s = ebm_gibbs_set_slice(g, first, total);
    if (!s && init) {
        s = ebm_mat_new(init->rows, top->n_vis, &up);
        if (!s) s = ebm_dbn_up(d, init->data, init->rows, below, up->data);
        if (!s) s = ebm_gibbs_init_data(g, up, rng);
    } else if (!s) {
        s = ebm_gibbs_init_noise(g, o->noise_p, rng);
    }
    size_t chunk = o->steps / 100 ? o->steps / 100 : 1;
    for (size_t done = 0; !s && done < o->steps;) {
        size_t k = o->steps - done < chunk ? o->steps - done : chunk;
        s = ebm_gibbs_run(g, k, o->T, rng);
        done += k;
        if (!s && o->progress && o->progress((double)done / (double)o->steps, o->user))
            s = ebm_fail(EBM_ECANCELED, "sampling stopped after %zu of %zu sweeps", done, o->steps);
    }
    if (!s) {
        const float *src = o->steps ? ebm_gibbs_visible_mean(g) : ebm_gibbs_visible(g);
        state = malloc(n * top->n_vis * sizeof *state);
        if (!state) s = ebm_fail(EBM_ENOMEM, "out of memory");
        else memcpy(state, src, n * top->n_vis * sizeof *state);
    }
    if (!s) s = ebm_dbn_down(d, state, n, below, out);
    free(state);
    ebm_mat_free(up);
    ebm_gibbs_free(g);
    return s;
}
