/* imatrix.h — llama.cpp's importance-matrix files: the mean squared activation of every
 * input column of every weight, as llama-imatrix writes them.
 *
 * GGUF format (llama.cpp 2025+): general.type = "imatrix", imatrix.datasets (ARRAY of
 * STRING), imatrix.chunk_count (UINT32), imatrix.chunk_size (UINT32); per weight NAME:
 *   1. tensor NAME.in_sum2  F32 [n_in, n_mat]: Σ x_j² over the rows seen by each matrix
 *   2. tensor NAME.counts   F32 [1, n_mat]: the number of rows each matrix saw
 *   importance[e·n_in + j] = in_sum2[e][j] / counts[e] (float32 division, as llama-quantize
 *   computes it). n_mat is 1 for a plain weight and n_expert for a stack of experts
 *   (ffn_*_exps), each expert counting only the rows the router sent it. An expert that saw
 *   no rows (count 0) is kept, as llama-imatrix keeps it, and its importance is 1 for every
 *   column: what llama-quantize's load_imatrix puts there (a warning says so).
 * Legacy .dat format (all little-endian):
 *   1. i32 n_entries; per entry: i32 name_len, name bytes, i32 ncall, i32 nval,
 *      nval x f32 values = (sum2 / count of its matrix) · ncall, with nval = n_in · n_mat
 *      and ncall = ceil(max count / chunk_size) (llama-imatrix's save_imatrix_legacy; a
 *      matrix that saw no rows is stored as 1 · ncall, an entry whose matrices all saw none
 *      is left out)
 *   2. optional trailer: i32 chunks, i32 dataset_len, dataset bytes
 *   importance[j] = values[j] / ncall (the file has one ncall per entry, so an entry read
 *   from a .dat has n_mat = 1 whatever its length)
 */
#ifndef IMATRIX_H
#define IMATRIX_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct imatrix_entry {
    char *name;          /* owned: weight name, e.g. "blk.0.attn_q.weight" */
    int64_t n;           /* values (n_in, or n_in · n_expert) */
    float *sum2;         /* [n] owned: Σ x², matrix after matrix */
    int64_t n_mat;       /* matrices: 1, or the experts of a stack (GGUF counts [1, n_mat]) */
    float *counts;       /* [n_mat] owned: rows each matrix saw */
    float count;         /* counts[0] (the rows seen, for a one-matrix entry) */
    float *importance;   /* [n] owned: sum2 / the count of its matrix; 1 where that count is 0 */
};

struct imatrix {
    int64_t n_entries;
    struct imatrix_entry *entries;   /* [n_entries] owned */
    char dataset[1024];              /* the calibration text it came from, or "" */
    int64_t chunk_count, chunk_size;
    char path[512];                  /* the file it was read from (for messages), or "" */
    int n_warnings;
    char **warnings;                 /* [n_warnings] owned: for the caller to print */
};

/* Read a GGUF or legacy .dat imatrix (recognised by its magic). Like llama-quantize, refuses
 * a value that is NaN, infinite or negative, and a count (GGUF: NAME.counts; .dat: ncall)
 * that is not finite and > 0 (an expert's count in a stack may be 0): one NaN among 256
 * values ruins every quantized row of its tensor. Returns 0 or IG_EINVAL naming the file, the
 * entry and the index. Adds a warning (im->warnings) for an entry that appears twice (the
 * first is used), is all zeros, or has experts that saw no rows. */
int imatrix_read(struct imatrix *im, const char *path);

struct model_src;
/* Warn (im->warnings) about entries for tensors src does not have, and entries whose length
 * is not the tensor's row length (both are ignored by imatrix_find). A stack of experts
 * (ne[2] > 1) needs ne[0]·ne[2] values (and, from a GGUF, ne[2] counts): llama-quantize
 * throws on any other length, and so this returns IG_EINVAL naming the file and the entry.
 * Returns 0, IG_EINVAL or IG_ENOMEM. */
int imatrix_check_model(struct imatrix *im, const struct model_src *src);

/* Write im in the GGUF or the legacy .dat format, both atomically (out_file.h: a temporary,
 * fsync, rename, fsync of the folder; every write checked). Returns 0, IG_EINVAL (a path
 * out_check_path refuses), IG_EIO or IG_ENOMEM. */
int imatrix_write_gguf(const struct imatrix *im, const char *path);
int imatrix_write_dat(const struct imatrix *im, const char *path);

/* The importance vector for weight name if it has exactly n values, else NULL. For a stack of
 * experts n is n_in · n_expert and expert e's slice starts at e · n_in (llama-quantize's
 * imatrix + i03·n_per_row). */
const float *imatrix_find(const struct imatrix *im, const char *name, int64_t n);

/* Add an entry (sum2 copied); used by the calibration run. Returns 0 or IG_ENOMEM. */
int imatrix_add(struct imatrix *im, const char *name, const float *sum2, int64_t n, float count);

/* The same for a stack of n_mat matrices: sum2 [n_mat][n_in], counts [n_mat] (copied). */
int imatrix_add_stack(struct imatrix *im, const char *name, const float *sum2, int64_t n_in, int64_t n_mat,
                      const float *counts);

void imatrix_free(struct imatrix *im);

#ifdef __cplusplus
}
#endif

#endif /* IMATRIX_H */
