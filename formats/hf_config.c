/* hf_config.c — HF config.json -> struct model_hparams (llama, mistral, qwen2).
 *
 * The first file the converter reads from an HF folder: it fixes the architecture and the
 * shapes every tensor of model.safetensors must have. Keys are transformers' names
 * (LlamaConfig, MistralConfig, Qwen2Config); values map to llama.cpp's {arch}.* keys the
 * way convert_hf_to_gguf.py maps them. Every key is type-checked: a string where a number
 * belongs is an error naming the key, never a silent default.
 */
#include "hf_config.h"

#include "file_map.h"
#include "../common/ig_error.h"

#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- constants --------------------------------------------------------------------- */

/* Real configs are a few kilobytes; this only keeps a hostile file from being read whole. */
#define HF_CONFIG_MAX_BYTES (4u << 20)

/* Largest dimension accepted: GGUF stores hparams as UINT32 and no real model comes near. */
#define HF_DIM_MAX INT32_MAX

/* Defaults for keys a config may leave out. */
#define HF_DEFAULT_CTX 2048          /* max_position_embeddings: LlamaConfig's default */
#define HF_DEFAULT_RMS_EPS 1e-5      /* rms_norm_eps: llama.cpp requires the key, so we always
                                      * write one; 1e-5 is Llama-2's value (Qwen2 configs
                                      * always spell out their 1e-6) */
#define HF_DEFAULT_ROPE_THETA 10000.0

/* Whether a key must be present. */
enum hf_need { HF_OPTIONAL = 0, HF_REQUIRED = 1 };

/* model_type / architectures[0] -> arch */
struct hf_arch_name {
    const char *model_type;
    const char *architecture;
    const char *arch;
};

static const struct hf_arch_name hf_arch_names[] = {
    {"llama", "LlamaForCausalLM", "llama"},
    {"mistral", "MistralForCausalLM", "llama"},
    {"qwen2", "Qwen2ForCausalLM", "qwen2"},
};
#define HF_N_ARCH (sizeof hf_arch_names / sizeof hf_arch_names[0])

/* ---- describing values in messages ------------------------------------------------- */

/* A JSON string's text cut at 40 bytes, control bytes shown as '?', so a hostile value
 * cannot garble a message. */
static void json_string_cut(const json_t *v, char *buf, size_t buf_size)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    size_t k = 0;
    for (; k < n && k < 40 && k + 4 < buf_size; k++)
        buf[k] = (unsigned char)s[k] < 0x20 ? '?' : s[k];
    snprintf(buf + k, buf_size - k, "%s", k < n ? "..." : "");
}

/* What a JSON value is, for "found ..." in a message: `string "256"`, `integer -3`,
 * `real 1.5`, `true`, `null`, `an array`, `an object`. */
static void json_describe(const json_t *v, char *buf, size_t buf_size)
{
    char cut[48];
    switch (json_typeof(v)) {
    case JSON_STRING:
        json_string_cut(v, cut, sizeof cut);
        snprintf(buf, buf_size, "string \"%s\"", cut);
        break;
    case JSON_INTEGER:
        snprintf(buf, buf_size, "integer %lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        /* "%g" drops the point of 256.0; put it back so the found type is visible. */
        snprintf(cut, sizeof cut, "%g", json_real_value(v));
        snprintf(buf, buf_size, "real %s%s", cut, strpbrk(cut, ".eEn") ? "" : ".0");
        break;
    case JSON_TRUE: snprintf(buf, buf_size, "true"); break;
    case JSON_FALSE: snprintf(buf, buf_size, "false"); break;
    case JSON_NULL: snprintf(buf, buf_size, "null"); break;
    case JSON_ARRAY: snprintf(buf, buf_size, "an array"); break;
    case JSON_OBJECT: snprintf(buf, buf_size, "an object"); break;
    }
}

/* Record "<path>: key '<key>': found <v>, expected <expected>" and return IG_EINVAL. */
static int key_error(const char *path, const char *key, const json_t *v, const char *expected)
{
    char found[96];
    json_describe(v, found, sizeof found);
    return ig_error_set(IG_EINVAL, "%s: key '%s': found %s, expected %s", path, key, found, expected);
}

/* ---- typed getters ----------------------------------------------------------------- */
/* Each returns 0 and writes *out, or IG_EINVAL naming the key. An optional key that is
 * absent or null gets the default; a required key must be present and not null. */

static int get_pos_int(const json_t *obj, const char *key, const char *path, enum hf_need need,
                       int64_t fallback, int64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (need == HF_REQUIRED)
            return ig_error_set(IG_EINVAL, "%s: key '%s' is %s, expected a positive integer", path, key,
                                v ? "null" : "missing");
        *out = fallback;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return key_error(path, key, v, "a positive integer");
    if (json_integer_value(v) > HF_DIM_MAX)
        return key_error(path, key, v, "a positive integer up to 2147483647");
    *out = (int64_t)json_integer_value(v);
    return 0;
}

/* A number (integer or real) that is finite and > 0 also after rounding to fp32, since
 * that is how GGUF stores it (1e-50 would become 0, 1e300 infinity). */
static int get_pos_float(const json_t *obj, const char *key, const char *path, double fallback,
                         float *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = (float)fallback;
        return 0;
    }
    if (!json_is_number(v))
        return key_error(path, key, v, "a positive number");
    double x = json_number_value(v);
    if (!isfinite(x) || !(x > 0) || x > FLT_MAX || !((float)x > 0))
        return key_error(path, key, v, "a finite number > 0 that fits in fp32");
    *out = (float)x;
    return 0;
}

static int get_bool(const json_t *obj, const char *key, const char *path, bool fallback, bool *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = fallback;
        return 0;
    }
    if (!json_is_boolean(v))
        return key_error(path, key, v, "true or false");
    *out = json_is_true(v);
    return 0;
}

/* ---- architecture ------------------------------------------------------------------ */

/* model_type, or architectures[0] when model_type is absent -> hp->arch and qkv biases. */
static int parse_arch(struct model_hparams *hp, const json_t *root, const char *path)
{
    const json_t *mt = json_object_get(root, "model_type");
    const json_t *archs = json_object_get(root, "architectures");
    const char *name;
    bool by_model_type = mt && !json_is_null(mt);

    if (by_model_type) {
        if (!json_is_string(mt))
            return key_error(path, "model_type", mt, "a string (llama, mistral, qwen2)");
        name = json_string_value(mt);
    } else if (archs && !json_is_null(archs)) {
        if (!json_is_array(archs) || json_array_size(archs) == 0 ||
            !json_is_string(json_array_get(archs, 0)))
            return key_error(path, "architectures", archs, "a non-empty array of strings");
        name = json_string_value(json_array_get(archs, 0));
    } else {
        return ig_error_set(IG_EINVAL, "%s: key 'model_type' is missing and there is no 'architectures' "
                            "list, expected one naming llama, mistral or qwen2", path);
    }

    for (size_t i = 0; i < HF_N_ARCH; i++) {
        const char *known = by_model_type ? hf_arch_names[i].model_type : hf_arch_names[i].architecture;
        if (strcmp(name, known) == 0) {
            snprintf(hp->arch, sizeof hp->arch, "%s", hf_arch_names[i].arch);
            /* Qwen2 always has q/k/v biases (Qwen2Config has no attention_bias key). */
            hp->attn_qkv_bias = strcmp(hp->arch, "qwen2") == 0;
            return 0;
        }
    }
    char cut[48];
    json_string_cut(by_model_type ? mt : json_array_get(archs, 0), cut, sizeof cut);
    if (by_model_type)
        return ig_error_set(IG_EINVAL, "%s: key 'model_type': '%s' is not supported (supported: llama, "
                            "mistral, qwen2)", path, cut);
    return ig_error_set(IG_EINVAL, "%s: key 'architectures': '%s' is not supported (supported: "
                        "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)", path, cut);
}

/* ---- rope scaling ------------------------------------------------------------------ */

/* llama3's frequency-factor inputs (see model_hparams): low_freq_factor < high_freq_factor,
 * else the factors' smooth ramp divides by zero or runs backwards. */
static int parse_llama3(struct model_hparams *hp, const json_t *root, const json_t *rs, const char *path)
{
    const char *const keys[2] = {"low_freq_factor", "high_freq_factor"};
    double *dst[2] = {&hp->rope_llama3_low_freq, &hp->rope_llama3_high_freq};
    const double fallback[2] = {1.0, 4.0};
    for (int k = 0; k < 2; k++) {
        const json_t *v = json_object_get(rs, keys[k]);
        char key[64];
        snprintf(key, sizeof key, "rope_scaling.%s", keys[k]);
        if (v && !json_is_null(v) && (!json_is_number(v) || !isfinite(json_number_value(v)) ||
                                      !(json_number_value(v) > 0) || json_number_value(v) > FLT_MAX))
            return key_error(path, key, v, "a finite number > 0");
        *dst[k] = v && !json_is_null(v) ? json_number_value(v) : fallback[k];
    }
    if (!(hp->rope_llama3_low_freq < hp->rope_llama3_high_freq))
        return ig_error_set(IG_EINVAL, "%s: key 'rope_scaling': low_freq_factor %g is not below high_freq_factor %g "
                            "(llama3 scaling needs low < high)", path, hp->rope_llama3_low_freq,
                            hp->rope_llama3_high_freq);
    return get_pos_int(root, "original_max_position_embeddings", path, HF_OPTIONAL, 8192, &hp->rope_llama3_orig_ctx);
}

/* rope_scaling: null, or {"rope_type"|"type": string, "factor": number > 0,
 * "original_max_position_embeddings": integer > 0}. A factor left out stays 0, which
 * llama.cpp reads as "no scaling factor". */
static int parse_rope_scaling(struct model_hparams *hp, const json_t *root, const char *path)
{
    const json_t *rs = json_object_get(root, "rope_scaling");
    if (!rs || json_is_null(rs))
        return 0;
    if (!json_is_object(rs))
        return key_error(path, "rope_scaling", rs, "null or an object");

    /* Newer transformers write rope_type, older ones type; rope_type wins when both are. */
    const char *type_key = json_object_get(rs, "rope_type") ? "rope_type" : "type";
    const json_t *type = json_object_get(rs, type_key);
    char key[64];
    snprintf(key, sizeof key, "rope_scaling.%s", type_key);
    if (!type)
        return ig_error_set(IG_EINVAL, "%s: key 'rope_scaling' has neither 'rope_type' nor 'type', "
                            "expected one naming the scaling (linear, yarn, llama3, ...)", path);
    /* What llama.cpp can load: its own types (llama_rope_scaling_type_from_string) and llama3,
     * which its converter turns into rope_freqs. "default"/"none" mean no scaling. Anything
     * else used to be copied into the GGUF, and llama.cpp aborts when it loads that. */
    static const char *const known[] = {"linear", "yarn", "llama3", "longrope"};
    const char *allowed = "one of \"linear\", \"yarn\", \"llama3\", \"longrope\", \"default\", \"none\"";
    if (!json_is_string(type))
        return key_error(path, key, type, allowed);
    const char *name = json_string_value(type);
    if (strcmp(name, "default") == 0 || strcmp(name, "none") == 0)
        return 0;   /* no scaling: nothing is written, as convert_hf_to_gguf.py does */
    bool ok = false;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        ok = ok || strcmp(name, known[i]) == 0;
    if (!ok)
        return key_error(path, key, type, allowed);
    snprintf(hp->rope_scaling_type, sizeof hp->rope_scaling_type, "%s", name);

    const json_t *factor = json_object_get(rs, "factor");
    if (factor && !json_is_null(factor)) {
        double x = json_is_number(factor) ? json_number_value(factor) : -1;
        if (!json_is_number(factor) || !isfinite(x) || !(x > 0) || x > FLT_MAX)
            return key_error(path, "rope_scaling.factor", factor, "a finite number > 0");
        hp->rope_scaling_factor = (float)x;
    }
    const json_t *orig = json_object_get(rs, "original_max_position_embeddings");
    if (orig && !json_is_null(orig)) {
        if (!json_is_integer(orig) || json_integer_value(orig) <= 0 || json_integer_value(orig) > HF_DIM_MAX)
            return key_error(path, "rope_scaling.original_max_position_embeddings", orig,
                             "a positive integer up to 2147483647");
        hp->rope_scaling_orig_ctx = (int64_t)json_integer_value(orig);
    }
    return strcmp(name, "llama3") == 0 ? parse_llama3(hp, root, rs, path) : 0;
}

/* ---- head geometry ----------------------------------------------------------------- */

/* num_key_value_heads and head_dim, checked against num_attention_heads and hidden_size. */
static int parse_heads(struct model_hparams *hp, const json_t *root, const char *path)
{
    int rc = get_pos_int(root, "num_key_value_heads", path, HF_OPTIONAL, hp->n_head, &hp->n_head_kv);
    if (rc)
        return rc;
    if (hp->n_head % hp->n_head_kv != 0)
        return ig_error_set(IG_EINVAL, "%s: key 'num_key_value_heads': %lld does not divide "
                            "num_attention_heads %lld", path, (long long)hp->n_head_kv,
                            (long long)hp->n_head);

    const json_t *hd = json_object_get(root, "head_dim");
    hp->head_dim_explicit = hd && !json_is_null(hd);
    if (hp->head_dim_explicit) {
        rc = get_pos_int(root, "head_dim", path, HF_REQUIRED, 0, &hp->head_dim);
        if (rc)
            return rc;
    } else {
        if (hp->n_embd % hp->n_head != 0)
            return ig_error_set(IG_EINVAL, "%s: key 'num_attention_heads': %lld does not divide "
                                "hidden_size %lld, and there is no head_dim", path,
                                (long long)hp->n_head, (long long)hp->n_embd);
        hp->head_dim = hp->n_embd / hp->n_head;
    }
    /* Both factors are at most 2^31 - 1, so the int64 product is exact; the q projection's
     * row count must still fit the 32-bit fields llama.cpp keeps it in. */
    if (hp->n_head * hp->head_dim > HF_DIM_MAX)
        return ig_error_set(IG_EINVAL, "%s: key 'head_dim': num_attention_heads %lld x head_dim %lld "
                            "= %lld rows, more than the 2147483647 allowed", path,
                            (long long)hp->n_head, (long long)hp->head_dim,
                            (long long)(hp->n_head * hp->head_dim));
    /* RoPE rotates pairs of dimensions; llama's Q/K row permutation pairs row i with row
     * i + head_dim/2. With an odd head size one row would be duplicated and one dropped. */
    if (hp->head_dim % 2 != 0) {
        if (hp->head_dim_explicit)
            return ig_error_set(IG_EINVAL, "%s: key 'head_dim': %lld is odd; RoPE rotates pairs of dimensions, expected an even number",
                                path, (long long)hp->head_dim);
        return ig_error_set(IG_EINVAL, "%s: key 'num_attention_heads': hidden_size %lld / %lld heads gives head size %lld, which is odd; RoPE rotates pairs of dimensions, expected an even head size",
                            path, (long long)hp->n_embd, (long long)hp->n_head, (long long)hp->head_dim);
    }
    hp->n_rot = hp->head_dim;
    return 0;
}

/* ---- the whole config -------------------------------------------------------------- */

/* One straight run of checks, in the order of the header's key list. */
static int parse_root(struct model_hparams *hp, const json_t *root, const char *path)
{
    int rc;
    bool attention_bias = false;
    if ((rc = parse_arch(hp, root, path)))
        return rc;
    if ((rc = get_pos_int(root, "hidden_size", path, HF_REQUIRED, 0, &hp->n_embd)) ||
        (rc = get_pos_int(root, "intermediate_size", path, HF_REQUIRED, 0, &hp->n_ff)) ||
        (rc = get_pos_int(root, "num_hidden_layers", path, HF_REQUIRED, 0, &hp->n_layer)) ||
        (rc = get_pos_int(root, "num_attention_heads", path, HF_REQUIRED, 0, &hp->n_head)) ||
        (rc = get_pos_int(root, "vocab_size", path, HF_REQUIRED, 0, &hp->n_vocab)) ||
        (rc = get_pos_int(root, "max_position_embeddings", path, HF_OPTIONAL, HF_DEFAULT_CTX,
                          &hp->n_ctx_train)))
        return rc;
    if ((rc = parse_heads(hp, root, path)))
        return rc;
    if ((rc = get_pos_float(root, "rms_norm_eps", path, HF_DEFAULT_RMS_EPS, &hp->rms_eps)) ||
        (rc = get_pos_float(root, "rope_theta", path, HF_DEFAULT_ROPE_THETA, &hp->rope_theta)) ||
        (rc = get_bool(root, "tie_word_embeddings", path, false, &hp->tie_embeddings)) ||
        (rc = get_bool(root, "attention_bias", path, false, &attention_bias)))
        return rc;
    /* A llama config with attention_bias: true has q/k/v (and o) biases. */
    hp->attn_qkv_bias = hp->attn_qkv_bias || attention_bias;
    return parse_rope_scaling(hp, root, path);
}

/* json_text holds size_bytes bytes (a NUL inside is a JSON error, not the end). */
static int parse_buffer(struct model_hparams *hp, const char *json_text, size_t size_bytes, const char *path)
{
    json_error_t err;
    memset(hp, 0, sizeof *hp);
    json_t *root = json_loadb(json_text, size_bytes, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!root)
        return ig_error_set(IG_EINVAL, "%s: not valid JSON: line %d column %d: %s", path, err.line,
                            err.column, err.text);
    int rc = 0;
    if (!json_is_object(root)) {
        char found[96];
        json_describe(root, found, sizeof found);
        rc = ig_error_set(IG_EINVAL, "%s: top level is %s, expected an object of keys", path, found);
    } else {
        rc = parse_root(hp, root, path);
    }
    json_decref(root);
    if (rc)
        memset(hp, 0, sizeof *hp);
    return rc;
}

/* ---- public ------------------------------------------------------------------------ */

int hf_config_parse(struct model_hparams *hp, const char *json_text, const char *path)
{
    return parse_buffer(hp, json_text, strlen(json_text), path);
}

int hf_config_read(struct model_hparams *hp, const char *config_path)
{
    struct stat st;
    size_t size_bytes = 0;
    memset(hp, 0, sizeof *hp);
    /* file_read_all reports no status, so the bad-input cases are told apart here first. */
    if (stat(config_path, &st) != 0)
        return ig_error_set(errno == ENOENT ? IG_EINVAL : IG_EIO, "%s: cannot open: %s", config_path,
                            strerror(errno));
    if (!S_ISREG(st.st_mode))
        return ig_error_set(IG_EINVAL, "%s: not a regular file", config_path);
    if ((uint64_t)st.st_size > HF_CONFIG_MAX_BYTES)
        return ig_error_set(IG_EINVAL, "%s: %lld bytes, more than the %u allowed for a config.json",
                            config_path, (long long)st.st_size, HF_CONFIG_MAX_BYTES);
    char *text = file_read_all(config_path, HF_CONFIG_MAX_BYTES, &size_bytes);
    if (!text)
        return IG_EIO;   /* a failed read, or no memory (both exit 3); the message is set */
    int rc = parse_buffer(hp, text, size_bytes, config_path);
    free(text);
    return rc;
}
