/* gemma_arch.h — what gemma2 and gemma3 add to the llama layout, for the readers and the writer.
 *
 * Facts from llama.cpp (convert_hf_to_gguf.py's Gemma2Model / Gemma3Model, src/llama-model.cpp's
 * hparams, src/models/gemma2-iswa.cpp and gemma3.cpp), used by formats/ only:
 *   1. HF names: post_attention_layernorm is the norm of the attention OUTPUT (llama: the FFN's
 *      input norm), pre_feedforward_layernorm the FFN's input norm, post_feedforward_layernorm
 *      the norm of the FFN output:
 *        input_layernorm              -> blk.N.attn_norm
 *        post_attention_layernorm     -> blk.N.post_attention_norm
 *        pre_feedforward_layernorm    -> blk.N.ffn_norm
 *        post_feedforward_layernorm   -> blk.N.post_ffw_norm
 *        self_attn.q_norm / k_norm    -> blk.N.attn_q_norm / attn_k_norm   (gemma3)
 *   2. Every tensor whose HF name ends in "norm.weight" is stored as w + 1 (HF computes x·(1 + w)).
 *   3. The tokenizer is SentencePiece (tokenizer.model) with add_space_prefix false.
 *   4. Keys (gemma2, in the converter's order): context_length, embedding_length, block_count,
 *      feed_forward_length, attention.head_count, attention.head_count_kv,
 *      attention.layer_norm_rms_epsilon, attention.key_length, attention.value_length,
 *      attn_logit_softcapping, final_logit_softcapping, attention.sliding_window (UINT32/FLOAT32);
 *      gemma3: block_count, context_length, embedding_length, feed_forward_length,
 *      attention.head_count, attention.head_count_kv, rope.freq_base, layer_norm_rms_epsilon,
 *      key_length, value_length, [final_logit_softcapping], attention.sliding_window, plus
 *      rope.scaling.* when the config scales RoPE.
 *   5. What llama.cpp's loader fixes rather than reads: gemma2 slides on blocks l % 2 == 0
 *      (window 4096 and soft caps 50 / 30 unless the keys say otherwise); gemma3 on l % 6 != 5,
 *      with RoPE base 10000 (unscaled) on those blocks; both scale scores by
 *      1/sqrt(head_dim), or 1/sqrt(n_embd / n_head) for the 27B shapes (46 and 62 blocks) — the
 *      query_pre_attn_scalar of every released model, which has no key of its own.
 */
#ifndef GEMMA_ARCH_H
#define GEMMA_ARCH_H

#include "gguf.h"
#include "gguf_write.h"
#include "model_src.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Whether arch is "gemma2" or "gemma3". */
bool gemma_arch_is(const char *arch);

/* The GGUF suffix (after "blk.N.") of the HF block suffix hf (after "model.layers.N.") where a
 * gemma model names it differently from llama (1 above), or NULL: use llama's name. */
const char *gemma_hf_block_name(const char *arch, const char *hf);

/* The name a Gemma3ForConditionalGeneration tensor has in the language model alone, as llama.cpp's
 * tensor map reads it: "language_model.model.X" and "model.language_model.X" -> "model.X",
 * "language_model.lm_head.weight" -> "lm_head.weight" (buf holds the result); NULL for the vision
 * tower and the projector ("vision_tower.", "multi_modal_projector.", with or without "model."),
 * which the text model leaves out (llama.cpp writes them to a separate mmproj file). Any other
 * name, or any name of another architecture, is returned as it is. */
const char *gemma_hf_text_name(const char *arch, const char *hf, char *buf, size_t size);

/* src_tensor.norm_shift for the HF tensor hf_name of a model of arch: 1 for gemma's norms, else 0. */
float gemma_norm_shift(const char *arch, const char *hf_name);

/* llama.cpp's own period of sliding blocks (its set_swa_pattern: gemma2 2, gemma3 6). */
int64_t gemma_swa_pattern_default(const char *arch);

/* pattern, or llama.cpp's default when that slides exactly the same blocks of n_layer. */
int64_t gemma_swa_pattern_canonical(const char *arch, int64_t n_layer, int64_t pattern);

/* {arch}.attention.sliding_window_pattern, which llama.cpp's loader reads (load_swa_pattern) in
 * place of its default: a UINT32 period, or an array of BOOL / integers, one per block, true where
 * the block slides (it must then repeat with a period, as hf_config.c accepts layer_types). Sets
 * hp->swa_pattern when the key is present. Returns 0 or IG_EINVAL naming the key. */
int gemma_gguf_read_pattern(const struct gguf_file *g, struct model_hparams *hp);

/* Lines (each ending in '\n') that `ingot convert` prints as notes for a gemma model whose config
 * llama.cpp reads differently: a query_pre_attn_scalar other than the head size llama.cpp derives
 * (verify keeps the config's scale; llama.cpp runs the file with its own), and a gemma2 whose
 * blocks all slide (llama.cpp fails to load it). Empty for any other model. Returns buf. */
const char *gemma_convert_notes(const struct model_hparams *hp, char *buf, size_t size);

/* For an HF folder (hf_model.c): the lines above, plus one when the vision tower of a multimodal
 * gemma3 was left out; "" for anything else. Valid until src is closed. */
const char *hf_model_notes(const struct model_src *src);

/* llama.cpp's values for what a gemma GGUF may leave out (5 above), set before its keys are read
 * so that keys present override them; needs n_layer, n_embd, n_head and head_dim. Does nothing
 * for other architectures. */
void gemma_hparams_gguf_defaults(struct model_hparams *hp);

/* The architecture keys (4 above) for a gemma hp. Returns 0 or a writer error. */
int gemma_meta_write_hparams(struct gguf_writer *w, const struct model_hparams *hp);

#ifdef __cplusplus
}
#endif

#endif /* GEMMA_ARCH_H */
