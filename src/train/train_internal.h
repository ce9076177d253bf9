/* Shared by the trainers (src/train): what the one-call train functions need from the loop (run.c). */
#ifndef EBM_TRAIN_INTERNAL_H
#define EBM_TRAIN_INTERNAL_H

#include "core/internal.h"

/* Calls fn (when not NULL) with the older trainers' progress (ebm_train_progress) made from ebm_run's p, with
 * recon as that trainer reported it; returns fn's answer (non-zero stops), 0 without fn. */
int ebm_run_call_progress(ebm_progress_fn fn, void *user, const ebm_run_progress *p, double recon);

#endif
