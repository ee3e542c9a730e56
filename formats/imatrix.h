/* imatrix.h — llama.cpp's importance-matrix files: the mean squared activation of every
 * input column of every weight, as llama-imatrix writes them.
 *
 * GGUF format (llama.cpp 2025+): general.type = "imatrix", imatrix.datasets (ARRAY of
 * STRING), imatrix.chunk_count (UINT32), imatrix.chunk_size (UINT32); per weight NAME:
 *   1. tensor NAME.in_sum2  F32 [n_in, n_mat]: Σ x_j² over the rows seen
 *   2. tensor NAME.counts   F32 [1, n_mat]: the number of rows seen
 *   importance[j] = in_sum2[j] / counts (float32 division, as llama-quantize computes it)
 * Legacy .dat format (all little-endian):
 *   1. i32 n_entries; per entry: i32 name_len, name bytes, i32 ncall, i32 nval,
 *      nval x f32 values = mean(x_j²) · ncall
 *   2. optional trailer: i32 chunks, i32 dataset_len, dataset bytes
 *   importance[j] = values[j] / ncall
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
    float *sum2;         /* [n] owned: Σ x² */
    float count;         /* rows seen (per matrix) */
    float *importance;   /* [n] owned: sum2 / count */
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
 * that is not finite and > 0: one NaN among 256 values ruins every quantized row of its
 * tensor. Returns 0 or IG_EINVAL naming the file, the entry and the index. Adds a warning
 * (im->warnings) for an entry that appears twice (the first is used) or is all zeros. */
int imatrix_read(struct imatrix *im, const char *path);

struct model_src;
/* Warn (im->warnings) about entries for tensors src does not have, and entries whose length
 * is not the tensor's row length (both are ignored by imatrix_find). Returns 0 or IG_ENOMEM. */
int imatrix_check_model(struct imatrix *im, const struct model_src *src);

/* Write im in the GGUF or the legacy .dat format, both atomically (out_file.h: a temporary,
 * fsync, rename, fsync of the folder; every write checked). Returns 0, IG_EINVAL (a path
 * out_check_path refuses), IG_EIO or IG_ENOMEM. */
int imatrix_write_gguf(const struct imatrix *im, const char *path);
int imatrix_write_dat(const struct imatrix *im, const char *path);

/* The importance vector for weight name if it has exactly n values, else NULL. */
const float *imatrix_find(const struct imatrix *im, const char *name, int64_t n);

/* Add an entry (sum2 copied); used by the calibration run. Returns 0 or IG_ENOMEM. */
int imatrix_add(struct imatrix *im, const char *name, const float *sum2, int64_t n, float count);

void imatrix_free(struct imatrix *im);

#ifdef __cplusplus
}
#endif

#endif /* IMATRIX_H */
