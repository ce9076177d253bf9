/* Between the Langevin CD trainer (langevin_cd.c) and the trainers built on it (JEM, jem.c): an extra part
 * with its own name, state, start-of-run check and provenance, carried by the LCD trainer. */
#ifndef EBM_LCD_INTERNAL_H
#define EBM_LCD_INTERNAL_H

#include "core/internal.h"

typedef struct ebm_lcd_extra {
    int jem;                /* named "jem" rather than "lcd" */
    ebm_energy *owned;      /* an energy the trainer frees (NULL = borrowed) */
    void *state;            /* the extra loss's state (o->extra_user points at it) */
    ebm_status (*begin)(void *state, const ebm_mat *data, const int32_t *labels);
    ebm_status (*describe)(void *state, ebm_meta *meta);
    void (*destroy)(void *state);
    /* Optional (JEM): a weighted energy gradient from one forward and one backward, where the energy's own
     * calls would take two forwards (energy, then grad_params, whose weights need the energies) and the
     * extra loss a third forward and a second backward.  E (n) <- E(x_i); grad += sum_i w_i dE(x_i)/dtheta
     * with w_i = scale (sign + 2 alpha E_i) / n (the LCD weights); and where rows is not NULL (the data
     * batch), also the extra loss of those rows and its gradient at the same forward, the loss to *extra. */
    ebm_status (*weighted)(void *state, const float *x, const size_t *rows, size_t n, float sign, float alpha,
                           float scale, float *grad, float *E, double *extra);
    /* Optional (JEM's class negatives): *es <- the energy the negatives of global rows row0 .. are sampled
     * on, and whose weighted gradient `weighted` then takes for them (rows NULL). */
    ebm_status (*sampler)(void *state, size_t row0, ebm_energy **es);
} ebm_lcd_extra;

/* Class negatives cycle over the classes the data have: out (k) <- those of 0..k-1 with a row among labels (n),
 * ascending; returns their count (labels outside 0..k-1 are skipped).  The chain of global negative row r
 * samples class out[r mod count] (JEM's class energy) and starts from its Gaussian (the LCD trainer). */
size_t ebm_lcd_present_classes(const int32_t *labels, size_t n, size_t k, int32_t *out);

/* The LCD trainer of e with x's part (may be NULL); x->owned and x->state are freed with the trainer, also
 * when this fails. */
ebm_status ebm_lcd_trainer_make(ebm_energy *e, const ebm_lcd_opts *o, const ebm_lcd_extra *x, ebm_trainer **out);

/* The old one-call form over ebm_run: o's loop settings, o->on_iter mapped, the last negatives to neg_out. */
ebm_status ebm_lcd_run_wrapped(ebm_trainer *t, const ebm_mat *data, const int32_t *labels, const ebm_lcd_opts *o,
                               float *neg_out);

#endif
