/* Products of chain states updated by their flips (ebm_binmm_step): the right values over many steps
 * (a double-precision reference of alpha A B), for binary rows and for rows with other values, with
 * column counts that are and are not multiples of 16 and one or several chunks; the same bits on 1, 2
 * and 3 threads, for a slice of the rows run on its own, and inside an enclosing parallel region; a
 * refresh gives the bits of a fresh product; the epilogue sees every output element once, final.  And the
 * log-weight term of AIS that runs in that epilogue (ebm_k_softplus_row2) against a long-double sum. */
#include "check.h"

#include "core/internal.h"

#include <omp.h>

typedef struct {
    size_t n, k, cols, steps;
    float flip;      /* probability that a unit flips at a step */
    int other;       /* rows 0 and 5 carry values other than 0 and 1 at some steps */
    size_t refresh;  /* refresh every this many steps */
} plan;

/* The states of step t: A_t (n, k), a Markov chain of flips from a seeded start. */
static void states(const plan *p, size_t t, float *A) {
    ebm_rng r;
    ebm_rng_seed(&r, 11, t);
    for (size_t i = 0; i < p->n * p->k; i++) {
        if (t == 0) A[i] = ebm_rng_uniform(&r) < 0.4 ? 1.0f : 0.0f;
        else if (ebm_rng_uniform(&r) < p->flip) A[i] = A[i] == 0.0f ? 1.0f : 0.0f;
        if (p->other && (i / p->k == 0 || i / p->k == 5) && t % 3 == 1 && i % 7 == 0)
            A[i] = (float)(ebm_rng_uniform(&r) * 4.0 - 2.0);
        else if (A[i] != 0.0f && A[i] != 1.0f) A[i] = 1.0f;
    }
}

typedef struct {
    float *C, *copy;
    size_t ldc;
    int *seen;
} ep_ctx;

static void ep_copy(void *ctx, size_t r0, size_t r1, size_t c0, size_t c1) {
    ep_ctx *e = ctx;
    for (size_t r = r0; r < r1; r++)
        for (size_t c = c0; c < c1; c++) {
            e->copy[r * e->ldc + c] = e->C[r * e->ldc + c];
            e->seen[r * e->ldc + c]++;
        }
}

/* Runs the plan on rows r0..r1 of the states with `threads` threads (inside: from an enclosing parallel
 * region), keeping every step's C in out (steps, r1 - r0, cols); returns the largest error against the
 * reference relative to the sum of |terms| (and checks the epilogue). */
static double run(const plan *p, const float *B, size_t r0, size_t r1, int threads, int inside, float *out) {
    size_t n = r1 - r0, k = p->k, cols = p->cols;
    float *A = malloc(p->n * k * sizeof(float)), *C = malloc(n * cols * sizeof(float));
    float *copy = malloc(n * cols * sizeof(float));
    int *seen = malloc(n * cols * sizeof(int));
    ebm_binmm *bm = NULL;
    int saved = ebm_get_threads();
    /* made with scratch for `made` threads (threads < 0: made on 1 and run on -threads, the extra threads
     * taking no rows) */
    int made = threads < 0 ? 1 : threads;
    threads = threads < 0 ? -threads : threads;
    ebm_set_threads(made);
    CHECK_STATUS(ebm_binmm_new(n, k, cols, &bm), EBM_OK);
    ebm_set_threads(threads);
    const float alpha = 0.75f;
    double worst = 0;
    for (size_t t = 0; t < p->steps; t++) {
        states(p, t, A);
        memset(seen, 0, n * cols * sizeof(int));
        ep_ctx e = {C, copy, cols, seen};
        ebm_gemm_ep ep = {ep_copy, &e};
        int refresh = t % p->refresh == 0;
        if (inside) {
#pragma omp parallel
            ebm_binmm_step_in(bm, refresh, alpha, A + r0 * k, k, B, cols, C, cols, &ep);
        } else {
            ebm_binmm_step(bm, refresh, alpha, A + r0 * k, k, B, cols, C, cols, &ep);
        }
        int once = 1;
        for (size_t i = 0; i < n * cols; i++) once &= seen[i] == 1;
        CHECK_MSG(once, "step %zu: the epilogue saw an element other than once", t);
        CHECK_MSG(!memcmp(copy, C, n * cols * sizeof(float)), "step %zu: the epilogue saw a C that changed", t);
        memcpy(out + t * n * cols, C, n * cols * sizeof(float));
        for (size_t i = 0; i < n; i++)
            for (size_t c = 0; c < cols; c++) {
                double ref = 0, mag = 1e-30;
                for (size_t j = 0; j < k; j++) {
                    double term = (double)A[(r0 + i) * k + j] * B[j * cols + c];
                    ref += term;
                    mag += fabs(term);
                }
                double err = fabs((double)C[i * cols + c] - alpha * ref) / (alpha * mag);
                if (err > worst) worst = err;
            }
    }
    ebm_set_threads(saved);
    ebm_binmm_free(bm);
    free(A);
    free(C);
    free(copy);
    free(seen);
    return worst;
}

static void test_plan(const plan *p, double tol) {
    float *B = malloc(p->k * p->cols * sizeof(float));
    ebm_rng r;
    ebm_rng_seed(&r, 5, p->cols);
    for (size_t i = 0; i < p->k * p->cols; i++) B[i] = (float)ebm_rng_normal(&r) * 0.1f;
    size_t per = p->n * p->cols, a = p->n / 3, b = p->n - 2;
    float *one = malloc(p->steps * per * sizeof(float)), *two = malloc(p->steps * per * sizeof(float));
    float *three = malloc(p->steps * per * sizeof(float)), *in = malloc(p->steps * per * sizeof(float));
    float *slice = malloc(p->steps * per * sizeof(float));
    double e1 = run(p, B, 0, p->n, 1, 0, one);
    CHECK_MSG(e1 <= tol, "n %zu k %zu cols %zu flip %.2f: relative error %.3g > %.3g", p->n, p->k, p->cols,
              (double)p->flip, e1, tol);
    run(p, B, 0, p->n, 2, 0, two);
    run(p, B, 0, p->n, 3, 0, three);
    run(p, B, 0, p->n, 2, 1, in);
    float *capped = malloc(p->steps * per * sizeof(float));
    run(p, B, 0, p->n, -3, 1, capped);
    CHECK_MSG(!memcmp(one, capped, p->steps * per * sizeof(float)), "cols %zu: made on 1 thread, run on 3", p->cols);
    free(capped);
    CHECK_MSG(!memcmp(one, two, p->steps * per * sizeof(float)), "cols %zu: 2 threads differ from 1", p->cols);
    CHECK_MSG(!memcmp(one, three, p->steps * per * sizeof(float)), "cols %zu: 3 threads differ from 1", p->cols);
    CHECK_MSG(!memcmp(one, in, p->steps * per * sizeof(float)), "cols %zu: inside a region differs", p->cols);
    /* rows a..b on their own: the same bits as those rows of the whole */
    run(p, B, a, b, 2, 0, slice);
    int same = 1;
    for (size_t t = 0; t < p->steps; t++)
        same &= !memcmp(slice + t * (b - a) * p->cols, one + t * per + a * p->cols, (b - a) * p->cols * sizeof(float));
    CHECK_MSG(same, "cols %zu: a slice of the rows differs from the whole", p->cols);
    free(B);
    free(one);
    free(two);
    free(three);
    free(in);
    free(slice);
}

/* A refresh gives exactly what a fresh product of the same states gives, whatever the history. */
static void test_refresh(void) {
    plan p = {9, 70, 45, 12, 0.3f, 0, 1000};
    float *B = malloc(p.k * p.cols * sizeof(float)), *A = malloc(p.n * p.k * sizeof(float));
    float *C1 = malloc(p.n * p.cols * sizeof(float)), *C2 = malloc(p.n * p.cols * sizeof(float));
    for (size_t i = 0; i < p.k * p.cols; i++) B[i] = sinf((float)i) * 0.3f;
    ebm_binmm *old = NULL, *fresh = NULL;
    CHECK_STATUS(ebm_binmm_new(p.n, p.k, p.cols, &old), EBM_OK);
    CHECK_STATUS(ebm_binmm_new(p.n, p.k, p.cols, &fresh), EBM_OK);
    for (size_t t = 0; t < p.steps; t++) {
        states(&p, t, A);
        ebm_binmm_step(old, t == 0 || t == p.steps - 1, 1.0f, A, p.k, B, p.cols, C1, p.cols, NULL);
    }
    ebm_binmm_step(fresh, 1, 1.0f, A, p.k, B, p.cols, C2, p.cols, NULL);
    CHECK(!memcmp(C1, C2, p.n * p.cols * sizeof(float)));
    ebm_binmm_free(old);
    ebm_binmm_free(fresh);
    ebm_binmm_free(NULL);
    free(A);
    free(B);
    free(C1);
    free(C2);
}

/* AIS's log-weight term: ebm_k_softplus_row2 is the difference of two ebm_k_softplus_row calls, and both
 * match a direct sum of log1p(exp) in long double, for rows shorter and longer than one 256-value block
 * and for large pre-activations (where softplus(z) is z). */
static void test_softplus_row2(void) {
    const size_t lens[3] = {7, 256, 600};
    for (int t = 0; t < 3; t++) {
        size_t m = lens[t];
        float *x = malloc(m * sizeof(float)), *b = malloc(m * sizeof(float));
        for (size_t j = 0; j < m; j++) {
            x[j] = (float)(sin(0.37 * (double)j) * (j % 5 == 0 ? 60.0 : 4.0));
            b[j] = (float)cos(0.11 * (double)j);
        }
        const double s0 = 0.913, s1 = 0.9131;
        long double ref = 0, ref1 = 0;
        for (size_t j = 0; j < m; j++) {
            long double z = (long double)x[j] + (long double)b[j];
            long double a1 = z * s1, a0 = z * s0;
            long double sp1 = a1 > 0 ? a1 + log1pl(expl(-a1)) : log1pl(expl(a1));
            long double sp0 = a0 > 0 ? a0 + log1pl(expl(-a0)) : log1pl(expl(a0));
            ref += sp1 - sp0;
            ref1 += sp1;
        }
        double two = ebm_k_softplus_row2(x, b, m, s0, s1);
        double one = ebm_k_softplus_row(x, b, m, s1) - ebm_k_softplus_row(x, b, m, s0);
        CHECK_NEAR(ebm_k_softplus_row(x, b, m, s1), (double)ref1, 1e-12 * (double)ref1);
        CHECK_NEAR(two, (double)ref, 1e-9);
        CHECK_NEAR(two, one, 1e-10);
        if (m <= 256) CHECK(two == one);
        free(x);
        free(b);
    }
}

/* The tiled transpose, at shapes that are and are not multiples of its 32 x 32 tiles. */
static void test_transpose(void) {
    const size_t shapes[3][2] = {{37, 70}, {64, 32}, {1, 5}};
    for (int t = 0; t < 3; t++) {
        size_t r = shapes[t][0], c = shapes[t][1];
        float *A = malloc(r * c * sizeof(float)), *T = malloc(r * c * sizeof(float));
        for (size_t i = 0; i < r * c; i++) A[i] = (float)i;
        ebm_transpose(A, r, c, T);
        int ok = 1;
        for (size_t i = 0; i < r; i++)
            for (size_t j = 0; j < c; j++) ok &= T[j * r + i] == A[i * c + j];
        CHECK_MSG(ok, "transpose %zu x %zu", r, c);
        free(A);
        free(T);
    }
}

int main(void) {
    test_softplus_row2();
    test_transpose();
    /* tolerances: fp32 sums of up to a few hundred terms, and of the flips over the steps since a refresh */
    const plan plans[] = {
        {37, 150, 83, 40, 0.05f, 0, 16},   /* cols not a multiple of 16, one chunk */
        {37, 150, 300, 40, 0.5f, 0, 16},   /* several chunks, half the units flip */
        {21, 64, 784, 30, 0.2f, 1, 7},     /* the width of an RBM's visible layer, other values */
        {6, 33, 16, 25, 0.1f, 1, 1000},    /* one vector, fewer rows than two groups, no refresh after 0 */
        {50, 200, 130, 300, 0.2f, 0, 1000} /* 300 steps of updates without a refresh */
    };
    for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++) test_plan(&plans[i], i == 4 ? 2e-5 : 2e-6);
    test_refresh();
    return check_summary("test_binmm");
}
