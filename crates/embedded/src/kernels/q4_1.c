/*
 * Q4_1 weight x Q8_1 activation matrix products for apprentice-embedded.
 *
 * Why C: cargo builds workspace members without optimization in the dev and test profiles,
 * and an unoptimized SIMD loop is ~100x slower, which made the real-model tests take many
 * minutes. build.rs compiles this one file with -O3 in every profile, so tests and release
 * builds run the same machine code and get bit-identical results.
 *
 * The arithmetic mirrors ggml (llama.cpp) on x86: `quantize_row_q8_1` (127/amax scale,
 * round-to-nearest-even, f16-rounded d and s) and `ggml_vec_dot_q4_1_q8_1` (8 lane
 * accumulators, fused multiply-add, the same horizontal sum), so greedy decoding follows
 * llama.cpp's as closely as a different program can.
 */

#include <math.h>
#include <stdint.h>
#include <string.h>

#define QK 32

typedef struct {
    uint16_t d; /* f16 scale */
    uint16_t m; /* f16 minimum */
    uint8_t qs[QK / 2]; /* element j in the low nibble of qs[j], j + 16 in the high one */
} block_q4_1;

/* A Q8_1 block with d and s already rounded through f16 and widened back to f32. */
typedef struct {
    int8_t qs[QK];
    float d;
    float s; /* d * sum(qs) */
} block_q8_1f;

_Static_assert(sizeof(block_q4_1) == 20, "block_q4_1 layout");
_Static_assert(sizeof(block_q8_1f) == 40, "block_q8_1f layout");

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* IEEE f32 -> f16 bits, round to nearest even (as F16C and ggml's fallback do). */
static uint16_t f32_to_f16(float f) {
    const float scale_to_inf = 0x1.0p+112f;
    const float scale_to_zero = 0x1.0p-110f;
    float base = (fabsf(f) * scale_to_inf) * scale_to_zero;
    const uint32_t w = f32_bits(f);
    const uint32_t shl1_w = w + w;
    const uint32_t sign = w & 0x80000000u;
    uint32_t bias = shl1_w & 0xFF000000u;
    if (bias < 0x71000000u) {
        bias = 0x71000000u;
    }
    base = f32_from_bits((bias >> 1) + 0x07800000u) + base;
    const uint32_t bits = f32_bits(base);
    const uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
    const uint32_t mantissa_bits = bits & 0x00000FFFu;
    const uint32_t nonsign = exp_bits + mantissa_bits;
    return (uint16_t)((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

/* IEEE f16 bits -> f32 (exact). */
static float f16_to_f32(uint16_t h) {
    const uint32_t w = (uint32_t)h << 16;
    const uint32_t sign = w & 0x80000000u;
    const uint32_t two_w = w + w;
    const uint32_t exp_offset = 0xE0u << 23;
    const float exp_scale = 0x1.0p-112f;
    const float normalized = f32_from_bits((two_w >> 4) + exp_offset) * exp_scale;
    const uint32_t magic_mask = 126u << 23;
    const float magic_bias = 0.5f;
    const float denormalized = f32_from_bits((two_w >> 17) | magic_mask) - magic_bias;
    const uint32_t denormalized_cutoff = 1u << 27;
    const uint32_t result =
        sign | (two_w < denormalized_cutoff ? f32_bits(denormalized) : f32_bits(normalized));
    return f32_from_bits(result);
}

static inline float round_f16(float f) {
    return f16_to_f32(f32_to_f16(f));
}

/* ggml's x86 quantize_row_q8_1 for `k` values (k a multiple of 32). */
void apprentice_quantize_row_q8_1(const float *x, block_q8_1f *y, int64_t k) {
    for (int64_t b = 0; b < k / QK; b++) {
        const float *xb = x + b * QK;
        float amax = 0.0f;
        for (int j = 0; j < QK; j++) {
            const float a = fabsf(xb[j]);
            amax = a > amax ? a : amax;
        }
        const float d = amax / 127.f;
        const float id = amax != 0.0f ? 127.f / amax : 0.0f;
        int sum = 0;
        for (int j = 0; j < QK; j++) {
            const int q = (int)nearbyintf(xb[j] * id);
            y[b].qs[j] = (int8_t)q;
            sum += q;
        }
        y[b].d = round_f16(d);
        y[b].s = round_f16(d * (float)sum);
    }
}

/* Portable dot product with the AVX2 kernel's lane structure and rounding. */
static float dot_scalar(const block_q4_1 *w, const block_q8_1f *x, int64_t nb) {
    float acc[8] = {0};
    float summs = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        const float dd = f16_to_f32(w[b].d) * x[b].d;
        summs = fmaf(f16_to_f32(w[b].m), x[b].s, summs);
        for (int lane = 0; lane < 8; lane++) {
            int isum = 0;
            for (int t = 0; t < 4; t++) {
                const int j = lane * 4 + t;
                const int q = j < 16 ? (w[b].qs[j] & 0x0F) : (w[b].qs[j - 16] >> 4);
                isum += q * x[b].qs[j];
            }
            acc[lane] = fmaf(dd, (float)isum, acc[lane]);
        }
    }
    const float h0 = (acc[0] + acc[4]) + (acc[2] + acc[6]);
    const float h1 = (acc[1] + acc[5]) + (acc[3] + acc[7]);
    return (h0 + h1) + summs;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define APPRENTICE_HAVE_AVX2 1

__attribute__((target("avx2,fma,f16c"))) static float dot_avx2(const block_q4_1 *w,
                                                               const block_q8_1f *x,
                                                               int64_t nb) {
    __m256 acc = _mm256_setzero_ps();
    float summs = 0.0f;
    const __m256i low = _mm256_set1_epi8(0x0F);
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; b++) {
        const __m128 dm = _mm_cvtph_ps(_mm_cvtsi32_si128((int)w[b].d | ((int)w[b].m << 16)));
        const float dw = _mm_cvtss_f32(dm);
        const float mw = _mm_cvtss_f32(_mm_shuffle_ps(dm, dm, 1));
        summs = fmaf(mw, x[b].s, summs);
        const __m128i q = _mm_loadu_si128((const __m128i *)w[b].qs);
        const __m256i qx = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), low);
        const __m256i qy = _mm256_loadu_si256((const __m256i *)x[b].qs);
        const __m256i prod = _mm256_madd_epi16(_mm256_maddubs_epi16(qx, qy), ones);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dw * x[b].d), _mm256_cvtepi32_ps(prod), acc);
    }
    __m128 h = _mm_add_ps(_mm256_extractf128_ps(acc, 1), _mm256_castps256_ps128(acc));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h) + summs;
}

/* One weight row against four activation rows: the nibbles are unpacked once per block
 * and reused, which is what makes prompt processing (many rows) cheaper per token. Each
 * output gets exactly the operations dot_avx2 would apply, so results are bit-identical. */
__attribute__((target("avx2,fma,f16c"))) static void dot_avx2_x4(const block_q4_1 *w,
                                                                 const block_q8_1f *x,
                                                                 int64_t nb, float *out) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    float summs[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    const __m256i low = _mm256_set1_epi8(0x0F);
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; b++) {
        const __m128 dm = _mm_cvtph_ps(_mm_cvtsi32_si128((int)w[b].d | ((int)w[b].m << 16)));
        const float dw = _mm_cvtss_f32(dm);
        const float mw = _mm_cvtss_f32(_mm_shuffle_ps(dm, dm, 1));
        const __m128i q = _mm_loadu_si128((const __m128i *)w[b].qs);
        const __m256i qx = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), low);
        for (int i = 0; i < 4; i++) {
            const block_q8_1f *xb = x + i * nb + b;
            summs[i] = fmaf(mw, xb->s, summs[i]);
            const __m256i qy = _mm256_loadu_si256((const __m256i *)xb->qs);
            const __m256i prod = _mm256_madd_epi16(_mm256_maddubs_epi16(qx, qy), ones);
            acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(dw * xb->d), _mm256_cvtepi32_ps(prod), acc[i]);
        }
    }
    for (int i = 0; i < 4; i++) {
        __m128 h = _mm_add_ps(_mm256_extractf128_ps(acc[i], 1), _mm256_castps256_ps128(acc[i]));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        out[i] = _mm_cvtss_f32(h) + summs[i];
    }
}
#endif

/* Whether the AVX2 kernel was compiled in (the caller checks the CPU at run time). */
int apprentice_q4_1_has_avx2_kernel(void) {
#ifdef APPRENTICE_HAVE_AVX2
    return 1;
#else
    return 0;
#endif
}

/*
 * dst[i * ldd + r] = W[r] . X[i] for weight rows r in [row_start, row_end) and activation
 * rows i in [0, m). W has `nb` blocks per row; X has `nb` blocks per row.
 */
void apprentice_q4_1_rows(const block_q4_1 *w, int64_t nb, int64_t row_start, int64_t row_end,
                          const block_q8_1f *x, int64_t m, float *dst, int64_t ldd,
                          int use_avx2) {
    for (int64_t r = row_start; r < row_end; r++) {
        const block_q4_1 *wr = w + r * nb;
        int64_t i = 0;
#ifdef APPRENTICE_HAVE_AVX2
        if (use_avx2) {
            float out[4];
            for (; i + 4 <= m; i += 4) {
                dot_avx2_x4(wr, x + i * nb, nb, out);
                for (int j = 0; j < 4; j++) {
                    dst[(i + j) * ldd + r] = out[j];
                }
            }
            for (; i < m; i++) {
                dst[i * ldd + r] = dot_avx2(wr, x + i * nb, nb);
            }
        }
#else
        (void)use_avx2;
#endif
        for (; i < m; i++) {
            dst[i * ldd + r] = dot_scalar(wr, x + i * nb, nb);
        }
    }
}
