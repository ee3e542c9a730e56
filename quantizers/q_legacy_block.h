/* q_legacy_block.h — one block of the 32-element types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
 * IQ4_NL), quantized and dequantized by IG_HD functions that the C row functions
 * (q4_0.c ... iq4_nl.c) and the GPU kernels (kernels/cuda/quantize.cu, one block per thread)
 * both call, so both write the same bytes by construction.
 *
 * q_legacy.h gives the formulas (ggml's quantize_row_<type>_ref, quantize_row_<type>_impl,
 * quantize_row_iq4_nl_impl, dequantize_row_<type>). Per type:
 *   <t>_block_quantize_hd(x[32], y)                  the no-imatrix rule
 *   <t>_block_quantize_imatrix_hd(x[32], y, qw[32], sigma2)
 *                                                    the importance rule; sigma2 is the
 *                                                    ROW's sum(x^2)/n (quant_row_sigma2)
 *   <t>_block_dequantize_hd(y_block, out[32])
 * IQ4_NL has one rule, iq4_nl_block_quantize_hd(x, y, qw or NULL), with a per-block sigma2.
 */
#ifndef Q_LEGACY_BLOCK_H
#define Q_LEGACY_BLOCK_H

#include "blocks.h"
#include "k_quant_search_block.h"
#include "quant_util_block.h"

#include "../common/ig_half.h"
#include "../common/ig_hd.h"

#include <float.h>
#include <math.h>
#include <stdint.h>

/* ---- Q4_0 ----------------------------------------------------------------------------- */

/* quantize_row_q4_0_ref for one block: d = max / -8, so the element of largest |x| maps
 * to level 0 exactly (value -8 d) and the opposite end clamps at level 15. */
IG_HD_INLINE void q4_0_block_quantize_hd(const float *x, block_q4_0 *y)
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

/* quantize_row_q4_0_impl for one block: weighted search over 19 scales (make_qx_quants). */
IG_HD_INLINE void q4_0_block_quantize_imatrix_hd(const float *x, block_q4_0 *y, const float *qw,
                                                 float sigma2)
{
    float weight[QK4_0];
    int8_t L[QK4_0];
    for (int j = 0; j < QK4_0; ++j)
        weight[j] = qw[j] * sqrtf(sigma2 + x[j] * x[j]);
    float d = kq_make_qx_quants_hd(QK4_0, 8, x, L, 1, weight);
    y->d = ig_fp32_to_fp16(d);
    /* byte j holds element j in its low nibble, j + 16 in its high */
    for (int j = 0; j < 16; ++j)
        y->qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
}

IG_HD_INLINE void q4_0_block_dequantize_hd(const block_q4_0 *x, float *y)
{
    const float d = ig_fp16_to_fp32(x->d);
    for (int j = 0; j < QK4_0 / 2; ++j) {
        const int x0 = (x->qs[j] & 0x0F) - 8;
        const int x1 = (x->qs[j] >> 4) - 8;
        y[j] = x0 * d;
        y[j + QK4_0 / 2] = x1 * d;
    }
}

/* ---- Q4_1 ----------------------------------------------------------------------------- */

/* quantize_row_q4_1_ref for one block: the block's [min, max] split into 15 steps. */
IG_HD_INLINE void q4_1_block_quantize_hd(const float *x, block_q4_1 *y)
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

/* quantize_row_q4_1_impl for one block: weighted scale + min search (make_qkx3_quants). */
IG_HD_INLINE void q4_1_block_quantize_imatrix_hd(const float *x, block_q4_1 *y, const float *qw,
                                                 float sigma2)
{
    float weight[QK4_1];
    uint8_t L[QK4_1], Laux[QK4_1];
    for (int j = 0; j < QK4_1; ++j)
        weight[j] = qw[j] * sqrtf(sigma2 + x[j] * x[j]);
    float min;
    float d = kq_make_qkx3_quants_hd(QK4_1, 15, x, weight, L, &min, Laux, -0.9f, 0.05f, 36,
                                     KQ_ERR_SQUARED);
    y->d = ig_fp32_to_fp16(d);
    y->m = ig_fp32_to_fp16(-min);
    for (int j = 0; j < 16; ++j)
        y->qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
}

IG_HD_INLINE void q4_1_block_dequantize_hd(const block_q4_1 *x, float *y)
{
    const float d = ig_fp16_to_fp32(x->d);
    const float m = ig_fp16_to_fp32(x->m);
    for (int j = 0; j < QK4_1 / 2; ++j) {
        const int x0 = x->qs[j] & 0x0F;
        const int x1 = x->qs[j] >> 4;
        y[j] = x0 * d + m;
        y[j + QK4_1 / 2] = x1 * d + m;
    }
}

/* ---- Q5_0 ----------------------------------------------------------------------------- */

/* quantize_row_q5_0_ref for one block: d = max / -16, levels MIN(31, trunc(x/d + 16.5)). */
IG_HD_INLINE void q5_0_block_quantize_hd(const float *x, block_q5_0 *y)
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

/* quantize_row_q5_0_impl for one block: weighted search over 19 scales (make_qx_quants). */
IG_HD_INLINE void q5_0_block_quantize_imatrix_hd(const float *x, block_q5_0 *y, const float *qw,
                                                 float sigma2)
{
    float weight[QK5_0];
    int8_t L[QK5_0];
    uint8_t q[QK5_0];
    for (int j = 0; j < QK5_0; ++j)
        weight[j] = qw[j] * sqrtf(sigma2 + x[j] * x[j]);
    float d = kq_make_qx_quants_hd(QK5_0, 16, x, L, 1, weight);
    y->d = ig_fp32_to_fp16(d);
    for (int j = 0; j < QK5_0; ++j)
        q[j] = (uint8_t)L[j];
    quant_pack5(q, y->qs, y->qh);
}

IG_HD_INLINE void q5_0_block_dequantize_hd(const block_q5_0 *x, float *y)
{
    const float d = ig_fp16_to_fp32(x->d);
    for (int j = 0; j < QK5_0; ++j) {
        const int q = quant_unpack5(x->qs, x->qh, j) - 16;
        y[j] = q * d;
    }
}

/* ---- Q5_1 ----------------------------------------------------------------------------- */

/* quantize_row_q5_1_ref for one block: [min, max] in 31 steps. ggml does not clamp the
 * level here: (x - min)/d + 0.5 stays below 32 because x <= max. */
IG_HD_INLINE void q5_1_block_quantize_hd(const float *x, block_q5_1 *y)
{
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < QK5_1; j++) {
        const float v = x[j];
        if (v < min)
            min = v;
        if (v > max)
            max = v;
    }
    const float d = (max - min) / ((1 << 5) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y->d = ig_fp32_to_fp16(d);
    y->m = ig_fp32_to_fp16(min);

    uint8_t q[QK5_1];
    for (int j = 0; j < QK5_1; ++j) {
        const float x0 = (x[j] - min) * id;
        q[j] = (uint8_t)quant_trunc_i8(x0 + 0.5f);
    }
    quant_pack5(q, y->qs, y->qh);
}

/* quantize_row_q5_1_impl for one block: weighted scale + min search (make_qkx3_quants). */
IG_HD_INLINE void q5_1_block_quantize_imatrix_hd(const float *x, block_q5_1 *y, const float *qw,
                                                 float sigma2)
{
    float weight[QK5_1];
    uint8_t L[QK5_1], Laux[QK5_1];
    for (int j = 0; j < QK5_1; ++j)
        weight[j] = qw[j] * sqrtf(sigma2 + x[j] * x[j]);
    float min;
    float d = kq_make_qkx3_quants_hd(QK5_1, 31, x, weight, L, &min, Laux, -0.9f, 0.05f, 36,
                                     KQ_ERR_SQUARED);
    y->d = ig_fp32_to_fp16(d);
    y->m = ig_fp32_to_fp16(-min);
    quant_pack5(L, y->qs, y->qh);
}

IG_HD_INLINE void q5_1_block_dequantize_hd(const block_q5_1 *x, float *y)
{
    const float d = ig_fp16_to_fp32(x->d);
    const float m = ig_fp16_to_fp32(x->m);
    for (int j = 0; j < QK5_1; ++j) {
        const int q = quant_unpack5(x->qs, x->qh, j);
        y[j] = q * d + m;
    }
}

/* ---- Q8_0 ----------------------------------------------------------------------------- */

/* roundf for the |v| <= 128 that a Q8_0 block produces, without a libm call (which was a
 * fifth of a Q8_0 conversion): truncation is exact there, and so is v - trunc(v), so the
 * comparison with 0.5 decides halves away from zero exactly as roundf does. Anything else
 * (NaN, Inf from a subnormal d) goes to roundf itself. */
IG_HD_INLINE float q8_0_round_half_away(float v)
{
    if (!(fabsf(v) <= 128.0f))
        return roundf(v);
    int i = (int)v;
    float frac = v - (float)i;
    i += (frac >= 0.5f) - (frac <= -0.5f);   /* branch-free: the halves are random data */
    return (float)i;
}

/* quantize_row_q8_0_ref for one block: d = max|x| / 127, q = roundf(x / d) with the
 * unrounded fp32 1/d; roundf rounds halves away from zero (unlike nearest_int). ggml's
 * quantize_q8_0 has no importance rule. */
IG_HD_INLINE void q8_0_block_quantize_hd(const float *x, block_q8_0 *y)
{
    float amax = 0.0f;
    for (int j = 0; j < QK8_0; j++)
        amax = QUANT_MAX(amax, fabsf(x[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y->d = ig_fp32_to_fp16(d);
    for (int j = 0; j < QK8_0; ++j) {
        const float x0 = x[j] * id;
        y->qs[j] = (int8_t)quant_trunc_i8(q8_0_round_half_away(x0));
    }
}

IG_HD_INLINE void q8_0_block_dequantize_hd(const block_q8_0 *x, float *y)
{
    const float d = ig_fp16_to_fp32(x->d);
    for (int j = 0; j < QK8_0; ++j)
        y[j] = x->qs[j] * d;
}

/* ---- IQ4_NL --------------------------------------------------------------------------- */

/* ggml's kvalues_iq4nl: denser near zero, where most weights are. */
#define IQ4NL_VALUES {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}
IG_HD_TABLE(int8_t, iq4nl_kvalues, 16, IQ4NL_VALUES);
#define IQ4NL_VALUE(i) IG_HD_TABLE_AT(iq4nl_kvalues, i)

/* quantize_iq4_nl's ntry: inverse scales (itry + values[0]) / max for itry = -7..7. */
#define IQ4NL_NTRY 7

/* ggml's best_index_int8(16, values, x): the index of the table entry nearest to x by
 * bisection; a tie between neighbours goes to the upper one. */
IG_HD_INLINE int iq4nl_best_index_hd(float x)
{
    if (x <= IQ4NL_VALUE(0))
        return 0;
    if (x >= IQ4NL_VALUE(15))
        return 15;
    int ml = 0, mu = 15;
    while (mu - ml > 1) {
        int mav = (ml + mu) / 2;
        if (x < IQ4NL_VALUE(mav))
            mu = mav;
        else
            ml = mav;
    }
    return x - IQ4NL_VALUE(mu - 1) < IQ4NL_VALUE(mu) - x ? mu - 1 : mu;
}

/* sum(w q x) and sum(w q^2) with q = table[best_index(id x)] over one block. */
IG_HD_INLINE void iq4nl_sums_hd(const float *x, const float *w, float id, float *sumqx,
                                float *sumq2)
{
    float sqx = 0, sq2 = 0;
    for (int j = 0; j < QK4_NL; ++j) {
        float q = IQ4NL_VALUE(iq4nl_best_index_hd(id * x[j]));
        sqx += w[j] * q * x[j];
        sq2 += w[j] * q * q;
    }
    *sumqx = sqx;
    *sumq2 = sq2;
}

/* The block scale of quantize_row_iq4_nl_impl: start at d = max/127 (max = signed
 * max-|x| element), refit d = sum(w q x)/sum(w q^2), then keep the best of the 15 inverse
 * scales by the score sumqx^2/sumq2. 0 for a block with max|x| < GROUP_MAX_EPS, and 0
 * when every weight is 0 (current ggml guards sumq2 > 0; versions without the guard
 * stored NaN for such a block, which only an importance matrix with zeros can cause). */
IG_HD_INLINE float iq4nl_block_scale_hd(const float *x, const float *w)
{
    float amax = 0, max = 0;
    for (int j = 0; j < QK4_NL; ++j) {
        float ax = fabsf(x[j]);
        if (ax > amax) {
            amax = ax;
            max = x[j];
        }
    }
    if (amax < QUANT_GROUP_MAX_EPS)
        return 0;
    float sumqx, sumq2;
    iq4nl_sums_hd(x, w, 1 / (-max / IQ4NL_VALUE(0)), &sumqx, &sumq2);
    float d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -IQ4NL_NTRY; itry <= IQ4NL_NTRY; ++itry) {
        iq4nl_sums_hd(x, w, (itry + IQ4NL_VALUE(0)) / max, &sumqx, &sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

/* One block; qw is [32] importance weights or NULL. sigma2 is per block here
 * (2 sum(x^2)/32), unlike the legacy _impl paths. */
IG_HD_INLINE void iq4_nl_block_quantize_hd(const float *x, block_iq4_nl *y, const float *qw)
{
    float weight[QK4_NL];
    uint8_t L[QK4_NL];
    float sigma2 = 0;
    for (int j = 0; j < QK4_NL; ++j)
        sigma2 += x[j] * x[j];
    sigma2 *= 2.f / QK4_NL;
    for (int j = 0; j < QK4_NL; ++j)
        weight[j] = qw ? qw[j] * sqrtf(sigma2 + x[j] * x[j]) : x[j] * x[j];

    const float d = iq4nl_block_scale_hd(x, weight);
    y->d = ig_fp32_to_fp16(d);
    /* indices come from the unrounded d; a zero block maps every x to index 8 (value 1) */
    const float id = d ? 1 / d : 0;
    for (int j = 0; j < QK4_NL; ++j)
        L[j] = (uint8_t)iq4nl_best_index_hd(id * x[j]);
    for (int j = 0; j < 16; ++j)
        y->qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
}

IG_HD_INLINE void iq4_nl_block_dequantize_hd(const block_iq4_nl *x, float *y)
{
    const float d = ig_fp16_to_fp32(x->d);
    for (int j = 0; j < QK4_NL / 2; ++j) {
        y[j] = d * IQ4NL_VALUE(x->qs[j] & 0x0F);
        y[j + QK4_NL / 2] = d * IQ4NL_VALUE(x->qs[j] >> 4);
    }
}

#endif /* Q_LEGACY_BLOCK_H */
