/* test_q8_dot.c — `--matmul q8`'s integer products (kernels/cpu/q8_dot.c).
 *
 *   - the activation rounding is ggml's: q8k_quantize_row_ref's bytes equal those of llama.cpp's
 *     quantize_row_q8_K_ref (libggml-base) and of its CPU backend's Q8_K from_float
 *     (libggml-cpu-haswell, ggml_get_type_traits_cpu), q80_quantize_row_ref's those of its CPU
 *     backend's Q8_0 from_float (which ties and scales unlike quantize_row_q8_0_ref); skipped,
 *     saying so, without them;
 *   - the k-quant weight expansion reads ggml's block layouts: dS·S·q − dM·M equals quantizers/'
 *     dequantizers (which are byte-exact with ggml's, tests/quantizers) bit for bit (the
 *     32-element types' layouts are pinned by the next item);
 *   - the product is the dot product of what it says it multiplies: within float rounding of
 *     an fp64 sum over the dequantized weights and the dequantized Q8_K activations;
 *   - the AVX-512, AVX2 and portable kernels with 1, 2 and 3 threads, and the AVX2 activation
 *     rounding (ties, NaN, Inf, subnormals, the max first or last), equal the references bit for bit on
 *     shapes at the tile edges (weight rows 1, 2, 31, 32, 33, 65; activation rows 1, 3, 4, 5, 17;
 *     rows of 256, 768 and 2048);
 *   - a non-finite fp16 scale is refused naming the lowest such row; a NaN activation gives NaN.
 */
#include "../data/ggml_probe/ggml_lib.h"
#include "common/ig_error.h"
#include "common/ig_half.h"
#include "formats/ggml_type.h"
#include "kernels/cpu/det_gemm.h"
#include "kernels/cpu/q8_dot.h"
#include "quantizers/blocks.h"
#include "quantizers/quant_type.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdio.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SEED 20261206u

_Static_assert(Q8_WTYPE_Q4_K == GGML_TYPE_Q4_K && Q8_WTYPE_Q5_K == GGML_TYPE_Q5_K && Q8_WTYPE_Q6_K == GGML_TYPE_Q6_K,
               "q8_dot.h's type ids are ggml's");
_Static_assert(sizeof(block_q4_K) == 144 && sizeof(block_q5_K) == 176 && sizeof(block_q6_K) == 210,
               "q8_dot.c's block sizes are blocks.h's");

static const int32_t types[] = {GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K,
                                GGML_TYPE_Q4_0, GGML_TYPE_Q5_0, GGML_TYPE_Q8_0};
static const int32_t k_types[] = {GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K};   /* the expansion's */

static uint32_t next_u32(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Uniform in [-1, 1). */
static float next_uniform(uint32_t *s)
{
    return (float)((double)next_u32(s) / (double)(1u << 23)) - 1.0f;
}

/* Random weight rows of `type` (random bytes, finite fp16 scales of a plausible size). */
static uint8_t *random_weights(int32_t type, int64_t m, int64_t k, uint32_t *s)
{
    const size_t rb = q8_row_size_bytes(type, k), bb = quant_type_get(type)->block_bytes;
    cr_assert(rb > 0 && rb % bb == 0, "type %d, k %lld", type, (long long)k);
    uint8_t *w = malloc(rb * (size_t)m);
    cr_assert_not_null(w);
    for (size_t i = 0; i < rb * (size_t)m; i++)
        w[i] = (uint8_t)next_u32(s);
    for (size_t b = 0; b < rb * (size_t)m / bb; b++) {
        uint8_t *p = w + b * bb;
        const uint16_t d = ig_fp32_to_fp16(0.001f + 0.01f * (next_uniform(s) + 1.0f));
        const uint16_t dm = ig_fp32_to_fp16(0.002f * (next_uniform(s) + 1.0f));
        if (type == GGML_TYPE_Q6_K)
            memcpy(p + 208, &d, 2);
        else if (type == GGML_TYPE_Q4_0 || type == GGML_TYPE_Q5_0 || type == GGML_TYPE_Q8_0)
            memcpy(p, &d, 2);
        else {
            memcpy(p, &d, 2);
            memcpy(p + 2, &dm, 2);
        }
    }
    return w;
}

/* Activations like a normed hidden state, with an outlier now and then and one all-zero row. */
static float *random_acts(int64_t n, int64_t k, uint32_t *s)
{
    float *x = malloc((size_t)(n * k) * sizeof *x);
    cr_assert_not_null(x);
    for (int64_t i = 0; i < n * k; i++)
        x[i] = next_uniform(s) * (next_u32(s) % 97 == 0 ? 20.0f : 1.0f);
    if (n > 2)
        memset(x + 2 * k, 0, (size_t)k * sizeof *x);
    return x;
}

/* ---- the activation rounding ------------------------------------------------------------------------ */

/* ggml's CPU-backend type traits (ggml-cpu.h's struct ggml_type_traits_cpu: from_float first). */
struct ggml_cpu_traits {
    void (*from_float)(const float *x, void *y, int64_t k);
};

/* llama.cpp's two Q8_K roundings: libggml-base's quantize_row_q8_K_ref and the CPU backend's
 * from_float (what its mul_mat runs, libggml-cpu-haswell.so beside it); NULL when absent. */
static void ggml_q8k_fns(void (**ref)(const float *, void *, int64_t), void (**cpu)(const float *, void *, int64_t))
{
    const char *base = getenv("GGML_BASE_LIB") ? getenv("GGML_BASE_LIB") : GGML_LIB_DEFAULT;
    char cpu_path[4096];
    snprintf(cpu_path, sizeof cpu_path, "%s", base);
    char *slash = strrchr(cpu_path, '/');
    snprintf(slash ? slash + 1 : cpu_path, sizeof cpu_path - (size_t)(slash ? slash + 1 - cpu_path : 0),
             "libggml-cpu-haswell.so");
    *ref = NULL;
    *cpu = NULL;
    void *hb = dlopen(base, RTLD_NOW | RTLD_GLOBAL), *hc = hb ? dlopen(cpu_path, RTLD_NOW | RTLD_LOCAL) : NULL;
    void *sym = hb ? dlsym(hb, "quantize_row_q8_K_ref") : NULL;
    memcpy(ref, &sym, sizeof sym);
    sym = hc ? dlsym(hc, "ggml_get_type_traits_cpu") : NULL;
    const struct ggml_cpu_traits *(*traits)(int);
    memcpy(&traits, &sym, sizeof sym);
    if (traits && traits(GGML_TYPE_Q8_K))
        *cpu = traits(GGML_TYPE_Q8_K)->from_float;
}

Test(q8_dot, q8k_activations_equal_ggml_quantize_row_q8_K)
{
    void (*fns[2])(const float *, void *, int64_t);
    ggml_q8k_fns(&fns[0], &fns[1]);
    if (!fns[0])
        cr_skip_test("llama.cpp's libggml-base is not installed (set GGML_BASE_LIB): Q8_K rounding not compared");
    if (!fns[1])
        cr_log_warn("libggml-cpu-haswell.so is not beside libggml-base: only the reference rounding is compared");
    uint32_t s = SEED;
    enum { N_BLOCKS = 512 };
    float *x = random_acts(N_BLOCKS, 256, &s);
    /* ties at the rounding boundary: halves of the scale step, and the max at the block's end */
    for (int i = 0; i < 256; i++)
        x[5 * 256 + i] = (float)(i - 128) / 2.0f;
    x[6 * 256 + 255] = -3.0f;
    q8k_block *mine = calloc(N_BLOCKS, sizeof *mine), *want = calloc(N_BLOCKS, sizeof *want);
    q8k_quantize_row_ref(x, mine, N_BLOCKS * 256);
    for (int f = 0; f < 2 && fns[f]; f++) {
        fns[f](x, want, N_BLOCKS * 256);
        const char *who = f ? "the CPU backend's from_float" : "quantize_row_q8_K_ref";
        for (int b = 0; b < N_BLOCKS; b++) {
            cr_expect_eq(memcmp(&mine[b].d, &want[b].d, 4), 0, "block %d: d %a, %s %a (seed %u)", b,
                         (double)mine[b].d, who, (double)want[b].d, SEED);
            cr_expect_eq(memcmp(mine[b].qs, want[b].qs, 256), 0, "block %d: codes differ from %s", b, who);
            if (mine[b].d != 0.0f)   /* ggml leaves a zero block's bsums unset */
                cr_expect_eq(memcmp(mine[b].bsums, want[b].bsums, 32), 0, "block %d: bsums differ from %s", b, who);
        }
    }
    free(x);
    free(mine);
    free(want);
}

Test(q8_dot, q80_activations_equal_ggml_cpu_backend)
{
    const char *base = getenv("GGML_BASE_LIB") ? getenv("GGML_BASE_LIB") : GGML_LIB_DEFAULT;
    char cpu_path[4096];
    snprintf(cpu_path, sizeof cpu_path, "%s", base);
    char *slash = strrchr(cpu_path, '/');
    snprintf(slash ? slash + 1 : cpu_path, sizeof cpu_path - (size_t)(slash ? slash + 1 - cpu_path : 0),
             "libggml-cpu-haswell.so");
    void *hb = dlopen(base, RTLD_NOW | RTLD_GLOBAL), *hc = hb ? dlopen(cpu_path, RTLD_NOW | RTLD_LOCAL) : NULL;
    void *sym = hc ? dlsym(hc, "ggml_get_type_traits_cpu") : NULL;
    if (!sym)
        cr_skip_test("llama.cpp's libggml-cpu-haswell is not installed: Q8_0 rounding not compared");
    const struct ggml_cpu_traits *(*traits)(int);
    memcpy(&traits, &sym, sizeof sym);
    cr_assert(traits(GGML_TYPE_Q8_0) && traits(GGML_TYPE_Q8_0)->from_float);
    uint32_t s = SEED + 6;
    enum { N_BLOCKS = 4096 };   /* ties between the CPU's rounding and the reference's show ~1 in 10^4 */
    float *x = random_acts(N_BLOCKS, 32, &s);
    for (int i = 0; i < 32; i++)
        x[5 * 32 + i] = (float)(i - 16) / 2.0f;
    q80_block *mine = calloc(N_BLOCKS, sizeof *mine), *want = calloc(N_BLOCKS, sizeof *want);
    q80_quantize_row_ref(x, mine, N_BLOCKS * 32);
    traits(GGML_TYPE_Q8_0)->from_float(x, want, N_BLOCKS * 32);
    int bad = 0;
    for (int b = 0; b < N_BLOCKS && bad < 5; b++)
        if (memcmp(&mine[b], &want[b], sizeof mine[b]) != 0) {
            bad++;
            cr_expect_fail("block %d differs from the CPU backend's Q8_0 (seed %u)", b, SEED + 6);
        }
    free(x);
    free(mine);
    free(want);
}

Test(q8_dot, q8k_hand_example)
{
    /* max = −2 (the first of the largest magnitude, with its sign), iscale = −127/max = 63.5,
     * d = 1/63.5: 1 → nearest_int(63.5) = 64 (ties to even), −2 → −127, 2 → 127, 0.5 → 31.75 → 32 */
    float x[256] = {0};
    x[0] = 1.0f;
    x[1] = -2.0f;
    x[2] = 2.0f;
    x[17] = 0.5f;
    q8k_block y;
    q8k_quantize_row_ref(x, &y, 256);
    cr_expect_eq(y.qs[0], 64);
    cr_expect_eq(y.qs[1], -127);
    cr_expect_eq(y.qs[2], 127);
    cr_expect_eq(y.qs[17], 32);
    cr_expect_eq(y.bsums[0], 64 - 127 + 127);
    cr_expect_eq(y.bsums[1], 32);
    cr_expect_eq(y.d, 1.0f / 63.5f);
}

Test(q8_dot, q8k_avx2_rounding_equals_the_reference)
{
    if (!det_simd_available())
        cr_skip_test("this CPU has no AVX2: nothing to compare");
    uint32_t s = SEED + 5;
    enum { N_BLOCKS = 16 };
    float *x = random_acts(N_BLOCKS, 256, &s);
    for (int i = 0; i < 256; i++)
        x[3 * 256 + i] = (float)(i - 128) / 2.0f;   /* ties */
    x[4 * 256 + 7] = -5.0f;                          /* −5 first, then +5: max is −5 */
    x[4 * 256 + 9] = 5.0f;
    x[5 * 256 + 255] = 9.0f;                         /* the max at the block's end */
    x[6 * 256 + 17] = NAN;
    x[7 * 256 + 200] = -INFINITY;
    x[8 * 256 + 3] = 1e-40f;                         /* subnormal beside zeros */
    for (int i = 0; i < 256; i++)
        x[9 * 256 + i] = 0.0f;
    q8k_block want[N_BLOCKS], got[N_BLOCKS];
    q8k_quantize_row_ref(x, want, N_BLOCKS * 256);
    det_simd_set(DET_SIMD_ON);
    q8k_quantize_row(x, got, N_BLOCKS * 256);
    det_simd_set(DET_SIMD_AUTO);
    for (int b = 0; b < N_BLOCKS; b++)
        cr_expect_eq(memcmp(&got[b], &want[b], sizeof got[b]), 0, "block %d: AVX2 bytes differ (d %a vs %a)", b,
                     (double)got[b].d, (double)want[b].d);
    free(x);
}

/* ---- the weight expansion -------------------------------------------------------------------------- */

Test(q8_dot, expansion_reproduces_the_dequantizers)
{
    uint32_t s = SEED;
    for (size_t ti = 0; ti < sizeof k_types / sizeof k_types[0]; ti++) {
        const int32_t type = k_types[ti];
        const struct quant_type *qt = quant_type_get(type);
        cr_assert(qt && qt->dequantize_row_ref);
        enum { N_BLOCKS = 32 };
        uint8_t *w = random_weights(type, 1, N_BLOCKS * 256, &s);
        float want[256];
        int bad = 0;
        for (int b = 0; b < N_BLOCKS && bad < 5; b++) {
            const uint8_t *blk = w + (size_t)b * qt->block_bytes;
            q8x_wblock e;
            cr_assert_eq(q8x_expand_block(type, blk, &e), 0);
            qt->dequantize_row_ref(blk, want, 256);
            for (int i = 0; i < 256 && bad < 5; i++) {
                const int g = i / 16, S = e.s[g / 2][(g % 2) * 8];
                /* ggml: (d·sc)·q − dmin·m for Q4_K/Q5_K; (d·sc)·(q − 32) for Q6_K */
                const float got = e.fold ? (e.d_s * (float)S) * (float)(e.q[i] - e.m[g] / S)
                                         : (e.d_s * (float)S) * (float)e.q[i] - e.d_m * (float)e.m[g];
                if (S == 0 && e.fold)
                    continue;   /* M/S undefined; the element is 0 either way */
                if (memcmp(&got, &want[i], 4) != 0) {
                    bad++;
                    cr_expect_fail("%s block %d element %d: expanded %a, dequantizer %a", qt->name, b, i, (double)got,
                                   (double)want[i]);
                }
            }
        }
        free(w);
    }
}

/* ---- the product --------------------------------------------------------------------------------- */

Test(q8_dot, product_is_the_dot_of_the_dequantized_operands)
{
    uint32_t s = SEED + 1;
    const int64_t n = 5, m = 7, k = 768;
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const int32_t type = types[ti];
        const struct quant_type *qt = quant_type_get(type);
        uint8_t *w = random_weights(type, m, k, &s);
        float *x = random_acts(n, k, &s), *y = malloc((size_t)(n * m) * sizeof *y);
        float *wf = malloc((size_t)k * sizeof *wf), *xf = malloc((size_t)k * sizeof *xf);
        q8k_block xq[3];
        q80_block x0[24];
        const bool b32 = qt->block_elems == 32;
        cr_assert_eq(q8_matmul_ref(x, n, k, type, w, m, NULL, y), 0, "%s", ig_error_message());
        for (int64_t t = 0; t < n; t++) {
            q8k_quantize_row_ref(x + t * k, xq, k);
            q80_quantize_row_ref(x + t * k, x0, k);
            for (int64_t i = 0; i < k; i++)   /* the activations each type multiplies */
                xf[i] = b32 ? ig_fp16_to_fp32(x0[i / 32].d) * (float)x0[i / 32].qs[i % 32]
                            : xq[i / 256].d * (float)xq[i / 256].qs[i % 256];
            for (int64_t j = 0; j < m; j++) {
                qt->dequantize_row_ref(w + (size_t)j * q8_row_size_bytes(type, k), wf, k);
                double dot = 0.0, mag = 0.0;
                for (int64_t i = 0; i < k; i++) {
                    dot += (double)wf[i] * (double)xf[i];
                    mag += fabs((double)wf[i] * (double)xf[i]);
                }
                /* a few float roundings of terms up to mag: 1e-5 of it is ample, and far below
                 * any mistake in a code, a scale or a min (each moves the sum by ~mag/k or more) */
                cr_expect(fabs((double)y[t * m + j] - dot) <= 1e-5 * mag + 1e-30,
                          "%s t %lld j %lld: q8 %.9g, fp64 of the dequantized operands %.9g (mag %.3g)", qt->name,
                          (long long)t, (long long)j, (double)y[t * m + j], dot, mag);
            }
        }
        free(w);
        free(x);
        free(y);
        free(wf);
        free(xf);
    }
}

Test(q8_dot, avx2_portable_and_threads_equal_the_reference)
{
    const int64_t ms[] = {1, 2, 31, 32, 33, 65}, ns[] = {1, 3, 4, 5, 17}, ks[] = {256, 768, 2048};
    const int threads[] = {1, 2, 3};
    /* portable; AVX2; AVX-512 where the CPU has it (else AVX2 again) */
    const enum det_simd modes[] = {DET_SIMD_OFF, DET_SIMD_ON, DET_SIMD_ON};
    const enum q8_simd kernels[] = {Q8_SIMD_AUTO, Q8_SIMD_AVX2, Q8_SIMD_AUTO};
    if (!det_simd_available())
        cr_log_warn("this CPU has no AVX2: the forced-AVX2 runs fall back to the portable kernel");
    uint32_t s = SEED + 2;
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++)
        for (size_t a = 0; a < 6; a++)
            for (size_t b = 0; b < 5; b++)
                for (size_t c = 0; c < 3; c++) {   /* 256-wide rows: whole blocks of both kinds */
                    const int64_t m = ms[a], n = ns[b], k = ks[c];
                    uint8_t *w = random_weights(types[ti], m, k, &s);
                    float *x = random_acts(n, k, &s), *bias = random_acts(1, m, &s);
                    float *want = malloc((size_t)(n * m) * sizeof *want), *got = malloc((size_t)(n * m) * sizeof *got);
                    cr_assert_eq(q8_matmul_ref(x, n, k, types[ti], w, m, bias, want), 0);
                    for (int mi = 0; mi < 3; mi++)
                        for (int th = 0; th < 3; th++) {
                            det_simd_set(modes[mi]);
                            q8_simd_set(kernels[mi]);
                            omp_set_num_threads(threads[th]);
                            memset(got, 0xff, (size_t)(n * m) * sizeof *got);
                            cr_assert_eq(q8_matmul(x, n, k, types[ti], w, m, bias, got), 0);
                            cr_expect_eq(memcmp(got, want, (size_t)(n * m) * sizeof *got), 0,
                                         "type %d n %lld m %lld k %lld kernel %d threads %d: bits differ (seed %u)",
                                         types[ti], (long long)n, (long long)m, (long long)k, mi,
                                         threads[th], SEED + 2);
                        }
                    det_simd_set(DET_SIMD_AUTO);
                    q8_simd_set(Q8_SIMD_AUTO);
                    free(w);
                    free(x);
                    free(bias);
                    free(want);
                    free(got);
                }
}

/* ---- failures ------------------------------------------------------------------------------------ */

Test(q8_dot, non_finite_scale_names_the_lowest_row)
{
    uint32_t s = SEED + 3;
    const int64_t m = 70, k = 512;
    uint8_t *w = random_weights(GGML_TYPE_Q4_K, m, k, &s);
    const uint16_t inf = 0x7c00, nan = 0x7e00;
    memcpy(w + 41 * q8_row_size_bytes(GGML_TYPE_Q4_K, k) + 144, &inf, 2);   /* row 41, block 1: d */
    memcpy(w + 66 * q8_row_size_bytes(GGML_TYPE_Q4_K, k) + 2, &nan, 2);     /* row 66, block 0: dmin */
    float *x = random_acts(3, k, &s), y[3 * 70];
    for (int th = 1; th <= 3; th++) {
        omp_set_num_threads(th);
        cr_expect_eq(q8_matmul(x, 3, k, GGML_TYPE_Q4_K, w, m, NULL, y), IG_EINVAL);
        cr_expect(strstr(ig_error_message(), "row 41, block 1"), "threads %d: %s", th, ig_error_message());
    }
    cr_expect_eq(q8_matmul_ref(x, 3, k, GGML_TYPE_Q4_K, w, m, NULL, y), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "row 41, block 1"), "%s", ig_error_message());
    cr_expect_eq(q8_matmul(x, 3, 300, GGML_TYPE_Q4_K, w, 1, NULL, y), IG_EINVAL, "k not whole blocks");
    cr_expect_eq(q8_matmul(x, 3, 48, GGML_TYPE_Q8_0, w, 1, NULL, y), IG_EINVAL, "k not whole blocks of 32");
    cr_expect_eq(q8_matmul(x, 3, k, GGML_TYPE_Q8_0 + 100, w, 1, NULL, y), IG_EINVAL, "a type without a kernel");
    free(w);
    /* the 32-element types name theirs too: row 9, block 5 */
    w = random_weights(GGML_TYPE_Q8_0, m, k, &s);
    memcpy(w + 9 * q8_row_size_bytes(GGML_TYPE_Q8_0, k) + 5 * 34, &inf, 2);
    for (int th = 1; th <= 3; th += 2) {
        omp_set_num_threads(th);
        cr_expect_eq(q8_matmul(x, 3, k, GGML_TYPE_Q8_0, w, m, NULL, y), IG_EINVAL);
        cr_expect(strstr(ig_error_message(), "row 9, block 5"), "threads %d: %s", th, ig_error_message());
    }
    free(w);
    free(x);
}

Test(q8_dot, nan_activation_gives_nan_outputs)
{
    uint32_t s = SEED + 4;
    const int64_t m = 4, k = 512;
    const int32_t ts[] = {GGML_TYPE_Q6_K, GGML_TYPE_Q8_0};
    for (int ti = 0; ti < 2; ti++) {
        uint8_t *w = random_weights(ts[ti], m, k, &s);
        float *x = random_acts(2, k, &s), y[8];
        x[300] = NAN;   /* row 0 */
        cr_assert_eq(q8_matmul(x, 2, k, ts[ti], w, m, NULL, y), 0);
        for (int j = 0; j < 4; j++) {
            cr_expect(isnan(y[j]), "type %d row 0 output %d: %g", ts[ti], j, (double)y[j]);
            cr_expect(isfinite(y[4 + j]), "type %d row 1 output %d: %g", ts[ti], j, (double)y[4 + j]);
        }
        free(w);
        free(x);
    }
}
