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

/* ---- which blocks slide ------------------------------------------------------------------------ */

int64_t gemma_swa_pattern_default(const char *arch)
{
    return strcmp(arch, "gemma2") == 0 ? 2 : 6;
}

int64_t gemma_swa_pattern_canonical(const char *arch, int64_t n_layer, int64_t pattern)
{
    const int64_t d = gemma_swa_pattern_default(arch);
    for (int64_t l = 0; l < n_layer; l++)
        if ((l % pattern == pattern - 1) != (l % d == d - 1))
            return pattern;
    return d;
}

int gemma_gguf_read_pattern(const struct gguf_file *g, struct model_hparams *hp)
{
    char key[128];
    snprintf(key, sizeof key, "%s.attention.sliding_window_pattern", hp->arch);
    const int64_t i = gguf_find_key(g, key);
    if (i < 0)
        return 0;
    const struct gguf_kv *kv = gguf_kv_at(g, i);
    if (kv->type == GGUF_VALUE_UINT32) {
        uint32_t p;
        memcpy(&p, kv->value, 4);
        if (p == 0)
            return ig_error_set(IG_EINVAL, "gguf: %s: key '%s' is 0, expected a period >= 1", gguf_path(g), key);
        hp->swa_pattern = p;
        return 0;
    }
    const size_t es = kv->type == GGUF_VALUE_ARRAY ? gguf_value_type_size(kv->elem_type) : 0;
    const bool ok_type = kv->type == GGUF_VALUE_ARRAY && (kv->elem_type == GGUF_VALUE_BOOL || kv->elem_type == GGUF_VALUE_UINT8 ||
                                                          kv->elem_type == GGUF_VALUE_INT32 || kv->elem_type == GGUF_VALUE_UINT32);
    if (!ok_type || (int64_t)kv->count != hp->n_layer)
        return ig_error_set(IG_EINVAL, "gguf: %s: key '%s': expected UINT32 or an array of block_count (%lld) BOOL",
                            gguf_path(g), key, (long long)hp->n_layer);
    /* per block: nonzero = sliding; the first full block fixes the period, which every block must keep */
    int64_t first_full = -1;
    for (uint64_t l = 0; l < kv->count && first_full < 0; l++) {
        uint32_t v = 0;
        memcpy(&v, kv->value + l * es, es);
        if (!v)
            first_full = (int64_t)l;
    }
    const int64_t p = first_full < 0 ? hp->n_layer + 1 : first_full + 1;
    for (uint64_t l = 0; l < kv->count; l++) {
        uint32_t v = 0;
        memcpy(&v, kv->value + l * es, es);
        if ((v == 0) != ((int64_t)l % p == p - 1))
            return ig_error_set(IG_EINVAL, "gguf: %s: key '%s': block %llu breaks the period %lld the first full block sets "
                                "(supported: a repeating pattern)", gguf_path(g), key, (unsigned long long)l, (long long)p);
    }
    hp->swa_pattern = gemma_swa_pattern_canonical(hp->arch, hp->n_layer, p);
    return 0;
}

/* ---- notes for convert ---------------------------------------------------------------------- */

const char *gemma_convert_notes(const struct model_hparams *hp, char *buf, size_t size)
{
    if (size)
        buf[0] = '\0';
    if (!gemma_arch_is(hp->arch) || size == 0)
        return buf;
    struct model_hparams d = *hp;
    gemma_hparams_gguf_defaults(&d);   /* the scale llama.cpp derives from the shapes */
    int n = 0;
    /* seen with node-llama-cpp 3.22.1: GGML_ASSERT(buffer) while loading such a gemma2 file (its
     * global-attention cache would hold no block); gemma3 loads */
    if (strcmp(hp->arch, "gemma2") == 0 && hp->sliding_window > 0 && hp->swa_pattern > hp->n_layer)
        n = snprintf(buf, size, "every block slides (layer_types has no full_attention): llama.cpp fails to load a "
                                "gemma2 file without a global-attention block; ingot converts and verifies it\n");
    if (n < 0 || (size_t)n >= size)
        return buf;
    if (hp->query_scale > 0 && fabsf(hp->query_scale - d.query_scale) > 1e-6f * d.query_scale)
        snprintf(buf + n, size - (size_t)n,
                 "config.json's query_pre_attn_scalar %.6g differs from the %.6g llama.cpp derives from the head "
                 "size (it has no key for it): llama.cpp will run this file with attention scale %.6g, not the "
                 "model's %.6g; ingot verify keeps the config's\n",
                 (double)(1.0f / (hp->query_scale * hp->query_scale)), (double)(1.0f / (d.query_scale * d.query_scale)),
                 (double)d.query_scale, (double)hp->query_scale);
    return buf;
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
    hp->swa_pattern = gemma_swa_pattern_default(hp->arch);
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

/* A period other than llama.cpp's default (a config's layer_types, or a sliding_window_pattern
 * other than 6): {arch}.attention.sliding_window_pattern, which llama.cpp's loader reads in place
 * of its default (checked with node-llama-cpp 3.22.1: a 2-block gemma3 with the key 2 gives the
 * perplexity of the config's layout, without it that of period 6). Released configs keep the
 * default, and their files then carry no such key, as llama.cpp's converter writes them. */
static int write_pattern(struct gguf_writer *w, const struct model_hparams *hp)
{
    if (hp->sliding_window <= 0 || hp->swa_pattern <= 0 || hp->swa_pattern == gemma_swa_pattern_default(hp->arch))
        return 0;
    return add_u32(w, hp->arch, "attention.sliding_window_pattern", hp->swa_pattern);
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
    rc = rc ? rc : add_u32(w, a, "attention.sliding_window", hp->sliding_window);
    return rc ? rc : write_pattern(w, hp);
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
    return rc ? rc : write_pattern(w, hp);
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
