/* k_quants_block.h — one super-block of the k-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K),
 * quantized (with and without an importance matrix) and dequantized by IG_HD functions that
 * the C row functions (q2_k.c ... q6_k.c) and the GPU kernels (kernels/cuda/quantize.cu, one
 * super-block per thread) both call, so both write the same bytes by construction.
 *
 * k_quants.h gives the layouts and the rules (ggml's quantize_row_<type>_ref and
 * quantize_row_<type>_impl, dequantize_row_<type>). Per type:
 *   <t>_block_quantize_hd(x[256], y)                   no importance matrix
 *   <t>_block_quantize_imatrix_hd(x[256], qw[256], y)  with one (Q6_K: qw may be NULL)
 *   <t>_block_dequantize_hd(y_block, out[256])
 * A super-block holds a few hundred bytes of locals (codes, weights): on the device they
 * live in local memory, one thread per super-block.
 */
#ifndef K_QUANTS_BLOCK_H
#define K_QUANTS_BLOCK_H

#include "blocks.h"
#include "k_quant_search_block.h"

#include "../common/ig_half.h"
#include "../common/ig_hd.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---- Q2_K ---------------------------------------------------------------------------- */

/* Re-round every code against the stored scales: q = clamp(round((x + dm)/dd), 0, 3) with
 * dd = d·sc, dm = dmin·m. A sub-block whose dd is 0 keeps the codes of its search. */
IG_HD_INLINE void q2_k_requantize_hd(const float *x, const block_q2_K *y, uint8_t *L)
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
IG_HD_INLINE void q2_k_block_quantize_hd(const float *x, block_q2_K *y)
{
    uint8_t L[QK_K], Laux[16];
    float weights[16], mins[QK_K / 16], scales[QK_K / 16];
    float max_scale = 0, max_min = 0;   /* scales and mins are >= 0 after the search */

    for (int j = 0; j < QK_K / 16; ++j) {
        for (int l = 0; l < 16; ++l)
            weights[l] = fabsf(x[16 * j + l]);
        scales[j] = kq_make_qkx2_quants_hd(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j],
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

    q2_k_requantize_hd(x, y, L);
    kq_pack_2bit_hd(L, y->qs);
}

/* One super-block with importance weights qw[256] (quantize_row_q2_K_impl). */
IG_HD_INLINE void q2_k_block_quantize_imatrix_hd(const float *x, const float *qw,
                                                 block_q2_K *y)
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
        scales[j] = kq_make_qkx3_quants_hd(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], Laux,
                                        -0.9f, 0.05f, 36, KQ_ERR_SQUARED);
    }

    float dm = kq_make_qp_quants_hd(QK_K / 16, 15, scales, Ls, sw);
    float mm = kq_make_qp_quants_hd(QK_K / 16, 15, mins, Lm, sw);
    y->d = ig_fp32_to_fp16(dm);
    y->dmin = ig_fp32_to_fp16(mm);
    for (int j = 0; j < QK_K / 16; ++j)
        y->scales[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));

    q2_k_requantize_hd(x, y, L);
    kq_pack_2bit_hd(L, y->qs);
}

/* Element 128h + 32k + 16t + l (k = 0..3, t = 0..1, l = 0..15) is sub-block 8h + 2k + t
 * and sits in qs[32h + 16t + l] at bits 2k..2k+1. */
IG_HD_INLINE void q2_k_block_dequantize_hd(const block_q2_K *x, float *y)
{
    const float d = ig_fp16_to_fp32(x->d);
    const float min = ig_fp16_to_fp32(x->dmin);
    const uint8_t *q = x->qs;
    int is = 0;
    for (int h = 0; h < 2; ++h) {
        for (int shift = 0; shift < 8; shift += 2) {
            for (int t = 0; t < 2; ++t) {
                const uint8_t sc = x->scales[is++];
                const float dl = d * (sc & 0xF);
                const float ml = min * (sc >> 4);
                for (int l = 0; l < 16; ++l)
                    *y++ = dl * ((q[16 * t + l] >> shift) & 3) - ml;
            }
        }
        q += 32;
    }
}

/* ---- Q3_K ---------------------------------------------------------------------------- */

/* Shared tail of both paths: re-round codes against d·sc (sub-blocks with d·sc = 0 keep
 * the search's codes), then split each 3-bit code (0..7, offset 4) into hmask and qs.
 * L is [256] codes in 0..7 and is consumed. */
IG_HD_INLINE void q3_k_finish_hd(const float *x, block_q3_K *y, int8_t *L)
{
    const float d_all = ig_fp16_to_fp32(y->d);
    for (int j = 0; j < QK_K / 16; ++j) {
        const float dd = d_all * kq_get_q3_scale_hd(j, y->scales);
        if (!dd)
            continue;
        for (int ii = 0; ii < 16; ++ii) {
            int l = kq_nearest_int(x[16 * j + ii] / dd);
            l = l < -4 ? -4 : l > 3 ? 3 : l;
            L[16 * j + ii] = (int8_t)(l + 4);
        }
    }

    /* high bit of element e -> hmask[e % 32] bit e / 32 */
    uint8_t low2[QK_K];
    memset(y->hmask, 0, sizeof y->hmask);
    for (int e = 0; e < QK_K; ++e) {
        int l = L[e];
        if (l > 3) {
            y->hmask[e % 32] |= (uint8_t)(1u << (e / 32));
            l -= 4;
        }
        low2[e] = (uint8_t)l;
    }
    kq_pack_2bit_hd(low2, y->qs);
}

/* One super-block, no importance matrix (quantize_row_q3_K_ref). */
IG_HD_INLINE void q3_k_block_quantize_hd(const float *x, block_q3_K *y)
{
    int8_t L[QK_K];
    float scales[QK_K / 16];
    float max_scale = 0, amax = 0;   /* signed scale of largest |scale|, first one wins */

    for (int j = 0; j < QK_K / 16; ++j) {
        scales[j] = kq_make_q3_quants_hd(16, 4, x + 16 * j, L + 16 * j, KQ_REFINE_RMSE);
        float scale = fabsf(scales[j]);
        if (scale > amax) {
            amax = scale;
            max_scale = scales[j];
        }
    }

    memset(y->scales, 0, sizeof y->scales);
    if (max_scale) {
        float iscale = -32.f / max_scale;
        for (int j = 0; j < QK_K / 16; ++j) {
            /* ggml stores the rounding in an int8_t before clamping */
            int l = (int8_t)kq_nearest_int(iscale * scales[j]);
            l = (l < -32 ? -32 : l > 31 ? 31 : l) + 32;
            kq_pack_q3_scale_hd(j, l, y->scales);
        }
        y->d = ig_fp32_to_fp16(1 / iscale);
    } else {
        y->d = ig_fp32_to_fp16(0.f);
    }
    q3_k_finish_hd(x, y, L);
}

/* One super-block with importance weights qw[256] (quantize_row_q3_K_impl). */
IG_HD_INLINE void q3_k_block_quantize_imatrix_hd(const float *x, const float *qw,
                                                 block_q3_K *y)
{
    int8_t L[QK_K], Ls[QK_K / 16];
    float scales[QK_K / 16], weight[16], sw[QK_K / 16];

    float sumx2 = 0;
    for (int j = 0; j < QK_K; ++j)
        sumx2 += x[j] * x[j];
    float sigma2 = 2 * sumx2 / QK_K;

    for (int j = 0; j < QK_K / 16; ++j) {
        for (int l = 0; l < 16; ++l)
            weight[l] = qw[16 * j + l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
        float sumw = 0;
        for (int l = 0; l < 16; ++l)
            sumw += weight[l];
        sw[j] = sumw;
        scales[j] = kq_make_qx_quants_hd(16, 4, x + 16 * j, L + 16 * j, 1, weight);
    }

    /* Ls come back offset by 32, i.e. already the stored 6-bit codes */
    memset(y->scales, 0, sizeof y->scales);
    float d_block = kq_make_qx_quants_hd(QK_K / 16, 32, scales, Ls, 1, sw);
    for (int j = 0; j < QK_K / 16; ++j)
        kq_pack_q3_scale_hd(j, Ls[j], y->scales);
    y->d = ig_fp32_to_fp16(d_block);
    q3_k_finish_hd(x, y, L);
}

/* Element 128h + 32k + 16t + l is sub-block 8h + 2k + t; its low 2 bits sit in
 * qs[32h + 16t + l] at bits 2k..2k+1, its high bit in hmask[16t + l] bit 4h + k. */
IG_HD_INLINE void q3_k_block_dequantize_hd(const block_q3_K *x, float *y)
{
    const float d_all = ig_fp16_to_fp32(x->d);
    const uint8_t *q = x->qs;
    unsigned m = 1;
    int is = 0;
    for (int h = 0; h < 2; ++h) {
        for (int shift = 0; shift < 8; shift += 2) {
            for (int t = 0; t < 2; ++t) {
                const float dl = d_all * kq_get_q3_scale_hd(is++, x->scales);
                const uint8_t *hm = x->hmask + 16 * t;
                for (int l = 0; l < 16; ++l) {
                    int v = ((q[16 * t + l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4);
                    *y++ = dl * v;
                }
            }
            m <<= 1;
        }
        q += 32;
    }
}

/* ---- Q4_K ---------------------------------------------------------------------------- */

/* Shared tail: q = clamp(round((x + dm)/dd), 0, 15) with dd = d·sc, dm = dmin·m (a
 * sub-block with dd = 0 keeps its search codes); then nibble-pack, chunk c of 32 bytes
 * holding elements 64c..64c+31 low and 64c+32..64c+63 high. */
IG_HD_INLINE void q4_k_finish_hd(const float *x, block_q4_K *y, uint8_t *L)
{
    const float d_all = ig_fp16_to_fp32(y->d);
    const float m_all = ig_fp16_to_fp32(y->dmin);
    for (int j = 0; j < QK_K / 32; ++j) {
        uint8_t sc, m;
        kq_get_scale_min_k4_hd(j, y->scales, &sc, &m);
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
IG_HD_INLINE void q4_k_block_quantize_hd(const float *x, block_q4_K *y)
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
        scales[j] = kq_make_qkx2_quants_hd(32, 15, x + 32 * j, weights, L + 32 * j, &mins[j],
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
        kq_pack_scale_min_k4_hd(j, ls < 63 ? ls : 63, lm < 63 ? lm : 63, y->scales);
    }
    y->d = ig_fp32_to_fp16(max_scale / 63.f);
    y->dmin = ig_fp32_to_fp16(max_min / 63.f);
    q4_k_finish_hd(x, y, L);
}

/* One super-block with importance weights qw[256] (quantize_row_q4_K_impl). */
IG_HD_INLINE void q4_k_block_quantize_imatrix_hd(const float *x, const float *qw,
                                                 block_q4_K *y)
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
        scales[j] = kq_make_qkx3_quants_hd(32, 15, x + 32 * j, weights, L + 32 * j, &mins[j],
                                        Laux, -0.9f, 0.05f, 36, KQ_ERR_SQUARED);
    }

    float d_block = kq_make_qp_quants_hd(QK_K / 32, 63, scales, Ls, sw);
    float m_block = kq_make_qp_quants_hd(QK_K / 32, 63, mins, Lm, sw);
    /* unlike Q5_K, ggml's Q4_K does not cap Ls/Lm at 63 here */
    for (int j = 0; j < QK_K / 32; ++j)
        kq_pack_scale_min_k4_hd(j, Ls[j], Lm[j], y->scales);
    y->d = ig_fp32_to_fp16(d_block);
    y->dmin = ig_fp32_to_fp16(m_block);
    q4_k_finish_hd(x, y, L);
}

IG_HD_INLINE void q4_k_block_dequantize_hd(const block_q4_K *x, float *y)
{
    const float d = ig_fp16_to_fp32(x->d);
    const float min = ig_fp16_to_fp32(x->dmin);
    const uint8_t *q = x->qs;
    for (int c = 0; c < 4; ++c) {
        uint8_t sc, m;
        kq_get_scale_min_k4_hd(2 * c, x->scales, &sc, &m);
        const float d1 = d * sc, m1 = min * m;
        kq_get_scale_min_k4_hd(2 * c + 1, x->scales, &sc, &m);
        const float d2 = d * sc, m2 = min * m;
        for (int l = 0; l < 32; ++l)
            *y++ = d1 * (q[l] & 0xF) - m1;
        for (int l = 0; l < 32; ++l)
            *y++ = d2 * (q[l] >> 4) - m2;
        q += 32;
    }
}

/* ---- Q5_K ---------------------------------------------------------------------------- */

/* Shared tail: q = clamp(round((x + dm)/dd), 0, 31) (a sub-block with dd = 0 keeps its
 * search codes), then pack: chunk c (elements 64c..64c+63) puts the low 4 bits of element
 * 64c+l / 64c+32+l in the low / high nibble of qs[32c+l] and their 16s bit in qh[l] bit
 * 2c / 2c+1. */
IG_HD_INLINE void q5_k_finish_hd(const float *x, block_q5_K *y, uint8_t *L)
{
    const float d_all = ig_fp16_to_fp32(y->d);
    const float m_all = ig_fp16_to_fp32(y->dmin);
    for (int j = 0; j < QK_K / 32; ++j) {
        uint8_t sc, m;
        kq_get_scale_min_k4_hd(j, y->scales, &sc, &m);
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
IG_HD_INLINE void q5_k_block_quantize_hd(const float *x, block_q5_K *y)
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
        scales[j] = kq_make_qkx2_quants_hd(32, 31, x + 32 * j, weights, L + 32 * j, &mins[j],
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
        kq_pack_scale_min_k4_hd(j, ls < 63 ? ls : 63, lm < 63 ? lm : 63, y->scales);
    }
    y->d = ig_fp32_to_fp16(max_scale / 63.f);
    y->dmin = ig_fp32_to_fp16(max_min / 63.f);
    q5_k_finish_hd(x, y, L);
}

/* One super-block with importance weights qw[256] (quantize_row_q5_K_impl). */
IG_HD_INLINE void q5_k_block_quantize_imatrix_hd(const float *x, const float *qw,
                                                 block_q5_K *y)
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
        scales[j] = kq_make_qkx3_quants_hd(32, 31, x + 32 * j, weights, L + 32 * j, &mins[j],
                                        Laux, -0.9f, 0.05f, 36, KQ_ERR_SQUARED);
    }

    float d_block = kq_make_qp_quants_hd(QK_K / 32, 63, scales, Ls, sw);
    float m_block = kq_make_qp_quants_hd(QK_K / 32, 63, mins, Lm, sw);
    for (int j = 0; j < QK_K / 32; ++j)
        kq_pack_scale_min_k4_hd(j, Ls[j] < 63 ? Ls[j] : 63, Lm[j] < 63 ? Lm[j] : 63, y->scales);
    y->d = ig_fp32_to_fp16(d_block);
    y->dmin = ig_fp32_to_fp16(m_block);
    q5_k_finish_hd(x, y, L);
}

IG_HD_INLINE void q5_k_block_dequantize_hd(const block_q5_K *x, float *y)
{
    const float d = ig_fp16_to_fp32(x->d);
    const float min = ig_fp16_to_fp32(x->dmin);
    const uint8_t *ql = x->qs;
    const uint8_t *qh = x->qh;
    unsigned u1 = 1, u2 = 2;
    for (int c = 0; c < 4; ++c) {
        uint8_t sc, m;
        kq_get_scale_min_k4_hd(2 * c, x->scales, &sc, &m);
        const float d1 = d * sc, m1 = min * m;
        kq_get_scale_min_k4_hd(2 * c + 1, x->scales, &sc, &m);
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

/* ---- Q6_K ---------------------------------------------------------------------------- */

/* One super-block; qw is [256] importance weights or NULL (then w = x²). */
IG_HD_INLINE void q6_k_block_quantize_weighted_hd(const float *x, const float *qw,
                                                 block_q6_K *y)
{
    int8_t L[QK_K];
    float scales[QK_K / 16];
    float max_scale = 0, max_abs_scale = 0;

    for (int ib = 0; ib < QK_K / 16; ++ib) {
        const float scale = kq_make_qx_quants_hd(16, 32, x + 16 * ib, L + 16 * ib, 1,
                                              qw ? qw + 16 * ib : NULL);
        scales[ib] = scale;
        const float abs_scale = fabsf(scale);
        if (abs_scale > max_abs_scale) {
            max_abs_scale = abs_scale;
            max_scale = scale;
        }
    }

    if (max_abs_scale < KQ_GROUP_MAX_EPS) {
        memset(y, 0, sizeof *y);
        y->d = ig_fp32_to_fp16(0.f);
        return;
    }

    float iscale = -128.f / max_scale;
    y->d = ig_fp32_to_fp16(1 / iscale);
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        int l = kq_nearest_int(iscale * scales[ib]);
        y->scales[ib] = (int8_t)(l < 127 ? l : 127);
    }

    /* re-round against d·scale; a sub-block with d·scale = 0 keeps its search codes */
    const float d_all = ig_fp16_to_fp32(y->d);
    for (int j = 0; j < QK_K / 16; ++j) {
        const float dd = d_all * y->scales[j];
        if (!dd)
            continue;
        for (int ii = 0; ii < 16; ++ii) {
            int l = kq_nearest_int(x[16 * j + ii] / dd);
            l = l < -32 ? -32 : l > 31 ? 31 : l;
            L[16 * j + ii] = (int8_t)(l + 32);
        }
    }

    /* half h, element 128h + 32k + l: low nibble in ql[64h + 32(k&1) + l] (k < 2 low,
     * k >= 2 high nibble), high 2 bits in qh[32h + l] bits 2k..2k+1 */
    for (int h = 0; h < 2; ++h) {
        const int8_t *e = L + 128 * h;
        uint8_t *ql = y->ql + 64 * h;
        uint8_t *qh = y->qh + 32 * h;
        for (int l = 0; l < 32; ++l) {
            ql[l] = (uint8_t)((e[l] & 0xF) | ((e[l + 64] & 0xF) << 4));
            ql[l + 32] = (uint8_t)((e[l + 32] & 0xF) | ((e[l + 96] & 0xF) << 4));
            qh[l] = (uint8_t)((e[l] >> 4) | ((e[l + 32] >> 4) << 2) | ((e[l + 64] >> 4) << 4) |
                              ((e[l + 96] >> 4) << 6));
        }
    }
}

/* The two entry points of the other k-quants: without an importance matrix the weights are x². */
IG_HD_INLINE void q6_k_block_quantize_hd(const float *x, block_q6_K *y)
{
    q6_k_block_quantize_weighted_hd(x, NULL, y);
}

IG_HD_INLINE void q6_k_block_quantize_imatrix_hd(const float *x, const float *qw, block_q6_K *y)
{
    q6_k_block_quantize_weighted_hd(x, qw, y);
}

IG_HD_INLINE void q6_k_block_dequantize_hd(const block_q6_K *x, float *y)
{
    const float d = ig_fp16_to_fp32(x->d);
    const uint8_t *ql = x->ql;
    const uint8_t *qh = x->qh;
    const int8_t *sc = x->scales;
    for (int h = 0; h < 2; ++h) {
        for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * sc[is + 0] * q1;
            y[l + 32] = d * sc[is + 2] * q2;
            y[l + 64] = d * sc[is + 4] * q3;
            y[l + 96] = d * sc[is + 6] * q4;
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

#endif /* K_QUANTS_BLOCK_H */
