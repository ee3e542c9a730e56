/* iq2.c — dequantize IQ2_XXS, IQ2_XS and IQ2_S (2.06, 2.31 and 2.56 bits per weight).
 *
 * All three code 8 weights at a time as one entry of a codebook of magnitudes {8, 25, 43}
 * (iq_grids.h) with 8 sign bits, times a 4-bit scale per 32 (XXS) or 16 (XS, S) weights:
 * x = d (0.5 + s) / 4 * grid[j] * (+-1). They differ in codebook size (256, 512, 1024
 * entries) and in where the index and sign bits sit (iq_types.h). Each function follows
 * ggml's dequantize_row_iq2_<type> in float32 and in its order of operations: the scale
 * is (d (0.5 + s)) 0.25, then (scale grid) sign. Read-only: ingot does not write these types
 * (llama-quantize needs an importance-matrix search for them).
 */
#include "iq_types.h"

#include "iq_grids.h"

#include "../common/ig_half.h"

#include <assert.h>
#include <string.h>

/* ---- shared ----------------------------------------------------------------------------- */

/* Eight outputs of one group: db grid[j], negated where signs has bit j. */
static void iq2_group(float *y, float db, uint64_t grid, uint8_t signs)
{
    for (int j = 0; j < 8; ++j)
        y[j] = db * iq_grid8_byte(grid, j) * (signs & (1u << j) ? -1.f : 1.f);
}

/* ---- IQ2_XXS ----------------------------------------------------------------------------- */

void iq2_xxs_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK_K == 0);
    const block_iq2_xxs *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = ig_fp16_to_fp32(x[i].d);
        for (int ib32 = 0; ib32 < QK_K / 32; ++ib32) {
            /* 4 grid-index bytes, then the u32 of signs and scale (both little-endian) */
            uint8_t idx[4];
            uint32_t aux;
            memcpy(idx, x[i].qs + 4 * ib32, 4);
            memcpy(&aux, x[i].qs + 4 * ib32 + 2, 4);
            const float db = d * (0.5f + (float)(aux >> 28)) * 0.25f;
            for (int l = 0; l < 4; ++l, y += 8)
                iq2_group(y, db, iq2xxs_grid[idx[l]], iq_ksigns((aux >> 7 * l) & 127));
        }
    }
}

/* ---- IQ2_XS ------------------------------------------------------------------------------ */

void iq2_xs_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK_K == 0);
    const block_iq2_xs *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = ig_fp16_to_fp32(x[i].d);
        for (int ib32 = 0; ib32 < QK_K / 32; ++ib32) {
            const float db[2] = {d * (0.5f + (float)(x[i].scales[ib32] & 0xf)) * 0.25f,
                                 d * (0.5f + (float)(x[i].scales[ib32] >> 4)) * 0.25f};
            for (int l = 0; l < 4; ++l, y += 8) {
                const uint16_t q = x[i].qs[4 * ib32 + l];
                iq2_group(y, db[l / 2], iq2xs_grid[q & 511], iq_ksigns(q >> 9));
            }
        }
    }
}

/* ---- IQ2_S ------------------------------------------------------------------------------- */

void iq2_s_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK_K == 0);
    const block_iq2_s *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = ig_fp16_to_fp32(x[i].d);
        const uint8_t *qs = x[i].qs;
        const uint8_t *signs = x[i].qs + QK_K / 8;   /* the second half of qs */
        for (int ib32 = 0; ib32 < QK_K / 32; ++ib32, qs += 4, signs += 4) {
            const float db[2] = {d * (0.5f + (float)(x[i].scales[ib32] & 0xf)) * 0.25f,
                                 d * (0.5f + (float)(x[i].scales[ib32] >> 4)) * 0.25f};
            for (int l = 0; l < 4; ++l, y += 8) {
                /* qh[ib32] bits 2l, 2l+1 are index bits 8, 9 of group l */
                const unsigned idx = qs[l] | (((unsigned)x[i].qh[ib32] << (8 - 2 * l)) & 0x300);
                iq2_group(y, db[l / 2], iq2s_grid[idx], signs[l]);
            }
        }
    }
}
