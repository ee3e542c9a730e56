/* test_det_attention_pairs.c — the AVX2 path's two-heads-at-a-time attention
 * (kernels/cpu/det_attention.c attend2) on head layouts the main test leaves out: an odd head
 * count (the last head runs alone), a pair whose heads read different kv heads (groups of 1
 * and of 3), head sizes off the 8-lane vector, and key counts around the 8- and 32-key
 * groups. Every path and thread count must equal det_attention_rows_ref bit for bit.
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

#define SEED 20261207u

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
static void check_shape(int64_t n, int64_t n_head, int64_t n_head_kv, int64_t hd, int64_t pos0)
{
    uint32_t s = SEED ^ (uint32_t)(n * 7919 + n_head * 131 + hd * 17 + pos0);
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

Test(det_attention_pairs, odd_heads_and_mixed_kv_heads_equal_the_reference, .timeout = 120)
{
    const int64_t ns[] = {1, 8, 9, 33, 70};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        check_shape(ns[i], 3, 1, 32, 0);    /* odd: heads 0+1 paired, head 2 alone */
        check_shape(ns[i], 5, 5, 16, 0);    /* MHA: each pair reads two kv heads */
        check_shape(ns[i], 9, 3, 40, 0);    /* groups of 3: pairs straddle groups */
        check_shape(ns[i], 7, 7, 13, 0);    /* head size not a multiple of 8 */
    }
    check_shape(140, 3, 1, 32, 0);   /* the threaded path */
    check_shape(90, 5, 5, 24, 61);   /* rows after a prefix */
}
