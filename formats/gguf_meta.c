/* gguf_meta.c — llama.cpp's model keys, with the exact value types its loader demands. */
#include "gguf_meta.h"

#include "../common/ig_error.h"
#include "gemma_arch.h"

#include <stdio.h>
#include <string.h>

static int add_arch_u32(struct gguf_writer *w, const char *arch, const char *suffix, int64_t v)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (v < 0 || v > (int64_t)UINT32_MAX)
        return ig_error_set(IG_EINVAL, "gguf_meta: key '%s': %lld does not fit UINT32", key, (long long)v);
    return gguf_writer_add_u32(w, key, (uint32_t)v);
}

static int add_arch_f32(struct gguf_writer *w, const char *arch, const char *suffix, float v)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return gguf_writer_add_f32(w, key, v);
}

int gguf_meta_write_hparams(struct gguf_writer *w, const struct model_hparams *hp)
{
    if (gemma_arch_is(hp->arch))   /* gemma's converter writes its own list of keys */
        return gemma_meta_write_hparams(w, hp);
    const char *a = hp->arch;
    int rc = gguf_writer_add_str(w, "general.architecture", a);
    if (!rc && hp->name[0])
        rc = gguf_writer_add_str(w, "general.name", hp->name);
    if (!rc)
        rc = add_arch_u32(w, a, "vocab_size", hp->n_vocab);
    if (!rc)
        rc = add_arch_u32(w, a, "context_length", hp->n_ctx_train);
    if (!rc)
        rc = add_arch_u32(w, a, "embedding_length", hp->n_embd);
    if (!rc)
        rc = add_arch_u32(w, a, "block_count", hp->n_layer);
    if (!rc)
        rc = add_arch_u32(w, a, "feed_forward_length", hp->n_ff);
    if (!rc)
        rc = add_arch_u32(w, a, "rope.dimension_count", hp->n_rot);
    if (!rc)
        rc = add_arch_u32(w, a, "attention.head_count", hp->n_head);
    if (!rc)
        rc = add_arch_u32(w, a, "attention.head_count_kv", hp->n_head_kv);
    if (!rc)
        rc = add_arch_f32(w, a, "attention.layer_norm_rms_epsilon", hp->rms_eps);
    if (!rc)
        rc = add_arch_f32(w, a, "rope.freq_base", hp->rope_theta);
    /* phi3: llama.cpp's converter always writes the original context and the window (0: none) */
    const bool phi3 = strcmp(a, "phi3") == 0;
    if (!rc && phi3)
        rc = add_arch_u32(w, a, "rope.scaling.original_context_length",
                          hp->rope_scaling_orig_ctx > 0 ? hp->rope_scaling_orig_ctx : hp->n_ctx_train);
    if (!rc && phi3)
        rc = add_arch_u32(w, a, "attention.sliding_window", hp->sliding_window);
    /* phi3 longrope: the attention factor, with the rope_factors_long/short tensors (an HF
     * config's, hf_config.c, or a GGUF source's carried over) */
    if (!rc && hp->rope_attn_factor > 0)
        rc = add_arch_f32(w, a, "rope.scaling.attn_factor", hp->rope_attn_factor);
    /* mixtral (written as llama): llama.cpp's converter puts these after the rope base */
    if (!rc && hp->n_expert > 0)
        rc = add_arch_u32(w, a, "expert_count", hp->n_expert);
    if (!rc && hp->n_expert > 0)
        rc = add_arch_u32(w, a, "expert_used_count", hp->n_expert_used);
    if (!rc && hp->head_dim_explicit) {
        rc = add_arch_u32(w, a, "attention.key_length", hp->head_dim);
        if (!rc)
            rc = add_arch_u32(w, a, "attention.value_length", hp->head_dim);
    }
    /* llama3 is carried by rope_freqs.weight alone: llama.cpp's converter writes no
     * rope.scaling.* keys for it, and llama.cpp would refuse the type name at load */
    /* phi3's longrope neither: Phi3MiniModel writes the factor tensors and attn_factor only */
    if (!rc && hp->rope_scaling_type[0] && strcmp(hp->rope_scaling_type, "llama3") != 0 &&
        !(phi3 && strcmp(hp->rope_scaling_type, "longrope") == 0)) {
        char key[128];
        snprintf(key, sizeof key, "%s.rope.scaling.type", a);
        rc = gguf_writer_add_str(w, key, hp->rope_scaling_type);
        if (!rc)
            rc = add_arch_f32(w, a, "rope.scaling.factor", hp->rope_scaling_factor);
        if (!rc && hp->rope_scaling_orig_ctx > 0)
            rc = add_arch_u32(w, a, "rope.scaling.original_context_length", hp->rope_scaling_orig_ctx);
    }
    return rc;
}

int gguf_meta_write_file_type(struct gguf_writer *w, int ftype, int with_quant_version)
{
    int rc = with_quant_version ? gguf_writer_add_u32(w, "general.quantization_version", 2) : 0;
    return rc ? rc : gguf_writer_add_u32(w, "general.file_type", (uint32_t)ftype);
}

static int add_id(struct gguf_writer *w, const char *key, int64_t id)
{
    return id >= 0 ? gguf_writer_add_u32(w, key, (uint32_t)id) : 0;
}

static int add_flag(struct gguf_writer *w, const char *key, int flag)
{
    return flag >= 0 ? gguf_writer_add_bool(w, key, flag != 0) : 0;
}

int gguf_meta_write_vocab(struct gguf_writer *w, const struct vocab *v)
{
    uint64_t n = (uint64_t)v->n_tokens;
    int rc = gguf_writer_add_str(w, "tokenizer.ggml.model", v->model);
    if (!rc && v->pre[0])
        rc = gguf_writer_add_str(w, "tokenizer.ggml.pre", v->pre);
    if (!rc)
        rc = gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v->tokens, n);
    if (!rc && v->scores)
        rc = gguf_writer_add_arr_f32(w, "tokenizer.ggml.scores", v->scores, n);
    if (!rc)
        rc = gguf_writer_add_arr_i32(w, "tokenizer.ggml.token_type", v->types, n);
    if (!rc && v->n_merges > 0)
        rc = gguf_writer_add_arr_str(w, "tokenizer.ggml.merges", (const char *const *)v->merges,
                                     (uint64_t)v->n_merges);
    if (!rc)
        rc = add_id(w, "tokenizer.ggml.bos_token_id", v->bos_id);
    if (!rc)
        rc = add_id(w, "tokenizer.ggml.eos_token_id", v->eos_id);
    if (!rc)
        rc = add_id(w, "tokenizer.ggml.unknown_token_id", v->unk_id);
    if (!rc)
        rc = add_id(w, "tokenizer.ggml.padding_token_id", v->pad_id);
    if (!rc)
        rc = add_flag(w, "tokenizer.ggml.add_bos_token", v->add_bos);
    if (!rc)
        rc = add_flag(w, "tokenizer.ggml.add_eos_token", v->add_eos);
    if (!rc)
        rc = add_flag(w, "tokenizer.ggml.add_space_prefix", v->add_space_prefix);
    if (!rc && v->chat_template)
        rc = gguf_writer_add_str(w, "tokenizer.chat_template", v->chat_template);
    return rc;
}
