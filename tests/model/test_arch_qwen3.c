/* test_arch_qwen3.c — qwen3 end to end against llama.cpp: `ingot synth --arch qwen3`, the
 * byte-level BPE with Qwen2's split regex, the forward pass (per-head q/k RMSNorm, NEOX RoPE,
 * head_dim ≠ hidden / heads), GGUF conversion and `ingot verify`.
 *
 * The model: `ingot synth --arch qwen3 -o q3s --dim 64 --layers 2 --heads 4 --kv-heads 2
 * --head-dim 32 --ff 128 --corpus-lines 400` (seed 1; q/k norms drawn as 1 + N(0, 0.1) so their
 * weights matter), converted by ingot to F16 and F32 GGUF.
 *
 * Golden figures are llama.cpp's (libllama of node-llama-cpp 3.22.1, which knows arch "qwen3"),
 * recorded once with bench/llama_ppl_node.mjs and a tokenize one-liner, run from /tmp/llb:
 *   node llama_ppl_node.mjs q3s/corpus.txt 64 1000 q3s/f32.gguf
 *     -> 77 chunks, 2387 scored, PPL 478.12826036723436 ± 1.4911775105898268, and the logits below
 *   LIBLLAMA=.../libllama.v0.5.0.so bench/llama_quantize_shim q3s/f16.gguf q3s/llama-q4_0.gguf 2 2
 *     (llama_model_quantize, Q4_0: every tensor's bytes equal ingot's own `convert --type Q4_0`
 *     of the same folder, compared tensor by tensor with sha256), then
 *   node llama_ppl_node.mjs q3s/corpus.txt 64 1000 q3s/llama-q4_0.gguf q3s/f32.gguf
 *     -> PPL 478.55751426488257, mean KLD 0.00033338452845866283 (double, from fp32 logits),
 *        same top 75.827%
 *   model.tokenize(text, false) on q3s/f32.gguf for the token ids below.
 * Tolerances are test_verify_cli.c's: 0.1% for F32 perplexity, 1% for a quantized file's (llama.cpp
 * rounds activations to 8 bits inside its dot products), 5% for mean KLD; logits within 5e-4 (see llama_logits).
 */
#include "../test_util.h"
#include "arch_util.h"

#include "common/ig_error.h"
#include "formats/model_src.h"
#include "model/llama.h"
#include "tokenizer/tokenize.h"
#include "verify/verify.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the model ---------------------------------------------------------------------------- */

/* Make the synth folder and its F16 / F32 / Q4_0 conversions in a fresh folder; returns the
 * model folder (static buffer). */
static const char *make_qwen3(void)
{
    const char *synth[] = {"--arch", "qwen3", "--dim", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2",
                           "--head-dim", "32", "--ff", "128", "--corpus-lines", "400", NULL};
    const char *types[] = {"F16", "F32", "Q4_0"}, *files[] = {"f16.gguf", "f32.gguf", "q4_0.gguf"};
    return arch_synth_and_convert("q3s", synth, types, files, 3);
}

/* ---- the tokenizer ------------------------------------------------------------------------ */

/* llama.cpp's ids for texts that walk every branch of Qwen2's regex: contractions in either case,
 * one digit per word, punctuation runs ending in newlines, whitespace before a newline and
 * before a word, a non-letter glued to a word, UTF-8 letters. */
static const struct {
    const char *text;
    int n;
    int32_t ids[24];
} qwen2_cases[] = {
    {"the cat", 2, {375, 262}},
    {" the cat\n\nthe dog.\n", 8, {258, 262, 198, 198, 375, 265, 13, 198}},
    {"cat's DOG'LL the123 45 x", 19, {377, 6, 82, 220, 35, 46, 38, 6, 43, 43, 258, 16, 17, 18, 220, 19, 20, 220, 87}},
    {"a  the\t\tcat  \n  sun!!\r\n\r\n.the ,the", 22,
     {64, 220, 258, 197, 197, 377, 220, 220, 198, 220, 280, 0, 0, 201, 198, 201, 198, 13, 375, 220, 11, 375}},
    {"\xc3\xbcn\xc3\xaf the caf\xc3\xa9 7.5% the\xe2\x80\x94" "dog", 20,
     {127, 120, 77, 127, 107, 258, 261, 69, 127, 102, 220, 22, 13, 20, 4, 258, 158, 222, 242, 379}},
    {"   \n\n   ", 8, {220, 220, 220, 198, 198, 220, 220, 220}},
    {"x \n", 3, {87, 220, 198}},
};

Test(arch_qwen3, byte_level_bpe_with_qwen2_regex_matches_llama_cpp, .timeout = 120)
{
    const char *dir = make_qwen3();
    struct model_src *src;
    cr_assert_eq(model_src_open(&src, dir, NULL), 0, "%s", ig_error_message());
    cr_expect_str_eq(src->vocab.model, "gpt2");
    cr_expect_str_eq(src->vocab.pre, "qwen2", "tokenizer.json's Split regex is recognised as Qwen2's");
    struct tokenizer *t;
    cr_assert_eq(tokenizer_create(&t, &src->vocab), 0, "%s", ig_error_message());
    for (size_t c = 0; c < sizeof qwen2_cases / sizeof qwen2_cases[0]; c++) {
        int32_t *ids;
        int64_t n = tokenizer_encode(t, qwen2_cases[c].text, strlen(qwen2_cases[c].text), 0, &ids);
        cr_assert_geq(n, 0, "%s", ig_error_message());
        cr_expect_eq(n, qwen2_cases[c].n, "case %zu: %lld ids, llama.cpp %d", c, (long long)n, qwen2_cases[c].n);
        for (int64_t i = 0; i < n && i < qwen2_cases[c].n; i++)
            cr_expect_eq(ids[i], qwen2_cases[c].ids[i], "case %zu id %lld: %d, llama.cpp %d", c, (long long)i, ids[i],
                         qwen2_cases[c].ids[i]);
        free(ids);
    }
    tokenizer_destroy(t);
    model_src_close(src);
}

/* ---- the forward pass --------------------------------------------------------------------- */

/* llama.cpp's first 64 tokens of corpus.txt (no BOS: Qwen's tokenizer adds none) and its logits
 * 0..7 at positions 0, 1, 31 and 62 of that window. llama.cpp caches keys and values in F16, which
 * moves its logits by up to ~3e-4 here; a wrong RoPE, norm or head layout moves them by 1e-2 and more. */
static const int32_t corpus_ids[64] = {
    413, 360, 307, 362, 362, 318, 277, 272, 265, 13,  198, 404, 262, 323, 296, 280, 296, 293, 372, 310, 262, 293,
    13,  198, 413, 313, 280, 339, 290, 13,  198, 377, 360, 337, 351, 332, 13,  198, 399, 284, 373, 307, 345, 328,
    362, 373, 277, 362, 347, 13,  198, 418, 259, 307, 328, 345, 328, 310, 356, 13,  198, 391, 313, 258,
};
static const struct arch_logits llama_logits[] = {
    {0, {0.0025487467646598816f, -0.08622381091117859f, -0.023694507777690887f, 0.02300373464822769f,
         -0.24452315270900726f, 0.07056348025798798f, -0.17285197973251343f, -0.17204073071479797f}},
    {1, {0.21103721857070923f, -0.1325605809688568f, 0.09465695917606354f, 0.03564167022705078f,
         -0.22815656661987305f, 0.07351314276456833f, -0.15400809049606323f, -0.05544577166438103f}},
    {31, {-0.05109921097755432f, -0.06762157380580902f, -0.03725539892911911f, 0.045161426067352295f,
          -0.07831979542970657f, -0.08553571999073029f, 0.20297771692276f, 0.15024402737617493f}},
    {62, {-0.09327712655067444f, 0.19794046878814697f, -0.0324627161026001f, -0.006210705265402794f,
          -0.16359326243400574f, 0.1887253224849701f, -0.13476327061653137f, -0.10056746006011963f}},
};

Test(arch_qwen3, logits_match_llama_cpp, .timeout = 120)
{
    const char *dir = make_qwen3();
    struct model_src *src;
    cr_assert_eq(model_src_open(&src, dir, NULL), 0, "%s", ig_error_message());
    cr_expect_str_eq(src->hp.arch, "qwen3");
    cr_expect(src->hp.attn_qk_norm);
    cr_expect_eq(src->hp.head_dim, 32);
    model_src_close(src);
    int64_t n;
    int32_t *ids = arch_corpus_ids(dir, &n);
    cr_expect_eq(n, 4966, "llama.cpp makes 4966 tokens of corpus.txt, ingot %lld", (long long)n);
    for (int i = 0; i < 64 && i < n; i++)
        cr_expect_eq(ids[i], corpus_ids[i], "token %d: %d, llama.cpp %d", i, ids[i], corpus_ids[i]);
    arch_expect_logits(dir, corpus_ids, llama_logits, sizeof llama_logits / sizeof llama_logits[0], 5e-4f);
    free(ids);
}

/* ---- conversion and verification ---------------------------------------------------------- */

Test(arch_qwen3, gguf_keys_and_tensors_as_llama_cpp_reads_them, .timeout = 120)
{
    const char *dir = make_qwen3();
    char path[4300];
    snprintf(path, sizeof path, "%s/f32.gguf", dir);
    struct model_src *g;
    cr_assert_eq(model_src_open(&g, path, NULL), 0, "%s", ig_error_message());
    cr_expect_str_eq(g->hp.arch, "qwen3");
    cr_expect(g->hp.attn_qk_norm, "qwen3 files have q/k norms");
    cr_expect(!g->hp.attn_qkv_bias, "qwen3 has no q/k/v biases");
    cr_expect_eq(g->hp.head_dim, 32, "qwen3.attention.key_length is written");
    cr_expect_eq(g->hp.n_head * g->hp.head_dim, 128);
    cr_expect_str_eq(g->vocab.pre, "qwen2");
    const struct src_tensor *qn = model_src_find(g, "blk.1.attn_q_norm.weight");
    cr_assert_not_null(qn);
    cr_expect_eq(qn->ne[0], 32);
    cr_expect_eq(qn->type, 0, "norms stay F32");
    cr_expect_not_null(model_src_find(g, "blk.0.attn_k_norm.weight"));
    model_src_close(g);
}

Test(arch_qwen3, verify_matches_llama_perplexity_and_kld, .timeout = 300)
{
    const struct arch_quant_golden q = {"q4_0.gguf", "Q4_0", 478.55751426488257, 0.00033338452845866283, 75.827};
    arch_expect_verify(make_qwen3(), "64", "f32.gguf", 478.12826036723436, 1.4911775105898268, &q, 1);
}

/* GPTQ and AWQ go through the same block-by-block driver on qwen3 (q/k norms between the
 * projections and RoPE change no linear's input) and must beat round-to-nearest on mean KLD. */
Test(arch_qwen3, gptq_and_awq_beat_rtn, .timeout = 600)
{
    arch_expect_calibrated_beat_rtn(make_qwen3(), NULL);
}
