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
#include "gemma_arch.h"
#include "model_arch.h"
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
    char list0[256], expected[300];

    if (by_model_type) {
        snprintf(expected, sizeof expected, "a string (%s)", model_arch_list(MODEL_ARCH_MODEL_TYPES, list0, sizeof list0));
        if (!json_is_string(mt))
            return key_error(path, "model_type", mt, expected);
        name = json_string_value(mt);
    } else if (archs && !json_is_null(archs)) {
        if (!json_is_array(archs) || json_array_size(archs) == 0 ||
            !json_is_string(json_array_get(archs, 0)))
            return key_error(path, "architectures", archs, "a non-empty array of strings");
        name = json_string_value(json_array_get(archs, 0));
    } else {
        return ig_error_set(IG_EINVAL, "%s: key 'model_type' is missing and there is no 'architectures' "
                            "list, expected one naming %s", path, model_arch_list(MODEL_ARCH_MODEL_TYPES, list0, sizeof list0));
    }

    const struct model_arch_hf *known = model_arch_hf_find(name, by_model_type);
    if (known) {
        snprintf(hp->arch, sizeof hp->arch, "%s", known->arch);
        /* Qwen2 always has q/k/v biases (Qwen2Config has no attention_bias key). */
        hp->attn_qkv_bias = model_arch_find(known->arch)->attn_qkv_bias;
        hp->attn_qk_norm = model_arch_find(known->arch)->attn_qk_norm;
        return 0;
    }
    char cut[48], list[256];
    json_string_cut(by_model_type ? mt : json_array_get(archs, 0), cut, sizeof cut);
    if (by_model_type)
        return ig_error_set(IG_EINVAL, "%s: key 'model_type': '%s' is not supported (supported: %s)", path, cut,
                            model_arch_list(MODEL_ARCH_MODEL_TYPES, list, sizeof list));
    return ig_error_set(IG_EINVAL, "%s: key 'architectures': '%s' is not supported (supported: %s)", path, cut,
                        model_arch_list(MODEL_ARCH_ARCHITECTURES, list, sizeof list));
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

/* ---- gemma2 / gemma3 (engineer gem; formats/gemma_arch.h) ------------------------- */

/* A soft cap, window or base: absent -> fallback, null -> 0 (HF's None: off), else a finite
 * number > 0. */
static int get_optional_pos(const json_t *obj, const char *key, const char *path, double fallback, double *out)
{
    const json_t *v = json_object_get(obj, key);
    *out = !v ? fallback : 0.0;
    if (!v || json_is_null(v))
        return 0;
    double x = json_is_number(v) ? json_number_value(v) : -1;
    if (!json_is_number(v) || !isfinite(x) || !(x > 0) || x > FLT_MAX)
        return key_error(path, key, v, "null or a finite number > 0");
    *out = x;
    return 0;
}

/* Gemma2Config / Gemma3TextConfig keys beyond llama's, with those classes' defaults. */
static int parse_gemma(struct model_hparams *hp, const json_t *root, const char *path)
{
    if (!gemma_arch_is(hp->arch))
        return 0;
    const bool g2 = strcmp(hp->arch, "gemma2") == 0;
    const json_t *act = json_object_get(root, "hidden_activation");
    if (act && !json_is_null(act) && (!json_is_string(act) || strcmp(json_string_value(act), "gelu_pytorch_tanh") != 0))
        return key_error(path, "hidden_activation", act, "\"gelu_pytorch_tanh\" (GeGLU with the tanh GELU)");
    double qpas, acap, fcap, window, local_base;
    int64_t pattern = 6;
    int rc;
    if ((rc = get_optional_pos(root, "query_pre_attn_scalar", path, 256.0, &qpas)) ||
        (rc = get_optional_pos(root, "attn_logit_softcapping", path, g2 ? 50.0 : 0.0, &acap)) ||
        (rc = get_optional_pos(root, "final_logit_softcapping", path, g2 ? 30.0 : 0.0, &fcap)) ||
        (rc = get_optional_pos(root, "sliding_window", path, 4096.0, &window)) ||
        (rc = get_optional_pos(root, "rope_local_base_freq", path, 10000.0, &local_base)) ||
        (!g2 && (rc = get_pos_int(root, "sliding_window_pattern", path, HF_OPTIONAL, 6, &pattern))))
        return rc;
    if (window > HF_DIM_MAX || window != floor(window))
        return key_error(path, "sliding_window", json_object_get(root, "sliding_window"), "a positive integer or null");
    if (!json_object_get(root, "rms_norm_eps"))
        hp->rms_eps = 1e-6f;   /* both classes' default */
    hp->head_dim_explicit = true;   /* the converters always write key_length / value_length */
    hp->attn_softcap = (float)acap;
    hp->final_softcap = (float)fcap;
    /* gemma2 slides on even blocks; gemma3 on all but every pattern-th (1: none, and the
     * converter then writes no window) */
    hp->swa_pattern = g2 ? 2 : pattern;
    hp->sliding_window = hp->swa_pattern == 1 ? 0 : (int64_t)window;
    hp->rope_theta_swa = g2 ? 0.0f : (float)local_base;
    hp->query_scale = qpas > 0 ? 1.0f / sqrtf((float)qpas) : 0.0f;   /* as llama.cpp computes f_attention_scale */
    return 0;
}

/* ---- architecture extras (engineer q3p): mixtral's experts, phi3's window ------------- */

/* MixtralConfig: num_local_experts (experts per block, >= 2) and num_experts_per_tok (1..that),
 * which llama.cpp's converter writes as {arch}.expert_count / expert_used_count. Phi3Config:
 * sliding_window (null or absent: 0, as that converter writes it). */
static int parse_q3p_extras(struct model_hparams *hp, const json_t *root, const char *path)
{
    int rc;
    const json_t *ne = json_object_get(root, "num_local_experts");
    if (strcmp(hp->arch, "llama") == 0 && ne && !json_is_null(ne)) {
        if ((rc = get_pos_int(root, "num_local_experts", path, HF_REQUIRED, 0, &hp->n_expert)) ||
            (rc = get_pos_int(root, "num_experts_per_tok", path, HF_REQUIRED, 0, &hp->n_expert_used)))
            return rc;
        if (hp->n_expert < 2 || hp->n_expert_used > hp->n_expert)
            return ig_error_set(IG_EINVAL, "%s: key 'num_experts_per_tok': %lld of num_local_experts %lld, expected "
                                "at least 2 experts and 1..num_local_experts per token",
                                path, (long long)hp->n_expert_used, (long long)hp->n_expert);
    }
    if (strcmp(hp->arch, "phi3") != 0)
        return 0;
    /* Phi3Config: original_max_position_embeddings (the converter writes it as
     * rope.scaling.original_context_length whether or not RoPE is scaled) */
    if ((rc = get_pos_int(root, "sliding_window", path, HF_OPTIONAL, 0, &hp->sliding_window)) ||
        (rc = get_pos_int(root, "original_max_position_embeddings", path, HF_OPTIONAL, hp->n_ctx_train,
                          &hp->rope_scaling_orig_ctx)))
        return rc;
    /* longrope's factors become rope_factors_long/short tensors and an attention factor in
     * llama.cpp's converter; ingot does not write those yet, so such a config is refused rather
     * than converted into a file that runs without its scaling */
    if (hp->rope_scaling_type[0])
        return ig_error_set(IG_EINVAL, "%s: key 'rope_scaling': phi3 with rope scaling '%s' is not supported yet "
                            "(supported: phi3 without rope_scaling)", path, hp->rope_scaling_type);
    return 0;
}

/* Gemma3ForConditionalGeneration (model_type "gemma3": the 4B, 12B and 27B releases) keeps the
 * language model's keys under text_config and leaves out those equal to Gemma3TextConfig's
 * defaults. llama.cpp's converter lifts text_config to the top level ({**config, **text_config})
 * and its Gemma3Model falls back to those defaults; this does the same. Returns a new object
 * for such a config, NULL for any other (use root as it is), or NULL with *rc set. */
static json_t *gemma3_lift_text_config(const json_t *root, const char *path, int *rc)
{
    const json_t *mt = json_object_get(root, "model_type"), *tc = json_object_get(root, "text_config");
    const json_t *archs = json_object_get(root, "architectures");
    const char *a0 = json_is_array(archs) ? json_string_value(json_array_get(archs, 0)) : NULL;
    const bool mm = (json_is_string(mt) && strcmp(json_string_value(mt), "gemma3") == 0) ||
                    (!mt && a0 && strcmp(a0, "Gemma3ForConditionalGeneration") == 0);
    *rc = 0;
    if (!mm || !tc)
        return NULL;
    if (!json_is_object(tc)) {
        *rc = key_error(path, "text_config", tc, "an object (the language model's keys)");
        return NULL;
    }
    json_t *merged = json_deep_copy(root);
    if (!merged || json_object_update(merged, (json_t *)tc) != 0) {
        json_decref(merged);
        *rc = IG_ENOMEM;
        return NULL;
    }
    static const struct {
        const char *key;
        double value;
    } defaults[] = {
        {"num_attention_heads", 8}, {"num_key_value_heads", 4}, {"head_dim", 256},
        {"max_position_embeddings", 131072}, {"vocab_size", 262208}, {"rope_theta", 1000000.0},
        {"rms_norm_eps", 1e-6},
    };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        if (!json_object_get(merged, defaults[i].key))
            json_object_set_new(merged, defaults[i].key,
                                defaults[i].value == floor(defaults[i].value) && defaults[i].value >= 1
                                    ? json_integer((json_int_t)defaults[i].value)
                                    : json_real(defaults[i].value));
    json_object_set_new(merged, "model_type", json_string("gemma3_text"));
    return merged;
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
    rc = parse_rope_scaling(hp, root, path);
    rc = rc ? rc : parse_q3p_extras(hp, root, path);
    return rc ? rc : parse_gemma(hp, root, path);
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
        json_t *lifted = gemma3_lift_text_config(root, path, &rc);   /* gem: multimodal gemma3 */
        rc = rc ? rc : parse_root(hp, lifted ? lifted : root, path);
        json_decref(lifted);
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
