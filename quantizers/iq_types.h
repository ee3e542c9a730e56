/* iq_types.h — ggml's "i-quant", ternary, microscaling and 1-2 bit types, as ingot reads
 * them: IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ4_XS, TQ1_0, TQ2_0, MXFP4,
 * NVFP4, Q1_0 and Q2_0.
 *
 * Each gets a dequantizer that gives llama.cpp's floats bit for bit (ggml-quants.c's
 * dequantize_row_<type>, evaluated in the same float32 order), so that ingot can inspect,
 * check and verify files llama-quantize wrote in these types and re-quantize from them.
 * IQ4_XS also gets the quantizer llama-quantize uses (quantize_iq4_xs: byte-identical
 * without an importance matrix, and with one). The others need an importance-matrix search
 * (IQ1/IQ2/IQ3) or are niche (TQ, MXFP4, NVFP4, Q1_0, Q2_0) and are read-only: their rows in the type table
 * have no quantize function, and convert refuses them as targets.
 *
 * Block layouts (ggml-common.h; d is fp16 bits unless said otherwise; 256 weights per block
 * unless said otherwise). "Group" = 8 weights sharing one grid index (iq_grids.h).
 *   1. IQ2_XXS (66): d | qs[32] u16. Per 32 weights, 8 bytes: 4 grid indices, then a u32
 *      whose bits 0..27 are four 7-bit sign indices and 28..31 the scale s: d (0.5 + s)/4.
 *   2. IQ2_XS (74): d | qs[32] u16 (9-bit grid index, 7-bit sign index) | scales[8] (two
 *      4-bit scales per 32 weights, one per 16).
 *   3. IQ2_S (82): d | qs[64] (32 low index bytes, then 32 sign bytes) | qh[8] (2 high
 *      index bits per group) | scales[8].
 *   4. IQ3_XXS (98): d | qs[64] (grid indices, 4 weights each) | 8 u32 of sign indices and
 *      a 4-bit scale, as IQ2_XXS: d (0.5 + s)/2.
 *   5. IQ3_S (110): d | qs[64] | qh[8] (9th index bit) | signs[32] | scales[4] (4-bit, one
 *      per 32 weights: d (1 + 2 s)).
 *   6. IQ1_S (50): d | qs[32] (low 8 index bits) | qh[8] u16 per 32 weights: 3 high index
 *      bits per group, a 3-bit scale (d (2 s + 1)) and the sign of a +-1/8 shift.
 *   7. IQ1_M (56): qs[32] | qh[16] (3 high index bits and a shift sign per group) |
 *      scales[8] = 4 u16: 3-bit scales per 16 weights in bits 0..11, the fp16 d in the four
 *      top nibbles.
 *   8. IQ4_XS (136): d | scales_h u16 (2 high bits per 32) | scales_l[4] (4 low bits per 32)
 *      | qs[128] (IQ4_NL's nibble table and order per 32). Sub-block scale d (ls - 32).
 *   9. TQ1_0 (54): qs[48] | qh[4] | d: base-3 digits of ternary weights, 5 per qs byte and 4
 *      per qh byte, stored as fractions (see tq.c); x = d (t - 1), t in 0..2.
 *  10. TQ2_0 (66): qs[64] | d: 2-bit t per weight, 4 per byte in planes; x = d (t - 1).
 *  11. MXFP4 (17, 32 weights): e (e8m0 exponent byte) | qs[16]: e2m1 nibbles in IQ4_NL's
 *      order; x = mxfp4_values[nibble] 2^(e - 128).
 *  12. NVFP4 (36, 64 weights): d[4] (one unsigned e4m3 scale byte per 16 weights) | qs[32]:
 *      per 16 weights 8 bytes, low nibble = weight j, high = weight j + 8; e2m1 as MXFP4's
 *      (doubled) times half the e4m3 scale.
 *  13. Q1_0 (18, 128 weights): d | qs[16]: bit j (LSB first) of the row = weight j;
 *      x = d (+1 if set, -1 if not).
 *  14. Q2_0 (18, 64 weights): d | qs[16]: 2 bits per weight, weight j in bits 2(j%4) of byte
 *      j/4; x = d (q - 1), q in 0..3.
 * The layouts of 12-14 were read from llama.cpp's library by dequantizing blocks with single
 * bits set (tests/data/ggml_probe/), then checked on random blocks and on llama-quantize's files.
 */
#ifndef IQ_TYPES_H
#define IQ_TYPES_H

#include "blocks.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QK_MXFP4 32
#define QK_NVFP4 64
#define QK1_0 128
#define QK2_0 64

typedef struct {
    ig_half d;
    uint16_t qs[QK_K / 8];
} block_iq2_xxs;

typedef struct {
    ig_half d;
    uint16_t qs[QK_K / 8];
    uint8_t scales[QK_K / 32];
} block_iq2_xs;

typedef struct {
    ig_half d;
    uint8_t qs[QK_K / 4];
    uint8_t qh[QK_K / 32];
    uint8_t scales[QK_K / 32];
} block_iq2_s;

typedef struct {
    ig_half d;
    uint8_t qs[3 * QK_K / 8];
} block_iq3_xxs;

typedef struct {
    ig_half d;
    uint8_t qs[QK_K / 4];
    uint8_t qh[QK_K / 32];
    uint8_t signs[QK_K / 8];
    uint8_t scales[QK_K / 64];
} block_iq3_s;

typedef struct {
    ig_half d;
    uint8_t qs[QK_K / 8];
    uint16_t qh[QK_K / 32];
} block_iq1_s;

typedef struct {
    uint8_t qs[QK_K / 8];
    uint8_t qh[QK_K / 16];
    uint8_t scales[QK_K / 32];
} block_iq1_m;

typedef struct {
    ig_half d;
    uint16_t scales_h;
    uint8_t scales_l[QK_K / 64];
    uint8_t qs[QK_K / 2];
} block_iq4_xs;

typedef struct {
    uint8_t qs[(QK_K - 4 * QK_K / 64) / 5];
    uint8_t qh[QK_K / 64];
    ig_half d;
} block_tq1_0;

typedef struct {
    uint8_t qs[QK_K / 4];
    ig_half d;
} block_tq2_0;

typedef struct {
    uint8_t e;
    uint8_t qs[QK_MXFP4 / 2];
} block_mxfp4;

typedef struct {
    uint8_t d[QK_NVFP4 / 16];   /* unsigned e4m3 scale per 16 weights */
    uint8_t qs[QK_NVFP4 / 2];
} block_nvfp4;

typedef struct {
    ig_half d;
    uint8_t qs[QK1_0 / 8];
} block_q1_0;

typedef struct {
    ig_half d;
    uint8_t qs[QK2_0 / 4];
} block_q2_0;

IG_BLOCK_CHECK(block_iq2_xxs, IQ2_XXS, QK_K);
IG_BLOCK_CHECK(block_iq2_xs, IQ2_XS, QK_K);
IG_BLOCK_CHECK(block_iq2_s, IQ2_S, QK_K);
IG_BLOCK_CHECK(block_iq3_xxs, IQ3_XXS, QK_K);
IG_BLOCK_CHECK(block_iq3_s, IQ3_S, QK_K);
IG_BLOCK_CHECK(block_iq1_s, IQ1_S, QK_K);
IG_BLOCK_CHECK(block_iq1_m, IQ1_M, QK_K);
IG_BLOCK_CHECK(block_iq4_xs, IQ4_XS, QK_K);
IG_BLOCK_CHECK(block_tq1_0, TQ1_0, QK_K);
IG_BLOCK_CHECK(block_tq2_0, TQ2_0, QK_K);
IG_BLOCK_CHECK(block_mxfp4, MXFP4, QK_MXFP4);
IG_BLOCK_CHECK(block_nvfp4, NVFP4, QK_NVFP4);
IG_BLOCK_CHECK(block_q1_0, Q1_0, QK1_0);
IG_BLOCK_CHECK(block_q2_0, Q2_0, QK2_0);

/* Dequantize n elements (n a whole number of blocks: the caller sized src from it) at src
 * into y[n], exactly as ggml's dequantize_row_<type>. */
void iq2_xxs_dequantize_row_ref(const void *src, float *y, int64_t n);
void iq2_xs_dequantize_row_ref(const void *src, float *y, int64_t n);
void iq2_s_dequantize_row_ref(const void *src, float *y, int64_t n);
void iq3_xxs_dequantize_row_ref(const void *src, float *y, int64_t n);
void iq3_s_dequantize_row_ref(const void *src, float *y, int64_t n);
void iq1_s_dequantize_row_ref(const void *src, float *y, int64_t n);
void iq1_m_dequantize_row_ref(const void *src, float *y, int64_t n);
void iq4_xs_dequantize_row_ref(const void *src, float *y, int64_t n);
void tq1_0_dequantize_row_ref(const void *src, float *y, int64_t n);
void tq2_0_dequantize_row_ref(const void *src, float *y, int64_t n);
void mxfp4_dequantize_row_ref(const void *src, float *y, int64_t n);
void nvfp4_dequantize_row_ref(const void *src, float *y, int64_t n);
void q1_0_dequantize_row_ref(const void *src, float *y, int64_t n);
void q2_0_dequantize_row_ref(const void *src, float *y, int64_t n);

/* Quantize n floats (a multiple of 256) into n/256 IQ4_XS blocks at dst, as ggml's
 * quantize_iq4_xs for one row: imatrix is NULL (weights x^2) or [n] importance weights.
 * Returns 0, or IG_EINVAL (dst untouched) when n is not a non-negative multiple of 256. */
int iq4_xs_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);

#ifdef __cplusplus
}
#endif

#endif /* IQ_TYPES_H */
