/* q8_dot.h — llama.cpp's CPU arithmetic for quantized weights, with bits of its own that do not
 * depend on the thread count, the tiling or AVX2: `ingot verify --matmul q8`.
 *
 * ggml's CPU backend multiplies a k-quant weight by activations it first rounds to Q8_K
 * (quantize_row_q8_K: per block of 256, the element of largest magnitude `max` (with its sign),
 * iscale = −127/max, q = min(127, nearest_int(iscale·x)), d = 1/iscale, bsums = the codes summed
 * per 16), then takes exact integer dot products per sub-block (vec_dot_q4_K_q8_K, ...) and
 * combines them in float. Here each weight block is first expanded to one common form, exact
 * integers only (q8x_wblock below):
 *     w_i = dS·S[g]·q_i − dM·M[g],   q_i unsigned codes, g = i / 16 (the 16-element group),
 * and an output Y[t][j] is one float chain over the blocks b = 0 .. k/256 − 1 of the row, in order:
 *     I_b = Σ_g S[g]·Σ_{i in g} q_i·x8_i   (− Σ_g M[g]·bsum_g when the type folds its offset
 *                                            into the integers: Q6_K's −32)          (int32, exact)
 *     J_b = Σ_g M[g]·bsum_g                 (types with a separate dmin: Q4_K, Q5_K; else 0)
 *     acc = (acc + (dS·d8)·(float)I_b) − (dM·d8)·(float)J_b,     from acc = +0, no fma
 * then Y = acc (+ bias). The integers are what ggml computes; only the float order is ours
 * (ggml's AVX2 and scalar paths differ from each other there too). Two SIMD kernels compute
 * the same integers and run the float chain per lane with the same operations, so their bits
 * equal q8_matmul_ref's: AVX2 (maddubs, then madd by the group scales, 4 weight rows x 2
 * activation rows) and AVX-512 VNNI (16 weight rows interleaved into the lanes of a vector,
 * vpdpbusd against activation codes broadcast, so no horizontal sums; used when the CPU has it).
 *
 * Types: Q4_K, Q5_K, Q6_K (Q8_K activations); Q4_0, Q5_0, Q8_0 (Q8_0 activations, rounded as
 * ggml's CPU backend rounds them: per block of 32, d = amax/127 stored as fp16, codes
 * round-half-even(x·127/amax); then per block I = Σ w·x8 and acc = acc + (dw·dx)·(float)I, which
 * is ggml's own scalar order). Weight rows are the GGUF bytes (blocks in order).
 * A weight whose fp16 scale is Inf or NaN is refused (the fp32 path refuses the non-finite
 * values it dequantizes to); an activation block holding a NaN or Inf quantizes to d = NaN, so
 * the outputs it touches are NaN, as they would be in fp32.
 */
#ifndef Q8_DOT_H
#define Q8_DOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ggml type ids (GGUF's numbers, formats/ggml_type.h) of the weight types with a kernel. */
#define Q8_WTYPE_Q4_0 2
#define Q8_WTYPE_Q5_0 6
#define Q8_WTYPE_Q8_0 8
#define Q8_WTYPE_Q4_K 12
#define Q8_WTYPE_Q5_K 13
#define Q8_WTYPE_Q6_K 14

#define Q8_QK 256   /* elements per super-block (QK_K) */

/* ggml's block_q8_K, byte for byte: 292 bytes. */
typedef struct {
    float d;                 /* 1 / iscale, 0 for an all-zero block */
    int8_t qs[Q8_QK];        /* codes, −127 .. 127 */
    int16_t bsums[Q8_QK / 16];   /* codes summed per 16 */
} q8k_block;
_Static_assert(sizeof(q8k_block) == 292, "block_q8_K is 292 bytes");

/* ggml's block_q8_0 (34 bytes): the activations of the 32-element types. */
typedef struct {
    uint16_t d;              /* fp16 bits */
    int8_t qs[32];
} q80_block;
_Static_assert(sizeof(q80_block) == 34, "block_q8_0 is 34 bytes");

/* One weight super-block expanded (see the formula above). */
typedef struct {
    uint8_t q[Q8_QK];        /* unsigned codes in element order (0..15, 0..31, 0..63) */
    int16_t s[8][16];        /* per 32-element sub-block: S of its two groups, each 8 times
                              * (the 16 int16 lanes of maddubs' output over those 32 elements) */
    int16_t m[16];           /* M[g] per group of 16 */
    float d_s, d_m;          /* dS, dM (0 when the offset is folded into I) */
    int32_t fold;            /* 1: I −= Σ M·bsum (Q6_K), 0: J = Σ M·bsum (Q4_K, Q5_K) */
} q8x_wblock;

/* Which kernel q8_matmul runs where det_simd_active() allows SIMD (tests force each; the bits
 * are the same): AUTO takes the AVX-512 (F, BW, VL, VNNI) one when the CPU has it, else AVX2. */
enum q8_simd {
    Q8_SIMD_AUTO = 0,
    Q8_SIMD_AVX2 = 1,
};
void q8_simd_set(enum q8_simd mode);

/* True when weights of ggml type `type` have a kernel here. */
bool q8_matmul_supports(int32_t type);

/* Bytes of one weight row of k elements of `type`, or 0 when unsupported or k is not whole blocks
 * (256 for the k-quants, 32 for the others). */
size_t q8_row_size_bytes(int32_t type, int64_t k);

/* quantize_row_q8_K: x [k] (k a multiple of 256) into k/256 blocks of y. */
void q8k_quantize_row_ref(const float *x, q8k_block *y, int64_t k);

/* The same bytes, with AVX2 when det_simd_active(). */
void q8k_quantize_row(const float *x, q8k_block *y, int64_t k);

/* ggml's CPU rounding of x [k] (k a multiple of 32) to Q8_0 blocks (a NaN or Inf in a block: d
 * NaN, codes 0). */
void q80_quantize_row_ref(const float *x, q80_block *y, int64_t k);

/* Expand k-quant block `b` of a packed weight of `type` (b bytes into its row) into e. Returns 0,
 * or IG_EINVAL when a scale is Inf or NaN (the message says which; the caller adds the tensor). */
int q8x_expand_block(int32_t type, const uint8_t *b, q8x_wblock *e);

/* Y[t][j] (t < n, j < m) = the chain above of X's row t (quantized to Q8_K or Q8_0) and weight
 * row j (W: m rows of q8_row_size_bytes(type, k), packed), plus bias[j] when not NULL. Uses a
 * SIMD kernel when det_simd_active(), OpenMP over tiles of weight rows; the bits do not depend
 * on either. Returns 0; IG_EINVAL (type unsupported, k not whole blocks, a non-finite weight
 * scale: the lowest such row is named, "row R, block B", whatever the thread count); IG_ENOMEM. */
int q8_matmul(const float *X, int64_t n, int64_t k, int32_t type, const void *W, int64_t m, const float *bias,
              float *Y);

/* The same figures in plain scalar loops on one thread (the definition the tests compare with). */
int q8_matmul_ref(const float *X, int64_t n, int64_t k, int32_t type, const void *W, int64_t m, const float *bias,
                  float *Y);

#ifdef __cplusplus
}
#endif

#endif /* Q8_DOT_H */
