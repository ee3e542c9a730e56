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

#include "ext_block.h"
#include "quant_util.h"

#include "../common/ig_error.h"

#include <assert.h>
#include <stdio.h>

/* ---- static helpers ------------------------------------------------------------------- */

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

/* d and zero of group number index, x: [group], all finite: ext_block.h's rule, with the
 * failure (a scale past fp16's 65504) named. */
static int int_group_params_finite(const char *fn, const char *name, int64_t index,
                                   const float *x, int64_t group, int bits, ig_half *d,
                                   uint8_t *zero)
{
    if (!int_group_params_hd(x, group, bits, d, zero))
        return 0;
    float min, max;
    const float s = int_group_range_hd(x, group, bits, &min, &max);
    return ig_error_set(IG_EINVAL, "%s: %s: group %lld spans [%g, %g] and needs scale %g, "
                        "past fp16's 65504", fn, name, (long long)index, (double)min,
                        (double)max, (double)s);
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
    uint8_t *out = (uint8_t *)dst;
    for (int64_t b = 0; b < n / group; b++) {
        ig_half d = 0;
        uint8_t zero = 0;
        rc = int_group_params_finite(fn, name, b, x + b * group, group, bits, &d, &zero);
        if (rc)
            return rc;
        int_group_block_pack_hd(x + b * group, group, bits, d, zero, out + (size_t)b * block_bytes);
    }
    return 0;
}

void int_group_dequantize_row_ref(const void *src, float *y, int64_t n, int64_t group, int bits)
{
    assert((bits == 4 || bits == 8) && group > 0 && group % 2 == 0 && n % group == 0);
    const size_t block_bytes = int_group_block_bytes(group, bits);
    const uint8_t *in = (const uint8_t *)src;
    for (int64_t b = 0; b < n / group; b++)
        int_group_block_dequantize_hd(in + (size_t)b * block_bytes, group, bits, y + b * group);
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
