/* test_arch_mixtral.c — mixtral (a llama with a sparse MoE feed-forward) end to end against
 * llama.cpp: `ingot synth --arch mixtral`, the experts stacked as llama.cpp's converter stacks
 * them, the router (softmax, top-2, renormalised weights), GGUF keys, quantization and verify.
 *
 * The model: `ingot synth --arch mixtral -o mx --dim 64 --layers 2 --heads 4 --kv-heads 2
 * --ff 128 --corpus-lines 400` (seed 1; 4 experts, 2 per token), converted by ingot.
 *
 * Golden figures are llama.cpp's (libllama of node-llama-cpp 3.22.1; general.architecture
 * "llama" with llama.expert_count 4), recorded once from /tmp/llb:
 *   node llama_ppl_node.mjs mx/corpus.txt 64 1000 mx/f32.gguf   (bench/llama_ppl_node.mjs)
 *     -> 94 chunks, 2914 scored, PPL 414.5397175808391 ± 1.143557612533452, the logits below
 *   LIBLLAMA=.../libllama.v0.5.0.so bench/llama_quantize_shim mx/f16.gguf mx/llama-Q4_0.gguf 2 2
 *   (and 15 for Q4_K_M): every tensor's bytes equal ingot's `convert --type Q4_0` / `Q4_K_M` of
 *   the same folder (compared tensor by tensor with sha256; the routers stay F32 in both), then
 *   node llama_ppl_node.mjs mx/corpus.txt 64 1000 mx/llama-Q4_0.gguf mx/f32.gguf
 *     -> Q4_0 PPL 415.19237951488674, mean KLD 0.0001582622896198452, same top 83.39%
 *     -> Q4_K_M PPL 414.57068256583284, mean KLD 4.084446311970232e-05, same top 91.35%
 * Tolerances as test_verify_cli.c: 0.1% F32 PPL, 1% quantized PPL, 5% mean KLD; logits 5e-4
 * (llama.cpp caches keys and values in F16).
 */
#include "../test_util.h"
#include "arch_util.h"

#include "common/ig_error.h"
#include "formats/hf_config.h"
#include "formats/model_src.h"
#include "model/llama.h"
#include "tokenizer/tokenize.h"
#include "verify/verify.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The synth folder and ingot's F32, Q4_0 and Q4_K_M conversions; returns the folder. */
static const char *make_mixtral(void)
{
    const char *synth[] = {"--arch", "mixtral", "--dim", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2",
                           "--ff", "128", "--corpus-lines", "400", NULL};
    const char *types[] = {"F32", "Q4_0", "Q4_K_M"}, *files[] = {"F32.gguf", "Q4_0.gguf", "Q4_K_M.gguf"};
    return arch_synth_and_convert("mx", synth, types, files, 3);
}

Test(arch_mixtral, experts_stacked_and_keys_as_llama_cpp_writes_them, .timeout = 120)
{
    const char *dir = make_mixtral();
    char path[4300];
    snprintf(path, sizeof path, "%s/F32.gguf", dir);
    struct model_src *g;
    cr_assert_eq(model_src_open(&g, path, NULL), 0, "%s", ig_error_message());
    cr_expect_str_eq(g->hp.arch, "llama", "a Mixtral is written as llama");
    cr_expect_eq(g->hp.n_expert, 4);
    cr_expect_eq(g->hp.n_expert_used, 2);
    const char *names[] = {"blk.1.ffn_gate_exps.weight", "blk.1.ffn_up_exps.weight", "blk.1.ffn_down_exps.weight"};
    const int64_t ne0[] = {64, 64, 128}, ne1[] = {128, 128, 64};
    for (int i = 0; i < 3; i++) {
        const struct src_tensor *t = model_src_find(g, names[i]);
        cr_assert_not_null(t, "%s", names[i]);
        cr_expect_eq(t->n_dims, 3);
        cr_expect(t->ne[0] == ne0[i] && t->ne[1] == ne1[i] && t->ne[2] == 4, "%s: %lld x %lld x %lld", names[i],
                  (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2]);
    }
    const struct src_tensor *r = model_src_find(g, "blk.0.ffn_gate_inp.weight");
    cr_assert_not_null(r);
    cr_expect(r->ne[0] == 64 && r->ne[1] == 4);
    cr_expect_null(model_src_find(g, "blk.0.ffn_gate.weight"), "no dense FFN");
    /* the HF source's stack reads the same rows as the GGUF: expert 2, row 5 of ffn_down_exps */
    struct model_src *h;
    cr_assert_eq(model_src_open(&h, dir, NULL), 0, "%s", ig_error_message());
    const struct src_tensor *a = model_src_find(h, "blk.0.ffn_down_exps.weight"), *b = model_src_find(g, "blk.0.ffn_down_exps.weight");
    float ra[128], rb[128];
    cr_assert_eq(tensor_read_rows_f32(a, 2 * 64 + 5, 1, ra), 0, "%s", ig_error_message());
    cr_assert_eq(tensor_read_rows_f32(b, 2 * 64 + 5, 1, rb), 0, "%s", ig_error_message());
    cr_expect_arr_eq(ra, rb, sizeof ra);
    model_src_close(h);
    model_src_close(g);
    /* the router stays F32 when everything else is quantized */
    snprintf(path, sizeof path, "%s/Q4_0.gguf", dir);
    cr_assert_eq(model_src_open(&g, path, NULL), 0, "%s", ig_error_message());
    cr_expect_eq(model_src_find(g, "blk.0.ffn_gate_inp.weight")->type, 0, "ffn_gate_inp is not quantized");
    cr_expect_eq(model_src_find(g, "blk.0.ffn_up_exps.weight")->type, 2, "experts are Q4_0");
    model_src_close(g);
}

/* llama.cpp's logits 0..7 at positions 0, 1, 31 and 62 of the first window (BOS, then the
 * corpus's first 63 tokens). */
static const struct arch_logits llama_logits[] = {
    {0, {-0.07018101960420609f, 0.1363392025232315f, 0.37850457429885864f, -0.06544478237628937f,
         0.2043076753616333f, -0.22533516585826874f, -0.2397812306880951f, 0.06458684802055359f}},
    {1, {-0.14673513174057007f, 0.05874639004468918f, 0.2055000364780426f, -0.04080016911029816f,
         0.10514889657497406f, -0.17242765426635742f, -0.09658828377723694f, 0.07938732951879501f}},
    {31, {-0.21558094024658203f, 0.09098028391599655f, 0.18422235548496246f, -0.04151654988527298f,
          -0.16005799174308777f, -0.007676184177398682f, -0.16033758223056793f, -0.04563416168093681f}},
    {62, {0.17514848709106445f, -0.05695401132106781f, -0.037934981286525726f, 0.10394949465990067f,
          0.2055681049823761f, 0.04097387194633484f, -0.12775537371635437f, -0.04096066951751709f}},
};
/* llama.cpp's first tokens of corpus.txt (model.tokenize(text, false)). */
static const int32_t corpus_ids[8] = {337, 392, 339, 394, 394, 350, 309, 304};

Test(arch_mixtral, logits_match_llama_cpp, .timeout = 120)
{
    arch_expect_bos_window(make_mixtral(), corpus_ids, llama_logits, sizeof llama_logits / sizeof llama_logits[0], 5e-4f);
}

Test(arch_mixtral, verify_matches_llama_perplexity_and_kld, .timeout = 300)
{
    const struct arch_quant_golden q[] = {
        {"Q4_0.gguf", "Q4_0", 415.19237951488674, 0.0001582622896198452, 0},
        {"Q4_K_M.gguf", "Q4_K_M", 414.57068256583284, 4.084446311970232e-05, 0},
    };
    arch_expect_verify(make_mixtral(), "64", "F32.gguf", 414.5397175808391, 1.143557612533452, q, 2);
}

/* GPTQ and AWQ calibrate each expert on the rows the router sends it (its own H), after the
 * attention groups, and must beat round-to-nearest on mean KLD. An importance matrix (rtn with
 * --calib) has per-expert sums (tests/calib/test_imatrix_moe.c checks them): it converts. */
Test(arch_mixtral, gptq_and_awq_beat_rtn_and_imatrix_rtn_converts, .timeout = 600)
{
    const char *dir = make_mixtral();
    char q4[4300], text[4300], imx[4300];
    snprintf(q4, sizeof q4, "%s/Q4_0.gguf", dir);   /* make_mixtral's: plain rounding */
    arch_expect_calibrated_beat_rtn(dir, q4);

    snprintf(text, sizeof text, "%s/corpus.txt", dir);
    snprintf(imx, sizeof imx, "%s/imx.gguf", dir);
    const char *rtn[] = {"convert", dir, "-o", imx, "--method", "rtn", "--type", "Q4_0", "--calib", text,
                         "--samples", "4", "--seq-len", "64", "-q", NULL};
    struct test_run r;
    test_run_ingot(&r, rtn);
    cr_expect_eq(r.exit_code, 0, "exit %d: %s", r.exit_code, r.err);
    size_t size;
    uint8_t *f = test_read_file(imx, &size);
    cr_expect_not_null(f, "the file is written");
    free(f);
}

/* llama-quantize's rules for an 8-expert model (Mixtral-8x): attn_k and attn_v Q8_0, attn_output
 * Q5_K in Q4_K_M (here Q5_1, Q5_K's fallback on rows of 64). Checked against
 * `llama_quantize_shim F16.gguf OUT 15 2` of `synth --arch mixtral --experts 8 --dim 64 --layers 2
 * --heads 4 --kv-heads 2 --ff 128`: every tensor's bytes equal (Q4_K_M and Q5_K_M). */
Test(arch_mixtral, eight_experts_take_llama_quantizes_types, .timeout = 120)
{
    char dir[4200], out[4300];
    snprintf(dir, sizeof dir, "%s/mx8", test_tmp_dir());
    snprintf(out, sizeof out, "%s/q4km.gguf", dir);
    struct test_run r;
    const char *synth[] = {"synth", "--arch", "mixtral", "--experts", "8", "-o", dir, "--dim", "64", "--layers", "2",
                           "--heads", "4", "--kv-heads", "2", "--ff", "128", "--corpus-lines", "10", NULL};
    test_run_ingot(&r, synth);
    cr_assert_eq(r.exit_code, 0, "synth: %s", r.err);
    const char *conv[] = {"convert", dir, "-o", out, "--type", "Q4_K_M", "-q", NULL};
    test_run_ingot(&r, conv);
    cr_assert_eq(r.exit_code, 0, "convert: %s", r.err);
    struct model_src *g;
    cr_assert_eq(model_src_open(&g, out, NULL), 0, "%s", ig_error_message());
    cr_expect_eq(g->hp.n_expert, 8);
    for (int l = 0; l < 2; l++) {
        char k[64], v[64], o[64];
        snprintf(k, sizeof k, "blk.%d.attn_k.weight", l);
        snprintf(v, sizeof v, "blk.%d.attn_v.weight", l);
        snprintf(o, sizeof o, "blk.%d.attn_output.weight", l);
        cr_expect_eq(model_src_find(g, k)->type, 8, "%s Q8_0", k);
        cr_expect_eq(model_src_find(g, v)->type, 8, "%s Q8_0", v);
        cr_expect_eq(model_src_find(g, o)->type, 7, "%s Q5_1 (Q5_K's fallback)", o);
    }
    model_src_close(g);
}

/* config.json's expert keys are checked as MixtralConfig's: at least 2 experts, 1..that per token. */
Test(arch_mixtral, expert_keys_are_checked)
{
    struct model_hparams hp;
    const char *base = "{\"model_type\": \"mixtral\", \"hidden_size\": 64, \"intermediate_size\": 128, "
                       "\"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"vocab_size\": 32, ";
    char json[512];
    snprintf(json, sizeof json, "%s\"num_local_experts\": 8, \"num_experts_per_tok\": 2}", base);
    cr_assert_eq(hf_config_parse(&hp, json, "config.json"), 0, "%s", ig_error_message());
    cr_expect_str_eq(hp.arch, "llama");
    cr_expect(hp.n_expert == 8 && hp.n_expert_used == 2);
    snprintf(json, sizeof json, "%s\"num_local_experts\": 4, \"num_experts_per_tok\": 5}", base);
    cr_expect_eq(hf_config_parse(&hp, json, "config.json"), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "num_experts_per_tok"), "%s", ig_error_message());
    snprintf(json, sizeof json, "%s\"num_local_experts\": 4}", base);
    cr_expect_eq(hf_config_parse(&hp, json, "config.json"), IG_EINVAL, "num_experts_per_tok is required");
    snprintf(json, sizeof json, "%s\"num_local_experts\": 1, \"num_experts_per_tok\": 1}", base);
    cr_expect_eq(hf_config_parse(&hp, json, "config.json"), IG_EINVAL, "one expert is no mixture");
}
