/* Pieces shared by the files of the layered models (the Bernoulli and the Gaussian-Bernoulli RBM): the
 * metadata every such file carries, written and read back in one place. */
#ifndef EBM_MODEL_INTERNAL_H
#define EBM_MODEL_INTERNAL_H

#include "core/internal.h"
#include "io/io_internal.h"

/* meta <- own (the model's metadata) plus ebm.model = kind, ebm.version, ebm.format, ebm.n_vis, ebm.n_hid and,
 * when height and width are set, ebm.image_shape. */
ebm_status ebm_model_meta_out(ebm_meta *meta, const ebm_meta *own, const char *kind, size_t n_vis, size_t n_hid,
                              size_t height, size_t width);
/* own <- every key of meta; *height, *width <- ebm.image_shape when present, which must be HxW with H W = n_vis
 * (else EBM_EFORMAT naming file). */
ebm_status ebm_model_meta_in(const ebm_meta *meta, const char *file, size_t n_vis, ebm_meta *own, size_t *height,
                             size_t *width);

#endif
