/* q5_k.c — Q5_K: 5-bit codes, 8 sub-blocks of 32 with 6-bit scales and 6-bit mins.
 *
 * Q4_K with one more bit per code (q in 0..31, the 16s bit in qh; layout in k_quants.h).
 * Without an importance matrix this is ggml's quantize_row_q5_K_ref (make_qkx2_quants with
 * rmin -0.5, 15 steps); with one, quantize_row_q5_K_impl (make_qkx3_quants on
 * imatrix·sqrt(σ² + x²) weights, make_qp_quants on scales and mins). Both finish by
 * re-rounding every code against the fp16 d and dmin read back.
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

/* Shared tail: q = clamp(round((x + dm)/dd), 0, 31) (a sub-block with dd = 0 keeps its
 * search codes), then pack: chunk c (elements 64c..64c+63) puts the low 4 bits of element
 * 64c+l / 64c+32+l in the low / high nibble of qs[32c+l] and their 16s bit in qh[l] bit
 * 2c / 2c+1. */
static void q5_k_finish(const float *x, block_q5_K *y, uint8_t *L)
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
            L[32 * j + ii] = (uint8_t)(l < 0 ? 0 : l > 31 ? 31 : l);
        }
    }
    memset(y->qh, 0, sizeof y->qh);
    for (int c = 0; c < 4; ++c) {
        for (int l = 0; l < 32; ++l) {
            int l1 = L[64 * c + l], l2 = L[64 * c + l + 32];
            if (l1 > 15) {
                l1 -= 16;
                y->qh[l] |= (uint8_t)(1u << (2 * c));
            }
            if (l2 > 15) {
                l2 -= 16;
                y->qh[l] |= (uint8_t)(2u << (2 * c));
            }
            y->qs[32 * c + l] = (uint8_t)(l1 | (l2 << 4));
        }
    }
}

/* One super-block, no importance matrix (quantize_row_q5_K_ref). */
static void q5_k_quantize_block(const float *x, block_q5_K *y)
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
        scales[j] = kq_make_qkx2_quants(32, 31, x + 32 * j, weights, L + 32 * j, &mins[j],
                                        Laux, -0.5f, 0.1f, 15, KQ_ERR_SQUARED);
        if (scales[j] > max_scale)
            max_scale = scales[j];
        if (mins[j] > max_min)
            max_min = mins[j];
    }

    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < QK_K / 32; ++j) {
        uint8_t ls = (uint8_t)kq_nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)kq_nearest_int(inv_min * mins[j]);
        kq_pack_scale_min_k4(j, ls < 63 ? ls : 63, lm < 63 ? lm : 63, y->scales);
    }
    y->d = ig_fp32_to_fp16(max_scale / 63.f);
    y->dmin = ig_fp32_to_fp16(max_min / 63.f);
    q5_k_finish(x, y, L);
}

/* One super-block with importance weights qw[256] (quantize_row_q5_K_impl). */
static void q5_k_quantize_block_imatrix(const float *x, const float *qw, block_q5_K *y)
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
        scales[j] = kq_make_qkx3_quants(32, 31, x + 32 * j, weights, L + 32 * j, &mins[j],
                                        Laux, -0.9f, 0.05f, 36, KQ_ERR_SQUARED);
    }

    float d_block = kq_make_qp_quants(QK_K / 32, 63, scales, Ls, sw);
    float m_block = kq_make_qp_quants(QK_K / 32, 63, mins, Lm, sw);
    for (int j = 0; j < QK_K / 32; ++j)
        kq_pack_scale_min_k4(j, Ls[j] < 63 ? Ls[j] : 63, Lm[j] < 63 ? Lm[j] : 63, y->scales);
    y->d = ig_fp32_to_fp16(d_block);
    y->dmin = ig_fp32_to_fp16(m_block);
    q5_k_finish(x, y, L);
}

/* ---- public ----------------------------------------------------------------------- */

int q5_k_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    int rc = kq_check_row_length("q5_k_quantize_row_ref", "Q5_K", n);
    if (rc)
        return rc;
    block_q5_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        if (imatrix)
            q5_k_quantize_block_imatrix(x + QK_K * i, imatrix + QK_K * i, &y[i]);
        else
            q5_k_quantize_block(x + QK_K * i, &y[i]);
    }
    return 0;
}

void q5_k_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    const block_q5_K *x = src;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = ig_fp16_to_fp32(x[i].d);
        const float min = ig_fp16_to_fp32(x[i].dmin);
        const uint8_t *ql = x[i].qs;
        const uint8_t *qh = x[i].qh;
        unsigned u1 = 1, u2 = 2;
        for (int c = 0; c < 4; ++c) {
            uint8_t sc, m;
            kq_get_scale_min_k4(2 * c, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            kq_get_scale_min_k4(2 * c + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; ++l)
                *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; ++l)
                *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
            ql += 32;
            u1 <<= 2;
            u2 <<= 2;
        }
    }
}
