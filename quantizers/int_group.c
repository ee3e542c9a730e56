/* int_group.c — asymmetric INT4/INT8 with a scale and a zero point per group of G weights.
 *
 * The GPTQ/AWQ grid (Frantar et al. 2022; AutoGPTQ Quantizer.find_params with sym=False):
 * per group of G consecutive input columns of a row, q = clamp(round(x/d) + zero, 0, maxq)
 * and x ~ (q - zero) d. This file is the round-to-nearest reference: it picks d and zero
 * from the group's range (ext_types.h states the rule and the byte layout) and packs one
 * group per block. A GPTQ or AWQ solver reuses int_group_params for its grids. Called by
 * convert/ through the type table, a row at a time.
 */
#include "ext_types.h"

#include "quant_util.h"

#include "../common/ig_error.h"
#include "../common/ig_half.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- static helpers ------------------------------------------------------------------- */

/* The smallest fp16 >= s, for 0 < s finite; Inf (0x7c00) when s > 65504. */
static ig_half int_group_fp16_ceil(float s)
{
    ig_half h = ig_fp32_to_fp16(s);
    if ((h & 0x7c00u) != 0x7c00u && ig_fp16_to_fp32(h) < s)
        h++;   /* positive binary16 bits are ordered: +1 is the next value up */
    return h;
}

/* "I4_G32" ... for messages. */
static const char *int_group_name(char *buf, size_t size, int64_t group, int bits)
{
    snprintf(buf, size, "I%d_G%lld", bits, (long long)group);
    return buf;
}

static int int_group_check_shape(const char *fn, int64_t group, int bits)
{
    if ((bits == 4 || bits == 8) && group > 0 && group % 2 == 0)
        return 0;
    return ig_error_set(IG_EINVAL, "%s: group %lld with %d bits is not supported (bits 4 or 8, "
                        "an even group)", fn, (long long)group, bits);
}

/* d and zero of group number index, x: [group], all finite (see int_group_params). */
static int int_group_params_finite(const char *fn, const char *name, int64_t index,
                                   const float *x, int64_t group, int bits, ig_half *d,
                                   uint8_t *zero)
{
    const int maxq = (1 << bits) - 1;
    float min = 0.0f, max = 0.0f;   /* the range always includes 0 */
    for (int64_t j = 0; j < group; j++) {
        min = QUANT_MIN(min, x[j]);
        max = QUANT_MAX(max, x[j]);
    }
    float s = (max - min) / (float)maxq;
    if (s == 0.0f) {
        /* zero range (all zeros, or a range that underflows): AutoGPTQ's [-1, +1] */
        min = -1.0f;
        max = 1.0f;
        s = 2.0f / (float)maxq;
    }
    if (!isfinite(s) || (int_group_fp16_ceil(s) & 0x7c00u) == 0x7c00u)
        return ig_error_set(IG_EINVAL, "%s: %s: group %lld spans [%g, %g] and needs scale %g, "
                            "past fp16's 65504", fn, name, (long long)index, (double)min,
                            (double)max, (double)s);
    *d = int_group_fp16_ceil(s);
    /* -min / d <= -min / s <= maxq, so the clamp only guards against rounding */
    const int z = quant_nearest_int(-min / ig_fp16_to_fp32(*d));
    *zero = (uint8_t)QUANT_MAX(0, QUANT_MIN(maxq, z));
    return 0;
}

/* Codes of one group with scale d and zero point zero, then packed after the block head. */
static void int_group_block_pack(const float *x, int64_t group, int bits, ig_half d,
                                 uint8_t zero, uint8_t *blk)
{
    const int maxq = (1 << bits) - 1;
    const float scale = ig_fp16_to_fp32(d);
    uint8_t *qs = blk + INT_GROUP_HEAD_BYTES;
    memcpy(blk, &d, sizeof d);   /* little-endian host, as GGUF */
    blk[2] = zero;
    blk[3] = 0;                  /* reserved */
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

/* ---- public functions ----------------------------------------------------------------- */

size_t int_group_block_bytes(int64_t group, int bits)
{
    return INT_GROUP_HEAD_BYTES + (size_t)group * (size_t)bits / 8;
}

int int_group_params(const float *x, int64_t group, int bits, ig_half *d, uint8_t *zero)
{
    static const char fn[] = "int_group_params";
    char name[32];
    int rc = int_group_check_shape(fn, group, bits);
    if (!rc)
        rc = quant_ext_check_row(fn, int_group_name(name, sizeof name, group, bits), x, group, group);
    if (!rc)
        rc = int_group_params_finite(fn, name, 0, x, group, bits, d, zero);
    return rc;
}

int int_group_quantize_row_ref(const float *x, void *dst, int64_t n, int64_t group, int bits)
{
    static const char fn[] = "int_group_quantize_row_ref";
    char name[32];
    int rc = int_group_check_shape(fn, group, bits);
    if (rc)
        return rc;
    int_group_name(name, sizeof name, group, bits);
    rc = quant_ext_check_row(fn, name, x, n, group);
    if (rc)
        return rc;
    const size_t block_bytes = int_group_block_bytes(group, bits);
    uint8_t *out = dst;
    for (int64_t b = 0; b < n / group; b++) {
        ig_half d = 0;
        uint8_t zero = 0;
        rc = int_group_params_finite(fn, name, b, x + b * group, group, bits, &d, &zero);
        if (rc)
            return rc;
        int_group_block_pack(x + b * group, group, bits, d, zero, out + (size_t)b * block_bytes);
    }
    return 0;
}

void int_group_dequantize_row_ref(const void *src, float *y, int64_t n, int64_t group, int bits)
{
    assert((bits == 4 || bits == 8) && group > 0 && group % 2 == 0 && n % group == 0);
    const size_t block_bytes = int_group_block_bytes(group, bits);
    const uint8_t *in = src;
    for (int64_t b = 0; b < n / group; b++) {
        const uint8_t *blk = in + (size_t)b * block_bytes;
        const uint8_t *qs = blk + INT_GROUP_HEAD_BYTES;
        ig_half d;
        memcpy(&d, blk, sizeof d);
        const float scale = ig_fp16_to_fp32(d);
        const int zero = blk[2];
        for (int64_t j = 0; j < group; j++) {
            const int q = bits == 8 ? qs[j] : (j % 2 == 0 ? qs[j / 2] & 0x0F : qs[j / 2] >> 4);
            y[b * group + j] = (float)(q - zero) * scale;
        }
    }
}

/* ---- the six table entries ------------------------------------------------------------ */

/* int_group_*_row_ref with a fixed group and bits; imatrix is ignored. Defines
 * NAME_quantize_row_ref and NAME_dequantize_row_ref (declared in ext_types.h). */
#define INT_GROUP_ENTRY(NAME, GROUP, BITS)                                                       \
    int NAME##_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)      \
    {                                                                                            \
        (void)imatrix;                                                                           \
        return int_group_quantize_row_ref(x, dst, n, GROUP, BITS);                               \
    }                                                                                            \
    void NAME##_dequantize_row_ref(const void *src, float *y, int64_t n)                         \
    {                                                                                            \
        int_group_dequantize_row_ref(src, y, n, GROUP, BITS);                                    \
    }

INT_GROUP_ENTRY(i4_g32, 32, 4)
INT_GROUP_ENTRY(i4_g64, 64, 4)
INT_GROUP_ENTRY(i4_g128, 128, 4)
INT_GROUP_ENTRY(i8_g32, 32, 8)
INT_GROUP_ENTRY(i8_g64, 64, 8)
INT_GROUP_ENTRY(i8_g128, 128, 8)
