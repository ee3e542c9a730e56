/* model_src.c — recognise a source checkpoint and give uniform access to its tensors.
 *
 * Dispatch: a folder is an HF checkpoint (hf_model.c); a file starting with "GGUF" is a
 * GGUF file (gguf_model.c); any other file is tried as a llama2.c checkpoint (llama2c.c),
 * whose reader explains precisely why it is not one.
 */
#include "model_src.h"

#include "../common/ig_error.h"
#include "../common/ig_half.h"
#include "ggml_type.h"
#include "gemma_arch.h"
#include "gguf.h"
#include "hf_moe.h"
#include "hf_quant.h"
#include "llama2c.h"
#include "model_src_impl.h"
#include "out_file.h"

#include <math.h>
#include <pthread.h>
#include <xxhash.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* ---- open / close ---------------------------------------------------------------------- */

static int read_magic(const char *path, char magic[4])
{
    FILE *f = fopen(path, "rb");
    memset(magic, 0, 4);
    if (!f)
        return ig_error_set(IG_EINVAL, "%s: cannot open: no such file or folder", path);
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    (void)n;
    return 0;
}

static bool has_suffix_nocase(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

int model_src_open(struct model_src **out, const char *path, const char *tokenizer_path)
{
    *out = NULL;
    struct model_src *src = ig_calloc(1, sizeof *src);
    if (!src)
        return IG_ENOMEM;
    vocab_init(&src->vocab);
    src->path = strdup(path);
    int rc = src->path ? 0 : IG_ENOMEM;
    char magic[4];
    if (rc)
        goto out_fail;
    if (file_is_folder(path)) {
        rc = hf_model_open(src, path);
    } else if ((rc = read_magic(path, magic)) == 0) {
        /* a .gguf name is taken at its word, so a damaged magic is reported as such */
        if (memcmp(magic, GGUF_MAGIC, 4) == 0 || has_suffix_nocase(path, ".gguf")) {
            rc = gguf_model_open(src, path);
        } else {
            rc = llama2c_open(src, path, tokenizer_path);
            if (rc == IG_EINVAL)
                ig_error_wrap(rc, "%s: not a GGUF file (no \"GGUF\" magic) nor a valid llama2.c checkpoint", path);
        }
    }
    if (!rc)
        rc = model_src_check(src);
    if (rc)
        goto out_fail;
    *out = src;
    return 0;
out_fail:
    model_src_close(src);
    return rc;
}

void model_src_close(struct model_src *src)
{
    if (!src)
        return;
    if (src->impl_close)
        src->impl_close(src->impl);
    gguf_close(src->gguf);
    vocab_free(&src->vocab);
    for (int i = 0; i < src->n_files; i++)
        free(src->files[i].path);
    free(src->files);
    free(src->tensors);
    free(src->path);
    free(src);
}

/* ---- checking a source against its own hyperparameters ------------------------------------
 * One table of expected shapes and one completeness rule for every source kind (HF, GGUF,
 * llama2.c), so a file that lies about itself is refused the same way wherever it comes
 * from, and with what llama.cpp's loader would refuse. Messages use the source's own key
 * names: config.json keys, {arch}.* GGUF keys, or llama2.c header fields. */

enum hp_field { HP_EMBD, HP_FF, HP_LAYER, HP_HEAD, HP_HEAD_KV, HP_HEAD_DIM, HP_ROT, HP_VOCAB, HP_CTX, HP_EPS,
                HP_THETA, HP_N_FIELDS };

/* Per field: the name in config.json, the {arch}.-relative GGUF key, the llama2.c header field. */
static const char *const hp_names[HP_N_FIELDS][3] = {
    [HP_EMBD] = {"hidden_size", "embedding_length", "dim"},
    [HP_FF] = {"intermediate_size", "feed_forward_length", "hidden_dim"},
    [HP_LAYER] = {"num_hidden_layers", "block_count", "n_layers"},
    [HP_HEAD] = {"num_attention_heads", "attention.head_count", "n_heads"},
    [HP_HEAD_KV] = {"num_key_value_heads", "attention.head_count_kv", "n_kv_heads"},
    [HP_HEAD_DIM] = {"head_dim", "attention.key_length", "dim / n_heads"},
    [HP_ROT] = {"head_dim", "rope.dimension_count", "dim / n_heads"},
    [HP_VOCAB] = {"vocab_size", "vocab_size", "vocab_size"},
    [HP_CTX] = {"max_position_embeddings", "context_length", "seq_len"},
    [HP_EPS] = {"rms_norm_eps", "attention.layer_norm_rms_epsilon", "rms_eps"},
    [HP_THETA] = {"rope_theta", "rope.freq_base", "rope_theta"},
};

/* The file the hyperparameters came from: config.json, the GGUF file, the .bin. */
static const char *hp_file(const struct model_src *src)
{
    return src->n_files > 0 ? src->files[0].path : src->path;
}

/* "key 'hidden_size'", "key 'llama.embedding_length'" or "header field dim". */
static const char *hp_key(const struct model_src *src, enum hp_field f, char *buf, size_t size)
{
    if (src->kind == MODEL_SRC_HF)
        snprintf(buf, size, "key '%s'", hp_names[f][0]);
    else if (src->kind == MODEL_SRC_GGUF)
        snprintf(buf, size, "key '%s.%s'", src->hp.arch, hp_names[f][1]);
    else
        snprintf(buf, size, "header field %s", hp_names[f][2]);
    return buf;
}

static int64_t hp_value(const struct model_hparams *hp, enum hp_field f)
{
    const int64_t v[HP_N_FIELDS] = {
        [HP_EMBD] = hp->n_embd, [HP_FF] = hp->n_ff, [HP_LAYER] = hp->n_layer, [HP_HEAD] = hp->n_head,
        [HP_HEAD_KV] = hp->n_head_kv, [HP_HEAD_DIM] = hp->head_dim, [HP_ROT] = hp->n_rot,
        [HP_VOCAB] = hp->n_vocab, [HP_CTX] = hp->n_ctx_train,
    };
    return v[f];
}

/* llama.cpp's rope scaling types (llama-hparams: none, linear, yarn, longrope) plus HF's
 * llama3, which llama.cpp's converter turns into rope_freqs.weight. */
static const char *const known_rope_scaling[] = {"linear", "yarn", "llama3", "longrope"};

/* Counts, divisibility, RoPE pairing and the float keys. */
static int check_hparams(const struct model_src *src)
{
    const struct model_hparams *hp = &src->hp;
    const char *file = hp_file(src);
    char key[96], key2[96];
    for (int f = HP_EMBD; f <= HP_CTX; f++) {
        int64_t v = hp_value(hp, (enum hp_field)f);
        if (v <= 0 || v > INT32_MAX)
            return ig_error_set(IG_EINVAL, "%s: %s is %lld, expected 1..2147483647", file,
                                hp_key(src, (enum hp_field)f, key, sizeof key), (long long)v);
    }
    if (hp->n_head % hp->n_head_kv != 0)
        return ig_error_set(IG_EINVAL, "%s: %s is %lld, which does not divide %s %lld", file,
                            hp_key(src, HP_HEAD_KV, key, sizeof key), (long long)hp->n_head_kv,
                            hp_key(src, HP_HEAD, key2, sizeof key2), (long long)hp->n_head);
    /* RoPE rotates pairs (x_i, x_{i+d/2}) or (x_2i, x_2i+1): an odd size leaves one unpaired,
     * and llama's Q/K row permutation would duplicate one row and drop another. */
    if (hp->head_dim % 2 != 0)
        return ig_error_set(IG_EINVAL, "%s: %s: head size %lld is odd; RoPE rotates pairs of dimensions, expected an even head size",
                            file, hp_key(src, HP_HEAD_DIM, key, sizeof key), (long long)hp->head_dim);
    if (hp->n_rot % 2 != 0 || hp->n_rot > hp->head_dim)
        return ig_error_set(IG_EINVAL, "%s: %s is %lld; expected an even number of rotated dimensions, at most the head size %lld",
                            file, hp_key(src, HP_ROT, key, sizeof key), (long long)hp->n_rot, (long long)hp->head_dim);
    if (!isfinite(hp->rms_eps) || !(hp->rms_eps > 0))
        return ig_error_set(IG_EINVAL, "%s: %s is %g, expected a finite number > 0", file,
                            hp_key(src, HP_EPS, key, sizeof key), (double)hp->rms_eps);
    if (!isfinite(hp->rope_theta) || !(hp->rope_theta > 0))
        return ig_error_set(IG_EINVAL, "%s: %s is %g, expected a finite number > 0", file,
                            hp_key(src, HP_THETA, key, sizeof key), (double)hp->rope_theta);
    if (hp->rope_scaling_type[0]) {
        bool known = false;
        for (size_t i = 0; i < sizeof known_rope_scaling / sizeof known_rope_scaling[0]; i++)
            known = known || strcmp(hp->rope_scaling_type, known_rope_scaling[i]) == 0;
        if (!known)
            return ig_error_set(IG_EINVAL, "%s: rope scaling type '%s' is not one llama.cpp knows (allowed: none, default, linear, yarn, llama3, longrope)",
                                file, hp->rope_scaling_type);
    }
    return 0;
}

/* What fixes one dimension of a tensor. */
enum shape_dim { DIM_ONE, DIM_EMBD, DIM_FF, DIM_VOCAB, DIM_Q, DIM_KV, DIM_ROT_HALF, DIM_HEAD, DIM_QKV, DIM_FF2,
                 DIM_EXPERT };

/* When a model must have a tensor (top level: once; in a block: in every block). */
enum shape_need {
    NEED_OPTIONAL = 0,
    NEED_ALWAYS,                 /* every model */
    NEED_QKV_BIAS,               /* hp.attn_qkv_bias (qwen2) */
    NEED_QK_NORM,                /* hp.attn_qk_norm (qwen3) */
    NEED_SPLIT_ATTN,             /* separate q/k/v: every architecture but phi3 (fused attn_qkv) */
    NEED_FUSED_ATTN,             /* phi3 */
    NEED_DENSE_FFN,              /* ffn_up / ffn_down: no experts (phi3's ffn_up holds gate and up, [n_embd, 2·n_ff]) */
    NEED_DENSE_GATE,             /* ffn_gate: no experts, not phi3 */
    NEED_MOE,                    /* hp.n_expert > 0 (mixtral) */
    NEED_POST_NORMS,             /* gemma2, gemma3: norms of the attention and FFN outputs */
};

static const struct {
    const char *suffix;          /* whole name, or the part after "blk.N." */
    bool in_block;
    enum shape_dim ne0, ne1, ne2;   /* ggml order */
    enum shape_need need;
} shape_table[] = {
    {"token_embd.weight", false, DIM_EMBD, DIM_VOCAB, DIM_ONE, NEED_ALWAYS},
    {"output_norm.weight", false, DIM_EMBD, DIM_ONE, DIM_ONE, NEED_ALWAYS},
    {"output.weight", false, DIM_EMBD, DIM_VOCAB, DIM_ONE, NEED_OPTIONAL},
    {"rope_freqs.weight", false, DIM_ROT_HALF, DIM_ONE, DIM_ONE, NEED_OPTIONAL},
    {"rope_factors_long.weight", false, DIM_ROT_HALF, DIM_ONE, DIM_ONE, NEED_OPTIONAL},    /* phi3 longrope */
    {"rope_factors_short.weight", false, DIM_ROT_HALF, DIM_ONE, DIM_ONE, NEED_OPTIONAL},
    {"attn_norm.weight", true, DIM_EMBD, DIM_ONE, DIM_ONE, NEED_ALWAYS},
    {"attn_q.weight", true, DIM_EMBD, DIM_Q, DIM_ONE, NEED_SPLIT_ATTN},
    {"attn_k.weight", true, DIM_EMBD, DIM_KV, DIM_ONE, NEED_SPLIT_ATTN},
    {"attn_v.weight", true, DIM_EMBD, DIM_KV, DIM_ONE, NEED_SPLIT_ATTN},
    {"attn_qkv.weight", true, DIM_EMBD, DIM_QKV, DIM_ONE, NEED_FUSED_ATTN},
    {"attn_output.weight", true, DIM_Q, DIM_EMBD, DIM_ONE, NEED_ALWAYS},
    {"attn_q_norm.weight", true, DIM_HEAD, DIM_ONE, DIM_ONE, NEED_QK_NORM},
    {"attn_k_norm.weight", true, DIM_HEAD, DIM_ONE, DIM_ONE, NEED_QK_NORM},
    {"ffn_norm.weight", true, DIM_EMBD, DIM_ONE, DIM_ONE, NEED_ALWAYS},
    {"ffn_gate.weight", true, DIM_EMBD, DIM_FF, DIM_ONE, NEED_DENSE_GATE},
    {"ffn_up.weight", true, DIM_EMBD, DIM_FF2, DIM_ONE, NEED_DENSE_FFN},   /* [n_embd, 2·n_ff] in phi3 */
    {"ffn_down.weight", true, DIM_FF, DIM_EMBD, DIM_ONE, NEED_DENSE_FFN},
    {"ffn_gate_inp.weight", true, DIM_EMBD, DIM_EXPERT, DIM_ONE, NEED_MOE},  /* the router */
    {"ffn_gate_exps.weight", true, DIM_EMBD, DIM_FF, DIM_EXPERT, NEED_MOE},
    {"ffn_up_exps.weight", true, DIM_EMBD, DIM_FF, DIM_EXPERT, NEED_MOE},
    {"ffn_down_exps.weight", true, DIM_FF, DIM_EMBD, DIM_EXPERT, NEED_MOE},
    {"post_attention_norm.weight", true, DIM_EMBD, DIM_ONE, DIM_ONE, NEED_POST_NORMS},
    {"post_ffw_norm.weight", true, DIM_EMBD, DIM_ONE, DIM_ONE, NEED_POST_NORMS},
    {"attn_q.bias", true, DIM_Q, DIM_ONE, DIM_ONE, NEED_QKV_BIAS},
    {"attn_k.bias", true, DIM_KV, DIM_ONE, DIM_ONE, NEED_QKV_BIAS},
    {"attn_v.bias", true, DIM_KV, DIM_ONE, DIM_ONE, NEED_QKV_BIAS},
};
#define N_SHAPES (sizeof shape_table / sizeof shape_table[0])

/* Whether hp's model must have a tensor of this need. */
static bool shape_needed(const struct model_hparams *hp, enum shape_need need)
{
    bool phi3 = strcmp(hp->arch, "phi3") == 0;
    switch (need) {
    case NEED_ALWAYS: return true;
    case NEED_QKV_BIAS: return hp->attn_qkv_bias;
    case NEED_QK_NORM: return hp->attn_qk_norm;
    case NEED_SPLIT_ATTN: return !phi3;
    case NEED_FUSED_ATTN: return phi3;
    case NEED_DENSE_FFN: return hp->n_expert == 0;
    case NEED_DENSE_GATE: return hp->n_expert == 0 && !phi3;
    case NEED_MOE: return hp->n_expert > 0;
    case NEED_POST_NORMS: return gemma_arch_is(hp->arch);
    default: return false;
    }
}

static int64_t dim_value(const struct model_hparams *hp, enum shape_dim d)
{
    switch (d) {
    case DIM_EMBD: return hp->n_embd;
    case DIM_FF: return hp->n_ff;
    case DIM_VOCAB: return hp->n_vocab;
    case DIM_Q: return hp->n_head * hp->head_dim;
    case DIM_KV: return hp->n_head_kv * hp->head_dim;
    case DIM_ROT_HALF: return hp->n_rot / 2;
    case DIM_HEAD: return hp->head_dim;
    case DIM_QKV: return (hp->n_head + 2 * hp->n_head_kv) * hp->head_dim;
    case DIM_FF2: return strcmp(hp->arch, "phi3") == 0 ? 2 * hp->n_ff : hp->n_ff;
    case DIM_EXPERT: return hp->n_expert;
    default: return 1;
    }
}

/* Where a dimension comes from, in the source's words. */
static void dim_origin(const struct model_src *src, enum shape_dim d, char *buf, size_t size)
{
    char a[96], b[96];
    switch (d) {
    case DIM_EMBD: hp_key(src, HP_EMBD, buf, size); break;
    case DIM_FF: hp_key(src, HP_FF, buf, size); break;
    case DIM_VOCAB:
        if (src->kind == MODEL_SRC_GGUF)
            snprintf(buf, size, "tokens in key 'tokenizer.ggml.tokens'");
        else
            hp_key(src, HP_VOCAB, buf, size);
        break;
    case DIM_Q: snprintf(buf, size, "%s x head size", hp_key(src, HP_HEAD, a, sizeof a)); break;
    case DIM_KV: snprintf(buf, size, "%s x head size", hp_key(src, HP_HEAD_KV, b, sizeof b)); break;
    case DIM_ROT_HALF: snprintf(buf, size, "%s / 2", hp_key(src, HP_ROT, a, sizeof a)); break;
    case DIM_HEAD: snprintf(buf, size, "head size"); break;
    case DIM_QKV:
        snprintf(buf, size, "(%.50s + 2 x %.50s) x head size", hp_key(src, HP_HEAD, a, sizeof a),
                 hp_key(src, HP_HEAD_KV, b, sizeof b));
        break;
    case DIM_FF2: snprintf(buf, size, "2 x %s (gate and up)", hp_key(src, HP_FF, a, sizeof a)); break;
    case DIM_EXPERT: snprintf(buf, size, "the expert count"); break;
    default: snprintf(buf, size, "1"); break;
    }
}

/* Index in shape_table of a tensor name, with its block in *layer (-1 at top level); -1
 * when the name is not one of a llama/qwen2 model's tensors. */
static int shape_lookup(const char *name, int64_t *layer)
{
    const char *suffix = name;
    *layer = -1;
    if (strncmp(name, "blk.", 4) == 0) {
        char *end;
        if (name[4] < '0' || name[4] > '9')
            return -1;
        long long l = strtoll(name + 4, &end, 10);
        if (*end != '.' || l < 0)
            return -1;
        *layer = l;
        suffix = end + 1;
    }
    for (size_t i = 0; i < N_SHAPES; i++)
        if (shape_table[i].in_block == (*layer >= 0) && strcmp(suffix, shape_table[i].suffix) == 0)
            return (int)i;
    return -1;
}

/* "[a, b]" of a tensor: ggml order, or the safetensors (row-major) order for HF. */
static void shape_text(const struct model_src *src, int n_dims, const int64_t *ne, char *buf, size_t size)
{
    size_t k = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < n_dims && k < size; d++) {
        int64_t v = src->kind == MODEL_SRC_HF ? ne[n_dims - 1 - d] : ne[d];
        k += (size_t)snprintf(buf + k, size - k, "%s%lld", d ? ", " : "", (long long)v);
    }
    if (k < size)
        snprintf(buf + k, size - k, "]");
}

static int check_tensor_shape(const struct model_src *src, const struct src_tensor *t)
{
    const struct model_hparams *hp = &src->hp;
    char key[96];
    int64_t layer;
    int i = shape_lookup(t->name, &layer);
    if (i < 0)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s' is not a tensor of a %s model (expected token_embd, output_norm, output, rope_freqs or blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down}.weight)",
                            t->file, t->src_name, hp->arch);
    enum shape_need need = shape_table[i].need;
    if (need != NEED_OPTIONAL && need != NEED_QKV_BIAS && !shape_needed(hp, need))
        return ig_error_set(IG_EINVAL, "%s: tensor '%s' is not a tensor of a %s model%s", t->file, t->src_name, hp->arch,
                            need == NEED_MOE ? " without experts" : need == NEED_QK_NORM ? " (no q/k norms)" : "");
    if (layer >= hp->n_layer)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s' belongs to block %lld, but %s is %lld (blocks 0..%lld)", t->file,
                            t->src_name, (long long)layer, hp_key(src, HP_LAYER, key, sizeof key),
                            (long long)hp->n_layer, (long long)hp->n_layer - 1);
    int64_t want[4] = {dim_value(hp, shape_table[i].ne0), dim_value(hp, shape_table[i].ne1),
                       dim_value(hp, shape_table[i].ne2), 1};
    int want_dims = shape_table[i].ne2 != DIM_ONE ? 3 : shape_table[i].ne1 == DIM_ONE ? 1 : 2;
    /* as llama.cpp's check_tensor_dims: trailing 1s do not count, every ne must match */
    bool ok = t->n_dims >= 1 && t->n_dims <= 4;
    for (int d = 0; d < 4 && ok; d++)
        ok = (d < t->n_dims ? t->ne[d] : 1) == want[d];
    if (ok)
        return 0;
    char got[128], exp[96], o0[128], o1[128];
    shape_text(src, t->n_dims, t->ne, got, sizeof got);
    shape_text(src, want_dims, want, exp, sizeof exp);
    dim_origin(src, shape_table[i].ne0, o0, sizeof o0);
    dim_origin(src, shape_table[i].ne1, o1, sizeof o1);
    if (want_dims == 3)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s': shape %s, expected %s (one matrix per expert) from %s", t->file,
                            t->src_name, got, exp, hp_file(src));
    if (want_dims == 1)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s': shape %s, expected %s (%s) from %s", t->file, t->src_name, got,
                            exp, o0, hp_file(src));
    return ig_error_set(IG_EINVAL, "%s: tensor '%s': shape %s, expected %s (%s: %s, %s: %s) from %s", t->file,
                        t->src_name, got, exp, src->kind == MODEL_SRC_HF ? "rows" : "ne[0]",
                        src->kind == MODEL_SRC_HF ? o1 : o0, src->kind == MODEL_SRC_HF ? "columns" : "ne[1]",
                        src->kind == MODEL_SRC_HF ? o0 : o1, hp_file(src));
}

/* The source-file name a GGUF tensor name comes from, for "is missing" messages. */
static void missing_name(const struct model_src *src, const char *gguf_name, char *buf, size_t size)
{
    if (src->kind == MODEL_SRC_HF && strcmp(gguf_name, "token_embd.weight") == 0)
        snprintf(buf, size, "model.embed_tokens.weight (or lm_head.weight)");
    else if (src->kind == MODEL_SRC_HF && strcmp(gguf_name, "output_norm.weight") == 0)
        snprintf(buf, size, "model.norm.weight");
    else
        snprintf(buf, size, "%s", gguf_name);
}

static int check_complete(const struct model_src *src)
{
    const struct model_hparams *hp = &src->hp;
    char name[MODEL_NAME_MAX], shown[96], key[96];
    for (size_t i = 0; i < N_SHAPES; i++) {
        if (shape_table[i].in_block || !shape_needed(hp, shape_table[i].need) || model_src_find(src, shape_table[i].suffix))
            continue;
        missing_name(src, shape_table[i].suffix, shown, sizeof shown);
        return ig_error_set(IG_EINVAL, "%s: tensor '%s' is missing", src->path, shown);
    }
    for (int64_t l = 0; l < hp->n_layer; l++) {
        for (size_t i = 0; i < N_SHAPES; i++) {
            if (!shape_table[i].in_block || !shape_needed(hp, shape_table[i].need))
                continue;
            snprintf(name, sizeof name, "blk.%lld.%s", (long long)l, shape_table[i].suffix);
            if (!model_src_find(src, name))
                return ig_error_set(IG_EINVAL, "%s: block %lld lacks the tensor that becomes '%s' (%s is %lld)",
                                    src->path, (long long)l, name, hp_key(src, HP_LAYER, key, sizeof key),
                                    (long long)hp->n_layer);
        }
    }
    return 0;
}

int model_src_check_tensors(const struct model_src *src)
{
    int rc = check_hparams(src);
    for (int64_t i = 0; i < src->n_tensors && !rc; i++)
        rc = check_tensor_shape(src, &src->tensors[i]);
    return rc ? rc : check_complete(src);
}

int model_src_check(const struct model_src *src)
{
    int rc = model_src_check_tensors(src);
    if (rc)
        return rc;
    /* llama.cpp sizes token_embd by the token list: one row per token, no more, no fewer */
    if (src->vocab.n_tokens != src->hp.n_vocab) {
        const char *where = src->kind == MODEL_SRC_GGUF ? "key 'tokenizer.ggml.tokens'" : "the tokenizer";
        return ig_error_set(IG_EINVAL, "%s: tensor 'token_embd.weight' has %lld rows, but %s holds %lld tokens; expected one row per token",
                            src->path, (long long)src->hp.n_vocab, where, (long long)src->vocab.n_tokens);
    }
    return 0;
}

int model_src_check_out_path(const struct model_src *src, const char *out_path, const char *const *extra, int n_extra)
{
    int n = src->n_files + n_extra + 1;
    const char **paths = ig_calloc((size_t)n, sizeof *paths);
    if (!paths)
        return IG_ENOMEM;
    int k = 0;
    paths[k++] = src->path;
    for (int i = 0; i < src->n_files; i++)
        paths[k++] = src->files[i].path;
    for (int i = 0; i < n_extra; i++)
        paths[k++] = extra[i];
    int rc = out_check_path(out_path, paths, k);
    free(paths);
    return rc;
}

/* ---- building --------------------------------------------------------------------------- */

int model_src_add_tensor(struct model_src *src, const struct src_tensor *t)
{
    if (model_src_find(src, t->name))
        return ig_error_set(IG_EINVAL, "%s: tensor '%s' (from '%s') appears twice", src->path, t->name, t->src_name);
    struct src_tensor *v = ig_realloc(src->tensors, (size_t)(src->n_tensors + 1) * sizeof *v);
    if (!v)
        return IG_ENOMEM;
    src->tensors = v;
    src->tensors[src->n_tensors++] = *t;
    return 0;
}

int model_src_add_file(struct model_src *src, const char *path, uint64_t size_bytes)
{
    struct stat st;
    if (size_bytes == 0 && stat(path, &st) == 0)
        size_bytes = (uint64_t)st.st_size;
    struct src_file *v = ig_realloc(src->files, (size_t)(src->n_files + 1) * sizeof *v);
    if (!v)
        return IG_ENOMEM;
    src->files = v;
    src->files[src->n_files].path = strdup(path);
    src->files[src->n_files].size_bytes = size_bytes;
    if (!src->files[src->n_files].path)
        return IG_ENOMEM;
    src->n_files++;
    return 0;
}

const struct src_tensor *model_src_find(const struct model_src *src, const char *name)
{
    for (int64_t i = 0; i < src->n_tensors; i++)
        if (strcmp(src->tensors[i].name, name) == 0)
            return &src->tensors[i];
    return NULL;
}

/* ---- reading rows ------------------------------------------------------------------------- */

int64_t src_tensor_n_rows(const struct src_tensor *t)
{
    return t->ne[1] * t->ne[2] * t->ne[3];
}

uint64_t src_tensor_xxh3(const struct src_tensor *t)
{
    if (t->data)
        return XXH3_64bits(t->data, (size_t)t->size_bytes);
    /* a third-party linear has no one byte range: its stored parts, in order */
    if (t->read_rows_f32 == hfq_read_rows_f32 && t->aux)
        return hfq_tensor_xxh3(t->aux);
    if (t->read_rows_f32 == hf_moe_read_rows_f32 && t->aux)   /* a stack of expert linears: its parts */
        return hf_moe_xxh3(t->aux);
    return XXH3_64bits(NULL, 0);
}

int64_t model_permuted_row(int64_t r, int64_t n_rows, int64_t n_head)
{
    int64_t head_rows = n_rows / n_head;   /* rows of one head: head_dim */
    int64_t head = r / head_rows, j = r % head_rows;
    int64_t half = head_rows / 2;
    /* GGUF row 2i <- stored row i; GGUF row 2i+1 <- stored row i + half */
    return head * head_rows + (j % 2) * half + j / 2;
}

/* fp16 -> fp32 through a table of all 65536 values, built from ig_fp16_to_fp32 (so it is
 * exact by construction), as ggml does on CPUs without F16C: 3x faster than the bit
 * arithmetic, and conversion is most of a float-to-F16 or F16-to-Q4_0 run. */
static float fp16_table[65536];
static pthread_once_t fp16_table_once = PTHREAD_ONCE_INIT;

static void fp16_table_init(void)
{
    for (uint32_t h = 0; h < 65536; h++)
        fp16_table[h] = ig_fp16_to_fp32((uint16_t)h);
}

static void convert_row(int type, const uint8_t *src, float *dst, int64_t n)
{
    if (type == GGML_TYPE_F32) {
        memcpy(dst, src, (size_t)n * sizeof(float));
    } else if (type == GGML_TYPE_F16) {
        pthread_once(&fp16_table_once, fp16_table_init);
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = fp16_table[h];
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = ig_bf16_to_fp32(h);
        }
    }
}

/* gemma's norms: w + shift as llama.cpp's converter computes it. torch adds in the tensor's dtype,
 * which the converter has made F32 for BF16 and kept for F16 (the sum rounded to F16 again). */
static void shift_norm(const struct src_tensor *t, float *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const float v = dst[i] + t->norm_shift;
        dst[i] = t->type == GGML_TYPE_F16 ? ig_fp16_to_fp32(ig_fp32_to_fp16(v)) : v;
    }
}

int src_tensor_read_rows_f32(const struct src_tensor *t, int64_t row0, int64_t n_rows, float *dst)
{
    if (t->type != GGML_TYPE_F32 && t->type != GGML_TYPE_F16 && t->type != GGML_TYPE_BF16)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s' is %s; only F32, F16 and BF16 can be read as floats here",
                            t->file, t->name, ggml_type_name(t->type));
    int64_t n_cols = t->ne[0], total = src_tensor_n_rows(t);
    if (row0 < 0 || n_rows < 0 || row0 + n_rows > total)
        return ig_error_set(IG_EINVAL, "tensor '%s': rows %lld..%lld out of range (%lld rows)", t->name,
                            (long long)row0, (long long)(row0 + n_rows), (long long)total);
    size_t elem = t->type == GGML_TYPE_F32 ? 4 : 2;
    if (t->permute_n_head > 0 && t->n_dims == 1) {
        /* a 1-D bias permuted like the rows of its matrix: each element is a "row" */
        for (int64_t i = 0; i < n_cols; i++) {
            int64_t s = model_permuted_row(i, n_cols, t->permute_n_head);
            convert_row(t->type, t->data + (size_t)s * elem, dst + i, 1);
        }
        return 0;
    }
    for (int64_t r = 0; r < n_rows; r++) {
        int64_t s = row0 + r;
        if (t->permute_n_head > 0)
            s = model_permuted_row(s, total, t->permute_n_head);
        convert_row(t->type, t->data + (size_t)s * (size_t)n_cols * elem, dst + r * n_cols, n_cols);
    }
    if (t->norm_shift != 0.0f)
        shift_norm(t, dst, n_rows * n_cols);
    return 0;
}
