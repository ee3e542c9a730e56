/* q6_k.c — Q6_K: signed 6-bit codes, 16 sub-blocks of 16 with int8 scales.
 *
 * x ≈ d·scales[s]·q, q in -32..31 (layout in k_quants.h). Both paths are ggml's
 * quantize_row_q6_K_ref / quantize_row_q6_K_impl: make_qx_quants (nmax 32) per sub-block,
 * weighted by x² without an importance matrix and by the raw importance values with one;
 * the scales are rounded against the signed scale of largest magnitude, max_scale/-128,
 * and every code is re-rounded against the fp16 d read back. A super-block whose scales
 * are all below GROUP_MAX_EPS is written as all-zero bytes.
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

/* One super-block; qw is [256] importance weights or NULL (then w = x²). */
static void q6_k_quantize_block(const float *x, const float *qw, block_q6_K *y)
{
    int8_t L[QK_K];
    float scales[QK_K / 16];
    float max_scale = 0, max_abs_scale = 0;

    for (int ib = 0; ib < QK_K / 16; ++ib) {
        const float scale = kq_make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1,
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

/* ---- public ----------------------------------------------------------------------- */

int q6_k_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    int rc = kq_check_row_length("q6_k_quantize_row_ref", "Q6_K", n);
    if (rc)
        return rc;
    block_q6_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; ++i)
        q6_k_quantize_block(x + QK_K * i, imatrix ? imatrix + QK_K * i : NULL, &y[i]);
    return 0;
}

void q6_k_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    const block_q6_K *x = src;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = ig_fp16_to_fp32(x[i].d);
        const uint8_t *ql = x[i].ql;
        const uint8_t *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
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
}
