/* quant_util.h — scalar helpers shared by the 32-element quantizers (q4_0.c ... iq4_nl.c).
 *
 * Each helper transcribes one function of llama.cpp's ggml-quants.c (named in its
 * comment) in float32 and in source order, so that results match llama.cpp bit for bit.
 * That needs a*b + c to round twice, as in an x86-64 llama.cpp build (ggml-base gets no
 * -march flags there, so no FMA): gcc under -std=c11 defaults to -ffp-contract=off, clang
 * is told so below, and a gnu-mode gcc build with FMA enabled is refused.
 * Header-only (static inline) so each quantizer stays one file; for quantizers/ only.
 */
#ifndef QUANT_UTIL_H
#define QUANT_UTIL_H

#include "../common/ig_error.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__) && defined(__FMA__) && !defined(__STRICT_ANSI__)
/* gnu modes contract a*b+c into FMA, and no macro says whether -ffp-contract=off was
 * given too: ask for the ISO mode the Makefile uses. */
#error "with FMA enabled, build quantizers/ with -std=c11 (it implies -ffp-contract=off)"
#endif

/* ggml's GROUP_MAX_EPS: a group whose largest |x| is below this is treated as all zero. */
#define QUANT_GROUP_MAX_EPS 1e-15f

#define QUANT_MIN(a, b) ((a) < (b) ? (a) : (b))
#define QUANT_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- argument checks ---------------------------------------------------------------- */

/* 0 when n is a whole, non-negative number of 32-element blocks; otherwise records
 * "<fn>: <type> row length <n> is not a multiple of 32" and returns IG_EINVAL. */
static inline int quant_check_row32(const char *fn, const char *type_name, int64_t n)
{
    if (n >= 0 && n % 32 == 0)
        return 0;
    return ig_error_set(IG_EINVAL, "%s: %s row length %lld is not a non-negative multiple of 32",
                        fn, type_name, (long long)n);
}

/* ---- rounding ----------------------------------------------------------------------- */

/* ggml's nearest_int: adding 1.5 * 2^23 makes the fp32 adder round to an integer (to
 * nearest, ties to even); the low 23 bits of the sum then hold that integer + 2^22.
 * Exact for |f| <= 4194303. ggml asserts that bound; here a larger or NaN f (possible
 * only from NaN/Inf input) gives an arbitrary but defined integer. */
static inline int quant_nearest_int(float f)
{
    float v = f + 12582912.0f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* ggml's `(int8_t)(v)` on x86-64: cvttss2si truncates toward zero into 32 bits (NaN and
 * out-of-range give 0x80000000) and the low byte is kept. C leaves out-of-range float to
 * integer conversions undefined, so the instruction's result is spelled out. Also serves
 * `(uint8_t)(v)` through a cast of the result. */
static inline int quant_trunc_i8(float v)
{
    int32_t t = (v > -2147483648.0f && v < 2147483648.0f) ? (int32_t)v : INT32_MIN;
    int low = (int)((uint32_t)t & 0xffu);
    return low > 127 ? low - 256 : low;
}

/* ---- packing ------------------------------------------------------------------------ */

/* Q5_0 / Q5_1 layout of 32 levels q[j] in 0..31: qs[j] holds the low 4 bits of q[j]
 * (low nibble) and of q[j + 16] (high nibble); bit j of qh, a little-endian u32, holds
 * bit 4 of q[j]. */
static inline void quant_pack5(const uint8_t *q, uint8_t *qs, uint8_t *qh)
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
static inline int quant_unpack5(const uint8_t *qs, const uint8_t *qh, int j)
{
    uint32_t h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 |
                 (uint32_t)qh[3] << 24;
    int low = j < 16 ? qs[j] & 0x0F : qs[j - 16] >> 4;
    return low | (int)(((h >> j) & 1u) << 4);
}

/* ---- weighted scale searches (k-quant machinery reused by the imatrix paths) ---------- */

/* sigma2 of ggml's quantize_row_<type>_impl: sum(x^2) / n over the whole row, summed in
 * order (0 for an empty row, which has no block to weigh). */
static inline float quant_row_sigma2(const float *x, int64_t n)
{
    float sum_x2 = 0;
    for (int64_t j = 0; j < n; ++j)
        sum_x2 += x[j] * x[j];
    return n > 0 ? sum_x2 / (float)n : 0.0f;
}

/* The search routines the imatrix paths share with the k-quants (make_qx_quants,
 * make_qkx3_quants) live once, in k_quant_search.c; a cross-check over 400k random blocks
 * found the legacy copies that used to be here bit-identical to them. */

#endif /* QUANT_UTIL_H */
