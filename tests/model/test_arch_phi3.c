/* test_arch_phi3.c — phi3 end to end against llama.cpp: `ingot synth --arch phi3`, the fused
 * qkv_proj and gate_up_proj kept fused as llama.cpp keeps them (attn_qkv [n_embd, q + 2·kv],
 * ffn_up [n_embd, 2·n_ff], gate first), the forward pass splitting them, GGUF keys (sliding_window
 * and rope.scaling.original_context_length always written), quantization mixes (attn_qkv follows
 * attn_v's rules in llama-quantize) and verify.
 *
 * The model: `ingot synth --arch phi3 -o p3 --dim 64 --layers 2 --heads 4 --kv-heads 2 --ff 128
 * --corpus-lines 400` (seed 1), converted by ingot.
 *
 * Golden figures are llama.cpp's (libllama of node-llama-cpp 3.22.1, arch "phi3"), recorded once
 * from /tmp/llb:
 *   node llama_ppl_node.mjs p3/corpus.txt 64 1000 p3/F32.gguf   (bench/llama_ppl_node.mjs)
 *     -> 94 chunks, 2914 scored, PPL 414.203557583257 ± 1.22942140459827, the logits below
 *   LIBLLAMA=.../libllama.v0.5.0.so bench/llama_quantize_shim p3/F16.gguf p3/llama-Q4_0.gguf 2 2
 *   (and 15 for Q4_K_M): every tensor's bytes equal ingot's `convert --type Q4_0` / `Q4_K_M`
 *   (compared tensor by tensor with sha256), then
 *   node llama_ppl_node.mjs p3/corpus.txt 64 1000 p3/llama-Q4_0.gguf p3/F32.gguf
 *     -> Q4_0 PPL 413.69881142590253, mean KLD 0.0001727722364790672
 *     -> Q4_K_M PPL 414.23114260732706, mean KLD 3.653312854899954e-05
 * Tolerances as test_verify_cli.c: 0.1% F32 PPL, 1% quantized PPL, 5% mean KLD; logits 5e-4
 * (llama.cpp caches keys and values in F16).
 */
#include "../test_util.h"
#include "arch_util.h"

#include "calib/calib.h"
#include "common/ig_error.h"
#include "formats/hf_config.h"
#include "formats/model_src.h"
#include "formats/tokenizer.h"
#include "model/llama.h"
#include "tokenizer/tokenize.h"
#include "verify/verify.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The synth folder and ingot's F32, Q4_0 and Q4_K_M conversions; returns the folder. */
static const char *make_phi3(void)
{
    static char dir[4200];
    snprintf(dir, sizeof dir, "%s/p3", test_tmp_dir());
    struct test_run r;
    const char *synth[] = {"synth", "--arch", "phi3", "-o", dir, "--dim", "64", "--layers", "2", "--heads", "4",
                           "--kv-heads", "2", "--ff", "128", "--corpus-lines", "400", NULL};
    test_run_ingot(&r, synth);
    cr_assert_eq(r.exit_code, 0, "synth: %s", r.err);
    const char *types[] = {"F32", "Q4_0", "Q4_K_M"};
    for (int i = 0; i < 3; i++) {
        char out[4300];
        snprintf(out, sizeof out, "%s/%s.gguf", dir, types[i]);
        const char *conv[] = {"convert", dir, "-o", out, "--type", types[i], "-q", NULL};
        test_run_ingot(&r, conv);
        cr_assert_eq(r.exit_code, 0, "convert %s: %s", types[i], r.err);
    }
    return dir;
}

Test(arch_phi3, fused_tensors_and_keys_as_llama_cpp_writes_them, .timeout = 120)
{
    const char *dir = make_phi3();
    char path[4300];
    snprintf(path, sizeof path, "%s/F32.gguf", dir);
    struct model_src *g;
    cr_assert_eq(model_src_open(&g, path, NULL), 0, "%s", ig_error_message());
    cr_expect_str_eq(g->hp.arch, "phi3");
    cr_expect_eq(g->hp.rope_scaling_orig_ctx, 256, "phi3.rope.scaling.original_context_length");
    cr_expect_eq(g->hp.sliding_window, 0);
    const struct src_tensor *qkv = model_src_find(g, "blk.1.attn_qkv.weight"), *up = model_src_find(g, "blk.0.ffn_up.weight");
    cr_assert_not_null(qkv);
    cr_assert_not_null(up);
    cr_expect(qkv->ne[0] == 64 && qkv->ne[1] == 64 + 2 * 32, "attn_qkv %lld x %lld", (long long)qkv->ne[0],
              (long long)qkv->ne[1]);
    cr_expect(up->ne[0] == 64 && up->ne[1] == 2 * 128, "ffn_up holds gate and up");
    cr_expect_null(model_src_find(g, "blk.0.attn_q.weight"));
    cr_expect_null(model_src_find(g, "blk.0.ffn_gate.weight"));
    model_src_close(g);
    /* llama-quantize's Q4_K_M gives the last block's attn_qkv attn_v's extra bits (Q6_K, which
     * falls back to Q8_0 on rows of 64) and the first Q4_K (-> Q5_0) */
    snprintf(path, sizeof path, "%s/Q4_K_M.gguf", dir);
    cr_assert_eq(model_src_open(&g, path, NULL), 0, "%s", ig_error_message());
    cr_expect_eq(model_src_find(g, "blk.0.attn_qkv.weight")->type, 6, "Q5_0");
    cr_expect_eq(model_src_find(g, "blk.1.attn_qkv.weight")->type, 8, "Q8_0");
    model_src_close(g);
}

/* llama.cpp's logits 0..7 at positions 0, 1, 31 and 62 of the first window (BOS, then the
 * corpus's first 63 tokens). */
static const struct arch_logits llama_logits[] = {
    {0, {0.11658637970685959f, 0.1952209770679474f, 0.11034887284040451f, 0.0990699827671051f,
         -0.09603820741176605f, 0.03292965888977051f, -0.1820257157087326f, -0.008943740278482437f}},
    {1, {0.13544084131717682f, 0.2177426517009735f, -0.08582569658756256f, 0.1049228236079216f,
         -0.2326655089855194f, 0.1613488793373108f, -0.17551055550575256f, -0.09766440838575363f}},
    {31, {-0.13571372628211975f, 0.11852044612169266f, 0.1528322696685791f, -0.024792760610580444f,
          -0.4540634751319885f, 0.2070421725511551f, -0.1058904379606247f, -0.14071518182754517f}},
    {62, {0.23267997801303864f, -0.0704515278339386f, 0.041500188410282135f, 0.0864894688129425f,
          -0.010396730154752731f, 0.13449271023273468f, -0.044404663145542145f, -0.09933660924434662f}},
};
/* llama.cpp's first tokens of corpus.txt (model.tokenize(text, false)). */
static const int32_t corpus_ids[8] = {337, 392, 339, 394, 394, 350, 309, 304};

Test(arch_phi3, logits_match_llama_cpp, .timeout = 120)
{
    const char *dir = make_phi3();
    int64_t n;
    int32_t *ids = arch_corpus_ids(dir, &n);
    cr_expect_eq(ids[0], 1, "BOS first");
    for (int i = 0; i < 8; i++)
        cr_expect_eq(ids[i + 1], corpus_ids[i], "token %d: %d, llama.cpp %d", i, ids[i + 1], corpus_ids[i]);
    arch_expect_logits(dir, ids, llama_logits, sizeof llama_logits / sizeof llama_logits[0], 5e-4f);
    free(ids);
}

Test(arch_phi3, verify_matches_llama_perplexity_and_kld, .timeout = 300)
{
    const char *dir = make_phi3();
    char f32[4300], q4[4300], q4km[4300], text[4300], json_path[4300];
    snprintf(f32, sizeof f32, "%s/F32.gguf", dir);
    snprintf(q4, sizeof q4, "%s/Q4_0.gguf", dir);
    snprintf(q4km, sizeof q4km, "%s/Q4_K_M.gguf", dir);
    snprintf(text, sizeof text, "%s/corpus.txt", dir);
    snprintf(json_path, sizeof json_path, "%s/v.json", dir);
    const char *argv[] = {"verify", f32, q4, q4km, "--source", dir, "--eval", text, "--ctx", "64", "--threads", "2",
                          "--json-out", json_path, "-q", NULL};
    struct test_run r;
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "verify: %s", r.err);
    json_error_t err;
    json_t *j = json_load_file(json_path, 0, &err);
    cr_assert_not_null(j, "%s", err.text);
    json_t *s = json_object_get(j, "source"), *c = json_object_get(j, "containers");
    test_expect_close(test_json_num(s, "ppl"), 414.203557583257, 0.001, "HF source PPL");
    test_expect_close(test_json_num(s, "ppl_stderr"), 1.22942140459827, 0.01, "HF source PPL error");
    cr_assert_eq(json_array_size(c), 3);
    json_t *a = json_array_get(c, 0), *b = json_array_get(c, 1), *k = json_array_get(c, 2);
    test_expect_close(test_json_num(a, "ppl"), 414.203557583257, 0.001, "F32 GGUF PPL");
    cr_expect_lt(test_json_num(a, "kld_mean"), 1e-9);
    test_expect_close(test_json_num(b, "ppl"), 413.69881142590253, 0.01, "Q4_0 PPL");
    test_expect_close(test_json_num(b, "kld_mean"), 0.0001727722364790672, 0.05, "Q4_0 mean KLD");
    test_expect_close(test_json_num(k, "ppl"), 414.23114260732706, 0.01, "Q4_K_M PPL");
    test_expect_close(test_json_num(k, "kld_mean"), 3.653312854899954e-05, 0.05, "Q4_K_M mean KLD");
    json_decref(j);
}

/* GPTQ and AWQ go through the same block-by-block driver on phi3 (one linear per group: attn_qkv,
 * attn_output, the fused ffn_up, ffn_down; AWQ folds into the v and up rows of the fused producers) and must beat round-to-nearest on mean KLD. */
Test(arch_phi3, gptq_and_awq_beat_rtn, .timeout = 600)
{
    arch_expect_calibrated_beat_rtn(make_phi3(), NULL);
}

static int type_q4_0(void *ctx, const char *name)
{
    (void)ctx;
    (void)name;
    return 2;   /* GGML_TYPE_Q4_0 */
}

/* AWQ's folding into fused producers keeps the model's function: with as many kv heads as heads,
 * o's scales go into the v rows of attn_qkv (after q's and k's) and down's into the up rows of
 * ffn_up (after the gate's). Folded, not quantized (awq_fold_only), the logits equal the source's
 * to float rounding, and both fused tensors changed in exactly those rows. */
Test(arch_phi3, awq_folds_into_the_v_and_up_rows_of_fused_linears, .timeout = 120)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/p3mha", test_tmp_dir());
    struct test_run r;
    const char *synth[] = {"synth", "--arch", "phi3", "-o", dir, "--dim", "64", "--layers", "1", "--heads", "4",
                           "--kv-heads", "4", "--ff", "128", "--corpus-lines", "10", "--dtype", "f32", NULL};
    test_run_ingot(&r, synth);
    cr_assert_eq(r.exit_code, 0, "synth: %s", r.err);
    /* an outlier channel in v (qkv_proj row 128 + 5) and in up (gate_up_proj row 128 + 7), so
     * AWQ's search picks scales that are not all 1 for o's and down's inputs */
    test_set_f32(dir, "model.layers.0.self_attn.qkv_proj.weight", 133, 0, 64, 0.5f);
    test_set_f32(dir, "model.layers.0.mlp.gate_up_proj.weight", 135, 0, 64, 0.5f);
    struct model_src *src;
    struct model *a, *b;
    cr_assert_eq(model_src_open(&src, dir, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_create(&a, src, tensor_fetch_f32, NULL), 0);
    cr_assert_eq(model_create(&b, src, tensor_fetch_f32, NULL), 0);
    const int64_t L = 32, S = 8, nv = model_hparams(a)->n_vocab, d = 64;
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)(S * L));
    for (int64_t i = 0; i < S * L; i++)
        toks[i] = (int32_t)((i * 7919 + 13) % nv);
    struct calib_opts o = {0};
    o.method = CALIB_AWQ;
    o.awq_grid = 20;
    o.awq_fold_only = 1;
    o.type_of = type_q4_0;
    struct calib_result res;
    cr_assert_eq(calib_run(b, toks, S, L, &o, &res), 0, "%s", ig_error_message());
    /* Every column of a fused tensor is scaled by its input's scales (the norm folded before
     * it), so outside the folded rows b/a depends on the column alone; the rows [first, first +
     * count) are divided by the scales of the next group's input as well, one per row. */
    const struct {
        const char *name;
        int64_t rows, first, count;
    } fused[] = {{"blk.0.attn_qkv.weight", 192, 128, 64}, {"blk.0.ffn_up.weight", 256, 128, 128}};
    for (int k = 0; k < 2; k++) {
        int64_t n;
        float *ta = model_tensor_data(a, fused[k].name, &n), *tb = model_tensor_data(b, fused[k].name, &n);
        cr_assert(ta && tb && n == fused[k].rows * d, "%s", fused[k].name);
        int64_t off_col = 0, row_scaled = 0;
        for (int64_t j = 0; j < d; j++) {
            const double col = (double)tb[j] / ta[j];   /* row 0 is outside the folded rows */
            for (int64_t row = 1; row < fused[k].rows; row++) {
                const double ratio = (double)tb[row * d + j] / ta[row * d + j];
                const bool same = fabs(ratio - col) <= 1e-5 * fabs(col);
                bool inside = row >= fused[k].first && row < fused[k].first + fused[k].count;
                off_col += !inside && !same;
                row_scaled += inside && !same;
            }
        }
        cr_expect_eq(off_col, 0, "%s: %lld values outside the folded rows are not scaled by their column alone",
                     fused[k].name, (long long)off_col);
        cr_expect_gt(row_scaled, fused[k].count * d / 2, "%s: rows %lld.. carry no scales of their own",
                     fused[k].name, (long long)fused[k].first);
    }
    struct model_ctx *ca, *cb;
    cr_assert_eq(model_ctx_create(&ca, a, L), 0);
    cr_assert_eq(model_ctx_create(&cb, b, L), 0);
    float *la = malloc(sizeof(float) * (size_t)(L * nv)), *lb = malloc(sizeof(float) * (size_t)(L * nv));
    cr_assert_eq(model_forward(a, ca, toks, L, 0, la), 0);
    cr_assert_eq(model_forward(b, cb, toks, L, 0, lb), 0);
    float worst = 0, scale = 0;
    for (int64_t i = 0; i < L * nv; i++) {
        worst = fmaxf(worst, fabsf(la[i] - lb[i]));
        scale = fmaxf(scale, fabsf(la[i]));
    }
    cr_expect_leq(worst, 1e-4f * scale, "folded logits differ by %g (largest logit %g)", worst, scale);
    calib_result_free(&res);
    free(la);
    free(lb);
    free(toks);
    model_ctx_destroy(ca);
    model_ctx_destroy(cb);
    model_destroy(a);
    model_destroy(b);
    model_src_close(src);
}

/* Phi-3's <|endoftext|> (32000) and chat tokens live only in tokenizer.json's added_tokens, past
 * tokenizer.model's pieces; llama.cpp's Phi3 converter lays them over the padded vocabulary
 * (Phi3MiniModel.set_vocab: text, score -1000, CONTROL if special else USER_DEFINED; ids past
 * the vocabulary skipped). */
Test(arch_phi3, added_tokens_lie_over_the_padding_as_llama_cpp_lays_them)
{
    struct vocab v;
    vocab_init(&v);
    cr_assert_eq(vocab_alloc(&v, 6, 1), 0);
    const char *texts[] = {"<unk>", "<s>", "a", "[PAD3]", "[PAD4]", "[PAD5]"};
    for (int i = 0; i < 6; i++) {
        v.tokens[i] = strdup(texts[i]);
        v.types[i] = i < 3 ? VOCAB_TOKEN_NORMAL : VOCAB_TOKEN_UNUSED;
    }
    char path[4300];
    snprintf(path, sizeof path, "%s/tokenizer.json", test_tmp_dir());
    const char *json = "{\"added_tokens\": [{\"id\": 0, \"content\": \"<unk>\", \"special\": true},"
                       " {\"id\": 3, \"content\": \"<|endoftext|>\", \"special\": true},"
                       " {\"id\": 4, \"content\": \"<|placeholder1|>\", \"special\": false},"
                       " {\"id\": 9, \"content\": \"<|beyond|>\", \"special\": true}], \"model\": {}}";
    cr_assert_eq(test_write_file(path, json, strlen(json)), 0);
    cr_assert_eq(tokenizer_hf_overlay_added(&v, path), 0, "%s", ig_error_message());
    cr_expect_str_eq(v.tokens[3], "<|endoftext|>");
    cr_expect_eq(v.types[3], VOCAB_TOKEN_CONTROL);
    cr_expect_str_eq(v.tokens[4], "<|placeholder1|>");
    cr_expect_eq(v.types[4], VOCAB_TOKEN_USER_DEFINED);
    cr_expect_eq(v.types[0], VOCAB_TOKEN_CONTROL, "special <unk> becomes CONTROL, as the converter makes it");
    cr_expect_eq(v.scores[3], -1000.0f);
    cr_expect_eq(v.scores[2], 0.0f, "a piece not in added_tokens keeps its score");
    cr_expect_str_eq(v.tokens[5], "[PAD5]", "padding no added token claims stays");
    cr_expect_eq(v.n_tokens, 6, "ids past the vocabulary are skipped");
    vocab_free(&v);
}

/* Phi3Config: sliding_window and original_max_position_embeddings are read; rope_scaling
 * (longrope, the 128k variants) is refused rather than converted without its factors. */
Test(arch_phi3, config_keys_and_longrope_refused)
{
    struct model_hparams hp;
    const char *base = "{\"model_type\": \"phi3\", \"hidden_size\": 64, \"intermediate_size\": 128, "
                       "\"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"vocab_size\": 32, "
                       "\"max_position_embeddings\": 4096, ";
    char json[768];
    snprintf(json, sizeof json, "%s\"sliding_window\": 2047, \"original_max_position_embeddings\": 4096}", base);
    cr_assert_eq(hf_config_parse(&hp, json, "config.json"), 0, "%s", ig_error_message());
    cr_expect_str_eq(hp.arch, "phi3");
    cr_expect_eq(hp.sliding_window, 2047);
    cr_expect_eq(hp.rope_scaling_orig_ctx, 4096);
    snprintf(json, sizeof json, "%s\"original_max_position_embeddings\": 4096, \"rope_scaling\": {\"type\": "
             "\"longrope\", \"long_factor\": [1, 2], \"short_factor\": [1, 1]}}", base);
    cr_expect_eq(hf_config_parse(&hp, json, "config.json"), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "rope_scaling") && strstr(ig_error_message(), "not supported"), "%s",
              ig_error_message());
}
