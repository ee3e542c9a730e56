/* k_quant_search_block.h — the k-quant scale searches and bit packing, written once for the
 * host and the device (IG_HD, common/ig_hd.h).
 *
 * The bodies of ggml's make_qx_quants, make_q3_quants, make_qkx2_quants, make_qkx3_quants and
 * make_qp_quants (ggml/src/ggml-quants.c), with the same bit-exactness contract as
 * k_quant_search.h, whose exported kq_* functions are one-line calls of the _hd functions
 * here. The block quantizers (q_legacy_block.h, k_quants_block.h) call the _hd versions, so
 * nvcc inlines the same arithmetic into a GPU kernel. Everything is float32 in source order;
 * an expression such as w*x[i]*l is evaluated (w*x[i])*l exactly as in C, so keep the
 * operand order when editing. The searches keep ggml's loop structure because the bytes
 * depend on it, which is why they run longer than most functions here.
 */
#ifndef K_QUANT_SEARCH_BLOCK_H
#define K_QUANT_SEARCH_BLOCK_H

#include "../common/ig_hd.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* A group whose largest |x| is below this is treated as all zero (ggml's GROUP_MAX_EPS). */
#define KQ_GROUP_MAX_EPS 1e-15f

/* Error measure of the asymmetric searches (ggml's use_mad flag). */
enum kq_error {
    KQ_ERR_SQUARED = 0,   /* sum of w * (q - x)^2 */
    KQ_ERR_ABS = 1,       /* sum of w * |q - x|   (Q2_K without imatrix) */
};

/* Whether make_q3_quants refines the plain rounding (ggml's do_rmse flag). */
enum kq_refine {
    KQ_ROUND_ONLY = 0,
    KQ_REFINE_RMSE = 1,
};

/* Round to nearest, ties to even, exactly as ggml's nearest_int: adding 1.5 * 2^23 makes
 * the float32 adder do the rounding, and the low 23 mantissa bits then hold the integer
 * biased by 2^22. Valid for |f| <= 4194303; outside that range (or for NaN) it returns a
 * deterministic garbage value, as ggml does in release builds, and callers clamp it. */
IG_HD_INLINE int kq_nearest_int(float f)
{
    float v = f + 12582912.0f;
    int32_t i = (int32_t)ig_hd_f32_bits(v);
    return (i & 0x007fffff) - 0x00400000;
}

/* ---- small helpers ---------------------------------------------------------------- */

IG_HD_INLINE int kq_clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* The per-element weight of make_qx_quants when no explicit weights are given. */
IG_HD_INLINE float kq_qx_weight(const float *qw, int rmse_type, const float *x, int i)
{
    if (qw)
        return qw[i];
    if (rmse_type == 1)
        return x[i] * x[i];
    if (rmse_type == 2)
        return 1;
    if (rmse_type == 3)
        return fabsf(x[i]);
    return sqrtf(fabsf(x[i]));
}

/* Signed value of the first element with the largest |x| (ties keep the earlier one). */
IG_HD_INLINE float kq_signed_absmax(int n, const float *x, float *amax_out)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    *amax_out = amax;
    return max;
}

/* Weighted error of codes L under x ~ scale*L + min: squared or absolute. */
IG_HD_INLINE float kq_affine_error(int n, const float *x, const float *w, const uint8_t *L,
                             float scale, float min, enum kq_error err)
{
    float total = 0;
    for (int i = 0; i < n; ++i) {
        float diff = scale * L[i] + min - x[i];
        diff = err == KQ_ERR_ABS ? fabsf(diff) : diff * diff;
        float wi = w ? w[i] : x[i] * x[i];
        total += wi * diff;
    }
    return total;
}

/* ---- symmetric searches ----------------------------------------------------------- */

/* Least squares for a fixed set of codes l_i: scale = Σ w x l / Σ w l², and the fit
 * improves when (Σ w x l)² / Σ w l² grows, i.e. when sumlx² > best · suml2. */
IG_HD_INLINE float kq_make_qx_quants_hd(int n, int nmax, const float *x, int8_t *L,
                                      int rmse_type, const float *qw)
{
    float amax;
    float max = kq_signed_absmax(n, x, &amax);
    if (amax < KQ_GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max;
    if (rmse_type == 0) {
        for (int i = 0; i < n; ++i)
            L[i] = (int8_t)(nmax + kq_clamp(kq_nearest_int(iscale * x[i]), -nmax, nmax - 1));
        return 1 / iscale;
    }
    int return_early = 0;
    if (rmse_type < 0) {
        rmse_type = -rmse_type;
        return_early = 1;
    }
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = kq_clamp(kq_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = kq_qx_weight(qw, rmse_type, x, i);
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    if (return_early)
        return suml2 > 0 ? 0.5f * (scale + 1 / iscale) : 1 / iscale;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0)
            continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            int l = kq_clamp(kq_nearest_int(iscale * x[i]), -nmax, nmax - 1);
            float w = kq_qx_weight(qw, rmse_type, x, i);
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i)
                L[i] = (int8_t)(nmax + kq_clamp(kq_nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Start from rounding at iscale = -nmax/max, then up to 5 sweeps of coordinate descent:
 * with element i removed, the best code for x_i is round(x_i · sl2 / slx); accept it when
 * slx'² / sl2' > sumlx² / suml2 (compared cross-multiplied, as ggml does). */
IG_HD_INLINE float kq_make_q3_quants_hd(int n, int nmax, const float *x, int8_t *L,
                                      enum kq_refine refine)
{
    float amax;
    float max = kq_signed_absmax(n, x, &amax);
    if (amax < KQ_GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max;
    if (refine == KQ_ROUND_ONLY) {
        for (int i = 0; i < n; ++i)
            L[i] = (int8_t)(nmax + kq_clamp(kq_nearest_int(iscale * x[i]), -nmax, nmax - 1));
        return 1 / iscale;
    }
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = kq_clamp(kq_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int itry = 0; itry < 5; ++itry) {
        int n_changed = 0;
        for (int i = 0; i < n; ++i) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (!(slx > 0))
                continue;
            float sl2 = suml2 - w * L[i] * L[i];
            int new_l = kq_clamp(kq_nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (new_l == L[i])
                continue;
            slx += w * x[i] * new_l;
            sl2 += w * new_l * new_l;
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = (int8_t)new_l;
                sumlx = slx;
                suml2 = sl2;
                ++n_changed;
            }
        }
        if (!n_changed)
            break;
    }
    for (int i = 0; i < n; ++i)
        L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* ---- asymmetric searches ---------------------------------------------------------- */

/* The two generations of ggml's asymmetric search differ in two details only. */
enum kq_qkx_variant {
    KQ_QKX2,   /* constant group: max == min; candidate codes: clamp(round(v), 0, nmax) */
    KQ_QKX3,   /* constant group: max <= min; candidate codes: v > 0 ? round(min(v, nmax)) : 0 */
};

/* For fixed codes l_i the weighted least-squares fit of x ≈ scale·l + min is
 *   D = Σw·Σwl² − (Σwl)²,  scale = (Σw·Σwlx − Σwx·Σwl)/D,  min = (Σwl²·Σwx − Σwl·Σwlx)/D,
 * with min forced to 0 (and scale = Σwlx/Σwl²) when the fit wants a positive min.
 * min changes as better fits are found, and later candidates (their iscale and codes) use
 * the updated min, exactly as in ggml. w == NULL means w = x². */
IG_HD_INLINE float kq_qkx_search_hd(int n, int nmax, const float *x, const float *w, uint8_t *L,
                                  float *the_min, uint8_t *Laux, float rmin, float rdelta,
                                  int nstep, enum kq_error err, enum kq_qkx_variant variant)
{
    float min = x[0], max = x[0];
    float sum_w = w ? w[0] : x[0] * x[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min)
            min = x[i];
        if (x[i] > max)
            max = x[i];
        float wi = w ? w[i] : x[i] * x[i];
        sum_w += wi;
        sum_x += wi * x[i];
    }
    if (min > 0)
        min = 0;
    if (variant == KQ_QKX2 ? max == min : max <= min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    for (int i = 0; i < n; ++i)
        L[i] = (uint8_t)kq_clamp(kq_nearest_int(iscale * (x[i] - min)), 0, nmax);
    float best_error = kq_affine_error(n, x, w, L, scale, min, err);
    if (nstep < 1) {
        *the_min = -min;
        return scale;
    }
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            int l;
            if (variant == KQ_QKX3) {
                /* min may have moved close to max, so v can be huge, Inf or NaN */
                float v = iscale * (x[i] - min);
                l = v > 0 ? kq_nearest_int(v < nmax ? v : (float)nmax) : 0;
            } else {
                l = kq_clamp(kq_nearest_int(iscale * (x[i] - min)), 0, nmax);
            }
            Laux[i] = (uint8_t)l;
            float wi = w ? w[i] : x[i] * x[i];
            sum_l += wi * l;
            sum_l2 += wi * l * l;
            sum_xl += wi * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (!(D > 0))
            continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float cur_error = kq_affine_error(n, x, w, Laux, this_scale, this_min, err);
        if (cur_error < best_error) {
            memcpy(L, Laux, (size_t)n);
            best_error = cur_error;
            scale = this_scale;
            min = this_min;
        }
    }
    *the_min = -min;
    return scale;
}

IG_HD_INLINE float kq_make_qkx2_quants_hd(int n, int nmax, const float *x, const float *w,
                                        uint8_t *L, float *the_min, uint8_t *Laux, float rmin,
                                        float rdelta, int nstep, enum kq_error err)
{
    return kq_qkx_search_hd(n, nmax, x, w, L, the_min, Laux, rmin, rdelta, nstep, err, KQ_QKX2);
}

IG_HD_INLINE float kq_make_qkx3_quants_hd(int n, int nmax, const float *x, const float *w,
                                        uint8_t *L, float *the_min, uint8_t *Laux, float rmin,
                                        float rdelta, int nstep, enum kq_error err)
{
    return kq_qkx_search_hd(n, nmax, x, w, L, the_min, Laux, rmin, rdelta, nstep, err, KQ_QKX3);
}

/* ---- scale-of-scales search ------------------------------------------------------- */

/* Scale for non-negative x: try iscale = (nmax + 0.1k)/max for k = -4..4 by weighted MSE,
 * then refine the codes by coordinate descent (up to 5 sweeps) and return the
 * least-squares scale Σwxl/Σwl². Codes are stored through uint8_t as in ggml, so a
 * negative rounding (x < 0 only from a degenerate fit) wraps the same way. */
IG_HD_INLINE float kq_make_qp_quants_hd(int n, int nmax, const float *x, uint8_t *L,
                                      const float *w)
{
    float max = 0;
    for (int i = 0; i < n; ++i)
        max = max > x[i] ? max : x[i];
    if (max < KQ_GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = nmax / max;
    for (int i = 0; i < n; ++i)
        L[i] = (uint8_t)kq_nearest_int(iscale * x[i]);
    float scale = 1 / iscale;
    float best_mse = 0;
    for (int i = 0; i < n; ++i) {
        float diff = x[i] - scale * L[i];
        best_mse += w[i] * diff * diff;
    }
    for (int is = -4; is <= 4; ++is) {
        if (is == 0)
            continue;
        float iscale_is = (0.1f * is + nmax) / max;
        float scale_is = 1 / iscale_is;
        float mse = 0;
        for (int i = 0; i < n; ++i) {
            int l = kq_nearest_int(iscale_is * x[i]);
            l = l < nmax ? l : nmax;
            float diff = x[i] - scale_is * l;
            mse += w[i] * diff * diff;
        }
        if (mse < best_mse) {
            best_mse = mse;
            iscale = iscale_is;
        }
    }
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = kq_nearest_int(iscale * x[i]);
        l = l < nmax ? l : nmax;
        L[i] = (uint8_t)l;
        sumlx += w[i] * x[i] * l;
        suml2 += w[i] * l * l;
    }
    for (int itry = 0; itry < 5; ++itry) {
        int n_changed = 0;
        for (int i = 0; i < n; ++i) {
            float slx = sumlx - w[i] * x[i] * L[i];
            float sl2 = suml2 - w[i] * L[i] * L[i];
            if (!(slx > 0 && sl2 > 0))
                continue;
            int new_l = kq_nearest_int(x[i] * sl2 / slx);
            new_l = new_l < nmax ? new_l : nmax;
            if (new_l == L[i])
                continue;
            slx += w[i] * x[i] * new_l;
            sl2 += w[i] * new_l * new_l;
            if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = (uint8_t)new_l;
                sumlx = slx;
                suml2 = sl2;
                ++n_changed;
            }
        }
        if (!n_changed)
            break;
    }
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* ---- bit packing (layouts in k_quant_search.h) ---------------------------------- */

IG_HD_INLINE void kq_pack_scale_min_k4_hd(int j, uint8_t ls, uint8_t lm, uint8_t *scales)
{
    if (j < 4) {
        scales[j] = ls;
        scales[j + 4] = lm;
    } else {
        scales[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
        scales[j - 4] |= (uint8_t)((ls >> 4) << 6);
        scales[j] |= (uint8_t)((lm >> 4) << 6);
    }
}

IG_HD_INLINE void kq_get_scale_min_k4_hd(int j, const uint8_t *scales, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = scales[j] & 63;
        *m = scales[j + 4] & 63;
    } else {
        *sc = (uint8_t)((scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4));
        *m = (uint8_t)((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
    }
}

IG_HD_INLINE void kq_pack_q3_scale_hd(int j, int l, uint8_t *scales)
{
    if (j < 8)
        scales[j] = (uint8_t)(l & 0xF);
    else
        scales[j - 8] |= (uint8_t)((l & 0xF) << 4);
    scales[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
}

IG_HD_INLINE int kq_get_q3_scale_hd(int j, const uint8_t *scales)
{
    int low = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
    int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | (high << 4)) - 32;
}

IG_HD_INLINE void kq_pack_2bit_hd(const uint8_t *L, uint8_t *qs)
{
    for (int h = 0; h < 2; ++h)
        for (int l = 0; l < 32; ++l) {
            const uint8_t *e = L + 128 * h + l;
            qs[32 * h + l] = (uint8_t)(e[0] | (e[32] << 2) | (e[64] << 4) | (e[96] << 6));
        }
}

#endif /* K_QUANT_SEARCH_BLOCK_H */
