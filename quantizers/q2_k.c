/* q2_k.c — Q2_K: 2-bit codes, 16 sub-blocks of 16 with 4-bit scales and 4-bit mins.
 *
 * x ≈ d·sc_s·q − dmin·m_s, q in 0..3 (layout in k_quants.h). Without an importance matrix
 * this is ggml's quantize_row_q2_K_ref: each sub-block fits scale and min with
 * make_qkx2_quants on |x| weights and absolute error, and the 16 scales (mins) are then
 * rounded against max_scale/15 (max_min/15). With one it is quantize_row_q2_K_impl:
 * make_qkx3_quants on imatrix·sqrt(σ² + x²) weights, and the scales and mins quantized by
 * make_qp_quants. Both finish by re-rounding every code against the fp16 scales read back.
 */
/* No contraction of a*b + c into a fused multiply-add: ggml rounds every product. GCC
 * ignores the standard pragma (its ISO C modes already default to fp-contract=off), so it
 * gets its own spelling in case this file is ever built in a GNU mode with FMA enabled. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "k_quants.h"

#include "blocks.h"
#include "k_quant_search.h"
#include "../common/ig_half.h"

#include <math.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------------------- */

/* Re-round every code against the stored scales: q = clamp(round((x + dm)/dd), 0, 3) with
 * dd = d·sc, dm = dmin·m. A sub-block whose dd is 0 keeps the codes of its search. */
static void q2_k_requantize(const float *x, const block_q2_K *y, uint8_t *L)
{
    const float d_all = ig_fp16_to_fp32(y->d);
    const float m_all = ig_fp16_to_fp32(y->dmin);
    for (int j = 0; j < QK_K / 16; ++j) {
        const float dd = d_all * (y->scales[j] & 0xF);
        if (!dd)
            continue;
        const float dm = m_all * (y->scales[j] >> 4);
        for (int ii = 0; ii < 16; ++ii) {
            int l = kq_nearest_int((x[16 * j + ii] + dm) / dd);
            L[16 * j + ii] = (uint8_t)(l < 0 ? 0 : l > 3 ? 3 : l);
        }
    }
}

/* One super-block, no importance matrix (quantize_row_q2_K_ref). */
static void q2_k_quantize_block(const float *x, block_q2_K *y)
{
    uint8_t L[QK_K], Laux[16];
    float weights[16], mins[QK_K / 16], scales[QK_K / 16];
    float max_scale = 0, max_min = 0;   /* scales and mins are >= 0 after the search */

    for (int j = 0; j < QK_K / 16; ++j) {
        for (int l = 0; l < 16; ++l)
            weights[l] = fabsf(x[16 * j + l]);
        scales[j] = kq_make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j],
                                        Laux, -0.5f, 0.1f, 15, KQ_ERR_ABS);
        if (scales[j] > max_scale)
            max_scale = scales[j];
        if (mins[j] > max_min)
            max_min = mins[j];
    }

    /* 4-bit codes: scales in the low nibble, mins in the high nibble. The codes are stored
     * through uint8_t without a clamp, as in ggml. */
    if (max_scale > 0) {
        float iscale = 15.f / max_scale;
        for (int j = 0; j < QK_K / 16; ++j)
            y->scales[j] = (uint8_t)kq_nearest_int(iscale * scales[j]);
        y->d = ig_fp32_to_fp16(max_scale / 15.f);
    } else {
        memset(y->scales, 0, sizeof y->scales);
        y->d = ig_fp32_to_fp16(0.f);
    }
    if (max_min > 0) {
        float iscale = 15.f / max_min;
        for (int j = 0; j < QK_K / 16; ++j) {
            int l = kq_nearest_int(iscale * mins[j]);
            y->scales[j] |= (uint8_t)((unsigned)l << 4);
        }
        y->dmin = ig_fp32_to_fp16(max_min / 15.f);
    } else {
        y->dmin = ig_fp32_to_fp16(0.f);
    }

    q2_k_requantize(x, y, L);
    kq_pack_2bit(L, y->qs);
}

/* One super-block with importance weights qw[256] (quantize_row_q2_K_impl). */
static void q2_k_quantize_block_imatrix(const float *x, const float *qw, block_q2_K *y)
{
    uint8_t L[QK_K], Laux[16], Ls[QK_K / 16], Lm[QK_K / 16];
    float weight[16], mins[QK_K / 16], scales[QK_K / 16], sw[QK_K / 16];

    float sumx2 = 0;
    for (int j = 0; j < QK_K; ++j)
        sumx2 += x[j] * x[j];
    float sigma2 = sumx2 / QK_K;   /* Q2_K alone has no factor 2 here */

    for (int j = 0; j < QK_K / 16; ++j) {
        sw[j] = 0;
        for (int l = 0; l < 16; ++l)
            weight[l] = qw[16 * j + l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
        for (int l = 0; l < 16; ++l)
            sw[j] += weight[l];
        scales[j] = kq_make_qkx3_quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], Laux,
                                        -0.9f, 0.05f, 36, KQ_ERR_SQUARED);
    }

    float dm = kq_make_qp_quants(QK_K / 16, 15, scales, Ls, sw);
    float mm = kq_make_qp_quants(QK_K / 16, 15, mins, Lm, sw);
    y->d = ig_fp32_to_fp16(dm);
    y->dmin = ig_fp32_to_fp16(mm);
    for (int j = 0; j < QK_K / 16; ++j)
        y->scales[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));

    q2_k_requantize(x, y, L);
    kq_pack_2bit(L, y->qs);
}

/* ---- public ----------------------------------------------------------------------- */

int q2_k_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    int rc = kq_check_row_length("q2_k_quantize_row_ref", "Q2_K", n);
    if (rc)
        return rc;
    block_q2_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        if (imatrix)
            q2_k_quantize_block_imatrix(x + QK_K * i, imatrix + QK_K * i, &y[i]);
        else
            q2_k_quantize_block(x + QK_K * i, &y[i]);
    }
    return 0;
}

/* Element 128h + 32k + 16t + l (k = 0..3, t = 0..1, l = 0..15) is sub-block 8h + 2k + t
 * and sits in qs[32h + 16t + l] at bits 2k..2k+1. */
void q2_k_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    const block_q2_K *x = src;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = ig_fp16_to_fp32(x[i].d);
        const float min = ig_fp16_to_fp32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        int is = 0;
        for (int h = 0; h < 2; ++h) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int t = 0; t < 2; ++t) {
                    const uint8_t sc = x[i].scales[is++];
                    const float dl = d * (sc & 0xF);
                    const float ml = min * (sc >> 4);
                    for (int l = 0; l < 16; ++l)
                        *y++ = dl * ((q[16 * t + l] >> shift) & 3) - ml;
                }
            }
            q += 32;
        }
    }
}
