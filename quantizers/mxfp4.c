/* mxfp4.c — dequantize MXFP4 (OCP microscaling FP4) and, at the end, NVFP4, its cousin with
 * e4m3 scales per 16 weights. MXFP4: 32 weights share one e8m0 exponent byte e; each weight
 * is an e2m1 nibble (sign, 2-bit exponent, 1-bit mantissa: magnitudes 0, 0.5, 1, 1.5, 2, 3,
 * 4, 6). 4.25 bits per weight.
 *
 * x = e2m1(nibble) 2^(e - 127). ggml keeps the e2m1 values doubled as integers
 * (mxfp4_values, iq_grids.h) and halves the scale, 2^(e - 128), which it builds directly as
 * float bits (GGML_E8M0_TO_FP32_HALF): a subnormal for e < 2, else exponent field e - 1.
 * Nibble order is IQ4_NL's: low nibble of qs[j] = weight j, high = weight j + 16. Follows
 * ggml's dequantize_row_mxfp4: (float)value * scale. Read-only.
 */
#include "iq_types.h"

#include "iq_grids.h"

#include "../common/ig_half.h"

#include <assert.h>
#include <math.h>

/* 2^(e - 128) as a float32, e = 0..255 (2^-128 and 2^-127 are subnormal). */
static float mxfp4_half_scale(uint8_t e)
{
    const uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    return ig_bits_f32(bits);
}

void mxfp4_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK_MXFP4 == 0);
    const block_mxfp4 *x = src;
    for (int64_t i = 0; i < n / QK_MXFP4; i++, y += QK_MXFP4) {
        const float d = mxfp4_half_scale(x[i].e);
        for (int j = 0; j < QK_MXFP4 / 2; ++j) {
            y[j] = (float)mxfp4_values[x[i].qs[j] & 0x0f] * d;
            y[j + QK_MXFP4 / 2] = (float)mxfp4_values[x[i].qs[j] >> 4] * d;
        }
    }
}

/* ---- NVFP4 ------------------------------------------------------------------------------- */

/* Half of an unsigned e4m3 byte: the sign bit is ignored; exponent field 0 is subnormal,
 * m 2^-9; else (1 + m/8) 2^(e - 7). 0x7f, e4m3's NaN, gives 0 (as ggml's, read back from its
 * library; 0xff, the same bits with the sign set, gives 480). Exact in float32. */
static float nvfp4_half_scale(uint8_t b)
{
    if (b == 0x7f)
        return 0.f;
    const int e = (b >> 3) & 0xf, m = b & 7;
    const float v = e == 0 ? (float)m * 0x1p-9f : ldexpf(1.0f + (float)m / 8, e - 7);
    return 0.5f * v;
}

/* NVFP4 (NVIDIA's FP4): 16 weights per e4m3 scale, e2m1 nibbles (layout: iq_types.h). Each
 * output is an e2m1 value (3 significant bits) times a scale (4 significant bits), exact in
 * float32 whichever way it is evaluated. */
void nvfp4_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK_NVFP4 == 0);
    const block_nvfp4 *x = src;
    for (int64_t i = 0; i < n / QK_NVFP4; i++) {
        for (int s = 0; s < QK_NVFP4 / 16; s++, y += 16) {
            const float d = nvfp4_half_scale(x[i].d[s]);
            const uint8_t *qs = x[i].qs + 8 * s;
            for (int j = 0; j < 8; ++j) {
                y[j] = (float)mxfp4_values[qs[j] & 0x0f] * d;
                y[j + 8] = (float)mxfp4_values[qs[j] >> 4] * d;
            }
        }
    }
}
