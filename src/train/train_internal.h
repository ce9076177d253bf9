/* Shared by the trainers (src/train): what the one-call train functions need from the loop (run.c). */
#ifndef EBM_TRAIN_INTERNAL_H
#define EBM_TRAIN_INTERNAL_H

#include "core/internal.h"

/* Calls fn (when not NULL) with the older trainers' progress (ebm_train_progress) made from ebm_run's p, with
 * recon as that trainer reported it; returns fn's answer (non-zero stops), 0 without fn. */
int ebm_run_call_progress(ebm_progress_fn fn, void *user, const ebm_run_progress *p, double recon);

/* Data-parallel steps: buf holds n_all rows of `width` floats, of which this process computed rows [lo, hi);
 * fills in the other processes' rows so that every process holds the same whole (c->allsum over rows that
 * are -0.0f outside each process's part: exact).  One process (c->allsum NULL): nothing to do. */
ebm_status ebm_step_gather(const ebm_step_ctx *c, float *buf, size_t lo, size_t hi, size_t n_all, size_t width);

/* For load_state of a trainer that holds rows r0 .. r0 + n - 1 of its state (a slice of persistent chains):
 * the float32 tensor `name` must hold exactly rows_all rows of `width` values (EBM_EFORMAT naming it
 * otherwise); those n rows are copied to out. */
ebm_status ebm_state_get_f32_rows(const ebm_tensors *t, const char *name, size_t rows_all, size_t width, size_t r0,
                                  size_t n, float *out);

#endif
