/* gguf_write.h — streaming GGUF v3 writer with per-tensor xxh3-64 and atomic replace.
 *
 * Use, in this order:
 *   1. gguf_writer_open(OUT): checks OUT and creates its temporary (out_file.h: O_EXCL,
 *      O_NOFOLLOW, stale temporaries of dead processes removed).
 *   2. gguf_writer_add_*: metadata KVs, kept in memory and written in the order added.
 *   3. gguf_writer_add_tensor: tensor infos (name, shape, type) in file order.
 *   4. gguf_writer_begin_data: appends the checksum arrays (see below), writes the header,
 *      KVs, tensor infos and padding.
 *   5. per tensor, in info order: gguf_writer_write (any number of chunks), then
 *      gguf_writer_end_tensor, which checks the byte count and pads to the alignment.
 *   6. gguf_writer_finish: patches the checksums, fsyncs, renames over OUT, fsyncs the folder.
 *   On any failure call gguf_writer_abort, which removes the temporary file; OUT is then
 *   untouched (a previous OUT stays as it was).
 * Checksums: with GGUF_WRITER_CHECKSUMS, begin_data appends "ingot.tensor_xxh3" (ARRAY of
 * UINT64, one per tensor in info order, xxh3-64 of its data bytes without padding) as a
 * zero-filled placeholder and finish writes the values in place, so the data never needs
 * a second pass. gguf_writer_add_u64_placeholder reserves other such arrays. Last of all it
 * appends ingot.header_xxh3 (gguf.h), the checksum of the header itself, patched at finish.
 */
#ifndef GGUF_WRITE_H
#define GGUF_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum gguf_writer_flags {
    GGUF_WRITER_PLAIN = 0,
    GGUF_WRITER_CHECKSUMS = 1,   /* record ingot.tensor_xxh3 and ingot.header_xxh3 */
};

struct gguf_writer;

/* Start writing path (atomically replaced at finish). Returns 0, IG_EINVAL (a path that
 * out_check_path refuses), IG_EIO or IG_ENOMEM. */
int gguf_writer_open(struct gguf_writer **out, const char *path, int flags);

int gguf_writer_add_u32(struct gguf_writer *w, const char *key, uint32_t v);
int gguf_writer_add_i32(struct gguf_writer *w, const char *key, int32_t v);
int gguf_writer_add_u64(struct gguf_writer *w, const char *key, uint64_t v);
int gguf_writer_add_f32(struct gguf_writer *w, const char *key, float v);
int gguf_writer_add_bool(struct gguf_writer *w, const char *key, bool v);
int gguf_writer_add_str(struct gguf_writer *w, const char *key, const char *v);
int gguf_writer_add_arr_str(struct gguf_writer *w, const char *key, const char *const *v, uint64_t n);
int gguf_writer_add_arr_f32(struct gguf_writer *w, const char *key, const float *v, uint64_t n);
int gguf_writer_add_arr_i32(struct gguf_writer *w, const char *key, const int32_t *v, uint64_t n);
int gguf_writer_add_arr_u64(struct gguf_writer *w, const char *key, const uint64_t *v, uint64_t n);
/* Copy a KV as it was stored in another GGUF file: value_bytes are the bytes after the
 * type field (for arrays: the elements only; elem_type and count are given). */
int gguf_writer_add_raw(struct gguf_writer *w, const char *key, int type, int elem_type, uint64_t count,
                        const void *value_bytes, uint64_t n_bytes);
/* Reserve an ARRAY of n UINT64 under key, filled by gguf_writer_set_u64_placeholder before
 * finish. Returns a handle >= 0, or a negative IG_E code. */
int gguf_writer_add_u64_placeholder(struct gguf_writer *w, const char *key, uint64_t n);
int gguf_writer_set_u64_placeholder(struct gguf_writer *w, int handle, uint64_t i, uint64_t v);

/* Declare a tensor (ne in ggml order, unused dims 1). Returns 0 or IG_EINVAL (name too
 * long or repeated, row not a whole number of blocks of type). */
int gguf_writer_add_tensor(struct gguf_writer *w, const char *name, int n_dims, const int64_t *ne, int type);

int gguf_writer_begin_data(struct gguf_writer *w);
int gguf_writer_write(struct gguf_writer *w, const void *data, size_t size_bytes);
int gguf_writer_end_tensor(struct gguf_writer *w);

/* The xxh3-64 of tensor i's bytes (valid after its end_tensor). */
uint64_t gguf_writer_tensor_xxh3(const struct gguf_writer *w, int64_t i);

/* Size in bytes that tensor i takes (valid after add_tensor). */
uint64_t gguf_writer_tensor_size(const struct gguf_writer *w, int64_t i);

/* Complete the file and free the writer (also on failure, after removing the temp file). */
int gguf_writer_finish(struct gguf_writer *w);

/* Remove the temporary file and free; accepts NULL. */
void gguf_writer_abort(struct gguf_writer *w);

/* Path of the temporary file being written (for a signal handler to unlink). */
const char *gguf_writer_tmp_path(const struct gguf_writer *w);

#ifdef __cplusplus
}
#endif

#endif /* GGUF_WRITE_H */
