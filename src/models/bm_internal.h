/* The fully visible Boltzmann machine's struct and the local-field helpers shared by its model, sampler
 * and trainer files (never installed). */
#ifndef EBM_BM_INTERNAL_H
#define EBM_BM_INTERNAL_H

#include "models/model_internal.h"

struct ebm_bm {
    size_t n;
    ebm_bm_spins spins;
    float *params;            /* n*n + n: W (n, n) then b (n) */
    float *W, *b;
    size_t height, width;
    ebm_meta *meta;
};

/* 0 for {0,1}, -1 for {-1,+1}. */
static inline double ebm_bm_off(const ebm_bm *m) { return m->spins == EBM_BM_PM1 ? -1.0 : 0.0; }

/* h (n) = b + W x for one row x (n), in double. */
void ebm_bm_field_row(const ebm_bm *m, const float *x, double *h);
ebm_status ebm_bm_check_t(float T);
/* ebm_bm_gibbs and ebm_bm_pseudo_ll_grad with the caller's work space, so that a trainer allocates once
 * per run: hall (rows, n); res (rows, n), G (n, n), h (n), gbd (n). */
ebm_status ebm_bm_gibbs_ws(const ebm_bm *m, float *x, size_t rows, size_t sweeps, float T, ebm_bm_scan scan,
                           ebm_rng *rng, double *hall);
/* ebm_bm_gibbs_ws for chains row0 .. row0 + rows - 1 of a larger set: chain i draws from the stream of chain
 * row0 + i, so a process holding a slice of the chains draws what one process holding all would. */
ebm_status ebm_bm_gibbs_ws_at(const ebm_bm *m, float *x, size_t rows, size_t row0, size_t sweeps, float T,
                              ebm_bm_scan scan, ebm_rng *rng, double *hall);
ebm_status ebm_bm_pseudo_ll_grad_ws(const ebm_bm *m, const float *x, size_t rows, float *grad, float *res, float *G,
                                    double *h, double *gbd);

#endif
