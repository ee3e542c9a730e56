/* quant_type.c — the type table (see quant_type.h): one row per type ingot can write or read.
 * A read-only row (llama.cpp's IQ1/IQ2/IQ3, TQ, FP4 and Q1_0/Q2_0 types) has no quantize function.
 *
 * Adding a type (IQ2_XXS, TQ1_0, MXFP4, a third-party GPTQ/AWQ/bnb layout, ...):
 *   1. formats/ggml_type.h: one GGML_TYPE_LIST line (NAME, id, elements and bytes per block,
 *      flags). That alone gives GGML_TYPE_<NAME>, GGML_BLOCK_ELEMS_<NAME>,
 *      GGML_BLOCK_BYTES_<NAME> and the row formats/ uses to size tensors.
 *   2. Its block struct (blocks.h for a ggml type, ext_types.h for an ingot one) followed by
 *      IG_BLOCK_CHECK(block_x, NAME, elems), which pins it to that line at compile time.
 *   3. Here: one QUANT_TYPE_ROW naming its reference quantize and dequantize and, when GPTQ
 *      can round on it, its <stem>_grid_of / <stem>_grid_set pair (quant_grid.h), else NULL.
 *   4. Those functions and their tests (tests/quantizers/). tests/quantizers/test_type_table.c
 *      checks the line, the row and the struct against each other; its only hand-typed part
 *      is the struct-size table, which gets one line.
 * No switch over type ids needs a new case. Offering the type as `ingot convert --type` is one
 * more row in convert/plan.c's table of type names. formats/README.md says the same.
 */
#include "quant_type.h"

#include "../formats/ggml_type.h"
#include "ext_types.h"
#include "iq_types.h"
#include "k_quants.h"
#include "q_legacy.h"
#include "quant_grid.h"

/* ---- the table ------------------------------------------------------------------------- */

/* One row: id, name and geometry come from NAME's line of GGML_TYPE_LIST, never restated. */
#define QUANT_TYPE_ROW(NAME, quantize, dequantize, grid_of, grid_set)                         \
    {GGML_TYPE_##NAME, #NAME, GGML_BLOCK_ELEMS_##NAME, GGML_BLOCK_BYTES_##NAME, (quantize),   \
     (dequantize), (grid_of), (grid_set)}

static const struct quant_type quant_types[] = {
    QUANT_TYPE_ROW(F32, f32_quantize_row_ref, f32_dequantize_row_ref, NULL, NULL),
    QUANT_TYPE_ROW(F16, f16_quantize_row_ref, f16_dequantize_row_ref, NULL, NULL),
    QUANT_TYPE_ROW(BF16, bf16_quantize_row_ref, bf16_dequantize_row_ref, NULL, NULL),
    QUANT_TYPE_ROW(Q4_0, q4_0_quantize_row_ref, q4_0_dequantize_row_ref, q4_0_grid_of, q4_0_grid_set),
    QUANT_TYPE_ROW(Q4_1, q4_1_quantize_row_ref, q4_1_dequantize_row_ref, q4_1_grid_of, q4_1_grid_set),
    QUANT_TYPE_ROW(Q5_0, q5_0_quantize_row_ref, q5_0_dequantize_row_ref, q5_0_grid_of, q5_0_grid_set),
    QUANT_TYPE_ROW(Q5_1, q5_1_quantize_row_ref, q5_1_dequantize_row_ref, q5_1_grid_of, q5_1_grid_set),
    QUANT_TYPE_ROW(Q8_0, q8_0_quantize_row_ref, q8_0_dequantize_row_ref, q8_0_grid_of, q8_0_grid_set),
    QUANT_TYPE_ROW(IQ4_NL, iq4_nl_quantize_row_ref, iq4_nl_dequantize_row_ref, iq4_nl_grid_of,
                   iq4_nl_grid_set),
    QUANT_TYPE_ROW(Q2_K, q2_k_quantize_row_ref, q2_k_dequantize_row_ref, q2_k_grid_of, q2_k_grid_set),
    QUANT_TYPE_ROW(Q3_K, q3_k_quantize_row_ref, q3_k_dequantize_row_ref, q3_k_grid_of, q3_k_grid_set),
    QUANT_TYPE_ROW(Q4_K, q4_k_quantize_row_ref, q4_k_dequantize_row_ref, q4_k_grid_of, q4_k_grid_set),
    QUANT_TYPE_ROW(Q5_K, q5_k_quantize_row_ref, q5_k_dequantize_row_ref, q5_k_grid_of, q5_k_grid_set),
    QUANT_TYPE_ROW(Q6_K, q6_k_quantize_row_ref, q6_k_dequantize_row_ref, q6_k_grid_of, q6_k_grid_set),
    /* IQ4_XS: written as llama-quantize writes it; GPTQ has no grid for it (yet) */
    QUANT_TYPE_ROW(IQ4_XS, iq4_xs_quantize_row_ref, iq4_xs_dequantize_row_ref, NULL, NULL),
    /* read-only types (iq_types.h): ingot dequantizes them as llama.cpp does, to inspect,
     * verify and re-quantize llama.cpp's files; no quantize function, so no --type */
    QUANT_TYPE_ROW(IQ1_S, NULL, iq1_s_dequantize_row_ref, NULL, NULL),
    QUANT_TYPE_ROW(IQ1_M, NULL, iq1_m_dequantize_row_ref, NULL, NULL),
    QUANT_TYPE_ROW(IQ2_XXS, NULL, iq2_xxs_dequantize_row_ref, NULL, NULL),
    QUANT_TYPE_ROW(IQ2_XS, NULL, iq2_xs_dequantize_row_ref, NULL, NULL),
    QUANT_TYPE_ROW(IQ2_S, NULL, iq2_s_dequantize_row_ref, NULL, NULL),
    QUANT_TYPE_ROW(IQ3_XXS, NULL, iq3_xxs_dequantize_row_ref, NULL, NULL),
    QUANT_TYPE_ROW(IQ3_S, NULL, iq3_s_dequantize_row_ref, NULL, NULL),
    QUANT_TYPE_ROW(TQ1_0, NULL, tq1_0_dequantize_row_ref, NULL, NULL),
    QUANT_TYPE_ROW(TQ2_0, NULL, tq2_0_dequantize_row_ref, NULL, NULL),
    QUANT_TYPE_ROW(MXFP4, NULL, mxfp4_dequantize_row_ref, NULL, NULL),
    QUANT_TYPE_ROW(NVFP4, NULL, nvfp4_dequantize_row_ref, NULL, NULL),
    QUANT_TYPE_ROW(Q1_0, NULL, q1_0_dequantize_row_ref, NULL, NULL),
    QUANT_TYPE_ROW(Q2_0, NULL, q2_0_dequantize_row_ref, NULL, NULL),
    QUANT_TYPE_ROW(NF4, nf4_quantize_row_ref, nf4_dequantize_row_ref, nf4_grid_of, nf4_grid_set),
    QUANT_TYPE_ROW(NF4_F16, nf4_f16_quantize_row_ref, nf4_f16_dequantize_row_ref, nf4_f16_grid_of,
                   nf4_f16_grid_set),
    QUANT_TYPE_ROW(I4_G32, i4_g32_quantize_row_ref, i4_g32_dequantize_row_ref, i4_group_grid_of,
                   i4_group_grid_set),
    QUANT_TYPE_ROW(I4_G64, i4_g64_quantize_row_ref, i4_g64_dequantize_row_ref, i4_group_grid_of,
                   i4_group_grid_set),
    QUANT_TYPE_ROW(I4_G128, i4_g128_quantize_row_ref, i4_g128_dequantize_row_ref, i4_group_grid_of,
                   i4_group_grid_set),
    QUANT_TYPE_ROW(I8_G32, i8_g32_quantize_row_ref, i8_g32_dequantize_row_ref, i8_group_grid_of,
                   i8_group_grid_set),
    QUANT_TYPE_ROW(I8_G64, i8_g64_quantize_row_ref, i8_g64_dequantize_row_ref, i8_group_grid_of,
                   i8_group_grid_set),
    QUANT_TYPE_ROW(I8_G128, i8_g128_quantize_row_ref, i8_g128_dequantize_row_ref, i8_group_grid_of,
                   i8_group_grid_set),
};

#define N_QUANT_TYPES (sizeof quant_types / sizeof quant_types[0])

/* ---- lookups --------------------------------------------------------------------------- */

const struct quant_type *quant_type_get(int type_id)
{
    for (size_t i = 0; i < N_QUANT_TYPES; i++)
        if (quant_types[i].id == type_id)
            return &quant_types[i];
    return NULL;
}

const struct quant_type *quant_type_at(size_t i)
{
    return i < N_QUANT_TYPES ? &quant_types[i] : NULL;
}

size_t quant_row_size_bytes(const struct quant_type *qt, int64_t n)
{
    return (size_t)(n / qt->block_elems) * qt->block_bytes;
}
