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

#include "k_quant_search.h"
#include "k_quants_block.h"

/* ---- public ----------------------------------------------------------------------- */

/* The super-block rules are k_quants_block.h's (shared with the GPU kernels). */

int q4_k_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    int rc = kq_check_row_length("q4_k_quantize_row_ref", "Q4_K", n);
    if (rc)
        return rc;
    block_q4_K *y = (block_q4_K *)dst;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        if (imatrix)
            q4_k_block_quantize_imatrix_hd(x + QK_K * i, imatrix + QK_K * i, &y[i]);
        else
            q4_k_block_quantize_hd(x + QK_K * i, &y[i]);
    }
    return 0;
}

void q4_k_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    const block_q4_K *x = (const block_q4_K *)src;
    for (int64_t i = 0; i < n / QK_K; ++i)
        q4_k_block_dequantize_hd(&x[i], y + QK_K * i);
}
