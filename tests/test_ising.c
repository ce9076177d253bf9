/* Ising image denoising: the energy against a hand count, ICM's energy checked after every sweep on random
 * instances (never rises, stops at a fixed point), annealing at or below ICM's energy, Gibbs marginals and
 * the BM-based exact marginals against brute-force enumeration of a 3x3 grid, a denoising sanity check, and
 * ebm_ising_denoise / ebm_ising_salt_pepper against the methods they wrap. */
#include "check.h"

#include <math.h>

static void random_spins(float *y, size_t n, ebm_rng *r, double p_on) {
    for (size_t i = 0; i < n; i++) y[i] = ebm_rng_uniform(r) < p_on ? 1.0f : -1.0f;
}

static void test_energy_hand(void) {
    /* 2x2: y = [+ +; - +], x = [+ -; - -]: edges (0,1) +1, (2,3) -1, (0,2) -1, (1,3) +1 -> 0;
     * sum x y = 1 - 1 + 1 - 1 = 0; sum y = 2 */
    float x[4] = {1, -1, -1, -1}, y[4] = {1, 1, -1, 1};
    ebm_ising g = {2, 2, 1.5f, 2.0f, 0.25f, x};
    double E;
    CHECK_OK(ebm_ising_energy(&g, y, &E));
    CHECK_NEAR(E, -0.5, 1e-12);
    float y2[4] = {1, 1, 1, 1};
    /* edges: 4 -> -1.5*4; sum x y = -2 -> +4; sum y = 4 -> -1 */
    CHECK_OK(ebm_ising_energy(&g, y2, &E));
    CHECK_NEAR(E, -6.0 + 4.0 - 1.0, 1e-12);
    ebm_ising bad = {0, 2, 1, 1, 0, x};
    CHECK_FAILS(ebm_ising_energy(&bad, y, &E), EBM_EINVAL);
}

static void test_icm_monotone(void) {
    ebm_rng r;
    ebm_rng_seed(&r, 3, 0);
    size_t rises = 0, unconverged = 0;
    for (int inst = 0; inst < 40; inst++) {
        size_t H = 3 + ebm_rng_below(&r, 10), W = 3 + ebm_rng_below(&r, 10), n = H * W;
        float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
        random_spins(x, n, &r, 0.5);
        random_spins(y, n, &r, 0.5);
        ebm_ising g = {H, W, (float)(2 * ebm_rng_uniform(&r) - 0.5), (float)(3 * ebm_rng_uniform(&r)),
                       (float)(ebm_rng_uniform(&r) - 0.5), x};
        double prev, E;
        CHECK_OK(ebm_ising_energy(&g, y, &prev));
        size_t sw = 1, total = 0;
        for (int it = 0; it < 1000 && sw == 1; it++) {
            float before[169];
            memcpy(before, y, n * sizeof(float));
            CHECK_OK(ebm_ising_icm(&g, y, 1, &sw));
            CHECK_OK(ebm_ising_energy(&g, y, &E));
            if (E > prev + 1e-9) rises++;
            prev = E;
            total++;
            if (memcmp(before, y, n * sizeof(float)) == 0) break;
        }
        if (total >= 1000) unconverged++;
        /* a fixed point: one more sweep changes nothing, and ICM run to the end agrees */
        float *z = malloc(n * sizeof(float));
        memcpy(z, y, n * sizeof(float));
        CHECK_OK(ebm_ising_icm(&g, z, 0, &sw));
        CHECK(sw == 1 && memcmp(z, y, n * sizeof(float)) == 0);
        free(z);
        free(x);
        free(y);
    }
    CHECK_MSG(rises == 0, "ICM raised the energy %zu times", rises);
    CHECK(unconverged == 0);
}

static void test_anneal_vs_icm(void) {
    ebm_rng r;
    ebm_rng_seed(&r, 4, 0);
    int better = 0;
    for (int inst = 0; inst < 5; inst++) {
        const size_t H = 12, W = 12, n = H * W;
        float x[144], y_icm[144], y_sa[144];
        random_spins(x, n, &r, 0.5);
        ebm_ising g = {H, W, 1.0f, 0.8f, 0.0f, x};
        memcpy(y_icm, x, sizeof x);
        memcpy(y_sa, x, sizeof x);
        CHECK_OK(ebm_ising_icm(&g, y_icm, 0, NULL));
        CHECK_OK(ebm_ising_anneal(&g, y_sa, 500, 4.0f, 0.05f, &r));
        double e_icm, e_sa;
        CHECK_OK(ebm_ising_energy(&g, y_icm, &e_icm));
        CHECK_OK(ebm_ising_energy(&g, y_sa, &e_sa));
        CHECK_MSG(e_sa <= e_icm + 1e-9, "instance %d: annealing %.1f vs ICM %.1f", inst, e_sa, e_icm);
        better += e_sa < e_icm;
    }
    CHECK(better >= 3);
    float x[4] = {1, 1, 1, 1}, y[4];
    ebm_ising g = {2, 2, 1, 1, 0, x};
    CHECK_FAILS(ebm_ising_anneal(&g, y, 10, 0.1f, 1.0f, &r), EBM_EINVAL);
}

static void test_marginals_3x3(void) {
    float x[9] = {1, -1, 1, 1, 1, -1, -1, 1, 1};
    ebm_ising g = {3, 3, 0.6f, 0.7f, -0.2f, x};
    /* brute force over the 512 states */
    double Z = 0, pm[9] = {0}, emin = INFINITY;
    float y[9];
    for (unsigned s = 0; s < 512; s++) {
        for (int i = 0; i < 9; i++) y[i] = (s >> i & 1) ? 1.0f : -1.0f;
        double E;
        CHECK_OK(ebm_ising_energy(&g, y, &E));
        emin = fmin(emin, E);
    }
    for (unsigned s = 0; s < 512; s++) {
        for (int i = 0; i < 9; i++) y[i] = (s >> i & 1) ? 1.0f : -1.0f;
        double E;
        ebm_ising_energy(&g, y, &E);
        double p = exp(-(E - emin));
        Z += p;
        for (int i = 0; i < 9; i++)
            if (y[i] > 0) pm[i] += p;
    }
    double exact[9];
    CHECK_OK(ebm_ising_marginals_exact(&g, exact));
    for (int i = 0; i < 9; i++) CHECK_NEAR(exact[i], pm[i] / Z, 1e-6); /* b = eta x + h is formed in float */
    float marg[9];
    ebm_rng r;
    ebm_rng_seed(&r, 6, 0);
    memcpy(y, x, sizeof y);
    CHECK_OK(ebm_ising_gibbs(&g, y, 100, 40000, &r, marg));
    double worst = 0;
    for (int i = 0; i < 9; i++) worst = fmax(worst, fabs(marg[i] - pm[i] / Z));
    CHECK_MSG(worst < 0.01, "Gibbs marginals off by %.4f", worst);
    CHECK_FAILS(ebm_ising_gibbs(&g, y, 1, 0, &r, marg), EBM_EINVAL);
}

/* A 16x16 square on a blank background with 10% of the pixels flipped: every method removes most errors. */
static void test_denoise(void) {
    const size_t H = 16, W = 16, n = H * W;
    float clean[256], x[256], y[256], marg[256];
    ebm_rng r;
    ebm_rng_seed(&r, 7, 0);
    size_t before = 0;
    for (size_t i = 0; i < n; i++) {
        size_t row = i / W, col = i % W;
        clean[i] = row >= 4 && row < 12 && col >= 4 && col < 12 ? 1.0f : -1.0f;
        x[i] = ebm_rng_uniform(&r) < 0.1 ? -clean[i] : clean[i];
        before += x[i] != clean[i];
    }
    ebm_ising g = {H, W, 1.0f, 1.0f, 0.0f, x};
    for (int method = 0; method < 3; method++) {
        memcpy(y, x, sizeof y);
        if (method == 0) CHECK_OK(ebm_ising_icm(&g, y, 0, NULL));
        else if (method == 1) CHECK_OK(ebm_ising_anneal(&g, y, 200, 3.0f, 0.05f, &r));
        else {
            CHECK_OK(ebm_ising_gibbs(&g, y, 20, 100, &r, marg));
            for (size_t i = 0; i < n; i++) y[i] = marg[i] > 0.5f ? 1.0f : -1.0f;
        }
        size_t after = 0;
        for (size_t i = 0; i < n; i++) after += y[i] != clean[i];
        CHECK_MSG(after * 3 < before, "method %d: %zu errors from %zu", method, after, before);
    }
}

/* ebm_ising_denoise is the three methods above from the observation (same draws, same result); salt-and-pepper
 * noise changes about p/2 of the pixels, none for p = 0, and is fixed by its stream. */
static void test_denoise_api(void) {
    const size_t n = 144;
    float x[144], y[144], z[144], marg[144], marg2[144];
    ebm_rng r;
    ebm_rng_seed(&r, 9, 0);
    random_spins(x, n, &r, 0.4);
    ebm_ising g = {12, 12, 0.8f, 1.0f, 0.1f, x};
    for (int method = 0; method < 3; method++) {
        ebm_ising_denoise_opts o = {(ebm_ising_method)method, 30, 5, 3.0f, 0.1f};
        ebm_rng r1, r2;
        ebm_rng_seed(&r1, 11, (uint64_t)method);
        ebm_rng_seed(&r2, 11, (uint64_t)method);
        CHECK_OK(ebm_ising_denoise(&g, &o, &r1, y, marg));
        memcpy(z, x, sizeof z);
        if (method == 0) CHECK_OK(ebm_ising_icm(&g, z, 0, NULL));
        else if (method == 1) CHECK_OK(ebm_ising_anneal(&g, z, 30, 3.0f, 0.1f, &r2));
        else CHECK_OK(ebm_ising_gibbs(&g, z, 5, 30, &r2, marg2));
        for (size_t i = 0; method == 2 && i < n; i++) z[i] = marg2[i] > 0.5f ? 1.0f : -1.0f;
        CHECK_MSG(memcmp(y, z, sizeof y) == 0, "%s differs", ebm_ising_method_name(o.method));
    }
    ebm_ising_denoise_opts gibbs = {EBM_ISING_GIBBS, 10, 0, 1.0f, 1.0f};
    CHECK_FAILS(ebm_ising_denoise(&g, &gibbs, &r, y, NULL), EBM_EINVAL);
    float big[4000], noisy[4000], again[4000];
    for (size_t i = 0; i < 4000; i++) big[i] = i % 3 ? 1.0f : -1.0f;
    CHECK(ebm_ising_salt_pepper(big, 4000, 0.0f, 5, 1, noisy) == 0 && memcmp(big, noisy, sizeof big) == 0);
    size_t changed = ebm_ising_salt_pepper(big, 4000, 0.4f, 5, 1, noisy);
    CHECK_MSG(changed > 700 && changed < 900, "%zu of 4000 changed at p = 0.4", changed);
    CHECK(ebm_ising_salt_pepper(big, 4000, 0.4f, 5, 1, again) == changed && memcmp(noisy, again, sizeof noisy) == 0);
}

/* ebm_ising_threshold_pixels: grey or the mean of R, G, B (alpha ignored) against the threshold; and
 * ebm_ising_denoise_image: ebm_ising_denoise from the stream (seed ^ "ising", image * 3 + method), errors counted
 * against the clean image and added to the count. */
static void test_experiment_helpers(void) {
    const uint8_t grey[4] = {0, 127, 128, 255}, rgba[8] = {255, 0, 0, 9, 100, 200, 90, 255};
    float x[4];
    ebm_ising_threshold_pixels(grey, 4, 1, 0.5f, x);
    CHECK(x[0] == -1.0f && x[1] == -1.0f && x[2] == 1.0f && x[3] == 1.0f);
    ebm_ising_threshold_pixels(rgba, 2, 4, 0.4f, x); /* means 85 / 255 = 0.33 and 130 / 255 = 0.51 */
    CHECK(x[0] == -1.0f && x[1] == 1.0f);
    const size_t n = 100;
    float clean[100], noisy[100], y[100], z[100], marg[100];
    for (size_t i = 0; i < n; i++) clean[i] = (i % 10) < 5 ? 1.0f : -1.0f;
    ebm_ising_salt_pepper(clean, n, 0.3f, 4, 0, noisy);
    ebm_ising g = {10, 10, 1.0f, 2.0f, 0.0f, noisy};
    for (int method = 0; method < 3; method++) {
        ebm_ising_denoise_opts o = {(ebm_ising_method)method, 20, 5, 3.0f, 0.1f};
        size_t errors = 7, want = 7;
        CHECK_OK(ebm_ising_denoise_image(&g, &o, 3, 5, clean, y, marg, &errors));
        ebm_rng r;
        ebm_rng_seed(&r, 3 ^ 0x6973696e67ull, 5 * 3 + (uint64_t)method);
        CHECK_OK(ebm_ising_denoise(&g, &o, &r, z, marg));
        for (size_t i = 0; i < n; i++) want += z[i] != clean[i];
        CHECK_MSG(memcmp(y, z, sizeof y) == 0 && errors == want, "%s: %zu errors, expected %zu",
                  ebm_ising_method_name(o.method), errors, want);
        CHECK_MSG(errors - 7 < 15, "%s left %zu errors", ebm_ising_method_name(o.method), errors - 7);
    }
}

int main(void) {
    test_energy_hand();
    test_icm_monotone();
    test_anneal_vs_icm();
    test_marginals_3x3();
    test_denoise();
    test_denoise_api();
    test_experiment_helpers();
    return check_summary("test_ising");
}
