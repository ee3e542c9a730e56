/* q_legacy.h — the 32-element block types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and IQ4_NL.
 *
 * Each type quantizes a row of fp32 values into ggml blocks (layouts in blocks.h) and
 * back, byte for byte as llama.cpp's ggml-quants.c does on x86-64, so llama-quantize and
 * ingot write identical tensors from the same input. Every block of 32 is independent,
 * except that the importance-matrix paths below weight each element by the row's RMS.
 *
 * Without an importance matrix (imatrix == NULL) — ggml's quantize_row_<type>_ref:
 *   1. Q4_0: max = the signed value of the first element with the largest |x|;
 *      d = max / -8, id = d ? 1/d : 0 (fp32, unrounded); q = MIN(15, trunc(x*id + 8.5f));
 *      stored d = fp16(d). Dequantize: d * (q - 8). The max element lands on q = 0.
 *   2. Q4_1: min, max of the block; d = (max - min) / 15; q = MIN(15, trunc((x - min)*id
 *      + 0.5f)); stored d = fp16(d), m = fp16(min). Dequantize: d*q + m.
 *   3. Q5_0: as Q4_0 with d = max / -16, q = MIN(31, trunc(x*id + 16.5f)); bit 4 of q for
 *      element j goes to bit j of qh (a little-endian u32). Dequantize: d * (q - 16).
 *   4. Q5_1: as Q4_1 with d = (max - min) / 31, q = trunc((x - min)*id + 0.5f), no clamp.
 *   5. Q8_0: d = max|x| / 127; q = roundf(x*id) (half away from zero). Dequantize: d*q.
 *   6. IQ4_NL: see "IQ4_NL" below; it has no separate no-imatrix rule.
 *
 * With an importance matrix (imatrix != NULL, [n] floats, one per column of the row):
 * ggml's quantize_row_<type>_impl. x is then ONE row: sigma2 = sum(x^2) / n over the
 * whole row, and element j of a block weighs w_j = imatrix[j] * sqrt(sigma2 + x_j^2).
 *   - Q4_0 / Q5_0: d = make_qx_quants(32, 8 | 16, x, L, w) (quant_util.h: 19 candidate
 *     scales around -nmax/max, each refit by weighted least squares); q = L.
 *   - Q4_1 / Q5_1: d, min from make_qkx3_quants(32, 15 | 31, x, w, L, -0.9, 0.05, 36);
 *     stored d = fp16(d), m = fp16(-min); q = L.
 *   - Q8_0 ignores the importance matrix.
 *
 * IQ4_NL (ggml's quantize_iq4_nl, the path llama-quantize takes with and without an
 * importance matrix): per block, sigma2 = 2 * sum(x^2) / 32 and w_j = imatrix[j] *
 * sqrt(sigma2 + x_j^2), or x_j^2 without one. Blocks with max|x| < 1e-15 get d = 0.
 * Otherwise d starts at max/127, each x/d is mapped to the nearest entry of the table
 * {-127,-104,-83,-65,-49,-35,-22,-10,1,13,25,38,53,69,89,113} (ties to the upper entry)
 * and refit as d = sum(w q x) / sum(w q^2); then 15 inverse scales (itry - 127)/max,
 * itry = -7..7, are tried and the best weighted fit kept. Stored d = fp16(d) and the
 * indices are recomputed from the unrounded 1/d. Dequantize: d * table[index].
 * (ggml's own quantize_row_iq4_nl_ref, which skips the search, is not provided: no
 * llama.cpp tool writes files with it.)
 *
 * Zero blocks never divide by zero (id = d ? 1/d : 0). Inputs are not checked for NaN or
 * Inf; such values give defined but meaningless bytes, as x86-64 llama.cpp would.
 */
#ifndef Q_LEGACY_H
#define Q_LEGACY_H

#include "blocks.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Quantize n floats of x into n/32 blocks at dst (caller-owned, n/32 * sizeof(block_<type>)
 * bytes). imatrix is NULL or [n] importance weights for this one row (see above).
 * Returns 0, or IG_EINVAL (message names the type and n) when n is negative or not a
 * multiple of 32; dst is untouched then. */
int q4_0_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);
int q4_1_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);
int q5_0_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);
int q5_1_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);
int q8_0_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);
int iq4_nl_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);

/* Dequantize n/32 blocks at src into y[n], exactly as ggml's dequantize_row_<type>.
 * n must be a multiple of 32 (the caller sized src from it). */
void q4_0_dequantize_row_ref(const void *src, float *y, int64_t n);
void q4_1_dequantize_row_ref(const void *src, float *y, int64_t n);
void q5_0_dequantize_row_ref(const void *src, float *y, int64_t n);
void q5_1_dequantize_row_ref(const void *src, float *y, int64_t n);
void q8_0_dequantize_row_ref(const void *src, float *y, int64_t n);
void iq4_nl_dequantize_row_ref(const void *src, float *y, int64_t n);

#ifdef __cplusplus
}
#endif

#endif /* Q_LEGACY_H */
