/* test_det_math.c — det_expf, det_sinf, det_cosf and det_powf (kernels/cpu/det_math.c) are
 * within 1 ulp of the correctly rounded result (libm's double function rounded to float,
 * whose own error, < 1 double ulp, cannot move it by more than a float tie), over the
 * ranges the forward pass and AWQ use, and follow powf/expf on the special values. */
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
