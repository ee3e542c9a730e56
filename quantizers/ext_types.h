/* ext_types.h — ingot's extension tensor types: NF4 (bitsandbytes) and asymmetric INT4/INT8
 * groups (GPTQ/AWQ), with the byte layout of each block; this header is their spec.
 *
 * ggml has neither, so they take type ids from GGML_TYPE_INGOT_BASE (4096) up; llama.cpp
 * refuses files that use them. Their ids (GGML_TYPE_NF4 ... GGML_TYPE_I8_G128) and block
 * geometry are lines of GGML_TYPE_LIST in formats/ggml_type.h, which sizes tensors without
 * knowing the math; the structs below are pinned to those lines. Each type has a scalar
 * reference quantize and dequantize with the signatures of quant_type.h. All multi-byte
 * fields are little-endian; "fp16" is IEEE binary16 bits.
 *
 * NF4 code table (bitsandbytes functional.py get_4bit_type("nf4"), normalised by max |v|):
 *   index  0..7:  -1.0, -0.6961928, -0.5250731, -0.3949175, -0.2844414, -0.1847734,
 *                 -0.0910500, 0.0
 *   index 8..15:  0.0795803, 0.1609302, 0.2461123, 0.3379152, 0.4407098, 0.5626170,
 *                 0.7229568, 1.0           (nf4_code below holds the full fp32 values)
 *
 * 1. NF4 (id 4096): 256 weights = 4 bitsandbytes blocks of 64 ("sub-blocks") that share one
 *    fp16 super-scale; 134 bytes, 4.1875 bits per weight.
 *      bytes 0..1    d          fp16: the largest of the 4 sub-block absmax values, rounded
 *                               to nearest
 *      bytes 2..5    scales[4]  uint8: sub-block s has absmax ~ d * scales[s] / 255
 *      bytes 6..133  qs[128]    NF4 code indices; sub-block s owns qs[32 s .. 32 s + 31]
 *    Byte qs[32 s + i] holds element 64 s + 2i in its HIGH nibble and 64 s + 2i + 1 in its
 *    LOW nibble (bitsandbytes' packing):
 *        bit  7 6 5 4 | 3 2 1 0
 *             x[2i]   | x[2i+1]
 *    Dequantize: a_s = (d * scales[s]) / 255 (d * scales[s] is exact; one rounding), then
 *    y = nf4_code[k] * a_s.
 * 2. NF4_F16 (id 4097): one bitsandbytes block of 64 weights without double quantization;
 *    34 bytes, 4.25 bits per weight.
 *      bytes 0..1    d          fp16: the block's absmax, rounded to nearest
 *      bytes 2..33   qs[32]     as in NF4: element 2i high nibble, 2i + 1 low nibble
 *    Dequantize: y = nf4_code[k] * d.
 * 3. I4_G32, I4_G64, I4_G128 (ids 4098..4100): one group of G consecutive elements of a row;
 *    4 + G/2 bytes (20, 36, 68), 4 + 32/G bits per weight (5.0, 4.5, 4.25).
 *      bytes 0..1    d          fp16 scale
 *      byte  2       zero       uint8 zero point 0..15, the true zero (GPTQ "v2" / AWQ: no
 *                               v1 "-1" offset)
 *      byte  3       reserved   written 0, ignored on read (keeps blocks 2-byte aligned)
 *      bytes 4..     qs[G/2]    byte i holds element 2i in its LOW nibble and 2i + 1 in its
 *                               HIGH nibble (GPTQ's LSB-first order; the opposite of NF4):
 *        bit  7 6 5 4 | 3 2 1 0
 *             x[2i+1] | x[2i]
 *    Dequantize: y = (q - zero) * d.
 * 4. I8_G32, I8_G64, I8_G128 (ids 4101..4103): as 3 with uint8 codes 0..255 and zero 0..255;
 *    4 + G bytes (36, 68, 132), 8 + 32/G bits per weight (9.0, 8.5, 8.25).
 *
 * Quantization rules (the reference functions below define the bytes):
 *   NF4: per 64-block, absmax = max |x| in fp32; codes = bitsandbytes' dQuantizeNF4 decision
 *   tree applied to x * (1.0f / absmax) (kQuantizeBlockwise's arithmetic), so the nibbles
 *   equal bitsandbytes' packed weight for the same block. An all-zero block gets code 7
 *   (0.0) in every nibble: bitsandbytes computes 0 * (1/0) = NaN there and stores code 0.
 *   NF4 scales[s] = round-half-even(absmax_s / D * 255) with D = fp16 value of d (0 if
 *   D = 0). This is ingot's own double quantization, not bitsandbytes' (which subtracts a
 *   tensor-wide mean and codes 256 absmax values per fp32 nested scale with its 8-bit
 *   dynamic map): a GGUF row must be whole, self-contained blocks.
 *   INT groups (AutoGPTQ Quantizer.find_params, asymmetric): min = min(0, min x),
 *   max = max(0, max x) (the range is widened to include 0); s = (max - min) / maxq with
 *   maxq = 2^bits - 1; a zero range (s == 0: an all-zero group, or a range so small that s
 *   underflows) becomes min = -1, max = +1 as in AutoGPTQ. d = the smallest fp16 >= s (so
 *   the grid covers [min, max] and every error is <= d/2), zero = clamp(rne(-min / d), 0,
 *   maxq), q = clamp(rne(x / d) + zero, 0, maxq), with rne = round half to even
 *   (torch.round).
 *   Every type rejects NaN and Inf with IG_EINVAL, and a scale beyond fp16 (65504).
 *   The importance matrix is ignored.
 */
#ifndef EXT_TYPES_H
#define EXT_TYPES_H

#include "blocks.h"

#include "../formats/ggml_type.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- block layouts ---------------------------------------------------------------------- */

#define QK_NF4 64            /* weights per bitsandbytes block (blocksize=64) */
#define QK_NF4_SUPER 256     /* weights per NF4 super-block: 4 blocks of 64 */

typedef struct {
    ig_half d;                             /* largest sub-block absmax, fp16 */
    uint8_t scales[QK_NF4_SUPER / QK_NF4]; /* sub-block absmax ~ d * scales[s] / 255 */
    uint8_t qs[QK_NF4_SUPER / 2];          /* [4][32]: high nibble = even element */
} block_nf4;

typedef struct {
    ig_half d;                             /* absmax, fp16 */
    uint8_t qs[QK_NF4 / 2];                /* high nibble = even element */
} block_nf4_f16;

/* INT groups: d | zero | reserved | qs. One struct per group size pins each size. */
#define INT_GROUP_HEAD_BYTES 4

typedef struct {
    ig_half d;
    uint8_t zero;
    uint8_t reserved;
    uint8_t qs[32 / 2];                    /* low nibble = even element */
} block_i4_g32;

typedef struct {
    ig_half d;
    uint8_t zero;
    uint8_t reserved;
    uint8_t qs[64 / 2];
} block_i4_g64;

typedef struct {
    ig_half d;
    uint8_t zero;
    uint8_t reserved;
    uint8_t qs[128 / 2];
} block_i4_g128;

typedef struct {
    ig_half d;
    uint8_t zero;
    uint8_t reserved;
    uint8_t qs[32];
} block_i8_g32;

typedef struct {
    ig_half d;
    uint8_t zero;
    uint8_t reserved;
    uint8_t qs[64];
} block_i8_g64;

typedef struct {
    ig_half d;
    uint8_t zero;
    uint8_t reserved;
    uint8_t qs[128];
} block_i8_g128;

IG_BLOCK_CHECK(block_nf4, NF4, QK_NF4_SUPER);
IG_BLOCK_CHECK(block_nf4_f16, NF4_F16, QK_NF4);
IG_BLOCK_CHECK(block_i4_g32, I4_G32, 32);
IG_BLOCK_CHECK(block_i4_g64, I4_G64, 64);
IG_BLOCK_CHECK(block_i4_g128, I4_G128, 128);
IG_BLOCK_CHECK(block_i8_g32, I8_G32, 32);
IG_BLOCK_CHECK(block_i8_g64, I8_G64, 64);
IG_BLOCK_CHECK(block_i8_g128, I8_G128, 128);

/* ---- registration and shared checks (ext_types.c) --------------------------------------- */

/* Argument checks shared by nf4.c and int_group.c: 0 when n is a non-negative multiple of
 * block_elems and every x[j] is finite; otherwise records "<fn>: <type_name>: ..." naming
 * the length or the first non-finite element (index and value) and returns IG_EINVAL. */
int quant_ext_check_row(const char *fn, const char *type_name, const float *x, int64_t n,
                        int64_t block_elems);

/* ---- NF4 (nf4.c) ------------------------------------------------------------------------ */

/* [16] the NF4 code values, ascending; index 7 is exactly 0. */
extern const float nf4_code[16];

/* The NF4 code index (0..15) that bitsandbytes' dQuantizeNF4 decision tree gives for x, a
 * weight already multiplied by 1/absmax. A value exactly on a midpoint goes to the LOWER
 * index (the tree tests x > midpoint); NaN gives 0, as the tree does. */
int nf4_code_index(float x);

/* NF4 with double quantization. x: [n], n a multiple of 256; dst: n / 256 block_nf4
 * (caller-owned). Returns 0, or IG_EINVAL (length, a non-finite x, or a largest absmax
 * that rounds past fp16's 65504). imatrix is ignored. */
int nf4_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);

/* src: n / 256 block_nf4; y: [n] (n a multiple of 256). */
void nf4_dequantize_row_ref(const void *src, float *y, int64_t n);

/* NF4 without double quantization. x: [n], n a multiple of 64; dst: n / 64 block_nf4_f16.
 * Returns 0, or IG_EINVAL as nf4_quantize_row_ref. imatrix is ignored. */
int nf4_f16_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);

/* src: n / 64 block_nf4_f16; y: [n] (n a multiple of 64). */
void nf4_f16_dequantize_row_ref(const void *src, float *y, int64_t n);

/* ---- asymmetric INT groups (int_group.c) ------------------------------------------------ */

/* Bytes of one group block: INT_GROUP_HEAD_BYTES + group * bits / 8. */
size_t int_group_block_bytes(int64_t group, int bits);

/* The scale and zero of one group x: [group] by the rule at the top of this header (what a
 * GPTQ solver uses to fix a group's grid before quantizing its columns). *d: fp16 bits;
 * *zero: 0 .. 2^bits - 1. Returns 0, or IG_EINVAL when x holds NaN or Inf or the scale
 * rounds past 65504, or group and bits as int_group_quantize_row_ref refuses. */
int int_group_params(const float *x, int64_t group, int bits, ig_half *d, uint8_t *zero);

/* Quantize x: [n] (n a multiple of group) into n / group blocks of
 * int_group_block_bytes(group, bits) bytes at dst (caller-owned). bits is 4 or 8 and group
 * even (the table uses 32, 64, 128). Returns 0 or IG_EINVAL (length, non-finite x, a scale
 * past fp16, or another group/bits). */
int int_group_quantize_row_ref(const float *x, void *dst, int64_t n, int64_t group, int bits);

/* Dequantize n elements (n a multiple of group) of blocks written by the function above;
 * group and bits must be what it accepted (asserted). */
void int_group_dequantize_row_ref(const void *src, float *y, int64_t n, int64_t group, int bits);

/* The six table entries: int_group_*_row_ref with a fixed group and bits. */
int i4_g32_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);
void i4_g32_dequantize_row_ref(const void *src, float *y, int64_t n);
int i4_g64_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);
void i4_g64_dequantize_row_ref(const void *src, float *y, int64_t n);
int i4_g128_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);
void i4_g128_dequantize_row_ref(const void *src, float *y, int64_t n);
int i8_g32_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);
void i8_g32_dequantize_row_ref(const void *src, float *y, int64_t n);
int i8_g64_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);
void i8_g64_dequantize_row_ref(const void *src, float *y, int64_t n);
int i8_g128_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);
void i8_g128_dequantize_row_ref(const void *src, float *y, int64_t n);

#ifdef __cplusplus
}
#endif

#endif /* EXT_TYPES_H */
