/* test_tokenize_pre.c — the Llama 3 ("llama-bpe") and GPT-4o ("gpt-4o") pre-tokenizers
 * (bpe.c llama3_word_end, gpt4o_word_end, ignore_merges) against llama.cpp, and how
 * tokenizer.json's pre_tokenizer and a GGUF's tokenizer.ggml.pre pick them.
 *
 * Golden data (tests/data/pre-split/, see its README): llama.cpp's ids (libllama of node-llama-cpp
 * 3.22.1, tokenize_vectors.mjs, no specials) for
 *   - llama.cpp's 46 tokenizer test inputs (../shared/data/llamacpp-vocab/ggml-vocab-llama-spm.gguf.inp)
 *   - extra.inp: 41 inputs for the branches those miss (digit runs, "HelloWORLD's", "\r\n/",
 *     non-ASCII upper and lower case letters, combining marks, non-ASCII digits and spaces)
 *   - random.inp: 600 random short texts over the characters the regexes tell apart (GPT-2's
 *     vocabulary only)
 * with two vocabularies:
 *   - GPT-2's (ggml-vocab-gpt-2.gguf with tokenizer.ggml.pre rewritten by set_pre.py): real merges
 *   - tiny-bpe.gguf (make_vocab.py): merges learned on the inputs with no pre-split, so tokens
 *     cross every boundary a split could fall on, plus whole words reachable only through
 *     ignore_merges; the ids show exactly where each split fell.
 * The same tiny vocabulary gives different ids under "llama-bpe" and "gpt-4o" for 11 of the 46
 * and 29 of the 41 inputs, so the vectors tell the splits apart.
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/gguf.h"
#include "formats/tokenizer.h"
#include "tokenizer/tokenize.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IDS 1024

static const char sep[] = "\n__ggml_vocab_test__\n";

/* Read the vocabulary at path (a GGUF) with tokenizer.ggml.pre set to pre. */
static void read_vocab(struct vocab *v, const char *path, const char *pre)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", path);
    struct gguf_file *g;
    vocab_init(v);
    cr_assert_eq(gguf_open(&g, p), 0, "%s", ig_error_message());
    cr_assert_eq(gguf_vocab_read(g, v), 0, "%s", ig_error_message());
    gguf_close(g);
    snprintf(v->pre, sizeof v->pre, "%s", pre);
}

/* Tokenize every input of inp_path with v and compare with the ids of out_path (one line per
 * input, as llama.cpp's .out files); returns the inputs that match, *n_case the inputs. */
static int compare_file(const struct vocab *v, const char *inp_path, const char *out_path, int *n_case)
{
    char ip[4096];
    snprintf(ip, sizeof ip, "%s", inp_path);
    struct tokenizer *t;
    cr_assert_eq(tokenizer_create(&t, v), 0, "%s", ig_error_message());
    size_t n_inp, n_out;
    char *inp = (char *)test_read_file(ip, &n_inp);
    char *out = (char *)test_read_file(out_path, &n_out);
    cr_assert(inp && out, "%s, %s", ip, out_path);
    int n_pass = 0;
    char *line = out;
    *n_case = 0;
    for (size_t pos = 0; pos < n_inp; (*n_case)++) {
        char *next = memmem(inp + pos, n_inp - pos, sep, sizeof sep - 1);
        size_t len = next ? (size_t)(next - (inp + pos)) : n_inp - pos;
        char *nl = strchr(line, '\n');
        cr_assert_not_null(nl, "%s: fewer expected-id lines than inputs", out_path);
        *nl = '\0';
        int32_t want[MAX_IDS], *ids;
        int64_t n_want = 0;
        char *end;
        for (const char *p = line; n_want < MAX_IDS; p = end) {
            long x = strtol(p, &end, 10);
            if (end == p)
                break;
            want[n_want++] = (int32_t)x;
        }
        int64_t n = tokenizer_encode(t, inp + pos, len, 0, &ids);
        cr_assert_geq(n, 0, "%s", ig_error_message());
        int same = n == n_want;
        for (int64_t i = 0; same && i < n; i++)
            same = ids[i] == want[i];
        cr_expect(same, "%s case %d '%.*s': %lld ids, llama.cpp %lld", out_path, *n_case, (int)len, inp + pos,
                  (long long)n, (long long)n_want);
        n_pass += same;
        free(ids);
        line = nl + 1;
        if (!next)
            break;
        pos = (size_t)(next - inp) + sizeof sep - 1;
    }
    free(inp);
    free(out);
    tokenizer_destroy(t);
    return n_pass;
}

/* Both input files with vocabulary vocab_path under pre, against <stem>.<pre>.out and .extra.out. */
static void expect_llama_cpp_ids(const char *vocab_path, const char *stem, const char *pre)
{
    struct vocab v;
    read_vocab(&v, vocab_path, pre);
    char out[4096], extra_inp[4096];
    int n_case, n_pass;
    snprintf(extra_inp, sizeof extra_inp, "%s", test_fixture_path("pre-split/extra.inp"));
    snprintf(out, sizeof out, "%s", test_fixture_path("pre-split/"));
    size_t k = strlen(out);
    snprintf(out + k, sizeof out - k, "%s.%s.out", stem, pre);
    n_pass = compare_file(&v, test_shared_path("llamacpp-vocab/ggml-vocab-llama-spm.gguf.inp"), out, &n_case);
    cr_expect_eq(n_case, 46, "46 inputs");
    cr_expect_eq(n_pass, n_case, "%s: %d of %d inputs as llama.cpp splits them", out, n_pass, n_case);
    snprintf(out + k, sizeof out - k, "%s.%s.extra.out", stem, pre);
    n_pass = compare_file(&v, extra_inp, out, &n_case);
    cr_expect_eq(n_case, 41, "41 extra inputs");
    cr_expect_eq(n_pass, n_case, "%s: %d of %d inputs as llama.cpp splits them", out, n_pass, n_case);
    vocab_free(&v);
}

static const char *gpt2_vocab(void)
{
    const char *p = test_shared_path("llamacpp-vocab/ggml-vocab-gpt-2.gguf");
    if (!p)
        cr_skip_test("../shared/data is missing");
    return p;
}

/* ---- ids against llama.cpp ------------------------------------------------------------------ */

Test(tokenize_pre, llama3_split_on_gpt2_vocabulary_matches_llama_cpp, .timeout = 120)
{
    char vp[4096];
    snprintf(vp, sizeof vp, "%s", gpt2_vocab());
    expect_llama_cpp_ids(vp, "gpt-2", "llama-bpe");
}

Test(tokenize_pre, gpt4o_split_on_gpt2_vocabulary_matches_llama_cpp, .timeout = 120)
{
    char vp[4096];
    snprintf(vp, sizeof vp, "%s", gpt2_vocab());
    expect_llama_cpp_ids(vp, "gpt-2", "gpt-4o");
}

Test(tokenize_pre, llama3_split_and_ignore_merges_on_cross_boundary_vocabulary_match_llama_cpp)
{
    if (!test_shared_path("llamacpp-vocab/ggml-vocab-llama-spm.gguf.inp"))
        cr_skip_test("../shared/data is missing");
    char vp[4096];
    snprintf(vp, sizeof vp, "%s", test_fixture_path("pre-split/tiny-bpe.gguf"));
    expect_llama_cpp_ids(vp, "tiny", "llama-bpe");
}

Test(tokenize_pre, gpt4o_split_on_cross_boundary_vocabulary_matches_llama_cpp)
{
    if (!test_shared_path("llamacpp-vocab/ggml-vocab-llama-spm.gguf.inp"))
        cr_skip_test("../shared/data is missing");
    char vp[4096];
    snprintf(vp, sizeof vp, "%s", test_fixture_path("pre-split/tiny-bpe.gguf"));
    expect_llama_cpp_ids(vp, "tiny", "gpt-4o");
}

/* 600 random short texts (random.inp) with GPT-2's vocabulary under each pre-tokenizer. */
Test(tokenize_pre, random_texts_on_gpt2_vocabulary_match_llama_cpp, .timeout = 120)
{
    static const char *const pres[] = {"llama-bpe", "gpt-4o"};
    char vp[4096], ip[4096], op[4096];
    snprintf(vp, sizeof vp, "%s", gpt2_vocab());
    snprintf(ip, sizeof ip, "%s", test_fixture_path("pre-split/random.inp"));
    for (int i = 0; i < 2; i++) {
        struct vocab v;
        read_vocab(&v, vp, pres[i]);
        snprintf(op, sizeof op, "%s/gpt-2.%s.random.out", test_fixture_path("pre-split"), pres[i]);
        int n_case, n_pass = compare_file(&v, ip, op, &n_case);
        cr_expect_eq(n_case, 600);
        cr_expect_eq(n_pass, n_case, "%s: %d of %d random texts as llama.cpp splits them", pres[i], n_pass, n_case);
        vocab_free(&v);
    }
}

/* ---- tokenizer.ggml.pre names ------------------------------------------------------------- */

/* ids of text under pre with the tiny vocabulary; returns the count. *bos gets its BOS id when
 * bos is not NULL. */
static int64_t encode_with(const char *pre, const char *text, int add_special, int32_t **ids, int64_t *bos)
{
    struct vocab v;
    read_vocab(&v, test_fixture_path("pre-split/tiny-bpe.gguf"), pre);
    v.add_bos = -1;   /* as a file without tokenizer.ggml.add_bos_token */
    struct tokenizer *t;
    cr_assert_eq(tokenizer_create(&t, &v), 0, "%s", ig_error_message());
    int64_t n = tokenizer_encode(t, text, strlen(text), add_special, ids);
    cr_assert_geq(n, 0, "%s", ig_error_message());
    if (bos)
        *bos = v.bos_id;
    tokenizer_destroy(t);
    vocab_free(&v);
    return n;
}

Test(tokenize_pre, llama3_aliases_split_alike_and_gpt4o_aliases_alike)
{
    static const char text[] = "HelloWORLD's 1234567 caf\xc3\xa9\r\n/x";
    static const char *const groups[2][3] = {{"llama-bpe", "llama3", "llama-v3"}, {"gpt-4o", "llama4", "gpt-4o"}};
    int32_t *first[2];
    int64_t n_first[2];
    for (int g = 0; g < 2; g++) {
        n_first[g] = encode_with(groups[g][0], text, 0, &first[g], NULL);
        for (int a = 1; a < 3; a++) {
            int32_t *ids;
            int64_t n = encode_with(groups[g][a], text, 0, &ids, NULL);
            cr_expect(n == n_first[g] && memcmp(ids, first[g], (size_t)n * sizeof *ids) == 0, "'%s' splits as '%s'",
                      groups[g][a], groups[g][0]);
            free(ids);
        }
    }
    cr_expect(n_first[0] != n_first[1] || memcmp(first[0], first[1], (size_t)n_first[0] * sizeof(int32_t)) != 0,
              "llama-bpe and gpt-4o differ on this text");
    free(first[0]);
    free(first[1]);
}

Test(tokenize_pre, llama3_adds_bos_by_default_and_gpt4o_does_not)
{
    /* llama.cpp's load(): the Llama 3 names set add_bos = true; bos is <|endoftext|> (the last id) */
    int32_t *ids;
    int64_t bos;
    int64_t n = encode_with("llama-bpe", "x", 1, &ids, &bos);
    cr_assert_geq(n, 2);
    cr_expect_eq(bos, 1150, "the tiny vocabulary's last id");
    cr_expect_eq(ids[0], bos, "BOS first");
    free(ids);
    n = encode_with("gpt-4o", "x", 1, &ids, &bos);
    cr_assert_eq(n, 1, "no BOS for gpt-4o unless the file asks");
    cr_expect_neq(ids[0], bos);
    free(ids);
}

Test(tokenize_pre, unknown_pre_is_refused_naming_it_and_the_known_ones)
{
    /* llama.cpp throws "unknown pre-tokenizer type" for a name it does not know; so does ingot for
     * one it cannot split like llama.cpp */
    struct vocab v;
    read_vocab(&v, test_fixture_path("pre-split/tiny-bpe.gguf"), "o200k-custom");
    struct tokenizer *t = (struct tokenizer *)&v;
    cr_expect_eq(tokenizer_create(&t, &v), IG_EINVAL);
    cr_expect_null(t);
    const char *m = ig_error_message();
    cr_expect(strstr(m, "'o200k-custom'") && strstr(m, "llama-bpe") && strstr(m, "gpt-4o"), "message: %s", m);
    vocab_free(&v);
}

/* ---- tokenizer.json ------------------------------------------------------------------------- */

static const char llama3_regex_json[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+"
    "[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+";
/* Phi-4-mini's tokenizer.json (GPT-4o's o200k) */
static const char gpt4o_regex_json[] =
    "[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?[\\\\p{Lu}\\\\p{Lt}\\\\p{Lm}\\\\p{Lo}\\\\p{M}]*"
    "[\\\\p{Ll}\\\\p{Lm}\\\\p{Lo}\\\\p{M}]+"
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?[\\\\p{Lu}\\\\p{Lt}\\\\p{Lm}\\\\p{Lo}\\\\p{M}]+"
    "[\\\\p{Ll}\\\\p{Lm}\\\\p{Lo}\\\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+"
    "[\\\\r\\\\n/]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+";

/* Read a byte-level tokenizer.json whose pre_tokenizer is the given JSON; returns the reader's code. */
static int read_hf(struct vocab *v, const char *pre_tokenizer)
{
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s", test_tmp_dir());
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "{\"version\": \"1.0\", \"added_tokens\": [], \"normalizer\": null, \"pre_tokenizer\": %s,"
            " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\"]}}",
            pre_tokenizer);
    fclose(f);
    ig_error_clear();
    int rc = tokenizer_hf_read(v, path);
    remove(path);
    return rc;
}

static void expect_hf_pre(const char *regex_json, const char *want)
{
    char pre_tok[2048];
    snprintf(pre_tok, sizeof pre_tok,
             "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": \"%s\"},"
             " \"behavior\": \"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\", \"add_prefix_space\": false,"
             " \"trim_offsets\": true, \"use_regex\": false}]}",
             regex_json);
    struct vocab v;
    cr_assert_eq(read_hf(&v, pre_tok), 0, "%s", ig_error_message());
    cr_expect_str_eq(v.pre, want);
    vocab_free(&v);
}

Test(tokenize_pre_hf, split_regexes_name_llama_cpp_pre_tokenizers)
{
    expect_hf_pre(llama3_regex_json, "llama-bpe");
    expect_hf_pre(gpt4o_regex_json, "gpt-4o");
    struct vocab v;
    cr_assert_eq(read_hf(&v, "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}"), 0, "%s",
                 ig_error_message());
    cr_expect_str_eq(v.pre, "gpt-2", "ByteLevel alone splits with GPT-2's regex");
    vocab_free(&v);
}

Test(tokenize_pre_hf, unknown_split_regex_is_refused_naming_the_file_and_pattern)
{
    /* DeepSeek-V3's first Split; llama.cpp's converter would refuse an unknown hash too */
    static const char pre_tok[] =
        "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": "
        "\"\\\\p{N}{1,3}\"}, \"behavior\": \"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\", "
        "\"use_regex\": false}]}";
    struct vocab v;
    cr_expect_eq(read_hf(&v, pre_tok), IG_EINVAL);
    const char *m = ig_error_message();
    cr_expect(strstr(m, "tokenizer.json") && strstr(m, "'\\p{N}{1,3}'") && strstr(m, "llama-bpe"), "message: %s", m);
    /* a known regex while ByteLevel also splits: HF splits twice, which no llama.cpp name does */
    char both[2048];
    snprintf(both, sizeof both,
             "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": \"%s\"}},"
             " {\"type\": \"ByteLevel\"}]}",
             llama3_regex_json);
    cr_expect_eq(read_hf(&v, both), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "both"), "message: %s", ig_error_message());
    cr_expect_eq(read_hf(&v, "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Digits\"}, "
                             "{\"type\": \"ByteLevel\"}]}"),
                 IG_EINVAL, "a step other than Split / ByteLevel");
    cr_expect(strstr(ig_error_message(), "'Digits'"), "message: %s", ig_error_message());
}

/* ---- an HF folder through `ingot convert` --------------------------------------------------- */

/* `ingot synth --arch qwen3` (Qwen2's Split) with the Split regex replaced by regex; returns the
 * folder (static buffer). */
static const char *synth_with_split(const char *regex)
{
    static char dir[4200];
    snprintf(dir, sizeof dir, "%s/m", test_tmp_dir());
    struct test_run r;
    const char *synth[] = {"synth", "--arch", "qwen3", "-o", dir, "--dim", "64", "--layers", "1", "--heads", "2",
                           "--kv-heads", "1", "--head-dim", "32", "--ff", "64", "--corpus-lines", "10", NULL};
    test_run_ingot(&r, synth);
    cr_assert_eq(r.exit_code, 0, "synth: %s", r.err);
    char path[4300];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    cr_assert_not_null(root, "%s", jerr.text);
    json_t *split = json_array_get(json_object_get(json_object_get(root, "pre_tokenizer"), "pretokenizers"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(split, "type")), "Split");
    cr_assert_eq(json_object_set_new(json_object_get(split, "pattern"), "Regex", json_string(regex)), 0);
    cr_assert_eq(json_dump_file(root, path, 0), 0);
    json_decref(root);
    return dir;
}

/* Llama 3's regex as tokenizer.json holds it once decoded */
static const char llama3_regex[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
                                   "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

Test(tokenize_pre_hf, llama3_folder_converts_to_gguf_with_pre_llama_bpe, .timeout = 60)
{
    const char *dir = synth_with_split(llama3_regex);
    char out[4400];
    snprintf(out, sizeof out, "%s/f32.gguf", dir);
    struct test_run r;
    const char *conv[] = {"convert", dir, "-o", out, "--type", "F32", "-q", NULL};
    test_run_ingot(&r, conv);
    cr_assert_eq(r.exit_code, 0, "convert: %s", r.err);
    struct gguf_file *g;
    struct vocab v;
    vocab_init(&v);
    cr_assert_eq(gguf_open(&g, out), 0, "%s", ig_error_message());
    cr_assert_eq(gguf_vocab_read(g, &v), 0, "%s", ig_error_message());
    gguf_close(g);
    cr_expect_str_eq(v.pre, "llama-bpe", "tokenizer.ggml.pre as llama.cpp's converter writes it for Llama 3");
    struct tokenizer *t;
    cr_expect_eq(tokenizer_create(&t, &v), 0, "%s", ig_error_message());
    tokenizer_destroy(t);
    vocab_free(&v);
}

Test(tokenize_pre_hf, unknown_split_regex_fails_convert_with_exit_2, .timeout = 60)
{
    const char *dir = synth_with_split("\\p{N}{1,3}|\\p{L}+");
    char out[4400];
    snprintf(out, sizeof out, "%s/f32.gguf", dir);
    struct test_run r;
    const char *conv[] = {"convert", dir, "-o", out, "--type", "F32", "-q", NULL};
    test_run_ingot(&r, conv);
    cr_expect_eq(r.exit_code, 2, "bad input: %s", r.err);
    cr_expect(strstr(r.err, "tokenizer.json") && strstr(r.err, "'\\p{N}{1,3}|\\p{L}+'"), "stderr: %s", r.err);
    FILE *f = fopen(out, "rb");
    cr_expect_null(f, "no output file");
    if (f)
        fclose(f);
}
