/* hf_config.h — HF config.json -> model_hparams for the llama family and qwen2.
 *
 * Keys read (transformers' LlamaConfig / MistralConfig / Qwen2Config names):
 *   1. model_type ("llama", "mistral" -> arch "llama"; "qwen2" -> arch "qwen2"),
 *      or architectures[0] ("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM")
 *   2. hidden_size, intermediate_size, num_hidden_layers, num_attention_heads (integers > 0)
 *   3. num_key_value_heads (default num_attention_heads; must divide it), head_dim
 *      (default hidden_size / num_attention_heads), vocab_size, max_position_embeddings
 *   4. rms_norm_eps (number > 0), rope_theta (default 10000), tie_word_embeddings
 *      (bool, default false), rope_scaling (null or {type|rope_type, factor,
 *      original_max_position_embeddings}), attention_bias (qwen2: always true)
 * A key of the wrong JSON type is an error naming the key, not a silent default.
 */
#ifndef HF_CONFIG_H
#define HF_CONFIG_H

#include "model_src.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parse config_path into *hp (zeroed first). Returns 0, or IG_EINVAL with a message of the
 * form "<file>: key '<key>': <found>, expected <allowed>". */
int hf_config_read(struct model_hparams *hp, const char *config_path);

/* The same from a JSON text already in memory (path is used in messages only). */
int hf_config_parse(struct model_hparams *hp, const char *json_text, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* HF_CONFIG_H */
