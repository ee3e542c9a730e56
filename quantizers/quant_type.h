/* quant_type.h — the one table of tensor types ingot can write and read.
 *
 * Each row names a ggml (or ingot extension) type id, with its name and block geometry taken
 * from that id's line of GGML_TYPE_LIST (formats/ggml_type.h), and its functions: the scalar
 * references that quantize a row of floats into packed blocks and dequantize them back, and,
 * for types GPTQ can round on, the per-element code grid and code store (quant_grid.h). A new
 * type is a new row plus its tests, not a branch at every call site (recipe at the top of
 * quant_type.c). The float types are here too, so that "convert to F16" and "quantize to
 * Q4_K" are the same operation.
 */
#ifndef QUANT_TYPE_H
#define QUANT_TYPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Quantize n floats (a whole number of blocks) of x into dst. imatrix is [n] importance
 * weights or NULL (types that ignore it accept it). Returns 0 or IG_EINVAL. */
typedef int (*quant_quantize_row_fn)(const float *x, void *dst, int64_t n, const float *imatrix);

/* Dequantize n elements of packed src into y. */
typedef void (*quant_dequantize_row_fn)(const void *src, float *y, int64_t n);

struct quant_grid;   /* quant_grid.h */

/* Describe into *g the values element j (0 <= j < block_elems, checked by the caller) of one
 * packed block can take with the block's scales fixed. */
typedef void (*quant_grid_of_fn)(const void *block, int j, struct quant_grid *g);

/* Store code q (inside element j's grid, checked by the caller) for element j of one packed
 * block, leaving every other element and every scale unchanged. */
typedef void (*quant_grid_set_fn)(void *block, int j, int q);

struct quant_type {
    int id;                   /* GGML_TYPE_* */
    const char *name;         /* "F16", "Q4_K", ...: GGML_TYPE_LIST's NAME */
    int64_t block_elems;      /* GGML_BLOCK_ELEMS_<NAME> */
    size_t block_bytes;       /* GGML_BLOCK_BYTES_<NAME> */
    quant_quantize_row_fn quantize_row_ref;   /* NULL: read-only (ingot cannot write it) */
    quant_dequantize_row_fn dequantize_row_ref;
    quant_grid_of_fn grid_of;     /* NULL: GPTQ cannot round on this type (the float types) */
    quant_grid_set_fn grid_set;   /* NULL exactly when grid_of is */
};

/* The row for a type id, or NULL when ingot cannot write or read it. */
const struct quant_type *quant_type_get(int type_id);

/* Row i of the table (i from 0, in table order), or NULL past the last: for walking every
 * type ingot can read (those it can write have quantize_row_ref). */
const struct quant_type *quant_type_at(size_t i);

/* Packed size of a row of n elements (n must be a whole number of blocks). */
size_t quant_row_size_bytes(const struct quant_type *qt, int64_t n);

/* The float-type reference rows (quantizers/float_types.c). */
int f32_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);
void f32_dequantize_row_ref(const void *src, float *y, int64_t n);
int f16_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);
void f16_dequantize_row_ref(const void *src, float *y, int64_t n);
int bf16_quantize_row_ref(const float *x, void *dst, int64_t n, const float *imatrix);
void bf16_dequantize_row_ref(const void *src, float *y, int64_t n);

#ifdef __cplusplus
}
#endif

#endif /* QUANT_TYPE_H */
