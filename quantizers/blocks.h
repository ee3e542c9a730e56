/* blocks.h — the byte layout of every packed ggml block, declared once for C and nvcc.
 *
 * Each struct is exactly ggml's (ggml-common.h); fp16 fields are raw IEEE binary16 bits
 * (ig_half.h converts them). IG_BLOCK_CHECK pins every struct's size and element count to its
 * type's line in formats/ggml_type.h (GGML_TYPE_LIST), so a layout that disagrees with the
 * file format is a compile error, not silent garbage.
 *
 *   Q4_0   d | qs[16]                 low nibble of qs[j] = x[j], high nibble = x[j+16]
 *   Q4_1   d m | qs[16]
 *   Q5_0   d | qh[4] | qs[16]          bit j of qh (little-endian u32) = 5th bit of x[j]
 *   Q5_1   d m | qh[4] | qs[16]
 *   Q8_0   d | qs[32] (int8)
 *   IQ4_NL d | qs[16]                 nibbles index the non-linear table kvalues_iq4nl
 *   Q2_K   scales[16] | qs[64] | d dmin
 *   Q3_K   hmask[32] | qs[64] | scales[12] | d
 *   Q4_K   d dmin | scales[12] | qs[128]
 *   Q5_K   d dmin | scales[12] | qh[32] | qs[128]
 *   Q6_K   ql[128] | qh[64] | scales[16] (int8) | d
 */
#ifndef BLOCKS_H
#define BLOCKS_H

#include "../formats/ggml_type.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK4_NL 32
#define QK_K 256
#define K_SCALE_SIZE 12

typedef uint16_t ig_half;   /* IEEE binary16 bits */

typedef struct {
    ig_half d;
    uint8_t qs[QK4_0 / 2];
} block_q4_0;

typedef struct {
    ig_half d;
    ig_half m;
    uint8_t qs[QK4_1 / 2];
} block_q4_1;

typedef struct {
    ig_half d;
    uint8_t qh[4];
    uint8_t qs[QK5_0 / 2];
} block_q5_0;

typedef struct {
    ig_half d;
    ig_half m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
} block_q5_1;

typedef struct {
    ig_half d;
    int8_t qs[QK8_0];
} block_q8_0;

typedef struct {
    ig_half d;
    uint8_t qs[QK4_NL / 2];
} block_iq4_nl;

typedef struct {
    uint8_t scales[QK_K / 16];  /* low nibble: scale, high nibble: min, per 16 elements */
    uint8_t qs[QK_K / 4];       /* 2-bit quants */
    ig_half d;                  /* super-block scale for the scales */
    ig_half dmin;               /* super-block scale for the mins */
} block_q2_K;

typedef struct {
    uint8_t hmask[QK_K / 8];    /* high bit of each quant */
    uint8_t qs[QK_K / 4];       /* low 2 bits */
    uint8_t scales[12];         /* 16 6-bit scales */
    ig_half d;
} block_q3_K;

typedef struct {
    ig_half d;
    ig_half dmin;
    uint8_t scales[K_SCALE_SIZE];   /* 8 6-bit scales and 8 6-bit mins */
    uint8_t qs[QK_K / 2];
} block_q4_K;

typedef struct {
    ig_half d;
    ig_half dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K;

typedef struct {
    uint8_t ql[QK_K / 2];       /* low 4 bits */
    uint8_t qh[QK_K / 4];       /* high 2 bits */
    int8_t scales[QK_K / 16];   /* 8-bit scales */
    ig_half d;
} block_q6_K;

#ifdef __cplusplus
#define IG_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define IG_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

/* Pin block struct block_t, holding elems elements, to type NAME's line in GGML_TYPE_LIST. */
#define IG_BLOCK_CHECK(block_t, NAME, elems)                                                \
    IG_STATIC_ASSERT(sizeof(block_t) == GGML_BLOCK_BYTES_##NAME &&                          \
                         (elems) == GGML_BLOCK_ELEMS_##NAME,                                \
                     #block_t " does not match " #NAME " in formats/ggml_type.h")

IG_BLOCK_CHECK(block_q4_0, Q4_0, QK4_0);
IG_BLOCK_CHECK(block_q4_1, Q4_1, QK4_1);
IG_BLOCK_CHECK(block_q5_0, Q5_0, QK5_0);
IG_BLOCK_CHECK(block_q5_1, Q5_1, QK5_1);
IG_BLOCK_CHECK(block_q8_0, Q8_0, QK8_0);
IG_BLOCK_CHECK(block_iq4_nl, IQ4_NL, QK4_NL);
IG_BLOCK_CHECK(block_q2_K, Q2_K, QK_K);
IG_BLOCK_CHECK(block_q3_K, Q3_K, QK_K);
IG_BLOCK_CHECK(block_q4_K, Q4_K, QK_K);
IG_BLOCK_CHECK(block_q5_K, Q5_K, QK_K);
IG_BLOCK_CHECK(block_q6_K, Q6_K, QK_K);

#ifdef __cplusplus
}
#endif

#endif /* BLOCKS_H */
