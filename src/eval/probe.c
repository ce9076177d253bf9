/* A linear probe: multinomial logistic regression (softmax regression) on fixed features,
 *   L(W, b) = -(1/n) sum_i log softmax(x_i W + b)[y_i] + (l2 / 2) ||W||^2,
 *   dL/dW = X' (P - Y) / n + l2 W,  dL/db = 1' (P - Y) / n,   P = softmax(X W + b) row-wise, Y one-hot,
 * minimised by full-batch L-BFGS (Nocedal & Wright 2006, "Numerical Optimization", Algorithm 7.4 for the
 * two-loop recursion and 7.5 for the outer loop, initial Hessian scaling gamma = s'y / y'y, eq. 7.20) with a
 * backtracking line search on the Armijo condition.  The loss is convex and smooth, so the fit is
 * deterministic: no seed, no learning rate.  Logits come from one GEMM; log-sum-exp is taken in double with
 * the max shifted out. */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

void ebm_probe_opts_default(ebm_probe_opts *o) {
    memset(o, 0, sizeof *o);
    o->l2 = 1e-3f;
    o->max_iter = 300;
    o->tol = 1e-5;
    o->history = 10;
}

ebm_status ebm_probe_new(size_t n_features, size_t n_classes, ebm_probe **out) {
    *out = NULL;
    size_t nw;
    if (n_features == 0 || n_classes < 2) return ebm_fail(EBM_EINVAL, "a probe needs at least one feature and two classes");
    if (!ebm_mul_ok(n_features, n_classes, &nw) || nw > ((size_t)1 << 32))
        return ebm_fail(EBM_ENOMEM, "a probe of %zu features x %zu classes is too large", n_features, n_classes);
    ebm_probe *p = calloc(1, sizeof *p);
    if (!p) return ebm_fail(EBM_ENOMEM, "out of memory");
    p->n_features = n_features;
    p->n_classes = n_classes;
    p->W = ebm_calloc(nw + n_classes, sizeof(float));
    if (!p->W) {
        free(p);
        return ebm_fail(EBM_ENOMEM, "out of memory for a probe of %zu x %zu", n_features, n_classes);
    }
    p->b = p->W + nw;
    *out = p;
    return EBM_OK;
}

void ebm_probe_free(ebm_probe *p) {
    if (!p) return;
    ebm_free(p->W);
    free(p);
}

static ebm_status check_labels(const int32_t *y, size_t n, size_t k) {
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || (size_t)y[i] >= k)
            return ebm_fail(EBM_EINVAL, "label %d of row %zu is outside 0..%zu", (int)y[i], i, k - 1);
    return EBM_OK;
}

/* logits (n, k) <- x (n, d) W (d, k) + b. */
static void logits_of(const ebm_probe *p, const float *x, size_t n, float *logits) {
    size_t d = p->n_features, k = p->n_classes;
    ebm_sgemm(0, 0, n, k, d, 1.0f, x, d, p->W, k, 0.0f, logits, k);
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < k; c++) logits[i * k + c] += p->b[c];
}

/* The loss and, when grad is not NULL, its gradient; G (n, k) is scratch. */
static double loss_grad(const ebm_probe *p, const float *x, const int32_t *y, size_t n, float l2, float *G,
                        float *grad) {
    size_t d = p->n_features, k = p->n_classes;
    logits_of(p, x, n, G);
    double loss = 0;
    float inv_n = 1.0f / (float)n;
    for (size_t i = 0; i < n; i++) {
        float *g = G + i * k;
        double mx = g[0], sum = 0;
        for (size_t c = 1; c < k; c++) mx = g[c] > mx ? g[c] : mx;
        for (size_t c = 0; c < k; c++) sum += exp((double)g[c] - mx);
        double lse = mx + log(sum);
        loss += lse - g[y[i]];
        for (size_t c = 0; c < k; c++) g[c] = (float)exp((double)g[c] - lse) * inv_n;
        g[y[i]] -= inv_n;
    }
    loss /= (double)n;
    double w2 = ebm_k_sumsq(p->W, d * k);
    loss += 0.5 * l2 * w2;
    if (grad) {
        memcpy(grad, p->W, d * k * sizeof(float));
        ebm_sgemm(1, 0, d, k, n, 1.0f, x, d, G, k, l2, grad, k);
        float *gb = grad + d * k;
        memset(gb, 0, k * sizeof(float));
        for (size_t i = 0; i < n; i++)
            for (size_t c = 0; c < k; c++) gb[c] += G[i * k + c];
    }
    return loss;
}

ebm_status ebm_probe_loss(const ebm_probe *p, const float *x, const int32_t *y, size_t n, float l2, double *loss,
                          float *grad) {
    if (n == 0) return ebm_fail(EBM_EINVAL, "the probe's loss needs at least one row");
    ebm_status s = check_labels(y, n, p->n_classes);
    if (s) return s;
    float *G = ebm_calloc(n, p->n_classes * sizeof(float));
    if (!G) return ebm_fail(EBM_ENOMEM, "out of memory");
    *loss = loss_grad(p, x, y, n, l2, G, grad);
    ebm_free(G);
    return EBM_OK;
}

ebm_status ebm_probe_predict(const ebm_probe *p, const float *x, size_t n, float *logits) {
    if (n) logits_of(p, x, n, logits);
    return EBM_OK;
}

static double dot(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* f(x) and g = grad f(x) at the double parameters x through the probe's float arrays. */
static double eval_at(ebm_probe *p, const double *x, const float *X, const int32_t *y, size_t n, float l2, float *G,
                      float *gf, double *g, size_t np) {
    for (size_t i = 0; i < np; i++) p->W[i] = (float)x[i];
    double f = loss_grad(p, X, y, n, l2, G, gf);
    for (size_t i = 0; i < np; i++) g[i] = gf[i];
    return f;
}

static double max_abs(const double *g, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(g[i]) > m ? fabs(g[i]) : m;
    return m;
}

ebm_status ebm_probe_fit(const float *X, const int32_t *y, size_t n, size_t d, const ebm_probe_opts *o,
                         ebm_probe **out, ebm_probe_result *r) {
    *out = NULL;
    if (n == 0) return ebm_fail(EBM_EINVAL, "the probe needs at least one training row");
    if (!(o->l2 >= 0) || !isfinite(o->l2)) return ebm_fail(EBM_EINVAL, "the probe's L2 weight must be >= 0, got %g", (double)o->l2);
    if (o->history < 1 || o->history > 1000) return ebm_fail(EBM_EINVAL, "L-BFGS history must be in 1..1000");
    int32_t ymax = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0) return ebm_fail(EBM_EINVAL, "label %d of row %zu is negative", (int)y[i], i);
        ymax = y[i] > ymax ? y[i] : ymax;
    }
    if (ymax < 1) return ebm_fail(EBM_EINVAL, "the probe needs at least two classes; every label is %d", (int)ymax);
    size_t k = (size_t)ymax + 1, m = o->history;
    ebm_probe *p;
    ebm_status s = ebm_probe_new(d, k, &p);
    if (s) return s;
    size_t np = d * k + k;
    float *G = ebm_calloc(n, k * sizeof(float)), *gf = ebm_calloc(np, sizeof(float));
    double *buf = calloc(np * (5 + 2 * m) + 2 * m, sizeof(double));
    if (!G || !gf || !buf) {
        ebm_free(G);
        ebm_free(gf);
        free(buf);
        ebm_probe_free(p);
        return ebm_fail(EBM_ENOMEM, "out of memory for the probe's L-BFGS over %zu parameters", np);
    }
    double *x = buf, *g = x + np, *dir = g + np, *xn = dir + np, *gn = xn + np, *S = gn + np, *Y = S + m * np;
    double *rho = Y + m * np, *alpha = rho + m;
    size_t hist = 0, head = 0, it = 0; /* hist pairs stored, the newest at (head - 1) mod m */
    double f = eval_at(p, x, X, y, n, o->l2, G, gf, g, np);
    bool converged = false;
    for (; it < o->max_iter; it++) {
        if (!isfinite(f)) {
            s = ebm_fail(EBM_ENAN, "the probe's loss became %g at iteration %zu", f, it);
            break;
        }
        if (max_abs(g, np) <= o->tol) {
            converged = true;
            break;
        }
        /* two-loop recursion: dir = -H g */
        for (size_t i = 0; i < np; i++) dir[i] = -g[i];
        for (size_t j = 0; j < hist; j++) {
            size_t q = (head + m - 1 - j) % m;
            alpha[q] = rho[q] * dot(S + q * np, dir, np);
            for (size_t i = 0; i < np; i++) dir[i] -= alpha[q] * Y[q * np + i];
        }
        double gamma = 1.0;
        if (hist) {
            size_t q = (head + m - 1) % m;
            gamma = dot(S + q * np, Y + q * np, np) / dot(Y + q * np, Y + q * np, np);
        } else {
            gamma = 1.0 / fmax(1.0, sqrt(dot(g, g, np)));
        }
        for (size_t i = 0; i < np; i++) dir[i] *= gamma;
        for (size_t j = hist; j-- > 0;) {
            size_t q = (head + m - 1 - j) % m;
            double beta = rho[q] * dot(Y + q * np, dir, np);
            for (size_t i = 0; i < np; i++) dir[i] += (alpha[q] - beta) * S[q * np + i];
        }
        double gd = dot(g, dir, np);
        if (!(gd < 0)) { /* not a descent direction: forget the curvature pairs, go down the gradient */
            hist = 0;
            for (size_t i = 0; i < np; i++) dir[i] = -g[i] / fmax(1.0, sqrt(dot(g, g, np)));
            gd = dot(g, dir, np);
        }
        double t = 1.0, fn = f;
        bool found = false;
        for (int ls = 0; ls < 50; ls++, t *= 0.5) {
            for (size_t i = 0; i < np; i++) xn[i] = x[i] + t * dir[i];
            fn = eval_at(p, xn, X, y, n, o->l2, G, gf, gn, np);
            if (isfinite(fn) && fn <= f + 1e-4 * t * gd) {
                found = true;
                break;
            }
        }
        if (!found) break; /* no decrease at machine precision: as good as it gets */
        double *sq = S + head * np, *yq = Y + head * np;
        for (size_t i = 0; i < np; i++) {
            sq[i] = xn[i] - x[i];
            yq[i] = gn[i] - g[i];
        }
        double sy = dot(sq, yq, np);
        if (sy > 1e-12 * sqrt(dot(yq, yq, np) * dot(sq, sq, np))) {
            rho[head] = 1.0 / sy;
            head = (head + 1) % m;
            if (hist < m) hist++;
        }
        memcpy(x, xn, np * sizeof *x);
        memcpy(g, gn, np * sizeof *g);
        f = fn;
        if (o->progress && o->progress(it + 1, f, o->user)) {
            it++;
            break;
        }
    }
    if (!s) {
        for (size_t i = 0; i < np; i++) p->W[i] = (float)x[i];
        if (r) {
            r->iters = it;
            r->loss = f;
            r->grad_max = max_abs(g, np);
            r->converged = converged || r->grad_max <= o->tol;
        }
    }
    ebm_free(G);
    ebm_free(gf);
    free(buf);
    if (s) {
        ebm_probe_free(p);
        return s;
    }
    *out = p;
    return EBM_OK;
}

/* Accuracy (and NLL when not NULL) of p on x (n, n_features) with labels y. */
static ebm_status score(const ebm_probe *p, const float *x, const int32_t *y, size_t n, double *acc, double *nll) {
    float *logits = ebm_calloc(n * p->n_classes, sizeof *logits);
    if (!logits) return ebm_fail(EBM_ENOMEM, "out of memory for the probe's logits");
    ebm_probe_predict(p, x, n, logits);
    ebm_status s = ebm_metric_classify(logits, y, n, p->n_classes, acc, nll);
    ebm_free(logits);
    return s;
}

ebm_status ebm_probe_fit_score(const float *xtr, const int32_t *ytr, size_t ntr, const float *xte,
                               const int32_t *yte, size_t nte, size_t d, const ebm_probe_opts *o,
                               ebm_probe_score *out) {
    ebm_probe *p = NULL;
    ebm_status s = ebm_probe_fit(xtr, ytr, ntr, d, o, &p, &out->fit);
    for (size_t i = 0; !s && i < nte; i++)
        if (yte[i] < 0 || (size_t)yte[i] >= p->n_classes)
            s = ebm_fail(EBM_EINVAL, "test label %d of row %zu was never seen in training (classes 0..%zu)",
                         (int)yte[i], i, p->n_classes - 1);
    if (!s) s = score(p, xtr, ytr, ntr, &out->train_acc, NULL);
    if (!s) s = score(p, xte, yte, nte, &out->test_acc, &out->test_nll);
    ebm_probe_free(p);
    return s;
}

ebm_status ebm_dbn_probe(const ebm_dbn *d, size_t level, const float *xtr, const int32_t *ytr, size_t ntr,
                         const float *xte, const int32_t *yte, size_t nte, const ebm_probe_opts *o,
                         ebm_probe_score *out) {
    if (level > d->n_layers)
        return ebm_fail(EBM_EINVAL, "level %zu is outside this DBN's levels 0..%zu", level, d->n_layers);
    size_t u = ebm_dbn_units(d, level);
    float *ftr = ebm_calloc(ntr * u, sizeof *ftr), *fte = ebm_calloc(nte * u, sizeof *fte);
    ebm_status s = ftr && fte ? ebm_dbn_up(d, xtr, ntr, level, ftr) : ebm_fail(EBM_ENOMEM, "out of memory");
    if (!s) s = ebm_dbn_up(d, xte, nte, level, fte);
    if (!s) s = ebm_probe_fit_score(ftr, ytr, ntr, fte, yte, nte, u, o, out);
    ebm_free(ftr);
    ebm_free(fte);
    return s;
}
