/* ggml_type.h — the tensor type ids a GGUF file may carry, with their block geometry.
 *
 * formats/ knows bytes, not math: this table says how many elements a block of each type
 * holds and how many bytes it takes, so a reader can check that a tensor's byte count
 * matches its shape. The quantize/dequantize functions live in quantizers/, whose type
 * table is keyed by these ids (tests/quantizers/test_ext_types.c holds the two equal).
 *
 * Layout facts (ggml/include/ggml.h, ggml-common.h):
 *   1. ids 0..38 are ggml's; 4, 5 (Q4_2, Q4_3), 31..33 (Q4_0_4_4 ...) and 36..38
 *      (IQ4_NL_4_4 ...) were removed and must be rejected.
 *   2. ids from GGML_TYPE_INGOT_BASE (4096) up are ingot's extension types (NF4, asymmetric
 *      INT4/INT8 groups); llama.cpp refuses them. formats/README.md documents their bytes.
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

enum ggml_type_id {
    GGML_TYPE_F32 = 0,
    GGML_TYPE_F16 = 1,
    GGML_TYPE_Q4_0 = 2,
    GGML_TYPE_Q4_1 = 3,
    GGML_TYPE_Q5_0 = 6,
    GGML_TYPE_Q5_1 = 7,
    GGML_TYPE_Q8_0 = 8,
    GGML_TYPE_Q8_1 = 9,
    GGML_TYPE_Q2_K = 10,
    GGML_TYPE_Q3_K = 11,
    GGML_TYPE_Q4_K = 12,
    GGML_TYPE_Q5_K = 13,
    GGML_TYPE_Q6_K = 14,
    GGML_TYPE_Q8_K = 15,
    GGML_TYPE_IQ2_XXS = 16,
    GGML_TYPE_IQ2_XS = 17,
    GGML_TYPE_IQ3_XXS = 18,
    GGML_TYPE_IQ1_S = 19,
    GGML_TYPE_IQ4_NL = 20,
    GGML_TYPE_IQ3_S = 21,
    GGML_TYPE_IQ2_S = 22,
    GGML_TYPE_IQ4_XS = 23,
    GGML_TYPE_I8 = 24,
    GGML_TYPE_I16 = 25,
    GGML_TYPE_I32 = 26,
    GGML_TYPE_I64 = 27,
    GGML_TYPE_F64 = 28,
    GGML_TYPE_IQ1_M = 29,
    GGML_TYPE_BF16 = 30,
    GGML_TYPE_TQ1_0 = 34,
    GGML_TYPE_TQ2_0 = 35,
    GGML_TYPE_COUNT = 39,
    GGML_TYPE_INGOT_BASE = 4096, /* first ingot extension id */
};

struct ggml_type_info {
    int id;
    const char *name;       /* "Q4_K", as llama.cpp prints it */
    int64_t block_elems;    /* elements per block (1 for float types) */
    size_t block_bytes;     /* bytes per block */
};

/* The row for type id, or NULL if the id is unknown or was removed from ggml. */
const struct ggml_type_info *ggml_type_info_get(int type_id);

/* Type id for a name ("F16", "q4_k", case-insensitive), or -1. */
int ggml_type_from_name(const char *name);

/* "Q4_K", or "?" for an unknown id. */
const char *ggml_type_name(int type_id);

/* Bytes taken by n_elems elements of a row of this type. Returns false if the type is
 * unknown, n_elems is not a whole number of blocks, or the size overflows. */
bool ggml_type_row_bytes(int type_id, int64_t n_elems, uint64_t *size_bytes);

#ifdef __cplusplus
}
#endif

#endif /* GGML_TYPE_H */
