/* test_convert_cli.c — `ingot convert`, `inspect` and `check` as a user runs them.
 *
 * Goldens are files written by llama.cpp's own tools (../shared/data, PROVENANCE.md):
 *   - gguf-stories260K/stories260K.gguf: convert-llama2c-to-ggml from stories260K.bin (F32)
 *   - peers/tl3m/tl3m-F16.gguf: llama.cpp's HF converter on tl3m, --outtype f16
 *   - peers/stories260K/stories260K-F16.gguf: llama-quantize F16 from stories260K.gguf
 * A conversion passes when every tensor has the golden's name, type, shape and bytes.
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/gguf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SKIP_WITHOUT(p)                                                                            \
    do {                                                                                           \
        if (!(p))                                                                                  \
            cr_skip_test("../shared/data is missing (set INGOT_DATA)");                            \
    } while (0)

/* Run `ingot convert src -o <tmp>/name extra...` and return the output path. */
static const char *convert(const char *src, const char *name, const char *type, const char *extra)
{
    static char out[4][4200];
    static int next;
    char *o = out[next++ % 4];
    snprintf(o, sizeof out[0], "%s/%s", test_tmp_dir(), name);
    struct test_run r;
    const char *argv[] = {"convert", src, "-o", o, "--type", type, "-q", extra, NULL};
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "ingot convert %s failed (%d): %s", src, r.exit_code, r.err);
    return o;
}

/* Every tensor of golden must appear in ours with the same type, shape and bytes; and
 * ours has no tensor the golden lacks unless allow_extra. Returns tensors compared. */
static int64_t expect_same_tensors(const char *ours_path, const char *golden_path)
{
    struct gguf_file *ours, *gold;
    cr_assert_eq(gguf_open(&ours, ours_path), 0, "%s", ig_error_message());
    cr_assert_eq(gguf_open(&gold, golden_path), 0, "%s", ig_error_message());
    cr_expect_eq(gguf_n_tensors(ours), gguf_n_tensors(gold), "tensor count");
    int64_t n = 0;
    for (int64_t i = 0; i < gguf_n_tensors(gold); i++) {
        const struct gguf_tensor_info *g = gguf_tensor_at(gold, i);
        const struct gguf_tensor_info *o = gguf_tensor_at(ours, gguf_find_tensor(ours, g->name));
        cr_expect_not_null(o, "tensor '%s' missing from ingot's file", g->name);
        if (!o)
            continue;
        cr_expect_eq(o->type, g->type, "'%s' type", g->name);
        cr_expect_eq(memcmp(o->ne, g->ne, sizeof o->ne), 0, "'%s' shape", g->name);
        cr_expect_eq(o->size_bytes, g->size_bytes, "'%s' size", g->name);
        if (o->size_bytes == g->size_bytes)
            cr_expect_eq(memcmp(o->data, g->data, (size_t)o->size_bytes), 0, "'%s' bytes differ", g->name);
        n++;
    }
    gguf_close(ours);
    gguf_close(gold);
    return n;
}

Test(convert_cli, hf_stories260K_f32_is_bit_identical_to_the_third_party_gguf)
{
    const char *src = test_shared_path("hf-stories260K-f32");
    const char *gold = test_shared_path("gguf-stories260K/stories260K.gguf");
    SKIP_WITHOUT(src && gold);
    cr_expect_eq(expect_same_tensors(convert(src, "s.gguf", "F32", NULL), gold), 48);
}

Test(convert_cli, llama2c_checkpoint_is_bit_identical_to_the_third_party_gguf)
{
    const char *src = test_shared_path("llama2c-stories260K/stories260K.bin");
    const char *gold = test_shared_path("gguf-stories260K/stories260K.gguf");
    SKIP_WITHOUT(src && gold);
    cr_expect_eq(expect_same_tensors(convert(src, "s.gguf", "F32", NULL), gold), 48);
}

Test(convert_cli, tl3m_f16_matches_llama_cpp_conversion)
{
    const char *src = test_shared_path("tl3m");
    const char *gold = test_shared_path("peers/tl3m/tl3m-F16.gguf");
    SKIP_WITHOUT(src && gold);
    const char *out = convert(src, "t.gguf", "F16", NULL);
    cr_expect_eq(expect_same_tensors(out, gold), 39);
    /* and the metadata llama.cpp's loader reads, with the exact types it demands */
    struct gguf_file *g;
    cr_assert_eq(gguf_open(&g, out), 0);
    uint32_t u;
    float f;
    bool b;
    cr_expect_eq(gguf_get_u32(g, "llama.block_count", &u), 0);
    cr_expect_eq(u, 4);
    cr_expect_eq(gguf_get_u32(g, "llama.attention.head_count_kv", &u), 0);
    cr_expect_eq(u, 4);
    cr_expect_eq(gguf_get_u32(g, "llama.rope.dimension_count", &u), 0);
    cr_expect_eq(u, 32);
    cr_expect_eq(gguf_get_u32(g, "general.file_type", &u), 0);
    cr_expect_eq(u, 1, "MOSTLY_F16");
    cr_expect_eq(gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &f), 0);
    cr_expect_eq(f, 1e-5f);
    cr_expect_eq(gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b), 0);
    cr_expect(b);
    gguf_close(g);
}

Test(convert_cli, gguf_f32_to_f16_matches_llama_quantize)
{
    const char *src = test_shared_path("gguf-stories260K/stories260K.gguf");
    const char *gold = test_shared_path("peers/stories260K/stories260K-F16.gguf");
    SKIP_WITHOUT(src && gold);
    cr_expect_eq(expect_same_tensors(convert(src, "s16.gguf", "F16", NULL), gold), 48);
}

Test(convert_cli, tinystories_656K_tied_embedding_under_lm_head)
{
    const char *src = test_shared_path("hf-TinyStories-656K");
    SKIP_WITHOUT(src);
    const char *out = convert(src, "ts.gguf", "F32", NULL);
    struct gguf_file *g;
    cr_assert_eq(gguf_open(&g, out), 0);
    const struct gguf_tensor_info *e = gguf_tensor_at(g, gguf_find_tensor(g, "token_embd.weight"));
    const struct gguf_tensor_info *o = gguf_tensor_at(g, gguf_find_tensor(g, "output.weight"));
    cr_assert(e && o, "both token_embd.weight and output.weight are written");
    cr_expect_eq(e->ne[0], 128);
    cr_expect_eq(e->ne[1], 2048);
    cr_expect_eq(memcmp(e->data, o->data, (size_t)e->size_bytes), 0, "the same matrix");
    char model[16];
    cr_expect_eq(gguf_get_str(g, "tokenizer.ggml.model", model, sizeof model), 0);
    cr_expect_str_eq(model, "llama");
    gguf_close(g);
    /* --tie-embeddings leaves output.weight out, as llama.cpp's HF converter does */
    out = convert(src, "ts-tied.gguf", "F16", "--tie-embeddings");
    cr_assert_eq(gguf_open(&g, out), 0);
    cr_expect_lt(gguf_find_tensor(g, "output.weight"), 0);
    cr_expect_eq(gguf_n_tensors(g), 20);
    gguf_close(g);
}

Test(convert_cli, bf16_follows_ggml_rounding)
{
    const char *src = test_fixture_path("tiny-llama");
    const char *out = convert(src, "b.gguf", "BF16", NULL);
    struct gguf_file *g;
    cr_assert_eq(gguf_open(&g, out), 0);
    const struct gguf_tensor_info *t = gguf_tensor_at(g, gguf_find_tensor(g, "blk.0.attn_v.weight"));
    cr_assert_not_null(t);
    cr_expect_eq(t->type, 30, "BF16 is ggml type 30");
    const struct gguf_tensor_info *n = gguf_tensor_at(g, gguf_find_tensor(g, "blk.0.attn_norm.weight"));
    cr_expect_eq(n->type, 0, "norms stay F32");
    /* norm values from make_tiny.py: 1.0 - 0.01 i, stored as float32 */
    float v;
    memcpy(&v, n->data + 4 * 7, 4);
    cr_expect_eq(v, (float)(1.0 - 0.01 * 7));
    gguf_close(g);
}

Test(convert_cli, same_input_gives_identical_files)
{
    const char *src = test_fixture_path("tiny-llama");
    size_t na, nb;
    uint8_t *a = test_read_file(convert(src, "a.gguf", "F16", NULL), &na);
    uint8_t *b = test_read_file(convert(src, "b.gguf", "F16", NULL), &nb);
    cr_assert(a && b);
    cr_expect_eq(na, nb);
    cr_expect_eq(memcmp(a, b, na < nb ? na : nb), 0, "two conversions differ");
    free(a);
    free(b);
}

Test(convert_cli, check_passes_then_names_a_flipped_tensor)
{
    const char *out = convert(test_fixture_path("tiny-llama"), "c.gguf", "F16", NULL);
    struct test_run r;
    const char *argv[] = {"check", out, NULL};
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "every xxh3-64 checksum matches"), "%s", r.out);
    /* flip one bit inside blk.0.ffn_up.weight */
    struct gguf_file *g;
    cr_assert_eq(gguf_open(&g, out), 0);
    const struct gguf_tensor_info *t = gguf_tensor_at(g, gguf_find_tensor(g, "blk.0.ffn_up.weight"));
    uint64_t pos = gguf_data_offset(g) + t->offset + 77;
    gguf_close(g);
    size_t n;
    uint8_t *bytes = test_read_file(out, &n);
    bytes[pos] ^= 0x10;
    cr_assert_eq(test_write_file(out, bytes, n), 0);
    free(bytes);
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.out, "blk.0.ffn_up.weight"), "check must name the tensor: %s", r.out);
    cr_expect_null(strstr(r.out, "blk.0.ffn_gate.weight"), "and only that one: %s", r.out);
}

Test(convert_cli, check_without_checksums_checks_structure)
{
    const char *p = test_shared_path("peers/tl3m/tl3m-Q4_K_M.gguf");
    SKIP_WITHOUT(p);
    struct test_run r;
    const char *argv[] = {"check", p, NULL};
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "no checksums recorded"), "%s", r.out);
}

Test(convert_cli, inspect_lists_every_tensor_of_third_party_files)
{
    const char *files[] = {"gguf-stories260K/stories260K.gguf", "peers/tl3m/tl3m-Q4_K_M.gguf",
                           "peers/tl3m/tl3m-Q2_K.gguf", "peers/stories260K/stories260K-Q8_0.gguf"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        const char *p = test_shared_path(files[i]);
        SKIP_WITHOUT(p);
        struct test_run r;
        const char *argv[] = {"inspect", p, NULL};
        test_run_ingot(&r, argv);
        cr_expect_eq(r.exit_code, 0, "%s: %s", files[i], r.err);
        struct gguf_file *g;
        cr_assert_eq(gguf_open(&g, p), 0);
        for (int64_t k = 0; k < gguf_n_tensors(g); k++) {
            char line[128];
            snprintf(line, sizeof line, " %s ", gguf_tensor_at(g, k)->name);
            cr_expect(strstr(r.out, line), "%s: tensor %s not listed", files[i], gguf_tensor_at(g, k)->name);
        }
        cr_expect(strstr(r.out, "not written by ingot"), "%s", files[i]);
        gguf_close(g);
    }
}

Test(convert_cli, inspect_json_reports_provenance)
{
    const char *out = convert(test_fixture_path("tiny-llama"), "j.gguf", "F16", NULL);
    struct test_run r;
    const char *argv[] = {"inspect", out, "--json", NULL};
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 0);
    cr_expect(strstr(r.out, "\"provenance\""));
    cr_expect(strstr(r.out, "\"ingot.source.kind\": \"hf\""), "%s", r.out);
    cr_expect(strstr(r.out, "\"ingot.tensor_xxh3\""));
    cr_expect(strstr(r.out, "\"bits_per_weight\""));
}

Test(convert_cli, usage_errors_exit_2)
{
    struct test_run r;
    const char *a1[] = {"convert", test_fixture_path("tiny-llama"), NULL};
    test_run_ingot(&r, a1);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "-o"), "%s", r.err);
    const char *a2[] = {"convert", test_fixture_path("tiny-llama"), "-o", "/tmp/x.gguf", "--type", "Q9_9", NULL};
    test_run_ingot(&r, a2);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "Q9_9"), "%s", r.err);
    const char *a3[] = {"frobnicate", NULL};
    test_run_ingot(&r, a3);
    cr_expect_eq(r.exit_code, 2);
    const char *a4[] = {"convert", "/nonexistent/model", "-o", "/tmp/never.gguf", NULL};
    test_run_ingot(&r, a4);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "/nonexistent/model"), "%s", r.err);
}

Test(convert_cli, synth_demo_model_converts)
{
    const char *dir = test_tmp_dir();
    char model[4200];
    snprintf(model, sizeof model, "%s/demo", dir);
    struct test_run r;
    const char *argv[] = {"synth", "-o", model, "--seed", "7", "--corpus-lines", "10", NULL};
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    const char *out = convert(model, "demo.gguf", "F16", NULL);
    struct gguf_file *g;
    cr_assert_eq(gguf_open(&g, out), 0, "%s", ig_error_message());
    cr_expect_eq(gguf_n_tensors(g), 2 + 2 * 9 + 1);
    gguf_close(g);
    /* the same seed gives the same weights */
    char model2[4200];
    snprintf(model2, sizeof model2, "%s/demo2", dir);
    const char *argv2[] = {"synth", "-o", model2, "--seed", "7", "--corpus-lines", "10", NULL};
    test_run_ingot(&r, argv2);
    char p1[4300], p2[4300];
    snprintf(p1, sizeof p1, "%s/model.safetensors", model);
    snprintf(p2, sizeof p2, "%s/model.safetensors", model2);
    size_t n1, n2;
    uint8_t *a = test_read_file(p1, &n1), *b = test_read_file(p2, &n2);
    cr_assert(a && b);
    cr_expect(n1 == n2 && memcmp(a, b, n1) == 0);
    free(a);
    free(b);
}
