/* quant_type.h — the one table of tensor types ingot can write and read.
 *
 * Each row names a ggml (or ingot extension) type id, its block geometry (which must
 * agree with formats/ggml_type.c) and its scalar reference functions: quantize a row of
 * floats into packed blocks, dequantize packed blocks back into floats. A new type is a
 * new row plus its tests, not a branch at every call site. The float types are here too,
 * so that "convert to F16" and "quantize to Q4_K" are the same operation.
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

struct quant_type {
    int id;                   /* ggml type id */
    const char *name;         /* "F16", "Q4_K", ... */
    int64_t block_elems;
    size_t block_bytes;
    quant_quantize_row_fn quantize_row_ref;
    quant_dequantize_row_fn dequantize_row_ref;
};

/* The row for a type id, or NULL when ingot cannot write or read it. */
const struct quant_type *quant_type_get(int type_id);

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
