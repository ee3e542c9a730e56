/* iq4_nl.c — IQ4_NL: 32 weights share one fp16 scale d; each weight is a 4-bit index
 * into a fixed non-linear table of 16 int8 values, x ~ d table[index].
 *
 * Reference quantize and dequantize, bit-exact with llama.cpp's ggml-quants.c
 * (quantize_iq4_nl -> quantize_row_iq4_nl_impl with super_block_size = block_size = 32
 * and ntry = 7, which llama-quantize uses with and without an importance matrix;
 * dequantize_row_iq4_nl). q_legacy.h gives the algorithm. Called by convert/ through the
 * type table on one row at a time.
 */
#include "q_legacy.h"

#include "iq4_impl.h"

#include "quant_util.h"

#include "../common/ig_half.h"

#include <assert.h>

/* ---- constants ------------------------------------------------------------------------ */

/* ggml's kvalues_iq4nl: denser near zero, where most weights are. */
const int8_t iq4nl_values[16] = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
};

/* quantize_iq4_nl's ntry: inverse scales (itry + values[0]) / max for itry = -7..7. */
#define IQ4NL_NTRY 7

/* ---- quantize ------------------------------------------------------------------------- */

/* ggml's best_index_int8(16, values, x): the index of the table entry nearest to x by
 * bisection; a tie between neighbours goes to the upper one. */
int iq4nl_best_index(float x)
{
    if (x <= iq4nl_values[0])
        return 0;
    if (x >= iq4nl_values[15])
        return 15;
    int ml = 0, mu = 15;
    while (mu - ml > 1) {
        int mav = (ml + mu) / 2;
        if (x < iq4nl_values[mav])
            mu = mav;
        else
            ml = mav;
    }
    return x - iq4nl_values[mu - 1] < iq4nl_values[mu] - x ? mu - 1 : mu;
}

/* sum(w q x) and sum(w q^2) with q = table[best_index(id x)] over one block. */
static void iq4nl_sums(const float *x, const float *w, float id, float *sumqx, float *sumq2)
{
    float sqx = 0, sq2 = 0;
    for (int j = 0; j < QK4_NL; ++j) {
        float q = iq4nl_values[iq4nl_best_index(id * x[j])];
        sqx += w[j] * q * x[j];
        sq2 += w[j] * q * q;
    }
    *sumqx = sqx;
    *sumq2 = sq2;
}

/* The block scale of quantize_row_iq4_nl_impl: start at d = max/127 (max = signed
 * max-|x| element), refit d = sum(w q x)/sum(w q^2), then keep the best of the 15 inverse
 * scales by the score sumqx^2/sumq2. 0 for a block with max|x| < GROUP_MAX_EPS, and 0
 * when every weight is 0 (current ggml guards sumq2 > 0; versions without the guard
 * stored NaN for such a block, which only an importance matrix with zeros can cause). */
float iq4nl_block_scale(const float *x, const float *w)
{
    float amax = 0, max = 0;
    for (int j = 0; j < QK4_NL; ++j) {
        float ax = fabsf(x[j]);
        if (ax > amax) {
            amax = ax;
            max = x[j];
        }
    }
    if (amax < QUANT_GROUP_MAX_EPS)
        return 0;
    float sumqx, sumq2;
    iq4nl_sums(x, w, 1 / (-max / iq4nl_values[0]), &sumqx, &sumq2);
    float d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -IQ4NL_NTRY; itry <= IQ4NL_NTRY; ++itry) {
        iq4nl_sums(x, w, (itry + iq4nl_values[0]) / max, &sumqx, &sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

/* One block. sigma2 is per block here (2 sum(x^2)/32), unlike the legacy _impl paths. */
static void iq4nl_block(const float *x, block_iq4_nl *y, const float *qw)
{
    float weight[QK4_NL];
    uint8_t L[QK4_NL];
    float sigma2 = 0;
    for (int j = 0; j < QK4_NL; ++j)
        sigma2 += x[j] * x[j];
    sigma2 *= 2.f / QK4_NL;
    for (int j = 0; j < QK4_NL; ++j)
        weight[j] = qw ? qw[j] * sqrtf(sigma2 + x[j] * x[j]) : x[j] * x[j];

    const float d = iq4nl_block_scale(x, weight);
    y->d = ig_fp32_to_fp16(d);
    /* indices come from the unrounded d; a zero block maps every x to index 8 (value 1) */
    const float id = d ? 1 / d : 0;
    for (int j = 0; j < QK4_NL; ++j)
        L[j] = (uint8_t)iq4nl_best_index(id * x[j]);
    for (int j = 0; j < 16; ++j)
        y->qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
}

int iq4_nl_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix)
{
    int rc = quant_check_row32("iq4_nl_quantize_row_ref", "IQ4_NL", n);
    if (rc)
        return rc;
    block_iq4_nl *y = dst;
    for (int64_t i = 0; i < n / QK4_NL; ++i)
        iq4nl_block(x + QK4_NL * i, &y[i], imatrix ? imatrix + QK4_NL * i : NULL);
    return 0;
}

/* ---- dequantize ----------------------------------------------------------------------- */

void iq4_nl_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK4_NL == 0);
    const block_iq4_nl *x = src;
    const int64_t nb = n / QK4_NL;
    for (int64_t i = 0; i < nb; i++) {
        const float d = ig_fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK4_NL / 2; ++j) {
            y[i * QK4_NL + j] = d * iq4nl_values[x[i].qs[j] & 0x0F];
            y[i * QK4_NL + j + QK4_NL / 2] = d * iq4nl_values[x[i].qs[j] >> 4];
        }
    }
}
