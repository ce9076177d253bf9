/* A complete use of libebm through ebm.h alone: generate a small binary data set, train a Bernoulli RBM
 * by CD-1, report its exact log-likelihood (the hidden layer is small enough to enumerate), save it as
 * safetensors, load it back and draw samples by block Gibbs sampling.
 * Build against an installed libebm:  cc rbm_from_c.c $(pkg-config --cflags --libs ebm) -o rbm_from_c */
#include <ebm.h>

#include <stdio.h>
#include <string.h>

static int fail(const char *what) {
    fprintf(stderr, "%s: %s\n", what, ebm_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "example-rbm.safetensors";
    /* 400 noisy copies of two 16-pixel stripes patterns */
    ebm_mat *data;
    if (ebm_mat_new(400, 16, &data)) return fail("ebm_mat_new");
    ebm_rng rng;
    ebm_rng_seed(&rng, 42, 0);
    for (size_t r = 0; r < data->rows; r++) {
        int which = (int)ebm_rng_below(&rng, 2);
        for (size_t i = 0; i < 16; i++) {
            int bit = which ? (i % 4) < 2 : (i / 4) % 2;
            if (ebm_rng_uniform(&rng) < 0.05) bit = !bit;
            data->data[r * 16 + i] = (float)bit;
        }
    }

    ebm_rbm *m;
    if (ebm_rbm_new(16, 6, &m) || ebm_rbm_init(m, &rng, 0.01f, data)) return fail("creating the RBM");
    m->height = m->width = 4;
    ebm_cd_opts o;
    ebm_cd_opts_default(&o); /* CD-1, batch 100, lr 0.05, momentum 0.5 */
    o.epochs = 200;
    o.batch = 20;
    o.lr = 0.1f;
    o.lr_final = 0.0f;
    if (ebm_rbm_train(m, data, &o)) return fail("training");

    double log_z, ll;
    if (ebm_rbm_log_z_exact(m, 1.0f, &log_z) || ebm_rbm_log_likelihood(m, data->data, data->rows, log_z, &ll))
        return fail("exact evaluation");
    printf("log Z = %.4f, mean log-likelihood = %.4f nats\n", log_z, ll);
    if (ebm_rbm_save(m, path)) return fail("saving");
    ebm_rbm_free(m);

    if (ebm_rbm_load(path, &m)) return fail("loading");
    ebm_gibbs *g;
    if (ebm_gibbs_new(m, 4, &g) || ebm_gibbs_init_noise(g, 0.5f, &rng) || ebm_gibbs_run(g, 200, 1.0f, &rng))
        return fail("sampling");
    const float *v = ebm_gibbs_visible(g);
    for (int s = 0; s < 4; s++) {
        printf("sample %d:", s);
        for (int i = 0; i < 16; i++) printf("%s%c", i % 4 ? "" : " ", v[s * 16 + i] > 0.5f ? '#' : '.');
        printf("\n");
    }
    ebm_gibbs_free(g);
    ebm_rbm_free(m);
    ebm_mat_free(data);
    return 0;
}
