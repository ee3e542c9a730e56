/* q8_dot.c — quantized-weight products in llama.cpp's integer arithmetic (see q8_dot.h for the
 * formula and why the bits do not depend on threads, tiling or AVX2).
 *
 * Three steps per product: the activations X are rounded to Q8_K row by row (ggml's
 * quantize_row_q8_K); each tile of weight rows is expanded to q8x_wblock (unsigned codes and
 * int16 scales, exact); then every output is one float chain over its row's blocks, with the
 * integer parts from plain loops (q8_matmul_ref), from a 4 x 2 AVX2 micro-kernel (four weight
 * rows by two activation rows; maddubs, then madd by the group scales), or from an AVX-512 VNNI
 * kernel with sixteen weight rows in the lanes of a vector (vpdpbusd). Q4_0, Q5_0 and Q8_0 take
 * the same three steps with Q8_0 activations and blocks of 32 (their own section, portable and
 * AVX2). The weight block
 * layouts are ggml's (quantizers/blocks.h, which kernels/ cannot include; tests/kernels
 * pins the expansion to quantizers/' dequantizers).
 */
#include "q8_dot.h"

#include "../../common/ig_error.h"
#include "../../common/ig_half.h"
#include "det_gemm.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Weight rows per tile (one thread expands and multiplies a whole tile). */
#define Q8_TILE_ROWS 32
/* Activation rows per pass over a tile's weights (their Q8_K blocks stay in L1). */
#define Q8_X_CHUNK 16
/* Below this many multiply-adds a product stays on one thread (the bits are the same). */
#define Q8_PARALLEL_MIN (1 << 18)

/* Bytes per super-block in the GGUF file (ggml's block_q4_K, block_q5_K, block_q6_K). */
#define Q4_K_BYTES 144   /* d dmin | scales[12] | qs[128] */
#define Q5_K_BYTES 176   /* d dmin | scales[12] | qh[32] | qs[128] */
#define Q6_K_BYTES 210   /* ql[128] | qh[64] | scales[16] (int8) | d */
/* and of the 32-element types (ggml's block_q4_0, block_q5_0, block_q8_0) */
#define Q4_0_BYTES 18    /* d | qs[16]: low nibble x[j], high nibble x[j + 16], x = q − 8 */
#define Q5_0_BYTES 22    /* d | qh[4] | qs[16]: bit j of qh (u32) is x[j]'s fifth bit, x = q − 16 */
#define Q8_0_BYTES 34    /* d | qs[32] (int8) */
#define Q8_QK0 32        /* elements per block of those */

static enum q8_simd q8_simd_mode = Q8_SIMD_AUTO;

void q8_simd_set(enum q8_simd mode)
{
    q8_simd_mode = mode;
}

/* ---- types ------------------------------------------------------------------------------- */

static size_t block_bytes(int32_t type)
{
    switch (type) {
    case Q8_WTYPE_Q4_K: return Q4_K_BYTES;
    case Q8_WTYPE_Q5_K: return Q5_K_BYTES;
    case Q8_WTYPE_Q6_K: return Q6_K_BYTES;
    case Q8_WTYPE_Q4_0: return Q4_0_BYTES;
    case Q8_WTYPE_Q5_0: return Q5_0_BYTES;
    case Q8_WTYPE_Q8_0: return Q8_0_BYTES;
    default: return 0;
    }
}

/* Whether `type` multiplies Q8_0 activations in blocks of 32 (else Q8_K in blocks of 256). */
static bool is_32(int32_t type)
{
    return type == Q8_WTYPE_Q4_0 || type == Q8_WTYPE_Q5_0 || type == Q8_WTYPE_Q8_0;
}

static int64_t block_elems(int32_t type)
{
    return is_32(type) ? Q8_QK0 : Q8_QK;
}

bool q8_matmul_supports(int32_t type)
{
    return block_bytes(type) != 0;
}

size_t q8_row_size_bytes(int32_t type, int64_t k)
{
    if (!q8_matmul_supports(type) || k <= 0 || k % block_elems(type) != 0)
        return 0;
    return block_bytes(type) * (size_t)(k / block_elems(type));
}

/* ---- activations: quantize_row_q8_K -------------------------------------------------------- */

/* ggml's nearest_int: round to nearest, ties to even, through the float's mantissa
 * (valid for |v| <= 2^22; here |v| <= 127·(1 + 2^-23)). */
static int nearest_int(float v)
{
    const float t = v + 12582912.f;
    int32_t i;
    memcpy(&i, &t, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

void q8k_quantize_row_ref(const float *x, q8k_block *y, int64_t k)
{
    for (int64_t b = 0; b < k / Q8_QK; b++, x += Q8_QK) {
        q8k_block *yb = &y[b];
        float amax = 0.f, max = 0.f;
        bool finite = true;
        for (int j = 0; j < Q8_QK; j++) {
            const float ax = fabsf(x[j]);
            finite = finite && isfinite(x[j]);
            if (ax > amax) {   /* the first element of the largest magnitude, with its sign */
                amax = ax;
                max = x[j];
            }
        }
        if (!finite || amax == 0.f) {
            /* ggml leaves bsums unset for a zero block; NaN/Inf: ours, so the outputs are NaN */
            memset(yb, 0, sizeof *yb);
            yb->d = finite ? 0.f : NAN;
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < Q8_QK; j++) {
            const int v = nearest_int(iscale * x[j]);
            yb->qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int g = 0; g < Q8_QK / 16; g++) {
            int sum = 0;
            for (int i = 0; i < 16; i++)
                sum += yb->qs[16 * g + i];
            yb->bsums[g] = (int16_t)sum;
        }
        yb->d = 1.f / iscale;
    }
}

/* q8k_quantize_row_ref with AVX2, the same bytes: the float operations (|x|, iscale·x, the
 * nearest_int addition) are exact IEEE operations lane by lane, the largest magnitude is found
 * as a maximum and then its first position, and the sums are of integers. */
__attribute__((target("avx2"))) static void q8k_quantize_row_avx2(const float *x, q8k_block *y, int64_t k)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i max_finite = _mm256_set1_epi32(0x7f7fffff);   /* |x| bits above it: Inf or NaN */
    for (int64_t b = 0; b < k / Q8_QK; b++, x += Q8_QK) {
        q8k_block *yb = &y[b];
        __m256 vmax = _mm256_setzero_ps();
        __m256i bad = _mm256_setzero_si256();
        for (int j = 0; j < Q8_QK; j += 8) {
            const __m256 ax = _mm256_and_ps(_mm256_loadu_ps(x + j), abs_mask);
            bad = _mm256_or_si256(bad, _mm256_cmpgt_epi32(_mm256_castps_si256(ax), max_finite));
            vmax = _mm256_max_ps(vmax, ax);
        }
        float lanes[8], amax = 0.f;
        _mm256_storeu_ps(lanes, vmax);
        for (int i = 0; i < 8; i++)
            amax = lanes[i] > amax ? lanes[i] : amax;
        if (!_mm256_testz_si256(bad, bad) || amax == 0.f) {
            memset(yb, 0, sizeof *yb);
            yb->d = _mm256_testz_si256(bad, bad) ? 0.f : NAN;
            continue;
        }
        int first = 0;
        while (fabsf(x[first]) != amax)
            first++;
        const float iscale = -127.f / x[first];
        const __m256 vs = _mm256_set1_ps(iscale), magic = _mm256_set1_ps(12582912.f);
        const __m256i mant = _mm256_set1_epi32(0x007fffff), half = _mm256_set1_epi32(0x00400000);
        const __m256i top = _mm256_set1_epi32(127);
        for (int g = 0; g < Q8_QK / 16; g++) {
            __m256i q[2];
            for (int h = 0; h < 2; h++) {
                const __m256 t = _mm256_add_ps(_mm256_mul_ps(vs, _mm256_loadu_ps(x + 16 * g + 8 * h)), magic);
                q[h] = _mm256_min_epi32(
                    _mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(t), mant), half), top);
            }
            /* 16 int32 -> 16 int8 (in range, so the saturating packs only narrow); packs works per
             * 128-bit half, so the permute puts the halves back in order */
            const __m256i w16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q[0], q[1]), 0xd8);
            const __m128i w8 = _mm_packs_epi16(_mm256_castsi256_si128(w16), _mm256_extracti128_si256(w16, 1));
            _mm_storeu_si128((__m128i *)(yb->qs + 16 * g), w8);
            __m256i sum = _mm256_add_epi32(q[0], q[1]);
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
            yb->bsums[g] = (int16_t)_mm_cvtsi128_si32(s4);
        }
        yb->d = 1.f / iscale;
    }
}

void q8k_quantize_row(const float *x, q8k_block *y, int64_t k)
{
    if (det_simd_active())
        q8k_quantize_row_avx2(x, y, k);
    else
        q8k_quantize_row_ref(x, y, k);
}

/* ---- weights: expansion ---------------------------------------------------------------------- */

static uint16_t read_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static bool half_finite(uint16_t h)
{
    return ((h >> 10) & 0x1f) != 0x1f;
}

/* Q4_K/Q5_K's 6-bit scale and min of sub-block j (ggml's get_scale_min_k4). */
static void scale_min_k4(int j, const uint8_t *q, int *sc, int *mn)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* Per group g of 16: S[g], M[g] into e's lane layout. */
static void set_group(q8x_wblock *e, int g, int s, int m)
{
    for (int l = 0; l < 8; l++)
        e->s[g / 2][(g % 2) * 8 + l] = (int16_t)s;
    e->m[g] = (int16_t)m;
}

/* Q4_K (x = d·sc·q − dmin·mn per 32) and Q5_K (the same with a fifth bit from qh). Codes: chunk
 * c of 32 bytes holds elements 64c + l (low nibble) and 64c + 32 + l (high nibble); Q5_K's
 * qh[l] bit 2c is the fifth bit of the first, bit 2c + 1 of the second. */
static void expand_q45_k(const uint8_t *b, bool five, q8x_wblock *e)
{
    const uint8_t *scales = b + 4, *qh = b + 16, *qs = b + (five ? 48 : 16);
    for (int j = 0; j < 8; j++) {
        int sc, mn;
        scale_min_k4(j, scales, &sc, &mn);
        set_group(e, 2 * j, sc, mn);
        set_group(e, 2 * j + 1, sc, mn);
    }
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            int lo = qs[32 * c + l] & 0xF, hi = qs[32 * c + l] >> 4;
            if (five) {
                lo |= ((qh[l] >> (2 * c)) & 1) << 4;
                hi |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
            }
            e->q[64 * c + l] = (uint8_t)lo;
            e->q[64 * c + 32 + l] = (uint8_t)hi;
        }
    e->d_s = ig_fp16_to_fp32(read_u16(b));
    e->d_m = ig_fp16_to_fp32(read_u16(b + 2));
    e->fold = 0;
}

/* Q6_K: x = d·sc[g]·(q − 32), q 6-bit unsigned, sc int8 per 16. Half h (128 elements) reads
 * ql[64h ..], qh[32h ..]: element 128h + 32r + l (r = 0..3, l < 32) has low nibble ql[64h + l
 * + 32·(r & 1)] (>> 4 for r >= 2) and high bits (qh[32h + l] >> 2r) & 3. The −32 becomes
 * M = 32·sc, folded into the integer I. */
static void expand_q6_k(const uint8_t *b, q8x_wblock *e)
{
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    for (int g = 0; g < 16; g++)
        set_group(e, g, sc[g], 32 * sc[g]);
    for (int h = 0; h < 2; h++)
        for (int r = 0; r < 4; r++)
            for (int l = 0; l < 32; l++) {
                const int low = ql[64 * h + l + 32 * (r & 1)] >> (r >= 2 ? 4 : 0) & 0xF;
                const int high = (qh[32 * h + l] >> (2 * r)) & 3;
                e->q[128 * h + 32 * r + l] = (uint8_t)(low | high << 4);
            }
    e->d_s = ig_fp16_to_fp32(read_u16(b + 208));
    e->d_m = 0.f;
    e->fold = 1;
}

int q8x_expand_block(int32_t type, const uint8_t *b, q8x_wblock *e)
{
    switch (type) {
    case Q8_WTYPE_Q4_K:
    case Q8_WTYPE_Q5_K:
        if (!half_finite(read_u16(b)) || !half_finite(read_u16(b + 2)))
            return ig_error_set(IG_EINVAL, "its fp16 scale d or dmin is %s (a weight must be finite)",
                                half_finite(read_u16(b)) ? "dmin Inf/NaN" : "d Inf/NaN");
        expand_q45_k(b, type == Q8_WTYPE_Q5_K, e);
        return 0;
    case Q8_WTYPE_Q6_K:
        if (!half_finite(read_u16(b + 208)))
            return ig_error_set(IG_EINVAL, "its fp16 scale d is Inf/NaN (a weight must be finite)");
        expand_q6_k(b, e);
        return 0;
    default:
        return ig_error_set(IG_EINVAL, "q8: ggml type %d has no integer kernel", (int)type);
    }
}

/* Expand n_rows rows from row0 of W into e ([n_rows][nb]); the first bad block is named. */
static int expand_rows(int32_t type, const uint8_t *W, size_t row_bytes, int64_t nb, int64_t row0, int64_t n_rows,
                       q8x_wblock *e)
{
    const size_t bb = block_bytes(type);
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t b = 0; b < nb; b++)
            if (q8x_expand_block(type, W + (size_t)(row0 + r) * row_bytes + (size_t)b * bb, &e[r * nb + b]))
                return ig_error_wrap(IG_EINVAL, "row %lld, block %lld", (long long)(row0 + r), (long long)b);
    return 0;
}

/* ---- the reference ------------------------------------------------------------------------------ */

/* I and J of one block pair (q8_dot.h). */
static void block_ints_ref(const q8x_wblock *w, const q8k_block *x, int32_t *I, int32_t *J)
{
    int32_t isum = 0, jsum = 0;
    for (int g = 0; g < 16; g++) {
        int32_t dot = 0;
        for (int i = 16 * g; i < 16 * g + 16; i++)
            dot += (int32_t)w->q[i] * x->qs[i];
        isum += w->s[g / 2][(g % 2) * 8] * dot;
        jsum += w->m[g] * x->bsums[g];
    }
    *I = w->fold ? isum - jsum : isum;
    *J = w->fold ? 0 : jsum;
}

/* The float chain of one output over nb blocks. */
static float chain_ref(const q8x_wblock *w, const q8k_block *x, int64_t nb)
{
    float acc = 0.f;
    for (int64_t b = 0; b < nb; b++) {
        int32_t I, J;
        block_ints_ref(&w[b], &x[b], &I, &J);
        acc = acc + (w[b].d_s * x[b].d) * (float)I;
        acc = acc - (w[b].d_m * x[b].d) * (float)J;
    }
    return acc;
}

static int check_args(const char *fn, int64_t k, int32_t type)
{
    if (!q8_matmul_supports(type))
        return ig_error_set(IG_EINVAL, "%s: ggml type %d has no integer kernel", fn, (int)type);
    if (k <= 0 || k % block_elems(type) != 0)
        return ig_error_set(IG_EINVAL, "%s: rows of %lld are not whole blocks of %lld", fn, (long long)k,
                            (long long)block_elems(type));
    return 0;
}

/* The 32-element types' reference (below, beside their kernel). */
static int matmul32_ref(const float *X, int64_t n, int64_t k, int32_t type, const void *W, int64_t m,
                        const float *bias, float *Y);

int q8_matmul_ref(const float *X, int64_t n, int64_t k, int32_t type, const void *W, int64_t m, const float *bias,
                  float *Y)
{
    int rc = check_args("q8_matmul_ref", k, type);
    if (rc)
        return rc;
    if (is_32(type))
        return matmul32_ref(X, n, k, type, W, m, bias, Y);
    const int64_t nb = k / Q8_QK;
    q8k_block *xq = ig_malloc((size_t)(n > 0 ? n : 1) * (size_t)nb * sizeof *xq);
    q8x_wblock *wx = ig_malloc((size_t)nb * sizeof *wx);
    if (!xq || !wx) {
        free(xq);
        free(wx);
        return ig_error_set(IG_ENOMEM, "q8_matmul_ref: no room for %lld rows of %lld", (long long)n, (long long)k);
    }
    for (int64_t t = 0; t < n; t++)
        q8k_quantize_row_ref(X + t * k, xq + t * nb, k);
    for (int64_t j = 0; j < m && !rc; j++) {
        rc = expand_rows(type, W, q8_row_size_bytes(type, k), nb, j, 1, wx);
        for (int64_t t = 0; t < n && !rc; t++)
            Y[t * m + j] = chain_ref(wx, xq + t * nb, nb) + (bias ? bias[j] : 0.f);
    }
    free(xq);
    free(wx);
    return rc;
}

/* ---- AVX2 ---------------------------------------------------------------------------------------- */

/* r[l] = the sum of v[l]'s eight lanes (integer adds: any order is exact). Unpacks rather than
 * hadd, which costs several micro-ops on some CPUs. */
__attribute__((target("avx2"), always_inline)) static inline __m256i hsum8_avx2(const __m256i v[8])
{
    __m256i t[4], u[2];
    for (int i = 0; i < 4; i++)   /* lanes: v2i(0+2), v2i+1(0+2), v2i(1+3), v2i+1(1+3) per half */
        t[i] = _mm256_add_epi32(_mm256_unpacklo_epi32(v[2 * i], v[2 * i + 1]),
                                _mm256_unpackhi_epi32(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 2; i++)   /* lanes: v4i .. v4i+3, each its half's four lanes */
        u[i] = _mm256_add_epi32(_mm256_unpacklo_epi64(t[2 * i], t[2 * i + 1]),
                                _mm256_unpackhi_epi64(t[2 * i], t[2 * i + 1]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(u[0], u[1], 0x20), _mm256_permute2x128_si256(u[0], u[1], 0x31));
}

/* Y rows t[0], t[1], columns j .. j + 3 = chain_ref of weight rows w[0..3] (expanded, nb blocks
 * each) by activation rows x[0], x[1], plus bias: lane 4c + r of each vector carries output
 * (x[c], w[r]), and its float operations are chain_ref's, in its order. ds, dm: [nb][ld] the
 * rows' dS and dM, rows r .. r + 3 contiguous. Edge outputs (n_w < 4 or n_x < 2) are computed
 * on repeated rows and not stored. */
__attribute__((target("avx2"))) static void micro_4x2_avx2(const q8x_wblock *const w[4], const float *ds,
                                                          const float *dm, int64_t ld, const q8k_block *const x[2],
                                                          int64_t nb, const float *bias, float *Y0, float *Y1,
                                                          int n_w, int n_x)
{
    __m256 acc = _mm256_setzero_ps();
    const bool fold = w[0][0].fold != 0;
    for (int64_t b = 0; b < nb; b++) {
        __m256i a[8], jm[8];
        for (int i = 0; i < 8; i++)
            a[i] = _mm256_setzero_si256();
        for (int j = 0; j < 8; j++) {
            const __m256i x0 = _mm256_loadu_si256((const __m256i *)(x[0][b].qs + 32 * j));
            const __m256i x1 = _mm256_loadu_si256((const __m256i *)(x[1][b].qs + 32 * j));
            for (int r = 0; r < 4; r++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(w[r][b].q + 32 * j));
                const __m256i sc = _mm256_loadu_si256((const __m256i *)w[r][b].s[j]);
                a[r] = _mm256_add_epi32(a[r], _mm256_madd_epi16(_mm256_maddubs_epi16(q, x0), sc));
                a[4 + r] = _mm256_add_epi32(a[4 + r], _mm256_madd_epi16(_mm256_maddubs_epi16(q, x1), sc));
            }
        }
        const __m256i bs0 = _mm256_loadu_si256((const __m256i *)x[0][b].bsums);
        const __m256i bs1 = _mm256_loadu_si256((const __m256i *)x[1][b].bsums);
        for (int r = 0; r < 4; r++) {
            const __m256i mv = _mm256_loadu_si256((const __m256i *)w[r][b].m);
            jm[r] = _mm256_madd_epi16(mv, bs0);
            jm[4 + r] = _mm256_madd_epi16(mv, bs1);
        }
        __m256i I = hsum8_avx2(a), J = hsum8_avx2(jm);
        if (fold) {
            I = _mm256_sub_epi32(I, J);
            J = _mm256_setzero_si256();
        }
        const __m256 dx = _mm256_set_m128(_mm_set1_ps(x[1][b].d), _mm_set1_ps(x[0][b].d));
        const __m256 dsv = _mm256_broadcast_ps((const __m128 *)(ds + b * ld));
        const __m256 dmv = _mm256_broadcast_ps((const __m128 *)(dm + b * ld));
        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_mul_ps(dsv, dx), _mm256_cvtepi32_ps(I)));
        acc = _mm256_sub_ps(acc, _mm256_mul_ps(_mm256_mul_ps(dmv, dx), _mm256_cvtepi32_ps(J)));
    }
    if (n_w == 4) {
        const __m128 bv = bias ? _mm_loadu_ps(bias) : _mm_setzero_ps();
        _mm_storeu_ps(Y0, _mm_add_ps(_mm256_castps256_ps128(acc), bv));
        if (n_x == 2)
            _mm_storeu_ps(Y1, _mm_add_ps(_mm256_extractf128_ps(acc, 1), bv));
        return;
    }
    float out[8];
    _mm256_storeu_ps(out, acc);
    for (int r = 0; r < n_w; r++) {
        Y0[r] = out[r] + (bias ? bias[r] : 0.f);
        if (n_x == 2)
            Y1[r] = out[4 + r] + (bias ? bias[r] : 0.f);
    }
}

/* One tile's outputs: weight rows [j0, j0 + nt) (expanded in wx, their dS/dM in ds/dm
 * [nb][Q8_TILE_ROWS]) by every activation row, Q8_X_CHUNK activation rows at a time. */
static void tile_avx2(const q8x_wblock *wx, const float *ds, const float *dm, int64_t nt, int64_t j0,
                      const q8k_block *xq, int64_t n, int64_t nb, int64_t m, const float *bias, float *Y)
{
    for (int64_t t0 = 0; t0 < n; t0 += Q8_X_CHUNK) {
        const int64_t tn = n - t0 < Q8_X_CHUNK ? n - t0 : Q8_X_CHUNK;
        for (int64_t r = 0; r < nt; r += 4) {
            const int n_w = nt - r < 4 ? (int)(nt - r) : 4;
            const q8x_wblock *w[4];
            for (int i = 0; i < 4; i++)
                w[i] = wx + (r + (i < n_w ? i : n_w - 1)) * nb;
            for (int64_t c = 0; c < tn; c += 2) {
                const int n_x = tn - c < 2 ? 1 : 2;
                const int64_t t = t0 + c;
                const q8k_block *x[2] = {xq + t * nb, xq + (t + n_x - 1) * nb};
                micro_4x2_avx2(w, ds + r, dm + r, Q8_TILE_ROWS, x, nb, bias ? bias + j0 + r : NULL,
                               Y + t * m + j0 + r, Y + (t + n_x - 1) * m + j0 + r, n_w, n_x);
            }
        }
    }
}

/* ---- AVX-512 VNNI, weight rows in lanes ------------------------------------------------------------ */

static bool avx512_vnni_available(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

/* Sixteen weight rows' block b laid out so that one 64-byte vector holds the same four codes of
 * all sixteen rows: vpdpbusd against four activation codes broadcast then gives each lane (row)
 * its own partial dot product, with no horizontal sums; the scales multiply whole groups. */
typedef struct {
    uint8_t q[64][64];        /* [group of 4 elements][row][4 codes] */
    int32_t s[16][16];        /* [16-element group][row] S */
    int16_t mp[8][16][2];     /* [group pair p][row] M of groups 2p and 2p + 1 */
    float ds[16], dm[16];     /* [row] dS, dM */
} q8l_block;
_Static_assert(sizeof(q8l_block) % 64 == 0, "q8l_block keeps 64-byte alignment");

#define Q8_LANES 16

/* Rows r0 .. r0 + 15 of the expanded tile e ([rows][nb]) into l ([nb]); rows past nt repeat the
 * last one (their outputs are not stored). */
static void lanes_layout(const q8x_wblock *e, int64_t nb, int64_t r0, int64_t nt, q8l_block *l)
{
    for (int64_t b = 0; b < nb; b++)
        for (int r = 0; r < Q8_LANES; r++) {
            const q8x_wblock *w = &e[(r0 + r < nt ? r0 + r : nt - 1) * nb + b];
            for (int i = 0; i < 64; i++)
                memcpy(&l[b].q[i][4 * r], &w->q[4 * i], 4);
            for (int g = 0; g < 16; g++)
                l[b].s[g][r] = w->s[g / 2][(g % 2) * 8];
            for (int p = 0; p < 8; p++) {
                l[b].mp[p][r][0] = w->m[2 * p];
                l[b].mp[p][r][1] = w->m[2 * p + 1];
            }
            l[b].ds[r] = w->d_s;
            l[b].dm[r] = w->d_m;
        }
}

static int32_t load_i32(const void *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

#define LANES_X 4   /* activation rows per call: 4 rows x 2 accumulators keep 8 vpdpbusd chains going */

/* Y[c][0 .. 15] (lanes under mask) for activation rows x[c], c < n_x (x[c] for c >= n_x repeat
 * x[0]): lane r is chain_ref(row r, x[c]), the integers exact, the float operations chain_ref's.
 * step: groups of 4 codes per scale (8 when groups 2j and 2j + 1 share S, Q4_K/Q5_K; else 4). */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"), always_inline)) static inline void
lanes_rows_avx512(const q8l_block *w, const q8k_block *const x[LANES_X], int n_x, int64_t nb, bool fold,
                  const int step, const float *bias, float *const y[LANES_X], __mmask16 mask)
{
    __m512 acc[LANES_X];
    for (int c = 0; c < LANES_X; c++)
        acc[c] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const q8l_block *wb = &w[b];
        __m512i I[LANES_X], J[LANES_X];
        for (int c = 0; c < LANES_X; c++)
            I[c] = J[c] = _mm512_setzero_si512();
        for (int i0 = 0; i0 < 64; i0 += step) {
            __m512i a[LANES_X][2];
            for (int c = 0; c < LANES_X; c++)
                a[c][0] = a[c][1] = _mm512_setzero_si512();
            for (int i = i0; i < i0 + step; i += 2) {
                const __m512i w0 = _mm512_load_si512((const void *)wb->q[i]);
                const __m512i w1 = _mm512_load_si512((const void *)wb->q[i + 1]);
                for (int c = 0; c < LANES_X; c++) {
                    const int8_t *qx = x[c][b].qs + 4 * i;
                    a[c][0] = _mm512_dpbusd_epi32(a[c][0], w0, _mm512_set1_epi32(load_i32(qx)));
                    a[c][1] = _mm512_dpbusd_epi32(a[c][1], w1, _mm512_set1_epi32(load_i32(qx + 4)));
                }
            }
            const __m512i sc = _mm512_load_si512((const void *)wb->s[i0 / 4]);
            for (int c = 0; c < LANES_X; c++)
                I[c] = _mm512_add_epi32(I[c], _mm512_mullo_epi32(_mm512_add_epi32(a[c][0], a[c][1]), sc));
        }
        for (int p = 0; p < 8; p++) {
            const __m512i mp = _mm512_load_si512((const void *)wb->mp[p]);
            for (int c = 0; c < LANES_X; c++)
                J[c] = _mm512_dpwssd_epi32(J[c], mp, _mm512_set1_epi32(load_i32(&x[c][b].bsums[2 * p])));
        }
        const __m512 ds = _mm512_load_ps(wb->ds), dm = _mm512_load_ps(wb->dm);
        for (int c = 0; c < LANES_X; c++) {
            if (fold) {
                I[c] = _mm512_sub_epi32(I[c], J[c]);
                J[c] = _mm512_setzero_si512();
            }
            const __m512 dx = _mm512_set1_ps(x[c][b].d);
            acc[c] = _mm512_add_ps(acc[c], _mm512_mul_ps(_mm512_mul_ps(ds, dx), _mm512_cvtepi32_ps(I[c])));
            acc[c] = _mm512_sub_ps(acc[c], _mm512_mul_ps(_mm512_mul_ps(dm, dx), _mm512_cvtepi32_ps(J[c])));
        }
    }
    const __m512 bv = bias ? _mm512_maskz_loadu_ps(mask, bias) : _mm512_setzero_ps();
    for (int c = 0; c < n_x; c++)
        _mm512_mask_storeu_ps(y[c], mask, _mm512_add_ps(acc[c], bv));
}

/* The two instances (a constant step lets the compiler unroll the group loops). */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) static void
lanes_rows_s32(const q8l_block *w, const q8k_block *const x[LANES_X], int n_x, int64_t nb, bool fold,
               const float *bias, float *const y[LANES_X], __mmask16 mask)
{
    lanes_rows_avx512(w, x, n_x, nb, fold, 8, bias, y, mask);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) static void
lanes_rows_s16(const q8l_block *w, const q8k_block *const x[LANES_X], int n_x, int64_t nb, bool fold,
               const float *bias, float *const y[LANES_X], __mmask16 mask)
{
    lanes_rows_avx512(w, x, n_x, nb, fold, 4, bias, y, mask);
}

/* One tile's outputs with the rows-in-lanes kernel: l holds room for two 16-row layouts of nb
 * blocks (64-byte aligned). */
static void tile_lanes(const q8x_wblock *e, q8l_block *l, bool s32, int64_t nt, int64_t j0, const q8k_block *xq,
                       int64_t n, int64_t nb, int64_t m, const float *bias, float *Y)
{
    const int64_t n_sub = (nt + Q8_LANES - 1) / Q8_LANES;
    for (int64_t u = 0; u < n_sub; u++)
        lanes_layout(e, nb, u * Q8_LANES, nt, l + u * nb);
    const bool fold = e[0].fold != 0;
    for (int64_t t0 = 0; t0 < n; t0 += 4 * Q8_X_CHUNK)
        for (int64_t u = 0; u < n_sub; u++) {
            const int64_t r0 = u * Q8_LANES, nr = nt - r0 < Q8_LANES ? nt - r0 : Q8_LANES;
            const __mmask16 mask = (__mmask16)((1u << nr) - 1u);
            const int64_t t1 = n - t0 < 4 * Q8_X_CHUNK ? n : t0 + 4 * Q8_X_CHUNK;
            for (int64_t t = t0; t < t1; t += LANES_X) {
                const int n_x = t1 - t < LANES_X ? (int)(t1 - t) : LANES_X;
                const q8k_block *x[LANES_X];
                float *y[LANES_X];
                for (int c = 0; c < LANES_X; c++) {
                    x[c] = xq + (t + (c < n_x ? c : 0)) * nb;
                    y[c] = Y + (t + (c < n_x ? c : 0)) * m + j0 + r0;
                }
                (s32 ? lanes_rows_s32 : lanes_rows_s16)(l + u * nb, x, n_x, nb, fold, bias ? bias + j0 + r0 : NULL, y,
                                                        mask);
            }
        }
}

/* The portable kernel on the same tiles (for machines without AVX2, and det_simd_set(OFF)). */
static void tile_portable(const q8x_wblock *wx, int64_t nt, int64_t j0, const q8k_block *xq, int64_t n, int64_t nb,
                          int64_t m, const float *bias, float *Y)
{
    for (int64_t t = 0; t < n; t++)
        for (int64_t r = 0; r < nt; r++)
            Y[t * m + j0 + r] = chain_ref(wx + r * nb, xq + t * nb, nb) + (bias ? bias[j0 + r] : 0.f);
}

/* ---- the 32-element types: Q8_0 activations ---------------------------------------------------------- */

void q80_quantize_row_ref(const float *x, q80_block *y, int64_t k)
{
    for (int64_t b = 0; b < k / Q8_QK0; b++, x += Q8_QK0) {
        float amax = 0.f;
        bool finite = true;
        for (int j = 0; j < Q8_QK0; j++) {
            finite = finite && isfinite(x[j]);
            amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
        }
        memset(&y[b], 0, sizeof y[b]);
        if (!finite) {
            y[b].d = 0x7e00;   /* fp16 NaN: the outputs it touches are NaN */
            continue;
        }
        /* ggml's CPU backend (not quantize_row_q8_0_ref): 127/amax, ties to even */
        y[b].d = ig_fp32_to_fp16(amax / 127.f);
        const float id = amax != 0.f ? 127.f / amax : 0.f;
        for (int j = 0; j < Q8_QK0; j++)
            y[b].qs[j] = (int8_t)nearest_int(x[j] * id);
    }
}

/* One weight block of 32: signed codes and the fp16 scale as float. */
typedef struct {
    int8_t w[Q8_QK0];
    float d;
} q80w_block;

/* Expand block b of a 32-element type. Returns 0 or IG_EINVAL (a non-finite scale). */
static int expand32(int32_t type, const uint8_t *b, q80w_block *e)
{
    const uint16_t d = read_u16(b);
    if (!half_finite(d))
        return ig_error_set(IG_EINVAL, "its fp16 scale d is Inf/NaN (a weight must be finite)");
    e->d = ig_fp16_to_fp32(d);
    if (type == Q8_WTYPE_Q8_0) {
        memcpy(e->w, b + 2, Q8_QK0);
        return 0;
    }
    const bool five = type == Q8_WTYPE_Q5_0;
    const uint8_t *qs = b + (five ? 6 : 2);
    const uint32_t qh = five ? (uint32_t)b[2] | (uint32_t)b[3] << 8 | (uint32_t)b[4] << 16 | (uint32_t)b[5] << 24 : 0;
    for (int j = 0; j < Q8_QK0 / 2; j++) {
        const int lo = (qs[j] & 0xF) | (int)((qh >> j) & 1) << 4, hi = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        e->w[j] = (int8_t)(lo - (five ? 16 : 8));
        e->w[j + 16] = (int8_t)(hi - (five ? 16 : 8));
    }
    return 0;
}

static int expand32_rows(int32_t type, const uint8_t *W, size_t row_bytes, int64_t nb, int64_t row0, int64_t n_rows,
                         q80w_block *e)
{
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t b = 0; b < nb; b++)
            if (expand32(type, W + (size_t)(row0 + r) * row_bytes + (size_t)b * block_bytes(type), &e[r * nb + b]))
                return ig_error_wrap(IG_EINVAL, "row %lld, block %lld", (long long)(row0 + r), (long long)b);
    return 0;
}

/* The float chain of one output over nb blocks of 32: ggml's scalar order. */
static float chain32_ref(const q80w_block *w, const q80_block *x, int64_t nb)
{
    float acc = 0.f;
    for (int64_t b = 0; b < nb; b++) {
        int32_t I = 0;
        for (int j = 0; j < Q8_QK0; j++)
            I += (int32_t)w[b].w[j] * x[b].qs[j];
        acc = acc + (w[b].d * ig_fp16_to_fp32(x[b].d)) * (float)I;
    }
    return acc;
}

/* 4 weight rows by 2 activation rows over nb blocks (AVX2): lane 4c + r carries (x[c], w[r]);
 * w·x from maddubs(|w|, sign(x, w)) (|−128| reads as 128 unsigned; pairs stay below 2^15). */
__attribute__((target("avx2"))) static void micro32_4x2_avx2(const q80w_block *const w[4], const q80_block *const x[2],
                                                            int64_t nb, float out[8])
{
    __m256 acc = _mm256_setzero_ps();
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; b++) {
        __m256i a[8];
        const __m256i x0 = _mm256_loadu_si256((const __m256i *)x[0][b].qs);
        const __m256i x1 = _mm256_loadu_si256((const __m256i *)x[1][b].qs);
        float dwv[4];
        for (int r = 0; r < 4; r++) {
            const __m256i wv = _mm256_loadu_si256((const __m256i *)w[r][b].w), aw = _mm256_abs_epi8(wv);
            a[r] = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(x0, wv)), ones);
            a[4 + r] = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(x1, wv)), ones);
            dwv[r] = w[r][b].d;
        }
        const __m256i I = hsum8_avx2(a);
        const __m128 dw4 = _mm_loadu_ps(dwv);
        const __m256 dw = _mm256_set_m128(dw4, dw4);
        const __m256 dx =
            _mm256_set_m128(_mm_set1_ps(ig_fp16_to_fp32(x[1][b].d)), _mm_set1_ps(ig_fp16_to_fp32(x[0][b].d)));
        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_mul_ps(dw, dx), _mm256_cvtepi32_ps(I)));
    }
    _mm256_storeu_ps(out, acc);
}

/* One tile of a 32-element type: weight rows [j0, j0 + nt) expanded in e ([nt][nb]). */
static void tile32(const q80w_block *e, int64_t nt, int64_t j0, const q80_block *xq, int64_t n, int64_t nb, int64_t m,
                   const float *bias, float *Y, bool simd)
{
    for (int64_t t0 = 0; t0 < n; t0 += Q8_X_CHUNK) {
        const int64_t tn = n - t0 < Q8_X_CHUNK ? n - t0 : Q8_X_CHUNK;
        for (int64_t r = 0; r < nt; r += 4) {
            const int n_w = nt - r < 4 ? (int)(nt - r) : 4;
            const q80w_block *w[4];
            for (int i = 0; i < 4; i++)
                w[i] = e + (r + (i < n_w ? i : n_w - 1)) * nb;
            for (int64_t c = 0; c < tn; c += 2) {
                const int n_x = tn - c < 2 ? 1 : 2;
                const int64_t t = t0 + c;
                const q80_block *x[2] = {xq + t * nb, xq + (t + n_x - 1) * nb};
                float out[8];
                if (simd)
                    micro32_4x2_avx2(w, x, nb, out);
                else
                    for (int i = 0; i < 8; i++)
                        out[i] = chain32_ref(w[i % 4], x[i / 4], nb);
                for (int cc = 0; cc < n_x; cc++)
                    for (int rr = 0; rr < n_w; rr++) {
                        const int64_t j = j0 + r + rr;
                        Y[(t + cc) * m + j] = out[4 * cc + rr] + (bias ? bias[j] : 0.f);
                    }
            }
        }
    }
}

/* q8_matmul for the 32-element types: activations to Q8_0, tiles of weight rows in parallel. */
static int matmul32(const float *X, int64_t n, int64_t k, int32_t type, const void *W, int64_t m, const float *bias,
                    float *Y, bool simd, bool par)
{
    const int64_t nb = k / Q8_QK0, n_tiles = (m + Q8_TILE_ROWS - 1) / Q8_TILE_ROWS;
    const size_t row_bytes = q8_row_size_bytes(type, k);
    int n_threads = par ? omp_get_max_threads() : 1;
    if (n_threads > n_tiles)
        n_threads = n_tiles > 0 ? (int)n_tiles : 1;
    q80_block *xq = ig_malloc((size_t)(n > 0 ? n : 1) * (size_t)nb * sizeof *xq);
    q80w_block *wx = ig_malloc((size_t)n_threads * Q8_TILE_ROWS * (size_t)nb * sizeof *wx);
    if (!xq || !wx) {
        free(xq);
        free(wx);
        return ig_error_set(IG_ENOMEM, "q8_matmul: no room for %lld activation rows of %lld", (long long)n,
                            (long long)k);
    }
#pragma omp parallel for schedule(static) if (par)
    for (int64_t t = 0; t < n; t++)
        q80_quantize_row_ref(X + t * k, xq + t * nb, k);
    struct ig_par_error pe;
    ig_par_error_init(&pe);
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 1) if (par)
    for (int64_t ti = 0; ti < n_tiles; ti++) {
        if (ig_par_error_skip(&pe, ti))
            continue;
        q80w_block *e = wx + (size_t)omp_get_thread_num() * Q8_TILE_ROWS * (size_t)nb;
        const int64_t j0 = ti * Q8_TILE_ROWS, nt = m - j0 < Q8_TILE_ROWS ? m - j0 : Q8_TILE_ROWS;
        int e_rc = expand32_rows(type, W, row_bytes, nb, j0, nt, e);
        if (e_rc)
            ig_par_error_record(&pe, ti, e_rc);
        else
            tile32(e, nt, j0, xq, n, nb, m, bias, Y, simd);
    }
    free(xq);
    free(wx);
    return ig_par_error_raise(&pe);
}

/* q8_matmul_ref for the 32-element types. */
static int matmul32_ref(const float *X, int64_t n, int64_t k, int32_t type, const void *W, int64_t m,
                        const float *bias, float *Y)
{
    const int64_t nb = k / Q8_QK0;
    q80_block *xq = ig_malloc((size_t)(n > 0 ? n : 1) * (size_t)nb * sizeof *xq);
    q80w_block *wx = ig_malloc((size_t)nb * sizeof *wx);
    int rc = 0;
    if (!xq || !wx)
        rc = ig_error_set(IG_ENOMEM, "q8_matmul_ref: no room for %lld rows of %lld", (long long)n, (long long)k);
    for (int64_t t = 0; t < n && !rc; t++)
        q80_quantize_row_ref(X + t * k, xq + t * nb, k);
    for (int64_t j = 0; j < m && !rc; j++) {
        rc = expand32_rows(type, W, q8_row_size_bytes(type, k), nb, j, 1, wx);
        for (int64_t t = 0; t < n && !rc; t++)
            Y[t * m + j] = chain32_ref(wx, xq + t * nb, nb) + (bias ? bias[j] : 0.f);
    }
    free(xq);
    free(wx);
    return rc;
}

/* ---- the product ------------------------------------------------------------------------------------ */

int q8_matmul(const float *X, int64_t n, int64_t k, int32_t type, const void *W, int64_t m, const float *bias,
              float *Y)
{
    int rc = check_args("q8_matmul", k, type);
    if (rc)
        return rc;
    if (is_32(type))
        return matmul32(X, n, k, type, W, m, bias, Y, det_simd_active(), n * m * k >= Q8_PARALLEL_MIN);
    const int64_t nb = k / Q8_QK, n_tiles = (m + Q8_TILE_ROWS - 1) / Q8_TILE_ROWS;
    const size_t row_bytes = q8_row_size_bytes(type, k);
    const bool par = n * m * k >= Q8_PARALLEL_MIN, simd = det_simd_active();
    const bool wide = simd && q8_simd_mode != Q8_SIMD_AVX2 && avx512_vnni_available();
    const bool s32 = type == Q8_WTYPE_Q4_K || type == Q8_WTYPE_Q5_K;   /* one S per 32 elements */
    int n_threads = par ? omp_get_max_threads() : 1;
    if (n_threads > n_tiles)
        n_threads = n_tiles > 0 ? (int)n_tiles : 1;
    q8k_block *xq = ig_malloc((size_t)(n > 0 ? n : 1) * (size_t)nb * sizeof *xq);
    /* [n_threads][Q8_TILE_ROWS][nb], allocated before the team starts */
    q8x_wblock *wx = ig_malloc((size_t)n_threads * Q8_TILE_ROWS * (size_t)nb * sizeof *wx);
    float *dsm = ig_calloc((size_t)n_threads * 2 * Q8_TILE_ROWS * (size_t)nb, sizeof *dsm);   /* dS, dM */
    /* [n_threads][Q8_TILE_ROWS / Q8_LANES][nb] rows-in-lanes layouts, 64-byte aligned (+ 64 to align) */
    const size_t lanes_per_thread = (size_t)(Q8_TILE_ROWS / Q8_LANES) * (size_t)nb;
    char *lanes_mem = wide ? ig_malloc((size_t)n_threads * lanes_per_thread * sizeof(q8l_block) + 64) : NULL;
    q8l_block *lanes = lanes_mem ? (q8l_block *)(lanes_mem + (64 - (uintptr_t)lanes_mem % 64) % 64) : NULL;
    if (!xq || !wx || !dsm || (wide && !lanes_mem)) {
        free(xq);
        free(wx);
        free(dsm);
        free(lanes_mem);
        return ig_error_set(IG_ENOMEM, "q8_matmul: no room for %lld activation rows of %lld", (long long)n,
                            (long long)k);
    }
#pragma omp parallel for schedule(static) if (par)
    for (int64_t t = 0; t < n; t++)
        q8k_quantize_row(X + t * k, xq + t * nb, k);
    struct ig_par_error pe;   /* a worker's message would die with its thread */
    ig_par_error_init(&pe);
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 1) if (par)
    for (int64_t ti = 0; ti < n_tiles; ti++) {
        if (ig_par_error_skip(&pe, ti))
            continue;
        q8x_wblock *e = wx + (size_t)omp_get_thread_num() * Q8_TILE_ROWS * (size_t)nb;
        float *ds = dsm + (size_t)omp_get_thread_num() * 2 * Q8_TILE_ROWS * (size_t)nb, *dm = ds + Q8_TILE_ROWS * nb;
        const int64_t j0 = ti * Q8_TILE_ROWS, nt = m - j0 < Q8_TILE_ROWS ? m - j0 : Q8_TILE_ROWS;
        int e_rc = expand_rows(type, W, row_bytes, nb, j0, nt, e);
        if (e_rc) {
            ig_par_error_record(&pe, ti, e_rc);
            continue;
        }
        for (int64_t r = 0; r < nt; r++)
            for (int64_t b = 0; b < nb; b++) {
                ds[b * Q8_TILE_ROWS + r] = e[r * nb + b].d_s;
                dm[b * Q8_TILE_ROWS + r] = e[r * nb + b].d_m;
            }
        if (wide)
            tile_lanes(e, lanes + (size_t)omp_get_thread_num() * lanes_per_thread, s32, nt, j0, xq, n, nb, m, bias, Y);
        else if (simd)
            tile_avx2(e, ds, dm, nt, j0, xq, n, nb, m, bias, Y);
        else
            tile_portable(e, nt, j0, xq, n, nb, m, bias, Y);
    }
    free(xq);
    free(wx);
    free(dsm);
    free(lanes_mem);
    return ig_par_error_raise(&pe);
}
