/* iq4_xs.c — IQ4_XS: IQ4_NL's non-linear 4-bit table with the 32-weight scales stored as
 * 6-bit integers under one fp16 super-scale per 256 weights (4.25 bits per weight).
 *
 * Quantize: ggml's quantize_iq4_xs -> quantize_row_iq4_nl_impl(super_block_size = 256,
 * block_size = 32, ntry = 7), the path llama-quantize takes with and without an importance
 * matrix. Per 32 weights the scale search is IQ4_NL's (iq4nl_block_scale); then
 *   d = -max_scale / 32, with max_scale the signed scale of largest magnitude;
 *   l_ib = clamp(nearest_int(scale_ib / d), -32, 31), stored as l_ib + 32;
 *   indices = best_index(x / (d l_ib)).
 * d and d l_ib are the unrounded float32 values (the fp16 d is only stored). Weights are
 * x^2 without an importance matrix, qw sqrt(sigma2 + x^2) with one (sigma2 = 2 sum(x^2)/256
 * over the super-block). Dequantize: dequantize_row_iq4_xs. Layout: iq_types.h.
 */
#include "iq_types.h"

#include "iq4_impl.h"
#include "quant_util.h"

#include "../common/ig_half.h"

#include <assert.h>

/* ---- quantize --------------------------------------------------------------------------- */

/* One super-block of 256 weights. */
static void iq4_xs_block(const float *x, block_iq4_xs *y, const float *qw)
{
    float sigma2 = 0;
    for (int j = 0; j < QK_K; ++j)
        sigma2 += x[j] * x[j];
    sigma2 *= 2.f / QK_K;

    float scales[QK_K / 32];
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < QK_K / 32; ++ib) {
        const float *xb = x + 32 * ib;
        float weight[32];
        for (int j = 0; j < 32; ++j)
            weight[j] = qw ? qw[32 * ib + j] * sqrtf(sigma2 + xb[j] * xb[j]) : xb[j] * xb[j];
        scales[ib] = iq4nl_block_scale(xb, weight);
        const float abs_d = fabsf(scales[ib]);
        if (abs_d > amax_scale) {
            amax_scale = abs_d;
            max_scale = scales[ib];
        }
    }

    const float d = -max_scale / 32;
    y->d = ig_fp32_to_fp16(d);
    y->scales_h = 0;
    const float id = d ? 1 / d : 0.f;
    uint8_t L[QK_K];
    for (int ib = 0; ib < QK_K / 32; ++ib) {
        int l = quant_nearest_int(id * scales[ib]);
        l = QUANT_MAX(-32, QUANT_MIN(31, l));
        const float dl = d * (float)l;
        const float idl = dl ? 1 / dl : 0.f;
        for (int j = 0; j < 32; ++j)
            L[32 * ib + j] = (uint8_t)iq4nl_best_index(idl * x[32 * ib + j]);
        l += 32;
        if (ib % 2 == 0)
            y->scales_l[ib / 2] = (uint8_t)(l & 0xf);
        else
            y->scales_l[ib / 2] |= (uint8_t)((l & 0xf) << 4);
        y->scales_h |= (uint16_t)((l >> 4) << 2 * ib);
    }
    for (int ib = 0; ib < QK_K / 32; ++ib)
        for (int j = 0; j < 16; ++j)
            y->qs[16 * ib + j] = (uint8_t)(L[32 * ib + j] | (L[32 * ib + 16 + j] << 4));
}

int iq4_xs_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    if (n < 0 || n % QK_K != 0)
        return ig_error_set(IG_EINVAL, "iq4_xs_quantize_row_ref: IQ4_XS row length %lld is not a non-negative "
                                       "multiple of 256", (long long)n);
    block_iq4_xs *y = dst;
    for (int64_t i = 0; i < n / QK_K; ++i)
        iq4_xs_block(x + QK_K * i, &y[i], imatrix ? imatrix + QK_K * i : NULL);
    return 0;
}

/* ---- dequantize ------------------------------------------------------------------------- */

void iq4_xs_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK_K == 0);
    const block_iq4_xs *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = ig_fp16_to_fp32(x[i].d);
        for (int ib = 0; ib < QK_K / 32; ++ib, y += 32) {
            const int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((x[i].scales_h >> 2 * ib) & 3) << 4);
            const float dl = d * (float)(ls - 32);
            const uint8_t *qs = x[i].qs + 16 * ib;
            for (int j = 0; j < 16; ++j) {
                y[j + 0] = dl * iq4nl_values[qs[j] & 0xf];
                y[j + 16] = dl * iq4nl_values[qs[j] >> 4];
            }
        }
    }
}
