/* Philox4x32-10 against Random123's known-answer vectors; the bulk and scalar paths agree word for word;
 * streams are reproducible and distinct; uniform, normal, below and permutation pass statistical checks
 * with fixed seeds (bounds are 5+ standard errors, so a correct generator fails with negligible chance). */
#include "check.h"
#include "core/internal.h"

static void test_kat(void) {
    static const uint32_t cases[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e,
         0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb,
         0x5001e420, 0x24126ea1},
    };
    for (int c = 0; c < 3; c++) {
        uint32_t out[4];
        ebm_philox4x32(cases[c], cases[c] + 4, out);
        for (int i = 0; i < 4; i++) CHECK_MSG(out[i] == cases[c][6 + i], "case %d word %d: %08x", c, i, out[i]);
    }
}

static void test_bulk_matches_scalar(void) {
    enum { N = 1000 };
    uint32_t bulk[N];
    ebm_rng r;
    ebm_rng_seed(&r, 0x123456789abcdefULL, 77);
    ebm_rng_fill_u32(0x123456789abcdefULL, 77, 0, bulk, N);
    int same = 1;
    for (int i = 0; i < N; i++) same &= ebm_rng_u32(&r) == bulk[i];
    CHECK(same);
    /* an offset into the stream gives the same words as skipping */
    uint32_t part[100];
    ebm_rng_fill_u32(0x123456789abcdefULL, 77, 333, part, 100);
    CHECK(memcmp(part, bulk + 333, sizeof part) == 0);
    /* a different stream or seed gives different words */
    uint32_t other[N];
    ebm_rng_fill_u32(0x123456789abcdefULL, 78, 0, other, N);
    int eq = 0;
    for (int i = 0; i < N; i++) eq += other[i] == bulk[i];
    CHECK(eq < 5);
    ebm_rng_fill_u32(0x123456789abcdeeULL, 77, 0, other, N);
    eq = 0;
    for (int i = 0; i < N; i++) eq += other[i] == bulk[i];
    CHECK(eq < 5);
}

/* The sixteen-block path (AVX-512 where built for it) against the scalar block function, at every lane
 * offset, across the 2^32 carry of the block counter (where the wide path hands over to the plain one)
 * and with a stream and seed that use all 64 bits. */
static void test_wide_blocks(void) {
    const uint64_t seed = 0xfedcba9876543210ULL, stream = 0x0123456789abcdefULL;
    const uint64_t starts[3] = {0, 12345, 0xFFFFFFFFull - 7}; /* the last one carries inside the 16 blocks */
    for (int si = 0; si < 3; si++) {
        uint32_t got[64];
        ebm_rng_block64(seed, stream, starts[si], got);
        int same = 1;
        for (int b = 0; b < 16; b++) {
            uint64_t blk = starts[si] + (uint64_t)b;
            uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
            uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)}, w[4];
            ebm_philox4x32(ctr, key, w);
            for (int l = 0; l < 4; l++) same &= got[4 * b + l] == w[l];
        }
        CHECK_MSG(same, "block64 at block %llu", (unsigned long long)starts[si]);
        /* fill_u32 at every lane offset and lengths across the 64-word fast path */
        for (unsigned lane = 0; lane < 4; lane++) {
            uint32_t ref[260], fill[256];
            for (size_t b = 0; b < 65; b++) {
                uint64_t blk = starts[si] + b;
                uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
                uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
                ebm_philox4x32(ctr, key, ref + 4 * b);
            }
            ebm_rng_fill_u32(seed, stream, 4 * starts[si] + lane, fill, 256);
            CHECK_MSG(memcmp(fill, ref + lane, sizeof fill) == 0, "fill_u32 at block %llu lane %u",
                      (unsigned long long)starts[si], lane);
        }
    }
}

static void test_uniform_chi2(void) {
    /* 100 bins, 1e6 draws: chi2 with 99 dof has mean 99, sd 14; accept below 99 + 6 sd. */
    enum { BINS = 100, N = 1000000 };
    static long counts[BINS];
    static float u[N];
    ebm_rng_fill_uniform(42, 0, 0, u, N);
    float lo = 1, hi = 0;
    for (int i = 0; i < N; i++) {
        counts[(int)(u[i] * BINS)]++;
        if (u[i] < lo) lo = u[i];
        if (u[i] > hi) hi = u[i];
    }
    double chi2 = 0, e = (double)N / BINS;
    for (int b = 0; b < BINS; b++) chi2 += (counts[b] - e) * (counts[b] - e) / e;
    CHECK_MSG(chi2 < 99 + 6 * 14.07, "chi2 %.1f", chi2);
    CHECK(lo >= 0.0f && hi < 1.0f);

    ebm_rng r;
    ebm_rng_seed(&r, 9, 1);
    double s = 0, s2 = 0;
    int in_range = 1;
    for (int i = 0; i < N; i++) {
        double x = ebm_rng_uniform(&r);
        in_range &= x >= 0 && x < 1;
        s += x;
        s2 += x * x;
    }
    CHECK(in_range);
    CHECK_NEAR(s / N, 0.5, 6 * sqrt(1.0 / 12 / N));
    CHECK_NEAR(s2 / N - (s / N) * (s / N), 1.0 / 12, 0.002);
}

static void test_normal(void) {
    enum { N = 1000000 };
    static float z[N];
    ebm_rng_fill_normal(5, 3, 0, z, N);
    double s = 0, s2 = 0, s4 = 0;
    long tail = 0;
    for (int i = 0; i < N; i++) {
        s += z[i];
        s2 += (double)z[i] * z[i];
        s4 += (double)z[i] * z[i] * z[i] * z[i];
        tail += fabsf(z[i]) > 1.959964f;
    }
    CHECK_NEAR(s / N, 0, 6 / sqrt(N));
    CHECK_NEAR(s2 / N, 1, 6 * sqrt(2.0 / N));
    CHECK_NEAR(s4 / N, 3, 6 * sqrt(96.0 / N));
    CHECK_NEAR((double)tail / N, 0.05, 6 * sqrt(0.05 * 0.95 / N));

    ebm_rng r;
    ebm_rng_seed(&r, 11, 0);
    s = s2 = 0;
    for (int i = 0; i < N; i++) {
        double x = ebm_rng_normal(&r);
        s += x;
        s2 += x * x;
    }
    CHECK_NEAR(s / N, 0, 6 / sqrt(N));
    CHECK_NEAR(s2 / N, 1, 6 * sqrt(2.0 / N));
}

static void test_below_and_permutation(void) {
    ebm_rng r;
    ebm_rng_seed(&r, 3, 0);
    long c[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint64_t x = ebm_rng_below(&r, 7);
        REQUIRE(x < 7);
        c[x]++;
    }
    for (int k = 0; k < 7; k++) CHECK_NEAR(c[k], 10000, 6 * sqrt(10000 * 6.0 / 7));
    CHECK(ebm_rng_below(&r, 1) == 0);

    size_t idx[50];
    int seen[50] = {0};
    ebm_rng_permutation(&r, idx, 50);
    for (int i = 0; i < 50; i++) {
        REQUIRE(idx[i] < 50);
        seen[idx[i]]++;
    }
    int ok = 1;
    for (int i = 0; i < 50; i++) ok &= seen[i] == 1;
    CHECK(ok);
    /* position 0 receives each element uniformly */
    long first[5] = {0};
    size_t p[5];
    for (int t = 0; t < 50000; t++) {
        ebm_rng_permutation(&r, p, 5);
        first[p[0]]++;
    }
    for (int k = 0; k < 5; k++) CHECK_NEAR(first[k], 10000, 6 * sqrt(10000 * 0.8));
}

static void test_reproducible(void) {
    ebm_rng a, b;
    ebm_rng_seed(&a, 2024, 5);
    ebm_rng_seed(&b, 2024, 5);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= ebm_rng_normal(&a) == ebm_rng_normal(&b);
    CHECK(same);
}

int main(void) {
    test_kat();
    test_bulk_matches_scalar();
    test_wide_blocks();
    test_uniform_chi2();
    test_normal();
    test_below_and_permutation();
    test_reproducible();
    return check_summary("test_rng");
}
