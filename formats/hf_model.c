/* hf_model.c — an HF llama/qwen2 folder as a model_src with llama.cpp's tensor names.
 *
 * Reads config.json, then the tokenizer (tokenizer.model, else tokenizer.json, plus
 * tokenizer_config.json / special_tokens_map.json), then the safetensors, and maps each
 * tensor to its GGUF name the way llama.cpp's convert_hf_to_gguf.py does: shapes are
 * reversed into ggml order, checked against config.json, and llama's q_proj/k_proj rows
 * are marked for the rotary-layout permutation (qwen2 uses NEOX rope: no permutation).
 * Tied embeddings may be stored under either name; both token_embd.weight and
 * output.weight are exposed (convert decides whether to write the second).
 * A folder quantized by GPTQ, AWQ or bitsandbytes (hf_quant.h) has each quantized linear's
 * parts gathered into one tensor of the logical shape, read through hfq_read_rows_f32.
 */
#include "../common/ig_error.h"
#include "gemma_arch.h"
#include "ggml_type.h"
#include "hf_config.h"
#include "hf_moe.h"
#include "hf_quant.h"
#include "model_src_impl.h"
#include "safetensors.h"
#include "tokenizer.h"

#include <jansson.h>
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
    {"self_attn.q_norm.weight", "attn_q_norm.weight"},   /* qwen3 */
    {"self_attn.k_norm.weight", "attn_k_norm.weight"},
    {"self_attn.qkv_proj.weight", "attn_qkv.weight"},    /* phi3: kept fused, as llama.cpp keeps it */
    {"mlp.gate_up_proj.weight", "ffn_up.weight"},        /* phi3: gate rows, then up rows */
    {"block_sparse_moe.gate.weight", "ffn_gate_inp.weight"},   /* mixtral's router */
};

#define N_LAYER_NAMES (sizeof layer_names / sizeof layer_names[0])

struct hf_impl {
    struct st_model *st;
    float *rope_freqs;   /* [head_dim / 2] for rope_scaling llama3, else NULL */
    float *rope_factors; /* phi3 longrope: [2][n_rot / 2], long then short, else NULL */
    struct hfq_config qc;             /* method HFQ_NONE: an ordinary float folder */
    struct hfq_tensor *quant;         /* [n_quant]: never reallocated, tensors point in */
    int64_t n_quant;
    char quant_desc[HFQ_DESC_MAX + 640];
    struct hf_moe *moe;               /* mixtral: the expert stacks, else NULL */
    int64_t n_mm_skipped;             /* gemma3 multimodal: vision tower / projector tensors left out */
    int64_t n_pieces_cut;             /* tokenizer.model pieces past vocab_size left out */
    char notes[1024];                 /* hf_model_notes */
};

static void hf_impl_close(void *p)
{
    struct hf_impl *impl = p;
    if (!impl)
        return;
    st_close(impl->st);
    free(impl->rope_freqs);
    free(impl->rope_factors);
    free(impl->quant);
    hf_moe_destroy(impl->moe);
    free(impl);
}

/* ---- names and shapes -------------------------------------------------------------------- */

/* Map an HF name to its GGUF name. Returns 1 if mapped, 0 if the tensor is to be skipped,
 * or IG_EINVAL if unknown. */
static int map_name(const char *hf, char *gguf, size_t size, int64_t n_layer, int64_t *layer, const char *arch)
{
    *layer = -1;
    char text_name[256];
    hf = gemma_hf_text_name(arch, hf, text_name, sizeof text_name);   /* multimodal gemma3: its language model */
    if (!hf)
        return 0;
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
        const char *g = gemma_hf_block_name(arch, rest);   /* gemma's norms differ (gemma_arch.h) */
        if (g) {
            *layer = l;
            snprintf(gguf, size, "blk.%ld.%s", l, g);
            return 1;
        }
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

/* A tokenizer.model with more pieces than config.json's vocab_size (test checkpoints with a cut
 * embedding): llama.cpp's converter keeps the first vocab_size pieces ("ignore tokens from ...: id is
 * out of range"), and so does ingot, with a note; special ids past the cut are dropped. */
static void cut_pieces(struct model_src *src)
{
    struct vocab *v = &src->vocab;
    const int64_t want = src->hp.n_vocab;
    for (int64_t i = want; i < v->n_tokens; i++)
        free(v->tokens[i]);
    ((struct hf_impl *)src->impl)->n_pieces_cut = v->n_tokens - want;
    v->n_tokens = want;
    int64_t *ids[] = {&v->bos_id, &v->eos_id, &v->unk_id, &v->pad_id};
    for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++)
        if (*ids[k] >= want)
            *ids[k] = -1;
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
    if (!rc && gemma_arch_is(src->hp.arch))
        src->vocab.add_space_prefix = 0;   /* Gemma2Model/Gemma3Model.set_vocab: add_add_space_prefix(False) */
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
    int m = map_name(st->name, name, sizeof name, src->hp.n_layer, &layer, src->hp.arch);
    if (m == 0 && !gemma_hf_text_name(src->hp.arch, st->name, name, sizeof name))
        ((struct hf_impl *)src->impl)->n_mm_skipped++;
    if (m == 0)
        return 0;
    if (m < 0)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s' has no llama.cpp name (not a %s tensor, or its layer is >= num_hidden_layers %lld)",
                            st->file, st->name, src->hp.arch, (long long)src->hp.n_layer);
    struct src_tensor t;
    int rc = tensor_from_st(&t, st, name);
    if (rc)
        return rc;
    t.norm_shift = gemma_norm_shift(src->hp.arch, st->name);   /* gemma's (1 + w) norms */
    if (strcmp(src->hp.arch, "llama") == 0) {
        if (strstr(name, ".attn_q."))
            t.permute_n_head = src->hp.n_head;
        else if (strstr(name, ".attn_k."))
            t.permute_n_head = src->hp.n_head_kv;
    }
    /* tied checkpoints store one matrix under either name: expose it under both */
    bool is_head = strcmp(name, "output.weight") == 0, is_embed = strcmp(name, "token_embd.weight") == 0;
    /* gemma: the converter drops lm_head and llama.cpp loads no output.weight (an extra tensor
     * fails its tensor count): the embedding is the output projection */
    if (gemma_arch_is(src->hp.arch) && (is_head || is_embed)) {
        if (is_head)
            return 0;
        if (strcmp(src->hp.arch, "gemma3") == 0 && t.n_dims == 2 && t.ne[1] > src->hp.n_vocab) {
            /* Gemma3Model.modify_tensors drops the embedding rows past the tokenizer's tokens (the
             * 4B-27B releases have 262208 rows for 262144 tokens); rows are contiguous */
            t.size_bytes = t.size_bytes / (uint64_t)t.ne[1] * (uint64_t)src->hp.n_vocab;
            t.ne[1] = src->hp.n_vocab;
        }
        return model_src_add_tensor(src, &t);
    }
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

/* phi3 longrope: rope_factors_long.weight then rope_factors_short.weight, F32
 * [n_rot / 2], first in the file as Phi3MiniModel.generate_extra_tensors yields them before the
 * checkpoint's tensors; the values are config.json's (hf_config.c), so the file named is it. */
static int add_rope_factors(struct model_src *src, struct hf_impl *impl)
{
    const int64_t n = src->hp.rope_factors_n;
    impl->rope_factors = ig_malloc((size_t)(2 * n) * sizeof *impl->rope_factors);
    if (!impl->rope_factors)
        return IG_ENOMEM;
    memcpy(impl->rope_factors, src->hp.rope_factors_long, (size_t)n * sizeof(float));
    memcpy(impl->rope_factors + n, src->hp.rope_factors_short, (size_t)n * sizeof(float));
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++) {
        struct src_tensor t;
        memset(&t, 0, sizeof t);
        snprintf(t.name, sizeof t.name, "%s", k == 0 ? "rope_factors_long.weight" : "rope_factors_short.weight");
        snprintf(t.src_name, sizeof t.src_name, "(rope_scaling %s)", k == 0 ? "long_factor" : "short_factor");
        t.n_dims = 1;
        t.ne[0] = n;
        t.ne[1] = t.ne[2] = t.ne[3] = 1;
        t.type = GGML_TYPE_F32;
        t.data = (const uint8_t *)(impl->rope_factors + k * n);
        t.size_bytes = (uint64_t)n * sizeof(float);
        t.file = src->files[0].path;
        rc = model_src_add_tensor(src, &t);
    }
    return rc;
}

/* ---- quantized linears ------------------------------------------------------------------ */

/* in_features and out_features of the linear that becomes gguf_name, from the hyperparameters;
 * false for a tensor that is no linear. */
static bool linear_dims(const struct model_hparams *hp, const char *gguf_name, int64_t *n_in, int64_t *n_out)
{
    const int64_t q = hp->n_head * hp->head_dim, kv = hp->n_head_kv * hp->head_dim;
    static const char *const names[] = {".attn_q.weight", ".attn_k.weight", ".attn_v.weight", ".attn_output.weight",
                                        ".ffn_gate.weight", ".ffn_up.weight", ".ffn_down.weight"};
    const int64_t ins[] = {hp->n_embd, hp->n_embd, hp->n_embd, q, hp->n_embd, hp->n_embd, hp->n_ff};
    const int64_t outs[] = {q, kv, kv, hp->n_embd, hp->n_ff, hp->n_ff, hp->n_embd};
    if (strcmp(gguf_name, "output.weight") == 0) {
        *n_in = hp->n_embd;
        *n_out = hp->n_vocab;
        return true;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *p = strstr(gguf_name, names[i]);
        if (p && strncmp(gguf_name, "blk.", 4) == 0 && strcmp(p, names[i]) == 0) {
            *n_in = ins[i];
            *n_out = outs[i];
            return true;
        }
    }
    return false;
}

/* One quantized linear (its main part st) as a tensor read through hfq_read_rows_f32. */
static int add_quantized(struct model_src *src, struct hf_impl *impl, const struct st_tensor *st, const char *prefix)
{
    char hf_name[512], name[MODEL_NAME_MAX];
    int64_t layer, n_in, n_out;
    snprintf(hf_name, sizeof hf_name, "%s.weight", prefix);
    int m = map_name(hf_name, name, sizeof name, src->hp.n_layer, &layer, src->hp.arch);
    if (m <= 0 || !linear_dims(&src->hp, name, &n_in, &n_out))
        return ig_error_set(IG_EINVAL, "%s: tensor '%s' is a quantized linear, but '%s' is not a linear of a %s model (or its layer is >= num_hidden_layers %lld)",
                            st->file, st->name, prefix, src->hp.arch, (long long)src->hp.n_layer);
    struct hfq_tensor *q = &impl->quant[impl->n_quant];
    struct src_tensor t;
    memset(&t, 0, sizeof t);
    int rc = hfq_tensor_build(q, &impl->qc, impl->st, prefix, n_in, n_out, &t.size_bytes);
    if (rc)
        return rc;
    impl->n_quant++;
    snprintf(t.name, sizeof t.name, "%s", name);
    snprintf(t.src_name, sizeof t.src_name, "%s", st->name);
    t.n_dims = 2;
    t.ne[0] = n_in;
    t.ne[1] = n_out;
    t.ne[2] = t.ne[3] = 1;
    t.type = SRC_TYPE_CALLBACK;
    t.file = st->file;
    t.read_rows_f32 = hfq_read_rows_f32;
    t.aux = q;
    t.type_name = q->type_name;
    if (strcmp(src->hp.arch, "llama") == 0) {
        if (strstr(name, ".attn_q."))
            t.permute_n_head = src->hp.n_head;
        else if (strstr(name, ".attn_k."))
            t.permute_n_head = src->hp.n_head_kv;
    }
    return model_src_add_tensor(src, &t);
}

/* A Mixtral expert linear: recorded, and its stack added once the last expert's part is seen
 * (where llama.cpp's converter yields it). */
static int add_expert_part(struct model_src *src, struct hf_impl *impl, const struct st_tensor *st)
{
    bool complete;
    struct src_tensor t;
    int rc = hf_moe_take(impl->moe, st, &complete, &t);
    return rc || !complete ? rc : model_src_add_tensor(src, &t);
}

/* Gather quantized linears (when the folder has a quantization config) and add every other
 * tensor by name. */
static int add_all(struct model_src *src, struct hf_impl *impl, bool has_embed, bool has_head)
{
    char prefix[256];
    bool is_main;
    const struct hfq_config *qc = &impl->qc;
    int64_t n_main = 0, n = st_n_tensors(impl->st);
    for (int64_t i = 0; qc->method != HFQ_NONE && i < n; i++)
        n_main += hfq_classify(impl->st, qc, st_tensor_at(impl->st, i)->name, prefix, sizeof prefix, &is_main) && is_main;
    if (n_main > 0 && !(impl->quant = ig_calloc((size_t)n_main, sizeof *impl->quant)))
        return IG_ENOMEM;
    int rc = 0;
    for (int64_t i = 0; i < n && !rc; i++) {
        const struct st_tensor *t = st_tensor_at(impl->st, i);
        if (qc->method != HFQ_NONE && hfq_classify(impl->st, qc, t->name, prefix, sizeof prefix, &is_main))
            rc = is_main ? add_quantized(src, impl, t, prefix) : 0;
        else if (t->type != GGML_TYPE_F32 && t->type != GGML_TYPE_F16 && t->type != GGML_TYPE_BF16)
            rc = ig_error_set(IG_EINVAL, "%s: tensor '%s': dtype %s is not part of a %s linear (expected F32, F16 or BF16)",
                              t->file, t->name, t->dtype ? t->dtype : "?", qc->desc[0] ? qc->desc : "quantized");
        else if (impl->moe && hf_moe_is_part(t->name))
            rc = add_expert_part(src, impl, t);
        else
            rc = add_mapped(src, t, has_embed, has_head);
    }
    if (!rc && qc->method != HFQ_NONE)
        snprintf(impl->quant_desc, sizeof impl->quant_desc, "%s; %lld quantized linears; settings from %s", qc->desc,
                 (long long)impl->n_quant, qc->path);
    return rc;
}

static int read_weights(struct model_src *src, const char *folder)
{
    struct hf_impl *impl = ig_calloc(1, sizeof *impl);
    if (!impl)
        return IG_ENOMEM;
    src->impl = impl;
    src->impl_close = hf_impl_close;
    int rc = hfq_config_read(&impl->qc, folder);
    if (!rc)
        rc = st_open_flags(&impl->st, folder, impl->qc.method != HFQ_NONE ? ST_OPEN_INTEGER_DTYPES : 0);
    if (rc)
        return rc;
    bool has_embed = st_find(impl->st, "model.embed_tokens.weight") != NULL;
    bool has_head = st_find(impl->st, "lm_head.weight") != NULL || st_find(impl->st, "lm_head.qweight") != NULL;
    if (!has_embed || !has_head)
        src->hp.tie_embeddings = true;
    if (strcmp(src->hp.rope_scaling_type, "llama3") == 0)
        rc = add_rope_freqs(src, impl);
    if (!rc && src->hp.rope_factors_n > 0)
        rc = add_rope_factors(src, impl);
    if (!rc && src->hp.n_expert > 0)
        rc = hf_moe_create(&impl->moe, src->hp.n_layer, src->hp.n_expert);
    if (!rc)
        rc = add_all(src, impl, has_embed, has_head);
    for (int i = 0; i < st_n_files(impl->st) && !rc; i++)
        rc = model_src_add_file(src, st_file_path(impl->st, i), st_file_size(impl->st, i));
    return rc;
}

/* phi3: tokenizer.json's added tokens over tokenizer.model's pieces and the padding, as
 * llama.cpp's Phi3 converter lays them; then the special ids again, now that their texts exist. */
static int overlay_added(struct model_src *src, const char *folder)
{
    char *path = file_path_join(folder, "tokenizer.json");
    int rc = path ? tokenizer_hf_overlay_added(&src->vocab, path) : IG_ENOMEM;
    free(path);
    return rc ? rc : tokenizer_hf_apply_config(&src->vocab, folder);
}

/* Whether config.json is a text-only gemma3 (Gemma3ForCausalLM: its keys at the top) that states
 * vocab_size (read again: model_hparams holds the value, defaulted or not). A config that fails to
 * read was already reported. */
static bool gemma3_states_vocab_size(const char *folder)
{
    char *path = file_path_join(folder, "config.json");
    json_t *root = path ? json_load_file(path, JSON_DECODE_INT_AS_REAL, NULL) : NULL;
    const bool given = json_object_get(root, "vocab_size") && !json_object_get(root, "text_config");
    json_decref(root);
    free(path);
    return given;
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
    /* gemma3 multimodal (the 4B-27B releases leave vocab_size to Gemma3TextConfig's 262208): the
     * converter sizes the vocabulary by the tokenizer and cuts the embedding to it (add_mapped). A
     * text-only gemma3 whose config states a vocab_size above the pieces (test checkpoints) keeps it,
     * padded with "[PAD<i>]", as _create_vocab_sentencepiece pads to a stated vocab_size */
    if (!rc && strcmp(src->hp.arch, "gemma3") == 0 && src->vocab.n_tokens < src->hp.n_vocab &&
        !gemma3_states_vocab_size(folder))
        src->hp.n_vocab = src->vocab.n_tokens;
    if (!rc)
        rc = read_weights(src, folder);
    if (!rc)
        rc = model_src_check_tensors(src);
    const char *tok_path = rc ? "" : src->files[tok_file].path;
    const size_t tok_len = strlen(tok_path), spm_len = strlen("tokenizer.model");
    const bool spm_file = tok_len >= spm_len && strcmp(tok_path + tok_len - spm_len, "tokenizer.model") == 0;
    if (!rc && spm_file && src->vocab.n_tokens > src->hp.n_vocab)
        cut_pieces(src);
    const int64_t n_pieces = src->vocab.n_tokens;
    if (!rc)
        rc = pad_vocab(src, src->files[tok_file].path);
    /* tokenizer.model: the converter's piece types, added_tokens.json and added_tokens_decoder, then the
     * special ids again from the texts they now have */
    if (!rc && spm_file && !(rc = tokenizer_spm_apply_hf(&src->vocab, n_pieces, folder)))
        rc = tokenizer_hf_apply_config(&src->vocab, folder);
    if (!rc && strcmp(src->hp.arch, "phi3") == 0 && strcmp(src->vocab.model, "llama") == 0)
        rc = overlay_added(src, folder);
    return rc;
}

const char *hf_model_notes(const struct model_src *src)
{
    if (!src || src->kind != MODEL_SRC_HF || !src->impl)
        return "";
    struct hf_impl *impl = src->impl;
    char gemma[768];
    gemma_convert_notes(&src->hp, gemma, sizeof gemma);
    int n = 0;
    if (impl->n_mm_skipped > 0)
        n = snprintf(impl->notes, sizeof impl->notes,
                     "left out %lld vision tower / projector tensors (vision_tower.*, multi_modal_projector.*): the GGUF "
                     "holds the language model, as llama.cpp's converter writes it (the image encoder goes to its "
                     "separate mmproj file)\n", (long long)impl->n_mm_skipped);
    if (impl->n_pieces_cut > 0)
        n += snprintf(impl->notes + n, sizeof impl->notes - (size_t)n,
                      "tokenizer.model has %lld pieces more than config.json's vocab_size %lld: they are left out, as "
                      "llama.cpp's converter leaves them out\n", (long long)impl->n_pieces_cut, (long long)src->hp.n_vocab);
    snprintf(impl->notes + n, sizeof impl->notes - (size_t)n, "%s", gemma);
    return impl->notes;
}

const char *model_src_quant_desc(const struct model_src *src)
{
    if (!src || src->kind != MODEL_SRC_HF || !src->impl)
        return NULL;
    const struct hf_impl *impl = src->impl;
    return impl->qc.method != HFQ_NONE ? impl->quant_desc : NULL;
}
