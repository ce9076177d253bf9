/* JEM, the joint energy-based model of Grathwohl, Wang, Jacobsen, Duvenaud, Norouzi & Swersky (2020, "Your
 * classifier is secretly an energy based model and you should treat it like one", eq. 1-8): a classifier's
 * logits f(x) define p(y | x) = softmax(f(x)) and the energy E(x) = -log sum_y exp f(x)[y], so that
 * log p(x, y) = log p(y | x) + log p(x).  Training maximises both terms: the cross-entropy of p(y | x) by
 * backpropagation (dL/df = softmax - onehot), and log p(x) by Langevin contrastive divergence on E with a
 * replay buffer (src/train/langevin_cd.c), whose extra-loss seam carries the cross-entropy of each batch.
 * gen_weight = 0 in the options gives the purely discriminative baseline with the same network and data.
 * The trainer is the LCD trainer of E carrying the cross-entropy as its extra part (labels, provenance). */
#include "train/lcd_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ebm_net *net;
    const int32_t *labels; /* of the whole data set, indexed by row */
    int32_t *y;            /* (cap) labels of the current batch */
    size_t cap;
    float gen_weight;
    float *f;              /* (f_cap) logits, then dL/dlogits (ce_weighted) */
    size_t f_cap;
    int class_neg;         /* ebm_lcd_opts.class_negatives */
    ebm_energy *cls;       /* the class energy the negatives are sampled on (class_neg) */
    size_t row0;           /* of the negatives: row r of the call is global row row0 + r, class present[(row0 + r) mod np] */
    int32_t *present;      /* (k) the classes the data have, ascending (class_neg; ebm_lcd_present_classes) */
    size_t np;
} ce_ctx;

/* log sum exp of one row's logits r (k), with the row's largest logit *mx and z = sum exp(r - *mx). */
static double row_lse(const float *r, size_t k, float *mx, double *z) {
    float m = r[0];
    for (size_t j = 1; j < k; j++) m = r[j] > m ? r[j] : m;
    double s = 0;
    for (size_t j = 0; j < k; j++) s += exp((double)r[j] - m);
    *mx = m;
    *z = s;
    return log(s) + m;
}

/* Over that row (mx, z from row_lse), written over its logits: dL/df = -w softmax(f) and, where y < k, plus
 * the cross-entropy's (softmax(f) - onehot(y)) / n. */
static void row_grad(float *r, size_t k, float mx, double z, size_t y, double w, size_t n) {
    for (size_t j = 0; j < k; j++) {
        double p = exp((double)r[j] - mx) / z, d = -w * p;
        if (y < k) d += (p - (j == y)) / (double)n;
        r[j] = (float)d;
    }
}

ebm_status ebm_jem_cross_entropy(ebm_net *net, const float *x, const int32_t *y, size_t n, float *grad, double *loss) {
    size_t k = ebm_net_output_size(net);
    if (k < 2) return ebm_fail(EBM_EINVAL, "cross-entropy: the network has %zu output; a classifier needs at least 2", k);
    if (n == 0) return ebm_fail(EBM_EINVAL, "cross-entropy: no rows");
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || (size_t)y[i] >= k)
            return ebm_fail(EBM_EINVAL, "cross-entropy: label %d of row %zu is not a class in 0..%zu", (int)y[i], i, k - 1);
    float *f = ebm_calloc(n * k, sizeof(float));
    if (!f) return ebm_fail(EBM_ENOMEM, "out of memory");
    ebm_status s = ebm_net_forward(net, x, n, f);
    double total = 0;
    for (size_t i = 0; !s && i < n; i++) {
        float *r = f + i * k, mx;
        double z;
        total += row_lse(r, k, &mx, &z) - r[y[i]];
        row_grad(r, k, mx, z, (size_t)y[i], 0.0, n); /* dL/df = (softmax - onehot) / n */
    }
    if (!s && !isfinite(total)) s = ebm_fail(EBM_ENAN, "cross-entropy: a logit is not finite");
    if (!s && grad) s = ebm_net_backward(net, f, n, grad, NULL);
    if (!s && loss) *loss = total / (double)n;
    ebm_free(f);
    return s;
}

static ebm_status batch_ce(const float *x, const size_t *rows, size_t n, float *grad, double *loss, void *user) {
    ce_ctx *c = user;
    if (n > c->cap) {
        int32_t *y = realloc(c->y, n * sizeof(int32_t));
        if (!y) return ebm_fail(EBM_ENOMEM, "out of memory");
        c->y = y;
        c->cap = n;
    }
    for (size_t i = 0; i < n; i++) c->y[i] = c->labels[rows[i]];
    return ebm_jem_cross_entropy(c->net, x, c->y, n, grad, loss);
}

/* ebm_lcd_extra.weighted: one forward of the logits f (n, k), E_i = -logsumexp f_i, w_i as the LCD trainer
 * weighs it (its weights(), then the generative weight), and one backward of dL/df_i = w_i dE_i/df_i =
 * -w_i softmax(f_i), plus, on the data batch (rows), the cross-entropy's (softmax(f_i) - onehot(y_i)) / n. */
static ebm_status ce_weighted(void *state, const float *x, const size_t *rows, size_t n, float sign, float alpha,
                              float scale, float *grad, float *E, double *extra) {
    ce_ctx *c = state;
    const size_t k = ebm_net_output_size(c->net);
    if (n * k > c->f_cap) {
        float *f = ebm_calloc(n * k, sizeof(float));
        if (!f) return ebm_fail(EBM_ENOMEM, "out of memory");
        ebm_free(c->f);
        c->f = f;
        c->f_cap = n * k;
    }
    ebm_status s = ebm_net_forward(c->net, x, n, c->f);
    if (s) return s;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        float *r = c->f + i * k, mx = 0;
        double z = 0, lse = 0;
        /* a class negative's energy is -f[y'] (y' < k), else -log sum exp f */
        const size_t yn = !rows && c->class_neg ? (size_t)c->present[(c->row0 + i) % c->np] : k;
        if (yn < k) E[i] = -r[yn];
        else E[i] = (float)-(lse = row_lse(r, k, &mx, &z));
        float w = (sign + 2.0f * alpha * E[i]) / (float)n;
        w *= scale;
        if (yn < k) { /* dL/df = w dE/df = -w onehot(y') */
            for (size_t j = 0; j < k; j++) r[j] = j == yn ? -w : 0.0f;
            continue;
        }
        const size_t y = rows ? (size_t)c->labels[rows[i]] : k;
        if (rows) total += lse - r[y];
        row_grad(r, k, mx, z, y, w, n);
    }
    if (rows && !isfinite(total)) return ebm_fail(EBM_ENAN, "cross-entropy: a logit is not finite");
    if (rows) *extra = total / (double)n;
    return ebm_net_backward(c->net, c->f, n, grad, NULL);
}

/* ebm_lcd_extra.sampler (class negatives): the class energy whose row r has class present[(row0 + r) mod np],
 * made again when row0 mod np changes. */
static ebm_status ce_sampler(void *state, size_t row0, ebm_energy **es) {
    ce_ctx *c = state;
    const size_t k = c->np;
    if (!c->cls || c->row0 % k != row0 % k) {
        int32_t *cl = malloc(k * sizeof(int32_t));
        if (!cl) return ebm_fail(EBM_ENOMEM, "out of memory");
        for (size_t j = 0; j < k; j++) cl[j] = c->present[(row0 + j) % k];
        ebm_energy_free(c->cls);
        c->cls = NULL;
        ebm_status s = ebm_net_energy_class(c->net, cl, k, &c->cls);
        free(cl);
        if (s) return s;
    }
    c->row0 = row0;
    *es = c->cls;
    return EBM_OK;
}

static ebm_status ce_begin(void *state, const ebm_mat *data, const int32_t *labels) {
    ce_ctx *c = state;
    size_t k = ebm_net_output_size(c->net);
    if (!labels) return ebm_fail(EBM_EINVAL, "JEM: the data need labels");
    for (size_t i = 0; i < data->rows; i++)
        if (labels[i] < 0 || (size_t)labels[i] >= k)
            return ebm_fail(EBM_EINVAL, "JEM: label %d of row %zu is not a class in 0..%zu", (int)labels[i], i, k - 1);
    if (c->class_neg) { /* negatives cycle over the classes the data have (held-out-class data lack some) */
        free(c->present);
        if (!(c->present = malloc(k * sizeof(int32_t)))) return ebm_fail(EBM_ENOMEM, "out of memory");
        c->np = ebm_lcd_present_classes(labels, data->rows, k, c->present);
        ebm_energy_free(c->cls); /* made again for these classes */
        c->cls = NULL;
    }
    c->labels = labels;
    return EBM_OK;
}

static ebm_status ce_describe(void *state, ebm_meta *m) {
    ce_ctx *c = state;
    ebm_status s = ebm_meta_setf(m, "ebm.jem.classes", "%zu", ebm_net_output_size(c->net));
    if (!s) s = ebm_meta_set(m, "ebm.jem.objective", c->gen_weight > 0 ? "jem" : "clf");
    if (!s) s = ebm_meta_setf(m, "ebm.jem.gen_weight", "%g", (double)c->gen_weight);
    if (!s && c->class_neg) s = ebm_meta_set(m, "ebm.jem.negatives", "class");
    return s;
}

static void ce_free(void *state) {
    ce_ctx *c = state;
    if (c) free(c->y);
    if (c) ebm_free(c->f);
    if (c) ebm_energy_free(c->cls);
    if (c) free(c->present);
    free(c);
}

ebm_status ebm_jem_trainer_new(ebm_net *net, const ebm_lcd_opts *o, ebm_trainer **out) {
    *out = NULL;
    if (!net) return ebm_fail(EBM_EINVAL, "JEM: a network is required");
    size_t k = ebm_net_output_size(net);
    if (k < 2) return ebm_fail(EBM_EINVAL, "JEM: the network has %zu output; a classifier needs at least 2", k);
    ebm_energy *e;
    ebm_status s = ebm_net_energy(net, EBM_NET_HEAD_LOGSUMEXP, &e);
    if (s) return s;
    ce_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        ebm_energy_free(e);
        return ebm_fail(EBM_ENOMEM, "out of memory for a trainer");
    }
    c->net = net;
    c->gen_weight = o->gen_weight;
    c->class_neg = o->class_negatives;
    ebm_lcd_opts oo = *o;
    oo.extra_grad = batch_ce;
    oo.extra_user = c;
    oo.sn_net = net;
    ebm_lcd_extra x = {1, e, c, ce_begin, ce_describe, ce_free, ce_weighted, o->class_negatives ? ce_sampler : NULL};
    return ebm_lcd_trainer_make(e, &oo, &x, out);
}

ebm_status ebm_jem_train(ebm_net *net, const ebm_mat *data, const int32_t *labels, const ebm_lcd_opts *o) {
    if (!net || !data || !labels) return ebm_fail(EBM_EINVAL, "JEM: network, data and labels are required");
    ebm_trainer *t;
    ebm_status s = ebm_jem_trainer_new(net, o, &t);
    if (s) return s;
    s = ebm_lcd_run_wrapped(t, data, labels, o, NULL);
    ebm_trainer_free(t);
    return s;
}

/* The scores of one batch (n <= 256); E (n), g (n, d), f (n, k) are work space. */
static ebm_status score_batch(ebm_energy *e, ebm_net *net, const float *x, size_t n, double *s_e, double *s_p,
                              double *s_g, float *E, float *g, float *f) {
    size_t d = e->dim, k = ebm_net_output_size(net);
    ebm_status s = e->grad_x(e, x, n, E, g);
    if (!s) s = ebm_net_forward(net, x, n, f);
    for (size_t i = 0; !s && i < n; i++) {
        double gn = 0, mx = f[i * k], z = 0;
        for (size_t j = 0; j < d; j++) gn += (double)g[i * d + j] * g[i * d + j];
        for (size_t j = 1; j < k; j++) mx = f[i * k + j] > mx ? f[i * k + j] : mx;
        for (size_t j = 0; j < k; j++) z += exp(f[i * k + j] - mx);
        s_e[i] = -E[i];
        s_p[i] = 1.0 / z;
        s_g[i] = -sqrt(gn);
    }
    return s;
}

ebm_status ebm_jem_scores(ebm_net *net, const float *x, size_t n, double *log_px, double *max_p, double *grad_norm) {
    enum { CHUNK = 256 };
    size_t d = ebm_net_input_size(net), k = ebm_net_output_size(net);
    if (k < 2) return ebm_fail(EBM_EINVAL, "JEM scores: the network has %zu output; a classifier needs at least 2", k);
    ebm_energy *e;
    ebm_status s = ebm_net_energy(net, EBM_NET_HEAD_LOGSUMEXP, &e);
    if (s) return s;
    float *E = ebm_calloc(CHUNK, sizeof(float)), *g = ebm_calloc(CHUNK * d, sizeof(float));
    float *f = ebm_calloc(CHUNK * k, sizeof(float));
    if (!E || !g || !f) s = ebm_fail(EBM_ENOMEM, "out of memory for JEM scores");
    for (size_t i = 0; !s && i < n; i += CHUNK) {
        size_t m = n - i < CHUNK ? n - i : CHUNK;
        s = score_batch(e, net, x + i * d, m, log_px + i, max_p + i, grad_norm + i, E, g, f);
    }
    ebm_free(E);
    ebm_free(g);
    ebm_free(f);
    ebm_energy_free(e);
    return s;
}

ebm_status ebm_ood_fill(const char *name, int pm1, const float *x, uint64_t seed, float *xo, size_t n, size_t dim) {
    if (strcmp(name, "inverted") == 0) {
        for (size_t i = 0; i < n * dim; i++) xo[i] = pm1 ? -x[i] : 1.0f - x[i];
        return EBM_OK;
    }
    if (strcmp(name, "uniform") != 0 && strcmp(name, "gaussian") != 0)
        return ebm_fail(EBM_EINVAL, "'%s' is not an out-of-distribution set (uniform, gaussian, inverted)", name);
    ebm_noise z;
    ebm_noise_default(&z);
    z.lo = pm1 ? -1 : 0;
    z.hi = 1;
    if (name[0] == 'g') {
        z.kind = EBM_NOISE_GAUSSIAN;
        z.mean = pm1 ? 0.0f : 0.5f;
        z.sd = pm1 ? 0.5f : 0.25f;
    }
    ebm_status s = ebm_noise_fill(&z, seed ^ (uint64_t)name[0], xo, n, dim);
    if (!s && name[0] == 'g')
        for (size_t i = 0; i < n * dim; i++) xo[i] = xo[i] < z.lo ? z.lo : xo[i] > z.hi ? z.hi : xo[i];
    return s;
}

ebm_status ebm_jem_ood_auroc(ebm_net *net, const double *in, size_t n, const float *xo, size_t m, double auroc[3]) {
    double *so = ebm_calloc(3 * (m ? m : 1), sizeof(double));
    ebm_status s = so ? ebm_jem_scores(net, xo, m, so, so + m, so + 2 * m) : ebm_fail(EBM_ENOMEM, "out of memory");
    for (int j = 0; !s && j < 3; j++) s = ebm_metric_auroc(in + j * n, n, so + j * m, m, &auroc[j]);
    ebm_free(so);
    return s;
}
