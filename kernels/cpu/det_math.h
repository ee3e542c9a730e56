/* det_math.h — expf, sinf/cosf and powf with the same bits on every machine.
 *
 * glibc picks an FMA or a non-FMA build of expf, sinf, cosf and powf at run time (ifunc on
 * the CPU's features), and their results may round differently in rare cases; glibc's
 * version may change them too. The forward pass (silu, softmax, rope) and AWQ's scales
 * decide output bytes through these functions, so ingot evaluates them itself: in double,
 * with only +, −, ×, ÷ (each correctly rounded by IEEE 754; no FMA contraction, see the
 * Makefile) and exact scaling by powers of two, then one rounding to float. Each result is
 * within 1 ulp of the true value (tests/kernels/test_det_math.c compares with libm).
 */
#ifndef DET_MATH_H
#define DET_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* e^x; +Inf above 88.72, +0 below −103.98 (glibc's limits), NaN for NaN. Inline: softmax
 * and silu call it once per element, and a call per element cost the forward pass 40%.
 * x = (32k + j)·ln2/32 + r, |r| <= ln2/64: e^x = 2^k · 2^(j/32) · e^r, e^r to r^4/4!
 * (truncation < 1e-12 relative), 2^(j/32) from a table of doubles. */
extern const double det_exp2_table[32];   /* 2^(j/32), correctly rounded */

static inline float det_expf(float x)
{
    if (isnan(x))
        return x + x;
    if (x > 100.0f)   /* e^88.73 already rounds to +Inf */
        return INFINITY;
    if (x < -110.0f)  /* below half the smallest subnormal */
        return 0.0f;
    const double d = (double)x, magic = 0x1.8p52;
    const double kd = (d * 0x1.71547652b82fep5 + magic) - magic;   /* round(x·32/ln2) */
    const double r = (d - kd * 0x1.62e42feep-6) - kd * 0x1.a39ef35793c76p-38;   /* ln2/32, hi + lo */
    const int64_t k = (int64_t)kd;
    double p = 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    /* 2^floor(k/32) (GCC's >> on a negative int64 is arithmetic), normal for |x| <= 110 */
    const uint64_t bits = (uint64_t)((k >> 5) + 1023) << 52;
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return (float)(p * det_exp2_table[k & 31] * scale);
}

/* y[i] = det_expf(x[i]) for i < n, bit for bit (x and y may be the same array): eight lanes
 * at a time with AVX-512 where the CPU has it, then four with AVX2 (the same double operations,
 * in the same order, per lane) when det_simd_active(), else the scalar function. */
void det_expf_array(const float *x, float *y, int64_t n);

/* e^x and ln x in double, for the statistics verify reports (log-softmax, KLD, PPL, ECE),
 * which glibc's exp/log would make depend on the machine in their last bits. Within a few ulp
 * of the true value (tests/kernels/test_det_math.c). det_exp: +Inf above 709.78, +0 below
 * −745.2, NaN for NaN. det_log: −Inf for ±0, NaN below 0 or for NaN, +Inf for +Inf. */
double det_exp(double x);
double det_log(double x);

/* sin x and cos x. Exact range reduction for |x| < 2^20 (positions far beyond any context
 * length); beyond that the reduction loses bits but stays deterministic. */
float det_sinf(float x);
float det_cosf(float x);

/* x^y for x >= 0 (what ingot needs: rope's base, AWQ's mean |x|): 1 when y = 0 or x = 1
 * (even with a NaN in the other, as powf), 0 for x = 0 and y > 0, +Inf for x = 0 and y < 0;
 * otherwise NaN for x < 0 or a NaN. */
float det_powf(float x, float y);

#ifdef __cplusplus
}
#endif

#endif /* DET_MATH_H */
