/* q4_k.c — Q4_K: 4-bit codes, 8 sub-blocks of 32 with 6-bit scales and 6-bit mins.
 *
 * x ≈ d·sc_s·q − dmin·m_s, q in 0..15 (layout in k_quants.h). Without an importance
 * matrix this is ggml's quantize_row_q4_K_ref: make_qkx2_quants per sub-block with weights
 * rms(sub-block) + |x|, the scales (mins) rounded against max_scale/63 (max_min/63). With
 * one it is quantize_row_q4_K_impl: make_qkx3_quants with imatrix·sqrt(σ² + x²) weights,
 * σ² = 2·mean(x²) over the super-block, and make_qp_quants on the scales and on the mins.
 * Both finish by re-rounding every code against the fp16 d and dmin read back.
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

/* Shared tail: q = clamp(round((x + dm)/dd), 0, 15) with dd = d·sc, dm = dmin·m (a
 * sub-block with dd = 0 keeps its search codes); then nibble-pack, chunk c of 32 bytes
 * holding elements 64c..64c+31 low and 64c+32..64c+63 high. */
static void q4_k_finish(const float *x, block_q4_K *y, uint8_t *L)
{
    const float d_all = ig_fp16_to_fp32(y->d);
    const float m_all = ig_fp16_to_fp32(y->dmin);
    for (int j = 0; j < QK_K / 32; ++j) {
        uint8_t sc, m;
        kq_get_scale_min_k4(j, y->scales, &sc, &m);
        const float dd = d_all * sc;
        if (!dd)
            continue;
        const float dm = m_all * m;
        for (int ii = 0; ii < 32; ++ii) {
            int l = kq_nearest_int((x[32 * j + ii] + dm) / dd);
            L[32 * j + ii] = (uint8_t)(l < 0 ? 0 : l > 15 ? 15 : l);
        }
    }
    for (int c = 0; c < 4; ++c)
        for (int l = 0; l < 32; ++l)
            y->qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + l + 32] << 4));
}

/* One super-block, no importance matrix (quantize_row_q4_K_ref). */
static void q4_k_quantize_block(const float *x, block_q4_K *y)
{
    uint8_t L[QK_K], Laux[32];
    float weights[32], mins[QK_K / 32], scales[QK_K / 32];
    float max_scale = 0, max_min = 0;

    for (int j = 0; j < QK_K / 32; ++j) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l)
            sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; ++l)
            weights[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = kq_make_qkx2_quants(32, 15, x + 32 * j, weights, L + 32 * j, &mins[j],
                                        Laux, -1.f, 0.1f, 20, KQ_ERR_SQUARED);
        if (scales[j] > max_scale)
            max_scale = scales[j];
        if (mins[j] > max_min)
            max_min = mins[j];
    }

    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < QK_K / 32; ++j) {
        /* ggml rounds into a uint8_t first, then caps at 63 */
        uint8_t ls = (uint8_t)kq_nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)kq_nearest_int(inv_min * mins[j]);
        kq_pack_scale_min_k4(j, ls < 63 ? ls : 63, lm < 63 ? lm : 63, y->scales);
    }
    y->d = ig_fp32_to_fp16(max_scale / 63.f);
    y->dmin = ig_fp32_to_fp16(max_min / 63.f);
    q4_k_finish(x, y, L);
}

/* One super-block with importance weights qw[256] (quantize_row_q4_K_impl). */
static void q4_k_quantize_block_imatrix(const float *x, const float *qw, block_q4_K *y)
{
    uint8_t L[QK_K], Laux[32], Ls[QK_K / 32], Lm[QK_K / 32];
    float weights[32], sw[QK_K / 32], mins[QK_K / 32], scales[QK_K / 32];

    float sum_x2 = 0;
    for (int l = 0; l < QK_K; ++l)
        sum_x2 += x[l] * x[l];
    float sigma2 = 2 * sum_x2 / QK_K;

    for (int j = 0; j < QK_K / 32; ++j) {
        for (int l = 0; l < 32; ++l)
            weights[l] = qw[32 * j + l] * sqrtf(sigma2 + x[32 * j + l] * x[32 * j + l]);
        float sumw = 0;
        for (int l = 0; l < 32; ++l)
            sumw += weights[l];
        sw[j] = sumw;
        scales[j] = kq_make_qkx3_quants(32, 15, x + 32 * j, weights, L + 32 * j, &mins[j],
                                        Laux, -0.9f, 0.05f, 36, KQ_ERR_SQUARED);
    }

    float d_block = kq_make_qp_quants(QK_K / 32, 63, scales, Ls, sw);
    float m_block = kq_make_qp_quants(QK_K / 32, 63, mins, Lm, sw);
    /* unlike Q5_K, ggml's Q4_K does not cap Ls/Lm at 63 here */
    for (int j = 0; j < QK_K / 32; ++j)
        kq_pack_scale_min_k4(j, Ls[j], Lm[j], y->scales);
    y->d = ig_fp32_to_fp16(d_block);
    y->dmin = ig_fp32_to_fp16(m_block);
    q4_k_finish(x, y, L);
}

/* ---- public ----------------------------------------------------------------------- */

int q4_k_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    int rc = kq_check_row_length("q4_k_quantize_row_ref", "Q4_K", n);
    if (rc)
        return rc;
    block_q4_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        if (imatrix)
            q4_k_quantize_block_imatrix(x + QK_K * i, imatrix + QK_K * i, &y[i]);
        else
            q4_k_quantize_block(x + QK_K * i, &y[i]);
    }
    return 0;
}

void q4_k_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    const block_q4_K *x = src;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = ig_fp16_to_fp32(x[i].d);
        const float min = ig_fp16_to_fp32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        for (int c = 0; c < 4; ++c) {
            uint8_t sc, m;
            kq_get_scale_min_k4(2 * c, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            kq_get_scale_min_k4(2 * c + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; ++l)
                *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; ++l)
                *y++ = d2 * (q[l] >> 4) - m2;
            q += 32;
        }
    }
}
