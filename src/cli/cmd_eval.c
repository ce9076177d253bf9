/* `ebm eval`: the canonical evaluation of a model on a data set, preprocessed the way the model was
 * trained (from its ebm.data.* metadata unless overridden): mean free energy, mean-field reconstruction
 * error, exact pseudo-log-likelihood (binary data), and, when a layer is small enough to enumerate,
 * the exact log partition function and the test log-likelihood in nats; with --ais, an annealed-importance-
 * sampling estimate of log Z with its interval (and reverse AIS from exact samples where those exist).
 * Text or --json. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const eval_about =
    "Evaluate a model on data: mean free energy, reconstruction error (mean squared error per unit of\n"
    "p(v | p(h | v))), pseudo-log-likelihood (sum of all log p(v_i | v_-i), binary data only) and, when\n"
    "the smaller layer has at most 20 units (25 with --exact on), the exact log Z and the mean\n"
    "log-likelihood in nats per example.  Data is scaled and binarised as in training unless the\n"
    "--scale / --binarize / --threshold options say otherwise.\n"
    "\n"
    "--ais estimates log Z of any RBM by annealed importance sampling (Salakhutdinov & Murray 2008):\n"
    "M runs anneal from a base model with the evaluation data's pixel marginals to the RBM over the\n"
    "paper's 14,500-step schedule; the interval is log(mean(w) -+ 3 standard errors).  AIS tends to\n"
    "underestimate log Z, which overstates the likelihood: read the lower end of the log-likelihood\n"
    "interval (the 'conservative' figure) when comparing models.  --reverse also runs AIS backwards from\n"
    "exact samples (small models only), which tends to overestimate log Z: the truth lies between.\n"
    "\n"
    "--probe fits a linear probe on the model's features instead (see 'ebm eval MODEL --probe --help').";

typedef struct {
    cli_progress prog;
    const char *label;
    double t0, next_line; /* without a terminal: a plain line every 10% */
} ais_progress;

static int on_ais(double fraction, void *user) {
    ais_progress *a = user;
    char detail[64] = "", eta[32];
    double el = cli_now() - a->t0;
    if (fraction > 0.01) {
        cli_format_duration(el / fraction - el, eta, sizeof eta);
        snprintf(detail, sizeof detail, "%s left", eta);
    }
    cli_progress_bar(&a->prog, a->label, fraction, detail);
    if (!a->prog.tty && fraction >= a->next_line && fraction < 1) {
        cli_progress_line(&a->prog, "%s: %.0f%% %s", a->label, 100 * fraction, detail);
        a->next_line += 0.1;
    }
    return cli_interrupted() ? 1 : 0;
}

/* Forward AIS from the data's pixel marginals and, when asked, reverse AIS from exact samples.  Returns
 * false after printing the error. */
static bool run_ais(const char *cmd, const ebm_rbm *m, const ebm_mat *x, size_t runs, size_t steps,
                          uint64_t seed, bool reverse, bool quiet, ebm_ais_result *fw, ebm_ais_result *rv) {
    float *base = malloc(m->n_vis * sizeof(float));
    float *v0 = runs <= SIZE_MAX / sizeof(float) / m->n_vis && reverse ? malloc(runs * m->n_vis * sizeof(float)) : NULL;
    if (!base || (reverse && !v0)) {
        free(base);
        free(v0);
        cli_error(cmd, "out of memory for %zu AIS runs", runs);
        return false;
    }
    ebm_status s = ebm_ais_base_bias(x, base);
    ais_progress a;
    cli_progress_init(&a.prog, quiet);
    ebm_ais_opts o;
    ebm_ais_opts_default(&o);
    o.runs = runs;
    o.steps = steps;
    o.seed = seed;
    o.base_bias = base;
    o.progress = on_ais;
    o.user = &a;
    cli_install_sigint();
    if (!s) {
        if (!quiet) fprintf(stderr, "AIS: %zu runs x %zu steps\n", runs, steps);
        a.label = "AIS";
        a.t0 = cli_now();
        a.next_line = 0.1;
        s = ebm_rbm_ais(m, &o, fw, NULL);
        if (!s) cli_progress_line(&a.prog, "AIS: log Z %.4f in %.1f s", fw->log_z, fw->seconds);
    }
    if (!s && reverse) {
        ebm_rng rng;
        ebm_rng_seed(&rng, seed, 13);
        s = ebm_rbm_sample_exact(m, runs, &rng, v0);
        if (!s) {
            a.label = "reverse AIS";
            a.t0 = cli_now();
            a.next_line = 0.1;
            s = ebm_rbm_ais_reverse(m, v0, &o, rv, NULL);
            if (!s) cli_progress_line(&a.prog, "reverse AIS: log Z %.4f in %.1f s", rv->log_z, rv->seconds);
        }
    }
    free(base);
    free(v0);
    if (s == EBM_ECANCELED) cli_error(cmd, "interrupted (%s)", ebm_last_error());
    else if (s) cli_lib_error(cmd, s);
    return s == EBM_OK;
}

/* The log-likelihood interval from the log Z interval: a larger log Z means a smaller likelihood. */
static void print_ais(const char *what, const ebm_ais_result *r, double fmean, bool binary) {
    printf("log Z            %.4f (%s), interval [%.4f, %.4f] (3 standard errors; %zu runs x %zu steps, ESS %.1f, "
           "%.1f s)\n",
           r->log_z, what, r->log_z_lo, r->log_z_hi, r->runs, r->steps,
           r->ess, r->seconds);
    printf("log-likelihood   %.4f nats per example (%s), interval [%.4f, %.4f]; conservative %.4f%s\n",
           -fmean - r->log_z, what, -fmean - r->log_z_hi, -fmean - r->log_z_lo, -fmean - r->log_z_hi,
           binary ? "" : " -- data is not binary, so this is not a probability");
}

static void json_ais(const ebm_ais_result *r, double fmean) {
    printf("{\"log_z\": ");
    cli_json_number(stdout, r->log_z);
    printf(", \"log_z_lo\": ");
    cli_json_number(stdout, r->log_z_lo);
    printf(", \"log_z_hi\": ");
    cli_json_number(stdout, r->log_z_hi);
    printf(", \"log_likelihood\": ");
    cli_json_number(stdout, -fmean - r->log_z);
    printf(", \"log_likelihood_lo\": ");
    cli_json_number(stdout, -fmean - r->log_z_hi);
    printf(", \"log_likelihood_hi\": ");
    cli_json_number(stdout, -fmean - r->log_z_lo);
    printf(", \"ess\": ");
    cli_json_number(stdout, r->ess);
    printf(", \"log_w_sd\": ");
    cli_json_number(stdout, r->log_w_sd);
    printf(", \"log_z_base\": ");
    cli_json_number(stdout, r->log_z_base);
    printf(", \"runs\": %zu, \"steps\": %zu, \"seconds\": %.3f}", r->runs, r->steps, r->seconds);
}

int cli_net_eval(int argc, char **argv, bool quiet) {
    (void)argc, (void)argv, (void)quiet;
    return cli_error("eval", "energy networks have no tractable likelihood: use ebm score (energies, anomaly "
                             "AUROC), ebm eval --samples (sample quality) or ebm classify for JEM models");
}

int cli_rbm_eval(int argc, char **argv, bool quiet) {
    const char *cmd = "eval";
    const char *data_spec = NULL;
    size_t pll_rows = 1000;
    int exact_mode = 0; /* auto|on|off */
    bool json = false, ais = false, reverse = false;
    size_t ais_runs = 100, ais_steps = EBM_AIS_DEFAULT_STEPS;
    cli_data_args da = {"auto", "none", 0.5f, 0, 1, false, false, false};
    const cli_opt opts[] = {
        {"data", OPT_STR, &data_spec, "SPEC", "evaluation data (default: the model's training data spec)", -INFINITY, INFINITY, 0, 0, NULL, NULL},
        {"limit", OPT_SIZE, &da.limit, "N", "use the first N rows only (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        {"pll-rows", OPT_SIZE, &pll_rows, "N", "rows for the pseudo-log-likelihood (0 = all)", 0, 1e12, 0, 0, NULL, NULL},
        {"exact", OPT_CHOICE, &exact_mode, NULL, "exact log Z and log-likelihood (auto: when a layer has <= 20 units)", 0, 0, 0, 0, "auto|on|off", NULL},
        {"ais", OPT_FLAG, &ais, NULL, "estimate log Z by annealed importance sampling", 0, 0, 0, 0, NULL, NULL},
        {"ais-runs", OPT_SIZE, &ais_runs, "M", "AIS runs (importance weights)", 1, 1048576, 0, 0, NULL, NULL},
        {"ais-betas", OPT_SIZE, &ais_steps, "N", "AIS intermediate distributions (the paper's schedule scaled to N)", 3, 1e8, 0, 0, NULL, NULL},
        {"reverse", OPT_FLAG, &reverse, NULL, "with --ais: also reverse AIS from exact samples (a layer <= 20 units)", 0, 0, 0, 0, NULL, NULL},
        {"json", OPT_FLAG, &json, NULL, "print one JSON object instead of text", 0, 0, 0, 0, NULL, NULL},
        CLI_DATA_AS_TRAINED_OPTIONS(da),
        {"seed", OPT_U64, &da.seed, "S", "seed for AIS and for --binarize stochastic", 0, 1.8446744073709552e19, 0, 0, NULL, NULL},
        OPT_END,
    };
    const char *path;
    int rc = cli_start_model(cmd, argc, argv, opts, "ebm eval MODEL --data SPEC [options]", eval_about, &path);
    if (rc >= 0) return rc;
    ebm_rbm *m = cli_load_rbm(cmd, path, "evaluating");
    if (!m) return 1;
    ebm_status s;
    rc = 1;
    ebm_dataset *d = NULL;
    double *F = NULL;
    if (!data_spec) data_spec = ebm_meta_get(m->meta, "ebm.data.spec");
    if (!data_spec) {
        rc = cli_error(cmd, "--data is required (the model does not record its training data)");
        goto done;
    }
    cli_data_args_from_model(&da, m->meta);
    ebm_data_opts dopts;
    if (!cli_data_opts(cmd, &da, &dopts)) goto done;
    d = cli_load_data(cmd, data_spec, &dopts, quiet || json);
    if (!d) goto done;
    if (d->x->cols != m->n_vis) {
        rc = cli_error(cmd, "%s has %zu columns but the model has %zu visible units", data_spec, d->x->cols, m->n_vis);
        goto done;
    }
    if (ebm_mat_check_range(d->x, 0.0f, 1.0f, data_spec)) {
        rc = cli_error(cmd, "%s; a Bernoulli RBM needs values in [0, 1] (try --scale minmax)", ebm_last_error());
        goto done;
    }
    size_t rows = d->x->rows;
    bool binary = cli_is_binary(d->x);
    size_t small = m->n_vis < m->n_hid ? m->n_vis : m->n_hid;
    bool exact = exact_mode == 1 || (exact_mode == 0 && small <= 20);
    if (exact_mode == 1 && small > EBM_EXACT_MAX_UNITS) {
        rc = cli_error(cmd, "--exact on needs a layer of at most %d units; this model has %zu visible and %zu hidden",
                       EBM_EXACT_MAX_UNITS, m->n_vis, m->n_hid);
        goto done;
    }
    if (reverse && !ais) {
        rc = cli_error(cmd, "--reverse goes with --ais");
        goto done;
    }
    if (reverse && small > 20) {
        rc = cli_error(cmd, "--reverse needs exact samples, which needs a layer of at most 20 units; this model has "
                       "%zu visible and %zu hidden", m->n_vis, m->n_hid);
        goto done;
    }
    F = malloc(rows * sizeof *F);
    if (!F) {
        rc = cli_error(cmd, "out of memory");
        goto done;
    }
    double t0 = cli_now(), fmean = 0, recon = NAN, pll = NAN, logz = NAN, ll = NAN;
    s = ebm_rbm_free_energy(m, d->x->data, rows, 1.0f, F);
    if (!s) s = ebm_rbm_recon_error(m, d->x->data, rows, &recon);
    size_t np = pll_rows && pll_rows < rows ? pll_rows : rows;
    if (!s && binary) s = ebm_rbm_pseudo_ll(m, d->x->data, np, &pll);
    if (!s && exact) {
        if (!quiet && !json)
            fprintf(stderr, "enumerating 2^%zu states of the %s layer for the exact log Z...\n", small,
                    m->n_hid <= m->n_vis ? "hidden" : "visible");
        s = ebm_rbm_log_z_exact(m, 1.0f, &logz);
        if (!s) s = ebm_rbm_log_likelihood(m, d->x->data, rows, logz, &ll);
    }
    ebm_ais_result fw = {0}, rv = {0};
    if (s) {
        rc = cli_lib_error(cmd, s);
        goto done;
    }
    if (ais && !run_ais(cmd, m, d->x, ais_runs, ais_steps, da.seed, reverse, quiet || json, &fw, &rv)) goto done;
    for (size_t i = 0; i < rows; i++) fmean += F[i] / (double)rows;
    double seconds = cli_now() - t0;
    char preprocess[160];
    snprintf(preprocess, sizeof preprocess, "scale %s, binarize %s%s", da.scale, da.binarize,
             strcmp(da.binarize, "threshold") == 0 ? "" : "");
    if (strcmp(da.binarize, "threshold") == 0)
        snprintf(preprocess, sizeof preprocess, "scale %s, binarize threshold %g", da.scale, (double)da.threshold);
    if (json) {
        printf("{\"model\": ");
        cli_json_string(stdout, path);
        printf(", \"kind\": \"rbm\", \"n_vis\": %zu, \"n_hid\": %zu, \"data\": ", m->n_vis, m->n_hid);
        cli_json_string(stdout, data_spec);
        printf(", \"source\": ");
        cli_json_string(stdout, d->source);
        printf(", \"rows\": %zu, \"preprocess\": ", rows);
        cli_json_string(stdout, preprocess);
        printf(", \"binary\": %s, \"free_energy_mean\": ", binary ? "true" : "false");
        cli_json_number(stdout, fmean);
        printf(", \"recon_mse\": ");
        cli_json_number(stdout, recon);
        printf(", \"pseudo_ll\": ");
        cli_json_number(stdout, pll);
        printf(", \"pseudo_ll_rows\": %zu, \"log_z\": ", binary ? np : 0);
        cli_json_number(stdout, logz);
        printf(", \"log_likelihood\": ");
        cli_json_number(stdout, ll);
        if (ais) {
            printf(", \"ais\": ");
            json_ais(&fw, fmean);
            if (reverse) {
                printf(", \"ais_reverse\": ");
                json_ais(&rv, fmean);
            }
        }
        printf(", \"seconds\": %.3f}\n", seconds);
    } else {
        printf("model            %s (RBM %zu visible x %zu hidden)\n", path, m->n_vis, m->n_hid);
        printf("data             %s: %zu rows (%s)\n", d->source, rows, preprocess);
        printf("free energy      %.4f (mean)\n", fmean);
        printf("reconstruction   %.6f (mean squared error per unit, mean field)\n", recon);
        if (binary)
            printf("pseudo-LL        %.4f nats per example (all %zu conditionals, %zu rows)\n", pll, m->n_vis, np);
        else
            printf("pseudo-LL        n/a (data is not binary)\n");
        if (exact) {
            printf("log Z            %.6f (exact, 2^%zu states)\n", logz, small);
            printf("log-likelihood   %.4f nats per example (exact)%s\n", ll,
                   binary ? "" : " -- data is not binary, so this is not a probability");
        } else if (!ais) {
            printf("log-likelihood   n/a: exact enumeration needs a layer of at most 20 units (this model: %zu and "
                   "%zu); try --ais\n",
                   m->n_vis, m->n_hid);
        }
        if (ais) {
            print_ais("AIS", &fw, fmean, binary);
            if (reverse) print_ais("reverse AIS", &rv, fmean, binary);
        }
    }
    rc = 0;
done:
    free(F);
    ebm_dataset_free(d);
    ebm_rbm_free(m);
    return rc;
}
