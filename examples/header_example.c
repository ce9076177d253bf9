/* The worked example at the top of ebm.h, with its error checks: train a 256-hidden RBM by PCD-1 on
 * Fashion-MNIST through the training loop, draw 100 samples by block Gibbs sampling, and estimate the test
 * log-likelihood with AIS.  Built with the project so that the header's example cannot rot; it needs
 * Debian's dataset-fashion-mnist to run (`make demo` installs it). */
#include <ebm.h>

#include <stdio.h>
#include <stdlib.h>

#define TRY(call)                                                                   \
    do {                                                                            \
        if ((call) != EBM_OK) {                                                     \
            fprintf(stderr, "%s: %s\n", #call, ebm_last_error());                   \
            exit(1);                                                                \
        }                                                                           \
    } while (0)

int main(void) {
    ebm_data_opts dopt;
    ebm_dataset *d, *test;
    ebm_rbm *m;
    ebm_rng rng;
    ebm_cd_opts cd;
    ebm_run_opts run;
    ebm_data_opts_default(&dopt);
    TRY(ebm_dataset_load("fashion-mnist", &dopt, &d));
    ebm_rng_seed(&rng, 1, 0);
    TRY(ebm_rbm_new(784, 256, &m));
    TRY(ebm_rbm_init(m, &rng, 0.01f, d->x));
    ebm_cd_opts_default(&cd);
    cd.mode = EBM_PCD;
    ebm_trainer *t;
    TRY(ebm_rbm_trainer_new(m, &cd, &t));
    ebm_cd_run_opts(&cd, &run);
    TRY(ebm_run(t, d->x, NULL, &run, NULL));
    ebm_gibbs *g;
    TRY(ebm_gibbs_new(m, 100, &g));
    TRY(ebm_gibbs_init_noise(g, 0.5f, &rng));
    TRY(ebm_gibbs_run(g, 1000, 1.0f, &rng));
    ebm_ais_opts ao;
    ebm_ais_result z;
    ebm_ais_opts_default(&ao);
    TRY(ebm_rbm_ais(m, &ao, &z, NULL));
    TRY(ebm_dataset_load("fashion-mnist:test", &dopt, &test));
    double *F = malloc(test->x->rows * sizeof *F), mean = 0;
    if (!F) return 1;
    TRY(ebm_rbm_free_energy(m, test->x->data, test->x->rows, 1.0f, F));
    for (size_t i = 0; i < test->x->rows; i++) mean += F[i] / (double)test->x->rows;
    printf("test log-likelihood %.2f nats, interval [%.2f, %.2f]\n", -mean - z.log_z, -mean - z.log_z_hi,
           -mean - z.log_z_lo);
    free(F);
    ebm_gibbs_free(g);
    ebm_trainer_free(t);
    ebm_rbm_free(m);
    ebm_dataset_free(test);
    ebm_dataset_free(d);
    return 0;
}
