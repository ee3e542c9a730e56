/* iq4_nl.c — IQ4_NL: 32 weights share one fp16 scale d; each weight is a 4-bit index
 * into a fixed non-linear table of 16 int8 values, x ~ d table[index].
 *
 * Reference quantize and dequantize, bit-exact with llama.cpp's ggml-quants.c
 * (quantize_iq4_nl -> quantize_row_iq4_nl_impl with super_block_size = block_size = 32
 * and ntry = 7, which llama-quantize uses with and without an importance matrix;
 * dequantize_row_iq4_nl). q_legacy.h gives the algorithm. Called by convert/ through the
 * type table on one row at a time.
 */
#include "q_legacy.h"

#include "iq4_impl.h"
#include "q_legacy_block.h"
#include "quant_util.h"

#include <assert.h>

/* ---- constants ------------------------------------------------------------------------ */

/* ggml's kvalues_iq4nl, for iq4_xs.c (q_legacy_block.h holds the copy the blocks read). */
const int8_t iq4nl_values[16] = IQ4NL_VALUES;

/* ---- quantize ------------------------------------------------------------------------- */

/* The block rule is q_legacy_block.h's (shared with the GPU kernels); a row is its blocks.
 * iq4_xs.c reuses the index and the scale search through these two names. */

int iq4nl_best_index(float x)
{
    return iq4nl_best_index_hd(x);
}

float iq4nl_block_scale(const float *x, const float *w)
{
    return iq4nl_block_scale_hd(x, w);
}

int iq4_nl_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    int rc = quant_check_row32("iq4_nl_quantize_row_ref", "IQ4_NL", n);
    if (rc)
        return rc;
    block_iq4_nl *y = (block_iq4_nl *)dst;
    for (int64_t i = 0; i < n / QK4_NL; ++i)
        iq4_nl_block_quantize_hd(x + QK4_NL * i, &y[i], imatrix ? imatrix + QK4_NL * i : NULL);
    return 0;
}

/* ---- dequantize ----------------------------------------------------------------------- */

void iq4_nl_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK4_NL == 0);
    const block_iq4_nl *x = (const block_iq4_nl *)src;
    for (int64_t i = 0; i < n / QK4_NL; i++)
        iq4_nl_block_dequantize_hd(&x[i], y + i * QK4_NL);
}
