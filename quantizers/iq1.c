/* iq1.c — dequantize IQ1_S and IQ1_M (1.56 and 1.75 bits per weight).
 *
 * Both code 8 weights as one entry of a 2048-entry codebook of {-1, 0, 1} (iq1s_grid,
 * iq_grids.h), shifted by +-1/8 (IQ1S_DELTA) and scaled by an odd multiple of d:
 * x = d (2 s + 1) (grid[j] + delta). IQ1_S has one 3-bit s and one shift sign per 32
 * weights (in qh); IQ1_M one 3-bit s per 16 weights and one shift sign per group, with its
 * fp16 d spread over the four top nibbles of its scales. Each function follows ggml's
 * dequantize_row_iq1_<type> in float32 and in its order of operations. Read-only.
 */
#include "iq_types.h"

#include "iq_grids.h"

#include "../common/ig_half.h"

#include <assert.h>

/* ggml's IQ1S_DELTA: the shift that makes the {-1, 0, 1} codebook asymmetric. */
#define IQ1S_DELTA 0.125f

/* ---- shared ----------------------------------------------------------------------------- */

/* Eight outputs of one group: dl (grid[j] + delta). */
static void iq1_group(float *y, float dl, unsigned idx, float delta)
{
    const uint64_t g = iq1s_grid[idx];
    for (int j = 0; j < 8; ++j)
        y[j] = dl * ((float)(int8_t)iq_grid8_byte(g, j) + delta);
}

/* ---- IQ1_S ------------------------------------------------------------------------------- */

void iq1_s_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK_K == 0);
    const block_iq1_s *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = ig_fp16_to_fp32(x[i].d);
        const uint8_t *qs = x[i].qs;
        for (int ib = 0; ib < QK_K / 32; ++ib, qs += 4) {
            const unsigned qh = x[i].qh[ib];
            const float dl = d * (float)(2 * ((qh >> 12) & 7) + 1);
            const float delta = qh & 0x8000 ? -IQ1S_DELTA : IQ1S_DELTA;
            for (int l = 0; l < 4; ++l, y += 8)
                iq1_group(y, dl, qs[l] | (((qh >> 3 * l) & 7) << 8), delta);
        }
    }
}

/* ---- IQ1_M ------------------------------------------------------------------------------- */

void iq1_m_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK_K == 0);
    const block_iq1_m *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint16_t sc[4];
        for (int k = 0; k < 4; k++)
            sc[k] = (uint16_t)(x[i].scales[2 * k] | (x[i].scales[2 * k + 1] << 8));
        /* the fp16 d: top nibble of sc[0] is its lowest nibble, of sc[3] its highest */
        const uint16_t dh = (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) |
                                       (sc[3] & 0xf000));
        const float d = ig_fp16_to_fp32(dh);
        const uint8_t *qs = x[i].qs;
        const uint8_t *qh = x[i].qh;
        for (int ib = 0; ib < QK_K / 32; ++ib, qs += 4, qh += 2) {
            const unsigned s = sc[ib / 2] >> (6 * (ib % 2));
            const float dl1 = d * (float)(2 * (s & 7) + 1);
            const float dl2 = d * (float)(2 * ((s >> 3) & 7) + 1);
            const unsigned idx[4] = {qs[0] | ((qh[0] << 8) & 0x700u), qs[1] | ((qh[0] << 4) & 0x700u),
                                     qs[2] | ((qh[1] << 8) & 0x700u), qs[3] | ((qh[1] << 4) & 0x700u)};
            const float delta[4] = {qh[0] & 0x08 ? -IQ1S_DELTA : IQ1S_DELTA, qh[0] & 0x80 ? -IQ1S_DELTA : IQ1S_DELTA,
                                    qh[1] & 0x08 ? -IQ1S_DELTA : IQ1S_DELTA, qh[1] & 0x80 ? -IQ1S_DELTA : IQ1S_DELTA};
            for (int l = 0; l < 4; ++l, y += 8)
                iq1_group(y, l < 2 ? dl1 : dl2, idx[l], delta[l]);
        }
    }
}
