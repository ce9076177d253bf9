/* Provenance from C alone: a small RBM and a small energy network trained through the library's trainers and
 * loop (no command line), their provenance written with ebm_meta_set_data, ebm_run_describe and
 * ebm_meta_set_sample_defaults, saved, loaded back and checked key by key.  The keys are those `ebm train rbm`
 * and `ebm train ebm` write (tests/test_cli.sh checks the command line's files for the same lists), so a model
 * trained from C carries what a CLI-trained one carries. */
#include "check.h"

/* The keys both paths write; the command line adds ebm.train.command and its monitors. */
static const char *const rbm_keys[] = {
    "ebm.model", "ebm.data.spec", "ebm.data.source", "ebm.data.rows", "ebm.data.scale", "ebm.data.binarize",
    "ebm.data.threshold", "ebm.train.trainer", "ebm.train.epochs", "ebm.train.batch", "ebm.train.lr",
    "ebm.train.seed", "ebm.train.seconds", "ebm.train.threads", "ebm.train.date", "ebm.train.method",
    "ebm.train.momentum", "ebm.train.weight_decay", "ebm.train.grad_clip", "ebm.sample.steps",
    "ebm.sample.temperature", "ebm.sample.init"};
static const char *const net_keys[] = {
    "ebm.model", "ebm.data.spec", "ebm.data.source", "ebm.data.rows", "ebm.data.scale", "ebm.train.trainer",
    "ebm.train.iters", "ebm.train.iters_done", "ebm.train.batch", "ebm.train.lr", "ebm.train.seed",
    "ebm.train.seconds", "ebm.train.date", "ebm.train.method", "ebm.train.sampler", "ebm.train.steps",
    "ebm.train.step_size", "ebm.train.noise", "ebm.train.alpha", "ebm.sample.sampler", "ebm.sample.steps",
    "ebm.sample.step_size", "ebm.sample.noise"};

static void check_keys(const ebm_meta *m, const char *const *keys, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++) CHECK_MSG(ebm_meta_get(m, keys[i]) != NULL, "%s: no %s", what, keys[i]);
}

static void check_value(const ebm_meta *m, const char *key, const char *want) {
    const char *v = ebm_meta_get(m, key);
    CHECK_MSG(v && strcmp(v, want) == 0, "%s = %s, expected %s", key, v ? v : "(absent)", want);
}

/* A CSV of n rows x d columns in the scratch directory, loaded as a data set. */
static ebm_dataset *csv_data(const char *path, size_t n, size_t d, int binary) {
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    ebm_rng r;
    ebm_rng_seed(&r, 3, 0);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            fprintf(f, "%g%c", binary ? (double)(ebm_rng_uniform(&r) < 0.3 + 0.4 * (double)(j % 2))
                                      : ebm_rng_normal(&r) * 0.5,
                    j + 1 < d ? ',' : '\n');
    fclose(f);
    ebm_data_opts o;
    ebm_data_opts_default(&o);
    if (!binary) o.scale = EBM_SCALE_NONE;
    ebm_dataset *ds = NULL;
    return ebm_dataset_load(path, &o, &ds) ? NULL : ds;
}

static void test_rbm(const char *dir) {
    char data_path[600], model_path[600];
    snprintf(data_path, sizeof data_path, "%s/bits.csv", dir);
    snprintf(model_path, sizeof model_path, "%s/rbm.safetensors", dir);
    ebm_dataset *d = csv_data(data_path, 50, 10, 1);
    REQUIRE(d != NULL);
    ebm_rbm *m;
    ebm_rng rng;
    ebm_rng_seed(&rng, 1, 100);
    CHECK_OK(ebm_rbm_new(10, 4, &m));
    CHECK_OK(ebm_rbm_init(m, &rng, 0.01f, d->x));
    ebm_cd_opts o;
    ebm_cd_opts_default(&o);
    o.epochs = 3;
    o.batch = 16;
    ebm_trainer *t;
    CHECK_OK(ebm_rbm_trainer_new(m, &o, &t));
    ebm_run_opts ro;
    ebm_run_result res;
    ebm_cd_run_opts(&o, &ro);
    CHECK_OK(ebm_run(t, d->x, NULL, &ro, &res));
    ebm_data_opts dopt;
    ebm_data_opts_default(&dopt);
    CHECK_OK(ebm_meta_set_data(m->meta, data_path, d, &dopt));
    CHECK_OK(ebm_run_describe(t, &ro, &res, m->meta));
    CHECK_OK(ebm_meta_set_sample_defaults(m->meta, 1000, 1.0f, "noise"));
    CHECK_OK(ebm_rbm_save(m, model_path));
    ebm_rbm *back;
    CHECK_OK(ebm_rbm_load(model_path, &back));
    check_keys(back->meta, rbm_keys, sizeof rbm_keys / sizeof *rbm_keys, "rbm");
    check_value(back->meta, "ebm.model", "rbm");
    check_value(back->meta, "ebm.data.spec", data_path);
    check_value(back->meta, "ebm.data.rows", "50");
    check_value(back->meta, "ebm.data.scale", "auto");
    check_value(back->meta, "ebm.train.trainer", "rbm-cd");
    check_value(back->meta, "ebm.train.method", "cd-1");
    check_value(back->meta, "ebm.train.epochs", "3");
    check_value(back->meta, "ebm.train.batch", "16");
    check_value(back->meta, "ebm.train.lr", "0.05");
    check_value(back->meta, "ebm.train.seed", "1");
    check_value(back->meta, "ebm.sample.steps", "1000");
    check_value(back->meta, "ebm.sample.init", "noise");
    CHECK(memcmp(back->params, m->params, m->n_params * sizeof(float)) == 0);
    ebm_rbm_free(back);
    ebm_trainer_free(t);
    ebm_rbm_free(m);
    ebm_dataset_free(d);
}

static void test_net(const char *dir) {
    char data_path[600], model_path[600];
    snprintf(data_path, sizeof data_path, "%s/points.csv", dir);
    snprintf(model_path, sizeof model_path, "%s/net.safetensors", dir);
    ebm_dataset *d = csv_data(data_path, 64, 2, 0);
    REQUIRE(d != NULL);
    ebm_net *net;
    ebm_rng rng;
    ebm_rng_seed(&rng, 2, 0);
    CHECK_OK(ebm_net_new("linear:8,silu,linear:1", 2, 1, 1, &net));
    CHECK_OK(ebm_net_init(net, &rng));
    ebm_energy *e;
    CHECK_OK(ebm_net_energy(net, EBM_NET_HEAD_SCALAR, &e));
    ebm_lcd_opts o;
    ebm_lcd_opts_default(&o);
    o.iters = 5;
    o.batch = 16;
    o.buffer = 32;
    o.mcmc.steps = 5;
    ebm_trainer *t;
    CHECK_OK(ebm_lcd_trainer_new(e, &o, &t));
    ebm_run_opts ro;
    ebm_run_result res;
    ebm_lcd_run_opts(&o, &ro);
    CHECK_OK(ebm_run(t, d->x, NULL, &ro, &res));
    ebm_meta *meta;
    CHECK_OK(ebm_meta_new(&meta));
    ebm_data_opts dopt;
    ebm_data_opts_default(&dopt);
    dopt.scale = EBM_SCALE_NONE;
    CHECK_OK(ebm_meta_set_data(meta, data_path, d, &dopt));
    CHECK_OK(ebm_run_describe(t, &ro, &res, meta));
    CHECK_OK(ebm_net_save(net, meta, model_path));
    ebm_net *back;
    ebm_meta *bm;
    CHECK_OK(ebm_net_load(model_path, &back, &bm));
    check_keys(bm, net_keys, sizeof net_keys / sizeof *net_keys, "net");
    check_value(bm, "ebm.model", "net");
    check_value(bm, "ebm.data.scale", "none");
    check_value(bm, "ebm.train.trainer", "lcd");
    check_value(bm, "ebm.train.iters", "5");
    check_value(bm, "ebm.train.iters_done", "5");
    check_value(bm, "ebm.train.method", "lcd-buffer");
    check_value(bm, "ebm.train.sampler", "sgld");
    check_value(bm, "ebm.train.steps", "5");
    size_t n1, n2;
    const float *p1 = ebm_net_params(net, &n1), *p2 = ebm_net_params(back, &n2);
    CHECK(n1 == n2 && memcmp(p1, p2, n1 * sizeof(float)) == 0);
    ebm_meta_free(bm);
    ebm_net_free(back);
    ebm_meta_free(meta);
    ebm_trainer_free(t);
    ebm_energy_free(e);
    ebm_net_free(net);
    ebm_dataset_free(d);
}

/* A GRBM: the model records its standardisation, the trainer its settings and the sampler defaults of
 * `ebm sample` (the sampler it trained with, for as many steps), as `ebm train grbm` writes them. */
static void test_grbm(const char *dir) {
    char data_path[600], model_path[600];
    snprintf(data_path, sizeof data_path, "%s/pixels.csv", dir);
    snprintf(model_path, sizeof model_path, "%s/grbm.safetensors", dir);
    ebm_dataset *d = csv_data(data_path, 40, 6, 0);
    REQUIRE(d != NULL);
    ebm_grbm *m;
    ebm_rng rng;
    ebm_rng_seed(&rng, 4, 100);
    CHECK_OK(ebm_grbm_new(6, 3, &m));
    CHECK_OK(ebm_grbm_init(m, &rng, 1.0f));
    CHECK_OK(ebm_grbm_fit_standardization(m, d->x, 0));
    ebm_grbm_standardize(m, d->x->data, d->x->rows, d->x->data);
    ebm_grbm_train_opts o;
    ebm_grbm_train_opts_default(&o);
    o.epochs = 2;
    o.batch = 10;
    o.k = 3;
    o.sampler.sampler = EBM_GRBM_GIBBS_LANGEVIN;
    o.sampler.langevin_steps = 4;
    o.sampler.eta = 0.25f;
    o.sampler.mh = 1;
    ebm_trainer *t;
    CHECK_OK(ebm_grbm_trainer_new(m, &o, &t));
    ebm_run_opts ro;
    ebm_run_result res;
    ebm_grbm_run_opts(&o, &ro);
    CHECK_OK(ebm_run(t, d->x, NULL, &ro, &res));
    CHECK_OK(ebm_run_describe(t, &ro, &res, m->meta));
    CHECK_OK(ebm_grbm_save(m, model_path));
    ebm_grbm *back;
    CHECK_OK(ebm_grbm_load(model_path, &back));
    check_value(back->meta, "ebm.data.standardize", "pixel");
    check_value(back->meta, "ebm.train.method", "cd-3");
    check_value(back->meta, "ebm.train.sampler", "gibbs-langevin");
    check_value(back->meta, "ebm.sample.sampler", "gibbs-langevin");
    check_value(back->meta, "ebm.sample.steps", "3");
    check_value(back->meta, "ebm.sample.eta", "0.25");
    check_value(back->meta, "ebm.sample.langevin_steps", "4");
    check_value(back->meta, "ebm.sample.mh", "1");
    ebm_grbm_free(back);
    ebm_trainer_free(t);
    ebm_grbm_free(m);
    ebm_dataset_free(d);
}

int main(void) {
    const char *dir = check_tmpdir("provenance");
    test_rbm(dir);
    test_net(dir);
    test_grbm(dir);
    return check_summary("test_provenance");
}
