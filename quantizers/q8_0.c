/* q8_0.c — Q8_0: 32 weights share one fp16 scale d; each weight is an int8 q, x ~ d q.
 *
 * Reference quantize and dequantize, bit-exact with llama.cpp's ggml-quants.c
 * (quantize_row_q8_0_ref, dequantize_row_q8_0); q_legacy.h gives the formulas. ggml's
 * quantize_q8_0 ignores the importance matrix, and so does this file. Called by convert/
 * through the type table on one row at a time.
 */
#include "q_legacy.h"

#include "quant_util.h"

#include "../common/ig_half.h"

#include <assert.h>

/* ---- quantize ------------------------------------------------------------------------- */

/* roundf for the |v| <= 128 that a Q8_0 block produces, without a libm call (which was a
 * fifth of a Q8_0 conversion): truncation is exact there, and so is v - trunc(v), so the
 * comparison with 0.5 decides halves away from zero exactly as roundf does. Anything else
 * (NaN, Inf from a subnormal d) goes to roundf itself. */
static float round_half_away(float v)
{
    if (!(fabsf(v) <= 128.0f))
        return roundf(v);
    int i = (int)v;
    float frac = v - (float)i;
    i += (frac >= 0.5f) - (frac <= -0.5f);   /* branch-free: the halves are random data */
    return (float)i;
}

/* quantize_row_q8_0_ref for one block: d = max|x| / 127, q = roundf(x / d) with the
 * unrounded fp32 1/d; roundf rounds halves away from zero (unlike nearest_int). */
static void q8_0_block_ref(const float *x, block_q8_0 *y)
{
    float amax = 0.0f;
    for (int j = 0; j < QK8_0; j++)
        amax = QUANT_MAX(amax, fabsf(x[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y->d = ig_fp32_to_fp16(d);
    for (int j = 0; j < QK8_0; ++j) {
        const float x0 = x[j] * id;
        y->qs[j] = (int8_t)quant_trunc_i8(round_half_away(x0));
    }
}

int q8_0_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    (void)imatrix;  /* not used by ggml either */
    int rc = quant_check_row32("q8_0_quantize_row_ref", "Q8_0", n);
    if (rc)
        return rc;
    block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / QK8_0; ++i)
        q8_0_block_ref(x + QK8_0 * i, &y[i]);
    return 0;
}

/* ---- dequantize ----------------------------------------------------------------------- */

void q8_0_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK8_0 == 0);
    const block_q8_0 *x = src;
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = ig_fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK8_0; ++j)
            y[i * QK8_0 + j] = x[i].qs[j] * d;
    }
}
