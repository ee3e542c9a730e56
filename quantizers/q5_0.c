/* q5_0.c — Q5_0: 32 weights share one fp16 scale d; each weight is a 5-bit q,
 * x ~ d (q - 16). The low 4 bits sit in nibbles as in Q4_0, the 5th bits in a 32-bit mask.
 *
 * Reference quantize and dequantize, bit-exact with llama.cpp's ggml-quants.c
 * (quantize_row_q5_0_ref, quantize_row_q5_0_impl, dequantize_row_q5_0); q_legacy.h gives
 * the formulas. Called by convert/ through the type table on one row at a time.
 */
#include "q_legacy.h"

#include "k_quant_search.h"
#include "quant_util.h"

#include "../common/ig_half.h"

#include <assert.h>

/* ---- quantize ------------------------------------------------------------------------- */

/* quantize_row_q5_0_ref for one block: d = max / -16, levels MIN(31, trunc(x/d + 16.5)). */
static void q5_0_block_ref(const float *x, block_q5_0 *y)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK5_0; j++) {
        const float v = x[j];
        if (amax < fabsf(v)) {
            amax = fabsf(v);
            max = v;
        }
    }
    const float d = max / -16;
    const float id = d ? 1.0f / d : 0.0f;
    y->d = ig_fp32_to_fp16(d);

    uint8_t q[QK5_0];
    for (int j = 0; j < QK5_0; ++j) {
        const float x0 = x[j] * id;
        q[j] = (uint8_t)QUANT_MIN(31, quant_trunc_i8(x0 + 16.5f));
    }
    quant_pack5(q, y->qs, y->qh);
}

/* quantize_row_q5_0_impl for one block: weighted search over 19 scales (quant_util.h). */
static void q5_0_block_impl(const float *x, block_q5_0 *y, const float *qw, float sigma2)
{
    float weight[QK5_0];
    int8_t L[QK5_0];
    uint8_t q[QK5_0];
    for (int j = 0; j < QK5_0; ++j)
        weight[j] = qw[j] * sqrtf(sigma2 + x[j] * x[j]);
    float d = kq_make_qx_quants(QK5_0, 16, x, L, 1, weight);
    y->d = ig_fp32_to_fp16(d);
    for (int j = 0; j < QK5_0; ++j)
        q[j] = (uint8_t)L[j];
    quant_pack5(q, y->qs, y->qh);
}

int q5_0_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    int rc = quant_check_row32("q5_0_quantize_row_ref", "Q5_0", n);
    if (rc)
        return rc;
    block_q5_0 *y = dst;
    const int64_t nb = n / QK5_0;
    if (!imatrix) {
        for (int64_t i = 0; i < nb; ++i)
            q5_0_block_ref(x + QK5_0 * i, &y[i]);
        return 0;
    }
    const float sigma2 = quant_row_sigma2(x, n);
    for (int64_t i = 0; i < nb; ++i)
        q5_0_block_impl(x + QK5_0 * i, &y[i], imatrix + QK5_0 * i, sigma2);
    return 0;
}

/* ---- dequantize ----------------------------------------------------------------------- */

void q5_0_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK5_0 == 0);
    const block_q5_0 *x = src;
    const int64_t nb = n / QK5_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = ig_fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK5_0; ++j) {
            const int q = quant_unpack5(x[i].qs, x[i].qh, j) - 16;
            y[i * QK5_0 + j] = q * d;
        }
    }
}
