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

/* sum(w x l) and sum(w l^2) for l = clamp(nearest_int(iscale x), -nmax, nmax - 1); the
 * offset levels l + nmax go to L when L is not NULL. One candidate of make_qx_quants. */
static inline void quant_qx_sums(int n, int nmax, const float *x, const float *w, float iscale,
                                 int8_t *L, float *sumlx, float *suml2)
{
    float slx = 0, sl2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = quant_nearest_int(iscale * x[i]);
        l = QUANT_MAX(-nmax, QUANT_MIN(nmax - 1, l));
        if (L)
            L[i] = (int8_t)(l + nmax);
        slx += w[i] * x[i] * l;
        sl2 += w[i] * l * l;
    }
    *sumlx = slx;
    *suml2 = sl2;
}

/* ggml's make_qx_quants(n, nmax, x, L, rmse_type = 1, qw = w): symmetric levels
 * -nmax .. nmax-1 with a signed scale. Starting from iscale = -nmax / max (max = signed
 * max-|x| element), each of 19 inverse scales -(nmax + 0.1 is)/max, is = -9..9, gives
 * levels l; the scale sum(w x l)/sum(w l^2) that best fits is kept, compared through
 * sumlx^2 / suml2 (larger is a smaller weighted squared error).
 * x, w: [n]; L: [n] out, levels + nmax (0 .. 2 nmax - 1). Returns the scale; a group
 * with max|x| < GROUP_MAX_EPS gives 0 and L = 0 (not nmax, as in ggml). */
static inline float quant_make_qx(int n, int nmax, const float *x, int8_t *L, const float *w)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < QUANT_GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float sumlx, suml2;
    quant_qx_sums(n, nmax, x, w, -nmax / max, L, &sumlx, &suml2);
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0)
            continue;
        float iscale = -(nmax + 0.1f * is) / max;
        quant_qx_sums(n, nmax, x, w, iscale, NULL, &sumlx, &suml2);
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            quant_qx_sums(n, nmax, x, w, iscale, L, &sumlx, &suml2);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* sum over i of w_i (scale L_i + min - x_i)^2: the error make_qkx3_quants minimises. */
static inline float quant_qkx_error(int n, const float *x, const float *w, const uint8_t *L,
                                    float scale, float min)
{
    float err = 0;
    for (int i = 0; i < n; ++i) {
        float diff = scale * L[i] + min - x[i];
        diff = diff * diff;
        err += w[i] * diff;
    }
    return err;
}

/* One candidate of make_qkx3_quants: levels for inverse scale iscale and offset min into
 * Laux, then the weighted least-squares (scale, min) for those levels, min forced <= 0.
 * Returns 0 and leaves *scale, *min alone when the 2x2 system is singular (D <= 0). */
static inline int quant_qkx_fit(int n, int nmax, const float *x, const float *w, float iscale,
                                float min, float sum_w, float sum_x, uint8_t *Laux,
                                float *scale, float *this_min)
{
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
        /* min is the best fit so far, so v can exceed nmax: clamp before rounding */
        const float v = iscale * (x[i] - min);
        const int l = v > 0 ? quant_nearest_int(QUANT_MIN(v, nmax)) : 0;
        Laux[i] = (uint8_t)l;
        sum_l += w[i] * l;
        sum_l2 += w[i] * l * l;
        sum_xl += w[i] * l * x[i];
    }
    float D = sum_w * sum_l2 - sum_l * sum_l;
    if (!(D > 0))
        return 0;
    *scale = (sum_w * sum_xl - sum_x * sum_l) / D;
    *this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    if (*this_min > 0) {
        *this_min = 0;
        *scale = sum_xl / sum_l2;
    }
    return 1;
}

/* ggml's make_qkx3_quants(n, nmax, x, w, L, &the_min, Laux, rmin, rdelta, nstep,
 * use_mad = false) with explicit weights: asymmetric levels 0..nmax, x ~ scale L - the_min.
 * Starts from the block's [min(min x, 0), max x] range, then tries inverse scales
 * (rmin + rdelta is + nmax)/(max - min), is = 0..nstep, refitting scale and min by
 * weighted least squares and keeping a candidate only if its weighted squared error is
 * strictly smaller. x, w: [n]; L, Laux: [n] (Laux is scratch). Returns the scale and
 * stores the_min = -min >= 0 (0 and L = 0 for a constant non-negative block). */
static inline float quant_make_qkx3(int n, int nmax, const float *x, const float *w,
                                    uint8_t *L, float *the_min, uint8_t *Laux,
                                    float rmin, float rdelta, int nstep)
{
    float min = x[0], max = x[0];
    float sum_w = w[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min)
            min = x[i];
        if (x[i] > max)
            max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0)
        min = 0;
    if (max <= min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    for (int i = 0; i < n; ++i) {
        int l = quant_nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)QUANT_MAX(0, QUANT_MIN(nmax, l));
    }
    float best_err = quant_qkx_error(n, x, w, L, scale, min);
    if (nstep < 1) {
        *the_min = -min;
        return scale;
    }
    for (int is = 0; is <= nstep; ++is) {
        float this_scale, this_min;
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        if (!quant_qkx_fit(n, nmax, x, w, iscale, min, sum_w, sum_x, Laux, &this_scale, &this_min))
            continue;
        float err = quant_qkx_error(n, x, w, Laux, this_scale, this_min);
        if (err < best_err) {
            memcpy(L, Laux, (size_t)n);
            best_err = err;
            scale = this_scale;
            min = this_min;
        }
    }
    *the_min = -min;
    return scale;
}

#endif /* QUANT_UTIL_H */
