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

/* Tensors every block must have (biases are required for qwen2 only). */
static const char *required_block_tensors[] = {
    "attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
    "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight",
    "attn_q.bias", "attn_k.bias", "attn_v.bias",   /* the last three: qwen2 only */
};
#define N_BLOCK_WEIGHTS 9

struct hf_impl {
    struct st_model *st;
};

static void hf_impl_close(void *p)
{
    struct hf_impl *impl = p;
    if (!impl)
        return;
    st_close(impl->st);
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

/* Expected ggml shape of a GGUF tensor from the hyperparameters; returns n_dims or 0. */
static int expected_shape(const struct model_hparams *hp, const char *name, int64_t ne[2])
{
    const char *s = strncmp(name, "blk.", 4) == 0 ? strchr(name + 4, '.') + 1 : name;
    int64_t q = hp->n_head * hp->head_dim, kv = hp->n_head_kv * hp->head_dim;
    struct {
        const char *suffix;
        int64_t ne0, ne1;
    } table[] = {
        {"token_embd.weight", hp->n_embd, hp->n_vocab}, {"output.weight", hp->n_embd, hp->n_vocab},
        {"output_norm.weight", hp->n_embd, 0},          {"attn_norm.weight", hp->n_embd, 0},
        {"ffn_norm.weight", hp->n_embd, 0},             {"attn_q.weight", hp->n_embd, q},
        {"attn_k.weight", hp->n_embd, kv},              {"attn_v.weight", hp->n_embd, kv},
        {"attn_q.bias", q, 0},                          {"attn_k.bias", kv, 0},
        {"attn_v.bias", kv, 0},                         {"attn_output.weight", q, hp->n_embd},
        {"ffn_gate.weight", hp->n_embd, hp->n_ff},      {"ffn_up.weight", hp->n_embd, hp->n_ff},
        {"ffn_down.weight", hp->n_ff, hp->n_embd},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(s, table[i].suffix) == 0) {
            ne[0] = table[i].ne0;
            ne[1] = table[i].ne1;
            return table[i].ne1 ? 2 : 1;
        }
    }
    return 0;
}

static int check_shape(const char *config_path, const struct st_tensor *st, const struct src_tensor *t,
                       const struct model_hparams *hp)
{
    int64_t want[2] = {0, 0};
    int nd = expected_shape(hp, t->name, want);
    bool ok = nd == t->n_dims && t->ne[0] == want[0] && (nd == 1 || t->ne[1] == want[1]);
    if (ok)
        return 0;
    char got[96] = "", exp[64];
    for (int d = 0; d < st->n_dims; d++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)st->shape[d]);
    if (nd == 2)
        snprintf(exp, sizeof exp, "[%lld, %lld]", (long long)want[1], (long long)want[0]);
    else
        snprintf(exp, sizeof exp, "[%lld]", (long long)want[0]);
    return ig_error_set(IG_EINVAL, "%s: tensor '%s': shape [%s], expected %s from %s", st->file, st->name, got, exp,
                        config_path);
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
        rc = pad_vocab(src, used);
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

static int add_mapped(struct model_src *src, const struct st_tensor *st, const char *config_path, bool has_embed,
                      bool has_head)
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
    if (!rc)
        rc = check_shape(config_path, st, &t, &src->hp);
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

static int check_complete(const struct model_src *src, const char *folder)
{
    char name[MODEL_NAME_MAX];
    if (!model_src_find(src, "token_embd.weight"))
        return ig_error_set(IG_EINVAL, "%s: neither model.embed_tokens.weight nor lm_head.weight is in the safetensors",
                            folder);
    if (!model_src_find(src, "output_norm.weight"))
        return ig_error_set(IG_EINVAL, "%s: tensor 'model.norm.weight' is missing", folder);
    for (int64_t l = 0; l < src->hp.n_layer; l++) {
        size_t n = src->hp.attn_qkv_bias ? sizeof required_block_tensors / sizeof required_block_tensors[0]
                                         : N_BLOCK_WEIGHTS;
        for (size_t i = 0; i < n; i++) {
            snprintf(name, sizeof name, "blk.%lld.%s", (long long)l, required_block_tensors[i]);
            if (!model_src_find(src, name))
                return ig_error_set(IG_EINVAL, "%s: block %lld lacks the tensor that becomes '%s'", folder, (long long)l,
                                    name);
        }
    }
    return 0;
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
    char *config_path = file_path_join(folder, "config.json");
    if (!config_path)
        return IG_ENOMEM;
    bool has_embed = st_find(impl->st, "model.embed_tokens.weight") != NULL;
    bool has_head = st_find(impl->st, "lm_head.weight") != NULL;
    if (!has_embed || !has_head)
        src->hp.tie_embeddings = true;
    for (int64_t i = 0; i < st_n_tensors(impl->st) && !rc; i++)
        rc = add_mapped(src, st_tensor_at(impl->st, i), config_path, has_embed, has_head);
    free(config_path);
    for (int i = 0; i < st_n_files(impl->st) && !rc; i++)
        rc = model_src_add_file(src, st_file_path(impl->st, i), st_file_size(impl->st, i));
    return rc ? rc : check_complete(src, folder);
}

int hf_model_open(struct model_src *src, const char *folder)
{
    src->kind = MODEL_SRC_HF;
    int rc = read_config(src, folder);
    if (!rc)
        rc = read_tokenizer(src, folder);
    if (!rc)
        rc = read_weights(src, folder);
    return rc;
}
