/* test_rms_norm_rows.c — the CPU backend's rms_norm (kernels/cpu/cpu_ops.c), which sums four
 * rows' squares at once in the lanes of a double vector, equals the formula's plain loop
 * (backend.h: the mean of x² accumulated in double in element order, ggml_rms_norm then
 * ggml_mul) bit for bit: row counts 1 .. 9 (whole groups of four and the rest), widths off and
 * on the 4-element step, in place and not, AVX2 forced on and off, 1 and 3 threads.
 */
#include "kernels/backend.h"
#include "kernels/cpu/det_gemm.h"

#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SEED 20261208u

/* The definition, one row at a time. */
static void rms_norm_loop(const float *x, int64_t n, int64_t dim, const float *w, float eps, float *out)
{
    for (int64_t t = 0; t < n; t++) {
        double sum = 0.0;
        for (int64_t i = 0; i < dim; i++)
            sum += (double)(x[t * dim + i] * x[t * dim + i]);
        const float scale = 1.0f / sqrtf((float)(sum / (double)dim) + eps);
        for (int64_t i = 0; i < dim; i++)
            out[t * dim + i] = (x[t * dim + i] * scale) * w[i];
    }
}

Test(rms_norm_rows, four_rows_in_lanes_equal_the_loop)
{
    const int64_t dims[] = {1, 3, 4, 5, 255, 256, 257};
    uint32_t s = SEED;
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
        for (int64_t n = 1; n <= 9; n++) {
            const int64_t dim = dims[di], len = n * dim;
            float *x = malloc((size_t)len * sizeof *x), *w = malloc((size_t)dim * sizeof *w);
            float *want = malloc((size_t)len * sizeof *want), *got = malloc((size_t)len * sizeof *got);
            for (int64_t i = 0; i < len; i++) {
                s = s * 1664525u + 1013904223u;   /* wide magnitudes: the double sum's rounding matters */
                x[i] = ((float)(s >> 8) / (float)(1u << 24) - 0.5f) * (float)(1 << (s % 16));
            }
            for (int64_t i = 0; i < dim; i++)
                w[i] = 0.5f + (float)i / (float)dim;
            rms_norm_loop(x, n, dim, w, 1e-5f, want);
            for (int mode = 0; mode < 2; mode++)
                for (int th = 1; th <= 3; th += 2) {
                    det_simd_set(mode ? DET_SIMD_ON : DET_SIMD_OFF);
                    omp_set_num_threads(th);
                    backend_cpu()->rms_norm(x, n, dim, w, 1e-5f, got);
                    cr_expect_eq(memcmp(got, want, (size_t)len * sizeof *got), 0,
                                 "n %lld dim %lld simd %d threads %d", (long long)n, (long long)dim, mode, th);
                    memcpy(got, x, (size_t)len * sizeof *got);   /* in place */
                    backend_cpu()->rms_norm(got, n, dim, w, 1e-5f, got);
                    cr_expect_eq(memcmp(got, want, (size_t)len * sizeof *got), 0,
                                 "in place: n %lld dim %lld simd %d threads %d", (long long)n, (long long)dim, mode,
                                 th);
                }
            det_simd_set(DET_SIMD_AUTO);
            free(x);
            free(w);
            free(want);
            free(got);
        }
}
