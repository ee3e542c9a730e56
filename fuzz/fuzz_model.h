/* fuzz_model.h — the walk over an accepted model_src that the model harnesses share
 * (fuzz/ only; include after formats/model_src.h).
 *
 * What model_src.h promises of a source that model_src_open accepted, checked tensor by
 * tensor: names unique and found again, 1..4 dimensions, every byte of every view readable,
 * every row of a float tensor readable through src_tensor_read_rows_f32 (an unpermuted F32
 * row must come back bit for bit), out-of-range rows refused, and model_src_check still
 * passing. Quantized tensors are refused by that function (quantizers/ dequantizes them),
 * which must be a status, not a crash; a harness that defines FUZZ_DEQUANT before including
 * this (and links model/tensor_f32.c and quantizers/) also reads their rows through
 * tensor_read_rows_f32, the type table's reference dequantizers.
 */
#ifndef FUZZ_MODEL_H
#define FUZZ_MODEL_H

#include "formats/ggml_type.h"
#include "formats/model_src.h"
#include "fuzz/fuzz_util.h"

#ifdef FUZZ_DEQUANT
#include "model/tensor_f32.h"
#endif

#define FUZZ_ROWS_PER_READ 16

static inline bool fuzz_is_float(int type)
{
    return type == GGML_TYPE_F32 || type == GGML_TYPE_F16 || type == GGML_TYPE_BF16;
}

/* Every row of t, FUZZ_ROWS_PER_READ at a time. */
static inline void fuzz_read_rows(const struct src_tensor *t)
{
    const int64_t n_cols = t->ne[0], n_rows = src_tensor_n_rows(t);
    const size_t elem = t->type == GGML_TYPE_F32 ? 4 : 2;
    if (n_cols <= 0 || n_rows <= 0 || (uint64_t)n_cols * (uint64_t)n_rows * elem != t->size_bytes)
        __builtin_trap();   /* a float view is exactly its shape */
    float *dst = malloc((size_t)n_cols * FUZZ_ROWS_PER_READ * sizeof *dst);
    if (!dst)
        return;
    for (int64_t r = 0; r < n_rows; r += FUZZ_ROWS_PER_READ) {
        int64_t k = n_rows - r < FUZZ_ROWS_PER_READ ? n_rows - r : FUZZ_ROWS_PER_READ;
        if (src_tensor_read_rows_f32(t, r, k, dst) != 0)
            __builtin_trap();
        if (t->type == GGML_TYPE_F32 && t->permute_n_head == 0 &&
            memcmp(dst, t->data + (size_t)r * (size_t)n_cols * 4, (size_t)k * (size_t)n_cols * 4) != 0)
            __builtin_trap();
    }
    if (src_tensor_read_rows_f32(t, n_rows, 1, dst) == 0 || src_tensor_read_rows_f32(t, -1, 1, dst) == 0)
        __builtin_trap();
    free(dst);
}

/* Every row of a quantized t through the type table (FUZZ_DEQUANT only): a type this build
 * cannot dequantize, or a size that is not whole rows, is a status. */
static inline void fuzz_dequant_rows(const struct src_tensor *t)
{
#ifdef FUZZ_DEQUANT
    const int64_t n_cols = t->ne[0], n_rows = src_tensor_n_rows(t);
    if (n_cols <= 0 || n_cols > ((int64_t)1 << 24))
        return;   /* the reader's business; here only the buffer's size */
    float *dst = malloc((size_t)n_cols * FUZZ_ROWS_PER_READ * sizeof *dst);
    if (!dst)
        return;
    for (int64_t r = 0; r < n_rows; r += FUZZ_ROWS_PER_READ) {
        int64_t k = n_rows - r < FUZZ_ROWS_PER_READ ? n_rows - r : FUZZ_ROWS_PER_READ;
        if (tensor_read_rows_f32(t, r, k, dst) != 0)
            break;
    }
    free(dst);
#else
    (void)t;
#endif
}

static inline void fuzz_model_walk(const struct model_src *src)
{
    float one;
    if (!src || src->n_tensors < 1 || src->vocab.n_tokens != src->hp.n_vocab)
        __builtin_trap();
    for (int64_t i = 0; i < src->n_tensors; i++) {
        const struct src_tensor *t = &src->tensors[i];
        if (!memchr(t->name, 0, sizeof t->name) || model_src_find(src, t->name) != t)
            __builtin_trap();
        if (t->n_dims < 1 || t->n_dims > 4 || !t->file)
            __builtin_trap();
        for (int d = 0; d < 4; d++)
            if (t->ne[d] < 1)
                __builtin_trap();
        fuzz_touch(t->data, t->size_bytes);
        if (fuzz_is_float(t->type))
            fuzz_read_rows(t);
        else if (src_tensor_read_rows_f32(t, 0, 1, &one) == 0)
            __builtin_trap();
        else
            fuzz_dequant_rows(t);
    }
    if (model_src_check(src) != 0)
        __builtin_trap();
}

#endif /* FUZZ_MODEL_H */
