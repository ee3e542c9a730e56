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

#include "k_quant_search.h"
#include "k_quants_block.h"

/* ---- public ----------------------------------------------------------------------- */

/* The super-block rules are k_quants_block.h's (shared with the GPU kernels). */

int q2_k_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    int rc = kq_check_row_length("q2_k_quantize_row_ref", "Q2_K", n);
    if (rc)
        return rc;
    block_q2_K *y = (block_q2_K *)dst;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        if (imatrix)
            q2_k_block_quantize_imatrix_hd(x + QK_K * i, imatrix + QK_K * i, &y[i]);
        else
            q2_k_block_quantize_hd(x + QK_K * i, &y[i]);
    }
    return 0;
}

void q2_k_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    const block_q2_K *x = (const block_q2_K *)src;
    for (int64_t i = 0; i < n / QK_K; ++i)
        q2_k_block_dequantize_hd(&x[i], y + QK_K * i);
}
