/* ig_half.h — IEEE binary16 and bfloat16 conversions, bit-exact with ggml.
 *
 * fp32 -> fp16 rounds to nearest even, overflows to infinity and maps NaN to 0x7E00
 * (ggml's GGML_FP32_TO_FP16 on F16C hardware and numpy's astype(float16) agree).
 * fp32 -> bf16 follows ggml_compute_fp32_to_bf16: NaN keeps its sign and becomes quiet,
 * everything else rounds to nearest even on the upper 16 bits.
 * Header-only, every function IG_HD (common/ig_hd.h), so that the C compiler, g++ and nvcc's
 * host and device passes all inline the same text: the GPU quantizers round scales to fp16
 * exactly as the CPU does.
 */
#ifndef IG_HALF_H
#define IG_HALF_H

#include "ig_hd.h"

#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

IG_HD_INLINE uint32_t ig_f32_bits(float f)
{
    return ig_hd_f32_bits(f);
}

IG_HD_INLINE float ig_bits_f32(uint32_t u)
{
    return ig_hd_bits_f32(u);
}

/* binary16 -> binary32, exact for every input including subnormals, Inf and NaN. */
IG_HD_INLINE float ig_fp16_to_fp32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f)                      /* Inf or NaN */
        return ig_bits_f32(sign | 0x7f800000u | (mant << 13));
    if (exp == 0) {
        if (mant == 0)
            return ig_bits_f32(sign);
        /* subnormal: value = mant * 2^-24 */
        float v = (float)mant * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return ig_bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

/* binary32 -> binary16, round to nearest even. */
IG_HD_INLINE uint16_t ig_fp32_to_fp16(float f)
{
    uint32_t x = ig_f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u)                 /* NaN */
        return 0x7e00u | sign;
    if (ax >= 0x477ff000u)                /* >= 65520 rounds to Inf */
        return sign | 0x7c00u;
    if (ax < 0x38800000u) {               /* result is subnormal or zero */
        /* add 0.5 (as float): the fp32 adder performs the round to nearest even */
        float v = ig_bits_f32(ax) + 0.5f;
        return sign | (uint16_t)(ig_f32_bits(v) - 0x3f000000u);
    }
    uint32_t mant_odd = (ax >> 13) & 1u;
    ax += 0xc8000fffu + mant_odd;         /* rebias exponent (-112 << 23) and round */
    return sign | (uint16_t)(ax >> 13);
}

IG_HD_INLINE float ig_bf16_to_fp32(uint16_t h)
{
    return ig_bits_f32((uint32_t)h << 16);
}

IG_HD_INLINE uint16_t ig_fp32_to_bf16(float f)
{
    uint32_t u = ig_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)  /* NaN: force quiet */
        return (uint16_t)((u >> 16) | 64u);
    return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

#ifdef __cplusplus
}
#endif

#endif /* IG_HALF_H */
