/* test_verify_vocab.c — `ingot verify` refuses a container whose tokenizer is not the
 * source's (formats/vocab.c's vocab_compare), unless --allow-vocab-mismatch.
 *
 * The containers are llama.cpp's tl3m-Q4_0.gguf, unchanged (it must pass against ingot's
 * reading of the HF folder, tokenizer.model and all) and with bytes changed in place: one
 * token string, every byte token's string, the BOS id.
 */
#include "../test_util.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARED(var, rel)                                                                           \
    char var##_buf[4096];                                                                          \
    const char *var = test_shared_path(rel);                                                       \
    if (!var)                                                                                      \
        cr_skip_test("../shared/data is missing");                                                 \
    snprintf(var##_buf, sizeof var##_buf, "%s", var);                                              \
    var = var##_buf

static uint8_t *find(uint8_t *buf, size_t size, const void *needle, size_t n)
{
    for (size_t i = 0; i + n <= size; i++)
        if (memcmp(buf + i, needle, n) == 0)
            return buf + i;
    return NULL;
}

/* a copy of tl3m-Q4_0.gguf under a fresh folder; *buf holds its bytes (caller frees) */
static const char *copy_q4(const char *q4, uint8_t **buf, size_t *size)
{
    static char path[4200];
    *buf = test_read_file(q4, size);
    cr_assert_not_null(*buf, "%s", q4);
    snprintf(path, sizeof path, "%s/bad-vocab.gguf", test_tmp_dir());
    return path;
}

static void run(struct test_run *r, const char *file, const char *src, const char *text, bool allow)
{
    const char *argv[] = {"verify", file, "--source", src, "--eval", text, "--ctx", "64", "--chunks", "1", "-q",
                          allow ? "--allow-vocab-mismatch" : NULL, NULL};
    test_run_ingot(r, argv);
}

Test(verify_vocab, llama_cpp_conversion_of_the_same_model_passes, .timeout = 120)
{
    SHARED(src, "tl3m");
    SHARED(q4, "peers/tl3m/tl3m-Q4_0.gguf");
    SHARED(text, "tl3m/split_eval_ts.txt");
    struct test_run r;
    run(&r, q4, src, text, false);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    cr_expect_null(strstr(r.err, "vocabularies differ"), "%s", r.err);
    const char *aj[] = {"verify", q4, "--source", src, "--eval", text, "--ctx", "64", "--chunks", "1", "-q", "--json",
                        NULL};
    test_run_ingot(&r, aj);
    json_t *j = json_loads(r.out, 0, NULL);
    cr_assert_not_null(j, "%s", r.out);
    cr_expect(json_is_null(json_object_get(json_array_get(json_object_get(j, "containers"), 0), "vocab_mismatch")));
    json_decref(j);
}

Test(verify_vocab, one_changed_token_is_refused_naming_id_and_both_strings, .timeout = 120)
{
    SHARED(src, "tl3m");
    SHARED(q4, "peers/tl3m/tl3m-Q4_0.gguf");
    SHARED(text, "tl3m/split_eval_ts.txt");
    uint8_t *buf;
    size_t size;
    const char *bad = copy_q4(q4, &buf, &size);
    uint8_t *p = find(buf, size, "\x06\0\0\0\0\0\0\0<0x41>", 14);
    cr_assert_not_null(p, "token <0x41> in %s", q4);
    memcpy(p + 8, "<0x4a>", 6);
    cr_assert_eq(test_write_file(bad, buf, size), 0);
    struct test_run r;
    run(&r, bad, src, text, false);
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "token 68 is \"<0x41>\"") && strstr(r.err, "\"<0x4a>\"") && strstr(r.err, bad) &&
                  strstr(r.err, "--allow-vocab-mismatch"),
              "%s", r.err);
    cr_expect_null(strstr(r.out, "PPL"), "nothing scored: %s", r.out);
    run(&r, bad, src, text, true);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.err, "warning") && strstr(r.err, "token 68"), "%s", r.err);
    const char *aj[] = {"verify", bad, "--source", src, "--eval", text, "--ctx", "64", "--chunks", "1", "-q",
                        "--allow-vocab-mismatch", "--json", NULL};
    test_run_ingot(&r, aj);
    json_t *j = json_loads(r.out, 0, NULL);
    cr_assert_not_null(j, "%s", r.out);
    json_t *vm = json_object_get(json_array_get(json_object_get(j, "containers"), 0), "vocab_mismatch");
    cr_expect(json_is_string(vm) && strstr(json_string_value(vm), "token 68"), "the JSON says what differs");
    json_decref(j);
    free(buf);
}

Test(verify_vocab, every_byte_token_changed_is_refused, .timeout = 120)
{
    SHARED(src, "tl3m");
    SHARED(q4, "peers/tl3m/tl3m-Q4_0.gguf");
    SHARED(text, "tl3m/split_eval_ts.txt");
    uint8_t *buf;
    size_t size;
    const char *bad = copy_q4(q4, &buf, &size);
    int n = 0;
    for (uint8_t *p = buf; (p = find(p, size - (size_t)(p - buf), "\x06\0\0\0\0\0\0\0<0x", 11)); p += 14, n++)
        p[10] = 'X';   /* "<0x41>" -> "<0X41>" */
    cr_assert_geq(n, 256);
    cr_assert_eq(test_write_file(bad, buf, size), 0);
    struct test_run r;
    run(&r, bad, src, text, false);
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "token 3 is \"<0x00>\"") && strstr(r.err, "\"<0X00>\""), "%s", r.err);
    free(buf);
}

Test(verify_vocab, another_bos_id_is_refused, .timeout = 120)
{
    SHARED(src, "tl3m");
    SHARED(q4, "peers/tl3m/tl3m-Q4_0.gguf");
    SHARED(text, "tl3m/split_eval_ts.txt");
    uint8_t *buf;
    size_t size;
    const char *bad = copy_q4(q4, &buf, &size);
    const char key[] = "tokenizer.ggml.bos_token_id";
    uint8_t *p = find(buf, size, key, sizeof key - 1);
    cr_assert_not_null(p);
    p += sizeof key - 1;
    cr_assert_eq(p[0], 4, "UINT32");   /* type, then the value */
    cr_assert_eq(p[4], 1);
    p[4] = 5;
    cr_assert_eq(test_write_file(bad, buf, size), 0);
    struct test_run r;
    run(&r, bad, src, text, false);
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "bos token id 1 in") && strstr(r.err, "but 5 in"), "%s", r.err);
    free(buf);
}
