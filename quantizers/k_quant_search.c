/* k_quant_search.c — scale searches and bit packing shared by Q2_K … Q6_K, as exported C
 * functions.
 *
 * The searches reimplement the helper searches of ggml/src/ggml-quants.c (make_qx_quants,
 * make_q3_quants, make_qkx2_quants, make_qkx3_quants, make_qp_quants) so that the k-quant
 * reference quantizers produce llama-quantize's bytes. Their bodies live once, in
 * k_quant_search_block.h, where nvcc compiles them for the device as well; this file gives
 * the callers outside the block quantizers (the IQ types, quant_grid.c, tests) linkable names.
 */
/* No contraction of a*b + c into a fused multiply-add: ggml rounds every product. GCC
 * ignores the standard pragma (its ISO C modes already default to fp-contract=off), so it
 * gets its own spelling in case this file is ever built in a GNU mode with FMA enabled. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "k_quant_search.h"

#include "k_quant_search_block.h"

#include "../common/ig_error.h"

#include <math.h>
#include <string.h>

/* ---- the searches: the shared host/device bodies of k_quant_search_block.h ---------- */

float kq_make_qx_quants(int n, int nmax, const float *x, int8_t *L, int rmse_type,
                        const float *qw)
{
    return kq_make_qx_quants_hd(n, nmax, x, L, rmse_type, qw);
}

float kq_make_q3_quants(int n, int nmax, const float *x, int8_t *L, enum kq_refine refine)
{
    return kq_make_q3_quants_hd(n, nmax, x, L, refine);
}

float kq_make_qkx2_quants(int n, int nmax, const float *x, const float *w, uint8_t *L,
                          float *the_min, uint8_t *Laux, float rmin, float rdelta,
                          int nstep, enum kq_error err)
{
    return kq_make_qkx2_quants_hd(n, nmax, x, w, L, the_min, Laux, rmin, rdelta, nstep, err);
}

float kq_make_qkx3_quants(int n, int nmax, const float *x, const float *w, uint8_t *L,
                          float *the_min, uint8_t *Laux, float rmin, float rdelta,
                          int nstep, enum kq_error err)
{
    return kq_make_qkx3_quants_hd(n, nmax, x, w, L, the_min, Laux, rmin, rdelta, nstep, err);
}

float kq_make_qp_quants(int n, int nmax, const float *x, uint8_t *L, const float *w)
{
    return kq_make_qp_quants_hd(n, nmax, x, L, w);
}

/* ---- row checks and bit packing ------------------------------------------------------------------ */

int kq_check_row_length(const char *fn, const char *type_name, int64_t n)
{
    if (n >= 0 && n % 256 == 0)
        return 0;
    return ig_error_set(IG_EINVAL, "%s: %s row length %lld is not a multiple of 256", fn,
                        type_name, (long long)n);
}

void kq_pack_scale_min_k4(int j, uint8_t ls, uint8_t lm, uint8_t *scales)
{
    kq_pack_scale_min_k4_hd(j, ls, lm, scales);
}

void kq_get_scale_min_k4(int j, const uint8_t *scales, uint8_t *sc, uint8_t *m)
{
    kq_get_scale_min_k4_hd(j, scales, sc, m);
}

void kq_pack_q3_scale(int j, int l, uint8_t *scales)
{
    kq_pack_q3_scale_hd(j, l, scales);
}

int kq_get_q3_scale(int j, const uint8_t *scales)
{
    return kq_get_q3_scale_hd(j, scales);
}

void kq_pack_2bit(const uint8_t *L, uint8_t *qs)
{
    kq_pack_2bit_hd(L, qs);
}
