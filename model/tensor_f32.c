/* weights.c — any source or container tensor as fp32, for model/ and for convert.
 *
 * Float tensors go through src_tensor_read_rows_f32 (which also applies the Q/K row
 * permutation of HF llama checkpoints); quantized ones through the type table's
 * reference dequantizer, row by row.
 */
#include "verify.h"

#include "../common/ig_error.h"
#include "../formats/ggml_type.h"
#include "../quantizers/quant_type.h"

int verify_read_rows_f32(const struct src_tensor *t, int64_t row0, int64_t n_rows, float *dst)
{
    const int64_t n_cols = t->ne[0];
    if (t->type == GGML_TYPE_F32 || t->type == GGML_TYPE_F16 || t->type == GGML_TYPE_BF16) {
        if (t->n_dims == 1 || n_rows < 64)
            return src_tensor_read_rows_f32(t, row0, n_rows, dst);
        int rc = 0;
#pragma omp parallel for schedule(static) reduction(min : rc)
        for (int64_t r = 0; r < n_rows; r += 16) {
            int64_t k = n_rows - r < 16 ? n_rows - r : 16;
            int e = src_tensor_read_rows_f32(t, row0 + r, k, dst + r * n_cols);
            rc = e < rc ? e : rc;
        }
        return rc;
    }
    const struct quant_type *qt = quant_type_get(t->type);
    if (!qt || !qt->dequantize_row_ref)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s' has type %s, which this build cannot dequantize", t->file,
                            t->name, ggml_type_name(t->type));
    const size_t row_bytes = quant_row_size_bytes(qt, n_cols);
    if ((uint64_t)row_bytes * (uint64_t)src_tensor_n_rows(t) != t->size_bytes)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s': %llu bytes for %lld rows of %zu", t->file, t->name,
                            (unsigned long long)t->size_bytes, (long long)src_tensor_n_rows(t), row_bytes);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n_rows; r++)
        qt->dequantize_row_ref(t->data + (size_t)(row0 + r) * row_bytes, dst + r * n_cols, n_cols);
    return 0;
}

int verify_fetch_f32(void *ctx, const struct src_tensor *t, float *dst)
{
    (void)ctx;
    return verify_read_rows_f32(t, 0, src_tensor_n_rows(t), dst);
}
