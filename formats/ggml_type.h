/* ggml_type.h — the tensor type ids a GGUF file may carry, with their block geometry.
 *
 * formats/ knows bytes, not math: GGML_TYPE_LIST below says, once for the whole program, which
 * ids exist, what they are called, how many elements a block of each type holds and how many
 * bytes it takes, so a reader can check that a tensor's byte count matches its shape. Three
 * places expand it: this header (the GGML_TYPE_<NAME> ids and the GGML_BLOCK_ELEMS_<NAME>,
 * GGML_BLOCK_BYTES_<NAME> constants), ggml_type.c (the lookup table) and the quantizers
 * (quantizers/blocks.h pins each block struct to its line at compile time; quantizers/
 * quant_type.c's rows take their id, name and geometry from it). The quantize/dequantize
 * functions live in quantizers/, which may include this header; formats/ never includes
 * quantizers/.
 *
 * Adding a type: one GGML_TYPE_LIST line here, then one row in quantizers/quant_type.c (the
 * full recipe is at the top of that file and in formats/README.md).
 *
 * Layout facts (ggml/include/ggml.h, ggml-common.h):
 *   1. ids 0..42 are ggml's (39..42, MXFP4, NVFP4, Q1_0, Q2_0, are the newest); 4, 5 (Q4_2, Q4_3), 31..33 (Q4_0_4_4 ...) and 36..38
 *      (IQ4_NL_4_4 ...) were removed and must be rejected (GGML_TYPE_FLAG_REMOVED).
 *   2. ids from GGML_TYPE_INGOT_BASE (4096) up are ingot's extension types (NF4, asymmetric
 *      INT4/INT8 groups; GGML_TYPE_FLAG_INGOT); llama.cpp refuses them. formats/README.md
 *      documents their bytes, quantizers/ext_types.h is their spec.
 *   3. A tensor's row (ne[0] elements) must be a whole number of blocks.
 */
#ifndef GGML_TYPE_H
#define GGML_TYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the list ------------------------------------------------------------------------- */

/* What a type's bytes are; a line's flags are an OR of these (0: plain float or integer
 * elements, one per "block"). */
enum ggml_type_flag {
    GGML_TYPE_FLAG_QUANTIZED = 1 << 0,  /* blocks of codes with their scales */
    GGML_TYPE_FLAG_INGOT = 1 << 1,      /* ingot's extension; llama.cpp refuses it */
    GGML_TYPE_FLAG_REMOVED = 1 << 2,    /* removed from ggml: refused on read, no geometry */
};

/* X(NAME, id, elements per block, bytes per block, flags), one line per type id, in id order.
 * NAME is how llama.cpp prints the type. Removed ids keep their name and number (so nothing
 * reuses them) with geometry 0, 0. Sizes: ggml-common.h's block structs; ingot's from the
 * layouts in quantizers/ext_types.h. */
#define GGML_TYPE_LIST(X)                                                               \
    /* NAME        id     elems  bytes  flags */                                        \
    X(F32,          0,      1,     4,   0)                                              \
    X(F16,          1,      1,     2,   0)                                              \
    X(Q4_0,         2,     32,    18,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(Q4_1,         3,     32,    20,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(Q4_2,         4,      0,     0,   GGML_TYPE_FLAG_REMOVED)                         \
    X(Q4_3,         5,      0,     0,   GGML_TYPE_FLAG_REMOVED)                         \
    X(Q5_0,         6,     32,    22,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(Q5_1,         7,     32,    24,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(Q8_0,         8,     32,    34,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(Q8_1,         9,     32,    36,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(Q2_K,        10,    256,    84,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(Q3_K,        11,    256,   110,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(Q4_K,        12,    256,   144,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(Q5_K,        13,    256,   176,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(Q6_K,        14,    256,   210,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(Q8_K,        15,    256,   292,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(IQ2_XXS,     16,    256,    66,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(IQ2_XS,      17,    256,    74,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(IQ3_XXS,     18,    256,    98,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(IQ1_S,       19,    256,    50,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(IQ4_NL,      20,     32,    18,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(IQ3_S,       21,    256,   110,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(IQ2_S,       22,    256,    82,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(IQ4_XS,      23,    256,   136,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(I8,          24,      1,     1,   0)                                              \
    X(I16,         25,      1,     2,   0)                                              \
    X(I32,         26,      1,     4,   0)                                              \
    X(I64,         27,      1,     8,   0)                                              \
    X(F64,         28,      1,     8,   0)                                              \
    X(IQ1_M,       29,    256,    56,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(BF16,        30,      1,     2,   0)                                              \
    X(Q4_0_4_4,    31,      0,     0,   GGML_TYPE_FLAG_REMOVED)                         \
    X(Q4_0_4_8,    32,      0,     0,   GGML_TYPE_FLAG_REMOVED)                         \
    X(Q4_0_8_8,    33,      0,     0,   GGML_TYPE_FLAG_REMOVED)                         \
    X(TQ1_0,       34,    256,    54,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(TQ2_0,       35,    256,    66,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(IQ4_NL_4_4,  36,      0,     0,   GGML_TYPE_FLAG_REMOVED)                         \
    X(IQ4_NL_4_8,  37,      0,     0,   GGML_TYPE_FLAG_REMOVED)                         \
    X(IQ4_NL_8_8,  38,      0,     0,   GGML_TYPE_FLAG_REMOVED)                         \
    X(MXFP4,       39,     32,    17,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(NVFP4,       40,     64,    36,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(Q1_0,        41,    128,    18,   GGML_TYPE_FLAG_QUANTIZED)                       \
    X(Q2_0,        42,     64,    18,   GGML_TYPE_FLAG_QUANTIZED)                       \
    /* ingot's extension types, from GGML_TYPE_INGOT_BASE */                            \
    X(NF4,       4096,    256,   134,   GGML_TYPE_FLAG_QUANTIZED | GGML_TYPE_FLAG_INGOT) \
    X(NF4_F16,   4097,     64,    34,   GGML_TYPE_FLAG_QUANTIZED | GGML_TYPE_FLAG_INGOT) \
    X(I4_G32,    4098,     32,    20,   GGML_TYPE_FLAG_QUANTIZED | GGML_TYPE_FLAG_INGOT) \
    X(I4_G64,    4099,     64,    36,   GGML_TYPE_FLAG_QUANTIZED | GGML_TYPE_FLAG_INGOT) \
    X(I4_G128,   4100,    128,    68,   GGML_TYPE_FLAG_QUANTIZED | GGML_TYPE_FLAG_INGOT) \
    X(I8_G32,    4101,     32,    36,   GGML_TYPE_FLAG_QUANTIZED | GGML_TYPE_FLAG_INGOT) \
    X(I8_G64,    4102,     64,    68,   GGML_TYPE_FLAG_QUANTIZED | GGML_TYPE_FLAG_INGOT) \
    X(I8_G128,   4103,    128,   132,   GGML_TYPE_FLAG_QUANTIZED | GGML_TYPE_FLAG_INGOT)

/* ---- what the list expands to here ---------------------------------------------------- */

#define GGML_TYPE_X_ID(NAME, id, elems, bytes, flags) GGML_TYPE_##NAME = (id),
#define GGML_TYPE_X_ELEMS(NAME, id, elems, bytes, flags) GGML_BLOCK_ELEMS_##NAME = (elems),
#define GGML_TYPE_X_BYTES(NAME, id, elems, bytes, flags) GGML_BLOCK_BYTES_##NAME = (bytes),

/* GGML_TYPE_F32 = 0 ... GGML_TYPE_I8_G128 = 4103: the one spelling of every type id. */
enum ggml_type_id {
    GGML_TYPE_LIST(GGML_TYPE_X_ID)
    GGML_TYPE_COUNT = 43,        /* ggml's ids are 0 .. GGML_TYPE_COUNT - 1 */
    GGML_TYPE_INGOT_BASE = 4096, /* first ingot extension id */
};

/* GGML_BLOCK_ELEMS_Q4_K = 256, ...: compile-time geometry for static checks and table rows. */
enum ggml_block_elems { GGML_TYPE_LIST(GGML_TYPE_X_ELEMS) };

/* GGML_BLOCK_BYTES_Q4_K = 144, ... */
enum ggml_block_bytes { GGML_TYPE_LIST(GGML_TYPE_X_BYTES) };

/* ---- lookups (ggml_type.c) ------------------------------------------------------------ */

struct ggml_type_info {
    int id;
    const char *name;       /* "Q4_K", as llama.cpp prints it */
    int64_t block_elems;    /* elements per block (1 for float types) */
    size_t block_bytes;     /* bytes per block */
    unsigned flags;         /* GGML_TYPE_FLAG_* */
};

/* The row for type id, or NULL if the id is unknown or was removed from ggml. */
const struct ggml_type_info *ggml_type_info_get(int type_id);

/* The name ("Q4_2") of an id that ggml removed, or NULL for any other id. */
const char *ggml_type_removed_name(int type_id);

/* Type id for a name ("F16", "q4_k", case-insensitive), or -1 (also for removed types). */
int ggml_type_from_name(const char *name);

/* "Q4_K", or "?" for an unknown or removed id. */
const char *ggml_type_name(int type_id);

/* Bytes taken by n_elems elements of a row of this type. Returns false if the type is
 * unknown, n_elems is not a whole number of blocks, or the size overflows. */
bool ggml_type_row_bytes(int type_id, int64_t n_elems, uint64_t *size_bytes);

#ifdef __cplusplus
}
#endif

#endif /* GGML_TYPE_H */
