/* quant_util.h — scalar helpers shared by the 32-element quantizers (q4_0.c ... iq4_nl.c).
 *
 * Each helper transcribes one function of llama.cpp's ggml-quants.c (named in its
 * comment) in float32 and in source order, so that results match llama.cpp bit for bit.
 * That needs a*b + c to round twice, as in an x86-64 llama.cpp build (ggml-base gets no
 * -march flags there, so no FMA): gcc under -std=c11 defaults to -ffp-contract=off, clang
 * is told so below, and a gnu-mode gcc build with FMA enabled is refused.
 * Header-only (static inline) so each quantizer stays one file; for quantizers/ only. The
 * helpers the block quantizers share with the device (rounding, 5-bit packing) live in
 * quant_util_block.h, included here.
 */
#ifndef QUANT_UTIL_H
#define QUANT_UTIL_H

#include "quant_util_block.h"

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
