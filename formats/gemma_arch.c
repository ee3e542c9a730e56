/* gemma_arch.c — gemma2 / gemma3 names, norm shift, loader defaults and keys (see gemma_arch.h). */
#include "gemma_arch.h"

#include "../common/ig_error.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- names ------------------------------------------------------------------------------------ */

/* HF block suffix -> GGUF block suffix, where gemma differs from llama (llama.cpp's
 * tensor_mapping.py: ATTN_POST_NORM, FFN_PRE_NORM, FFN_POST_NORM for MODEL_ARCH.GEMMA2/3). */
static const struct {
    const char *hf, *gguf;
} gemma_names[] = {
    {"post_attention_layernorm.weight", "post_attention_norm.weight"},
    {"pre_feedforward_layernorm.weight", "ffn_norm.weight"},
    {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"},
};

bool gemma_arch_is(const char *arch)
{
    return strcmp(arch, "gemma2") == 0 || strcmp(arch, "gemma3") == 0;
}

const char *gemma_hf_block_name(const char *arch, const char *hf)
{
    if (!gemma_arch_is(arch))
        return NULL;
    for (size_t i = 0; i < sizeof gemma_names / sizeof gemma_names[0]; i++)
        if (strcmp(hf, gemma_names[i].hf) == 0)
            return gemma_names[i].gguf;
    return NULL;
}

const char *gemma_hf_text_name(const char *arch, const char *hf, char *buf, size_t size)
{
    if (strcmp(arch, "gemma3") != 0)
        return hf;
    static const char *const skip[] = {"vision_tower.", "multi_modal_projector.", "model.vision_tower.",
                                       "model.multi_modal_projector."};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (strncmp(hf, skip[i], strlen(skip[i])) == 0)
            return NULL;
    static const struct {
        const char *from, *to;
    } prefixes[] = {{"language_model.model.", "model."}, {"model.language_model.", "model."},
                    {"language_model.lm_head.", "lm_head."}};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        const size_t n = strlen(prefixes[i].from);
        if (strncmp(hf, prefixes[i].from, n) == 0) {
            snprintf(buf, size, "%s%s", prefixes[i].to, hf + n);
            return buf;
        }
    }
    return hf;
}

float gemma_norm_shift(const char *arch, const char *hf_name)
{
    /* convert_hf_to_gguf.py: `if name.endswith("norm.weight"): data_torch = data_torch + 1` */
    const size_t n = strlen(hf_name), k = strlen("norm.weight");
    return gemma_arch_is(arch) && n >= k && strcmp(hf_name + n - k, "norm.weight") == 0 ? 1.0f : 0.0f;
}

/* ---- what llama.cpp's loader fixes ---------------------------------------------------------- */

void gemma_hparams_gguf_defaults(struct model_hparams *hp)
{
    if (!gemma_arch_is(hp->arch))
        return;
    const bool g2 = strcmp(hp->arch, "gemma2") == 0;
    /* llama_hparams' defaults; gemma2 sets n_swa 4096 before reading the optional key */
    hp->attn_softcap = g2 ? 50.0f : 0.0f;
    hp->final_softcap = g2 ? 30.0f : 0.0f;
    hp->sliding_window = g2 ? 4096 : 0;
    hp->swa_pattern = g2 ? 2 : 6;
    hp->rope_theta_swa = g2 ? 0.0f : 10000.0f;
    /* f_attention_scale: LLM_TYPE_27B (46 blocks for gemma2, 62 for gemma3) takes n_embd / n_head */
    const bool big = hp->n_layer == (g2 ? 46 : 62);
    const int64_t scalar = big ? hp->n_embd / hp->n_head : hp->head_dim;
    hp->query_scale = scalar > 0 ? 1.0f / sqrtf((float)scalar) : 0.0f;
}

/* ---- keys --------------------------------------------------------------------------------------- */

static int add_u32(struct gguf_writer *w, const char *arch, const char *suffix, int64_t v)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (v < 0 || v > (int64_t)UINT32_MAX)
        return ig_error_set(IG_EINVAL, "gguf_meta: key '%s': %lld does not fit UINT32", key, (long long)v);
    return gguf_writer_add_u32(w, key, (uint32_t)v);
}

static int add_f32(struct gguf_writer *w, const char *arch, const char *suffix, float v)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return gguf_writer_add_f32(w, key, v);
}

/* Gemma2Model.set_gguf_parameters: its own list, not TextModel's (no vocab_size, rope keys). */
static int write_gemma2(struct gguf_writer *w, const struct model_hparams *hp)
{
    const char *a = hp->arch;
    int rc = add_u32(w, a, "context_length", hp->n_ctx_train);
    rc = rc ? rc : add_u32(w, a, "embedding_length", hp->n_embd);
    rc = rc ? rc : add_u32(w, a, "block_count", hp->n_layer);
    rc = rc ? rc : add_u32(w, a, "feed_forward_length", hp->n_ff);
    rc = rc ? rc : add_u32(w, a, "attention.head_count", hp->n_head);
    rc = rc ? rc : add_u32(w, a, "attention.head_count_kv", hp->n_head_kv);
    rc = rc ? rc : add_f32(w, a, "attention.layer_norm_rms_epsilon", hp->rms_eps);
    rc = rc ? rc : add_u32(w, a, "attention.key_length", hp->head_dim);
    rc = rc ? rc : add_u32(w, a, "attention.value_length", hp->head_dim);
    rc = rc ? rc : add_f32(w, a, "attn_logit_softcapping", hp->attn_softcap);
    rc = rc ? rc : add_f32(w, a, "final_logit_softcapping", hp->final_softcap);
    return rc ? rc : add_u32(w, a, "attention.sliding_window", hp->sliding_window);
}

/* Gemma3Model.set_gguf_parameters: TextModel's keys, then its own (rewrites keep their place). */
static int write_gemma3(struct gguf_writer *w, const struct model_hparams *hp)
{
    const char *a = hp->arch;
    int rc = add_u32(w, a, "block_count", hp->n_layer);
    rc = rc ? rc : add_u32(w, a, "context_length", hp->n_ctx_train);
    rc = rc ? rc : add_u32(w, a, "embedding_length", hp->n_embd);
    rc = rc ? rc : add_u32(w, a, "feed_forward_length", hp->n_ff);
    rc = rc ? rc : add_u32(w, a, "attention.head_count", hp->n_head);
    rc = rc ? rc : add_u32(w, a, "attention.head_count_kv", hp->n_head_kv);
    rc = rc ? rc : add_f32(w, a, "rope.freq_base", hp->rope_theta);
    rc = rc ? rc : add_f32(w, a, "attention.layer_norm_rms_epsilon", hp->rms_eps);
    rc = rc ? rc : add_u32(w, a, "attention.key_length", hp->head_dim);
    rc = rc ? rc : add_u32(w, a, "attention.value_length", hp->head_dim);
    if (!rc && hp->rope_scaling_type[0]) {
        char key[128];
        snprintf(key, sizeof key, "%s.rope.scaling.type", a);
        rc = gguf_writer_add_str(w, key, hp->rope_scaling_type);
        rc = rc ? rc : add_f32(w, a, "rope.scaling.factor", hp->rope_scaling_factor);
    }
    if (!rc && hp->final_softcap > 0)
        rc = add_f32(w, a, "final_logit_softcapping", hp->final_softcap);
    if (!rc && hp->sliding_window > 0)
        rc = add_u32(w, a, "attention.sliding_window", hp->sliding_window);
    return rc;
}

int gemma_meta_write_hparams(struct gguf_writer *w, const struct model_hparams *hp)
{
    int rc = gguf_writer_add_str(w, "general.architecture", hp->arch);
    if (!rc && hp->name[0])
        rc = gguf_writer_add_str(w, "general.name", hp->name);
    if (rc)
        return rc;
    return strcmp(hp->arch, "gemma2") == 0 ? write_gemma2(w, hp) : write_gemma3(w, hp);
}
