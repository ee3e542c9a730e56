/* quant_type.c — the type table (see quant_type.h). */
#include "quant_type.h"

#include "../formats/ggml_type.h"

static const struct quant_type quant_types[] = {
    {GGML_TYPE_F32, "F32", 1, 4, f32_quantize_row_ref, f32_dequantize_row_ref},
    {GGML_TYPE_F16, "F16", 1, 2, f16_quantize_row_ref, f16_dequantize_row_ref},
    {GGML_TYPE_BF16, "BF16", 1, 2, bf16_quantize_row_ref, bf16_dequantize_row_ref},
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
