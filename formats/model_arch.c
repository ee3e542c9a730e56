/* model_arch.c — the table of architectures (see model_arch.h). */
#include "model_arch.h"

#include <stdio.h>
#include <string.h>

/* ---- the tables ------------------------------------------------------------------------ */

/* HF names as convert_hf_to_gguf.py registers them (@ModelBase.register), each mapped to the
 * general.architecture that converter writes for it. */
static const struct model_arch_hf hf_names[] = {
    {"llama", "LlamaForCausalLM", "llama"},
    {"mistral", "MistralForCausalLM", "llama"},
    {"mixtral", "MixtralForCausalLM", "llama"},   /* llama + expert_count / expert_used_count */
    {"qwen2", "Qwen2ForCausalLM", "qwen2"},
    {"qwen3", "Qwen3ForCausalLM", "qwen3"},
    {"phi3", "Phi3ForCausalLM", "phi3"},
    {"gemma2", "Gemma2ForCausalLM", "gemma2"},       /* formats/gemma_arch.h */
    {"gemma3_text", "Gemma3ForCausalLM", "gemma3"},  /* the text-only Gemma3TextConfig */
    {"gemma3", "Gemma3ForConditionalGeneration", "gemma3"},   /* its language model (text_config) */
};

/* RoPE layout: llama.cpp's llama_model_rope_type (LLAMA_ROPE_TYPE_NORM for llama,
 * LLAMA_ROPE_TYPE_NEOX for qwen2, qwen3, phi3, gemma*). */
static const struct model_arch_info archs[] = {
    /* arch, rope_neox, attn_qkv_bias, attn_qk_norm */
    {"llama", false, false, false},
    {"qwen2", true, true, false},
    {"qwen3", true, false, true},
    {"phi3", true, false, false},
    {"gemma2", true, false, false},
    {"gemma3", true, false, true},    /* q/k norms like qwen3's, stored (1 + w) */
};

#define N_HF (sizeof hf_names / sizeof hf_names[0])
#define N_ARCH (sizeof archs / sizeof archs[0])

/* ---- lookups --------------------------------------------------------------------------- */

const struct model_arch_hf *model_arch_hf_find(const char *name, bool by_model_type)
{
    for (size_t i = 0; i < N_HF; i++)
        if (strcmp(name, by_model_type ? hf_names[i].model_type : hf_names[i].architecture) == 0)
            return &hf_names[i];
    return NULL;
}

const struct model_arch_info *model_arch_find(const char *arch)
{
    for (size_t i = 0; i < N_ARCH; i++)
        if (strcmp(arch, archs[i].arch) == 0)
            return &archs[i];
    return NULL;
}

const char *model_arch_list(enum model_arch_names which, char *buf, size_t size)
{
    size_t k = 0, n = which == MODEL_ARCH_GGUF ? N_ARCH : N_HF;
    if (size == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < n && k < size; i++) {
        const char *name = which == MODEL_ARCH_GGUF          ? archs[i].arch
                           : which == MODEL_ARCH_MODEL_TYPES ? hf_names[i].model_type
                                                             : hf_names[i].architecture;
        k += (size_t)snprintf(buf + k, size - k, "%s%s", i ? ", " : "", name);
    }
    return buf;
}
