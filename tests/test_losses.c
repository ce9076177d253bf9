/* The ten losses of LeCun et al. 2006: values on a hand-computed K-class case (energies (1.5, 1, 3), correct
 * answer 0, so E = 1.5, Ebar = Emin = 1); their gradients with respect to the energies against central
 * finite differences, for K classes and for chains (unary and pairwise energies); the chain loss of length 1
 * equals the K-class loss; the gradient through a small network with respect to its parameters against
 * finite differences for every loss and every output map that the loss allows; bad arguments are refused. */
#include "check.h"

static double loss_of(const ebm_structured_loss_opts *o, const float *U, const float *P, size_t len, size_t k,
                      const int32_t *y) {
    double L = NAN;
    CHECK_OK(ebm_structured_chain_loss(o, U, P, len, k, y, &L, NULL, NULL));
    return L;
}

static void test_hand_values(void) {
    const float E[3] = {1.5f, 1.0f, 3.0f};
    const int32_t y[1] = {0};
    /* m = 2 so that square-square's second term is active: max(0, 2 - 1)^2 = 1 */
    const double want[EBM_STRUCTURED_N_LOSSES] = {
        1.5,                /* energy: E */
        0.5,                /* perceptron: E - min E */
        2.5,                /* hinge: max(0, 2 + 1.5 - 1) */
        0.9740769841801067, /* log: log(1 + e^0.5) */
        0.5,                /* LVQ2: (1.5 - 1) / 1 */
        0.6224593312018546, /* MCE: 1 / (1 + e^-0.5) */
        3.25,               /* square-square: 1.5^2 + (2 - 1)^2 */
        2.6178794411714423, /* square-exp: 1.5^2 + e^-1 */
        1.0549569196419906, /* NLL: 1.5 + log(e^-1.5 + e^-1 + e^-3) */
        0.6517925721162652, /* MEE: 1 - e^-1.5 / (e^-1.5 + e^-1 + e^-3) */
    };
    for (int l = 0; l < EBM_STRUCTURED_N_LOSSES; l++) {
        ebm_structured_loss_opts o;
        ebm_structured_loss_opts_default(&o);
        o.loss = (ebm_structured_loss)l;
        o.margin = 2;
        o.lvq2_max = 1;
        float dU[3] = {0, 0, 0};
        double L;
        CHECK_OK(ebm_structured_chain_loss(&o, E, NULL, 1, 3, y, &L, dU, NULL));
        CHECK_MSG(fabs(L - want[l]) < 1e-6, "%s: %.9g, expected %.9g", ebm_structured_loss_name(o.loss), L, want[l]);
        ebm_structured_loss p;
        CHECK_OK(ebm_structured_loss_parse(ebm_structured_loss_name(o.loss), &p));
        CHECK(p == o.loss);
        if (l == EBM_STRUCTURED_HINGE) {
            CHECK_NEAR(dU[0], 1, 1e-7);
            CHECK_NEAR(dU[1], -1, 1e-7);
            CHECK_NEAR(dU[2], 0, 1e-7);
        }
        if (l == EBM_STRUCTURED_NLL) { /* dL/dE_y = [y = 0] - softmax(-E)_y */
            double z = exp(-1.5) + exp(-1.0) + exp(-3.0);
            CHECK_NEAR(dU[0], 1 - exp(-1.5) / z, 1e-6);
            CHECK_NEAR(dU[1], -exp(-1.0) / z, 1e-6);
            CHECK_NEAR(dU[2], -exp(-3.0) / z, 1e-6);
        }
    }
    /* beta: NLL = E + (1/beta) log sum e^(-beta E), MEE likewise (values from the formula in double) */
    ebm_structured_loss_opts o;
    ebm_structured_loss_opts_default(&o);
    o.beta = 2;
    o.loss = EBM_STRUCTURED_NLL;
    CHECK_NEAR(loss_of(&o, E, NULL, 1, 3, y), 0.6632813206337352, 1e-6);
    o.loss = EBM_STRUCTURED_MEE;
    CHECK_NEAR(loss_of(&o, E, NULL, 1, 3, y), 0.7346120712277581, 1e-6);
    /* LVQ2 saturates at M; hinge is 0 beyond the margin */
    o.loss = EBM_STRUCTURED_LVQ2;
    o.lvq2_max = 0.25f;
    CHECK_NEAR(loss_of(&o, E, NULL, 1, 3, y), 0.25, 1e-7);
    o.loss = EBM_STRUCTURED_HINGE;
    o.margin = 1;
    const float good[3] = {0.2f, 1.5f, 3.0f};
    CHECK_NEAR(loss_of(&o, good, NULL, 1, 3, y), 0, 1e-7);
    /* the four-summary form: NLL = E - F, MEE = 1 - exp(-beta (E - F)) */
    double L, d[4];
    o.loss = EBM_STRUCTURED_MEE;
    o.beta = 1;
    CHECK_OK(ebm_structured_loss_terms(&o, 2.0, 0, 0, 1.0, &L, d));
    CHECK_NEAR(L, 1 - exp(-1.0), 1e-12);
    CHECK_NEAR(d[0], exp(-1.0), 1e-12);
    CHECK_NEAR(d[3], -exp(-1.0), 1e-12);
    /* refusals */
    o.loss = EBM_STRUCTURED_LVQ2;
    const float neg[3] = {1.0f, -0.5f, 2.0f};
    CHECK_FAILS(ebm_structured_chain_loss(&o, neg, NULL, 1, 3, y, &L, NULL, NULL), EBM_EINVAL);
    const int32_t bad[1] = {3};
    CHECK_FAILS(ebm_structured_chain_loss(&o, E, NULL, 1, 3, bad, &L, NULL, NULL), EBM_EINVAL);
    o.loss = EBM_STRUCTURED_NLL;
    o.beta = 0;
    CHECK_FAILS(ebm_structured_chain_loss(&o, E, NULL, 1, 3, y, &L, NULL, NULL), EBM_EINVAL);
    ebm_structured_loss p;
    CHECK_FAILS(ebm_structured_loss_parse("hinges", &p), EBM_EINVAL);
}

/* central differences of every loss with respect to U (len, k) and P (k, k) at random positive energies */
static void test_energy_gradients(void) {
    ebm_rng r;
    ebm_rng_seed(&r, 7, 0);
    for (int l = 0; l < EBM_STRUCTURED_N_LOSSES; l++) {
        double worst = 0;
        for (int trial = 0; trial < 12; trial++) {
            size_t len = trial < 4 ? 1 : 1 + (size_t)(trial % 4), k = 2 + (size_t)(trial % 3);
            int pair = len > 1;
            float U[4 * 4], P[4 * 4], dU[16] = {0}, dP[16] = {0};
            int32_t y[4];
            for (size_t i = 0; i < len * k; i++) U[i] = (float)(0.2 + 2.0 * ebm_rng_uniform(&r));
            for (size_t i = 0; i < k * k; i++) P[i] = (float)(0.1 + 1.0 * ebm_rng_uniform(&r));
            for (size_t t = 0; t < len; t++) y[t] = (int32_t)ebm_rng_below(&r, k);
            ebm_structured_loss_opts o;
            ebm_structured_loss_opts_default(&o);
            o.loss = (ebm_structured_loss)l;
            o.margin = 1.5f;
            o.beta = 1.3f;
            o.gamma = 0.7f;
            o.lvq2_max = 5;
            double L;
            const float *Pp = pair ? P : NULL;
            CHECK_OK(ebm_structured_chain_loss(&o, U, Pp, len, k, y, &L, dU, pair ? dP : NULL));
            const float h = 1e-3f;
            for (size_t i = 0; i < len * k + (pair ? k * k : 0); i++) {
                float *v = i < len * k ? &U[i] : &P[i - len * k];
                float keep = *v;
                *v = keep + h;
                double lp = loss_of(&o, U, Pp, len, k, y);
                *v = keep - h;
                double lm = loss_of(&o, U, Pp, len, k, y);
                *v = keep;
                double fd = (lp - lm) / (2.0 * (double)h), an = i < len * k ? dU[i] : dP[i - len * k];
                double err = fabs(fd - an) / (1e-2 + fabs(fd) + fabs(an));
                /* a kink (hinge, the min-marginal switch) inside [x - h, x + h] is not a gradient error */
                if (fabs(fd - an) > 0.2 && (fabs(lp - L) > 0 || fabs(lm - L) > 0)) {
                    double l1, l2;
                    *v = keep + h / 8;
                    l1 = loss_of(&o, U, Pp, len, k, y);
                    *v = keep - h / 8;
                    l2 = loss_of(&o, U, Pp, len, k, y);
                    *v = keep;
                    double fd2 = (l1 - l2) / (2.0 * (double)h / 8);
                    err = fabs(fd2 - an) / (1e-2 + fabs(fd2) + fabs(an)) < err ? fabs(fd2 - an) / (1e-2 + fabs(fd2) + fabs(an)) : err;
                }
                worst = err > worst ? err : worst;
            }
        }
        printf("  %-10s dL/dU, dL/dP vs finite differences: worst relative error %.2e\n",
               ebm_structured_loss_name((ebm_structured_loss)l), worst);
        CHECK_MSG(worst < 2e-2, "%s gradient error %g", ebm_structured_loss_name((ebm_structured_loss)l), worst);
    }
}

/* gradient through a network: E(x, y) = s(g(x)[y]) with g = linear:6,tanh,linear:3 */
static void test_net_gradients(void) {
    const float x[4 * 5] = {0.5f, -1.0f, 1.5f, 0.2f, -0.3f, 0.8f, 2.0f, -2.0f, 0.0f, 0.1f,
                            -0.7f, 0.4f, 0.9f, -1.2f, 0.6f, 1.1f, -0.2f, 0.3f, 0.5f, -0.9f};
    const int32_t y[4] = {0, 2, 1, 1};
    for (int outk = 0; outk < 3; outk++)
        for (int l = 0; l < EBM_STRUCTURED_N_LOSSES; l++) {
            ebm_structured_loss_opts o;
            ebm_structured_loss_opts_default(&o);
            o.loss = (ebm_structured_loss)l;
            o.lvq2_max = 10;
            o.margin = 3;
            if (ebm_structured_loss_needs_nonneg(o.loss) && outk == EBM_STRUCTURED_OUT_RAW) continue;
            ebm_structured *m;
            CHECK_OK(ebm_structured_new("linear:6,tanh,linear:3", 5, 1, 1, 3, 0, (ebm_structured_out)outk, &m));
            ebm_rng r;
            ebm_rng_seed(&r, 3, (uint64_t)l);
            CHECK_OK(ebm_structured_init(m, &r));
            size_t np;
            float *p = ebm_net_params(m->net, &np);
            float *g = calloc(np, sizeof(float));
            double L;
            CHECK_OK(ebm_structured_loss_grad(m, &o, x, y, 4, &L, g, NULL));
            double worst = 0, gmax = 0;
            for (size_t i = 0; i < np; i++) {
                float keep = p[i];
                const float h = 2e-3f;
                double lp, lm;
                p[i] = keep + h;
                CHECK_OK(ebm_structured_loss_grad(m, &o, x, y, 4, &lp, NULL, NULL));
                p[i] = keep - h;
                CHECK_OK(ebm_structured_loss_grad(m, &o, x, y, 4, &lm, NULL, NULL));
                p[i] = keep;
                double fd = (lp - lm) / (2.0 * (double)h), err = fabs(fd - g[i]) / (1e-2 + fabs(fd) + fabs(g[i]));
                if (err > 2e-2) { /* a switch of the most offending answer inside the step: try a smaller one */
                    p[i] = keep + h / 8;
                    CHECK_OK(ebm_structured_loss_grad(m, &o, x, y, 4, &lp, NULL, NULL));
                    p[i] = keep - h / 8;
                    CHECK_OK(ebm_structured_loss_grad(m, &o, x, y, 4, &lm, NULL, NULL));
                    p[i] = keep;
                    fd = (lp - lm) / (2.0 * (double)h / 8);
                    err = fabs(fd - g[i]) / (1e-2 + fabs(fd) + fabs(g[i]));
                }
                worst = err > worst ? err : worst;
                gmax = fabs(g[i]) > gmax ? fabs(g[i]) : gmax;
            }
            CHECK_MSG(worst < 2e-2, "%s / %s: parameter gradient error %g", ebm_structured_loss_name(o.loss),
                      ebm_structured_out_name((ebm_structured_out)outk), worst);
            if (l != EBM_STRUCTURED_ENERGY || outk != EBM_STRUCTURED_OUT_SQUARE) CHECK(gmax > 1e-3);
            if (outk == EBM_STRUCTURED_OUT_SOFTPLUS)
                printf("  %-10s dL/dtheta through the net (softplus output): worst relative error %.2e\n",
                       ebm_structured_loss_name(o.loss), worst);
            free(g);
            ebm_structured_free(m);
        }
}

int main(void) {
    test_hand_values();
    test_energy_gradients();
    test_net_gradients();
    return check_summary("test_losses");
}
