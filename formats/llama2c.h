/* llama2c.h — reader for Karpathy's llama2.c checkpoints (run.c's legacy fp32 format).
 *
 * Byte layout (all little-endian):
 *   1. header, 7 x int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
 *      seq_len. A negative vocab_size means the classifier (wcls) is stored separately.
 *   2. fp32 arrays, in order: token_embedding [vocab][dim], rms_att [L][dim],
 *      wq [L][dim][dim], wk [L][kv_dim][dim], wv [L][kv_dim][dim], wo [L][dim][dim],
 *      rms_ffn [L][dim], w1 [L][hidden][dim], w2 [L][dim][hidden], w3 [L][hidden][dim],
 *      rms_final [dim], freq_cis_real [seq_len][head_size/2], freq_cis_imag (same; skipped),
 *      then wcls [vocab][dim] only when vocab_size was negative.
 *   kv_dim = dim * n_kv_heads / n_heads. Q/K are already in llama.cpp's rope layout.
 * The tokenizer comes from --tokenizer or a file beside the checkpoint: tokenizer.model,
 * tok<vocab>.model, tokenizer.bin or tok<vocab>.bin.
 */
#ifndef LLAMA2C_H
#define LLAMA2C_H

#include "model_src.h"

#ifdef __cplusplus
extern "C" {
#endif

struct llama2c_header {
    int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};

/* True if the first bytes of data look like a llama2.c header whose sizes match
 * size_bytes exactly (used to recognise the format). */
int llama2c_probe(const uint8_t *data, uint64_t size_bytes);

/* Fill src (kind, hparams, tensors, vocab, files) from the checkpoint at path. The
 * tokenizer is tokenizer_path when not NULL, else looked up beside the checkpoint.
 * Returns 0 or IG_EINVAL naming the file and field. */
int llama2c_open(struct model_src *src, const char *path, const char *tokenizer_path);

#ifdef __cplusplus
}
#endif

#endif /* LLAMA2C_H */
