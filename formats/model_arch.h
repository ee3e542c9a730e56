/* model_arch.h — the architectures ingot converts and runs, in one table.
 *
 * Each architecture has the name llama.cpp gives it (general.architecture, the prefix of
 * its {arch}.* keys) and the HF names that map to it (config.json's model_type and
 * architectures[0], as convert_hf_to_gguf.py registers them). Several HF names can share
 * one GGUF architecture: Mistral and Mixtral are written as "llama", the way llama.cpp's
 * converter writes them (a Mixtral is a llama with {arch}.expert_count > 0).
 *
 * Every "is not supported (supported: ...)" message is built from this table, so adding a
 * row is all it takes for a new name to be listed; the row's architecture still needs its
 * tensors (model_src.c), its forward pass (model/) and its keys (gguf_meta.c).
 */
#ifndef MODEL_ARCH_H
#define MODEL_ARCH_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One HF name -> one GGUF architecture. */
struct model_arch_hf {
    const char *model_type;     /* config.json "model_type" */
    const char *architecture;   /* config.json "architectures"[0] */
    const char *arch;           /* general.architecture */
};

/* Facts of one GGUF architecture that the readers and the forward pass share. */
struct model_arch_info {
    const char *arch;           /* general.architecture */
    bool rope_neox;             /* RoPE rotates (x_i, x_{i+n_rot/2}), HF's layout: llama.cpp's converter does not
                                 * permute the HF q/k rows (false: llama, whose rows it permutes to pairs (2i, 2i+1)) */
    bool attn_qkv_bias;         /* q/k/v projections always carry biases (qwen2) */
    bool attn_qk_norm;          /* per-head RMSNorm of q and k before RoPE (qwen3) */
};

/* The architecture whose config.json model_type (by_model_type) or architectures[0] is
 * name, or NULL. */
const struct model_arch_hf *model_arch_hf_find(const char *name, bool by_model_type);

/* The GGUF architecture named arch, or NULL. */
const struct model_arch_info *model_arch_find(const char *arch);

/* Which names model_arch_list writes. */
enum model_arch_names {
    MODEL_ARCH_MODEL_TYPES = 0,     /* "llama, mistral, mixtral, qwen2, ..." (config.json model_type) */
    MODEL_ARCH_ARCHITECTURES = 1,   /* "LlamaForCausalLM, ..." (config.json architectures) */
    MODEL_ARCH_GGUF = 2,            /* "llama, qwen2, ..." (general.architecture) */
};

/* Write the supported names of one kind, comma-separated, into buf (cut to size - 1 bytes),
 * for "is not supported (supported: ...)" messages. Returns buf. */
const char *model_arch_list(enum model_arch_names which, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* MODEL_ARCH_H */
