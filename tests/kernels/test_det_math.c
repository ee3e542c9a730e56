/* test_det_math.c — det_expf, det_sinf, det_cosf and det_powf (kernels/cpu/det_math.c) are
 * within 1 ulp of the correctly rounded result (libm's double function rounded to float,
 * whose own error, < 1 double ulp, cannot move it by more than a float tie), over the
 * ranges the forward pass and AWQ use, and follow powf/expf on the special values. */
#include "kernels/cpu/det_gemm.h"
#include "kernels/cpu/det_math.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Distance in float ulps between a and b (same sign, finite). */
static int64_t ulps(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    if ((ia < 0) != (ib < 0))
        return a == b ? 0 : INT32_MAX;
    int64_t d = (int64_t)ia - (int64_t)ib;
    return d < 0 ? -d : d;
}

Test(det_math, expf_is_within_one_ulp)
{
    int64_t worst = 0;
    float worst_x = 0;
    for (float x = -103.0f; x < 88.7f; x += 0.000731f) {
        const int64_t d = ulps(det_expf(x), (float)exp((double)x));
        if (d > worst) {
            worst = d;
            worst_x = x;
        }
    }
    cr_expect_leq(worst, 1, "det_expf(%a) is %lld ulp from exp", (double)worst_x, (long long)worst);
    cr_expect_eq(det_expf(0.0f), 1.0f);
    cr_expect(isinf(det_expf(89.0f)) && det_expf(-104.5f) == 0.0f, "overflow to +Inf, underflow to 0");
    cr_expect(isnan(det_expf(NAN)));
}

Test(det_math, sinf_and_cosf_are_within_one_ulp)
{
    int64_t worst = 0;
    float worst_x = 0;
    for (float x = -5000.0f; x < 5000.0f; x += 0.01237f) {
        const float s = det_sinf(x), c = det_cosf(x);
        const float rs = (float)sin((double)x), rc = (float)cos((double)x);
        /* near a zero of the function one ulp of the result is tiny: compare in absolute
         * terms there (2^-26, the float ulp of values near 1) */
        int64_t d = fabsf(rs) < 0x1p-3f ? (fabsf(s - rs) <= 0x1p-26f ? 0 : 2) : ulps(s, rs);
        int64_t e = fabsf(rc) < 0x1p-3f ? (fabsf(c - rc) <= 0x1p-26f ? 0 : 2) : ulps(c, rc);
        if (d > worst || e > worst) {
            worst = d > e ? d : e;
            worst_x = x;
        }
    }
    cr_expect_leq(worst, 1, "det_sinf/det_cosf(%a) are %lld ulp from sin/cos", (double)worst_x, (long long)worst);
    cr_expect_eq(det_sinf(0.0f), 0.0f);
    cr_expect_eq(det_cosf(0.0f), 1.0f);
    cr_expect(isnan(det_sinf(INFINITY)) && isnan(det_cosf(NAN)));
}

Test(det_math, powf_is_within_one_ulp_and_keeps_powfs_special_values)
{
    int64_t worst = 0;
    float wx = 0, wy = 0;
    for (float x = 1e-6f; x < 2e4f; x *= 1.0173f)
        for (float y = -1.0f; y <= 1.0f; y += 0.05f) {
            const int64_t d = ulps(det_powf(x, y), (float)pow((double)x, (double)y));
            if (d > worst) {
                worst = d;
                wx = x;
                wy = y;
            }
        }
    cr_expect_leq(worst, 1, "det_powf(%a, %a) is %lld ulp from pow", (double)wx, (double)wy, (long long)worst);
    /* rope's base: 10000^(-2/64) and AWQ's alpha = 0 */
    cr_expect_leq(ulps(det_powf(10000.0f, -2.0f / 64.0f), (float)pow(10000.0, -2.0 / 64.0)), 1);
    cr_expect_eq(det_powf(0.0f, 0.0f), 1.0f);
    cr_expect_eq(det_powf(NAN, 0.0f), 1.0f);
    cr_expect_eq(det_powf(0.0f, 0.5f), 0.0f);
    cr_expect_eq(det_powf(1.0f, NAN), 1.0f);
    cr_expect(isnan(det_powf(-1.0f, 0.5f)));
}

/* det_expf_array is det_expf bit for bit, AVX2 forced on and off, on every float of a wide
 * sweep (both signs, the overflow/underflow edges, subnormal results) and the special
 * values, at every array length mod 4 (the vector body and the scalar tail). */
Test(det_math, expf_array_equals_expf_bit_for_bit)
{
    enum { N = 200003 };
    static float x[N], y[N];
    for (int64_t i = 0; i < N; i++)
        x[i] = -112.0f + (float)i * (214.0f / (float)N);   /* -112 .. 102: past both clamps */
    const float special[] = {NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 88.72283f, 88.72284f, -103.97208f,
                             -87.33655f, 100.0f, 100.00001f, -110.0f, -110.00001f, 1e-30f, -1e-30f, 0x1p-149f};
    memcpy(x, special, sizeof special);
    const enum det_simd modes[] = {DET_SIMD_OFF, DET_SIMD_ON};
    for (int m = 0; m < 2; m++) {
        if (modes[m] == DET_SIMD_ON && !det_simd_available())
            continue;
        det_simd_set(modes[m]);
        for (int64_t len = N - 3; len <= N; len++) {
            memset(y, 0, sizeof y);
            det_expf_array(x, y, len);
            int64_t bad = 0;
            for (int64_t i = 0; i < len; i++) {
                const float want = det_expf(x[i]);
                if (memcmp(&want, &y[i], sizeof want) != 0 && bad++ == 0)
                    cr_expect(0, "simd %d, length %lld: det_expf_array(%a) = %a, det_expf %a", modes[m], (long long)len,
                              (double)x[i], (double)y[i], (double)want);
            }
            cr_expect(y[len - 1] != 0.0f || x[len - 1] < -100.0f, "the tail was computed");
        }
        float z[3] = {-1.0f, 0.5f, 2.0f};   /* in place */
        det_expf_array(z, z, 3);
        cr_expect(z[0] == det_expf(-1.0f) && z[1] == det_expf(0.5f) && z[2] == det_expf(2.0f));
    }
    det_simd_set(DET_SIMD_AUTO);
}

/* Distance in double ulps between a and b (same sign, finite). */
static int64_t ulps_d(double a, double b)
{
    int64_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    if ((ia < 0) != (ib < 0))
        return a == b ? 0 : INT64_MAX;
    int64_t d = ia - ib;
    return d < 0 ? -d : d;
}

/* det_exp and det_log (the statistics verify reports) against glibc's exp and log, which are
 * within 1 ulp of the true value: 4 ulp between the two bounds det_* by 3 ulp, enough for a
 * statistic (a few parts in 10^16) and what a polynomial without FMA reaches. */
Test(det_math, exp_and_log_in_double_are_within_a_few_ulp)
{
    int64_t worst_e = 0, worst_l = 0;
    double xe = 0, xl = 0;
    for (double x = -740.0; x < 709.0; x += 0.0137) {
        const int64_t d = ulps_d(det_exp(x), exp(x));
        if (d > worst_e && exp(x) > 0x1p-1022) {   /* subnormals carry fewer bits: checked below */
            worst_e = d;
            xe = x;
        }
    }
    for (double x = 1e-300; x < 1e300; x *= 1.0137) {
        const int64_t d = ulps_d(det_log(x), log(x));
        if (d > worst_l && fabs(log(x)) > 1e-3) {
            worst_l = d;
            xl = x;
        }
    }
    for (double x = 0.5; x < 2.0; x += 0.0000731)   /* near 1 ln x is small: 4 ulp relative */
        cr_expect_leq(fabs(det_log(x) - log(x)), 0x1p-50 * fabs(log(x)) + 1e-300, "det_log(%a)", x);
    cr_expect_leq(worst_e, 4, "det_exp(%a) is %lld ulp from exp", xe, (long long)worst_e);
    cr_expect_leq(worst_l, 4, "det_log(%a) is %lld ulp from log", xl, (long long)worst_l);
    cr_expect_leq(fabs(det_exp(-740.0) - exp(-740.0)), 0x1p-1074 * 2, "subnormal result");
    cr_expect_eq(det_exp(0.0), 1.0);
    cr_expect_eq(det_log(1.0), 0.0);
    cr_expect(isinf(det_exp(710.0)) && det_exp(-746.0) == 0.0, "overflow to +Inf, underflow to 0");
    cr_expect(isnan(det_exp(NAN)) && isnan(det_log(NAN)) && isnan(det_log(-1.0)), "NaN in and below 0");
    cr_expect(det_log(0.0) == -INFINITY && det_log(INFINITY) == INFINITY, "log's ends");
}
