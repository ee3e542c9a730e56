/* test_iq4_xs_convert.c — `ingot convert --type IQ4_XS` writes llama-quantize's IQ4_XS file,
 * and llama.cpp's IQ/TQ/MXFP4 files are accepted as sources to re-quantize from.
 *
 * Goldens (tests/data/iq_goldens/README.md says how each was made):
 *   - tl3m-IQ4_XS.llama-quantize.txt: llama.cpp's llama_model_quantize (node-llama-cpp's
 *     libllama, ftype 30 = IQ4_XS, no imatrix) on shared/data/peers/tl3m/tl3m-F16.gguf, one
 *     line per tensor with the xxh3-64 of its bytes;
 *   - shared/data/peers/tl3m-more/tl3m-imx-IQ4_XS.gguf: llama-quantize with the tl3m imatrix;
 *   - synth-gqa4-IQ4_XS.llama-quantize.txt: the same library on an 8-layer model with 4 query
 *     heads per kv head (ingot synth, converted to F16: synth-gqa4-F16.ingot.txt), where the
 *     IQ4_XS mix gives attn_v Q5_K (n_gqa >= 4) and ffn_down of layer 0 Q5_K (i < n/8).
 * The mix rules themselves are also checked by hand from llama-quant.cpp's
 * llama_tensor_get_type (gguf-facts.md, section 4). Suite: iq4_xs_convert.
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "convert/mix.h"
#include "formats/ggml_type.h"
#include "formats/gguf.h"
#include "formats/gguf_meta.h"
#include "quantizers/quant_type.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- helpers ---------------------------------------------------------------------------- */

static const char *convert(const char *src, const char *out_name, const char *type, const char *imatrix)
{
    static char out[4200];
    snprintf(out, sizeof out, "%s/%s", test_tmp_dir(), out_name);
    struct test_run r;
    const char *argv[] = {"convert", src, "-o", out, "--type", type, "-q", imatrix ? "--imatrix" : NULL, imatrix, NULL};
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    return out;
}

/* Every tensor of path against a golden list "name type NExNE bytes xxh3"; returns the count. */
static int expect_tensors(const char *path, const char *golden_rel)
{
    struct gguf_file *g;
    cr_assert_eq(gguf_open(&g, path), 0, "%s", ig_error_message());
    FILE *f = fopen(test_fixture_path(golden_rel), "r");
    cr_assert_not_null(f, "tests/data/%s missing", golden_rel);
    char name[128], shape[64];
    int type, n = 0;
    unsigned long long bytes, want;
    while (fscanf(f, "%127s %d %63s %llu %llx", name, &type, shape, &bytes, &want) == 5) {
        cr_assert_lt(n, gguf_n_tensors(g), "%s: fewer tensors than %s", path, golden_rel);
        const struct gguf_tensor_info *t = gguf_tensor_at(g, n++);
        cr_expect_str_eq(t->name, name, "tensor %d", n - 1);
        cr_expect_eq(t->type, type, "%s: %s, llama-quantize wrote %s", name, ggml_type_name(t->type),
                     ggml_type_name(type));
        cr_expect_eq(t->size_bytes, bytes, "%s: bytes", name);
        cr_expect_eq(XXH3_64bits(t->data, (size_t)t->size_bytes), (uint64_t)want, "%s: data differs", name);
    }
    fclose(f);
    cr_expect_eq(n, gguf_n_tensors(g), "%s: tensor count", path);
    gguf_close(g);
    return n;
}

/* ---- the mix, by hand --------------------------------------------------------------------- */

Test(iq4_xs_convert, mix_rules_follow_llama_tensor_get_type)
{
    struct mix_state s = {.ftype = LLAMA_FTYPE_MOSTLY_IQ4_XS, .default_type = GGML_TYPE_IQ4_XS, .n_gqa = 4,
                          .has_output = true, .n_attention_wv = 16, .n_ffn_down = 16};
    cr_expect_eq(mix_tensor_type(&s, "output.weight", 4096), GGML_TYPE_Q6_K);
    cr_expect_eq(mix_tensor_type(&s, "token_embd.weight", 4096), GGML_TYPE_IQ4_XS);
    cr_expect_eq(mix_tensor_type(&s, "blk.0.attn_q.weight", 4096), GGML_TYPE_IQ4_XS);
    cr_expect_eq(mix_tensor_type(&s, "blk.0.attn_v.weight", 4096), GGML_TYPE_Q5_K, "n_gqa >= 4");
    /* ffn_down: the first n/8 = 2 layers get Q5_K without an imatrix */
    cr_expect_eq(mix_tensor_type(&s, "blk.0.ffn_down.weight", 4096), GGML_TYPE_Q5_K);
    cr_expect_eq(mix_tensor_type(&s, "blk.1.ffn_down.weight", 4096), GGML_TYPE_Q5_K);
    cr_expect_eq(mix_tensor_type(&s, "blk.2.ffn_down.weight", 4096), GGML_TYPE_IQ4_XS);
    cr_expect_eq(mix_tensor_type(&s, "blk.2.attn_output.weight", 4096), GGML_TYPE_IQ4_XS);
    /* a row of 96 is not whole 256-blocks: IQ4_XS falls back to IQ4_NL */
    cr_expect_eq(mix_tensor_type(&s, "blk.3.ffn_up.weight", 96), GGML_TYPE_IQ4_NL);
    struct mix_state t = {.ftype = LLAMA_FTYPE_MOSTLY_IQ4_XS, .default_type = GGML_TYPE_IQ4_XS, .n_gqa = 2,
                          .has_output = true, .has_imatrix = true, .n_attention_wv = 16, .n_ffn_down = 16};
    cr_expect_eq(mix_tensor_type(&t, "blk.0.attn_v.weight", 4096), GGML_TYPE_IQ4_XS, "n_gqa 2");
    cr_expect_eq(mix_tensor_type(&t, "blk.0.ffn_down.weight", 4096), GGML_TYPE_IQ4_XS, "with an imatrix");
}

/* ---- whole files ------------------------------------------------------------------------- */

Test(iq4_xs_convert, tl3m_without_imatrix_is_llama_quantizes_file, .timeout = 120)
{
    const char *src = test_shared_path("peers/tl3m/tl3m-F16.gguf");
    if (!src)
        cr_skip_test("shared/data/peers/tl3m is absent");
    const char *out = convert(src, "tl3m-IQ4_XS.gguf", "IQ4_XS", NULL);
    cr_expect_eq(expect_tensors(out, "iq_goldens/tl3m-IQ4_XS.llama-quantize.txt"), 39);
    struct gguf_file *g;
    cr_assert_eq(gguf_open(&g, out), 0);
    uint32_t ft = 0;
    cr_expect_eq(gguf_get_u32(g, "general.file_type", &ft), 0);
    cr_expect_eq(ft, 30u, "general.file_type");
    gguf_close(g);
}

Test(iq4_xs_convert, tl3m_with_imatrix_is_llama_quantizes_file, .timeout = 120)
{
    const char *src = test_shared_path("peers/tl3m/tl3m-F16.gguf");
    const char *im = test_shared_path("peers/tl3m/tl3m-imatrix.gguf");
    const char *gold = test_shared_path("peers/tl3m-more/tl3m-imx-IQ4_XS.gguf");
    if (!src || !im || !gold)
        cr_skip_test("shared/data/peers/tl3m or tl3m-more is absent");
    char gold_path[4200];
    snprintf(gold_path, sizeof gold_path, "%s", gold);
    const char *out = convert(src, "tl3m-imx-IQ4_XS.gguf", "IQ4_XS", im);
    struct gguf_file *a, *b;
    cr_assert_eq(gguf_open(&a, out), 0, "%s", ig_error_message());
    cr_assert_eq(gguf_open(&b, gold_path), 0, "%s", ig_error_message());
    cr_assert_eq(gguf_n_tensors(a), gguf_n_tensors(b));
    for (int64_t i = 0; i < gguf_n_tensors(a); i++) {
        const struct gguf_tensor_info *x = gguf_tensor_at(a, i), *y = gguf_tensor_at(b, i);
        cr_expect_str_eq(x->name, y->name);
        cr_expect(x->type == y->type && x->size_bytes == y->size_bytes &&
                      memcmp(x->data, y->data, (size_t)x->size_bytes) == 0,
                  "%s: %s vs llama-quantize's %s, or its bytes differ", x->name, ggml_type_name(x->type),
                  ggml_type_name(y->type));
    }
    /* llama-quantize's metadata, ingot.* and the imatrix path (as typed) aside */
    int64_t j = 0;
    for (int64_t i = 0; i < gguf_n_kv(a); i++) {
        const struct gguf_kv *x = gguf_kv_at(a, i);
        if (x->key.len >= 6 && memcmp(x->key.data, "ingot.", 6) == 0)
            continue;
        const struct gguf_kv *y = gguf_kv_at(b, j++);
        cr_assert_not_null(y);
        cr_expect(x->key.len == y->key.len && memcmp(x->key.data, y->key.data, x->key.len) == 0, "key %lld",
                  (long long)j);
        if (!gguf_str_eq(x->key, "quantize.imatrix.file"))
            cr_expect(x->value_bytes == y->value_bytes && memcmp(x->value, y->value, x->value_bytes) == 0,
                      "key %.*s differs", (int)x->key.len, x->key.data);
    }
    cr_expect_eq(j, gguf_n_kv(b));
    gguf_close(a);
    gguf_close(b);
}

Test(iq4_xs_convert, gqa4_eight_layers_take_llamas_q5_k_tensors, .timeout = 180)
{
    const char *dir = test_tmp_dir();
    char model[4200], f16[4200];
    snprintf(model, sizeof model, "%s/syn", dir);
    snprintf(f16, sizeof f16, "%s/syn-F16.gguf", dir);
    struct test_run r;
    const char *synth[] = {"synth", "-o", model, "--seed", "5", "--dim", "256", "--layers", "8", "--heads", "8",
                           "--kv-heads", "2", "--ff", "512", "--corpus-lines", "4", NULL};
    test_run_ingot(&r, synth);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    const char *to_f16[] = {"convert", model, "-o", f16, "--type", "F16", "-q", NULL};
    test_run_ingot(&r, to_f16);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    /* the source the golden was made from: if synth changed, regenerate the goldens (README) */
    cr_assert_eq(expect_tensors(f16, "iq_goldens/synth-gqa4-F16.ingot.txt"), 75);
    cr_expect_eq(expect_tensors(convert(f16, "syn-IQ4_XS.gguf", "IQ4_XS", NULL),
                                "iq_goldens/synth-gqa4-IQ4_XS.llama-quantize.txt"),
                 75);
}

/* ---- llama.cpp's files as sources ---------------------------------------------------------- */

Test(iq4_xs_convert, iq3_s_file_requantizes_to_q8_0_with_a_warning, .timeout = 120)
{
    const char *src = test_shared_path("peers/tl3m-more/tl3m-imx-IQ3_S.gguf");
    if (!src)
        cr_skip_test("shared/data/peers/tl3m-more is absent");
    char src_path[4200], out[4200];
    snprintf(src_path, sizeof src_path, "%s", src);
    snprintf(out, sizeof out, "%s/q8.gguf", test_tmp_dir());
    struct test_run r;
    const char *refused[] = {"convert", src_path, "-o", out, "--type", "Q8_0", NULL};
    test_run_ingot(&r, refused);
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "IQ3_S") && strstr(r.err, "--allow-requantize"), "%s", r.err);
    const char *argv[] = {"convert", src_path, "-o", out, "--type", "Q8_0", "--allow-requantize", NULL};
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.err, "warning") && strstr(r.err, "IQ3_S"), "%s", r.err);
    const char *check[] = {"check", out, NULL};
    test_run_ingot(&r, check);
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    /* each tensor is llama.cpp's IQ3_S dequantized, then quantized to Q8_0 */
    struct gguf_file *a, *b;
    cr_assert_eq(gguf_open(&a, src_path), 0);
    cr_assert_eq(gguf_open(&b, out), 0);
    const struct gguf_tensor_info *s = gguf_tensor_at(a, gguf_find_tensor(a, "blk.1.ffn_up.weight"));
    const struct gguf_tensor_info *q = gguf_tensor_at(b, gguf_find_tensor(b, "blk.1.ffn_up.weight"));
    cr_assert_eq(s->type, GGML_TYPE_IQ3_S);
    cr_assert_eq(q->type, GGML_TYPE_Q8_0);
    const int64_t n = s->ne[0] * s->ne[1];
    float *y = malloc((size_t)n * sizeof *y);
    uint8_t *want = malloc((size_t)q->size_bytes);
    quant_type_get(GGML_TYPE_IQ3_S)->dequantize_row_ref(s->data, y, n);
    const struct quant_type *q8 = quant_type_get(GGML_TYPE_Q8_0);
    for (int64_t row = 0; row < s->ne[1]; row++)
        q8->quantize_row_ref(y + row * s->ne[0], want + row * quant_row_size_bytes(q8, s->ne[0]), s->ne[0], NULL);
    cr_expect_eq(memcmp(want, q->data, (size_t)q->size_bytes), 0);
    free(y);
    free(want);
    gguf_close(a);
    gguf_close(b);
}

Test(iq4_xs_convert, read_only_types_are_refused_as_targets)
{
    const char *src = test_shared_path("peers/tl3m/tl3m-F16.gguf");
    if (!src)
        cr_skip_test("shared/data/peers/tl3m is absent");
    char out[4200];
    snprintf(out, sizeof out, "%s/x.gguf", test_tmp_dir());
    struct test_run r;
    const char *argv[] = {"convert", src, "-o", out, "--type", "IQ2_XXS", NULL};
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "IQ2_XXS"), "%s", r.err);
}
