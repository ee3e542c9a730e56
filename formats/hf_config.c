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
static int parse_llama3(struct model_hparams *hp, const json_t *root, const json_t *rs, const char *rs_key,
                        const char *path)
{
    const char *const keys[2] = {"low_freq_factor", "high_freq_factor"};
    double *dst[2] = {&hp->rope_llama3_low_freq, &hp->rope_llama3_high_freq};
    const double fallback[2] = {1.0, 4.0};
    for (int k = 0; k < 2; k++) {
        const json_t *v = json_object_get(rs, keys[k]);
        char key[64];
        snprintf(key, sizeof key, "%s.%s", rs_key, keys[k]);
        if (v && !json_is_null(v) && (!json_is_number(v) || !isfinite(json_number_value(v)) ||
                                      !(json_number_value(v) > 0) || json_number_value(v) > FLT_MAX))
            return key_error(path, key, v, "a finite number > 0");
        *dst[k] = v && !json_is_null(v) ? json_number_value(v) : fallback[k];
    }
    if (!(hp->rope_llama3_low_freq < hp->rope_llama3_high_freq))
        return ig_error_set(IG_EINVAL, "%s: key '%s': low_freq_factor %g is not below high_freq_factor %g "
                            "(llama3 scaling needs low < high)", path, rs_key, hp->rope_llama3_low_freq,
                            hp->rope_llama3_high_freq);
    return get_pos_int(root, "original_max_position_embeddings", path, HF_OPTIONAL, 8192, &hp->rope_llama3_orig_ctx);
}

/* rope_scaling: null, or {"rope_type"|"type": string, "factor": number > 0,
 * "original_max_position_embeddings": integer > 0}. A factor left out stays 0, which
 * llama.cpp reads as "no scaling factor". rs_key names where the object came from in messages
 * ("rope_scaling", or the rope_parameters object it was folded from). */
static int parse_rope_scaling(struct model_hparams *hp, const json_t *root, const char *rs_key, const char *path)
{
    const json_t *rs = json_object_get(root, "rope_scaling");
    if (!rs || json_is_null(rs))
        return 0;
    if (!json_is_object(rs))
        return key_error(path, rs_key, rs, "null or an object");

    /* Newer transformers write rope_type, older ones type; rope_type wins when both are. */
    const char *type_key = json_object_get(rs, "rope_type") ? "rope_type" : "type";
    const json_t *type = json_object_get(rs, type_key);
    char key[64];
    snprintf(key, sizeof key, "%s.%s", rs_key, type_key);
    if (!type)
        return ig_error_set(IG_EINVAL, "%s: key '%s' has neither 'rope_type' nor 'type', "
                            "expected one naming the scaling (linear, yarn, llama3, ...)", path, rs_key);
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
    /* "su" is the first Phi-3 128k releases' name for longrope (Phi3MiniModel takes both) */
    if (strcmp(name, "su") == 0 && strcmp(hp->arch, "phi3") == 0)
        name = "longrope";
    bool ok = false;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        ok = ok || strcmp(name, known[i]) == 0;
    if (!ok)
        return key_error(path, key, type, allowed);
    snprintf(hp->rope_scaling_type, sizeof hp->rope_scaling_type, "%s", name);

    const json_t *factor = json_object_get(rs, "factor");
    if (factor && !json_is_null(factor)) {
        double x = json_is_number(factor) ? json_number_value(factor) : -1;
        if (!json_is_number(factor) || !isfinite(x) || !(x > 0) || x > FLT_MAX) {
            snprintf(key, sizeof key, "%s.factor", rs_key);
            return key_error(path, key, factor, "a finite number > 0");
        }
        hp->rope_scaling_factor = (float)x;
    }
    const json_t *orig = json_object_get(rs, "original_max_position_embeddings");
    if (orig && !json_is_null(orig)) {
        if (!json_is_integer(orig) || json_integer_value(orig) <= 0 || json_integer_value(orig) > HF_DIM_MAX) {
            snprintf(key, sizeof key, "%s.original_max_position_embeddings", rs_key);
            return key_error(path, key, orig, "a positive integer up to 2147483647");
        }
        hp->rope_scaling_orig_ctx = (int64_t)json_integer_value(orig);
    }
    return strcmp(name, "llama3") == 0 ? parse_llama3(hp, root, rs, rs_key, path) : 0;
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

/* ---- gemma2 / gemma3 (formats/gemma_arch.h) ------------------------- */

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

/* Which blocks slide, as a period: layer_types (transformers >= 4.53 writes it beside or instead of
 * sliding_window_pattern: "sliding_attention" / "full_attention" per block) must be p - 1 sliding
 * blocks then one full block, repeated (the only layout llama.cpp's set_swa_pattern can hold; a
 * trailing partial period slides), or all sliding (p = n_layer + 1), or all full (p = 1).
 * *pattern is left as it is when the key is absent or null. */
static int parse_layer_types(const json_t *root, const char *path, int64_t n_layer, int64_t *pattern)
{
    const json_t *lt = json_object_get(root, "layer_types");
    if (!lt || json_is_null(lt))
        return 0;
    if (!json_is_array(lt) || (int64_t)json_array_size(lt) != n_layer)
        return ig_error_set(IG_EINVAL, "%s: key 'layer_types': expected an array of num_hidden_layers (%lld) strings "
                            "\"sliding_attention\" or \"full_attention\"", path, (long long)n_layer);
    int64_t first_full = -1;
    for (int64_t l = 0; l < n_layer; l++) {
        const char *t = json_string_value(json_array_get(lt, (size_t)l));
        const bool full = t && strcmp(t, "full_attention") == 0;
        if (!full && !(t && strcmp(t, "sliding_attention") == 0))
            return ig_error_set(IG_EINVAL, "%s: key 'layer_types': entry %lld is not \"sliding_attention\" or "
                                "\"full_attention\"", path, (long long)l);
        if (full && first_full < 0)
            first_full = l;
    }
    const int64_t p = first_full < 0 ? n_layer + 1 : first_full + 1;
    for (int64_t l = 0; l < n_layer; l++) {
        const char *t = json_string_value(json_array_get(lt, (size_t)l));
        if ((strcmp(t, "full_attention") == 0) != (l % p == p - 1))
            return ig_error_set(IG_EINVAL, "%s: key 'layer_types': block %lld is %s, but the first full-attention block "
                                "(%lld) makes the pattern 'every %lld-th block is full'; llama.cpp can only run a "
                                "repeating pattern (supported: %lld - 1 sliding blocks, then one full block, repeated)",
                                path, (long long)l, t, (long long)first_full, (long long)p, (long long)p);
    }
    *pattern = p;
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
    int64_t pattern = g2 ? 2 : 6;
    int rc;
    /* gemma3's period: layer_types, else sliding_window_pattern, else the underscored key newer
     * exports keep beside layer_types, else 6 (Gemma3TextConfig's default); gemma2 alternates unless
     * layer_types says otherwise */
    const char *pattern_key = json_object_get(root, "sliding_window_pattern") ? "sliding_window_pattern"
                                                                             : "_sliding_window_pattern";
    if ((rc = get_optional_pos(root, "query_pre_attn_scalar", path, 256.0, &qpas)) ||
        (rc = get_optional_pos(root, "attn_logit_softcapping", path, g2 ? 50.0 : 0.0, &acap)) ||
        (rc = get_optional_pos(root, "final_logit_softcapping", path, g2 ? 30.0 : 0.0, &fcap)) ||
        (rc = get_optional_pos(root, "sliding_window", path, 4096.0, &window)) ||
        (rc = get_optional_pos(root, "rope_local_base_freq", path, 10000.0, &local_base)) ||
        (!g2 && (rc = get_pos_int(root, pattern_key, path, HF_OPTIONAL, 6, &pattern))) ||
        (rc = parse_layer_types(root, path, hp->n_layer, &pattern)))
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
    /* a period that slides the same blocks as llama.cpp's default (all sliding in a short model)
     * is that default: the file then needs no key of its own (gemma_arch.c) */
    hp->swa_pattern = gemma_swa_pattern_canonical(hp->arch, hp->n_layer, pattern);
    hp->sliding_window = hp->swa_pattern == 1 ? 0 : (int64_t)window;
    hp->rope_theta_swa = g2 ? 0.0f : (float)local_base;
    hp->query_scale = qpas > 0 ? 1.0f / sqrtf((float)qpas) : 0.0f;   /* as llama.cpp computes f_attention_scale */
    return 0;
}

/* ---- phi3's rope: partial rotary and longrope -------------------------- */

/* partial_rotary_factor (Phi-4-mini: 0.75): llama.cpp's Phi3 converter writes
 * rope.dimension_count = int(factor · hidden_size) // num_attention_heads, and RoPE turns only
 * those first dimensions of each head (NEOX pairs i, i + n_rot/2). */
static int parse_phi3_partial_rotary(struct model_hparams *hp, const json_t *root, const char *path)
{
    const json_t *v = json_object_get(root, "partial_rotary_factor");
    if (!v || json_is_null(v))
        return 0;
    double f = json_is_number(v) ? json_number_value(v) : -1;
    if (!json_is_number(v) || !isfinite(f) || !(f > 0) || f > 1)
        return key_error(path, "partial_rotary_factor", v, "a number in (0, 1]");
    const int64_t n_rot = (int64_t)(f * (double)hp->n_embd) / hp->n_head;
    if (n_rot <= 0 || n_rot % 2 != 0 || n_rot > hp->head_dim)
        return ig_error_set(IG_EINVAL, "%s: key 'partial_rotary_factor': %g x hidden_size %lld / %lld heads gives "
                            "%lld rotated dimensions, expected an even number in 2..head size %lld", path, f,
                            (long long)hp->n_embd, (long long)hp->n_head, (long long)n_rot, (long long)hp->head_dim);
    hp->n_rot = n_rot;
    return 0;
}

/* rope_scaling.<key>: an array of n finite numbers > 0 (they divide RoPE's frequencies). */
static int get_factor_array(const json_t *rs, const char *rs_key, const char *key, int64_t n, const char *path,
                            float *out)
{
    char full[96];
    snprintf(full, sizeof full, "%s.%s", rs_key, key);
    const json_t *a = json_object_get(rs, key);
    if (!a || json_is_null(a))
        return ig_error_set(IG_EINVAL, "%s: key '%s' is %s, expected an array of %lld numbers (rotated dimensions / 2)",
                            path, full, a ? "null" : "missing", (long long)n);
    char expected[96];
    snprintf(expected, sizeof expected, "an array of %lld numbers (rotated dimensions / 2)", (long long)n);
    if (!json_is_array(a))
        return key_error(path, full, a, expected);
    if ((int64_t)json_array_size(a) != n)
        return ig_error_set(IG_EINVAL, "%s: key '%s': %zu entries, expected %lld (rope.dimension_count %lld / 2)",
                            path, full, json_array_size(a), (long long)n, (long long)(2 * n));
    for (int64_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(a, (size_t)i);
        double x = json_is_number(v) ? json_number_value(v) : -1;
        if (!json_is_number(v) || !isfinite(x) || !(x > 0) || x > FLT_MAX || !((float)x > 0)) {
            snprintf(full, sizeof full, "%s.%s[%lld]", rs_key, key, (long long)i);
            return key_error(path, full, v, "a finite number > 0");
        }
        out[i] = (float)x;
    }
    return 0;
}

/* Phi3Config's rope_scaling {"type"|"rope_type": "longrope"|"su"|"yarn", "long_factor": [...],
 * "short_factor": [...]}, as llama.cpp's Phi3MiniModel converts it: the factors become the
 * rope_factors_long/short.weight tensors (formats/hf_model.c) and the attention factor
 * rope.scaling.attn_factor = sqrt(1 + ln(s) / ln(orig)) (longrope, su) or 0.1·ln(s) + 1 (yarn),
 * s = max_position_embeddings / original_max_position_embeddings (1 when s <= 1). No
 * rope.scaling.type key is written, so llama.cpp runs phi3's yarn exactly as longrope (factor
 * tensors, no YaRN ramp) but for that factor; ingot records both as "longrope". */
static int parse_phi3_longrope(struct model_hparams *hp, const json_t *root, const char *rs_key, const char *path)
{
    if (!hp->rope_scaling_type[0])
        return 0;
    const bool yarn = strcmp(hp->rope_scaling_type, "yarn") == 0;
    if (strcmp(hp->rope_scaling_type, "longrope") != 0 && !yarn)
        return ig_error_set(IG_EINVAL, "%s: key '%s': phi3 with rope scaling '%s' is not supported "
                            "(supported for phi3: longrope, su, yarn)", path, rs_key, hp->rope_scaling_type);
    const json_t *rs = json_object_get(root, "rope_scaling");
    const int64_t n = hp->n_rot / 2;
    if (n > MODEL_ROPE_FACTORS_MAX)
        return ig_error_set(IG_EINVAL, "%s: key '%s': %lld rotated dimensions, at most %d supported for "
                            "longrope", path, rs_key, (long long)hp->n_rot, 2 * MODEL_ROPE_FACTORS_MAX);
    int rc;
    if ((rc = get_factor_array(rs, rs_key, "long_factor", n, path, hp->rope_factors_long)) ||
        (rc = get_factor_array(rs, rs_key, "short_factor", n, path, hp->rope_factors_short)))
        return rc;
    hp->rope_factors_n = n;
    const double orig = (double)hp->rope_scaling_orig_ctx, scale = (double)hp->n_ctx_train / orig;
    if (scale > 1.0 && orig < 2 && !yarn)
        return ig_error_set(IG_EINVAL, "%s: key 'original_max_position_embeddings': %lld; longrope's attention "
                            "factor divides by its logarithm, expected at least 2", path, (long long)hp->rope_scaling_orig_ctx);
    hp->rope_attn_factor = scale <= 1.0 ? 1.0f : yarn ? (float)(0.1 * log(scale) + 1.0)
                                                      : (float)sqrt(1.0 + log(scale) / log(orig));
    snprintf(hp->rope_scaling_type, sizeof hp->rope_scaling_type, "longrope");
    return 0;
}

/* ---- architecture extras: mixtral's experts, phi3's window ------------- */

/* MixtralConfig: num_local_experts (experts per block, >= 2) and num_experts_per_tok (1..that),
 * which llama.cpp's converter writes as {arch}.expert_count / expert_used_count. Phi3Config:
 * sliding_window (null or absent: 0, as that converter writes it). */
static int parse_q3p_extras(struct model_hparams *hp, const json_t *root, const char *rs_key, const char *path)
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
        (rc = get_pos_int(root, "original_max_position_embeddings", path, HF_OPTIONAL,
                          hp->rope_scaling_orig_ctx > 0 ? hp->rope_scaling_orig_ctx : hp->n_ctx_train,
                          &hp->rope_scaling_orig_ctx)) ||
        (rc = parse_phi3_partial_rotary(hp, root, path)))
        return rc;
    return parse_phi3_longrope(hp, root, rs_key, path);
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
    /* a v5 text_config holds its thetas in rope_parameters: a default theta beside it would hide
     * one missing there (rope_parameters_fold refuses that instead) */
    const json_t *rp = json_object_get(merged, "rope_parameters");
    const bool v5_rope = rp && !json_is_null(rp);
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        if (!json_object_get(merged, defaults[i].key) && !(v5_rope && strcmp(defaults[i].key, "rope_theta") == 0))
            json_object_set_new(merged, defaults[i].key,
                                defaults[i].value == floor(defaults[i].value) && defaults[i].value >= 1
                                    ? json_integer((json_int_t)defaults[i].value)
                                    : json_real(defaults[i].value));
    json_object_set_new(merged, "model_type", json_string("gemma3_text"));
    return merged;
}

/* ---- transformers v5's rope_parameters ------------------------------- */

/* transformers 4.56+ (and v5) save RoPE as one object instead of rope_theta + rope_scaling:
 *   "rope_parameters": {"rope_type": "default"|"linear"|"llama3"|"yarn"|"longrope",
 *                       "rope_theta": x, <the scaling's own keys>, "partial_rotary_factor": f?}
 * and, for models with per-kind RoPE (Gemma3TextConfig), one such object per attention kind:
 *   {"full_attention": {...}, "sliding_attention": {"rope_type": "default", "rope_theta": x}},
 * the sliding one replacing rope_local_base_freq. Both are folded here into the old keys
 * (rope_theta, rope_scaling, partial_rotary_factor, rope_local_base_freq), so one code path reads
 * either form. A config holding both forms must agree: an old key and its new counterpart
 * with different values are refused, naming both (v5 itself lets an old rope_scaling replace
 * rope_parameters but rope_parameters.rope_theta beat rope_theta; older releases read only the
 * old keys, so no choice is safe).
 * A rope_parameters without rope_theta takes the top-level rope_theta (transformers'
 * convert_rope_params_to_dict and llama.cpp's converter both do), and is refused without one:
 * transformers would then use its config class's default_theta, which differs by class
 * (10000 for llama, 1e6 / 1e4 for gemma3's full / sliding kinds), a guess not made silently. */

/* Whether two JSON values are the same (numbers by value: 8 and 8.0 agree). */
static bool json_same(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    return json_equal((json_t *)a, (json_t *)b);
}

/* "<path>: keys '<old>' (<a>) and '<new>' (<b>) disagree ..." -> IG_EINVAL. */
static int keys_disagree(const char *path, const char *old_key, const json_t *a, const char *new_key, const json_t *b)
{
    char fa[96], fb[96];
    json_describe(a, fa, sizeof fa);
    json_describe(b, fb, sizeof fb);
    return ig_error_set(IG_EINVAL, "%s: keys '%s' (%s) and '%s' (%s) disagree, and transformers releases differ in "
                        "which one they use: expected the same value in both, or only one of them",
                        path, old_key, fa, new_key, fb);
}

/* The scaling name of a rope_scaling / rope_parameters object: rope_type, else type, else "default". */
static const json_t *rope_type_of(const json_t *o)
{
    const json_t *t = json_object_get(o, "rope_type");
    return t ? t : json_object_get(o, "type");
}

static bool rope_type_is_default(const json_t *t)
{
    return !t || json_is_null(t) ||
           (json_is_string(t) && (strcmp(json_string_value(t), "default") == 0 || strcmp(json_string_value(t), "none") == 0));
}

/* out[old_key] = kind.rope_theta (checked against root's old_key), or root's old_key when kind has none. */
static int fold_theta(json_t *out, const json_t *root, const json_t *kind, const char *kind_key, const char *old_key,
                      const char *path)
{
    char key[96];
    snprintf(key, sizeof key, "%s.rope_theta", kind_key);
    const json_t *v = json_object_get(kind, "rope_theta"), *old = json_object_get(root, old_key);
    const bool has_old = old && !json_is_null(old);
    if (!v || json_is_null(v)) {
        if (has_old)
            return 0;   /* transformers: rope_parameters.setdefault("rope_theta", <top-level rope_theta>) */
        return ig_error_set(IG_EINVAL, "%s: key '%s' is missing and there is no top-level '%s'; transformers would "
                            "take its config class's default theta, which ingot does not guess: expected '%s' (a "
                            "number > 0)", path, key, old_key, key);
    }
    double x = json_is_number(v) ? json_number_value(v) : -1;
    if (!json_is_number(v) || !isfinite(x) || !(x > 0) || x > FLT_MAX || !((float)x > 0))
        return key_error(path, key, v, "a finite number > 0 that fits in fp32");
    if (has_old && !json_same(old, v))
        return keys_disagree(path, old_key, old, key, v);
    return json_object_set(out, old_key, (json_t *)v) ? IG_ENOMEM : 0;
}

/* A top-level key that v5 may also keep inside rope_parameters (partial_rotary_factor). */
static int fold_plain(json_t *out, const json_t *root, const json_t *kind, const char *kind_key, const char *name,
                      const char *path)
{
    const json_t *v = json_object_get(kind, name), *old = json_object_get(root, name);
    if (!v || json_is_null(v))
        return 0;
    if (old && !json_is_null(old) && !json_same(old, v)) {
        char key[96];
        snprintf(key, sizeof key, "%s.%s", kind_key, name);
        return keys_disagree(path, name, old, key, v);
    }
    return json_object_set(out, name, (json_t *)v) ? IG_ENOMEM : 0;
}

/* out.rope_scaling = kind less rope_theta / partial_rotary_factor (rope_type "default" when it
 * names none), merged over an old rope_scaling that must agree with it key by key. */
static int fold_scaling(json_t *out, const json_t *root, const json_t *kind, const char *kind_key, const char *path)
{
    json_t *s = json_deep_copy(kind);
    if (!s)
        return IG_ENOMEM;
    json_object_del(s, "rope_theta");
    json_object_del(s, "partial_rotary_factor");
    if (!rope_type_of(s))
        json_object_set_new(s, "rope_type", json_string("default"));
    const json_t *old = json_object_get(root, "rope_scaling");
    int rc = 0;
    char old_key[96], new_key[96];
    if (old && !json_is_null(old)) {
        if (!json_is_object(old)) {
            json_decref(s);
            return key_error(path, "rope_scaling", old, "null or an object");
        }
        const json_t *ot = rope_type_of(old), *nt = rope_type_of(s);
        const bool same_type = rope_type_is_default(ot) ? rope_type_is_default(nt) : (nt && json_same(ot, nt));
        if (!same_type) {
            snprintf(old_key, sizeof old_key, "rope_scaling.%s", json_object_get(old, "rope_type") ? "rope_type" : "type");
            snprintf(new_key, sizeof new_key, "%s.%s", kind_key, json_object_get(s, "rope_type") ? "rope_type" : "type");
            json_t *none = json_null();
            rc = keys_disagree(path, old_key, ot ? ot : none, new_key, nt ? nt : none);
        }
        const char *k;
        json_t *v;
        json_object_foreach(s, k, v) {
            const json_t *ov = json_object_get(old, k);
            if (rc || strcmp(k, "rope_type") == 0 || strcmp(k, "type") == 0 || !ov || json_same(ov, v))
                continue;
            snprintf(old_key, sizeof old_key, "rope_scaling.%s", k);
            snprintf(new_key, sizeof new_key, "%s.%s", kind_key, k);
            rc = keys_disagree(path, old_key, ov, new_key, v);
        }
        /* the union: a key only the old object has (say low_freq_factor) still counts */
        json_t *merged = rc ? NULL : json_deep_copy(old);
        if (!rc && (!merged || json_object_update(merged, s) != 0))
            rc = IG_ENOMEM;
        json_decref(s);
        s = merged;
    }
    if (!rc && json_object_set(out, "rope_scaling", s) != 0)
        rc = IG_ENOMEM;
    json_decref(s);
    return rc;
}

/* Gemma3TextConfig (model_type "gemma3_text", or architectures Gemma3ForCausalLM alone): the one
 * supported class whose RoPE differs by attention kind. */
static bool rope_per_kind_class(const json_t *root)
{
    const json_t *mt = json_object_get(root, "model_type"), *archs = json_object_get(root, "architectures");
    if (mt && !json_is_null(mt))
        return json_is_string(mt) && strcmp(json_string_value(mt), "gemma3_text") == 0;
    const char *a0 = json_is_array(archs) ? json_string_value(json_array_get(archs, 0)) : NULL;
    return a0 && strcmp(a0, "Gemma3ForCausalLM") == 0;
}

/* A copy of root with rope_parameters folded into the old keys, or NULL when it has none (use
 * root as it is), or NULL with *rc set. *rs_key: the object the scaling now in rope_scaling
 * came from, for messages. */
static json_t *rope_parameters_fold(const json_t *root, const char *path, const char **rs_key, int *rc)
{
    const json_t *rp = json_object_get(root, "rope_parameters");
    *rc = 0;
    if (!rp || json_is_null(rp))
        return NULL;
    if (!json_is_object(rp)) {
        *rc = key_error(path, "rope_parameters", rp, "an object (rope_type, rope_theta, ...)");
        return NULL;
    }
    const json_t *full = json_object_get(rp, "full_attention"), *sliding = json_object_get(rp, "sliding_attention");
    const bool per_kind = full || sliding;
    if (per_kind) {
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)rp, k, v) {
            if (strcmp(k, "full_attention") != 0 && strcmp(k, "sliding_attention") != 0) {
                *rc = ig_error_set(IG_EINVAL, "%s: key 'rope_parameters' mixes per-attention-kind objects with key '%s', "
                                   "expected either {\"full_attention\": {...}, \"sliding_attention\": {...}} or one "
                                   "object of rope_type, rope_theta, ...", path, k);
                return NULL;
            }
        }
        if (!rope_per_kind_class(root)) {
            *rc = ig_error_set(IG_EINVAL, "%s: key 'rope_parameters': one object per attention kind is supported for "
                               "gemma3 (model_type \"gemma3_text\") only, expected one object of rope_type, rope_theta, ...",
                               path);
            return NULL;
        }
        if (!full || !json_is_object(full) || !sliding || !json_is_object(sliding)) {
            const char *bad = !full || !json_is_object(full) ? "full_attention" : "sliding_attention";
            const json_t *bv = json_object_get(rp, bad);
            char key[64];
            snprintf(key, sizeof key, "rope_parameters.%s", bad);
            *rc = bv ? key_error(path, key, bv, "an object (rope_type, rope_theta)")
                     : ig_error_set(IG_EINVAL, "%s: key '%s' is missing; gemma3's rope_parameters needs both "
                                    "full_attention and sliding_attention", path, key);
            return NULL;
        }
    }
    json_t *out = json_deep_copy(root);
    if (!out) {
        *rc = IG_ENOMEM;
        return NULL;
    }
    json_object_del(out, "rope_parameters");
    const char *key = per_kind ? "rope_parameters.full_attention" : "rope_parameters";
    const json_t *kind = per_kind ? full : rp;
    *rc = fold_theta(out, root, kind, key, "rope_theta", path);
    *rc = *rc ? *rc : fold_plain(out, root, kind, key, "partial_rotary_factor", path);
    *rc = *rc ? *rc : fold_scaling(out, root, kind, key, path);
    if (!*rc && per_kind) {
        /* the old form could scale only the full-attention blocks (rope_local_base_freq is a bare
         * base), and so does ingot: the sliding kind must be unscaled */
        const json_t *t = rope_type_of(sliding);
        if (!rope_type_is_default(t))
            *rc = key_error(path, json_object_get(sliding, "rope_type") ? "rope_parameters.sliding_attention.rope_type"
                                                                          : "rope_parameters.sliding_attention.type",
                            t, "\"default\" (gemma3's sliding blocks are not scaled)");
        *rc = *rc ? *rc : fold_theta(out, root, sliding, "rope_parameters.sliding_attention", "rope_local_base_freq", path);
    }
    if (*rc) {
        json_decref(out);
        return NULL;
    }
    *rs_key = key;
    return out;
}

/* ---- the whole config -------------------------------------------------------------- */

/* One straight run of checks, in the order of the header's key list. rs_key: where rope_scaling
 * came from, for messages. */
static int parse_root(struct model_hparams *hp, const json_t *root, const char *rs_key, const char *path)
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
    rc = parse_rope_scaling(hp, root, rs_key, path);
    rc = rc ? rc : parse_q3p_extras(hp, root, rs_key, path);
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
        json_t *lifted = gemma3_lift_text_config(root, path, &rc);   /* multimodal gemma3 */
        const json_t *cur = lifted ? lifted : root;
        const char *rs_key = "rope_scaling";
        json_t *folded = rc ? NULL : rope_parameters_fold(cur, path, &rs_key, &rc);   /* transformers v5 */
        rc = rc ? rc : parse_root(hp, folded ? folded : cur, rs_key, path);
        json_decref(folded);
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
