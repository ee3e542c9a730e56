/* hf_model.c — an HF llama/qwen2 folder as a model_src with llama.cpp's tensor names.
 *
 * Reads config.json, then the tokenizer (tokenizer.model, else tokenizer.json, plus
 * tokenizer_config.json / special_tokens_map.json), then the safetensors, and maps each
 * tensor to its GGUF name the way llama.cpp's convert_hf_to_gguf.py does: shapes are
 * reversed into ggml order, checked against config.json, and llama's q_proj/k_proj rows
 * are marked for the rotary-layout permutation (qwen2 uses NEOX rope: no permutation).
 * Tied embeddings may be stored under either name; both token_embd.weight and
 * output.weight are exposed (convert decides whether to write the second).
 */
#include "../common/ig_error.h"
#include "ggml_type.h"
#include "hf_config.h"
#include "model_src_impl.h"
#include "safetensors.h"
#include "tokenizer.h"

#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* HF suffix within "model.layers.N." -> GGUF suffix within "blk.N." */
static const struct {
    const char *hf;
    const char *gguf;
} layer_names[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
};

#define N_LAYER_NAMES (sizeof layer_names / sizeof layer_names[0])

struct hf_impl {
    struct st_model *st;
    float *rope_freqs;   /* [head_dim / 2] for rope_scaling llama3, else NULL */
};

static void hf_impl_close(void *p)
{
    struct hf_impl *impl = p;
    if (!impl)
        return;
    st_close(impl->st);
    free(impl->rope_freqs);
    free(impl);
}

/* ---- names and shapes -------------------------------------------------------------------- */

/* Map an HF name to its GGUF name. Returns 1 if mapped, 0 if the tensor is to be skipped,
 * or IG_EINVAL if unknown. */
static int map_name(const char *hf, char *gguf, size_t size, int64_t n_layer, int64_t *layer)
{
    *layer = -1;
    if (strcmp(hf, "model.embed_tokens.weight") == 0)
        return snprintf(gguf, size, "token_embd.weight"), 1;
    if (strcmp(hf, "lm_head.weight") == 0)
        return snprintf(gguf, size, "output.weight"), 1;
    if (strcmp(hf, "model.norm.weight") == 0)
        return snprintf(gguf, size, "output_norm.weight"), 1;
    long l;
    int n = 0;
    if (sscanf(hf, "model.layers.%ld.%n", &l, &n) == 1 && n > 0 && l >= 0 && l < n_layer) {
        const char *rest = hf + n;
        if (strstr(rest, "rotary_emb.inv_freq"))
            return 0;
        for (size_t i = 0; i < N_LAYER_NAMES; i++) {
            if (strcmp(rest, layer_names[i].hf) == 0) {
                *layer = l;
                snprintf(gguf, size, "blk.%ld.%s", l, layer_names[i].gguf);
                return 1;
            }
        }
    }
    return IG_EINVAL;
}

static int tensor_from_st(struct src_tensor *t, const struct st_tensor *st, const char *gguf_name)
{
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", gguf_name);
    snprintf(t->src_name, sizeof t->src_name, "%s", st->name);
    if (st->n_dims < 1 || st->n_dims > 2)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s': %d dimensions, expected 1 or 2", st->file, st->name,
                            st->n_dims);
    t->n_dims = st->n_dims;
    t->ne[0] = t->ne[1] = t->ne[2] = t->ne[3] = 1;
    for (int d = 0; d < st->n_dims; d++)
        t->ne[d] = st->shape[st->n_dims - 1 - d];
    t->type = st->type;
    t->data = st->data;
    t->size_bytes = st->size_bytes;
    t->file = st->file;
    return 0;
}

/* ---- the three stages ------------------------------------------------------------------- */

static int read_config(struct model_src *src, const char *folder)
{
    char *path = file_path_join(folder, "config.json");
    if (!path)
        return IG_ENOMEM;
    int rc = hf_config_read(&src->hp, path);
    if (!rc)
        rc = model_src_add_file(src, path, 0);
    free(path);
    if (rc)
        return rc;
    char *copy = strdup(folder);
    if (!copy)
        return IG_ENOMEM;
    /* general.name: the folder's base name, as llama.cpp's converter does */
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/')
        copy[--n] = '\0';
    snprintf(src->hp.name, sizeof src->hp.name, "%s", basename(copy));
    free(copy);
    return 0;
}

static int pad_vocab(struct model_src *src, const char *tok_path)
{
    struct vocab *v = &src->vocab;
    int64_t want = src->hp.n_vocab;
    if (v->n_tokens > want)
        return ig_error_set(IG_EINVAL, "%s: %lld tokens, but config.json's vocab_size is %lld", tok_path,
                            (long long)v->n_tokens, (long long)want);
    if (v->n_tokens == want)
        return 0;
    /* Real checkpoints pad a few rows (Qwen2: 290 of 151936, to a multiple of 128); a
     * tokenizer of 3 pieces for 512 rows is the wrong file, and every text would become
     * <unk>. ingot lets padding fill at most half of the embedding. */
    if (v->n_tokens < want - want / 2)
        return ig_error_set(IG_EINVAL, "%s: %lld tokens, but config.json's vocab_size is %lld: expected at least %lld (at most half of the embedding rows may be padding)",
                            tok_path, (long long)v->n_tokens, (long long)want, (long long)(want - want / 2));
    /* llama.cpp pads a short tokenizer with "[PAD<i>]" tokens of type UNUSED */
    char **tokens = ig_realloc(v->tokens, (size_t)want * sizeof *tokens);
    if (!tokens)
        return IG_ENOMEM;
    v->tokens = tokens;
    int32_t *types = ig_realloc(v->types, (size_t)want * sizeof *types);
    if (!types)
        return IG_ENOMEM;
    v->types = types;
    if (v->scores) {
        float *scores = ig_realloc(v->scores, (size_t)want * sizeof *scores);
        if (!scores)
            return IG_ENOMEM;
        v->scores = scores;
    }
    for (int64_t i = v->n_tokens; i < want; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "[PAD%lld]", (long long)i);
        v->tokens[i] = strdup(buf);
        v->types[i] = VOCAB_TOKEN_UNUSED;
        if (v->scores)
            v->scores[i] = 0.0f;
        if (!v->tokens[i])
            return IG_ENOMEM;
        v->n_tokens = i + 1;
    }
    return 0;
}

static int read_tokenizer(struct model_src *src, const char *folder)
{
    char *spm = file_path_join(folder, "tokenizer.model");
    char *hf = file_path_join(folder, "tokenizer.json");
    int rc = spm && hf ? 0 : IG_ENOMEM;
    const char *used = NULL;
    if (!rc) {
        if (file_is_regular(spm)) {
            used = spm;
            rc = tokenizer_spm_read(&src->vocab, spm);
        } else if (file_is_regular(hf)) {
            used = hf;
            rc = tokenizer_hf_read(&src->vocab, hf);
        } else {
            rc = ig_error_set(IG_EINVAL, "%s: no tokenizer.model or tokenizer.json in the folder", folder);
        }
    }
    if (!rc)
        rc = tokenizer_hf_apply_config(&src->vocab, folder);
    if (!rc)
        rc = model_src_add_file(src, used, 0);
    free(spm);
    free(hf);
    return rc;
}

/* Add token_embd.weight or output.weight as a view of the same bytes. */
static int add_alias(struct model_src *src, const struct st_tensor *st, const char *gguf_name)
{
    struct src_tensor t;
    int rc = tensor_from_st(&t, st, gguf_name);
    return rc ? rc : model_src_add_tensor(src, &t);
}

static int add_mapped(struct model_src *src, const struct st_tensor *st, bool has_embed, bool has_head)
{
    char name[MODEL_NAME_MAX];
    int64_t layer;
    int m = map_name(st->name, name, sizeof name, src->hp.n_layer, &layer);
    if (m == 0)
        return 0;
    if (m < 0)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s' has no llama.cpp name (not a %s tensor, or its layer is >= num_hidden_layers %lld)",
                            st->file, st->name, src->hp.arch, (long long)src->hp.n_layer);
    struct src_tensor t;
    int rc = tensor_from_st(&t, st, name);
    if (rc)
        return rc;
    if (strcmp(src->hp.arch, "llama") == 0) {
        if (strstr(name, ".attn_q."))
            t.permute_n_head = src->hp.n_head;
        else if (strstr(name, ".attn_k."))
            t.permute_n_head = src->hp.n_head_kv;
    }
    /* tied checkpoints store one matrix under either name: expose it under both */
    bool is_head = strcmp(name, "output.weight") == 0, is_embed = strcmp(name, "token_embd.weight") == 0;
    if (is_head && !has_embed && (rc = add_alias(src, st, "token_embd.weight")))
        return rc;
    if ((rc = model_src_add_tensor(src, &t)))
        return rc;
    if (is_embed && !has_head)
        rc = add_alias(src, st, "output.weight");
    return rc;
}

/* Llama 3.1's rope scaling as llama.cpp's converter (convert_hf_to_gguf.py, LlamaModel.
 * generate_extra_tensors) turns it into rope_freqs.weight, one divisor per rotated pair i:
 *   freq_i = 1 / base^(2i/dim), wavelen_i = 2π / freq_i,
 *   1 below old_ctx/high_freq_factor, factor above old_ctx/low_freq_factor, and between
 *   1 / ((1 - s)/factor + s) with s = (old_ctx/wavelen - low) / (high - low).
 * Every step in fp32, as torch computes it there (its Python scalars become fp32 operands;
 * the two wavelength bounds are computed in double first). */
static void llama3_rope_freqs(const struct model_hparams *hp, float *out)
{
    const int64_t dim = hp->head_dim;
    const float base = hp->rope_theta, factor = hp->rope_scaling_factor > 0 ? hp->rope_scaling_factor : 8.0f;
    const double low = hp->rope_llama3_low_freq, high = hp->rope_llama3_high_freq;
    const double old_ctx = (double)hp->rope_llama3_orig_ctx;
    const float low_wavelen = (float)(old_ctx / low), high_wavelen = (float)(old_ctx / high);
    for (int64_t i = 0; i < dim / 2; i++) {
        float freq = 1.0f / powf(base, (float)(2 * i) / (float)dim);
        float wavelen = (float)(2 * M_PI) / freq;
        if (wavelen < high_wavelen) {
            out[i] = 1.0f;
        } else if (wavelen > low_wavelen) {
            out[i] = factor;
        } else {
            float smooth = ((float)old_ctx / wavelen - (float)low) / (float)(high - low);
            out[i] = 1.0f / ((1.0f - smooth) / factor + smooth);
        }
    }
}

/* rope_freqs.weight, first in the file as llama.cpp's converter yields it before the
 * checkpoint's tensors; its bytes live in impl (the file named is config.json). */
static int add_rope_freqs(struct model_src *src, struct hf_impl *impl)
{
    const int64_t n = src->hp.head_dim / 2;
    impl->rope_freqs = ig_malloc((size_t)n * sizeof *impl->rope_freqs);
    if (!impl->rope_freqs)
        return IG_ENOMEM;
    llama3_rope_freqs(&src->hp, impl->rope_freqs);
    struct src_tensor t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "rope_freqs.weight");
    snprintf(t.src_name, sizeof t.src_name, "(rope_scaling llama3)");
    t.n_dims = 1;
    t.ne[0] = n;
    t.ne[1] = t.ne[2] = t.ne[3] = 1;
    t.type = GGML_TYPE_F32;
    t.data = (const uint8_t *)impl->rope_freqs;
    t.size_bytes = (uint64_t)n * sizeof(float);
    t.file = src->files[0].path;
    return model_src_add_tensor(src, &t);
}

static int read_weights(struct model_src *src, const char *folder)
{
    struct hf_impl *impl = ig_calloc(1, sizeof *impl);
    if (!impl)
        return IG_ENOMEM;
    src->impl = impl;
    src->impl_close = hf_impl_close;
    int rc = st_open(&impl->st, folder);
    if (rc)
        return rc;
    bool has_embed = st_find(impl->st, "model.embed_tokens.weight") != NULL;
    bool has_head = st_find(impl->st, "lm_head.weight") != NULL;
    if (!has_embed || !has_head)
        src->hp.tie_embeddings = true;
    if (strcmp(src->hp.rope_scaling_type, "llama3") == 0)
        rc = add_rope_freqs(src, impl);
    for (int64_t i = 0; i < st_n_tensors(impl->st) && !rc; i++)
        rc = add_mapped(src, st_tensor_at(impl->st, i), has_embed, has_head);
    for (int i = 0; i < st_n_files(impl->st) && !rc; i++)
        rc = model_src_add_file(src, st_file_path(impl->st, i), st_file_size(impl->st, i));
    return rc;
}

int hf_model_open(struct model_src *src, const char *folder)
{
    src->kind = MODEL_SRC_HF;
    /* The order fixes which fault is reported first: config.json, the tokenizer, the
     * safetensors, their shapes; only then is the vocabulary padded to vocab_size, so a
     * vocab_size the embedding does not have never reaches the allocator. */
    int rc = read_config(src, folder);
    if (!rc)
        rc = read_tokenizer(src, folder);
    int tok_file = src->n_files - 1;
    if (!rc)
        rc = read_weights(src, folder);
    if (!rc)
        rc = model_src_check_tensors(src);
    if (!rc)
        rc = pad_vocab(src, src->files[tok_file].path);
    return rc;
}
