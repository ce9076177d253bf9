/* Slices of a sampler's chains (ebm.h PART 5, "Slices"; what `mpirun -np N ebm sample` runs, one slice per
 * process): for every sampler that can hold a slice, running the slices of 2, 3 and 4 processes
 * (ebm_chain_range: whole blocks of 48 chains, the last with the chains left over), each from a fresh generator with the same seed, gives exactly
 * the rows of one run of all n chains (memcmp); and the rows of a slice run as a set of its own (first 0)
 * differ, so the comparison can fail.  Samplers: block Gibbs of an RBM (noise and data starts), the GRBM's
 * chains (Gibbs, Langevin + MH, Gibbs-Langevin + MH, from noise and from data; the final mean), the BM's
 * sequential Gibbs (systematic and random scan, noise and data starts), the DBN's generation (noise and
 * data), and ULA / SGLD / MALA / HMC / RWM on a network's energy; an RBM of Fashion-MNIST's size (784 x 512)
 * too, whose products a BLAS kernel rounds by a row's place in its blocks of rows, with 130 chains and
 * with more chains than units (1000, 3000: one process's products split by rows, the slices' fewer rows than
 * units), a DBN of that size, a network energy with a batch of chains wider than its layers, two
 * convolutional energies, and AIS's log weights with fewer and with more runs than hidden units. */
#include "check.h"
#include "grbm_fixtures.h"
#include "rbm_fixtures.h"

/* What one check samples: the model (one of them), its start data (NULL: noise) and the sampler's settings. */
typedef struct {
    const ebm_rbm *rbm;
    const ebm_grbm *grbm;
    const ebm_bm *bm;
    const ebm_dbn *dbn;
    ebm_energy *e;
    const ebm_mat *data;
    int variant; /* rbm: binary states; grbm: the final mean */
    ebm_grbm_sample_opts o;
    ebm_bm_scan scan;
    ebm_mcmc_kind kind;
} job;

/* out (count, dim) <- chains first .. first + count - 1 of a set of total, drawn from rng. */
typedef void (*slice_run)(const job *j, ebm_rng *rng, size_t first, size_t count, size_t total, float *out);

static void check_slices_upto(const char *name, slice_run run, const job *j, size_t n, size_t dim, size_t max_ranks) {
    float *full = calloc(n * dim, sizeof(float)), *part = calloc(n * dim, sizeof(float));
    REQUIRE(full && part);
    ebm_rng rng;
    ebm_rng_seed(&rng, 5, 0);
    run(j, &rng, 0, n, n, full);
    for (size_t ranks = 2; ranks <= max_ranks; ranks++) {
        memset(part, 0, n * dim * sizeof(float));
        for (size_t r = 0; r < ranks; r++) {
            size_t lo, hi;
            ebm_chain_range(n, r, ranks, &lo, &hi);
            ebm_rng_seed(&rng, 5, 0); /* every process seeds its generator alike */
            if (hi > lo) run(j, &rng, lo, hi - lo, n, part + lo * dim);
        }
        CHECK_MSG(memcmp(full, part, n * dim * sizeof(float)) == 0, "%s: the slices of %zu processes differ from one "
                  "run of %zu chains", name, ranks, n);
    }
    /* chains 48 .. run as a set of their own draw other values */
    size_t k = EBM_CHAIN_BLOCK;
    ebm_rng_seed(&rng, 5, 0);
    run(j, &rng, 0, n - k, n - k, part);
    CHECK_MSG(memcmp(full + k * dim, part, (n - k) * dim * sizeof(float)) != 0,
              "%s: a slice run as its own set drew the same values (the test could not fail)", name);
    free(full);
    free(part);
}

static void check_slices(const char *name, slice_run run, const job *j, size_t n, size_t dim) {
    check_slices_upto(name, run, j, n, dim, 4);
}

static void rbm_run(const job *j, ebm_rng *rng, size_t first, size_t count, size_t total, float *out) {
    ebm_gibbs *g;
    REQUIRE(ebm_gibbs_new(j->rbm, count, &g) == EBM_OK);
    CHECK_OK(ebm_gibbs_set_slice(g, first, total));
    CHECK_OK(j->data ? ebm_gibbs_init_data(g, j->data, rng) : ebm_gibbs_init_noise(g, 0.3f, rng));
    CHECK_OK(ebm_gibbs_run(g, 7, 1.0f, rng));
    memcpy(out, j->variant ? ebm_gibbs_visible(g) : ebm_gibbs_visible_mean(g), count * j->rbm->n_vis * sizeof(float));
    ebm_gibbs_free(g);
}

static void grbm_run(const job *j, ebm_rng *rng, size_t first, size_t count, size_t total, float *out) {
    ebm_grbm_chains *ch;
    REQUIRE(ebm_grbm_chains_new(j->grbm, count, &ch) == EBM_OK);
    ebm_status s = ebm_grbm_chains_set_slice(ch, first, total);
    if (!s) s = j->data ? ebm_grbm_chains_init_data(ch, j->data, rng) : ebm_grbm_chains_init_noise(ch, 1.0f, rng);
    if (!s) s = ebm_grbm_chains_run(ch, &j->o, 4, rng);
    if (!s && j->variant) s = ebm_grbm_chains_mean(ch, j->o.T, rng, out);
    else if (!s) memcpy(out, ebm_grbm_chains_visible(ch), count * j->grbm->n_vis * sizeof(float));
    CHECK_OK(s);
    ebm_grbm_chains_free(ch);
}

static void bm_run(const job *j, ebm_rng *rng, size_t first, size_t count, size_t total, float *out) {
    CHECK_OK(ebm_bm_chains_start_slice(j->bm, j->data, out, first, count, total, rng));
    CHECK_OK(ebm_bm_gibbs_slice(j->bm, out, first, count, 3, 1.0f, j->scan, rng));
}

static void dbn_run(const job *j, ebm_rng *rng, size_t first, size_t count, size_t total, float *out) {
    ebm_dbn_sample_opts o;
    ebm_dbn_sample_opts_default(&o);
    o.steps = 6;
    CHECK_OK(ebm_dbn_sample_slice(j->dbn, first, count, total, j->data, &o, rng, out));
}

/* Langevin / MALA / HMC / RWM: every chain's start filled as the CLI fills them, then this slice's moved. */
static void mcmc_run(const job *j, ebm_rng *rng, size_t first, size_t count, size_t total, float *out) {
    size_t d = j->e->dim;
    ebm_noise z;
    ebm_noise_default(&z);
    float *all = malloc(total * d * sizeof(float));
    REQUIRE(all != NULL);
    CHECK_OK(ebm_noise_fill(&z, ebm_rng_u64(rng), all, total, d));
    memcpy(out, all + first * d, count * d * sizeof(float));
    free(all);
    ebm_mcmc_opts o;
    ebm_mcmc_opts_default(&o);
    o.kind = j->kind;
    o.steps = 5;
    o.step_size = 0.05f;
    o.leapfrog = 3;
    o.seed = 9;
    CHECK_OK(ebm_mcmc_run_slice(j->e, out, first, count, &o, NULL));
}

/* AIS: the log weights of runs [lo, hi) of each process's ebm_chain_range, run as first_run = lo, equal those
 * of one run of all n (memcmp); runs [lo, hi) run as a set of their own (first_run 0) differ. */
static void check_ais_slices(const char *name, const ebm_rbm *m, size_t n, size_t steps, size_t max_ranks) {
    ebm_ais_opts o;
    ebm_ais_opts_default(&o);
    o.runs = n;
    o.steps = steps;
    o.seed = 21;
    ebm_ais_result res;
    double *full = calloc(n, sizeof(double)), *part = calloc(n, sizeof(double));
    REQUIRE(full && part);
    CHECK_OK(ebm_rbm_ais(m, &o, &res, full));
    for (size_t ranks = 2; ranks <= max_ranks; ranks++) {
        memset(part, 0, n * sizeof(double));
        int own_differs = 0;
        for (size_t r = 0; r < ranks; r++) {
            size_t lo, hi;
            ebm_chain_range(n, r, ranks, &lo, &hi);
            if (hi == lo) continue;
            ebm_ais_opts so = o;
            so.runs = hi - lo;
            so.first_run = lo;
            CHECK_OK(ebm_rbm_ais(m, &so, &res, part + lo));
            if (lo > 0) {
                double *alone = calloc(hi - lo, sizeof(double));
                REQUIRE(alone);
                so.first_run = 0;
                CHECK_OK(ebm_rbm_ais(m, &so, &res, alone));
                own_differs |= memcmp(alone, part + lo, (hi - lo) * sizeof(double)) != 0;
                free(alone);
            }
        }
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += memcmp(full + i, part + i, sizeof(double)) != 0;
        CHECK_MSG(bad == 0, "%s: %zu processes: %zu of %zu AIS weights differ from one run's", name, ranks, bad, n);
        CHECK_MSG(own_differs, "%s: runs run as a set of their own gave the same weights (the test could not fail)",
                  name);
    }
    free(full);
    free(part);
}

int main(void) {
    const size_t n = 130; /* blocks of 48 and 82 chains */
    size_t lo, hi;
    ebm_chain_range(130, 1, 2, &lo, &hi);
    CHECK(lo == 48 && hi == 130);
    ebm_chain_range(130, 2, 4, &lo, &hi);
    CHECK(lo == 130 && hi == 130); /* two blocks for four processes: the last two have none */
    ebm_chain_range(130, 3, 4, &lo, &hi);
    CHECK(lo == 130 && hi == 130);
    ebm_chain_range(10, 0, 2, &lo, &hi);
    CHECK(lo == 0 && hi == 10);
    ebm_chain_range(10, 1, 2, &lo, &hi);
    CHECK(lo == 10 && hi == 10);
    /* the last block takes the chains left over: no slice of fewer than 48 chains (100 over 3: 48 + 52 + 0) */
    ebm_chain_range(100, 1, 3, &lo, &hi);
    CHECK(lo == 48 && hi == 100);
    ebm_chain_range(100, 2, 3, &lo, &hi);
    CHECK(lo == 100 && hi == 100);
    ebm_chain_range(1000, 1, 3, &lo, &hi); /* 20 blocks: 7 + 7 + 6 */
    CHECK(lo == 336 && hi == 672);
    ebm_chain_range(1000, 2, 3, &lo, &hi);
    CHECK(lo == 672 && hi == 1000);
    ebm_chain_range(0, 0, 2, &lo, &hi);
    CHECK(lo == 0 && hi == 0);
    /* RBM */
    ebm_rbm *rbm = fixture_rbm(12, 5, 1.0, 0.5, 3);
    ebm_mat *bin = fixture_prototype_data(20, 4);
    job rj = {.rbm = rbm};
    check_slices("rbm noise", rbm_run, &rj, n, 12);
    rj.data = bin;
    rj.variant = 1;
    check_slices("rbm data, binary", rbm_run, &rj, n, 12);
    ebm_rbm *big = fixture_rbm(784, 512, 0.05, 0.5, 6);
    job bj = {.rbm = big};
    check_slices("rbm 784 x 512", rbm_run, &bj, n, 784);
    /* more chains than units: one process's products (>= 2^18 multiply-adds) are split by rows, and a
     * slice's own product has fewer rows than units (1000 over 2: 480 + 520 < 784) */
    check_slices_upto("rbm 784 x 512, 1000 chains", rbm_run, &bj, 1000, 784, 3);
    check_slices_upto("rbm 784 x 512, 3000 chains", rbm_run, &bj, 3000, 784, 3);
    ebm_rbm_free(big);
    ebm_gibbs *g;
    REQUIRE(ebm_gibbs_new(rbm, 4, &g) == EBM_OK);
    CHECK_FAILS(ebm_gibbs_set_slice(g, 6, 9), EBM_EINVAL);
    CHECK_FAILS(ebm_gibbs_set_slice(g, 0, 3), EBM_EINVAL);
    CHECK_OK(ebm_gibbs_set_slice(g, 5, 9));
    ebm_gibbs_free(g);

    /* GRBM */
    ebm_grbm *grbm = fixture_grbm(6, 4, 0.5, 7);
    ebm_mat *cont;
    REQUIRE(ebm_mat_new(15, 6, &cont) == EBM_OK);
    ebm_rng r;
    ebm_rng_seed(&r, 8, 0);
    for (size_t i = 0; i < 15 * 6; i++) cont->data[i] = (float)ebm_rng_normal(&r);
    job gc = {.grbm = grbm, .variant = 1};
    ebm_grbm_sample_opts_default(&gc.o);
    gc.o.sampler = EBM_GRBM_GIBBS;
    check_slices("grbm gibbs, noise, mean", grbm_run, &gc, n, 6);
    gc.o.sampler = EBM_GRBM_LANGEVIN;
    gc.o.mh = 1;
    gc.o.eta = 0.1f;
    gc.data = cont;
    gc.variant = 0;
    check_slices("grbm langevin + mh, data", grbm_run, &gc, n, 6);
    gc.o.sampler = EBM_GRBM_GIBBS_LANGEVIN;
    gc.o.langevin_steps = 3;
    gc.o.mh_after = 2;
    check_slices("grbm gibbs-langevin + mh, data", grbm_run, &gc, n, 6);
    /* more chains than units (3000 x 32 x 64 >= 2^18 multiply-adds) */
    ebm_grbm *wide_grbm = fixture_grbm(64, 32, 0.3, 15);
    job wg = {.grbm = wide_grbm};
    ebm_grbm_sample_opts_default(&wg.o);
    wg.o.sampler = EBM_GRBM_GIBBS_LANGEVIN;
    wg.o.langevin_steps = 2;
    wg.o.mh = 1;
    wg.o.eta = 0.05f;
    check_slices_upto("grbm 64 x 32 gibbs-langevin + mh, 3000 chains", grbm_run, &wg, 3000, 64, 3);
    ebm_grbm_free(wide_grbm);
    ebm_grbm_chains *ch;
    REQUIRE(ebm_grbm_chains_new(grbm, 4, &ch) == EBM_OK);
    CHECK_FAILS(ebm_grbm_chains_set_slice(ch, 6, 9), EBM_EINVAL);
    ebm_grbm_chains_free(ch);

    /* BM */
    ebm_bm *bm;
    REQUIRE(ebm_bm_new(12, EBM_BM_01, &bm) == EBM_OK);
    float *W = ebm_bm_weights(bm), *b = ebm_bm_bias(bm);
    ebm_rng_seed(&r, 9, 0);
    for (size_t i = 0; i < 12; i++) {
        b[i] = (float)(0.3 * ebm_rng_normal(&r));
        for (size_t j = 0; j < i; j++) W[i * 12 + j] = W[j * 12 + i] = (float)(0.5 * ebm_rng_normal(&r));
    }
    job bc = {.bm = bm, .scan = EBM_SCAN_SYSTEMATIC};
    check_slices("bm noise, systematic", bm_run, &bc, n, 12);
    bc.data = bin;
    bc.scan = EBM_SCAN_RANDOM;
    check_slices("bm data, random scan", bm_run, &bc, n, 12);
    float x4[4 * 12];
    CHECK_FAILS(ebm_bm_chains_start_slice(bm, NULL, x4, 6, 4, 9, &r), EBM_EINVAL);

    /* DBN */
    ebm_rbm *l0 = fixture_rbm(12, 8, 1.0, 0.5, 11), *l1 = fixture_rbm(8, 8, 0.6, 0.3, 12);
    const ebm_rbm *layers[2] = {l0, l1};
    ebm_dbn *dbn;
    REQUIRE(ebm_dbn_from_rbms(layers, 2, &dbn) == EBM_OK);
    job dc = {.dbn = dbn};
    check_slices("dbn noise", dbn_run, &dc, n, 12);
    dc.data = bin;
    check_slices("dbn data", dbn_run, &dc, n, 12);
    /* a DBN of Fashion-MNIST's size, more chains than any layer's units */
    ebm_rbm *b0 = fixture_rbm(784, 512, 0.05, 0.5, 13), *b1 = fixture_rbm(512, 256, 0.08, 0.5, 14);
    const ebm_rbm *big_layers[2] = {b0, b1};
    ebm_dbn *big_dbn;
    REQUIRE(ebm_dbn_from_rbms(big_layers, 2, &big_dbn) == EBM_OK);
    job bdc = {.dbn = big_dbn};
    check_slices_upto("dbn 784-512-256, 1000 chains", dbn_run, &bdc, 1000, 784, 3);
    check_slices_upto("dbn 784-512-256, 3000 chains", dbn_run, &bdc, 3000, 784, 3);
    ebm_dbn_free(big_dbn);
    ebm_rbm_free(b0);
    ebm_rbm_free(b1);
    /* AIS with fewer runs than hidden units and with more (whose products one process splits by rows) */
    ebm_rbm *ais_rbm = fixture_rbm(64, 32, 0.3, 0.5, 16);
    check_ais_slices("ais 64 x 32, 130 runs", ais_rbm, 130, 30, 4);
    check_ais_slices("ais 64 x 32, 1000 runs", ais_rbm, 1000, 30, 3);
    ebm_rbm_free(ais_rbm);
    ebm_rbm *ais_big = fixture_rbm(784, 512, 0.05, 0.5, 17);
    check_ais_slices("ais 784 x 512, 1000 runs", ais_big, 1000, 6, 3);
    ebm_rbm_free(ais_big);

    /* the energy samplers */
    ebm_net *net;
    REQUIRE(ebm_net_new("linear:8,silu,linear:1", 2, 1, 1, &net) == EBM_OK);
    ebm_rng_seed(&r, 10, 0);
    CHECK_OK(ebm_net_init(net, &r));
    ebm_energy *e;
    REQUIRE(ebm_net_energy(net, EBM_NET_HEAD_SCALAR, &e) == EBM_OK);
    const ebm_mcmc_kind kinds[] = {EBM_MCMC_ULA, EBM_MCMC_SGLD, EBM_MCMC_MALA, EBM_MCMC_HMC, EBM_MCMC_RWM};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        job mc = {.e = e, .kind = kinds[k]};
        check_slices(ebm_mcmc_name(kinds[k]), mcmc_run, &mc, n, 2);
    }

    /* a batch of chains larger than the network's widest layer (64 units; 1000 x 64 x 32 >= 2^18) */
    ebm_net *wide;
    REQUIRE(ebm_net_new("linear:64,silu,linear:64,silu,linear:1", 32, 1, 1, &wide) == EBM_OK);
    CHECK_OK(ebm_net_init(wide, &r));
    ebm_energy *we;
    REQUIRE(ebm_net_energy(wide, EBM_NET_HEAD_SCALAR, &we) == EBM_OK);
    job wm = {.e = we, .kind = EBM_MCMC_MALA};
    check_slices_upto("mala, net 32-64-64-1, 1000 chains", mcmc_run, &wm, 1000, 32, 3);
    wm.kind = EBM_MCMC_ULA;
    check_slices_upto("ula, net 32-64-64-1, 3000 chains", mcmc_run, &wm, 3000, 32, 3);
    ebm_energy_free(we);
    ebm_net_free(wide);
    /* convolutional energies: their products hold samples' pixels as columns (one product per group of 48
     * samples, chunks of whole groups); 12 x 12 inputs in one chunk, and a second conv on 14 x 14 x 16 whose
     * chunks are 144 samples (144 + 144 + 12); both differed over 2 and 3 processes before the groups */
    const struct {
        const char *spec;
        size_t side, n;
    } convs[] = {{"conv:8:3:1,silu,pool:2,conv:16:3:1,silu,flatten,linear:1", 12, 300},
                 {"conv:16:3:1,silu,conv:8:3:1,silu,flatten,linear:1", 14, 300}};
    for (size_t c = 0; c < sizeof convs / sizeof *convs; c++) {
        ebm_net *cn;
        REQUIRE(ebm_net_new(convs[c].spec, 1, convs[c].side, convs[c].side, &cn) == EBM_OK);
        CHECK_OK(ebm_net_init(cn, &r));
        ebm_energy *ce;
        REQUIRE(ebm_net_energy(cn, EBM_NET_HEAD_SCALAR, &ce) == EBM_OK);
        job cm = {.e = ce, .kind = EBM_MCMC_ULA};
        char name[160];
        snprintf(name, sizeof name, "ula, %s on %zu x %zu, %zu chains", convs[c].spec, convs[c].side, convs[c].side,
                 convs[c].n);
        check_slices_upto(name, mcmc_run, &cm, convs[c].n, convs[c].side * convs[c].side, 3);
        ebm_energy_free(ce);
        ebm_net_free(cn);
    }

    ebm_energy_free(e);
    ebm_net_free(net);
    ebm_dbn_free(dbn);
    ebm_rbm_free(l0);
    ebm_rbm_free(l1);
    ebm_bm_free(bm);
    ebm_mat_free(cont);
    ebm_grbm_free(grbm);
    ebm_mat_free(bin);
    ebm_rbm_free(rbm);
    return check_summary("test_sample_slice");
}
