/* float_types.c — F32, F16 and BF16 rows: conversions bit-exact with ggml
 * (ggml_fp32_to_fp16_row, ggml_fp32_to_bf16_row_ref; see common/ig_half.h). */
#include "quant_type.h"

#include "../common/ig_half.h"

#include <string.h>

int f32_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    (void)imatrix;
    memcpy(dst, x, (size_t)n * sizeof *x);
    return 0;
}

void f32_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    memcpy(y, src, (size_t)n * sizeof *y);
}

int f16_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    (void)imatrix;
    uint8_t *d = dst;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = ig_fp32_to_fp16(x[i]);
        memcpy(d + 2 * i, &h, 2);
    }
    return 0;
}

void f16_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *s = src;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, s + 2 * i, 2);
        y[i] = ig_fp16_to_fp32(h);
    }
}

int bf16_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    (void)imatrix;
    uint8_t *d = dst;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = ig_fp32_to_bf16(x[i]);
        memcpy(d + 2 * i, &h, 2);
    }
    return 0;
}

void bf16_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    const uint8_t *s = src;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, s + 2 * i, 2);
        y[i] = ig_bf16_to_fp32(h);
    }
}
