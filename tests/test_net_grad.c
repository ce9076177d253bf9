/* Gradient checks of the network layers and whole networks: the library's float32 forward and backward
 * against a float64 reference interpreter (net_ref.h) and central finite differences of that reference
 * (h = 1e-5 in double: truncation and rounding errors near 1e-10, far below float32's).  For every layer
 * alone, L = sum_rows <dout, net(x)> with a random dout checks ebm_net_backward's dL/dx and dL/dtheta; for
 * whole networks the energy interface (scalar and logsumexp heads) checks grad_x and weighted grad_params.
 * The error measure is normwise: max_i |g_i - g_ref_i| / max_i |g_ref_i| over the checked entries (every
 * input coordinate; up to 40 entries of every parameter tensor, evenly spread), bounded by GRAD_TOL; the
 * forward by FWD_TOL relative to max(|ref|, 1).  The worst errors are printed. */
#include "net_ref.h"

#define GRAD_TOL 2e-5
#define FWD_TOL 2e-6
#define FD_H 1e-5
#define PER_TENSOR 40

static double worst_fwd = 0, worst_dx = 0, worst_dth = 0;

typedef struct {
    const char *spec;
    size_t C, H, W;
} netdef;

/* Indices into the flat parameters to check: up to PER_TENSOR of each weight and bias tensor. */
static size_t pick_params(ebm_net *net, size_t *idx, size_t cap) {
    ebm_tensors *t;
    REQUIRE(ebm_tensors_new(&t) == EBM_OK);
    REQUIRE(ebm_net_to_tensors(net, t) == EBM_OK);
    size_t off = 0, k = 0;
    for (size_t i = 0; i < ebm_tensors_count(t); i++) {
        const char *name = ebm_tensors_name(t, i);
        if (strstr(name, ".sn_u")) continue;
        size_t numel = ebm_array_numel(ebm_tensors_get(t, name));
        size_t m = numel < PER_TENSOR ? numel : PER_TENSOR;
        for (size_t j = 0; j < m && k < cap; j++) idx[k++] = off + j * numel / m;
        off += numel;
    }
    size_t np;
    ebm_net_params(net, &np);
    REQUIRE(off == np);
    ebm_tensors_free(t);
    return k;
}

typedef enum { OBJ_DOT, OBJ_SCALAR, OBJ_LSE } objective;

/* sum_r wr[r] * obj(ref(x_r)), obj = <dout_r, .>, f[0] or -logsumexp f. */
static double ref_loss(const char *spec, const netdef *d, const double *p, const float *u, const double *x, size_t n,
                       objective obj, const double *dout, const double *wr) {
    size_t D = d->C * d->H * d->W;
    double out[REF_MAX], L = 0;
    for (size_t r = 0; r < n; r++) {
        size_t k = ref_forward(spec, d->C, d->H, d->W, p, u, x + r * D, out);
        double v = 0;
        if (obj == OBJ_DOT) {
            for (size_t j = 0; j < k; j++) v += dout[r * k + j] * out[j];
        } else if (obj == OBJ_SCALAR) {
            v = out[0];
        } else {
            double mx = out[0], s = 0;
            for (size_t j = 1; j < k; j++) mx = out[j] > mx ? out[j] : mx;
            for (size_t j = 0; j < k; j++) s += exp(out[j] - mx);
            v = -(mx + log(s));
        }
        L += (wr ? wr[r] : 1.0) * v;
    }
    return L;
}

static double normwise(const double *g, const double *ref, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num = fmax(num, fabs(g[i] - ref[i]));
        den = fmax(den, fabs(ref[i]));
    }
    return den > 0 ? num / den : num;
}

/* Checks one network on n random rows; obj OBJ_DOT goes through ebm_net_backward, the others through
 * ebm_net_energy. */
static void check_net(const netdef *d, size_t n, objective obj, uint64_t seed) {
    ebm_net *net;
    if (ebm_net_new(d->spec, d->C, d->H, d->W, &net) != EBM_OK) {
        CHECK_MSG(0, "%s: %s", d->spec, ebm_last_error());
        return;
    }
    ebm_rng rng;
    ebm_rng_seed(&rng, seed, 0);
    CHECK_OK(ebm_net_init(net, &rng));
    const char *spec = ebm_net_spec(net);
    size_t D = ebm_net_input_size(net), K = ebm_net_output_size(net), np, ns;
    float *params = ebm_net_params(net, &np);
    const float *u = ebm_net_state(net, &ns);
    /* biases of a default init are small; make them like a trained net's so every kink is exercised */
    float *x = malloc(n * D * sizeof(float)), *dout = malloc(n * K * sizeof(float)), *w = malloc(n * sizeof(float));
    float *out = malloc(n * K * sizeof(float)), *dx = malloc(n * D * sizeof(float)), *grad = calloc(np, sizeof(float));
    double *xd = malloc(n * D * sizeof(double)), *pd = malloc(np * sizeof(double)), *doutd = malloc(n * K * sizeof(double));
    double *wd = malloc(n * sizeof(double)), *ref = malloc(n * K * sizeof(double));
    size_t *idx = malloc(4096 * sizeof(size_t));
    double *ga = malloc((n * D + 4096) * sizeof(double)), *gr = malloc((n * D + 4096) * sizeof(double));
    REQUIRE(x && dout && w && out && dx && grad && xd && pd && doutd && wd && ref && idx && ga && gr);
    for (size_t i = 0; i < n * D; i++) xd[i] = x[i] = (float)ebm_rng_normal(&rng);
    for (size_t i = 0; i < n * K; i++) doutd[i] = dout[i] = (float)ebm_rng_normal(&rng);
    for (size_t i = 0; i < n; i++) wd[i] = w[i] = (float)(0.5 + ebm_rng_uniform(&rng)) * (i % 2 ? -1.0f : 1.0f);
    for (size_t i = 0; i < np; i++) pd[i] = params[i];

    /* forward against the reference */
    CHECK_OK(ebm_net_forward(net, x, n, out));
    double fe = 0, mx = 1;
    for (size_t r = 0; r < n; r++) ref_forward(spec, d->C, d->H, d->W, pd, u, xd + r * D, ref + r * K);
    for (size_t i = 0; i < n * K; i++) {
        fe = fmax(fe, fabs(out[i] - ref[i]));
        mx = fmax(mx, fabs(ref[i]));
    }
    fe /= mx;
    CHECK_MSG(fe <= FWD_TOL, "%s: forward error %.3g > %.3g", spec, fe, FWD_TOL);
    worst_fwd = fmax(worst_fwd, fe);

    /* the library's gradients */
    ebm_energy *e = NULL;
    if (obj == OBJ_DOT) {
        CHECK_OK(ebm_net_backward(net, dout, n, grad, dx));
    } else {
        CHECK_OK(ebm_net_energy(net, obj == OBJ_SCALAR ? EBM_NET_HEAD_SCALAR : EBM_NET_HEAD_LOGSUMEXP, &e));
        REQUIRE(e != NULL);
        float E[64];
        REQUIRE(n <= 64);
        CHECK_OK(e->grad_x(e, x, n, E, dx));
        CHECK_OK(e->grad_params(e, x, n, w, grad, NULL));
        for (size_t r = 0; r < n; r++) {
            double Er = ref_loss(spec, d, pd, u, xd + r * D, 1, obj, NULL, NULL);
            CHECK_MSG(fabs(E[r] - Er) <= FWD_TOL * fmax(1, fabs(Er)), "%s: E[%zu] %g vs %g", spec, r, E[r], Er);
        }
    }

    /* dL/dx: each row's own loss (unweighted for the energy, dout-weighted for OBJ_DOT) */
    for (size_t r = 0; r < n; r++)
        for (size_t j = 0; j < D; j++) {
            double *xr = xd + r * D, keep = xr[j];
            xr[j] = keep + FD_H;
            double lp = ref_loss(spec, d, pd, u, xr, 1, obj, doutd + r * K, NULL);
            xr[j] = keep - FD_H;
            double lm = ref_loss(spec, d, pd, u, xr, 1, obj, doutd + r * K, NULL);
            xr[j] = keep;
            gr[r * D + j] = (lp - lm) / (2 * FD_H);
            ga[r * D + j] = dx[r * D + j];
        }
    double ex = normwise(ga, gr, n * D);
    CHECK_MSG(ex <= GRAD_TOL, "%s: dE/dx error %.3g > %.3g", spec, ex, GRAD_TOL);
    worst_dx = fmax(worst_dx, ex);

    /* dL/dtheta on the chosen entries; the energy objective is weighted by w */
    size_t m = np ? pick_params(net, idx, 4096) : 0;
    const double *wl = obj == OBJ_DOT ? NULL : wd;
    for (size_t q = 0; q < m; q++) {
        size_t i = idx[q];
        double keep = pd[i];
        pd[i] = keep + FD_H;
        double lp = ref_loss(spec, d, pd, u, xd, n, obj, doutd, wl);
        pd[i] = keep - FD_H;
        double lm = ref_loss(spec, d, pd, u, xd, n, obj, doutd, wl);
        pd[i] = keep;
        gr[q] = (lp - lm) / (2 * FD_H);
        ga[q] = grad[i];
    }
    double et = m ? normwise(ga, gr, m) : 0;
    CHECK_MSG(et <= GRAD_TOL, "%s: dE/dtheta error %.3g > %.3g", spec, et, GRAD_TOL);
    worst_dth = fmax(worst_dth, et);
    if (getenv("EBM_TEST_VERBOSE")) printf("  %-60s fwd %.2g dx %.2g dtheta %.2g\n", spec, fe, ex, et);
    if (e) e->destroy(e);
    ebm_net_free(net);
    free(x), free(dout), free(w), free(out), free(dx), free(grad), free(xd), free(pd), free(doutd), free(wd);
    free(ref), free(idx), free(ga), free(gr);
}

static void test_layers_alone(void) {
    static const netdef defs[] = {
        {"linear:5", 7, 1, 1},
        {"linear:4:sn", 6, 1, 1},
        {"conv:3:3:1", 2, 5, 5},
        {"conv:3:3:2", 2, 7, 7},          /* stride 2, default padding 1 */
        {"conv:2:2:1:0", 2, 5, 4},        /* even kernel, no padding, non-square input */
        {"conv:3:3:1:2", 1, 4, 4},        /* padding 2: output larger than the input */
        {"conv:4:3:2:0:sn", 2, 7, 6},
        {"pool:2", 3, 6, 6},
        {"pool:3", 2, 7, 5},              /* remainders dropped */
        {"pool:2", 2, 5, 7},              /* 2 x 2 with odd height and width (the vector path's masks) */
        {"pool:2", 1, 3, 19},             /* wider than one vector */
        {"pool:2", 1, 2, 32},             /* the widest the vector path takes */
        {"pool:2", 1, 2, 33},             /* wider: the scalar loop */
        {"flatten", 2, 3, 3},
        {"silu", 10, 1, 1},
        {"swish", 2, 3, 3},
        {"leakyrelu", 10, 1, 1},
        {"leakyrelu:0.05", 10, 1, 1},
        {"elu", 10, 1, 1},
        {"elu:0.5", 2, 2, 3},
        {"softplus", 10, 1, 1},
        {"tanh", 10, 1, 1},
    };
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) check_net(&defs[i], 3, OBJ_DOT, 10 + i);
}

static void test_whole_networks(void) {
    static const char *acts[] = {"silu", "leakyrelu", "elu", "softplus", "tanh"};
    char spec[128];
    for (size_t i = 0; i < 5; i++) {
        snprintf(spec, sizeof spec, "linear:16,%s,linear:12,%s,linear:1", acts[i], acts[i]);
        netdef d = {spec, 6, 1, 1};
        check_net(&d, 3, OBJ_SCALAR, 100 + i);
    }
    static const netdef defs[] = {
        {"conv:32:3:1,silu,pool:2,conv:64:3:1,silu,pool:2,flatten,linear:128,silu,linear:1", 1, 8, 8},
        {"linear:16:sn,silu,linear:16:sn,silu,linear:1:sn", 5, 1, 1},
        {"conv:6:3:2,leakyrelu,conv:8:3:1:sn,softplus,pool:2,flatten,linear:12,elu,linear:1", 2, 9, 9},
    };
    check_net(&defs[0], 2, OBJ_SCALAR, 200);
    check_net(&defs[1], 3, OBJ_SCALAR, 201);
    check_net(&defs[2], 3, OBJ_SCALAR, 202);
    /* JEM's energy -logsumexp of class logits */
    netdef lse = {"conv:6:3:2,elu,conv:8:3:1:sn,tanh,pool:2,flatten,linear:10", 2, 9, 9};
    check_net(&lse, 3, OBJ_LSE, 203);
    netdef lse2 = {"linear:8,silu,linear:4", 3, 1, 1};
    check_net(&lse2, 4, OBJ_LSE, 204);
    /* the whole-network dot objective as well, on the CNN */
    check_net(&defs[0], 2, OBJ_DOT, 205);
}

int main(void) {
    test_layers_alone();
    test_whole_networks();
    printf("worst errors: forward %.3g (bound %.0e), dE/dx %.3g, dE/dtheta %.3g (bound %.0e)\n", worst_fwd, FWD_TOL,
           worst_dx, worst_dth, GRAD_TOL);
    return check_summary("test_net_grad");
}
