/* ext_block.h — one block of ingot's extension types (NF4, NF4_F16, asymmetric INT4/INT8
 * groups), quantized and dequantized by IG_HD functions that the C row functions (nf4.c,
 * int_group.c) and the GPU kernels (kernels/cuda/quantize.cu, one block per thread) both
 * call, so both write the same bytes by construction.
 *
 * ext_types.h is the spec (layouts and rules). The C row functions check the row (length,
 * NaN/Inf) and name what was wrong; the block functions here only report, by a non-zero
 * return, the one failure a finite block can still have (a scale past fp16's 65504), so a
 * kernel can flag the block and its launcher can name it.
 */
#ifndef EXT_BLOCK_H
#define EXT_BLOCK_H

#include "ext_types.h"
#include "quant_util_block.h"

#include "../common/ig_half.h"
#include "../common/ig_hd.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---- NF4 code ------------------------------------------------------------------------- */

/* bitsandbytes functional.py get_4bit_type("nf4") (and dDequantizeNF4), as fp32. */
#define NF4_CODE_VALUES                                                                     \
    {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,              \
     -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,             \
     0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f, \
     0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f}
IG_HD_TABLE(float, nf4_code_table, 16, NF4_CODE_VALUES);
#define NF4_CODE(k) IG_HD_TABLE_AT(nf4_code_table, k)

#define NF4_ZERO_INDEX 7   /* NF4_CODE(7) == 0.0f */

/* dQuantizeNF4's tree, test for test. Each threshold is the fp32 midpoint of two adjacent
 * codes (its comment names them); every test is a strict ">", so a value exactly on a
 * midpoint takes the lower index and NaN, failing every test, ends at index 0. The
 * comments "1", "11", ... are bitsandbytes' own path labels. */
IG_HD_INLINE int nf4_code_index_hd(float x)
{
    if (x > 0.03979014977812767f)                     /* 7 | 8 */
        if (x > 0.3893125355243683f)                  /* 11 | 12: "1" */
            if (x > 0.6427869200706482f)              /* 13 | 14: "11" */
                if (x > 0.8614784181118011f)          /* 14 | 15: "111" */
                    return 15;
                else
                    return 14;
            else if (x > 0.5016634166240692f)         /* 12 | 13: "110" */
                return 13;
            else
                return 12;
        else if (x > 0.2035212516784668f)             /* 9 | 10: "10" */
            if (x > 0.2920137718319893f)              /* 10 | 11: "101" */
                return 11;
            else
                return 10;
        else if (x > 0.1202552504837513f)             /* 8 | 9: "100" */
            return 9;
        else
            return 8;
    else if (x > -0.33967943489551544f)               /* 3 | 4: "0" */
        if (x > -0.13791173323988914f)                /* 5 | 6: "01" */
            if (x > -0.045525018125772476f)           /* 6 | 7: "011" */
                return 7;
            else
                return 6;
        else if (x > -0.23460740596055984f)           /* 4 | 5: "010" */
            return 5;
        else
            return 4;
    else if (x > -0.6106329262256622f)                /* 1 | 2: "00" */
        if (x > -0.4599952697753906f)                 /* 2 | 3: "001" */
            return 3;
        else
            return 2;
    else if (x > -0.8480964004993439f)                /* 0 | 1: "000" */
        return 1;
    else
        return 0;
}

/* ---- NF4 blocks of 64 ----------------------------------------------------------------- */

/* max |x[j]| over one 64-block, in fp32 (exact: no rounding in fabsf or a comparison). */
IG_HD_INLINE float nf4_absmax_hd(const float *x)
{
    float amax = 0.0f;
    for (int j = 0; j < QK_NF4; j++)
        amax = QUANT_MAX(amax, fabsf(x[j]));
    return amax;
}

/* The 32 code bytes of one 64-block with scale absmax, exactly as kQuantizeBlockwise
 * writes them: the reciprocal once, then x * (1/absmax) per weight, element 2i in the
 * high nibble. An all-zero block (absmax 0) is all code 7 rather than bitsandbytes'
 * 0 * inf = NaN -> code 0. */
IG_HD_INLINE void nf4_block_codes_hd(const float *x, float absmax, uint8_t *qs)
{
    if (absmax == 0.0f) {
        memset(qs, NF4_ZERO_INDEX << 4 | NF4_ZERO_INDEX, QK_NF4 / 2);
        return;
    }
    const float inv = 1.0f / absmax;
    for (int i = 0; i < QK_NF4 / 2; i++) {
        const int hi = nf4_code_index_hd(x[2 * i] * inv);
        const int lo = nf4_code_index_hd(x[2 * i + 1] * inv);
        qs[i] = (uint8_t)(hi << 4 | lo);
    }
}

/* The 64 values of one block: NF4_CODE(k) * a. */
IG_HD_INLINE void nf4_block_values_hd(const uint8_t *qs, float a, float *y)
{
    for (int i = 0; i < QK_NF4 / 2; i++) {
        y[2 * i] = NF4_CODE(qs[i] >> 4) * a;
        y[2 * i + 1] = NF4_CODE(qs[i] & 0x0F) * a;
    }
}

/* absmax in fp16, round to nearest, into *d; non-zero when it became Inf (past 65504). */
IG_HD_INLINE int nf4_scale_fp16_hd(float absmax, ig_half *d)
{
    *d = ig_fp32_to_fp16(absmax);
    return (*d & 0x7c00u) == 0x7c00u;
}

/* ---- NF4_F16: one fp16 absmax per 64 weights ------------------------------------------ */

/* One block of 64 finite x. Returns 0, or 1 when the absmax rounds past fp16 (then only d
 * is written). */
IG_HD_INLINE int nf4_f16_block_quantize_hd(const float *x, block_nf4_f16 *y)
{
    const float absmax = nf4_absmax_hd(x);
    if (nf4_scale_fp16_hd(absmax, &y->d))
        return 1;
    nf4_block_codes_hd(x, absmax, y->qs);
    return 0;
}

IG_HD_INLINE void nf4_f16_block_dequantize_hd(const block_nf4_f16 *x, float *y)
{
    nf4_block_values_hd(x->qs, ig_fp16_to_fp32(x->d), y);
}

/* ---- NF4: four 64-blocks, absmax values quantized against one fp16 scale --------------- */

/* Sub-block s's absmax as stored: (d * scales[s]) / 255. d has 11 significant bits and
 * scales[s] 8, so the product is exact in fp32 and the division is the only rounding;
 * scales[s] = 255 gives d itself. */
IG_HD_INLINE float nf4_sub_absmax_hd(float d, uint8_t scale)
{
    return (d * (float)scale) / 255.0f;
}

/* One super-block of 256 finite x. Returns 0, or 1 when the largest absmax rounds past
 * fp16 (then only d is written). */
IG_HD_INLINE int nf4_block_quantize_hd(const float *x, block_nf4 *y)
{
    enum { N_SUB = QK_NF4_SUPER / QK_NF4 };
    float absmax[N_SUB], amax = 0.0f;
    for (int s = 0; s < N_SUB; s++) {
        absmax[s] = nf4_absmax_hd(x + s * QK_NF4);
        amax = QUANT_MAX(amax, absmax[s]);
    }
    if (nf4_scale_fp16_hd(amax, &y->d))
        return 1;
    /* D may sit a half-ulp below amax, so absmax/D can exceed 1 by 2^-11: clamp */
    const float D = ig_fp16_to_fp32(y->d);
    for (int s = 0; s < N_SUB; s++) {
        const int q = D > 0.0f ? quant_nearest_int(absmax[s] / D * 255.0f) : 0;
        y->scales[s] = (uint8_t)QUANT_MAX(0, QUANT_MIN(255, q));
        /* the codes use the exact fp32 absmax, as bitsandbytes quantizes before it
         * compresses its absmax values */
        nf4_block_codes_hd(x + s * QK_NF4, absmax[s], y->qs + s * (QK_NF4 / 2));
    }
    return 0;
}

IG_HD_INLINE void nf4_block_dequantize_hd(const block_nf4 *x, float *y)
{
    const float d = ig_fp16_to_fp32(x->d);
    for (int s = 0; s < QK_NF4_SUPER / QK_NF4; s++)
        nf4_block_values_hd(x->qs + s * (QK_NF4 / 2), nf4_sub_absmax_hd(d, x->scales[s]),
                            y + s * QK_NF4);
}

/* ---- INT groups: d | zero | reserved | qs, one group of G per block -------------------- */

/* The smallest fp16 >= s, for 0 < s finite; Inf (0x7c00) when s > 65504. */
IG_HD_INLINE ig_half int_group_fp16_ceil_hd(float s)
{
    ig_half h = ig_fp32_to_fp16(s);
    if ((h & 0x7c00u) != 0x7c00u && ig_fp16_to_fp32(h) < s)
        h++;   /* positive binary16 bits are ordered: +1 is the next value up */
    return h;
}

/* The range the grid must cover: [min(0, min x), max(0, max x)], and s = (max - min) /
 * maxq; a zero s (all zeros, or a range that underflows) becomes AutoGPTQ's [-1, +1]. */
IG_HD_INLINE float int_group_range_hd(const float *x, int64_t group, int bits, float *min_out,
                                      float *max_out)
{
    const int maxq = (1 << bits) - 1;
    float min = 0.0f, max = 0.0f;   /* the range always includes 0 */
    for (int64_t j = 0; j < group; j++) {
        min = QUANT_MIN(min, x[j]);
        max = QUANT_MAX(max, x[j]);
    }
    float s = (max - min) / (float)maxq;
    if (s == 0.0f) {
        min = -1.0f;
        max = 1.0f;
        s = 2.0f / (float)maxq;
    }
    *min_out = min;
    *max_out = max;
    return s;
}

/* d and zero of one group x: [group] of finite values, bits 4 or 8. Returns 0, or 1 when
 * the scale is not finite or rounds past fp16 (then *d and *zero are untouched). */
IG_HD_INLINE int int_group_params_hd(const float *x, int64_t group, int bits, ig_half *d,
                                     uint8_t *zero)
{
    const int maxq = (1 << bits) - 1;
    float min, max;
    const float s = int_group_range_hd(x, group, bits, &min, &max);
    if (!ig_hd_isfinite(s) || (int_group_fp16_ceil_hd(s) & 0x7c00u) == 0x7c00u)
        return 1;
    *d = int_group_fp16_ceil_hd(s);
    /* -min / d <= -min / s <= maxq, so the clamp only guards against rounding */
    const int z = quant_nearest_int(-min / ig_fp16_to_fp32(*d));
    *zero = (uint8_t)QUANT_MAX(0, QUANT_MIN(maxq, z));
    return 0;
}

/* Codes of one group with scale d and zero point zero, packed after the block head into
 * blk (INT_GROUP_HEAD_BYTES + group * bits / 8 bytes). */
IG_HD_INLINE void int_group_block_pack_hd(const float *x, int64_t group, int bits, ig_half d,
                                          uint8_t zero, uint8_t *blk)
{
    const int maxq = (1 << bits) - 1;
    const float scale = ig_fp16_to_fp32(d);
    uint8_t *qs = blk + INT_GROUP_HEAD_BYTES;
    blk[0] = (uint8_t)(d & 0xffu);   /* little-endian, as GGUF */
    blk[1] = (uint8_t)(d >> 8);
    blk[2] = zero;
    blk[3] = 0;                      /* reserved */
    if (bits == 4)
        memset(qs, 0, (size_t)group / 2);
    for (int64_t j = 0; j < group; j++) {
        /* |x / scale| <= maxq: scale >= (max - min) / maxq and x lies in [min, max] */
        const int q = QUANT_MAX(0, QUANT_MIN(maxq, quant_nearest_int(x[j] / scale) + zero));
        if (bits == 8)
            qs[j] = (uint8_t)q;
        else
            qs[j / 2] |= (uint8_t)(j % 2 == 0 ? q : q << 4);   /* even element: low nibble */
    }
}

/* One group: params, then pack. Returns int_group_params_hd's status (blk untouched on 1). */
IG_HD_INLINE int int_group_block_quantize_hd(const float *x, int64_t group, int bits,
                                             uint8_t *blk)
{
    ig_half d = 0;
    uint8_t zero = 0;
    if (int_group_params_hd(x, group, bits, &d, &zero))
        return 1;
    int_group_block_pack_hd(x, group, bits, d, zero, blk);
    return 0;
}

IG_HD_INLINE void int_group_block_dequantize_hd(const uint8_t *blk, int64_t group, int bits,
                                                float *y)
{
    const uint8_t *qs = blk + INT_GROUP_HEAD_BYTES;
    const ig_half d = (ig_half)(blk[0] | blk[1] << 8);
    const float scale = ig_fp16_to_fp32(d);
    const int zero = blk[2];
    for (int64_t j = 0; j < group; j++) {
        const int q = bits == 8 ? qs[j] : (j % 2 == 0 ? qs[j / 2] & 0x0F : qs[j / 2] >> 4);
        y[j] = (float)(q - zero) * scale;
    }
}

#endif /* EXT_BLOCK_H */
