/* Kernels of the Gaussian-Bernoulli RBM shared by its model, samplers, trainer and evaluators (never
 * installed).  Shapes: v (n, n_vis), h (n, n_hid), iv (n_vis) = 1 / sigma^2. */
#ifndef EBM_GRBM_INTERNAL_H
#define EBM_GRBM_INTERNAL_H

#include "core/internal.h"

/* iv (n_vis) = exp(-clamp(log_var)), var (n_vis) = exp(clamp(log_var)); either may be NULL. */
void grbm_variances(const ebm_grbm *m, float *iv, float *var);
/* out (n, n_hid) = (v o iv) W, without the bias; scratch is (n, n_vis). */
void grbm_pre_hidden(const ebm_grbm *m, const float *iv, const float *v, size_t n, float *scratch, float *out);
/* out (n, n_vis) = h W' + mu. */
void grbm_vis_mean(const ebm_grbm *m, const float *h, size_t n, float *out);
/* Free energy of one row at T from its hidden pre-activation pre (n_hid, no bias), in double. */
double grbm_fe_row(const ebm_grbm *m, const float *iv, const float *v, const float *pre, double T);
/* g (n, n_vis) = dF_T/dv given p (n, n_hid) = sigmoid((pre + b) / T): (v - mu) o iv - (p W') o iv. */
void grbm_grad_v(const ebm_grbm *m, const float *iv, const float *v, const float *p, size_t n, float *g);
/* Clamps log_var into its bounds (after an update). */
void grbm_clamp_logvar(ebm_grbm *m);



/* One transition of the chains (samplers/grbm_samplers.c): step t of a run of `total` steps (for the
 * Langevin sampler's annealed step size); t == 0 recomputes every cached quantity (the model may have
 * changed since the last call). */
/* The chains' visible states (n, n_vis), read-only, without invalidating cached quantities. */
const float *grbm_chains_v(const ebm_grbm_chains *c);
/* The chains are chains first .. first + n - 1 of a larger set (data-parallel training): chain r draws from
 * the streams of chain first + r, so a slice draws what the whole set would.  Default 0. */
void grbm_chains_set_first(ebm_grbm_chains *c, uint64_t first);
/* For resuming training: whether h is the joint state of v (Gibbs-Langevin keeps it across runs), and the
 * chains' whole state put back: v (n, n_vis), h (n, n_hid) with that flag; cached quantities are recomputed. */
int grbm_chains_h_valid(const ebm_grbm_chains *c);
void grbm_chains_restore(ebm_grbm_chains *c, const float *v, const float *h, int h_valid);
ebm_status grbm_chains_step(ebm_grbm_chains *c, const ebm_grbm_sample_opts *o, size_t t, size_t total, ebm_rng *rng);
#endif
