/* test_gguf.c — GGUF writer/reader round trips, third-party files, atomic replacement.
 *
 * Goldens: files made by llama.cpp's own tools in ../shared/data (see PROVENANCE.md):
 * stories260K.gguf (convert-llama2c-to-ggml, 48 F32 tensors, 19 keys) and
 * ggml-vocab-llama-spm.gguf (vocab only, 0 tensors, 32000 tokens).
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/ggml_type.h"
#include "formats/gguf.h"
#include "formats/gguf_write.h"
#include "formats/vocab.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

static char out_dir[4096];
static char out_path[4200];

static const char *fresh_out(void)
{
    snprintf(out_dir, sizeof out_dir, "%s", test_tmp_dir());
    snprintf(out_path, sizeof out_path, "%s/out.gguf", out_dir);
    return out_path;
}

/* Write a file holding one key of every type and two tensors. */
static void write_sample(const char *path, int flags)
{
    struct gguf_writer *w;
    cr_assert_eq(gguf_writer_open(&w, path, flags), 0, "%s", ig_error_message());
    const char *strs[] = {"a", "", "\xe2\x96\x81the"};
    float fs[] = {1.5f, -2.0f};
    int32_t is[] = {-7, 9};
    uint64_t us[] = {1ull << 63, 5};
    cr_assert_eq(gguf_writer_add_str(w, "general.architecture", "llama"), 0);
    cr_assert_eq(gguf_writer_add_u32(w, "llama.block_count", 3), 0);
    cr_assert_eq(gguf_writer_add_u32(w, "ingot.format_version", 2), 0);
    cr_assert_eq(gguf_writer_add_i32(w, "t.i32", -5), 0);
    cr_assert_eq(gguf_writer_add_u64(w, "t.u64", 1ull << 40), 0);
    cr_assert_eq(gguf_writer_add_f32(w, "t.f32", 0.25f), 0);
    cr_assert_eq(gguf_writer_add_bool(w, "t.bool", true), 0);
    cr_assert_eq(gguf_writer_add_arr_str(w, "t.strs", strs, 3), 0);
    cr_assert_eq(gguf_writer_add_arr_f32(w, "t.f32s", fs, 2), 0);
    cr_assert_eq(gguf_writer_add_arr_i32(w, "t.i32s", is, 2), 0);
    cr_assert_eq(gguf_writer_add_arr_u64(w, "t.u64s", us, 2), 0);
    int64_t ne_a[2] = {3, 2}, ne_b[1] = {5};
    cr_assert_eq(gguf_writer_add_tensor(w, "a.weight", 2, ne_a, GGML_TYPE_F32), 0);
    cr_assert_eq(gguf_writer_add_tensor(w, "b.weight", 1, ne_b, GGML_TYPE_F16), 0);
    cr_assert_eq(gguf_writer_begin_data(w), 0, "%s", ig_error_message());
    float a[6] = {1, 2, 3, 4, 5, 6};
    uint16_t b[5] = {0x3c00, 0x4000, 0, 0x8000, 0x7bff};
    cr_assert_eq(gguf_writer_write(w, a, 8), 0);        /* in two chunks */
    cr_assert_eq(gguf_writer_write(w, (uint8_t *)a + 8, 16), 0);
    cr_assert_eq(gguf_writer_end_tensor(w), 0);
    cr_assert_eq(gguf_writer_write(w, b, sizeof b), 0);
    cr_assert_eq(gguf_writer_end_tensor(w), 0);
    cr_assert_eq(gguf_writer_finish(w), 0, "%s", ig_error_message());
}

Test(gguf_write, round_trip_every_value_type)
{
    const char *path = fresh_out();
    write_sample(path, GGUF_WRITER_CHECKSUMS);
    struct gguf_file *g;
    cr_assert_eq(gguf_open(&g, path), 0, "%s", ig_error_message());
    cr_expect_eq(gguf_version(g), 3);
    cr_expect_eq(gguf_n_kv(g), 13);   /* 11 added + ingot.tensor_xxh3 + ingot.header_xxh3 */
    uint32_t u;
    float f;
    bool b;
    char s[32];
    cr_expect_eq(gguf_get_u32(g, "llama.block_count", &u), 0);
    cr_expect_eq(u, 3);
    cr_expect_eq(gguf_get_f32(g, "t.f32", &f), 0);
    cr_expect_eq(f, 0.25f);
    cr_expect_eq(gguf_get_bool(g, "t.bool", &b), 0);
    cr_expect(b);
    cr_expect_eq(gguf_get_str(g, "general.architecture", s, sizeof s), 0);
    cr_expect_str_eq(s, "llama");
    const struct gguf_kv *kv = gguf_kv_at(g, gguf_find_key(g, "t.strs"));
    cr_assert_not_null(kv);
    cr_expect_eq(kv->count, 3);
    cr_expect(gguf_str_eq(gguf_kv_array_str(kv, 0), "a"));
    cr_expect(gguf_str_eq(gguf_kv_array_str(kv, 1), ""));
    cr_expect(gguf_str_eq(gguf_kv_array_str(kv, 2), "\xe2\x96\x81the"));
    kv = gguf_kv_at(g, gguf_find_key(g, "t.u64s"));
    cr_expect_eq(gguf_scalar_as_f64(GGUF_VALUE_UINT64, kv->value + 8), 5.0);
    /* a getter of the wrong type fails and names both types */
    cr_expect_eq(gguf_get_u32(g, "t.i32", &u), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "INT32") && strstr(ig_error_message(), "expected UINT32"));

    cr_assert_eq(gguf_n_tensors(g), 2);
    const struct gguf_tensor_info *ta = gguf_tensor_at(g, 0), *tb = gguf_tensor_at(g, 1);
    cr_expect_str_eq(ta->name, "a.weight");
    cr_expect_eq(ta->ne[0], 3);
    cr_expect_eq(ta->ne[1], 2);
    cr_expect_eq(ta->size_bytes, 24);
    cr_expect_eq(ta->offset, 0);
    cr_expect_eq(tb->offset, 32, "the second tensor starts at the next multiple of 32");
    cr_expect_eq(gguf_data_offset(g) % 32, 0);
    float a1;
    memcpy(&a1, ta->data + 4 * 5, 4);
    cr_expect_eq(a1, 6.0f);
    /* the recorded checksums are the xxh3-64 of each tensor's bytes */
    kv = gguf_kv_at(g, gguf_find_key(g, "ingot.tensor_xxh3"));
    cr_assert_not_null(kv);
    uint64_t x0, x1;
    memcpy(&x0, kv->value, 8);
    memcpy(&x1, kv->value + 8, 8);
    cr_expect_eq(x0, XXH3_64bits(ta->data, 24));
    cr_expect_eq(x1, XXH3_64bits(tb->data, 10));
    gguf_close(g);
}

Test(gguf_write, header_checksum_is_the_last_key_and_catches_every_flipped_header_bit)
{
    const char *path = fresh_out();
    write_sample(path, GGUF_WRITER_CHECKSUMS);
    struct gguf_file *g;
    bool present = false;
    cr_assert_eq(gguf_open(&g, path), 0, "%s", ig_error_message());
    cr_expect_eq(gguf_find_key(g, GGUF_HEADER_XXH3_KEY), gguf_n_kv(g) - 1, "written as the last key");
    cr_expect_eq(gguf_check_header_xxh3(g, &present), 0, "%s", ig_error_message());
    cr_expect(present);
    uint64_t header_end = gguf_data_offset(g);
    gguf_close(g);
    size_t n;
    uint8_t *bytes = test_read_file(path, &n);
    cr_assert_not_null(bytes);
    /* flip one bit at a time in the key/value section and the tensor infos: each flip
     * either makes the file unreadable or fails the checksum, never passes */
    int n_passed = 0, n_tried = 0;
    for (uint64_t pos = 24; pos < header_end; pos += 7) {
        bytes[pos] ^= 0x10;
        cr_assert_eq(test_write_file(path, bytes, n), 0);
        bytes[pos] ^= 0x10;
        if (gguf_open(&g, path) != 0)
            continue;
        n_tried++;
        int rc = gguf_check_header_xxh3(g, &present);
        if (rc == 0 && gguf_data_offset(g) == header_end) {
            n_passed++;
            cr_expect(false, "a flip at byte %llu passed the check", (unsigned long long)pos);
        }
        gguf_close(g);
    }
    cr_expect_gt(n_tried, 10);
    cr_expect_eq(n_passed, 0);
    free(bytes);
}

Test(gguf_write, files_without_the_header_checksum_still_check)
{
    const char *p = test_shared_path("gguf-stories260K/stories260K.gguf");
    if (!p)
        cr_skip_test("../shared/data is missing");
    struct gguf_file *g;
    bool present = true;
    cr_assert_eq(gguf_open(&g, p), 0, "%s", ig_error_message());
    cr_expect_eq(gguf_check_header_xxh3(g, &present), 0);
    cr_expect_not(present, "llama.cpp writes no ingot.header_xxh3");
    gguf_close(g);
}

Test(gguf_write, abort_leaves_no_file_and_keeps_the_old_one)
{
    const char *path = fresh_out();
    cr_assert_eq(test_write_file(path, "old", 3), 0);
    struct gguf_writer *w;
    cr_assert_eq(gguf_writer_open(&w, path, GGUF_WRITER_CHECKSUMS), 0);
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s", gguf_writer_tmp_path(w));
    struct stat st;
    cr_expect_eq(stat(tmp, &st), 0, "the temporary file exists while writing");
    int64_t ne[1] = {4};
    cr_assert_eq(gguf_writer_add_tensor(w, "x", 1, ne, GGML_TYPE_F32), 0);
    cr_assert_eq(gguf_writer_begin_data(w), 0);
    gguf_writer_abort(w);
    cr_expect_neq(stat(tmp, &st), 0, "abort removes the temporary file");
    size_t n;
    uint8_t *old = test_read_file(path, &n);
    cr_assert_not_null(old);
    cr_expect_eq(n, 3);
    cr_expect_eq(memcmp(old, "old", 3), 0, "the previous output is untouched");
    free(old);
}

Test(gguf_write, finish_refuses_missing_tensor_data)
{
    const char *path = fresh_out();
    struct gguf_writer *w;
    cr_assert_eq(gguf_writer_open(&w, path, GGUF_WRITER_PLAIN), 0);
    int64_t ne[1] = {4};
    cr_assert_eq(gguf_writer_add_tensor(w, "x", 1, ne, GGML_TYPE_F32), 0);
    cr_assert_eq(gguf_writer_begin_data(w), 0);
    float v[2] = {1, 2};
    cr_assert_eq(gguf_writer_write(w, v, sizeof v), 0);
    cr_expect_eq(gguf_writer_end_tensor(w), IG_EINVAL, "8 of 16 bytes is not a whole tensor");
    cr_expect(strstr(ig_error_message(), "'x'"));
    cr_expect_eq(gguf_writer_finish(w), IG_EINVAL);
    struct stat st;
    cr_expect_neq(stat(path, &st), 0, "nothing at the output path");
    cr_expect_eq(test_count_entries(out_dir), 0, "no temporary file left beside it");
}

Test(gguf_write, rejects_rows_that_are_not_whole_blocks)
{
    struct gguf_writer *w;
    cr_assert_eq(gguf_writer_open(&w, fresh_out(), GGUF_WRITER_PLAIN), 0);
    int64_t ne[2] = {30, 2};
    cr_expect_eq(gguf_writer_add_tensor(w, "q", 2, ne, GGML_TYPE_Q4_0), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "Q4_0"));
    gguf_writer_abort(w);
}

Test(gguf_read, third_party_stories260K)
{
    const char *p = test_shared_path("gguf-stories260K/stories260K.gguf");
    if (!p)
        cr_skip_test("../shared/data is missing");
    struct gguf_file *g;
    cr_assert_eq(gguf_open(&g, p), 0, "%s", ig_error_message());
    cr_expect_eq(gguf_n_tensors(g), 48);
    cr_expect_eq(gguf_n_kv(g), 19);
    const struct gguf_tensor_info *t = gguf_tensor_at(g, gguf_find_tensor(g, "blk.0.ffn_down.weight"));
    cr_assert_not_null(t);
    cr_expect_eq(t->ne[0], 172);
    cr_expect_eq(t->ne[1], 64);
    cr_expect_eq(t->type, GGML_TYPE_F32);
    uint32_t n_layer;
    cr_expect_eq(gguf_get_u32(g, "llama.block_count", &n_layer), 0);
    cr_expect_eq(n_layer, 5);
    gguf_close(g);
}

Test(gguf_read, third_party_quantized_files)
{
    /* llama-quantize outputs: every tensor type they hold must parse with the right sizes */
    const char *files[] = {"peers/tl3m/tl3m-Q4_K_M.gguf", "peers/tl3m/tl3m-Q2_K.gguf", "peers/tl3m/tl3m-Q8_0.gguf",
                           "peers/stories260K/stories260K-Q4_K_M.gguf"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        const char *p = test_shared_path(files[i]);
        if (!p)
            cr_skip_test("../shared/data is missing");
        struct gguf_file *g;
        cr_expect_eq(gguf_open(&g, p), 0, "%s: %s", files[i], ig_error_message());
        if (!g)
            continue;
        uint64_t sum = 0;
        for (int64_t k = 0; k < gguf_n_tensors(g); k++)
            sum += gguf_tensor_at(g, k)->size_bytes;
        cr_expect_leq(gguf_data_offset(g) + sum, gguf_file_size(g));
        cr_expect_geq(gguf_data_offset(g) + sum + 32 * (uint64_t)gguf_n_tensors(g), gguf_file_size(g),
                      "%s: the tensors account for the whole data section", files[i]);
        gguf_close(g);
    }
}

Test(gguf_read, vocab_only_file_and_its_vocabulary)
{
    const char *p = test_shared_path("llamacpp-vocab/ggml-vocab-llama-spm.gguf");
    if (!p)
        cr_skip_test("../shared/data is missing");
    struct gguf_file *g;
    cr_assert_eq(gguf_open(&g, p), 0, "%s", ig_error_message());
    cr_expect_eq(gguf_n_tensors(g), 0);
    struct vocab v;
    vocab_init(&v);
    cr_assert_eq(gguf_vocab_read(g, &v), 0, "%s", ig_error_message());
    cr_expect_str_eq(v.model, "llama");
    cr_expect_eq(v.n_tokens, 32000);
    cr_expect_str_eq(v.tokens[1], "<s>");
    cr_expect_eq(v.types[1], VOCAB_TOKEN_CONTROL);
    cr_expect_str_eq(v.tokens[3], "<0x00>");
    cr_expect_eq(v.types[3], VOCAB_TOKEN_BYTE);
    cr_expect_eq(v.bos_id, 1);
    vocab_free(&v);
    gguf_close(g);
}

Test(gguf_read, every_bad_gguf_in_the_catalogue_is_refused)
{
    char *tsv = (char *)test_read_file(test_fixture_path("bad/gguf.tsv"), NULL);
    cr_assert_not_null(tsv, "tests/data/bad/gguf.tsv is missing");
    int n = 0;
    for (char *line = strtok(tsv, "\n"); line; line = strtok(NULL, "\n")) {
        char *tab = strchr(line, '\t');
        cr_assert_not_null(tab);
        *tab = '\0';
        char rel[256];
        snprintf(rel, sizeof rel, "bad/%s", line);
        struct gguf_file *g = NULL;
        int rc = gguf_open(&g, test_fixture_path(rel));
        if (strstr(line, "no-architecture") || strstr(line, "arch-unsupported")) {
            /* structurally valid: refused later, by the model reader */
            cr_expect_eq(rc, 0, "%s: %s", line, ig_error_message());
        } else {
            cr_expect_eq(rc, IG_EINVAL, "%s parsed, but should not", line);
            cr_expect(strstr(ig_error_message(), line), "%s: message '%s' does not name the file", line,
                      ig_error_message());
        }
        gguf_close(g);
        n++;
    }
    cr_expect_geq(n, 30);
    free(tsv);
}

Test(ggml_type, geometry_matches_ggml)
{
    /* block sizes from ggml-common.h (gguf-facts.md, section 2) */
    struct {
        int id;
        int64_t elems;
        size_t bytes;
    } want[] = {{GGML_TYPE_Q4_0, 32, 18}, {GGML_TYPE_Q5_1, 32, 24}, {GGML_TYPE_Q8_0, 32, 34},
                {GGML_TYPE_Q2_K, 256, 84}, {GGML_TYPE_Q3_K, 256, 110}, {GGML_TYPE_Q4_K, 256, 144},
                {GGML_TYPE_Q5_K, 256, 176}, {GGML_TYPE_Q6_K, 256, 210}, {GGML_TYPE_IQ4_NL, 32, 18},
                {GGML_TYPE_BF16, 1, 2}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct ggml_type_info *t = ggml_type_info_get(want[i].id);
        cr_assert_not_null(t);
        cr_expect_eq(t->block_elems, want[i].elems, "%s", t->name);
        cr_expect_eq(t->block_bytes, want[i].bytes, "%s", t->name);
    }
    cr_expect_null(ggml_type_info_get(4), "Q4_2 was removed");
    cr_expect_null(ggml_type_info_get(31), "Q4_0_4_4 was removed");
    cr_expect_eq(ggml_type_from_name("q4_k"), GGML_TYPE_Q4_K);
    uint64_t rb;
    cr_expect(!ggml_type_row_bytes(GGML_TYPE_Q4_K, 300, &rb), "300 is not a whole number of 256-blocks");
    cr_expect(ggml_type_row_bytes(GGML_TYPE_Q4_K, 512, &rb) && rb == 288);
}

/* `ingot check` on a converted file: a flipped bit in a token string (metadata, no tensor
 * touched) is reported through ingot.header_xxh3. */
Test(gguf_write, check_names_a_flipped_bit_in_the_metadata)
{
    const char *dir = test_tmp_dir();
    char out[4200], bad[4200];
    snprintf(out, sizeof out, "%s/t.gguf", dir);
    snprintf(bad, sizeof bad, "%s/t-flipped.gguf", dir);
    struct test_run r;
    const char *conv[] = {"convert", test_fixture_path("tiny-llama"), "-o", out, "--type", "F16", "-q", NULL};
    test_run_ingot(&r, conv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    const char *ok[] = {"check", out, NULL};
    test_run_ingot(&r, ok);
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    size_t n;
    uint8_t *b = test_read_file(out, &n);
    cr_assert_not_null(b);
    uint8_t *tok = memmem(b, n, "<0x41>", 6);
    cr_assert_not_null(tok);
    tok[3] ^= 0x01;   /* "<0x41>" -> "<0x51>" */
    cr_assert_eq(test_write_file(bad, b, n), 0);
    free(b);
    const char *check[] = {"check", bad, NULL};
    test_run_ingot(&r, check);
    cr_expect_eq(r.exit_code, 2, "a flipped token string passed: %s", r.out);
    cr_expect(strstr(r.out, "ingot.header_xxh3") && strstr(r.out, "metadata changed"), "%s%s", r.out, r.err);
}
