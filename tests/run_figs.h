/* The figures of a run's first eight updates (ebm_run's on_step), for tests that compare two runs. */
#ifndef EBM_TESTS_RUN_FIGS_H
#define EBM_TESTS_RUN_FIGS_H

#include "ebm.h"

typedef struct {
    double loss[8], e_pos[8], e_neg[8], extra[8];
    size_t n;
} run_figs;

static inline int keep_run_figs(const ebm_run_progress *p, void *user) {
    run_figs *f = user;
    if (f->n < 8) {
        f->loss[f->n] = p->last.loss;
        f->e_pos[f->n] = p->last.e_pos;
        f->e_neg[f->n] = p->last.e_neg;
        f->extra[f->n] = p->last.extra;
        f->n++;
    }
    return 0;
}

#endif
