/* quant_util_block.h — the scalar helpers of quant_util.h that the block quantizers call, as
 * IG_HD functions (common/ig_hd.h) so that nvcc compiles them for the device too.
 *
 * Each transcribes one expression of llama.cpp's ggml-quants.c (named in its comment) in
 * float32 and in source order; quant_util.h says why a*b + c must round twice. Included by
 * quant_util.h (host C) and by the *_block.h headers (host C, g++ and nvcc).
 */
#ifndef QUANT_UTIL_BLOCK_H
#define QUANT_UTIL_BLOCK_H

#include "../common/ig_hd.h"

#include <stdint.h>

/* ggml's GROUP_MAX_EPS: a group whose largest |x| is below this is treated as all zero. */
#define QUANT_GROUP_MAX_EPS 1e-15f

#define QUANT_MIN(a, b) ((a) < (b) ? (a) : (b))
#define QUANT_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ggml's nearest_int: adding 1.5 * 2^23 makes the fp32 adder round to an integer (to
 * nearest, ties to even); the low 23 bits of the sum then hold that integer + 2^22.
 * Exact for |f| <= 4194303. ggml asserts that bound; here a larger or NaN f (possible
 * only from NaN/Inf input) gives an arbitrary but defined integer. */
IG_HD_INLINE int quant_nearest_int(float f)
{
    float v = f + 12582912.0f;
    int32_t i = (int32_t)ig_hd_f32_bits(v);
    return (i & 0x007fffff) - 0x00400000;
}

/* ggml's `(int8_t)(v)` on x86-64: cvttss2si truncates toward zero into 32 bits (NaN and
 * out-of-range give 0x80000000) and the low byte is kept. C leaves out-of-range float to
 * integer conversions undefined (and CUDA saturates them), so the instruction's result is
 * spelled out. Also serves `(uint8_t)(v)` through a cast of the result. */
IG_HD_INLINE int quant_trunc_i8(float v)
{
    int32_t t = (v > -2147483648.0f && v < 2147483648.0f) ? (int32_t)v : INT32_MIN;
    int low = (int)((uint32_t)t & 0xffu);
    return low > 127 ? low - 256 : low;
}

/* Q5_0 / Q5_1 layout of 32 levels q[j] in 0..31: qs[j] holds the low 4 bits of q[j]
 * (low nibble) and of q[j + 16] (high nibble); bit j of qh, a little-endian u32, holds
 * bit 4 of q[j]. */
IG_HD_INLINE void quant_pack5(const uint8_t *q, uint8_t *qs, uint8_t *qh)
{
    uint32_t h = 0;
    for (int j = 0; j < 16; ++j) {
        qs[j] = (uint8_t)((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
        h |= ((q[j] & 0x10u) >> 4) << j;
        h |= ((q[j + 16] & 0x10u) >> 4) << (j + 16);
    }
    for (int b = 0; b < 4; ++b)
        qh[b] = (uint8_t)(h >> (8 * b));
}

/* The 5-bit level of element j (0..31) of a Q5_0 / Q5_1 block. */
IG_HD_INLINE int quant_unpack5(const uint8_t *qs, const uint8_t *qh, int j)
{
    uint32_t h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 |
                 (uint32_t)qh[3] << 24;
    int low = j < 16 ? qs[j] & 0x0F : qs[j - 16] >> 4;
    return low | (int)(((h >> j) & 1u) << 4);
}

#endif /* QUANT_UTIL_BLOCK_H */
