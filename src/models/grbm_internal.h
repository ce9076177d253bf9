/* Kernels of the Gaussian-Bernoulli RBM shared by its model, samplers, trainer and evaluators (never
 * installed).  Shapes: v (n, n_vis), h (n, n_hid), iv (n_vis) = 1 / sigma^2. */
#ifndef EBM_GRBM_INTERNAL_H
#define EBM_GRBM_INTERNAL_H

#include "core/internal.h"

/* iv (n_vis) = exp(-clamp(log_var)), var (n_vis) = exp(clamp(log_var)); either may be NULL. */
void grbm_variances(const ebm_grbm *m, float *iv, float *var);
/* out (n, n_hid) = (v o iv) W, without the bias; scratch is (n, n_vis).  mm: the product's precision (NULL:
 * fp32; a bf16 mm must have been given m->W by ebm_mm_set_weights since W last changed). */
void grbm_pre_hidden(const ebm_grbm *m, ebm_mm *mm, const float *iv, const float *v, size_t n, float *scratch,
                     float *out);
/* out (n, n_vis) = h W' + mu (mm as above). */
void grbm_vis_mean(const ebm_grbm *m, ebm_mm *mm, const float *h, size_t n, float *out);
/* Free energy of one row at T from its hidden pre-activation pre (n_hid, no bias), in double. */
double grbm_fe_row(const ebm_grbm *m, const float *iv, const float *v, const float *pre, double T);
/* g (n, n_vis) = dF_T/dv given p (n, n_hid) = sigmoid((pre + b) / T): (v - mu) o iv - (p W') o iv. */
void grbm_grad_v(const ebm_grbm *m, ebm_mm *mm, const float *iv, const float *v, const float *p, size_t n, float *g);
/* The free-energy gradient of many weighted rows at once (the trainer: the batch and every chain state of an
 * update, then one product for W).  The coupling term of d/dlog_var_i, sum_r w_r (v_ri iv_i) (p_r W')_i,
 * equals sum_j W_ij M_ij with M = (v o iv)' (w o p), the matrix the W gradient needs anyway, so no p W'
 * product is made.  Rows are added with grbm_gacc_add (at most cap in all; the sums are in double, in row
 * order) and grbm_gacc_finish adds grad += the descent direction of sum_r w_r F(v_r) and empties a. */
typedef struct grbm_gacc {
    size_t cap, n;
    float *iv;            /* (n_vis) 1 / sigma^2 of the model when the rows were added */
    float *sc, *wp;       /* (cap, n_vis) v o iv, (cap, n_hid) w o p(h = 1 | v) */
    float *M;             /* (n_vis, n_hid) */
    double *amu, *alv, *ab;
} grbm_gacc;
ebm_status grbm_gacc_new(const ebm_grbm *m, size_t cap, grbm_gacc *a);
void grbm_gacc_free(grbm_gacc *a);
/* Adds rows v (n, n_vis) with weights wt (NULL: 1) at T = 1; pre (n, n_hid) = (v o iv) W of these rows
 * without the bias when the caller has it, else NULL (computed).  The model must not change between the
 * first add and the finish (the first add after a finish takes iv from it).  a->n + n <= a->cap. */
void grbm_gacc_add(const ebm_grbm *m, grbm_gacc *a, const float *v, const float *pre, size_t n, const float *wt);
void grbm_gacc_finish(const ebm_grbm *m, grbm_gacc *a, float *grad);
/* Clamps log_var into its bounds (after an update). */
void grbm_clamp_logvar(ebm_grbm *m);

/* The chains' visible states (n, n_vis), read-only, without invalidating cached quantities. */
const float *grbm_chains_v(const ebm_grbm_chains *c);
/* The chains are chains first .. first + n - 1 of a larger set (data-parallel training): chain r draws from
 * the streams of chain first + r, so a slice draws what the whole set would.  Default 0. */
void grbm_chains_set_first(ebm_grbm_chains *c, uint64_t first);
/* For resuming training: whether h is the joint state of v (Gibbs-Langevin keeps it across runs), and the
 * chains' whole state put back: v (n, n_vis), h (n, n_hid) with that flag; cached quantities are recomputed. */
int grbm_chains_h_valid(const ebm_grbm_chains *c);
void grbm_chains_restore(ebm_grbm_chains *c, const float *v, const float *h, int h_valid);
/* The chains' pre-activations (n, n_hid) = (v o iv) W of their current v without the bias, when the last
 * step left them current (Langevin, Gibbs-Langevin), else NULL (Gibbs draws v after them). */
const float *grbm_chains_pre(const ebm_grbm_chains *c);
/* EBM_EINVAL (with a message) unless o is a valid set of sampler options; EBM_ENOTSUP for bf16 without
 * oneDNN.  ebm_grbm_chains_run and the GRBM trainer check their options with it. */
ebm_status grbm_sample_opts_check(const ebm_grbm_sample_opts *o);
/* Makes the chains' products run at o->precision (ebm_grbm_chains_run does it; a trainer calls it once before
 * its steps): EBM_ENOTSUP for bf16 where oneDNN is not built in, EBM_EINVAL for an unknown value. */
ebm_status grbm_chains_prepare(ebm_grbm_chains *c, const ebm_grbm_sample_opts *o);
/* One transition of the chains (samplers/grbm_samplers.c): step t of a run of `total` steps (for the
 * Langevin sampler's annealed step size); t == 0 recomputes every cached quantity (the model may have
 * changed since the last call) and, in bf16, the bf16 copy of W (EBM_ENOMEM when it cannot). */
ebm_status grbm_chains_step(ebm_grbm_chains *c, const ebm_grbm_sample_opts *o, size_t t, size_t total, ebm_rng *rng);
#endif
