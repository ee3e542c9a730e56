/* iq3.c — dequantize IQ3_XXS and IQ3_S (3.06 and 3.44 bits per weight).
 *
 * Both code 4 weights at a time as one entry of a codebook of magnitudes (iq_grids.h), with
 * one sign bit per weight and one 4-bit scale per 32 weights. IQ3_XXS: 256 entries
 * (4..62), signs as 7-bit indices with an implied parity bit (like IQ2_XXS), scale
 * d (0.5 + s) / 2. IQ3_S: 512 entries (odd 1..15), 8 explicit sign bits per 8 weights,
 * scale d (1 + 2 s). Each function follows ggml's dequantize_row_iq3_<type> in float32 and
 * in its order of operations. Read-only (llama-quantize needs an importance-matrix search).
 */
#include "iq_types.h"

#include "iq_grids.h"

#include "../common/ig_half.h"

#include <assert.h>
#include <string.h>

/* ---- shared ----------------------------------------------------------------------------- */

/* Eight outputs from two 4-wide grid entries: db grid[j], negated where signs has bit j. */
static void iq3_pair(float *y, float db, uint32_t g1, uint32_t g2, uint8_t signs)
{
    for (int j = 0; j < 4; ++j) {
        y[j + 0] = db * iq_grid4_byte(g1, j) * (signs & (1u << j) ? -1.f : 1.f);
        y[j + 4] = db * iq_grid4_byte(g2, j) * (signs & (1u << (j + 4)) ? -1.f : 1.f);
    }
}

/* ---- IQ3_XXS ----------------------------------------------------------------------------- */

void iq3_xxs_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK_K == 0);
    const block_iq3_xxs *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = ig_fp16_to_fp32(x[i].d);
        const uint8_t *qs = x[i].qs;
        const uint8_t *scales_and_signs = x[i].qs + QK_K / 4;
        for (int ib32 = 0; ib32 < QK_K / 32; ++ib32, qs += 8) {
            uint32_t aux;
            memcpy(&aux, scales_and_signs + 4 * ib32, 4);
            const float db = d * (0.5f + (float)(aux >> 28)) * 0.5f;
            for (int l = 0; l < 4; ++l, y += 8)
                iq3_pair(y, db, iq3xxs_grid[qs[2 * l]], iq3xxs_grid[qs[2 * l + 1]], iq_ksigns((aux >> 7 * l) & 127));
        }
    }
}

/* ---- IQ3_S ------------------------------------------------------------------------------- */

/* 32 weights of IQ3_S: 8 index bytes at qs, their 9th bits in qh, 4 sign bytes. */
static void iq3_s_32(float *y, float db, const uint8_t *qs, uint8_t qh, const uint8_t *signs)
{
    for (int l = 0; l < 4; ++l, y += 8) {
        const unsigned i1 = qs[2 * l + 0] | (((unsigned)qh << (8 - 2 * l)) & 256);
        const unsigned i2 = qs[2 * l + 1] | (((unsigned)qh << (7 - 2 * l)) & 256);
        iq3_pair(y, db, iq3s_grid[i1], iq3s_grid[i2], signs[l]);
    }
}

void iq3_s_dequantize_row_ref(const void *src, float *y, int64_t n)
{
    assert(n % QK_K == 0);
    const block_iq3_s *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = ig_fp16_to_fp32(x[i].d);
        for (int ib32 = 0; ib32 < QK_K / 32; ib32 += 2, y += 64) {
            const uint8_t sc = x[i].scales[ib32 / 2];
            const float db1 = d * (float)(1 + 2 * (sc & 0xf));
            const float db2 = d * (float)(1 + 2 * (sc >> 4));
            iq3_s_32(y, db1, x[i].qs + 8 * ib32, x[i].qh[ib32], x[i].signs + 4 * ib32);
            iq3_s_32(y + 32, db2, x[i].qs + 8 * ib32 + 8, x[i].qh[ib32 + 1], x[i].signs + 4 * ib32 + 4);
        }
    }
}
