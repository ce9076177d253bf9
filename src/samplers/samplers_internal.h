/* Seams of the samplers (src/samplers) for the trainers and for each other, never installed. */
#ifndef EBM_SAMPLERS_INTERNAL_H
#define EBM_SAMPLERS_INTERNAL_H

#include "core/internal.h"

/* ebm_mcmc_run for chains first .. first + n - 1 of a larger set: chain i draws from the streams of chain
 * first + i, so a process that moves a slice of the chains draws what one process moving all of them would
 * (data-parallel training).  first 0: ebm_mcmc_run. */
ebm_status ebm_mcmc_run_at(ebm_energy *e, float *x, size_t n, uint64_t first, const ebm_mcmc_opts *o,
                           ebm_mcmc_stats *stats);

/* EBM_OK when chains first .. first + count - 1 lie within a set of total, else EBM_EINVAL saying so (the
 * slices of ebm.h PART 5). */
ebm_status ebm_slice_check(size_t first, size_t count, size_t total);

#endif
