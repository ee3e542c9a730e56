/* test_vocab.c — vocab_compare: what makes two tokenizers the same one. */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/vocab.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

/* n tokens "t<i>", the last n_pad of them "[PAD<i>]" of type pad_type */
static void make(struct vocab *v, const char *model, int64_t n, int64_t n_pad, int pad_type)
{
    vocab_init(v);
    snprintf(v->model, sizeof v->model, "%s", model);
    cr_assert_eq(vocab_alloc(v, n, 0), 0);
    for (int64_t i = 0; i < n; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, i >= n - n_pad ? "[PAD%lld]" : "t%lld", (long long)i);
        v->tokens[i] = strdup(buf);
        if (i >= n - n_pad)
            v->types[i] = pad_type;
    }
}

Test(vocab, padding_compares_equal_whatever_its_type_and_count)
{
    struct vocab a, b;
    make(&a, "llama", 10, 0, 0);
    make(&b, "llama", 12, 2, VOCAB_TOKEN_USER_DEFINED);
    cr_expect_eq(vocab_compare(&a, "a", &b, "b"), 0, "%s", ig_error_message());
    vocab_free(&a);
    make(&a, "llama", 12, 2, VOCAB_TOKEN_UNUSED);
    cr_expect_eq(vocab_compare(&a, "a", &b, "b"), 0, "%s", ig_error_message());
    free(b.tokens[11]);
    b.tokens[11] = strdup("extra");
    cr_expect_eq(vocab_compare(&a, "a", &b, "b"), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "token 11 is \"[PAD11]\" in a but \"extra\" in b"), "%s", ig_error_message());
    vocab_free(&a);
    vocab_free(&b);
}

Test(vocab, special_ids_use_llama_cpp_defaults_when_absent)
{
    struct vocab a, b;
    make(&a, "llama", 8, 0, 0);
    make(&b, "llama", 8, 0, 0);
    b.bos_id = 1, b.eos_id = 2, b.unk_id = 0;
    cr_expect_eq(vocab_compare(&a, "a", &b, "b"), 0, "%s", ig_error_message());
    b.eos_id = 3;
    cr_expect_eq(vocab_compare(&a, "a", &b, "b"), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "eos token id 2 in a but 3 in b"), "%s", ig_error_message());
    b.eos_id = 2, b.pad_id = 7;
    cr_expect_eq(vocab_compare(&a, "a", &b, "b"), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "pad token id -1 in a but 7 in b"), "%s", ig_error_message());
    vocab_free(&a);
    vocab_free(&b);
}

Test(vocab, kind_types_and_gpt2_merges_are_compared)
{
    struct vocab a, b;
    make(&a, "gpt2", 8, 0, 0);
    make(&b, "llama", 8, 0, 0);
    cr_expect_eq(vocab_compare(&a, "a", &b, "b"), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "tokenizer model \"gpt2\" in a but \"llama\" in b"), "%s", ig_error_message());
    snprintf(b.model, sizeof b.model, "gpt2");
    b.types[4] = VOCAB_TOKEN_CONTROL;
    cr_expect_eq(vocab_compare(&a, "a", &b, "b"), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "token 4 \"t4\" has type 1 in a but 3 in b"), "%s", ig_error_message());
    b.types[4] = VOCAB_TOKEN_NORMAL;
    char *ma[] = {strdup("t a"), strdup("b c")}, *mb[] = {strdup("t a"), strdup("b\x01")};
    a.merges = ig_calloc(2, sizeof *a.merges), b.merges = ig_calloc(2, sizeof *b.merges);
    memcpy(a.merges, ma, sizeof ma), memcpy(b.merges, mb, sizeof mb);
    a.n_merges = b.n_merges = 2;
    cr_expect_eq(vocab_compare(&a, "a", &b, "b"), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "merge 1 is \"b c\" in a but \"b\\x01\" in b"), "%s", ig_error_message());
    vocab_free(&a);
    vocab_free(&b);
}
