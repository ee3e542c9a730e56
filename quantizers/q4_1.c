/* q4_1.c — Q4_1: 32 weights share an fp16 scale d and offset m; x ~ d q + m, q in 0..15.
 *
 * Reference quantize and dequantize, bit-exact with llama.cpp's ggml-quants.c
 * (quantize_row_q4_1_ref, quantize_row_q4_1_impl, dequantize_row_q4_1); q_legacy.h gives
 * the formulas. Called by convert/ through the type table on one row at a time.
 */
#include "q_legacy.h"

#include "q_legacy_block.h"

#include "quant_util.h"

#include <assert.h>

/* ---- quantize ------------------------------------------------------------------------- */

/* The block rules are q_legacy_block.h's (shared with the GPU kernels); a row is its blocks. */

int q4_1_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    int rc = quant_check_row32("q4_1_quantize_row_ref", "Q4_1", n);
    if (rc)
        return rc;
    block_q4_1 *y = (block_q4_1 *)dst;
    const int64_t nb = n / QK4_1;
    if (!imatrix) {
        for (int64_t i = 0; i < nb; ++i)
            q4_1_block_quantize_hd(x + QK4_1 * i, &y[i]);
        return 0;
    }
    const float sigma2 = quant_row_sigma2(x, n);
    for (int64_t i = 0; i < nb; ++i)
        q4_1_block_quantize_imatrix_hd(x + QK4_1 * i, &y[i], imatrix + QK4_1 * i, sigma2);
    return 0;
}

/* ---- dequantize ----------------------------------------------------------------------- */

void q4_1_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK4_1 == 0);
    const block_q4_1 *x = (const block_q4_1 *)src;
    for (int64_t i = 0; i < n / QK4_1; i++)
        q4_1_block_dequantize_hd(&x[i], y + i * QK4_1);
}
