/* cuda_equiv.h — the equivalence cases of kernels/cuda/ against their CPU references, written
 * once and run twice: by tests/cuda_shim/ on the host-C++ shim build (every CI run, also under
 * ThreadSanitizer: make tsan-cuda-shim) and by tests/cuda/ on a real GPU (make test-cuda; skipped,
 * saying why, without one).
 *
 * Include after defining (or not) IG_CUDA_SHIM_API: kernels/cuda/cuda_kernels.h then names the
 * shim's or the GPU's launchers, and CUDA_API below points at them. Every case builds its input
 * from a fixed seed, which a failure prints. Golden values are the CPU references themselves
 * (quantizers/' quantize_row_ref, already pinned to llama.cpp's bytes by tests/quantizers;
 * kernels/cpu's backend and det_* functions): the contract is "same bytes as the CPU".
 */
#ifndef TESTS_CUDA_EQUIV_H
#define TESTS_CUDA_EQUIV_H

#include "../../kernels/cuda/cuda_kernels.h"

#include "../../common/ig_error.h"
#include "../../common/ig_half.h"
#include "../../formats/ggml_type.h"
#include "../../kernels/backend.h"
#include "../../kernels/cpu/det_attention.h"
#include "../../kernels/cpu/det_math.h"
#include "../../quantizers/quant_type.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- checks: Criterion's, or a plain report for the ThreadSanitizer driver -------------- */

/* EQ_EXPECT(cond, fmt, ...) reports a failed cond and goes on; EQ_ASSERT stops the case.
 * Criterion cannot start under ThreadSanitizer (its shared arena collides with TSan's shadow
 * memory), so tests/cuda_shim/tsan/shim_tsan_main.c defines EQ_PLAIN_CHECKS and counts. */
#ifdef EQ_PLAIN_CHECKS
static int equiv_failures;
#define EQ_REPORT(...)                                             \
    do {                                                           \
        fprintf(stderr, "FAILED %s:%d: ", __FILE__, __LINE__);     \
        fprintf(stderr, __VA_ARGS__);                              \
        fputc('\n', stderr);                                       \
        equiv_failures++;                                          \
    } while (0)
#define EQ_EXPECT(cond, ...)                                       \
    do {                                                           \
        if (!(cond))                                               \
            EQ_REPORT(__VA_ARGS__);                                \
    } while (0)
#define EQ_ASSERT(cond, ...)                                       \
    do {                                                           \
        if (!(cond)) {                                             \
            EQ_REPORT(__VA_ARGS__);                                \
            abort();                                               \
        }                                                          \
    } while (0)
#else
#include <criterion/criterion.h>
#define EQ_EXPECT(cond, ...) cr_expect(cond, __VA_ARGS__)
#define EQ_ASSERT(cond, ...) cr_assert(cond, __VA_ARGS__)
#endif

/* ---- inputs ---------------------------------------------------------------------------- */

static uint64_t equiv_rng __attribute__((unused));

static inline uint32_t equiv_next(void)
{
    equiv_rng ^= equiv_rng << 13;
    equiv_rng ^= equiv_rng >> 7;
    equiv_rng ^= equiv_rng << 17;
    return (uint32_t)(equiv_rng >> 32);
}

/* Uniform in [-1, 1). */
static inline float equiv_uniform(void)
{
    return (float)equiv_next() / 2147483648.0f - 1.0f;
}

/* Roughly normal: the sum of four uniforms. */
static inline float equiv_normal(void)
{
    return (equiv_uniform() + equiv_uniform() + equiv_uniform() + equiv_uniform()) * 0.8660254f;
}

/* The input kinds of the quantize cases (style.md, "Equivalence tests"). */
enum equiv_kind {
    EQ_NORMAL,       /* N(0,1) scaled by 10^(seed % 5 - 2) */
    EQ_ZERO_GROUP,   /* normal, with every third 32-element group all zero */
    EQ_OUTLIER,      /* normal, one large outlier per 32 elements */
    EQ_SPECIAL,      /* negative zero, fp32 subnormals, fp16's largest values and subnormals */
    EQ_NONFINITE,    /* normal with one NaN and one Inf (NF4 and INT groups must refuse) */
    EQ_KINDS
};

static inline const char *equiv_kind_name(enum equiv_kind kind)
{
    static const char *const names[EQ_KINDS] = {"normal", "zero-group", "outlier", "special", "nonfinite"};
    return names[kind];
}

static inline void equiv_fill(float *x, int64_t n, enum equiv_kind kind, uint64_t seed)
{
    equiv_rng = seed * 0x9E3779B97F4A7C15ull + 1;
    const float scale = powf(10.0f, (float)(int)(seed % 5) - 2.0f);
    for (int64_t i = 0; i < n; i++)
        x[i] = equiv_normal() * scale;
    for (int64_t i = 0; i < n; i++) {
        if (kind == EQ_ZERO_GROUP && (i / 32) % 3 == 0)
            x[i] = 0.0f;
        if (kind == EQ_OUTLIER && i % 32 == (int64_t)(equiv_next() % 32))
            x[i] *= 50.0f;
        if (kind == EQ_SPECIAL) {
            static const float special[] = {-0.0f, 1e-40f, -3e-42f, 65504.0f, -65504.0f, 6.1e-5f, 5.96e-8f,
                                            1.0f, 0.0f};
            if (equiv_next() % 3 == 0)
                x[i] = special[equiv_next() % (sizeof special / sizeof special[0])];
        }
    }
    if (kind == EQ_NONFINITE && n > 1) {
        x[n / 2] = NAN;
        x[n - 1] = INFINITY;
    }
}

/* ---- the API under test --------------------------------------------------------------- */

/* Device memory with the inputs copied in, freed by equiv_dfree. Asserts. */
static inline void *equiv_dup(const void *src, size_t size_bytes)
{
    void *d = NULL;
    int rc = cuda_malloc(&d, size_bytes);
    EQ_ASSERT(rc == 0, "cuda_malloc(%zu): %s", size_bytes, ig_error_message());
    if (src) {
        rc = cuda_upload(d, src, size_bytes);
        EQ_ASSERT(rc == 0, "cuda_upload: %s", ig_error_message());
    }
    return d;
}

static inline void equiv_fetch(void *dst, const void *d_src, size_t size_bytes)
{
    int rc = cuda_synchronize();
    if (!rc)
        rc = cuda_download(dst, d_src, size_bytes);
    EQ_ASSERT(rc == 0, "download: %s", ig_error_message());
}

/* Index of the first differing byte of a and b, or -1. */
static inline int64_t equiv_first_diff(const void *a, const void *b, size_t size_bytes)
{
    const uint8_t *pa = (const uint8_t *)a, *pb = (const uint8_t *)b;
    for (size_t i = 0; i < size_bytes; i++)
        if (pa[i] != pb[i])
            return (int64_t)i;
    return -1;
}

static inline void equiv_print_bytes(const char *what, const uint8_t *p, size_t n)
{
    fprintf(stderr, "  %s:", what);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %02x", p[i]);
    fprintf(stderr, "\n");
}

/* ---- quantize ---------------------------------------------------------------------------- */

/* One type, one shape, one input: the kernel's bytes must be the reference's, row by row, and
 * so must the dequantized floats; inputs the reference refuses, the kernel refuses. Prints
 * the first differing block (both byte strings and the inputs) on a mismatch. */
static inline void equiv_quantize_case(const struct quant_type *qt, int64_t n_rows, int64_t n_cols,
                                       enum equiv_kind kind, uint64_t seed, int with_imatrix)
{
    const int64_t n = n_rows * n_cols;
    float *x = (float *)malloc((size_t)(n ? n : 1) * sizeof *x);
    float *w = (float *)malloc((size_t)(n_cols ? n_cols : 1) * sizeof *w);
    EQ_ASSERT(x && w, "x && w");
    equiv_fill(x, n, kind, seed);
    for (int64_t j = 0; j < n_cols; j++)
        w[j] = (j % 11 == 0) ? 0.0f : fabsf(equiv_uniform()) * 4.0f;
    const char *im = with_imatrix ? "imatrix" : "plain";

    /* the reference, row by row; a refusal of any row is the reference's verdict */
    const size_t row_bytes = quant_row_size_bytes(qt, n_cols);
    uint8_t *want = (uint8_t *)calloc(n_rows ? (size_t)n_rows * row_bytes : 1, 1);
    uint8_t *got = (uint8_t *)calloc(n_rows ? (size_t)n_rows * row_bytes : 1, 1);
    EQ_ASSERT(want && got, "want && got");
    int ref_rc = 0;
    for (int64_t r = 0; r < n_rows && !ref_rc; r++)
        ref_rc = qt->quantize_row_ref(x + r * n_cols, want + r * row_bytes, n_cols, with_imatrix ? w : NULL);

    float *d_x = (float *)equiv_dup(x, (size_t)n * sizeof *x);
    float *d_w = (float *)equiv_dup(w, (size_t)n_cols * sizeof *w);
    uint8_t *d_y = (uint8_t *)equiv_dup(NULL, (size_t)n_rows * row_bytes);
    int rc = cuda_quantize_rows(qt->id, d_x, d_y, n_rows, n_cols, with_imatrix ? d_w : NULL, NULL);
    if (ref_rc) {
        EQ_EXPECT(rc == IG_EINVAL, "%s %lldx%lld %s %s seed %llu: the reference refuses (%d) but the kernel "
                     "returned %d", qt->name, (long long)n_rows, (long long)n_cols, equiv_kind_name(kind), im,
                     (unsigned long long)seed, ref_rc, rc);
    } else {
        EQ_EXPECT(rc == 0, "%s %lldx%lld %s %s seed %llu: kernel failed: %s", qt->name, (long long)n_rows,
                     (long long)n_cols, equiv_kind_name(kind), im, (unsigned long long)seed, ig_error_message());
        equiv_fetch(got, d_y, (size_t)n_rows * row_bytes);
        const int64_t diff = equiv_first_diff(want, got, (size_t)n_rows * row_bytes);
        if (diff >= 0) {
            const int64_t blk = diff / (int64_t)qt->block_bytes;
            fprintf(stderr, "%s %lldx%lld %s %s seed %llu: first difference in block %lld (byte %lld)\n", qt->name,
                    (long long)n_rows, (long long)n_cols, equiv_kind_name(kind), im, (unsigned long long)seed,
                    (long long)blk, (long long)diff);
            equiv_print_bytes("cpu", want + blk * qt->block_bytes, qt->block_bytes);
            equiv_print_bytes("gpu", got + blk * qt->block_bytes, qt->block_bytes);
            fprintf(stderr, "  x:");
            for (int64_t j = 0; j < qt->block_elems; j++)
                fprintf(stderr, " %a", (double)x[blk * qt->block_elems + j]);
            fprintf(stderr, "\n");
        }
        EQ_EXPECT(diff == -1, "%s %lldx%lld %s %s seed %llu: bytes differ from the reference at byte %lld",
                     qt->name, (long long)n_rows, (long long)n_cols, equiv_kind_name(kind), im,
                     (unsigned long long)seed, (long long)diff);

        /* dequantize the reference's bytes on both sides */
        float *y_want = (float *)malloc((size_t)(n ? n : 1) * sizeof(float));
        float *y_got = (float *)malloc((size_t)(n ? n : 1) * sizeof(float));
        EQ_ASSERT(y_want && y_got, "y_want && y_got");
        for (int64_t r = 0; r < n_rows; r++)
            qt->dequantize_row_ref(want + r * row_bytes, y_want + r * n_cols, n_cols);
        int rc2 = cuda_upload(d_y, want, (size_t)n_rows * row_bytes);
        if (!rc2)
            rc2 = cuda_dequantize_rows(qt->id, d_y, d_x, n_rows, n_cols, NULL);
        EQ_EXPECT(rc2 == 0, "%s dequantize: %s", qt->name, ig_error_message());
        equiv_fetch(y_got, d_x, (size_t)n * sizeof(float));
        const int64_t ddiff = equiv_first_diff(y_want, y_got, (size_t)n * sizeof(float));
        EQ_EXPECT(ddiff == -1, "%s %lldx%lld seed %llu: dequantized element %lld is %a, the reference's %a",
                     qt->name, (long long)n_rows, (long long)n_cols, (unsigned long long)seed,
                     (long long)(ddiff / 4), ddiff >= 0 ? (double)y_got[ddiff / 4] : 0.0,
                     ddiff >= 0 ? (double)y_want[ddiff / 4] : 0.0);
        free(y_want);
        free(y_got);
    }
    cuda_free(d_x);
    cuda_free(d_w);
    cuda_free(d_y);
    free(want);
    free(got);
    free(x);
    free(w);
}

/* Every type the kernels support, in shapes of 1 and 3 rows and 1, 2 and 9 blocks per row, each
 * input kind, with and without an importance matrix. include_nonfinite: NaN/Inf inputs for the
 * ggml types too (the shim: same CPU, same NaN bits; a GPU's NaN sign bits may differ there,
 * see tests/cuda). */
static inline void equiv_quantize_all(int include_nonfinite_ggml)
{
    static const int64_t rows[] = {1, 3};
    static const int64_t blocks[] = {1, 2, 9};
    int n_types = 0;
    for (size_t ti = 0; quant_type_at(ti); ti++) {
        const struct quant_type *qt = quant_type_at(ti);
        if (!cuda_quantize_supports(qt->id))
            continue;
        n_types++;
        const int ext = (qt->id >= GGML_TYPE_INGOT_BASE);
        uint64_t seed = (uint64_t)qt->id * 1000;
        for (int k = 0; k < EQ_KINDS; k++) {
            if (k == EQ_NONFINITE && !ext && !include_nonfinite_ggml)
                continue;
            for (size_t ri = 0; ri < sizeof rows / sizeof rows[0]; ri++)
                for (size_t bi = 0; bi < sizeof blocks / sizeof blocks[0]; bi++) {
                    seed++;
                    equiv_quantize_case(qt, rows[ri], blocks[bi] * qt->block_elems, (enum equiv_kind)k, seed,
                                        (int)(seed % 2));
                }
        }
    }
    EQ_EXPECT(n_types == 19, "expected the 19 types of cuda_kernels.h, found %d", n_types);
}

/* Lengths of block − 1 and block + 1 are refused by both sides, as is a type without a kernel. */
static inline void equiv_quantize_refusals(void)
{
    const struct quant_type *qt = quant_type_get(GGML_TYPE_Q4_K);
    float *d_x = (float *)equiv_dup(NULL, 3 * 257 * sizeof(float));
    uint8_t *d_y = (uint8_t *)equiv_dup(NULL, 3 * 2 * qt->block_bytes);
    for (int64_t n_cols = 255; n_cols <= 257; n_cols += 2) {
        EQ_EXPECT((cuda_quantize_rows(GGML_TYPE_Q4_K, d_x, d_y, 3, n_cols, NULL, NULL)) == (IG_EINVAL),
                     "Q4_K with %lld columns must be refused", (long long)n_cols);
        EQ_EXPECT(strstr(ig_error_message(), "256-element blocks"), "message: %s", ig_error_message());
    }
    EQ_EXPECT((cuda_quantize_rows(GGML_TYPE_F16, d_x, d_y, 1, 256, NULL, NULL)) == (IG_EINVAL), "F16 has no kernel");
    EQ_EXPECT(strstr(ig_error_message(), "no CUDA quantizer"), "message: %s", ig_error_message());
    EQ_EXPECT((cuda_quantize_rows(GGML_TYPE_Q4_K, d_x, d_y, 0, 256, NULL, NULL)) == (0), "zero rows is no work");
    cuda_free(d_x);
    cuda_free(d_y);
}

/* ---- forward-pass operations ------------------------------------------------------------------ */

static inline void equiv_expect_same_floats(const float *want, const float *got, int64_t n, const char *what)
{
    const int64_t diff = equiv_first_diff(want, got, (size_t)n * sizeof(float));
    EQ_EXPECT(diff == -1, "%s: element %lld is %a, the CPU's %a", what, (long long)(diff / 4),
                 diff >= 0 ? (double)got[diff / 4] : 0.0, diff >= 0 ? (double)want[diff / 4] : 0.0);
}

static inline void equiv_rms_norm(void)
{
    static const int64_t dims[] = {1, 7, 256, 300};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        const int64_t n = 3, dim = dims[di];
        const size_t bytes = (size_t)(n * dim) * sizeof(float);
        float *x = (float *)malloc(bytes), *w = (float *)malloc((size_t)dim * sizeof *w);
        float *want = (float *)malloc(bytes), *got = (float *)malloc(bytes);
        equiv_fill(x, n * dim, EQ_NORMAL, 40 + di);
        for (int64_t i = 0; i < dim; i++)
            w[i] = 1.0f + equiv_uniform();
        backend_cpu()->rms_norm(x, n, dim, w, 1e-6f, want);
        float *d_x = (float *)equiv_dup(x, bytes), *d_w = (float *)equiv_dup(w, (size_t)dim * sizeof *w);
        const int rc = cuda_rms_norm(d_x, n, dim, d_w, 1e-6f, d_x, NULL);
        EQ_EXPECT(rc == 0, "%s", ig_error_message());
        equiv_fetch(got, d_x, bytes);
        char what[64];
        snprintf(what, sizeof what, "rms_norm dim %lld (in place)", (long long)dim);
        equiv_expect_same_floats(want, got, n * dim, what);
        cuda_free(d_x);
        cuda_free(d_w);
        free(x), free(w), free(want), free(got);
    }
}

static inline void equiv_rope(void)
{
    /* the last case: phi3 longrope's partial rotary with factors and an attention factor */
    static const struct { int64_t head_dim, n_rot, pos0; int mode; float freq_scale; int factors; float mscale; } cases[] = {
        {8, 8, 0, ROPE_MODE_NORM, 1.0f, 0, 1.0f}, {64, 64, 17, ROPE_MODE_NEOX, 1.0f, 0, 1.0f},
        {64, 32, 3, ROPE_MODE_NORM, 0.25f, 1, 1.0f}, {16, 16, 100000, ROPE_MODE_NEOX, 1.0f, 1, 1.0f},
        {32, 24, 300, ROPE_MODE_NEOX, 1.0f, 1, 1.2247449f},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int64_t n = 5, n_head = 3, hd = cases[c].head_dim, total = n * n_head * hd;
        float *x = (float *)malloc((size_t)total * sizeof *x), *got = (float *)malloc((size_t)total * sizeof *got);
        float ff[32];
        equiv_fill(x, total, EQ_NORMAL, 60 + c);
        for (int i = 0; i < 32; i++)
            ff[i] = 1.0f + (float)i * 0.37f;
        float *d_x = (float *)equiv_dup(x, (size_t)total * sizeof *x);
        const float *factors = cases[c].factors ? ff : NULL;
        const int cpu_rc = backend_cpu()->rope(x, n, n_head, hd, cases[c].n_rot, cases[c].pos0, 10000.0f,
                                               cases[c].freq_scale, factors, cases[c].mscale,
                                               (enum rope_mode)cases[c].mode);
        EQ_ASSERT(cpu_rc == 0, "cpu rope: %s", ig_error_message());
        const int rc = cuda_rope(d_x, n, n_head, hd, cases[c].n_rot, cases[c].pos0, 10000.0f, cases[c].freq_scale,
                                 factors, cases[c].mscale, cases[c].mode, NULL);
        EQ_EXPECT(rc == 0, "%s", ig_error_message());
        equiv_fetch(got, d_x, (size_t)total * sizeof *got);
        char what[64];
        snprintf(what, sizeof what, "rope case %zu", c);
        equiv_expect_same_floats(x, got, total, what);
        cuda_free(d_x);
        free(x), free(got);
    }
}

static inline void equiv_swiglu(void)
{
    static const int64_t lens[] = {1, 255, 256, 257, 1000};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        const int64_t n = lens[li];
        float *g = (float *)malloc((size_t)n * sizeof *g), *u = (float *)malloc((size_t)n * sizeof *u);
        float *got = (float *)malloc((size_t)n * sizeof *got);
        for (int64_t i = 0; i < n; i++) {
            g[i] = equiv_uniform() * 20.0f;
            u[i] = equiv_normal();
        }
        static const float edge[] = {0.0f, -0.0f, 100.0f, -100.0f, 88.7f, -103.9f, 1e-30f};
        for (size_t i = 0; i < sizeof edge / sizeof edge[0] && (int64_t)i < n; i++)
            g[i] = edge[i];
        float *d_g = (float *)equiv_dup(g, (size_t)n * sizeof *g), *d_u = (float *)equiv_dup(u, (size_t)n * sizeof *u);
        backend_cpu()->swiglu(g, u, n);
        const int rc = cuda_swiglu(d_g, d_u, n, NULL);
        EQ_EXPECT(rc == 0, "%s", ig_error_message());
        equiv_fetch(got, d_g, (size_t)n * sizeof *got);
        char what[64];
        snprintf(what, sizeof what, "swiglu n %lld", (long long)n);
        equiv_expect_same_floats(g, got, n, what);
        cuda_free(d_g);
        cuda_free(d_u);
        free(g), free(u), free(got);
    }
}

/* The device copy of det_expf against det_expf on every step-th bit pattern of the 2^32 floats
 * (step odd: both signs, NaN, Inf and the subnormals all come up), plus the thresholds. The GPU
 * test takes step 4093 (about a million values); the shim, whose blocks run on OS threads, 65521. */
static inline void equiv_expf(uint32_t step)
{
    const int64_t n = (int64_t)(0x100000000ull / step) + 4;
    float *x = (float *)malloc((size_t)n * sizeof *x), *got = (float *)malloc((size_t)n * sizeof *got);
    for (int64_t i = 0; i < n - 4; i++)
        x[i] = ig_bits_f32((uint32_t)((uint64_t)i * step));
    x[n - 4] = 100.0f, x[n - 3] = -110.0f, x[n - 2] = 88.72283f, x[n - 1] = -103.97208f;
    float *d_x = (float *)equiv_dup(x, (size_t)n * sizeof *x);
    const int rc = cuda_expf_array(d_x, d_x, n, NULL);
    EQ_ASSERT(rc == 0, "%s", ig_error_message());
    equiv_fetch(got, d_x, (size_t)n * sizeof *got);
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        const float want = det_expf(x[i]);
        const int same = isnan(want) ? isnan(got[i]) : ig_f32_bits(want) == ig_f32_bits(got[i]);
        if (!same && bad++ < 5)
            EQ_EXPECT(same, "exp(%a): %a, det_expf %a", (double)x[i], (double)got[i], (double)want);
    }
    EQ_EXPECT(bad == 0, "%lld of %lld values differ from det_expf", (long long)bad, (long long)n);
    cuda_free(d_x);
    free(x), free(got);
}

static inline void equiv_attention(void)
{
    static const struct { int64_t pos0, n_new, n_head, n_head_kv, hd; } cases[] = {
        {0, 4, 4, 2, 8}, {5, 3, 4, 4, 33}, {0, 1, 2, 1, 64}, {130, 2, 3, 1, 16},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int64_t n_keys = cases[c].pos0 + cases[c].n_new, hd = cases[c].hd;
        const int64_t nq = cases[c].n_new * cases[c].n_head * hd, nk = n_keys * cases[c].n_head_kv * hd;
        float *q = (float *)malloc((size_t)nq * sizeof *q), *k = (float *)malloc((size_t)nk * sizeof *k);
        float *v = (float *)malloc((size_t)nk * sizeof *v), *want = (float *)malloc((size_t)nq * sizeof *want);
        float *got = (float *)malloc((size_t)nq * sizeof *got);
        equiv_fill(q, nq, EQ_NORMAL, 80 + c);
        equiv_fill(k, nk, EQ_NORMAL, 90 + c);
        equiv_fill(v, nk, EQ_NORMAL, 100 + c);
        const int cpu_rc = det_attention_rows_ref(q, k, v, cases[c].pos0, cases[c].n_new, cases[c].n_head,
                                                  cases[c].n_head_kv, hd, want);
        EQ_ASSERT(cpu_rc == 0, "det_attention_rows_ref: %s", ig_error_message());
        float *d_q = (float *)equiv_dup(q, (size_t)nq * sizeof *q);
        float *d_k = (float *)equiv_dup(k, (size_t)nk * sizeof *k);
        float *d_v = (float *)equiv_dup(v, (size_t)nk * sizeof *v);
        float *d_o = (float *)equiv_dup(NULL, (size_t)nq * sizeof *got);
        EQ_EXPECT((cuda_attention_rows(d_q, d_k, d_v, cases[c].pos0, cases[c].n_new, cases[c].n_head,
                                         cases[c].n_head_kv, hd, d_o, NULL)) == (0), "%s", ig_error_message());
        equiv_fetch(got, d_o, (size_t)nq * sizeof *got);
        char what[64];
        snprintf(what, sizeof what, "attention case %zu", c);
        equiv_expect_same_floats(want, got, nq, what);
        cuda_free(d_q), cuda_free(d_k), cuda_free(d_v), cuda_free(d_o);
        free(q), free(k), free(v), free(want), free(got);
    }
}

#endif /* TESTS_CUDA_EQUIV_H */
