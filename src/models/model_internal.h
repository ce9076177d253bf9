/* Pieces shared by the files of src/models: the metadata every layered model's file carries (the Bernoulli
 * and the Gaussian-Bernoulli RBM, the DBN, the BM), written and read back in one place, and the loaders
 * from tensors that the generic loader (model.c) calls. */
#ifndef EBM_MODEL_INTERNAL_H
#define EBM_MODEL_INTERNAL_H

#include "core/internal.h"
#include "io/io_internal.h"

/* The RBM's half-steps and free energy with their products at mm's precision (NULL: fp32, the public
 * functions); the caller has given mm the current W (ebm_mm_set_weights).  Row r draws from stream
 * (key, row0 + r): the rows are rows row0 .. of a larger set (0: the public functions). */
void ebm_rbm_sample_hidden_mm(const ebm_rbm *m, ebm_mm *mm, const float *v, size_t n, float T, uint64_t key,
                              uint64_t row0, float *prob, float *sample);
void ebm_rbm_sample_visible_mm(const ebm_rbm *m, ebm_mm *mm, const float *h, size_t n, float T, uint64_t key,
                               uint64_t row0, float *prob, float *sample);
ebm_status ebm_rbm_free_energy_mm(const ebm_rbm *m, ebm_mm *mm, const float *v, size_t n, float T, double *F);

/* meta <- own (the model's metadata) plus ebm.model = kind, ebm.version, ebm.format, ebm.n_vis, ebm.n_hid and,
 * when height and width are set, ebm.image_shape. */
ebm_status ebm_model_meta_out(ebm_meta *meta, const ebm_meta *own, const char *kind, size_t n_vis, size_t n_hid,
                              size_t height, size_t width);
/* own <- every key of meta; *height, *width <- ebm.image_shape when present, which must be HxW with H W = n_vis
 * (else EBM_EFORMAT naming file). */
ebm_status ebm_model_meta_in(const ebm_meta *meta, const char *file, size_t n_vis, ebm_meta *own, size_t *height,
                             size_t *width);

/* A structured model from a file's tensors (ebm_structured_load without the reading); name is used in messages. */
ebm_status ebm_structured_from_tensors(const ebm_tensors *t, const char *name, ebm_structured **out);
/* A composed model from its file's metadata, every part loaded (ebm_composed_load without the reading). */
ebm_status ebm_composed_from_meta(const ebm_meta *meta, const char *name, ebm_composed **out);
/* The input size its parts share (their energies' dim; check_parts holds them equal), 0 with no part loaded. */
size_t ebm_composed_input_size(const ebm_composed *c);

#endif
