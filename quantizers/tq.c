/* tq.c — dequantize TQ1_0 and TQ2_0: ternary weights x = d (t - 1), t in {0, 1, 2}, one
 * fp16 d per 256 (1.69 and 2.06 bits per weight).
 *
 * TQ2_0 keeps t in 2 bits: byte m of each 32-byte chunk holds weights m, m+32, m+64, m+96
 * of that chunk's 128 (bits 0-1, 2-3, 4-5, 6-7).
 * TQ1_0 packs five base-3 digits per byte as a fraction: byte q = ceil(256 v / 243) for
 * v = sum t_k 3^(4-k), so digit k comes out as ((uint8_t)(q 3^k) 3) >> 8 — multiplying by
 * 3^k shifts the fraction left k digits (wrapping mod 256) and the top digit is read with
 * one multiply by 3. qs[0..31] give digits 0..4 of weights 0..159 (digit k of byte m is
 * weight 32k + m), qs[32..47] those of weights 160..239 (16 per digit), and qh[0..3] four
 * digits each of weights 240..255 (digit k of qh[j] is weight 240 + 4k + j).
 * Both follow ggml's dequantize_row_tq<N>_0 exactly, (float)(t - 1) * d. Read-only.
 */
#include "iq_types.h"

#include "../common/ig_half.h"

#include <assert.h>

/* ---- TQ1_0 -------------------------------------------------------------------------------- */

static const uint8_t tq1_pow3[6] = {1, 3, 9, 27, 81, 243};

/* Digit k of a packed byte q, as t in 0..2. */
static int tq1_digit(uint8_t q, int k)
{
    const uint8_t s = (uint8_t)(q * tq1_pow3[k]);   /* wraps: drops the k leading digits */
    return ((uint16_t)s * 3) >> 8;
}

/* n_bytes bytes at qs, five digits each, digit-major: y[k n_bytes + m] = digit k of qs[m]. */
static float *tq1_run(float *y, const uint8_t *qs, int n_bytes, int n_digits, float d)
{
    for (int k = 0; k < n_digits; ++k)
        for (int m = 0; m < n_bytes; ++m)
            *y++ = (float)(tq1_digit(qs[m], k) - 1) * d;
    return y;
}

void tq1_0_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK_K == 0);
    const block_tq1_0 *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = ig_fp16_to_fp32(x[i].d);
        y = tq1_run(y, x[i].qs, 32, 5, d);        /* weights 0..159 */
        y = tq1_run(y, x[i].qs + 32, 16, 5, d);   /* weights 160..239 */
        y = tq1_run(y, x[i].qh, 4, 4, d);         /* weights 240..255 */
    }
}

/* ---- TQ2_0 -------------------------------------------------------------------------------- */

void tq2_0_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK_K == 0);
    const block_tq2_0 *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = ig_fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK_K / 4; j += 32)
            for (int l = 0; l < 4; ++l)
                for (int m = 0; m < 32; ++m)
                    *y++ = (float)(((x[i].qs[j + m] >> (2 * l)) & 3) - 1) * d;
    }
}
