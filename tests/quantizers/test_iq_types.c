/* test_iq_types.c — ingot's dequantizers for llama.cpp's IQ1/IQ2/IQ3/IQ4_XS, TQ and MXFP4
 * types (quantizers/iq_types.h) give llama.cpp's floats bit for bit, and its IQ4_XS quantizer
 * writes llama.cpp's bytes.
 *
 * Golden sources, all independent of ingot's code:
 *   - tests/data/iq_goldens/: xxh3-64 of every tensor of every file in
 *     shared/data/peers/tl3m-more (made by llama-quantize), dequantized by llama.cpp's own
 *     libggml-base (tests/data/ggml_probe/make_goldens.c; README there), plus the first two
 *     rows of one tensor per type as raw f32;
 *   - the anamnesis fixtures (shared/data/thirdparty/anamnesis-fixtures/gguf_reference):
 *     slices of published GGUF files with gguf-py's dequantization (PROVENANCE.md);
 *   - when llama.cpp's libggml-base is installed (ggml_lib.h: $GGML_BASE_LIB or node-llama-cpp
 *     under /tmp/llb), random blocks of every type dequantized by it and random rows
 *     quantized to IQ4_XS by it (ggml_quantize_chunk); skipped, saying so, without it.
 * Suite: iq_types (--filter 'iq_types*').
 */
#include "../test_util.h"
#include "../data/ggml_probe/ggml_lib.h"

#include "common/ig_error.h"
#include "common/ig_half.h"
#include "formats/ggml_type.h"
#include "formats/gguf.h"
#include "quantizers/iq_grids.h"
#include "quantizers/iq_types.h"
#include "quantizers/quant_type.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- helpers ---------------------------------------------------------------------------- */

static int64_t n_elems(const struct gguf_tensor_info *t)
{
    int64_t n = 1;
    for (int k = 0; k < t->n_dims; k++)
        n *= t->ne[k];
    return n;
}

/* The whole tensor as f32, through the type table (F32 is copied). Caller frees. */
static float *dequantize_tensor(const struct gguf_tensor_info *t)
{
    const int64_t n = n_elems(t);
    float *y = malloc((size_t)n * sizeof *y);
    cr_assert_not_null(y);
    const struct quant_type *qt = quant_type_get(t->type);
    cr_assert(qt && qt->dequantize_row_ref, "%s: type %s (%d) has no dequantizer", t->name,
              ggml_type_name(t->type), t->type);
    qt->dequantize_row_ref(t->data, y, n);
    return y;
}

/* Index of the first element whose bits differ, or -1. */
static int64_t first_diff(const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0)
            return i;
    return -1;
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* ---- llama.cpp's files: every tensor -------------------------------------------------- */

#define TL3M_MORE "peers/tl3m-more"

Test(iq_types, every_tensor_of_tl3m_more_matches_llama_cpp_dequantization)
{
    const char *dir = test_shared_path(TL3M_MORE);
    if (!dir)
        cr_skip_test("shared/data/" TL3M_MORE " is absent");
    char root[512];
    snprintf(root, sizeof root, "%s", dir);
    FILE *fp = fopen(test_fixture_path("iq_goldens/tensors.txt"), "r");
    cr_assert_not_null(fp, "tests/data/iq_goldens/tensors.txt is missing");
    char file[128], name[128], open_name[128] = "";
    int type, n_lines = 0, n_types = 0;
    bool seen[GGML_TYPE_COUNT] = {false};
    long long n;
    unsigned long long want;
    struct gguf_file *g = NULL;
    while (fscanf(fp, "%127s %127s %d %lld %llx", file, name, &type, &n, &want) == 5) {
        if (strcmp(file, open_name) != 0) {
            if (g)
                gguf_close(g);
            char path[700];
            snprintf(path, sizeof path, "%s/%s", root, file);
            cr_assert_eq(gguf_open(&g, path), 0, "%s", ig_error_message());
            snprintf(open_name, sizeof open_name, "%s", file);
        }
        int64_t i = gguf_find_tensor(g, name);
        cr_assert_geq(i, 0, "%s: no tensor %s", file, name);
        const struct gguf_tensor_info *t = gguf_tensor_at(g, i);
        cr_assert_eq(t->type, type, "%s: %s: type %d, golden says %d", file, name, t->type, type);
        cr_assert_eq(n_elems(t), n);
        float *y = dequantize_tensor(t);
        uint64_t got = XXH3_64bits(y, (size_t)n * sizeof *y);
        cr_expect_eq(got, (uint64_t)want, "%s: %s (%s): xxh3 %016llx, llama.cpp's %016llx", file, name,
                     ggml_type_name(type), (unsigned long long)got, want);
        free(y);
        n_lines++;
        if (type >= 0 && type < GGML_TYPE_COUNT && !seen[type])
            seen[type] = true, n_types++;
    }
    if (g)
        gguf_close(g);
    fclose(fp);
    /* 16 files x 39 tensors; every read-only type but NVFP4 (no file has it) and IQ4_XS */
    cr_expect_eq(n_lines, 624);
    const int need[] = {GGML_TYPE_IQ1_S, GGML_TYPE_IQ1_M, GGML_TYPE_IQ2_XXS, GGML_TYPE_IQ2_XS,
                        GGML_TYPE_IQ2_S, GGML_TYPE_IQ3_XXS, GGML_TYPE_IQ3_S, GGML_TYPE_IQ4_XS,
                        GGML_TYPE_TQ1_0, GGML_TYPE_TQ2_0, GGML_TYPE_MXFP4, GGML_TYPE_Q1_0, GGML_TYPE_Q2_0};
    for (size_t k = 0; k < sizeof need / sizeof need[0]; k++)
        cr_expect(seen[need[k]], "no %s tensor among the goldens", ggml_type_name(need[k]));
}

/* The raw f32 slices: a failure here names the first element that differs. */
Test(iq_types, first_rows_of_one_tensor_per_type_match_bit_for_bit)
{
    static const struct {
        const char *file, *golden;
    } slices[] = {
        {"tl3m-imx-IQ1_S.gguf", "IQ1_S.blk.0.attn_k.weight"},
        {"tl3m-imx-IQ1_M.gguf", "IQ1_M.blk.0.attn_k.weight"},
        {"tl3m-imx-IQ2_XXS.gguf", "IQ2_XXS.blk.0.attn_output.weight"},
        {"tl3m-imx-IQ2_XS.gguf", "IQ2_XS.blk.0.attn_k.weight"},
        {"tl3m-imx-IQ2_M.gguf", "IQ2_S.blk.0.attn_k.weight"},
        {"tl3m-imx-IQ3_XXS.gguf", "IQ3_XXS.blk.0.attn_v.weight"},
        {"tl3m-imx-IQ2_S.gguf", "IQ3_S.token_embd.weight"},
        {"tl3m-imx-IQ4_XS.gguf", "IQ4_XS.token_embd.weight"},
        {"tl3m-imx-TQ1_0.gguf", "TQ1_0.blk.0.attn_k.weight"},
        {"tl3m-imx-TQ2_0.gguf", "TQ2_0.blk.0.attn_k.weight"},
        {"tl3m-imx-pure-MXFP4_MOE.gguf", "MXFP4.output.weight"},
        {"tl3m-imx-Q1_0.gguf", "Q1_0.token_embd.weight"},
        {"tl3m-imx-Q2_0.gguf", "Q2_0.blk.0.attn_k.weight"},
        /* k-quants the same run met first (in IQ1_S's and IQ2_XXS's mixes) */
        {"tl3m-imx-IQ1_S.gguf", "Q2_K.token_embd.weight"},
        {"tl3m-imx-IQ1_S.gguf", "Q5_K.output.weight"},
        {"tl3m-imx-IQ3_M.gguf", "Q4_K.blk.0.attn_output.weight"},
        {"tl3m-imx-IQ3_XS.gguf", "Q6_K.output.weight"},
    };
    if (!test_shared_path(TL3M_MORE))
        cr_skip_test("shared/data/" TL3M_MORE " is absent");
    for (size_t k = 0; k < sizeof slices / sizeof slices[0]; k++) {
        char rel[256], gpath[256];
        snprintf(rel, sizeof rel, TL3M_MORE "/%s", slices[k].file);
        snprintf(gpath, sizeof gpath, "iq_goldens/%s.f32", slices[k].golden);
        size_t size;
        float *want = (float *)test_read_file(test_fixture_path(gpath), &size);
        cr_assert_not_null(want, "%s missing", gpath);
        struct gguf_file *g;
        cr_assert_eq(gguf_open(&g, test_shared_path(rel)), 0, "%s", ig_error_message());
        const char *tname = strchr(slices[k].golden, '.') + 1;
        int64_t i = gguf_find_tensor(g, tname);
        cr_assert_geq(i, 0, "%s: %s", slices[k].file, tname);
        const struct gguf_tensor_info *t = gguf_tensor_at(g, i);
        float *y = dequantize_tensor(t);
        const int64_t m = (int64_t)(size / sizeof(float));
        int64_t d = first_diff(y, want, m);
        cr_expect_eq(d, -1, "%s: %s: element %lld: ingot %a, llama.cpp %a", slices[k].file, tname, (long long)d,
                     d >= 0 ? (double)y[d] : 0.0, d >= 0 ? (double)want[d] : 0.0);
        free(y);
        free(want);
        gguf_close(g);
    }
}

/* ---- the anamnesis fixtures (gguf-py's dequantization of published GGUF slices) --------- */

/* AMNG v2: "AMNG", u32 version, ggml_type, n_elements, raw_len, bf16_len, f32_len; then the
 * raw blocks, the bf16 golden and the f32 golden (PROVENANCE.md, thirdparty-formats.md). */
struct amng {
    uint32_t type, n, raw_len, bf16_len, f32_len;
    const uint8_t *raw;
    const float *f32;
};

static bool amng_parse(const uint8_t *b, size_t size, struct amng *a)
{
    uint32_t h[6];
    if (size < 28 || memcmp(b, "AMNG", 4) != 0)
        return false;
    memcpy(h, b + 4, sizeof h);
    if (h[0] != 2)
        return false;
    a->type = h[1], a->n = h[2], a->raw_len = h[3], a->bf16_len = h[4], a->f32_len = h[5];
    if ((uint64_t)28 + a->raw_len + a->bf16_len + a->f32_len != size || a->f32_len != 4ull * a->n)
        return false;
    a->raw = b + 28;
    a->f32 = (const float *)(b + 28 + a->raw_len + a->bf16_len);
    return true;
}

Test(iq_types, anamnesis_gguf_fixtures_match_gguf_py)
{
    static const char *const files[] = {
        "mistral_7b_iq2_xxs", "mistral_7b_iq3_xxs", "smollm2_iq4_xs", "synthetic_mxfp4", "synthetic_tq1_0",
        "synthetic_tq2_0", "smollm2_iq4_nl", "smollm2_q3_k", "smollm2_q4_0", "smollm2_q4_1",
        "smollm2_q4_k", "smollm2_q5_1", "smollm2_q5_k", "smollm2_q6_k", "smollm2_q8_0",
        "tinyllama_q2_k", "tinyllama_q5_0",
    };
    if (!test_shared_path("thirdparty/anamnesis-fixtures/gguf_reference"))
        cr_skip_test("shared/data/thirdparty/anamnesis-fixtures is absent");
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        char rel[256];
        snprintf(rel, sizeof rel, "thirdparty/anamnesis-fixtures/gguf_reference/%s.bin", files[k]);
        size_t size;
        uint8_t *b = test_read_file(test_shared_path(rel), &size);
        cr_assert_not_null(b, "%s missing", rel);
        struct amng a;
        cr_assert(amng_parse(b, size, &a), "%s: not an AMNG v2 file", files[k]);
        const struct quant_type *qt = quant_type_get((int)a.type);
        cr_assert(qt && qt->dequantize_row_ref, "%s: type %u", files[k], a.type);
        cr_assert_eq(quant_row_size_bytes(qt, a.n), a.raw_len, "%s: raw bytes", files[k]);
        float *y = malloc((size_t)a.n * sizeof *y), *want = malloc((size_t)a.n * sizeof *want);
        memcpy(want, a.f32, (size_t)a.n * sizeof *want);   /* the golden is not 4-aligned */
        qt->dequantize_row_ref(a.raw, y, a.n);
        int64_t d = first_diff(y, want, a.n);
        cr_expect_eq(d, -1, "%s (%s): element %lld: ingot %a, gguf-py %a", files[k], qt->name, (long long)d,
                     d >= 0 ? (double)y[d] : 0.0, d >= 0 ? (double)want[d] : 0.0);
        free(y);
        free(want);
        free(b);
    }
}

/* ---- random blocks against llama.cpp's library ----------------------------------------- */

/* A random fp16 that is finite, normal and within +-2^8 (d of a real block is far smaller). */
static uint16_t random_half(uint64_t *s)
{
    uint16_t h = (uint16_t)xorshift(s);
    uint16_t e = (uint16_t)(1 + (h >> 10 & 0x1f) % 23);   /* exponent field 1..23 */
    return (uint16_t)((h & 0x83ff) | e << 10);
}

/* Random bytes, with each fp16 d field made finite (offsets by type). */
static void random_block(int type, uint8_t *b, size_t bytes, uint64_t *s)
{
    for (size_t i = 0; i < bytes; i++)
        b[i] = (uint8_t)xorshift(s);
    uint16_t h = random_half(s);
    switch (type) {
    case GGML_TYPE_TQ1_0: memcpy(b + 52, &h, 2); break;
    case GGML_TYPE_TQ2_0: memcpy(b + 64, &h, 2); break;
    case GGML_TYPE_MXFP4:          /* every e8m0 byte is a finite scale */
    case GGML_TYPE_NVFP4: break;   /* and every unsigned e4m3 one */
    case GGML_TYPE_IQ1_M: {        /* d sits in the top nibbles of the four scale u16 */
        for (int k = 0; k < 4; k++)
            b[48 + 2 * k + 1] = (uint8_t)((b[48 + 2 * k + 1] & 0x0f) | ((h >> 4 * k) & 0xf) << 4);
        break;
    }
    default: memcpy(b, &h, 2); break;
    }
}

Test(iq_types, random_blocks_match_the_library_bit_for_bit)
{
    struct ggml_lib lib;
    if (!ggml_lib_open(&lib, NULL))
        cr_skip_test("llama.cpp's libggml-base is not installed (set GGML_BASE_LIB)");
    const int types[] = {GGML_TYPE_IQ1_S, GGML_TYPE_IQ1_M, GGML_TYPE_IQ2_XXS, GGML_TYPE_IQ2_XS,
                         GGML_TYPE_IQ2_S, GGML_TYPE_IQ3_XXS, GGML_TYPE_IQ3_S, GGML_TYPE_IQ4_XS,
                         GGML_TYPE_TQ1_0, GGML_TYPE_TQ2_0, GGML_TYPE_MXFP4, GGML_TYPE_NVFP4,
                         GGML_TYPE_Q1_0, GGML_TYPE_Q2_0};
    enum { N_BLOCKS = 512 };
    uint64_t s = 0x1234567;
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        const struct quant_type *qt = quant_type_get(types[k]);
        ggml_lib_to_float_fn f = ggml_lib_to_float(&lib, types[k]);
        cr_assert(qt && f, "%s", ggml_type_name(types[k]));
        const int64_t n = N_BLOCKS * qt->block_elems;
        uint8_t *blocks = malloc(N_BLOCKS * qt->block_bytes);
        float *y = malloc((size_t)n * sizeof *y), *want = malloc((size_t)n * sizeof *want);
        for (int i = 0; i < N_BLOCKS; i++) {
            random_block(types[k], blocks + i * qt->block_bytes, qt->block_bytes, &s);
            /* every scale byte of the FP4 types, not only the ones chance picks */
            if (types[k] == GGML_TYPE_MXFP4 || types[k] == GGML_TYPE_NVFP4)
                blocks[i * qt->block_bytes] = (uint8_t)i;
        }
        qt->dequantize_row_ref(blocks, y, n);
        f(blocks, want, n);
        int64_t d = first_diff(y, want, n);
        cr_expect_eq(d, -1, "%s: element %lld: ingot %a, library %a", qt->name, (long long)d,
                     d >= 0 ? (double)y[d] : 0.0, d >= 0 ? (double)want[d] : 0.0);
        free(blocks);
        free(y);
        free(want);
    }
}

/* A sample of the generated grids, read back from the library as gen_iq_grids.c did: one
 * IQ3_S block with d = 1 and scale 0 selecting entry idx in group 0 gives the entry itself. */
Test(iq_types, grid_sample_reads_back_from_the_library)
{
    struct ggml_lib lib;
    if (!ggml_lib_open(&lib, NULL))
        cr_skip_test("llama.cpp's libggml-base is not installed (set GGML_BASE_LIB)");
    ggml_lib_to_float_fn f = ggml_lib_to_float(&lib, GGML_TYPE_IQ3_S);
    cr_assert_not_null(f);
    for (unsigned idx = 0; idx < 512; idx += 37) {
        block_iq3_s b;
        memset(&b, 0, sizeof b);
        b.d = 0x3c00;
        b.qs[0] = (uint8_t)idx;
        b.qh[0] = (uint8_t)(idx >> 8);
        float y[256];
        f(&b, y, 256);
        for (int j = 0; j < 4; j++)
            cr_expect_eq(y[j], (float)iq_grid4_byte(iq3s_grid[idx], j), "iq3s_grid[%u] byte %d", idx, j);
    }
    /* and the sign rule: 7 stored bits, the 8th makes an even count */
    cr_expect_eq(iq_ksigns(0), 0);
    cr_expect_eq(iq_ksigns(1), 0x81);
    cr_expect_eq(iq_ksigns(3), 3);
    cr_expect_eq(iq_ksigns(127), 0xff);
}

/* ---- IQ4_XS quantize against the library ------------------------------------------------ */

/* n weights like a trained layer's (uniform +-0.05, one in 50 an outlier x30), some
 * sub-blocks all zero to walk the GROUP_MAX_EPS branch. */
static void fill_weights(float *x, int64_t n, uint64_t *s)
{
    for (int64_t i = 0; i < n; i++) {
        double v = ((double)(xorshift(s) >> 11) * 0x1p-53 - 0.5) * 0.1;
        x[i] = (float)(xorshift(s) % 50 == 0 ? 30 * v : v);
    }
    for (int64_t i = 64; i < 96 && i < n; i++)
        x[i] = 0;
}

Test(iq_types, iq4_xs_quantize_matches_the_library_with_and_without_imatrix)
{
    struct ggml_lib lib;
    if (!ggml_lib_open(&lib, NULL))
        cr_skip_test("llama.cpp's libggml-base is not installed (set GGML_BASE_LIB)");
    enum { ROWS = 48, N = 1024 };
    const struct quant_type *qt = quant_type_get(GGML_TYPE_IQ4_XS);
    cr_assert(qt && qt->quantize_row_ref);
    float *x = malloc(ROWS * N * sizeof *x), *imx = malloc(N * sizeof *imx);
    const size_t row_bytes = quant_row_size_bytes(qt, N);
    uint8_t *got = malloc(ROWS * row_bytes), *want = malloc(ROWS * row_bytes);
    uint64_t s = 99;
    fill_weights(x, ROWS * N, &s);
    for (int i = 0; i < N; i++)
        imx[i] = (float)((xorshift(&s) >> 40) * 0x1p-24) * 4.0f;
    lib.quantize_init(GGML_TYPE_IQ4_XS);
    for (int with_imatrix = 0; with_imatrix < 2; with_imatrix++) {
        const float *w = with_imatrix ? imx : NULL;
        for (int r = 0; r < ROWS; r++)
            cr_assert_eq(qt->quantize_row_ref(x + r * N, got + r * row_bytes, N, w), 0);
        size_t wrote = lib.quantize_chunk(GGML_TYPE_IQ4_XS, x, want, 0, ROWS, N, w);
        cr_assert_eq(wrote, ROWS * row_bytes);
        size_t d = 0;
        while (d < ROWS * row_bytes && got[d] == want[d])
            d++;
        cr_expect_eq(d, ROWS * row_bytes, "imatrix %d: first differing byte %zu (block %zu, offset %zu)",
                     with_imatrix, d, d / qt->block_bytes, d % qt->block_bytes);
    }
    free(x);
    free(imx);
    free(got);
    free(want);
}

Test(iq_types, iq4_xs_refuses_a_partial_block)
{
    float x[300] = {0};
    uint8_t dst[2 * 136];
    cr_expect_eq(iq4_xs_quantize_row_ref(x, dst, 300, NULL), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "300"), "%s", ig_error_message());
}
