/* test_det_attention.c — causal attention (kernels/cpu/det_attention.c).
 *
 * The AVX2 and portable paths, with 1, 2 and 3 threads, equal the scalar reference
 * (det_attention_rows_ref: one fma chain per figure) bit for bit, on head sizes that are and
 * are not multiples of the 8-lane vector and on key counts around the 32-key score groups;
 * rows computed after a cached prefix equal the whole window's; and a hand-worked case checks
 * the reference itself (equal scores give equal weights: out = the mean of the values).
 */
#include "kernels/backend.h"
#include "kernels/cpu/det_attention.h"
#include "kernels/cpu/det_gemm.h"

#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SEED 20261206u

static float *random_floats(int64_t n, uint32_t *s, float amp)
{
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    cr_assert_not_null(x);
    for (int64_t i = 0; i < n; i++) {
        *s = *s * 1664525u + 1013904223u;
        x[i] = amp * ((float)((double)(*s >> 8) / (double)(1u << 23)) - 1.0f);
    }
    return x;
}

/* One shape: every path and thread count against the reference. */
static void check_shape_seeded(uint32_t seed, int64_t n, int64_t n_head, int64_t n_head_kv, int64_t hd,
                               int64_t pos0)
{
    uint32_t s = seed ^ (uint32_t)(n * 7919 + n_head * 131 + hd * 17 + pos0);
    const int64_t n_new = n - pos0, out_n = n_new * n_head * hd;
    /* amplitude 3: scores spread over several units, so the softmax is far from uniform */
    float *q = random_floats(n_new * n_head * hd, &s, 3.0f), *k = random_floats(n * n_head_kv * hd, &s, 3.0f);
    float *v = random_floats(n * n_head_kv * hd, &s, 1.0f);
    float *ref = malloc((size_t)out_n * sizeof *ref), *got = malloc((size_t)out_n * sizeof *got);
    cr_assert_eq(det_attention_rows_ref(q, k, v, pos0, n_new, n_head, n_head_kv, hd, ref), 0);
    const enum det_simd modes[] = {DET_SIMD_OFF, DET_SIMD_ON};
    for (int m = 0; m < 2; m++) {
        if (modes[m] == DET_SIMD_ON && !det_simd_available()) {
            cr_log_warn("this CPU has no AVX2/FMA: the forced-AVX2 runs are skipped");
            continue;
        }
        det_simd_set(modes[m]);
        for (int threads = 1; threads <= 3; threads++) {
            omp_set_num_threads(threads);
            memset(got, 0xff, (size_t)out_n * sizeof *got);
            cr_assert_eq(det_attention_rows(q, k, v, pos0, n_new, n_head, n_head_kv, hd, got), 0);
            int64_t first = -1;
            for (int64_t i = 0; i < out_n && first < 0; i++)
                if (memcmp(&got[i], &ref[i], sizeof *got) != 0)
                    first = i;
            cr_expect(first < 0, "n %lld heads %lld/%lld hd %lld pos0 %lld simd %d threads %d: out[%lld] = %a, "
                      "reference %a", (long long)n, (long long)n_head, (long long)n_head_kv, (long long)hd,
                      (long long)pos0, modes[m], threads, (long long)first, first < 0 ? 0.0 : (double)got[first],
                      first < 0 ? 0.0 : (double)ref[first]);
        }
    }
    det_simd_set(DET_SIMD_AUTO);
    free(q);
    free(k);
    free(v);
    free(ref);
    free(got);
}

static void check_shape(int64_t n, int64_t n_head, int64_t n_head_kv, int64_t hd, int64_t pos0)
{
    check_shape_seeded(SEED, n, n_head, n_head_kv, hd, pos0);
}

Test(det_attention, equals_the_reference_on_every_path, .timeout = 120)
{
    const int64_t hds[] = {1, 5, 8, 13, 32, 40, 64};
    const int64_t ns[] = {1, 7, 8, 9, 31, 32, 33, 70};
    for (size_t a = 0; a < sizeof hds / sizeof *hds; a++)
        for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
            check_shape(ns[b], 4, 2, hds[a], 0);
    check_shape(130, 8, 8, 32, 0);    /* large enough for the threaded path */
    check_shape(100, 6, 2, 64, 0);    /* GQA groups of 3 */
    check_shape(90, 4, 1, 24, 61);    /* rows after a prefix */
}

/* The rows after a cached prefix are the whole window's rows, bit for bit, on both paths (the
 * task scorer evaluates a shared context once), through the backend's table. */
Test(det_attention, rows_after_a_prefix_equal_the_whole_windows_rows)
{
    uint32_t s = SEED;
    const int64_t n = 75, n_head = 4, n_head_kv = 2, hd = 32;
    float *q = random_floats(n * n_head * hd, &s, 3.0f), *k = random_floats(n * n_head_kv * hd, &s, 3.0f);
    float *v = random_floats(n * n_head_kv * hd, &s, 1.0f);
    float *whole = malloc((size_t)(n * n_head * hd) * sizeof *whole);
    float *rows = malloc((size_t)(n * n_head * hd) * sizeof *rows);
    const enum det_simd modes[] = {DET_SIMD_OFF, DET_SIMD_ON};
    for (int m = 0; m < 2; m++) {
        if (modes[m] == DET_SIMD_ON && !det_simd_available())
            continue;
        det_simd_set(modes[m]);
        cr_assert_eq(backend_cpu()->attention(q, k, v, n, n_head, n_head_kv, hd, whole), 0);
        const int64_t pos0s[] = {1, 31, 32, 33, 74};
        for (size_t p = 0; p < 5; p++) {
            const int64_t pos0 = pos0s[p], n_new = n - pos0;
            cr_assert_eq(backend_cpu()->attention_rows(q + pos0 * n_head * hd, k, v, pos0, n_new, n_head, n_head_kv,
                                                       hd, rows), 0);
            cr_expect(memcmp(rows, whole + pos0 * n_head * hd, (size_t)(n_new * n_head * hd) * sizeof *rows) == 0,
                      "simd %d: rows %lld.. differ from the whole window's", modes[m], (long long)pos0);
        }
    }
    det_simd_set(DET_SIMD_AUTO);
    free(q);
    free(k);
    free(v);
    free(whole);
    free(rows);
}

/* By hand: one head, head_dim 2, three positions. Row 0 sees only key 0: weight 1, out = v0.
 * Row 1: keys 0 and 1 are zero, so equal scores, weights 1/2 (exact), out = (v0 + v1) / 2.
 * Row 2: scores 0, 0 and q·k2/√2 = ln 4, so weights 1/6, 1/6, 4/6 (not exact in float:
 * checked to 1e-6). */
Test(det_attention, hand_worked_rows)
{
    const float q[] = {1.0f, 0.0f, 0.0f, 1.0f, 0.0f, 0.98025814f};   /* 0.98025814 = ln 4 / √2 */
    const float k[] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 2.0f};           /* row 2: q·k2 / √2 = ln 4 */
    const float v[] = {1.0f, 2.0f, 3.0f, -4.0f, 0.5f, 8.0f};
    float out[6];
    const enum det_simd modes[] = {DET_SIMD_OFF, DET_SIMD_ON};
    for (int m = 0; m < 2; m++) {
        if (modes[m] == DET_SIMD_ON && !det_simd_available())
            continue;
        det_simd_set(modes[m]);
        cr_assert_eq(det_attention_rows(q, k, v, 0, 3, 1, 1, 2, out), 0);
        cr_expect(out[0] == 1.0f && out[1] == 2.0f, "row 0 = v0: got %g %g", out[0], out[1]);
        cr_expect(out[2] == 2.0f && out[3] == -1.0f, "row 1 = (v0 + v1)/2: got %g %g", out[2], out[3]);
        const float want0 = (1.0f + 3.0f + 4.0f * 0.5f) / 6.0f, want1 = (2.0f - 4.0f + 4.0f * 8.0f) / 6.0f;
        cr_expect(fabsf(out[4] - want0) < 1e-6f && fabsf(out[5] - want1) < 1e-6f,
                  "row 2 = (v0 + v1 + 4 v2)/6 = %g %g: got %g %g", want0, want1, out[4], out[5]);
    }
    det_simd_set(DET_SIMD_AUTO);
}

/* ---- the AVX2 path's two-heads-at-a-time attention (det_attention.c attend2) --------------
 * on head layouts the tests above leave out: an odd head count (the last head runs alone), a
 * pair whose heads read different kv heads (groups of 1 and of 3), head sizes off the 8-lane
 * vector, and key counts around the 8- and 32-key groups. Every path and thread count must
 * equal det_attention_rows_ref bit for bit. */
#define SEED_PAIRS 20261207u

Test(det_attention_pairs, odd_heads_and_mixed_kv_heads_equal_the_reference, .timeout = 120)
{
    const int64_t ns[] = {1, 8, 9, 33, 70};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        check_shape_seeded(SEED_PAIRS, ns[i], 3, 1, 32, 0);    /* odd: heads 0+1 paired, head 2 alone */
        check_shape_seeded(SEED_PAIRS, ns[i], 5, 5, 16, 0);    /* MHA: each pair reads two kv heads */
        check_shape_seeded(SEED_PAIRS, ns[i], 9, 3, 40, 0);    /* groups of 3: pairs straddle groups */
        check_shape_seeded(SEED_PAIRS, ns[i], 7, 7, 13, 0);    /* head size not a multiple of 8 */
    }
    check_shape_seeded(SEED_PAIRS, 140, 3, 1, 32, 0);   /* the threaded path */
    check_shape_seeded(SEED_PAIRS, 90, 5, 5, 24, 61);   /* rows after a prefix */
}
