/* safetensors_write.h — writer of one .safetensors file (the reader is safetensors.h).
 *
 * Byte layout written (https://github.com/huggingface/safetensors, as safetensors.h reads it):
 *   1. u64 little-endian N: length of the JSON header, a multiple of 8 (the JSON is padded
 *      with spaces, as the Python library pads it, so the data buffer starts 8-aligned);
 *   2. N bytes of JSON: {"__metadata__": {"format": "pt"}, name: {"dtype": D, "shape": [...],
 *      "data_offsets": [begin, end]}, ...}, the tensors in the order they were declared;
 *   3. the data buffer: each tensor's bytes in declaration order, back to back.
 * Use: st_writer_open, st_writer_declare for every tensor, st_writer_begin_data, then per
 * tensor st_writer_write (any number of times) and st_writer_end_tensor, then
 * st_writer_close. The file is written where it is named (the caller writes into a
 * temporary folder that is renamed whole, convert/export_hf.c); a failed writer is
 * removed by st_writer_abort.
 */
#ifndef SAFETENSORS_WRITE_H
#define SAFETENSORS_WRITE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct st_writer;

/* Create path (which must not exist). Returns 0, IG_EIO naming the path, or IG_ENOMEM. */
int st_writer_open(struct st_writer **out, const char *path);

/* Declare the next tensor: dtype one of "F32", "F16", "BF16", "I32", "U8", "I8"; shape
 * [n_dims] in PyTorch order (n_dims 1..8, every dimension >= 0). Returns 0, IG_EINVAL
 * (a duplicate name, an unknown dtype, a size that overflows), or IG_ENOMEM. */
int st_writer_declare(struct st_writer *w, const char *name, const char *dtype, int n_dims, const int64_t *shape);

/* Write the header; no tensor may be declared afterwards. Returns 0 or IG_EIO. */
int st_writer_begin_data(struct st_writer *w);

/* Append n_bytes of the current tensor's data. Returns 0, IG_EINVAL when that is more than
 * the tensor holds, or IG_EIO. */
int st_writer_write(struct st_writer *w, const void *p, size_t n_bytes);

/* Finish the current tensor: IG_EINVAL naming it when fewer bytes came than it holds. */
int st_writer_end_tensor(struct st_writer *w);

/* Check every tensor was written, fsync and close; frees w. Returns 0, IG_EINVAL (tensors
 * missing) or IG_EIO; on failure the file is removed. */
int st_writer_close(struct st_writer *w);

/* Close and remove the file; frees w; accepts NULL. */
void st_writer_abort(struct st_writer *w);

#ifdef __cplusplus
}
#endif

#endif /* SAFETENSORS_WRITE_H */
