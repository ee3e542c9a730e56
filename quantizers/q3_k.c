/* q3_k.c — Q3_K: signed 3-bit codes, 16 sub-blocks of 16 with signed 6-bit scales.
 *
 * x ≈ d·sc_s·q, q in -4..3, sc in -32..31 (layout in k_quants.h). Without an importance
 * matrix this is ggml's quantize_row_q3_K_ref: make_q3_quants (x² weights, coordinate
 * descent) per sub-block, and the scales rounded against the signed scale of largest
 * magnitude, max_scale/-32. With one it is quantize_row_q3_K_impl: make_qx_quants with
 * imatrix·sqrt(σ² + x²) weights per sub-block, and make_qx_quants again (nmax 32) on the
 * vector of scales. Both finish by re-rounding every code against the fp16 d read back.
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

/* Shared tail of both paths: re-round codes against d·sc (sub-blocks with d·sc = 0 keep
 * the search's codes), then split each 3-bit code (0..7, offset 4) into hmask and qs.
 * L is [256] codes in 0..7 and is consumed. */
static void q3_k_finish(const float *x, block_q3_K *y, int8_t *L)
{
    const float d_all = ig_fp16_to_fp32(y->d);
    for (int j = 0; j < QK_K / 16; ++j) {
        const float dd = d_all * kq_get_q3_scale(j, y->scales);
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
    kq_pack_2bit(low2, y->qs);
}

/* One super-block, no importance matrix (quantize_row_q3_K_ref). */
static void q3_k_quantize_block(const float *x, block_q3_K *y)
{
    int8_t L[QK_K];
    float scales[QK_K / 16];
    float max_scale = 0, amax = 0;   /* signed scale of largest |scale|, first one wins */

    for (int j = 0; j < QK_K / 16; ++j) {
        scales[j] = kq_make_q3_quants(16, 4, x + 16 * j, L + 16 * j, KQ_REFINE_RMSE);
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
            kq_pack_q3_scale(j, l, y->scales);
        }
        y->d = ig_fp32_to_fp16(1 / iscale);
    } else {
        y->d = ig_fp32_to_fp16(0.f);
    }
    q3_k_finish(x, y, L);
}

/* One super-block with importance weights qw[256] (quantize_row_q3_K_impl). */
static void q3_k_quantize_block_imatrix(const float *x, const float *qw, block_q3_K *y)
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
        scales[j] = kq_make_qx_quants(16, 4, x + 16 * j, L + 16 * j, 1, weight);
    }

    /* Ls come back offset by 32, i.e. already the stored 6-bit codes */
    memset(y->scales, 0, sizeof y->scales);
    float d_block = kq_make_qx_quants(QK_K / 16, 32, scales, Ls, 1, sw);
    for (int j = 0; j < QK_K / 16; ++j)
        kq_pack_q3_scale(j, Ls[j], y->scales);
    y->d = ig_fp32_to_fp16(d_block);
    q3_k_finish(x, y, L);
}

/* ---- public ----------------------------------------------------------------------- */

int q3_k_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    int rc = kq_check_row_length("q3_k_quantize_row_ref", "Q3_K", n);
    if (rc)
        return rc;
    block_q3_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        if (imatrix)
            q3_k_quantize_block_imatrix(x + QK_K * i, imatrix + QK_K * i, &y[i]);
        else
            q3_k_quantize_block(x + QK_K * i, &y[i]);
    }
    return 0;
}

/* Element 128h + 32k + 16t + l is sub-block 8h + 2k + t; its low 2 bits sit in
 * qs[32h + 16t + l] at bits 2k..2k+1, its high bit in hmask[16t + l] bit 4h + k. */
void q3_k_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    const block_q3_K *x = src;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d_all = ig_fp16_to_fp32(x[i].d);
        const uint8_t *q = x[i].qs;
        unsigned m = 1;
        int is = 0;
        for (int h = 0; h < 2; ++h) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int t = 0; t < 2; ++t) {
                    const float dl = d_all * kq_get_q3_scale(is++, x[i].scales);
                    const uint8_t *hm = x[i].hmask + 16 * t;
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
}
