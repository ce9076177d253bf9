/* The AIS report of `ebm eval` (Salakhutdinov & Murray 2008; reverse AIS, Burda, Grosse & Salakhutdinov
 * 2015): forward AIS from the data's pixel marginals and reverse AIS from exact samples, with a progress bar,
 * and the log Z and log-likelihood intervals as text or JSON (a larger log Z means a smaller likelihood).
 * Under mpirun the runs are split across the processes (each run's streams are its index's, first_run), the
 * log weights gathered in run order and summarised as one process would: the same estimate, bit for bit. */
#include "cli.h"

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

/* Forward AIS from the data's pixel marginals and, when asked, reverse AIS from exact samples (the library's
 * ebm_rbm_ais_dist, over the processes of this run).  Returns false after printing the error. */
bool cli_rbm_ais(const char *cmd, const ebm_rbm *m, const ebm_mat *x, size_t runs, size_t steps, uint64_t seed,
                 bool reverse, bool quiet, ebm_precision prec, ebm_ais_result *fw, ebm_ais_result *rv) {
    ais_progress a;
    cli_progress_init(&a.prog, quiet);
    ebm_ais_opts o;
    ebm_ais_opts_default(&o);
    o.runs = runs;
    o.steps = steps;
    o.seed = seed;
    o.precision = prec;
    o.progress = on_ais;
    o.user = &a;
    cli_install_sigint();
    if (!quiet)
        fprintf(stderr, "AIS: %zu runs x %zu steps%s\n", runs, steps,
                prec == EBM_PRECISION_FP32 ? "" : " (fp32 whatever --precision says: docs/eval.md)");
    ebm_status s = EBM_OK;
    for (int back = 0; !s && back <= (int)reverse; back++) {
        ebm_ais_result *r = back ? rv : fw;
        a.label = back ? "reverse AIS" : "AIS";
        a.t0 = cli_now();
        a.next_line = 0.1;
        s = ebm_rbm_ais_dist(m, x, &o, back, cli_comm(), r);
        if (!s) cli_progress_line(&a.prog, "%s: log Z %.4f in %.1f s", a.label, r->log_z, r->seconds);
    }
    if (s == EBM_ECANCELED) cli_error(cmd, "interrupted (%s)", ebm_last_error());
    else if (s) cli_lib_error(cmd, s);
    if (s && s != EBM_ECANCELED) ebm_comm_abort(cli_comm(), 1); /* the others may wait in the gather */
    return s == EBM_OK;
}

cli_text cli_ais_warning(unsigned warnings, double ess, double log_w_sd) {
    cli_text t = {""};
    if (!warnings) return t;
    size_t n = (size_t)snprintf(t.s, sizeof t.s, "the interval may not hold the true log Z:");
    if ((warnings & EBM_AIS_WARN_ESS) && n < sizeof t.s)
        n += (size_t)snprintf(t.s + n, sizeof t.s - n, " ESS %.1f < %g (a few runs carry the estimate);", ess,
                              EBM_AIS_MIN_ESS);
    if ((warnings & EBM_AIS_WARN_SPREAD) && n < sizeof t.s)
        n += (size_t)snprintf(t.s + n, sizeof t.s - n, " sd(log w) %.2f > %g (the schedule is too short for this "
                              "model);", log_w_sd, EBM_AIS_MAX_LOG_W_SD);
    if (n < sizeof t.s) snprintf(t.s + n, sizeof t.s - n, " use more intermediate distributions and runs");
    return t;
}

/* The log-likelihood interval from the log Z interval: a larger log Z means a smaller likelihood. */
void cli_ais_print(const char *what, const ebm_ais_result *r, double fmean, bool binary) {
    printf("log Z            %.4f (%s), interval [%.4f, %.4f] (3 standard errors; %zu runs x %zu steps, ESS %.1f, "
           "%.1f s)\n",
           r->log_z, what, r->log_z_lo, r->log_z_hi, r->runs, r->steps, r->ess, r->seconds);
    printf("log-likelihood   %.4f nats per example (%s), interval [%.4f, %.4f]; conservative %.4f%s\n",
           -fmean - r->log_z, what, -fmean - r->log_z_hi, -fmean - r->log_z_lo, -fmean - r->log_z_hi,
           binary ? "" : " -- data is not binary, so this is not a probability");
    if (r->warnings) printf("warning          %s\n", cli_ais_warning(r->warnings, r->ess, r->log_w_sd).s);
}

void cli_ais_json(const ebm_ais_result *r, double fmean) {
    const char *const keys[] = {"log_z", "log_z_lo", "log_z_hi", "log_likelihood", "log_likelihood_lo",
                                "log_likelihood_hi", "ess", "log_w_sd", "log_z_base"};
    const double v[] = {r->log_z, r->log_z_lo, r->log_z_hi, -fmean - r->log_z, -fmean - r->log_z_hi,
                        -fmean - r->log_z_lo, r->ess, r->log_w_sd, r->log_z_base};
    printf("{");
    cli_json_numbers(stdout, keys, v, 9);
    printf(", \"runs\": %zu, \"steps\": %zu, \"seconds\": %.3f, \"warning\": ", r->runs, r->steps, r->seconds);
    if (r->warnings) cli_json_string(stdout, cli_ais_warning(r->warnings, r->ess, r->log_w_sd).s);
    else printf("null");
    printf("}");
}

