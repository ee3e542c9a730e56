/* test_type_table.c — the type list (formats/ggml_type.h), the quantizers' table
 * (quantizers/quant_type.c) and the block structs (blocks.h, ext_types.h) agree.
 *
 * Every type id is walked from its source: GGML_TYPE_LIST expanded here, and quant_type_at()
 * for the quantizers' rows. Checked: ids and names are unique and cover ggml's 0..42 exactly
 * once; formats/' lookups give each line back (and refuse the removed ids); every quantizer
 * row's id, name and geometry equal its line and its block struct's size; every row has a
 * reference quantize and dequantize that run on one seeded block; every row with a grid has
 * both grid functions and a grid for each element. The struct-size table below is the only
 * thing typed by hand: it is what catches a row whose struct was never pinned. Suite:
 * type_table (--filter 'type_table*').
 */
#include "common/ig_error.h"
#include "common/ig_half.h"
#include "formats/ggml_type.h"
#include "quantizers/blocks.h"
#include "quantizers/ext_types.h"
#include "quantizers/iq_types.h"
#include "quantizers/quant_grid.h"
#include "quantizers/quant_type.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the list, expanded here ---------------------------------------------------------- */

struct list_line {
    int id;
    const char *name;
    int64_t elems;
    size_t bytes;
    unsigned flags;
};

#define LINE(NAME, id, elems, bytes, flags) {(id), #NAME, (elems), (bytes), (flags)},
static const struct list_line lines[] = {GGML_TYPE_LIST(LINE)};
#undef LINE
#define N_LINES (sizeof lines / sizeof lines[0])

static const struct list_line *line_of(int id)
{
    for (size_t i = 0; i < N_LINES; i++)
        if (lines[i].id == id)
            return &lines[i];
    return NULL;
}

static bool same_name_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (toupper((unsigned char)*a) != toupper((unsigned char)*b))
            return false;
    return *a == *b;
}

/* ---- the block structs, by hand ------------------------------------------------------- */

/* Each packed type's struct with its elements per block (the QK constant of its header).
 * A quantizer row of a packed type missing here fails quantizer_rows_have_pinned_structs. */
static const struct {
    int id;
    size_t struct_bytes;
    int64_t elems;
} structs[] = {
    {GGML_TYPE_Q4_0, sizeof(block_q4_0), QK4_0},
    {GGML_TYPE_Q4_1, sizeof(block_q4_1), QK4_1},
    {GGML_TYPE_Q5_0, sizeof(block_q5_0), QK5_0},
    {GGML_TYPE_Q5_1, sizeof(block_q5_1), QK5_1},
    {GGML_TYPE_Q8_0, sizeof(block_q8_0), QK8_0},
    {GGML_TYPE_IQ4_NL, sizeof(block_iq4_nl), QK4_NL},
    {GGML_TYPE_Q2_K, sizeof(block_q2_K), QK_K},
    {GGML_TYPE_Q3_K, sizeof(block_q3_K), QK_K},
    {GGML_TYPE_Q4_K, sizeof(block_q4_K), QK_K},
    {GGML_TYPE_Q5_K, sizeof(block_q5_K), QK_K},
    {GGML_TYPE_Q6_K, sizeof(block_q6_K), QK_K},
    {GGML_TYPE_IQ4_XS, sizeof(block_iq4_xs), QK_K},
    {GGML_TYPE_IQ1_S, sizeof(block_iq1_s), QK_K},
    {GGML_TYPE_IQ1_M, sizeof(block_iq1_m), QK_K},
    {GGML_TYPE_IQ2_XXS, sizeof(block_iq2_xxs), QK_K},
    {GGML_TYPE_IQ2_XS, sizeof(block_iq2_xs), QK_K},
    {GGML_TYPE_IQ2_S, sizeof(block_iq2_s), QK_K},
    {GGML_TYPE_IQ3_XXS, sizeof(block_iq3_xxs), QK_K},
    {GGML_TYPE_IQ3_S, sizeof(block_iq3_s), QK_K},
    {GGML_TYPE_TQ1_0, sizeof(block_tq1_0), QK_K},
    {GGML_TYPE_TQ2_0, sizeof(block_tq2_0), QK_K},
    {GGML_TYPE_MXFP4, sizeof(block_mxfp4), QK_MXFP4},
    {GGML_TYPE_NVFP4, sizeof(block_nvfp4), QK_NVFP4},
    {GGML_TYPE_Q1_0, sizeof(block_q1_0), QK1_0},
    {GGML_TYPE_Q2_0, sizeof(block_q2_0), QK2_0},
    {GGML_TYPE_NF4, sizeof(block_nf4), QK_NF4_SUPER},
    {GGML_TYPE_NF4_F16, sizeof(block_nf4_f16), QK_NF4},
    {GGML_TYPE_I4_G32, sizeof(block_i4_g32), 32},
    {GGML_TYPE_I4_G64, sizeof(block_i4_g64), 64},
    {GGML_TYPE_I4_G128, sizeof(block_i4_g128), 128},
    {GGML_TYPE_I8_G32, sizeof(block_i8_g32), 32},
    {GGML_TYPE_I8_G64, sizeof(block_i8_g64), 64},
    {GGML_TYPE_I8_G128, sizeof(block_i8_g128), 128},
    /* the float types: one element per "block" */
    {GGML_TYPE_F32, sizeof(float), 1},
    {GGML_TYPE_F16, sizeof(ig_half), 1},
    {GGML_TYPE_BF16, sizeof(uint16_t), 1},
};
#define N_STRUCTS (sizeof structs / sizeof structs[0])

/* ---- type_table: the list ------------------------------------------------------------- */

Test(type_table, list_ids_and_names_are_unique_and_cover_ggml)
{
    for (size_t i = 0; i < N_LINES; i++)
        for (size_t k = i + 1; k < N_LINES; k++) {
            cr_expect_neq(lines[i].id, lines[k].id, "%s and %s share id %d", lines[i].name,
                          lines[k].name, lines[i].id);
            cr_expect(!same_name_nocase(lines[i].name, lines[k].name), "name %s appears twice",
                      lines[i].name);
        }
    for (int id = 0; id < GGML_TYPE_COUNT; id++) {
        const struct list_line *l = line_of(id);
        cr_expect(l && !(l->flags & GGML_TYPE_FLAG_INGOT), "ggml id %d has no (ggml) line", id);
    }
    int n_ingot = 0;
    for (size_t i = 0; i < N_LINES; i++) {
        const struct list_line *l = &lines[i];
        const bool ingot = (l->flags & GGML_TYPE_FLAG_INGOT) != 0;
        cr_expect(ingot ? l->id >= GGML_TYPE_INGOT_BASE : l->id >= 0 && l->id < GGML_TYPE_COUNT,
                  "%s: id %d is outside its range", l->name, l->id);
        if (ingot)
            cr_expect_eq(l->id, GGML_TYPE_INGOT_BASE + n_ingot++, "%s: ingot ids must be contiguous",
                         l->name);
    }
}

Test(type_table, formats_lookups_give_every_line_back)
{
    for (size_t i = 0; i < N_LINES; i++) {
        const struct list_line *l = &lines[i];
        const struct ggml_type_info *t = ggml_type_info_get(l->id);
        char lower[32];
        size_t c = 0;
        for (; l->name[c] && c + 1 < sizeof lower; c++)
            lower[c] = (char)tolower((unsigned char)l->name[c]);
        lower[c] = '\0';
        if (l->flags & GGML_TYPE_FLAG_REMOVED) {
            cr_expect_null(t, "%s (id %d) was removed but is looked up", l->name, l->id);
            cr_expect_str_eq(ggml_type_removed_name(l->id) ? ggml_type_removed_name(l->id) : "(null)",
                             l->name, "id %d", l->id);
            cr_expect_eq(ggml_type_from_name(l->name), -1, "removed %s is found by name", l->name);
            cr_expect_str_eq(ggml_type_name(l->id), "?", "id %d", l->id);
            cr_expect(l->elems == 0 && l->bytes == 0 && l->flags == GGML_TYPE_FLAG_REMOVED,
                      "%s: a removed line states no geometry and no other flag", l->name);
            continue;
        }
        cr_assert_not_null(t, "%s (id %d) is not looked up", l->name, l->id);
        cr_expect_str_eq(t->name, l->name, "id %d", l->id);
        cr_expect(t->block_elems == l->elems && t->block_bytes == l->bytes && t->flags == l->flags,
                  "%s: the lookup row is not the list line", l->name);
        cr_expect_null(ggml_type_removed_name(l->id), "%s is reported removed", l->name);
        cr_expect_eq(ggml_type_from_name(l->name), l->id, "%s", l->name);
        cr_expect_eq(ggml_type_from_name(lower), l->id, "%s", lower);
        cr_expect_str_eq(ggml_type_name(l->id), l->name, "id %d", l->id);
        /* geometry: positive, and "quantized" exactly when a block holds more than one element */
        cr_expect(l->elems >= 1 && l->bytes >= 1, "%s: %lld elements, %zu bytes", l->name,
                  (long long)l->elems, l->bytes);
        cr_expect_eq((l->flags & GGML_TYPE_FLAG_QUANTIZED) != 0, l->elems > 1,
                     "%s: QUANTIZED flag and %lld elements per block disagree", l->name,
                     (long long)l->elems);
        uint64_t size = 0;
        cr_expect(ggml_type_row_bytes(l->id, 3 * l->elems, &size) && size == 3 * l->bytes,
                  "%s: 3 blocks take %llu bytes", l->name, (unsigned long long)size);
        if (l->elems > 1)
            cr_expect(!ggml_type_row_bytes(l->id, l->elems + 1, &size),
                      "%s: a row of block + 1 elements was accepted", l->name);
    }
    cr_expect_null(ggml_type_info_get(GGML_TYPE_COUNT), "id %d", GGML_TYPE_COUNT);
    cr_expect_null(ggml_type_info_get(-1));
    cr_expect_null(ggml_type_removed_name(GGML_TYPE_Q4_K));
}

/* ---- type_table: the quantizers' rows ------------------------------------------------- */

Test(type_table, quantizer_rows_match_the_list)
{
    size_t n = 0;
    for (const struct quant_type *q; (q = quant_type_at(n)); n++) {
        const struct list_line *l = line_of(q->id);
        cr_assert_not_null(l, "quantizer row %s: id %d is not in GGML_TYPE_LIST", q->name, q->id);
        cr_expect(!(l->flags & GGML_TYPE_FLAG_REMOVED), "row %s uses a removed id", q->name);
        cr_expect_str_eq(q->name, l->name, "id %d", q->id);
        cr_expect(q->block_elems == l->elems && q->block_bytes == l->bytes,
                  "%s: row %lld elements / %zu bytes, list %lld / %zu", q->name,
                  (long long)q->block_elems, q->block_bytes, (long long)l->elems, l->bytes);
        cr_expect_eq(quant_type_get(q->id), q, "%s: quant_type_get finds another row", q->name);
    }
    cr_expect_gt(n, 0);
    cr_expect_null(quant_type_at(n + 1));
    /* every ingot extension can be written and read: llama.cpp cannot */
    for (size_t i = 0; i < N_LINES; i++)
        if (lines[i].flags & GGML_TYPE_FLAG_INGOT)
            cr_expect_not_null(quant_type_get(lines[i].id), "ingot type %s has no quantizer row",
                               lines[i].name);
}

Test(type_table, quantizer_rows_have_pinned_structs)
{
    for (size_t i = 0; quant_type_at(i); i++) {
        const struct quant_type *q = quant_type_at(i);
        size_t k = 0;
        while (k < N_STRUCTS && structs[k].id != q->id)
            k++;
        cr_assert_lt(k, N_STRUCTS, "%s: no block struct in this test's table", q->name);
        cr_expect(structs[k].struct_bytes == q->block_bytes && structs[k].elems == q->block_elems,
                  "%s: struct %zu bytes / %lld elements, row %zu / %lld", q->name,
                  structs[k].struct_bytes, (long long)structs[k].elems, q->block_bytes,
                  (long long)q->block_elems);
    }
}

/* n weights like a trained layer's: uniform in +-0.05 with one outlier x30 in 50. */
static void fill_row(float *x, int64_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double v = ((double)(s >> 11) * 0x1p-53 - 0.5) * 0.1;
        x[i] = (float)(s % 50 == 0 ? 30 * v : v);
    }
}

Test(type_table, every_row_quantizes_and_dequantizes_one_block)
{
    enum { MAX_ELEMS = 256, MAX_BYTES = 512 };
    for (size_t i = 0; quant_type_at(i); i++) {
        const struct quant_type *q = quant_type_at(i);
        cr_assert(q->dequantize_row_ref, "%s lacks a reference dequantize", q->name);
        cr_assert(q->block_elems <= MAX_ELEMS && q->block_bytes <= MAX_BYTES, "%s: raise the buffers",
                  q->name);
        float x[MAX_ELEMS], y[MAX_ELEMS];
        uint8_t blk[MAX_BYTES];
        const uint64_t seed = 1000 + i;
        if (!q->quantize_row_ref) {
            /* read-only (llama.cpp's IQ1-3/TQ/MXFP4): an all-zero block decodes to finite
             * values; bit-exactness is test_iq_types.c's */
            memset(blk, 0, sizeof blk);
            q->dequantize_row_ref(blk, y, q->block_elems);
            for (int64_t j = 0; j < q->block_elems; j++)
                cr_expect(isfinite(y[j]), "%s: element %lld of a zero block: %g", q->name, (long long)j,
                          (double)y[j]);
            continue;
        }
        fill_row(x, q->block_elems, seed);
        cr_assert_eq(q->quantize_row_ref(x, blk, q->block_elems, NULL), 0, "%s (seed %llu): %s",
                     q->name, (unsigned long long)seed, ig_error_message());
        q->dequantize_row_ref(blk, y, q->block_elems);
        /* a smoke bound that catches a wrong or swapped function, not a precision test: |x| <=
         * 1.5, and the coarsest grid (Q2_K, 4 codes over a sub-block's range) rounds by at most
         * half a step, 1.5 / 3 / 2 = 0.25, plus the rounding of its scales */
        for (int64_t j = 0; j < q->block_elems; j++)
            cr_expect(isfinite(y[j]) && fabsf(y[j] - x[j]) <= 0.5f,
                      "%s (seed %llu): element %lld: %g -> %g", q->name, (unsigned long long)seed,
                      (long long)j, (double)x[j], (double)y[j]);
        uint64_t size = 0;
        cr_expect(ggml_type_row_bytes(q->id, 2 * q->block_elems, &size) &&
                      size == quant_row_size_bytes(q, 2 * q->block_elems),
                  "%s: formats and quantizers size a row differently", q->name);
    }
}

Test(type_table, grid_rows_have_both_functions_and_a_grid_per_element)
{
    enum { MAX_ELEMS = 256, MAX_BYTES = 512 };
    for (size_t i = 0; quant_type_at(i); i++) {
        const struct quant_type *q = quant_type_at(i);
        cr_expect_eq(q->grid_of == NULL, q->grid_set == NULL, "%s: grid_of without grid_set", q->name);
        uint8_t blk[MAX_BYTES] = {0};
        struct quant_grid g;
        if (!q->grid_of || q->block_elems == 1) {
            cr_expect(q->block_elems > 1 || !q->grid_of, "float type %s has a grid", q->name);
            cr_expect_eq(quant_grid_of(q->id, blk, 0, &g), IG_EINVAL, "%s", q->name);
            continue;
        }
        float x[MAX_ELEMS];
        fill_row(x, q->block_elems, 77 + i);
        cr_assert_eq(q->quantize_row_ref(x, blk, q->block_elems, NULL), 0, "%s", q->name);
        for (int j = 0; j < q->block_elems; j++) {
            cr_assert_eq(quant_grid_of(q->id, blk, j, &g), 0, "%s: element %d: %s", q->name, j,
                         ig_error_message());
            cr_expect_lt(g.qmin, g.qmax, "%s: element %d", q->name, j);
        }
        cr_expect_eq(quant_grid_of(q->id, blk, (int)q->block_elems, &g), IG_EINVAL, "%s", q->name);
    }
}
