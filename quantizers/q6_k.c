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

#include "k_quant_search.h"
#include "k_quants_block.h"

/* ---- public ----------------------------------------------------------------------- */

/* The super-block rules are k_quants_block.h's (shared with the GPU kernels). */

int q6_k_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    int rc = kq_check_row_length("q6_k_quantize_row_ref", "Q6_K", n);
    if (rc)
        return rc;
    block_q6_K *y = (block_q6_K *)dst;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        if (imatrix)
            q6_k_block_quantize_imatrix_hd(x + QK_K * i, imatrix + QK_K * i, &y[i]);
        else
            q6_k_block_quantize_hd(x + QK_K * i, &y[i]);
    }
    return 0;
}

void q6_k_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    const block_q6_K *x = (const block_q6_K *)src;
    for (int64_t i = 0; i < n / QK_K; ++i)
        q6_k_block_dequantize_hd(&x[i], y + QK_K * i);
}
