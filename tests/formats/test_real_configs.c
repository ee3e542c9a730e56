/* test_real_configs.c — folders laid out as released checkpoints of qwen3, gemma2/gemma3, phi3 and
 * mixtral are, not as `ingot synth` writes them: each config.json carries the released config's
 * keys and value types (dims shrunk; everything else as released), weights are BF16 in two
 * shards with model.safetensors.index.json, and the tokenizer side files follow the release
 * (tokenizer_config.json with added_tokens_decoder and chat_template, special_tokens_map.json,
 * generation_config.json). They must parse, convert, carry llama.cpp's tokenizer metadata, load
 * in llama.cpp, and verify to llama.cpp's perplexity.
 *
 * Where each config's content came from (the public HF config.json of the release, as quoted in
 * the code corpus searched for this test):
 *   Qwen/Qwen3-0.6B           attention_bias, head_dim 128 with hidden/heads = 64, max_window_layers,
 *                             rope_scaling null, sliding_window null, use_sliding_window false,
 *                             tie_word_embeddings true, torch_dtype bfloat16, bos 151643 / eos 151645
 *   google/gemma-3-1b-it      gemma3_text (Liwink/gemma-jax models/README.md): attn/final softcapping
 *                             null, eos_token_id [1, 106], query_pre_attn_scalar 256, rope_local_base_freq,
 *                             sliding_window 512, sliding_window_pattern 6, cache_implementation hybrid;
 *                             newer exports add layer_types and _sliding_window_pattern
 *                             (circuit-tracer's gemma_3_config_dict)
 *   google/gemma-3-4b-it      gemma3 with text_config (the LTX-2 text encoder's copy): text_config leaves
 *                             out keys equal to Gemma3TextConfig's defaults, rope_scaling
 *                             {"factor": 8.0, "rope_type": "linear"}, boi/eoi/image_token_index,
 *                             vision_config (siglip)
 *   google/gemma-2-2b         gemma2: attn_logit_softcapping 50, final_logit_softcapping 30,
 *                             query_pre_attn_scalar 256, sliding_window 4096, cache_implementation hybrid
 *   microsoft/Phi-3-mini-4k-instruct  phi3: vocab_size 32064, original_max_position_embeddings 4096,
 *                             rope_scaling null, sliding_window 2047, embd_pdrop, resid_pdrop, pad 32000
 *   mistralai/Mixtral-8x7B-v0.1  num_local_experts 8, num_experts_per_tok 2, router_aux_loss_coef,
 *                             output_router_logits, sliding_window null, rope_theta 1e6
 *
 * Golden figures are llama.cpp's (libllama of node-llama-cpp 3.22.1), recorded once from the F32
 * files this test writes (the folders stay in /tmp/ingot-test-*), run from /tmp/llb:
 *   node llama_ppl_node.mjs DIR/corpus.txt 64 1000 DIR/f32.gguf     (bench/llama_ppl_node.mjs)
 *     qwen3, Qwen3-0.6B layout:          77 chunks, 2387 scored, PPL 527.9543360812137 ± 1.9703732618962055
 *                                        (ingot verify: 527.9529751915954 ± 1.970371712839645)
 *     gemma3, 4B layout, 6 blocks:       76 chunks, 2356 scored, PPL 528.3979643420586 ± 1.8794947144618013
 *                                        (ingot verify: 528.3986140933589 ± 1.8794924786413487)
 *     gemma3, layer_types period 2:      PPL 527.0312567615631 (ingot verify: 527.0302543433004); the same
 *                                        file with gemma3.attention.sliding_window_pattern patched to 6:
 *                                        527.0097255383092, llama.cpp's own period
 *     phi3, Phi-3-mini layout (Llama 2's tokenizer.model, 32064 rows): 75 chunks, 2325 scored,
 *                                        PPL 32695.578183520076 ± 112.87896967292289
 *                                        (ingot verify: 32695.54905314899 ± 112.87869801165344)
 *     mixtral, 3 shards:                 94 chunks, 2914 scored, PPL 414.5337142832008 ± 1.1436186981645107
 *                                        (ingot verify: 414.5336827088026 ± 1.143620494920531)
 *     gemma3, 1B layout, vocab_size 512 over 511 pieces: 76 chunks, 2356 scored,
 *                                        PPL 528.0146187130625 ± 1.836756634451389
 *                                        (ingot verify: 528.01341695271 ± 1.836719317316352)
 *     gemma2, gemma-2-2b keys, 511 pieces over 500 rows: 83 chunks, 2573 scored,
 *                                        PPL 505.27202814540743 ± 1.5579378600067795
 *                                        (ingot verify: 505.27434059110044 ± 1.5579377038096758)
 *   The gemma3 figure also pins rope_scaling linear 8 to the global block only (block 5 of 6): llama.cpp
 *   and ingot agree to 1.2e-6 with the sliding blocks on the unscaled local base, while the same folder
 *   without rope_scaling gives 527.665890484768 (ingot), 0.14% away.
 *   (phi3's and mixtral's were recorded from folders a throwaway script built the same way: same synth
 *   seed, same round-to-nearest-even BF16, same config; this file's builder reproduces them.)
 * Tolerance: test_arch_qwen3.c's 0.1% for an F32 file (1% for its error).
 */
#include "../test_util.h"
#include "real_folder.h"

#include "common/ig_error.h"
#include "formats/gemma_arch.h"
#include "formats/gguf.h"
#include "formats/hf_config.h"
#include "formats/model_src.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PPL_QWEN3 527.9543360812137
#define PPL_QWEN3_ERR 1.9703732618962055
#define PPL_GEMMA3 528.3979643420586
#define PPL_GEMMA3_ERR 1.8794947144618013
#define PPL_GEMMA3_P2 527.0312567615631
#define PPL_GEMMA3_P2_AS_6 527.0097255383092
#define PPL_PHI3 32695.578183520076
#define PPL_PHI3_ERR 112.87896967292289
#define PPL_MIXTRAL 414.5337142832008
#define PPL_MIXTRAL_ERR 1.1436186981645107
#define PPL_GEMMA3_1B 528.0146187130625
#define PPL_GEMMA2_CUT 505.27202814540743
#define PPL_GEMMA2_CUT_ERR 1.5579378600067795

/* ---- helpers ----------------------------------------------------------------------------------- */

static void synth(const char *dir, const char *const *extra)
{
    const char *argv[40] = {"synth", "-o", dir, "--corpus-lines", "400"};
    int n = 5;
    for (int i = 0; extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    struct test_run r;
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "synth: %s", r.err);
}

/* `ingot convert DIR -o DIR/f32.gguf --type F32`; returns its stderr (static). */
static const char *convert_f32(const char *dir)
{
    static struct test_run r;
    char out[4300];
    snprintf(out, sizeof out, "%s/f32.gguf", dir);
    const char *argv[] = {"convert", dir, "-o", out, "--type", "F32", "-q", NULL};
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "convert %s: %s", dir, r.err);
    return r.err;
}

/* ingot verify's perplexity of DIR/f32.gguf and of the folder itself, on corpus.txt in windows of 64. */
static void verify_ppl(const char *dir, double *src_ppl, double *gguf_ppl, double *gguf_err)
{
    char f32[4300], text[4300], json_path[4300];
    snprintf(f32, sizeof f32, "%s/f32.gguf", dir);
    snprintf(text, sizeof text, "%s/corpus.txt", dir);
    snprintf(json_path, sizeof json_path, "%s/v.json", dir);
    const char *argv[] = {"verify", f32, "--source", dir, "--eval", text, "--ctx", "64", "--threads", "2",
                          "--json-out", json_path, "-q", NULL};
    struct test_run r;
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "verify: %s", r.err);
    json_error_t err;
    json_t *j = json_load_file(json_path, 0, &err);
    cr_assert_not_null(j, "%s", err.text);
    json_t *c = json_array_get(json_object_get(j, "containers"), 0);
    *src_ppl = test_json_num(json_object_get(j, "source"), "ppl");
    *gguf_ppl = test_json_num(c, "ppl");
    *gguf_err = test_json_num(c, "ppl_stderr");
    json_decref(j);
}

/* verify's F32 GGUF PPL equals its source folder's (the conversion is lossless) and llama.cpp's
 * recorded figure within 0.1%, its error within 1% (want_err 0: not checked). Returns that PPL. */
static double expect_llama_ppl(const char *dir, const char *what, double want, double want_err)
{
    double s, p, e;
    char label[160];
    verify_ppl(dir, &s, &p, &e);
    cr_expect_lt(fabs(s - p), 1e-9 * p, "%s: the F32 conversion is the folder: source %.10g, GGUF %.10g", what, s, p);
    snprintf(label, sizeof label, "%s F32 GGUF PPL", what);
    test_expect_close(p, want, 0.001, label);
    if (want_err > 0) {
        snprintf(label, sizeof label, "%s PPL error", what);
        test_expect_close(e, want_err, 0.01, label);
    }
    return p;
}

static json_t *read_json(const char *dir, const char *name)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    cr_assert_not_null(j, "%s: %s", path, err.text);
    return j;
}

/* The GGUF's string key, or "" when absent (static buffer). */
static const char *gguf_str(const struct gguf_file *g, const char *key)
{
    static char buf[8192];
    buf[0] = '\0';
    if (gguf_find_key(g, key) >= 0)
        cr_assert_eq(gguf_get_str(g, key, buf, sizeof buf), 0, "%s", ig_error_message());
    return buf;
}

static struct model_src *open_gguf(const char *dir, struct gguf_file **g)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/f32.gguf", dir);
    cr_assert_eq(gguf_open(g, path), 0, "%s", ig_error_message());
    struct model_src *src;
    cr_assert_eq(model_src_open(&src, path, NULL), 0, "%s", ig_error_message());
    return src;
}

/* ---- qwen3: Qwen3-0.6B's layout ------------------------------------------------------------------ */

static const char qwen3_chat_template[] =
    "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + "
    "'\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

/* synth's qwen3 (474 BPE tokens, then <|endoftext|>, <|im_start|>, <|im_end|>) plus four of Qwen3's
 * other added tokens, special as released (<|fim_prefix|> false but "<|...|>": llama.cpp types it
 * CONTROL; <tool_call>, <think>, </think> false: USER_DEFINED), 512 embedding rows as Qwen pads
 * 151669 tokens to 151936, tied, BF16 in two shards. */
static const char *make_qwen3(void)
{
    static char dir[4200];
    snprintf(dir, sizeof dir, "%s/Qwen3-tiny", test_tmp_dir());
    synth(dir, (const char *[]){"--arch", "qwen3", "--dim", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2",
                                "--head-dim", "32", "--ff", "128", NULL});
    json_t *tok = read_json(dir, "tokenizer.json");
    json_t *added = json_object_get(tok, "added_tokens");
    static const struct {
        const char *text;
        int special;
    } extra[] = {{"<|fim_prefix|>", 0}, {"<tool_call>", 0}, {"<think>", 0}, {"</think>", 0}};
    json_t *atd = json_object();
    for (size_t i = 0; i < json_array_size(added); i++) {
        json_t *a = json_array_get(added, i);
        char key[16];
        snprintf(key, sizeof key, "%lld", (long long)json_integer_value(json_object_get(a, "id")));
        json_object_set_new(atd, key, json_pack("{s:O,s:b,s:b,s:b,s:b,s:O}", "content", json_object_get(a, "content"),
                                                "lstrip", 0, "normalized", 0, "rstrip", 0, "single_word", 0,
                                                "special", json_object_get(a, "special")));
    }
    cr_assert_eq(json_array_size(added), 3);
    for (size_t i = 0; i < 4; i++) {
        char key[16];
        snprintf(key, sizeof key, "%zu", 477 + i);
        json_array_append_new(added, json_pack("{s:I,s:s,s:b,s:b,s:b,s:b,s:b}", "id", (json_int_t)(477 + i), "content",
                                               extra[i].text, "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized",
                                               0, "special", extra[i].special));
        json_object_set_new(atd, key, json_pack("{s:s,s:b,s:b,s:b,s:b,s:b}", "content", extra[i].text, "lstrip", 0,
                                                "normalized", 0, "rstrip", 0, "single_word", 0, "special",
                                                extra[i].special));
    }
    real_put_json(dir, "tokenizer.json", tok);
    real_rewrite_weights(dir, &(struct real_weights){.n_shards = 2, .drop_lm_head = true, .embed_rows = 512});
    real_put_json(dir, "config.json", real_json("{\"architectures\": [\"Qwen3ForCausalLM\"], \"attention_bias\": false, "
        "\"attention_dropout\": 0.0, \"bos_token_id\": 151643, \"eos_token_id\": 151645, \"head_dim\": 32, "
        "\"hidden_act\": \"silu\", \"hidden_size\": 64, \"initializer_range\": 0.02, \"intermediate_size\": 128, "
        "\"max_position_embeddings\": 40960, \"max_window_layers\": 28, \"model_type\": \"qwen3\", "
        "\"num_attention_heads\": 4, \"num_hidden_layers\": 2, \"num_key_value_heads\": 2, \"rms_norm_eps\": 1e-06, "
        "\"rope_scaling\": null, \"rope_theta\": 1000000, \"sliding_window\": null, \"tie_word_embeddings\": true, "
        "\"torch_dtype\": \"bfloat16\", \"transformers_version\": \"4.51.0\", \"use_cache\": true, "
        "\"use_sliding_window\": false, \"vocab_size\": 512}"));
    json_t *tc = json_pack("{s:b,s:b,s:o,s:[s,s],s:n,s:s,s:b,s:s,s:s,s:I,s:s,s:b,s:s,s:n}", "add_bos_token", 0,
                           "add_prefix_space", 0, "added_tokens_decoder", atd, "additional_special_tokens", "<|im_start|>",
                           "<|im_end|>", "bos_token", "chat_template", qwen3_chat_template,
                           "clean_up_tokenization_spaces", 0, "eos_token", "<|im_end|>", "errors", "replace",
                           "model_max_length", (json_int_t)131072, "pad_token", "<|endoftext|>", "split_special_tokens", 0,
                           "tokenizer_class", "Qwen2Tokenizer", "unk_token");
    cr_assert_not_null(tc);
    real_put_json(dir, "tokenizer_config.json", tc);
    real_put_json(dir, "generation_config.json", real_json("{\"bos_token_id\": 151643, \"do_sample\": true, "
        "\"eos_token_id\": [151645, 151643], \"pad_token_id\": 151643, \"temperature\": 0.6, \"top_k\": 20, "
        "\"top_p\": 0.95, \"transformers_version\": \"4.51.0\"}"));
    return dir;
}

Test(real_configs, qwen3_folder_converts_with_llama_cpps_tokenizer_metadata_and_ppl, .timeout = 240)
{
    const char *dir = make_qwen3();
    struct model_src *src;
    cr_assert_eq(model_src_open(&src, dir, NULL), 0, "%s", ig_error_message());
    cr_expect_str_eq(src->hp.arch, "qwen3");
    cr_expect_eq(src->hp.head_dim, 32, "head_dim 32 while hidden / heads is 16");
    cr_expect(src->hp.tie_embeddings);
    cr_expect_eq(src->hp.n_vocab, 512);
    cr_expect_eq(src->hp.sliding_window, 0, "sliding_window null");
    cr_expect_eq(src->hp.rope_scaling_type[0], '\0', "rope_scaling null");
    model_src_close(src);

    convert_f32(dir);
    struct gguf_file *g;
    struct model_src *gs = open_gguf(dir, &g);
    const struct vocab *v = &gs->vocab;
    cr_expect_str_eq(v->model, "gpt2");
    cr_expect_str_eq(v->pre, "qwen2");
    cr_assert_eq(v->n_tokens, 512, "tokenizer.ggml.tokens padded to vocab_size");
    /* llama.cpp's converter: added special -> CONTROL, "<|...|>" -> CONTROL, other added -> USER_DEFINED,
     * the rest up to vocab_size "[PAD<i>]" UNUSED */
    const struct {
        int id;
        const char *text;
        int type;
    } want[] = {{473, "mom", VOCAB_TOKEN_NORMAL},          {474, "<|endoftext|>", VOCAB_TOKEN_CONTROL},
                {476, "<|im_end|>", VOCAB_TOKEN_CONTROL},   {477, "<|fim_prefix|>", VOCAB_TOKEN_CONTROL},
                {478, "<tool_call>", VOCAB_TOKEN_USER_DEFINED}, {480, "</think>", VOCAB_TOKEN_USER_DEFINED},
                {481, "[PAD481]", VOCAB_TOKEN_UNUSED},      {511, "[PAD511]", VOCAB_TOKEN_UNUSED}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cr_expect_str_eq(v->tokens[want[i].id], want[i].text, "token %d", want[i].id);
        cr_expect_eq(v->types[want[i].id], want[i].type, "token %d '%s': type %d, llama.cpp %d", want[i].id,
                     v->tokens[want[i].id], v->types[want[i].id], want[i].type);
    }
    cr_expect_eq(v->eos_id, 476, "eos_token <|im_end|>");
    cr_expect_eq(v->pad_id, 474, "pad_token <|endoftext|>");
    cr_expect_eq(v->bos_id, -1, "bos_token null, config's 151643 is past the vocabulary");
    cr_expect_eq(v->add_bos, 0);
    cr_expect_str_eq(gguf_str(g, "tokenizer.chat_template"), qwen3_chat_template);
    cr_expect_eq(gs->hp.n_vocab, 512);
    model_src_close(gs);
    gguf_close(g);

    expect_llama_ppl(dir, "qwen3", PPL_QWEN3, PPL_QWEN3_ERR);
}

/* ---- gemma3: the 4B release's layout (Gemma3ForConditionalGeneration) --------------------------- */

static const char gemma_chat_template[] =
    "{{ bos_token }}{% for message in messages %}{{ '<start_of_turn>' + message['role'] + '\\n' + "
    "message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}";

/* gemma's tokenizer_config.json and special_tokens_map.json, over synth's pieces (<pad> 0, <eos> 1,
 * <bos> 2, <unk> 3, <mask> 4, <start_of_turn> 5, <end_of_turn> 6, as gemma orders them). */
static void gemma_tokenizer_files(const char *dir)
{
    json_t *tc = real_json("{\"add_bos_token\": true, \"add_eos_token\": false, \"added_tokens_decoder\": {"
        "\"0\": {\"content\": \"<pad>\", \"lstrip\": false, \"normalized\": false, \"rstrip\": false, \"single_word\": false, \"special\": true},"
        "\"1\": {\"content\": \"<eos>\", \"lstrip\": false, \"normalized\": false, \"rstrip\": false, \"single_word\": false, \"special\": true},"
        "\"2\": {\"content\": \"<bos>\", \"lstrip\": false, \"normalized\": false, \"rstrip\": false, \"single_word\": false, \"special\": true},"
        "\"3\": {\"content\": \"<unk>\", \"lstrip\": false, \"normalized\": false, \"rstrip\": false, \"single_word\": false, \"special\": true},"
        "\"4\": {\"content\": \"<mask>\", \"lstrip\": false, \"normalized\": false, \"rstrip\": false, \"single_word\": false, \"special\": false},"
        "\"5\": {\"content\": \"<start_of_turn>\", \"lstrip\": false, \"normalized\": false, \"rstrip\": false, \"single_word\": false, \"special\": true},"
        "\"6\": {\"content\": \"<end_of_turn>\", \"lstrip\": false, \"normalized\": false, \"rstrip\": false, \"single_word\": false, \"special\": true}},"
        "\"additional_special_tokens\": [\"<start_of_turn>\", \"<end_of_turn>\"], \"bos_token\": \"<bos>\", "
        "\"clean_up_tokenization_spaces\": false, \"eos_token\": \"<eos>\", \"model_max_length\": 7777777, "
        "\"pad_token\": \"<pad>\", \"sp_model_kwargs\": null, \"spaces_between_special_tokens\": false, "
        "\"tokenizer_class\": \"GemmaTokenizer\", \"unk_token\": \"<unk>\", \"use_default_system_prompt\": false}");
    json_object_set_new(tc, "chat_template", json_string(gemma_chat_template));
    real_put_json(dir, "tokenizer_config.json", tc);
    /* the released file's model_max_length is 1e30 written as an integer, which no int64 holds */
    char path[4300];
    size_t n;
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    char *text = (char *)test_read_file(path, &n), *at = strstr(text, "7777777");
    cr_assert_not_null(at);
    char *out = malloc(n + 64);
    int k = snprintf(out, n + 64, "%.*s1000000000000000019884624838656%s", (int)(at - text), text, at + 7);
    cr_assert_eq(test_write_file(path, out, (size_t)k), 0);
    free(out);
    free(text);
    real_put_json(dir, "special_tokens_map.json", real_json("{\"boi_token\": \"<start_of_image>\", "
        "\"bos_token\": {\"content\": \"<bos>\", \"lstrip\": false, \"normalized\": false, \"rstrip\": false, \"single_word\": false}, "
        "\"eoi_token\": \"<end_of_image>\", "
        "\"eos_token\": {\"content\": \"<eos>\", \"lstrip\": false, \"normalized\": false, \"rstrip\": false, \"single_word\": false}, "
        "\"image_token\": \"<image_soft_token>\", "
        "\"pad_token\": {\"content\": \"<pad>\", \"lstrip\": false, \"normalized\": false, \"rstrip\": false, \"single_word\": false}, "
        "\"unk_token\": {\"content\": \"<unk>\", \"lstrip\": false, \"normalized\": false, \"rstrip\": false, \"single_word\": false}}"));
    real_put_json(dir, "generation_config.json", real_json("{\"bos_token_id\": 2, \"cache_implementation\": \"hybrid\", "
        "\"do_sample\": true, \"eos_token_id\": [1, 106], \"pad_token_id\": 0, \"top_k\": 64, \"top_p\": 0.95, "
        "\"transformers_version\": \"4.50.0.dev0\"}"));
}

/* Append to tokenizer.model what released SentencePiece files carry beyond synth's pieces and specs:
 * self_test_data (field 4), denormalizer_spec (5), and a second trainer_spec (2) with string, float
 * and repeated fields, whose ids repeat synth's (protobuf merges a repeated message field by field). */
static void spm_add_real_fields(const char *dir)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/tokenizer.model", dir);
    size_t n;
    uint8_t *old = test_read_file(path, &n);
    cr_assert_not_null(old);
    static const uint8_t tail[] = {
        /* self_test_data { samples { input: "the cat" expected: "▁the ▁cat" } } */
        0x22, 0x15, 0x0a, 0x13, 0x0a, 0x07, 't', 'h', 'e', ' ', 'c', 'a', 't', 0x12, 0x08, 0xe2, 0x96, 0x81, 't', 'h',
        'e', ' ', 'c',
        /* denormalizer_spec { name: "identity" precompiled_charsmap: 4 bytes add_dummy_prefix: false } */
        0x2a, 0x12, 0x0a, 0x08, 'i', 'd', 'e', 'n', 't', 'i', 't', 'y', 0x12, 0x04, 0x01, 0x02, 0x03, 0x04, 0x18, 0x00,
        /* trainer_spec { input: "c.txt" character_coverage: 1.0f user_defined_symbols: "<mask>"
         *                unk_id: 3 bos_id: 2 eos_id: 1 pad_id: 0 unk_surface: "<unk>" } */
        0x12, 0x29, 0x0a, 0x05, 'c', '.', 't', 'x', 't', 0x55, 0x00, 0x00, 0x80, 0x3f, 0xf2, 0x01, 0x06, '<', 'm', 'a',
        's', 'k', '>', 0xc0, 0x02, 0x03, 0xc8, 0x02, 0x02, 0xd0, 0x02, 0x01, 0xd8, 0x02, 0x00, 0xe2, 0x02, 0x05, '<',
        'u', 'n', 'k', '>'};
    uint8_t *buf = malloc(n + sizeof tail);
    memcpy(buf, old, n);
    memcpy(buf + n, tail, sizeof tail);
    cr_assert_eq(test_write_file(path, buf, n + sizeof tail), 0);
    free(buf);
    free(old);
}

/* synth's gemma3 with n_layer blocks as the 4B release lays it out: model_type gemma3, the language
 * model's keys under text_config (those equal to Gemma3TextConfig's defaults left out, vocab_size
 * among them: 262208, cut to the tokenizer), layer_types, rope_scaling linear 8 (global blocks
 * only), tensors under language_model., a vision tower beside them. */
static const char *make_gemma3_mm(int n_layer, const char *layer_types_json)
{
    static char dir[4200];
    char layers[8];
    snprintf(dir, sizeof dir, "%s/gemma-3-tiny-it", test_tmp_dir());
    snprintf(layers, sizeof layers, "%d", n_layer);
    synth(dir, (const char *[]){"--arch", "gemma3", "--dim", "64", "--layers", layers, "--heads", "4", "--kv-heads",
                                "1", "--head-dim", "32", "--ff", "128", NULL});
    spm_add_real_fields(dir);
    real_rewrite_weights(dir, &(struct real_weights){.n_shards = 2, .prefix = "language_model.", .vision = true});
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "{\"architectures\": [\"Gemma3ForConditionalGeneration\"], \"boi_token_index\": 255999, "
             "\"eoi_token_index\": 256000, \"eos_token_id\": [1, 106], \"image_token_index\": 262144, "
             "\"initializer_range\": 0.02, \"mm_tokens_per_image\": 256, \"model_type\": \"gemma3\", "
             "\"text_config\": {\"_sliding_window_pattern\": 6, \"attn_logit_softcapping\": null, "
             "\"final_logit_softcapping\": null, \"head_dim\": 32, \"hidden_activation\": \"gelu_pytorch_tanh\", "
             "\"hidden_size\": 64, \"intermediate_size\": 128, \"layer_types\": %s, \"model_type\": \"gemma3_text\", "
             "\"num_attention_heads\": 4, \"num_hidden_layers\": %d, \"num_key_value_heads\": 1, "
             "\"query_pre_attn_scalar\": 32, \"rope_local_base_freq\": 10000, \"rope_scaling\": {\"factor\": 8.0, "
             "\"rope_type\": \"linear\"}, \"rope_theta\": 1000000, \"sliding_window\": 16, \"torch_dtype\": \"bfloat16\", "
             "\"use_cache\": true}, \"torch_dtype\": \"bfloat16\", \"transformers_version\": \"4.50.0.dev0\", "
             "\"vision_config\": {\"hidden_size\": 1152, \"image_size\": 896, \"intermediate_size\": 4304, "
             "\"model_type\": \"siglip_vision_model\", \"num_attention_heads\": 16, \"num_hidden_layers\": 27, "
             "\"patch_size\": 14, \"vision_use_head\": false}}",
             layer_types_json, n_layer);
    real_put_json(dir, "config.json", real_json(cfg));
    gemma_tokenizer_files(dir);
    return dir;
}

static const char six_layer_types[] = "[\"sliding_attention\", \"sliding_attention\", \"sliding_attention\", "
                                      "\"sliding_attention\", \"sliding_attention\", \"full_attention\"]";

Test(real_configs, gemma3_multimodal_folder_converts_its_language_model, .timeout = 240)
{
    const char *dir = make_gemma3_mm(6, six_layer_types);
    struct model_src *src;
    cr_assert_eq(model_src_open(&src, dir, NULL), 0, "%s", ig_error_message());
    cr_expect_str_eq(src->hp.arch, "gemma3");
    cr_expect_eq(src->hp.swa_pattern, 6, "layer_types: every 6th block full");
    cr_expect_eq(src->hp.sliding_window, 16);
    cr_expect_str_eq(src->hp.rope_scaling_type, "linear");
    cr_expect_float_eq(src->hp.rope_scaling_factor, 8.0f, 1e-6);
    cr_expect_float_eq(src->hp.rope_theta_swa, 10000.0f, 1e-3);
    cr_expect_float_eq(src->hp.query_scale, 1.0f / sqrtf(32.0f), 1e-7);
    cr_expect_eq(src->hp.final_softcap, 0.0f, "final_logit_softcapping null");
    cr_expect_eq(src->hp.n_vocab, src->vocab.n_tokens, "262208 rows by default, cut to the tokenizer");
    model_src_close(src);

    const char *err = convert_f32(dir);
    cr_expect(strstr(err, "note: left out 2 vision tower / projector tensors"), "convert says so: %s", err);
    struct gguf_file *g;
    struct model_src *gs = open_gguf(dir, &g);
    const struct vocab *v = &gs->vocab;
    cr_expect_str_eq(v->model, "llama");
    cr_expect_str_eq(v->pre, "default", "_set_vocab_sentencepiece writes pre \"default\"");
    /* sentencepiece's types, then added_tokens_decoder: every special entry CONTROL (<unk> too: the
     * converter's rule has no exception for it), <mask> because it looks special */
    const int want[8] = {VOCAB_TOKEN_CONTROL, VOCAB_TOKEN_CONTROL, VOCAB_TOKEN_CONTROL, VOCAB_TOKEN_CONTROL,
                         VOCAB_TOKEN_CONTROL, VOCAB_TOKEN_CONTROL, VOCAB_TOKEN_CONTROL, VOCAB_TOKEN_BYTE};
    for (int i = 0; i < 8; i++)
        cr_expect_eq(v->types[i], want[i], "token %d '%s': type %d, llama.cpp %d", i, v->tokens[i], v->types[i], want[i]);
    cr_expect_float_eq(v->scores[5], -1000.0f, 1e-3, "added_tokens_decoder entries score -1000");
    cr_expect_eq(v->bos_id, 2);
    cr_expect_eq(v->eos_id, 1);
    cr_expect_eq(v->add_bos, 1);
    cr_expect_eq(v->add_space_prefix, 0);
    cr_expect_str_eq(gguf_str(g, "tokenizer.chat_template"), gemma_chat_template);
    cr_expect_str_eq(gguf_str(g, "gemma3.rope.scaling.type"), "linear");
    cr_expect_lt(gguf_find_key(g, "gemma3.attention.sliding_window_pattern"), 0, "period 6 is llama.cpp's own");
    cr_expect_eq(gguf_n_tensors(g), 1 + 1 + 6 * 13, "token_embd, output_norm, 13 per block; no vision tensor");
    cr_expect_eq(gs->hp.swa_pattern, 6);
    model_src_close(gs);
    gguf_close(g);

    expect_llama_ppl(dir, "gemma3", PPL_GEMMA3, PPL_GEMMA3_ERR);
}

/* gemma-3-1b-it's layout (model_type gemma3_text, the keys at the top, layer_types beside both pattern
 * keys, "dtype" for torch_dtype) with a vocab_size above the tokenizer's pieces: stated, it is kept, and
 * the vocabulary padded with "[PAD<i>]" to it, as llama.cpp's converter pads it. */
Test(real_configs, gemma3_1b_layout_pads_a_stated_vocab_size, .timeout = 240)
{
    static char dir[4200];
    snprintf(dir, sizeof dir, "%s/gemma-3-1b-tiny", test_tmp_dir());
    synth(dir, (const char *[]){"--arch", "gemma3", "--dim", "64", "--layers", "2", "--heads", "4", "--kv-heads", "1",
                                "--head-dim", "32", "--ff", "128", NULL});
    spm_add_real_fields(dir);
    real_rewrite_weights(dir, &(struct real_weights){.n_shards = 1, .embed_rows = 512});
    real_put_json(dir, "config.json", real_json("{\"_sliding_window_pattern\": 6, \"architectures\": [\"Gemma3ForCausalLM\"], "
        "\"attention_bias\": false, \"attention_dropout\": 0.0, \"attn_logit_softcapping\": null, \"bos_token_id\": 2, "
        "\"cache_implementation\": \"hybrid\", \"dtype\": \"bfloat16\", \"eos_token_id\": [1, 106], "
        "\"final_logit_softcapping\": null, \"head_dim\": 32, \"hidden_activation\": \"gelu_pytorch_tanh\", "
        "\"hidden_size\": 64, \"initializer_range\": 0.02, \"intermediate_size\": 128, \"layer_types\": "
        "[\"sliding_attention\", \"sliding_attention\"], \"max_position_embeddings\": 32768, \"model_type\": "
        "\"gemma3_text\", \"num_attention_heads\": 4, \"num_hidden_layers\": 2, \"num_key_value_heads\": 1, "
        "\"pad_token_id\": 0, \"query_pre_attn_scalar\": 32, \"rms_norm_eps\": 1e-06, \"rope_local_base_freq\": 10000, "
        "\"rope_scaling\": null, \"rope_theta\": 1000000, \"sliding_window\": 16, \"sliding_window_pattern\": 6, "
        "\"transformers_version\": \"4.55.0.dev0\", \"use_bidirectional_attention\": false, \"use_cache\": true, "
        "\"vocab_size\": 512}"));
    gemma_tokenizer_files(dir);
    convert_f32(dir);
    struct gguf_file *g;
    struct model_src *gs = open_gguf(dir, &g);
    cr_expect_eq(gs->vocab.n_tokens, 512);
    cr_expect_str_eq(gs->vocab.tokens[511], "[PAD511]");
    cr_expect_eq(gs->vocab.types[511], VOCAB_TOKEN_UNUSED);
    cr_expect_float_eq(gs->vocab.scores[511], -10000.0f, 1e-3);
    cr_expect_eq(gs->hp.swa_pattern, 6, "two sliding blocks: llama.cpp's period 6 slides both");
    cr_expect_lt(gguf_find_key(g, "gemma3.attention.sliding_window_pattern"), 0);
    model_src_close(gs);
    gguf_close(g);
    expect_llama_ppl(dir, "gemma3 1B-layout", PPL_GEMMA3_1B, 0);
}

/* A layer_types period other than llama.cpp's 6: the file says so in
 * gemma3.attention.sliding_window_pattern, which llama.cpp's loader reads, and ingot reads back. */
Test(real_configs, gemma3_layer_types_with_another_period_reach_llama_cpp, .timeout = 240)
{
    const char *dir = make_gemma3_mm(2, "[\"sliding_attention\", \"full_attention\"]");
    convert_f32(dir);
    struct gguf_file *g;
    struct model_src *gs = open_gguf(dir, &g);
    int64_t k = gguf_find_key(g, "gemma3.attention.sliding_window_pattern");
    cr_assert_geq(k, 0, "the key is written");
    cr_expect_eq(gguf_kv_at(g, k)->type, GGUF_VALUE_UINT32);
    cr_expect_eq(gs->hp.swa_pattern, 2, "and read back");
    model_src_close(gs);
    gguf_close(g);
    double p = expect_llama_ppl(dir, "gemma3 period-2", PPL_GEMMA3_P2, 0);
    /* the period's effect is small here (0.004%): the exact figures tell them apart */
    cr_expect_lt(fabs(p - PPL_GEMMA3_P2), fabs(p - PPL_GEMMA3_P2_AS_6), "%.10g is nearer period 6's %.10g than "
                 "llama.cpp's %.10g", p, PPL_GEMMA3_P2_AS_6, PPL_GEMMA3_P2);
}

/* ---- phi3: Phi-3-mini-4k-instruct's layout -------------------------------------------------------- */

static const char phi3_chat_template[] =
    "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + "
    "'<|end|>\n'}}{% endif %}{% endfor %}";

/* Phi-3-mini ships Llama 2's tokenizer.model (32000 pieces: the shared data's copy), its chat tokens
 * 32000..32010 in added_tokens.json, tokenizer.json's added_tokens and tokenizer_config.json's
 * added_tokens_decoder, and 32064 embedding rows. NULL when the shared data is missing. */
static const char *make_phi3(void)
{
    static char dir[4200];
    const char *spm = test_shared_path("llama2-tokenizer/tokenizer.model");
    if (!spm)
        return NULL;
    snprintf(dir, sizeof dir, "%s/Phi-3-mini-tiny", test_tmp_dir());
    synth(dir, (const char *[]){"--arch", "phi3", "--dim", "64", "--layers", "2", "--heads", "4", "--kv-heads", "4", "--ff",
                                "128", "--vocab", "32064", NULL});
    size_t n;
    uint8_t *model = test_read_file(spm, &n);
    char path[4300];
    snprintf(path, sizeof path, "%s/tokenizer.model", dir);
    cr_assert_eq(test_write_file(path, model, n), 0);
    free(model);
    static const char *const names[11] = {"<|endoftext|>", "<|assistant|>", "<|placeholder1|>", "<|placeholder2|>",
                                          "<|placeholder3|>", "<|placeholder4|>", "<|system|>", "<|end|>",
                                          "<|placeholder5|>", "<|placeholder6|>", "<|user|>"};
    json_t *tok = read_json(dir, "tokenizer.json"), *added = json_array(), *atj = json_object(), *atd = json_object();
    static const char *const first[3] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 14; i++) {
        const int id = i < 3 ? i : 32000 + i - 3;
        const char *text = i < 3 ? first[i] : names[i - 3];
        char key[16];
        snprintf(key, sizeof key, "%d", id);
        json_array_append_new(added, json_pack("{s:i,s:s,s:b,s:b,s:b,s:b,s:b}", "id", id, "content", text, "single_word", 0,
                                               "lstrip", 0, "rstrip", i > 3, "normalized", 0, "special", 1));
        json_object_set_new(atd, key, json_pack("{s:s,s:b,s:b,s:b,s:b,s:b}", "content", text, "lstrip", 0, "normalized", 0,
                                                "rstrip", i > 3, "single_word", 0, "special", 1));
        if (i >= 3)
            json_object_set_new(atj, text, json_integer(id));
    }
    json_object_set_new(tok, "added_tokens", added);
    real_put_json(dir, "tokenizer.json", tok);
    real_put_json(dir, "added_tokens.json", atj);
    json_t *tc = json_pack("{s:b,s:b,s:o,s:s,s:s,s:b,s:s,s:b,s:i,s:s,s:s,s:{},s:s,s:s,s:b}", "add_bos_token", 0,
                           "add_eos_token", 0, "added_tokens_decoder", atd, "bos_token", "<s>", "chat_template",
                           phi3_chat_template, "clean_up_tokenization_spaces", 0, "eos_token", "<|endoftext|>", "legacy", 0,
                           "model_max_length", 4096, "pad_token", "<|endoftext|>", "padding_side", "left",
                           "sp_model_kwargs", "tokenizer_class", "LlamaTokenizer", "unk_token", "<unk>",
                           "use_default_system_prompt", 0);
    cr_assert_not_null(tc);
    real_put_json(dir, "tokenizer_config.json", tc);
    real_put_json(dir, "special_tokens_map.json", real_json("{\"bos_token\": {\"content\": \"<s>\", \"lstrip\": false, "
        "\"normalized\": false, \"rstrip\": false, \"single_word\": false}, \"eos_token\": {\"content\": \"<|endoftext|>\", "
        "\"lstrip\": false, \"normalized\": false, \"rstrip\": false, \"single_word\": false}, \"pad_token\": {\"content\": "
        "\"<|endoftext|>\", \"lstrip\": false, \"normalized\": false, \"rstrip\": false, \"single_word\": false}, "
        "\"unk_token\": {\"content\": \"<unk>\", \"lstrip\": false, \"normalized\": false, \"rstrip\": false, "
        "\"single_word\": false}}"));
    real_put_json(dir, "generation_config.json", real_json("{\"_from_model_config\": true, \"bos_token_id\": 1, "
        "\"eos_token_id\": [32000, 32001, 32007], \"pad_token_id\": 32000, \"transformers_version\": \"4.40.2\"}"));
    real_put_json(dir, "config.json", real_json("{\"_name_or_path\": \"Phi-3-mini-4k-instruct\", \"architectures\": "
        "[\"Phi3ForCausalLM\"], \"attention_dropout\": 0.0, \"auto_map\": {\"AutoConfig\": \"configuration_phi3.Phi3Config\", "
        "\"AutoModelForCausalLM\": \"modeling_phi3.Phi3ForCausalLM\"}, \"bos_token_id\": 1, \"embd_pdrop\": 0.0, "
        "\"eos_token_id\": 32000, \"hidden_act\": \"silu\", \"hidden_size\": 64, \"initializer_range\": 0.02, "
        "\"intermediate_size\": 128, \"max_position_embeddings\": 4096, \"model_type\": \"phi3\", \"num_attention_heads\": 4, "
        "\"num_hidden_layers\": 2, \"num_key_value_heads\": 4, \"original_max_position_embeddings\": 4096, "
        "\"pad_token_id\": 32000, \"resid_pdrop\": 0.0, \"rms_norm_eps\": 1e-05, \"rope_scaling\": null, "
        "\"rope_theta\": 10000.0, \"sliding_window\": 2047, \"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\", "
        "\"transformers_version\": \"4.40.2\", \"use_cache\": true, \"attention_bias\": false, \"vocab_size\": 32064}"));
    real_rewrite_weights(dir, &(struct real_weights){.n_shards = 2});
    return dir;
}

Test(real_configs, phi3_mini_folder_with_llama2_tokenizer_model_and_added_tokens, .timeout = 300)
{
    const char *dir = make_phi3();
    if (!dir)
        cr_skip_test("shared data llama2-tokenizer/tokenizer.model is missing");
    convert_f32(dir);
    struct gguf_file *g;
    struct model_src *gs = open_gguf(dir, &g);
    const struct vocab *v = &gs->vocab;
    cr_assert_eq(v->n_tokens, 32064);
    cr_expect_str_eq(v->model, "llama");
    cr_expect_str_eq(v->pre, "default");
    /* sentencepiece's pieces (the real file: trainer_spec, normalizer_spec with its charsmap, byte
     * pieces), then the added tokens over them and over the padding */
    cr_expect_str_eq(v->tokens[3], "<0x00>");
    cr_expect_eq(v->types[3], VOCAB_TOKEN_BYTE);
    cr_expect_eq(v->types[0], VOCAB_TOKEN_CONTROL, "<unk>: special in added_tokens_decoder");
    cr_expect_str_eq(v->tokens[32007], "<|end|>");
    cr_expect_eq(v->types[32007], VOCAB_TOKEN_CONTROL);
    cr_expect_float_eq(v->scores[32007], -1000.0f, 1e-3);
    cr_expect_str_eq(v->tokens[32011], "[PAD32011]");
    cr_expect_eq(v->types[32011], VOCAB_TOKEN_UNUSED);
    cr_expect_float_eq(v->scores[32011], -10000.0f, 1e-3, "the converter's padding score");
    cr_expect_eq(v->bos_id, 1);
    cr_expect_eq(v->eos_id, 32000, "eos_token <|endoftext|>");
    cr_expect_eq(v->pad_id, 32000);
    cr_expect_eq(v->unk_id, 0);
    cr_expect_eq(v->add_bos, 0);
    cr_expect_eq(v->add_space_prefix, 1, "Llama 2's normalizer adds a dummy prefix");
    cr_expect_str_eq(gguf_str(g, "tokenizer.chat_template"), phi3_chat_template);
    model_src_close(gs);
    gguf_close(g);
    expect_llama_ppl(dir, "phi3", PPL_PHI3, PPL_PHI3_ERR);
}

/* ---- mixtral: three shards that split a block's experts -------------------------------------------- */

Test(real_configs, mixtral_folder_in_three_bf16_shards, .timeout = 240)
{
    static char dir[4200];
    snprintf(dir, sizeof dir, "%s/Mixtral-tiny", test_tmp_dir());
    synth(dir, (const char *[]){"--arch", "mixtral", "--dim", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ff",
                                "128", NULL});
    json_t *old = read_json(dir, "config.json");
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\"architectures\": [\"MixtralForCausalLM\"], \"attention_dropout\": 0.0, \"bos_token_id\": 1, "
             "\"eos_token_id\": 2, \"hidden_act\": \"silu\", \"hidden_size\": 64, \"initializer_range\": 0.02, "
             "\"intermediate_size\": 128, \"max_position_embeddings\": 32768, \"model_type\": \"mixtral\", "
             "\"num_attention_heads\": 4, \"num_experts_per_tok\": 2, \"num_hidden_layers\": 2, \"num_key_value_heads\": 2, "
             "\"num_local_experts\": 4, \"output_router_logits\": false, \"rms_norm_eps\": 1e-05, \"rope_theta\": 1000000.0, "
             "\"router_aux_loss_coef\": 0.02, \"router_jitter_noise\": 0.0, \"sliding_window\": null, "
             "\"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\", \"transformers_version\": \"4.36.0.dev0\", "
             "\"use_cache\": true, \"vocab_size\": %lld}",
             (long long)json_integer_value(json_object_get(old, "vocab_size")));
    json_decref(old);
    real_put_json(dir, "config.json", real_json(cfg));
    real_put_json(dir, "generation_config.json", real_json("{\"_from_model_config\": true, \"bos_token_id\": 1, "
                                                           "\"eos_token_id\": 2, \"transformers_version\": \"4.36.0.dev0\"}"));
    real_rewrite_weights(dir, &(struct real_weights){.n_shards = 3});
    convert_f32(dir);
    struct gguf_file *g;
    struct model_src *gs = open_gguf(dir, &g);
    cr_expect_eq(gs->hp.n_expert, 4);
    cr_expect_eq(gs->hp.n_expert_used, 2);
    const struct src_tensor *t = model_src_find(gs, "blk.1.ffn_gate_exps.weight");
    cr_assert_not_null(t, "the experts are stacked across the shards");
    cr_expect_eq(t->ne[2], 4);
    model_src_close(gs);
    gguf_close(g);
    expect_llama_ppl(dir, "mixtral", PPL_MIXTRAL, PPL_MIXTRAL_ERR);
}

/* ---- gemma2: gemma-2-2b's keys, a tokenizer.model longer than the embedding --------------------------- */

/* Test checkpoints cut the embedding below the tokenizer's size: llama.cpp's converter keeps the first
 * vocab_size pieces, and so does ingot, saying so. */
Test(real_configs, gemma2_folder_with_more_pieces_than_embedding_rows, .timeout = 240)
{
    static char dir[4200];
    snprintf(dir, sizeof dir, "%s/gemma-2-tiny", test_tmp_dir());
    synth(dir, (const char *[]){"--arch", "gemma2", "--dim", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2",
                                "--head-dim", "32", "--ff", "128", NULL});
    real_rewrite_weights(dir, &(struct real_weights){.n_shards = 2, .embed_rows = 500});
    real_put_json(dir, "config.json", real_json("{\"architectures\": [\"Gemma2ForCausalLM\"], \"attention_bias\": false, "
        "\"attention_dropout\": 0.0, \"attn_logit_softcapping\": 50.0, \"bos_token_id\": 2, \"cache_implementation\": "
        "\"hybrid\", \"eos_token_id\": 1, \"final_logit_softcapping\": 30.0, \"head_dim\": 32, \"hidden_act\": "
        "\"gelu_pytorch_tanh\", \"hidden_activation\": \"gelu_pytorch_tanh\", \"hidden_size\": 64, "
        "\"initializer_range\": 0.02, \"intermediate_size\": 128, \"max_position_embeddings\": 8192, "
        "\"model_type\": \"gemma2\", \"num_attention_heads\": 4, \"num_hidden_layers\": 2, \"num_key_value_heads\": 2, "
        "\"pad_token_id\": 0, \"query_pre_attn_scalar\": 32, \"rms_norm_eps\": 1e-06, \"rope_theta\": 10000.0, "
        "\"sliding_window\": 16, \"torch_dtype\": \"float32\", \"transformers_version\": \"4.42.4\", "
        "\"use_cache\": true, \"vocab_size\": 500}"));
    gemma_tokenizer_files(dir);
    const char *err = convert_f32(dir);
    cr_expect(strstr(err, "note: tokenizer.model has 11 pieces more than config.json's vocab_size 500"), "%s", err);
    struct gguf_file *g;
    struct model_src *gs = open_gguf(dir, &g);
    cr_expect_eq(gs->vocab.n_tokens, 500);
    cr_expect_eq(gs->hp.swa_pattern, 2);
    cr_expect_lt(gguf_find_key(g, "gemma2.attention.sliding_window_pattern"), 0);
    model_src_close(gs);
    gguf_close(g);
    expect_llama_ppl(dir, "gemma2", PPL_GEMMA2_CUT, PPL_GEMMA2_CUT_ERR);
}

/* ---- config-only checks ------------------------------------------------------------------------- */

static int parse(struct model_hparams *hp, const char *json)
{
    return hf_config_parse(hp, json, "config.json");
}

Test(real_configs, gemma3_layer_types_that_do_not_repeat_are_refused)
{
    struct model_hparams hp;
    const char *cfg = "{\"model_type\": \"gemma3_text\", \"hidden_size\": 64, \"intermediate_size\": 128, "
                      "\"num_hidden_layers\": 4, \"num_attention_heads\": 4, \"num_key_value_heads\": 1, \"head_dim\": 32, "
                      "\"vocab_size\": 512, \"sliding_window\": 16, \"layer_types\": [\"sliding_attention\", "
                      "\"full_attention\", \"full_attention\", \"sliding_attention\"]}";
    cr_expect_eq(parse(&hp, cfg), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "key 'layer_types': block 2 is full_attention"), "%s", ig_error_message());
    const char *bad = "{\"model_type\": \"gemma3_text\", \"hidden_size\": 64, \"intermediate_size\": 128, "
                      "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"head_dim\": 32, \"vocab_size\": 512, "
                      "\"layer_types\": [\"sliding_attention\", \"chunked_attention\"]}";
    cr_expect_eq(parse(&hp, bad), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "entry 1 is not"), "%s", ig_error_message());
}

/* google/gemma-2-2b's config.json (newer exports add layer_types, alternating from sliding). */
Test(real_configs, gemma2_2b_config_and_its_query_scale_note)
{
    struct model_hparams hp;
    const char *cfg = "{\"architectures\": [\"Gemma2ForCausalLM\"], \"attention_bias\": false, \"attention_dropout\": 0.0, "
        "\"attn_logit_softcapping\": 50.0, \"bos_token_id\": 2, \"cache_implementation\": \"hybrid\", \"eos_token_id\": 1, "
        "\"final_logit_softcapping\": 30.0, \"head_dim\": 256, \"hidden_act\": \"gelu_pytorch_tanh\", "
        "\"hidden_activation\": \"gelu_pytorch_tanh\", \"hidden_size\": 2304, \"initializer_range\": 0.02, "
        "\"intermediate_size\": 9216, \"max_position_embeddings\": 8192, \"model_type\": \"gemma2\", "
        "\"num_attention_heads\": 8, \"num_hidden_layers\": 26, \"num_key_value_heads\": 4, \"pad_token_id\": 0, "
        "\"query_pre_attn_scalar\": 256, \"rms_norm_eps\": 1e-06, \"rope_theta\": 10000.0, \"sliding_window\": 4096, "
        "\"torch_dtype\": \"float32\", \"transformers_version\": \"4.42.4\", \"use_cache\": true, \"vocab_size\": 256000}";
    cr_assert_eq(parse(&hp, cfg), 0, "%s", ig_error_message());
    cr_expect_str_eq(hp.arch, "gemma2");
    cr_expect_eq(hp.swa_pattern, 2);
    cr_expect_eq(hp.sliding_window, 4096);
    cr_expect_float_eq(hp.attn_softcap, 50.0f, 1e-6);
    cr_expect_float_eq(hp.final_softcap, 30.0f, 1e-6);
    char notes[1024];
    cr_expect_str_eq(gemma_convert_notes(&hp, notes, sizeof notes), "", "256 = head_dim: llama.cpp derives the same");
    /* the 27B's query_pre_attn_scalar is hidden / heads (144), which llama.cpp derives only for its 46-block
     * shape: a shrunk copy gets the note */
    char shrunk[2048];
    snprintf(shrunk, sizeof shrunk, "%.*s\"query_pre_attn_scalar\": 144%s", (int)(strstr(cfg, "\"query_pre_attn_scalar\"") - cfg),
             cfg, strstr(cfg, ", \"rms_norm_eps\""));
    cr_assert_eq(parse(&hp, shrunk), 0, "%s", ig_error_message());
    gemma_convert_notes(&hp, notes, sizeof notes);
    cr_expect(strstr(notes, "query_pre_attn_scalar 144 differs from the 256 llama.cpp derives"), "%s", notes);
    /* layer_types alternating from a sliding block is gemma2's own layout: no key needed */
    char typed[2400];
    snprintf(typed, sizeof typed, "%.*s, \"layer_types\": [%s\"sliding_attention\", \"full_attention\"]}",
             (int)(strlen(cfg) - 1), cfg,
             "\"sliding_attention\", \"full_attention\", \"sliding_attention\", \"full_attention\", \"sliding_attention\", "
             "\"full_attention\", \"sliding_attention\", \"full_attention\", \"sliding_attention\", \"full_attention\", "
             "\"sliding_attention\", \"full_attention\", \"sliding_attention\", \"full_attention\", \"sliding_attention\", "
             "\"full_attention\", \"sliding_attention\", \"full_attention\", \"sliding_attention\", \"full_attention\", "
             "\"sliding_attention\", \"full_attention\", \"sliding_attention\", \"full_attention\", ");
    cr_assert_eq(parse(&hp, typed), 0, "%s", ig_error_message());
    cr_expect_eq(hp.swa_pattern, 2);
}

/* google/gemma-3-1b-it as transformers >= 4.53 saves it: layer_types beside both pattern keys, "dtype". */
Test(real_configs, gemma3_1b_config_with_layer_types)
{
    struct model_hparams hp;
    char lt[4096] = "[";
    for (int l = 0; l < 26; l++)
        strcat(lt, (l + 1) % 6 == 0 ? "\"full_attention\"," : "\"sliding_attention\",");
    lt[strlen(lt) - 1] = ']';
    char cfg[8192];
    snprintf(cfg, sizeof cfg,
             "{\"_sliding_window_pattern\": 6, \"architectures\": [\"Gemma3ForCausalLM\"], \"attention_bias\": false, "
             "\"attention_dropout\": 0.0, \"attn_logit_softcapping\": null, \"bos_token_id\": 2, "
             "\"cache_implementation\": \"hybrid\", \"dtype\": \"bfloat16\", \"eos_token_id\": [1, 106], "
             "\"final_logit_softcapping\": null, \"head_dim\": 256, \"hidden_activation\": \"gelu_pytorch_tanh\", "
             "\"hidden_size\": 1152, \"initializer_range\": 0.02, \"intermediate_size\": 6912, \"layer_types\": %s, "
             "\"max_position_embeddings\": 32768, \"model_type\": \"gemma3_text\", \"num_attention_heads\": 4, "
             "\"num_hidden_layers\": 26, \"num_key_value_heads\": 1, \"pad_token_id\": 0, \"query_pre_attn_scalar\": 256, "
             "\"rms_norm_eps\": 1e-06, \"rope_local_base_freq\": 10000, \"rope_scaling\": null, \"rope_theta\": 1000000, "
             "\"sliding_window\": 512, \"sliding_window_pattern\": 6, \"transformers_version\": \"4.55.0.dev0\", "
             "\"use_bidirectional_attention\": false, \"use_cache\": true, \"vocab_size\": 262144}",
             lt);
    cr_assert_eq(parse(&hp, cfg), 0, "%s", ig_error_message());
    cr_expect_str_eq(hp.arch, "gemma3");
    cr_expect_eq(hp.swa_pattern, 6);
    cr_expect_eq(hp.sliding_window, 512);
    cr_expect_eq(hp.n_vocab, 262144);
    cr_expect_float_eq(hp.query_scale, 1.0f / 16.0f, 1e-7);
}

/* microsoft/Phi-3-mini-4k-instruct and mistralai/Mixtral-8x7B-v0.1 as released. */
Test(real_configs, phi3_mini_and_mixtral_configs_parse)
{
    struct model_hparams hp;
    const char *phi3 = "{\"_name_or_path\": \"Phi-3-mini-4k-instruct\", \"architectures\": [\"Phi3ForCausalLM\"], "
        "\"attention_dropout\": 0.0, \"auto_map\": {\"AutoConfig\": \"configuration_phi3.Phi3Config\", "
        "\"AutoModelForCausalLM\": \"modeling_phi3.Phi3ForCausalLM\"}, \"bos_token_id\": 1, \"embd_pdrop\": 0.0, "
        "\"eos_token_id\": 32000, \"hidden_act\": \"silu\", \"hidden_size\": 3072, \"initializer_range\": 0.02, "
        "\"intermediate_size\": 8192, \"max_position_embeddings\": 4096, \"model_type\": \"phi3\", "
        "\"num_attention_heads\": 32, \"num_hidden_layers\": 32, \"num_key_value_heads\": 32, "
        "\"original_max_position_embeddings\": 4096, \"pad_token_id\": 32000, \"resid_pdrop\": 0.0, "
        "\"rms_norm_eps\": 1e-05, \"rope_scaling\": null, \"rope_theta\": 10000.0, \"sliding_window\": 2047, "
        "\"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\", \"transformers_version\": \"4.40.2\", "
        "\"use_cache\": true, \"attention_bias\": false, \"vocab_size\": 32064}";
    cr_assert_eq(parse(&hp, phi3), 0, "%s", ig_error_message());
    cr_expect_str_eq(hp.arch, "phi3");
    cr_expect_eq(hp.n_vocab, 32064);
    cr_expect_eq(hp.sliding_window, 2047);
    const char *mixtral = "{\"architectures\": [\"MixtralForCausalLM\"], \"attention_dropout\": 0.0, \"bos_token_id\": 1, "
        "\"eos_token_id\": 2, \"hidden_act\": \"silu\", \"hidden_size\": 4096, \"initializer_range\": 0.02, "
        "\"intermediate_size\": 14336, \"max_position_embeddings\": 32768, \"model_type\": \"mixtral\", "
        "\"num_attention_heads\": 32, \"num_experts_per_tok\": 2, \"num_hidden_layers\": 32, \"num_key_value_heads\": 8, "
        "\"num_local_experts\": 8, \"output_router_logits\": false, \"rms_norm_eps\": 1e-05, \"rope_theta\": 1000000.0, "
        "\"router_aux_loss_coef\": 0.02, \"sliding_window\": null, \"tie_word_embeddings\": false, "
        "\"torch_dtype\": \"bfloat16\", \"transformers_version\": \"4.36.0.dev0\", \"use_cache\": true, \"vocab_size\": 32000}";
    cr_assert_eq(parse(&hp, mixtral), 0, "%s", ig_error_message());
    cr_expect_str_eq(hp.arch, "llama");
    cr_expect_eq(hp.n_expert, 8);
    cr_expect_eq(hp.n_expert_used, 2);
}
