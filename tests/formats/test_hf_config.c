/* test_hf_config.c — config.json -> model_hparams: real configs, in-memory variants of the
 * llama family and qwen2, and one test per kind of bad value, each checking that the
 * message names the file and the key. The bad_catalogue test runs the cfg-* cases of
 * tests/data/bad/config.tsv through hf_config_read directly.
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/hf_config.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------------------- */

/* A llama config of tl3m's shape: cases add or replace keys by splicing text before the
 * closing brace (jansson rejects duplicates, so a case never repeats one of these keys). */
#define BASE_KEYS                                                                   \
    "\"hidden_size\": 256, \"intermediate_size\": 768, \"num_hidden_layers\": 4, " \
    "\"num_attention_heads\": 8, \"vocab_size\": 512"

static int parse(struct model_hparams *hp, const char *json)
{
    ig_error_clear();
    return hf_config_parse(hp, json, "mem/config.json");
}

/* Expect rc == IG_EINVAL and every needle in the message, printing the message otherwise. */
static void expect_einval(int rc, const char *const *needles)
{
    const char *msg = ig_error_message();
    cr_expect_eq(rc, IG_EINVAL, "rc %d, expected IG_EINVAL; message: %s", rc, msg);
    for (int i = 0; needles[i]; i++)
        cr_expect(strstr(msg, needles[i]) != NULL, "message \"%s\" lacks \"%s\"", msg, needles[i]);
}

/* ---- real configs ------------------------------------------------------------------ */

Test(hf_config, reads_tl3m)
{
    const char *p = test_shared_path("tl3m/config.json");
    if (!p)
        cr_skip_test("../shared/data/tl3m is missing (set INGOT_DATA)");
    struct model_hparams hp;
    int rc = hf_config_read(&hp, p);
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_str_eq(hp.arch, "llama");
    cr_expect_str_eq(hp.name, "");
    cr_expect_eq(hp.n_embd, 256);
    cr_expect_eq(hp.n_ff, 768);
    cr_expect_eq(hp.n_layer, 4);
    cr_expect_eq(hp.n_head, 8);
    cr_expect_eq(hp.n_head_kv, 4);
    cr_expect_eq(hp.n_vocab, 512);
    cr_expect_eq(hp.n_ctx_train, 256);
    cr_expect_eq(hp.head_dim, 32);
    cr_expect_eq(hp.n_rot, 32);
    cr_expect(!hp.head_dim_explicit);
    cr_expect_eq(hp.rms_eps, 1e-5f);
    cr_expect_eq(hp.rope_theta, 10000.0f);
    cr_expect(!hp.tie_embeddings);
    cr_expect(!hp.attn_qkv_bias);
    cr_expect_str_eq(hp.rope_scaling_type, "");
}

Test(hf_config, reads_explicit_head_dim_and_tied_embeddings)
{
    const char *p = test_shared_path("hf-stories260K-f32/config.json");
    if (!p)
        cr_skip_test("../shared/data/hf-stories260K-f32 is missing (set INGOT_DATA)");
    struct model_hparams hp;
    int rc = hf_config_read(&hp, p);
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_eq(hp.n_embd, 64);
    cr_expect_eq(hp.n_ff, 172);
    cr_expect_eq(hp.n_layer, 5);
    cr_expect_eq(hp.n_head_kv, 4);
    cr_expect_eq(hp.head_dim, 8);
    cr_expect_eq(hp.n_rot, 8);
    cr_expect(hp.head_dim_explicit);
    cr_expect(hp.tie_embeddings);
    cr_expect_eq(hp.n_ctx_train, 512);
}

Test(hf_config, reads_null_rope_scaling_and_small_eps)
{
    const char *p = test_shared_path("hf-TinyStories-656K/config.json");
    if (!p)
        cr_skip_test("../shared/data/hf-TinyStories-656K is missing (set INGOT_DATA)");
    struct model_hparams hp;
    int rc = hf_config_read(&hp, p);
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_eq(hp.n_embd, 128);
    cr_expect_eq(hp.n_ff, 384);
    cr_expect_eq(hp.n_layer, 2);
    cr_expect_eq(hp.n_vocab, 2048);
    cr_expect_eq(hp.head_dim, 16);
    cr_expect_eq(hp.rms_eps, 1e-6f);
    cr_expect(hp.tie_embeddings);
    cr_expect_str_eq(hp.rope_scaling_type, "");
    cr_expect_eq(hp.rope_scaling_factor, 0.0f);
}

Test(hf_config, reads_tiny_llama_fixture)
{
    struct model_hparams hp;
    int rc = hf_config_read(&hp, test_fixture_path("tiny-llama/config.json"));
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_eq(hp.n_embd, 32);
    cr_expect_eq(hp.n_ff, 64);
    cr_expect_eq(hp.n_layer, 1);
    cr_expect_eq(hp.n_head, 4);
    cr_expect_eq(hp.n_head_kv, 2);
    cr_expect_eq(hp.head_dim, 8);
    cr_expect_eq(hp.n_vocab, 275);
    cr_expect_eq(hp.n_ctx_train, 128);
}

Test(hf_config, missing_file_is_bad_input_naming_it)
{
    struct model_hparams hp;
    int rc = hf_config_read(&hp, "/nonexistent/ingot/config.json");
    expect_einval(rc, (const char *[]){"/nonexistent/ingot/config.json", NULL});
}

/* ---- architectures and defaults ---------------------------------------------------- */

Test(hf_config, mistral_maps_to_llama)
{
    struct model_hparams hp;
    int rc = parse(&hp, "{\"model_type\": \"mistral\", " BASE_KEYS ", \"sliding_window\": 4096}");
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_str_eq(hp.arch, "llama");
    cr_expect(!hp.attn_qkv_bias);
}

Test(hf_config, qwen2_has_qkv_bias)
{
    struct model_hparams hp;
    int rc = parse(&hp, "{\"model_type\": \"qwen2\", " BASE_KEYS ", \"num_key_value_heads\": 2, "
                        "\"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000.0, \"tie_word_embeddings\": true}");
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_str_eq(hp.arch, "qwen2");
    cr_expect(hp.attn_qkv_bias);
    cr_expect_eq(hp.n_head_kv, 2);
    cr_expect_eq(hp.rms_eps, 1e-6f);
    cr_expect_eq(hp.rope_theta, 1e6f);
    cr_expect(hp.tie_embeddings);
}

Test(hf_config, architectures_used_when_model_type_is_absent)
{
    struct model_hparams hp;
    int rc = parse(&hp, "{\"architectures\": [\"Qwen2ForCausalLM\"], " BASE_KEYS "}");
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_str_eq(hp.arch, "qwen2");
    rc = parse(&hp, "{\"architectures\": [\"MistralForCausalLM\"], " BASE_KEYS "}");
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_str_eq(hp.arch, "llama");
}

Test(hf_config, llama_attention_bias_sets_qkv_bias)
{
    struct model_hparams hp;
    int rc = parse(&hp, "{\"model_type\": \"llama\", " BASE_KEYS ", \"attention_bias\": true}");
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect(hp.attn_qkv_bias);
}

Test(hf_config, defaults_for_optional_keys)
{
    struct model_hparams hp;
    int rc = parse(&hp, "{\"model_type\": \"llama\", " BASE_KEYS ", \"head_dim\": null}");
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_eq(hp.n_head_kv, 8, "num_key_value_heads defaults to num_attention_heads");
    cr_expect_eq(hp.head_dim, 32);
    cr_expect(!hp.head_dim_explicit, "a null head_dim is an absent one");
    cr_expect_eq(hp.n_ctx_train, 2048);
    cr_expect_eq(hp.rms_eps, 1e-5f);
    cr_expect_eq(hp.rope_theta, 10000.0f);
    cr_expect(!hp.tie_embeddings);
    cr_expect_eq(hp.rope_scaling_orig_ctx, 0);
}

Test(hf_config, integer_rope_theta_is_accepted)
{
    struct model_hparams hp;
    int rc = parse(&hp, "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_theta\": 500000}");
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_eq(hp.rope_theta, 500000.0f);
}

Test(hf_config, rope_scaling_llama3)
{
    struct model_hparams hp;
    int rc = parse(&hp, "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_scaling\": {\"rope_type\": "
                        "\"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, "
                        "\"original_max_position_embeddings\": 8192}}");
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_str_eq(hp.rope_scaling_type, "llama3");
    cr_expect_eq(hp.rope_scaling_factor, 8.0f);
    cr_expect_eq(hp.rope_scaling_orig_ctx, 8192);
    /* rope_freqs.weight's inputs, as llama.cpp's converter reads them: the context from the
     * top level (default 8192), not from rope_scaling */
    cr_expect_eq(hp.rope_llama3_low_freq, 1.0);
    cr_expect_eq(hp.rope_llama3_high_freq, 4.0);
    cr_expect_eq(hp.rope_llama3_orig_ctx, 8192);
    rc = parse(&hp, "{\"model_type\": \"llama\", " BASE_KEYS ", \"original_max_position_embeddings\": 4096, "
                    "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"high_freq_factor\": 2.5}}");
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_eq(hp.rope_llama3_low_freq, 1.0);
    cr_expect_eq(hp.rope_llama3_high_freq, 2.5);
    cr_expect_eq(hp.rope_llama3_orig_ctx, 4096);
}

Test(hf_config, rope_scaling_llama3_needs_low_below_high)
{
    struct model_hparams hp;
    cr_expect_eq(parse(&hp, "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_scaling\": {\"rope_type\": \"llama3\", "
                            "\"factor\": 8.0, \"low_freq_factor\": 4.0, \"high_freq_factor\": 4.0}}"),
                 IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "low_freq_factor 4 is not below high_freq_factor 4"), "%s", ig_error_message());
    cr_expect_eq(parse(&hp, "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_scaling\": {\"rope_type\": \"llama3\", "
                            "\"low_freq_factor\": \"x\"}}"),
                 IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "'rope_scaling.low_freq_factor'"), "%s", ig_error_message());
}

Test(hf_config, rope_scaling_default_and_none_mean_no_scaling)
{
    const char *types[] = {"default", "none"};
    for (int i = 0; i < 2; i++) {
        struct model_hparams hp;
        char text[1024];
        snprintf(text, sizeof text, "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_scaling\": {\"rope_type\": \"%s\"}}",
                 types[i]);
        cr_expect_eq(parse(&hp, text), 0, "%s: %s", types[i], ig_error_message());
        cr_expect_str_eq(hp.rope_scaling_type, "", "%s writes no scaling keys", types[i]);
    }
}

Test(hf_config, rope_scaling_of_an_unknown_type_is_refused)
{
    struct model_hparams hp;
    cr_expect_eq(parse(&hp, "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 2}}"),
                 IG_EINVAL);
    const char *msg = ig_error_message();
    cr_expect(strstr(msg, "'rope_scaling.type'") && strstr(msg, "\"dynamic\"") && strstr(msg, "\"longrope\""), "%s", msg);
}

Test(hf_config, rope_scaling_linear_under_old_type_key)
{
    struct model_hparams hp;
    int rc = parse(&hp, "{\"model_type\": \"llama\", " BASE_KEYS
                        ", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 4}}");
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_str_eq(hp.rope_scaling_type, "linear");
    cr_expect_eq(hp.rope_scaling_factor, 4.0f);
    cr_expect_eq(hp.rope_scaling_orig_ctx, 0);
}

Test(hf_config, failure_leaves_hparams_zeroed)
{
    struct model_hparams hp;
    memset(&hp, 0x5a, sizeof hp);
    int rc = parse(&hp, "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_theta\": \"x\"}");
    cr_assert_eq(rc, IG_EINVAL);
    cr_expect_eq(hp.n_embd, 0);
    cr_expect_str_eq(hp.arch, "");
}

/* ---- errors: one row per fault ----------------------------------------------------- */

struct bad_cfg {
    const char *what;
    const char *json;
    const char *needles[4];   /* besides the file name; NULL-terminated */
};

static const struct bad_cfg bad_cfgs[] = {
    {"not JSON", "{\"model_type\": \"llama\",", {"not valid JSON", "line 1", NULL}},
    {"top level array", "[1, 2]", {"top level is an array", "expected an object", NULL}},
    {"top level string", "\"llama\"", {"top level is string \"llama\"", NULL}},
    {"duplicate key", "{\"model_type\": \"llama\", " BASE_KEYS ", \"vocab_size\": 7}",
     {"duplicate", "vocab_size", NULL}},
    {"no arch at all", "{" BASE_KEYS "}", {"'model_type' is missing", "'architectures'", NULL}},
    {"unsupported model_type", "{\"model_type\": \"gpt2\", " BASE_KEYS "}",
     {"key 'model_type': 'gpt2' is not supported (supported: llama, mistral, ", "qwen3"}},
    {"model_type a number", "{\"model_type\": 7, " BASE_KEYS "}",
     {"key 'model_type': found integer 7, expected a string", NULL}},
    {"unsupported architecture", "{\"architectures\": [\"GPT2LMHeadModel\"], " BASE_KEYS "}",
     {"key 'architectures': 'GPT2LMHeadModel' is not supported", NULL}},
    {"architectures empty", "{\"architectures\": [], " BASE_KEYS "}",
     {"key 'architectures': found an array, expected a non-empty array of strings", NULL}},
    {"hidden_size missing",
     "{\"model_type\": \"llama\", \"intermediate_size\": 768, \"num_hidden_layers\": 4, "
     "\"num_attention_heads\": 8, \"vocab_size\": 512}",
     {"key 'hidden_size' is missing, expected a positive integer", NULL}},
    {"hidden_size null",
     "{\"model_type\": \"llama\", \"hidden_size\": null, \"intermediate_size\": 768, "
     "\"num_hidden_layers\": 4, \"num_attention_heads\": 8, \"vocab_size\": 512}",
     {"key 'hidden_size' is null", NULL}},
    {"hidden_size a string",
     "{\"model_type\": \"llama\", \"hidden_size\": \"256\", \"intermediate_size\": 768, "
     "\"num_hidden_layers\": 4, \"num_attention_heads\": 8, \"vocab_size\": 512}",
     {"key 'hidden_size': found string \"256\", expected a positive integer", NULL}},
    {"hidden_size a real",
     "{\"model_type\": \"llama\", \"hidden_size\": 256.0, \"intermediate_size\": 768, "
     "\"num_hidden_layers\": 4, \"num_attention_heads\": 8, \"vocab_size\": 512}",
     {"key 'hidden_size': found real 256.0", NULL}},
    {"negative layers",
     "{\"model_type\": \"llama\", \"hidden_size\": 256, \"intermediate_size\": 768, "
     "\"num_hidden_layers\": -4, \"num_attention_heads\": 8, \"vocab_size\": 512}",
     {"key 'num_hidden_layers': found integer -4, expected a positive integer", NULL}},
    {"zero vocab",
     "{\"model_type\": \"llama\", \"hidden_size\": 256, \"intermediate_size\": 768, "
     "\"num_hidden_layers\": 4, \"num_attention_heads\": 8, \"vocab_size\": 0}",
     {"key 'vocab_size': found integer 0", NULL}},
    {"dim beyond 2^31",
     "{\"model_type\": \"llama\", \"hidden_size\": 256, \"intermediate_size\": 2147483648, "
     "\"num_hidden_layers\": 4, \"num_attention_heads\": 8, \"vocab_size\": 512}",
     {"key 'intermediate_size': found integer 2147483648, expected a positive integer up to 2147483647",
      NULL}},
    {"integer beyond 64 bits",
     "{\"model_type\": \"llama\", \"hidden_size\": 99999999999999999999999}",
     {"not valid JSON", "too big integer", NULL}},
    {"kv heads not dividing", "{\"model_type\": \"llama\", " BASE_KEYS ", \"num_key_value_heads\": 3}",
     {"key 'num_key_value_heads': 3 does not divide num_attention_heads 8", NULL}},
    {"kv heads zero", "{\"model_type\": \"llama\", " BASE_KEYS ", \"num_key_value_heads\": 0}",
     {"key 'num_key_value_heads': found integer 0", NULL}},
    {"heads not dividing hidden",
     "{\"model_type\": \"llama\", \"hidden_size\": 250, \"intermediate_size\": 768, "
     "\"num_hidden_layers\": 4, \"num_attention_heads\": 8, \"vocab_size\": 512}",
     {"key 'num_attention_heads': 8 does not divide hidden_size 250", NULL}},
    {"head_dim a string", "{\"model_type\": \"llama\", " BASE_KEYS ", \"head_dim\": \"32\"}",
     {"key 'head_dim': found string \"32\"", NULL}},
    {"q rows beyond 2^31",
     "{\"model_type\": \"llama\", " BASE_KEYS ", \"head_dim\": 2147483647}",
     {"key 'head_dim'", "more than the 2147483647 allowed", NULL}},
    {"max_position_embeddings a bool", "{\"model_type\": \"llama\", " BASE_KEYS ", \"max_position_embeddings\": true}",
     {"key 'max_position_embeddings': found true", NULL}},
    {"eps a string", "{\"model_type\": \"llama\", " BASE_KEYS ", \"rms_norm_eps\": \"1e-5\"}",
     {"key 'rms_norm_eps': found string \"1e-5\", expected a positive number", NULL}},
    {"eps zero", "{\"model_type\": \"llama\", " BASE_KEYS ", \"rms_norm_eps\": 0.0}",
     {"key 'rms_norm_eps': found real 0.0, expected a finite number > 0", NULL}},
    {"eps underflows fp32", "{\"model_type\": \"llama\", " BASE_KEYS ", \"rms_norm_eps\": 1e-60}",
     {"key 'rms_norm_eps'", "fits in fp32", NULL}},
    {"theta negative", "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_theta\": -10000.0}",
     {"key 'rope_theta': found real -10000.0", NULL}},
    {"theta overflows fp32", "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_theta\": 1e39}",
     {"key 'rope_theta'", "fits in fp32", NULL}},
    {"tie a string", "{\"model_type\": \"llama\", " BASE_KEYS ", \"tie_word_embeddings\": \"true\"}",
     {"key 'tie_word_embeddings': found string \"true\", expected true or false", NULL}},
    {"tie a number", "{\"model_type\": \"llama\", " BASE_KEYS ", \"tie_word_embeddings\": 1}",
     {"key 'tie_word_embeddings': found integer 1", NULL}},
    {"attention_bias a string", "{\"model_type\": \"llama\", " BASE_KEYS ", \"attention_bias\": \"no\"}",
     {"key 'attention_bias': found string \"no\"", NULL}},
    {"rope_scaling a string", "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_scaling\": \"linear\"}",
     {"key 'rope_scaling': found string \"linear\", expected null or an object", NULL}},
    {"rope_scaling an array", "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_scaling\": [1]}",
     {"key 'rope_scaling': found an array", NULL}},
    {"rope_scaling without type", "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_scaling\": {\"factor\": 2}}",
     {"key 'rope_scaling' has neither 'rope_type' nor 'type'", NULL}},
    {"rope_scaling type a number",
     "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_scaling\": {\"type\": 3, \"factor\": 2}}",
     {"key 'rope_scaling.type': found integer 3", NULL}},
    {"rope_scaling type too long",
     "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_scaling\": {\"rope_type\": \"a-very-long-scaling\"}}",
     {"key 'rope_scaling.rope_type'", "found string \"a-very-long-scaling\"", "\"llama3\"", NULL}},
    {"rope_scaling factor a string",
     "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_scaling\": {\"type\": \"linear\", \"factor\": \"2\"}}",
     {"key 'rope_scaling.factor': found string \"2\"", NULL}},
    {"rope_scaling factor zero",
     "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 0}}",
     {"key 'rope_scaling.factor': found integer 0", NULL}},
    {"rope_scaling original context negative",
     "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4, "
     "\"original_max_position_embeddings\": -1}}",
     {"key 'rope_scaling.original_max_position_embeddings': found integer -1", NULL}},
    {"long hostile string is cut",
     "{\"model_type\": \"llama\", " BASE_KEYS ", \"rms_norm_eps\": "
     "\"0123456789012345678901234567890123456789TAIL-NOT-SHOWN\"}",
     {"found string \"0123456789012345678901234567890123456789...\"", NULL}},
};

/* Criterion runs each parameter in a fresh process of a re-executed (address-randomised)
 * binary, so a parameter may not hold pointers: it is the row's index. */
ParameterizedTestParameters(hf_config, rejects_bad_value)
{
    static int rows[sizeof bad_cfgs / sizeof bad_cfgs[0]];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        rows[i] = (int)i;
    return cr_make_param_array(int, rows, sizeof rows / sizeof rows[0]);
}

ParameterizedTest(int *row, hf_config, rejects_bad_value)
{
    const struct bad_cfg *c = &bad_cfgs[*row];
    struct model_hparams hp;
    int rc = parse(&hp, c->json);
    const char *msg = ig_error_message();
    cr_expect_eq(rc, IG_EINVAL, "[%s] rc %d; message: %s", c->what, rc, msg);
    cr_expect(strncmp(msg, "mem/config.json: ", 17) == 0, "[%s] message does not start with the file: %s",
              c->what, msg);
    for (int i = 0; c->needles[i]; i++)
        cr_expect(strstr(msg, c->needles[i]) != NULL, "[%s] message \"%s\" lacks \"%s\"", c->what, msg,
                  c->needles[i]);
    cr_expect(strstr(msg, "TAIL-NOT-SHOWN") == NULL, "[%s] long strings are cut: %s", c->what, msg);
}

Test(hf_config, nul_byte_in_file_is_a_json_error)
{
    const char *dir = test_tmp_dir();
    cr_assert(dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    static const char text[] = "{\"model_type\": \"llama\"}\0garbage";
    cr_assert_eq(test_write_file(path, text, sizeof text - 1), 0);
    struct model_hparams hp;
    int rc = hf_config_read(&hp, path);
    expect_einval(rc, (const char *[]){path, "not valid JSON", NULL});
}

/* ---- the catalogue under tests/data/bad -------------------------------------------- */

/* Every cfg-* line of config.tsv (written by tests/data/bad/gen_config.py): reading the
 * case's config.json must fail with IG_EINVAL and a message holding every substring. */
Test(hf_config, bad_catalogue)
{
    size_t size_bytes = 0;
    char *tsv = (char *)test_read_file(test_fixture_path("bad/config.tsv"), &size_bytes);
    cr_assert(tsv, "tests/data/bad/config.tsv is missing: run tests/data/bad/gen_config.py");
    tsv[size_bytes] = '\0';
    int n_cases = 0;
    char *save_line = NULL;
    for (char *line = strtok_r(tsv, "\n", &save_line); line; line = strtok_r(NULL, "\n", &save_line)) {
        char *save = NULL, *fields[8];
        int n = 0;
        for (char *f = strtok_r(line, "\t", &save); f && n < 8; f = strtok_r(NULL, "\t", &save))
            fields[n++] = f;
        if (n == 0 || strncmp(fields[0], "cfg-", 4) != 0)
            continue;
        cr_expect_geq(n, 3, "[%s] config.tsv names fewer than two substrings", fields[0]);
        char rel[256];
        snprintf(rel, sizeof rel, "bad/%s/config.json", fields[0]);
        struct model_hparams hp;
        ig_error_clear();
        int rc = hf_config_read(&hp, test_fixture_path(rel));
        const char *msg = ig_error_message();
        cr_expect_eq(rc, IG_EINVAL, "[%s] rc %d; message: %s", fields[0], rc, msg);
        for (int i = 1; i < n; i++)
            cr_expect(strstr(msg, fields[i]) != NULL, "[%s] message \"%s\" lacks \"%s\"", fields[0], msg,
                      fields[i]);
        n_cases++;
    }
    cr_expect_geq(n_cases, 8, "at least 8 cfg-* cases, found %d", n_cases);
    free(tsv);
}

/* ---- phi3 longrope and partial rotary ---------------------------------- */

/* A phi3 config of hidden 3072 (Phi-3-mini, Phi-3.5-mini, Phi-4-mini's width) with extra keys
 * and a rope_scaling of n_long / n_short factors (-1: the key left out): long i = 1 + i/8, short
 * i = 2 + i/8. */
static const char *phi3_json(const char *extra, const char *type, int n_long, int n_short, int64_t max_pos)
{
    static char json[8192];
    int k = snprintf(json, sizeof json,
                     "{\"model_type\": \"phi3\", \"hidden_size\": 3072, \"intermediate_size\": 8192, "
                     "\"num_hidden_layers\": 2, \"num_attention_heads\": 24, \"num_key_value_heads\": 8, "
                     "\"vocab_size\": 200064, \"max_position_embeddings\": %lld, "
                     "\"original_max_position_embeddings\": 4096, %s\"rope_scaling\": {\"type\": \"%s\"",
                     (long long)max_pos, extra, type);
    const char *keys[2] = {"long_factor", "short_factor"};
    const int counts[2] = {n_long, n_short};
    for (int a = 0; a < 2; a++) {
        if (counts[a] < 0)
            continue;
        k += snprintf(json + k, sizeof json - (size_t)k, ", \"%s\": [", keys[a]);
        for (int i = 0; i < counts[a]; i++)
            k += snprintf(json + k, sizeof json - (size_t)k, "%s%g", i ? ", " : "", 1.0 + i / 8.0 + a);
        k += snprintf(json + k, sizeof json - (size_t)k, "]");
    }
    snprintf(json + k, sizeof json - (size_t)k, "}}");
    return json;
}

/* Phi-4-mini's shape: partial_rotary_factor 0.75 -> int(0.75 x 3072) // 24 = 96 rotated dims of
 * the 128 of a head (llama.cpp's Phi3MiniModel), so 48 factors each; attn_factor =
 * sqrt(1 + ln(131072/4096) / ln(4096)) = sqrt(1 + 5/12) (hand calculation: ln 32 / ln 4096 = 5/12). */
Test(hf_config, phi3_longrope_with_partial_rotary)
{
    struct model_hparams hp;
    int rc = parse(&hp, phi3_json("\"partial_rotary_factor\": 0.75, ", "longrope", 48, 48, 131072));
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_eq(hp.head_dim, 128);
    cr_expect_eq(hp.n_rot, 96);
    cr_expect_str_eq(hp.rope_scaling_type, "longrope");
    cr_expect_eq(hp.rope_factors_n, 48);
    cr_expect_eq(hp.rope_factors_long[0], 1.0f);
    cr_expect_eq(hp.rope_factors_long[47], 1.0f + 47 / 8.0f);
    cr_expect_eq(hp.rope_factors_short[8], 3.0f);
    cr_expect_eq(hp.rope_scaling_orig_ctx, 4096);
    cr_expect_eq(hp.n_ctx_train, 131072);
    cr_expect_float_eq(hp.rope_attn_factor, (float)sqrt(17.0 / 12.0), 1e-7);
}

/* Phi-3-mini-128k's first release names it "su"; full rotary: 3072 / 24 heads = 128 dims. With
 * max_position_embeddings at the original context the factor is 1 (scale <= 1). */
Test(hf_config, phi3_su_is_longrope_and_attn_factor_one_without_extension)
{
    struct model_hparams hp;
    int rc = parse(&hp, phi3_json("", "su", 64, 64, 131072));
    cr_expect_eq(rc, 0, "%s", ig_error_message());   /* 3072 / 24 = 128 dims: 64 pairs */
    cr_expect_str_eq(hp.rope_scaling_type, "longrope");
    cr_expect_eq(hp.n_rot, 128);
    rc = parse(&hp, phi3_json("", "longrope", 64, 64, 4096));
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_eq(hp.rope_attn_factor, 1.0f);
}

/* phi3's yarn: Phi3MiniModel writes the same factor tensors and no type, only the attention
 * factor differs: 0.1 · ln(131072 / 4096) + 1 = 0.5 ln 2 + 1 (hand calculation). */
Test(hf_config, phi3_yarn_is_longrope_with_yarn_attn_factor)
{
    struct model_hparams hp;
    int rc = parse(&hp, phi3_json("", "yarn", 64, 64, 131072));
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_str_eq(hp.rope_scaling_type, "longrope");
    cr_expect_eq(hp.rope_factors_n, 64);
    cr_expect_float_eq(hp.rope_attn_factor, (float)(0.5 * log(2.0) + 1.0), 1e-7);
}

Test(hf_config, phi3_longrope_bad_factors_name_the_key)
{
    struct model_hparams hp;
    expect_einval(parse(&hp, phi3_json("", "longrope", 63, 64, 131072)),
                  (const char *[]){"mem/config.json", "rope_scaling.long_factor", "63 entries, expected 64", NULL});
    expect_einval(parse(&hp, phi3_json("", "longrope", 64, -1, 131072)),
                  (const char *[]){"rope_scaling.short_factor", "missing", NULL});
    expect_einval(parse(&hp, phi3_json("\"partial_rotary_factor\": 0.75, ", "longrope", 64, 64, 131072)),
                  (const char *[]){"rope_scaling.long_factor", "expected 48", NULL});
    const char *zero = "{\"model_type\": \"phi3\", \"hidden_size\": 64, \"intermediate_size\": 128, "
                       "\"num_hidden_layers\": 1, \"num_attention_heads\": 16, \"vocab_size\": 32, "
                       "\"rope_scaling\": {\"type\": \"longrope\", \"long_factor\": [1, 2], \"short_factor\": [1, 0]}}";
    expect_einval(parse(&hp, zero), (const char *[]){"rope_scaling.short_factor[1]", "integer 0", "> 0", NULL});
    expect_einval(parse(&hp, phi3_json("", "linear", 64, 64, 131072)),
                  (const char *[]){"'rope_scaling'", "'linear'", "longrope, su, yarn", NULL});
    expect_einval(parse(&hp, phi3_json("\"partial_rotary_factor\": 1.5, ", "longrope", 64, 64, 131072)),
                  (const char *[]){"'partial_rotary_factor'", "real 1.5", NULL});
    /* 0.7 x 3072 = 2150.4 -> 2150 // 24 = 89: odd */
    expect_einval(parse(&hp, phi3_json("\"partial_rotary_factor\": 0.7, ", "longrope", 44, 44, 131072)),
                  (const char *[]){"'partial_rotary_factor'", "89 rotated dimensions", NULL});
}

/* ---- transformers v5's rope_parameters --------------------------------- */

/* The shapes come from transformers' modeling_rope_utils.py (RotaryEmbeddingConfigMixin:
 * convert_rope_params_to_dict / standardize_rope_params: rope_theta, rope_scaling's keys and
 * partial_rotary_factor move into one rope_parameters object, "type" becomes "rope_type") and
 * configuration_gemma3.py (one object per attention kind, rope_local_base_freq becoming
 * sliding_attention.rope_theta). Each v5 config must parse to the very same hparams as its
 * old-style twin: the whole struct is compared (both are zeroed before parsing, and the same
 * code fills them), with the fields that matter named for a readable failure. */
static void expect_same_hparams(const char *what, const char *old_json, const char *v5_json)
{
    struct model_hparams a, b;
    int rc = parse(&a, old_json);
    cr_assert_eq(rc, 0, "%s, old form: %s", what, ig_error_message());
    rc = parse(&b, v5_json);
    cr_assert_eq(rc, 0, "%s, v5 form: %s", what, ig_error_message());
    cr_expect_str_eq(b.arch, a.arch, "%s: arch", what);
    cr_expect_eq(b.rope_theta, a.rope_theta, "%s: rope_theta %g vs %g", what, b.rope_theta, a.rope_theta);
    cr_expect_eq(b.rope_theta_swa, a.rope_theta_swa, "%s: rope_theta_swa %g vs %g", what, b.rope_theta_swa, a.rope_theta_swa);
    cr_expect_str_eq(b.rope_scaling_type, a.rope_scaling_type, "%s: rope scaling type", what);
    cr_expect_eq(b.rope_scaling_factor, a.rope_scaling_factor, "%s: rope scaling factor", what);
    cr_expect_eq(b.rope_scaling_orig_ctx, a.rope_scaling_orig_ctx, "%s: rope scaling original context", what);
    cr_expect_eq(b.rope_llama3_low_freq, a.rope_llama3_low_freq, "%s: llama3 low_freq_factor", what);
    cr_expect_eq(b.rope_llama3_high_freq, a.rope_llama3_high_freq, "%s: llama3 high_freq_factor", what);
    cr_expect_eq(b.rope_llama3_orig_ctx, a.rope_llama3_orig_ctx, "%s: llama3 original context", what);
    cr_expect_eq(b.n_rot, a.n_rot, "%s: n_rot", what);
    cr_expect_eq(b.rope_factors_n, a.rope_factors_n, "%s: rope factors", what);
    cr_expect_eq(b.rope_attn_factor, a.rope_attn_factor, "%s: rope attn factor", what);
    cr_expect_eq(b.swa_pattern, a.swa_pattern, "%s: swa pattern", what);
    cr_expect_eq(memcmp(&a, &b, sizeof a), 0, "%s: the two model_hparams differ somewhere", what);
}

/* The old form of a config with transformers v5's rewrite applied: rope_theta, rope_scaling
 * (type -> rope_type; "default" when absent) and partial_rotary_factor go into rope_parameters;
 * per_kind: {"full_attention": that, "sliding_attention": {"rope_type": "default",
 * "rope_theta": rope_local_base_freq}}. keep_old: leave the old keys beside it (4.56/4.57
 * wrote both). Returns a static buffer. */
static const char *to_v5(const char *old_json, bool per_kind, bool keep_old)
{
    static char out[16384];
    json_error_t err;
    json_t *root = json_loads(old_json, 0, &err);
    cr_assert(root, "test JSON: %s", err.text);
    json_t *host = json_object_get(root, "text_config") ? json_object_get(root, "text_config") : root;
    json_t *rp = json_object();
    json_t *rs = json_object_get(host, "rope_scaling");
    if (json_is_object(rs)) {
        json_object_update(rp, rs);
        json_t *t = json_object_get(rp, "type");
        if (t && !json_object_get(rp, "rope_type"))
            json_object_set(rp, "rope_type", t);
        json_object_del(rp, "type");
    }
    if (!json_object_get(rp, "rope_type"))
        json_object_set_new(rp, "rope_type", json_string("default"));
    json_object_set(rp, "rope_theta", json_object_get(host, "rope_theta"));
    if (json_object_get(host, "partial_rotary_factor"))
        json_object_set(rp, "partial_rotary_factor", json_object_get(host, "partial_rotary_factor"));
    if (per_kind) {
        json_t *sl = json_pack("{s:s, s:O}", "rope_type", "default", "rope_theta",
                               json_object_get(host, "rope_local_base_freq"));
        json_t *both = json_pack("{s:o, s:o}", "full_attention", rp, "sliding_attention", sl);
        rp = both;
    }
    if (!keep_old) {
        json_object_del(host, "rope_theta");
        json_object_del(host, "rope_scaling");
        json_object_del(host, "partial_rotary_factor");
        json_object_del(host, "rope_local_base_freq");
    }
    json_object_set_new(host, "rope_parameters", rp);
    char *s = json_dumps(root, JSON_COMPACT);
    cr_assert(s && strlen(s) < sizeof out);
    snprintf(out, sizeof out, "%s", s);
    free(s);
    json_decref(root);
    return out;
}

/* Meta-Llama-3.1-8B's rope: theta 500000, llama3 scaling (its config.json's values). */
#define LLAMA31_ROPE                                                                                        \
    "\"rope_theta\": 500000.0, \"rope_scaling\": {\"factor\": 8.0, \"low_freq_factor\": 1.0, "             \
    "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192, \"rope_type\": \"llama3\"}, " \
    "\"max_position_embeddings\": 131072"

Test(hf_config, v5_llama_default_matches_rope_theta)
{
    /* written out by hand, as transformers 5 saves it (no rope_theta at the top level) */
    const char *old = "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_theta\": 500000.0}";
    const char *v5 = "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_parameters\": "
                     "{\"rope_type\": \"default\", \"rope_theta\": 500000.0}}";
    expect_same_hparams("llama default", old, v5);
    struct model_hparams hp;
    cr_assert_eq(parse(&hp, v5), 0, "%s", ig_error_message());
    cr_expect_eq(hp.rope_theta, 500000.0f, "not the 10000 default");
    cr_expect_str_eq(hp.rope_scaling_type, "");
    expect_same_hparams("llama default, generated", old, to_v5(old, false, false));
    expect_same_hparams("llama default, both forms", old, to_v5(old, false, true));
}

Test(hf_config, v5_llama3_scaling_matches_rope_scaling)
{
    const char *old = "{\"model_type\": \"llama\", " BASE_KEYS ", " LLAMA31_ROPE "}";
    const char *v5 = "{\"model_type\": \"llama\", " BASE_KEYS ", \"max_position_embeddings\": 131072, "
                     "\"rope_parameters\": {\"factor\": 8.0, \"high_freq_factor\": 4.0, \"low_freq_factor\": 1.0, "
                     "\"original_max_position_embeddings\": 8192, \"rope_theta\": 500000.0, \"rope_type\": \"llama3\"}}";
    expect_same_hparams("llama3", old, v5);
    struct model_hparams hp;
    cr_assert_eq(parse(&hp, v5), 0, "%s", ig_error_message());
    cr_expect_eq(hp.rope_theta, 500000.0f);
    cr_expect_str_eq(hp.rope_scaling_type, "llama3");
    cr_expect_eq(hp.rope_scaling_factor, 8.0f);
    cr_expect_eq(hp.rope_scaling_orig_ctx, 8192);
    expect_same_hparams("llama3, both forms", old, to_v5(old, false, true));
    /* a linear scaling under the old "type" key */
    const char *lin = "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_theta\": 10000.0, "
                      "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 4.0}}";
    expect_same_hparams("llama linear", lin, to_v5(lin, false, false));
    expect_same_hparams("llama linear, both forms", lin, to_v5(lin, false, true));
}

/* Qwen3-0.6B's config.json shape (head_dim 128, theta 1e6, tied), and with the YaRN scaling
 * Qwen3's model card gives for 128k (factor 4 over 32768). */
Test(hf_config, v5_qwen3_matches_old_form)
{
    const char *old = "{\"model_type\": \"qwen3\", \"hidden_size\": 1024, \"intermediate_size\": 3072, "
                      "\"num_hidden_layers\": 2, \"num_attention_heads\": 16, \"num_key_value_heads\": 8, "
                      "\"head_dim\": 128, \"vocab_size\": 151936, \"max_position_embeddings\": 40960, "
                      "\"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000, \"rope_scaling\": null, "
                      "\"tie_word_embeddings\": true}";
    expect_same_hparams("qwen3", old, to_v5(old, false, false));
    struct model_hparams hp;
    cr_assert_eq(parse(&hp, to_v5(old, false, false)), 0, "%s", ig_error_message());
    cr_expect_eq(hp.rope_theta, 1e6f);
    const char *yarn = "{\"model_type\": \"qwen3\", \"hidden_size\": 1024, \"intermediate_size\": 3072, "
                       "\"num_hidden_layers\": 2, \"num_attention_heads\": 16, \"num_key_value_heads\": 8, "
                       "\"head_dim\": 128, \"vocab_size\": 151936, \"max_position_embeddings\": 131072, "
                       "\"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000, \"rope_scaling\": {\"rope_type\": "
                       "\"yarn\", \"factor\": 4.0, \"original_max_position_embeddings\": 32768}}";
    expect_same_hparams("qwen3 yarn", yarn, to_v5(yarn, false, false));
    expect_same_hparams("qwen3 yarn, both forms", yarn, to_v5(yarn, false, true));
    cr_assert_eq(parse(&hp, to_v5(yarn, false, false)), 0, "%s", ig_error_message());
    cr_expect_str_eq(hp.rope_scaling_type, "yarn");
    cr_expect_eq(hp.rope_scaling_factor, 4.0f);
    cr_expect_eq(hp.rope_scaling_orig_ctx, 32768);
}

/* gemma-3-4b's text shape in miniature: linear x8 on the full-attention blocks, theta 1e6, and a
 * sliding base of 20000 (not the 10000 default, so the mapping to rope_theta_swa is seen). */
#define GEMMA3_OLD                                                                                            \
    "{\"model_type\": \"gemma3_text\", \"hidden_size\": 64, \"intermediate_size\": 128, "                   \
    "\"num_hidden_layers\": 6, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"head_dim\": 32, "  \
    "\"vocab_size\": 300, \"rope_theta\": 1000000.0, \"rope_local_base_freq\": 20000.0, "                    \
    "\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 8.0}, \"sliding_window\": 1024, "             \
    "\"layer_types\": [\"sliding_attention\", \"sliding_attention\", \"sliding_attention\", "               \
    "\"sliding_attention\", \"sliding_attention\", \"full_attention\"]}"

Test(hf_config, v5_gemma3_per_kind_matches_old_form)
{
    const char *v5 = "{\"model_type\": \"gemma3_text\", \"hidden_size\": 64, \"intermediate_size\": 128, "
                     "\"num_hidden_layers\": 6, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"head_dim\": 32, "
                     "\"vocab_size\": 300, \"rope_parameters\": {\"full_attention\": {\"rope_type\": \"linear\", "
                     "\"factor\": 8.0, \"rope_theta\": 1000000.0}, \"sliding_attention\": {\"rope_type\": \"default\", "
                     "\"rope_theta\": 20000.0}}, \"sliding_window\": 1024, "
                     "\"layer_types\": [\"sliding_attention\", \"sliding_attention\", \"sliding_attention\", "
                     "\"sliding_attention\", \"sliding_attention\", \"full_attention\"]}";
    expect_same_hparams("gemma3", GEMMA3_OLD, v5);
    struct model_hparams hp;
    cr_assert_eq(parse(&hp, v5), 0, "%s", ig_error_message());
    cr_expect_eq(hp.rope_theta, 1e6f);
    cr_expect_eq(hp.rope_theta_swa, 20000.0f);
    cr_expect_str_eq(hp.rope_scaling_type, "linear");
    cr_expect_eq(hp.rope_scaling_factor, 8.0f);
    expect_same_hparams("gemma3, generated", GEMMA3_OLD, to_v5(GEMMA3_OLD, true, false));
    expect_same_hparams("gemma3, both forms", GEMMA3_OLD, to_v5(GEMMA3_OLD, true, true));
}

/* Gemma3ForConditionalGeneration keeps the text keys under text_config; its lift must not put a
 * default rope_theta beside a v5 rope_parameters. */
Test(hf_config, v5_gemma3_multimodal_matches_old_form)
{
    const char *old = "{\"architectures\": [\"Gemma3ForConditionalGeneration\"], \"model_type\": \"gemma3\", "
                      "\"text_config\": {\"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 6, "
                      "\"rope_theta\": 500000.0, \"rope_local_base_freq\": 10000.0, "
                      "\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 8.0}, \"sliding_window\": 1024}}";
    expect_same_hparams("gemma3 multimodal", old, to_v5(old, true, false));
    struct model_hparams hp;
    cr_assert_eq(parse(&hp, to_v5(old, true, false)), 0, "%s", ig_error_message());
    cr_expect_eq(hp.rope_theta, 500000.0f, "the config's theta, not the class default 1e6");
    cr_expect_eq(hp.rope_theta_swa, 10000.0f);
}

/* Phi-4-mini's shape: longrope factors and partial_rotary_factor 0.75 inside rope_parameters
 * (transformers 5 moves it there), original_max_position_embeddings in both places. */
Test(hf_config, v5_phi3_longrope_matches_old_form)
{
    char old[8192];
    snprintf(old, sizeof old, "%s", phi3_json("\"partial_rotary_factor\": 0.75, \"rope_theta\": 10000.0, ", "longrope", 48, 48, 131072));
    expect_same_hparams("phi3 longrope", old, to_v5(old, false, false));
    expect_same_hparams("phi3 longrope, both forms", old, to_v5(old, false, true));
    /* as transformers 5's standardize_rope_params also copies original_max_position_embeddings in */
    json_t *root = json_loads(to_v5(old, false, false), 0, NULL);
    cr_assert(root);
    json_object_set_new(json_object_get(root, "rope_parameters"), "original_max_position_embeddings", json_integer(4096));
    char *v5 = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    expect_same_hparams("phi3 longrope, orig ctx inside", old, v5);
    struct model_hparams hp;
    cr_assert_eq(parse(&hp, v5), 0, "%s", ig_error_message());
    free(v5);
    cr_expect_eq(hp.n_rot, 96);
    cr_expect_eq(hp.rope_factors_n, 48);
    cr_expect_str_eq(hp.rope_scaling_type, "longrope");
    cr_expect_float_eq(hp.rope_attn_factor, (float)sqrt(17.0 / 12.0), 1e-7);   /* hand calculation above */
    /* a bad factor names the key it is under */
    char bad[8192];
    snprintf(bad, sizeof bad, "%s", phi3_json("\"rope_theta\": 10000.0, ", "longrope", 63, 64, 131072));
    expect_einval(parse(&hp, to_v5(bad, false, false)),
                  (const char *[]){"rope_parameters.long_factor", "63 entries, expected 64", NULL});
}

/* Without rope_theta inside, transformers takes the top-level rope_theta (convert_rope_params_to_dict),
 * else its class's default_theta: ingot takes the first and refuses the guess. */
Test(hf_config, v5_rope_parameters_without_theta)
{
    struct model_hparams hp;
    const char *top = "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_theta\": 250000.0, "
                      "\"rope_parameters\": {\"rope_type\": \"linear\", \"factor\": 2.0}}";
    cr_assert_eq(parse(&hp, top), 0, "%s", ig_error_message());
    cr_expect_eq(hp.rope_theta, 250000.0f);
    cr_expect_str_eq(hp.rope_scaling_type, "linear");
    const char *none = "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_parameters\": {\"rope_type\": \"default\"}}";
    expect_einval(parse(&hp, none), (const char *[]){"mem/config.json", "'rope_parameters.rope_theta' is missing",
                                                     "'rope_theta'", NULL});
    const char *g = "{\"model_type\": \"gemma3_text\", \"hidden_size\": 64, \"intermediate_size\": 128, "
                    "\"num_hidden_layers\": 6, \"num_attention_heads\": 4, \"head_dim\": 32, \"vocab_size\": 300, "
                    "\"rope_parameters\": {\"full_attention\": {\"rope_type\": \"default\", \"rope_theta\": 1e6}, "
                    "\"sliding_attention\": {\"rope_type\": \"default\"}}}";
    expect_einval(parse(&hp, g), (const char *[]){"'rope_parameters.sliding_attention.rope_theta' is missing",
                                                  "'rope_local_base_freq'", NULL});
    /* the multimodal lift adds no theta beside rope_parameters */
    const char *mm = "{\"model_type\": \"gemma3\", \"text_config\": {\"hidden_size\": 64, \"intermediate_size\": 128, "
                     "\"num_hidden_layers\": 6, \"rope_parameters\": {\"full_attention\": {\"rope_type\": \"default\"}, "
                     "\"sliding_attention\": {\"rope_type\": \"default\", \"rope_theta\": 10000.0}}}}";
    expect_einval(parse(&hp, mm), (const char *[]){"'rope_parameters.full_attention.rope_theta' is missing", NULL});
}

Test(hf_config, v5_and_old_forms_that_disagree_are_refused)
{
    struct model_hparams hp;
    const char *theta = "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_theta\": 500000.0, "
                        "\"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 1000000.0}}";
    expect_einval(parse(&hp, theta), (const char *[]){"mem/config.json", "'rope_theta'", "'rope_parameters.rope_theta'",
                                                      "disagree", NULL});
    const char *factor = "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_scaling\": {\"type\": \"linear\", "
                         "\"factor\": 8.0}, \"rope_parameters\": {\"rope_type\": \"linear\", \"factor\": 4.0, "
                         "\"rope_theta\": 10000.0}}";
    expect_einval(parse(&hp, factor), (const char *[]){"'rope_scaling.factor'", "'rope_parameters.factor'", NULL});
    const char *type = "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_scaling\": {\"type\": \"linear\", "
                       "\"factor\": 8.0}, \"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 10000.0}}";
    expect_einval(parse(&hp, type), (const char *[]){"'rope_scaling.type'", "'rope_parameters.rope_type'", NULL});
    char phi[8192];
    snprintf(phi, sizeof phi, "%s", phi3_json("\"partial_rotary_factor\": 0.75, \"rope_theta\": 10000.0, ", "longrope", 48, 48, 131072));
    json_t *root = json_loads(to_v5(phi, false, true), 0, NULL);
    cr_assert(root);
    json_object_set_new(json_object_get(root, "rope_parameters"), "partial_rotary_factor", json_real(0.5));
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    expect_einval(parse(&hp, s), (const char *[]){"'partial_rotary_factor'", "'rope_parameters.partial_rotary_factor'", NULL});
    free(s);
    /* gemma3: rope_local_base_freq against the sliding kind's theta */
    root = json_loads(to_v5(GEMMA3_OLD, true, true), 0, NULL);
    cr_assert(root);
    json_object_set_new(json_object_get(json_object_get(root, "rope_parameters"), "sliding_attention"), "rope_theta",
                        json_real(10000.0));
    s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    expect_einval(parse(&hp, s), (const char *[]){"'rope_local_base_freq'", "'rope_parameters.sliding_attention.rope_theta'", NULL});
    free(s);
    /* integer and real spellings of one value agree */
    const char *same = "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_theta\": 500000, "
                       "\"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 500000.0}}";
    cr_expect_eq(parse(&hp, same), 0, "%s", ig_error_message());
}

Test(hf_config, v5_rope_parameters_bad_shapes_are_refused)
{
    struct model_hparams hp;
    expect_einval(parse(&hp, "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_parameters\": 10000}"),
                  (const char *[]){"'rope_parameters'", "integer 10000", "an object", NULL});
    expect_einval(parse(&hp, "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_parameters\": {\"rope_type\": "
                             "\"default\", \"rope_theta\": \"1e6\"}}"),
                  (const char *[]){"'rope_parameters.rope_theta'", "string \"1e6\"", NULL});
    expect_einval(parse(&hp, "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_parameters\": {\"rope_type\": "
                             "\"linear\", \"factor\": -2, \"rope_theta\": 10000}}"),
                  (const char *[]){"'rope_parameters.factor'", "integer -2", NULL});
    expect_einval(parse(&hp, "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_parameters\": {\"rope_type\": "
                             "\"dynamic\", \"factor\": 2, \"rope_theta\": 10000}}"),
                  (const char *[]){"'rope_parameters.rope_type'", "\"dynamic\"", NULL});
    /* per-kind objects belong to gemma3 only, and need both kinds, the sliding one unscaled */
    expect_einval(parse(&hp, "{\"model_type\": \"llama\", " BASE_KEYS ", \"rope_parameters\": {\"full_attention\": "
                             "{\"rope_type\": \"default\", \"rope_theta\": 10000}, \"sliding_attention\": "
                             "{\"rope_type\": \"default\", \"rope_theta\": 10000}}}"),
                  (const char *[]){"'rope_parameters'", "gemma3", NULL});
    const char *g = "{\"model_type\": \"gemma3_text\", \"hidden_size\": 64, \"intermediate_size\": 128, "
                    "\"num_hidden_layers\": 6, \"num_attention_heads\": 4, \"head_dim\": 32, \"vocab_size\": 300, "
                    "\"rope_parameters\": {\"full_attention\": {\"rope_type\": \"default\", \"rope_theta\": 1e6}%s}}";
    char json[1024];
    snprintf(json, sizeof json, g, "");
    expect_einval(parse(&hp, json), (const char *[]){"'rope_parameters.sliding_attention' is missing", NULL});
    snprintf(json, sizeof json, g, ", \"sliding_attention\": {\"rope_type\": \"linear\", \"factor\": 2, \"rope_theta\": 1e4}");
    expect_einval(parse(&hp, json), (const char *[]){"'rope_parameters.sliding_attention.rope_type'", "\"linear\"", NULL});
    snprintf(json, sizeof json, g, ", \"sliding_attention\": {\"rope_type\": \"default\", \"rope_theta\": 1e4}, \"rope_theta\": 5");
    expect_einval(parse(&hp, json), (const char *[]){"'rope_parameters'", "mixes", "'rope_theta'", NULL});
}
