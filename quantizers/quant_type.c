/* quant_type.c — the type table (see quant_type.h). */
#include "quant_type.h"

#include "../formats/ggml_type.h"
#include "ext_types.h"
#include "k_quants.h"
#include "q_legacy.h"

static const struct quant_type quant_types[] = {
    {GGML_TYPE_F32, "F32", 1, 4, f32_quantize_row_ref, f32_dequantize_row_ref},
    {GGML_TYPE_F16, "F16", 1, 2, f16_quantize_row_ref, f16_dequantize_row_ref},
    {GGML_TYPE_BF16, "BF16", 1, 2, bf16_quantize_row_ref, bf16_dequantize_row_ref},
    {GGML_TYPE_Q4_0, "Q4_0", 32, 18, q4_0_quantize_row_ref, q4_0_dequantize_row_ref},
    {GGML_TYPE_Q4_1, "Q4_1", 32, 20, q4_1_quantize_row_ref, q4_1_dequantize_row_ref},
    {GGML_TYPE_Q5_0, "Q5_0", 32, 22, q5_0_quantize_row_ref, q5_0_dequantize_row_ref},
    {GGML_TYPE_Q5_1, "Q5_1", 32, 24, q5_1_quantize_row_ref, q5_1_dequantize_row_ref},
    {GGML_TYPE_Q8_0, "Q8_0", 32, 34, q8_0_quantize_row_ref, q8_0_dequantize_row_ref},
    {GGML_TYPE_IQ4_NL, "IQ4_NL", 32, 18, iq4_nl_quantize_row_ref, iq4_nl_dequantize_row_ref},
    {GGML_TYPE_Q2_K, "Q2_K", 256, 84, q2_k_quantize_row_ref, q2_k_dequantize_row_ref},
    {GGML_TYPE_Q3_K, "Q3_K", 256, 110, q3_k_quantize_row_ref, q3_k_dequantize_row_ref},
    {GGML_TYPE_Q4_K, "Q4_K", 256, 144, q4_k_quantize_row_ref, q4_k_dequantize_row_ref},
    {GGML_TYPE_Q5_K, "Q5_K", 256, 176, q5_k_quantize_row_ref, q5_k_dequantize_row_ref},
    {GGML_TYPE_Q6_K, "Q6_K", 256, 210, q6_k_quantize_row_ref, q6_k_dequantize_row_ref},
    {QUANT_TYPE_NF4, "NF4", 256, 134, nf4_quantize_row_ref, nf4_dequantize_row_ref},
    {QUANT_TYPE_NF4_F16, "NF4_F16", 64, 34, nf4_f16_quantize_row_ref, nf4_f16_dequantize_row_ref},
    {QUANT_TYPE_I4_G32, "I4_G32", 32, 20, i4_g32_quantize_row_ref, i4_g32_dequantize_row_ref},
    {QUANT_TYPE_I4_G64, "I4_G64", 64, 36, i4_g64_quantize_row_ref, i4_g64_dequantize_row_ref},
    {QUANT_TYPE_I4_G128, "I4_G128", 128, 68, i4_g128_quantize_row_ref, i4_g128_dequantize_row_ref},
    {QUANT_TYPE_I8_G32, "I8_G32", 32, 36, i8_g32_quantize_row_ref, i8_g32_dequantize_row_ref},
    {QUANT_TYPE_I8_G64, "I8_G64", 64, 68, i8_g64_quantize_row_ref, i8_g64_dequantize_row_ref},
    {QUANT_TYPE_I8_G128, "I8_G128", 128, 132, i8_g128_quantize_row_ref, i8_g128_dequantize_row_ref},
};

const struct quant_type *quant_type_get(int type_id)
{
    for (size_t i = 0; i < sizeof quant_types / sizeof quant_types[0]; i++)
        if (quant_types[i].id == type_id)
            return &quant_types[i];
    return NULL;
}

size_t quant_row_size_bytes(const struct quant_type *qt, int64_t n)
{
    return (size_t)(n / qt->block_elems) * qt->block_bytes;
}
