/* q8_0.c — Q8_0: 32 weights share one fp16 scale d; each weight is an int8 q, x ~ d q.
 *
 * Reference quantize and dequantize, bit-exact with llama.cpp's ggml-quants.c
 * (quantize_row_q8_0_ref, dequantize_row_q8_0); q_legacy.h gives the formulas. ggml's
 * quantize_q8_0 ignores the importance matrix, and so does this file. Called by convert/
 * through the type table on one row at a time.
 */
#include "q_legacy.h"

#include "q_legacy_block.h"

#include "quant_util.h"

#include <assert.h>

/* ---- quantize ------------------------------------------------------------------------- */

/* The block rule is q_legacy_block.h's (shared with the GPU kernels); a row is its blocks. */

int q8_0_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    (void)imatrix;  /* not used by ggml either */
    int rc = quant_check_row32("q8_0_quantize_row_ref", "Q8_0", n);
    if (rc)
        return rc;
    block_q8_0 *y = (block_q8_0 *)dst;
    for (int64_t i = 0; i < n / QK8_0; ++i)
        q8_0_block_quantize_hd(x + QK8_0 * i, &y[i]);
    return 0;
}

/* ---- dequantize ----------------------------------------------------------------------- */

void q8_0_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK8_0 == 0);
    const block_q8_0 *x = (const block_q8_0 *)src;
    for (int64_t i = 0; i < n / QK8_0; i++)
        q8_0_block_dequantize_hd(&x[i], y + i * QK8_0);
}
