/* safetensors.h — reader for HF safetensors checkpoints, single-file or sharded.
 *
 * Byte layout of one .safetensors file (https://github.com/huggingface/safetensors):
 *   1. u64 little-endian N: length of the JSON header
 *   2. N bytes of UTF-8 JSON: an object mapping each tensor name to
 *      {"dtype": "F32"|"F16"|"BF16"|..., "shape": [d0, d1, ...], "data_offsets": [begin, end]}
 *      plus an optional "__metadata__" object of string -> string
 *   3. the data buffer; offsets are relative to its start (8 + N), end - begin must equal
 *      product(shape) * dtype size, and the tensors must not overlap or leave the file.
 * A sharded checkpoint adds model.safetensors.index.json: {"weight_map": {name: file}}.
 * Every field is checked before use; a failure names the file and the tensor or field.
 */
#ifndef SAFETENSORS_H
#define SAFETENSORS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ST_MAX_DIMS 8

struct st_tensor {
    char *name;                 /* owned */
    int type;                   /* ggml type id: GGML_TYPE_F32, _F16 or _BF16 (and, under
                                 * ST_OPEN_INTEGER_DTYPES, _I32 or _I8 for I8 and U8) */
    const char *dtype;          /* static: the safetensors dtype name, "F16", "U8", ... */
    int n_dims;                 /* 0..ST_MAX_DIMS */
    int64_t shape[ST_MAX_DIMS]; /* PyTorch order: shape[n_dims-1] is contiguous */
    const uint8_t *data;        /* borrowed: into the file's mapping */
    uint64_t size_bytes;
    const char *file;           /* borrowed: path of the file that holds it */
};

struct st_model;

/* Open a checkpoint: path may be a .safetensors file, a model.safetensors.index.json, or
 * a folder holding either (the index wins). Returns 0, or IG_EINVAL (message names the
 * file and field), IG_EIO, IG_ENOMEM; *out is NULL on failure. */
int st_open(struct st_model **out, const char *path);

/* st_open with flags: ST_OPEN_INTEGER_DTYPES also reads I32, I8 and U8 tensors (for the
 * quantized checkpoints of formats/hf_quant.h); without it they are "not supported". */
#define ST_OPEN_INTEGER_DTYPES 1u
int st_open_flags(struct st_model **out, const char *path, unsigned flags);

/* Release mappings and tensors; accepts NULL. */
void st_close(struct st_model *st);

/* Tensors in file order (shards in the order the index first names them), and within one
 * file sorted by name, as safetensors' safe_open().keys() lists them. */
int64_t st_n_tensors(const struct st_model *st);
const struct st_tensor *st_tensor_at(const struct st_model *st, int64_t i);

/* The tensor named name, or NULL. */
const struct st_tensor *st_find(const struct st_model *st, const char *name);

/* Value of key in the first file's "__metadata__", or NULL. */
const char *st_metadata_get(const struct st_model *st, const char *key);

/* Files read (one, or each shard), with their sizes. */
int st_n_files(const struct st_model *st);
const char *st_file_path(const struct st_model *st, int i);
uint64_t st_file_size(const struct st_model *st, int i);

#ifdef __cplusplus
}
#endif

#endif /* SAFETENSORS_H */
