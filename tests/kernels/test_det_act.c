/* test_det_act.c — gemma's element-wise functions and attention options (kernels/cpu/det_act.c,
 * det_attention.c's _ext).
 *
 * det_tanhf, det_gelu_tanhf are within 1 ulp of libm's tanh in double (rounded to float) and of
 * the tanh-GELU formula evaluated in double; soft-capping is the three float steps of ggml's
 * scale, tanh, scale. The attention options are checked by hand (a window of 1 gives v of the row
 * itself; a soft cap of c bounds the scores to ±c) and against the reference on every path
 * (AVX2 and portable, 1-3 threads), with rows after a cached prefix equal to the whole window's.
 */
#include "kernels/backend.h"
#include "kernels/cpu/det_act.h"
#include "kernels/cpu/det_attention.h"
#include "kernels/cpu/det_gemm.h"

#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SEED 20261206u

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

Test(det_act, tanhf_is_within_one_ulp)
{
    int64_t worst = 0;
    float worst_x = 0;
    for (float x = -12.0f; x < 12.0f; x += 0.000377f) {
        const int64_t d = ulps(det_tanhf(x), (float)tanh((double)x));
        if (d > worst) {
            worst = d;
            worst_x = x;
        }
    }
    /* tiny arguments, where the formula switches to x − x³/3 */
    for (float x = 0x1p-30f; x < 0.01f; x *= 1.01f) {
        const int64_t d = ulps(det_tanhf(x), (float)tanh((double)x));
        if (d > worst) {
            worst = d;
            worst_x = x;
        }
    }
    cr_expect_leq(worst, 1, "det_tanhf(%a) is %lld ulp from tanh", (double)worst_x, (long long)worst);
    cr_expect(det_tanhf(0.0f) == 0.0f && !signbit(det_tanhf(0.0f)) && signbit(det_tanhf(-0.0f)));
    cr_expect(det_tanhf(30.0f) == 1.0f && det_tanhf(-INFINITY) == -1.0f && isnan(det_tanhf(NAN)));
}

Test(det_act, gelu_tanh_is_within_one_ulp)
{
    int64_t worst = 0;
    float worst_x = 0;
    for (float x = -9.0f; x < 12.0f; x += 0.000411f) {
        const double d = (double)x;
        /* the textbook form in double: ½x(1 + tanh(√(2/π)(x + 0.044715x³))) */
        const float want = (float)(0.5 * d * (1.0 + tanh(sqrt(2.0 / M_PI) * (d + 0.044715 * d * d * d))));
        const float got = det_gelu_tanhf(x);
        /* below −5 the textbook form itself loses digits to 1 + tanh ≈ 0: compare in absolute
         * terms there (results are below 1e-6) */
        const int64_t e = x < -5.0f ? (fabsf(got - want) < 1e-12f ? 0 : 2) : ulps(got, want);
        if (e > worst) {
            worst = e;
            worst_x = x;
        }
    }
    cr_expect_leq(worst, 1, "det_gelu_tanhf(%a) is %lld ulp from the formula", (double)worst_x, (long long)worst);
    /* hand values: gelu(0) = 0, gelu(1) = ½(1 + tanh(0.7978846·1.044715)) = 0.8411920 (PyTorch's
     * gelu(torch.tensor(1.), approximate='tanh') prints 0.8412), gelu(−∞) = −0, gelu(+∞) = +∞ */
    cr_expect_eq(det_gelu_tanhf(0.0f), 0.0f);
    cr_expect(fabsf(det_gelu_tanhf(1.0f) - 0.8411920f) < 1e-6f, "gelu(1) = %.7f", (double)det_gelu_tanhf(1.0f));
    cr_expect(det_gelu_tanhf(-1000.0f) == 0.0f && isinf(det_gelu_tanhf(INFINITY)) && isnan(det_gelu_tanhf(NAN)));
}

Test(det_act, softcap_is_scale_tanh_scale_and_parallel_loops_keep_the_bits)
{
    const float cap = 30.0f;
    for (float x = -500.0f; x < 500.0f; x += 0.731f) {
        const float want = det_tanhf(x * (1.0f / cap)) * cap;
        cr_assert(memcmp(&want, &(float){det_softcapf(x, cap)}, 4) == 0, "softcap(%a)", (double)x);
        cr_assert(fabsf(det_softcapf(x, cap)) <= cap);
    }
    /* the loops: each element alone, so the thread count changes nothing */
    const int64_t n = 200003;
    float *g = malloc(n * sizeof *g), *u = malloc(n * sizeof *u), *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    uint32_t s = SEED;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        g[i] = 8.0f * ((float)(s >> 8) / (float)(1u << 24) - 0.5f);
        u[i] = (float)i / (float)n - 0.5f;
    }
    for (int threads = 1; threads <= 3; threads += 2) {
        omp_set_num_threads(threads);
        float *dst = threads == 1 ? a : b;
        memcpy(dst, g, n * sizeof *g);
        backend_cpu()->geglu(dst, u, n);
        backend_cpu()->softcap(dst, n, 0.5f);
    }
    cr_expect(memcmp(a, b, n * sizeof *a) == 0, "1 and 3 threads give the same bits");
    for (int64_t i = 0; i < n; i += 9973) {
        const float want = det_softcapf(det_gelu_tanhf(g[i]) * u[i], 0.5f);
        cr_expect(memcmp(&a[i], &want, 4) == 0, "element %lld", (long long)i);
    }
    free(g);
    free(u);
    free(a);
    free(b);
}

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

/* Every path and thread count against the reference, with options. */
static void check_opts(int64_t n, int64_t n_head, int64_t n_head_kv, int64_t hd, int64_t pos0,
                       const struct backend_attn_opts *o)
{
    uint32_t s = SEED ^ (uint32_t)(n * 7919 + hd * 17 + pos0 + o->window * 31);
    const int64_t n_new = n - pos0, out_n = n_new * n_head * hd;
    float *q = random_floats(n_new * n_head * hd, &s, 3.0f), *k = random_floats(n * n_head_kv * hd, &s, 3.0f);
    float *v = random_floats(n * n_head_kv * hd, &s, 1.0f);
    float *ref = malloc((size_t)out_n * sizeof *ref), *got = malloc((size_t)out_n * sizeof *got);
    cr_assert_eq(det_attention_rows_ext_ref(q, k, v, pos0, n_new, n_head, n_head_kv, hd, o, ref), 0);
    const enum det_simd modes[] = {DET_SIMD_OFF, DET_SIMD_ON};
    for (int m = 0; m < 2; m++) {
        if (modes[m] == DET_SIMD_ON && !det_simd_available())
            continue;
        det_simd_set(modes[m]);
        for (int threads = 1; threads <= 3; threads++) {
            omp_set_num_threads(threads);
            cr_assert_eq(det_attention_rows_ext(q, k, v, pos0, n_new, n_head, n_head_kv, hd, o, got), 0);
            cr_expect(memcmp(got, ref, (size_t)out_n * sizeof *got) == 0,
                      "n %lld hd %lld pos0 %lld scale %g cap %g window %lld simd %d threads %d differ", (long long)n,
                      (long long)hd, (long long)pos0, (double)o->scale, (double)o->softcap, (long long)o->window,
                      modes[m], threads);
        }
    }
    det_simd_set(DET_SIMD_AUTO);
    free(q);
    free(k);
    free(v);
    free(ref);
    free(got);
}

Test(det_attention_ext, equals_the_reference_on_every_path, .timeout = 120)
{
    const struct backend_attn_opts opts[] = {
        {0.1f, 0.0f, 0}, {0.0f, 5.0f, 0}, {0.0f, 0.0f, 7}, {0.125f, 50.0f, 32}, {0.25f, 2.0f, 1},
    };
    for (size_t i = 0; i < sizeof opts / sizeof *opts; i++) {
        check_opts(70, 4, 2, 13, 0, &opts[i]);
        check_opts(130, 8, 8, 32, 0, &opts[i]);   /* the threaded path */
        check_opts(90, 4, 1, 24, 61, &opts[i]);   /* rows after a prefix */
    }
}

/* NULL options and zero options are the plain function, bit for bit. */
Test(det_attention_ext, no_options_is_plain_attention)
{
    uint32_t s = SEED;
    const int64_t n = 45, nh = 4, nkv = 2, hd = 16;
    float *q = random_floats(n * nh * hd, &s, 3.0f), *k = random_floats(n * nkv * hd, &s, 3.0f);
    float *v = random_floats(n * nkv * hd, &s, 1.0f);
    float *a = malloc(n * nh * hd * sizeof *a), *b = malloc(n * nh * hd * sizeof *b), *c = malloc(n * nh * hd * sizeof *c);
    const struct backend_attn_opts zero = {0};
    cr_assert_eq(backend_cpu()->attention_rows(q, k, v, 0, n, nh, nkv, hd, a), 0);
    cr_assert_eq(backend_cpu()->attention_rows_ext(q, k, v, 0, n, nh, nkv, hd, NULL, b), 0);
    cr_assert_eq(backend_cpu()->attention_rows_ext(q, k, v, 0, n, nh, nkv, hd, &zero, c), 0);
    cr_expect(memcmp(a, b, n * nh * hd * sizeof *a) == 0 && memcmp(a, c, n * nh * hd * sizeof *a) == 0);
    /* a window as wide as the sequence changes nothing either */
    const struct backend_attn_opts wide = {0.0f, 0.0f, n};
    cr_assert_eq(backend_cpu()->attention_rows_ext(q, k, v, 0, n, nh, nkv, hd, &wide, c), 0);
    cr_expect(memcmp(a, c, n * nh * hd * sizeof *a) == 0);
    free(q);
    free(k);
    free(v);
    free(a);
    free(b);
    free(c);
}

/* By hand: window 1 leaves each row only its own key, whose weight is 1: out = v of that row.
 * Window 2 at row 2: keys 1 and 2 with scores 0 and ln 4 (k1 = 0; q2·k2·scale = ln 4): weights
 * 1/5, 4/5. A soft cap of 0.5 on a score of 1000 gives 0.5·tanh(2000) = 0.5: with scores 0 and
 * 0.5 the weights are 1/(1 + e^0.5), e^0.5/(1 + e^0.5). */
Test(det_attention_ext, hand_worked_window_and_cap)
{
    const float q[] = {1.0f, 0.0f, 0.0f, 1.0f, 0.0f, 1.38629436f};   /* q2·k2·0.5 = ln 4 */
    const float k[] = {5.0f, 5.0f, 0.0f, 0.0f, 0.0f, 2.0f};
    const float v[] = {1.0f, 2.0f, 3.0f, -4.0f, 0.5f, 8.0f};
    float out[6];
    struct backend_attn_opts o = {0.5f, 0.0f, 1};
    cr_assert_eq(det_attention_rows_ext(q, k, v, 0, 3, 1, 1, 2, &o, out), 0);
    for (int i = 0; i < 6; i++)
        cr_expect_eq(out[i], v[i], "window 1: out[%d] = %g, v = %g", i, out[i], v[i]);
    o.window = 2;
    cr_assert_eq(det_attention_rows_ext(q, k, v, 0, 3, 1, 1, 2, &o, out), 0);
    cr_expect(fabsf(out[4] - (3.0f + 4.0f * 0.5f) / 5.0f) < 1e-6f && fabsf(out[5] - (-4.0f + 4.0f * 8.0f) / 5.0f) < 1e-6f,
              "window 2, row 2 = (v1 + 4 v2)/5: got %g %g", out[4], out[5]);
    /* row 1 sees keys 0 (score (0·5 + 1·5)·1000 → capped 0.5) and 1 (score 0) */
    const struct backend_attn_opts cap = {1000.0f, 0.5f, 0};
    cr_assert_eq(det_attention_rows_ext(q, k, v, 0, 3, 1, 1, 2, &cap, out), 0);
    const double w0 = exp(0.5) / (1.0 + exp(0.5)), w1 = 1.0 - w0;
    cr_expect(fabs(out[2] - (w0 * 1.0 + w1 * 3.0)) < 1e-6 && fabs(out[3] - (w0 * 2.0 - w1 * 4.0)) < 1e-6,
              "capped row 1: got %g %g", out[2], out[3]);
}
