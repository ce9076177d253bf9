/* The seam between the AIS driver (src/eval/ais.c) and a model's annealing path.  A model provides exact
 * draws from its tractable base distribution (beta = 0) and a step that adds a log ratio of unnormalised
 * densities and applies a transition that leaves the intermediate distribution invariant; the driver owns
 * the schedule, the random keys, progress, the log weights and their summary. */
#ifndef EBM_AIS_INTERNAL_H
#define EBM_AIS_INTERNAL_H

#include "core/internal.h"

typedef struct ais_path ais_path;
struct ais_path {
    size_t dim;        /* state size of one run */
    size_t run0;       /* the index of the first run among all (ebm_ais_opts.first_run): run i's streams */
    double log_z_base; /* exact log Z at beta = 0 */
    /* v (n, dim) <- independent exact draws from the base model, rows keyed by (key, row) */
    void (*sample_base)(ais_path *p, float *v, size_t n, uint64_t key);
    /* step k (from 0): logw[r] += log p*_{b1}(v_r) - log p*_{b0}(v_r); then, when move, v <- T_{b1}(v)
     * using keys k1, k2 */
    void (*step)(ais_path *p, size_t k, double b0, double b1, float *v, size_t n, double *logw, uint64_t k1,
                 uint64_t k2, int move);
    /* threads > 0: the runs are independent and step works on the calling thread's rows only, without
     * barriers, so the driver calls it from every thread of a parallel region of this many threads for
     * thousands of steps at a time (threads may be at different steps); 0: step parallelises itself */
    size_t threads;
};

/* Runs AIS along betas (nb increasing values from 0 to 1, as ebm_ais_resolve_betas returns them)
 * forward from base draws, or (reverse) backward from the states already in v (runs, dim).  logw (runs) is
 * work space and receives the log weights; res gets the summary with log Z of the beta = 1 model. */
ebm_status ebm_ais_drive(ais_path *p, const double *betas, size_t nb, int reverse, float *v, size_t runs,
                         const ebm_ais_opts *o, double *logw, ebm_ais_result *res);
/* Resolves o->betas / o->steps into a checked schedule; *own receives an allocation to free (or NULL). */
ebm_status ebm_ais_resolve_betas(const ebm_ais_opts *o, const double **betas, size_t *nb, double **own);
/* EBM_EINVAL unless 1 <= runs <= 2^20 (the bound every AIS entry point checks before it allocates). */
ebm_status ebm_ais_check_runs(size_t runs);

#endif
