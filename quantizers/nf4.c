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

#include "ext_block.h"
#include "quant_util.h"

#include "../common/ig_error.h"

#include <assert.h>

/* ---- the code ------------------------------------------------------------------------ */

/* The block rules are ext_block.h's (shared with the GPU kernels); this file checks rows
 * and names what was wrong. */

/* bitsandbytes functional.py get_4bit_type("nf4") (and dDequantizeNF4), as fp32. */
const float nf4_code[16] = NF4_CODE_VALUES;

int nf4_code_index(float x)
{
    return nf4_code_index_hd(x);
}

/* ---- static helpers ------------------------------------------------------------------- */

/* The one failure of a block of finite weights: its absmax (the largest of a super-block's
 * four) rounds past fp16's 65504. Records it and returns IG_EINVAL. */
static int nf4_scale_error(const char *fn, const char *type_name, int64_t block, float absmax)
{
    return ig_error_set(IG_EINVAL, "%s: %s: block %lld has absmax %g, which fp16 cannot hold "
                        "(largest 65504)", fn, type_name, (long long)block, (double)absmax);
}

/* ---- NF4_F16: one fp16 absmax per 64 weights ------------------------------------------ */

int nf4_f16_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    static const char fn[] = "nf4_f16_quantize_row_ref";
    (void)imatrix;
    int rc = quant_ext_check_row(fn, "NF4_F16", x, n, QK_NF4);
    if (rc)
        return rc;
    block_nf4_f16 *y = (block_nf4_f16 *)dst;
    for (int64_t b = 0; b < n / QK_NF4; b++) {
        const float *xb = x + b * QK_NF4;
        if (nf4_f16_block_quantize_hd(xb, &y[b]))
            return nf4_scale_error(fn, "NF4_F16", b, nf4_absmax_hd(xb));
    }
    return 0;
}

void nf4_f16_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK_NF4 == 0);
    const block_nf4_f16 *x = (const block_nf4_f16 *)src;
    for (int64_t b = 0; b < n / QK_NF4; b++)
        nf4_f16_block_dequantize_hd(&x[b], y + b * QK_NF4);
}

/* ---- NF4: four 64-blocks, absmax values quantized against one fp16 scale --------------- */

int nf4_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    static const char fn[] = "nf4_quantize_row_ref";
    (void)imatrix;
    int rc = quant_ext_check_row(fn, "NF4", x, n, QK_NF4_SUPER);
    if (rc)
        return rc;
    block_nf4 *y = (block_nf4 *)dst;
    for (int64_t b = 0; b < n / QK_NF4_SUPER; b++) {
        const float *xb = x + b * QK_NF4_SUPER;
        if (nf4_block_quantize_hd(xb, &y[b])) {
            float amax = 0.0f;
            for (int s = 0; s < QK_NF4_SUPER / QK_NF4; s++)
                amax = QUANT_MAX(amax, nf4_absmax_hd(xb + s * QK_NF4));
            return nf4_scale_error(fn, "NF4", b, amax);
        }
    }
    return 0;
}

void nf4_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK_NF4_SUPER == 0);
    const block_nf4 *x = (const block_nf4 *)src;
    for (int64_t b = 0; b < n / QK_NF4_SUPER; b++)
        nf4_block_dequantize_hd(&x[b], y + b * QK_NF4_SUPER);
}
