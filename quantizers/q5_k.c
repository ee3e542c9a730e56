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

#include "k_quant_search.h"
#include "k_quants_block.h"

/* ---- public ----------------------------------------------------------------------- */

/* The super-block rules are k_quants_block.h's (shared with the GPU kernels). */

int q5_k_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    int rc = kq_check_row_length("q5_k_quantize_row_ref", "Q5_K", n);
    if (rc)
        return rc;
    block_q5_K *y = (block_q5_K *)dst;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        if (imatrix)
            q5_k_block_quantize_imatrix_hd(x + QK_K * i, imatrix + QK_K * i, &y[i]);
        else
            q5_k_block_quantize_hd(x + QK_K * i, &y[i]);
    }
    return 0;
}

void q5_k_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    const block_q5_K *x = (const block_q5_K *)src;
    for (int64_t i = 0; i < n / QK_K; ++i)
        q5_k_block_dequantize_hd(&x[i], y + QK_K * i);
}
