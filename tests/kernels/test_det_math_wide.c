/* test_det_math_wide.c — det_expf_array's eight-lane AVX-512 body (kernels/cpu/det_math.c) and
 * the four-lane and scalar tails after it: every array length 1 .. 40, so each of the 8 ends
 * is hit with and without a four-lane block, on values around the table's 32 entries (each
 * j = k mod 32, both signs), the clamps and NaN, equal det_expf bit for bit. On a CPU without
 * AVX-512 the same lengths run the AVX2 and scalar paths (a warning says so).
 */
#include "kernels/cpu/det_gemm.h"
#include "kernels/cpu/det_math.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

Test(det_math_wide, expf_array_every_length_and_table_entry)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f"))
        cr_log_warn("this CPU has no AVX-512: the eight-lane body is not exercised");
    enum { N = 40 };
    float x[N], y[N];
    for (int off = 0; off < 64; off++) {
        for (int i = 0; i < N; i++)   /* steps of ln2/32 walk j through the whole table */
            x[i] = (float)((off * N + i) - 1280) * 0.02166085f + 0.001f * (float)(i % 3);
        x[(off * 7) % N] = off % 2 ? NAN : 100.5f;
        x[(off * 11 + 3) % N] = -110.5f;
        det_simd_set(DET_SIMD_ON);
        for (int len = 1; len <= N; len++) {
            memset(y, 0, sizeof y);
            det_expf_array(x, y, len);
            for (int i = 0; i < len; i++) {
                const float want = det_expf(x[i]);
                if (memcmp(&y[i], &want, sizeof want) != 0 && !(isnan(y[i]) && isnan(want))) {
                    cr_expect_fail("offset %d length %d: det_expf_array(%a)[%d] = %a, det_expf %a", off, len,
                                   (double)x[i], i, (double)y[i], (double)want);
                    break;
                }
            }
        }
        det_simd_set(DET_SIMD_AUTO);
    }
}
