/* test_packed.c — packed weights: the backend's matmul_rows against matmul, and a packed model
 * against the resident one.
 *
 * The reference is the existing resident path (every weight dequantized whole by
 * tensor_fetch_f32, then kernels/cpu's matmul), not a new computation: a packed weight must give
 * the same bits, tile by tile, for every type in the type table, any thread count, and a row
 * count that is no multiple of the tile (150 = 2 x 64 + 22).
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/ggml_type.h"
#include "formats/model_src.h"
#include "kernels/backend.h"
#include "model/llama.h"
#include "model/tensor_f32.h"
#include "quantizers/quant_type.h"

#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64 → roughly normal floats (sum of 4 uniforms), seeded */
static float rnd(uint64_t *s)
{
    float acc = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        acc += (float)(z >> 40) / (float)(1 << 24) - 0.5f;
    }
    return acc;
}

static int rows_of(void *ctx, int64_t row0, int64_t n_rows, float *dst)
{
    return tensor_rows_f32_checked(NULL, ctx, row0, n_rows, dst);
}

Test(packed, matmul_rows_equals_matmul_for_every_type, .timeout = 300)
{
    const int64_t n = 37, k = 512, m = 150;   /* k: whole blocks of 32, 64, 128 and 256 */
    const uint64_t seed = 11;
    uint64_t s = seed;
    float *W = malloc(sizeof(float) * (size_t)(m * k)), *Wf = malloc(sizeof(float) * (size_t)(m * k));
    float *X = malloc(sizeof(float) * (size_t)(n * k)), *bias = malloc(sizeof(float) * (size_t)m);
    float *Y1 = malloc(sizeof(float) * (size_t)(n * m)), *Y2 = malloc(sizeof(float) * (size_t)(n * m));
    float *imp = malloc(sizeof(float) * (size_t)k);
    for (int64_t i = 0; i < m * k; i++)
        W[i] = rnd(&s) * 0.05f;
    for (int64_t i = 0; i < n * k; i++)
        X[i] = rnd(&s);
    for (int64_t i = 0; i < m; i++)
        bias[i] = rnd(&s);
    for (int64_t i = 0; i < k; i++)
        imp[i] = 1.0f + (float)(i % 7);
    const struct backend *be = backend_cpu();
    int tested = 0;
    for (size_t ti = 0; quant_type_at(ti); ti++) {
        const struct quant_type *qt = quant_type_at(ti);
        if (!qt->quantize_row_ref || !qt->dequantize_row_ref || k % qt->block_elems != 0) {
            cr_log_info("type %s: skipped (not writable, or %lld is not whole blocks of %lld)", qt->name,
                        (long long)k, (long long)qt->block_elems);
            continue;
        }
        const size_t row_bytes = quant_row_size_bytes(qt, k);
        uint8_t *data = malloc(row_bytes * (size_t)m);
        int qrc = 0;
        for (int64_t r = 0; r < m && !qrc; r++)
            qrc = qt->quantize_row_ref(W + r * k, data + (size_t)r * row_bytes, k, imp);
        cr_assert_eq(qrc, 0, "type %s: quantize: %s", qt->name, ig_error_message());
        struct src_tensor t;
        memset(&t, 0, sizeof t);
        snprintf(t.name, sizeof t.name, "blk.0.ffn_up.weight");
        t.n_dims = 2;
        t.ne[0] = k, t.ne[1] = m, t.ne[2] = t.ne[3] = 1;
        t.type = qt->id;
        t.data = data;
        t.size_bytes = row_bytes * (size_t)m;
        t.file = "test";
        cr_assert_eq(tensor_fetch_f32(NULL, &t, Wf), 0, "type %s: %s", qt->name, ig_error_message());
        cr_assert_eq(be->matmul(X, n, k, Wf, m, bias, Y1), 0);
        const int threads[] = {1, 3};
        for (int th = 0; th < 2; th++) {
            omp_set_num_threads(threads[th]);
            memset(Y2, 0xff, sizeof(float) * (size_t)(n * m));
            cr_assert_eq(be->matmul_rows(X, n, k, rows_of, &t, m, bias, Y2), 0, "type %s: %s", qt->name,
                         ig_error_message());
            int64_t bad = -1;
            for (int64_t i = 0; i < n * m && bad < 0; i++)
                if (memcmp(&Y1[i], &Y2[i], sizeof(float)) != 0)
                    bad = i;
            cr_expect_eq(bad, -1, "type %s, %d threads, seed %llu: Y[%lld][%lld] = %a, matmul gives %a", qt->name,
                         threads[th], (unsigned long long)seed, (long long)(bad / m), (long long)(bad % m),
                         bad >= 0 ? (double)Y2[bad] : 0.0, bad >= 0 ? (double)Y1[bad] : 0.0);
        }
        tested++;
        free(data);
    }
    cr_expect_geq(tested, 10, "only %d types were tested", tested);
    free(W), free(Wf), free(X), free(bias), free(Y1), free(Y2), free(imp);
}

/* A NaN in tile 3 (row 200) and one in tile 0 (row 5): the message names row 5, with any
 * thread count, as tensor_fetch_f32 names it for the whole matrix. */
Test(packed, matmul_rows_names_the_first_nan_row)
{
    const int64_t n = 3, k = 32, m = 256;
    float *W = calloc((size_t)(m * k), sizeof(float)), *X = calloc((size_t)(n * k), sizeof(float));
    float *Y = malloc(sizeof(float) * (size_t)(n * m));
    W[200 * k + 7] = NAN;
    W[5 * k + 3] = NAN;
    struct src_tensor t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "blk.0.ffn_down.weight");
    t.n_dims = 2;
    t.ne[0] = k, t.ne[1] = m, t.ne[2] = t.ne[3] = 1;
    t.type = GGML_TYPE_F32;
    t.data = (const uint8_t *)W;
    t.size_bytes = sizeof(float) * (size_t)(m * k);
    t.file = "w.gguf";
    const int threads[] = {1, 2, 3};
    for (int th = 0; th < 3; th++) {
        omp_set_num_threads(threads[th]);
        int rc = backend_cpu()->matmul_rows(X, n, k, rows_of, &t, m, NULL, Y);
        cr_expect_eq(rc, IG_EINVAL, "%d threads", threads[th]);
        cr_expect(strstr(ig_error_message(), "w.gguf: tensor 'blk.0.ffn_down.weight': row 5: element 3 is NaN"),
                  "%d threads: %s", threads[th], ig_error_message());
    }
    free(W), free(X), free(Y);
}

/* ---- whole models ----------------------------------------------------------------------------- */

/* Logits of two windows through a packed model (both windows in one batch) equal the resident
 * model's, window by window, bit for bit. */
static void packed_equals_resident(const char *rel, int64_t T)
{
    const char *p = test_shared_path(rel);
    if (!p)
        cr_skip_test("../shared/data is missing");
    struct model_src *src = NULL;
    struct model *r = NULL, *k = NULL;
    struct model_ctx *cr = NULL, *ck = NULL;
    cr_assert_eq(model_src_open(&src, p, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_create(&r, src, tensor_fetch_f32, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_create_packed(&k, src, tensor_rows_f32_checked, NULL), 0, "%s", ig_error_message());
    cr_expect(model_is_packed(k) && !model_is_packed(r));
    const struct model_hparams *hp = model_hparams(r);
    const int64_t d = hp->n_embd, V = hp->n_vocab;
    cr_assert_eq(model_ctx_create(&cr, r, T), 0);
    cr_assert_eq(model_ctx_create(&ck, k, 2 * T), 0);
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)(2 * T));
    for (int64_t i = 0; i < 2 * T; i++)
        toks[i] = (int32_t)((i * 7919 + 13) % V);
    float *x = malloc(sizeof(float) * (size_t)(2 * T * d));
    float *lr = malloc(sizeof(float) * (size_t)(2 * T * V)), *lk = malloc(sizeof(float) * (size_t)(2 * T * V));
    for (int w = 0; w < 2; w++)
        cr_assert_eq(model_forward(r, cr, toks + w * T, T, 0, lr + w * T * V), 0, "%s", ig_error_message());
    cr_assert_eq(model_embed(k, toks, 2 * T, x), 0, "%s", ig_error_message());
    int64_t n_el = 0;
    for (int64_t l = 0; l < hp->n_layer; l++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%lld.attn_q.weight", (long long)l);
        cr_assert_eq(model_layer_load(k, l), 0, "%s", ig_error_message());
        cr_expect_null(model_tensor_data(k, name, &n_el), "a packed matrix has no fp32 copy");
        cr_assert_eq(model_block_forward_batch(k, ck, l, x, 2, T), 0, "%s", ig_error_message());
        model_layer_release(k, l);
        cr_expect_eq(model_block_forward_batch(k, ck, l, x, 2, T), IG_EINVAL, "block %lld released", (long long)l);
    }
    cr_assert_eq(model_output(k, ck, x, 2 * T, lk), 0, "%s", ig_error_message());
    int64_t bad = -1;
    for (int64_t i = 0; i < 2 * T * V && bad < 0; i++)
        if (memcmp(&lr[i], &lk[i], sizeof(float)) != 0)
            bad = i;
    cr_expect_eq(bad, -1, "%s: logit %lld (window %lld): packed %a, resident %a", rel, (long long)bad,
                 (long long)(bad / (T * V)), bad >= 0 ? (double)lk[bad] : 0.0, bad >= 0 ? (double)lr[bad] : 0.0);
    cr_expect_eq(model_forward(k, ck, toks, T, 0, lk), IG_EINVAL, "model_forward needs resident blocks");
    free(toks), free(x), free(lr), free(lk);
    model_ctx_destroy(cr);
    model_ctx_destroy(ck);
    model_destroy(r);
    model_destroy(k);
    model_src_close(src);
}

Test(packed, f32_gguf_model_equals_resident, .timeout = 120)
{
    packed_equals_resident("gguf-stories260K/stories260K.gguf", 48);
}

/* HF safetensors in F16: Q/K rows permuted back a tile at a time */
Test(packed, hf_f16_model_equals_resident, .timeout = 120)
{
    packed_equals_resident("tl3m", 40);
}

Test(packed, q4_k_m_model_equals_resident, .timeout = 120)
{
    packed_equals_resident("peers/tl3m/tl3m-Q4_K_M.gguf", 40);
}

Test(packed, block_size_counts_the_file_bytes)
{
    const char *p = test_shared_path("peers/tl3m/tl3m-Q4_K_M.gguf");
    if (!p)
        cr_skip_test("../shared/data is missing");
    struct model_src *src = NULL;
    struct model *k = NULL;
    cr_assert_eq(model_src_open(&src, p, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_create_packed(&k, src, tensor_rows_f32_checked, NULL), 0, "%s", ig_error_message());
    uint64_t sum = model_block_size_bytes(k, -1);
    for (int64_t l = 0; l < model_hparams(k)->n_layer; l++)
        sum += model_block_size_bytes(k, l);
    uint64_t want = 0;   /* every tensor but the embedding and the final norm */
    for (int64_t i = 0; i < src->n_tensors; i++)
        if (strcmp(src->tensors[i].name, "token_embd.weight") && strcmp(src->tensors[i].name, "output_norm.weight"))
            want += src->tensors[i].size_bytes;
    cr_expect_eq(sum, want, "blocks and output: %llu bytes, the file's tensors %llu", (unsigned long long)sum,
                 (unsigned long long)want);
    model_destroy(k);
    model_src_close(src);
}
