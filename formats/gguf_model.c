/* gguf_model.c — a GGUF file as a model_src: hparams from {arch}.* keys, the vocabulary
 * from tokenizer.ggml.* keys, tensors as stored (any ggml type).
 *
 * Key types are checked as strictly as llama.cpp's loader checks them, so a file that
 * ingot accepts here is one llama.cpp would accept too.
 */
#include "../common/ig_error.h"
#include "ggml_type.h"
#include "gemma_arch.h"
#include "gguf.h"
#include "model_arch.h"
#include "model_src_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- hyperparameters --------------------------------------------------------------------- */

/* Read {arch}.<suffix> as UINT32 (or an INT32 array whose elements are all equal). */
static int get_arch_u32(const struct gguf_file *g, const char *arch, const char *suffix, int64_t *out, bool required)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t i = gguf_find_key(g, key);
    if (i < 0) {
        if (required)
            return ig_error_set(IG_EINVAL, "gguf: %s: key '%s' is missing", gguf_path(g), key);
        return 0;
    }
    const struct gguf_kv *kv = gguf_kv_at(g, i);
    if (kv->type == GGUF_VALUE_ARRAY) {
        /* per-layer values (checked INT32 by the reader): ingot models use one value */
        int32_t first = 0, v;
        for (uint64_t k = 0; k < kv->count; k++) {
            memcpy(&v, kv->value + 4 * k, 4);
            if (k == 0)
                first = v;
            else if (v != first)
                return ig_error_set(IG_EINVAL, "gguf: %s: key '%s': per-layer values differ (%d, %d); not supported",
                                    gguf_path(g), key, first, v);
        }
        *out = first;
        return 0;
    }
    uint32_t v;
    int rc = gguf_get_u32(g, key, &v);
    if (!rc)
        *out = v;
    return rc;
}

static int get_arch_f32(const struct gguf_file *g, const char *arch, const char *suffix, float *out, bool required)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (gguf_find_key(g, key) < 0)
        return required ? ig_error_set(IG_EINVAL, "gguf: %s: key '%s' is missing", gguf_path(g), key) : 0;
    return gguf_get_f32(g, key, out);
}

/* {arch}.rope.scaling.type is copied into the output as stored: llama.cpp aborts at load on a
 * type it does not know (llama_rope_scaling_type_from_string), so refuse it here. The type
 * ("none" as ""), factor and original context go into hp: the forward pass scales by them. */
static int read_rope_scaling(const struct gguf_file *g, const char *arch, struct model_hparams *hp)
{
    static const char *const known[] = {"none", "linear", "yarn", "longrope"};
    char key[128], type[32];
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    if (gguf_find_key(g, key) < 0)
        return 0;
    int rc = gguf_get_str(g, key, type, sizeof type);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(type, known[i]) != 0)
            continue;
        snprintf(hp->rope_scaling_type, sizeof hp->rope_scaling_type, "%.15s", i == 0 ? "" : type);
        rc = get_arch_f32(g, arch, "rope.scaling.factor", &hp->rope_scaling_factor, false);
        return rc ? rc : get_arch_u32(g, arch, "rope.scaling.original_context_length", &hp->rope_scaling_orig_ctx, false);
    }
    return ig_error_set(IG_EINVAL, "gguf: %s: key '%s': '%s' is not a rope scaling type llama.cpp knows (allowed: none, linear, yarn, longrope)",
                        gguf_path(g), key, type);
}

/* Keys only some architectures have: mixtral's expert counts, phi3's sliding window. */
static int read_arch_extras(const struct gguf_file *g, const char *arch, struct model_hparams *hp)
{
    int rc;
    if ((rc = get_arch_u32(g, arch, "expert_count", &hp->n_expert, false)) ||
        (rc = get_arch_u32(g, arch, "expert_used_count", &hp->n_expert_used, false)) ||
        (rc = get_arch_u32(g, arch, "attention.sliding_window", &hp->sliding_window, false)) ||
        (rc = get_arch_f32(g, arch, "rope.scaling.attn_factor", &hp->rope_attn_factor, false)) ||
        (rc = get_arch_f32(g, arch, "attn_logit_softcapping", &hp->attn_softcap, false)) ||    /* gemma */
        (rc = get_arch_f32(g, arch, "final_logit_softcapping", &hp->final_softcap, false)))
        return rc;
    if (strcmp(arch, "phi3") == 0 && (rc = get_arch_u32(g, arch, "rope.scaling.original_context_length",
                                                         &hp->rope_scaling_orig_ctx, false)))
        return rc;
    /* llama.cpp: n_expert_used in 1..n_expert when experts are present, both 0 otherwise */
    if (hp->n_expert > 1 ? hp->n_expert_used < 1 || hp->n_expert_used > hp->n_expert : hp->n_expert_used != 0)
        return ig_error_set(IG_EINVAL, "gguf: %s: key '%s.expert_used_count' is %lld with expert_count %lld, expected 1..expert_count (or both absent)",
                            gguf_path(g), arch, (long long)hp->n_expert_used, (long long)hp->n_expert);
    if (hp->n_expert == 1)
        return ig_error_set(IG_EINVAL, "gguf: %s: key '%s.expert_count' is 1; expected 0 (dense) or at least 2", gguf_path(g), arch);
    return 0;
}

static int read_hparams(const struct gguf_file *g, struct model_hparams *hp)
{
    int rc = gguf_get_str(g, "general.architecture", hp->arch, sizeof hp->arch);
    if (rc)
        return rc;
    const struct model_arch_info *info = model_arch_find(hp->arch);
    char list[256];
    if (!info)
        return ig_error_set(IG_EINVAL, "gguf: %s: key 'general.architecture': '%s' is not supported (supported: %s)",
                            gguf_path(g), hp->arch, model_arch_list(MODEL_ARCH_GGUF, list, sizeof list));
    if (gguf_find_key(g, "general.name") >= 0 && (rc = gguf_get_str(g, "general.name", hp->name, sizeof hp->name)))
        return rc;
    const char *a = hp->arch;
    hp->rope_theta = 10000.0f;
    if ((rc = get_arch_u32(g, a, "context_length", &hp->n_ctx_train, true)) ||
        (rc = get_arch_u32(g, a, "embedding_length", &hp->n_embd, true)) ||
        (rc = get_arch_u32(g, a, "block_count", &hp->n_layer, true)) ||
        (rc = get_arch_u32(g, a, "feed_forward_length", &hp->n_ff, true)) ||
        (rc = get_arch_u32(g, a, "attention.head_count", &hp->n_head, true)) ||
        (rc = get_arch_f32(g, a, "attention.layer_norm_rms_epsilon", &hp->rms_eps, true)) ||
        (rc = get_arch_f32(g, a, "rope.freq_base", &hp->rope_theta, false)))
        return rc;
    if (hp->n_embd <= 0 || hp->n_head <= 0 || hp->n_layer <= 0 || hp->n_embd % hp->n_head != 0)
        return ig_error_set(IG_EINVAL, "gguf: %s: embedding_length %lld, head_count %lld, block_count %lld: expected positive values with heads dividing the embedding",
                            gguf_path(g), (long long)hp->n_embd, (long long)hp->n_head, (long long)hp->n_layer);
    hp->n_head_kv = hp->n_head;
    hp->head_dim = hp->n_embd / hp->n_head;
    if ((rc = get_arch_u32(g, a, "attention.head_count_kv", &hp->n_head_kv, false)) ||
        (rc = get_arch_u32(g, a, "attention.key_length", &hp->head_dim, false)))
        return rc;
    if (hp->n_head_kv <= 0 || hp->n_head % hp->n_head_kv != 0)
        return ig_error_set(IG_EINVAL, "gguf: %s: key '%s.attention.head_count_kv': %lld does not divide head_count %lld",
                            gguf_path(g), a, (long long)hp->n_head_kv, (long long)hp->n_head);
    hp->n_rot = hp->head_dim;
    if ((rc = get_arch_u32(g, a, "rope.dimension_count", &hp->n_rot, false)))
        return rc;
    hp->attn_qkv_bias = info->attn_qkv_bias;
    hp->attn_qk_norm = info->attn_qk_norm;
    gemma_hparams_gguf_defaults(hp);   /* what llama.cpp fixes for gemma; keys below override */
    if ((rc = read_arch_extras(g, a, hp)) || (gemma_arch_is(a) && (rc = gemma_gguf_read_pattern(g, hp))))
        return rc;
    int64_t i = gguf_find_tensor(g, "token_embd.weight");
    if (i < 0)
        return ig_error_set(IG_EINVAL, "gguf: %s: tensor 'token_embd.weight' is missing", gguf_path(g));
    hp->n_vocab = gguf_tensor_at(g, i)->ne[1];
    hp->tie_embeddings = gguf_find_tensor(g, "output.weight") < 0;
    int64_t n_vocab_key = 0;
    if ((rc = get_arch_u32(g, a, "vocab_size", &n_vocab_key, false)))
        return rc;
    if (n_vocab_key != 0 && n_vocab_key != hp->n_vocab)
        return ig_error_set(IG_EINVAL, "gguf: %s: key '%s.vocab_size' is %lld, but tensor 'token_embd.weight' has %lld rows",
                            gguf_path(g), a, (long long)n_vocab_key, (long long)hp->n_vocab);
    /* llama.cpp's vocabulary size is the token list's length (checked in gguf_model_open) */
    return read_rope_scaling(g, a, hp);
}

/* ---- vocabulary ---------------------------------------------------------------------------- */

static int copy_token(const struct gguf_file *g, const struct gguf_kv *kv, uint64_t i, char **out)
{
    struct gguf_str s = gguf_kv_array_str(kv, i);
    if (s.len > VOCAB_MAX_TOKEN_BYTES || memchr(s.data, '\0', (size_t)s.len))
        return ig_error_set(IG_EINVAL, "gguf: %s: key 'tokenizer.ggml.tokens': token %llu is longer than %d bytes or holds a NUL",
                            gguf_path(g), (unsigned long long)i, VOCAB_MAX_TOKEN_BYTES);
    *out = ig_malloc((size_t)s.len + 1);
    if (!*out)
        return IG_ENOMEM;
    memcpy(*out, s.data, (size_t)s.len);
    (*out)[s.len] = '\0';
    return 0;
}

static int read_token_arrays(const struct gguf_file *g, struct vocab *v)
{
    const struct gguf_kv *tokens = gguf_kv_at(g, gguf_find_key(g, "tokenizer.ggml.tokens"));
    if (!tokens)
        return ig_error_set(IG_EINVAL, "gguf: %s: key 'tokenizer.ggml.tokens' is missing", gguf_path(g));
    int64_t is = gguf_find_key(g, "tokenizer.ggml.scores"), it = gguf_find_key(g, "tokenizer.ggml.token_type");
    int rc = vocab_alloc(v, (int64_t)tokens->count, is >= 0);
    if (rc)
        return ig_error_wrap(rc, "gguf: %s: key 'tokenizer.ggml.tokens'", gguf_path(g));
    for (uint64_t i = 0; i < tokens->count && !rc; i++)
        rc = copy_token(g, tokens, i, &v->tokens[i]);
    const struct gguf_kv *kvs = gguf_kv_at(g, is), *kvt = gguf_kv_at(g, it);
    if (!rc && kvs && kvs->count != tokens->count)
        rc = ig_error_set(IG_EINVAL, "gguf: %s: key 'tokenizer.ggml.scores' has %llu values for %llu tokens",
                          gguf_path(g), (unsigned long long)kvs->count, (unsigned long long)tokens->count);
    if (!rc && kvt && kvt->count != tokens->count)
        rc = ig_error_set(IG_EINVAL, "gguf: %s: key 'tokenizer.ggml.token_type' has %llu values for %llu tokens",
                          gguf_path(g), (unsigned long long)kvt->count, (unsigned long long)tokens->count);
    if (!rc && kvs)
        memcpy(v->scores, kvs->value, (size_t)kvs->count * sizeof(float));
    if (!rc && kvt)
        memcpy(v->types, kvt->value, (size_t)kvt->count * sizeof(int32_t));
    return rc;
}

static int read_merges(const struct gguf_file *g, struct vocab *v)
{
    const struct gguf_kv *kv = gguf_kv_at(g, gguf_find_key(g, "tokenizer.ggml.merges"));
    if (!kv)
        return 0;
    v->merges = ig_calloc((size_t)(kv->count ? kv->count : 1), sizeof *v->merges);
    if (!v->merges)
        return IG_ENOMEM;
    int rc = 0;
    for (uint64_t i = 0; i < kv->count && !rc; i++) {
        rc = copy_token(g, kv, i, &v->merges[i]);
        if (!rc)
            v->n_merges = (int64_t)i + 1;
    }
    return rc;
}

static int read_special_ids(const struct gguf_file *g, struct vocab *v)
{
    static const char *keys[] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                                 "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"};
    int64_t *ids[] = {&v->bos_id, &v->eos_id, &v->unk_id, &v->pad_id};
    static const char *flags[] = {"tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token",
                                  "tokenizer.ggml.add_space_prefix"};
    int *vals[] = {&v->add_bos, &v->add_eos, &v->add_space_prefix};
    int rc = 0;
    for (int k = 0; k < 4 && !rc; k++) {
        uint32_t id;
        if (gguf_find_key(g, keys[k]) < 0 || (rc = gguf_get_u32(g, keys[k], &id)))
            continue;
        /* llama.cpp keeps its default for an out-of-range id (0xFFFFFFFF marks "none") */
        *ids[k] = id < (uint64_t)v->n_tokens ? (int64_t)id : -1;
    }
    for (int k = 0; k < 3 && !rc; k++) {
        bool b;
        if (gguf_find_key(g, flags[k]) >= 0 && !(rc = gguf_get_bool(g, flags[k], &b)))
            *vals[k] = b;
    }
    return rc;
}

/* tokenizer.chat_template (STRING, optional): kept in the vocabulary so that a GGUF -> GGUF
 * conversion writes it again (gguf_meta.c), as it does for an HF folder's template. */
static int read_chat_template(const struct gguf_file *g, struct vocab *v)
{
    const struct gguf_kv *kv = gguf_kv_at(g, gguf_find_key(g, "tokenizer.chat_template"));
    if (!kv)
        return 0;
    /* a STRING value is its u64 length then the bytes: value_bytes - 8 bytes, + 1 for the NUL
     * (gguf_get_str checks the type, the length and that no NUL is inside) */
    size_t size = kv->value_bytes >= 8 ? (size_t)kv->value_bytes - 7 : 1;
    char *buf = ig_malloc(size);
    if (!buf)
        return IG_ENOMEM;
    int rc = gguf_get_str(g, "tokenizer.chat_template", buf, size);
    if (rc) {
        free(buf);
        return rc;
    }
    free(v->chat_template);
    v->chat_template = buf;
    return 0;
}

int gguf_vocab_read(const struct gguf_file *g, struct vocab *v)
{
    int rc = gguf_get_str(g, "tokenizer.ggml.model", v->model, sizeof v->model);
    if (!rc && gguf_find_key(g, "tokenizer.ggml.pre") >= 0)
        rc = gguf_get_str(g, "tokenizer.ggml.pre", v->pre, sizeof v->pre);
    if (!rc)
        rc = read_token_arrays(g, v);
    if (!rc)
        rc = read_merges(g, v);
    if (!rc)
        rc = read_special_ids(g, v);
    if (!rc)
        rc = read_chat_template(g, v);
    if (rc)
        vocab_free(v);
    return rc;
}

/* ---- the model ------------------------------------------------------------------------------ */

int gguf_model_open(struct model_src *src, const char *path)
{
    src->kind = MODEL_SRC_GGUF;
    int rc = gguf_open(&src->gguf, path);
    if (rc)
        return rc;
    const struct gguf_file *g = src->gguf;
    if ((rc = read_hparams(g, &src->hp)) || (rc = gguf_vocab_read(g, &src->vocab)))
        return rc;
    /* llama.cpp sizes every vocabulary dimension by the token list, so token_embd and
     * output are checked against it (model_src_check), not against themselves */
    src->hp.n_vocab = src->vocab.n_tokens;
    if ((rc = model_src_add_file(src, path, gguf_file_size(g))))
        return rc;
    for (int64_t i = 0; i < gguf_n_tensors(g) && !rc; i++) {
        const struct gguf_tensor_info *ti = gguf_tensor_at(g, i);
        struct src_tensor t;
        memset(&t, 0, sizeof t);
        snprintf(t.name, sizeof t.name, "%s", ti->name);
        snprintf(t.src_name, sizeof t.src_name, "%s", ti->name);
        t.n_dims = ti->n_dims;
        memcpy(t.ne, ti->ne, sizeof t.ne);
        t.type = ti->type;
        t.data = ti->data;
        t.size_bytes = ti->size_bytes;
        t.file = gguf_path(g);
        rc = model_src_add_tensor(src, &t);
    }
    return rc;
}
