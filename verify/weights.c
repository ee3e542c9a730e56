/* weights.c — fetch any source or container tensor as fp32 for model/.
 *
 * Float tensors go through src_tensor_read_rows_f32 (which also applies the Q/K row
 * permutation of HF llama checkpoints); quantized ones through the type table's
 * reference dequantizer, row by row.
 */
#include "verify.h"

#include "../common/ig_error.h"
#include "../formats/ggml_type.h"
#include "../quantizers/quant_type.h"

int verify_fetch_f32(void *ctx, const struct src_tensor *t, float *dst)
{
    (void)ctx;
    if (t->type == GGML_TYPE_F32 || t->type == GGML_TYPE_F16 || t->type == GGML_TYPE_BF16)
        return src_tensor_read_rows_f32(t, 0, src_tensor_n_rows(t), dst);
    const struct quant_type *qt = quant_type_get(t->type);
    if (!qt || !qt->dequantize_row_ref)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s' has type %s, which this build cannot dequantize", t->file,
                            t->name, ggml_type_name(t->type));
    const int64_t n_cols = t->ne[0], n_rows = src_tensor_n_rows(t);
    const size_t row_bytes = quant_row_size_bytes(qt, n_cols);
    if ((uint64_t)row_bytes * (uint64_t)n_rows != t->size_bytes)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s': %llu bytes for %lld rows of %zu", t->file, t->name,
                            (unsigned long long)t->size_bytes, (long long)n_rows, row_bytes);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n_rows; r++)
        qt->dequantize_row_ref(t->data + (size_t)r * row_bytes, dst + r * n_cols, n_cols);
    return 0;
}
