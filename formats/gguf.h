/* gguf.h — GGUF v3 reader: parse a memory-mapped file, check every field, expose KVs and
 * tensors as views.
 *
 * Byte layout (ggml/include/gguf.h; all little-endian):
 *   1. magic "GGUF" (4 bytes), u32 version (2 or 3), u64 n_tensors, u64 n_kv
 *   2. n_kv pairs: string key, i32 value type, value. A string is u64 length + bytes (no
 *      NUL). Scalars: u8 i8 u16 i16 u32 i32 f32 bool(1 byte) u64 i64 f64. An array is
 *      i32 element type, u64 count, count elements (no nested arrays).
 *   3. n_tensors infos: string name (< 64 bytes, unique), u32 n_dims (1..4), n_dims x i64
 *      ne (ne[0] contiguous), i32 ggml type, u64 offset relative to the data section.
 *   4. zero padding to general.alignment (u32, a power of two; default 32)
 *   5. the data section: each tensor at its offset (a multiple of the alignment).
 * The parser is one straight run of checks, so it is longer than most functions here.
 */
#ifndef GGUF_H
#define GGUF_H

#include "file_map.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GGUF_MAGIC "GGUF"
#define GGUF_VERSION 3
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_NAME 64
#define GGUF_MAX_DIMS 4

enum gguf_value_type {
    GGUF_VALUE_UINT8 = 0,
    GGUF_VALUE_INT8 = 1,
    GGUF_VALUE_UINT16 = 2,
    GGUF_VALUE_INT16 = 3,
    GGUF_VALUE_UINT32 = 4,
    GGUF_VALUE_INT32 = 5,
    GGUF_VALUE_FLOAT32 = 6,
    GGUF_VALUE_BOOL = 7,
    GGUF_VALUE_STRING = 8,
    GGUF_VALUE_ARRAY = 9,
    GGUF_VALUE_UINT64 = 10,
    GGUF_VALUE_INT64 = 11,
    GGUF_VALUE_FLOAT64 = 12,
    GGUF_VALUE_COUNT = 13,
};

/* A string inside the mapping: not NUL-terminated. */
struct gguf_str {
    const char *data;   /* borrowed: into the mapping */
    uint64_t len;
};

struct gguf_kv {
    struct gguf_str key;
    int type;               /* enum gguf_value_type */
    int elem_type;          /* arrays only */
    uint64_t count;         /* arrays: element count; scalars: 1 */
    const uint8_t *value;   /* borrowed: scalar bytes, or the first array element */
    uint64_t value_bytes;   /* bytes the value occupies in the file */
    const uint64_t *str_offsets;  /* string arrays: [count] offsets from value; owned by the file */
};

struct gguf_tensor_info {
    char name[GGUF_MAX_NAME];
    int n_dims;
    int64_t ne[GGUF_MAX_DIMS];  /* unused dims are 1 */
    int type;                   /* ggml type id */
    uint64_t offset;            /* relative to the data section */
    uint64_t size_bytes;
    const uint8_t *data;        /* borrowed: into the mapping */
};

struct gguf_file;

/* Map and parse path. Returns 0, or IG_EINVAL with a message naming the file and the
 * field ("gguf: m.gguf: tensor 'blk.3.ffn_up.weight': type id 4 was removed from ggml"),
 * IG_EIO, IG_ENOMEM. *out is NULL on failure. */
int gguf_open(struct gguf_file **out, const char *path);

/* Release; accepts NULL. */
void gguf_close(struct gguf_file *g);

const char *gguf_path(const struct gguf_file *g);
uint32_t gguf_version(const struct gguf_file *g);
uint64_t gguf_file_size(const struct gguf_file *g);
uint32_t gguf_alignment(const struct gguf_file *g);
uint64_t gguf_data_offset(const struct gguf_file *g);   /* absolute offset of the data section */

int64_t gguf_n_kv(const struct gguf_file *g);
const struct gguf_kv *gguf_kv_at(const struct gguf_file *g, int64_t i);
/* Index of key, or -1. */
int64_t gguf_find_key(const struct gguf_file *g, const char *key);

int64_t gguf_n_tensors(const struct gguf_file *g);
const struct gguf_tensor_info *gguf_tensor_at(const struct gguf_file *g, int64_t i);
/* Index of the tensor named name, or -1. */
int64_t gguf_find_tensor(const struct gguf_file *g, const char *name);

/* Typed getters for scalar keys. Each returns 0, IG_EINVAL if the key is missing
 * (when required) or stored with another type (message names the key and both types). */
int gguf_get_u32(const struct gguf_file *g, const char *key, uint32_t *out);
int gguf_get_f32(const struct gguf_file *g, const char *key, float *out);
int gguf_get_bool(const struct gguf_file *g, const char *key, bool *out);
/* Copies into a NUL-terminated buffer; a string with a NUL inside or too long fails. */
int gguf_get_str(const struct gguf_file *g, const char *key, char *buf, size_t buf_size);

/* Element i of an array kv (type-checked by the caller through kv->elem_type). */
struct gguf_str gguf_kv_array_str(const struct gguf_kv *kv, uint64_t i);
/* The scalar at p (value or array element) of type t as a double / uint64 (for printing). */
double gguf_scalar_as_f64(int type, const uint8_t *p);

/* Name of a value type ("UINT32"), or "?". */
const char *gguf_value_type_name(int type);
/* Size in bytes of a fixed-size value type, or 0 for STRING/ARRAY/unknown. */
size_t gguf_value_type_size(int type);

struct vocab;
/* Fill v from the tokenizer.ggml.* keys (tokens, scores, token types, merges, special ids
 * and flags). Returns 0 or IG_EINVAL naming the key; v is left initialised on failure. */
int gguf_vocab_read(const struct gguf_file *g, struct vocab *v);

/* ingot.header_xxh3 (UINT64): xxh3-64 of the file's bytes from offset 0 (magic) to the start
 * of the data section (items 1-4 above, padding included), leaving out the bytes of this key's own KV entry (its u64 key
 * length, the 17 key bytes, the i32 type and the u64 value: 37 bytes). ingot writes it as the
 * last KV; a reader finds the entry wherever it is. It covers every key, value and tensor
 * info, so a flipped bit in a token string, a score or the provenance is detected. */
#define GGUF_HEADER_XXH3_KEY "ingot.header_xxh3"
#define GGUF_HEADER_XXH3_ENTRY_BYTES (8 + 17 + 4 + 8)

/* The checksum above over head[0, n) without [skip_begin, skip_end). */
uint64_t gguf_header_xxh3(const uint8_t *head, uint64_t n, uint64_t skip_begin, uint64_t skip_end);

/* Verify ingot.header_xxh3. *present says whether the file has one (llama.cpp's files do
 * not: then 0 is returned). Returns 0, or IG_EINVAL naming the file, both checksums. */
int gguf_check_header_xxh3(const struct gguf_file *g, bool *present);

/* Compare a gguf_str with a C string. */
bool gguf_str_eq(struct gguf_str s, const char *c);

#ifdef __cplusplus
}
#endif

#endif /* GGUF_H */
