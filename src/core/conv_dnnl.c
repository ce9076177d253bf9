/* Convolutions through oneDNN: the forward product (with its bias), the input gradient and, one sample at a
 * time, the weight and bias gradients of a conv layer, in fp32 or with bf16 operands (fp32 sums and results).
 * A network's layer uses this instead of im2col + GEMM wherever oneDNN is built in and accepts the shape
 * (src/models/net.c); the weight gradient serves the network's per-sample front, whose caller sums the
 * samples' gradients in their order.
 *
 * Measured on the default CNN's second layer (32 -> 64 channels, 14 x 14, 3 x 3; one thread, the reorders
 * to and from oneDNN's blocked layout included): forward + input gradient at 211 GFLOP/s in fp32 and 350 in
 * bf16, where im2col + OpenBLAS reaches about a quarter of the sgemm peak.  docs/benchmarks.md.
 *
 * Thread-count independence: every sample is one single-threaded execution of a primitive planned for one
 * image (minibatch 1), so a sample's sums depend neither on the thread count nor on the batch it comes in
 * (a slice of chains gets one process's bits, ebm.h "Slices").  Primitives are created by a thread whose own
 * thread count is 1 (oneDNN then plans for one thread) and run in an OpenMP region whose threads each set
 * theirs to 1, as in gemm_dnnl.c; the scratchpad is the caller's (user mode), one per thread, so threads
 * can run the same primitive at once.  The weights are reordered into the primitives' layouts at every call
 * (a few microseconds), so no cached copy can go stale. */
#include "internal.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef EBM_HAVE_DNNL

ebm_conv *ebm_conv_new(int bf16, size_t C, size_t H, size_t W, size_t O, size_t K, size_t S, size_t P, size_t Ho,
                       size_t Wo) {
    (void)bf16, (void)C, (void)H, (void)W, (void)O, (void)K, (void)S, (void)P, (void)Ho, (void)Wo;
    return NULL;
}
void ebm_conv_free(ebm_conv *c) { (void)c; }
ebm_status ebm_conv_forward(ebm_conv *c, const float *x, const float *Wt, const float *b, size_t n, float *y) {
    (void)c, (void)x, (void)Wt, (void)b, (void)n, (void)y;
    return ebm_fail(EBM_ENOTSUP, "oneDNN convolutions need oneDNN, absent from this build");
}
ebm_status ebm_conv_backward_data(ebm_conv *c, const float *g, const float *Wt, size_t n, float *dx) {
    (void)c, (void)g, (void)Wt, (void)n, (void)dx;
    return ebm_fail(EBM_ENOTSUP, "oneDNN convolutions need oneDNN, absent from this build");
}
const char *ebm_conv_impl(const ebm_conv *c) {
    (void)c;
    return "none";
}
ebm_status ebm_conv_prepare(ebm_conv *c, const float *Wt, int fwd, size_t slots) {
    (void)c, (void)Wt, (void)fwd, (void)slots;
    return ebm_fail(EBM_ENOTSUP, "oneDNN convolutions need oneDNN, absent from this build");
}
int ebm_conv_forward_one(ebm_conv *c, size_t slot, const float *x, const float *b, float *y) {
    (void)c, (void)slot, (void)x, (void)b, (void)y;
    return 0;
}
int ebm_conv_backward_data_one(ebm_conv *c, size_t slot, const float *g, float *dx) {
    (void)c, (void)slot, (void)g, (void)dx;
    return 0;
}
int ebm_conv_has_weight_gradient(const ebm_conv *c) {
    (void)c;
    return 0;
}
int ebm_conv_weight_gradient_one(ebm_conv *c, size_t slot, const float *x, const float *g, float *dW, float *db) {
    (void)c, (void)slot, (void)x, (void)g, (void)dW, (void)db;
    return 0;
}

#else

#include <oneapi/dnnl/dnnl.h>

/* What one thread needs to run the primitives: its stream, memory objects over the shared descriptors and
 * its own buffers for the blocked copies and the scratchpad. */
typedef struct {
    int ready;
    dnnl_stream_t stream;
    dnnl_memory_t xu, xb, yb, yu, gu, gb, dxb, dxu, wf, wb, bias, sp;
    dnnl_memory_t xw, gw, dw, dwu, dbu;  /* the weight gradient's operands, its result, the caller's rows */
    void *buf_x, *buf_y, *buf_sp; /* buf_x holds x or g blocked, buf_y y or dx blocked */
    void *buf_xw, *buf_gw, *buf_dw;
} conv_thr;

struct ebm_conv {
    int bf16;
    size_t in_size, out_size;
    double flops;                                 /* per sample and product: 2 O Ho Wo C K K */
    dnnl_engine_t eng;
    dnnl_stream_t stream;                         /* the caller's thread: weight reorders */
    dnnl_primitive_t fwd, bwd;
    dnnl_primitive_t bww, r_xw, r_gw, r_dw;       /* the weight gradient (NULL: oneDNN has no fast one) */
    dnnl_memory_desc_t md_xw, md_gw, md_dw;
    size_t sz_xw, sz_gw, sz_dw;
    dnnl_primitive_t r_x, r_y, r_g, r_dx, r_wf, r_wb; /* NULL where the layouts agree */
    dnnl_memory_desc_t md_xu, md_yu, md_wu, md_b, md_xb, md_yb, md_gb, md_dxb, md_wf, md_wb, md_sp;
    size_t sz_x, sz_y, sz_sp;
    void *wf, *wb;                                /* the weights in the primitives' layouts */
    dnnl_memory_t m_wu, m_wf, m_wb;               /* wf / wb are our buffers where r_wf / r_wb exist */
    size_t n_thr;
    conv_thr *thr;
    char impl[160];
};

static int ok(dnnl_status_t s) { return s == dnnl_success; }

/* A memory object over d with the buffer h (none yet when h is NULL). */
static int mem(dnnl_memory_t *m, const dnnl_memory_desc_t *d, dnnl_engine_t e, void *h) {
    return ok(dnnl_memory_create(m, d, e, h ? h : DNNL_MEMORY_NONE));
}

/* Destroys the primitives *p[0 .. n) that exist and clears them. */
static void drop(dnnl_primitive_t *const *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (*p[i]) dnnl_primitive_destroy(*p[i]), *p[i] = NULL;
}

/* Every primitive of c. */
static void drop_all(ebm_conv *c) {
    dnnl_primitive_t *const p[] = {&c->fwd, &c->bwd, &c->r_x,  &c->r_y,  &c->r_g,  &c->r_dx,
                                   &c->r_wf, &c->r_wb, &c->bww, &c->r_xw, &c->r_gw, &c->r_dw};
    drop(p, sizeof p / sizeof p[0]);
}

static void thr_clear(conv_thr *t) {
    dnnl_memory_t *m[] = {&t->xu, &t->xb, &t->yb, &t->yu, &t->gu, &t->gb, &t->dxb, &t->dxu, &t->wf, &t->wb,
                          &t->bias, &t->sp, &t->xw, &t->gw, &t->dw, &t->dwu, &t->dbu};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (*m[i]) dnnl_memory_destroy(*m[i]);
    if (t->stream) dnnl_stream_destroy(t->stream);
    ebm_free(t->buf_x);
    ebm_free(t->buf_y);
    ebm_free(t->buf_sp);
    ebm_free(t->buf_xw);
    ebm_free(t->buf_gw);
    ebm_free(t->buf_dw);
    memset(t, 0, sizeof *t);
}

void ebm_conv_free(ebm_conv *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n_thr; i++) thr_clear(&c->thr[i]);
    free(c->thr);
    if (c->r_wf) ebm_free(c->wf);
    if (c->r_wb) ebm_free(c->wb);
    drop_all(c);
    if (c->m_wu) dnnl_memory_destroy(c->m_wu);
    if (c->m_wf) dnnl_memory_destroy(c->m_wf);
    if (c->m_wb) dnnl_memory_destroy(c->m_wb);
    if (c->stream) dnnl_stream_destroy(c->stream);
    if (c->eng) dnnl_engine_destroy(c->eng);
    free(c);
}

static size_t sp_size(const_dnnl_primitive_desc_t pd) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    return md ? dnnl_memory_desc_get_size(md) : 0;
}

/* A primitive from pd (destroyed here) and the largest scratchpad so far. */
static int make_prim(dnnl_primitive_desc_t pd, dnnl_primitive_t *out, ebm_conv *c) {
    size_t s = sp_size(pd);
    if (s > c->sz_sp) {
        c->sz_sp = s;
        dnnl_memory_desc_t d;
        dnnl_dims_t dims = {(dnnl_dim_t)s};
        if (!ok(dnnl_memory_desc_init_by_tag(&d, 1, dims, dnnl_u8, dnnl_a))) return 0;
        c->md_sp = d;
    }
    int r = ok(dnnl_primitive_create(out, pd));
    dnnl_primitive_desc_destroy(pd);
    return r;
}

static dnnl_primitive_attr_t user_scratchpad(void) {
    dnnl_primitive_attr_t a = NULL;
    if (!ok(dnnl_primitive_attr_create(&a))) return NULL;
    if (!ok(dnnl_primitive_attr_set_scratchpad_mode(a, dnnl_scratchpad_mode_user))) {
        dnnl_primitive_attr_destroy(a);
        return NULL;
    }
    return a;
}

/* A reorder from -> to, or none (*out NULL) when the two layouts are the same. */
static int make_reorder(ebm_conv *c, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                        dnnl_primitive_t *out) {
    *out = NULL;
    if (dnnl_memory_desc_equal(from, to)) return 1;
    dnnl_primitive_attr_t a = user_scratchpad();
    dnnl_primitive_desc_t pd = NULL;
    int r = a && ok(dnnl_reorder_primitive_desc_create(&pd, from, c->eng, to, c->eng, a));
    if (a) dnnl_primitive_attr_destroy(a);
    return r && make_prim(pd, out, c);
}

/* The weight gradient's primitive and reorders, where oneDNN has fast kernels for it (else c->bww stays
 * NULL and the caller keeps its own weight gradient).  fpd is the forward's, the hint. */
static void weight_gradient(ebm_conv *c, const_dnnl_primitive_desc_t fpd, int plain, const dnnl_memory_desc_t *x_op,
                            const dnnl_memory_desc_t *g_op, const dnnl_dim_t *st, const dnnl_dim_t *pl,
                            const dnnl_dim_t *pr) {
    dnnl_memory_desc_t dw_any, x32, g32;
    dnnl_convolution_desc_t d;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t a = user_scratchpad();
    const char *impl = "ref";
    /* bf16 on NCHW data (a few input channels): oneDNN's bf16 kernels for this are 3x slower than its fp32
     * ones (0.075 against 0.025 ms per 28 x 28 image, one channel, 32 out), so this product stays fp32 */
    if (c->bf16 && plain && ok(dnnl_memory_desc_init_by_tag(&x32, 4, x_op->dims, dnnl_f32, dnnl_nchw)) &&
        ok(dnnl_memory_desc_init_by_tag(&g32, 4, g_op->dims, dnnl_f32, dnnl_nchw))) {
        x_op = &x32;
        g_op = &g32;
    }
    int r = a && ok(dnnl_memory_desc_init_by_tag(&dw_any, 4, c->md_wu.dims, dnnl_f32, dnnl_format_tag_any)) &&
            ok(dnnl_convolution_backward_weights_desc_init(&d, dnnl_convolution_direct, x_op, &dw_any, &c->md_b, g_op,
                                                           st, pl, pr)) &&
            ok(dnnl_primitive_desc_create(&pd, &d, a, c->eng, fpd)) &&
            ok(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl)) && strncmp(impl, "ref", 3) != 0;
    if (a) dnnl_primitive_attr_destroy(a);
    if (!r) {
        if (pd) dnnl_primitive_desc_destroy(pd);
        return;
    }
    c->md_xw = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    c->md_gw = *dnnl_primitive_desc_query_md(pd, dnnl_query_diff_dst_md, 0);
    c->md_dw = *dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0);
    c->sz_xw = dnnl_memory_desc_get_size(&c->md_xw);
    c->sz_gw = dnnl_memory_desc_get_size(&c->md_gw);
    c->sz_dw = dnnl_memory_desc_get_size(&c->md_dw);
    if (!make_prim(pd, &c->bww, c) || !make_reorder(c, &c->md_xu, &c->md_xw, &c->r_xw) ||
        !make_reorder(c, &c->md_yu, &c->md_gw, &c->r_gw) || !make_reorder(c, &c->md_dw, &c->md_wu, &c->r_dw)) {
        dnnl_primitive_t *const p[] = {&c->bww, &c->r_xw, &c->r_gw, &c->r_dw};
        drop(p, 4);
    }
}

/* Tries one layout: plain = NCHW activations (oneDNN's im2col-based kernels, best for a few input
 * channels), else the layouts the primitives choose (blocked, direct kernels).  A reference (slow)
 * implementation counts as a refusal. */
static int try_create(ebm_conv *c, int plain, size_t C, size_t H, size_t W, size_t O, size_t K, size_t S, size_t P,
                      size_t Ho, size_t Wo) {
    dnnl_data_type_t op = c->bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_format_tag_t act = plain ? dnnl_nchw : dnnl_format_tag_any;
    dnnl_dims_t xd = {1, (dnnl_dim_t)C, (dnnl_dim_t)H, (dnnl_dim_t)W}, yd = {1, (dnnl_dim_t)O, (dnnl_dim_t)Ho, (dnnl_dim_t)Wo};
    dnnl_dims_t wd = {(dnnl_dim_t)O, (dnnl_dim_t)C, (dnnl_dim_t)K, (dnnl_dim_t)K}, bd = {(dnnl_dim_t)O};
    dnnl_dims_t st = {(dnnl_dim_t)S, (dnnl_dim_t)S}, pl = {(dnnl_dim_t)P, (dnnl_dim_t)P};
    dnnl_dims_t pr = {(dnnl_dim_t)((Ho - 1) * S + K) - (dnnl_dim_t)(H + P),
                      (dnnl_dim_t)((Wo - 1) * S + K) - (dnnl_dim_t)(W + P)};
    dnnl_memory_desc_t x_op, y_f, w_op, g_op, dx_f;
    dnnl_convolution_desc_t fd, bdd;
    dnnl_primitive_desc_t fpd = NULL, bpd = NULL;
    dnnl_primitive_attr_t a = user_scratchpad();
    int r = a && ok(dnnl_memory_desc_init_by_tag(&c->md_xu, 4, xd, dnnl_f32, dnnl_nchw)) &&
            ok(dnnl_memory_desc_init_by_tag(&c->md_yu, 4, yd, dnnl_f32, dnnl_nchw)) &&
            ok(dnnl_memory_desc_init_by_tag(&c->md_wu, 4, wd, dnnl_f32, dnnl_oihw)) &&
            ok(dnnl_memory_desc_init_by_tag(&c->md_b, 1, bd, dnnl_f32, dnnl_a)) &&
            ok(dnnl_memory_desc_init_by_tag(&x_op, 4, xd, op, act)) &&
            ok(dnnl_memory_desc_init_by_tag(&y_f, 4, yd, dnnl_f32, act)) &&
            ok(dnnl_memory_desc_init_by_tag(&w_op, 4, wd, op, dnnl_format_tag_any)) &&
            ok(dnnl_memory_desc_init_by_tag(&g_op, 4, yd, op, act)) &&
            ok(dnnl_memory_desc_init_by_tag(&dx_f, 4, xd, dnnl_f32, act)) &&
            ok(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &x_op, &w_op,
                                                  &c->md_b, &y_f, st, pl, pr)) &&
            ok(dnnl_primitive_desc_create(&fpd, &fd, a, c->eng, NULL)) &&
            ok(dnnl_convolution_backward_data_desc_init(&bdd, dnnl_convolution_direct, &dx_f, &w_op, &g_op, st, pl,
                                                        pr)) &&
            ok(dnnl_primitive_desc_create(&bpd, &bdd, a, c->eng, fpd));
    if (a) dnnl_primitive_attr_destroy(a);
    const char *fi = "", *bi = "";
    if (r) {
        dnnl_primitive_desc_query(fpd, dnnl_query_impl_info_str, 0, &fi);
        dnnl_primitive_desc_query(bpd, dnnl_query_impl_info_str, 0, &bi);
        r = strncmp(fi, "ref", 3) != 0 && strncmp(bi, "ref", 3) != 0;
    }
    if (!r) {
        if (fpd) dnnl_primitive_desc_destroy(fpd);
        if (bpd) dnnl_primitive_desc_destroy(bpd);
        return 0;
    }
    snprintf(c->impl, sizeof c->impl, "%s / %s", fi, bi);
    c->md_xb = *dnnl_primitive_desc_query_md(fpd, dnnl_query_src_md, 0);
    c->md_yb = *dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0);
    c->md_wf = *dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0);
    c->md_gb = *dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_dst_md, 0);
    c->md_dxb = *dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_src_md, 0);
    c->md_wb = *dnnl_primitive_desc_query_md(bpd, dnnl_query_weights_md, 0);
    size_t a1 = dnnl_memory_desc_get_size(&c->md_xb), a2 = dnnl_memory_desc_get_size(&c->md_gb);
    size_t b1 = dnnl_memory_desc_get_size(&c->md_yb), b2 = dnnl_memory_desc_get_size(&c->md_dxb);
    c->sz_x = a1 > a2 ? a1 : a2;
    c->sz_y = b1 > b2 ? b1 : b2;
    weight_gradient(c, fpd, plain, &x_op, &g_op, st, pl, pr);
    if (!make_prim(fpd, &c->fwd, c)) {
        dnnl_primitive_desc_destroy(bpd);
        return 0;
    }
    return make_prim(bpd, &c->bwd, c) && make_reorder(c, &c->md_xu, &c->md_xb, &c->r_x) &&
           make_reorder(c, &c->md_yb, &c->md_yu, &c->r_y) && make_reorder(c, &c->md_yu, &c->md_gb, &c->r_g) &&
           make_reorder(c, &c->md_dxb, &c->md_xu, &c->r_dx) && make_reorder(c, &c->md_wu, &c->md_wf, &c->r_wf) &&
           make_reorder(c, &c->md_wu, &c->md_wb, &c->r_wb);
}

static int create(ebm_conv *c, size_t C, size_t H, size_t W, size_t O, size_t K, size_t S, size_t P, size_t Ho,
                  size_t Wo) {
    if (!ok(dnnl_engine_create(&c->eng, dnnl_cpu, 0)) ||
        !ok(dnnl_stream_create(&c->stream, c->eng, dnnl_stream_default_flags)))
        return 0;
    /* a few input channels: oneDNN's direct kernels want 16 per block and lose to its im2col kernels */
    int first_plain = C < 16;
    for (int t = 0; t < 2; t++) {
        int plain = t == 0 ? first_plain : !first_plain;
        if (try_create(c, plain, C, H, W, O, K, S, P, Ho, Wo)) break;
        drop_all(c);
        c->sz_sp = 0;
        if (t == 1) return 0;
    }
    /* the weights in the primitives' layouts: our buffers where a reorder is needed, else the caller's W */
    if (c->r_wf && !(c->wf = ebm_calloc(dnnl_memory_desc_get_size(&c->md_wf), 1))) return 0;
    if (c->r_wb && !(c->wb = ebm_calloc(dnnl_memory_desc_get_size(&c->md_wb), 1))) return 0;
    return mem(&c->m_wu, &c->md_wu, c->eng, NULL) && mem(&c->m_wf, &c->md_wf, c->eng, c->r_wf ? c->wf : NULL) &&
           mem(&c->m_wb, &c->md_wb, c->eng, c->r_wb ? c->wb : NULL);
}

ebm_conv *ebm_conv_new(int bf16, size_t C, size_t H, size_t W, size_t O, size_t K, size_t S, size_t P, size_t Ho,
                       size_t Wo) {
    ebm_conv *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->bf16 = bf16 != 0;
    c->in_size = C * H * W;
    c->out_size = O * Ho * Wo;
    c->flops = 2.0 * (double)c->out_size * (double)(C * K * K);
    int made = 0;
    /* planned by a thread whose own thread count is 1: oneDNN then plans every primitive for one thread */
#pragma omp parallel num_threads(1)
    {
        omp_set_num_threads(1);
        made = create(c, C, H, W, O, K, S, P, Ho, Wo);
    }
    if (made) return c;
    ebm_conv_free(c);
    return NULL;
}

const char *ebm_conv_impl(const ebm_conv *c) { return c ? c->impl : "none"; }

/* Thread slots for up to n threads (called outside any parallel region). */
static int ensure_thr(ebm_conv *c, size_t n) {
    if (n <= c->n_thr) return 1;
    conv_thr *t = realloc(c->thr, n * sizeof *t);
    if (!t) return 0;
    memset(t + c->n_thr, 0, (n - c->n_thr) * sizeof *t);
    c->thr = t;
    c->n_thr = n;
    return 1;
}

/* This thread's stream, memory objects and buffers (made on its first call). */
static int thr_ready(ebm_conv *c, conv_thr *t) {
    if (t->ready) return 1;
    dnnl_engine_t e = c->eng;
    int r = ok(dnnl_stream_create(&t->stream, e, dnnl_stream_default_flags)) &&
            (t->buf_x = ebm_calloc(c->sz_x ? c->sz_x : 1, 1)) && (t->buf_y = ebm_calloc(c->sz_y ? c->sz_y : 1, 1)) &&
            (!c->sz_sp || (t->buf_sp = ebm_calloc(c->sz_sp, 1))) && mem(&t->xu, &c->md_xu, e, NULL) &&
            mem(&t->xb, &c->md_xb, e, t->buf_x) && mem(&t->yb, &c->md_yb, e, t->buf_y) &&
            mem(&t->yu, &c->md_yu, e, NULL) && mem(&t->gu, &c->md_yu, e, NULL) &&
            mem(&t->gb, &c->md_gb, e, t->buf_x) && mem(&t->dxb, &c->md_dxb, e, t->buf_y) &&
            mem(&t->dxu, &c->md_xu, e, NULL) && mem(&t->wf, &c->md_wf, e, c->wf) && mem(&t->wb, &c->md_wb, e, c->wb) &&
            mem(&t->bias, &c->md_b, e, NULL) && (!c->sz_sp || mem(&t->sp, &c->md_sp, e, t->buf_sp)) &&
            (!c->bww || ((t->buf_xw = ebm_calloc(c->sz_xw, 1)) && (t->buf_gw = ebm_calloc(c->sz_gw, 1)) &&
                         (t->buf_dw = ebm_calloc(c->sz_dw, 1)) && mem(&t->xw, &c->md_xw, e, t->buf_xw) &&
                         mem(&t->gw, &c->md_gw, e, t->buf_gw) && mem(&t->dw, &c->md_dw, e, t->buf_dw) &&
                         mem(&t->dwu, &c->md_wu, e, NULL) && mem(&t->dbu, &c->md_b, e, NULL)));
    if (!r) thr_clear(t);
    t->ready = r;
    return r;
}

static int exec(dnnl_primitive_t p, dnnl_stream_t s, int n, const dnnl_exec_arg_t *args) {
    return ok(dnnl_primitive_execute(p, s, n, args));
}

static int reorder(dnnl_primitive_t p, dnnl_stream_t s, dnnl_memory_t from, dnnl_memory_t to, dnnl_memory_t sp) {
    dnnl_exec_arg_t a[3] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}, {DNNL_ARG_SCRATCHPAD, sp}};
    return exec(p, s, sp ? 3 : 2, a);
}

/* W (O, C, K, K) into the layout of the forward (fwd != 0) or the input-gradient primitive, on the caller's
 * thread before the samples' region (oneDNN may use its threads: a reorder's result does not depend on
 * them); a reorder that wants a scratchpad gets thread slot 0's, which is idle until the region. */
static int weights(ebm_conv *c, const float *Wt, int fwd) {
    dnnl_primitive_t r = fwd ? c->r_wf : c->r_wb;
    if (!r) {
        if (fwd) c->wf = (void *)Wt;
        else c->wb = (void *)Wt;
        return 1;
    }
    if (!ensure_thr(c, 1) || !thr_ready(c, &c->thr[0])) return 0;
    return ok(dnnl_memory_set_data_handle(c->m_wu, (void *)Wt)) &&
           reorder(r, c->stream, c->m_wu, fwd ? c->m_wf : c->m_wb, c->thr[0].sp) && ok(dnnl_stream_wait(c->stream));
}

ebm_status ebm_conv_prepare(ebm_conv *c, const float *Wt, int fwd, size_t slots) {
    if (!c) return ebm_fail(EBM_EINVAL, "no oneDNN convolution");
    if (!ensure_thr(c, slots ? slots : 1)) return ebm_fail(EBM_ENOMEM, "out of memory");
    if (!weights(c, Wt, fwd)) return ebm_fail(EBM_ENOMEM, "oneDNN convolution: the weights' reorder failed");
    return EBM_OK;
}

int ebm_conv_forward_one(ebm_conv *c, size_t slot, const float *x, const float *b, float *y) {
    if (slot >= c->n_thr || !thr_ready(c, &c->thr[slot])) return 0;
    conv_thr *t = &c->thr[slot];
    dnnl_memory_t src = c->r_x ? t->xb : t->xu, dst = c->r_y ? t->yb : t->yu;
    if (!ok(dnnl_memory_set_data_handle(t->xu, (void *)x)) || !ok(dnnl_memory_set_data_handle(t->yu, y)) ||
        !ok(dnnl_memory_set_data_handle(t->bias, (void *)b)) || !ok(dnnl_memory_set_data_handle(t->wf, c->wf)))
        return 0;
    if (c->r_x && !reorder(c->r_x, t->stream, t->xu, t->xb, t->sp)) return 0;
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, t->wf}, {DNNL_ARG_BIAS, t->bias},
                               {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, t->sp}};
    if (!exec(c->fwd, t->stream, t->sp ? 5 : 4, args)) return 0;
    if (c->r_y && !reorder(c->r_y, t->stream, t->yb, t->yu, t->sp)) return 0;
    return ok(dnnl_stream_wait(t->stream));
}

int ebm_conv_backward_data_one(ebm_conv *c, size_t slot, const float *g, float *dx) {
    if (slot >= c->n_thr || !thr_ready(c, &c->thr[slot])) return 0;
    conv_thr *t = &c->thr[slot];
    dnnl_memory_t src = c->r_g ? t->gb : t->gu, dst = c->r_dx ? t->dxb : t->dxu;
    if (!ok(dnnl_memory_set_data_handle(t->gu, (void *)g)) || !ok(dnnl_memory_set_data_handle(t->dxu, dx)) ||
        !ok(dnnl_memory_set_data_handle(t->wb, c->wb)))
        return 0;
    if (c->r_g && !reorder(c->r_g, t->stream, t->gu, t->gb, t->sp)) return 0;
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_DIFF_DST, src}, {DNNL_ARG_WEIGHTS, t->wb}, {DNNL_ARG_DIFF_SRC, dst},
                               {DNNL_ARG_SCRATCHPAD, t->sp}};
    if (!exec(c->bwd, t->stream, t->sp ? 4 : 3, args)) return 0;
    if (c->r_dx && !reorder(c->r_dx, t->stream, t->dxb, t->dxu, t->sp)) return 0;
    return ok(dnnl_stream_wait(t->stream));
}

int ebm_conv_has_weight_gradient(const ebm_conv *c) { return c && c->bww; }

int ebm_conv_weight_gradient_one(ebm_conv *c, size_t slot, const float *x, const float *g, float *dW, float *db) {
    if (!c->bww || slot >= c->n_thr || !thr_ready(c, &c->thr[slot])) return 0;
    conv_thr *t = &c->thr[slot];
    dnnl_memory_t src = c->r_xw ? t->xw : t->xu, dd = c->r_gw ? t->gw : t->gu, dst = c->r_dw ? t->dw : t->dwu;
    if (!ok(dnnl_memory_set_data_handle(t->xu, (void *)x)) || !ok(dnnl_memory_set_data_handle(t->gu, (void *)g)) ||
        !ok(dnnl_memory_set_data_handle(t->dwu, dW)) || !ok(dnnl_memory_set_data_handle(t->dbu, db)))
        return 0;
    if (c->r_xw && !reorder(c->r_xw, t->stream, t->xu, t->xw, t->sp)) return 0;
    if (c->r_gw && !reorder(c->r_gw, t->stream, t->gu, t->gw, t->sp)) return 0;
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, dd}, {DNNL_ARG_DIFF_WEIGHTS, dst},
                               {DNNL_ARG_DIFF_BIAS, t->dbu}, {DNNL_ARG_SCRATCHPAD, t->sp}};
    if (!exec(c->bww, t->stream, t->sp ? 5 : 4, args)) return 0;
    if (c->r_dw && !reorder(c->r_dw, t->stream, t->dw, t->dwu, t->sp)) return 0;
    return ok(dnnl_stream_wait(t->stream));
}

/* Below this many multiply-adds per call one thread does all the samples. */
#define PAR_MIN_FLOPS 262144.0

/* The batch calls: in (n rows) -> out (n rows) through the forward (fwd != 0, b the bias) or the input
 * gradient, one sample per step of a loop over the caller's threads, each with its own thread count 1. */
static ebm_status run(ebm_conv *c, int fwd, const float *in, const float *Wt, const float *b, size_t n, float *out) {
    if (!c) return ebm_fail(EBM_EINVAL, "no oneDNN convolution");
    if (n == 0) return EBM_OK;
    int nt = omp_get_max_threads();
    if (c->flops * (double)n < PAR_MIN_FLOPS || nt < 1) nt = 1;
    if ((size_t)nt > n) nt = (int)n;
    ebm_status s = ebm_conv_prepare(c, Wt, fwd, (size_t)nt);
    if (s) return s;
    const size_t isz = fwd ? c->in_size : c->out_size, osz = fwd ? c->out_size : c->in_size;
    int failed = 0;
#pragma omp parallel num_threads(nt) reduction(| : failed)
    {
        omp_set_num_threads(1); /* this thread's own setting, for this region only: oneDNN runs 1 thread */
        size_t slot = (size_t)omp_get_thread_num();
        int good = 1;
        /* dynamic: a thread whose core is shared with another process takes fewer samples (each sample's
         * result is the same whichever thread computes it) */
#pragma omp for schedule(dynamic, 1)
        for (size_t i = 0; i < n; i++)
            if (good)
                good = fwd ? ebm_conv_forward_one(c, slot, in + i * isz, b, out + i * osz)
                           : ebm_conv_backward_data_one(c, slot, in + i * isz, out + i * osz);
        failed |= !good;
    }
    return failed ? ebm_fail(EBM_ENOMEM, "oneDNN convolution (%s) failed", fwd ? "forward" : "input gradient")
                  : EBM_OK;
}

ebm_status ebm_conv_forward(ebm_conv *c, const float *x, const float *Wt, const float *b, size_t n, float *y) {
    return run(c, 1, x, Wt, b, n, y);
}

ebm_status ebm_conv_backward_data(ebm_conv *c, const float *g, const float *Wt, size_t n, float *dx) {
    return run(c, 0, g, Wt, NULL, n, dx);
}

#endif
