/* q4_0.c — Q4_0: 32 weights share one fp16 scale d; each weight is a 4-bit q, x ~ d (q - 8).
 *
 * Reference quantize and dequantize, bit-exact with llama.cpp's ggml-quants.c
 * (quantize_row_q4_0_ref, quantize_row_q4_0_impl, dequantize_row_q4_0); q_legacy.h gives
 * the formulas. Called by convert/ through the type table on one row at a time.
 */
#include "q_legacy.h"

#include "k_quant_search.h"
#include "quant_util.h"

#include "../common/ig_half.h"

#include <assert.h>

/* ---- quantize ------------------------------------------------------------------------- */

/* Packs 32 levels 0..15: byte j holds element j in its low nibble, j + 16 in its high. */
static void q4_0_pack(block_q4_0 *y, const int8_t *L)
{
    for (int j = 0; j < 16; ++j)
        y->qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
}

/* quantize_row_q4_0_ref for one block: d = max / -8, so the element of largest |x| maps
 * to level 0 exactly (value -8 d) and the opposite end clamps at level 15. */
static void q4_0_block_ref(const float *x, block_q4_0 *y)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK4_0; j++) {
        const float v = x[j];
        if (amax < fabsf(v)) {
            amax = fabsf(v);
            max = v;
        }
    }
    const float d = max / -8;
    const float id = d ? 1.0f / d : 0.0f;
    y->d = ig_fp32_to_fp16(d);

    for (int j = 0; j < QK4_0 / 2; ++j) {
        const float x0 = x[j] * id;
        const float x1 = x[QK4_0 / 2 + j] * id;
        /* truncation of x*id + 8.5 rounds half up; ggml stores MIN(15, (int8_t)...) */
        const uint8_t xi0 = (uint8_t)QUANT_MIN(15, quant_trunc_i8(x0 + 8.5f));
        const uint8_t xi1 = (uint8_t)QUANT_MIN(15, quant_trunc_i8(x1 + 8.5f));
        y->qs[j] = (uint8_t)(xi0 | (xi1 << 4));
    }
}

/* quantize_row_q4_0_impl for one block: weighted search over 19 scales (quant_util.h). */
static void q4_0_block_impl(const float *x, block_q4_0 *y, const float *qw, float sigma2)
{
    float weight[QK4_0];
    int8_t L[QK4_0];
    for (int j = 0; j < QK4_0; ++j)
        weight[j] = qw[j] * sqrtf(sigma2 + x[j] * x[j]);
    float d = kq_make_qx_quants(QK4_0, 8, x, L, 1, weight);
    y->d = ig_fp32_to_fp16(d);
    q4_0_pack(y, L);
}

int q4_0_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    int rc = quant_check_row32("q4_0_quantize_row_ref", "Q4_0", n);
    if (rc)
        return rc;
    block_q4_0 *y = dst;
    const int64_t nb = n / QK4_0;
    if (!imatrix) {
        for (int64_t i = 0; i < nb; ++i)
            q4_0_block_ref(x + QK4_0 * i, &y[i]);
        return 0;
    }
    const float sigma2 = quant_row_sigma2(x, n);
    for (int64_t i = 0; i < nb; ++i)
        q4_0_block_impl(x + QK4_0 * i, &y[i], imatrix + QK4_0 * i, sigma2);
    return 0;
}

/* ---- dequantize ----------------------------------------------------------------------- */

void q4_0_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK4_0 == 0);
    const block_q4_0 *x = src;
    const int64_t nb = n / QK4_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = ig_fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK4_0 / 2; ++j) {
            const int x0 = (x[i].qs[j] & 0x0F) - 8;
            const int x1 = (x[i].qs[j] >> 4) - 8;
            y[i * QK4_0 + j] = x0 * d;
            y[i * QK4_0 + j + QK4_0 / 2] = x1 * d;
        }
    }
}
