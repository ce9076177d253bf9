/* Energies over inputs and discrete outputs for structured prediction (LeCun et al. 2006, "A tutorial on
 * energy-based learning", sections 2 and 7): a K-class energy E(x, y) = s(g(x)[y]) from a network g with K
 * outputs, and a chain energy E(x, y) = sum_t U[t, y_t] + sum_t P[y_t, y_{t+1}] with U[t, .] = s(g(x_t)) and
 * P = s(P_raw), s the output map (identity, softplus or 1/2 u^2).  Inference on a chain is min-sum dynamic
 * programming (Viterbi); the forward algorithm in the log domain (double) gives log Z_beta = log sum_y
 * e^(-beta E(y)) and, with the backward pass, the Gibbs marginals; forward and backward min-sum passes give
 * the min-marginals min_{y: y_t = a} E(y), whose minimum over a != y_t and all t is the lowest energy of a
 * sequence other than y (the most offending incorrect answer, exactly).  Also: relaxed inference on the
 * simplex by exponentiated gradient, a Markov-chain toy task, and the model's file. */
#include "core/internal.h"
#include "io/io_internal.h"
#include "models/model_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- chains ---- */

/* Work space of the chain routines: on the stack for the usual sizes (a K-class row, a short chain), so
 * that training, which calls them for every row, does not allocate; on the heap beyond. */
#define CHAIN_STACK 1024
typedef struct {
    double d[CHAIN_STACK];
    int32_t i[CHAIN_STACK];
    double *dp;
    int32_t *ip;
} chain_ws;

static ebm_status ws_get(chain_ws *w, size_t nd, size_t ni) {
    w->dp = nd <= CHAIN_STACK ? w->d : malloc(nd * sizeof(double));
    w->ip = ni <= CHAIN_STACK ? w->i : malloc((ni ? ni : 1) * sizeof(int32_t));
    if (w->dp && w->ip) return EBM_OK;
    if (w->dp != w->d) free(w->dp);
    if (w->ip != w->i) free(w->ip);
    return ebm_fail(EBM_ENOMEM, "out of memory for a chain of %zu values", nd);
}

static void ws_put(chain_ws *w) {
    if (w->dp != w->d) free(w->dp);
    if (w->ip != w->i) free(w->ip);
}

static double pair_at(const float *P, size_t k, size_t a, size_t b) { return P ? (double)P[a * k + b] : 0.0; }

double ebm_chain_energy(const float *U, const float *P, size_t len, size_t k, const int32_t *y) {
    double e = 0;
    for (size_t t = 0; t < len; t++) {
        e += U[t * k + (size_t)y[t]];
        if (t + 1 < len) e += pair_at(P, k, (size_t)y[t], (size_t)y[t + 1]);
    }
    return e;
}

/* Min-sum passes.  fa (len, k): fa[t][a] = min energy of y_0..y_t with y_t = a (unaries 0..t included), pa its
 * arg min predecessor; fb (len, k) when not NULL: fb[t][a] = min energy of y_{t+1}.. given y_t = a (pairs from
 * t on), pb its arg min successor.  min over y with y_t = a of E(y) = fa[t][a] + fb[t][a]. */
static void minsum(const float *U, const float *P, size_t len, size_t k, double *fa, int32_t *pa, double *fb,
                   int32_t *pb) {
    for (size_t a = 0; a < k; a++) fa[a] = U[a], pa[a] = -1;
    for (size_t t = 1; t < len; t++)
        for (size_t a = 0; a < k; a++) {
            double best = INFINITY;
            int32_t arg = 0;
            for (size_t j = 0; j < k; j++) {
                double v = fa[(t - 1) * k + j] + pair_at(P, k, j, a);
                if (v < best) best = v, arg = (int32_t)j;
            }
            fa[t * k + a] = best + U[t * k + a];
            pa[t * k + a] = arg;
        }
    if (!fb) return;
    for (size_t a = 0; a < k; a++) fb[(len - 1) * k + a] = 0, pb[(len - 1) * k + a] = -1;
    for (size_t t = len - 1; t-- > 0;)
        for (size_t a = 0; a < k; a++) {
            double best = INFINITY;
            int32_t arg = 0;
            for (size_t j = 0; j < k; j++) {
                double v = pair_at(P, k, a, j) + U[(t + 1) * k + j] + fb[(t + 1) * k + j];
                if (v < best) best = v, arg = (int32_t)j;
            }
            fb[t * k + a] = best;
            pb[t * k + a] = arg;
        }
}

static ebm_status chain_args(const float *U, size_t len, size_t k, const char *what) {
    if (!U || len == 0 || k == 0) return ebm_fail(EBM_EINVAL, "%s: empty chain (length %zu, %zu labels)", what, len, k);
    size_t n;
    if (!ebm_mul_ok(len, k, &n)) return ebm_fail(EBM_ENOMEM, "%s: chain too large", what);
    return EBM_OK;
}

ebm_status ebm_chain_viterbi(const float *U, const float *P, size_t len, size_t k, int32_t *y, double *E) {
    ebm_status s = chain_args(U, len, k, "Viterbi");
    if (s) return s;
    chain_ws w;
    if ((s = ws_get(&w, len * k, len * k))) return s;
    double *fa = w.dp;
    int32_t *pa = w.ip;
    minsum(U, P, len, k, fa, pa, NULL, NULL);
    size_t best = 0;
    for (size_t a = 1; a < k; a++)
        if (fa[(len - 1) * k + a] < fa[(len - 1) * k + best]) best = a;
    if (E) *E = fa[(len - 1) * k + best];
    y[len - 1] = (int32_t)best;
    for (size_t t = len - 1; t > 0; t--) y[t - 1] = pa[t * k + (size_t)y[t]];
    ws_put(&w);
    return EBM_OK;
}

ebm_status ebm_chain_most_offending(const float *U, const float *P, size_t len, size_t k, const int32_t *y,
                                    int32_t *ybar, double *Ebar) {
    ebm_status s = chain_args(U, len, k, "most offending answer");
    if (s) return s;
    if (k < 2) return ebm_fail(EBM_EINVAL, "most offending answer: one label leaves no incorrect answer");
    chain_ws w;
    if ((s = ws_get(&w, 2 * len * k, 2 * len * k))) return s;
    double *f = w.dp;
    int32_t *p = w.ip;
    double *fa = f, *fb = f + len * k;
    int32_t *pa = p, *pb = p + len * k;
    minsum(U, P, len, k, fa, pa, fb, pb);
    double best = INFINITY;
    size_t bt = 0, ba = y[0] == 0 ? 1 : 0;
    for (size_t t = 0; t < len; t++)
        for (size_t a = 0; a < k; a++) {
            if ((int32_t)a == y[t]) continue;
            double v = fa[t * k + a] + fb[t * k + a];
            if (v < best) best = v, bt = t, ba = a;
        }
    ybar[bt] = (int32_t)ba;
    for (size_t t = bt; t > 0; t--) ybar[t - 1] = pa[t * k + (size_t)ybar[t]];
    for (size_t t = bt; t + 1 < len; t++) ybar[t + 1] = pb[t * k + (size_t)ybar[t]];
    if (Ebar) *Ebar = best;
    ws_put(&w);
    return EBM_OK;
}

static double lse(const double *v, size_t n) {
    double m = -INFINITY, z = 0;
    for (size_t i = 0; i < n; i++) m = v[i] > m ? v[i] : m;
    if (!isfinite(m)) return m;
    for (size_t i = 0; i < n; i++) z += exp(v[i] - m);
    return m + log(z);
}

ebm_status ebm_chain_forward(const float *U, const float *P, size_t len, size_t k, double beta, double *log_z,
                             double *mu, double *xi) {
    ebm_status s = chain_args(U, len, k, "forward algorithm");
    if (s) return s;
    if (!(beta > 0) || !isfinite(beta)) return ebm_fail(EBM_EINVAL, "forward algorithm: beta must be positive, got %g", beta);
    chain_ws w;
    if ((s = ws_get(&w, 2 * len * k + k, 0))) return s;
    double *a = w.dp;
    double *b = a + len * k, *tmp = b + len * k;
    /* a[t][j] = log sum over y_0..y_t with y_t = j of e^(-beta (energy up to t)); b[t][j] the rest given y_t = j */
    for (size_t j = 0; j < k; j++) a[j] = -beta * U[j];
    for (size_t t = 1; t < len; t++)
        for (size_t j = 0; j < k; j++) {
            for (size_t i = 0; i < k; i++) tmp[i] = a[(t - 1) * k + i] - beta * pair_at(P, k, i, j);
            a[t * k + j] = lse(tmp, k) - beta * U[t * k + j];
        }
    double lz = lse(a + (len - 1) * k, k);
    if (!isfinite(lz)) {
        ws_put(&w);
        return ebm_fail(EBM_ENAN, "forward algorithm: log Z is not finite (an energy is not finite)");
    }
    *log_z = lz;
    if (mu || xi) {
        for (size_t j = 0; j < k; j++) b[(len - 1) * k + j] = 0;
        for (size_t t = len - 1; t-- > 0;)
            for (size_t i = 0; i < k; i++) {
                for (size_t j = 0; j < k; j++)
                    tmp[j] = -beta * (pair_at(P, k, i, j) + U[(t + 1) * k + j]) + b[(t + 1) * k + j];
                b[t * k + i] = lse(tmp, k);
            }
        if (mu)
            for (size_t i = 0; i < len * k; i++) mu[i] = exp(a[i] + b[i] - lz);
        if (xi) {
            memset(xi, 0, k * k * sizeof(double));
            for (size_t t = 0; t + 1 < len; t++)
                for (size_t i = 0; i < k; i++)
                    for (size_t j = 0; j < k; j++)
                        xi[i * k + j] += exp(a[t * k + i] - beta * (pair_at(P, k, i, j) + U[(t + 1) * k + j]) +
                                             b[(t + 1) * k + j] - lz);
        }
    }
    ws_put(&w);
    return EBM_OK;
}

/* ---- relaxed inference ---- */

ebm_status ebm_structured_relaxed_infer(const float *E, size_t k, float T, float eta, size_t steps, float *q) {
    if (k == 0) return ebm_fail(EBM_EINVAL, "relaxed inference: no labels");
    if (!(T > 0) || !(eta > 0)) return ebm_fail(EBM_EINVAL, "relaxed inference: T and eta must be positive (got %g, %g)", (double)T, (double)eta);
    double *lq = malloc(k * sizeof(double));
    if (!lq) return ebm_fail(EBM_ENOMEM, "out of memory");
    for (size_t y = 0; y < k; y++) lq[y] = -log((double)k);
    /* mirror descent with the entropy mirror map: log q <- log q - eta grad, renormalised;
     * grad_y = E_y + T (log q_y + 1) (the +1 is absorbed by the normalisation) */
    for (size_t s = 0; s < steps; s++) {
        for (size_t y = 0; y < k; y++) lq[y] -= eta * ((double)E[y] + T * lq[y]);
        double z = lse(lq, k);
        for (size_t y = 0; y < k; y++) lq[y] -= z;
    }
    for (size_t y = 0; y < k; y++) q[y] = (float)exp(lq[y]);
    free(lq);
    return EBM_OK;
}

/* ---- the toy sequence task ---- */

ebm_status ebm_structured_markov_toy(size_t n, size_t len, size_t k, float stay, float noise, uint64_t seed,
                                     ebm_mat **x, int32_t **y) {
    *x = NULL;
    *y = NULL;
    if (n == 0 || len == 0 || k < 2) return ebm_fail(EBM_EINVAL, "Markov toy: need rows, a length and >= 2 labels (got %zu, %zu, %zu)", n, len, k);
    if (!(stay >= 0 && stay <= 1) || !(noise >= 0)) return ebm_fail(EBM_EINVAL, "Markov toy: stay must be in [0, 1] and noise >= 0");
    size_t cells;
    if (!ebm_mul_ok(n, len, &cells) || !ebm_mul_ok(cells, k, &cells)) return ebm_fail(EBM_ENOMEM, "Markov toy: too large");
    ebm_status s = ebm_mat_new(n, len * k, x);
    if (s) return s;
    *y = malloc(n * len * sizeof(int32_t));
    if (!*y) {
        ebm_mat_free(*x);
        *x = NULL;
        return ebm_fail(EBM_ENOMEM, "out of memory");
    }
    for (size_t r = 0; r < n; r++) {
        ebm_rng g;
        ebm_rng_seed(&g, seed, r);
        int32_t *lab = *y + r * len;
        float *row = (*x)->data + r * len * k;
        for (size_t t = 0; t < len; t++) {
            if (t == 0) lab[t] = (int32_t)ebm_rng_below(&g, k);
            else if (ebm_rng_uniform(&g) < stay) lab[t] = lab[t - 1];
            else lab[t] = (int32_t)((lab[t - 1] + 1 + (int32_t)ebm_rng_below(&g, k - 1)) % (int32_t)k);
            for (size_t j = 0; j < k; j++)
                row[t * k + j] = (float)((j == (size_t)lab[t]) + noise * ebm_rng_normal(&g));
        }
    }
    return EBM_OK;
}

void ebm_structured_markov_default(ebm_structured_markov *o) { *o = (ebm_structured_markov){2000, 10, 4, 0.8f, 1.0f, 1}; }

ebm_status ebm_structured_markov_dataset(const ebm_structured_markov *o, int test, ebm_dataset **out) {
    *out = NULL;
    ebm_dataset *d = calloc(1, sizeof *d);
    if (!d) return ebm_fail(EBM_ENOMEM, "out of memory");
    uint64_t seed = o->seed + (test ? 1000003ULL : 0); /* the held-out split's streams */
    ebm_status s = ebm_structured_markov_toy(o->n, o->len, o->k, o->stay, o->noise, seed, &d->x, &d->labels);
    if (s) {
        ebm_dataset_free(d);
        return s;
    }
    snprintf(d->source, sizeof d->source,
             "Markov toy (%zu chains of length %zu, %zu labels, stay %g, noise %g, seed %llu)", o->n, o->len, o->k,
             (double)o->stay, (double)o->noise, (unsigned long long)seed);
    *out = d;
    return EBM_OK;
}

ebm_status ebm_structured_markov_to_meta(const ebm_structured_markov *o, ebm_meta *mt) {
    ebm_status s = ebm_meta_setf(mt, "ebm.sp.markov.stay", "%g", (double)o->stay);
    if (!s) s = ebm_meta_setf(mt, "ebm.sp.markov.noise", "%g", (double)o->noise);
    if (!s) s = ebm_meta_setf(mt, "ebm.sp.markov.seed", "%llu", (unsigned long long)o->seed);
    return s;
}

void ebm_structured_meta_float(const ebm_meta *mt, const char *key, float *out); /* also structured_train.c's */
void ebm_structured_meta_float(const ebm_meta *mt, const char *key, float *out) {
    const char *v = ebm_meta_get(mt, key);
    char *end;
    double d = v ? strtod(v, &end) : NAN;
    if (v && !*end && isfinite(d)) *out = (float)d;
}

void ebm_structured_markov_from_meta(const ebm_meta *mt, ebm_structured_markov *o) {
    ebm_structured_meta_float(mt, "ebm.sp.markov.stay", &o->stay);
    ebm_structured_meta_float(mt, "ebm.sp.markov.noise", &o->noise);
    const char *v = ebm_meta_get(mt, "ebm.sp.markov.seed");
    char *end;
    unsigned long long seed = v && *v ? strtoull(v, &end, 10) : 0;
    if (v && *v && !*end) o->seed = seed;
}

/* ---- the model ---- */

static const char *const out_names[] = {"raw", "softplus", "square"};

const char *ebm_structured_out_name(ebm_structured_out s) {
    return (unsigned)s <= EBM_STRUCTURED_OUT_SQUARE ? out_names[s] : "unknown";
}

ebm_status ebm_structured_out_parse(const char *name, ebm_structured_out *out) {
    for (int i = 0; name && i < 3; i++)
        if (strcmp(name, out_names[i]) == 0) {
            *out = (ebm_structured_out)i;
            return EBM_OK;
        }
    return ebm_fail(EBM_EINVAL, "unknown energy output '%s' (raw|softplus|square)", name ? name : "(null)");
}

ebm_status ebm_structured_new(const char *spec, size_t channels, size_t height, size_t width, size_t k, size_t len,
                      ebm_structured_out out, ebm_structured **m) {
    *m = NULL;
    if (k < 2) return ebm_fail(EBM_EINVAL, "structured model: need at least 2 labels, got %zu", k);
    if ((unsigned)out > EBM_STRUCTURED_OUT_SQUARE)
        return ebm_fail(EBM_EINVAL, "structured model: unknown output map %d", (int)out);
    ebm_structured *p = calloc(1, sizeof *p);
    if (!p) return ebm_fail(EBM_ENOMEM, "out of memory");
    ebm_status s = ebm_net_new(spec, channels, height, width, &p->net);
    if (!s && ebm_net_output_size(p->net) != k)
        s = ebm_fail(EBM_ESHAPE, "structured model: the network has %zu outputs but there are %zu labels (end the spec "
                     "in linear:%zu)", ebm_net_output_size(p->net), k, k);
    if (!s) s = ebm_meta_new(&p->meta);
    if (!s && len) {
        p->pair = ebm_calloc(k * k, sizeof(float));
        if (!p->pair) s = ebm_fail(EBM_ENOMEM, "out of memory");
    }
    if (s) {
        ebm_structured_free(p);
        return s;
    }
    p->k = k;
    p->len = len;
    p->out = out;
    *m = p;
    return EBM_OK;
}

void ebm_structured_free(ebm_structured *m) {
    if (!m) return;
    ebm_net_free(m->net);
    ebm_free(m->pair);
    ebm_meta_free(m->meta);
    free(m);
}

ebm_status ebm_structured_new_for_data(const char *spec, size_t cols, size_t height, size_t width, size_t k, size_t len,
                                       ebm_structured_out out, ebm_structured **m) {
    size_t c = len ? k : cols, h = 1, w = 1;
    bool spatial = !len && spec && (strstr(spec, "conv") || strstr(spec, "pool"));
    if (spatial && height > 1 && width > 1 && height * width == c) c = 1, h = height, w = width;
    char default_spec[64];
    snprintf(default_spec, sizeof default_spec, len ? "linear:%zu" : "linear:128,silu,linear:%zu", k);
    return ebm_structured_new(spec ? spec : default_spec, c, h, w, k, len, out, m);
}

ebm_status ebm_structured_init(ebm_structured *m, ebm_rng *rng) {
    if (m->pair) memset(m->pair, 0, m->k * m->k * sizeof(float));
    return ebm_net_init(m->net, rng);
}

size_t ebm_structured_row_size(const ebm_structured *m) { return ebm_net_input_size(m->net) * (m->len ? m->len : 1); }
size_t ebm_structured_labels_per_row(const ebm_structured *m) { return m->len ? m->len : 1; }

size_t ebm_structured_n_params(const ebm_structured *m) {
    size_t np;
    ebm_net_params(m->net, &np);
    return np + (m->pair ? m->k * m->k : 0);
}

ebm_status ebm_structured_classes(const int32_t *y, size_t n, size_t *k) {
    *k = 2;
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] > 9999) return ebm_fail(EBM_EINVAL, "label %d of row %zu is out of 0..9999", (int)y[i], i);
        if ((size_t)y[i] + 1 > *k) *k = (size_t)y[i] + 1;
    }
    return EBM_OK;
}

/* s(u) and ds/du */
static float out_map(ebm_structured_out o, float u) {
    if (o == EBM_STRUCTURED_OUT_SOFTPLUS) return (float)ebm_softplus(u);
    return o == EBM_STRUCTURED_OUT_SQUARE ? 0.5f * u * u : u;
}
static float out_slope(ebm_structured_out o, float u) {
    return o == EBM_STRUCTURED_OUT_SOFTPLUS ? (float)ebm_sigmoid(u) : o == EBM_STRUCTURED_OUT_SQUARE ? u : 1.0f;
}

/* For structured_train.c: out (n) = s(raw); d (n) *= s'(raw), turning the gradient with respect to the
 * mapped energies into one for the raw outputs. */
void ebm_structured_map(const ebm_structured *m, const float *raw, float *out, size_t n);
void ebm_structured_map_back(const ebm_structured *m, const float *raw, float *d, size_t n);
void ebm_structured_map(const ebm_structured *m, const float *raw, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = out_map(m->out, raw[i]);
}
void ebm_structured_map_back(const ebm_structured *m, const float *raw, float *d, size_t n) {
    for (size_t i = 0; i < n; i++) d[i] *= out_slope(m->out, raw[i]);
}

void ebm_structured_pair_energies(const ebm_structured *m, float *P) {
    for (size_t i = 0; i < m->k * m->k; i++) P[i] = out_map(m->out, m->pair[i]);
}

ebm_status ebm_structured_energies(ebm_structured *m, const float *x, size_t n, float *U, float *P) {
    size_t rows, L = ebm_structured_labels_per_row(m);
    if (!ebm_mul_ok(n, L, &rows)) return ebm_fail(EBM_ENOMEM, "structured model: too many rows");
    /* a chain's row of L positions is L consecutive network inputs: the same memory */
    ebm_status s = ebm_net_forward(m->net, x, rows, U);
    if (s) return s;
    ebm_structured_map(m, U, U, rows * m->k);
    if (P && m->pair) ebm_structured_map(m, m->pair, P, m->k * m->k);
    return EBM_OK;
}

ebm_status ebm_structured_predict(ebm_structured *m, const float *x, size_t n, int32_t *y, double *E) {
    size_t L = ebm_structured_labels_per_row(m), k = m->k;
    float *U = ebm_calloc(n * L * k + k * k, sizeof(float));
    if (!U) return ebm_fail(EBM_ENOMEM, "out of memory");
    float *P = U + n * L * k;
    ebm_status s = ebm_structured_energies(m, x, n, U, P);
    for (size_t i = 0; !s && i < n; i++) {
        double e;
        s = ebm_chain_viterbi(U + i * L * k, m->pair ? P : NULL, L, k, y + i * L, &e);
        if (!s && E) E[i] = e;
    }
    ebm_free(U);
    return s;
}

ebm_status ebm_structured_free_energy(ebm_structured *m, const float *x, size_t n, double *F) {
    if (m->len) return ebm_fail(EBM_EINVAL, "structured model: the free energy is of K-class models, not of chains");
    float *U = ebm_calloc(n * m->k, sizeof *U);
    ebm_status s = U ? ebm_structured_energies(m, x, n, U, NULL) : ebm_fail(EBM_ENOMEM, "out of memory");
    for (size_t i = 0; !s && i < n; i++) {
        const float *u = U + i * m->k;
        double mn = u[0], z = 0;
        for (size_t j = 1; j < m->k; j++) mn = u[j] < mn ? u[j] : mn;
        for (size_t j = 0; j < m->k; j++) z += exp(mn - u[j]);
        F[i] = mn - log(z);
    }
    ebm_free(U);
    return s;
}

/* ---- files ---- */

ebm_status ebm_structured_save(const ebm_structured *m, const char *path) {
    size_t np, bad;
    const float *p = ebm_net_params(m->net, &np);
    if (!ebm_k_all_finite(p, np, &bad))
        return ebm_fail(EBM_ENAN, "refusing to save %s: network parameter %zu is %g", path, bad, (double)p[bad]);
    ebm_tensors *t = NULL;
    ebm_status s = ebm_tensors_new(&t);
    ebm_meta *meta = s ? NULL : ebm_tensors_meta(t);
    if (!s) s = ebm_meta_copy(meta, m->meta);
    if (!s) s = ebm_meta_set(meta, "ebm.model", "structured");
    if (!s) s = ebm_meta_setf(meta, "ebm.sp.classes", "%zu", m->k);
    if (!s) s = ebm_meta_setf(meta, "ebm.sp.length", "%zu", m->len);
    if (!s) s = ebm_meta_set(meta, "ebm.sp.output", ebm_structured_out_name(m->out));
    if (!s) s = ebm_net_to_tensors(m->net, t);
    size_t shp[2] = {m->k, m->k};
    if (!s && m->pair) s = ebm_tensors_put(t, "pair", EBM_F32, 2, shp, m->pair);
    if (!s) s = ebm_safetensors_write(path, t);
    ebm_tensors_free(t);
    return s;
}

static ebm_status meta_size(const ebm_meta *meta, const char *path, const char *key, size_t *out) {
    const char *v = ebm_meta_get(meta, key);
    char *end;
    if (!v || !*v) return ebm_fail(EBM_EFORMAT, "%s: no '%s' in the metadata (not a structured model?)", path, key);
    unsigned long long d = strtoull(v, &end, 10);
    if (*end || v[0] == '-' || d > 1000000) return ebm_fail(EBM_EFORMAT, "%s: %s '%s' is not a whole number up to 10^6", path, key, v);
    *out = (size_t)d;
    return EBM_OK;
}

ebm_status ebm_structured_from_tensors(const ebm_tensors *t, const char *path, ebm_structured **out) {
    *out = NULL;
    ebm_status s = EBM_OK;
    const ebm_meta *meta = ebm_tensors_meta_const(t);
    const char *kind = ebm_meta_get(meta, "ebm.model");
    size_t k = 0, len = 0;
    ebm_structured_out o = EBM_STRUCTURED_OUT_RAW;
    ebm_structured *m = NULL;
    if (!kind || strcmp(kind, "structured") != 0)
        s = ebm_fail(EBM_EFORMAT, "%s: a '%s' model, not a structured one (ebm train structured)", path, kind ? kind : "rbm");
    if (!s) s = meta_size(meta, path, "ebm.sp.classes", &k);
    if (!s) s = meta_size(meta, path, "ebm.sp.length", &len);
    if (!s && ebm_structured_out_parse(ebm_meta_get(meta, "ebm.sp.output"), &o))
        s = ebm_fail(EBM_EFORMAT, "%s: ebm.sp.output: %s", path, ebm_last_error());
    if (!s && k < 2) s = ebm_fail(EBM_EFORMAT, "%s: ebm.sp.classes is %zu; need >= 2", path, k);
    if (!s) {
        ebm_structured *p = calloc(1, sizeof *p);
        if (!p) s = ebm_fail(EBM_ENOMEM, "out of memory");
        else m = p, m->k = k, m->len = len, m->out = o;
    }
    if (!s) s = ebm_net_from_tensors(t, path, &m->net);
    if (!s && ebm_net_output_size(m->net) != k)
        s = ebm_fail(EBM_EFORMAT, "%s: the network has %zu outputs but ebm.sp.classes is %zu", path, ebm_net_output_size(m->net), k);
    if (!s && len) {
        size_t shp[2] = {k, k};
        s = ebm_io_check_shape(t, path, "pair", 2, shp); /* the file holds the k x k before it is allocated */
        if (!s) m->pair = ebm_calloc(k * k, sizeof(float));
        if (!s) s = m->pair ? ebm_io_take_f32(t, path, "pair", 2, shp, m->pair) : ebm_fail(EBM_ENOMEM, "out of memory");
    }
    if (!s) s = ebm_meta_new(&m->meta);
    if (!s) s = ebm_meta_copy(m->meta, meta);
    if (s) {
        ebm_structured_free(m);
        return s;
    }
    *out = m;
    return EBM_OK;
}

ebm_status ebm_structured_load(const char *path, ebm_structured **out) {
    *out = NULL;
    ebm_tensors *t = NULL;
    ebm_status s = ebm_safetensors_read(path, &t);
    if (s) return s;
    s = ebm_structured_from_tensors(t, path, out);
    ebm_tensors_free(t);
    return s;
}
