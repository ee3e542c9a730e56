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
