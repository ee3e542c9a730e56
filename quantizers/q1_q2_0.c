/* q1_q2_0.c — dequantize Q1_0 and Q2_0, llama.cpp's newest 1- and 2-bit types (1.125 and
 * 2.25 bits per weight): one fp16 d per block and a plain bit field per weight.
 *   Q1_0: 128 weights, x = +d where the weight's bit is set, -d where not.
 *   Q2_0:  64 weights, x = d (q - 1) for its 2-bit q, so -d, 0, d, 2d.
 * Bits run LSB first through qs (iq_types.h). Each output is d times a small integer, one
 * rounding-free product, so the result is llama.cpp's bit for bit. Read-only.
 */
#include "iq_types.h"

#include "../common/ig_half.h"

#include <assert.h>

void q1_0_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK1_0 == 0);
    const block_q1_0 *x = src;
    for (int64_t i = 0; i < n / QK1_0; i++) {
        const float d = ig_fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK1_0; ++j)
            *y++ = (x[i].qs[j / 8] >> (j % 8) & 1) ? d : -d;
    }
}

void q2_0_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK2_0 == 0);
    const block_q2_0 *x = src;
    for (int64_t i = 0; i < n / QK2_0; i++) {
        const float d = ig_fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK2_0; ++j)
            *y++ = (float)((x[i].qs[j / 4] >> (2 * (j % 4)) & 3) - 1) * d;
    }
}
