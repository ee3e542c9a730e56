/* test_tokenize_qwen2.c — the Qwen2 pre-tokenizer (bpe.c qwen2_word_end) against llama.cpp.
 *
 * Golden data: tests/data/qwen2-pre/ggml-vocab-gpt-2.qwen2-pre.out, llama.cpp's ids for
 * llama.cpp's 46 tokenizer test inputs (../shared/data/llamacpp-vocab/ggml-vocab-llama-spm.gguf.inp:
 * digits, contractions in both cases, runs of spaces, tabs and newlines, punctuation, CJK, emoji)
 * with GPT-2's vocabulary and merges and tokenizer.ggml.pre "qwen2" (see that folder's README).
 * The same vocabulary with pre "gpt-2" gives llama.cpp's ggml-vocab-gpt-2.gguf.out, which differs
 * on 12 of the inputs, so the vectors tell the two splits apart.
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/gguf.h"
#include "tokenizer/tokenize.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CASES 64

Test(tokenize_qwen2, gpt2_vocabulary_with_qwen2_split_matches_llama_cpp, .timeout = 120)
{
    static const char sep[] = "\n__ggml_vocab_test__\n";
    const char *vocab_path = test_shared_path("llamacpp-vocab/ggml-vocab-gpt-2.gguf");
    if (!vocab_path)
        cr_skip_test("../shared/data is missing");
    char vp[4096], ip[4096];
    snprintf(vp, sizeof vp, "%s", vocab_path);
    snprintf(ip, sizeof ip, "%s", test_shared_path("llamacpp-vocab/ggml-vocab-llama-spm.gguf.inp"));
    struct gguf_file *g;
    struct vocab v;
    vocab_init(&v);
    cr_assert_eq(gguf_open(&g, vp), 0, "%s", ig_error_message());
    cr_assert_eq(gguf_vocab_read(g, &v), 0, "%s", ig_error_message());
    gguf_close(g);
    snprintf(v.pre, sizeof v.pre, "qwen2");
    struct tokenizer *t;
    cr_assert_eq(tokenizer_create(&t, &v), 0, "%s", ig_error_message());
    size_t n_inp, n_out;
    char *inp = (char *)test_read_file(ip, &n_inp);
    char *out = (char *)test_read_file(test_fixture_path("qwen2-pre/ggml-vocab-gpt-2.qwen2-pre.out"), &n_out);
    cr_assert(inp && out);
    int n_case = 0, n_pass = 0;
    char *line = out;
    for (size_t pos = 0; pos < n_inp && n_case < MAX_CASES; n_case++) {
        char *next = memmem(inp + pos, n_inp - pos, sep, sizeof sep - 1);
        size_t len = next ? (size_t)(next - (inp + pos)) : n_inp - pos;
        char *nl = strchr(line, '\n');
        cr_assert_not_null(nl, "fewer expected-id lines than inputs");
        *nl = '\0';
        int32_t want[1024], *ids;
        int64_t n_want = 0;
        char *end;
        for (const char *p = line;; p = end) {
            long x = strtol(p, &end, 10);
            if (end == p)
                break;
            want[n_want++] = (int32_t)x;
        }
        int64_t n = tokenizer_encode(t, inp + pos, len, 0, &ids);
        cr_assert_geq(n, 0, "%s", ig_error_message());
        int same = n == n_want;
        for (int64_t i = 0; same && i < n; i++)
            same = ids[i] == want[i];
        cr_expect(same, "case %d (%zu bytes): %lld ids, llama.cpp %lld", n_case, len, (long long)n, (long long)n_want);
        n_pass += same;
        free(ids);
        line = nl + 1;
        if (!next)
            break;
        pos = (size_t)(next - inp) + sizeof sep - 1;
    }
    cr_expect_eq(n_case, 46, "46 inputs");
    cr_expect_eq(n_pass, n_case, "%d of %d inputs as llama.cpp splits them", n_pass, n_case);
    free(inp);
    free(out);
    tokenizer_destroy(t);
    vocab_free(&v);
}
