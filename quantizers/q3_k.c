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

#include "k_quant_search.h"
#include "k_quants_block.h"

/* ---- public ----------------------------------------------------------------------- */

/* The super-block rules are k_quants_block.h's (shared with the GPU kernels). */

int q3_k_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    int rc = kq_check_row_length("q3_k_quantize_row_ref", "Q3_K", n);
    if (rc)
        return rc;
    block_q3_K *y = (block_q3_K *)dst;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        if (imatrix)
            q3_k_block_quantize_imatrix_hd(x + QK_K * i, imatrix + QK_K * i, &y[i]);
        else
            q3_k_block_quantize_hd(x + QK_K * i, &y[i]);
    }
    return 0;
}

void q3_k_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    const block_q3_K *x = (const block_q3_K *)src;
    for (int64_t i = 0; i < n / QK_K; ++i)
        q3_k_block_dequantize_hd(&x[i], y + QK_K * i);
}
