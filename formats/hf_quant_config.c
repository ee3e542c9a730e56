/* hf_quant_config.c — which third-party quantization an HF folder uses, and its settings.
 *
 * transformers puts them in config.json under quantization_config (quant_method "gptq",
 * "awq" or "bitsandbytes"); AutoGPTQ also writes quantize_config.json and older AutoAWQ
 * quant_config.json (w_bit, q_group_size, zero_point, version). Only what changes the
 * bytes is kept (hf_quant.h); a value no reader here handles is refused naming its key.
 */
#include "hf_quant.h"

#include "../common/ig_error.h"
#include "file_map.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HFQ_CONFIG_MAX_BYTES (4u << 20)

/* ---- typed keys ---------------------------------------------------------------------- */

/* "integer 5", "string \"x\"", ... for messages. */
static void describe(const json_t *v, char *buf, size_t size)
{
    if (json_is_integer(v))
        snprintf(buf, size, "integer %lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, size, "real %g", json_real_value(v));
    else if (json_is_string(v))
        snprintf(buf, size, "string \"%.40s\"", json_string_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false");
    else if (json_is_null(v))
        snprintf(buf, size, "null");
    else
        snprintf(buf, size, "%s", json_is_array(v) ? "an array" : "an object");
}

static int key_fail(const struct hfq_config *qc, const char *key, const json_t *v, const char *expected)
{
    char found[96];
    describe(v, found, sizeof found);
    return ig_error_set(IG_EINVAL, "%s: key '%s%s': found %s, expected %s", qc->path, qc->key_prefix, key, found,
                        expected);
}

/* The first of two spellings present (AutoAWQ's w_bit / bits), or NULL. */
static const json_t *get2(const json_t *o, const char *a, const char *b, const char **used)
{
    const json_t *v = json_object_get(o, a);
    *used = a;
    if ((!v || json_is_null(v)) && b) {
        v = json_object_get(o, b);
        *used = b;
    }
    return v && !json_is_null(v) ? v : NULL;
}

static int get_bool(const struct hfq_config *qc, const json_t *o, const char *key, bool fallback, bool *out)
{
    const json_t *v = json_object_get(o, key);
    *out = fallback;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return key_fail(qc, key, v, "true or false");
    *out = json_is_true(v);
    return 0;
}

/* ---- per method ------------------------------------------------------------------------ */

static int parse_gptq(struct hfq_config *qc, const json_t *o)
{
    const char *key;
    const json_t *v = get2(o, "bits", NULL, &key);
    if (!v || !json_is_integer(v) || (json_integer_value(v) != 2 && json_integer_value(v) != 3 &&
                                      json_integer_value(v) != 4 && json_integer_value(v) != 8))
        return v ? key_fail(qc, key, v, "2, 3, 4 or 8 (GPTQ bit widths)")
                 : ig_error_set(IG_EINVAL, "%s: key '%sbits' is missing, expected 2, 3, 4 or 8", qc->path, qc->key_prefix);
    qc->bits = (int)json_integer_value(v);
    v = get2(o, "group_size", NULL, &key);
    if (!v || !json_is_integer(v) || (json_integer_value(v) != -1 && json_integer_value(v) <= 0) ||
        json_integer_value(v) > INT32_MAX)
        return v ? key_fail(qc, key, v, "-1 (one group) or a positive integer")
                 : ig_error_set(IG_EINVAL, "%s: key '%sgroup_size' is missing, expected -1 or a positive integer",
                                qc->path, qc->key_prefix);
    qc->group_size = json_integer_value(v);
    int rc = get_bool(qc, o, "sym", true, &qc->sym);
    if (!rc)
        rc = get_bool(qc, o, "desc_act", false, &qc->desc_act);
    if (rc)
        return rc;
    /* GPTQModel writes checkpoint_format, later versions format; absent means v1 */
    v = get2(o, "checkpoint_format", "format", &key);
    qc->zeros_v1 = true;
    if (v) {
        if (!json_is_string(v) || (strcmp(json_string_value(v), "gptq") != 0 &&
                                   strcmp(json_string_value(v), "gptq_v2") != 0))
            return key_fail(qc, key, v, "\"gptq\" (v1 zeros) or \"gptq_v2\"");
        qc->zeros_v1 = strcmp(json_string_value(v), "gptq") == 0;
    }
    snprintf(qc->desc, sizeof qc->desc, "GPTQ %d-bit, group size %lld, %s%s, %s zeros (checkpoint_format %s)",
             qc->bits, (long long)qc->group_size, qc->sym ? "sym" : "asym", qc->desc_act ? ", act-order (desc_act)" : "",
             qc->zeros_v1 ? "v1" : "v2", qc->zeros_v1 ? "gptq" : "gptq_v2");
    return 0;
}

static int parse_awq(struct hfq_config *qc, const json_t *o)
{
    const char *key;
    const json_t *v = get2(o, "bits", "w_bit", &key);
    if (!v || !json_is_integer(v) || json_integer_value(v) != 4)
        return v ? key_fail(qc, key, v, "4 (AutoAWQ packs 4-bit only)")
                 : ig_error_set(IG_EINVAL, "%s: key '%sbits' is missing, expected 4", qc->path, qc->key_prefix);
    qc->bits = 4;
    v = get2(o, "group_size", "q_group_size", &key);
    if (!v || !json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > INT32_MAX)
        return v ? key_fail(qc, key, v, "a positive integer")
                 : ig_error_set(IG_EINVAL, "%s: key '%sgroup_size' is missing, expected a positive integer", qc->path,
                                qc->key_prefix);
    qc->group_size = json_integer_value(v);
    bool zero_point;
    int rc = get_bool(qc, o, "zero_point", true, &zero_point);
    if (rc)
        return rc;
    if (!zero_point)
        return key_fail(qc, "zero_point", json_object_get(o, "zero_point"), "true (AutoAWQ writes zero points)");
    v = json_object_get(o, "version");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || (strcasecmp(json_string_value(v), "gemm") != 0 &&
                                   strcasecmp(json_string_value(v), "gemv") != 0))
            return key_fail(qc, "version", v, "\"gemm\" or \"gemv\" (other AWQ layouts are not read)");
        qc->awq_gemv = strcasecmp(json_string_value(v), "gemv") == 0;
    }
    qc->sym = false;
    snprintf(qc->desc, sizeof qc->desc, "AWQ 4-bit, group size %lld, zero point, %s layout", (long long)qc->group_size,
             qc->awq_gemv ? "GEMV" : "GEMM");
    return 0;
}

static int parse_bnb(struct hfq_config *qc, const json_t *o)
{
    bool four, four_private, eight, eight_private;
    int rc = get_bool(qc, o, "load_in_4bit", false, &four);
    if (!rc)
        rc = get_bool(qc, o, "_load_in_4bit", false, &four_private);
    if (!rc)
        rc = get_bool(qc, o, "load_in_8bit", false, &eight);
    if (!rc)
        rc = get_bool(qc, o, "_load_in_8bit", false, &eight_private);
    if (!rc)
        rc = get_bool(qc, o, "bnb_4bit_use_double_quant", false, &qc->bnb_double_quant);
    if (rc)
        return rc;
    four = four || four_private;
    eight = eight || eight_private;
    if (four == eight)
        return ig_error_set(IG_EINVAL, "%s: key '%sload_in_4bit' is %s and 'load_in_8bit' is %s, expected exactly one true",
                            qc->path, qc->key_prefix, four ? "true" : "false", eight ? "true" : "false");
    qc->method = four ? HFQ_BNB4 : HFQ_BNB8;
    qc->bits = four ? 4 : 8;
    const json_t *v = json_object_get(o, "bnb_4bit_quant_type");
    if (four && v && !json_is_null(v)) {
        if (!json_is_string(v) || (strcmp(json_string_value(v), "nf4") != 0 && strcmp(json_string_value(v), "fp4") != 0))
            return key_fail(qc, "bnb_4bit_quant_type", v, "\"nf4\" or \"fp4\"");
        snprintf(qc->bnb_quant_type, sizeof qc->bnb_quant_type, "%s", json_string_value(v));
    }
    if (four)
        snprintf(qc->desc, sizeof qc->desc, "bitsandbytes 4-bit %s%s", qc->bnb_quant_type[0] ? qc->bnb_quant_type : "(type per tensor)",
                 qc->bnb_double_quant ? ", double quantization" : "");
    else
        snprintf(qc->desc, sizeof qc->desc, "bitsandbytes LLM.int8 (8-bit rows, SCB)");
    return 0;
}

/* ---- files ------------------------------------------------------------------------------ */

int hfq_config_parse(struct hfq_config *qc, const char *json_text, const char *path, const char *key_prefix)
{
    memset(qc, 0, sizeof *qc);
    snprintf(qc->path, sizeof qc->path, "%s", path);
    snprintf(qc->key_prefix, sizeof qc->key_prefix, "%s", key_prefix);
    json_error_t err;
    json_t *root = json_loads(json_text, JSON_DECODE_ANY, &err);
    if (!root)
        return ig_error_set(IG_EINVAL, "%s: not valid JSON: line %d column %d: %s", path, err.line, err.column, err.text);
    int rc = 0;
    const json_t *o = root;
    /* config.json: the settings are one object down */
    if (json_is_object(root) && key_prefix[0])
        o = json_object_get(root, "quantization_config");
    if (!o || json_is_null(o))
        goto out;   /* an unquantized config.json */
    if (!json_is_object(o)) {
        rc = key_prefix[0] ? key_fail(qc, "", o, "an object") : ig_error_set(IG_EINVAL, "%s: top level is not an object", path);
        goto out;
    }
    const json_t *m = json_object_get(o, "quant_method");
    /* quantize_config.json predates quant_method: it is GPTQ's; quant_config.json AWQ's */
    const char *method = m && json_is_string(m) ? json_string_value(m)
                         : !m && strstr(path, "quant_config.json") && !strstr(path, "quantize_config.json") ? "awq"
                         : !m && !key_prefix[0] ? "gptq" : NULL;
    if (!method) {
        rc = m ? key_fail(qc, "quant_method", m, "\"gptq\", \"awq\" or \"bitsandbytes\"")
               : ig_error_set(IG_EINVAL, "%s: key '%squant_method' is missing, expected \"gptq\", \"awq\" or \"bitsandbytes\"",
                              path, qc->key_prefix);
    } else if (strcmp(method, "gptq") == 0) {
        qc->method = HFQ_GPTQ;
        rc = parse_gptq(qc, o);
    } else if (strcmp(method, "awq") == 0) {
        qc->method = HFQ_AWQ;
        rc = parse_awq(qc, o);
    } else if (strcmp(method, "bitsandbytes") == 0) {
        rc = parse_bnb(qc, o);
    } else {
        rc = key_fail(qc, "quant_method", m, "\"gptq\", \"awq\" or \"bitsandbytes\" (other methods are not read)");
    }
out:
    json_decref(root);
    if (rc)
        qc->method = HFQ_NONE;
    return rc;
}

/* Parse one file if it exists: 1 when it held settings, 0 when absent or unquantized. */
static int try_file(struct hfq_config *qc, const char *folder, const char *name, const char *key_prefix)
{
    char *path = file_path_join(folder, name);
    if (!path)
        return IG_ENOMEM;
    int rc = 0;
    if (file_is_regular(path)) {
        size_t size = 0;
        char *text = file_read_all(path, HFQ_CONFIG_MAX_BYTES, &size);
        rc = text ? hfq_config_parse(qc, text, path, key_prefix) : IG_EIO;
        free(text);
        if (!rc && qc->method != HFQ_NONE)
            rc = 1;
    }
    free(path);
    return rc;
}

int hfq_config_read(struct hfq_config *qc, const char *folder)
{
    static const struct {
        const char *file, *prefix;
    } files[] = {{"config.json", "quantization_config."}, {"quantize_config.json", ""}, {"quant_config.json", ""}};
    memset(qc, 0, sizeof *qc);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        int rc = try_file(qc, folder, files[i].file, files[i].prefix);
        if (rc)
            return rc < 0 ? rc : 0;
    }
    memset(qc, 0, sizeof *qc);
    return 0;
}
