/* Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror & Shaw, "Parallel random numbers:
 * as easy as 1, 2, 3" (SC'11).  Each 128-bit counter is enciphered under a 64-bit key by ten rounds of
 * a multiply-hi/lo Feistel network; we use key = seed and counter = (block index : 64 bits, stream :
 * 64 bits), so word w of stream s is lane w % 4 of philox((w / 4, s), seed).  A stream never needs
 * state from another, which is what lets every row of a batch draw from its own stream in any thread.
 * Validated against Random123's known-answer vectors (tests/test_rng.c). */
#include "internal.h"
#include "vmath.h"

#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void ebm_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0;
        c1 = (uint32_t)p1;
        c2 = n2;
        c3 = (uint32_t)p0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

void ebm_rng_seed(ebm_rng *r, uint64_t seed, uint64_t stream) {
    memset(r, 0, sizeof *r);
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32);
    r->ctr[2] = (uint32_t)stream;
    r->ctr[3] = (uint32_t)(stream >> 32);
    r->used = 4;
}

uint32_t ebm_rng_u32(ebm_rng *r) {
    if (r->used >= 4) {
        ebm_philox4x32(r->ctr, r->key, r->buf);
        if (++r->ctr[0] == 0) ++r->ctr[1];
        r->used = 0;
    }
    return r->buf[r->used++];
}

uint64_t ebm_rng_u64(ebm_rng *r) {
    uint64_t lo = ebm_rng_u32(r);
    uint64_t hi = ebm_rng_u32(r);
    return lo | (hi << 32);
}

double ebm_rng_uniform(ebm_rng *r) { return (double)(ebm_rng_u64(r) >> 11) * 0x1.0p-53; }

double ebm_rng_normal(ebm_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1 = 1.0 - ebm_rng_uniform(r); /* (0, 1]: log is finite */
    double u2 = ebm_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    r->spare = rad * sin(2.0 * M_PI * u2);
    r->has_spare = 1;
    return rad * cos(2.0 * M_PI * u2);
}

uint64_t ebm_rng_below(ebm_rng *r, uint64_t n) {
    if (n <= 1) return 0;
    uint64_t threshold = (0 - n) % n; /* 2^64 mod n: reject the short last cycle */
    for (;;) {
        uint64_t x = ebm_rng_u64(r);
        if (x >= threshold) return x % n;
    }
}

void ebm_rng_permutation(ebm_rng *r, size_t *idx, size_t n) {
    for (size_t i = 0; i < n; i++) idx[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)ebm_rng_below(r, i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

/* Up to sixteen Philox blocks side by side so that the compiler turns each round into vector multiplies;
 * nl (1..LANES) blocks are computed, so short rows do not pay for sixteen. */
#define LANES 16
static void philox_lanes(uint64_t block0, int nl, uint32_t s0, uint32_t s1, uint32_t k0, uint32_t k1,
                         uint32_t out[4 * LANES]) {
    uint32_t c0[LANES], c1[LANES], c2[LANES], c3[LANES];
    for (int l = 0; l < nl; l++) {
        uint64_t b = block0 + (uint64_t)l;
        c0[l] = (uint32_t)b;
        c1[l] = (uint32_t)(b >> 32);
        c2[l] = s0;
        c3[l] = s1;
    }
    for (int r = 0; r < 10; r++) {
#pragma omp simd
        for (int l = 0; l < nl; l++) {
            uint64_t p0 = (uint64_t)PHILOX_M0 * c0[l];
            uint64_t p1 = (uint64_t)PHILOX_M1 * c2[l];
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[l] ^ k0;
            uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3[l] ^ k1;
            c0[l] = n0;
            c1[l] = (uint32_t)p1;
            c2[l] = n2;
            c3[l] = (uint32_t)p0;
        }
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    for (int l = 0; l < nl; l++) {
        out[4 * l + 0] = c0[l];
        out[4 * l + 1] = c1[l];
        out[4 * l + 2] = c2[l];
        out[4 * l + 3] = c3[l];
    }
}

#if defined(__AVX512F__)
/* The high 32 bits of a * m for sixteen 32-bit lanes (m broadcast): vpmuludq multiplies the even lanes,
 * the odd ones after a shift, and a blend puts the two halves' high words back in lane order. */
static inline __m512i mulhi32(__m512i a, __m512i m) {
    __m512i even = _mm512_srli_epi64(_mm512_mul_epu32(a, m), 32);
    __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    return _mm512_mask_blend_epi32(0xAAAA, even, odd);
}
#endif

void ebm_rng_block64(uint64_t seed, uint64_t stream, uint64_t block0, uint32_t out[64]) {
    const uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    const uint32_t s0 = (uint32_t)stream, s1 = (uint32_t)(stream >> 32);
#if defined(__AVX512F__)
    /* Sixteen Philox blocks in the lanes of four registers (one per counter word); a 4 x 4 transpose of
     * 128-bit lanes then writes them in stream order.  Bit-identical to ebm_philox4x32 (test_rng). */
    if ((uint32_t)block0 <= 0xFFFFFFFFu - 15u) {
        const __m512i m0 = _mm512_set1_epi32((int)PHILOX_M0), m1 = _mm512_set1_epi32((int)PHILOX_M1);
        __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)block0),
                                      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
        __m512i c1 = _mm512_set1_epi32((int)(uint32_t)(block0 >> 32));
        __m512i c2 = _mm512_set1_epi32((int)s0), c3 = _mm512_set1_epi32((int)s1);
        uint32_t kk0 = k0, kk1 = k1;
        for (int r = 0; r < 10; r++) {
            __m512i h0 = mulhi32(c0, m0), l0 = _mm512_mullo_epi32(c0, m0);
            __m512i h1 = mulhi32(c2, m1), l1 = _mm512_mullo_epi32(c2, m1);
            c0 = _mm512_xor_si512(_mm512_xor_si512(h1, c1), _mm512_set1_epi32((int)kk0));
            c2 = _mm512_xor_si512(_mm512_xor_si512(h0, c3), _mm512_set1_epi32((int)kk1));
            c1 = l1;
            c3 = l0;
            kk0 += PHILOX_W0;
            kk1 += PHILOX_W1;
        }
        /* 128-bit lane q of u_r holds block 4q + r as (c0, c1, c2, c3) */
        __m512i t0 = _mm512_unpacklo_epi32(c0, c1), t1 = _mm512_unpackhi_epi32(c0, c1);
        __m512i t2 = _mm512_unpacklo_epi32(c2, c3), t3 = _mm512_unpackhi_epi32(c2, c3);
        __m512i u0 = _mm512_unpacklo_epi64(t0, t2), u1 = _mm512_unpackhi_epi64(t0, t2);
        __m512i u2 = _mm512_unpacklo_epi64(t1, t3), u3 = _mm512_unpackhi_epi64(t1, t3);
        __m512i x = _mm512_shuffle_i32x4(u0, u1, _MM_SHUFFLE(2, 0, 2, 0));
        __m512i y = _mm512_shuffle_i32x4(u2, u3, _MM_SHUFFLE(2, 0, 2, 0));
        __m512i xo = _mm512_shuffle_i32x4(u0, u1, _MM_SHUFFLE(3, 1, 3, 1));
        __m512i yo = _mm512_shuffle_i32x4(u2, u3, _MM_SHUFFLE(3, 1, 3, 1));
        _mm512_storeu_si512((void *)out, _mm512_shuffle_i32x4(x, y, _MM_SHUFFLE(2, 0, 2, 0)));
        _mm512_storeu_si512((void *)(out + 16), _mm512_shuffle_i32x4(xo, yo, _MM_SHUFFLE(2, 0, 2, 0)));
        _mm512_storeu_si512((void *)(out + 32), _mm512_shuffle_i32x4(x, y, _MM_SHUFFLE(3, 1, 3, 1)));
        _mm512_storeu_si512((void *)(out + 48), _mm512_shuffle_i32x4(xo, yo, _MM_SHUFFLE(3, 1, 3, 1)));
        return;
    }
#endif
    philox_lanes(block0, LANES, s0, s1, k0, k1, out);
}

void ebm_rng_fill_u32(uint64_t seed, uint64_t stream, uint64_t offset, uint32_t *out, size_t n) {
#if !defined(__AVX512F__)
    const uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    const uint32_t s0 = (uint32_t)stream, s1 = (uint32_t)(stream >> 32);
#endif
    uint32_t tmp[4 * LANES];
    size_t i = 0;
    while (i < n) {
        uint64_t w = offset + i;
        uint64_t block = w >> 2;
        unsigned lane = (unsigned)(w & 3);
        size_t need = (lane + (n - i) + 3) / 4;
        if (lane == 0 && n - i >= 4 * LANES) { /* whole sixteen blocks straight into out */
            ebm_rng_block64(seed, stream, block, out + i);
            i += 4 * LANES;
            continue;
        }
#if defined(__AVX512F__)
        (void)need; /* one vector pass costs no more than a few blocks done lane by lane */
        ebm_rng_block64(seed, stream, block, tmp);
#else
        if (need >= LANES) ebm_rng_block64(seed, stream, block, tmp);
        else philox_lanes(block, (int)need, s0, s1, k0, k1, tmp);
#endif
        size_t take = 4 * LANES - lane;
        if (take > n - i) take = n - i;
        memcpy(out + i, tmp + lane, take * sizeof *out);
        i += take;
    }
}

void ebm_rng_fill_uniform(uint64_t seed, uint64_t stream, uint64_t offset, float *out, size_t n) {
    uint32_t u[256];
    for (size_t i = 0; i < n; i += 256) {
        size_t m = n - i < 256 ? n - i : 256;
        ebm_rng_fill_u32(seed, stream, offset + i, u, m);
#pragma omp simd
        for (size_t j = 0; j < m; j++) out[i + j] = (float)(u[j] >> 8) * 0x1.0p-24f;
    }
}

void ebm_rng_fill_normal(uint64_t seed, uint64_t stream, uint64_t offset, float *out, size_t n) {
    /* Box-Muller on word pairs (2k, 2k+1) of the stream: one pair gives out[2k] and out[2k+1]. */
    uint32_t u[256];
    float z[256];
    for (size_t i = 0; i < n; i += 256) {
        size_t m = n - i < 256 ? n - i : 256;
        size_t pairs = (m + 1) / 2;
        ebm_rng_fill_u32(seed, stream, offset + i, u, 2 * pairs);
        /* Two loops: in one, GCC fuses sinf and cosf of the same angle into a scalar sincosf call, which
         * has no vector version to hand; apart they vectorise through libmvec (vmath.h), 3x faster
         * (128 x 784 normals, the noise of one Langevin step: 0.79 -> 0.27 ms). */
        float rad[128], ang[128];
#pragma omp simd
        for (size_t p = 0; p < pairs; p++) {
            float u1 = ((float)(u[2 * p] >> 8) + 1.0f) * 0x1.0p-24f; /* (0, 1] */
            float u2 = (float)(u[2 * p + 1] >> 8) * 0x1.0p-24f;
            rad[p] = sqrtf(-2.0f * logf(u1));
            ang[p] = 6.2831853071795865f * u2;
            z[2 * p] = rad[p] * cosf(ang[p]);
        }
        /* the angles from a contiguous array: reading every other word of u here left a gap after the last
         * pair, for which GCC ran the last 16 pairs through the scalar sinf (an eighth of the calls, most of
         * the time of this loop) */
#pragma omp simd
        for (size_t p = 0; p < pairs; p++) z[2 * p + 1] = rad[p] * sinf(ang[p]);
        memcpy(out + i, z, m * sizeof *out);
    }
}
