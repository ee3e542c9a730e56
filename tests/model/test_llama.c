/* test_llama.c — the forward pass against independent references.
 *
 * - Greedy decoding of Karpathy's stories260K from BOS must reproduce the text upstream
 *   llama2.c publishes for it (quoted in ../shared/data/PROVENANCE.md).
 * - The same model read from the HF folder (q/k rows permuted back at load), the llama2.c
 *   checkpoint and the third-party GGUF must give the same logits.
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/model_src.h"
#include "model/llama.h"
#include "verify/verify.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct loaded {
    struct model_src *src;
    struct model *m;
    struct model_ctx *c;
};

static void load_model(struct loaded *l, const char *rel)
{
    const char *p = test_shared_path(rel);
    if (!p)
        cr_skip_test("../shared/data is missing");
    cr_assert_eq(model_src_open(&l->src, p, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_create(&l->m, l->src, tensor_fetch_f32, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_ctx_create(&l->c, l->m, 128), 0);
}

static void unload(struct loaded *l)
{
    model_ctx_destroy(l->c);
    model_destroy(l->m);
    model_src_close(l->src);
}

/* Greedy decoding of n tokens after BOS; returns the pieces joined, "▁" as space. */
static void greedy(struct loaded *l, int n, char *text, size_t size)
{
    int32_t toks[128] = {1};
    int64_t nv = model_hparams(l->m)->n_vocab;
    float *logits = malloc(sizeof(float) * (size_t)nv);
    text[0] = '\0';
    for (int i = 1; i <= n; i++) {
        cr_assert_eq(model_forward(l->m, l->c, toks, i, i - 1, logits), 0);
        int best = 0;
        for (int v = 1; v < nv; v++)
            if (logits[v] > logits[best])
                best = v;
        toks[i] = best;
        const char *piece = l->src->vocab.tokens[best];
        for (const char *s = piece; *s && strlen(text) + 2 < size; s++) {
            if (strncmp(s, "\xe2\x96\x81", 3) == 0) {
                strcat(text, " ");
                s += 2;
            } else {
                strncat(text, s, 1);
            }
        }
    }
    free(logits);
}

Test(model_llama, stories260K_greedy_matches_upstream_llama2c)
{
    struct loaded l;
    load_model(&l, "gguf-stories260K/stories260K.gguf");
    char text[1024];
    greedy(&l, 48, text, sizeof text);
    const char *want = " Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.";
    cr_expect_eq(strncmp(text, want, strlen(want)), 0, "got '%s'", text);
    unload(&l);
}

static float max_logit_diff(struct loaded *a, struct loaded *b)
{
    int32_t toks[64];
    for (int i = 0; i < 64; i++)
        toks[i] = (int32_t)((i * 37 + 1) % 512);
    toks[0] = 1;
    int64_t nv = 512;
    float *la = malloc(sizeof(float) * 64 * (size_t)nv), *lb = malloc(sizeof(float) * 64 * (size_t)nv);
    cr_assert_eq(model_forward(a->m, a->c, toks, 64, 0, la), 0);
    cr_assert_eq(model_forward(b->m, b->c, toks, 64, 0, lb), 0);
    float worst = 0;
    for (int64_t i = 0; i < 64 * nv; i++)
        worst = fmaxf(worst, fabsf(la[i] - lb[i]));
    free(la);
    free(lb);
    return worst;
}

Test(model_llama, hf_llama2c_and_gguf_sources_agree)
{
    struct loaded g, h, b;
    load_model(&g, "gguf-stories260K/stories260K.gguf");
    load_model(&h, "hf-stories260K-f32");
    load_model(&b, "llama2c-stories260K/stories260K.bin");
    /* the weights are bit-identical, so the logits are too */
    cr_expect_eq(max_logit_diff(&g, &h), 0.0f, "HF folder (permuted q/k) differs from the GGUF");
    cr_expect_eq(max_logit_diff(&g, &b), 0.0f, "llama2.c checkpoint differs from the GGUF");
    unload(&g);
    unload(&h);
    unload(&b);
}

Test(model_llama, rejects_out_of_range_tokens)
{
    struct loaded g;
    load_model(&g, "gguf-stories260K/stories260K.gguf");
    int32_t toks[2] = {1, 512};
    float *logits = malloc(sizeof(float) * 512 * 2);
    cr_expect_eq(model_forward(g.m, g.c, toks, 2, 0, logits), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "512"));
    free(logits);
    unload(&g);
}

/* TinyStories-656K (HF folder, tokenizer.json BPE with byte fallback): greedy decoding after
 * BOS + "Once upon a time". Expected text: what llama.cpp (libllama from the npm package
 * @node-llama-cpp/linux-x64 3.22.1) generated from ingot's F16 conversion of the same
 * folder, greedy, in a development session: ", a little girl named Lily lived in a small
 * house with her mom, dad, and her dog, Spot, ..." */
#include "tokenizer/tokenize.h"

Test(model_llama, tinystories_656K_continues_in_english)
{
    struct loaded l;
    load_model(&l, "hf-TinyStories-656K");
    struct tokenizer *tok;
    cr_assert_eq(tokenizer_create(&tok, &l.src->vocab), 0, "%s", ig_error_message());
    int32_t *ids = NULL;
    const char *prompt = "Once upon a time";
    int64_t n = tokenizer_encode(tok, prompt, strlen(prompt), 1, &ids);
    cr_assert_eq(n, 6, "BOS + [80, 147, 201, 282, 57]");
    int32_t toks[128];
    memcpy(toks, ids, sizeof(int32_t) * (size_t)n);
    free(ids);
    int64_t nv = model_hparams(l.m)->n_vocab;
    float *logits = malloc(sizeof(float) * (size_t)nv);
    for (int64_t i = n; i < n + 24; i++) {
        cr_assert_eq(model_forward(l.m, l.c, toks, i, i - 1, logits), 0);
        int best = 0;
        for (int v = 1; v < nv; v++)
            if (logits[v] > logits[best])
                best = v;
        toks[i] = best;
    }
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(tokenizer_decode(tok, toks + n, 24, &text, &len), 0);
    const char *want = ", a little girl named Lily lived in a small house with her mom";
    cr_expect_eq(strncmp(text, want, strlen(want)), 0, "got '%.*s'", (int)len, text);
    free(text);
    free(logits);
    tokenizer_destroy(tok);
    unload(&l);
}

/* qwen2 rotates (i, i + d/2) on HF-layout q/k (NEOX); llama rotates (2i, 2i+1) on q/k rows
 * that ingot permuted at load. tests/data/make_tiny.py writes the same weights (with q/k/v
 * biases) once as each architecture, so the two forward passes must agree to rounding. */
Test(model_llama, qwen2_neox_rope_equals_llama_with_permuted_rows)
{
    struct model_src *sq, *sl;
    struct model *mq, *ml;
    struct model_ctx *cq, *cl;
    cr_assert_eq(model_src_open(&sq, test_fixture_path("tiny-qwen2"), NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_src_open(&sl, test_fixture_path("tiny-llama-bias"), NULL), 0, "%s", ig_error_message());
    cr_expect_str_eq(sq->hp.arch, "qwen2");
    cr_expect(model_src_find(sq, "blk.0.attn_q.bias") && model_src_find(sl, "blk.0.attn_q.bias"));
    cr_assert_eq(model_create(&mq, sq, tensor_fetch_f32, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_create(&ml, sl, tensor_fetch_f32, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_ctx_create(&cq, mq, 32), 0);
    cr_assert_eq(model_ctx_create(&cl, ml, 32), 0);
    int32_t toks[32];
    for (int i = 0; i < 32; i++)
        toks[i] = (i * 53 + 1) % 275;
    int64_t nv = model_hparams(mq)->n_vocab;
    float *a = malloc(sizeof(float) * 32 * (size_t)nv), *b = malloc(sizeof(float) * 32 * (size_t)nv);
    cr_assert_eq(model_forward(mq, cq, toks, 32, 0, a), 0);
    cr_assert_eq(model_forward(ml, cl, toks, 32, 0, b), 0);
    float worst = 0, scale = 0;
    for (int64_t i = 0; i < 32 * nv; i++) {
        worst = fmaxf(worst, fabsf(a[i] - b[i]));
        scale = fmaxf(scale, fabsf(a[i]));
    }
    /* the sums run in a different order after the permutation: float rounding only */
    cr_expect_leq(worst, 1e-5f * scale, "max |qwen2 - llama| = %g (logits up to %g)", worst, scale);
    cr_expect_gt(scale, 0.0f);
    free(a);
    free(b);
    model_ctx_destroy(cq);
    model_ctx_destroy(cl);
    model_destroy(mq);
    model_destroy(ml);
    model_src_close(sq);
    model_src_close(sl);
}

/* A streamed model holds a block only between model_layer_load and model_layer_release,
 * and the block it computes is the resident model's, bit for bit. */
Test(model_llama, streamed_blocks_load_compute_and_release)
{
    struct loaded g;
    load_model(&g, "gguf-stories260K/stories260K.gguf");
    struct model *s = NULL;
    cr_assert_eq(model_create_streamed(&s, g.src, tensor_fetch_f32, NULL), 0, "%s", ig_error_message());
    const struct model_hparams *hp = model_hparams(s);
    int64_t n = 0, d = hp->n_embd, T = 16;
    cr_expect_null(model_tensor_data(s, "blk.0.attn_q.weight", &n), "block 0 is resident before it is loaded");
    int32_t toks[16];
    for (int i = 0; i < T; i++)
        toks[i] = (int32_t)(1 + 37 * i % 500);
    float *x = malloc(sizeof(float) * (size_t)(T * d)), *y = malloc(sizeof(float) * (size_t)(T * d));
    cr_assert(x && y);
    cr_assert_eq(model_embed(s, toks, T, x), 0);
    cr_assert_eq(model_embed(g.m, toks, T, y), 0);
    for (int64_t l = 0; l < hp->n_layer; l++) {
        cr_assert_eq(model_layer_load(s, l), 0, "%s", ig_error_message());
        model_block_forward(s, g.c, l, x, T);
        model_block_forward(g.m, g.c, l, y, T);
        model_layer_release(s, l);
        char name[64];
        snprintf(name, sizeof name, "blk.%lld.ffn_down.weight", (long long)l);
        cr_expect_null(model_tensor_data(s, name, &n), "block %lld is resident after its release", (long long)l);
        model_layer_release(g.m, l);   /* a resident model keeps its blocks */
        cr_expect_not_null(model_tensor_data(g.m, name, &n), "the resident model lost block %lld", (long long)l);
    }
    cr_expect(memcmp(x, y, sizeof(float) * (size_t)(T * d)) == 0, "streamed and resident blocks differ");
    float logits[512];
    cr_expect_eq(model_forward(s, g.c, toks, 1, 0, logits), IG_EINVAL);
    cr_expect_eq(model_layer_load(s, hp->n_layer), IG_EINVAL);
    free(x);
    free(y);
    model_destroy(s);
    unload(&g);
}
