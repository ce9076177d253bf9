/* A float64 reference interpreter of network specs, written from the definitions and independent of
 * src/models/net.c: direct convolution loops, window means, the activations in double.  It reads the
 * canonical spec (ebm_net_spec, every default written out), the library's flat parameter layout (per
 * weighted layer: weight (OUT, IN) or (OUT, C, K, K) row-major, then bias (OUT)) and the SN vectors u,
 * and maps one input row to the output row.  Central differences of it give the reference gradients. */
#ifndef EBM_NET_REF_H
#define EBM_NET_REF_H

#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REF_MAX 8192

/* out (output size) = net(x) for one row x (C*H*W); params (n_params) in double, u the SN state.  Returns
 * the output size. */
static size_t ref_forward(const char *spec, size_t C, size_t H, size_t W, const double *params, const float *u,
                          const double *x, double *out) {
    static double a[REF_MAX], b[REF_MAX];
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", spec);
    size_t c = C, h = H, w = W, n = C * H * W, po = 0, uo = 0;
    REQUIRE(n <= REF_MAX);
    memcpy(a, x, n * sizeof(double));
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *f[8];
        int nf = 0;
        char *s2 = NULL;
        for (char *q = strtok_r(tok, ":", &s2); q && nf < 8; q = strtok_r(NULL, ":", &s2)) f[nf++] = q;
        int sn = strcmp(f[nf - 1], "sn") == 0;
        size_t co = c, ho = h, wo = w;
        if (strcmp(f[0], "linear") == 0 || strcmp(f[0], "conv") == 0) {
            int conv = f[0][0] == 'c';
            co = (size_t)atol(f[1]);
            size_t K = conv ? (size_t)atol(f[2]) : 1, S = conv ? (size_t)atol(f[3]) : 1, P = conv ? (size_t)atol(f[4]) : 0;
            size_t Cin = conv ? c : n, fan = Cin * K * K;
            if (conv) {
                ho = (h + 2 * P - K) / S + 1;
                wo = (w + 2 * P - K) / S + 1;
            } else {
                ho = wo = 1;
            }
            /* weight, optionally divided by sigma = |W'u| */
            double *Wt = malloc(co * fan * sizeof(double));
            REQUIRE(Wt != NULL);
            memcpy(Wt, params + po, co * fan * sizeof(double));
            if (sn) {
                double s = 0;
                for (size_t j = 0; j < fan; j++) {
                    double v = 0;
                    for (size_t o = 0; o < co; o++) v += (double)u[uo + o] * Wt[o * fan + j];
                    s += v * v;
                }
                s = sqrt(s);
                for (size_t i = 0; i < co * fan; i++) Wt[i] /= s;
                uo += co;
            }
            const double *bias = params + po + co * fan;
            for (size_t o = 0; o < co; o++)
                for (size_t oy = 0; oy < ho; oy++)
                    for (size_t ox = 0; ox < wo; ox++) {
                        double acc = bias[o];
                        if (!conv) {
                            for (size_t i = 0; i < n; i++) acc += Wt[o * n + i] * a[i];
                        } else {
                            for (size_t ci = 0; ci < c; ci++)
                                for (size_t ky = 0; ky < K; ky++)
                                    for (size_t kx = 0; kx < K; kx++) {
                                        long iy = (long)(oy * S + ky) - (long)P, ix = (long)(ox * S + kx) - (long)P;
                                        if (iy < 0 || ix < 0 || iy >= (long)h || ix >= (long)w) continue;
                                        acc += Wt[((o * c + ci) * K + ky) * K + kx] * a[(ci * h + (size_t)iy) * w + (size_t)ix];
                                    }
                        }
                        b[(o * ho + oy) * wo + ox] = acc;
                    }
            free(Wt);
            po += co * fan + co;
        } else if (strcmp(f[0], "pool") == 0) {
            size_t K = (size_t)atol(f[1]);
            ho = h / K;
            wo = w / K;
            for (size_t ci = 0; ci < c; ci++)
                for (size_t oy = 0; oy < ho; oy++)
                    for (size_t ox = 0; ox < wo; ox++) {
                        double acc = 0;
                        for (size_t ky = 0; ky < K; ky++)
                            for (size_t kx = 0; kx < K; kx++) acc += a[(ci * h + oy * K + ky) * w + ox * K + kx];
                        b[(ci * ho + oy) * wo + ox] = acc / (double)(K * K);
                    }
        } else if (strcmp(f[0], "flatten") == 0) {
            co = n;
            ho = wo = 1;
            memcpy(b, a, n * sizeof(double));
        } else {
            double al = nf > 1 ? atof(f[1]) : 0;
            for (size_t i = 0; i < n; i++) {
                double v = a[i];
                if (strcmp(f[0], "silu") == 0) b[i] = v / (1 + exp(-v));
                else if (strcmp(f[0], "leakyrelu") == 0) b[i] = v > 0 ? v : al * v;
                else if (strcmp(f[0], "elu") == 0) b[i] = v > 0 ? v : al * expm1(v);
                else if (strcmp(f[0], "softplus") == 0) b[i] = v > 0 ? v + log1p(exp(-v)) : log1p(exp(v));
                else if (strcmp(f[0], "tanh") == 0) b[i] = tanh(v);
                else REQUIRE(!"unknown layer in reference");
            }
        }
        c = co;
        h = ho;
        w = wo;
        n = c * h * w;
        REQUIRE(n <= REF_MAX);
        memcpy(a, b, n * sizeof(double));
    }
    memcpy(out, a, n * sizeof(double));
    return n;
}

#endif
