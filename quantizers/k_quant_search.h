/* k_quant_search.h — the scale searches and bit packing shared by the k-quant types.
 *
 * These are the building blocks of ggml's k-quants (ggml/src/ggml-quants.c): given a
 * short group of floats (16 or 32), each search picks integer codes L and a scale (and,
 * for the asymmetric types, a min) that minimise a weighted error. q2_k.c … q6_k.c call
 * them once per sub-block and once more on the vector of sub-block scales.
 *
 * Bit-exactness contract: every routine reproduces llama.cpp's float32 arithmetic in
 * source order (sequential sums from i = 0, no FMA contraction, round-half-to-even via
 * kq_nearest_int), including its integer wrap-arounds on stores into uint8_t/int8_t, so
 * the packed bytes equal llama-quantize's. Do not "simplify" an expression here without
 * re-running the golden tests in tests/quantizers/test_k_quants.c.
 * The bodies, the rounding kq_nearest_int and the enums live in k_quant_search_block.h
 * (host and device); the functions below are their exported C names.
 */
#ifndef K_QUANT_SEARCH_H
#define K_QUANT_SEARCH_H

#include "k_quant_search_block.h"

#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Symmetric signed scale (ggml make_qx_quants). x is [n]; L receives [n] codes in
 * 0 .. 2*nmax-1 (code c stands for c - nmax). Weights: qw[i] when qw != NULL, otherwise
 * by rmse_type: 1 -> x^2, 2 -> 1, 3 -> |x|, else sqrt|x|; rmse_type 0 is plain rounding,
 * a negative rmse_type returns early after the first fit. Tries 19 inverse scales
 * -(nmax + 0.1 k)/max, k = -9..9, keeping the best weighted least-squares fit.
 * Returns the scale (value = scale * (L - nmax)); 0 with L = 0 for an all-zero group. */
float kq_make_qx_quants(int n, int nmax, const float *x, int8_t *L, int rmse_type,
                        const float *qw);

/* Symmetric scale with coordinate descent (ggml make_q3_quants; Q3_K without imatrix).
 * Weights are x^2. L receives [n] codes in 0 .. 2*nmax-1. Returns the scale; 0 with
 * L = 0 for an all-zero group. */
float kq_make_q3_quants(int n, int nmax, const float *x, int8_t *L, enum kq_refine refine);

/* Asymmetric scale and min (ggml make_qkx2_quants). x, w are [n] (w required); L and
 * Laux are [n] scratch/output codes in 0..nmax. Tries inverse scales
 * (rmin + rdelta * k + nmax)/(max - min) for k = 0..nstep, refitting scale and min by
 * weighted least squares each time. *the_min receives -min (>= 0), so that
 * x ~= scale * L - *the_min. Returns the scale; 0 when the group is constant. */
float kq_make_qkx2_quants(int n, int nmax, const float *x, const float *w, uint8_t *L,
                          float *the_min, uint8_t *Laux, float rmin, float rdelta,
                          int nstep, enum kq_error err);

/* As kq_make_qkx2_quants (ggml make_qkx3_quants), but w may be NULL (then w = x^2) and
 * candidate codes are computed so that an out-of-range product clamps instead of
 * overflowing. Used by every k-quant with an importance matrix. */
float kq_make_qkx3_quants(int n, int nmax, const float *x, const float *w, uint8_t *L,
                          float *the_min, uint8_t *Laux, float rmin, float rdelta,
                          int nstep, enum kq_error err);

/* Scale for a non-negative vector (ggml make_qp_quants), used on the sub-block scales and
 * mins with an importance matrix. x, w are [n]; L receives [n] codes in 0..nmax (values
 * outside 0..nmax wrap as ggml's uint8_t stores do). Returns the scale; 0 with L = 0 when
 * max(x) < KQ_GROUP_MAX_EPS. */
float kq_make_qp_quants(int n, int nmax, const float *x, uint8_t *L, const float *w);

/* Check a row length for a k-quant: returns 0 when n >= 0 is a whole number of 256-element
 * super-blocks, otherwise records "<fn>: <type> row length <n> is not a multiple of 256"
 * and returns IG_EINVAL. */
int kq_check_row_length(const char *fn, const char *type_name, int64_t n);

/* Q4_K/Q5_K: store 6-bit scale ls and 6-bit min lm of sub-block j (0..7) into the 12-byte
 * scales array. Call for j = 0..7 in order: j < 4 assigns bytes j and j+4, j >= 4 ORs its
 * top bits into them and assigns byte j+4 (ggml's layout):
 *   bytes 0-3:  scale j   (bits 0-5) | top 2 bits of scale j+4 (bits 6-7)
 *   bytes 4-7:  min j     (bits 0-5) | top 2 bits of min j+4   (bits 6-7)
 *   bytes 8-11: low 4 bits of scale j+4 (bits 0-3) | low 4 bits of min j+4 (bits 4-7) */
void kq_pack_scale_min_k4(int j, uint8_t ls, uint8_t lm, uint8_t *scales);

/* Q4_K/Q5_K: read back scale *sc and min *m of sub-block j (ggml get_scale_min_k4). */
void kq_get_scale_min_k4(int j, const uint8_t *scales, uint8_t *sc, uint8_t *m);

/* Q3_K: OR the 6-bit code l (0..63) of sub-block j (0..15) into the zeroed 12-byte array:
 *   low 4 bits:  j < 8 -> scales[j] bits 0-3;  j >= 8 -> scales[j-8] bits 4-7
 *   high 2 bits: scales[8 + j%4] bits 2*(j/4) .. 2*(j/4)+1 */
void kq_pack_q3_scale(int j, int l, uint8_t *scales);

/* Q3_K: the signed scale of sub-block j, code - 32 (-32..31). */
int kq_get_q3_scale(int j, const uint8_t *scales);

/* Q2_K/Q3_K: pack 256 2-bit codes L[e] (0..3) into 64 bytes. Each 32-byte half h holds
 * elements 128h .. 128h+127 as four bit planes: byte qs[32h + l] has element 128h + l in
 * bits 0-1, +32 in bits 2-3, +64 in bits 4-5, +96 in bits 6-7. */
void kq_pack_2bit(const uint8_t *L, uint8_t *qs);

#ifdef __cplusplus
}
#endif

#endif /* K_QUANT_SEARCH_H */
