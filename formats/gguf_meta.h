/* gguf_meta.h — the llama.cpp metadata of a model, written as GGUF keys.
 *
 * Keys, types and order follow llama.cpp's convert_hf_to_gguf.py (see the KV table in
 * shared/reference/gguf-facts.md, section 5), so that llama.cpp's strictly typed loader
 * accepts the file:
 *   1. general.architecture (STRING), general.name (STRING, when set)
 *   2. {arch}.vocab_size, context_length, embedding_length, block_count,
 *      feed_forward_length, rope.dimension_count, attention.head_count,
 *      attention.head_count_kv (UINT32); attention.layer_norm_rms_epsilon,
 *      rope.freq_base (FLOAT32); attention.key_length / value_length (UINT32) when the
 *      config gave head_dim; rope.scaling.* when present
 *   3. general.file_type (UINT32), general.quantization_version (UINT32, quantized only)
 *   4. tokenizer.ggml.* in the order of vocab.h
 */
#ifndef GGUF_META_H
#define GGUF_META_H

#include "gguf_write.h"
#include "model_src.h"

#ifdef __cplusplus
extern "C" {
#endif

/* llama.cpp's general.file_type values (enum llama_ftype). */
enum llama_ftype {
    LLAMA_FTYPE_ALL_F32 = 0,
    LLAMA_FTYPE_MOSTLY_F16 = 1,
    LLAMA_FTYPE_MOSTLY_Q4_0 = 2,
    LLAMA_FTYPE_MOSTLY_Q4_1 = 3,
    LLAMA_FTYPE_MOSTLY_Q8_0 = 7,
    LLAMA_FTYPE_MOSTLY_Q5_0 = 8,
    LLAMA_FTYPE_MOSTLY_Q5_1 = 9,
    LLAMA_FTYPE_MOSTLY_Q2_K = 10,
    LLAMA_FTYPE_MOSTLY_Q3_K_S = 11,
    LLAMA_FTYPE_MOSTLY_Q3_K_M = 12,
    LLAMA_FTYPE_MOSTLY_Q3_K_L = 13,
    LLAMA_FTYPE_MOSTLY_Q4_K_S = 14,
    LLAMA_FTYPE_MOSTLY_Q4_K_M = 15,
    LLAMA_FTYPE_MOSTLY_Q5_K_S = 16,
    LLAMA_FTYPE_MOSTLY_Q5_K_M = 17,
    LLAMA_FTYPE_MOSTLY_Q6_K = 18,
    LLAMA_FTYPE_MOSTLY_IQ4_NL = 25,
    LLAMA_FTYPE_MOSTLY_IQ4_XS = 30,
    LLAMA_FTYPE_MOSTLY_BF16 = 32,
    LLAMA_FTYPE_GUESSED = 1024,   /* ingot's extension types: no llama.cpp file type */
};

/* Write the architecture keys (1-2 above) for hp. Returns 0 or a writer error. */
int gguf_meta_write_hparams(struct gguf_writer *w, const struct model_hparams *hp);

/* Write general.file_type alone (llama.cpp's converter, between the hparams and the
 * tokenizer), or, with with_quant_version, general.quantization_version = 2 followed by
 * general.file_type (llama-quantize appends both at the end of the keys). */
int gguf_meta_write_file_type(struct gguf_writer *w, int ftype, int with_quant_version);

/* Write the tokenizer.ggml.* keys for v. */
int gguf_meta_write_vocab(struct gguf_writer *w, const struct vocab *v);

#ifdef __cplusplus
}
#endif

#endif /* GGUF_META_H */
