/* nf4.c — NF4 (QLoRA's 4-bit NormalFloat, Dettmers et al. 2023) as bitsandbytes computes it.
 *
 * Each block of 64 weights is scaled by 1/absmax and every weight becomes the index of the
 * nearest of 16 code values, chosen by bitsandbytes' fixed decision tree (csrc kernels:
 * dQuantizeNF4 inside kQuantizeBlockwise). Two containers: NF4 keeps four such blocks in a
 * 256-weight super-block whose four absmax values are themselves quantized to uint8 against
 * one fp16 scale (ingot's double quantization); NF4_F16 stores each block's absmax in fp16.
 * ext_types.h gives both byte layouts. Called by convert/ through the type table, a row at
 * a time.
 */
#include "ext_types.h"

#include "quant_util.h"

#include "../common/ig_error.h"
#include "../common/ig_half.h"

#include <assert.h>
#include <math.h>
#include <string.h>

/* ---- the code ------------------------------------------------------------------------ */

/* bitsandbytes functional.py get_4bit_type("nf4") (and dDequantizeNF4), as fp32. */
const float nf4_code[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
};

#define NF4_ZERO_INDEX 7   /* nf4_code[7] == 0.0f */

/* dQuantizeNF4's tree, test for test. Each threshold is the fp32 midpoint of two adjacent
 * codes (its comment names them); every test is a strict ">", so a value exactly on a
 * midpoint takes the lower index and NaN, failing every test, ends at index 0. The
 * comments "1", "11", ... are bitsandbytes' own path labels. */
int nf4_code_index(float x)
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

/* ---- static helpers ------------------------------------------------------------------- */

/* max |x[j]| over one 64-block, in fp32 (exact: no rounding in fabsf or a comparison). */
static float nf4_absmax(const float *x)
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
static void nf4_block_codes(const float *x, float absmax, uint8_t *qs)
{
    if (absmax == 0.0f) {
        memset(qs, NF4_ZERO_INDEX << 4 | NF4_ZERO_INDEX, QK_NF4 / 2);
        return;
    }
    const float inv = 1.0f / absmax;
    for (int i = 0; i < QK_NF4 / 2; i++) {
        const int hi = nf4_code_index(x[2 * i] * inv);
        const int lo = nf4_code_index(x[2 * i + 1] * inv);
        qs[i] = (uint8_t)(hi << 4 | lo);
    }
}

/* The 64 values of one block: nf4_code[k] * a. */
static void nf4_block_values(const uint8_t *qs, float a, float *y)
{
    for (int i = 0; i < QK_NF4 / 2; i++) {
        y[2 * i] = nf4_code[qs[i] >> 4] * a;
        y[2 * i + 1] = nf4_code[qs[i] & 0x0F] * a;
    }
}

/* absmax in fp16, round to nearest; IG_EINVAL past 65504 (it would become Inf). */
static int nf4_scale_fp16(const char *fn, const char *type_name, int64_t block, float absmax,
                          ig_half *d)
{
    *d = ig_fp32_to_fp16(absmax);
    if ((*d & 0x7c00u) == 0x7c00u)
        return ig_error_set(IG_EINVAL, "%s: %s: block %lld has absmax %g, which fp16 cannot hold "
                            "(largest 65504)", fn, type_name, (long long)block, (double)absmax);
    return 0;
}

/* ---- NF4_F16: one fp16 absmax per 64 weights ------------------------------------------ */

int nf4_f16_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    static const char fn[] = "nf4_f16_quantize_row_ref";
    (void)imatrix;
    int rc = quant_ext_check_row(fn, "NF4_F16", x, n, QK_NF4);
    if (rc)
        return rc;
    block_nf4_f16 *y = dst;
    for (int64_t b = 0; b < n / QK_NF4; b++) {
        const float *xb = x + b * QK_NF4;
        const float absmax = nf4_absmax(xb);
        rc = nf4_scale_fp16(fn, "NF4_F16", b, absmax, &y[b].d);
        if (rc)
            return rc;
        nf4_block_codes(xb, absmax, y[b].qs);
    }
    return 0;
}

void nf4_f16_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK_NF4 == 0);
    const block_nf4_f16 *x = src;
    for (int64_t b = 0; b < n / QK_NF4; b++)
        nf4_block_values(x[b].qs, ig_fp16_to_fp32(x[b].d), y + b * QK_NF4);
}

/* ---- NF4: four 64-blocks, absmax values quantized against one fp16 scale --------------- */

/* Sub-block s's absmax as stored: (d * scales[s]) / 255. d has 11 significant bits and
 * scales[s] 8, so the product is exact in fp32 and the division is the only rounding;
 * scales[s] = 255 gives d itself. */
static float nf4_sub_absmax(float d, uint8_t scale)
{
    return (d * (float)scale) / 255.0f;
}

int nf4_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    static const char fn[] = "nf4_quantize_row_ref";
    enum { N_SUB = QK_NF4_SUPER / QK_NF4 };
    (void)imatrix;
    int rc = quant_ext_check_row(fn, "NF4", x, n, QK_NF4_SUPER);
    if (rc)
        return rc;
    block_nf4 *y = dst;
    for (int64_t b = 0; b < n / QK_NF4_SUPER; b++) {
        const float *xb = x + b * QK_NF4_SUPER;
        float absmax[N_SUB], amax = 0.0f;
        for (int s = 0; s < N_SUB; s++) {
            absmax[s] = nf4_absmax(xb + s * QK_NF4);
            amax = QUANT_MAX(amax, absmax[s]);
        }
        rc = nf4_scale_fp16(fn, "NF4", b, amax, &y[b].d);
        if (rc)
            return rc;
        /* D may sit a half-ulp below amax, so absmax/D can exceed 1 by 2^-11: clamp */
        const float D = ig_fp16_to_fp32(y[b].d);
        for (int s = 0; s < N_SUB; s++) {
            const int q = D > 0.0f ? quant_nearest_int(absmax[s] / D * 255.0f) : 0;
            y[b].scales[s] = (uint8_t)QUANT_MAX(0, QUANT_MIN(255, q));
            /* the codes use the exact fp32 absmax, as bitsandbytes quantizes before it
             * compresses its absmax values */
            nf4_block_codes(xb + s * QK_NF4, absmax[s], y[b].qs + s * (QK_NF4 / 2));
        }
    }
    return 0;
}

void nf4_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK_NF4_SUPER == 0);
    const block_nf4 *x = src;
    for (int64_t b = 0; b < n / QK_NF4_SUPER; b++) {
        const float d = ig_fp16_to_fp32(x[b].d);
        for (int s = 0; s < QK_NF4_SUPER / QK_NF4; s++)
            nf4_block_values(x[b].qs + s * (QK_NF4 / 2), nf4_sub_absmax(d, x[b].scales[s]),
                             y + b * QK_NF4_SUPER + s * QK_NF4);
    }
}
