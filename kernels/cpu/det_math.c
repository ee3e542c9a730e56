/* det_math.c — expf, sinf, cosf, powf from IEEE basic operations only (see det_math.h).
 *
 * Each works in double: reduce the argument exactly (Cody–Waite: a constant split so that
 * k·C_hi is exact), evaluate a Taylor polynomial in Horner form whose truncation error is
 * below 1e-17 relative on the reduced interval, scale by an exact power of two, and round
 * once to float. The double error (~1e-16) is far below half a float ulp (3e-8), so results
 * are within 1 ulp of libm's, and they depend on nothing but IEEE 754.
 */
#include "det_math.h"

#include "det_gemm.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* x + 1.5·2^52 − 1.5·2^52 rounds |x| < 2^51 to the nearest integer (ties to even), in the
 * default rounding mode, without calling rint. */
static double round_to_int(double x)
{
    const double magic = 0x1.8p52;
    return (x + magic) - magic;
}

/* 2^k for −1022 <= k <= 1023, from its bits. */
static double pow2i(int64_t k)
{
    uint64_t bits = (uint64_t)(k + 1023) << 52;
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* ---- exp and log in double ---------------------------------------------------------------- */

/* ln 2 = LN2_HI + LN2_LO; LN2_HI has 32 significant bits, so k·LN2_HI is exact for |k| < 2^21
 * (fdlibm's split). */
#define LN2_HI 0x1.62e42feep-1
#define LN2_LO 0x1.a39ef35793c76p-33

/* e^r for |r| <= ln2/2: Σ_{i<=13} r^i/i!, truncation r^14/14! < 5e-18. */
static double exp_reduced(double r)
{
    double p = 1.0 / 6227020800.0;   /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    return p * r + 1.0;
}

/* e^x for −740 <= x <= 709 (callers clamp): x = k·ln2 + r, e^x = 2^k·e^r, the power of two
 * applied in two exact steps so that k below −1022 still lands in the subnormals. */
static double exp_double(double x)
{
    const double k = round_to_int(x * 0x1.71547652b82fep0);   /* x / ln 2 */
    const double r = (x - k * LN2_HI) - k * LN2_LO;
    const int64_t ki = (int64_t)k;
    const int64_t k1 = ki / 2, k2 = ki - k1;
    return exp_reduced(r) * pow2i(k1) * pow2i(k2);
}

/* ln x for finite x > 0: x = 2^e·m with √½ <= m < √2, s = (m − 1)/(m + 1),
 * ln m = 2·atanh s = 2s·Σ_{i<=10} s^2i/(2i + 1); |s| <= 0.172, truncation < 1e-19. */
static double log_double(double x)
{
    int64_t e = 0;
    if (x < 0x1p-1022) {   /* subnormal: scale into the normals first */
        x *= 0x1p54;
        e = -54;
    }
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    e += (int64_t)((bits >> 52) & 0x7ff) - 1023;
    bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;   /* m in [1, 2) */
    double m;
    memcpy(&m, &bits, sizeof m);
    if (m >= 0x1.6a09e667f3bcdp0) {   /* √2: halve m into [√½, √2) */
        m *= 0.5;
        e += 1;
    }
    const double s = (m - 1.0) / (m + 1.0), z = s * s;
    double p = 1.0 / 21.0;
    for (int i = 19; i >= 1; i -= 2)
        p = p * z + 1.0 / (double)i;
    const double ln_m = 2.0 * s * p;
    return (double)e * LN2_HI + ((double)e * LN2_LO + ln_m);
}

double det_exp(double x)
{
    if (isnan(x))
        return x + x;
    if (x > 709.782712893384)    /* ln(DBL_MAX) */
        return INFINITY;
    if (x < -745.2)              /* below half the smallest subnormal */
        return 0.0;
    return exp_double(x);
}

double det_log(double x)
{
    if (isnan(x) || x < 0.0)
        return NAN;
    if (x == 0.0)
        return -INFINITY;
    if (isinf(x))
        return x;
    return log_double(x);
}

/* ---- the float functions ---------------------------------------------------------------------- */

const double det_exp2_table[32] = {
    0x1.0000000000000p+0,
    0x1.059b0d3158574p+0,
    0x1.0b5586cf9890fp+0,
    0x1.11301d0125b51p+0,
    0x1.172b83c7d517bp+0,
    0x1.1d4873168b9aap+0,
    0x1.2387a6e756238p+0,
    0x1.29e9df51fdee1p+0,
    0x1.306fe0a31b715p+0,
    0x1.371a7373aa9cbp+0,
    0x1.3dea64c123422p+0,
    0x1.44e086061892dp+0,
    0x1.4bfdad5362a27p+0,
    0x1.5342b569d4f82p+0,
    0x1.5ab07dd485429p+0,
    0x1.6247eb03a5585p+0,
    0x1.6a09e667f3bcdp+0,
    0x1.71f75e8ec5f74p+0,
    0x1.7a11473eb0187p+0,
    0x1.82589994cce13p+0,
    0x1.8ace5422aa0dbp+0,
    0x1.93737b0cdc5e5p+0,
    0x1.9c49182a3f090p+0,
    0x1.a5503b23e255dp+0,
    0x1.ae89f995ad3adp+0,
    0x1.b7f76f2fb5e47p+0,
    0x1.c199bdd85529cp+0,
    0x1.cb720dcef9069p+0,
    0x1.d5818dcfba487p+0,
    0x1.dfc97337b9b5fp+0,
    0x1.ea4afa2a490dap+0,
    0x1.f50765b6e4540p+0,
};

float det_powf(float x, float y)
{
    if (y == 0.0f || x == 1.0f)   /* as powf: even for a NaN in the other argument */
        return 1.0f;
    if (isnan(x) || isnan(y) || x < 0.0f)
        return NAN;
    if (x == 0.0f)
        return y > 0.0f ? 0.0f : INFINITY;
    if (isinf(x))
        return y > 0.0f ? INFINITY : 0.0f;
    const double t = (double)y * log_double((double)x);
    if (t > 709.0)
        return INFINITY;
    if (t < -740.0)
        return 0.0f;
    return (float)exp_double(t);
}

/* π/2 = PIO2_1 + PIO2_2 + PIO2_3 (+ 1e-32); PIO2_1 and PIO2_2 have 33 significant bits, so
 * k·PIO2_1 and k·PIO2_2 are exact for |k| < 2^20 (fdlibm's split). */
#define PIO2_1 0x1.921fb544p0
#define PIO2_2 0x1.0b4611a6p-34
#define PIO2_3 0x1.3198a2e037073p-69

/* sin r and cos r for |r| <= π/4: Taylor to r^17 and r^16 (truncation < 1e-17). */
static double sin_reduced(double r)
{
    const double z = r * r;
    double p = -1.0 / 355687428096000.0;   /* −1/17! */
    p = p * z + 1.0 / 1307674368000.0;
    p = p * z - 1.0 / 6227020800.0;
    p = p * z + 1.0 / 39916800.0;
    p = p * z - 1.0 / 362880.0;
    p = p * z + 1.0 / 5040.0;
    p = p * z - 1.0 / 120.0;
    p = p * z + 1.0 / 6.0;   /* p = 1/3! − z/5! + z²/7! − ... */
    return r - r * z * p;
}

static double cos_reduced(double r)
{
    const double z = r * r;
    double p = 1.0 / 20922789888000.0;   /* 1/16! */
    p = p * z - 1.0 / 87178291200.0;
    p = p * z + 1.0 / 479001600.0;
    p = p * z - 1.0 / 3628800.0;
    p = p * z + 1.0 / 40320.0;
    p = p * z - 1.0 / 720.0;
    p = p * z + 1.0 / 24.0;
    p = p * z - 0.5;
    return p * z + 1.0;
}

/* x = k·π/2 + r; returns r and the quadrant k mod 4. */
static double reduce_pio2(float x, int *quadrant)
{
    const double d = (double)x;
    const double k = round_to_int(d * 0x1.45f306dc9c883p-1);   /* x · 2/π */
    *quadrant = (int)((int64_t)k & 3);
    return ((d - k * PIO2_1) - k * PIO2_2) - k * PIO2_3;
}

float det_sinf(float x)
{
    if (isnan(x) || isinf(x))
        return x - x;
    int q;
    const double r = reduce_pio2(x, &q);
    const double v = q == 0 ? sin_reduced(r) : q == 1 ? cos_reduced(r) : q == 2 ? -sin_reduced(r) : -cos_reduced(r);
    return (float)v;
}

float det_cosf(float x)
{
    if (isnan(x) || isinf(x))
        return x - x;
    int q;
    const double r = reduce_pio2(x, &q);
    const double v = q == 0 ? cos_reduced(r) : q == 1 ? -sin_reduced(r) : q == 2 ? -cos_reduced(r) : sin_reduced(r);
    return (float)v;
}

/* ---- det_expf over an array ------------------------------------------------------------------ */

/* det_expf on four lanes: each step is the scalar one's double operation (mul, add, sub; no
 * FMA), so every lane rounds exactly as det_expf. k comes from the low bits of x·32/ln2 +
 * 1.5·2^52 (that sum's mantissa holds round(x·32/ln2) in two's complement), as the scalar's
 * (int64_t)kd; out-of-range lanes compute garbage and are replaced at the end. */
__attribute__((target("avx2"))) static __m128 expf4_avx2(__m128 xf)
{
    const __m256d d = _mm256_cvtps_pd(xf), magic = _mm256_set1_pd(0x1.8p52);
    const __m256d t = _mm256_add_pd(_mm256_mul_pd(d, _mm256_set1_pd(0x1.71547652b82fep5)), magic);
    const __m256d kd = _mm256_sub_pd(t, magic);
    const __m256d r = _mm256_sub_pd(_mm256_sub_pd(d, _mm256_mul_pd(kd, _mm256_set1_pd(0x1.62e42feep-6))),
                                    _mm256_mul_pd(kd, _mm256_set1_pd(0x1.a39ef35793c76p-38)));
    __m256d p = _mm256_set1_pd(1.0 / 24.0);
    p = _mm256_add_pd(_mm256_mul_pd(p, r), _mm256_set1_pd(1.0 / 6.0));
    p = _mm256_add_pd(_mm256_mul_pd(p, r), _mm256_set1_pd(0.5));
    p = _mm256_add_pd(_mm256_mul_pd(p, r), _mm256_set1_pd(1.0));
    p = _mm256_add_pd(_mm256_mul_pd(p, r), _mm256_set1_pd(1.0));
    /* the four k as int32: the low halves of t's lanes */
    const __m256i ti = _mm256_castpd_si256(t);
    const __m128i k = _mm256_castsi256_si128(
        _mm256_permutevar8x32_epi32(ti, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6)));
    const __m256d tab = _mm256_i32gather_pd(det_exp2_table, _mm_and_si128(k, _mm_set1_epi32(31)), 8);
    const __m256i e = _mm256_slli_epi64(
        _mm256_cvtepi32_epi64(_mm_add_epi32(_mm_srai_epi32(k, 5), _mm_set1_epi32(1023))), 52);
    __m128 y = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_mul_pd(p, tab), _mm256_castsi256_pd(e)));
    y = _mm_blendv_ps(y, _mm_set1_ps(INFINITY), _mm_cmpgt_ps(xf, _mm_set1_ps(100.0f)));
    y = _mm_blendv_ps(y, _mm_setzero_ps(), _mm_cmplt_ps(xf, _mm_set1_ps(-110.0f)));
    return _mm_blendv_ps(y, _mm_add_ps(xf, xf), _mm_cmpunord_ps(xf, xf));
}

/* expf4_avx2 on eight lanes with AVX-512: the same double operations in the same order, and the
 * table read by two two-register permutes (vpermt2pd: 16 entries each) and a blend on bit 4 of
 * the index instead of a gather, which costs many micro-ops on some CPUs. */
__attribute__((target("avx512f,avx512vl,avx2"))) static __m256 expf8_avx512(__m256 xf)
{
    const __m512d d = _mm512_cvtps_pd(xf), magic = _mm512_set1_pd(0x1.8p52);
    const __m512d t = _mm512_add_pd(_mm512_mul_pd(d, _mm512_set1_pd(0x1.71547652b82fep5)), magic);
    const __m512d kd = _mm512_sub_pd(t, magic);
    const __m512d r = _mm512_sub_pd(_mm512_sub_pd(d, _mm512_mul_pd(kd, _mm512_set1_pd(0x1.62e42feep-6))),
                                    _mm512_mul_pd(kd, _mm512_set1_pd(0x1.a39ef35793c76p-38)));
    __m512d p = _mm512_set1_pd(1.0 / 24.0);
    p = _mm512_add_pd(_mm512_mul_pd(p, r), _mm512_set1_pd(1.0 / 6.0));
    p = _mm512_add_pd(_mm512_mul_pd(p, r), _mm512_set1_pd(0.5));
    p = _mm512_add_pd(_mm512_mul_pd(p, r), _mm512_set1_pd(1.0));
    p = _mm512_add_pd(_mm512_mul_pd(p, r), _mm512_set1_pd(1.0));
    /* the eight k as int32: the low halves of t's lanes */
    const __m256i k = _mm512_cvtepi64_epi32(_mm512_castpd_si512(t));
    const __m512i j = _mm512_cvtepi32_epi64(_mm256_and_si256(k, _mm256_set1_epi32(31)));
    const __m512d lo = _mm512_permutex2var_pd(_mm512_loadu_pd(det_exp2_table), j, _mm512_loadu_pd(det_exp2_table + 8));
    const __m512d hi =
        _mm512_permutex2var_pd(_mm512_loadu_pd(det_exp2_table + 16), j, _mm512_loadu_pd(det_exp2_table + 24));
    const __m512d tab = _mm512_mask_blend_pd(_mm512_test_epi64_mask(j, _mm512_set1_epi64(16)), lo, hi);
    const __m512i e = _mm512_slli_epi64(
        _mm512_cvtepi32_epi64(_mm256_add_epi32(_mm256_srai_epi32(k, 5), _mm256_set1_epi32(1023))), 52);
    __m256 y = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_mul_pd(p, tab), _mm512_castsi512_pd(e)));
    y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(xf, _mm256_set1_ps(100.0f), _CMP_GT_OQ));
    y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(xf, _mm256_set1_ps(-110.0f), _CMP_LT_OQ));
    return _mm256_blendv_ps(y, _mm256_add_ps(xf, xf), _mm256_cmp_ps(xf, xf, _CMP_UNORD_Q));
}

__attribute__((target("avx512f,avx512vl,avx2"))) static int64_t expf_array_avx512(const float *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, expf8_avx512(_mm256_loadu_ps(x + i)));
    return i;
}

static bool avx512_available(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
}

__attribute__((target("avx2"))) static void expf_array_avx2(const float *x, float *y, int64_t n)
{
    int64_t i = avx512_available() ? expf_array_avx512(x, y, n) : 0;
    for (; i + 4 <= n; i += 4)
        _mm_storeu_ps(y + i, expf4_avx2(_mm_loadu_ps(x + i)));
    for (; i < n; i++)
        y[i] = det_expf(x[i]);
}

void det_expf_array(const float *x, float *y, int64_t n)
{
    if (det_simd_active()) {
        expf_array_avx2(x, y, n);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        y[i] = det_expf(x[i]);
}
