/* hf_config.h — HF config.json -> model_hparams for the architectures of formats/model_arch.h.
 *
 * Keys read (transformers' LlamaConfig / MistralConfig / Qwen2Config ... names):
 *   1. model_type ("llama", "mistral", "mixtral" -> arch "llama"; "qwen2", "qwen3", "phi3", gemma's
 *      -> their own), or architectures[0] ("LlamaForCausalLM", ...): model_arch.h's table
 *   2. hidden_size, intermediate_size, num_hidden_layers, num_attention_heads (integers > 0)
 *   3. num_key_value_heads (default num_attention_heads; must divide it), head_dim
 *      (default hidden_size / num_attention_heads), vocab_size, max_position_embeddings
 *   4. rms_norm_eps (number > 0), rope_theta (default 10000), tie_word_embeddings
 *      (bool, default false), rope_scaling (null or {type|rope_type, factor,
 *      original_max_position_embeddings}), attention_bias (qwen2: always true)
 *   5. mixtral: num_local_experts (>= 2), num_experts_per_tok (1..that); phi3: sliding_window
 *      (null: 0), original_max_position_embeddings (rope.scaling.original_context_length),
 *      partial_rotary_factor (rope.dimension_count = int(f · hidden_size) // heads), rope_scaling
 *      longrope/"su"/yarn with long_factor and short_factor of n_rot/2 numbers each (->
 *      hp.rope_factors_*, rope.scaling.attn_factor; other phi3 scalings are refused); gemma's keys
 *   6. rope_parameters (transformers 4.56+ / v5): {rope_type, rope_theta, <scaling keys>,
 *      partial_rotary_factor?}, or for gemma3 {full_attention: {...}, sliding_attention:
 *      {rope_type "default", rope_theta}}; folded into rope_theta / rope_scaling /
 *      partial_rotary_factor / rope_local_base_freq before the rest is read. An old key beside its
 *      new counterpart must hold the same value; a rope_parameters without rope_theta takes the
 *      top-level rope_theta, and is refused without one (no default theta is guessed).
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
