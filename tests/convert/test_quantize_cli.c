/* test_quantize_cli.c — `ingot convert --type <mix>` writes llama-quantize's file.
 *
 * Golden: llama-quantize's outputs from the same F16 GGUF (../shared/data/peers/tl3m,
 * PROVENANCE: peers/README.md). Apart from ingot's own keys (ingot.*), every metadata key
 * (name, type, value bytes, order), every tensor info and every data byte must be equal.
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/gguf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_ingot(const struct gguf_kv *kv)
{
    return kv->key.len >= 6 && memcmp(kv->key.data, "ingot.", 6) == 0;
}

/* Compare everything but ingot.* keys and the keys named in skip (NULL-terminated). */
static void expect_same_file(const char *ours_path, const char *gold_path, const char *const *skip)
{
    struct gguf_file *a, *b;
    cr_assert_eq(gguf_open(&a, ours_path), 0, "%s", ig_error_message());
    cr_assert_eq(gguf_open(&b, gold_path), 0, "%s", ig_error_message());
    int64_t j = 0;
    for (int64_t i = 0; i < gguf_n_kv(a); i++) {
        const struct gguf_kv *x = gguf_kv_at(a, i);
        if (is_ingot(x))
            continue;
        const struct gguf_kv *y = gguf_kv_at(b, j++);
        cr_assert_not_null(y, "%s: extra key %.*s", gold_path, (int)x->key.len, x->key.data);
        cr_expect(x->key.len == y->key.len && memcmp(x->key.data, y->key.data, x->key.len) == 0,
                  "key %lld: %.*s, llama-quantize has %.*s", (long long)j, (int)x->key.len, x->key.data,
                  (int)y->key.len, y->key.data);
        bool skipped = false;
        for (int k = 0; skip && skip[k]; k++)
            skipped |= gguf_str_eq(x->key, skip[k]);
        if (skipped)
            continue;
        cr_expect(x->type == y->type && x->elem_type == y->elem_type && x->count == y->count &&
                      x->value_bytes == y->value_bytes && memcmp(x->value, y->value, x->value_bytes) == 0,
                  "key %.*s differs", (int)x->key.len, x->key.data);
    }
    cr_expect_eq(j, gguf_n_kv(b), "key count");
    cr_assert_eq(gguf_n_tensors(a), gguf_n_tensors(b));
    for (int64_t i = 0; i < gguf_n_tensors(a); i++) {
        const struct gguf_tensor_info *x = gguf_tensor_at(a, i), *y = gguf_tensor_at(b, i);
        cr_expect_str_eq(x->name, y->name, "tensor %lld", (long long)i);
        cr_expect(x->type == y->type && x->offset == y->offset && x->size_bytes == y->size_bytes &&
                      memcmp(x->ne, y->ne, sizeof x->ne) == 0,
                  "tensor info of %s differs", x->name);
        if (x->size_bytes == y->size_bytes)
            cr_expect_eq(memcmp(x->data, y->data, (size_t)x->size_bytes), 0, "data of %s differs", x->name);
    }
    gguf_close(a);
    gguf_close(b);
}

static const char *quantize(const char *src, const char *type, const char *imatrix)
{
    static char out[4200];
    snprintf(out, sizeof out, "%s/%s.gguf", test_tmp_dir(), type);
    struct test_run r;
    const char *argv[] = {"convert", src, "-o", out, "--type", type, "-q", imatrix ? "--imatrix" : NULL, imatrix, NULL};
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    return out;
}

Test(quantize_cli, tl3m_mixes_are_llama_quantize_files)
{
    const char *src = test_shared_path("peers/tl3m/tl3m-F16.gguf");
    if (!src)
        cr_skip_test("../shared/data is missing");
    const char *mixes[] = {"Q4_K_M", "Q2_K", "Q4_0", "Q8_0"};
    for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++) {
        char gold[128];
        snprintf(gold, sizeof gold, "peers/tl3m/tl3m-%s.gguf", mixes[i]);
        expect_same_file(quantize(src, mixes[i], NULL), test_shared_path(gold), NULL);
    }
}

Test(quantize_cli, tl3m_imatrix_q4_k_m_is_llama_quantize_file)
{
    const char *src = test_shared_path("peers/tl3m/tl3m-F16.gguf");
    const char *im = test_shared_path("peers/tl3m/tl3m-imatrix.gguf");
    if (!src || !im)
        cr_skip_test("../shared/data is missing");
    /* quantize.imatrix.file holds the path as typed on the command line, which differs */
    const char *skip[] = {"quantize.imatrix.file", NULL};
    expect_same_file(quantize(src, "Q4_K_M", im), test_shared_path("peers/tl3m/tl3m-imx-Q4_K_M.gguf"), skip);
}

Test(quantize_cli, stories260K_q4_0_with_override)
{
    const char *src = test_shared_path("gguf-stories260K/stories260K.gguf");
    if (!src)
        cr_skip_test("../shared/data is missing");
    char out[4200];
    snprintf(out, sizeof out, "%s/s.gguf", test_tmp_dir());
    struct test_run r;
    const char *argv[] = {"convert", src, "-o", out, "--type", "Q4_0", "--tensor-type", "ffn_down=F16", "-q", NULL};
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    /* the peer files were made with llama.context_length overridden to 128 (their perplexity
     * runs use -c 128; the source says 2048), so that one value is not compared */
    const char *skip[] = {"llama.context_length", NULL};
    expect_same_file(out, test_shared_path("peers/stories260K/stories260K-Q4_0.gguf"), skip);
}
