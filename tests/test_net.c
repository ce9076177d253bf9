/* Networks beyond their gradients: spec parsing (canonical form, every refusal with a message naming the
 * token and position), shapes and parameter counts, describe, the energy interface's bookkeeping (weighted
 * grad_params equals the weighted sum of per-row gradients; batches of any size and growing work buffers),
 * bit-identical results on 1 and 2 threads, spectral normalisation's power iteration against an independent
 * estimate of the largest singular value, and files: save/load round trip, malformed files -> EBM_EFORMAT. */
#include "check.h"
#include "core/internal.h"

#include <sys/resource.h>

#include <omp.h>

static ebm_net *make(const char *spec, size_t c, size_t h, size_t w, uint64_t seed) {
    ebm_net *net = NULL;
    if (ebm_net_new(spec, c, h, w, &net) != EBM_OK) {
        fprintf(stderr, "%s: %s\n", spec, ebm_last_error());
        exit(1);
    }
    ebm_rng r;
    ebm_rng_seed(&r, seed, 0);
    REQUIRE(ebm_net_init(net, &r) == EBM_OK);
    return net;
}

static void fill_normal(float *x, size_t n, uint64_t seed) { ebm_rng_fill_normal(seed, 0, 0, x, n); }

static void test_spec_parsing(void) {
    ebm_net *net = make(" conv:8:3:1 , swish,pool:2,conv:4:5:2:sn,elu,flatten,linear:10,leakyrelu,linear:1:sn", 3,
                        12, 12, 1);
    CHECK_MSG(strcmp(ebm_net_spec(net), "conv:8:3:1:1,silu,pool:2,conv:4:5:2:2:sn,elu:1,flatten,linear:10,"
                                        "leakyrelu:0.2,linear:1:sn") == 0,
              "canonical spec: %s", ebm_net_spec(net));
    /* 3x12x12 -conv-> 8x12x12 -pool-> 8x6x6 -conv 5x5 s2 p2-> 4x3x3 -> 36 -> 10 -> 1 */
    size_t np, ns;
    ebm_net_params(net, &np);
    ebm_net_state(net, &ns);
    CHECK(np == (8 * 27 + 8) + (4 * 8 * 25 + 4) + (10 * 36 + 10) + (10 + 1)); /* 1409 */
    CHECK(ns == 4 + 1);
    CHECK(ebm_net_input_size(net) == 3 * 144);
    CHECK(ebm_net_output_size(net) == 1);
    char buf[2048];
    ebm_net_describe(net, buf, sizeof buf);
    CHECK_MSG(strstr(buf, "4x3x3") && strstr(buf, "total 1409 parameters") && strstr(buf, "spectral norm"),
              "describe:\n%s", buf);
    char tiny[16];
    ebm_net_describe(net, tiny, sizeof tiny); /* truncates, terminates */
    CHECK(strlen(tiny) == 15);
    /* the canonical spec builds the same network */
    ebm_net *again;
    CHECK_OK(ebm_net_new(ebm_net_spec(net), 3, 12, 12, &again));
    CHECK(strcmp(ebm_net_spec(again), ebm_net_spec(net)) == 0);
    ebm_net_free(again);
    ebm_net_free(net);

    static const struct {
        const char *spec;
        size_t c, h, w;
        const char *must; /* a piece of the message */
    } bad[] = {
        {"", 4, 1, 1, "empty"},
        {"linear", 4, 1, 1, "layer 0 'linear'"},
        {"linear:0", 4, 1, 1, "layer 0 'linear:0'"},
        {"linear:4,,silu", 4, 1, 1, "layer 1 is empty"},
        {"linear:4,relu", 4, 1, 1, "layer 1 'relu': unknown layer"},
        {"silu:3", 4, 1, 1, "layer 0 'silu:3'"},
        {"tanh:sn", 4, 1, 1, "layer 0 'tanh:sn'"},
        {"linear:4,leakyrelu:abc", 4, 1, 1, "layer 1 'leakyrelu:abc'"},
        {"linear:4,leakyrelu:11e110", 4, 1, 1, "layer 1 'leakyrelu:11e110'"}, /* finite as a double, inf as a float */
        {"elu:1e39", 4, 1, 1, "layer 0 'elu:1e39'"},
        {"elu:-1", 4, 1, 1, "layer 0 'elu:-1'"},
        {"conv:8:3", 1, 8, 8, "layer 0 'conv:8:3'"},
        {"conv:8:3:1:3", 1, 8, 8, "PAD"},
        {"conv:8:0:1", 1, 8, 8, "K must"},
        {"conv:8:9:1:0", 1, 8, 8, "does not fit"},
        {"pool:9", 1, 8, 8, "layer 0 'pool:9'"},
        {"conv:4:3:1,linear:10", 1, 8, 8, "layer 1 'linear:10': input is 4x8x8, not flat"},
        {"linear:4:sn:sn", 4, 1, 1, "layer 0"},
        {"linear:99999999999999999999", 4, 1, 1, "OUT"},
        {"flatten:2", 4, 1, 1, "flatten takes no arguments"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ebm_net *n2 = (ebm_net *)1;
        CHECK_FAILS(ebm_net_new(bad[i].spec, bad[i].c, bad[i].h, bad[i].w, &n2), EBM_EINVAL);
        CHECK(n2 == NULL);
        CHECK_MSG(strstr(ebm_last_error(), bad[i].must) != NULL, "'%s': message '%s' lacks '%s'", bad[i].spec,
                  ebm_last_error(), bad[i].must);
    }
    ebm_net *n3;
    CHECK_FAILS(ebm_net_new("linear:1", 0, 1, 1, &n3), EBM_EINVAL);
    CHECK_FAILS(ebm_net_new(NULL, 1, 1, 1, &n3), EBM_EINVAL);
}

static void test_energy_bookkeeping(void) {
    ebm_net *net = make("conv:4:3:2,silu,flatten,linear:8,softplus,linear:1", 2, 6, 6, 2);
    ebm_energy *e;
    CHECK_OK(ebm_net_energy(net, EBM_NET_HEAD_SCALAR, &e));
    size_t np;
    float *params = ebm_net_params(net, &np);
    CHECK(e->dim == 72 && e->n_params == np && e->params == params && strcmp(e->kind, "net") == 0);
    enum { N = 7 };
    float x[N * 72], w[N], E[N], E1, Ebig[N];
    fill_normal(x, N * 72, 3);
    for (int i = 0; i < N; i++) w[i] = 0.3f * (float)i - 1.0f;
    float *g = calloc(np, sizeof(float)), *gsum = calloc(np, sizeof(float)), *g1 = calloc(np, sizeof(float));
    REQUIRE(g && gsum && g1);
    CHECK_OK(e->grad_params(e, x, N, w, g, E));
    for (int r = 0; r < N; r++) {
        memset(g1, 0, np * sizeof(float));
        CHECK_OK(e->grad_params(e, x + r * 72, 1, NULL, g1, &E1));
        CHECK_NEAR(E1, E[r], 1e-6 * (1 + fabs(E[r])));
        for (size_t i = 0; i < np; i++) gsum[i] += w[r] * g1[i];
    }
    double err = 0, mx = 0;
    for (size_t i = 0; i < np; i++) {
        err = fmax(err, fabs(g[i] - gsum[i]));
        mx = fmax(mx, fabs(gsum[i]));
    }
    CHECK_MSG(err <= 1e-5 * mx, "weighted grad_params vs sum of rows: %.3g of %.3g", err, mx);
    /* grad accumulates: a second call doubles it */
    memcpy(gsum, g, np * sizeof(float));
    CHECK_OK(e->grad_params(e, x, N, w, g, NULL));
    err = 0;
    for (size_t i = 0; i < np; i++) err = fmax(err, fabs(g[i] - 2 * gsum[i]));
    CHECK(err <= 1e-6 * mx);
    /* batch sizes that shrink and grow give the same energies row by row */
    float dx[N * 72], dx1[72];
    CHECK_OK(e->grad_x(e, x, 2, Ebig, dx));
    CHECK_OK(e->grad_x(e, x, N, Ebig, dx));
    CHECK_OK(e->energy(e, x, 3, E));
    for (int r = 0; r < N; r++) {
        CHECK_OK(e->grad_x(e, x + r * 72, 1, &E1, dx1));
        CHECK_NEAR(E1, Ebig[r], 1e-6 * (1 + fabs(E1)));
        double d = 0;
        for (int j = 0; j < 72; j++) d = fmax(d, fabs(dx1[j] - dx[r * 72 + j]));
        CHECK(d <= 1e-6);
    }
    CHECK_OK(e->energy(e, x, 0, E)); /* nothing to do */
    /* backward must follow a forward of the same size */
    float out[N], dout[N] = {1, 1, 1, 1, 1, 1, 1};
    CHECK_OK(ebm_net_forward(net, x, 3, out));
    CHECK_FAILS(ebm_net_backward(net, dout, 4, NULL, dx), EBM_ESHAPE);
    CHECK_OK(ebm_net_backward(net, dout, 3, NULL, dx));
    e->destroy(e);
    /* a scalar head needs one output */
    ebm_net *multi = make("linear:3", 4, 1, 1, 1);
    CHECK_FAILS(ebm_net_energy(multi, EBM_NET_HEAD_SCALAR, &e), EBM_ESHAPE);
    CHECK_OK(ebm_net_energy(multi, EBM_NET_HEAD_LOGSUMEXP, &e));
    float y[3], xin[4] = {0.1f, -0.2f, 0.3f, 0.5f}, El;
    CHECK_OK(ebm_net_forward(multi, xin, 1, y));
    CHECK_OK(e->energy(e, xin, 1, &El));
    CHECK_NEAR(El, -log(exp(y[0]) + exp(y[1]) + exp(y[2])), 1e-6);
    e->destroy(e);
    ebm_net_free(multi);
    free(g), free(gsum), free(g1);
    ebm_net_free(net);
}

/* Every output of forward, grad_x and grad_params for threads = 1 and 2 (and 3) must be bit-identical. */
static void check_determinism(const char *spec, size_t c, size_t h, size_t wd) {
    ebm_net *net = make(spec, c, h, wd, 4);
    enum { N = 24, D = 784 };
    REQUIRE(ebm_net_input_size(net) == D);
    float *x = malloc(N * D * sizeof(float)), *dx[3], *g[3], E[3][N];
    size_t np;
    ebm_net_params(net, &np);
    fill_normal(x, N * D, 5);
    ebm_energy *e;
    CHECK_OK(ebm_net_energy(net, EBM_NET_HEAD_SCALAR, &e));
    int saved = ebm_get_threads();
    for (int t = 0; t < 3; t++) {
        dx[t] = malloc(N * D * sizeof(float));
        g[t] = calloc(np, sizeof(float));
        REQUIRE(dx[t] && g[t]);
        ebm_set_threads(t + 1);
        CHECK_OK(e->grad_x(e, x, N, E[t], dx[t]));
        CHECK_OK(e->grad_params(e, x, N, NULL, g[t], NULL));
    }
    ebm_set_threads(saved);
    for (int t = 1; t < 3; t++) {
        CHECK_MSG(memcmp(E[0], E[t], sizeof E[0]) == 0, "%s: energies differ between 1 and %d threads", spec, t + 1);
        CHECK_MSG(memcmp(dx[0], dx[t], N * D * sizeof(float)) == 0, "%s: dE/dx differs between 1 and %d threads",
                  spec, t + 1);
        CHECK_MSG(memcmp(g[0], g[t], np * sizeof(float)) == 0, "%s: dE/dtheta differs between 1 and %d threads",
                  spec, t + 1);
    }
    for (int t = 0; t < 3; t++) free(dx[t]), free(g[t]);
    e->destroy(e);
    free(x);
    ebm_net_free(net);
}

static void test_thread_determinism(void) {
    check_determinism("conv:32:3:1,silu,pool:2,conv:64:3:1,silu,pool:2,flatten,linear:128,silu,linear:1", 1, 28, 28);
    check_determinism("linear:512,silu,linear:512,silu,linear:1", 784, 1, 1);
    check_determinism("conv:16:5:2:sn,elu,conv:8:3:2,tanh,flatten,linear:40:sn,softplus,linear:1", 4, 14, 14);
}

/* sigma of a matrix with known singular values: after power iterations |W'u| -> largest singular value. */
static void test_spectral_norm(void) {
    ebm_net *net = make("linear:3:sn", 4, 1, 1, 6);
    size_t np, ns;
    float *p = ebm_net_params(net, &np), *u = ebm_net_state(net, &ns);
    REQUIRE(np == 15 && ns == 3);
    /* W = diag(5, 2, 1) padded with a zero column: singular values 5, 2, 1 */
    float Wd[12] = {5, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0};
    memcpy(p, Wd, sizeof Wd);
    memset(p + 12, 0, 3 * sizeof(float));
    u[0] = 0.2f, u[1] = 0.7f, u[2] = 0.6f;
    ebm_net_sn_update(net, 30);
    CHECK_NEAR(fabs(u[0]), 1.0, 1e-6);
    /* forward: W / 5 applied to e_0 gives 1 */
    float x[4] = {1, 0, 0, 0}, y[3];
    CHECK_OK(ebm_net_forward(net, x, 1, y));
    CHECK_NEAR(y[0], 1.0, 1e-6);
    /* training mode iterates once per forward; eval mode leaves u alone */
    u[0] = 0.6f, u[1] = 0.8f, u[2] = 0.0f;
    CHECK_OK(ebm_net_forward(net, x, 1, y));
    CHECK(u[0] == 0.6f && u[1] == 0.8f);
    ebm_net_set_training(net, 1);
    CHECK_OK(ebm_net_forward(net, x, 1, y));
    CHECK(u[0] != 0.6f);
    for (int i = 0; i < 30; i++) CHECK_OK(ebm_net_forward(net, x, 1, y));
    CHECK_NEAR(y[0], 1.0, 1e-5);
    ebm_net_set_training(net, 0);
    /* a random matrix: sigma after init against a long power iteration in double done here */
    ebm_net *big = make("linear:20:sn,tanh,linear:1", 30, 1, 1, 7);
    float *W = ebm_net_params(big, NULL), *ub = ebm_net_state(big, NULL);
    double v[30], uu[20], s = 0;
    for (int i = 0; i < 20; i++) uu[i] = 1;
    for (int it = 0; it < 500; it++) {
        double nv = 0, nu = 0;
        for (int j = 0; j < 30; j++) {
            v[j] = 0;
            for (int i = 0; i < 20; i++) v[j] += W[i * 30 + j] * uu[i];
            nv += v[j] * v[j];
        }
        for (int j = 0; j < 30; j++) v[j] /= sqrt(nv);
        for (int i = 0; i < 20; i++) {
            uu[i] = 0;
            for (int j = 0; j < 30; j++) uu[i] += W[i * 30 + j] * v[j];
            nu += uu[i] * uu[i];
        }
        s = sqrt(nu);
        for (int i = 0; i < 20; i++) uu[i] /= s;
    }
    ebm_net_sn_update(big, 200);
    double wu = 0;
    for (int j = 0; j < 30; j++) {
        double a = 0;
        for (int i = 0; i < 20; i++) a += W[i * 30 + j] * ub[i];
        wu += a * a;
    }
    CHECK_NEAR(sqrt(wu), s, 1e-4 * s);
    ebm_net_free(big);
    ebm_net_free(net);
}

static void test_files(void) {
    const char *dir = check_tmpdir("net");
    char path[600], bad[600];
    snprintf(path, sizeof path, "%s/net.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    const char *spec = "conv:4:3:2,elu:0.7,conv:6:3:1:1:sn,silu,pool:2,flatten,linear:5:sn,tanh,linear:3";
    ebm_net *net = make(spec, 2, 9, 9, 8);
    ebm_meta *meta;
    REQUIRE(ebm_meta_new(&meta) == EBM_OK);
    CHECK_OK(ebm_meta_set(meta, "ebm.train.lr", "0.001"));
    CHECK_OK(ebm_net_save(net, meta, path));
    ebm_net *back = NULL;
    ebm_meta *mback = NULL;
    CHECK_OK(ebm_net_load(path, &back, &mback));
    REQUIRE(back && mback);
    CHECK(strcmp(ebm_net_spec(back), ebm_net_spec(net)) == 0);
    CHECK(strcmp(ebm_meta_get(mback, "ebm.model"), "net") == 0);
    CHECK(strcmp(ebm_meta_get(mback, "ebm.net.input"), "2x9x9") == 0);
    CHECK(strcmp(ebm_meta_get(mback, "ebm.train.lr"), "0.001") == 0);
    size_t np, nb, ns, nsb;
    float *p = ebm_net_params(net, &np), *pb = ebm_net_params(back, &nb);
    float *s = ebm_net_state(net, &ns), *sb = ebm_net_state(back, &nsb);
    CHECK(np == nb && ns == nsb && ns == 6 + 5);
    CHECK(memcmp(p, pb, np * sizeof(float)) == 0);
    CHECK(memcmp(s, sb, ns * sizeof(float)) == 0);
    float x[2 * 162], y[6], yb[6];
    fill_normal(x, 2 * 162, 9);
    CHECK_OK(ebm_net_forward(net, x, 2, y));
    CHECK_OK(ebm_net_forward(back, x, 2, yb));
    CHECK(memcmp(y, yb, sizeof y) == 0);
    ebm_meta_free(mback);
    ebm_net_free(back);
    /* a model kind set by the caller is kept; meta may be NULL */
    CHECK_OK(ebm_meta_set(meta, "ebm.model", "jem"));
    CHECK_OK(ebm_net_save(net, meta, path));
    CHECK_OK(ebm_net_load(path, &back, &mback));
    CHECK(strcmp(ebm_meta_get(mback, "ebm.model"), "jem") == 0);
    ebm_meta_free(mback);
    ebm_net_free(back);
    CHECK_OK(ebm_net_save(net, NULL, path));
    CHECK_OK(ebm_net_load(path, &back, NULL));
    ebm_net_free(back);
    /* clone */
    ebm_net *cl;
    CHECK_OK(ebm_net_clone(net, &cl));
    CHECK(memcmp(ebm_net_params(cl, NULL), p, np * sizeof(float)) == 0);
    ebm_net_free(cl);

    /* malformed files: each EBM_EFORMAT naming the file */
    ebm_tensors *good;
    REQUIRE(ebm_tensors_new(&good) == EBM_OK);
    REQUIRE(ebm_net_to_tensors(net, good) == EBM_OK);
    for (int k = 0; k < 9; k++) {
        ebm_tensors *t;
        REQUIRE(ebm_tensors_new(&t) == EBM_OK);
        const ebm_meta *gm = ebm_tensors_meta_const(good);
        for (size_t i = 0; i < ebm_meta_count(gm); i++) {
            const char *key, *val;
            ebm_meta_at(gm, i, &key, &val);
            if (k == 0 && strcmp(key, "ebm.net.spec") == 0) continue;          /* no spec */
            if (k == 1 && strcmp(key, "ebm.net.spec") == 0) val = "conv:4:3:2,bogus";
            if (k == 2 && strcmp(key, "ebm.net.input") == 0) val = "2x9";
            if (k == 3 && strcmp(key, "ebm.net.input") == 0) val = "2x11x11"; /* layers.6 would need 54 inputs, not 24 */
            if (k == 4 && strcmp(key, "ebm.net.spec") == 0) val = "conv:4:3:2,elu:0.7,conv:6:3:1:1,silu,pool:2,"
                                                               "flatten,linear:5:sn,tanh,linear:3"; /* sn_u extra */
            CHECK_OK(ebm_meta_set(ebm_tensors_meta(t), key, val));
        }
        for (size_t i = 0; i < ebm_tensors_count(good); i++) {
            const char *name = ebm_tensors_name(good, i);
            const ebm_array *a = ebm_tensors_get(good, name);
            size_t shape[EBM_MAX_DIMS];
            memcpy(shape, a->shape, sizeof shape);
            if (k == 5 && strcmp(name, "layers.8.bias") == 0) continue;         /* missing */
            if (k == 6 && strcmp(name, "layers.2.weight") == 0) shape[1] = 3; /* wrong shape */
            float *data = a->data;
            float nanbuf[4 * 2 * 9];
            if (k == 7 && strcmp(name, "layers.0.weight") == 0) {
                memcpy(nanbuf, a->data, sizeof nanbuf);
                nanbuf[5] = NAN;
                data = nanbuf;
            }
            if (k == 6 && strcmp(name, "layers.2.weight") == 0) {
                float zeros[6 * 3 * 9] = {0};
                CHECK_OK(ebm_tensors_put(t, name, a->dtype, a->ndim, shape, zeros));
                continue;
            }
            CHECK_OK(ebm_tensors_put(t, name, a->dtype, a->ndim, shape, data));
        }
        if (k == 8) {
            size_t sh[1] = {3};
            CHECK_OK(ebm_tensors_put(t, "layers.1.weight", EBM_F32, 1, sh, NULL)); /* elu has no weight */
        }
        CHECK_OK(ebm_safetensors_write(bad, t));
        ebm_tensors_free(t);
        back = (ebm_net *)1;
        CHECK_FAILS(ebm_net_load(bad, &back, NULL), EBM_EFORMAT);
        CHECK(back == NULL);
        CHECK_MSG(strstr(ebm_last_error(), "bad.safetensors") != NULL, "case %d message: %s", k, ebm_last_error());
        if (k == 1) {
            /* the whole message: the file's name in front of the spec parser's own message, intact (it was
             * once formatted into the buffer it was read from) */
            char got[1024], want[1200];
            snprintf(got, sizeof got, "%s", ebm_last_error());
            ebm_net *none = NULL;
            CHECK(ebm_net_new("conv:4:3:2,bogus", 2, 9, 9, &none) != EBM_OK && none == NULL);
            CHECK(strlen(ebm_last_error()) > 10);
            snprintf(want, sizeof want, "%s: %s", bad, ebm_last_error());
            CHECK_MSG(strcmp(got, want) == 0, "got '%s', want '%s'", got, want);
        }
    }
    ebm_tensors_free(good);
    /* a missing file is EBM_EIO; a non-finite parameter is never written */
    CHECK_FAILS(ebm_net_load("/nonexistent/net.safetensors", &back, NULL), EBM_EIO);
    p[3] = NAN;
    CHECK_FAILS(ebm_net_save(net, NULL, path), EBM_ENAN);
    ebm_meta_free(meta);
    ebm_net_free(net);
}

/* A file whose few bytes of metadata ask for a huge network: refused from the spec and the tensors present,
 * before the spec's memory is allocated (issue 13: a 136 KB file whose spec said conv:2000000:3:1 took 6 GB). */
static long max_rss_kb(void) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}

static void test_hostile_spec(void) {
    const char *dir = check_tmpdir("net");
    char path[600];
    snprintf(path, sizeof path, "%s/hostile.safetensors", dir);
    /* 2e8 weights (800 MB) claimed by linear:50000000 on a 4-wide input; the file holds a 4 x 3 weight */
    ebm_tensors *t;
    REQUIRE(ebm_tensors_new(&t) == EBM_OK);
    CHECK_OK(ebm_meta_set(ebm_tensors_meta(t), "ebm.model", "net"));
    CHECK_OK(ebm_meta_set(ebm_tensors_meta(t), "ebm.net.spec", "linear:50000000"));
    CHECK_OK(ebm_meta_set(ebm_tensors_meta(t), "ebm.net.input", "4x1x1"));
    size_t shw[2] = {3, 4}, shb[1] = {3};
    CHECK_OK(ebm_tensors_put(t, "layers.0.weight", EBM_F32, 2, shw, NULL));
    CHECK_OK(ebm_tensors_put(t, "layers.0.bias", EBM_F32, 1, shb, NULL));
    CHECK_OK(ebm_safetensors_write(path, t));
    ebm_tensors_free(t);
    long before = max_rss_kb();
    ebm_net *net = (ebm_net *)1;
    CHECK_FAILS(ebm_net_load(path, &net, NULL), EBM_EFORMAT);
    CHECK(net == NULL);
    CHECK_MSG(strstr(ebm_last_error(), "tensor 'layers.0.weight' has shape (3, 4), expected (50000000, 4)"),
              "message: %s", ebm_last_error());
    ebm_model *m = (ebm_model *)1;
    CHECK_FAILS(ebm_model_load(path, &m), EBM_EFORMAT);
    CHECK(m == NULL);
    long grew = max_rss_kb() - before;
    CHECK_MSG(grew < 100 * 1024, "loading grew the peak RSS by %ld KB", grew);
    /* a spec whose activations alone are beyond the per-sample limit: conv:2000000:3:1 on 28 x 28 */
    CHECK_FAILS(ebm_net_new("conv:2000000:3:1,silu,flatten,linear:1", 1, 28, 28, &net), EBM_EINVAL);
    CHECK_MSG(strstr(ebm_last_error(), "floats per sample"), "message: %s", ebm_last_error());
    /* found by fuzz_netspec: a layer of more than 8 ':' fields read an unset field pointer */
    CHECK_FAILS(ebm_net_new("conv:32:3:x:1:r264:\nconv:16:3:1", 1, 28, 28, &net), EBM_EINVAL);
    CHECK_MSG(strstr(ebm_last_error(), "too many ':' fields"), "message: %s", ebm_last_error());
    CHECK_FAILS(ebm_net_new("linear:1:2:3:4:5:6:7:8:sn", 4, 1, 1, &net), EBM_EINVAL);
    /* a large but reasonable network is still accepted */
    CHECK_OK(ebm_net_new("conv:64:3:1,silu,conv:64:3:1,silu,flatten,linear:1", 3, 64, 64, &net));
    ebm_net_free(net);
}

/* ebm_net_new_for_data: the default CNN for images, the default MLP otherwise, a given spec as it is. */
static void test_new_for_data(void) {
    ebm_net *n = NULL;
    CHECK_OK(ebm_net_new_for_data(NULL, 64, 8, 8, 10, &n));
    CHECK(n && strcmp(ebm_net_spec(n), "conv:32:3:1:1,silu,pool:2,conv:64:3:1:1,silu,pool:2,flatten,linear:128,silu,"
                                       "linear:10") == 0);
    CHECK(n && ebm_net_input_size(n) == 64 && ebm_net_output_size(n) == 10);
    ebm_net_free(n);
    CHECK_OK(ebm_net_new_for_data(NULL, 2, 1, 2, 1, &n)); /* 1 x 2 is not an image */
    CHECK(n && strcmp(ebm_net_spec(n), "linear:128,silu,linear:128,silu,linear:128,silu,linear:1") == 0);
    CHECK(n && ebm_net_input_size(n) == 2 && ebm_net_output_size(n) == 1);
    ebm_net_free(n);
    CHECK_OK(ebm_net_new_for_data("conv:2:3:1,flatten,linear:3", 16, 4, 4, 7, &n));
    size_t np = 0;
    ebm_net_params(n, &np);
    CHECK(n && np == (2 * 9 + 2) + (2 * 16 * 3 + 3) && ebm_net_output_size(n) == 3); /* 1 x 4 x 4 in */
    ebm_net_free(n);
    n = NULL;
    CHECK_FAILS(ebm_net_new_for_data("linear:3,nonsense", 16, 4, 4, 3, &n), EBM_EINVAL);
    CHECK(n == NULL);
}

/* ebm_net_trim_outputs: the kept outputs are the full network's first k, bit for bit (fp32), through conv
 * layers and an SN layer before the last; the refusals (k out of range, a non-linear or SN last layer). */
static void test_trim_outputs(void) {
    ebm_net *n = NULL, *t = NULL;
    CHECK_OK(ebm_net_new("conv:3:3:1,silu,pool:2,flatten,linear:6:sn,silu,linear:8", 1, 6, 6, &n));
    ebm_rng rng;
    ebm_rng_seed(&rng, 7, 0);
    CHECK_OK(ebm_net_init(n, &rng));
    float x[3 * 36], full[3 * 8], kept[3 * 3];
    for (size_t i = 0; i < 3 * 36; i++) x[i] = (float)sin(0.37 * (double)i);
    CHECK_OK(ebm_net_forward(n, x, 3, full));
    CHECK_OK(ebm_net_trim_outputs(n, 3, &t));
    CHECK(t && ebm_net_output_size(t) == 3 && ebm_net_input_size(t) == 36);
    CHECK(t && strcmp(ebm_net_spec(t), "conv:3:3:1:1,silu,pool:2,flatten,linear:6:sn,silu,linear:3") == 0);
    size_t np_full = 0, np_t = 0;
    ebm_net_params(n, &np_full);
    if (t) ebm_net_params(t, &np_t);
    CHECK(np_full - np_t == 5 * (6 + 1)); /* five rows of W (6 inputs) and five biases fewer */
    if (t) CHECK_OK(ebm_net_forward(t, x, 3, kept));
    int same = t != NULL;
    for (size_t i = 0; same && i < 3; i++)
        for (size_t c = 0; c < 3; c++) same &= kept[i * 3 + c] == full[i * 8 + c];
    CHECK_MSG(same, "the trimmed network's outputs are not the first 3 of the full network's");
    ebm_net_free(t);
    t = NULL;
    CHECK_OK(ebm_net_trim_outputs(n, 8, &t)); /* all of them: a copy */
    if (t) CHECK_OK(ebm_net_forward(t, x, 3, full + 0));
    ebm_net_free(t);
    t = NULL;
    CHECK_FAILS(ebm_net_trim_outputs(n, 0, &t), EBM_EINVAL);
    CHECK_FAILS(ebm_net_trim_outputs(n, 9, &t), EBM_EINVAL);
    CHECK(t == NULL);
    ebm_net_free(n);
    CHECK_OK(ebm_net_new("linear:4,silu", 3, 1, 1, &n));
    CHECK_FAILS(ebm_net_trim_outputs(n, 2, &t), EBM_EINVAL); /* ends in an activation */
    ebm_net_free(n);
    CHECK_OK(ebm_net_new("linear:4:sn", 3, 1, 1, &n));
    CHECK_FAILS(ebm_net_trim_outputs(n, 2, &t), EBM_ENOTSUP);
    ebm_net_free(n);
    CHECK(t == NULL);
}

/* max |a - b| / max |b| over n values */
static double rel_diff(const float *a, const float *b, size_t n) {
    double d = 0, m = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (e > d) d = e;
        if (fabs(b[i]) > m) m = fabs(b[i]);
    }
    return d / m;
}

/* Conv layers run through oneDNN (src/core/conv_dnnl.c) where it is built in, else im2col + GEMM; both
 * paths must give the same energies, input gradients and parameter gradients up to rounding, for every
 * kind of conv layer (a few input channels and many, stride 2, even kernels, no and large padding,
 * non-square inputs, SN), in fp32 and bf16.  And the default CNN's layers must take the oneDNN path where
 * oneDNN is there (a silent fallback would leave the speed-up untested). */
static void test_dnnl_conv(void) {
    static const struct {
        const char *spec;
        size_t c, h, w;
    } cases[] = {
        {"conv:32:3:1,silu,pool:2,conv:64:3:1,silu,pool:2,flatten,linear:16,silu,linear:1", 1, 28, 28},
        {"conv:8:3:1,swish,conv:16:3:1,silu,flatten,linear:1", 3, 12, 12},
        {"conv:16:5:2:2,elu,conv:8:3:2:0,tanh,flatten,linear:1", 16, 14, 14},
        {"conv:6:4:2:1,softplus,conv:5:2:1:1:sn,flatten,linear:1:sn", 2, 9, 7},
        {"conv:32:3:1:2,leakyrelu,conv:17:1:1:0,flatten,linear:1", 20, 5, 6},
    };
    ebm_precision have;
    int dnnl = ebm_precision_resolve(EBM_PRECISION_BF16, &have) == EBM_OK;
    for (int bf = 0; bf < 1 + dnnl; bf++)
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            /* 0: im2col, 1: oneDNN sample by sample through the front (the default), 2: oneDNN layer by layer */
            ebm_net *net[3];
            ebm_energy *e[3];
            enum { N = 7 };
            size_t D = cases[k].c * cases[k].h * cases[k].w, np = 0;
            float *x = malloc(N * D * sizeof(float)), E[3][N], *dx[3], *g[3];
            REQUIRE(x);
            fill_normal(x, N * D, 11);
            static const int modes[3] = {EBM_NET_CONV_IM2COL, EBM_NET_CONV_FRONT, EBM_NET_CONV_LAYERS};
            for (int on = 0; on < 3; on++) {
                net[on] = make(cases[k].spec, cases[k].c, cases[k].h, cases[k].w, 12);
                ebm_net_params(net[on], &np);
                ebm_net_conv_mode(net[on], modes[on]);
                if (bf) CHECK_OK(ebm_net_set_precision(net[on], EBM_PRECISION_BF16));
                CHECK_OK(ebm_net_energy(net[on], EBM_NET_HEAD_SCALAR, &e[on]));
                dx[on] = malloc(N * D * sizeof(float));
                g[on] = calloc(np, sizeof(float));
                REQUIRE(dx[on] && g[on]);
                CHECK_OK(e[on]->grad_x(e[on], x, N, E[on], dx[on]));
                CHECK_OK(e[on]->grad_params(e[on], x, N, NULL, g[on], NULL));
            }
            /* fp32: sums in another order; bf16: the same bf16 operands, so close to the fp32 bound, except
             * where a last-bit change of an activation moves its bf16 rounding in the next layer */
            double tol = bf ? 2e-3 : 5e-6;
            CHECK_MSG(rel_diff(E[1], E[0], N) <= tol, "%s (%s): energies: oneDNN vs im2col differ by %.3g",
                      cases[k].spec, bf ? "bf16" : "fp32", rel_diff(E[1], E[0], N));
            CHECK_MSG(rel_diff(dx[1], dx[0], N * D) <= tol, "%s (%s): dE/dx: oneDNN vs im2col differ by %.3g",
                      cases[k].spec, bf ? "bf16" : "fp32", rel_diff(dx[1], dx[0], N * D));
            CHECK_MSG(rel_diff(g[1], g[0], np) <= tol, "%s (%s): dE/dtheta: oneDNN vs im2col differ by %.3g",
                      cases[k].spec, bf ? "bf16" : "fp32", rel_diff(g[1], g[0], np));
            /* the front sample by sample is the same computation as layer by layer for energies and dE/dx, bit
             * for bit; its conv weight gradients are oneDNN's per sample, summed in sample order (layer by
             * layer: im2col), so equal up to rounding */
            CHECK_MSG(memcmp(E[1], E[2], sizeof E[1]) == 0 && memcmp(dx[1], dx[2], N * D * sizeof(float)) == 0,
                      "%s (%s): the per-sample front differs from layer by layer", cases[k].spec, bf ? "bf16" : "fp32");
            CHECK_MSG(rel_diff(g[1], g[2], np) <= tol, "%s (%s): dE/dtheta: front vs layer by layer differ by %.3g",
                      cases[k].spec, bf ? "bf16" : "fp32", rel_diff(g[1], g[2], np));
            /* dE/dx from the SiLU derivatives kept by the energy's forward equals, bit for bit, dE/dx from a forward
             * that kept none (ebm_net_features: the backward recomputes them from the inputs) and from the public
             * ebm_net_forward; and the energy's forward left the output of a SiLU before a pooling out, which
             * ebm_net_features(NULL) refuses to hand out (case 0: conv, silu, pool, ...) */
            {
                float *dre = malloc(N * D * sizeof(float)), ones[N], *feat = malloc(N * 32 * 28 * 28 * sizeof(float));
                REQUIRE(dre && feat);
                for (int i = 0; i < N; i++) ones[i] = 1.0f;
                CHECK_OK(e[1]->grad_x(e[1], x, N, NULL, dre));
                if (k == 0) CHECK_FAILS(ebm_net_features(net[1], NULL, N, 2, feat), EBM_EINVAL);
                CHECK_OK(ebm_net_features(net[1], x, N, 1, feat));
                CHECK_OK(ebm_net_backward(net[1], ones, N, NULL, dre));
                CHECK_MSG(memcmp(dre, dx[1], N * D * sizeof(float)) == 0,
                          "%s (%s): dE/dx with SiLU derivatives recomputed differs from kept ones", cases[k].spec,
                          bf ? "bf16" : "fp32");
                if (k == 0) CHECK_OK(ebm_net_features(net[1], NULL, N, 2, feat)); /* kept by this forward */
                CHECK_OK(ebm_net_forward(net[1], x, N, NULL));
                CHECK_OK(ebm_net_backward(net[1], ones, N, NULL, dre));
                CHECK_MSG(memcmp(dre, dx[1], N * D * sizeof(float)) == 0,
                          "%s (%s): dE/dx after ebm_net_forward differs", cases[k].spec, bf ? "bf16" : "fp32");
                free(dre), free(feat);
            }
            for (int on = 0; on < 3; on++) {
                e[on]->destroy(e[on]);
                ebm_net_free(net[on]);
                free(dx[on]), free(g[on]);
            }
            free(x);
        }
    /* the default CNN's two conv layers: oneDNN takes both, in fp32 and, where the CPU has bf16 products
     * (else oneDNN may offer only its slow reference kernels, which count as declining), in bf16 */
    ebm_precision autop = EBM_PRECISION_FP32;
    CHECK_OK(ebm_precision_resolve(EBM_PRECISION_AUTO, &autop));
    for (int bf = 0; bf < 1 + (autop == EBM_PRECISION_BF16); bf++) {
        ebm_conv *c1 = ebm_conv_new(bf, 1, 28, 28, 32, 3, 1, 1, 28, 28), *c2 = ebm_conv_new(bf, 32, 14, 14, 64, 3, 1, 1,
                                                                                         14, 14);
        CHECK_MSG((c1 != NULL) == dnnl && (c2 != NULL) == dnnl, "oneDNN %s: conv contexts %s / %s (%s)",
                  dnnl ? "built in" : "absent", ebm_conv_impl(c1), ebm_conv_impl(c2), bf ? "bf16" : "fp32");
        ebm_conv_free(c1);
        ebm_conv_free(c2);
    }
}

int main(void) {
    test_new_for_data();
    test_trim_outputs();
    test_spec_parsing();
    test_energy_bookkeeping();
    test_thread_determinism();
    test_dnnl_conv();
    test_spectral_norm();
    test_files();
    test_hostile_spec();
    return check_summary("test_net");
}
