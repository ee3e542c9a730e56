/* tensor_f32.h — any source or container tensor as fp32, whatever its type.
 *
 * Float tensors (F32/F16/BF16) go through src_tensor_read_rows_f32 (which also applies the
 * Q/K row permutation of HF llama checkpoints); quantized ones through the type table's
 * reference dequantizer, row by row. convert/, calib/ and verify/ all read weights this way,
 * and model_create takes tensor_fetch_f32 as its fetch callback.
 */
#ifndef MODEL_TENSOR_F32_H
#define MODEL_TENSOR_F32_H

#include "../formats/model_src.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Rows [row0, row0 + n_rows) of t as fp32 into dst ([n_rows][ne[0]]): float types through
 * src_tensor_read_rows_f32 (with HF's Q/K permutation), quantized ones through the type
 * table's dequantizer; rows in parallel (each row by one thread, so the bytes do not depend
 * on the thread count). Returns 0 or IG_EINVAL (the message names file and tensor). */
int tensor_read_rows_f32(const struct src_tensor *t, int64_t row0, int64_t n_rows, float *dst);

/* A model_fetch_fn (model/llama.h) for any source or container tensor: the whole tensor
 * through tensor_read_rows_f32, then every value checked. Returns 0, or IG_EINVAL naming
 * the file, tensor, row and element of the first NaN or Inf. ctx is unused. */
int tensor_fetch_f32(void *ctx, const struct src_tensor *t, float *dst);

/* A model_rows_fn (model/llama.h) for packed weights: rows [row0, row0 + n_rows) through
 * tensor_read_rows_f32, every value checked. Returns 0, or IG_EINVAL naming the file, tensor,
 * row (of the whole tensor) and element of the first NaN or Inf, as tensor_fetch_f32 does.
 * ctx is unused. */
int tensor_rows_f32_checked(void *ctx, const struct src_tensor *t, int64_t row0, int64_t n_rows, float *dst);

#ifdef __cplusplus
}
#endif

#endif /* MODEL_TENSOR_F32_H */
