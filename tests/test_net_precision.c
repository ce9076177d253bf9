/* The precision setting of network energies (ebm_net_set_precision): bf16 products against fp32 on fixed
 * inputs, the bf16 weight copies' refresh, thread-count independence, and a Langevin sampler on a network
 * energy run in bf16.
 *
 * Bounds.  A bf16 product rounds both operands to 8 significant bits (relative error <= 2^-9 each, round to
 * nearest even), so each term a b of a sum becomes a b (1 + d) with |d| <= u = 2^-8 + 2^-18, and the sums are
 * float32 (at most k 2^-24 relative to sum |a b| more).
 *  - First layer: its input is exact, so its bf16 output must equal sum_k bf16(x_k) bf16(W_jk) + b_j computed
 *    in double to within k 2^-24 sum |.| + ulps: we allow 1e-5 of sum_k |x_k W_jk| + |b_j| (catches any
 *    layout, stride, block or transposition mistake).
 *  - Energy: to first order, a local error dy_l of the product of layer l moves E by <dE/dy_l, dy_l>, and
 *    |dy_l,j| <= u' sum_k |W_l,jk| |h_l,k| with u' = u + 64 2^-24 (the float32 sums, k <= 64 here); so
 *    |E_bf16 - E| <= B = u' sum_l sum_j |dE/dy_l,j| (|W_l| |h_l|)_j, computed here in double by a reference
 *    MLP.  We check |dE| <= 1.1 B + 2e-6 (1 + |E|) (second-order terms, float32 rounding of E itself) row by
 *    row and that dE is not 0 everywhere (the bf16 path really ran).
 *  - Gradients (grad_x, grad_params): first-order errors need second derivatives, so the bound is normwise:
 *    each of the P products on a gradient's path (L forwards, L backwards in x, one more for dW) perturbs its
 *    result by at most u sum|a b|; with an allowance of sum|a b| <= 4 |sum a b| normwise for the cancellation
 *    in these networks (uniform inputs, PyTorch-style initial weights of both signs: an assumption, not a
 *    proof), |g_bf16 - g| <= 4 P u |g|.  Measured (December 2026): 4-25x below it (the CNN's grad_x, 0.037 of
 *    0.14, is the closest); a layout mistake gives errors of order |g|.
 * Without bf16 (ebm_precision_resolve says so) the bf16 checks are skipped with a message, and AUTO must
 * resolve to fp32 products that are the fp32 ones bit for bit. */
#include "bf16_check.h"
#include "run_figs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double U = 1.0 / 256 + 1.0 / 262144;

static ebm_net *make_net(const char *spec, size_t c, size_t h, size_t w, uint64_t seed) {
    ebm_net *net;
    ebm_rng r;
    ebm_rng_seed(&r, seed, 100);
    REQUIRE(ebm_net_new(spec, c, h, w, &net) == EBM_OK);
    REQUIRE(ebm_net_init(net, &r) == EBM_OK);
    return net;
}

/* Normwise relative difference |a - b| / |b|. */
static double rel_diff(const float *a, const float *b, size_t n) {
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        m += (double)b[i] * b[i];
    }
    return sqrt(d / (m + 1e-300));
}

/* Energies, dE/dx and the weighted parameter gradient of e on x (n rows). */
typedef struct {
    float *E, *dx, *grad;
} results;

static results run_energy(ebm_energy *e, const float *x, size_t n) {
    results r = {calloc(n, sizeof(float)), calloc(n * e->dim, sizeof(float)), calloc(e->n_params, sizeof(float))};
    float *w = malloc(n * sizeof(float));
    REQUIRE(r.E && r.dx && r.grad && w);
    for (size_t i = 0; i < n; i++) w[i] = (i % 3 == 0 ? -1.0f : 0.5f) / (float)n;
    CHECK_OK(e->energy(e, x, n, r.E));
    CHECK_OK(e->grad_x(e, x, n, NULL, r.dx));
    CHECK_OK(e->grad_params(e, x, n, w, r.grad, NULL));
    free(w);
    return r;
}

static void results_free(results *r) {
    free(r->E);
    free(r->dx);
    free(r->grad);
}

static int same_bits(const results *a, const results *b, size_t n, size_t dim, size_t np) {
    return memcmp(a->E, b->E, n * sizeof(float)) == 0 && memcmp(a->dx, b->dx, n * dim * sizeof(float)) == 0 &&
           memcmp(a->grad, b->grad, np * sizeof(float)) == 0;
}

/* fp32 is the default and what FP32 and (without native bf16) AUTO give, bit for bit. */
static void test_fp32_default(void) {
    ebm_net *a = make_net("linear:32,silu,linear:16,tanh,linear:1", 12, 1, 1, 3), *b;
    CHECK(ebm_net_precision(a) == EBM_PRECISION_FP32);
    CHECK_OK(ebm_net_clone(a, &b));
    CHECK_OK(ebm_net_set_precision(b, EBM_PRECISION_FP32));
    CHECK(ebm_net_precision(b) == EBM_PRECISION_FP32);
    CHECK_FAILS(ebm_net_set_precision(b, (ebm_precision)9), EBM_EINVAL);
    CHECK(ebm_net_precision(b) == EBM_PRECISION_FP32);
    ebm_energy *ea, *eb;
    CHECK_OK(ebm_net_energy(a, EBM_NET_HEAD_SCALAR, &ea));
    CHECK_OK(ebm_net_energy(b, EBM_NET_HEAD_SCALAR, &eb));
    const size_t n = 19;
    float x[19 * 12];
    fill(x, n * 12, 5, -1, 1);
    results ra = run_energy(ea, x, n), rbr = run_energy(eb, x, n);
    CHECK(same_bits(&ra, &rbr, n, 12, ea->n_params));
    results_free(&rbr);
    ebm_precision r;
    CHECK_OK(ebm_precision_resolve(EBM_PRECISION_AUTO, &r));
    CHECK_OK(ebm_net_set_precision(b, EBM_PRECISION_AUTO));
    CHECK(ebm_net_precision(b) == r);
    if (r == EBM_PRECISION_FP32) {
        printf("auto resolves to fp32 here: checking it is the fp32 path\n");
        rbr = run_energy(eb, x, n);
        CHECK(same_bits(&ra, &rbr, n, 12, ea->n_params));
        results_free(&rbr);
    }
    results_free(&ra);
    ebm_energy_free(ea);
    ebm_energy_free(eb);
    ebm_net_free(a);
    ebm_net_free(b);
}

/* The MLP linear:64,silu,linear:32,tanh,linear:1 in double for row x (dim 24): the energy, and the first-order
 * bound B of the bf16 products' effect on it (see the top of the file). */
#define D0 24
#define H1 64
#define H2 32
static double ref_mlp(const float *p, const float *x, double *bound) {
    const float *W0 = p, *b0 = W0 + H1 * D0, *W1 = b0 + H1, *b1 = W1 + H2 * H1, *W2 = b1 + H2, *b2 = W2 + H2;
    double y0[H1], a0[H1], M0[H1], a1[H2], M1[H2], y2 = b2[0], M2 = 0;
    for (size_t j = 0; j < H1; j++) {
        double s = b0[j], m = 0;
        for (size_t k = 0; k < D0; k++) s += (double)W0[j * D0 + k] * x[k], m += fabs((double)W0[j * D0 + k] * x[k]);
        y0[j] = s, M0[j] = m, a0[j] = s / (1 + exp(-s));
    }
    for (size_t j = 0; j < H2; j++) {
        double s = b1[j], m = 0;
        for (size_t k = 0; k < H1; k++) s += W1[j * H1 + k] * a0[k], m += fabs(W1[j * H1 + k] * a0[k]);
        M1[j] = m, a1[j] = tanh(s);
    }
    for (size_t k = 0; k < H2; k++) y2 += W2[k] * a1[k], M2 += fabs(W2[k] * a1[k]);
    /* dE/dy of every layer, backwards */
    double g1[H2], g0[H1], B = M2; /* dE/dy2 = 1 */
    for (size_t j = 0; j < H2; j++) g1[j] = W2[j] * (1 - a1[j] * a1[j]), B += fabs(g1[j]) * M1[j];
    for (size_t k = 0; k < H1; k++) {
        double s = 0, sg = 1 / (1 + exp(-y0[k]));
        for (size_t j = 0; j < H2; j++) s += g1[j] * W1[j * H1 + k];
        g0[k] = s * sg * (1 + y0[k] * (1 - sg));
        B += fabs(g0[k]) * M0[k];
    }
    *bound = (U + 64.0 / 16777216.0) * B;
    return y2;
}

static void test_mlp_bf16(void) {
    const char *spec = "linear:64,silu,linear:32,tanh,linear:1";
    const size_t n = 37;
    ebm_net *a = make_net(spec, D0, 1, 1, 11), *b;
    CHECK_OK(ebm_net_clone(a, &b));
    CHECK_OK(ebm_net_set_precision(b, EBM_PRECISION_BF16));
    CHECK(ebm_net_precision(b) == EBM_PRECISION_BF16);
    ebm_energy *ea, *eb;
    CHECK_OK(ebm_net_energy(a, EBM_NET_HEAD_SCALAR, &ea));
    CHECK_OK(ebm_net_energy(b, EBM_NET_HEAD_SCALAR, &eb));
    float *x = malloc(n * D0 * sizeof(float));
    fill(x, n * D0, 21, -1, 1);
    const float *p = ebm_net_params(a, NULL);

    /* the first layer against bf16-rounded operands summed in double */
    float *h = malloc(n * H1 * sizeof(float));
    CHECK_OK(ebm_net_features(b, x, n, 1, h));
    double worst1 = 0;
    for (size_t r = 0; r < n; r++)
        for (size_t j = 0; j < H1; j++) {
            double s = p[H1 * D0 + j], m = fabs(s);
            for (size_t k = 0; k < D0; k++) {
                s += rb(x[r * D0 + k]) * rb(p[j * D0 + k]);
                m += fabs((double)x[r * D0 + k] * p[j * D0 + k]);
            }
            double e = fabs(h[r * H1 + j] - s) / m;
            if (e > worst1) worst1 = e;
        }
    printf("first layer bf16 vs double of bf16 operands: worst %.2e of sum|x W| (bound 1e-5)\n", worst1);
    CHECK(worst1 < 1e-5);

    results r32 = run_energy(ea, x, n), r16 = run_energy(eb, x, n);
    double worst_ratio = 0, most = 0;
    for (size_t r = 0; r < n; r++) {
        double B, E = ref_mlp(p, x + r * D0, &B);
        CHECK_NEAR(r32.E[r], E, 1e-5 * (1 + fabs(E)));
        double d = fabs((double)r16.E[r] - r32.E[r]), lim = 1.1 * B + 2e-6 * (1 + fabs(E));
        CHECK_MSG(d <= lim, "row %zu: |E_bf16 - E| = %g above the first-order bound %g", r, d, lim);
        if (d / lim > worst_ratio) worst_ratio = d / lim;
        if (d > most) most = d;
    }
    printf("MLP energy: largest |E_bf16 - E_fp32| %.3g, at most %.2f of its row's first-order bound\n", most,
           worst_ratio);
    CHECK(most > 0); /* the products really were bf16 */
    /* gradients: 3 forward products + 3 backward in x; + 1 for dW */
    double ex = rel_diff(r16.dx, r32.dx, n * D0), ep = rel_diff(r16.grad, r32.grad, ea->n_params);
    printf("MLP grad_x relative error %.3g (bound %.3g), grad_params %.3g (bound %.3g)\n", ex, 4 * 6 * U, ep, 4 * 7 * U);
    CHECK(ex < 4 * 6 * U && ex > 0);
    CHECK(ep < 4 * 7 * U && ep > 0);
    results_free(&r32);
    results_free(&r16);
    free(h);
    free(x);
    ebm_energy_free(ea);
    ebm_energy_free(eb);
    ebm_net_free(a);
    ebm_net_free(b);
}

/* The normwise bounds on a logsumexp head (JEM), an SN layer and a CNN. */
static void test_other_nets_bf16(void) {
    const struct {
        const char *spec;
        size_t c, h, w, products;
        ebm_net_head head;
    } nets[] = {
        {"linear:48,silu,linear:32:sn,softplus,linear:5", 20, 1, 1, 7, EBM_NET_HEAD_LOGSUMEXP},
        {"conv:4:3:1,silu,pool:2,conv:8:3:2,leakyrelu,flatten,linear:16,silu,linear:1", 2, 10, 10, 9,
         EBM_NET_HEAD_SCALAR},
    };
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        ebm_net *a = make_net(nets[i].spec, nets[i].c, nets[i].h, nets[i].w, 30 + i), *b;
        CHECK_OK(ebm_net_clone(a, &b));
        CHECK_OK(ebm_net_set_precision(b, EBM_PRECISION_BF16));
        ebm_energy *ea, *eb;
        CHECK_OK(ebm_net_energy(a, nets[i].head, &ea));
        CHECK_OK(ebm_net_energy(b, nets[i].head, &eb));
        const size_t n = 29, d = ea->dim;
        float *x = malloc(n * d * sizeof(float));
        fill(x, n * d, 40 + i, -1, 1);
        results r32 = run_energy(ea, x, n), r16 = run_energy(eb, x, n);
        double bound = 4 * (double)nets[i].products * U;
        double eE = rel_diff(r16.E, r32.E, n), ex = rel_diff(r16.dx, r32.dx, n * d);
        double ep = rel_diff(r16.grad, r32.grad, ea->n_params);
        printf("%s: relative errors E %.3g, grad_x %.3g, grad_params %.3g (bound %.3g)\n", nets[i].spec, eE, ex, ep,
               bound);
        CHECK(eE < bound && ex < bound && ep < bound);
        CHECK(eE > 0 && ex > 0 && ep > 0);
        results_free(&r32);
        results_free(&r16);
        free(x);
        ebm_energy_free(ea);
        ebm_energy_free(eb);
        ebm_net_free(a);
        ebm_net_free(b);
    }
}

/* The bf16 weight copies follow the parameters: after ebm_net_params (writes through it), after a parameter
 * gradient (an update follows), after ebm_net_params_changed; a network whose copies are fresh agrees bit for
 * bit with a new clone. */
static void test_refresh(void) {
    const size_t n = 16, d = 10;
    ebm_net *a = make_net("linear:24,silu,linear:1", d, 1, 1, 50);
    CHECK_OK(ebm_net_set_precision(a, EBM_PRECISION_BF16));
    ebm_energy *e;
    CHECK_OK(ebm_net_energy(a, EBM_NET_HEAD_SCALAR, &e));
    float x[16 * 10], E[16], E2[16], g[400];
    fill(x, n * d, 51, -1, 1);
    size_t np;
    float *p = ebm_net_params(a, &np);
    REQUIRE(np <= 400);
    for (int round = 0; round < 3; round++) {
        CHECK_OK(e->energy(e, x, n, E)); /* copies made, now fresh */
        if (round == 0) { /* a new pointer */
            p = ebm_net_params(a, NULL);
        } else if (round == 1) { /* a gradient, then the update */
            memset(g, 0, sizeof g);
            CHECK_OK(e->grad_params(e, x, n, NULL, g, NULL));
        }
        for (size_t i = 0; i < np; i++) p[i] *= 1.25f;
        if (round == 2) ebm_net_params_changed(a);
        CHECK_OK(e->energy(e, x, n, E));
        ebm_net *c;
        ebm_energy *ec;
        CHECK_OK(ebm_net_clone(a, &c));
        CHECK(ebm_net_precision(c) == EBM_PRECISION_BF16);
        CHECK_OK(ebm_net_energy(c, EBM_NET_HEAD_SCALAR, &ec));
        CHECK_OK(ec->energy(ec, x, n, E2));
        CHECK_MSG(memcmp(E, E2, sizeof E) == 0, "round %d: stale bf16 weights", round);
        ebm_energy_free(ec);
        ebm_net_free(c);
    }
    ebm_energy_free(e);
    ebm_net_free(a);
}

/* bf16 results do not depend on the number of threads (blocks split by shape only, one thread per block). */
static void test_threads(void) {
    const size_t n = 128, d = 300;
    const char *specs[2] = {"linear:512,silu,linear:512,silu,linear:1",
                            "conv:16:3:1,silu,pool:2,conv:32:3:1,silu,flatten,linear:64,silu,linear:1"};
    for (int s = 0; s < 2; s++) {
        ebm_net *net = s ? make_net(specs[1], 1, 12, 25, 61) : make_net(specs[0], d, 1, 1, 60);
        CHECK_OK(ebm_net_set_precision(net, EBM_PRECISION_BF16));
        ebm_energy *e;
        CHECK_OK(ebm_net_energy(net, EBM_NET_HEAD_SCALAR, &e));
        float *x = malloc(n * d * sizeof(float));
        fill(x, n * d, 62, -1, 1);
        int t0 = ebm_get_threads();
        ebm_set_threads(1);
        results r1 = run_energy(e, x, n);
        ebm_set_threads(2);
        results r2 = run_energy(e, x, n);
        ebm_set_threads(3);
        results r3 = run_energy(e, x, n);
        ebm_set_threads(t0);
        CHECK_MSG(same_bits(&r1, &r2, n, d, e->n_params) && same_bits(&r1, &r3, n, d, e->n_params),
                  "%s: bf16 results depend on the thread count", specs[s]);
        results_free(&r1);
        results_free(&r2);
        results_free(&r3);
        free(x);
        ebm_energy_free(e);
        ebm_net_free(net);
    }
}

/* The dense tail block by block (src/models/net.c, forward_tail and backward_tail: bf16, 32 rows or more):
 *  - against fp32 within the normwise bound of test_other_nets_bf16, for an MLP and for a CNN whose tail
 *    follows the per-sample front (the threads' last layer packs its rows after a barrier), at batch sizes
 *    that cut into two blocks (40: 24 + 16), one (33 is 24 + 9) and three (130: 64 + 64 + 2);
 *  - each row's energy and dE/dx, and the weighted parameter gradient, against batches of 31, which run layer
 *    by layer: the same bf16 operands, sums cut differently (bound 2e-3, as test_net.c's paths);
 *  - the CNN with its convolutions layer by layer (EBM_NET_CONV_LAYERS: the tail then starts at the first
 *    element-wise layer after the last convolution, and the layers before it continue from its packed rows)
 *    bit for bit against the front (the tails compute the same blocks);
 *  - bit for bit on 1, 2 and 3 threads at 130 rows. */
static void test_tail(void) {
    static const struct {
        const char *spec;
        size_t c, h, w, products;
    } nets[] = {
        {"linear:48,silu,linear:40,tanh,linear:1", 20, 1, 1, 6},
        {"conv:4:3:1,silu,pool:2,conv:8:3:2,leakyrelu,flatten,linear:16,silu,linear:1", 2, 10, 10, 9},
    };
    static const size_t sizes[] = {40, 33, 130};
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            const size_t n = sizes[si];
            ebm_net *a = make_net(nets[i].spec, nets[i].c, nets[i].h, nets[i].w, 70 + i), *b, *c;
            CHECK_OK(ebm_net_clone(a, &b));
            CHECK_OK(ebm_net_set_precision(b, EBM_PRECISION_BF16));
            CHECK_OK(ebm_net_clone(b, &c));
            ebm_net_conv_mode(c, EBM_NET_CONV_LAYERS);
            ebm_energy *ea, *eb, *ec;
            CHECK_OK(ebm_net_energy(a, EBM_NET_HEAD_SCALAR, &ea));
            CHECK_OK(ebm_net_energy(b, EBM_NET_HEAD_SCALAR, &eb));
            CHECK_OK(ebm_net_energy(c, EBM_NET_HEAD_SCALAR, &ec));
            const size_t d = ea->dim, np = ea->n_params;
            float *x = malloc(n * d * sizeof(float));
            REQUIRE(x);
            fill(x, n * d, 80 + i, -1, 1);
            int t0 = ebm_get_threads();
            ebm_set_threads(2);
            results r32 = run_energy(ea, x, n), r16 = run_energy(eb, x, n), rl = run_energy(ec, x, n);
            double bound = 4 * (double)nets[i].products * U;
            double eE = rel_diff(r16.E, r32.E, n), ex = rel_diff(r16.dx, r32.dx, n * d);
            double ep = rel_diff(r16.grad, r32.grad, np);
            printf("tail, %s, %zu rows: relative errors E %.3g, grad_x %.3g, grad_params %.3g (bound %.3g)\n",
                   nets[i].spec, n, eE, ex, ep, bound);
            CHECK(eE < bound && ex < bound && ep < bound);
            CHECK(eE > 0 && ex > 0 && ep > 0);
            CHECK_MSG(memcmp(r16.E, rl.E, n * sizeof(float)) == 0 && memcmp(r16.dx, rl.dx, n * d * sizeof(float)) == 0,
                      "%s, %zu rows: the tail after the front differs from the tail after conv layers", nets[i].spec, n);
            /* (its conv weight gradients come from im2col, the front's from oneDNN per sample) */
            CHECK_MSG(rel_diff(rl.grad, r32.grad, np) < bound, "%s, %zu rows: conv layers' parameter gradients off by %.3g",
                      nets[i].spec, n, rel_diff(rl.grad, r32.grad, np));
            /* rows in batches of 31 (layer by layer); the parameter gradient with run_energy's weights of the
             * whole batch, summed over the batches */
            float *E31 = malloc(n * sizeof(float)), *dx31 = malloc(n * d * sizeof(float));
            float *g31 = calloc(np, sizeof(float)), *w = malloc(n * sizeof(float));
            REQUIRE(E31 && dx31 && g31 && w);
            for (size_t r = 0; r < n; r++) w[r] = (r % 3 == 0 ? -1.0f : 0.5f) / (float)n;
            for (size_t r = 0; r < n; r += 31) {
                size_t m = n - r < 31 ? n - r : 31;
                CHECK_OK(eb->grad_x(eb, x + r * d, m, E31 + r, dx31 + r * d));
                CHECK_OK(eb->grad_params(eb, x + r * d, m, w + r, g31, NULL));
            }
            double lE = rel_diff(E31, r16.E, n), lx = rel_diff(dx31, r16.dx, n * d), lg = rel_diff(g31, r16.grad, np);
            CHECK_MSG(lE < 2e-3 && lx < 2e-3 && lg < 2e-3,
                      "%s, %zu rows: block by block vs layer by layer: E %.3g, dE/dx %.3g, dE/dtheta %.3g", nets[i].spec,
                      n, lE, lx, lg);
            free(g31), free(w);
            if (n == 130) {
                ebm_set_threads(1);
                results r1 = run_energy(eb, x, n);
                ebm_set_threads(3);
                results r3 = run_energy(eb, x, n);
                CHECK_MSG(same_bits(&r1, &r16, n, d, np) && same_bits(&r3, &r16, n, d, np),
                          "%s, %zu rows: the tail's results depend on the thread count", nets[i].spec, n);
                results_free(&r1);
                results_free(&r3);
            }
            ebm_set_threads(t0);
            results_free(&r32);
            results_free(&r16);
            results_free(&rl);
            free(E31), free(dx31), free(x);
            ebm_energy_free(ea), ebm_energy_free(eb), ebm_energy_free(ec);
            ebm_net_free(a), ebm_net_free(b), ebm_net_free(c);
        }
}

/* An energy that hands every call to another: the samplers and trainers see no network behind it, so they take
 * the gradient and then the move (ebm_energy_grad_x_then's general path), and a trainer's energies before its
 * weighted gradient (ebm_energy_grad_params_weighted's). */
static ebm_status wrap_energy(ebm_energy *e, const float *x, size_t n, float *E) {
    ebm_energy *in = e->impl;
    return in->energy(in, x, n, E);
}
static ebm_status wrap_grad_x(ebm_energy *e, const float *x, size_t n, float *E, float *dx) {
    ebm_energy *in = e->impl;
    return in->grad_x(in, x, n, E, dx);
}
static ebm_status wrap_grad_params(ebm_energy *e, const float *x, size_t n, const float *w, float *grad, float *E) {
    ebm_energy *in = e->impl;
    return in->grad_params(in, x, n, w, grad, E);
}
static void wrap_destroy(ebm_energy *e) { free(e); }
static ebm_energy *wrap(ebm_energy *in) {
    ebm_energy *e = calloc(1, sizeof *e);
    REQUIRE(e);
    e->kind = "wrap", e->dim = in->dim, e->energy = wrap_energy, e->grad_x = wrap_grad_x;
    e->n_params = in->n_params, e->params = in->params, e->grad_params = wrap_grad_params;
    e->destroy = wrap_destroy, e->impl = in;
    return e;
}

/* ULA and SGLD on a bf16 MLP, whose gradient and move run in one pass of the network's blocks of rows, against
 * the same chains through a wrapper (the gradient, then the move): bit for bit, for the scalar, log-sum-exp and
 * class heads (5 classes cycling over the rows, so the second thread's first row, 24 or 64, is not class 0),
 * with proximal steps, clipping and a clamp mask; and on 1 and 3 threads.  A chain made NaN is named. */
static void test_fused_step(void) {
    static const size_t sizes[] = {40, 130};
    static const int32_t classes[5] = {4, 0, 6, 2, 1};
    for (int head = 0; head < 3; head++)
        for (size_t si = 0; si < 2; si++) {
            const size_t n = sizes[si];
            ebm_net *net = make_net(head ? "linear:48,silu,linear:40,tanh,linear:7" : "linear:48,silu,linear:40,tanh,linear:1",
                                    20, 1, 1, 90 + (uint64_t)head);
            CHECK_OK(ebm_net_set_precision(net, EBM_PRECISION_BF16));
            ebm_energy *e;
            if (head == 2) CHECK_OK(ebm_net_energy_class(net, classes, 5, &e));
            else CHECK_OK(ebm_net_energy(net, head ? EBM_NET_HEAD_LOGSUMEXP : EBM_NET_HEAD_SCALAR, &e));
            ebm_energy *w = wrap(e);
            const size_t d = e->dim;
            uint8_t mask[20] = {0};
            mask[3] = mask[17] = 1;
            float *x0 = malloc(n * d * sizeof(float)), *xa = malloc(n * d * sizeof(float)),
                  *xb = malloc(n * d * sizeof(float));
            REQUIRE(x0 && xa && xb);
            fill(x0, n * d, 91, -1, 1);
            for (int kind = 0; kind < 2; kind++) {
                ebm_mcmc_opts o;
                ebm_mcmc_opts_default(&o);
                o.kind = kind ? EBM_MCMC_SGLD : EBM_MCMC_ULA, o.steps = 6, o.step_size = kind ? 0.5f : 0.02f;
                o.noise = 0.05f, o.seed = 92;
                if (kind) o.prox = 0.03f, o.clip_lo = -1, o.clip_hi = 1;
                else o.clamp = mask;
                memcpy(xa, x0, n * d * sizeof(float));
                memcpy(xb, x0, n * d * sizeof(float));
                CHECK_OK(ebm_mcmc_run(e, xa, n, &o, NULL));
                CHECK_OK(ebm_mcmc_run(w, xb, n, &o, NULL));
                CHECK_MSG(memcmp(xa, xb, n * d * sizeof(float)) == 0,
                          "head %d, %zu rows, %s: the fused step differs from the gradient then the move", head, n,
                          ebm_mcmc_name(o.kind));
                CHECK(memcmp(xa, x0, n * d * sizeof(float)) != 0);
                if (!kind)
                    for (size_t i = 0; i < n; i++) CHECK(xa[i * d + 3] == x0[i * d + 3] && xa[i * d + 17] == x0[i * d + 17]);
                int t0 = ebm_get_threads();
                for (int th = 1; th <= 3; th += 2) {
                    ebm_set_threads(th);
                    memcpy(xb, x0, n * d * sizeof(float));
                    CHECK_OK(ebm_mcmc_run(e, xb, n, &o, NULL));
                    CHECK_MSG(memcmp(xa, xb, n * d * sizeof(float)) == 0, "head %d, %zu rows, %s: %d threads differ",
                              head, n, ebm_mcmc_name(o.kind), th);
                }
                ebm_set_threads(t0);
            }
            /* on a steep energy, steps of 1e38 overflow every chain at once: the run stops naming the first, as the wrapper's does (the fused pass's threads report
             * theirs in any order) */
            ebm_net *nb = make_net("linear:48,silu,linear:1", 20, 1, 1, 93);
            size_t npb;
            float *pb = ebm_net_params(nb, &npb);
            for (size_t j = 0; j < npb; j++) pb[j] *= 100; /* dE/dx near 300: 1e38 of it is not finite */
            ebm_net_params_changed(nb);
            CHECK_OK(ebm_net_set_precision(nb, EBM_PRECISION_BF16));
            ebm_energy *eb;
            CHECK_OK(ebm_net_energy(nb, EBM_NET_HEAD_SCALAR, &eb));
            ebm_energy *wb = wrap(eb);
            ebm_mcmc_opts o;
            ebm_mcmc_opts_default(&o);
            o.steps = 8, o.step_size = 1e38f;
            for (int k = 0; k < 2; k++) {
                memcpy(xa, x0, n * d * sizeof(float));
                CHECK(ebm_mcmc_run(k ? wb : eb, xa, n, &o, NULL) == EBM_ENAN);
                CHECK_MSG(strstr(ebm_last_error(), "ula chain 0 diverged at step") != NULL, "%s: error '%s'",
                          k ? "wrapped" : "fused", ebm_last_error());
            }
            ebm_energy_free(wb);
            ebm_energy_free(eb);
            ebm_net_free(nb);
            free(x0), free(xa), free(xb);
            ebm_energy_free(w);
            ebm_energy_free(e);
            ebm_net_free(net);
        }
}

/* The Langevin CD trainer on a bf16 MLP takes each batch's energies and weighted gradient from one forward
 * (ebm_energy_grad_params_weighted): three SGD updates with the energy regulariser (alpha 0.5, so the weights
 * depend on E) give the same parameters and figures, bit for bit, as through the wrapper, whose energies come
 * from a forward of their own. */
static void test_trainer_one_forward(void) {
    ebm_dataset *data;
    REQUIRE(ebm_toy_generate("8gaussians", 512, 7, &data) == EBM_OK);
    ebm_net *a = make_net("linear:48,silu,linear:40,tanh,linear:1", 2, 1, 1, 95), *b;
    CHECK_OK(ebm_net_set_precision(a, EBM_PRECISION_BF16));
    CHECK_OK(ebm_net_clone(a, &b));
    ebm_energy *ea, *eb;
    CHECK_OK(ebm_net_energy(a, EBM_NET_HEAD_SCALAR, &ea));
    CHECK_OK(ebm_net_energy(b, EBM_NET_HEAD_SCALAR, &eb));
    ebm_energy *wb = wrap(eb);
    ebm_lcd_opts o;
    ebm_lcd_opts_default(&o);
    o.noise.lo = -5.0f, o.noise.hi = 5.0f;
    o.mcmc.kind = EBM_MCMC_ULA, o.mcmc.step_size = 0.05f, o.mcmc.steps = 5;
    o.optim.kind = EBM_OPTIM_SGD, o.optim.momentum = 0, o.optim.lr = 0.05f;
    o.batch = 64, o.iters = 3, o.seed = 11, o.alpha = 0.5f;
    ebm_trainer *ta, *tb;
    CHECK_OK(ebm_lcd_trainer_new(ea, &o, &ta));
    CHECK_OK(ebm_lcd_trainer_new(wb, &o, &tb));
    run_figs fa = {0}, fb = {0};
    ebm_run_opts ra, rb;
    ebm_lcd_run_opts(&o, &ra);
    ebm_lcd_run_opts(&o, &rb);
    ra.on_step = keep_run_figs, ra.user = &fa;
    rb.on_step = keep_run_figs, rb.user = &fb;
    CHECK_OK(ebm_run(ta, data->x, NULL, &ra, NULL));
    CHECK_OK(ebm_run(tb, data->x, NULL, &rb, NULL));
    size_t np;
    const float *pa = ebm_net_params(a, &np), *pb = ebm_net_params(b, NULL);
    ebm_net *n0 = make_net("linear:48,silu,linear:40,tanh,linear:1", 2, 1, 1, 95);
    CHECK(memcmp(pa, ebm_net_params(n0, NULL), np * sizeof(float)) != 0); /* trained */
    CHECK_MSG(memcmp(pa, pb, np * sizeof(float)) == 0, "one forward a batch: the parameters differ from the wrapper's");
    CHECK(fa.n == 3 && fb.n == 3);
    for (size_t i = 0; i < fa.n && i < fb.n; i++)
        CHECK(fa.loss[i] == fb.loss[i] && fa.e_pos[i] == fb.e_pos[i] && fa.e_neg[i] == fb.e_neg[i]);
    ebm_trainer_free(ta), ebm_trainer_free(tb);
    ebm_energy_free(wb), ebm_energy_free(ea), ebm_energy_free(eb);
    ebm_net_free(a), ebm_net_free(b), ebm_net_free(n0);
    ebm_dataset_free(data);
}

/* MALA on a 2-D network energy E(x) = sum_j softplus(w_j . x + b_j) (a smoothed |x|-like bowl, skewed and
 * correlated) in bf16: mean and covariance against quadrature of exp(-E) of the fp32 network on a grid over
 * [-9, 9]^2 (step 0.03; the tails beyond weigh under e^-15).  4,000 chains: standard errors near 0.02 for a
 * mean; bounds of 0.08 (mean) and 10% (covariance). */
static void test_langevin_bf16(void) {
    static const float W0[6][2] = {{2, 0}, {-2, 0}, {0, 1.5f}, {0, -1.5f}, {1, 1}, {-1, -1}};
    static const float B0[6] = {0.5f, 0, 0, 0.3f, 0, 0};
    ebm_net *net;
    CHECK_OK(ebm_net_new("linear:6,softplus,linear:1", 2, 1, 1, &net));
    float *p = ebm_net_params(net, NULL);
    memcpy(p, W0, sizeof W0);
    memcpy(p + 12, B0, sizeof B0);
    for (size_t j = 0; j < 6; j++) p[18 + j] = 1.0f;
    p[24] = 0;
    ebm_energy *e;
    CHECK_OK(ebm_net_energy(net, EBM_NET_HEAD_SCALAR, &e));
    /* quadrature, fp32 energies */
    const size_t G = 601;
    float *grid = malloc(G * 2 * sizeof(float)), *Eg = malloc(G * sizeof(float));
    double Z = 0, m1 = 0, m2 = 0, s11 = 0, s12 = 0, s22 = 0;
    for (size_t i = 0; i < G; i++) {
        for (size_t j = 0; j < G; j++) grid[2 * j] = -9 + 0.03f * (float)i, grid[2 * j + 1] = -9 + 0.03f * (float)j;
        CHECK_OK(e->energy(e, grid, G, Eg));
        for (size_t j = 0; j < G; j++) {
            double w = exp(-(double)Eg[j]), a = grid[2 * j], b = grid[2 * j + 1];
            Z += w, m1 += w * a, m2 += w * b, s11 += w * a * a, s12 += w * a * b, s22 += w * b * b;
        }
    }
    m1 /= Z, m2 /= Z, s11 = s11 / Z - m1 * m1, s12 = s12 / Z - m1 * m2, s22 = s22 / Z - m2 * m2;
    free(grid);
    free(Eg);
    if (!have_bf16()) {
        ebm_energy_free(e);
        ebm_net_free(net);
        return;
    }
    CHECK_OK(ebm_net_set_precision(net, EBM_PRECISION_BF16));
    const size_t NCH = 4000;
    float *x = malloc(NCH * 2 * sizeof(float));
    fill(x, NCH * 2, 70, -3, 3);
    ebm_mcmc_opts o;
    ebm_mcmc_stats st;
    ebm_mcmc_opts_default(&o);
    o.kind = EBM_MCMC_MALA, o.step_size = 0.2f, o.steps = 400, o.seed = 71;
    CHECK_OK(ebm_mcmc_run(e, x, NCH, &o, &st));
    double a1 = 0, a2 = 0, c11 = 0, c12 = 0, c22 = 0;
    for (size_t i = 0; i < NCH; i++) a1 += x[2 * i], a2 += x[2 * i + 1];
    a1 /= NCH, a2 /= NCH;
    for (size_t i = 0; i < NCH; i++) {
        double u = x[2 * i] - a1, v = x[2 * i + 1] - a2;
        c11 += u * u, c12 += u * v, c22 += v * v;
    }
    c11 /= NCH - 1, c12 /= NCH - 1, c22 /= NCH - 1;
    printf("MALA bf16 (acceptance %.2f): mean (%.3f, %.3f) cov (%.3f, %.3f, %.3f); quadrature (%.3f, %.3f) "
           "(%.3f, %.3f, %.3f)\n", st.accept_rate, a1, a2, c11, c12, c22, m1, m2, s11, s12, s22);
    CHECK(fabs(a1 - m1) < 0.08 && fabs(a2 - m2) < 0.08);
    CHECK(fabs(c11 - s11) < 0.1 * s11 && fabs(c22 - s22) < 0.1 * s22 && fabs(c12 - s12) < 0.1 * sqrt(s11 * s22));
    CHECK(st.accept_rate > 0.3);
    free(x);
    ebm_energy_free(e);
    ebm_net_free(net);
}

int main(void) {
    test_fp32_default();
    if (have_bf16()) {
        test_mlp_bf16();
        test_other_nets_bf16();
        test_refresh();
        test_threads();
        test_tail();
        test_fused_step();
        test_trainer_one_forward();
    }
    test_langevin_bf16();
    return check_summary("test_net_precision");
}
