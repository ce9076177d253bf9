/* The bf16 precision setting (core/gemm_dnnl.c and its users: RBM half-steps, free energy, CD/PCD training,
 * Gibbs sampling) against fp32 on fixed inputs; RBM AIS, which ignores the setting.
 *
 * Bounds.  A bf16 product rounds each operand to 8 significant bits (relative error <= 2^-9 each), so
 * |C_bf16 - C| <= (2^-8 + 2^-18) sum_k |a_ik b_kj| plus fp32 accumulation error; we check both that bound
 * (with the fp32 term k 2^-24 sum|a||b|) and, much tighter, that C_bf16 equals the double-precision product
 * of the bf16-rounded operands to 1e-5 of sum|a||b| (which catches any layout, stride, block or scaling
 * mistake).  A free energy moves by at most sum_j |d pre_j| (softplus is 1-Lipschitz), which is bounded the
 * same way.  CD gradients use the same uniforms for the Bernoulli draws in both precisions, so a unit flips
 * only where a uniform falls between the two probabilities: an entry of the mean over n rows moves by
 * (flips) / n.  Measured on 1000 rows: at most 4 flips in any entry, 0.4% of the gradient's norm; the
 * bounds are 10 flips and 5%. */
#include "check.h"
#include "core/internal.h"
#include "models/model_internal.h"
#include "rbm_fixtures.h"
#include "bf16_check.h"

/* One product through mm against double references; returns the largest error relative to sum|a||b|. */
static void check_gemm(ebm_mm *mm, int ta, int tb, size_t m, size_t n, size_t k, float alpha, float beta) {
    size_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2;
    size_t ar = ta ? k : m, br = tb ? n : k;
    float *A = malloc(ar * lda * sizeof(float)), *B = malloc(br * ldb * sizeof(float));
    float *C = malloc(m * ldc * sizeof(float)), *C0 = malloc(m * ldc * sizeof(float));
    fill(A, ar * lda, 1 + m, -1.0f, 1.0f);
    fill(B, br * ldb, 2 + n, -0.5f, 1.0f);
    fill(C0, m * ldc, 3 + k, -1.0f, 1.0f);
    memcpy(C, C0, m * ldc * sizeof(float));
    ebm_mm_gemm(mm, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
    double worst_exact = 0, worst_rounded = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0, sr = 0, mag = 0;
            for (size_t p = 0; p < k; p++) {
                float a = ta ? A[p * lda + i] : A[i * lda + p], b = tb ? B[j * ldb + p] : B[p * ldb + j];
                s += (double)a * b;
                sr += (double)rb(a) * rb(b);
                mag += fabs((double)a * b);
            }
            double c0 = C0[i * ldc + j], got = C[i * ldc + j];
            double scale = fabs(alpha) * mag + fabs(beta * c0) + 1e-30;
            double e1 = fabs(got - (alpha * s + beta * c0)) / scale, e2 = fabs(got - (alpha * sr + beta * c0)) / scale;
            if (e1 > worst_exact) worst_exact = e1;
            if (e2 > worst_rounded) worst_rounded = e2;
        }
    /* the padding beside C is untouched */
    for (size_t i = 0; i < m; i++) CHECK(C[i * ldc + n] == C0[i * ldc + n] && C[i * ldc + n + 1] == C0[i * ldc + n + 1]);
    double bound = 1.0 / 256 + (double)k / 16777216.0 * 2;
    printf("  %s%s %zux%zux%zu alpha %g beta %g: error / sum|ab| %.2e (bound %.2e), vs rounded operands %.2e\n",
           ta ? "T" : "N", tb ? "T" : "N", m, n, k, alpha, beta, worst_exact, bound, worst_rounded);
    CHECK(worst_exact <= bound);
    CHECK(worst_rounded <= 1e-5);
    free(A), free(B), free(C), free(C0);
}

static void test_gemm(void) {
    if (!have_bf16()) return;
    ebm_mm *mm;
    CHECK_OK(ebm_mm_new(EBM_PRECISION_BF16, 0, &mm));
    REQUIRE(mm && ebm_mm_is_bf16(mm));
    printf("bf16 products against double references:\n");
    /* the RBM's shapes (several blocks each), a one-block product and odd sizes */
    check_gemm(mm, 0, 0, 100, 512, 300, 1.0f, 0.0f);
    check_gemm(mm, 0, 1, 100, 300, 512, 0.7f, 0.0f);
    check_gemm(mm, 1, 0, 300, 512, 200, 0.05f, 0.5f);
    check_gemm(mm, 1, 1, 70, 33, 129, 1.0f, 1.0f);
    check_gemm(mm, 0, 0, 3, 5, 7, 2.0f, 0.0f);
    check_gemm(mm, 0, 0, 2000, 100, 600, 1.0f, 0.0f);
    /* a cached weight copy: B given to set_weights is read from its bf16 copy */
    float *W = malloc(300 * 200 * sizeof(float)), *v = malloc(50 * 300 * sizeof(float));
    float *c1 = malloc(50 * 200 * sizeof(float)), *c2 = malloc(50 * 200 * sizeof(float));
    fill(W, 300 * 200, 9, -1, 1);
    fill(v, 50 * 300, 10, 0, 1);
    CHECK_OK(ebm_mm_set_weights(mm, W, 300, 200));
    ebm_mm_gemm(mm, 0, 0, 50, 200, 300, 1.0f, v, 300, W, 200, 0.0f, c1, 200);
    W[0] += 1.0f; /* stale copy: the product still sees the old W until set_weights */
    ebm_mm_gemm(mm, 0, 0, 50, 200, 300, 1.0f, v, 300, W, 200, 0.0f, c2, 200);
    CHECK(memcmp(c1, c2, 50 * 200 * sizeof(float)) == 0);
    CHECK_OK(ebm_mm_set_weights(mm, W, 300, 200));
    ebm_mm_gemm(mm, 0, 0, 50, 200, 300, 1.0f, v, 300, W, 200, 0.0f, c2, 200);
    CHECK(memcmp(c1, c2, 50 * 200 * sizeof(float)) != 0);
    /* thread-count independence of the products */
    for (int t = 1; t <= 3; t++) {
        ebm_set_threads(t);
        ebm_mm_gemm(mm, 0, 0, 50, 200, 300, 1.0f, v, 300, W, 200, 0.0f, t == 1 ? c1 : c2, 200);
        if (t > 1) CHECK_MSG(memcmp(c1, c2, 50 * 200 * sizeof(float)) == 0, "bf16 product differs on %d threads", t);
        CHECK_MSG(ebm_get_threads() == t, "a product changed the caller's thread count to %d", ebm_get_threads());
    }
    ebm_set_threads(2);
    free(W), free(v), free(c1), free(c2);
    ebm_mm_free(mm);
    /* oneDNN's own fp32 matmul through the same seam, for the benchmarks */
    CHECK_OK(ebm_mm_new(EBM_PRECISION_FP32, 1, &mm));
    REQUIRE(mm && !ebm_mm_is_bf16(mm));
    printf("oneDNN fp32 products:\n");
    float *A = malloc(100 * 784 * sizeof(float)), *B = malloc(784 * 512 * sizeof(float));
    float *C = malloc(100 * 512 * sizeof(float)), *R = malloc(100 * 512 * sizeof(float));
    fill(A, 100 * 784, 4, 0, 1);
    fill(B, 784 * 512, 5, -0.1f, 0.1f);
    ebm_mm_gemm(mm, 0, 0, 100, 512, 784, 1.0f, A, 784, B, 512, 0.0f, C, 512);
    ebm_sgemm(0, 0, 100, 512, 784, 1.0f, A, 784, B, 512, 0.0f, R, 512);
    double e = 0;
    for (size_t i = 0; i < 100 * 512; i++) e = fmax(e, fabs((double)C[i] - R[i]));
    printf("  100x512x784 against OpenBLAS: max |diff| %.2e\n", e);
    CHECK(e < 1e-4);
    free(A), free(B), free(C), free(R);
    ebm_mm_free(mm);
}

/* The vector conversion (vcvtneps2bf16 where the CPU has it) and the scalar one give the same bits, on
 * ties, both signs, infinities, NaNs, denormals and random values. */
static void test_convert(void) {
    enum { N = 4096 };
    float *x = malloc(N * sizeof(float));
    uint16_t *h = malloc(N * sizeof(uint16_t));
    uint32_t *u = malloc(N * sizeof(uint32_t));
    ebm_rng_fill_u32(3, 0, 0, u, N);
    const uint32_t special[] = {0x00000000u, 0x80000000u, 0x3f808000u, 0x3f818000u, 0x3f80ffffu, 0x7f7fffffu,
                                0xff7fffffu, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0x7f800001u, 0xffa00000u,
                                0x00000001u, 0x807fffffu, 0x00800000u, 0x3f7fffffu};
    for (size_t i = 0; i < sizeof special / sizeof *special; i++) u[i] = special[i];
    memcpy(x, u, N * sizeof(float));
    ebm_k_to_bf16(x, 4, N / 4, N / 4, h);
    size_t bad = 0;
    for (size_t i = 0; i < N; i++) bad += h[i] != ebm_bf16(x[i]);
    CHECK_MSG(bad == 0, "%zu conversions differ between the vector and scalar paths", bad);
    CHECK(ebm_bf16(1.0f) == 0x3f80 && ebm_bf16(-2.0f) == 0xc000);
    float tie = 0, up = 0;
    uint32_t t = 0x3f808000u, t2 = 0x3f818000u; /* 1 + 2^-8 rounds down to even, 1 + 3 2^-8 up */
    memcpy(&tie, &t, 4);
    memcpy(&up, &t2, 4);
    CHECK(ebm_bf16(tie) == 0x3f80 && ebm_bf16(up) == 0x3f82);
    CHECK(isnan(ebm_bf16_to_f32(ebm_bf16(NAN))) && ebm_bf16_to_f32(ebm_bf16(INFINITY)) == INFINITY);
    CHECK(ebm_bf16(1e-40f) == 0); /* denormal */
    free(x), free(h), free(u);
}

static void test_resolve(void) {
    ebm_precision p;
    CHECK_OK(ebm_precision_resolve(EBM_PRECISION_FP32, &p));
    CHECK(p == EBM_PRECISION_FP32);
    CHECK_OK(ebm_precision_resolve(EBM_PRECISION_AUTO, &p));
    CHECK(p == EBM_PRECISION_FP32 || p == EBM_PRECISION_BF16);
    printf("auto precision here: %s\n", ebm_precision_name(p));
    CHECK_FAILS(ebm_precision_resolve((ebm_precision)7, &p), EBM_EINVAL);
    CHECK(strcmp(ebm_precision_name(EBM_PRECISION_BF16), "bf16") == 0);
    ebm_mm *mm = (ebm_mm *)1;
    CHECK_OK(ebm_mm_new(EBM_PRECISION_FP32, 0, &mm));
    CHECK(mm == NULL); /* fp32 is the plain ebm_sgemm path */
}

/* Free energies of binary and grey inputs under a 784x256 RBM with realistic weights (std 0.05). */
static void test_free_energy(void) {
    if (!have_bf16()) return;
    size_t nv = 784, nh = 256, n = 300;
    ebm_rbm *m = fixture_rbm(nv, nh, 0.05, 0.5, 21);
    float *v = malloc(n * nv * sizeof(float));
    fill(v, n * nv, 22, 0, 1);
    for (size_t i = 0; i < n * nv / 2; i++) v[i] = v[i] < 0.3f ? 1.0f : 0.0f; /* half the rows binary */
    double *f32 = malloc(n * sizeof(double)), *f16 = malloc(n * sizeof(double));
    ebm_mm *mm;
    CHECK_OK(ebm_mm_new(EBM_PRECISION_BF16, 0, &mm));
    CHECK_OK(ebm_mm_set_weights(mm, m->W, nv, nh));
    CHECK_OK(ebm_rbm_free_energy(m, v, n, 1.0f, f32));
    CHECK_OK(ebm_rbm_free_energy_mm(m, mm, v, n, 1.0f, f16));
    double worst = 0, worst_ratio = 0;
    for (size_t r = 0; r < n; r++) {
        double bound = 0; /* sum_j (2^-8 + fp32) sum_i |v_i W_ij| */
        for (size_t j = 0; j < nh; j++) {
            double s = 0;
            for (size_t i = 0; i < nv; i++) s += fabs((double)v[r * nv + i] * m->W[i * nh + j]);
            bound += s * (1.0 / 256 + 1e-6);
        }
        double d = fabs(f16[r] - f32[r]);
        worst = fmax(worst, d);
        worst_ratio = fmax(worst_ratio, d / bound);
    }
    printf("free energy (|F| ~ %.0f): bf16 vs fp32 max |dF| %.4f nats, %.4f of its bound\n", fabs(f32[0]),
           worst, worst_ratio);
    CHECK(worst_ratio <= 1.0);
    CHECK(worst < 0.5);
    /* conditionals: p(h|v) moves by at most |d pre| / 4 */
    float *p32 = malloc(n * nh * sizeof(float)), *p16 = malloc(n * nh * sizeof(float));
    ebm_rbm_sample_hidden(m, v, n, 1.0f, 0, p32, NULL);
    ebm_rbm_sample_hidden_mm(m, mm, v, n, 1.0f, 0, 0, p16, NULL);
    double dp = 0;
    for (size_t i = 0; i < n * nh; i++) dp = fmax(dp, fabs((double)p16[i] - p32[i]));
    printf("p(h|v): bf16 vs fp32 max |dp| %.2e (bound 0.01)\n", dp);
    CHECK(dp < 0.01);
    free(p32), free(p16), free(v), free(f32), free(f16);
    ebm_mm_free(mm);
    ebm_rbm_free(m);
}

/* One update with momentum 0 and no weight decay is lr times the CD gradient. */
static void cd_update(const ebm_rbm *m0, const ebm_mat *data, ebm_cd_mode mode, ebm_precision p, float *grad) {
    ebm_rbm *m;
    REQUIRE(ebm_rbm_clone(m0, &m) == EBM_OK);
    ebm_cd_opts o;
    ebm_cd_opts_default(&o);
    o.mode = mode;
    o.epochs = 1;
    o.batch = data->rows;
    o.momentum = 0;
    o.weight_decay = 0;
    o.lr = 1.0f;
    o.shuffle = 0;
    o.seed = 5;
    o.precision = p;
    CHECK_OK(ebm_rbm_train(m, data, &o));
    for (size_t i = 0; i < m->n_params; i++) grad[i] = m->params[i] - m0->params[i];
    ebm_rbm_free(m);
}

static void test_cd_grad(void) {
    if (!have_bf16()) return;
    size_t nv = 196, nh = 128, n = 1000;
    ebm_rbm *m = fixture_rbm(nv, nh, 0.1, 0.3, 31);
    ebm_mat *d;
    REQUIRE(ebm_mat_new(n, nv, &d) == EBM_OK);
    fill(d->data, n * nv, 32, 0, 1);
    for (size_t i = 0; i < n * nv; i++) d->data[i] = d->data[i] < 0.4f ? 1.0f : 0.0f;
    float *g32 = malloc(m->n_params * sizeof(float)), *g16 = malloc(m->n_params * sizeof(float));
    for (int mode = 0; mode < 2; mode++) {
        cd_update(m, d, mode ? EBM_PCD : EBM_CD, EBM_PRECISION_FP32, g32);
        cd_update(m, d, mode ? EBM_PCD : EBM_CD, EBM_PRECISION_BF16, g16);
        double dmax = 0, n32 = 0, nd = 0;
        for (size_t i = 0; i < m->n_params; i++) {
            double e = (double)g16[i] - g32[i];
            dmax = fmax(dmax, fabs(e));
            nd += e * e;
            n32 += (double)g32[i] * g32[i];
        }
        double rel = sqrt(nd / n32);
        printf("%s-1 gradient, batch %zu: bf16 vs fp32 max |dg| %.2e (bound 10 / n = %.0e), |dg| / |g| %.2e "
               "(bound 0.05)\n", mode ? "PCD" : "CD", n, dmax, 10.0 / (double)n, rel);
        CHECK(dmax <= 10.0 / (double)n + 1e-6);
        CHECK(rel < 0.05);
        CHECK(n32 > 1e-3); /* a real gradient */
    }
    free(g32), free(g16);
    ebm_mat_free(d);
    ebm_rbm_free(m);
}

/* A short bf16 PCD run: the same bits on 1, 2 and 3 threads and on a second run. */
static void train_bf16(const ebm_rbm *m0, const ebm_mat *data, int threads, float *out) {
    ebm_set_threads(threads);
    ebm_rbm *m;
    REQUIRE(ebm_rbm_clone(m0, &m) == EBM_OK);
    ebm_cd_opts o;
    ebm_cd_opts_default(&o);
    o.mode = EBM_PCD;
    o.epochs = 2;
    o.batch = 100;
    o.lr = 0.05f;
    o.precision = EBM_PRECISION_BF16;
    CHECK_OK(ebm_rbm_train(m, data, &o));
    memcpy(out, m->params, m->n_params * sizeof(float));
    ebm_rbm_free(m);
}

static void test_reproducible(void) {
    if (!have_bf16()) return;
    size_t nv = 300, nh = 200, n = 400;
    ebm_rbm *m = fixture_rbm(nv, nh, 0.05, 0.1, 41);
    ebm_mat *d;
    REQUIRE(ebm_mat_new(n, nv, &d) == EBM_OK);
    fill(d->data, n * nv, 42, 0, 1);
    for (size_t i = 0; i < n * nv; i++) d->data[i] = d->data[i] < 0.3f ? 1.0f : 0.0f;
    float *a = malloc(m->n_params * sizeof(float)), *b = malloc(m->n_params * sizeof(float));
    train_bf16(m, d, 1, a);
    CHECK(memcmp(a, m->params, m->n_params * sizeof(float)) != 0);
    for (int t = 1; t <= 3; t++) {
        train_bf16(m, d, t, b);
        CHECK_MSG(memcmp(a, b, m->n_params * sizeof(float)) == 0, "bf16 PCD run differs on %d threads", t);
    }
    ebm_set_threads(2);
    free(a), free(b);
    ebm_mat_free(d);
    ebm_rbm_free(m);
}

/* RBM AIS checks the precision and computes in fp32 whatever it says (its products add rows of W for the
 * units that flipped): BF16 gives the log weights of FP32 bit for bit, on a 12x10 RBM against exact log Z
 * and on a 400x200 one. */
static void test_ais(void) {
    if (!have_bf16()) return;
    ebm_rbm *m = fixture_rbm(12, 10, 0.8, 0.5, 51);
    double exact = fixture_log_z_brute(m, 1.0);
    ebm_ais_opts o;
    ebm_ais_opts_default(&o);
    o.runs = 200;
    o.steps = 2000;
    double *lw16 = malloc(200 * sizeof(double)), *lw32 = malloc(200 * sizeof(double));
    o.precision = EBM_PRECISION_BF16;
    ebm_ais_result r;
    CHECK_OK(ebm_rbm_ais(m, &o, &r, lw16));
    printf("AIS (precision bf16), 12x10 RBM: %.4f in [%.4f, %.4f], exact %.4f\n", r.log_z, r.log_z_lo, r.log_z_hi,
           exact);
    CHECK(fabs(r.log_z - exact) < 0.05);
    o.precision = EBM_PRECISION_FP32;
    CHECK_OK(ebm_rbm_ais(m, &o, &r, lw32));
    CHECK(memcmp(lw16, lw32, 200 * sizeof(double)) == 0);
    ebm_rbm_free(m);
    m = fixture_rbm(400, 200, 0.05, 0.2, 52);
    o.runs = 100;
    o.steps = 1000;
    o.precision = EBM_PRECISION_BF16;
    CHECK_OK(ebm_rbm_ais(m, &o, &r, lw16));
    o.precision = EBM_PRECISION_FP32;
    CHECK_OK(ebm_rbm_ais(m, &o, &r, lw32));
    CHECK(memcmp(lw16, lw32, 100 * sizeof(double)) == 0);
    free(lw16);
    free(lw32);
    ebm_rbm_free(m);
}

int main(void) {
    test_convert();
    test_resolve();
    test_gemm();
    test_free_energy();
    test_cd_grad();
    test_reproducible();
    test_ais();
    return check_summary("test_precision");
}
