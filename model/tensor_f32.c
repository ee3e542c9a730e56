/* tensor_f32.c — any source or container tensor as fp32 (see tensor_f32.h). */
#include "tensor_f32.h"

#include "../common/ig_error.h"
#include "../formats/ggml_type.h"
#include "../quantizers/quant_type.h"

#include <math.h>

int tensor_read_rows_f32(const struct src_tensor *t, int64_t row0, int64_t n_rows, float *dst)
{
    /* a third-party quantized linear (formats/hf_quant.h) produces its own rows */
    if (t->read_rows_f32)
        return t->read_rows_f32(t, row0, n_rows, dst);
    const int64_t n_cols = t->ne[0];
    if (t->type == GGML_TYPE_F32 || t->type == GGML_TYPE_F16 || t->type == GGML_TYPE_BF16) {
        if (t->n_dims == 1 || n_rows < 64)
            return src_tensor_read_rows_f32(t, row0, n_rows, dst);
        /* a worker's message would die with its thread: carry the first failing chunk's out */
        struct ig_par_error pe;
        ig_par_error_init(&pe);
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < n_rows; r += 16) {
            if (ig_par_error_skip(&pe, r))
                continue;
            int64_t k = n_rows - r < 16 ? n_rows - r : 16;
            int e = src_tensor_read_rows_f32(t, row0 + r, k, dst + r * n_cols);
            if (e)
                ig_par_error_record(&pe, r, e);
        }
        return ig_par_error_raise(&pe);
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

/* The first NaN or Inf of rows [row0, row0 + n_rows) in dst, named; 0 when all are finite. */
static int check_finite(const struct src_tensor *t, int64_t row0, int64_t n_rows, const float *dst)
{
    const int64_t n_cols = t->ne[0];
    for (int64_t i = 0; i < n_rows * n_cols; i++)
        if (!isfinite(dst[i]))
            return ig_error_set(IG_EINVAL, "%s: tensor '%s': row %lld: element %lld is %s (a weight must be finite)",
                                t->file, t->name, (long long)(row0 + i / n_cols), (long long)(i % n_cols),
                                isnan(dst[i]) ? "NaN" : dst[i] > 0 ? "+Inf" : "-Inf");
    return 0;
}

int tensor_fetch_f32(void *ctx, const struct src_tensor *t, float *dst)
{
    (void)ctx;
    const int64_t n_rows = src_tensor_n_rows(t);
    int rc = tensor_read_rows_f32(t, 0, n_rows, dst);
    /* one NaN or Inf in a weight makes every later activation, and every figure computed
     * from them, NaN: refuse it where the row is still known (a quantized block with a NaN
     * or Inf scale shows here too, after dequantizing) */
    return rc ? rc : check_finite(t, 0, n_rows, dst);
}

int tensor_rows_f32_checked(void *ctx, const struct src_tensor *t, int64_t row0, int64_t n_rows, float *dst)
{
    (void)ctx;
    if (row0 < 0 || n_rows < 0 || row0 + n_rows > src_tensor_n_rows(t))
        return ig_error_set(IG_EINVAL, "%s: tensor '%s': rows %lld..%lld asked of %lld", t->file, t->name,
                            (long long)row0, (long long)(row0 + n_rows), (long long)src_tensor_n_rows(t));
    int rc = tensor_read_rows_f32(t, row0, n_rows, dst);
    return rc ? rc : check_finite(t, row0, n_rows, dst);
}
