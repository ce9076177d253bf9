/* The ten losses of LeCun, Chopra, Hadsell, Ranzato & Huang (2006, "A tutorial on energy-based learning",
 * section 2.2, table 1) for an energy E(W, Y, X) over discrete answers, with E = E(W, Y^i, X^i) of the correct
 * answer and Ebar = E(W, Ybar^i, X^i) of the most offending incorrect answer (the lowest-energy answer that
 * is not the correct one):
 *   energy E;  perceptron E - min_Y E;  hinge max(0, m + E - Ebar);  log log(1 + e^(E - Ebar));
 *   LVQ2 min(M, max(0, (E - Ebar) / Ebar));  MCE (1 + e^-(E - Ebar))^-1;  square-square E^2 + max(0, m - Ebar)^2;
 *   square-exp E^2 + gamma e^-Ebar;  NLL/MMI E + (1/beta) log sum_Y e^(-beta E(Y));
 *   MEE 1 - e^(-beta E) / sum_Y e^(-beta E(Y)).
 * Each is written as a function of four summaries, E, Ebar, Emin = min_Y E(Y) and the free energy
 * F = -(1/beta) log sum_Y e^(-beta E(Y)) (so NLL = E - F, MEE = 1 - e^(-beta (E - F))), whose partial
 * derivatives then flow to the energies: dEmin to the minimising answer, dF as the Gibbs marginals
 * dF/dE(Y) = p(Y) = e^(-beta E(Y)) / Z.  For a chain these are the Viterbi path, the most offending path
 * from the min-marginals, and the forward-backward marginals (src/models/structured.c). */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

static const char *const loss_names[EBM_STRUCTURED_N_LOSSES] = {"energy", "perceptron", "hinge", "log", "lvq2",
                                                        "mce",    "sqsq",       "sqexp", "nll", "mee"};

void ebm_structured_loss_opts_default(ebm_structured_loss_opts *o) {
    memset(o, 0, sizeof *o);
    o->loss = EBM_STRUCTURED_HINGE;
    o->margin = 1.0f;
    o->beta = 1.0f;
    o->gamma = 1.0f;
    o->lvq2_max = 1.0f;
}

const char *ebm_structured_loss_name(ebm_structured_loss l) {
    return (unsigned)l < EBM_STRUCTURED_N_LOSSES ? loss_names[l] : "unknown";
}

ebm_status ebm_structured_loss_parse(const char *name, ebm_structured_loss *out) {
    for (int i = 0; name && i < EBM_STRUCTURED_N_LOSSES; i++)
        if (strcmp(name, loss_names[i]) == 0) {
            *out = (ebm_structured_loss)i;
            return EBM_OK;
        }
    return ebm_fail(EBM_EINVAL, "unknown loss '%s' (energy|perceptron|hinge|log|lvq2|mce|sqsq|sqexp|nll|mee)",
                    name ? name : "(null)");
}

int ebm_structured_loss_needs_nonneg(ebm_structured_loss l) {
    return l == EBM_STRUCTURED_LVQ2 || l == EBM_STRUCTURED_SQSQ || l == EBM_STRUCTURED_SQEXP;
}

ebm_status ebm_structured_loss_terms(const ebm_structured_loss_opts *o, double E, double Eb, double Emin, double F,
                                     double *L, double d[4]) {
    double l = 0, dE = 0, dEb = 0, dEmin = 0, dF = 0;
    double m = o->margin, beta = o->beta;
    if ((o->loss == EBM_STRUCTURED_NLL || o->loss == EBM_STRUCTURED_MEE) && !(beta > 0))
        return ebm_fail(EBM_EINVAL, "%s loss: beta must be positive, got %g", ebm_structured_loss_name(o->loss), beta);
    switch (o->loss) {
    case EBM_STRUCTURED_ENERGY:
        l = E, dE = 1;
        break;
    case EBM_STRUCTURED_PERCEPTRON:
        l = E - Emin, dE = 1, dEmin = -1;
        break;
    case EBM_STRUCTURED_HINGE:
        if (m + E - Eb > 0) l = m + E - Eb, dE = 1, dEb = -1;
        break;
    case EBM_STRUCTURED_LOG: {
        double s = ebm_sigmoid(E - Eb);
        l = ebm_softplus(E - Eb), dE = s, dEb = -s;
        break;
    }
    case EBM_STRUCTURED_LVQ2: {
        if (!(Eb > 0))
            return ebm_fail(EBM_EINVAL, "LVQ2 loss: the most offending energy is %g; LVQ2 needs positive energies "
                            "(use the softplus or square output)", Eb);
        double r = (E - Eb) / Eb, M = o->lvq2_max;
        if (r >= M) l = M;
        else if (r > 0) l = r, dE = 1 / Eb, dEb = -E / (Eb * Eb);
        break;
    }
    case EBM_STRUCTURED_MCE: {
        double s = ebm_sigmoid(E - Eb);
        l = s, dE = s * (1 - s), dEb = -dE;
        break;
    }
    case EBM_STRUCTURED_SQSQ:
        l = E * E, dE = 2 * E;
        if (Eb < m) l += (m - Eb) * (m - Eb), dEb = -2 * (m - Eb);
        break;
    case EBM_STRUCTURED_SQEXP:
        l = E * E + o->gamma * exp(-Eb), dE = 2 * E, dEb = -o->gamma * exp(-Eb);
        break;
    case EBM_STRUCTURED_NLL:
        l = E - F, dE = 1, dF = -1;
        break;
    case EBM_STRUCTURED_MEE: {
        double p = exp(-beta * (E - F)); /* the model's probability of the correct answer */
        l = 1 - p, dE = beta * p, dF = -beta * p;
        break;
    }
    default:
        return ebm_fail(EBM_EINVAL, "unknown loss %d", (int)o->loss);
    }
    if (!isfinite(l))
        return ebm_fail(EBM_ENAN, "%s loss is not finite (E %g, Ebar %g)", ebm_structured_loss_name(o->loss), E, Eb);
    *L = l;
    if (d) d[0] = dE, d[1] = dEb, d[2] = dEmin, d[3] = dF;
    return EBM_OK;
}

/* dU, dP += w along the path y */
static void add_path(float *dU, float *dP, size_t len, size_t k, const int32_t *y, double w) {
    if (w == 0) return;
    for (size_t t = 0; t < len; t++) {
        dU[t * k + (size_t)y[t]] += (float)w;
        if (dP && t + 1 < len) dP[(size_t)y[t] * k + (size_t)y[t + 1]] += (float)w;
    }
}

ebm_status ebm_structured_chain_loss(const ebm_structured_loss_opts *o, const float *U, const float *P, size_t len,
                                     size_t k, const int32_t *y, double *L, float *dU, float *dP) {
    if (len == 0 || k < 2) return ebm_fail(EBM_EINVAL, "structured loss: need a length >= 1 and >= 2 labels (got %zu, %zu)", len, k);
    for (size_t t = 0; t < len; t++)
        if (y[t] < 0 || (size_t)y[t] >= k)
            return ebm_fail(EBM_EINVAL, "structured loss: label %d at position %zu is not in 0..%zu", (int)y[t], t, k - 1);
    /* on the stack for the usual sizes: training calls this for every row */
    enum { SMALL = 512 };
    int32_t spaths[2 * SMALL];
    double smu[SMALL], sxi[SMALL];
    int32_t *paths = len <= SMALL ? spaths : malloc(2 * len * sizeof(int32_t));
    double *mu = NULL, *xi = NULL;
    if (!paths) return ebm_fail(EBM_ENOMEM, "out of memory");
    int32_t *ybar = paths, *ymin = paths + len;
    bool need_min = o->loss == EBM_STRUCTURED_PERCEPTRON;
    bool need_f = o->loss == EBM_STRUCTURED_NLL || o->loss == EBM_STRUCTURED_MEE;
    bool need_bar = !need_min && !need_f && o->loss != EBM_STRUCTURED_ENERGY;
    double E = ebm_chain_energy(U, P, len, k, y), Eb = 0, Emin = 0, F = 0, logz = 0, d[4];
    ebm_status s = EBM_OK;
    if (need_bar) s = ebm_chain_most_offending(U, P, len, k, y, ybar, &Eb);
    if (!s && need_min) s = ebm_chain_viterbi(U, P, len, k, ymin, &Emin);
    if (!s && need_f && dU) {
        mu = len * k <= SMALL ? smu : malloc(len * k * sizeof(double));
        xi = !P ? NULL : k * k <= SMALL ? sxi : malloc(k * k * sizeof(double));
        if (!mu || (P && !xi)) s = ebm_fail(EBM_ENOMEM, "out of memory");
    }
    if (!s && need_f) s = ebm_chain_forward(U, P, len, k, o->beta, &logz, mu, xi);
    if (!s) {
        F = -logz / o->beta;
        s = ebm_structured_loss_terms(o, E, Eb, Emin, F, L, d);
    }
    if (!s && dU) {
        float *dPp = P ? dP : NULL;
        add_path(dU, dPp, len, k, y, d[0]);
        if (need_bar) add_path(dU, dPp, len, k, ybar, d[1]);
        if (need_min) add_path(dU, dPp, len, k, ymin, d[2]);
        if (need_f && d[3] != 0) {
            for (size_t i = 0; i < len * k; i++) dU[i] += (float)(d[3] * mu[i]);
            if (dPp)
                for (size_t i = 0; i < k * k; i++) dPp[i] += (float)(d[3] * xi[i]);
        }
    }
    if (mu != smu) free(mu);
    if (xi != sxi) free(xi);
    if (paths != spaths) free(paths);
    return s;
}
