/* q4_1.c — Q4_1: 32 weights share an fp16 scale d and offset m; x ~ d q + m, q in 0..15.
 *
 * Reference quantize and dequantize, bit-exact with llama.cpp's ggml-quants.c
 * (quantize_row_q4_1_ref, quantize_row_q4_1_impl, dequantize_row_q4_1); q_legacy.h gives
 * the formulas. Called by convert/ through the type table on one row at a time.
 */
#include "q_legacy.h"

#include "k_quant_search.h"
#include "quant_util.h"

#include "../common/ig_half.h"

#include <assert.h>
#include <float.h>

/* ---- quantize ------------------------------------------------------------------------- */

/* quantize_row_q4_1_ref for one block: the block's [min, max] split into 15 steps. */
static void q4_1_block_ref(const float *x, block_q4_1 *y)
{
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < QK4_1; j++) {
        const float v = x[j];
        if (v < min)
            min = v;
        if (v > max)
            max = v;
    }
    const float d = (max - min) / ((1 << 4) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y->d = ig_fp32_to_fp16(d);
    y->m = ig_fp32_to_fp16(min);

    for (int j = 0; j < QK4_1 / 2; ++j) {
        const float x0 = (x[j] - min) * id;
        const float x1 = (x[QK4_1 / 2 + j] - min) * id;
        const uint8_t xi0 = (uint8_t)QUANT_MIN(15, quant_trunc_i8(x0 + 0.5f));
        const uint8_t xi1 = (uint8_t)QUANT_MIN(15, quant_trunc_i8(x1 + 0.5f));
        y->qs[j] = (uint8_t)(xi0 | (xi1 << 4));
    }
}

/* quantize_row_q4_1_impl for one block: weighted scale + min search (quant_util.h). */
static void q4_1_block_impl(const float *x, block_q4_1 *y, const float *qw, float sigma2)
{
    float weight[QK4_1];
    uint8_t L[QK4_1], Laux[QK4_1];
    for (int j = 0; j < QK4_1; ++j)
        weight[j] = qw[j] * sqrtf(sigma2 + x[j] * x[j]);
    float min;
    float d = kq_make_qkx3_quants(QK4_1, 15, x, weight, L, &min, Laux, -0.9f, 0.05f, 36, KQ_ERR_SQUARED);
    y->d = ig_fp32_to_fp16(d);
    y->m = ig_fp32_to_fp16(-min);
    for (int j = 0; j < 16; ++j)
        y->qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
}

int q4_1_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    int rc = quant_check_row32("q4_1_quantize_row_ref", "Q4_1", n);
    if (rc)
        return rc;
    block_q4_1 *y = dst;
    const int64_t nb = n / QK4_1;
    if (!imatrix) {
        for (int64_t i = 0; i < nb; ++i)
            q4_1_block_ref(x + QK4_1 * i, &y[i]);
        return 0;
    }
    const float sigma2 = quant_row_sigma2(x, n);
    for (int64_t i = 0; i < nb; ++i)
        q4_1_block_impl(x + QK4_1 * i, &y[i], imatrix + QK4_1 * i, sigma2);
    return 0;
}

/* ---- dequantize ----------------------------------------------------------------------- */

void q4_1_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK4_1 == 0);
    const block_q4_1 *x = src;
    const int64_t nb = n / QK4_1;
    for (int64_t i = 0; i < nb; i++) {
        const float d = ig_fp16_to_fp32(x[i].d);
        const float m = ig_fp16_to_fp32(x[i].m);
        for (int j = 0; j < QK4_1 / 2; ++j) {
            const int x0 = x[i].qs[j] & 0x0F;
            const int x1 = x[i].qs[j] >> 4;
            y[i * QK4_1 + j] = x0 * d + m;
            y[i * QK4_1 + j + QK4_1 / 2] = x1 * d + m;
        }
    }
}
