/* TEMPORARY stub until the io branch lands: not committed */
#include "core/internal.h"
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
struct ebm_meta { int n; char *k[64]; char *v[64]; };
ebm_status ebm_meta_new(ebm_meta **out) { *out = calloc(1, sizeof **out); return EBM_OK; }
void ebm_meta_free(ebm_meta *m) { if (!m) return; for (int i = 0; i < m->n; i++) { free(m->k[i]); free(m->v[i]); } free(m); }
ebm_status ebm_meta_set(ebm_meta *m, const char *k, const char *v) { for (int i=0;i<m->n;i++) if(!strcmp(m->k[i],k)){free(m->v[i]);m->v[i]=strdup(v);return EBM_OK;} m->k[m->n]=strdup(k); m->v[m->n++]=strdup(v); return EBM_OK; }
ebm_status ebm_meta_setf(ebm_meta *m, const char *k, const char *fmt, ...) { char b[512]; va_list ap; va_start(ap, fmt); vsnprintf(b, sizeof b, fmt, ap); va_end(ap); return ebm_meta_set(m, k, b); }
const char *ebm_meta_get(const ebm_meta *m, const char *k) { for (int i=0;i<m->n;i++) if(!strcmp(m->k[i],k)) return m->v[i]; return NULL; }
size_t ebm_meta_count(const ebm_meta *m) { return m->n; }
void ebm_meta_at(const ebm_meta *m, size_t i, const char **k, const char **v) { *k = m->k[i]; *v = m->v[i]; }
ebm_status ebm_meta_copy(ebm_meta *d, const ebm_meta *s) { for (int i=0;i<s->n;i++) ebm_meta_set(d, s->k[i], s->v[i]); return EBM_OK; }
ebm_status ebm_mat_check_range(const ebm_mat *m, float lo, float hi, const char *what) { for (size_t i=0;i<m->rows*m->cols;i++) if (!(m->data[i]>=lo && m->data[i]<=hi)) return ebm_fail(EBM_EINVAL, "%s: out of range", what); return EBM_OK; }
ebm_meta *ebm_tensors_meta(ebm_tensors *t) { (void)t; return NULL; }
const ebm_meta *ebm_tensors_meta_const(const ebm_tensors *t) { (void)t; return NULL; }
ebm_status ebm_tensors_put(ebm_tensors *t, const char *name, ebm_dtype dtype, int ndim, const size_t *shape, const void *data) { (void)t;(void)name;(void)dtype;(void)ndim;(void)shape;(void)data; return EBM_ENOTSUP; }
const ebm_array *ebm_tensors_get(const ebm_tensors *t, const char *name) { (void)t; (void)name; return NULL; }
ebm_status ebm_tensors_new(ebm_tensors **out) { *out = NULL; return EBM_ENOTSUP; }
void ebm_tensors_free(ebm_tensors *t) { (void)t; }
ebm_status ebm_safetensors_write(const char *path, const ebm_tensors *t) { (void)path; (void)t; return EBM_ENOTSUP; }
ebm_status ebm_safetensors_read(const char *path, ebm_tensors **t) { (void)path; *t = NULL; return EBM_ENOTSUP; }
ebm_status ebm_array_to_mat(const ebm_array *a, ebm_mat **out) { (void)a; *out = NULL; return EBM_ENOTSUP; }
