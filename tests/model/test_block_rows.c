/* test_block_rows.c — model_block_forward_rows and model_block_forward_seqs (model/llama.h): a
 * sequence run in pieces over a key/value cache, and several sequences at once, give the rows
 * model_block_forward gives on the whole sequence, bit for bit, on resident and packed weights.
 *
 * The reference is model_block_forward on the whole window (the existing path, itself checked
 * against llama.cpp in test_llama.c); the pieces must equal it exactly: the CPU backend computes
 * each output element alone in a fixed order, and attention_rows' row r is attention's row
 * pos0 + r (kernels/backend.h). tl3m's Q4_K_M file (../shared/data/peers/tl3m) gives the packed
 * weights; its resident model (every weight dequantized whole) is the reference for those.
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/model_src.h"
#include "model/llama.h"
#include "model/tensor_f32.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_TOK 40

static void tokens_of(int32_t *ids, int64_t n, int64_t n_vocab, int64_t seed)
{
    for (int64_t t = 0; t < n; t++)
        ids[t] = (int32_t)(t == 0 ? 1 : 3 + (t * (37 + seed) + seed) % (n_vocab - 3));
}

/* x [n][n_embd] after block 0 .. `layers` - 1 of m on ids, whole window. */
static float *whole(struct model *m, const int32_t *ids, int64_t n, int64_t layers)
{
    const int64_t d = model_hparams(m)->n_embd;
    struct model_ctx *c;
    cr_assert_eq(model_ctx_create(&c, m, n), 0);
    float *x = malloc(sizeof(float) * (size_t)(n * d));
    cr_assert_eq(model_embed(m, ids, n, x), 0);
    for (int64_t l = 0; l < layers; l++) {
        cr_assert_eq(model_layer_load(m, l), 0, "%s", ig_error_message());
        cr_assert_eq(model_block_forward(m, c, l, x, n), 0, "%s", ig_error_message());
    }
    model_ctx_destroy(c);
    return x;
}

/* The same in pieces [0, cut0), [cut0, cut1), [cut1, n) over per-block caches. */
static float *pieces(struct model *m, const int32_t *ids, int64_t n, int64_t layers, int64_t cut0, int64_t cut1)
{
    const struct model_hparams *hp = model_hparams(m);
    const int64_t d = hp->n_embd, kv = hp->n_head_kv * hp->head_dim;
    struct model_ctx *c;
    cr_assert_eq(model_ctx_create(&c, m, n), 0);
    float *x = malloc(sizeof(float) * (size_t)(n * d));
    float *K = malloc(sizeof(float) * (size_t)(layers * n * kv)), *V = malloc(sizeof(float) * (size_t)(layers * n * kv));
    const int64_t cut[4] = {0, cut0, cut1, n};
    for (int p = 0; p < 3; p++) {
        float *xp = x + cut[p] * d;
        cr_assert_eq(model_embed(m, ids + cut[p], cut[p + 1] - cut[p], xp), 0);
        for (int64_t l = 0; l < layers; l++) {
            cr_assert_eq(model_layer_load(m, l), 0, "%s", ig_error_message());
            cr_assert_eq(model_block_forward_rows(m, c, l, xp, cut[p + 1] - cut[p], cut[p], K + l * n * kv,
                                                  V + l * n * kv),
                         0, "%s", ig_error_message());
        }
    }
    free(K);
    free(V);
    model_ctx_destroy(c);
    return x;
}

static void open_model(struct model_src **src, struct model **m, const char *rel, int packed)
{
    const char *p = test_shared_path(rel);
    if (!p)
        cr_skip_test("../shared/data is missing");
    cr_assert_eq(model_src_open(src, p, NULL), 0, "%s", ig_error_message());
    int rc = packed ? model_create_packed(m, *src, tensor_rows_f32_checked, NULL)
                    : model_create(m, *src, tensor_fetch_f32, NULL);
    cr_assert_eq(rc, 0, "%s", ig_error_message());
}

Test(block_rows, pieces_over_a_cache_equal_the_whole_window, .timeout = 300)
{
    for (int packed = 0; packed < 2; packed++) {
        struct model_src *src, *src_r;
        struct model *m, *ref;
        open_model(&src, &m, "peers/tl3m/tl3m-Q4_K_M.gguf", packed);
        open_model(&src_r, &ref, "peers/tl3m/tl3m-Q4_K_M.gguf", 0);
        const int64_t layers = model_hparams(m)->n_layer, d = model_hparams(m)->n_embd;
        int32_t ids[N_TOK];
        tokens_of(ids, N_TOK, model_hparams(m)->n_vocab, 0);
        float *a = whole(ref, ids, N_TOK, layers), *b = pieces(m, ids, N_TOK, layers, 13, 14);
        cr_expect_eq(memcmp(a, b, sizeof(float) * (size_t)(N_TOK * d)), 0,
                     "%s: pieces 0..13, 13, 14..40 differ from the whole window", packed ? "packed" : "resident");
        free(a);
        free(b);
        model_destroy(m);
        model_destroy(ref);
        model_src_close(src);
        model_src_close(src_r);
    }
}

Test(block_rows, several_sequences_at_once_equal_each_alone, .timeout = 300)
{
    struct model_src *src;
    struct model *m;
    open_model(&src, &m, "peers/tl3m/tl3m-Q4_K_M.gguf", 1);
    const struct model_hparams *hp = model_hparams(m);
    const int64_t d = hp->n_embd, kv = hp->n_head_kv * hp->head_dim, layers = hp->n_layer;
    /* sequence 0: 25 tokens whole; sequence 1: 30 tokens, 18 cached then 12 new */
    int32_t s0[25], s1[30];
    tokens_of(s0, 25, hp->n_vocab, 1);
    tokens_of(s1, 30, hp->n_vocab, 2);
    float *ref0 = whole(m, s0, 25, layers), *ref1 = whole(m, s1, 30, layers);
    float *K1 = malloc(sizeof(float) * (size_t)(layers * 30 * kv)), *V1 = malloc(sizeof(float) * (size_t)(layers * 30 * kv));
    float *x = malloc(sizeof(float) * (size_t)((25 + 30) * d));
    struct model_ctx *c;
    cr_assert_eq(model_ctx_create(&c, m, 25 + 30), 0);
    cr_assert_eq(model_embed(m, s1, 18, x), 0);   /* sequence 1's first 18 rows into the cache */
    for (int64_t l = 0; l < layers; l++)
        cr_assert_eq(model_block_forward_rows(m, c, l, x, 18, 0, K1 + l * 30 * kv, V1 + l * 30 * kv), 0, "%s",
                     ig_error_message());
    cr_assert_eq(model_embed(m, s0, 25, x), 0);
    cr_assert_eq(model_embed(m, s1 + 18, 12, x + 25 * d), 0);
    for (int64_t l = 0; l < layers; l++) {
        const struct model_seq seq[2] = {{25, 0, NULL, NULL}, {12, 18, K1 + l * 30 * kv, V1 + l * 30 * kv}};
        cr_assert_eq(model_block_forward_seqs(m, c, l, x, 2, seq), 0, "%s", ig_error_message());
    }
    cr_expect_eq(memcmp(x, ref0, sizeof(float) * (size_t)(25 * d)), 0, "sequence 0 differs from its run alone");
    cr_expect_eq(memcmp(x + 25 * d, ref1 + 18 * d, sizeof(float) * (size_t)(12 * d)), 0,
                 "sequence 1's new rows differ from the whole window's");
    /* a sequence past position 0 with no cache is refused */
    const struct model_seq bad = {4, 3, NULL, NULL};
    cr_expect_eq(model_block_forward_seqs(m, c, 0, x, 1, &bad), IG_EINVAL);
    free(ref0);
    free(ref1);
    free(K1);
    free(V1);
    free(x);
    model_ctx_destroy(c);
    model_destroy(m);
    model_src_close(src);
}
