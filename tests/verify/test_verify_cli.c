/* test_verify_cli.c — `ingot verify` agrees with llama-perplexity.
 *
 * Golden figures: ../shared/data/peers/README.md, from llama.cpp's llama-perplexity on the
 * same files, texts and context lengths (F32 base; KLD mode for the quantized files):
 *   stories260K, all of tinystories_val_head.txt, -c 128: F32 4.9693 ± 0.02431, F16 4.9692,
 *     Q4_0 5.2613 with mean KLD 0.084938
 *   tl3m, split_eval_ts.txt, -c 256: F32 11.9266 ± 0.12041, Q4_0 11.975426 (KLD 0.003723),
 *     Q4_K_M 11.961380 (KLD 0.002627)
 * Tolerances are the issue's: 0.1% for F32/F16 perplexity, 1% for llama.cpp's quantized
 * files (it also quantizes activations inside its dot products), 5% for mean KLD.
 */
#include "../test_util.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARED(var, rel)                                                                           \
    char var##_buf[4096];                                                                          \
    const char *var = test_shared_path(rel);                                                       \
    if (!var)                                                                                      \
        cr_skip_test("../shared/data is missing");                                                 \
    snprintf(var##_buf, sizeof var##_buf, "%s", var);                                              \
    var = var##_buf

static json_t *run_verify(const char *const *argv_tail)
{
    static char json_path[4200];
    snprintf(json_path, sizeof json_path, "%s/v.json", test_tmp_dir());
    const char *argv[32] = {"verify", "--json-out", json_path, "-q"};
    int n = 4;
    for (int i = 0; argv_tail[i]; i++)
        argv[n++] = argv_tail[i];
    argv[n] = NULL;
    struct test_run r;
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "verify failed: %s", r.err);
    cr_expect(strstr(r.out, "PPL"), "the table is printed: %s", r.out);
    json_error_t err;
    json_t *j = json_load_file(json_path, 0, &err);
    cr_assert_not_null(j, "%s: %s", json_path, err.text);
    return j;
}

Test(verify_cli, stories260K_tinystories_matches_llama_perplexity, .timeout = 600)
{
    SHARED(src, "gguf-stories260K/stories260K.gguf");
    SHARED(text, "tinystories/tinystories_val_head.txt");
    SHARED(q4, "peers/stories260K/stories260K-Q4_0.gguf");
    SHARED(f16, "peers/stories260K/stories260K-F16.gguf");
    const char *tail[] = {q4, f16, "--source", src, "--eval", text, "--ctx", "128", NULL};
    json_t *j = run_verify(tail);
    json_t *s = json_object_get(j, "source"), *c = json_object_get(j, "containers");
    test_expect_close(test_json_num(s, "ppl"), 4.9693, 0.001, "source PPL");
    test_expect_close(test_json_num(s, "ppl_stderr"), 0.02431, 0.01, "source PPL error");
    cr_assert_eq(json_array_size(c), 2);
    json_t *a = json_array_get(c, 0), *b = json_array_get(c, 1);
    cr_expect_str_eq(json_string_value(json_object_get(a, "file")), q4);
    test_expect_close(test_json_num(a, "ppl"), 5.2613, 0.01, "Q4_0 PPL");
    test_expect_close(test_json_num(a, "kld_mean"), 0.084938, 0.05, "Q4_0 mean KLD");
    test_expect_close(test_json_num(b, "ppl"), 4.9692, 0.001, "F16 PPL");
    cr_expect_gt(test_json_num(a, "kld_p99"), test_json_num(a, "kld_median"));
    cr_expect_geq(test_json_num(a, "kld_max"), test_json_num(a, "kld_p99"));
    cr_expect_gt(test_json_num(a, "same_top_pct"), 80.0);
    cr_expect_lt(test_json_num(a, "same_top_pct"), test_json_num(b, "same_top_pct"));
    json_decref(j);
}

Test(verify_cli, tl3m_hf_source_and_llama_cpp_files, .timeout = 600)
{
    SHARED(src, "tl3m");
    SHARED(text, "tl3m/split_eval_ts.txt");
    SHARED(q4, "peers/tl3m/tl3m-Q4_0.gguf");
    SHARED(q4km, "peers/tl3m/tl3m-Q4_K_M.gguf");
    const char *tail[] = {q4, q4km, "--source", src, "--eval", text, "--ctx", "256", NULL};
    json_t *j = run_verify(tail);
    json_t *s = json_object_get(j, "source"), *c = json_object_get(j, "containers");
    test_expect_close(test_json_num(s, "ppl"), 11.9266, 0.001, "source PPL");
    test_expect_close(test_json_num(s, "ppl_stderr"), 0.12041, 0.01, "source PPL error");
    cr_expect_eq(test_json_num(s, "tokens"), 232 * 127, "232 windows of 256, 127 scored each");
    json_t *a = json_array_get(c, 0), *b = json_array_get(c, 1);
    test_expect_close(test_json_num(a, "ppl"), 11.975426, 0.01, "Q4_0 PPL");
    test_expect_close(test_json_num(a, "kld_mean"), 0.003723, 0.05, "Q4_0 mean KLD");
    test_expect_close(test_json_num(a, "ppl_ratio"), 11.975426 / 11.9266, 0.01, "Q4_0 PPL ratio");
    test_expect_close(test_json_num(b, "ppl"), 11.961380, 0.01, "Q4_K_M PPL");
    test_expect_close(test_json_num(b, "kld_mean"), 0.002627, 0.05, "Q4_K_M mean KLD");
    cr_expect_eq(test_json_num(a, "bytes"), 1973696);
    json_decref(j);
}

Test(verify_cli, a_file_against_itself_has_zero_divergence, .timeout = 300)
{
    SHARED(f16, "peers/tl3m/tl3m-F16.gguf");
    SHARED(text, "tl3m/split_eval_ts.txt");
    const char *tail[] = {f16, "--source", f16, "--eval", text, "--chunks", "20", NULL};
    json_t *j = run_verify(tail);
    json_t *a = json_array_get(json_object_get(j, "containers"), 0);
    cr_expect_eq(test_json_num(a, "kld_mean"), 0.0);
    cr_expect_eq(test_json_num(a, "kld_max"), 0.0);
    cr_expect_eq(test_json_num(a, "same_top_pct"), 100.0);
    cr_expect_eq(test_json_num(a, "ppl_ratio"), 1.0);
    cr_expect_eq(test_json_num(a, "dp_rms"), 0.0);
    json_decref(j);
}

/* A folder's "bytes" are those of the files read from it (model.safetensors is 6,824,480 bytes,
 * `ls -l`), not the directory entry's own size (4,096). */
Test(verify_cli, a_folder_container_counts_its_files_bytes, .timeout = 300)
{
    SHARED(src, "tl3m");
    SHARED(text, "tl3m/split_eval_ts.txt");
    const char *tail[] = {src, "--source", src, "--eval", text, "--chunks", "4", NULL};
    json_t *j = run_verify(tail);
    double bytes = test_json_num(json_array_get(json_object_get(j, "containers"), 0), "bytes");
    cr_expect_geq(bytes, 6824480.0, "bytes %.0f: less than model.safetensors alone", bytes);
    cr_expect_lt(bytes, 6824480.0 + 2e6, "bytes %.0f: more than the folder's files", bytes);
    json_decref(j);
}

Test(verify_cli, bad_input_exits_2)
{
    SHARED(src, "gguf-stories260K/stories260K.gguf");
    SHARED(other, "peers/tl3m/tl3m-Q4_0.gguf");
    struct test_run r;
    const char *a1[] = {"verify", "--source", src, "--eval", "/nonexistent.txt", NULL};
    test_run_ingot(&r, a1);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "/nonexistent.txt"), "%s", r.err);
    /* a container of another model */
    const char *a2[] = {"verify", other, "--source", src, "--eval", test_fixture_path("../../README.md"), "--ctx", "16", NULL};
    test_run_ingot(&r, a2);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "not the source's model"), "%s", r.err);
    const char *a3[] = {"verify", src, NULL};
    test_run_ingot(&r, a3);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "--source"), "%s", r.err);
}

/* stories260K on WikiText-2 test, -c 128 (peers/README.md): F32 111.7012 ± 0.67056, F16 111.7193. */
Test(verify_cli, stories260K_wikitext_matches_llama_perplexity, .timeout = 900)
{
    SHARED(src, "gguf-stories260K/stories260K.gguf");
    SHARED(text, "wikitext-2-raw/wiki.test.raw");
    SHARED(f16, "peers/stories260K/stories260K-F16.gguf");
    const char *tail[] = {f16, "--source", src, "--eval", text, "--ctx", "128", NULL};
    json_t *j = run_verify(tail);
    json_t *s = json_object_get(j, "source");
    test_expect_close(test_json_num(s, "ppl"), 111.7012, 0.001, "source PPL");
    test_expect_close(test_json_num(s, "ppl_stderr"), 0.67056, 0.01, "source PPL error");
    test_expect_close(test_json_num(json_array_get(json_object_get(j, "containers"), 0), "ppl"), 111.7193, 0.001, "F16 PPL");
    json_decref(j);
}
