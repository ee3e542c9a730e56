/* k_quants.h — scalar reference quantize/dequantize for ggml's k-quants Q2_K … Q6_K.
 *
 * A k-quant row is cut into super-blocks of 256 floats (QK_K). Each super-block is cut
 * into sub-blocks (16 of 16 elements, or 8 of 32), each with its own small integer scale
 * (and, for Q2_K/Q4_K/Q5_K, an integer min), and the sub-block scales are themselves
 * quantized against one fp16 super-scale d (and dmin). The byte layouts are the structs of
 * quantizers/blocks.h; per super-block, with e = element index 0..255:
 *
 *   Q2_K (84 B)  scales[16] | qs[64] | d | dmin.  Sub-block s = e/16: scales[s] low nibble
 *                = scale code, high nibble = min code.  2-bit q of e: h = e/128, r = e%128,
 *                (qs[32h + r%32] >> 2*(r/32)) & 3.  x = d*sc*q - dmin*m.
 *   Q3_K (110 B) hmask[32] | qs[64] | scales[12] | d.  Low 2 bits as Q2_K; bit e/32 of
 *                hmask[e%32] set means +4; q = low2 + 4*bit - 4 (-4..3).  16 6-bit scales
 *                (low nibbles in scales[0..7], high 2 bits in scales[8..11]), sc = code-32.
 *                x = d*sc*q.
 *   Q4_K (144 B) d | dmin | scales[12] | qs[128].  8 sub-blocks of 32, 6-bit scale and min
 *                each (see kq_pack_scale_min_k4).  qs[32c + l]: low nibble = element 64c+l,
 *                high nibble = element 64c+32+l.  x = d*sc*q - dmin*m, q 0..15.
 *   Q5_K (176 B) d | dmin | scales[12] | qh[32] | qs[128].  As Q4_K, plus bit 2c of qh[l]
 *                = 16s of element 64c+l and bit 2c+1 = 16s of element 64c+32+l; q 0..31.
 *   Q6_K (210 B) ql[128] | qh[64] | scales[16] (int8) | d.  Half h (elements 128h..):
 *                element 128h+32k+l (k = 0..3, l = 0..31) takes its low 4 bits from
 *                ql[64h + 32*(k&1) + l] (nibble k/2) and its high 2 bits from
 *                qh[32h + l] bits 2k..2k+1; q = value - 32 (-32..31).  x = d*scales[e/16]*q.
 *
 * Quantize, imatrix == NULL: byte-identical to llama.cpp's quantize_row_<type>_ref (what
 * llama-quantize writes without --imatrix). imatrix != NULL: byte-identical to
 * quantize_<type>_impl, with imatrix = [n] importance weights of the row's columns (the
 * same vector for every row of a tensor). The per-element weights are derived per
 * super-block, with sigma2 taken over the 256 elements of that super-block:
 *   Q2_K  w = imatrix * sqrt(sigma2 + x^2),  sigma2 =   Σx²/256
 *   Q3_K, Q4_K, Q5_K  the same with sigma2 = 2·Σx²/256
 *   Q6_K  w = imatrix (raw)
 * Dequantize: bit-identical to dequantize_row_<type>.
 *
 * All functions are scalar float32 code with no FMA contraction (see k_quant_search.h);
 * they are the reference every faster version is tested against.
 */
#ifndef K_QUANTS_H
#define K_QUANTS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Quantize n floats of x (one row, or several rows back to back when imatrix == NULL)
 * into n/256 blocks at dst (caller-owned, n/256 * sizeof(block_qX_K) bytes). imatrix is
 * [n] importance weights for the row, or NULL. Returns 0, or IG_EINVAL (message names
 * the type and n) when n is negative or not a multiple of 256; dst is untouched then.
 * An all-zero super-block gets zero scales and never divides by zero. */
int q2_k_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);
int q3_k_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);
int q4_k_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);
int q5_k_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);
int q6_k_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);

/* Dequantize n elements of packed blocks at src into y ([n] floats, caller-owned).
 * n must be a multiple of 256 (the type table guarantees it); only the n/256 whole
 * blocks are written. */
void q2_k_dequantize_row_ref(const void *src, float *y, int64_t n);
void q3_k_dequantize_row_ref(const void *src, float *y, int64_t n);
void q4_k_dequantize_row_ref(const void *src, float *y, int64_t n);
void q5_k_dequantize_row_ref(const void *src, float *y, int64_t n);
void q6_k_dequantize_row_ref(const void *src, float *y, int64_t n);

#ifdef __cplusplus
}
#endif

#endif /* K_QUANTS_H */
