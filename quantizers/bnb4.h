/* bnb4.h — bitsandbytes' 4-bit NF4 quantization with double quantization, as the library
 * computes it (functional.py quantize_4bit with compress_statistics=True, and the CUDA
 * kernels kQuantizeBlockwise / dQuantize / dQuantizeNF4), for writing checkpoints that
 * bitsandbytes' Params4bit / QuantState load (convert/export_hf.c).
 *
 * Unlike ingot's NF4 type (ext_types.h), whose blocks are whole rows of a GGUF tensor, a
 * bitsandbytes tensor is one flat run of n = out * in weights in row-major [out][in] order:
 *   1. blocks of `blocksize` (64) weights: absmax_b = max |x| (fp32, exact); each weight gets
 *      the NF4 code nf4_code_index(x * (1.0f / absmax_b)) (ext_types.h: the library's decision
 *      tree on the same product). An all-zero block gets code 7 (0.0) in every nibble where
 *      the library computes 0 * (1/0) = NaN and stores code 0 (-1.0 times a tiny decoded
 *      absmax): ingot keeps such weights exactly 0.
 *   2. double quantization: offset = mean(absmax) (fp32; summed here in double, which the
 *      stored offset records, so any rounding of the mean is as valid as torch's); each
 *      v_j = absmax_j - offset (fp32) is coded to 8 bits by blocks of nested_blocksize (256):
 *      nested_absmax_c = max |v| over the block, code = the library's dQuantize of
 *      v * (1.0f / nested_absmax_c) over the signed dynamic map (below). A block with
 *      nested_absmax 0 gets the code of 0.0.
 *   3. decode (what a loader computes): absmax'_j = f32(f32(map[code_j] * nested_absmax_c)
 *      + offset); x'_k = f32(nf4_code[code_k] * absmax'_{k / blocksize}).
 * The dynamic map is create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8):
 * for i = 0..6, the midpoints of torch.linspace(0.1, 1, 2^i + 1) (fp32) times 10^(i-6)
 * (fp32), with both signs; then 0 and 1; sorted ascending (256 values, index 127 is 0).
 */
#ifndef BNB4_H
#define BNB4_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BNB4_BLOCKSIZE 64          /* transformers' default bnb_4bit blocksize */
#define BNB4_NESTED_BLOCKSIZE 256  /* quantize_blockwise(absmax - offset, blocksize=256) */

/* map: [256] the signed dynamic map, ascending (create_dynamic_map(signed=True)). */
void bnb_dynamic_map(float *map);

/* dQuantize<0>: the index the library's binary search and midpoint test give x over map
 * (ascending [256]). */
int bnb_dynamic_index(const float *map, float x);

/* One NF4 tensor with double quantization, by the rules at the top. x: [n] fp32, finite;
 * codes: [n] one NF4 code (0..15) per byte; absmax_q: [ceil(n / BNB4_BLOCKSIZE)];
 * nested_absmax: [ceil(n_blocks / BNB4_NESTED_BLOCKSIZE)]; *offset; y (may be NULL): [n]
 * the decoded weights (rule 3). map is bnb_dynamic_map's. All caller-owned. Returns 0, or
 * IG_EINVAL naming the first non-finite element. */
int bnb_nf4_quantize(const float *x, int64_t n, const float *map, uint8_t *codes, uint8_t *absmax_q,
                     float *nested_absmax, float *offset, float *y);

/* Rule 3 for block j: the decoded absmax. */
float bnb_absmax_decode(const float *map, const uint8_t *absmax_q, const float *nested_absmax, float offset, int64_t j);

#ifdef __cplusplus
}
#endif

#endif /* BNB4_H */
